/* SPDX-License-Identifier: MIT */
/*
 * commit.c: a writer's commit (PROTOCOL.md "Delta Log Entries", "Requirements for Writers").
 *
 * The commit of version v is _delta_log/%020d.json, one JSON action per line, in this order:
 *   {"commitInfo":{timestamp, operation, operationParameters, readVersion, isolationLevel,
 *                  isBlindAppend, operationMetrics, engineInfo, txnId}}
 *   {"protocol":{...}}                    a new table only
 *   {"metaData":{...}}                    a new table, or an overwrite that changes it
 *   {"txn":{appId, version, lastUpdated}} an idempotent write
 *   {"remove":{...}}                      an overwrite: every active file of the snapshot read
 *   {"add":{...}}                         the new data files
 * It is put with put-if-absent, which makes the commit atomic. When another writer took v
 * (QK_EEXIST), its commits v, v+1, ... are read: a blind append whose winners changed neither
 * protocol nor metaData rebases onto them and tries the next version (after a short jittered
 * pause); a winner that committed the append's txn (same appId, version >= ours) means the
 * append already happened: skipped. Anything else fails (QK_ECONFLICT, a create QK_EEXIST).
 * A put that fails otherwise (timeout, I/O) may still have landed: the version is read back
 * and compared with what was sent, so the caller knows whether its files are referenced.
 */
#include "delta/delta_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef QUACK_VERSION
#define QUACK_VERSION "0.1.0"
#endif

#define BACKOFF_MAX_MS 1000

#ifdef QK_TESTING
void (*qk_delta_test_before_commit)(void *ud, const char *key, int64_t version);
void *qk_delta_test_before_commit_ud;
#endif

void qk_delta_crash_point(const char *point)
{
    const char *want = getenv("QUACK_TEST_CRASH");
    if (want && !strcmp(want, point)) raise(SIGKILL);
}

/* ---- actions ----------------------------------------------------------------------------- */

static int add_line(qk_buf *b, json_t *action, qk_err *err)
{
    char *txt;
    int rc;
    if (!action) return qk_errf(err, QK_ENOMEM, "out of memory (commit)");
    txt = json_dumps(action, JSON_COMPACT);
    json_decref(action);
    if (!txt) return qk_errf(err, QK_ENOMEM, "out of memory (commit)");
    rc = qk_buf_adds(b, txt) || qk_buf_addc(b, '\n');
    free(txt);
    return rc ? qk_errf(err, QK_ETOOBIG, "the commit is larger than %zu bytes", b->max) : 0;
}

static const char *mode_name(int mode)
{
    return mode == QK_DELTA_OVERWRITE ? "Overwrite"
           : mode == QK_DELTA_APPEND  ? "Append"
                                      : "ErrorIfExists";
}

static json_t *default_parameters(const qk_delta_commit_plan *p)
{
    json_t *pc = json_array(), *o;
    char *pcs;
    for (size_t i = 0; pc && i < p->nparts; i++)
        json_array_append_new(pc, json_string(p->parts[i]));
    pcs = pc ? json_dumps(pc, JSON_COMPACT) : NULL;
    o = pcs ? json_pack("{s:s, s:s}", "mode", mode_name(p->o->mode), "partitionBy", pcs) : NULL;
    free(pcs);
    json_decref(pc);
    return o;
}

static json_t *metrics(const qk_delta_commit_plan *p)
{
    char files[24], rows[24], bytes[24], removed[24];
    size_t nremoved = p->o->mode == QK_DELTA_OVERWRITE && p->snap ? p->snap->nfiles : 0;
    snprintf(files, sizeof files, "%zu", p->nadds);
    snprintf(rows, sizeof rows, "%llu", (unsigned long long)p->rows);
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)p->bytes);
    snprintf(removed, sizeof removed, "%zu", nremoved);
    return json_pack("{s:s, s:s, s:s, s:s}", "numFiles", files, "numOutputRows", rows,
                     "numOutputBytes", bytes, "numRemovedFiles", removed);
}

static json_t *commit_info(const qk_delta_commit_plan *p)
{
    const qk_delta_write_opts *o = p->o;
    json_t *params =
        o->operation_parameters ? json_incref(o->operation_parameters) : default_parameters(p);
    json_t *ci =
        json_pack("{s:I, s:s, s:o?, s:s, s:b, s:o?, s:s, s:s}", "timestamp",
                  (json_int_t)qk_epoch_ms(), "operation",
                  o->operation ? o->operation
                               : (o->mode == QK_DELTA_CREATE ? "CREATE TABLE AS SELECT" : "WRITE"),
                  "operationParameters", params, "isolationLevel", "Serializable", "isBlindAppend",
                  o->mode != QK_DELTA_OVERWRITE, "operationMetrics", metrics(p), "engineInfo",
                  o->engine_info ? o->engine_info : "quack/" QUACK_VERSION, "txnId", p->txn_id);
    if (ci && p->snap) json_object_set_new(ci, "readVersion", json_integer(p->snap->version));
    return ci ? json_pack("{s:o}", "commitInfo", ci) : NULL;
}

/* A snapshot file's partition values as an object (nulls for NULL). */
static json_t *snap_pv(const qk_delta_snapshot *snap, const qk_delta_file *f)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < snap->metadata.npartition_columns; i++)
        json_object_set_new(o, snap->metadata.partition_columns[i],
                            f->partition_values[i] ? json_string(f->partition_values[i])
                                                   : json_null());
    return o;
}

static int add_removes(qk_buf *b, const qk_delta_commit_plan *p, int64_t now, qk_err *err)
{
    qk_buf path;
    int rc = 0;
    qk_buf_init(&path, QK_STORE_KEY_MAX * 4);
    for (size_t i = 0; !rc && i < p->snap->nfiles; i++) {
        const qk_delta_file *f = &p->snap->files[i];
        qk_buf_truncate(&path, 0);
        if (qk_delta_uri_encode(&path, f->path)) {
            rc = qk_errf(err, QK_ETOOBIG, "a file path is too long: %s", f->path);
            break;
        }
        rc = add_line(b,
                      json_pack("{s:{s:s, s:I, s:b, s:b, s:o, s:I}}", "remove", "path",
                                qk_buf_cstr(&path), "deletionTimestamp", (json_int_t)now,
                                "dataChange", 1, "extendedFileMetadata", 1, "partitionValues",
                                snap_pv(p->snap, f), "size", (json_int_t)f->size),
                      err);
    }
    qk_buf_free(&path);
    return rc;
}

static int add_adds(qk_buf *b, const qk_delta_commit_plan *p, qk_err *err)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < p->nadds; i++) {
        const qk_delta_added *a = &p->adds[i];
        rc = add_line(b,
                      json_pack("{s:{s:s, s:O, s:I, s:I, s:b, s:s}}", "add", "path", a->path,
                                "partitionValues", a->pv, "size", (json_int_t)a->size,
                                "modificationTime", (json_int_t)a->mtime_ms, "dataChange", 1,
                                "stats", a->stats),
                      err);
    }
    return rc;
}

/* The text of the commit. */
static int build(const qk_delta_commit_plan *p, qk_buf *b, qk_err *err)
{
    const qk_delta_write_opts *o = p->o;
    int64_t now = qk_epoch_ms();
    int rc = add_line(b, commit_info(p), err);
    if (!rc && p->protocol) rc = add_line(b, json_pack("{s:O}", "protocol", p->protocol), err);
    if (!rc && p->metadata) rc = add_line(b, json_pack("{s:O}", "metaData", p->metadata), err);
    if (!rc && o->app_id)
        rc = add_line(b,
                      json_pack("{s:{s:s, s:I, s:I}}", "txn", "appId", o->app_id, "version",
                                (json_int_t)o->txn_version, "lastUpdated", (json_int_t)now),
                      err);
    if (!rc && o->mode == QK_DELTA_OVERWRITE && p->snap) rc = add_removes(b, p, now, err);
    return rc ? rc : add_adds(b, p, err);
}

/* ---- conflicts --------------------------------------------------------------------------- */

typedef struct winner {
    bool changes_table; /* protocol or metaData */
    bool our_txn;       /* a txn of our appId at >= our version */
    char operation[64];
} winner;

static void inspect_action(json_t *a, const qk_delta_write_opts *o, winner *w)
{
    json_t *t = json_object_get(a, "txn"), *ci = json_object_get(a, "commitInfo");
    const char *op = json_string_value(json_object_get(ci, "operation"));
    if (json_object_get(a, "protocol") || json_object_get(a, "metaData")) w->changes_table = true;
    if (op) snprintf(w->operation, sizeof w->operation, "%s", op);
    if (o->app_id && json_is_object(t) && json_is_string(json_object_get(t, "appId")) &&
        !strcmp(json_string_value(json_object_get(t, "appId")), o->app_id) &&
        json_integer_value(json_object_get(t, "version")) >= o->txn_version)
        w->our_txn = true;
}

/* Read commit key (a winner) and say what it did. */
static int read_winner(qk_store *s, const char *key, const qk_delta_write_opts *o, winner *w,
                       qk_err *err)
{
    qk_buf b;
    size_t pos = 0, lineno = 0;
    int rc;
    memset(w, 0, sizeof *w);
    snprintf(w->operation, sizeof w->operation, "unknown");
    qk_buf_init(&b, QK_DELTA_COMMIT_MAX);
    rc = qk_store_get(s, key, 0, QK_STORE_TO_END, &b, NULL, err);
    while (!rc && pos < b.len) {
        const char *nl = memchr(b.data + pos, '\n', b.len - pos);
        size_t end = nl ? (size_t)(nl - b.data) : b.len;
        json_error_t je;
        json_t *a = NULL;
        lineno++;
        if (end > pos && !(a = json_loadb(b.data + pos, end - pos, 0, &je)))
            rc = qk_errf(err, QK_EPARSE, "%s:%zu: corrupt JSON action: %s", key, lineno, je.text);
        if (a) inspect_action(a, o, w);
        json_decref(a);
        pos = end + 1;
    }
    qk_buf_free(&b);
    return rc;
}

typedef struct verdict {
    int64_t next;   /* the version to try next */
    int64_t latest; /* the last winner */
    bool skipped;
} verdict;

/* Versions from v on are taken: can the commit move past them? */
static int judge(qk_store *s, const qk_delta_commit_plan *p, const char *log, int64_t v,
                 verdict *out, qk_err *err)
{
    char key[QK_STORE_KEY_MAX + 64], op[64] = "";
    int64_t clash = -1;
    winner w;
    int rc = 0;
    const char *what = p->o->mode == QK_DELTA_OVERWRITE ? "overwrite" : "write";
    memset(out, 0, sizeof *out);
    if (!p->snap)
        return qk_errf(err, p->o->mode == QK_DELTA_CREATE ? QK_EEXIST : QK_ECONFLICT,
                       "another writer created the table while this %s ran; nothing was "
                       "committed",
                       what);
    for (;; v++) {
        snprintf(key, sizeof key, "%s%020lld.json", log, (long long)v);
        if ((rc = read_winner(s, key, p->o, &w, err)) == QK_ENOTFOUND) break;
        if (rc) return rc;
        out->latest = v;
        out->skipped |= w.our_txn;
        if (clash < 0 && (p->o->mode != QK_DELTA_APPEND || w.changes_table)) {
            clash = v;
            snprintf(op, sizeof op, "%s", w.operation);
        }
    }
    qk_err_clear(err);
    out->next = v;
    if (out->skipped || clash < 0) return 0;
    return qk_errf(err, QK_ECONFLICT,
                   "version %lld was committed by another writer (operation %s) while this %s "
                   "ran; nothing was committed",
                   (long long)clash, op, what);
}

static void backoff(int attempt)
{
    unsigned seed = (unsigned)qk_now_ms() ^ (unsigned)attempt * 2654435761u;
    int64_t ms = 5LL << (attempt < 8 ? attempt : 8);
    struct timespec ts;
    if (ms > BACKOFF_MAX_MS) ms = BACKOFF_MAX_MS;
    ms = ms / 2 + rand_r(&seed) % (ms / 2 + 1);
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* The put failed without saying "exists": did it land anyway? */
static int read_back(qk_store *s, const char *key, const qk_buf *sent, bool *ours, bool *unknown)
{
    qk_buf got;
    qk_err e2 = {0};
    int rc;
    qk_buf_init(&got, QK_DELTA_COMMIT_MAX);
    rc = qk_store_get(s, key, 0, QK_STORE_TO_END, &got, NULL, &e2);
    *ours = !rc && got.len == sent->len && !memcmp(got.data, sent->data, got.len);
    *unknown = rc && rc != QK_ENOTFOUND;
    qk_buf_free(&got);
    return rc;
}

static int put_version(qk_store *s, const char *log, int64_t v, const qk_buf *text, bool *unknown,
                       qk_err *err)
{
    char key[QK_STORE_KEY_MAX + 64];
    bool ours = false;
    int rc;
    snprintf(key, sizeof key, "%s%020lld.json", log, (long long)v);
#ifdef QK_TESTING
    if (qk_delta_test_before_commit)
        qk_delta_test_before_commit(qk_delta_test_before_commit_ud, key, v);
#endif
    qk_delta_crash_point("before-commit");
    rc = qk_store_put_if_absent(s, key, text->data, text->len, err);
    if (!rc || rc == QK_EEXIST) return rc;
    read_back(s, key, text, &ours, unknown);
    if (ours) {
        qk_err_clear(err);
        return 0;
    }
    if (*unknown)
        qk_err_prefix(err, "the commit of version %lld may or may not have landed", (long long)v);
    return rc;
}

int qk_delta_commit_put(qk_store *s, const qk_delta_commit_plan *p, qk_delta_write_result *res,
                        bool *unknown, qk_err *err)
{
    char log[QK_STORE_KEY_MAX + 16];
    int64_t v = p->snap ? p->snap->version + 1 : 0;
    int max = p->o->max_attempts > 0 ? p->o->max_attempts : 100, rc = 0;
    qk_buf text;
    verdict vd;
    *unknown = false;
    snprintf(log, sizeof log, "%s_delta_log/", p->table);
    qk_buf_init(&text, QK_DELTA_COMMIT_MAX);
    for (res->attempts = 1;; res->attempts++) {
        qk_buf_truncate(&text, 0);
        if ((rc = build(p, &text, err))) break;
        rc = put_version(s, log, v, &text, unknown, err);
        if (rc != QK_EEXIST) break;
        if ((rc = judge(s, p, log, v, &vd, err))) break;
        if (vd.skipped) {
            res->skipped = true;
            res->version = vd.latest;
            break;
        }
        if (res->attempts >= max) {
            rc = qk_errf(err, QK_ECONFLICT,
                         "other writers took versions %lld to %lld; gave up after %d attempts; "
                         "nothing was committed",
                         (long long)(p->snap ? p->snap->version + 1 : 0), (long long)vd.next - 1,
                         res->attempts);
            break;
        }
        v = vd.next;
        backoff(res->attempts);
    }
    if (!rc && !res->skipped) {
        res->version = v;
        res->files_removed = p->o->mode == QK_DELTA_OVERWRITE && p->snap ? p->snap->nfiles : 0;
    }
    qk_buf_free(&text);
    return rc;
}
