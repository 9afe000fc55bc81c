/* SPDX-License-Identifier: MIT */
/*
 * test_lake_resolve.c: s3:// paths in SQL (src/lake/resolve.c). The "buckets" are local
 * stores (qk_store_open on <tmp>/buckets/<bucket>) handed to the resolver through its
 * open_store callback, so the AST rewriting, globbing, fetching into the cache and the view
 * directory are tested without a network; tests/integration/test_s3_sql.sh runs the same
 * paths against a real S3 server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lake/resolve.h"
#include "unit_engine.h"

bool qk_lake_glob_match(const char *pattern, const char *key);

static char dir[] = "/tmp/qk-test-resolve-XXXXXX";
static qk_engine *eng;

static int setup(void **state)
{
    qk_err err = {0};
    char lake[256], sql[2048];
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(lake, sizeof lake, "%s/lake", dir);
    if (qk_test_engine_open(dir, false, &eng) != 0) return -1;
    {
        const char *dirs[] = {"buckets/b1/data",     "buckets/b2",          "buckets/b1/part/d=1",
                              "buckets/b1/part/d=2", "buckets/b1/part/d=3", "buckets/b3"};
        for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", lake, dirs[i]);
            if (qk_mkdirs(p, &err) != 0) return -1;
        }
    }
    snprintf(sql, sizeof sql,
             "COPY (SELECT range AS i, range %% 3 AS g FROM range(10)) TO "
             "'%s/buckets/b1/data/x.parquet';"
             "COPY (SELECT range + 100 AS i, 7 AS g FROM range(5)) TO "
             "'%s/buckets/b1/data/y.parquet';"
             "COPY (SELECT 'a,b' AS h UNION ALL SELECT '1,2') TO '%s/buckets/b2/t.csv' "
             "(HEADER false, QUOTE '');",
             lake, lake, lake);
    for (int d = 1; d <= 3; d++) {
        char *p = sql + strlen(sql);
        snprintf(p, sizeof sql - strlen(sql),
                 "COPY (SELECT range AS i FROM range(%d)) TO "
                 "'%s/buckets/b1/part/d=%d/data_0.parquet';",
                 d * 10, lake, d);
    }
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
             "COPY (SELECT DATE '2019-04-01' + (range %% 30)::INTEGER AS date, range AS v "
             "FROM range(300)) TO '%s/buckets/b3/days' (FORMAT parquet, PARTITION_BY (date));",
             lake);
    if (qk_test_exec(eng, sql) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return qk_test_engine_done(eng, dir);
}

static void ctx_init(qk_lake_ctx *c)
{
    qk_lake_ctx_init(c, eng);
    c->open_store = qk_test_local_bucket;
    c->open_store_ud = dir;
}

/* Resolve and run sql; return the BIGINT in row 0, column 0 (or -1 with *rc set). */
static int64_t run_scalar(const char *sql, int *rc, qk_err *err)
{
    qk_lake_ctx c;
    qk_query_opts o = {10, 0, NULL, NULL, false};
    qk_result *r = NULL;
    char *local = NULL;
    int64_t v = -1;
    ctx_init(&c);
    qk_err_clear(err);
    *rc = qk_lake_resolve(&c, sql, &local, err);
    if (!*rc) *rc = qk_engine_query(eng, local, &o, &r, err);
    if (*rc) fprintf(stderr, "# %s: %s\n", sql, err->msg);
    if (!*rc) {
        duckdb_data_chunk ch = qk_result_next_chunk(r);
        assert_non_null(ch);
        v = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
        duckdb_destroy_data_chunk(&ch);
    }
    qk_result_destroy(r);
    free(local);
    qk_lake_ctx_free(&c);
    return v;
}

static void test_sql_without_s3_is_returned_unchanged(void **state)
{
    qk_lake_ctx c;
    char *out = NULL;
    qk_err err = {0};
    (void)state;
    ctx_init(&c);
    assert_int_equal(qk_lake_resolve(&c, "SELECT 42", &out, &err), 0);
    assert_string_equal(out, "SELECT 42");
    assert_null(c.view_dir);
    free(out);
    qk_lake_ctx_free(&c);
}

static void test_s3_in_a_plain_string_is_left_alone(void **state)
{
    qk_lake_ctx c;
    char *out = NULL;
    qk_err err = {0};
    (void)state;
    ctx_init(&c);
    int rc = qk_lake_resolve(&c, "SELECT 's3://b1/nope' AS p", &out, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "SELECT 's3://b1/nope' AS p");
    free(out);
    qk_lake_ctx_free(&c);
}

static void test_single_file_reads_the_object(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        run_scalar("SELECT sum(i)::BIGINT FROM read_parquet('s3://b1/data/x.parquet')", &rc, &err),
        45);
    assert_int_equal(rc, 0);
}

static void test_list_of_files_reads_each(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        run_scalar("SELECT count(*)::BIGINT FROM read_parquet(['s3://b1/data/x.parquet',"
                   " 's3://b1/data/y.parquet'])",
                   &rc, &err),
        15);
    assert_int_equal(rc, 0);
}

static void test_glob_with_hive_partitioning_keeps_partition_values(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        run_scalar("SELECT count(*)::BIGINT FROM read_parquet('s3://b1/part/*/*.parquet',"
                   " hive_partitioning=1) WHERE d = 2",
                   &rc, &err),
        20);
    assert_int_equal(rc, 0);
    assert_int_equal(
        run_scalar("SELECT sum(d)::BIGINT FROM read_parquet('s3://b1/part/**/*.parquet',"
                   " hive_partitioning=true)",
                   &rc, &err),
        10 * 1 + 20 * 2 + 30 * 3);
    assert_int_equal(rc, 0);
}

static void test_from_string_is_a_base_table_path(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(run_scalar("SELECT max(i)::BIGINT FROM 's3://b1/data/y.parquet'", &rc, &err),
                     104);
    assert_int_equal(rc, 0);
}

static void test_read_csv_on_an_object(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        run_scalar("SELECT (a + b)::BIGINT FROM read_csv('s3://b2/t.csv', header=true)", &rc, &err),
        3);
    assert_int_equal(rc, 0);
}

static void test_missing_object_is_a_clear_error(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    run_scalar("SELECT count(*) FROM read_parquet('s3://b1/data/nope.parquet')", &rc, &err);
    assert_int_equal(rc, QK_ENOTFOUND);
    assert_string_equal(err.msg, "no such object s3://b1/data/nope.parquet");
}

static void test_glob_matching_nothing_says_no_files_found(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    run_scalar("SELECT count(*) FROM read_parquet('s3://b1/data/*.csv')", &rc, &err);
    assert_int_equal(rc, QK_ENOTFOUND);
    assert_string_equal(err.msg, "No files found that match the pattern \"s3://b1/data/*.csv\"");
}

static void test_dot_dot_in_a_key_is_refused(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    run_scalar("SELECT count(*) FROM read_parquet('s3://b1/../etc/passwd')", &rc, &err);
    assert_int_equal(rc, QK_EUNSUPPORTED);
}

static void test_parse_error_is_reported(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    run_scalar("SELEC * FROM 's3://b1/data/x.parquet'", &rc, &err);
    assert_int_equal(rc, QK_EPARSE);
    assert_non_null(strstr(err.msg, "syntax error"));
}

static void test_view_dir_mirrors_keys_and_is_removed(void **state)
{
    qk_lake_ctx c;
    char *out = NULL, path[1024];
    qk_err err = {0};
    struct stat st;
    (void)state;
    ctx_init(&c);
    assert_int_equal(
        qk_lake_resolve(&c, "SELECT * FROM read_parquet('s3://b1/part/d=*/*.parquet')", &out, &err),
        0);
    assert_int_equal(c.objects, 3);
    assert_non_null(strstr(out, c.view_dir));
    snprintf(path, sizeof path, "%s/b1/part/d=3/data_0.parquet", c.view_dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s", c.view_dir);
    qk_lake_ctx_free(&c);
    assert_int_not_equal(stat(path, &st), 0);
    free(out);
}

/* Run q (a query returning one BIGINT) with @ROOT@ as s3://b3 through the resolver and as the
 * local folder directly; assert equal results and that `fetched` objects were downloaded. */
static void same_with_fetches(const char *q, size_t fetched)
{
    char s3[2048], loc[2048], root[512];
    const char *at = strstr(q, "@ROOT@");
    qk_lake_ctx c;
    qk_query_opts o = {10, 0, NULL, NULL, false};
    qk_result *r = NULL;
    char *local = NULL;
    qk_err err = {0};
    int64_t a = -1, b = -2;
    duckdb_data_chunk ch;
    assert_non_null(at);
    snprintf(root, sizeof root, "%s/lake/buckets/b3", dir);
    snprintf(s3, sizeof s3, "%.*ss3://b3%s", (int)(at - q), q, at + 6);
    snprintf(loc, sizeof loc, "%.*s%s%s", (int)(at - q), q, root, at + 6);
    ctx_init(&c);
    if (qk_lake_resolve(&c, s3, &local, &err) || qk_engine_query(eng, local, &o, &r, &err))
        fail_msg("%s: %s", s3, err.msg);
    ch = qk_result_next_chunk(r);
    a = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
    duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
    if (c.objects != fetched) fail_msg("%s: fetched %zu, want %zu", s3, c.objects, fetched);
    assert_int_equal(c.objects + c.pruned, 30);
    free(local);
    qk_lake_ctx_free(&c);
    if (qk_engine_query(eng, loc, &o, &r, &err)) fail_msg("%s: %s", loc, err.msg);
    ch = qk_result_next_chunk(r);
    b = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
    duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
    assert_int_equal(a, b);
}

#define DAYS "read_parquet('@ROOT@/days/*/*.parquet', hive_partitioning=true)"
#define SUMS "SELECT (count(*) * 1000000 + coalesce(sum(v), 0))::BIGINT FROM " DAYS

static void test_prune_range_on_partition_column_fetches_ten_days(void **state)
{
    (void)state;
    same_with_fetches(SUMS " WHERE date >= '2019-04-01' AND date <= '2019-04-10'", 10);
}

static void test_prune_between_and_in(void **state)
{
    (void)state;
    same_with_fetches(SUMS " WHERE date BETWEEN '2019-04-03' AND '2019-04-05'", 3);
    same_with_fetches(SUMS " WHERE date IN ('2019-04-02', '2019-04-20') AND v > 10", 2);
    same_with_fetches(SUMS " WHERE NOT (date < DATE '2019-04-29') AND v % 2 = 0", 2);
}

static void test_prune_skips_conjuncts_with_data_columns(void **state)
{
    (void)state;
    same_with_fetches(SUMS " WHERE date = '2019-04-07' OR v = 3", 30);
    same_with_fetches(SUMS " WHERE CASE WHEN v > 5 THEN date ELSE DATE '2019-04-01' END = "
                           "'2019-04-01'",
                      30);
    same_with_fetches(SUMS, 30);
}

static void test_prune_needs_explicit_hive_partitioning_and_a_plain_from(void **state)
{
    (void)state;
    same_with_fetches("SELECT count(*)::BIGINT FROM read_parquet('@ROOT@/days/*/*.parquet') "
                      "WHERE date = '2019-04-02'",
                      30);
    same_with_fetches("SELECT count(*)::BIGINT FROM " DAYS " a JOIN (SELECT 1 AS v) b USING (v) "
                      "WHERE date = '2019-04-02'",
                      30);
    same_with_fetches(SUMS " WHERE date > (SELECT DATE '2019-04-01')", 30);
    same_with_fetches(SUMS " WHERE date < current_date - 10000", 30);
}

static void test_prune_to_nothing_keeps_one_file_and_returns_no_rows(void **state)
{
    (void)state;
    same_with_fetches(SUMS " WHERE date > '2020-01-01'", 1);
    same_with_fetches(
        "SELECT count(DISTINCT typeof(date))::BIGINT FROM " DAYS " WHERE date = '2019-04-09'", 1);
}

static void test_glob_match_follows_duckdb_rules(void **state)
{
    (void)state;
    assert_true(qk_lake_glob_match("a/*/x.parquet", "a/b/x.parquet"));
    assert_false(qk_lake_glob_match("a/*.parquet", "a/b/x.parquet"));
    assert_true(qk_lake_glob_match("a/**/x.parquet", "a/b/c/x.parquet"));
    assert_true(qk_lake_glob_match("a/**/x.parquet", "a/x.parquet"));
    assert_true(qk_lake_glob_match("a/**", "a/b/c"));
    assert_true(qk_lake_glob_match("a/d=2019-04-0[1-3]/*", "a/d=2019-04-02/f"));
    assert_false(qk_lake_glob_match("a/d=2019-04-0[1-3]/*", "a/d=2019-04-04/f"));
    assert_true(qk_lake_glob_match("a/?.csv", "a/b.csv"));
    assert_false(qk_lake_glob_match("a/?.csv", "a/bb.csv"));
}

/* warm is false only for the first statement a process answers, whichever way it went:
 * a failing probe (the first attempt before lake names are bound) counts once. */
static void test_warm_counts_each_answered_statement_once(void **state)
{
    const char *first[] = {"SELEC 1", "SELECT * FROM no_such_table_anywhere",
                           "SELECT count(*) FROM buckets.b1.data"};
    (void)state;
    for (size_t i = 0; i < sizeof first / sizeof *first; i++) {
        qk_engine *fresh = NULL;
        qk_result *r = NULL;
        qk_err err = {0};
        qk_query_opts o = {.limit = 10};
        char sql[256];
        int rc;
        assert_int_equal(qk_test_engine_open(dir, false, &fresh), 0);
        snprintf(sql, sizeof sql, "%s", first[i]);
        rc = qk_lake_query(fresh, sql, &o, &r, &err);
        if (i < 2) {
            assert_int_equal(rc, QK_ESQL);
        } else {
            if (rc != 0) fail_msg("%s: %s", sql, err.msg);
            assert_false(qk_result_warm(r)); /* the named table's answer is the first */
            qk_result_destroy(r);
        }
        assert_int_equal(qk_engine_queries(fresh), 1);
        assert_int_equal(qk_lake_query(fresh, "SELECT 1", &o, &r, &err), 0);
        assert_true(qk_result_warm(r));
        qk_result_destroy(r);
        qk_engine_close(fresh);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warm_counts_each_answered_statement_once),
        cmocka_unit_test(test_sql_without_s3_is_returned_unchanged),
        cmocka_unit_test(test_s3_in_a_plain_string_is_left_alone),
        cmocka_unit_test(test_single_file_reads_the_object),
        cmocka_unit_test(test_list_of_files_reads_each),
        cmocka_unit_test(test_glob_with_hive_partitioning_keeps_partition_values),
        cmocka_unit_test(test_from_string_is_a_base_table_path),
        cmocka_unit_test(test_read_csv_on_an_object),
        cmocka_unit_test(test_missing_object_is_a_clear_error),
        cmocka_unit_test(test_glob_matching_nothing_says_no_files_found),
        cmocka_unit_test(test_dot_dot_in_a_key_is_refused),
        cmocka_unit_test(test_parse_error_is_reported),
        cmocka_unit_test(test_view_dir_mirrors_keys_and_is_removed),
        cmocka_unit_test(test_prune_range_on_partition_column_fetches_ten_days),
        cmocka_unit_test(test_prune_between_and_in),
        cmocka_unit_test(test_prune_skips_conjuncts_with_data_columns),
        cmocka_unit_test(test_prune_needs_explicit_hive_partitioning_and_a_plain_from),
        cmocka_unit_test(test_prune_to_nothing_keeps_one_file_and_returns_no_rows),
        cmocka_unit_test(test_glob_match_follows_duckdb_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
