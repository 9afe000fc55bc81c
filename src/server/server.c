/* SPDX-License-Identifier: MIT */
/*
 * server.c: the HTTP daemon (libmicrohttpd, one thread per connection, poll()).
 *
 * A request, as MHD calls us:
 *   1. first callback: make a qk_req_ctx, route it, and decide what can be decided from the
 *      headers alone: 503 while stopping, 404, 405 (+Allow), 401 (+WWW-Authenticate), 413 when
 *      Content-Length is over max_body. When the client waits for "100-continue" (or
 *      declares more than DISCARD_MAX) such an answer is sent at once, so the body is never
 *      sent (MHD then closes the connection); otherwise it is kept for step 3, after the body
 *      was read and dropped, so the client sees it and a keep-alive connection stays open.
 *   2. body callbacks: append to ctx->body up to max_body; past it, or after an early
 *      answer, drop bytes (at most DISCARD_MAX, then close the connection) and answer in
 *      step 3.
 *   3. last callback: call the endpoint's handler (handlers.c) and queue its qk_reply; a
 *      reply marked drop (the client left mid-query) closes the connection instead.
 *   4. completion: one JSON log line (id, method, path, status, ms, rows, bytes, errorType;
 *      never the token or the body) and the metrics.
 * Stop: set stopping, MHD_quiesce_daemon (no new connections), wait for active requests
 * (those between steps 1 and 4) up to the grace period, MHD_stop_daemon.
 */
#include "server/server_int.h"

#include <microhttpd.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DISCARD_MAX ((size_t)64 << 20) /* body bytes dropped after 413 before hanging up */
#define IDLE_TIMEOUT_S 60u             /* keep-alive connections idle longer are closed */

typedef struct route {
    const char *path;
    qk_endpoint ep;
    bool post;     /* POST only; otherwise GET and HEAD */
    bool auth;     /* needs the token when one is set */
    bool subpaths; /* also path/...; GET, HEAD and POST: the handler checks the method */
    void (*handle)(qk_server *, qk_req_ctx *, qk_reply *);
} route;

static const route routes[] = {
    {"/invoke", QK_EP_INVOKE, true, true, false, qk_handle_invoke},
    {"/query", QK_EP_QUERY, true, true, false, qk_handle_query},
    /* counted as "other" in the metrics until metrics.c names the endpoint */
    {"/map", QK_EP_MAP, true, true, false, qk_handle_map},
    {"/health", QK_EP_HEALTH, false, false, false, qk_handle_health},
    {"/metrics", QK_EP_METRICS, false, true, false, qk_handle_metrics},
    {"/tables", QK_EP_TABLES, false, true, true, qk_handle_tables},
    {"/lineage", QK_EP_LINEAGE, false, true, false, qk_handle_lineage},
};

void qk_server_config_defaults(qk_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_concurrency = 16;
    c->connection_limit = 512;
    c->timeout_ms = 30000;
    c->max_body = (size_t)1 << 20;
    c->max_response = (size_t)6 << 20;
    c->max_limit = 1000000;
    c->version = "0";
}

int qk_server_port(const qk_server *s)
{
    return s->port;
}

int64_t qk_server_in_flight(const qk_server *s)
{
    return atomic_load(&((qk_server *)s)->metrics.in_flight);
}

/* ---- per-request state -------------------------------------------------------------------- */

static const route *find_route(const char *url)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].path);
        if (strcmp(url, routes[i].path) == 0) return &routes[i];
        if (routes[i].subpaths && !strncmp(url, routes[i].path, n) && url[n] == '/')
            return &routes[i];
    }
    return NULL;
}

const char *qk_req_arg(const qk_req_ctx *c, const char *key)
{
    return c->conn ? MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key) : NULL;
}

static int connection_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static qk_req_ctx *ctx_new(qk_server *s, struct MHD_Connection *conn, const char *url,
                           const char *method)
{
    qk_req_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = s;
    c->t0 = qk_now_msf();
    qk_uuid4(c->id);
    qk_strlcpy(c->method, method, sizeof c->method);
    qk_strlcpy(c->path, url, sizeof c->path);
    c->fd = connection_fd(conn);
    c->conn = conn;
    qk_buf_init(&c->body, s->cfg.max_body);
    qk_arena_init(&c->arena, 2 * s->cfg.max_body + 65536);
    c->url = qk_arena_strdup(&c->arena, url);
    if (!c->url) c->url = c->path;
    qk_reply_init(&c->early, 4096);
    atomic_fetch_add(&s->active, 1);
    return c;
}

static void ctx_free(qk_req_ctx *c)
{
    qk_buf_free(&c->body);
    qk_arena_free(&c->arena);
    qk_reply_free(&c->early);
    free(c);
}

/* ---- replies ------------------------------------------------------------------------------ */

static void note_outcome(qk_req_ctx *c, const qk_reply *r, size_t bytes)
{
    c->status = r->status;
    c->rows = r->rows;
    c->bytes = bytes;
    qk_strlcpy(c->error_type, r->error_type, sizeof c->error_type);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, qk_req_ctx *c, qk_reply *r)
{
    size_t len = 0;
    char *data = qk_buf_detach(&r->body, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret;
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    note_outcome(c, r, len);
    return ret;
}

static void early_error(qk_req_ctx *c, int status, const char *type, const char *msg)
{
    qk_reply_error(&c->early, status, type, msg);
    c->has_early = true;
}

/* ---- step 1: what the headers decide ----------------------------------------------------- */

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return header(conn, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (cl && strcmp(cl, "0") != 0);
}

/* Whether an early answer must be sent before the body is read. A client that sent
 * "Expect: 100-continue" waits for it and sends no body. One that is already sending would
 * get a TCP reset, and may lose the answer, if we closed on unread bytes: its body is read
 * and dropped instead (step 2), unless it declares more than DISCARD_MAX. */
static bool answer_before_body(struct MHD_Connection *conn)
{
    const char *ex = header(conn, MHD_HTTP_HEADER_EXPECT);
    const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    if (!has_body(conn)) return false;
    if (ex && strcasecmp(ex, "100-continue") == 0) return true;
    return cl && strtoull(cl, &end, 10) > DISCARD_MAX;
}

static bool declared_too_big(qk_server *s, struct MHD_Connection *conn)
{
    const char *cl = header(conn, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n;
    if (!cl) return false;
    n = strtoull(cl, &end, 10);
    return *end == '\0' && n > s->cfg.max_body;
}

/* 0 when authorized; else 1 (no token sent) or 2 (wrong token). Constant time in the token. */
static int check_token(qk_server *s, struct MHD_Connection *conn)
{
    const char *h = header(conn, MHD_HTTP_HEADER_AUTHORIZATION);
    unsigned char got[SHA256_DIGEST_LENGTH];
    if (!s->token) return 0;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 1;
    for (h += 7; *h == ' '; h++) {
    }
    SHA256((const unsigned char *)h, strlen(h), got);
    return CRYPTO_memcmp(got, s->token_hash, sizeof got) == 0 ? 0 : 2;
}

static void check_auth(qk_server *s, struct MHD_Connection *conn, qk_req_ctx *c)
{
    int why = check_token(s, conn);
    if (!why) return;
    early_error(c, 401, "Unauthorized",
                why == 1 ? "missing bearer token: send 'Authorization: Bearer <token>'"
                         : "invalid bearer token");
    qk_reply_header(&c->early, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"quack\"");
}

static void precheck(qk_server *s, struct MHD_Connection *conn, qk_req_ctx *c, const route *rt,
                     const char *method)
{
    char msg[200];
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (atomic_load(&s->stopping)) {
        early_error(c, 503, "ShuttingDown", "the server is shutting down");
        qk_reply_header(&c->early, MHD_HTTP_HEADER_CONNECTION, "close");
    } else if (!rt) {
        snprintf(msg, sizeof msg,
                 "no such endpoint: %.80s (try POST /invoke, POST /query, "
                 "POST /map, GET /health, GET /metrics, GET /tables, GET /lineage)",
                 c->path);
        early_error(c, 404, "NotFound", msg);
    } else if (rt->subpaths ? !get && strcmp(method, "POST") != 0
               : rt->post   ? strcmp(method, "POST") != 0
                            : !get) {
        snprintf(msg, sizeof msg, "%.16s is not allowed on %s (use %s)", method, rt->path,
                 rt->post ? "POST" : "GET");
        early_error(c, 405, "MethodNotAllowed", msg);
        qk_reply_header(&c->early, MHD_HTTP_HEADER_ALLOW, "%s", rt->post ? "POST" : "GET, HEAD");
    } else if (rt->auth) {
        check_auth(s, conn, c);
    }
    if (!c->has_early && declared_too_big(s, conn)) {
        snprintf(msg, sizeof msg, "request body is larger than the limit of %zu bytes",
                 s->cfg.max_body);
        early_error(c, 413, "PayloadTooLarge", msg);
    }
}

static enum MHD_Result begin(qk_server *s, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    qk_req_ctx *c = ctx_new(s, conn, url, method);
    const route *rt = find_route(url);
    if (!c) return MHD_NO;
    *con_cls = c;
    c->endpoint = rt ? rt->ep : QK_EP_OTHER;
    precheck(s, conn, c, rt, method);
    if (c->has_early && answer_before_body(conn)) return send_reply(conn, c, &c->early);
    return MHD_YES;
}

/* ---- steps 2 and 3 ------------------------------------------------------------------------ */

static enum MHD_Result take_body(qk_req_ctx *c, const char *data, size_t *n)
{
    if (!c->too_big && !c->has_early && qk_buf_add(&c->body, data, *n) == 0) {
        *n = 0;
        return MHD_YES;
    }
    c->too_big = true;
    c->discarded += *n;
    *n = 0;
    return c->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
}

static enum MHD_Result finish(qk_server *s, struct MHD_Connection *conn, qk_req_ctx *c,
                              const char *url)
{
    qk_reply r;
    enum MHD_Result ret;
    char msg[128];
    if (c->has_early) return send_reply(conn, c, &c->early);
    if (c->too_big) {
        snprintf(msg, sizeof msg, "request body is larger than the limit of %zu bytes",
                 s->cfg.max_body);
        early_error(c, 413, "PayloadTooLarge", msg);
        return send_reply(conn, c, &c->early);
    }
    c->accept = header(conn, MHD_HTTP_HEADER_ACCEPT);
    qk_reply_init(&r, s->cfg.max_response);
    find_route(url)->handle(s, c, &r);
    if (r.drop) {
        note_outcome(c, &r, 0);
        ret = MHD_NO;
    } else {
        ret = send_reply(conn, c, &r);
    }
    qk_reply_free(&r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    qk_req_ctx *c = *con_cls;
    (void)version;
    if (!c) return begin(cls, conn, url, method, con_cls);
    if (c->status) return MHD_YES; /* answered early; MHD drains nothing more */
    if (*upload_data_size) return take_body(c, upload_data, upload_data_size);
    return finish(cls, conn, c, url);
}

/* ---- step 4 ------------------------------------------------------------------------------- */

static void log_request(const qk_req_ctx *c, double ms, bool complete)
{
    qk_buf f;
    qk_buf_init(&f, 1024);
    qk_buf_printf(&f, "\"id\":\"%s\",\"method\":", c->id);
    qk_buf_add_json_str(&f, c->method, strlen(c->method));
    qk_buf_adds(&f, ",\"path\":");
    qk_buf_add_json_str(&f, c->path, strlen(c->path));
    qk_buf_printf(&f, ",\"status\":%d,\"ms\":%.3f,\"rows\":%llu,\"bytes\":%llu", c->status, ms,
                  (unsigned long long)c->rows, (unsigned long long)c->bytes);
    if (c->error_type[0]) {
        qk_buf_adds(&f, ",\"errorType\":");
        qk_buf_add_json_str(&f, c->error_type, strlen(c->error_type));
    }
    if (!complete) qk_buf_adds(&f, ",\"complete\":false");
    qk_log(QK_LOG_INFO, "request", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    qk_server *s = cls;
    qk_req_ctx *c = *con_cls;
    double ms;
    (void)conn;
    if (!c) return;
    if (!c->status) { /* the client left before we answered */
        c->status = 499;
        qk_strlcpy(c->error_type, "ClientClosed", sizeof c->error_type);
    }
    ms = qk_now_msf() - c->t0;
    log_request(c, ms, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || c->status == 499);
    qk_metrics_observe(&s->metrics, c->endpoint, c->status, ms / 1000.0, c->rows, c->bytes,
                       c->error_type);
    *con_cls = NULL;
    ctx_free(c);
    atomic_fetch_sub(&s->active, 1);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    qk_server *s = cls;
    char msg[QK_ERR_MSG_MAX];
    qk_buf f;
    size_t n;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (s->starting) qk_strlcpy(s->start_msg, msg, sizeof s->start_msg);
    qk_buf_init(&f, 1024);
    qk_buf_adds(&f, "\"message\":");
    qk_buf_add_json_str(&f, msg, n);
    qk_log(s->starting ? QK_LOG_WARN : QK_LOG_DEBUG, "httpd", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, bool *v6, qk_err *err)
{
    struct addrinfo hints = {0}, *ai = NULL;
    int gai;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((gai = getaddrinfo(host, NULL, &hints, &ai)) != 0)
        return qk_errf(err, QK_EINVAL, "cannot resolve --host %s: %s", host, gai_strerror(gai));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *v6 = ai->ai_family == AF_INET6;
    if (*v6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    freeaddrinfo(ai);
    return 0;
}

static struct MHD_Daemon *start_daemon(qk_server *s, struct sockaddr_storage *ss, bool v6)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* Idle keep-alive connections are closed after this (a running handler does not count
     * as idle: a query may take longer). */
    unsigned idle_s = IDLE_TIMEOUT_S;
    return MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)ss, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)s->cfg.connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
                            idle_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
}

static void log_listening(const qk_server *s, bool v6)
{
    qk_buf f;
    const char *lake = qk_engine_lake(s->engine);
    qk_buf_init(&f, 8192);
    qk_buf_printf(&f, "\"url\":\"http://%s%s%s:%d\",\"lake\":", v6 ? "[" : "", s->host,
                  v6 ? "]" : "", s->port);
    qk_buf_add_json_str(&f, lake, strlen(lake));
    qk_buf_printf(&f, ",\"auth\":%s,\"maxConcurrency\":%d,\"timeoutMs\":%lld",
                  s->token ? "true" : "false", s->cfg.max_concurrency,
                  (long long)s->cfg.timeout_ms);
    qk_log(QK_LOG_INFO, "listening", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

static void server_free(qk_server *s)
{
    qk_metrics_free(&s->metrics);
    free(s->host);
    free(s->token);
    free(s);
}

static int server_new(qk_engine *engine, const qk_server_config *cfg, qk_server **out, qk_err *err)
{
    qk_server *s = calloc(1, sizeof *s);
    if (!s || qk_metrics_init(&s->metrics) != 0) {
        free(s);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    s->cfg = *cfg;
    s->engine = engine;
    s->host = qk_xstrdup(cfg->host ? cfg->host : "127.0.0.1");
    s->cfg.host = s->host;
    if (cfg->token && *cfg->token) {
        s->token = qk_xstrdup(cfg->token);
        SHA256((const unsigned char *)s->token, strlen(s->token), s->token_hash);
    }
    s->cfg.token = s->token;
    if (!s->cfg.version) s->cfg.version = "0";
    s->started_ms = qk_now_ms();
    *out = s;
    return 0;
}

int qk_server_start(qk_engine *engine, const qk_server_config *cfg, qk_server **out, qk_err *err)
{
    qk_server *s = NULL;
    struct sockaddr_storage ss = {0};
    const union MHD_DaemonInfo *di;
    bool v6 = false;
    int rc;
    if ((rc = server_new(engine, cfg, &s, err))) return rc;
    if ((rc = resolve(s->host, cfg->port, &ss, &v6, err))) goto fail;
    s->starting = true;
    s->daemon = start_daemon(s, &ss, v6);
    s->starting = false;
    if (!s->daemon) {
        rc = qk_errf(err, QK_EIO, "cannot listen on %s port %d: %s", s->host, cfg->port,
                     s->start_msg[0] ? s->start_msg : "libmicrohttpd failed to start");
        goto fail;
    }
    di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    log_listening(s, v6);
    *out = s;
    return 0;
fail:
    server_free(s);
    return rc;
}

void qk_server_stop(qk_server *s, int64_t grace_ms)
{
    struct timespec ts = {0, 5 * 1000 * 1000};
    int64_t deadline = qk_now_ms() + grace_ms;
    MHD_socket lfd;
    if (!s) return;
    atomic_store(&s->stopping, true);
    lfd = MHD_quiesce_daemon(s->daemon);
    while (atomic_load(&s->active) > 0 && qk_now_ms() < deadline)
        nanosleep(&ts, NULL);
    if (atomic_load(&s->active) > 0)
        qk_log(QK_LOG_WARN, "shutdown_grace_expired", "\"active\":%lld",
               (long long)atomic_load(&s->active));
    MHD_stop_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    qk_log(QK_LOG_INFO, "stopped", "\"port\":%d", s->port);
    server_free(s);
}
