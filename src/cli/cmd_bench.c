/* SPDX-License-Identifier: MIT */
/*
 * cmd_bench.c: `quack bench reduce`, the seed's quack-reduce experiment ("From quack to
 * quack-reduce") rebuilt on a local lake, plus what the seed did not measure
 * (docs/bench-reduce.md). One process, in this order:
 *
 *   setup     the lake's day partitions (<lake>/partitioned/date=YYYY-MM-DD, sorted), two
 *             engines (one per core for the coordinator and the embedded runs; one thread for
 *             the scaling baseline), the workers: --spawn N `quack serve` children of this
 *             binary (/proc/self/exe on 127.0.0.1, port 0, --port-file) or the --workers URLs
 *   (1) seed  the per-day map query over the first --days days, three ways in interleaved
 *             rounds: distributed (1-byte shard size: one shard per day file), the whole query
 *             as one task on one worker, embedded DuckDB; results compared, location 237 shown
 *   (2)       per-shard overhead: a map that reads no rows (WHERE false) over every day file
 *   (3)       scaling: a scan-bound query over every day file on 1 and 2 single-thread workers
 *             (one task in flight per worker) vs embedded DuckDB on 1 thread
 *   (4)       simulated fan-out: (3)'s query and (2)'s map over N fresh local workers per
 *             --fanout size
 *   report    Markdown tables on stdout (stderr with --json -), progress on stderr, --json
 *
 * Spawned workers (bench_proc.c) get their own process group and PR_SET_PDEATHSIG (so a killed
 * bench takes them along) and are stopped (SIGTERM, SIGKILL after 10 s) on every exit path. The one
 * global is stop_flag: SIGINT/SIGTERM set it, and every wait, the coordinator and the embedded
 * queries poll it as their cancel callback. Timing never fails the command; a disagreement
 * between results does (exit 1).
 */
#include <ctype.h>
#include <dirent.h>
#include <duckdb.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/bench_proc.h"
#include "cli/cli.h"
#include "dist/coord.h"
#include "engine/encode.h"
#include "lake/resolve.h"

#ifndef QUACK_VERSION
#define QUACK_VERSION "0.1.0"
#endif

#define MAX_RUNS 100
#define MAX_FANOUT 16   /* sizes in --fanout */
#define MAX_DAYS 100000 /* day partitions read from a lake */
#define QUERY_TIMEOUT_MS 600000
#define CSV_MAX ((size_t)256 << 20)
#define TARGET_EFFICIENCY 0.85
#define REL_TOLERANCE 1e-9 /* numbers in results: a distributed sum adds in another order */
#define CMD "bench reduce"

int qk_cmd_bench_delta(int argc, char **argv); /* cmd_bench_delta.c: `quack bench delta` */

const char qk_help_bench[] =
    "Usage: quack bench reduce [OPTIONS]\n"
    "\n"
    "Reproduce the seed's quack-reduce experiment on a local demo lake and measure the\n"
    "distributed path (docs/bench-reduce.md). Four parts, each timed over --runs runs after\n"
    "--warmup unmeasured rounds (mean and standard deviation in ms):\n"
    "  (1) the seed's query (pickup counts per location) over the first --days day\n"
    "      partitions, three ways: distributed (one shard per day file, --parallel map\n"
    "      tasks in flight), the whole query as one task on one worker, and embedded DuckDB\n"
    "      in this process. The results must agree row for row; the count of location 237\n"
    "      is printed for each, as the seed did. A disagreement is exit 1.\n"
    "  (2) per-shard overhead: a map that reads no rows (WHERE false) over every day file,\n"
    "      one task at a time on one worker, then --parallel in flight; and planning time\n"
    "  (3) scaling: a scan-bound query over every day file on 1 and 2 workers (--threads 1\n"
    "      each, one task in flight per worker) vs embedded DuckDB on 1 thread: speedup and\n"
    "      efficiency against the 0.85 target (PASS/MISS; timing never fails the command)\n"
    "  (4) simulated fan-out: (3)'s query and (2)'s map over N local worker processes for\n"
    "      each --fanout size (all on this machine: see the notes printed with it)\n"
    "\n"
    "Options:\n"
    "      --lake DIR         a local demo lake ('quack demo --lake DIR'; default $QUACK_LAKE\n"
    "                         or ./lake)\n"
    "      --days N           day partitions for (1), the first N by date (default 10)\n"
    "      --parallel N       map tasks in flight in (1) and (2) (default 20, the seed's\n"
    "                         parallel invocations)\n"
    "      --runs N           measured runs per measurement, 1..100 (default 3)\n"
    "      --warmup N         unmeasured rounds first, 0..10 (default 1)\n"
    "      --spawn N          local workers for (1) and (2): 'quack serve' processes of this\n"
    "                         binary on 127.0.0.1 (default: one per core), always stopped\n"
    "      --worker-threads N DuckDB threads of each --spawn worker (default 1)\n"
    "      --workers URL,...  use running workers for (1)-(3) instead ('quack serve' URLs;\n"
    "                         token from $QUACK_WORKER_TOKEN, else $QUACK_TOKEN)\n"
    "      --query SQL        another query for (1); <LAKE>, <FIRST_DAY> and <LAST_DAY> are\n"
    "                         replaced by the lake path and the first and last of the days\n"
    "      --fanout LIST      worker counts for (4), e.g. 1,2,4,8 (default), or 'none'\n"
    "      --json FILE        also write every number and the machine notes as JSON ('-':\n"
    "                         JSON on stdout, the tables on stderr)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 done, 1 a run failed or the results disagree, 2 usage error.\n"
    "Example:\n"
    "  quack demo --lake /tmp/lake && quack bench reduce --lake /tmp/lake --json r.json\n"
    "\n"
    "Also: quack bench delta [OPTIONS]: Delta table benchmarks (see quack bench delta --help)\n";

/* ---- options ------------------------------------------------------------------------------ */

typedef struct bench_args {
    const char *lake, *workers, *query, *json;
    int64_t days, parallel, runs, warmup, spawn, worker_threads;
    int64_t fanout[MAX_FANOUT];
    size_t nfanout;
    bool spawn_given;
} bench_args;

enum {
    OPT_LAKE = 256,
    OPT_DAYS,
    OPT_PARALLEL,
    OPT_RUNS,
    OPT_WARMUP,
    OPT_SPAWN,
    OPT_WORKER_THREADS,
    OPT_WORKERS,
    OPT_QUERY,
    OPT_FANOUT,
    OPT_JSON
};

static const struct option longopts[] = {
    {"lake", required_argument, 0, OPT_LAKE},
    {"days", required_argument, 0, OPT_DAYS},
    {"parallel", required_argument, 0, OPT_PARALLEL},
    {"runs", required_argument, 0, OPT_RUNS},
    {"warmup", required_argument, 0, OPT_WARMUP},
    {"spawn", required_argument, 0, OPT_SPAWN},
    {"worker-threads", required_argument, 0, OPT_WORKER_THREADS},
    {"workers", required_argument, 0, OPT_WORKERS},
    {"query", required_argument, 0, OPT_QUERY},
    {"fanout", required_argument, 0, OPT_FANOUT},
    {"json", required_argument, 0, OPT_JSON},
    {0, 0, 0, 0}};

static void args_defaults(bench_args *a)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    memset(a, 0, sizeof *a);
    a->days = 10;
    a->parallel = 20;
    a->runs = 3;
    a->warmup = 1;
    a->spawn = n < 1 ? 1 : n > QK_BENCH_MAX_WORKERS ? QK_BENCH_MAX_WORKERS : n;
    a->worker_threads = 1;
    a->nfanout = 4;
    for (size_t i = 0; i < 4; i++)
        a->fanout[i] = (int64_t)1 << i;
}

/* "1,2,4,8" or "none". */
static int parse_fanout(const char *v, bench_args *a, qk_err *err)
{
    const char *p = v;
    char item[24];
    a->nfanout = 0;
    if (strcmp(v, "none") == 0) return 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof item)
            return qk_errf(err, QK_EINVAL,
                           "--fanout: expected worker counts like 1,2,4,8 or 'none', got '%.64s'",
                           v);
        if (a->nfanout == MAX_FANOUT)
            return qk_errf(err, QK_EINVAL, "--fanout: at most %d sizes", MAX_FANOUT);
        memcpy(item, p, n);
        item[n] = 0;
        if (qk_parse_int64(item, 1, QK_BENCH_MAX_WORKERS, &a->fanout[a->nfanout++], "--fanout",
                           err))
            return err->code;
        if (!comma) return 0;
        p = comma + 1;
    }
}

static int parse_value(int opt, const char *v, bench_args *a, qk_err *err)
{
    switch (opt) {
    case OPT_DAYS:
        return qk_parse_int64(v, 1, MAX_DAYS, &a->days, "--days", err);
    case OPT_PARALLEL:
        return qk_parse_int64(v, 1, 10000, &a->parallel, "--parallel", err);
    case OPT_RUNS:
        return qk_parse_int64(v, 1, MAX_RUNS, &a->runs, "--runs", err);
    case OPT_WARMUP:
        return qk_parse_int64(v, 0, 10, &a->warmup, "--warmup", err);
    case OPT_SPAWN:
        a->spawn_given = true;
        return qk_parse_int64(v, 1, QK_BENCH_MAX_WORKERS, &a->spawn, "--spawn", err);
    case OPT_WORKER_THREADS:
        return qk_parse_int64(v, 1, 256, &a->worker_threads, "--worker-threads", err);
    case OPT_FANOUT:
        return parse_fanout(v, a, err);
    case OPT_LAKE:
        a->lake = v;
        return 0;
    case OPT_WORKERS:
        a->workers = v;
        return 0;
    case OPT_QUERY:
        a->query = v;
        return qk_str_blank(v) ? qk_errf(err, QK_EINVAL, "--query: empty SQL") : 0;
    case OPT_JSON:
        a->json = v;
        return *v ? 0 : qk_errf(err, QK_EINVAL, "--json: empty file name");
    }
    return qk_errf(err, QK_EINVAL, "unknown option");
}

/* argv[0] is "reduce". */
static int parse_args(int argc, char **argv, bench_args *a, qk_err *err)
{
    int opt, rc;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == '?' || opt == ':')
            return qk_errf(err, QK_EINVAL, "unknown option or missing value: %s", argv[optind - 1]);
        if ((rc = parse_value(opt, optarg, a, err))) return rc;
    }
    if (optind < argc) return qk_errf(err, QK_EINVAL, "unexpected argument '%s'", argv[optind]);
    if (a->workers && a->spawn_given)
        return qk_errf(err, QK_EINVAL, "give --workers or --spawn, not both");
    if (a->workers) { /* bad URLs are usage errors: check them now */
        qk_dist_workers w = {0};
        rc = qk_dist_workers_add_http(&w, a->workers, NULL, err);
        qk_dist_workers_free(&w);
        if (rc) qk_err_prefix(err, "--workers");
        return rc;
    }
    return 0;
}

/* ---- state -------------------------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int stop_requested(void *ud)
{
    (void)ud;
    return stop_flag != 0;
}

typedef qk_bench_fleet fleet;

typedef struct bench {
    bench_args a;
    char *lake;  /* absolute */
    char **days; /* "YYYY-MM-DD", sorted */
    size_t ndays;
    size_t day_files;    /* parquet files in the first --days days */
    qk_engine *eng;      /* one thread per core: coordinator, reduce, embedded runs */
    qk_engine *eng1;     /* one thread: the scaling baseline */
    char tmp[1024];      /* worker port files and logs */
    qk_bench_spawner sp; /* over tmp and the lake */
    long nproc;
    FILE *out; /* the tables */
    json_t *root;
    char *seed_sql, *scan_sql, *empty_sql;
    fleet main;
    qk_buf scan_ref;     /* embedded 1-thread result of scan_sql, CSV */
    double emb1_ms;      /* its mean */
    double cpu_start[3]; /* machine busy and total, own CPU seconds (cpu_snapshot) */
    bool disagree;
    char why[768]; /* the first disagreement */
} bench;

/* ---- lake --------------------------------------------------------------------------------- */

/* "date=YYYY-MM-DD" */
static bool is_day_dir(const char *name)
{
    if (strlen(name) != 15 || strncmp(name, "date=", 5) != 0) return false;
    for (int i = 5; i < 15; i++)
        if ((i == 9 || i == 12) ? name[i] != '-' : !isdigit((unsigned char)name[i])) return false;
    return true;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int add_day(bench *b, const char *day, size_t *cap, qk_err *err)
{
    if (b->ndays == MAX_DAYS)
        return qk_errf(err, QK_ETOOBIG, "more than %d day partitions", MAX_DAYS);
    if (b->ndays == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char **v = realloc(b->days, ncap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory");
        b->days = v;
        *cap = ncap;
    }
    b->days[b->ndays++] = qk_xstrdup(day);
    return 0;
}

static size_t count_parquet(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;
    if (!d) return 0;
    while ((e = readdir(d)))
        n += qk_str_endswith(e->d_name, ".parquet");
    closedir(d);
    return n;
}

static int list_days(bench *b, const char *root, qk_err *err)
{
    char path[PATH_MAX];
    DIR *d;
    struct dirent *e;
    size_t cap = 0;
    int rc = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/partitioned", b->lake) >= sizeof path)
        return qk_errf(err, QK_EINVAL, "lake path too long");
    if (!(d = opendir(path)))
        return qk_errf(err, QK_ENOTFOUND,
                       "no day partitions: %s does not exist (make the demo lake with 'quack "
                       "demo --lake %s')",
                       path, root);
    while (!rc && (e = readdir(d)))
        if (is_day_dir(e->d_name)) rc = add_day(b, e->d_name + 5, &cap, err);
    closedir(d);
    if (!rc && !b->ndays) rc = qk_errf(err, QK_ENOTFOUND, "no date=YYYY-MM-DD folders in %s", path);
    if (!rc) qsort(b->days, b->ndays, sizeof *b->days, cmp_str);
    return rc;
}

/* The lake and its first --days days; errors here are usage errors. */
static int find_days(bench *b, qk_err *err)
{
    const char *root = qk_cli_lake(b->a.lake);
    struct stat sb;
    char path[PATH_MAX];
    int rc;
    if (qk_str_startswith(root, "s3://"))
        return qk_errf(err, QK_EINVAL,
                       "--lake %s: bench reduce needs a local lake directory (its workers are "
                       "local processes)",
                       root);
    if ((rc = qk_path_abs(root, &b->lake, err))) return rc;
    if (stat(b->lake, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return qk_errf(err, QK_ENOTFOUND,
                       "no lake directory %s (make one with 'quack demo --lake %s')", b->lake,
                       root);
    if ((rc = list_days(b, root, err))) return rc;
    if ((size_t)b->a.days > b->ndays)
        return qk_errf(err, QK_EINVAL, "--days %lld: the lake has only %zu day partitions",
                       (long long)b->a.days, b->ndays);
    for (int64_t i = 0; i < b->a.days; i++) {
        snprintf(path, sizeof path, "%s/partitioned/date=%s", b->lake, b->days[i]);
        b->day_files += count_parquet(path);
    }
    return 0;
}

/* ---- SQL ---------------------------------------------------------------------------------- */

/* before + the SQL literal of the lake's day-file glob (partitioned, any folder, *.parquet)
 * + after */
static int glob_sql(const bench *b, const char *before, const char *after, char **out, qk_err *err)
{
    qk_buf g, q;
    int rc;
    qk_buf_init(&g, PATH_MAX);
    qk_buf_init(&q, (size_t)1 << 20);
    rc = qk_buf_printf(&g, "%s/partitioned/*/*.parquet", b->lake);
    if (!rc) rc = qk_buf_adds(&q, before);
    if (!rc) rc = qk_sql_add_literal(&q, qk_buf_cstr(&g));
    if (!rc) rc = qk_buf_adds(&q, after);
    if (rc)
        qk_errf(err, rc, "SQL too long");
    else
        *out = qk_buf_detach(&q, NULL);
    qk_buf_free(&g);
    qk_buf_free(&q);
    return rc;
}

/* --query with <LAKE>, <FIRST_DAY> and <LAST_DAY> replaced. */
static int expand_query(const bench *b, const char *q, char **out, qk_err *err)
{
    static const char *const keys[] = {"<LAKE>", "<FIRST_DAY>", "<LAST_DAY>"};
    const char *vals[] = {b->lake, b->days[0], b->days[b->a.days - 1]};
    qk_buf o;
    int rc = 0;
    qk_buf_init(&o, (size_t)1 << 20);
    for (const char *p = q; *p && !rc;) {
        size_t k = 0;
        while (k < 3 && !qk_str_startswith(p, keys[k]))
            k++;
        if (k < 3) {
            rc = qk_buf_adds(&o, vals[k]);
            p += strlen(keys[k]);
        } else {
            rc = qk_buf_addc(&o, *p++);
        }
    }
    if (rc) {
        qk_buf_free(&o);
        return qk_errf(err, rc, "--query: SQL too long");
    }
    *out = qk_buf_detach(&o, NULL);
    return 0;
}

static int build_sql(bench *b, qk_err *err)
{
    char after[160];
    int rc;
    snprintf(after, sizeof after,
             ", hive_partitioning = true) WHERE date BETWEEN '%s' AND '%s' GROUP BY 1", b->days[0],
             b->days[b->a.days - 1]);
    if (b->a.query)
        rc = expand_query(b, b->a.query, &b->seed_sql, err);
    else
        rc = glob_sql(b,
                      "SELECT pickup_location_id AS location_id, count(*) AS counts FROM "
                      "read_parquet(",
                      after, &b->seed_sql, err);
    if (!rc)
        rc = glob_sql(b,
                      "SELECT count(*) AS n, sum(passenger_count) AS passengers, "
                      "sum(trip_distance) AS distance, sum(fare_amount) AS fares, "
                      "sum(tip_amount) AS tips, sum(tolls_amount) AS tolls, sum(total_amount) "
                      "AS total, min(pickup_at) AS first_pickup, max(dropoff_at) AS "
                      "last_dropoff FROM read_parquet(",
                      ")", &b->scan_sql, err);
    if (!rc)
        rc = glob_sql(b, "SELECT count(*) AS n FROM read_parquet(", ") WHERE false", &b->empty_sql,
                      err);
    return rc;
}

/* ---- one measured run --------------------------------------------------------------------- */

typedef enum { RUN_SPLIT, RUN_WHOLE, RUN_LOCAL } run_kind;

typedef struct target {
    const char *name;
    const char *sql;
    run_kind kind;
    qk_engine *e;
    qk_dist_transport *const *workers;
    size_t nworkers;
    int parallel;
} target;

typedef struct series {
    double ms[MAX_RUNS]; /* wall time of each measured run */
    size_t n;
    double plan_ms, map_ms, shard_median_ms; /* sums over the measured runs */
    size_t shards, retries, backups;
    uint64_t rows;
    bool unsplit;
    char reason[300]; /* why the plan was not split */
    qk_buf csv;       /* the first run's result */
} series;

static void series_init(series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        qk_buf_init(&s[i].csv, CSV_MAX);
    }
}

static void series_free(series *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        qk_buf_free(&s[i].csv);
}

static double mean(const series *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->ms[i];
    return s->n ? sum / (double)s->n : 0;
}

/* Sample standard deviation (n - 1); 0 for one run. */
static double stddev(const series *s)
{
    double m = mean(s), sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += (s->ms[i] - m) * (s->ms[i] - m);
    return s->n > 1 ? sqrt(sum / (double)(s->n - 1)) : 0;
}

static double per_run(const series *s, double sum)
{
    return s->n ? sum / (double)s->n : 0;
}

static void coord_opts(const target *t, qk_dist_coord_opts *co)
{
    qk_dist_coord_opts_init(co);
    co->workers = t->workers;
    co->nworkers = t->nworkers;
    co->parallel = t->parallel;
    co->timeout_ms = QUERY_TIMEOUT_MS;
    co->cancelled = stop_requested;
}

/* Plan with a 1-byte shard size (every file is its own shard) and run; planning is timed. */
static int run_split(const target *t, const char *sql, qk_result **res, qk_dist_run_stats *st,
                     series *s, qk_err *err)
{
    qk_dist_plan plan;
    qk_dist_plan_opts po;
    qk_dist_coord_opts co;
    int rc;
    memset(&plan, 0, sizeof plan);
    memset(&po, 0, sizeof po);
    po.shard_bytes = 1;
    coord_opts(t, &co);
    if ((rc = qk_dist_plan_query(t->e, sql, &po, &plan, err))) goto out;
    if (!plan.split) {
        s->unsplit = true;
        qk_strlcpy(s->reason, plan.reason, sizeof s->reason);
    }
    rc = qk_dist_run(t->e, &plan, &co, res, st, err);
out:
    qk_dist_plan_free(&plan);
    return rc;
}

/* The original query as one "whole" task on the first worker. */
static int run_whole(const target *t, const char *sql, qk_result **res, qk_dist_run_stats *st,
                     qk_err *err)
{
    const char *maps[1] = {sql};
    qk_dist_job job = {maps, 1, NULL, 0, true, NULL, NULL};
    qk_dist_coord_opts co;
    coord_opts(t, &co);
    return qk_dist_run_job(t->e, &job, &co, res, st, err);
}

static int run_local(const target *t, const char *sql, qk_result **res, qk_err *err)
{
    qk_query_opts qo = {-1, QUERY_TIMEOUT_MS, stop_requested, NULL, false};
    return qk_lake_query(t->e, sql, &qo, res, err);
}

static void add_sample(series *s, double ms, const qk_dist_run_stats *st)
{
    s->ms[s->n++] = ms;
    s->plan_ms += st->plan_ms;
    s->map_ms += st->map_ms;
    s->shard_median_ms += st->shard_ms_median;
    s->shards = st->shards;
    s->retries += st->retries;
    s->backups += st->backups;
}

static int keep_csv(qk_result *res, series *s, qk_err *err)
{
    qk_encode_opts eo;
    qk_encode_stats es = {0};
    qk_encode_opts_init(&eo);
    return qk_encode_result(res, QK_FMT_CSV, &eo, &s->csv, &es, err);
}

static int run_once(const target *t, series *s, bool record, qk_err *err)
{
    const char *sql = t->sql;
    qk_result *res = NULL;
    qk_dist_run_stats st;
    double t0 = qk_now_msf(), ms;
    int rc;
    memset(&st, 0, sizeof st);
    if (t->kind == RUN_SPLIT)
        rc = run_split(t, sql, &res, &st, s, err);
    else if (t->kind == RUN_WHOLE)
        rc = run_whole(t, sql, &res, &st, err);
    else
        rc = run_local(t, sql, &res, err);
    ms = qk_now_msf() - t0;
    if (rc) {
        qk_err_prefix(err, "%s", t->name);
        goto out;
    }
    s->rows = qk_result_row_count(res);
    if (!s->csv.len && (rc = keep_csv(res, s, err))) goto out;
    if (record) add_sample(s, ms, &st);
out:
    qk_result_destroy(res);
    return rc;
}

/* --warmup unmeasured rounds, then --runs measured ones; each round runs every target once. */
static int measure(const bench *b, const char *part, const target *t, size_t n, series *s,
                   qk_err *err)
{
    int64_t rounds = b->a.warmup + b->a.runs;
    for (int64_t r = 0; r < rounds; r++) {
        bool rec = r >= b->a.warmup;
        for (size_t i = 0; i < n; i++) {
            int rc = stop_flag ? qk_errf(err, QK_ECANCELED, "interrupted")
                               : run_once(&t[i], &s[i], rec, err);
            if (rc) return rc;
            if (rec)
                fprintf(stderr, "[" CMD "] %s run %lld/%lld %s: %.1f ms\n", part,
                        (long long)(r - b->a.warmup + 1), (long long)b->a.runs, t[i].name,
                        s[i].ms[s[i].n - 1]);
            else
                fprintf(stderr, "[" CMD "] %s warm-up %s\n", part, t[i].name);
        }
    }
    return 0;
}

/* ---- comparing results -------------------------------------------------------------------- */

/* Both cells (n bytes each) are numbers within REL_TOLERANCE of each other. */
static bool numbers_close(const char *x, size_t nx, const char *y, size_t ny)
{
    char bx[64], by[64], *ex, *ey;
    double dx, dy;
    if (!nx || !ny || nx >= sizeof bx || ny >= sizeof by) return false;
    memcpy(bx, x, nx);
    bx[nx] = 0;
    memcpy(by, y, ny);
    by[ny] = 0;
    dx = strtod(bx, &ex);
    dy = strtod(by, &ey);
    if (*ex || *ey) return false;
    return fabs(dx - dy) <= REL_TOLERANCE * fmax(fabs(dx), fabs(dy)) + 1e-12;
}

/* Two CSV rows, cell by cell (cells split at commas: quoted text compares as text). */
static bool rows_equal(const char *x, const char *y)
{
    for (;;) {
        size_t nx = strcspn(x, ","), ny = strcspn(y, ",");
        if (!(nx == ny && memcmp(x, y, nx) == 0) && !numbers_close(x, nx, y, ny)) return false;
        if (!x[nx] || !y[ny]) return !x[nx] && !y[ny];
        x += nx + 1;
        y += ny + 1;
    }
}

/* Split a CSV result into rows (CRLF), the header first and the data rows sorted.
 * *text owns the rows (caller frees both). */
static int csv_rows(const qk_buf *b, char **text, char ***rows, size_t *n, qk_err *err)
{
    size_t cap = 1, k = 0;
    char *p;
    *text = qk_xstrdup(qk_buf_cstr(b));
    for (p = *text; (p = strchr(p, '\n')); p++)
        cap++;
    if (!(*rows = calloc(cap, sizeof **rows))) return qk_errf(err, QK_ENOMEM, "out of memory");
    for (p = *text; *p && k < cap;) {
        size_t len = strcspn(p, "\r\n");
        (*rows)[k++] = p;
        p += len;
        while (*p == '\r' || *p == '\n')
            *p++ = 0;
    }
    if (k > 1) qsort(*rows + 1, k - 1, sizeof **rows, cmp_str);
    *n = k;
    return 0;
}

/* Compare two results as sorted rows; *same says whether they agree, why what differs. */
static int compare(const qk_buf *a, const qk_buf *b, bool *same, char *why, size_t cap, qk_err *err)
{
    char *ta = NULL, *tb = NULL, **ra = NULL, **rb = NULL;
    size_t na = 0, nb = 0;
    int rc;
    *same = false;
    if ((rc = csv_rows(a, &ta, &ra, &na, err)) || (rc = csv_rows(b, &tb, &rb, &nb, err))) goto out;
    if (na != nb) {
        snprintf(why, cap, "%zu rows vs %zu", na ? na - 1 : 0, nb ? nb - 1 : 0);
        goto out;
    }
    for (size_t i = 0; i < na; i++)
        if (!rows_equal(ra[i], rb[i])) {
            snprintf(why, cap, "sorted row %zu: '%.80s' vs '%.80s'", i, ra[i], rb[i]);
            goto out;
        }
    *same = true;
out:
    free(ra);
    free(rb);
    free(ta);
    free(tb);
    return rc;
}

/* Record a disagreement (the first one is the exit message). */
static void disagree(bench *b, const char *what, const char *why)
{
    fprintf(b->out, "\n**DISAGREE**: %s: %s\n", what, why);
    if (!b->disagree) snprintf(b->why, sizeof b->why, "%s: %s", what, why);
    b->disagree = true;
}

/* Compare s[1..n-1] with the reference ref; returns whether all agree (JSON: "agree"). */
static int check_all(bench *b, const char *part, const qk_buf *ref, const char *ref_name,
                     const target *t, const series *s, size_t n, bool *all, qk_err *err)
{
    char why[256], what[256];
    bool same;
    *all = true;
    for (size_t i = 0; i < n; i++) {
        int rc = compare(&s[i].csv, ref, &same, why, sizeof why, err);
        if (rc) return rc;
        if (same) continue;
        snprintf(what, sizeof what, "%s: %s vs %s", part, t[i].name, ref_name);
        disagree(b, what, why);
        *all = false;
    }
    return 0;
}

/* The count of location 237: the second cell of the row whose first cell is 237, or "-". */
static void find_237(const qk_buf *csv, char *out, size_t cap)
{
    const char *p = strstr(qk_buf_cstr(csv), "\n237,");
    snprintf(out, cap, "-");
    if (p) snprintf(out, cap, "%.*s", (int)strcspn(p + 5, ",\r\n"), p + 5);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void jset(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

static json_t *series_json(const series *s)
{
    json_t *o = json_object(), *ms = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(ms, json_real(s->ms[i]));
    jset(o, "runs_ms", ms);
    jset(o, "mean_ms", json_real(mean(s)));
    jset(o, "std_ms", json_real(stddev(s)));
    jset(o, "rows", json_integer((json_int_t)s->rows));
    if (s->shards) {
        jset(o, "shards", json_integer((json_int_t)s->shards));
        jset(o, "plan_ms_mean", json_real(per_run(s, s->plan_ms)));
        jset(o, "map_ms_mean", json_real(per_run(s, s->map_ms)));
        jset(o, "shard_ms_median_mean", json_real(per_run(s, s->shard_median_ms)));
        jset(o, "retries", json_integer((json_int_t)s->retries));
        jset(o, "backups", json_integer((json_int_t)s->backups));
    }
    if (s->unsplit) jset(o, "not_split", json_string(s->reason));
    return o;
}

/* A number when text is one, else null. */
static json_t *json_number_of(const char *text)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    return *text && !*end ? json_integer(v) : json_null();
}

static int write_json(const bench *b, qk_err *err)
{
    int rc;
    if (!b->a.json) return 0;
    if (strcmp(b->a.json, "-") == 0) {
        rc = json_dumpf(b->root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        rc = json_dump_file(b->root, b->a.json, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    }
    return rc ? qk_errf(err, QK_EIO, "--json: cannot write %s", b->a.json) : 0;
}

/* ---- machine notes ------------------------------------------------------------------------ */

static json_t *machine_json(const bench *b, char *line, size_t cap)
{
    char cpu[200], mem[64], load[64], human[32];
    struct utsname u;
    json_t *m = json_object();
    long long kb = 0;
    qk_bench_proc_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    qk_bench_proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    kb = strtoll(mem, NULL, 10);
    qk_bench_loadavg(load, sizeof load);
    if (uname(&u) != 0) memset(&u, 0, sizeof u);
    qk_cli_human_bytes((uint64_t)kb * 1024, human, sizeof human);
    jset(m, "nproc", json_integer(b->nproc));
    jset(m, "cpu", json_string(cpu));
    jset(m, "mem_total_bytes", json_integer((json_int_t)kb * 1024));
    jset(m, "kernel", json_sprintf("%s %s %s", u.sysname, u.release, u.machine));
    jset(m, "duckdb", json_string(duckdb_library_version()));
    jset(m, "quack", json_string(QUACK_VERSION));
    jset(m, "loadavg_start", json_string(load));
    snprintf(line, cap, "%s; %ld cores (nproc), %s RAM; %s %s; DuckDB %s; load average %s", cpu,
             b->nproc, human, u.sysname, u.release, duckdb_library_version(), load);
    return m;
}

/* ---- (1) the seed's experiment ------------------------------------------------------------ */

static void seed_row(const bench *b, const char *label, const series *s, char *loc, size_t cap)
{
    find_237(&s->csv, loc, cap);
    fprintf(b->out, "| %s | %.1f | %.1f | ", label, mean(s), stddev(s));
    if (s->shards)
        fprintf(b->out, "%.1f | %zu |", per_run(s, s->plan_ms), s->shards);
    else
        fprintf(b->out, "- | - |");
    fprintf(b->out, " %llu | %s |\n", (unsigned long long)s->rows, loc);
}

static void seed_table(bench *b, const target *t, const series *s, json_t *j)
{
    static const char *const keys[3] = {"distributed", "one_worker", "embedded"};
    char labels[3][160], loc[32];
    snprintf(labels[0], sizeof labels[0],
             "distributed: one shard per day file, %zu workers, %d in flight", t[0].nworkers,
             t[0].parallel);
    snprintf(labels[1], sizeof labels[1], "one worker: the whole query as one task");
    snprintf(labels[2], sizeof labels[2], "embedded DuckDB in this process (%ld threads)",
             b->nproc);
    fprintf(b->out, "| mode | mean ms | std ms | plan ms | shards | rows | location 237 |\n");
    fprintf(b->out, "|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < 3; i++) {
        json_t *o = series_json(&s[i]);
        seed_row(b, labels[i], &s[i], loc, sizeof loc);
        jset(o, "location_237", json_number_of(loc));
        jset(j, keys[i], o);
    }
}

static int seed_report(bench *b, const target *t, const series *s, qk_err *err)
{
    json_t *j = json_object();
    double extra = mean(&s[0]) - mean(&s[2]);
    bool all;
    int rc;
    jset(b->root, "seed", j);
    jset(j, "sql", json_string(b->seed_sql));
    seed_table(b, t, s, j);
    if (s[0].unsplit) fprintf(b->out, "\nNote: the query was not split (%s).\n", s[0].reason);
    if ((rc = check_all(b, "(1)", &s[2].csv, "embedded", t, s, 2, &all, err))) return rc;
    jset(j, "agree", json_boolean(all));
    if (all)
        fprintf(b->out,
                "\nResults: the three agree (%llu rows; compared sorted, numbers to %g "
                "relative).\n",
                (unsigned long long)s[2].rows, REL_TOLERANCE);
    if (s[0].shards) {
        fprintf(b->out, "Distributed minus embedded: %.1f ms, %.2f ms per shard.\n", extra,
                extra / (double)s[0].shards);
        jset(j, "distributed_minus_embedded_ms_per_shard", json_real(extra / (double)s[0].shards));
    }
    return 0;
}

static int part_seed(bench *b, qk_err *err)
{
    target t[3] = {
        {"distributed", b->seed_sql, RUN_SPLIT, b->eng, b->main.w.v, b->main.n, (int)b->a.parallel},
        {"one worker", b->seed_sql, RUN_WHOLE, b->eng, b->main.w.v, 1, 1},
        {"embedded", b->seed_sql, RUN_LOCAL, b->eng, NULL, 0, 0},
    };
    series s[3];
    int rc;
    fprintf(b->out,
            "\n## (1) The seed's experiment: %lld day%s (%s..%s, %zu files), %lld run%s after "
            "%lld warm-up round%s\n\n    %s\n\n",
            (long long)b->a.days, b->a.days == 1 ? "" : "s", b->days[0], b->days[b->a.days - 1],
            b->day_files, (long long)b->a.runs, b->a.runs == 1 ? "" : "s", (long long)b->a.warmup,
            b->a.warmup == 1 ? "" : "s", b->seed_sql);
    series_init(s, 3);
    rc = measure(b, "(1)", t, 3, s, err);
    if (!rc) rc = seed_report(b, t, s, err);
    series_free(s, 3);
    return rc;
}

/* ---- (2) per-shard overhead --------------------------------------------------------------- */

static double map_per_shard(const series *s)
{
    return s->shards ? per_run(s, s->map_ms) / (double)s->shards : 0;
}

static void overhead_row(const bench *b, const char *label, const series *s, json_t *j,
                         const char *key)
{
    json_t *o = series_json(s);
    jset(o, "map_ms_per_shard", json_real(map_per_shard(s)));
    jset(j, key, o);
    fprintf(b->out, "| %s | %zu | %.1f (%.1f) | %.1f | %.1f | %.2f |\n", label, s->shards, mean(s),
            stddev(s), per_run(s, s->plan_ms), per_run(s, s->map_ms), map_per_shard(s));
}

static int part_overhead(bench *b, qk_err *err)
{
    target t[2] = {
        {"empty map, 1 in flight", b->empty_sql, RUN_SPLIT, b->eng, b->main.w.v, 1, 1},
        {"empty map, parallel", b->empty_sql, RUN_SPLIT, b->eng, b->main.w.v, b->main.n,
         (int)b->a.parallel},
    };
    char label[120];
    series s[2];
    json_t *j = json_object();
    int rc;
    jset(b->root, "overhead", j);
    jset(j, "sql", json_string(b->empty_sql));
    fprintf(b->out,
            "\n## (2) Per-shard overhead: a map that reads no rows, every day file\n\n"
            "    %s\n\n",
            b->empty_sql);
    series_init(s, 2);
    if ((rc = measure(b, "(2)", t, 2, s, err))) goto out;
    fprintf(b->out, "| run | shards | wall ms (std) | plan ms | map phase ms | map ms per shard "
                    "|\n|---|---|---|---|---|---|\n");
    overhead_row(b, "1 worker, 1 task in flight", &s[0], j, "sequential");
    snprintf(label, sizeof label, "%zu workers, %d in flight", b->main.n, (int)b->a.parallel);
    overhead_row(b, label, &s[1], j, "parallel");
    jset(j, "in_flight", json_integer(b->a.parallel));
    fprintf(b->out, "\nPer-shard overhead (1 in flight): %.2f ms; planning: %.1f ms per query.\n",
            map_per_shard(&s[0]), per_run(&s[0], s[0].plan_ms));
out:
    series_free(s, 2);
    return rc;
}

/* ---- (3) scaling -------------------------------------------------------------------------- */

static const char *verdict(double eff)
{
    return eff >= TARGET_EFFICIENCY ? "PASS" : "MISS";
}

/* One row of the scaling table; the embedded run has no shards or plan. */
static void scaling_row(const bench *b, const char *label, const series *s)
{
    fprintf(b->out, "| %s | %.1f | %.1f | ", label, mean(s), stddev(s));
    if (s->shards)
        fprintf(b->out, "%zu | %.1f | %.1f |\n", s->shards, per_run(s, s->plan_ms),
                per_run(s, s->map_ms));
    else
        fprintf(b->out, "- | - | - |\n");
}

static void scaling_report(bench *b, const series *s, json_t *j)
{
    static const char *const keys[3] = {"embedded_1_thread", "workers_1", "workers_2"};
    static const char *const labels[3] = {"embedded DuckDB, 1 thread", "1 worker (1 in flight)",
                                          "2 workers (1 in flight each)"};
    double t1 = mean(&s[1]), t2 = mean(&s[2]);
    double m1 = per_run(&s[1], s[1].map_ms), m2 = per_run(&s[2], s[2].map_ms);
    double speedup = t2 > 0 ? t1 / t2 : 0, eff2 = speedup / 2;
    double eff1 = t1 > 0 ? b->emb1_ms / t1 : 0, map_speedup = m2 > 0 ? m1 / m2 : 0;
    fprintf(b->out, "| run | mean ms | std ms | shards | plan ms | map phase ms |\n"
                    "|---|---|---|---|---|---|\n");
    for (int i = 0; i < 3; i++) {
        jset(j, keys[i], series_json(&s[i]));
        scaling_row(b, labels[i], &s[i]);
    }
    fprintf(b->out,
            "\nSpeedup 2 workers vs 1: %.3f; efficiency %.3f (target >= %.2f): %s\n"
            "Efficiency of 1 worker vs embedded 1-thread DuckDB: %.3f (target >= %.2f): %s\n"
            "Diagnostic, map phase only (planning and reduce left out): speedup %.3f, "
            "efficiency %.3f.\n",
            speedup, eff2, TARGET_EFFICIENCY, verdict(eff2), eff1, TARGET_EFFICIENCY, verdict(eff1),
            map_speedup, map_speedup / 2);
    jset(j, "speedup", json_real(speedup));
    jset(j, "efficiency_2_workers", json_real(eff2));
    jset(j, "efficiency_1_worker", json_real(eff1));
    jset(j, "map_phase_speedup", json_real(map_speedup));
    jset(j, "map_phase_efficiency_2_workers", json_real(map_speedup / 2));
    jset(j, "target", json_real(TARGET_EFFICIENCY));
    jset(j, "result_2_workers", json_string(verdict(eff2)));
    jset(j, "result_1_worker", json_string(verdict(eff1)));
}

static int scaling_measure(bench *b, const fleet *f, json_t *j, qk_err *err)
{
    target t[3] = {
        {"embedded 1 thread", b->scan_sql, RUN_LOCAL, b->eng1, NULL, 0, 0},
        {"1 worker", b->scan_sql, RUN_SPLIT, b->eng, f->w.v, 1, 1},
        {"2 workers", b->scan_sql, RUN_SPLIT, b->eng, f->w.v, 2, 2},
    };
    series s[3];
    bool all;
    int rc;
    series_init(s, 3);
    if ((rc = measure(b, "(3)", t, 3, s, err))) goto out;
    b->emb1_ms = mean(&s[0]);
    if ((rc = qk_buf_add(&b->scan_ref, s[0].csv.data, s[0].csv.len))) {
        qk_errf(err, rc, "result too large");
        goto out;
    }
    scaling_report(b, s, j);
    if ((rc = check_all(b, "(3)", &b->scan_ref, "embedded 1 thread", t + 1, s + 1, 2, &all, err)))
        goto out;
    jset(j, "agree", json_boolean(all));
    if (all) fprintf(b->out, "Results: the three agree.\n");
out:
    series_free(s, 3);
    return rc;
}

static int part_scaling(bench *b, qk_err *err)
{
    fleet own;
    const fleet *f = &b->main;
    json_t *j = json_object();
    int rc = 0;
    memset(&own, 0, sizeof own);
    jset(b->root, "scaling", j);
    jset(j, "sql", json_string(b->scan_sql));
    fprintf(b->out, "\n## (3) Scaling: a scan-bound query over every day file\n\n    %s\n\n",
            b->scan_sql);
    if (!b->a.workers) {
        f = &own;
        rc = qk_bench_fleet_spawn(&b->sp, &own, 2, 1, 4, err);
    } else if (b->main.n < 2) {
        fprintf(b->out, "Not measured: scaling needs 2 workers (--workers gave %zu).\n", b->main.n);
        jset(j, "not_measured", json_string("needs 2 workers"));
        return 0;
    } else {
        fprintf(b->out, "Workers: the first two --workers (their thread counts are their own).\n");
    }
    jset(j, "worker_threads", f->threads ? json_integer(f->threads) : json_null());
    if (!rc) rc = scaling_measure(b, f, j, err);
    qk_bench_fleet_stop(&own);
    return rc;
}

/* ---- (4) simulated fan-out ---------------------------------------------------------------- */

static const char note_shows[] =
    "Each size runs the real coordinator, HTTP transport, partial checks and reduce against "
    "that many worker processes: it shows the per-shard coordination cost and how it changes "
    "with the number of workers, and that the result stays the same at every fan-out.";
static const char note_cannot[] =
    "It cannot show real network latency or bandwidth, Lambda cold starts, account "
    "concurrency limits or S3 read throughput; every worker shares this machine's cores and "
    "page cache, so past the core count the wall time measures contention, not parallel "
    "speedup.";

static void fanout_row(bench *b, size_t n, const series *s, json_t *row)
{
    double cores = (double)((long)n < b->nproc ? (long)n : b->nproc);
    double wall = mean(&s[0]), ideal = b->emb1_ms / cores;
    double excess = s[0].shards ? (wall - per_run(&s[0], s[0].plan_ms) - ideal) / s[0].shards : 0;
    jset(row, "scan", series_json(&s[0]));
    jset(row, "empty_map", series_json(&s[1]));
    jset(row, "speedup_vs_embedded_1_thread", json_real(wall > 0 ? b->emb1_ms / wall : 0));
    jset(row, "empty_map_ms_per_shard", json_real(map_per_shard(&s[1])));
    jset(row, "excess_ms_per_shard", json_real(excess));
    fprintf(b->out, "| %zu | %zu | %.1f (%.1f) | %.2f | %.1f | %.1f | %.2f | %.2f |", n,
            s[0].shards, wall, stddev(&s[0]), wall > 0 ? b->emb1_ms / wall : 0,
            per_run(&s[0], s[0].plan_ms), per_run(&s[0], s[0].shard_median_ms),
            map_per_shard(&s[1]), excess);
}

static int fanout_size(bench *b, size_t n, json_t *rows, qk_err *err)
{
    fleet f;
    series s[2];
    char part[32];
    json_t *row = json_object();
    bool all = false;
    int rc;
    json_array_append_new(rows, row);
    jset(row, "workers", json_integer((json_int_t)n));
    series_init(s, 2);
    snprintf(part, sizeof part, "(4) N=%zu", n);
    if (!(rc = qk_bench_fleet_spawn(&b->sp, &f, n, 1, 4, err))) {
        target t[2] = {{"scan", b->scan_sql, RUN_SPLIT, b->eng, f.w.v, n, (int)n},
                       {"empty map", b->empty_sql, RUN_SPLIT, b->eng, f.w.v, n, (int)n}};
        rc = measure(b, part, t, 2, s, err);
        if (!rc) rc = check_all(b, part, &b->scan_ref, "embedded 1 thread", t, s, 1, &all, err);
    }
    qk_bench_fleet_stop(&f);
    if (!rc) {
        fanout_row(b, n, s, row);
        fprintf(b->out, " %s |\n", all ? "yes" : "NO");
        jset(row, "agree", json_boolean(all));
    }
    series_free(s, 2);
    return rc;
}

static int part_fanout(bench *b, qk_err *err)
{
    json_t *j = json_object(), *rows = json_array();
    int rc = 0;
    jset(b->root, "fanout", j);
    jset(j, "sql", json_string(b->scan_sql));
    jset(j, "empty_map_sql", json_string(b->empty_sql));
    jset(j, "sizes", rows);
    jset(j, "shows", json_string(note_shows));
    jset(j, "cannot_show", json_string(note_cannot));
    if (!b->a.nfanout) return 0;
    fprintf(b->out,
            "\n## (4) Simulated fan-out: N local workers (--threads 1, one task in flight each), "
            "(3)'s query and (2)'s empty map, one shard per day file\n\n"
            "| workers | shards | wall ms (std) | speedup vs embedded 1 thread | plan ms | "
            "shard ms (median) | empty map ms per shard | excess ms per shard | agrees |\n"
            "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < b->a.nfanout && !rc; i++)
        rc = fanout_size(b, (size_t)b->a.fanout[i], rows, err);
    if (!rc)
        fprintf(b->out, "\nWhat this shows: %s\nWhat it cannot show: %s\n", note_shows,
                note_cannot);
    return rc;
}

/* ---- run ---------------------------------------------------------------------------------- */

static int open_engine(const bench *b, int threads, qk_engine **out, qk_err *err)
{
    qk_engine_config cfg;
    qk_engine_config_defaults(&cfg);
    cfg.lake = b->lake;
    cfg.threads = threads;
    return qk_engine_open(&cfg, out, err);
}

static int make_tmp(bench *b, qk_err *err)
{
    const char *t = qk_env_str("TMPDIR", "/tmp");
    if ((size_t)snprintf(b->tmp, sizeof b->tmp, "%s/quack-bench-XXXXXX", t) >= sizeof b->tmp)
        return qk_errf(err, QK_EINVAL, "TMPDIR too long");
    if (!mkdtemp(b->tmp)) {
        int e = errno;
        b->tmp[0] = 0;
        return qk_errf(err, QK_EIO, "cannot make a temp directory in %s: %s", t, strerror(e));
    }
    return 0;
}

static json_t *command_json(int argc, char **argv)
{
    qk_buf c;
    json_t *s;
    qk_buf_init(&c, 1 << 16);
    qk_buf_adds(&c, "quack");
    for (int i = 0; i < argc; i++)
        qk_buf_printf(&c, " %s", argv[i]);
    s = json_string(qk_buf_cstr(&c));
    qk_buf_free(&c);
    return s;
}

static void print_header(bench *b, const char *machine)
{
    fprintf(b->out,
            "# quack bench reduce\n\nLake %s: %zu day partitions (%s..%s). Machine: %s.\n"
            "Workers for (1) and (2): ",
            b->lake, b->ndays, b->days[0], b->days[b->ndays - 1], machine);
    if (b->a.workers)
        fprintf(b->out, "%zu given with --workers.\n", b->main.n);
    else
        fprintf(b->out, "%zu spawned (quack serve --threads %lld).\n", b->main.n,
                (long long)b->a.worker_threads);
}

static int setup(bench *b, int argc, char **argv, qk_err *err)
{
    char machine[512];
    json_t *cfg = json_object();
    int rc;
    b->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    qk_bench_cpu_snapshot(b->cpu_start);
    b->root = json_object();
    jset(b->root, "command", command_json(argc, argv));
    jset(b->root, "machine", machine_json(b, machine, sizeof machine));
    jset(b->root, "config", cfg);
    jset(cfg, "lake", json_string(b->lake));
    jset(cfg, "days", json_integer(b->a.days));
    jset(cfg, "first_day", json_string(b->days[0]));
    jset(cfg, "last_day", json_string(b->days[b->a.days - 1]));
    jset(cfg, "day_files", json_integer((json_int_t)b->day_files));
    jset(cfg, "parallel", json_integer(b->a.parallel));
    jset(cfg, "runs", json_integer(b->a.runs));
    jset(cfg, "warmup", json_integer(b->a.warmup));
    if ((rc = build_sql(b, err)) || (rc = make_tmp(b, err))) return rc;
    b->sp = (qk_bench_spawner){b->tmp, b->lake, 0, stop_requested};
    if ((rc = open_engine(b, 0, &b->eng, err)) || (rc = open_engine(b, 1, &b->eng1, err)))
        return rc;
    if (b->a.workers)
        rc = qk_bench_fleet_use(&b->main, b->a.workers, err);
    else
        rc = qk_bench_fleet_spawn(&b->sp, &b->main, (size_t)b->a.spawn, (int)b->a.worker_threads,
                                  (int)b->a.parallel + 4, err);
    jset(cfg, "workers", json_integer((json_int_t)b->main.n));
    jset(cfg, "workers_spawned", json_boolean(!b->a.workers));
    jset(cfg, "worker_threads", b->a.workers ? json_null() : json_integer(b->a.worker_threads));
    if (!rc) print_header(b, machine);
    return rc;
}

/* After every worker was stopped (their CPU time counts as this run's). */
static void finish(bench *b)
{
    char load[64];
    json_t *m = json_object_get(b->root, "machine");
    double others = qk_bench_others_pct(b->cpu_start);
    qk_bench_loadavg(load, sizeof load);
    jset(m, "loadavg_end", json_string(load));
    jset(m, "others_cpu_pct", json_real(others));
    jset(b->root, "agree", json_boolean(!b->disagree));
    fprintf(b->out,
            "\nLoad average at the end: %s. CPU used by other processes during the run: %.0f%% "
            "of the machine.\n",
            load, others);
}

static void bench_free(bench *b)
{
    qk_bench_fleet_stop(&b->main);
    qk_engine_close(b->eng1);
    qk_engine_close(b->eng);
    if (b->tmp[0]) qk_rmtree(b->tmp, false, NULL);
    for (size_t i = 0; i < b->ndays; i++)
        free(b->days[i]);
    free(b->days);
    free(b->lake);
    free(b->seed_sql);
    free(b->scan_sql);
    free(b->empty_sql);
    qk_buf_free(&b->scan_ref);
    json_decref(b->root);
}

static void set_signals(void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int bench_run(bench *b, int argc, char **argv)
{
    qk_err err = {0};
    int rc;
    stop_flag = 0;
    set_signals(on_signal);
    b->out = b->a.json && strcmp(b->a.json, "-") == 0 ? stderr : stdout;
    qk_buf_init(&b->scan_ref, CSV_MAX);
    if (!(rc = setup(b, argc, argv, &err)) && !(rc = part_seed(b, &err)) &&
        !(rc = part_overhead(b, &err)) && !(rc = part_scaling(b, &err)) &&
        !(rc = part_fanout(b, &err))) {
        qk_bench_fleet_stop(&b->main);
        finish(b);
        rc = write_json(b, &err);
    }
    qk_bench_fleet_stop(&b->main);
    set_signals(SIG_DFL);
    fflush(b->out);
    if (rc && stop_flag) qk_errf(&err, QK_ECANCELED, "interrupted (the workers were stopped)");
    if (rc) {
        qk_cli_print_err(CMD, &err);
        return QK_EXIT_QUERY;
    }
    if (b->disagree) {
        fprintf(stderr, "quack " CMD ": results disagree: %s\n", b->why);
        return QK_EXIT_QUERY;
    }
    return QK_EXIT_OK;
}

int qk_cmd_bench(int argc, char **argv)
{
    bench b;
    qk_err err = {0};
    int rc;
    if (argc >= 2 && strcmp(argv[1], "delta") == 0) return qk_cmd_bench_delta(argc - 1, argv + 1);
    if (qk_cli_wants_help(argc, argv, qk_help_bench)) return QK_EXIT_OK;
    if (argc < 2) return qk_cli_usage_error("bench", "expected a benchmark: reduce or delta");
    if (strcmp(argv[1], "reduce") != 0)
        return qk_cli_usage_error("bench", "unknown benchmark '%s' (expected: reduce or delta)",
                                  argv[1]);
    memset(&b, 0, sizeof b);
    args_defaults(&b.a);
    if (parse_args(argc - 1, argv + 1, &b.a, &err) || find_days(&b, &err))
        rc = qk_cli_usage_error(CMD, "%s", err.msg);
    else
        rc = bench_run(&b, argc, argv);
    bench_free(&b);
    return rc;
}
