/* SPDX-License-Identifier: MIT */
/*
 * duckq.c: run SQL with plain DuckDB (no quack code at all) and print the result as CSV.
 * The baseline of the differential tests: whatever quack answers must equal what DuckDB
 * answers on its own.
 *
 *   duckq [--threads N] [--exec] SQL
 *
 * The SQL runs in a fresh in-memory database. Without --exec it must be one query; its rows
 * are printed as CSV (RFC 4180: header row, CRLF line ends, fields quoted only when they hold
 * a comma, quote, CR or LF), every value converted to text by DuckDB itself (CAST AS
 * VARCHAR), NULL as an empty field. With --exec the statements run and nothing is printed
 * (handy for building test lakes: COPY ... TO ...). Exit 1 with DuckDB's message on error.
 */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *msg)
{
    fprintf(stderr, "duckq: %s: %s\n", what, msg ? msg : "unknown error");
    return 1;
}

static void put_field(const char *s, size_t n)
{
    if (strcspn(s, ",\"\r\n") >= n) {
        fwrite(s, 1, n, stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') putchar('"');
        putchar(s[i]);
    }
    putchar('"');
}

static void print_chunk(duckdb_data_chunk ch, idx_t ncols)
{
    idx_t rows = duckdb_data_chunk_get_size(ch);
    for (idx_t r = 0; r < rows; r++) {
        for (idx_t c = 0; c < ncols; c++) {
            duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
            uint64_t *valid = duckdb_vector_get_validity(v);
            duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + r;
            if (c) putchar(',');
            if (valid && !duckdb_validity_row_is_valid(valid, r)) continue;
            put_field(duckdb_string_t_data(s), duckdb_string_t_length(*s));
        }
        fputs("\r\n", stdout);
    }
}

static int print_csv(duckdb_connection con, const char *sql)
{
    duckdb_prepared_statement orig;
    duckdb_result res;
    duckdb_data_chunk ch;
    size_t n = strlen(sql), cap;
    char *wrapped;
    while (n && strchr(" \t\r\n;", sql[n - 1]))
        n--;
    if (duckdb_prepare(con, sql, &orig) == DuckDBError)
        return fail("prepare", duckdb_prepare_error(orig));
    cap = n + 64;
    if (!(wrapped = malloc(cap))) return fail("malloc", "out of memory");
    snprintf(wrapped, cap, "SELECT COLUMNS(*)::VARCHAR FROM (%.*s)", (int)n, sql);
    if (duckdb_query(con, wrapped, &res) == DuckDBError) {
        free(wrapped);
        return fail("query", duckdb_result_error(&res));
    }
    idx_t ncols = duckdb_column_count(&res);
    for (idx_t c = 0; c < ncols; c++) {
        const char *name = duckdb_prepared_statement_column_name(orig, c); /* ours to free */
        if (c) putchar(',');
        put_field(name ? name : "", name ? strlen(name) : 0);
        duckdb_free((void *)name);
    }
    fputs("\r\n", stdout);
    while ((ch = duckdb_fetch_chunk(res)) != NULL) {
        print_chunk(ch, ncols);
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    duckdb_destroy_prepare(&orig);
    free(wrapped);
    return 0;
}

static int run(const char *sql, const char *threads, int exec)
{
    duckdb_database db;
    duckdb_connection con;
    duckdb_result res;
    char set[64];
    int rc = 0;
    if (duckdb_open(NULL, &db) == DuckDBError) return fail("open", "cannot open DuckDB");
    duckdb_connect(db, &con);
    if (threads) {
        snprintf(set, sizeof set, "SET threads=%s", threads);
        if (duckdb_query(con, set, &res) == DuckDBError)
            rc = fail("threads", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
    }
    if (!rc && exec) {
        if (duckdb_query(con, sql, &res) == DuckDBError)
            rc = fail("query", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
    } else if (!rc) {
        rc = print_csv(con, sql);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc;
}

int main(int argc, char **argv)
{
    const char *threads = NULL, *sql = NULL;
    int exec = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = argv[++i];
        else if (strcmp(argv[i], "--exec") == 0)
            exec = 1;
        else if (!sql)
            sql = argv[i];
        else
            sql = NULL, i = argc;
    }
    if (!sql) {
        fprintf(stderr, "usage: duckq [--threads N] [--exec] SQL\n");
        return 2;
    }
    return run(sql, threads, exec);
}
