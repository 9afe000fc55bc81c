/* SPDX-License-Identifier: MIT */
/*
 * lake.h: the lake module (DESIGN.md sections 2 and 4): everything quack knows about a lake's
 * layout. For now it holds the demo-lake generator behind `quack demo`:
 *
 *   <lake>/dataset/taxi_2019_04.parquet               one file, rows ordered by pickup_at
 *   <lake>/partitioned/date=2019-04-DD/data_0.parquet the same rows, one folder per day
 *   <lake>/_quack/demo.lock                           held while a generator runs
 *   <lake>/_quack/demo.tmp/                           work folder, gone after a run
 *
 * The rows are a synthetic NYC yellow-taxi month (April 2019) computed in DuckDB from a hash
 * of (row index, seed, column): the same rows, seed and DuckDB build give the same bytes,
 * whatever the thread count. docs/demo.md describes the columns and their distributions.
 */
#ifndef QK_LAKE_H
#define QK_LAKE_H

#include <stdint.h>

#include "core/core.h"

/* Rows in the real April 2019 yellow-taxi file: the default size. */
#define QK_DEMO_DEFAULT_ROWS 7433139
#define QK_DEMO_MAX_ROWS 100000000
#define QK_DEMO_DEFAULT_SEED 42
/* Bumped whenever the bytes generated for a given (rows, seed) change. */
#define QK_DEMO_GENERATOR_VERSION 1
/* Paths of the two datasets, relative to the lake root. */
#define QK_DEMO_DATASET "dataset/taxi_2019_04.parquet"
#define QK_DEMO_PARTITIONED "partitioned"

typedef enum {
    QK_DEMO_PHASE_GENERATE,   /* generating rows into the single file; done = percent */
    QK_DEMO_PHASE_PARTITIONS, /* writing day partitions; done of total */
    QK_DEMO_PHASE_CHECK,      /* reading the written files back for the stats */
} qk_demo_phase;

/* Progress report: called on the generating thread; must not call back into the generator.
 * done/total: percent of 100 for GENERATE (in between 0 and 100 only when DuckDB measures
 * progress), partitions written of partitions for PARTITIONS, 0/0 for CHECK. Each phase
 * starts with a call with done = 0 and GENERATE and PARTITIONS end with done = total. */
typedef void (*qk_demo_progress_fn)(void *ud, qk_demo_phase phase, int64_t done, int64_t total);

typedef struct qk_demo_opts {
    const char *lake;             /* lake root; created if missing. Required. */
    int64_t rows;                 /* 1..QK_DEMO_MAX_ROWS */
    int64_t seed;                 /* any value */
    int threads;                  /* DuckDB threads; 0 = one per core. Output is the same. */
    qk_demo_progress_fn progress; /* may be NULL */
    void *progress_ud;
} qk_demo_opts;

#define QK_DEMO_PATH_MAX 4096

/* What was written, read back from the files themselves. */
typedef struct qk_demo_stats {
    char lake[QK_DEMO_PATH_MAX]; /* absolute lake root */
    int64_t rows;                /* rows in the single file */
    int64_t partitioned_rows;    /* rows over all partition files */
    uint64_t dataset_bytes;      /* size of the single file */
    uint64_t partitioned_bytes;  /* sum of the partition files' sizes */
    int partitions;              /* date=... folders (one file each) */
    char first_date[11];         /* "2019-04-01" */
    char last_date[11];
    int64_t min_pickup_us; /* min/max pickup_at, microseconds since 1970 (naive timestamps) */
    int64_t max_pickup_us;
    double took_ms; /* wall time of the whole run */
} qk_demo_stats;

/* Defaults: lake from QUACK_LAKE or "lake", QK_DEMO_DEFAULT_ROWS, QK_DEMO_DEFAULT_SEED. */
void qk_demo_opts_defaults(qk_demo_opts *o);
/* Name of a phase for messages ("generating", "partitioning", "checking"). Static storage. */
const char *qk_demo_phase_name(qk_demo_phase p);

/*
 * Write the demo lake under o->lake, replacing earlier demo datasets there: both datasets are
 * written into <lake>/_quack/demo.tmp and renamed into place at the end, the single file first
 * and then the partitions folder (the old one is removed), so an interrupted run never leaves
 * a partial dataset under a real name. Fills *st (may be NULL) on success.
 * Errors: QK_EINVAL (bad options), QK_EBUSY (another generator holds the lake's lock),
 * QK_EIO (lake not writable...), QK_ESQL (DuckDB failed). Not thread-safe for the same lake.
 */
int qk_lake_demo_create(const qk_demo_opts *o, qk_demo_stats *st, qk_err *err);

#endif
