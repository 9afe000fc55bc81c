/* SPDX-License-Identifier: MIT */
/*
 * bench_paths.c: where quack's warm per-query overhead over plain DuckDB goes. Runs one query
 * through several execution paths, interleaved (every iteration runs each path once, so load
 * from other work on the machine hits all paths alike), and prints the median and minimum ms
 * of each as one JSON line per path. A diagnostic for engine work: bench/run.sh runs it for the
 * seed queries and reports it after the measurements.
 *
 *   bench_paths --lake DIR (--sql SQL | --sql-file FILE) [--runs N] [--threads N]
 *               [--set 'SQL'...]
 *
 * Paths, all on one in-memory database with the given threads (the last one on a quack
 * engine over the same lake):
 *   baseline        duckdb_query on one long-lived connection (what bench/baseline.c does)
 *   connect+query   a new connection per query, duckdb_query
 *   prepare+exec    a new connection, duckdb_prepare, duckdb_execute_prepared
 *   quack-like      what src/engine/query.c does: new connection, duckdb_extract_statements,
 *                   prepare the statement, prepare the LIMIT-wrapped statement, run it through a
 *                   pending result task by task (sleeping 50/500 us when no task is available)
 *   wrapped-1-prep  the same with only the wrapped statement prepared
 *   wrapped-query   a new connection, duckdb_query of the wrapped statement (one bind)
 *   qk_engine_query quack's engine itself (limit 20; chunks fetched, not encoded)
 * --set runs SQL on the plain database first (e.g. 'SET GLOBAL parquet_metadata_cache=true');
 * it is not applied to the quack engine (its configuration is locked).
 */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "engine/engine.h"

#define MAX_SETS 16

typedef struct ctx {
    duckdb_database db;
    duckdb_connection shared;
    qk_engine *engine;
    char *sql, *wrapped;
} ctx;

static void drain(duckdb_result *r)
{
    duckdb_data_chunk c;
    while ((c = duckdb_fetch_chunk(*r)) != NULL)
        duckdb_destroy_data_chunk(&c);
    duckdb_destroy_result(r);
}

static void must_query(duckdb_connection con, const char *sql)
{
    duckdb_result r;
    if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "bench_paths: %s\n", duckdb_result_error(&r));
        exit(1);
    }
    drain(&r);
}

static void run_pending(duckdb_prepared_statement st)
{
    duckdb_pending_result p;
    duckdb_pending_state ps;
    duckdb_result r;
    duckdb_pending_prepared(st, &p);
    for (int idle = 0;;) {
        ps = duckdb_pending_execute_task(p);
        if (ps == DUCKDB_PENDING_NO_TASKS_AVAILABLE) {
            struct timespec ts = {0, idle < 10 ? 50000 : 500000};
            nanosleep(&ts, NULL);
            idle++;
        } else if (ps != DUCKDB_PENDING_RESULT_NOT_READY) {
            break;
        }
    }
    if (duckdb_execute_pending(p, &r) == DuckDBError) {
        fprintf(stderr, "bench_paths: %s\n", duckdb_result_error(&r));
        exit(1);
    }
    drain(&r);
    duckdb_destroy_pending(&p);
}

static void p_baseline(ctx *c)
{
    must_query(c->shared, c->sql);
}

static void p_connect_query(ctx *c)
{
    duckdb_connection con;
    duckdb_connect(c->db, &con);
    must_query(con, c->sql);
    duckdb_disconnect(&con);
}

static void p_prepare_exec(ctx *c)
{
    duckdb_connection con;
    duckdb_prepared_statement st;
    duckdb_result r;
    duckdb_connect(c->db, &con);
    duckdb_prepare(con, c->sql, &st);
    duckdb_execute_prepared(st, &r);
    drain(&r);
    duckdb_destroy_prepare(&st);
    duckdb_disconnect(&con);
}

static void p_quack_like(ctx *c)
{
    duckdb_connection con;
    duckdb_extracted_statements ex = NULL;
    duckdb_prepared_statement orig, wrapped;
    duckdb_connect(c->db, &con);
    duckdb_extract_statements(con, c->sql, &ex);
    duckdb_destroy_extracted(&ex);
    duckdb_prepare(con, c->sql, &orig);
    duckdb_prepare(con, c->wrapped, &wrapped);
    run_pending(wrapped);
    duckdb_destroy_prepare(&wrapped);
    duckdb_destroy_prepare(&orig);
    duckdb_disconnect(&con);
}

static void p_wrapped_one_prepare(ctx *c)
{
    duckdb_connection con;
    duckdb_prepared_statement st;
    duckdb_connect(c->db, &con);
    duckdb_prepare(con, c->wrapped, &st);
    run_pending(st);
    duckdb_destroy_prepare(&st);
    duckdb_disconnect(&con);
}

static void p_wrapped_query(ctx *c)
{
    duckdb_connection con;
    duckdb_connect(c->db, &con);
    must_query(con, c->wrapped);
    duckdb_disconnect(&con);
}

static void p_engine(ctx *c)
{
    qk_query_opts o = {.limit = 20};
    qk_result *r = NULL;
    qk_err err = {0};
    duckdb_data_chunk ch;
    if (qk_engine_query(c->engine, c->sql, &o, &r, &err)) {
        fprintf(stderr, "bench_paths: %s\n", err.msg);
        exit(1);
    }
    while ((ch = qk_result_next_chunk(r)) != NULL)
        duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
}

static const struct {
    const char *name;
    void (*fn)(ctx *);
} paths[] = {
    {"baseline", p_baseline},
    {"connect+query", p_connect_query},
    {"prepare+exec", p_prepare_exec},
    {"quack-like", p_quack_like},
    {"wrapped-1-prep", p_wrapped_one_prepare},
    {"wrapped-query", p_wrapped_query},
    {"qk_engine_query", p_engine},
};
#define NPATHS (sizeof paths / sizeof paths[0])

static void usage(void)
{
    fprintf(stderr, "usage: bench_paths --lake DIR (--sql SQL | --sql-file FILE) [--runs N]\n"
                    "                   [--threads N] [--set SQL]...\n");
    exit(2);
}

static int open_all(ctx *c, const char *lake, long threads, const char **sets, int nsets)
{
    duckdb_config cfg;
    qk_engine_config ec;
    qk_err err = {0};
    char nthreads[32];
    snprintf(nthreads, sizeof nthreads, "%ld", threads);
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "threads", nthreads);
    if (duckdb_open_ext(NULL, &c->db, cfg, NULL) == DuckDBError) return -1;
    duckdb_destroy_config(&cfg);
    duckdb_connect(c->db, &c->shared);
    for (int i = 0; i < nsets; i++)
        must_query(c->shared, sets[i]);
    qk_engine_config_defaults(&ec);
    ec.lake = lake;
    ec.threads = (int)threads;
    if (qk_engine_open(&ec, &c->engine, &err)) {
        fprintf(stderr, "bench_paths: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *lake = NULL, *sql = NULL, *file = NULL, *sets[MAX_SETS];
    long runs = 40, threads = 2;
    int nsets = 0;
    ctx c = {0};
    double *t[NPATHS];
    if (argc % 2 == 0) usage();
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--lake") == 0)
            lake = argv[i + 1];
        else if (strcmp(argv[i], "--sql") == 0)
            sql = argv[i + 1];
        else if (strcmp(argv[i], "--sql-file") == 0)
            file = argv[i + 1];
        else if (strcmp(argv[i], "--runs") == 0)
            runs = bench_parse_long(argv[i + 1], 1, 100000, "--runs");
        else if (strcmp(argv[i], "--threads") == 0)
            threads = bench_parse_long(argv[i + 1], 1, 1024, "--threads");
        else if (strcmp(argv[i], "--set") == 0 && nsets < MAX_SETS)
            sets[nsets++] = argv[i + 1];
        else
            usage();
    }
    if (!lake || !sql == !file) usage();
    if (open_all(&c, lake, threads, sets, nsets)) return 1;
    lake = qk_engine_lake(c.engine); /* absolute, as the sandbox wants it */
    c.sql = file ? bench_read_sql(file, lake) : bench_subst_lake(sql, lake);
    if (!c.sql || !(c.wrapped = malloc(strlen(c.sql) + 64))) return 1;
    snprintf(c.wrapped, strlen(c.sql) + 64, "SELECT * FROM (\n%s\n) LIMIT 21", c.sql);
    for (size_t p = 0; p < NPATHS; p++)
        if (!(t[p] = calloc((size_t)runs, sizeof(double)))) return 1;
    for (int w = 0; w < 3; w++)
        for (size_t p = 0; p < NPATHS; p++)
            paths[p].fn(&c);
    for (long i = 0; i < runs; i++)
        for (size_t p = 0; p < NPATHS; p++) {
            double t0 = bench_now_ms();
            paths[p].fn(&c);
            t[p][i] = bench_now_ms() - t0;
        }
    for (size_t p = 0; p < NPATHS; p++) {
        bench_stats s = bench_compute(t[p], (int)runs);
        printf("{\"tool\":\"bench_paths\",\"path\":\"%s\",\"runs\":%ld,\"median_ms\":%.3f,"
               "\"min_ms\":%.3f}\n",
               paths[p].name, runs, s.median, s.min);
        free(t[p]);
    }
    qk_engine_close(c.engine);
    duckdb_disconnect(&c.shared);
    duckdb_close(&c.db);
    free(c.sql);
    free(c.wrapped);
    return 0;
}
