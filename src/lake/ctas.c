/* SPDX-License-Identifier: MIT */
/*
 * ctas.c: lake names in CREATE ... AS <query> (lake_int.h; docs/tables.md).
 *
 * DuckDB's json_serialize_sql takes SELECT statements only, so the lake cannot bind names in a
 * `CREATE TABLE t AS SELECT ... FROM climate` as it does in a SELECT. It splits the statement
 * instead, with DuckDB's parser as the judge: at each word AS outside strings and comments, in
 * order, the text after it must parse as one SELECT (json_serialize_sql) and the text up to it
 * followed by " SELECT 1" must parse as one statement. The first such AS is the split; the
 * query part is then bound like any SELECT and the statement run as prefix + bound query. No
 * SQL is parsed here: this file only finds candidate positions.
 */
#include "lake/lake_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Does text parse (DuckDB's parser only, nothing bound) as exactly one statement? */
static bool one_statement(duckdb_connection con, const char *text)
{
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(con, text, &st);
    bool ok = n == 1 && !duckdb_extract_statements_error(st);
    duckdb_destroy_extracted(&st);
    return ok;
}

/* Is the text after an AS one SELECT statement? */
static bool select_after(duckdb_connection con, const char *mark, const char *rest)
{
    json_t *ast = NULL;
    qk_err e;
    int rc = qk_lake_parse(con, rest, mark, &ast, &e);
    json_decref(ast);
    return rc == 0;
}

static bool prefix_ok(duckdb_connection con, const char *sql, size_t at)
{
    char *text = NULL;
    bool ok;
    if (asprintf(&text, "%.*s SELECT 1", (int)at, sql) < 0) return false;
    ok = one_statement(con, text);
    free(text);
    return ok;
}

size_t qk_lake_ctas_split(duckdb_connection con, const char *mark, const char *sql)
{
    const char *p = sql;
    while (*p) {
        const char *q = qk_lake_sql_skip(p);
        if (q != p) {
            p = q;
            continue;
        }
        if ((p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_')) &&
            !strncasecmp(p, "AS", 2) && !(isalnum((unsigned char)p[2]) || p[2] == '_')) {
            size_t at = (size_t)(p - sql) + 2;
            if (at < (size_t)1 << 30 && select_after(con, mark, sql + at) &&
                prefix_ok(con, sql, at))
                return at;
        }
        p++;
    }
    return 0;
}

/* Is the word at p (length n, unquoted) one of CREATE's keywords before the table name? */
static bool create_word(const char *p, size_t n)
{
    static const char *const kw[] = {"CREATE", "OR", "REPLACE", "TEMP",   "TEMPORARY",
                                     "TABLE",  "IF", "NOT",     "EXISTS", "VIEW"};
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++)
        if (strlen(kw[i]) == n && !strncasecmp(p, kw[i], n)) return true;
    return false;
}

char *qk_lake_ctas_name(const char *sql, size_t at)
{
    const char *p = sql, *end = sql + (at >= 2 ? at - 2 : 0), *start = NULL;
    const char *stop;
    size_t n;
    while (p < end) {
        const char *q;
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        q = p;
        while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
            q++;
        if (q > p && create_word(p, (size_t)(q - p))) {
            p = q;
            continue;
        }
        start = p;
        break;
    }
    if (!start) return NULL;
    /* the name runs to a column list's '(' or the end, quoted parts kept whole */
    for (p = start; p < end && *p != '(';) {
        const char *q = qk_lake_sql_skip(p);
        p = q != p ? q : p + 1;
    }
    stop = p < end ? p : end;
    while (stop > start && isspace((unsigned char)stop[-1]))
        stop--;
    n = (size_t)(stop - start);
    return n ? strndup(start, n) : NULL;
}
