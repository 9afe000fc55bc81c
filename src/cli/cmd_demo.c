/* SPDX-License-Identifier: MIT */
/*
 * cmd_demo.c: `quack demo`: parse the flags, run the demo-lake generator (src/lake/demo.c)
 * with a progress printer on stderr, then print what was written (a table, or one JSON
 * object with --json) on stdout. All the work is in the lake module; this file only talks to
 * the terminal. With --lake s3://bucket/prefix the lake is generated into a local temp dir and
 * every file is uploaded with the store under the same key (put_file: multipart with parallel
 * parts); a missing bucket is created first. docs/demo.md is the user's page.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lake/lake.h"
#include "store/store.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char qk_help_demo[] =
    "Usage: quack demo [--lake DIR] [--rows N] [--seed S] [--threads N] [--quiet] [--json]\n"
    "\n"
    "Create the demo lake: a synthetic NYC yellow-taxi month (April 2019) with the columns of\n"
    "the public taxi_2019_04.parquet (pickup_at, dropoff_at, passenger_count, trip_distance,\n"
    "pickup/dropoff_location_id, rate_code_id, payment_type, fares and fees, vendor_id,\n"
    "store_and_fwd_flag), written twice:\n"
    "  DIR/dataset/taxi_2019_04.parquet                one file, rows ordered by pickup_at\n"
    "  DIR/partitioned/date=YYYY-MM-DD/data_0.parquet  the same rows, one folder per day\n"
    "Earlier demo datasets in DIR are replaced; a run that stops early leaves them as they were\n"
    "(or the new file in place and the old partitions). The same --rows and --seed give the\n"
    "same bytes (generator version " STR(
        QK_DEMO_GENERATOR_VERSION) ").\n"
                                   "\n"
                                   "Options:\n"
                                   "  --lake DIR     lake root (default: $QUACK_LAKE, else "
                                   "./lake); created if missing\n"
                                   "                 or s3://bucket/prefix: generated locally, "
                                   "then uploaded\n                 (the bucket is created if "
                                   "missing)\n"
                                   "  --rows N       rows to generate, 1.." STR(QK_DEMO_MAX_ROWS) " (default " STR(
                                       QK_DEMO_DEFAULT_ROWS) ", the real month)\n"
                                                             "  --seed S       integer seed "
                                                             "(default " STR(
                                                                 QK_DEMO_DEFAULT_SEED) ")\n"
                                                                                       "  "
                                                                                       "--threads "
                                                                                       "N    "
                                                                                       "DuckDB "
                                                                                       "threads "
                                                                                       "(default: "
                                                                                       "one per "
                                                                                       "core); the "
                                                                                       "output is "
                                                                                       "the same\n"
                                                                                       "  --quiet  "
                                                                                       "      no "
                                                                                       "progress "
                                                                                       "messages "
                                                                                       "on stderr\n"
                                                                                       "  --json   "
                                                                                       "      "
                                                                                       "print the "
                                                                                       "stats as "
                                                                                       "one JSON "
                                                                                       "object "
                                                                                       "instead of "
                                                                                       "a table\n"
                                                                                       "  -h, "
                                                                                       "--help     "
                                                                                       "show this "
                                                                                       "help\n"
                                                                                       "\n"
                                                                                       "Exit "
                                                                                       "status: 0 "
                                                                                       "done, 1 "
                                                                                       "the lake "
                                                                                       "could not "
                                                                                       "be "
                                                                                       "written, 2 "
                                                                                       "bad "
                                                                                       "options.\n"
                                                                                       "See "
                                                                                       "docs/"
                                                                                       "demo.md "
                                                                                       "for the "
                                                                                       "columns "
                                                                                       "and their "
                                                                                       "distributio"
                                                                                       "ns.\n";

typedef struct demo_args {
    qk_demo_opts o;
    bool quiet, json;
} demo_args;

/* Progress on stderr: one line per phase; on a terminal the line also counts up. */
typedef struct progress {
    const demo_args *a;
    bool tty;
    int phase;      /* the phase whose line is on screen, -1 before the first */
    bool open_line; /* a line waiting for its count or newline (terminal only) */
    char line[512];
} progress;

/* 7433139 -> "7,433,139" */
static const char *commas(int64_t v, char *out, size_t cap)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v)), o = 0;
    if (v < 0 && (size_t)o + 1 < cap) out[o++] = '-';
    for (int i = 0; i < n && (size_t)o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static void start_line(progress *p, qk_demo_phase phase, int64_t total)
{
    char n[32];
    commas(p->a->o.rows, n, sizeof n);
    if (p->open_line) fputc('\n', stderr);
    if (phase == QK_DEMO_PHASE_GENERATE)
        snprintf(p->line, sizeof p->line, "quack demo: generating %s rows (seed %lld) into %s", n,
                 (long long)p->a->o.seed, QK_DEMO_DATASET);
    else if (phase == QK_DEMO_PHASE_PARTITIONS)
        snprintf(p->line, sizeof p->line, "quack demo: writing %lld partitions into %s/",
                 (long long)total, QK_DEMO_PARTITIONED);
    else
        snprintf(p->line, sizeof p->line, "quack demo: checking the written files");
    p->phase = (int)phase;
    p->open_line = p->tty && phase != QK_DEMO_PHASE_CHECK;
    fprintf(stderr, "%s%s", p->line, p->open_line ? "" : "\n");
}

static void on_progress(void *ud, qk_demo_phase phase, int64_t done, int64_t total)
{
    progress *p = ud;
    if ((int)phase != p->phase) start_line(p, phase, total);
    if (!p->open_line) return;
    if (phase == QK_DEMO_PHASE_GENERATE) {
        if (done <= 0) return; /* DuckDB cannot tell yet (or progress is off) */
        fprintf(stderr, "\r%s %3lld%%", p->line, (long long)done);
    } else
        fprintf(stderr, "\r%s %lld/%lld", p->line, (long long)done, (long long)total);
    if (done == total) {
        fputc('\n', stderr);
        p->open_line = false;
    }
    fflush(stderr);
}

/* "2019-04-01 00:00:03" from microseconds since 1970 (naive timestamps, read as UTC). */
static const char *ts_str(int64_t us, char *out, size_t cap)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0) out[0] = '\0';
    return out;
}

/* 122048423 -> "122.0 MB"; under a megabyte in kB. */
static const char *size_str(uint64_t bytes, char *out, size_t cap)
{
    if (bytes >= 1000000)
        snprintf(out, cap, "%.1f MB", (double)bytes / 1e6);
    else
        snprintf(out, cap, "%.1f kB", (double)bytes / 1e3);
    return out;
}

static void print_table(const demo_args *a, const qk_demo_stats *st)
{
    char n[32], t1[32], t2[32];
    printf("lake        %s\n", st->lake);
    printf("rows        %s (seed %lld)\n", commas(st->rows, n, sizeof n), (long long)a->o.seed);
    printf("bytes       dataset %s, partitioned %s (%d files)\n",
           size_str(st->dataset_bytes, t1, sizeof t1),
           size_str(st->partitioned_bytes, t2, sizeof t2), st->partitions);
    printf("time range  %s .. %s\n", ts_str(st->min_pickup_us, t1, sizeof t1),
           ts_str(st->max_pickup_us, t2, sizeof t2));
    printf("partitions  %d (date=%s .. date=%s)\n", st->partitions, st->first_date, st->last_date);
    printf("took        %.1f s\n", st->took_ms / 1000.0);
}

static int print_json(const demo_args *a, const qk_demo_stats *st)
{
    char t1[32], t2[32];
    qk_buf b;
    int rc;
    ts_str(st->min_pickup_us, t1, sizeof t1);
    ts_str(st->max_pickup_us, t2, sizeof t2);
    qk_buf_init(&b, 1 << 16);
    rc = qk_buf_adds(&b, "{\"lake\":");
    if (!rc) rc = qk_buf_add_json_str(&b, st->lake, strlen(st->lake));
    if (!rc)
        rc = qk_buf_printf(
            &b,
            ",\"rows\":%lld,\"seed\":%lld,\"generator\":%d,"
            "\"dataset\":{\"path\":\"%s\",\"rows\":%lld,\"bytes\":%llu},"
            "\"partitioned\":{\"path\":\"%s\",\"rows\":%lld,\"bytes\":%llu,\"files\":%d,"
            "\"partitions\":%d,\"first_date\":\"%s\",\"last_date\":\"%s\"},"
            "\"min_pickup_at\":\"%s\",\"max_pickup_at\":\"%s\",\"took_ms\":%.1f}\n",
            (long long)st->rows, (long long)a->o.seed, QK_DEMO_GENERATOR_VERSION, QK_DEMO_DATASET,
            (long long)st->rows, (unsigned long long)st->dataset_bytes, QK_DEMO_PARTITIONED,
            (long long)st->partitioned_rows, (unsigned long long)st->partitioned_bytes,
            st->partitions, st->partitions, st->first_date, st->last_date, t1, t2, st->took_ms);
    if (!rc) fputs(qk_buf_cstr(&b), stdout);
    qk_buf_free(&b);
    return rc;
}

enum { OPT_LAKE = 256, OPT_ROWS, OPT_SEED, OPT_THREADS, OPT_QUIET, OPT_JSON };

/* One option's value into a; QK_EXIT_USAGE (message printed) when it is bad. */
static int apply_option(demo_args *a, int opt, const char *val)
{
    qk_err err = {0};
    int64_t threads = 0;
    int rc = 0;
    switch (opt) {
    case OPT_LAKE:
        a->o.lake = qk_cli_lake(val);
        break;
    case OPT_ROWS:
        rc = qk_parse_int64(val, 1, QK_DEMO_MAX_ROWS, &a->o.rows, "--rows", &err);
        break;
    case OPT_SEED:
        rc = qk_parse_int64(val, INT64_MIN, INT64_MAX, &a->o.seed, "--seed", &err);
        break;
    case OPT_THREADS:
        rc = qk_parse_int64(val, 1, 1024, &threads, "--threads", &err);
        if (!rc) a->o.threads = (int)threads;
        break;
    case OPT_QUIET:
        a->quiet = true;
        break;
    case OPT_JSON:
        a->json = true;
        break;
    }
    return rc ? qk_cli_usage_error("demo", "%s", err.msg) : QK_EXIT_OK;
}

static int parse_args(int argc, char **argv, demo_args *a)
{
    static const struct option longopts[] = {
        {"lake", required_argument, NULL, OPT_LAKE},
        {"rows", required_argument, NULL, OPT_ROWS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    int opt;
    qk_demo_opts_defaults(&a->o);
    a->o.lake = qk_cli_lake(NULL);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (opt == ':')
            return qk_cli_usage_error("demo", "option '%s' needs a value", argv[optind - 1]);
        if (opt == '?') return qk_cli_usage_error("demo", "unknown option '%s'", argv[optind - 1]);
        int rc = apply_option(a, opt, optarg);
        if (rc != QK_EXIT_OK) return rc;
    }
    if (optind < argc) return qk_cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
    return QK_EXIT_OK;
}

/* ---- --lake s3://bucket/prefix --------------------------------------------------------- */

/* Create the bucket when it is missing (like the seed's setup script). */
static int ensure_bucket(qk_store *s, const char *uri, bool quiet, qk_err *err)
{
    qk_list_req req = {.max_keys = 1};
    qk_list_page page;
    int rc = qk_store_list(s, &req, &page, err);
    qk_list_page_free(&page);
    if (rc && !strcmp(err->type, "NoSuchBucket")) {
        if (!quiet) fprintf(stderr, "quack demo: creating the bucket of %s\n", uri);
        rc = qk_store_create_root(s, err);
    }
    return rc;
}

typedef struct upload_state {
    qk_store *dst;
    const char *root;
    uint64_t files;
} upload_state;

static int upload_one(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    upload_state *u = ud;
    char path[QK_DEMO_PATH_MAX + QK_STORE_KEY_MAX + 2];
    (void)cp;
    if (!obj || qk_str_startswith(obj->key, "_quack/")) return 0; /* the generator's lock */
    snprintf(path, sizeof path, "%s/%s", u->root, obj->key);
    u->files++;
    return qk_store_put_file(u->dst, obj->key, path, err);
}

static int demo_s3(demo_args *a, qk_demo_stats *st, qk_err *err)
{
    const char *uri = a->o.lake;
    char tmp[256];
    qk_store *dst = NULL, *src = NULL;
    upload_state u = {0};
    int rc = qk_store_open(uri, &dst, err);
    if (!rc) rc = ensure_bucket(dst, uri, a->quiet, err);
    if (rc) goto out;
    snprintf(tmp, sizeof tmp, "%s/quack-demo-XXXXXX", qk_env_str("TMPDIR", "/tmp"));
    if (!mkdtemp(tmp)) {
        rc = qk_errf(err, QK_EIO, "cannot create a temp dir in %s", qk_env_str("TMPDIR", "/tmp"));
        goto out;
    }
    a->o.lake = tmp;
    rc = qk_lake_demo_create(&a->o, st, err);
    if (!rc) rc = qk_store_open(tmp, &src, err);
    if (!rc && !a->quiet) fprintf(stderr, "quack demo: uploading the files to %s\n", uri);
    u = (upload_state){.dst = dst, .root = qk_store_uri(src ? src : dst)};
    if (!rc) rc = qk_store_list_all(src, NULL, NULL, upload_one, &u, err);
    if (!rc && !a->quiet)
        fprintf(stderr, "quack demo: uploaded %llu files\n", (unsigned long long)u.files);
    if (!rc) qk_strlcpy(st->lake, qk_store_uri(dst), sizeof st->lake);
    qk_rmtree(tmp, false, NULL);
out:
    a->o.lake = uri;
    qk_store_destroy(src);
    qk_store_destroy(dst);
    return rc;
}

int qk_cmd_demo(int argc, char **argv)
{
    demo_args a = {0};
    progress p = {.a = &a, .phase = -1};
    qk_demo_stats st;
    qk_err err = {0};
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_demo)) return QK_EXIT_OK;
    if ((rc = parse_args(argc, argv, &a)) != QK_EXIT_OK) return rc;
    if (!a.quiet) {
        p.tty = isatty(STDERR_FILENO) == 1;
        a.o.progress = on_progress;
        a.o.progress_ud = &p;
    }
    if ((qk_str_startswith(a.o.lake, "s3://") ? demo_s3(&a, &st, &err)
                                              : qk_lake_demo_create(&a.o, &st, &err)) != 0) {
        if (p.open_line) fputc('\n', stderr);
        qk_cli_print_err("demo", &err);
        return QK_EXIT_QUERY;
    }
    if (a.json)
        rc = print_json(&a, &st);
    else
        print_table(&a, &st);
    if (rc || fflush(stdout) != 0) {
        fprintf(stderr, "quack demo: cannot write the stats\n");
        return QK_EXIT_QUERY;
    }
    return QK_EXIT_OK;
}
