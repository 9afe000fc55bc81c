/* SPDX-License-Identifier: MIT */
/*
 * caret.c: the seeds' `=(^)name` table spelling (resolve.h; docs/tables.md).
 *
 * The seeds' Delta workers wrote a lake table as `=(^)name` (`FROM =(^)climate`). DuckDB's
 * parser does not know the token, so before parsing, each `=(^)` that stands where SQL text is
 * (not inside a '...' string, a "..." identifier, a $tag$...$tag$ string or a comment) is
 * removed and the name after it kept: `=(^)climate` is the lake table `climate`, bound like any
 * other name (names.c), so a Delta table's log decides what is read. The name is one or more
 * dot-separated parts, each an identifier or a "quoted identifier"; anything else after
 * `=(^)` is a syntax error. `=(^)quack` is the seeds' responsiveness probe: a small frame of
 * random numbers, (SELECT i AS id, random() AS value FROM range(10) t(i)), computed by DuckDB
 * on each call. The rewrite touches nothing else; a query with no `=(^)` outside strings and
 * comments is not rewritten at all (*out stays NULL).
 */
#include "lake/lake_int.h"
#include "lake/resolve.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CARET "=(^)"
#define PROBE "(SELECT i AS id, random() AS value FROM range(10) t(i))"

const char *qk_lake_sql_skip(const char *p)
{
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        for (; *p; p++)
            if (*p == q && *++p != q) return p;
        return p;
    }
    if (p[0] == '-' && p[1] == '-') return p + strcspn(p, "\n");
    if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        return e ? e + 2 : p + strlen(p);
    }
    if (*p == '$') {
        size_t n = 1;
        while (isalnum((unsigned char)p[n]) || p[n] == '_')
            n++;
        if (p[n] == '$') {
            char tag[64];
            const char *e;
            if (n + 1 >= sizeof tag) return p + 1;
            memcpy(tag, p, n + 1);
            tag[n + 1] = 0;
            e = strstr(p + n + 1, tag);
            return e ? e + n + 1 : p + strlen(p);
        }
    }
    return p;
}

/* The length of a table name at p: parts joined by '.', each an identifier or "quoted"; 0 when
 * there is none. */
static size_t name_len(const char *p)
{
    const char *s = p;
    for (;;) {
        if (*p == '"') {
            const char *e = qk_lake_sql_skip(p);
            if (e == p + 1 || e[-1] != '"') return 0;
            p = e;
        } else if (isalpha((unsigned char)*p) || *p == '_') {
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '$')
                p++;
        } else {
            return 0;
        }
        if (*p != '.') return (size_t)(p - s);
        p++;
    }
}

int qk_lake_caret_rewrite(const char *sql, char **out, qk_err *err)
{
    qk_buf b;
    const char *p = sql, *done = sql;
    size_t replaced = 0;
    int rc = 0;
    *out = NULL;
    if (!strstr(sql, CARET)) return 0;
    qk_buf_init(&b, strlen(sql) + 4096);
    while (*p && !rc) {
        const char *q = qk_lake_sql_skip(p);
        size_t n;
        if (q != p) {
            p = q;
            continue;
        }
        if (strncmp(p, CARET, 4) != 0) {
            p++;
            continue;
        }
        if (!(n = name_len(p + 4))) {
            rc = qk_errtf(err, QK_EPARSE, "ParserException",
                          "=(^) must be followed by a table name, as in FROM =(^)climate "
                          "(at offset %zu)",
                          (size_t)(p - sql));
            break;
        }
        rc = qk_buf_add(&b, done, (size_t)(p - done));
        if (!rc && n == 5 && !strncasecmp(p + 4, "quack", 5))
            rc = qk_buf_adds(&b, PROBE);
        else if (!rc)
            rc = qk_buf_add(&b, p + 4, n);
        p += 4 + n;
        done = p;
        replaced++;
    }
    if (!rc) rc = qk_buf_adds(&b, done);
    if (rc || !replaced) {
        qk_buf_free(&b);
        if (!rc) return 0;
        return rc == QK_EPARSE ? rc : qk_errf(err, QK_ETOOBIG, "query too long");
    }
    *out = qk_buf_detach(&b, NULL);
    return 0;
}
