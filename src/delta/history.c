/* SPDX-License-Identifier: MIT */
/*
 * history.c: the commits of a Delta table, newest first (`quack table history`).
 *
 * One listing of <table>/_delta_log/ (delimiter "/": .tmp/, _commits/ and other folders are
 * not walked) finds the commit files (%020d.json) and the checkpoints; the latest version is
 * the newest commit or complete checkpoint, the oldest the lowest commit file. The newest
 * `limit` commit files are then fetched by a few threads and read line by line: commitInfo
 * gives the operation, its parameters (re-encoded as compact JSON), the engine and the time
 * (inCommitTimestamp, else timestamp, else the file's mtime from the listing); add and remove
 * actions are counted, the adds' sizes and stats.numRecords summed; metaData, protocol and the
 * first txn are noted. Unknown actions and fields are ignored; a line that is not a JSON object
 * is QK_EPARSE naming "<key>:<line>". When several commits fail the newest one is reported.
 *
 * Memory: the history's arena holds the commits and their strings; workers allocate from it
 * under the context's mutex.
 */
#include "delta/delta_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define VERSION_DIGITS 20
#define PART_DIGITS 10
#define FETCH_THREADS 8

/* A listed commit file. */
typedef struct item {
    int64_t version;
    const char *key;
    int64_t mtime_ms;
} item;

/* A multi-part checkpoint being counted: complete when have == nparts. */
typedef struct parts {
    int64_t version, nparts, have;
} parts;

typedef struct listing {
    qk_arena *arena;
    size_t plen; /* strlen of "<table>/_delta_log/" */
    item *items;
    size_t n, cap;
    parts *parts;
    size_t nparts, capparts;
    int64_t checkpoint; /* the newest complete checkpoint, -1 */
} listing;

typedef struct hctx {
    qk_store *s;
    qk_delta_history *h;
    const item *items; /* newest first, h->n of them */
    pthread_mutex_t mu;
    size_t next, stop; /* the next commit to fetch; none at or past stop is taken */
    int rc;            /* the error of commit stop (the newest that failed) */
    qk_err err;
} hctx;

/* ---- listing ------------------------------------------------------------------------------ */

static int add_item(listing *l, int64_t v, const qk_obj_info *o, qk_err *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        item *p = realloc(l->items, cap * sizeof *p);
        if (!p) return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
        l->items = p;
        l->cap = cap;
    }
    l->items[l->n].version = v;
    l->items[l->n].mtime_ms = o->mtime_ms;
    if (!(l->items[l->n++].key = qk_arena_strdup(l->arena, o->key)))
        return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
    return 0;
}

/* Count part `part` of an n-part checkpoint at v (keys are unique, so each part once). */
static int add_part(listing *l, int64_t v, int64_t n, qk_err *err)
{
    parts *p = NULL;
    for (size_t i = 0; i < l->nparts && !p; i++)
        if (l->parts[i].version == v && l->parts[i].nparts == n) p = &l->parts[i];
    if (!p) {
        if (l->nparts == l->capparts) {
            size_t cap = l->capparts ? l->capparts * 2 : 8;
            parts *q = realloc(l->parts, cap * sizeof *q);
            if (!q) return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
            l->parts = q;
            l->capparts = cap;
        }
        p = &l->parts[l->nparts++];
        p->version = v;
        p->nparts = n;
        p->have = 0;
    }
    if (++p->have == p->nparts && v > l->checkpoint) l->checkpoint = v;
    return 0;
}

/* ".checkpoint.parquet" or ".checkpoint.%010d.%010d.parquet" after a version. */
static int checkpoint_name(listing *l, int64_t v, const char *rest, qk_err *err)
{
    const char *p = rest + strlen(".checkpoint.");
    int64_t part, n;
    if (!strcmp(rest, ".checkpoint.parquet")) {
        if (v > l->checkpoint) l->checkpoint = v;
        return 0;
    }
    if (!qk_str_startswith(rest, ".checkpoint.") ||
        strlen(p) != PART_DIGITS * 2 + 1 + strlen(".parquet") ||
        qk_delta_digits(p, PART_DIGITS, &part) || p[PART_DIGITS] != '.' ||
        qk_delta_digits(p + PART_DIGITS + 1, PART_DIGITS, &n) ||
        strcmp(p + PART_DIGITS * 2 + 1, ".parquet") || part < 1 || part > n)
        return 0;
    return add_part(l, v, n, err);
}

static int list_cb(void *ud, const qk_obj_info *o, const char *common_prefix, qk_err *err)
{
    listing *l = ud;
    const char *name;
    int64_t v;
    (void)common_prefix;
    if (!o || strlen(o->key) < l->plen + VERSION_DIGITS) return 0;
    name = o->key + l->plen;
    if (qk_delta_digits(name, VERSION_DIGITS, &v)) return 0;
    if (!strcmp(name + VERSION_DIGITS, ".json")) return add_item(l, v, o, err);
    return checkpoint_name(l, v, name + VERSION_DIGITS, err);
}

static int cmp_item_desc(const void *a, const void *b)
{
    int64_t x = ((const item *)a)->version, y = ((const item *)b)->version;
    return x > y ? -1 : x < y;
}

/* List the log of table into l (items newest first). */
static int list_log(qk_store *s, const char *table, listing *l, qk_err *err)
{
    char prefix[QK_STORE_KEY_MAX + 1];
    size_t tl = table ? strlen(table) : 0;
    int rc;
    if (tl + strlen("/_delta_log/") >= sizeof prefix)
        return qk_errf(err, QK_EINVAL, "table prefix too long");
    snprintf(prefix, sizeof prefix, "%s%s_delta_log/", tl ? table : "",
             tl && table[tl - 1] != '/' ? "/" : "");
    l->plen = strlen(prefix);
    l->checkpoint = -1;
    if ((rc = qk_store_list_all(s, prefix, "/", list_cb, l, err))) return rc;
    if (!l->n && l->checkpoint < 0)
        return qk_errf(err, QK_ENOTFOUND, "no Delta table at '%s': nothing under %s",
                       tl ? table : "(store root)", prefix);
    if (l->n > 1) qsort(l->items, l->n, sizeof *l->items, cmp_item_desc);
    return 0;
}

/* ---- one commit ---------------------------------------------------------------------------- */

/* A copy of s in the history's arena (workers share it). */
static const char *hdup(hctx *c, const char *s, qk_err *err, int *rc)
{
    char *p;
    if (!s || *rc) return NULL;
    pthread_mutex_lock(&c->mu);
    p = qk_arena_strdup(&c->h->arena, s);
    pthread_mutex_unlock(&c->mu);
    if (!p) *rc = qk_errf(err, QK_ENOMEM, "out of memory (history)");
    return p;
}

/* What a commit says about its own time. */
typedef struct times {
    int64_t ict, ts; /* -1 when absent */
    bool seen;       /* a commitInfo was read (only the first counts) */
} times;

static int commit_info(hctx *c, json_t *ci, qk_delta_commit *out, times *t, qk_err *err)
{
    json_t *params = json_object_get(ci, "operationParameters");
    const char *engine = json_string_value(json_object_get(ci, "engineInfo"));
    char *txt = NULL;
    int rc = 0;
    if (t->seen) return 0;
    t->seen = true;
    t->ict = qk_delta_json_int(ci, "inCommitTimestamp", -1);
    t->ts = qk_delta_json_int(ci, "timestamp", -1);
    if (!engine) engine = json_string_value(json_object_get(ci, "clientVersion"));
    out->operation = hdup(c, json_string_value(json_object_get(ci, "operation")), err, &rc);
    out->engine_info = hdup(c, engine, err, &rc);
    if (params && !(txt = json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY)))
        return qk_errf(err, QK_ENOMEM, "out of memory (history)");
    out->parameters = hdup(c, txt, err, &rc);
    free(txt);
    return rc;
}

/* numRecords of an add's stats (a JSON string), -1 when absent. */
static int64_t add_rows(json_t *add)
{
    const char *stats = json_string_value(json_object_get(add, "stats"));
    json_t *st;
    int64_t n;
    if (!stats || !(st = json_loads(stats, 0, NULL))) return -1;
    n = qk_delta_json_int(st, "numRecords", -1);
    json_decref(st);
    return n;
}

static void count_add(json_t *add, qk_delta_commit *out)
{
    int64_t size = qk_delta_json_int(add, "size", 0), rows;
    out->files_added++;
    if (size > 0) out->bytes_added += (uint64_t)size;
    if (out->rows_added < 0) return;
    rows = add_rows(add);
    out->rows_added = rows < 0 ? -1 : out->rows_added + rows;
}

static int apply_line(hctx *c, json_t *a, qk_delta_commit *out, times *t, qk_err *err)
{
    json_t *v;
    int rc = 0;
    if (json_is_object(v = json_object_get(a, "commitInfo"))) return commit_info(c, v, out, t, err);
    if (json_is_object(v = json_object_get(a, "add"))) {
        count_add(v, out);
    } else if (json_is_object(json_object_get(a, "remove"))) {
        out->files_removed++;
    } else if (json_is_object(json_object_get(a, "metaData"))) {
        out->metadata = true;
    } else if (json_is_object(json_object_get(a, "protocol"))) {
        out->protocol = true;
    } else if (json_is_object(v = json_object_get(a, "txn")) && !out->txn_app_id) {
        out->txn_app_id = hdup(c, json_string_value(json_object_get(v, "appId")), err, &rc);
        out->txn_version = qk_delta_json_int(v, "version", -1);
    }
    return rc;
}

typedef struct hline {
    hctx *c;
    qk_delta_commit *out;
    times t;
} hline;

static int hist_line(void *ud, json_t *a, const char *where, qk_err *err)
{
    hline *l = ud;
    if (!json_is_object(a))
        return qk_errf(err, QK_EPARSE, "%s: an action is not a JSON object", where);
    return apply_line(l->c, a, l->out, &l->t, err);
}

/* Read the newline-delimited actions of a commit into out. */
static int parse_commit(hctx *c, const item *it, const char *data, size_t len, qk_delta_commit *out,
                        qk_err *err)
{
    hline l = {c, out, {-1, -1, false}};
    int rc = qk_delta_each_line(it->key, data, len, hist_line, &l, err);
    out->timestamp_ms = l.t.ict >= 0 ? l.t.ict : l.t.ts >= 0 ? l.t.ts : it->mtime_ms;
    return rc;
}

static int read_commit(hctx *c, size_t i, qk_buf *buf, qk_err *err)
{
    qk_delta_commit *out = &c->h->commits[i];
    int rc;
    memset(out, 0, sizeof *out);
    out->version = c->items[i].version;
    out->txn_version = -1;
    qk_buf_truncate(buf, 0);
    rc = qk_store_get(c->s, c->items[i].key, 0, QK_STORE_TO_END, buf, NULL, err);
    if (!rc) rc = parse_commit(c, &c->items[i], buf->data ? buf->data : "", buf->len, out, err);
    return rc;
}

/* ---- fetching ------------------------------------------------------------------------------- */

/* Take commits in order until none is left or one newer than the next has failed. */
static void *worker(void *arg)
{
    hctx *c = arg;
    qk_buf buf;
    qk_buf_init(&buf, QK_DELTA_COMMIT_MAX);
    for (;;) {
        size_t i;
        qk_err e;
        int rc;
        pthread_mutex_lock(&c->mu);
        i = c->next < c->stop ? c->next++ : c->h->n;
        pthread_mutex_unlock(&c->mu);
        if (i >= c->h->n) break;
        qk_err_clear(&e);
        if (!(rc = read_commit(c, i, &buf, &e))) continue;
        pthread_mutex_lock(&c->mu);
        if (i < c->stop) c->stop = i, c->rc = rc, c->err = e;
        pthread_mutex_unlock(&c->mu);
    }
    qk_buf_free(&buf);
    return NULL;
}

static int fetch_all(hctx *c, qk_err *err)
{
    pthread_t th[FETCH_THREADS];
    size_t nth = FETCH_THREADS, started = 0;
    if (nth > c->h->n) nth = c->h->n;
    c->next = 0;
    c->stop = c->h->n;
    for (size_t i = 1; i < nth; i++)
        if (pthread_create(&th[started], NULL, worker, c) == 0) started++;
    worker(c);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (c->rc) *err = c->err;
    return c->rc;
}

/* ---- API ------------------------------------------------------------------------------------ */

int qk_delta_history_load(qk_store *s, const char *table_prefix, size_t limit,
                          qk_delta_history **out, qk_err *err)
{
    qk_delta_history *h = calloc(1, sizeof *h);
    listing l;
    hctx c;
    int rc = 0;
    *out = NULL;
    memset(&l, 0, sizeof l);
    memset(&c, 0, sizeof c);
    if (!h) return qk_errf(err, QK_ENOMEM, "out of memory");
    qk_arena_init(&h->arena, QK_DELTA_MEM_MAX);
    l.arena = &h->arena;
    if ((rc = list_log(s, table_prefix, &l, err))) goto out;
    h->latest = l.n && l.items[0].version > l.checkpoint ? l.items[0].version : l.checkpoint;
    h->oldest = l.n ? l.items[l.n - 1].version : -1;
    h->n = limit && limit < l.n ? limit : l.n;
    if (h->n && !(h->commits = qk_arena_alloc(&h->arena, h->n * sizeof *h->commits))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory (history)");
        goto out;
    }
    c.s = s;
    c.h = h;
    c.items = l.items;
    pthread_mutex_init(&c.mu, NULL);
    rc = fetch_all(&c, err);
    pthread_mutex_destroy(&c.mu);
    if (rc) goto out;
    *out = h;
    h = NULL;
out:
    free(l.items);
    free(l.parts);
    qk_delta_history_free(h);
    return rc;
}

void qk_delta_history_free(qk_delta_history *h)
{
    if (!h) return;
    qk_arena_free(&h->arena);
    free(h);
}
