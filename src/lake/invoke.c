/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: the seed's invoke contract (invoke.h): parse {"q","limit"}, run q through
 * qk_lake_query, and write the seed envelope:
 *
 *   1. metadata first, into its own bounded buffer: {"metadata":{"timeMs","epochMs",
 *      "eventId","query","warm"   (not closed yet)
 *   2. the records, JSON-encoded with a byte cap of what the cap leaves after the envelope
 *      (minus ENVELOPE_SLACK for the closing keys), so a cut result is still valid JSON
 *   3. the body: metadata [+ ,"truncated":true] + },"data":{"records": + records + }}
 *
 * timeMs is DuckDB's execution time (prepare + execute, not encoding) and warm is false only
 * for the first query the process answered, as in the seed. Errors become
 * {"errorMessage","errorType"}, the shape AWS Lambda gives an unhandled error.
 */
#include "lake/invoke.h"
#include "engine/encode.h"
#include "lake/resolve.h"

#include <jansson.h>
#include <string.h>

#define ENVELOPE_SLACK 512 /* room for the closing keys of the envelope */
#define ERROR_BODY_MAX (2 * QK_ERR_MSG_MAX + 128)

#define BAD(err, ...) qk_errtf(err, QK_EINVAL, "BadRequest", __VA_ARGS__)

/* ---- the request ------------------------------------------------------------------------- */

int qk_json_req_object(const char *body, size_t len, json_t **out, qk_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!root) {
        if (len == 0) return BAD(err, "empty request body: expected a JSON object");
        return BAD(err, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return BAD(err, "the request body must be a JSON object");
    }
    *out = root;
    return 0;
}

/* Integer field in [lo, hi]; absent or null keeps *out. */
int qk_json_req_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out, qk_err *err)
{
    json_t *v = json_object_get(o, key);
    json_int_t n;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return BAD(err, "\"%s\" must be an integer", key);
    n = json_integer_value(v);
    if (n < lo || n > hi)
        return BAD(err, "\"%s\" must be between %lld and %lld, got %lld", key, (long long)lo,
                   (long long)hi, (long long)n);
    *out = (int64_t)n;
    return 0;
}

/* String field copied into a; absent or null leaves *out NULL. */
int qk_json_req_str(json_t *o, const char *key, qk_arena *a, const char **out, qk_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return BAD(err, "\"%s\" must be a string", key);
    *out = qk_arena_strndup(a, json_string_value(v), json_string_length(v));
    if (!*out) return qk_errtf(err, QK_ENOMEM, "PayloadTooLarge", "\"%s\" is too large", key);
    return 0;
}

int qk_invoke_parse(const char *body, size_t len, int64_t max_limit, qk_arena *a,
                    qk_invoke_req *out, qk_err *err)
{
    json_t *root = NULL;
    int rc;
    out->q = NULL;
    out->limit = QK_INVOKE_DEFAULT_LIMIT < max_limit ? QK_INVOKE_DEFAULT_LIMIT : max_limit;
    if ((rc = qk_json_req_object(body ? body : "", body ? len : 0, &root, err))) return rc;
    if ((rc = qk_json_req_str(root, "q", a, &out->q, err))) goto out;
    rc = qk_json_req_int(root, "limit", 0, max_limit, &out->limit, err);
out:
    json_decref(root);
    return rc;
}

/* ---- the response ------------------------------------------------------------------------ */

int qk_invoke_error_json(qk_buf *out, const char *type, const char *msg)
{
    int rc = qk_buf_adds(out, "{\"errorMessage\":");
    if (!rc) rc = qk_buf_add_json_str(out, msg, strlen(msg));
    if (!rc) rc = qk_buf_adds(out, ",\"errorType\":");
    if (!rc) rc = qk_buf_add_json_str(out, type, strlen(type));
    if (!rc) rc = qk_buf_addc(out, '}');
    return rc;
}

int qk_invoke_error_from(qk_buf *out, const qk_err *err)
{
    return qk_invoke_error_json(out, qk_err_type(err),
                                err->msg[0] ? err->msg : qk_strerror(err->code));
}

static int add_metadata(qk_buf *m, const char *id, const char *q, double ms, bool warm)
{
    int rc = qk_buf_printf(m,
                           "{\"metadata\":{\"timeMs\":%.3f,\"epochMs\":%lld,\"eventId\":\"%s\""
                           ",\"query\":",
                           ms, (long long)qk_epoch_ms(), id);
    if (!rc) rc = q ? qk_buf_add_json_str(m, q, strlen(q)) : qk_buf_adds(m, "null");
    if (!rc) rc = qk_buf_printf(m, ",\"warm\":%s", warm ? "true" : "false");
    return rc;
}

static int add_body(qk_buf *out, const qk_buf *meta, const qk_buf *records, bool truncated)
{
    int rc = qk_buf_reserve(out, meta->len + records->len + 64);
    if (!rc) rc = qk_buf_add(out, meta->data, meta->len);
    if (!rc && truncated) rc = qk_buf_adds(out, ",\"truncated\":true");
    if (!rc) rc = qk_buf_adds(out, "},\"data\":{\"records\":");
    if (!rc)
        rc = qk_buf_add(out, records->len ? records->data : "[]", records->len ? records->len : 2);
    if (!rc) rc = qk_buf_adds(out, "}}");
    return rc;
}

static int encode_records(qk_result *res, size_t cap, qk_buf *out, qk_encode_stats *st, qk_err *err)
{
    qk_encode_opts eo;
    qk_encode_opts_init(&eo);
    eo.max_bytes = cap ? cap : 1;
    memset(st, 0, sizeof *st);
    return qk_encode_result(res, QK_FMT_JSON, &eo, out, st, err);
}

static size_t room_after(size_t max, size_t used)
{
    return used + ENVELOPE_SLACK < max ? max - used - ENVELOPE_SLACK : 0;
}

static int too_large(qk_err *err, int rc, const char *what, const qk_invoke_opts *o)
{
    if (o->cap_name) return qk_errf(err, rc, "%s too large for %s", what, o->cap_name);
    return qk_errf(err, rc, "%s too large for the response size limit of %zu bytes", what,
                   o->max_response);
}

/* Build the envelope around res (NULL: no query, no records) and append it to out. */
static int write_envelope(qk_engine *e, const qk_invoke_req *req, const qk_invoke_opts *o,
                          qk_result *res, qk_buf *out, qk_invoke_stats *st, qk_err *err)
{
    qk_buf meta, rec;
    qk_encode_stats es = {0};
    char id[37];
    double ms = res ? qk_result_exec_ms(res) : 0;
    bool warm = res ? qk_result_warm(res) : qk_engine_queries(e) > 0;
    int rc;
    if (!o->event_id) qk_uuid4(id);
    qk_buf_init(&meta, o->max_envelope ? o->max_envelope : o->max_response);
    qk_buf_init(&rec, o->max_response);
    if ((rc = add_metadata(&meta, o->event_id ? o->event_id : id, req->q, ms, warm))) {
        rc = qk_errf(err, rc, "cannot build the response envelope");
        goto out;
    }
    if (res && (rc = encode_records(res, room_after(o->max_response, meta.len), &rec, &es, err)))
        goto out;
    if ((rc = add_body(out, &meta, &rec, es.truncated))) {
        rc = too_large(err, rc, "response", o);
        goto out;
    }
    st->rows = es.rows;
    st->truncated = es.truncated;
out:
    qk_buf_free(&meta);
    qk_buf_free(&rec);
    return rc;
}

/* Replace what this call appended to out (from start on) with the error body. */
static void error_body(qk_buf *out, size_t start, const qk_err *err)
{
    qk_buf_truncate(out, start);
    if (out->max < start + ERROR_BODY_MAX) out->max = start + ERROR_BODY_MAX;
    qk_invoke_error_from(out, err);
}

int qk_invoke_run(qk_engine *engine, const qk_invoke_req *req, const qk_invoke_opts *opts,
                  qk_buf *out, qk_invoke_stats *st, qk_err *err)
{
    qk_invoke_opts o = opts ? *opts : (qk_invoke_opts){0};
    qk_invoke_stats dummy;
    qk_result *res = NULL;
    size_t start = out->len;
    int rc = 0;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    if (!o.max_response) o.max_response = QK_INVOKE_DEFAULT_MAX_RESPONSE;
    if (req->q && *req->q) {
        qk_query_opts qo = {req->limit, o.timeout_ms, o.cancelled, o.cancel_ud, false};
        st->ran = true;
        if ((rc = qk_lake_query(engine, req->q, &qo, &res, err))) goto out;
    }
    rc = write_envelope(engine, req, &o, res, out, st, err);
out:
    qk_result_destroy(res);
    if (rc) error_body(out, start, err);
    return rc;
}
