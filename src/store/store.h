/* SPDX-License-Identifier: MIT */
/*
 * store.h: the object-store interface (DESIGN.md sections 2, 4 and 6).
 *
 * One interface, two backends: a local directory and S3 (s3://bucket/prefix). Both follow S3's
 * semantics: a flat namespace of keys (UTF-8, 1..1024 bytes, '/' not special except as a list
 * delimiter), whole-object replace on put, listing in byte order with prefix, delimiter and
 * continuation tokens, byte-range gets, a distinct "already exists" from put_if_absent (Delta
 * commits depend on it), and deletes of missing keys that succeed. "Folders" exist only through
 * their keys. docs/internals/store.md describes the semantics and the local mapping.
 *
 * Thread safety: a qk_store may be used from several threads at once; it has no mutable state
 * of its own (an S3 backend keeps its connection pool and parallel parts behind these calls).
 * Every call returns 0 or a negative QK_E* code with the detail in err.
 */
#ifndef QK_STORE_H
#define QK_STORE_H

#include <stdint.h>

#include "core/core.h"

#define QK_STORE_KEY_MAX 1024         /* bytes, like S3 */
#define QK_STORE_LIST_MAX 1000        /* keys + common prefixes per page, like S3 */
#define QK_STORE_DELETE_MANY_MAX 1000 /* keys per qk_store_delete_many, like S3 */
#define QK_STORE_ETAG_MAX 72

typedef struct qk_store qk_store;

/* What head, get and list say about an object. key is borrowed: from the page for a listing,
 * the caller's key argument for head and get. etag is quoted like S3's ("..."); for the local
 * backend it is a strong validator made of size, mtime in ns and inode (it changes whenever
 * the object is replaced), not an MD5. */
typedef struct qk_obj_info {
    const char *key;
    uint64_t size;
    int64_t mtime_ms; /* last modified, ms since 1970 */
    char etag[QK_STORE_ETAG_MAX];
} qk_obj_info;

/* Open a store. uri: a local directory path ("lake", "/data/lake"), "file:///abs/dir", or
 * "s3://bucket/prefix". A local root need not exist yet (it is created by the first put, like an
 * empty S3 prefix); it must not be a file. QK_EINVAL for an unknown scheme. *out is freed with
 * qk_store_destroy. */
int qk_store_open(const char *uri, qk_store **out, qk_err *err);
/* Accepts NULL. */
void qk_store_destroy(qk_store *s);
/* The root: an absolute directory for the local backend, "s3://bucket/prefix" for S3.
 * Borrowed until qk_store_destroy. */
const char *qk_store_uri(const qk_store *s);
/* Backend name: "local" or "s3" (static storage). */
const char *qk_store_backend(const qk_store *s);

/* ---- list -------------------------------------------------------------------------------- */

typedef struct qk_list_req {
    const char *prefix;    /* NULL or "" = all keys */
    const char *delimiter; /* NULL or "" = none; usually "/" */
    const char *token;     /* NULL for the first page, else the previous page's next_token */
    size_t max_keys;       /* keys + common prefixes per page: 0 = 1000; above 1000 = 1000 */
} qk_list_req;

/* One page of a listing. objs and common_prefixes are each in byte order; together they hold
 * at most max_keys entries. Everything is owned by the page (an arena) until qk_list_page_free. */
typedef struct qk_list_page {
    qk_obj_info *objs;
    size_t n;
    char **common_prefixes; /* each ends with the delimiter */
    size_t nprefixes;
    char *next_token; /* opaque; NULL when the listing is complete */
    qk_arena arena;
} qk_list_page;

/* List one page of keys under req->prefix, rolling keys that contain the delimiter after the
 * prefix up into common prefixes (like S3's ListObjectsV2). *page need not be initialized; it
 * is always left valid for qk_list_page_free, also on error. */
int qk_store_list(qk_store *s, const qk_list_req *req, qk_list_page *page, qk_err *err);
/* Free a page's memory (accepts NULL and a zeroed page). */
void qk_list_page_free(qk_list_page *page);

/* Called once per entry, in byte order: exactly one of obj and common_prefix is non-NULL (both
 * borrowed for the call). A non-zero return stops the listing and is returned by list_all. */
typedef int (*qk_store_list_cb)(void *ud, const qk_obj_info *obj, const char *common_prefix,
                                qk_err *err);
/* Page through the whole listing. The callback is never called after an error. */
int qk_store_list_all(qk_store *s, const char *prefix, const char *delimiter, qk_store_list_cb cb,
                      void *ud, qk_err *err);

/* A listing kept in memory: entries own their keys. Zero-initialize, free with
 * qk_obj_list_free. */
typedef struct qk_obj_entry {
    char *key;
    uint64_t size;
    int64_t mtime_ms;
    char etag[QK_STORE_ETAG_MAX];
} qk_obj_entry;

typedef struct qk_obj_list {
    qk_obj_entry *v;
    size_t n, cap;
} qk_obj_list;

/* Append a copy of o (its key duplicated). QK_ENOMEM. */
int qk_obj_list_add(qk_obj_list *l, const qk_obj_info *o, qk_err *err);
/* Free the entries and their keys; l is left empty and reusable. Accepts NULL. */
void qk_obj_list_free(qk_obj_list *l);
/* Append every object under prefix (NULL: all), in byte order, folder markers included. */
int qk_store_list_collect(qk_store *s, const char *prefix, qk_obj_list *out, qk_err *err);

/* ---- read -------------------------------------------------------------------------------- */

/* QK_ENOTFOUND (message names the key) when there is no such object. */
int qk_store_head(qk_store *s, const char *key, qk_obj_info *out, qk_err *err);

#define QK_STORE_TO_END UINT64_MAX
/* Append bytes [offset, offset+len) of the object to out (len QK_STORE_TO_END = to the end; a
 * range reaching past the end is cut at the end, like S3). QK_EINVAL for an unsatisfiable range
 * (offset at or past the end of a non-empty object, or len 0), like S3's 416 InvalidRange;
 * offset 0 with QK_STORE_TO_END always works, also for an empty object. QK_ETOOBIG (out
 * unchanged) when the bytes do not fit under out->max. info (may be NULL) describes the whole
 * object. */
int qk_store_get(qk_store *s, const char *key, uint64_t offset, uint64_t len, qk_buf *out,
                 qk_obj_info *info, qk_err *err);
/* Download the whole object to dest_path atomically: a temp file in dest's directory (created
 * if missing), fsync, rename. Concurrent readers of dest_path see the old file or the new one,
 * never half of one. info may be NULL. */
int qk_store_get_file(qk_store *s, const char *key, const char *dest_path, qk_obj_info *info,
                      qk_err *err);

/* ---- write ------------------------------------------------------------------------------- */

/* Create or replace the object with len bytes of data, atomically (readers see the old object or
 * the new one). */
int qk_store_put(qk_store *s, const char *key, const void *data, size_t len, qk_err *err);
/* Like qk_store_put with the contents of the local file src_path (S3: multipart upload with
 * parallel parts when the file is large). */
int qk_store_put_file(qk_store *s, const char *key, const char *src_path, qk_err *err);
/* Create the object only if no object has that key: QK_EEXIST ("already exists: <key>") when
 * one does, and the existing object is unchanged. Of several concurrent writers, in one process
 * or many, exactly one succeeds. This is the commit primitive of Delta tables. */
int qk_store_put_if_absent(qk_store *s, const char *key, const void *data, size_t len, qk_err *err);
/* Delete an object. A missing key is success (like S3). */
int qk_store_delete(qk_store *s, const char *key, qk_err *err);
/* Delete up to 1000 keys. All keys are validated first (nothing is deleted if one is invalid);
 * then every key is attempted and the first failure is reported. */
int qk_store_delete_many(qk_store *s, const char *const *keys, size_t n, qk_err *err);
/* Server-side copy of src to dst (dst created or replaced atomically). QK_ENOTFOUND for a
 * missing src. */
int qk_store_copy(qk_store *s, const char *src, const char *dst, qk_err *err);

/* ---- roots ------------------------------------------------------------------------------- */

/* Make sure the store's root exists: S3 creates the bucket (in the configured region) unless
 * this account already has it; local creates the directory. QK_EEXIST when the bucket name
 * belongs to another account. */
int qk_store_create_root(qk_store *s, qk_err *err);

#endif
