/* SPDX-License-Identifier: MIT */
/*
 * engine_int.h: shared between the engine's own files (engine.c, query.c, sql.c, types.c,
 * encoders). Not for other modules.
 */
#ifndef QK_ENGINE_INT_H
#define QK_ENGINE_INT_H

#include <stdatomic.h>

#include "engine/engine.h"

/* DuckDB's exception name for an error type, e.g. "ParserException". */
const char *qk_duckdb_error_name(duckdb_error_type t);
/* Increment the answered-query counter; returns the previous value. */
uint64_t qk_engine_count_query(qk_engine *e);
/* True when the sandbox is on. */
bool qk_engine_sandboxed(const qk_engine *e);
/* Length of sql without trailing whitespace, comments and semicolons (quote-aware). */
size_t qk_sql_trimmed_len(const char *sql);
/* Append DuckDB's spelling of a type ("BIGINT", "DECIMAL(18,3)", "STRUCT(a INTEGER)"...). */
int qk_type_name(duckdb_logical_type t, qk_buf *out);

/* The watchdog (watch.c): interrupts queries that block in duckdb_query at their deadline or
 * when their cancel callback fires (polled every 5 ms on the watchdog's thread). */
typedef struct qk_watchdog qk_watchdog;
typedef struct qk_watch {
    duckdb_connection con;
    int64_t deadline;           /* qk_now_ms() value, 0 = none */
    int (*cancelled)(void *ud); /* called on the watchdog thread; may be NULL */
    void *cancel_ud;
    _Atomic int stop; /* 0, or QK_ETIMEOUT / QK_ECANCELED once interrupted */
    struct qk_watch *next;
} qk_watch;
qk_watchdog *qk_watchdog_new(void);
void qk_watchdog_destroy(qk_watchdog *d);
int qk_watch_begin(qk_watchdog *d, qk_watch *w, qk_err *err);
void qk_watch_end(qk_watchdog *d, qk_watch *w);
/* The engine's watchdog. */
qk_watchdog *qk_engine_watchdog(qk_engine *e);

#endif
