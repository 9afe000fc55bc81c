/* SPDX-License-Identifier: MIT */
/*
 * prune.c: hive partition pruning before download (lake_int.h; docs/internals/lake-resolve.md).
 *
 * Only for the simplest shape, where it is provably right: one SELECT (no CTE) whose FROM is
 * exactly one multi-file table function (read_parquet, parquet_scan, read_csv, read_csv_auto)
 * on this glob, with hive_partitioning set to true, no union_by_name / hive_types /
 * hive_types_autocast, the glob written once in the query, and a WHERE. Its top-level AND
 * conjuncts that use only partition columns (the `name=value` folders of the keys), constants,
 * comparisons, casts and deterministic functions are evaluated by DuckDB itself: one tiny
 * placeholder CSV per key at <probe>/<key>, then
 *   SELECT filename FROM read_csv('<probe>/<glob>', hive_partitioning=true, ...) WHERE <kept>
 * so the partition values and their types (DATE, BIGINT, VARCHAR ...) come from the same
 * multi-file reader code the query will use. All rows of a file share its partition values and
 * WHERE drops FALSE and NULL rows alike, so a file whose values fail a conjunct adds nothing.
 * Fewer files could change the types DuckDB infers, so the query gets hive_types pinned to the
 * types of the full set. Any failure: keep every file.
 *
 * Delta file skipping (names.c, delta/skip.h) reuses the same test of what a conjunct may hold
 * (qk_lake_expr_ok, with its own rule for column references): the WHERE of the SELECT whose
 * FROM is the Delta reference, or INNER-joins it, becomes a qk_delta_pred tree. Conjuncts over
 * the table's partition columns only are exact pieces; col op constant, BETWEEN, IN and IS
 * [NOT] NULL on a data column are bound checks; AND keeps what it can use, OR needs all. The
 * pieces (partition expressions, constants) are rendered back to SQL by DuckDB in one
 * json_deserialize_sql, each with a unique alias that marks where it ends.
 */
#include "core/json.h"
#include "lake/lake_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PARTS 32 /* partition columns we handle */

typedef struct part_cols {
    char *name[MAX_PARTS];
    size_t n;
} part_cols;

/* How many JSON strings in j equal s. */
static size_t count_string(json_t *j, const char *s)
{
    const char *k;
    json_t *v;
    size_t i, n = 0;
    if (json_is_string(j)) return !strcmp(json_string_value(j), s);
    if (json_is_object(j)) json_object_foreach(j, k, v) n += count_string(v, s);
    if (json_is_array(j)) json_array_foreach(j, i, v) n += count_string(v, s);
    return n;
}

const char *qk_lake_param_name(json_t *c)
{
    json_t *l = json_object_get(c, "left"), *names = json_object_get(l, "column_names");
    if (strcmp(qk_json_str(c, "class"), "COMPARISON") ||
        strcmp(qk_json_str(c, "type"), "COMPARE_EQUAL") ||
        strcmp(qk_json_str(l, "class"), "COLUMN_REF") || json_array_size(names) != 1)
        return NULL;
    return json_string_value(json_array_get(names, 0));
}

json_t *qk_lake_param(json_t *fn, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(fn, "children"), i, c)
    {
        const char *p = i ? qk_lake_param_name(c) : NULL;
        if (p && !strcasecmp(p, name)) return c;
    }
    return NULL;
}

json_t *qk_lake_call_args(duckdb_connection con, const char *mark, const char *args, qk_err *err)
{
    qk_buf b;
    json_t *t = NULL, *ch = NULL;
    qk_buf_init(&b, strlen(args) + 64);
    if (qk_buf_printf(&b, "SELECT * FROM f(%s)", args) == 0 &&
        qk_lake_parse(con, qk_buf_cstr(&b), mark, &t, err) == 0) {
        json_t *node = json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node");
        ch = json_incref(json_object_get(
            json_object_get(json_object_get(node, "from_table"), "function"), "children"));
    }
    json_decref(t);
    qk_buf_free(&b);
    return ch;
}

/* A constant that is true: 1, true, or the parser's CAST('t' AS BOOLEAN). */
static bool const_true(json_t *c)
{
    json_t *v = json_object_get(c, "value"), *x = json_object_get(v, "value");
    if (!strcmp(qk_json_str(c, "class"), "CAST") &&
        !strcmp(qk_json_str(json_object_get(c, "cast_type"), "id"), "BOOLEAN")) {
        json_t *cv = json_object_get(json_object_get(c, "child"), "value");
        const char *t = qk_json_str(cv, "value");
        return !json_is_true(json_object_get(cv, "is_null")) &&
               (!strcasecmp(t, "t") || !strcasecmp(t, "true"));
    }
    if (strcmp(qk_json_str(c, "class"), "CONSTANT") || json_is_true(json_object_get(v, "is_null")))
        return false;
    return json_is_true(x) || (json_is_integer(x) && json_integer_value(x) != 0);
}

/* The table function node when the statement has the shape pruning needs, else NULL. */
static json_t *find_target(json_t *ast, const char *uri, json_t **where)
{
    json_t *node = json_object_get(json_array_get(json_object_get(ast, "statements"), 0), "node");
    json_t *from = json_object_get(node, "from_table"), *fn = json_object_get(from, "function");
    json_t *ch = json_object_get(fn, "children"), *c0 = json_array_get(ch, 0), *c;
    const char *f = qk_json_str(fn, "function_name");
    bool hive = false;
    size_t i;
    *where = json_object_get(node, "where_clause");
    if (strcmp(qk_json_str(node, "type"), "SELECT_NODE") ||
        strcmp(qk_json_str(from, "type"), "TABLE_FUNCTION") ||
        json_array_size(json_object_get(json_object_get(node, "cte_map"), "map")) != 0 ||
        !json_is_object(*where) || count_string(ast, uri) != 1)
        return NULL;
    if (strcmp(f, "read_parquet") && strcmp(f, "parquet_scan") && strcmp(f, "read_csv") &&
        strcmp(f, "read_csv_auto"))
        return NULL;
    if (strcmp(qk_json_str(c0, "class"), "CONSTANT") ||
        strcmp(qk_json_str(json_object_get(json_object_get(c0, "value"), "type"), "id"),
               "VARCHAR") ||
        strcmp(qk_json_str(json_object_get(c0, "value"), "value"), uri))
        return NULL;
    json_array_foreach(ch, i, c)
    {
        const char *p = i ? qk_lake_param_name(c) : "";
        if (!p) return NULL;
        if (!strcasecmp(p, "hive_partitioning")) hive = const_true(json_object_get(c, "right"));
        if (!strcasecmp(p, "union_by_name") || !strcasecmp(p, "hive_types") ||
            !strcasecmp(p, "hive_types_autocast"))
            return NULL;
    }
    return hive ? fn : NULL;
}

/* Partition column names from the folders of key ("a=1/b=x/f.parquet" -> a, b). */
static bool parse_parts(const char *key, part_cols *pc)
{
    const char *s = key, *e, *eq;
    while ((e = strchr(s, '/')) != NULL) {
        eq = memchr(s, '=', (size_t)(e - s));
        if (eq && eq > s) {
            if (pc->n == MAX_PARTS) return false;
            pc->name[pc->n++] = strndup(s, (size_t)(eq - s));
            if (!pc->name[pc->n - 1] || !strcasecmp(pc->name[pc->n - 1], "filename") ||
                !strcasecmp(pc->name[pc->n - 1], "_qk_probe"))
                return false;
        }
        s = e + 1;
    }
    return pc->n > 0;
}

static bool is_part(const part_cols *pc, const char *name)
{
    for (size_t i = 0; i < pc->n; i++)
        if (!strcasecmp(pc->name[i], name)) return true;
    return false;
}

/* Functions whose value is not a function of their arguments within one query. */
bool qk_lake_volatile_fn(const char *f)
{
    static const char *const deny[] = {"random",
                                       "uuid",
                                       "gen_random_uuid",
                                       "uuidv4",
                                       "uuidv7",
                                       "setseed",
                                       "nextval",
                                       "currval",
                                       "now",
                                       "today",
                                       "get_current_time",
                                       "get_current_timestamp",
                                       "transaction_timestamp",
                                       "getvariable",
                                       "current_setting"};
    if (!strncasecmp(f, "current_", 8)) return true;
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++)
        if (!strcasecmp(f, deny[i])) return true;
    return false;
}

bool qk_lake_expr_ok(json_t *e, qk_lake_col_fn col_ok, void *ud)
{
    static const char *const allow[] = {"CONSTANT", "COMPARISON", "CONJUNCTION",
                                        "OPERATOR", "BETWEEN",    "CAST",
                                        "CASE",     "FUNCTION",   "COLUMN_REF"};
    const char *k, *cls;
    json_t *v;
    size_t i;
    bool known = false;
    if (json_is_array(e)) {
        json_array_foreach(e, i, v) if (!qk_lake_expr_ok(v, col_ok, ud)) return false;
        return true;
    }
    if (!json_is_object(e)) return true;
    cls = qk_json_str(e, "class");
    if (*cls) {
        for (i = 0; i < sizeof allow / sizeof allow[0]; i++)
            known |= !strcmp(cls, allow[i]);
        if (!known) return false;
        if (!strcmp(cls, "COLUMN_REF")) return col_ok(e, ud);
        if (!strcmp(cls, "FUNCTION") && qk_lake_volatile_fn(qk_json_str(e, "function_name")))
            return false;
    }
    json_object_foreach(e, k, v) if (!qk_lake_expr_ok(v, col_ok, ud)) return false;
    return true;
}

/* A column reference naming one partition column (qk_lake_col_fn over a part_cols). */
static bool part_ref(json_t *ref, void *ud)
{
    json_t *n = json_object_get(ref, "column_names");
    const char *name = json_string_value(json_array_get(n, 0));
    return json_array_size(n) == 1 && name && is_part(ud, name);
}

/* May expression e (any JSON under a WHERE conjunct) be evaluated over partition values? */
static bool expr_ok(json_t *e, const part_cols *pc)
{
    return qk_lake_expr_ok(e, part_ref, (void *)pc);
}

/* The AND of the WHERE conjuncts that only use partition columns (new reference), or NULL. */
static json_t *partition_filter(json_t *where, const part_cols *pc)
{
    json_t *kept = json_array(), *c, *out = NULL;
    size_t i;
    bool and = !strcmp(qk_json_str(where, "type"), "CONJUNCTION_AND");
    if (!kept) return NULL;
    if (!and) {
        if (expr_ok(where, pc)) out = json_deep_copy(where);
        json_decref(kept);
        return out;
    }
    json_array_foreach(json_object_get(where, "children"), i, c)
    {
        if (expr_ok(c, pc)) json_array_append_new(kept, json_deep_copy(c));
    }
    if (json_array_size(kept) == 1)
        out = json_incref(json_array_get(kept, 0));
    else if (json_array_size(kept) > 1 && (out = json_deep_copy(where)) != NULL)
        json_object_set(out, "children", kept);
    json_decref(kept);
    return out;
}

/* Append s to b with single quotes doubled (a SQL string body). */
static int add_quoted(qk_buf *b, const char *s, char q)
{
    int rc = 0;
    for (; *s && !rc; s++)
        rc = (*s == q) ? qk_buf_add(b, s, 1) || qk_buf_add(b, s, 1) : qk_buf_add(b, s, 1);
    return rc;
}

/* One placeholder per key: <probe>/<key> holding one CSV row. */
static int write_placeholders(const char *probe, char *const *keys, size_t n)
{
    qk_err e;
    for (size_t i = 0; i < n; i++) {
        char *p = NULL, *slash;
        FILE *f;
        if (asprintf(&p, "%s/%s", probe, keys[i]) < 0) return -1;
        slash = strrchr(p, '/');
        *slash = 0;
        if (qk_mkdirs(p, &e)) return free(p), -1;
        *slash = '/';
        f = fopen(p, "w");
        free(p);
        if (!f) return -1;
        fputs("1\n", f);
        if (fclose(f)) return -1;
    }
    return 0;
}

/* Run sql and call row(ud, values) for each row of its VARCHAR columns (at most MAX_PARTS+1). */
typedef void (*row_fn)(void *ud, const char *const *vals, size_t ncol);

static int for_rows(duckdb_connection con, const char *sql, row_fn row, void *ud)
{
    duckdb_result res;
    duckdb_data_chunk ch;
    int rc = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        duckdb_destroy_result(&res);
        return -1;
    }
    while (!rc && (ch = duckdb_fetch_chunk(res)) != NULL) {
        size_t ncol = duckdb_data_chunk_get_column_count(ch), nrow = duckdb_data_chunk_get_size(ch);
        if (ncol > MAX_PARTS + 1) rc = -1;
        for (size_t r = 0; !rc && r < nrow; r++) {
            char *vals[MAX_PARTS + 1] = {0};
            for (size_t c = 0; c < ncol; c++) {
                duckdb_vector v = duckdb_data_chunk_get_vector(ch, c);
                uint64_t *valid = duckdb_vector_get_validity(v);
                duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + r;
                if (valid && !duckdb_validity_row_is_valid(valid, r)) continue;
                vals[c] = strndup(duckdb_string_t_data(s), duckdb_string_t_length(*s));
            }
            row(ud, (const char *const *)vals, ncol);
            for (size_t c = 0; c < ncol; c++)
                free(vals[c]);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    duckdb_destroy_result(&res);
    return rc;
}

typedef struct probe_ud {
    const char *probe;
    char *const *keys;
    size_t n;
    bool *keep;
    char *types[MAX_PARTS];
    size_t ntypes;
} probe_ud;

/* Free the partition column names and the probed types. */
static void probe_free(part_cols *pc, probe_ud *p)
{
    for (size_t i = 0; i < pc->n; i++)
        free(pc->name[i]);
    for (size_t i = 0; i < p->ntypes; i++)
        free(p->types[i]);
}

static void keep_row(void *ud, const char *const *vals, size_t ncol)
{
    probe_ud *p = ud;
    size_t pl = strlen(p->probe);
    const char *f = vals[0];
    (void)ncol;
    if (!f || strncmp(f, p->probe, pl) || f[pl] != '/') return;
    for (size_t i = 0; i < p->n; i++) /* linear: fine for thousands of partitions */
        if (!strcmp(p->keys[i], f + pl + 1)) p->keep[i] = true;
}

static void types_row(void *ud, const char *const *vals, size_t ncol)
{
    probe_ud *p = ud;
    for (size_t c = 0; c < ncol && c < MAX_PARTS && !p->ntypes; c++)
        if (!vals[c]) return;
    for (size_t c = 0; c < ncol && !p->ntypes; c++)
        p->types[c] = strdup(vals[c]);
    if (!p->ntypes) p->ntypes = ncol;
}

/* "read_csv('<probe>/<pattern>', hive_partitioning=true, ...)"; with pattern NULL the list of
 * every placeholder of p instead. */
static int probe_call(qk_buf *b, const char *probe, const char *pattern, const probe_ud *p)
{
    int rc = qk_buf_adds(b, pattern ? "read_csv(" : "read_csv([");
    for (size_t i = 0; !rc && i < (pattern ? 1 : p->n); i++) {
        rc = qk_buf_adds(b, i ? ", '" : "'");
        if (!rc) rc = add_quoted(b, probe, '\'');
        if (!rc) rc = qk_buf_adds(b, "/");
        if (!rc) rc = add_quoted(b, pattern ? pattern : p->keys[i], '\'');
        if (!rc) rc = qk_buf_adds(b, "'");
    }
    if (!rc)
        rc = qk_buf_adds(
            b, pattern ? ", hive_partitioning=true, header=false, "
                         "columns={'_qk_probe': 'VARCHAR'}, filename=true, auto_detect=false)"
                       : "], hive_partitioning=true, header=false, "
                         "columns={'_qk_probe': 'VARCHAR'}, filename=true, auto_detect=false)");
    return rc;
}

/* The probe query: the kept conjuncts spliced into a template's AST. */
static int probe_sql(duckdb_connection con, const char *mark, const char *probe,
                     const char *pattern, json_t *filter, char **out)
{
    qk_buf b;
    json_t *t = NULL;
    qk_err e;
    int rc;
    qk_buf_init(&b, 1u << 20);
    rc = qk_buf_adds(&b, "SELECT filename FROM ");
    if (!rc) rc = probe_call(&b, probe, pattern, NULL);
    if (!rc) rc = qk_buf_adds(&b, " WHERE true");
    if (!rc) rc = qk_lake_parse(con, qk_buf_cstr(&b), mark, &t, &e);
    if (!rc) {
        json_t *node = json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node");
        rc = json_object_set(node, "where_clause", filter) ? -1 : 0;
    }
    if (!rc) rc = qk_lake_render(con, t, mark, out, &e);
    json_decref(t);
    qk_buf_free(&b);
    return rc;
}

/* SELECT typeof("a"), ... over every placeholder: the partition types of the full set. */
static int probe_types(duckdb_connection con, const char *probe, const char *pattern,
                       const part_cols *pc, probe_ud *p)
{
    qk_buf b;
    int rc;
    qk_buf_init(&b, 1u << 20);
    rc = qk_buf_adds(&b, "SELECT ");
    for (size_t i = 0; !rc && i < pc->n; i++) {
        rc = qk_buf_adds(&b, i ? ", typeof(\"" : "typeof(\"");
        if (!rc) rc = add_quoted(&b, pc->name[i], '"');
        if (!rc) rc = qk_buf_adds(&b, "\")");
    }
    if (!rc) rc = qk_buf_adds(&b, " FROM ");
    if (!rc) rc = probe_call(&b, probe, pattern, p);
    if (!rc) rc = qk_buf_adds(&b, " LIMIT 1");
    if (!rc) rc = for_rows(con, qk_buf_cstr(&b), types_row, p);
    qk_buf_free(&b);
    return rc || p->ntypes != pc->n ? -1 : 0;
}

/* Add hive_types={'a': 'DATE', ...} to the table function fn. */
static int pin_types(duckdb_connection con, const char *mark, json_t *fn, const part_cols *pc,
                     const probe_ud *p)
{
    qk_buf b;
    json_t *args = NULL, *param;
    qk_err e;
    int rc;
    qk_buf_init(&b, 1u << 20);
    rc = qk_buf_adds(&b, "'x', hive_types={");
    for (size_t i = 0; !rc && i < pc->n; i++) {
        rc = qk_buf_adds(&b, i ? ", '" : "'");
        if (!rc) rc = add_quoted(&b, pc->name[i], '\'');
        if (!rc) rc = qk_buf_adds(&b, "': '");
        if (!rc) rc = add_quoted(&b, p->types[i], '\'');
        if (!rc) rc = qk_buf_adds(&b, "'");
    }
    if (!rc) rc = qk_buf_adds(&b, "}");
    if (!rc && !(args = qk_lake_call_args(con, mark, qk_buf_cstr(&b), &e))) rc = -1;
    if (!rc) {
        param = json_array_get(args, 1);
        rc = param ? json_array_append(json_object_get(fn, "children"), param) : -1;
    }
    json_decref(args);
    qk_buf_free(&b);
    return rc;
}

size_t qk_lake_prune(duckdb_connection con, json_t *ast, const char *mark, const char *uri,
                     const char *pattern, const char *probe_dir, char *const *keys, size_t n,
                     bool *keep)
{
    part_cols pc = {{0}, 0};
    probe_ud p = {probe_dir, keys, n, keep, {0}, 0};
    json_t *where, *fn = find_target(ast, uri, &where), *filter = NULL;
    char *sql = NULL;
    size_t kept = 0;
    bool pruned = false;
    for (size_t i = 0; i < n; i++)
        keep[i] = false;
    if (!fn || !n || !parse_parts(keys[0], &pc) || !(filter = partition_filter(where, &pc)))
        goto out;
    if (write_placeholders(probe_dir, keys, n) || probe_types(con, probe_dir, pattern, &pc, &p) ||
        probe_sql(con, mark, probe_dir, pattern, filter, &sql) || for_rows(con, sql, keep_row, &p))
        goto out;
    for (size_t i = 0; i < n; i++)
        kept += keep[i];
    if (kept == n) goto out;
    if (kept == 0) keep[0] = true, kept = 1; /* an empty glob is an error; one file gives 0 rows */
    pruned = pin_types(con, mark, fn, &pc, &p) == 0;
out:
    if (!pruned) {
        for (size_t i = 0; i < n; i++)
            keep[i] = true;
        kept = n;
    }
    qk_rmtree(probe_dir, false, NULL);
    probe_free(&pc, &p);
    json_decref(filter);
    free(sql);
    return kept;
}

/* Do fn's named parameters leave DuckDB to infer hive partition types? (No hive_types or
 * hive_types_autocast, and hive_partitioning not set to something other than true.) */
static bool infers_hive_types(json_t *fn)
{
    json_t *hp = qk_lake_param(fn, "hive_partitioning");
    if (hp && !const_true(json_object_get(hp, "right"))) return false;
    return !qk_lake_param(fn, "hive_types") && !qk_lake_param(fn, "hive_types_autocast");
}

/* Do all keys have the partition columns of pc, in the same order? */
static bool same_parts(char *const *keys, size_t n, const part_cols *pc)
{
    for (size_t i = 1; i < n; i++) {
        part_cols o = {{0}, 0};
        bool same = parse_parts(keys[i], &o) && o.n == pc->n;
        for (size_t k = 0; k < o.n; k++) {
            if (same && strcmp(o.name[k], pc->name[k]) != 0) same = false;
            free(o.name[k]);
        }
        if (!same) return false;
    }
    return true;
}

int qk_lake_pin_hive(qk_engine *e, duckdb_connection con, json_t *fn, const char *mark,
                     const qk_obj_list *files)
{
    part_cols pc = {{0}, 0};
    probe_ud p = {NULL, NULL, files->n, NULL, {0}, 0};
    char **keys = NULL, *probe = NULL, id[37];
    int rc = 0;
    if (!files->n || !infers_hive_types(fn)) return 0;
    keys = calloc(files->n, sizeof *keys);
    qk_uuid4(id);
    if (!keys || asprintf(&probe, "%s/pin-%s", qk_engine_temp_dir(e), id) < 0) {
        free(keys);
        return -1;
    }
    for (size_t i = 0; i < files->n; i++) {
        const char *k = files->v[i].key;
        keys[i] = (char *)(qk_str_startswith(k, "s3://") ? k + 5 : k[0] == '/' ? k + 1 : k);
    }
    p.probe = probe;
    p.keys = keys;
    if (parse_parts(keys[0], &pc)) {
        rc = !same_parts(keys, files->n, &pc) || write_placeholders(probe, keys, files->n) ||
                     probe_types(con, probe, NULL, &pc, &p) || pin_types(con, mark, fn, &pc, &p)
                 ? -1
                 : 0;
        qk_rmtree(probe, false, NULL);
    }
    probe_free(&pc, &p);
    free(keys);
    free(probe);
    return rc;
}

/* ---- Delta file skipping: the WHERE as a qk_delta_pred tree (skip.h) ----------------------- */

#define DF_PIECES_MAX 4096 /* SQL pieces rendered for one table reference */
#define DF_DEPTH_MAX 64

typedef struct dfilter {
    const qk_delta_metadata *m;
    const char *alias;
    bool bare; /* bare column names are the table's: it is alone in its FROM */
    qk_arena *a;
    json_t *pieces; /* expressions to render, in order (borrowed nodes) */
    const char **slots[DF_PIECES_MAX];
} dfilter;

/* The schema column a COLUMN_REF names (bare, or qualified by the table's alias), or -1. */
static int df_column(const dfilter *df, json_t *ref)
{
    json_t *n = json_object_get(ref, "column_names");
    const char *q = json_string_value(json_array_get(n, 0)), *name = NULL;
    if (strcmp(qk_json_str(ref, "class"), "COLUMN_REF") || !q) return -1;
    if (json_array_size(n) == 1 && df->bare) name = q;
    if (json_array_size(n) == 2 && !strcasecmp(q, df->alias))
        name = json_string_value(json_array_get(n, 1));
    for (size_t i = 0; name && i < df->m->ncolumns; i++)
        if (!strcasecmp(df->m->columns[i].name, name)) return (int)i;
    return -1;
}

static bool df_part_ref(json_t *ref, void *ud)
{
    const dfilter *df = ud;
    int c = df_column(df, ref);
    return c >= 0 && df->m->columns[c].partition >= 0;
}

static bool no_ref(json_t *ref, void *ud)
{
    (void)ref;
    (void)ud;
    return false;
}

/* The data column e names, or -1 (partition columns are handled exactly, elsewhere). */
static int df_data_column(const dfilter *df, json_t *e)
{
    int c = df_column(df, e);
    return c >= 0 && df->m->columns[c].partition < 0 ? c : -1;
}

/* Queue e (a constant or a partition expression) to be rendered into *slot. */
static bool df_piece(dfilter *df, json_t *e, const char **slot)
{
    size_t n = json_array_size(df->pieces);
    if (n == DF_PIECES_MAX || json_array_append(df->pieces, e)) return false;
    df->slots[n] = slot;
    return true;
}

static qk_delta_pred *df_new(dfilter *df, int kind, size_t nvalues)
{
    qk_delta_pred *p = qk_arena_alloc(df->a, sizeof *p);
    const char **v = nvalues ? qk_arena_alloc(df->a, nvalues * sizeof *v) : NULL;
    if (!p || (nvalues && !v)) return NULL;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->values = v;
    p->nvalues = nvalues;
    return p;
}

/* column <op> constants: values[i] from consts[i]. */
static qk_delta_pred *df_on_column(dfilter *df, int kind, int op, int col, json_t **consts,
                                   size_t n)
{
    qk_delta_pred *p;
    if (col < 0) return NULL;
    for (size_t i = 0; i < n; i++)
        if (!qk_lake_expr_ok(consts[i], no_ref, NULL)) return NULL;
    if (!(p = df_new(df, kind, n))) return NULL;
    p->op = op;
    p->column = (size_t)col;
    for (size_t i = 0; i < n; i++)
        if (!df_piece(df, consts[i], (const char **)&p->values[i])) return NULL;
    return p;
}

/* col op const, or const op col (mirrored). */
static qk_delta_pred *df_compare(dfilter *df, json_t *e)
{
    static const char *const ops[] = {"COMPARE_LESSTHAN", "COMPARE_LESSTHANOREQUALTO",
                                      "COMPARE_EQUAL", "COMPARE_GREATERTHANOREQUALTO",
                                      "COMPARE_GREATERTHAN"};
    json_t *l = json_object_get(e, "left"), *r = json_object_get(e, "right");
    int op = -1, col = df_data_column(df, l);
    for (int i = 0; i < 5; i++)
        if (!strcmp(qk_json_str(e, "type"), ops[i])) op = i;
    if (op < 0) return NULL;
    if (col < 0) { /* const op col: col (mirrored op) const */
        json_t *t = l;
        l = r;
        r = t;
        col = df_data_column(df, l);
        op = QK_DELTA_GT - op;
    }
    return df_on_column(df, QK_DELTA_P_CMP, op, col, &r, 1);
}

static qk_delta_pred *df_between(dfilter *df, json_t *e)
{
    json_t *b[2] = {json_object_get(e, "lower"), json_object_get(e, "upper")};
    if (strcmp(qk_json_str(e, "type"), "COMPARE_BETWEEN")) return NULL;
    return df_on_column(df, QK_DELTA_P_BETWEEN, 0, df_data_column(df, json_object_get(e, "input")),
                        b, 2);
}

/* col IN (constants), col IS [NOT] NULL. */
static qk_delta_pred *df_operator(dfilter *df, json_t *e)
{
    const char *t = qk_json_str(e, "type");
    json_t *ch = json_object_get(e, "children"), *consts[256];
    size_t n = json_array_size(ch);
    int col = df_data_column(df, json_array_get(ch, 0));
    if (!strcmp(t, "OPERATOR_IS_NULL") && n == 1)
        return df_on_column(df, QK_DELTA_P_NULL, 0, col, NULL, 0);
    if (!strcmp(t, "OPERATOR_IS_NOT_NULL") && n == 1)
        return df_on_column(df, QK_DELTA_P_NOT_NULL, 0, col, NULL, 0);
    if (strcmp(t, "COMPARE_IN") || n < 2 || n - 1 > sizeof consts / sizeof consts[0]) return NULL;
    for (size_t i = 1; i < n; i++)
        consts[i - 1] = json_array_get(ch, i);
    return df_on_column(df, QK_DELTA_P_IN, 0, col, consts, n - 1);
}

static const qk_delta_pred *df_pred(dfilter *df, json_t *e, int depth);

/* AND keeps the kids it can use (fewer conjuncts only keep more files); OR needs them all. */
static qk_delta_pred *df_junction(dfilter *df, json_t *e, bool and, int depth)
{
    json_t *ch = json_object_get(e, "children"), *c;
    size_t n = json_array_size(ch), i;
    qk_delta_pred *p = df_new(df, and? QK_DELTA_P_AND : QK_DELTA_P_OR, 0);
    const qk_delta_pred **kids;
    if (!p || !n || !(kids = qk_arena_alloc(df->a, n * sizeof *kids))) return NULL;
    json_array_foreach(ch, i, c)
    {
        const qk_delta_pred *k = df_pred(df, c, depth + 1);
        if (!k && !and) return NULL;
        if (k) kids[p->nkids++] = k;
    }
    p->kids = kids;
    return p->nkids ? p : NULL;
}

static const qk_delta_pred *df_pred(dfilter *df, json_t *e, int depth)
{
    const char *cls = qk_json_str(e, "class"), *type = qk_json_str(e, "type");
    qk_delta_pred *p;
    if (depth > DF_DEPTH_MAX) return NULL;
    if (qk_lake_expr_ok(e, df_part_ref, df)) { /* partition columns and constants: exact */
        p = df_new(df, QK_DELTA_P_EXACT, 0);
        return p && df_piece(df, e, &p->sql) ? p : NULL;
    }
    if (!strcmp(cls, "CONJUNCTION") && !strcmp(type, "CONJUNCTION_AND"))
        return df_junction(df, e, true, depth);
    if (!strcmp(cls, "CONJUNCTION") && !strcmp(type, "CONJUNCTION_OR"))
        return df_junction(df, e, false, depth);
    if (!strcmp(cls, "COMPARISON")) return df_compare(df, e);
    if (!strcmp(cls, "BETWEEN")) return df_between(df, e);
    if (!strcmp(cls, "OPERATOR")) return df_operator(df, e);
    return NULL;
}

/* Is ref in the join tree from through INNER (or CROSS) joins only? *leaves counts its tables. */
static bool df_in_from(json_t *from, json_t *ref, size_t *leaves, bool *found)
{
    if (from == ref) *found = true;
    if (strcmp(qk_json_str(from, "type"), "JOIN")) return ++*leaves, true;
    if (strcmp(qk_json_str(from, "join_type"), "INNER") ||
        (strcmp(qk_json_str(from, "ref_type"), "REGULAR") &&
         strcmp(qk_json_str(from, "ref_type"), "CROSS")))
        return false;
    return df_in_from(json_object_get(from, "left"), ref, leaves, found) &&
           df_in_from(json_object_get(from, "right"), ref, leaves, found);
}

/* Where piece i ends in the rendering of "SELECT p0 AS tag_0, p1 AS tag_1, ...": the offset of
 * " AS tag_i" (quoted or not) at or after from, followed by ", " or the end. */
static const char *df_piece_end(const char *text, const char *tag, const char **next)
{
    char bare[96], quoted[96];
    snprintf(bare, sizeof bare, " AS %s", tag);
    snprintf(quoted, sizeof quoted, " AS \"%s\"", tag);
    for (const char *p = text; (p = strstr(p, " AS ")) != NULL; p++) {
        const char *pat[2] = {bare, quoted};
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(pat[k]);
            if (!strncmp(p, pat[k], n) && (p[n] == 0 || !strncmp(p + n, ", ", 2))) {
                *next = p[n] ? p + n + 2 : p + n;
                return p;
            }
        }
    }
    return NULL;
}

/* Render every queued piece with one json_deserialize_sql: each gets a unique alias made from
 * the mark (a fresh uuid), which tells where it ends. */
static bool df_render(dfilter *df, duckdb_connection con, const char *mark)
{
    json_t *t = NULL, *list = json_array(), *e;
    char *text = NULL, hex[40] = "";
    const char *p;
    size_t i, h = 0;
    qk_err err;
    bool ok = false;
    for (const char *m = mark; *m && h < 32; m++)
        if ((*m >= '0' && *m <= '9') || (*m >= 'a' && *m <= 'f')) hex[h++] = *m;
    hex[h] = 0;
    json_array_foreach(df->pieces, i, e)
    {
        json_t *c = json_deep_copy(e);
        char tag[64];
        snprintf(tag, sizeof tag, "qk%s_%zu", hex, i);
        if (!c || json_object_set_new(c, "alias", json_string(tag)) ||
            json_array_append_new(list, c))
            goto out;
    }
    if (!list || qk_lake_parse(con, "SELECT 1", mark, &t, &err)) goto out;
    if (json_object_set(
            json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node"),
            "select_list", list) ||
        qk_lake_render(con, t, mark, &text, &err) || strncmp(text, "SELECT ", 7))
        goto out;
    p = text + 7;
    for (i = 0; i < json_array_size(df->pieces); i++) {
        char tag[64];
        const char *next, *end;
        snprintf(tag, sizeof tag, "qk%s_%zu", hex, i);
        if (!(end = df_piece_end(p, tag, &next))) goto out;
        if (!(*df->slots[i] = qk_arena_strndup(df->a, p, (size_t)(end - p)))) goto out;
        p = next;
    }
    ok = true;
out:
    json_decref(list);
    json_decref(t);
    free(text);
    return ok;
}

const qk_delta_pred *qk_lake_delta_filter(duckdb_connection con, const char *mark, json_t *select,
                                          json_t *ref, const char *alias,
                                          const qk_delta_metadata *m, qk_arena *a)
{
    json_t *where = json_object_get(select, "where_clause");
    json_t *sample = json_object_get(ref, "sample");
    dfilter df = {m, alias, false, a, NULL, {0}};
    const qk_delta_pred *p = NULL;
    size_t leaves = 0;
    bool found = false;
    if (strcmp(qk_json_str(select, "type"), "SELECT_NODE") || !json_is_object(where) ||
        (sample && !json_is_null(sample)) ||
        json_array_size(json_object_get(ref, "column_name_alias")) != 0 ||
        !df_in_from(json_object_get(select, "from_table"), ref, &leaves, &found) || !found)
        return NULL;
    df.bare = leaves == 1;
    if (!(df.pieces = json_array())) return NULL;
    p = df_pred(&df, where, 0);
    if (p && json_array_size(df.pieces) && !df_render(&df, con, mark)) p = NULL;
    json_decref(df.pieces);
    return p;
}
