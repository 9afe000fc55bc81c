/* SPDX-License-Identifier: MIT */
/*
 * s3check.c: run one object-store operation from the command line (test-only tool, used by
 * tests/integration/test_s3_store.sh). STORE is any store URI (s3://bucket/prefix, or a local
 * directory, so the same script can be checked against both backends). Settings come from the
 * environment as for quack (AWS_*, QUACK_S3_*).
 *
 *   s3check put STORE KEY FILE           qk_store_put_file (multipart when large)
 *   s3check putm STORE KEY TEXT          qk_store_put of TEXT
 *   s3check pifa STORE KEY TEXT          qk_store_put_if_absent; "created" or exit 3
 *   s3check put-many STORE PREFIX N [J]  keys PREFIX00000.. (N of them), J parallel threads
 *   s3check get STORE KEY DEST           qk_store_get_file
 *   s3check cat STORE KEY [OFF [LEN]]    qk_store_get to stdout (LEN "end" = to the end)
 *   s3check head STORE KEY               "size etag mtime_ms"
 *   s3check ls STORE [PREFIX [DELIM]]    qk_store_list_all: keys, "P <prefix>" for prefixes
 *   s3check rm STORE KEY                 qk_store_delete
 *   s3check rmm STORE KEY...             qk_store_delete_many
 *   s3check cp STORE SRC DST             qk_store_copy
 *   s3check presign STORE KEY SECONDS    a presigned GET URL (S3 only)
 *
 * Errors print "error: <type>: <message>" on stderr. Exit codes: 0 ok, 1 error, 2 usage,
 * 3 already exists (QK_EEXIST), 4 not found (QK_ENOTFOUND).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/s3_int.h"
#include "store/store.h"

static int usage(void)
{
    fprintf(stderr, "usage: s3check put|putm|pifa|put-many|get|cat|head|ls|rm|rmm|cp|presign "
                    "STORE ARGS... (see tests/tools/s3check.c)\n");
    return 2;
}

static int fail(const qk_err *err, int rc)
{
    fprintf(stderr, "error: %s: %s\n", qk_err_type(err), err->msg);
    return rc == QK_EEXIST ? 3 : rc == QK_ENOTFOUND ? 4 : 1;
}

static int print_entry(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    (void)ud;
    (void)err;
    if (obj)
        printf("%s\n", obj->key);
    else
        printf("P %s\n", cp);
    return 0;
}

typedef struct many {
    qk_store *s;
    const char *prefix;
    long n, next;
    int rc;
    qk_err err;
    pthread_mutex_t mu;
} many;

static void *many_worker(void *ud)
{
    many *m = ud;
    for (;;) {
        char key[QK_STORE_KEY_MAX + 1];
        qk_err err = {0};
        long i;
        int rc;
        pthread_mutex_lock(&m->mu);
        i = m->rc ? m->n : m->next++;
        pthread_mutex_unlock(&m->mu);
        if (i >= m->n) return NULL;
        snprintf(key, sizeof key, "%s%05ld", m->prefix, i);
        if ((rc = qk_store_put(m->s, key, key, strlen(key), &err))) {
            pthread_mutex_lock(&m->mu);
            m->rc = rc;
            m->err = err;
            pthread_mutex_unlock(&m->mu);
        }
    }
}

static int put_many(qk_store *s, const char *prefix, long n, long j, qk_err *err)
{
    many m = {s, prefix, n, 0, 0, {0}, PTHREAD_MUTEX_INITIALIZER};
    pthread_t t[64];
    if (j < 1) j = 1;
    if (j > 64) j = 64;
    for (long i = 0; i < j; i++)
        pthread_create(&t[i], NULL, many_worker, &m);
    for (long i = 0; i < j; i++)
        pthread_join(t[i], NULL);
    if (m.rc) *err = m.err;
    return m.rc;
}

static int cat(qk_store *s, const char *key, int argc, char **argv, qk_err *err)
{
    uint64_t off = 0, len = QK_STORE_TO_END;
    qk_buf b;
    int rc;
    if (argc > 0) off = strtoull(argv[0], NULL, 10);
    if (argc > 1 && strcmp(argv[1], "end") != 0) len = strtoull(argv[1], NULL, 10);
    qk_buf_init(&b, 256u << 20);
    if (!(rc = qk_store_get(s, key, off, len, &b, NULL, err))) fwrite(b.data, 1, b.len, stdout);
    qk_buf_free(&b);
    return rc;
}

static int presign(qk_store *s, const char *key, const char *secs, qk_err *err)
{
    char *url = NULL;
    int rc = qk_s3_presign_get(s, key, strtoll(secs, NULL, 10), &url, err);
    if (!rc) printf("%s\n", url);
    free(url);
    return rc;
}

static int dispatch(qk_store *s, const char *cmd, int argc, char **argv, qk_err *err)
{
    qk_obj_info info;
    int rc;
    if (!strcmp(cmd, "put") && argc == 2) return qk_store_put_file(s, argv[0], argv[1], err);
    if (!strcmp(cmd, "putm") && argc == 2)
        return qk_store_put(s, argv[0], argv[1], strlen(argv[1]), err);
    if (!strcmp(cmd, "pifa") && argc == 2) {
        if (!(rc = qk_store_put_if_absent(s, argv[0], argv[1], strlen(argv[1]), err)))
            printf("created\n");
        return rc;
    }
    if (!strcmp(cmd, "put-many") && (argc == 2 || argc == 3))
        return put_many(s, argv[0], strtol(argv[1], NULL, 10),
                        argc == 3 ? strtol(argv[2], NULL, 10) : 8, err);
    if (!strcmp(cmd, "get") && argc == 2) return qk_store_get_file(s, argv[0], argv[1], NULL, err);
    if (!strcmp(cmd, "cat") && argc >= 1 && argc <= 3)
        return cat(s, argv[0], argc - 1, argv + 1, err);
    if (!strcmp(cmd, "head") && argc == 1) {
        if (!(rc = qk_store_head(s, argv[0], &info, err)))
            printf("%llu %s %lld\n", (unsigned long long)info.size, info.etag,
                   (long long)info.mtime_ms);
        return rc;
    }
    if (!strcmp(cmd, "ls") && argc <= 2)
        return qk_store_list_all(s, argc > 0 ? argv[0] : NULL, argc > 1 ? argv[1] : NULL,
                                 print_entry, NULL, err);
    if (!strcmp(cmd, "rm") && argc == 1) return qk_store_delete(s, argv[0], err);
    if (!strcmp(cmd, "rmm") && argc >= 1)
        return qk_store_delete_many(s, (const char *const *)argv, (size_t)argc, err);
    if (!strcmp(cmd, "cp") && argc == 2) return qk_store_copy(s, argv[0], argv[1], err);
    if (!strcmp(cmd, "presign") && argc == 2) return presign(s, argv[0], argv[1], err);
    return 1000;
}

int main(int argc, char **argv)
{
    qk_store *s = NULL;
    qk_err err = {0};
    int rc;
    if (argc < 3) return usage();
    if ((rc = qk_store_open(argv[2], &s, &err))) return fail(&err, rc);
    rc = dispatch(s, argv[1], argc - 3, argv + 3, &err);
    qk_store_destroy(s);
    if (rc == 1000) return usage();
    if (rc) return fail(&err, rc);
    return 0;
}
