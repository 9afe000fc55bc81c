/* SPDX-License-Identifier: MIT */
/*
 * lineage.h: which tables were made from which (docs/tables.md, "Lineage").
 *
 * Every table load and every CREATE TABLE AS appends one record to the lineage log, a Delta
 * table of the lake at _quack/lineage (hidden from SHOW TABLES by its '_'), so concurrent
 * writers on any machine append safely and the log time-travels like any table:
 *   table VARCHAR          the table written ("silver.trips"; a session table's own name)
 *   kind VARCHAR           "delta" (a lake table) or "session" (CREATE TABLE AS on a session)
 *   operation VARCHAR      "create", "append", "overwrite", "create table as"
 *   parents VARCHAR[]      the lake tables the source read, from the query's AST (lake.h's
 *                          qk_lake_ctx.bound), in query order, without repeats
 *   parent_versions BIGINT[]  the Delta version read of each parent (NULL: not Delta)
 *   query VARCHAR          the query text, or "read_csv(<from>)" for a CSV load
 *   location VARCHAR       the written table's URI (a session table: "session")
 *   version BIGINT         the version committed (NULL for a session table)
 *   time TIMESTAMPTZ       when
 * The graph is built from all records: a table's parents are the union over its records.
 */
#ifndef QK_LAKE_LINEAGE_H
#define QK_LAKE_LINEAGE_H

#include <jansson.h>

#include "core/core.h"
#include "engine/engine.h"
#include "store/store.h"

#define QK_LINEAGE_PATH "_quack/lineage"

typedef struct qk_lineage_rec {
    const char *table;
    const char *kind;      /* "delta" or "session" */
    const char *operation; /* "create", "append", "overwrite", "create table as" */
    json_t *parents;       /* borrowed: NULL or qk_lake_ctx.bound ({"name", "version"?}) */
    const char *query;
    const char *location;
    int64_t version; /* -1: none */
} qk_lineage_rec;

/* The parents of a record from qk_lake_ctx.bound: each table once (by name), in query order.
 * bound may be NULL. Caller decrefs. */
json_t *qk_lineage_parents(json_t *bound);

/* Append r to the lake's lineage log (creating it). */
int qk_lineage_record(qk_engine *e, qk_store *lake, const qk_lineage_rec *r, qk_err *err);

/*
 * The lineage graph as JSON: {"tables": [{"name", "kind", "location", "version", "time",
 * "operation", "query", "parents": [names], "children": [names]}...] sorted by name (the
 * newest record of each table; tables that only appear as parents have kind "source"),
 * "records": n}. name (may be NULL): only that table and its ancestors and descendants.
 * No log yet: an empty graph. QK_ENOTFOUND when name is given and appears nowhere.
 */
int qk_lineage_graph(qk_engine *e, qk_store *lake, const char *name, json_t **out, qk_err *err);

#endif
