/* SPDX-License-Identifier: MIT */
/*
 * handlers_tables.c: the lake's tables over HTTP (docs/http-api.md, "Tables"):
 *   GET  /tables                    every table of the catalog (SHOW TABLES, with details)
 *   GET  /tables/NAME               one table; a Delta table's snapshot: version, files, bytes,
 *                                   rows, partitions, schema, properties
 *   GET  /tables/NAME/history       a Delta table's commits, newest first (?limit=N)
 *   POST /tables/NAME/load          {"from": "raw/climate" | "query": "SELECT ...", "mode":
 *                                   "create"|"append"|"overwrite", "partition_by": [...],
 *                                   "app_id": "...", "txn_version": n}
 *   GET  /lineage                   the lineage graph (?table=NAME for one table's)
 * NAME is the table name as SQL writes it (silver.trips, gold."my table"), URL-encoded. A
 * load's "from" is a path inside the lake (never an absolute path or "..": the server reads
 * nothing outside it); loads take a query slot like any query.
 */
#include <string.h>

#include "core/json.h"
#include "lake/catalog.h"
#include "lake/lineage.h"
#include "lake/schema.h"
#include "lake/table.h"
#include "server/server_int.h"

#define LOAD_SQL_MAX ((size_t)1 << 20)

/* As for a query, but a table that is not there is 404. */
static void fail(qk_reply *r, const qk_err *e)
{
    int status = e->code == QK_ENOTFOUND ? 404 : qk_status_for_error(e);
    qk_reply_error(r, status, qk_err_type(e), e->msg[0] ? e->msg : qk_strerror(e->code));
}

static void send_json(qk_reply *r, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s || qk_buf_adds(&r->body, s))
        qk_reply_error(r, 500, "ResponseTooLarge", "the answer is larger than the response limit");
    free(s);
}

static int open_lake(qk_server *s, qk_store **lake, qk_err *err)
{
    return qk_store_open(qk_engine_lake(s->engine), lake, err);
}

/* GET /tables */
static void list_tables(qk_server *s, qk_reply *r)
{
    qk_store *lake = NULL;
    qk_lake_catalog cat = {0};
    qk_err err = {0};
    json_t *a = json_array();
    int rc = open_lake(s, &lake, &err);
    if (!rc) rc = qk_lake_catalog_scan(lake, &cat, &err);
    for (size_t i = 0; !rc && i < cat.n; i++)
        json_array_append_new(a, qk_lake_table_json(lake, &cat.tables[i], NULL, NULL));
    if (rc) {
        json_decref(a);
        fail(r, &err);
    } else {
        send_json(r, json_pack("{s:o, s:s}", "tables", a, "lake", qk_store_uri(lake)));
    }
    qk_lake_catalog_free(&cat);
    qk_store_destroy(lake);
}

/* Look NAME up; QK_ENOTFOUND names it. */
static int lookup(qk_store *lake, const char *name, qk_lake_table *t, qk_err *err)
{
    char *parts[3];
    int n = qk_lake_name_split(name, parts), rc;
    if (n == 0) return qk_errtf(err, QK_EINVAL, "BadRequest", "bad table name '%.200s'", name);
    rc = qk_lake_catalog_lookup(lake, (const char *const *)parts, (size_t)n, NULL, t, err);
    while (n > 0)
        free(parts[--n]);
    return rc;
}

/* GET /tables/NAME */
static void one_table(qk_server *s, const char *name, qk_reply *r)
{
    qk_store *lake = NULL;
    qk_lake_table t = {0};
    qk_err err = {0}, serr = {0};
    json_t *o = NULL, *cols = NULL, *snap = NULL;
    int rc = open_lake(s, &lake, &err);
    if (!rc) rc = lookup(lake, name, &t, &err);
    if (!rc && t.kind == QK_TABLE_DELTA) {
        rc = qk_lake_delta_json(s->engine, lake, t.path, &snap, &err);
        cols = json_incref(json_object_get(snap, "schema"));
    } else if (!rc && qk_lake_table_schema(s->engine, lake, &t, &cols, &serr)) {
        cols = NULL;
    }
    if (!rc) {
        o = qk_lake_table_json(lake, &t, cols, cols ? NULL : serr.msg);
        if (snap) json_object_set_new(o, "delta", snap);
        snap = NULL;
        send_json(r, o);
    } else {
        fail(r, &err);
    }
    json_decref(snap);
    json_decref(cols);
    qk_lake_table_free(&t);
    qk_store_destroy(lake);
}

/* GET /tables/NAME/history */
static void history(qk_server *s, qk_req_ctx *c, const char *name, qk_reply *r)
{
    qk_store *lake = NULL;
    qk_lake_table t = {0};
    qk_err err = {0};
    json_t *h = NULL;
    int64_t limit = 0;
    const char *l = qk_req_arg(c, "limit");
    int rc = l ? qk_parse_int64(l, 1, 1000000, &limit, "limit", &err) : 0;
    if (rc) qk_strlcpy(err.type, "BadRequest", sizeof err.type);
    if (!rc) rc = open_lake(s, &lake, &err);
    if (!rc) rc = lookup(lake, name, &t, &err);
    if (!rc && t.kind != QK_TABLE_DELTA)
        rc = qk_errtf(&err, QK_EINVAL, "BadRequest",
                      "%s is a %s table: only Delta tables have a history", t.name,
                      qk_table_kind_name(t.kind));
    if (!rc) rc = qk_lake_history_json(lake, t.path, (size_t)limit, &h, &err);
    if (rc)
        fail(r, &err);
    else
        send_json(r, json_pack("{s:s, s:o}", "table", t.name, "history", h));
    qk_lake_table_free(&t);
    qk_store_destroy(lake);
}

/* A lake-relative path: not empty, not absolute, no "." or ".." segment, no scheme. */
static bool lake_relative(const char *p)
{
    const char *seg = p;
    if (!*p || *p == '/' || strstr(p, "://") || strchr(p, '\\')) return false;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return false;
        if (!end) return true;
        seg = end + 1;
    }
}

static int parse_load(json_t *j, qk_table_load_req *req, const char **parts, qk_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(j))
        return qk_errtf(err, QK_EINVAL, "BadRequest", "the body must be a JSON object");
    req->mode = QK_DELTA_CREATE;
    json_object_foreach(j, k, v)
    {
        if (!strcmp(k, "from") || !strcmp(k, "query")) {
            if (!json_is_string(v) || !*json_string_value(v) ||
                strlen(json_string_value(v)) > LOAD_SQL_MAX)
                return qk_errtf(err, QK_EINVAL, "BadRequest", "\"%s\" must be a non-empty string",
                                k);
            if (*k == 'f')
                req->from = json_string_value(v);
            else
                req->query = json_string_value(v);
        } else if (!strcmp(k, "mode")) {
            const char *m = json_string_value(v);
            if (m && !strcmp(m, "create"))
                req->mode = QK_DELTA_CREATE;
            else if (m && !strcmp(m, "append"))
                req->mode = QK_DELTA_APPEND;
            else if (m && !strcmp(m, "overwrite"))
                req->mode = QK_DELTA_OVERWRITE;
            else
                return qk_errtf(err, QK_EINVAL, "BadRequest",
                                "\"mode\" must be \"create\", \"append\" or \"overwrite\"");
        } else if (!strcmp(k, "partition_by")) {
            size_t i;
            json_t *c;
            if (!json_is_array(v) || json_array_size(v) > 32)
                return qk_errtf(err, QK_EINVAL, "BadRequest",
                                "\"partition_by\" must be an array of at most 32 column names");
            json_array_foreach(v, i, c)
            {
                if (!json_is_string(c) || !*json_string_value(c))
                    return qk_errtf(err, QK_EINVAL, "BadRequest",
                                    "\"partition_by\" must hold column names");
                parts[i] = json_string_value(c);
            }
            req->partition_by = parts;
            req->npartition_by = json_array_size(v);
        } else if (!strcmp(k, "app_id")) {
            if (!json_is_string(v) || !*json_string_value(v))
                return qk_errtf(err, QK_EINVAL, "BadRequest", "\"app_id\" must be a string");
            req->app_id = json_string_value(v);
        } else if (!strcmp(k, "txn_version")) {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return qk_errtf(err, QK_EINVAL, "BadRequest",
                                "\"txn_version\" must be an integer >= 0");
            req->txn_version = json_integer_value(v);
        } else {
            return qk_errtf(err, QK_EINVAL, "BadRequest",
                            "unknown field \"%.60s\" (from, query, mode, partition_by, app_id, "
                            "txn_version)",
                            k);
        }
    }
    if (!req->from == !req->query)
        return qk_errtf(err, QK_EINVAL, "BadRequest", "give exactly one of \"from\" and \"query\"");
    if (!req->app_id != !json_object_get(j, "txn_version"))
        return qk_errtf(err, QK_EINVAL, "BadRequest", "\"app_id\" and \"txn_version\" go together");
    if (req->from && !lake_relative(req->from))
        return qk_errtf(err, QK_EINVAL, "BadRequest",
                        "\"from\" must be a path inside the lake (relative, no '..'): %.200s",
                        req->from);
    return 0;
}

/* POST /tables/NAME/load */
static void load(qk_server *s, qk_req_ctx *c, const char *name, qk_reply *r)
{
    qk_table_load_req req = {0};
    qk_table_load_result res;
    const char *parts[32];
    char *from = NULL;
    json_error_t jerr;
    json_t *j = json_loadb(c->body.data ? c->body.data : "", c->body.len, 0, &jerr), *o;
    qk_err err = {0};
    int rc = j ? 0 : qk_errtf(&err, QK_EINVAL, "BadRequest", "malformed JSON: %s", jerr.text);
    if (!rc) rc = parse_load(j, &req, parts, &err);
    if (!rc && req.from && !qk_engine_lake_remote(s->engine) &&
        asprintf(&from, "%s/%s", qk_engine_lake(s->engine), req.from) < 0)
        rc = qk_errf(&err, QK_ENOMEM, "out of memory");
    if (from) req.from = from;
    req.name = name;
    if (!rc && !qk_metrics_enter(&s->metrics, s->cfg.max_concurrency))
        rc = qk_errtf(&err, QK_EBUSY, "TooManyRequests", "all %lld query slots are busy",
                      (long long)s->cfg.max_concurrency);
    else if (!rc) {
        qk_metrics_count_query(&s->metrics);
        rc = qk_table_load(s->engine, &req, &res, &err);
        qk_metrics_leave(&s->metrics);
    }
    if (rc) {
        fail(r, &err);
    } else {
        o = qk_table_load_json(name, &res);
        r->status = res.write.created ? 201 : 200;
        r->rows = res.write.rows;
        send_json(r, o);
    }
    free(from);
    json_decref(j);
}

void qk_handle_tables(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    const char *rest = c->url + strlen("/tables");
    bool post = !strcmp(c->method, "POST");
    char *name = NULL;
    size_t n;
    if (!*rest || !strcmp(rest, "/")) {
        if (post) goto not_allowed;
        list_tables(s, r);
        return;
    }
    rest++;
    n = strlen(rest);
    if (qk_str_endswith(rest, "/load")) {
        if (!post) {
            qk_reply_error(r, 405, "MethodNotAllowed", "use POST to load a table");
            qk_reply_header(r, "Allow", "POST");
            return;
        }
        name = strndup(rest, n - 5);
        load(s, c, name, r);
    } else if (post) {
        goto not_allowed;
    } else if (qk_str_endswith(rest, "/history")) {
        name = strndup(rest, n - 8);
        history(s, c, name, r);
    } else {
        name = strdup(rest);
        one_table(s, name, r);
    }
    free(name);
    return;
not_allowed:
    qk_reply_error(r, 405, "MethodNotAllowed", "use GET here (POST /tables/NAME/load loads)");
    qk_reply_header(r, "Allow", "GET, HEAD");
}

void qk_handle_lineage(qk_server *s, qk_req_ctx *c, qk_reply *r)
{
    qk_store *lake = NULL;
    qk_err err = {0};
    json_t *g = NULL;
    int rc = open_lake(s, &lake, &err);
    if (!rc) rc = qk_lineage_graph(s->engine, lake, qk_req_arg(c, "table"), &g, &err);
    if (rc)
        fail(r, &err);
    else
        send_json(r, g);
    qk_store_destroy(lake);
}
