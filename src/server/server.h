/* SPDX-License-Identifier: MIT */
/*
 * server.h: quack's HTTP API on libmicrohttpd (docs/http-api.md is the reference).
 *
 *   POST /invoke   the seed Lambda contract, byte-compatible (DESIGN.md section 3)
 *   POST /query    the richer API: columns and types, formats, truncation, timings; with
 *                  "distributed": true (a server started with workers) the query is planned
 *                  and fanned out as map tasks (dist/coord.h), same response shapes
 *   POST /map      a map task of a distributed query (dist/worker.h): every server is a worker
 *   GET  /health   liveness and a little state
 *   GET  /metrics  Prometheus text exposition 0.0.4
 *
 * Threading: one thread per connection (keep-alive connections keep their thread); each
 * request runs its statement on its own DuckDB connection of the shared qk_engine. Limits,
 * all from qk_server_config: request body bytes (413), response bytes (rows cut, reported as
 * truncated), rows, per-query time (504), queries in flight (429); a query whose client went
 * away is interrupted. A bearer token, when set, guards everything but /health.
 * Lifecycle: qk_server_start, then qk_server_stop (stop accepting, let requests in progress
 * finish within a grace period, close). start/stop belong to one controlling thread;
 * qk_server_port and qk_server_in_flight may be called from any thread.
 */
#ifndef QK_SERVER_H
#define QK_SERVER_H

#include "core/core.h"
#include "dist/transport.h"
#include "engine/engine.h"

typedef struct qk_server_config {
    const char *host;     /* address to bind; default "127.0.0.1" */
    int port;             /* 0 = any free port (see qk_server_port) */
    const char *token;    /* NULL or "" = no authentication */
    int max_concurrency;  /* queries running at once; past it 429 (default 16) */
    int connection_limit; /* open connections at once (default 512) */
    int64_t timeout_ms;   /* per query; 0 = none (default 30000) */
    size_t max_body;      /* request body bytes (default 1 MiB) */
    size_t max_response;  /* response body bytes (default 6 MiB, the Lambda payload cap) */
    int64_t max_limit;    /* largest "limit" a request may ask for (default 1,000,000) */
    const char *version;  /* reported by /health; borrowed until qk_server_stop */
    /* coordinator: the workers "distributed": true queries fan out to (borrowed until
     * qk_server_stop; none = distributed queries are refused) */
    qk_dist_transport *const *workers;
    size_t nworkers;
    int dist_parallel;         /* map tasks in flight per query; 0 = coord.h's default */
    uint64_t dist_shard_bytes; /* planner's shard size; 0 = its default */
    uint64_t dist_small_bytes; /* planner's limit for join inputs read whole; 0 = its default */
} qk_server_config;

typedef struct qk_server qk_server;

void qk_server_config_defaults(qk_server_config *c);
/* Bind and start serving on engine (borrowed; it must outlive the server). Logs one
 * "listening" line with the URL. *out is released by qk_server_stop. Strings in cfg are
 * copied except version. */
int qk_server_start(qk_engine *engine, const qk_server_config *cfg, qk_server **out, qk_err *err);
/* The port actually bound (useful with port 0). */
int qk_server_port(const qk_server *s);
/* Queries running right now. */
int64_t qk_server_in_flight(const qk_server *s);
/* Stop accepting connections, answer new requests on open connections with 503, wait up to
 * grace_ms for requests in progress to finish (their responses sent), then close every
 * connection and free s. Accepts NULL. */
void qk_server_stop(qk_server *s, int64_t grace_ms);

#endif
