/* SPDX-License-Identifier: MIT */
/*
 * cache.c: the local cache of remote objects (cache.h has the layout; docs/cache.md the rules).
 *
 * Flow of qk_cache_fetch: HEAD the object unless the caller knows its ETag and size; map
 * (store uri, key) to objects/<2 hex>/<62 hex><ext>; a valid sidecar + data file of the right
 * size is a hit (touch the sidecar's mtime, the LRU clock). Otherwise take the object's flock,
 * look again (another process may have fetched it meanwhile), remove the stale sidecar,
 * download with qk_store_get_file (temp + fsync + rename), write the sidecar (temp + rename),
 * release the lock, and trim the cache to 90% of its limit, least recently used first.
 * Every scan (stats, list, eviction) reads the sidecars; data files without one are ignored
 * (they are replaced by the next fetch of their object, or removed by clear).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/cache.h"
#include "store/sigv4.h"

#define META_SUFFIX ".meta"
#define LOCK_SUFFIX ".lock"
#define TMP_PREFIX ".qk-tmp-"
#define META_MAX (64 * 1024)           /* a sidecar holds a key (<= 1 KiB) and a URI */
#define EXT_PART_MAX 12                /* longest extension part kept, e.g. "parquet" */
#define STALE_TMP_MS (60 * 60 * 1000)  /* temp files older than this are litter */
#define ENTRIES_MAX (16 * 1024 * 1024) /* objects a scan will hold */

struct qk_cache {
    char *dir;    /* absolute */
    char *objdir; /* dir/objects */
    uint64_t max;
    atomic_uint_least64_t hits, misses;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Set a file's atime and mtime to now (ns precision, so the LRU order of fast calls holds). */
static void touch(const char *path)
{
    int64_t ns = now_ns();
    struct timespec t[2] = {{.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000}};
    t[1] = t[0];
    (void)utimensat(AT_FDCWD, path, t, 0);
}

int qk_cache_default_dir(char **out, qk_err *err)
{
    return qk_default_cache_dir(out, err); /* one rule, shared with the engine */
}

/* ---- open / close ------------------------------------------------------------------------ */

static int resolve_max(uint64_t max_bytes, uint64_t *out, qk_err *err)
{
    const char *env = getenv("QUACK_CACHE_MAX");
    if (max_bytes) {
        *out = max_bytes;
        return 0;
    }
    if (!env || !*env) {
        *out = QK_CACHE_DEFAULT_MAX;
        return 0;
    }
    if (qk_parse_size(env, out, "QUACK_CACHE_MAX", err)) return QK_EINVAL;
    if (*out == 0) return qk_errf(err, QK_EINVAL, "QUACK_CACHE_MAX must be above 0");
    return 0;
}

int qk_cache_open(const char *dir, uint64_t max_bytes, qk_cache **out, qk_err *err)
{
    qk_cache *c = calloc(1, sizeof *c);
    size_t n;
    int rc;
    *out = NULL;
    if (!c) return qk_errf(err, QK_ENOMEM, "out of memory");
    if ((rc = resolve_max(max_bytes, &c->max, err))) goto out;
    rc = dir ? qk_path_abs(dir, &c->dir, err) : qk_cache_default_dir(&c->dir, err);
    if (rc) goto out;
    n = strlen(c->dir) + sizeof "/objects";
    if (!(c->objdir = malloc(n))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(c->objdir, n, "%s/objects", c->dir);
    if ((rc = qk_mkdirs(c->objdir, err))) {
        qk_err_prefix(err, "cache dir %s", c->dir);
        goto out;
    }
    *out = c;
    c = NULL;
out:
    qk_cache_close(c);
    return rc;
}

void qk_cache_close(qk_cache *c)
{
    if (!c) return;
    free(c->objdir);
    free(c->dir);
    free(c);
}

const char *qk_cache_dir(const qk_cache *c)
{
    return c->dir;
}

/* ---- naming ------------------------------------------------------------------------------ */

static bool ext_part_ok(const char *p, size_t n)
{
    if (n == 0 || n > EXT_PART_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9')))
            return false;
    return true;
}

static bool is_compression(const char *p, size_t n)
{
    static const char *const names[] = {"gz", "zst", "bz2", "xz", "lz4", "zstd", "snappy"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0) return true;
    return false;
}

/* The key's extension as DuckDB sees it: the last one (".parquet"), with the one before it when
 * the last is a compression (".csv.gz"). Only ASCII letters and digits; else "". A leading dot
 * of the file name (".hidden") is not an extension. */
QK_TESTABLE void key_ext(const char *key, char *out, size_t cap)
{
    const char *base = strrchr(key, '/'), *end, *dot, *dot2;
    base = base ? base + 1 : key;
    end = base + strlen(base);
    out[0] = '\0';
    dot = memrchr(base, '.', (size_t)(end - base));
    if (!dot || dot == base || !ext_part_ok(dot + 1, (size_t)(end - dot - 1))) return;
    if (is_compression(dot + 1, (size_t)(end - dot - 1))) {
        dot2 = memrchr(base, '.', (size_t)(dot - base));
        if (dot2 && dot2 != base && ext_part_ok(dot2 + 1, (size_t)(dot - dot2 - 1))) dot = dot2;
    }
    if ((size_t)(end - dot) < cap) memcpy(out, dot, (size_t)(end - dot) + 1);
}

/* The data path of (uri, key): caller frees. The sidecar and lock add their suffixes. */
QK_TESTABLE int object_path(const qk_cache *c, const char *uri, const char *key, char **out,
                            qk_err *err)
{
    char hex[65], ext[2 * EXT_PART_MAX + 3];
    qk_buf id, p;
    int rc;
    *out = NULL;
    qk_buf_init(&id, strlen(uri) + strlen(key) + 2);
    qk_buf_init(&p, strlen(c->objdir) + 128);
    if ((rc = qk_buf_printf(&id, "%s\n%s", uri, key)) ||
        (rc = qk_sha256_hex(id.data, id.len, hex))) {
        rc = qk_errf(err, rc, "cache: cannot hash the key %s", key);
        goto out;
    }
    key_ext(key, ext, sizeof ext);
    if ((rc = qk_buf_printf(&p, "%s/%.2s/%s%s", c->objdir, hex, hex + 2, ext))) {
        rc = qk_errf(err, rc, "cache: path too long");
        goto out;
    }
    *out = qk_buf_detach(&p, NULL);
out:
    qk_buf_free(&id);
    qk_buf_free(&p);
    return rc;
}

/* path + suffix into buf (PATH_MAX-sized). */
static const char *with_suffix(char *buf, size_t cap, const char *path, const char *suffix)
{
    snprintf(buf, cap, "%s%s", path, suffix);
    return buf;
}

/* ---- sidecars ---------------------------------------------------------------------------- */

typedef struct meta {
    json_t *root; /* owns the strings below */
    const char *uri, *key, *etag;
    uint64_t size;
    int64_t fetched_ms;
} meta;

/* Parse a sidecar; false when it is missing or malformed (then m->root is NULL). */
static bool meta_read(const char *path, meta *m)
{
    char *text = NULL;
    size_t len = 0;
    qk_err e = {0};
    json_t *sz, *ft;
    memset(m, 0, sizeof *m);
    if (qk_read_file(path, META_MAX, &text, &len, &e)) return false;
    m->root = json_loadb(text, len, 0, NULL);
    free(text);
    if (!m->root) return false;
    m->uri = json_string_value(json_object_get(m->root, "uri"));
    m->key = json_string_value(json_object_get(m->root, "key"));
    m->etag = json_string_value(json_object_get(m->root, "etag"));
    sz = json_object_get(m->root, "size");
    ft = json_object_get(m->root, "fetched_ms");
    if (!m->uri || !m->key || !m->etag || !json_is_integer(sz) || json_integer_value(sz) < 0) {
        json_decref(m->root);
        m->root = NULL;
        return false;
    }
    m->size = (uint64_t)json_integer_value(sz);
    m->fetched_ms = json_is_integer(ft) ? (int64_t)json_integer_value(ft) : 0;
    return true;
}

static int meta_text(qk_buf *b, const char *uri, const char *key, const qk_obj_info *info)
{
    int rc = qk_buf_adds(b, "{\"uri\":");
    if (!rc) rc = qk_buf_add_json_str(b, uri, strlen(uri));
    if (!rc) rc = qk_buf_adds(b, ",\"key\":");
    if (!rc) rc = qk_buf_add_json_str(b, key, strlen(key));
    if (!rc) rc = qk_buf_adds(b, ",\"etag\":");
    if (!rc) rc = qk_buf_add_json_str(b, info->etag, strlen(info->etag));
    if (!rc)
        rc = qk_buf_printf(b, ",\"size\":%llu,\"fetched_ms\":%lld}\n",
                           (unsigned long long)info->size, (long long)qk_epoch_ms());
    return rc;
}

/* Write the sidecar atomically: a temp file in its directory, then rename. */
static int meta_write(const char *path, const char *uri, const char *key, const qk_obj_info *info,
                      qk_err *err)
{
    char tmp[4096];
    const char *slash = strrchr(path, '/');
    qk_buf b;
    int fd = -1, rc;
    qk_buf_init(&b, META_MAX);
    if ((rc = meta_text(&b, uri, key, info))) {
        rc = qk_errf(err, rc, "cache: sidecar of %s too big", key);
        goto out;
    }
    snprintf(tmp, sizeof tmp, "%.*s/" TMP_PREFIX "meta-XXXXXX", (int)(slash - path), path);
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        rc = qk_errf(err, QK_EIO, "cache: cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write(fd, b.data, b.len) != (ssize_t)b.len || close(fd) != 0) {
        fd = -1;
        unlink(tmp);
        rc = qk_errf(err, QK_EIO, "cache: cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        rc = qk_errf(err, QK_EIO, "cache: cannot rename to %s: %s", path, strerror(errno));
        goto out;
    }
    touch(path);
out:
    if (fd >= 0) close(fd);
    qk_buf_free(&b);
    return rc;
}

/* A hit: the sidecar names this object at this ETag and size, and the data file has it all. */
static bool valid_copy(const char *data, const char *uri, const char *key, const qk_obj_info *info)
{
    char mp[4096];
    struct stat st;
    meta m;
    bool ok;
    if (!meta_read(with_suffix(mp, sizeof mp, data, META_SUFFIX), &m)) return false;
    ok = strcmp(m.uri, uri) == 0 && strcmp(m.key, key) == 0 && strcmp(m.etag, info->etag) == 0 &&
         m.size == info->size && stat(data, &st) == 0 && S_ISREG(st.st_mode) &&
         (uint64_t)st.st_size == m.size;
    json_decref(m.root);
    return ok;
}

/* ---- scanning and eviction --------------------------------------------------------------- */

typedef struct entry {
    char *data; /* data path (heap) */
    json_t *root;
    qk_cache_entry e;
    int64_t used_ns;
} entry;

typedef struct entries {
    entry *v;
    size_t n, cap;
} entries;

static void entries_free(entries *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->v[i].data);
        json_decref(es->v[i].root);
    }
    free(es->v);
    memset(es, 0, sizeof *es);
}

static int entries_push(entries *es, entry *e, qk_err *err)
{
    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 64;
        entry *v;
        if (cap > ENTRIES_MAX) return qk_errf(err, QK_ETOOBIG, "cache: too many objects");
        if (!(v = realloc(es->v, cap * sizeof *v))) return qk_errf(err, QK_ENOMEM, "out of memory");
        es->v = v;
        es->cap = cap;
    }
    es->v[es->n++] = *e;
    return 0;
}

/* One sidecar file found by the scan: add its object when the data file is whole. */
static int scan_meta(entries *es, const char *dir, const char *name, qk_err *err)
{
    char mp[4096];
    size_t n = strlen(name) - strlen(META_SUFFIX);
    struct stat ms, ds;
    meta m;
    entry e = {0};
    int rc;
    if (snprintf(mp, sizeof mp, "%s/%s", dir, name) >= (int)sizeof mp) return 0;
    if (stat(mp, &ms) != 0 || !meta_read(mp, &m)) return 0;
    if (!(e.data = malloc(strlen(dir) + n + 2))) {
        json_decref(m.root);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    snprintf(e.data, strlen(dir) + n + 2, "%s/%.*s", dir, (int)n, name);
    if (stat(e.data, &ds) != 0 || (uint64_t)ds.st_size != m.size) {
        free(e.data);
        json_decref(m.root);
        return 0;
    }
    e.root = m.root;
    e.used_ns = (int64_t)ms.st_mtim.tv_sec * 1000000000 + ms.st_mtim.tv_nsec;
    e.e = (qk_cache_entry){.uri = m.uri,
                           .key = m.key,
                           .etag = m.etag,
                           .path = e.data,
                           .size = m.size,
                           .fetched_ms = m.fetched_ms,
                           .last_used_ms = e.used_ns / 1000000};
    if ((rc = entries_push(es, &e, err))) {
        free(e.data);
        json_decref(e.root);
    }
    return rc;
}

/* Remove a temp file left by a process that died mid-download. */
static void sweep_tmp(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return;
    if (stat(p, &st) == 0 && qk_epoch_ms() - ((int64_t)st.st_mtim.tv_sec * 1000) > STALE_TMP_MS)
        unlink(p);
}

static int scan_subdir(entries *es, const char *dir, qk_err *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;
    if (!d) return 0; /* removed meanwhile */
    while (!rc && (de = readdir(d)) != NULL) {
        if (qk_str_startswith(de->d_name, TMP_PREFIX))
            sweep_tmp(dir, de->d_name);
        else if (qk_str_endswith(de->d_name, META_SUFFIX))
            rc = scan_meta(es, dir, de->d_name, err);
    }
    closedir(d);
    return rc;
}

static int by_used_desc(const void *a, const void *b)
{
    int64_t x = ((const entry *)a)->used_ns, y = ((const entry *)b)->used_ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every cached object, most recently used first. */
static int scan(qk_cache *c, entries *es, qk_err *err)
{
    DIR *d = opendir(c->objdir);
    struct dirent *de;
    char sub[4096];
    int rc = 0;
    memset(es, 0, sizeof *es);
    if (!d) return qk_errf(err, QK_EIO, "cache: cannot read %s: %s", c->objdir, strerror(errno));
    while (!rc && (de = readdir(d)) != NULL) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.') continue;
        if (snprintf(sub, sizeof sub, "%s/%s", c->objdir, de->d_name) >= (int)sizeof sub) continue;
        rc = scan_subdir(es, sub, err);
    }
    closedir(d);
    if (rc)
        entries_free(es);
    else if (es->n > 1)
        qsort(es->v, es->n, sizeof *es->v, by_used_desc);
    return rc;
}

/* Remove an object: sidecar first (so the data is a miss from then on), then data and lock. */
static void remove_object(const char *data)
{
    char p[4096];
    unlink(with_suffix(p, sizeof p, data, META_SUFFIX));
    unlink(data);
    unlink(with_suffix(p, sizeof p, data, LOCK_SUFFIX));
}

/* Trim to 90% of the limit, least recently used first, never `keep`. */
static int evict(qk_cache *c, const char *keep, qk_err *err)
{
    entries es;
    uint64_t total = 0, target = c->max / 10 * 9;
    int rc = scan(c, &es, err);
    if (rc) return rc;
    for (size_t i = 0; i < es.n; i++)
        total += es.v[i].e.size;
    if (total <= c->max) target = total; /* under the limit: nothing to do */
    for (size_t i = es.n; i-- > 0 && total > target;) {
        if (strcmp(es.v[i].data, keep) == 0) continue;
        remove_object(es.v[i].data);
        total -= es.v[i].e.size;
        qk_log(QK_LOG_DEBUG, "cache_evict", "\"bytes\":%llu", (unsigned long long)es.v[i].e.size);
    }
    entries_free(&es);
    return 0;
}

/* ---- fetch ------------------------------------------------------------------------------- */

/* Open and flock the object's lock file; -1 (error in err) when it cannot. */
static int lock_object(const char *data, qk_err *err)
{
    char lp[4096];
    int fd;
    with_suffix(lp, sizeof lp, data, LOCK_SUFFIX);
    if ((fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
        qk_errf(err, QK_EIO, "cache: cannot open %s: %s", lp, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        qk_errf(err, QK_EIO, "cache: cannot lock %s: %s", lp, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Under the object's lock: download it and write its sidecar. */
static int download(qk_store *s, const char *key, const char *data, const qk_obj_info *want,
                    qk_err *err)
{
    char mp[4096];
    qk_obj_info got = {0};
    int rc;
    with_suffix(mp, sizeof mp, data, META_SUFFIX);
    if (unlink(mp) != 0 && errno != ENOENT)
        return qk_errf(err, QK_EIO, "cache: cannot remove %s: %s", mp, strerror(errno));
    if ((rc = qk_store_get_file(s, key, data, &got, err))) return rc;
    if (!got.etag[0]) { /* a backend that does not report what it sent: trust the HEAD */
        memcpy(got.etag, want->etag, sizeof got.etag);
        got.size = want->size;
    }
    return meta_write(mp, qk_store_uri(s), key, &got, err);
}

/* The hit path, and the miss path under the object's lock. */
static int fetch_locked(qk_store *s, const char *key, const qk_obj_info *info, const char *data,
                        bool *hit, qk_err *err)
{
    char sub[4096];
    const char *slash = strrchr(data, '/');
    int fd, rc;
    snprintf(sub, sizeof sub, "%.*s", (int)(slash - data), data);
    if ((rc = qk_mkdirs(sub, err))) return rc;
    if ((fd = lock_object(data, err)) < 0) return QK_EIO;
    *hit = valid_copy(data, qk_store_uri(s), key, info); /* fetched meanwhile by another */
    rc = *hit ? 0 : download(s, key, data, info, err);
    close(fd); /* releases the lock */
    return rc;
}

int qk_cache_fetch(qk_cache *c, qk_store *s, const char *key, const qk_obj_info *known,
                   char **local_path_out, bool *hit, qk_err *err)
{
    qk_obj_info head;
    char *data = NULL, mp[4096];
    bool h = false;
    int rc;
    *local_path_out = NULL;
    if (!known) {
        if ((rc = qk_store_head(s, key, &head, err))) return rc;
        known = &head;
    }
    if ((rc = object_path(c, qk_store_uri(s), key, &data, err))) return rc;
    h = valid_copy(data, qk_store_uri(s), key, known);
    if (!h && (rc = fetch_locked(s, key, known, data, &h, err))) {
        qk_err_prefix(err, "cache");
        goto out;
    }
    if (h) {
        touch(with_suffix(mp, sizeof mp, data, META_SUFFIX));
        atomic_fetch_add(&c->hits, 1);
    } else {
        atomic_fetch_add(&c->misses, 1);
        if ((rc = evict(c, data, err))) goto out;
    }
    qk_log(QK_LOG_DEBUG, "cache_fetch", "\"hit\":%s", h ? "true" : "false");
    if (hit) *hit = h;
    *local_path_out = data;
    data = NULL;
out:
    free(data);
    return rc;
}

/* ---- stats, list, clear ------------------------------------------------------------------ */

int qk_cache_stats_get(qk_cache *c, qk_cache_stats *st, qk_err *err)
{
    entries es;
    int rc = scan(c, &es, err);
    memset(st, 0, sizeof *st);
    if (rc) return rc;
    st->objects = es.n;
    for (size_t i = 0; i < es.n; i++)
        st->bytes += es.v[i].e.size;
    st->max_bytes = c->max;
    st->hits = atomic_load(&c->hits);
    st->misses = atomic_load(&c->misses);
    entries_free(&es);
    return 0;
}

int qk_cache_list(qk_cache *c, qk_cache_list_cb cb, void *ud, qk_err *err)
{
    entries es;
    int rc = scan(c, &es, err);
    for (size_t i = 0; !rc && i < es.n; i++)
        rc = cb(ud, &es.v[i].e, err);
    entries_free(&es);
    return rc;
}

int qk_cache_clear(qk_cache *c, uint64_t *objects, uint64_t *bytes, qk_err *err)
{
    entries es;
    uint64_t n = 0, b = 0;
    int rc = scan(c, &es, err);
    if (rc) return rc;
    for (size_t i = 0; i < es.n; i++) {
        n++;
        b += es.v[i].e.size;
    }
    entries_free(&es);
    if ((rc = qk_rmtree(c->objdir, true, err))) { /* keep objects/ itself */
        qk_err_prefix(err, "cache: cannot clear");
        return rc;
    }
    if (objects) *objects = n;
    if (bytes) *bytes = b;
    return 0;
}
