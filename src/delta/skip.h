/* SPDX-License-Identifier: MIT */
/*
 * skip.h: Delta file skipping (skip.c; docs/tables.md "File skipping").
 *
 * Which of a snapshot's files can hold a row matching a filter, decided before anything is
 * fetched, from what the log says about each file: its partition values (exact) and its stats
 * (numRecords, minValues, maxValues, nullCount: bounds). The filter is a small tree the caller
 * builds from a query's WHERE (lake/prune.c does it from DuckDB's parse tree): constants and
 * partition expressions arrive as SQL text DuckDB rendered, so every comparison is made by
 * DuckDB, in one query over a VALUES list with one row per file. A file is skipped only when
 * the tree is provably not true for every row it could hold; anything unknown keeps it.
 */
#ifndef QK_DELTA_SKIP_H
#define QK_DELTA_SKIP_H

#include "delta/delta.h"

/* Kinds of qk_delta_pred. */
enum {
    QK_DELTA_P_AND = 0,  /* every kid (a kid that cannot be used is left out by the builder) */
    QK_DELTA_P_OR,       /* any kid */
    QK_DELTA_P_EXACT,    /* sql: a boolean expression over partition columns and constants */
    QK_DELTA_P_CMP,      /* column op values[0] */
    QK_DELTA_P_BETWEEN,  /* column BETWEEN values[0] AND values[1] */
    QK_DELTA_P_IN,       /* column IN (values[0], ...) */
    QK_DELTA_P_NULL,     /* column IS NULL */
    QK_DELTA_P_NOT_NULL, /* column IS NOT NULL */
};

/* Comparison operators of QK_DELTA_P_CMP, the column on the left. */
enum { QK_DELTA_LT = 0, QK_DELTA_LE, QK_DELTA_EQ, QK_DELTA_GE, QK_DELTA_GT };

typedef struct qk_delta_pred {
    int kind; /* QK_DELTA_P_* */
    int op;   /* CMP: QK_DELTA_LT ... QK_DELTA_GT */
    /* CMP, BETWEEN, IN, NULL, NOT_NULL: index of a data column in snap->metadata.columns */
    size_t column;
    /* EXACT: SQL text whose column names are partition columns, bare or qualified by the
     * alias passed to qk_delta_skip */
    const char *sql;
    const char *const *values; /* CMP, BETWEEN, IN: SQL text of constant expressions */
    size_t nvalues;
    const struct qk_delta_pred *const *kids; /* AND, OR */
    size_t nkids;
} qk_delta_pred;

/*
 * Decide which files of snap can hold a row for which where is true: keep[i] for
 * snap->files[i] (the caller's array of snap->nfiles). alias names the table in where's
 * qualified column references (may be NULL or "": bare names only). *skipped (may be NULL):
 * files not kept. On any error (DuckDB cannot run the query, a value that does not cast, the
 * buffer limit) every file is kept and the error is returned, described in err; the caller may
 * ignore it. The rules (conservative; the stats are bounds, not values):
 *   - a partition expression is evaluated on the file's typed partition values, as the scan
 *     types them (a NULL result skips the file);
 *   - a comparison, BETWEEN or IN on a data column needs the constant to be of a type compared
 *     without converting the column (numbers with numbers, times with times, text with text;
 *     not text with a DECIMAL, which DuckDB rounds), and BETWEEN / IN values of one type;
 *     a file whose rows are all NULL (nullCount = numRecords) holds no match;
 *   - timestamps: min - 1 ms and max + 1 ms (writers truncate stats to milliseconds);
 *   - FLOAT/DOUBLE: a max is never used (NaN sorts above every number and stats leave NaN
 *     out); min with a relative margin of 1e-6, DECIMAL bounds with 1e-9 (both read as DOUBLE);
 *   - strings: min is a lower bound (possibly a truncated prefix); max may be a truncated
 *     prefix, so a file is kept when the constant starts with it;
 *   - IS NULL needs nullCount > 0; IS NOT NULL needs nullCount <> numRecords;
 *   - other types (BOOLEAN, BINARY, nested) use null counts only; files without stats are kept.
 */
int qk_delta_skip(duckdb_connection con, const qk_delta_snapshot *snap, const char *alias,
                  const qk_delta_pred *where, bool *keep, size_t *skipped, qk_err *err);

/* Is skipping switched on? QUACK_DELTA_SKIPPING=off turns it off (to measure bytes fetched
 * without it); anything else, or unset, is on. */
bool qk_delta_skipping_enabled(void);

#endif
