/* SPDX-License-Identifier: MIT */
/*
 * cmd_serve.c: `quack serve`, the HTTP service (the server module does the serving).
 *
 * Every flag has a QUACK_* environment variable; the flag wins. Values are validated before
 * anything starts (exit 2 with "quack serve: --flag: ..."); a missing lake or a port that
 * cannot be bound exits 1. SIGINT/SIGTERM are blocked in every thread and taken by sigwait()
 * in the main thread, which then stops the server gracefully (stop accepting, let requests in
 * progress finish for up to --timeout, close) and exits 0. With --port-file, the bound port is
 * written there (atomically, by rename) once the socket is listening. --workers / --lambda
 * make the server a coordinator of distributed queries: their transports (dist/transport.h)
 * are made, and the URLs checked, before anything starts.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "dist/transport.h"
#include "engine/engine.h"
#include "server/server.h"

#ifndef QUACK_VERSION
#define QUACK_VERSION "0.1.0"
#endif

const char qk_help_serve[] =
    "Usage: quack serve [OPTIONS]\n"
    "\n"
    "Serve SQL over the lake on HTTP: POST /invoke (the seed Lambda contract), POST /query,\n"
    "POST /map (map tasks), GET /health, GET /metrics. See docs/http-api.md.\n"
    "\n"
    "Options (each also read from the environment variable shown; the flag wins):\n"
    "  --host ADDR             address to bind (QUACK_HOST, default 127.0.0.1)\n"
    "  --port N                port, 0 = any free port (QUACK_PORT, default 8080)\n"
    "  --port-file FILE        write the bound port to FILE once listening (QUACK_PORT_FILE)\n"
    "  --lake DIR|URI          lake root: a directory or s3://bucket/prefix (QUACK_LAKE,\n"
    "                          default ./lake)\n"
    "  --threads N             DuckDB threads, 0 = one per core (QUACK_THREADS, default 0)\n"
    "  --memory-limit SIZE     DuckDB memory limit, e.g. 2GB (QUACK_MEMORY_LIMIT)\n"
    "  --max-concurrency N     queries running at once; more get 429 (QUACK_MAX_CONCURRENCY,\n"
    "                          default 16)\n"
    "  --connection-limit N    open connections at once (QUACK_CONNECTION_LIMIT, default 512)\n"
    "  --timeout S             per-query time limit in seconds, 0 = none; also the shutdown\n"
    "                          grace period (QUACK_TIMEOUT, default 30)\n"
    "  --token T               require 'Authorization: Bearer T' on /invoke, /query and\n"
    "                          /metrics (QUACK_TOKEN; prefer the variable: flags show in ps)\n"
    "  --max-body SIZE         largest request body; more gets 413 (QUACK_MAX_BODY, default 1MB)\n"
    "  --max-response SIZE     largest response body; rows past it are cut and reported as\n"
    "                          truncated (QUACK_MAX_RESPONSE, default 6MB)\n"
    "  --max-limit N           largest \"limit\" a request may ask for (QUACK_MAX_LIMIT,\n"
    "                          default 1000000)\n"
    "  --log-level LEVEL       debug|info|warn|error|off (QUACK_LOG_LEVEL, default info)\n"
    "\n"
    "Distributed queries (docs/distributed.md). Every server answers map tasks on POST /map;\n"
    "with workers it is also a coordinator: POST /query with \"distributed\": true fans out:\n"
    "  --workers URL,...       HTTP workers ('quack serve' instances) (QUACK_WORKERS)\n"
    "  --lambda FN,...         AWS Lambda functions running quack (QUACK_LAMBDA)\n"
    "  --worker-token T        bearer token for the workers (QUACK_WORKER_TOKEN; default: the\n"
    "                          server's own --token)\n"
    "  --parallel N            map tasks in flight per query (QUACK_PARALLEL, default 2 per\n"
    "                          worker, 8 per function)\n"
    "  --shard-size SIZE       target compressed bytes per shard (QUACK_SHARD_SIZE, default\n"
    "                          256MB)\n"
    "  --small-table-size SIZE a join is split when its other inputs hold at most SIZE, read\n"
    "                          whole by every map (QUACK_SMALL_TABLE_SIZE, default 64MB, 0 never)\n"
    "  -h, --help              show this help\n"
    "\n"
    "Logs are JSON lines on stderr: one \"listening\" line with the URL, one \"request\" line per\n"
    "request. SIGINT or SIGTERM stops the server gracefully (exit 0).\n";

enum {
    O_HOST,
    O_PORT,
    O_PORT_FILE,
    O_LAKE,
    O_THREADS,
    O_MEMORY_LIMIT,
    O_MAX_CONCURRENCY,
    O_CONNECTION_LIMIT,
    O_TIMEOUT,
    O_TOKEN,
    O_MAX_BODY,
    O_MAX_RESPONSE,
    O_MAX_LIMIT,
    O_LOG_LEVEL,
    O_WORKERS,
    O_LAMBDA,
    O_WORKER_TOKEN,
    O_PARALLEL,
    O_SHARD_SIZE,
    O_SMALL_SIZE,
    O_COUNT
};

/* In enum order: read_flags names an option by indexing this table. */
static const struct option long_opts[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"port-file", required_argument, NULL, O_PORT_FILE},
    {"lake", required_argument, NULL, O_LAKE},
    {"threads", required_argument, NULL, O_THREADS},
    {"memory-limit", required_argument, NULL, O_MEMORY_LIMIT},
    {"max-concurrency", required_argument, NULL, O_MAX_CONCURRENCY},
    {"connection-limit", required_argument, NULL, O_CONNECTION_LIMIT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"token", required_argument, NULL, O_TOKEN},
    {"max-body", required_argument, NULL, O_MAX_BODY},
    {"max-response", required_argument, NULL, O_MAX_RESPONSE},
    {"max-limit", required_argument, NULL, O_MAX_LIMIT},
    {"log-level", required_argument, NULL, O_LOG_LEVEL},
    {"workers", required_argument, NULL, O_WORKERS},
    {"lambda", required_argument, NULL, O_LAMBDA},
    {"worker-token", required_argument, NULL, O_WORKER_TOKEN},
    {"parallel", required_argument, NULL, O_PARALLEL},
    {"shard-size", required_argument, NULL, O_SHARD_SIZE},
    {"small-table-size", required_argument, NULL, O_SMALL_SIZE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Environment variable for each option, in enum order. */
static const char *const env_names[O_COUNT] = {
    "QUACK_HOST",         "QUACK_PORT",         "QUACK_PORT_FILE",       "QUACK_LAKE",
    "QUACK_THREADS",      "QUACK_MEMORY_LIMIT", "QUACK_MAX_CONCURRENCY", "QUACK_CONNECTION_LIMIT",
    "QUACK_TIMEOUT",      "QUACK_TOKEN",        "QUACK_MAX_BODY",        "QUACK_MAX_RESPONSE",
    "QUACK_MAX_LIMIT",    "QUACK_LOG_LEVEL",    "QUACK_WORKERS",         "QUACK_LAMBDA",
    "QUACK_WORKER_TOKEN", "QUACK_PARALLEL",     "QUACK_SHARD_SIZE",      "QUACK_SMALL_TABLE_SIZE"};

typedef struct serve_opts {
    const char *val[O_COUNT];  /* flag value, else the environment's, else NULL */
    const char *what[O_COUNT]; /* "--port" or "QUACK_PORT", for messages */
    qk_server_config srv;
    qk_engine_config eng;
    const char *port_file;
    qk_dist_workers workers;
} serve_opts;

static int read_flags(int argc, char **argv, serve_opts *o)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return qk_cli_usage_error("serve", "unknown option or missing value: %s",
                                      argv[optind - 1]);
        if (c >= 0 && c < O_COUNT) o->val[c] = optarg;
    }
    if (optind < argc) return qk_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    for (int i = 0; i < O_COUNT; i++) {
        o->what[i] = o->val[i] ? long_opts[i].name : env_names[i];
        if (!o->val[i]) {
            const char *e = getenv(env_names[i]);
            o->val[i] = e && *e ? e : NULL;
        }
    }
    return 0;
}

/* "--port" when the value came from the flag, "QUACK_PORT" when from the environment. */
static const char *source(const serve_opts *o, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s", o->what[i][0] == 'Q' ? "" : "--", o->what[i]);
    return buf;
}

static int int_opt(serve_opts *o, int i, int64_t lo, int64_t hi, int64_t *out, qk_err *err)
{
    char what[48];
    if (!o->val[i]) return 0;
    source(o, i, what, sizeof what);
    return qk_parse_int64(o->val[i], lo, hi, out, what, err);
}

static int size_opt(serve_opts *o, int i, uint64_t lo, uint64_t hi, size_t *out, qk_err *err)
{
    char what[48];
    uint64_t v;
    int rc;
    if (!o->val[i]) return 0;
    source(o, i, what, sizeof what);
    if ((rc = qk_parse_size(o->val[i], &v, what, err))) return rc;
    if (v < lo || v > hi)
        return qk_errf(err, QK_EINVAL, "%s: %s is out of range (%llu..%llu bytes)", what, o->val[i],
                       (unsigned long long)lo, (unsigned long long)hi);
    *out = (size_t)v;
    return 0;
}

static int numbers(serve_opts *o, qk_err *err)
{
    int64_t port = o->srv.port, threads = 0, conc = o->srv.max_concurrency;
    int64_t conns = o->srv.connection_limit, parallel = 0;
    int rc = int_opt(o, O_PORT, 0, 65535, &port, err);
    if (!rc) rc = int_opt(o, O_THREADS, 0, 4096, &threads, err);
    if (!rc) rc = int_opt(o, O_MAX_CONCURRENCY, 1, 100000, &conc, err);
    if (!rc) rc = int_opt(o, O_CONNECTION_LIMIT, 1, 1000000, &conns, err);
    if (!rc) rc = int_opt(o, O_MAX_LIMIT, 0, INT64_MAX / 2, &o->srv.max_limit, err);
    if (!rc) rc = size_opt(o, O_MAX_BODY, 64, (uint64_t)1 << 30, &o->srv.max_body, err);
    if (!rc) rc = size_opt(o, O_MAX_RESPONSE, 4096, (uint64_t)2 << 30, &o->srv.max_response, err);
    if (!rc) rc = int_opt(o, O_PARALLEL, 1, 10000, &parallel, err);
    if (!rc && o->val[O_SHARD_SIZE]) {
        size_t sb = 0;
        rc = size_opt(o, O_SHARD_SIZE, 1, UINT64_MAX / 2, &sb, err);
        o->srv.dist_shard_bytes = sb;
    }
    if (!rc && o->val[O_SMALL_SIZE]) {
        size_t sb = 0;
        rc = size_opt(o, O_SMALL_SIZE, 0, UINT64_MAX / 2, &sb, err);
        o->srv.dist_small_bytes = sb ? sb : 1; /* 0: never (no input is 1 byte) */
    }
    o->srv.dist_parallel = (int)parallel;
    o->srv.port = (int)port;
    o->eng.threads = (int)threads;
    o->srv.max_concurrency = (int)conc;
    o->srv.connection_limit = (int)conns;
    return rc;
}

static int strings(serve_opts *o, qk_err *err)
{
    char w[48];
    uint64_t mem;
    int lvl;
    int rc = 0;
    if (o->val[O_TIMEOUT])
        rc = qk_parse_duration_ms(o->val[O_TIMEOUT], &o->srv.timeout_ms,
                                  source(o, O_TIMEOUT, w, sizeof w), err);
    if (!rc && o->val[O_MEMORY_LIMIT])
        rc = qk_parse_size(o->val[O_MEMORY_LIMIT], &mem, source(o, O_MEMORY_LIMIT, w, sizeof w),
                           err);
    if (rc) return rc;
    if (o->val[O_LOG_LEVEL]) {
        if ((lvl = qk_log_level_parse(o->val[O_LOG_LEVEL])) < 0)
            return qk_errf(err, QK_EINVAL,
                           "%s: expected debug, info, warn, error or off, got "
                           "'%.32s'",
                           source(o, O_LOG_LEVEL, w, sizeof w), o->val[O_LOG_LEVEL]);
        qk_log_set_level((qk_log_level)lvl);
    }
    if (o->val[O_HOST]) o->srv.host = o->val[O_HOST];
    if (o->val[O_TOKEN]) o->srv.token = o->val[O_TOKEN];
    o->eng.memory_limit = o->val[O_MEMORY_LIMIT];
    o->eng.lake = qk_cli_lake(o->val[O_LAKE]);
    o->port_file = o->val[O_PORT_FILE];
    return 0;
}

/* --workers and --lambda: the transports, made (and the URLs checked) before anything starts. */
static int workers(serve_opts *o, qk_err *err)
{
    char w[48];
    const char *token = o->val[O_WORKER_TOKEN] ? o->val[O_WORKER_TOKEN] : o->val[O_TOKEN];
    int rc = 0;
    if (o->val[O_WORKERS] &&
        (rc = qk_dist_workers_add_http(&o->workers, o->val[O_WORKERS], token, err)))
        qk_err_prefix(err, "%s", source(o, O_WORKERS, w, sizeof w));
    if (!rc && o->val[O_LAMBDA] &&
        (rc = qk_dist_workers_add_lambda(&o->workers, o->val[O_LAMBDA], err)))
        qk_err_prefix(err, "%s", source(o, O_LAMBDA, w, sizeof w));
    o->srv.workers = o->workers.v;
    o->srv.nworkers = o->workers.n;
    return rc;
}

static int parse_opts(int argc, char **argv, serve_opts *o)
{
    qk_err err = {0};
    int rc;
    memset(o, 0, sizeof *o);
    qk_server_config_defaults(&o->srv);
    qk_engine_config_defaults(&o->eng);
    o->srv.version = QUACK_VERSION;
    if ((rc = read_flags(argc, argv, o))) return rc;
    if (numbers(o, &err) || strings(o, &err) || workers(o, &err))
        return qk_cli_usage_error("serve", "%s", err.msg);
    return 0;
}

static int write_port_file(const char *path, int port, qk_err *err)
{
    char tmp[4096];
    FILE *f;
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return qk_errf(err, QK_EINVAL, "--port-file: path too long");
    if (!(f = fopen(tmp, "w"))) return qk_errf(err, QK_EIO, "--port-file: cannot write %s", tmp);
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return qk_errf(err, QK_EIO, "--port-file: cannot write %s", path);
    }
    return 0;
}

/* Block SIGINT/SIGTERM before any thread exists (DuckDB's, MHD's) so only sigwait sees them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int serve(serve_opts *o, const sigset_t *set)
{
    qk_engine *eng = NULL;
    qk_server *srv = NULL;
    qk_err err = {0};
    int sig = 0, rc;
    if ((rc = qk_engine_open(&o->eng, &eng, &err))) goto out;
    if ((rc = qk_server_start(eng, &o->srv, &srv, &err))) goto out;
    if (o->port_file && (rc = write_port_file(o->port_file, qk_server_port(srv), &err))) goto out;
    sigwait(set, &sig);
    qk_log(QK_LOG_INFO, "shutdown", "\"signal\":\"%s\",\"inFlight\":%lld",
           sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)qk_server_in_flight(srv));
out:
    qk_server_stop(srv, o->srv.timeout_ms > 0 ? o->srv.timeout_ms + 1000 : 30000);
    qk_engine_close(eng);
    if (rc) qk_cli_print_err("serve", &err);
    return rc ? QK_EXIT_QUERY : QK_EXIT_OK;
}

int qk_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    sigset_t set;
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_serve)) return QK_EXIT_OK;
    if ((rc = parse_opts(argc, argv, &o))) {
        qk_dist_workers_free(&o.workers);
        return rc;
    }
    block_signals(&set);
    rc = serve(&o, &set);
    qk_dist_workers_free(&o.workers);
    return rc;
}
