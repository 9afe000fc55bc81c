/* SPDX-License-Identifier: MIT */
/*
 * plan.c: the quack-reduce planner (plan.h; docs/internals/dist.md).
 *
 * 1. Parse with DuckDB (json_serialize_sql) and bind lake table names (nothing is fetched).
 * 2. Shape: one SELECT_NODE, no CTE, FROM one table function call whose first argument is a
 *    path, a glob or a list of them (read_parquet, read_csv, read_json ...), or a join of such
 *    calls where the biggest is sharded and the others (at most small_bytes together) are
 *    read whole by every map, when the joins distribute over the sharded input (plan_join.c).
 *    Anything else runs unsplit, with the reason.
 * 3. Files: the argument's files (s3:// LIST/HEAD, local DuckDB glob()), grouped in order into
 *    shards of about shard_bytes.
 * 4. Rewrite, as SQL text built from DuckDB-rendered expressions:
 *    - aggregate queries: map = GROUP BY keys (as "__k<j>") + partial aggregates ("__a<i>...")
 *      (+ the DISTINCT aggregates' argument as "__d"); reduce = the combine of the partials
 *      grouped by the keys, with HAVING, ORDER BY, LIMIT/OFFSET, every output cast to the
 *      original query's type and named as it is;
 *    - other queries: map = the query without ORDER BY/LIMIT (top-k pushed when there is a
 *      LIMIT: ORDER BY ... LIMIT n+m), reduce = SELECT [DISTINCT] * over the partials with the
 *      ORDER BY, LIMIT and OFFSET.
 *    (plan_sql.c fills the templates in and wraps them for the trip through Parquet.)
 * 5. Check with DuckDB on one file: DESCRIBE the original query and the map; run the map with
 *    LIMIT 0 into a probe Parquet and DESCRIBE the reduce over it: the reduce must give the
 *    original's column names and types exactly, or the query runs unsplit.
 */
#include "core/json.h"
#include "dist/dist_int.h"
#include "dist/plan.h"
#include "dist/worker.h"
#include "lake/resolve.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_AGGS 64
#define MAX_KEYS 64
#define MAX_JOIN_INPUTS 16
#define SQL_MAX QK_DIST_PLAN_SQL_MAX

/* How one decomposable aggregate splits. SPLIT_ONE: one partial column "__a<i>" = map_fn(arg)
 * per shard, combined by reduce_fn (count's sums start at 0: a count is never NULL). SPLIT_AVG:
 * sum and count. SPLIT_VAR: count, mean and M2 per shard, merged with Chan et al.'s formula;
 * samp divides by n - 1, sd takes the square root. A DISTINCT aggregate (not SPLIT_VAR, not
 * count(*)) is the same function over the distinct argument "__d" in the reduce. */
typedef enum { SPLIT_ONE, SPLIT_AVG, SPLIT_VAR } split_kind;

typedef struct agg_rule {
    const char *name; /* DuckDB's function name */
    split_kind split;
    const char *map_fn, *reduce_fn; /* SPLIT_ONE */
    bool zero;                      /* SPLIT_ONE: coalesce the combine to 0 */
    bool samp, sd;                  /* SPLIT_VAR */
} agg_rule;

static const agg_rule agg_rules[] = {
    {"count", SPLIT_ONE, "count", "sum", true, false, false},
    {"count_star", SPLIT_ONE, "count", "sum", true, false, false},
    {"sum", SPLIT_ONE, "sum", "sum", false, false, false},
    {"min", SPLIT_ONE, "min", "min", false, false, false},
    {"max", SPLIT_ONE, "max", "max", false, false, false},
    {"bool_and", SPLIT_ONE, "bool_and", "bool_and", false, false, false},
    {"bool_or", SPLIT_ONE, "bool_or", "bool_or", false, false, false},
    {"avg", SPLIT_AVG, NULL, NULL, false, false, false},
    {"mean", SPLIT_AVG, NULL, NULL, false, false, false},
    {"var_samp", SPLIT_VAR, NULL, NULL, false, true, false},
    {"variance", SPLIT_VAR, NULL, NULL, false, true, false},
    {"var_pop", SPLIT_VAR, NULL, NULL, false, false, false},
    {"stddev_samp", SPLIT_VAR, NULL, NULL, false, true, true},
    {"stddev", SPLIT_VAR, NULL, NULL, false, true, true},
    {"stddev_pop", SPLIT_VAR, NULL, NULL, false, false, true},
};

static const agg_rule *agg_rule_of(const char *name)
{
    for (size_t i = 0; i < sizeof agg_rules / sizeof *agg_rules; i++)
        if (!strcasecmp(name, agg_rules[i].name)) return &agg_rules[i];
    return NULL;
}

typedef struct agg {
    json_t *node; /* borrowed: the FUNCTION node in the AST */
    const agg_rule *rule;
    bool distinct;
    char *arg;    /* rendered argument (NULL for count(*)) */
    char *filter; /* rendered FILTER condition, or NULL */
} agg;

typedef struct pstate {
    qk_engine *e;
    duckdb_connection con;
    char mark[48];
    json_t *ast, *node, *tmpl; /* statement, its SELECT_NODE, a "SELECT 1" template */
    const json_t *aggnames;    /* set of DuckDB's aggregate function names (agg_names) */
    char reason[300];
    agg aggs[MAX_AGGS];
    size_t naggs;
    json_t *keys[MAX_KEYS]; /* group expressions (borrowed from the AST) */
    char *key_sql[MAX_KEYS];
    size_t nkeys;
    char *distinct_arg;
} pstate;

static bool unsplit(pstate *ps, const char *why)
{
    if (!ps->reason[0]) snprintf(ps->reason, sizeof ps->reason, "%s", why);
    return false;
}

/* ---- expressions ----------------------------------------------------------------------------- */

/* Structural equality ignoring query_location and alias. */
static bool same_expr(json_t *a, json_t *b)
{
    const char *k;
    json_t *v;
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_object(a)) {
        size_t na = 0, nb = 0;
        json_object_foreach(a, k, v)
        {
            if (!strcmp(k, "query_location") || !strcmp(k, "alias")) continue;
            na++;
            if (!same_expr(v, json_object_get(b, k) ? json_object_get(b, k) : json_null()))
                return false;
        }
        json_object_foreach(b, k, v)
        {
            if (strcmp(k, "query_location") != 0 && strcmp(k, "alias") != 0) nb++;
        }
        return na == nb;
    }
    if (json_is_array(a)) {
        size_t i;
        if (json_array_size(a) != json_array_size(b)) return false;
        json_array_foreach(a, i, v)
        {
            if (!same_expr(v, json_array_get(b, i))) return false;
        }
        return true;
    }
    return json_equal(a, b);
}

/* Render one expression as SQL text (caller frees). */
static int render_expr(pstate *ps, json_t *expr, char **out, qk_err *err)
{
    json_t *stmt = json_deep_copy(ps->tmpl), *node, *copy = json_deep_copy(expr);
    char *sql = NULL;
    int rc;
    *out = NULL;
    if (!stmt || !copy) {
        json_decref(stmt);
        json_decref(copy);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    json_object_set_new(copy, "alias", json_string(""));
    node = json_object_get(json_array_get(json_object_get(stmt, "statements"), 0), "node");
    json_array_set_new(json_object_get(node, "select_list"), 0, copy);
    rc = qk_lake_ast_render(ps->con, stmt, ps->mark, &sql, err);
    json_decref(stmt);
    if (rc) return rc;
    if (strncmp(sql, "SELECT ", 7) != 0) {
        free(sql);
        return qk_errf(err, QK_EINTERNAL, "cannot render an expression");
    }
    *out = qk_xstrdup(sql + 7);
    free(sql);
    return 0;
}

/* Parse "SELECT <text>" and return its expression node (new reference). */
static json_t *parse_expr(pstate *ps, const char *text, qk_err *err)
{
    qk_buf b;
    json_t *ast = NULL, *e = NULL;
    qk_buf_init(&b, SQL_MAX);
    if (qk_buf_printf(&b, "SELECT %s", text)) {
        qk_buf_free(&b);
        qk_errf(err, QK_ETOOBIG, "expression too long");
        return NULL;
    }
    if (qk_lake_ast_parse(ps->e, ps->con, qk_buf_cstr(&b), ps->mark, false, &ast, NULL, err) == 0) {
        e = json_array_get(
            json_object_get(
                json_object_get(json_array_get(json_object_get(ast, "statements"), 0), "node"),
                "select_list"),
            0);
        json_incref(e);
    }
    json_decref(ast);
    qk_buf_free(&b);
    return e;
}

static bool is_int_const(json_t *e, json_int_t *v)
{
    json_t *val = json_object_get(e, "value"), *x = json_object_get(val, "value");
    if (strcmp(qk_json_str(e, "class"), "CONSTANT") != 0 || !json_is_integer(x)) return false;
    *v = json_integer_value(x);
    return true;
}

typedef bool (*node_pred)(const pstate *ps, json_t *node, const char *arg);

/* Does pred hold for some object anywhere in j (j itself included)? */
static bool any_node(const pstate *ps, json_t *j, node_pred pred, const char *arg)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        if (pred(ps, j, arg)) return true;
        json_object_foreach(j, k, v)
        {
            if (any_node(ps, v, pred, arg)) return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (any_node(ps, v, pred, arg)) return true;
        }
    }
    return false;
}

static bool is_class(const pstate *ps, json_t *e, const char *cls)
{
    (void)ps;
    return !strcmp(qk_json_str(e, "class"), cls);
}

/* A call of a function whose value differs between workers (random(), now(), ...). */
static bool is_volatile(const pstate *ps, json_t *e, const char *unused)
{
    (void)ps, (void)unused;
    return is_class(ps, e, "FUNCTION") && qk_lake_volatile_fn(qk_json_str(e, "function_name"));
}

static bool is_aggregate_node(const pstate *ps, json_t *e, const char *unused)
{
    (void)unused;
    return is_class(ps, e, "FUNCTION") &&
           json_object_get(ps->aggnames, qk_json_str(e, "function_name")) != NULL;
}

static bool has_class(json_t *j, const char *cls)
{
    return any_node(NULL, j, is_class, cls);
}

static bool has_volatile(json_t *j)
{
    return any_node(NULL, j, is_volatile, NULL);
}

static bool is_aggregate(pstate *ps, json_t *e)
{
    return is_aggregate_node(ps, e, NULL);
}

static bool has_aggregate(pstate *ps, json_t *j)
{
    return any_node(ps, j, is_aggregate_node, NULL);
}

/* ---- aggregates ---------------------------------------------------------------------------- */

/* Record the aggregate node e (once per distinct aggregate). false: not splittable. */
static bool add_agg(pstate *ps, json_t *e, qk_err *err)
{
    agg a = {0};
    json_t *children = json_object_get(e, "children"), *filter = json_object_get(e, "filter");
    json_t *orders = json_object_get(json_object_get(e, "order_bys"), "orders");
    for (size_t i = 0; i < ps->naggs; i++)
        if (same_expr(ps->aggs[i].node, e)) return true;
    if (ps->naggs == MAX_AGGS) return unsplit(ps, "too many aggregates");
    if (!(a.rule = agg_rule_of(qk_json_str(e, "function_name")))) {
        snprintf(ps->reason, sizeof ps->reason, "the aggregate %s() is not decomposable here",
                 qk_json_str(e, "function_name"));
        return false;
    }
    if (json_array_size(orders) > 0) return unsplit(ps, "ORDER BY inside an aggregate");
    if (has_aggregate(ps, children) || has_class(children, "WINDOW") ||
        has_class(children, "SUBQUERY"))
        return unsplit(ps, "an aggregate's argument holds an aggregate, window or subquery");
    a.node = e;
    a.distinct = json_is_true(json_object_get(e, "distinct"));
    if (!strcmp(a.rule->name, "count_star")) {
        if (json_array_size(children) != 0) return unsplit(ps, "count(*) with arguments");
    } else if (json_array_size(children) != 1) {
        return unsplit(ps, "an aggregate with several arguments");
    } else if (render_expr(ps, json_array_get(children, 0), &a.arg, err)) {
        return unsplit(ps, "cannot render an aggregate's argument");
    }
    if (filter && !json_is_null(filter)) {
        if (a.distinct) {
            free(a.arg);
            return unsplit(ps, "DISTINCT aggregate with FILTER");
        }
        if (render_expr(ps, filter, &a.filter, err)) {
            free(a.arg);
            return unsplit(ps, "cannot render a FILTER clause");
        }
    }
    if (a.distinct) {
        if (a.rule->split == SPLIT_VAR || !a.arg) {
            free(a.arg);
            return unsplit(ps, "DISTINCT on this aggregate");
        }
        if (ps->distinct_arg && strcmp(ps->distinct_arg, a.arg) != 0) {
            free(a.arg);
            return unsplit(ps, "DISTINCT aggregates over different arguments");
        }
        if (!ps->distinct_arg) ps->distinct_arg = qk_xstrdup(a.arg);
    }
    ps->aggs[ps->naggs++] = a;
    return true;
}

/* Find every aggregate in j. */
static bool collect_aggs(pstate *ps, json_t *j, qk_err *err)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        if (!strcmp(qk_json_str(j, "class"), "WINDOW")) return unsplit(ps, "window functions");
        if (!strcmp(qk_json_str(j, "class"), "SUBQUERY"))
            return unsplit(ps, "a subquery in the select list, HAVING or ORDER BY");
        if (is_aggregate(ps, j)) return add_agg(ps, j, err);
        json_object_foreach(j, k, v)
        {
            if (!collect_aggs(ps, v, err)) return false;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (!collect_aggs(ps, v, err)) return false;
        }
    }
    return true;
}

/* The map's partial columns of aggregate i. */
static int map_partials(const agg *a, size_t i, qk_buf *b)
{
    char f[64 + 4096];
    const char *arg = a->arg ? a->arg : "*";
    if (a->distinct) return 0; /* computed in the reduce over "__d" */
    if (a->filter) {
        if (strlen(a->filter) > 4000) return QK_ETOOBIG;
        snprintf(f, sizeof f, " FILTER (WHERE %s)", a->filter);
    } else {
        f[0] = 0;
    }
    switch (a->rule->split) {
    case SPLIT_ONE:
        return qk_buf_printf(b, ", %s(%s)%s AS \"__a%zu\"", a->rule->map_fn, arg, f, i);
    case SPLIT_AVG:
        return qk_buf_printf(b, ", sum(%s)%s AS \"__a%zu_s\", count(%s)%s AS \"__a%zu_c\"", arg, f,
                             i, arg, f, i);
    case SPLIT_VAR:
        return qk_buf_printf(b,
                             ", count(%s)%s AS \"__a%zu_c\", avg((%s)::DOUBLE)%s AS \"__a%zu_m\", "
                             "var_pop((%s)::DOUBLE)%s * count(%s)%s AS \"__a%zu_q\"",
                             arg, f, i, arg, f, i, arg, f, arg, f, i);
    }
    return QK_EINTERNAL;
}

/* The reduce's combine expression for aggregate i. */
static int reduce_combine(const agg *a, size_t i, qk_buf *b)
{
    char c[32], m[32], q[32];
    int k = a->rule->samp;
    if (a->distinct)
        return qk_buf_printf(b, "%s(DISTINCT \"__d\")", qk_json_str(a->node, "function_name"));
    switch (a->rule->split) {
    case SPLIT_ONE:
        return qk_buf_printf(b, a->rule->zero ? "coalesce(%s(\"__a%zu\"), 0)" : "%s(\"__a%zu\")",
                             a->rule->reduce_fn, i);
    case SPLIT_AVG:
        return qk_buf_printf(b, "(sum(\"__a%zu_s\") / nullif(sum(\"__a%zu_c\"), 0))", i, i);
    case SPLIT_VAR:
        /* n = sum(c); M2 = sum(q) + sum(c m^2) - sum(c m)^2 / n */
        snprintf(c, sizeof c, "\"__a%zu_c\"", i);
        snprintf(m, sizeof m, "\"__a%zu_m\"", i);
        snprintf(q, sizeof q, "\"__a%zu_q\"", i);
        return qk_buf_printf(
            b,
            "(CASE WHEN sum(%s) > %d THEN %s(greatest(0.0, (sum(%s) + sum(%s * %s "
            "* %s) - sum(%s * %s) * sum(%s * %s) / sum(%s)) / (sum(%s) - %d))) END)",
            c, k, a->rule->sd ? "sqrt" : "", q, c, m, m, c, m, c, m, c, c, k);
    }
    return QK_EINTERNAL;
}

/* ---- reduce expressions -----------------------------------------------------------------------
 */

/* A copy of e where aggregates become their combine expressions and group keys "__k<j>".
 * NULL (reason set) when a column reference is left outside them. aliases (may be NULL):
 * output names a HAVING/ORDER BY column reference may use. */
static json_t *reduce_expr(pstate *ps, json_t *e, json_t *aliases, qk_err *err)
{
    const char *k;
    json_t *v, *out;
    size_t i;
    if (json_is_object(e)) {
        for (size_t j = 0; j < ps->nkeys; j++)
            if (same_expr(e, ps->keys[j])) {
                char name[32];
                snprintf(name, sizeof name, "\"__k%zu\"", j);
                return parse_expr(ps, name, err);
            }
        if (is_aggregate(ps, e)) {
            for (size_t j = 0; j < ps->naggs; j++)
                if (same_expr(ps->aggs[j].node, e)) {
                    qk_buf b;
                    json_t *r;
                    qk_buf_init(&b, 1 << 16);
                    reduce_combine(&ps->aggs[j], j, &b);
                    r = parse_expr(ps, qk_buf_cstr(&b), err);
                    qk_buf_free(&b);
                    return r;
                }
            unsplit(ps, "internal: an aggregate was not collected");
            return NULL;
        }
        if (!strcmp(qk_json_str(e, "class"), "COLUMN_REF")) {
            json_t *names = json_object_get(e, "column_names");
            size_t n;
            json_t *a;
            if (json_array_size(names) == 1) json_array_foreach(aliases, n, a)
                {
                    if (!strcasecmp(json_string_value(a),
                                    json_string_value(json_array_get(names, 0))))
                        return json_deep_copy(e);
                }
            unsplit(ps, "a column outside GROUP BY and aggregates");
            return NULL;
        }
        if (!strcmp(qk_json_str(e, "class"), "STAR")) {
            unsplit(ps, "* in an aggregate query");
            return NULL;
        }
        out = json_object();
        json_object_foreach(e, k, v)
        {
            json_t *c = (json_is_object(v) || json_is_array(v)) ? reduce_expr(ps, v, aliases, err)
                                                                : json_deep_copy(v);
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k, c);
        }
        return out;
    }
    if (json_is_array(e)) {
        out = json_array();
        json_array_foreach(e, i, v)
        {
            json_t *c = reduce_expr(ps, v, aliases, err);
            if (!c) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, c);
        }
        return out;
    }
    return json_deep_copy(e);
}

/* ---- modifiers ------------------------------------------------------------------------------ */

typedef struct mods {
    json_t *orders; /* array of {type, null_order, expression} or NULL */
    json_t *limit, *offset;
    bool distinct;
    bool other; /* an unsupported modifier */
} mods;

static void read_mods(json_t *node, mods *m)
{
    size_t i;
    json_t *v;
    memset(m, 0, sizeof *m);
    json_array_foreach(json_object_get(node, "modifiers"), i, v)
    {
        const char *t = qk_json_str(v, "type");
        if (!strcmp(t, "ORDER_MODIFIER") && !m->orders)
            m->orders = json_object_get(v, "orders");
        else if (!strcmp(t, "LIMIT_MODIFIER") && !m->limit && !m->offset) {
            m->limit = json_object_get(v, "limit");
            m->offset = json_object_get(v, "offset");
            if (json_is_null(m->limit)) m->limit = NULL;
            if (json_is_null(m->offset)) m->offset = NULL;
        } else if (!strcmp(t, "DISTINCT_MODIFIER") &&
                   json_array_size(json_object_get(v, "distinct_on_targets")) == 0)
            m->distinct = true;
        else
            m->other = true;
    }
}

static const char *order_word(json_t *o)
{
    const char *t = qk_json_str(o, "type");
    return !strcmp(t, "DESCENDING") ? " DESC" : !strcmp(t, "ASCENDING") ? " ASC" : "";
}

static const char *nulls_word(json_t *o)
{
    const char *t = qk_json_str(o, "null_order");
    return !strcmp(t, "NULLS FIRST") || !strcmp(t, "NULLS_FIRST") ? " NULLS FIRST"
           : !strcmp(t, "NULLS LAST") || !strcmp(t, "NULLS_LAST") ? " NULLS LAST"
                                                                  : "";
}

/* ---- the plan ------------------------------------------------------------------------------- */

static void pstate_free(pstate *ps)
{
    for (size_t i = 0; i < ps->naggs; i++) {
        free(ps->aggs[i].arg);
        free(ps->aggs[i].filter);
    }
    for (size_t i = 0; i < ps->nkeys; i++)
        free(ps->key_sql[i]);
    free(ps->distinct_arg);
    json_decref(ps->ast);
    json_decref(ps->tmpl);
    if (ps->con) duckdb_disconnect(&ps->con);
}

/* DuckDB's aggregate function names, read once per process (a duckdb_functions() query costs
 * ~25 ms, a third of planning): the one process-wide cache of this file, built under agg_mu,
 * never changed or freed after, so planners in several threads read it without a lock. */
static pthread_mutex_t agg_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *agg_names;

static int load_aggnames(pstate *ps, qk_err *err)
{
    duckdb_result res;
    json_t *names;
    int rc = 0;
    pthread_mutex_lock(&agg_mu);
    if (agg_names) goto out;
    names = json_object();
    if (duckdb_query(ps->con,
                     "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type "
                     "= 'aggregate'",
                     &res) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "duckdb_functions: %s", duckdb_result_error(&res));
    } else {
        duckdb_data_chunk ch;
        while ((ch = duckdb_fetch_chunk(res)) != NULL) {
            duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
            duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v);
            for (idx_t r = 0; r < duckdb_data_chunk_get_size(ch); r++) {
                char *name = strndup(duckdb_string_t_data(&s[r]), duckdb_string_t_length(s[r]));
                if (name) json_object_set_new(names, name, json_true());
                free(name);
            }
            duckdb_destroy_data_chunk(&ch);
        }
    }
    duckdb_destroy_result(&res);
    if (rc)
        json_decref(names);
    else
        agg_names = names;
out:
    ps->aggnames = agg_names;
    pthread_mutex_unlock(&agg_mu);
    return rc;
}

/* The files of the table function's path argument. */
static int list_files(pstate *ps, json_t *arg, qk_obj_list *files, qk_err *err)
{
    json_t *v = json_object_get(arg, "value");
    const char *cls = qk_json_str(arg, "class");
    if (!strcmp(cls, "CONSTANT") &&
        !strcmp(qk_json_str(json_object_get(v, "type"), "id"), "VARCHAR")) {
        const char *p = json_string_value(json_object_get(v, "value"));
        if (!p) return unsplit(ps, "the path is NULL"), 1;
        if (qk_str_startswith(p, "s3://")) return qk_lake_list_uri(p, files, err);
        {
            duckdb_prepared_statement st = NULL;
            duckdb_result res;
            int rc = 0;
            if (duckdb_prepare(ps->con, "SELECT file FROM glob(?) ORDER BY file", &st) ==
                DuckDBError) {
                duckdb_destroy_prepare(&st);
                return qk_errf(err, QK_EINTERNAL, "glob: cannot prepare");
            }
            duckdb_bind_varchar(st, 1, p);
            if (duckdb_execute_prepared(st, &res) == DuckDBError) {
                rc = qk_engine_set_error(err, duckdb_result_error(&res),
                                         duckdb_result_error_type(&res));
            } else {
                duckdb_data_chunk ch;
                while (!rc && (ch = duckdb_fetch_chunk(res)) != NULL) {
                    duckdb_vector vec = duckdb_data_chunk_get_vector(ch, 0);
                    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(vec);
                    for (idx_t r = 0; !rc && r < duckdb_data_chunk_get_size(ch); r++) {
                        char *f =
                            strndup(duckdb_string_t_data(&s[r]), duckdb_string_t_length(s[r]));
                        struct stat sb;
                        qk_obj_info o = {0};
                        o.key = f;
                        if (f && stat(f, &sb) == 0) o.size = (uint64_t)sb.st_size;
                        rc = f ? qk_obj_list_add(files, &o, err) : QK_ENOMEM;
                        free(f);
                    }
                    duckdb_destroy_data_chunk(&ch);
                }
            }
            duckdb_destroy_result(&res);
            duckdb_destroy_prepare(&st);
            if (!rc && files->n == 0)
                rc = qk_errtf(err, QK_ENOTFOUND, "IOException",
                              "No files found that match the pattern \"%.200s\"", p);
            return rc;
        }
    }
    if (!strcmp(cls, "FUNCTION") && !strcmp(qk_json_str(arg, "function_name"), "list_value")) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(arg, "children"), i, c)
        {
            int rc = list_files(ps, c, files, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(cls, "CONSTANT") &&
        !strcmp(qk_json_str(json_object_get(v, "type"), "id"), "LIST")) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(v, "value"), "children")
                               ? json_object_get(json_object_get(v, "value"), "children")
                               : json_object_get(v, "value"),
                           i, c)
        {
            json_t *fake = json_pack("{s:s,s:{s:{s:s},s:O}}", "class", "CONSTANT", "value", "type",
                                     "id", "VARCHAR", "value", json_object_get(c, "value"));
            int rc = fake ? list_files(ps, fake, files, err) : QK_ENOMEM;
            json_decref(fake);
            if (rc) return rc;
        }
        return 0;
    }
    unsplit(ps, "the table function's first argument is not a path, glob or list of paths");
    return 1;
}

/* The bytes of the join inputs every map reads whole. */
typedef struct small_side {
    size_t tables;
    uint64_t bytes;
} small_side;

static bool is_file_reader(const char *name)
{
    static const char *const ok[] = {"read_parquet",  "parquet_scan",    "read_csv",
                                     "read_csv_auto", "read_json",       "read_json_auto",
                                     "read_ndjson",   "read_ndjson_auto"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcasecmp(name, ok[i])) return true;
    return false;
}

/* One FROM leaf: a file reader over a path, a glob or a list of them; its files. */
static int leaf_files(pstate *ps, json_t *leaf, qk_obj_list *files, qk_err *err)
{
    json_t *fn = json_object_get(leaf, "function");
    json_t *arg0 = json_array_get(json_object_get(fn, "children"), 0);
    if (strcmp(qk_json_str(fn, "class"), "FUNCTION") != 0 ||
        (json_object_get(leaf, "sample") && !json_is_null(json_object_get(leaf, "sample"))))
        return unsplit(ps, "the FROM clause is not one table function or lake table"), 1;
    if (!is_file_reader(qk_json_str(fn, "function_name"))) {
        snprintf(ps->reason, sizeof ps->reason, "the table function %s() is not a file reader",
                 qk_json_str(fn, "function_name"));
        return 1;
    }
    if (!arg0) return unsplit(ps, "a table function without arguments"), 1;
    return list_files(ps, arg0, files, err);
}

/* The reader DuckDB's replacement scan uses for FROM '<name>', by its extension, or NULL. */
static const char *path_reader(const char *name)
{
    static const struct {
        const char *ext, *fn;
    } by_ext[] = {{".parquet", "read_parquet"}, {".csv", "read_csv_auto"},
                  {".tsv", "read_csv_auto"},    {".json", "read_json_auto"},
                  {".jsonl", "read_json_auto"}, {".ndjson", "read_json_auto"}};
    size_t n = strlen(name);
    if (n > 3 && !strcasecmp(name + n - 3, ".gz")) n -= 3;
    if (n > 4 && !strcasecmp(name + n - 4, ".zst")) n -= 4;
    for (size_t i = 0; i < sizeof by_ext / sizeof *by_ext; i++) {
        size_t el = strlen(by_ext[i].ext);
        if (n > el && !strncasecmp(name + n - el, by_ext[i].ext, el) &&
            (n == strlen(name) || strcmp(by_ext[i].fn, "read_parquet") != 0))
            return by_ext[i].fn;
    }
    return NULL;
}

/* FROM 'path.parquet' (a BASE_TABLE DuckDB replaces by a reader) becomes the same reader call,
 * in place, in every leaf of t's join tree, so it can be sharded like read_parquet('...'). */
static int paths_as_calls(pstate *ps, json_t *t, qk_err *err)
{
    const char *name = qk_json_str(t, "table_name"), *fn;
    qk_buf b;
    json_t *ast = NULL, *call;
    int rc;
    if (!strcmp(qk_json_str(t, "type"), "JOIN")) {
        rc = paths_as_calls(ps, json_object_get(t, "left"), err);
        return rc ? rc : paths_as_calls(ps, json_object_get(t, "right"), err);
    }
    if (strcmp(qk_json_str(t, "type"), "BASE_TABLE") || *qk_json_str(t, "schema_name") ||
        *qk_json_str(t, "catalog_name") || !json_is_null(json_object_get(t, "at_clause")) ||
        !(fn = path_reader(name)))
        return 0;
    qk_buf_init(&b, SQL_MAX);
    rc = qk_buf_printf(&b, "SELECT * FROM %s(", fn);
    if (!rc) rc = qk_sql_add_literal(&b, name);
    if (!rc) rc = qk_buf_addc(&b, ')');
    if (!rc)
        rc = qk_lake_ast_parse(ps->e, ps->con, qk_buf_cstr(&b), ps->mark, false, &ast, NULL, err);
    qk_buf_free(&b);
    if (rc) return rc;
    call = json_object_get(
        json_object_get(json_array_get(json_object_get(ast, "statements"), 0), "node"),
        "from_table");
    json_object_set(call, "alias", json_object_get(t, "alias"));
    json_object_set(call, "column_name_alias", json_object_get(t, "column_name_alias"));
    json_object_set(call, "sample", json_object_get(t, "sample"));
    json_object_clear(t);
    json_object_update(t, call);
    json_decref(ast);
    return 0;
}

/*
 * The dataset to shard: the FROM clause's one table function, or the biggest input of a join
 * that plan_join.c says distributes over it, when the other inputs together are at most
 * o->small_bytes. *leaf and *files are the sharded input and its files. 1: unsplit (reason
 * set).
 */
static int pick_source(pstate *ps, const qk_dist_plan_opts *o, json_t *from, json_t **leaf,
                       qk_obj_list *files, small_side *small, qk_err *err)
{
    json_t *leaves[MAX_JOIN_INPUTS];
    qk_obj_list lists[MAX_JOIN_INPUTS];
    uint64_t bytes[MAX_JOIN_INPUTS],
        limit = o && o->small_bytes ? o->small_bytes : QK_DIST_DEFAULT_SMALL_BYTES;
    size_t n = 0, big = 0;
    const char *why = NULL;
    int rc = 0;
    memset(lists, 0, sizeof lists);
    if ((rc = paths_as_calls(ps, from, err))) return rc;
    if (!strcmp(qk_json_str(from, "type"), "TABLE_FUNCTION"))
        leaves[n++] = from;
    else if (!strcmp(qk_json_str(from, "type"), "JOIN"))
        why = qk_dist_join_leaves(from, leaves, MAX_JOIN_INPUTS, &n);
    else
        why = "the FROM clause is not a table function, a lake table or a join of them";
    if (why) return unsplit(ps, why), 1;
    for (size_t i = 0; i < n && !rc; i++) {
        rc = leaf_files(ps, leaves[i], &lists[i], err);
        bytes[i] = 0;
        for (size_t k = 0; !rc && k < lists[i].n; k++)
            bytes[i] += lists[i].v[k].size;
        if (!rc && bytes[i] > bytes[big]) big = i;
    }
    if (!rc && n > 1 && (why = qk_dist_join_shardable(from, leaves[big])) != NULL)
        rc = 1, unsplit(ps, why);
    if (!rc && qk_lake_param(json_object_get(leaves[big], "function"), "union_by_name"))
        rc = 1, unsplit(ps, "union_by_name: the columns depend on the whole set of files");
    for (size_t i = 0; i < n && !rc; i++)
        if (i != big) small->tables++, small->bytes += bytes[i];
    if (!rc && small->bytes > limit) {
        snprintf(ps->reason, sizeof ps->reason,
                 "the join's other inputs hold %.1f MiB, above the %.1f MiB every map may read "
                 "whole (--small-table-size)",
                 (double)small->bytes / 1048576.0, (double)limit / 1048576.0);
        rc = 1;
    }
    if (!rc) {
        *leaf = leaves[big];
        *files = lists[big];
        memset(&lists[big], 0, sizeof lists[big]);
    }
    for (size_t i = 0; i < n; i++)
        qk_obj_list_free(&lists[i]);
    return rc;
}

/* The 1-based position of the select list item an ORDER BY expression names: the same
 * expression, or a bare name that is an item's alias (DuckDB binds ORDER BY names to aliases
 * first) or an unaliased column. 0 when none. */
static json_int_t select_position(json_t *sel, json_t *ex)
{
    json_t *names = json_object_get(ex, "column_names"), *it;
    const char *nm = !strcmp(qk_json_str(ex, "class"), "COLUMN_REF") && json_array_size(names) == 1
                         ? json_string_value(json_array_get(names, 0))
                         : NULL;
    size_t i;
    json_array_foreach(sel, i, it)
    {
        if (nm && !strcasecmp(qk_json_str(it, "alias"), nm)) return (json_int_t)i + 1;
    }
    json_array_foreach(sel, i, it)
    {
        if (!*qk_json_str(it, "alias") && same_expr(it, ex)) return (json_int_t)i + 1;
    }
    return 0;
}

/* Append the rendered ORDER BY of orders to b: positions stay, other expressions are given by
 * expr_sql(i) (a hidden column name or a rewritten expression). */
static void add_order_item(qk_buf *b, size_t i, const char *what, json_t *o)
{
    qk_buf_printf(b, "%s%s%s%s", i ? ", " : "", what, order_word(o), nulls_word(o));
}

/* LIMIT/OFFSET text of the reduce, and "(limit) + (offset)" for a top-k map. */
static int limit_sql(pstate *ps, const mods *m, char **lim, char **off, qk_err *err)
{
    *lim = *off = NULL;
    if (m->limit && render_expr(ps, m->limit, lim, err)) return 1;
    if (m->offset && render_expr(ps, m->offset, off, err)) return 1;
    return 0;
}

/* The map and reduce templates. orig: the original query's columns ({name, type}). */
/* What build's two halves share: the query's parts, rendered, and the SQL being built. */
typedef struct parts {
    json_t *node, *sel, *having, *orig, *aliases;
    mods m;
    const char *from_sql, *where_sql, *lim, *off;
    qk_buf *map, *red;
} parts;

/* reduce_expr of e, rendered (*out: caller frees); 1 when e cannot be rewritten (unsplit). */
static int reduce_sql(pstate *ps, json_t *e, json_t *aliases, char **out, qk_err *err)
{
    json_t *r = reduce_expr(ps, e, aliases, err);
    int rc;
    if (!r) return 1;
    rc = render_expr(ps, r, out, err);
    json_decref(r);
    return rc;
}

/* Aggregate queries: map = GROUP BY keys + partial aggregates, reduce = their combine. */
static int build_aggregate(pstate *ps, parts *q, qk_err *err)
{
    size_t i;
    json_t *v;
    int rc = 0;
    json_t *groups = json_object_get(q->node, "group_expressions");
    if (json_array_size(json_object_get(q->node, "group_sets")) > 1) {
        return unsplit(ps, "GROUPING SETS, ROLLUP or CUBE"), 1;
    }
    if (q->m.distinct) {
        return unsplit(ps, "SELECT DISTINCT with aggregates"), 1;
    }
    if (json_array_size(q->orig) != json_array_size(q->sel)) {
        return unsplit(ps, "the select list expands (*, COLUMNS)"), 1;
    }
    if (!strcmp(qk_json_str(q->node, "aggregate_handling"), "FORCE_AGGREGATES")) {
        json_array_foreach(q->sel, i, v)
        {
            if (has_aggregate(ps, v)) continue;
            if (ps->nkeys == MAX_KEYS) {
                return unsplit(ps, "too many GROUP BY keys"), 1;
            }
            ps->keys[ps->nkeys++] = v;
        }
    } else {
        json_array_foreach(groups, i, v)
        {
            json_int_t pos;
            json_t *g = v;
            if (is_int_const(v, &pos)) {
                if (pos < 1 || (size_t)pos > json_array_size(q->sel)) {
                    return unsplit(ps, "GROUP BY position out of range"), 1;
                }
                g = json_array_get(q->sel, (size_t)pos - 1);
            } else if (!strcmp(qk_json_str(v, "class"), "COLUMN_REF") &&
                       json_array_size(json_object_get(v, "column_names")) == 1) {
                size_t a;
                json_t *s;
                const char *nm =
                    json_string_value(json_array_get(json_object_get(v, "column_names"), 0));
                json_array_foreach(q->sel, a, s)
                {
                    if (*qk_json_str(s, "alias") && !strcasecmp(qk_json_str(s, "alias"), nm) &&
                        !same_expr(s, v)) {
                        return unsplit(ps, "GROUP BY a select alias (write the expression)"), 1;
                    }
                }
            }
            if (has_aggregate(ps, g) || ps->nkeys == MAX_KEYS) {
                return unsplit(ps, "an aggregate in GROUP BY, or too many keys"), 1;
            }
            ps->keys[ps->nkeys++] = g;
        }
    }
    for (size_t k = 0; k < ps->nkeys; k++)
        if ((rc = render_expr(ps, ps->keys[k], &ps->key_sql[k], err))) return rc;
    if (!collect_aggs(ps, q->sel, err) ||
        (q->having && !json_is_null(q->having) && !collect_aggs(ps, q->having, err)) ||
        (q->m.orders && !collect_aggs(ps, q->m.orders, err))) {
        rc = 1;
        return rc;
    }
    /* map: keys, the DISTINCT argument, partials */
    qk_buf_adds(q->map, "SELECT ");
    for (size_t k = 0; k < ps->nkeys; k++)
        qk_buf_printf(q->map, "%s%s AS \"__k%zu\"", k ? ", " : "", ps->key_sql[k], k);
    if (ps->distinct_arg)
        qk_buf_printf(q->map, "%s%s AS \"__d\"", ps->nkeys ? ", " : "", ps->distinct_arg);
    if (!ps->nkeys && !ps->distinct_arg) qk_buf_adds(q->map, "count(*) AS \"__rows\"");
    for (size_t a = 0; a < ps->naggs; a++)
        if (map_partials(&ps->aggs[a], a, q->map)) {
            rc = qk_errf(err, QK_ETOOBIG, "map query too long");
            return rc;
        }
    qk_buf_printf(q->map, " FROM %s", q->from_sql);
    if (q->where_sql) qk_buf_printf(q->map, " WHERE %s", q->where_sql);
    if (ps->nkeys || ps->distinct_arg) {
        qk_buf_adds(q->map, " GROUP BY ");
        for (size_t k = 0; k < ps->nkeys; k++)
            qk_buf_printf(q->map, "%s%s", k ? ", " : "", ps->key_sql[k]);
        if (ps->distinct_arg)
            qk_buf_printf(q->map, "%s%s", ps->nkeys ? ", " : "", ps->distinct_arg);
    }
    /* reduce: combines, cast to the original types, named as the original */
    qk_buf_adds(q->red, "SELECT ");
    json_array_foreach(q->sel, i, v)
    {
        json_t *oc = json_array_get(q->orig, i);
        char *s = NULL;
        if ((rc = reduce_sql(ps, v, NULL, &s, err))) return rc;
        qk_buf_printf(q->red, "%sCAST(%s AS %s) AS ", i ? ", " : "", s, qk_json_str(oc, "type"));
        qk_dist_add_ident(q->red, qk_json_str(oc, "name"));
        free(s);
    }
    qk_buf_adds(q->red, " FROM __qk_partials");
    if (ps->nkeys) {
        qk_buf_adds(q->red, " GROUP BY ");
        for (size_t k = 0; k < ps->nkeys; k++)
            qk_buf_printf(q->red, "%s\"__k%zu\"", k ? ", " : "", k);
    }
    if (q->having && !json_is_null(q->having)) {
        char *s = NULL;
        if ((rc = reduce_sql(ps, q->having, q->aliases, &s, err))) return rc;
        qk_buf_printf(q->red, " HAVING %s", s);
        free(s);
    }
    if (q->m.orders && json_array_size(q->m.orders)) {
        qk_buf_adds(q->red, " ORDER BY ");
        json_array_foreach(q->m.orders, i, v)
        {
            json_t *ex = json_object_get(v, "expression");
            json_int_t pos;
            char *s = NULL, num[32];
            if (is_int_const(ex, &pos)) {
                snprintf(num, sizeof num, "%lld", (long long)pos);
                add_order_item(q->red, i, num, v);
                continue;
            }
            if ((rc = reduce_sql(ps, ex, q->aliases, &s, err))) return rc;
            add_order_item(q->red, i, s, v);
            free(s);
        }
    }
    return rc;
}

/* Filters and projections: the map is the query itself (top-k pushed), the reduce sorts and
 * cuts; ORDER BY expressions that are not positions travel as hidden columns "__s<i>". */
static int build_rows(pstate *ps, parts *q, qk_err *err)
{
    size_t i;
    json_t *v;
    char *sel_sql = NULL;
    int rc = 0;
    json_t *t = json_deep_copy(ps->tmpl), *tn;
    qk_buf ord, hid;
    json_array_foreach(q->sel, i, v)
    {
        if (has_class(v, "WINDOW") || has_class(v, "SUBQUERY")) {
            json_decref(t);
            return unsplit(ps, "a window function or subquery in the select list"), 1;
        }
    }
    tn = json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node");
    json_object_set(tn, "select_list", q->sel);
    rc = qk_lake_ast_render(ps->con, t, ps->mark, &sel_sql, err);
    json_decref(t);
    if (rc) return rc;
    qk_buf_init(&ord, SQL_MAX);
    qk_buf_init(&hid, SQL_MAX);
    json_array_foreach(q->m.orders, i, v)
    {
        json_t *ex = json_object_get(v, "expression");
        json_int_t pos;
        char *s = NULL, name[32];
        if (is_int_const(ex, &pos)) {
            snprintf(name, sizeof name, "%lld", (long long)pos);
            add_order_item(&ord, i, name, v);
            continue;
        }
        if (q->m.distinct && (pos = select_position(q->sel, ex)) > 0) {
            snprintf(name, sizeof name, "%lld", (long long)pos);
            add_order_item(&ord, i, name, v);
            continue;
        }
        if (q->m.distinct) {
            rc = 1;
            unsplit(ps, "SELECT DISTINCT with ORDER BY an expression not in the select list");
            break;
        }
        if ((rc = render_expr(ps, ex, &s, err))) break;
        snprintf(name, sizeof name, "\"__s%zu\"", i);
        qk_buf_printf(&hid, ", %s AS %s", s, name);
        add_order_item(&ord, i, name, v);
        free(s);
    }
    if (rc) {
        qk_buf_free(&ord);
        qk_buf_free(&hid);
        free(sel_sql);
        return rc;
    }
    qk_buf_printf(q->map, "SELECT %s%s%s FROM %s", q->m.distinct ? "DISTINCT " : "", sel_sql + 7,
                  qk_buf_cstr(&hid), q->from_sql);
    if (q->where_sql) qk_buf_printf(q->map, " WHERE %s", q->where_sql);
    if (q->lim && ord.len)
        qk_buf_printf(q->map, " ORDER BY %s LIMIT (%s) + (%s)", qk_buf_cstr(&ord), q->lim,
                      q->off ? q->off : "0");
    else if (q->lim && !q->m.distinct)
        qk_buf_printf(q->map, " LIMIT (%s) + (%s)", q->lim, q->off ? q->off : "0");
    qk_buf_printf(q->red, "SELECT %s*", q->m.distinct ? "DISTINCT " : "");
    if (hid.len) {
        bool first = true;
        qk_buf_adds(q->red, " EXCLUDE (");
        json_array_foreach(q->m.orders, i, v)
        {
            json_int_t pos;
            if (is_int_const(json_object_get(v, "expression"), &pos)) continue;
            qk_buf_printf(q->red, "%s\"__s%zu\"", first ? "" : ", ", i);
            first = false;
        }
        qk_buf_addc(q->red, ')');
    }
    qk_buf_adds(q->red, " FROM __qk_partials");
    if (ord.len) qk_buf_printf(q->red, " ORDER BY %s", qk_buf_cstr(&ord));
    qk_buf_free(&ord);
    qk_buf_free(&hid);
    free(sel_sql);
    return rc;
}

static int build(pstate *ps, qk_dist_plan *p, json_t *from, json_t *fn, json_t *arg0, json_t *orig,
                 qk_err *err)
{
    json_t *node = ps->node, *where = json_object_get(node, "where_clause"), *aliases = NULL;
    json_t *sel = json_object_get(node, "select_list"), *having = json_object_get(node, "having");
    qk_buf map, red;
    mods m;
    char *from_sql = NULL, *where_sql = NULL, *tmp = NULL, *lim = NULL, *off = NULL;
    size_t i;
    json_t *v;
    bool aggq;
    int rc = 0;
    read_mods(node, &m);
    if (m.other) return unsplit(ps, "DISTINCT ON or another modifier"), 1;
    qk_buf_init(&map, SQL_MAX);
    qk_buf_init(&red, SQL_MAX);
    /* FROM with the marker in place of the files */
    {
        json_t *saved = json_incref(arg0), *mk = parse_expr(ps, "'" QK_DIST_SHARD_MARK "'", err);
        json_t *t = json_deep_copy(ps->tmpl), *tn;
        if (!mk || !t) {
            json_decref(saved);
            json_decref(mk);
            json_decref(t);
            rc = QK_ENOMEM;
            goto out;
        }
        json_array_set_new(json_object_get(fn, "children"), 0, mk);
        tn = json_object_get(json_array_get(json_object_get(t, "statements"), 0), "node");
        json_object_set_new(tn, "from_table", json_deep_copy(from));
        rc = qk_lake_ast_render(ps->con, t, ps->mark, &tmp, err);
        json_array_set_new(json_object_get(fn, "children"), 0, saved);
        json_decref(t);
        if (rc) goto out;
        if (strncmp(tmp, "SELECT 1 FROM ", 14) != 0) {
            rc = qk_errf(err, QK_EINTERNAL, "cannot render the FROM clause");
            goto out;
        }
        from_sql = qk_xstrdup(tmp + 14);
        free(tmp);
        tmp = NULL;
    }
    if (where && !json_is_null(where) && (rc = render_expr(ps, where, &where_sql, err))) goto out;
    if ((rc = limit_sql(ps, &m, &lim, &off, err))) goto out;
    aggq = !strcmp(qk_json_str(node, "aggregate_handling"), "FORCE_AGGREGATES") ||
           json_array_size(json_object_get(node, "group_expressions")) > 0 ||
           has_aggregate(ps, sel) || (having && !json_is_null(having));
    aliases = json_array(); /* the output names HAVING and ORDER BY may refer to */
    json_array_foreach(orig, i, v)
    {
        json_array_append_new(aliases, json_string(qk_json_str(v, "name")));
    }
    {
        parts q = {node, sel, having, orig, aliases, m, from_sql, where_sql, lim, off, &map, &red};
        rc = aggq ? build_aggregate(ps, &q, err) : build_rows(ps, &q, err);
    }
    if (rc) goto out;
    if (lim) qk_buf_printf(&red, " LIMIT %s", lim);
    if (off) qk_buf_printf(&red, " OFFSET %s", off);
    p->map_template = qk_buf_detach(&map, NULL);
    p->reduce_template = qk_buf_detach(&red, NULL);
out:
    json_decref(aliases);
    free(from_sql);
    free(where_sql);
    free(tmp);
    free(lim);
    free(off);
    qk_buf_free(&map);
    qk_buf_free(&red);
    return rc;
}

/* Run the map on one file with LIMIT 0 into a probe Parquet, DESCRIBE the reduce over it and
 * compare with the original's columns. */
static int check_reduce(pstate *ps, qk_dist_plan *p, const char *first_file, json_t *orig,
                        qk_err *err)
{
    char *map = NULL, *red = NULL, *probe = NULL, id[37];
    const char *files[1];
    json_t *got = NULL;
    int rc;
    qk_uuid4(id);
    if (asprintf(&probe, "%s/plan-%s.parquet", qk_engine_temp_dir(ps->e), id) < 0) return QK_ENOMEM;
    map = qk_dist_with_one_file(p->map_template, first_file);
    {
        /* no rows: only the partial's schema matters */
        char *empty = NULL;
        if (asprintf(&empty, "SELECT * FROM (%s) LIMIT 0", map) < 0) {
            free(map);
            free(probe);
            return QK_ENOMEM;
        }
        rc = qk_dist_run_map_file(ps->e, empty, NULL, probe, NULL, err);
        free(empty);
    }
    files[0] = probe;
    if (!rc) rc = qk_dist_reduce_sql(p, files, 1, &red, err);
    if (!rc) rc = qk_dist_describe_json(ps->e, red, &got, err);
    if (rc) {
        snprintf(ps->reason, sizeof ps->reason, "the split query does not bind: %.240s", err->msg);
        rc = 1;
    } else if (!json_equal(got, orig)) {
        char *a = json_dumps(got, JSON_COMPACT), *bb = json_dumps(orig, JSON_COMPACT);
        snprintf(ps->reason, sizeof ps->reason,
                 "the split query's columns differ: %.120s vs %.120s", a ? a : "?", bb ? bb : "?");
        free(a);
        free(bb);
        rc = 1;
    }
    remove(probe);
    json_decref(got);
    free(probe);
    free(map);
    free(red);
    return rc;
}

int qk_dist_plan_query(qk_engine *e, const char *sql, const qk_dist_plan_opts *o, qk_dist_plan *out,
                       qk_err *err)
{
    pstate ps;
    json_t *stmts, *from, *leaf = NULL, *fn, *arg0, *orig = NULL, *mapcols = NULL;
    qk_obj_list files = {0};
    small_side small = {0, 0};
    double t0 = qk_now_msf();
    char *probe_sql = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    memset(&ps, 0, sizeof ps);
    out->sql = qk_xstrdup(sql);
    ps.e = e;
    if (duckdb_connect(qk_engine_db(e), &ps.con) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
        goto out;
    }
    qk_uuid4(ps.mark);
    memcpy(ps.mark + 36, ":big:", 6);
    if ((rc = load_aggnames(&ps, err))) goto out;
    if ((rc = qk_lake_ast_parse(e, ps.con, "SELECT 1", ps.mark, false, &ps.tmpl, NULL, err)))
        goto out;
    rc = qk_lake_ast_parse(e, ps.con, sql, ps.mark, true, &ps.ast, NULL, err);
    if (rc == QK_EUNSUPPORTED) {
        rc = 0;
        unsplit(&ps, "not a single SELECT statement");
        goto done;
    }
    if (rc) goto out;
    stmts = json_object_get(ps.ast, "statements");
    ps.node = json_object_get(json_array_get(stmts, 0), "node");
    if (strcmp(qk_json_str(ps.node, "type"), "SELECT_NODE") != 0) {
        unsplit(&ps, "UNION, INTERSECT, EXCEPT or VALUES");
        goto done;
    }
    if (json_array_size(json_object_get(json_object_get(ps.node, "cte_map"), "map"))) {
        unsplit(&ps, "WITH (common table expressions)");
        goto done;
    }
    if (json_object_get(ps.node, "qualify") && !json_is_null(json_object_get(ps.node, "qualify"))) {
        unsplit(&ps, "QUALIFY");
        goto done;
    }
    if (json_object_get(ps.node, "sample") && !json_is_null(json_object_get(ps.node, "sample"))) {
        unsplit(&ps, "USING SAMPLE");
        goto done;
    }
    if (has_volatile(ps.node)) {
        unsplit(&ps, "a volatile function (random(), now(), current_date, nextval() ...): each "
                     "worker would evaluate its own");
        goto done;
    }
    from = json_object_get(ps.node, "from_table");
    rc = pick_source(&ps, o, from, &leaf, &files, &small, err);
    if (rc == 1) {
        rc = 0;
        goto done;
    }
    if (rc) goto out;
    fn = json_object_get(leaf, "function");
    arg0 = json_array_get(json_object_get(fn, "children"), 0);
    if (render_expr(&ps, arg0, &out->source, err)) out->source = qk_xstrdup("?");
    /* hive partitions the WHERE rules out are not shards (prune.c; pins hive_types) */
    {
        json_t *v0 = json_object_get(arg0, "value");
        const char *glob = json_string_value(json_object_get(v0, "value"));
        if (!strcmp(qk_json_str(arg0, "class"), "CONSTANT") && glob)
            out->pruned = qk_lake_prune_files(e, ps.con, ps.ast, ps.mark, glob, &files);
        if (files.n == 0) {
            unsplit(&ps, "every partition is pruned by the WHERE clause");
            goto done;
        }
        /* a shard types its partition columns as the whole set does */
        if (qk_lake_pin_hive(e, ps.con, fn, ps.mark, &files) != 0) {
            unsplit(&ps, "the files' hive partition folders differ, so shards could type "
                         "partition columns differently");
            goto done;
        }
        if (qk_dist_pin_sniffed(e, ps.con, ps.mark, leaf, &files, err) != 0) {
            snprintf(ps.reason, sizeof ps.reason, "cannot sniff the column types: %.240s",
                     err->msg);
            goto done;
        }
    }
    qk_dist_plan_shard(out, &files, o);
    /* the original's columns, bound on the first file */
    {
        json_t *saved = json_incref(arg0), *mk = parse_expr(&ps, "'" QK_DIST_SHARD_MARK "'", err);
        char *tsql = NULL;
        json_array_set_new(json_object_get(fn, "children"), 0, mk);
        rc = qk_lake_ast_render(ps.con, ps.ast, ps.mark, &tsql, err);
        json_array_set_new(json_object_get(fn, "children"), 0, saved);
        if (rc) goto out;
        probe_sql = qk_dist_with_one_file(tsql, files.v[0].key);
        free(tsql);
        if ((rc = qk_dist_describe_json(e, probe_sql, &orig, err))) {
            snprintf(ps.reason, sizeof ps.reason, "does not bind on one file: %.240s", err->msg);
            rc = 0;
            goto done;
        }
    }
    if ((rc = build(&ps, out, from, fn, arg0, orig, err))) {
        if (rc == 1)
            rc = 0;
        else
            goto out;
        goto done;
    }
    /* the map's columns (types decide what travels as VARCHAR), then the reduce check */
    {
        char *m0 = qk_dist_with_one_file(out->map_template, files.v[0].key);
        out->split = true;
        rc = qk_dist_describe_json(e, m0, &mapcols, err);
        free(m0);
        if (rc) {
            snprintf(ps.reason, sizeof ps.reason, "the map query does not bind: %.240s", err->msg);
            rc = 0;
            out->split = false;
            goto done;
        }
        if ((rc = qk_dist_plan_set_partials(out, mapcols))) goto out;
        if (check_reduce(&ps, out, files.v[0].key, orig, err)) {
            out->split = false;
            goto done;
        }
    }
    snprintf(ps.reason, sizeof ps.reason, "%zu shard%s over %zu file%s (%.1f MiB; %zu pruned)",
             out->nshards, out->nshards == 1 ? "" : "s", files.n, files.n == 1 ? "" : "s",
             (double)out->total_bytes / 1048576.0, out->pruned);
    if (small.tables) {
        size_t l = strlen(ps.reason);
        snprintf(ps.reason + l, sizeof ps.reason - l,
                 "; joined with %zu table%s read whole by every map (%.1f MiB)", small.tables,
                 small.tables == 1 ? "" : "s", (double)small.bytes / 1048576.0);
    }
done:
    if (!out->split) {
        free(out->map_template);
        free(out->reduce_template);
        out->map_template = out->reduce_template = NULL;
    }
    snprintf(out->reason, sizeof out->reason, "%s", ps.reason[0] ? ps.reason : "not split");
    rc = 0;
out:
    out->plan_ms = qk_now_msf() - t0;
    json_decref(orig);
    json_decref(mapcols);
    free(probe_sql);
    qk_obj_list_free(&files);
    pstate_free(&ps);
    if (rc) qk_dist_plan_free(out);
    return rc;
}
