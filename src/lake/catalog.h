/* SPDX-License-Identifier: MIT */
/*
 * catalog.h: named tables of a lake (DESIGN.md section 4; docs/tables.md has the user's view).
 *
 * A lake root (local directory or s3://bucket/prefix, opened as a qk_store) holds datasets; the
 * catalog names them by their path, '/' written as '.', the data-file extension dropped:
 *
 *   dataset/taxi_2019_04.parquet      file table      dataset.taxi_2019_04
 *   partitioned/date=2019-04-01/...   hive table      partitioned (partition column date)
 *   raw/climate/a.csv, b.csv          folder table    raw.climate
 *   silver/trips/_delta_log/          Delta table     silver.trips (read by the Delta issue)
 *
 * Rules (a folder is a table when):
 *   - it holds `_delta_log/` (Delta), or
 *   - every data file below it sits in `key=value` folders, all at the same depth with the same
 *     keys in the same order (hive-partitioned; partition columns = the keys), or
 *   - it holds data files of one format and no subfolders: a "folder of files" table. In a
 *     listing (SHOW TABLES) a folder with a single file lists that file as a file table instead.
 * Otherwise a folder is a zone: its data files are file tables and its subfolders are looked at
 * the same way. Data files end in .parquet or .parq, .csv or .tsv, .json, .jsonl or .ndjson
 * (optionally .gz or .zst); other files are ignored. A path segment that starts with '_' or '.'
 * is never part of a table name (quack's own _quack/, Spark's _SUCCESS, temp files).
 *
 * Lookup of a name given as parts (catalog.schema.table from the SQL): the exact path first
 * (one LIST of that prefix), then in lower case, then, over a full listing, the one table whose
 * whole name or last component equals the name ignoring case (several: "ambiguous").
 */
#ifndef QK_LAKE_CATALOG_H
#define QK_LAKE_CATALOG_H

#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

typedef enum {
    QK_TABLE_FILE,   /* one data file */
    QK_TABLE_FOLDER, /* data files of one format directly in a folder */
    QK_TABLE_HIVE,   /* hive-partitioned folder */
    QK_TABLE_DELTA,  /* folder with _delta_log/ */
} qk_table_kind;

typedef enum {
    QK_FORMAT_PARQUET,
    QK_FORMAT_CSV,
    QK_FORMAT_JSON,
    QK_FORMAT_DELTA,
    QK_FORMAT_MIXED, /* several formats in one folder: listed, refused when queried */
} qk_table_format;

#define QK_TABLE_MAX_PARTS 32 /* hive partition columns at most */

typedef struct qk_lake_table {
    char *name;    /* display name: "silver.trips", segments quoted when not plain identifiers */
    char *path;    /* lake-relative path of the file or folder: "silver/trips" */
    char *pattern; /* what DuckDB reads, lake-relative: a path, or a glob over the files */
    char **files;  /* lake-relative data files when no glob matches exactly them, else NULL */
    qk_table_kind kind;
    qk_table_format format;
    uint64_t nfiles;
    uint64_t bytes;
    uint64_t partitions; /* distinct partition folders (hive) */
    int64_t mtime_ms;    /* newest data file */
    char *part_cols[QK_TABLE_MAX_PARTS];
    size_t npart_cols;
    qk_obj_list objects; /* the data files as listed (keys relative to the lake root): filled
                            by an exact-path lookup, so readers need not list them again */
} qk_lake_table;

typedef struct qk_lake_catalog {
    qk_lake_table *tables; /* sorted by name */
    size_t n;
    bool scanned; /* filled by a scan (lookups use it as a cache) */
} qk_lake_catalog;

/* Every table under the store's root: one recursive listing. */
int qk_lake_catalog_scan(qk_store *lake, qk_lake_catalog *out, qk_err *err);
void qk_lake_catalog_free(qk_lake_catalog *c);

/*
 * Look up the table named by parts[0..n) (1..3 identifiers as DuckDB parsed them). scan: NULL,
 * or a zeroed catalog that keeps the full listing between lookups (free it after the last).
 * Errors: QK_ENOTFOUND (no such table; message names it), QK_EINVAL (ambiguous: lists the
 * candidates), store errors. Delta and mixed-format tables are returned (the caller decides).
 */
int qk_lake_catalog_lookup(qk_store *lake, const char *const *parts, size_t n,
                           qk_lake_catalog *scan, qk_lake_table *out, qk_err *err);
void qk_lake_table_free(qk_lake_table *t);

/* "parquet", "csv", "json", "delta", "mixed" / "file", "folder", "hive", "delta". Static. */
const char *qk_table_format_name(qk_table_format f);
const char *qk_table_kind_name(qk_table_kind k);

/*
 * Append the DuckDB table function call that reads t, its paths prefixed with root + "/"
 * (root: an absolute directory or "s3://bucket/prefix"), e.g.
 *   read_parquet('/lake/partitioned/<key=value glob>.parquet', hive_partitioning = true)
 * QK_EUNSUPPORTED for Delta and mixed-format tables (the message names the table and why).
 */
int qk_lake_table_sql(const qk_lake_table *t, const char *root, qk_buf *out, qk_err *err);

#endif
