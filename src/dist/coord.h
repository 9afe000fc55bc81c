/* SPDX-License-Identifier: MIT */
/*
 * coord.h: the quack-reduce coordinator (DESIGN.md section 5; docs/distributed.md). It takes a
 * plan (plan.h), sends one map task per shard to its workers (transport.h), checks every
 * answer, and runs the reduce over the accepted partials in its own DuckDB. The result is an
 * ordinary qk_result, so the CLI and the server encode it exactly like a single-node one.
 *
 *   fan-out    at most `parallel` tasks in flight, round-robin over the workers, skipping a
 *              worker that could not be reached
 *   checks     an answer must name the query, shard and attempt it was asked for; its bytes
 *              must have the announced SHA-256 and size; they must be Parquet that DuckDB reads
 *              back with exactly the expected column names and types, and the announced rows
 *   retries    a failed or invalid attempt is sent again to another worker (at most
 *              max_attempts per shard, backups included); a SQL error in the map itself (a
 *              DuckDB Binder/Conversion/... exception) fails the query at once, as it would
 *              on one node
 *   busy       a refusal before the task ran (HTTP 429/503: a worker at its --max-concurrency,
 *              Lambda throttling) is not an attempt: the shard is resent after a backoff
 *              (25 ms doubling to 1 s, at most 40 times), to whichever worker is free then
 *   stragglers once half the shards are done, a shard running longer than straggler_factor x
 *              the median shard time (and at least straggler_min_ms) gets a backup copy on
 *              another worker; the first valid answer wins and the other call is aborted
 *   partials   inline answers are written to <engine temp>/dist-<queryId>/; spilled ones are
 *              fetched from the store; spilled objects are deleted after the query
 *   time       one deadline for the whole query, passed to workers as deadlineMs; the cancel
 *              callback is polled while waiting and aborts every call
 *
 * An unsplit plan goes to one worker as a single "whole" task (the original query; columns
 * whose type Parquet would change travel as VARCHAR and are cast back) or, with no workers,
 * runs here. Thread-safe: a call uses its own pool, connections and temp directory; the
 * transports are shared read-only.
 */
#ifndef QK_DIST_COORD_H
#define QK_DIST_COORD_H

#include "core/core.h"
#include "dist/plan.h"
#include "dist/transport.h"
#include "engine/engine.h"

#define QK_DIST_DEFAULT_ATTEMPTS 3
#define QK_DIST_DEFAULT_STRAGGLER_FACTOR 3.0
#define QK_DIST_DEFAULT_STRAGGLER_MIN_MS 200

typedef struct qk_dist_coord_opts {
    qk_dist_transport *const *workers; /* borrowed; may be empty (then unsplit runs locally) */
    size_t nworkers;
    int parallel;               /* tasks in flight; 0 = 2 per HTTP worker + 8 per Lambda function */
    int max_attempts;           /* per shard, backups included; 0 = QK_DIST_DEFAULT_ATTEMPTS */
    double straggler_factor;    /* 0 = QK_DIST_DEFAULT_STRAGGLER_FACTOR; < 0 = no backups */
    int64_t straggler_min_ms;   /* 0 = QK_DIST_DEFAULT_STRAGGLER_MIN_MS */
    const char *spill_uri;      /* where big partials go: NULL = <lake>/_quack/partials/, "" = never
                                   spill (workers answer inline or fail) */
    uint64_t spill_threshold;   /* bytes; 0 = QK_DIST_INLINE_DEFAULT (4 MiB) */
    int64_t limit;              /* rows of the final result; < 0 = all */
    int64_t timeout_ms;         /* the whole query; 0 = none */
    int (*cancelled)(void *ud); /* polled while waiting; non-zero cancels. May be NULL */
    void *cancel_ud;
} qk_dist_coord_opts;

/* Defaults: everything 0 except limit = -1. */
void qk_dist_coord_opts_init(qk_dist_coord_opts *o);

typedef struct qk_dist_run_stats {
    bool split; /* the plan was split into shards */
    bool local; /* unsplit and no workers: ran in this process */
    char query_id[37];
    size_t shards; /* map tasks needed (1 for an unsplit query on a worker) */
    size_t workers;
    size_t attempts; /* calls started, backups included */
    size_t retries;  /* attempts sent again after a failure */
    size_t backups;  /* straggler copies */
    size_t failures; /* attempts that failed or gave an invalid answer */
    size_t spilled;  /* partials that came through the store */
    double shard_ms_min, shard_ms_median, shard_ms_max; /* winning attempts, send to answer */
    uint64_t partial_bytes, partial_rows;
    double plan_ms, map_ms, reduce_ms, total_ms;
} qk_dist_run_stats;

/*
 * Run plan. On success *out is the reduce's result (caller destroys), holding at most
 * o->limit rows (qk_result_limited says whether more existed). st (may be NULL) is filled
 * also on failure as far as the run got. Errors: a map SQL error from a worker keeps its
 * DuckDB type (QK_ESQL); "shard N failed on every worker (K attempts): <last error>"
 * (QK_EHTTP with the last attempt's type: IOError, InvalidAnswer, ...); QK_ETIMEOUT;
 * QK_ECANCELED; the reduce's DuckDB error.
 */
int qk_dist_run(qk_engine *e, const qk_dist_plan *plan, const qk_dist_coord_opts *o,
                qk_result **out, qk_dist_run_stats *st, qk_err *err);

/* A map/reduce job without a plan object: what qk_dist_run builds from a plan, and what tests
 * build by hand. */
typedef struct qk_dist_job {
    const char *const *map_sql; /* one map SQL per shard */
    size_t nshards;
    const qk_dist_col *cols; /* expected partial columns (ignored for whole jobs) */
    size_t ncols;
    bool whole; /* one shard holding a whole query: columns from the answer */
    /* the reduce SQL over the accepted partials, in shard order (*out: caller frees) */
    int (*reduce_sql)(void *ud, const char *const *files, size_t n, char **out, qk_err *err);
    void *reduce_ud;
} qk_dist_job;

int qk_dist_run_job(qk_engine *e, const qk_dist_job *job, const qk_dist_coord_opts *o,
                    qk_result **out, qk_dist_run_stats *st, qk_err *err);

/* Plan sql (qk_dist_plan_query with po, may be NULL) and run it: what `quack query
 * --distributed` and POST /query with "distributed": true do. */
int qk_dist_query(qk_engine *e, const char *sql, const qk_dist_plan_opts *po,
                  const qk_dist_coord_opts *o, qk_result **out, qk_dist_run_stats *st, qk_err *err);

/* Append st as a JSON object (the "distributed" member of POST /query answers). */
int qk_dist_stats_json(const qk_dist_run_stats *st, qk_buf *out);

/* ---- partial checks (exposed for tests) ------------------------------------------------------ */

/* Check the Parquet file at path: readable by DuckDB, exactly cols' names in order, types
 * equal to cols' types (VARCHAR where as_varchar), and `rows` rows. QK_EINVAL "InvalidAnswer"
 * with what differs. */
int qk_dist_check_partial(qk_engine *e, const char *path, const qk_dist_col *cols, size_t ncols,
                          uint64_t rows, qk_err *err);

#endif
