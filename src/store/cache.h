/* SPDX-License-Identifier: MIT */
/*
 * cache.h: the local cache of remote objects (DESIGN.md sections 2 and 4; docs/cache.md).
 *
 * Objects that queries read from a qk_store (S3, or any backend) are mirrored as plain files so
 * DuckDB can read them locally. Layout under the cache dir:
 *   objects/<h[0..2]>/<h[2..64]><ext>        the data (h = sha256(store uri + "\n" + key);
 *                                            ext = the key's extension, e.g. ".parquet",
 *                                            ".csv.gz", so DuckDB picks the right reader)
 *   objects/<h[0..2]>/<h[2..64]><ext>.meta   sidecar JSON {uri, key, etag, size, fetched_ms};
 *                                            its mtime is the LRU clock (touched on every hit)
 *   objects/<h[0..2]>/<h[2..64]><ext>.lock   flock(2) per object, so concurrent fetches of one
 *                                            object download it once
 * A hit needs a sidecar whose uri, key, ETag and size match the object and a data file of that
 * size. The data is written first (temp + rename, by qk_store_get_file), then the sidecar
 * (temp + rename); an old sidecar is removed before its data is replaced, so a sidecar never
 * claims an ETag its data file does not have. After each insert the cache is trimmed to 90% of
 * its limit, least recently used first (never the object just fetched).
 *
 * Thread safety: a qk_cache may be used from several threads and processes at once.
 */
#ifndef QK_CACHE_H
#define QK_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

#define QK_CACHE_DEFAULT_MAX (10ULL << 30) /* 10 GiB */

typedef struct qk_cache qk_cache;

/* The default cache dir, the engine's rule (src/engine/engine.c): $XDG_CACHE_HOME/quack when
 * XDG_CACHE_HOME is an absolute path, else ~/.cache/quack when HOME is a writable directory,
 * else /tmp/quack-cache (AWS Lambda). *out is absolute; the caller frees it. */
int qk_cache_default_dir(char **out, qk_err *err);

/* Open (creating it if needed) the cache in dir (NULL = qk_cache_default_dir) with a size limit
 * of max_bytes (0 = $QUACK_CACHE_MAX parsed by qk_parse_size, else QK_CACHE_DEFAULT_MAX; a bad
 * QUACK_CACHE_MAX is QK_EINVAL). *out is freed with qk_cache_close. */
int qk_cache_open(const char *dir, uint64_t max_bytes, qk_cache **out, qk_err *err);
/* Accepts NULL. */
void qk_cache_close(qk_cache *c);
/* The absolute cache dir, borrowed until qk_cache_close. */
const char *qk_cache_dir(const qk_cache *c);

/* Make the object `key` of store s available as a local file. known (may be NULL: then the
 * object is HEADed) gives the ETag and size the cached copy must have. On success *local_path_out
 * (caller frees) is a complete file with the object's bytes and *hit tells whether it was
 * already cached (hit may be NULL). A miss downloads the object; the file is published only
 * complete. */
int qk_cache_fetch(qk_cache *c, qk_store *s, const char *key, const qk_obj_info *known,
                   char **local_path_out, bool *hit, qk_err *err);

typedef struct qk_cache_stats {
    uint64_t objects;      /* cached objects (with a valid sidecar) */
    uint64_t bytes;        /* their data bytes */
    uint64_t max_bytes;    /* the limit */
    uint64_t hits, misses; /* qk_cache_fetch outcomes of this qk_cache (this process) */
} qk_cache_stats;

int qk_cache_stats_get(qk_cache *c, qk_cache_stats *st, qk_err *err);

/* One cached object, all strings borrowed for the callback. */
typedef struct qk_cache_entry {
    const char *uri, *key, *etag;
    const char *path; /* the data file */
    uint64_t size;
    int64_t fetched_ms, last_used_ms; /* ms since 1970 */
} qk_cache_entry;

/* A non-zero return stops the listing and is returned by qk_cache_list. */
typedef int (*qk_cache_list_cb)(void *ud, const qk_cache_entry *e, qk_err *err);
/* Call cb for each cached object, most recently used first. Never calls cb after an error. */
int qk_cache_list(qk_cache *c, qk_cache_list_cb cb, void *ud, qk_err *err);

/* Remove every file under the cache's objects/ folder (also temp and orphan files). *objects and
 * *bytes (each may be NULL) get how many cached objects and data bytes were removed. */
int qk_cache_clear(qk_cache *c, uint64_t *objects, uint64_t *bytes, qk_err *err);

#endif
