/* SPDX-License-Identifier: MIT */
/*
 * delta_int.h: what the files of src/delta share and nothing else sees.
 *
 *   log.c        lists _delta_log, picks the checkpoint and the commits for a version or a
 *                timestamp, and drives the load (qk_delta_snapshot_load)
 *   checkpoint.c reads checkpoint Parquet with DuckDB into replay actions
 *   replay.c     applies actions in order (reconciliation) and builds the snapshot's arrays
 *   schema.c     Spark schema -> DuckDB types, the protocol and feature checks
 *   scan.c       the SELECT that reads a snapshot's rows
 */
#ifndef QK_DELTA_INT_H
#define QK_DELTA_INT_H

#include "delta/delta.h"

#define QK_DELTA_MEM_MAX ((size_t)4 << 30)      /* a snapshot's arena */
#define QK_DELTA_COMMIT_MAX ((size_t)256 << 20) /* one JSON commit file */
#define QK_DELTA_FILES_MAX ((size_t)100000000)  /* adds tracked during a replay */

typedef struct qk_delta_replay qk_delta_replay;

/* A replay that fills snap (its arena and owned array must be initialized). */
int qk_delta_replay_new(qk_delta_snapshot *snap, qk_delta_replay **out, qk_err *err);
void qk_delta_replay_destroy(qk_delta_replay *r);
/* Apply one action object (a line of a commit, or a checkpoint row). where names it in
 * errors ("<key>:<line>"). from_checkpoint: removes are tombstones and skipped. */
int qk_delta_replay_action(qk_delta_replay *r, json_t *action, bool from_checkpoint,
                           const char *where, qk_err *err);
/* Apply a whole commit file (newline-delimited actions). *ict is set to its commitInfo's
 * inCommitTimestamp, or -1. */
int qk_delta_replay_commit(qk_delta_replay *r, const char *key, const char *data, size_t len,
                           int64_t *ict, qk_err *err);
/* Find a commit's inCommitTimestamp without applying it (-1 when it has none). */
int qk_delta_commit_ict(const char *key, const char *data, size_t len, int64_t *ict, qk_err *err);
/* Check the protocol and the metadata, and fill snap's protocol, metadata, files and txns. */
int qk_delta_replay_finish(qk_delta_replay *r, qk_err *err);

/* Read the checkpoint parts (store keys) and apply their rows to r. */
int qk_delta_checkpoint_read(qk_engine *e, qk_store *s, const char *const *keys, size_t n,
                             qk_delta_replay *r, qk_err *err);

/* QK_EUNSUPPORTED naming the first reader feature (or version, or column mapping mode) this
 * reader cannot honour. configuration may be NULL. */
int qk_delta_protocol_check(const qk_delta_protocol *p, json_t *configuration, qk_err *err);
/* Parse snap->metadata.schema_string into snap->metadata.columns (arena memory), marking the
 * partition columns. */
int qk_delta_columns_parse(qk_delta_snapshot *snap, qk_err *err);
/* Append "name" as a double-quoted SQL identifier. */
int qk_delta_add_ident(qk_buf *b, const char *name);
/* Does a timestamp's text carry a zone (Z, +hh, -hh after the date)? (scan.c) */
bool qk_delta_ts_has_zone(const char *v);
/* Append a partition value of column c as the SQL literal the scan casts to c's type: NULL, or
 * the text, a TIMESTAMP WITH TIME ZONE value without a zone taken as UTC (scan.c; skip.c
 * types partition values the same way). */
int qk_delta_add_partition_literal(qk_buf *b, const qk_delta_column *c, const char *v);

/* ---- shared by the log readers (log.c, replay.c, history.c, vacuum.c) -------------------- */

/* n decimal digits at s as a number (at most INT64_MAX); -1 when they are not (log.c). */
int qk_delta_digits(const char *s, size_t n, int64_t *out);
/* o[name] when it is an integer, else dflt (replay.c). */
int64_t qk_delta_json_int(json_t *o, const char *name, int64_t dflt);
/* An add/remove path: %XX escapes decoded exactly once (a '%' without two hex digits stays;
 * %00 is QK_EPARSE naming where), into arena memory (replay.c). */
int qk_delta_path_decode(const char *in, qk_arena *a, const char **out, const char *where,
                         qk_err *err);
/* Is a raw add path an absolute URI (a scheme such as "s3:", or a leading '/')? */
bool qk_delta_path_absolute(const char *raw);
/* Call fn for every non-blank line of a commit file, parsed (where = "<key>:<line>"); a line
 * that is not JSON is QK_EPARSE "<key>:<line>: corrupt JSON action"; stops at the first error
 * (replay.c). */
typedef int (*qk_delta_line_fn)(void *ud, json_t *action, const char *where, qk_err *err);
int qk_delta_each_line(const char *key, const char *data, size_t len, qk_delta_line_fn fn, void *ud,
                       qk_err *err);

/* ---- writing (stats.c, write.c, commit.c, checkpoint_write.c) ------------------------------ *
 *
 *   stats.c            types DuckDB -> Spark, per-file stats, partition values, path escaping
 *   write.c            qk_delta_write: the source, the schema, the data files, the upload
 *   commit.c           the commit file and put-if-absent with rebase on conflict
 *   checkpoint_write.c qk_delta_checkpoint_write
 */

/* What a column's values are, for stats and partition values. */
enum {
    QK_DELTA_K_BOOL,
    QK_DELTA_K_INT,
    QK_DELTA_K_FLOAT,
    QK_DELTA_K_DOUBLE,
    QK_DELTA_K_DECIMAL,
    QK_DELTA_K_STRING,
    QK_DELTA_K_BINARY,
    QK_DELTA_K_DATE,
    QK_DELTA_K_TIMESTAMP, /* TIMESTAMP WITH TIME ZONE ("timestamp") */
    QK_DELTA_K_NTZ,       /* TIMESTAMP ("timestamp_ntz", only in tables others wrote) */
    QK_DELTA_K_NESTED,    /* arrays and maps */
    QK_DELTA_K_STRUCT,
};

/* A column of the table being written. */
typedef struct qk_delta_wcol {
    const char *name; /* as the table spells it */
    const char *type; /* the DuckDB type the data files hold (the reader's type) */
    int kind;         /* QK_DELTA_K_* */
    int partition;    /* index into the partition columns, -1 for a data column */
} qk_delta_wcol;

/* The rows of a query whose columns are all VARCHAR, as text (NULL for SQL NULL; lens[] holds
 * the byte lengths, so a value holding NUL shows as strlen(cell) != len). */
typedef struct qk_delta_rows {
    size_t nrows, ncols, cap;
    char **cells; /* nrows * ncols, row-major */
    size_t *lens;
    qk_arena arena;
} qk_delta_rows;

/* Run sql on con; more than max_rows rows is QK_ETOOBIG. *out is freed with qk_delta_rows_free
 * (on error it is already empty). */
int qk_delta_sql_rows(duckdb_connection con, const char *sql, size_t max_rows, qk_delta_rows *out,
                      qk_err *err);
const char *qk_delta_cell(const qk_delta_rows *r, size_t row, size_t col);
void qk_delta_rows_free(qk_delta_rows *r);

/* The QK_DELTA_K_* of a DuckDB type as the reader names it ("BIGINT", "DECIMAL(10,2)"). */
int qk_delta_kind_of(const char *duckdb_type);
/* The Spark type (a new JSON string or object) of a column of DuckDB type t; QK_EUNSUPPORTED
 * naming column for types Delta cannot hold. */
int qk_delta_spark_of(duckdb_logical_type t, const char *column, json_t **out, qk_err *err);
/* TIMESTAMP, TIMESTAMP_S/_MS/_NS: stored as "timestamp", the value taken as UTC. */
bool qk_delta_naive_timestamp(duckdb_type id);
/* us since 1970 as "YYYY-MM-DDTHH:MM:SS.mmmZ" (ms_only, floored) or ".ffffffZ"; -1 outside
 * years 1..9999. */
int qk_delta_ts_text(int64_t us, bool ms_only, char *out, size_t cap);
/* Is s exactly "YYYY-MM-DD"? */
bool qk_delta_date_ok(const char *s);
/* Append the stats JSON of the Parquet file at path (cols: the table's columns; partition and
 * structs get none, arrays and maps a nullCount) to out; *rows is its numRecords. One DuckDB query
 * on con. */
int qk_delta_file_stats(duckdb_connection con, const char *path, const qk_delta_wcol *cols,
                        size_t n, qk_buf *out, uint64_t *rows, qk_err *err);
/* Append n bytes of s escaped for a partition directory name like Hive/Spark (%XX). */
int qk_delta_hive_escape(qk_buf *b, const char *s, size_t n);
/* Append a relative path as an RFC 2396 URI (add.path): it decodes once to path. */
int qk_delta_uri_encode(qk_buf *b, const char *path);

/* A data file written and uploaded, waiting for its add action. */
typedef struct qk_delta_added {
    char *key;        /* store key */
    char *path;       /* add.path (URI-encoded, relative to the table root) */
    json_t *pv;       /* partitionValues: an object of strings and nulls (owned) */
    char *stats;      /* stats JSON */
    uint64_t size;    /* bytes */
    uint64_t rows;    /* numRecords */
    int64_t mtime_ms; /* modificationTime */
} qk_delta_added;

/* What one write commits. */
typedef struct qk_delta_commit_plan {
    const char *table; /* the table's key prefix: "" or ending in '/' */
    const qk_delta_write_opts *o;
    const qk_delta_snapshot *snap; /* NULL: the table is new (version 0) */
    json_t *protocol;              /* the protocol action's value, NULL: unchanged */
    json_t *metadata;              /* the metaData action's value, NULL: unchanged */
    const qk_delta_added *adds;
    size_t nadds;
    uint64_t rows, bytes;
    const char *txn_id;       /* commitInfo.txnId */
    const char *const *parts; /* the partition columns after the write */
    size_t nparts;
} qk_delta_commit_plan;

/* Put the commit of p at the version after p->snap's: commitInfo, [protocol], [metaData],
 * [txn], removes (an overwrite: every file of p->snap), adds. When another writer took the
 * version, a blind append rebases (a winner's txn for its app_id at >= its version: skipped,
 * nothing committed) and tries the next one, up to o->max_attempts; anything else is
 * QK_ECONFLICT (a create: QK_EEXIST). Sets res->version, attempts, skipped, files_removed.
 * *unknown is set when the outcome could not be learned (the put failed and reading the
 * version back failed too): the caller must then keep its data files. */
int qk_delta_commit_put(qk_store *s, const qk_delta_commit_plan *p, qk_delta_write_result *res,
                        bool *unknown, qk_err *err);

/* The test hook of the writer: raise(SIGKILL) when QUACK_TEST_CRASH equals point
 * ("before-data", "after-data", "before-commit", "after-commit"). */
void qk_delta_crash_point(const char *point);

#ifdef QK_TESTING
/* Test seam (commit.c): called before each commit attempt with the key about to be put. */
extern void (*qk_delta_test_before_commit)(void *ud, const char *key, int64_t version);
extern void *qk_delta_test_before_commit_ud;
#endif

#endif
