/* SPDX-License-Identifier: MIT */
/*
 * task.h: the wire format between a quack-reduce coordinator and its workers (docs/distributed.md,
 * "Wire format"). The same JSON travels over HTTP (POST /map on `quack serve`) and as a Lambda
 * event (the Invoke API), so both sides build and parse it here and nowhere else.
 *
 *   task    {"task":"map","queryId":"<uuid>","shard":N,"attempt":K,"sql":"<map SQL>",
 *            "deadlineMs":<epoch ms>,"whole":false,"limit":-1,
 *            "spill":{"uri":"s3://b/p/_quack/partials/<queryId>/","threshold":4194304}}
 *            (deadlineMs, whole, limit and spill are optional)
 *   answer  {"queryId","shard","attempt","rows","bytes","sha256":"<hex of the Parquet bytes>",
 *            "execMs", then "parquet":"<base64>" (inline) or "key":"<spill uri><shard>-<attempt>
 *            .parquet" (spilled), and for whole tasks "columns":[{"name","type","asVarchar"}]}
 *   error   {"errorMessage":"...","errorType":"..."}   (AWS Lambda's unhandled-error shape)
 *
 * Parsers take hostile input: every field is type- and range-checked, sizes are bounded before
 * anything is allocated, and a failure is QK_EINVAL with type "BadRequest" (task) or
 * "InvalidAnswer" (answer) and a message naming the field. Base64 is RFC 4648 with padding,
 * decoded strictly (no blanks, no stray padding, canonical trailing bits).
 * Thread-safe: no state.
 */
#ifndef QK_DIST_TASK_H
#define QK_DIST_TASK_H

#include <stdint.h>

#include "core/core.h"
#include "dist/plan.h"

#define QK_DIST_INLINE_DEFAULT ((uint64_t)4 << 20) /* Lambda answers are capped at 6 MB */
#define QK_DIST_SQL_MAX ((size_t)4 << 20)          /* longest map SQL a worker accepts */
#define QK_DIST_MAX_SHARDS 1000000
#define QK_DIST_MAX_ATTEMPT 1000
#define QK_DIST_URI_MAX 2048
#define QK_DIST_MAX_COLS 10000
#define QK_DIST_ANSWER_MAX ((size_t)64 << 20) /* largest answer body a coordinator reads */

/* ---- base64 (RFC 4648, with padding) --------------------------------------------------------- */

/* Append the base64 text of p[0..n) to out. QK_ETOOBIG / QK_ENOMEM from the buffer. */
int qk_base64_encode(const void *p, size_t n, qk_buf *out);
/* Append the bytes s[0..n) decodes to. QK_EINVAL (err says where) for anything but canonical
 * padded base64: a length that is not a multiple of 4, a byte outside the alphabet, '=' other
 * than at the end, non-zero bits in the last symbol. QK_ETOOBIG when out->max is too small. */
int qk_base64_decode(const char *s, size_t n, qk_buf *out, qk_err *err);

/* ---- tasks ---------------------------------------------------------------------------------- */

typedef struct qk_dist_task {
    char query_id[37];        /* uuid4: letters, digits and '-' */
    int64_t shard;            /* 0 .. QK_DIST_MAX_SHARDS-1 */
    int64_t attempt;          /* 1 .. QK_DIST_MAX_ATTEMPT */
    const char *sql;          /* the map SQL: one SELECT */
    int64_t deadline_ms;      /* wall-clock ms since 1970; 0 = none */
    bool whole;               /* sql is a whole (unsplit) query: keep its column types exact */
    int64_t limit;            /* whole tasks: rows to keep at most; -1 = all */
    const char *spill_uri;    /* NULL: always inline; else where partials over the threshold go */
    uint64_t spill_threshold; /* bytes; partials larger than this are spilled */
} qk_dist_task;

/* Append t as task JSON to out. QK_EINVAL for a task that would not parse back. */
int qk_dist_task_build(const qk_dist_task *t, qk_buf *out, qk_err *err);
/* Parse a task body. Strings are copied into a (freed with it). Errors: QK_EINVAL
 * "BadRequest" naming the field (QK_ETOOBIG "PayloadTooLarge" for an oversized SQL). */
int qk_dist_task_parse(const char *body, size_t len, qk_arena *a, qk_dist_task *out, qk_err *err);
/* Is body a task at all (a JSON object with a "task" member)? Cheap pre-check for routers. */
bool qk_dist_is_task(const char *body, size_t len);

/* ---- answers -------------------------------------------------------------------------------- */

typedef struct qk_dist_answer {
    char query_id[37];
    int64_t shard, attempt;
    uint64_t rows;  /* rows in the partial */
    uint64_t bytes; /* size of the Parquet file */
    char sha256[65];
    double exec_ms;
    const char *key;   /* spilled: the object's URI; NULL when inline */
    qk_buf parquet;    /* inline: the decoded bytes (parse); unused by build */
    qk_dist_col *cols; /* whole tasks: the result's columns; NULL otherwise */
    size_t ncols;
} qk_dist_answer;

/* Prepare a for parse (parquet bytes bounded by max_parquet). Free with qk_dist_answer_free. */
void qk_dist_answer_init(qk_dist_answer *a, size_t max_parquet);
void qk_dist_answer_free(qk_dist_answer *a);

/* Append the answer JSON to out: the fields of a, and the Parquet bytes p[0..a->bytes)
 * base64-encoded when a->key is NULL (p must then be given). */
int qk_dist_answer_build(const qk_dist_answer *a, const void *p, qk_buf *out, qk_err *err);

/* Parse an answer body into a (inline bytes decoded into a->parquet; strings and columns in
 * arena). The bytes are checked against "bytes" but not against sha256 (the caller does that
 * on whatever it ends up holding). When the body is the error shape, returns the worker's
 * error: QK_ETIMEOUT for "Timeout", QK_ECANCELED for "Canceled", QK_ESQL for a DuckDB
 * exception type ("...Exception"), else QK_EHTTP; err->type is the worker's errorType.
 * Malformed answers: QK_EINVAL "InvalidAnswer". */
int qk_dist_answer_parse(const char *body, size_t len, qk_arena *arena, qk_dist_answer *a,
                         qk_err *err);

/* Lowercase hex SHA-256 of a file's contents (streamed). QK_EIO when it cannot be read. */
int qk_dist_sha256_file(const char *path, char out[65], uint64_t *size, qk_err *err);

#endif
