/* SPDX-License-Identifier: MIT */
/*
 * checkpoint_write.c: writing a classic checkpoint (PROTOCOL.md "Checkpoints", "Checkpoint
 * Schema", "Last Checkpoint File Schema").
 *
 * The snapshot at the version is loaded (the reader's replay), its state becomes one JSON line
 * per action in a temp file (one protocol, one metaData, a txn per appId, an add per active
 * file), and DuckDB turns that into Parquet with the spec's schema:
 *   COPY (SELECT * FROM read_json('<temp>/checkpoint.json', columns = {txn, add, remove,
 *         metaData, protocol})) TO '<temp>/checkpoint.parquet' (FORMAT parquet)
 * where add.partitionValues, add.tags, metaData.format.options and metaData.configuration are
 * MAP(VARCHAR, VARCHAR), add.stats the stats JSON as text, partitionColumns and the feature
 * lists VARCHAR[] (features NULL below reader 3 / writer 7), and remove is present but always
 * NULL (the snapshot keeps no tombstones). The file is put as %020d.checkpoint.parquet with
 * put-if-absent (one that exists is the same state: fine), then _last_checkpoint is replaced
 * unless it already names a newer checkpoint. Tables whose writer features keep state a
 * checkpoint of ours would lose (domainMetadata, rowTracking, ...) are refused.
 */
#include "delta/delta_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SQL_MAX (1u << 16)
#define IN_MEMORY_MAX ((size_t)256 << 20) /* larger checkpoints are put from the file */

static const char columns[] =
    "{'txn': 'STRUCT(appId VARCHAR, version BIGINT, lastUpdated BIGINT)', "
    "'add': 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, "
    "modificationTime BIGINT, dataChange BOOLEAN, stats VARCHAR, tags MAP(VARCHAR, VARCHAR))', "
    "'remove': 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, "
    "extendedFileMetadata BOOLEAN, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT)', "
    "'metaData': 'STRUCT(id VARCHAR, name VARCHAR, description VARCHAR, format STRUCT(provider "
    "VARCHAR, options MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], "
    "configuration MAP(VARCHAR, VARCHAR), createdTime BIGINT)', "
    "'protocol': 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures "
    "VARCHAR[], writerFeatures VARCHAR[])'}";

/* Writer features whose whole state is in protocol, metaData, txn and add. */
static const char *const kept_features[] = {
    "appendOnly",       "invariants",          "checkConstraints",
    "generatedColumns", "changeDataFeed",      "identityColumns",
    "timestampNtz",     "vacuumProtocolCheck", "allowColumnDefaults",
};

static int check_features(const qk_delta_protocol *p, qk_err *err)
{
    for (size_t i = 0; i < p->nwriter_features; i++) {
        size_t k = 0;
        while (k < sizeof kept_features / sizeof *kept_features &&
               strcmp(kept_features[k], p->writer_features[i]))
            k++;
        if (k == sizeof kept_features / sizeof *kept_features)
            return qk_errf(err, QK_EUNSUPPORTED,
                           "the table has writer feature %s, whose state a quack checkpoint "
                           "would not keep",
                           p->writer_features[i]);
    }
    return 0;
}

/* ---- the rows ----------------------------------------------------------------------------- */

static json_t *strings(const char *const *v, size_t n, bool present)
{
    json_t *a;
    if (!present) return json_null();
    a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *protocol_row(const qk_delta_protocol *p)
{
    return json_pack("{s:{s:i, s:i, s:o, s:o}}", "protocol", "minReaderVersion",
                     p->min_reader_version, "minWriterVersion", p->min_writer_version,
                     "readerFeatures",
                     strings(p->reader_features, p->nreader_features, p->min_reader_version >= 3),
                     "writerFeatures",
                     strings(p->writer_features, p->nwriter_features, p->min_writer_version >= 7));
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *metadata_row(const qk_delta_metadata *m)
{
    return json_pack("{s:{s:s, s:o, s:o, s:{s:s, s:{}}, s:s, s:o, s:O, s:o}}", "metaData", "id",
                     m->id ? m->id : "", "name", opt_string(m->name), "description",
                     opt_string(m->description), "format", "provider", "parquet", "options",
                     "schemaString", m->schema_string, "partitionColumns",
                     strings(m->partition_columns, m->npartition_columns, true), "configuration",
                     m->configuration, "createdTime",
                     m->created_time >= 0 ? json_integer(m->created_time) : json_null());
}

static json_t *txn_row(const qk_delta_txn *t)
{
    return json_pack("{s:{s:s, s:I, s:o}}", "txn", "appId", t->app_id, "version",
                     (json_int_t)t->version, "lastUpdated",
                     t->last_updated >= 0 ? json_integer(t->last_updated) : json_null());
}

static json_t *add_row(const qk_delta_snapshot *snap, const qk_delta_file *f, qk_buf *path)
{
    json_t *pv = json_object();
    for (size_t i = 0; pv && i < snap->metadata.npartition_columns; i++)
        json_object_set_new(pv, snap->metadata.partition_columns[i],
                            opt_string(f->partition_values[i]));
    qk_buf_truncate(path, 0);
    if (!pv || qk_delta_uri_encode(path, f->path)) {
        json_decref(pv);
        return NULL;
    }
    return json_pack("{s:{s:s, s:o, s:I, s:I, s:b, s:o}}", "add", "path", qk_buf_cstr(path),
                     "partitionValues", pv, "size", (json_int_t)f->size, "modificationTime",
                     (json_int_t)f->modification_time, "dataChange", 0, "stats",
                     opt_string(f->stats));
}

static int put_row(FILE *fp, json_t *row, uint64_t *n, qk_err *err)
{
    int rc;
    if (!row) return qk_errf(err, QK_ENOMEM, "out of memory (checkpoint row)");
    rc = json_dumpf(row, fp, JSON_COMPACT) || fputc('\n', fp) == EOF;
    json_decref(row);
    (*n)++;
    return rc ? qk_errf(err, QK_EIO, "writing checkpoint rows: %s", strerror(errno)) : 0;
}

/* The state of snap, one JSON action per line, into path. */
static int write_rows(const qk_delta_snapshot *snap, const char *path, uint64_t *n, qk_err *err)
{
    FILE *fp = fopen(path, "w");
    qk_buf pb;
    int rc;
    *n = 0;
    if (!fp) return qk_errf(err, QK_EIO, "cannot create %s: %s", path, strerror(errno));
    qk_buf_init(&pb, QK_STORE_KEY_MAX * 4);
    rc = put_row(fp, protocol_row(&snap->protocol), n, err);
    if (!rc) rc = put_row(fp, metadata_row(&snap->metadata), n, err);
    for (size_t i = 0; !rc && i < snap->ntxns; i++)
        rc = put_row(fp, txn_row(&snap->txns[i]), n, err);
    for (size_t i = 0; !rc && i < snap->nfiles; i++)
        rc = put_row(fp, add_row(snap, &snap->files[i], &pb), n, err);
    if (fclose(fp) && !rc) rc = qk_errf(err, QK_EIO, "writing %s: %s", path, strerror(errno));
    qk_buf_free(&pb);
    return rc;
}

/* JSON lines -> Parquet with the checkpoint schema. */
static int to_parquet(qk_engine *e, const char *json_path, const char *pq_path, qk_err *err)
{
    duckdb_connection con;
    qk_buf q;
    int rc;
    qk_buf_init(&q, SQL_MAX);
    rc = qk_buf_adds(&q, "COPY (SELECT txn, add, remove, metaData, protocol FROM read_json(") ||
         qk_sql_add_literal(&q, json_path) ||
         qk_buf_printf(&q,
                       ", format = 'newline_delimited', maximum_object_size = %zu, columns = %s)) "
                       "TO ",
                       (size_t)QK_DELTA_COMMIT_MAX, columns) ||
         qk_sql_add_literal(&q, pq_path) || qk_buf_adds(&q, " (FORMAT parquet)");
    if (rc) {
        qk_buf_free(&q);
        return qk_errf(err, QK_ETOOBIG, "checkpoint query too long");
    }
    if (duckdb_connect(qk_engine_db(e), &con) == DuckDBError) {
        qk_buf_free(&q);
        return qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
    }
    rc = qk_engine_con_exec(con, qk_buf_cstr(&q), err);
    duckdb_disconnect(&con);
    qk_buf_free(&q);
    return rc;
}

/* ---- putting it ----------------------------------------------------------------------------- */

/* Put the file once: an existing checkpoint of the version holds the same state. */
static int put_checkpoint(qk_store *s, const char *key, const char *path, size_t size, qk_err *err)
{
    char *data = NULL;
    size_t len = 0;
    qk_obj_info info;
    int rc;
    if (size > IN_MEMORY_MAX) {
        rc = qk_store_head(s, key, &info, err);
        if (rc != QK_ENOTFOUND) return rc;
        qk_err_clear(err);
        return qk_store_put_file(s, key, path, err);
    }
    if ((rc = qk_read_file(path, IN_MEMORY_MAX + 1, &data, &len, err))) return rc;
    rc = qk_store_put_if_absent(s, key, data, len, err);
    free(data);
    if (rc == QK_EEXIST) {
        qk_err_clear(err);
        rc = 0;
    }
    return rc;
}

/* Replace _last_checkpoint unless it names a newer checkpoint. */
static int put_last(qk_store *s, const char *log, int64_t v, uint64_t rows, uint64_t bytes,
                    size_t adds, qk_err *err)
{
    char key[QK_STORE_KEY_MAX + 32], body[256];
    qk_buf old;
    qk_err e2 = {0};
    json_t *j;
    int n;
    snprintf(key, sizeof key, "%s_last_checkpoint", log);
    qk_buf_init(&old, 1u << 20);
    if (!qk_store_get(s, key, 0, QK_STORE_TO_END, &old, NULL, &e2) &&
        (j = json_loadb(old.data ? old.data : "", old.len, 0, NULL))) {
        json_int_t have = json_integer_value(json_object_get(j, "version"));
        json_decref(j);
        if (have > v) {
            qk_buf_free(&old);
            return 0;
        }
    }
    qk_buf_free(&old);
    n = snprintf(body, sizeof body,
                 "{\"version\":%lld,\"size\":%llu,\"sizeInBytes\":%llu,\"numOfAddFiles\":%zu}",
                 (long long)v, (unsigned long long)rows, (unsigned long long)bytes, adds);
    return qk_store_put(s, key, body, (size_t)n, err);
}

int qk_delta_checkpoint_write(qk_engine *e, qk_store *s, const char *table_prefix, int64_t version,
                              uint64_t *rows, qk_err *err)
{
    qk_delta_at at = {QK_DELTA_AT_VERSION, version, 0};
    qk_delta_snapshot *snap = NULL;
    char dir[1024], jpath[1100], ppath[1100], log[QK_STORE_KEY_MAX + 16],
        key[QK_STORE_KEY_MAX + 64];
    char uuid[37];
    size_t tl = table_prefix ? strlen(table_prefix) : 0;
    uint64_t n = 0;
    struct stat st;
    int rc;
    qk_uuid4(uuid);
    snprintf(dir, sizeof dir, "%s/delta-checkpoint-%s", qk_engine_temp_dir(e), uuid);
    snprintf(jpath, sizeof jpath, "%s/checkpoint.json", dir);
    snprintf(ppath, sizeof ppath, "%s/checkpoint.parquet", dir);
    snprintf(log, sizeof log, "%s%s_delta_log/", tl ? table_prefix : "",
             tl && table_prefix[tl - 1] != '/' ? "/" : "");
    snprintf(key, sizeof key, "%s%020lld.checkpoint.parquet", log, (long long)version);
    if ((rc = qk_delta_snapshot_load(e, s, table_prefix, &at, &snap, err))) goto out;
    if ((rc = check_features(&snap->protocol, err)) || (rc = qk_mkdirs(dir, err))) goto out;
    if ((rc = write_rows(snap, jpath, &n, err)) || (rc = to_parquet(e, jpath, ppath, err)))
        goto out;
    if (stat(ppath, &st)) {
        rc = qk_errf(err, QK_EIO, "stat %s: %s", ppath, strerror(errno));
        goto out;
    }
    if ((rc = put_checkpoint(s, key, ppath, (size_t)st.st_size, err))) goto out;
    rc = put_last(s, log, version, n, (uint64_t)st.st_size, snap->nfiles, err);
    if (!rc && rows) *rows = n;
out:
    if (rc) qk_err_prefix(err, "checkpoint of version %lld", (long long)version);
    qk_rmtree(dir, false, NULL);
    qk_delta_snapshot_destroy(snap);
    return rc;
}
