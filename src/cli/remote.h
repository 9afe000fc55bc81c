/* SPDX-License-Identifier: MIT */
/*
 * remote.h: `quack query --endpoint URL` talks to a running `quack serve` through POST /query.
 */
#ifndef QK_CLI_REMOTE_H
#define QK_CLI_REMOTE_H

#include "core/core.h"

typedef struct qk_remote_request {
    const char *endpoint; /* base URL, e.g. http://127.0.0.1:8080 */
    const char *token;    /* bearer token or NULL */
    const char *sql;
    const char *format; /* json | ndjson | csv | table */
    int64_t limit;
    int width;          /* table width, 0 = server default */
    int64_t timeout_ms; /* whole request, 0 = none */
} qk_remote_request;

typedef struct qk_remote_reply {
    long status;
    qk_buf body;    /* caller frees with qk_remote_reply_free */
    double time_ms; /* X-Quack-Time-Ms */
    uint64_t rows;  /* X-Quack-Rows */
    bool warm, truncated;
    char truncated_by[16];
    char query_id[40];
} qk_remote_reply;

/* POST /query. On an HTTP error status err holds the server's errorMessage and errorType. */
int qk_remote_query(const qk_remote_request *q, qk_remote_reply *r, qk_err *err);
void qk_remote_reply_free(qk_remote_reply *r);

#endif
