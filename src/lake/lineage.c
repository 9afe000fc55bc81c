/* SPDX-License-Identifier: MIT */
/*
 * lineage.c: the lineage log, a Delta table at _quack/lineage (lineage.h).
 *
 * A record is one append made by the Delta writer from a SELECT of literals, so lineage
 * writers are as safe as any other appender (put-if-absent commits, rebased on conflict). The
 * graph is read back in one query over the log's snapshot (to_json of every record) and built
 * in memory with jansson.
 */
#include "lake/lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "delta/delta.h"
#include "lake/lake_int.h"

#define LINEAGE_QUERY_MAX ((size_t)1 << 20) /* query text kept in a record */

static int add_lit(qk_buf *b, const char *s)
{
    return qk_sql_add_literal(b, s ? s : "");
}

/* The SELECT of one record. */
static int record_sql(const qk_lineage_rec *r, qk_buf *b)
{
    size_t i;
    json_t *p;
    char *q = NULL;
    int rc = qk_buf_adds(b, "SELECT ");
    rc = rc || add_lit(b, r->table) || qk_buf_adds(b, " AS \"table\", ");
    rc = rc || add_lit(b, r->kind) || qk_buf_adds(b, " AS kind, ");
    rc = rc || add_lit(b, r->operation) || qk_buf_adds(b, " AS operation, CAST([");
    json_array_foreach(r->parents, i, p)
    {
        rc = rc || (i && qk_buf_adds(b, ", ")) || add_lit(b, qk_json_str(p, "name"));
    }
    rc = rc || qk_buf_adds(b, "] AS VARCHAR[]) AS parents, CAST([");
    json_array_foreach(r->parents, i, p)
    {
        json_t *v = json_object_get(p, "version");
        rc = rc || (i && qk_buf_adds(b, ", ")) ||
             (json_is_integer(v) ? qk_buf_printf(b, "%lld", (long long)json_integer_value(v))
                                 : qk_buf_adds(b, "NULL"));
    }
    if (r->query && strlen(r->query) > LINEAGE_QUERY_MAX) q = strndup(r->query, LINEAGE_QUERY_MAX);
    rc = rc || qk_buf_adds(b, "] AS BIGINT[]) AS parent_versions, ");
    rc = rc || add_lit(b, q ? q : r->query) || qk_buf_adds(b, " AS query, ");
    rc = rc || add_lit(b, r->location) || qk_buf_adds(b, " AS location, ");
    rc = rc || (r->version < 0 ? qk_buf_adds(b, "CAST(NULL AS BIGINT)")
                               : qk_buf_printf(b, "CAST(%lld AS BIGINT)", (long long)r->version));
    rc = rc || qk_buf_printf(b, " AS version, make_timestamptz(CAST(%lld AS BIGINT)) AS \"time\"",
                             (long long)qk_epoch_ms() * 1000);
    free(q);
    return rc;
}

json_t *qk_lineage_parents(json_t *bound)
{
    json_t *out = json_array(), *b;
    size_t i;
    json_array_foreach(bound, i, b)
    {
        bool dup = false;
        for (size_t j = 0; j < json_array_size(out) && !dup; j++)
            dup = !strcmp(qk_json_str(json_array_get(out, j), "name"), qk_json_str(b, "name"));
        if (!dup) json_array_append(out, b);
    }
    return out;
}

int qk_lineage_record(qk_engine *e, qk_store *lake, const qk_lineage_rec *r, qk_err *err)
{
    qk_buf sql;
    qk_delta_write_opts o = {0};
    qk_delta_write_result res;
    int rc;
    qk_buf_init(&sql, LINEAGE_QUERY_MAX * 3);
    if (record_sql(r, &sql)) {
        qk_buf_free(&sql);
        return qk_errf(err, QK_ETOOBIG, "lineage record too long");
    }
    o.mode = QK_DELTA_APPEND;
    o.operation = "WRITE";
    o.name = "quack lineage";
    rc = qk_delta_write(e, lake, QK_LINEAGE_PATH, qk_buf_cstr(&sql), &o, &res, err);
    if (rc) qk_err_prefix(err, "lineage");
    qk_buf_free(&sql);
    return rc;
}

/* Has the lineage log no commit at all (nothing recorded yet)? */
static bool no_log(qk_store *lake)
{
    qk_list_page page;
    qk_list_req req = {.prefix = QK_LINEAGE_PATH "/_delta_log/", .max_keys = 1};
    bool none = !qk_store_list(lake, &req, &page, NULL) && page.n == 0 && !page.nprefixes;
    qk_list_page_free(&page);
    return none;
}

/* Every record as a JSON array (oldest first); an empty array when there is no log. */
static int load_records(qk_engine *e, qk_store *lake, json_t **out, qk_err *err)
{
    qk_delta_snapshot *snap = NULL;
    qk_lake_ctx ctx;
    duckdb_connection con = NULL;
    char *uri = NULL, *local = NULL, *text = NULL;
    qk_buf sql;
    int rc;
    *out = NULL;
    qk_lake_ctx_init(&ctx, e);
    qk_buf_init(&sql, (size_t)1 << 28);
    rc = qk_delta_snapshot_load(e, lake, QK_LINEAGE_PATH, NULL, &snap, err);
    if (rc == QK_ENOTFOUND && no_log(lake)) {
        qk_err_clear(err);
        *out = json_array();
        rc = *out ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if (rc) goto out;
    if ((rc = qk_delta_check_files(lake, QK_LINEAGE_PATH, snap, NULL, err))) goto out;
    if (asprintf(&uri, "%s/%s", qk_store_uri(lake), QK_LINEAGE_PATH) < 0) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if (qk_buf_adds(&sql, "SELECT COALESCE(CAST(to_json(list(t ORDER BY t.\"time\", t.version)) "
                          "AS VARCHAR), ?) FROM (")) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = qk_delta_scan_sql(snap, uri, NULL, &sql, err))) goto out;
    if (qk_buf_adds(&sql, ") AS t")) {
        rc = qk_errf(err, QK_ETOOBIG, "lineage query too long");
        goto out;
    }
    if ((rc = qk_lake_resolve(&ctx, qk_buf_cstr(&sql), &local, err))) goto out;
    if (duckdb_connect(qk_engine_db(e), &con) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
        goto out;
    }
    if ((rc = qk_lake_scalar(con, local, "[]", &text, err))) goto out;
    if (!(*out = json_loads(text, 0, NULL))) rc = qk_errf(err, QK_EPARSE, "unreadable lineage");
out:
    if (rc) qk_err_prefix(err, "lineage log " QK_LINEAGE_PATH);
    if (con) duckdb_disconnect(&con);
    free(text);
    free(local);
    free(uri);
    qk_buf_free(&sql);
    qk_lake_ctx_free(&ctx);
    qk_delta_snapshot_destroy(snap);
    return rc;
}

/* tables[name] (created as a "source" when new). */
static json_t *node_of(json_t *tables, const char *name)
{
    json_t *n = json_object_get(tables, name);
    if (n) return n;
    n = json_pack("{s:s, s:s, s:[], s:[]}", "name", name, "kind", "source", "parents", "children");
    json_object_set_new(tables, name, n);
    return n;
}

static void add_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!strcmp(json_string_value(v), s)) return;
    }
    json_array_append_new(arr, json_string(s));
}

/* Mark name and, following key ("parents" or "children"), everything it reaches. */
static void reach(json_t *tables, const char *name, const char *key, json_t *seen)
{
    json_t *n = json_object_get(tables, name), *v;
    size_t i;
    if (!n || json_object_get(seen, name)) return;
    json_object_set_new(seen, name, json_true());
    json_array_foreach(json_object_get(n, key), i, v)
    {
        reach(tables, json_string_value(v), key, seen);
    }
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(qk_json_str(*(json_t *const *)a, "name"),
                  qk_json_str(*(json_t *const *)b, "name"));
}

int qk_lineage_graph(qk_engine *e, qk_store *lake, const char *name, json_t **out, qk_err *err)
{
    json_t *recs = NULL, *tables, *r, *list, *keep = NULL, *v;
    const char *k;
    size_t i, n = 0;
    json_t **sorted = NULL;
    int rc = load_records(e, lake, &recs, err);
    *out = NULL;
    if (rc) return rc;
    tables = json_object();
    json_array_foreach(recs, i, r)
    {
        const char *t = qk_json_str(r, "table");
        json_t *node = node_of(tables, t), *p;
        size_t j;
        static const char *const copy[] = {"kind",     "operation", "query",
                                           "location", "version",   "time"};
        for (size_t c = 0; c < sizeof copy / sizeof copy[0]; c++)
            json_object_set(node, copy[c], json_object_get(r, copy[c]));
        json_array_foreach(json_object_get(r, "parents"), j, p)
        {
            if (!json_is_string(p) || !strcmp(json_string_value(p), t)) continue;
            add_unique(json_object_get(node, "parents"), json_string_value(p));
            add_unique(json_object_get(node_of(tables, json_string_value(p)), "children"), t);
        }
    }
    if (name) {
        keep = json_object();
        reach(tables, name, "parents", keep);
        json_object_del(keep, name);
        reach(tables, name, "children", keep);
        if (!json_object_get(tables, name))
            rc = qk_errf(err, QK_ENOTFOUND,
                         "%s has no lineage (no load or CREATE TABLE AS named it)", name);
    }
    list = json_array();
    sorted = calloc(json_object_size(tables) + 1, sizeof *sorted);
    json_object_foreach(tables, k, v)
    {
        if (keep && !json_object_get(keep, k)) continue;
        sorted[n++] = v;
    }
    qsort(sorted, n, sizeof *sorted, cmp_name);
    for (i = 0; i < n; i++)
        json_array_append(list, sorted[i]);
    free(sorted);
    if (!rc)
        *out =
            json_pack("{s:o, s:I}", "tables", list, "records", (json_int_t)json_array_size(recs));
    else
        json_decref(list);
    json_decref(keep);
    json_decref(tables);
    json_decref(recs);
    return rc;
}
