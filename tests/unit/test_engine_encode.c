/* SPDX-License-Identifier: MIT */
/*
 * test_engine_encode.c: the result encoders (encode.h), run on real DuckDB results.
 *
 * Most value tests are differential: the CSV text quack writes for a value must equal DuckDB's
 * own CAST(x AS VARCHAR) of the same value, and every JSON number must read back (strtod) to
 * the exact double DuckDB holds. JSON output is parsed with jansson wherever validity matters.
 * One engine (in-memory DuckDB, sandboxed to a temporary lake) serves the whole file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/encode_int.h"

static qk_engine *eng;
static char root[256];

/* ---- helpers ------------------------------------------------------------------------------ */

static qk_result *run(const char *sql)
{
    qk_result *r = NULL;
    qk_err err = {0};
    int rc = qk_engine_query(eng, sql, NULL, &r, &err);
    if (rc) fail_msg("query failed: %s\n  %s", err.msg, sql);
    return r;
}

/* Encode the result of sql; returns a heap string (caller frees). */
static char *encode_opts(const char *sql, qk_format f, const qk_encode_opts *o, qk_encode_stats *st,
                         size_t buf_max)
{
    qk_result *r = run(sql);
    qk_buf b;
    qk_err err = {0};
    qk_encode_stats local;
    qk_buf_init(&b, buf_max);
    int rc = qk_encode_result(r, f, o, &b, st ? st : &local, &err);
    qk_result_destroy(r);
    if (rc) fail_msg("encode failed: %s\n  %s", err.msg, sql);
    return qk_buf_detach(&b, NULL);
}

static char *encode(const char *sql, qk_format f)
{
    return encode_opts(sql, f, NULL, NULL, (size_t)1 << 30);
}

static char *csv_body(const char *sql)
{
    qk_encode_opts o;
    qk_encode_opts_init(&o);
    o.csv_header = false;
    return encode_opts(sql, QK_FMT_CSV, &o, NULL, (size_t)1 << 30);
}

static void assert_encodes(const char *sql, qk_format f, const char *want)
{
    char *got = encode(sql, f);
    assert_string_equal(got, want);
    free(got);
}

/* sql selects one column x: quack's CSV text of x must equal DuckDB's x::VARCHAR. */
static void assert_text_matches_duckdb(const char *sql)
{
    char q1[8192], q2[8192];
    snprintf(q1, sizeof q1, "SELECT x FROM (%s) q", sql);
    snprintf(q2, sizeof q2, "SELECT x::VARCHAR AS x FROM (%s) q", sql);
    char *mine = csv_body(q1), *theirs = csv_body(q2);
    assert_true(strlen(theirs) > 0);
    if (strcmp(mine, theirs) != 0) { /* report the first line that differs */
        size_t i = 0, line = 0, a, b;
        while (mine[i] && mine[i] == theirs[i])
            line += mine[i++] == '\n';
        while (i > 0 && mine[i - 1] != '\n')
            i--;
        a = strcspn(mine + i, "\r\n");
        b = strcspn(theirs + i, "\r\n");
        fail_msg("line %zu: quack '%.*s' != DuckDB '%.*s'\n  %s", line + 1, (int)a, mine + i,
                 (int)b, theirs + i, sql);
    }
    free(mine);
    free(theirs);
}

/* The doubles of column 0 of sql, as DuckDB holds them. */
static double *fetch_doubles(const char *sql, size_t *n)
{
    qk_result *r = run(sql);
    double *out = malloc(sizeof *out * (qk_result_row_count(r) + 1));
    duckdb_data_chunk ch;
    *n = 0;
    while ((ch = qk_result_next_chunk(r)) != NULL) {
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        const double *d = duckdb_vector_get_data(v);
        for (idx_t i = 0; i < duckdb_data_chunk_get_size(ch); i++)
            out[(*n)++] = d[i];
        duckdb_destroy_data_chunk(&ch);
    }
    qk_result_destroy(r);
    return out;
}

static json_t *parse_json(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!j) fail_msg("invalid JSON (%s at %d): %.200s", je.text, je.position, s);
    return j;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *bottom_right = "\xE2\x94\x98\n"; /* ┘ */

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* ---- formats and options ------------------------------------------------------------------ */

static void test_format_parse_accepts_names_case_insensitively(void **state)
{
    qk_format f;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_format_parse("json", &f, &err), 0);
    assert_int_equal(f, QK_FMT_JSON);
    assert_int_equal(qk_format_parse("NDJSON", &f, &err), 0);
    assert_int_equal(f, QK_FMT_NDJSON);
    assert_int_equal(qk_format_parse("Csv", &f, &err), 0);
    assert_int_equal(f, QK_FMT_CSV);
    assert_int_equal(qk_format_parse("table", &f, &err), 0);
    assert_int_equal(f, QK_FMT_TABLE);
}

static void test_format_parse_rejects_unknown_names(void **state)
{
    qk_format f;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_format_parse("xml", &f, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "xml"));
    assert_int_equal(qk_format_parse("", &f, &err), QK_EINVAL);
}

static void test_format_names_and_mime_types(void **state)
{
    (void)state;
    assert_string_equal(qk_format_name(QK_FMT_NDJSON), "ndjson");
    assert_string_equal(qk_format_mime(QK_FMT_JSON), "application/json");
    assert_string_equal(qk_format_mime(QK_FMT_NDJSON), "application/x-ndjson");
    assert_string_equal(qk_format_mime(QK_FMT_CSV), "text/csv; charset=utf-8");
    assert_string_equal(qk_format_mime(QK_FMT_TABLE), "text/plain; charset=utf-8");
}

static void test_opts_init_sets_defaults(void **state)
{
    qk_encode_opts o;
    (void)state;
    memset(&o, 0x5a, sizeof o);
    qk_encode_opts_init(&o);
    assert_int_equal(o.max_bytes, 0);
    assert_int_equal(o.table_width, 0);
    assert_true(o.csv_header);
}

static void test_columns_json_lists_names_and_types(void **state)
{
    qk_result *r = run("SELECT 1::BIGINT AS c, 'x' AS \"we\"\"ird\", 1.5::DECIMAL(18,3) AS d");
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_encode_columns_json(r, &b), 0);
    assert_string_equal(qk_buf_cstr(&b), "[{\"name\":\"c\",\"type\":\"BIGINT\"},"
                                         "{\"name\":\"we\\\"ird\",\"type\":\"VARCHAR\"},"
                                         "{\"name\":\"d\",\"type\":\"DECIMAL(18,3)\"}]");
    qk_buf_free(&b);
    qk_result_destroy(r);
}

/* ---- the formats -------------------------------------------------------------------------- */

static const char *two_rows = "SELECT * FROM (VALUES (1, 'x'), (2, NULL)) t(a, b) ORDER BY a";

static void test_json_records_are_an_array_of_objects(void **state)
{
    (void)state;
    assert_encodes(two_rows, QK_FMT_JSON, "[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":null}]");
}

static void test_ndjson_writes_one_record_per_line(void **state)
{
    (void)state;
    assert_encodes(two_rows, QK_FMT_NDJSON, "{\"a\":1,\"b\":\"x\"}\n{\"a\":2,\"b\":null}\n");
}

static void test_csv_has_header_crlf_and_empty_null(void **state)
{
    (void)state;
    assert_encodes(two_rows, QK_FMT_CSV, "a,b\r\n1,x\r\n2,\r\n");
}

static void test_csv_header_can_be_left_out(void **state)
{
    char *s = csv_body(two_rows);
    (void)state;
    assert_string_equal(s, "1,x\r\n2,\r\n");
    free(s);
}

static void test_csv_quotes_fields_with_separators_quotes_and_newlines(void **state)
{
    (void)state;
    assert_encodes("SELECT 'a,b' AS \"x,y\", 'say \"hi\"' AS q, 'l1' || chr(10) || 'l2' AS n, "
                   "'c' || chr(13) AS r, '' AS e, ' sp ' AS s, NULL::VARCHAR AS z",
                   QK_FMT_CSV,
                   "\"x,y\",q,n,r,e,s,z\r\n"
                   "\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\",\"c\r\",\"\", sp ,\r\n");
}

static void test_duplicate_column_names_are_kept_in_order(void **state)
{
    (void)state;
    assert_encodes("SELECT 1 AS a, 2 AS a, 3 AS b", QK_FMT_JSON, "[{\"a\":1,\"a\":2,\"b\":3}]");
    assert_encodes("SELECT 1 AS a, 2 AS a", QK_FMT_CSV, "a,a\r\n1,2\r\n");
}

static void test_column_names_are_json_escaped(void **state)
{
    (void)state;
    assert_encodes("SELECT 1 AS \"q\"\"\\\"", QK_FMT_JSON, "[{\"q\\\"\\\\\":1}]");
}

static void test_zero_rows_in_every_format(void **state)
{
    const char *sql = "SELECT 1 AS a, 'x' AS b WHERE false";
    char *t;
    (void)state;
    assert_encodes(sql, QK_FMT_JSON, "[]");
    assert_encodes(sql, QK_FMT_NDJSON, "");
    assert_encodes(sql, QK_FMT_CSV, "a,b\r\n");
    t = encode(sql, QK_FMT_TABLE);
    assert_string_equal(t, "┌───────┬─────────┐\n"
                           "│   a   │    b    │\n"
                           "│ int32 │ varchar │\n"
                           "├───────┴─────────┤\n"
                           "│     0 rows      │\n"
                           "└─────────────────┘\n");
    free(t);
    assert_encodes("SELECT 1 AS a WHERE false", QK_FMT_TABLE, /* widened to hold "0 rows" */
                   "┌──────────┐\n"
                   "│    a     │\n"
                   "│  int32   │\n"
                   "├──────────┤\n"
                   "│  0 rows  │\n"
                   "└──────────┘\n");
}

static void test_all_null_column_in_every_format(void **state)
{
    const char *sql = "SELECT NULL::INTEGER AS a, i FROM range(2) t(i)";
    char *t;
    (void)state;
    assert_encodes(sql, QK_FMT_JSON, "[{\"a\":null,\"i\":0},{\"a\":null,\"i\":1}]");
    assert_encodes(sql, QK_FMT_CSV, "a,i\r\n,0\r\n,1\r\n");
    t = encode(sql, QK_FMT_TABLE);
    assert_non_null(strstr(t, "│  NULL │     0 │"));
    free(t);
    assert_encodes("SELECT NULL AS n", QK_FMT_JSON, "[{\"n\":null}]");
}

/* ---- numbers ------------------------------------------------------------------------------ */

static void test_integers_are_exact_at_their_limits(void **state)
{
    (void)state;
    assert_encodes("SELECT (-128)::TINYINT a, 32767::SMALLINT b, (-2147483648)::INTEGER c, "
                   "(-9223372036854775808)::BIGINT d, 255::UTINYINT e, 65535::USMALLINT f, "
                   "4294967295::UINTEGER g, 18446744073709551615::UBIGINT h",
                   QK_FMT_JSON,
                   "[{\"a\":-128,\"b\":32767,\"c\":-2147483648,\"d\":-9223372036854775808,"
                   "\"e\":255,\"f\":65535,\"g\":4294967295,\"h\":18446744073709551615}]");
    assert_text_matches_duckdb(
        "SELECT (i * 7919 - 500000)::BIGINT * 1000003 AS x FROM range(3000) t(i)");
}

static void test_hugeint_min_and_max_are_exact(void **state)
{
    (void)state;
    assert_encodes("SELECT (-170141183460469231731687303715884105727 - 1)::HUGEINT AS lo, "
                   "170141183460469231731687303715884105727::HUGEINT AS hi, "
                   "340282366920938463463374607431768211455::UHUGEINT AS uhi, 0::HUGEINT AS z, "
                   "(-1)::HUGEINT AS m1, 18446744073709551616::HUGEINT AS two64",
                   QK_FMT_JSON,
                   "[{\"lo\":-170141183460469231731687303715884105728,"
                   "\"hi\":170141183460469231731687303715884105727,"
                   "\"uhi\":340282366920938463463374607431768211455,\"z\":0,\"m1\":-1,"
                   "\"two64\":18446744073709551616}]");
    assert_text_matches_duckdb(
        "SELECT (i::HUGEINT - 1000) * 170141183460469231731687303715884 AS x "
        "FROM range(2000) t(i)");
    assert_text_matches_duckdb("SELECT i::UHUGEINT * 170141183460469231731687303715884105 AS x "
                               "FROM range(2000) t(i)");
}

static void test_decimals_are_exact_with_their_scale(void **state)
{
    (void)state;
    assert_encodes("SELECT 12.5::DECIMAL(4,2) a, (-0.05)::DECIMAL(4,2) b, 0::DECIMAL(4,2) c, "
                   "(-123456789012345.678)::DECIMAL(18,3) d, 5::DECIMAL(3,0) e, "
                   "'-1234567890123456789012345678.0123456789'::DECIMAL(38,10) f, "
                   "0.5::DECIMAL(38,10) g, '-0.0000000001'::DECIMAL(38,10) h",
                   QK_FMT_JSON,
                   "[{\"a\":12.50,\"b\":-0.05,\"c\":0.00,\"d\":-123456789012345.678,\"e\":5,"
                   "\"f\":-1234567890123456789012345678.0123456789,\"g\":0.5000000000,"
                   "\"h\":-0.0000000001}]");
    assert_text_matches_duckdb(
        "SELECT ((i - 5000) / 100)::DECIMAL(4,2) AS x FROM range(9999) t(i)");
    assert_text_matches_duckdb(
        "SELECT ((i - 500) * 123456789.123)::DECIMAL(18,3) AS x FROM range(1000) t(i)");
    assert_text_matches_duckdb(
        "SELECT '1234567890123456789.0123456789'::DECIMAL(38,10) * (i - 500)::INTEGER AS x "
        "FROM range(1000) t(i)");
    assert_text_matches_duckdb("SELECT ((i - 50) / 7)::DECIMAL(9,4) AS x FROM range(100) t(i)");
    assert_text_matches_duckdb("SELECT ((i - 50) / 3)::DECIMAL(3,1) AS x FROM range(100) t(i)");
}

static void test_doubles_print_like_duckdb_and_read_back_exactly(void **state)
{
    const char *sql =
        "SELECT x FROM (SELECT (hash(i) % 100000)::DOUBLE / 100 AS x FROM range(3000) t(i) "
        "UNION ALL SELECT (hash(i) % 1000000)::DOUBLE / ((hash(i * 7) % 1000) + 1) FROM "
        "range(3000) t(i) "
        "UNION ALL SELECT pow(2, (i % 2100)::DOUBLE - 1075) * (1 + (i % 97) / 97.0) FROM "
        "range(3000) t(i) "
        "UNION ALL SELECT pow(10, (i % 40)::DOUBLE - 20) * ((i % 3) - 1) FROM range(200) t(i) "
        "UNION ALL SELECT * FROM (VALUES (0.1 + 0.2), (1e16), (1e15), (123456789012.345), "
        "(0.0001), "
        "(0.00001), (4294967296.5), (9007199254740993), (1.7976931348623157e308), (5e-324), "
        "(2.2250738585072014e-308), ('-0.0'::DOUBLE), (0.0), (12.5), (0.3), (1e22), (1e21), "
        "(100.0)) v(x))";
    char q[4096], *json;
    size_t n;
    double *want;
    json_t *arr;
    (void)state;
    assert_text_matches_duckdb(sql);
    snprintf(q, sizeof q, "SELECT x FROM (%s)", sql);
    want = fetch_doubles(q, &n);
    json = encode(q, QK_FMT_JSON);
    arr = parse_json(json);
    assert_int_equal(json_array_size(arr), n);
    /* read every number back with strtod from the raw text */
    const char *p = json;
    for (size_t i = 0; i < n; i++) {
        p = strstr(p, "\"x\":") + 4;
        if (!isfinite(want[i])) {
            assert_true(strncmp(p, want[i] > 0 ? "\"Infinity\"" : "\"-Infinity\"", 9) == 0);
            continue;
        }
        double got = strtod(p, NULL);
        if (memcmp(&got, &want[i], sizeof got) != 0)
            fail_msg("row %zu: %.17g != %.17g", i, got, want[i]);
    }
    json_decref(arr);
    free(json);
    free(want);
}

static void test_double_special_values_are_json_strings(void **state)
{
    (void)state;
    assert_encodes("SELECT 'nan'::DOUBLE a, 'inf'::DOUBLE b, '-inf'::DOUBLE c, '-0.0'::DOUBLE d, "
                   "3::DOUBLE e, 'nan'::FLOAT f, 1e20::DOUBLE g",
                   QK_FMT_JSON,
                   "[{\"a\":\"NaN\",\"b\":\"Infinity\",\"c\":\"-Infinity\",\"d\":-0.0,\"e\":3.0,"
                   "\"f\":\"NaN\",\"g\":1e+20}]");
    assert_encodes("SELECT 'nan'::DOUBLE a, '-inf'::DOUBLE b", QK_FMT_CSV, "a,b\r\nnan,-inf\r\n");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES ('nan'::DOUBLE), ('inf'), ('-inf'), ('-0.0')) t(x)");
}

static void test_floats_print_shortest_like_duckdb(void **state)
{
    (void)state;
    assert_text_matches_duckdb(
        "SELECT ((hash(i) % 100000)::FLOAT / 100)::FLOAT AS x FROM range(2000) t(i)");
    assert_text_matches_duckdb(
        "SELECT (pow(2, (i % 270)::DOUBLE - 149) * (1 + (i % 89) / 89.0))::FLOAT AS x "
        "FROM range(2000) t(i)");
    assert_encodes("SELECT 0.1::FLOAT a, 16777216::FLOAT b, 3.4e38::FLOAT c", QK_FMT_JSON,
                   "[{\"a\":0.1,\"b\":16777216.0,\"c\":3.4e+38}]");
}

static void test_booleans_are_true_and_false(void **state)
{
    (void)state;
    assert_encodes("SELECT true a, false b, NULL::BOOLEAN c", QK_FMT_JSON,
                   "[{\"a\":true,\"b\":false,\"c\":null}]");
    assert_text_matches_duckdb("SELECT * FROM (VALUES (true), (false)) t(x)");
}

static void test_bignum_prints_all_digits(void **state)
{
    (void)state;
    assert_encodes(
        "SELECT '123456789012345678901234567890123456789012345678901234567890'::BIGNUM a, "
        "'-98765432109876543210987654321098765432109876543210'::BIGNUM b, 0::BIGNUM c, "
        "(-1)::BIGNUM d",
        QK_FMT_JSON,
        "[{\"a\":123456789012345678901234567890123456789012345678901234567890,"
        "\"b\":-98765432109876543210987654321098765432109876543210,\"c\":0,\"d\":-1}]");
    assert_text_matches_duckdb(
        "SELECT ((i - 500)::HUGEINT * 17014118346046923173168730371588410)::BIGNUM AS x "
        "FROM range(1000) t(i)");
}

/* ---- dates and times ---------------------------------------------------------------------- */

static void test_dates_are_iso_in_json_and_duckdb_text_in_csv(void **state)
{
    (void)state;
    assert_encodes(
        "SELECT DATE '2019-04-01' a, 'infinity'::DATE b, '-infinity'::DATE c, "
        "DATE '0044-03-15 (BC)' d, DATE '10000-01-01' e, DATE '0001-01-01' f",
        QK_FMT_JSON,
        "[{\"a\":\"2019-04-01\",\"b\":\"infinity\",\"c\":\"-infinity\",\"d\":\"-000043-03-15\","
        "\"e\":\"+010000-01-01\",\"f\":\"0001-01-01\"}]");
    assert_text_matches_duckdb(
        "SELECT DATE '1970-01-01' + (i * 37 - 400000)::INTEGER AS x FROM range(30000) t(i)");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES (DATE '5881580-07-10'), (DATE '5877642-06-25 (BC)'), "
        "('infinity'::DATE), ('-infinity'::DATE), (DATE '0000-02-29')) t(x)");
}

static void test_times_print_fractions_only_when_non_zero(void **state)
{
    (void)state;
    assert_encodes("SELECT TIME '13:05:00' a, TIME '13:05:00.5' b, TIME '24:00:00' c, "
                   "'13:05:00+02'::TIMETZ e, '13:05:00.25-05:30'::TIMETZ f",
                   QK_FMT_JSON,
                   "[{\"a\":\"13:05:00\",\"b\":\"13:05:00.5\",\"c\":\"24:00:00\","
                   "\"e\":\"13:05:00+02:00\",\"f\":\"13:05:00.25-05:30\"}]");
    assert_text_matches_duckdb(
        "SELECT TIME '00:00:00' + to_microseconds(i * 7777777 + (i % 3) * 1000) AS x "
        "FROM range(11000) t(i)");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES ('13:05:00+02'::TIMETZ), ('13:05:00.25-05:30'::TIMETZ), "
        "('23:59:59.999999+15:59:59'::TIMETZ), ('00:00:00-15:59:59'::TIMETZ), "
        "('12:00:00+00'::TIMETZ)) t(x)");
}

/* DuckDB 1.4's C API reports TIME_NS as an invalid type: refuse it with advice, not garbage. */
static void test_types_hidden_by_the_c_api_are_refused(void **state)
{
    qk_result *r = run("SELECT '13:05:00.123456789'::TIME_NS AS t");
    qk_buf b;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_encode_result(r, QK_FMT_JSON, NULL, &b, NULL, &err), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "column t"));
    assert_non_null(strstr(err.msg, "VARCHAR"));
    assert_int_equal(b.len, 0);
    qk_buf_free(&b);
    qk_result_destroy(r);
}

static void test_timestamps_are_iso_8601_in_json(void **state)
{
    (void)state;
    assert_encodes(
        "SELECT TIMESTAMP '2019-04-01 13:05:00' a, TIMESTAMP '2019-04-01 13:05:00.25' b, "
        "TIMESTAMPTZ '2019-04-01 13:05:00+02' c, '2019-04-01 13:05:07'::TIMESTAMP_S d, "
        "'2019-04-01 13:05:07.120'::TIMESTAMP_MS e, '2019-04-01 13:05:00.123456789'::TIMESTAMP_NS "
        "f, "
        "'infinity'::TIMESTAMP g, '-infinity'::TIMESTAMPTZ h, TIMESTAMP '1969-12-31 "
        "23:59:59.999999' i",
        QK_FMT_JSON,
        "[{\"a\":\"2019-04-01T13:05:00\",\"b\":\"2019-04-01T13:05:00.25\",\"c\":\"2019-04-01T11:05:"
        "00Z\","
        "\"d\":\"2019-04-01T13:05:07\",\"e\":\"2019-04-01T13:05:07.12\","
        "\"f\":\"2019-04-01T13:05:00.123456789\",\"g\":\"infinity\",\"h\":\"-infinity\","
        "\"i\":\"1969-12-31T23:59:59.999999\"}]");
}

static void test_timestamps_print_like_duckdb_in_csv(void **state)
{
    (void)state;
    assert_text_matches_duckdb(
        "SELECT make_timestamp((i * 1234567891234 - 5000000000000000)::BIGINT) AS x "
        "FROM range(10000) t(i)");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES (TIMESTAMP '0044-03-15 (BC) 10:00:00'), "
        "(TIMESTAMP '294247-01-10 04:00:54.775806'), (TIMESTAMP '290309-12-22 (BC) 00:00:00'), "
        "('infinity'::TIMESTAMP), ('-infinity'::TIMESTAMP)) t(x)");
    assert_text_matches_duckdb(
        "SELECT make_timestamptz((i * 1234567891234 - 5000000000000000)::BIGINT) AS x "
        "FROM range(3000) t(i)");
    assert_text_matches_duckdb(
        "SELECT (TIMESTAMP '1900-01-01' + to_seconds(i * 3333333))::TIMESTAMP_S AS x "
        "FROM range(3000) t(i)");
    assert_text_matches_duckdb(
        "SELECT (TIMESTAMP '1900-01-01' + to_milliseconds(i * 333333337))::TIMESTAMP_MS AS x "
        "FROM range(3000) t(i)");
    assert_text_matches_duckdb(
        "SELECT make_timestamp_ns((i * 1234567891234567 - 5000000000000000000)::BIGINT) AS x "
        "FROM range(3000) t(i)");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES ('infinity'::TIMESTAMP_NS), ('-infinity'::TIMESTAMP_MS), "
        "('infinity'::TIMESTAMP_S)) t(x)");
}

static void test_intervals_are_iso_durations_in_json(void **state)
{
    (void)state;
    assert_encodes(
        "SELECT INTERVAL '1 year 2 months 3 days 04:05:06.5' a, INTERVAL '0 seconds' b, "
        "INTERVAL '-1 year -2 months' c, -INTERVAL '4 hours 5 minutes' d, INTERVAL '1 month -1 "
        "day' e, "
        "INTERVAL '100 hours' f, INTERVAL '-0.25 seconds' g",
        QK_FMT_JSON,
        "[{\"a\":\"P1Y2M3DT4H5M6.5S\",\"b\":\"PT0S\",\"c\":\"P-1Y-2M\",\"d\":\"PT-4H-5M\","
        "\"e\":\"P1M-1D\",\"f\":\"PT100H\",\"g\":\"PT-0.25S\"}]");
}

static void test_intervals_print_like_duckdb_in_csv(void **state)
{
    (void)state;
    assert_text_matches_duckdb(
        "SELECT to_months((i % 41 - 20)::INTEGER) + to_days((i % 13 - 6)::INTEGER) + "
        "to_microseconds((hash(i) % 200000000000)::BIGINT - 100000000000) AS x "
        "FROM range(5000) t(i)");
    assert_text_matches_duckdb(
        "SELECT * FROM (VALUES (INTERVAL '0 seconds'), (INTERVAL '1 year'), "
        "(INTERVAL '-1 day'), (INTERVAL '13 months'), (INTERVAL '1 microsecond')) t(x)");
}

/* ---- other scalar types ------------------------------------------------------------------- */

static void test_uuids_are_canonical_lowercase(void **state)
{
    (void)state;
    assert_encodes("SELECT '00000000-0000-0000-0000-000000000000'::UUID a, "
                   "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'::UUID b, "
                   "'73223de8-914c-47b1-a272-f23c0cbbc703'::UUID c",
                   QK_FMT_JSON,
                   "[{\"a\":\"00000000-0000-0000-0000-000000000000\",\"b\":\"ffffffff-ffff-ffff-"
                   "ffff-ffffffffffff\","
                   "\"c\":\"73223de8-914c-47b1-a272-f23c0cbbc703\"}]");
    assert_text_matches_duckdb("SELECT md5(i::VARCHAR)::UUID AS x FROM range(2000) t(i)");
}

static void test_blobs_are_base64_in_json_and_csv(void **state)
{
    const char *bytes = "SELECT string_agg(chr(0), '')::BLOB AS z, "
                        "(SELECT from_hex(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i)) FROM "
                        "range(256) t(i)) AS b";
    char q[1024], *mine, *theirs;
    (void)state;
    snprintf(q, sizeof q, "SELECT b AS x FROM (%s)", bytes);
    mine = csv_body(q);
    snprintf(q, sizeof q, "SELECT to_base64(b) AS x FROM (%s)", bytes);
    theirs = csv_body(q);
    assert_string_equal(mine, theirs);
    free(mine);
    free(theirs);
    assert_encodes(
        "SELECT from_hex('') a, from_hex('ff') b, from_hex('00ff10') c, from_hex('6869') d",
        QK_FMT_JSON, "[{\"a\":\"\",\"b\":\"/w==\",\"c\":\"AP8Q\",\"d\":\"aGk=\"}]");
}

static void test_blobs_are_escaped_text_in_the_table(void **state)
{
    char *t;
    (void)state;
    t = encode("SELECT from_hex('00017f80ff5c2722410a') AS b", QK_FMT_TABLE);
    assert_non_null(strstr(t, "│ \\x00\\x01\\x7F\\x80\\xFF\\x5C\\x27\\x22A\\x0A │"));
    free(t);
}

static void test_strings_are_json_escaped(void **state)
{
    const char *sql = "SELECT 'a\"b\\c' || chr(10) || chr(9) || chr(1) || 'é€😀' AS s";
    char *j;
    json_t *arr;
    (void)state;
    j = encode(sql, QK_FMT_JSON);
    assert_string_equal(j, "[{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001é€😀\"}]");
    arr = parse_json(j);
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "s")),
                        "a\"b\\c\n\t\x01é€😀");
    json_decref(arr);
    free(j);
}

/* DuckDB refuses invalid UTF-8 in VARCHAR, so build the vector by hand. */
static void test_invalid_utf8_becomes_replacement_character(void **state)
{
    duckdb_logical_type t = duckdb_create_logical_type(DUCKDB_TYPE_VARCHAR);
    duckdb_data_chunk ch = duckdb_create_data_chunk(&t, 1);
    duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
    qk_arena a;
    qk_enc_col *col;
    qk_buf b;
    qk_err err = {0};
    (void)state;
    duckdb_vector_assign_string_element_len(v, 0, "ok\xff\xc3(\xe2\x82\xac", 8);
    duckdb_data_chunk_set_size(ch, 1);
    qk_arena_init(&a, 0);
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_enc_plan_build(&a, t, 0, &col, &err), 0);
    qk_enc_col_bind(col, v);
    assert_int_equal(qk_enc_value(&b, col, 0, QK_ENC_JSON), 0);
    qk_enc_terminate(&b);
    assert_string_equal(qk_buf_cstr(&b), "\"ok\xEF\xBF\xBD\xEF\xBF\xBD(\xe2\x82\xac\"");
    qk_buf_truncate(&b, 0);
    assert_int_equal(qk_enc_value(&b, col, 0, QK_ENC_CSV), 0);
    qk_enc_terminate(&b);
    assert_string_equal(qk_buf_cstr(&b), "ok\xEF\xBF\xBD\xEF\xBF\xBD(\xe2\x82\xac");
    qk_buf_free(&b);
    qk_arena_free(&a);
    duckdb_destroy_data_chunk(&ch);
    duckdb_destroy_logical_type(&t);
}

static void test_enums_are_their_dictionary_strings(void **state)
{
    qk_err err = {0};
    (void)state;
    assert_encodes("SELECT 'b'::ENUM('a', 'b') AS e, NULL::ENUM('a') AS n", QK_FMT_JSON,
                   "[{\"e\":\"b\",\"n\":null}]");
    assert_int_equal(qk_engine_exec(eng,
                                    "CREATE TYPE IF NOT EXISTS big_enum AS ENUM "
                                    "(SELECT 'v' || i FROM range(70000) t(i))",
                                    &err),
                     0);
    assert_encodes("SELECT 'v299'::big_enum AS a, 'v69999'::big_enum AS b", QK_FMT_JSON,
                   "[{\"a\":\"v299\",\"b\":\"v69999\"}]");
    assert_text_matches_duckdb("SELECT ('v' || (i * 13))::big_enum AS x FROM range(5000) t(i)");
}

static void test_bits_are_strings_of_zeros_and_ones(void **state)
{
    (void)state;
    assert_encodes("SELECT '0101'::BIT a, '1'::BIT b, '010101010101010101'::BIT c", QK_FMT_JSON,
                   "[{\"a\":\"0101\",\"b\":\"1\",\"c\":\"010101010101010101\"}]");
    assert_text_matches_duckdb(
        "SELECT bitstring(bin(i), (12 + i % 20)::INTEGER) AS x FROM range(1, 3000) t(i)");
}

/* ---- nested types ------------------------------------------------------------------------- */

static void test_nested_types_are_json(void **state)
{
    (void)state;
    assert_encodes("SELECT [1, NULL, 3] AS l, [] :: INTEGER[] AS e, NULL::INTEGER[] AS nl, "
                   "{'a': 1, 'b': NULL, 'c': 'x'} AS s, [[1], [2, NULL], NULL] AS ll, "
                   "[1, 2, 3]::INTEGER[3] AS arr, [{'k': DATE '2019-04-01'}] AS ls",
                   QK_FMT_JSON,
                   "[{\"l\":[1,null,3],\"e\":[],\"nl\":null,\"s\":{\"a\":1,\"b\":null,\"c\":\"x\"},"
                   "\"ll\":[[1],[2,null],null],\"arr\":[1,2,3],\"ls\":[{\"k\":\"2019-04-01\"}]}]");
}

static void test_maps_are_objects_with_varchar_keys_else_pair_lists(void **state)
{
    (void)state;
    assert_encodes("SELECT MAP {'k': [1, 2], 'q\"': NULL} AS m, MAP {1: 'x', 2: NULL} AS mi, "
                   "MAP {}::MAP(VARCHAR, INTEGER) AS me",
                   QK_FMT_JSON,
                   "[{\"m\":{\"k\":[1,2],\"q\\\"\":null},"
                   "\"mi\":[{\"key\":1,\"value\":\"x\"},{\"key\":2,\"value\":null}],\"me\":{}}]");
}

static void test_unions_are_their_active_member(void **state)
{
    (void)state;
    assert_encodes("SELECT * FROM (VALUES (union_value(b := 'x')::UNION(a INTEGER, b VARCHAR)), "
                   "(union_value(a := 7)::UNION(a INTEGER, b VARCHAR)), (NULL)) t(u)",
                   QK_FMT_JSON, "[{\"u\":\"x\"},{\"u\":7},{\"u\":null}]");
    assert_encodes("SELECT union_value(b := 'x,y')::UNION(a INTEGER, b VARCHAR) AS u", QK_FMT_CSV,
                   "u\r\n\"x,y\"\r\n");
}

static void test_nested_values_in_csv_are_quoted_json(void **state)
{
    (void)state;
    assert_encodes("SELECT [1, 2] AS l, {'a': 'x'} AS s, [3] AS one", QK_FMT_CSV,
                   "l,s,one\r\n\"[1,2]\",\"{\"\"a\"\":\"\"x\"\"}\",[3]\r\n");
}

static void test_nested_nulls_across_many_rows(void **state)
{
    char *j;
    json_t *arr;
    (void)state;
    j = encode("SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE [i, NULL] END AS l, "
               "CASE WHEN i % 2 = 0 THEN NULL ELSE {'v': i} END AS s FROM range(5000) t(i)",
               QK_FMT_JSON);
    arr = parse_json(j);
    assert_int_equal(json_array_size(arr), 5000);
    assert_true(json_is_null(json_object_get(json_array_get(arr, 3), "l")));
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(json_array_get(arr, 4999), "l"), 0)),
        4999);
    assert_true(json_is_null(json_array_get(json_object_get(json_array_get(arr, 4999), "l"), 1)));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(arr, 4999), "s"), "v")),
        4999);
    json_decref(arr);
    free(j);
}

/* ---- the byte cap ------------------------------------------------------------------------- */

static char *capped(const char *sql, qk_format f, size_t cap, qk_encode_stats *st)
{
    qk_encode_opts o;
    qk_encode_opts_init(&o);
    o.max_bytes = cap;
    return encode_opts(sql, f, &o, st, (size_t)1 << 30);
}

static const char *thousand = "SELECT i, 'row ' || i AS s FROM range(1000) t(i)";

static void test_byte_cap_keeps_json_valid_and_sets_truncated(void **state)
{
    qk_encode_stats st;
    char *j = capped(thousand, QK_FMT_JSON, 500, &st);
    json_t *arr;
    (void)state;
    assert_true(strlen(j) <= 500);
    assert_true(st.truncated);
    arr = parse_json(j);
    assert_true(json_array_size(arr) > 0);
    assert_int_equal(json_array_size(arr), st.rows);
    json_decref(arr);
    free(j);
}

static void test_byte_cap_exact_fit_is_not_truncated(void **state)
{
    qk_encode_stats st;
    char *full = encode(thousand, QK_FMT_JSON), *j;
    size_t n = strlen(full);
    (void)state;
    j = capped(thousand, QK_FMT_JSON, n, &st);
    assert_false(st.truncated);
    assert_int_equal(st.rows, 1000);
    assert_string_equal(j, full);
    free(j);
    j = capped(thousand, QK_FMT_JSON, n - 1, &st);
    assert_true(st.truncated);
    assert_int_equal(st.rows, 999);
    free(j);
    free(full);
}

static void test_byte_cap_ends_csv_with_a_complete_line(void **state)
{
    qk_encode_stats st;
    char *c = capped(thousand, QK_FMT_CSV, 777, &st);
    (void)state;
    assert_true(strlen(c) <= 777);
    assert_true(st.truncated);
    assert_true(ends_with(c, "\r\n"));
    assert_int_equal(count_lines(c), st.rows + 1);
    free(c);
    c = capped(thousand, QK_FMT_NDJSON, 777, &st);
    assert_true(ends_with(c, "}\n"));
    assert_int_equal(count_lines(c), st.rows);
    assert_true(st.truncated);
    free(c);
}

static void test_byte_cap_closes_the_table_box(void **state)
{
    qk_encode_stats st;
    char *t = capped(thousand, QK_FMT_TABLE, 2000, &st);
    (void)state;
    assert_true(strlen(t) <= 2000);
    assert_true(st.truncated);
    assert_true(st.rows > 0);
    assert_true(ends_with(t, bottom_right));
    assert_int_equal(count_lines(t), st.rows + 5);
    free(t);
}

static void test_buffer_maximum_acts_as_a_cap(void **state)
{
    qk_encode_stats st;
    char *j = encode_opts(thousand, QK_FMT_JSON, NULL, &st, 300);
    json_t *arr;
    (void)state;
    assert_true(strlen(j) <= 300);
    assert_true(st.truncated);
    arr = parse_json(j);
    assert_int_equal(json_array_size(arr), st.rows);
    json_decref(arr);
    free(j);
}

static void test_byte_cap_too_small_for_json_brackets_is_an_error(void **state)
{
    qk_result *r = run(thousand);
    qk_encode_opts o;
    qk_encode_stats st;
    qk_buf b;
    qk_err err = {0};
    (void)state;
    qk_encode_opts_init(&o);
    o.max_bytes = 1;
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_encode_result(r, QK_FMT_JSON, &o, &b, &st, &err), QK_ETOOBIG);
    assert_int_equal(b.len, 0);
    qk_buf_free(&b);
    qk_result_destroy(r);
}

static void test_encoding_appends_after_existing_content(void **state)
{
    qk_result *r = run(two_rows);
    qk_encode_opts o;
    qk_encode_stats st;
    qk_buf b;
    qk_err err = {0};
    (void)state;
    qk_encode_opts_init(&o);
    o.max_bytes = 20;
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_buf_adds(&b, "prefix:"), 0);
    assert_int_equal(qk_encode_result(r, QK_FMT_JSON, &o, &b, &st, &err), 0);
    assert_string_equal(qk_buf_cstr(&b), "prefix:[{\"a\":1,\"b\":\"x\"}]");
    assert_true(st.truncated);
    assert_int_equal(b.max, 1 << 20);
    qk_buf_free(&b);
    qk_result_destroy(r);
}

/* ---- the terminal table ------------------------------------------------------------------- */

static void test_table_draws_a_duckdb_style_box(void **state)
{
    (void)state;
    assert_encodes("SELECT 7433139::BIGINT AS COUNTS, 'foo' AS name", QK_FMT_TABLE,
                   "┌─────────┬─────────┐\n"
                   "│ COUNTS  │  name   │\n"
                   "│  int64  │ varchar │\n"
                   "├─────────┼─────────┤\n"
                   "│ 7433139 │ foo     │\n"
                   "└─────────┴─────────┘\n");
}

static void test_table_right_aligns_numbers_and_shows_null(void **state)
{
    (void)state;
    assert_encodes("SELECT * FROM (VALUES (1, 2.5::DOUBLE, 'a'), (100, NULL, NULL)) t(n, d, s)",
                   QK_FMT_TABLE,
                   "┌───────┬────────┬─────────┐\n"
                   "│   n   │   d    │    s    │\n"
                   "│ int32 │ double │ varchar │\n"
                   "├───────┼────────┼─────────┤\n"
                   "│     1 │    2.5 │ a       │\n"
                   "│   100 │   NULL │ NULL    │\n"
                   "└───────┴────────┴─────────┘\n");
}

static void test_table_type_names_are_duckdb_cli_names(void **state)
{
    qk_encode_opts o;
    char *t;
    (void)state;
    qk_encode_opts_init(&o);
    o.table_width = 1000;
    t = encode_opts("SELECT 1::TINYINT a, 1::HUGEINT b, 1::UBIGINT c, 1.5::DECIMAL(18,3) d, "
                    "TIMESTAMPTZ '2019-01-01' e, [1] f, DATE '2019-01-01' g, true h, 1::FLOAT i, "
                    "TIMESTAMP '2019-01-01' j, {'x': 1} k",
                    QK_FMT_TABLE, &o, NULL, 1 << 20);
    for (const char *n = "int8\0int128\0uint64\0decimal(18,3)\0timestamp with time zone\0int32[]\0"
                         "date\0boolean\0float\0timestamp\0struct(x integer)\0";
         *n; n += strlen(n) + 1)
        if (!strstr(t, n)) fail_msg("type name %s missing in\n%s", n, t);
    free(t);
}

static void test_table_cuts_wide_values_with_an_ellipsis(void **state)
{
    char *t;
    (void)state;
    t = encode("SELECT repeat('x', 100) AS s", QK_FMT_TABLE);
    assert_non_null(strstr(t, "│ xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… │"));
    free(t);
}

static void test_table_cuts_huge_values_within_a_small_buffer(void **state)
{
    qk_encode_stats st;
    char *t = encode_opts("SELECT repeat('x', 1000000) AS s, [range(100000)] AS l", QK_FMT_TABLE,
                          NULL, &st, 64 << 10);
    (void)state;
    assert_int_equal(st.rows, 1);
    assert_non_null(strstr(t, "xxxx…"));
    assert_non_null(strstr(t, "[[0,1,2,3,"));
    assert_true(ends_with(t, bottom_right));
    free(t);
}

static void test_csv_header_that_does_not_fit_gives_empty_truncated_output(void **state)
{
    qk_encode_stats st;
    char *c = capped("SELECT 1 AS a_long_column_name", QK_FMT_CSV, 5, &st);
    (void)state;
    assert_string_equal(c, "");
    assert_true(st.truncated);
    assert_int_equal(st.rows, 0);
    free(c);
}

static void test_table_escapes_control_characters(void **state)
{
    char *t;
    (void)state;
    t = encode("SELECT 'a' || chr(10) || 'b' || chr(9) || 'c' AS s", QK_FMT_TABLE);
    assert_non_null(strstr(t, "│ a\\nb\\tc │"));
    free(t);
}

static void test_table_counts_wide_characters_as_two_columns(void **state)
{
    (void)state;
    assert_encodes("SELECT '日本' AS s UNION ALL SELECT 'abcde'", QK_FMT_TABLE,
                   "┌─────────┐\n"
                   "│    s    │\n"
                   "│ varchar │\n"
                   "├─────────┤\n"
                   "│ 日本    │\n"
                   "│ abcde   │\n"
                   "└─────────┘\n");
}

/* Every line of t is at most w display columns wide. */
static void assert_table_fits(const char *t, size_t w)
{
    const char *line = t, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
        size_t dw = qk_enc_display_width(line, (size_t)(nl - line));
        if (dw > w) fail_msg("line wider (%zu) than %zu: %.*s", dw, w, (int)(nl - line), line);
        line = nl + 1;
    }
}

static void test_table_shrinks_wide_columns_to_the_width(void **state)
{
    qk_encode_opts o;
    char *t;
    (void)state;
    qk_encode_opts_init(&o);
    o.table_width = 60;
    t = encode_opts("SELECT repeat('a', 40) AS a, repeat('b', 40) AS b, 42 AS n", QK_FMT_TABLE, &o,
                    NULL, 1 << 20);
    assert_table_fits(t, 60);
    assert_non_null(strstr(t, "aaaa…"));
    assert_non_null(strstr(t, "bbbb…"));
    assert_non_null(strstr(t, "│    42 │"));
    free(t);
}

static void test_table_cuts_names_and_text_but_not_numbers_or_timestamps(void **state)
{
    qk_encode_opts o;
    char *t;
    (void)state;
    qk_encode_opts_init(&o);
    o.table_width = 80;
    t = encode_opts("SELECT TIMESTAMP '2019-04-01 13:05:00' AS a_rather_long_column_name, "
                    "123456789012345678::BIGINT AS another_long_column_name, "
                    "repeat('t', 40) AS text_column_with_a_long_name",
                    QK_FMT_TABLE, &o, NULL, 1 << 20);
    assert_table_fits(t, 80);
    assert_non_null(strstr(t, "│ 2019-04-01 13:05:00 │"));
    assert_non_null(strstr(t, " 123456789012345678 │"));
    assert_non_null(strstr(t, "a_rather_long_col"));
    assert_non_null(strstr(t, "tttt…"));
    free(t);
}

static void test_table_drops_trailing_columns_when_still_too_wide(void **state)
{
    char *t;
    char sql[2048] = "SELECT 0 AS c0";
    (void)state;
    for (int i = 1; i < 40; i++) {
        size_t n = strlen(sql);
        snprintf(sql + n, sizeof sql - n, ", repeat('x', 30) AS c%d", i);
    }
    t = encode(sql, QK_FMT_TABLE);
    assert_table_fits(t, 120);
    assert_non_null(strstr(t, "│  c0   │"));
    assert_null(strstr(t, "c39"));
    assert_non_null(strstr(t, "│ … │\n"));
    free(t);
}

/* ---- throughput self-check (no timing assertion) ------------------------------------------ */

static const char *taxi_sql =
    "SELECT TIMESTAMP '2019-04-01 00:00:00' + to_seconds(i * 7) AS tpep_pickup_datetime, "
    "TIMESTAMP '2019-04-01 00:12:00' + to_seconds(i * 7) AS tpep_dropoff_datetime, "
    "(i % 2 + 1)::BIGINT AS vendor_id, (i % 6 + 1)::BIGINT AS passenger_count, "
    "((i % 300) / 10.0)::DOUBLE AS trip_distance, (i % 5 + 1)::BIGINT AS ratecode_id, "
    "CASE WHEN i % 9 = 0 THEN 'Y' ELSE 'N' END AS store_and_fwd_flag, (i % 265)::INTEGER AS "
    "pu_location_id, "
    "((i * 7) % 265)::INTEGER AS do_location_id, (i % 4 + 1)::BIGINT AS payment_type, "
    "((i % 500) / 10.0 + 2.5)::DOUBLE AS fare_amount, (i % 2 * 0.5)::DOUBLE AS extra, 0.5::DOUBLE "
    "AS mta_tax, "
    "((i % 40) / 10.0)::DOUBLE AS tip_amount, 0.0::DOUBLE AS tolls_amount, 0.3::DOUBLE AS "
    "improvement_surcharge, "
    "((i % 700) / 10.0 + 3.3)::DOUBLE AS total_amount FROM range(200000) t(i)";

static void test_taxi_like_rows_encode_to_parsable_json(void **state)
{
    qk_encode_stats st;
    char *j;
    json_t *arr, *row;
    (void)state;
    j = encode_opts(taxi_sql, QK_FMT_JSON, NULL, &st, (size_t)1 << 30);
    assert_int_equal(st.rows, 200000);
    assert_false(st.truncated);
    arr = parse_json(j);
    assert_int_equal(json_array_size(arr), 200000);
    row = json_array_get(arr, 199999);
    assert_int_equal(json_object_size(row), 17);
    assert_string_equal(json_string_value(json_object_get(row, "tpep_pickup_datetime")),
                        "2019-04-17T04:53:13");
    assert_true(json_real_value(json_object_get(row, "trip_distance")) == 19.9);
    assert_true(json_real_value(json_object_get(row, "improvement_surcharge")) == 0.3);
    json_decref(arr);
    free(j);
}

/* ---- formatting primitives ---------------------------------------------------------------- */

/* Significant digits of a number's text: no sign, point, exponent, leading or trailing zeros. */
static size_t sig_digits(const char *s)
{
    char d[64];
    size_t n = 0, i = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && n < sizeof d) d[n++] = *s;
    while (i < n && d[i] == '0')
        i++;
    while (n > i && d[n - 1] == '0')
        n--;
    return n - i;
}

static void test_double_formatter_is_shortest_and_round_trips(void **state)
{
    const double v[] = {0.1,
                        0.2,
                        0.30000000000000004,
                        1.0 / 3,
                        2.0 / 3,
                        5e-324,
                        2.2250738585072014e-308,
                        1.7976931348623157e308,
                        9007199254740992.0,
                        9007199254740993.0,
                        4294967295.999999,
                        4294967296.000001,
                        123.456,
                        1e-4,
                        9.9999999999999991e-5,
                        0.000123,
                        1e15 + 0.3,
                        299792.458,
                        6.02214076e23,
                        -2.5,
                        1234567.0000001,
                        100.0,
                        1e16,
                        0.5};
    char buf[64], shortest[64];
    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        buf[qk_fmt_double(buf, v[i])] = '\0';
        double back = strtod(buf, NULL);
        if (memcmp(&back, &v[i], sizeof back) != 0)
            fail_msg("%s does not read back as %.17g", buf, v[i]);
        for (int p = 1; p <= 17; p++) { /* the shortest decimal that reads back */
            snprintf(shortest, sizeof shortest, "%.*e", p - 1, v[i]);
            if (strtod(shortest, NULL) == v[i]) break;
        }
        if (sig_digits(buf) != sig_digits(shortest))
            fail_msg("%s is not as short as %s", buf, shortest);
    }
}

static void test_integer_formatters_cover_128_bits(void **state)
{
    char buf[64];
    (void)state;
    buf[qk_fmt_u128(buf, UINT64_MAX, UINT64_MAX)] = '\0';
    assert_string_equal(buf, "340282366920938463463374607431768211455");
    buf[qk_fmt_i128(buf, INT64_MIN, 0)] = '\0';
    assert_string_equal(buf, "-170141183460469231731687303715884105728");
    buf[qk_fmt_i128(buf, 0, 1000000000)] = '\0';
    assert_string_equal(buf, "1000000000");
    buf[qk_fmt_i128(buf, 1, 0)] = '\0';
    assert_string_equal(buf, "18446744073709551616");
    buf[qk_fmt_i64(buf, INT64_MIN)] = '\0';
    assert_string_equal(buf, "-9223372036854775808");
    buf[qk_fmt_decimal(buf, -1, (uint64_t)-5, 3)] = '\0';
    assert_string_equal(buf, "-0.005");
}

/* ---- setup -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    qk_engine_config cfg;
    qk_err err = {0};
    char lake[300], cache[300];
    (void)state;
    snprintf(root, sizeof root, "%s/qk-encode-XXXXXX", qk_env_str("TMPDIR", "/tmp"));
    if (!mkdtemp(root)) return -1;
    snprintf(lake, sizeof lake, "%s/lake", root);
    snprintf(cache, sizeof cache, "%s/cache", root);
    qk_engine_config_defaults(&cfg);
    cfg.lake = lake;
    cfg.cache_dir = cache;
    cfg.create_lake = true;
    cfg.threads = 2;
    if (qk_engine_open(&cfg, &eng, &err) != 0) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_engine_close(eng);
    qk_rmtree(root, false, NULL);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse_accepts_names_case_insensitively),
        cmocka_unit_test(test_format_parse_rejects_unknown_names),
        cmocka_unit_test(test_format_names_and_mime_types),
        cmocka_unit_test(test_opts_init_sets_defaults),
        cmocka_unit_test(test_columns_json_lists_names_and_types),
        cmocka_unit_test(test_json_records_are_an_array_of_objects),
        cmocka_unit_test(test_ndjson_writes_one_record_per_line),
        cmocka_unit_test(test_csv_has_header_crlf_and_empty_null),
        cmocka_unit_test(test_csv_header_can_be_left_out),
        cmocka_unit_test(test_csv_quotes_fields_with_separators_quotes_and_newlines),
        cmocka_unit_test(test_duplicate_column_names_are_kept_in_order),
        cmocka_unit_test(test_column_names_are_json_escaped),
        cmocka_unit_test(test_zero_rows_in_every_format),
        cmocka_unit_test(test_all_null_column_in_every_format),
        cmocka_unit_test(test_integers_are_exact_at_their_limits),
        cmocka_unit_test(test_hugeint_min_and_max_are_exact),
        cmocka_unit_test(test_decimals_are_exact_with_their_scale),
        cmocka_unit_test(test_doubles_print_like_duckdb_and_read_back_exactly),
        cmocka_unit_test(test_double_special_values_are_json_strings),
        cmocka_unit_test(test_floats_print_shortest_like_duckdb),
        cmocka_unit_test(test_booleans_are_true_and_false),
        cmocka_unit_test(test_bignum_prints_all_digits),
        cmocka_unit_test(test_dates_are_iso_in_json_and_duckdb_text_in_csv),
        cmocka_unit_test(test_times_print_fractions_only_when_non_zero),
        cmocka_unit_test(test_types_hidden_by_the_c_api_are_refused),
        cmocka_unit_test(test_timestamps_are_iso_8601_in_json),
        cmocka_unit_test(test_timestamps_print_like_duckdb_in_csv),
        cmocka_unit_test(test_intervals_are_iso_durations_in_json),
        cmocka_unit_test(test_intervals_print_like_duckdb_in_csv),
        cmocka_unit_test(test_uuids_are_canonical_lowercase),
        cmocka_unit_test(test_blobs_are_base64_in_json_and_csv),
        cmocka_unit_test(test_blobs_are_escaped_text_in_the_table),
        cmocka_unit_test(test_strings_are_json_escaped),
        cmocka_unit_test(test_invalid_utf8_becomes_replacement_character),
        cmocka_unit_test(test_enums_are_their_dictionary_strings),
        cmocka_unit_test(test_bits_are_strings_of_zeros_and_ones),
        cmocka_unit_test(test_nested_types_are_json),
        cmocka_unit_test(test_maps_are_objects_with_varchar_keys_else_pair_lists),
        cmocka_unit_test(test_unions_are_their_active_member),
        cmocka_unit_test(test_nested_values_in_csv_are_quoted_json),
        cmocka_unit_test(test_nested_nulls_across_many_rows),
        cmocka_unit_test(test_byte_cap_keeps_json_valid_and_sets_truncated),
        cmocka_unit_test(test_byte_cap_exact_fit_is_not_truncated),
        cmocka_unit_test(test_byte_cap_ends_csv_with_a_complete_line),
        cmocka_unit_test(test_byte_cap_closes_the_table_box),
        cmocka_unit_test(test_buffer_maximum_acts_as_a_cap),
        cmocka_unit_test(test_byte_cap_too_small_for_json_brackets_is_an_error),
        cmocka_unit_test(test_encoding_appends_after_existing_content),
        cmocka_unit_test(test_table_draws_a_duckdb_style_box),
        cmocka_unit_test(test_table_right_aligns_numbers_and_shows_null),
        cmocka_unit_test(test_table_type_names_are_duckdb_cli_names),
        cmocka_unit_test(test_table_cuts_wide_values_with_an_ellipsis),
        cmocka_unit_test(test_table_cuts_huge_values_within_a_small_buffer),
        cmocka_unit_test(test_csv_header_that_does_not_fit_gives_empty_truncated_output),
        cmocka_unit_test(test_table_escapes_control_characters),
        cmocka_unit_test(test_table_counts_wide_characters_as_two_columns),
        cmocka_unit_test(test_table_shrinks_wide_columns_to_the_width),
        cmocka_unit_test(test_table_cuts_names_and_text_but_not_numbers_or_timestamps),
        cmocka_unit_test(test_table_drops_trailing_columns_when_still_too_wide),
        cmocka_unit_test(test_taxi_like_rows_encode_to_parsable_json),
        cmocka_unit_test(test_double_formatter_is_shortest_and_round_trips),
        cmocka_unit_test(test_integer_formatters_cover_128_bits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
