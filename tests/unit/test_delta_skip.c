/* SPDX-License-Identifier: MIT */
/*
 * test_delta_skip.c: Delta file skipping (src/delta/skip.c, the filter from src/lake/prune.c,
 * bound in src/lake/names.c). Small Delta tables are made here: Parquet files written by
 * DuckDB's COPY and a commit whose add actions carry stats written by hand, some of them
 * deliberately loose (truncated timestamps and strings, missing, null or broken stats). Each
 * query is bound with qk_lake_resolve; the test checks which files the rewritten SQL still
 * reads, the ctx's count of skipped files, and that the answer equals the answer with
 * QUACK_DELTA_SKIPPING=off (never a wrong answer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "delta/skip.h"
#include "lake/resolve.h"
#include "unit_engine.h"

static char dir[] = "/tmp/qk-test-skip-XXXXXX";
static char lake_dir[600];
static qk_engine *eng;
static qk_err err;

/* A data file of a hand-made table. */
typedef struct tfile {
    const char *name;  /* f0: written as [<part>/]f0.parquet */
    const char *part;  /* "p=a" folder and {"p":"a"} values: partition JSON and folder */
    const char *pjson; /* partitionValues object, NULL for {} */
    const char *rows;  /* SELECT of the data columns */
    const char *stats; /* the stats string, NULL for none */
} tfile;

/* ---- helpers ------------------------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir) || qk_test_engine_open(dir, true, &eng)) return -1;
    snprintf(lake_dir, sizeof lake_dir, "%s/lake", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unsetenv("QUACK_DELTA_SKIPPING");
    return qk_test_engine_done(eng, dir);
}

static void exec_ok(const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    assert_int_equal(qk_test_exec(eng, sql), 0);
}

/* The add action of f, written under <lake>/<table>/. */
static json_t *write_file(const char *table, const tfile *f)
{
    char rel[512], path[1200];
    struct stat st;
    json_t *add, *pv = f->pjson ? json_loads(f->pjson, 0, NULL) : json_object();
    snprintf(rel, sizeof rel, "%s%s%s.parquet", f->part ? f->part : "", f->part ? "/" : "",
             f->name);
    snprintf(path, sizeof path, "%s/%s/%s", lake_dir, table, rel);
    *strrchr(path, '/') = 0;
    assert_int_equal(qk_mkdirs(path, &err), 0);
    path[strlen(path)] = '/';
    exec_ok("COPY (%s) TO '%s' (FORMAT parquet)", f->rows, path);
    assert_int_equal(stat(path, &st), 0);
    assert_non_null(pv);
    add = json_pack("{s:s, s:o, s:I, s:I, s:b}", "path", rel, "partitionValues", pv, "size",
                    (json_int_t)st.st_size, "modificationTime", (json_int_t)0, "dataChange", 1);
    if (f->stats) json_object_set_new(add, "stats", json_string(f->stats));
    return json_pack("{s:o}", "add", add);
}

/* Commit version of table: [protocol, metaData when fields is not NULL], adds of files. */
static void commit(const char *table, int64_t version, const char *fields, const char *parts,
                   const tfile *files, size_t n)
{
    char key[1024], schema[4096];
    FILE *out;
    snprintf(key, sizeof key, "%s/%s/_delta_log", lake_dir, table);
    assert_int_equal(qk_mkdirs(key, &err), 0);
    snprintf(key, sizeof key, "%s/%s/_delta_log/%020lld.json", lake_dir, table, (long long)version);
    out = fopen(key, "w");
    assert_non_null(out);
    if (fields) {
        json_t *p = json_loads(parts, 0, NULL), *md;
        char *line;
        snprintf(schema, sizeof schema, "{\"type\":\"struct\",\"fields\":[%s]}", fields);
        fputs("{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n", out);
        md = json_pack("{s:{s:s, s:{s:s, s:{}}, s:s, s:o, s:{}, s:I}}", "metaData", "id",
                       "00000000-0000-0000-0000-000000000001", "format", "provider", "parquet",
                       "options", "schemaString", schema, "partitionColumns", p, "configuration",
                       "createdTime", (json_int_t)0);
        line = json_dumps(md, JSON_COMPACT);
        fprintf(out, "%s\n", line);
        free(line);
        json_decref(md);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *a = write_file(table, &files[i]);
        char *line = json_dumps(a, JSON_COMPACT);
        fprintf(out, "%s\n", line);
        free(line);
        json_decref(a);
    }
    assert_int_equal(fclose(out), 0);
}

/* The first cell of a query as text (caller frees); NULL for SQL NULL. Fails on errors. */
static char *cell(const char *sql)
{
    char *out = NULL;
    assert_int_equal(qk_test_cell(eng, sql, &out), 0);
    return out;
}

/* Bind sql's lake names; *skipped: the ctx's count. Returns the rewritten SQL (caller frees). */
static char *bind(const char *sql, size_t *skipped)
{
    qk_lake_ctx c;
    char *local = NULL;
    int rc;
    qk_lake_ctx_init(&c, eng);
    c.names = true;
    qk_err_clear(&err);
    rc = qk_lake_resolve(&c, sql, &local, &err);
    if (rc) fprintf(stderr, "resolve: %s\nSQL: %s\n", err.msg, sql);
    assert_int_equal(rc, 0);
    *skipped = c.delta_skipped;
    qk_lake_ctx_free(&c);
    return local;
}

/* "<rows>:<hash of the rows>" of a bound query. */
static char *answer(const char *local)
{
    char *q = NULL, *a;
    assert_true(asprintf(&q,
                         "SELECT count(*) || ':' || coalesce(CAST(sum(hash(t)) AS VARCHAR), '') "
                         "FROM (%s) AS t",
                         local) > 0);
    a = cell(q);
    free(q);
    return a;
}

/* Bind sql: the files of names (space-separated) its SQL still reads must be want; the answer
 * must equal the answer without skipping. */
static void expect_kept(const char *sql, const char *names, const char *want)
{
    char got[512] = "", list[512], *local, *off_sql, *on, *off;
    size_t skipped, nfiles = 0, nkept = 0, off_skipped;
    local = bind(sql, &skipped);
    snprintf(list, sizeof list, "%s ", names);
    for (char *n = list, *sp; (sp = strchr(n, ' ')) != NULL; n = sp + 1) {
        char pat[sizeof list + 16];
        *sp = 0;
        snprintf(pat, sizeof pat, "/%s.parquet'", n);
        nfiles++;
        if (!strstr(local, pat)) continue;
        if (*got) qk_strlcpy(got + strlen(got), " ", sizeof got - strlen(got));
        qk_strlcpy(got + strlen(got), n, sizeof got - strlen(got));
        nkept++;
    }
    if (strcmp(got, want)) fprintf(stderr, "query: %s\n", sql);
    assert_string_equal(got, want);
    assert_int_equal(skipped, nfiles - nkept);
    setenv("QUACK_DELTA_SKIPPING", "off", 1);
    off_sql = bind(sql, &off_skipped);
    unsetenv("QUACK_DELTA_SKIPPING");
    assert_int_equal(off_skipped, 0);
    on = answer(local);
    off = answer(off_sql);
    assert_string_equal(on, off);
    free(on);
    free(off);
    free(off_sql);
    free(local);
}

/* ---- tables ------------------------------------------------------------------------------- */

#define NUMS "f0 f1 f2 f3 f4 f5 f6"
#define ALL_NUMS NUMS /* every file */

/* nums: x long, y double, 7 files: x in [1,10], [11,20], [21,30] with stats; f3 x in
 * [100,105] without stats; f4 only NULLs; f5 stats of nulls; f6 stats that are not JSON. */
static void make_nums(void)
{
    static const tfile f[] = {
        {"f0", NULL, NULL, "SELECT range AS x, range / 2 AS y FROM range(1, 11)",
         "{\"numRecords\":10,\"minValues\":{\"x\":1,\"y\":0.5},\"maxValues\":{\"x\":10,\"y\":5.0},"
         "\"nullCount\":{\"x\":0,\"y\":0}}"},
        {"f1", NULL, NULL, "SELECT range AS x, NULL::DOUBLE AS y FROM range(11, 21)",
         "{\"numRecords\":10,\"minValues\":{\"x\":11},\"maxValues\":{\"x\":20},"
         "\"nullCount\":{\"x\":0,\"y\":10}}"},
        {"f2", NULL, NULL, "SELECT range AS x, 1.0::DOUBLE AS y FROM range(21, 31)",
         "{\"numRecords\":10,\"minValues\":{\"x\":21},\"maxValues\":{\"x\":30},"
         "\"nullCount\":{\"x\":0}}"},
        {"f3", NULL, NULL, "SELECT range AS x, 2.0::DOUBLE AS y FROM range(100, 106)", NULL},
        {"f4", NULL, NULL, "SELECT NULL::BIGINT AS x, 3.0::DOUBLE AS y FROM range(3)",
         "{\"numRecords\":3,\"minValues\":{},\"maxValues\":{},\"nullCount\":{\"x\":3}}"},
        {"f5", NULL, NULL, "SELECT range AS x, 4.0::DOUBLE AS y FROM range(40, 42)",
         "{\"numRecords\":2,\"minValues\":{\"x\":null},\"maxValues\":{\"x\":null},"
         "\"nullCount\":{\"x\":null}}"},
        {"f6", NULL, NULL, "SELECT 50::BIGINT AS x, 5.0::DOUBLE AS y", "{not json"},
    };
    commit("nums", 0,
           "{\"name\":\"x\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}},"
           "{\"name\":\"y\",\"type\":\"double\",\"nullable\":true,\"metadata\":{}}",
           "[]", f, sizeof f / sizeof f[0]);
}

/* parts: partitioned by p (string) and day (date); x long with stats [1,5] everywhere. v1 adds
 * c0 (p = 'c'). */
static void make_parts(void)
{
    static const char *st = "{\"numRecords\":5,\"minValues\":{\"x\":1},\"maxValues\":{\"x\":5},"
                            "\"nullCount\":{\"x\":0}}";
    const tfile f[] = {
        {"a0", "p=a/day=2024-01-01", "{\"p\":\"a\",\"day\":\"2024-01-01\"}",
         "SELECT range AS x FROM range(1, 6)", st},
        {"b0", "p=b/day=2024-01-02", "{\"p\":\"b\",\"day\":\"2024-01-02\"}",
         "SELECT range AS x FROM range(1, 6)", st},
        {"n0", "p=__HIVE_DEFAULT_PARTITION__/day=2024-01-03", "{\"p\":null,\"day\":\"2024-01-03\"}",
         "SELECT range AS x FROM range(1, 6)", st},
    };
    const tfile c = {"c0", "p=c/day=2024-01-04", "{\"p\":\"c\",\"day\":\"2024-01-04\"}",
                     "SELECT range AS x FROM range(1, 6)", st};
    commit("parts", 0,
           "{\"name\":\"p\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}},"
           "{\"name\":\"day\",\"type\":\"date\",\"nullable\":true,\"metadata\":{}},"
           "{\"name\":\"x\",\"type\":\"long\",\"nullable\":true,\"metadata\":{}}",
           "[\"p\",\"day\"]", f, 3);
    commit("parts", 1, NULL, NULL, &c, 1);
}

/* times: ts timestamp, tn timestamp_ntz, d date. t0's stats are truncated to ms (its rows are
 * .0005 s past them); t1's are exact. */
static void make_times(void)
{
    static const tfile f[] = {
        {"t0", NULL, NULL,
         "SELECT TIMESTAMPTZ '2024-01-01 00:00:00.0005+00' + INTERVAL (range) SECOND AS ts, "
         "TIMESTAMP '2024-01-01 00:00:00.0005' + INTERVAL (range) SECOND AS tn, "
         "DATE '2024-01-01' AS d FROM range(2)",
         "{\"numRecords\":2,\"minValues\":{\"ts\":\"2024-01-01T00:00:00.000Z\","
         "\"tn\":\"2024-01-01T00:00:00.000\",\"d\":\"2024-01-01\"},\"maxValues\":{\"ts\":"
         "\"2024-01-01T00:00:01.000Z\",\"tn\":\"2024-01-01T00:00:01.000\",\"d\":\"2024-01-01\"},"
         "\"nullCount\":{\"ts\":0,\"tn\":0,\"d\":0}}"},
        {"t1", NULL, NULL,
         "SELECT TIMESTAMPTZ '2024-01-02 00:00:00+00' AS ts, TIMESTAMP '2024-01-02 00:00:00' "
         "AS tn, DATE '2024-01-02' AS d",
         "{\"numRecords\":1,\"minValues\":{\"ts\":\"2024-01-02T00:00:00.000Z\","
         "\"tn\":\"2024-01-02T00:00:00.000\",\"d\":\"2024-01-02\"},\"maxValues\":{\"ts\":"
         "\"2024-01-02T00:00:00.000Z\",\"tn\":\"2024-01-02T00:00:00.000\",\"d\":\"2024-01-02\"},"
         "\"nullCount\":{\"ts\":0,\"tn\":0,\"d\":0}}"},
    };
    commit("times", 0,
           "{\"name\":\"ts\",\"type\":\"timestamp\",\"nullable\":true,\"metadata\":{}},"
           "{\"name\":\"tn\",\"type\":\"timestamp_ntz\",\"nullable\":true,\"metadata\":{}},"
           "{\"name\":\"d\",\"type\":\"date\",\"nullable\":true,\"metadata\":{}}",
           "[]", f, 2);
}

/* strs: s string. s1's max is a truncated prefix ("dat" for "datum"); s2's max is a prefix
 * plus U+FFFF, which sorts below its real value (an emoji) in UTF-8 byte order. */
static void make_strs(void)
{
    static const tfile f[] = {
        {"s0", NULL, NULL, "SELECT unnest(['apple', 'banana']) AS s",
         "{\"numRecords\":2,\"minValues\":{\"s\":\"apple\"},\"maxValues\":{\"s\":\"banana\"},"
         "\"nullCount\":{\"s\":0}}"},
        {"s1", NULL, NULL, "SELECT unnest(['cherry', 'datum']) AS s",
         "{\"numRecords\":2,\"minValues\":{\"s\":\"cherry\"},\"maxValues\":{\"s\":\"dat\"},"
         "\"nullCount\":{\"s\":0}}"},
        {"s2", NULL, NULL, "SELECT 'zeb\xF0\x9F\x98\x80' AS s",
         "{\"numRecords\":1,\"minValues\":{\"s\":\"zeb\"},\"maxValues\":{\"s\":\"zeb\\uffff\"},"
         "\"nullCount\":{\"s\":0}}"},
    };
    commit("strs", 0, "{\"name\":\"s\",\"type\":\"string\",\"nullable\":true,\"metadata\":{}}",
           "[]", f, 3);
}

static int setup_tables(void **state)
{
    if (setup(state)) return -1;
    make_nums();
    make_parts();
    make_times();
    make_strs();
    return 0;
}

/* ---- stats: each supported shape keeps exactly the files that can match --------------------- */

static void test_equal_keeps_the_files_whose_range_holds_it(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE x = 15", NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x = 1000", NUMS, "f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x = '15'", NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x = 15.5", NUMS, "f1 f3 f5 f6");
}

static void test_less_and_greater_use_min_and_max(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE x < 11", NUMS, "f0 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x <= 11", NUMS, "f0 f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x > 20", NUMS, "f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x >= 20", NUMS, "f1 f2 f3 f5 f6");
}

static void test_constant_on_the_left_is_mirrored(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE 15 < x", NUMS, "f1 f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE 11 > x", NUMS, "f0 f3 f5 f6");
}

static void test_between_and_in(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE x BETWEEN 9 AND 12", NUMS, "f0 f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x IN (5, 25)", NUMS, "f0 f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x IN (1000, 2000)", NUMS, "f3 f5 f6");
    /* values of different types: DuckDB compares all in one common type; only NULLs skip */
    expect_kept("SELECT * FROM nums WHERE x IN (15, 25.5)", NUMS, "f0 f1 f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x BETWEEN 9 AND 12.5", NUMS, "f0 f1 f2 f3 f5 f6");
}

static void test_is_null_and_is_not_null_use_null_counts(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE x IS NULL", NUMS, "f3 f4 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x IS NOT NULL", NUMS, "f0 f1 f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE y IS NULL", NUMS, "f1 f2 f3 f4 f5 f6");
}

static void test_and_or_combine_and_and_drops_what_it_cannot_use(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE x = 15 OR x = 25", NUMS, "f1 f2 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x >= 5 AND x <= 12", NUMS, "f0 f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE x = 15 AND abs(x) = 15", NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums WHERE (x < 5 OR x > 25) AND x <> 3", NUMS, "f0 f2 f3 f5 f6");
}

static void test_unsupported_shapes_keep_every_file(void **state)
{
    static const char *const q[] = {
        "SELECT * FROM nums WHERE x + 1 = 16",
        "SELECT * FROM nums WHERE abs(x) = 15",
        "SELECT * FROM nums WHERE x <> 15",
        "SELECT * FROM nums WHERE NOT (x = 15)",
        "SELECT * FROM nums WHERE x = 15 OR random() < 2",
        "SELECT * FROM nums WHERE x = 15 OR abs(x) = 15",
        "SELECT * FROM nums WHERE x = (SELECT 15)",
        "SELECT * FROM nums WHERE CAST(x AS VARCHAR) = '15'",
        "SELECT * FROM nums WHERE x = y",
        "SELECT * FROM nums WHERE x > 1000 + random()",
        "SELECT * FROM (SELECT * FROM nums) WHERE x = 15",
        "SELECT * FROM nums TABLESAMPLE 100% WHERE x = 15",
        "SELECT * FROM nums AS n(a, b) WHERE a = 15",
    };
    (void)state;
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        expect_kept(q[i], NUMS, ALL_NUMS);
}

static void test_double_max_is_never_used(void **state)
{
    (void)state; /* NaN sorts above every number and stats leave it out; f1's y are all NULL */
    expect_kept("SELECT * FROM nums WHERE y > 1000", NUMS, "f0 f2 f3 f4 f5 f6");
    expect_kept("SELECT * FROM nums WHERE y < 0.4", NUMS, "f2 f3 f4 f5 f6");
}

/* ---- which references and names ---------------------------------------------------------- */

static void test_qualified_names_and_aliases(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums WHERE nums.x = 15", NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums AS n WHERE n.x = 15", NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums AS n WHERE n.x = 15 OR x = 25", NUMS, "f1 f2 f3 f5 f6");
}

static void test_inner_joins_need_qualified_names_outer_joins_keep_all(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM nums JOIN (SELECT 15 AS k) o ON nums.x = o.k WHERE nums.x = 15",
                NUMS, "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums, (SELECT 15 AS k) o WHERE nums.x = 15 AND o.k = 15", NUMS,
                "f1 f3 f5 f6");
    expect_kept("SELECT * FROM nums JOIN (SELECT 15 AS k) o ON nums.x = o.k WHERE x = 15", NUMS,
                ALL_NUMS);
    expect_kept("SELECT * FROM (SELECT 15 AS k) o LEFT JOIN nums ON nums.x = o.k "
                "WHERE nums.x IS NULL",
                NUMS, ALL_NUMS);
    expect_kept("SELECT * FROM nums LEFT JOIN (SELECT 15 AS k) o ON nums.x = o.k "
                "WHERE nums.x = 15",
                NUMS, ALL_NUMS);
}

static void test_where_of_a_cte_or_subquery_applies_to_its_own_from(void **state)
{
    (void)state;
    expect_kept("WITH c AS (SELECT * FROM nums WHERE x = 15) SELECT count(*) FROM c", NUMS,
                "f1 f3 f5 f6");
    expect_kept("SELECT (SELECT count(*) FROM nums WHERE x > 25) AS n", NUMS, "f2 f3 f5 f6");
}

static void test_where_false_skips_every_file_and_reads_nothing(void **state)
{
    char *local, *a;
    size_t skipped;
    (void)state;
    expect_kept("SELECT * FROM nums WHERE false", NUMS, "");
    local = bind("SELECT * FROM nums WHERE x = 15 AND false", &skipped);
    assert_int_equal(skipped, 7);
    a = answer(local);
    assert_string_equal(a, "0:");
    free(a);
    free(local);
}

/* ---- partition values: exact ------------------------------------------------------------- */

#define PARTS "a0 b0 n0 c0"

static void test_partition_values_are_evaluated_exactly(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM parts WHERE p = 'a'", PARTS, "a0");
    expect_kept("SELECT * FROM parts WHERE p IS NULL", PARTS, "n0");
    expect_kept("SELECT * FROM parts WHERE p <> 'a'", PARTS, "b0 c0");
    expect_kept("SELECT * FROM parts WHERE upper(p) = 'B'", PARTS, "b0");
    expect_kept("SELECT * FROM parts WHERE day >= DATE '2024-01-02' AND day < '2024-01-04'", PARTS,
                "b0 n0");
    expect_kept("SELECT * FROM parts WHERE parts.p = 'b' OR p = 'c'", PARTS, "b0 c0");
}

static void test_partition_and_stats_conjuncts_mix(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM parts WHERE p = 'a' OR x > 100", PARTS, "a0");
    expect_kept("SELECT * FROM parts WHERE p = 'a' OR x > 3", PARTS, "a0 b0 n0 c0");
    expect_kept("SELECT * FROM parts WHERE p = 'a' AND x = 10", PARTS, "");
}

static void test_at_version_is_skipped_the_same_way(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM parts AT (VERSION => 0) WHERE p = 'b'", "a0 b0 n0", "b0");
    expect_kept("SELECT * FROM parts AT (VERSION => 1) WHERE p >= 'b'", PARTS, "b0 c0");
}

/* ---- timestamps and strings: loose stats ------------------------------------------------ */

static void test_timestamp_stats_truncated_to_ms_lose_no_row(void **state)
{
    char *local, *a, *q = NULL;
    size_t skipped;
    (void)state;
    expect_kept("SELECT * FROM times WHERE ts > TIMESTAMPTZ '2024-01-01 00:00:01.0004+00'", "t0 t1",
                "t0 t1");
    expect_kept("SELECT * FROM times WHERE ts = TIMESTAMPTZ '2024-01-01 00:00:01.0005+00'", "t0 t1",
                "t0");
    expect_kept("SELECT * FROM times WHERE ts > TIMESTAMPTZ '2024-01-01 00:00:01.002+00'", "t0 t1",
                "t1");
    expect_kept("SELECT * FROM times WHERE ts < TIMESTAMPTZ '2024-01-01 00:00:00.0001+00'", "t0 t1",
                "t0");
    expect_kept("SELECT * FROM times WHERE tn >= TIMESTAMP '2024-01-01 00:00:01.0005'", "t0 t1",
                "t0 t1");
    expect_kept("SELECT * FROM times WHERE tn > TIMESTAMP '2024-01-01 00:00:01.002'", "t0 t1",
                "t1");
    expect_kept("SELECT * FROM times WHERE d = DATE '2024-01-02'", "t0 t1", "t1");
    expect_kept("SELECT * FROM times WHERE d < '2024-01-02'", "t0 t1", "t0");
    /* the row at .0005 s past the max is found */
    local =
        bind("SELECT * FROM times WHERE ts = TIMESTAMPTZ '2024-01-01 00:00:01.0005+00'", &skipped);
    assert_int_equal(skipped, 1);
    assert_true(asprintf(&q, "SELECT CAST(count(*) AS VARCHAR) FROM (%s)", local) > 0);
    a = cell(q);
    assert_string_equal(a, "1");
    free(a);
    free(q);
    free(local);
}

static void test_zoned_constant_on_a_timestamp_ntz_keeps_every_file(void **state)
{
    (void)state; /* the column would be converted through the session's time zone */
    expect_kept("SELECT * FROM times WHERE tn > TIMESTAMPTZ '2024-01-01 00:00:01.002+00'", "t0 t1",
                "t0 t1");
}

static void test_string_max_may_be_a_truncated_prefix(void **state)
{
    (void)state;
    expect_kept("SELECT * FROM strs WHERE s = 'banana'", "s0 s1 s2", "s0");
    expect_kept("SELECT * FROM strs WHERE s = 'datum'", "s0 s1 s2", "s1");
    expect_kept("SELECT * FROM strs WHERE s > 'dau'", "s0 s1 s2", "s2");
    expect_kept("SELECT * FROM strs WHERE s >= 'cherry'", "s0 s1 s2", "s1 s2");
    expect_kept("SELECT * FROM strs WHERE s < 'b'", "s0 s1 s2", "s0");
    expect_kept("SELECT * FROM strs WHERE s = 'zeb\xF0\x9F\x98\x80'", "s0 s1 s2", "s2");
    expect_kept("SELECT * FROM strs WHERE s IN ('apple', 'zz')", "s0 s1 s2", "s0");
    expect_kept("SELECT * FROM strs WHERE s LIKE 'a%'", "s0 s1 s2", "s0 s1 s2");
}

/* ---- qk_delta_skip itself --------------------------------------------------------------- */

static qk_delta_snapshot *load(const char *table)
{
    qk_delta_snapshot *snap = NULL;
    qk_store *s = NULL;
    assert_int_equal(qk_store_open(lake_dir, &s, &err), 0);
    assert_int_equal(qk_delta_snapshot_load(eng, s, table, NULL, &snap, &err), 0);
    qk_store_destroy(s);
    return snap;
}

static void test_errors_keep_every_file(void **state)
{
    qk_delta_snapshot *snap = load("nums");
    const char *bad[] = {"this is not SQL"}, *ok[] = {"15"};
    qk_delta_pred p = {QK_DELTA_P_CMP, QK_DELTA_EQ, 0, NULL, bad, 1, NULL, 0};
    bool keep[7];
    size_t skipped = 99;
    duckdb_connection con;
    (void)state;
    assert_int_equal(duckdb_connect(qk_engine_db(eng), &con), DuckDBSuccess);
    assert_int_not_equal(qk_delta_skip(con, snap, "nums", &p, keep, &skipped, &err), 0);
    assert_int_equal(skipped, 0);
    for (size_t i = 0; i < 7; i++)
        assert_true(keep[i]);
    p.column = 9; /* no such column */
    p.values = ok;
    assert_int_equal(qk_delta_skip(con, snap, "nums", &p, keep, &skipped, &err), QK_EINVAL);
    assert_int_equal(skipped, 0);
    p.column = 0;
    assert_int_equal(qk_delta_skip(con, snap, "nums", &p, keep, &skipped, &err), 0);
    assert_int_equal(skipped, 3);
    duckdb_disconnect(&con);
    qk_delta_snapshot_destroy(snap);
}

static void test_switch_off_reads_every_file(void **state)
{
    char *local;
    size_t skipped;
    (void)state;
    setenv("QUACK_DELTA_SKIPPING", "off", 1);
    assert_false(qk_delta_skipping_enabled());
    local = bind("SELECT * FROM nums WHERE x = 15", &skipped);
    assert_int_equal(skipped, 0);
    for (int i = 0; i < 7; i++) {
        char pat[32];
        snprintf(pat, sizeof pat, "/f%d.parquet'", i);
        assert_non_null(strstr(local, pat));
    }
    free(local);
    unsetenv("QUACK_DELTA_SKIPPING");
    assert_true(qk_delta_skipping_enabled());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_keeps_the_files_whose_range_holds_it),
        cmocka_unit_test(test_less_and_greater_use_min_and_max),
        cmocka_unit_test(test_constant_on_the_left_is_mirrored),
        cmocka_unit_test(test_between_and_in),
        cmocka_unit_test(test_is_null_and_is_not_null_use_null_counts),
        cmocka_unit_test(test_and_or_combine_and_and_drops_what_it_cannot_use),
        cmocka_unit_test(test_unsupported_shapes_keep_every_file),
        cmocka_unit_test(test_double_max_is_never_used),
        cmocka_unit_test(test_qualified_names_and_aliases),
        cmocka_unit_test(test_inner_joins_need_qualified_names_outer_joins_keep_all),
        cmocka_unit_test(test_where_of_a_cte_or_subquery_applies_to_its_own_from),
        cmocka_unit_test(test_where_false_skips_every_file_and_reads_nothing),
        cmocka_unit_test(test_partition_values_are_evaluated_exactly),
        cmocka_unit_test(test_partition_and_stats_conjuncts_mix),
        cmocka_unit_test(test_at_version_is_skipped_the_same_way),
        cmocka_unit_test(test_timestamp_stats_truncated_to_ms_lose_no_row),
        cmocka_unit_test(test_zoned_constant_on_a_timestamp_ntz_keeps_every_file),
        cmocka_unit_test(test_string_max_may_be_a_truncated_prefix),
        cmocka_unit_test(test_errors_keep_every_file),
        cmocka_unit_test(test_switch_off_reads_every_file),
    };
    return cmocka_run_group_tests(tests, setup_tables, teardown);
}
