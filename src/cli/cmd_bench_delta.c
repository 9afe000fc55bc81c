/* SPDX-License-Identifier: MIT */
/*
 * cmd_bench_delta.c: `quack bench delta`, the Delta table benchmarks (docs/bench-delta.md),
 * run in this process against the delta module (delta.h), on a local lake or an s3:// one.
 * Everything lives in a fresh folder bench_delta_<hex>/ under the lake, removed at the end:
 *
 *   commits/        --commits single-row appends (checkpoint every 10, the writer's default)
 *   commits_nockpt/ a copy of it without checkpoints (commit JSON and data files only)
 *   append/         (2) 50 single-row appends, each timed whole and split by the writer's
 *                   progress stages; interleaved with put_if_absent of a commit-sized object
 *   pia/            the put_if_absent objects (the store's commit primitive, the baseline)
 *   skip/           (3) 20 appends of 50,000 rows, file k holding ids [k*50000, (k+1)*50000)
 *
 * (1) times qk_delta_snapshot_load (latest) of commits/ and commits_nockpt/ against baselines
 * of the same run: listing _delta_log/, getting the checkpoint object, and DuckDB reading the
 * checkpoint Parquet (count(*), and every row as JSON as the reader does), in interleaved
 * rounds after one warm-up round. (3) runs one selective query by table name (lake name
 * binding and Delta skipping, as `quack query` does) with QUACK_DELTA_SKIPPING on and off: the
 * bytes are the sizes of the snapshot's data files named in the SQL DuckDB runs, and on S3
 * also what was fetched into a fresh cache per run. The answers must agree (else exit 1).
 * Tables go to stdout as Markdown (stderr with --json -), progress lines to stderr.
 */
#include <duckdb.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/bench_proc.h"
#include "cli/cli.h"
#include "delta/delta.h"
#include "engine/encode.h"
#include "lake/resolve.h"
#include "store/cache.h"

#ifndef QUACK_VERSION
#define QUACK_VERSION "0.1.0"
#endif

#define CMD "bench delta"
#define MAX_SAMPLES 256
#define APPENDS 50
#define SKIP_FILES 20
#define SKIP_ROWS 50000
#define SKIP_TARGET 7 /* the file the selective query hits */
#define TARGET_MS 20.0
#define QUERY_TIMEOUT_MS 600000
#define SAY(...)                                                                                   \
    (fputs("[bench delta] ", stderr), fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

int qk_cmd_bench_delta(int argc, char **argv);

static const char help[] =
    "Usage: quack bench delta [OPTIONS]\n"
    "\n"
    "Benchmark Delta tables in this process (docs/bench-delta.md), in a fresh folder\n"
    "bench_delta_<hex>/ under the lake that is removed at the end:\n"
    "  (1) snapshot load of a --commits table (single-row appends, a checkpoint every 10)\n"
    "      and of a copy without checkpoints; baselines: listing _delta_log/, getting the\n"
    "      checkpoint, DuckDB reading the checkpoint Parquet. Target: <= 20 ms with a\n"
    "      checkpoint (median; PASS/MISS, timing never fails the command)\n"
    "  (2) append-commit latency: 50 single-row appends, whole and by stage; baseline:\n"
    "      put_if_absent of a commit-sized object on the same store\n"
    "  (3) file skipping: a selective query over 20 files with QUACK_DELTA_SKIPPING on and\n"
    "      off: bytes read (on S3: fetched) and time; the answers must agree (else exit 1)\n"
    "\n"
    "Options:\n"
    "      --lake DIR|s3://B/P  the lake (default $QUACK_LAKE or ./lake)\n"
    "      --commits N          commits of the table in (1), 11..100000 (default 1000)\n"
    "      --runs N             measured runs in (1) and (3), 1..256 (default 30)\n"
    "      --json FILE          also write every number and the machine notes as JSON\n"
    "                           ('-': JSON on stdout, the tables on stderr)\n"
    "  -h, --help               show this help\n"
    "\n"
    "Exit status: 0 done, 1 a step failed or the answers disagree, 2 usage error.\n"
    "Example:\n"
    "  quack bench delta --lake /tmp/lake --json delta.json\n";

typedef struct series {
    double ms[MAX_SAMPLES];
    size_t n;
} series;

/* The writer's stages of one append: ms from its start when the stage began, -1 unseen. */
enum { ST_READING, ST_UPLOADING, ST_COMMITTING, ST_CHECKPOINTING, NSTAGES };

typedef struct stamps {
    double t0, at[NSTAGES];
} stamps;

typedef struct dbench {
    const char *lake, *json;
    int64_t commits, runs;
    qk_engine *e;
    qk_store *s;
    bool remote, disagree;
    char run[64];   /* bench_delta_<hex>: the folder of this run, under the lake */
    char tmp[4096]; /* local temp dir (the S3 runs' caches) */
    FILE *out;
    json_t *root;
    double cpu_start[3];
} dbench;

/* ---- numbers and output ------------------------------------------------------------------- */

static void jset(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v);
}

/* s NULL: a warm-up run, not recorded. */
static void add(series *s, double ms)
{
    if (s && s->n < MAX_SAMPLES) s->ms[s->n++] = ms;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile p (0..100) of s; 0 for an empty series. */
static double pct(const series *s, double p)
{
    double v[MAX_SAMPLES];
    size_t k;
    if (!s->n) return 0;
    memcpy(v, s->ms, s->n * sizeof *v);
    qsort(v, s->n, sizeof *v, cmp_double);
    k = (size_t)ceil(p / 100 * (double)s->n);
    return v[k ? k - 1 : 0];
}

static json_t *series_json(const series *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n; i++)
        json_array_append_new(a, json_real(s->ms[i]));
    return json_pack("{s:o, s:I, s:f, s:f, s:f, s:f}", "runs_ms", a, "n", (json_int_t)s->n,
                     "median_ms", pct(s, 50), "p90_ms", pct(s, 90), "min_ms", pct(s, 0), "max_ms",
                     pct(s, 100));
}

/* A table row "| label | median | p90 | min | max | runs |"; the series under key in j. */
static void row(dbench *b, json_t *j, const char *key, const char *label, const series *s)
{
    fprintf(b->out, "| %s | %.2f | %.2f | %.2f | %.2f | %zu |\n", label, pct(s, 50), pct(s, 90),
            pct(s, 0), pct(s, 100), s->n);
    jset(j, key, series_json(s));
}

static void table_head(dbench *b)
{
    fprintf(b->out, "| measurement | median ms | p90 ms | min ms | max ms | runs |\n"
                    "|---|---:|---:|---:|---:|---:|\n");
}

/* ---- writing ------------------------------------------------------------------------------ */

static void on_progress(void *ud, const char *stage, uint64_t done, uint64_t total)
{
    static const char *const names[NSTAGES] = {"reading", "uploading", "committing",
                                               "checkpointing"};
    stamps *st = ud;
    (void)done;
    (void)total;
    for (int i = 0; i < NSTAGES; i++)
        if (!strcmp(stage, names[i]) && st->at[i] < 0) st->at[i] = qk_now_msf() - st->t0;
}

/* Append the rows of source_sql (NULL: one row, id i) to the run's table; *ms: the wall time
 * of qk_delta_write; st (may be NULL): when each stage began. A failed checkpoint is an error. */
static int append(dbench *b, const char *table, const char *source_sql, int64_t i, double *ms,
                  stamps *st, qk_delta_write_result *res, qk_err *err)
{
    qk_delta_write_opts o = {
        .mode = QK_DELTA_APPEND, .progress = st ? on_progress : NULL, .progress_ud = st};
    char prefix[256], one[160];
    double t0;
    int rc;
    snprintf(prefix, sizeof prefix, "%s/%s", b->run, table);
    snprintf(one, sizeof one, "SELECT CAST(%lld AS BIGINT) AS id, 'row %lld' AS note", (long long)i,
             (long long)i);
    for (int k = 0; st && k < NSTAGES; k++)
        st->at[k] = -1;
    t0 = qk_now_msf();
    if (st) st->t0 = t0;
    rc = qk_delta_write(b->e, b->s, prefix, source_sql ? source_sql : one, &o, res, err);
    *ms = qk_now_msf() - t0;
    if (!rc && res->warning[0]) rc = qk_errf(err, QK_EIO, "%s", res->warning);
    return rc;
}

/* Copy every object of the run's table src to dst except checkpoints and _last_checkpoint. */
static int copy_without_checkpoints(dbench *b, const char *src, const char *dst, size_t *n,
                                    qk_err *err)
{
    char from[256], key[QK_STORE_KEY_MAX + 1];
    qk_obj_list l = {0};
    size_t plen = (size_t)snprintf(from, sizeof from, "%s/%s/", b->run, src);
    int rc = qk_store_list_collect(b->s, from, &l, err);
    *n = 0;
    for (size_t i = 0; !rc && i < l.n; i++) {
        const char *rel = l.v[i].key + plen;
        if (strstr(rel, ".checkpoint.") || !strcmp(rel, "_delta_log/_last_checkpoint")) continue;
        snprintf(key, sizeof key, "%s/%s/%s", b->run, dst, rel);
        if (!(rc = qk_store_copy(b->s, l.v[i].key, key, err))) (*n)++;
    }
    qk_obj_list_free(&l);
    return rc;
}

/* ---- (1) snapshot load -------------------------------------------------------------------- */

typedef struct load_set {
    series ckpt, nockpt, list, get, count, rows;
    int64_t ckpt_version, version;
    size_t log_objects, nfiles;
    uint64_t ckpt_bytes;
    char ckpt_key[QK_STORE_KEY_MAX + 1];
    char ckpt_path[4096]; /* the checkpoint as a local file DuckDB may read */
} load_set;

static int load_once(dbench *b, const char *table, series *s, load_set *ls, qk_err *err)
{
    char prefix[256];
    qk_delta_snapshot *snap = NULL;
    double t0;
    int rc;
    snprintf(prefix, sizeof prefix, "%s/%s", b->run, table);
    t0 = qk_now_msf();
    rc = qk_delta_snapshot_load(b->e, b->s, prefix, NULL, &snap, err);
    if (!rc) add(s, qk_now_msf() - t0);
    if (!rc && ls) {
        ls->ckpt_version = snap->checkpoint_version;
        ls->version = snap->version;
        ls->nfiles = snap->nfiles;
    }
    qk_delta_snapshot_destroy(snap);
    return rc;
}

/* The baselines on the log: one listing of _delta_log/, then one get of the checkpoint. */
static int time_log(dbench *b, load_set *ls, bool record, qk_err *err)
{
    char prefix[256];
    qk_obj_list l = {0};
    qk_buf buf;
    double t0 = qk_now_msf(), t1;
    int rc;
    snprintf(prefix, sizeof prefix, "%s/commits/_delta_log/", b->run);
    qk_buf_init(&buf, (size_t)1 << 30);
    rc = qk_store_list_collect(b->s, prefix, &l, err);
    t1 = qk_now_msf();
    if (!rc) rc = qk_store_get(b->s, ls->ckpt_key, 0, QK_STORE_TO_END, &buf, NULL, err);
    if (!rc && record) add(&ls->list, t1 - t0), add(&ls->get, qk_now_msf() - t1);
    ls->log_objects = l.n;
    ls->ckpt_bytes = buf.len;
    qk_obj_list_free(&l);
    qk_buf_free(&buf);
    return rc;
}

/* DuckDB on the checkpoint file: count(*), or (all_rows) every row as JSON: the reader's
 * query, with the lengths summed instead of fetched. */
static int time_parquet(dbench *b, const load_set *ls, bool all_rows, series *s, qk_err *err)
{
    qk_query_opts qo = {-1, QUERY_TIMEOUT_MS, NULL, NULL, false};
    qk_buf sql;
    int64_t v = 0;
    double t0;
    int rc;
    qk_buf_init(&sql, 1 << 16);
    if (qk_buf_adds(&sql, all_rows ? "SELECT CAST(sum(length(CAST(to_json(t) AS VARCHAR))) AS "
                                     "BIGINT) FROM read_parquet("
                                   : "SELECT count(*) FROM read_parquet(") ||
        qk_sql_add_literal(&sql, ls->ckpt_path) ||
        qk_buf_adds(&sql, ", union_by_name = true, hive_partitioning = false) AS t")) {
        qk_buf_free(&sql);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    t0 = qk_now_msf();
    rc = qk_engine_scalar_i64(b->e, qk_buf_cstr(&sql), &qo, &v, err);
    if (!rc) add(s, qk_now_msf() - t0);
    qk_buf_free(&sql);
    return rc;
}

/* The newest checkpoint's key, and a local file of it for DuckDB (fetched once on S3). */
static int find_checkpoint(dbench *b, load_set *ls, qk_err *err)
{
    if (ls->ckpt_version < 0) return qk_errf(err, QK_ENOTFOUND, "the table has no checkpoint");
    snprintf(ls->ckpt_key, sizeof ls->ckpt_key, "%s/commits/_delta_log/%020lld.checkpoint.parquet",
             b->run, (long long)ls->ckpt_version);
    if (!b->remote) {
        snprintf(ls->ckpt_path, sizeof ls->ckpt_path, "%s/%s", qk_store_uri(b->s), ls->ckpt_key);
        return 0;
    }
    snprintf(ls->ckpt_path, sizeof ls->ckpt_path, "%s/bench-checkpoint.parquet",
             qk_engine_temp_dir(b->e));
    return qk_store_get_file(b->s, ls->ckpt_key, ls->ckpt_path, NULL, err);
}

static int build_commits(dbench *b, json_t *j, qk_err *err)
{
    qk_delta_write_result res;
    double t0 = qk_now_msf(), ms, built;
    size_t copied = 0;
    int rc = 0;
    SAY("(1) writing a table of %lld single-row commits", (long long)b->commits);
    for (int64_t i = 0; !rc && i < b->commits; i++) {
        rc = append(b, "commits", NULL, i, &ms, NULL, &res, err);
        if (!rc && (i + 1) % 100 == 0)
            SAY("(1) %lld of %lld commits (%.1f s)", (long long)i + 1, (long long)b->commits,
                (qk_now_msf() - t0) / 1000);
    }
    built = qk_now_msf();
    if (rc || (rc = copy_without_checkpoints(b, "commits", "commits_nockpt", &copied, err)))
        return rc;
    jset(j, "build_ms", json_real(built - t0));
    jset(j, "copy_ms", json_real(qk_now_msf() - built));
    jset(j, "copy_objects", json_integer((json_int_t)copied));
    SAY("(1) written in %.1f s; %zu objects copied without checkpoints", (built - t0) / 1000,
        copied);
    return 0;
}

/* One round: every measurement once, in the same order (record false: the warm-up). */
static int load_round(dbench *b, load_set *ls, bool record, qk_err *err)
{
    int rc;
    if ((rc = load_once(b, "commits", record ? &ls->ckpt : NULL, ls, err)) ||
        (rc = load_once(b, "commits_nockpt", record ? &ls->nockpt : NULL, NULL, err)))
        return rc;
    if (!*ls->ckpt_key && (rc = find_checkpoint(b, ls, err))) return rc;
    if ((rc = time_log(b, ls, record, err)) ||
        (rc = time_parquet(b, ls, false, record ? &ls->count : NULL, err)))
        return rc;
    return time_parquet(b, ls, true, record ? &ls->rows : NULL, err);
}

static void load_report(dbench *b, const load_set *ls, json_t *j)
{
    char l[256];
    double med = pct(&ls->ckpt, 50), no = pct(&ls->nockpt, 50);
    const char *verdict = med <= TARGET_MS ? "PASS" : "MISS";
    fprintf(b->out, "\n## (1) Snapshot load, %lld commits (version %lld, checkpoint at %lld)\n\n",
            (long long)b->commits, (long long)ls->version, (long long)ls->ckpt_version);
    table_head(b);
    snprintf(l, sizeof l, "qk_delta_snapshot_load: the checkpoint + %lld commits",
             (long long)(ls->version - ls->ckpt_version));
    row(b, j, "with_checkpoint", l, &ls->ckpt);
    snprintf(l, sizeof l, "qk_delta_snapshot_load, no checkpoint: %lld commits",
             (long long)ls->version + 1);
    row(b, j, "without_checkpoint", l, &ls->nockpt);
    snprintf(l, sizeof l, "baseline: list _delta_log/ (%zu objects)", ls->log_objects);
    row(b, j, "baseline_list_log", l, &ls->list);
    snprintf(l, sizeof l, "baseline: get the checkpoint object (%llu bytes)",
             (unsigned long long)ls->ckpt_bytes);
    row(b, j, "baseline_get_checkpoint", l, &ls->get);
    row(b, j, "baseline_duckdb_count", "baseline: DuckDB count(*) of the checkpoint", &ls->count);
    row(b, j, "baseline_duckdb_rows_json",
        "baseline: DuckDB, every checkpoint row as JSON (the reader's query)", &ls->rows);
    fprintf(b->out,
            "\nTarget: snapshot load with a checkpoint <= %.0f ms (median): %.2f ms, **%s**. "
            "Without the checkpoint: %.2f ms (%.2fx). Load minus listing the log: %.2f ms.\n",
            TARGET_MS, med, verdict, no, med > 0 ? no / med : 0, med - pct(&ls->list, 50));
    json_object_update_new(
        j, json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:s}", "version", (json_int_t)ls->version,
                     "checkpoint_version", (json_int_t)ls->ckpt_version, "active_files",
                     (json_int_t)ls->nfiles, "log_objects", (json_int_t)ls->log_objects,
                     "checkpoint_bytes", (json_int_t)ls->ckpt_bytes, "target_ms", TARGET_MS,
                     "result", verdict));
}

static int part_load(dbench *b, qk_err *err)
{
    json_t *j = json_object();
    load_set *ls = calloc(1, sizeof *ls);
    int rc;
    jset(b->root, "snapshot_load", j);
    if (!ls) return qk_errf(err, QK_ENOMEM, "out of memory");
    rc = build_commits(b, j, err);
    if (!rc) SAY("(1) timing snapshot loads: 1 warm-up round, %lld runs", (long long)b->runs);
    for (int64_t r = 0; !rc && r <= b->runs; r++)
        rc = load_round(b, ls, r > 0, err);
    if (!rc) load_report(b, ls, j);
    free(ls);
    return rc;
}

/* ---- (2) append-commit latency ------------------------------------------------------------ */

typedef struct append_set {
    series whole, plain, with_ckpt, prepare, data, upload, commit, ckpt, pia;
} append_set;

static void add_stages(append_set *a, const stamps *st, double ms, bool ckpt)
{
    const double *at = st->at;
    add(&a->whole, ms);
    add(ckpt ? &a->with_ckpt : &a->plain, ms);
    if (at[ST_READING] < 0 || at[ST_UPLOADING] < 0 || at[ST_COMMITTING] < 0) return;
    add(&a->prepare, at[ST_READING]);
    add(&a->data, at[ST_UPLOADING] - at[ST_READING]);
    add(&a->upload, at[ST_COMMITTING] - at[ST_UPLOADING]);
    add(&a->commit, (at[ST_CHECKPOINTING] >= 0 ? at[ST_CHECKPOINTING] : ms) - at[ST_COMMITTING]);
    if (at[ST_CHECKPOINTING] >= 0) add(&a->ckpt, ms - at[ST_CHECKPOINTING]);
}

static int time_pia(dbench *b, const qk_buf *body, int i, series *s, qk_err *err)
{
    char key[256];
    double t0;
    int rc;
    snprintf(key, sizeof key, "%s/pia/_delta_log/%020d.json", b->run, i);
    t0 = qk_now_msf();
    rc = qk_store_put_if_absent(b->s, key, body->data, body->len, err);
    if (!rc) add(s, qk_now_msf() - t0);
    return rc;
}

static void append_report(dbench *b, const append_set *a, size_t body, json_t *j)
{
    char l[160];
    fprintf(b->out, "\n## (2) Append-commit latency: %d single-row appends (%s store)\n\n", APPENDS,
            qk_store_backend(b->s));
    table_head(b);
    row(b, j, "append", "append 1 row: the whole qk_delta_write", &a->whole);
    row(b, j, "append_no_checkpoint", "... the appends that wrote no checkpoint", &a->plain);
    row(b, j, "append_with_checkpoint", "... the appends that wrote a checkpoint", &a->with_ckpt);
    row(b, j, "stage_prepare", "stage: snapshot load, DESCRIBE of the source, schema check",
        &a->prepare);
    row(b, j, "stage_data", "stage: run the source, write the Parquet file", &a->data);
    row(b, j, "stage_upload", "stage: put the data file", &a->upload);
    row(b, j, "stage_commit", "stage: commit (JSON, put_if_absent, clean-up)", &a->commit);
    row(b, j, "stage_checkpoint", "stage: checkpoint (every 10th version)", &a->ckpt);
    snprintf(l, sizeof l, "baseline: put_if_absent of a commit-sized object (%zu bytes)", body);
    row(b, j, "baseline_put_if_absent", l, &a->pia);
    fprintf(b->out, "\nThe put_if_absent baseline is %.0f%% of the median append.\n",
            pct(&a->whole, 50) > 0 ? 100 * pct(&a->pia, 50) / pct(&a->whole, 50) : 0);
    jset(j, "commit_body_bytes", json_integer((json_int_t)body));
}

static int part_append(dbench *b, qk_err *err)
{
    json_t *j = json_object();
    append_set *a = calloc(1, sizeof *a);
    qk_delta_write_result res;
    qk_buf body;
    stamps st;
    char key[256];
    double ms;
    int rc;
    jset(b->root, "append", j);
    if (!a) return qk_errf(err, QK_ENOMEM, "out of memory");
    qk_buf_init(&body, 1 << 20);
    SAY("(2) %d appends, each followed by a put_if_absent", APPENDS);
    /* version 0 creates the table; version 1's commit file is the baseline's object */
    rc = append(b, "append", NULL, 0, &ms, NULL, &res, err);
    if (!rc) rc = append(b, "append", NULL, 1, &ms, NULL, &res, err);
    snprintf(key, sizeof key, "%s/append/_delta_log/%020d.json", b->run, 1);
    if (!rc) rc = qk_store_get(b->s, key, 0, QK_STORE_TO_END, &body, NULL, err);
    for (int i = 0; !rc && i < APPENDS; i++) {
        if (!(rc = append(b, "append", NULL, i + 2, &ms, &st, &res, err)))
            add_stages(a, &st, ms, res.checkpointed);
        if (!rc) rc = time_pia(b, &body, i, &a->pia, err);
    }
    if (!rc) append_report(b, a, body.len, j);
    qk_buf_free(&body);
    free(a);
    return rc;
}

/* ---- (3) file skipping -------------------------------------------------------------------- */

typedef struct skip_side {
    series ms;
    uint64_t bytes;   /* sizes of the data files named in the SQL DuckDB ran */
    size_t files;     /* how many */
    size_t skipped;   /* the resolver's count of files skipped */
    uint64_t fetched; /* S3: bytes fetched into the run's fresh cache */
    uint64_t objects; /* S3: objects fetched */
    char answer[256]; /* the result's data row as CSV */
} skip_side;

static int build_skip(dbench *b, qk_delta_snapshot **snap, qk_err *err)
{
    qk_delta_write_result res;
    char sql[256], prefix[256];
    double ms, t0 = qk_now_msf();
    int rc = 0;
    SAY("(3) writing %d files of %d rows", SKIP_FILES, SKIP_ROWS);
    for (int k = 0; !rc && k < SKIP_FILES; k++) {
        snprintf(sql, sizeof sql,
                 "SELECT CAST(i AS BIGINT) AS id, CAST(i %% 997 AS BIGINT) AS x "
                 "FROM range(%d, %d) AS t(i)",
                 k * SKIP_ROWS, (k + 1) * SKIP_ROWS);
        rc = append(b, "skip", sql, 0, &ms, NULL, &res, err);
    }
    snprintf(prefix, sizeof prefix, "%s/skip", b->run);
    if (!rc) rc = qk_delta_snapshot_load(b->e, b->s, prefix, NULL, snap, err);
    if (!rc && (*snap)->nfiles != SKIP_FILES)
        rc = qk_errf(err, QK_EINTERNAL, "the skip table has %zu files, expected %d",
                     (*snap)->nfiles, SKIP_FILES);
    if (!rc) SAY("(3) written in %.1f s", (qk_now_msf() - t0) / 1000);
    return rc;
}

/* The data files of snap that the resolved SQL names (part-<uuid> names are unique). */
static void scanned(const qk_delta_snapshot *snap, const char *sql, skip_side *sd)
{
    sd->bytes = 0;
    sd->files = 0;
    for (size_t i = 0; i < snap->nfiles; i++) {
        const char *name = strrchr(snap->files[i].path, '/');
        if (!strstr(sql, name ? name + 1 : snap->files[i].path)) continue;
        sd->bytes += (uint64_t)snap->files[i].size;
        sd->files++;
    }
}

static int answer(qk_result *res, skip_side *sd, qk_err *err)
{
    qk_encode_opts eo;
    qk_encode_stats es = {0};
    qk_buf csv;
    int rc;
    qk_encode_opts_init(&eo);
    eo.csv_header = false;
    qk_buf_init(&csv, sizeof sd->answer - 1);
    rc = qk_encode_result(res, QK_FMT_CSV, &eo, &csv, &es, err);
    if (!rc) qk_strlcpy(sd->answer, qk_buf_cstr(&csv), sizeof sd->answer);
    sd->answer[strcspn(sd->answer, "\r\n")] = 0;
    qk_buf_free(&csv);
    return rc;
}

/* One run of the query with skipping on or off (QUACK_DELTA_SKIPPING is read per query); on
 * S3 with a fresh cache (cache_dir), removed afterwards. */
static int skip_run(dbench *b, const char *sql, const qk_delta_snapshot *snap, bool on,
                    const char *cache_dir, skip_side *sd, bool record, qk_err *err)
{
    qk_query_opts qo = {-1, QUERY_TIMEOUT_MS, NULL, NULL, false};
    qk_lake_ctx ctx;
    qk_cache *cache = NULL;
    qk_result *res = NULL;
    qk_cache_stats cs = {0};
    char *local = NULL;
    double t0;
    int rc;
    setenv("QUACK_DELTA_SKIPPING", on ? "on" : "off", 1);
    if (b->remote && (rc = qk_cache_open(cache_dir, 0, &cache, err))) return rc;
    qk_lake_ctx_init(&ctx, b->e);
    ctx.names = true;
    ctx.cache = cache;
    t0 = qk_now_msf();
    rc = qk_lake_resolve(&ctx, sql, &local, err);
    if (!rc) rc = qk_engine_query(b->e, local, &qo, &res, err);
    if (!rc) rc = answer(res, sd, err);
    if (!rc && record) add(&sd->ms, qk_now_msf() - t0);
    if (!rc) scanned(snap, local, sd), sd->skipped = ctx.delta_skipped;
    if (!rc && cache && !(rc = qk_cache_stats_get(cache, &cs, err)))
        sd->fetched = cs.bytes, sd->objects = cs.objects;
    qk_result_destroy(res);
    free(local);
    qk_lake_ctx_free(&ctx);
    qk_cache_close(cache);
    if (cache_dir) qk_rmtree(cache_dir, false, NULL);
    return rc;
}

static void side_row(dbench *b, const char *label, const skip_side *sd, json_t *j)
{
    json_t *o = series_json(&sd->ms);
    fprintf(b->out, "| %s | %zu of %d | %llu |", label, sd->files, SKIP_FILES,
            (unsigned long long)sd->bytes);
    if (b->remote)
        fprintf(b->out, " %llu (%llu objects) |", (unsigned long long)sd->fetched,
                (unsigned long long)sd->objects);
    fprintf(b->out, " %.2f | %.2f | %s |\n", pct(&sd->ms, 50), pct(&sd->ms, 90), sd->answer);
    json_object_update_new(o, json_pack("{s:I, s:I, s:I, s:s}", "files_read", (json_int_t)sd->files,
                                        "files_skipped", (json_int_t)sd->skipped, "bytes_read",
                                        (json_int_t)sd->bytes, "answer_csv", sd->answer));
    if (b->remote)
        json_object_update_new(o, json_pack("{s:I, s:I}", "bytes_fetched", (json_int_t)sd->fetched,
                                            "objects_fetched", (json_int_t)sd->objects));
    jset(j, label, o);
}

static void skip_report(dbench *b, const char *sql, const skip_side *sd, json_t *j)
{
    uint64_t on = b->remote ? sd[0].fetched : sd[0].bytes;
    uint64_t off = b->remote ? sd[1].fetched : sd[1].bytes;
    bool same = !strcmp(sd[0].answer, sd[1].answer);
    fprintf(b->out,
            "\n## (3) File skipping: %d files of %d rows, one selective query\n\n    %s\n\n"
            "| skipping | files read | bytes of those files |%s median ms | p90 ms | answer |\n"
            "|---|---:|---:|%s---:|---:|---|\n",
            SKIP_FILES, SKIP_ROWS, sql, b->remote ? " bytes fetched (cold cache) |" : "",
            b->remote ? "---:|" : "");
    side_row(b, "on", &sd[0], j);
    side_row(b, "off", &sd[1], j);
    fprintf(b->out,
            "\nBytes %s with skipping: %.1f%% of those without (%.1fx fewer). Answers: %s.\n",
            b->remote ? "fetched" : "read", off ? 100.0 * (double)on / (double)off : 0,
            on ? (double)off / (double)on : 0, same ? "equal" : "**DIFFERENT**");
    jset(j, "sql", json_string(sql));
    jset(j, "answers_equal", json_boolean(same));
    if (!same) b->disagree = true;
}

static int part_skip(dbench *b, qk_err *err)
{
    json_t *j = json_object();
    skip_side *sd = calloc(2, sizeof *sd);
    qk_delta_snapshot *snap = NULL;
    const char *was = getenv("QUACK_DELTA_SKIPPING");
    char *saved = was ? qk_xstrdup(was) : NULL, sql[256], cache[4200];
    long long lo = (long long)SKIP_TARGET * SKIP_ROWS + 1000, hi = lo + 999;
    int rc;
    jset(b->root, "skipping", j);
    if (!sd) return qk_errf(err, QK_ENOMEM, "out of memory");
    snprintf(sql, sizeof sql,
             "SELECT count(*) AS n, sum(x) AS s FROM %s.skip WHERE id BETWEEN %lld AND %lld",
             b->run, lo, hi);
    snprintf(cache, sizeof cache, "%s/cache", b->tmp);
    rc = build_skip(b, &snap, err);
    if (!rc)
        SAY("(3) timing the query, skipping on and off: 1 warm-up round, %lld runs",
            (long long)b->runs);
    for (int64_t r = 0; !rc && r <= b->runs; r++)
        for (int side = 0; !rc && side < 2; side++)
            rc = skip_run(b, sql, snap, side == 0, b->remote ? cache : NULL, &sd[side], r > 0, err);
    if (!rc) skip_report(b, sql, sd, j);
    if (saved)
        setenv("QUACK_DELTA_SKIPPING", saved, 1);
    else
        unsetenv("QUACK_DELTA_SKIPPING");
    free(saved);
    qk_delta_snapshot_destroy(snap);
    free(sd);
    return rc;
}

/* ---- run ---------------------------------------------------------------------------------- */

static json_t *machine_json(dbench *b)
{
    char cpu[200], mem[64], load[64];
    struct utsname u;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    qk_bench_proc_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    qk_bench_proc_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    qk_bench_loadavg(load, sizeof load);
    if (uname(&u) != 0) memset(&u, 0, sizeof u);
    fprintf(b->out,
            "# quack bench delta\n\nLake %s (%s store), run folder %s/. Machine: %s; %ld cores "
            "(nproc); %s %s; DuckDB %s; load average %s.\n",
            qk_store_uri(b->s), qk_store_backend(b->s), b->run, cpu, nproc, u.sysname, u.release,
            duckdb_library_version(), load);
    return json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:s}", "nproc", (json_int_t)nproc, "cpu", cpu,
                     "mem_total_bytes", (json_int_t)strtoll(mem, NULL, 10) * 1024, "kernel",
                     json_sprintf("%s %s %s", u.sysname, u.release, u.machine), "duckdb",
                     duckdb_library_version(), "quack", QUACK_VERSION, "loadavg_start", load);
}

static int setup(dbench *b, int argc, char **argv, qk_err *err)
{
    qk_engine_config cfg;
    json_t *cmd = json_pack("[s, s]", "quack", "bench");
    char id[37];
    int rc;
    qk_bench_cpu_snapshot(b->cpu_start);
    qk_uuid4(id);
    snprintf(b->run, sizeof b->run, "bench_delta_%.8s", id);
    snprintf(b->tmp, sizeof b->tmp, "%s/quack-bench-delta-XXXXXX", qk_env_str("TMPDIR", "/tmp"));
    if (!mkdtemp(b->tmp)) {
        b->tmp[0] = 0;
        return qk_errf(err, QK_EIO, "cannot make a temp directory: %s", strerror(errno));
    }
    qk_engine_config_defaults(&cfg);
    cfg.lake = b->lake;
    cfg.create_lake = true;
    if ((rc = qk_engine_open(&cfg, &b->e, err)) ||
        (rc = qk_store_open(qk_engine_lake(b->e), &b->s, err)))
        return rc;
    b->remote = strcmp(qk_store_backend(b->s), "local") != 0;
    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    b->root = json_pack("{s:o, s:o}", "command", cmd, "machine", machine_json(b));
    jset(b->root, "config",
         json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:i}", "lake", qk_store_uri(b->s), "store",
                   qk_store_backend(b->s), "endpoint", qk_env_str("AWS_ENDPOINT_URL", ""),
                   "run_folder", b->run, "commits", (json_int_t)b->commits, "runs",
                   (json_int_t)b->runs, "appends", APPENDS, "checkpoint_interval", 10));
    return 0;
}

/* Remove the run's folder: every object under it (S3), or the directory. */
static void cleanup(dbench *b)
{
    const char *keys[QK_STORE_DELETE_MANY_MAX];
    char dir[4200];
    qk_obj_list l = {0};
    qk_err e = {0};
    if (!b->s || !b->run[0]) return;
    snprintf(dir, sizeof dir, "%s/%s", qk_store_uri(b->s), b->run);
    if (!b->remote) {
        qk_rmtree(dir, false, NULL);
        return;
    }
    snprintf(dir, sizeof dir, "%s/", b->run);
    int lrc = qk_store_list_collect(b->s, dir, &l, &e);
    for (size_t i = 0, n; !lrc && i < l.n;) {
        for (n = 0; i < l.n && n < QK_STORE_DELETE_MANY_MAX;)
            keys[n++] = l.v[i++].key;
        if (qk_store_delete_many(b->s, keys, n, &e)) break;
    }
    if (e.code) SAY("could not remove %s: %s", dir, e.msg);
    qk_obj_list_free(&l);
}

static int finish(dbench *b, qk_err *err)
{
    char load[64];
    json_t *m = json_object_get(b->root, "machine");
    double others = qk_bench_others_pct(b->cpu_start);
    int rc = 0;
    qk_bench_loadavg(load, sizeof load);
    jset(m, "loadavg_end", json_string(load));
    jset(m, "others_cpu_pct", json_real(others));
    fprintf(b->out,
            "\nLoad average at the end: %s. CPU used by other processes during the run: %.0f%% "
            "of the machine%s.\n",
            load, others, b->remote ? " (the S3 server's included)" : "");
    if (!b->json) return 0;
    if (!strcmp(b->json, "-")) {
        rc = json_dumpf(b->root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        rc = json_dump_file(b->root, b->json, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    }
    return rc ? qk_errf(err, QK_EIO, "--json: cannot write %s", b->json) : 0;
}

enum { OPT_LAKE = 256, OPT_COMMITS, OPT_RUNS, OPT_JSON };

/* argv[0] is "delta". */
static int parse_args(int argc, char **argv, dbench *b, qk_err *err)
{
    static const struct option longopts[] = {{"lake", required_argument, 0, OPT_LAKE},
                                             {"commits", required_argument, 0, OPT_COMMITS},
                                             {"runs", required_argument, 0, OPT_RUNS},
                                             {"json", required_argument, 0, OPT_JSON},
                                             {0, 0, 0, 0}};
    int opt, rc = 0;
    b->commits = 1000;
    b->runs = 30;
    optind = 1;
    opterr = 0;
    while (!rc && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_LAKE)
            b->lake = optarg;
        else if (opt == OPT_COMMITS)
            rc = qk_parse_int64(optarg, 11, 100000, &b->commits, "--commits", err);
        else if (opt == OPT_RUNS)
            rc = qk_parse_int64(optarg, 1, MAX_SAMPLES, &b->runs, "--runs", err);
        else if (opt == OPT_JSON && *optarg)
            b->json = optarg;
        else
            rc = qk_errf(err, QK_EINVAL, "unknown option, missing or empty value: %s",
                         argv[optind - 1]);
    }
    if (!rc && optind < argc)
        rc = qk_errf(err, QK_EINVAL, "unexpected argument '%s'", argv[optind]);
    b->lake = qk_cli_lake(b->lake);
    return rc;
}

int qk_cmd_bench_delta(int argc, char **argv)
{
    dbench b;
    qk_err err = {0};
    int rc;
    if (qk_cli_wants_help(argc, argv, help)) return QK_EXIT_OK;
    memset(&b, 0, sizeof b);
    if (parse_args(argc, argv, &b, &err)) return qk_cli_usage_error(CMD, "%s", err.msg);
    b.out = b.json && !strcmp(b.json, "-") ? stderr : stdout;
    rc = setup(&b, argc, argv, &err);
    if (!rc) rc = part_load(&b, &err);
    if (!rc) rc = part_append(&b, &err);
    if (!rc) rc = part_skip(&b, &err);
    cleanup(&b);
    if (!rc) rc = finish(&b, &err);
    fflush(b.out);
    qk_store_destroy(b.s);
    qk_engine_close(b.e);
    if (b.tmp[0]) qk_rmtree(b.tmp, false, NULL);
    json_decref(b.root);
    if (rc) {
        qk_cli_print_err(CMD, &err);
        return QK_EXIT_QUERY;
    }
    if (b.disagree) {
        fprintf(stderr, "quack " CMD ": the answers with and without skipping differ\n");
        return QK_EXIT_QUERY;
    }
    return QK_EXIT_OK;
}
