/* SPDX-License-Identifier: MIT */
/*
 * test_store_local.c: the object-store interface (src/store/store.h) over the local-directory
 * backend: S3-like keys and listings (byte order, prefixes, delimiter roll-up, pagination),
 * ranged gets, atomic writes, put_if_absent under a multi-process race, deletes, copies, and
 * hostile keys and URIs. Each test gets a fresh store in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fixture {
    char dir[64];  /* temp dir holding the root */
    char root[96]; /* the store root */
    qk_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    qk_err err = {0};
    snprintf(f->dir, sizeof f->dir, "/tmp/qk-store-test-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->root, sizeof f->root, "%s/lake", f->dir);
    if (qk_store_open(f->root, &f->s, &err)) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    qk_store_destroy(f->s);
    qk_rmtree(f->dir, false, NULL);
    free(f);
    return 0;
}

static void put_str(qk_store *s, const char *key, const char *val)
{
    qk_err err = {0};
    int rc = qk_store_put(s, key, val, strlen(val), &err);
    if (rc) fail_msg("put %s: %s", key, err.msg);
}

/* The whole object as a string ("" on error, with the code in *rc). */
static char *get_str(qk_store *s, const char *key, int *rc)
{
    qk_buf b;
    qk_err err = {0};
    qk_buf_init(&b, 1 << 20);
    *rc = qk_store_get(s, key, 0, QK_STORE_TO_END, &b, NULL, &err);
    if (*rc || !b.data) {
        qk_buf_free(&b);
        return strdup("");
    }
    return qk_buf_detach(&b, NULL);
}

static void assert_content(qk_store *s, const char *key, const char *want)
{
    int rc;
    char *got = get_str(s, key, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, want);
    free(got);
}

/* Flatten one listing page into "k:key k:key p:prefix " text (objects then prefixes). */
static void page_text(const qk_list_page *pg, qk_buf *out)
{
    for (size_t i = 0; i < pg->n; i++)
        qk_buf_printf(out, "k:%s ", pg->objs[i].key);
    for (size_t i = 0; i < pg->nprefixes; i++)
        qk_buf_printf(out, "p:%s ", pg->common_prefixes[i]);
}

static int collect_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    (void)err;
    return qk_buf_printf(ud, "%s:%s ", obj ? "k" : "p", obj ? obj->key : cp);
}

/* The whole listing through list_all, in byte order, as text. */
static char *list_text(qk_store *s, const char *prefix, const char *delim)
{
    qk_buf b;
    qk_err err = {0};
    qk_buf_init(&b, 1 << 20);
    qk_buf_adds(&b, "");
    if (qk_store_list_all(s, prefix, delim, collect_cb, &b, &err)) fail_msg("list: %s", err.msg);
    return qk_buf_detach(&b, NULL);
}

static void assert_listing(qk_store *s, const char *prefix, const char *delim, const char *want)
{
    char *got = list_text(s, prefix, delim);
    assert_string_equal(got, want);
    free(got);
}

static bool dir_has_temp(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    bool found = false;
    if (!d) return false;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, ".qk-tmp-", 8) == 0) found = true;
    closedir(d);
    return found;
}

/* ---- keys -------------------------------------------------------------------------------- */

static void test_odd_keys_round_trip_exactly(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"with space.txt", "caf\xc3\xa9/\xf0\x9f\xa6\x86.bin",
                          "sym/a+b=c&d?e#f%g.csv", "%2F%20encoded", "trailing space "};
    for (size_t i = 0; i < 5; i++)
        put_str(f->s, keys[i], keys[i]);
    for (size_t i = 0; i < 5; i++)
        assert_content(f->s, keys[i], keys[i]);
    assert_listing(f->s, NULL, NULL,
                   "k:%2F%20encoded k:caf\xc3\xa9/\xf0\x9f\xa6\x86.bin k:sym/a+b=c&d?e#f%g.csv "
                   "k:trailing space  k:with space.txt ");
}

static void test_list_is_in_byte_order_across_directories(void **state)
{
    fixture *f = *state;
    /* '-' (0x2d) and '.' sort before '/' (0x2f), '0' after: a naive tree walk gets this wrong */
    const char *keys[] = {"a/b", "a-c", "a/a/x", "a0", "b", "a.x", "a/\xc3\xa9", "a/Z"};
    for (size_t i = 0; i < 8; i++)
        put_str(f->s, keys[i], "x");
    assert_listing(f->s, NULL, NULL, "k:a-c k:a.x k:a/Z k:a/a/x k:a/b k:a/\xc3\xa9 k:a0 k:b ");
}

static void test_list_with_delimiter_rolls_up_common_prefixes(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"x/1", "x/y/2", "x/y/3", "x/z/deep/4", "x0", "top"};
    for (size_t i = 0; i < 6; i++)
        put_str(f->s, keys[i], "x");
    assert_listing(f->s, NULL, "/", "k:top p:x/ k:x0 ");
    assert_listing(f->s, "x/", "/", "k:x/1 p:x/y/ p:x/z/ ");
    assert_listing(f->s, "x/z/", "/", "p:x/z/deep/ ");
    assert_listing(f->s, "x/y/", NULL, "k:x/y/2 k:x/y/3 ");
}

static void test_list_prefix_may_end_mid_name(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"data/part-1", "data/part-2", "data/pa/x", "data/other", "datum"};
    for (size_t i = 0; i < 5; i++)
        put_str(f->s, keys[i], "x");
    assert_listing(f->s, "data/pa", NULL, "k:data/pa/x k:data/part-1 k:data/part-2 ");
    assert_listing(f->s, "data/pa", "/", "p:data/pa/ k:data/part-1 k:data/part-2 ");
    assert_listing(f->s, "dat", "/", "p:data/ k:datum ");
    assert_listing(f->s, "nope/", NULL, "");
    assert_listing(f->s, "../", NULL, "");
}

static void test_list_empty_dirs_and_temp_files_are_not_listed(void **state)
{
    fixture *f = *state;
    char path[256];
    FILE *fp;
    put_str(f->s, "keep/k", "x");
    snprintf(path, sizeof path, "%s/empty/deeper", f->root);
    assert_int_equal(qk_mkdirs(path, NULL), 0);
    snprintf(path, sizeof path, "%s/keep/.qk-tmp-abc123", f->root);
    assert_non_null(fp = fopen(path, "w"));
    fclose(fp);
    snprintf(path, sizeof path, "%s/keep/link", f->root);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    assert_listing(f->s, NULL, "/", "p:keep/ ");
    assert_listing(f->s, NULL, NULL, "k:keep/k ");
}

static void test_list_on_missing_root_is_empty(void **state)
{
    fixture *f = *state;
    assert_listing(f->s, NULL, NULL, "");
}

/* Page through with a small max_keys, checking the pages hold at most that many entries. */
static char *paged_text(qk_store *s, const char *prefix, const char *delim, size_t max)
{
    qk_buf b;
    qk_list_page pg;
    char *token = NULL;
    qk_buf_init(&b, 1 << 20);
    qk_buf_adds(&b, "");
    for (int pages = 0; pages < 100; pages++) {
        qk_err err = {0};
        qk_list_req req = {prefix, delim, token, max};
        assert_int_equal(qk_store_list(s, &req, &pg, &err), 0);
        assert_true(pg.n + pg.nprefixes <= max);
        free(token);
        token = pg.next_token ? strdup(pg.next_token) : NULL;
        if (token) assert_int_equal(pg.n + pg.nprefixes, max);
        /* merge this page in order, like list_all does */
        for (size_t i = 0, j = 0; i < pg.n || j < pg.nprefixes;) {
            if (j == pg.nprefixes ||
                (i < pg.n && strcmp(pg.objs[i].key, pg.common_prefixes[j]) < 0))
                qk_buf_printf(&b, "k:%s ", pg.objs[i++].key);
            else
                qk_buf_printf(&b, "p:%s ", pg.common_prefixes[j++]);
        }
        qk_list_page_free(&pg);
        if (!token) break;
    }
    return qk_buf_detach(&b, NULL);
}

static void test_list_pages_of_two_equal_one_listing(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"p/1", "p/2/a", "p/2/b", "p/3", "p/4/x/y", "q", "p-5"};
    const char *delims[] = {NULL, "/"};
    for (size_t i = 0; i < 7; i++)
        put_str(f->s, keys[i], "x");
    for (size_t d = 0; d < 2; d++) {
        char *all = list_text(f->s, NULL, delims[d]);
        for (size_t max = 1; max <= 3; max++) {
            char *paged = paged_text(f->s, NULL, delims[d], max);
            assert_string_equal(paged, all);
            free(paged);
        }
        free(all);
    }
    assert_listing(f->s, NULL, NULL, "k:p-5 k:p/1 k:p/2/a k:p/2/b k:p/3 k:p/4/x/y k:q ");
}

static void test_list_continuation_token_skips_returned_prefix(void **state)
{
    fixture *f = *state;
    qk_list_page pg;
    qk_err err = {0};
    qk_buf b;
    qk_list_req req = {"", "/", NULL, 1};
    put_str(f->s, "a/1", "x");
    put_str(f->s, "a/2", "x");
    put_str(f->s, "b", "x");
    assert_int_equal(qk_store_list(f->s, &req, &pg, &err), 0);
    assert_int_equal(pg.nprefixes, 1);
    assert_string_equal(pg.common_prefixes[0], "a/");
    assert_non_null(pg.next_token);
    req.token = strdup(pg.next_token);
    qk_list_page_free(&pg);
    assert_int_equal(qk_store_list(f->s, &req, &pg, &err), 0);
    qk_buf_init(&b, 4096);
    page_text(&pg, &b);
    assert_string_equal(qk_buf_cstr(&b), "k:b ");
    assert_null(pg.next_token);
    qk_buf_free(&b);
    qk_list_page_free(&pg);
    free((char *)req.token);
}

static int stop_after_two(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    int *n = ud;
    (void)obj, (void)cp;
    if (++*n == 2) return qk_errf(err, QK_ECANCELED, "enough");
    return 0;
}

static void test_list_all_stops_when_callback_fails(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    int n = 0;
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        put_str(f->s, key, "x");
    }
    assert_int_equal(qk_store_list_all(f->s, NULL, NULL, stop_after_two, &n, &err), QK_ECANCELED);
    assert_int_equal(n, 2);
}

static void test_list_reports_size_mtime_and_etag(void **state)
{
    fixture *f = *state;
    qk_list_page pg;
    qk_err err = {0};
    qk_obj_info hi;
    qk_list_req req = {0};
    put_str(f->s, "sized", "12345");
    assert_int_equal(qk_store_list(f->s, &req, &pg, &err), 0);
    assert_int_equal(pg.n, 1);
    assert_int_equal(pg.objs[0].size, 5);
    assert_true(pg.objs[0].mtime_ms > 1600000000000LL);
    assert_int_equal(qk_store_head(f->s, "sized", &hi, &err), 0);
    assert_string_equal(hi.etag, pg.objs[0].etag);
    assert_int_equal(hi.etag[0], '"');
    assert_string_equal(hi.key, "sized");
    qk_list_page_free(&pg);
}

/* ---- head and get ------------------------------------------------------------------------ */

static void test_head_missing_key_is_not_found_naming_key(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    qk_obj_info info;
    put_str(f->s, "dir/k", "x");
    assert_int_equal(qk_store_head(f->s, "dir/missing", &info, &err), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "dir/missing"));
    assert_int_equal(qk_store_head(f->s, "dir", &info, &err), QK_ENOTFOUND); /* a folder */
    assert_int_equal(qk_store_head(f->s, "dir/k/under", &info, &err), QK_ENOTFOUND);
    assert_int_equal(qk_store_head(f->s, "dir/k", &info, &err), 0);
    assert_int_equal(info.size, 1);
}

static int get_range(qk_store *s, uint64_t off, uint64_t len, char *out, size_t cap)
{
    qk_buf b;
    qk_err err = {0};
    qk_obj_info info;
    int rc;
    qk_buf_init(&b, 1 << 20);
    rc = qk_store_get(s, "digits", off, len, &b, &info, &err);
    if (!rc) {
        snprintf(out, cap, "%s", qk_buf_cstr(&b));
        assert_int_equal(info.size, 10);
    }
    qk_buf_free(&b);
    return rc;
}

static void test_get_byte_ranges(void **state)
{
    fixture *f = *state;
    char got[32];
    put_str(f->s, "digits", "0123456789");
    assert_int_equal(get_range(f->s, 0, 1, got, sizeof got), 0);
    assert_string_equal(got, "0");
    assert_int_equal(get_range(f->s, 9, 1, got, sizeof got), 0);
    assert_string_equal(got, "9");
    assert_int_equal(get_range(f->s, 3, 4, got, sizeof got), 0);
    assert_string_equal(got, "3456");
    assert_int_equal(get_range(f->s, 7, QK_STORE_TO_END, got, sizeof got), 0);
    assert_string_equal(got, "789");
    assert_int_equal(get_range(f->s, 8, 100, got, sizeof got), 0); /* cut at the end */
    assert_string_equal(got, "89");
    assert_int_equal(get_range(f->s, 10, 1, got, sizeof got), QK_EINVAL);
    assert_int_equal(get_range(f->s, 1000, QK_STORE_TO_END, got, sizeof got), QK_EINVAL);
    assert_int_equal(get_range(f->s, 0, 0, got, sizeof got), QK_EINVAL);
}

static void test_get_empty_object_whole_but_no_range(void **state)
{
    fixture *f = *state;
    qk_buf b;
    qk_err err = {0};
    assert_int_equal(qk_store_put(f->s, "empty", NULL, 0, &err), 0);
    qk_buf_init(&b, 100);
    assert_int_equal(qk_store_get(f->s, "empty", 0, QK_STORE_TO_END, &b, NULL, &err), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(qk_store_get(f->s, "empty", 0, 1, &b, NULL, &err), QK_EINVAL);
    qk_buf_free(&b);
}

static void test_get_appends_and_respects_buffer_max(void **state)
{
    fixture *f = *state;
    qk_buf b;
    qk_err err = {0};
    put_str(f->s, "k", "world");
    qk_buf_init(&b, 8);
    qk_buf_adds(&b, "hi ");
    assert_int_equal(qk_store_get(f->s, "k", 0, QK_STORE_TO_END, &b, NULL, &err), 0);
    assert_string_equal(qk_buf_cstr(&b), "hi world");
    assert_int_equal(qk_store_get(f->s, "k", 0, QK_STORE_TO_END, &b, NULL, &err), QK_ETOOBIG);
    assert_string_equal(qk_buf_cstr(&b), "hi world");
    qk_buf_free(&b);
}

static void test_get_file_is_atomic_and_leaves_no_temp(void **state)
{
    fixture *f = *state;
    char dest[320], dir[256], *text = NULL;
    qk_err err = {0};
    qk_obj_info info;
    size_t len;
    put_str(f->s, "obj", "payload");
    snprintf(dir, sizeof dir, "%s/cache/sub", f->dir);
    snprintf(dest, sizeof dest, "%s/out.bin", dir);
    assert_int_equal(qk_store_get_file(f->s, "obj", dest, &info, &err), 0);
    assert_int_equal(info.size, 7);
    assert_int_equal(qk_read_file(dest, 100, &text, &len, &err), 0);
    assert_string_equal(text, "payload");
    free(text);
    assert_false(dir_has_temp(dir));
    assert_int_equal(qk_store_get_file(f->s, "missing", dest, NULL, &err), QK_ENOTFOUND);
    assert_false(dir_has_temp(dir));
}

/* ---- put --------------------------------------------------------------------------------- */

static void test_put_replaces_and_changes_etag(void **state)
{
    fixture *f = *state;
    qk_obj_info a, b;
    qk_err err = {0};
    put_str(f->s, "nested/deep/k", "one");
    assert_int_equal(qk_store_head(f->s, "nested/deep/k", &a, &err), 0);
    put_str(f->s, "nested/deep/k", "two!");
    assert_int_equal(qk_store_head(f->s, "nested/deep/k", &b, &err), 0);
    assert_content(f->s, "nested/deep/k", "two!");
    assert_string_not_equal(a.etag, b.etag);
    assert_false(dir_has_temp(f->root));
}

static void test_put_file_uploads_a_local_file(void **state)
{
    fixture *f = *state;
    char src[256];
    qk_err err = {0};
    FILE *fp;
    snprintf(src, sizeof src, "%s/src.txt", f->dir);
    assert_non_null(fp = fopen(src, "w"));
    fputs("from a file", fp);
    fclose(fp);
    assert_int_equal(qk_store_put_file(f->s, "up/loaded", src, &err), 0);
    assert_content(f->s, "up/loaded", "from a file");
    assert_int_equal(qk_store_put_file(f->s, "up/x", "/nonexistent/file", &err), QK_ENOTFOUND);
}

static void test_put_key_under_an_object_fails(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    put_str(f->s, "a", "x");
    assert_int_not_equal(qk_store_put(f->s, "a/b", "y", 1, &err), 0);
    put_str(f->s, "c/d", "x");
    assert_int_equal(qk_store_put(f->s, "c", "y", 1, &err), QK_EEXIST);
    assert_content(f->s, "c/d", "x");
}

static void test_put_if_absent_conflict_returns_exists(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    assert_int_equal(qk_store_put_if_absent(f->s, "_delta_log/0.json", "first", 5, &err), 0);
    assert_int_equal(qk_store_put_if_absent(f->s, "_delta_log/0.json", "second", 6, &err),
                     QK_EEXIST);
    assert_string_equal(err.msg, "already exists: _delta_log/0.json");
    assert_content(f->s, "_delta_log/0.json", "first");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/_delta_log", f->root);
    assert_false(dir_has_temp(dir));
}

#define RACERS 8
#define RACE_SIZE 200000

static void test_put_if_absent_race_has_exactly_one_winner(void **state)
{
    fixture *f = *state;
    for (int round = 0; round < 3; round++) {
        char key[32];
        int gate[2], winners = 0, winner = -1;
        pid_t pids[RACERS];
        snprintf(key, sizeof key, "race/%d.json", round);
        assert_int_equal(pipe(gate), 0);
        for (int i = 0; i < RACERS; i++) {
            if ((pids[i] = fork()) == 0) {
                char *data = malloc(RACE_SIZE), c;
                qk_err err = {0};
                int rc;
                close(gate[1]);
                memset(data, 'A' + i, RACE_SIZE);
                (void)!read(gate[0], &c, 1); /* released together when the pipe closes */
                rc = qk_store_put_if_absent(f->s, key, data, RACE_SIZE, &err);
                _exit(rc == 0 ? 0 : rc == QK_EEXIST ? 1 : 2);
            }
        }
        close(gate[0]);
        close(gate[1]);
        for (int i = 0; i < RACERS; i++) {
            int st;
            assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
            assert_true(WIFEXITED(st));
            assert_int_not_equal(WEXITSTATUS(st), 2);
            if (WEXITSTATUS(st) == 0) winners++, winner = i;
        }
        assert_int_equal(winners, 1);
        qk_buf b;
        qk_err err = {0};
        qk_buf_init(&b, 1 << 20);
        assert_int_equal(qk_store_get(f->s, key, 0, QK_STORE_TO_END, &b, NULL, &err), 0);
        assert_int_equal(b.len, RACE_SIZE);
        for (size_t j = 0; j < b.len; j++)
            if (b.data[j] != 'A' + winner) fail_msg("byte %zu is not the winner's", j);
        qk_buf_free(&b);
    }
    char dir[256];
    snprintf(dir, sizeof dir, "%s/race", f->root);
    assert_false(dir_has_temp(dir));
}

/* ---- delete and copy --------------------------------------------------------------------- */

static void test_delete_missing_key_is_ok(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    assert_int_equal(qk_store_delete(f->s, "never/was", &err), 0);
    put_str(f->s, "d/e", "x");
    assert_int_equal(qk_store_delete(f->s, "d", &err), 0); /* a folder is not an object */
    assert_content(f->s, "d/e", "x");
}

static void test_delete_removes_empty_parent_dirs(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    struct stat st;
    char path[256];
    put_str(f->s, "d/e/f", "x");
    put_str(f->s, "d/g", "x");
    assert_int_equal(qk_store_delete(f->s, "d/e/f", &err), 0);
    snprintf(path, sizeof path, "%s/d/e", f->root);
    assert_int_not_equal(stat(path, &st), 0);
    assert_listing(f->s, NULL, "/", "p:d/ ");
    assert_int_equal(qk_store_delete(f->s, "d/g", &err), 0);
    assert_listing(f->s, NULL, "/", "");
    assert_int_equal(stat(f->root, &st), 0); /* the root itself stays */
}

static void test_delete_many_deletes_all_and_validates_first(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    const char *del[] = {"m/1", "m/2", "missing", "m/3"};
    const char *bad[] = {"m/4", "../x"};
    for (int i = 1; i <= 5; i++) {
        char key[16];
        snprintf(key, sizeof key, "m/%d", i);
        put_str(f->s, key, "x");
    }
    assert_int_equal(qk_store_delete_many(f->s, del, 4, &err), 0);
    assert_listing(f->s, NULL, NULL, "k:m/4 k:m/5 ");
    assert_int_equal(qk_store_delete_many(f->s, bad, 2, &err), QK_EINVAL);
    assert_listing(f->s, NULL, NULL, "k:m/4 k:m/5 "); /* nothing deleted */
    assert_int_equal(qk_store_delete_many(f->s, del, 1001, &err), QK_EINVAL);
}

static void test_copy_duplicates_an_object(void **state)
{
    fixture *f = *state;
    qk_err err = {0};
    put_str(f->s, "src/a", "copied bytes");
    assert_int_equal(qk_store_copy(f->s, "src/a", "dst/b/c", &err), 0);
    assert_content(f->s, "dst/b/c", "copied bytes");
    assert_content(f->s, "src/a", "copied bytes");
    assert_int_equal(qk_store_copy(f->s, "src/none", "dst/x", &err), QK_ENOTFOUND);
    assert_non_null(strstr(err.msg, "src/none"));
}

/* ---- hostile input ----------------------------------------------------------------------- */

static void test_hostile_keys_are_rejected(void **state)
{
    fixture *f = *state;
    char big[2001], seg[301];
    struct stat st;
    char path[256];
    const char *bad[] = {"../x", "/abs",     "a/../../b",     "",  "a/./b", "a//b", "a/", ".",
                         "..",   "\xff\xfe", "x/.qk-tmp-123", big, seg,     NULL};
    memset(big, 'k', 2000);
    big[2000] = '\0';
    memset(seg, 's', 300); /* a valid S3 key, but one path segment over NAME_MAX */
    seg[300] = '\0';
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        qk_err err = {0};
        qk_obj_info info;
        qk_buf b;
        qk_buf_init(&b, 100);
        assert_int_equal(qk_store_put(f->s, bad[i], "x", 1, &err), QK_EINVAL);
        assert_int_equal(qk_store_put_if_absent(f->s, bad[i], "x", 1, &err), QK_EINVAL);
        assert_int_equal(qk_store_head(f->s, bad[i], &info, &err), QK_EINVAL);
        assert_int_equal(qk_store_get(f->s, bad[i], 0, 1, &b, NULL, &err), QK_EINVAL);
        assert_int_equal(qk_store_delete(f->s, bad[i], &err), QK_EINVAL);
        assert_int_equal(qk_store_copy(f->s, "ok", bad[i], &err), QK_EINVAL);
        qk_buf_free(&b);
    }
    snprintf(path, sizeof path, "%s/x", f->dir);
    assert_int_not_equal(stat(path, &st), 0); /* nothing escaped the root */
    assert_listing(f->s, NULL, NULL, "");
}

static void test_open_unknown_scheme_is_invalid(void **state)
{
    qk_store *s = NULL;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_store_open("ftp://host/x", &s, &err), QK_EINVAL);
    assert_null(s);
    assert_int_equal(qk_store_open("", &s, &err), QK_EINVAL);
    assert_int_equal(qk_store_open("file://relative/x", &s, &err), QK_EINVAL);
}

static void test_open_s3_without_credentials_is_not_found(void **state)
{
    qk_store *s = NULL;
    qk_err err = {0};
    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/quack-credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/quack-config", 1);
    assert_int_equal(qk_store_open("s3://bucket/prefix", &s, &err), QK_ENOTFOUND);
    assert_null(s);
}

static void test_open_file_uri_normalizes_the_root(void **state)
{
    fixture *f = *state;
    qk_store *s = NULL;
    qk_err err = {0};
    char uri[256], file[256];
    FILE *fp;
    snprintf(uri, sizeof uri, "file://%s/./lake/../lake/", f->dir);
    assert_int_equal(qk_store_open(uri, &s, &err), 0);
    assert_string_equal(qk_store_uri(s), f->root);
    assert_string_equal(qk_store_backend(s), "local");
    qk_store_destroy(s);
    qk_store_destroy(NULL);
    snprintf(file, sizeof file, "%s/plain", f->dir);
    assert_non_null(fp = fopen(file, "w"));
    fclose(fp);
    assert_int_equal(qk_store_open(file, &s, &err), QK_EINVAL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_odd_keys_round_trip_exactly),
        T(test_list_is_in_byte_order_across_directories),
        T(test_list_with_delimiter_rolls_up_common_prefixes),
        T(test_list_prefix_may_end_mid_name),
        T(test_list_empty_dirs_and_temp_files_are_not_listed),
        T(test_list_on_missing_root_is_empty),
        T(test_list_pages_of_two_equal_one_listing),
        T(test_list_continuation_token_skips_returned_prefix),
        T(test_list_all_stops_when_callback_fails),
        T(test_list_reports_size_mtime_and_etag),
        T(test_head_missing_key_is_not_found_naming_key),
        T(test_get_byte_ranges),
        T(test_get_empty_object_whole_but_no_range),
        T(test_get_appends_and_respects_buffer_max),
        T(test_get_file_is_atomic_and_leaves_no_temp),
        T(test_put_replaces_and_changes_etag),
        T(test_put_file_uploads_a_local_file),
        T(test_put_key_under_an_object_fails),
        T(test_put_if_absent_conflict_returns_exists),
        T(test_put_if_absent_race_has_exactly_one_winner),
        T(test_delete_missing_key_is_ok),
        T(test_delete_removes_empty_parent_dirs),
        T(test_delete_many_deletes_all_and_validates_first),
        T(test_copy_duplicates_an_object),
        T(test_hostile_keys_are_rejected),
        T(test_open_unknown_scheme_is_invalid),
        T(test_open_s3_without_credentials_is_not_found),
        T(test_open_file_uri_normalizes_the_root),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
