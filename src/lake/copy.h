/* SPDX-License-Identifier: MIT */
/*
 * copy.h: COPY ... TO 's3://bucket/key' (docs/internals/lake-copy.md).
 *
 * DuckDB's httpfs is not available, so quack writes a COPY's output itself: the statement is
 * split by a small SQL lexer into COPY <source> TO '<target>' <options>, the source query's
 * s3:// paths and lake table names are resolved (resolve.h), the target becomes a path in a fresh
 * staging directory under the engine's temp dir (same file name, so DuckDB still infers the format
 * from the extension), DuckDB runs the COPY there, and the file (or every file of the directory a
 * PARTITION_BY / PER_THREAD_OUTPUT / FILE_SIZE_BYTES / ROW_GROUPS_PER_FILE COPY writes) is
 * uploaded with the store layer. Directory targets follow DuckDB's local rules: an existing
 * non-empty "<key>/" is an error unless OVERWRITE (delete it first) or OVERWRITE_OR_IGNORE.
 */
#ifndef QK_LAKE_COPY_H
#define QK_LAKE_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "engine/engine.h"

/* A piece of the SQL text: bytes [off, off + len). */
typedef struct qk_copy_span {
    size_t off, len;
} qk_copy_span;

/* A COPY ... TO '<s3 target>' statement as the splitter sees it (exposed for unit tests). */
typedef struct qk_copy_stmt {
    bool src_is_query;   /* COPY ( query ) TO ..., else COPY table [ (cols) ] TO ... */
    qk_copy_span src;    /* the query inside the parentheses, or the (qualified) table name */
    bool has_cols;       /* a table source with a column list */
    qk_copy_span cols;   /* the column list inside its parentheses */
    qk_copy_span target; /* the target literal, quotes included */
    qk_copy_span rest;   /* everything after the literal: the option list, verbatim */
    /* Options found in rest (names case-insensitive; "NAME false/0/no/f/n" counts as absent). */
    bool dir_output; /* PARTITION_BY, PER_THREAD_OUTPUT, FILE_SIZE_BYTES, ROW_GROUPS_PER_FILE */
    bool overwrite;  /* OVERWRITE */
    bool overwrite_or_ignore; /* OVERWRITE_OR_IGNORE */
    bool append;              /* APPEND */
    bool return_files;        /* RETURN_FILES or RETURN_STATS */
} qk_copy_stmt;

/* True when sql is one COPY statement whose TO target is a string literal starting with
 * "s3://" (case-sensitive scheme). Cheap: a lexer, no DuckDB. */
bool qk_lake_is_copy_to_s3(const char *sql);

/*
 * Run such a COPY: same contract as qk_engine_query (engine.h); *out is DuckDB's COPY result
 * (the Count column) and is returned only once every file is uploaded. The row limit, timeout
 * and cancel callback of o apply (the timeout and the callback also between uploads). Errors:
 * QK_EPARSE (not such a statement), QK_EINVAL (the target is not s3://bucket/key with usable
 * path segments), QK_EUNSUPPORTED (APPEND, RETURN_FILES, RETURN_STATS), QK_EIO
 * ("Directory ... is not empty!" like DuckDB's), DuckDB's errors, the resolver's and the
 * store's (an upload error names the s3:// URI). The staging directory is always removed.
 */
int qk_lake_copy(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                 qk_err *err);

#endif
