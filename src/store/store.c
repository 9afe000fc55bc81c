/* SPDX-License-Identifier: MIT */
/*
 * store.c: opening a store by URI and the qk_store_* entry points.
 *
 * qk_store_open dispatches on the URI: a path or file:// URI -> the local backend (local.c);
 * s3://bucket/prefix -> the S3 backend (s3.c). Every other entry
 * point validates its arguments once, here, with S3's rules (a key is 1..1024 bytes of valid
 * UTF-8 without a leading '/'), clears the outputs and calls the backend's op (store_int.h).
 * qk_store_list_all pages through qk_store_list and merges each page's keys and common prefixes
 * back into one byte-ordered stream for its callback.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define LIST_ARENA_MAX (64u << 20) /* one page: 1000 keys of at most 1 KiB, with room to spare */

/* ---- argument checks --------------------------------------------------------------------- */

static bool utf8_valid(const char *s, size_t n)
{
    size_t i = 0, l;
    while (i < n) {
        if ((l = qk_utf8_len((const unsigned char *)s + i, n - i)) == 0) return false;
        i += l;
    }
    return true;
}

static int store_check_key(const char *key, const char *what, qk_err *err)
{
    size_t n;
    if (!key || !*key) return qk_errf(err, QK_EINVAL, "%s: empty key", what);
    n = strlen(key);
    if (n > QK_STORE_KEY_MAX)
        return qk_errf(err, QK_EINVAL, "%s: key of %zu bytes (at most %d): %.64s...", what, n,
                       QK_STORE_KEY_MAX, key);
    if (!utf8_valid(key, n)) return qk_errf(err, QK_EINVAL, "%s: key is not valid UTF-8", what);
    if (key[0] == '/') return qk_errf(err, QK_EINVAL, "%s: key starts with '/': %s", what, key);
    return 0;
}

/* S3's rules, then the backend's own (the local one refuses "..", empty segments, ...). */
static int key_ok(qk_store *s, const char *key, const char *what, qk_err *err)
{
    int rc = store_check_key(key, what, err);
    if (!rc && s->ops->check_key) rc = s->ops->check_key(s, key, what, err);
    return rc;
}

static int check_str(const char *s, size_t max, const char *what, qk_err *err)
{
    size_t n;
    if (!s) return 0;
    n = strlen(s);
    if (n > max)
        return qk_errf(err, QK_EINVAL, "list: %s of %zu bytes (at most %zu)", what, n, max);
    if (!utf8_valid(s, n)) return qk_errf(err, QK_EINVAL, "list: %s is not valid UTF-8", what);
    return 0;
}

static int check_store(const qk_store *s, const char *what, qk_err *err)
{
    if (!s) return qk_errf(err, QK_EINVAL, "%s: no store", what);
    return 0;
}

/* ---- open -------------------------------------------------------------------------------- */

/* True when uri starts with "<scheme>://" where scheme is letters, digits, '+', '-', '.'. */
static bool has_scheme(const char *uri)
{
    const char *p = uri;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    return p > uri && strncmp(p, "://", 3) == 0;
}

int qk_store_open(const char *uri, qk_store **out, qk_err *err)
{
    *out = NULL;
    if (!uri || !*uri) return qk_errf(err, QK_EINVAL, "store: empty URI");
    if (qk_str_startswith(uri, "s3://")) return qk_store_s3_open(uri, out, err);
    if (qk_str_startswith(uri, "file://")) {
        const char *path = uri + 7;
        if (qk_str_startswith(path, "localhost/")) path += 9;
        if (path[0] != '/')
            return qk_errf(err, QK_EINVAL, "store: file URI must be file:///absolute/path: %s",
                           uri);
        return qk_store_local_open(path, out, err);
    }
    if (has_scheme(uri))
        return qk_errf(err, QK_EINVAL,
                       "store: unknown URI scheme (use a path, file:// or s3://): %s", uri);
    return qk_store_local_open(uri, out, err);
}

void qk_store_destroy(qk_store *s)
{
    if (s) s->ops->destroy(s);
}

const char *qk_store_uri(const qk_store *s)
{
    return s ? s->uri : NULL;
}

const char *qk_store_backend(const qk_store *s)
{
    return s ? s->ops->name : NULL;
}

/* ---- list -------------------------------------------------------------------------------- */

void qk_list_page_free(qk_list_page *page)
{
    if (!page) return;
    qk_arena_free(&page->arena);
    memset(page, 0, sizeof *page);
}

char *qk_list_page_strdup(qk_list_page *page, const char *s, size_t n)
{
    return qk_arena_strndup(&page->arena, s, n);
}

int qk_store_list(qk_store *s, const qk_list_req *req, qk_list_page *page, qk_err *err)
{
    qk_list_req r;
    int rc;
    memset(page, 0, sizeof *page);
    qk_arena_init(&page->arena, LIST_ARENA_MAX);
    if ((rc = check_store(s, "list", err))) return rc;
    if (!req) return qk_errf(err, QK_EINVAL, "list: no request");
    r = *req;
    if (r.prefix && !*r.prefix) r.prefix = NULL;
    if (r.delimiter && !*r.delimiter) r.delimiter = NULL;
    if (r.token && !*r.token) r.token = NULL;
    if (r.max_keys == 0 || r.max_keys > QK_STORE_LIST_MAX) r.max_keys = QK_STORE_LIST_MAX;
    if ((rc = check_str(r.prefix, QK_STORE_KEY_MAX, "prefix", err)) ||
        (rc = check_str(r.delimiter, 16, "delimiter", err)) ||
        (rc = check_str(r.token, 2 * QK_STORE_KEY_MAX, "continuation token", err)))
        return rc;
    rc = s->ops->list(s, &r, page, err);
    if (rc) qk_list_page_free(page);
    return rc;
}

/* Deliver one page to the callback, objects and prefixes merged in byte order. */
static int deliver_page(const qk_list_page *pg, qk_store_list_cb cb, void *ud, qk_err *err)
{
    size_t i = 0, j = 0;
    int rc = 0;
    while (!rc && (i < pg->n || j < pg->nprefixes)) {
        bool obj = j == pg->nprefixes ||
                   (i < pg->n && strcmp(pg->objs[i].key, pg->common_prefixes[j]) < 0);
        rc = obj ? cb(ud, &pg->objs[i++], NULL, err) : cb(ud, NULL, pg->common_prefixes[j++], err);
    }
    return rc;
}

int qk_store_list_all(qk_store *s, const char *prefix, const char *delimiter, qk_store_list_cb cb,
                      void *ud, qk_err *err)
{
    qk_list_page pg = {0};
    char *token = NULL;
    int rc;
    if (!cb) return qk_errf(err, QK_EINVAL, "list: no callback");
    for (;;) {
        qk_list_req req = {prefix, delimiter, token, 0};
        rc = qk_store_list(s, &req, &pg, err);
        free(token);
        token = NULL;
        if (rc) goto out;
        if ((rc = deliver_page(&pg, cb, ud, err))) goto out;
        if (!pg.next_token) break;
        if (!(token = strdup(pg.next_token))) {
            rc = qk_errf(err, QK_ENOMEM, "list: out of memory");
            goto out;
        }
        qk_list_page_free(&pg);
    }
out:
    qk_list_page_free(&pg);
    free(token);
    return rc;
}

/* ---- read -------------------------------------------------------------------------------- */

static void info_init(qk_obj_info *info, const char *key)
{
    if (!info) return;
    memset(info, 0, sizeof *info);
    info->key = key;
}

int qk_store_head(qk_store *s, const char *key, qk_obj_info *out, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "head", err)) || (rc = key_ok(s, key, "head", err))) return rc;
    if (!out) return qk_errf(err, QK_EINVAL, "head: no output");
    info_init(out, key);
    return s->ops->head(s, key, out, err);
}

int qk_store_get(qk_store *s, const char *key, uint64_t offset, uint64_t len, qk_buf *out,
                 qk_obj_info *info, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "get", err)) || (rc = key_ok(s, key, "get", err))) return rc;
    if (!out) return qk_errf(err, QK_EINVAL, "get: no output buffer");
    if (len == 0) return qk_errf(err, QK_EINVAL, "get %s: empty range", key);
    info_init(info, key);
    return s->ops->get(s, key, offset, len, out, info, err);
}

int qk_store_get_file(qk_store *s, const char *key, const char *dest_path, qk_obj_info *info,
                      qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "get", err)) || (rc = key_ok(s, key, "get", err))) return rc;
    if (!dest_path || !*dest_path) return qk_errf(err, QK_EINVAL, "get %s: no destination", key);
    info_init(info, key);
    return s->ops->get_file(s, key, dest_path, info, err);
}

/* ---- write ------------------------------------------------------------------------------- */

int qk_store_put(qk_store *s, const char *key, const void *data, size_t len, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "put", err)) || (rc = key_ok(s, key, "put", err))) return rc;
    if (!data && len) return qk_errf(err, QK_EINVAL, "put %s: no data", key);
    return s->ops->put(s, key, data ? data : "", len, err);
}

int qk_store_put_file(qk_store *s, const char *key, const char *src_path, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "put", err)) || (rc = key_ok(s, key, "put", err))) return rc;
    if (!src_path || !*src_path) return qk_errf(err, QK_EINVAL, "put %s: no source file", key);
    return s->ops->put_file(s, key, src_path, err);
}

int qk_store_put_if_absent(qk_store *s, const char *key, const void *data, size_t len, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "put", err)) || (rc = key_ok(s, key, "put", err))) return rc;
    if (!data && len) return qk_errf(err, QK_EINVAL, "put %s: no data", key);
    return s->ops->put_if_absent(s, key, data ? data : "", len, err);
}

int qk_store_delete(qk_store *s, const char *key, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "delete", err)) || (rc = key_ok(s, key, "delete", err))) return rc;
    return s->ops->delete_key(s, key, err);
}

int qk_store_delete_many(qk_store *s, const char *const *keys, size_t n, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "delete", err))) return rc;
    if (n > QK_STORE_DELETE_MANY_MAX)
        return qk_errf(err, QK_EINVAL, "delete: %zu keys in one call (at most %d)", n,
                       QK_STORE_DELETE_MANY_MAX);
    if (n && !keys) return qk_errf(err, QK_EINVAL, "delete: no keys");
    for (size_t i = 0; i < n; i++) {
        if ((rc = key_ok(s, keys[i], "delete", err))) {
            qk_err_prefix(err, "key %zu", i);
            return rc;
        }
    }
    return n ? s->ops->delete_many(s, keys, n, err) : 0;
}

int qk_store_copy(qk_store *s, const char *src, const char *dst, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "copy", err)) || (rc = key_ok(s, src, "copy", err)) ||
        (rc = key_ok(s, dst, "copy", err)))
        return rc;
    return s->ops->copy(s, src, dst, err);
}

int qk_store_create_root(qk_store *s, qk_err *err)
{
    int rc;
    if ((rc = check_store(s, "create", err))) return rc;
    return s->ops->create_root(s, err);
}

/* ---- in-memory listings -------------------------------------------------------------------- */

int qk_obj_list_add(qk_obj_list *l, const qk_obj_info *o, qk_err *err)
{
    qk_obj_entry *x;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        qk_obj_entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory listing objects");
        l->v = v;
        l->cap = cap;
    }
    x = &l->v[l->n];
    if (!(x->key = strdup(o->key))) return qk_errf(err, QK_ENOMEM, "out of memory");
    x->size = o->size;
    x->mtime_ms = o->mtime_ms;
    qk_strlcpy(x->etag, o->etag, sizeof x->etag);
    l->n++;
    return 0;
}

void qk_obj_list_free(qk_obj_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].key);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int collect_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    (void)cp;
    return obj ? qk_obj_list_add(ud, obj, err) : 0;
}

int qk_store_list_collect(qk_store *s, const char *prefix, qk_obj_list *out, qk_err *err)
{
    return qk_store_list_all(s, prefix, NULL, collect_cb, out, err);
}
