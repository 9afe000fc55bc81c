/* SPDX-License-Identifier: MIT */
/*
 * table.h: managing the lake's tables (docs/tables.md): what `quack table ...`, `quack lake ls`
 * and the server's /tables endpoints share, so no request logic lives in the CLI.
 *
 *   names     "silver.trips", gold."my table": 1 to 3 parts, '.' between, "..." quoting
 *   JSON      a catalog table as an object (name, kind, format, path, location, files, ...), and
 *             for a Delta table its snapshot (version, files, bytes, rows, partitions, schema,
 *             properties)
 *   load      CSV files or a query into a Delta table (create / append / overwrite), with its
 *             lineage recorded (lineage.h)
 *   history   a Delta table's commits as JSON
 */
#ifndef QK_LAKE_TABLE_H
#define QK_LAKE_TABLE_H

#include <jansson.h>

#include "core/core.h"
#include "delta/delta.h"
#include "engine/engine.h"
#include "lake/catalog.h"
#include "store/store.h"

/* Split a table name into 1..3 parts (each malloc'd: free them). 0 when the name is malformed
 * (empty part, more than 3, unterminated quote). */
int qk_lake_name_split(const char *name, char *parts[3]);

/* "2019-04-30 23:59:59 UTC" or, with iso, "2019-04-30T23:59:59Z"; "-" when ms <= 0. Returns
 * out. */
const char *qk_lake_fmt_time(int64_t ms, bool iso, char *out, size_t cap);

/* The catalog entry t as JSON (columns borrowed, may be NULL; schema_error: why they are
 * unknown, or NULL). */
json_t *qk_lake_table_json(qk_store *lake, const qk_lake_table *t, json_t *columns,
                           const char *schema_error);

/* For a Delta table: its latest snapshot as JSON: version, timestamp, checkpoint_version,
 * files, bytes, rows (-1 when a file lacks stats), partition_columns, partitions (distinct
 * partition value tuples), schema [{name, type, nullable, partition}], properties,
 * protocol {min_reader_version, min_writer_version}. */
int qk_lake_delta_json(qk_engine *e, qk_store *lake, const char *table_path, json_t **out,
                       qk_err *err);

/* A Delta table's history (limit 0 = all) as a JSON array, newest first: version, timestamp
 * (ISO-8601 UTC), timestamp_ms, operation, parameters (object), engine_info, files_added,
 * files_removed, rows_added (null when unknown), bytes_added. */
int qk_lake_history_json(qk_store *lake, const char *table_path, size_t limit, json_t **out,
                         qk_err *err);

/*
 * Where the Delta table called name lives: an existing Delta table found by the catalog (any
 * spelling it accepts), else the new path of the name (parts joined by '/'). QK_EINVAL for a
 * malformed name or a part that cannot be a folder ('_' or '.' first, '/', control characters);
 * QK_EEXIST when the name is a table that is not Delta (a folder of CSV files, say: load into
 * another name). *path: caller frees. *exists: a Delta table is there.
 */
int qk_lake_delta_path(qk_store *lake, const char *name, char **path, bool *exists, qk_err *err);

typedef struct qk_table_load_req {
    const char *name;                /* the table */
    const char *from;                /* CSV files: a directory, file or glob (local or s3://);
                                        or NULL */
    const char *query;               /* or a SELECT (lake names and =(^)name allowed) */
    int mode;                        /* QK_DELTA_CREATE / _APPEND / _OVERWRITE */
    const char *const *partition_by; /* may be NULL */
    size_t npartition_by;
    const char *csv_options; /* extra read_csv arguments ("delim = ';', header = true"),
                                or NULL: DuckDB sniffs everything */
    const char *app_id;      /* idempotent loads (txn), or NULL */
    int64_t txn_version;
    qk_delta_progress_fn progress; /* may be NULL */
    void *progress_ud;
} qk_table_load_req;

typedef struct qk_table_load_result {
    qk_delta_write_result write;
    char path[QK_STORE_KEY_MAX]; /* the table's path in the lake */
    size_t source_files;         /* CSV files read (from) */
    bool lineage_failed;         /* the load committed but its lineage record did not */
    char lineage_error[QK_ERR_MSG_MAX];
} qk_table_load_result;

/*
 * Load into the Delta table req->name of e's lake: the CSV files of from (read_csv over the
 * explicit file list: DuckDB sniffs delimiter, quoting, header and types; union_by_name) or the
 * rows of query, written with qk_delta_write, then a lineage record (lineage.h; its failure is
 * reported in out, not as an error). The sandbox applies: from must be readable by e (inside
 * the lake, or s3://, fetched through the cache). Errors: QK_EINVAL (bad name, both or neither
 * of from and query, no CSV files in from), the writer's (QK_EEXIST, QK_ECONFLICT, ...).
 */
int qk_table_load(qk_engine *e, const qk_table_load_req *req, qk_table_load_result *out,
                  qk_err *err);

/* A load's result as the CLI's --json and POST /tables/NAME/load print it: table, path,
 * version, created, skipped, rows, files_added, files_removed, bytes, attempts, checkpointed
 * [, warning][, lineage_error]. NULL when out of memory. */
json_t *qk_table_load_json(const char *name, const qk_table_load_result *r);

#endif
