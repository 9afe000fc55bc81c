/* SPDX-License-Identifier: MIT */
/*
 * buf.c: qk_buf, a growable byte buffer with a hard maximum (curl's dynbuf). Growth doubles
 * up to the maximum; an add that would pass it fails with QK_ETOOBIG and leaves the buffer
 * as it was, so a caller can stop cleanly at a size cap. Also the JSON string escaper, which
 * every encoder and endpoint shares.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qk_buf_init(qk_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void qk_buf_free(qk_buf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int qk_buf_reserve(qk_buf *b, size_t n)
{
    size_t need, ncap;
    char *p;
    if (n > b->max || b->len > b->max - n) return QK_ETOOBIG;
    need = b->len + n + 1;
    if (need <= b->cap) return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (ncap > b->max + 1) ncap = b->max + 1;
    p = realloc(b->data, ncap);
    if (!p) return QK_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int qk_buf_add(qk_buf *b, const void *p, size_t n)
{
    int rc = qk_buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int qk_buf_adds(qk_buf *b, const char *s)
{
    return qk_buf_add(b, s, strlen(s));
}

int qk_buf_addc(qk_buf *b, char c)
{
    return qk_buf_add(b, &c, 1);
}

int qk_buf_vprintf(qk_buf *b, const char *fmt, va_list ap)
{
    char tmp[512];
    va_list ap2;
    int n, rc;
    va_copy(ap2, ap);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
    va_end(ap2);
    if (n < 0) return QK_EINVAL;
    if ((size_t)n < sizeof tmp) return qk_buf_add(b, tmp, (size_t)n);
    rc = qk_buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int qk_buf_printf(qk_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = qk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void qk_buf_truncate(qk_buf *b, size_t len)
{
    if (len >= b->len) return;
    b->len = len;
    if (b->data) b->data[len] = '\0';
}

const char *qk_buf_cstr(const qk_buf *b)
{
    return b->data ? b->data : "";
}

char *qk_buf_detach(qk_buf *b, size_t *len)
{
    char *p = b->data;
    if (len) *len = b->len;
    if (!p) p = calloc(1, 1);
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

size_t qk_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_out)
{
    unsigned c = s[0];
    size_t len, i;
    uint32_t cp;
    if (c < 0x80) {
        *cp_out = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len) return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    *cp_out = cp;
    return len;
}

size_t qk_utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return qk_utf8_decode(s, n, &cp);
}

int qk_buf_add_json_str(qk_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, start, l, orig = b->len;
    int rc;
    /* Worst case is 6 bytes per input byte; reserve the common case up front. */
    if ((rc = qk_buf_reserve(b, n + 2)) != 0) return rc;
    b->data[b->len++] = '"';
    while (i < n) {
        start = i;
        while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
            i++;
        if (i > start && (rc = qk_buf_add(b, p + start, i - start))) goto fail;
        if (i >= n) break;
        if (p[i] < 0x80) {
            char esc[8];
            switch (p[i]) {
            case '"':
                rc = qk_buf_add(b, "\\\"", 2);
                break;
            case '\\':
                rc = qk_buf_add(b, "\\\\", 2);
                break;
            case '\n':
                rc = qk_buf_add(b, "\\n", 2);
                break;
            case '\r':
                rc = qk_buf_add(b, "\\r", 2);
                break;
            case '\t':
                rc = qk_buf_add(b, "\\t", 2);
                break;
            case '\b':
                rc = qk_buf_add(b, "\\b", 2);
                break;
            case '\f':
                rc = qk_buf_add(b, "\\f", 2);
                break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", p[i]);
                rc = qk_buf_add(b, esc, 6);
            }
            i++;
        } else if ((l = qk_utf8_len(p + i, n - i)) != 0) {
            rc = qk_buf_add(b, p + i, l);
            i += l;
        } else {
            rc = qk_buf_add(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        }
        if (rc) goto fail;
    }
    if ((rc = qk_buf_addc(b, '"'))) goto fail;
    return 0;
fail:
    qk_buf_truncate(b, orig);
    return rc;
}
