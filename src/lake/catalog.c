/* SPDX-License-Identifier: MIT */
/*
 * catalog.c: named tables of a lake (catalog.h has the rules; docs/tables.md the user's view).
 *
 * Everything works on a sorted array of listed objects (keys relative to the lake root): keys
 * with a common prefix are contiguous in byte order, so a folder is a range of the array and
 * classifying it is one pass over that range.
 */
#include "lake/catalog.h"
#include "lake/lake_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef qk_obj_entry entry;
typedef qk_obj_list entries;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* Objects under prefix without folder markers, sorted (the local backend lists in S3's byte
 * order already; be sure). */
static int collect(qk_store *lake, const char *prefix, entries *es, qk_err *err)
{
    size_t w = 0;
    int rc = qk_store_list_collect(lake, prefix, es, err);
    if (rc) return rc;
    for (size_t i = 0; i < es->n; i++) {
        if (qk_str_endswith(es->v[i].key, "/"))
            free(es->v[i].key);
        else
            es->v[w++] = es->v[i];
    }
    es->n = w;
    if (es->n) qsort(es->v, es->n, sizeof *es->v, entry_cmp);
    return 0;
}

/* ---- names and formats --------------------------------------------------------------------- */

static bool hidden_seg(const char *s)
{
    return s[0] == '_' || s[0] == '.';
}

/* Any hidden segment in the '/'-separated path s? */
static bool has_hidden_seg(const char *s)
{
    for (const char *p = s; p; p = strchr(p, '/')) {
        if (*p == '/') p++;
        if (hidden_seg(p)) return true;
    }
    return false;
}

/* The format of a data file by its name, and where its extension starts (".csv.gz"); -1 when
 * it is not a data file. */
static int data_format(const char *name, const char **ext)
{
    static const struct {
        const char *ext;
        qk_table_format f;
    } exts[] = {{".parquet", QK_FORMAT_PARQUET}, {".parq", QK_FORMAT_PARQUET},
                {".csv", QK_FORMAT_CSV},         {".tsv", QK_FORMAT_CSV},
                {".json", QK_FORMAT_JSON},       {".jsonl", QK_FORMAT_JSON},
                {".ndjson", QK_FORMAT_JSON}};
    const char *base = strrchr(name, '/');
    size_t n;
    base = base ? base + 1 : name;
    n = strlen(base);
    if (n > 3 && !strcmp(base + n - 3, ".gz"))
        n -= 3;
    else if (n > 4 && !strcmp(base + n - 4, ".zst"))
        n -= 4;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t el = strlen(exts[i].ext);
        if (n > el && !strncasecmp(base + n - el, exts[i].ext, el)) {
            if (exts[i].f == QK_FORMAT_PARQUET && n != strlen(base)) return -1; /* x.parquet.gz */
            if (ext) *ext = base + n - el;
            return (int)exts[i].f;
        }
    }
    return -1;
}

const char *qk_table_format_name(qk_table_format f)
{
    static const char *const n[] = {"parquet", "csv", "json", "delta", "mixed"};
    return (unsigned)f < sizeof n / sizeof *n ? n[f] : "?";
}

const char *qk_table_kind_name(qk_table_kind k)
{
    static const char *const n[] = {"file", "folder", "hive", "delta"};
    return (unsigned)k < sizeof n / sizeof *n ? n[k] : "?";
}

static bool plain_ident(const char *s, size_t n)
{
    if (n == 0 || !(islower((unsigned char)s[0]) || s[0] == '_')) return false;
    for (size_t i = 1; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return false;
    return true;
}

/* Display name of a lake-relative path (extension already dropped): "silver.trips",
 * "\"My Data\".trips". */
static char *display_name(const char *path)
{
    qk_buf b;
    const char *p = path;
    qk_buf_init(&b, 1 << 14);
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (p != path) qk_buf_addc(&b, '.');
        if (plain_ident(p, n)) {
            qk_buf_add(&b, p, n);
        } else {
            qk_buf_addc(&b, '"');
            for (size_t i = 0; i < n; i++) {
                if (p[i] == '"') qk_buf_addc(&b, '"');
                qk_buf_addc(&b, p[i]);
            }
            qk_buf_addc(&b, '"');
        }
        p += n;
        if (*p == '/') p++;
    }
    return qk_buf_detach(&b, NULL);
}

/* ---- classifying ---------------------------------------------------------------------------- */

void qk_lake_table_free(qk_lake_table *t)
{
    if (!t) return;
    free(t->name);
    free(t->path);
    free(t->pattern);
    if (t->files)
        for (uint64_t i = 0; i < t->nfiles; i++)
            free(t->files[i]);
    free(t->files);
    for (size_t i = 0; i < t->npart_cols; i++)
        free(t->part_cols[i]);
    qk_obj_list_free(&t->objects);
    memset(t, 0, sizeof *t);
}

static void table_dup(qk_lake_table *dst, const qk_lake_table *src)
{
    *dst = *src;
    memset(&dst->objects, 0, sizeof dst->objects); /* listings are not copied */
    dst->name = qk_xstrdup(src->name);
    dst->path = qk_xstrdup(src->path);
    dst->pattern = src->pattern ? qk_xstrdup(src->pattern) : NULL;
    if (src->files) {
        dst->files = calloc(src->nfiles ? src->nfiles : 1, sizeof *dst->files);
        if (!dst->files) abort();
        for (uint64_t i = 0; i < src->nfiles; i++)
            dst->files[i] = qk_xstrdup(src->files[i]);
    }
    for (size_t i = 0; i < src->npart_cols; i++)
        dst->part_cols[i] = qk_xstrdup(src->part_cols[i]);
}

static void file_table(const entry *e, qk_lake_table *t)
{
    const char *ext = NULL;
    char *stem;
    memset(t, 0, sizeof *t);
    t->format = (qk_table_format)data_format(e->key, &ext);
    t->kind = QK_TABLE_FILE;
    stem = strndup(e->key, (size_t)(ext - e->key));
    if (!stem) abort();
    t->name = display_name(stem);
    free(stem);
    t->path = qk_xstrdup(e->key);
    t->pattern = qk_xstrdup(e->key);
    t->nfiles = 1;
    t->bytes = e->size;
    t->mtime_ms = e->mtime_ms;
}

/* Is entry key (relative to the folder: rest) one of the table's data files? */
static bool is_data_file(const char *rest)
{
    return strncmp(rest, "_delta_log/", 11) != 0 && !has_hidden_seg(rest) &&
           data_format(rest, NULL) >= 0;
}

/* Check the key=value folders of rest (depth d) against the first file's keys in t. */
static bool hive_dirs_ok(const char *rest, int d, qk_lake_table *t, bool first)
{
    const char *p = rest;
    for (int i = 0; i < d; i++) {
        const char *slash = strchr(p, '/'), *eq = memchr(p, '=', (size_t)(slash - p));
        if (!eq || eq == p || i >= QK_TABLE_MAX_PARTS) return false;
        if (first) {
            t->part_cols[i] = strndup(p, (size_t)(eq - p));
            if (!t->part_cols[i]) abort();
            t->npart_cols = (size_t)i + 1;
        } else if (strlen(t->part_cols[i]) != (size_t)(eq - p) ||
                   strncmp(t->part_cols[i], p, (size_t)(eq - p)) != 0) {
            return false;
        }
        p = slash + 1;
    }
    return true;
}

static int depth_of(const char *rest)
{
    int d = 0;
    for (const char *p = rest; (p = strchr(p, '/')) != NULL; p++)
        d++;
    return d;
}

/* Pattern for the table's files, or the explicit file list when no glob matches exactly them. */
static void set_pattern(qk_lake_table *t, const entry *e, size_t n, size_t plen, const char *ext,
                        bool same_ext, int depth)
{
    qk_buf b;
    bool exact = same_ext;
    qk_buf_init(&b, QK_STORE_KEY_MAX * 2);
    qk_buf_adds(&b, t->path);
    qk_buf_addc(&b, '/');
    for (int i = 0; i < depth; i++)
        qk_buf_adds(&b, "*=*/");
    qk_buf_addc(&b, '*');
    qk_buf_adds(&b, ext ? ext : "");
    for (size_t i = 0; exact && i < n; i++) {
        const char *rest = e[i].key + plen;
        if (!strncmp(rest, "_delta_log/", 11)) continue;
        if (qk_lake_glob_match(qk_buf_cstr(&b), e[i].key) != is_data_file(rest)) exact = false;
    }
    if (strpbrk(t->path, "*?[")) exact = false; /* a folder name DuckDB would read as a glob */
    if (exact) {
        t->pattern = qk_buf_detach(&b, NULL);
        return;
    }
    qk_buf_free(&b);
    t->files = calloc(t->nfiles ? t->nfiles : 1, sizeof *t->files);
    if (!t->files) abort();
    for (size_t i = 0, w = 0; i < n; i++)
        if (is_data_file(e[i].key + plen)) t->files[w++] = qk_xstrdup(e[i].key);
    t->pattern = qk_xstrdup(t->path);
}

/*
 * Classify the folder `path` whose objects are e[0..n) (keys = path + "/" + rest, plen =
 * strlen(path) + 1). Returns true and fills *t when the folder is a table.
 */
static bool classify(const entry *e, size_t n, const char *path, size_t plen, qk_lake_table *t)
{
    bool delta = false, same_depth = true, hive = true, same_ext = true;
    int depth = -1, fmt = -1;
    const char *ext = NULL, *prev_dir = NULL;
    size_t prev_dir_len = 0;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const char *rest = e[i].key + plen, *x = NULL, *slash;
        int f, d;
        if (!strncmp(rest, "_delta_log/", 11)) {
            delta = true;
            continue;
        }
        if (!is_data_file(rest)) continue;
        f = data_format(rest, &x);
        d = depth_of(rest);
        if (t->nfiles == 0) {
            depth = d;
            fmt = f;
            ext = x;
        } else {
            if (d != depth) same_depth = false;
            if (f != fmt) fmt = QK_FORMAT_MIXED;
            if (strcmp(x, ext) != 0) same_ext = false;
        }
        if (d > 0 && hive && !hive_dirs_ok(rest, d, t, t->nfiles == 0)) hive = false;
        slash = strrchr(rest, '/');
        if (slash && (!prev_dir || prev_dir_len != (size_t)(slash - rest) ||
                      strncmp(prev_dir, rest, prev_dir_len) != 0)) {
            t->partitions++;
            prev_dir = rest;
            prev_dir_len = (size_t)(slash - rest);
        }
        t->nfiles++;
        t->bytes += e[i].size;
        if (e[i].mtime_ms > t->mtime_ms) t->mtime_ms = e[i].mtime_ms;
    }
    if (delta) {
        t->kind = QK_TABLE_DELTA;
        t->format = QK_FORMAT_DELTA;
    } else if (t->nfiles == 0 || !same_depth || (depth > 0 && !hive)) {
        for (size_t i = 0; i < t->npart_cols; i++)
            free(t->part_cols[i]);
        memset(t, 0, sizeof *t);
        return false;
    } else {
        t->kind = depth == 0 ? QK_TABLE_FOLDER : QK_TABLE_HIVE;
        t->format = (qk_table_format)fmt;
    }
    if (t->kind != QK_TABLE_HIVE) {
        for (size_t i = 0; i < t->npart_cols; i++)
            free(t->part_cols[i]);
        t->npart_cols = 0;
        t->partitions = 0;
    }
    t->path = qk_xstrdup(path);
    t->name = display_name(path);
    if (t->kind == QK_TABLE_DELTA)
        t->pattern = qk_xstrdup(path);
    else
        set_pattern(t, e, n, plen, ext, same_ext, depth);
    return true;
}

/* ---- scan ----------------------------------------------------------------------------------- */

typedef struct tables {
    qk_lake_table *t;
    size_t n, cap;
} tables;

static qk_lake_table *push(tables *ts)
{
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 16;
        qk_lake_table *nt = realloc(ts->t, cap * sizeof *nt);
        if (!nt) abort();
        ts->t = nt;
        ts->cap = cap;
    }
    return &ts->t[ts->n++];
}

/* End of the range of e[i..n) whose keys start with the first plen + seglen + 1 bytes of e[i]. */
static size_t group_end(const entry *e, size_t i, size_t n, size_t len)
{
    size_t j = i + 1;
    while (j < n && strncmp(e[j].key, e[i].key, len) == 0)
        j++;
    return j;
}

static void scan_folder(const entry *e, size_t n, const char *path, size_t plen, tables *out,
                        int level)
{
    qk_lake_table t;
    if (plen > 0 && classify(e, n, path, plen, &t)) {
        if (t.kind == QK_TABLE_FOLDER && t.nfiles == 1) {
            for (size_t i = 0; i < n; i++)
                if (is_data_file(e[i].key + plen)) {
                    qk_lake_table_free(&t);
                    file_table(&e[i], push(out));
                    return;
                }
        }
        *push(out) = t;
        return;
    }
    if (level > 64) return;
    for (size_t i = 0; i < n;) {
        const char *rest = e[i].key + plen, *slash = strchr(rest, '/');
        size_t j;
        if (!slash) {
            if (!hidden_seg(rest) && data_format(rest, NULL) >= 0) file_table(&e[i], push(out));
            i++;
            continue;
        }
        j = group_end(e, i, n, plen + (size_t)(slash - rest) + 1);
        if (!hidden_seg(rest)) {
            char *sub = strndup(e[i].key, plen + (size_t)(slash - rest));
            if (!sub) abort();
            scan_folder(e + i, j - i, sub, strlen(sub) + 1, out, level + 1);
            free(sub);
        }
        i = j;
    }
}

static int table_cmp(const void *a, const void *b)
{
    const qk_lake_table *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int qk_lake_catalog_scan(qk_store *lake, qk_lake_catalog *out, qk_err *err)
{
    entries es = {0};
    tables ts = {0};
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = collect(lake, "", &es, err))) {
        qk_obj_list_free(&es);
        return rc;
    }
    scan_folder(es.v, es.n, "", 0, &ts, 0);
    qk_obj_list_free(&es);
    if (ts.n) qsort(ts.t, ts.n, sizeof *ts.t, table_cmp);
    out->tables = ts.t;
    out->n = ts.n;
    out->scanned = true;
    return 0;
}

void qk_lake_catalog_free(qk_lake_catalog *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        qk_lake_table_free(&c->tables[i]);
    free(c->tables);
    memset(c, 0, sizeof *c);
}

/* ---- lookup --------------------------------------------------------------------------------- */

/* Add a listed object to the table's objects. */
static int keep_object(qk_lake_table *t, const entry *e, qk_err *err)
{
    qk_obj_info o = {.key = e->key, .size = e->size, .mtime_ms = e->mtime_ms};
    qk_strlcpy(o.etag, e->etag, sizeof o.etag);
    return qk_obj_list_add(&t->objects, &o, err);
}

/* The table at exactly path P (a data file P.<ext> or a folder P/). */
static int lookup_path(qk_store *lake, const char *p, qk_lake_table *out, qk_err *err)
{
    entries es = {0};
    size_t pl = strlen(p), nfile = 0, fi = 0, f0 = 0, f1 = 0;
    bool have_folder = false, folder_table = false;
    qk_lake_table ft;
    int rc;
    if ((rc = collect(lake, p, &es, err))) goto out;
    for (size_t i = 0; i < es.n; i++) {
        const char *k = es.v[i].key, *ext = NULL;
        if (k[pl] == '/') {
            if (!have_folder) f0 = i;
            have_folder = true;
            f1 = i + 1;
        } else if (k[pl] == '.' && !strchr(k + pl, '/') && data_format(k, &ext) >= 0 &&
                   ext == k + pl) {
            nfile++;
            fi = i;
        }
    }
    if (have_folder) folder_table = classify(es.v + f0, f1 - f0, p, pl + 1, &ft);
    if (nfile + folder_table > 1) {
        rc = qk_errf(err, QK_EINVAL, "ambiguous table name %s: %s%s", p,
                     folder_table ? "a folder and " : "", "data files with several extensions");
        if (folder_table) qk_lake_table_free(&ft);
    } else if (folder_table) {
        *out = ft;
        for (size_t i = f0; !rc && i < f1; i++)
            if (is_data_file(es.v[i].key + pl + 1)) rc = keep_object(out, &es.v[i], err);
        if (rc) qk_lake_table_free(out);
    } else if (nfile) {
        file_table(&es.v[fi], out);
        if ((rc = keep_object(out, &es.v[fi], err))) qk_lake_table_free(out);
    } else if (have_folder) {
        rc = qk_errf(err, QK_ENOTFOUND,
                     "%s is a folder but not a table (its data files are not "
                     "one format in one folder or in key=value partition folders)",
                     p);
    } else {
        rc = qk_errf(err, QK_ENOTFOUND, "no table %s", p);
    }
out:
    qk_obj_list_free(&es);
    return rc;
}

/* Lake-relative path of a table without its extension (file tables). */
static char *stem_path(const qk_lake_table *t)
{
    const char *ext = NULL;
    if (t->kind != QK_TABLE_FILE) return qk_xstrdup(t->path);
    data_format(t->path, &ext);
    return strndup(t->path, (size_t)(ext - t->path));
}

static int lookup_scan(qk_store *lake, const char *p, bool single, qk_lake_catalog *cache,
                       qk_lake_table *out, const char *display, qk_err *err)
{
    qk_lake_catalog own = {0}, *cp = cache ? cache : &own, c;
    size_t hit = 0, nhit = 0;
    qk_buf names;
    int rc = cp->scanned ? 0 : qk_lake_catalog_scan(lake, cp, err);
    if (rc) return rc;
    c = *cp;
    qk_buf_init(&names, 4096);
    for (size_t i = 0; i < c.n; i++) {
        char *sp = stem_path(&c.tables[i]);
        const char *last = strrchr(sp, '/');
        bool m = !strcasecmp(sp, p) || (single && last && !strcasecmp(last + 1, p));
        free(sp);
        if (!m) continue;
        if (nhit++) qk_buf_adds(&names, ", ");
        qk_buf_adds(&names, c.tables[i].name);
        hit = i;
    }
    if (nhit == 1)
        table_dup(out, &c.tables[hit]);
    else if (nhit > 1)
        rc = qk_errf(err, QK_EINVAL, "ambiguous table name %s: it could be %s", display,
                     qk_buf_cstr(&names));
    else
        rc = QK_ENOTFOUND; /* err keeps what the exact path said */
    qk_buf_free(&names);
    qk_lake_catalog_free(&own);
    return rc;
}

int qk_lake_catalog_lookup(qk_store *lake, const char *const *parts, size_t n,
                           qk_lake_catalog *scan, qk_lake_table *out, qk_err *err)
{
    qk_buf p, disp;
    qk_err first;
    char *lower;
    int rc;
    memset(out, 0, sizeof *out);
    if (n == 0 || n > 3) return qk_errf(err, QK_EINVAL, "a table name has 1 to 3 parts");
    qk_buf_init(&p, QK_STORE_KEY_MAX + 1);
    qk_buf_init(&disp, 4 * QK_STORE_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        if (!*parts[i] || hidden_seg(parts[i]) || strchr(parts[i], '/') ||
            !strcmp(parts[i], "..")) {
            rc = qk_errf(err, QK_ENOTFOUND, "no table %s", parts[i]);
            goto out;
        }
        if (i) qk_buf_addc(&p, '/'), qk_buf_addc(&disp, '.');
        qk_buf_adds(&p, parts[i]);
        qk_buf_adds(&disp, parts[i]);
    }
    if (qk_buf_cstr(&p)[0] == 0 || p.len > QK_STORE_KEY_MAX - 16) {
        rc = qk_errf(err, QK_ENOTFOUND, "no table %.200s", qk_buf_cstr(&disp));
        goto out;
    }
    rc = lookup_path(lake, qk_buf_cstr(&p), out, err);
    if (rc != QK_ENOTFOUND) goto out;
    first = *err;
    lower = qk_xstrdup(qk_buf_cstr(&p));
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (strcmp(lower, qk_buf_cstr(&p)) != 0) rc = lookup_path(lake, lower, out, err);
    free(lower);
    if (rc != QK_ENOTFOUND) goto out;
    rc = lookup_scan(lake, qk_buf_cstr(&p), n == 1, scan, out, qk_buf_cstr(&disp), err);
    if (rc == QK_ENOTFOUND) *err = first;
out:
    qk_buf_free(&p);
    qk_buf_free(&disp);
    return rc;
}

/* ---- SQL --------------------------------------------------------------------------------------
 */

static int add_path(qk_buf *out, const char *root, const char *rel)
{
    qk_buf b;
    int rc;
    qk_buf_init(&b, 2 * QK_STORE_KEY_MAX + 4096);
    rc = qk_buf_printf(&b, "%s/%s", root, rel);
    if (!rc) rc = qk_sql_add_literal(out, qk_buf_cstr(&b));
    qk_buf_free(&b);
    return rc;
}

int qk_lake_table_sql(const qk_lake_table *t, const char *root, qk_buf *out, qk_err *err)
{
    static const char *const fn[] = {"read_parquet", "read_csv", "read_json"};
    bool multi = t->kind != QK_TABLE_FILE;
    int rc;
    if (t->format == QK_FORMAT_DELTA)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "%s is a Delta table; reading Delta tables is not supported yet", t->name);
    if (t->format == QK_FORMAT_MIXED)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "table %s mixes data formats (Parquet, CSV, JSON) in one folder; query "
                        "its files with read_parquet/read_csv/read_json instead",
                        t->name);
    rc = qk_buf_printf(out, "%s(", fn[t->format]);
    if (t->files) {
        rc = rc ? rc : qk_buf_addc(out, '[');
        for (uint64_t i = 0; i < t->nfiles && !rc; i++) {
            if (i) rc = qk_buf_addc(out, ',');
            if (!rc) rc = add_path(out, root, t->files[i]);
        }
        rc = rc ? rc : qk_buf_addc(out, ']');
    } else if (!rc) {
        rc = add_path(out, root, t->pattern);
    }
    if (!rc)
        rc = qk_buf_printf(out, ", hive_partitioning = %s",
                           t->kind == QK_TABLE_HIVE ? "true" : "false");
    if (!rc && multi && t->format != QK_FORMAT_PARQUET)
        rc = qk_buf_adds(out, ", union_by_name = true");
    if (!rc) rc = qk_buf_addc(out, ')');
    return rc ? qk_errf(err, rc, "table %s: query text too long", t->name) : 0;
}
