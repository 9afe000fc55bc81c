/* SPDX-License-Identifier: MIT */
/*
 * encode.h: result encoders. Every DuckDB type is written faithfully:
 *   integers (HUGEINT/UHUGEINT exact), DECIMAL exact, DOUBLE/FLOAT shortest round-trip,
 *   DATE/TIME/TIMESTAMP(_S/_MS/_NS)/TIMESTAMPTZ ISO-8601, INTERVAL ISO-8601 duration, UUID,
 *   BLOB base64, LIST/ARRAY/STRUCT/MAP/UNION as JSON, ENUM as its string, NULL as null.
 * Formats: JSON records ([{"col":v,...}]), NDJSON (one record per line), CSV (RFC 4180, header
 * row, CRLF), and a terminal table like DuckDB's CLI (box drawing, column types, right-aligned
 * numbers, wide values cut with an ellipsis).
 * A byte cap stops encoding before the row that would cross it; the output is always complete
 * and valid in its format and stats->truncated says rows were left out.
 */
#ifndef QK_ENCODE_H
#define QK_ENCODE_H

#include "engine/engine.h"

typedef enum { QK_FMT_JSON = 0, QK_FMT_NDJSON, QK_FMT_CSV, QK_FMT_TABLE } qk_format;

/* "json" | "ndjson" | "csv" | "table" (case-insensitive); QK_EINVAL otherwise. */
int qk_format_parse(const char *s, qk_format *out, qk_err *err);
const char *qk_format_name(qk_format f);
/* Content-Type for HTTP responses. */
const char *qk_format_mime(qk_format f);

typedef struct qk_encode_opts {
    size_t max_bytes; /* cap on bytes this call appends to out; 0 = no cap besides out->max */
    int table_width;  /* QK_FMT_TABLE: total width in columns; 0 = 120 */
    bool csv_header;  /* QK_FMT_CSV: write the header row (default true via qk_encode_opts_init) */
} qk_encode_opts;

typedef struct qk_encode_stats {
    uint64_t rows;  /* rows written */
    bool truncated; /* rows were left out because of the byte cap */
} qk_encode_stats;

void qk_encode_opts_init(qk_encode_opts *o);
/* Encode all remaining rows of r into out (appending). Consumes r's chunks. */
int qk_encode_result(qk_result *r, qk_format fmt, const qk_encode_opts *o, qk_buf *out,
                     qk_encode_stats *st, qk_err *err);
/* Append the column list as JSON: [{"name":"c","type":"BIGINT"},...]. */
int qk_encode_columns_json(const qk_result *r, qk_buf *out);

#endif
