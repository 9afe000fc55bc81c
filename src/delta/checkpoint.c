/* SPDX-License-Identifier: MIT */
/*
 * checkpoint.c: reading a checkpoint (PROTOCOL.md "Checkpoints", "Checkpoint Schema").
 *
 * A classic checkpoint is one Parquet file, a multi-part one n files, together holding one
 * row per action: top-level struct columns add, remove, metaData, protocol, txn (and, from
 * newer writers, domainMetadata, checkpointMetadata, sidecar), exactly one non-null per row.
 * Which columns exist varies by writer, so the rows are read as whole JSON objects,
 *   SELECT to_json(t) FROM read_parquet([parts], union_by_name=true, hive_partitioning=false) t
 * (maps such as add.partitionValues become JSON objects, add.partitionValues_parsed and
 * add.stats_parsed structs), and each row goes through the same reconciliation as a commit
 * line (removes are tombstones and skipped). A local store's parts are read in place; an S3
 * store's are first fetched to <engine temp>/delta-<uuid>/ and removed afterwards.
 */
#include "delta/delta_int.h"

#include <stdio.h>
#include <string.h>

#define SQL_MAX (16u << 20)

/* Append the part paths DuckDB should read as a list literal, fetching them when remote. */
static int part_list(qk_engine *e, qk_store *s, const char *const *keys, size_t n, const char *tmp,
                     qk_buf *sql, qk_err *err)
{
    bool local = !strcmp(qk_store_backend(s), "local");
    char path[QK_STORE_KEY_MAX + 1024];
    int rc = 0;
    (void)e;
    if (qk_buf_addc(sql, '[')) return qk_errf(err, QK_ETOOBIG, "checkpoint query too long");
    for (size_t i = 0; !rc && i < n; i++) {
        if (local) {
            snprintf(path, sizeof path, "%s/%s", qk_store_uri(s), keys[i]);
        } else {
            snprintf(path, sizeof path, "%s/part-%zu.parquet", tmp, i);
            rc = qk_store_get_file(s, keys[i], path, NULL, err);
        }
        if (!rc && ((i && qk_buf_adds(sql, ", ")) || qk_sql_add_literal(sql, path)))
            rc = qk_errf(err, QK_ETOOBIG, "checkpoint query too long");
    }
    if (!rc && qk_buf_addc(sql, ']')) rc = qk_errf(err, QK_ETOOBIG, "checkpoint query too long");
    return rc;
}

static json_t *row_json(duckdb_vector v, idx_t row)
{
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + row;
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) return NULL;
    return json_loadb(duckdb_string_t_data(s), duckdb_string_t_length(*s), 0, NULL);
}

/* Apply every row of the query's result. */
static int apply_rows(duckdb_result *res, const char *key, qk_delta_replay *r, qk_err *err)
{
    duckdb_data_chunk ch;
    uint64_t rowno = 0;
    int rc = 0;
    while (!rc && (ch = duckdb_fetch_chunk(*res)) != NULL) {
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        for (idx_t i = 0; !rc && i < duckdb_data_chunk_get_size(ch); i++) {
            char where[QK_STORE_KEY_MAX + 48];
            json_t *a = row_json(v, i);
            snprintf(where, sizeof where, "%s row %llu", key, (unsigned long long)++rowno);
            if (!a)
                rc = qk_errf(err, QK_EPARSE, "%s: unreadable checkpoint row", where);
            else
                rc = qk_delta_replay_action(r, a, true, where, err);
            json_decref(a);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

static int run(qk_engine *e, const char *sql, const char *key, qk_delta_replay *r, qk_err *err)
{
    duckdb_connection con = NULL;
    duckdb_result res;
    bool have_res = false;
    int rc = 0;
    if (duckdb_connect(qk_engine_db(e), &con) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
        goto out;
    }
    have_res = true;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        qk_err_prefix(err, "checkpoint %s", key);
        goto out;
    }
    rc = apply_rows(&res, key, r, err);
out:
    if (have_res) duckdb_destroy_result(&res);
    if (con) duckdb_disconnect(&con);
    return rc;
}

int qk_delta_checkpoint_read(qk_engine *e, qk_store *s, const char *const *keys, size_t n,
                             qk_delta_replay *r, qk_err *err)
{
    char tmp[1024] = "", uuid[37];
    qk_buf sql;
    int rc;
    qk_buf_init(&sql, SQL_MAX);
    if (strcmp(qk_store_backend(s), "local")) {
        qk_uuid4(uuid);
        snprintf(tmp, sizeof tmp, "%s/delta-%s", qk_engine_temp_dir(e), uuid);
        if ((rc = qk_mkdirs(tmp, err))) goto out;
    }
    if (qk_buf_adds(&sql, "SELECT to_json(t) FROM read_parquet(")) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = part_list(e, s, keys, n, tmp, &sql, err))) goto out;
    if (qk_buf_adds(&sql, ", union_by_name = true, hive_partitioning = false) AS t")) {
        rc = qk_errf(err, QK_ETOOBIG, "checkpoint query too long");
        goto out;
    }
    rc = run(e, qk_buf_cstr(&sql), keys[0], r, err);
out:
    if (*tmp) qk_rmtree(tmp, false, NULL);
    qk_buf_free(&sql);
    return rc;
}
