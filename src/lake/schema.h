/* SPDX-License-Identifier: MIT */
/*
 * schema.h: the columns of a lake table (catalog.h), as DuckDB's DESCRIBE types them, for
 * `quack lake ls` (docs/lake-cli.md).
 *
 * A local lake is described in place: DESCRIBE SELECT * FROM <qk_lake_table_sql(t, root)>.
 * A table on S3 is never downloaded whole: its first data file stands for it (DuckDB binds a
 * multi-file read with the first file's schema too) and only a few bytes of that file are
 * fetched into a throw-away mirror of its key under the engine's temp dir, so hive `k=v/`
 * folders keep their names and DuckDB adds the partition columns as it does locally:
 *   Parquet    the footer only (one ranged GET of the last 64 KiB, a second one when the
 *              metadata is larger), written at its offset into a sparse file of the object's
 *              full size with "PAR1" at offset 0; DuckDB reads nothing else to bind.
 *   CSV, JSON  the first 1 MiB cut after its last newline (a compressed file, which cannot be
 *              cut, is read whole when at most 8 MiB); DuckDB sniffs the types from it.
 * Delta and mixed-format tables are QK_EUNSUPPORTED (the caller shows the schema as unknown).
 */
#ifndef QK_LAKE_SCHEMA_H
#define QK_LAKE_SCHEMA_H

#include <jansson.h>

#include "core/core.h"
#include "engine/engine.h"
#include "lake/catalog.h"
#include "store/store.h"

/* Bytes fetched from the start of a CSV/JSON file on S3 to sniff its types. */
#define QK_SCHEMA_TEXT_SAMPLE (1u << 20)
/* A compressed CSV/JSON file on S3 is read whole when at most this big, else unsupported. */
#define QK_SCHEMA_COMPRESSED_MAX (8u << 20)
/* Bytes of a Parquet file's tail fetched first (the footer usually fits). */
#define QK_SCHEMA_PARQUET_TAIL (64u << 10)
/* Largest Parquet footer (metadata) accepted. */
#define QK_SCHEMA_FOOTER_MAX (64u << 20)

/*
 * The columns of t, a table of the lake store (from qk_lake_catalog_scan or _lookup), as a
 * JSON array [{"name": "vendor_id", "type": "INTEGER"}, ...] in table order, partition columns
 * last (as DuckDB appends them). e's sandbox must allow the lake when it is local (open the
 * engine with cfg.lake = the lake's root); on S3 only the engine's temp dir is used, and the
 * temp files are removed before returning; e is not used (may be NULL) for Delta and mixed
 * tables, which fail first. *columns: the caller decrefs.
 * Errors: QK_EUNSUPPORTED (Delta, mixed formats, a compressed text file too big to sample; the
 * message says which), QK_ENOTFOUND (the table's files are gone), QK_EPARSE (not a Parquet
 * file), QK_ESQL/QK_EIO (DuckDB's message), store errors. Thread-safe for distinct calls.
 */
int qk_lake_table_schema(qk_engine *e, qk_store *lake, const qk_lake_table *t, json_t **columns,
                         qk_err *err);

#endif
