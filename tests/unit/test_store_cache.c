/* SPDX-License-Identifier: MIT */
/*
 * test_store_cache.c: the local cache of remote objects (src/store/cache.h), with the local
 * backend standing in for a remote store: hits and misses, ETag and size validation, damaged
 * sidecars and data files, LRU eviction, a multi-process race on one object, safe file names
 * that keep the extension, the default dir rule and QUACK_CACHE_MAX. Each test gets a fresh
 * store and cache in one temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/cache.h"

void key_ext(const char *key, char *out, size_t cap);

typedef struct fixture {
    char dir[64];
    char lake[96], cache[96];
    qk_store *s;
    qk_cache *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    qk_err err = {0};
    snprintf(f->dir, sizeof f->dir, "/tmp/qk-cache-test-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->lake, sizeof f->lake, "%s/lake", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    if (qk_store_open(f->lake, &f->s, &err)) return -1;
    if (qk_cache_open(f->cache, 1 << 20, &f->c, &err)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qk_cache_close(f->c);
    qk_store_destroy(f->s);
    qk_rmtree(f->dir, false, NULL);
    free(f);
    return 0;
}

static void put(qk_store *s, const char *key, const char *data, size_t n)
{
    qk_err err = {0};
    if (qk_store_put(s, key, data, n, &err)) fail_msg("put %s: %s", key, err.msg);
}

static void put_str(qk_store *s, const char *key, const char *val)
{
    put(s, key, val, strlen(val));
}

/* Fetch key; returns the cached path (caller frees) and the hit flag. */
static char *fetch(fixture *f, const char *key, bool *hit)
{
    qk_err err = {0};
    char *path = NULL;
    int rc = qk_cache_fetch(f->c, f->s, key, NULL, &path, hit, &err);
    if (rc) fail_msg("fetch %s: %s", key, err.msg);
    return path;
}

static void assert_file(const char *path, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    qk_err err = {0};
    assert_int_equal(qk_read_file(path, 1 << 24, &text, &len, &err), 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(text, want, len);
    free(text);
}

static ino_t inode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

static void test_miss_then_hit_keeps_the_same_file(void **state)
{
    fixture *f = *state;
    bool hit = true;
    put_str(f->s, "dataset/a.csv", "x\n1\n");
    char *p1 = fetch(f, "dataset/a.csv", &hit);
    assert_false(hit);
    assert_file(p1, "x\n1\n");
    ino_t ino = inode(p1);
    char *p2 = fetch(f, "dataset/a.csv", &hit);
    assert_true(hit);
    assert_string_equal(p1, p2);
    assert_true(inode(p2) == ino);
    qk_cache_stats st;
    qk_err err = {0};
    assert_int_equal(qk_cache_stats_get(f->c, &st, &err), 0);
    assert_int_equal(st.objects, 1);
    assert_int_equal(st.bytes, 4);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.misses, 1);
    free(p1);
    free(p2);
}

static void test_etag_change_is_a_miss_with_new_content(void **state)
{
    fixture *f = *state;
    bool hit = true;
    put_str(f->s, "a.csv", "old\n");
    free(fetch(f, "a.csv", &hit));
    put_str(f->s, "a.csv", "new content\n");
    char *p = fetch(f, "a.csv", &hit);
    assert_false(hit);
    assert_file(p, "new content\n");
    free(p);
    p = fetch(f, "a.csv", &hit);
    assert_true(hit);
    free(p);
}

static void test_known_info_is_used_instead_of_head(void **state)
{
    fixture *f = *state;
    qk_obj_info info = {0};
    qk_err err = {0};
    char *p = NULL;
    bool hit = true;
    put_str(f->s, "k.parquet", "PAR1");
    assert_int_equal(qk_store_head(f->s, "k.parquet", &info, &err), 0);
    assert_int_equal(qk_cache_fetch(f->c, f->s, "k.parquet", &info, &p, &hit, &err), 0);
    assert_false(hit);
    free(p);
    assert_int_equal(qk_cache_fetch(f->c, f->s, "k.parquet", &info, &p, &hit, &err), 0);
    assert_true(hit);
    free(p);
    /* a caller that saw another ETag (say, in a listing) gets a fresh copy */
    snprintf(info.etag, sizeof info.etag, "\"other\"");
    assert_int_equal(qk_cache_fetch(f->c, f->s, "k.parquet", &info, &p, &hit, &err), 0);
    assert_false(hit);
    assert_file(p, "PAR1");
    free(p);
}

static void test_missing_object_is_not_found(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    char *p = NULL;
    assert_int_equal(qk_cache_fetch(f->c, f->s, "nope.csv", NULL, &p, NULL, &err), QK_ENOTFOUND);
    assert_null(p);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_corrupt_or_missing_sidecar_is_a_miss(void **state)
{
    fixture *f = *state;
    char meta[512];
    bool hit = true;
    put_str(f->s, "a.csv", "data\n");
    char *p = fetch(f, "a.csv", &hit);
    snprintf(meta, sizeof meta, "%s.meta", p);
    write_file(meta, "{not json");
    free(fetch(f, "a.csv", &hit));
    assert_false(hit);
    write_file(meta, "{\"uri\":1,\"key\":[],\"size\":-3}");
    free(fetch(f, "a.csv", &hit));
    assert_false(hit);
    assert_int_equal(unlink(meta), 0);
    free(fetch(f, "a.csv", &hit));
    assert_false(hit);
    assert_file(p, "data\n");
    free(fetch(f, "a.csv", &hit));
    assert_true(hit);
    free(p);
}

static void test_truncated_data_file_is_a_miss(void **state)
{
    fixture *f = *state;
    bool hit = true;
    put_str(f->s, "t.csv", "0123456789\n");
    char *p = fetch(f, "t.csv", &hit);
    assert_int_equal(truncate(p, 3), 0);
    free(fetch(f, "t.csv", &hit));
    assert_false(hit);
    assert_file(p, "0123456789\n");
    assert_int_equal(unlink(p), 0);
    free(fetch(f, "t.csv", &hit));
    assert_false(hit);
    assert_file(p, "0123456789\n");
    free(p);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_eviction_removes_least_recently_used_first(void **state)
{
    fixture *f = *state;
    static char blob[300 * 1024];
    qk_err err = {0};
    bool hit;
    memset(blob, 'x', sizeof blob);
    put(f->s, "a.bin", blob, sizeof blob);
    put(f->s, "b.bin", blob, sizeof blob);
    put(f->s, "c.bin", blob, sizeof blob);
    put(f->s, "d.bin", blob, sizeof blob);
    char *a = fetch(f, "a.bin", &hit), *b = fetch(f, "b.bin", &hit), *c = fetch(f, "c.bin", &hit);
    free(fetch(f, "a.bin", &hit)); /* a is now more recent than b and c */
    assert_true(hit);
    char *d = fetch(f, "d.bin", &hit); /* 1200 KiB > 1 MiB: trim to 0.9 MiB: only b goes */
    assert_false(hit);
    assert_true(exists(a));
    assert_false(exists(b));
    assert_true(exists(c));
    assert_true(exists(d));
    qk_cache_stats st;
    assert_int_equal(qk_cache_stats_get(f->c, &st, &err), 0);
    assert_int_equal(st.objects, 3);
    assert_true(st.bytes <= st.max_bytes / 10 * 9);
    free(a), free(b), free(c), free(d);
}

static void test_object_bigger_than_the_limit_is_still_returned(void **state)
{
    fixture *f = *state;
    char *blob = calloc(1, 2 << 20);
    bool hit;
    put(f->s, "big.bin", blob, 2 << 20);
    char *p = fetch(f, "big.bin", &hit);
    assert_true(exists(p));
    free(p);
    free(blob);
}

static int count_tmp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    if (strncmp(path + ftw->base, ".qk-tmp-", 8) == 0) fail_msg("temp file left: %s", path);
    return 0;
}

static void test_concurrent_fetches_from_four_processes_agree(void **state)
{
    fixture *f = *state;
    size_t n = 512 * 1024;
    char *blob = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        blob[i] = (char)('a' + i % 26);
    blob[n] = '\0';
    put(f->s, "shared/obj.parquet", blob, n);
    pid_t kids[4];
    for (int k = 0; k < 4; k++) {
        if ((kids[k] = fork()) == 0) {
            qk_cache *c = NULL;
            qk_err err = {0};
            char *p = NULL, *text = NULL;
            size_t len = 0;
            int bad = qk_cache_open(f->cache, 1 << 20, &c, &err) ||
                      qk_cache_fetch(c, f->s, "shared/obj.parquet", NULL, &p, NULL, &err) ||
                      qk_read_file(p, n + 1, &text, &len, &err) || len != n ||
                      memcmp(text, blob, n) != 0;
            _exit(bad);
        }
    }
    for (int k = 0; k < 4; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    bool hit = false;
    char *p = fetch(f, "shared/obj.parquet", &hit);
    assert_true(hit);
    assert_file(p, blob);
    nftw(f->cache, count_tmp, 16, FTW_PHYS);
    free(p);
    free(blob);
}

static void test_hostile_keys_map_to_safe_paths(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"with space/and more.csv", "unicode/κλειδί-日本.parquet",
                          "deep/a/b/c/d/e.json", "noext", "semi;colon$dollar`tick.csv"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        bool hit;
        put_str(f->s, keys[i], keys[i]);
        char *p = fetch(f, keys[i], &hit);
        assert_true(qk_str_startswith(p, f->cache));
        const char *rest = p + strlen(f->cache);
        for (const char *q = rest; *q; q++)
            assert_true((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '/' ||
                        *q == '.' || (*q >= 'A' && *q <= 'Z'));
        assert_file(p, keys[i]);
        free(p);
    }
}

static void test_extension_is_preserved(void **state)
{
    fixture *f = *state;
    char ext[64];
    bool hit;
    (void)state;
    key_ext("a/b/taxi.parquet", ext, sizeof ext);
    assert_string_equal(ext, ".parquet");
    key_ext("raw/x.csv.gz", ext, sizeof ext);
    assert_string_equal(ext, ".csv.gz");
    key_ext("raw/x.2019.json", ext, sizeof ext);
    assert_string_equal(ext, ".json");
    key_ext("dir.d/noext", ext, sizeof ext);
    assert_string_equal(ext, "");
    key_ext(".hidden", ext, sizeof ext);
    assert_string_equal(ext, "");
    key_ext("odd.ex t", ext, sizeof ext);
    assert_string_equal(ext, "");
    put_str(f->s, "z/data.csv.gz", "gz");
    char *p = fetch(f, "z/data.csv.gz", &hit);
    assert_true(qk_str_endswith(p, ".csv.gz"));
    free(p);
}

/* Set or unset an env var, remembering the old value in *old (caller frees). */
static void set_env(const char *name, const char *val, char **old)
{
    const char *cur = getenv(name);
    *old = cur ? strdup(cur) : NULL;
    if (val)
        setenv(name, val, 1);
    else
        unsetenv(name);
}

static void restore_env(const char *name, char *old)
{
    if (old)
        setenv(name, old, 1);
    else
        unsetenv(name);
    free(old);
}

static void test_default_dir_is_tmp_when_home_is_not_writable(void **state)
{
    fixture *f = *state;
    char home[128], *old_home, *old_xdg, *dir = NULL;
    qk_err err = {0};
    /* root may write to a read-only dir, so as root use a HOME that does not exist */
    snprintf(home, sizeof home, "%s/%s", f->dir, geteuid() == 0 ? "no-such-home" : "ro-home");
    if (geteuid() != 0) assert_int_equal(mkdir(home, 0555), 0);
    set_env("HOME", home, &old_home);
    set_env("XDG_CACHE_HOME", NULL, &old_xdg);
    assert_int_equal(qk_cache_default_dir(&dir, &err), 0);
    assert_string_equal(dir, "/tmp/quack-cache");
    free(dir);
    setenv("XDG_CACHE_HOME", "/var/xdg", 1);
    assert_int_equal(qk_cache_default_dir(&dir, &err), 0);
    assert_string_equal(dir, "/var/xdg/quack");
    free(dir);
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", f->dir, 1);
    assert_int_equal(qk_cache_default_dir(&dir, &err), 0);
    assert_true(qk_str_endswith(dir, "/.cache/quack") && qk_str_startswith(dir, f->dir));
    free(dir);
    restore_env("HOME", old_home);
    restore_env("XDG_CACHE_HOME", old_xdg);
}

static void test_bad_quack_cache_max_is_a_clear_error(void **state)
{
    fixture *f = *state;
    char *old;
    qk_cache *c = NULL;
    qk_err err = {0};
    qk_cache_stats st;
    set_env("QUACK_CACHE_MAX", "lots", &old);
    assert_int_equal(qk_cache_open(f->cache, 0, &c, &err), QK_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err.msg, "QUACK_CACHE_MAX"));
    setenv("QUACK_CACHE_MAX", "0", 1);
    assert_int_equal(qk_cache_open(f->cache, 0, &c, &err), QK_EINVAL);
    setenv("QUACK_CACHE_MAX", "2MiB", 1);
    assert_int_equal(qk_cache_open(f->cache, 0, &c, &err), 0);
    assert_int_equal(qk_cache_stats_get(c, &st, &err), 0);
    assert_int_equal(st.max_bytes, 2 << 20);
    qk_cache_close(c);
    unsetenv("QUACK_CACHE_MAX");
    assert_int_equal(qk_cache_open(f->cache, 0, &c, &err), 0);
    assert_int_equal(qk_cache_stats_get(c, &st, &err), 0);
    assert_int_equal(st.max_bytes, QK_CACHE_DEFAULT_MAX);
    qk_cache_close(c);
    restore_env("QUACK_CACHE_MAX", old);
}

typedef struct seen {
    int n;
    char keys[4][32];
} seen;

static int on_entry(void *ud, const qk_cache_entry *e, qk_err *err)
{
    seen *s = ud;
    (void)err;
    if (s->n < 4) snprintf(s->keys[s->n], sizeof s->keys[0], "%s", e->key);
    s->n++;
    assert_true(e->size > 0 && e->etag[0] == '"' && e->last_used_ms > 0);
    return 0;
}

static void test_list_is_most_recent_first_and_clear_empties(void **state)
{
    fixture *f = *state;
    seen s = {0};
    qk_err err = {0};
    uint64_t n = 0, bytes = 0;
    bool hit;
    put_str(f->s, "one.csv", "1\n");
    put_str(f->s, "two.csv", "22\n");
    free(fetch(f, "one.csv", &hit));
    free(fetch(f, "two.csv", &hit));
    free(fetch(f, "one.csv", &hit));
    assert_int_equal(qk_cache_list(f->c, on_entry, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "one.csv");
    assert_string_equal(s.keys[1], "two.csv");
    assert_int_equal(qk_cache_clear(f->c, &n, &bytes, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(bytes, 5);
    s.n = 0;
    assert_int_equal(qk_cache_list(f->c, on_entry, &s, &err), 0);
    assert_int_equal(s.n, 0);
    free(fetch(f, "one.csv", &hit)); /* the cache still works after a clear */
    assert_false(hit);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_miss_then_hit_keeps_the_same_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_etag_change_is_a_miss_with_new_content, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_known_info_is_used_instead_of_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_object_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_or_missing_sidecar_is_a_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_data_file_is_a_miss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eviction_removes_least_recently_used_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_object_bigger_than_the_limit_is_still_returned, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_fetches_from_four_processes_agree, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hostile_keys_map_to_safe_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_is_preserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_dir_is_tmp_when_home_is_not_writable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_quack_cache_max_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_is_most_recent_first_and_clear_empties, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
