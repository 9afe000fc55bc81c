/* SPDX-License-Identifier: MIT */
/*
 * skip.c: which files of a snapshot can hold a row matching a filter (contract in skip.h).
 *
 * One DuckDB query decides for every file at once:
 *
 *   SELECT CAST("__qk_i" AS BIGINT) FROM (
 *     SELECT "__qk_i", CAST("__qk_p0" AS DATE) AS "day", ...              -- partition values
 *            TRY_CAST("__qk_vlo0" AS BIGINT) AS "__qk_lo0", ... AS "__qk_hi0",   -- bounds
 *            CAST("__qk_vn0" AS BIGINT) AS "__qk_nn0", ..., CAST(... AS BIGINT) AS "__qk_rows"
 *     FROM (VALUES (0, '2024-01-01', '1', '10', 0, 10), ...) AS v(...)) AS "<alias>"
 *   WHERE coalesce(<the filter as a predicate over those columns>, true)
 *
 * Every value goes in as text and is cast by DuckDB to the column's type (timestamps widened
 * by 1 ms, floats and decimals read as DOUBLE with a margin), so the comparisons are DuckDB's.
 * The filter becomes a three-valued "may hold a match" predicate: NULL is unknown, and SQL's
 * AND / OR already combine unknowns right (false AND unknown is false: skip; true OR unknown
 * is true: keep), which is why no NOT is ever generated over a bound. Partition expressions
 * are exact: the file's rows all share the values. The result lists the files kept.
 */
#include "delta/skip.h"

#include "delta/delta_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SKIP_SQL_MAX ((size_t)1 << 28)

/* What a column's stats can say. */
enum {
    CAT_NONE = 0, /* null counts only */
    CAT_INT,      /* TINYINT .. BIGINT: exact bounds */
    CAT_FLOAT,    /* FLOAT, DOUBLE: min only (as DOUBLE, margin 1e-6) */
    CAT_DECIMAL,  /* DECIMAL(p,s): min and max as DOUBLE, margin 1e-9 */
    CAT_DATE,     /* DATE: exact */
    CAT_TS,       /* TIMESTAMP WITH TIME ZONE: +- 1 ms */
    CAT_TS_NTZ,   /* TIMESTAMP: +- 1 ms */
    CAT_STRING,   /* VARCHAR: min a lower bound, max a prefix or an upper bound */
};

typedef struct skip_state {
    const qk_delta_snapshot *snap;
    int *slot;    /* per schema column: its slot among the referenced columns, or -1 */
    size_t *cols; /* per slot: the schema column */
    size_t ncols;
    qk_buf *b;
} skip_state;

bool qk_delta_skipping_enabled(void)
{
    return strcasecmp(qk_env_str("QUACK_DELTA_SKIPPING", "on"), "off") != 0;
}

static int category(const char *type)
{
    static const struct {
        const char *type;
        int cat;
    } map[] = {{"TINYINT", CAT_INT},      {"SMALLINT", CAT_INT},
               {"INTEGER", CAT_INT},      {"BIGINT", CAT_INT},
               {"FLOAT", CAT_FLOAT},      {"DOUBLE", CAT_FLOAT},
               {"DATE", CAT_DATE},        {"TIMESTAMP WITH TIME ZONE", CAT_TS},
               {"TIMESTAMP", CAT_TS_NTZ}, {"VARCHAR", CAT_STRING}};
    if (!strncmp(type, "DECIMAL(", 8)) return CAT_DECIMAL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(type, map[i].type)) return map[i].cat;
    return CAT_NONE;
}

static int col_cat(const skip_state *s, size_t slot)
{
    return category(s->snap->metadata.columns[s->cols[slot]].type);
}

/* Give every data column the filter names a slot. */
static int collect(skip_state *s, const qk_delta_pred *p, int depth)
{
    if (depth > 128) return QK_EINVAL;
    if (p->kind == QK_DELTA_P_AND || p->kind == QK_DELTA_P_OR) {
        for (size_t i = 0; i < p->nkids; i++)
            if (collect(s, p->kids[i], depth + 1)) return QK_EINVAL;
        return 0;
    }
    if (p->kind == QK_DELTA_P_EXACT) return p->sql ? 0 : QK_EINVAL;
    if (p->column >= s->snap->metadata.ncolumns ||
        s->snap->metadata.columns[p->column].partition >= 0)
        return QK_EINVAL;
    if (p->kind <= QK_DELTA_P_IN && p->nvalues == 0) return QK_EINVAL;
    for (size_t i = 0; i < p->nvalues; i++)
        if (!p->values[i]) return QK_EINVAL;
    if (s->slot[p->column] < 0) {
        s->slot[p->column] = (int)s->ncols;
        s->cols[s->ncols++] = p->column;
    }
    return 0;
}

/* ---- the VALUES list ----------------------------------------------------------------------- */

/* A string max without the tie-breaking characters writers append to a truncated prefix
 * (U+FFFD, U+FFFF, U+10FFFF): what is left is a prefix of the true max, or an upper bound. */
static size_t strip_tie_breakers(const char *s, size_t n)
{
    for (;;) {
        if (n >= 3 &&
            (!memcmp(s + n - 3, "\xEF\xBF\xBF", 3) || !memcmp(s + n - 3, "\xEF\xBF\xBD", 3)))
            n -= 3;
        else if (n >= 4 && !memcmp(s + n - 4, "\xF4\x8F\xBF\xBF", 4))
            n -= 4;
        else
            return n;
    }
}

/* A min or max from the stats as a SQL string literal (or NULL when unusable). */
static int add_stat(qk_buf *b, json_t *v, int cat, bool max)
{
    char tmp[64];
    if (json_is_string(v) && (cat == CAT_STRING || cat == CAT_DATE || cat == CAT_TS ||
                              cat == CAT_TS_NTZ || cat == CAT_FLOAT || cat == CAT_DECIMAL)) {
        const char *s = json_string_value(v);
        size_t n = max && cat == CAT_STRING ? strip_tie_breakers(s, strlen(s)) : strlen(s);
        char *t = NULL;
        int rc;
        if (cat == CAT_TS && !qk_delta_ts_has_zone(s)) {
            if (asprintf(&t, "%s+00", s) < 0) return QK_ENOMEM;
        } else if (!(t = strndup(s, n))) {
            return QK_ENOMEM;
        }
        rc = qk_sql_add_literal(b, t);
        free(t);
        return rc;
    }
    if (json_is_integer(v) && (cat == CAT_INT || cat == CAT_FLOAT || cat == CAT_DECIMAL)) {
        snprintf(tmp, sizeof tmp, "'%lld'", (long long)json_integer_value(v));
        return qk_buf_adds(b, tmp);
    }
    if (json_is_real(v) && (cat == CAT_FLOAT || cat == CAT_DECIMAL)) {
        snprintf(tmp, sizeof tmp, "'%.17g'", json_real_value(v));
        return qk_buf_adds(b, tmp);
    }
    return qk_buf_adds(b, "NULL");
}

static int add_count(qk_buf *b, json_t *v)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0) return qk_buf_adds(b, "NULL");
    return qk_buf_printf(b, "%lld", (long long)json_integer_value(v));
}

/* One row: (i, partition values..., per slot lo, hi, nulls..., numRecords). */
static int add_row(skip_state *s, size_t i)
{
    const qk_delta_metadata *m = &s->snap->metadata;
    const qk_delta_file *f = &s->snap->files[i];
    int rc = qk_buf_printf(s->b, "%s(%zu", i ? ", " : "", i);
    for (size_t c = 0; !rc && c < m->ncolumns; c++)
        if (m->columns[c].partition >= 0)
            rc = qk_buf_adds(s->b, ", ") ||
                 qk_delta_add_partition_literal(s->b, &m->columns[c],
                                                f->partition_values[m->columns[c].partition]);
    for (size_t k = 0; !rc && k < s->ncols; k++) {
        const char *name = m->columns[s->cols[k]].name;
        int cat = col_cat(s, k);
        rc = qk_buf_adds(s->b, ", ") ||
             add_stat(s->b, json_object_get(f->min_values, name), cat, false) ||
             qk_buf_adds(s->b, ", ") ||
             add_stat(s->b, json_object_get(f->max_values, name), cat, true) ||
             qk_buf_adds(s->b, ", ") || add_count(s->b, json_object_get(f->null_count, name));
    }
    if (!rc && f->num_records >= 0)
        rc = qk_buf_printf(s->b, ", %lld)", (long long)f->num_records);
    else if (!rc)
        rc = qk_buf_adds(s->b, ", NULL)");
    return rc;
}

/* ---- the projection: typed partition values and bounds ------------------------------------ */

/* "<expr> AS lo, <expr> AS hi" of slot k from the text columns "__qk_vlo<k>", "__qk_vhi<k>". */
static int add_bounds(skip_state *s, size_t k)
{
    const char *type = s->snap->metadata.columns[s->cols[k]].type;
    qk_buf *b = s->b;
    switch (col_cat(s, k)) {
    case CAT_INT:
    case CAT_DATE:
        return qk_buf_printf(b,
                             ", TRY_CAST(\"__qk_vlo%zu\" AS %s) AS \"__qk_lo%zu\""
                             ", TRY_CAST(\"__qk_vhi%zu\" AS %s) AS \"__qk_hi%zu\"",
                             k, type, k, k, type, k);
    case CAT_TS:
    case CAT_TS_NTZ:
        return qk_buf_printf(b,
                             ", TRY_CAST(\"__qk_vlo%zu\" AS %s) - INTERVAL 1 MILLISECOND AS "
                             "\"__qk_lo%zu\", TRY_CAST(\"__qk_vhi%zu\" AS %s) + INTERVAL 1 "
                             "MILLISECOND AS \"__qk_hi%zu\"",
                             k, type, k, k, type, k);
    case CAT_FLOAT:
        return qk_buf_printf(b,
                             ", CASE WHEN isfinite(TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE)) THEN "
                             "TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE) * (1 - 1e-6 * "
                             "sign(TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE))) END AS \"__qk_lo%zu\", "
                             "CAST(NULL AS DOUBLE) AS \"__qk_hi%zu\"",
                             k, k, k, k, k);
    case CAT_DECIMAL:
        return qk_buf_printf(b,
                             ", CASE WHEN isfinite(TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE)) THEN "
                             "TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE) * (1 - 1e-9 * "
                             "sign(TRY_CAST(\"__qk_vlo%zu\" AS DOUBLE))) END AS \"__qk_lo%zu\", "
                             "CASE WHEN isfinite(TRY_CAST(\"__qk_vhi%zu\" AS DOUBLE)) THEN "
                             "TRY_CAST(\"__qk_vhi%zu\" AS DOUBLE) * (1 + 1e-9 * "
                             "sign(TRY_CAST(\"__qk_vhi%zu\" AS DOUBLE))) END AS \"__qk_hi%zu\"",
                             k, k, k, k, k, k, k, k);
    case CAT_STRING:
        return qk_buf_printf(b,
                             ", CAST(\"__qk_vlo%zu\" AS VARCHAR) AS \"__qk_lo%zu\""
                             ", CAST(\"__qk_vhi%zu\" AS VARCHAR) AS \"__qk_hi%zu\"",
                             k, k, k, k);
    default:
        return qk_buf_printf(b, ", NULL AS \"__qk_lo%zu\", NULL AS \"__qk_hi%zu\"", k, k);
    }
}

static int add_projection(skip_state *s)
{
    const qk_delta_metadata *m = &s->snap->metadata;
    int rc = qk_buf_adds(s->b, "SELECT \"__qk_i\"");
    for (size_t c = 0; !rc && c < m->ncolumns; c++) {
        const qk_delta_column *col = &m->columns[c];
        if (col->partition < 0) continue;
        if (!strcmp(col->type, "BLOB"))
            rc = qk_buf_printf(s->b, ", encode(\"__qk_p%d\")", col->partition);
        else
            rc = qk_buf_printf(s->b, ", CAST(\"__qk_p%d\" AS %s)", col->partition, col->type);
        if (!rc) rc = qk_buf_adds(s->b, " AS ") || qk_delta_add_ident(s->b, col->name);
    }
    for (size_t k = 0; !rc && k < s->ncols; k++)
        rc = add_bounds(s, k) ||
             qk_buf_printf(s->b, ", CAST(\"__qk_vn%zu\" AS BIGINT) AS \"__qk_nn%zu\"", k, k);
    return rc ? rc : qk_buf_adds(s->b, ", CAST(\"__qk_vrows\" AS BIGINT) AS \"__qk_rows\"");
}

static int add_values(skip_state *s)
{
    const qk_delta_metadata *m = &s->snap->metadata;
    int rc = qk_buf_adds(s->b, " FROM (VALUES ");
    for (size_t i = 0; !rc && i < s->snap->nfiles; i++)
        rc = add_row(s, i);
    if (!rc) rc = qk_buf_adds(s->b, ") AS \"__qk_v\"(\"__qk_i\"");
    for (size_t c = 0; !rc && c < m->ncolumns; c++)
        if (m->columns[c].partition >= 0)
            rc = qk_buf_printf(s->b, ", \"__qk_p%d\"", m->columns[c].partition);
    for (size_t k = 0; !rc && k < s->ncols; k++)
        rc = qk_buf_printf(s->b, ", \"__qk_vlo%zu\", \"__qk_vhi%zu\", \"__qk_vn%zu\"", k, k, k);
    return rc ? rc : qk_buf_adds(s->b, ", \"__qk_vrows\")");
}

/* ---- the filter as a "may hold a match" predicate ----------------------------------------- */

/* The types a constant may have for the column to be compared as it is (never converted to
 * another type whose order differs, as a number compared with text would be). A DECIMAL's
 * bounds are DOUBLEs, so a string literal (which DuckDB would round to the column's scale) is
 * not taken for it. */
static int add_guard(qk_buf *b, int cat, const char *v)
{
    static const char *const numeric =
        "'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', "
        "'UINTEGER', 'UBIGINT', 'UHUGEINT', 'FLOAT', 'DOUBLE'";
    static const char *const times = "'DATE', 'TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', "
                                     "'TIMESTAMP_NS', 'VARCHAR'";
    switch (cat) {
    case CAT_INT:
    case CAT_FLOAT:
    case CAT_DECIMAL:
        return qk_buf_printf(b, "(typeof((%s)) IN (%s%s) OR typeof((%s)) LIKE 'DECIMAL(%%')", v,
                             numeric, cat == CAT_DECIMAL ? "" : ", 'VARCHAR'", v);
    case CAT_DATE:
    case CAT_TS:
        return qk_buf_printf(b, "typeof((%s)) IN (%s, 'TIMESTAMP WITH TIME ZONE')", v, times);
    case CAT_TS_NTZ: /* a zoned constant would convert the column, through the session zone */
        return qk_buf_printf(b, "typeof((%s)) IN (%s)", v, times);
    default:
        return qk_buf_printf(b, "typeof((%s)) = 'VARCHAR'", v);
    }
}

/* BETWEEN and IN compare the column and all their values in one common type; split into
 * pairs they compare each value in its own, which is the same only when the values share a
 * type: "typeof(v0) = typeof(vi) AND ..." (true for one value). */
static int add_same_types(qk_buf *b, const qk_delta_pred *p)
{
    int rc = qk_buf_adds(b, "true");
    for (size_t i = 1; !rc && i < p->nvalues; i++)
        rc = qk_buf_printf(b, " AND typeof((%s)) = typeof((%s))", p->values[0], p->values[i]);
    return rc;
}

/* hi op v; a string max may be a truncated prefix, so a constant it starts is not above it. */
static int add_hi(qk_buf *b, int cat, size_t k, const char *op, const char *v)
{
    if (cat == CAT_STRING)
        return qk_buf_printf(b, "(\"__qk_hi%zu\" %s (%s) OR starts_with((%s), \"__qk_hi%zu\"))", k,
                             op, v, v, k);
    return qk_buf_printf(b, "\"__qk_hi%zu\" %s (%s)", k, op, v);
}

/* CASE WHEN <v has a usable type> THEN <[lo, hi] can satisfy col op v> END */
static int add_range(skip_state *s, size_t k, int op, const char *v)
{
    int cat = col_cat(s, k), rc;
    qk_buf *b = s->b;
    if (cat == CAT_NONE) return qk_buf_adds(b, "NULL");
    rc = qk_buf_adds(b, "CASE WHEN ") || add_guard(b, cat, v) || qk_buf_adds(b, " THEN ");
    if (rc) return rc;
    switch (op) {
    case QK_DELTA_LT:
        rc = qk_buf_printf(b, "\"__qk_lo%zu\" < (%s)", k, v);
        break;
    case QK_DELTA_LE:
        rc = qk_buf_printf(b, "\"__qk_lo%zu\" <= (%s)", k, v);
        break;
    case QK_DELTA_EQ:
        rc = qk_buf_printf(b, "(\"__qk_lo%zu\" <= (%s) AND ", k, v) || add_hi(b, cat, k, ">=", v) ||
             qk_buf_addc(b, ')');
        break;
    case QK_DELTA_GE:
        rc = add_hi(b, cat, k, ">=", v);
        break;
    default:
        rc = add_hi(b, cat, k, ">", v);
        break;
    }
    return rc ? rc : qk_buf_adds(b, " END");
}

static int add_pred(skip_state *s, const qk_delta_pred *p);

static int add_kids(skip_state *s, const qk_delta_pred *p, const char *sep)
{
    int rc = qk_buf_addc(s->b, '(');
    for (size_t i = 0; !rc && i < p->nkids; i++)
        rc = (i ? qk_buf_adds(s->b, sep) : 0) || add_pred(s, p->kids[i]);
    return rc ? rc : qk_buf_addc(s->b, ')');
}

static int add_pred(skip_state *s, const qk_delta_pred *p)
{
    size_t k = p->kind == QK_DELTA_P_AND || p->kind == QK_DELTA_P_OR || p->kind == QK_DELTA_P_EXACT
                   ? 0
                   : (size_t)s->slot[p->column];
    int rc;
    switch (p->kind) {
    case QK_DELTA_P_AND:
        return add_kids(s, p, " AND ");
    case QK_DELTA_P_OR:
        return add_kids(s, p, " OR ");
    case QK_DELTA_P_EXACT: /* the same for every row of the file; NULL: no row passes */
        return qk_buf_printf(s->b, "coalesce((%s), false)", p->sql);
    case QK_DELTA_P_NULL:
        return qk_buf_printf(s->b, "(\"__qk_nn%zu\" > 0)", k);
    case QK_DELTA_P_NOT_NULL:
        return qk_buf_printf(s->b, "(\"__qk_nn%zu\" <> \"__qk_rows\")", k);
    default:
        break;
    }
    /* comparisons never match NULL: a file of NULLs only holds no match */
    rc =
        qk_buf_printf(s->b, "(coalesce(\"__qk_nn%zu\" <> \"__qk_rows\", true) AND CASE WHEN ", k) ||
        add_same_types(s->b, p) || qk_buf_adds(s->b, " THEN (");
    if (p->kind == QK_DELTA_P_CMP) {
        rc = rc || add_range(s, k, p->op, p->values[0]);
    } else if (p->kind == QK_DELTA_P_BETWEEN) {
        rc = rc || add_range(s, k, QK_DELTA_GE, p->values[0]) || qk_buf_adds(s->b, " AND ") ||
             add_range(s, k, QK_DELTA_LE, p->values[1]);
    } else { /* IN */
        for (size_t i = 0; !rc && i < p->nvalues; i++)
            rc = (i ? qk_buf_adds(s->b, " OR ") : 0) || add_range(s, k, QK_DELTA_EQ, p->values[i]);
    }
    return rc ? rc : qk_buf_adds(s->b, ") END)");
}

/* ---- running it ---------------------------------------------------------------------------- */

static int build_sql(skip_state *s, const char *alias, const qk_delta_pred *where)
{
    int rc = qk_buf_adds(s->b, "SELECT CAST(\"__qk_i\" AS BIGINT) FROM (");
    if (!rc) rc = add_projection(s);
    if (!rc) rc = add_values(s);
    if (!rc) rc = qk_buf_adds(s->b, ") AS ") || qk_delta_add_ident(s->b, alias);
    if (!rc) rc = qk_buf_adds(s->b, " WHERE coalesce(");
    if (!rc) rc = add_pred(s, where);
    return rc ? rc : qk_buf_adds(s->b, ", true)");
}

/* Run sql and set keep[i] for each index i it returns. */
static int run(duckdb_connection con, const char *sql, bool *keep, size_t n, qk_err *err)
{
    duckdb_result res;
    duckdb_data_chunk ch;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        int rc =
            qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        duckdb_destroy_result(&res);
        return rc;
    }
    while ((ch = duckdb_fetch_chunk(res)) != NULL) {
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        const int64_t *d = duckdb_vector_get_data(v);
        uint64_t *valid = duckdb_vector_get_validity(v);
        for (idx_t r = 0; r < duckdb_data_chunk_get_size(ch); r++)
            if ((!valid || duckdb_validity_row_is_valid(valid, r)) && d[r] >= 0 &&
                (uint64_t)d[r] < n)
                keep[d[r]] = true;
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    return 0;
}

/* Does a column name clash with the query's own names? Then nothing is skipped. */
static bool names_clash(const qk_delta_metadata *m)
{
    for (size_t c = 0; c < m->ncolumns; c++)
        if (!strncasecmp(m->columns[c].name, "__qk_", 5)) return true;
    return false;
}

int qk_delta_skip(duckdb_connection con, const qk_delta_snapshot *snap, const char *alias,
                  const qk_delta_pred *where, bool *keep, size_t *skipped, qk_err *err)
{
    const qk_delta_metadata *m = &snap->metadata;
    skip_state s = {snap, NULL, NULL, 0, NULL};
    qk_buf b;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < snap->nfiles; i++)
        keep[i] = false;
    qk_buf_init(&b, SKIP_SQL_MAX);
    s.b = &b;
    s.slot = malloc((m->ncolumns + 1) * sizeof *s.slot);
    s.cols = malloc((m->ncolumns + 1) * sizeof *s.cols);
    if (!s.slot || !s.cols) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t c = 0; c < m->ncolumns; c++)
        s.slot[c] = -1;
    if (!where || names_clash(m) || collect(&s, where, 0)) {
        rc = qk_errf(err, QK_EINVAL, "file skipping: a filter it cannot use");
        goto out;
    }
    if (snap->nfiles == 0) goto out;
    if ((rc = build_sql(&s, alias && *alias ? alias : "__qk_t", where))) {
        rc = qk_errf(err, rc, "file skipping: the query over %zu files is too long", snap->nfiles);
        goto out;
    }
    rc = run(con, qk_buf_cstr(&b), keep, snap->nfiles, err);
out:
    for (size_t i = 0; i < snap->nfiles; i++) {
        if (rc) keep[i] = true;
        n += !keep[i];
    }
    if (skipped) *skipped = n;
    free(s.slot);
    free(s.cols);
    qk_buf_free(&b);
    return rc;
}
