/* SPDX-License-Identifier: MIT */
/*
 * resolve.h: s3:// paths in SQL (DESIGN.md section 4; docs/internals/lake-resolve.md).
 *
 * DuckDB's httpfs is not available, so quack resolves remote paths itself before DuckDB sees
 * the query: parse it to an AST with json_serialize_sql, find every string that starts with
 * "s3://" in a table function's arguments (read_parquet('s3://...'), lists of paths) and every
 * base table named 's3://...' (FROM 's3://b/x.parquet'), expand globs with LIST (HEAD for a
 * plain key), fetch the objects into the cache in parallel, hard-link them into a per-query
 * view directory that mirrors the keys (<temp>/q-<uuid>/<bucket>/<key>, so hive partition
 * folders keep their names), put the view paths in place of the s3:// strings (a glob stays a
 * glob, expanded by DuckDB locally) and turn the AST back into SQL with json_deserialize_sql.
 *
 * A qk_lake_ctx belongs to one query on one thread; qk_lake_ctx_free removes its view dir, so
 * free it only after the query's result is materialized (qk_engine_query returns it whole).
 */
#ifndef QK_LAKE_RESOLVE_H
#define QK_LAKE_RESOLVE_H

#include "core/core.h"
#include "engine/engine.h"
#include "store/cache.h"
#include "store/store.h"

#include <jansson.h>

/* Open the store that holds bucket's objects (keys relative to the bucket). The default opens
 * "s3://<bucket>"; tests hand in a local directory per bucket. */
typedef int (*qk_lake_open_store_fn)(void *ud, const char *bucket, qk_store **out, qk_err *err);

typedef struct qk_lake_ctx {
    qk_engine *engine;                /* required: DuckDB for the AST, temp dir for the view */
    qk_cache *cache;                  /* NULL: opened at qk_engine_cache_dir when needed */
    qk_lake_open_store_fn open_store; /* NULL: qk_store_open("s3://<bucket>") */
    void *open_store_ud;
    int fetch_threads;         /* parallel fetches; 0 = 8 */
    bool names;                /* also bind lake table names and SHOW TABLES */
    const qk_query_opts *opts; /* NULL, or the query's timeout and cancel callback:
                                  checked between fetches */
    /* set by qk_lake_resolve */
    char *view_dir; /* the per-query view dir, or NULL */
    bool own_cache;
    size_t objects;       /* objects placed in the view (fetched) */
    size_t pruned;        /* objects skipped by hive partition pruning */
    size_t delta_skipped; /* Delta files skipped by partition values or stats */
    size_t tables;        /* lake table references bound (ctx->names) */
    bool parsed;          /* the statement was parsed (errors after are the lake's) */
    json_t *bound;        /* with names: NULL, or the lake tables the query reads, an array of
                             {"name","path","kind"[,"version": the Delta snapshot read]} in query
                             order (lineage's parents); freed by qk_lake_ctx_free */
} qk_lake_ctx;

/* Zero ctx and set its engine. */
void qk_lake_ctx_init(qk_lake_ctx *ctx, qk_engine *engine);
/* Remove the view dir (if any) and close a cache the ctx opened. Accepts NULL. */
void qk_lake_ctx_free(qk_lake_ctx *ctx);

/*
 * Rewrite sql so its s3:// paths name local files and, with ctx->names, its lake table names
 * (catalog.h) read the tables' files. *sql_out (caller frees) is a copy of sql
 * when it has no "s3://", else DuckDB's rendering of the rewritten AST. Errors: QK_EPARSE
 * (DuckDB cannot parse or re-render the statement; its message), QK_ENOTFOUND ("no such
 * object s3://b/k", or DuckDB's "No files found that match the pattern ..." for an empty glob),
 * QK_EUNSUPPORTED (several statements, a key that cannot be a path), the store's errors
 * (credentials, network) and the cache's.
 */
int qk_lake_resolve(qk_lake_ctx *ctx, const char *sql, char **sql_out, qk_err *err);

/*
 * Parse sql (one SELECT) into DuckDB's AST on con and, with names, bind the lake's table names
 * in it (nothing is fetched). Integers of 19+ digits are kept as strings marked with mark (a
 * fresh uuid + ":big:"); qk_lake_ast_render puts them back. *ast: caller decrefs. *tables:
 * names bound (may be NULL).
 */
int qk_lake_ast_parse(qk_engine *e, duckdb_connection con, const char *sql, const char *mark,
                      bool names, json_t **ast, size_t *tables, qk_err *err);
/* json_deserialize_sql of an AST from qk_lake_ast_parse (*out: caller frees). */
int qk_lake_ast_render(duckdb_connection con, json_t *ast, const char *mark, char **out,
                       qk_err *err);
/* The objects an s3:// path or glob names (DuckDB's glob rules): LIST for a glob, HEAD for a
 * key. Appends "s3://bucket/key" URIs (in key order for a glob) with sizes to out. */
int qk_lake_list_uri(const char *uri, qk_obj_list *out, qk_err *err);

/* Hive partition pruning of files (the objects or paths the glob uri, written once in ast's
 * FROM, names) with ast's WHERE, as for a query's s3:// globs (prune.c). Pruned entries are
 * removed from files; when anything is pruned ast gets hive_types pinned. Returns the number
 * removed; any doubt keeps everything. */
size_t qk_lake_prune_files(qk_engine *e, duckdb_connection con, json_t *ast, const char *mark,
                           const char *uri, qk_obj_list *files);
/* Table function calls in an AST (prune.c). A named parameter `name = value` of a call is one
 * of its "children" after the first: its name, else NULL. */
const char *qk_lake_param_name(json_t *child);
/* The named parameter `name = ...` (case-insensitive) of the call fn (a FUNCTION node), or NULL;
 * borrowed from fn. */
json_t *qk_lake_param(json_t *fn, const char *name);
/* The children of f(<args>) as DuckDB parses them (args: SQL text such as "'x', types = {...}"),
 * for splicing into a call; NULL with err set when they do not parse. Caller decrefs. */
json_t *qk_lake_call_args(duckdb_connection con, const char *mark, const char *args, qk_err *err);
/* Is f (a function name) one whose value is not a function of its arguments within one query
 * on one node: random(), now(), current_*, nextval(), ...? */
bool qk_lake_volatile_fn(const char *f);
/* Pin the hive partition types of the file reader call fn (a TABLE_FUNCTION's "function" in an
 * AST parsed with mark) to those DuckDB infers over all of files, the objects or paths it
 * reads: a query over some of them (a quack-reduce shard) then types its partition columns as
 * the whole query does. Nothing to do (0) when the paths have no key=value folders or fn sets
 * hive_partitioning other than true, hive_types or hive_types_autocast. -1: the types could
 * not be pinned (e.g. the files' partition folders differ), so a subset may type them
 * differently. */
int qk_lake_pin_hive(qk_engine *e, duckdb_connection con, json_t *fn, const char *mark,
                     const qk_obj_list *files);

/* The seeds' `=(^)name` spelling (caret.c): *out (caller frees) is sql with every `=(^)` outside
 * strings and comments removed before its table name, `=(^)quack` becoming a small random
 * frame; *out is NULL when there is none. QK_EPARSE when `=(^)` is not followed by a name. */
int qk_lake_caret_rewrite(const char *sql, char **out, qk_err *err);

/*
 * What the CLI and the server call for every statement; same contract as qk_engine_query.
 * SQL with "s3://" and SHOW / DESCRIBE / SUMMARIZE statements are resolved first (paths and
 * table names). Anything else runs as it is, and only when DuckDB answers that a table,
 * schema or catalog "does not exist" are the lake's table names bound and the statement run
 * again, so a query without lake names costs nothing extra and DuckDB's own catalog always
 * wins. Every statement counts once towards warm. The seeds' `=(^)name` is rewritten first.
 */
int qk_lake_query(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                  qk_err *err);

#endif
