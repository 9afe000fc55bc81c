/* SPDX-License-Identifier: MIT */
/*
 * cmd_lake.c: `quack lake ls|put|get|rm|sync`: list a lake's tables or objects, copy and remove
 * its objects, local or on S3. Every side of a transfer is a store (src/store/store.h): a local
 * dir or s3://bucket/prefix, so one copy routine serves every direction: a local source is
 * uploaded with put_file (multipart with parallel parts on S3), a local destination is written
 * with get_file (atomic), S3 to S3 goes through a temp file. Files move 4 at a time with a
 * progress bar on stderr (progress.h). sync compares listings (rule in docs/lake-cli.md) and
 * transfers only what differs. `ls` lists the catalog's tables (src/lake/catalog.h) with their
 * schemas (src/lake/schema.h: on S3 a footer or a sample per table, never whole files) when
 * given no argument or a table name, and objects when given a URI or path.
 * docs/lake-cli.md is the user's page.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/json.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "engine/engine.h"
#include "lake/catalog.h"
#include "lake/schema.h"
#include "lake/table.h"
#include "store/store.h"

#define LAKE_PARALLEL 4

#define HELP_LS                                                                                    \
    "Usage: quack lake ls [NAME | URI|PATH] [--lake URI] [--schema] [--objects] [--recursive]\n"   \
    "                     [--json]\n"                                                              \
    "  quack lake ls: the tables of the lake (--lake, else $QUACK_LAKE, else ./lake): name,\n"     \
    "  kind (file, folder, hive, delta), format, files, bytes and partitions; --schema adds\n"     \
    "  the columns (one small read per table on S3: a Parquet footer or the first 1 MiB).\n"       \
    "  quack lake ls NAME: one table (e.g. partitioned, raw.climate, gold.\"my table\") with\n"    \
    "  its details and its columns and types.\n"                                                   \
    "  quack lake ls URI|PATH (has \"://\" or '/', or starts with '.' or '~'), or --objects\n"     \
    "  [URI]: the objects under it (./lake, not lake, lists the directory lake). One level by\n"   \
    "  default: \"PRE name/\" lines for folders, then objects (mtime UTC, size, key);\n"           \
    "  --recursive lists every key (and implies --objects).\n"                                     \
    "  --json prints one JSON object per line (per table, or per object).\n"
#define HELP_PUT                                                                                   \
    "Usage: quack lake put LOCAL... DEST [--quiet]\n"                                              \
    "  Upload files and directories (recursively; keys relative to the directory given) to\n"      \
    "  DEST (s3://bucket/prefix or a local dir), 4 files at a time, large files in parallel\n"     \
    "  multipart parts.\n"
#define HELP_GET                                                                                   \
    "Usage: quack lake get SRC LOCAL [--quiet]\n"                                                  \
    "  Download one object to LOCAL (a file, or into LOCAL if it is a directory), or every\n"      \
    "  object under a prefix into the directory LOCAL.\n"
#define HELP_RM                                                                                    \
    "Usage: quack lake rm URI... [--recursive]\n"                                                  \
    "  Delete objects; with --recursive every object under each URI (1000 per request).\n"
#define HELP_SYNC                                                                                  \
    "Usage: quack lake sync SRC DEST [--delete] [--dry-run] [--quiet]\n"                           \
    "  Make DEST hold SRC's objects, copying only those missing at DEST or that differ (size;\n"   \
    "  local source: also mtime newer, to the second; S3 to S3: ETag). --delete removes\n"         \
    "  objects at DEST that SRC lacks; --dry-run prints what would be done.\n"

const char qk_help_lake[] =
    "Usage: quack lake ls|put|get|rm|sync ARGS [OPTIONS]\n"
    "\n"
    "List the tables of a lake; list, copy and remove its objects. A URI is s3://bucket/prefix\n"
    "or a local path.\n"
    "\n" HELP_LS HELP_PUT HELP_GET HELP_RM HELP_SYNC "\n"
    "Options:\n"
    "  --lake URI    ls: the lake whose tables are listed (default $QUACK_LAKE, else ./lake)\n"
    "  --schema      ls: add each table's columns to the table listing\n"
    "  --objects     ls: list objects, not tables\n"
    "  --recursive   ls: every key (objects); rm: everything under the URI\n"
    "  --json        ls: one JSON object per line\n"
    "  --delete      sync: remove objects at DEST that SRC does not have\n"
    "  --dry-run     sync: print what would be copied and deleted, change nothing\n"
    "  --quiet       no progress on stderr\n"
    "  -h, --help    show this help (or a subcommand's: quack lake put --help)\n"
    "\n"
    "Progress (bytes, rate, ETA) is redrawn on stderr when it is a terminal; otherwise one\n"
    "summary line is printed at the end. S3 credentials come from AWS_* variables or ~/.aws.\n"
    "Exit status: 0 done; 1 the store failed (its message is printed), ls found no table NAME\n"
    "or could not read a schema; 2 bad arguments.\n"
    "See docs/lake-cli.md.\n";

typedef struct lake_args {
    const char *sub;
    char **pos; /* positional arguments after the subcommand */
    int npos;
    const char *lake; /* ls --lake */
    bool recursive, json, del, dry_run, quiet, schema, objects;
} lake_args;

/* ---- listings ---------------------------------------------------------------------------- */

/* Every object of s, in byte order. */
static int list_keys(qk_store *s, qk_obj_list *out, qk_err *err)
{
    return qk_store_list_collect(s, NULL, out, err);
}

/* ---- paths ------------------------------------------------------------------------------- */

static bool is_s3(const char *uri)
{
    return qk_str_startswith(uri, "s3://");
}
static bool is_local(const qk_store *s)
{
    return strcmp(qk_store_backend(s), "local") == 0;
}

/* Split "s3://b/p/name" or "dir/name" into a parent URI (caller frees) and the last name
 * (borrowed from uri). False when there is no name part (a bucket root, a trailing '/'). */
static bool split_last(const char *uri, char **parent, const char **name)
{
    const char *slash = strrchr(uri, '/');
    size_t len = strlen(uri);
    if (len == 0 || uri[len - 1] == '/') return false;
    if (is_s3(uri) && (!strchr(uri + 5, '/') || slash < strchr(uri + 5, '/'))) return false;
    if (!slash) {
        *parent = qk_xstrdup(".");
        *name = uri;
        return true;
    }
    *name = slash + 1;
    *parent = slash == uri ? qk_xstrdup("/") : strndup(uri, (size_t)(slash - uri));
    return *parent != NULL;
}

static char *join(const char *dir, const char *key)
{
    size_t n = strlen(dir) + strlen(key) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, key);
    return p;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- transfers --------------------------------------------------------------------------- */

typedef struct job {
    qk_store *src, *dst; /* borrowed */
    char *skey, *dkey;
    uint64_t size;
} job;

typedef struct jobs {
    job *v;
    size_t n, cap;
} jobs;

static void jobs_free(jobs *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->v[i].skey);
        free(j->v[i].dkey);
    }
    free(j->v);
}

static int jobs_add(jobs *j, qk_store *src, const char *skey, qk_store *dst, const char *dkey,
                    uint64_t size, qk_err *err)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        job *v = realloc(j->v, cap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory");
        j->v = v;
        j->cap = cap;
    }
    job *x = &j->v[j->n++];
    *x = (job){.src = src, .dst = dst, .skey = strdup(skey), .dkey = strdup(dkey), .size = size};
    if (!x->skey || !x->dkey) return qk_errf(err, QK_ENOMEM, "out of memory");
    return 0;
}

/* S3 to S3: through a temp file. */
static int copy_via_temp(const job *j, qk_err *err)
{
    char tmp[4096];
    int fd, rc;
    snprintf(tmp, sizeof tmp, "%s/quack-lake-XXXXXX", qk_env_str("TMPDIR", "/tmp"));
    if ((fd = mkstemp(tmp)) < 0)
        return qk_errf(err, QK_EIO, "cannot create a temp file in %s", tmp);
    close(fd);
    rc = qk_store_get_file(j->src, j->skey, tmp, NULL, err);
    if (!rc) rc = qk_store_put_file(j->dst, j->dkey, tmp, err);
    unlink(tmp);
    return rc;
}

static int transfer(const job *j, qk_err *err)
{
    char *path;
    int rc;
    if (!is_local(j->src) && !is_local(j->dst)) return copy_via_temp(j, err);
    path = is_local(j->src) ? join(qk_store_uri(j->src), j->skey)
                            : join(qk_store_uri(j->dst), j->dkey);
    if (!path) return qk_errf(err, QK_ENOMEM, "out of memory");
    if (is_local(j->src))
        rc = qk_store_put_file(j->dst, j->dkey, path, err);
    else
        rc = qk_store_get_file(j->src, j->skey, path, NULL, err);
    free(path);
    return rc;
}

typedef struct runner {
    jobs *j;
    size_t next;
    pthread_mutex_t mu;
    qk_progress *prog;
    int rc;
    qk_err err;
} runner;

static void *worker(void *ud)
{
    runner *r = ud;
    for (;;) {
        qk_err e = {0};
        size_t i;
        pthread_mutex_lock(&r->mu);
        if (r->rc || r->next >= r->j->n) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        i = r->next++;
        pthread_mutex_unlock(&r->mu);
        int rc = transfer(&r->j->v[i], &e);
        if (rc) {
            pthread_mutex_lock(&r->mu);
            if (!r->rc) {
                r->rc = rc;
                r->err = e;
            }
            pthread_mutex_unlock(&r->mu);
        } else
            qk_progress_add(r->prog, r->j->v[i].size, 1);
    }
}

/* Run every job, LAKE_PARALLEL at a time, with a progress bar; stops at the first failure. */
static int run_jobs(jobs *j, const char *label, bool quiet, uint64_t *bytes, qk_err *err)
{
    pthread_t th[LAKE_PARALLEL];
    qk_progress prog;
    runner r = {.j = j, .prog = &prog};
    uint64_t total = 0;
    int nth = 0;
    for (size_t i = 0; i < j->n; i++)
        total += j->v[i].size;
    pthread_mutex_init(&r.mu, NULL);
    qk_progress_init(&prog, label, total, j->n, quiet);
    for (; nth < LAKE_PARALLEL && (size_t)nth < j->n; nth++)
        if (pthread_create(&th[nth], NULL, worker, &r) != 0) break;
    if (nth == 0 && j->n > 0) worker(&r);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    qk_progress_finish(&prog);
    if (bytes) *bytes = prog.bytes_done;
    qk_progress_free(&prog);
    pthread_mutex_destroy(&r.mu);
    if (r.rc) *err = r.err;
    return r.rc;
}

/* Delete keys (borrowed) in batches of QK_STORE_DELETE_MANY_MAX. */
static int delete_keys(qk_store *s, const char **keys, size_t n, qk_err *err)
{
    for (size_t i = 0; i < n; i += QK_STORE_DELETE_MANY_MAX) {
        size_t m = n - i < QK_STORE_DELETE_MANY_MAX ? n - i : QK_STORE_DELETE_MANY_MAX;
        int rc = qk_store_delete_many(s, keys + i, m, err);
        if (rc) return rc;
    }
    return 0;
}

/* ---- ls ---------------------------------------------------------------------------------- */

typedef struct ls_state {
    const lake_args *a;
    qk_obj_list objs;
} ls_state;

static void print_json_line(const qk_obj_info *o, const char *prefix)
{
    qk_buf b;
    qk_buf_init(&b, 1 << 16);
    if (prefix) {
        qk_buf_adds(&b, "{\"prefix\":");
        qk_buf_add_json_str(&b, prefix, strlen(prefix));
    } else {
        qk_buf_adds(&b, "{\"key\":");
        qk_buf_add_json_str(&b, o->key, strlen(o->key));
        qk_buf_printf(&b, ",\"size\":%llu,\"mtime_ms\":%lld,\"etag\":", (unsigned long long)o->size,
                      (long long)o->mtime_ms);
        qk_buf_add_json_str(&b, o->etag, strlen(o->etag));
    }
    qk_buf_adds(&b, "}\n");
    fputs(qk_buf_cstr(&b), stdout);
    qk_buf_free(&b);
}

static int ls_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    ls_state *st = ud;
    if (st->a->json) {
        print_json_line(obj, cp);
        return 0;
    }
    if (cp) {
        printf("%30s %s\n", "PRE", cp);
        return 0;
    }
    return qk_obj_list_add(&st->objs, obj, err);
}

/* `ls --objects [URI]`, `ls URI|PATH`: the objects under a prefix, one level or all. */
static int ls_objects(const lake_args *a, qk_err *err)
{
    const char *uri = a->npos ? a->pos[0] : qk_cli_lake(a->lake);
    ls_state st = {.a = a};
    qk_store *s = NULL;
    int rc = qk_store_open(uri, &s, err);
    if (!rc) rc = qk_store_list_all(s, NULL, a->recursive ? NULL : "/", ls_cb, &st, err);
    for (size_t i = 0; !rc && i < st.objs.n; i++) {
        const qk_obj_entry *e = &st.objs.v[i];
        time_t t = (time_t)(e->mtime_ms / 1000);
        struct tm tm;
        char ts[32] = "";
        if (gmtime_r(&t, &tm)) strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s %10llu %s\n", ts, (unsigned long long)e->size, e->key);
    }
    qk_obj_list_free(&st.objs);
    qk_store_destroy(s);
    return rc;
}

/* ---- ls: tables ------------------------------------------------------------------------- */

#define SCHEMA_WIDTH 100 /* bytes of the SCHEMA column of a table listing, at most */
#define NCOLS 7

typedef enum { LS_TABLES, LS_TABLE, LS_OBJECTS } ls_mode;

/* A positional argument of ls names objects when it looks like a URI or a path. */
static bool looks_like_path(const char *arg)
{
    return strstr(arg, "://") || strchr(arg, '/') || arg[0] == '.' || arg[0] == '~';
}

static ls_mode ls_mode_of(const lake_args *a)
{
    if (a->objects || a->recursive) return LS_OBJECTS;
    if (a->npos == 0) return LS_TABLES;
    return looks_like_path(a->pos[0]) ? LS_OBJECTS : LS_TABLE;
}

/*
 * Split a table name on '.' outside double quotes: raw.climate, gold."my table" ("" inside
 * quotes is one '"'). Returns the number of parts (1..3; each a heap string in parts), or 0
 * when the name is malformed (an empty part, an unterminated quote, more than 3 parts).
 */
/* The lake's store and, opened on first use, the engine that reads schemas. */
typedef struct lake_ctx {
    const char *root; /* as given */
    qk_store *store;
    qk_engine *engine;
    bool failed; /* a schema could not be read for a reason other than "unsupported" */
} lake_ctx;

static int lake_ctx_open(lake_ctx *c, const lake_args *a, qk_err *err)
{
    int rc;
    c->root = qk_cli_lake(a->lake);
    if ((rc = qk_store_open(c->root, &c->store, err))) return rc;
    if (is_local(c->store) && !is_dir(qk_store_uri(c->store)))
        return qk_errf(err, QK_ENOTFOUND, "lake %s is not a directory (give --lake or QUACK_LAKE)",
                       qk_store_uri(c->store));
    return 0;
}

static void lake_ctx_close(lake_ctx *c)
{
    qk_engine_close(c->engine);
    qk_store_destroy(c->store);
}

/*
 * t's columns in *cols, or NULL with the reason in *serr (a failure other than "unsupported" is
 * also reported on stderr and marks c->failed). Opens the engine (sandboxed to the lake, creating
 * nothing) on first use; only that failing is returned as an error.
 */
static int schema_of(lake_ctx *c, const qk_lake_table *t, json_t **cols, qk_err *serr, qk_err *err)
{
    *cols = NULL;
    if (!c->engine && t->format != QK_FORMAT_DELTA && t->format != QK_FORMAT_MIXED) {
        qk_engine_config cfg;
        int rc;
        qk_engine_config_defaults(&cfg);
        cfg.lake = c->root;
        if ((rc = qk_engine_open(&cfg, &c->engine, err))) return rc;
    }
    if (qk_lake_table_schema(c->engine, c->store, t, cols, serr) && serr->code != QK_EUNSUPPORTED) {
        fprintf(stderr, "quack lake ls: schema of %s: %s\n", t->name, serr->msg);
        c->failed = true;
    }
    return 0;
}

/* "30 (date)", "12 (year, month)"; "-" when the table is not partitioned. Caller frees. */
static char *fmt_partitions(const qk_lake_table *t)
{
    qk_buf b;
    if (t->kind != QK_TABLE_HIVE) return qk_xstrdup("-");
    qk_buf_init(&b, 1 << 16);
    qk_buf_printf(&b, "%llu (", (unsigned long long)t->partitions);
    for (size_t i = 0; i < t->npart_cols; i++)
        qk_buf_printf(&b, "%s%s", i ? ", " : "", t->part_cols[i]);
    qk_buf_addc(&b, ')');
    return qk_buf_detach(&b, NULL);
}

/* "vendor_id INTEGER, pickup_at TIMESTAMP, ... (19 columns)": whole columns in at most max
 * bytes; "(unknown)" when unknown. Caller frees. */
static char *fmt_schema(json_t *cols, size_t max)
{
    size_t n = json_array_size(cols);
    char more[48];
    qk_buf b;
    if (!cols) return qk_xstrdup("(unknown)");
    qk_buf_init(&b, 1 << 20);
    snprintf(more, sizeof more, ", ... (%zu columns)", n);
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(cols, i);
        size_t mark = b.len, room = i + 1 == n ? max : max - strlen(more);
        qk_buf_printf(&b, "%s%s %s", i ? ", " : "", qk_json_str(c, "name"), qk_json_str(c, "type"));
        if (b.len > room) {
            qk_buf_truncate(&b, mark);
            qk_buf_adds(&b, i ? more : more + 2);
            break;
        }
    }
    if (b.len == 0) {
        qk_buf_free(&b);
        return qk_xstrdup("");
    }
    return qk_buf_detach(&b, NULL);
}

/* One table as JSON (cols borrowed; with_schema: "schema", plus "schema_error" when unknown). */
static json_t *table_json(const lake_ctx *c, const qk_lake_table *t, bool with_schema, json_t *cols,
                          const qk_err *serr)
{
    return qk_lake_table_json(c->store, t, with_schema ? cols : NULL,
                              with_schema && !cols ? serr->msg : NULL);
}

/* Print o as one line and release it. */
static int print_json(json_t *o, qk_err *err)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return qk_errf(err, QK_ENOMEM, "out of memory");
    puts(text);
    free(text);
    return 0;
}

/* Display width of a UTF-8 string (code points). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* An aligned table: a header, then rows of NCOLS cells (only the first ncols shown);
 * FILES and BYTES right-aligned, the last column not padded. */
static void print_rows(char *(*rows)[NCOLS], size_t n, int ncols)
{
    static const char *const head[NCOLS] = {"NAME",  "KIND",       "FORMAT", "FILES",
                                            "BYTES", "PARTITIONS", "SCHEMA"};
    size_t w[NCOLS];
    for (int c = 0; c < ncols; c++) {
        w[c] = width(head[c]);
        for (size_t r = 0; r < n; r++)
            if (width(rows[r][c]) > w[c]) w[c] = width(rows[r][c]);
    }
    for (size_t r = 0; r <= n; r++) {
        for (int c = 0; c < ncols; c++) {
            const char *v = r == 0 ? head[c] : rows[r - 1][c];
            int pad = (int)(w[c] - width(v));
            bool right = c == 3 || c == 4, last = c == ncols - 1;
            printf("%s%*s%s%*s", c ? "  " : "", right ? pad : 0, "", v, right || last ? 0 : pad,
                   "");
        }
        putchar('\n');
    }
}

static void row_free(char *row[NCOLS])
{
    for (int c = 0; c < NCOLS; c++)
        free(row[c]);
}

static void table_row(const qk_lake_table *t, json_t *cols, char *row[NCOLS])
{
    char b[64];
    row[0] = qk_xstrdup(t->name);
    row[1] = qk_xstrdup(qk_table_kind_name(t->kind));
    row[2] = qk_xstrdup(qk_table_format_name(t->format));
    snprintf(b, sizeof b, "%llu", (unsigned long long)t->nfiles);
    row[3] = qk_xstrdup(b);
    row[4] = qk_xstrdup(qk_cli_human_bytes(t->bytes, b, sizeof b));
    row[5] = fmt_partitions(t);
    row[6] = fmt_schema(cols, SCHEMA_WIDTH);
}

/* `ls`: every table of the lake, with --schema their columns. */
static int ls_tables(const lake_args *a, lake_ctx *c, qk_err *err)
{
    qk_lake_catalog cat = {0};
    char *(*rows)[NCOLS] = NULL;
    int rc = qk_lake_catalog_scan(c->store, &cat, err);
    if (!rc && cat.n && !(rows = calloc(cat.n, sizeof *rows)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && cat.n == 0 && !a->json)
        fprintf(stderr, "quack lake ls: no tables in %s\n", qk_store_uri(c->store));
    for (size_t i = 0; !rc && i < cat.n; i++) {
        const qk_lake_table *t = &cat.tables[i];
        json_t *cols = NULL;
        qk_err serr = {0};
        if (a->schema) rc = schema_of(c, t, &cols, &serr, err);
        if (!rc && a->json)
            rc = print_json(table_json(c, t, a->schema, cols, &serr), err);
        else if (!rc)
            table_row(t, cols, rows[i]);
        json_decref(cols);
    }
    if (!rc && !a->json && cat.n) print_rows(rows, cat.n, a->schema ? NCOLS : NCOLS - 1);
    for (size_t i = 0; rows && i < cat.n; i++)
        row_free(rows[i]);
    free(rows);
    qk_lake_catalog_free(&cat);
    return rc;
}

static bool is_part_col(const qk_lake_table *t, const char *name)
{
    for (size_t i = 0; i < t->npart_cols; i++)
        if (!strcmp(t->part_cols[i], name)) return true;
    return false;
}

static void print_details(const lake_ctx *c, const qk_lake_table *t, json_t *cols,
                          const qk_err *serr)
{
    char h[32], ts[40], *loc = join(qk_store_uri(c->store), t->path), *parts = fmt_partitions(t);
    size_t i, nw = 0;
    printf("%-11s %s\n%-11s %s\n%-11s %s\n", "name", t->name, "kind", qk_table_kind_name(t->kind),
           "format", qk_table_format_name(t->format));
    printf("%-11s %s\n%-11s %llu\n", "location", loc ? loc : t->path, "files",
           (unsigned long long)t->nfiles);
    printf("%-11s %s (%llu bytes)\n", "bytes", qk_cli_human_bytes(t->bytes, h, sizeof h),
           (unsigned long long)t->bytes);
    printf("%-11s %s\n%-11s %s\n", "partitions", parts, "modified",
           qk_lake_fmt_time(t->mtime_ms, false, ts, sizeof ts));
    free(parts);
    free(loc);
    if (!cols) {
        printf("%-11s unknown (%s)\n", "columns", serr->msg);
        return;
    }
    printf("%-11s %zu\n", "columns", json_array_size(cols));
    for (i = 0; i < json_array_size(cols); i++)
        if (width(qk_json_str(json_array_get(cols, i), "name")) > nw)
            nw = width(qk_json_str(json_array_get(cols, i), "name"));
    for (i = 0; i < json_array_size(cols); i++) {
        json_t *col = json_array_get(cols, i);
        const char *name = qk_json_str(col, "name");
        printf("  %s%*s  %s%s\n", name, (int)(nw - width(name)), "", qk_json_str(col, "type"),
               is_part_col(t, name) ? "  (partition)" : "");
    }
}

/* `ls NAME`: one table with its details and columns. */
static int ls_table(const lake_args *a, lake_ctx *c, qk_err *err)
{
    char *parts[3] = {0};
    int n = qk_lake_name_split(a->pos[0], parts), rc;
    qk_lake_table t = {0};
    json_t *cols = NULL;
    qk_err serr = {0};
    rc = qk_lake_catalog_lookup(c->store, (const char *const *)parts, (size_t)n, NULL, &t, err);
    if (rc == QK_ENOTFOUND && is_dir(a->pos[0]))
        rc = qk_errf(err, rc, "no table %s in %s (to list the directory %s, write ./%s)", a->pos[0],
                     qk_store_uri(c->store), a->pos[0], a->pos[0]);
    else if (rc == QK_ENOTFOUND)
        rc = qk_errf(err, rc, "no table %s in %s", a->pos[0], qk_store_uri(c->store));
    if (!rc) rc = schema_of(c, &t, &cols, &serr, err);
    if (!rc && a->json)
        rc = print_json(table_json(c, &t, true, cols, &serr), err);
    else if (!rc)
        print_details(c, &t, cols, &serr);
    json_decref(cols);
    qk_lake_table_free(&t);
    while (n > 0)
        free(parts[--n]);
    return rc;
}

/* `ls` in its three forms; *failed: the listing was printed but a schema could not be read. */
static int run_ls(const lake_args *a, bool *failed, qk_err *err)
{
    lake_ctx c = {0};
    ls_mode m = ls_mode_of(a);
    int rc;
    if (m == LS_OBJECTS) return ls_objects(a, err);
    rc = lake_ctx_open(&c, a, err);
    if (!rc) rc = m == LS_TABLE ? ls_table(a, &c, err) : ls_tables(a, &c, err);
    *failed = c.failed;
    lake_ctx_close(&c);
    return rc;
}

/* ---- put --------------------------------------------------------------------------------- */

typedef struct stores {
    qk_store *v[256];
    int n;
} stores;

static void stores_free(stores *s)
{
    for (int i = 0; i < s->n; i++)
        qk_store_destroy(s->v[i]);
}

static int stores_open(stores *s, const char *uri, qk_store **out, qk_err *err)
{
    if (s->n == (int)(sizeof s->v / sizeof s->v[0]))
        return qk_errf(err, QK_EINVAL, "too many sources (at most 255)");
    int rc = qk_store_open(uri, out, err);
    if (!rc) s->v[s->n++] = *out;
    return rc;
}

/* One LOCAL argument of put: a directory (every file, keys relative to it) or a file. */
static int add_local(stores *ss, const char *path, qk_store *dst, jobs *j, qk_err *err)
{
    struct stat st;
    qk_store *src;
    qk_obj_list e = {0};
    char *parent = NULL;
    const char *name;
    int rc;
    if (stat(path, &st) != 0)
        return qk_errf(err, QK_ENOTFOUND, "no such file or directory: %s", path);
    if (S_ISDIR(st.st_mode)) {
        rc = stores_open(ss, path, &src, err);
        if (!rc) rc = list_keys(src, &e, err);
        for (size_t i = 0; !rc && i < e.n; i++)
            rc = jobs_add(j, src, e.v[i].key, dst, e.v[i].key, e.v[i].size, err);
        qk_obj_list_free(&e);
        return rc;
    }
    if (!split_last(path, &parent, &name)) return qk_errf(err, QK_EINVAL, "bad path: %s", path);
    rc = stores_open(ss, parent, &src, err);
    if (!rc) rc = jobs_add(j, src, name, dst, name, (uint64_t)st.st_size, err);
    free(parent);
    return rc;
}

static int run_put(const lake_args *a, qk_err *err)
{
    stores ss = {0};
    jobs j = {0};
    qk_store *dst;
    uint64_t bytes = 0;
    char h[32];
    int rc = stores_open(&ss, a->pos[a->npos - 1], &dst, err);
    for (int i = 0; !rc && i < a->npos - 1; i++)
        rc = add_local(&ss, a->pos[i], dst, &j, err);
    if (!rc) rc = run_jobs(&j, "quack lake put", a->quiet, &bytes, err);
    if (!rc)
        printf("put %zu object%s (%s) to %s\n", j.n, j.n == 1 ? "" : "s",
               qk_cli_human_bytes(bytes, h, sizeof h), qk_store_uri(dst));
    jobs_free(&j);
    stores_free(&ss);
    return rc;
}

/* ---- get --------------------------------------------------------------------------------- */

/* SRC names one object: find its parent store and key. QK_ENOTFOUND when it does not exist. */
static int find_object(stores *ss, const char *uri, qk_store **src, const char **key,
                       uint64_t *size, qk_err *err)
{
    char *parent = NULL;
    qk_obj_info info;
    int rc;
    if (!split_last(uri, &parent, key)) return qk_errf(err, QK_ENOTFOUND, "nothing at %s", uri);
    rc = stores_open(ss, parent, src, err);
    free(parent);
    if (!rc) rc = qk_store_head(*src, *key, &info, err);
    if (rc == QK_ENOTFOUND) return qk_errf(err, rc, "nothing at %s (no object, no prefix)", uri);
    if (!rc) *size = info.size;
    return rc;
}

static int get_object(stores *ss, const lake_args *a, jobs *j, qk_err *err)
{
    const char *src_uri = a->pos[0], *local = a->pos[1], *key, *dname;
    qk_store *src, *dst;
    char *parent = NULL;
    uint64_t size = 0;
    int rc = find_object(ss, src_uri, &src, &key, &size, err);
    if (rc) return rc;
    if (is_dir(local) || qk_str_endswith(local, "/")) {
        rc = stores_open(ss, local, &dst, err);
        return rc ? rc : jobs_add(j, src, key, dst, key, size, err);
    }
    if (!split_last(local, &parent, &dname)) return qk_errf(err, QK_EINVAL, "bad path: %s", local);
    rc = stores_open(ss, parent, &dst, err);
    if (!rc) rc = jobs_add(j, src, key, dst, dname, size, err);
    free(parent);
    return rc;
}

static int run_get(const lake_args *a, qk_err *err)
{
    stores ss = {0};
    jobs j = {0};
    qk_obj_list e = {0};
    qk_store *src = NULL, *dst = NULL;
    uint64_t bytes = 0;
    char h[32];
    struct stat st;
    int rc = 0;
    bool file = !is_s3(a->pos[0]) && stat(a->pos[0], &st) == 0 && S_ISREG(st.st_mode);
    if (!file) rc = stores_open(&ss, a->pos[0], &src, err);
    if (!rc && !file) rc = list_keys(src, &e, err);
    if (!rc && e.n > 0) {
        rc = stores_open(&ss, a->pos[1], &dst, err);
        for (size_t i = 0; !rc && i < e.n; i++)
            rc = jobs_add(&j, src, e.v[i].key, dst, e.v[i].key, e.v[i].size, err);
    } else if (!rc)
        rc = get_object(&ss, a, &j, err);
    if (!rc) rc = run_jobs(&j, "quack lake get", a->quiet, &bytes, err);
    if (!rc)
        printf("got %zu object%s (%s) into %s\n", j.n, j.n == 1 ? "" : "s",
               qk_cli_human_bytes(bytes, h, sizeof h), a->pos[1]);
    qk_obj_list_free(&e);
    jobs_free(&j);
    stores_free(&ss);
    return rc;
}

/* ---- rm ---------------------------------------------------------------------------------- */

static int rm_prefix(const char *uri, qk_err *err)
{
    qk_store *s = NULL;
    qk_obj_list e = {0};
    const char **keys = NULL;
    int rc = qk_store_open(uri, &s, err);
    if (!rc) rc = list_keys(s, &e, err);
    if (!rc && e.n && !(keys = malloc(e.n * sizeof *keys)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < e.n; i++)
        keys[i] = e.v[i].key;
    if (!rc) rc = delete_keys(s, keys, e.n, err);
    if (!rc) printf("deleted %zu object%s under %s\n", e.n, e.n == 1 ? "" : "s", qk_store_uri(s));
    free(keys);
    qk_obj_list_free(&e);
    qk_store_destroy(s);
    return rc;
}

static int rm_object(const char *uri, qk_err *err)
{
    stores ss = {0};
    qk_store *s;
    const char *key;
    uint64_t size;
    int rc = find_object(&ss, uri, &s, &key, &size, err);
    if (!rc) rc = qk_store_delete(s, key, err);
    if (!rc) printf("deleted %s\n", uri);
    stores_free(&ss);
    return rc;
}

static int run_rm(const lake_args *a, qk_err *err)
{
    int rc = 0;
    for (int i = 0; !rc && i < a->npos; i++)
        rc = a->recursive ? rm_prefix(a->pos[i], err) : rm_object(a->pos[i], err);
    return rc;
}

/* ---- sync -------------------------------------------------------------------------------- */

/* The comparison rule (docs/lake-cli.md): size always; a local source also when its mtime is
 * newer than the destination's, to the second (S3's Last-Modified has whole seconds); S3 to S3
 * also the ETag. S3 to local: size only (a local file's ETag and mtime say nothing about S3). */
static bool differs(const qk_obj_entry *s, const qk_obj_entry *d, bool src_local, bool dst_local)
{
    if (s->size != d->size) return true;
    if (src_local) return s->mtime_ms / 1000 > d->mtime_ms / 1000;
    if (!dst_local) return strcmp(s->etag, d->etag) != 0;
    return false;
}

typedef struct plan {
    jobs copy;
    const char **del;
    size_t ndel, skipped;
} plan;

static int make_plan(qk_store *src, qk_store *dst, const qk_obj_list *se, const qk_obj_list *de,
                     plan *p, qk_err *err)
{
    size_t i = 0, k = 0;
    int rc = 0;
    if (de->n && !(p->del = malloc(de->n * sizeof *p->del)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    while (!rc && (i < se->n || k < de->n)) {
        int c = i >= se->n ? 1 : k >= de->n ? -1 : strcmp(se->v[i].key, de->v[k].key);
        if (c > 0) {
            p->del[p->ndel++] = de->v[k++].key;
        } else if (c < 0 || differs(&se->v[i], &de->v[k], is_local(src), is_local(dst))) {
            rc = jobs_add(&p->copy, src, se->v[i].key, dst, se->v[i].key, se->v[i].size, err);
            i++;
            if (c == 0) k++;
        } else {
            p->skipped++;
            i++;
            k++;
        }
    }
    return rc;
}

static int run_sync(const lake_args *a, qk_err *err)
{
    qk_store *src = NULL, *dst = NULL;
    qk_obj_list se = {0}, de = {0};
    plan p = {0};
    uint64_t bytes = 0;
    int rc = qk_store_open(a->pos[0], &src, err);
    if (!rc) rc = qk_store_open(a->pos[1], &dst, err);
    if (!rc) rc = list_keys(src, &se, err);
    if (!rc) rc = list_keys(dst, &de, err);
    if (!rc) rc = make_plan(src, dst, &se, &de, &p, err);
    if (!a->del) p.ndel = 0;
    if (!rc && a->dry_run) {
        for (size_t i = 0; i < p.copy.n; i++) {
            printf("would copy %s (%llu bytes)\n", p.copy.v[i].skey,
                   (unsigned long long)p.copy.v[i].size);
            bytes += p.copy.v[i].size;
        }
        for (size_t i = 0; i < p.ndel; i++)
            printf("would delete %s\n", p.del[i]);
    } else if (!rc) {
        rc = run_jobs(&p.copy, "quack lake sync", a->quiet, &bytes, err);
        if (!rc) rc = delete_keys(dst, p.del, p.ndel, err);
    }
    if (!rc)
        printf("%scopied %zu (%llu bytes), skipped %zu, deleted %zu\n",
               a->dry_run ? "dry run: " : "", p.copy.n, (unsigned long long)bytes, p.skipped,
               p.ndel);
    jobs_free(&p.copy);
    free(p.del);
    qk_obj_list_free(&se);
    qk_obj_list_free(&de);
    qk_store_destroy(dst);
    qk_store_destroy(src);
    return rc;
}

/* ---- arguments --------------------------------------------------------------------------- */

enum {
    OPT_RECURSIVE = 256,
    OPT_JSON,
    OPT_DELETE,
    OPT_DRY_RUN,
    OPT_QUIET,
    OPT_LAKE,
    OPT_SCHEMA,
    OPT_OBJECTS
};

static const char *sub_help(const char *sub)
{
    if (strcmp(sub, "ls") == 0) return HELP_LS;
    if (strcmp(sub, "put") == 0) return HELP_PUT;
    if (strcmp(sub, "get") == 0) return HELP_GET;
    if (strcmp(sub, "rm") == 0) return HELP_RM;
    if (strcmp(sub, "sync") == 0) return HELP_SYNC;
    return NULL;
}

/* Which flags each subcommand takes, and how many positional arguments. */
static int check_args(const lake_args *a)
{
    const char *s = a->sub;
    bool ls = !strcmp(s, "ls"), rm = !strcmp(s, "rm"), sync = !strcmp(s, "sync");
    if (a->recursive && !ls && !rm)
        return qk_cli_usage_error("lake", "--recursive is for ls and rm");
    if (a->json && !ls) return qk_cli_usage_error("lake", "--json is for ls");
    if ((a->del || a->dry_run) && !sync)
        return qk_cli_usage_error("lake", "--delete and --dry-run are for sync");
    if ((a->lake || a->schema || a->objects) && !ls)
        return qk_cli_usage_error("lake", "--lake, --schema and --objects are for ls");
    if (ls && a->npos > 1)
        return qk_cli_usage_error("lake", "ls takes at most one table NAME or URI");
    if (ls && a->schema && ls_mode_of(a) == LS_OBJECTS)
        return qk_cli_usage_error("lake", "--schema is for tables, not with --objects, "
                                          "--recursive or a URI|PATH");
    if (ls && ls_mode_of(a) == LS_TABLE) {
        char *parts[3];
        int n = qk_lake_name_split(a->pos[0], parts);
        if (n == 0)
            return qk_cli_usage_error("lake",
                                      "bad table name '%s' (1 to 3 parts separated by "
                                      "'.', \"double-quoted\" when needed)",
                                      a->pos[0]);
        while (n > 0)
            free(parts[--n]);
    }
    if (!strcmp(s, "put") && a->npos < 2)
        return qk_cli_usage_error("lake", "put needs LOCAL... and a destination");
    if ((!strcmp(s, "get") || sync) && a->npos != 2)
        return qk_cli_usage_error("lake", "%s needs exactly two arguments: SRC and DEST", s);
    if (rm && a->npos < 1) return qk_cli_usage_error("lake", "rm needs at least one URI");
    return QK_EXIT_OK;
}

static int parse_args(int argc, char **argv, lake_args *a)
{
    static const struct option longopts[] = {
        {"recursive", no_argument, NULL, OPT_RECURSIVE},
        {"json", no_argument, NULL, OPT_JSON},
        {"delete", no_argument, NULL, OPT_DELETE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"lake", required_argument, NULL, OPT_LAKE},
        {"schema", no_argument, NULL, OPT_SCHEMA},
        {"objects", no_argument, NULL, OPT_OBJECTS},
        {NULL, 0, NULL, 0},
    };
    int opt;
    if (argc < 2) return qk_cli_usage_error("lake", "missing subcommand (ls, put, get, rm, sync)");
    a->sub = argv[1];
    if (!sub_help(a->sub)) return qk_cli_usage_error("lake", "unknown subcommand '%s'", a->sub);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc - 1, argv + 1, ":r", longopts, NULL)) != -1) {
        if (opt == '?') return qk_cli_usage_error("lake", "unknown option '%s'", argv[optind]);
        if (opt == ':') return qk_cli_usage_error("lake", "'%s' needs a value", argv[optind]);
        if (opt == OPT_RECURSIVE || opt == 'r') a->recursive = true;
        if (opt == OPT_JSON) a->json = true;
        if (opt == OPT_DELETE) a->del = true;
        if (opt == OPT_DRY_RUN) a->dry_run = true;
        if (opt == OPT_QUIET) a->quiet = true;
        if (opt == OPT_LAKE) a->lake = optarg;
        if (opt == OPT_SCHEMA) a->schema = true;
        if (opt == OPT_OBJECTS) a->objects = true;
    }
    a->pos = argv + 1 + optind;
    a->npos = argc - 1 - optind;
    return check_args(a);
}

int qk_cmd_lake(int argc, char **argv)
{
    lake_args a = {0};
    qk_err err = {0};
    bool failed = false;
    int rc;
    const char *h = argc >= 2 ? sub_help(argv[1]) : NULL;
    if (qk_cli_wants_help(argc, argv, h ? h : qk_help_lake)) return QK_EXIT_OK;
    if ((rc = parse_args(argc, argv, &a)) != QK_EXIT_OK) return rc;
    if (!strcmp(a.sub, "ls"))
        rc = run_ls(&a, &failed, &err);
    else if (!strcmp(a.sub, "put"))
        rc = run_put(&a, &err);
    else if (!strcmp(a.sub, "get"))
        rc = run_get(&a, &err);
    else if (!strcmp(a.sub, "rm"))
        rc = run_rm(&a, &err);
    else
        rc = run_sync(&a, &err);
    if (rc) {
        fflush(stdout);
        /* table listings speak as "quack lake ls:", object commands as "quack lake:" */
        qk_cli_print_err(!strcmp(a.sub, "ls") && ls_mode_of(&a) != LS_OBJECTS ? "lake ls" : "lake",
                         &err);
        return QK_EXIT_QUERY;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "quack lake: cannot write the output\n");
        return QK_EXIT_QUERY;
    }
    return failed ? QK_EXIT_QUERY : QK_EXIT_OK;
}
