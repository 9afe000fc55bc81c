/* SPDX-License-Identifier: MIT */
/*
 * worker.h: the worker side of quack-reduce (docs/distributed.md, "Workers"). A worker is any
 * quack process that answers map tasks: `quack serve` on POST /map, and the Lambda runtime for
 * {"task":"map",...} events. Both hand the task body to qk_dist_handle_task and send back what
 * it writes; neither knows anything else about distribution.
 *
 * Running a map task: resolve the map SQL through the lake layer (lake table names bound,
 * s3:// objects fetched into the cache), check that it is one SELECT, run
 *   COPY (<resolved SQL>) TO '<engine temp>/map-<uuid>.parquet' (FORMAT parquet)
 * and answer the file: inline (base64) when it is at most the task's spill threshold, else put
 * into the object store under the task's spill prefix as "<shard>-<attempt>.parquet".
 * Whole (unsplit) queries are wrapped so columns whose type Parquet would change travel as
 * VARCHAR, and the answer lists the real names and types for the coordinator to cast back.
 *
 * Thread-safe: each call uses its own DuckDB connections and temp file.
 */
#ifndef QK_DIST_WORKER_H
#define QK_DIST_WORKER_H

#include "core/core.h"
#include "dist/plan.h"
#include "engine/engine.h"

typedef struct qk_dist_map_stats {
    uint64_t rows;  /* rows in the partial */
    uint64_t bytes; /* Parquet bytes */
    double exec_ms; /* resolve + COPY */
} qk_dist_map_stats;

/*
 * Run map_sql (one SELECT) and append its rows, as Parquet, to parquet_out (bounded by its
 * max: QK_ETOOBIG when the file is larger). o: timeout and cancel callback (its limit is
 * ignored: a partial is never cut). st may be NULL. Errors: the lake layer's and DuckDB's
 * (QK_ESQL with DuckDB's exception type), QK_EINVAL "BadRequest" when map_sql is not one
 * SELECT, QK_ETIMEOUT, QK_ECANCELED, QK_EIO.
 */
int qk_dist_run_map(qk_engine *e, const char *map_sql, const qk_query_opts *o, qk_buf *parquet_out,
                    qk_dist_map_stats *st, qk_err *err);

/* The same, writing the Parquet partial to path (replaced; removed again on failure). */
int qk_dist_run_map_file(qk_engine *e, const char *map_sql, const qk_query_opts *o,
                         const char *path, qk_dist_map_stats *st, qk_err *err);

typedef struct qk_dist_worker_opts {
    int64_t timeout_ms;         /* the host's own cap per task; 0 = none (the task's deadline
                                   still applies) */
    int (*cancelled)(void *ud); /* polled while the task runs; may be NULL */
    void *cancel_ud;
    int64_t deadline_margin_ms; /* stop this long before the task's deadline (default 0) */
} qk_dist_worker_opts;

/*
 * Answer one task: parse body (task JSON), run it, append the answer JSON to out (bounded by
 * out->max: a partial over the spill threshold is spilled, one that fits nowhere is
 * QK_ETOOBIG "PayloadTooLarge"). On failure out is unchanged and err holds the error for the
 * {"errorMessage","errorType"} shape: "BadRequest" for a malformed task, DuckDB's exception
 * name for SQL errors, "Timeout" when the deadline passed, store errors for a failed spill.
 * o may be NULL.
 */
int qk_dist_handle_task(qk_engine *e, const char *body, size_t len, const qk_dist_worker_opts *o,
                        qk_buf *out, qk_err *err);

#endif
