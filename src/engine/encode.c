/* SPDX-License-Identifier: MIT */
/*
 * encode.c: the result encoders of encode.h: JSON records, NDJSON and CSV (the terminal table
 * is in encode_table.c; values are formatted by encode_value.c).
 *
 *   JSON    [{"a":1,"b":"x"},{"a":2,"b":null}]      keys in column order, duplicates kept
 *   NDJSON  {"a":1,"b":"x"}\n{"a":2,"b":null}\n       one record per line
 *   CSV     a,b\r\n1,x\r\n2,\r\n                         RFC 4180: CRLF, fields with , " CR LF
 *                                                     quoted ("" inside), NULL empty, '' as ""
 * The byte cap: every row is written whole or not at all. Before a row the length is noted;
 * if any append fails with QK_ETOOBIG (the cap, or the buffer's own maximum) the row is cut
 * off again, encoding stops and stats->truncated is set. For JSON the closing "]" is reserved
 * up front so the array is always closed. The cap is applied by lowering out->max for the
 * duration of the call (restored before returning).
 */
#include "engine/encode_int.h"

#include <stdlib.h>
#include <strings.h>

static const struct {
    const char *name, *mime;
} formats[] = {
    [QK_FMT_JSON] = {"json", "application/json"},
    [QK_FMT_NDJSON] = {"ndjson", "application/x-ndjson"},
    [QK_FMT_CSV] = {"csv", "text/csv; charset=utf-8"},
    [QK_FMT_TABLE] = {"table", "text/plain; charset=utf-8"},
};

#define NFORMATS (sizeof formats / sizeof formats[0])

int qk_format_parse(const char *s, qk_format *out, qk_err *err)
{
    for (size_t i = 0; s && i < NFORMATS; i++) {
        if (strcasecmp(s, formats[i].name) == 0) {
            *out = (qk_format)i;
            return 0;
        }
    }
    return qk_errf(err, QK_EINVAL, "unknown format '%.40s' (expected json, ndjson, csv or table)",
                   s ? s : "");
}

const char *qk_format_name(qk_format f)
{
    return (unsigned)f < NFORMATS ? formats[f].name : "unknown";
}

const char *qk_format_mime(qk_format f)
{
    return (unsigned)f < NFORMATS ? formats[f].mime : "application/octet-stream";
}

void qk_encode_opts_init(qk_encode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->csv_header = true;
}

int qk_encode_columns_json(const qk_result *r, qk_buf *out)
{
    size_t start = out->len;
    int rc = qk_buf_addc(out, '[');
    for (idx_t i = 0; i < qk_result_column_count(r) && !rc; i++) {
        const char *n = qk_result_column_name(r, i), *t = qk_result_column_type(r, i);
        rc = qk_buf_adds(out, i ? ",{\"name\":" : "{\"name\":");
        if (!rc) rc = qk_buf_add_json_str(out, n, strlen(n));
        if (!rc) rc = qk_buf_adds(out, ",\"type\":");
        if (!rc) rc = qk_buf_add_json_str(out, t, strlen(t));
        if (!rc) rc = qk_buf_addc(out, '}');
    }
    if (!rc) rc = qk_buf_addc(out, ']');
    if (rc) qk_buf_truncate(out, start);
    return rc;
}

/* State of one streaming encode (JSON, NDJSON, CSV). */
typedef struct stream {
    qk_format fmt;
    idx_t ncols;
    qk_enc_col **plan;
    char **keys; /* JSON: ["a": and ,"b": per column */
    size_t *key_len;
    qk_buf scratch; /* CSV: a field being re-quoted */
} stream;

static int json_row(stream *s, qk_buf *b, idx_t row)
{
    int rc = qk_enc_put(b, "{", 1);
    for (idx_t c = 0; c < s->ncols && !rc; c++) {
        if (!(rc = qk_enc_put_padded(b, s->keys[c], s->key_len[c])))
            rc = qk_enc_value(b, s->plan[c], row, QK_ENC_JSON);
    }
    if (!rc) rc = qk_enc_put(b, "}", 1);
    if (!rc && s->fmt == QK_FMT_NDJSON) rc = qk_enc_put(b, "\n", 1);
    return rc;
}

static bool csv_needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') return true;
    return n == 0; /* an empty string is "" so that it differs from NULL */
}

/* Quote the field written at b[mark..] if it needs it. */
static int csv_quote_from(stream *s, qk_buf *b, size_t mark)
{
    const char *p;
    size_t n = b->len - mark, start = 0;
    int rc;
    if (!csv_needs_quotes(b->data ? b->data + mark : "", n)) return 0;
    qk_buf_truncate(&s->scratch, 0);
    if ((rc = qk_buf_add(&s->scratch, b->data ? b->data + mark : "", n))) return rc;
    qk_buf_truncate(b, mark);
    p = s->scratch.data ? s->scratch.data : "";
    rc = qk_enc_put(b, "\"", 1);
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] != '"') continue;
        rc = qk_enc_put(b, p + start, i + 1 - start); /* through the quote, then double it */
        if (!rc) rc = qk_enc_put(b, "\"", 1);
        start = i + 1;
    }
    if (!rc) rc = qk_enc_put(b, p + start, n - start);
    return rc ? rc : qk_enc_put(b, "\"", 1);
}

/* Types whose CSV text may hold separators or be empty (others never need quotes). */
static bool csv_may_quote(const qk_enc_col *c)
{
    switch (c->id) {
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_MAP:
    case DUCKDB_TYPE_UNION:
    case DUCKDB_TYPE_BIT:
        return true;
    default:
        return false;
    }
}

static int csv_row(stream *s, qk_buf *b, idx_t row)
{
    int rc = 0;
    for (idx_t c = 0; c < s->ncols && !rc; c++) {
        const qk_enc_col *col = s->plan[c];
        size_t mark;
        if (c && (rc = qk_enc_put(b, ",", 1))) break;
        if (!qk_enc_valid(col, row)) continue;
        mark = b->len;
        if (!(rc = qk_enc_value(b, col, row, QK_ENC_CSV)) && csv_may_quote(col))
            rc = csv_quote_from(s, b, mark);
    }
    return rc ? rc : qk_enc_put(b, "\r\n", 2);
}

static int csv_header(stream *s, qk_result *r, qk_buf *b)
{
    int rc = 0;
    for (idx_t c = 0; c < s->ncols && !rc; c++) {
        const char *n = qk_result_column_name(r, c);
        size_t mark;
        if (c && (rc = qk_enc_put(b, ",", 1))) break;
        mark = b->len;
        if (!(rc = qk_enc_put(b, n, strlen(n))) && *n) rc = csv_quote_from(s, b, mark);
    }
    return rc ? rc : qk_enc_put(b, "\r\n", 2);
}

static int make_keys(stream *s, qk_result *r, qk_arena *a)
{
    qk_buf k;
    int rc = 0;
    s->keys = qk_arena_alloc(a, (s->ncols + 1) * sizeof *s->keys);
    s->key_len = qk_arena_alloc(a, (s->ncols + 1) * sizeof *s->key_len);
    if (!s->keys || !s->key_len) return QK_ENOMEM;
    qk_buf_init(&k, (size_t)1 << 24);
    for (idx_t c = 0; c < s->ncols && !rc; c++) {
        const char *n = qk_result_column_name(r, c);
        qk_buf_truncate(&k, 0);
        rc = qk_enc_put(&k, ",", c ? 1 : 0);
        if (!rc) rc = qk_buf_add_json_str(&k, n, strlen(n));
        if (!rc) rc = qk_buf_addc(&k, ':');
        if (!rc && !(s->keys[c] = qk_arena_alloc(a, (k.len + 31) & ~(size_t)15))) rc = QK_ENOMEM;
        if (rc) break;
        memset(s->keys[c], 0, (k.len + 31) & ~(size_t)15); /* padding for qk_enc_put_padded */
        memcpy(s->keys[c], k.data, k.len);
        s->key_len[c] = k.len;
    }
    qk_buf_free(&k);
    return rc;
}

/* Write rows until the result ends or a row does not fit. */
static int stream_rows(stream *s, qk_result *r, qk_buf *b, qk_encode_stats *st)
{
    duckdb_data_chunk ch;
    int rc = 0;
    while (!rc && !st->truncated && (ch = qk_result_next_chunk(r)) != NULL) {
        idx_t n = duckdb_data_chunk_get_size(ch);
        for (idx_t c = 0; c < s->ncols; c++)
            qk_enc_col_bind(s->plan[c], duckdb_data_chunk_get_vector(ch, c));
        for (idx_t row = 0; row < n; row++) {
            size_t mark = b->len;
            if (s->fmt == QK_FMT_CSV) {
                rc = csv_row(s, b, row);
            } else {
                rc = s->fmt == QK_FMT_JSON && st->rows ? qk_enc_put(b, ",", 1) : 0;
                if (!rc) rc = json_row(s, b, row);
            }
            if (rc) {
                qk_buf_truncate(b, mark);
                if (rc == QK_ETOOBIG) st->truncated = true, rc = 0;
                break;
            }
            st->rows++;
        }
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

static int encode_stream(qk_result *r, qk_format fmt, const qk_encode_opts *o, qk_buf *out,
                         qk_enc_col **plan, qk_arena *a, qk_encode_stats *st)
{
    stream s = {fmt, qk_result_column_count(r), plan, NULL, NULL, {0}};
    size_t lim = out->max, start = out->len;
    int rc;
    (void)o;
    qk_buf_init(&s.scratch, out->max);
    if (fmt != QK_FMT_CSV && (rc = make_keys(&s, r, a))) goto out;
    if (fmt == QK_FMT_JSON) { /* keep room for the closing bracket */
        out->max = lim - 1;
        if ((rc = qk_enc_put(out, "[", 1))) goto out;
    } else if (fmt == QK_FMT_CSV && o->csv_header && (rc = csv_header(&s, r, out))) {
        qk_buf_truncate(out, start);
        if (rc == QK_ETOOBIG) st->truncated = true, rc = 0; /* not even the header fits */
        goto out;
    }
    rc = stream_rows(&s, r, out, st);
    out->max = lim;
    if (!rc && fmt == QK_FMT_JSON) rc = qk_enc_put(out, "]", 1);
out:
    out->max = lim;
    qk_buf_free(&s.scratch);
    return rc;
}

int qk_encode_result(qk_result *r, qk_format fmt, const qk_encode_opts *o, qk_buf *out,
                     qk_encode_stats *st, qk_err *err)
{
    qk_encode_opts dflt;
    qk_encode_stats local;
    qk_arena a;
    qk_enc_col **plan = NULL;
    size_t start = out->len, saved_max = out->max;
    idx_t ncols = qk_result_column_count(r);
    int rc = 0;
    if (!o) qk_encode_opts_init(&dflt), o = &dflt;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    if ((unsigned)fmt >= NFORMATS)
        return qk_errf(err, QK_EINVAL, "unknown output format %d", (int)fmt);
    qk_arena_init(&a, 0);
    if (o->max_bytes && o->max_bytes < out->max - start) out->max = start + o->max_bytes;
    if (fmt == QK_FMT_JSON && out->max < start + 2) {
        rc =
            qk_errf(err, QK_ETOOBIG, "no room for the encoded result (byte cap %zu)", o->max_bytes);
        goto out;
    }
    if (!(plan = qk_arena_alloc(&a, (ncols + 1) * sizeof *plan))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory planning the encoder");
        goto out;
    }
    for (idx_t c = 0; c < ncols && !rc; c++)
        if ((rc = qk_enc_plan_build(&a, qk_result_column_logical_type(r, c), 0, &plan[c], err)))
            qk_err_prefix(err, "column %s", qk_result_column_name(r, c));
    if (rc) goto out;
    if (fmt == QK_FMT_TABLE)
        rc = qk_enc_table(r, plan, o, out, st, err);
    else if ((rc = encode_stream(r, fmt, o, out, plan, &a, st)) != 0)
        rc = qk_errf(err, rc, "cannot encode the result as %s: %s", qk_format_name(fmt),
                     qk_strerror(rc));
out:
    if (rc) {
        qk_buf_truncate(out, start);
        st->rows = 0;
    }
    out->max = saved_max;
    qk_enc_terminate(out);
    qk_arena_free(&a);
    return rc;
}
