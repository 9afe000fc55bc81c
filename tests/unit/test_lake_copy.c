/* SPDX-License-Identifier: MIT */
/*
 * test_lake_copy.c: COPY ... TO 's3://...' (src/lake/copy.c). First the splitter on its own
 * (comments, quoting, nesting, option lists, what is not ours, hostile input); then whole
 * COPYs through qk_lake_copy_with, whose "buckets" are local stores (<tmp>/lake/buckets/<b>)
 * handed in as open_store, so staging, uploading, OVERWRITE and the "not empty" rule are
 * tested without a network. tests/integration/test_s3_copy.sh runs the same against Ceph RGW.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lake/copy.h"
#include "unit_engine.h"
#include "lake/resolve.h"

bool qk_lake_copy_split(const char *sql, qk_copy_stmt *st);
int qk_lake_copy_with(qk_engine *e, const char *sql, const qk_query_opts *o,
                      qk_lake_open_store_fn open_store, void *ud, qk_result **out, qk_err *err);

static char dir[] = "/tmp/qk-test-copy-XXXXXX";
static qk_engine *eng;

/* ---- the splitter ------------------------------------------------------------------------- */

static void assert_span(const char *sql, qk_copy_span sp, const char *want)
{
    char got[512];
    assert_true(sp.off + sp.len <= strlen(sql));
    assert_true(sp.len < sizeof got);
    memcpy(got, sql + sp.off, sp.len);
    got[sp.len] = 0;
    assert_string_equal(got, want);
}

/* Split sql, which must be a COPY to s3 of a query; check the query and the target. */
static qk_copy_stmt split_query(const char *sql, const char *query, const char *target)
{
    qk_copy_stmt st;
    assert_true(qk_lake_copy_split(sql, &st));
    assert_true(qk_lake_is_copy_to_s3(sql));
    assert_true(st.src_is_query);
    assert_span(sql, st.src, query);
    assert_span(sql, st.target, target);
    return st;
}

static void not_ours(const char *sql)
{
    qk_copy_stmt st;
    assert_false(qk_lake_copy_split(sql, &st));
    assert_false(qk_lake_is_copy_to_s3(sql));
}

static void test_split_query_source(void **state)
{
    const char *sql = "COPY (SELECT 1 AS x) TO 's3://b/out/x.parquet' (FORMAT parquet)";
    qk_copy_stmt st = split_query(sql, "SELECT 1 AS x", "'s3://b/out/x.parquet'");
    (void)state;
    assert_span(sql, st.rest, " (FORMAT parquet)");
    assert_false(st.dir_output);
    assert_false(st.overwrite);
    st = split_query("COPY (SELECT 1) TO 's3://b/k'", "SELECT 1", "'s3://b/k'");
    assert_int_equal(st.rest.len, 0);
}

static void test_split_lowercase_keywords_and_trailing_semicolon(void **state)
{
    const char *sql = "  copy (select 1) to 's3://b/x.csv' ;  ";
    qk_copy_stmt st = split_query(sql, "select 1", "'s3://b/x.csv'");
    (void)state;
    assert_span(sql, st.rest, " ;  ");
    split_query("CoPy\n(select 2)\n\tTo\n's3://b/y'", "select 2", "'s3://b/y'");
}

static void test_split_skips_comments(void **state)
{
    (void)state;
    split_query("-- COPY (SELECT 0) TO 's3://no/x'\n/* lead */ COPY -- TO 's3://no'\n"
                "(SELECT 1 /* ) TO 's3://x' */ -- ) TO 's3://y'\n) /* x */ TO 's3://b/k.csv'",
                "SELECT 1 /* ) TO 's3://x' */ -- ) TO 's3://y'\n", "'s3://b/k.csv'");
    /* block comments nest */
    split_query("COPY /* a /* b */ ) TO 's3://no' */ (SELECT 1) TO 's3://b/k'", "SELECT 1",
                "'s3://b/k'");
}

static void test_split_quoted_identifiers_containing_to(void **state)
{
    (void)state;
    split_query("COPY (SELECT 1 AS \") TO 's3://x'\") TO 's3://b/k'",
                "SELECT 1 AS \") TO 's3://x'\"", "'s3://b/k'");
    split_query("COPY (SELECT 1 AS \"a \"\") TO (\") TO 's3://b/k'", "SELECT 1 AS \"a \"\") TO (\"",
                "'s3://b/k'");
}

static void test_split_string_literals_containing_paren_to(void **state)
{
    (void)state;
    split_query("COPY (SELECT ') TO ''s3://x''' AS s) TO 's3://b/k'",
                "SELECT ') TO ''s3://x''' AS s", "'s3://b/k'");
    split_query("COPY (SELECT E'\\') TO ' AS s, e'\\\\' AS t) TO 's3://b/k'",
                "SELECT E'\\') TO ' AS s, e'\\\\' AS t", "'s3://b/k'");
    /* a plain string ends at the first lone quote even after a backslash */
    split_query("COPY (SELECT 'a\\' AS s) TO 's3://b/k'", "SELECT 'a\\' AS s", "'s3://b/k'");
}

static void test_split_dollar_quotes(void **state)
{
    (void)state;
    split_query("COPY (SELECT $$) TO 's3://x'$$ AS s, $t$ ) $ $$ $t$ AS u) TO 's3://b/k'",
                "SELECT $$) TO 's3://x'$$ AS s, $t$ ) $ $$ $t$ AS u", "'s3://b/k'");
    /* $1 is a parameter, a$b an identifier: neither opens a dollar quote */
    split_query("COPY (SELECT $1, a$b$ FROM t) TO 's3://b/k'", "SELECT $1, a$b$ FROM t",
                "'s3://b/k'");
}

static void test_split_nested_parentheses(void **state)
{
    (void)state;
    split_query("COPY (SELECT ((1)) + (2) FROM (SELECT (3)) t WHERE x IN ((1), (2))) TO 's3://b/k'",
                "SELECT ((1)) + (2) FROM (SELECT (3)) t WHERE x IN ((1), (2))", "'s3://b/k'");
}

static void test_split_table_sources(void **state)
{
    qk_copy_stmt st;
    const char *a = "COPY tbl TO 's3://b/t.csv'";
    const char *b = "COPY main.\"my tbl\" (a, \"b c\", (d)) TO 's3://b/t.parquet' (FORMAT parquet)";
    (void)state;
    assert_true(qk_lake_copy_split(a, &st));
    assert_false(st.src_is_query);
    assert_false(st.has_cols);
    assert_span(a, st.src, "tbl");
    assert_true(qk_lake_copy_split(b, &st));
    assert_false(st.src_is_query);
    assert_span(b, st.src, "main.\"my tbl\"");
    assert_true(st.has_cols);
    assert_span(b, st.cols, "a, \"b c\", (d)");
    assert_span(b, st.target, "'s3://b/t.parquet'");
}

static void test_split_options(void **state)
{
    qk_copy_stmt st;
    (void)state;
    assert_true(qk_lake_copy_split(
        "COPY (SELECT 1) TO 's3://b/p' (FORMAT parquet, PARTITION_BY (a, b), OVERWRITE)", &st));
    assert_true(st.dir_output && st.overwrite && !st.overwrite_or_ignore);
    assert_true(qk_lake_copy_split(
        "COPY (SELECT 1) TO 's3://b/p' WITH (partition_by a, overwrite_or_ignore true)", &st));
    assert_true(st.dir_output && !st.overwrite && st.overwrite_or_ignore);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (PER_THREAD_OUTPUT false, "
                                   "OVERWRITE 0, OVERWRITE_OR_IGNORE 'no')",
                                   &st));
    assert_true(!st.dir_output && !st.overwrite && !st.overwrite_or_ignore);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (FILE_SIZE_BYTES '1MB')", &st));
    assert_true(st.dir_output);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (ROW_GROUPS_PER_FILE 2)", &st));
    assert_true(st.dir_output);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (FORMAT 'OVERWRITE', "
                                   "DELIMITER 'PARTITION_BY')",
                                   &st));
    assert_true(!st.dir_output && !st.overwrite);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (\"partition_BY\" g, "
                                   "\"Overwrite\" 1)",
                                   &st));
    assert_true(st.dir_output && st.overwrite);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (APPEND, RETURN_FILES)", &st));
    assert_true(st.append && st.return_files);
    assert_true(qk_lake_copy_split("COPY (SELECT 1) TO 's3://b/p' (RETURN_STATS f)", &st));
    assert_false(st.return_files);
}

static void test_split_refuses_what_is_not_a_copy_to_s3(void **state)
{
    (void)state;
    not_ours("");
    not_ours("COPY");
    not_ours("COPY (SELECT 1)");
    not_ours("COPY tbl");
    not_ours("COPY tbl FROM 's3://b/x.csv'");
    not_ours("COPY FROM DATABASE a TO 's3://b/x'");
    not_ours("COPY TO 's3://b/x'");
    not_ours("COPY (SELECT 1) TO 'lake/x.csv'");
    not_ours("COPY (SELECT 1) TO 'S3://b/x.csv'");
    not_ours("COPY (SELECT 1) TO E's3://b/x.csv'");
    not_ours("COPY (SELECT 1) TO \"s3://b/x.csv\"");
    not_ours("COPY (SELECT 1) TO s3");
    not_ours("COPY (SELECT 1) TO 's3:/b/x'");
    not_ours("COPY (SELECT 1) TO 's3://b/'\n'x.csv'");
    not_ours("COPYX (SELECT 1) TO 's3://b/x'");
    not_ours("EXPLAIN COPY (SELECT 1) TO 's3://b/x'");
    not_ours("SELECT 's3://b/x'");
    not_ours("COPY (SELECT 1 TO 's3://b/x'");
    not_ours("COPY (SELECT 1)) TO 's3://b/x'");
    not_ours("COPY (SELECT 'a) TO 's3://b/x'");
    not_ours("COPY (SELECT \"a) TO 's3://b/x'");
    not_ours("COPY (SELECT $q$a) TO 's3://b/x'");
    not_ours("COPY /* (SELECT 1) TO 's3://b/x'");
    not_ours("COPY (SELECT 1) TO 's3://b/x' (FORMAT 'csv)");
    not_ours("COPY a. TO 's3://b/x'");
    not_ours("COPY (SELECT 1) TO 's3://b/x");
    assert_false(qk_lake_is_copy_to_s3(NULL));
}

/* 100k nested parentheses, balanced and not, and other large inputs: linear, no recursion. */
static void test_split_hostile_input(void **state)
{
    const size_t n = 100000;
    char *sql = malloc(3 * n + 64), *p = sql;
    qk_copy_stmt st;
    (void)state;
    assert_non_null(sql);
    p += sprintf(p, "COPY ");
    memset(p, '(', n), p += n;
    p += sprintf(p, "SELECT 1");
    memset(p, ')', n), p += n;
    sprintf(p, " TO 's3://b/k'");
    assert_true(qk_lake_copy_split(sql, &st));
    assert_int_equal(st.src.len, 2 * (n - 1) + strlen("SELECT 1"));
    sql[5 + n + 8 + n - 1] = ' '; /* one ')' short */
    assert_false(qk_lake_copy_split(sql, &st));
    /* nested block comments, never closed; then closed */
    p = sql + sprintf(sql, "COPY ");
    for (size_t i = 0; i < n; i++)
        memcpy(p, "/*", 2), p += 2;
    *p = 0;
    assert_false(qk_lake_copy_split(sql, &st));
    free(sql);
    sql = malloc(5 * n + 64);
    assert_non_null(sql);
    p = sql + sprintf(sql, "COPY ");
    for (size_t i = 0; i < n; i++)
        memcpy(p, "/*", 2), p += 2;
    for (size_t i = 0; i < n; i++)
        memcpy(p, "*/", 2), p += 2;
    sprintf(p, "(SELECT 1) TO 's3://b/k'");
    assert_true(qk_lake_copy_split(sql, &st));
    /* a long string literal and a long run of quotes */
    p = sql + sprintf(sql, "COPY (SELECT '");
    memset(p, '\'', 2 * n), p += 2 * n;
    sprintf(p, "') TO 's3://b/k'");
    assert_true(qk_lake_copy_split(sql, &st));
    memset(sql, '(', 5 * n);
    sql[5 * n] = 0;
    assert_false(qk_lake_copy_split(sql, &st));
    free(sql);
}

/* ---- whole COPYs into local "buckets" ----------------------------------------------------- */

static int setup(void **state)
{
    qk_err err = {0};
    char lake[256], sql[1024];
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(lake, sizeof lake, "%s/lake", dir);
    if (qk_test_engine_open(dir, true, &eng) != 0) return -1;
    snprintf(sql, sizeof sql, "%s/buckets/src", lake);
    if (qk_mkdirs(sql, &err)) return -1;
    snprintf(sql, sizeof sql,
             "COPY (SELECT range AS i, range %% 3 AS g FROM range(30)) TO "
             "'%s/buckets/src/t.parquet';"
             "CREATE TABLE people AS SELECT * FROM (VALUES (1, 'ann', 'x'), (2, 'bob', 'y')) "
             "v(id, name, tag);",
             lake);
    if (qk_test_exec(eng, sql) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return qk_test_engine_done(eng, dir);
}

/* Run a COPY; return its Count (or -1 with the error in err). */
static int64_t copy(const char *sql, int *rc, qk_err *err)
{
    qk_query_opts o = {.limit = 10};
    qk_result *r = NULL;
    int64_t v = -1;
    qk_err_clear(err);
    *rc = qk_lake_copy_with(eng, sql, &o, qk_test_local_bucket, dir, &r, err);
    if (!*rc) {
        duckdb_data_chunk ch = qk_result_next_chunk(r);
        assert_non_null(ch);
        assert_string_equal(qk_result_column_name(r, 0), "Count");
        v = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
        duckdb_destroy_data_chunk(&ch);
    } else {
        assert_null(r);
    }
    qk_result_destroy(r);
    return v;
}

/* A scalar BIGINT from the engine (reads the buckets as local files). */
static int64_t scalar(const char *fmt, const char *arg)
{
    char sql[1024];
    qk_query_opts o = {.limit = 10};
    qk_result *r = NULL;
    qk_err err = {0};
    duckdb_data_chunk ch;
    int64_t v;
    snprintf(sql, sizeof sql, fmt, dir, arg);
    if (qk_engine_query(eng, sql, &o, &r, &err)) fprintf(stderr, "# %s: %s\n", sql, err.msg);
    assert_non_null(r);
    ch = qk_result_next_chunk(r);
    assert_non_null(ch);
    v = ((int64_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0)))[0];
    duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
    return v;
}

static bool exists(const char *rel)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/lake/buckets/%s", dir, rel);
    return stat(path, &sb) == 0;
}

/* The staging directories are gone: nothing named copy-* is left in the engine's temp dir. */
static void assert_no_staging(void)
{
    char path[512];
    DIR *d;
    struct dirent *de;
    snprintf(path, sizeof path, "%s/tmp", dir);
    assert_non_null(d = opendir(path));
    while ((de = readdir(d)) != NULL)
        assert_false(strncmp(de->d_name, "copy-", 5) == 0);
    closedir(d);
}

static void test_copy_single_file_uploads_it(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        copy("COPY (SELECT range AS i FROM range(10)) TO 's3://b1/out/x.parquet'", &rc, &err), 10);
    assert_int_equal(rc, 0);
    assert_int_equal(scalar("SELECT sum(i)::BIGINT FROM '%s/lake/buckets/%s'", "b1/out/x.parquet"),
                     45);
    assert_no_staging();
}

static void test_copy_csv_keeps_the_file_name_for_the_format(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(
        copy("COPY (SELECT 1 AS a, 2 AS b) TO 's3://b1/out/y.csv' (HEADER)", &rc, &err), 1);
    assert_int_equal(scalar("SELECT (a + b)::BIGINT FROM read_csv('%s/lake/buckets/%s', "
                            "header = true)",
                            "b1/out/y.csv"),
                     3);
}

static void test_copy_partition_by_uploads_the_folders(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(copy("COPY (SELECT * FROM 's3://src/t.parquet') TO 's3://b1/parts/' "
                          "(FORMAT parquet, PARTITION_BY (g))",
                          &rc, &err),
                     30);
    assert_int_equal(rc, 0);
    assert_true(exists("b1/parts/g=0/data_0.parquet"));
    assert_true(exists("b1/parts/g=2/data_0.parquet"));
    assert_int_equal(
        scalar("SELECT sum(i * g)::BIGINT FROM read_parquet('%s/lake/buckets/%s', "
               "hive_partitioning = 1)",
               "b1/parts/*/*.parquet"),
        scalar("SELECT sum(i * g)::BIGINT FROM '%s/lake/buckets/%s'", "src/t.parquet"));
    assert_no_staging();
}

static void test_copy_partition_by_without_rows_uploads_nothing(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(copy("COPY (SELECT 1 AS a, 2 AS b WHERE false) TO 's3://b1/none' "
                          "(FORMAT parquet, PARTITION_BY (a))",
                          &rc, &err),
                     0);
    assert_int_equal(rc, 0);
    assert_false(exists("b1/none"));
    assert_no_staging();
}

static void test_copy_into_a_non_empty_folder_needs_overwrite(void **state)
{
    const char *again = "COPY (SELECT range AS i, range %% 2 AS h FROM range(4)) TO "
                        "'s3://b1/again' (FORMAT parquet, PARTITION_BY (h)%s)";
    char sql[512];
    int rc;
    qk_err err;
    (void)state;
    snprintf(sql, sizeof sql, again, "");
    copy(sql, &rc, &err);
    assert_int_equal(rc, 0);
    assert_int_equal(copy("COPY (SELECT 9 AS i) TO 's3://b1/again/h=7/stale.parquet'", &rc, &err),
                     1);
    copy(sql, &rc, &err);
    assert_int_equal(rc, QK_EIO);
    assert_string_equal(err.type, "IOException");
    assert_string_equal(err.msg, "IO Error: Directory \"s3://b1/again\" is not empty! Enable "
                                 "OVERWRITE option to overwrite files");
    assert_no_staging();
    snprintf(sql, sizeof sql, again, ", OVERWRITE_OR_IGNORE");
    copy(sql, &rc, &err);
    assert_int_equal(rc, 0);
    assert_true(exists("b1/again/h=7/stale.parquet"));
    snprintf(sql, sizeof sql, again, ", OVERWRITE");
    copy(sql, &rc, &err);
    assert_int_equal(rc, 0);
    assert_false(exists("b1/again/h=7/stale.parquet"));
    assert_true(exists("b1/again/h=1/data_0.parquet"));
}

static void test_copy_source_ending_in_a_comment(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(copy("COPY (SELECT 1 AS a -- one row\n) TO 's3://b1/cm.csv'", &rc, &err), 1);
    assert_int_equal(copy("COPY (SELECT 2 AS a /* ) */ -- ) TO 's3://x'\n-- more\n) "
                          "TO 's3://b1/cm.csv' -- done",
                          &rc, &err),
                     1);
    assert_int_equal(scalar("SELECT a::BIGINT FROM read_csv('%s/lake/buckets/%s')", "b1/cm.csv"),
                     2);
}

static void test_copy_table_sources(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    assert_int_equal(copy("COPY people TO 's3://b2/people.parquet'", &rc, &err), 2);
    assert_int_equal(
        copy("COPY people (id, name) TO 's3://b2/names.csv' (HEADER false)", &rc, &err), 2);
    assert_int_equal(scalar("SELECT count(*)::BIGINT FROM read_csv('%s/lake/buckets/%s', "
                            "header = false) WHERE column1 = 'bob'",
                            "b2/names.csv"),
                     1);
    assert_int_equal(scalar("SELECT count(*)::BIGINT FROM (DESCRIBE SELECT * FROM "
                            "read_csv('%s/lake/buckets/%s', header = false))",
                            "b2/names.csv"),
                     2);
}

static void test_copy_bad_targets_are_refused(void **state)
{
    const char *bad[] = {"s3://b1/",           "s3://b1",        "s3:///x.csv", "s3://b1/a//x.csv",
                         "s3://b1/a/../x.csv", "s3://b1/./x.csv"};
    char sql[256];
    int rc;
    qk_err err;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(sql, sizeof sql, "COPY (SELECT 1) TO '%s'", bad[i]);
        copy(sql, &rc, &err);
        assert_int_equal(rc, QK_EINVAL);
        assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_no_staging();
}

static void test_copy_append_and_return_files_are_refused(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    copy("COPY (SELECT 1 AS a) TO 's3://b1/ap' (PARTITION_BY (a), APPEND)", &rc, &err);
    assert_int_equal(rc, QK_EUNSUPPORTED);
    copy("COPY (SELECT 1 AS a) TO 's3://b1/rf.parquet' (RETURN_FILES)", &rc, &err);
    assert_int_equal(rc, QK_EUNSUPPORTED);
    assert_false(exists("b1/ap"));
}

static void test_copy_failing_query_uploads_nothing(void **state)
{
    int rc;
    qk_err err;
    (void)state;
    copy("COPY (SELECT * FROM no_such_table) TO 's3://b1/fail.csv'", &rc, &err);
    assert_int_equal(rc, QK_ESQL);
    assert_false(exists("b1/fail.csv"));
    copy("COPY (SELECT * FROM 's3://src/missing.parquet') TO 's3://b1/fail.csv'", &rc, &err);
    assert_int_equal(rc, QK_ENOTFOUND);
    /* DuckDB's messages name the s3:// target, not the staging path */
    copy("COPY (SELECT 1 AS a) TO 's3://b1/fail.csv' (FORMAT nosuchformat)", &rc, &err);
    assert_int_not_equal(rc, 0);
    assert_null(strstr(err.msg, "/copy-"));
    copy("SELECT 1", &rc, &err);
    assert_int_equal(rc, QK_EPARSE);
    assert_string_equal(err.type, "ParserException");
    assert_false(exists("b1/fail.csv"));
    assert_no_staging();
}

static int cancel_now(void *ud)
{
    (void)ud;
    return 1;
}

static void test_copy_timeout_and_cancel_stop_it(void **state)
{
    qk_query_opts o = {.limit = 10, .cancelled = cancel_now};
    qk_result *r = NULL;
    qk_err err = {0};
    int rc;
    (void)state;
    rc = qk_lake_copy_with(eng, "COPY (SELECT range AS i FROM range(1000)) TO 's3://b1/c.csv'", &o,
                           qk_test_local_bucket, dir, &r, &err);
    assert_int_equal(rc, QK_ECANCELED);
    assert_null(r);
    assert_false(exists("b1/c.csv"));
    assert_no_staging();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_query_source),
        cmocka_unit_test(test_split_lowercase_keywords_and_trailing_semicolon),
        cmocka_unit_test(test_split_skips_comments),
        cmocka_unit_test(test_split_quoted_identifiers_containing_to),
        cmocka_unit_test(test_split_string_literals_containing_paren_to),
        cmocka_unit_test(test_split_dollar_quotes),
        cmocka_unit_test(test_split_nested_parentheses),
        cmocka_unit_test(test_split_table_sources),
        cmocka_unit_test(test_split_options),
        cmocka_unit_test(test_split_refuses_what_is_not_a_copy_to_s3),
        cmocka_unit_test(test_split_hostile_input),
        cmocka_unit_test(test_copy_single_file_uploads_it),
        cmocka_unit_test(test_copy_csv_keeps_the_file_name_for_the_format),
        cmocka_unit_test(test_copy_partition_by_uploads_the_folders),
        cmocka_unit_test(test_copy_partition_by_without_rows_uploads_nothing),
        cmocka_unit_test(test_copy_into_a_non_empty_folder_needs_overwrite),
        cmocka_unit_test(test_copy_source_ending_in_a_comment),
        cmocka_unit_test(test_copy_table_sources),
        cmocka_unit_test(test_copy_bad_targets_are_refused),
        cmocka_unit_test(test_copy_append_and_return_files_are_refused),
        cmocka_unit_test(test_copy_failing_query_uploads_nothing),
        cmocka_unit_test(test_copy_timeout_and_cancel_stop_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
