/* SPDX-License-Identifier: MIT */
/*
 * test_core.c: the core module (src/core/core.h): errors, bounded buffers, JSON string
 * escaping, arenas, number/size/duration parsing with hostile input, .env loading, paths.
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

#include "core/core.h"

static void test_errf_sets_one_line_message(void **state)
{
    qk_err e = {0};
    (void)state;
    assert_int_equal(qk_errf(&e, QK_EINVAL, "bad\nthing %d", 7), QK_EINVAL);
    assert_string_equal(e.msg, "bad thing 7");
    assert_string_equal(qk_err_type(&e), "InvalidInput");
    qk_err_prefix(&e, "flag --x");
    assert_string_equal(e.msg, "flag --x: bad thing 7");
    assert_int_equal(e.code, QK_EINVAL);
    qk_errtf(&e, QK_ESQL, "BinderException", "%s", "no column");
    assert_string_equal(qk_err_type(&e), "BinderException");
    assert_int_equal(qk_errf(NULL, QK_EIO, "ignored"), QK_EIO);
}

static void test_err_long_message_is_cut_not_overflowed(void **state)
{
    qk_err e = {0};
    char big[1000];
    (void)state;
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    qk_errf(&e, QK_EINVAL, "%s", big);
    assert_int_equal(strlen(e.msg), QK_ERR_MSG_MAX - 1);
    qk_err_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.msg), QK_ERR_MSG_MAX - 1);
}

static void test_strerror_covers_every_code(void **state)
{
    (void)state;
#define CHECK(name, val, text) assert_string_equal(qk_strerror(val), text);
    QK_ERRORS(CHECK)
#undef CHECK
    assert_string_equal(qk_strerror(-999), "unknown error");
}

static void test_buf_refuses_growth_past_max(void **state)
{
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 10);
    assert_int_equal(qk_buf_adds(&b, "0123456789"), 0);
    assert_int_equal(qk_buf_addc(&b, 'x'), QK_ETOOBIG);
    assert_int_equal(b.len, 10);
    assert_string_equal(qk_buf_cstr(&b), "0123456789");
    qk_buf_truncate(&b, 3);
    assert_int_equal(qk_buf_printf(&b, "%s", "abcdefghijkl"), QK_ETOOBIG);
    assert_string_equal(qk_buf_cstr(&b), "012");
    assert_int_equal(qk_buf_printf(&b, "%d", 4567), 0);
    assert_string_equal(qk_buf_cstr(&b), "0124567");
    qk_buf_free(&b);
    qk_buf_free(NULL);
}

static void test_buf_printf_long_output(void **state)
{
    qk_buf b;
    char big[3000];
    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    qk_buf_init(&b, 1 << 20);
    assert_int_equal(qk_buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, sizeof big + 1);
    size_t n;
    char *p = qk_buf_detach(&b, &n);
    assert_int_equal(n, sizeof big + 1);
    assert_int_equal(b.len, 0);
    free(p);
}

static void json_str(const char *in, size_t n, const char *want)
{
    qk_buf b;
    qk_buf_init(&b, 1 << 16);
    assert_int_equal(qk_buf_add_json_str(&b, in, n), 0);
    assert_string_equal(qk_buf_cstr(&b), want);
    qk_buf_free(&b);
}

static void test_json_str_escapes_and_repairs_utf8(void **state)
{
    (void)state;
    json_str("plain", 5, "\"plain\"");
    json_str("a\"b\\c\n\t\x01", 8, "\"a\\\"b\\\\c\\n\\t\\u0001\"");
    json_str("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x86", 14,
             "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x86\"");
    json_str("bad\xff\xc3", 5, "\"bad\xef\xbf\xbd\xef\xbf\xbd\"");
    json_str("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* surrogate */
    json_str("\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\"");                 /* overlong */
    json_str("nul\0x", 5, "\"nul\\u0000x\"");
}

static void test_json_str_respects_cap(void **state)
{
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 8);
    assert_int_equal(qk_buf_adds(&b, "ab"), 0);
    assert_int_equal(qk_buf_add_json_str(&b, "\n\n\n\n", 4), QK_ETOOBIG);
    assert_string_equal(qk_buf_cstr(&b), "ab");
    qk_buf_free(&b);
}

static void test_arena_allocates_aligned_and_bounded(void **state)
{
    qk_arena a;
    (void)state;
    qk_arena_init(&a, 100000);
    char *s = qk_arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    void *p = qk_arena_alloc(&a, 3);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_non_null(qk_arena_alloc(&a, 50000));
    assert_null(qk_arena_alloc(&a, 60000));
    assert_null(qk_arena_alloc(&a, SIZE_MAX - 3));
    assert_string_equal(qk_arena_printf(&a, "%d-%s", 5, "x"), "5-x");
    qk_arena_free(&a);
    qk_arena_free(NULL);
}

static void test_parse_int64_rejects_garbage(void **state)
{
    int64_t v = 0;
    qk_err e = {0};
    (void)state;
    assert_int_equal(qk_parse_int64("42", 0, 100, &v, "limit", &e), 0);
    assert_int_equal(v, 42);
    assert_int_equal(qk_parse_int64("-1", 0, 100, &v, "limit", &e), QK_EINVAL);
    assert_non_null(strstr(e.msg, "out of range"));
    assert_int_equal(qk_parse_int64("12abc", 0, 100, &v, "limit", &e), QK_EINVAL);
    assert_int_equal(qk_parse_int64("", 0, 100, &v, "limit", &e), QK_EINVAL);
    assert_int_equal(qk_parse_int64(" 1", 0, 100, &v, "limit", &e), QK_EINVAL);
    assert_int_equal(qk_parse_int64("99999999999999999999999", 0, INT64_MAX, &v, "x", &e),
                     QK_EINVAL);
    assert_int_equal(qk_parse_int64(NULL, 0, 1, &v, "x", &e), QK_EINVAL);
}

static void test_parse_size_units(void **state)
{
    uint64_t v;
    qk_err e = {0};
    (void)state;
    assert_int_equal(qk_parse_size("6MB", &v, "x", &e), 0);
    assert_int_equal(v, 6u << 20);
    assert_int_equal(qk_parse_size("512k", &v, "x", &e), 0);
    assert_int_equal(v, 512u << 10);
    assert_int_equal(qk_parse_size("2GiB", &v, "x", &e), 0);
    assert_int_equal(v, 2ull << 30);
    assert_int_equal(qk_parse_size("100", &v, "x", &e), 0);
    assert_int_equal(v, 100);
    assert_int_equal(qk_parse_size("10B", &v, "x", &e), 0);
    assert_int_equal(v, 10);
    assert_int_equal(qk_parse_size("5XB", &v, "x", &e), QK_EINVAL);
    assert_int_equal(qk_parse_size("-5", &v, "x", &e), QK_EINVAL);
    assert_int_equal(qk_parse_size("99999999999999999999T", &v, "x", &e), QK_EINVAL);
    assert_int_equal(qk_parse_size("20000000T", &v, "x", &e), QK_EINVAL);
}

static void test_parse_duration(void **state)
{
    int64_t ms;
    qk_err e = {0};
    (void)state;
    assert_int_equal(qk_parse_duration_ms("30", &ms, "t", &e), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(qk_parse_duration_ms("0.5", &ms, "t", &e), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(qk_parse_duration_ms("250ms", &ms, "t", &e), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(qk_parse_duration_ms("2m", &ms, "t", &e), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(qk_parse_duration_ms("-1", &ms, "t", &e), QK_EINVAL);
    assert_int_equal(qk_parse_duration_ms("nan", &ms, "t", &e), QK_EINVAL);
    assert_int_equal(qk_parse_duration_ms("1e300", &ms, "t", &e), QK_EINVAL);
    assert_int_equal(qk_parse_duration_ms("5 s", &ms, "t", &e), QK_EINVAL);
}

static void test_env_file_loads_without_overriding(void **state)
{
    char path[] = "/tmp/qk-env-XXXXXX";
    int fd = mkstemp(path);
    qk_err e = {0};
    const char *text = "# comment\n"
                       "QK_T_A=plain value # trailing comment\n"
                       "export QK_T_B='single # kept'\n"
                       "QK_T_C=\"dq \\\"x\\\" \\n\"\r\n"
                       "QK_T_PRESET=from-file\n"
                       "not a line\n"
                       "QK_T_D=after-bad\n";
    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("QK_T_PRESET", "from-env", 1);
    assert_int_equal(qk_env_load_file(path, &e), QK_EPARSE);
    assert_non_null(strstr(e.msg, ":6:"));
    assert_string_equal(getenv("QK_T_A"), "plain value");
    assert_string_equal(getenv("QK_T_B"), "single # kept");
    assert_string_equal(getenv("QK_T_C"), "dq \"x\" \n");
    assert_string_equal(getenv("QK_T_PRESET"), "from-env");
    assert_string_equal(getenv("QK_T_D"), "after-bad");
    unlink(path);
    assert_int_equal(qk_env_load_file("/nonexistent/.env", &e), 0);
    assert_string_equal(qk_env_str("QK_T_UNSET_X", "dflt"), "dflt");
}

static void test_path_abs_normalizes(void **state)
{
    char *p = NULL;
    qk_err e = {0};
    (void)state;
    assert_int_equal(qk_path_abs("/a/./b//c/../d/", &p, &e), 0);
    assert_string_equal(p, "/a/b/d");
    free(p);
    assert_int_equal(qk_path_abs("/../..", &p, &e), 0);
    assert_string_equal(p, "/");
    free(p);
    assert_int_equal(qk_path_abs("rel/x", &p, &e), 0);
    assert_true(p[0] == '/' && qk_str_endswith(p, "/rel/x"));
    free(p);
    assert_int_equal(qk_path_abs("", &p, &e), QK_EINVAL);
}

static void test_mkdirs_and_read_file(void **state)
{
    char dir[] = "/tmp/qk-core-XXXXXX", sub[256], file[300], *data = NULL;
    size_t len;
    qk_err e = {0};
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/a/b/c", dir);
    assert_int_equal(qk_mkdirs(sub, &e), 0);
    assert_int_equal(qk_mkdirs(sub, &e), 0);
    snprintf(file, sizeof file, "%s/f", sub);
    FILE *f = fopen(file, "w");
    fputs("hello", f);
    fclose(f);
    assert_int_equal(qk_read_file(file, 100, &data, &len, &e), 0);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(qk_read_file(file, 3, &data, &len, &e), QK_ETOOBIG);
    assert_int_equal(qk_mkdirs(file, &e), QK_EIO);
    assert_int_equal(qk_read_file("/nonexistent", 3, &data, &len, &e), QK_ENOTFOUND);
    assert_int_equal(qk_rmtree(dir, false, &e), 0);
    assert_int_equal(access(dir, F_OK), -1);
    assert_int_equal(qk_rmtree(dir, false, &e), 0); /* missing is fine */
}

static void test_uuid4_format(void **state)
{
    char a[37], b[37];
    (void)state;
    qk_uuid4(a);
    qk_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_string_not_equal(a, b);
}

static void test_log_level_parse(void **state)
{
    (void)state;
    assert_int_equal(qk_log_level_parse("debug"), QK_LOG_DEBUG);
    assert_int_equal(qk_log_level_parse("WARN"), QK_LOG_WARN);
    assert_int_equal(qk_log_level_parse("warning"), QK_LOG_WARN);
    assert_int_equal(qk_log_level_parse("loud"), -1);
    assert_int_equal(qk_log_level_parse(NULL), -1);
}

static void test_log_writes_one_json_line(void **state)
{
    int fds[2];
    char line[4096];
    (void)state;
    assert_int_equal(pipe(fds), 0);
    qk_log_set_fd(fds[1]);
    qk_log_set_level(QK_LOG_INFO);
    qk_log(QK_LOG_DEBUG, "hidden", NULL);
    qk_log(QK_LOG_INFO, "request", "\"status\":%d", 200);
    qk_log_set_fd(2);
    close(fds[1]);
    ssize_t n = read(fds[0], line, sizeof line - 1);
    close(fds[0]);
    assert_true(n > 0);
    line[n] = '\0';
    assert_non_null(strstr(line, "\"level\":\"info\",\"event\":\"request\",\"status\":200}\n"));
    assert_null(strstr(line, "hidden"));
    assert_int_equal(strchr(line, '\n') - line, n - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errf_sets_one_line_message),
        cmocka_unit_test(test_err_long_message_is_cut_not_overflowed),
        cmocka_unit_test(test_strerror_covers_every_code),
        cmocka_unit_test(test_buf_refuses_growth_past_max),
        cmocka_unit_test(test_buf_printf_long_output),
        cmocka_unit_test(test_json_str_escapes_and_repairs_utf8),
        cmocka_unit_test(test_json_str_respects_cap),
        cmocka_unit_test(test_arena_allocates_aligned_and_bounded),
        cmocka_unit_test(test_parse_int64_rejects_garbage),
        cmocka_unit_test(test_parse_size_units),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_env_file_loads_without_overriding),
        cmocka_unit_test(test_path_abs_normalizes),
        cmocka_unit_test(test_mkdirs_and_read_file),
        cmocka_unit_test(test_uuid4_format),
        cmocka_unit_test(test_log_level_parse),
        cmocka_unit_test(test_log_writes_one_json_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
