/* SPDX-License-Identifier: MIT */
/*
 * unit_engine.h: the engine the lake unit tests share: lake <dir>/lake (created), cache
 * <dir>/cache, temp <dir>/tmp (or a fresh one of the engine's own when with_temp is false),
 * 2 DuckDB threads, sandbox on. Prints the reason and returns -1 when it cannot open.
 * Also the other pieces the lake unit tests share: closing it (teardown), local-directory
 * "buckets" for the lake's open_store hooks, and running fixture SQL.
 */
#ifndef QK_UNIT_ENGINE_H
#define QK_UNIT_ENGINE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "store/store.h"

static inline int qk_test_engine_open(const char *dir, bool with_temp, qk_engine **out)
{
    qk_engine_config c;
    qk_err err = {0};
    char lake[512], cache[512], tmp[512];
    snprintf(lake, sizeof lake, "%s/lake", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    qk_engine_config_defaults(&c);
    c.lake = lake;
    c.cache_dir = cache;
    if (with_temp) c.temp_dir = tmp;
    c.threads = 2;
    c.create_lake = true;
    if (qk_engine_open(&c, out, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Close e and remove dir: a cmocka teardown's body (0, or -1 when dir cannot be removed). */
static inline int qk_test_engine_done(qk_engine *e, const char *dir)
{
    qk_engine_close(e);
    return qk_rmtree(dir, false, NULL) == 0 ? 0 : -1;
}

/* An open_store hook (qk_lake_open_store_fn): bucket b is the local directory
 * <ud>/lake/buckets/<b>, ud being the test's temp dir. */
static inline int qk_test_local_bucket(void *ud, const char *bucket, qk_store **out, qk_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/lake/buckets/%s", (const char *)ud, bucket);
    return qk_store_open(path, out, err);
}

/* Run trusted fixture SQL; print DuckDB's message and return -1 when it fails. */
static inline int qk_test_exec(qk_engine *e, const char *sql)
{
    qk_err err = {0};
    if (qk_engine_exec(e, sql, &err) == 0) return 0;
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
}

/* system() of a printf-formatted shell command (fixtures: cp -r, truncate ...). */
static inline int qk_test_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* The first cell of sql's result as text: *out (caller frees) is NULL for SQL NULL. -1 (with
 * DuckDB's message printed) when the query fails or returns no row. */
static inline int qk_test_cell(qk_engine *e, const char *sql, char **out)
{
    duckdb_connection con;
    duckdb_result res;
    duckdb_data_chunk ch = NULL;
    qk_buf q;
    int rc = -1;
    *out = NULL;
    qk_buf_init(&q, 64u << 20);
    if (qk_buf_printf(&q, "SELECT CAST(#1 AS VARCHAR) FROM (%s)", sql) ||
        duckdb_connect(qk_engine_db(e), &con) == DuckDBError) {
        qk_buf_free(&q);
        return -1;
    }
    if (duckdb_query(con, qk_buf_cstr(&q), &res) == DuckDBError)
        fprintf(stderr, "query: %s\nSQL: %.2000s\n", duckdb_result_error(&res), sql);
    else if ((ch = duckdb_fetch_chunk(res)) != NULL && duckdb_data_chunk_get_size(ch) > 0) {
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        uint64_t *valid = duckdb_vector_get_validity(v);
        rc = 0;
        if (!valid || duckdb_validity_row_is_valid(valid, 0)) {
            duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v);
            *out = strndup(duckdb_string_t_data(s), duckdb_string_t_length(*s));
        }
    }
    if (ch) duckdb_destroy_data_chunk(&ch);
    duckdb_destroy_result(&res);
    duckdb_disconnect(&con);
    qk_buf_free(&q);
    return rc;
}

#endif
