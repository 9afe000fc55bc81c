/* SPDX-License-Identifier: MIT */
/*
 * util.c: small helpers shared by the worker and the coordinator (dist_int.h): reading a
 * DESCRIBE and one integer cell out of a qk_result, quoting identifiers, and the rules for
 * column types and Parquet.
 *
 * Parquet round trip (DuckDB 1.4, checked by tests/unit/test_dist_coord.c): HUGEINT and
 * UHUGEINT come back as DOUBLE (lossy), TIMESTAMP_S/_MS as TIMESTAMP, ENUM, BIT and VARINT
 * (BIGNUM) as VARCHAR, UNION as a STRUCT, fixed-size ARRAY as a LIST. Everything else that
 * DuckDB writes (all other integers, DECIMAL, FLOAT/DOUBLE, DATE, TIME, TIMETZ, TIMESTAMP(TZ),
 * TIMESTAMP_NS, INTERVAL, UUID, BLOB, VARCHAR, JSON, BOOLEAN, LIST, STRUCT, MAP) comes back as
 * it went in.
 */
#include "dist/dist_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *cell_str(duckdb_vector v, idx_t row, size_t *len)
{
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + row;
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) {
        *len = 0;
        return "";
    }
    *len = duckdb_string_t_length(*s);
    return duckdb_string_t_data(s);
}

/* Append the rows of r's (name, type) columns 0 and 1 to the growing array. */
static int take_describe(qk_result *r, qk_arena *a, qk_dist_col **cols, size_t *n, qk_err *err)
{
    size_t cap = 0;
    duckdb_data_chunk ch;
    int rc = 0;
    while (!rc && (ch = qk_result_next_chunk(r)) != NULL) {
        duckdb_vector nv = duckdb_data_chunk_get_vector(ch, 0);
        duckdb_vector tv = duckdb_data_chunk_get_vector(ch, 1);
        for (idx_t i = 0; !rc && i < duckdb_data_chunk_get_size(ch); i++) {
            size_t nl, tl;
            const char *name = cell_str(nv, i, &nl), *type = cell_str(tv, i, &tl);
            if (*n == cap) {
                qk_dist_col *v = qk_arena_alloc(a, (cap = cap ? 2 * cap : 16) * sizeof *v);
                if (!v) {
                    rc = qk_errf(err, QK_ENOMEM, "out of memory reading columns");
                    break;
                }
                if (*n) memcpy(v, *cols, *n * sizeof *v);
                *cols = v;
            }
            (*cols)[*n].name = qk_arena_strndup(a, name, nl);
            (*cols)[*n].type = qk_arena_strndup(a, type, tl);
            (*cols)[*n].as_varchar = false;
            if (!(*cols)[*n].name || !(*cols)[*n].type)
                rc = qk_errf(err, QK_ENOMEM, "out of memory reading columns");
            (*n)++;
        }
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

int qk_dist_describe(qk_engine *e, const char *select_sql, const qk_query_opts *o, qk_arena *a,
                     qk_dist_col **cols, size_t *n, qk_err *err)
{
    qk_query_opts qo = o ? *o : (qk_query_opts){-1, 0, NULL, NULL, false};
    qk_result *r = NULL;
    qk_buf sql;
    int rc;
    *cols = NULL;
    *n = 0;
    qo.limit = -1;
    qk_buf_init(&sql, strlen(select_sql) + 64);
    if ((rc = qk_buf_printf(&sql, "DESCRIBE %s", select_sql)))
        return qk_errf(err, rc, "query too long to describe");
    rc = qk_engine_query(e, qk_buf_cstr(&sql), &qo, &r, err);
    qk_buf_free(&sql);
    if (rc) return rc;
    if (qk_result_column_count(r) < 2)
        rc = qk_errf(err, QK_EINTERNAL, "DESCRIBE gave %llu columns",
                     (unsigned long long)qk_result_column_count(r));
    else
        rc = take_describe(r, a, cols, n, err);
    qk_result_destroy(r);
    return rc;
}

int qk_dist_add_ident(qk_buf *b, const char *name)
{
    int rc = qk_buf_addc(b, '"');
    for (const char *p = name; !rc && *p; p++)
        rc = *p == '"' ? qk_buf_add(b, "\"\"", 2) : qk_buf_addc(b, *p);
    return rc ? rc : qk_buf_addc(b, '"');
}

/* ---- types and Parquet ----------------------------------------------------------------------- */

/* Does type hold word (case-insensitive) as a whole identifier, outside quotes? */
static bool has_type_word(const char *type, const char *word)
{
    size_t n = strlen(word);
    char q = 0;
    for (const char *p = type; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            q = *p;
            continue;
        }
        if ((p == type || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
            strncasecmp(p, word, n) == 0 && !(isalnum((unsigned char)p[n]) || p[n] == '_'))
            return true;
    }
    return false;
}

/* A fixed-size array: "[" digits "]" outside quotes. */
static bool has_fixed_array(const char *type)
{
    char q = 0;
    for (const char *p = type; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
        } else if (*p == '[' && isdigit((unsigned char)p[1])) {
            return true;
        }
    }
    return false;
}

/* INTERVAL: Parquet keeps milliseconds and no negative intervals */
static const char *const widening[] = {"HUGEINT", "UHUGEINT", "TIMESTAMP_S", "TIMESTAMP_MS",
                                       "ENUM",    "BIT",      "BITSTRING",   "VARINT",
                                       "BIGNUM",  "UNION",    "INTERVAL",    NULL};

bool qk_dist_type_widens(const char *type)
{
    for (const char *const *w = widening; *w; w++)
        if (has_type_word(type, *w)) return true;
    return has_fixed_array(type);
}

/* Scalar types whose text form DuckDB casts back to the same value. */
static const char *const castable_bases[] = {"HUGEINT",
                                             "UHUGEINT",
                                             "TIMESTAMP_S",
                                             "TIMESTAMP_MS",
                                             "TIMESTAMP_NS",
                                             "TIMESTAMP",
                                             "TIMESTAMP WITH TIME ZONE",
                                             "DATE",
                                             "TIME",
                                             "BIT",
                                             "VARINT",
                                             "BIGNUM",
                                             "BOOLEAN",
                                             "TINYINT",
                                             "SMALLINT",
                                             "INTEGER",
                                             "BIGINT",
                                             "UTINYINT",
                                             "USMALLINT",
                                             "UINTEGER",
                                             "UBIGINT",
                                             "FLOAT",
                                             "DOUBLE",
                                             "UUID",
                                             "INTERVAL",
                                             NULL};

/* After a base: "(p,s)" for DECIMAL only, then any number of "[]" / "[N]". */
static bool castable_suffix(const char *p, bool decimal)
{
    if (decimal) {
        if (*p++ != '(' || !isdigit((unsigned char)*p)) return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p++ != ',') return false;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p++ != ')') return false;
    }
    while (*p == '[') {
        p++;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p++ != ']') return false;
    }
    return *p == '\0';
}

bool qk_dist_type_castable(const char *type)
{
    if (strncmp(type, "DECIMAL(", 8) == 0) return castable_suffix(type + 7, true);
    for (const char *const *b = castable_bases; *b; b++) {
        size_t n = strlen(*b);
        if (strncmp(type, *b, n) == 0 && (type[n] == '\0' || type[n] == '[') &&
            castable_suffix(type + n, false))
            return true;
    }
    return false;
}

bool qk_dist_type_equal(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}
