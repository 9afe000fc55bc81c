/* SPDX-License-Identifier: MIT */
/*
 * bench_encode.c: the result encoders' speed, isolated from the query (bench/run.sh,
 * measurement 4), and quack's in-process query latency (measurement 1, to split the HTTP
 * round trip from the engine). It opens a quack engine on a lake (sandbox on, as served) and,
 * per format and run, times qk_lake_query (what the server runs: lake table names and s3://
 * paths are resolved; a query without them goes straight to qk_engine_query) and then,
 * separately, qk_encode_result of that whole result into one qk_buf.
 *
 *   bench_encode --lake DIR [--sql SQL | --sql-file FILE] [--rows N] [--limit N]
 *                [--formats json,ndjson,csv] [--runs N] [--warmup W] [--threads N]
 *
 * Default SQL: SELECT * FROM read_parquet('<LAKE>/dataset/taxi_2019_04.parquet') LIMIT N
 * (--rows, default 1,000,000: the demo lake's 17 taxi columns). --limit is the engine's row
 * limit (default: none). Output: one JSON object per format on stdout with the statistics of
 * the query, encode and total (query + encode) times, rows/s and MB/s of the median encode,
 * and the rows and bytes written.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "engine/encode.h"
#include "lake/resolve.h"

#define OUT_MAX ((size_t)16 << 30) /* cap on one encoded result: 16 GiB */

typedef struct args {
    const char *lake, *sql, *sql_file, *formats;
    long rows, limit, runs, warmup, threads;
} args;

static void usage(void)
{
    fprintf(stderr, "usage: bench_encode --lake DIR [--sql SQL | --sql-file FILE] [--rows N]\n"
                    "                    [--limit N] [--formats json,ndjson,csv] [--runs N]\n"
                    "                    [--warmup W] [--threads N]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, args *a)
{
    *a = (args){.formats = "json,ndjson,csv",
                .rows = 1000000,
                .limit = -1,
                .runs = 3,
                .warmup = 1,
                .threads = 2};
    if (argc % 2 == 0) usage(); /* flags come in pairs */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--lake") == 0)
            a->lake = v;
        else if (strcmp(k, "--sql") == 0)
            a->sql = v;
        else if (strcmp(k, "--sql-file") == 0)
            a->sql_file = v;
        else if (strcmp(k, "--formats") == 0)
            a->formats = v;
        else if (strcmp(k, "--rows") == 0)
            a->rows = bench_parse_long(v, 1, 1000000000, k);
        else if (strcmp(k, "--limit") == 0)
            a->limit = bench_parse_long(v, -1, 1000000000, k);
        else if (strcmp(k, "--runs") == 0)
            a->runs = bench_parse_long(v, 1, 100000, k);
        else if (strcmp(k, "--warmup") == 0)
            a->warmup = bench_parse_long(v, 0, 100000, k);
        else if (strcmp(k, "--threads") == 0)
            a->threads = bench_parse_long(v, 1, 1024, k);
        else
            usage();
    }
    if (!a->lake || (a->sql && a->sql_file)) usage();
}

static char *make_sql(const args *a, const char *lake_abs)
{
    char q[256];
    if (a->sql_file) return bench_read_sql(a->sql_file, lake_abs);
    if (a->sql) return bench_subst_lake(a->sql, lake_abs);
    snprintf(q, sizeof q,
             "SELECT * FROM read_parquet('<LAKE>/dataset/taxi_2019_04.parquet') LIMIT %ld",
             a->rows);
    return bench_subst_lake(q, lake_abs);
}

typedef struct sample {
    double query_ms, encode_ms;
    uint64_t rows;
    size_t bytes;
} sample;

/* Run the query, then encode its result; one sample. */
static int measure(qk_engine *e, const char *sql, const args *a, qk_format fmt, sample *s)
{
    qk_query_opts qo = {.limit = a->limit};
    qk_encode_opts eo;
    qk_encode_stats st = {0};
    qk_result *r = NULL;
    qk_err err = {0};
    qk_buf out;
    double t0 = bench_now_ms(), t1;
    int rc = qk_lake_query(e, sql, &qo, &r, &err);
    t1 = bench_now_ms();
    qk_buf_init(&out, OUT_MAX);
    qk_encode_opts_init(&eo);
    if (!rc) rc = qk_encode_result(r, fmt, &eo, &out, &st, &err);
    s->query_ms = t1 - t0;
    s->encode_ms = bench_now_ms() - t1;
    s->rows = st.rows;
    s->bytes = out.len;
    if (rc) {
        fprintf(stderr, "bench_encode: %s: %s\n", qk_strerror(rc), err.msg);
    } else if (st.truncated) {
        fprintf(stderr, "bench_encode: output truncated\n");
        rc = -1;
    }
    qk_buf_free(&out);
    qk_result_destroy(r);
    return rc;
}

static void report(const args *a, qk_format fmt, sample *s)
{
    size_t n = (size_t)a->runs;
    double *q = calloc(n, sizeof *q), *en = calloc(n, sizeof *en), *tot = calloc(n, sizeof *tot);
    bench_stats es;
    double secs;
    if (!q || !en || !tot) goto out;
    for (size_t i = 0; i < n; i++) {
        q[i] = s[i].query_ms;
        en[i] = s[i].encode_ms;
        tot[i] = s[i].query_ms + s[i].encode_ms;
    }
    es = bench_compute(en, (int)n);
    secs = es.median / 1000.0;
    printf("{\"tool\":\"bench_encode\",\"format\":\"%s\",\"runs\":%ld,\"threads\":%ld,"
           "\"rows\":%llu,\"bytes\":%zu,\"rows_per_s\":%.0f,\"mb_per_s\":%.1f,",
           qk_format_name(fmt), a->runs, a->threads, (unsigned long long)s[0].rows, s[0].bytes,
           secs > 0 ? (double)s[0].rows / secs : 0, secs > 0 ? (double)s[0].bytes / 1e6 / secs : 0);
    bench_print_stats(stdout, "query_", q, (int)n);
    printf(",");
    bench_print_stats(stdout, "encode_", en, (int)n);
    printf(",");
    bench_print_stats(stdout, "total_", tot, (int)n);
    printf("}\n");
    fflush(stdout);
out:
    free(q);
    free(en);
    free(tot);
}

/* Warm-up runs, then measured runs of one format. */
static int bench_format(qk_engine *e, const char *sql, const args *a, const char *name)
{
    qk_format fmt;
    qk_err err = {0};
    sample *s = calloc((size_t)a->runs, sizeof *s), w;
    int rc = -1;
    if (!s) return -1;
    if (qk_format_parse(name, &fmt, &err)) {
        fprintf(stderr, "bench_encode: %s\n", err.msg);
        goto out;
    }
    for (long i = 0; i < a->warmup; i++)
        if (measure(e, sql, a, fmt, &w)) goto out;
    for (long i = 0; i < a->runs; i++)
        if (measure(e, sql, a, fmt, &s[i])) goto out;
    report(a, fmt, s);
    rc = 0;
out:
    free(s);
    return rc;
}

int main(int argc, char **argv)
{
    args a;
    qk_engine_config cfg;
    qk_engine *e = NULL;
    qk_err err = {0};
    char *sql = NULL, *formats = NULL, *f, *comma;
    int rc = 1;
    parse_args(argc, argv, &a);
    qk_log_set_level(QK_LOG_WARN);
    qk_engine_config_defaults(&cfg);
    cfg.lake = a.lake;
    cfg.threads = (int)a.threads;
    if (qk_engine_open(&cfg, &e, &err)) {
        fprintf(stderr, "bench_encode: %s\n", err.msg);
        return 1;
    }
    if (!(sql = make_sql(&a, qk_engine_lake(e))) || !(formats = strdup(a.formats))) goto out;
    for (f = formats; f; f = comma ? comma + 1 : NULL) {
        if ((comma = strchr(f, ','))) *comma = '\0';
        if (*f && bench_format(e, sql, &a, f)) goto out;
    }
    rc = 0;
out:
    free(formats);
    free(sql);
    qk_engine_close(e);
    return rc;
}
