/* SPDX-License-Identifier: MIT */
/*
 * test_lake_caret.c: the seeds' `=(^)name` spelling (src/lake/caret.c): what is rewritten, what
 * is left alone (strings, identifiers, comments, dollar strings), the probe, and bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lake/resolve.h"

/* The rewrite of sql, or "(none)" when nothing was rewritten. */
static char *rewrite(const char *sql)
{
    char *out = NULL;
    qk_err err = {0};
    assert_int_equal(qk_lake_caret_rewrite(sql, &out, &err), 0);
    return out ? out : strdup("(none)");
}

static void expect(const char *sql, const char *want)
{
    char *got = rewrite(sql);
    if (strcmp(got, want) != 0) fail_msg("%s\n  got:  %s\n  want: %s", sql, got, want);
    free(got);
}

static void test_name_after_caret_becomes_a_table_name(void **state)
{
    (void)state;
    expect("SELECT * FROM =(^)climate", "SELECT * FROM climate");
    expect("SELECT * FROM =(^)silver.trips t JOIN =(^)gold.\"Daily Sums\" USING (d)",
           "SELECT * FROM silver.trips t JOIN gold.\"Daily Sums\" USING (d)");
    expect("CREATE TABLE t AS SELECT * FROM =(^)climate AT (VERSION => 2)",
           "CREATE TABLE t AS SELECT * FROM climate AT (VERSION => 2)");
}

static void test_query_without_caret_is_not_rewritten(void **state)
{
    (void)state;
    expect("SELECT 1", "(none)");
    expect("SELECT '=(^)x', \"=(^)y\" FROM t -- =(^)z", "(none)");
    expect("SELECT $$ =(^)a $$, $q$ =(^)b $q$ /* =(^)c */", "(none)");
}

static void test_caret_inside_strings_is_kept(void **state)
{
    (void)state;
    expect("SELECT 'it''s =(^)x' AS s FROM =(^)t", "SELECT 'it''s =(^)x' AS s FROM t");
}

static void test_quack_is_the_random_probe(void **state)
{
    char *got;
    (void)state;
    got = rewrite("SELECT * FROM =(^)quack");
    assert_non_null(strstr(got, "random()"));
    assert_non_null(strstr(got, "range(10)"));
    free(got);
    expect("SELECT * FROM =(^)quacks", "SELECT * FROM quacks");
}

static void test_caret_without_a_name_is_a_parse_error(void **state)
{
    static const char *const bad[] = {"SELECT * FROM =(^)", "SELECT * FROM =(^) t",
                                      "SELECT * FROM =(^)1abc", "SELECT * FROM =(^)\"open",
                                      "SELECT * FROM =(^)a."};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *out = NULL;
        qk_err err = {0};
        assert_int_equal(qk_lake_caret_rewrite(bad[i], &out, &err), QK_EPARSE);
        assert_null(out);
        assert_non_null(strstr(err.msg, "must be followed by a table name"));
    }
}

static void test_unterminated_quotes_do_not_overrun(void **state)
{
    (void)state;
    expect("SELECT 'open =(^)x", "(none)");
    expect("SELECT /* open =(^)x", "(none)");
    expect("SELECT $t$ open =(^)x", "(none)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_after_caret_becomes_a_table_name),
        cmocka_unit_test(test_query_without_caret_is_not_rewritten),
        cmocka_unit_test(test_caret_inside_strings_is_kept),
        cmocka_unit_test(test_quack_is_the_random_probe),
        cmocka_unit_test(test_caret_without_a_name_is_a_parse_error),
        cmocka_unit_test(test_unterminated_quotes_do_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
