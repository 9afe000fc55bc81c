/* SPDX-License-Identifier: MIT */
/*
 * engine.c: the DuckDB instance, its sandbox, and running one query within limits.
 *
 * Open: an in-memory database with autoinstall/autoload of extensions off, then the sandbox
 * (allowed_directories = lake, cache, temp; enable_external_access = false; configuration
 * locked). Query: a fresh connection; the SQL must hold exactly one statement; a SELECT is
 * wrapped in `LIMIT n+1` (query.c, sql.c) so DuckDB stops after the rows we return plus one
 * that tells us more existed; the engine's watchdog (watch.c) interrupts a query at its
 * deadline or when its cancel callback fires (duckdb_interrupt).
 */
#include "engine/engine.h"
#include "engine/engine_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct qk_engine {
    duckdb_database db;
    char *lake, *cache, *temp;
    char *lake_rel;   /* the lake as given, when relative: DuckDB's checks are textual */
    bool lake_remote; /* lake is "s3://bucket/prefix" */
    bool own_temp;
    bool sandbox;
    qk_watchdog *watchdog;
    _Atomic uint64_t queries;
};

void qk_engine_config_defaults(qk_engine_config *c)
{
    memset(c, 0, sizeof *c);
    c->lake = qk_env_str("QUACK_LAKE", "lake");
}

/* "./lake//x/" -> "lake/x/" for a relative path without "..", else NULL. DuckDB resolves a
 * relative path in SQL against the working directory but checks it against
 * allowed_directories as text, so the relative spelling of the lake is allowed too. */
QK_TESTABLE char *relative_form(const char *p)
{
    qk_buf b;
    if (!p || p[0] == '/') return NULL;
    qk_buf_init(&b, 4096);
    while (*p) {
        const char *seg = p;
        size_t n;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - seg);
        while (*p == '/')
            p++;
        if (n == 0 || (n == 1 && seg[0] == '.')) continue;
        if ((n == 2 && seg[0] == '.' && seg[1] == '.') || qk_buf_add(&b, seg, n) ||
            qk_buf_addc(&b, '/')) {
            qk_buf_free(&b);
            return NULL;
        }
    }
    if (b.len == 0) {
        qk_buf_free(&b);
        return NULL;
    }
    return qk_buf_detach(&b, NULL);
}

static int make_temp_dir(char **out, qk_err *err)
{
    char path[4096];
    const char *tmp = qk_env_str("TMPDIR", "/tmp");
    snprintf(path, sizeof path, "%s/quack-tmp-XXXXXX", tmp);
    if (!mkdtemp(path))
        return qk_errf(err, QK_EIO, "cannot create temp dir in %s: %s", tmp, strerror(errno));
    return qk_path_abs(path, out, err);
}

/* Append a SQL string literal ('...' with quotes doubled). */
int qk_sql_add_literal(qk_buf *b, const char *s)
{
    int rc = qk_buf_addc(b, '\'');
    for (; !rc && *s; s++)
        rc = *s == '\'' ? qk_buf_add(b, "''", 2) : qk_buf_addc(b, *s);
    return rc ? rc : qk_buf_addc(b, '\'');
}

int qk_engine_con_exec(duckdb_connection con, const char *sql, qk_err *err)
{
    duckdb_result res;
    int rc = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError)
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
    duckdb_destroy_result(&res);
    return rc;
}

static int apply_settings(qk_engine *e, const qk_engine_config *cfg, qk_err *err)
{
    duckdb_connection con;
    qk_buf sql;
    int rc;
    if (duckdb_connect(e->db, &con) == DuckDBError)
        return qk_errf(err, QK_EINTERNAL, "cannot connect to DuckDB");
    qk_buf_init(&sql, 1 << 16);
    rc = qk_buf_adds(&sql, "SET temp_directory=");
    if (!rc) rc = qk_sql_add_literal(&sql, e->temp);
    if (!rc)
        rc = qk_buf_adds(&sql, ";SET autoinstall_known_extensions=false;"
                               "SET autoload_known_extensions=false;"
                               "SET allow_community_extensions=false;");
    if (!rc && cfg->threads > 0) rc = qk_buf_printf(&sql, "SET threads=%d;", cfg->threads);
    if (!rc && cfg->memory_limit) {
        rc = qk_buf_adds(&sql, "SET memory_limit=");
        if (!rc) rc = qk_sql_add_literal(&sql, cfg->memory_limit);
        if (!rc) rc = qk_buf_addc(&sql, ';');
    }
    if (!rc && !cfg->no_sandbox) {
        const char *dirs[4] = {e->cache, e->temp, e->lake, e->lake_rel};
        int ndirs = e->lake_remote ? 2 : e->lake_rel ? 4 : 3;
        rc = qk_buf_adds(&sql, "SET allowed_directories=[");
        for (int i = 0; i < ndirs && !rc; i++) {
            if (i) rc = qk_buf_addc(&sql, ',');
            if (!rc) rc = qk_sql_add_literal(&sql, dirs[i]);
        }
        if (!rc)
            rc = qk_buf_adds(&sql, "];SET enable_external_access=false;"
                                   "SET lock_configuration=true;");
    }
    if (rc) {
        qk_errf(err, rc, "engine settings too long");
        goto out;
    }
    if ((rc = qk_engine_con_exec(con, qk_buf_cstr(&sql), err)) != 0)
        qk_err_prefix(err, "engine settings");
out:
    qk_buf_free(&sql);
    duckdb_disconnect(&con);
    return rc;
}

static int prepare_dirs(qk_engine *e, const qk_engine_config *cfg, qk_err *err)
{
    struct stat st;
    int rc;
    const char *lake = cfg->lake ? cfg->lake : qk_env_str("QUACK_LAKE", "lake");
    if (qk_str_startswith(lake, "s3://")) {
        /* A remote lake: the lake module reads it through the store and the cache; DuckDB
         * never sees it, so it is not in allowed_directories. */
        size_t n = strlen(lake);
        while (n > 5 && lake[n - 1] == '/')
            n--;
        if (n <= 5 || lake[5] == '/' || n > 2048)
            return qk_errf(err, QK_EINVAL, "lake %s: want s3://bucket or s3://bucket/prefix", lake);
        e->lake = strndup(lake, n);
        if (!e->lake) return qk_errf(err, QK_ENOMEM, "out of memory");
        e->lake_remote = true;
    } else {
        if ((rc = qk_path_abs(lake, &e->lake, err))) return rc;
        e->lake_rel = relative_form(lake);
        if (cfg->create_lake && (rc = qk_mkdirs(e->lake, err))) return rc;
        if (stat(e->lake, &st) != 0 || !S_ISDIR(st.st_mode))
            return qk_errf(err, QK_ENOTFOUND,
                           "lake %s is not a directory (create it with 'quack demo --lake %s')",
                           e->lake, lake);
    }
    rc = cfg->cache_dir ? qk_path_abs(cfg->cache_dir, &e->cache, err)
                        : qk_default_cache_dir(&e->cache, err);
    if (rc || (rc = qk_mkdirs(e->cache, err))) return rc;
    if (cfg->temp_dir) {
        if ((rc = qk_path_abs(cfg->temp_dir, &e->temp, err)) || (rc = qk_mkdirs(e->temp, err)))
            return rc;
    } else {
        if ((rc = make_temp_dir(&e->temp, err))) return rc;
        e->own_temp = true;
    }
    return 0;
}

int qk_engine_open(const qk_engine_config *cfg, qk_engine **out, qk_err *err)
{
    qk_engine *e = calloc(1, sizeof *e);
    duckdb_config dc = NULL;
    char *open_err = NULL;
    int rc;
    if (!e || !(e->watchdog = qk_watchdog_new())) {
        free(e);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    if ((rc = prepare_dirs(e, cfg, err))) goto fail;
    if (duckdb_create_config(&dc) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "duckdb_create_config failed");
        goto fail;
    }
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    if (duckdb_open_ext(NULL, &e->db, dc, &open_err) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot open DuckDB: %s", open_err ? open_err : "?");
        duckdb_free(open_err);
        goto fail;
    }
    e->sandbox = !cfg->no_sandbox;
    if ((rc = apply_settings(e, cfg, err))) goto fail;
    duckdb_destroy_config(&dc);
    *out = e;
    return 0;
fail:
    if (dc) duckdb_destroy_config(&dc);
    qk_engine_close(e);
    return rc;
}

void qk_engine_close(qk_engine *e)
{
    if (!e) return;
    qk_watchdog_destroy(e->watchdog);
    if (e->db) duckdb_close(&e->db);
    if (e->own_temp && e->temp) qk_rmtree(e->temp, false, NULL);
    free(e->lake);
    free(e->lake_rel);
    free(e->cache);
    free(e->temp);
    free(e);
}

const char *qk_engine_lake(const qk_engine *e)
{
    return e->lake;
}

bool qk_engine_lake_remote(const qk_engine *e)
{
    return e->lake_remote;
}
const char *qk_engine_cache_dir(const qk_engine *e)
{
    return e->cache;
}
const char *qk_engine_temp_dir(const qk_engine *e)
{
    return e->temp;
}
duckdb_database qk_engine_db(qk_engine *e)
{
    return e->db;
}
uint64_t qk_engine_queries(const qk_engine *e)
{
    return e->queries;
}
bool qk_engine_sandboxed(const qk_engine *e)
{
    return e->sandbox;
}
qk_watchdog *qk_engine_watchdog(qk_engine *e)
{
    return e->watchdog;
}

int qk_engine_exec(qk_engine *e, const char *sql, qk_err *err)
{
    duckdb_connection con;
    int rc;
    if (duckdb_connect(e->db, &con) == DuckDBError)
        return qk_errf(err, QK_EINTERNAL, "cannot connect to DuckDB");
    rc = qk_engine_con_exec(con, sql, err);
    duckdb_disconnect(&con);
    return rc;
}

uint64_t qk_engine_count_query(qk_engine *e)
{
    return atomic_fetch_add(&e->queries, 1);
}

void qk_engine_note_answered(qk_engine *e, int rc)
{
    /* an answered (failed) query still warms the process; an internal failure answered nothing */
    if (rc == QK_ESQL || rc == QK_EDENIED || rc == QK_ETIMEOUT) qk_engine_count_query(e);
}
