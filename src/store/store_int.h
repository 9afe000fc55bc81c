/* SPDX-License-Identifier: MIT */
/*
 * store_int.h: what a store backend implements (private to src/store).
 *
 * A backend embeds struct qk_store as its first member and fills a static qk_store_ops. The
 * qk_store_* wrappers in store.c have already validated every argument (keys: 1..1024 bytes of
 * valid UTF-8 without a leading '/'; ranges; max_keys normalized to 1..1000; delete_many count)
 * and cleared the outputs (page zeroed with its arena initialized, info zeroed with key set)
 * before an op is called; a backend adds its own checks (the local one refuses keys with
 * ".", ".." or empty path segments). Ops write err where they fail, like every other function.
 */
#ifndef QK_STORE_INT_H
#define QK_STORE_INT_H

#include "store/store.h"

typedef struct qk_store_ops {
    const char *name; /* "local", "s3" */
    /* Backend-specific key rules beyond S3's (may be NULL); called by every wrapper, so
     * delete_many can refuse a batch before deleting anything. */
    int (*check_key)(qk_store *s, const char *key, const char *what, qk_err *err);
    int (*list)(qk_store *s, const qk_list_req *req, qk_list_page *page, qk_err *err);
    int (*head)(qk_store *s, const char *key, qk_obj_info *out, qk_err *err);
    int (*get)(qk_store *s, const char *key, uint64_t offset, uint64_t len, qk_buf *out,
               qk_obj_info *info, qk_err *err);
    int (*get_file)(qk_store *s, const char *key, const char *dest_path, qk_obj_info *info,
                    qk_err *err);
    int (*put)(qk_store *s, const char *key, const void *data, size_t len, qk_err *err);
    int (*put_file)(qk_store *s, const char *key, const char *src_path, qk_err *err);
    int (*put_if_absent)(qk_store *s, const char *key, const void *data, size_t len, qk_err *err);
    int (*delete_key)(qk_store *s, const char *key, qk_err *err);
    int (*delete_many)(qk_store *s, const char *const *keys, size_t n, qk_err *err);
    int (*copy)(qk_store *s, const char *src, const char *dst, qk_err *err);
    int (*create_root)(qk_store *s, qk_err *err);
    void (*destroy)(qk_store *s); /* frees the backend's state, s->uri and s itself */
} qk_store_ops;

struct qk_store {
    const qk_store_ops *ops;
    char *uri; /* set by the backend's open, freed by its destroy */
};

/* Backend constructors, called by qk_store_open with the part of the URI that names the root.
 * The local one takes a path (made absolute and normalized). */
int qk_store_local_open(const char *path, qk_store **out, qk_err *err);
/* The S3 one takes the whole "s3://bucket/prefix" URI (s3.c). */
int qk_store_s3_open(const char *uri, qk_store **out, qk_err *err);

/* Add a copy of s to the page's arena (NULL when out of memory). */
char *qk_list_page_strdup(qk_list_page *page, const char *s, size_t n);

#endif
