/* SPDX-License-Identifier: MIT */
/*
 * test_server_request.c: request bodies of POST /invoke and POST /query (src/server/request.c)
 * and the mapping of failures to HTTP statuses (handlers.c). Every rejection is QK_EINVAL with
 * errorType "BadRequest" and a message that names what was wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lake/invoke.h"
#include "server/server_int.h"

#define MAX_LIMIT 1000000

static int parse_invoke(const char *body, qk_invoke_req *out, qk_err *err)
{
    static qk_arena a;
    qk_arena_free(&a);
    qk_arena_init(&a, 1 << 20);
    qk_err_clear(err);
    return qk_invoke_parse(body, strlen(body), MAX_LIMIT, &a, out, err);
}

static int parse_query(const char *body, qk_query_req *out, qk_err *err)
{
    static qk_arena a;
    qk_arena_free(&a);
    qk_arena_init(&a, 1 << 20);
    qk_err_clear(err);
    return qk_req_parse_query(body, strlen(body), MAX_LIMIT, &a, out, err);
}

static void assert_bad(int rc, const qk_err *err, const char *needle)
{
    assert_int_equal(rc, QK_EINVAL);
    assert_string_equal(err->type, "BadRequest");
    if (!strstr(err->msg, needle)) fail_msg("message '%s' lacks '%s'", err->msg, needle);
}

static void test_invoke_accepts_q_and_limit(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_invoke("{\"q\":\"SELECT 1\",\"limit\":5}", &r, &err), 0);
    assert_string_equal(r.q, "SELECT 1");
    assert_int_equal(r.limit, 5);
}

static void test_invoke_defaults_limit_to_20(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_invoke("{\"q\":\"SELECT 1\"}", &r, &err), 0);
    assert_int_equal(r.limit, 20);
    assert_int_equal(parse_invoke("{\"q\":\"SELECT 1\",\"limit\":null}", &r, &err), 0);
    assert_int_equal(r.limit, 20);
}

static void test_invoke_missing_or_null_q_means_no_query(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_invoke("{}", &r, &err), 0);
    assert_null(r.q);
    assert_int_equal(parse_invoke("{\"q\":null,\"limit\":3}", &r, &err), 0);
    assert_null(r.q);
}

static void test_invoke_ignores_unknown_fields(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_invoke("{\"q\":\"SELECT 2\",\"extra\":{\"a\":[1,2]},\"n\":1}", &r, &err),
                     0);
    assert_string_equal(r.q, "SELECT 2");
}

static void test_malformed_json_is_bad_request(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_invoke("{\"q\":", &r, &err), &err, "invalid JSON");
    assert_bad(parse_invoke("{\"q\":\"SELECT 1\"} trailing", &r, &err), &err, "invalid JSON");
    assert_bad(parse_invoke("", &r, &err), &err, "empty request body");
    assert_bad(parse_invoke("{'q':'x'}", &r, &err), &err, "invalid JSON");
}

static void test_body_that_is_not_an_object_is_bad_request(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_invoke("[1,2]", &r, &err), &err, "JSON object");
    assert_bad(parse_invoke("\"SELECT 1\"", &r, &err), &err, "JSON object");
    assert_bad(parse_invoke("42", &r, &err), &err, "JSON object");
    assert_bad(parse_invoke("null", &r, &err), &err, "JSON object");
}

static void test_q_must_be_a_string(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_invoke("{\"q\":1}", &r, &err), &err, "\"q\" must be a string");
    assert_bad(parse_invoke("{\"q\":[\"SELECT 1\"]}", &r, &err), &err, "\"q\"");
    assert_bad(parse_invoke("{\"q\":true}", &r, &err), &err, "\"q\"");
}

static void test_limit_must_be_an_integer_in_range(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_invoke("{\"q\":\"x\",\"limit\":-1}", &r, &err), &err, "between 0 and 1000000");
    assert_bad(parse_invoke("{\"q\":\"x\",\"limit\":1000001}", &r, &err), &err, "\"limit\"");
    assert_bad(parse_invoke("{\"q\":\"x\",\"limit\":1.5}", &r, &err), &err, "integer");
    assert_bad(parse_invoke("{\"q\":\"x\",\"limit\":\"10\"}", &r, &err), &err, "integer");
    assert_bad(parse_invoke("{\"q\":\"x\",\"limit\":99999999999999999999999}", &r, &err), &err,
               "invalid JSON");
    assert_int_equal(parse_invoke("{\"q\":\"x\",\"limit\":0}", &r, &err), 0);
    assert_int_equal(r.limit, 0);
    assert_int_equal(parse_invoke("{\"q\":\"x\",\"limit\":1000000}", &r, &err), 0);
}

static void test_deeply_nested_json_is_refused_not_crashing(void **state)
{
    qk_invoke_req r;
    qk_err err;
    size_t depth = 100000;
    char *s = malloc(2 * depth + 16);
    (void)state;
    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    assert_bad(parse_invoke(s, &r, &err), &err, "invalid JSON");
    free(s);
}

static void test_nul_inside_a_string_is_refused(void **state)
{
    qk_invoke_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_invoke("{\"q\":\"SELECT 1\\u0000; DROP\"}", &r, &err), &err, "invalid JSON");
}

static void test_query_needs_sql(void **state)
{
    qk_query_req r;
    qk_err err;
    (void)state;
    assert_bad(parse_query("{}", &r, &err), &err, "missing \"sql\"");
    assert_bad(parse_query("{\"sql\":5}", &r, &err), &err, "\"sql\" must be a string");
}

static void test_query_defaults(void **state)
{
    qk_query_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_query("{\"sql\":\"SELECT 1\"}", &r, &err), 0);
    assert_string_equal(r.sql, "SELECT 1");
    assert_int_equal(r.limit, 100);
    assert_false(r.has_format);
    assert_int_equal(r.width, 120);
}

static void test_query_format_and_width(void **state)
{
    qk_query_req r;
    qk_err err;
    (void)state;
    assert_int_equal(parse_query("{\"sql\":\"x\",\"format\":\"CSV\",\"width\":80}", &r, &err), 0);
    assert_true(r.has_format);
    assert_int_equal(r.format, QK_FMT_CSV);
    assert_int_equal(r.width, 80);
    assert_bad(parse_query("{\"sql\":\"x\",\"format\":\"xml\"}", &r, &err), &err, "\"format\"");
    assert_bad(parse_query("{\"sql\":\"x\",\"format\":1}", &r, &err), &err, "\"format\"");
    assert_bad(parse_query("{\"sql\":\"x\",\"width\":5}", &r, &err), &err, "\"width\"");
}

static void test_accept_header_picks_first_known_type(void **state)
{
    qk_format f = QK_FMT_JSON;
    (void)state;
    assert_true(qk_req_accept_format("text/csv", &f));
    assert_int_equal(f, QK_FMT_CSV);
    assert_true(qk_req_accept_format("text/html, application/x-ndjson;q=0.9", &f));
    assert_int_equal(f, QK_FMT_NDJSON);
    assert_true(qk_req_accept_format("TEXT/PLAIN; charset=utf-8", &f));
    assert_int_equal(f, QK_FMT_TABLE);
    assert_true(qk_req_accept_format("text/csv;q=0, application/json", &f));
    assert_int_equal(f, QK_FMT_JSON);
    f = QK_FMT_CSV;
    assert_false(qk_req_accept_format("*/*", &f));
    assert_false(qk_req_accept_format("", &f));
    assert_int_equal(f, QK_FMT_CSV);
}

static void test_errors_map_to_documented_statuses(void **state)
{
    qk_err e = {0};
    (void)state;
    qk_errtf(&e, QK_EINVAL, "BadRequest", "x");
    assert_int_equal(qk_status_for_error(&e), 400);
    qk_errtf(&e, QK_ESQL, "ParserException", "x");
    assert_int_equal(qk_status_for_error(&e), 400);
    qk_errtf(&e, QK_EDENIED, "PermissionException", "x");
    assert_int_equal(qk_status_for_error(&e), 400);
    qk_errtf(&e, QK_ETIMEOUT, "Timeout", "x");
    assert_int_equal(qk_status_for_error(&e), 504);
    qk_errtf(&e, QK_EBUSY, "TooManyRequests", "x");
    assert_int_equal(qk_status_for_error(&e), 429);
    qk_errtf(&e, QK_ECANCELED, "Canceled", "x");
    assert_int_equal(qk_status_for_error(&e), 499);
    qk_errtf(&e, QK_ESQL, "InternalException", "x");
    assert_int_equal(qk_status_for_error(&e), 500);
    qk_errf(&e, QK_ENOMEM, "x");
    assert_int_equal(qk_status_for_error(&e), 500);
}

static void test_error_reply_is_json_with_message_and_type(void **state)
{
    qk_reply r;
    (void)state;
    qk_reply_init(&r, 16);
    qk_reply_error(&r, 400, "BadRequest", "bad \"q\"\n here");
    assert_int_equal(r.status, 400);
    assert_string_equal(
        qk_buf_cstr(&r.body),
        "{\"errorMessage\":\"bad \\\"q\\\"\\n here\",\"errorType\":\"BadRequest\"}");
    assert_string_equal(r.error_type, "BadRequest");
    qk_reply_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invoke_accepts_q_and_limit),
        cmocka_unit_test(test_invoke_defaults_limit_to_20),
        cmocka_unit_test(test_invoke_missing_or_null_q_means_no_query),
        cmocka_unit_test(test_invoke_ignores_unknown_fields),
        cmocka_unit_test(test_malformed_json_is_bad_request),
        cmocka_unit_test(test_body_that_is_not_an_object_is_bad_request),
        cmocka_unit_test(test_q_must_be_a_string),
        cmocka_unit_test(test_limit_must_be_an_integer_in_range),
        cmocka_unit_test(test_deeply_nested_json_is_refused_not_crashing),
        cmocka_unit_test(test_nul_inside_a_string_is_refused),
        cmocka_unit_test(test_query_needs_sql),
        cmocka_unit_test(test_query_defaults),
        cmocka_unit_test(test_query_format_and_width),
        cmocka_unit_test(test_accept_header_picks_first_known_type),
        cmocka_unit_test(test_errors_map_to_documented_statuses),
        cmocka_unit_test(test_error_reply_is_json_with_message_and_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
