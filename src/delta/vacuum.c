/* SPDX-License-Identifier: MIT */
/*
 * vacuum.c: deleting the data files of a Delta table that no readable version needs.
 *
 * 1. Read the log: every JSON commit (%020d.json, listed once, fetched one after another) for
 *    its time (commitInfo.inCommitTimestamp, else .timestamp, else the file's mtime: the rule
 *    of history.c) and its add/remove paths (decoded like replay.c: a URI, %XX decoded once,
 *    relative to the table; an absolute URI counts only when it points under the table).
 * 2. keep_version: the newest commit whose time is <= the cutoff (now - retain), else the
 *    oldest commit file (then every version stays readable). The kept files are those active
 *    in the snapshots at keep_version and at the latest version, every add of a later commit,
 *    and every absolute-URI add (never deleted).
 * 3. List the table. Candidates are its objects except _delta_log/, keys with a segment
 *    starting with '_' or '.' (Delta's hidden files: _change_data/, .crc, temp files), folder
 *    markers, and anything under a nested table (a folder with its own _delta_log/). A
 *    candidate not kept whose mtime is before the cutoff is listed; `tracked` says whether the
 *    log names it (removed before the window) or not (a writer's abandoned file).
 * 4. Unless dry_run, delete them QK_STORE_DELETE_MANY_MAX at a time. Nothing is deleted when an
 *    earlier step fails. The mtime test protects a writer whose files are uploaded but not yet
 *    committed, as long as retain exceeds its longest write.
 */
#include "delta/delta_int.h"

#include <stdlib.h>
#include <string.h>

#define VERSION_DIGITS 20

typedef struct vcommit {
    int64_t version;
    const char *key;
    int64_t mtime_ms, ts;
} vcommit;

/* An add or remove path of the log, relative to the table. */
typedef struct vpath {
    const char *rel;
    int64_t version;
    bool add, absolute;
} vpath;

/* A growable array of strings (arena-owned), sorted before lookups. */
typedef struct strset {
    const char **v;
    size_t n, cap;
} strset;

typedef struct vac {
    qk_store *s;
    qk_arena arena;                   /* the log's keys and paths */
    char table[QK_STORE_KEY_MAX + 2]; /* "<table>/", "" for the store root */
    char logp[QK_STORE_KEY_MAX + 16]; /* "<table>/_delta_log/" */
    const char *root;                 /* qk_store_uri */
    vcommit *commits;                 /* ascending versions */
    size_t ncommits, capc;
    vpath *paths;
    size_t npaths, cappaths;
    strset keep, tracked, nested; /* nested: roots of tables inside this one ("sub/") */
} vac;

/* ---- small helpers -------------------------------------------------------------------------- */

static int set_add(strset *s, const char *str, qk_err *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        const char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory (vacuum)");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void set_sort(strset *s)
{
    if (s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_str);
}

static bool set_has(const strset *s, const char *str)
{
    return s->n && bsearch(&str, s->v, s->n, sizeof *s->v, cmp_str);
}

static void set_free(strset *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- paths (the reader's rules, replay.c) ---------------------------------------------------- */

/* What follows root + "/" in p, or NULL when p is not under root. */
static const char *under(const char *root, const char *p)
{
    size_t n = strlen(root);
    while (n && root[n - 1] == '/')
        n--;
    return strncmp(p, root, n) || p[n] != '/' ? NULL : p + n + 1;
}

/* A decoded absolute path as a key relative to the table; NULL when it points elsewhere. */
static const char *map_absolute(const vac *v, const char *path)
{
    const char *key = NULL, *sep = strstr(path, "://");
    if (qk_str_startswith(path, "file://"))
        key = under(v->root, path + strlen("file://"));
    else if (qk_str_startswith(path, "file:"))
        key = under(v->root, path + strlen("file:"));
    else if (path[0] == '/')
        key = under(v->root, path);
    else if (sep && qk_str_startswith(v->root, "s3://") &&
             (qk_str_startswith(path, "s3://") || qk_str_startswith(path, "s3a://") ||
              qk_str_startswith(path, "s3n://")))
        key = under(v->root + strlen("s3://"), sep + 3);
    if (!key || !qk_str_startswith(key, v->table)) return NULL;
    key += strlen(v->table);
    return *key ? key : NULL;
}

/* ---- the log -------------------------------------------------------------------------------- */

static int add_commit(vac *v, int64_t version, const qk_obj_info *o, qk_err *err)
{
    if (v->ncommits == v->capc) {
        size_t cap = v->capc ? v->capc * 2 : 64;
        vcommit *c = realloc(v->commits, cap * sizeof *c);
        if (!c) return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
        v->commits = c;
        v->capc = cap;
    }
    v->commits[v->ncommits].version = version;
    v->commits[v->ncommits].mtime_ms = o->mtime_ms;
    v->commits[v->ncommits].ts = o->mtime_ms;
    if (!(v->commits[v->ncommits++].key = qk_arena_strdup(&v->arena, o->key)))
        return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
    return 0;
}

static int log_cb(void *ud, const qk_obj_info *o, const char *common_prefix, qk_err *err)
{
    vac *v = ud;
    size_t plen = strlen(v->logp);
    int64_t version;
    (void)common_prefix;
    if (!o || strlen(o->key) != plen + VERSION_DIGITS + strlen(".json") ||
        qk_delta_digits(o->key + plen, VERSION_DIGITS, &version) ||
        strcmp(o->key + plen + VERSION_DIGITS, ".json"))
        return 0;
    return add_commit(v, version, o, err);
}

static int cmp_commit(const void *a, const void *b)
{
    int64_t x = ((const vcommit *)a)->version, y = ((const vcommit *)b)->version;
    return x < y ? -1 : x > y;
}

static int list_log(vac *v, qk_err *err)
{
    int rc = qk_store_list_all(v->s, v->logp, "/", log_cb, v, err);
    if (rc) return rc;
    if (!v->ncommits)
        return qk_errf(err, QK_ENOTFOUND, "no Delta table at '%s': no commits under %s",
                       *v->table ? v->table : "(store root)", v->logp);
    qsort(v->commits, v->ncommits, sizeof *v->commits, cmp_commit);
    return 0;
}

static int add_path(vac *v, json_t *a, bool add, int64_t version, const char *where, qk_err *err)
{
    const char *raw = json_string_value(json_object_get(a, "path")), *path = NULL, *rel;
    bool absolute;
    int rc;
    if (!raw || !*raw)
        return qk_errf(err, QK_EPARSE, "%s: %s action without a path", where,
                       add ? "add" : "remove");
    if ((rc = qk_delta_path_decode(raw, &v->arena, &path, where, err))) return rc;
    absolute = qk_delta_path_absolute(raw);
    if (!(rel = absolute ? map_absolute(v, path) : path)) return 0; /* outside the table */
    if (v->npaths == v->cappaths) {
        size_t cap = v->cappaths ? v->cappaths * 2 : 1024;
        vpath *p;
        if (v->npaths >= QK_DELTA_FILES_MAX)
            return qk_errf(err, QK_ETOOBIG, "more than %zu paths in the log", QK_DELTA_FILES_MAX);
        if (!(p = realloc(v->paths, cap * sizeof *p)))
            return qk_errf(err, QK_ENOMEM, "out of memory (paths)");
        v->paths = p;
        v->cappaths = cap;
    }
    v->paths[v->npaths++] = (vpath){rel, version, add, absolute};
    return 0;
}

/* One action of commit c: its time (the first commitInfo) or a path. */
static int apply_line(vac *v, vcommit *c, json_t *a, bool *seen, const char *where, qk_err *err)
{
    json_t *x;
    if (!json_is_object(a))
        return qk_errf(err, QK_EPARSE, "%s: an action is not a JSON object", where);
    if (json_is_object(x = json_object_get(a, "add")))
        return add_path(v, x, true, c->version, where, err);
    if (json_is_object(x = json_object_get(a, "remove")))
        return add_path(v, x, false, c->version, where, err);
    if (json_is_object(x = json_object_get(a, "commitInfo")) && !*seen) {
        int64_t ict = qk_delta_json_int(x, "inCommitTimestamp", -1),
                ts = qk_delta_json_int(x, "timestamp", -1);
        *seen = true;
        c->ts = ict >= 0 ? ict : ts >= 0 ? ts : c->mtime_ms;
    }
    return 0;
}

typedef struct vline {
    vac *v;
    vcommit *c;
    bool seen;
} vline;

static int vac_line(void *ud, json_t *a, const char *where, qk_err *err)
{
    vline *l = ud;
    return apply_line(l->v, l->c, a, &l->seen, where, err);
}

static int parse_commit(vac *v, vcommit *c, const char *data, size_t len, qk_err *err)
{
    vline l = {v, c, false};
    return qk_delta_each_line(c->key, data, len, vac_line, &l, err);
}

/* Fetch and read every listed commit. */
static int read_log(vac *v, qk_err *err)
{
    qk_buf buf;
    int rc = 0;
    qk_buf_init(&buf, QK_DELTA_COMMIT_MAX);
    for (size_t i = 0; !rc && i < v->ncommits; i++) {
        qk_buf_truncate(&buf, 0);
        rc = qk_store_get(v->s, v->commits[i].key, 0, QK_STORE_TO_END, &buf, NULL, err);
        if (!rc) rc = parse_commit(v, &v->commits[i], buf.data ? buf.data : "", buf.len, err);
    }
    qk_buf_free(&buf);
    return rc;
}

/* ---- what stays --------------------------------------------------------------------------- */

/* The newest commit at or before the cutoff, else the oldest commit. */
static int64_t pick_keep_version(const vac *v, int64_t cutoff)
{
    int64_t keep = -1;
    for (size_t i = 0; i < v->ncommits; i++)
        if (v->commits[i].ts <= cutoff) keep = v->commits[i].version;
    return keep >= 0 ? keep : v->commits[0].version;
}

/* Keep the active files of the snapshot at `at`; *version is the snapshot's. */
static int keep_snapshot(vac *v, qk_engine *e, const char *table, const qk_delta_at *at,
                         int64_t *version, qk_err *err)
{
    qk_delta_snapshot *snap = NULL;
    int rc = qk_delta_snapshot_load(e, v->s, table, at, &snap, err);
    if (rc) {
        if (at->kind == QK_DELTA_AT_VERSION)
            qk_err_prefix(err, "vacuum must keep version %lld readable", (long long)at->version);
        return rc;
    }
    *version = snap->version;
    for (size_t i = 0; !rc && i < snap->nfiles; i++) {
        const qk_delta_file *f = &snap->files[i];
        const char *rel = f->absolute ? map_absolute(v, f->path) : f->path;
        const char *copy = rel ? qk_arena_strdup(&v->arena, rel) : NULL;
        if (rel && !copy) rc = qk_errf(err, QK_ENOMEM, "out of memory (vacuum)");
        if (copy) rc = set_add(&v->keep, copy, err);
    }
    qk_delta_snapshot_destroy(snap);
    return rc;
}

/* The kept files: the snapshots at keep_version and the latest, later adds, absolute adds;
 * and every path the log names (tracked). */
static int build_sets(vac *v, qk_engine *e, const char *table, int64_t keep_version, qk_err *err)
{
    qk_delta_at at = {QK_DELTA_AT_VERSION, keep_version, 0}, latest = {QK_DELTA_AT_LATEST, 0, 0};
    int64_t got = -1;
    int rc = keep_snapshot(v, e, table, &latest, &got, err);
    if (!rc && got != keep_version) rc = keep_snapshot(v, e, table, &at, &got, err);
    for (size_t i = 0; !rc && i < v->npaths; i++) {
        const vpath *p = &v->paths[i];
        if (p->add && (p->version > keep_version || p->absolute))
            rc = set_add(&v->keep, p->rel, err);
        if (!rc) rc = set_add(&v->tracked, p->rel, err);
    }
    set_sort(&v->keep);
    set_sort(&v->tracked);
    return rc;
}

/* ---- candidates ----------------------------------------------------------------------------- */

/* A segment of rel starts with '_' or '.', or rel is a folder marker. */
static bool hidden(const char *rel)
{
    size_t n = strlen(rel);
    if (!n || rel[n - 1] == '/') return true;
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || rel[i - 1] == '/') && (rel[i] == '_' || rel[i] == '.')) return true;
    return false;
}

/* Note the root of a nested table ("sub/" for "sub/_delta_log/..."). */
static int note_nested(vac *v, const char *rel, qk_err *err)
{
    const char *p = strstr(rel, "/_delta_log/");
    char *root;
    if (!p) return 0;
    for (size_t i = 0; i < v->nested.n; i++)
        if (!strncmp(v->nested.v[i], rel, (size_t)(p + 1 - rel)) && !v->nested.v[i][p + 1 - rel])
            return 0;
    if (!(root = qk_arena_strndup(&v->arena, rel, (size_t)(p + 1 - rel))))
        return qk_errf(err, QK_ENOMEM, "out of memory (vacuum)");
    return set_add(&v->nested, root, err);
}

static bool in_nested(const vac *v, const char *rel)
{
    for (size_t i = 0; i < v->nested.n; i++)
        if (qk_str_startswith(rel, v->nested.v[i])) return true;
    return false;
}

static int add_file(qk_delta_vacuum_result *r, size_t *cap, const qk_obj_entry *o, bool tracked,
                    qk_err *err)
{
    if (r->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        qk_delta_vacuum_file *f = qk_arena_alloc(&r->arena, ncap * sizeof *f);
        if (!f) return qk_errf(err, QK_ENOMEM, "out of memory (vacuum)");
        if (r->n) memcpy(f, r->files, r->n * sizeof *f);
        r->files = f;
        *cap = ncap;
    }
    r->files[r->n] = (qk_delta_vacuum_file){NULL, o->size, o->mtime_ms, tracked};
    if (!(r->files[r->n].key = qk_arena_strdup(&r->arena, o->key)))
        return qk_errf(err, QK_ENOMEM, "out of memory (vacuum)");
    r->n++;
    r->bytes += o->size;
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const qk_delta_vacuum_file *)a)->key, ((const qk_delta_vacuum_file *)b)->key);
}

/* List the table and fill r with the files to delete. */
static int find_files(vac *v, qk_delta_vacuum_result *r, qk_err *err)
{
    qk_obj_list list = {0};
    size_t tl = strlen(v->table), cap = 0;
    int rc = qk_store_list_collect(v->s, tl ? v->table : NULL, &list, err);
    for (size_t i = 0; !rc && i < list.n; i++)
        rc = note_nested(v, list.v[i].key + tl, err);
    for (size_t i = 0; !rc && i < list.n; i++) {
        const qk_obj_entry *o = &list.v[i];
        const char *rel = o->key + tl;
        if (hidden(rel) || in_nested(v, rel) || set_has(&v->keep, rel) ||
            o->mtime_ms >= r->cutoff_ms)
            continue;
        rc = add_file(r, &cap, o, set_has(&v->tracked, rel), err);
    }
    qk_obj_list_free(&list);
    if (!rc && r->n > 1) qsort(r->files, r->n, sizeof *r->files, cmp_file);
    return rc;
}

static int delete_files(qk_store *s, qk_delta_vacuum_result *r, qk_err *err)
{
    const char *keys[QK_STORE_DELETE_MANY_MAX];
    for (size_t i = 0; i < r->n; i += QK_STORE_DELETE_MANY_MAX) {
        size_t n = r->n - i;
        int rc;
        if (n > QK_STORE_DELETE_MANY_MAX) n = QK_STORE_DELETE_MANY_MAX;
        for (size_t j = 0; j < n; j++)
            keys[j] = r->files[i + j].key;
        if ((rc = qk_store_delete_many(s, keys, n, err))) {
            qk_err_prefix(err, "vacuum deleted %zu of %zu files, then", r->deleted, r->n);
            return rc;
        }
        r->deleted += n;
    }
    return 0;
}

/* ---- API ------------------------------------------------------------------------------------ */

static int vac_init(vac *v, qk_store *s, const char *table, qk_err *err)
{
    size_t tl = table ? strlen(table) : 0;
    memset(v, 0, sizeof *v);
    qk_arena_init(&v->arena, QK_DELTA_MEM_MAX);
    v->s = s;
    v->root = qk_store_uri(s);
    if (tl + strlen("/_delta_log/") > QK_STORE_KEY_MAX)
        return qk_errf(err, QK_EINVAL, "table prefix too long");
    snprintf(v->table, sizeof v->table, "%s%s", tl ? table : "",
             tl && table[tl - 1] != '/' ? "/" : "");
    snprintf(v->logp, sizeof v->logp, "%s_delta_log/", v->table);
    return 0;
}

static void vac_free(vac *v)
{
    free(v->commits);
    free(v->paths);
    set_free(&v->keep);
    set_free(&v->tracked);
    set_free(&v->nested);
    qk_arena_free(&v->arena);
}

int qk_delta_vacuum(qk_engine *e, qk_store *s, const char *table_prefix, int64_t retain_ms,
                    bool dry_run, qk_delta_vacuum_result **out, qk_err *err)
{
    qk_delta_vacuum_result *r = NULL;
    vac v;
    int rc;
    *out = NULL;
    if ((rc = vac_init(&v, s, table_prefix, err))) goto out;
    if (retain_ms < 0) {
        rc = qk_errf(err, QK_EINVAL, "vacuum retention of %lld ms: it must be >= 0",
                     (long long)retain_ms);
        goto out;
    }
    if (!(r = calloc(1, sizeof *r))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    qk_arena_init(&r->arena, QK_DELTA_MEM_MAX);
    r->cutoff_ms = qk_epoch_ms() - retain_ms;
    if ((rc = list_log(&v, err)) || (rc = read_log(&v, err))) goto out;
    r->keep_version = pick_keep_version(&v, r->cutoff_ms);
    if ((rc = build_sets(&v, e, table_prefix, r->keep_version, err))) goto out;
    if ((rc = find_files(&v, r, err))) goto out;
    if (!dry_run && (rc = delete_files(s, r, err))) goto out;
    *out = r;
    r = NULL;
out:
    qk_delta_vacuum_free(r);
    vac_free(&v);
    return rc;
}

void qk_delta_vacuum_free(qk_delta_vacuum_result *r)
{
    if (!r) return;
    qk_arena_free(&r->arena);
    free(r);
}
