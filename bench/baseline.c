/* SPDX-License-Identifier: MIT */
/*
 * baseline.c: the plain-DuckDB baseline the benchmarks compare quack against (bench/run.sh).
 * It uses only DuckDB's C API, the way a minimal C program would: an in-memory database with
 * the same thread count as quack, one connection, duckdb_query, then every result chunk
 * fetched with duckdb_fetch_chunk. No sandbox, no limit wrapping, no encoding, no HTTP.
 *
 *   baseline [--threads N] [--lake DIR] (-q SQL | -f FILE) [--runs N] [--warmup W]
 *       warm mode: W unmeasured runs, then N measured runs of the statement; prints one JSON
 *       object with the latency statistics (ms, open + query + fetch of all chunks per run).
 *   baseline --once [--threads N] [--lake DIR] (-q SQL | -f FILE)
 *       cold mode: open, run the statement once, print the result as tab-separated text on
 *       stdout, exit. Its own timings (open, query, print) go to stderr as one JSON line.
 *
 * "<LAKE>" in the SQL is replaced by --lake (the queries in bench/queries/ use it).
 */
#include <duckdb.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct args {
    const char *sql, *file, *lake;
    long threads, runs, warmup;
    bool once;
} args;

static void usage(void)
{
    fprintf(stderr, "usage: baseline [--once] [--threads N] [--lake DIR] (-q SQL | -f FILE)\n"
                    "                [--runs N] [--warmup W]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, args *a)
{
    *a = (args){.threads = 2, .runs = 50, .warmup = 5};
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(k, "--once") == 0) {
            a->once = true;
            continue;
        }
        if (!v) usage();
        if (strcmp(k, "-q") == 0 || strcmp(k, "--sql") == 0)
            a->sql = v;
        else if (strcmp(k, "-f") == 0 || strcmp(k, "--file") == 0)
            a->file = v;
        else if (strcmp(k, "--lake") == 0)
            a->lake = v;
        else if (strcmp(k, "--threads") == 0)
            a->threads = bench_parse_long(v, 1, 1024, k);
        else if (strcmp(k, "--runs") == 0)
            a->runs = bench_parse_long(v, 1, 1000000, k);
        else if (strcmp(k, "--warmup") == 0)
            a->warmup = bench_parse_long(v, 0, 1000000, k);
        else
            usage();
        i++;
    }
    if (!a->sql == !a->file) usage();
}

static int open_db(long threads, duckdb_database *db, duckdb_connection *con)
{
    duckdb_config cfg;
    char *err = NULL, nthreads[32];
    snprintf(nthreads, sizeof nthreads, "%ld", threads);
    if (duckdb_create_config(&cfg) == DuckDBError) return -1;
    duckdb_set_config(cfg, "threads", nthreads);
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    if (duckdb_open_ext(NULL, db, cfg, &err) == DuckDBError) {
        fprintf(stderr, "baseline: cannot open DuckDB: %s\n", err ? err : "?");
        duckdb_free(err);
        duckdb_destroy_config(&cfg);
        return -1;
    }
    duckdb_destroy_config(&cfg);
    if (duckdb_connect(*db, con) == DuckDBError) {
        fprintf(stderr, "baseline: cannot connect\n");
        duckdb_close(db);
        return -1;
    }
    return 0;
}

/* Print one value of a vector as text; the types the seed queries produce, and a marker for
 * the rest (the baseline is not a general-purpose client). */
static void print_value(duckdb_vector vec, duckdb_type t, idx_t row)
{
    void *d = duckdb_vector_get_data(vec);
    uint64_t *valid = duckdb_vector_get_validity(vec);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) {
        fputs("NULL", stdout);
        return;
    }
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
        fputs(((bool *)d)[row] ? "true" : "false", stdout);
        break;
    case DUCKDB_TYPE_TINYINT:
        printf("%d", ((int8_t *)d)[row]);
        break;
    case DUCKDB_TYPE_SMALLINT:
        printf("%d", ((int16_t *)d)[row]);
        break;
    case DUCKDB_TYPE_INTEGER:
        printf("%" PRId32, ((int32_t *)d)[row]);
        break;
    case DUCKDB_TYPE_BIGINT:
        printf("%" PRId64, ((int64_t *)d)[row]);
        break;
    case DUCKDB_TYPE_UTINYINT:
        printf("%u", ((uint8_t *)d)[row]);
        break;
    case DUCKDB_TYPE_USMALLINT:
        printf("%u", ((uint16_t *)d)[row]);
        break;
    case DUCKDB_TYPE_UINTEGER:
        printf("%" PRIu32, ((uint32_t *)d)[row]);
        break;
    case DUCKDB_TYPE_UBIGINT:
        printf("%" PRIu64, ((uint64_t *)d)[row]);
        break;
    case DUCKDB_TYPE_FLOAT:
        printf("%.9g", ((float *)d)[row]);
        break;
    case DUCKDB_TYPE_DOUBLE:
        printf("%.17g", ((double *)d)[row]);
        break;
    case DUCKDB_TYPE_VARCHAR: {
        duckdb_string_t *s = &((duckdb_string_t *)d)[row];
        fwrite(duckdb_string_t_data(s), 1, duckdb_string_t_length(*s), stdout);
        break;
    }
    default:
        printf("<type %d>", (int)t);
        break;
    }
}

static void print_chunk(duckdb_data_chunk ch)
{
    idx_t ncols = duckdb_data_chunk_get_column_count(ch), n = duckdb_data_chunk_get_size(ch);
    for (idx_t r = 0; r < n; r++) {
        for (idx_t c = 0; c < ncols; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
            duckdb_logical_type lt = duckdb_vector_get_column_type(v);
            if (c) putchar('\t');
            print_value(v, duckdb_get_type_id(lt), r);
            duckdb_destroy_logical_type(&lt);
        }
        putchar('\n');
    }
}

/* Run sql once, fetching every chunk; print it when print is set. Returns rows or -1. */
static long long run_once(duckdb_connection con, const char *sql, bool print)
{
    duckdb_result res;
    duckdb_data_chunk ch;
    long long rows = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        fprintf(stderr, "baseline: query failed: %s\n", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    if (print) {
        for (idx_t c = 0; c < duckdb_column_count(&res); c++)
            printf("%s%s", c ? "\t" : "", duckdb_column_name(&res, c));
        putchar('\n');
    }
    while ((ch = duckdb_fetch_chunk(res)) != NULL) {
        rows += (long long)duckdb_data_chunk_get_size(ch);
        if (print) print_chunk(ch);
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    return rows;
}

static int run_cold(const args *a, const char *sql, double t_start)
{
    duckdb_database db;
    duckdb_connection con;
    double t_open, t_query;
    long long rows;
    if (open_db(a->threads, &db, &con)) return 1;
    t_open = bench_now_ms();
    rows = run_once(con, sql, true);
    fflush(stdout);
    t_query = bench_now_ms();
    duckdb_disconnect(&con);
    duckdb_close(&db);
    fprintf(stderr, "{\"open_ms\":%.3f,\"query_print_ms\":%.3f,\"close_ms\":%.3f,\"rows\":%lld}\n",
            t_open - t_start, t_query - t_open, bench_now_ms() - t_query, rows);
    return rows < 0;
}

static int run_warm(const args *a, const char *sql, double t_start)
{
    duckdb_database db;
    duckdb_connection con;
    double *lat = calloc((size_t)a->runs, sizeof *lat), t_open;
    long long rows = 0;
    int rc = 1;
    if (!lat || open_db(a->threads, &db, &con)) {
        free(lat);
        return 1;
    }
    t_open = bench_now_ms() - t_start;
    for (long i = 0; i < a->warmup; i++)
        if (run_once(con, sql, false) < 0) goto out;
    for (long i = 0; i < a->runs; i++) {
        double t0 = bench_now_ms();
        if ((rows = run_once(con, sql, false)) < 0) goto out;
        lat[i] = bench_now_ms() - t0;
    }
    printf("{\"tool\":\"baseline\",\"duckdb\":\"%s\",\"threads\":%ld,\"runs\":%ld,\"warmup\":%ld,"
           "\"rows\":%lld,\"open_ms\":%.3f,",
           duckdb_library_version(), a->threads, a->runs, a->warmup, rows, t_open);
    bench_print_stats(stdout, "", lat, (int)a->runs);
    printf("}\n");
    rc = 0;
out:
    duckdb_disconnect(&con);
    duckdb_close(&db);
    free(lat);
    return rc;
}

int main(int argc, char **argv)
{
    double t_start = bench_now_ms();
    args a;
    char *sql;
    int rc;
    parse_args(argc, argv, &a);
    sql = a.file ? bench_read_sql(a.file, a.lake) : bench_subst_lake(a.sql, a.lake);
    if (!sql) return 1;
    rc = a.once ? run_cold(&a, sql, t_start) : run_warm(&a, sql, t_start);
    free(sql);
    return rc;
}
