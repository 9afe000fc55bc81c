/* SPDX-License-Identifier: MIT */
/*
 * plan.h: one query -> map SQL per shard + one reduce SQL (DESIGN.md section 5;
 * docs/internals/dist.md). The planner works on DuckDB's own AST (json_serialize_sql /
 * json_deserialize_sql); it never parses SQL itself. What it cannot prove equal runs unsplit
 * (plan->split false, plan->reason says why).
 *
 * Data flow:
 *   map task i:  qk_dist_map_sql(plan, i) -> SQL that reads shard i's files (s3:// URIs or
 *                absolute local paths; a worker runs it through the lake layer) and returns
 *                the partial rows. Its columns are plan->partial_cols (names and DuckDB types).
 *   partials:    each worker writes its partial rows as Parquet. The map SQL already makes
 *                every column survive Parquet exactly: HUGEINT and other types Parquet would
 *                widen travel as VARCHAR (partial_cols[i].as_varchar) and the reduce casts
 *                them back.
 *   reduce:      qk_dist_reduce_sql(plan, files) -> SQL over the local partial Parquet files
 *                whose result has the original query's column names, types and order.
 *
 * Globals: plan.c caches DuckDB's aggregate function names once per process (read-only after).
 */
#ifndef QK_DIST_PLAN_H
#define QK_DIST_PLAN_H

#include <stdint.h>

#include "core/core.h"
#include "engine/engine.h"

#define QK_DIST_DEFAULT_SHARD_BYTES ((uint64_t)256 << 20)
/* A join is split only when its inputs other than the sharded one hold at most this many bytes
 * (every map reads them whole). */
#define QK_DIST_DEFAULT_SMALL_BYTES ((uint64_t)64 << 20)

typedef struct qk_dist_shard {
    char **files; /* s3:// URIs or absolute local paths */
    size_t nfiles;
    uint64_t bytes;
} qk_dist_shard;

typedef struct qk_dist_col {
    char *name;
    char *type;      /* DuckDB type of the map output column, e.g. "HUGEINT" */
    bool as_varchar; /* travels as VARCHAR in the partial Parquet */
} qk_dist_col;

typedef struct qk_dist_plan_opts {
    uint64_t shard_bytes; /* target compressed bytes per shard; 0 = QK_DIST_DEFAULT_SHARD_BYTES */
    size_t max_shards;    /* 0 = no limit (then files per shard grow) */
    uint64_t small_bytes; /* joins: most bytes every map reads whole; 0 = the default */
} qk_dist_plan_opts;

typedef struct qk_dist_plan {
    bool split;       /* false: run the original query on one worker */
    char reason[300]; /* why not split (split false), or a one-line summary of the split */
    char *sql;        /* the original statement */
    char *source;     /* the scanned dataset that was sharded (a glob, list or lake table) */
    qk_dist_shard *shards;
    size_t nshards;
    uint64_t total_bytes;
    size_t pruned;         /* files left out by hive partition pruning */
    char *map_template;    /* map SQL with the marker string where the shard's file list goes */
    char *reduce_template; /* reduce SQL with the marker where the partials' file list goes */
    qk_dist_col *partial_cols;
    size_t npartial_cols;
    double plan_ms;
} qk_dist_plan;

/*
 * Plan sql (one statement) on e's lake: table names are bound and s3:// globs listed (not
 * fetched), hive partitions pruned, files grouped into shards. A query that cannot be split
 * is not an error: out->split is false with the reason. Errors: QK_EPARSE / QK_ESQL (DuckDB
 * cannot parse or bind it), store errors (listing).
 */
int qk_dist_plan_query(qk_engine *e, const char *sql, const qk_dist_plan_opts *o, qk_dist_plan *out,
                       qk_err *err);
void qk_dist_plan_free(qk_dist_plan *p);

/* The map SQL of shard i (caller frees). */
int qk_dist_map_sql(const qk_dist_plan *p, size_t shard, char **out, qk_err *err);
/* The reduce SQL over n local partial Parquet files (caller frees). */
int qk_dist_reduce_sql(const qk_dist_plan *p, const char *const *files, size_t n, char **out,
                       qk_err *err);
/* Multi-line human description: shards, map SQL (shard 0), reduce SQL, or why not split. */
int qk_dist_explain(const qk_dist_plan *p, qk_buf *out);

#endif
