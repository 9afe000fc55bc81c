/* SPDX-License-Identifier: MIT */
/*
 * runtime.c: the AWS Lambda custom runtime loop (runtime.h; docs/internals/runtime.md).
 *
 *   start    signals; HOME under /tmp when not writable; configuration from the environment;
 *            the engine (one DuckDB for the life of the process). A failure here is posted to
 *            /runtime/init/error and the process exits 1 (Lambda then reports it to the
 *            caller and starts a new environment for the next invocation).
 *   loop     GET /next (no timeout; the body is read into a buffer capped at max_event, the
 *            rest discarded) -> dispatch by shape -> POST /response or /error -> GET /next.
 *   dispatch {"task":...} map task (dist/worker.h); {"Records":[...]} S3 records to
 *            the handler hook; anything else the seed's {"q","limit"} via lake/invoke.c.
 *   stop     SIGTERM/SIGINT set a flag that the curl progress callback (while waiting in
 *            /next) and the query's cancel callback (while running) both poll.
 *
 * The Runtime API is plain HTTP/1.1 on a local address: one curl easy handle is reused for
 * every request so the connection stays open (curl_easy_reset keeps the connection cache).
 * Proxies are never used for it (HTTP_PROXY may be set for the function's own traffic).
 */
#include "runtime/runtime.h"
#include "dist/worker.h"
#include "lake/invoke.h"

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define API_VERSION "2018-06-01"
#define REQUEST_ID_MAX 128
#define NEXT_RETRIES 3          /* transport failures of /next in a row before giving up */
#define POST_TIMEOUT_MS 60000   /* a response or error POST (6 MB on a local socket) */
#define CONNECT_TIMEOUT_MS 5000 /* the Runtime API is local: a slow connect means it is gone */
#define API_ANSWER_MAX 4096     /* what we keep of the API's answer to a POST, for the log */
#define S3_RECORDS_MAX 10000    /* S3 sends one record per event; more is not an S3 event */
#define MIN_QUERY_MS 50         /* a query needs at least this long before the deadline margin */

#define BAD(err, ...) qk_errtf(err, QK_EINVAL, "BadRequest", __VA_ARGS__)

/* The only global: set by SIGTERM/SIGINT, polled by curl's progress callback and the query's
 * cancel callback. */
static volatile sig_atomic_t stop_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int stop_requested(void *ud)
{
    (void)ud;
    return stop_flag != 0;
}

/* ---- configuration ------------------------------------------------------------------------ */

void qk_runtime_config_defaults(qk_runtime_config *c)
{
    memset(c, 0, sizeof *c);
    qk_engine_config_defaults(&c->engine);
    c->max_limit = 1000000;
    c->max_event = (size_t)6 << 20;
    c->max_response = QK_INVOKE_DEFAULT_MAX_RESPONSE;
    c->deadline_margin_ms = 500;
    c->s3_handler = qk_runtime_s3_log;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int env_size(const char *name, uint64_t lo, uint64_t hi, size_t *out, qk_err *err)
{
    const char *v = env(name);
    uint64_t n;
    int rc;
    if (!v) return 0;
    if ((rc = qk_parse_size(v, &n, name, err))) return rc;
    if (n < lo || n > hi)
        return qk_errf(err, QK_EINVAL, "%s: %s is out of range (%llu..%llu bytes)", name, v,
                       (unsigned long long)lo, (unsigned long long)hi);
    *out = (size_t)n;
    return 0;
}

static int env_int(const char *name, int64_t lo, int64_t hi, int64_t *out, qk_err *err)
{
    const char *v = env(name);
    return v ? qk_parse_int64(v, lo, hi, out, name, err) : 0;
}

/* "host:port": no scheme, no path, no blanks (it is pasted into URLs). */
static bool valid_api(const char *api)
{
    size_t n = strlen(api);
    return n > 0 && n < 256 && !strpbrk(api, "/ \t\r\n?#@") && strchr(api, ':');
}

/* QUACK_MEMORY_LIMIT, else 75% of the function's memory (DuckDB would otherwise size itself
 * from the host's memory, not the function's). */
static int env_memory(qk_runtime_config *c, qk_err *err)
{
    const char *v = env("QUACK_MEMORY_LIMIT");
    int64_t mb = 0;
    uint64_t bytes;
    int rc;
    if (v) {
        if ((rc = qk_parse_size(v, &bytes, "QUACK_MEMORY_LIMIT", err))) return rc;
        c->engine.memory_limit = v;
        return 0;
    }
    if ((rc = env_int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 64, 1 << 20, &mb, err))) return rc;
    if (mb) {
        snprintf(c->memory_limit, sizeof c->memory_limit, "%lldMB", (long long)(mb * 3 / 4));
        c->engine.memory_limit = c->memory_limit;
    }
    return 0;
}

int qk_runtime_config_env(qk_runtime_config *c, qk_err *err)
{
    int64_t threads = c->engine.threads;
    int rc;
    c->api = env("AWS_LAMBDA_RUNTIME_API");
    if (!c->api) return qk_errf(err, QK_EINVAL, "AWS_LAMBDA_RUNTIME_API is not set");
    if (!valid_api(c->api)) {
        c->api = NULL;
        return qk_errf(err, QK_EINVAL, "AWS_LAMBDA_RUNTIME_API: want host:port, got '%.64s'",
                       getenv("AWS_LAMBDA_RUNTIME_API"));
    }
    c->engine.lake = qk_env_str("QUACK_LAKE", "lake");
    if ((rc = env_int("QUACK_THREADS", 0, 4096, &threads, err))) return rc;
    c->engine.threads = (int)threads;
    if ((rc = env_memory(c, err))) return rc;
    if ((rc = env_int("QUACK_MAX_LIMIT", 0, INT64_MAX / 2, &c->max_limit, err))) return rc;
    if ((rc = env_size("QUACK_MAX_BODY", 64, (uint64_t)1 << 30, &c->max_event, err))) return rc;
    if ((rc = env_size("QUACK_MAX_RESPONSE", 4096, (uint64_t)2 << 30, &c->max_response, err)))
        return rc;
    if (env("QUACK_TIMEOUT") &&
        (rc = qk_parse_duration_ms(env("QUACK_TIMEOUT"), &c->timeout_ms, "QUACK_TIMEOUT", err)))
        return rc;
    return 0;
}

/* ---- the Runtime API client ---------------------------------------------------------------- */

typedef struct api {
    CURL *h;
    char base[320]; /* http://host:port/2018-06-01/runtime */
    char errbuf[CURL_ERROR_SIZE];
} api;

/* One event from /next: its headers and (up to max_event bytes of) its body. */
typedef struct event {
    char request_id[REQUEST_ID_MAX];
    char function_arn[256];
    char trace_id[512];
    int64_t deadline_ms;
    qk_buf body;
    bool too_big; /* the body was over max_event: the rest was discarded */
} event;

static int api_open(api *a, const char *hostport, qk_err *err)
{
    memset(a, 0, sizeof *a);
    snprintf(a->base, sizeof a->base, "http://%s/" API_VERSION "/runtime", hostport);
    if (!(a->h = curl_easy_init())) return qk_errf(err, QK_ENOMEM, "cannot create a curl handle");
    return 0;
}

static void api_close(api *a)
{
    if (a->h) curl_easy_cleanup(a->h);
    a->h = NULL;
}

/* Options every request needs, on a freshly reset handle (the connection survives reset). */
static void api_prepare(api *a, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", a->base, path);
    curl_easy_reset(a->h);
    a->errbuf[0] = '\0';
    curl_easy_setopt(a->h, CURLOPT_URL, url);
    curl_easy_setopt(a->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(a->h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(a->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(a->h, CURLOPT_ERRORBUFFER, a->errbuf);
}

static const char *curl_msg(const api *a, CURLcode rc)
{
    return a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc);
}

/* Copy a header's value (blanks trimmed) into dst when the line is "name: value". */
static bool header_value(const char *line, size_t n, const char *name, char *dst, size_t cap)
{
    size_t k = strlen(name), len;
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return false;
    line += k + 1, n -= k + 1;
    while (n && (*line == ' ' || *line == '\t'))
        line++, n--;
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    len = n < cap - 1 ? n : cap - 1;
    memcpy(dst, line, len);
    dst[len] = '\0';
    return true;
}

static size_t on_next_header(char *p, size_t size, size_t nmemb, void *ud)
{
    event *ev = ud;
    size_t n = size * nmemb;
    char num[32];
    header_value(p, n, "Lambda-Runtime-Aws-Request-Id", ev->request_id, sizeof ev->request_id);
    header_value(p, n, "Lambda-Runtime-Invoked-Function-Arn", ev->function_arn,
                 sizeof ev->function_arn);
    header_value(p, n, "Lambda-Runtime-Trace-Id", ev->trace_id, sizeof ev->trace_id);
    if (header_value(p, n, "Lambda-Runtime-Deadline-Ms", num, sizeof num) &&
        qk_parse_int64(num, 0, INT64_MAX, &ev->deadline_ms, "deadline", NULL) != 0)
        ev->deadline_ms = 0;
    return n;
}

static size_t on_next_body(char *p, size_t size, size_t nmemb, void *ud)
{
    event *ev = ud;
    size_t n = size * nmemb;
    if (!ev->too_big && qk_buf_add(&ev->body, p, n) != 0) ev->too_big = true;
    return n; /* past the cap: read on and discard, so the connection stays usable */
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return stop_flag ? 1 : 0;
}

/* Request ids go into URL paths: letters, digits, '-', '_', '.' only. */
static bool valid_request_id(const char *id)
{
    if (!*id) return false;
    for (; *id; id++)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
              (*id >= '0' && *id <= '9') || *id == '-' || *id == '_' || *id == '.'))
            return false;
    return true;
}

static void event_reset(event *ev)
{
    ev->request_id[0] = ev->function_arn[0] = ev->trace_id[0] = '\0';
    ev->deadline_ms = 0;
    ev->too_big = false;
    qk_buf_truncate(&ev->body, 0);
}

/* Wait for the next event. QK_ECANCELED when asked to stop; QK_EIO when the transport fails
 * (worth a retry); QK_EHTTP for a status other than 200 (the API says the runtime must exit);
 * QK_EPARSE when the event has no usable request id (nothing can be answered). */
static int api_next(api *a, event *ev, qk_err *err)
{
    CURLcode rc;
    long status = 0;
    event_reset(ev);
    api_prepare(a, "/invocation/next");
    curl_easy_setopt(a->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(a->h, CURLOPT_HEADERFUNCTION, on_next_header);
    curl_easy_setopt(a->h, CURLOPT_HEADERDATA, ev);
    curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, on_next_body);
    curl_easy_setopt(a->h, CURLOPT_WRITEDATA, ev);
    curl_easy_setopt(a->h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(a->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    rc = curl_easy_perform(a->h);
    if (stop_flag) return qk_errf(err, QK_ECANCELED, "stopping");
    if (rc != CURLE_OK)
        return qk_errf(err, QK_EIO, "GET %s/invocation/next: %s", a->base, curl_msg(a, rc));
    curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return qk_errf(err, QK_EHTTP, "GET %s/invocation/next answered %ld: %.120s", a->base,
                       status, qk_buf_cstr(&ev->body));
    if (!valid_request_id(ev->request_id))
        return qk_errf(err, QK_EPARSE, "event without a valid Lambda-Runtime-Aws-Request-Id");
    return 0;
}

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
    qk_buf *b = ud;
    size_t n = size * nmemb, room = b->max - b->len;
    qk_buf_add(b, p, n < room ? n : room);
    return n;
}

/* POST body to path; *status is the HTTP status, answer (bounded) what the API said. */
static int api_post(api *a, const char *path, const char *error_type, const qk_buf *body,
                    long *status, qk_buf *answer, qk_err *err)
{
    struct curl_slist *hdrs = NULL, *h;
    char line[128];
    CURLcode rc;
    *status = 0;
    api_prepare(a, path);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (hdrs && (h = curl_slist_append(hdrs, "Expect:"))) hdrs = h;
    if (hdrs && error_type) {
        snprintf(line, sizeof line, "Lambda-Runtime-Function-Error-Type: %s", error_type);
        if ((h = curl_slist_append(hdrs, line))) hdrs = h;
    }
    curl_easy_setopt(a->h, CURLOPT_POST, 1L);
    curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, body->len ? body->data : "");
    curl_easy_setopt(a->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
    curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(a->h, CURLOPT_TIMEOUT_MS, (long)POST_TIMEOUT_MS);
    curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, on_answer);
    curl_easy_setopt(a->h, CURLOPT_WRITEDATA, answer);
    rc = curl_easy_perform(a->h);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) return qk_errf(err, QK_EHTTP, "POST %s: %s", path, curl_msg(a, rc));
    curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* ---- logging helpers --------------------------------------------------------------------- */

/* Append ,"name":"value" (the comma only when b is not empty). */
static void add_field(qk_buf *b, const char *name, const char *value)
{
    if (b->len) qk_buf_addc(b, ',');
    qk_buf_add_json_str(b, name, strlen(name));
    qk_buf_addc(b, ':');
    if (value)
        qk_buf_add_json_str(b, value, strlen(value));
    else
        qk_buf_adds(b, "null");
}

/* One log line: "errorType" (when type is set) and "message". */
static void log_msg(qk_log_level lvl, const char *event, const char *type, const char *msg)
{
    qk_buf f;
    qk_buf_init(&f, 4096);
    if (type) add_field(&f, "errorType", type);
    add_field(&f, "message", msg);
    qk_log(lvl, event, "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

/* ---- S3 event records --------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* S3 writes keys in events form-encoded: '+' is a space, %XX a byte. A '%' not followed by
 * two hex digits stays as it is. NULL when the key decodes to a NUL byte. */
static char *s3_key_decode(qk_arena *a, const char *s, size_t n)
{
    char *out = qk_arena_alloc(a, n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '+') {
            *o++ = ' ';
        } else if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
                   (lo = hexval(s[i + 2])) >= 0) {
            if (hi == 0 && lo == 0) return NULL;
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            if (s[i] == '\0') return NULL;
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static json_t *get_path(json_t *o, const char *k1, const char *k2, const char *k3)
{
    json_t *v = json_object_get(o, k1);
    if (v && k2) v = json_object_get(v, k2);
    if (v && k3) v = json_object_get(v, k3);
    return v;
}

/* Optional string member: NULL when absent or not a string. */
static const char *opt_str(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int parse_record(json_t *j, size_t i, qk_arena *a, qk_s3_record *r, qk_err *err)
{
    json_t *key = get_path(j, "s3", "object", "key"), *size = get_path(j, "s3", "object", "size");
    const char *src;
    memset(r, 0, sizeof *r);
    if (!json_is_object(j)) return BAD(err, "Records[%zu] must be an object", i);
    if (!(src = opt_str(json_object_get(j, "eventSource"))))
        return BAD(err, "Records[%zu].eventSource must be a string", i);
    if (strcmp(src, "aws:s3") != 0)
        return qk_errtf(err, QK_EUNSUPPORTED, "UnsupportedEvent",
                        "Records[%zu]: eventSource \"%.64s\" is not supported (quack takes "
                        "\"aws:s3\" records)",
                        i, src);
    if (!(r->event_name = opt_str(json_object_get(j, "eventName"))))
        return BAD(err, "Records[%zu].eventName must be a string", i);
    if (!(r->bucket = opt_str(get_path(j, "s3", "bucket", "name"))) || !*r->bucket)
        return BAD(err, "Records[%zu].s3.bucket.name must be a non-empty string", i);
    if (!json_is_string(key) || json_string_length(key) == 0)
        return BAD(err, "Records[%zu].s3.object.key must be a non-empty string", i);
    if (!(r->key = s3_key_decode(a, json_string_value(key), json_string_length(key))))
        return BAD(err, "Records[%zu].s3.object.key is not a valid key", i);
    if (size && !json_is_null(size) && (!json_is_integer(size) || json_integer_value(size) < 0))
        return BAD(err, "Records[%zu].s3.object.size must be a non-negative integer", i);
    r->size = json_is_integer(size) ? (int64_t)json_integer_value(size) : -1;
    r->event_time = opt_str(json_object_get(j, "eventTime"));
    r->region = opt_str(json_object_get(j, "awsRegion"));
    r->etag = opt_str(get_path(j, "s3", "object", "eTag"));
    r->version_id = opt_str(get_path(j, "s3", "object", "versionId"));
    r->sequencer = opt_str(get_path(j, "s3", "object", "sequencer"));
    return 0;
}

int qk_runtime_s3_log(void *ud, qk_engine *engine, const qk_runtime_invocation *inv,
                      const qk_s3_record *recs, size_t n, qk_buf *out, qk_err *err)
{
    qk_buf f;
    (void)ud, (void)engine;
    for (size_t i = 0; i < n; i++) {
        qk_buf_init(&f, 8192);
        add_field(&f, "requestId", inv->request_id);
        add_field(&f, "eventName", recs[i].event_name);
        add_field(&f, "bucket", recs[i].bucket);
        add_field(&f, "key", recs[i].key);
        qk_buf_printf(&f, ",\"size\":%lld,\"handled\":false", (long long)recs[i].size);
        qk_log(QK_LOG_INFO, "s3_record", "%s", qk_buf_cstr(&f));
        qk_buf_free(&f);
    }
    if (qk_buf_printf(out, "{\"records\":%zu,\"handled\":false}", n) != 0)
        return qk_errf(err, QK_ETOOBIG, "response too large");
    return 0;
}

/* ---- one invocation ------------------------------------------------------------------------ */

typedef struct rt {
    const qk_runtime_config *cfg;
    api api;
    qk_engine *engine;
    uint64_t invocations;
} rt;

/* What an invocation did, for its log line. */
typedef struct outcome {
    const char *kind; /* "query", "s3", "task", "invalid" */
    uint64_t rows;
    size_t records;
    bool truncated;
} outcome;

/* A map task of a distributed query (dist/worker.h): the worker code answers it, within the
 * invocation's deadline (minus the margin) as well as the task's own. */
static int64_t query_timeout(const rt *r, const qk_runtime_invocation *inv, bool *by_deadline);

static int run_task(rt *r, const qk_runtime_invocation *inv, json_t *root, const qk_buf *body,
                    qk_buf *out, qk_err *err)
{
    json_t *t = json_object_get(root, "task");
    qk_dist_worker_opts o = {0, stop_requested, NULL, 0};
    bool by_deadline;
    int rc;
    if (!json_is_string(t)) return BAD(err, "\"task\" must be a string, e.g. \"map\"");
    if (strcmp(json_string_value(t), "map") != 0)
        return BAD(err, "unknown task \"%.64s\": the runtime knows \"map\"", json_string_value(t));
    if ((o.timeout_ms = query_timeout(r, inv, &by_deadline)) < 0)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout",
                        "the invocation's deadline is too close to run a map task");
    rc = qk_dist_handle_task(r->engine, body->data, body->len, &o, out, err);
    if (rc == QK_ECANCELED && stop_flag) qk_err_prefix(err, "the runtime is shutting down");
    return rc;
}

static int run_s3(rt *r, const qk_runtime_invocation *inv, json_t *root, qk_arena *a, qk_buf *out,
                  outcome *oc, qk_err *err)
{
    json_t *recs = json_object_get(root, "Records");
    qk_s3_record *v;
    size_t n;
    int rc;
    if (!json_is_array(recs)) return BAD(err, "\"Records\" must be an array of S3 event records");
    if ((n = json_array_size(recs)) > S3_RECORDS_MAX)
        return BAD(err, "too many Records (%zu, at most %d)", n, S3_RECORDS_MAX);
    if (!(v = qk_arena_alloc(a, (n ? n : 1) * sizeof *v)))
        return qk_errtf(err, QK_ENOMEM, "PayloadTooLarge", "too many Records");
    for (size_t i = 0; i < n; i++)
        if ((rc = parse_record(json_array_get(recs, i), i, a, &v[i], err))) return rc;
    oc->records = n;
    return r->cfg->s3_handler(r->cfg->s3_handler_ud, r->engine, inv, v, n, out, err);
}

/* The query's time limit: the deadline minus the margin, or cfg->timeout_ms if sooner.
 * Below MIN_QUERY_MS left the query is not started (a deadline that passes before DuckDB
 * begins executing could be missed by the engine's watchdog): -1. */
static int64_t query_timeout(const rt *r, const qk_runtime_invocation *inv, bool *by_deadline)
{
    int64_t t = r->cfg->timeout_ms, left;
    *by_deadline = false;
    if (!inv->deadline_ms) return t;
    left = inv->deadline_ms - qk_epoch_ms() - r->cfg->deadline_margin_ms;
    if (t <= 0 || left < t) {
        *by_deadline = true;
        return left < MIN_QUERY_MS ? -1 : left;
    }
    return t;
}

static int run_query(rt *r, const qk_runtime_invocation *inv, const qk_buf *body, qk_arena *a,
                     qk_buf *out, outcome *oc, qk_err *err)
{
    qk_invoke_req req;
    qk_invoke_opts o = {0};
    qk_invoke_stats st = {0};
    bool by_deadline;
    int rc;
    if ((rc = qk_invoke_parse(body->data, body->len, r->cfg->max_limit, a, &req, err))) return rc;
    oc->kind = "query";
    o.timeout_ms = query_timeout(r, inv, &by_deadline);
    if (o.timeout_ms < 0 && req.q && *req.q)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout",
                        "the invocation's deadline is less than %d ms away: no time to run the "
                        "query",
                        (int)(MIN_QUERY_MS + r->cfg->deadline_margin_ms));
    if (o.timeout_ms < 0) o.timeout_ms = 0;
    o.cancelled = stop_requested;
    o.max_response = r->cfg->max_response;
    o.cap_name = "QUACK_MAX_RESPONSE";
    rc = qk_invoke_run(r->engine, &req, &o, out, &st, err);
    if (rc == QK_ETIMEOUT && by_deadline)
        qk_err_prefix(err, "stopped %lld ms before the invocation's deadline",
                      (long long)r->cfg->deadline_margin_ms);
    if (rc == QK_ECANCELED && stop_flag) qk_err_prefix(err, "the runtime is shutting down");
    oc->rows = st.rows;
    oc->truncated = st.truncated;
    return rc;
}

/* Route an event by its shape (runtime.h) and append the answer to out. */
static int dispatch(rt *r, const qk_runtime_invocation *inv, const qk_buf *body, qk_arena *a,
                    qk_buf *out, outcome *oc, qk_err *err)
{
    json_t *root = json_loadb(body->data ? body->data : "", body->len, JSON_DECODE_ANY, NULL);
    int rc;
    if (json_is_object(root) && json_object_get(root, "task")) {
        oc->kind = "task";
        rc = run_task(r, inv, root, body, out, err);
    } else if (json_is_object(root) && json_object_get(root, "Records")) {
        oc->kind = "s3";
        rc = run_s3(r, inv, root, a, out, oc, err);
    } else {
        rc = run_query(r, inv, body, a, out, oc, err); /* its parser words the errors */
    }
    json_decref(root);
    return rc;
}

static void set_trace(const event *ev)
{
    if (ev->trace_id[0])
        setenv("_X_AMZN_TRACE_ID", ev->trace_id, 1);
    else
        unsetenv("_X_AMZN_TRACE_ID");
}

static void log_invocation(const event *ev, const outcome *oc, const qk_err *err, double ms,
                           size_t bytes)
{
    qk_buf f;
    qk_buf_init(&f, 4096);
    add_field(&f, "requestId", ev->request_id);
    add_field(&f, "kind", oc->kind);
    qk_buf_printf(&f, ",\"ok\":%s,\"ms\":%.3f,\"bytes\":%zu", err->code ? "false" : "true", ms,
                  bytes);
    if (!strcmp(oc->kind, "query"))
        qk_buf_printf(&f, ",\"rows\":%llu,\"truncated\":%s", (unsigned long long)oc->rows,
                      oc->truncated ? "true" : "false");
    if (!strcmp(oc->kind, "s3")) qk_buf_printf(&f, ",\"records\":%zu", oc->records);
    if (err->code) add_field(&f, "errorType", qk_err_type(err));
    qk_log(err->code ? QK_LOG_WARN : QK_LOG_INFO, "invocation", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

/* Post the answer (or the error in out) for ev; a refusal is logged, never fatal. */
static void post_answer(rt *r, const event *ev, const qk_err *fail, const qk_buf *out)
{
    char path[REQUEST_ID_MAX + 64];
    long status = 0;
    qk_buf answer;
    qk_err err = {0};
    qk_buf_init(&answer, API_ANSWER_MAX);
    snprintf(path, sizeof path, "/invocation/%s/%s", ev->request_id,
             fail->code ? "error" : "response");
    if (api_post(&r->api, path, fail->code ? qk_err_type(fail) : NULL, out, &status, &answer,
                 &err) != 0)
        log_msg(QK_LOG_ERROR, "runtime_api_error", NULL, err.msg);
    else if (status < 200 || status > 299) {
        qk_buf f;
        qk_buf_init(&f, 8192);
        add_field(&f, "requestId", ev->request_id);
        add_field(&f, "path", path);
        qk_buf_printf(&f, ",\"status\":%ld,\"bytes\":%zu", status, out->len);
        add_field(&f, "answer", qk_buf_cstr(&answer));
        qk_log(QK_LOG_WARN, "answer_refused", "%s", qk_buf_cstr(&f));
        qk_buf_free(&f);
    }
    qk_buf_free(&answer);
}

static void invocation(rt *r, const event *ev)
{
    qk_runtime_invocation inv = {ev->request_id, ev->function_arn, ev->trace_id, ev->deadline_ms};
    outcome oc = {"invalid", 0, 0, false};
    double t0 = qk_now_msf();
    qk_arena a;
    qk_buf out;
    qk_err err = {0};
    int rc;
    set_trace(ev);
    qk_arena_init(&a, 2 * r->cfg->max_event + 65536);
    qk_buf_init(&out, r->cfg->max_response);
    if (ev->too_big)
        rc = qk_errtf(&err, QK_ETOOBIG, "PayloadTooLarge",
                      "the event is larger than the limit of %zu bytes (QUACK_MAX_BODY)",
                      r->cfg->max_event);
    else
        rc = dispatch(r, &inv, &ev->body, &a, &out, &oc, &err);
    if (rc) {
        qk_buf_truncate(&out, 0);
        if (out.max < 4096) out.max = 4096;
        qk_invoke_error_from(&out, &err);
    }
    post_answer(r, ev, &err, &out);
    r->invocations++;
    log_invocation(ev, &oc, &err, qk_now_msf() - t0, out.len);
    qk_buf_free(&out);
    qk_arena_free(&a);
}

/* ---- start, loop, stop --------------------------------------------------------------------- */

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Lambda's HOME is read-only (or unset): point it at the temp dir so nothing (DuckDB's home
 * directory, ~/.aws lookups) tries to write under a read-only path. */
static void home_under_tmp(void)
{
    const char *h = getenv("HOME");
    if (h && *h && access(h, W_OK | X_OK) == 0) return;
    setenv("HOME", qk_env_str("TMPDIR", "/tmp"), 1);
}

/* Report a start-up failure to /runtime/init/error (and the log). */
static void init_error(rt *r, const qk_err *e)
{
    const char *type = e->code == QK_EINVAL || e->code == QK_ENOTFOUND || e->code == QK_EDENIED
                           ? "Runtime.ConfigInvalid"
                           : "Runtime.InitError";
    char msg[QK_ERR_MSG_MAX + 32];
    qk_buf body, answer;
    long status = 0;
    qk_err perr = {0};
    snprintf(msg, sizeof msg, "quack cannot start: %s", e->msg[0] ? e->msg : qk_strerror(e->code));
    qk_buf_init(&body, 4096);
    qk_buf_init(&answer, API_ANSWER_MAX);
    qk_invoke_error_json(&body, type, msg);
    log_msg(QK_LOG_ERROR, "init_error", type, msg);
    if (api_post(&r->api, "/init/error", type, &body, &status, &answer, &perr) != 0)
        log_msg(QK_LOG_ERROR, "runtime_api_error", NULL, perr.msg);
    qk_buf_free(&body);
    qk_buf_free(&answer);
}

static void log_ready(const rt *r, double init_ms)
{
    qk_buf f;
    qk_buf_init(&f, 8192);
    add_field(&f, "lake", qk_engine_lake(r->engine));
    add_field(&f, "api", r->cfg->api);
    qk_buf_printf(&f, ",\"initMs\":%.3f,\"maxResponse\":%zu", init_ms, r->cfg->max_response);
    qk_log(QK_LOG_INFO, "runtime_ready", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

/* Serve invocations until asked to stop (0) or the Runtime API fails for good (1). */
static int loop(rt *r)
{
    event ev;
    qk_err err = {0};
    int failures = 0, rc = 0;
    memset(&ev, 0, sizeof ev);
    qk_buf_init(&ev.body, r->cfg->max_event);
    while (!stop_flag) {
        qk_err_clear(&err);
        rc = api_next(&r->api, &ev, &err);
        if (rc == QK_ECANCELED) break;
        if (rc == QK_EPARSE) {
            log_msg(QK_LOG_ERROR, "bad_event", NULL, err.msg);
            continue;
        }
        if (rc && (rc == QK_EHTTP || ++failures >= NEXT_RETRIES)) break;
        if (rc) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        invocation(r, &ev);
    }
    qk_buf_free(&ev.body);
    if (rc && rc != QK_ECANCELED) {
        log_msg(QK_LOG_ERROR, "runtime_api_error", NULL, err.msg);
        return 1;
    }
    return 0;
}

/* Open the engine. The cache directory is chosen before HOME moves under /tmp, so it is the
 * same as for every other command (/tmp/quack-cache when HOME is not writable). */
static int open_engine(const qk_runtime_config *c, qk_engine **out, qk_err *err)
{
    qk_engine_config ec = c->engine;
    char *cache = NULL;
    int rc;
    if (!ec.cache_dir && (rc = qk_default_cache_dir(&cache, err))) return rc;
    if (cache) ec.cache_dir = cache;
    home_under_tmp();
    rc = qk_engine_open(&ec, out, err);
    free(cache);
    return rc;
}

int qk_runtime_run(const qk_runtime_config *c, const qk_err *init_err)
{
    rt r = {c, {0}, NULL, 0};
    qk_err err = {0};
    double t0 = qk_now_msf();
    int rc = 1;
    install_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!c->api || api_open(&r.api, c->api, &err) != 0) {
        log_msg(QK_LOG_ERROR, "init_error", NULL, "no usable Runtime API address");
        goto out;
    }
    if (init_err && init_err->code) {
        init_error(&r, init_err);
        goto out;
    }
    if (open_engine(c, &r.engine, &err) != 0) {
        init_error(&r, &err);
        goto out;
    }
    log_ready(&r, qk_now_msf() - t0);
    rc = loop(&r);
    qk_log(QK_LOG_INFO, "runtime_stopped", "\"invocations\":%llu,\"signal\":%s",
           (unsigned long long)r.invocations, stop_flag ? "true" : "false");
out:
    qk_engine_close(r.engine);
    api_close(&r.api);
    curl_global_cleanup();
    return rc;
}

int qk_runtime_main(void)
{
    qk_runtime_config c;
    qk_err err = {0};
    qk_runtime_config_defaults(&c);
    qk_runtime_config_env(&c, &err);
    if (!c.api) {
        fprintf(stderr, "quack: %s\n", err.msg);
        return 1;
    }
    return qk_runtime_run(&c, &err);
}
