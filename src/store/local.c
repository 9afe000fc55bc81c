/* SPDX-License-Identifier: MIT */
/*
 * local.c: the local-directory backend of the object store.
 *
 * Mapping: key "a/b/c.parquet" is the regular file <root>/a/b/c.parquet. Directories are not
 * objects: they are created on put and removed on delete once empty, so a "folder" exists only
 * through its keys, like S3. Keys the filesystem cannot hold exactly are refused (QK_EINVAL):
 * empty, "." or ".." segments (this is also what keeps keys inside the root), segments over
 * NAME_MAX, and segments starting with ".qk-tmp-" (our temp files). A key cannot be both an
 * object and a folder of other keys ("a" and "a/b"); the second put fails.
 *
 * Atomicity: every write goes to ".qk-tmp-XXXXXX" in the target's directory, is fsynced, then
 * renamed over the target (put, copy, get_file) or hard-linked to it (put_if_absent: link(2)
 * fails with EEXIST if the name exists, so of N concurrent writers in any processes exactly one
 * wins and the winner's file is complete before it becomes visible); the directory is fsynced.
 *
 * Listing walks the tree from the deepest directory named by the prefix, reading each directory
 * whole and sorting it with directory names compared as "name/", which yields keys in exact byte
 * order. Subtrees that cannot match the prefix or lie before the continuation token are skipped,
 * and with delimiter "/" a subdirectory is rolled up into its common prefix without being walked
 * (beyond finding one object in it). The continuation token is the last key or common prefix
 * returned. Temp files, symlinks and special files are never listed.
 *
 * Symlinks: the final component is opened with O_NOFOLLOW and the walk never enters a symlinked
 * directory, but symlinked directories in the middle of a key's path are followed by head, get
 * and put: the root should not contain symlinks (documented limit).
 * Thread-safe: the store holds only its immutable root path.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#define TMP_PREFIX ".qk-tmp-"
#define COPY_CHUNK 65536

typedef struct local_store {
    qk_store base; /* base.uri is the root: absolute, normalized, no trailing '/' */
    size_t root_len;
} local_store;

static const char *root_of(qk_store *s)
{
    return s->uri;
}

/* ---- keys and paths ---------------------------------------------------------------------- */

/* 0 when the n bytes at seg can be one path segment of a key. */
static bool seg_ok(const char *seg, size_t n)
{
    if (n == 0 || n > NAME_MAX) return false;
    if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return false;
    return !(n >= sizeof TMP_PREFIX - 1 && memcmp(seg, TMP_PREFIX, sizeof TMP_PREFIX - 1) == 0);
}

/* True when every '/'-separated segment of s[0..n) is valid. */
static bool segs_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0) return false;
    while (i < n) {
        const char *slash = memchr(s + i, '/', n - i);
        size_t end = slash ? (size_t)(slash - s) : n;
        if (!seg_ok(s + i, end - i)) return false;
        i = end + 1;
        if (slash && i == n) return false; /* trailing '/' */
    }
    return true;
}

/* root + "/" + rel[0..n) (caller frees). */
static char *join(qk_store *s, const char *rel, size_t n)
{
    const char *root = root_of(s);
    size_t rl = strlen(root);
    char *p = malloc(rl + n + 2);
    if (!p) return NULL;
    memcpy(p, root, rl);
    if (rl > 1) p[rl++] = '/';
    memcpy(p + rl, rel, n);
    p[rl + n] = '\0';
    return p;
}

static int local_check_key(qk_store *s, const char *key, const char *what, qk_err *err)
{
    (void)s;
    if (!segs_ok(key, strlen(key)))
        return qk_errf(err, QK_EINVAL,
                       "%s: key has an empty, '.', '..', temp or over-long path segment: %s", what,
                       key);
    return 0;
}

/* The file of a key, after the local checks (caller frees *out). */
QK_TESTABLE int local_key_path(qk_store *s, const char *key, const char *what, char **out,
                               qk_err *err)
{
    size_t n = strlen(key);
    int rc;
    *out = NULL;
    if ((rc = local_check_key(s, key, what, err))) return rc;
    if (!(*out = join(s, key, n))) return qk_errf(err, QK_ENOMEM, "%s: out of memory", what);
    return 0;
}

/* Map errno after a failed system call on key's file. */
static int sys_err(qk_err *err, int e, const char *what, const char *key)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EISDIR:
        return qk_errf(err, QK_ENOTFOUND, "no such key: %s", key);
    case EACCES:
    case EPERM:
    case EROFS:
        return qk_errf(err, QK_EDENIED, "%s %s: %s", what, key, strerror(e));
    case ENOMEM:
        return qk_errf(err, QK_ENOMEM, "%s %s: %s", what, key, strerror(e));
    default:
        return qk_errf(err, QK_EIO, "%s %s: %s", what, key, strerror(e));
    }
}

static void fill_info(const struct stat *st, qk_obj_info *info)
{
    if (!info) return;
    info->size = (uint64_t)st->st_size;
    info->mtime_ms = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    snprintf(info->etag, sizeof info->etag, "\"%llx-%llx-%llx\"", (unsigned long long)st->st_size,
             (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st->st_mtim.tv_nsec,
             (unsigned long long)st->st_ino);
}

/* Open a key's file for reading: a regular file, final component not a symlink. */
static int open_obj(const char *path, const char *key, int *fd, struct stat *st, qk_err *err)
{
    *fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) return sys_err(err, errno, "open", key);
    if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return qk_errf(err, QK_ENOTFOUND, "no such key: %s", key);
    }
    return 0;
}

/* ---- temp files -------------------------------------------------------------------------- */

typedef struct tmp_file {
    char *path;
    int fd;
} tmp_file;

static void tmp_abort(tmp_file *t)
{
    if (t->fd >= 0) {
        if (t->path) unlink(t->path); /* only a file we created */
        close(t->fd);
    }
    free(t->path);
    t->path = NULL;
    t->fd = -1;
}

/* Create <dir of dest>/.qk-tmp-XXXXXX, creating the directory if needed. A concurrent delete
 * may remove an empty parent between mkdir and mkstemp, so that is retried. */
static int tmp_open(const char *dest, tmp_file *t, qk_err *err)
{
    const char *slash = strrchr(dest, '/');
    size_t dl = slash ? (size_t)(slash - dest) : 0;
    char *dir = NULL;
    int rc = 0;
    t->fd = -1;
    if (!(t->path = malloc(dl + sizeof TMP_PREFIX + 8)) || !(dir = malloc(dl + 2))) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(dir, dest, dl);
    dir[dl] = '\0';
    if (dl == 0 && slash) memcpy(dir, "/", 2);
    snprintf(t->path, dl + sizeof TMP_PREFIX + 8, "%s%s%sXXXXXX", dir, slash ? "/" : "",
             TMP_PREFIX);
    for (int tries = 0;; tries++) {
        qk_err ignored = {0};
        memcpy(t->path + strlen(t->path) - 6, "XXXXXX", 6);
        if ((t->fd = mkostemp(t->path, O_CLOEXEC)) >= 0) break;
        if (errno != ENOENT || !slash || tries == 8) {
            rc = qk_errf(err, errno == EACCES ? QK_EDENIED : QK_EIO, "cannot create %s: %s",
                         t->path, strerror(errno));
            goto out;
        }
        qk_mkdirs(dir, &ignored); /* a failure shows in the next mkostemp */
    }
    if (fchmod(t->fd, 0644) != 0)
        rc = qk_errf(err, QK_EIO, "chmod %s: %s", t->path, strerror(errno));
out:
    free(dir);
    if (rc) tmp_abort(t);
    return rc;
}

static int write_all(int fd, const void *data, size_t len, const char *path, qk_err *err)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return qk_errf(err, QK_EIO, "write %s: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int copy_fd(int in, int out, const char *in_name, const char *out_name, qk_err *err)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = 0;
    if (!buf) return qk_errf(err, QK_ENOMEM, "out of memory");
    for (;;) {
        ssize_t r = read(in, buf, COPY_CHUNK);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = qk_errf(err, QK_EIO, "read %s: %s", in_name, strerror(errno));
            break;
        }
        if (r == 0 || (rc = write_all(out, buf, (size_t)r, out_name, err))) break;
    }
    free(buf);
    return rc;
}

static void fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd); /* best effort: the data itself is already durable */
        close(fd);
    }
    free(dir);
}

/* fsync the temp file and move it to dest: rename (replace) or link (exclusive). Always
 * consumes t. */
static int tmp_commit(tmp_file *t, const char *dest, bool exclusive, const char *key, qk_err *err)
{
    int rc = 0, e;
    if (fsync(t->fd) != 0) {
        rc = qk_errf(err, QK_EIO, "fsync %s: %s", t->path, strerror(errno));
        goto out;
    }
    if ((exclusive ? link(t->path, dest) : rename(t->path, dest)) != 0) {
        e = errno;
        if (e == EEXIST && exclusive)
            rc = qk_errf(err, QK_EEXIST, "already exists: %s", key);
        else if (e == EISDIR || e == EEXIST || e == ENOTEMPTY)
            rc = qk_errf(err, QK_EEXIST, "key is a folder of other keys: %s", key);
        else
            rc = qk_errf(err, e == EACCES ? QK_EDENIED : QK_EIO, "cannot write %s: %s", dest,
                         strerror(e));
        goto out;
    }
    if (!exclusive) {
        free(t->path);
        t->path = NULL; /* renamed away: nothing to unlink */
    }
    fsync_dir_of(dest);
out:
    tmp_abort(t);
    return rc;
}

/* Write data or the contents of src_fd to dest atomically. */
static int write_atomic(const char *dest, const void *data, size_t len, int src_fd,
                        const char *src_name, bool exclusive, const char *key, qk_err *err)
{
    tmp_file t = {NULL, -1};
    int rc;
    if ((rc = tmp_open(dest, &t, err))) return rc;
    rc = src_fd >= 0 ? copy_fd(src_fd, t.fd, src_name, t.path, err)
                     : write_all(t.fd, data, len, t.path, err);
    if (rc) {
        tmp_abort(&t);
        return rc;
    }
    return tmp_commit(&t, dest, exclusive, key, err);
}

/* ---- read -------------------------------------------------------------------------------- */

static int local_head(qk_store *s, const char *key, qk_obj_info *out, qk_err *err)
{
    char *path;
    struct stat st;
    int rc = local_key_path(s, key, "head", &path, err);
    if (rc) return rc;
    if (lstat(path, &st) != 0)
        rc = sys_err(err, errno, "head", key);
    else if (!S_ISREG(st.st_mode))
        rc = qk_errf(err, QK_ENOTFOUND, "no such key: %s", key);
    else
        fill_info(&st, out);
    free(path);
    return rc;
}

static int read_range(int fd, uint64_t off, size_t n, qk_buf *out, const char *key, qk_err *err)
{
    size_t got = 0;
    int rc = qk_buf_reserve(out, n);
    if (rc == QK_ETOOBIG)
        return qk_errf(err, rc, "get %s: %zu bytes do not fit in %zu", key, n, out->max - out->len);
    if (rc) return qk_errf(err, rc, "get %s: out of memory", key);
    while (got < n) {
        ssize_t r = pread(fd, out->data + out->len + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return qk_errf(err, QK_EIO, "read %s: %s", key, strerror(errno));
        if (r == 0) break; /* truncated under us: return what is there */
        got += (size_t)r;
    }
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}

static int local_get(qk_store *s, const char *key, uint64_t offset, uint64_t len, qk_buf *out,
                     qk_obj_info *info, qk_err *err)
{
    char *path;
    struct stat st;
    int fd = -1, rc;
    uint64_t size, n;
    if ((rc = local_key_path(s, key, "get", &path, err))) return rc;
    if ((rc = open_obj(path, key, &fd, &st, err))) goto out;
    size = (uint64_t)st.st_size;
    if (offset >= size && !(offset == 0 && len == QK_STORE_TO_END)) {
        rc = qk_errf(err, QK_EINVAL, "get %s: range starts at %llu, object has %llu bytes", key,
                     (unsigned long long)offset, (unsigned long long)size);
        goto out;
    }
    n = size - offset < len ? size - offset : len;
    if (n > SIZE_MAX) {
        rc = qk_errf(err, QK_ETOOBIG, "get %s: range too big", key);
        goto out;
    }
    if ((rc = read_range(fd, offset, (size_t)n, out, key, err))) goto out;
    fill_info(&st, info);
out:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

static int local_get_file(qk_store *s, const char *key, const char *dest_path, qk_obj_info *info,
                          qk_err *err)
{
    char *path;
    struct stat st;
    int fd = -1, rc;
    if ((rc = local_key_path(s, key, "get", &path, err))) return rc;
    if ((rc = open_obj(path, key, &fd, &st, err))) goto out;
    if ((rc = write_atomic(dest_path, NULL, 0, fd, key, false, dest_path, err))) goto out;
    fill_info(&st, info);
out:
    if (fd >= 0) close(fd);
    free(path);
    return rc;
}

/* ---- write ------------------------------------------------------------------------------- */

static int local_put(qk_store *s, const char *key, const void *data, size_t len, qk_err *err)
{
    char *path;
    int rc = local_key_path(s, key, "put", &path, err);
    if (rc) return rc;
    rc = write_atomic(path, data, len, -1, NULL, false, key, err);
    free(path);
    return rc;
}

static int local_put_if_absent(qk_store *s, const char *key, const void *data, size_t len,
                               qk_err *err)
{
    char *path;
    int rc = local_key_path(s, key, "put", &path, err);
    if (rc) return rc;
    rc = write_atomic(path, data, len, -1, NULL, true, key, err);
    free(path);
    return rc;
}

static int local_put_file(qk_store *s, const char *key, const char *src_path, qk_err *err)
{
    char *path = NULL;
    struct stat st;
    int fd, rc;
    if ((fd = open(src_path, O_RDONLY | O_CLOEXEC)) < 0)
        return qk_errf(err, errno == ENOENT ? QK_ENOTFOUND : QK_EIO, "put %s: cannot open %s: %s",
                       key, src_path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = qk_errf(err, QK_EINVAL, "put %s: %s is not a regular file", key, src_path);
        goto out;
    }
    if ((rc = local_key_path(s, key, "put", &path, err))) goto out;
    rc = write_atomic(path, NULL, 0, fd, src_path, false, key, err);
out:
    close(fd);
    free(path);
    return rc;
}

static int local_create_root(qk_store *s, qk_err *err)
{
    return qk_mkdirs(s->uri, err);
}

static int local_copy(qk_store *s, const char *src, const char *dst, qk_err *err)
{
    char *spath = NULL, *dpath = NULL;
    struct stat st;
    int fd = -1, rc;
    if ((rc = local_key_path(s, src, "copy", &spath, err)) ||
        (rc = local_key_path(s, dst, "copy", &dpath, err)))
        goto out;
    if ((rc = open_obj(spath, src, &fd, &st, err))) goto out;
    rc = write_atomic(dpath, NULL, 0, fd, src, false, dst, err);
out:
    if (fd >= 0) close(fd);
    free(spath);
    free(dpath);
    return rc;
}

/* Remove the now-empty directories between path's directory and the root. */
static void prune_parents(local_store *ls, char *path)
{
    char *slash;
    while ((slash = strrchr(path, '/')) && (size_t)(slash - path) > ls->root_len) {
        *slash = '\0';
        if (rmdir(path) != 0) break;
    }
}

static int local_delete(qk_store *s, const char *key, qk_err *err)
{
    char *path;
    int rc = local_key_path(s, key, "delete", &path, err);
    if (rc) return rc;
    if (unlink(path) != 0) {
        if (errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
            rc = sys_err(err, errno, "delete", key);
    } else {
        prune_parents((local_store *)s, path);
    }
    free(path);
    return rc;
}

static int local_delete_many(qk_store *s, const char *const *keys, size_t n, qk_err *err)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        qk_err tmp = {0};
        int rc = local_delete(s, keys[i], first ? &tmp : err);
        if (rc && !first) first = rc;
    }
    return first;
}

/* ---- list -------------------------------------------------------------------------------- */

typedef struct list_ent {
    char *name; /* sort name: "x" for a file, "x/" for a directory */
    bool dir;
} list_ent;

typedef struct list_ctx {
    const qk_list_req *req;
    qk_list_page *page;
    const char *prefix; /* "" when none */
    size_t plen;
    size_t count;        /* entries in the page */
    const char *last;    /* last entry returned (key or common prefix) */
    const char *last_cp; /* last common prefix returned */
    bool stop;
    qk_buf path; /* the current file or directory */
    qk_buf key;  /* its key ("a/b" for a file, "a/" for a directory, "" for the root) */
} list_ctx;

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const list_ent *)a)->name, ((const list_ent *)b)->name);
}

static void ents_free(list_ent *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* Classify a directory entry: 1 directory, 0 regular file, -1 anything else. */
static int ent_kind(DIR *d, const struct dirent *de)
{
    struct stat st;
    if (de->d_type == DT_DIR) return 1;
    if (de->d_type == DT_REG) return 0;
    if (de->d_type != DT_UNKNOWN) return -1;
    if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
    return S_ISDIR(st.st_mode) ? 1 : S_ISREG(st.st_mode) ? 0 : -1;
}

static int ents_add(list_ent **v, size_t *n, size_t *cap, const char *name, bool dir)
{
    size_t l = strlen(name);
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        list_ent *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) return QK_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n].name = malloc(l + 2))) return QK_ENOMEM;
    memcpy((*v)[*n].name, name, l);
    memcpy((*v)[*n].name + l, dir ? "/" : "", dir ? 2 : 1);
    (*v)[(*n)++].dir = dir;
    return 0;
}

/* The listable entries of a directory, sorted in key order. A missing directory is empty. */
static int read_ents(const char *path, list_ent **out, size_t *nout, qk_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    size_t cap = 0;
    struct dirent *de;
    DIR *d;
    int rc = 0;
    *out = NULL;
    *nout = 0;
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return 0;
        return qk_errf(err, QK_EIO, "list %s: %s", path, strerror(errno));
    }
    if (!(d = fdopendir(fd))) {
        close(fd);
        return qk_errf(err, QK_EIO, "list %s: %s", path, strerror(errno));
    }
    while (!rc && (de = readdir(d))) {
        int kind;
        if (de->d_name[0] == '.' && (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                                     qk_str_startswith(de->d_name, TMP_PREFIX)))
            continue;
        if ((kind = ent_kind(d, de)) >= 0) rc = ents_add(out, nout, &cap, de->d_name, kind == 1);
    }
    closedir(d);
    if (rc) {
        ents_free(*out, *nout);
        *out = NULL;
        *nout = 0;
        return qk_errf(err, QK_ENOMEM, "list: out of memory");
    }
    if (*nout > 1) qsort(*out, *nout, sizeof **out, ent_cmp); /* an empty dir has no array */
    return 0;
}

/* True when the directory holds at least one object (at any depth). */
static bool has_object(const char *path)
{
    list_ent *e;
    size_t n;
    bool found = false;
    if (read_ents(path, &e, &n, NULL)) return true; /* unreadable: let the walk report it */
    for (size_t i = 0; i < n && !found; i++) {
        char *sub;
        if (!e[i].dir) {
            found = true;
            break;
        }
        size_t l = strlen(e[i].name) - 1;
        if (!(sub = malloc(strlen(path) + l + 2))) break;
        snprintf(sub, strlen(path) + l + 2, "%s/%.*s", path, (int)l, e[i].name);
        found = has_object(sub);
        free(sub);
    }
    ents_free(e, n);
    return found;
}

/* Compare the n bytes at a with the string b, bytewise like S3. */
static int cmp_slice(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b), m = an < bn ? an : bn;
    int r = memcmp(a, b, m);
    return r ? r : (an < bn ? -1 : an > bn);
}

/* Add a key (st != NULL) or a common prefix to the page; the entry after a full page only sets
 * the continuation token. */
static int emit(list_ctx *c, const char *s, size_t n, const struct stat *st, qk_err *err)
{
    qk_list_page *pg = c->page;
    char *dup;
    if (c->count == c->req->max_keys) {
        c->stop = true;
        if (!(pg->next_token = qk_list_page_strdup(pg, c->last, strlen(c->last)))) goto oom;
        return 0;
    }
    if (!(dup = qk_list_page_strdup(pg, s, n))) goto oom;
    if (st) {
        qk_obj_info *o = &pg->objs[pg->n++];
        fill_info(st, o);
        o->key = dup;
    } else {
        pg->common_prefixes[pg->nprefixes++] = dup;
        c->last_cp = dup;
    }
    c->last = dup;
    c->count++;
    return 0;
oom:
    return qk_errf(err, QK_ENOMEM, "list: page too big");
}

/* A common prefix (the first cplen bytes of key) unless already returned or before the token. */
static int emit_prefix(list_ctx *c, const char *key, size_t cplen, qk_err *err)
{
    if (c->last_cp && cmp_slice(key, cplen, c->last_cp) == 0) return 0;
    if (c->req->token && cmp_slice(key, cplen, c->req->token) <= 0) return 0;
    return emit(c, key, cplen, NULL, err);
}

static int visit_file(list_ctx *c, qk_err *err)
{
    const char *key = c->key.data, *d = c->req->delimiter, *hit;
    struct stat st;
    if (c->key.len < c->plen || memcmp(key, c->prefix, c->plen) != 0) return 0;
    if (d && (hit = strstr(key + c->plen, d)))
        return emit_prefix(c, key, (size_t)(hit - key) + strlen(d), err);
    if (c->req->token && strcmp(key, c->req->token) <= 0) return 0;
    if (lstat(c->path.data, &st) != 0 || !S_ISREG(st.st_mode)) return 0; /* deleted meanwhile */
    return emit(c, key, c->key.len, &st, err);
}

static int walk_dir(list_ctx *c, qk_err *err);

static int visit_dir(list_ctx *c, qk_err *err)
{
    const char *dk = c->key.data, *tok = c->req->token, *d = c->req->delimiter;
    size_t dl = c->key.len;
    bool under = dl >= c->plen && memcmp(dk, c->prefix, c->plen) == 0;
    if (!under && !(dl < c->plen && memcmp(c->prefix, dk, dl) == 0)) return 0;
    if (tok && strcmp(dk, tok) < 0 && !qk_str_startswith(tok, dk)) return 0;
    if (under && dl > c->plen && d && strcmp(d, "/") == 0) {
        size_t cplen = (size_t)((const char *)memchr(dk + c->plen, '/', dl - c->plen) - dk) + 1;
        if (c->last_cp && cmp_slice(dk, cplen, c->last_cp) == 0) return 0;
        if (tok && cmp_slice(dk, cplen, tok) <= 0) return 0;
        return has_object(c->path.data) ? emit(c, dk, cplen, NULL, err) : 0;
    }
    return walk_dir(c, err);
}

/* Visit the entries of the directory at c->path (key prefix c->key) in key order. */
static int walk_dir(list_ctx *c, qk_err *err)
{
    list_ent *e;
    size_t n, pl = c->path.len, kl = c->key.len;
    int rc = read_ents(c->path.data, &e, &n, err);
    for (size_t i = 0; !rc && !c->stop && i < n; i++) {
        size_t nl = strlen(e[i].name) - (e[i].dir ? 1 : 0);
        if ((rc = qk_buf_addc(&c->path, '/')) || (rc = qk_buf_add(&c->path, e[i].name, nl)) ||
            (rc = qk_buf_adds(&c->key, e[i].name))) {
            rc = qk_errf(err, rc, "list: path too long");
            break;
        }
        rc = e[i].dir ? visit_dir(c, err) : visit_file(c, err);
        qk_buf_truncate(&c->path, pl);
        qk_buf_truncate(&c->key, kl);
    }
    ents_free(e, n);
    return rc;
}

static int local_list(qk_store *s, const qk_list_req *req, qk_list_page *page, qk_err *err)
{
    list_ctx c = {0};
    const char *slash;
    size_t start;
    int rc;
    c.req = req;
    c.page = page;
    c.prefix = req->prefix ? req->prefix : "";
    c.plen = strlen(c.prefix);
    page->objs = qk_arena_alloc(&page->arena, req->max_keys * sizeof *page->objs);
    page->common_prefixes = qk_arena_alloc(&page->arena, req->max_keys * sizeof(char *));
    if (!page->objs || !page->common_prefixes)
        return qk_errf(err, QK_ENOMEM, "list: out of memory");
    /* Start at the deepest directory the prefix names whole ("a/b/" of "a/b/c"). */
    slash = strrchr(c.prefix, '/');
    start = slash ? (size_t)(slash - c.prefix) + 1 : 0;
    if (start && !segs_ok(c.prefix, start - 1)) return 0; /* no valid key can match */
    qk_buf_init(&c.path, 2 * PATH_MAX);
    qk_buf_init(&c.key, 2 * PATH_MAX);
    if ((rc = qk_buf_adds(&c.path, root_of(s))) || (rc = qk_buf_add(&c.key, c.prefix, start)) ||
        (start &&
         ((rc = qk_buf_addc(&c.path, '/')) || (rc = qk_buf_add(&c.path, c.prefix, start - 1))))) {
        rc = qk_errf(err, rc, "list: out of memory");
        goto out;
    }
    rc = walk_dir(&c, err);
out:
    qk_buf_free(&c.path);
    qk_buf_free(&c.key);
    return rc;
}

/* ---- open -------------------------------------------------------------------------------- */

static void local_destroy(qk_store *s)
{
    free(s->uri);
    free(s);
}

static const qk_store_ops local_ops = {
    .name = "local",
    .check_key = local_check_key,
    .list = local_list,
    .head = local_head,
    .get = local_get,
    .get_file = local_get_file,
    .put = local_put,
    .put_file = local_put_file,
    .put_if_absent = local_put_if_absent,
    .delete_key = local_delete,
    .delete_many = local_delete_many,
    .copy = local_copy,
    .create_root = local_create_root,
    .destroy = local_destroy,
};

int qk_store_local_open(const char *path, qk_store **out, qk_err *err)
{
    local_store *ls;
    struct stat st;
    char *root;
    int rc;
    *out = NULL;
    if ((rc = qk_path_abs(path, &root, err))) return rc;
    if (stat(root, &st) == 0 && !S_ISDIR(st.st_mode)) {
        rc = qk_errf(err, QK_EINVAL, "store root is not a directory: %s", root);
        free(root);
        return rc;
    }
    if (!(ls = calloc(1, sizeof *ls))) {
        free(root);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    ls->base.ops = &local_ops;
    ls->base.uri = root;
    ls->root_len = strlen(root);
    *out = &ls->base;
    return 0;
}
