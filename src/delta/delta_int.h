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

#endif
