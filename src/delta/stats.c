/* SPDX-License-Identifier: MIT */
/*
 * stats.c: what the Delta writer says about values (docs/internals/delta.md, "Writer").
 *
 * - Types: a DuckDB column type becomes a Spark schema type (PROTOCOL.md "Schema Serialization
 *   Format"); the type the data file holds is then the reader's DuckDB type for that Spark type
 *   (qk_delta_type_of), so what is written reads back the same. Unsigned integers widen
 *   (UTINYINT short, USMALLINT integer, UINTEGER long, UBIGINT decimal(20,0)), HUGEINT and
 *   UHUGEINT become decimal(38,0) (values past 38 digits fail the cast), ENUM and UUID string,
 *   every TIMESTAMP flavour "timestamp" (a plain TIMESTAMP is taken as UTC), fixed-size ARRAY
 *   array. TIME, INTERVAL, BIT, UNION, BIGNUM and NULL-typed columns are refused.
 * - Per-file stats (PROTOCOL.md "Per-file Statistics"), computed by DuckDB in one query over
 *   the written Parquet file: {"numRecords":n,"minValues":{..},"maxValues":{..},"nullCount":{..}}
 *   for top-level columns of primitive types. Numbers are JSON numbers (DECIMAL as DuckDB's exact
 *   text, FLOAT as the exact double), strings cut to a 32-character min (the max is omitted when
 *   longer), dates "YYYY-MM-DD", timestamps "YYYY-MM-DDTHH:MM:SS.mmmZ" floored to the ms (min and
 *   max: readers widen the max by 1 ms). NaN and infinities, booleans and binary have no bounds;
 *   every primitive, array and map column has a nullCount (structs have no stats: theirs would
 *   be an object of their fields' counts).
 * - Partition values (PROTOCOL.md "Partition Value Serialization") and the two escapings of a
 *   data file's name: Hive's for the directory (<col>=<value>) and RFC 2396 for add.path.
 */
#include "delta/delta_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATS_SQL_MAX (16u << 20)
#define STRING_PREFIX 32

/* ---- rows of text ------------------------------------------------------------------------ */

static int add_cell(qk_delta_rows *r, duckdb_vector v, idx_t row, size_t at, qk_err *err)
{
    uint64_t *valid = duckdb_vector_get_validity(v);
    duckdb_string_t *s;
    uint32_t len;
    r->cells[at] = NULL;
    r->lens[at] = 0;
    if (valid && !duckdb_validity_row_is_valid(valid, row)) return 0;
    s = (duckdb_string_t *)duckdb_vector_get_data(v) + row;
    len = duckdb_string_t_length(*s);
    if (!(r->cells[at] = qk_arena_strndup(&r->arena, duckdb_string_t_data(s), len)))
        return qk_errf(err, QK_ENOMEM, "out of memory (query result)");
    r->lens[at] = len;
    return 0;
}

static int grow_rows(qk_delta_rows *r, size_t need, qk_err *err)
{
    size_t cap = r->cap ? r->cap : 64;
    char **c;
    size_t *l;
    if (need <= r->cap) return 0;
    while (cap < need)
        cap *= 2;
    c = realloc(r->cells, cap * r->ncols * sizeof *c);
    if (c) r->cells = c;
    l = c ? realloc(r->lens, cap * r->ncols * sizeof *l) : NULL;
    if (!c || !l) return qk_errf(err, QK_ENOMEM, "out of memory (query result)");
    r->lens = l;
    r->cap = cap;
    return 0;
}

static int read_chunks(duckdb_result *res, qk_delta_rows *r, size_t max_rows, qk_err *err)
{
    duckdb_data_chunk ch;
    int rc = 0;
    while (!rc && (ch = duckdb_fetch_chunk(*res)) != NULL) {
        idx_t n = duckdb_data_chunk_get_size(ch);
        if (r->nrows + n > max_rows)
            rc = qk_errf(err, QK_ETOOBIG, "more than %zu rows in a writer query", max_rows);
        if (!rc) rc = grow_rows(r, r->nrows + n, err);
        for (idx_t i = 0; !rc && i < n; i++, r->nrows++)
            for (size_t c = 0; !rc && c < r->ncols; c++)
                rc = add_cell(r, duckdb_data_chunk_get_vector(ch, c), i, r->nrows * r->ncols + c,
                              err);
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

int qk_delta_sql_rows(duckdb_connection con, const char *sql, size_t max_rows, qk_delta_rows *out,
                      qk_err *err)
{
    duckdb_result res;
    int rc = 0;
    memset(out, 0, sizeof *out);
    qk_arena_init(&out->arena, 0);
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        goto out;
    }
    out->ncols = duckdb_column_count(&res);
    for (size_t c = 0; c < out->ncols; c++)
        if (duckdb_column_type(&res, c) != DUCKDB_TYPE_VARCHAR) {
            rc = qk_errf(err, QK_EINTERNAL, "writer query column %zu is not VARCHAR", c);
            goto out;
        }
    rc = read_chunks(&res, out, max_rows, err);
out:
    duckdb_destroy_result(&res);
    if (rc) qk_delta_rows_free(out);
    return rc;
}

const char *qk_delta_cell(const qk_delta_rows *r, size_t row, size_t col)
{
    return r->cells[row * r->ncols + col];
}

void qk_delta_rows_free(qk_delta_rows *r)
{
    if (!r) return;
    free(r->cells);
    free(r->lens);
    qk_arena_free(&r->arena);
    memset(r, 0, sizeof *r);
}

/* ---- types ------------------------------------------------------------------------------- */

int qk_delta_kind_of(const char *t)
{
    static const struct {
        const char *type;
        int kind;
    } kinds[] = {
        {"BOOLEAN", QK_DELTA_K_BOOL},  {"TINYINT", QK_DELTA_K_INT},
        {"SMALLINT", QK_DELTA_K_INT},  {"INTEGER", QK_DELTA_K_INT},
        {"BIGINT", QK_DELTA_K_INT},    {"FLOAT", QK_DELTA_K_FLOAT},
        {"DOUBLE", QK_DELTA_K_DOUBLE}, {"VARCHAR", QK_DELTA_K_STRING},
        {"BLOB", QK_DELTA_K_BINARY},   {"DATE", QK_DELTA_K_DATE},
        {"TIMESTAMP", QK_DELTA_K_NTZ}, {"TIMESTAMP WITH TIME ZONE", QK_DELTA_K_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(t, kinds[i].type)) return kinds[i].kind;
    if (qk_str_startswith(t, "DECIMAL(")) return QK_DELTA_K_DECIMAL;
    return qk_str_startswith(t, "STRUCT(") ? QK_DELTA_K_STRUCT : QK_DELTA_K_NESTED;
}

static const char *type_name(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_TIME:
        return "TIME";
    case DUCKDB_TYPE_TIME_TZ:
        return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIME_NS:
        return "TIME_NS";
    case DUCKDB_TYPE_INTERVAL:
        return "INTERVAL";
    case DUCKDB_TYPE_BIT:
        return "BIT";
    case DUCKDB_TYPE_UNION:
        return "UNION";
    case DUCKDB_TYPE_BIGNUM:
        return "BIGNUM";
    case DUCKDB_TYPE_SQLNULL:
        return "NULL (no type)";
    default:
        return "this type";
    }
}

/* The Spark name of a primitive DuckDB type, NULL when it is not one. */
static const char *spark_primitive(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_BOOLEAN:
        return "boolean";
    case DUCKDB_TYPE_TINYINT:
        return "byte";
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_UTINYINT:
        return "short";
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_USMALLINT:
        return "integer";
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UINTEGER:
        return "long";
    case DUCKDB_TYPE_UBIGINT:
        return "decimal(20,0)";
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
        return "decimal(38,0)";
    case DUCKDB_TYPE_FLOAT:
        return "float";
    case DUCKDB_TYPE_DOUBLE:
        return "double";
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_UUID:
        return "string";
    case DUCKDB_TYPE_BLOB:
        return "binary";
    case DUCKDB_TYPE_DATE:
        return "date";
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return "timestamp";
    default:
        return NULL;
    }
}

bool qk_delta_naive_timestamp(duckdb_type id)
{
    return id == DUCKDB_TYPE_TIMESTAMP || id == DUCKDB_TYPE_TIMESTAMP_S ||
           id == DUCKDB_TYPE_TIMESTAMP_MS || id == DUCKDB_TYPE_TIMESTAMP_NS;
}

static json_t *spark_of(duckdb_logical_type t, const char *col, int depth, qk_err *err);

static json_t *field_json(const char *name, json_t *type)
{
    return json_pack("{s:s, s:o, s:b, s:{}}", "name", name, "type", type, "nullable", 1,
                     "metadata");
}

static json_t *struct_of(duckdb_logical_type t, const char *col, int depth, qk_err *err)
{
    idx_t n = duckdb_struct_type_child_count(t);
    json_t *fields = json_array(), *f;
    for (idx_t i = 0; fields && i < n; i++) {
        duckdb_logical_type ct = duckdb_struct_type_child_type(t, i);
        char *name = duckdb_struct_type_child_name(t, i);
        json_t *st = spark_of(ct, col, depth + 1, err);
        f = st ? field_json(name, st) : NULL;
        duckdb_free(name);
        duckdb_destroy_logical_type(&ct);
        if (!f || json_array_append_new(fields, f)) {
            if (st && !f) qk_errf(err, QK_ENOMEM, "out of memory");
            json_decref(fields);
            return NULL;
        }
    }
    if (!fields) qk_errf(err, QK_ENOMEM, "out of memory");
    return fields ? json_pack("{s:s, s:o}", "type", "struct", "fields", fields) : NULL;
}

static json_t *list_of(duckdb_logical_type t, bool array, const char *col, int depth, qk_err *err)
{
    duckdb_logical_type ct =
        array ? duckdb_array_type_child_type(t) : duckdb_list_type_child_type(t);
    json_t *el = spark_of(ct, col, depth + 1, err);
    duckdb_destroy_logical_type(&ct);
    if (!el) return NULL;
    return json_pack("{s:s, s:o, s:b}", "type", "array", "elementType", el, "containsNull", 1);
}

static json_t *map_of(duckdb_logical_type t, const char *col, int depth, qk_err *err)
{
    duckdb_logical_type kt = duckdb_map_type_key_type(t), vt = duckdb_map_type_value_type(t);
    json_t *k = spark_of(kt, col, depth + 1, err),
           *v = k ? spark_of(vt, col, depth + 1, err) : NULL;
    duckdb_destroy_logical_type(&kt);
    duckdb_destroy_logical_type(&vt);
    if (!v) {
        json_decref(k);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "type", "map", "keyType", k, "valueType", v,
                     "valueContainsNull", 1);
}

static json_t *spark_of(duckdb_logical_type t, const char *col, int depth, qk_err *err)
{
    duckdb_type id = duckdb_get_type_id(t);
    const char *prim = spark_primitive(id);
    char dec[32];
    if (depth > 64) {
        qk_errf(err, QK_EUNSUPPORTED, "column %s: types nested more than 64 deep", col);
        return NULL;
    }
    if (depth > 0 && qk_delta_naive_timestamp(id)) {
        qk_errf(err, QK_EUNSUPPORTED,
                "column %s: a TIMESTAMP inside a nested type would be converted in the session "
                "time zone; cast it to TIMESTAMPTZ",
                col);
        return NULL;
    }
    if (id == DUCKDB_TYPE_DECIMAL) {
        snprintf(dec, sizeof dec, "decimal(%d,%d)", (int)duckdb_decimal_width(t),
                 (int)duckdb_decimal_scale(t));
        prim = dec;
    }
    if (prim) return json_string(prim);
    if (id == DUCKDB_TYPE_STRUCT) return struct_of(t, col, depth, err);
    if (id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_ARRAY)
        return list_of(t, id == DUCKDB_TYPE_ARRAY, col, depth, err);
    if (id == DUCKDB_TYPE_MAP) return map_of(t, col, depth, err);
    qk_errf(err, QK_EUNSUPPORTED,
            "column %s has type %s, which a Delta table cannot hold; cast it in the query "
            "(e.g. to VARCHAR or BIGINT)",
            col, type_name(id));
    return NULL;
}

int qk_delta_spark_of(duckdb_logical_type t, const char *column, json_t **out, qk_err *err)
{
    if (err) qk_err_clear(err);
    *out = spark_of(t, column, 0, err);
    return *out ? 0 : (err && err->code ? err->code : QK_ENOMEM);
}

/* ---- time -------------------------------------------------------------------------------- */

/* us since 1970 as UTC text: ms_only "YYYY-MM-DDTHH:MM:SS.mmmZ" (floored to the ms), else
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ". -1 for years outside 1..9999. */
int qk_delta_ts_text(int64_t us, bool ms_only, char *out, size_t cap)
{
    int64_t sec = us / 1000000, frac = us % 1000000;
    struct tm tm;
    time_t t;
    if (frac < 0) frac += 1000000, sec--;
    t = (time_t)sec;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999) return -1;
    if (ms_only)
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(frac / 1000));
    else
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return 0;
}

bool qk_delta_date_ok(const char *s)
{
    static const char pat[] = "dddd-dd-dd";
    if (!s || strlen(s) != sizeof pat - 1) return false;
    for (size_t i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i]) return false;
    return true;
}

/* ---- stats ------------------------------------------------------------------------------- */

/* Does the column get min/max, or only a nullCount? */
static bool has_bounds(int kind)
{
    return kind != QK_DELTA_K_BOOL && kind != QK_DELTA_K_BINARY && kind < QK_DELTA_K_NESTED;
}

/* Any stats at all: not for partition columns, nor structs (whose nullCount would be an
 * object of their fields' counts). */
static bool in_stats(const qk_delta_wcol *c)
{
    return c->partition < 0 && c->kind != QK_DELTA_K_STRUCT;
}

/* The min or max expression of a column, as VARCHAR. */
static int add_bound(qk_buf *q, const qk_delta_wcol *c, const char *fn)
{
    int rc = 0;
    switch (c->kind) {
    case QK_DELTA_K_STRING:
        if (!strcmp(fn, "min"))
            rc = qk_buf_adds(q, ", substring(min(") || qk_delta_add_ident(q, c->name) ||
                 qk_buf_printf(q, "), 1, %d)", STRING_PREFIX);
        else
            rc = qk_buf_adds(q, ", CASE WHEN length(max(") || qk_delta_add_ident(q, c->name) ||
                 qk_buf_printf(q, ")) <= %d THEN max(", STRING_PREFIX) ||
                 qk_delta_add_ident(q, c->name) || qk_buf_adds(q, ") END");
        return rc;
    case QK_DELTA_K_TIMESTAMP:
    case QK_DELTA_K_NTZ:
        return qk_buf_printf(q, ", CAST(epoch_us(%s(", fn) || qk_delta_add_ident(q, c->name) ||
               qk_buf_adds(q, ")) AS VARCHAR)");
    case QK_DELTA_K_FLOAT:
        return qk_buf_printf(q, ", CAST(CAST(%s(", fn) || qk_delta_add_ident(q, c->name) ||
               qk_buf_adds(q, ") AS DOUBLE) AS VARCHAR)");
    default:
        return qk_buf_printf(q, ", CAST(%s(", fn) || qk_delta_add_ident(q, c->name) ||
               qk_buf_adds(q, ") AS VARCHAR)");
    }
}

static int stats_sql(const char *path, const qk_delta_wcol *cols, size_t n, qk_buf *q)
{
    int rc = qk_buf_adds(q, "SELECT CAST(count(*) AS VARCHAR)");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!in_stats(&cols[i])) continue;
        if (has_bounds(cols[i].kind))
            rc = add_bound(q, &cols[i], "min") || add_bound(q, &cols[i], "max");
        if (!rc)
            rc = qk_buf_adds(q, ", CAST(count(*) - count(") ||
                 qk_delta_add_ident(q, cols[i].name) || qk_buf_adds(q, ") AS VARCHAR)");
    }
    if (!rc) rc = qk_buf_adds(q, " FROM read_parquet(") || qk_sql_add_literal(q, path);
    return rc ? rc : qk_buf_adds(q, ")");
}

/* Is s a JSON number DuckDB printed (optional '-', digits, '.', exponent)? */
static bool json_number(const char *s)
{
    const char *p = s;
    if (*p == '-') p++;
    if (*p < '0' || *p > '9') return false;
    while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
           (*p == '-' && p > s && (p[-1] == 'e' || p[-1] == 'E')))
        p++;
    return !*p;
}

/* The JSON text of a bound (appended to b), or nothing when the bound is to be omitted. */
static int add_value(qk_buf *b, const qk_delta_wcol *c, const char *v, size_t len, bool *added)
{
    char ts[48];
    char *end;
    long long us;
    double d;
    *added = false;
    if (!v || strlen(v) != len) return 0; /* NULL, or a string holding NUL */
    switch (c->kind) {
    case QK_DELTA_K_STRING:
        *added = true;
        return qk_buf_add_json_str(b, v, len);
    case QK_DELTA_K_DATE:
        if (!qk_delta_date_ok(v)) return 0;
        *added = true;
        return qk_buf_add_json_str(b, v, len);
    case QK_DELTA_K_TIMESTAMP:
    case QK_DELTA_K_NTZ:
        errno = 0;
        us = strtoll(v, &end, 10);
        if (errno || *end || qk_delta_ts_text(us, true, ts, sizeof ts)) return 0;
        if (c->kind == QK_DELTA_K_NTZ) ts[strlen(ts) - 1] = '\0';
        *added = true;
        return qk_buf_add_json_str(b, ts, strlen(ts));
    case QK_DELTA_K_FLOAT:
    case QK_DELTA_K_DOUBLE:
        d = strtod(v, &end);
        if (*end || !isfinite(d) || !json_number(v)) return 0;
        *added = true;
        return qk_buf_adds(b, v);
    default:
        if (!json_number(v)) return 0;
        *added = true;
        return qk_buf_adds(b, v);
    }
}

/* One of minValues / maxValues: which = 0 or 1, the cell offset within a column's cells. */
static int add_bounds(qk_buf *b, const qk_delta_rows *r, const qk_delta_wcol *cols, size_t n,
                      int which)
{
    size_t cell = 1;
    bool first = true, added;
    int rc = qk_buf_adds(b, which ? ",\"maxValues\":{" : ",\"minValues\":{");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!in_stats(&cols[i])) continue;
        if (has_bounds(cols[i].kind)) {
            size_t at = cell + (size_t)which, mark = b->len;
            rc = (first ? 0 : qk_buf_addc(b, ',')) ||
                 qk_buf_add_json_str(b, cols[i].name, strlen(cols[i].name)) ||
                 qk_buf_addc(b, ':') || add_value(b, &cols[i], r->cells[at], r->lens[at], &added);
            if (!rc && !added) qk_buf_truncate(b, mark);
            first = first && !added;
            cell += 2;
        }
        cell++;
    }
    return rc ? rc : qk_buf_addc(b, '}');
}

static int add_null_counts(qk_buf *b, const qk_delta_rows *r, const qk_delta_wcol *cols, size_t n)
{
    size_t cell = 1;
    bool first = true;
    int rc = qk_buf_adds(b, ",\"nullCount\":{");
    for (size_t i = 0; !rc && i < n; i++) {
        const char *v;
        if (!in_stats(&cols[i])) continue;
        if (has_bounds(cols[i].kind)) cell += 2;
        v = r->cells[cell++];
        rc = (first ? 0 : qk_buf_addc(b, ',')) ||
             qk_buf_add_json_str(b, cols[i].name, strlen(cols[i].name)) || qk_buf_addc(b, ':') ||
             qk_buf_adds(b, v && json_number(v) ? v : "0");
        first = false;
    }
    return rc ? rc : qk_buf_addc(b, '}');
}

int qk_delta_file_stats(duckdb_connection con, const char *path, const qk_delta_wcol *cols,
                        size_t n, qk_buf *out, uint64_t *rows, qk_err *err)
{
    qk_buf q;
    qk_delta_rows r;
    int rc;
    int64_t nrec = 0;
    qk_buf_init(&q, STATS_SQL_MAX);
    if (stats_sql(path, cols, n, &q)) {
        qk_buf_free(&q);
        return qk_errf(err, QK_ETOOBIG, "the stats query is too long");
    }
    rc = qk_delta_sql_rows(con, qk_buf_cstr(&q), 1, &r, err);
    qk_buf_free(&q);
    if (rc) {
        qk_err_prefix(err, "stats of %s", path);
        return rc;
    }
    if (r.nrows != 1 || qk_parse_int64(r.cells[0], 0, INT64_MAX, &nrec, "numRecords", err)) {
        qk_delta_rows_free(&r);
        return qk_errf(err, QK_EINTERNAL, "stats of %s: no row count", path);
    }
    *rows = (uint64_t)nrec;
    rc = qk_buf_printf(out, "{\"numRecords\":%lld", (long long)nrec) ||
         add_bounds(out, &r, cols, n, 0) || add_bounds(out, &r, cols, n, 1) ||
         add_null_counts(out, &r, cols, n) || qk_buf_addc(out, '}');
    qk_delta_rows_free(&r);
    return rc ? qk_errf(err, QK_ETOOBIG, "stats of %s are too long", path) : 0;
}

/* ---- names ------------------------------------------------------------------------------- */

/* Characters Hive and Spark escape in a partition directory name (ExternalCatalogUtils). */
static bool hive_escaped(unsigned char c)
{
    return c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c) != NULL;
}

int qk_delta_hive_escape(qk_buf *b, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        rc = c && hive_escaped(c) ? qk_buf_printf(b, "%%%02X", c) : qk_buf_addc(b, (char)c);
    }
    return rc;
}

/* RFC 2396 unreserved and path characters are kept; everything else is %XX. */
static bool uri_kept(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-_.!~*'()/:@&=+$,;", c) != NULL);
}

int qk_delta_uri_encode(qk_buf *b, const char *path)
{
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)path; !rc && *p; p++)
        rc = uri_kept(*p) ? qk_buf_addc(b, (char)*p) : qk_buf_printf(b, "%%%02X", *p);
    return rc;
}
