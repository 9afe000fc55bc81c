/* SPDX-License-Identifier: MIT */
/*
 * names.c: lake table names in a query's AST (lake_int.h; docs/tables.md).
 *
 * Every BASE_TABLE reference that is not a CTE, a DuckDB system schema or a path is looked up
 * in the lake's catalog (catalog.h); a table found there replaces the reference with the table
 * function that reads it (read_parquet(..., hive_partitioning = ...)), keeping the reference's
 * alias (or its name as the alias, so `trips.col` still binds), column aliases and TABLESAMPLE.
 * A Delta table becomes a subquery over its snapshot's files (delta.h's scan SQL): the latest
 * version, or the one its AT (VERSION => n) / AT (TIMESTAMP => t) clause names (DuckDB's own
 * parser reads the clause; DuckDB evaluates its expression), without the files the WHERE of the
 * SELECT reading it rules out by their partition values and stats (prune.c finds the usable
 * conjuncts, delta/skip.h decides; QUACK_DELTA_SKIPPING=off reads them all). Other tables with
 * an AT clause are refused. A name the lake does not have is left alone for DuckDB to report. SHOW
 * TABLES and SHOW ALL TABLES become a VALUES list of the lake's tables. The replacement nodes are
 * made by DuckDB itself: the SQL text of the table function is parsed with json_serialize_sql and
 * its FROM node spliced in, so no node is written by hand.
 */
#include "core/json.h"
#include "delta/delta.h"
#include "lake/catalog.h"
#include "lake/lake_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct names_state {
    qk_engine *engine;
    duckdb_connection con;
    const char *mark;
    qk_store *lake;
    qk_lake_catalog scan;
    json_t *ctes; /* array of CTE names in the query */
    size_t replaced;
    qk_lake_known *known; /* may be NULL */
    json_t *select;       /* the innermost SELECT_NODE being walked, or NULL */
} names_state;

static void collect_ctes(json_t *j, json_t *out)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_t *map = json_object_get(json_object_get(j, "cte_map"), "map");
        json_array_foreach(map, i, v)
        {
            json_t *key = json_object_get(v, "key");
            if (json_is_string(key)) json_array_append(out, key);
        }
        json_object_foreach(j, k, v) collect_ctes(v, out);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) collect_ctes(v, out);
    }
}

static bool is_cte(const names_state *ns, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(ns->ctes, i, v)
    {
        if (!strcasecmp(json_string_value(v), name)) return true;
    }
    return false;
}

static int add_ident(qk_buf *b, const char *s)
{
    int rc = qk_buf_addc(b, '"');
    for (; *s && !rc; s++)
        rc = *s == '"' ? qk_buf_adds(b, "\"\"") : qk_buf_addc(b, *s);
    return rc ? rc : qk_buf_addc(b, '"');
}

void qk_lake_known_free(qk_lake_known *k)
{
    if (!k) return;
    qk_obj_list_free(&k->objs);
    for (size_t i = 0; i < k->nglobs; i++)
        free(k->globs[i]);
    free(k->globs);
    json_decref(k->bound);
    memset(k, 0, sizeof *k);
}

/* On an S3 lake, keep what the lookup listed for the path resolution (qk_lake_known). */
static int remember(names_state *ns, const qk_lake_table *t, qk_err *err)
{
    const char *root = qk_store_uri(ns->lake);
    qk_buf u;
    int rc = 0;
    if (!ns->known || !qk_str_startswith(root, "s3://") || t->objects.n == 0) return 0;
    qk_buf_init(&u, 3 * QK_STORE_KEY_MAX);
    for (size_t i = 0; i < t->objects.n && !rc; i++) {
        const qk_obj_entry *x = &t->objects.v[i];
        qk_obj_info o = {.size = x->size, .mtime_ms = x->mtime_ms};
        qk_strlcpy(o.etag, x->etag, sizeof o.etag);
        qk_buf_truncate(&u, 0);
        if (qk_buf_printf(&u, "%s/%s", root, x->key)) rc = QK_ETOOBIG;
        o.key = qk_buf_cstr(&u);
        if (!rc) rc = qk_obj_list_add(&ns->known->objs, &o, err);
    }
    if (!rc && !t->files) { /* a glob: every object it matches is in the listing */
        char **g = realloc(ns->known->globs, (ns->known->nglobs + 1) * sizeof *g);
        qk_buf_truncate(&u, 0);
        if (!g) {
            rc = QK_ENOMEM;
        } else {
            ns->known->globs = g;
            if (qk_buf_printf(&u, "%s/%s", root, t->pattern))
                rc = QK_ETOOBIG;
            else
                g[ns->known->nglobs++] = qk_xstrdup(qk_buf_cstr(&u));
        }
    }
    qk_buf_free(&u);
    return rc ? qk_errf(err, rc, "table %s: cannot keep its listing", t->name) : 0;
}

/* Note t (and the Delta version read, or -1) in ns->known->bound. */
static int note_bound(names_state *ns, const qk_lake_table *t, int64_t version, qk_err *err)
{
    json_t *o;
    if (!ns->known) return 0;
    if (!ns->known->bound && !(ns->known->bound = json_array()))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    o = json_pack("{s:s, s:s, s:s}", "name", t->name, "path", t->path, "kind",
                  qk_table_kind_name(t->kind));
    if (o && version >= 0 && json_object_set_new(o, "version", json_integer(version))) {
        json_decref(o);
        o = NULL;
    }
    if (!o || json_array_append_new(ns->known->bound, o))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    return 0;
}

/* Parse "SELECT * FROM <from>" and put its FROM node in place of node's contents. */
static int splice_from(names_state *ns, json_t *node, const char *sql, qk_err *err)
{
    json_t *j = NULL, *from;
    int rc = qk_lake_parse(ns->con, sql, ns->mark, &j, err);
    if (rc) return rc;
    from = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "statements"), 0), "node"), "from_table");
    if (!json_is_object(from)) {
        json_decref(j);
        return qk_errf(err, QK_EINTERNAL, "cannot build the table reference");
    }
    json_object_clear(node);
    rc = json_object_update(node, from) ? qk_errf(err, QK_ENOMEM, "out of memory") : 0;
    json_decref(j);
    return rc;
}

/* The value of an AT clause's expression: DuckDB renders and evaluates it (CAST to BIGINT for
 * VERSION, to TIMESTAMPTZ then epoch ms for TIMESTAMP). */
static int at_value(names_state *ns, json_t *at, qk_delta_at *out, qk_err *err)
{
    const char *unit = qk_json_str(at, "unit");
    bool version = !strcasecmp(unit, "VERSION");
    json_t *t = NULL;
    char *expr = NULL, *sql = NULL;
    int64_t v = 0;
    int rc;
    if (!version && strcasecmp(unit, "TIMESTAMP") != 0)
        return qk_errtf(err, QK_EINVAL, "BinderException",
                        "AT (%s => ...): use VERSION or TIMESTAMP", unit);
    rc = qk_lake_parse(ns->con, "SELECT 1", ns->mark, &t, err);
    if (!rc) {
        json_t *node = json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node");
        json_array_set(json_object_get(node, "select_list"), 0, json_object_get(at, "expr"));
        rc = qk_lake_render(ns->con, t, ns->mark, &expr, err);
    }
    json_decref(t);
    if (rc) return rc;
    if (asprintf(&sql,
                 version ? "SELECT CAST((%s) AS BIGINT)"
                         : "SELECT epoch_ms(CAST((%s) AS "
                           "TIMESTAMPTZ))",
                 expr + 7) < 0) {
        free(expr);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    free(expr);
    rc = qk_engine_scalar_i64(ns->engine, sql, NULL, &v, err);
    if (rc == QK_ENOTFOUND) {
        rc = qk_errtf(err, QK_EINVAL, "BinderException", "AT (%s => ...) is NULL", unit);
    } else if (rc) {
        qk_err_prefix(err, version ? "AT (VERSION => ...)" : "AT (TIMESTAMP => ...)");
    } else {
        out->kind = version ? QK_DELTA_AT_VERSION : QK_DELTA_AT_TIMESTAMP;
        out->version = version ? v : 0;
        out->timestamp_ms = version ? 0 : v;
        if (version && v < 0)
            rc = qk_errtf(err, QK_EINVAL, "BinderException",
                          "AT (VERSION => %lld): versions start at 0", (long long)v);
    }
    free(sql);
    return rc;
}

/* Skip the files of snap that cannot hold a row the WHERE of the enclosing SELECT accepts
 * (skip.h): *keep (caller frees) is the mask for the scan, NULL to read every file. Any doubt
 * or failure reads every file. */
static void delta_skip(names_state *ns, const qk_lake_table *t, json_t *node, const char *alias,
                       const qk_delta_snapshot *snap, bool **keep)
{
    const qk_delta_pred *where;
    size_t skipped = 0;
    qk_arena a;
    qk_err e;
    *keep = NULL;
    if (!ns->select || !snap->nfiles || !qk_delta_skipping_enabled()) return;
    qk_arena_init(&a, (size_t)64 << 20);
    where = qk_lake_delta_filter(ns->con, ns->mark, ns->select, node, alias, &snap->metadata, &a);
    if (where && (*keep = malloc(snap->nfiles * sizeof **keep)) != NULL &&
        qk_delta_skip(ns->con, snap, alias, where, *keep, &skipped, &e) == 0 && skipped) {
        qk_buf name;
        if (ns->known) ns->known->delta_skipped += skipped;
        qk_buf_init(&name, 4096);
        if (!qk_buf_add_json_str(&name, t->name, strlen(t->name)))
            qk_log(QK_LOG_DEBUG, "delta_skip",
                   "\"table\":%s,\"version\":%lld,\"files\":%zu,\"skipped\":%zu",
                   qk_buf_cstr(&name), (long long)snap->version, snap->nfiles, skipped);
        qk_buf_free(&name);
    } else {
        free(*keep);
        *keep = NULL;
    }
    qk_arena_free(&a);
}

/* "(<scan of the snapshot>)" for a Delta table, at its AT clause (or the latest version), read
 * by the reference node (named alias) of ns->select: files the WHERE rules out are left out. */
static int delta_sql(names_state *ns, const qk_lake_table *t, json_t *node, const char *alias,
                     qk_buf *sql, int64_t *version, qk_err *err)
{
    json_t *at = json_object_get(node, "at_clause");
    qk_delta_at when = {QK_DELTA_AT_LATEST, 0, 0};
    qk_delta_snapshot *snap = NULL;
    bool *keep = NULL;
    char *uri = NULL;
    int rc = 0;
    if (at && !json_is_null(at)) rc = at_value(ns, at, &when, err);
    if (!rc) rc = qk_delta_snapshot_load(ns->engine, ns->lake, t->path, &when, &snap, err);
    if (!rc) rc = qk_delta_check_files(ns->lake, t->path, snap, &t->objects, err);
    if (rc) {
        qk_err_prefix(err, t->name);
        goto out;
    }
    if (asprintf(&uri, "%s/%s", qk_store_uri(ns->lake), t->path) < 0) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    *version = snap->version;
    delta_skip(ns, t, node, alias, snap, &keep);
    rc = qk_buf_addc(sql, '(');
    if (!rc) rc = qk_delta_scan_sql(snap, uri, keep, sql, err);
    if (!rc) rc = qk_buf_addc(sql, ')');
out:
    free(keep);
    free(uri);
    qk_delta_snapshot_destroy(snap);
    return rc;
}

static int bind_table(names_state *ns, json_t *node, qk_err *err)
{
    const char *cat = qk_json_str(node, "catalog_name"), *sch = qk_json_str(node, "schema_name"),
               *tab = qk_json_str(node, "table_name"), *alias = qk_json_str(node, "alias");
    const char *parts[3];
    size_t np = 0;
    qk_lake_table t;
    qk_buf sql;
    json_t *sample, *cols, *at;
    int64_t version = -1;
    qk_err e;
    int rc;
    if (!*tab || strchr(tab, '/') || qk_str_startswith(tab, "s3://")) return 0;
    if (!*cat && !*sch && is_cte(ns, tab)) return 0;
    if (!strcasecmp(sch, "information_schema") || !strcasecmp(sch, "pg_catalog") ||
        !strcasecmp(cat, "system") || !strcasecmp(cat, "temp"))
        return 0;
    if (*cat) parts[np++] = cat;
    if (*sch) parts[np++] = sch;
    parts[np++] = tab;
    qk_err_clear(&e);
    rc = qk_lake_catalog_lookup(ns->lake, parts, np, &ns->scan, &t, &e);
    if (rc == QK_ENOTFOUND) return 0; /* not the lake's: DuckDB reports it */
    if (rc) {
        *err = e;
        return rc;
    }
    at = json_object_get(node, "at_clause");
    if (at && !json_is_null(at) && t.kind != QK_TABLE_DELTA) {
        rc = qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                      "AT (VERSION => ...) and AT (TIMESTAMP => ...) need a Delta table; %s is a "
                      "%s %s table",
                      t.name, qk_table_kind_name(t.kind), qk_table_format_name(t.format));
        qk_lake_table_free(&t);
        return rc;
    }
    qk_buf_init(&sql, (size_t)1 << 28);
    if (qk_buf_adds(&sql, "SELECT * FROM "))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    else if (t.kind == QK_TABLE_DELTA)
        rc = delta_sql(ns, &t, node, *alias ? alias : tab, &sql, &version, err);
    else
        rc = qk_lake_table_sql(&t, qk_store_uri(ns->lake), &sql, err);
    if (!rc && (qk_buf_adds(&sql, " AS ") || add_ident(&sql, *alias ? alias : tab)))
        rc = qk_errf(err, QK_ETOOBIG, "table %s: query text too long", t.name);
    if (!rc) rc = remember(ns, &t, err);
    if (!rc) rc = note_bound(ns, &t, version, err);
    qk_lake_table_free(&t);
    if (rc) {
        qk_buf_free(&sql);
        return rc;
    }
    sample = json_incref(json_object_get(node, "sample"));
    cols = json_incref(json_object_get(node, "column_name_alias"));
    rc = splice_from(ns, node, qk_buf_cstr(&sql), err);
    if (!rc && sample) json_object_set(node, "sample", sample);
    if (!rc && cols) json_object_set(node, "column_name_alias", cols);
    json_decref(sample);
    json_decref(cols);
    qk_buf_free(&sql);
    if (!rc) ns->replaced++;
    return rc;
}

/* SHOW TABLES -> (VALUES (name), ...); SHOW ALL TABLES adds what the catalog knows. */
static int bind_show(names_state *ns, json_t *node, bool all, qk_err *err)
{
    qk_buf sql;
    int rc;
    if (!ns->scan.scanned && (rc = qk_lake_catalog_scan(ns->lake, &ns->scan, err))) return rc;
    qk_buf_init(&sql, (size_t)1 << 28);
    rc = qk_buf_adds(&sql, "SELECT * FROM ");
    if (ns->scan.n == 0) {
        rc = rc ? rc
                : qk_buf_adds(&sql, all ? "(SELECT NULL::VARCHAR AS name, NULL::VARCHAR AS kind, "
                                          "NULL::VARCHAR AS format, NULL::BIGINT AS files, "
                                          "NULL::BIGINT AS bytes, NULL::BIGINT AS partitions, "
                                          "NULL::VARCHAR[] AS partition_columns, "
                                          "NULL::VARCHAR AS location LIMIT 0)"
                                        : "(SELECT NULL::VARCHAR AS name LIMIT 0)");
    } else {
        rc = rc ? rc : qk_buf_adds(&sql, "(VALUES ");
        for (size_t i = 0; i < ns->scan.n && !rc; i++) {
            const qk_lake_table *t = &ns->scan.tables[i];
            if (i) rc = qk_buf_addc(&sql, ',');
            if (!rc) rc = qk_buf_addc(&sql, '(');
            if (!rc) rc = qk_sql_add_literal(&sql, t->name);
            if (!rc && all) {
                rc = qk_buf_printf(&sql, ",'%s','%s',%llu::BIGINT,%llu::BIGINT,%llu::BIGINT,[",
                                   qk_table_kind_name(t->kind), qk_table_format_name(t->format),
                                   (unsigned long long)t->nfiles, (unsigned long long)t->bytes,
                                   (unsigned long long)t->partitions);
                for (size_t c = 0; c < t->npart_cols && !rc; c++) {
                    if (c) rc = qk_buf_addc(&sql, ',');
                    if (!rc) rc = qk_sql_add_literal(&sql, t->part_cols[c]);
                }
                if (!rc) rc = qk_buf_adds(&sql, "]::VARCHAR[],");
                if (!rc) {
                    qk_buf loc;
                    qk_buf_init(&loc, 3 * QK_STORE_KEY_MAX);
                    rc = qk_buf_printf(&loc, "%s/%s", qk_store_uri(ns->lake), t->path);
                    if (!rc) rc = qk_sql_add_literal(&sql, qk_buf_cstr(&loc));
                    qk_buf_free(&loc);
                }
            }
            if (!rc) rc = qk_buf_addc(&sql, ')');
        }
        if (!rc)
            rc = qk_buf_adds(&sql, all ? ") AS lake_tables(name, kind, format, files, bytes, "
                                         "partitions, partition_columns, location)"
                                       : ") AS lake_tables(name)");
    }
    if (rc)
        rc = qk_errf(err, rc, "SHOW TABLES: too many tables");
    else
        rc = splice_from(ns, node, qk_buf_cstr(&sql), err);
    qk_buf_free(&sql);
    if (!rc) ns->replaced++;
    return rc;
}

static int walk(names_state *ns, json_t *j, qk_err *err)
{
    const char *k;
    json_t *v, *outer;
    size_t i;
    int rc;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if ((rc = walk(ns, v, err))) return rc;
        }
        return 0;
    }
    if (!json_is_object(j)) return 0;
    if (!strcmp(qk_json_str(j, "type"), "BASE_TABLE")) return bind_table(ns, j, err);
    if (!strcmp(qk_json_str(j, "type"), "SHOW_REF") && json_is_null(json_object_get(j, "query"))) {
        const char *t = qk_json_str(j, "table_name");
        if (!strcmp(t, "\"tables\"")) return bind_show(ns, j, false, err);
        if (!strcmp(t, "__show_tables_expanded")) return bind_show(ns, j, true, err);
    }
    outer = ns->select;
    if (!strcmp(qk_json_str(j, "type"), "SELECT_NODE")) ns->select = j; /* its WHERE, FROM */
    rc = 0;
    json_object_foreach(j, k, v)
    {
        if ((rc = walk(ns, v, err))) break;
    }
    ns->select = outer;
    return rc;
}

int qk_lake_bind_names(qk_engine *e, duckdb_connection con, json_t *ast, const char *mark,
                       qk_store *lake, size_t *replaced, qk_lake_known *known, qk_err *err)
{
    names_state ns;
    int rc;
    memset(&ns, 0, sizeof ns);
    ns.engine = e;
    ns.con = con;
    ns.mark = mark;
    ns.lake = lake;
    ns.known = known;
    ns.ctes = json_array();
    if (!ns.ctes) return qk_errf(err, QK_ENOMEM, "out of memory");
    collect_ctes(ast, ns.ctes);
    rc = walk(&ns, ast, err);
    *replaced = ns.replaced;
    json_decref(ns.ctes);
    qk_lake_catalog_free(&ns.scan);
    return rc;
}
