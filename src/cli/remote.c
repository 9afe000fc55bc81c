/* SPDX-License-Identifier: MIT */
/*
 * remote.c: the CLI's client for a running `quack serve` (POST /query, docs/http-api.md).
 * Sends {"sql","limit","format","width"} with libcurl, collects the body (bounded) and the
 * X-Quack-* metadata headers, and turns error responses ({"errorMessage","errorType"}) and
 * transport failures into a qk_err.
 */
#include "cli/remote.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REMOTE_BODY_MAX (256u << 20)

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    qk_buf *b = ud;
    return qk_buf_add(b, p, size * n) == 0 ? size * n : 0;
}

/* Copy the value of "Name: value\r\n" into dst when the header matches. */
static void header_value(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name), v;
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
    for (v = nl + 1; v < len && line[v] == ' '; v++) {
    }
    size_t end = len;
    while (end > v && (line[end - 1] == '\r' || line[end - 1] == '\n'))
        end--;
    size_t n = end - v < cap - 1 ? end - v : cap - 1;
    memcpy(dst, line + v, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    qk_remote_reply *r = ud;
    size_t len = size * n;
    char tmp[64] = "";
    header_value(p, len, "X-Quack-Time-Ms", tmp, sizeof tmp);
    if (tmp[0]) r->time_ms = strtod(tmp, NULL);
    tmp[0] = '\0';
    header_value(p, len, "X-Quack-Rows", tmp, sizeof tmp);
    if (tmp[0]) r->rows = strtoull(tmp, NULL, 10);
    tmp[0] = '\0';
    header_value(p, len, "X-Quack-Warm", tmp, sizeof tmp);
    if (tmp[0]) r->warm = strcmp(tmp, "true") == 0;
    tmp[0] = '\0';
    header_value(p, len, "X-Quack-Truncated", tmp, sizeof tmp);
    if (tmp[0]) r->truncated = strcmp(tmp, "true") == 0;
    header_value(p, len, "X-Quack-Truncated-By", r->truncated_by, sizeof r->truncated_by);
    header_value(p, len, "X-Quack-Query-Id", r->query_id, sizeof r->query_id);
    return len;
}

static char *request_body(const qk_remote_request *q)
{
    json_t *o = json_object();
    json_object_set_new(o, "sql", json_string(q->sql));
    json_object_set_new(o, "limit", json_integer(q->limit));
    json_object_set_new(o, "format", json_string(q->format));
    if (q->width > 0) json_object_set_new(o, "width", json_integer(q->width));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Error body {"errorMessage","errorType"} -> err; else a generic HTTP status error. */
static int error_from_body(long status, const qk_buf *body, qk_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(body->data ? body->data : "", body->len, 0, &je);
    const char *msg = o ? json_string_value(json_object_get(o, "errorMessage")) : NULL;
    const char *type = o ? json_string_value(json_object_get(o, "errorType")) : NULL;
    if (msg)
        qk_errtf(err, QK_EHTTP, type ? type : "", "%s", msg);
    else
        qk_errf(err, QK_EHTTP, "server answered HTTP %ld: %.200s", status, qk_buf_cstr(body));
    json_decref(o);
    return QK_EHTTP;
}

int qk_remote_query(const qk_remote_request *q, qk_remote_reply *r, qk_err *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[2048], auth[1100], errbuf[CURL_ERROR_SIZE] = "";
    char *body = NULL;
    long status = 0;
    int rc = 0;
    if (!c) return qk_errf(err, QK_ENOMEM, "cannot initialise libcurl");
    size_t el = strlen(q->endpoint);
    while (el && q->endpoint[el - 1] == '/')
        el--;
    snprintf(url, sizeof url, "%.*s/query", (int)el, q->endpoint);
    body = request_body(q);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (q->token && *q->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %.1024s", q->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    qk_buf_init(&r->body, REMOTE_BODY_MAX);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (q->timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        rc = qk_errf(err, QK_EHTTP, "cannot reach %s: %s", url,
                     errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (status < 200 || status > 299) rc = error_from_body(status, &r->body, err);
out:
    curl_slist_free_all(hdrs);
    free(body);
    curl_easy_cleanup(c);
    return rc;
}

void qk_remote_reply_free(qk_remote_reply *r)
{
    if (r) qk_buf_free(&r->body);
}
