/* SPDX-License-Identifier: MIT */
/*
 * transport.c: the call pool over one libcurl multi handle, and the HTTP worker transport
 * (transport.h). The Lambda transport is in lambda_invoke.c; both plug into the pool through
 * qk_dist_transport_ops (dist_int.h).
 *
 * A call owns its easy handle, header list, a copy of the request body and the response body
 * (bounded by QK_DIST_ANSWER_MAX). poll() runs curl_multi_perform, moves completed transfers
 * to a done queue (their outcome decided by the transport's finish op) and waits in
 * curl_multi_poll when nothing completed. Freeing a running call removes its handle from the
 * multi handle, which aborts the transfer (the connection is closed, so the worker sees the
 * client go away and its own cancel check stops the query).
 */
#include "dist/dist_int.h"
#include "dist/task.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_MS 5000
#define ERR_BODY_SHOWN 200

struct qk_dist_call {
    qk_dist_pool *pool;
    qk_dist_transport *t;
    void *ud;
    CURL *h;
    struct curl_slist *headers;
    char *body;
    qk_buf resp;
    bool fn_error, running, done, unreachable;
    int rc;
    qk_err err;
    char curl_err[CURL_ERROR_SIZE];
    qk_dist_call *prev, *next; /* every call of the pool */
    qk_dist_call *done_next;   /* finished, not yet returned by poll */
};

struct qk_dist_pool {
    CURLM *m;
    qk_dist_call *calls;
    qk_dist_call *done_head, *done_tail;
    size_t running;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the pool ---------------------------------------------------------------------------------
 */

int qk_dist_pool_new(qk_dist_pool **out, qk_err *err)
{
    qk_dist_pool *p;
    pthread_once(&curl_once, curl_init_once);
    if (!(p = calloc(1, sizeof *p)) || !(p->m = curl_multi_init())) {
        free(p);
        return qk_errf(err, QK_ENOMEM, "cannot create a curl multi handle");
    }
    *out = p;
    return 0;
}

void qk_dist_pool_destroy(qk_dist_pool *p)
{
    if (!p) return;
    while (p->calls)
        qk_dist_call_free(p->calls);
    curl_multi_cleanup(p->m);
    free(p);
}

size_t qk_dist_pool_running(const qk_dist_pool *p)
{
    return p->running;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    qk_dist_call *c = ud;
    size_t n = size * nmemb;
    return qk_buf_add(&c->resp, data, n) == 0 ? n : 0; /* 0 aborts: the answer is too large */
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
    qk_dist_call *c = ud;
    size_t n = size * nmemb;
    static const char name[] = "x-amz-function-error:";
    if (n >= sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) c->fn_error = true;
    /* A new response (after a redirect or 100 Continue) starts over. */
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) c->fn_error = false;
    return n;
}

static void common_opts(qk_dist_call *c, int64_t timeout_ms)
{
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->t->connect_timeout_ms);
    if (timeout_ms > 0) curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_POST, 1L);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
}

static void link_call(qk_dist_pool *p, qk_dist_call *c)
{
    c->next = p->calls;
    if (p->calls) p->calls->prev = c;
    p->calls = c;
}

int qk_dist_send(qk_dist_pool *p, qk_dist_transport *t, const char *body, size_t len,
                 int64_t timeout_ms, void *ud, qk_dist_call **out, qk_err *err)
{
    qk_dist_call *c = calloc(1, sizeof *c);
    int rc;
    *out = NULL;
    if (!c || !(c->body = malloc(len + 1)) || !(c->h = curl_easy_init())) {
        if (c) free(c->body);
        free(c);
        return qk_errf(err, QK_ENOMEM, "out of memory starting a call to %s", t->name);
    }
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->pool = p, c->t = t, c->ud = ud;
    qk_buf_init(&c->resp, QK_DIST_ANSWER_MAX);
    link_call(p, c);
    common_opts(c, timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if ((rc = t->ops->prepare(t, c->h, c->body, len, &c->headers, err))) goto fail;
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->headers);
    if (curl_multi_add_handle(p->m, c->h) != CURLM_OK) {
        rc = qk_errf(err, QK_EINTERNAL, "%s: curl_multi_add_handle failed", t->name);
        goto fail;
    }
    c->running = true;
    p->running++;
    *out = c;
    return 0;
fail:
    qk_dist_call_free(c);
    return rc;
}

/* Decide the outcome of a completed transfer. */
static void complete(qk_dist_call *c, CURLcode cc)
{
    long status = 0;
    if (cc != CURLE_OK) {
        const char *m = c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc);
        c->unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                         cc == CURLE_COULDNT_RESOLVE_PROXY;
        if (cc == CURLE_WRITE_ERROR && c->resp.len + CURL_MAX_WRITE_SIZE > c->resp.max)
            c->rc = qk_errf(&c->err, QK_ETOOBIG, "%s: answer larger than %zu bytes", c->t->name,
                            c->resp.max);
        else
            c->rc = qk_errf(&c->err, cc == CURLE_OPERATION_TIMEDOUT ? QK_ETIMEOUT : QK_EIO,
                            "%s: %s", c->t->name, m);
        return;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    c->rc = c->t->ops->finish(c->t, status, c->fn_error, &c->resp, &c->err);
}

static void collect_done(qk_dist_pool *p)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(p->m, &left))) {
        qk_dist_call *c = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (!c || c->done) continue;
        complete(c, msg->data.result);
        curl_multi_remove_handle(p->m, c->h);
        c->running = false;
        c->done = true;
        p->running--;
        if (p->done_tail)
            p->done_tail->done_next = c;
        else
            p->done_head = c;
        p->done_tail = c;
    }
}

static qk_dist_call *pop_done(qk_dist_pool *p)
{
    qk_dist_call *c = p->done_head;
    if (!c) return NULL;
    p->done_head = c->done_next;
    if (!p->done_head) p->done_tail = NULL;
    c->done_next = NULL;
    return c;
}

int qk_dist_pool_poll(qk_dist_pool *p, int wait_ms, qk_dist_call **done, qk_err *err)
{
    int still = 0;
    CURLMcode mc;
    *done = NULL;
    if ((*done = pop_done(p))) return 0;
    if ((mc = curl_multi_perform(p->m, &still)) != CURLM_OK)
        return qk_errf(err, QK_EINTERNAL, "curl_multi_perform: %s", curl_multi_strerror(mc));
    collect_done(p);
    if ((*done = pop_done(p))) return 0;
    if (wait_ms > 0 && (mc = curl_multi_poll(p->m, NULL, 0, wait_ms, NULL)) != CURLM_OK)
        return qk_errf(err, QK_EINTERNAL, "curl_multi_poll: %s", curl_multi_strerror(mc));
    if ((mc = curl_multi_perform(p->m, &still)) != CURLM_OK)
        return qk_errf(err, QK_EINTERNAL, "curl_multi_perform: %s", curl_multi_strerror(mc));
    collect_done(p);
    *done = pop_done(p);
    return 0;
}

/* ---- calls ------------------------------------------------------------------------------------
 */

int qk_dist_call_result(const qk_dist_call *c, const qk_buf **body, qk_err *err)
{
    *body = NULL;
    if (!c->done) return qk_errf(err, QK_EINTERNAL, "%s: call not finished", c->t->name);
    if (c->rc) {
        if (err) *err = c->err;
        return c->rc;
    }
    *body = &c->resp;
    return 0;
}

bool qk_dist_call_unreachable(const qk_dist_call *c)
{
    return c->unreachable;
}

void *qk_dist_call_ud(const qk_dist_call *c)
{
    return c->ud;
}

qk_dist_transport *qk_dist_call_transport(const qk_dist_call *c)
{
    return c->t;
}

static void unlink_call(qk_dist_pool *p, qk_dist_call *c)
{
    qk_dist_call **pp;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->calls = c->next;
    if (c->next) c->next->prev = c->prev;
    for (pp = &p->done_head; *pp; pp = &(*pp)->done_next)
        if (*pp == c) {
            *pp = c->done_next;
            break;
        }
    p->done_tail = NULL;
    for (qk_dist_call *d = p->done_head; d; d = d->done_next)
        p->done_tail = d;
}

void qk_dist_call_free(qk_dist_call *c)
{
    if (!c) return;
    if (c->running) {
        curl_multi_remove_handle(c->pool->m, c->h);
        c->pool->running--;
    }
    unlink_call(c->pool, c);
    if (c->h) curl_easy_cleanup(c->h);
    curl_slist_free_all(c->headers);
    qk_buf_free(&c->resp);
    free(c->body);
    free(c);
}

/* ---- errors from bodies ------------------------------------------------------------------------
 */

static const char *first_str(json_t *o, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(o, *keys);
        if (json_is_string(v)) return json_string_value(v);
    }
    return NULL;
}

int qk_dist_body_error(const char *what, long status, const qk_buf *body, qk_err *err)
{
    static const char *const msg_keys[] = {"errorMessage", "message", "Message", NULL};
    static const char *const type_keys[] = {"errorType", "__type", "Type", "type", NULL};
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    const char *msg = json_is_object(j) ? first_str(j, msg_keys) : NULL;
    const char *type = json_is_object(j) ? first_str(j, type_keys) : NULL;
    char tbuf[QK_ERR_TYPE_MAX];
    int code = status == 429 || status == 503 ? QK_EBUSY : QK_EHTTP;
    size_t tl;
    if (type) {
        qk_strlcpy(tbuf, type, sizeof tbuf);
        tl = strlen(tbuf);
        if (!strcmp(tbuf, "Timeout"))
            code = QK_ETIMEOUT;
        else if (tl > 9 && !strcmp(tbuf + tl - 9, "Exception") && status < 500 && status != 429)
            code = QK_ESQL;
    }
    if (msg)
        qk_errtf(err, code, type ? tbuf : "WorkerError", "%s: %s", what, msg);
    else
        qk_errtf(err, code, "WorkerError", "%s: HTTP %ld: %.*s", what, status,
                 (int)(body->len < ERR_BODY_SHOWN ? body->len : ERR_BODY_SHOWN),
                 body->data ? body->data : "");
    json_decref(j);
    return code;
}

/* ---- the HTTP worker ---------------------------------------------------------------------------
 */

typedef struct http_transport {
    qk_dist_transport base;
    char *url;  /* <base>/map */
    char *auth; /* "Authorization: Bearer <token>" or NULL */
} http_transport;

static int http_prepare(qk_dist_transport *t, CURL *h, const char *body, size_t len,
                        struct curl_slist **headers, qk_err *err)
{
    http_transport *ht = (http_transport *)t;
    struct curl_slist *l = NULL, *n;
    (void)body, (void)len;
    curl_easy_setopt(h, CURLOPT_URL, ht->url);
    const char *lines[] = {"Content-Type: application/json", "Expect:", ht->auth};
    for (size_t i = 0; i < 3; i++) {
        if (!lines[i]) continue;
        if (!(n = curl_slist_append(l, lines[i]))) {
            curl_slist_free_all(l);
            return qk_errf(err, QK_ENOMEM, "out of memory");
        }
        l = n;
    }
    *headers = l;
    return 0;
}

static int http_finish(qk_dist_transport *t, long status, bool fn_error, const qk_buf *body,
                       qk_err *err)
{
    (void)fn_error;
    if (status == 200) return 0;
    return qk_dist_body_error(t->name, status, body, err);
}

static void http_destroy(qk_dist_transport *t)
{
    http_transport *ht = (http_transport *)t;
    free(ht->url);
    free(ht->auth);
    free(ht);
}

static const qk_dist_transport_ops http_ops = {"http", http_prepare, http_finish, http_destroy};

/* http(s)://host[:port][/path]: no blanks or control characters, no userinfo, query or
 * fragment. *len: the length without trailing '/'s. */
static int check_url(const char *url, size_t *len, qk_err *err)
{
    size_t n = strlen(url), hostlen;
    const char *host;
    if (qk_str_startswith(url, "http://"))
        host = url + 7;
    else if (qk_str_startswith(url, "https://"))
        host = url + 8;
    else
        return qk_errf(err, QK_EINVAL, "worker URL '%.100s' must start with http:// or https://",
                       url);
    hostlen = strcspn(host, "/");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || (unsigned char)*p == 127)
            return qk_errf(err, QK_EINVAL, "worker URL '%.100s' has a blank, '?' or '#' in it",
                           url);
    if (hostlen == 0 || memchr(host, '@', hostlen) || host[0] == ':')
        return qk_errf(err, QK_EINVAL, "worker URL '%.100s' has no usable host", url);
    if (n > 1024) return qk_errf(err, QK_EINVAL, "worker URL is longer than 1024 bytes");
    while (n > (size_t)(host - url) + hostlen && url[n - 1] == '/')
        n--;
    *len = n;
    return 0;
}

int qk_dist_transport_http(const char *url, const char *token, qk_dist_transport **out, qk_err *err)
{
    http_transport *t;
    size_t n = 0;
    qk_buf b;
    int rc;
    *out = NULL;
    if ((rc = check_url(url, &n, err))) return rc;
    if (!(t = calloc(1, sizeof *t))) return qk_errf(err, QK_ENOMEM, "out of memory");
    t->base.ops = &http_ops;
    t->base.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    snprintf(t->base.name, sizeof t->base.name, "worker %.*s", (int)n, url);
    qk_buf_init(&b, 2048);
    qk_buf_printf(&b, "%.*s/map", (int)n, url);
    t->url = qk_buf_detach(&b, NULL);
    if (token && *token) {
        if (strpbrk(token, "\r\n")) {
            http_destroy(&t->base);
            return qk_errf(err, QK_EINVAL, "the worker token has a line break in it");
        }
        qk_buf_init(&b, 8192);
        qk_buf_printf(&b, "Authorization: Bearer %s", token);
        t->auth = qk_buf_detach(&b, NULL);
    }
    if (!t->url || (token && *token && !t->auth)) {
        http_destroy(&t->base);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    *out = &t->base;
    return 0;
}

void qk_dist_transport_destroy(qk_dist_transport *t)
{
    if (t) t->ops->destroy(t);
}

const char *qk_dist_transport_name(const qk_dist_transport *t)
{
    return t->name;
}

const char *qk_dist_transport_kind(const qk_dist_transport *t)
{
    return t->ops->kind;
}

/* ---- worker lists ------------------------------------------------------------------------------
 */

static int workers_push(qk_dist_workers *w, qk_dist_transport *t, qk_err *err)
{
    qk_dist_transport **v = realloc(w->v, (w->n + 1) * sizeof *v);
    if (!v) {
        qk_dist_transport_destroy(t);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    w->v = v;
    w->v[w->n++] = t;
    return 0;
}

/* Call add(item) for each comma-separated, blank-trimmed item of csv. */
static int each_item(qk_dist_workers *w, const char *csv, const char *token, bool lambda,
                     qk_err *err)
{
    const char *p = csv;
    int rc, items = 0;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[1100];
        qk_dist_transport *t = NULL;
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= sizeof item) return qk_errf(err, QK_EINVAL, "worker '%.64s...' is too long", p);
        if (n) {
            memcpy(item, p, n);
            item[n] = '\0';
            rc = lambda ? qk_dist_transport_lambda(item, &t, err)
                        : qk_dist_transport_http(item, token, &t, err);
            if (rc || (rc = workers_push(w, t, err))) return rc;
            items++;
            if (lambda) w->nlambda++;
        }
        p = end ? end + 1 : NULL;
    }
    if (!items)
        return qk_errf(err, QK_EINVAL, "no %s given", lambda ? "Lambda function" : "worker URL");
    return 0;
}

int qk_dist_workers_add_http(qk_dist_workers *w, const char *csv, const char *token, qk_err *err)
{
    return each_item(w, csv, token, false, err);
}

int qk_dist_workers_add_lambda(qk_dist_workers *w, const char *csv, qk_err *err)
{
    return each_item(w, csv, NULL, true, err);
}

void qk_dist_workers_free(qk_dist_workers *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++)
        qk_dist_transport_destroy(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}
