/* SPDX-License-Identifier: MIT */
/*
 * test_delta_history.c: Delta HISTORY and VACUUM (src/delta/history.c, vacuum.c).
 *
 * History runs over the delta-rs fixtures (tests/fixtures/delta-rs, copied into the test's
 * lake); its counts are checked against the commit files themselves (lines counted here) or
 * against the values the files hold. Vacuum runs over tables made here: Parquet data files
 * written by DuckDB COPY, commit JSON written with explicit commitInfo timestamps, and file
 * mtimes set with utimes() so each file's age relative to the cutoff is known.
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

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

static char dir[] = "/tmp/qk-test-dhist-XXXXXX";
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
    if (qk_test_sh(
            "cd '%s' && cp -r simple_table simple_table_with_checkpoint delta-0.8.0 delta-0.2.0 "
            "http_requests checkpoint-cdf-table delta-0.8.0-special-partition '%s/'",
            src, lake_dir))
        return -1;
    return qk_store_open(lake_dir, &lake, &err) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_store_destroy(lake);
    return qk_test_engine_done(eng, dir);
}

static qk_delta_history *history_ok(const char *table, size_t limit)
{
    qk_delta_history *h = NULL;
    int rc;
    qk_err_clear(&err);
    rc = qk_delta_history_load(lake, table, limit, &h, &err);
    if (rc) fprintf(stderr, "history %s: %s\n", table, err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(h);
    return h;
}

/* Lines of a commit file that hold an action of the given name, counted from the text. */
static size_t count_actions(const char *table, int64_t version, const char *name)
{
    char path[1024], line[1 << 16], want[64];
    size_t n = 0;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/_delta_log/%020lld.json", lake_dir, table,
             (long long)version);
    snprintf(want, sizeof want, "{\"%s\":", name);
    assert_non_null(f = fopen(path, "r"));
    while (fgets(line, sizeof line, f))
        n += strncmp(line, want, strlen(want)) == 0;
    fclose(f);
    return n;
}

static void set_mtime_path(const char *path, int64_t ms)
{
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = (time_t)(ms / 1000);
    tv[0].tv_usec = tv[1].tv_usec = (suseconds_t)(ms % 1000) * 1000;
    assert_int_equal(utimes(path, tv), 0);
}

/* Set the mtime of a file of the lake (key relative to the lake). */
static void set_mtime(const char *key, int64_t ms)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", lake_dir, key);
    set_mtime_path(path, ms);
}

static bool exists(const char *key)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", lake_dir, key);
    return stat(path, &st) == 0;
}

static uint64_t file_size(const char *key)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", lake_dir, key);
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void put(const char *key, const char *data)
{
    assert_int_equal(qk_store_put(lake, key, data, strlen(data), &err), 0);
}

/* A one-row Parquet file <table>/<name> written by DuckDB, with the given mtime. */
static void data_file(const char *table, const char *name, int id, int64_t mtime_ms)
{
    char sql[4096], key[1024], path[2048];
    snprintf(key, sizeof key, "%s/%s", table, name);
    snprintf(path, sizeof path, "%s/%s", lake_dir, key);
    assert_int_equal(qk_test_sh("mkdir -p \"$(dirname '%s')\"", path), 0);
    snprintf(sql, sizeof sql, "COPY (SELECT %d::BIGINT AS id) TO '%s' (FORMAT parquet)", id, path);
    assert_int_equal(qk_test_exec(eng, sql), 0);
    set_mtime(key, mtime_ms);
}

#define PROTOCOL_AND_METADATA                                                                      \
    "{\"protocol\":{\"minReaderVersion\":1,\"minWriterVersion\":2}}\n"                             \
    "{\"metaData\":{\"id\":\"t\",\"format\":{\"provider\":\"parquet\",\"options\":{}},"            \
    "\"schemaString\":\"{\\\"type\\\":\\\"struct\\\",\\\"fields\\\":[{\\\"name\\\":\\\"id\\\","    \
    "\\\"type\\\":\\\"long\\\",\\\"nullable\\\":true,\\\"metadata\\\":{}}]}\","                    \
    "\"partitionColumns\":[],\"configuration\":{}}}\n"

/* Write commit `version` of table: a commitInfo at ts, then the actions in b (emptied). */
static void commit(const char *table, int64_t version, int64_t ts, qk_buf *b)
{
    char key[1024];
    qk_buf c;
    qk_buf_init(&c, 1 << 20);
    snprintf(key, sizeof key, "%s/_delta_log/%020lld.json", table, (long long)version);
    assert_int_equal(qk_buf_printf(&c,
                                   "{\"commitInfo\":{\"timestamp\":%lld,\"operation\":"
                                   "\"WRITE\"}}\n%s",
                                   (long long)ts, qk_buf_cstr(b)),
                     0);
    put(key, qk_buf_cstr(&c));
    qk_buf_free(&c);
    qk_buf_truncate(b, 0);
}

/* Append an add action for path (as the log writes it) to b. */
static void add_action(qk_buf *b, const char *path)
{
    assert_int_equal(qk_buf_printf(b,
                                   "{\"add\":{\"path\":\"%s\",\"partitionValues\":{},\"size\":1,"
                                   "\"modificationTime\":1,\"dataChange\":true,\"stats\":"
                                   "\"{\\\"numRecords\\\":1}\"}}\n",
                                   path),
                     0);
}

static void remove_action(qk_buf *b, const char *path)
{
    assert_int_equal(qk_buf_printf(b, "{\"remove\":{\"path\":\"%s\",\"dataChange\":true}}\n", path),
                     0);
}

static qk_delta_vacuum_result *vacuum_ok(const char *table, int64_t retain_ms, bool dry_run)
{
    qk_delta_vacuum_result *r = NULL;
    int rc;
    qk_err_clear(&err);
    rc = qk_delta_vacuum(eng, lake, table, retain_ms, dry_run, &r, &err);
    if (rc) fprintf(stderr, "vacuum %s: %s\n", table, err.msg);
    assert_int_equal(rc, 0);
    assert_non_null(r);
    return r;
}

static void load_and_check(const char *table, int kind, int64_t version, int want_rc)
{
    qk_delta_at at = {kind, version, 0};
    qk_delta_snapshot *snap = NULL;
    assert_int_equal(qk_delta_snapshot_load(eng, lake, table, &at, &snap, &err), 0);
    assert_int_equal(qk_delta_check_files(lake, table, snap, NULL, &err), want_rc);
    qk_delta_snapshot_destroy(snap);
}

/*
 * t: the vacuum table. All data files are 10 days old; retain is 1 hour.
 *   v0 (3 days ago)   add a, add b
 *   v1 (2 days ago)   remove a, add c        <- current at the cutoff: keep_version
 *   v2 (1 minute ago) remove b, add d
 *   v3 (now)          remove d
 * plus orphan-old (10 days), orphan-new (now), p=1/orphan (10 days), hidden files
 * (_hidden/x.parquet, .hidden.parquet, p=1/.x.crc) and a nested table (sub/), all old.
 */
static void make_vacuum_table(const char *t, int64_t now)
{
    char key[512];
    int64_t old = now - 10 * DAY_MS;
    qk_buf b;
    qk_buf_init(&b, 1 << 20);
    data_file(t, "a.parquet", 1, old);
    data_file(t, "b.parquet", 2, old);
    data_file(t, "c.parquet", 3, old);
    data_file(t, "d.parquet", 4, old);
    data_file(t, "orphan-old.parquet", 5, old);
    data_file(t, "orphan-new.parquet", 6, now);
    data_file(t, "p=1/orphan.parquet", 7, old);
    data_file(t, "_hidden/x.parquet", 8, old);
    data_file(t, ".hidden.parquet", 9, old);
    data_file(t, "p=1/.x.crc", 10, old);
    data_file(t, "sub/x.parquet", 11, old);
    snprintf(key, sizeof key, "%s/sub/_delta_log/00000000000000000000.json", t);
    put(key, "{}\n");
    qk_buf_adds(&b, PROTOCOL_AND_METADATA);
    add_action(&b, "a.parquet");
    add_action(&b, "b.parquet");
    commit(t, 0, now - 3 * DAY_MS, &b);
    remove_action(&b, "a.parquet");
    add_action(&b, "c.parquet");
    commit(t, 1, now - 2 * DAY_MS, &b);
    remove_action(&b, "b.parquet");
    add_action(&b, "d.parquet");
    commit(t, 2, now - 60000, &b);
    remove_action(&b, "d.parquet");
    commit(t, 3, now, &b);
    for (int v = 0; v <= 3; v++) {
        snprintf(key, sizeof key, "%s/_delta_log/%020d.json", t, v);
        set_mtime(key, old);
    }
    qk_buf_free(&b);
}

/* ---- history ------------------------------------------------------------------------------ */

static void test_history_lists_every_commit_newest_first(void **state)
{
    static const char *ops[] = {"DELETE", "UPDATE", "WRITE", "MERGE", "WRITE"};
    static const int64_t ts[] = {1587968626537, 1587968614187, 1587968604143, 1587968596254,
                                 1587968586154};
    qk_delta_history *h = history_ok("simple_table", 0);
    (void)state;
    assert_int_equal(h->n, 5); /* _delta_log/.tmp/00000000000000000005.json is not a commit */
    assert_int_equal(h->latest, 4);
    assert_int_equal(h->oldest, 0);
    for (size_t i = 0; i < h->n; i++) {
        const qk_delta_commit *c = &h->commits[i];
        assert_int_equal(c->version, 4 - (int64_t)i);
        assert_string_equal(c->operation, ops[i]);
        assert_int_equal(c->timestamp_ms, ts[i]);
        assert_int_equal(c->files_added, count_actions("simple_table", c->version, "add"));
        assert_int_equal(c->files_removed, count_actions("simple_table", c->version, "remove"));
        assert_int_equal(c->rows_added, -1); /* Spark 2020 wrote no stats */
        assert_true(c->bytes_added > 0);
        assert_int_equal(c->metadata, c->version == 0);
        assert_int_equal(c->protocol, c->version == 0);
        assert_null(c->engine_info);
        assert_null(c->txn_app_id);
        assert_int_equal(c->txn_version, -1);
    }
    assert_string_equal(h->commits[4].parameters, "{\"mode\":\"ErrorIfExists\",\"partitionBy\":"
                                                  "\"[]\"}");
    qk_delta_history_free(h);
}

static void test_history_sums_rows_and_bytes_from_stats(void **state)
{
    qk_delta_history *h = history_ok("delta-0.8.0", 0);
    (void)state;
    assert_int_equal(h->n, 2);
    assert_string_equal(h->commits[0].operation, "DELETE");
    assert_string_equal(h->commits[0].parameters, "{\"predicate\":\"[\\\"(`value` = 3)\\\"]\"}");
    assert_int_equal(h->commits[0].files_added, 1);
    assert_int_equal(h->commits[0].files_removed, 1);
    assert_int_equal(h->commits[0].rows_added, 2);
    assert_int_equal(h->commits[0].bytes_added, 440);
    assert_int_equal(h->commits[1].files_added, 2);
    assert_int_equal(h->commits[1].rows_added, 5);
    assert_int_equal(h->commits[1].bytes_added, 885);
    qk_delta_history_free(h);
}

static void test_history_engine_falls_back_to_client_version(void **state)
{
    qk_delta_history *h = history_ok("http_requests", 0);
    (void)state;
    assert_int_equal(h->n, 2);
    assert_string_equal(h->commits[0].engine_info, "delta-rs.0.9.0");
    assert_null(h->commits[0].operation);
    assert_null(h->commits[0].parameters);
    assert_int_equal(h->commits[0].rows_added, 1581);
    assert_int_equal(h->commits[0].bytes_added, 9756);
    assert_int_equal(h->commits[0].timestamp_ms, 1681604881849);
    assert_null(h->commits[1].engine_info); /* {"delta-rs": "0.9.0"} is not engineInfo */
    assert_int_equal(h->commits[1].files_added, 0);
    assert_int_equal(h->commits[1].rows_added, 0);
    assert_true(h->commits[1].metadata && h->commits[1].protocol);
    qk_delta_history_free(h);
}

static void test_history_notes_the_first_txn(void **state)
{
    qk_delta_history *h = history_ok("delta-0.2.0", 0);
    (void)state;
    assert_int_equal(h->n, 4);
    assert_int_equal(h->latest, 3);
    assert_string_equal(h->commits[0].operation, "STREAMING UPDATE");
    assert_string_equal(h->commits[0].txn_app_id, "e4a20b59-dd0e-4c50-b074-e8ae4786df30");
    assert_int_equal(h->commits[0].txn_version, 0);
    assert_null(h->commits[1].txn_app_id);
    assert_int_equal(h->commits[1].files_removed, 4);
    qk_delta_history_free(h);
}

static void test_history_after_log_cleanup_starts_at_oldest_commit(void **state)
{
    qk_delta_history *h = history_ok("checkpoint-cdf-table", 0);
    (void)state;
    assert_int_equal(h->n, 3);
    assert_int_equal(h->latest, 5);
    assert_int_equal(h->oldest, 3);
    assert_int_equal(h->commits[2].version, 3);
    assert_non_null(h->commits[0].engine_info);
    assert_true(strncmp(h->commits[0].engine_info, "Apache-Spark/3.5.1", 18) == 0);
    assert_int_equal(h->commits[0].files_added, 4);
    assert_int_equal(h->commits[0].files_removed, 4); /* cdc actions are not counted */
    assert_int_equal(h->commits[2].files_added, 0);
    qk_delta_history_free(h);
}

static void test_history_limit_keeps_the_newest(void **state)
{
    qk_delta_history *h = history_ok("simple_table_with_checkpoint", 3);
    (void)state;
    assert_int_equal(h->n, 3);
    assert_int_equal(h->latest, 10);
    assert_int_equal(h->oldest, 0);
    assert_int_equal(h->commits[0].version, 10);
    assert_int_equal(h->commits[2].version, 8);
    qk_delta_history_free(h);
    h = history_ok("simple_table_with_checkpoint", 100);
    assert_int_equal(h->n, 11);
    assert_int_equal(h->commits[10].version, 0);
    qk_delta_history_free(h);
}

static void test_history_time_is_ict_then_timestamp_then_mtime(void **state)
{
    qk_delta_history *h;
    (void)state;
    put("t_time/_delta_log/00000000000000000000.json",
        "{\"commitInfo\":{\"inCommitTimestamp\":5000,\"timestamp\":9000}}\n" PROTOCOL_AND_METADATA);
    put("t_time/_delta_log/00000000000000000001.json",
        "{\"commitInfo\":{\"timestamp\":7000,\"futureField\":[1]}}\n{\"futureAction\":{}}\n\n");
    put("t_time/_delta_log/00000000000000000002.json",
        "{\"txn\":{\"appId\":\"x\",\"version\":3}}\n"
        "{\"txn\":{\"appId\":\"y\",\"version\":4}}\n");
    set_mtime("t_time/_delta_log/00000000000000000002.json", 1234567000);
    h = history_ok("t_time", 0);
    assert_int_equal(h->n, 3);
    assert_int_equal(h->commits[2].timestamp_ms, 5000);
    assert_int_equal(h->commits[1].timestamp_ms, 7000);
    assert_int_equal(h->commits[0].timestamp_ms, 1234567000);
    assert_string_equal(h->commits[0].txn_app_id, "x");
    assert_int_equal(h->commits[0].txn_version, 3);
    qk_delta_history_free(h);
}

static void test_history_latest_counts_complete_checkpoints(void **state)
{
    qk_delta_history *h;
    (void)state;
    put("t_ckpt/_delta_log/00000000000000000000.json", PROTOCOL_AND_METADATA);
    put("t_ckpt/_delta_log/00000000000000000007.checkpoint.0000000001.0000000002.parquet", "x");
    put("t_ckpt/_delta_log/00000000000000000009.checkpoint.abc.json", "x"); /* v2: ignored */
    put("t_ckpt/_delta_log/_commits/00000000000000000009.uuid.json", "x");
    h = history_ok("t_ckpt", 0);
    assert_int_equal(h->latest, 0); /* part 1 of 2 is not a checkpoint */
    assert_int_equal(h->n, 1);
    qk_delta_history_free(h);
    put("t_ckpt/_delta_log/00000000000000000007.checkpoint.0000000002.0000000002.parquet", "x");
    h = history_ok("t_ckpt", 0);
    assert_int_equal(h->latest, 7); /* versions only in a checkpoint are not listed */
    assert_int_equal(h->oldest, 0);
    assert_int_equal(h->n, 1);
    qk_delta_history_free(h);
}

static void test_history_corrupt_line_is_parse_error_with_key_and_line(void **state)
{
    qk_delta_history *h = NULL;
    (void)state;
    assert_int_equal(qk_test_sh("cp -r '%s/delta-0.8.0' '%s/t_corrupt'", lake_dir, lake_dir), 0);
    put("t_corrupt/_delta_log/00000000000000000002.json",
        "{\"commitInfo\":{}}\n{\"add\":{\"path\":\"x.parquet\",\"size\":1\n");
    assert_int_equal(qk_delta_history_load(lake, "t_corrupt", 0, &h, &err), QK_EPARSE);
    assert_null(h);
    assert_non_null(strstr(err.msg, "t_corrupt/_delta_log/00000000000000000002.json:2"));
    put("t_corrupt/_delta_log/00000000000000000002.json", "{\"commitInfo\":{}}\n[1]\n");
    assert_int_equal(qk_delta_history_load(lake, "t_corrupt", 0, &h, &err), QK_EPARSE);
    assert_non_null(strstr(err.msg, "00000000000000000002.json:2: an action is not"));
    assert_null(h);
}

static void test_history_missing_table_is_not_found(void **state)
{
    qk_delta_history *h = NULL;
    (void)state;
    assert_int_equal(qk_delta_history_load(lake, "no_such_table", 0, &h, &err), QK_ENOTFOUND);
    assert_null(h);
    assert_non_null(strstr(err.msg, "no_such_table"));
}

/* ---- vacuum ------------------------------------------------------------------------------- */

static void test_vacuum_dry_run_lists_old_unreferenced_files_only(void **state)
{
    int64_t now = qk_epoch_ms();
    qk_delta_vacuum_result *r;
    (void)state;
    make_vacuum_table("t_dry", now);
    r = vacuum_ok("t_dry", HOUR_MS, true);
    assert_int_equal(r->keep_version, 1);
    assert_true(r->cutoff_ms >= now - HOUR_MS && r->cutoff_ms <= qk_epoch_ms() - HOUR_MS);
    assert_int_equal(r->n, 3);
    assert_string_equal(r->files[0].key, "t_dry/a.parquet");
    assert_true(r->files[0].tracked); /* removed by v1, before the cutoff */
    assert_int_equal(r->files[0].mtime_ms, now - 10 * DAY_MS);
    assert_string_equal(r->files[1].key, "t_dry/orphan-old.parquet");
    assert_false(r->files[1].tracked);
    assert_string_equal(r->files[2].key, "t_dry/p=1/orphan.parquet");
    assert_false(r->files[2].tracked);
    assert_int_equal(r->files[0].size, file_size("t_dry/a.parquet"));
    assert_int_equal(r->bytes, file_size("t_dry/a.parquet") +
                                   file_size("t_dry/orphan-old.parquet") +
                                   file_size("t_dry/p=1/orphan.parquet"));
    assert_int_equal(r->deleted, 0);
    assert_true(exists("t_dry/a.parquet") && exists("t_dry/orphan-old.parquet"));
    qk_delta_vacuum_free(r);
}

static void test_vacuum_deletes_and_keeps_the_window_readable(void **state)
{
    int64_t now = qk_epoch_ms();
    qk_delta_vacuum_result *r;
    (void)state;
    make_vacuum_table("t_vac", now);
    r = vacuum_ok("t_vac", HOUR_MS, false);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->deleted, 3);
    qk_delta_vacuum_free(r);
    assert_false(exists("t_vac/a.parquet"));          /* removed before the cutoff */
    assert_false(exists("t_vac/orphan-old.parquet")); /* never committed, old */
    assert_false(exists("t_vac/p=1/orphan.parquet"));
    assert_true(exists("t_vac/b.parquet"));          /* removed after the cutoff */
    assert_true(exists("t_vac/c.parquet"));          /* active */
    assert_true(exists("t_vac/d.parquet"));          /* added and removed after the cutoff */
    assert_true(exists("t_vac/orphan-new.parquet")); /* may be a writer's, not yet committed */
    assert_true(exists("t_vac/_hidden/x.parquet") && exists("t_vac/.hidden.parquet") &&
                exists("t_vac/p=1/.x.crc"));
    assert_true(exists("t_vac/_delta_log/00000000000000000000.json"));
    assert_true(exists("t_vac/sub/x.parquet")); /* another table's file */
    load_and_check("t_vac", QK_DELTA_AT_LATEST, 0, 0);
    load_and_check("t_vac", QK_DELTA_AT_VERSION, 1, 0); /* time travel still works */
    load_and_check("t_vac", QK_DELTA_AT_VERSION, 2, 0);
    load_and_check("t_vac", QK_DELTA_AT_VERSION, 0, QK_ENOTFOUND); /* before the window */
    /* a second run finds nothing */
    r = vacuum_ok("t_vac", HOUR_MS, false);
    assert_int_equal(r->n, 0);
    assert_int_equal(r->bytes, 0);
    qk_delta_vacuum_free(r);
}

static void test_vacuum_without_old_commit_keeps_every_version(void **state)
{
    int64_t now = qk_epoch_ms();
    qk_delta_vacuum_result *r;
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 20);
    data_file("t_young", "a.parquet", 1, now - 10 * DAY_MS);
    data_file("t_young", "orphan.parquet", 2, now - 10 * DAY_MS);
    qk_buf_adds(&b, PROTOCOL_AND_METADATA);
    add_action(&b, "a.parquet");
    commit("t_young", 0, now - 60000, &b);
    remove_action(&b, "a.parquet");
    commit("t_young", 1, now - 1000, &b);
    qk_buf_free(&b);
    r = vacuum_ok("t_young", HOUR_MS, false);
    assert_int_equal(r->keep_version, 0); /* no commit before the cutoff: the oldest */
    assert_int_equal(r->n, 1);
    assert_string_equal(r->files[0].key, "t_young/orphan.parquet");
    qk_delta_vacuum_free(r);
    load_and_check("t_young", QK_DELTA_AT_VERSION, 0, 0);
}

static void test_vacuum_decodes_paths_once_and_spares_absolute_adds(void **state)
{
    int64_t now = qk_epoch_ms(), old = now - 10 * DAY_MS;
    char abs_path[1024];
    qk_delta_vacuum_result *r;
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 20);
    data_file("t_paths", "sp ace.parquet", 1, old);
    data_file("t_paths", "abs.parquet", 2, old);
    data_file("t_paths", "keep.parquet", 3, old);
    snprintf(abs_path, sizeof abs_path, "file://%s/t_paths/abs.parquet", qk_store_uri(lake));
    qk_buf_adds(&b, PROTOCOL_AND_METADATA);
    add_action(&b, "sp%20ace.parquet");
    add_action(&b, abs_path);
    add_action(&b, "keep.parquet");
    commit("t_paths", 0, now - 3 * DAY_MS, &b);
    remove_action(&b, "sp%20ace.parquet");
    remove_action(&b, abs_path);
    commit("t_paths", 1, now - 2 * DAY_MS, &b);
    qk_buf_free(&b);
    r = vacuum_ok("t_paths", HOUR_MS, true);
    assert_int_equal(r->n, 1); /* abs.parquet, removed long ago, stays: absolute adds do */
    assert_string_equal(r->files[0].key, "t_paths/sp ace.parquet");
    assert_true(r->files[0].tracked);
    qk_delta_vacuum_free(r);
}

static void test_vacuum_of_fixtures_with_no_retention(void **state)
{
    qk_delta_vacuum_result *r;
    size_t tracked = 0;
    (void)state;
    /* git keeps no mtimes: make every data file old */
    assert_int_equal(
        qk_test_sh("find '%s/simple_table' '%s/delta-0.8.0-special-partition' -name '*.parquet'"
                   " -exec touch -d '2020-01-01' {} +",
                   lake_dir, lake_dir),
        0);
    r = vacuum_ok("delta-0.8.0-special-partition", 0, true);
    assert_int_equal(r->n, 0); /* x=A%252FA/ in the log is x=A%2FA/ in the store */
    qk_delta_vacuum_free(r);
    r = vacuum_ok("simple_table", 0, true);
    assert_int_equal(r->keep_version, 4);
    assert_int_equal(r->n, 32); /* 37 data files, 5 active */
    for (size_t i = 0; i < r->n; i++)
        tracked += r->files[i].tracked;
    assert_int_equal(tracked, 31); /* ...-c001.snappy.parquet is in no commit */
    qk_delta_vacuum_free(r);
}

static void test_vacuum_deletes_more_than_one_batch(void **state)
{
    qk_delta_vacuum_result *r;
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 1 << 20);
    qk_buf_adds(&b, PROTOCOL_AND_METADATA);
    commit("t_many", 0, qk_epoch_ms() - DAY_MS, &b);
    qk_buf_free(&b);
    assert_int_equal(
        qk_test_sh("cd '%s/t_many' && mkdir d && cd d && seq -f 'f%%04g.parquet' 1 1001 | "
                   "xargs touch -d '2020-01-01'",
                   lake_dir),
        0);
    r = vacuum_ok("t_many", HOUR_MS, false);
    assert_int_equal(r->n, 1001);
    assert_int_equal(r->deleted, 1001);
    assert_string_equal(r->files[1000].key, "t_many/d/f1001.parquet");
    qk_delta_vacuum_free(r);
    assert_false(exists("t_many/d/f0001.parquet") || exists("t_many/d/f1001.parquet"));
}

static void test_vacuum_deletes_nothing_when_the_log_is_corrupt(void **state)
{
    int64_t now = qk_epoch_ms();
    qk_delta_vacuum_result *r = NULL;
    (void)state;
    make_vacuum_table("t_bad", now);
    put("t_bad/_delta_log/00000000000000000003.json", "{\"add\":\n");
    assert_int_equal(qk_delta_vacuum(eng, lake, "t_bad", HOUR_MS, false, &r, &err), QK_EPARSE);
    assert_null(r);
    assert_non_null(strstr(err.msg, "t_bad/_delta_log/00000000000000000003.json:1"));
    assert_true(exists("t_bad/a.parquet") && exists("t_bad/orphan-old.parquet"));
    assert_int_equal(qk_delta_vacuum(eng, lake, "t_none", HOUR_MS, false, &r, &err), QK_ENOTFOUND);
}

static void test_vacuum_negative_retention_is_invalid(void **state)
{
    qk_delta_vacuum_result *r = NULL;
    (void)state;
    assert_int_equal(qk_delta_vacuum(eng, lake, "simple_table", -1, true, &r, &err), QK_EINVAL);
    assert_null(r);
    qk_delta_vacuum_free(NULL);
    qk_delta_history_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_lists_every_commit_newest_first),
        cmocka_unit_test(test_history_sums_rows_and_bytes_from_stats),
        cmocka_unit_test(test_history_engine_falls_back_to_client_version),
        cmocka_unit_test(test_history_notes_the_first_txn),
        cmocka_unit_test(test_history_after_log_cleanup_starts_at_oldest_commit),
        cmocka_unit_test(test_history_limit_keeps_the_newest),
        cmocka_unit_test(test_history_time_is_ict_then_timestamp_then_mtime),
        cmocka_unit_test(test_history_latest_counts_complete_checkpoints),
        cmocka_unit_test(test_history_corrupt_line_is_parse_error_with_key_and_line),
        cmocka_unit_test(test_history_missing_table_is_not_found),
        cmocka_unit_test(test_vacuum_dry_run_lists_old_unreferenced_files_only),
        cmocka_unit_test(test_vacuum_deletes_and_keeps_the_window_readable),
        cmocka_unit_test(test_vacuum_without_old_commit_keeps_every_version),
        cmocka_unit_test(test_vacuum_decodes_paths_once_and_spares_absolute_adds),
        cmocka_unit_test(test_vacuum_of_fixtures_with_no_retention),
        cmocka_unit_test(test_vacuum_deletes_more_than_one_batch),
        cmocka_unit_test(test_vacuum_deletes_nothing_when_the_log_is_corrupt),
        cmocka_unit_test(test_vacuum_negative_retention_is_invalid),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
