/* SPDX-License-Identifier: MIT */
/*
 * invoke.h: the seed's invoke contract (DESIGN.md section 3), in one place for every front end
 * that speaks it: POST /invoke (src/server) and the {"q","limit"} events of the AWS Lambda
 * runtime (src/runtime). Keep it byte-compatible with the original quack-reduce function:
 *
 *   request   {"q": "<SQL>", "limit": 20}      limit optional (default 20); no q: no records
 *   response  {"metadata":{"timeMs":<exec ms>,"epochMs":<ms>,"eventId":"<uuid4>",
 *              "query":"<q>"|null,"warm":<bool>},"data":{"records":[{"col":value,...}]}}
 *             ("truncated":true is added to metadata only when the byte cap cut rows)
 *   error     {"errorMessage":"...","errorType":"..."}   (AWS Lambda's unhandled-error shape)
 *
 * Queries go through qk_lake_query, so lake table names and s3:// paths work as everywhere
 * else. The whole body stays under the caller's byte cap: the envelope is built first and the
 * JSON encoder gets what is left, cutting rows on a row boundary.
 * Thread-safe: the functions keep no state; each call uses its own DuckDB connection.
 */
#ifndef QK_LAKE_INVOKE_H
#define QK_LAKE_INVOKE_H

#include "core/core.h"
#include "engine/engine.h"

#include <jansson.h>

#define QK_INVOKE_DEFAULT_LIMIT 20
#define QK_INVOKE_DEFAULT_MAX_RESPONSE ((size_t)6 << 20) /* AWS Lambda's payload cap, rounded */

typedef struct qk_invoke_req {
    const char *q; /* NULL when absent or null (answered with no records) */
    int64_t limit;
} qk_invoke_req;

typedef struct qk_invoke_opts {
    const char *event_id;       /* metadata.eventId; NULL: a fresh uuid4 */
    int64_t timeout_ms;         /* the query's time limit; 0 = none */
    int (*cancelled)(void *ud); /* polled while the query runs; non-zero cancels. May be NULL */
    void *cancel_ud;
    size_t max_response;  /* cap on the bytes appended to out; 0 = QK_INVOKE_DEFAULT_MAX_RESPONSE */
    size_t max_envelope;  /* cap on the metadata part (it echoes q); 0 = max_response */
    const char *cap_name; /* how messages name the cap, e.g. "--max-response"; NULL: generic */
} qk_invoke_opts;

typedef struct qk_invoke_stats {
    uint64_t rows;  /* records written */
    bool truncated; /* the byte cap left rows out */
    bool ran;       /* a query ran (q was given and not empty) */
} qk_invoke_stats;

/*
 * Parse and validate a request body: one JSON object (no trailing data, no \u0000 in strings,
 * nesting bounded by jansson's depth limit); unknown fields are ignored; duplicate keys: the
 * last wins. "q": string, or null/absent. "limit": integer 0..max_limit, or null/absent
 * (QK_INVOKE_DEFAULT_LIMIT, or max_limit when that is smaller). q is copied into a (freed
 * with the arena). Errors are QK_EINVAL with type "BadRequest" and a message naming the field
 * (QK_ENOMEM "PayloadTooLarge" when a cannot hold q).
 */
int qk_invoke_parse(const char *body, size_t len, int64_t max_limit, qk_arena *a,
                    qk_invoke_req *out, qk_err *err);

/* Request-body helpers, shared with the server's other endpoints. Errors are QK_EINVAL
 * "BadRequest" naming the field. qk_json_req_object: body must be one JSON object (*out: the
 * caller decrefs). qk_json_req_int: integer field in [lo, hi]; absent or null keeps *out.
 * qk_json_req_str: string field copied into a; absent or null sets *out NULL. */
int qk_json_req_object(const char *body, size_t len, json_t **out, qk_err *err);
int qk_json_req_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, qk_err *err);
int qk_json_req_str(json_t *o, const char *key, qk_arena *a, const char **out, qk_err *err);

/*
 * Run req on engine and append the seed response to out; st (may be NULL) says what was
 * written. A request without q (or with q "") runs nothing and answers no records. On failure
 * err holds the reason (DuckDB's exception name as its type for SQL errors; QK_ETIMEOUT,
 * QK_ECANCELED, QK_ETOOBIG...) and out holds, in place of what this call appended, the error
 * body (qk_invoke_error_json). o may be NULL (defaults).
 */
int qk_invoke_run(qk_engine *engine, const qk_invoke_req *req, const qk_invoke_opts *o, qk_buf *out,
                  qk_invoke_stats *st, qk_err *err);

/* Append {"errorMessage":msg,"errorType":type} to out. */
int qk_invoke_error_json(qk_buf *out, const char *type, const char *msg);
/* The same for an error: its message (or qk_strerror of its code) and qk_err_type. */
int qk_invoke_error_from(qk_buf *out, const qk_err *err);

#endif
