/* SPDX-License-Identifier: MIT */
/*
 * encode_value.c: one DuckDB value as text, for every type.
 *
 * A plan (qk_enc_col tree) is built once per result column from its logical type: DECIMAL
 * storage and scale, ENUM dictionary, STRUCT keys pre-escaped as JSON, child plans of
 * LIST/ARRAY/MAP/STRUCT/UNION. Per chunk, qk_enc_col_bind points the tree at the vectors
 * (a LIST's or MAP's entries are {offset, length} into one child vector; an ARRAY's child
 * holds array_size values per row; a UNION is a STRUCT whose child 0 is the member tag).
 * qk_enc_value then formats with the primitives of encode_num.c and encode_time.c into a
 * stack buffer and appends it: no allocation per value.
 * Nested values are always JSON, in every mode; see encode_int.h for the three modes.
 */
#include "engine/encode_int.h"

#include <math.h>
#include <stdlib.h>

/* Bytes of a VARCHAR/BLOB/BIT the table needs at most: 40 columns of 4-byte characters. */
#define TABLE_TEXT_MAX 1024

static void *zalloc(qk_arena *a, size_t n)
{
    void *p = qk_arena_alloc(a, n ? n : 1);
    if (p) memset(p, 0, n ? n : 1);
    return p;
}

/* Copy text (a DuckDB-owned string, freed here) into the arena as a JSON key "s": . */
static int arena_key(qk_arena *a, char *s, char **out, size_t *len)
{
    qk_buf k;
    int rc;
    qk_buf_init(&k, (size_t)1 << 24);
    rc = qk_buf_add_json_str(&k, s ? s : "", s ? strlen(s) : 0);
    if (!rc) rc = qk_buf_addc(&k, ':');
    duckdb_free(s);
    if (!rc && !(*out = qk_arena_strndup(a, k.data, k.len))) rc = QK_ENOMEM;
    *len = k.len;
    qk_buf_free(&k);
    return rc;
}

static int plan_enum(qk_arena *a, qk_enc_col *c, duckdb_logical_type t)
{
    c->phys = duckdb_enum_internal_type(t);
    c->ndict = duckdb_enum_dictionary_size(t);
    c->dict = zalloc(a, c->ndict * sizeof *c->dict);
    c->dict_len = zalloc(a, c->ndict * sizeof *c->dict_len);
    if (!c->dict || !c->dict_len) return QK_ENOMEM;
    for (idx_t i = 0; i < c->ndict; i++) {
        char *v = duckdb_enum_dictionary_value(t, i);
        c->dict_len[i] = v ? strlen(v) : 0;
        c->dict[i] = qk_arena_strndup(a, v ? v : "", c->dict_len[i]);
        duckdb_free(v);
        if (!c->dict[i]) return QK_ENOMEM;
    }
    return 0;
}

static int plan_children(qk_arena *a, qk_enc_col *c, idx_t n)
{
    c->nchild = n;
    c->child = zalloc(a, n * sizeof *c->child);
    c->keys = zalloc(a, n * sizeof *c->keys);
    c->key_len = zalloc(a, n * sizeof *c->key_len);
    return c->child && c->keys && c->key_len ? 0 : QK_ENOMEM;
}

static int plan_into(qk_arena *a, qk_enc_col *c, duckdb_logical_type t, int depth, qk_err *err);

/* Build child i of c from type ct (destroyed here) and, if name is given, its JSON key. */
static int plan_child(qk_arena *a, qk_enc_col *c, idx_t i, duckdb_logical_type ct, char *name,
                      int depth, qk_err *err)
{
    int rc = plan_into(a, &c->child[i], ct, depth + 1, err);
    duckdb_destroy_logical_type(&ct);
    if (!rc && name)
        rc = arena_key(a, name, &c->keys[i], &c->key_len[i]);
    else
        duckdb_free(name);
    if (rc == QK_ENOMEM) qk_errf(err, rc, "out of memory planning the encoder");
    return rc;
}

static int plan_nested(qk_arena *a, qk_enc_col *c, duckdb_logical_type t, int depth, qk_err *err)
{
    int rc = 0;
    idx_t n;
    duckdb_logical_type k;
    switch (c->id) {
    case DUCKDB_TYPE_LIST:
        if (plan_children(a, c, 1)) break;
        return plan_child(a, c, 0, duckdb_list_type_child_type(t), NULL, depth, err);
    case DUCKDB_TYPE_ARRAY:
        c->array_size = duckdb_array_type_array_size(t);
        if (plan_children(a, c, 1)) break;
        return plan_child(a, c, 0, duckdb_array_type_child_type(t), NULL, depth, err);
    case DUCKDB_TYPE_MAP:
        if (plan_children(a, c, 2)) break;
        k = duckdb_map_type_key_type(t);
        c->map_object = duckdb_get_type_id(k) == DUCKDB_TYPE_VARCHAR;
        rc = plan_child(a, c, 0, k, NULL, depth, err);
        return rc ? rc : plan_child(a, c, 1, duckdb_map_type_value_type(t), NULL, depth, err);
    case DUCKDB_TYPE_STRUCT:
        n = duckdb_struct_type_child_count(t);
        if (plan_children(a, c, n)) break;
        for (idx_t i = 0; i < n && !rc; i++)
            rc = plan_child(a, c, i, duckdb_struct_type_child_type(t, i),
                            duckdb_struct_type_child_name(t, i), depth, err);
        return rc;
    case DUCKDB_TYPE_UNION: /* child 0: the tag; member i is child i + 1 */
        n = duckdb_union_type_member_count(t);
        if (plan_children(a, c, n + 1)) break;
        rc =
            plan_child(a, c, 0, duckdb_create_logical_type(DUCKDB_TYPE_UTINYINT), NULL, depth, err);
        for (idx_t i = 0; i < n && !rc; i++)
            rc = plan_child(a, c, i + 1, duckdb_union_type_member_type(t, i),
                            duckdb_union_type_member_name(t, i), depth, err);
        return rc;
    case DUCKDB_TYPE_INVALID: /* e.g. TIME_NS, which DuckDB 1.4's C API does not describe */
        return qk_errf(
            err, QK_EUNSUPPORTED,
            "this column's type is not available through DuckDB's C API; cast it (e.g. ::VARCHAR)");
    default:
        return qk_errf(err, QK_EUNSUPPORTED, "cannot encode values of DuckDB type id %d",
                       (int)c->id);
    }
    return qk_errf(err, QK_ENOMEM, "out of memory planning the encoder");
}

static int plan_into(qk_arena *a, qk_enc_col *c, duckdb_logical_type t, int depth, qk_err *err)
{
    if (depth > QK_ENC_MAX_DEPTH)
        return qk_errf(err, QK_EUNSUPPORTED, "type nesting deeper than %d levels",
                       QK_ENC_MAX_DEPTH);
    c->id = duckdb_get_type_id(t);
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT:
    case DUCKDB_TYPE_BIGNUM:
    case DUCKDB_TYPE_SQLNULL:
        return 0;
    case DUCKDB_TYPE_DECIMAL:
        c->phys = duckdb_decimal_internal_type(t);
        c->scale = duckdb_decimal_scale(t);
        return 0;
    case DUCKDB_TYPE_ENUM:
        return plan_enum(a, c, t) ? qk_errf(err, QK_ENOMEM, "out of memory planning the encoder")
                                  : 0;
    default:
        return plan_nested(a, c, t, depth, err);
    }
}

int qk_enc_plan_build(qk_arena *a, duckdb_logical_type t, int depth, qk_enc_col **out, qk_err *err)
{
    qk_enc_col *c = zalloc(a, sizeof *c);
    if (!c) return qk_errf(err, QK_ENOMEM, "out of memory planning the encoder");
    *out = c;
    return plan_into(a, c, t, depth, err);
}

void qk_enc_col_bind(qk_enc_col *c, duckdb_vector v)
{
    duckdb_vector s;
    c->data = duckdb_vector_get_data(v);
    c->validity = duckdb_vector_get_validity(v);
    switch (c->id) {
    case DUCKDB_TYPE_LIST:
        qk_enc_col_bind(&c->child[0], duckdb_list_vector_get_child(v));
        break;
    case DUCKDB_TYPE_ARRAY:
        qk_enc_col_bind(&c->child[0], duckdb_array_vector_get_child(v));
        break;
    case DUCKDB_TYPE_MAP:
        s = duckdb_list_vector_get_child(v);
        qk_enc_col_bind(&c->child[0], duckdb_struct_vector_get_child(s, 0));
        qk_enc_col_bind(&c->child[1], duckdb_struct_vector_get_child(s, 1));
        break;
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION:
        for (idx_t i = 0; i < c->nchild; i++)
            qk_enc_col_bind(&c->child[i], duckdb_struct_vector_get_child(v, i));
        break;
    default:
        break;
    }
}

/* ---- text helpers ------------------------------------------------------------------------ */

int qk_enc_base64(qk_buf *b, const uint8_t *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out = (n + 2) / 3 * 4, i, o;
    char *p;
    int rc;
    if (n > (SIZE_MAX - 4) / 4 * 3) return QK_ETOOBIG;
    if ((rc = qk_buf_reserve(b, out))) return rc;
    p = b->data + b->len;
    for (i = 0, o = 0; i + 2 < n; i += 3, o += 4) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        p[o] = tab[v >> 18];
        p[o + 1] = tab[(v >> 12) & 63];
        p[o + 2] = tab[(v >> 6) & 63];
        p[o + 3] = tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        p[o] = tab[v >> 18];
        p[o + 1] = tab[(v >> 12) & 63];
        p[o + 2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        p[o + 3] = '=';
    }
    b->len += out;
    b->data[b->len] = '\0';
    return 0;
}

int qk_enc_blob_text(qk_buf *b, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    char tmp[256];
    size_t o = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t c = s[i];
        if (c >= 32 && c <= 126 && c != '\\' && c != '\'' && c != '"') {
            tmp[o++] = (char)c;
        } else {
            tmp[o] = '\\';
            tmp[o + 1] = 'x';
            tmp[o + 2] = hex[c >> 4];
            tmp[o + 3] = hex[c & 15];
            o += 4;
        }
        if (o > sizeof tmp - 4) {
            rc = qk_enc_put(b, tmp, o);
            o = 0;
        }
    }
    return rc ? rc : qk_enc_put(b, tmp, o);
}

/* Raw text with invalid UTF-8 bytes replaced by U+FFFD. */
static int put_utf8(qk_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start, l;
    int rc = 0;
    while (i < n && !rc) {
        start = i;
        while (i < n && p[i] < 0x80)
            i++;
        while (i < n && p[i] >= 0x80 && (l = qk_utf8_len(p + i, n - i)) != 0)
            i += l;
        if (i > start && (rc = qk_enc_put(b, s + start, i - start))) break;
        if (i < n && p[i] >= 0x80 && qk_utf8_len(p + i, n - i) == 0) {
            rc = qk_enc_put(b, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
    return rc;
}

/* ---- scalar values ----------------------------------------------------------------------- */

static size_t fmt_uuid(char *p, const duckdb_hugeint *h)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t hi = (uint64_t)h->upper ^ (UINT64_C(1) << 63), lo = h->lower;
    size_t o = 0;
    for (int i = 0; i < 32; i++) {
        uint64_t w = i < 16 ? hi : lo;
        int shift = 60 - 4 * (i % 16);
        if (i == 8 || i == 12 || i == 16 || i == 20) p[o++] = '-';
        p[o++] = hex[(w >> shift) & 15];
    }
    return o;
}

/* The unscaled value of a DECIMAL as a signed 128-bit (hi, lo). */
static void decimal_raw(const qk_enc_col *c, idx_t row, int64_t *hi, uint64_t *lo)
{
    int64_t v;
    switch (c->phys) {
    case DUCKDB_TYPE_SMALLINT:
        v = ((const int16_t *)c->data)[row];
        break;
    case DUCKDB_TYPE_INTEGER:
        v = ((const int32_t *)c->data)[row];
        break;
    case DUCKDB_TYPE_BIGINT:
        v = ((const int64_t *)c->data)[row];
        break;
    default:
        *hi = ((const duckdb_hugeint *)c->data)[row].upper;
        *lo = ((const duckdb_hugeint *)c->data)[row].lower;
        return;
    }
    *hi = v < 0 ? -1 : 0;
    *lo = (uint64_t)v;
}

/* A double or float; JSON has no NaN or infinities, so those become strings there. */
static size_t fmt_double(char *p, double v, bool is_float, qk_enc_mode m)
{
    if (m == QK_ENC_JSON && !isfinite(v)) {
        const char *s = isnan(v) ? "\"NaN\"" : v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        size_t n = strlen(s);
        memcpy(p, s, n);
        return n;
    }
    return is_float ? qk_fmt_float(p, (float)v) : qk_fmt_double(p, v);
}

static int put_enum(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    uint64_t i;
    switch (c->phys) {
    case DUCKDB_TYPE_UTINYINT:
        i = ((const uint8_t *)c->data)[row];
        break;
    case DUCKDB_TYPE_USMALLINT:
        i = ((const uint16_t *)c->data)[row];
        break;
    default:
        i = ((const uint32_t *)c->data)[row];
        break;
    }
    if (i >= c->ndict) return m == QK_ENC_JSON ? qk_enc_put(b, "null", 4) : 0;
    if (m == QK_ENC_JSON) return qk_buf_add_json_str(b, c->dict[i], c->dict_len[i]);
    return put_utf8(b, c->dict[i], c->dict_len[i]);
}

/* BIT: byte 0 is the number of padding bits at the start of byte 1; then the bits. */
static int put_bits(qk_buf *b, const uint8_t *s, uint32_t n, qk_enc_mode m)
{
    char tmp[256];
    size_t o = 0, nbits = n > 1 ? (size_t)(n - 1) * 8 : 0;
    int rc = m == QK_ENC_JSON ? qk_enc_put(b, "\"", 1) : 0;
    for (size_t i = n > 0 ? s[0] : 0; i < nbits && !rc; i++) {
        tmp[o++] = (char)('0' + ((s[1 + i / 8] >> (7 - i % 8)) & 1));
        if (o == sizeof tmp) {
            rc = qk_enc_put(b, tmp, o);
            o = 0;
        }
    }
    if (!rc) rc = qk_enc_put(b, tmp, o);
    return rc ? rc : m == QK_ENC_JSON ? qk_enc_put(b, "\"", 1) : 0;
}

static int put_string_like(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    uint32_t n;
    const char *s = qk_enc_str((const duckdb_string_t *)c->data + row, &n);
    int rc;
    if (m == QK_ENC_TABLE && c->id != DUCKDB_TYPE_BIGNUM && n > TABLE_TEXT_MAX)
        n = TABLE_TEXT_MAX; /* a table cell shows 40 columns at most */
    switch (c->id) {
    case DUCKDB_TYPE_VARCHAR:
        return m == QK_ENC_JSON ? qk_buf_add_json_str(b, s, n) : put_utf8(b, s, n);
    case DUCKDB_TYPE_BLOB:
        if (m == QK_ENC_TABLE) return qk_enc_blob_text(b, (const uint8_t *)s, n);
        if (m == QK_ENC_JSON && (rc = qk_enc_put(b, "\"", 1))) return rc;
        if ((rc = qk_enc_base64(b, (const uint8_t *)s, n))) return rc;
        return m == QK_ENC_JSON ? qk_enc_put(b, "\"", 1) : 0;
    case DUCKDB_TYPE_BIT:
        return put_bits(b, (const uint8_t *)s, n, m);
    default: /* BIGNUM */
        return qk_fmt_bignum(b, (const uint8_t *)s, n);
    }
}

/* Temporal types, intervals and UUIDs: fixed-size text. Returns the length written to p. */
static size_t fmt_temporal(char *p, const qk_enc_col *c, idx_t row, bool iso)
{
    const void *d = c->data;
    const duckdb_interval *iv;
    switch (c->id) {
    case DUCKDB_TYPE_DATE:
        return qk_fmt_date(p, ((const int32_t *)d)[row], iso);
    case DUCKDB_TYPE_TIME:
        return qk_fmt_time(p, ((const int64_t *)d)[row]);
    case DUCKDB_TYPE_TIME_NS:
        return qk_fmt_time_ns(p, ((const int64_t *)d)[row]);
    case DUCKDB_TYPE_TIME_TZ:
        return qk_fmt_time_tz(p, ((const uint64_t *)d)[row], iso);
    case DUCKDB_TYPE_TIMESTAMP:
        return qk_fmt_timestamp(p, ((const int64_t *)d)[row], 1000000, false, iso);
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return qk_fmt_timestamp(p, ((const int64_t *)d)[row], 1000000, true, iso);
    case DUCKDB_TYPE_TIMESTAMP_S:
        return qk_fmt_timestamp(p, ((const int64_t *)d)[row], 1, false, iso);
    case DUCKDB_TYPE_TIMESTAMP_MS:
        return qk_fmt_timestamp(p, ((const int64_t *)d)[row], 1000, false, iso);
    case DUCKDB_TYPE_TIMESTAMP_NS:
        return qk_fmt_timestamp(p, ((const int64_t *)d)[row], 1000000000, false, iso);
    case DUCKDB_TYPE_INTERVAL:
        iv = (const duckdb_interval *)d + row;
        return qk_fmt_interval(p, iv->months, iv->days, iv->micros, iso);
    default: /* UUID */
        return fmt_uuid(p, (const duckdb_hugeint *)d + row);
    }
}

/* Integers and DECIMAL. Returns the length written to p. */
static size_t fmt_number(char *p, const qk_enc_col *c, idx_t row)
{
    const void *d = c->data;
    int64_t hi;
    uint64_t lo;
    switch (c->id) {
    case DUCKDB_TYPE_TINYINT:
        return qk_fmt_i64(p, ((const int8_t *)d)[row]);
    case DUCKDB_TYPE_SMALLINT:
        return qk_fmt_i64(p, ((const int16_t *)d)[row]);
    case DUCKDB_TYPE_INTEGER:
        return qk_fmt_i64(p, ((const int32_t *)d)[row]);
    case DUCKDB_TYPE_BIGINT:
        return qk_fmt_i64(p, ((const int64_t *)d)[row]);
    case DUCKDB_TYPE_UTINYINT:
        return qk_fmt_u64(p, ((const uint8_t *)d)[row]);
    case DUCKDB_TYPE_USMALLINT:
        return qk_fmt_u64(p, ((const uint16_t *)d)[row]);
    case DUCKDB_TYPE_UINTEGER:
        return qk_fmt_u64(p, ((const uint32_t *)d)[row]);
    case DUCKDB_TYPE_UBIGINT:
        return qk_fmt_u64(p, ((const uint64_t *)d)[row]);
    case DUCKDB_TYPE_HUGEINT:
        return qk_fmt_i128(p, ((const duckdb_hugeint *)d)[row].upper,
                           ((const duckdb_hugeint *)d)[row].lower);
    case DUCKDB_TYPE_UHUGEINT:
        return qk_fmt_u128(p, ((const duckdb_uhugeint *)d)[row].upper,
                           ((const duckdb_uhugeint *)d)[row].lower);
    default: /* DECIMAL */
        decimal_raw(c, row, &hi, &lo);
        return qk_fmt_decimal(p, hi, lo, c->scale);
    }
}

/* ---- nested values (always JSON) ---------------------------------------------------------- */

static int put_list(qk_buf *b, const qk_enc_col *c, idx_t row)
{
    const duckdb_list_entry *e = (const duckdb_list_entry *)c->data + row;
    idx_t off = c->id == DUCKDB_TYPE_ARRAY ? row * c->array_size : e->offset;
    idx_t len = c->id == DUCKDB_TYPE_ARRAY ? c->array_size : e->length;
    int rc = qk_enc_put(b, "[", 1);
    for (idx_t i = 0; i < len && !rc; i++) {
        if (i && (rc = qk_enc_put(b, ",", 1))) break;
        rc = qk_enc_value(b, &c->child[0], off + i, QK_ENC_JSON);
    }
    return rc ? rc : qk_enc_put(b, "]", 1);
}

static int put_struct(qk_buf *b, const qk_enc_col *c, idx_t row)
{
    int rc = qk_enc_put(b, "{", 1);
    for (idx_t i = 0; i < c->nchild && !rc; i++) {
        if (i && (rc = qk_enc_put(b, ",", 1))) break;
        if (!(rc = qk_enc_put(b, c->keys[i], c->key_len[i])))
            rc = qk_enc_value(b, &c->child[i], row, QK_ENC_JSON);
    }
    return rc ? rc : qk_enc_put(b, "}", 1);
}

/* MAP: {"k":v,...} when keys are VARCHAR, else [{"key":k,"value":v},...]. */
static int put_map(qk_buf *b, const qk_enc_col *c, idx_t row)
{
    const duckdb_list_entry *e = (const duckdb_list_entry *)c->data + row;
    bool obj = c->map_object;
    int rc = qk_enc_put(b, obj ? "{" : "[", 1);
    for (idx_t i = e->offset; i < e->offset + e->length && !rc; i++) {
        if (i > e->offset && (rc = qk_enc_put(b, ",", 1))) break;
        if (!obj && (rc = qk_enc_put(b, "{\"key\":", 7))) break;
        if ((rc = qk_enc_value(b, &c->child[0], i, QK_ENC_JSON))) break;
        if ((rc = qk_enc_put(b, obj ? ":" : ",\"value\":", obj ? 1 : 9))) break;
        if ((rc = qk_enc_value(b, &c->child[1], i, QK_ENC_JSON))) break;
        if (!obj) rc = qk_enc_put(b, "}", 1);
    }
    return rc ? rc : qk_enc_put(b, obj ? "}" : "]", 1);
}

static int put_nested(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    uint8_t tag;
    switch (c->id) {
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
        return put_list(b, c, row);
    case DUCKDB_TYPE_STRUCT:
        return put_struct(b, c, row);
    case DUCKDB_TYPE_MAP:
        return put_map(b, c, row);
    case DUCKDB_TYPE_UNION: /* the active member's value, in the caller's mode */
        tag = ((const uint8_t *)c->child[0].data)[row];
        if ((idx_t)tag + 1 >= c->nchild) return m == QK_ENC_JSON ? qk_enc_put(b, "null", 4) : 0;
        return qk_enc_value(b, &c->child[tag + 1], row, m);
    default:
        return m == QK_ENC_JSON ? qk_enc_put(b, "null", 4) : 0;
    }
}

/* Fixed-size values (at most QK_ENC_SCALAR_MAX bytes) into p; quoted where JSON needs it. */
static size_t fmt_scalar(char *p, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    size_t n;
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN:
        if (((const bool *)c->data)[row]) return memcpy(p, "true", 4), 4;
        return memcpy(p, "false", 5), 5;
    case DUCKDB_TYPE_DOUBLE:
        return fmt_double(p, ((const double *)c->data)[row], false, m);
    case DUCKDB_TYPE_FLOAT:
        return fmt_double(p, ((const float *)c->data)[row], true, m);
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
        if (m != QK_ENC_JSON) return fmt_temporal(p, c, row, false);
        p[0] = '"';
        n = fmt_temporal(p + 1, c, row, true);
        p[n + 1] = '"';
        return n + 2;
    default: /* integers and DECIMAL */
        return fmt_number(p, c, row);
    }
}

/* Format in place when the buffer has room (no copy), else through a stack buffer. */
static int put_scalar(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    char tmp[QK_ENC_SCALAR_MAX];
    size_t n;
    if (QK_ENC_SCALAR_MAX < b->cap - b->len) {
        n = fmt_scalar(b->data + b->len, c, row, m);
        if (b->len + n > b->max) return QK_ETOOBIG;
        b->len += n;
        return 0;
    }
    return qk_buf_add(b, tmp, fmt_scalar(tmp, c, row, m));
}

int qk_enc_value(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m)
{
    if (!qk_enc_valid(c, row)) return m == QK_ENC_JSON ? qk_enc_put(b, "null", 4) : 0;
    switch (c->id) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_DECIMAL:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
        return put_scalar(b, c, row, m);
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT:
    case DUCKDB_TYPE_BIGNUM:
        return put_string_like(b, c, row, m);
    case DUCKDB_TYPE_ENUM:
        return put_enum(b, c, row, m);
    case DUCKDB_TYPE_SQLNULL:
        return m == QK_ENC_JSON ? qk_enc_put(b, "null", 4) : 0;
    default:
        return put_nested(b, c, row, m);
    }
}
