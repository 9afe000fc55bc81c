/* SPDX-License-Identifier: MIT */
/*
 * runtime.h: quack as an AWS Lambda custom runtime (DESIGN.md sections 2 and 5; user docs in
 * docs/lambda.md, design in docs/internals/runtime.md).
 *
 * When the binary is a function's `bootstrap` (AWS_LAMBDA_RUNTIME_API set and no arguments),
 * main.c calls qk_runtime_main. It opens one engine, kept warm across invocations, and loops
 * on the Runtime API (version 2018-06-01) over one keep-alive libcurl handle:
 *
 *   GET  /runtime/invocation/next             wait for an event (no timeout: the process may
 *                                             be frozen between invocations)
 *   POST /runtime/invocation/{id}/response    the answer
 *   POST /runtime/invocation/{id}/error       {"errorMessage","errorType"}, and the type in
 *                                             Lambda-Runtime-Function-Error-Type
 *   POST /runtime/init/error                  configuration or engine failure; then exit 1
 *
 * Events, by shape (the first rule that matches):
 *   1. an object with "task"     a distributed map task. NOT IMPLEMENTED YET: the planner and
 *                                coordinator (src/dist) are not written, so {"task":"map"} is
 *                                answered with errorType "NotImplemented" (other tasks:
 *                                "BadRequest"). The dist issue replaces this.
 *   2. an object with "Records"  S3 event notifications: every record must have eventSource
 *                                "aws:s3"; the records (keys URL-decoded) go to
 *                                cfg.s3_handler. The default, qk_runtime_s3_log, logs one JSON
 *                                line per record and answers {"records":N,"handled":false};
 *                                the ETL issue installs the real handler.
 *   3. anything else             the seed's {"q","limit"} (lake/invoke.h), same rules and
 *                                messages as POST /invoke.
 * Malformed events (not JSON, wrong types, larger than max_event) get a function error and the
 * loop goes on. A query's time limit is the invocation's deadline (Lambda-Runtime-Deadline-Ms)
 * minus deadline_margin_ms, or cfg.timeout_ms when that is sooner. _X_AMZN_TRACE_ID is set from
 * Lambda-Runtime-Trace-Id for each invocation.
 *
 * Process-wide state (the only globals): the stop flag set by SIGTERM/SIGINT, which ends the
 * loop (interrupting a running query and an idle wait within about a second), and the
 * environment variables HOME (set to /tmp when unset or not writable, as on Lambda) and
 * _X_AMZN_TRACE_ID. One invocation at a time, on the calling thread.
 */
#ifndef QK_RUNTIME_H
#define QK_RUNTIME_H

#include "core/core.h"
#include "engine/engine.h"

/* The invocation being handled (strings borrowed for the call). */
typedef struct qk_runtime_invocation {
    const char *request_id;   /* Lambda-Runtime-Aws-Request-Id */
    const char *function_arn; /* Lambda-Runtime-Invoked-Function-Arn, or "" */
    const char *trace_id;     /* Lambda-Runtime-Trace-Id, or "" */
    int64_t deadline_ms;      /* Lambda-Runtime-Deadline-Ms (ms since 1970), 0 = unknown */
} qk_runtime_invocation;

/* One S3 event record (strings borrowed for the call; optional ones NULL when absent). */
typedef struct qk_s3_record {
    const char *event_name; /* "ObjectCreated:Put", "ObjectRemoved:Delete", ... */
    const char *event_time; /* ISO-8601, or NULL */
    const char *region;     /* awsRegion, or NULL */
    const char *bucket;     /* s3.bucket.name */
    const char *key;        /* s3.object.key, URL-decoded ('+' and %XX, as S3 encodes it) */
    int64_t size;           /* s3.object.size, -1 when absent */
    const char *etag, *version_id, *sequencer;
} qk_s3_record;

/*
 * Handle n S3 records and append the JSON answer to out. Return 0, or an error in err (sent
 * as a function error, with qk_err_type as errorType). Called on the runtime's thread; the
 * engine may be used for queries.
 */
typedef int (*qk_runtime_s3_fn)(void *ud, qk_engine *engine, const qk_runtime_invocation *inv,
                                const qk_s3_record *recs, size_t n, qk_buf *out, qk_err *err);

typedef struct qk_runtime_config {
    const char *api;             /* host:port of the Runtime API (AWS_LAMBDA_RUNTIME_API) */
    qk_engine_config engine;     /* lake from QUACK_LAKE (default ./lake, as everywhere) */
    int64_t max_limit;           /* largest "limit" (QUACK_MAX_LIMIT, default 1,000,000) */
    size_t max_event;            /* largest event body (QUACK_MAX_BODY, default 6 MiB) */
    size_t max_response;         /* response cap; rows past it are cut (QUACK_MAX_RESPONSE,
                                    default 6 MiB, under Lambda's 6,291,556-byte limit) */
    int64_t timeout_ms;          /* per query, 0 = only the deadline (QUACK_TIMEOUT) */
    int64_t deadline_margin_ms;  /* stop a query this long before the deadline (default 500) */
    qk_runtime_s3_fn s3_handler; /* default qk_runtime_s3_log */
    void *s3_handler_ud;
    char memory_limit[32]; /* storage for engine.memory_limit when derived from
                              AWS_LAMBDA_FUNCTION_MEMORY_SIZE */
} qk_runtime_config;

void qk_runtime_config_defaults(qk_runtime_config *c);
/*
 * Read AWS_LAMBDA_RUNTIME_API (required: c->api stays NULL without it or when it is not
 * host:port) and QUACK_LAKE, QUACK_THREADS, QUACK_MEMORY_LIMIT (default: 75% of
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE), QUACK_MAX_LIMIT, QUACK_MAX_BODY, QUACK_MAX_RESPONSE,
 * QUACK_TIMEOUT (QUACK_LOG_LEVEL is the logger's own). Stops at the first bad value; the
 * error names the variable. c keeps pointers into the environment and into itself
 * (memory_limit): do not copy it.
 */
int qk_runtime_config_env(qk_runtime_config *c, qk_err *err);

/*
 * Be the runtime: when init_err is set (a configuration error found by the caller) or the
 * engine cannot open, report it through /runtime/init/error and return 1. Otherwise answer
 * invocations until SIGTERM/SIGINT (returns 0) or until the Runtime API fails (returns 1).
 * Installs the SIGTERM/SIGINT handlers and ignores SIGPIPE.
 */
int qk_runtime_run(const qk_runtime_config *c, const qk_err *init_err);

/* main.c's entry point: defaults, the environment, run. Returns the exit status. */
int qk_runtime_main(void);

/* The default S3 handler: one "s3_record" log line per record; {"records":N,"handled":false}. */
int qk_runtime_s3_log(void *ud, qk_engine *engine, const qk_runtime_invocation *inv,
                      const qk_s3_record *recs, size_t n, qk_buf *out, qk_err *err);

#endif
