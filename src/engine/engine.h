/* SPDX-License-Identifier: MIT */
/*
 * engine.h: the DuckDB side of quack (DESIGN.md sections 1-2).
 *
 * One qk_engine per process owns the duckdb_database (shared, thread-safe); every query opens
 * its own connection (a connection is used by one thread at a time). The engine applies the
 * sandbox (DuckDB may read only the lake root, the cache and its temp directory; extension
 * install/load off; configuration locked) and the limits of a query: rows (a single SELECT is
 * wrapped in LIMIT n+1 so rows that will not be returned are never materialized), time (a
 * watchdog thread interrupts the query at its deadline) and cancellation (a callback the
 * watchdog polls while it runs, e.g. "has the HTTP client gone away").
 *
 * Results are read by the encoders (encode.h): JSON records, NDJSON, CSV, terminal table.
 */
#ifndef QK_ENGINE_H
#define QK_ENGINE_H

#include <duckdb.h>

#include "core/core.h"

typedef struct qk_engine_config {
    const char *lake;         /* lake root: a directory or s3://bucket/prefix (default: QUACK_LAKE
                                 or ./lake). A remote lake is read by the lake module only. */
    const char *cache_dir;    /* NULL: $XDG_CACHE_HOME/quack, ~/.cache/quack or /tmp/quack-cache */
    const char *temp_dir;     /* NULL: a fresh directory under $TMPDIR, removed at close */
    int threads;              /* DuckDB worker threads; 0 = one per core */
    const char *memory_limit; /* e.g. "2GB"; NULL = DuckDB's default (80% of RAM) */
    bool no_sandbox;          /* true only for trusted local use (quack demo writes with it off) */
    bool create_lake;         /* create the lake directory if missing (else it must exist) */
} qk_engine_config;

typedef struct qk_engine qk_engine;

/* Fill c with defaults (lake from QUACK_LAKE or "lake"). */
void qk_engine_config_defaults(qk_engine_config *c);
/* Open DuckDB in memory and apply the sandbox. *out is freed with qk_engine_close. */
int qk_engine_open(const qk_engine_config *cfg, qk_engine **out, qk_err *err);
void qk_engine_close(qk_engine *e);
/* Lake root (absolute directory, or "s3://bucket/prefix" without a trailing '/'), cache and
 * temp directories (borrowed, valid until close). */
const char *qk_engine_lake(const qk_engine *e);
/* Is the lake root an s3:// URI? */
bool qk_engine_lake_remote(const qk_engine *e);
const char *qk_engine_cache_dir(const qk_engine *e);
const char *qk_engine_temp_dir(const qk_engine *e);
/* The database, for modules that need their own connection (e.g. the demo generator). */
duckdb_database qk_engine_db(qk_engine *e);
/* Run trusted SQL (one or more statements), discarding results. For set-up work only. */
int qk_engine_exec(qk_engine *e, const char *sql, qk_err *err);
/* Run trusted SQL on a connection of the caller's, discarding results. */
int qk_engine_con_exec(duckdb_connection con, const char *sql, qk_err *err);
/* Copy a DuckDB error into err and return its code: QK_EDENIED for permission errors, QK_EIO
 * for I/O errors, else QK_ESQL; the type is DuckDB's exception name ("BinderException"),
 * from `type` or, when that is DUCKDB_ERROR_INVALID, from the message's prefix. */
int qk_engine_set_error(qk_err *err, const char *msg, duckdb_error_type type);
/* Append s as a SQL string literal ('...' with quotes doubled). */
int qk_sql_add_literal(qk_buf *b, const char *s);
/* Number of queries this process has answered (for `warm`). */
uint64_t qk_engine_queries(const qk_engine *e);
/* A query failed with rc: count it as answered when the failure was an answer (a SQL error,
 * a permission error, a timeout), as qk_engine_query does for unprobed runs. Callers use it
 * for a probe (qk_query_opts.probe) whose error they return as it is. */
void qk_engine_note_answered(qk_engine *e, int rc);

typedef struct qk_query_opts {
    int64_t limit;              /* rows returned at most; < 0 = unlimited */
    int64_t timeout_ms;         /* 0 = no timeout */
    int (*cancelled)(void *ud); /* polled during execution; non-zero cancels. May be NULL. */
    void *cancel_ud;
    bool probe; /* a first attempt the caller may retry: its failure does not warm the process */
} qk_query_opts;

typedef struct qk_result qk_result;

/*
 * Run one SQL statement (several statements are refused with QK_EINVAL). On success *out is a
 * result to read with the functions below and the encoders, and destroy with
 * qk_result_destroy. On failure err holds DuckDB's message and its type as DuckDB's exception
 * name (e.g. "ParserException", "BinderException", "PermissionException"), with code QK_ESQL,
 * QK_ETIMEOUT (deadline passed), QK_ECANCELED (cancel callback fired) or QK_EINVAL.
 * Thread-safe: call from any thread.
 */
int qk_engine_query(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                    qk_err *err);
void qk_result_destroy(qk_result *r);
/* The first column of the first row of sql (run as by qk_engine_query, every row) as an integer
 * (BIGINT/INTEGER/UBIGINT/HUGEINT that fits). QK_ENOTFOUND when there is no such cell: no row,
 * NULL, another type or out of range. */
int qk_engine_scalar_i64(qk_engine *e, const char *sql, const qk_query_opts *o, int64_t *out,
                         qk_err *err);

idx_t qk_result_column_count(const qk_result *r);
/* Column name and DuckDB type name (e.g. "BIGINT", "DECIMAL(18,3)"); borrowed. */
const char *qk_result_column_name(const qk_result *r, idx_t col);
const char *qk_result_column_type(const qk_result *r, idx_t col);
duckdb_logical_type qk_result_column_logical_type(const qk_result *r, idx_t col); /* borrowed */
/* Rows the result holds (after the limit). */
uint64_t qk_result_row_count(const qk_result *r);
/* True when the statement produced more rows than the limit allowed. */
bool qk_result_limited(const qk_result *r);
/* Execution time in ms (prepare + execute, not encoding). */
double qk_result_exec_ms(const qk_result *r);
/* False only for the first query the process answered. */
bool qk_result_warm(const qk_result *r);
/* Next chunk of rows, NULL at the end. The caller destroys it with duckdb_destroy_data_chunk.
 * Each chunk is returned once: encoders consume the result. */
duckdb_data_chunk qk_result_next_chunk(qk_result *r);

#endif
