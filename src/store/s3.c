/* SPDX-License-Identifier: MIT */
/*
 * s3.c: the S3 backend of the object store (s3://bucket/prefix), over libcurl's multi interface.
 *
 * Flow of every operation: fill one or more s3_req (method, key relative to the root, query
 * pairs, extra headers, body from memory or a file range, where the answer goes) and hand them to
 * run(), the one request engine. run() drives up to `parallel` requests at once on a curl multi
 * handle. Each attempt is built afresh by start(): URL, Host and raw path from qk_s3_address,
 * the query string encoded and sorted exactly as the signer does, x-amz-date now,
 * x-amz-content-sha256 (SHA-256 of an in-memory body, UNSIGNED-PAYLOAD for file uploads, the
 * empty hash otherwise), Authorization from qk_sigv4_sign (never CURLOPT_AWS_SIGV4: curl 7.88
 * does not sort query parameters). When a request completes, finish() classifies it: transport
 * errors (reset, timeout, refused), HTTP 5xx, 429, and the S3 codes SlowDown, RequestTimeout and
 * ConditionalRequestConflict are retried after a full-jitter exponential backoff (base 100 ms,
 * cap 5 s) up to `attempts` tries; every other 4xx is final. The final error reads
 * "S3 <Code> (HTTP <status>) on <METHOD> s3://bucket/key: <Message>", with the S3 code as the
 * error type; the secret never appears.
 *
 * Operations: list = ListObjectsV2; head/get (Range: bytes=a-b, 416 -> QK_EINVAL); get_file
 * streams to a temp file next to dest, fsync, rename; put (hashed body); put_file (one PUT, or a
 * multipart upload with parallel parts above the threshold, aborted on failure); put_if_absent
 * (If-None-Match: *, 412 -> QK_EEXIST); delete; delete_many (POST ?delete with Content-MD5);
 * copy (x-amz-copy-source, URI-encoded). Settings: QUACK_S3_PARALLEL (16), QUACK_S3_MAX_ATTEMPTS
 * (5), QUACK_S3_PART_SIZE (8 MiB, at least 5 MiB), QUACK_S3_MULTIPART_THRESHOLD (16 MiB).
 * Thread-safe: the store is immutable after open; each call uses its own curl handles.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <openssl/evp.h>

#include "store/aws_config.h"
#include "store/s3_int.h"
#include "store/sigv4.h"

#define S3_MAX_QUERY 6
#define S3_MAX_HDRS 6
#define S3_ERRBODY_MAX (64u << 10)
#define S3_BACKOFF_BASE_MS 100
#define S3_BACKOFF_CAP_MS 5000
#define S3_PART_MIN (5ull << 20)
#define S3_PART_MAX (5ull << 30)
#define S3_MAX_PARTS 10000
#define S3_DELETE_BODY_MAX (8u << 20)
#define TMP_PREFIX ".qk-tmp-"
#define S3_EXPECT_LATENCY_MS 100           /* first byte, for the backup-request deadline */
#define S3_EXPECT_BYTES_PER_MS (32u << 10) /* 32 MiB/s per request */

typedef struct s3_store {
    qk_store base; /* base.uri: "s3://bucket" or "s3://bucket/prefix" */
    qk_aws_config cfg;
    char *endpoint; /* http(s)://host[:port] */
    char *bucket;
    char *prefix; /* "" or ending with '/' */
    qk_s3_style style;
    int parallel, attempts;
    int backup_multiple; /* backup GET after this many times the expected time; 0 = never */
    uint64_t part_size, threshold;
} s3_store;

enum { REQ_IDLE, REQ_PENDING, REQ_RUNNING, REQ_DONE }; /* IDLE: a backup not (yet) needed */

/* One request and, after run(), its outcome. Caller fills the first group (req_init sets
 * defaults); run() owns the rest. */
typedef struct s3_req {
    const char *method;
    const char *key; /* relative to the root prefix; NULL = bucket-level */
    qk_sigv4_kv query[S3_MAX_QUERY];
    size_t nquery;
    qk_sigv4_kv hdrs[S3_MAX_HDRS];
    size_t nhdrs;
    const char *body; /* in-memory body (may be "" with body_len 0) or NULL */
    size_t body_len;
    int src_fd; /* upload [src_off, src_off+src_len) of this file when >= 0 */
    uint64_t src_off, src_len;
    qk_buf *out;           /* 2xx body goes here (appended; rolled back on retry/failure), or */
    int dst_fd;            /* here (from offset 0, truncated on retry), or is dropped */
    bool missing_ok;       /* 404 NoSuchKey is success (DELETE) */
    struct s3_req *twin;   /* a GET and its backup point at each other (both in run's array) */
    bool backup;           /* this is the backup: started only when the twin is too slow */
    uint64_t expect_bytes; /* size expected, for the straggler deadline (0: unknown yet) */
    /* outcome */
    int rc;
    qk_err err;
    long status;
    int attempt;
    char code[QK_S3_CODE_MAX];
    char etag[QK_STORE_ETAG_MAX];
    char last_modified[64];
    uint64_t length, total; /* Content-Length; size from Content-Range (or length) */
    bool have_length, have_total;
    /* engine state */
    int state;
    int64_t retry_at;
    CURL *h;
    CURLcode cc;
    struct curl_slist *hl;
    char *fkey;
    qk_buf url, errbody;
    size_t out_start;
    uint64_t moved; /* bytes uploaded or written to dst_fd in this attempt */
    bool too_big, io_failed;
    int64_t started_at;
    char curl_msg[CURL_ERROR_SIZE];
} s3_req;

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;

static void s3_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

static s3_store *s3_of(qk_store *s)
{
    return (s3_store *)s;
}

/* ---- requests ---------------------------------------------------------------------------- */

static void req_init(s3_req *r, const char *method, const char *key)
{
    memset(r, 0, sizeof *r);
    r->method = method;
    r->key = key;
    r->src_fd = -1;
    r->dst_fd = -1;
    qk_buf_init(&r->url, 3 * QK_SIGV4_MAX_PATH + 3 * 8192);
    qk_buf_init(&r->errbody, S3_ERRBODY_MAX);
}

static void req_release(s3_req *r)
{
    if (r->h) curl_easy_cleanup(r->h);
    r->h = NULL;
    curl_slist_free_all(r->hl);
    r->hl = NULL;
}

static void req_free(s3_req *r)
{
    req_release(r);
    qk_buf_free(&r->url);
    qk_buf_free(&r->errbody);
    free(r->fkey);
    r->fkey = NULL;
}

static void req_query(s3_req *r, const char *name, const char *value)
{
    r->query[r->nquery].name = name;
    r->query[r->nquery++].value = value;
}

static void req_header(s3_req *r, const char *name, const char *value)
{
    r->hdrs[r->nhdrs].name = name;
    r->hdrs[r->nhdrs++].value = value;
}

/* root prefix + key (caller frees; NULL when out of memory). */
static char *full_key(const s3_store *st, const char *key)
{
    size_t pl = strlen(st->prefix), kl = strlen(key);
    char *k = malloc(pl + kl + 1);
    if (!k) return NULL;
    memcpy(k, st->prefix, pl);
    memcpy(k + pl, key, kl + 1);
    return k;
}

static const char *key_shown(const s3_req *r)
{
    return r->fkey ? r->fkey : "";
}

/* ---- curl callbacks ---------------------------------------------------------------------- */

static void header_value(const char *p, size_t n, char *dst, size_t cap)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
        n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    s3_req *r = ud;
    size_t n = sz * nm;
    char v[128];
    if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        header_value(p + 5, n - 5, r->etag, sizeof r->etag);
    } else if (n > 14 && strncasecmp(p, "Last-Modified:", 14) == 0) {
        header_value(p + 14, n - 14, r->last_modified, sizeof r->last_modified);
    } else if (n > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
        header_value(p + 15, n - 15, v, sizeof v);
        r->have_length = sscanf(v, "%" SCNu64, &r->length) == 1;
    } else if (n > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
        const char *slash;
        header_value(p + 14, n - 14, v, sizeof v);
        if ((slash = strrchr(v, '/')))
            r->have_total = sscanf(slash + 1, "%" SCNu64, &r->total) == 1;
    }
    return n;
}

static bool status_ok(const s3_req *r)
{
    long st = 0;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st);
    return st >= 200 && st < 300;
}

static size_t sink_file(s3_req *r, const char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = pwrite(r->dst_fd, p + done, n - done, (off_t)(r->moved + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            r->io_failed = true;
            return 0;
        }
        done += (size_t)w;
    }
    r->moved += n;
    return n;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    s3_req *r = ud;
    size_t n = sz * nm;
    int rc;
    if (!status_ok(r)) {
        size_t room = r->errbody.max - r->errbody.len;
        qk_buf_add(&r->errbody, p, n < room ? n : room);
        return n;
    }
    if (r->out) {
        /* Content-Length is the whole body: compare it with the room there was before the
         * body's first byte, not with what is left after earlier chunks. */
        if (r->have_length && r->length > r->out->max - r->out_start) {
            r->too_big = true;
            return 0;
        }
        if ((rc = qk_buf_add(r->out, p, n))) {
            r->too_big = rc == QK_ETOOBIG;
            r->io_failed = true;
            return 0;
        }
        return n;
    }
    return r->dst_fd >= 0 ? sink_file(r, p, n) : n;
}

static size_t on_read(char *p, size_t sz, size_t nm, void *ud)
{
    s3_req *r = ud;
    size_t want = sz * nm;
    ssize_t got;
    if (want > r->src_len - r->moved) want = (size_t)(r->src_len - r->moved);
    if (want == 0) return 0;
    do {
        got = pread(r->src_fd, p, want, (off_t)(r->src_off + r->moved));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) { /* read error, or the file shrank under us */
        r->io_failed = true;
        return CURL_READFUNC_ABORT;
    }
    r->moved += (uint64_t)got;
    return (size_t)got;
}

/* curl rewinds an upload when it resends on a fresh connection. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    s3_req *r = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > r->src_len)
        return CURL_SEEKFUNC_CANTSEEK;
    r->moved = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* ---- building one attempt ---------------------------------------------------------------- */

static int kv_cmp(const void *a, const void *b)
{
    const qk_buf *x = a, *y = b;
    return strcmp(x[0].data, y[0].data) ? strcmp(x[0].data, y[0].data)
                                        : strcmp(x[1].data, y[1].data);
}

/* Append "?" and the query pairs, encoded and sorted the way the signer does. */
static int add_query(const s3_req *r, qk_buf *url)
{
    qk_buf enc[S3_MAX_QUERY][2];
    int rc = 0;
    size_t i;
    if (!r->nquery) return 0;
    for (i = 0; i < r->nquery; i++) {
        const char *v = r->query[i].value ? r->query[i].value : "";
        qk_buf_init(&enc[i][0], 3 * 8192);
        qk_buf_init(&enc[i][1], 3 * 8192);
        if (!rc &&
            !(rc = qk_uri_encode(&enc[i][0], r->query[i].name, strlen(r->query[i].name), true)))
            rc = qk_uri_encode(&enc[i][1], v, strlen(v), true);
        if (!rc) rc = qk_buf_adds(&enc[i][0], "") || qk_buf_adds(&enc[i][1], "");
    }
    if (!rc) qsort(enc, r->nquery, sizeof enc[0], kv_cmp);
    for (i = 0; i < r->nquery; i++) {
        if (!rc) rc = qk_buf_printf(url, "%c%s=%s", i ? '&' : '?', enc[i][0].data, enc[i][1].data);
        qk_buf_free(&enc[i][0]);
        qk_buf_free(&enc[i][1]);
    }
    return rc ? QK_ETOOBIG : 0;
}

static int add_hdr(struct curl_slist **l, const char *name, const char *value)
{
    char line[QK_SIGV4_MAX_VALUE + QK_SIGV4_MAX_NAME + 4];
    struct curl_slist *n;
    snprintf(line, sizeof line, "%s: %s", name, value);
    if (!(n = curl_slist_append(*l, line))) return QK_ENOMEM;
    *l = n;
    return 0;
}

/* Headers for this attempt: signed ones, Authorization, and curl's defaults turned off. */
static int sign_headers(s3_store *st, s3_req *r, const char *host, const char *path,
                        const char *hash, qk_err *err)
{
    qk_sigv4_kv h[S3_MAX_HDRS + 1];
    char date[17];
    qk_buf auth;
    int rc;
    if (qk_amz_date(time(NULL), date)) return qk_errf(err, QK_EINTERNAL, "S3: clock out of range");
    memcpy(h, r->hdrs, r->nhdrs * sizeof *h);
    h[r->nhdrs].name = "x-amz-content-sha256";
    h[r->nhdrs].value = hash;
    rc = add_hdr(&r->hl, "Host", host) || add_hdr(&r->hl, "x-amz-date", date) ||
         add_hdr(&r->hl, "x-amz-content-sha256", hash) || add_hdr(&r->hl, "Expect", "") ||
         add_hdr(&r->hl, "Content-Type",
                 strcmp(r->method, "POST") ? "application/octet-stream" : "application/xml");
    for (size_t i = 0; !rc && i < r->nhdrs; i++)
        rc = add_hdr(&r->hl, h[i].name, h[i].value);
    if (rc) return qk_errf(err, QK_ENOMEM, "S3: out of memory");
    if (st->cfg.anonymous) return 0;
    {
        qk_sigv4_req sr = {r->method,    host, path, r->query,       r->nquery, h,
                           r->nhdrs + 1, hash, date, st->cfg.region, "s3"};
        qk_sigv4_creds cr = {st->cfg.access_key, st->cfg.secret_key, st->cfg.session_token};
        qk_buf_init(&auth, 4096);
        if (!(rc = qk_sigv4_sign(&sr, &cr, &auth, NULL, NULL, err))) {
            rc = add_hdr(&r->hl, "Authorization", auth.data);
            if (!rc && cr.session_token && *cr.session_token)
                rc = add_hdr(&r->hl, "x-amz-security-token", cr.session_token);
            if (rc) rc = qk_errf(err, QK_ENOMEM, "S3: out of memory");
        }
        qk_buf_free(&auth);
    }
    return rc;
}

static void set_method(s3_req *r)
{
    CURL *h = r->h;
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (r->src_fd >= 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, r);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->src_len);
    } else if (r->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

/* Build the easy handle for the next attempt. */
static int build(s3_store *st, s3_req *r, qk_err *err)
{
    qk_buf host, path;
    char hash[65];
    int rc;
    qk_buf_init(&host, QK_SIGV4_MAX_HOST);
    qk_buf_init(&path, QK_SIGV4_MAX_PATH + 300);
    qk_buf_truncate(&r->url, 0);
    if ((rc = qk_s3_address(st->endpoint, st->bucket, r->fkey, st->style, &r->url, &host, &path,
                            err)))
        goto out;
    if ((rc = add_query(r, &r->url))) {
        rc = qk_errf(err, rc, "S3: query string too long");
        goto out;
    }
    if (r->src_fd >= 0)
        qk_strlcpy(hash, QK_SIGV4_UNSIGNED_PAYLOAD, sizeof hash);
    else if ((rc = qk_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, hash)))
        goto out;
    if ((rc = sign_headers(st, r, qk_buf_cstr(&host), path.len ? path.data : "/", hash, err)))
        goto out;
    curl_easy_setopt(r->h, CURLOPT_URL, r->url.data);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hl);
    curl_easy_setopt(r->h, CURLOPT_PRIVATE, (void *)r);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->curl_msg);
    curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(r->h, CURLOPT_LOW_SPEED_TIME, 30L);
    set_method(r);
out:
    qk_buf_free(&host);
    qk_buf_free(&path);
    return rc;
}

/* ---- the engine -------------------------------------------------------------------------- */

/* Reset the outcome of the previous attempt and start the next one on m. */
static int start(s3_store *st, CURLM *m, s3_req *r)
{
    r->attempt++;
    r->status = 0;
    r->cc = CURLE_OK;
    r->code[0] = r->etag[0] = r->last_modified[0] = r->curl_msg[0] = '\0';
    r->have_length = r->have_total = r->too_big = r->io_failed = false;
    r->moved = 0;
    r->started_at = qk_now_ms();
    qk_buf_truncate(&r->errbody, 0);
    if (r->out) qk_buf_truncate(r->out, r->out_start);
    if (r->dst_fd >= 0 && ftruncate(r->dst_fd, 0) != 0)
        return r->rc = qk_errf(&r->err, QK_EIO, "S3 get: truncate: %s", strerror(errno));
    req_release(r);
    if (r->key && !r->fkey && !(r->fkey = full_key(st, r->key)))
        return r->rc = qk_errf(&r->err, QK_ENOMEM, "S3: out of memory");
    if (!(r->h = curl_easy_init())) return r->rc = qk_errf(&r->err, QK_ENOMEM, "S3: curl init");
    if ((r->rc = build(st, r, &r->err))) return r->rc;
    if (curl_multi_add_handle(m, r->h) != CURLM_OK)
        return r->rc = qk_errf(&r->err, QK_EINTERNAL, "S3: curl_multi_add_handle failed");
    return 0;
}

static bool curl_transient(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static bool retryable(const s3_req *r)
{
    if (r->too_big || r->io_failed) return false;
    if (r->cc != CURLE_OK) return curl_transient(r->cc);
    return r->status >= 500 || r->status == 429 || strcmp(r->code, "SlowDown") == 0 ||
           strcmp(r->code, "RequestTimeout") == 0 ||
           strcmp(r->code, "ConditionalRequestConflict") == 0;
}

static int http_code_of(long status)
{
    switch (status) {
    case 404:
        return QK_ENOTFOUND;
    case 401:
    case 403:
        return QK_EDENIED;
    case 409: /* put_if_absent maps its 409 to QK_EEXIST itself */
        return QK_EBUSY;
    case 412:
        return QK_EEXIST;
    case 400:
    case 416:
        return QK_EINVAL;
    default:
        return QK_EHTTP;
    }
}

/* The final error of a failed request into r->err. */
static void fail(s3_store *st, s3_req *r)
{
    qk_s3_xml_error xe;
    char tries[32] = "";
    if (r->attempt > 1) snprintf(tries, sizeof tries, " (after %d attempts)", r->attempt);
    if (r->too_big) {
        r->rc = qk_errf(&r->err, QK_ETOOBIG, "S3 get s3://%s/%s: object does not fit the buffer",
                        st->bucket, key_shown(r));
    } else if (r->io_failed) {
        r->rc = qk_errf(&r->err, QK_EIO, "S3 %s s3://%s/%s: local I/O failed: %s", r->method,
                        st->bucket, key_shown(r), strerror(errno));
    } else if (r->cc != CURLE_OK) {
        r->rc =
            qk_errtf(&r->err, r->cc == CURLE_OPERATION_TIMEDOUT ? QK_ETIMEOUT : QK_EIO,
                     "ConnectionError", "S3 %s s3://%s/%s: %s%s", r->method, st->bucket,
                     key_shown(r), r->curl_msg[0] ? r->curl_msg : curl_easy_strerror(r->cc), tries);
    } else {
        if (qk_s3_xml_parse_error(r->errbody.data, r->errbody.len, &xe)) memset(&xe, 0, sizeof xe);
        if (!xe.code[0]) snprintf(xe.code, sizeof xe.code, "HTTP%ld", r->status);
        r->rc = qk_errtf(&r->err, http_code_of(r->status), xe.code,
                         "S3 %s (HTTP %ld) on %s s3://%s/%s%s%s%s", xe.code, r->status, r->method,
                         st->bucket, key_shown(r), xe.message[0] ? ": " : "", xe.message, tries);
    }
}

/* A request finished (curl says so): done, or scheduled for another attempt. */
static void finish(s3_store *st, s3_req *r, uint64_t *rng)
{
    qk_s3_xml_error xe;
    curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->cc == CURLE_OK && (r->status < 200 || r->status >= 300) &&
        !qk_s3_xml_parse_error(r->errbody.data, r->errbody.len, &xe))
        qk_strlcpy(r->code, xe.code, sizeof r->code);
    if (r->cc == CURLE_OK && r->status >= 200 && r->status < 300) {
        r->rc = 0;
    } else if (r->missing_ok && r->status == 404 && strcmp(r->code, "NoSuchBucket") != 0) {
        r->rc = 0;
    } else if (retryable(r) && r->attempt < st->attempts) {
        int64_t cap = S3_BACKOFF_BASE_MS << (r->attempt - 1 < 10 ? r->attempt - 1 : 10);
        if (cap > S3_BACKOFF_CAP_MS) cap = S3_BACKOFF_CAP_MS;
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        r->retry_at = qk_now_ms() + (int64_t)(*rng % (uint64_t)(cap + 1));
        r->state = REQ_PENDING;
        req_release(r);
        return;
    } else {
        fail(st, r);
    }
    if (r->rc && r->out) qk_buf_truncate(r->out, r->out_start);
    r->state = REQ_DONE;
    req_release(r);
}

/* Starling's straggler trick: a GET running longer than backup_multiple times its expected
 * time (latency + size / bandwidth) gets its backup twin started; the first to finish wins. */
static void hedge(s3_store *st, s3_req **reqs, size_t n)
{
    int64_t now = qk_now_ms();
    for (size_t i = 0; st->backup_multiple && i < n; i++) {
        s3_req *r = reqs[i];
        uint64_t bytes = r->have_length ? r->length : r->expect_bytes;
        int64_t expect = S3_EXPECT_LATENCY_MS + (int64_t)(bytes / S3_EXPECT_BYTES_PER_MS);
        if (r->backup || !r->twin || r->twin->state != REQ_IDLE || r->state != REQ_RUNNING ||
            now - r->started_at <= st->backup_multiple * expect)
            continue;
        r->twin->state = REQ_PENDING;
        qk_log(QK_LOG_INFO, "s3.backup_request", "\"bucket\":\"%s\",\"after_ms\":%lld", st->bucket,
               (long long)(now - r->started_at));
    }
}

/* A request is done: its twin is no longer needed when it succeeded, or when the twin never
 * started. */
static void settle_twin(CURLM *m, s3_req *r, size_t *running, size_t *done)
{
    s3_req *t = r->twin;
    if (!t || t->state == REQ_DONE || (r->rc && t->state != REQ_IDLE)) return;
    if (t->state == REQ_RUNNING) {
        curl_multi_remove_handle(m, t->h);
        (*running)--;
    }
    if (t->out) qk_buf_truncate(t->out, t->out_start);
    t->rc = qk_errf(&t->err, QK_ECANCELED, "S3: request not needed");
    t->state = REQ_DONE;
    req_release(t);
    (*done)++;
}

/* Start what may start now; returns ms until the next delayed retry (at most 100). */
static int64_t launch(s3_store *st, CURLM *m, s3_req **reqs, size_t n, size_t *running,
                      size_t *done)
{
    int64_t now = qk_now_ms(), wait = 100;
    for (size_t i = 0; i < n && *running < (size_t)st->parallel; i++) {
        s3_req *r = reqs[i];
        if (r->state != REQ_PENDING) continue;
        if (r->retry_at > now) {
            if (r->retry_at - now < wait) wait = r->retry_at - now;
            continue;
        }
        if (start(st, m, r)) {
            r->state = REQ_DONE;
            req_release(r);
            (*done)++;
        } else {
            r->state = REQ_RUNNING;
            (*running)++;
        }
    }
    return wait;
}

/* Run every request to completion (success or final failure: see each r->rc). Returns 0, or
 * QK_ENOMEM when the multi handle cannot be made. */
static int run(s3_store *st, s3_req **reqs, size_t n, qk_err *err)
{
    CURLM *m = curl_multi_init();
    size_t running = 0, done = 0;
    uint64_t rng = (uint64_t)qk_now_ms() * 2654435761u ^ (uint64_t)(uintptr_t)reqs ^ 1;
    if (!m) return qk_errf(err, QK_ENOMEM, "S3: curl_multi_init failed");
    for (size_t i = 0; i < n; i++) {
        reqs[i]->state = reqs[i]->backup ? REQ_IDLE : REQ_PENDING;
        reqs[i]->retry_at = 0;
        reqs[i]->attempt = 0;
        if (reqs[i]->out) reqs[i]->out_start = reqs[i]->out->len;
    }
    while (done < n) {
        int64_t wait;
        hedge(st, reqs, n);
        wait = launch(st, m, reqs, n, &running, &done);
        int still = 0, q;
        CURLMsg *msg;
        if (!running) {
            if (done < n) {
                struct timespec ts = {0, (long)wait * 1000000L};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        curl_multi_perform(m, &still);
        while ((msg = curl_multi_info_read(m, &q))) {
            char *p = NULL;
            if (msg->msg != CURLMSG_DONE) continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
            ((s3_req *)p)->cc = msg->data.result;
            curl_multi_remove_handle(m, msg->easy_handle);
            running--;
            finish(st, (s3_req *)p, &rng);
            if (((s3_req *)p)->state != REQ_DONE) continue;
            done++;
            settle_twin(m, (s3_req *)p, &running, &done);
        }
        if (running) curl_multi_poll(m, NULL, 0, (int)wait, NULL);
    }
    curl_multi_cleanup(m);
    return 0;
}

/* Run one request; its error (if any) into err. */
static int perform(s3_store *st, s3_req *r, qk_err *err)
{
    s3_req *one[1] = {r};
    int rc = run(st, one, 1, err);
    if (rc) return rc;
    if (r->rc && err) *err = r->err;
    return r->rc;
}

/* A 200 answer that is really an error (CopyObject, CompleteMultipartUpload can do that). */
static int check_200_error(s3_store *st, s3_req *r, const qk_buf *body, qk_err *err)
{
    qk_s3_xml_error xe;
    if (qk_s3_xml_parse_error(body->data, body->len, &xe) != 0) return 0;
    return qk_errtf(err, QK_EHTTP, xe.code[0] ? xe.code : "InternalError",
                    "S3 %s (HTTP 200) on %s s3://%s/%s: %s", xe.code, r->method, st->bucket,
                    key_shown(r), xe.message);
}

static void fill_info(const s3_req *r, qk_obj_info *info)
{
    time_t t;
    if (!info) return;
    info->size = r->have_total ? r->total : r->length;
    qk_strlcpy(info->etag, r->etag, sizeof info->etag);
    t = r->last_modified[0] ? curl_getdate(r->last_modified, NULL) : -1;
    info->mtime_ms = t > 0 ? (int64_t)t * 1000 : 0;
}

/* ---- read -------------------------------------------------------------------------------- */

/* Make b the backup of GET r. */
static void set_twins(s3_req *r, s3_req *b, uint64_t expect_bytes)
{
    r->twin = b;
    b->twin = r;
    b->backup = true;
    r->expect_bytes = b->expect_bytes = expect_bytes;
}

/* Run GET r with its backup b (when backups are on): the winner, or NULL with the primary's
 * error in err. */
static s3_req *run_hedged(s3_store *st, s3_req *r, s3_req *b, qk_err *err)
{
    s3_req *both[2] = {r, b};
    if (run(st, both, st->backup_multiple ? 2 : 1, err)) return NULL;
    if (!r->rc) return r;
    if (st->backup_multiple && !b->rc) return b;
    if (err) *err = r->err;
    return NULL;
}

static int s3_head(qk_store *s, const char *key, qk_obj_info *out, qk_err *err)
{
    s3_store *st = s3_of(s);
    s3_req r;
    int rc;
    req_init(&r, "HEAD", key);
    rc = perform(st, &r, err);
    if (rc && r.status == 404)
        rc = qk_errtf(err, QK_ENOTFOUND, "NoSuchKey", "no such key: %s/%s", st->bucket,
                      key_shown(&r));
    if (!rc) fill_info(&r, out);
    req_free(&r);
    return rc;
}

/* Range: bytes=a-b for [offset, offset+len), or "" for the whole object. */
static void range_header(uint64_t offset, uint64_t len, char *out, size_t cap)
{
    out[0] = '\0';
    if (offset == 0 && len == QK_STORE_TO_END) return;
    if (len == QK_STORE_TO_END || len > UINT64_MAX - offset)
        snprintf(out, cap, "bytes=%llu-", (unsigned long long)offset);
    else
        snprintf(out, cap, "bytes=%llu-%llu", (unsigned long long)offset,
                 (unsigned long long)(offset + len - 1));
}

static int s3_get(qk_store *s, const char *key, uint64_t offset, uint64_t len, qk_buf *out,
                  qk_obj_info *info, qk_err *err)
{
    s3_store *st = s3_of(s);
    char range[64];
    s3_req r, b, *w;
    qk_buf bb;
    int rc = 0;
    req_init(&r, "GET", key);
    req_init(&b, "GET", key);
    qk_buf_init(&bb, out->max - out->len);
    range_header(offset, len, range, sizeof range);
    if (range[0]) req_header(&r, "range", range), req_header(&b, "range", range);
    r.out = out;
    b.out = &bb;
    set_twins(&r, &b, len == QK_STORE_TO_END ? 0 : len);
    w = run_hedged(st, &r, &b, err);
    if (!w) {
        rc = r.rc ? r.rc : QK_ENOMEM;
        if (r.status == 416)
            rc = qk_errtf(err, QK_EINVAL, "InvalidRange",
                          "get %s: range starts at %llu, past the end of the object "
                          "(S3 InvalidRange)",
                          key, (unsigned long long)offset);
    } else if (w == &b && (rc = qk_buf_add(out, bb.data ? bb.data : "", bb.len))) {
        rc = qk_errf(err, rc, "get %s: out of memory", key);
    }
    if (!rc) fill_info(w, info);
    if (!rc && out->data == NULL) rc = qk_buf_adds(out, ""); /* empty object: still a C string */
    qk_buf_free(&bb);
    req_free(&r);
    req_free(&b);
    return rc;
}

/* Create <dir of dest>/.qk-tmp-XXXXXX (the directory too). Caller frees *tmp. */
static int tmp_create(const char *dest, char **tmp, int *fd, qk_err *err)
{
    const char *slash = strrchr(dest, '/');
    size_t dl = slash ? (size_t)(slash - dest) + 1 : 0;
    size_t n = dl + sizeof TMP_PREFIX + 6;
    *fd = -1;
    if (!(*tmp = malloc(n))) return qk_errf(err, QK_ENOMEM, "out of memory");
    snprintf(*tmp, n, "%.*s", (int)dl, dest);
    if (dl > 1) {
        int rc = qk_mkdirs(*tmp, err);
        if (rc) return rc;
    }
    snprintf(*tmp + dl, n - dl, "%sXXXXXX", TMP_PREFIX);
    if ((*fd = mkostemp(*tmp, O_CLOEXEC)) < 0)
        return qk_errf(err, errno == EACCES ? QK_EDENIED : QK_EIO, "cannot create %s: %s", *tmp,
                       strerror(errno));
    if (fchmod(*fd, 0644) != 0) return qk_errf(err, QK_EIO, "chmod %s: %s", *tmp, strerror(errno));
    return 0;
}

static int s3_get_file(qk_store *s, const char *key, const char *dest_path, qk_obj_info *info,
                       qk_err *err)
{
    s3_store *st = s3_of(s);
    char *tmp[2] = {NULL, NULL};
    int fd[2] = {-1, -1}, rc, i;
    s3_req r[2], *w;
    req_init(&r[0], "GET", key);
    req_init(&r[1], "GET", key);
    set_twins(&r[0], &r[1], 0);
    for (i = 0; i < (st->backup_multiple ? 2 : 1); i++) {
        if ((rc = tmp_create(dest_path, &tmp[i], &fd[i], err))) goto out;
        r[i].dst_fd = fd[i];
    }
    if (!(w = run_hedged(st, &r[0], &r[1], err))) {
        rc = r[0].rc ? r[0].rc : QK_ENOMEM;
        goto out;
    }
    i = w == &r[1];
    if (fsync(fd[i]) != 0 || rename(tmp[i], dest_path) != 0) {
        rc = qk_errf(err, QK_EIO, "get %s: cannot write %s: %s", key, dest_path, strerror(errno));
        goto out;
    }
    free(tmp[i]);
    tmp[i] = NULL;
    fill_info(w, info);
out:
    for (i = 0; i < 2; i++) {
        if (fd[i] >= 0) close(fd[i]);
        if (tmp[i]) unlink(tmp[i]);
        free(tmp[i]);
        req_free(&r[i]);
    }
    return rc;
}

/* ---- write ------------------------------------------------------------------------------- */

static int put_mem(qk_store *s, const char *key, const void *data, size_t len, bool exclusive,
                   qk_err *err)
{
    s3_store *st = s3_of(s);
    s3_req r;
    int rc;
    req_init(&r, "PUT", key);
    r.body = data;
    r.body_len = len;
    if (exclusive) req_header(&r, "if-none-match", "*");
    rc = perform(st, &r, err);
    if (rc && exclusive && (r.status == 412 || r.status == 409))
        rc = qk_errtf(err, QK_EEXIST, r.code[0] ? r.code : "PreconditionFailed",
                      "already exists: %s", key);
    req_free(&r);
    return rc;
}

static int s3_put(qk_store *s, const char *key, const void *data, size_t len, qk_err *err)
{
    return put_mem(s, key, data, len, false, err);
}

static int s3_put_if_absent(qk_store *s, const char *key, const void *data, size_t len, qk_err *err)
{
    return put_mem(s, key, data, len, true, err);
}

/* ---- multipart upload -------------------------------------------------------------------- */

typedef struct mp_part {
    s3_req r;
    char number[24];
} mp_part;

static int mp_initiate(s3_store *st, const char *key, char **upload_id, qk_err *err)
{
    qk_buf body;
    s3_req r;
    int rc;
    qk_buf_init(&body, 1u << 20);
    req_init(&r, "POST", key);
    req_query(&r, "uploads", NULL);
    r.body = "";
    r.out = &body;
    if (!(rc = perform(st, &r, err)))
        rc = qk_s3_xml_parse_upload_id(body.data, body.len, upload_id, err);
    req_free(&r);
    qk_buf_free(&body);
    return rc;
}

static void mp_abort(s3_store *st, const char *key, const char *upload_id)
{
    qk_err ignored = {0};
    s3_req r;
    req_init(&r, "DELETE", key);
    req_query(&r, "uploadId", upload_id);
    perform(st, &r, &ignored); /* best effort: a lifecycle rule cleans up what is left */
    req_free(&r);
}

static int mp_complete(s3_store *st, const char *key, const char *upload_id, mp_part *parts,
                       size_t n, qk_err *err)
{
    qk_buf xml, body;
    s3_req r;
    int rc = 0;
    qk_buf_init(&xml, 256 * (size_t)S3_MAX_PARTS);
    qk_buf_init(&body, 1u << 20);
    rc = qk_buf_adds(&xml, "<CompleteMultipartUpload>");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = qk_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1) ||
             qk_s3_xml_escape(&xml, parts[i].r.etag) || qk_buf_adds(&xml, "</ETag></Part>");
    }
    if (rc || qk_buf_adds(&xml, "</CompleteMultipartUpload>"))
        return qk_errf(err, QK_ENOMEM, "S3 multipart: out of memory");
    req_init(&r, "POST", key);
    req_query(&r, "uploadId", upload_id);
    r.body = xml.data;
    r.body_len = xml.len;
    r.out = &body;
    if (!(rc = perform(st, &r, err))) rc = check_200_error(st, &r, &body, err);
    req_free(&r);
    qk_buf_free(&xml);
    qk_buf_free(&body);
    return rc;
}

/* Upload every part at once (run() keeps `parallel` in flight); the first failure wins. */
static int mp_parts(s3_store *st, const char *key, const char *upload_id, int fd, uint64_t size,
                    mp_part *parts, size_t n, qk_err *err)
{
    s3_req **reqs = calloc(n, sizeof *reqs);
    int rc;
    if (!reqs) return qk_errf(err, QK_ENOMEM, "S3 multipart: out of memory");
    for (size_t i = 0; i < n; i++) {
        s3_req *r = &parts[i].r;
        req_init(r, "PUT", key);
        snprintf(parts[i].number, sizeof parts[i].number, "%zu", i + 1);
        req_query(r, "partNumber", parts[i].number);
        req_query(r, "uploadId", upload_id);
        r->src_fd = fd;
        r->src_off = i * st->part_size;
        r->src_len = size - r->src_off < st->part_size ? size - r->src_off : st->part_size;
        reqs[i] = r;
    }
    rc = run(st, reqs, n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        if (parts[i].r.rc) {
            *err = parts[i].r.err;
            qk_err_prefix(err, "part %zu of %zu", i + 1, n);
            rc = parts[i].r.rc;
        } else if (!parts[i].r.etag[0]) {
            rc = qk_errf(err, QK_EHTTP, "S3 multipart: part %zu has no ETag", i + 1);
        }
    }
    free(reqs);
    return rc;
}

static int put_multipart(s3_store *st, const char *key, int fd, uint64_t size, qk_err *err)
{
    size_t n = (size_t)((size + st->part_size - 1) / st->part_size);
    mp_part *parts = NULL;
    char *upload_id = NULL;
    int rc;
    if (n > S3_MAX_PARTS)
        return qk_errf(err, QK_ETOOBIG, "put %s: %zu parts of %llu bytes (at most %d parts)", key,
                       n, (unsigned long long)st->part_size, S3_MAX_PARTS);
    if (!(parts = calloc(n, sizeof *parts))) return qk_errf(err, QK_ENOMEM, "out of memory");
    if ((rc = mp_initiate(st, key, &upload_id, err))) goto out;
    if ((rc = mp_parts(st, key, upload_id, fd, size, parts, n, err)) ||
        (rc = mp_complete(st, key, upload_id, parts, n, err)))
        mp_abort(st, key, upload_id);
out:
    for (size_t i = 0; parts && i < n; i++)
        req_free(&parts[i].r);
    free(parts);
    free(upload_id);
    return rc;
}

static int s3_put_file(qk_store *s, const char *key, const char *src_path, qk_err *err)
{
    s3_store *st = s3_of(s);
    struct stat sb;
    s3_req r;
    int fd, rc;
    if ((fd = open(src_path, O_RDONLY | O_CLOEXEC)) < 0)
        return qk_errf(err, errno == ENOENT ? QK_ENOTFOUND : QK_EIO, "put %s: cannot open %s: %s",
                       key, src_path, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return qk_errf(err, QK_EINVAL, "put %s: %s is not a regular file", key, src_path);
    }
    if ((uint64_t)sb.st_size >= st->threshold) {
        rc = put_multipart(st, key, fd, (uint64_t)sb.st_size, err);
        close(fd);
        return rc;
    }
    req_init(&r, "PUT", key);
    r.src_fd = fd;
    r.src_len = (uint64_t)sb.st_size;
    rc = perform(st, &r, err);
    req_free(&r);
    close(fd);
    return rc;
}

/* ---- delete and copy --------------------------------------------------------------------- */

static int s3_delete(qk_store *s, const char *key, qk_err *err)
{
    s3_req r;
    int rc;
    req_init(&r, "DELETE", key);
    r.missing_ok = true;
    rc = perform(s3_of(s), &r, err);
    req_free(&r);
    return rc;
}

/* base64(MD5(p[0..n))) into out (25 bytes). */
static int content_md5(const void *p, size_t n, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(p, n, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) return QK_EINTERNAL;
    EVP_EncodeBlock((unsigned char *)out, md, 16);
    return 0;
}

static int delete_body(s3_store *st, const char *const *keys, size_t n, qk_buf *xml)
{
    int rc = qk_buf_adds(xml, "<Delete><Quiet>true</Quiet>");
    for (size_t i = 0; !rc && i < n; i++) {
        rc = qk_buf_adds(xml, "<Object><Key>") || qk_s3_xml_escape(xml, st->prefix) ||
             qk_s3_xml_escape(xml, keys[i]) || qk_buf_adds(xml, "</Key></Object>");
    }
    return rc || qk_buf_adds(xml, "</Delete>");
}

static int s3_delete_many(qk_store *s, const char *const *keys, size_t n, qk_err *err)
{
    s3_store *st = s3_of(s);
    qk_buf xml, body;
    qk_s3_xml_error first;
    char md5[25];
    size_t nerr = 0;
    s3_req r;
    int rc, prc;
    qk_buf_init(&xml, S3_DELETE_BODY_MAX);
    qk_buf_init(&body, QK_S3_XML_MAX);
    req_init(&r, "POST", NULL);
    if (delete_body(st, keys, n, &xml) || content_md5(xml.data, xml.len, md5)) {
        rc = qk_errf(err, QK_ENOMEM, "S3 delete: request body too large");
        goto out;
    }
    req_query(&r, "delete", NULL);
    req_header(&r, "content-md5", md5);
    r.body = xml.data;
    r.body_len = xml.len;
    r.out = &body;
    if ((rc = perform(st, &r, err))) goto out;
    prc = qk_s3_xml_parse_delete_result(body.data, body.len, &first, &nerr, err);
    if (prc == QK_EIO)
        rc = qk_errtf(err, QK_EIO, first.code[0] ? first.code : "InternalError",
                      "S3 %s on delete of s3://%s/%s: %s (%zu of %zu keys failed)", first.code,
                      st->bucket, first.key, first.message, nerr, n);
    else if (prc && body.len && !(rc = check_200_error(st, &r, &body, err)))
        rc = prc; /* not a DeleteResult: err says why */
out:
    req_free(&r);
    qk_buf_free(&xml);
    qk_buf_free(&body);
    return rc;
}

static int s3_copy(qk_store *s, const char *src, const char *dst, qk_err *err)
{
    s3_store *st = s3_of(s);
    qk_buf source, body;
    char *fsrc = full_key(st, src);
    s3_req r;
    int rc;
    qk_buf_init(&source, QK_SIGV4_MAX_VALUE);
    qk_buf_init(&body, 1u << 20);
    req_init(&r, "PUT", dst);
    if (!fsrc || qk_buf_printf(&source, "/%s/", st->bucket) ||
        qk_uri_encode(&source, fsrc, strlen(fsrc), false)) {
        rc = qk_errf(err, QK_ENOMEM, "copy %s: out of memory", src);
        goto out;
    }
    req_header(&r, "x-amz-copy-source", source.data);
    r.body = "";
    r.out = &body;
    rc = perform(st, &r, err);
    if (rc && r.status == 404 && strcmp(r.code, "NoSuchBucket") != 0)
        rc = qk_errtf(err, QK_ENOTFOUND, "NoSuchKey", "no such key: %s/%s", st->bucket, fsrc);
    else if (!rc)
        rc = check_200_error(st, &r, &body, err);
out:
    req_free(&r);
    qk_buf_free(&source);
    qk_buf_free(&body);
    free(fsrc);
    return rc;
}

/* ---- buckets ----------------------------------------------------------------------------- */

static int s3_create_bucket(qk_store *s, qk_err *err)
{
    s3_store *st = s3_of(s);
    qk_buf body;
    s3_req r;
    int rc = 0;
    qk_buf_init(&body, 4096);
    req_init(&r, "PUT", NULL);
    /* us-east-1 is the default location and must not be named (S3 answers
     * InvalidLocationConstraint) */
    if (strcmp(st->cfg.region, "us-east-1") != 0 &&
        qk_buf_printf(
            &body,
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>",
            st->cfg.region))
        rc = qk_errf(err, QK_EINVAL, "S3 create bucket %s: region name too long", st->bucket);
    if (!rc) {
        r.body = body.len ? body.data : "";
        r.body_len = body.len;
        rc = perform(st, &r, err);
        if (rc && !strcmp(r.code, "BucketAlreadyOwnedByYou"))
            rc = 0;
        else if (rc && !strcmp(r.code, "BucketAlreadyExists"))
            rc = qk_errtf(err, QK_EEXIST, "BucketAlreadyExists",
                          "S3 BucketAlreadyExists: bucket %s belongs to another account",
                          st->bucket);
    }
    req_free(&r);
    qk_buf_free(&body);
    return rc;
}

/* ---- list -------------------------------------------------------------------------------- */

static int s3_list(qk_store *s, const qk_list_req *req, qk_list_page *page, qk_err *err)
{
    s3_store *st = s3_of(s);
    char *prefix = full_key(st, req->prefix ? req->prefix : "");
    char maxk[24];
    qk_buf body;
    s3_req r;
    int rc;
    qk_buf_init(&body, QK_S3_XML_MAX);
    req_init(&r, "GET", NULL);
    if (!prefix) {
        rc = qk_errf(err, QK_ENOMEM, "list: out of memory");
        goto out;
    }
    snprintf(maxk, sizeof maxk, "%zu", req->max_keys);
    req_query(&r, "list-type", "2");
    req_query(&r, "max-keys", maxk);
    if (*prefix) req_query(&r, "prefix", prefix);
    if (req->delimiter) req_query(&r, "delimiter", req->delimiter);
    if (req->token) req_query(&r, "continuation-token", req->token);
    r.out = &body;
    if ((rc = perform(st, &r, err))) goto out;
    rc = qk_s3_xml_parse_list(body.data, body.len, st->prefix, page, err);
out:
    req_free(&r);
    qk_buf_free(&body);
    free(prefix);
    return rc;
}

/* ---- presigned URLs ---------------------------------------------------------------------- */

static void s3_destroy(qk_store *s);

int qk_s3_presign_get(qk_store *s, const char *key, int64_t expires_s, char **url, qk_err *err)
{
    s3_store *st;
    qk_buf u, host, path, q;
    char date[17], *fkey = NULL;
    int rc;
    *url = NULL;
    if (!s || s->ops->destroy != s3_destroy)
        return qk_errf(err, QK_EINVAL, "presign: not an S3 store");
    st = s3_of(s);
    if (st->cfg.anonymous) return qk_errf(err, QK_EINVAL, "presign: no credentials");
    qk_buf_init(&u, 4 * QK_SIGV4_MAX_PATH + 8192);
    qk_buf_init(&host, QK_SIGV4_MAX_HOST);
    qk_buf_init(&path, QK_SIGV4_MAX_PATH + 300);
    qk_buf_init(&q, 8192);
    if (!(fkey = full_key(st, key)) || qk_amz_date(time(NULL), date)) {
        rc = qk_errf(err, QK_ENOMEM, "presign: out of memory");
        goto out;
    }
    if ((rc = qk_s3_address(st->endpoint, st->bucket, fkey, st->style, &u, &host, &path, err)))
        goto out;
    {
        qk_sigv4_req sr = {"GET", host.data, path.data, NULL,           0,   NULL,
                           0,     NULL,      date,      st->cfg.region, "s3"};
        qk_sigv4_creds cr = {st->cfg.access_key, st->cfg.secret_key, st->cfg.session_token};
        if ((rc = qk_sigv4_presign(&sr, &cr, expires_s, &q, NULL, NULL, err))) goto out;
    }
    if ((rc = qk_buf_printf(&u, "?%s", q.data))) {
        rc = qk_errf(err, rc, "presign: URL too long");
        goto out;
    }
    *url = qk_buf_detach(&u, NULL);
out:
    qk_buf_free(&u);
    qk_buf_free(&host);
    qk_buf_free(&path);
    qk_buf_free(&q);
    free(fkey);
    return rc;
}

/* ---- open and destroy -------------------------------------------------------------------- */

static void s3_destroy(qk_store *s)
{
    s3_store *st = s3_of(s);
    if (!st) return;
    qk_aws_config_free(&st->cfg);
    free(st->endpoint);
    free(st->bucket);
    free(st->prefix);
    free(st->base.uri);
    free(st);
}

static const qk_store_ops s3_ops = {
    "s3",           NULL,    s3_list,          s3_head,          s3_get,
    s3_get_file,    s3_put,  s3_put_file,      s3_put_if_absent, s3_delete,
    s3_delete_many, s3_copy, s3_create_bucket, s3_destroy,
};

/* An integer setting from the environment, or dflt when unset. */
static int env_int(const char *name, int64_t min, int64_t max, int64_t dflt, int64_t *out,
                   qk_err *err)
{
    const char *v = qk_env_str(name, NULL);
    *out = dflt;
    return v ? qk_parse_int64(v, min, max, out, name, err) : 0;
}

static int env_size(const char *name, uint64_t min, uint64_t max, uint64_t dflt, uint64_t *out,
                    qk_err *err)
{
    const char *v = qk_env_str(name, NULL);
    int rc;
    *out = dflt;
    if (!v) return 0;
    if ((rc = qk_parse_size(v, out, name, err))) return rc;
    if (*out < min || *out > max)
        return qk_errf(err, QK_EINVAL, "%s: %s is outside %llu..%llu bytes", name, v,
                       (unsigned long long)min, (unsigned long long)max);
    return 0;
}

static int s3_settings(s3_store *st, qk_err *err)
{
    int64_t par, att, bm;
    int rc;
    if ((rc = env_int("QUACK_S3_PARALLEL", 1, 256, 16, &par, err)) ||
        (rc = env_int("QUACK_S3_MAX_ATTEMPTS", 1, 20, 5, &att, err)) ||
        (rc = env_int("QUACK_S3_BACKUP_MULTIPLE", 0, 1000, 3, &bm, err)) ||
        (rc = env_size("QUACK_S3_PART_SIZE", S3_PART_MIN, S3_PART_MAX, 8ull << 20, &st->part_size,
                       err)) ||
        (rc = env_size("QUACK_S3_MULTIPART_THRESHOLD", S3_PART_MIN, UINT64_MAX, 16ull << 20,
                       &st->threshold, err)))
        return rc;
    st->parallel = (int)par;
    st->attempts = (int)att;
    st->backup_multiple = (int)bm;
    return 0;
}

/* Split "s3://bucket/prefix" into bucket and prefix ("" or ending with '/'). */
static int parse_uri(const char *uri, s3_store *st, qk_err *err)
{
    const char *b = uri + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    const char *p = slash ? slash + 1 : "";
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/')
        pl--;
    if (bl < 3 || bl > 63)
        return qk_errf(err, QK_EINVAL, "store: bad bucket name in %s (3 to 63 characters)", uri);
    if (p[0] == '/') return qk_errf(err, QK_EINVAL, "store: prefix starts with '/': %s", uri);
    st->bucket = strndup(b, bl);
    st->prefix = malloc(pl + 2);
    st->base.uri = malloc(bl + pl + 8);
    if (!st->bucket || !st->prefix || !st->base.uri)
        return qk_errf(err, QK_ENOMEM, "out of memory");
    snprintf(st->prefix, pl + 2, "%.*s%s", (int)pl, p, pl ? "/" : "");
    snprintf(st->base.uri, bl + pl + 8, "s3://%.*s%s%.*s", (int)bl, b, pl ? "/" : "", (int)pl, p);
    return 0;
}

int qk_store_s3_open(const char *uri, qk_store **out, qk_err *err)
{
    s3_store *st;
    int rc;
    *out = NULL;
    if (!qk_str_startswith(uri, "s3://"))
        return qk_errf(err, QK_EINVAL, "store: not s3://: %s", uri);
    pthread_once(&s3_once, s3_global_init);
    if (!(st = calloc(1, sizeof *st))) return qk_errf(err, QK_ENOMEM, "out of memory");
    st->base.ops = &s3_ops;
    if ((rc = parse_uri(uri, st, err)) || (rc = s3_settings(st, err))) goto fail;
    if ((rc = qk_aws_config_load(NULL, &st->cfg, err))) {
        qk_err_prefix(err, "store %s", uri);
        goto fail;
    }
    st->style = st->cfg.path_style ? QK_S3_PATH_STYLE : QK_S3_VIRTUAL_HOSTED;
    if (st->cfg.endpoint) {
        st->endpoint = strdup(st->cfg.endpoint);
    } else {
        size_t n = strlen(st->cfg.region) + 32;
        if ((st->endpoint = malloc(n)))
            snprintf(st->endpoint, n, "https://s3.%s.amazonaws.com", st->cfg.region);
    }
    if (!st->endpoint) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto fail;
    }
    *out = &st->base;
    return 0;
fail:
    s3_destroy(&st->base);
    return rc;
}
