/* SPDX-License-Identifier: MIT */
/*
 * test_dist_coord.c: the coordinator, worker and wire format of quack-reduce (src/dist/task.c,
 * worker.c, coord.c, util.c): base64, task and answer JSON (round trips and hostile input),
 * the Parquet round-trip type rules, partial validation (corrupt, truncated, wrong columns,
 * wrong row count), map tasks run by the worker code, and whole jobs driven through a real
 * in-process `quack serve` (server module) as the worker: results, dead workers, invalid
 * answers retried to an error, cancellation.
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
#include <jansson.h>

#include "dist/coord.h"
#include "dist/dist_int.h"
#include "dist/task.h"
#include "dist/worker.h"
#include "engine/encode.h"
#include "server/server.h"
#include "store/sigv4.h"
#include "unit_engine.h"

static char dir[] = "/tmp/qk-test-dist-XXXXXX";
static char lake[256];
static qk_engine *eng;
static qk_server *srv;
static char worker_url[64];

static int setup(void **state)
{
    qk_server_config c;
    qk_err err = {0};
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(lake, sizeof lake, "%s/lake", dir);
    if (qk_test_engine_open(dir, false, &eng) != 0) return -1;
    qk_log_set_level(QK_LOG_ERROR);
    qk_server_config_defaults(&c);
    c.port = 0;
    if (qk_server_start(eng, &c, &srv, &err) != 0) {
        fprintf(stderr, "server: %s\n", err.msg);
        return -1;
    }
    snprintf(worker_url, sizeof worker_url, "http://127.0.0.1:%d", qk_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_server_stop(srv, 1000);
    qk_engine_close(eng);
    return qk_rmtree(dir, false, NULL) == 0 ? 0 : -1;
}

/* ---- base64 ---------------------------------------------------------------------------------- */

static void test_base64_rfc4648_vectors(void **state)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        qk_buf b, d;
        qk_err err = {0};
        qk_buf_init(&b, 100);
        qk_buf_init(&d, 100);
        assert_int_equal(qk_base64_encode(in[i], strlen(in[i]), &b), 0);
        assert_string_equal(qk_buf_cstr(&b), out[i]);
        assert_int_equal(qk_base64_decode(out[i], strlen(out[i]), &d, &err), 0);
        assert_int_equal(d.len, strlen(in[i]));
        assert_memory_equal(qk_buf_cstr(&d), in[i], d.len);
        qk_buf_free(&b);
        qk_buf_free(&d);
    }
}

static void test_base64_round_trips_every_byte_and_length(void **state)
{
    unsigned char bytes[300];
    (void)state;
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof bytes; n += 7) {
        qk_buf b, d;
        qk_err err = {0};
        qk_buf_init(&b, 1000);
        qk_buf_init(&d, n);
        assert_int_equal(qk_base64_encode(bytes, n, &b), 0);
        assert_int_equal(b.len, (n + 2) / 3 * 4);
        assert_int_equal(qk_base64_decode(b.data ? b.data : "", b.len, &d, &err), 0);
        assert_int_equal(d.len, n);
        if (n) assert_memory_equal(d.data, bytes, n);
        qk_buf_free(&b);
        qk_buf_free(&d);
    }
}

static void test_base64_decode_rejects_non_canonical_input(void **state)
{
    static const char *const bad[] = {"Zg=",  "Zg",   "Z===", "Zg==Zg==", "Zm9v\n",   "Zm 9",
                                      "Zh==", "Zm9=", "=Zm9", "Zm=v",     "Zm9v!A==", "-_AA"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qk_buf d;
        qk_err err = {0};
        qk_buf_init(&d, 100);
        assert_int_equal(qk_base64_decode(bad[i], strlen(bad[i]), &d, &err), QK_EINVAL);
        assert_int_equal(d.len, 0);
        assert_true(err.msg[0] != '\0');
        qk_buf_free(&d);
    }
}

static void test_base64_decode_respects_the_buffer_limit(void **state)
{
    qk_buf d;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&d, 5);
    assert_int_equal(qk_base64_decode("Zm9vYmFy", 8, &d, &err), QK_ETOOBIG);
    assert_int_equal(d.len, 0);
    qk_buf_truncate(&d, 0);
    d.max = 6;
    assert_int_equal(qk_base64_decode("Zm9vYmFy", 8, &d, &err), 0);
    qk_buf_free(&d);
}

/* ---- tasks ------------------------------------------------------------------------------------
 */

#define QID "0b9c6f2e-3d1a-4e5f-8a7b-123456789abc"

static void test_task_round_trips(void **state)
{
    qk_dist_task t = {QID,           7,    2,  "SELECT 'a\"b' AS x\n",
                      1900000000000, true, 11, "s3://b/p/_quack/partials/" QID "/",
                      1234};
    qk_dist_task got;
    qk_buf b;
    qk_arena a;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 1 << 20);
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(qk_dist_task_build(&t, &b, &err), 0);
    assert_true(qk_dist_is_task(b.data, b.len));
    assert_int_equal(qk_dist_task_parse(b.data, b.len, &a, &got, &err), 0);
    assert_string_equal(got.query_id, QID);
    assert_int_equal(got.shard, 7);
    assert_int_equal(got.attempt, 2);
    assert_string_equal(got.sql, t.sql);
    assert_int_equal(got.deadline_ms, t.deadline_ms);
    assert_true(got.whole);
    assert_int_equal(got.limit, 11);
    assert_string_equal(got.spill_uri, t.spill_uri);
    assert_int_equal(got.spill_threshold, 1234);
    qk_buf_free(&b);
    qk_arena_free(&a);
}

static void test_task_optional_fields_default(void **state)
{
    const char *body = "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,"
                       "\"sql\":\"SELECT 1\",\"extra\":[1,2]}";
    qk_dist_task t;
    qk_arena a;
    qk_err err = {0};
    (void)state;
    qk_arena_init(&a, 1 << 20);
    assert_int_equal(qk_dist_task_parse(body, strlen(body), &a, &t, &err), 0);
    assert_false(t.whole);
    assert_int_equal(t.limit, -1);
    assert_int_equal(t.deadline_ms, 0);
    assert_null(t.spill_uri);
    qk_arena_free(&a);
}

static void test_task_parse_rejects_hostile_input(void **state)
{
#define T "\"task\":\"map\","
#define ID "\"queryId\":\"" QID "\","
#define SA "\"shard\":0,\"attempt\":1,"
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"", "invalid JSON"},
        {"[]", "JSON object"},
        {"{\"task\":\"map\"", "invalid JSON"},
        {"{" ID SA "\"sql\":\"SELECT 1\"}", "\"task\""},
        {"{\"task\":7," ID SA "\"sql\":\"SELECT 1\"}", "\"task\""},
        {"{\"task\":\"reduce\"," ID SA "\"sql\":\"SELECT 1\"}", "unknown task"},
        {"{" T "\"queryId\":\"../../etc\"," SA "\"sql\":\"x\"}", "queryId"},
        {"{" T "\"queryId\":7," SA "\"sql\":\"x\"}", "queryId"},
        {"{" T ID "\"shard\":-1,\"attempt\":1,\"sql\":\"x\"}", "shard"},
        {"{" T ID "\"shard\":1e3,\"attempt\":1,\"sql\":\"x\"}", "shard"},
        {"{" T ID "\"shard\":99999999999,\"attempt\":1,\"sql\":\"x\"}", "shard"},
        {"{" T ID "\"shard\":0,\"attempt\":0,\"sql\":\"x\"}", "attempt"},
        {"{" T ID "\"shard\":0,\"sql\":\"x\"}", "attempt"},
        {"{" T ID SA "\"sql\":null}", "sql"},
        {"{" T ID SA "\"sql\":\"  \"}", "empty"},
        {"{" T ID SA "\"sql\":[\"SELECT 1\"]}", "sql"},
        {"{" T ID SA "\"sql\":\"SELECT \\u0000\"}", "invalid JSON"},
        {"{" T ID SA "\"sql\":\"x\",\"deadlineMs\":-5}", "deadlineMs"},
        {"{" T ID SA "\"sql\":\"x\",\"limit\":-2}", "limit"},
        {"{" T ID SA "\"sql\":\"x\",\"whole\":\"yes\"}", "whole"},
        {"{" T ID SA "\"sql\":\"x\",\"spill\":\"s3://b/\"}", "spill"},
        {"{" T ID SA "\"sql\":\"x\",\"spill\":{\"uri\":\"s3://b/p\"}}", "spill.uri"},
        {"{" T ID SA "\"sql\":\"x\",\"spill\":{\"uri\":\"s3://b/\",\"threshold\":-1}}",
         "threshold"},
        {"{" T ID SA "\"sql\":\"x\",\"sql\":\"y\"}", "invalid JSON"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
         "invalid JSON"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qk_dist_task t;
        qk_arena a;
        qk_err err = {0};
        qk_arena_init(&a, 1 << 20);
        int rc = qk_dist_task_parse(cases[i].body, strlen(cases[i].body), &a, &t, &err);
        if (rc != QK_EINVAL || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu (%s): rc %d, message '%s'", i, cases[i].body, rc, err.msg);
        assert_string_equal(err.type, "BadRequest");
        qk_arena_free(&a);
    }
}

static void test_task_parse_refuses_oversized_sql(void **state)
{
    size_t n = QK_DIST_SQL_MAX + 200;
    qk_buf b;
    qk_dist_task t;
    qk_arena a;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, n + 1024);
    qk_buf_adds(&b, "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,"
                    "\"sql\":\"SELECT 1 --");
    while (b.len < n)
        qk_buf_addc(&b, 'x');
    qk_buf_adds(&b, "\"}");
    qk_arena_init(&a, 3 * n);
    assert_int_equal(qk_dist_task_parse(b.data, b.len, &a, &t, &err), QK_ETOOBIG);
    assert_string_equal(err.type, "PayloadTooLarge");
    qk_buf_free(&b);
    qk_arena_free(&a);
}

/* ---- answers ----------------------------------------------------------------------------------
 */

static void fill_answer(qk_dist_answer *a, const char *bytes)
{
    memset(a, 0, sizeof *a);
    memcpy(a->query_id, QID, 37);
    a->shard = 3, a->attempt = 2, a->rows = 10, a->bytes = strlen(bytes), a->exec_ms = 1.5;
    qk_sha256_hex(bytes, strlen(bytes), a->sha256);
}

static void test_answer_inline_round_trips(void **state)
{
    const char *bytes = "PAR1 not really parquet PAR1";
    qk_dist_col cols[2] = {{"a", "HUGEINT", true}, {"b \"q\"", "INTEGER", false}};
    qk_dist_answer a, got;
    qk_buf b;
    qk_arena ar;
    qk_err err = {0};
    (void)state;
    fill_answer(&a, bytes);
    a.cols = cols, a.ncols = 2;
    qk_buf_init(&b, 1 << 20);
    qk_arena_init(&ar, 1 << 20);
    assert_int_equal(qk_dist_answer_build(&a, bytes, &b, &err), 0);
    qk_dist_answer_init(&got, 1 << 20);
    assert_int_equal(qk_dist_answer_parse(b.data, b.len, &ar, &got, &err), 0);
    assert_string_equal(got.query_id, QID);
    assert_int_equal(got.shard, 3);
    assert_int_equal(got.attempt, 2);
    assert_int_equal(got.rows, 10);
    assert_string_equal(got.sha256, a.sha256);
    assert_null(got.key);
    assert_int_equal(got.parquet.len, strlen(bytes));
    assert_memory_equal(got.parquet.data, bytes, strlen(bytes));
    assert_int_equal(got.ncols, 2);
    assert_string_equal(got.cols[1].name, "b \"q\"");
    assert_true(got.cols[0].as_varchar);
    qk_dist_answer_free(&got);
    qk_buf_free(&b);
    qk_arena_free(&ar);
}

static void test_answer_spilled_round_trips(void **state)
{
    qk_dist_answer a, got;
    qk_buf b;
    qk_arena ar;
    qk_err err = {0};
    (void)state;
    fill_answer(&a, "xyz");
    a.key = "s3://b/_quack/partials/" QID "/3-2.parquet";
    qk_buf_init(&b, 1 << 20);
    qk_arena_init(&ar, 1 << 20);
    assert_int_equal(qk_dist_answer_build(&a, NULL, &b, &err), 0);
    qk_dist_answer_init(&got, 1 << 20);
    assert_int_equal(qk_dist_answer_parse(b.data, b.len, &ar, &got, &err), 0);
    assert_string_equal(got.key, a.key);
    assert_int_equal(got.bytes, 3);
    assert_int_equal(got.parquet.len, 0);
    qk_dist_answer_free(&got);
    qk_buf_free(&b);
    qk_arena_free(&ar);
}

static void test_answer_build_fails_cleanly_past_the_buffer_cap(void **state)
{
    char bytes[3000];
    qk_dist_answer a;
    qk_buf b;
    qk_err err = {0};
    (void)state;
    memset(bytes, 'x', sizeof bytes - 1);
    bytes[sizeof bytes - 1] = '\0';
    fill_answer(&a, bytes);
    qk_buf_init(&b, 1000);
    assert_int_equal(qk_dist_answer_build(&a, bytes, &b, &err), QK_ETOOBIG);
    assert_string_equal(err.type, "PayloadTooLarge");
    assert_int_equal(b.len, 0);
    qk_buf_free(&b);
}

#define SHA "\"sha256\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""
#define HEAD "{\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,\"rows\":0,"

static void test_answer_parse_rejects_hostile_input(void **state)
{
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"not json", "invalid JSON"},
        {"42", "JSON object"},
        {HEAD "\"bytes\":0," SHA "}", "exactly one"},
        {HEAD "\"bytes\":0," SHA ",\"parquet\":\"\",\"key\":\"s3://x\"}", "exactly one"},
        {HEAD "\"bytes\":3," SHA ",\"parquet\":\"\"}", "holds 0 bytes"},
        {HEAD "\"bytes\":1," SHA ",\"parquet\":\"Zg=\"}", "base64"},
        {HEAD "\"bytes\":1," SHA ",\"parquet\":7}", "base64 string"},
        {HEAD "\"bytes\":0,\"sha256\":\"E3B0\",\"parquet\":\"\"}", "sha256"},
        {HEAD "\"bytes\":-1," SHA ",\"parquet\":\"\"}", "bytes"},
        {"{\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,\"rows\":-3,\"bytes\":0," SHA
         ",\"parquet\":\"\"}",
         "rows"},
        {"{\"queryId\":\"nope\",\"shard\":0,\"attempt\":1,\"rows\":0,\"bytes\":0," SHA
         ",\"parquet\":\"\"}",
         "queryId"},
        {HEAD "\"bytes\":0," SHA ",\"parquet\":\"\",\"columns\":[]}", "columns"},
        {HEAD "\"bytes\":0," SHA ",\"parquet\":\"\",\"columns\":[{\"name\":1}]}", "name"},
        {HEAD "\"bytes\":0," SHA ",\"parquet\":\"\",\"execMs\":\"fast\"}", "execMs"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qk_dist_answer a;
        qk_arena ar;
        qk_err err = {0};
        qk_arena_init(&ar, 1 << 20);
        qk_dist_answer_init(&a, 1 << 20);
        int rc = qk_dist_answer_parse(cases[i].body, strlen(cases[i].body), &ar, &a, &err);
        if (rc != QK_EINVAL || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu (%s): rc %d, message '%s'", i, cases[i].body, rc, err.msg);
        assert_string_equal(err.type, "InvalidAnswer");
        qk_dist_answer_free(&a);
        qk_arena_free(&ar);
    }
}

static void test_answer_parse_bounds_inline_bytes(void **state)
{
    qk_buf b;
    qk_dist_answer a;
    qk_arena ar;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 1 << 20);
    qk_buf_adds(&b, HEAD "\"bytes\":3000," SHA ",\"parquet\":\"");
    for (int i = 0; i < 1000; i++)
        qk_buf_adds(&b, "AAAA");
    qk_buf_adds(&b, "\"}");
    qk_arena_init(&ar, 1 << 20);
    qk_dist_answer_init(&a, 100);
    assert_int_equal(qk_dist_answer_parse(b.data, b.len, &ar, &a, &err), QK_ETOOBIG);
    qk_dist_answer_free(&a);
    qk_arena_free(&ar);
    qk_buf_free(&b);
}

static void test_answer_parse_maps_worker_errors(void **state)
{
    static const struct {
        const char *type;
        int code;
    } cases[] = {{"BinderException", QK_ESQL},
                 {"Timeout", QK_ETIMEOUT},
                 {"Canceled", QK_ECANCELED},
                 {"BadRequest", QK_EHTTP}};
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        char body[256];
        qk_dist_answer a;
        qk_arena ar;
        qk_err err = {0};
        snprintf(body, sizeof body, "{\"errorMessage\":\"it broke\",\"errorType\":\"%s\"}",
                 cases[i].type);
        qk_arena_init(&ar, 1 << 20);
        qk_dist_answer_init(&a, 100);
        assert_int_equal(qk_dist_answer_parse(body, strlen(body), &ar, &a, &err), cases[i].code);
        assert_string_equal(err.type, cases[i].type);
        assert_string_equal(err.msg, "it broke");
        qk_dist_answer_free(&a);
        qk_arena_free(&ar);
    }
}

/* ---- types -------------------------------------------------------------------------------------
 */

static void test_type_rules(void **state)
{
    static const char *const widen[] = {"HUGEINT",
                                        "UHUGEINT",
                                        "TIMESTAMP_S",
                                        "TIMESTAMP_MS",
                                        "ENUM('a', 'b')",
                                        "BIT",
                                        "VARINT",
                                        "INTEGER[3]",
                                        "STRUCT(a HUGEINT)",
                                        "MAP(VARCHAR, HUGEINT)",
                                        "UNION(a INTEGER, b VARCHAR)"};
    static const char *const keep[] = {"INTEGER",
                                       "BIGINT[]",
                                       "DECIMAL(18,3)",
                                       "VARCHAR",
                                       "TIMESTAMP WITH TIME ZONE",
                                       "TIMESTAMP_NS",
                                       "STRUCT(\"hugeint\" INTEGER)",
                                       "ENUM_LIKE"};
    static const char *const cast_ok[] = {"HUGEINT", "INTEGER[2]", "DECIMAL(5,2)", "BIT",
                                          "TIMESTAMP_S[][3]"};
    static const char *const cast_no[] = {
        "HUGEINT) FROM x --", "ENUM('a')", "VARCHAR[2]", "STRUCT(a HUGEINT)",
        "DECIMAL(5,2) x",     "HUGEINT[",  "INTEGERX",   ""};
    (void)state;
    for (size_t i = 0; i < sizeof widen / sizeof *widen; i++)
        if (!qk_dist_type_widens(widen[i])) fail_msg("%s should widen", widen[i]);
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (qk_dist_type_widens(keep[i])) fail_msg("%s should not widen", keep[i]);
    for (size_t i = 0; i < sizeof cast_ok / sizeof *cast_ok; i++)
        if (!qk_dist_type_castable(cast_ok[i])) fail_msg("%s should be castable", cast_ok[i]);
    for (size_t i = 0; i < sizeof cast_no / sizeof *cast_no; i++)
        if (qk_dist_type_castable(cast_no[i])) fail_msg("%s should not be castable", cast_no[i]);
}

/* The text of the first cell of sql (caller frees), or NULL. */
static char *first_text(const char *sql)
{
    qk_result *r = NULL;
    qk_err err = {0};
    qk_query_opts o = {.limit = 1};
    duckdb_data_chunk ch;
    char *out = NULL;
    if (qk_engine_query(eng, sql, &o, &r, &err) != 0) return NULL;
    if ((ch = qk_result_next_chunk(r)) != NULL) {
        duckdb_string_t *s =
            (duckdb_string_t *)duckdb_vector_get_data(duckdb_data_chunk_get_vector(ch, 0));
        out = strndup(duckdb_string_t_data(&s[0]), duckdb_string_t_length(s[0]));
        duckdb_destroy_data_chunk(&ch);
    }
    qk_result_destroy(r);
    return out;
}

/* DuckDB itself: the types the rule calls widening do not come back from Parquet exactly (the
 * type changes, the value changes, or Parquet cannot hold it), the others do. If a DuckDB
 * upgrade changes this, this test says so. */
static void test_type_rules_match_duckdb_parquet(void **state)
{
    static const char *const exprs[] = {"1::HUGEINT",
                                        "1::UHUGEINT",
                                        "TIMESTAMP_S '2020-01-01'",
                                        "'a'::ENUM('a')",
                                        "[1,2]::INTEGER[2]",
                                        "{'a': 1::HUGEINT}",
                                        "1::INTEGER",
                                        "[1]::BIGINT[]",
                                        "1.5::DECIMAL(18,3)",
                                        "'x'",
                                        "TIMESTAMP_NS '2020-01-01'",
                                        "INTERVAL 1 DAY + INTERVAL 1 MICROSECOND",
                                        "'1'::BIT",
                                        "{'k': [1]}",
                                        "uuid()"};
    (void)state;
    for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++) {
        char sql[512], path[300], *v1 = NULL, *v2 = NULL;
        qk_arena a;
        qk_dist_col *before, *after;
        size_t n1, n2;
        qk_err err = {0};
        qk_arena_init(&a, 0);
        snprintf(path, sizeof path, "%s/t%zu.parquet", qk_engine_temp_dir(eng), i);
        snprintf(sql, sizeof sql, "SELECT %s AS c", exprs[i]);
        assert_int_equal(qk_dist_describe(eng, sql, NULL, &a, &before, &n1, &err), 0);
        snprintf(sql, sizeof sql, "COPY (SELECT %s AS c) TO '%s' (FORMAT parquet)", exprs[i], path);
        assert_int_equal(qk_engine_exec(eng, sql, &err), 0);
        snprintf(sql, sizeof sql, "SELECT * FROM read_parquet('%s')", path);
        assert_int_equal(qk_dist_describe(eng, sql, NULL, &a, &after, &n2, &err), 0);
        if (strcmp(exprs[i], "uuid()") != 0) { /* a new uuid per call */
            snprintf(sql, sizeof sql, "SELECT (%s)::VARCHAR", exprs[i]);
            v1 = first_text(sql);
            snprintf(sql, sizeof sql, "SELECT c::VARCHAR FROM read_parquet('%s')", path);
            v2 = first_text(sql);
            assert_non_null(v1);
            assert_non_null(v2);
        }
        bool changed = strcmp(before[0].type, after[0].type) != 0 || (v1 && strcmp(v1, v2) != 0);
        if (changed != qk_dist_type_widens(before[0].type))
            fail_msg("%s: %s -> %s (%s -> %s), rule says %s", exprs[i], before[0].type,
                     after[0].type, v1 ? v1 : "", v2 ? v2 : "",
                     qk_dist_type_widens(before[0].type) ? "widens" : "keeps");
        free(v1);
        free(v2);
        unlink(path);
        qk_arena_free(&a);
    }
    /* Parquet holds no negative interval at all */
    {
        qk_err err = {0};
        char sql[512];
        snprintf(sql, sizeof sql, "COPY (SELECT -INTERVAL 1 SECOND AS c) TO '%s/neg.parquet'",
                 qk_engine_temp_dir(eng));
        assert_int_not_equal(qk_engine_exec(eng, sql, &err), 0);
        assert_true(qk_dist_type_widens("INTERVAL"));
    }
}

/* ---- partial validation ------------------------------------------------------------------------
 */

static char *make_parquet(const char *name, const char *select)
{
    static char path[512];
    char sql[1024];
    qk_err err = {0};
    snprintf(path, sizeof path, "%s/%s", qk_engine_temp_dir(eng), name);
    snprintf(sql, sizeof sql, "COPY (%s) TO '%s' (FORMAT parquet)", select, path);
    if (qk_engine_exec(eng, sql, &err) != 0) fail_msg("%s", err.msg);
    return path;
}

static const qk_dist_col good_cols[] = {{"__k0", "BIGINT", false}, {"__a0", "HUGEINT", true}};

static void test_partial_valid_is_accepted(void **state)
{
    qk_err err = {0};
    const char *p =
        make_parquet("ok.parquet", "SELECT range AS __k0, (range * 2)::HUGEINT::VARCHAR "
                                   "AS __a0 FROM range(100)");
    (void)state;
    assert_int_equal(qk_dist_check_partial(eng, p, good_cols, 2, 100, &err), 0);
    unlink(p);
}

static void test_partial_with_wrong_columns_is_rejected(void **state)
{
    static const qk_dist_col renamed[] = {{"__k0", "BIGINT", false}, {"__a1", "HUGEINT", true}};
    static const qk_dist_col typed[] = {{"__k0", "INTEGER", false}, {"__a0", "HUGEINT", true}};
    static const qk_dist_col widened[] = {{"__k0", "BIGINT", false}, {"__a0", "HUGEINT", false}};
    qk_err err = {0};
    const char *p = make_parquet("cols.parquet", "SELECT range AS __k0, range::VARCHAR AS __a0 "
                                                 "FROM range(5)");
    (void)state;
    assert_int_equal(qk_dist_check_partial(eng, p, renamed, 2, 5, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "'__a0' where '__a1'"));
    assert_int_equal(qk_dist_check_partial(eng, p, typed, 2, 5, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "BIGINT, expected INTEGER"));
    assert_int_equal(qk_dist_check_partial(eng, p, widened, 2, 5, &err), QK_EINVAL);
    assert_int_equal(qk_dist_check_partial(eng, p, good_cols, 1, 5, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "2 columns, expected 1"));
    assert_string_equal(err.type, "InvalidAnswer");
    unlink(p);
}

static void test_partial_with_wrong_row_count_is_rejected(void **state)
{
    qk_err err = {0};
    const char *p = make_parquet("rows.parquet", "SELECT range AS __k0, '1' AS __a0 FROM range(7)");
    (void)state;
    assert_int_equal(qk_dist_check_partial(eng, p, good_cols, 2, 8, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "7 rows"));
    unlink(p);
}

static void rewrite(const char *path, long keep, long flip_at)
{
    FILE *f = fopen(path, "rb");
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (keep >= 0 && (size_t)keep < n) n = (size_t)keep;
    if (flip_at >= 0) buf[n - (size_t)flip_at] ^= 0x5a;
    f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
}

/* Damage a Parquet reader must notice: the closing magic, the footer length (bytes 5-8 from
 * the end; a flip of its second or third byte moves it by 23,040 or 5.9M bytes), truncations.
 * (A flip somewhere inside the footer can land in a field nobody reads, such as created_by,
 * and leave a readable file: in-transit damage of that kind is the SHA-256 check's job.) */
static void test_partial_truncated_or_corrupted_is_rejected(void **state)
{
    static const struct {
        long keep, flip_from_end;
    } damage[] = {{-1, 1}, {-1, 6}, {-1, 7}, {100, -1}, {0, -1}, {4, -1}};
    (void)state;
    for (size_t i = 0; i < sizeof damage / sizeof *damage; i++) {
        qk_err err = {0};
        const char *p = make_parquet("bad.parquet", "SELECT range AS __k0, range::VARCHAR AS __a0 "
                                                    "FROM range(1000)");
        rewrite(p, damage[i].keep, damage[i].flip_from_end);
        int rc = qk_dist_check_partial(eng, p, good_cols, 2, 1000, &err);
        if (rc != QK_EINVAL) fail_msg("damage %zu accepted", i);
        assert_string_equal(err.type, "InvalidAnswer");
        unlink(p);
    }
}

/* ---- the worker --------------------------------------------------------------------------------
 */

static void test_run_map_writes_parquet(void **state)
{
    qk_buf out;
    qk_dist_map_stats st = {0};
    qk_err err = {0};
    (void)state;
    qk_buf_init(&out, 1 << 20);
    assert_int_equal(
        qk_dist_run_map(eng, "SELECT range AS x FROM range(10);", NULL, &out, &st, &err), 0);
    assert_int_equal(st.rows, 10);
    assert_int_equal(st.bytes, out.len);
    assert_true(out.len > 8);
    assert_memory_equal(out.data, "PAR1", 4);
    assert_memory_equal(out.data + out.len - 4, "PAR1", 4);
    qk_buf_free(&out);
}

static void test_run_map_refuses_anything_but_one_select(void **state)
{
    static const char *const bad[] = {"COPY (SELECT 1) TO '/tmp/x.csv'", "SELECT 1; SELECT 2",
                                      "SELECT 1) TO '/tmp/evil.csv' (FORMAT csv) --",
                                      "CREATE TABLE t AS SELECT 1", "ATTACH '/tmp/x.db'"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qk_buf out;
        qk_err err = {0};
        qk_buf_init(&out, 1 << 20);
        if (qk_dist_run_map(eng, bad[i], NULL, &out, NULL, &err) == 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(out.len, 0);
        qk_buf_free(&out);
    }
    assert_int_equal(access("/tmp/evil.csv", F_OK), -1);
}

static int task_answer(const char *body, qk_buf *out, qk_err *err)
{
    qk_buf_init(out, (size_t)6 << 20);
    return qk_dist_handle_task(eng, body, strlen(body), NULL, out, err);
}

static void test_handle_task_whole_reports_exact_columns(void **state)
{
    const char *body = "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,"
                       "\"whole\":true,\"limit\":2,\"sql\":\"SELECT range::HUGEINT AS h, "
                       "range AS h FROM range(5) ORDER BY 1 DESC\"}";
    qk_buf out;
    qk_dist_answer a;
    qk_arena ar;
    qk_err err = {0};
    (void)state;
    assert_int_equal(task_answer(body, &out, &err), 0);
    qk_arena_init(&ar, 0);
    qk_dist_answer_init(&a, 1 << 20);
    assert_int_equal(qk_dist_answer_parse(out.data, out.len, &ar, &a, &err), 0);
    assert_int_equal(a.rows, 2);
    assert_int_equal(a.ncols, 2);
    assert_string_equal(a.cols[0].name, "h");
    assert_string_equal(a.cols[0].type, "HUGEINT");
    assert_true(a.cols[0].as_varchar);
    assert_string_equal(a.cols[1].name, "h_1");
    assert_false(a.cols[1].as_varchar);
    qk_dist_answer_free(&a);
    qk_arena_free(&ar);
    qk_buf_free(&out);
}

static void test_handle_task_past_deadline_is_a_timeout(void **state)
{
    const char *body = "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,"
                       "\"sql\":\"SELECT 1\",\"deadlineMs\":1000}";
    qk_buf out;
    qk_err err = {0};
    (void)state;
    assert_int_equal(task_answer(body, &out, &err), QK_ETIMEOUT);
    assert_string_equal(err.type, "Timeout");
    assert_int_equal(out.len, 0);
    qk_buf_free(&out);
}

static void test_handle_task_never_spills_to_foreign_locations(void **state)
{
    static const char *const uris[] = {"/tmp/_quack/partials/x/", "/etc/", "s3://b/other/",
                                       "file:///tmp/_quack/partials/x/"};
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        char body[512];
        qk_buf out;
        qk_err err = {0};
        snprintf(body, sizeof body,
                 "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":0,\"attempt\":1,"
                 "\"sql\":\"SELECT 1\",\"spill\":{\"uri\":\"%s\",\"threshold\":0}}",
                 uris[i]);
        /* Room for the answer: inline instead of the unusable location. */
        assert_int_equal(task_answer(body, &out, &err), 0);
        assert_non_null(strstr(qk_buf_cstr(&out), "\"parquet\":"));
        qk_buf_free(&out);
        /* No room: an error that says why, and still nothing written. */
        qk_buf_init(&out, 1000);
        assert_int_equal(qk_dist_handle_task(eng, body, strlen(body), NULL, &out, &err),
                         QK_ETOOBIG);
        assert_non_null(strstr(err.msg, "spill location cannot be used"));
        qk_buf_free(&out);
    }
    assert_int_equal(access("/tmp/_quack/partials/x", F_OK), -1);
}

static void test_handle_task_spills_over_the_threshold(void **state)
{
    char body[1024], obj[600];
    qk_buf out;
    qk_dist_answer a;
    qk_arena ar;
    qk_err err = {0};
    (void)state;
    snprintf(body, sizeof body,
             "{\"task\":\"map\",\"queryId\":\"" QID "\",\"shard\":4,\"attempt\":2,"
             "\"sql\":\"SELECT range AS x FROM range(100)\",\"spill\":{\"uri\":"
             "\"%s/_quack/partials/" QID "/\",\"threshold\":10}}",
             qk_engine_lake(eng));
    assert_int_equal(task_answer(body, &out, &err), 0);
    qk_arena_init(&ar, 0);
    qk_dist_answer_init(&a, 1 << 20);
    assert_int_equal(qk_dist_answer_parse(out.data, out.len, &ar, &a, &err), 0);
    snprintf(obj, sizeof obj, "%s/_quack/partials/" QID "/4-2.parquet", qk_engine_lake(eng));
    assert_non_null(a.key);
    assert_string_equal(a.key, obj);
    assert_int_equal(access(obj, R_OK), 0);
    qk_dist_answer_free(&a);
    qk_arena_free(&ar);
    qk_buf_free(&out);
}

/* ---- the coordinator, against a real in-process server ----------------------------------------
 */

static int sum_reduce(void *ud, const char *const *files, size_t n, char **out, qk_err *err)
{
    qk_buf b;
    (void)ud;
    qk_buf_init(&b, 1 << 16);
    qk_buf_adds(&b, "SELECT sum(s)::BIGINT AS total, sum(c)::BIGINT AS n FROM read_parquet([");
    for (size_t i = 0; i < n; i++) {
        if (i) qk_buf_addc(&b, ',');
        qk_sql_add_literal(&b, files[i]);
    }
    qk_buf_adds(&b, "])");
    *out = qk_buf_detach(&b, NULL);
    return *out ? 0 : qk_errf(err, QK_ENOMEM, "oom");
}

static const char *const maps[] = {
    "SELECT sum(range)::BIGINT AS s, count(*)::BIGINT AS c FROM range(0, 1000)",
    "SELECT sum(range)::BIGINT AS s, count(*)::BIGINT AS c FROM range(1000, 2500)",
    "SELECT sum(range)::BIGINT AS s, count(*)::BIGINT AS c FROM range(2500, 3000)"};
static const qk_dist_col map_cols[] = {{"s", "BIGINT", false}, {"c", "BIGINT", false}};

static char *csv_of(qk_result *r)
{
    qk_buf b;
    qk_encode_opts eo;
    qk_encode_stats st;
    qk_err err = {0};
    qk_buf_init(&b, 1 << 20);
    qk_encode_opts_init(&eo);
    assert_int_equal(qk_encode_result(r, QK_FMT_CSV, &eo, &b, &st, &err), 0);
    return qk_buf_detach(&b, NULL);
}

static int run_job(const char *const *urls, size_t n, const qk_dist_col *cols, qk_result **res,
                   qk_dist_run_stats *st, qk_err *err)
{
    qk_dist_workers w = {0};
    qk_dist_coord_opts o;
    qk_dist_job job = {maps, 3, cols, 2, false, sum_reduce, NULL};
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = qk_dist_workers_add_http(&w, urls[i], NULL, err);
    assert_int_equal(rc, 0);
    qk_dist_coord_opts_init(&o);
    o.workers = w.v, o.nworkers = w.n;
    o.timeout_ms = 20000;
    memset(st, 0, sizeof *st);
    rc = qk_dist_run_job(eng, &job, &o, res, st, err);
    qk_dist_workers_free(&w);
    return rc;
}

static void test_job_fans_out_and_reduces(void **state)
{
    const char *urls[] = {worker_url};
    qk_result *r = NULL;
    qk_dist_run_stats st;
    qk_err err = {0};
    (void)state;
    if (run_job(urls, 1, map_cols, &r, &st, &err) != 0) fail_msg("%s", err.msg);
    char *csv = csv_of(r);
    assert_string_equal(csv, "total,n\r\n4498500,3000\r\n");
    assert_int_equal(st.shards, 3);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.retries, 0);
    free(csv);
    qk_result_destroy(r);
}

static void test_job_skips_a_dead_worker(void **state)
{
    const char *urls[] = {"http://127.0.0.1:1", worker_url};
    qk_result *r = NULL;
    qk_dist_run_stats st;
    qk_err err = {0};
    (void)state;
    if (run_job(urls, 2, map_cols, &r, &st, &err) != 0) fail_msg("%s", err.msg);
    char *csv = csv_of(r);
    assert_string_equal(csv, "total,n\r\n4498500,3000\r\n");
    assert_true(st.retries >= 1);
    assert_true(st.failures >= 1);
    free(csv);
    qk_result_destroy(r);
}

static void test_job_with_only_dead_workers_fails_clearly(void **state)
{
    const char *urls[] = {"http://127.0.0.1:1"};
    qk_result *r = NULL;
    qk_dist_run_stats st;
    qk_err err = {0};
    (void)state;
    assert_int_equal(run_job(urls, 1, map_cols, &r, &st, &err), QK_EHTTP);
    assert_string_equal(err.type, "IOError");
    assert_null(r);
    assert_non_null(strstr(err.msg, "failed on every worker (3 attempts)"));
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
}

static void test_job_with_invalid_partials_fails_after_retries(void **state)
{
    static const qk_dist_col wrong[] = {{"s", "BIGINT", false}, {"count", "BIGINT", false}};
    const char *urls[] = {worker_url};
    qk_result *r = NULL;
    qk_dist_run_stats st;
    qk_err err = {0};
    (void)state;
    assert_int_equal(run_job(urls, 1, wrong, &r, &st, &err), QK_EHTTP);
    assert_string_equal(err.type, "InvalidAnswer");
    assert_non_null(strstr(err.msg, "'c' where 'count' was expected"));
    assert_true(st.attempts >= 3);
    assert_true(st.failures >= 3);
}

static int cancel_now(void *ud)
{
    (void)ud;
    return 1;
}

static void test_job_cancel_stops_everything(void **state)
{
    qk_dist_workers w = {0};
    qk_dist_coord_opts o;
    qk_dist_job job = {maps, 3, map_cols, 2, false, sum_reduce, NULL};
    qk_result *r = NULL;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_dist_workers_add_http(&w, worker_url, NULL, &err), 0);
    qk_dist_coord_opts_init(&o);
    o.workers = w.v, o.nworkers = w.n;
    o.cancelled = cancel_now;
    assert_int_equal(qk_dist_run_job(eng, &job, &o, &r, NULL, &err), QK_ECANCELED);
    assert_null(r);
    qk_dist_workers_free(&w);
}

static void test_map_sql_error_fails_at_once(void **state)
{
    static const char *const bad_maps[] = {"SELECT 1 + 'x' AS s, 1 AS c"};
    qk_dist_workers w = {0};
    qk_dist_coord_opts o;
    qk_dist_job job = {bad_maps, 1, map_cols, 2, false, sum_reduce, NULL};
    qk_dist_run_stats st = {0};
    qk_result *r = NULL;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_dist_workers_add_http(&w, worker_url, NULL, &err), 0);
    qk_dist_coord_opts_init(&o);
    o.workers = w.v, o.nworkers = w.n;
    assert_int_equal(qk_dist_run_job(eng, &job, &o, &r, &st, &err), QK_ESQL);
    assert_string_equal(err.type, "BinderException");
    assert_int_equal(st.attempts, 1);
    qk_dist_workers_free(&w);
}

static void test_whole_plan_keeps_exact_types(void **state)
{
    qk_dist_plan plan;
    qk_dist_workers w = {0};
    qk_dist_coord_opts o;
    qk_result *r = NULL;
    qk_err err = {0};
    char sql[] = "SELECT 170141183460469231731687303715884105727::HUGEINT AS h, "
                 "[1, 2]::INTEGER[2] AS a, 'x'::ENUM('x') AS e";
    (void)state;
    memset(&plan, 0, sizeof plan);
    plan.sql = sql;
    assert_int_equal(qk_dist_workers_add_http(&w, worker_url, NULL, &err), 0);
    qk_dist_coord_opts_init(&o);
    o.workers = w.v, o.nworkers = w.n;
    if (qk_dist_run(eng, &plan, &o, &r, NULL, &err) != 0) fail_msg("%s", err.msg);
    assert_string_equal(qk_result_column_type(r, 0), "HUGEINT");
    assert_string_equal(qk_result_column_type(r, 1), "INTEGER[2]");
    assert_string_equal(qk_result_column_type(r, 2), "VARCHAR"); /* documented limitation */
    char *csv = csv_of(r);
    assert_string_equal(csv, "h,a,e\r\n170141183460469231731687303715884105727,\"[1,2]\",x\r\n");
    free(csv);
    qk_result_destroy(r);
    qk_dist_workers_free(&w);
}

static void test_worker_url_checks(void **state)
{
    static const char *const bad[] = {
        "ftp://x",      "http://",       "http:///x", "http://u:p@host",
        "http://h/a b", "http://h/?x=1", "",          " , "};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qk_dist_workers w = {0};
        qk_err err = {0};
        if (qk_dist_workers_add_http(&w, bad[i], NULL, &err) != QK_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
        qk_dist_workers_free(&w);
    }
    qk_dist_workers w = {0};
    qk_err err = {0};
    assert_int_equal(qk_dist_workers_add_http(&w, " http://a:1/ , https://b/q// ", "t", &err), 0);
    assert_int_equal(w.n, 2);
    assert_string_equal(qk_dist_transport_name(w.v[0]), "worker http://a:1");
    assert_string_equal(qk_dist_transport_name(w.v[1]), "worker https://b/q");
    assert_int_equal(qk_dist_workers_add_lambda(&w, "arn:aws:lambda:us-east-1:1:function:f", &err),
                     0);
    assert_int_equal(qk_dist_workers_add_lambda(&w, "bad name", &err), QK_EINVAL);
    qk_dist_workers_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_rfc4648_vectors),
        cmocka_unit_test(test_base64_round_trips_every_byte_and_length),
        cmocka_unit_test(test_base64_decode_rejects_non_canonical_input),
        cmocka_unit_test(test_base64_decode_respects_the_buffer_limit),
        cmocka_unit_test(test_task_round_trips),
        cmocka_unit_test(test_task_optional_fields_default),
        cmocka_unit_test(test_task_parse_rejects_hostile_input),
        cmocka_unit_test(test_task_parse_refuses_oversized_sql),
        cmocka_unit_test(test_answer_inline_round_trips),
        cmocka_unit_test(test_answer_spilled_round_trips),
        cmocka_unit_test(test_answer_build_fails_cleanly_past_the_buffer_cap),
        cmocka_unit_test(test_answer_parse_rejects_hostile_input),
        cmocka_unit_test(test_answer_parse_bounds_inline_bytes),
        cmocka_unit_test(test_answer_parse_maps_worker_errors),
        cmocka_unit_test(test_type_rules),
        cmocka_unit_test(test_type_rules_match_duckdb_parquet),
        cmocka_unit_test(test_partial_valid_is_accepted),
        cmocka_unit_test(test_partial_with_wrong_columns_is_rejected),
        cmocka_unit_test(test_partial_with_wrong_row_count_is_rejected),
        cmocka_unit_test(test_partial_truncated_or_corrupted_is_rejected),
        cmocka_unit_test(test_run_map_writes_parquet),
        cmocka_unit_test(test_run_map_refuses_anything_but_one_select),
        cmocka_unit_test(test_handle_task_whole_reports_exact_columns),
        cmocka_unit_test(test_handle_task_past_deadline_is_a_timeout),
        cmocka_unit_test(test_handle_task_never_spills_to_foreign_locations),
        cmocka_unit_test(test_handle_task_spills_over_the_threshold),
        cmocka_unit_test(test_job_fans_out_and_reduces),
        cmocka_unit_test(test_job_skips_a_dead_worker),
        cmocka_unit_test(test_job_with_only_dead_workers_fails_clearly),
        cmocka_unit_test(test_job_with_invalid_partials_fails_after_retries),
        cmocka_unit_test(test_job_cancel_stops_everything),
        cmocka_unit_test(test_map_sql_error_fails_at_once),
        cmocka_unit_test(test_whole_plan_keeps_exact_types),
        cmocka_unit_test(test_worker_url_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
