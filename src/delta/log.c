/* SPDX-License-Identifier: MIT */
/*
 * log.c: finding what to replay in <table>/_delta_log/ and driving the load.
 *
 * One listing of the log prefix sorts its keys into commits (%020d.json) and checkpoint parts
 * (%020d.checkpoint.parquet, %020d.checkpoint.%010d.%010d.parquet); every other key (.crc,
 * .tmp/, _commits/, _staged_commits/, UUID-named checkpoints, compactions, _last_checkpoint)
 * is ignored. A checkpoint is usable only when all n of its parts are listed. The listing is
 * authoritative: _last_checkpoint only saves a reader the listing of older files, and since
 * the commits after it must be listed anyway it is not read (a stale or lying one changes
 * nothing; see docs/internals/delta.md).
 *
 * For a version v: the newest usable checkpoint c <= v, then commits c+1..v, each of which
 * must be listed (a gap is an error naming the missing version); without a checkpoint the
 * commits start at 0, and when 0 is gone (log cleanup) v cannot be rebuilt. For a timestamp
 * t: the last commit whose time is <= t, found by binary search over the listed commits; a
 * commit's time is its commitInfo.inCommitTimestamp when it has one, else the file's mtime.
 */
#include "delta/delta_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#define VERSION_DIGITS 20
#define PART_DIGITS 10
#define PARTS_MAX 100000

typedef struct commit {
    int64_t version;
    const char *key;
    int64_t mtime_ms;
} commit;

typedef struct ckpt {
    int64_t version;
    int64_t nparts, have;
    const char **keys; /* [nparts], by part number - 1 */
    int64_t mtime_ms;
} ckpt;

typedef struct dlog {
    qk_arena arena;
    char prefix[QK_STORE_KEY_MAX + 1]; /* "<table>/_delta_log/" */
    commit *commits;
    size_t ncommits, capc;
    ckpt *ckpts;
    size_t nckpts, capk;
} dlog;

/* ---- names ------------------------------------------------------------------------------- */

int qk_delta_digits(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > INT64_MAX) return -1;
    *out = (int64_t)v;
    return 0;
}

/* ".checkpoint.%010d.%010d.parquet" after the version: part and count. */
static int multi_part(const char *s, int64_t *part, int64_t *n)
{
    const char *p = s + strlen(".checkpoint.");
    if (strlen(p) != PART_DIGITS * 2 + 1 + strlen(".parquet")) return -1;
    if (qk_delta_digits(p, PART_DIGITS, part) || p[PART_DIGITS] != '.' ||
        qk_delta_digits(p + PART_DIGITS + 1, PART_DIGITS, n) ||
        strcmp(p + PART_DIGITS * 2 + 1, ".parquet"))
        return -1;
    return *part >= 1 && *part <= *n && *n <= PARTS_MAX ? 0 : -1;
}

static int add_commit(dlog *l, int64_t v, const qk_obj_entry *o, qk_err *err)
{
    if (l->ncommits == l->capc) {
        size_t cap = l->capc ? l->capc * 2 : 64;
        commit *c = realloc(l->commits, cap * sizeof *c);
        if (!c) return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
        l->commits = c;
        l->capc = cap;
    }
    l->commits[l->ncommits].version = v;
    l->commits[l->ncommits].mtime_ms = o->mtime_ms;
    if (!(l->commits[l->ncommits++].key = qk_arena_strdup(&l->arena, o->key)))
        return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
    return 0;
}

static ckpt *find_ckpt(dlog *l, int64_t v, int64_t nparts)
{
    for (size_t i = l->nckpts; i-- > 0;)
        if (l->ckpts[i].version == v && l->ckpts[i].nparts == nparts) return &l->ckpts[i];
    return NULL;
}

static int add_part(dlog *l, int64_t v, int64_t part, int64_t n, const qk_obj_entry *o, qk_err *err)
{
    ckpt *c = find_ckpt(l, v, n);
    if (!c) {
        if (l->nckpts == l->capk) {
            size_t cap = l->capk ? l->capk * 2 : 16;
            ckpt *k = realloc(l->ckpts, cap * sizeof *k);
            if (!k) return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
            l->ckpts = k;
            l->capk = cap;
        }
        c = &l->ckpts[l->nckpts++];
        memset(c, 0, sizeof *c);
        c->version = v;
        c->nparts = n;
        c->mtime_ms = o->mtime_ms;
        if (!(c->keys = qk_arena_alloc(&l->arena, (size_t)n * sizeof *c->keys)))
            return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
        memset(c->keys, 0, (size_t)n * sizeof *c->keys);
    }
    if (c->keys[part - 1]) return 0;
    if (!(c->keys[part - 1] = qk_arena_strdup(&l->arena, o->key)))
        return qk_errf(err, QK_ENOMEM, "out of memory (log listing)");
    c->have++;
    return 0;
}

/* Sort one listed key into the commits or the checkpoints, or ignore it. */
static int classify(dlog *l, const qk_obj_entry *o, qk_err *err)
{
    const char *name = o->key + strlen(l->prefix), *rest = name + VERSION_DIGITS;
    int64_t v, part, n;
    if (strchr(name, '/') || strlen(name) < VERSION_DIGITS ||
        qk_delta_digits(name, VERSION_DIGITS, &v))
        return 0;
    if (!strcmp(rest, ".json")) return add_commit(l, v, o, err);
    if (!strcmp(rest, ".checkpoint.parquet")) return add_part(l, v, 1, 1, o, err);
    if (qk_str_startswith(rest, ".checkpoint.") && !multi_part(rest, &part, &n))
        return add_part(l, v, part, n, o, err);
    return 0;
}

static int cmp_commit(const void *a, const void *b)
{
    int64_t x = ((const commit *)a)->version, y = ((const commit *)b)->version;
    return x < y ? -1 : x > y;
}

static int cmp_ckpt(const void *a, const void *b)
{
    const ckpt *x = a, *y = b;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    return x->nparts < y->nparts ? -1 : x->nparts > y->nparts;
}

static int log_list(qk_store *s, const char *table, dlog *l, qk_err *err)
{
    qk_obj_list list = {0};
    size_t tl = table ? strlen(table) : 0;
    int rc = 0;
    if (tl + strlen("/_delta_log/") >= sizeof l->prefix)
        return qk_errf(err, QK_EINVAL, "table prefix too long");
    snprintf(l->prefix, sizeof l->prefix, "%s%s_delta_log/", tl ? table : "",
             tl && table[tl - 1] != '/' ? "/" : "");
    if ((rc = qk_store_list_collect(s, l->prefix, &list, err))) goto out;
    for (size_t i = 0; !rc && i < list.n; i++)
        rc = classify(l, &list.v[i], err);
    if (rc) goto out;
    if (l->ncommits) qsort(l->commits, l->ncommits, sizeof *l->commits, cmp_commit);
    if (l->nckpts) qsort(l->ckpts, l->nckpts, sizeof *l->ckpts, cmp_ckpt);
out:
    qk_obj_list_free(&list);
    return rc;
}

static void log_free(dlog *l)
{
    free(l->commits);
    free(l->ckpts);
    qk_arena_free(&l->arena);
}

/* ---- versions ---------------------------------------------------------------------------- */

static ssize_t commit_index(const dlog *l, int64_t v)
{
    size_t lo = 0, hi = l->ncommits;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->commits[mid].version < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < l->ncommits && l->commits[lo].version == v ? (ssize_t)lo : -1;
}

/* The newest complete checkpoint at or below v (single-part preferred at a version). */
static const ckpt *pick_checkpoint(const dlog *l, int64_t v)
{
    const ckpt *best = NULL;
    for (size_t i = 0; i < l->nckpts; i++)
        if (l->ckpts[i].version <= v && l->ckpts[i].have == l->ckpts[i].nparts &&
            (!best || l->ckpts[i].version > best->version))
            best = &l->ckpts[i];
    return best;
}

static int64_t latest_version(const dlog *l)
{
    int64_t v = l->ncommits ? l->commits[l->ncommits - 1].version : -1;
    const ckpt *c = pick_checkpoint(l, INT64_MAX);
    return c && c->version > v ? c->version : v;
}

/* The oldest version that can be rebuilt, -1 when none. */
static int64_t oldest_version(const dlog *l)
{
    if (commit_index(l, 0) >= 0) return 0;
    for (size_t i = 0; i < l->nckpts; i++)
        if (l->ckpts[i].have == l->ckpts[i].nparts) return l->ckpts[i].version;
    return -1;
}

/* Commits from..to must all be listed. */
static int check_contiguous(const dlog *l, int64_t from, int64_t to, qk_err *err)
{
    ssize_t i = from <= to ? commit_index(l, from) : 0;
    for (int64_t v = from; v <= to; v++, i++)
        if (i < 0 || (size_t)i >= l->ncommits || l->commits[i].version != v)
            return qk_errf(err, QK_ENOTFOUND,
                           "commit %020lld.json is missing from %s: the log has a gap before "
                           "version %lld",
                           (long long)v, l->prefix, (long long)to);
    return 0;
}

/* Where the replay of v starts: *cp (NULL for none) and the first commit to apply. */
static int plan(const dlog *l, int64_t v, const ckpt **cp, qk_err *err)
{
    int64_t oldest = oldest_version(l);
    *cp = pick_checkpoint(l, v);
    if (!*cp && commit_index(l, 0) < 0)
        return qk_errf(err, QK_ENOTFOUND,
                       "version %lld can no longer be read: its commits were removed and no "
                       "checkpoint covers it (oldest readable version: %lld)",
                       (long long)v, (long long)oldest);
    return check_contiguous(l, *cp ? (*cp)->version + 1 : 0, v, err);
}

/* ---- timestamps -------------------------------------------------------------------------- */

/* A commit's time: its inCommitTimestamp, else its file's mtime. */
static int commit_time(qk_store *s, const commit *c, qk_buf *buf, int64_t *out, qk_err *err)
{
    int64_t ict = -1;
    int rc;
    qk_buf_truncate(buf, 0);
    rc = qk_store_get(s, c->key, 0, QK_STORE_TO_END, buf, NULL, err);
    if (!rc) rc = qk_delta_commit_ict(c->key, buf->data ? buf->data : "", buf->len, &ict, err);
    *out = ict >= 0 ? ict : c->mtime_ms;
    return rc;
}

/* The last listed commit whose time is <= t (times ascend with versions). */

/* ms since 1970 as "2024-05-01 12:00:00.000 UTC". */
static void iso_ms(int64_t ms, char *buf, size_t n)
{
    time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    char day[32];
    if (!gmtime_r(&sec, &tm) || !strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm)) {
        snprintf(buf, n, "%lld ms", (long long)ms);
        return;
    }
    snprintf(buf, n, "%s.%03d UTC", day, (int)(((ms % 1000) + 1000) % 1000));
}

static int resolve_timestamp(const dlog *l, qk_store *s, int64_t t, int64_t *v, qk_err *err)
{
    qk_buf buf;
    size_t lo = 0, hi = l->ncommits; /* answer: the last index < lo */
    int64_t ts = 0;
    int rc = 0;
    qk_buf_init(&buf, QK_DELTA_COMMIT_MAX);
    if (!l->ncommits) {
        rc = qk_errf(err, QK_ENOTFOUND, "no commits under %s", l->prefix);
        goto out;
    }
    while (!rc && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        rc = commit_time(s, &l->commits[mid], &buf, &ts, err);
        if (ts <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!rc && lo == 0) {
        rc = commit_time(s, &l->commits[0], &buf, &ts, err);
        char want[40], first[40];
        iso_ms(t, want, sizeof want);
        iso_ms(ts, first, sizeof first);
        if (!rc)
            rc = qk_errf(err, QK_ENOTFOUND,
                         "timestamp %s is before the first commit (version %lld at %s)", want,
                         (long long)l->commits[0].version, first);
    }
    if (!rc) *v = l->commits[lo - 1].version;
out:
    qk_buf_free(&buf);
    return rc;
}

static int resolve(const dlog *l, qk_store *s, const qk_delta_at *at, int64_t *v, qk_err *err)
{
    int64_t latest = latest_version(l);
    if (latest < 0) return qk_errf(err, QK_ENOTFOUND, "no Delta log under %s", l->prefix);
    if (!at || at->kind == QK_DELTA_AT_LATEST) {
        *v = latest;
        return 0;
    }
    if (at->kind == QK_DELTA_AT_TIMESTAMP) return resolve_timestamp(l, s, at->timestamp_ms, v, err);
    if (at->kind != QK_DELTA_AT_VERSION || at->version < 0)
        return qk_errf(err, QK_EINVAL, "invalid Delta version %lld", (long long)at->version);
    if (at->version > latest)
        return qk_errf(err, QK_ENOTFOUND, "version %lld does not exist: the latest is %lld",
                       (long long)at->version, (long long)latest);
    *v = at->version;
    return 0;
}

/* ---- load -------------------------------------------------------------------------------- */

/* Apply commits after the checkpoint up to v; *ict is the last one's inCommitTimestamp. */
static int replay_commits(qk_store *s, const dlog *l, int64_t from, int64_t v, qk_delta_replay *r,
                          int64_t *ict, qk_err *err)
{
    qk_buf buf;
    int rc = 0;
    ssize_t i = from <= v ? commit_index(l, from) : -1;
    qk_buf_init(&buf, QK_DELTA_COMMIT_MAX);
    for (; !rc && i >= 0 && (size_t)i < l->ncommits && l->commits[i].version <= v; i++) {
        qk_buf_truncate(&buf, 0);
        rc = qk_store_get(s, l->commits[i].key, 0, QK_STORE_TO_END, &buf, NULL, err);
        if (!rc)
            rc = qk_delta_replay_commit(r, l->commits[i].key, buf.data ? buf.data : "", buf.len,
                                        ict, err);
    }
    qk_buf_free(&buf);
    return rc;
}

/* The snapshot's timestamp when its commit was not replayed (it is the checkpoint's). */
static int snapshot_time(qk_store *s, const dlog *l, const ckpt *c, int64_t v, int64_t *out,
                         qk_err *err)
{
    ssize_t i = commit_index(l, v);
    qk_buf buf;
    int rc;
    if (i < 0) {
        *out = c ? c->mtime_ms : -1;
        return 0;
    }
    qk_buf_init(&buf, QK_DELTA_COMMIT_MAX);
    rc = commit_time(s, &l->commits[i], &buf, out, err);
    qk_buf_free(&buf);
    return rc;
}

static int load(qk_engine *e, qk_store *s, const dlog *l, int64_t v, qk_delta_snapshot *snap,
                qk_err *err)
{
    const ckpt *c;
    qk_delta_replay *r = NULL;
    int64_t ict = -1;
    ssize_t last;
    int rc = plan(l, v, &c, err);
    if (rc) goto out;
    snap->version = v;
    snap->checkpoint_version = c ? c->version : -1;
    if ((rc = qk_delta_replay_new(snap, &r, err))) goto out;
    if (c && (rc = qk_delta_checkpoint_read(e, s, c->keys, (size_t)c->nparts, r, err))) goto out;
    if ((rc = replay_commits(s, l, c ? c->version + 1 : 0, v, r, &ict, err))) goto out;
    if ((rc = qk_delta_replay_finish(r, err))) goto out;
    last = commit_index(l, v);
    if (c && c->version == v)
        rc = snapshot_time(s, l, c, v, &snap->timestamp_ms, err);
    else
        snap->timestamp_ms = ict >= 0 ? ict : l->commits[last].mtime_ms;
out:
    qk_delta_replay_destroy(r);
    return rc;
}

int qk_delta_snapshot_load(qk_engine *e, qk_store *s, const char *table_prefix,
                           const qk_delta_at *at, qk_delta_snapshot **out, qk_err *err)
{
    dlog l;
    qk_delta_snapshot *snap = calloc(1, sizeof *snap);
    int64_t v = -1;
    int rc = 0;
    *out = NULL;
    memset(&l, 0, sizeof l);
    qk_arena_init(&l.arena, QK_DELTA_MEM_MAX);
    if (!snap) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    qk_arena_init(&snap->arena, QK_DELTA_MEM_MAX);
    if (!(snap->owned = json_array())) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = log_list(s, table_prefix, &l, err))) goto out;
    if ((rc = resolve(&l, s, at, &v, err))) goto out;
    if ((rc = load(e, s, &l, v, snap, err))) goto out;
    *out = snap;
    snap = NULL;
out:
    qk_delta_snapshot_destroy(snap);
    log_free(&l);
    return rc;
}

void qk_delta_snapshot_destroy(qk_delta_snapshot *snap)
{
    if (!snap) return;
    json_decref(snap->owned);
    qk_arena_free(&snap->arena);
    free(snap);
}

/* ---- data files ------------------------------------------------------------------------- */

static int cmp_key(const void *k, const void *e)
{
    return strcmp(k, ((const qk_obj_entry *)e)->key);
}

/* Is every active file of snap (keys prefix + path) in list (sorted)? If not, key is the first
 * missing one and its index is returned; -1 when all are there. */
static long first_missing(const char *prefix, const qk_delta_snapshot *snap,
                          const qk_obj_list *list, char *key, size_t cap)
{
    for (size_t i = 0; i < snap->nfiles; i++) {
        if (snap->files[i].absolute) continue;
        snprintf(key, cap, "%s%s", prefix, snap->files[i].path);
        if (!list->n || !bsearch(key, list->v, list->n, sizeof *list->v, cmp_key)) return (long)i;
    }
    return -1;
}

int qk_delta_check_files(qk_store *s, const char *table_prefix, const qk_delta_snapshot *snap,
                         const qk_obj_list *known, qk_err *err)
{
    qk_obj_list list = {0};
    char prefix[QK_STORE_KEY_MAX + 1], key[QK_STORE_KEY_MAX + 1];
    size_t tl = table_prefix ? strlen(table_prefix) : 0;
    int rc;
    snprintf(prefix, sizeof prefix, "%s%s", tl ? table_prefix : "",
             tl && table_prefix[tl - 1] != '/' ? "/" : "");
    /* the caller's listing settles it when it has every file; a miss is checked afresh */
    if (known && first_missing(prefix, snap, known, key, sizeof key) < 0) return 0;
    if ((rc = qk_store_list_collect(s, prefix, &list, err))) goto out;
    if (first_missing(prefix, snap, &list, key, sizeof key) >= 0)
        rc = qk_errf(err, QK_ENOTFOUND,
                     "data file %s of version %lld is missing (removed by VACUUM?)", key,
                     (long long)snap->version);
out:
    qk_obj_list_free(&list);
    return rc;
}
