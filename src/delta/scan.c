/* SPDX-License-Identifier: MIT */
/*
 * scan.c: the SELECT that reads a snapshot's rows (contract in delta.h).
 *
 *   SELECT CAST(d."a" AS BIGINT) AS "a", ..., CAST(f."__qk_p0" AS DATE) AS "day", ...
 *   FROM (SELECT *, CAST(file_index AS BIGINT) AS "__qk_file"
 *         FROM read_parquet(['<uri>/<path>', ...], union_by_name = true, hive_partitioning = false)
 *         UNION ALL BY NAME
 *         SELECT CAST(NULL AS BIGINT) AS "a", ..., CAST(NULL AS BIGINT) AS "__qk_file"
 *         WHERE false) AS d
 *   JOIN (VALUES (0, '2024-01-01'), ...) AS f("__qk_file", "__qk_p0")
 *     ON d."__qk_file" = f."__qk_file"
 *
 * Why this shape: one read_parquet over the explicit list is one scan DuckDB parallelises
 * across files (a UNION ALL per partition would be a plan per partition); union_by_name
 * tolerates files written before a column was added; the typed empty branch, unioned BY NAME,
 * supplies columns no file has (as NULL of the schema type) and the casts give every column
 * its schema type; hive_partitioning is off so values are never taken from paths; partition
 * values are the log's strings joined per file (a hash join on a small VALUES table) by the
 * file's position in the list (DuckDB's file_index virtual column): not by file name, because
 * the lake layer rewrites an s3:// list to local cache paths and would leave the VALUES alone.
 * (A data column named file_index would hide the virtual one: such tables read by filename,
 * which works for local tables only.) Values are cast to
 * the column type (binary with encode(), timestamps without a zone read as UTC). Without
 * partition columns there is no join and no filename column. Paths with glob characters
 * (* ? [) are not escaped: DuckDB would expand them.
 */
#include "delta/delta_int.h"

#include <string.h>
#include <strings.h>

#define FILE_COL "\"__qk_file\""

/* Does a column named file_index hide DuckDB's virtual one? Then files are matched by name. */
static bool by_name(const qk_delta_metadata *m)
{
    for (size_t i = 0; i < m->ncolumns; i++)
        if (!strcasecmp(m->columns[i].name, "file_index")) return true;
    return false;
}

/* The URI DuckDB reads for a file: absolute ones with file: stripped and s3a:/s3n: as s3:. */
static int add_file_uri(qk_buf *b, const char *table_uri, const qk_delta_file *f)
{
    char tmp[QK_STORE_KEY_MAX * 4];
    const char *p = f->path;
    if (!f->absolute) {
        snprintf(tmp, sizeof tmp, "%s/%s", table_uri, p);
    } else if (qk_str_startswith(p, "file://")) {
        snprintf(tmp, sizeof tmp, "%s", p + strlen("file://"));
    } else if (qk_str_startswith(p, "file:")) {
        snprintf(tmp, sizeof tmp, "%s", p + strlen("file:"));
    } else if (qk_str_startswith(p, "s3a://") || qk_str_startswith(p, "s3n://")) {
        snprintf(tmp, sizeof tmp, "s3://%s", p + strlen("s3a://"));
    } else {
        snprintf(tmp, sizeof tmp, "%s", p);
    }
    return qk_sql_add_literal(b, tmp);
}

static bool is_ts_tz(const qk_delta_column *c)
{
    return !strcmp(c->type, "TIMESTAMP WITH TIME ZONE");
}

bool qk_delta_ts_has_zone(const char *v)
{
    for (size_t i = 10; i < strlen(v); i++)
        if (v[i] == 'Z' || v[i] == '+' || v[i] == '-') return true;
    return false;
}

int qk_delta_add_partition_literal(qk_buf *b, const qk_delta_column *c, const char *v)
{
    char tmp[256];
    if (!v) return qk_buf_adds(b, "NULL");
    if (!is_ts_tz(c) || strlen(v) >= sizeof tmp - 4 || qk_delta_ts_has_zone(v))
        return qk_sql_add_literal(b, v);
    snprintf(tmp, sizeof tmp, "%s+00", v);
    return qk_sql_add_literal(b, tmp);
}

/* The select list: data columns from d, partition columns from f. */
static int add_select_list(qk_buf *b, const qk_delta_metadata *m)
{
    int rc = qk_buf_adds(b, "SELECT ");
    for (size_t i = 0; !rc && i < m->ncolumns; i++) {
        const qk_delta_column *c = &m->columns[i];
        if (i) rc = qk_buf_adds(b, ", ");
        if (!rc && c->partition >= 0 && !strcmp(c->type, "BLOB"))
            rc = qk_buf_printf(b, "encode(f.\"__qk_p%d\")", c->partition);
        else if (!rc && c->partition >= 0)
            rc = qk_buf_printf(b, "CAST(f.\"__qk_p%d\" AS %s)", c->partition, c->type);
        else if (!rc)
            rc = qk_buf_adds(b, "CAST(d.") || qk_delta_add_ident(b, c->name) ||
                 qk_buf_printf(b, " AS %s)", c->type);
        if (!rc) rc = qk_buf_adds(b, " AS ") || qk_delta_add_ident(b, c->name);
    }
    return rc;
}

/* The typed empty branch: one NULL per data column (and the file name column). */
static int add_null_branch(qk_buf *b, const qk_delta_metadata *m, bool with_file)
{
    bool first = true;
    int rc = qk_buf_adds(b, "SELECT ");
    for (size_t i = 0; !rc && i < m->ncolumns; i++) {
        const qk_delta_column *c = &m->columns[i];
        if (c->partition >= 0) continue;
        rc = qk_buf_printf(b, "%sCAST(NULL AS %s) AS ", first ? "" : ", ", c->type) ||
             qk_delta_add_ident(b, c->name);
        first = false;
    }
    if (!rc && with_file)
        rc = qk_buf_printf(b, "%sCAST(NULL AS %s) AS " FILE_COL, first ? "" : ", ",
                           by_name(m) ? "VARCHAR" : "BIGINT");
    if (!rc && first && !with_file) rc = qk_buf_adds(b, "NULL AS \"__qk_none\"");
    return rc ? rc : qk_buf_adds(b, " WHERE false");
}

static int add_file_list(qk_buf *b, const qk_delta_snapshot *snap, const char *uri,
                         const bool *keep)
{
    bool first = true;
    int rc = qk_buf_addc(b, '[');
    for (size_t i = 0; !rc && i < snap->nfiles; i++) {
        if (keep && !keep[i]) continue;
        rc = (first ? 0 : qk_buf_adds(b, ", ")) || add_file_uri(b, uri, &snap->files[i]);
        first = false;
    }
    return rc ? rc : qk_buf_addc(b, ']');
}

static int add_values(qk_buf *b, const qk_delta_snapshot *snap, const char *uri, const bool *keep)
{
    const qk_delta_metadata *m = &snap->metadata;
    bool first = true;
    size_t k = 0;
    int rc = qk_buf_adds(b, " JOIN (VALUES ");
    for (size_t i = 0; !rc && i < snap->nfiles; i++) {
        if (keep && !keep[i]) continue;
        rc = qk_buf_adds(b, first ? "(" : ", (") ||
             (by_name(m) ? add_file_uri(b, uri, &snap->files[i]) : qk_buf_printf(b, "%zu", k++));
        for (size_t j = 0; !rc && j < m->ncolumns; j++) {
            const qk_delta_column *c = &m->columns[j];
            if (c->partition < 0) continue;
            rc = qk_buf_adds(b, ", ") || qk_delta_add_partition_literal(
                                             b, c, snap->files[i].partition_values[c->partition]);
        }
        if (!rc) rc = qk_buf_addc(b, ')');
        first = false;
    }
    if (!rc) rc = qk_buf_adds(b, ") AS f(" FILE_COL);
    for (size_t k = 0; !rc && k < m->npartition_columns; k++)
        rc = qk_buf_printf(b, ", \"__qk_p%zu\"", k);
    return rc ? rc : qk_buf_adds(b, ") ON d." FILE_COL " = f." FILE_COL);
}

/* A table without files: typed NULLs, no rows. */
static int add_empty(qk_buf *b, const qk_delta_metadata *m)
{
    int rc = qk_buf_adds(b, "SELECT ");
    for (size_t i = 0; !rc && i < m->ncolumns; i++)
        rc = qk_buf_printf(b, "%sCAST(NULL AS %s) AS ", i ? ", " : "", m->columns[i].type) ||
             qk_delta_add_ident(b, m->columns[i].name);
    return rc ? rc : qk_buf_adds(b, " WHERE false");
}

int qk_delta_scan_sql(const qk_delta_snapshot *snap, const char *table_uri, const bool *keep,
                      qk_buf *out, qk_err *err)
{
    const qk_delta_metadata *m = &snap->metadata;
    bool parts = m->npartition_columns > 0;
    size_t n = 0;
    int rc;
    for (size_t i = 0; i < snap->nfiles; i++)
        n += !keep || keep[i];
    if (!n) {
        rc = add_empty(out, m);
        goto out;
    }
    rc = add_select_list(out, m);
    if (!rc)
        rc = qk_buf_adds(out, parts && !by_name(m)
                                  ? " FROM (SELECT *, CAST(file_index AS BIGINT) AS " FILE_COL
                                    " FROM read_parquet("
                                  : " FROM (SELECT * FROM read_parquet(");
    if (!rc) rc = add_file_list(out, snap, table_uri, keep);
    if (!rc && parts && by_name(m)) rc = qk_buf_adds(out, ", filename = '__qk_file'");
    if (!rc)
        rc = qk_buf_adds(out,
                         ", union_by_name = true, hive_partitioning = false) UNION ALL BY NAME ");
    if (!rc) rc = add_null_branch(out, m, parts);
    if (!rc) rc = qk_buf_adds(out, ") AS d");
    if (!rc && parts) rc = add_values(out, snap, table_uri, keep);
out:
    if (rc)
        return qk_errf(err, QK_ETOOBIG, "the scan of version %lld does not fit in its buffer",
                       (long long)snap->version);
    return 0;
}
