/* SPDX-License-Identifier: MIT */
/*
 * lake_int.h: what resolve.c and prune.c share (private to src/lake; resolve.h is the module's
 * interface). The AST helpers keep 19+-digit integers as marked strings while jansson holds the
 * JSON (see resolve.c), so every AST piece passed between them carries the same mark.
 */
#ifndef QK_LAKE_INT_H
#define QK_LAKE_INT_H

#include <jansson.h>

#include "delta/skip.h"
#include "lake/resolve.h"
#include "store/store.h"

/* Run sql with one VARCHAR parameter; *out (caller frees) is the single VARCHAR result. */
int qk_lake_scalar(duckdb_connection con, const char *sql, const char *arg, char **out,
                   qk_err *err);
/* json_serialize_sql(sql) parsed with jansson, big integers marked with mark. *out: caller
 * decrefs. Errors: QK_EPARSE (DuckDB's message), QK_EUNSUPPORTED (not one SELECT). */
int qk_lake_parse(duckdb_connection con, const char *sql, const char *mark, json_t **out,
                  qk_err *err);
/* json_deserialize_sql of ast (big integers restored). *out: caller frees. */
int qk_lake_render(duckdb_connection con, json_t *ast, const char *mark, char **out, qk_err *err);

/*
 * Hive partition pruning (prune.c). keys[0..n) are the objects the glob uri matched (keys
 * relative to its bucket, pattern = the glob's key). Sets keep[i] for the objects whose
 * partition values can satisfy the WHERE conjuncts of ast that only use partition columns; when
 * it prunes anything it also pins the partition types in ast (hive_types) so DuckDB infers the
 * same types from fewer files. Any doubt or failure keeps everything. Returns the count kept.
 */
size_t qk_lake_prune(duckdb_connection con, json_t *ast, const char *mark, const char *uri,
                     const char *pattern, const char *probe_dir, char *const *keys, size_t n,
                     bool *keep);

/* Is the column reference ref (a COLUMN_REF node) one an expression may use? */
typedef bool (*qk_lake_col_fn)(json_t *ref, void *ud);
/* May expression e (any JSON under a WHERE conjunct) be evaluated outside its query, on values
 * of the columns col_ok accepts: only constants, comparisons, AND/OR/NOT and other operators,
 * BETWEEN, casts, CASE and deterministic functions (no subqueries, parameters, windows,
 * volatile functions) of such columns? (prune.c) */
bool qk_lake_expr_ok(json_t *e, qk_lake_col_fn col_ok, void *ud);

/*
 * Delta file skipping (prune.c): the part of the WHERE of select (a SELECT_NODE) that a
 * Delta table reference ref (a BASE_TABLE node of select's FROM, named alias in the query,
 * with columns m) can use, as a tree for qk_delta_skip; NULL when there is none. Only when ref
 * is select's whole FROM or is joined by INNER (or CROSS) joins only, without TABLESAMPLE or
 * column aliases; column names must resolve to ref (bare names only when ref is alone). The
 * tree's SQL pieces (constants, partition expressions) are rendered by DuckDB on con; the
 * tree lives in a.
 */
const qk_delta_pred *qk_lake_delta_filter(duckdb_connection con, const char *mark, json_t *select,
                                          json_t *ref, const char *alias,
                                          const qk_delta_metadata *m, qk_arena *a);

/* What binding table names learnt: on a remote lake the objects listed (keys are full
 * "s3://bucket/key" URIs) and the globs they cover completely, so resolving the paths does not
 * LIST or HEAD them again; on any lake the tables bound (lineage's parents). Zero-initialize;
 * free with qk_lake_known_free. */
typedef struct qk_lake_known {
    qk_obj_list objs;
    char **globs;
    size_t nglobs;
    json_t *bound;        /* NULL, or an array of {"name","path","kind"[,"version"]}, one per table
                             reference bound, in query order (qk_lake_ctx.bound) */
    size_t delta_skipped; /* Delta files skipped by partition values or stats (skip.h) */
} qk_lake_known;
void qk_lake_known_free(qk_lake_known *k);

/* Replace lake table names (BASE_TABLE references the lake's catalog knows) and SHOW TABLES in
 * ast with table function calls over lake (names.c). *replaced: references replaced. known
 * (may be NULL) collects the bound tables' listings when the lake is on S3. */
int qk_lake_bind_names(qk_engine *e, duckdb_connection con, json_t *ast, const char *mark,
                       qk_store *lake, size_t *replaced, qk_lake_known *known, qk_err *err);

/* Is key usable as a relative path: not empty, no empty, "." or ".." segments? (resolve.c) */
bool qk_lake_key_is_path(const char *key);

/* Does key match the glob pattern (DuckDB's rules: '*' and '?' stay inside a '/'-separated
 * segment, "**" spans segments)? resolve.c. */
bool qk_lake_glob_match(const char *pattern, const char *key);

/* SQL text (caret.c): past a '...' string, a "..." identifier (doubled quotes inside), a comment
 * or a $tag$ string that starts at p; p itself when none does (the end of text when one is not
 * closed). */
const char *qk_lake_sql_skip(const char *p);
/* CREATE ... AS <query> (ctas.c): the offset where <query> starts, or 0 when sql is not that. */
size_t qk_lake_ctas_split(duckdb_connection con, const char *mark, const char *sql);
/* The table name of that CREATE statement as written ("t", "main.\"my t\""), given the split
 * (the offset just after AS). NULL when none is found. Caller frees. */
char *qk_lake_ctas_name(const char *sql, size_t at);

#endif
