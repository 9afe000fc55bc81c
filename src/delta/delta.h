/* SPDX-License-Identifier: MIT */
/*
 * delta.h: reading Delta Lake tables (DESIGN.md section 6; docs/internals/delta.md).
 *
 * A Delta table is a folder of Parquet data files plus a log, <table>/_delta_log/:
 *   %020d.json                           commit v: one JSON action per line
 *   %020d.checkpoint.parquet             the whole state at v (classic checkpoint)
 *   %020d.checkpoint.%010d.%010d.parquet part i of n of a multi-part checkpoint at v
 *   _last_checkpoint                     a hint naming the newest checkpoint (may be stale)
 * Anything else (.crc files, .tmp/, _commits/, UUID-named v2 checkpoints, log compactions) is
 * ignored. Versions are contiguous: the snapshot at v is the newest complete checkpoint c <= v
 * (all n parts present) followed by commits c+1..v, or commits 0..v when there is none.
 *
 * Reconciliation (PROTOCOL.md "Action Reconciliation"), applied in version order, later wins:
 * the newest protocol and metaData; add/remove keyed by (decoded path, deletion vector id), a
 * remove making the file inactive; txn per appId; commitInfo, cdc, domainMetadata and unknown
 * actions or fields are ignored. Removes in a checkpoint are tombstones and are skipped.
 *
 * Refused (QK_EUNSUPPORTED, the message names the feature): minReaderVersion > 3, reader
 * version 2 (column mapping), reader features other than timestampNtz and
 * vacuumProtocolCheck, a delta.columnMapping.mode other than "none", and variant/void types.
 * Partition values come from the log, never from paths ("" and null are NULL), typed per
 * the schema. The reader reads with protocol semantics of reader version 1.
 *
 * Thread safety: a snapshot is immutable after load and may be read from several threads.
 */
#ifndef QK_DELTA_H
#define QK_DELTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "engine/engine.h"
#include "store/store.h"

/* Which snapshot to load. */
enum { QK_DELTA_AT_LATEST = 0, QK_DELTA_AT_VERSION = 1, QK_DELTA_AT_TIMESTAMP = 2 };

typedef struct qk_delta_at {
    int kind;             /* QK_DELTA_AT_* */
    int64_t version;      /* QK_DELTA_AT_VERSION: the version, >= 0 */
    int64_t timestamp_ms; /* QK_DELTA_AT_TIMESTAMP: the last version committed at or before */
} qk_delta_at;

typedef struct qk_delta_protocol {
    int min_reader_version;
    int min_writer_version;
    const char **reader_features; /* NULL when the protocol has none */
    size_t nreader_features;
    const char **writer_features;
    size_t nwriter_features;
} qk_delta_protocol;

/* A top-level column of the table schema, in schema order. */
typedef struct qk_delta_column {
    const char *name;
    const char *type;  /* DuckDB type, e.g. "DECIMAL(10,2)", "STRUCT(\"a\" INTEGER)[]" */
    const char *spark; /* the Spark type as compact JSON ("long", {"type":"array",...}) */
    bool nullable;
    int partition; /* index into partition_columns, or -1 for a data column */
} qk_delta_column;

typedef struct qk_delta_metadata {
    const char *id;
    const char *name;        /* NULL when absent */
    const char *description; /* NULL when absent */
    const char *schema_string;
    qk_delta_column *columns;
    size_t ncolumns;
    const char **partition_columns; /* names, in metaData.partitionColumns order */
    size_t npartition_columns;
    json_t *configuration; /* object of string values (borrowed from the snapshot); never NULL */
    int64_t created_time;  /* ms since 1970, -1 when absent */
} qk_delta_metadata;

/* An active data file. */
typedef struct qk_delta_file {
    const char *path; /* the add's path URI decoded exactly once: relative to the table root,
                         or an absolute URI when absolute is true */
    bool absolute;
    int64_t size;
    int64_t modification_time; /* ms since 1970 */
    bool data_change;
    const char **partition_values; /* one per partition column; NULL is a null partition */
    const char *stats;             /* the raw stats JSON, NULL when absent */
    int64_t num_records;           /* from stats, -1 when unknown */
    json_t *min_values;            /* from stats (borrowed), NULL when absent */
    json_t *max_values;
    json_t *null_count;
} qk_delta_file;

/* The latest txn action of an application (idempotent writers). */
typedef struct qk_delta_txn {
    const char *app_id;
    int64_t version;
    int64_t last_updated; /* ms since 1970, -1 when absent */
} qk_delta_txn;

typedef struct qk_delta_snapshot {
    int64_t version;
    int64_t timestamp_ms;       /* the commit's inCommitTimestamp, else its file's mtime */
    int64_t checkpoint_version; /* the checkpoint the replay started from, -1 for none */
    qk_delta_protocol protocol;
    qk_delta_metadata metadata;
    qk_delta_file *files; /* sorted by path */
    size_t nfiles;
    qk_delta_txn *txns; /* sorted by app_id */
    size_t ntxns;
    /* private: everything above lives in these */
    qk_arena arena;
    json_t *owned;
} qk_delta_snapshot;

/*
 * Load the snapshot of the table whose root is the key prefix table_prefix of s ("" or NULL:
 * the store root; "silver/trips" or "silver/trips/"). at NULL means latest. e provides the
 * DuckDB instance that reads checkpoint Parquet (and, for an S3 store, the temp directory the
 * checkpoint is fetched to). On success *out is the caller's, freed with
 * qk_delta_snapshot_destroy. Errors: QK_ENOTFOUND (no log, a version that does not exist or can
 * no longer be reconstructed, a timestamp before the first commit, a gap in the commits),
 * QK_EPARSE (a corrupt commit line: "<key>:<line>: ..."), QK_EUNSUPPORTED (a reader feature we
 * do not support, named), QK_ESQL/QK_EIO (a checkpoint DuckDB cannot read), QK_EIO (store).
 */
int qk_delta_snapshot_load(qk_engine *e, qk_store *s, const char *table_prefix,
                           const qk_delta_at *at, qk_delta_snapshot **out, qk_err *err);
/* Accepts NULL. */
void qk_delta_snapshot_destroy(qk_delta_snapshot *snap);

/*
 * Append to out a DuckDB SELECT returning exactly the snapshot's rows: the schema's columns in
 * order with their DuckDB types. table_uri is the table root as DuckDB should read it (an
 * absolute local directory or s3://bucket/prefix, no trailing '/'); relative file paths are
 * table_uri + "/" + path. Data columns come from one read_parquet over the explicit file list
 * (union_by_name, hive_partitioning off), unioned BY NAME with a typed empty row so a column
 * no file has reads as NULL, and cast to the schema type. Partition columns are typed constants
 * from the log, joined to the rows by file name through a VALUES list (one row per file), so
 * files of many partitions are still one scan. No files: a zero-row SELECT of typed NULLs.
 * keep (may be NULL: all files) selects the files to read, keep[i] for snap->files[i]; a
 * caller that skips files by stats or partition values passes its mask here.
 */
int qk_delta_scan_sql(const qk_delta_snapshot *snap, const char *table_uri, const bool *keep,
                      qk_buf *out, qk_err *err);

/* Append the DuckDB type for a Spark schema type (a JSON string such as "long" or
 * "decimal(10,2)", or an array/map/struct object) to duckdb_type. QK_EUNSUPPORTED for
 * variant, void and unknown names; QK_EPARSE for malformed types. */
int qk_delta_type_of(json_t *spark_type, qk_buf *duckdb_type, qk_err *err);

/*
 * Check that every active file of snap exists under the table (one listing of table_prefix,
 * not a request per file). known (may be NULL): a listing the caller already has (keys relative
 * to the store root, sorted, such as the catalog's lookup of the table); when it holds every
 * file nothing is listed. QK_ENOTFOUND names the first missing file: a data file removed by
 * VACUUM while an old version still references it. Run before a scan to fail cleanly instead
 * of mid-query.
 */
int qk_delta_check_files(qk_store *s, const char *table_prefix, const qk_delta_snapshot *snap,
                         const qk_obj_list *known, qk_err *err);

/* ---- writing (write.c, commit.c, checkpoint_write.c; writer protocol 2) ------------------ */

enum {
    QK_DELTA_CREATE = 0,    /* a new table: QK_EEXIST when version 0 exists */
    QK_DELTA_APPEND = 1,    /* add rows; creates the table when there is none */
    QK_DELTA_OVERWRITE = 2, /* replace every row (and the schema, when it differs); creates */
};

/* Progress of a write: stage is "reading", "writing", "uploading", "committing" or
 * "checkpointing"; done/total in rows ("reading", "writing") or bytes ("uploading"), total 0
 * when unknown. Called from the writing thread. */
typedef void (*qk_delta_progress_fn)(void *ud, const char *stage, uint64_t done, uint64_t total);

typedef struct qk_delta_write_opts {
    int mode;                        /* QK_DELTA_CREATE / _APPEND / _OVERWRITE */
    const char *const *partition_by; /* create: partition columns (NULL: none); overwrite:
                                        new ones, or NULL to keep the table's when the data
                                        still has them all (else none); append: NULL or the
                                        table's own */
    size_t npartition_by;
    const char *name;        /* create: metaData.name (NULL: none) */
    const char *description; /* create: metaData.description (NULL: none) */
    json_t *configuration;   /* create: table properties (borrowed object of strings),
                                e.g. {"delta.appendOnly": "true"}; NULL: none */
    const char *app_id;      /* non-NULL: idempotent write; a txn action (app_id,
                                txn_version) is committed with the data, and a write
                                whose txn_version <= the table's for app_id does
                                nothing (result.skipped) */
    int64_t txn_version;
    int checkpoint_interval;       /* a checkpoint after each commit whose version is a
                                      multiple: 0 = the table's delta.checkpointInterval,
                                      else 10; < 0 = never */
    int max_attempts;              /* commit attempts when other writers win (0 = 100) */
    uint64_t max_rows_per_file;    /* 0 = 8,000,000 */
    const char *operation;         /* commitInfo.operation (NULL: "CREATE TABLE AS SELECT",
                                      "WRITE") */
    json_t *operation_parameters;  /* borrowed; NULL: {"mode": ...} */
    const char *engine_info;       /* commitInfo.engineInfo (NULL: "quack/<version>") */
    qk_delta_progress_fn progress; /* may be NULL */
    void *progress_ud;
} qk_delta_write_opts;

typedef struct qk_delta_write_result {
    int64_t version; /* the version committed (skipped: the table's current version) */
    bool created;    /* this write made version 0 */
    bool skipped;    /* app_id had already committed txn_version: nothing written */
    uint64_t rows;   /* rows written */
    size_t files_added;
    size_t files_removed; /* overwrite: the files the commit removed */
    uint64_t bytes;       /* bytes of the data files added */
    int attempts;         /* commit attempts; > 1 when the commit was rebased */
    bool checkpointed;    /* a checkpoint (and _last_checkpoint) was written at version */
    char warning[512];    /* non-empty: something after the commit failed (the checkpoint); the
                             write itself succeeded */
} qk_delta_write_result;

/*
 * Write the rows of source_sql (one SELECT DuckDB can run on a fresh connection of e: paths
 * already resolved, lake names already bound) to the Delta table at table_prefix of s.
 * Data files are Parquet written by DuckDB into e's temp directory, one or more per partition
 * (at most max_rows_per_file rows each), then put under the table as
 * [<col>=<value>/...]part-<uuid>.parquet (unique, never overwritten), each with an add action
 * carrying size, partition values and stats (numRecords, minValues, maxValues, nullCount for
 * top-level columns of primitive types). The commit is put-if-absent of the next version
 * (commitInfo, [protocol 1/2 and metaData], [txn], removes, adds). When another writer took
 * that version: an append whose winners changed neither protocol nor metadata rebases (also
 * re-checking its txn) and tries the next version; anything else fails with QK_ECONFLICT
 * naming the winning version. Data files of a write that does not commit are deleted.
 * Refusals, before anything is written: QK_EEXIST (create over a table), QK_EINVAL (an append
 * whose columns do not match the table's, reported column by column; partition columns that
 * are not columns), QK_EUNSUPPORTED (an overwrite of a delta.appendOnly table, writer features
 * or minWriterVersion > 2 we cannot honour), QK_ECONSTRAINT (a row breaks a column invariant:
 * the invariant and a count of rows), and the reader's errors for the existing log.
 */
int qk_delta_write(qk_engine *e, qk_store *s, const char *table_prefix, const char *source_sql,
                   const qk_delta_write_opts *o, qk_delta_write_result *out, qk_err *err);

/*
 * Write a checkpoint of version (the snapshot at it) as _delta_log/%020d.checkpoint.parquet
 * (protocol, metaData, txn and add rows; Parquet written by DuckDB with the spec's checkpoint
 * schema, partitionValues and tags as MAP(VARCHAR, VARCHAR), stats as a JSON string), then
 * _last_checkpoint ({"version","size","sizeInBytes"}). Idempotent. *rows (may be NULL): the
 * rows written.
 */
int qk_delta_checkpoint_write(qk_engine *e, qk_store *s, const char *table_prefix, int64_t version,
                              uint64_t *rows, qk_err *err);

/* ---- history and vacuum (history.c, vacuum.c) -------------------------------------------- */

/* One commit, as `quack table history` shows it. */
typedef struct qk_delta_commit {
    int64_t version;
    int64_t timestamp_ms;    /* commitInfo.inCommitTimestamp, else .timestamp, else the file's
                                mtime */
    const char *operation;   /* commitInfo.operation, NULL when absent */
    const char *parameters;  /* commitInfo.operationParameters as compact JSON, NULL */
    const char *engine_info; /* commitInfo.engineInfo (or clientVersion), NULL */
    size_t files_added;      /* add actions */
    size_t files_removed;    /* remove actions */
    int64_t rows_added;      /* sum of the adds' numRecords; -1 when a stat is missing */
    uint64_t bytes_added;    /* sum of the adds' sizes */
    bool metadata;           /* the commit has a metaData action (create, schema change) */
    bool protocol;           /* ... a protocol action */
    const char *txn_app_id;  /* the commit's first txn action, NULL when none */
    int64_t txn_version;
} qk_delta_commit;

typedef struct qk_delta_history {
    qk_delta_commit *commits; /* newest first */
    size_t n;
    int64_t latest; /* the table's latest version */
    int64_t oldest; /* the oldest version whose commit file is still there */
    /* private */
    qk_arena arena;
} qk_delta_history;

/*
 * The commits of the table at table_prefix, newest first: at most limit (0 = all) of the
 * versions whose JSON commit files exist (versions only in a checkpoint are not listed). A
 * corrupt commit line is QK_EPARSE naming "<key>:<line>". *out: free with
 * qk_delta_history_free.
 */
int qk_delta_history_load(qk_store *s, const char *table_prefix, size_t limit,
                          qk_delta_history **out, qk_err *err);
void qk_delta_history_free(qk_delta_history *h); /* accepts NULL */

/* One file VACUUM would delete (or deleted). */
typedef struct qk_delta_vacuum_file {
    const char *key; /* store key */
    uint64_t size;
    int64_t mtime_ms;
    bool tracked; /* referenced by some version of the log (removed before the window); false:
                     never committed (a failed or killed writer's file) */
} qk_delta_vacuum_file;

typedef struct qk_delta_vacuum_result {
    qk_delta_vacuum_file *files; /* sorted by key */
    size_t n;
    uint64_t bytes;
    int64_t cutoff_ms;    /* now - retain */
    int64_t keep_version; /* the oldest version that stays readable (time travel) */
    size_t deleted;       /* files deleted (0 on a dry run) */
    qk_arena arena;       /* private */
} qk_delta_vacuum_result;

/*
 * VACUUM the table at table_prefix: find the data files (every object under the table except
 * _delta_log/ and paths with a segment starting with '_' or '.', as Delta does) that no
 * version readable after the cutoff (now - retain_ms) references, and whose mtime is before
 * the cutoff (so a writer's files not yet committed are never taken). The versions kept are
 * the one current at the cutoff and every later one: the files active at the first plus the
 * files added by the rest. dry_run: list them only; else delete them (many at a time) and set
 * deleted. retain_ms < 0 is QK_EINVAL. *out: free with qk_delta_vacuum_free.
 */
int qk_delta_vacuum(qk_engine *e, qk_store *s, const char *table_prefix, int64_t retain_ms,
                    bool dry_run, qk_delta_vacuum_result **out, qk_err *err);
void qk_delta_vacuum_free(qk_delta_vacuum_result *r); /* accepts NULL */

#endif
