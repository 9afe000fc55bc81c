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
