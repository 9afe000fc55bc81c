/* SPDX-License-Identifier: MIT */
/*
 * query.c: run one statement within limits and hold its result.
 *
 * 1. duckdb_extract_statements: exactly one statement, or QK_EINVAL.
 * 2. With a row limit, run the statement wrapped so DuckDB stops after limit+1 rows (the +1
 *    tells us more existed): first as `(\n<sql>\n) LIMIT n+1`, which keeps DuckDB's column
 *    names, then, if that does not parse (own LIMIT, DESCRIBE...), as
 *    `SELECT * FROM (\n<sql>\n) LIMIT n+1` (taking the names from the statement itself when
 *    a duplicate may have been renamed). One duckdb_query call binds once (a prepared
 *    statement that reads files is bound again at execution); the engine's watchdog
 *    (watch.c) interrupts it at the deadline or when the cancel callback fires.
 * 3. Statements neither wrapper parses (COPY, CREATE, ATTACH, ...) are prepared, checked
 *    against the sandbox, and executed under the same watchdog.
 * 4. Collect the chunks (at most limit+1 rows for a wrapped query), cut them to the limit,
 *    and remember whether more rows existed.
 */
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qk_result {
    idx_t ncols;
    char **names;
    char **types;
    duckdb_logical_type *ltypes;
    duckdb_data_chunk *chunks;
    size_t nchunks, next;
    uint64_t rows;
    bool limited, warm;
    double exec_ms;
};

void qk_result_destroy(qk_result *r)
{
    if (!r) return;
    for (idx_t i = 0; i < r->ncols; i++) {
        free(r->names ? r->names[i] : NULL);
        free(r->types ? r->types[i] : NULL);
        if (r->ltypes && r->ltypes[i]) duckdb_destroy_logical_type(&r->ltypes[i]);
    }
    for (size_t i = r->next; i < r->nchunks; i++)
        duckdb_destroy_data_chunk(&r->chunks[i]);
    free(r->names);
    free(r->types);
    free(r->ltypes);
    free(r->chunks);
    free(r);
}

idx_t qk_result_column_count(const qk_result *r)
{
    return r->ncols;
}
const char *qk_result_column_name(const qk_result *r, idx_t c)
{
    return r->names[c];
}
const char *qk_result_column_type(const qk_result *r, idx_t c)
{
    return r->types[c];
}
duckdb_logical_type qk_result_column_logical_type(const qk_result *r, idx_t c)
{
    return r->ltypes[c];
}
uint64_t qk_result_row_count(const qk_result *r)
{
    return r->rows;
}
bool qk_result_limited(const qk_result *r)
{
    return r->limited;
}
double qk_result_exec_ms(const qk_result *r)
{
    return r->exec_ms;
}
bool qk_result_warm(const qk_result *r)
{
    return r->warm;
}

duckdb_data_chunk qk_result_next_chunk(qk_result *r)
{
    if (r->next >= r->nchunks) return NULL;
    return r->chunks[r->next++];
}

/* Column names from the original statement; types from the result. */
static int describe_columns(qk_result *r, duckdb_prepared_statement orig, duckdb_result *res,
                            qk_err *err)
{
    qk_buf tb;
    r->ncols = duckdb_column_count(res);
    r->names = calloc(r->ncols ? r->ncols : 1, sizeof *r->names);
    r->types = calloc(r->ncols ? r->ncols : 1, sizeof *r->types);
    r->ltypes = calloc(r->ncols ? r->ncols : 1, sizeof *r->ltypes);
    if (!r->names || !r->types || !r->ltypes) return qk_errf(err, QK_ENOMEM, "out of memory");
    bool same = orig && duckdb_prepared_statement_column_count(orig) == r->ncols;
    for (idx_t i = 0; i < r->ncols; i++) {
        /* duckdb_prepared_statement_column_name returns a copy we must duckdb_free. */
        const char *n = same ? duckdb_prepared_statement_column_name(orig, i) : NULL;
        r->names[i] = qk_xstrdup(n ? n : duckdb_column_name(res, i));
        duckdb_free((void *)n);
        r->ltypes[i] = duckdb_column_logical_type(res, i);
        qk_buf_init(&tb, 1 << 16);
        if (qk_type_name(r->ltypes[i], &tb) != 0) qk_buf_truncate(&tb, 0);
        r->types[i] = qk_buf_detach(&tb, NULL);
    }
    return 0;
}

/* Take up to limit rows of chunks out of res (limit < 0: all). */
static int collect_chunks(qk_result *r, duckdb_result *res, int64_t limit, qk_err *err)
{
    size_t cap = 0;
    duckdb_data_chunk ch;
    while ((ch = duckdb_fetch_chunk(*res)) != NULL) {
        idx_t n = duckdb_data_chunk_get_size(ch);
        if (limit >= 0 && r->rows + n > (uint64_t)limit) {
            r->limited = true;
            n = (idx_t)((uint64_t)limit - r->rows);
            if (n == 0) {
                duckdb_destroy_data_chunk(&ch);
                break;
            }
            duckdb_data_chunk_set_size(ch, n);
        }
        if (r->nchunks == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            duckdb_data_chunk *p = realloc(r->chunks, ncap * sizeof *p);
            if (!p) {
                duckdb_destroy_data_chunk(&ch);
                return qk_errf(err, QK_ENOMEM, "out of memory collecting results");
            }
            r->chunks = p;
            cap = ncap;
        }
        r->chunks[r->nchunks++] = ch;
        r->rows += n;
        if (r->limited) break;
    }
    return 0;
}

typedef struct run_state {
    duckdb_connection con;
    const qk_query_opts *o;
    int64_t deadline;
    int stop; /* 0, QK_ETIMEOUT or QK_ECANCELED */
} run_state;

static int stop_error(const run_state *s, qk_err *err)
{
    if (s->stop == QK_ETIMEOUT)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout", "query exceeded the timeout of %lld ms",
                        (long long)s->o->timeout_ms);
    return qk_errtf(err, QK_ECANCELED, "Canceled", "query canceled");
}

/* Run `text` (duckdb_query) or `st` (duckdb_execute_prepared) on s->con. DuckDB blocks this
 * thread; the engine's watchdog (watch.c) interrupts it at the deadline or when the cancel
 * callback fires, and the outcome is then reported as QK_ETIMEOUT / QK_ECANCELED. */
static int run_watched(qk_engine *e, run_state *s, const char *text, duckdb_prepared_statement st,
                       duckdb_result *res, qk_err *err)
{
    qk_watch w = {0};
    bool watched = s->deadline || s->o->cancelled;
    duckdb_state ds;
    int rc = 0;
    w.con = s->con;
    w.deadline = s->deadline;
    w.cancelled = s->o->cancelled;
    w.cancel_ud = s->o->cancel_ud;
    if (watched && (rc = qk_watch_begin(qk_engine_watchdog(e), &w, err))) return rc;
    ds = text ? duckdb_query(s->con, text, res) : duckdb_execute_prepared(st, res);
    if (ds == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(res), duckdb_result_error_type(res));
        duckdb_destroy_result(res);
    }
    if (watched) {
        qk_watch_end(qk_engine_watchdog(e), &w);
        s->stop = w.stop;
    }
    if (rc && s->stop) rc = stop_error(s, err);
    return rc;
}

static int prepare(duckdb_connection con, const char *sql, duckdb_prepared_statement *st,
                   qk_err *err)
{
    if (duckdb_prepare(con, sql, st) == DuckDBError) {
        int rc = qk_engine_set_error(err, duckdb_prepare_error(*st), DUCKDB_ERROR_INVALID);
        duckdb_destroy_prepare(st);
        *st = NULL;
        return rc;
    }
    return 0;
}

static int count_statements(duckdb_connection con, const char *sql, qk_err *err)
{
    duckdb_extracted_statements ex = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &ex);
    int rc = 0;
    if (n == 0) {
        const char *m = ex ? duckdb_extract_statements_error(ex) : NULL;
        if (m && *m)
            rc = qk_errtf(err, QK_ESQL, "ParserException", "%s", m);
        else
            rc = qk_errtf(err, QK_EINVAL, "InvalidInput", "no SQL statement given");
    } else if (n > 1) {
        rc = qk_errtf(err, QK_EINVAL, "InvalidInput",
                      "expected one SQL statement, got %llu (send them one at a time)",
                      (unsigned long long)n);
    }
    duckdb_destroy_extracted(&ex);
    return rc;
}

/* Statements the sandbox refuses by kind, before DuckDB sees them (clearer than the file
 * permission error DuckDB would give for some of them). */
static int sandbox_check(duckdb_prepared_statement st, qk_err *err)
{
    switch (duckdb_prepared_statement_type(st)) {
    case DUCKDB_STATEMENT_TYPE_ATTACH:
    case DUCKDB_STATEMENT_TYPE_DETACH:
        return qk_errtf(err, QK_EDENIED, "PermissionException",
                        "ATTACH and DETACH are not allowed: quack's sandbox serves only the lake");
    case DUCKDB_STATEMENT_TYPE_LOAD:
        return qk_errtf(err, QK_EDENIED, "PermissionException",
                        "INSTALL and LOAD are not allowed: quack's sandbox runs only the built-in "
                        "extensions (parquet, json, icu)");
    default:
        return 0;
    }
}

/* The row-limit wrappers, tried in order. A keeps DuckDB's column names exactly but does not
 * parse when the statement has its own LIMIT or is DESCRIBE/SHOW/SUMMARIZE; B parses for
 * those but, being a subquery, renames duplicate column names (a, a_1). */
static const char *const wrap_forms[2] = {"(\n%.*s\n) LIMIT %lld",
                                          "SELECT * FROM (\n%.*s\n) LIMIT %lld"};

/* Messages about the wrapped text point one line below the user's: "LINE 2:" -> "LINE 1:". */
static void unshift_lines(qk_err *err)
{
    char fixed[QK_ERR_MSG_MAX];
    const char *p = err->msg, *hit;
    size_t n = 0;
    while ((hit = strstr(p, "LINE ")) != NULL && n < sizeof fixed - 24) {
        char *end;
        long line = strtol(hit + 5, &end, 10);
        size_t pre = (size_t)(hit - p);
        if (pre > sizeof fixed - 24 - n) pre = sizeof fixed - 24 - n;
        memcpy(fixed + n, p, pre);
        n += pre;
        if (end > hit + 5 && *end == ':' && line > 1) {
            n += (size_t)snprintf(fixed + n, sizeof fixed - n, "LINE %ld", line - 1);
            p = end;
        } else {
            n += (size_t)snprintf(fixed + n, sizeof fixed - n, "LINE ");
            p = hit + 5;
        }
    }
    qk_strlcpy(fixed + n, p, sizeof fixed - n);
    qk_strlcpy(err->msg, fixed, sizeof err->msg);
}

/* Run wrapper `form` in one duckdb_query call (one bind), the watchdog enforcing the deadline
 * and the cancel callback. */
static int run_wrapped(qk_engine *e, run_state *s, int form, const char *sql, duckdb_result *res,
                       qk_err *err)
{
    qk_buf text;
    int rc;
    qk_buf_init(&text, strlen(sql) + 128);
    if (qk_buf_printf(&text, wrap_forms[form], (int)qk_sql_trimmed_len(sql), sql,
                      (long long)s->o->limit + 1)) {
        qk_buf_free(&text);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    rc = run_watched(e, s, qk_buf_cstr(&text), NULL, res, err);
    if (rc && !s->stop) unshift_lines(err);
    qk_buf_free(&text);
    return rc;
}

/* True when some column is named "<other column>_<digits>": wrapper B may have renamed a
 * duplicate, so the true names must come from the statement itself. */
static bool maybe_renamed(duckdb_result *res)
{
    idx_t n = duckdb_column_count(res);
    for (idx_t i = 0; i < n; i++) {
        const char *a = duckdb_column_name(res, i), *us = strrchr(a, '_');
        if (!us || !us[1] || strspn(us + 1, "0123456789") != strlen(us + 1)) continue;
        for (idx_t j = 0; j < n; j++) {
            const char *b = duckdb_column_name(res, j);
            if (j != i && strlen(b) == (size_t)(us - a) && strncmp(a, b, (size_t)(us - a)) == 0)
                return true;
        }
    }
    return false;
}

/* The row-limited fast path: 0 with *have set, an error to report, or 0 with *have unset when
 * neither wrapper parses (the statement is not a query: run it as it is). */
static int run_limited(qk_engine *e, run_state *s, const char *sql, duckdb_result *res,
                       duckdb_prepared_statement *names, bool *have, qk_err *err)
{
    for (int form = 0; form < 2; form++) {
        int rc = run_wrapped(e, s, form, sql, res, err);
        if (rc == 0) {
            *have = true;
            if (form == 1 && maybe_renamed(res) &&
                duckdb_prepare(s->con, sql, names) == DuckDBError) {
                duckdb_destroy_prepare(names);
                *names = NULL;
            }
            return 0;
        }
        if (s->stop || strcmp(err->type, "ParserException") != 0) return rc;
    }
    qk_err_clear(err);
    return 0;
}

int qk_engine_query(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                    qk_err *err)
{
    static const qk_query_opts no_opts = {-1, 0, NULL, NULL, false};
    run_state s = {0};
    duckdb_prepared_statement orig = NULL; /* the statement itself, when prepared */
    duckdb_result res;
    bool have_res = false;
    qk_result *r = NULL;
    double t0 = qk_now_msf();
    int rc;
    if (!o) o = &no_opts;
    s.o = o;
    if (o->timeout_ms > 0) s.deadline = qk_now_ms() + o->timeout_ms;
    if (duckdb_connect(qk_engine_db(e), &s.con) == DuckDBError)
        return qk_errf(err, QK_EINTERNAL, "cannot connect to DuckDB");
    if ((rc = count_statements(s.con, sql, err))) goto out;
    if (o->limit >= 0 && o->limit < INT64_MAX &&
        (rc = run_limited(e, &s, sql, &res, &orig, &have_res, err)))
        goto out;
    if (!have_res) {
        if ((rc = prepare(s.con, sql, &orig, err))) goto out;
        if (qk_engine_sandboxed(e) && (rc = sandbox_check(orig, err))) goto out;
        if ((rc = run_watched(e, &s, NULL, orig, &res, err))) goto out;
        have_res = true;
    }
    if (!(r = calloc(1, sizeof *r))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = describe_columns(r, orig, &res, err))) goto out;
    if ((rc = collect_chunks(r, &res, o->limit, err))) goto out;
    r->exec_ms = qk_now_msf() - t0;
    r->warm = qk_engine_count_query(e) > 0;
    *out = r;
    r = NULL;
out:
    if (rc && !o->probe) qk_engine_note_answered(e, rc);
    qk_result_destroy(r);
    if (have_res) duckdb_destroy_result(&res);
    if (orig) duckdb_destroy_prepare(&orig);
    duckdb_disconnect(&s.con);
    return rc;
}

/* ---- one integer --------------------------------------------------------------------------- */

static bool cell_i64(duckdb_vector v, idx_t row, int64_t *out)
{
    duckdb_logical_type t = duckdb_vector_get_column_type(v);
    duckdb_type id = duckdb_get_type_id(t);
    uint64_t *valid = duckdb_vector_get_validity(v);
    const void *d = duckdb_vector_get_data(v);
    bool ok = !valid || duckdb_validity_row_is_valid(valid, row);
    duckdb_destroy_logical_type(&t);
    if (!ok) return false;
    switch (id) {
    case DUCKDB_TYPE_BIGINT:
        *out = ((const int64_t *)d)[row];
        return true;
    case DUCKDB_TYPE_INTEGER:
        *out = ((const int32_t *)d)[row];
        return true;
    case DUCKDB_TYPE_UBIGINT:
        *out = (int64_t)((const uint64_t *)d)[row];
        return ((const uint64_t *)d)[row] <= INT64_MAX;
    case DUCKDB_TYPE_HUGEINT: {
        duckdb_hugeint h = ((const duckdb_hugeint *)d)[row];
        *out = (int64_t)h.lower;
        return (h.upper == 0 && h.lower <= INT64_MAX) || (h.upper == -1 && h.lower > INT64_MAX);
    }
    default:
        return false;
    }
}

int qk_engine_scalar_i64(qk_engine *e, const char *sql, const qk_query_opts *o, int64_t *out,
                         qk_err *err)
{
    qk_query_opts qo = o ? *o : (qk_query_opts){-1, 0, NULL, NULL, false};
    qk_result *r = NULL;
    duckdb_data_chunk ch = NULL;
    int rc;
    qo.limit = -1;
    if ((rc = qk_engine_query(e, sql, &qo, &r, err))) return rc;
    ch = qk_result_column_count(r) ? qk_result_next_chunk(r) : NULL;
    if (!ch || duckdb_data_chunk_get_size(ch) == 0 ||
        !cell_i64(duckdb_data_chunk_get_vector(ch, 0), 0, out))
        rc = qk_errf(err, QK_ENOTFOUND, "expected one integer from: %.80s", sql);
    if (ch) duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
    return rc;
}
