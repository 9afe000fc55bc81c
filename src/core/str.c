/* SPDX-License-Identifier: MIT */
/*
 * str.c: strings, number/size/duration parsing with full end checks (no atoi, STYLE.md 13),
 * paths (absolute + normalized, mkdir -p) and whole-file reads with a size bound.
 */
#include "core/core.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int qk_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out, const char *what,
                   qk_err *err)
{
    char *end;
    long long v;
    if (!s || !*s || isspace((unsigned char)*s))
        return qk_errf(err, QK_EINVAL, "%s: expected an integer, got '%s'", what, s ? s : "");
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return qk_errf(err, QK_EINVAL, "%s: expected an integer, got '%.64s'", what, s);
    if (errno == ERANGE || v < min || v > max)
        return qk_errf(err, QK_EINVAL, "%s: %.64s is out of range (%lld..%lld)", what, s,
                       (long long)min, (long long)max);
    *out = v;
    return 0;
}

int qk_parse_size(const char *s, uint64_t *out, const char *what, qk_err *err)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;
    if (!s || !isdigit((unsigned char)*s))
        return qk_errf(err, QK_EINVAL, "%s: expected a size like 6MB, got '%.64s'", what,
                       s ? s : "");
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno == ERANGE) return qk_errf(err, QK_EINVAL, "%s: %.64s is too large", what, s);
    if (*end) {
        char u = (char)tolower((unsigned char)*end);
        const char *rest = end + 1;
        if (u == 'k')
            mult = 1ull << 10;
        else if (u == 'm')
            mult = 1ull << 20;
        else if (u == 'g')
            mult = 1ull << 30;
        else if (u == 't')
            mult = 1ull << 40;
        else if (u != 'b')
            rest = NULL;
        if (u == 'b')
            rest = end + 1;
        else if (rest && (*rest == 'i' || *rest == 'I'))
            rest++;
        if (rest && (*rest == 'b' || *rest == 'B') && u != 'b') rest++;
        if (!rest || *rest)
            return qk_errf(err, QK_EINVAL, "%s: unknown size unit in '%.64s' (use B, KB, MB, GB)",
                           what, s);
    }
    if (v > UINT64_MAX / mult) return qk_errf(err, QK_EINVAL, "%s: %.64s is too large", what, s);
    *out = v * mult;
    return 0;
}

int qk_parse_duration_ms(const char *s, int64_t *out_ms, const char *what, qk_err *err)
{
    char *end;
    double v, scale = 1000.0;
    if (!s || !*s || isspace((unsigned char)*s))
        return qk_errf(err, QK_EINVAL, "%s: expected seconds, got '%s'", what, s ? s : "");
    errno = 0;
    v = strtod(s, &end);
    if (strcmp(end, "ms") == 0)
        scale = 1.0;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        scale = 1000.0;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60000.0;
    else
        return qk_errf(err, QK_EINVAL, "%s: expected a duration like 30 or 250ms, got '%.64s'",
                       what, s);
    if (errno == ERANGE || !isfinite(v) || v < 0 || v * scale > 9.0e15)
        return qk_errf(err, QK_EINVAL, "%s: %.64s is out of range", what, s);
    *out_ms = (int64_t)llround(v * scale);
    return 0;
}

bool qk_str_startswith(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool qk_str_endswith(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool qk_str_blank(const char *s)
{
    while (s && *s)
        if (!isspace((unsigned char)*s++)) return false;
    return true;
}

char *qk_xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p) abort();
    return p;
}

size_t qk_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap) {
        size_t c = n < cap - 1 ? n : cap - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

int qk_read_file(const char *path, size_t max, char **out, size_t *len, qk_err *err)
{
    FILE *f = fopen(path, "rb");
    qk_buf b;
    char chunk[65536];
    size_t n;
    int rc = 0;
    if (!f)
        return qk_errf(err, errno == ENOENT ? QK_ENOTFOUND : QK_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    qk_buf_init(&b, max);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((rc = qk_buf_add(&b, chunk, n)) != 0) {
            qk_errf(err, rc, "%s: larger than %zu bytes", path, max);
            goto out;
        }
    }
    if (ferror(f)) {
        rc = qk_errf(err, QK_EIO, "cannot read %s", path);
        goto out;
    }
    *out = qk_buf_detach(&b, len);
out:
    qk_buf_free(&b);
    fclose(f);
    return rc;
}

int qk_path_abs(const char *path, char **out, qk_err *err)
{
    qk_buf in, res;
    char cwd[PATH_MAX];
    const char *p, *seg;
    int rc = 0;
    qk_buf_init(&in, 65536);
    qk_buf_init(&res, 65536);
    if (!path || !*path) return qk_errf(err, QK_EINVAL, "empty path");
    if (path[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) return qk_errf(err, QK_EIO, "getcwd: %s", strerror(errno));
        if ((rc = qk_buf_printf(&in, "%s/", cwd))) goto out;
    }
    if ((rc = qk_buf_adds(&in, path))) goto out;
    for (p = qk_buf_cstr(&in); *p;) {
        size_t n;
        while (*p == '/')
            p++;
        seg = p;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - seg);
        if (n == 0 || (n == 1 && seg[0] == '.')) continue;
        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            char *slash = res.len ? strrchr(res.data, '/') : NULL;
            qk_buf_truncate(&res, slash ? (size_t)(slash - res.data) : 0);
            continue;
        }
        if ((rc = qk_buf_addc(&res, '/')) || (rc = qk_buf_add(&res, seg, n))) goto out;
    }
    if (res.len == 0 && (rc = qk_buf_addc(&res, '/'))) goto out;
    *out = qk_buf_detach(&res, NULL);
out:
    if (rc) qk_errf(err, rc, "path too long");
    qk_buf_free(&in);
    qk_buf_free(&res);
    return rc;
}

int qk_mkdirs(const char *path, qk_err *err)
{
    char tmp[PATH_MAX];
    size_t n = qk_strlcpy(tmp, path, sizeof tmp);
    if (n >= sizeof tmp) return qk_errf(err, QK_EINVAL, "path too long: %.64s...", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return qk_errf(err, QK_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return qk_errf(err, QK_EIO, "cannot create directory %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
        return qk_errf(err, QK_EIO, "%s exists and is not a directory", tmp);
    return 0;
}

static int rm_all(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p) == 0 || errno == ENOENT ? 0 : -1;
}

static int rm_below(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return f->level == 0 ? 0 : rm_all(p, st, flag, f);
}

int qk_rmtree(const char *path, bool keep_root, qk_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) return 0;
    if (nftw(path, keep_root ? rm_below : rm_all, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return qk_errf(err, QK_EIO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}
