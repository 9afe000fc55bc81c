/* SPDX-License-Identifier: MIT */
/*
 * cmd_query.c: `quack query`, the seed's client and more. SQL comes from -q, -f FILE, one
 * positional argument or standard input, else the seed's default count query. It runs in an
 * embedded engine over --lake, or against a running `quack serve` with --endpoint, or as a
 * distributed query (--distributed with --workers / --lambda: planned here, map tasks on the
 * workers, reduce here; dist/coord.h). Table output (the default on a terminal) shows a
 * metadata box (timeMs, roundtripMs, warm, rows, truncated; shards and retries when
 * distributed) and then the rows; json/ndjson/csv print only the data, identical in every mode.
 * --explain-distributed prints the plan (dist/plan.h) and runs nothing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "dist/coord.h"
#include "engine/encode.h"
#include "lake/resolve.h"

#define SQL_MAX (1u << 20)

const char qk_help_query[] =
    "Usage: quack query [OPTIONS] [SQL]\n"
    "\n"
    "Run one SQL statement over the lake and print the result.\n"
    "SQL comes from -q, -f FILE, the SQL argument, or standard input; with none of them\n"
    "quack runs the seed's query:\n"
    "  SELECT COUNT(*) AS COUNTS FROM read_parquet(['<lake>/dataset/taxi_2019_04.parquet'])\n"
    "\n"
    "Options:\n"
    "  -q, --sql SQL          the statement to run\n"
    "  -f, --file FILE        read the statement from FILE ('-' for stdin)\n"
    "  -l, --limit N          rows to return at most (default 10)\n"
    "  -F, --format FMT       table | json | ndjson | csv (default table)\n"
    "  -e, --endpoint URL     send the query to a running 'quack serve' (e.g.\n"
    "                         http://127.0.0.1:8080) instead of running it here\n"
    "      --token T          bearer token for --endpoint (default $QUACK_TOKEN)\n"
    "      --lake DIR|URI     lake root for embedded runs: a directory or s3://bucket/prefix\n"
    "                         (default $QUACK_LAKE or ./lake)\n"
    "      --timeout S        give up after S seconds (default 0: no limit)\n"
    "      --threads N        DuckDB threads for embedded runs (default: one per core)\n"
    "      --memory-limit SZ  DuckDB memory limit for embedded runs (e.g. 4GB)\n"
    "      --max-bytes SZ     cap the printed data at SZ bytes (default: no cap)\n"
    "      --width N          table width (default: the terminal's, else 120)\n"
    "\n"
    "Distributed queries (docs/distributed.md):\n"
    "      --distributed      plan the query into map tasks for the workers and reduce the\n"
    "                         partials here (implied by --workers and --lambda)\n"
    "      --workers URL,...  HTTP workers: 'quack serve' instances (POST URL/map)\n"
    "      --lambda FN,...    AWS Lambda functions running quack (Invoke API; region and\n"
    "                         credentials from the AWS configuration)\n"
    "      --worker-token T   bearer token for --workers (default $QUACK_WORKER_TOKEN, else\n"
    "                         $QUACK_TOKEN)\n"
    "      --parallel N       map tasks in flight (default 2 per worker, 8 per function)\n"
    "      --shard-size SZ    target compressed bytes per shard (default 256MB)\n"
    "      --small-table-size SZ  a join is split when its other inputs hold at most SZ,\n"
    "                         read whole by every map (default 64MB; 0: never)\n"
    "      --spill-threshold SZ  partials larger than SZ travel through the lake's store\n"
    "                         (<lake>/_quack/partials/) instead of inline (default 4MB)\n"
    "      --explain-distributed  print the shards, map SQL and reduce SQL (or why the\n"
    "                         query is not split) and exit without running anything\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 ok, 1 the query failed, 2 usage error.\n"
    "Examples:\n"
    "  quack query\n"
    "  quack query -q \"SELECT pickup_location_id, count(*) FROM 'lake/dataset/*.parquet'\n"
    "               GROUP BY 1 ORDER BY 2 DESC\" --limit 5\n"
    "  echo 'SELECT 42' | quack query --format json\n"
    "  quack query --endpoint http://127.0.0.1:8080 -q 'SELECT 1'\n"
    "  quack query --workers http://10.0.0.1:8080,http://10.0.0.2:8080 -q \"SELECT\n"
    "               vendor_id, avg(fare) FROM 'lake/partitioned/*/*.parquet' GROUP BY 1\"\n";

typedef struct query_args {
    const char *sql_flag, *file, *endpoint, *token, *lake, *memory_limit;
    char *sql; /* owned */
    const char *format;
    qk_format fmt;
    int64_t limit, timeout_ms, threads, width;
    uint64_t max_bytes;
    /* distributed */
    bool distributed, explain;
    const char *workers, *lambda, *worker_token;
    int64_t parallel;
    uint64_t shard_bytes, small_bytes, spill_threshold;
} query_args;

typedef struct query_out {
    double time_ms, roundtrip_ms;
    bool warm, truncated, distributed;
    uint64_t rows;
    size_t shards, retries;
    qk_buf data;
} query_out;

enum {
    OPT_TOKEN = 256,
    OPT_LAKE,
    OPT_TIMEOUT,
    OPT_THREADS,
    OPT_MEM,
    OPT_MAXBYTES,
    OPT_WIDTH,
    OPT_DISTRIBUTED,
    OPT_WORKERS,
    OPT_LAMBDA,
    OPT_WORKER_TOKEN,
    OPT_PARALLEL,
    OPT_SHARD_SIZE,
    OPT_SMALL_SIZE,
    OPT_SPILL,
    OPT_EXPLAIN
};

static int terminal_width(void)
{
    struct winsize ws;
    int64_t v;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    if (qk_parse_int64(qk_env_str("COLUMNS", ""), 20, 10000, &v, "COLUMNS", NULL) == 0)
        return (int)v;
    return 120;
}

static int parse_flag_value(int opt, const char *v, query_args *a, qk_err *err)
{
    switch (opt) {
    case 'l':
        return qk_parse_int64(v, 0, 1000000000, &a->limit, "--limit", err);
    case 'F':
        a->format = v;
        return qk_format_parse(v, &a->fmt, err);
    case OPT_TIMEOUT:
        return qk_parse_duration_ms(v, &a->timeout_ms, "--timeout", err);
    case OPT_THREADS:
        return qk_parse_int64(v, 1, 1024, &a->threads, "--threads", err);
    case OPT_WIDTH:
        return qk_parse_int64(v, 20, 10000, &a->width, "--width", err);
    case OPT_MAXBYTES:
        return qk_parse_size(v, &a->max_bytes, "--max-bytes", err);
    case OPT_PARALLEL:
        return qk_parse_int64(v, 1, 10000, &a->parallel, "--parallel", err);
    case OPT_SHARD_SIZE:
        if (qk_parse_size(v, &a->shard_bytes, "--shard-size", err)) return err->code;
        return a->shard_bytes ? 0 : qk_errf(err, QK_EINVAL, "--shard-size must be above 0");
    case OPT_SMALL_SIZE: /* 0: never split a join (1 byte: no input is that small) */
        if (qk_parse_size(v, &a->small_bytes, "--small-table-size", err)) return err->code;
        a->small_bytes += !a->small_bytes;
        return 0;
    case OPT_SPILL:
        if (qk_parse_size(v, &a->spill_threshold, "--spill-threshold", err)) return err->code;
        return a->spill_threshold ? 0
                                  : qk_errf(err, QK_EINVAL, "--spill-threshold must be above 0");
    }
    return 0;
}

static const struct option longopts[] = {{"sql", required_argument, 0, 'q'},
                                         {"file", required_argument, 0, 'f'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"format", required_argument, 0, 'F'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {"token", required_argument, 0, OPT_TOKEN},
                                         {"lake", required_argument, 0, OPT_LAKE},
                                         {"timeout", required_argument, 0, OPT_TIMEOUT},
                                         {"threads", required_argument, 0, OPT_THREADS},
                                         {"memory-limit", required_argument, 0, OPT_MEM},
                                         {"max-bytes", required_argument, 0, OPT_MAXBYTES},
                                         {"width", required_argument, 0, OPT_WIDTH},
                                         {"distributed", no_argument, 0, OPT_DISTRIBUTED},
                                         {"workers", required_argument, 0, OPT_WORKERS},
                                         {"lambda", required_argument, 0, OPT_LAMBDA},
                                         {"worker-token", required_argument, 0, OPT_WORKER_TOKEN},
                                         {"parallel", required_argument, 0, OPT_PARALLEL},
                                         {"shard-size", required_argument, 0, OPT_SHARD_SIZE},
                                         {"small-table-size", required_argument, 0, OPT_SMALL_SIZE},
                                         {"spill-threshold", required_argument, 0, OPT_SPILL},
                                         {"explain-distributed", no_argument, 0, OPT_EXPLAIN},
                                         {0, 0, 0, 0}};

/* --workers / --lambda imply --distributed, which needs one of them (or only explains). */
static int check_distributed(query_args *a, qk_err *err)
{
    if (a->workers || a->lambda) a->distributed = true;
    if ((a->distributed || a->explain) && a->endpoint)
        return qk_errf(err, QK_EINVAL,
                       "--distributed and --explain-distributed run here: not with --endpoint "
                       "(send \"distributed\": true to a coordinator's POST /query instead)");
    if (a->distributed && !a->explain && !a->workers && !a->lambda)
        return qk_errf(err, QK_EINVAL,
                       "--distributed needs --workers URL,... or --lambda FUNCTION");
    if (a->workers) { /* bad URLs are usage errors: check them now */
        qk_dist_workers w = {0};
        int rc = qk_dist_workers_add_http(&w, a->workers, NULL, err);
        qk_dist_workers_free(&w);
        if (rc) qk_err_prefix(err, "--workers");
        return rc;
    }
    return 0;
}

static int parse_args(int argc, char **argv, query_args *a, qk_err *err)
{
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "q:f:l:F:e:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'q':
            a->sql_flag = optarg;
            break;
        case 'f':
            a->file = optarg;
            break;
        case 'e':
            a->endpoint = optarg;
            break;
        case OPT_TOKEN:
            a->token = optarg;
            break;
        case OPT_LAKE:
            a->lake = optarg;
            break;
        case OPT_MEM:
            a->memory_limit = optarg;
            break;
        case OPT_DISTRIBUTED:
            a->distributed = true;
            break;
        case OPT_EXPLAIN:
            a->explain = true;
            break;
        case OPT_WORKERS:
            a->workers = optarg;
            break;
        case OPT_LAMBDA:
            a->lambda = optarg;
            break;
        case OPT_WORKER_TOKEN:
            a->worker_token = optarg;
            break;
        case '?':
            return qk_errf(err, QK_EINVAL, "unknown option or missing value: %s", argv[optind - 1]);
        default:
            if ((rc = parse_flag_value(opt, optarg, a, err))) return rc;
        }
    }
    if (optind < argc - 1) return qk_errf(err, QK_EINVAL, "expected at most one SQL argument");
    if ((a->sql_flag != NULL) + (a->file != NULL) + (optind < argc) > 1)
        return qk_errf(err, QK_EINVAL, "give the SQL once: -q, -f or an argument");
    if (optind < argc) a->sql_flag = argv[optind];
    return check_distributed(a, err);
}

/* Fill a->sql from the flags, a file, stdin, or the seed's default query. */
static int load_sql(query_args *a, qk_err *err)
{
    size_t len;
    int rc;
    if (a->sql_flag) {
        a->sql = qk_xstrdup(a->sql_flag);
        return 0;
    }
    if (a->file && strcmp(a->file, "-") != 0)
        return qk_read_file(a->file, SQL_MAX, &a->sql, &len, err);
    if (a->file || !isatty(STDIN_FILENO)) {
        if ((rc = qk_read_file("/dev/stdin", SQL_MAX, &a->sql, &len, err))) return rc;
        if (qk_str_blank(a->sql) && !a->file) {
            free(a->sql);
            a->sql = NULL;
        } else {
            return 0;
        }
    }
    char *lake = NULL;
    const char *root = qk_cli_lake(a->lake);
    if (qk_str_startswith(root, "s3://"))
        lake = qk_xstrdup(root); /* resolved through the cache */
    else if ((rc = qk_path_abs(root, &lake, err)))
        return rc;
    while (qk_str_endswith(lake, "/") && strlen(lake) > 1)
        lake[strlen(lake) - 1] = 0;
    qk_buf b;
    qk_buf_init(&b, SQL_MAX);
    rc = qk_buf_printf(
        &b, "SELECT COUNT(*) AS COUNTS FROM read_parquet(['%s/dataset/taxi_2019_04.parquet'])",
        lake);
    free(lake);
    if (rc) return qk_errf(err, rc, "lake path too long");
    a->sql = qk_buf_detach(&b, NULL);
    return 0;
}

/* json output is the NDJSON records joined into one array, so it is byte-identical whether
 * it came from the embedded engine or from a server. */
static qk_format wire_format(qk_format f)
{
    return f == QK_FMT_JSON ? QK_FMT_NDJSON : f;
}

static int open_engine(const query_args *a, qk_engine **eng, qk_err *err)
{
    qk_engine_config cfg;
    qk_engine_config_defaults(&cfg);
    cfg.lake = qk_cli_lake(a->lake);
    cfg.threads = (int)a->threads;
    cfg.memory_limit = a->memory_limit;
    return qk_engine_open(&cfg, eng, err);
}

static int run_embedded(const query_args *a, query_out *o, qk_err *err)
{
    qk_engine *eng = NULL;
    qk_result *res = NULL;
    qk_encode_opts eo;
    qk_encode_stats st = {0};
    qk_query_opts qo = {a->limit, a->timeout_ms, NULL, NULL, false};
    int rc;
    if ((rc = open_engine(a, &eng, err))) goto out;
    if ((rc = qk_lake_query(eng, a->sql, &qo, &res, err))) goto out;
    qk_encode_opts_init(&eo);
    eo.max_bytes = a->max_bytes;
    eo.table_width = (int)a->width;
    if ((rc = qk_encode_result(res, wire_format(a->fmt), &eo, &o->data, &st, err))) goto out;
    o->time_ms = qk_result_exec_ms(res);
    o->warm = qk_result_warm(res);
    o->rows = st.rows;
    o->truncated = st.truncated || qk_result_limited(res);
out:
    qk_result_destroy(res);
    qk_engine_close(eng);
    return rc;
}

static int explain(const query_args *a, qk_err *err)
{
    qk_engine *eng = NULL;
    qk_dist_plan plan;
    qk_dist_plan_opts po = {.shard_bytes = a->shard_bytes, .small_bytes = a->small_bytes};
    qk_buf b;
    int rc;
    memset(&plan, 0, sizeof plan);
    qk_buf_init(&b, (size_t)64 << 20);
    if (!(rc = open_engine(a, &eng, err)) &&
        !(rc = qk_dist_plan_query(eng, a->sql, &po, &plan, err))) {
        if ((rc = qk_dist_explain(&plan, &b)))
            qk_errf(err, rc, "the plan is too large to print");
        else
            fwrite(qk_buf_cstr(&b), 1, b.len, stdout);
    }
    qk_dist_plan_free(&plan);
    qk_buf_free(&b);
    qk_engine_close(eng);
    return rc;
}

static int add_workers(const query_args *a, qk_dist_workers *w, qk_err *err)
{
    const char *token = a->worker_token ? a->worker_token : getenv("QUACK_WORKER_TOKEN");
    int rc = 0;
    if (!token) token = getenv("QUACK_TOKEN");
    if (a->workers && (rc = qk_dist_workers_add_http(w, a->workers, token, err)))
        qk_err_prefix(err, "--workers");
    if (!rc && a->lambda && (rc = qk_dist_workers_add_lambda(w, a->lambda, err)))
        qk_err_prefix(err, "--lambda");
    return rc;
}

static int run_distributed(const query_args *a, query_out *o, qk_err *err)
{
    qk_dist_workers w = {0};
    qk_engine *eng = NULL;
    qk_result *res = NULL;
    qk_dist_coord_opts co;
    qk_dist_plan_opts po = {.shard_bytes = a->shard_bytes, .small_bytes = a->small_bytes};
    qk_dist_run_stats st;
    qk_encode_opts eo;
    qk_encode_stats es = {0};
    int rc;
    if ((rc = add_workers(a, &w, err)) || (rc = open_engine(a, &eng, err))) goto out;
    qk_dist_coord_opts_init(&co);
    co.workers = w.v;
    co.nworkers = w.n;
    co.parallel = (int)a->parallel;
    co.limit = a->limit;
    co.timeout_ms = a->timeout_ms;
    co.spill_threshold = a->spill_threshold;
    if ((rc = qk_dist_query(eng, a->sql, &po, &co, &res, &st, err))) goto out;
    qk_encode_opts_init(&eo);
    eo.max_bytes = a->max_bytes;
    eo.table_width = (int)a->width;
    if ((rc = qk_encode_result(res, wire_format(a->fmt), &eo, &o->data, &es, err))) goto out;
    o->time_ms = st.total_ms;
    o->warm = qk_result_warm(res);
    o->rows = es.rows;
    o->truncated = es.truncated || qk_result_limited(res);
    o->distributed = true;
    o->shards = st.shards;
    o->retries = st.retries;
out:
    qk_result_destroy(res);
    qk_engine_close(eng);
    qk_dist_workers_free(&w);
    return rc;
}

static int run_remote(const query_args *a, query_out *o, qk_err *err)
{
    qk_remote_request q = {a->endpoint,  a->token ? a->token : getenv("QUACK_TOKEN"),
                           a->sql,       qk_format_name(wire_format(a->fmt)),
                           a->limit,     (int)a->width,
                           a->timeout_ms};
    qk_remote_reply r;
    memset(&r, 0, sizeof r);
    int rc = qk_remote_query(&q, &r, err);
    if (rc == 0) {
        o->time_ms = r.time_ms;
        o->warm = r.warm;
        o->rows = r.rows;
        o->truncated = r.truncated;
        size_t n = r.body.len;
        if (a->max_bytes && n > a->max_bytes) n = a->max_bytes, o->truncated = true;
        rc = qk_buf_add(&o->data, r.body.data ? r.body.data : "", n);
        if (rc) qk_errf(err, rc, "response too large");
    }
    qk_remote_reply_free(&r);
    return rc;
}

/* "{a}\n{b}\n" -> "[{a},{b}]\n" */
static void print_json_array(const qk_buf *nd)
{
    const char *p = qk_buf_cstr(nd), *end = p + nd->len;
    bool first = true;
    fputc('[', stdout);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n) {
            if (!first) fputc(',', stdout);
            fwrite(p, 1, n, stdout);
            first = false;
        }
        p += n + 1;
    }
    fputs("]\n", stdout);
}

static void print_result(const query_args *a, const query_out *o)
{
    if (a->fmt == QK_FMT_TABLE) {
        char cells[7][32];
        const char *names[7] = {"timeMs",    "roundtripMs", "warm",   "rows",
                                "truncated", "shards",      "retries"};
        snprintf(cells[0], sizeof cells[0], "%.3f", o->time_ms);
        snprintf(cells[1], sizeof cells[1], "%.3f", o->roundtrip_ms);
        snprintf(cells[2], sizeof cells[2], "%s", o->warm ? "true" : "false");
        snprintf(cells[3], sizeof cells[3], "%llu", (unsigned long long)o->rows);
        snprintf(cells[4], sizeof cells[4], "%s", o->truncated ? "true" : "false");
        snprintf(cells[5], sizeof cells[5], "%zu", o->shards);
        snprintf(cells[6], sizeof cells[6], "%zu", o->retries);
        const char *vals[7] = {cells[0], cells[1], cells[2], cells[3],
                               cells[4], cells[5], cells[6]};
        qk_cli_print_box(stdout, o->distributed ? 7 : 5, names, vals);
    }
    if (a->fmt == QK_FMT_JSON)
        print_json_array(&o->data);
    else
        fwrite(qk_buf_cstr(&o->data), 1, o->data.len, stdout);
}

int qk_cmd_query(int argc, char **argv)
{
    query_args a = {0};
    query_out o;
    qk_err err = {0};
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_query)) return QK_EXIT_OK;
    a.limit = 10;
    a.fmt = QK_FMT_TABLE;
    if (parse_args(argc, argv, &a, &err)) return qk_cli_usage_error("query", "%s", err.msg);
    if (a.fmt == QK_FMT_TABLE && !a.width) a.width = terminal_width();
    if (load_sql(&a, &err)) {
        qk_cli_print_err("query", &err);
        return err.code == QK_ENOTFOUND ? QK_EXIT_USAGE : QK_EXIT_QUERY;
    }
    if (a.explain) {
        rc = explain(&a, &err);
        if (rc) qk_cli_print_err("query", &err);
        free(a.sql);
        return rc ? QK_EXIT_QUERY : QK_EXIT_OK;
    }
    memset(&o, 0, sizeof o);
    qk_buf_init(&o.data, (size_t)1 << 31);
    double t0 = qk_now_msf();
    if (a.endpoint)
        rc = run_remote(&a, &o, &err);
    else if (a.distributed)
        rc = run_distributed(&a, &o, &err);
    else
        rc = run_embedded(&a, &o, &err);
    o.roundtrip_ms = qk_now_msf() - t0;
    if (rc == 0)
        print_result(&a, &o);
    else
        qk_cli_print_err("query", &err);
    qk_buf_free(&o.data);
    free(a.sql);
    return rc ? QK_EXIT_QUERY : QK_EXIT_OK;
}
