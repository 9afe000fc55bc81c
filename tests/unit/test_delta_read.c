/* SPDX-License-Identifier: MIT */
/*
 * test_delta_read.c: the Delta reader (src/delta) over tables other engines wrote
 * (tests/fixtures/delta-rs, copied into the test's lake) and over broken logs made here.
 * Each fixture fact of tests/fixtures/delta-rs/README.md is checked by running the scan SQL in
 * DuckDB; a differential check compares the scan with a plain read_parquet per listed file
 * plus the log's partition values. Broken logs: a corrupt JSON line, a truncated checkpoint,
 * a version gap, an unknown reader version, a missing data file; timestamps come from mtimes
 * the test sets (git keeps none) and from inCommitTimestamp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "delta/delta.h"
#include "unit_engine.h"

static char dir[] = "/tmp/qk-test-delta-XXXXXX";
static char lake_dir[600];
static qk_engine *eng;
static qk_store *lake;
static qk_err err;

/* ---- helpers ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    char src[1024];
    const char *slash = strrchr(__FILE__, '/');
    (void)state;
    if (!mkdtemp(dir) || qk_test_engine_open(dir, true, &eng)) return -1;
    snprintf(lake_dir, sizeof lake_dir, "%s/lake", dir);
    snprintf(src, sizeof src, "%.*s/../fixtures/delta-rs", (int)(slash - __FILE__), __FILE__);
    if (qk_test_sh("cp -r '%s/.' '%s/'", src, lake_dir)) return -1;
    return qk_store_open(lake_dir, &lake, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_store_destroy(lake);
    return qk_test_engine_done(eng, dir);
}

static int load_at(const char *table, int kind, int64_t v, qk_delta_snapshot **snap)
{
    qk_delta_at at = {kind, v, v};
    qk_err_clear(&err);
    return qk_delta_snapshot_load(eng, lake, table, &at, snap, &err);
}

static qk_delta_snapshot *load_ok(const char *table, int kind, int64_t v)
{
    qk_delta_snapshot *snap = NULL;
    int rc = load_at(table, kind, v, &snap);
    if (rc) fprintf(stderr, "load %s: %s\n", table, err.msg);
    assert_int_equal(rc, 0);
    return snap;
}

/* The first cell of a query as text (caller frees); NULL for SQL NULL. Fails on errors. */
static char *cell(const char *sql)
{
    char *out = NULL;
    assert_int_equal(qk_test_cell(eng, sql, &out), 0);
    return out;
}

/* The scan SQL of snap for the lake table. */
static void scan_sql(const qk_delta_snapshot *snap, const char *table, qk_buf *b)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "%s/%s", lake_dir, table);
    qk_buf_init(b, 64u << 20);
    assert_int_equal(qk_delta_scan_sql(snap, uri, NULL, b, &err), 0);
}

/* Run "SELECT <expr> FROM (<scan>)" and compare its text with want. */
static void expect_scan(const qk_delta_snapshot *snap, const char *table, const char *expr,
                        const char *want)
{
    qk_buf b, q;
    char *got;
    scan_sql(snap, table, &b);
    qk_buf_init(&q, 64u << 20);
    assert_int_equal(qk_buf_printf(&q, "SELECT %s FROM (%s)", expr, qk_buf_cstr(&b)), 0);
    got = cell(qk_buf_cstr(&q));
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    qk_buf_free(&q);
    qk_buf_free(&b);
}

/* The reference: one read_parquet per listed file, its partition values as constants. */
static void reference_sql(const qk_delta_snapshot *snap, const char *table, qk_buf *b)
{
    const qk_delta_metadata *m = &snap->metadata;
    qk_buf_init(b, 64u << 20);
    for (size_t i = 0; i < snap->nfiles; i++) {
        const qk_delta_file *f = &snap->files[i];
        assert_int_equal(qk_buf_adds(b, i ? " UNION ALL SELECT " : "SELECT "), 0);
        for (size_t j = 0; j < m->ncolumns; j++) {
            const qk_delta_column *c = &m->columns[j];
            const char *pv = c->partition >= 0 ? f->partition_values[c->partition] : NULL;
            if (j) assert_int_equal(qk_buf_adds(b, ", "), 0);
            if (c->partition < 0)
                qk_buf_printf(b, "CAST(\"%s\" AS %s)", c->name, c->type);
            else if (pv)
                qk_buf_printf(b, "CAST('%s' AS %s)", pv, c->type);
            else
                qk_buf_printf(b, "CAST(NULL AS %s)", c->type);
        }
        qk_buf_printf(b, " FROM read_parquet('%s/%s/%s', hive_partitioning = false)", lake_dir,
                      table, f->path);
    }
}

/* Differential: the scan and the reference hold the same multiset of rows. */
static void expect_same_as_reference(const qk_delta_snapshot *snap, const char *table)
{
    qk_buf s, r, q;
    char *got;
    scan_sql(snap, table, &s);
    reference_sql(snap, table, &r);
    qk_buf_init(&q, 128u << 20);
    qk_buf_printf(&q,
                  "SELECT (SELECT count(*) FROM ((%s) EXCEPT ALL (%s))) + (SELECT count(*) FROM "
                  "((%s) EXCEPT ALL (%s))) + abs((SELECT count(*) FROM (%s)) - (SELECT count(*) "
                  "FROM (%s)))",
                  qk_buf_cstr(&s), qk_buf_cstr(&r), qk_buf_cstr(&r), qk_buf_cstr(&s),
                  qk_buf_cstr(&s), qk_buf_cstr(&r));
    got = cell(qk_buf_cstr(&q));
    assert_string_equal(got, "0");
    free(got);
    qk_buf_free(&q);
    qk_buf_free(&r);
    qk_buf_free(&s);
}

/* Copy a fixture table to a new name inside the lake. */
static void copy_table(const char *from, const char *to)
{
    assert_int_equal(qk_test_sh("rm -rf '%s/%s' && cp -r '%s/%s' '%s/%s'", lake_dir, to, lake_dir,
                                from, lake_dir, to),
                     0);
}

static void put(const char *key, const char *data)
{
    assert_int_equal(qk_store_put(lake, key, data, strlen(data), &err), 0);
}

static void set_mtime(const char *table, int64_t version, int64_t ms)
{
    char path[1024];
    struct timeval tv[2];
    snprintf(path, sizeof path, "%s/%s/_delta_log/%020lld.json", lake_dir, table,
             (long long)version);
    tv[0].tv_sec = tv[1].tv_sec = (time_t)(ms / 1000);
    tv[0].tv_usec = tv[1].tv_usec = (suseconds_t)(ms % 1000) * 1000;
    assert_int_equal(utimes(path, tv), 0);
}

/* ---- schema ------------------------------------------------------------------------------- */

static void expect_type(const char *spark_json, const char *want, int want_rc)
{
    json_t *t = json_loads(spark_json, JSON_DECODE_ANY, NULL);
    qk_buf b;
    qk_buf_init(&b, 4096);
    assert_non_null(t);
    assert_int_equal(qk_delta_type_of(t, &b, &err), want_rc);
    if (!want_rc) assert_string_equal(qk_buf_cstr(&b), want);
    qk_buf_free(&b);
    json_decref(t);
}

static void test_type_of_maps_spark_types(void **state)
{
    (void)state;
    expect_type("\"string\"", "VARCHAR", 0);
    expect_type("\"long\"", "BIGINT", 0);
    expect_type("\"integer\"", "INTEGER", 0);
    expect_type("\"short\"", "SMALLINT", 0);
    expect_type("\"byte\"", "TINYINT", 0);
    expect_type("\"float\"", "FLOAT", 0);
    expect_type("\"double\"", "DOUBLE", 0);
    expect_type("\"boolean\"", "BOOLEAN", 0);
    expect_type("\"binary\"", "BLOB", 0);
    expect_type("\"date\"", "DATE", 0);
    expect_type("\"timestamp\"", "TIMESTAMP WITH TIME ZONE", 0);
    expect_type("\"timestamp_ntz\"", "TIMESTAMP", 0);
    expect_type("\"decimal(10,2)\"", "DECIMAL(10,2)", 0);
    expect_type("\"decimal(38, 0)\"", "DECIMAL(38,0)", 0);
    expect_type("{\"type\":\"array\",\"elementType\":\"long\",\"containsNull\":true}", "BIGINT[]",
                0);
    expect_type("{\"type\":\"map\",\"keyType\":\"string\",\"valueType\":{\"type\":\"array\","
                "\"elementType\":\"date\"}}",
                "MAP(VARCHAR, DATE[])", 0);
    expect_type("{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"integer\"},"
                "{\"name\":\"b\\\"c\",\"type\":{\"type\":\"struct\",\"fields\":[{\"name\":\"d\","
                "\"type\":\"double\"}]}}]}",
                "STRUCT(\"a\" INTEGER, \"b\"\"c\" STRUCT(\"d\" DOUBLE))", 0);
}

static void test_type_of_refuses_bad_and_unknown_types(void **state)
{
    (void)state;
    expect_type("\"decimal(39,2)\"", NULL, QK_EPARSE);
    expect_type("\"decimal(10\"", NULL, QK_EPARSE);
    expect_type("\"variant\"", NULL, QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "variant"));
    expect_type("\"interval\"", NULL, QK_EUNSUPPORTED);
    expect_type("{\"type\":\"array\"}", NULL, QK_EPARSE);
    expect_type("42", NULL, QK_EPARSE);
}

/* ---- fixtures ----------------------------------------------------------------------------- */

static void test_simple_table_latest_is_v4_with_5_files_ids_5_7_9(void **state)
{
    qk_delta_snapshot *snap = load_ok("simple_table", QK_DELTA_AT_LATEST, 0);
    (void)state;
    assert_int_equal(snap->version, 4); /* .tmp/00000000000000000005.json is ignored */
    assert_int_equal(snap->nfiles, 5);
    assert_int_equal(snap->checkpoint_version, -1);
    assert_int_equal(snap->metadata.ncolumns, 1);
    assert_string_equal(snap->metadata.columns[0].type, "BIGINT");
    expect_scan(snap, "simple_table", "list(id ORDER BY id)", "[5, 7, 9]");
    expect_same_as_reference(snap, "simple_table");
    qk_delta_snapshot_destroy(snap);
}

static void test_simple_table_at_version_0(void **state)
{
    qk_delta_snapshot *snap = load_ok("simple_table", QK_DELTA_AT_VERSION, 0);
    (void)state;
    assert_int_equal(snap->version, 0);
    expect_scan(snap, "simple_table", "list(id ORDER BY id)", "[0, 1, 2, 3, 4]");
    qk_delta_snapshot_destroy(snap);
}

static void test_checkpoint_table_has_11_files(void **state)
{
    qk_delta_snapshot *snap = load_ok("simple_table_with_checkpoint", QK_DELTA_AT_LATEST, 0);
    (void)state;
    assert_int_equal(snap->checkpoint_version, 10);
    assert_int_equal(snap->nfiles, 11);
    expect_same_as_reference(snap, "simple_table_with_checkpoint");
    qk_delta_snapshot_destroy(snap);
}

static void test_delta_080_v0_has_5_rows_v1_has_4_with_stats(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.8.0", QK_DELTA_AT_VERSION, 0);
    (void)state;
    expect_scan(snap, "delta-0.8.0", "count(*)", "5");
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("delta-0.8.0", QK_DELTA_AT_VERSION, 1);
    expect_scan(snap, "delta-0.8.0", "count(*)", "4");
    for (size_t i = 0; i < snap->nfiles; i++) {
        assert_true(snap->files[i].num_records >= 0);
        assert_non_null(snap->files[i].min_values);
        assert_non_null(json_object_get(snap->files[i].null_count, "value"));
    }
    expect_same_as_reference(snap, "delta-0.8.0");
    qk_delta_snapshot_destroy(snap);
}

static void test_delta_020_v2_values_and_txn(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.2.0", QK_DELTA_AT_VERSION, 2);
    (void)state;
    expect_scan(snap, "delta-0.2.0", "list(value ORDER BY value)", "[1, 2, 3]");
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("delta-0.2.0", QK_DELTA_AT_LATEST, 0);
    assert_int_equal(snap->checkpoint_version, 3);
    assert_int_equal(snap->ntxns, 1);
    assert_string_equal(snap->txns[0].app_id, "e4a20b59-dd0e-4c50-b074-e8ae4786df30");
    assert_int_equal(snap->txns[0].version, 0);
    assert_int_equal(snap->txns[0].last_updated, 1564524299648);
    expect_same_as_reference(snap, "delta-0.2.0");
    qk_delta_snapshot_destroy(snap);
}

static void test_partitioned_table_has_7_rows_typed_from_the_log(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.8.0-partitioned", QK_DELTA_AT_LATEST, 0);
    (void)state;
    assert_int_equal(snap->metadata.npartition_columns, 3);
    expect_scan(snap, "delta-0.8.0-partitioned", "count(*)", "7");
    expect_scan(snap, "delta-0.8.0-partitioned",
                "string_agg(DISTINCT year || '-' || month, ',' ORDER BY year || '-' || month)",
                "2020-1,2020-2,2021-12,2021-4");
    expect_same_as_reference(snap, "delta-0.8.0-partitioned");
    qk_delta_snapshot_destroy(snap);
}

static void test_null_partition_reads_as_null(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.8.0-null-partition", QK_DELTA_AT_LATEST, 0);
    int nulls = 0;
    (void)state;
    assert_int_equal(snap->nfiles, 2);
    for (size_t i = 0; i < snap->nfiles; i++)
        nulls += !snap->files[i].partition_values[0];
    assert_int_equal(nulls, 1);
    expect_scan(snap, "delta-0.8.0-null-partition", "count(*) FILTER (WHERE k IS NULL) > 0",
                "true");
    expect_same_as_reference(snap, "delta-0.8.0-null-partition");
    qk_delta_snapshot_destroy(snap);
}

static void test_special_partition_path_decoded_exactly_once(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.8.0-special-partition", QK_DELTA_AT_LATEST, 0);
    bool escaped = false;
    (void)state;
    for (size_t i = 0; i < snap->nfiles; i++)
        escaped |= strstr(snap->files[i].path, "x=A%2FA/") == snap->files[i].path;
    assert_true(escaped);
    expect_scan(snap, "delta-0.8.0-special-partition", "string_agg(DISTINCT x, '|' ORDER BY x)",
                "A/A|B B");
    expect_same_as_reference(snap, "delta-0.8.0-special-partition");
    qk_delta_snapshot_destroy(snap);
}

static void test_partitioned_types_table_has_3_rows(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-2.2.0-partitioned-types", QK_DELTA_AT_LATEST, 0);
    (void)state;
    expect_scan(snap, "delta-2.2.0-partitioned-types", "count(*)", "3");
    expect_scan(snap, "delta-2.2.0-partitioned-types", "typeof(c1)", "INTEGER");
    expect_same_as_reference(snap, "delta-2.2.0-partitioned-types");
    qk_delta_snapshot_destroy(snap);
}

static void test_partition_type_primitives_has_16_rows(void **state)
{
    qk_delta_snapshot *snap = load_ok("partition-type-primitives", QK_DELTA_AT_LATEST, 0);
    (void)state;
    expect_scan(snap, "partition-type-primitives", "count(*)", "16");
    expect_scan(snap, "partition-type-primitives",
                "typeof(year) || ',' || typeof(is_active) || ',' || typeof(event_date)",
                "VARCHAR,VARCHAR,VARCHAR"); /* the schema says string: typed per the schema */
    expect_scan(snap, "partition-type-primitives", "string_agg(DISTINCT year, ',' ORDER BY year)",
                "2020,2021.0");
    expect_same_as_reference(snap, "partition-type-primitives");
    qk_delta_snapshot_destroy(snap);
}

static void test_http_requests_has_1581_rows_and_empty_v0(void **state)
{
    qk_delta_snapshot *snap = load_ok("http_requests", QK_DELTA_AT_LATEST, 0);
    (void)state;
    expect_scan(snap, "http_requests", "count(*)", "1581");
    expect_same_as_reference(snap, "http_requests");
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("http_requests", QK_DELTA_AT_VERSION, 0);
    assert_int_equal(snap->nfiles, 0);
    expect_scan(snap, "http_requests", "count(*)", "0");
    qk_delta_snapshot_destroy(snap);
}

static void test_cdf_table_reads_from_v3_checkpoint(void **state)
{
    qk_delta_snapshot *snap = load_ok("checkpoint-cdf-table", QK_DELTA_AT_LATEST, 0);
    qk_delta_snapshot *old = NULL;
    (void)state;
    assert_int_equal(snap->checkpoint_version, 3);
    assert_int_equal(snap->version, 5);
    expect_same_as_reference(snap, "checkpoint-cdf-table");
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("checkpoint-cdf-table", QK_DELTA_AT_VERSION, 3);
    assert_int_equal(snap->checkpoint_version, 3);
    assert_true(snap->nfiles > 0);
    qk_delta_snapshot_destroy(snap);
    assert_int_equal(load_at("checkpoint-cdf-table", QK_DELTA_AT_VERSION, 2, &old), QK_ENOTFOUND);
    assert_null(old);
    assert_non_null(strstr(err.msg, "version 2 can no longer be read"));
}

static void test_stale_last_checkpoint_is_not_trusted(void **state)
{
    qk_delta_snapshot *snap = load_ok("table_failed_last_checkpoint_update", QK_DELTA_AT_LATEST, 0);
    (void)state;
    assert_int_equal(snap->version, 3);
    assert_int_equal(snap->checkpoint_version, 3);
    expect_scan(snap, "table_failed_last_checkpoint_update", "count(*)", "20");
    qk_delta_snapshot_destroy(snap);
}

static void test_checkpoint_without_last_checkpoint_file(void **state)
{
    qk_delta_snapshot *snap = load_ok("with_checkpoint_no_last_checkpoint", QK_DELTA_AT_LATEST, 0);
    (void)state;
    assert_int_equal(snap->version, 3);
    assert_int_equal(snap->checkpoint_version, 2);
    assert_int_equal(snap->nfiles, 1);
    qk_delta_snapshot_destroy(snap);
}

static void test_deletion_vectors_refused_by_name(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    assert_int_equal(load_at("table-with-dv-small", QK_DELTA_AT_LATEST, 0, &snap), QK_EUNSUPPORTED);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "deletionVectors"));
}

static void test_column_mapping_refused_by_name(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    assert_int_equal(load_at("table_with_column_mapping", QK_DELTA_AT_LATEST, 0, &snap),
                     QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "columnMapping"));
}

static void test_version_past_latest_not_found(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    assert_int_equal(load_at("simple_table", QK_DELTA_AT_VERSION, 5, &snap), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "latest is 4"));
    assert_int_equal(load_at("no_such_table", QK_DELTA_AT_LATEST, 0, &snap), QK_ENOTFOUND);
}

/* ---- made-up logs ------------------------------------------------------------------------- */

static void test_unknown_files_actions_and_fields_ignored(void **state)
{
    qk_delta_snapshot *snap;
    (void)state;
    copy_table("delta-0.8.0", "t_unknown");
    put("t_unknown/_delta_log/00000000000000000002.json",
        "{\"commitInfo\":{\"operation\":\"x\"}}\n{\"futureAction\":{\"a\":1}}\n"
        "{\"cdc\":{\"path\":\"_change_data/x.parquet\"}}\n"
        "{\"txn\":{\"appId\":\"app\",\"version\":7,\"futureField\":true}}\n\n");
    put("t_unknown/_delta_log/00000000000000000002.crc", "{}");
    put("t_unknown/_delta_log/_commits/00000000000000000003.uuid.json", "garbage");
    put("t_unknown/_delta_log/.tmp/00000000000000000003.json", "garbage");
    put("t_unknown/_delta_log/00000000000000000003.checkpoint.abc.parquet", "garbage");
    snap = load_ok("t_unknown", QK_DELTA_AT_LATEST, 0);
    assert_int_equal(snap->version, 2);
    assert_int_equal(snap->ntxns, 1);
    assert_int_equal(snap->txns[0].version, 7);
    expect_scan(snap, "t_unknown", "count(*)", "4");
    qk_delta_snapshot_destroy(snap);
}

static void test_column_missing_from_files_reads_as_null(void **state)
{
    qk_delta_snapshot *snap;
    (void)state;
    copy_table("delta-0.8.0", "t_evolved");
    put("t_evolved/_delta_log/00000000000000000002.json",
        "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\"},\"schemaString\":"
        "\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"value\\\",\\\"type\\\":"
        "\\\"integer\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}},{\\\"name\\\":\\\"extra\\\","
        "\\\"type\\\":\\\"decimal(12,3)\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","
        "\"partitionColumns\":[],\"configuration\":{}}}\n");
    snap = load_ok("t_evolved", QK_DELTA_AT_LATEST, 0);
    assert_int_equal(snap->metadata.ncolumns, 2);
    expect_scan(snap, "t_evolved",
                "count(*) || ',' || count(extra) || ',' || typeof(any_value(extra))",
                "4,0,DECIMAL(12,3)");
    qk_delta_snapshot_destroy(snap);
}

static void test_remove_then_add_again_is_active(void **state)
{
    qk_delta_snapshot *snap, *v1;
    char line[2048];
    (void)state;
    v1 = load_ok("delta-0.8.0", QK_DELTA_AT_VERSION, 1);
    copy_table("delta-0.8.0", "t_readd");
    snprintf(line, sizeof line, "{\"remove\":{\"path\":\"%s\",\"dataChange\":true}}\n",
             v1->files[0].path);
    put("t_readd/_delta_log/00000000000000000002.json", line);
    snprintf(line, sizeof line,
             "{\"add\":{\"path\":\"%s\",\"partitionValues\":{},\"size\":1,"
             "\"modificationTime\":1,\"dataChange\":true}}\n",
             v1->files[0].path);
    put("t_readd/_delta_log/00000000000000000003.json", line);
    snap = load_ok("t_readd", QK_DELTA_AT_VERSION, 2);
    assert_int_equal(snap->nfiles, v1->nfiles - 1);
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("t_readd", QK_DELTA_AT_VERSION, 3);
    assert_int_equal(snap->nfiles, v1->nfiles);
    assert_int_equal(snap->files[0].size + snap->files[1].size > 0, 1);
    qk_delta_snapshot_destroy(snap);
    qk_delta_snapshot_destroy(v1);
}

static void test_corrupt_json_line_names_file_and_line(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    copy_table("delta-0.8.0", "t_corrupt");
    put("t_corrupt/_delta_log/00000000000000000002.json",
        "{\"commitInfo\":{}}\n{\"add\":{\"path\":\"x.parquet\",\"size\":1\n");
    assert_int_equal(load_at("t_corrupt", QK_DELTA_AT_LATEST, 0, &snap), QK_EPARSE);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "t_corrupt/_delta_log/00000000000000000002.json:2"));
    snap = load_ok("t_corrupt", QK_DELTA_AT_VERSION, 1); /* earlier versions still read */
    qk_delta_snapshot_destroy(snap);
}

static void test_truncated_checkpoint_is_an_error(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    copy_table("simple_table_with_checkpoint", "t_trunc");
    assert_int_equal(
        qk_test_sh("truncate -s 100 '%s/t_trunc/_delta_log/00000000000000000010.checkpoint"
                   ".parquet'",
                   lake_dir),
        0);
    assert_int_not_equal(load_at("t_trunc", QK_DELTA_AT_LATEST, 0, &snap), 0);
    assert_null(snap);
    assert_non_null(strstr(err.msg, "checkpoint t_trunc/_delta_log/00000000000000000010"));
}

static void test_version_gap_names_missing_commit(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    copy_table("simple_table", "t_gap");
    assert_int_equal(qk_test_sh("rm '%s/t_gap/_delta_log/00000000000000000002.json'", lake_dir), 0);
    assert_int_equal(load_at("t_gap", QK_DELTA_AT_LATEST, 0, &snap), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "00000000000000000002.json is missing"));
    snap = load_ok("t_gap", QK_DELTA_AT_VERSION, 1);
    qk_delta_snapshot_destroy(snap);
}

static void test_reader_version_99_refused(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    put("t_v99/_delta_log/00000000000000000000.json",
        "{\"protocol\":{\"minReaderVersion\":99,\"minWriterVersion\":99}}\n"
        "{\"metaData\":{\"id\":\"x\",\"schemaString\":\"{\\\"type\\\":\\\"struct\\\","
        "\\\"fields\\\":[]}\",\"partitionColumns\":[]}}\n");
    assert_int_equal(load_at("t_v99", QK_DELTA_AT_LATEST, 0, &snap), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "reader version 99"));
}

/* Split the v10 checkpoint into two parts with DuckDB. */
static void split_checkpoint(const char *table, bool both)
{
    char sql[4096], cp[1024];
    snprintf(cp, sizeof cp, "%s/%s/_delta_log/00000000000000000010.checkpoint", lake_dir, table);
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM read_parquet('%s.parquet') WHERE add IS NULL) TO "
             "'%s.0000000001.0000000002.parquet' (FORMAT parquet)",
             cp, cp);
    assert_int_equal(qk_test_exec(eng, sql), 0);
    snprintf(sql, sizeof sql,
             "COPY (SELECT * FROM read_parquet('%s.parquet') WHERE add IS NOT NULL) TO "
             "'%s.0000000002.0000000002.parquet' (FORMAT parquet)",
             cp, cp);
    if (both) assert_int_equal(qk_test_exec(eng, sql), 0);
    assert_int_equal(qk_test_sh("rm '%s.parquet'", cp), 0);
}

static void test_multi_part_checkpoint_needs_all_parts(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    copy_table("simple_table_with_checkpoint", "t_multi");
    split_checkpoint("t_multi", true);
    assert_int_equal(
        qk_test_sh("rm '%s/t_multi/_delta_log/'0000000000000000000[0-9].json", lake_dir), 0);
    snap = load_ok("t_multi", QK_DELTA_AT_LATEST, 0);
    assert_int_equal(snap->checkpoint_version, 10);
    assert_int_equal(snap->nfiles, 11);
    qk_delta_snapshot_destroy(snap);
    snap = NULL;
    /* Only part 1 of 2: the checkpoint is unusable, and with the commits gone so is v10. */
    copy_table("simple_table_with_checkpoint", "t_multi1");
    split_checkpoint("t_multi1", false);
    snap = load_ok("t_multi1", QK_DELTA_AT_LATEST, 0); /* commits 0-10 still there */
    assert_int_equal(snap->checkpoint_version, -1);
    assert_int_equal(snap->nfiles, 11);
    qk_delta_snapshot_destroy(snap);
    snap = NULL;
    assert_int_equal(
        qk_test_sh("rm '%s/t_multi1/_delta_log/'0000000000000000000[0-9].json", lake_dir), 0);
    assert_int_equal(load_at("t_multi1", QK_DELTA_AT_LATEST, 0, &snap), QK_ENOTFOUND);
}

static void test_timestamp_picks_last_commit_at_or_before(void **state)
{
    qk_delta_snapshot *snap = NULL;
    (void)state;
    copy_table("delta-0.8.0", "t_time");
    set_mtime("t_time", 0, 1600000000000);
    set_mtime("t_time", 1, 1700000000000);
    snap = load_ok("t_time", QK_DELTA_AT_TIMESTAMP, 1650000000000);
    assert_int_equal(snap->version, 0);
    assert_int_equal(snap->timestamp_ms, 1600000000000);
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("t_time", QK_DELTA_AT_TIMESTAMP, 1700000000000);
    assert_int_equal(snap->version, 1);
    assert_int_equal(snap->timestamp_ms, 1700000000000);
    qk_delta_snapshot_destroy(snap);
    snap = NULL;
    assert_int_equal(load_at("t_time", QK_DELTA_AT_TIMESTAMP, 1500000000000, &snap), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "before the first commit"));
}

static void test_timestamp_prefers_in_commit_timestamp(void **state)
{
    qk_delta_snapshot *snap;
    (void)state;
    copy_table("delta-0.8.0", "t_ict");
    assert_int_equal(
        qk_test_sh("cd '%s/t_ict/_delta_log' && for v in 0 1; do f=0000000000000000000$v.json;"
                   " { echo '{\"commitInfo\":{\"inCommitTimestamp\":'$((5000 + v * 1000))'}}';"
                   " cat $f; } > x && mv x $f; done",
                   lake_dir),
        0);
    set_mtime("t_ict", 0, 1700000000000); /* mtimes say otherwise: ignored */
    set_mtime("t_ict", 1, 1600000000000);
    snap = load_ok("t_ict", QK_DELTA_AT_TIMESTAMP, 5500);
    assert_int_equal(snap->version, 0);
    assert_int_equal(snap->timestamp_ms, 5000);
    qk_delta_snapshot_destroy(snap);
    snap = load_ok("t_ict", QK_DELTA_AT_LATEST, 0);
    assert_int_equal(snap->timestamp_ms, 6000);
    qk_delta_snapshot_destroy(snap);
}

static void test_missing_data_file_is_a_clear_error(void **state)
{
    qk_delta_snapshot *snap;
    qk_buf b, q;
    duckdb_connection con;
    duckdb_result res;
    (void)state;
    copy_table("delta-0.8.0", "t_vacuumed");
    snap = load_ok("t_vacuumed", QK_DELTA_AT_VERSION, 0);
    qk_obj_list listed = {0}, none = {0};
    assert_int_equal(qk_delta_check_files(lake, "t_vacuumed", snap, NULL, &err), 0);
    /* a caller's listing that has every file settles it; one that lacks some is checked afresh */
    assert_int_equal(qk_store_list_collect(lake, "t_vacuumed/", &listed, &err), 0);
    assert_int_equal(qk_delta_check_files(lake, "t_vacuumed", snap, &listed, &err), 0);
    assert_int_equal(qk_delta_check_files(lake, "t_vacuumed", snap, &none, &err), 0);
    qk_obj_list_free(&listed);
    assert_int_equal(qk_test_sh("rm '%s/t_vacuumed/%s'", lake_dir, snap->files[0].path), 0);
    assert_int_equal(qk_delta_check_files(lake, "t_vacuumed", snap, NULL, &err), QK_ENOTFOUND);
    assert_int_equal(qk_delta_check_files(lake, "t_vacuumed", snap, &none, &err), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, snap->files[0].path));
    assert_non_null(strstr(err.msg, "version 0"));
    /* and the scan fails rather than returning the other files' rows */
    scan_sql(snap, "t_vacuumed", &b);
    qk_buf_init(&q, 64u << 20);
    qk_buf_printf(&q, "SELECT count(*) FROM (%s)", qk_buf_cstr(&b));
    assert_int_equal(duckdb_connect(qk_engine_db(eng), &con), DuckDBSuccess);
    assert_int_equal(duckdb_query(con, qk_buf_cstr(&q), &res), DuckDBError);
    duckdb_destroy_result(&res);
    duckdb_disconnect(&con);
    qk_buf_free(&q);
    qk_buf_free(&b);
    qk_delta_snapshot_destroy(snap);
}

static void test_scan_keeps_only_selected_files(void **state)
{
    qk_delta_snapshot *snap = load_ok("delta-0.8.0-partitioned", QK_DELTA_AT_LATEST, 0);
    bool *keep = calloc(snap->nfiles, sizeof *keep);
    char uri[1024], *got;
    qk_buf b, q;
    (void)state;
    keep[0] = true;
    snprintf(uri, sizeof uri, "%s/delta-0.8.0-partitioned", lake_dir);
    qk_buf_init(&b, 1u << 20);
    qk_buf_init(&q, 1u << 20);
    assert_int_equal(qk_delta_scan_sql(snap, uri, keep, &b, &err), 0);
    qk_buf_printf(&q, "SELECT count(DISTINCT (year, month, day)) FROM (%s)", qk_buf_cstr(&b));
    got = cell(qk_buf_cstr(&q));
    assert_string_equal(got, "1");
    free(got);
    memset(keep, 0, snap->nfiles * sizeof *keep);
    qk_buf_truncate(&b, 0);
    qk_buf_truncate(&q, 0);
    assert_int_equal(qk_delta_scan_sql(snap, uri, keep, &b, &err), 0);
    qk_buf_printf(&q, "SELECT count(*) FROM (%s)", qk_buf_cstr(&b));
    got = cell(qk_buf_cstr(&q));
    assert_string_equal(got, "0");
    free(got);
    qk_buf_free(&q);
    qk_buf_free(&b);
    free(keep);
    qk_delta_snapshot_destroy(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_of_maps_spark_types),
        cmocka_unit_test(test_type_of_refuses_bad_and_unknown_types),
        cmocka_unit_test(test_simple_table_latest_is_v4_with_5_files_ids_5_7_9),
        cmocka_unit_test(test_simple_table_at_version_0),
        cmocka_unit_test(test_checkpoint_table_has_11_files),
        cmocka_unit_test(test_delta_080_v0_has_5_rows_v1_has_4_with_stats),
        cmocka_unit_test(test_delta_020_v2_values_and_txn),
        cmocka_unit_test(test_partitioned_table_has_7_rows_typed_from_the_log),
        cmocka_unit_test(test_null_partition_reads_as_null),
        cmocka_unit_test(test_special_partition_path_decoded_exactly_once),
        cmocka_unit_test(test_partitioned_types_table_has_3_rows),
        cmocka_unit_test(test_partition_type_primitives_has_16_rows),
        cmocka_unit_test(test_http_requests_has_1581_rows_and_empty_v0),
        cmocka_unit_test(test_cdf_table_reads_from_v3_checkpoint),
        cmocka_unit_test(test_stale_last_checkpoint_is_not_trusted),
        cmocka_unit_test(test_checkpoint_without_last_checkpoint_file),
        cmocka_unit_test(test_deletion_vectors_refused_by_name),
        cmocka_unit_test(test_column_mapping_refused_by_name),
        cmocka_unit_test(test_version_past_latest_not_found),
        cmocka_unit_test(test_unknown_files_actions_and_fields_ignored),
        cmocka_unit_test(test_column_missing_from_files_reads_as_null),
        cmocka_unit_test(test_remove_then_add_again_is_active),
        cmocka_unit_test(test_corrupt_json_line_names_file_and_line),
        cmocka_unit_test(test_truncated_checkpoint_is_an_error),
        cmocka_unit_test(test_version_gap_names_missing_commit),
        cmocka_unit_test(test_reader_version_99_refused),
        cmocka_unit_test(test_multi_part_checkpoint_needs_all_parts),
        cmocka_unit_test(test_timestamp_picks_last_commit_at_or_before),
        cmocka_unit_test(test_timestamp_prefers_in_commit_timestamp),
        cmocka_unit_test(test_missing_data_file_is_a_clear_error),
        cmocka_unit_test(test_scan_keeps_only_selected_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
