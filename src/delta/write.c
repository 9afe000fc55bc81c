/* SPDX-License-Identifier: MIT */
/*
 * write.c: qk_delta_write, writing the rows of a SELECT to a Delta table (writer protocol 2;
 * contract in delta.h, design in docs/internals/delta.md "Writer").
 *
 *   1. the table: the latest snapshot, or none when _delta_log/ has no version (a log that
 *      has versions but does not load is the reader's error); refusals (create over a table,
 *      writer version > 2 or writer features, an overwrite of an append-only table); an
 *      app_id whose txn is already at or past txn_version is skipped here
 *   2. the schema: the source's columns (prepared, not run) against the table's, by name
 *      case-insensitively: an append must match (narrower integers and FLOAT into DOUBLE are
 *      cast); a new table, or an overwrite whose data, partitioning or configuration differ,
 *      takes a new schema made from the source types (stats.c)
 *   3. the source is run once into a TEMP table __qk_data on the writer's own connection,
 *      every column already cast to the type the files hold and named as the table names it;
 *      column invariants are counted there (NOT (expr) or NULL is a violation)
 *   4. data files: per partition value tuple (IS NOT DISTINCT FROM, so NULL is a partition),
 *      COPY ... TO '<temp>/<n>.parquet' of at most max_rows_per_file rows without the
 *      partition columns, stats from the file (stats.c), then put under
 *      <table>/<col>=<hive-escaped value>/.../part-<nnnnn>-<uuid>.parquet
 *   5. the commit (commit.c), then a checkpoint when the version is a multiple of the interval
 * Uploaded files are deleted again when the write does not commit. QUACK_TEST_CRASH stops the
 * process at the points named in qk_delta_crash_point.
 */
#include "delta/delta_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQL_MAX ((size_t)256 << 20)
#define ROWS_PER_FILE 8000000ull
#define GROUPS_MAX ((size_t)1000000)
#define PROBLEMS_TEXT 170 /* characters of mismatch lines that fit in an error message */
#define DATA "__qk_data"

/* A column of the source. */
typedef struct scol {
    char *name;
    char *shown; /* its DuckDB type as DESCRIBE names it */
    duckdb_type id;
    json_t *spark; /* the Spark type it would get in a new schema */
    char *type;    /* the reader's DuckDB type for spark */
    int table;     /* the table column it feeds, -1 */
} scol;

typedef struct wstate {
    qk_engine *e;
    qk_store *s;
    qk_delta_write_opts o; /* the caller's, defaults filled in */
    qk_delta_write_result *res;
    char *sql; /* the source without trailing ';' */
    char table[QK_STORE_KEY_MAX + 1];
    char display[QK_STORE_KEY_MAX + 1];
    char tmp[1024];
    duckdb_connection con;
    qk_delta_snapshot *snap;
    qk_arena arena;
    scol *src;
    size_t nsrc;
    qk_delta_wcol *cols; /* the table's columns after the write */
    char **exprs;        /* per column: its value from the source */
    size_t ncols;
    const char **parts;
    size_t nparts;
    json_t *schema;   /* the schema written with (invariants) */
    json_t *protocol; /* actions to commit, NULL: unchanged */
    json_t *metadata;
    json_t *config; /* the configuration after the write */
    qk_delta_added *files;
    char **tmp_paths;
    size_t nfiles, capfiles, nuploaded;
    uint64_t rows, bytes;
    char txn_id[37];
} wstate;

static void progress(wstate *w, const char *stage, uint64_t done, uint64_t total)
{
    if (w->o.progress) w->o.progress(w->o.progress_ud, stage, done, total);
}

static int run(wstate *w, const char *sql, qk_err *err)
{
    return qk_engine_con_exec(w->con, sql, err);
}

static int too_long(qk_err *err)
{
    return qk_errf(err, QK_ETOOBIG, "a writer query is longer than %zu bytes", SQL_MAX);
}

/* ---- the table ---------------------------------------------------------------------------- */

static int set_prefix(wstate *w, const char *prefix, qk_err *err)
{
    size_t n = prefix ? strlen(prefix) : 0;
    while (n && prefix[n - 1] == '/')
        n--;
    if (n + 2 > sizeof w->table) return qk_errf(err, QK_EINVAL, "table prefix too long");
    snprintf(w->table, sizeof w->table, "%.*s%s", (int)n, n ? prefix : "", n ? "/" : "");
    snprintf(w->display, sizeof w->display, "%.*s", (int)n, n ? prefix : "(store root)");
    return 0;
}

/* A listed key of _delta_log/ that is a version: %020d.json or %020d.checkpoint... */
static int version_key(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    const char *name;
    (void)err;
    (void)cp;
    if (!obj) return 0;
    name = strrchr(obj->key, '/');
    name = name ? name + 1 : obj->key;
    for (int i = 0; i < 20; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    if (strcmp(name + 20, ".json") && !qk_str_startswith(name + 20, ".checkpoint.")) return 0;
    *(bool *)ud = true;
    return 1; /* found one: stop */
}

/* The latest snapshot, or NULL when the log holds no version at all. */
static int load_existing(wstate *w, qk_err *err)
{
    char log[QK_STORE_KEY_MAX + 16];
    bool has = false;
    qk_err lerr = {0};
    int rc = qk_delta_snapshot_load(w->e, w->s, w->table, NULL, &w->snap, err), lrc;
    if (rc != QK_ENOTFOUND) return rc;
    snprintf(log, sizeof log, "%s_delta_log/", w->table);
    lrc = qk_store_list_all(w->s, log, "/", version_key, &has, &lerr);
    if (lrc < 0) {
        *err = lerr;
        return lrc;
    }
    if (has) return rc; /* versions that do not load: the reader's error stands */
    qk_err_clear(err);
    return 0;
}

static const char *txn_version_of(const qk_delta_snapshot *snap, const char *app, int64_t *v)
{
    for (size_t i = 0; i < snap->ntxns; i++)
        if (!strcmp(snap->txns[i].app_id, app)) {
            *v = snap->txns[i].version;
            return app;
        }
    return NULL;
}

static bool config_true(json_t *cfg, const char *key)
{
    const char *v = json_string_value(json_object_get(cfg, key));
    return v && !strcasecmp(v, "true");
}

/* Refusals before anything is read; *skip when the txn already happened. */
static int check_table(wstate *w, bool *skip, qk_err *err)
{
    const qk_delta_snapshot *snap = w->snap;
    const qk_delta_protocol *p;
    int64_t have = -1;
    *skip = false;
    if (!snap) return 0;
    p = &snap->protocol;
    if (w->o.mode == QK_DELTA_CREATE)
        return qk_errf(err, QK_EEXIST, "the table already exists (version %lld)",
                       (long long)snap->version);
    if (p->min_writer_version > 2 || p->nwriter_features)
        return qk_errf(err, QK_EUNSUPPORTED,
                       "the table needs Delta writer version %d%s%s; quack writes tables of "
                       "writer version 2 (appendOnly, invariants) only",
                       p->min_writer_version, p->nwriter_features ? " with writer feature " : "",
                       p->nwriter_features ? p->writer_features[0] : "");
    if (w->o.mode == QK_DELTA_OVERWRITE &&
        config_true(snap->metadata.configuration, "delta.appendOnly"))
        return qk_errf(err, QK_EUNSUPPORTED,
                       "the table is append-only (delta.appendOnly): an overwrite would remove "
                       "rows");
    if (w->o.app_id && txn_version_of(snap, w->o.app_id, &have) && have >= w->o.txn_version) {
        w->res->skipped = true;
        w->res->version = snap->version;
        *skip = true;
    }
    return 0;
}

/* ---- the source --------------------------------------------------------------------------- */

static int trim_source(wstate *w, const char *sql, qk_err *err)
{
    size_t n = strlen(sql);
    while (n && (sql[n - 1] == ';' || sql[n - 1] == ' ' || sql[n - 1] == '\n' ||
                 sql[n - 1] == '\t' || sql[n - 1] == '\r'))
        n--;
    if (!n) return qk_errf(err, QK_EINVAL, "the source query is empty");
    if (!(w->sql = qk_arena_strndup(&w->arena, sql, n)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    return 0;
}

/* DESCRIBE names the source's types as users know them (for messages). */
static int describe(wstate *w, qk_err *err)
{
    qk_buf q;
    qk_delta_rows r;
    int rc;
    qk_buf_init(&q, SQL_MAX);
    if (qk_buf_printf(&q, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM (\n%s\n))",
                      w->sql)) {
        qk_buf_free(&q);
        return too_long(err);
    }
    rc = qk_delta_sql_rows(w->con, qk_buf_cstr(&q), 100000, &r, err);
    qk_buf_free(&q);
    if (rc) return rc;
    for (size_t i = 0; i < w->nsrc && i < r.nrows; i++)
        if (qk_delta_cell(&r, i, 1))
            w->src[i].shown = qk_arena_strdup(&w->arena, qk_delta_cell(&r, i, 1));
    qk_delta_rows_free(&r);
    return 0;
}

static int add_source_column(wstate *w, duckdb_prepared_statement st, idx_t i, qk_err *err)
{
    scol *c = &w->src[i];
    const char *name = duckdb_prepared_statement_column_name(st, i);
    duckdb_logical_type t = duckdb_prepared_statement_column_logical_type(st, i);
    qk_buf tb;
    int rc;
    c->table = -1;
    c->id = duckdb_get_type_id(t);
    c->name = qk_arena_strdup(&w->arena, name ? name : "");
    duckdb_free((void *)name);
    rc = c->name ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && !*c->name) rc = qk_errf(err, QK_EINVAL, "column %zu of the data has no name", i + 1);
    if (!rc) rc = qk_delta_spark_of(t, c->name, &c->spark, err);
    duckdb_destroy_logical_type(&t);
    if (rc) return rc;
    qk_buf_init(&tb, 1u << 20);
    if ((rc = qk_delta_type_of(c->spark, &tb, err)) == 0 &&
        !(c->type = qk_arena_strdup(&w->arena, qk_buf_cstr(&tb))))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    qk_buf_free(&tb);
    for (idx_t j = 0; !rc && j < i; j++)
        if (!strcasecmp(w->src[j].name, c->name))
            rc = qk_errf(err, QK_EINVAL,
                         "the data has two columns named %s (names are case-insensitive)", c->name);
    return rc;
}

/* The source's columns from a prepared (not run) SELECT. */
static int describe_source(wstate *w, qk_err *err)
{
    duckdb_prepared_statement st = NULL;
    qk_buf q;
    idx_t n;
    int rc = 0;
    qk_buf_init(&q, SQL_MAX);
    if (qk_buf_printf(&q, "SELECT * FROM (\n%s\n)", w->sql)) {
        rc = too_long(err);
        goto out;
    }
    if (duckdb_prepare(w->con, qk_buf_cstr(&q), &st) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_prepare_error(st), DUCKDB_ERROR_INVALID);
        qk_err_prefix(err, "the source query");
        goto out;
    }
    n = duckdb_prepared_statement_column_count(st);
    if (!n || !(w->src = qk_arena_alloc(&w->arena, n * sizeof *w->src))) {
        rc = n ? qk_errf(err, QK_ENOMEM, "out of memory")
               : qk_errf(err, QK_EINVAL, "the source query returns no columns");
        goto out;
    }
    memset(w->src, 0, n * sizeof *w->src);
    w->nsrc = n;
    for (idx_t i = 0; !rc && i < n; i++)
        rc = add_source_column(w, st, i, err);
    if (!rc) rc = describe(w, err);
out:
    duckdb_destroy_prepare(&st);
    qk_buf_free(&q);
    return rc;
}

static void free_source(wstate *w)
{
    for (size_t i = 0; i < w->nsrc; i++)
        json_decref(w->src[i].spark);
}

/* ---- the schema --------------------------------------------------------------------------- */

/* Mismatches between the data and the table, as much of the list as fits in a message. */
typedef struct problems {
    char text[PROBLEMS_TEXT + 64];
    size_t n, hidden;
} problems;

static void problem(problems *p, const char *fmt, ...) QK_PRINTF(2, 3);
static void problem(problems *p, const char *fmt, ...)
{
    char line[QK_ERR_MSG_MAX];
    size_t len = strlen(p->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->n++;
    if (len + strlen(line) + 2 > PROBLEMS_TEXT) {
        p->hidden++;
        return;
    }
    if (len) {
        memcpy(p->text + len, "; ", 2);
        len += 2;
    }
    memcpy(p->text + len, line, strlen(line) + 1); /* fits: checked above */
}

static int int_rank(const char *t)
{
    static const char *const ints[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(t, ints[i])) return i;
    return -1;
}

/* Can data of (reader) type from go into a column of type to? */
static bool type_fits(const char *from, const char *to)
{
    if (!strcmp(from, to)) return true;
    if (int_rank(from) >= 0 && int_rank(to) > int_rank(from)) return true;
    return !strcmp(from, "FLOAT") && !strcmp(to, "DOUBLE");
}

/* Pair the table's columns with the source's; the mismatches go to p. */
static void match_table(wstate *w, problems *p)
{
    const qk_delta_metadata *m = &w->snap->metadata;
    for (size_t i = 0; i < w->nsrc; i++)
        w->src[i].table = -1;
    for (size_t j = 0; j < m->ncolumns; j++) {
        const qk_delta_column *c = &m->columns[j];
        size_t i = 0;
        while (i < w->nsrc && strcasecmp(w->src[i].name, c->name))
            i++;
        if (i == w->nsrc) {
            problem(p, "column %s is missing from the data", c->name);
            continue;
        }
        w->src[i].table = (int)j;
        if (!type_fits(w->src[i].type, c->type))
            problem(p, "column %s: the table has %s, the data has %s", c->name, c->type,
                    w->src[i].shown ? w->src[i].shown : w->src[i].type);
    }
    for (size_t i = 0; i < w->nsrc; i++)
        if (w->src[i].table < 0) problem(p, "column %s is not in the table", w->src[i].name);
}

/* The SQL that makes a table column of type target from source column sc. */
static char *conversion(wstate *w, const scol *sc, const char *target)
{
    qk_buf b;
    char *out = NULL;
    int rc;
    qk_buf_init(&b, 1u << 20);
    if (qk_delta_naive_timestamp(sc->id) && !strcmp(target, "TIMESTAMP WITH TIME ZONE"))
        rc = qk_buf_adds(&b, "make_timestamptz(epoch_us(") || qk_delta_add_ident(&b, sc->name) ||
             qk_buf_adds(&b, "))");
    else
        rc = qk_buf_adds(&b, "CAST(") || qk_delta_add_ident(&b, sc->name) ||
             qk_buf_printf(&b, " AS %s)", target);
    if (!rc) out = qk_arena_strdup(&w->arena, qk_buf_cstr(&b));
    qk_buf_free(&b);
    return out;
}

static int alloc_cols(wstate *w, size_t n, qk_err *err)
{
    w->cols = qk_arena_alloc(&w->arena, n * sizeof *w->cols);
    w->exprs = qk_arena_alloc(&w->arena, n * sizeof *w->exprs);
    w->parts = qk_arena_alloc(&w->arena, n * sizeof *w->parts);
    if (!w->cols || !w->exprs || !w->parts) return qk_errf(err, QK_ENOMEM, "out of memory");
    w->ncols = n;
    return 0;
}

/* Keep the table's schema: columns in its order, cast from the matching source columns. */
static int keep_schema(wstate *w, qk_err *err)
{
    const qk_delta_metadata *m = &w->snap->metadata;
    json_error_t je;
    int rc = alloc_cols(w, m->ncolumns, err);
    for (size_t j = 0; !rc && j < m->ncolumns; j++) {
        qk_delta_wcol *c = &w->cols[j];
        c->name = m->columns[j].name;
        c->type = m->columns[j].type;
        c->kind = qk_delta_kind_of(c->type);
        c->partition = m->columns[j].partition;
        if (c->partition >= 0) w->parts[c->partition] = c->name;
        for (size_t i = 0; i < w->nsrc; i++)
            if (w->src[i].table == (int)j) w->exprs[j] = conversion(w, &w->src[i], c->type);
        if (!w->exprs[j]) rc = qk_errf(err, QK_ENOMEM, "out of memory");
    }
    w->nparts = m->npartition_columns;
    if (!rc && !(w->schema = json_loads(m->schema_string, 0, &je)))
        rc = qk_errf(err, QK_EPARSE, "schemaString: %s", je.text);
    w->config = json_incref(m->configuration);
    return rc;
}

static int resolve_partitions(wstate *w, const char *const *names, size_t n, qk_err *err)
{
    for (size_t k = 0; k < n; k++) {
        size_t j = 0;
        while (j < w->ncols && strcasecmp(w->cols[j].name, names[k]))
            j++;
        if (j == w->ncols)
            return qk_errf(err, QK_EINVAL, "partition column %s is not a column of the data",
                           names[k]);
        if (w->cols[j].partition >= 0)
            return qk_errf(err, QK_EINVAL, "partition column %s is named twice", names[k]);
        if (w->cols[j].kind >= QK_DELTA_K_NESTED || w->cols[j].kind == QK_DELTA_K_BINARY)
            return qk_errf(err, QK_EUNSUPPORTED,
                           "partition column %s has type %s; partition columns must be of a "
                           "primitive type other than binary",
                           names[k], w->cols[j].type);
        w->cols[j].partition = (int)k;
        w->parts[k] = w->cols[j].name;
    }
    w->nparts = n;
    if (n && n == w->ncols)
        return qk_errf(err, QK_EINVAL, "every column is a partition column; one must hold data");
    return 0;
}

static int check_config(json_t *cfg, qk_err *err)
{
    const char *k;
    json_t *v;
    if (!json_is_object(cfg))
        return qk_errf(err, QK_EINVAL, "the table configuration must be an object of strings");
    json_object_foreach(cfg, k, v)
    {
        if (!json_is_string(v))
            return qk_errf(err, QK_EINVAL, "table property %s must be a string", k);
    }
    return 0;
}

static json_t *metadata_action(wstate *w, const char *schema_string)
{
    const qk_delta_snapshot *snap = w->snap;
    const char *name = w->o.name ? w->o.name : snap ? snap->metadata.name : NULL;
    const char *desc = w->o.description ? w->o.description
                       : snap           ? snap->metadata.description
                                        : NULL;
    char id[37];
    json_t *pc = json_array(), *m;
    for (size_t k = 0; pc && k < w->nparts; k++)
        json_array_append_new(pc, json_string(w->parts[k]));
    if (snap && snap->metadata.id)
        snprintf(id, sizeof id, "%s", snap->metadata.id);
    else
        qk_uuid4(id);
    m = pc ? json_pack("{s:s, s:{s:s, s:{}}, s:s, s:o, s:O, s:I}", "id", id, "format", "provider",
                       "parquet", "options", "schemaString", schema_string, "partitionColumns", pc,
                       "configuration", w->config, "createdTime", (json_int_t)qk_epoch_ms())
           : NULL;
    if (m && name) json_object_set_new(m, "name", json_string(name));
    if (m && desc) json_object_set_new(m, "description", json_string(desc));
    return m;
}

/* A new schema made from the source's types (a new table, or an overwrite that changes it). */
static int new_schema(wstate *w, const char *const *parts, size_t nparts, qk_err *err)
{
    json_t *fields = json_array();
    char *ss = NULL;
    int rc = alloc_cols(w, w->nsrc, err);
    for (size_t i = 0; !rc && i < w->nsrc; i++) {
        scol *sc = &w->src[i];
        w->cols[i] = (qk_delta_wcol){sc->name, sc->type, qk_delta_kind_of(sc->type), -1};
        if (!(w->exprs[i] = conversion(w, sc, sc->type)) || !fields ||
            json_array_append_new(fields, json_pack("{s:s, s:O, s:b, s:{}}", "name", sc->name,
                                                    "type", sc->spark, "nullable", 1, "metadata")))
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
    }
    if (!rc) rc = resolve_partitions(w, parts, nparts, err);
    if (!rc && !(w->schema = json_pack("{s:s, s:O}", "type", "struct", "fields", fields)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && !(ss = json_dumps(w->schema, JSON_COMPACT)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && !(w->metadata = metadata_action(w, ss)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && (!w->snap || w->snap->protocol.min_writer_version < 2) &&
        !(w->protocol = json_pack("{s:i, s:i}", "minReaderVersion", 1, "minWriterVersion", 2)))
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    free(ss);
    json_decref(fields);
    return rc;
}

static bool same_partitions(const qk_delta_write_opts *o, const qk_delta_metadata *m)
{
    if (o->npartition_by != m->npartition_columns) return false;
    for (size_t k = 0; k < o->npartition_by; k++)
        if (strcasecmp(o->partition_by[k], m->partition_columns[k])) return false;
    return true;
}

/* An overwrite without partition_by keeps the table's partition columns when the data still
 * has them all (as primitive, non-binary columns); otherwise the new table has none. */
static bool kept_partitions(const wstate *w)
{
    const qk_delta_metadata *m = &w->snap->metadata;
    for (size_t k = 0; k < m->npartition_columns; k++) {
        size_t i = 0;
        while (i < w->nsrc && strcasecmp(w->src[i].name, m->partition_columns[k]))
            i++;
        if (i == w->nsrc) return false;
        int kind = qk_delta_kind_of(w->src[i].type);
        if (kind >= QK_DELTA_K_NESTED || kind == QK_DELTA_K_BINARY) return false;
    }
    return m->npartition_columns > 0 && m->npartition_columns < w->nsrc;
}

static int mismatch(const problems *p, qk_err *err)
{
    if (p->hidden)
        return qk_errf(err, QK_EINVAL, "the data does not match the table: %s; ... and %zu more",
                       p->text, p->hidden);
    return qk_errf(err, QK_EINVAL, "the data does not match the table: %s", p->text);
}

static int plan_schema(wstate *w, qk_err *err)
{
    const qk_delta_write_opts *o = &w->o;
    problems p;
    memset(&p, 0, sizeof p);
    if (!w->snap) {
        w->config = o->configuration ? json_deep_copy(o->configuration) : json_object();
        return new_schema(w, o->partition_by, o->npartition_by, err);
    }
    match_table(w, &p);
    if (o->mode == QK_DELTA_APPEND) {
        if (p.n) return mismatch(&p, err);
        if (o->npartition_by && !same_partitions(o, &w->snap->metadata))
            return qk_errf(err, QK_EINVAL,
                           "an append cannot change the partition columns (the table has %zu)",
                           w->snap->metadata.npartition_columns);
        return keep_schema(w, err);
    }
    if (!p.n && (!o->npartition_by || same_partitions(o, &w->snap->metadata)) && !o->configuration)
        return keep_schema(w, err);
    w->config =
        json_deep_copy(o->configuration ? o->configuration : w->snap->metadata.configuration);
    if (!o->npartition_by && kept_partitions(w))
        return new_schema(w, w->snap->metadata.partition_columns,
                          w->snap->metadata.npartition_columns, err);
    return new_schema(w, o->partition_by, o->npartition_by, err);
}

/* ---- the data ----------------------------------------------------------------------------- */

static int materialize(wstate *w, qk_err *err)
{
    qk_buf q;
    qk_delta_rows r;
    int64_t n = 0;
    int rc;
    qk_buf_init(&q, SQL_MAX);
    rc = qk_buf_adds(&q, "CREATE TEMP TABLE " DATA " AS SELECT ");
    for (size_t j = 0; !rc && j < w->ncols; j++)
        rc = qk_buf_printf(&q, "%s%s AS ", j ? ", " : "", w->exprs[j]) ||
             qk_delta_add_ident(&q, w->cols[j].name);
    if (!rc) rc = qk_buf_printf(&q, " FROM (\n%s\n) AS __qk_src", w->sql);
    if (rc) {
        qk_buf_free(&q);
        return too_long(err);
    }
    progress(w, "reading", 0, 0);
    rc = run(w, qk_buf_cstr(&q), err);
    qk_buf_free(&q);
    if (rc) {
        qk_err_prefix(err, "running the source query");
        return rc;
    }
    rc = qk_delta_sql_rows(w->con, "SELECT CAST(count(*) AS VARCHAR) FROM " DATA, 1, &r, err);
    if (!rc) rc = qk_parse_int64(qk_delta_cell(&r, 0, 0), 0, INT64_MAX, &n, "rows", err);
    qk_delta_rows_free(&r);
    w->rows = (uint64_t)n;
    progress(w, "reading", w->rows, w->rows);
    return rc;
}

/* Count the rows breaking one invariant. */
static int check_invariant(wstate *w, const char *column, const char *expr, qk_err *err)
{
    qk_buf q;
    qk_delta_rows r;
    int64_t bad = 0;
    int rc;
    qk_buf_init(&q, SQL_MAX);
    if (qk_buf_printf(&q,
                      "SELECT CAST(count(*) FILTER (WHERE (%s) IS NOT TRUE) AS VARCHAR) FROM " DATA,
                      expr)) {
        qk_buf_free(&q);
        return too_long(err);
    }
    rc = qk_delta_sql_rows(w->con, qk_buf_cstr(&q), 1, &r, err);
    qk_buf_free(&q);
    if (rc) {
        qk_err_prefix(err, "the invariant %s of column %s cannot be checked", expr, column);
        return QK_EUNSUPPORTED;
    }
    rc = qk_parse_int64(qk_delta_cell(&r, 0, 0), 0, INT64_MAX, &bad, "count", err);
    qk_delta_rows_free(&r);
    if (!rc && bad)
        rc = qk_errf(err, QK_ECONSTRAINT,
                     "%lld row%s break%s the invariant %s of column %s; nothing was written",
                     (long long)bad, bad == 1 ? "" : "s", bad == 1 ? "s" : "", expr, column);
    return rc;
}

static bool is_struct(json_t *type)
{
    const char *t = json_string_value(json_object_get(type, "type"));
    return t && !strcmp(t, "struct");
}

/* Every delta.invariants of the schema's fields (and of struct fields, as a.b). */
static int check_fields(wstate *w, json_t *fields, const char *prefix, int depth, qk_err *err)
{
    size_t i;
    json_t *f;
    int rc = 0;
    if (depth > 64) return 0;
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *inv =
            json_string_value(json_object_get(json_object_get(f, "metadata"), "delta.invariants"));
        json_t *type = json_object_get(f, "type"), *parsed;
        char path[1024];
        if (!name) continue;
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (inv) {
            parsed = json_loads(inv, 0, NULL);
            const char *expr = json_string_value(
                json_object_get(json_object_get(parsed, "expression"), "expression"));
            rc = expr ? check_invariant(w, path, expr, err)
                      : qk_errf(err, QK_EUNSUPPORTED,
                                "column %s has a delta.invariants quack cannot read", path);
            json_decref(parsed);
        }
        if (!rc && is_struct(type))
            rc = check_fields(w, json_object_get(type, "fields"), path, depth + 1, err);
        if (rc) break;
    }
    return rc;
}

/* ---- partitions --------------------------------------------------------------------------- */

/* One partition value tuple: the rows' filter, partitionValues, the directory. */
typedef struct group {
    qk_buf filter, dir;
    json_t *pv;
    uint64_t rows;
} group;

static int group_sql(wstate *w, qk_buf *q)
{
    int rc = qk_buf_adds(q, "SELECT ");
    for (size_t k = 0; !rc && k < w->nparts; k++) {
        const char *p = w->parts[k];
        bool ts = false;
        for (size_t j = 0; j < w->ncols; j++)
            if (w->cols[j].partition == (int)k) ts = w->cols[j].kind == QK_DELTA_K_TIMESTAMP;
        rc = qk_buf_adds(q, "CAST(") || qk_delta_add_ident(q, p) ||
             qk_buf_adds(q, ts ? " IS NULL AS VARCHAR), CAST(epoch_us("
                               : " IS NULL AS VARCHAR), "
                                 "CAST(") ||
             qk_delta_add_ident(q, p) || qk_buf_adds(q, ts ? ") AS VARCHAR), " : " AS VARCHAR), ");
    }
    if (!rc) rc = qk_buf_adds(q, "CAST(__qk_n AS VARCHAR) FROM (SELECT ");
    for (size_t k = 0; !rc && k < w->nparts; k++)
        rc = qk_delta_add_ident(q, w->parts[k]) || qk_buf_adds(q, ", ");
    if (!rc) rc = qk_buf_adds(q, "count(*) AS __qk_n FROM " DATA " GROUP BY ALL) ORDER BY ALL");
    return rc;
}

static const qk_delta_wcol *part_col(const wstate *w, size_t k)
{
    for (size_t j = 0; j < w->ncols; j++)
        if (w->cols[j].partition == (int)k) return &w->cols[j];
    return NULL;
}

/* The log's text of a partition value (NULL: null) and the filter's literal. */
static int part_value(const qk_delta_wcol *c, const char *txt, size_t len, char *val, size_t cap,
                      qk_buf *filter, bool *null, qk_err *err)
{
    int64_t us;
    *null = false;
    if (!txt)
        return qk_errf(err, QK_EUNSUPPORTED,
                       "partition column %s holds a value that is not a "
                       "finite timestamp",
                       c->name);
    if (strlen(txt) != len || len >= cap)
        return qk_errf(err, QK_EUNSUPPORTED,
                       "partition column %s holds a value longer than %zu bytes or holding NUL",
                       c->name, cap - 1);
    if (c->kind == QK_DELTA_K_TIMESTAMP) {
        if (qk_parse_int64(txt, INT64_MIN, INT64_MAX, &us, "timestamp", err) ||
            qk_delta_ts_text(us, false, val, cap))
            return qk_errf(err, QK_EUNSUPPORTED,
                           "partition column %s holds a timestamp outside "
                           "years 1 to 9999",
                           c->name);
        if (qk_buf_printf(filter, " = make_timestamptz(CAST(%s AS BIGINT))", txt))
            return qk_errf(err, QK_ETOOBIG, "partition filter too long");
        return 0;
    }
    if (c->kind == QK_DELTA_K_DATE && !qk_delta_date_ok(txt))
        return qk_errf(err, QK_EUNSUPPORTED, "partition column %s holds the date %s", c->name, txt);
    snprintf(val, cap, "%s", txt);
    *null = c->kind == QK_DELTA_K_STRING && !*txt; /* "" is a null partition (PROTOCOL.md) */
    if (qk_buf_adds(filter, " IS NOT DISTINCT FROM CAST(") || qk_sql_add_literal(filter, txt) ||
        qk_buf_printf(filter, " AS %s)", c->type))
        return qk_errf(err, QK_ETOOBIG, "partition filter too long");
    return 0;
}

static int group_column(wstate *w, const qk_delta_rows *r, size_t row, size_t k, group *g,
                        qk_err *err)
{
    const qk_delta_wcol *c = part_col(w, k);
    size_t at = row * r->ncols + 2 * k;
    const char *isnull = r->cells[at];
    char val[QK_STORE_KEY_MAX + 1] = "";
    bool null = isnull && !strcmp(isnull, "true"), empty = false;
    int rc = qk_buf_adds(&g->filter, k ? " AND " : " WHERE ") ||
             qk_delta_add_ident(&g->filter, c->name) ||
             (null && qk_buf_adds(&g->filter, " IS NULL"));
    if (rc) return qk_errf(err, QK_ETOOBIG, "partition filter too long");
    if (!null && (rc = part_value(c, r->cells[at + 1], r->lens[at + 1], val, sizeof val, &g->filter,
                                  &empty, err)))
        return rc;
    null |= empty;
    json_object_set_new(g->pv, c->name, null ? json_null() : json_string(val));
    rc = qk_delta_hive_escape(&g->dir, c->name, strlen(c->name)) || qk_buf_addc(&g->dir, '=') ||
         (null ? qk_buf_adds(&g->dir, "__HIVE_DEFAULT_PARTITION__")
               : qk_delta_hive_escape(&g->dir, val, strlen(val))) ||
         qk_buf_addc(&g->dir, '/');
    return rc ? qk_errf(err, QK_ETOOBIG, "partition path too long") : 0;
}

/* ---- data files --------------------------------------------------------------------------- */

static int add_file(wstate *w, qk_delta_added *a, char *tmp, qk_err *err)
{
    if (w->nfiles == w->capfiles) {
        size_t cap = w->capfiles ? w->capfiles * 2 : 16;
        qk_delta_added *f = realloc(w->files, cap * sizeof *f);
        if (f) w->files = f;
        char **t = f ? realloc(w->tmp_paths, cap * sizeof *t) : NULL;
        if (!f || !t) return qk_errf(err, QK_ENOMEM, "out of memory");
        w->tmp_paths = t;
        w->capfiles = cap;
    }
    w->files[w->nfiles] = *a;
    w->tmp_paths[w->nfiles++] = tmp;
    return 0;
}

static int copy_sql(wstate *w, const group *g, uint64_t offset, uint64_t limit, bool split,
                    const char *path, qk_buf *q)
{
    bool first = true;
    int rc = qk_buf_adds(q, "COPY (SELECT ");
    for (size_t j = 0; !rc && j < w->ncols; j++) {
        if (w->cols[j].partition >= 0) continue;
        rc = (first ? 0 : qk_buf_adds(q, ", ")) || qk_delta_add_ident(q, w->cols[j].name);
        first = false;
    }
    if (!rc) rc = qk_buf_adds(q, " FROM " DATA) || qk_buf_adds(q, qk_buf_cstr(&g->filter));
    if (!rc && split)
        rc = qk_buf_printf(q, " ORDER BY rowid LIMIT %llu OFFSET %llu", (unsigned long long)limit,
                           (unsigned long long)offset);
    if (!rc) rc = qk_buf_adds(q, ") TO ") || qk_sql_add_literal(q, path);
    return rc ? rc : qk_buf_adds(q, " (FORMAT parquet)");
}

/* Write one file of group g: rows [offset, offset + limit) of it. */
static int write_file(wstate *w, const group *g, uint64_t offset, uint64_t limit, qk_err *err)
{
    qk_delta_added a;
    qk_buf q, stats, rel;
    char path[1200], uuid[37];
    struct stat st;
    int rc;
    memset(&a, 0, sizeof a);
    qk_buf_init(&q, SQL_MAX);
    qk_buf_init(&stats, (size_t)64 << 20);
    qk_buf_init(&rel, QK_STORE_KEY_MAX * 4);
    snprintf(path, sizeof path, "%s/%zu.parquet", w->tmp, w->nfiles);
    rc = copy_sql(w, g, offset, limit, g->rows > limit, path, &q) ? too_long(err) : 0;
    if (!rc && (rc = run(w, qk_buf_cstr(&q), err))) qk_err_prefix(err, "writing %s", path);
    if (!rc) rc = qk_delta_file_stats(w->con, path, w->cols, w->ncols, &stats, &a.rows, err);
    if (!rc && a.rows != limit)
        rc = qk_errf(err, QK_EINTERNAL, "a data file has %llu rows, %llu expected",
                     (unsigned long long)a.rows, (unsigned long long)limit);
    if (!rc && stat(path, &st)) rc = qk_errf(err, QK_EIO, "stat %s: %s", path, strerror(errno));
    qk_uuid4(uuid);
    if (!rc && (qk_buf_adds(&rel, qk_buf_cstr(&g->dir)) ||
                qk_buf_printf(&rel, "part-%05zu-%s.parquet", w->nfiles, uuid)))
        rc = qk_errf(err, QK_ETOOBIG, "a data file name is too long");
    if (!rc) {
        a.size = (uint64_t)st.st_size;
        a.key = qk_arena_printf(&w->arena, "%s%s", w->table, qk_buf_cstr(&rel));
        qk_buf_truncate(&q, 0);
        a.path =
            qk_delta_uri_encode(&q, qk_buf_cstr(&rel)) ? NULL : qk_arena_strdup(&w->arena, q.data);
        a.stats = qk_arena_strdup(&w->arena, qk_buf_cstr(&stats));
        a.pv = json_incref(g->pv);
        char *tmp = qk_arena_strdup(&w->arena, path);
        rc = a.key && a.path && a.stats && tmp ? add_file(w, &a, tmp, err)
                                               : qk_errf(err, QK_ENOMEM, "out of memory");
        if (rc) json_decref(a.pv);
    }
    qk_buf_free(&rel);
    qk_buf_free(&stats);
    qk_buf_free(&q);
    return rc;
}

static int write_group(wstate *w, const group *g, uint64_t *done, qk_err *err)
{
    uint64_t max = w->o.max_rows_per_file;
    int rc = 0;
    for (uint64_t off = 0; !rc && off < g->rows; off += max) {
        uint64_t n = g->rows - off < max ? g->rows - off : max;
        rc = write_file(w, g, off, n, err);
        *done += n;
        progress(w, "writing", *done, w->rows);
    }
    return rc;
}

static int write_groups(wstate *w, const qk_delta_rows *r, qk_err *err)
{
    uint64_t done = 0;
    int rc = 0;
    for (size_t row = 0; !rc && row < r->nrows; row++) {
        group g;
        int64_t n = 0;
        qk_buf_init(&g.filter, SQL_MAX);
        qk_buf_init(&g.dir, QK_STORE_KEY_MAX);
        g.pv = json_object();
        rc = g.pv ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < w->nparts; k++)
            rc = group_column(w, r, row, k, &g, err);
        if (!rc)
            rc =
                qk_parse_int64(qk_delta_cell(r, row, 2 * w->nparts), 0, INT64_MAX, &n, "rows", err);
        g.rows = (uint64_t)n;
        if (!rc) rc = write_group(w, &g, &done, err);
        json_decref(g.pv);
        qk_buf_free(&g.dir);
        qk_buf_free(&g.filter);
    }
    if (!rc && done != w->rows)
        rc = qk_errf(err, QK_EINTERNAL, "the partitions hold %llu rows, the data %llu",
                     (unsigned long long)done, (unsigned long long)w->rows);
    return rc;
}

static int write_data(wstate *w, qk_err *err)
{
    qk_buf q;
    qk_delta_rows r;
    int rc;
    if (w->nparts == 0) {
        qk_delta_rows one;
        char count[24], *cells[1] = {count};
        size_t lens[1];
        memset(&one, 0, sizeof one);
        snprintf(count, sizeof count, "%llu", (unsigned long long)w->rows);
        lens[0] = strlen(count);
        one.cells = cells;
        one.lens = lens;
        one.ncols = 1;
        one.nrows = w->rows ? 1 : 0;
        return write_groups(w, &one, err);
    }
    qk_buf_init(&q, SQL_MAX);
    rc = group_sql(w, &q) ? too_long(err) : 0;
    if (!rc) rc = qk_delta_sql_rows(w->con, qk_buf_cstr(&q), GROUPS_MAX, &r, err);
    qk_buf_free(&q);
    if (rc) return rc;
    rc = write_groups(w, &r, err);
    qk_delta_rows_free(&r);
    return rc;
}

static int upload(wstate *w, qk_err *err)
{
    uint64_t total = 0, done = 0;
    int rc = 0;
    for (size_t i = 0; i < w->nfiles; i++)
        total += w->files[i].size;
    progress(w, "uploading", 0, total);
    for (size_t i = 0; !rc && i < w->nfiles; i++) {
        qk_delta_added *a = &w->files[i];
        if ((rc = qk_store_put_file(w->s, a->key, w->tmp_paths[i], err))) break;
        w->nuploaded = i + 1;
        a->mtime_ms = qk_epoch_ms();
        unlink(w->tmp_paths[i]);
        done += a->size;
        progress(w, "uploading", done, total);
    }
    w->bytes = done;
    return rc;
}

/* Delete the files uploaded by a write that did not commit (best effort). */
static void delete_uploaded(wstate *w)
{
    const char *keys[QK_STORE_DELETE_MANY_MAX];
    qk_err e2 = {0};
    for (size_t i = 0; i < w->nuploaded;) {
        size_t n = 0;
        while (i < w->nuploaded && n < QK_STORE_DELETE_MANY_MAX)
            keys[n++] = w->files[i++].key;
        if (qk_store_delete_many(w->s, keys, n, &e2))
            qk_log(QK_LOG_WARN, "delta_write_cleanup", "\"error\":\"%s\"", e2.msg);
    }
    w->nuploaded = 0;
}

/* ---- the commit and the checkpoint -------------------------------------------------------- */

static int commit(wstate *w, qk_err *err)
{
    qk_delta_commit_plan p = {.table = w->table,
                              .o = &w->o,
                              .snap = w->snap,
                              .protocol = w->protocol,
                              .metadata = w->metadata,
                              .adds = w->files,
                              .nadds = w->nfiles,
                              .rows = w->rows,
                              .bytes = w->bytes,
                              .txn_id = w->txn_id,
                              .parts = w->parts,
                              .nparts = w->nparts};
    bool unknown = false;
    int rc;
    progress(w, "committing", 0, 0);
    rc = qk_delta_commit_put(w->s, &p, w->res, &unknown, err);
    if (rc && unknown) w->nuploaded = 0; /* the files may be referenced: keep them */
    if (!rc && w->res->skipped) delete_uploaded(w);
    return rc;
}

static int interval_of(const wstate *w)
{
    const char *v = json_string_value(json_object_get(w->config, "delta.checkpointInterval"));
    int64_t n;
    if (w->o.checkpoint_interval) return w->o.checkpoint_interval;
    if (v && !qk_parse_int64(v, 1, INT32_MAX, &n, "delta.checkpointInterval", NULL)) return (int)n;
    return 10;
}

static void checkpoint(wstate *w)
{
    int interval = interval_of(w);
    int64_t v = w->res->version;
    qk_err cerr = {0};
    if (interval <= 0 || v <= 0 || v % interval) return;
    progress(w, "checkpointing", 0, 0);
    if (qk_delta_checkpoint_write(w->e, w->s, w->table, v, NULL, &cerr) == 0)
        w->res->checkpointed = true;
    else
        snprintf(w->res->warning, sizeof w->res->warning,
                 "the write committed version %lld but its checkpoint failed: %s", (long long)v,
                 cerr.msg);
}

/* ---- qk_delta_write ----------------------------------------------------------------------- */

static int start(wstate *w, qk_err *err)
{
    char uuid[37];
    qk_uuid4(uuid);
    qk_uuid4(w->txn_id);
    snprintf(w->tmp, sizeof w->tmp, "%s/delta-write-%s", qk_engine_temp_dir(w->e), uuid);
    if (duckdb_connect(qk_engine_db(w->e), &w->con) == DuckDBError) {
        w->con = NULL;
        return qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
    }
    return qk_mkdirs(w->tmp, err);
}

static int check_args(const char *sql, const qk_delta_write_opts *o, qk_delta_write_result *out,
                      qk_err *err)
{
    if (!sql || !o || !out) return qk_errf(err, QK_EINVAL, "missing argument");
    if (o->mode < QK_DELTA_CREATE || o->mode > QK_DELTA_OVERWRITE)
        return qk_errf(err, QK_EINVAL, "unknown write mode %d", o->mode);
    if (o->npartition_by && !o->partition_by)
        return qk_errf(err, QK_EINVAL, "partition columns missing");
    return o->configuration ? check_config(o->configuration, err) : 0;
}

/* Everything from the snapshot to the commit. */
static int write_table(wstate *w, const char *source_sql, qk_err *err)
{
    bool skip = false;
    int rc = trim_source(w, source_sql, err);
    if (!rc) rc = start(w, err);
    if (!rc) rc = load_existing(w, err);
    if (!rc) rc = check_table(w, &skip, err);
    if (rc || skip) return rc;
    if ((rc = describe_source(w, err)) || (rc = plan_schema(w, err))) return rc;
    if ((rc = materialize(w, err))) return rc;
    if ((rc = check_fields(w, json_object_get(w->schema, "fields"), "", 0, err))) return rc;
    if ((rc = write_data(w, err))) return rc;
    qk_delta_crash_point("before-data");
    if ((rc = upload(w, err))) return rc;
    qk_delta_crash_point("after-data");
    if ((rc = commit(w, err))) return rc;
    w->res->created = !w->snap && !w->res->skipped;
    if (!w->res->skipped) {
        w->res->rows = w->rows;
        w->res->files_added = w->nfiles;
        w->res->bytes = w->bytes;
        qk_delta_crash_point("after-commit");
        checkpoint(w);
    }
    return 0;
}

static void finish(wstate *w)
{
    for (size_t i = 0; i < w->nfiles; i++)
        json_decref(w->files[i].pv);
    free(w->files);
    free(w->tmp_paths);
    if (w->con) duckdb_disconnect(&w->con);
    if (*w->tmp) qk_rmtree(w->tmp, false, NULL);
    free_source(w);
    json_decref(w->schema);
    json_decref(w->protocol);
    json_decref(w->metadata);
    json_decref(w->config);
    qk_delta_snapshot_destroy(w->snap);
    qk_arena_free(&w->arena);
}

int qk_delta_write(qk_engine *e, qk_store *s, const char *table_prefix, const char *source_sql,
                   const qk_delta_write_opts *o, qk_delta_write_result *out, qk_err *err)
{
    wstate w;
    int rc;
    memset(&w, 0, sizeof w);
    if (out) memset(out, 0, sizeof *out);
    if ((rc = check_args(source_sql, o, out, err))) return rc;
    w.e = e;
    w.s = s;
    w.o = *o;
    w.res = out;
    if (!w.o.max_rows_per_file) w.o.max_rows_per_file = ROWS_PER_FILE;
    qk_arena_init(&w.arena, 0);
    if (!(rc = set_prefix(&w, table_prefix, err))) rc = write_table(&w, source_sql, err);
    if (rc) {
        delete_uploaded(&w);
        qk_err_prefix(err, "table %s", w.display);
    }
    finish(&w);
    return rc;
}
