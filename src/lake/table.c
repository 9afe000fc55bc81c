/* SPDX-License-Identifier: MIT */
/*
 * table.c: table names, tables as JSON, and loading Delta tables (table.h; docs/tables.md).
 */
#include "lake/table.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "core/json.h"
#include "lake/lineage.h"
#include "lake/resolve.h"

/* ---- names -------------------------------------------------------------------------------- */

int qk_lake_name_split(const char *name, char *parts[3])
{
    const char *p = name;
    int n = 0, bad = 0;
    while (!bad) {
        qk_buf b;
        qk_buf_init(&b, QK_STORE_KEY_MAX);
        if (*p == '"') {
            for (p++; *p && !bad; p++) {
                if (*p == '"' && p[1] != '"') break;
                if (*p == '"') p++;
                bad = qk_buf_addc(&b, *p);
            }
            bad = bad || *p++ != '"';
        } else {
            for (; *p && *p != '.' && *p != '"' && !bad; p++)
                bad = qk_buf_addc(&b, *p);
        }
        bad = bad || b.len == 0 || n == 3 || (*p && *p != '.');
        if (bad) {
            qk_buf_free(&b);
            break;
        }
        parts[n++] = qk_buf_detach(&b, NULL);
        if (!*p++) return n;
    }
    while (n > 0)
        free(parts[--n]);
    return 0;
}

static void free_parts(char *parts[3], int n)
{
    while (n > 0)
        free(parts[--n]);
}

/* Can s be a folder name of a new table? */
static bool good_segment(const char *s)
{
    if (!*s || *s == '_' || *s == '.' || strlen(s) > 255) return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == '/' || *s == '\\' || *s == 0x7f) return false;
    return true;
}

int qk_lake_delta_path(qk_store *lake, const char *name, char **path, bool *exists, qk_err *err)
{
    char *parts[3];
    int n = qk_lake_name_split(name, parts), rc;
    qk_lake_table t = {0};
    qk_buf b;
    *path = NULL;
    *exists = false;
    if (n == 0)
        return qk_errf(err, QK_EINVAL,
                       "bad table name '%.200s' (1 to 3 parts separated by '.', "
                       "\"double-quoted\" when needed)",
                       name);
    for (int i = 0; i < n; i++)
        if (!good_segment(parts[i])) {
            rc = qk_errf(err, QK_EINVAL,
                         "bad table name '%.200s': '%.100s' cannot be a folder (no '/', no "
                         "control characters, not starting with '_' or '.')",
                         name, parts[i]);
            free_parts(parts, n);
            return rc;
        }
    rc = qk_lake_catalog_lookup(lake, (const char *const *)parts, (size_t)n, NULL, &t, err);
    if (rc == 0 && t.kind != QK_TABLE_DELTA) {
        rc = qk_errf(err, QK_EEXIST,
                     "%s is a %s %s table, not a Delta table: load into another name (or remove "
                     "it first)",
                     t.name, qk_table_kind_name(t.kind), qk_table_format_name(t.format));
    } else if (rc == 0) {
        *path = qk_xstrdup(t.path);
        *exists = true;
    } else if (rc == QK_ENOTFOUND) {
        qk_err_clear(err);
        qk_buf_init(&b, QK_STORE_KEY_MAX);
        rc = 0;
        for (int i = 0; i < n && !rc; i++)
            rc = qk_buf_printf(&b, "%s%s", i ? "/" : "", parts[i]);
        if (rc)
            rc = qk_errf(err, QK_EINVAL, "table name too long");
        else
            *path = qk_buf_detach(&b, NULL);
        if (rc) qk_buf_free(&b);
    }
    qk_lake_table_free(&t);
    free_parts(parts, n);
    return rc;
}

/* ---- JSON --------------------------------------------------------------------------------- */

static json_t *jstring(const char *s)
{
    json_t *j = s ? json_string(s) : json_null();
    return j ? j : json_string("(not UTF-8)");
}

const char *qk_lake_fmt_time(int64_t ms, bool iso, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    snprintf(out, cap, "-");
    if (ms > 0 && gmtime_r(&t, &tm))
        strftime(out, cap, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
    return out;
}

json_t *qk_lake_table_json(qk_store *lake, const qk_lake_table *t, json_t *columns,
                           const char *schema_error)
{
    json_t *o = json_object(), *pc = json_array();
    char ts[40], *loc = NULL;
    if (!o || !pc) {
        json_decref(o);
        json_decref(pc);
        return NULL;
    }
    if (asprintf(&loc, "%s/%s", qk_store_uri(lake), t->path) < 0) loc = NULL;
    for (size_t i = 0; i < t->npart_cols; i++)
        json_array_append_new(pc, jstring(t->part_cols[i]));
    json_object_set_new(o, "name", jstring(t->name));
    json_object_set_new(o, "kind", json_string(qk_table_kind_name(t->kind)));
    json_object_set_new(o, "format", json_string(qk_table_format_name(t->format)));
    json_object_set_new(o, "path", jstring(t->path));
    json_object_set_new(o, "location", jstring(loc ? loc : ""));
    json_object_set_new(o, "files", json_integer((json_int_t)t->nfiles));
    json_object_set_new(o, "bytes", json_integer((json_int_t)t->bytes));
    json_object_set_new(o, "partitions", json_integer((json_int_t)t->partitions));
    json_object_set_new(o, "partition_columns", pc);
    json_object_set_new(o, "mtime_ms", json_integer(t->mtime_ms));
    json_object_set_new(o, "modified",
                        json_string(qk_lake_fmt_time(t->mtime_ms, true, ts, sizeof ts)));
    if (columns || schema_error) {
        json_object_set(o, "schema", columns ? columns : json_null());
        if (!columns) json_object_set_new(o, "schema_error", jstring(schema_error));
    }
    free(loc);
    return o;
}

static int cmp_tuple(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct partition value tuples of snap's files (each tuple as one string, sorted). */
static size_t count_partitions(const qk_delta_snapshot *snap)
{
    size_t n = 0, np = snap->metadata.npartition_columns;
    char **t;
    if (np == 0 || snap->nfiles == 0) return 0;
    if (!(t = calloc(snap->nfiles, sizeof *t))) return 0;
    for (size_t i = 0; i < snap->nfiles; i++) {
        qk_buf b;
        qk_buf_init(&b, (size_t)1 << 20);
        for (size_t k = 0; k < np; k++) {
            const char *v = snap->files[i].partition_values[k];
            /* \x01 marks NULL, \x02 separates: neither is in a partition value's text */
            if (v ? qk_buf_adds(&b, v) : qk_buf_addc(&b, 1)) break;
            if (qk_buf_addc(&b, 2)) break;
        }
        t[i] = qk_buf_detach(&b, NULL);
    }
    qsort(t, snap->nfiles, sizeof *t, cmp_tuple);
    for (size_t i = 0; i < snap->nfiles; i++)
        n += i == 0 || strcmp(t[i], t[i - 1]) != 0;
    for (size_t i = 0; i < snap->nfiles; i++)
        free(t[i]);
    free(t);
    return n;
}

static json_t *snapshot_json(const qk_delta_snapshot *snap)
{
    const qk_delta_metadata *m = &snap->metadata;
    json_t *o = json_object(), *cols = json_array(), *pc = json_array(), *proto = json_object();
    char ts[40];
    uint64_t bytes = 0;
    int64_t rows = 0;
    if (!o || !cols || !pc || !proto) {
        json_decref(o);
        json_decref(cols);
        json_decref(pc);
        json_decref(proto);
        return NULL;
    }
    for (size_t i = 0; i < snap->nfiles; i++) {
        bytes += (uint64_t)snap->files[i].size;
        if (rows >= 0)
            rows = snap->files[i].num_records < 0 ? -1 : rows + snap->files[i].num_records;
    }
    for (size_t i = 0; i < m->ncolumns; i++)
        json_array_append_new(
            cols, json_pack("{s:o, s:s, s:b, s:b}", "name", jstring(m->columns[i].name), "type",
                            m->columns[i].type, "nullable", m->columns[i].nullable, "partition",
                            m->columns[i].partition >= 0));
    for (size_t i = 0; i < m->npartition_columns; i++)
        json_array_append_new(pc, jstring(m->partition_columns[i]));
    json_object_set_new(proto, "min_reader_version",
                        json_integer(snap->protocol.min_reader_version));
    json_object_set_new(proto, "min_writer_version",
                        json_integer(snap->protocol.min_writer_version));
    json_object_set_new(o, "version", json_integer(snap->version));
    json_object_set_new(o, "timestamp_ms", json_integer(snap->timestamp_ms));
    json_object_set_new(o, "timestamp",
                        json_string(qk_lake_fmt_time(snap->timestamp_ms, true, ts, sizeof ts)));
    json_object_set_new(o, "checkpoint_version",
                        snap->checkpoint_version < 0 ? json_null()
                                                     : json_integer(snap->checkpoint_version));
    json_object_set_new(o, "files", json_integer((json_int_t)snap->nfiles));
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "rows", rows < 0 ? json_null() : json_integer(rows));
    json_object_set_new(o, "partition_columns", pc);
    json_object_set_new(o, "partitions", json_integer((json_int_t)count_partitions(snap)));
    json_object_set_new(o, "schema", cols);
    json_object_set_new(o, "properties", json_deep_copy(m->configuration));
    json_object_set_new(o, "protocol", proto);
    json_object_set_new(o, "id", jstring(m->id));
    if (m->description) json_object_set_new(o, "description", jstring(m->description));
    return o;
}

int qk_lake_delta_json(qk_engine *e, qk_store *lake, const char *table_path, json_t **out,
                       qk_err *err)
{
    qk_delta_snapshot *snap = NULL;
    int rc = qk_delta_snapshot_load(e, lake, table_path, NULL, &snap, err);
    *out = NULL;
    if (!rc && !(*out = snapshot_json(snap))) rc = qk_errf(err, QK_ENOMEM, "out of memory");
    qk_delta_snapshot_destroy(snap);
    return rc;
}

int qk_lake_history_json(qk_store *lake, const char *table_path, size_t limit, json_t **out,
                         qk_err *err)
{
    qk_delta_history *h = NULL;
    json_t *a;
    int rc = qk_delta_history_load(lake, table_path, limit, &h, err);
    *out = NULL;
    if (rc) return rc;
    if (!(a = json_array())) rc = qk_errf(err, QK_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < h->n; i++) {
        const qk_delta_commit *c = &h->commits[i];
        json_t *o = json_object(), *params = NULL;
        char ts[40];
        if (c->parameters) params = json_loads(c->parameters, 0, NULL);
        if (!o) {
            json_decref(params);
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
            break;
        }
        json_object_set_new(o, "version", json_integer(c->version));
        json_object_set_new(o, "timestamp",
                            json_string(qk_lake_fmt_time(c->timestamp_ms, true, ts, sizeof ts)));
        json_object_set_new(o, "timestamp_ms", json_integer(c->timestamp_ms));
        json_object_set_new(o, "operation", jstring(c->operation));
        json_object_set_new(o, "parameters", params ? params : json_null());
        json_object_set_new(o, "engine_info", jstring(c->engine_info));
        json_object_set_new(o, "files_added", json_integer((json_int_t)c->files_added));
        json_object_set_new(o, "files_removed", json_integer((json_int_t)c->files_removed));
        json_object_set_new(o, "rows_added",
                            c->rows_added < 0 ? json_null() : json_integer(c->rows_added));
        json_object_set_new(o, "bytes_added", json_integer((json_int_t)c->bytes_added));
        if (c->txn_app_id)
            json_object_set_new(o, "txn",
                                json_pack("{s:o, s:I}", "app_id", jstring(c->txn_app_id), "version",
                                          (json_int_t)c->txn_version));
        json_array_append_new(a, o);
    }
    qk_delta_history_free(h);
    if (rc)
        json_decref(a);
    else
        *out = a;
    return rc;
}

/* ---- load --------------------------------------------------------------------------------- */

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* A CSV-like file name: .csv, .tsv or .txt, optionally compressed (.gz, .zst). */
static bool csv_name(const char *name)
{
    static const char *const ext[] = {".csv", ".tsv", ".txt"};
    static const char *const comp[] = {"", ".gz", ".zst"};
    char want[16];
    if (*name == '.' || *name == '_') return false;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 3; j++) {
            snprintf(want, sizeof want, "%s%s", ext[i], comp[j]);
            if (qk_str_endswith(name, want)) return true;
        }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append ", 'dir/f1.csv', 'dir/f2.csv'" for a local directory's CSV files (sorted). */
static int list_local_dir(const char *dir, qk_buf *list, size_t *nfiles, qk_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!d) return qk_errf(err, QK_ENOTFOUND, "cannot read the directory %s", dir);
    while (!rc && (de = readdir(d)) != NULL) {
        if (!csv_name(de->d_name)) continue;
        if (n == cap) {
            char **g = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *g);
            if (!g) {
                rc = qk_errf(err, QK_ENOMEM, "out of memory");
                break;
            }
            names = g;
        }
        if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (!rc && n) qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; !rc && i < n; i++)
        if ((*nfiles)++ && qk_buf_adds(list, ", "))
            rc = QK_ETOOBIG;
        else if (qk_sql_add_literal(list, names[i]))
            rc = QK_ETOOBIG;
    if (rc == QK_ETOOBIG) rc = qk_errf(err, rc, "too many files in %s", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* s3:// files of from: a glob as it is, else the CSV files under the prefix. */
static int list_s3(const char *from, qk_buf *list, size_t *nfiles, qk_err *err)
{
    qk_obj_list objs = {0};
    char *glob = NULL;
    int rc;
    if (has_glob(from)) {
        rc = qk_lake_list_uri(from, &objs, err);
    } else {
        size_t n = strlen(from);
        while (n > 5 && from[n - 1] == '/')
            n--;
        if (asprintf(&glob, "%.*s/**", (int)n, from) < 0)
            return qk_errf(err, QK_ENOMEM, "out of memory");
        rc = qk_lake_list_uri(glob, &objs, err);
        if (rc == QK_ENOTFOUND) { /* a single object */
            qk_err_clear(err);
            rc = qk_lake_list_uri(from, &objs, err);
        }
    }
    for (size_t i = 0; !rc && i < objs.n; i++) {
        const char *base = strrchr(objs.v[i].key, '/');
        if (!has_glob(from) && !csv_name(base ? base + 1 : objs.v[i].key) && objs.n > 1) continue;
        if (((*nfiles)++ && qk_buf_adds(list, ", ")) || qk_sql_add_literal(list, objs.v[i].key))
            rc = qk_errf(err, QK_ETOOBIG, "too many files in %s", from);
    }
    free(glob);
    qk_obj_list_free(&objs);
    return rc;
}

/* The SELECT over from's CSV files. *parent: the lake table from names, when it is one. */
static int csv_source(qk_engine *e, qk_store *lake, const qk_table_load_req *req, qk_buf *sql,
                      size_t *nfiles, json_t **parent, qk_err *err)
{
    const char *from = req->from;
    char *abs = NULL, *inlake = NULL;
    qk_buf list;
    int rc = 0;
    qk_buf_init(&list, (size_t)64 << 20);
    *parent = NULL;
    if (qk_str_startswith(from, "s3://")) {
        rc = list_s3(from, &list, nfiles, err);
    } else if (qk_engine_lake_remote(e) && *from != '/' && !is_dir(from) && !has_glob(from)) {
        /* a path of the remote lake */
        if (asprintf(&inlake, "%s/%s", qk_engine_lake(e), from) < 0)
            return qk_errf(err, QK_ENOMEM, "out of memory");
        rc = list_s3(inlake, &list, nfiles, err);
    } else {
        rc = qk_path_abs(from, &abs, err);
        if (!rc && !is_dir(abs) && !has_glob(abs) && *from != '/' && !qk_engine_lake_remote(e)) {
            /* not here: a path inside the lake? */
            char *p = NULL;
            if (asprintf(&p, "%s/%s", qk_engine_lake(e), from) < 0) {
                rc = qk_errf(err, QK_ENOMEM, "out of memory");
            } else {
                struct stat st;
                if (stat(abs, &st) != 0 && stat(p, &st) == 0) {
                    free(abs);
                    abs = p;
                    p = NULL;
                }
                free(p);
            }
        }
        if (rc) {
        } else if (is_dir(abs)) {
            rc = list_local_dir(abs, &list, nfiles, err);
        } else {
            struct stat st;
            if (!has_glob(abs) && stat(abs, &st) != 0)
                rc = qk_errf(err, QK_ENOTFOUND, "no such file or directory: %s", from);
            else if (qk_sql_add_literal(&list, abs))
                rc = qk_errf(err, QK_ETOOBIG, "path too long");
            else
                *nfiles = 1;
        }
    }
    if (!rc && *nfiles == 0 && list.len == 0)
        rc = qk_errf(err, QK_EINVAL, "no CSV files (.csv, .tsv, .txt, optionally .gz/.zst) in %s",
                     from);
    if (!rc &&
        (qk_buf_adds(sql, "SELECT * FROM read_csv([") || qk_buf_add(sql, list.data, list.len) ||
         qk_buf_adds(sql, "], union_by_name = true") ||
         (req->csv_options && (qk_buf_adds(sql, ", ") || qk_buf_adds(sql, req->csv_options))) ||
         qk_buf_addc(sql, ')')))
        rc = qk_errf(err, QK_ETOOBIG, "source query too long");
    /* the lake table the files belong to, for the lineage */
    if (!rc && abs && !qk_engine_lake_remote(e)) {
        size_t n = strlen(qk_engine_lake(e));
        if (!strncmp(abs, qk_engine_lake(e), n) && abs[n] == '/') from = abs + n + 1;
    }
    if (!rc && qk_engine_lake_remote(e) && qk_str_startswith(from, "s3://")) {
        size_t n = strlen(qk_engine_lake(e));
        if (!strncmp(from, qk_engine_lake(e), n) && from[n] == '/') from += n + 1;
    }
    if (!rc && !qk_str_startswith(from, "s3://") && *from != '/' && !has_glob(from)) {
        char *parts[3] = {0};
        qk_lake_table t = {0};
        qk_err ignore = {0};
        char *name = qk_xstrdup(from);
        size_t n = strlen(name);
        int np;
        while (n && name[n - 1] == '/')
            name[--n] = '\0';
        for (char *c = name; *c; c++)
            if (*c == '/') *c = '.';
        np = qk_lake_name_split(name, parts);
        if (np && !qk_lake_catalog_lookup(lake, (const char *const *)parts, (size_t)np, NULL, &t,
                                          &ignore))
            *parent = json_pack("{s:s, s:s, s:s}", "name", t.name, "path", t.path, "kind",
                                qk_table_kind_name(t.kind));
        qk_lake_table_free(&t);
        free_parts(parts, np);
        free(name);
    }
    free(abs);
    free(inlake);
    qk_buf_free(&list);
    return rc;
}

json_t *qk_table_load_json(const char *name, const qk_table_load_result *r)
{
    const qk_delta_write_result *w = &r->write;
    json_t *o = json_pack("{s:s, s:s, s:I, s:b, s:b, s:I, s:I, s:I, s:I, s:i, s:b}", "table", name,
                          "path", r->path, "version", (json_int_t)w->version, "created", w->created,
                          "skipped", w->skipped, "rows", (json_int_t)w->rows, "files_added",
                          (json_int_t)w->files_added, "files_removed", (json_int_t)w->files_removed,
                          "bytes", (json_int_t)w->bytes, "attempts", w->attempts, "checkpointed",
                          w->checkpointed);
    if (o && w->warning[0]) json_object_set_new(o, "warning", jstring(w->warning));
    if (o && r->lineage_failed) json_object_set_new(o, "lineage_error", jstring(r->lineage_error));
    return o;
}

static const char *mode_name(int mode)
{
    return mode == QK_DELTA_CREATE ? "create" : mode == QK_DELTA_APPEND ? "append" : "overwrite";
}

int qk_table_load(qk_engine *e, const qk_table_load_req *req, qk_table_load_result *out,
                  qk_err *err)
{
    qk_store *lake = NULL;
    qk_lake_ctx ctx;
    qk_buf src;
    char *path = NULL, *caret = NULL, *resolved = NULL, *loc = NULL;
    json_t *parent = NULL, *parents = NULL;
    bool exists = false;
    int rc;
    memset(out, 0, sizeof *out);
    qk_lake_ctx_init(&ctx, e);
    qk_buf_init(&src, (size_t)256 << 20);
    if (!req->from == !req->query)
        return qk_errf(err, QK_EINVAL, "give the rows to load: CSV files (from) or a query");
    if ((rc = qk_store_open(qk_engine_lake(e), &lake, err))) goto out;
    if ((rc = qk_lake_delta_path(lake, req->name, &path, &exists, err))) goto out;
    qk_strlcpy(out->path, path, sizeof out->path);
    if (req->from) {
        rc = csv_source(e, lake, req, &src, &out->source_files, &parent, err);
    } else if ((rc = qk_lake_caret_rewrite(req->query, &caret, err)) == 0 &&
               qk_buf_adds(&src, caret ? caret : req->query)) {
        rc = qk_errf(err, QK_ETOOBIG, "query too long");
    }
    if (rc) goto out;
    ctx.names = true;
    if ((rc = qk_lake_resolve(&ctx, qk_buf_cstr(&src), &resolved, err))) goto out;
    {
        qk_delta_write_opts o = {0};
        json_t *params = json_pack("{s:s}", "mode", mode_name(req->mode));
        o.mode = req->mode;
        o.partition_by = req->partition_by;
        o.npartition_by = req->npartition_by;
        o.app_id = req->app_id;
        o.txn_version = req->txn_version;
        o.progress = req->progress;
        o.progress_ud = req->progress_ud;
        o.operation_parameters = params;
        if (req->npartition_by && params) {
            json_t *pb = json_array();
            for (size_t i = 0; i < req->npartition_by; i++)
                json_array_append_new(pb, jstring(req->partition_by[i]));
            json_object_set_new(params, "partitionBy", pb);
        }
        rc = qk_delta_write(e, lake, path, resolved, &o, &out->write, err);
        json_decref(params);
    }
    if (rc || out->write.skipped) goto out;
    /* lineage: a failure is reported, the load stands */
    parents = parent ? json_pack("[O]", parent) : qk_lineage_parents(ctx.bound);
    if (asprintf(&loc, "%s/%s", qk_store_uri(lake), path) < 0) loc = NULL;
    {
        qk_lineage_rec r = {.kind = "delta", .operation = mode_name(req->mode)};
        qk_err lerr = {0};
        char *name = NULL;
        if (asprintf(&name, "%s", path) >= 0)
            for (char *c = name; *c; c++)
                if (*c == '/') *c = '.';
        r.table = name ? name : path;
        r.parents = parents;
        r.query = req->query ? req->query : qk_buf_cstr(&src);
        r.location = loc ? loc : path;
        r.version = out->write.version;
        if (qk_lineage_record(e, lake, &r, &lerr)) {
            out->lineage_failed = true;
            qk_strlcpy(out->lineage_error, lerr.msg, sizeof out->lineage_error);
        }
        free(name);
    }
out:
    json_decref(parent);
    json_decref(parents);
    free(loc);
    free(resolved);
    free(caret);
    free(path);
    qk_buf_free(&src);
    qk_lake_ctx_free(&ctx);
    qk_store_destroy(lake);
    return rc;
}
