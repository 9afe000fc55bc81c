/* SPDX-License-Identifier: MIT */
/*
 * test_lake_invoke.c: the seed's invoke contract (src/lake/invoke.c), shared by POST /invoke
 * and the Lambda runtime: parsing {"q","limit"} (including hostile input), the response
 * envelope, the byte cap, errors in the {"errorMessage","errorType"} shape, and queries that
 * go through the lake (a table name of a small local lake). Responses are checked by parsing
 * them back with jansson.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lake/invoke.h"
#include "unit_engine.h"

#define MAX_LIMIT 1000000

static char dir[] = "/tmp/qk-test-invoke-XXXXXX";
static char lake[256];
static qk_engine *eng;

static int setup(void **state)
{
    qk_err err = {0};
    char path[300], sql[1024];
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(lake, sizeof lake, "%s/lake", dir);
    snprintf(path, sizeof path, "%s/dataset", lake);
    if (qk_mkdirs(path, &err) != 0 || qk_test_engine_open(dir, false, &eng) != 0) return -1;
    snprintf(sql, sizeof sql,
             "COPY (SELECT range AS i, range %% 3 AS g FROM range(10)) TO "
             "'%s/dataset/small.parquet'",
             lake);
    if (qk_test_exec(eng, sql) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return qk_test_engine_done(eng, dir);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int parse(const char *body, qk_arena *a, qk_invoke_req *r, qk_err *err)
{
    qk_err_clear(err);
    return qk_invoke_parse(body, strlen(body), MAX_LIMIT, a, r, err);
}

static void assert_bad(const char *body, const char *needle)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(parse(body, &a, &r, &err), QK_EINVAL);
    assert_string_equal(err.type, "BadRequest");
    if (!strstr(err.msg, needle)) fail_msg("'%s' lacks '%s'", err.msg, needle);
    qk_arena_free(&a);
}

/* Run a request on e and parse the body it writes (caller json_decref). */
static json_t *run_on(qk_engine *e, const char *q, int64_t limit, const qk_invoke_opts *o,
                      qk_invoke_stats *st, int *rc, qk_err *err)
{
    qk_invoke_req req = {q, limit};
    qk_buf out;
    json_error_t je;
    json_t *j;
    qk_buf_init(&out, o && o->max_response ? o->max_response : (size_t)6 << 20);
    qk_err_clear(err);
    *rc = qk_invoke_run(e, &req, o, &out, st, err);
    j = json_loadb(out.data ? out.data : "", out.len, 0, &je);
    if (!j) fail_msg("not JSON (%s): %.200s", je.text, qk_buf_cstr(&out));
    qk_buf_free(&out);
    return j;
}

static json_t *run_ok(const char *q, int64_t limit, const qk_invoke_opts *o, qk_invoke_stats *st)
{
    qk_err err;
    int rc;
    json_t *j = run_on(eng, q, limit, o, st, &rc, &err);
    if (rc) fail_msg("%s: %s", q, err.msg);
    return j;
}

static json_t *meta(json_t *j, const char *key)
{
    return json_object_get(json_object_get(j, "metadata"), key);
}

static json_t *records(json_t *j)
{
    return json_object_get(json_object_get(j, "data"), "records");
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void test_parse_accepts_q_and_limit(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err;
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(parse("{\"q\":\"SELECT 1\",\"limit\":5}", &a, &r, &err), 0);
    assert_string_equal(r.q, "SELECT 1");
    assert_int_equal(r.limit, 5);
    qk_arena_free(&a);
}

static void test_parse_limit_defaults_to_20_or_max_limit(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err = {0};
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(parse("{\"q\":\"SELECT 1\"}", &a, &r, &err), 0);
    assert_int_equal(r.limit, QK_INVOKE_DEFAULT_LIMIT);
    assert_int_equal(parse("{\"q\":\"SELECT 1\",\"limit\":null}", &a, &r, &err), 0);
    assert_int_equal(r.limit, 20);
    assert_int_equal(qk_invoke_parse("{}", 2, 7, &a, &r, &err), 0);
    assert_int_equal(r.limit, 7);
    qk_arena_free(&a);
}

static void test_parse_missing_null_or_empty_q_means_no_query(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err;
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(parse("{}", &a, &r, &err), 0);
    assert_null(r.q);
    assert_int_equal(parse("{\"q\":null,\"limit\":3}", &a, &r, &err), 0);
    assert_null(r.q);
    assert_int_equal(parse("{\"q\":\"\"}", &a, &r, &err), 0);
    assert_string_equal(r.q, "");
    qk_arena_free(&a);
}

static void test_parse_ignores_unknown_fields_and_last_duplicate_wins(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err;
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(parse("{\"x\":{\"a\":[1,{}]},\"q\":\"SELECT 2\",\"task\":null}", &a, &r, &err),
                     0);
    assert_string_equal(r.q, "SELECT 2");
    assert_int_equal(parse("{\"q\":\"SELECT 1\",\"q\":\"SELECT 3\"}", &a, &r, &err), 0);
    assert_string_equal(r.q, "SELECT 3");
    qk_arena_free(&a);
}

static void test_parse_refuses_bodies_that_are_not_one_json_object(void **state)
{
    (void)state;
    assert_bad("", "empty request body");
    assert_bad("{\"q\":", "invalid JSON");
    assert_bad("{\"q\":\"SELECT 1\"} trailing", "invalid JSON");
    assert_bad("{'q':'x'}", "invalid JSON");
    assert_bad("[1,2]", "must be a JSON object");
    assert_bad("\"SELECT 1\"", "must be a JSON object");
    assert_bad("42", "must be a JSON object");
    assert_bad("null", "must be a JSON object");
    assert_bad("true", "must be a JSON object");
}

static void test_parse_null_body_is_empty(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err = {0};
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(qk_invoke_parse(NULL, 10, MAX_LIMIT, &a, &r, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "empty request body"));
    qk_arena_free(&a);
}

static void test_parse_refuses_q_of_the_wrong_type(void **state)
{
    (void)state;
    assert_bad("{\"q\":1}", "\"q\" must be a string");
    assert_bad("{\"q\":[\"SELECT 1\"]}", "\"q\" must be a string");
    assert_bad("{\"q\":{\"sql\":\"SELECT 1\"}}", "\"q\" must be a string");
    assert_bad("{\"q\":true}", "\"q\" must be a string");
}

static void test_parse_refuses_limits_out_of_range_or_not_integers(void **state)
{
    (void)state;
    assert_bad("{\"q\":\"x\",\"limit\":-1}", "between 0 and 1000000, got -1");
    assert_bad("{\"q\":\"x\",\"limit\":1000001}", "\"limit\" must be between");
    assert_bad("{\"q\":\"x\",\"limit\":9223372036854775807}", "\"limit\" must be between");
    assert_bad("{\"q\":\"x\",\"limit\":-9223372036854775808}", "\"limit\" must be between");
    assert_bad("{\"q\":\"x\",\"limit\":99999999999999999999999}", "invalid JSON");
    assert_bad("{\"q\":\"x\",\"limit\":1.5}", "\"limit\" must be an integer");
    assert_bad("{\"q\":\"x\",\"limit\":1e3}", "\"limit\" must be an integer");
    assert_bad("{\"q\":\"x\",\"limit\":\"20\"}", "\"limit\" must be an integer");
    assert_bad("{\"q\":\"x\",\"limit\":[20]}", "\"limit\" must be an integer");
}

static void test_parse_refuses_deep_nesting(void **state)
{
    size_t depth = 100000;
    char *body = malloc(2 * depth + 32);
    (void)state;
    assert_non_null(body);
    memcpy(body, "{\"x\":", 5);
    memset(body + 5, '[', depth);
    memset(body + 5 + depth, ']', depth);
    memcpy(body + 5 + 2 * depth, "}", 2);
    assert_bad(body, "invalid JSON");
    free(body);
}

static void test_parse_refuses_nul_and_invalid_utf8(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err;
    static const char nul[] = "{\"q\":\"SELECT 1\\u0000; DROP\"}";
    static const char latin1[] = "{\"q\":\"SELECT '\xe9'\"}";
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(qk_invoke_parse(nul, strlen(nul), MAX_LIMIT, &a, &r, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "invalid JSON"));
    assert_int_equal(qk_invoke_parse(latin1, strlen(latin1), MAX_LIMIT, &a, &r, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "invalid JSON"));
    /* An embedded NUL byte in the body itself ends nothing early: the length is what counts. */
    assert_int_equal(qk_invoke_parse("{}\0{", 4, MAX_LIMIT, &a, &r, &err), QK_EINVAL);
    qk_arena_free(&a);
}

static void test_parse_q_larger_than_the_arena_is_payload_too_large(void **state)
{
    qk_arena a;
    qk_invoke_req r;
    qk_err err = {0};
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 20);
    qk_buf_adds(&b, "{\"q\":\"");
    for (int i = 0; i < 10000; i++)
        qk_buf_adds(&b, "SELECT 1 ");
    qk_buf_adds(&b, "\"}");
    qk_arena_init(&a, 4096);
    assert_int_equal(qk_invoke_parse(b.data, b.len, MAX_LIMIT, &a, &r, &err), QK_ENOMEM);
    assert_string_equal(err.type, "PayloadTooLarge");
    qk_arena_free(&a);
    qk_buf_free(&b);
}

/* ---- running ----------------------------------------------------------------------------- */

static void test_run_writes_the_seed_envelope(void **state)
{
    qk_invoke_stats st;
    qk_invoke_opts o = {0};
    json_t *j, *m;
    const char *keys[] = {"epochMs", "eventId", "query", "timeMs", "warm"};
    (void)state;
    o.event_id = "11111111-2222-4333-8444-555555555555";
    j = run_ok("SELECT 42 AS answer, NULL AS nothing, 'x' AS s", 20, &o, &st);
    assert_int_equal(json_object_size(j), 2);
    m = json_object_get(j, "metadata");
    assert_int_equal(json_object_size(m), 5);
    for (size_t i = 0; i < 5; i++)
        assert_non_null(json_object_get(m, keys[i]));
    assert_true(json_is_real(meta(j, "timeMs")));
    assert_true(json_is_integer(meta(j, "epochMs")));
    assert_string_equal(json_string_value(meta(j, "eventId")), o.event_id);
    assert_string_equal(json_string_value(meta(j, "query")),
                        "SELECT 42 AS answer, NULL AS nothing, 'x' AS s");
    assert_int_equal(json_object_size(json_object_get(j, "data")), 1);
    assert_int_equal(json_array_size(records(j)), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(records(j), 0), "answer")),
                     42);
    assert_true(json_is_null(json_object_get(json_array_get(records(j), 0), "nothing")));
    assert_int_equal(st.rows, 1);
    assert_true(st.ran);
    assert_false(st.truncated);
    json_decref(j);
}

static void test_run_without_q_answers_no_records(void **state)
{
    qk_invoke_stats st;
    json_t *j;
    (void)state;
    j = run_ok(NULL, 20, NULL, &st);
    assert_true(json_is_null(meta(j, "query")));
    assert_int_equal(json_array_size(records(j)), 0);
    assert_false(st.ran);
    json_decref(j);
    j = run_ok("", 20, NULL, &st);
    assert_string_equal(json_string_value(meta(j, "query")), "");
    assert_int_equal(json_array_size(records(j)), 0);
    assert_false(st.ran);
    json_decref(j);
}

static void test_run_generates_a_uuid4_event_id(void **state)
{
    json_t *a, *b;
    const char *id;
    (void)state;
    a = run_ok("SELECT 1", 20, NULL, NULL);
    b = run_ok("SELECT 1", 20, NULL, NULL);
    id = json_string_value(meta(a, "eventId"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    assert_string_not_equal(id, json_string_value(meta(b, "eventId")));
    json_decref(a);
    json_decref(b);
}

static void test_run_warm_is_false_only_for_the_first_query_of_an_engine(void **state)
{
    qk_engine *fresh = NULL;
    qk_err err;
    int rc;
    json_t *j;
    (void)state;
    assert_int_equal(qk_test_engine_open(dir, false, &fresh), 0);
    j = run_on(fresh, NULL, 20, NULL, NULL, &rc, &err);
    assert_false(json_boolean_value(meta(j, "warm"))); /* no query yet */
    json_decref(j);
    j = run_on(fresh, "SELECT 1", 20, NULL, NULL, &rc, &err);
    assert_int_equal(rc, 0);
    assert_false(json_boolean_value(meta(j, "warm")));
    json_decref(j);
    j = run_on(fresh, "SELECT 1", 20, NULL, NULL, &rc, &err);
    assert_true(json_boolean_value(meta(j, "warm")));
    json_decref(j);
    j = run_on(fresh, NULL, 20, NULL, NULL, &rc, &err);
    assert_true(json_boolean_value(meta(j, "warm")));
    json_decref(j);
    qk_engine_close(fresh);
}

static void test_run_applies_the_limit_without_a_truncated_flag(void **state)
{
    qk_invoke_stats st;
    json_t *j;
    (void)state;
    j = run_ok("SELECT * FROM range(100)", 20, NULL, &st);
    assert_int_equal(json_array_size(records(j)), 20);
    assert_null(meta(j, "truncated"));
    assert_false(st.truncated);
    json_decref(j);
    j = run_ok("SELECT * FROM range(100)", 0, NULL, &st);
    assert_int_equal(json_array_size(records(j)), 0);
    json_decref(j);
}

static void test_run_byte_cap_cuts_rows_and_flags_truncated(void **state)
{
    qk_invoke_opts o = {0};
    qk_invoke_stats st;
    qk_invoke_req req = {"SELECT range AS i, repeat('x', 200) AS pad FROM range(10000)", 10000};
    qk_buf out;
    qk_err err = {0};
    json_t *j;
    (void)state;
    o.max_response = 65536;
    qk_buf_init(&out, o.max_response);
    assert_int_equal(qk_invoke_run(eng, &req, &o, &out, &st, &err), 0);
    assert_true(out.len <= 65536);
    j = json_loadb(out.data, out.len, 0, NULL);
    assert_non_null(j);
    assert_true(json_boolean_value(meta(j, "truncated")));
    assert_true(json_array_size(records(j)) > 0 && json_array_size(records(j)) < 10000);
    assert_int_equal(st.rows, json_array_size(records(j)));
    assert_true(st.truncated);
    json_decref(j);
    qk_buf_free(&out);
}

static void test_run_sql_error_writes_the_error_shape_after_existing_bytes(void **state)
{
    qk_invoke_req req = {"SELEC 1", 20};
    qk_buf out;
    qk_err err = {0};
    const char *p;
    json_t *j;
    (void)state;
    qk_buf_init(&out, 1 << 20);
    qk_buf_adds(&out, "prefix:");
    assert_int_equal(qk_invoke_run(eng, &req, NULL, &out, NULL, &err), QK_ESQL);
    assert_string_equal(err.type, "ParserException");
    p = qk_buf_cstr(&out);
    assert_memory_equal(p, "prefix:", 7);
    j = json_loads(p + 7, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "ParserException");
    assert_non_null(strstr(json_string_value(json_object_get(j, "errorMessage")), "SELEC"));
    json_decref(j);
    qk_buf_free(&out);
}

static void test_run_binder_and_catalog_errors_name_duckdbs_exception(void **state)
{
    qk_err err;
    int rc;
    json_t *j;
    (void)state;
    j = run_on(eng, "SELECT nope FROM range(3)", 20, NULL, NULL, &rc, &err);
    assert_int_equal(rc, QK_ESQL);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "BinderException");
    json_decref(j);
    j = run_on(eng, "SELECT * FROM no_such_table", 20, NULL, NULL, &rc, &err);
    assert_int_equal(rc, QK_ESQL);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "CatalogException");
    json_decref(j);
}

static void test_run_reads_lake_table_names(void **state)
{
    json_t *j;
    (void)state;
    j = run_ok("SELECT count(*) AS n, sum(g) AS s FROM dataset.small", 20, NULL, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(records(j), 0), "n")), 10);
    json_decref(j);
}

static void test_run_timeout_is_reported(void **state)
{
    qk_invoke_opts o = {0};
    qk_err err;
    int rc;
    json_t *j;
    (void)state;
    o.timeout_ms = 100;
    j = run_on(eng, "SELECT sum(hash(range)) FROM range(100000000000)", 20, &o, NULL, &rc, &err);
    assert_int_equal(rc, QK_ETIMEOUT);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "Timeout");
    json_decref(j);
}

/* Fires 50 ms after its first poll, once the query surely runs (an interrupt that reaches
 * DuckDB before the query starts executing is lost: see the engine's watchdog). */
static int cancel_soon(void *ud)
{
    int64_t *first = ud;
    if (!*first) *first = qk_now_ms();
    return qk_now_ms() - *first >= 50;
}

static void test_run_cancel_callback_stops_the_query(void **state)
{
    qk_invoke_opts o = {0};
    int64_t first = 0;
    qk_err err;
    int rc;
    json_t *j;
    (void)state;
    o.cancelled = cancel_soon;
    o.cancel_ud = &first;
    j = run_on(eng, "SELECT sum(hash(range)) FROM range(100000000000)", 20, &o, NULL, &rc, &err);
    assert_int_equal(rc, QK_ECANCELED);
    json_decref(j);
}

static void test_run_envelope_over_its_cap_is_an_error(void **state)
{
    qk_invoke_opts o = {0};
    qk_err err;
    int rc;
    json_t *j;
    (void)state;
    o.max_envelope = 64;
    j = run_on(eng, "SELECT 'a long enough query to overflow the envelope' AS s", 20, &o, NULL, &rc,
               &err);
    assert_int_equal(rc, QK_ETOOBIG);
    assert_non_null(strstr(err.msg, "response envelope"));
    json_decref(j);
}

static void test_error_json_escapes(void **state)
{
    qk_buf b;
    json_t *j;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 4096);
    assert_int_equal(qk_invoke_error_json(&b, "T\"x", "a \"quoted\"\n\x01 \xff message"), 0);
    j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "errorType")), "T\"x");
    json_decref(j);
    qk_buf_truncate(&b, 0);
    qk_errf(&err, QK_ETIMEOUT, "%s", "");
    assert_int_equal(qk_invoke_error_from(&b, &err), 0);
    assert_string_equal(qk_buf_cstr(&b),
                        "{\"errorMessage\":\"timed out\",\"errorType\":\"Timeout\"}");
    qk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts_q_and_limit),
        cmocka_unit_test(test_parse_limit_defaults_to_20_or_max_limit),
        cmocka_unit_test(test_parse_missing_null_or_empty_q_means_no_query),
        cmocka_unit_test(test_parse_ignores_unknown_fields_and_last_duplicate_wins),
        cmocka_unit_test(test_parse_refuses_bodies_that_are_not_one_json_object),
        cmocka_unit_test(test_parse_null_body_is_empty),
        cmocka_unit_test(test_parse_refuses_q_of_the_wrong_type),
        cmocka_unit_test(test_parse_refuses_limits_out_of_range_or_not_integers),
        cmocka_unit_test(test_parse_refuses_deep_nesting),
        cmocka_unit_test(test_parse_refuses_nul_and_invalid_utf8),
        cmocka_unit_test(test_parse_q_larger_than_the_arena_is_payload_too_large),
        cmocka_unit_test(test_run_writes_the_seed_envelope),
        cmocka_unit_test(test_run_without_q_answers_no_records),
        cmocka_unit_test(test_run_generates_a_uuid4_event_id),
        cmocka_unit_test(test_run_warm_is_false_only_for_the_first_query_of_an_engine),
        cmocka_unit_test(test_run_applies_the_limit_without_a_truncated_flag),
        cmocka_unit_test(test_run_byte_cap_cuts_rows_and_flags_truncated),
        cmocka_unit_test(test_run_sql_error_writes_the_error_shape_after_existing_bytes),
        cmocka_unit_test(test_run_binder_and_catalog_errors_name_duckdbs_exception),
        cmocka_unit_test(test_run_reads_lake_table_names),
        cmocka_unit_test(test_run_timeout_is_reported),
        cmocka_unit_test(test_run_cancel_callback_stops_the_query),
        cmocka_unit_test(test_run_envelope_over_its_cap_is_an_error),
        cmocka_unit_test(test_error_json_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
