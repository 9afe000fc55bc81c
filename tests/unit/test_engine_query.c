/* SPDX-License-Identifier: MIT */
/*
 * test_engine_query.c: the engine's contract (src/engine/engine.h): one statement per query,
 * the row limit (a SELECT is wrapped so unreturned rows are never materialized, column names
 * and ORDER BY kept), the sandbox (only lake, cache and temp readable; no ATTACH, INSTALL,
 * LOAD, SET), the timeout and cancellation, DuckDB error types, and `warm`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/engine_int.h"

static char lake_dir[] = "/tmp/qk-test-engine-XXXXXX";
static qk_engine *eng;

static int setup(void **state)
{
    qk_engine_config c;
    qk_err err = {0};
    (void)state;
    if (!mkdtemp(lake_dir)) return -1;
    qk_engine_config_defaults(&c);
    c.lake = lake_dir;
    c.threads = 2;
    if (qk_engine_open(&c, &eng, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_engine_close(eng);
    return qk_rmtree(lake_dir, false, NULL) == 0 ? 0 : -1;
}

/* Run sql with a limit; return rc, fill err. */
static int run(const char *sql, int64_t limit, qk_result **r, qk_err *err)
{
    qk_query_opts o = {limit, 0, NULL, NULL, false};
    qk_err_clear(err);
    return qk_engine_query(eng, sql, &o, r, err);
}

/* Value of a BIGINT cell from the first chunks. */
static int64_t bigint_at(qk_result *r, idx_t col, idx_t row)
{
    duckdb_data_chunk ch = qk_result_next_chunk(r);
    assert_non_null(ch);
    int64_t *d = duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, col));
    int64_t v = d[row];
    duckdb_destroy_data_chunk(&ch);
    return v;
}

static void test_select_returns_rows_and_types(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELECT 42::BIGINT AS answer, 'x' AS s", 10, &r, &err), 0);
    assert_int_equal(qk_result_column_count(r), 2);
    assert_string_equal(qk_result_column_name(r, 0), "answer");
    assert_string_equal(qk_result_column_type(r, 0), "BIGINT");
    assert_string_equal(qk_result_column_type(r, 1), "VARCHAR");
    assert_int_equal(qk_result_row_count(r), 1);
    assert_false(qk_result_limited(r));
    assert_int_equal(bigint_at(r, 0, 0), 42);
    qk_result_destroy(r);
}

static void test_limit_cuts_rows_and_reports_more(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELECT range AS i FROM range(1000000)", 20, &r, &err), 0);
    assert_int_equal(qk_result_row_count(r), 20);
    assert_true(qk_result_limited(r));
    qk_result_destroy(r);
    assert_int_equal(run("SELECT range AS i FROM range(20)", 20, &r, &err), 0);
    assert_int_equal(qk_result_row_count(r), 20);
    assert_false(qk_result_limited(r));
    qk_result_destroy(r);
    assert_int_equal(run("SELECT range AS i FROM range(5)", 0, &r, &err), 0);
    assert_int_equal(qk_result_row_count(r), 0);
    assert_true(qk_result_limited(r));
    qk_result_destroy(r);
}

static void test_limit_wrap_does_not_materialize_unreturned_rows(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    /* 10^10 rows cannot be materialized; with the wrap DuckDB stops after 21. */
    assert_int_equal(
        run("SELECT a.range * b.range AS x FROM range(100000) a, range(100000) b", 20, &r, &err),
        0);
    assert_int_equal(qk_result_row_count(r), 20);
    assert_true(qk_result_limited(r));
    qk_result_destroy(r);
}

static void test_limit_wrap_keeps_order_and_names(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELECT range AS i, 1 AS i FROM range(100000) ORDER BY range DESC; -- end",
                         3, &r, &err),
                     0);
    assert_string_equal(qk_result_column_name(r, 0), "i");
    assert_string_equal(qk_result_column_name(r, 1), "i");
    assert_int_equal(bigint_at(r, 0, 0), 99999);
    qk_result_destroy(r);
    /* A query with its own LIMIT/OFFSET and a trailing comment with a semicolon. */
    assert_int_equal(
        run("SELECT range FROM range(100) ORDER BY 1 LIMIT 5 OFFSET 7 /* a; b */ ;", 3, &r, &err),
        0);
    assert_int_equal(qk_result_row_count(r), 3);
    assert_int_equal(bigint_at(r, 0, 0), 7);
    qk_result_destroy(r);
}

static void test_limit_wrap_names_with_own_limit_and_describe(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    /* Own LIMIT: the second wrapper (a subquery) renames duplicates; names come back exact. */
    assert_int_equal(run("SELECT 1 AS i, 2 AS i FROM range(9) LIMIT 5", 3, &r, &err), 0);
    assert_string_equal(qk_result_column_name(r, 0), "i");
    assert_string_equal(qk_result_column_name(r, 1), "i");
    assert_int_equal(qk_result_row_count(r), 3);
    qk_result_destroy(r);
    /* A real column named i_1 is kept as it is. */
    assert_int_equal(run("SELECT 1 AS i, 2 AS i_1 FROM range(9) LIMIT 5", 3, &r, &err), 0);
    assert_string_equal(qk_result_column_name(r, 1), "i_1");
    qk_result_destroy(r);
    assert_int_equal(run("DESCRIBE SELECT 1 AS a, 2 AS b", 1, &r, &err), 0);
    assert_int_equal(qk_result_row_count(r), 1);
    assert_true(qk_result_limited(r));
    assert_string_equal(qk_result_column_name(r, 0), "column_name");
    qk_result_destroy(r);
    assert_int_equal(run("SHOW TABLES", 5, &r, &err), 0);
    qk_result_destroy(r);
}

static void test_error_positions_match_the_users_sql(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELECT nope FROM range(1)", 10, &r, &err), QK_ESQL);
    assert_non_null(strstr(err.msg, "LINE 1:"));
    assert_null(strstr(err.msg, "LINE 2:"));
    assert_int_equal(run("SELECT 1,\n  nope FROM range(1)", 10, &r, &err), QK_ESQL);
    assert_non_null(strstr(err.msg, "LINE 2:"));
}

static void test_multiple_statements_are_refused(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELECT 1; SELECT 2", 10, &r, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "one SQL statement"));
    assert_int_equal(run("   ", 10, &r, &err), QK_EINVAL);
    assert_int_equal(run("-- only a comment", 10, &r, &err), QK_EINVAL);
}

static void test_sql_errors_carry_duckdb_type(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("SELEC 1", 10, &r, &err), QK_ESQL);
    assert_string_equal(err.type, "ParserException");
    assert_int_equal(run("SELECT nope FROM range(1)", 10, &r, &err), QK_ESQL);
    assert_string_equal(err.type, "BinderException");
    assert_int_equal(run("SELECT * FROM no_such_table", 10, &r, &err), QK_ESQL);
    assert_string_equal(err.type, "CatalogException");
    assert_int_equal(run("SELECT 1/0::INTEGER, 'a'::INTEGER", 10, &r, &err), QK_ESQL);
    assert_string_equal(err.type, "ConversionException");
}

static void expect_denied(const char *sql)
{
    qk_result *r = NULL;
    qk_err err;
    int rc = run(sql, 10, &r, &err);
    if (rc == 0) {
        qk_result_destroy(r);
        fail_msg("sandbox let through: %s", sql);
    }
    assert_true(rc == QK_EDENIED || rc == QK_ESQL);
    assert_true(strlen(err.msg) > 10);
    if (getenv("QK_TEST_VERBOSE")) fprintf(stderr, "%s -> [%s] %s\n", sql, err.type, err.msg);
}

static void test_sandbox_blocks_files_outside_lake(void **state)
{
    (void)state;
    expect_denied("SELECT * FROM read_csv('/etc/passwd')");
    expect_denied("SELECT * FROM read_text('/proc/self/environ')");
    expect_denied("COPY (SELECT 1) TO '/tmp/qk-escape.csv'");
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s/../../etc/passwd')", lake_dir);
    expect_denied(sql);
    assert_int_equal(access("/tmp/qk-escape.csv", F_OK), -1);
}

static void test_sandbox_blocks_attach_install_load_set(void **state)
{
    (void)state;
    expect_denied("ATTACH '/tmp/qk-x.duckdb' AS x");
    expect_denied("INSTALL httpfs");
    expect_denied("LOAD httpfs");
    expect_denied("SET enable_external_access=true");
    expect_denied("SET allowed_directories=['/']");
    expect_denied("SELECT * FROM read_parquet('https://example.com/x.parquet')");
}

static void test_sandbox_allows_lake_reads_and_writes(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    char sql[512];
    (void)state;
    snprintf(sql, sizeof sql, "COPY (SELECT range AS i FROM range(10)) TO '%s/t.parquet'",
             lake_dir);
    assert_int_equal(run(sql, 10, &r, &err), 0);
    qk_result_destroy(r);
    snprintf(sql, sizeof sql, "SELECT sum(i)::BIGINT FROM '%s/t.parquet'", lake_dir);
    assert_int_equal(run(sql, 10, &r, &err), 0);
    assert_int_equal(bigint_at(r, 0, 0), 45);
    qk_result_destroy(r);
}

static void test_timeout_interrupts_query(void **state)
{
    qk_result *r = NULL;
    qk_err err = {0};
    qk_query_opts o = {10, 200, NULL, NULL, false};
    (void)state;
    int64_t t0 = qk_now_ms();
    int rc = qk_engine_query(eng, "SELECT count(*) FROM range(100000000) a, range(1000) b", &o, &r,
                             &err);
    int64_t took = qk_now_ms() - t0;
    assert_int_equal(rc, QK_ETIMEOUT);
    assert_string_equal(err.type, "Timeout");
    /* Not a timing assert on speed: only that the interrupt happened long before the query
     * could have finished (10^11 rows). */
    assert_true(took < 60000);
    /* The engine keeps serving. */
    assert_int_equal(run("SELECT 1", 10, &r, &err), 0);
    qk_result_destroy(r);
}

static int cancel_after_calls(void *ud)
{
    int *n = ud;
    return ++*n > 3;
}

static void test_cancel_callback_interrupts_query(void **state)
{
    qk_result *r = NULL;
    qk_err err = {0};
    int calls = 0;
    qk_query_opts o = {10, 0, cancel_after_calls, &calls, false};
    (void)state;
    assert_int_equal(qk_engine_query(eng, "SELECT count(*) FROM range(100000000) a, range(1000) b",
                                     &o, &r, &err),
                     QK_ECANCELED);
    assert_true(calls > 3);
}

static int cancel_now(void *ud)
{
    (void)ud;
    return 1;
}

/* A cancel that fires at the first poll, before DuckDB has started executing (binding and
 * planning), must still stop the query: the watchdog interrupts again until it ends. */
static void test_cancel_before_execution_starts(void **state)
{
    qk_query_opts o = {10, 0, cancel_now, NULL, false};
    (void)state;
    for (int i = 0; i < 30; i++) {
        qk_result *r = NULL;
        qk_err err = {0};
        int rc = qk_engine_query(eng, "SELECT count(*) FROM range(100000000) a, range(1000) b", &o,
                                 &r, &err);
        assert_int_equal(rc, QK_ECANCELED);
        assert_null(r);
    }
}

static void test_timeout_interrupts_unwrapped_statements(void **state)
{
    qk_result *r = NULL;
    qk_err err = {0};
    qk_query_opts o = {10, 200, NULL, NULL, false};
    int calls = 0;
    qk_query_opts c = {10, 0, cancel_after_calls, &calls, false};
    (void)state;
    /* CREATE ... AS and COPY are not wrapped in a LIMIT: they run as prepared statements. */
    assert_int_equal(qk_engine_query(eng,
                                     "CREATE TEMP TABLE slow AS SELECT count(*) AS n "
                                     "FROM range(100000000) a, range(1000) b",
                                     &o, &r, &err),
                     QK_ETIMEOUT);
    assert_string_equal(err.type, "Timeout");
    char sql[512];
    snprintf(sql, sizeof sql,
             "COPY (SELECT count(*) FROM range(100000000) a, range(1000) b) TO '%s/slow.csv'",
             lake_dir);
    assert_int_equal(qk_engine_query(eng, sql, &c, &r, &err), QK_ECANCELED);
    assert_int_equal(run("SELECT 1", 10, &r, &err), 0);
    qk_result_destroy(r);
}

static void test_non_select_statements_run(void **state)
{
    qk_result *r = NULL;
    qk_err err;
    (void)state;
    assert_int_equal(run("CREATE TEMP TABLE t AS SELECT 1 AS a", 10, &r, &err), 0);
    qk_result_destroy(r);
    assert_int_equal(run("DESCRIBE SELECT 1 AS a", 10, &r, &err), 0);
    assert_int_equal(qk_result_row_count(r), 1);
    qk_result_destroy(r);
    assert_int_equal(run("EXPLAIN SELECT 1", 10, &r, &err), 0);
    qk_result_destroy(r);
}

static void test_warm_is_false_only_first(void **state)
{
    (void)state;
    /* Earlier tests ran queries: this process is warm. A fresh engine is cold once. */
    qk_engine_config c;
    qk_engine *e2;
    qk_result *r = NULL;
    qk_err err = {0};
    qk_engine_config_defaults(&c);
    c.lake = lake_dir;
    assert_int_equal(qk_engine_open(&c, &e2, &err), 0);
    assert_int_equal(qk_engine_query(e2, "SELECT 1", NULL, &r, &err), 0);
    assert_false(qk_result_warm(r));
    qk_result_destroy(r);
    assert_int_equal(qk_engine_query(e2, "SELECT 1", NULL, &r, &err), 0);
    assert_true(qk_result_warm(r));
    qk_result_destroy(r);
    qk_engine_close(e2);
}

static void test_open_missing_lake_fails_clearly(void **state)
{
    qk_engine_config c;
    qk_engine *e2 = NULL;
    qk_err err = {0};
    (void)state;
    qk_engine_config_defaults(&c);
    c.lake = "/nonexistent/qk-lake";
    assert_int_equal(qk_engine_open(&c, &e2, &err), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/qk-lake"));
    assert_null(e2);
}

char *relative_form(const char *p);

static void test_relative_form_of_lake(void **state)
{
    char *r;
    (void)state;
    assert_string_equal((r = relative_form("lake")), "lake/");
    free(r);
    assert_string_equal((r = relative_form("./a//b/./c/")), "a/b/c/");
    free(r);
    assert_null(relative_form("/abs/lake"));
    assert_null(relative_form("../lake"));
    assert_null(relative_form("a/../b"));
    assert_null(relative_form("."));
}

static void test_relative_paths_inside_lake_are_allowed(void **state)
{
    char cwd[4096], sql[512];
    qk_engine_config c;
    qk_engine *e2;
    qk_result *r = NULL;
    qk_err err = {0};
    (void)state;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir("/tmp"), 0);
    qk_engine_config_defaults(&c);
    c.lake = lake_dir + 5; /* "qk-test-engine-XXXXXX", relative to /tmp */
    assert_int_equal(qk_engine_open(&c, &e2, &err), 0);
    snprintf(sql, sizeof sql, "COPY (SELECT 7 AS x) TO './%s/rel.csv'", c.lake);
    assert_int_equal(qk_engine_query(e2, sql, NULL, &r, &err), 0);
    qk_result_destroy(r);
    snprintf(sql, sizeof sql, "SELECT x FROM read_csv('%s/rel.csv')", c.lake);
    assert_int_equal(qk_engine_query(e2, sql, NULL, &r, &err), 0);
    qk_result_destroy(r);
    snprintf(sql, sizeof sql, "SELECT * FROM read_csv('%s/../../etc/passwd')", c.lake);
    assert_int_equal(qk_engine_query(e2, sql, NULL, &r, &err), QK_EDENIED);
    qk_engine_close(e2);
    assert_int_equal(chdir(cwd), 0);
}

static void test_sql_trimmed_len_skips_comments_and_semicolons(void **state)
{
    (void)state;
    assert_int_equal(qk_sql_trimmed_len("SELECT 1;"), 8);
    assert_int_equal(qk_sql_trimmed_len("SELECT 1 ; -- x;\n  /* y; */ ;"), 8);
    assert_int_equal(qk_sql_trimmed_len("SELECT ';' ;"), 10);
    assert_int_equal(qk_sql_trimmed_len("SELECT $$a;--$$;"), 15);
    assert_int_equal(qk_sql_trimmed_len("SELECT \"a;\"\"\" -- c"), 13);
    assert_int_equal(qk_sql_trimmed_len("SELECT E'\\';' ;"), 13);
    assert_int_equal(qk_sql_trimmed_len("SELECT 1 /* /* nested */ ; */"), 8);
    assert_int_equal(qk_sql_trimmed_len("SELECT 'unterminated"), 20);
}

static void test_scalar_i64_reads_one_integer_or_says_there_is_none(void **state)
{
    int64_t v = 0;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT 42::INTEGER", NULL, &v, &err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(
        qk_engine_scalar_i64(eng, "SELECT (-(2::HUGEINT ** 62))::HUGEINT", NULL, &v, &err), 0);
    assert_true(v == -((int64_t)1 << 62));
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT NULL::BIGINT", NULL, &v, &err),
                     QK_ENOTFOUND);
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT 'x'", NULL, &v, &err), QK_ENOTFOUND);
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT 1 WHERE false", NULL, &v, &err),
                     QK_ENOTFOUND);
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT 2::HUGEINT ** 70", NULL, &v, &err),
                     QK_ENOTFOUND);
    assert_int_equal(
        qk_engine_scalar_i64(eng, "SELECT 18446744073709551615::UBIGINT", NULL, &v, &err),
        QK_ENOTFOUND);
    assert_int_equal(qk_engine_scalar_i64(eng, "SELECT nope", NULL, &v, &err), QK_ESQL);
}

/* Files rewritten at the same paths (a re-fetched cache object, an overwritten lake file) are
 * read afresh, even within one second and at the same sizes (DuckDB's external file cache, on
 * by default, keys blocks by path): six files rewritten 10 times, only a column name changing,
 * read back together each time. */
static void test_rewritten_files_are_read_afresh(void **state)
{
    char sql[4096], list[2048], want[32];
    (void)state;
    for (int round = 0; round < 10; round++) {
        qk_result *r = NULL;
        qk_err err = {0};
        qk_query_opts o = {.limit = -1};
        size_t n = 0;
        n += (size_t)snprintf(list + n, sizeof list - n, "[");
        for (int f = 0; f < 6; f++) {
            snprintf(sql, sizeof sql,
                     "COPY (SELECT 7 AS c%02d FROM range(1000)) TO '%s/rw-%d.parquet'", round,
                     qk_engine_temp_dir(eng), f);
            assert_int_equal(qk_engine_exec(eng, sql, &err), 0);
            n += (size_t)snprintf(list + n, sizeof list - n, "%s'%s/rw-%d.parquet'", f ? "," : "",
                                  qk_engine_temp_dir(eng), f);
        }
        snprintf(list + n, sizeof list - n, "]");
        snprintf(sql, sizeof sql, "SELECT * FROM read_parquet(%s) LIMIT 1", list);
        if (qk_engine_query(eng, sql, &o, &r, &err) != 0) fail_msg("round %d: %s", round, err.msg);
        snprintf(want, sizeof want, "c%02d", round);
        assert_string_equal(qk_result_column_name(r, 0), want);
        qk_result_destroy(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_returns_rows_and_types),
        cmocka_unit_test(test_scalar_i64_reads_one_integer_or_says_there_is_none),
        cmocka_unit_test(test_rewritten_files_are_read_afresh),
        cmocka_unit_test(test_limit_cuts_rows_and_reports_more),
        cmocka_unit_test(test_limit_wrap_does_not_materialize_unreturned_rows),
        cmocka_unit_test(test_limit_wrap_keeps_order_and_names),
        cmocka_unit_test(test_limit_wrap_names_with_own_limit_and_describe),
        cmocka_unit_test(test_error_positions_match_the_users_sql),
        cmocka_unit_test(test_multiple_statements_are_refused),
        cmocka_unit_test(test_sql_errors_carry_duckdb_type),
        cmocka_unit_test(test_sandbox_blocks_files_outside_lake),
        cmocka_unit_test(test_sandbox_blocks_attach_install_load_set),
        cmocka_unit_test(test_sandbox_allows_lake_reads_and_writes),
        cmocka_unit_test(test_timeout_interrupts_query),
        cmocka_unit_test(test_cancel_callback_interrupts_query),
        cmocka_unit_test(test_timeout_interrupts_unwrapped_statements),
        cmocka_unit_test(test_non_select_statements_run),
        cmocka_unit_test(test_warm_is_false_only_first),
        cmocka_unit_test(test_open_missing_lake_fails_clearly),
        cmocka_unit_test(test_sql_trimmed_len_skips_comments_and_semicolons),
        cmocka_unit_test(test_relative_form_of_lake),
        cmocka_unit_test(test_cancel_before_execution_starts),
        cmocka_unit_test(test_relative_paths_inside_lake_are_allowed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
