/* SPDX-License-Identifier: MIT */
/*
 * dist_int.h: shared between the dist module's own files (worker.c, coord.c, transport.c,
 * lambda_invoke.c, util.c); not for other modules.
 *
 *   plan_sql.c       a plan's shards and SQL templates: the markers filled in, the Parquet casts
 *   plan_join.c      which joins the planner may split (the sharded table's path through them)
 *   plan_types.c     CSV/JSON column types sniffed as the whole query sniffs them, for every shard
 *   util.c           small DuckDB helpers (DESCRIBE a query) and the rules for
 *                    which column types survive a Parquet round trip
 *   transport.c      the call pool (libcurl multi) and the HTTP worker transport
 *   lambda_invoke.c  the Lambda Invoke transport (SigV4, service "lambda")
 *
 * A transport is a small vtable: `prepare` turns a task body into a ready curl easy handle (URL,
 * headers, signature) and `finish` turns the HTTP outcome into the answer body or an error.
 */
#ifndef QK_DIST_INT_H
#define QK_DIST_INT_H

#include <curl/curl.h>
#include <jansson.h>

#include "dist/plan.h"
#include "dist/transport.h"
#include "engine/engine.h"
#include "store/store.h"

/* ---- plan_sql.c -------------------------------------------------------------------------------
 */

#define QK_DIST_SHARD_MARK "__qk_shard_files__"      /* in map templates: the shard's files */
#define QK_DIST_PARTIALS_MARK "__qk_partial_files__" /* in reduce templates: the partials */
#define QK_DIST_PLAN_SQL_MAX ((size_t)64 << 20)      /* longest SQL the planner builds */

/* Group files, in order, into p's shards of about o->shard_bytes (at most o->max_shards). */
void qk_dist_plan_shard(qk_dist_plan *p, const qk_obj_list *files, const qk_dist_plan_opts *o);
/* tmpl with the shard marker replaced by a list of the one file (caller frees). */
char *qk_dist_with_one_file(const char *tmpl, const char *file);
/* Record the map's columns (cols: [{"name","type"}]) as p's partial columns and wrap both
 * templates for the trip through Parquet (columns Parquet would change travel as VARCHAR). */
int qk_dist_plan_set_partials(qk_dist_plan *p, json_t *cols);

/* ---- plan_join.c ------------------------------------------------------------------------------
 */

/* The leaves of a FROM clause's join tree (its TABLE_FUNCTION nodes, borrowed), left to right,
 * at most max. Returns NULL, or why the tree cannot be split (a leaf that is not a table
 * function, too many leaves). */
const char *qk_dist_join_leaves(json_t *from, json_t **leaves, size_t max, size_t *n);
/* NULL when sharding leaf (one of from's leaves) and reading every other leaf whole in each map
 * gives the join's exact result as a union over the shards; else why not. */
const char *qk_dist_join_shardable(json_t *from, json_t *leaf);

/* ---- plan_types.c -----------------------------------------------------------------------------
 */

/* `DESCRIBE <sql>` through the lake layer as [{"name","type"}...] (*cols: caller decrefs). */
int qk_dist_describe_json(qk_engine *e, const char *sql, json_t **cols, qk_err *err);
/* For a CSV or JSON reader leaf (a TABLE_FUNCTION node in an AST parsed with mark) over files:
 * write into its call the column types DuckDB sniffs over the files the whole query samples,
 * so a map over any subset reads them with the same types. Parquet and calls that fix their
 * columns are left alone. Errors: DuckDB's (the sample does not bind). */
int qk_dist_pin_sniffed(qk_engine *e, duckdb_connection con, const char *mark, json_t *leaf,
                        const qk_obj_list *files, qk_err *err);

/* ---- util.c ---------------------------------------------------------------------------------- */

/* Columns of `DESCRIBE <select_sql>`: names and DuckDB types, copied into a. */
int qk_dist_describe(qk_engine *e, const char *select_sql, const qk_query_opts *o, qk_arena *a,
                     qk_dist_col **cols, size_t *n, qk_err *err);
/* Append name as a double-quoted SQL identifier. */
int qk_dist_add_ident(qk_buf *b, const char *name);
/* Does a column of this DuckDB type come back from Parquet with another type or value (HUGEINT
 * -> DOUBLE, ENUM -> VARCHAR, INTEGER[3] -> INTEGER[], TIMESTAMP_S -> TIMESTAMP, INTERVAL loses
 * its microseconds and cannot be negative, ...)? Nested
 * types count when any part does. Such columns travel as VARCHAR in whole-query partials. */
bool qk_dist_type_widens(const char *type);
/* May the coordinator cast a VARCHAR partial column back to this type? Only numeric, temporal,
 * BIT, UUID and INTERVAL scalars (DECIMAL(p,s) too) and lists/arrays of them, whose text form
 * DuckDB reads back exactly; the type string must match that grammar character by character,
 * so a worker cannot smuggle SQL through it. Others (ENUM, UNION, nested) stay VARCHAR. */
bool qk_dist_type_castable(const char *type);
/* Case-insensitive type name equality. */
bool qk_dist_type_equal(const char *a, const char *b);

/* ---- transports --------------------------------------------------------------------------------
 */

typedef struct qk_dist_transport_ops {
    const char *kind; /* "http" | "lambda" */
    /* Set URL, headers (into *headers, freed by the caller) and body on h. */
    int (*prepare)(qk_dist_transport *t, CURL *h, const char *body, size_t len,
                   struct curl_slist **headers, qk_err *err);
    /* The transfer completed with HTTP status: accept the answer or describe the failure.
     * fn_error: the response had X-Amz-Function-Error. */
    int (*finish)(qk_dist_transport *t, long status, bool fn_error, const qk_buf *body,
                  qk_err *err);
    void (*destroy)(qk_dist_transport *t);
} qk_dist_transport_ops;

struct qk_dist_transport {
    const qk_dist_transport_ops *ops;
    char name[256]; /* for messages: the URL, or "lambda:FUNCTION" */
    int64_t connect_timeout_ms;
};

/* Fill err from an error-shaped JSON body ({"errorMessage","errorType"}, or AWS's
 * {"Message"/"message","Type"/"__type"}), prefixed with what; QK_EHTTP when the body says
 * nothing usable (then the status is named). */
int qk_dist_body_error(const char *what, long status, const qk_buf *body, qk_err *err);

#endif
