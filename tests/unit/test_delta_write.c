/* SPDX-License-Identifier: MIT */
/*
 * test_delta_write.c: the Delta writer (qk_delta_write, qk_delta_checkpoint_write). Every test
 * has its own temp dir, engine and local store. Tables are written from DuckDB SELECTs and read
 * back twice, through the reader's snapshot + scan and through a plain read_parquet of each
 * listed file plus its partition values; both must hold the same multiset of rows as DuckDB's
 * own answer for the source (EXCEPT ALL both ways and row counts). Then: partitions with NULL
 * and awkward values, exact stats, schema mismatches, the refusals (EEXIST, appendOnly,
 * invariants, writer versions, broken logs: nothing is written), txn idempotence, conflicts
 * made by a test seam that commits a "winner" just before the writer's attempt, checkpoints
 * (the snapshot from the checkpoint alone equals the one from the commits), and the crash
 * points (a child process that SIGKILLs itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "delta/delta_int.h"
#include "unit_engine.h"

static char dir[64];
static char lake_dir[600];
static qk_engine *eng;
static qk_store *lake;
static qk_err err;

/* ---- helpers ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/qk-test-dwrite-XXXXXX");
    if (!mkdtemp(dir) || qk_test_engine_open(dir, true, &eng)) return -1;
    snprintf(lake_dir, sizeof lake_dir, "%s/lake", dir);
    return qk_store_open(lake_dir, &lake, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_delta_test_before_commit = NULL;
    qk_delta_test_before_commit_ud = NULL;
    qk_store_destroy(lake);
    return qk_test_engine_done(eng, dir);
}

static qk_delta_write_opts opts(int mode)
{
    qk_delta_write_opts o;
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.checkpoint_interval = -1;
    return o;
}

static int wr(const char *table, const char *sql, const qk_delta_write_opts *o,
              qk_delta_write_result *res)
{
    qk_err_clear(&err);
    return qk_delta_write(eng, lake, table, sql, o, res, &err);
}

static qk_delta_write_result write_ok(const char *table, const char *sql,
                                      const qk_delta_write_opts *o)
{
    qk_delta_write_result res;
    int rc = wr(table, sql, o, &res);
    if (rc) fprintf(stderr, "write %s: %s\n", table, err.msg);
    assert_int_equal(rc, 0);
    assert_string_equal(res.warning, "");
    return res;
}

static qk_delta_snapshot *load_v(const char *table, int64_t v)
{
    qk_delta_at at = {v < 0 ? QK_DELTA_AT_LATEST : QK_DELTA_AT_VERSION, v < 0 ? 0 : v, 0};
    qk_delta_snapshot *snap = NULL;
    int rc = qk_delta_snapshot_load(eng, lake, table, &at, &snap, &err);
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

static void expect_cell(const char *sql, const char *want)
{
    char *got = cell(sql);
    if (!got || strcmp(got, want)) fprintf(stderr, "got %s, want %s\n", got ? got : "NULL", want);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* a and b hold the same multiset of rows. */
static void expect_same_rows(const char *a, const char *b)
{
    qk_buf q;
    qk_buf_init(&q, 256u << 20);
    qk_buf_printf(&q,
                  "SELECT (SELECT count(*) FROM ((%s) EXCEPT ALL (%s))) + (SELECT count(*) FROM "
                  "((%s) EXCEPT ALL (%s))) + abs((SELECT count(*) FROM (%s)) - (SELECT count(*) "
                  "FROM (%s)))",
                  a, b, b, a, a, b);
    expect_cell(qk_buf_cstr(&q), "0");
    qk_buf_free(&q);
}

static void scan_sql(const qk_delta_snapshot *snap, const char *table, qk_buf *b)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "%s/%s", lake_dir, table);
    qk_buf_init(b, 64u << 20);
    assert_int_equal(qk_delta_scan_sql(snap, uri, NULL, b, &err), 0);
}

/* One plain read_parquet per listed file, its partition values as typed constants. */
static void reference_sql(const qk_delta_snapshot *snap, const char *table, qk_buf *b)
{
    const qk_delta_metadata *m = &snap->metadata;
    qk_buf_init(b, 64u << 20);
    for (size_t i = 0; i < snap->nfiles; i++) {
        const qk_delta_file *f = &snap->files[i];
        char path[2048];
        qk_buf_adds(b, i ? " UNION ALL SELECT " : "SELECT ");
        for (size_t j = 0; j < m->ncolumns; j++) {
            const qk_delta_column *c = &m->columns[j];
            const char *pv = c->partition >= 0 ? f->partition_values[c->partition] : NULL;
            if (j) qk_buf_adds(b, ", ");
            qk_buf_adds(b, "CAST(");
            if (c->partition < 0)
                qk_delta_add_ident(b, c->name);
            else if (pv)
                qk_sql_add_literal(b, pv);
            else
                qk_buf_adds(b, "NULL");
            qk_buf_printf(b, " AS %s) AS ", c->type);
            qk_delta_add_ident(b, c->name);
        }
        snprintf(path, sizeof path, "%s/%s/%s", lake_dir, table, f->path);
        qk_buf_adds(b, " FROM read_parquet(");
        qk_sql_add_literal(b, path);
        qk_buf_adds(b, ", hive_partitioning = false)");
    }
}

/* Version v (-1: latest) of table holds the rows of want, read both ways. */
static void expect_table(const char *table, int64_t v, const char *want)
{
    qk_delta_snapshot *snap = load_v(table, v);
    qk_buf s, r;
    scan_sql(snap, table, &s);
    expect_same_rows(qk_buf_cstr(&s), want);
    if (snap->nfiles) {
        reference_sql(snap, table, &r);
        expect_same_rows(qk_buf_cstr(&r), want);
        qk_buf_free(&r);
    }
    qk_buf_free(&s);
    qk_delta_snapshot_destroy(snap);
}

static size_t count_objects(const char *prefix)
{
    qk_obj_list l = {0};
    size_t n;
    assert_int_equal(qk_store_list_collect(lake, prefix, &l, &err), 0);
    n = l.n;
    qk_obj_list_free(&l);
    return n;
}

static bool exists(const char *key)
{
    qk_obj_info info;
    return qk_store_head(lake, key, &info, &err) == 0;
}

static void put(const char *key, const char *data)
{
    assert_int_equal(qk_store_put(lake, key, data, strlen(data), &err), 0);
}

/* ---- round trips -------------------------------------------------------------------------- */

#define SRC_COLS                                                                                   \
    "i AS id, 'name ' || i AS name, CAST(i * 1.5 AS DECIMAL(12,2)) AS fare, i / 3 AS d, "          \
    "DATE '2024-01-01' + CAST(i % 30 AS INTEGER) AS day, "                                         \
    "make_timestamptz(1704067200000000 + i * 1000123) AS ts, i % 2 = 0 AS flag, "                  \
    "[i, i + 1] AS l, {'a': i, 'b': 'x' || i} AS s, MAP {'k': i} AS m, "                           \
    "CASE WHEN i % 7 = 0 THEN NULL ELSE CAST(i AS INTEGER) END AS maybe, "                         \
    "CAST('bin' || i AS BLOB) AS raw"
#define SRC1 "SELECT " SRC_COLS " FROM range(1000) t(i)"
#define SRC2 "SELECT " SRC_COLS " FROM range(1000, 1500) t(i)"
#define SRC3 "SELECT " SRC_COLS " FROM range(5000, 5300) t(i)"

static int stages;
static void on_progress(void *ud, const char *stage, uint64_t done, uint64_t total)
{
    (void)ud;
    (void)done;
    (void)total;
    stages |= !strcmp(stage, "reading")      ? 1
              : !strcmp(stage, "writing")    ? 2
              : !strcmp(stage, "uploading")  ? 4
              : !strcmp(stage, "committing") ? 8
                                             : 16;
}

static void test_create_append_overwrite_round_trip(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    qk_delta_snapshot *snap;
    (void)state;
    o.progress = on_progress;
    res = write_ok("rt", SRC1, &o);
    assert_int_equal(stages, 15);
    assert_int_equal(res.version, 0);
    assert_true(res.created);
    assert_int_equal(res.rows, 1000);
    assert_int_equal(res.files_added, 1);
    assert_true(res.bytes > 0);
    assert_int_equal(res.attempts, 1);
    expect_table("rt", -1, SRC1);
    snap = load_v("rt", -1);
    assert_int_equal(snap->protocol.min_reader_version, 1);
    assert_int_equal(snap->protocol.min_writer_version, 2);
    assert_string_equal(snap->metadata.columns[2].type, "DECIMAL(12,2)");
    assert_string_equal(snap->metadata.columns[5].type, "TIMESTAMP WITH TIME ZONE");
    assert_string_equal(snap->metadata.columns[8].type, "STRUCT(\"a\" BIGINT, \"b\" VARCHAR)");
    assert_string_equal(snap->metadata.columns[9].type, "MAP(VARCHAR, BIGINT)");
    assert_int_equal(snap->files[0].num_records, 1000);
    assert_non_null(json_object_get(snap->files[0].null_count, "l")); /* arrays, maps: counts */
    assert_int_equal(json_integer_value(json_object_get(snap->files[0].null_count, "maybe")), 143);
    assert_null(json_object_get(snap->files[0].null_count, "s")); /* structs: none */
    assert_null(json_object_get(snap->files[0].min_values, "l"));
    qk_delta_snapshot_destroy(snap);

    o = opts(QK_DELTA_APPEND);
    res = write_ok("rt", SRC2, &o);
    assert_int_equal(res.version, 1);
    assert_false(res.created);
    expect_table("rt", -1, SRC1 " UNION ALL " SRC2);

    o = opts(QK_DELTA_OVERWRITE);
    res = write_ok("rt", SRC3, &o);
    assert_int_equal(res.version, 2);
    assert_int_equal(res.files_removed, 2);
    expect_table("rt", -1, SRC3);
    /* time travel: every version still reads */
    expect_table("rt", 0, SRC1);
    expect_table("rt", 1, SRC1 " UNION ALL " SRC2);
    expect_table("rt", 2, SRC3);
}

static void test_append_creates_missing_table_and_empty_source_commits(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_APPEND);
    qk_delta_write_result res;
    (void)state;
    res = write_ok("nested/dir/t", "SELECT 1 AS a WHERE false", &o);
    assert_int_equal(res.version, 0);
    assert_true(res.created);
    assert_int_equal(res.files_added, 0);
    expect_table("nested/dir/t", -1, "SELECT 1 AS a WHERE false");
    res = write_ok("nested/dir/t/", "SELECT 2 AS a;  \n", &o);
    assert_int_equal(res.version, 1);
    expect_table("nested/dir/t", -1, "SELECT 2 AS a");
}

#define PART_SRC                                                                                   \
    "SELECT i AS id, CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN 'a b' WHEN 2 THEN '100%' "            \
    "WHEN 3 THEN 'x/y=z' WHEN 4 THEN 'h\xc3\xa9llo \xe2\x9c\x93' WHEN 5 THEN '' "                  \
    "ELSE 'it''s #1?' END AS p, DATE '2024-01-01' + CAST(i % 2 AS INTEGER) AS day, "               \
    "i * 0.5 AS v FROM range(70) t(i)"

static void test_partitioned_null_and_special_values(void **state)
{
    const char *parts[] = {"P", "day"};
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_snapshot *snap;
    bool seen_null = false, seen_pct = false, seen_slash = false;
    char key[2048];
    (void)state;
    o.partition_by = parts;
    o.npartition_by = 2;
    write_ok("parts", PART_SRC, &o);
    /* '' is a null partition (PROTOCOL.md), so it reads back as NULL */
    expect_table("parts", -1, "SELECT id, NULLIF(p, '') AS p, day, v FROM (" PART_SRC ")");
    snap = load_v("parts", -1);
    assert_int_equal(snap->metadata.npartition_columns, 2);
    assert_string_equal(snap->metadata.partition_columns[0], "p"); /* the data's spelling */
    assert_int_equal(snap->nfiles, 14); /* 7 values x 2 days ('' and NULL share a folder) */
    for (size_t i = 0; i < snap->nfiles; i++) {
        const qk_delta_file *f = &snap->files[i];
        seen_null |=
            qk_str_startswith(f->path, "p=__HIVE_DEFAULT_PARTITION__/") && !f->partition_values[0];
        seen_pct |= qk_str_startswith(f->path, "p=100%25/");
        seen_slash |= qk_str_startswith(f->path, "p=x%2Fy%3Dz/");
        assert_non_null(f->partition_values[1]);
        assert_null(json_object_get(f->min_values, "p")); /* no stats for partition columns */
        assert_non_null(json_object_get(f->min_values, "v"));
        snprintf(key, sizeof key, "parts/%s", f->path); /* decoded once: the key itself */
        assert_true(exists(key));
    }
    assert_true(seen_null && seen_pct && seen_slash);
    qk_delta_snapshot_destroy(snap);
    /* an append lands in the same layout */
    o = opts(QK_DELTA_APPEND);
    write_ok("parts", PART_SRC, &o);
    expect_table("parts", -1,
                 "SELECT id, NULLIF(p, '') AS p, day, v FROM (" PART_SRC ") "
                 "UNION ALL SELECT id, NULLIF(p, '') AS p, day, v FROM (" PART_SRC ")");
}

static void test_timestamp_partition_and_rows_per_file(void **state)
{
    const char *parts[] = {"ts", "b"};
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_snapshot *snap;
    uint64_t sum = 0;
    const char *src = "SELECT i AS id, make_timestamptz(1704067200000000 + (i % 2) * 1500000) AS "
                      "ts, i % 3 = 0 AS b FROM range(2500) t(i)";
    (void)state;
    o.partition_by = parts;
    o.npartition_by = 2;
    o.max_rows_per_file = 300;
    write_ok("tsp", src, &o);
    expect_table("tsp", -1, src);
    snap = load_v("tsp", -1);
    /* 4 partitions of 417/416/833/834 rows: 2 + 2 + 3 + 3 files */
    assert_int_equal(snap->nfiles, 10);
    for (size_t i = 0; i < snap->nfiles; i++) {
        const char *ts = snap->files[i].partition_values[0];
        assert_true(snap->files[i].num_records <= 300);
        sum += (uint64_t)snap->files[i].num_records;
        assert_true(!strcmp(ts, "2024-01-01T00:00:00.000000Z") ||
                    !strcmp(ts, "2024-01-01T00:00:01.500000Z"));
        assert_true(!strcmp(snap->files[i].partition_values[1], "true") ||
                    !strcmp(snap->files[i].partition_values[1], "false"));
    }
    assert_int_equal(sum, 2500);
    qk_delta_snapshot_destroy(snap);
}

/* ---- stats -------------------------------------------------------------------------------- */

static void test_stats_exact_for_a_known_table(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_snapshot *snap;
    (void)state;
    write_ok("stats",
             "SELECT * FROM (VALUES "
             "(1, 'b', DATE '2024-01-02', TIMESTAMPTZ '2019-04-01 00:00:00.1239+00', "
             "CAST(1.50 AS DECIMAL(10,2)), true, 1.0::DOUBLE, repeat('x', 40), 0.1::FLOAT), "
             "(3, 'a', DATE '2024-01-01', TIMESTAMPTZ '2019-04-01 10:00:00+00', "
             "CAST(-2.25 AS DECIMAL(10,2)), NULL, 'nan'::DOUBLE, repeat('y', 40), -1::FLOAT), "
             "(NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL)) "
             "v(i, s, d, ts, dec, b, f, long, fl)",
             &o);
    snap = load_v("stats", -1);
    assert_int_equal(snap->nfiles, 1);
    assert_string_equal(
        snap->files[0].stats,
        "{\"numRecords\":3,"
        "\"minValues\":{\"i\":1,\"s\":\"a\",\"d\":\"2024-01-01\",\"ts\":\"2019-04-01T00:00:00."
        "123Z\","
        "\"dec\":-2.25,\"f\":1.0,\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"fl\":-1.0},"
        "\"maxValues\":{\"i\":3,\"s\":\"b\",\"d\":\"2024-01-02\",\"ts\":\"2019-04-01T10:00:00."
        "000Z\","
        "\"dec\":1.50,\"fl\":0.10000000149011612},"
        "\"nullCount\":{\"i\":1,\"s\":1,\"d\":1,\"ts\":1,\"dec\":1,\"b\":1,\"f\":1,\"long\":1,"
        "\"fl\":1}}");
    qk_delta_snapshot_destroy(snap);
}

/* ---- types -------------------------------------------------------------------------------- */

#define TYPES_ROW1                                                                                 \
    "SELECT 200::SMALLINT, 60000, 4000000000::BIGINT, 18446744073709551615::DECIMAL(20,0), "       \
    "12345678901234567890123456789::DECIMAL(38,0), 'b', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', "  \
    "make_timestamptz(1710037800123456), make_timestamptz(1704067200123456), [1, 2], "             \
    "'\\x00\\xff'::BLOB, 1.25::FLOAT, -3::TINYINT"

static void test_types_widen_and_round_trip(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_snapshot *snap;
    static const char *const want[] = {"SMALLINT",
                                       "INTEGER",
                                       "BIGINT",
                                       "DECIMAL(20,0)",
                                       "DECIMAL(38,0)",
                                       "VARCHAR",
                                       "VARCHAR",
                                       "TIMESTAMP WITH TIME ZONE",
                                       "TIMESTAMP WITH TIME ZONE",
                                       "INTEGER[]",
                                       "BLOB",
                                       "FLOAT",
                                       "TINYINT"};
    (void)state;
    write_ok("types",
             "SELECT 200::UTINYINT AS ut, 60000::USMALLINT AS us, 4000000000::UINTEGER AS ui, "
             "18446744073709551615::UBIGINT AS ub, "
             "12345678901234567890123456789::HUGEINT AS h, "
             "'b'::ENUM('a', 'b') AS e, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID AS u, "
             "TIMESTAMP '2024-03-10 02:30:00.123456' AS naive, "
             "TIMESTAMP_NS '2024-01-01 00:00:00.123456789' AS ns, [1, 2]::INTEGER[2] AS arr, "
             "'\\x00\\xff'::BLOB AS bl, 1.25::FLOAT AS fl, -3::TINYINT AS tiny",
             &o);
    snap = load_v("types", -1);
    assert_int_equal(snap->metadata.ncolumns, 13);
    for (size_t i = 0; i < 13; i++)
        assert_string_equal(snap->metadata.columns[i].type, want[i]);
    qk_delta_snapshot_destroy(snap);
    /* a plain TIMESTAMP is taken as UTC, whatever the session's time zone */
    expect_table("types", -1, TYPES_ROW1);
    /* narrower integers and FLOAT go into wider columns, by name in any order and case */
    o = opts(QK_DELTA_APPEND);
    write_ok(
        "types",
        "SELECT 1::TINYINT AS US, 2::TINYINT AS ut, 3 AS ui, 4::UBIGINT AS ub, 5::HUGEINT AS h,"
        " 'a' AS e, NULL::UUID AS u, NULL::TIMESTAMP AS naive, NULL::TIMESTAMPTZ AS ns, "
        "[3]::INTEGER[] AS arr, NULL::BLOB AS bl, 2::FLOAT AS fl, 4::TINYINT AS tiny",
        &o);
    expect_table("types", -1,
                 TYPES_ROW1 " UNION ALL SELECT 2::SMALLINT, 1, 3::BIGINT, 4::DECIMAL(20,0), "
                            "5::DECIMAL(38,0), 'a', NULL, NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, "
                            "[3], NULL::BLOB, 2::FLOAT, 4::TINYINT");
}

static void test_types_delta_cannot_hold_are_refused_by_column(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    (void)state;
    assert_int_equal(wr("bad", "SELECT 1 AS a, INTERVAL 1 DAY AS span", &o, &res), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "column span has type INTERVAL"));
    assert_int_equal(wr("bad", "SELECT {'t': TIMESTAMP '2024-01-01'} AS s", &o, &res),
                     QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "column s"));
    assert_int_equal(wr("bad", "SELECT 1 AS a, [1] AS l",
                        &(qk_delta_write_opts){.mode = QK_DELTA_CREATE,
                                               .partition_by = (const char *[]){"l"},
                                               .npartition_by = 1},
                        &res),
                     QK_EUNSUPPORTED);
    assert_int_equal(wr("bad", "SELECT 1 AS a",
                        &(qk_delta_write_opts){.mode = QK_DELTA_CREATE,
                                               .partition_by = (const char *[]){"zz"},
                                               .npartition_by = 1},
                        &res),
                     QK_EINVAL);
    assert_non_null(strstr(err.msg, "partition column zz is not a column"));
    assert_int_equal(wr("bad", "SELEC oops", &o, &res), QK_ESQL);
    assert_non_null(strstr(err.msg, "table bad"));
    assert_int_equal(count_objects("bad/"), 0);
}

/* ---- refusals ----------------------------------------------------------------------------- */

static void test_append_schema_mismatch_lists_each_column(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    (void)state;
    write_ok("mm", "SELECT 1::BIGINT AS id, 1.5::DOUBLE AS fare, 'a' AS y", &o);
    o = opts(QK_DELTA_APPEND);
    assert_int_equal(wr("mm", "SELECT 1 AS id, 'x' AS fare, 2 AS x", &o, &res), QK_EINVAL);
    assert_non_null(strstr(err.msg, "table mm: the data does not match the table"));
    assert_non_null(strstr(err.msg, "column fare: the table has DOUBLE, the data has VARCHAR"));
    assert_non_null(strstr(err.msg, "column y is missing from the data"));
    assert_non_null(strstr(err.msg, "column x is not in the table"));
    /* many problems: the first ones, then a count */
    assert_int_equal(
        wr("mm",
           "SELECT 'a' AS id, 'b' AS fare, 1 AS aaaaaaaaaaaaaaaa, 2 AS bbbbbbbbbbbbbbbb,"
           " 3 AS cccccccccccccccccc, 4 AS dddddddddddddddddd, 5 AS eeeeeeeeeeeeee",
           &o, &res),
        QK_EINVAL);
    assert_non_null(strstr(err.msg, "... and "));
    assert_non_null(strstr(err.msg, " more"));
    assert_int_equal(count_objects("mm/"), 2); /* v0 and its one file */
}

static void test_create_over_existing_table_is_eexist(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    (void)state;
    write_ok("ex", "SELECT 1 AS a", &o);
    assert_int_equal(wr("ex", "SELECT 2 AS a", &o, &res), QK_EEXIST);
    assert_non_null(strstr(err.msg, "already exists (version 0)"));
    assert_int_equal(count_objects("ex/"), 2);
}

static void test_append_only_table_refuses_overwrite(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    json_t *cfg = json_pack("{s:s}", "delta.appendOnly", "true");
    (void)state;
    o.configuration = cfg;
    o.name = "events";
    write_ok("ao", "SELECT 1 AS a", &o);
    o = opts(QK_DELTA_OVERWRITE);
    assert_int_equal(wr("ao", "SELECT 2 AS a", &o, &res), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "table ao: the table is append-only (delta.appendOnly)"));
    o = opts(QK_DELTA_APPEND);
    write_ok("ao", "SELECT 2 AS a", &o);
    expect_table("ao", -1, "SELECT 1 AS a UNION ALL SELECT 2");
    json_decref(cfg);
}

/* A commit that sets a new schema with an invariant on x. */
static void add_invariant(const char *table, int64_t version, const char *expr)
{
    char key[256], line[2048];
    qk_delta_snapshot *snap = load_v(table, -1);
    json_t *schema = json_loads(snap->metadata.schema_string, 0, NULL);
    json_t *f = json_array_get(json_object_get(schema, "fields"), 0), *inv;
    char *ss, *invs;
    inv = json_pack("{s:{s:s}}", "expression", "expression", expr);
    invs = json_dumps(inv, JSON_COMPACT);
    json_object_set_new(json_object_get(f, "metadata"), "delta.invariants", json_string(invs));
    ss = json_dumps(schema, JSON_COMPACT);
    json_t *md = json_pack("{s:{s:s, s:{s:s, s:{}}, s:s, s:[], s:{}}}", "metaData", "id",
                           snap->metadata.id, "format", "provider", "parquet", "options",
                           "schemaString", ss, "partitionColumns", "configuration");
    char *mds = json_dumps(md, JSON_COMPACT);
    snprintf(line, sizeof line, "{\"commitInfo\":{\"operation\":\"SET TBLPROPERTIES\"}}\n%s\n",
             mds);
    snprintf(key, sizeof key, "%s/_delta_log/%020lld.json", table, (long long)version);
    put(key, line);
    free(mds);
    json_decref(md);
    free(ss);
    free(invs);
    json_decref(inv);
    json_decref(schema);
    qk_delta_snapshot_destroy(snap);
}

static void test_invariant_violation_writes_nothing(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    size_t before;
    (void)state;
    write_ok("inv", "SELECT 5 AS x, 'a' AS y", &o);
    add_invariant("inv", 1, "x > 3");
    before = count_objects("inv/");
    o = opts(QK_DELTA_APPEND);
    assert_int_equal(
        wr("inv", "SELECT * FROM (VALUES (4, 'b'), (2, 'c'), (NULL, 'd')) v(x, y)", &o, &res),
        QK_ECONSTRAINT);
    assert_non_null(strstr(err.msg, "2 rows break the invariant x > 3 of column x"));
    assert_int_equal(count_objects("inv/"), before);
    write_ok("inv", "SELECT 4 AS x, 'b' AS y", &o);
    expect_table("inv", -1, "SELECT 5 AS x, 'a' AS y UNION ALL SELECT 4, 'b'");
    /* an overwrite that keeps the schema keeps the invariant too */
    o = opts(QK_DELTA_OVERWRITE);
    assert_int_equal(wr("inv", "SELECT 1 AS x, 'z' AS y", &o, &res), QK_ECONSTRAINT);
    assert_non_null(strstr(err.msg, "1 row breaks the invariant"));
}

static void test_writer_version_3_and_features_refused(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_APPEND);
    qk_delta_write_result res;
    (void)state;
    write_ok("wv", "SELECT 1 AS a", &(qk_delta_write_opts){.mode = QK_DELTA_CREATE});
    put("wv/_delta_log/00000000000000000001.json",
        "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":3}}\n");
    assert_int_equal(wr("wv", "SELECT 2 AS a", &o, &res), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "writer version 3"));
    put("wv/_delta_log/00000000000000000002.json",
        "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":7,"
        "\"writerFeatures\":[\"appendOnly\"]}}\n");
    assert_int_equal(wr("wv", "SELECT 2 AS a", &o, &res), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "writer feature appendOnly"));
    assert_false(exists("wv/_delta_log/00000000000000000003.json"));
}

/* A table whose log is broken: the write fails, and nothing at all is added. */
static void expect_refused(const char *table, int want_rc, const char *want_msg)
{
    qk_delta_write_opts o = opts(QK_DELTA_APPEND);
    qk_delta_write_result res;
    char prefix[256];
    size_t before;
    snprintf(prefix, sizeof prefix, "%s/", table);
    before = count_objects(prefix);
    int rc = wr(table, "SELECT 9 AS a", &o, &res);
    if (want_rc)
        assert_int_equal(rc, want_rc);
    else
        assert_int_not_equal(rc, 0);
    if (!strstr(err.msg, want_msg)) fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, want_msg));
    assert_int_equal(count_objects(prefix), before);
}

static void test_broken_logs_fail_cleanly(void **state)
{
    qk_delta_write_opts c = opts(QK_DELTA_CREATE), a = opts(QK_DELTA_APPEND);
    char path[1024];
    (void)state;
    write_ok("b1", "SELECT 1 AS a", &c);
    put("b1/_delta_log/00000000000000000001.json", "{\"commitInfo\":{}}\n{\"add\":{\"path\":\n");
    expect_refused("b1", QK_EPARSE, "b1/_delta_log/00000000000000000001.json:2");

    write_ok("b2", "SELECT 1 AS a", &c);
    put("b2/_delta_log/00000000000000000002.json", "{\"commitInfo\":{}}\n");
    expect_refused("b2", QK_ENOTFOUND, "00000000000000000001.json is missing");

    write_ok("b3", "SELECT 1 AS a", &c);
    put("b3/_delta_log/00000000000000000001.json",
        "{\"protocol\":{\"minReaderVersion\":99,\"minWriterVersion\":2}}\n");
    expect_refused("b3", QK_EUNSUPPORTED, "reader version 99");

    write_ok("b4", "SELECT 1 AS a", &c);
    write_ok("b4", "SELECT 2 AS a", &a);
    assert_int_equal(qk_delta_checkpoint_write(eng, lake, "b4", 1, NULL, &err), 0);
    snprintf(path, sizeof path, "%s/b4/_delta_log/00000000000000000001.checkpoint.parquet",
             lake_dir);
    assert_int_equal(truncate(path, 40), 0);
    expect_refused("b4", 0, "checkpoint b4/_delta_log/00000000000000000001.checkpoint.parquet");

    /* a log without any version is no table: an append creates it */
    put("b5/_delta_log/.tmp/junk", "x");
    write_ok("b5", "SELECT 1 AS a", &a);
    expect_table("b5", -1, "SELECT 1 AS a");
}

/* ---- txn ---------------------------------------------------------------------------------- */

static void test_txn_same_version_is_skipped(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_APPEND);
    qk_delta_write_result res;
    qk_delta_snapshot *snap;
    size_t before;
    (void)state;
    o.app_id = "stream-1";
    o.txn_version = 5;
    res = write_ok("txn", "SELECT 1 AS a", &o);
    assert_int_equal(res.version, 0);
    assert_false(res.skipped);
    before = count_objects("txn/");
    res = write_ok("txn", "SELECT 1 AS a", &o);
    assert_true(res.skipped);
    assert_int_equal(res.version, 0);
    assert_int_equal(res.rows, 0);
    o.txn_version = 4;
    res = write_ok("txn", "SELECT 1 AS a", &o);
    assert_true(res.skipped);
    assert_int_equal(count_objects("txn/"), before);
    expect_table("txn", -1, "SELECT 1 AS a");
    o.txn_version = 6;
    res = write_ok("txn", "SELECT 2 AS a", &o);
    assert_false(res.skipped);
    assert_int_equal(res.version, 1);
    snap = load_v("txn", -1);
    assert_int_equal(snap->ntxns, 1);
    assert_string_equal(snap->txns[0].app_id, "stream-1");
    assert_int_equal(snap->txns[0].version, 6);
    qk_delta_snapshot_destroy(snap);
}

/* ---- conflicts ---------------------------------------------------------------------------- */

static const char *winner_text;
static int winner_left;

/* The seam: another writer commits the version just before this writer's attempt. */
static void winner(void *ud, const char *key, int64_t version)
{
    (void)ud;
    (void)version;
    if (winner_left-- > 0) put(key, winner_text);
}

static void test_conflicting_append_rebases(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    qk_delta_snapshot *snap;
    size_t before;
    (void)state;
    write_ok("cf", "SELECT 1 AS a", &o);
    winner_text = "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n";
    winner_left = 2;
    qk_delta_test_before_commit = winner;
    o = opts(QK_DELTA_APPEND);
    res = write_ok("cf", "SELECT 2 AS a", &o);
    assert_int_equal(res.attempts, 3);
    assert_int_equal(res.version, 3);
    for (int v = 0; v <= 3; v++) {
        snap = load_v("cf", v); /* contiguous: every version loads */
        qk_delta_snapshot_destroy(snap);
    }
    expect_table("cf", -1, "SELECT 1 AS a UNION ALL SELECT 2");
    /* a writer that keeps losing gives up, and takes its file with it */
    before = count_objects("cf/");
    winner_left = 100;
    o.max_attempts = 3;
    assert_int_equal(wr("cf", "SELECT 3 AS a", &o, &res), QK_ECONFLICT);
    assert_non_null(strstr(err.msg, "gave up after 3 attempts"));
    assert_int_equal(count_objects("cf/"), before + 3); /* the winners' commits only */
}

static void test_conflicting_overwrite_fails_and_deletes_its_files(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    size_t before;
    (void)state;
    write_ok("cf", "SELECT 1 AS a", &o);
    before = count_objects("cf/");
    winner_text = "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n";
    winner_left = 1;
    qk_delta_test_before_commit = winner;
    o = opts(QK_DELTA_OVERWRITE);
    assert_int_equal(wr("cf", "SELECT 2 AS a FROM range(10)", &o, &res), QK_ECONFLICT);
    assert_non_null(strstr(err.msg, "version 1 was committed by another writer (operation WRITE) "
                                    "while this overwrite ran; nothing was committed"));
    assert_int_equal(count_objects("cf/"), before + 1); /* only the winner's commit */
    /* an append whose winner changed the metadata fails the same way */
    winner_text = "{\"commitInfo\":{\"operation\":\"ALTER\"}}\n"
                  "{\"metaData\":{\"id\":\"x\",\"format\":{\"provider\":\"parquet\"},"
                  "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":"
                  "\\\"a\\\",\\\"type\\\":\\\"integer\\\",\\\"nullable\\\":true,"
                  "\\\"metadata\\\":{}}]}\",\"partitionColumns\":[],\"configuration\":{}}}\n";
    winner_left = 1;
    o = opts(QK_DELTA_APPEND);
    assert_int_equal(wr("cf", "SELECT 2 AS a", &o, &res), QK_ECONFLICT);
    assert_non_null(strstr(err.msg, "operation ALTER"));
    assert_int_equal(count_objects("cf/"), before + 2);
}

static void test_conflict_with_our_own_txn_is_skipped(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    size_t before;
    (void)state;
    write_ok("cft", "SELECT 1 AS a", &o);
    before = count_objects("cft/");
    winner_text = "{\"commitInfo\":{\"operation\":\"WRITE\"}}\n"
                  "{\"txn\":{\"appId\":\"app\",\"version\":3}}\n";
    winner_left = 1;
    qk_delta_test_before_commit = winner;
    o = opts(QK_DELTA_APPEND);
    o.app_id = "app";
    o.txn_version = 3;
    res = write_ok("cft", "SELECT 2 AS a", &o);
    assert_true(res.skipped);
    assert_int_equal(res.version, 1);
    assert_int_equal(count_objects("cft/"), before + 1); /* our data file is gone again */
}

static void test_create_race_is_eexist(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    (void)state;
    winner_text = "{\"commitInfo\":{\"operation\":\"CREATE TABLE\"}}\n";
    winner_left = 1;
    qk_delta_test_before_commit = winner;
    assert_int_equal(wr("race", "SELECT 1 AS a", &o, &res), QK_EEXIST);
    assert_int_equal(count_objects("race/"), 1);
}

/* ---- checkpoints -------------------------------------------------------------------------- */

static void expect_same_snapshot(const qk_delta_snapshot *a, const qk_delta_snapshot *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->protocol.min_reader_version, b->protocol.min_reader_version);
    assert_int_equal(a->protocol.min_writer_version, b->protocol.min_writer_version);
    assert_string_equal(a->metadata.id, b->metadata.id);
    assert_string_equal(a->metadata.schema_string, b->metadata.schema_string);
    assert_string_equal(a->metadata.name, b->metadata.name);
    assert_int_equal(a->metadata.created_time, b->metadata.created_time);
    assert_true(json_equal(a->metadata.configuration, b->metadata.configuration));
    assert_int_equal(a->metadata.npartition_columns, b->metadata.npartition_columns);
    assert_int_equal(a->nfiles, b->nfiles);
    for (size_t i = 0; i < a->nfiles; i++) {
        assert_string_equal(a->files[i].path, b->files[i].path);
        assert_int_equal(a->files[i].size, b->files[i].size);
        assert_int_equal(a->files[i].modification_time, b->files[i].modification_time);
        assert_string_equal(a->files[i].stats, b->files[i].stats);
        for (size_t k = 0; k < a->metadata.npartition_columns; k++) {
            const char *x = a->files[i].partition_values[k], *y = b->files[i].partition_values[k];
            assert_true((!x && !y) || (x && y && !strcmp(x, y)));
        }
    }
    assert_int_equal(a->ntxns, b->ntxns);
    for (size_t i = 0; i < a->ntxns; i++) {
        assert_string_equal(a->txns[i].app_id, b->txns[i].app_id);
        assert_int_equal(a->txns[i].version, b->txns[i].version);
        assert_int_equal(a->txns[i].last_updated, b->txns[i].last_updated);
    }
}

static void test_checkpoint_every_10_reads_back_the_same(void **state)
{
    const char *parts[] = {"p"};
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    qk_delta_snapshot *full, *fromcp;
    json_t *cfg = json_pack("{s:s}", "delta.checkpointInterval", "10");
    char sql[256], last[256];
    qk_buf lb;
    (void)state;
    o.partition_by = parts;
    o.npartition_by = 1;
    o.configuration = cfg;
    o.name = "ck";
    o.checkpoint_interval = 0; /* the table's delta.checkpointInterval */
    write_ok("ck", "SELECT 0 AS n, 'a b' AS p, NULL::DATE AS d", &o);
    for (int i = 1; i <= 11; i++) {
        o = opts(QK_DELTA_APPEND);
        o.checkpoint_interval = 0;
        o.app_id = i % 2 ? "odd" : "even";
        o.txn_version = i;
        snprintf(sql, sizeof sql,
                 "SELECT %d AS n, CASE WHEN %d %% 3 = 0 THEN NULL ELSE 'p%d' END AS p, "
                 "DATE '2024-01-01' AS d",
                 i, i, i % 4);
        res = write_ok("ck", sql, &o);
        assert_int_equal(res.version, i);
        assert_int_equal(res.checkpointed, i == 10);
    }
    assert_true(exists("ck/_delta_log/00000000000000000010.checkpoint.parquet"));
    qk_buf_init(&lb, 4096);
    assert_int_equal(
        qk_store_get(lake, "ck/_delta_log/_last_checkpoint", 0, QK_STORE_TO_END, &lb, NULL, &err),
        0);
    snprintf(last, sizeof last, "{\"version\":10,\"size\":%d,", 2 + 2 + 11);
    assert_true(qk_str_startswith(qk_buf_cstr(&lb), last));
    qk_buf_free(&lb);
    full = load_v("ck", 11);
    assert_int_equal(full->checkpoint_version, 10);
    /* the checkpoint alone: a copy without commits 0..10 */
    assert_int_equal(
        qk_test_sh("cp -r '%s/ck' '%s/ck2' && rm '%s/ck2/_delta_log/'0000000000000000000[0-9]"
                   ".json && rm '%s/ck2/_delta_log/00000000000000000010.json' && test -e "
                   "'%s/ck2/_delta_log/00000000000000000011.json'",
                   lake_dir, lake_dir, lake_dir, lake_dir, lake_dir),
        0);
    assert_false(exists("ck2/_delta_log/00000000000000000010.json"));
    fromcp = load_v("ck2", -1);
    assert_int_equal(fromcp->checkpoint_version, 10);
    expect_same_snapshot(full, fromcp);
    qk_delta_snapshot_destroy(fromcp);
    qk_delta_snapshot_destroy(full);
    /* and the snapshot at 10 from the commits equals the one from the checkpoint */
    assert_int_equal(
        qk_test_sh("rm '%s/ck/_delta_log/00000000000000000010.checkpoint.parquet'", lake_dir), 0);
    full = load_v("ck", 10);
    assert_int_equal(full->checkpoint_version, -1);
    fromcp = load_v("ck2", 10);
    expect_same_snapshot(full, fromcp);
    qk_delta_snapshot_destroy(fromcp);
    qk_delta_snapshot_destroy(full);
    expect_table("ck2", -1,
                 "SELECT 0 AS n, 'a b' AS p, NULL::DATE AS d UNION ALL "
                 "SELECT range, CASE WHEN range % 3 = 0 THEN NULL ELSE 'p' || range % 4 "
                 "END, DATE '2024-01-01' FROM range(1, 12)");
    /* idempotent */
    assert_int_equal(qk_delta_checkpoint_write(eng, lake, "ck2", 10, NULL, &err), 0);
    json_decref(cfg);
}

/* ---- overwrite that changes the table ----------------------------------------------------- */

static void test_overwrite_changes_schema_and_partitioning(void **state)
{
    const char *p1[] = {"b"}, *p2[] = {"y"};
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    qk_delta_write_result res;
    qk_delta_snapshot *a, *b;
    (void)state;
    o.partition_by = p1;
    o.npartition_by = 1;
    write_ok("ow", "SELECT range AS a, 'v' || range % 2 AS b FROM range(10)", &o);
    o = opts(QK_DELTA_OVERWRITE);
    o.partition_by = p2;
    o.npartition_by = 1;
    res = write_ok("ow",
                   "SELECT range / 2 AS x, DATE '2024-01-01' + CAST(range % 3 AS INTEGER) "
                   "AS y FROM range(9)",
                   &o);
    assert_int_equal(res.files_removed, 2);
    a = load_v("ow", 0);
    b = load_v("ow", 1);
    assert_string_equal(a->metadata.id, b->metadata.id);
    assert_string_equal(b->metadata.partition_columns[0], "y");
    assert_string_equal(b->metadata.columns[0].type, "DOUBLE");
    qk_delta_snapshot_destroy(a);
    qk_delta_snapshot_destroy(b);
    expect_table("ow", -1,
                 "SELECT range / 2 AS x, DATE '2024-01-01' + CAST(range % 3 AS INTEGER) "
                 "FROM range(9)");
    expect_table("ow", 0, "SELECT range AS a, 'v' || range % 2 AS b FROM range(10)");
    /* a new schema without partition_by keeps the partition columns the data still has */
    o = opts(QK_DELTA_OVERWRITE);
    write_ok("ow", "SELECT 'a' AS x, DATE '2020-01-01' AS Y", &o);
    b = load_v("ow", 2);
    assert_string_equal(b->metadata.columns[0].type, "VARCHAR");
    assert_int_equal(b->metadata.npartition_columns, 1);
    assert_string_equal(b->metadata.partition_columns[0], "Y");
    qk_delta_snapshot_destroy(b);
    write_ok("ow", "SELECT 1.5::DOUBLE AS x, 2 AS z", &o);
    b = load_v("ow", 3);
    assert_int_equal(b->metadata.npartition_columns, 0);
    qk_delta_snapshot_destroy(b);
    write_ok(
        "ow", "SELECT range / 2 AS x, DATE '2024-01-01' AS y FROM range(4)",
        &(qk_delta_write_opts){.mode = QK_DELTA_OVERWRITE, .partition_by = p2, .npartition_by = 1});
    /* an overwrite with the same columns keeps the schema: no metaData */
    o = opts(QK_DELTA_OVERWRITE);
    write_ok("ow", "SELECT 1.5::DOUBLE AS X, DATE '2020-01-01' AS y", &o);
    b = load_v("ow", 5);
    assert_string_equal(b->metadata.columns[0].name, "x");
    assert_int_equal(b->metadata.npartition_columns, 1);
    qk_delta_snapshot_destroy(b);
}

/* ---- crash points ------------------------------------------------------------------------- */

/* In a child process: append to table "crash" with QUACK_TEST_CRASH=point. */
static int crash_child(const char *tdir, const char *point)
{
    qk_engine *e;
    qk_store *s;
    qk_delta_write_opts o = opts(QK_DELTA_APPEND);
    qk_delta_write_result res;
    char ldir[600];
    o.checkpoint_interval = 1;
    snprintf(ldir, sizeof ldir, "%s/lake", tdir);
    setenv("QUACK_TEST_CRASH", point, 1);
    if (qk_test_engine_open(tdir, true, &e) || qk_store_open(ldir, &s, &err)) return 2;
    qk_delta_write(e, s, "crash", "SELECT 2 AS a", &o, &res, &err);
    return 3; /* not reached */
}

static int run_child(const char *point)
{
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int status = 0;
    pid_t pid;
    assert_true(n > 0);
    exe[n] = '\0';
    pid = fork();
    if (pid == 0) {
        execl(exe, exe, "crash-child", dir, point, (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFSIGNALED(status) ? WTERMSIG(status) : -WEXITSTATUS(status);
}

static void test_crash_points_leave_a_readable_table(void **state)
{
    qk_delta_write_opts o = opts(QK_DELTA_CREATE);
    size_t before;
    (void)state;
    write_ok("crash", "SELECT 1 AS a", &o);
    before = count_objects("crash/");
    assert_int_equal(run_child("after-data"), SIGKILL);
    /* the file is there, untracked (VACUUM's job); no commit */
    assert_int_equal(count_objects("crash/"), before + 1);
    assert_false(exists("crash/_delta_log/00000000000000000001.json"));
    expect_table("crash", -1, "SELECT 1 AS a");
    assert_int_equal(run_child("after-commit"), SIGKILL);
    assert_true(exists("crash/_delta_log/00000000000000000001.json"));
    assert_false(exists("crash/_delta_log/00000000000000000001.checkpoint.parquet"));
    expect_table("crash", -1, "SELECT 1 AS a UNION ALL SELECT 2");
}

int main(int argc, char **argv)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_append_overwrite_round_trip),
        T(test_append_creates_missing_table_and_empty_source_commits),
        T(test_partitioned_null_and_special_values),
        T(test_timestamp_partition_and_rows_per_file),
        T(test_stats_exact_for_a_known_table),
        T(test_types_widen_and_round_trip),
        T(test_types_delta_cannot_hold_are_refused_by_column),
        T(test_append_schema_mismatch_lists_each_column),
        T(test_create_over_existing_table_is_eexist),
        T(test_append_only_table_refuses_overwrite),
        T(test_invariant_violation_writes_nothing),
        T(test_writer_version_3_and_features_refused),
        T(test_broken_logs_fail_cleanly),
        T(test_txn_same_version_is_skipped),
        T(test_conflicting_append_rebases),
        T(test_conflicting_overwrite_fails_and_deletes_its_files),
        T(test_conflict_with_our_own_txn_is_skipped),
        T(test_create_race_is_eexist),
        T(test_checkpoint_every_10_reads_back_the_same),
        T(test_overwrite_changes_schema_and_partitioning),
        T(test_crash_points_leave_a_readable_table),
    };
    if (argc == 4 && !strcmp(argv[1], "crash-child")) return crash_child(argv[2], argv[3]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
