/* SPDX-License-Identifier: MIT */
/*
 * transport.h: how a coordinator reaches its workers (docs/distributed.md, "Workers").
 *
 * A qk_dist_transport is one worker address: an HTTP worker (`quack serve`, POST <url>/map with
 * an optional bearer token) or an AWS Lambda function (POST <endpoint>/2015-03-31/functions/
 * <name>/invocations, SigV4 service "lambda"). Both take the same task JSON (task.h) and give
 * back the answer JSON; the coordinator never knows which it talks to.
 *
 * Calls run asynchronously in a qk_dist_pool (one libcurl multi handle): send starts a call,
 * poll drives every transfer and hands back finished calls one at a time, and freeing a call
 * that is still running aborts it (curl_multi_remove_handle), which is how a lost backup copy
 * or a cancelled query stops its requests.
 *
 * Threads: a transport is immutable after creation and may be shared by any number of pools
 * and threads (a server's coordinator runs one pool per query). A pool and its calls belong to
 * one thread.
 */
#ifndef QK_DIST_TRANSPORT_H
#define QK_DIST_TRANSPORT_H

#include "core/core.h"

typedef struct qk_dist_transport qk_dist_transport;
typedef struct qk_dist_pool qk_dist_pool;
typedef struct qk_dist_call qk_dist_call;

/* An HTTP worker. url: http(s)://host[:port][/prefix] (no query, fragment or user:password@);
 * token: NULL or "" for none. QK_EINVAL with a message naming the URL. */
int qk_dist_transport_http(const char *url, const char *token, qk_dist_transport **out,
                           qk_err *err);
/* A Lambda function by name, partial or full ARN (optionally ":qualifier"). Region and
 * credentials come from the AWS configuration (store/aws_config.h: AWS_REGION, AWS_PROFILE,
 * ~/.aws/...; anonymous when none are found); the endpoint from AWS_ENDPOINT_URL_LAMBDA, else
 * AWS_ENDPOINT_URL, else https://lambda.<region>.amazonaws.com. */
int qk_dist_transport_lambda(const char *function, qk_dist_transport **out, qk_err *err);
void qk_dist_transport_destroy(qk_dist_transport *t);
/* "http://host:port" or "lambda:NAME", for messages (borrowed). */
const char *qk_dist_transport_name(const qk_dist_transport *t);
/* "http" or "lambda". */
const char *qk_dist_transport_kind(const qk_dist_transport *t);

/* A set of workers, as given on a command line. Zero-initialize; free with
 * qk_dist_workers_free. */
typedef struct qk_dist_workers {
    qk_dist_transport **v;
    size_t n;
    size_t nlambda; /* how many of v are Lambda functions */
} qk_dist_workers;

/* Add the comma-separated HTTP worker URLs in csv (blanks around commas ignored). */
int qk_dist_workers_add_http(qk_dist_workers *w, const char *csv, const char *token, qk_err *err);
/* Add the comma-separated Lambda function names in csv. */
int qk_dist_workers_add_lambda(qk_dist_workers *w, const char *csv, qk_err *err);
void qk_dist_workers_free(qk_dist_workers *w);

/* ---- calls ------------------------------------------------------------------------------------
 */

int qk_dist_pool_new(qk_dist_pool **out, qk_err *err);
/* Abort and free every call still in the pool, then the pool. Accepts NULL. */
void qk_dist_pool_destroy(qk_dist_pool *p);

/* Start sending body (copied) to t. timeout_ms bounds the whole call (0 = none). ud is handed
 * back by qk_dist_call_ud. *out belongs to the pool until freed with qk_dist_call_free. */
int qk_dist_send(qk_dist_pool *p, qk_dist_transport *t, const char *body, size_t len,
                 int64_t timeout_ms, void *ud, qk_dist_call **out, qk_err *err);
/* Drive the transfers for up to wait_ms (0: do not wait). *done is a finished call (its
 * outcome ready), or NULL when none finished in time. Each finished call is returned once. */
int qk_dist_pool_poll(qk_dist_pool *p, int wait_ms, qk_dist_call **done, qk_err *err);
/* Calls started and not yet returned by poll. */
size_t qk_dist_pool_running(const qk_dist_pool *p);

/* The outcome of a finished call: 0 with *body the answer JSON (borrowed until the call is
 * freed), or the error (the transport's name leads the message). */
int qk_dist_call_result(const qk_dist_call *c, const qk_buf **body, qk_err *err);
/* True when the call failed before reaching the worker (connection refused, DNS). */
bool qk_dist_call_unreachable(const qk_dist_call *c);
void *qk_dist_call_ud(const qk_dist_call *c);
qk_dist_transport *qk_dist_call_transport(const qk_dist_call *c);
/* Abort the call if it still runs, take it out of its pool and free it. Accepts NULL. */
void qk_dist_call_free(qk_dist_call *c);

#endif
