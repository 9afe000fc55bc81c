/* SPDX-License-Identifier: MIT */
/*
 * test_lake_catalog.c: the naming rules of src/lake/catalog.c on a local store (a temp dir of
 * empty and tiny files): which folders are tables, their kinds, formats, file counts, bytes,
 * partition columns, patterns, lookups (exact, case, short names, ambiguity, hostile names)
 * and the table-function SQL. Queries over real data: tests/integration/test_lake_tables.sh.
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
#include "lake/catalog.h"

static char dir[] = "/tmp/qk-test-catalog-XXXXXX";
static qk_store *lake;

static void put(const char *key, const char *data)
{
    qk_err err = {0};
    assert_int_equal(qk_store_put(lake, key, data, strlen(data), &err), 0);
}

static int setup(void **state)
{
    qk_err err = {0};
    (void)state;
    if (!mkdtemp(dir) || qk_store_open(dir, &lake, &err) != 0) return -1;
    put("dataset/taxi.parquet", "0123456789");
    put("part/d=1/x.parquet", "ab");
    put("part/d=2/x.parquet", "abc");
    put("part/d=2/y.parquet", "abcd");
    put("part/_SUCCESS", "");
    put("two/a=1/b=x/f.parquet", "1");
    put("two/a=2/b=y/f.parquet", "1");
    put("ragged/a=1/f.parquet", "1");
    put("ragged/a=1/b=2/f.parquet", "1");
    put("raw/climate/a.csv", "x\n1\n");
    put("raw/climate/b.csv", "x\n2\n");
    put("raw/climate/notes.md", "hello");
    put("raw/events/2024.json", "{}");
    put("silver/trips/_delta_log/00000000000000000000.json", "{}");
    put("silver/trips/p.parquet", "1");
    put("mixed/a.csv", "1");
    put("mixed/b.parquet", "1");
    put("gz/a.csv.gz", "1");
    put("gz/b.csv", "1");
    put("dotted/d=1/.hidden.parquet", "1");
    put("dotted/d=1/ok.parquet", "1");
    put("_quack/state.parquet", "1");
    put(".trash/x.parquet", "1");
    put("Top.parquet", "1");
    put("My Zone/t.parquet", "1");
    put("readme.txt", "hi");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_store_destroy(lake);
    qk_rmtree(dir, false, NULL);
    return 0;
}

static const qk_lake_table *find(const qk_lake_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->tables[i].name, name)) return &c->tables[i];
    return NULL;
}

static void test_scan(void **state)
{
    qk_lake_catalog c = {0};
    qk_err err = {0};
    const qk_lake_table *t;
    (void)state;
    assert_int_equal(qk_lake_catalog_scan(lake, &c, &err), 0);
    assert_true(c.scanned);
    for (size_t i = 1; i < c.n; i++)
        assert_true(strcmp(c.tables[i - 1].name, c.tables[i].name) < 0);

    /* a folder with one data file lists the file */
    assert_non_null(t = find(&c, "dataset.taxi"));
    assert_int_equal(t->kind, QK_TABLE_FILE);
    assert_int_equal(t->bytes, 10);
    assert_string_equal(t->pattern, "dataset/taxi.parquet");
    assert_null(find(&c, "dataset"));

    assert_non_null(t = find(&c, "part"));
    assert_int_equal(t->kind, QK_TABLE_HIVE);
    assert_int_equal(t->format, QK_FORMAT_PARQUET);
    assert_int_equal(t->nfiles, 3);
    assert_int_equal(t->bytes, 9);
    assert_int_equal(t->partitions, 2);
    assert_int_equal(t->npart_cols, 1);
    assert_string_equal(t->part_cols[0], "d");
    assert_string_equal(t->pattern, "part/*=*/*.parquet");
    assert_null(t->files);

    assert_non_null(t = find(&c, "two"));
    assert_int_equal(t->kind, QK_TABLE_HIVE);
    assert_int_equal(t->npart_cols, 2);
    assert_string_equal(t->part_cols[1], "b");
    assert_string_equal(t->pattern, "two/*=*/*=*/*.parquet");

    /* different depths: a zone, not a table; its files are not tables either (in folders) */
    assert_null(find(&c, "ragged"));

    assert_non_null(t = find(&c, "raw.climate"));
    assert_int_equal(t->kind, QK_TABLE_FOLDER);
    assert_int_equal(t->format, QK_FORMAT_CSV);
    assert_int_equal(t->nfiles, 2);
    assert_string_equal(t->pattern, "raw/climate/*.csv");
    assert_non_null(t = find(&c, "raw.events.2024") ? find(&c, "raw.events.2024")
                                                    : find(&c, "raw.events.\"2024\""));
    assert_int_equal(t->format, QK_FORMAT_JSON);

    assert_non_null(t = find(&c, "silver.trips"));
    assert_int_equal(t->kind, QK_TABLE_DELTA);
    assert_non_null(t = find(&c, "mixed"));
    assert_int_equal(t->format, QK_FORMAT_MIXED);

    /* same format, different extensions: the files are listed, no glob */
    assert_non_null(t = find(&c, "gz"));
    assert_int_equal(t->format, QK_FORMAT_CSV);
    assert_non_null(t->files);
    assert_int_equal(t->nfiles, 2);

    /* a hidden file the glob would match: explicit file list */
    assert_non_null(t = find(&c, "dotted"));
    assert_int_equal(t->nfiles, 1);
    assert_non_null(t->files);
    assert_string_equal(t->files[0], "dotted/d=1/ok.parquet");

    /* names: quoted when not plain lower-case identifiers; hidden folders never */
    assert_non_null(find(&c, "\"Top\""));
    assert_non_null(find(&c, "\"My Zone\".t"));
    assert_null(find(&c, "_quack.state"));
    assert_null(find(&c, "readme"));
    for (size_t i = 0; i < c.n; i++)
        assert_null(strstr(c.tables[i].path, "_quack"));
    qk_lake_catalog_free(&c);
}

static int lookup(const char *a, const char *b, qk_lake_table *t, qk_err *err)
{
    const char *parts[2] = {a, b};
    return qk_lake_catalog_lookup(lake, parts, b ? 2 : 1, NULL, t, err);
}

static void test_lookup(void **state)
{
    qk_lake_table t;
    qk_lake_catalog cache = {0};
    qk_err err = {0};
    const char *p1[] = {"taxi"};
    (void)state;
    assert_int_equal(lookup("part", NULL, &t, &err), 0);
    assert_int_equal(t.kind, QK_TABLE_HIVE);
    qk_lake_table_free(&t);
    /* lookups are permissive: a single-file folder and its file both resolve */
    assert_int_equal(lookup("dataset", NULL, &t, &err), 0);
    assert_int_equal(t.kind, QK_TABLE_FOLDER);
    qk_lake_table_free(&t);
    assert_int_equal(lookup("dataset", "taxi", &t, &err), 0);
    assert_int_equal(t.kind, QK_TABLE_FILE);
    qk_lake_table_free(&t);
    /* case: exact, then lower case, then a case-insensitive scan */
    assert_int_equal(lookup("PART", NULL, &t, &err), 0);
    qk_lake_table_free(&t);
    assert_int_equal(lookup("top", NULL, &t, &err), 0);
    assert_string_equal(t.path, "Top.parquet");
    qk_lake_table_free(&t);
    /* short name over the full listing, with a cache */
    assert_int_equal(qk_lake_catalog_lookup(lake, p1, 1, &cache, &t, &err), 0);
    assert_string_equal(t.path, "dataset/taxi.parquet");
    qk_lake_table_free(&t);
    assert_true(cache.scanned);
    qk_lake_catalog_free(&cache);
    /* not tables */
    assert_int_equal(lookup("raw", NULL, &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("ragged", NULL, &t, &err), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not a table"));
    assert_int_equal(lookup("nosuch", NULL, &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("_quack", "state", &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("..", "etc", &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("a/b", NULL, &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("", NULL, &t, &err), QK_ENOTFOUND);
    assert_int_equal(lookup("readme", NULL, &t, &err), QK_ENOTFOUND);
    {
        char big[3000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        assert_int_equal(lookup(big, NULL, &t, &err), QK_ENOTFOUND);
    }
    {
        const char *four[] = {"a", "b", "c", "d"};
        assert_int_equal(qk_lake_catalog_lookup(lake, four, 4, NULL, &t, &err), QK_EINVAL);
    }
}

static void test_ambiguous(void **state)
{
    qk_lake_table t;
    qk_err err = {0};
    (void)state;
    put("amb/t.csv", "1");
    put("amb/t.parquet", "1");
    put("amb/u/x.parquet", "1");
    assert_int_equal(lookup("amb", "t", &t, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "ambiguous"));
    /* two tables with the same last component: the short name is ambiguous */
    put("z1/same.parquet", "1");
    put("z1/sub/q.parquet", "1");
    put("z2/same.parquet", "1");
    put("z2/sub/q.parquet", "1");
    assert_int_equal(lookup("same", NULL, &t, &err), QK_EINVAL);
    assert_non_null(strstr(err.msg, "z1.same"));
    assert_non_null(strstr(err.msg, "z2.same"));
}

static void test_sql(void **state)
{
    qk_lake_table t;
    qk_err err = {0};
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 16);
    assert_int_equal(lookup("part", NULL, &t, &err), 0);
    assert_int_equal(qk_lake_table_sql(&t, "s3://b/p", &b, &err), 0);
    assert_string_equal(qk_buf_cstr(&b),
                        "read_parquet('s3://b/p/part/*=*/*.parquet', hive_partitioning = true)");
    qk_lake_table_free(&t);
    qk_buf_truncate(&b, 0);
    assert_int_equal(lookup("raw", "climate", &t, &err), 0);
    assert_int_equal(qk_lake_table_sql(&t, "/l'x", &b, &err), 0);
    assert_string_equal(qk_buf_cstr(&b), "read_csv('/l''x/raw/climate/*.csv', hive_partitioning = "
                                         "false, union_by_name = true)");
    qk_lake_table_free(&t);
    qk_buf_truncate(&b, 0);
    assert_int_equal(lookup("gz", NULL, &t, &err), 0);
    assert_int_equal(qk_lake_table_sql(&t, "/l", &b, &err), 0);
    assert_string_equal(qk_buf_cstr(&b), "read_csv(['/l/gz/a.csv.gz','/l/gz/b.csv'], "
                                         "hive_partitioning = false, union_by_name = true)");
    qk_lake_table_free(&t);
    qk_buf_truncate(&b, 0);
    assert_int_equal(lookup("silver", "trips", &t, &err), 0);
    assert_int_equal(qk_lake_table_sql(&t, "/l", &b, &err), QK_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "Delta"));
    qk_lake_table_free(&t);
    assert_int_equal(lookup("mixed", NULL, &t, &err), 0);
    assert_int_equal(qk_lake_table_sql(&t, "/l", &b, &err), QK_EUNSUPPORTED);
    qk_lake_table_free(&t);
    qk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_sql),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
