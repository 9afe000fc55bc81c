/* SPDX-License-Identifier: MIT */
/*
 * plan_types.c: a shard must type its columns as the whole query does (dist_int.h;
 * docs/internals/dist.md).
 *
 * DuckDB sniffs CSV and JSON column types from a sample of the files it reads: read_csv from
 * the first files_to_sniff (10) files, read_json from the first maximum_sample_files (32). A map
 * over shard 3 alone would sniff shard 3's files: a column that holds 1.5 in file 1 and whole
 * numbers in file 7 is DOUBLE for the whole query but BIGINT for a shard of file 7, and
 * `a::VARCHAR = '1.0'` then matches in one and not in the other. So the planner asks DuckDB
 * for the types over the same sample the whole query uses (DESCRIBE of the reader over those
 * files, without hive columns or filename) and writes them into the call: read_csv gets
 * types={...} (the dialect and header are still sniffed per file, as DuckDB does for every
 * file), read_json gets columns={...}. A call that already fixes them (read_csv's columns,
 * read_json's columns) is left alone. Parquet files carry their schema; hive partition types are
 * pinned by the lake layer (qk_lake_pin_hive).
 */
#include "core/json.h"
#include "dist/dist_int.h"
#include "lake/resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SQL_MAX QK_DIST_PLAN_SQL_MAX

int qk_dist_describe_json(qk_engine *e, const char *sql, json_t **cols, qk_err *err)
{
    qk_buf b;
    qk_result *r = NULL;
    qk_query_opts o = {.limit = -1};
    duckdb_data_chunk ch;
    int rc;
    *cols = NULL;
    qk_buf_init(&b, SQL_MAX);
    if (qk_buf_printf(&b, "DESCRIBE %s", sql)) {
        qk_buf_free(&b);
        return qk_errf(err, QK_ETOOBIG, "query too long");
    }
    rc = qk_lake_query(e, qk_buf_cstr(&b), &o, &r, err);
    qk_buf_free(&b);
    if (rc) return rc;
    *cols = json_array();
    while ((ch = qk_result_next_chunk(r)) != NULL) {
        duckdb_string_t *n = (duckdb_string_t *)duckdb_vector_get_data(
                            duckdb_data_chunk_get_vector(ch, 0)),
                        *t = (duckdb_string_t *)duckdb_vector_get_data(
                            duckdb_data_chunk_get_vector(ch, 1));
        for (idx_t i = 0; i < duckdb_data_chunk_get_size(ch); i++) {
            json_t *c = json_object();
            json_object_set_new(
                c, "name", json_stringn(duckdb_string_t_data(&n[i]), duckdb_string_t_length(n[i])));
            json_object_set_new(
                c, "type", json_stringn(duckdb_string_t_data(&t[i]), duckdb_string_t_length(t[i])));
            json_array_append_new(*cols, c);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    qk_result_destroy(r);
    return 0;
}

/* Remove the named parameters in names (NULL-terminated) from fn. */
static void drop_params(json_t *fn, const char *const *names)
{
    json_t *ch = json_object_get(fn, "children");
    for (size_t i = json_array_size(ch); i-- > 1;) {
        const char *p = qk_lake_param_name(json_array_get(ch, i));
        for (size_t k = 0; p && names[k]; k++)
            if (!strcasecmp(p, names[k])) {
                json_array_remove(ch, i);
                break;
            }
    }
}

/* How many leading files DuckDB samples: the call's own setting, else DuckDB's default. */
static size_t sampled(json_t *fn, const char *setting, size_t dflt, size_t nfiles)
{
    json_t *p = qk_lake_param(fn, setting),
           *v = json_object_get(json_object_get(p, "right"), "value");
    json_t *x = json_object_get(v, "value");
    if (p && json_is_integer(x)) {
        json_int_t n = json_integer_value(x);
        if (n < 0 || (uint64_t)n > nfiles) return nfiles;
        return n ? (size_t)n : 1;
    }
    return dflt < nfiles ? dflt : nfiles;
}

/* DESCRIBE SELECT * FROM <leaf's call over the first n files, no hive columns or filename>. */
static int sniff(qk_engine *e, duckdb_connection con, const char *mark, json_t *leaf,
                 const qk_obj_list *files, size_t n, json_t **cols, qk_err *err)
{
    static const char *const drop[] = {"filename", "hive_partitioning", "hive_types",
                                       "hive_types_autocast", NULL};
    json_t *tmpl = NULL, *copy = json_deep_copy(leaf), *fn = json_object_get(copy, "function");
    json_t *args = NULL;
    qk_buf b;
    char *sql = NULL;
    int rc = 0;
    qk_buf_init(&b, SQL_MAX);
    qk_buf_addc(&b, '[');
    for (size_t i = 0; i < n && !rc; i++) {
        if (i) qk_buf_addc(&b, ',');
        rc = qk_sql_add_literal(&b, files->v[i].key);
    }
    if (!rc) rc = qk_buf_adds(&b, "], hive_partitioning = false");
    if (!rc && !(args = qk_lake_call_args(con, mark, qk_buf_cstr(&b), err))) rc = QK_EINTERNAL;
    if (!rc) rc = qk_lake_ast_parse(e, con, "SELECT * FROM f('x')", mark, false, &tmpl, NULL, err);
    if (!rc) {
        json_t *node =
            json_object_get(json_array_get(json_object_get(tmpl, "statements"), 0), "node");
        drop_params(fn, drop);
        json_array_set(json_object_get(fn, "children"), 0, json_array_get(args, 0));
        json_array_append(json_object_get(fn, "children"), json_array_get(args, 1));
        json_object_del(copy, "alias");
        json_object_set_new(copy, "alias", json_string(""));
        json_object_set(node, "from_table", copy);
        rc = qk_lake_ast_render(con, tmpl, mark, &sql, err);
    }
    if (!rc) rc = qk_dist_describe_json(e, sql, cols, err);
    json_decref(tmpl);
    json_decref(copy);
    json_decref(args);
    qk_buf_free(&b);
    free(sql);
    return rc;
}

int qk_dist_pin_sniffed(qk_engine *e, duckdb_connection con, const char *mark, json_t *leaf,
                        const qk_obj_list *files, qk_err *err)
{
    static const char *const csv_types[] = {"types", "dtypes", "column_types", NULL};
    json_t *fn = json_object_get(leaf, "function"), *cols = NULL, *args = NULL, *c;
    const char *name = qk_json_str(fn, "function_name");
    bool csv = !strncasecmp(name, "read_csv", 8);
    size_t n, i;
    qk_buf b;
    int rc;
    if (files->n < 2 || !strcasecmp(name, "read_parquet") || !strcasecmp(name, "parquet_scan") ||
        qk_lake_param(fn, "columns"))
        return 0;
    n = csv ? sampled(fn, "files_to_sniff", 10, files->n)
            : sampled(fn, "maximum_sample_files", 32, files->n);
    if ((rc = sniff(e, con, mark, leaf, files, n, &cols, err))) return rc;
    qk_buf_init(&b, SQL_MAX);
    rc = qk_buf_adds(&b, csv ? "'x', types = {" : "'x', columns = {");
    json_array_foreach(cols, i, c)
    {
        if (!rc && i) rc = qk_buf_adds(&b, ", ");
        if (!rc) rc = qk_sql_add_literal(&b, qk_json_str(c, "name"));
        if (!rc) rc = qk_buf_adds(&b, ": ");
        if (!rc) rc = qk_sql_add_literal(&b, qk_json_str(c, "type"));
    }
    if (!rc) rc = qk_buf_addc(&b, '}');
    if (!rc && !(args = qk_lake_call_args(con, mark, qk_buf_cstr(&b), err))) rc = QK_EINTERNAL;
    if (!rc) {
        if (csv) drop_params(fn, csv_types);
        json_array_append(json_object_get(fn, "children"), json_array_get(args, 1));
    }
    json_decref(args);
    json_decref(cols);
    qk_buf_free(&b);
    return rc;
}
