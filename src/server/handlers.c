/* SPDX-License-Identifier: MIT */
/*
 * handlers.c: the endpoints. Each takes the request (its context and complete body) and fills
 * a qk_reply; server.c owns everything HTTP. Shapes (docs/http-api.md):
 *
 *   /invoke  {"metadata":{"timeMs","epochMs","eventId","query","warm"},"data":{"records":[..]}}
 *            the seed Lambda contract (DESIGN.md section 3); "truncated":true is added to
 *            metadata only when the byte cap cut rows. Parsed and built by lake/invoke.c,
 *            which the Lambda runtime shares; this file adds the slot, headers and status.
 *   /query   json: {"columns","records","rowCount","truncated","truncatedBy","warm","queryId",
 *            "timeMs","totalMs"}; ndjson/csv/table: the encoded rows only. The same facts
 *            travel in X-Quack-* headers for every format. With "distributed": true (servers
 *            started with workers) the statement goes through dist/coord.h; the shapes are
 *            the same, plus "distributed": {stats} in json and X-Quack-Shards/-Retries.
 *   /map     a map task (dist/worker.h builds the answer); takes a query slot like /query
 *   errors   {"errorMessage":"...","errorType":"..."} with the status of qk_status_for_error
 *
 * The whole body stays under max_response: the envelope is built first and the encoder gets
 * what is left as its byte cap, so a cut result is still valid JSON/CSV/NDJSON.
 * A query holds one of max_concurrency slots while it runs and is encoded (429 when none is
 * free); it is interrupted at the timeout or when the client's socket reports a hang-up.
 */
#include "server/server_int.h"
#include "dist/coord.h"
#include "dist/worker.h"
#include "lake/invoke.h"
#include "lake/resolve.h"

#include <jansson.h>

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define ENVELOPE_SLACK 512 /* room for the closing keys of an envelope */

/* ---- replies ----------------------------------------------------------------------------- */

void qk_reply_init(qk_reply *r, size_t max_body)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
    r->content_type = "application/json";
    qk_buf_init(&r->body, max_body);
}

void qk_reply_free(qk_reply *r)
{
    if (r) qk_buf_free(&r->body);
}

void qk_reply_header(qk_reply *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    if (r->nheaders >= QK_REPLY_MAX_HEADERS) return;
    r->headers[r->nheaders].name = name;
    va_start(ap, fmt);
    vsnprintf(r->headers[r->nheaders].value, sizeof r->headers[0].value, fmt, ap);
    va_end(ap);
    r->nheaders++;
}

void qk_reply_error(qk_reply *r, int status, const char *type, const char *msg)
{
    r->status = status;
    r->content_type = "application/json";
    r->rows = 0;
    qk_strlcpy(r->error_type, type, sizeof r->error_type);
    qk_buf_truncate(&r->body, 0);
    if (r->body.max < 2 * QK_ERR_MSG_MAX + 128) r->body.max = 2 * QK_ERR_MSG_MAX + 128;
    qk_invoke_error_json(&r->body, type, msg);
}

static bool internal_type(const char *t)
{
    return strcmp(t, "InternalException") == 0 || strcmp(t, "FatalException") == 0 ||
           strcmp(t, "OutOfMemoryException") == 0;
}

int qk_status_for_error(const qk_err *e)
{
    switch (e->code) {
    case QK_ETIMEOUT:
        return 504;
    case QK_ECANCELED:
        return 499;
    case QK_EBUSY:
        return 429;
    case QK_ETOOBIG:
        return 413;
    case QK_EEXIST:
    case QK_ECONFLICT:
        return 409;
    case QK_ECONSTRAINT:
        return 400;
    case QK_EINVAL:
    case QK_EPARSE:
    case QK_EIO: /* DuckDB's IOException: a missing or unreadable file named in the SQL */
    case QK_EDENIED:
    case QK_ENOTFOUND:
    case QK_ESQL:
        return internal_type(qk_err_type(e)) ? 500 : 400;
    default:
        return 500;
    }
}

static void fail(qk_reply *r, const qk_err *e)
{
    int status = qk_status_for_error(e);
    qk_reply_error(r, status, qk_err_type(e), e->msg[0] ? e->msg : qk_strerror(e->code));
    r->drop = status == 499;
}

/* ---- running a statement ----------------------------------------------------------------- */

/* The engine's cancel callback: has the client hung up? Polled at most every 10 ms. */
static int client_gone(void *ud)
{
    qk_req_ctx *c = ud;
    struct pollfd p;
    int64_t now = qk_now_ms();
    if (c->fd < 0 || now < c->next_check_ms) return 0;
    c->next_check_ms = now + 10;
    p.fd = c->fd;
    p.events = POLLRDHUP;
    p.revents = 0;
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Take a query slot for sql (QK_EBUSY when none is free), log the SQL at debug level and
 * count the query. Release the slot with qk_metrics_leave. */
static int take_slot(qk_server *s, qk_req_ctx *c, const char *sql, qk_err *err)
{
    if (!qk_metrics_enter(&s->metrics, s->cfg.max_concurrency))
        return qk_errtf(err, QK_EBUSY, "TooManyRequests",
                        "too many queries in flight (max %d): retry later", s->cfg.max_concurrency);
    if (qk_log_get_level() <= QK_LOG_DEBUG) {
        qk_buf l;
        qk_buf_init(&l, 1024);
        qk_buf_add_json_str(&l, sql, strnlen(sql, 200));
        qk_log(QK_LOG_DEBUG, "sql", "\"id\":\"%s\",\"sql\":%s", c->id, qk_buf_cstr(&l));
        qk_buf_free(&l);
    }
    qk_metrics_count_query(&s->metrics);
    return 0;
}

/* Run sql in a query slot. On success the slot is still held: release it with
 * qk_metrics_leave after encoding. */
static int run(qk_server *s, qk_req_ctx *c, const char *sql, int64_t limit, qk_result **out,
               qk_err *err)
{
    qk_query_opts o = {limit, s->cfg.timeout_ms, client_gone, c, false};
    int rc;
    if ((rc = take_slot(s, c, sql, err))) return rc;
    rc = qk_lake_query(s->engine, sql, &o, out, err);
    if (rc) qk_metrics_leave(&s->metrics);
    return rc;
}

/* Plan and fan out sql over the server's workers, in a query slot (held on success). */
static int run_distributed(qk_server *s, qk_req_ctx *c, const char *sql, int64_t limit,
                           qk_result **out, qk_dist_run_stats *st, qk_err *err)
{
    qk_dist_coord_opts o;
    qk_dist_plan_opts po = {.shard_bytes = s->cfg.dist_shard_bytes,
                            .small_bytes = s->cfg.dist_small_bytes};
    int rc;
    if (!s->cfg.nworkers)
        return qk_errtf(err, QK_EINVAL, "BadRequest",
                        "\"distributed\": true needs a server started with --workers or --lambda");
    qk_dist_coord_opts_init(&o);
    o.workers = s->cfg.workers;
    o.nworkers = s->cfg.nworkers;
    o.parallel = s->cfg.dist_parallel;
    o.limit = limit;
    o.timeout_ms = s->cfg.timeout_ms;
    o.cancelled = client_gone;
    o.cancel_ud = c;
    if ((rc = take_slot(s, c, sql, err))) return rc;
    rc = qk_dist_query(s->engine, sql, &po, &o, out, st, err);
    if (rc) qk_metrics_leave(&s->metrics);
    return rc;
}

/* The optional "distributed" member of a /query body (request.c ignores it). */
static int distributed_flag(const qk_req_ctx *c, bool *out, qk_err *err)
{
    json_t *root = NULL, *v;
    int rc = qk_json_req_object(c->body.data ? c->body.data : "", c->body.len, &root, err);
    *out = false;
    if (rc) return rc;
    v = json_object_get(root, "distributed");
    if (v && !json_is_null(v) && !json_is_boolean(v))
        rc = qk_errtf(err, QK_EINVAL, "BadRequest", "\"distributed\" must be a boolean");
    *out = json_is_true(v);
    json_decref(root);
    return rc;
}

static int encode(qk_result *res, qk_format fmt, size_t cap, int width, qk_buf *out,
                  qk_encode_stats *st, qk_err *err)
{
    qk_encode_opts eo;
    qk_encode_opts_init(&eo);
    eo.max_bytes = cap ? cap : 1;
    eo.table_width = width;
    memset(st, 0, sizeof *st);
    return qk_encode_result(res, fmt, &eo, out, st, err);
}

static size_t room_after(size_t max, size_t used)
{
    return used + ENVELOPE_SLACK < max ? max - used - ENVELOPE_SLACK : 0;
}

/* ---- POST /invoke: the seed contract, built by lake/invoke.c ---------------------------- */

static void invoke_opts(qk_server *s, qk_req_ctx *c, qk_invoke_opts *o)
{
    memset(o, 0, sizeof *o);
    o->event_id = c->id;
    o->timeout_ms = s->cfg.timeout_ms;
    o->cancelled = client_gone;
    o->cancel_ud = c;
    o->max_response = s->cfg.max_response;
    o->max_envelope = 2 * s->cfg.max_body + 1024;
    o->cap_name = "--max-response";
}

void qk_handle_invoke(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    qk_invoke_req req;
    qk_invoke_opts o;
    qk_invoke_stats st;
    qk_err err = {0};
    bool query = false;
    int rc;
    qk_reply_header(r, "X-Quack-Query-Id", "%s", c->id);
    rc = qk_invoke_parse(c->body.data ? c->body.data : "", c->body.len, s->cfg.max_limit, &c->arena,
                         &req, &err);
    if (rc) {
        fail(r, &err);
        return;
    }
    /* The seed answers "no query" with no records, without a query slot. */
    if (req.q && *req.q) {
        if ((rc = take_slot(s, c, req.q, &err))) {
            fail(r, &err);
            return;
        }
        query = true;
    }
    invoke_opts(s, c, &o);
    rc = qk_invoke_run(s->engine, &req, &o, &r->body, &st, &err);
    if (query) qk_metrics_leave(&s->metrics);
    if (rc) {
        fail(r, &err);
        return;
    }
    r->rows = st.rows;
    qk_reply_header(r, "X-Quack-Truncated", "%s", st.truncated ? "true" : "false");
}

/* ---- POST /query ------------------------------------------------------------------------- */

static const char *truncated_by(const qk_result *res, const qk_encode_stats *st)
{
    if (st->truncated) return "bytes";
    if (qk_result_limited(res)) return "limit";
    return NULL;
}

static int query_json_body(qk_server *s, qk_req_ctx *c, qk_result *res, qk_reply *r,
                           qk_encode_stats *st, const qk_dist_run_stats *dist, qk_err *err)
{
    qk_buf rec;
    const char *by;
    int rc = qk_buf_adds(&r->body, "{\"columns\":");
    if (!rc) rc = qk_encode_columns_json(res, &r->body);
    if (!rc) rc = qk_buf_adds(&r->body, ",\"records\":");
    if (rc) return qk_errf(err, rc, "column list too large for --max-response");
    qk_buf_init(&rec, s->cfg.max_response);
    rc = encode(res, QK_FMT_JSON, room_after(s->cfg.max_response, r->body.len), 0, &rec, st, err);
    if (!rc) rc = qk_buf_add(&r->body, rec.data ? rec.data : "[]", rec.data ? rec.len : 2);
    qk_buf_free(&rec);
    if (rc) return err->code ? rc : qk_errf(err, rc, "response too large for --max-response");
    by = truncated_by(res, st);
    rc = qk_buf_printf(&r->body,
                       ",\"rowCount\":%llu,\"truncated\":%s,\"truncatedBy\":%s%s%s"
                       ",\"warm\":%s,\"queryId\":\"%s\",\"timeMs\":%.3f,\"totalMs\":%.3f",
                       (unsigned long long)st->rows, by ? "true" : "false", by ? "\"" : "",
                       by ? by : "null", by ? "\"" : "", qk_result_warm(res) ? "true" : "false",
                       c->id, qk_result_exec_ms(res), qk_now_msf() - c->t0);
    if (!rc && dist && !(rc = qk_buf_adds(&r->body, ",\"distributed\":")))
        rc = qk_dist_stats_json(dist, &r->body);
    if (!rc) rc = qk_buf_addc(&r->body, '}');
    return rc ? qk_errf(err, rc, "response too large for --max-response") : 0;
}

static void query_headers(qk_reply *r, qk_result *res, const qk_encode_stats *st,
                          const qk_dist_run_stats *dist)
{
    const char *by = truncated_by(res, st);
    if (dist) {
        qk_reply_header(r, "X-Quack-Shards", "%zu", dist->shards);
        qk_reply_header(r, "X-Quack-Retries", "%zu", dist->retries);
    }
    qk_reply_header(r, "X-Quack-Time-Ms", "%.3f", qk_result_exec_ms(res));
    qk_reply_header(r, "X-Quack-Rows", "%llu", (unsigned long long)st->rows);
    qk_reply_header(r, "X-Quack-Truncated", "%s", by ? "true" : "false");
    if (by) qk_reply_header(r, "X-Quack-Truncated-By", "%s", by);
    qk_reply_header(r, "X-Quack-Warm", "%s", qk_result_warm(res) ? "true" : "false");
}

static qk_format query_format(const qk_query_req *req, const qk_req_ctx *c)
{
    qk_format f = QK_FMT_JSON;
    if (req->has_format) return req->format;
    if (c->accept) qk_req_accept_format(c->accept, &f);
    return f;
}

void qk_handle_query(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    qk_query_req req;
    qk_result *res = NULL;
    qk_encode_stats st = {0};
    qk_err err = {0};
    qk_dist_run_stats dist;
    qk_format fmt;
    bool distributed = false;
    int rc;
    qk_reply_header(r, "X-Quack-Query-Id", "%s", c->id);
    rc = qk_req_parse_query(c->body.data ? c->body.data : "", c->body.len, s->cfg.max_limit,
                            &c->arena, &req, &err);
    if (!rc) rc = distributed_flag(c, &distributed, &err);
    if (rc) {
        fail(r, &err);
        return;
    }
    fmt = query_format(&req, c);
    if (distributed)
        rc = run_distributed(s, c, req.sql, req.limit, &res, &dist, &err);
    else
        rc = run(s, c, req.sql, req.limit, &res, &err);
    if (rc) {
        fail(r, &err);
        return;
    }
    if (fmt == QK_FMT_JSON)
        rc = query_json_body(s, c, res, r, &st, distributed ? &dist : NULL, &err);
    else
        rc = encode(res, fmt, s->cfg.max_response, req.width, &r->body, &st, &err);
    qk_metrics_leave(&s->metrics);
    if (rc) {
        fail(r, &err);
    } else {
        r->content_type = qk_format_mime(fmt);
        r->rows = st.rows;
        query_headers(r, res, &st, distributed ? &dist : NULL);
    }
    qk_result_destroy(res);
}

/* ---- POST /map: a map task of a distributed query ---------------------------------------- */

void qk_handle_map(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    qk_dist_worker_opts o = {s->cfg.timeout_ms, client_gone, c, 0};
    qk_err err = {0};
    int rc;
    qk_reply_header(r, "X-Quack-Query-Id", "%s", c->id);
    if ((rc = take_slot(s, c, "(map task)", &err))) {
        fail(r, &err);
        return;
    }
    rc = qk_dist_handle_task(s->engine, c->body.data ? c->body.data : "", c->body.len, &o, &r->body,
                             &err);
    qk_metrics_leave(&s->metrics);
    if (rc) fail(r, &err);
}

/* ---- GET /health, GET /metrics ----------------------------------------------------------- */

void qk_handle_health(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    const char *lake = qk_engine_lake(s->engine);
    (void)c;
    qk_buf_adds(&r->body, "{\"status\":\"ok\",\"lake\":");
    qk_buf_add_json_str(&r->body, lake, strlen(lake));
    qk_buf_adds(&r->body, ",\"version\":");
    qk_buf_add_json_str(&r->body, s->cfg.version, strlen(s->cfg.version));
    qk_buf_printf(&r->body, ",\"uptimeMs\":%lld,\"inFlight\":%lld}",
                  (long long)(qk_now_ms() - s->started_ms), (long long)qk_server_in_flight(s));
}

void qk_handle_metrics(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    (void)c;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (qk_metrics_render(&s->metrics, &r->body) != 0)
        qk_reply_error(r, 500, "InternalError", "metrics text too large");
}
