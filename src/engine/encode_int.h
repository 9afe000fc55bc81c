/* SPDX-License-Identifier: MIT */
/*
 * encode_int.h: shared between the encoder files only (encode.c, encode_table.c,
 * encode_value.c, encode_num.c, encode_time.c).
 *
 * The flow: encode.c builds a plan, one qk_enc_col tree per result column, from the column's
 * logical type (qk_enc_plan_build). For every chunk it binds each tree to the chunk's vectors
 * (qk_enc_col_bind: data and validity pointers, child vectors of LIST/ARRAY/STRUCT/MAP/UNION),
 * then writes values row by row with qk_enc_value in one of three modes:
 *   JSON  : JSON text (also used for every value nested in a LIST/STRUCT/MAP/UNION/ARRAY)
 *   CSV   : DuckDB's own text (CAST(x AS VARCHAR)), BLOB as base64, nested values as JSON
 *   TABLE : like CSV, but BLOB as DuckDB's escaped text (\xAB)
 * The formatting primitives (numbers, dates, times) write into caller-provided char arrays and
 * return the length; they never allocate (BIGNUM, of unbounded size, is the exception).
 */
#ifndef QK_ENCODE_INT_H
#define QK_ENCODE_INT_H

#include "engine/encode.h"
#include "engine/engine_int.h"

#include <string.h>

typedef enum { QK_ENC_JSON = 0, QK_ENC_CSV, QK_ENC_TABLE } qk_enc_mode;

/* Deepest type nesting a plan accepts (DuckDB types are finite, this only bounds recursion). */
#define QK_ENC_MAX_DEPTH 64
/* Room for any scalar's text: a 128-bit integer or DECIMAL(38,x) is at most 41 chars, a
 * timestamp with a 7-digit BC year about 40, a double 24, an interval about 90. */
#define QK_ENC_SCALAR_MAX 128

typedef struct qk_enc_col qk_enc_col;
struct qk_enc_col {
    duckdb_type id;    /* logical type id */
    duckdb_type phys;  /* DECIMAL: internal storage type; ENUM: index type */
    uint8_t scale;     /* DECIMAL */
    bool map_object;   /* MAP with VARCHAR keys: written as a JSON object */
    idx_t array_size;  /* ARRAY */
    idx_t nchild;      /* LIST/ARRAY: 1; MAP: 2 (key, value); STRUCT: its fields;
                          UNION: 1 + members (child 0 is the tag) */
    qk_enc_col *child; /* nchild nodes */
    char **keys;       /* STRUCT/UNION member names as JSON keys with colon: "name": */
    size_t *key_len;
    char **dict; /* ENUM dictionary values */
    size_t *dict_len;
    idx_t ndict;
    /* Bound per chunk by qk_enc_col_bind. */
    void *data;
    uint64_t *validity;
};

/* Build the plan for type t from arena memory (freed with the arena). */
int qk_enc_plan_build(qk_arena *a, duckdb_logical_type t, int depth, qk_enc_col **out, qk_err *err);
/* Point c (and its children) at vector v of the current chunk. */
void qk_enc_col_bind(qk_enc_col *c, duckdb_vector v);

static inline bool qk_enc_valid(const qk_enc_col *c, idx_t row)
{
    return !c->validity || ((c->validity[row >> 6] >> (row & 63)) & 1);
}

/* Append the value at row (valid or not) in mode m. NULL is "null" in JSON and the empty
 * string otherwise; callers that show NULL differently check qk_enc_valid first. */
int qk_enc_value(qk_buf *b, const qk_enc_col *c, idx_t row, qk_enc_mode m);

/* Append bytes without the bounds bookkeeping of qk_buf_add when they fit (the NUL terminator
 * is written by the caller at the end of a row, see qk_enc_terminate). */
static inline int qk_enc_put(qk_buf *b, const char *s, size_t n)
{
    if (n < b->cap - b->len && b->len + n <= b->max) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        return 0;
    }
    return qk_buf_add(b, s, n);
}

/* Append a JSON key stored with at least 16 bytes of zero padding (see encode.c make_keys):
 * copied in fixed 16-byte steps, which compilers inline, when the buffer has the slack. */
static inline int qk_enc_put_padded(qk_buf *b, const char *s, size_t n)
{
    if (n + 16 < b->cap - b->len && b->len + n <= b->max) {
        char *d = b->data + b->len;
        for (size_t o = 0; o < n; o += 16)
            memcpy(d + o, s + o, 16);
        b->len += n;
        return 0;
    }
    return qk_buf_add(b, s, n);
}

static inline void qk_enc_terminate(qk_buf *b)
{
    if (b->data && b->len < b->cap) b->data[b->len] = '\0';
}

/* Inline VARCHAR/BLOB access (layout of duckdb_string_t, documented in duckdb.h). */
static inline const char *qk_enc_str(const duckdb_string_t *s, uint32_t *len)
{
    *len = s->value.inlined.length;
    return *len <= 12 ? s->value.inlined.inlined : s->value.pointer.ptr;
}

/* ---- numbers (encode_num.c) ---- */
size_t qk_fmt_u64(char *p, uint64_t v);
size_t qk_fmt_i64(char *p, int64_t v);
/* 128-bit values as (hi, lo): hi * 2^64 + lo. */
size_t qk_fmt_u128(char *p, uint64_t hi, uint64_t lo);
size_t qk_fmt_i128(char *p, int64_t hi, uint64_t lo);
/* A DECIMAL with `scale` fraction digits from its unscaled 128-bit value. */
size_t qk_fmt_decimal(char *p, int64_t hi, uint64_t lo, unsigned scale);
/* Shortest text that reads back as v (DuckDB's / Python's repr style: 12.5, 3.0, 1e+20,
 * 1.5e-07, -0.0); non-finite values as nan, inf, -inf. At most 25 chars. */
size_t qk_fmt_double(char *p, double v);
size_t qk_fmt_float(char *p, float v);
/* A BIGNUM (DuckDB's varint bytes, as stored in the vector) as decimal digits. */
int qk_fmt_bignum(qk_buf *b, const uint8_t *blob, size_t size);

/* ---- dates and times (encode_time.c) ---- */
/* iso: JSON/ISO-8601 style (T separator, Z for UTC, signed 6-digit years outside 0..9999);
 * otherwise DuckDB's text (space separator, +00, "(BC)" years). Infinite values are written
 * as infinity / -infinity. */
size_t qk_fmt_date(char *p, int32_t days, bool iso);
size_t qk_fmt_time(char *p, int64_t micros);
size_t qk_fmt_time_ns(char *p, int64_t nanos);
size_t qk_fmt_time_tz(char *p, uint64_t bits, bool iso);
/* unit: 1 = seconds, 1000 = ms, 1000000 = us, 1000000000 = ns; tz: a TIMESTAMPTZ (UTC). */
size_t qk_fmt_timestamp(char *p, int64_t v, int64_t unit, bool tz, bool iso);
size_t qk_fmt_interval(char *p, int32_t months, int32_t days, int64_t micros, bool iso);

/* ---- text helpers (encode_value.c) ---- */
/* Base64 (RFC 4648, with padding) of n bytes. */
int qk_enc_base64(qk_buf *b, const uint8_t *s, size_t n);
/* DuckDB's BLOB text: printable ASCII as is except \ ' ", other bytes as \xAB. */
int qk_enc_blob_text(qk_buf *b, const uint8_t *s, size_t n);

/* ---- table (encode_table.c) ---- */
/* DuckDB CLI's short type name: int64, decimal(18,3), varchar, int32[], ... (lowercase). */
int qk_enc_table_type(duckdb_logical_type t, qk_buf *out);
/* Display width of UTF-8 text (code points; East Asian wide as 2, combining marks as 0). */
size_t qk_enc_display_width(const char *s, size_t n);

/* The table writer (encode_table.c); called by qk_encode_result with the prepared plan. */
int qk_enc_table(qk_result *r, qk_enc_col **plan, const qk_encode_opts *o, qk_buf *out,
                 qk_encode_stats *st, qk_err *err);

#endif
