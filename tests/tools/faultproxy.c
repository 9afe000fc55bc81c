/* SPDX-License-Identifier: MIT */
/* faultproxy.c: a fault-injecting TCP proxy for the S3 tests (test-only tool, not shipped).
 *
 * It listens on 127.0.0.1, connects each accepted client to one upstream (RGW, or any HTTP
 * server) and relays bytes both ways, one thread per connection (at most --max-conns), plain
 * sockets + poll. The only HTTP it understands is what fault injection needs: a request head
 * (request line and headers up to CRLF CRLF, at most 64 KiB) with its Content-Length, so it
 * knows where each request starts on a keep-alive connection (no pipelining; a chunked request
 * body makes the rest of that connection pass-through), and for --truncate-rate the response
 * head (status, Content-Length, chunked). Per request it draws, from a PRNG seeded with
 * --seed and the request number, one of: 503 SlowDown (answered by the proxy, never
 * forwarded), reset (RST after 0..128 response bytes), truncate (FIN in the middle of the
 * body) or nothing; and independently a delay of the response start. --first-n limits faults
 * to the first N requests; --control-file changes the fault settings while running.
 * Counters go to --stats-file (JSON, rewritten atomically); one log line per connection and
 * per fault goes to stderr. See docs/internals/faultproxy.md.
 */
#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (64 * 1024)
#define IO_CHUNK (16 * 1024)
#define CTL_MAX 4096
#define POLL_MS 100
#define RESET_AFTER_MAX 128

/* The only global: set by SIGTERM/SIGINT, read by every thread. */
static atomic_int g_stop;

enum { F_NONE, F_503, F_RESET, F_TRUNCATE };
enum { RQ_HEAD, RQ_BODY, RQ_DISCARD, RQ_OPAQUE };

typedef struct faults {
    double reset_rate, delay_rate, http503_rate, truncate_rate;
    int64_t delay_ms;
    int64_t first_n; /* -1: every request is eligible */
} faults;

typedef struct stats {
    uint64_t connections, requests, resets, delays, http503, truncations;
    uint64_t get, head, list, put, other; /* requests by kind (list: GET ?list-type=) */
} stats;

/* Shared by all threads; mu guards every field below it. */
typedef struct proxy {
    const char *port_file, *stats_file, *control_file;
    struct sockaddr_in listen_addr, upstream;
    uint64_t seed;
    int64_t max_conns;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    faults f;
    int64_t epoch_requests; /* requests since start or the last control-file load */
    struct stat ctl_st;
    int ctl_loaded;
    stats st;
    int active, next_conn;
} proxy;

/* What happens to one request. */
typedef struct plan {
    int kind, delay;
    int64_t delay_ms;
    uint64_t req, reset_after;
} plan;

/* One connection; owned by its thread. */
typedef struct conn {
    proxy *p;
    int id, cfd, ufd, rq, client_eof, done, pending;
    char *qbuf, *rbuf; /* request head / response head being collected, HEAD_MAX each */
    size_t qlen, rlen;
    int64_t body_left, delay_until;
    int head_req, rpass, limit_set;
    uint64_t resp_fwd, limit, nreq;
    plan pl;
} conn;

/* ---- small helpers ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_stop, 1);
}

/* Send all of d; blocking sockets have a 200 ms send timeout so g_stop is seen. */
static int send_all(int fd, const char *d, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (atomic_load(&g_stop)) return QK_ECANCELED;
            continue;
        }
        if (w <= 0) return QK_EIO;
        d += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sleep_until(int64_t t)
{
    while (!atomic_load(&g_stop)) {
        int64_t left = t - now_ms();
        if (left <= 0) return;
        poll(NULL, 0, (int)(left < POLL_MS ? left : POLL_MS));
    }
}

/* Append d to a head buffer up to the CRLF CRLF; returns the bytes used. *end is the head's
 * length once complete, else 0. A full buffer without a terminator leaves *end 0 and *len ==
 * HEAD_MAX. */
static size_t head_append(char *buf, size_t *len, const char *d, size_t n, size_t *end)
{
    size_t old = *len, room = HEAD_MAX - old, take = n < room ? n : room;
    size_t from = old > 3 ? old - 3 : 0;
    memcpy(buf + old, d, take);
    *len = old + take;
    *end = 0;
    for (size_t i = from; i + 4 <= *len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            *end = i + 4;
            *len = *end;
            return *end - old;
        }
    }
    return take;
}

/* The value of header `name` in a head (case-insensitive), copied into out; 0 if found. */
static int header_value(const char *head, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;
    while (p && p + 1 < end) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol) break;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(eol - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p = eol;
    }
    return QK_ENOTFOUND;
}

/* Content-Length of a head: -1 when absent, -2 when invalid. */
static int64_t content_length(const char *head, size_t len)
{
    char v[32];
    int64_t n;
    if (header_value(head, len, "content-length", v, sizeof v)) return -1;
    if (qk_parse_int64(v, 0, INT64_MAX, &n, "Content-Length", NULL)) return -2;
    return n;
}

static int header_has(const char *head, size_t len, const char *name, const char *token)
{
    char v[256];
    if (header_value(head, len, name, v, sizeof v)) return 0;
    return strcasestr(v, token) != NULL;
}

/* ---- stats and logging ------------------------------------------------------------------ */

/* Rewrite the stats file (tmp + rename). Caller holds p->mu. */
static void stats_write(proxy *p)
{
    char tmp[4096], js[768];
    if (!p->stats_file) return;
    int n = snprintf(js, sizeof js,
                     "{\"connections\":%llu,\"active\":%d,\"requests\":%llu,\"resets\":%llu,"
                     "\"delays\":%llu,\"http503\":%llu,\"truncations\":%llu,\"get\":%llu,"
                     "\"head\":%llu,\"list\":%llu,\"put\":%llu,\"other\":%llu}\n",
                     (unsigned long long)p->st.connections, p->active,
                     (unsigned long long)p->st.requests, (unsigned long long)p->st.resets,
                     (unsigned long long)p->st.delays, (unsigned long long)p->st.http503,
                     (unsigned long long)p->st.truncations, (unsigned long long)p->st.get,
                     (unsigned long long)p->st.head, (unsigned long long)p->st.list,
                     (unsigned long long)p->st.put, (unsigned long long)p->st.other);
    if (snprintf(tmp, sizeof tmp, "%s.tmp", p->stats_file) >= (int)sizeof tmp) return;
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    int bad = fwrite(js, 1, (size_t)n, f) != (size_t)n;
    if (fclose(f) != 0 || bad || rename(tmp, p->stats_file) != 0) unlink(tmp);
}

/* Count one fault of `field` and log it: "faultproxy: fault=NAME conn=C req=R ...". */
static void count_fault(conn *c, uint64_t *field, const char *name, const char *extra)
{
    proxy *p = c->p;
    pthread_mutex_lock(&p->mu);
    (*field)++;
    stats_write(p);
    pthread_mutex_unlock(&p->mu);
    fprintf(stderr, "faultproxy: fault=%s conn=%d req=%llu%s%s\n", name, c->id,
            (unsigned long long)c->pl.req, extra ? " " : "", extra ? extra : "");
}

/* ---- fault settings: command line and control file -------------------------------------- */

static int parse_rate(const char *s, double *out, const char *what, qk_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0.0 && v <= 1.0))
        return qk_errf(err, QK_EINVAL, "%s: want a probability in [0,1], got '%s'", what, s);
    *out = v;
    return 0;
}

/* Set one fault option (name without "--"); QK_ENOTFOUND when it is not a fault option. */
static int set_fault(faults *f, const char *key, const char *val, qk_err *err)
{
    if (strcmp(key, "reset-rate") == 0) return parse_rate(val, &f->reset_rate, key, err);
    if (strcmp(key, "delay-rate") == 0) return parse_rate(val, &f->delay_rate, key, err);
    if (strcmp(key, "http503-rate") == 0) return parse_rate(val, &f->http503_rate, key, err);
    if (strcmp(key, "truncate-rate") == 0) return parse_rate(val, &f->truncate_rate, key, err);
    if (strcmp(key, "delay-ms") == 0)
        return qk_parse_int64(val, 0, 3600000, &f->delay_ms, key, err);
    if (strcmp(key, "first-n") == 0)
        return qk_parse_int64(val, -1, INT64_MAX, &f->first_n, key, err);
    return QK_ENOTFOUND;
}

/* Parse control-file text: "key value" or "key=value" lines, '#' comments. */
static int parse_control(char *text, faults *f, qk_err *err)
{
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *k = line + strspn(line, " \t\r"), *v;
        if (*k == '\0' || *k == '#') continue;
        if (k[0] == '-' && k[1] == '-') k += 2;
        v = k + strcspn(k, " \t=");
        if (*v) *v++ = '\0';
        v += strspn(v, " \t=");
        v[strcspn(v, " \t\r")] = '\0';
        int rc = set_fault(f, k, v, err);
        if (rc == QK_ENOTFOUND) return qk_errf(err, QK_EINVAL, "unknown key '%s'", k);
        if (rc) return rc;
    }
    return 0;
}

/* Reload the control file when it changed (mtime, size or inode). Caller holds p->mu. */
static void control_reload(proxy *p)
{
    struct stat st;
    char text[CTL_MAX + 1];
    qk_err err = {0};
    if (!p->control_file || stat(p->control_file, &st) != 0) return;
    if (p->ctl_loaded && st.st_mtim.tv_sec == p->ctl_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == p->ctl_st.st_mtim.tv_nsec && st.st_size == p->ctl_st.st_size &&
        st.st_ino == p->ctl_st.st_ino)
        return;
    p->ctl_st = st;
    p->ctl_loaded = 1;
    FILE *fp = fopen(p->control_file, "r");
    if (!fp) return;
    size_t n = fread(text, 1, CTL_MAX, fp);
    fclose(fp);
    text[n] = '\0';
    faults f = p->f;
    if (parse_control(text, &f, &err)) {
        fprintf(stderr, "faultproxy: control file %s ignored: %s\n", p->control_file, err.msg);
        return;
    }
    p->f = f;
    p->epoch_requests = 0;
    fprintf(stderr, "faultproxy: control file %s loaded\n", p->control_file);
}

/* Count request head q (its request line) by kind: GET, HEAD, list (GET with list-type= in
 * the query string), PUT, other. Caller holds p->mu. */
static void count_kind(proxy *p, const char *q, size_t qlen)
{
    const char *eol = memchr(q, '\n', qlen);
    size_t ll = eol ? (size_t)(eol - q) : qlen;
    if (ll >= 4 && !memcmp(q, "GET ", 4)) {
        const char *qs = memchr(q, '?', ll);
        bool list = false;
        for (const char *t = qs; t && t + 10 <= q + ll && !list; t++)
            list = !memcmp(t, "list-type=", 10);
        if (list)
            p->st.list++;
        else
            p->st.get++;
    } else if (ll >= 5 && !memcmp(q, "HEAD ", 5)) {
        p->st.head++;
    } else if (ll >= 4 && !memcmp(q, "PUT ", 4)) {
        p->st.put++;
    } else {
        p->st.other++;
    }
}

/* Count a request and draw its faults. */
static plan decide(proxy *p, const char *q, size_t qlen)
{
    plan pl = {0};
    pthread_mutex_lock(&p->mu);
    control_reload(p);
    faults f = p->f;
    int eligible = f.first_n < 0 || p->epoch_requests < f.first_n;
    p->epoch_requests++;
    pl.req = ++p->st.requests;
    count_kind(p, q, qlen);
    stats_write(p);
    pthread_mutex_unlock(&p->mu);
    uint64_t s = p->seed ^ (pl.req * 0xD1B54A32D192ED03ULL);
    double u = uniform(&s), ud = uniform(&s);
    pl.reset_after = splitmix(&s) % 2 ? 1 + splitmix(&s) % RESET_AFTER_MAX : 0;
    if (!eligible) return pl;
    if (u < f.http503_rate)
        pl.kind = F_503;
    else if (u < f.http503_rate + f.reset_rate)
        pl.kind = F_RESET;
    else if (u < f.http503_rate + f.reset_rate + f.truncate_rate)
        pl.kind = F_TRUNCATE;
    pl.delay = f.delay_ms > 0 && ud < f.delay_rate;
    pl.delay_ms = f.delay_ms;
    return pl;
}

/* ---- faults on the wire ----------------------------------------------------------------- */

/* RST: SO_LINGER {1, 0} then close; the upstream side is closed too. */
static void do_reset(conn *c)
{
    struct linger lg = {1, 0};
    char extra[64];
    setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->cfd);
    c->cfd = -1;
    c->done = 1;
    snprintf(extra, sizeof extra, "after=%llu", (unsigned long long)c->resp_fwd);
    count_fault(c, &c->p->st.resets, "reset", extra);
}

/* A short read: FIN after `limit` response bytes. */
static void do_truncate(conn *c)
{
    char extra[64];
    shutdown(c->cfd, SHUT_WR);
    c->done = 1;
    snprintf(extra, sizeof extra, "after=%llu", (unsigned long long)c->resp_fwd);
    count_fault(c, &c->p->st.truncations, "truncate", extra);
}

/* Answer 503 SlowDown ourselves, Connection: close, then drain the client briefly so the
 * close does not turn into an RST that could destroy the response. */
static void do_503(conn *c)
{
    static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                               "<Error><Code>SlowDown</Code>"
                               "<Message>Please reduce your request rate.</Message>"
                               "<RequestId>faultproxy</RequestId></Error>";
    char resp[512], junk[IO_CHUNK];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof body - 1, body);
    if (c->pl.delay) sleep_until(c->delay_until);
    send_all(c->cfd, resp, (size_t)n);
    shutdown(c->cfd, SHUT_WR);
    c->done = 1;
    count_fault(c, &c->p->st.http503, "503", NULL);
    int64_t until = now_ms() + 1000;
    struct pollfd pf = {c->cfd, POLLIN, 0};
    while (now_ms() < until && poll(&pf, 1, POLL_MS) >= 0) {
        if (pf.revents && recv(c->cfd, junk, sizeof junk, 0) <= 0) break;
    }
}

/* ---- client -> upstream ----------------------------------------------------------------- */

/* A request head is complete in qbuf: draw its faults and forward it (or answer 503). */
static int request_start(conn *c)
{
    int64_t cl = content_length(c->qbuf, c->qlen);
    int chunked = header_has(c->qbuf, c->qlen, "transfer-encoding", "chunked");
    int expect = header_has(c->qbuf, c->qlen, "expect", "100-continue");
    if (c->pending) { /* the previous response ended before its reset point */
        do_reset(c);
        return 0;
    }
    c->nreq++;
    c->pl = decide(c->p, c->qbuf, c->qlen);
    c->head_req = c->qlen >= 5 && memcmp(c->qbuf, "HEAD ", 5) == 0;
    c->resp_fwd = c->rlen = 0;
    c->rpass = c->limit_set = 0;
    c->pending = c->pl.kind == F_RESET;
    if (c->pl.delay) {
        char extra[32];
        c->delay_until = now_ms() + c->pl.delay_ms;
        snprintf(extra, sizeof extra, "ms=%lld", (long long)c->pl.delay_ms);
        count_fault(c, &c->p->st.delays, "delay", extra);
    }
    if (c->pl.kind == F_503) {
        c->qlen = 0;
        if (cl > 0 && !chunked && !expect) {
            c->rq = RQ_DISCARD;
            c->body_left = cl;
        } else {
            do_503(c);
        }
        return 0;
    }
    int rc = send_all(c->ufd, c->qbuf, c->qlen);
    c->qlen = 0;
    c->rq = chunked || cl < -1 ? RQ_OPAQUE : cl > 0 ? RQ_BODY : RQ_HEAD;
    c->body_left = cl > 0 ? cl : 0;
    return rc;
}

/* Feed client bytes through the request state machine; returns bytes used. */
static int feed_client_step(conn *c, const char *d, size_t n, size_t *used)
{
    size_t end;
    switch (c->rq) {
    case RQ_HEAD:
        *used = head_append(c->qbuf, &c->qlen, d, n, &end);
        if (end) return request_start(c);
        if (c->qlen == HEAD_MAX) { /* not HTTP we understand: pass it on */
            c->rq = RQ_OPAQUE;
            c->qlen = 0;
            return send_all(c->ufd, c->qbuf, HEAD_MAX);
        }
        return 0;
    case RQ_BODY:
    case RQ_DISCARD:
        *used = (int64_t)n < c->body_left ? n : (size_t)c->body_left;
        c->body_left -= (int64_t)*used;
        if (c->rq == RQ_DISCARD) {
            if (c->body_left == 0) do_503(c);
            return 0;
        }
        if (c->body_left == 0) c->rq = RQ_HEAD;
        return send_all(c->ufd, d, *used);
    default:
        *used = n;
        return send_all(c->ufd, d, n);
    }
}

static int on_client(conn *c)
{
    char buf[IO_CHUNK];
    ssize_t n = recv(c->cfd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n < 0) return QK_EIO;
    if (n == 0) {
        c->client_eof = 1;
        if (c->rq == RQ_DISCARD) do_503(c);
        if (c->qlen) send_all(c->ufd, c->qbuf, c->qlen);
        shutdown(c->ufd, SHUT_WR);
        return 0;
    }
    const char *d = buf;
    size_t left = (size_t)n;
    while (left > 0 && !c->done) {
        size_t used = 0;
        int rc = feed_client_step(c, d, left, &used);
        if (rc) return rc;
        d += used;
        left -= used;
    }
    return 0;
}

/* ---- upstream -> client ----------------------------------------------------------------- */

/* Forward up to the truncation limit; truncate when it is reached. Returns bytes used. */
static size_t send_limited(conn *c, const char *d, size_t n, int *rc)
{
    uint64_t room = c->limit - c->resp_fwd;
    size_t k = n < room ? n : (size_t)room;
    *rc = send_all(c->cfd, d, k);
    c->resp_fwd += k;
    if (!*rc && c->resp_fwd >= c->limit) do_truncate(c);
    return k;
}

/* The response head in rbuf is complete: choose where to cut. */
static int response_head(conn *c)
{
    int status = 0;
    if (c->rlen > 12) status = (int)strtol(c->rbuf + 9, NULL, 10);
    int64_t cl = content_length(c->rbuf, c->rlen);
    int chunked = header_has(c->rbuf, c->rlen, "transfer-encoding", "chunked");
    if (status >= 100 && status < 200 && status != 101) { /* 100 Continue: the real one follows */
        int rc = send_all(c->cfd, c->rbuf, c->rlen);
        c->rlen = 0;
        return rc;
    }
    if (c->head_req || status == 204 || status == 304 || cl == 0) {
        /* No body to cut: cut the status line in half. A head cut after its status line
         * is accepted by lenient clients (curl -I) as a response without the later headers,
         * so the cut must come before the status is readable. */
        const char *cr = memchr(c->rbuf, '\r', c->rlen);
        c->limit = cr ? (uint64_t)(cr - c->rbuf) / 2 : c->rlen / 2;
        if (c->limit == 0) c->limit = 1;
    } else if (cl > 0) {
        c->limit = c->rlen + (uint64_t)cl / 2;
    } else if (chunked) {
        c->limit = c->rlen; /* head, then FIN before the first chunk */
    } else {                /* close-delimited body: a cut would look complete, so pass it */
        fprintf(stderr, "faultproxy: fault=truncate-skipped conn=%d req=%llu\n", c->id,
                (unsigned long long)c->pl.req);
        c->rpass = 1;
        return send_all(c->cfd, c->rbuf, c->rlen);
    }
    c->limit_set = 1;
    c->resp_fwd = 0;
    int rc = 0;
    send_limited(c, c->rbuf, c->rlen, &rc);
    return rc;
}

static int feed_truncate(conn *c, const char *d, size_t n)
{
    int rc = 0;
    while (n > 0 && !c->done && !rc) {
        size_t used, end;
        if (c->rpass) return send_all(c->cfd, d, n);
        if (c->limit_set) {
            used = send_limited(c, d, n, &rc);
        } else {
            used = head_append(c->rbuf, &c->rlen, d, n, &end);
            if (end) {
                rc = response_head(c);
            } else if (c->rlen == HEAD_MAX) {
                c->rpass = 1;
                rc = send_all(c->cfd, c->rbuf, c->rlen);
            }
        }
        d += used;
        n -= used;
    }
    return rc;
}

static int feed_upstream(conn *c, const char *d, size_t n)
{
    if (c->pl.kind == F_TRUNCATE) return feed_truncate(c, d, n);
    if (c->pending) {
        uint64_t room = c->pl.reset_after - c->resp_fwd;
        size_t k = n < room ? n : (size_t)room;
        int rc = send_all(c->cfd, d, k);
        c->resp_fwd += k;
        if (!rc && c->resp_fwd >= c->pl.reset_after) do_reset(c);
        return rc;
    }
    c->resp_fwd += n;
    return send_all(c->cfd, d, n);
}

static int on_upstream(conn *c)
{
    char buf[IO_CHUNK];
    ssize_t n = recv(c->ufd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return 0;
    if (n <= 0) { /* upstream closed: a pending reset still happens */
        if (c->pending)
            do_reset(c);
        else if (c->rlen && !c->limit_set && !c->rpass)
            send_all(c->cfd, c->rbuf, c->rlen);
        c->done = 1;
        return 0;
    }
    return feed_upstream(c, buf, (size_t)n);
}

/* ---- connection thread ------------------------------------------------------------------ */

static void conn_loop(conn *c)
{
    while (!c->done && !atomic_load(&g_stop)) {
        int64_t now = now_ms(), timeout = POLL_MS;
        int held = now < c->delay_until;
        if (held && c->delay_until - now < timeout) timeout = c->delay_until - now;
        struct pollfd pf[2] = {{c->client_eof ? -1 : c->cfd, POLLIN, 0},
                               {held ? -1 : c->ufd, POLLIN, 0}};
        int r = poll(pf, 2, (int)timeout);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (pf[1].revents && on_upstream(c)) break;
        if (!c->done && pf[0].revents && on_client(c)) break;
    }
}

static int connect_upstream(conn *c)
{
    struct timeval tv = {0, 200000};
    int one = 1;
    c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->ufd < 0) return QK_EIO;
    if (connect(c->ufd, (const struct sockaddr *)&c->p->upstream, sizeof c->p->upstream) != 0)
        return QK_EIO;
    setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->ufd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 0;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    proxy *p = c->p;
    c->qbuf = malloc(HEAD_MAX);
    c->rbuf = malloc(HEAD_MAX);
    if (!c->qbuf || !c->rbuf) goto out;
    if (connect_upstream(c)) {
        fprintf(stderr, "faultproxy: conn=%d upstream connect failed: %s\n", c->id,
                strerror(errno));
        goto out;
    }
    conn_loop(c);
out:
    fprintf(stderr, "faultproxy: conn=%d closed requests=%llu\n", c->id,
            (unsigned long long)c->nreq);
    if (c->ufd >= 0) close(c->ufd);
    if (c->cfd >= 0) close(c->cfd);
    free(c->rbuf);
    free(c->qbuf);
    free(c);
    pthread_mutex_lock(&p->mu);
    p->active--;
    stats_write(p);
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void spawn(proxy *p, int cfd)
{
    pthread_t t;
    pthread_attr_t attr;
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(cfd);
        return;
    }
    c->p = p;
    c->cfd = cfd;
    c->ufd = -1;
    pthread_mutex_lock(&p->mu);
    c->id = ++p->next_conn;
    p->active++;
    p->st.connections++;
    stats_write(p);
    pthread_mutex_unlock(&p->mu);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, conn_main, c) != 0) {
        c->ufd = -1;
        conn_main(c); /* closes and uncounts it */
    }
    pthread_attr_destroy(&attr);
}

/* ---- listener and main ------------------------------------------------------------------ */

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return QK_EINVAL;
    FILE *f = fopen(tmp, "w");
    if (!f) return QK_EIO;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) return QK_EIO;
    return 0;
}

static int open_listener(proxy *p, int *out_fd, qk_err *err)
{
    int one = 1, rc = 0;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return qk_errf(err, QK_EIO, "socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&p->listen_addr, sizeof p->listen_addr) != 0 ||
        listen(fd, 128) != 0 || getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        rc = qk_errf(err, QK_EIO, "listen: %s", strerror(errno));
        goto out;
    }
    if (p->port_file && write_port_file(p->port_file, ntohs(a.sin_port))) {
        rc = qk_errf(err, QK_EIO, "cannot write port file %s", p->port_file);
        goto out;
    }
    fprintf(stderr, "faultproxy: listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    *out_fd = fd;
    return 0;
out:
    close(fd);
    return rc;
}

static void accept_loop(proxy *p, int lfd)
{
    while (!atomic_load(&g_stop)) {
        pthread_mutex_lock(&p->mu);
        int full = p->active >= p->max_conns;
        pthread_mutex_unlock(&p->mu);
        struct pollfd pf = {full ? -1 : lfd, POLLIN, 0};
        if (poll(&pf, 1, POLL_MS) <= 0 || !pf.revents) continue;
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd >= 0) spawn(p, cfd);
    }
}

/* Wait (at most 5 s) for the connection threads to see g_stop and finish. */
static void drain(proxy *p)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&p->mu);
    while (p->active > 0 && pthread_cond_timedwait(&p->idle, &p->mu, &until) == 0) {
    }
    stats_write(p);
    fprintf(stderr,
            "faultproxy: exit connections=%llu requests=%llu resets=%llu delays=%llu "
            "http503=%llu truncations=%llu\n",
            (unsigned long long)p->st.connections, (unsigned long long)p->st.requests,
            (unsigned long long)p->st.resets, (unsigned long long)p->st.delays,
            (unsigned long long)p->st.http503, (unsigned long long)p->st.truncations);
    pthread_mutex_unlock(&p->mu);
}

static int parse_addr(const char *s, struct sockaddr_in *out, int loopback_only, qk_err *err)
{
    char host[64];
    int64_t port;
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return qk_errf(err, QK_EINVAL, "want HOST:PORT, got '%s'", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (strcmp(host, "localhost") == 0) qk_strlcpy(host, "127.0.0.1", sizeof host);
    if (qk_parse_int64(colon + 1, 0, 65535, &port, "port", err)) return QK_EINVAL;
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
        return qk_errf(err, QK_EINVAL, "want an IPv4 address, got '%s'", host);
    if (loopback_only && strcmp(host, "127.0.0.1") != 0)
        return qk_errf(err, QK_EINVAL, "the proxy listens on 127.0.0.1 only, got '%s'", host);
    return 0;
}

static const char usage[] =
    "usage: faultproxy --listen 127.0.0.1:PORT --upstream HOST:PORT [options]\n"
    "  --port-file F       write the bound port (useful with --listen 127.0.0.1:0)\n"
    "  --stats-file F      JSON counters, rewritten on every event\n"
    "  --control-file F    'key value' lines (fault options below); reloaded when it changes,\n"
    "                      and the --first-n budget restarts on each load\n"
    "  --seed N            PRNG seed (default 1): same seed + same request order = same faults\n"
    "  --max-conns N       concurrent connections (default 256)\n"
    "  --reset-rate P      RST after 0..128 response bytes\n"
    "  --delay-ms N --delay-rate P   hold the response start for N ms\n"
    "  --http503-rate P    answer 503 SlowDown without forwarding the request\n"
    "  --truncate-rate P   FIN halfway through the response body\n"
    "  --first-n N         faults only for the first N requests (-1: all, the default)\n";

static int parse_one(proxy *p, const char *k, const char *v, qk_err *err)
{
    int64_t n;
    int rc = set_fault(&p->f, k, v, err);
    if (rc != QK_ENOTFOUND) return rc;
    if (strcmp(k, "listen") == 0) return parse_addr(v, &p->listen_addr, 1, err);
    if (strcmp(k, "upstream") == 0) return parse_addr(v, &p->upstream, 0, err);
    if (strcmp(k, "port-file") == 0)
        p->port_file = v;
    else if (strcmp(k, "stats-file") == 0)
        p->stats_file = v;
    else if (strcmp(k, "control-file") == 0)
        p->control_file = v;
    else if (strcmp(k, "seed") == 0) {
        if (qk_parse_int64(v, 0, INT64_MAX, &n, k, err)) return QK_EINVAL;
        p->seed = (uint64_t)n;
    } else if (strcmp(k, "max-conns") == 0) {
        return qk_parse_int64(v, 1, 4096, &p->max_conns, k, err);
    } else {
        return qk_errf(err, QK_EINVAL, "unknown option --%s", k);
    }
    return 0;
}

static int parse_args(proxy *p, int argc, char **argv, qk_err *err)
{
    int have_listen = 0, have_up = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc)
            return qk_errf(err, QK_EINVAL, "bad argument '%s'", argv[i]);
        const char *k = argv[i] + 2, *v = argv[++i];
        if (parse_one(p, k, v, err)) return QK_EINVAL;
        have_listen |= strcmp(k, "listen") == 0;
        have_up |= strcmp(k, "upstream") == 0;
    }
    if (!have_listen || !have_up)
        return qk_errf(err, QK_EINVAL, "--listen and --upstream are required");
    return 0;
}

int main(int argc, char **argv)
{
    proxy p;
    qk_err err = {0};
    int lfd = -1;
    struct sigaction sa;
    memset(&p, 0, sizeof p);
    p.seed = 1;
    p.max_conns = 256;
    p.f.first_n = -1;
    if (parse_args(&p, argc, argv, &err)) {
        fprintf(stderr, "faultproxy: %s\n%s", err.msg, usage);
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.idle, NULL);
    pthread_mutex_lock(&p.mu);
    control_reload(&p);
    stats_write(&p);
    pthread_mutex_unlock(&p.mu);
    if (open_listener(&p, &lfd, &err)) {
        fprintf(stderr, "faultproxy: %s\n", err.msg);
        return 1;
    }
    accept_loop(&p, lfd);
    close(lfd);
    drain(&p);
    return 0;
}
