/* SPDX-License-Identifier: MIT */
/*
 * server_int.h: shared between the server's own files, not for other modules.
 *
 *   server.c    the daemon: lifecycle, routing, auth, body limits, replies, request log
 *   handlers.c  one function per endpoint: a request in, a qk_reply out (no MHD types)
 *   request.c   request bodies: JSON parsing and validation with jansson
 *   metrics.c   counters, gauge and histogram (C11 atomics) and their Prometheus text
 *
 * A request's life: server.c creates a qk_req_ctx on the first callback, streams the body
 * into ctx->body (bounded), calls the endpoint's handler when the body is complete, turns the
 * qk_reply into an MHD response, and logs and counts the request when MHD reports it done.
 */
#ifndef QK_SERVER_INT_H
#define QK_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/encode.h"
#include "lake/invoke.h"
#include "server/server.h"

/* ---- metrics ----------------------------------------------------------------------------- */

typedef enum {
    QK_EP_INVOKE = 0,
    QK_EP_QUERY,
    QK_EP_HEALTH,
    QK_EP_METRICS,
    QK_EP_MAP,
    QK_EP_TABLES,
    QK_EP_LINEAGE,
    QK_EP_OTHER,
    QK_EP_COUNT
} qk_endpoint;

#define QK_METRICS_STATUSES 12 /* 11 known codes + "other" */
#define QK_METRICS_BUCKETS 14  /* 13 bounds + +Inf */
#define QK_METRICS_ERROR_TYPES 64

/* Thread-safe: every counter is atomic; a new error type name is added under a mutex and
 * published with a release store, so readers never lock. */
typedef struct qk_metrics {
    _Atomic uint64_t requests[QK_EP_COUNT][QK_METRICS_STATUSES];
    _Atomic uint64_t buckets[QK_METRICS_BUCKETS]; /* not cumulative; rendered cumulative */
    _Atomic uint64_t duration_us_sum;
    _Atomic uint64_t rows_out, bytes_out, queries;
    _Atomic int64_t in_flight;
    _Atomic int error_type_count;
    char error_types[QK_METRICS_ERROR_TYPES][QK_ERR_TYPE_MAX];
    _Atomic uint64_t errors[QK_METRICS_ERROR_TYPES + 1]; /* last slot: "Other" */
    pthread_mutex_t lock;                                /* adding an error type */
} qk_metrics;

int qk_metrics_init(qk_metrics *m);
void qk_metrics_free(qk_metrics *m);
/* Count one finished request. error_type NULL or "" for successes. */
void qk_metrics_observe(qk_metrics *m, qk_endpoint ep, int status, double seconds, uint64_t rows,
                        uint64_t bytes, const char *error_type);
/* Take a query slot unless max are taken; true when taken (release with qk_metrics_leave). */
bool qk_metrics_enter(qk_metrics *m, int64_t max);
void qk_metrics_leave(qk_metrics *m);
void qk_metrics_count_query(qk_metrics *m);
/* Append the Prometheus text exposition (version 0.0.4). */
int qk_metrics_render(qk_metrics *m, qk_buf *out);
const char *qk_endpoint_name(qk_endpoint ep);

/* ---- request bodies ---------------------------------------------------------------------- */

#define QK_QUERY_DEFAULT_LIMIT 100
#define QK_QUERY_DEFAULT_WIDTH 120

typedef struct qk_query_req {
    const char *sql;
    int64_t limit;
    bool has_format; /* "format" was given; otherwise Accept decides */
    qk_format format;
    int width; /* table format width */
} qk_query_req;

/* Parse and validate a POST /query body (POST /invoke: qk_invoke_parse in lake/invoke.h).
 * Strings are copied into a (freed with the request). Errors are QK_EINVAL with type
 * "BadRequest" and a message that names the field. */
int qk_req_parse_query(const char *body, size_t len, int64_t max_limit, qk_arena *a,
                       qk_query_req *out, qk_err *err);
/* The format an Accept header asks for: the first media range quack knows (q=0 skipped).
 * Returns false (out untouched) when none is recognised. */
bool qk_req_accept_format(const char *accept, qk_format *out);

/* ---- the server, a request, a reply ------------------------------------------------------ */

#define QK_REPLY_MAX_HEADERS 10

typedef struct qk_reply {
    int status;
    const char *content_type; /* static string */
    qk_buf body;
    int nheaders;
    struct {
        const char *name; /* static string */
        char value[64];
    } headers[QK_REPLY_MAX_HEADERS];
    char error_type[QK_ERR_TYPE_MAX]; /* set for error replies (log, metrics) */
    uint64_t rows;
    bool drop; /* the client is gone: close without a response */
} qk_reply;

struct qk_server {
    qk_server_config cfg; /* host and token point into the copies below */
    char *host, *token;
    qk_engine *engine;
    void *daemon; /* struct MHD_Daemon * */
    int port;
    int64_t started_ms;
    qk_metrics metrics;
    _Atomic int64_t active; /* requests between first callback and completion */
    _Atomic bool stopping;
    unsigned char token_hash[32];
    char start_msg[QK_ERR_MSG_MAX]; /* last libmicrohttpd message while starting */
    _Atomic bool starting;          /* MHD messages are start-up errors */
};

typedef struct qk_req_ctx {
    qk_server *srv;
    char id[37];
    qk_endpoint endpoint;
    char method[12];
    char path[96];      /* the URL as logged (cut) */
    const char *url;    /* the whole URL path (arena) */
    void *conn;         /* struct MHD_Connection * of the request (query arguments) */
    const char *accept; /* Accept header, borrowed from MHD for the request */
    int fd;             /* the connection's socket, polled for a departed client */
    int64_t next_check_ms;
    double t0;
    qk_buf body;
    qk_arena arena;
    size_t discarded; /* body bytes dropped past max_body */
    bool too_big;
    qk_reply early; /* a reply decided before the body was read */
    bool has_early;
    /* outcome, for the log line and the metrics */
    int status;
    uint64_t rows, bytes;
    char error_type[QK_ERR_TYPE_MAX];
} qk_req_ctx;

void qk_reply_init(qk_reply *r, size_t max_body);
void qk_reply_free(qk_reply *r);
/* Add a header (value is copied, cut at 63 bytes); ignored past QK_REPLY_MAX_HEADERS. */
void qk_reply_header(qk_reply *r, const char *name, const char *fmt, ...) QK_PRINTF(3, 4);
/* Make r an error reply: {"errorMessage":msg,"errorType":type}. */
void qk_reply_error(qk_reply *r, int status, const char *type, const char *msg);
/* The HTTP status for a failed query. */
int qk_status_for_error(const qk_err *err);

void qk_handle_invoke(qk_server *s, qk_req_ctx *c, qk_reply *r);
void qk_handle_query(qk_server *s, qk_req_ctx *c, qk_reply *r);
void qk_handle_map(qk_server *s, qk_req_ctx *c, qk_reply *r);
void qk_handle_health(qk_server *s, qk_req_ctx *c, qk_reply *r);
void qk_handle_metrics(qk_server *s, qk_req_ctx *c, qk_reply *r);
void qk_handle_tables(qk_server *s, qk_req_ctx *c, qk_reply *r);  /* handlers_tables.c */
void qk_handle_lineage(qk_server *s, qk_req_ctx *c, qk_reply *r); /* handlers_tables.c */
/* The value of the URL's query argument key (?key=value, decoded), or NULL. */
const char *qk_req_arg(const qk_req_ctx *c, const char *key);

#endif
