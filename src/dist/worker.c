/* SPDX-License-Identifier: MIT */
/*
 * worker.c: map tasks (worker.h). One task, start to end:
 *
 *   1. parse the task (task.c); the time limit is the sooner of the host's timeout and the
 *      task's deadlineMs (minus a margin); past the deadline the task is refused (Timeout)
 *   2. resolve the map SQL (lake/resolve.h, names on): this parses it with DuckDB's own
 *      parser, which refuses anything but one SELECT, so the text can be wrapped in COPY (...)
 *      without changing its meaning
 *   3. whole tasks: DESCRIBE it and wrap it as
 *        SELECT CAST("c0" AS VARCHAR) AS "a", "c1" AS "b" FROM (<sql>) AS __qk_whole("c0","c1")
 *        [LIMIT n]
 *      (cast only the columns whose type Parquet would change; duplicate names get _1, _2...)
 *   4. COPY (...) TO '<temp>/map-<uuid>.parquet' (FORMAT parquet): DuckDB answers the row count
 *   5. the file's SHA-256 and size; inline when size <= threshold (or when there is no spill
 *      prefix and it fits the caller's buffer), else qk_store_put_file to the spill prefix
 *   6. the answer JSON; the file is removed whatever happened
 *
 * Spill prefixes are checked when a partial needs one: they must name a "_quack/partials/"
 * folder, either on S3 or under this worker's own local lake, so a task cannot make a worker
 * write anywhere else. A prefix this worker cannot use (the coordinator's local lake, seen
 * from another machine) is ignored while the partial still fits inline.
 */
#include "dist/worker.h"
#include "dist/dist_int.h"
#include "dist/task.h"
#include "lake/resolve.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIN_TASK_MS 20 /* less time than this left: refuse rather than start */

typedef struct map_job {
    qk_engine *e;
    const char *sql;
    bool whole;
    int64_t limit;
    qk_query_opts o;
    qk_arena *arena;
    /* results */
    char path[4096];
    bool have_file;
    int64_t rows;
    qk_dist_col *cols;
    size_t ncols;
    double exec_ms;
} map_job;

/* ---- SQL ------------------------------------------------------------------------------------ */

/* Length of sql without trailing blanks and semicolons. */
static size_t trimmed_len(const char *sql)
{
    size_t n = strlen(sql);
    while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\t' ||
                 sql[n - 1] == '\n' || sql[n - 1] == '\r'))
        n--;
    return n;
}

/* Make the names unique the way DuckDB does for subqueries: a, a_1, a_2... */
static int unique_names(map_job *j, qk_err *err)
{
    for (size_t i = 0; i < j->ncols; i++) {
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = strcasecmp(j->cols[k].name, j->cols[i].name) == 0;
        for (int s = 1; dup; s++) {
            char *cand = qk_arena_printf(j->arena, "%s_%d", j->cols[i].name, s);
            if (!cand) return qk_errf(err, QK_ENOMEM, "out of memory");
            dup = false;
            for (size_t k = 0; k < j->ncols && !dup; k++)
                dup = strcasecmp(j->cols[k].name, cand) == 0;
            if (!dup) j->cols[i].name = cand;
        }
    }
    return 0;
}

/* Step 3: the whole query wrapped for an exact round trip. */
static int whole_select(map_job *j, const char *local, qk_buf *out, qk_err *err)
{
    int rc = qk_dist_describe(j->e, local, &j->o, j->arena, &j->cols, &j->ncols, err);
    if (rc || (rc = unique_names(j, err))) return rc;
    qk_buf_adds(out, "SELECT ");
    for (size_t i = 0; i < j->ncols; i++) {
        j->cols[i].as_varchar = qk_dist_type_widens(j->cols[i].type);
        qk_buf_printf(out, "%s%s\"c%zu\"%s AS ", i ? ", " : "",
                      j->cols[i].as_varchar ? "CAST(" : "", i,
                      j->cols[i].as_varchar ? " AS VARCHAR)" : "");
        qk_dist_add_ident(out, j->cols[i].name);
    }
    qk_buf_printf(out, " FROM (\n%s\n) AS __qk_whole(", local);
    for (size_t i = 0; i < j->ncols; i++)
        qk_buf_printf(out, "%s\"c%zu\"", i ? ", " : "", i);
    rc = qk_buf_addc(out, ')');
    if (!rc && j->limit >= 0) rc = qk_buf_printf(out, " LIMIT %lld", (long long)j->limit);
    return rc ? qk_errf(err, rc, "map SQL too long") : 0;
}

static int resolve(map_job *j, qk_lake_ctx *ctx, char **local, qk_err *err)
{
    int rc;
    qk_lake_ctx_init(ctx, j->e);
    ctx->names = true;
    ctx->opts = &j->o;
    rc = qk_lake_resolve(ctx, j->sql, local, err);
    if (rc == QK_EUNSUPPORTED || (rc == QK_EPARSE && strstr(err->msg, "Only SELECT"))) {
        qk_errtf(err, QK_EINVAL, "BadRequest", "a map task's SQL must be one SELECT statement");
        return QK_EINVAL;
    }
    if (!rc) (*local)[trimmed_len(*local)] = '\0';
    return rc;
}

/* Steps 2-4: resolve, wrap, COPY to j->path. */
static int map_to_file(map_job *j, qk_err *err)
{
    double t0 = qk_now_msf();
    qk_lake_ctx ctx;
    char *local = NULL, uuid[37];
    qk_buf inner, copy;
    int rc;
    qk_buf_init(&inner, QK_DIST_SQL_MAX * 2 + 65536);
    qk_buf_init(&copy, QK_DIST_SQL_MAX * 2 + 65536);
    if ((rc = resolve(j, &ctx, &local, err))) goto out;
    if (j->whole)
        rc = whole_select(j, local, &inner, err);
    else if ((rc = qk_buf_adds(&inner, local)))
        rc = qk_errf(err, rc, "map SQL too long");
    if (rc) goto out;
    if (!j->path[0]) { /* the caller's path, else a fresh temp file */
        qk_uuid4(uuid);
        snprintf(j->path, sizeof j->path, "%s/map-%s.parquet", qk_engine_temp_dir(j->e), uuid);
    }
    qk_buf_printf(&copy, "COPY (\n%s\n) TO ", qk_buf_cstr(&inner));
    qk_sql_add_literal(&copy, j->path);
    if ((rc = qk_buf_adds(&copy, " (FORMAT parquet)"))) {
        rc = qk_errf(err, rc, "map SQL too long");
        goto out;
    }
    j->have_file = true;
    rc = qk_engine_scalar_i64(j->e, qk_buf_cstr(&copy), &j->o, &j->rows, err);
out:
    j->exec_ms = qk_now_msf() - t0;
    qk_lake_ctx_free(&ctx);
    free(local);
    qk_buf_free(&inner);
    qk_buf_free(&copy);
    return rc;
}

static void remove_file(map_job *j)
{
    if (j->have_file) unlink(j->path);
    j->have_file = false;
}

/* Append the whole file to out. */
static int read_into(const char *path, qk_buf *out, qk_err *err)
{
    char buf[1 << 16];
    size_t n, start = out->len;
    FILE *f = fopen(path, "rb");
    int rc = 0;
    if (!f) return qk_errf(err, QK_EIO, "cannot read the partial %s", path);
    while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0)
        if ((rc = qk_buf_add(out, buf, n)))
            rc = qk_errtf(err, rc, "PayloadTooLarge", "the partial is larger than %zu bytes",
                          out->max);
    if (!rc && ferror(f)) rc = qk_errf(err, QK_EIO, "cannot read the partial %s", path);
    fclose(f);
    if (rc) qk_buf_truncate(out, start);
    return rc;
}

static void job_init(map_job *j, qk_arena *a, qk_engine *e, const char *map_sql,
                     const qk_query_opts *o)
{
    memset(j, 0, sizeof *j);
    qk_arena_init(a, 0);
    j->e = e, j->sql = map_sql, j->limit = -1, j->arena = a;
    j->o = o ? *o : (qk_query_opts){-1, 0, NULL, NULL, false};
    j->o.limit = -1;
}

int qk_dist_run_map(qk_engine *e, const char *map_sql, const qk_query_opts *o, qk_buf *parquet_out,
                    qk_dist_map_stats *st, qk_err *err)
{
    qk_arena a;
    map_job j;
    size_t before = parquet_out->len;
    int rc;
    job_init(&j, &a, e, map_sql, o);
    rc = map_to_file(&j, err);
    if (!rc) rc = read_into(j.path, parquet_out, err);
    if (!rc && st) {
        st->rows = (uint64_t)j.rows;
        st->bytes = parquet_out->len - before;
        st->exec_ms = j.exec_ms;
    }
    remove_file(&j);
    qk_arena_free(&a);
    return rc;
}

int qk_dist_run_map_file(qk_engine *e, const char *map_sql, const qk_query_opts *o,
                         const char *path, qk_dist_map_stats *st, qk_err *err)
{
    qk_arena a;
    map_job j;
    struct stat sb;
    int rc;
    job_init(&j, &a, e, map_sql, o);
    if (strlen(path) >= sizeof j.path) {
        qk_arena_free(&a);
        return qk_errf(err, QK_EINVAL, "partial path too long: %.200s", path);
    }
    snprintf(j.path, sizeof j.path, "%s", path);
    rc = map_to_file(&j, err);
    if (rc)
        remove_file(&j);
    else if (st) {
        st->rows = (uint64_t)j.rows;
        st->bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        st->exec_ms = j.exec_ms;
    }
    qk_arena_free(&a);
    return rc;
}

/* ---- tasks ---------------------------------------------------------------------------------- */

/* Step 1: the task's time limit. QK_ETIMEOUT when the deadline leaves no time. */
static int task_timeout(const qk_dist_task *t, const qk_dist_worker_opts *o, int64_t *out,
                        qk_err *err)
{
    int64_t limit = o->timeout_ms, left;
    *out = limit;
    if (!t->deadline_ms) return 0;
    left = t->deadline_ms - qk_epoch_ms() - o->deadline_margin_ms;
    if (left < MIN_TASK_MS)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout",
                        "the task's deadline has passed (or is %lld ms away): not started",
                        (long long)left);
    if (limit <= 0 || left < limit) *out = left;
    return 0;
}

/* Is uri a spill prefix this worker may write to? */
static int check_spill(qk_engine *e, const char *uri, qk_err *err)
{
    const char *lake = qk_engine_lake(e), *path = uri;
    size_t n = strlen(lake);
    if (!strstr(uri, "/_quack/partials/") || strstr(uri, "/../") || strstr(uri, "/./"))
        return qk_errtf(err, QK_EINVAL, "BadRequest",
                        "\"spill.uri\" must be a _quack/partials/ folder, got %.200s", uri);
    if (qk_str_startswith(uri, "s3://")) return 0;
    if (qk_str_startswith(path, "file://")) path += 7;
    if (!qk_engine_lake_remote(e) && strncmp(path, lake, n) == 0 &&
        qk_str_startswith(path + n, "/_quack/partials/"))
        return 0;
    return qk_errtf(err, QK_EINVAL, "BadRequest",
                    "\"spill.uri\" must be on S3 or under this worker's lake (%.100s), got %.100s",
                    lake, uri);
}

/* Step 5, spilled: put the file under the task's spill prefix; a->key is the object's URI. */
static int spill(map_job *j, const qk_dist_task *t, qk_arena *a, qk_dist_answer *ans, qk_err *err)
{
    qk_store *s = NULL;
    size_t n = strlen(t->spill_uri);
    char *root = qk_arena_strndup(a, t->spill_uri, n - 1); /* without the final '/' */
    char key[64];
    int rc;
    snprintf(key, sizeof key, "%lld-%lld.parquet", (long long)t->shard, (long long)t->attempt);
    if (!root) return qk_errf(err, QK_ENOMEM, "out of memory");
    if (!(rc = qk_store_open(root, &s, err))) rc = qk_store_put_file(s, key, j->path, err);
    qk_store_destroy(s);
    if (rc) {
        qk_err_prefix(err, "cannot spill the partial to %.200s", t->spill_uri);
        return rc;
    }
    ans->key = qk_arena_printf(a, "%s%s", t->spill_uri, key);
    return ans->key ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
}

/* Steps 5-6. */
static int answer(map_job *j, const qk_dist_task *t, qk_arena *a, qk_buf *out, qk_err *err)
{
    qk_dist_answer ans;
    qk_buf bytes;
    int rc;
    qk_dist_answer_init(&ans, 0);
    memcpy(ans.query_id, t->query_id, sizeof ans.query_id);
    ans.shard = t->shard, ans.attempt = t->attempt, ans.rows = (uint64_t)j->rows;
    ans.exec_ms = j->exec_ms;
    if (j->whole) ans.cols = j->cols, ans.ncols = j->ncols;
    if ((rc = qk_dist_sha256_file(j->path, ans.sha256, &ans.bytes, err))) return rc;
    /* Inline up to the threshold; past it spill when the location is usable here, else
     * inline anyway when the base64 (4/3 of the bytes) fits in out. */
    bool fits = ans.bytes / 3 * 4 + 4096 <= out->max - out->len;
    bool inline_ok = t->spill_uri ? ans.bytes <= t->spill_threshold : fits;
    if (!inline_ok && (rc = check_spill(j->e, t->spill_uri, err)) == 0) {
        if ((rc = spill(j, t, a, &ans, err))) return rc;
        return qk_dist_answer_build(&ans, NULL, out, err);
    }
    if (!inline_ok && !fits)
        return qk_errtf(err, QK_ETOOBIG, "PayloadTooLarge",
                        "the partial is %llu bytes: too large to answer inline (limit %zu "
                        "bytes) and %s",
                        (unsigned long long)ans.bytes, out->max,
                        t->spill_uri ? "the spill location cannot be used here"
                                     : "the task has no spill location");
    qk_err_clear(err);
    qk_buf_init(&bytes, (size_t)ans.bytes);
    if (!(rc = read_into(j->path, &bytes, err)))
        rc = qk_dist_answer_build(&ans, bytes.data, out, err);
    qk_buf_free(&bytes);
    return rc;
}

int qk_dist_handle_task(qk_engine *e, const char *body, size_t len, const qk_dist_worker_opts *o,
                        qk_buf *out, qk_err *err)
{
    static const qk_dist_worker_opts none = {0, NULL, NULL, 0};
    qk_dist_task t;
    qk_arena a;
    map_job j;
    int rc;
    if (!o) o = &none;
    memset(&j, 0, sizeof j);
    qk_arena_init(&a, 2 * QK_DIST_SQL_MAX + ((size_t)8 << 20));
    if ((rc = qk_dist_task_parse(body, len, &a, &t, err))) goto out;
    j.e = e, j.sql = t.sql, j.whole = t.whole, j.limit = t.limit, j.arena = &a;
    j.o = (qk_query_opts){-1, 0, o->cancelled, o->cancel_ud, false};
    if ((rc = task_timeout(&t, o, &j.o.timeout_ms, err))) goto out;
    if ((rc = map_to_file(&j, err))) goto out;
    rc = answer(&j, &t, &a, out, err);
    qk_log(QK_LOG_DEBUG, "map_task",
           "\"queryId\":\"%s\",\"shard\":%lld,\"attempt\":%lld,\"rows\":%lld,\"ms\":%.3f",
           t.query_id, (long long)t.shard, (long long)t.attempt, (long long)j.rows, j.exec_ms);
out:
    remove_file(&j);
    qk_arena_free(&a);
    return rc;
}
