/* SPDX-License-Identifier: MIT */
/*
 * coord.c: the coordinator (coord.h). One run, on the caller's thread:
 *
 *   start    a query id, <engine temp>/dist-<id>/ for the partials, a call pool
 *   loop     until every shard has an accepted partial:
 *              cancel / deadline check
 *              launch: pending shards (first sends and retries) while fewer than `parallel`
 *                      calls run; each to the next worker round-robin that is up and, if
 *                      possible, has not had this shard yet
 *              backup: stragglers (see coord.h) get a second copy on an untried worker
 *              poll:   wait up to POLL_MS for calls; each finished call is checked (accept)
 *                      and either completes its shard (the shard's other call is aborted) or
 *                      counts as a failure (retry, or the query fails)
 *   reduce   the reduce SQL over the accepted files, with the caller's limit, what is left of
 *            the time and the cancel callback
 *   end      abort what still runs, delete spilled objects, remove the temp dir
 *
 * Memory: per-run state lives in one arena; answer bodies live in their calls and are freed
 * as soon as each is checked (partials go to disk at once).
 */
#include "dist/coord.h"
#include "dist/dist_int.h"
#include "dist/task.h"
#include "lake/resolve.h"
#include "store/store.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 20
#define BUSY_MAX 40        /* refusals per shard before the refusal counts as a failure */
#define BUSY_BACKOFF_MS 25 /* doubled per refusal of the shard, up to BUSY_BACKOFF_MAX_MS */
#define BUSY_BACKOFF_MAX_MS 1000
#define CALL_SLACK_MS                                                                              \
    2000 /* a call may outlive the deadline this long (the worker stops first)                     \
          */

enum { SH_PENDING, SH_RUNNING, SH_DONE };

typedef struct shard {
    int state;
    int attempts;       /* calls sent */
    int inflight;       /* calls running */
    bool retry;         /* the next send is a retry */
    int busy;           /* "busy" refusals (429/503): not attempts, resent after a backoff */
    int64_t not_before; /* qk_now_ms before which a refused shard is not resent */
    bool *tried;        /* per worker */
    char *file;         /* accepted partial */
    double ms;          /* the winning attempt's duration */
    qk_dist_col *cols;  /* whole jobs: from the accepted answer */
    size_t ncols;
    qk_err last;
} shard;

typedef struct attempt {
    size_t shard;
    int number; /* 1-based, the task's "attempt" */
    size_t worker;
    int64_t t0; /* qk_now_ms at send */
    qk_dist_call *call;
} attempt;

typedef struct run {
    qk_engine *e;
    const qk_dist_job *job;
    qk_dist_coord_opts o;
    qk_dist_run_stats *st;
    qk_arena arena;
    qk_dist_pool *pool;
    shard *shards;
    attempt **atts;
    size_t natts, capatts;
    size_t *worker_load;
    bool *worker_down; /* could not be reached: skipped while others can be */
    bool *worker_slow; /* has a call running past the straggler limit: no new shards */
    size_t rr, done, running;
    int64_t deadline;       /* qk_now_ms, 0 = none */
    int64_t epoch_deadline; /* wall clock for workers */
    char qid[37];
    char *dir;   /* partials */
    char *spill; /* spill prefix (ends in '/') or NULL */
    bool spill_used;
    double *done_ms;
} run;

void qk_dist_coord_opts_init(qk_dist_coord_opts *o)
{
    memset(o, 0, sizeof *o);
    o->limit = -1;
}

/* ---- setup ------------------------------------------------------------------------------------
 */

static void apply_defaults(run *r, const qk_dist_coord_opts *o)
{
    size_t http = 0;
    r->o = *o;
    for (size_t i = 0; i < o->nworkers; i++)
        http += strcmp(qk_dist_transport_kind(o->workers[i]), "http") == 0;
    if (r->o.parallel <= 0) r->o.parallel = (int)(2 * http + 8 * (o->nworkers - http));
    if (r->o.parallel <= 0) r->o.parallel = 1;
    if (r->o.max_attempts <= 0) r->o.max_attempts = QK_DIST_DEFAULT_ATTEMPTS;
    if (r->o.straggler_factor == 0) r->o.straggler_factor = QK_DIST_DEFAULT_STRAGGLER_FACTOR;
    if (r->o.straggler_min_ms <= 0) r->o.straggler_min_ms = QK_DIST_DEFAULT_STRAGGLER_MIN_MS;
    if (!r->o.spill_threshold) r->o.spill_threshold = QK_DIST_INLINE_DEFAULT;
}

static int setup_spill(run *r, qk_err *err)
{
    const char *base = r->o.spill_uri;
    size_t n;
    if (base && !*base) return 0;
    if (!base) base = qk_engine_lake(r->e);
    n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    r->spill = qk_arena_printf(&r->arena, "%.*s%s%s/", (int)n, base,
                               r->o.spill_uri ? "/" : "/_quack/partials/", r->qid);
    return r->spill ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
}

static int setup(run *r, qk_err *err)
{
    size_t n = r->job->nshards, w = r->o.nworkers ? r->o.nworkers : 1;
    int rc;
    qk_uuid4(r->qid);
    memcpy(r->st->query_id, r->qid, sizeof r->qid);
    r->shards = qk_arena_alloc(&r->arena, n * sizeof *r->shards);
    r->worker_load = qk_arena_alloc(&r->arena, w * sizeof *r->worker_load);
    r->worker_down = qk_arena_alloc(&r->arena, w * sizeof *r->worker_down);
    r->worker_slow = qk_arena_alloc(&r->arena, w * sizeof *r->worker_slow);
    r->done_ms = qk_arena_alloc(&r->arena, n * sizeof *r->done_ms);
    r->dir = qk_arena_printf(&r->arena, "%s/dist-%s", qk_engine_temp_dir(r->e), r->qid);
    if (!r->shards || !r->worker_load || !r->worker_down || !r->worker_slow || !r->done_ms ||
        !r->dir)
        return qk_errf(err, QK_ENOMEM, "out of memory for %zu shards", n);
    memset(r->shards, 0, n * sizeof *r->shards);
    memset(r->worker_load, 0, w * sizeof *r->worker_load);
    memset(r->worker_down, 0, w * sizeof *r->worker_down);
    memset(r->worker_slow, 0, w * sizeof *r->worker_slow);
    for (size_t i = 0; i < n; i++)
        if (!(r->shards[i].tried = qk_arena_alloc(&r->arena, w * sizeof(bool))))
            return qk_errf(err, QK_ENOMEM, "out of memory for %zu shards", n);
        else
            memset(r->shards[i].tried, 0, w * sizeof(bool));
    if ((rc = setup_spill(r, err)) || (rc = qk_mkdirs(r->dir, err))) return rc;
    if (r->o.timeout_ms > 0) {
        r->deadline = qk_now_ms() + r->o.timeout_ms;
        r->epoch_deadline = qk_epoch_ms() + r->o.timeout_ms;
    }
    return qk_dist_pool_new(&r->pool, err);
}

/* ---- launching ---------------------------------------------------------------------------------
 */

/* The worker for shard s, round-robin: the first that is up, not slow and untried; else up and
 * not slow; else up; else any. */
static size_t pick_worker(run *r, const shard *s, bool untried_only, bool *found)
{
    size_t n = r->o.nworkers;
    for (int pass = 0; pass < 4; pass++) {
        for (size_t k = 0; k < n; k++) {
            size_t w = (r->rr + k) % n;
            if ((pass < 3 && r->worker_down[w]) || (pass < 2 && r->worker_slow[w]) ||
                (pass == 0 && s->tried[w]))
                continue;
            if (untried_only && s->tried[w]) continue;
            r->rr = w + 1;
            *found = true;
            return w;
        }
    }
    *found = false;
    return 0;
}

static int64_t call_timeout(const run *r)
{
    if (!r->deadline) return 0;
    int64_t left = r->deadline - qk_now_ms();
    return (left > 0 ? left : 1) + CALL_SLACK_MS;
}

static int add_attempt(run *r, attempt *a, qk_err *err)
{
    if (r->natts == r->capatts) {
        size_t cap = r->capatts ? 2 * r->capatts : 64;
        attempt **v = qk_arena_alloc(&r->arena, cap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory");
        if (r->natts) memcpy(v, r->atts, r->natts * sizeof *v);
        r->atts = v, r->capatts = cap;
    }
    r->atts[r->natts++] = a;
    return 0;
}

static int task_body(run *r, size_t i, int number, qk_buf *body, qk_err *err)
{
    qk_dist_task t;
    memset(&t, 0, sizeof t);
    memcpy(t.query_id, r->qid, sizeof t.query_id);
    t.shard = (int64_t)i;
    t.attempt = number;
    t.sql = r->job->map_sql[i];
    t.deadline_ms = r->epoch_deadline;
    t.whole = r->job->whole;
    t.limit = r->job->whole && r->o.limit >= 0 ? r->o.limit + 1 : -1;
    t.spill_uri = r->spill;
    t.spill_threshold = r->o.spill_threshold;
    return qk_dist_task_build(&t, body, err);
}

/* Send shard i to worker w. */
static int send_shard(run *r, size_t i, size_t w, qk_err *err)
{
    shard *s = &r->shards[i];
    attempt *a = qk_arena_alloc(&r->arena, sizeof *a);
    qk_buf body;
    int rc;
    if (!a) return qk_errf(err, QK_ENOMEM, "out of memory");
    *a = (attempt){i, s->attempts + 1, w, qk_now_ms(), NULL};
    qk_buf_init(&body, QK_DIST_SQL_MAX + 65536);
    rc = task_body(r, i, a->number, &body, err);
    if (!rc)
        rc = qk_dist_send(r->pool, r->o.workers[w], body.data, body.len, call_timeout(r), a,
                          &a->call, err);
    qk_buf_free(&body);
    if (rc || (rc = add_attempt(r, a, err))) return rc;
    s->attempts++, s->inflight++, s->tried[w] = true, s->state = SH_RUNNING;
    r->worker_load[w]++, r->running++, r->st->attempts++;
    if (s->retry) r->st->retries++, s->retry = false;
    return 0;
}

static int launch_pending(run *r, qk_err *err)
{
    for (size_t i = 0; i < r->job->nshards && r->running < (size_t)r->o.parallel; i++) {
        bool found;
        size_t w;
        int rc;
        if (r->shards[i].state != SH_PENDING || r->shards[i].not_before > qk_now_ms()) continue;
        w = pick_worker(r, &r->shards[i], false, &found);
        if ((rc = send_shard(r, i, w, err))) return rc;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_done(run *r)
{
    double *v = r->done_ms;
    size_t n = r->done;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The running attempt of shard i (the one with a call), or NULL. */
static attempt *running_attempt(run *r, size_t i)
{
    for (size_t k = r->natts; k-- > 0;)
        if (r->atts[k]->shard == i && r->atts[k]->call) return r->atts[k];
    return NULL;
}

static int launch_backups(run *r, qk_err *err)
{
    size_t n = r->job->nshards;
    double limit;
    int64_t now = qk_now_ms();
    if (r->o.straggler_factor < 0 || r->done == 0 || 2 * r->done < n) return 0;
    limit = r->o.straggler_factor * median_done(r);
    if (limit < (double)r->o.straggler_min_ms) limit = (double)r->o.straggler_min_ms;
    for (size_t k = 0; k < r->natts; k++)
        if (r->atts[k]->call && (double)(now - r->atts[k]->t0) > limit)
            r->worker_slow[r->atts[k]->worker] = true;
    for (size_t i = 0; i < n && r->running < (size_t)r->o.parallel; i++) {
        shard *s = &r->shards[i];
        attempt *a;
        bool found;
        size_t w;
        int rc;
        if (s->state != SH_RUNNING || s->inflight != 1 || s->attempts >= r->o.max_attempts)
            continue;
        if (!(a = running_attempt(r, i)) || (double)(now - a->t0) <= limit) continue;
        w = pick_worker(r, s, true, &found);
        if (!found || r->worker_down[w]) continue;
        if ((rc = send_shard(r, i, w, err))) return rc;
        r->st->backups++;
        qk_log(QK_LOG_INFO, "dist_backup",
               "\"queryId\":\"%s\",\"shard\":%zu,\"runningMs\":%lld,\"limitMs\":%.1f", r->qid, i,
               (long long)(now - a->t0), limit);
    }
    return 0;
}

/* ---- accepting answers -------------------------------------------------------------------------
 */

static int invalid(qk_err *err, const char *fmt, const char *a, const char *b)
{
    return qk_errtf(err, QK_EINVAL, "InvalidAnswer", fmt, a, b);
}

int qk_dist_check_partial(qk_engine *e, const char *path, const qk_dist_col *cols, size_t ncols,
                          uint64_t rows, qk_err *err)
{
    qk_arena a;
    qk_dist_col *got = NULL;
    size_t n = 0;
    int64_t count = -1;
    qk_buf sql;
    int rc;
    qk_arena_init(&a, 0);
    qk_buf_init(&sql, 8192);
    qk_buf_adds(&sql, "SELECT * FROM read_parquet(");
    qk_sql_add_literal(&sql, path);
    qk_buf_addc(&sql, ')');
    if ((rc = qk_dist_describe(e, qk_buf_cstr(&sql), NULL, &a, &got, &n, err))) {
        rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer", "the partial is not readable Parquet: %s",
                      err->msg);
        goto out;
    }
    if (n != ncols) {
        rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer", "the partial has %zu columns, expected %zu",
                      n, ncols);
        goto out;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const char *want = cols[i].as_varchar ? "VARCHAR" : cols[i].type;
        if (strcmp(got[i].name, cols[i].name) != 0)
            rc = invalid(err, "partial column '%.100s' where '%.100s' was expected", got[i].name,
                         cols[i].name);
        else if (!qk_dist_type_equal(got[i].type, want))
            rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer",
                          "partial column '%.60s' is %.60s, expected %.60s", got[i].name,
                          got[i].type, want);
    }
    qk_buf_truncate(&sql, 0);
    qk_buf_adds(&sql, "SELECT count(*) FROM read_parquet(");
    qk_sql_add_literal(&sql, path);
    qk_buf_addc(&sql, ')');
    if (!rc && (rc = qk_engine_scalar_i64(e, qk_buf_cstr(&sql), NULL, &count, err)))
        rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer", "the partial cannot be read: %s", err->msg);
    if (!rc && (uint64_t)count != rows)
        rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer",
                      "the partial has %lld rows, the worker said %llu", (long long)count,
                      (unsigned long long)rows);
out:
    qk_buf_free(&sql);
    qk_arena_free(&a);
    return rc;
}

static int write_file(const char *path, const qk_buf *b, qk_err *err)
{
    FILE *f = fopen(path, "wb");
    bool ok = f && (b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len);
    if (f && fclose(f) != 0) ok = false;
    return ok ? 0 : qk_errf(err, QK_EIO, "cannot write the partial %s", path);
}

/* A spilled partial: its key must be ours for this shard and attempt; fetch it to path. */
static int fetch_spilled(run *r, const attempt *a, const char *key, const char *path, qk_err *err)
{
    char name[64];
    qk_store *s = NULL;
    size_t n = r->spill ? strlen(r->spill) : 0;
    int rc;
    snprintf(name, sizeof name, "%zu-%d.parquet", a->shard, a->number);
    if (!r->spill || strncmp(key, r->spill, n) != 0 || strcmp(key + n, name) != 0)
        return invalid(err, "spilled partial '%.200s' is not under %.200s", key,
                       r->spill ? r->spill : "(no spill location)");
    r->spill_used = true;
    char *root = qk_arena_strndup(&r->arena, r->spill, n - 1);
    if (!root) return qk_errf(err, QK_ENOMEM, "out of memory");
    if (!(rc = qk_store_open(root, &s, err))) rc = qk_store_get_file(s, name, path, NULL, err);
    qk_store_destroy(s);
    if (rc) qk_err_prefix(err, "cannot fetch the spilled partial %.200s", key);
    r->st->spilled += rc == 0;
    return rc;
}

static int check_ids(run *r, const attempt *a, const qk_dist_answer *ans, qk_err *err)
{
    if (strcmp(ans->query_id, r->qid) != 0 || ans->shard != (int64_t)a->shard ||
        ans->attempt != a->number)
        return qk_errtf(err, QK_EINVAL, "InvalidAnswer",
                        "answer for query %.36s shard %lld attempt %lld, expected shard %zu "
                        "attempt %d",
                        ans->query_id, (long long)ans->shard, (long long)ans->attempt, a->shard,
                        a->number);
    if (r->job->whole && !ans->cols)
        return qk_errtf(err, QK_EINVAL, "InvalidAnswer",
                        "the answer to a whole query has no "
                        "\"columns\"");
    return 0;
}

static int keep_cols(run *r, shard *s, const qk_dist_answer *ans, qk_err *err)
{
    s->ncols = ans->ncols;
    if (!(s->cols = qk_arena_alloc(&r->arena, ans->ncols * sizeof *s->cols)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    for (size_t i = 0; i < ans->ncols; i++) {
        s->cols[i].name = qk_arena_strdup(&r->arena, ans->cols[i].name);
        s->cols[i].type = qk_arena_strdup(&r->arena, ans->cols[i].type);
        s->cols[i].as_varchar = ans->cols[i].as_varchar;
        if (!s->cols[i].name || !s->cols[i].type) return qk_errf(err, QK_ENOMEM, "oom");
    }
    return 0;
}

/* Check one answer body and keep its partial as shard a->shard's file. */
static int accept_answer(run *r, const attempt *a, const qk_buf *body, qk_err *err)
{
    qk_dist_answer ans;
    qk_arena ar;
    char sha[65];
    uint64_t size = 0;
    char *path = qk_arena_printf(&r->arena, "%s/p%zu-%d.parquet", r->dir, a->shard, a->number);
    int rc;
    if (!path) return qk_errf(err, QK_ENOMEM, "out of memory");
    qk_arena_init(&ar, 0);
    qk_dist_answer_init(&ans, QK_DIST_ANSWER_MAX);
    if ((rc = qk_dist_answer_parse(body->data, body->len, &ar, &ans, err)) ||
        (rc = check_ids(r, a, &ans, err)))
        goto out;
    rc = ans.key ? fetch_spilled(r, a, ans.key, path, err) : write_file(path, &ans.parquet, err);
    if (rc || (rc = qk_dist_sha256_file(path, sha, &size, err))) goto out;
    if (size != ans.bytes || strcmp(sha, ans.sha256) != 0) {
        rc = qk_errtf(err, QK_EINVAL, "InvalidAnswer",
                      "the partial's checksum or size does not match (%llu bytes, announced %llu)",
                      (unsigned long long)size, (unsigned long long)ans.bytes);
        goto out;
    }
    if (r->job->whole)
        rc = qk_dist_check_partial(r->e, path, ans.cols, ans.ncols, ans.rows, err);
    else
        rc = qk_dist_check_partial(r->e, path, r->job->cols, r->job->ncols, ans.rows, err);
    if (!rc && r->job->whole) rc = keep_cols(r, &r->shards[a->shard], &ans, err);
    if (!rc) {
        r->shards[a->shard].file = path;
        r->st->partial_bytes += size;
        r->st->partial_rows += ans.rows;
    }
out:
    if (rc) unlink(path);
    qk_dist_answer_free(&ans);
    qk_arena_free(&ar);
    return rc;
}

/* ---- finished calls ----------------------------------------------------------------------------
 */

/* A worker's error that another worker would repeat: a DuckDB error in the map SQL itself. */
static bool final_error(const qk_err *e)
{
    static const char *const retryable[] = {
        "IOException",    "PermissionException", "InterruptException",
        "HTTPException",  "InternalException",   "OutOfMemoryException",
        "FatalException", "ConnectionException", NULL};
    if (e->code != QK_ESQL) return false;
    for (const char *const *t = retryable; *t; t++)
        if (strcmp(e->type, *t) == 0) return false;
    return true;
}

/* Abort the other calls of a shard that is done. */
static void abort_others(run *r, size_t i)
{
    for (size_t k = 0; k < r->natts; k++) {
        attempt *a = r->atts[k];
        if (a->shard != i || !a->call) continue;
        qk_dist_call_free(a->call);
        a->call = NULL;
        r->shards[i].inflight--, r->worker_load[a->worker]--, r->running--;
        r->spill_used = r->spill_used || r->spill; /* it may have spilled before we left */
    }
}

static void log_failure(run *r, const attempt *a, const qk_err *e)
{
    qk_buf f;
    qk_buf_init(&f, 2048);
    qk_buf_printf(&f, "\"queryId\":\"%s\",\"shard\":%zu,\"attempt\":%d,\"worker\":", r->qid,
                  a->shard, a->number);
    const char *w = qk_dist_transport_name(r->o.workers[a->worker]);
    qk_buf_add_json_str(&f, w, strlen(w));
    qk_buf_adds(&f, ",\"errorType\":");
    qk_buf_add_json_str(&f, qk_err_type(e), strlen(qk_err_type(e)));
    qk_buf_adds(&f, ",\"message\":");
    qk_buf_add_json_str(&f, e->msg, strlen(e->msg));
    qk_log(QK_LOG_WARN, "dist_attempt_failed", "%s", qk_buf_cstr(&f));
    qk_buf_free(&f);
}

static int on_failure(run *r, const attempt *a, const qk_err *e, qk_err *err)
{
    shard *s = &r->shards[a->shard];
    s->last = *e;
    r->st->failures++;
    log_failure(r, a, e);
    if (final_error(e)) {
        *err = *e;
        if (!r->job->whole) qk_err_prefix(err, "shard %zu", a->shard);
        return err->code;
    }
    if (s->inflight > 0) return 0; /* its other copy may still win */
    if (e->code == QK_EBUSY && s->busy < BUSY_MAX) {
        /* refused before it ran (a worker at its --max-concurrency, Lambda throttling): not
         * an attempt; resent after a backoff, to whichever worker is free then */
        int64_t wait = BUSY_BACKOFF_MS << (s->busy < 6 ? s->busy : 6);
        s->attempts--, s->busy++;
        s->not_before = qk_now_ms() + (wait < BUSY_BACKOFF_MAX_MS ? wait : BUSY_BACKOFF_MAX_MS);
        s->state = SH_PENDING;
        return 0;
    }
    if (s->attempts >= r->o.max_attempts) {
        /* The workers failed, not the request: a server answers 500 (504 for a timeout). */
        int code = e->code == QK_ETIMEOUT || e->code == QK_ECANCELED ? e->code : QK_EHTTP;
        if (r->job->whole)
            qk_errtf(err, code, qk_err_type(e),
                     "the query failed on every worker (%d attempts): %s", s->attempts, e->msg);
        else
            qk_errtf(err, code, qk_err_type(e),
                     "shard %zu failed on every worker (%d attempts): %s", a->shard, s->attempts,
                     e->msg);
        return code;
    }
    s->state = SH_PENDING;
    s->retry = true;
    return 0;
}

static int on_done(run *r, qk_dist_call *c, qk_err *err)
{
    attempt *a = qk_dist_call_ud(c);
    shard *s = &r->shards[a->shard];
    const qk_buf *body;
    qk_err e = {0};
    int rc;
    a->call = NULL;
    s->inflight--, r->worker_load[a->worker]--, r->running--;
    rc = qk_dist_call_result(c, &body, &e);
    if (rc && qk_dist_call_unreachable(c)) r->worker_down[a->worker] = true;
    if (!rc && s->state != SH_DONE) rc = accept_answer(r, a, body, &e);
    qk_dist_call_free(c);
    if (s->state == SH_DONE) return 0;
    if (rc) return on_failure(r, a, &e, err);
    s->state = SH_DONE;
    r->worker_slow[a->worker] = false;
    s->ms = (double)(qk_now_ms() - a->t0);
    r->done_ms[r->done++] = s->ms;
    abort_others(r, a->shard);
    return 0;
}

/* ---- the loop ----------------------------------------------------------------------------------
 */

static int check_stop(run *r, qk_err *err)
{
    if (r->o.cancelled && r->o.cancelled(r->o.cancel_ud))
        return qk_errtf(err, QK_ECANCELED, "Canceled", "query canceled");
    if (r->deadline && qk_now_ms() >= r->deadline)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout",
                        "distributed query exceeded the timeout of %lld ms (%zu of %zu shards "
                        "done)",
                        (long long)r->o.timeout_ms, r->done, r->job->nshards);
    return 0;
}

static int map_phase(run *r, qk_err *err)
{
    qk_dist_call *c;
    int rc = 0;
    while (!rc && r->done < r->job->nshards) {
        if ((rc = check_stop(r, err)) || (rc = launch_pending(r, err)) ||
            (rc = launch_backups(r, err)))
            break;
        if ((rc = qk_dist_pool_poll(r->pool, POLL_MS, &c, err))) break;
        if (c) rc = on_done(r, c, err);
    }
    return rc;
}

static void shard_stats(run *r)
{
    qk_dist_run_stats *st = r->st;
    if (!r->done) return;
    median_done(r); /* sorts */
    st->shard_ms_min = r->done_ms[0];
    st->shard_ms_max = r->done_ms[r->done - 1];
    st->shard_ms_median = median_done(r);
}

/* Whole jobs: cast the VARCHAR columns back where that is exact. */
static int whole_reduce(void *ud, const char *const *files, size_t n, char **out, qk_err *err)
{
    const shard *s = ud;
    qk_buf b;
    qk_buf_init(&b, (size_t)1 << 24);
    (void)n;
    qk_buf_adds(&b, "SELECT ");
    for (size_t i = 0; i < s->ncols; i++) {
        bool cast = s->cols[i].as_varchar && qk_dist_type_castable(s->cols[i].type);
        if (i) qk_buf_adds(&b, ", ");
        if (cast) qk_buf_adds(&b, "CAST(");
        qk_dist_add_ident(&b, s->cols[i].name);
        if (cast) qk_buf_printf(&b, " AS %s)", s->cols[i].type);
        qk_buf_adds(&b, " AS ");
        qk_dist_add_ident(&b, s->cols[i].name);
    }
    qk_buf_adds(&b, " FROM read_parquet(");
    qk_sql_add_literal(&b, files[0]);
    if (qk_buf_addc(&b, ')')) {
        qk_buf_free(&b);
        return qk_errf(err, QK_ETOOBIG, "reduce SQL too long");
    }
    *out = qk_buf_detach(&b, NULL);
    return 0;
}

static int reduce(run *r, qk_result **out, qk_err *err)
{
    const char **files = qk_arena_alloc(&r->arena, r->job->nshards * sizeof *files);
    qk_query_opts qo = {r->o.limit, 0, r->o.cancelled, r->o.cancel_ud, false};
    char *sql = NULL;
    double t0 = qk_now_msf();
    int rc;
    if (!files) return qk_errf(err, QK_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->job->nshards; i++)
        files[i] = r->shards[i].file;
    if (r->deadline) {
        qo.timeout_ms = r->deadline - qk_now_ms();
        if (qo.timeout_ms <= 0) return check_stop(r, err);
    }
    if (r->job->reduce_sql)
        rc = r->job->reduce_sql(r->job->reduce_ud, files, r->job->nshards, &sql, err);
    else
        rc = whole_reduce(&r->shards[0], files, r->job->nshards, &sql, err);
    if (rc) {
        qk_err_prefix(err, "cannot build the reduce SQL");
        return rc;
    }
    rc = qk_engine_query(r->e, sql, &qo, out, err);
    if (rc == QK_ETIMEOUT)
        qk_errtf(err, QK_ETIMEOUT, "Timeout",
                 "distributed query exceeded the timeout of %lld ms "
                 "(in the reduce)",
                 (long long)r->o.timeout_ms);
    free(sql);
    r->st->reduce_ms = qk_now_msf() - t0;
    return rc;
}

/* Delete the spilled partials of this query (best effort). */
static void clean_spill(run *r)
{
    qk_store *s = NULL;
    qk_obj_list l = {0};
    qk_err e = {0};
    char *root;
    if (!r->spill || !r->spill_used) return;
    root = qk_arena_strndup(&r->arena, r->spill, strlen(r->spill) - 1);
    if (!root || qk_store_open(root, &s, &e) != 0) return;
    if (strcmp(qk_store_backend(s), "local") == 0) {
        qk_rmtree(qk_store_uri(s), false, NULL);
    } else if (qk_store_list_collect(s, NULL, &l, &e) == 0) {
        for (size_t i = 0; i < l.n; i += QK_STORE_DELETE_MANY_MAX) {
            const char *keys[QK_STORE_DELETE_MANY_MAX];
            size_t k = 0;
            for (; k < QK_STORE_DELETE_MANY_MAX && i + k < l.n; k++)
                keys[k] = l.v[i + k].key;
            qk_store_delete_many(s, keys, k, &e);
        }
    }
    qk_obj_list_free(&l);
    qk_store_destroy(s);
}

static void finish(run *r)
{
    for (size_t k = 0; k < r->natts; k++) /* an aborted call may have spilled already */
        if (r->atts[k]->call) r->spill_used = r->spill_used || r->spill, r->atts[k]->call = NULL;
    qk_dist_pool_destroy(r->pool); /* aborts whatever still runs */
    r->pool = NULL;
    clean_spill(r);
    if (r->dir) qk_rmtree(r->dir, false, NULL);
    shard_stats(r);
    qk_arena_free(&r->arena);
}

int qk_dist_run_job(qk_engine *e, const qk_dist_job *job, const qk_dist_coord_opts *o,
                    qk_result **out, qk_dist_run_stats *st, qk_err *err)
{
    qk_dist_run_stats dummy;
    double t0 = qk_now_msf();
    run r;
    int rc;
    *out = NULL;
    if (!st) {
        memset(&dummy, 0, sizeof dummy);
        st = &dummy;
    }
    memset(&r, 0, sizeof r);
    r.e = e, r.job = job, r.st = st;
    /* this run's counters start at 0; plan_ms, split and local are the caller's */
    st->attempts = st->retries = st->backups = st->failures = st->spilled = 0;
    st->partial_bytes = st->partial_rows = 0;
    st->shard_ms_min = st->shard_ms_median = st->shard_ms_max = 0;
    st->map_ms = st->reduce_ms = st->total_ms = 0;
    st->shards = job->nshards;
    st->workers = o->nworkers;
    if (!o->nworkers) return qk_errf(err, QK_EINVAL, "no workers to send map tasks to");
    if (!job->nshards) return qk_errf(err, QK_EINVAL, "a distributed job needs at least one shard");
    apply_defaults(&r, o);
    qk_arena_init(&r.arena, 0);
    if (!(rc = setup(&r, err)) && !(rc = map_phase(&r, err))) {
        st->map_ms = qk_now_msf() - t0;
        rc = reduce(&r, out, err);
    } else {
        st->map_ms = qk_now_msf() - t0;
    }
    finish(&r);
    st->total_ms = qk_now_msf() - t0;
    return rc;
}

/* ---- plans -------------------------------------------------------------------------------------
 */

static int plan_reduce(void *ud, const char *const *files, size_t n, char **out, qk_err *err)
{
    return qk_dist_reduce_sql(ud, files, n, out, err);
}

static int run_whole(qk_engine *e, const qk_dist_plan *plan, const qk_dist_coord_opts *o,
                     qk_result **out, qk_dist_run_stats *st, qk_err *err)
{
    const char *maps[1] = {plan->sql};
    qk_dist_job job = {maps, 1, NULL, 0, true, NULL, NULL};
    qk_query_opts qo = {o->limit, o->timeout_ms, o->cancelled, o->cancel_ud, false};
    double t0 = qk_now_msf();
    int rc;
    st->shards = 1;
    if (o->nworkers) return qk_dist_run_job(e, &job, o, out, st, err);
    st->local = true;
    st->shards = 0;
    rc = qk_lake_query(e, plan->sql, &qo, out, err);
    st->reduce_ms = st->total_ms = qk_now_msf() - t0;
    return rc;
}

int qk_dist_run(qk_engine *e, const qk_dist_plan *plan, const qk_dist_coord_opts *o,
                qk_result **out, qk_dist_run_stats *st, qk_err *err)
{
    qk_dist_run_stats dummy;
    qk_dist_job job;
    char **maps = NULL;
    int rc = 0;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    st->plan_ms = plan->plan_ms;
    st->split = plan->split;
    if (!plan->split) return run_whole(e, plan, o, out, st, err);
    if (!plan->nshards) return qk_errf(err, QK_EINTERNAL, "the plan is split into no shards");
    if (!(maps = calloc(plan->nshards, sizeof *maps))) return qk_errf(err, QK_ENOMEM, "oom");
    for (size_t i = 0; i < plan->nshards && !rc; i++)
        rc = qk_dist_map_sql(plan, i, &maps[i], err);
    if (!rc) {
        job = (qk_dist_job){(const char *const *)maps,
                            plan->nshards,
                            plan->partial_cols,
                            plan->npartial_cols,
                            false,
                            plan_reduce,
                            (void *)plan};
        rc = qk_dist_run_job(e, &job, o, out, st, err);
    }
    for (size_t i = 0; i < plan->nshards; i++)
        free(maps[i]);
    free(maps);
    return rc;
}

int qk_dist_query(qk_engine *e, const char *sql, const qk_dist_plan_opts *po,
                  const qk_dist_coord_opts *o, qk_result **out, qk_dist_run_stats *st, qk_err *err)
{
    qk_dist_plan plan;
    qk_dist_plan_opts dpo = {.shard_bytes = 0};
    int rc;
    memset(&plan, 0, sizeof plan);
    *out = NULL;
    if ((rc = qk_dist_plan_query(e, sql, po ? po : &dpo, &plan, err))) {
        if (st) memset(st, 0, sizeof *st);
        qk_dist_plan_free(&plan);
        return rc;
    }
    rc = qk_dist_run(e, &plan, o, out, st, err);
    if (st) st->total_ms += plan.plan_ms;
    qk_dist_plan_free(&plan);
    return rc;
}

int qk_dist_stats_json(const qk_dist_run_stats *st, qk_buf *out)
{
    return qk_buf_printf(
        out,
        "{\"queryId\":\"%s\",\"split\":%s,\"local\":%s,\"shards\":%zu,\"workers\":%zu,"
        "\"attempts\":%zu,\"retries\":%zu,\"backups\":%zu,\"failures\":%zu,\"spilled\":%zu,"
        "\"shardMs\":{\"min\":%.3f,\"median\":%.3f,\"max\":%.3f},\"partialBytes\":%llu,"
        "\"partialRows\":%llu,\"planMs\":%.3f,\"mapMs\":%.3f,\"reduceMs\":%.3f,"
        "\"totalMs\":%.3f}",
        st->query_id, st->split ? "true" : "false", st->local ? "true" : "false", st->shards,
        st->workers, st->attempts, st->retries, st->backups, st->failures, st->spilled,
        st->shard_ms_min, st->shard_ms_median, st->shard_ms_max,
        (unsigned long long)st->partial_bytes, (unsigned long long)st->partial_rows, st->plan_ms,
        st->map_ms, st->reduce_ms, st->total_ms);
}
