/* SPDX-License-Identifier: MIT */
/*
 * plan_sql.c: a plan's shards and SQL templates (plan.h; dist_int.h; docs/internals/dist.md).
 *
 * The planner (plan.c) leaves two templates in a plan: the map SQL with the quoted marker
 * QK_DIST_SHARD_MARK where a shard's file list goes, and the reduce SQL with
 * QK_DIST_PARTIALS_MARK where the partial files go. This file groups the files into shards,
 * fills the markers in, and wraps both templates for the trip through Parquet: map columns whose
 * type Parquet would change travel as VARCHAR (the map casts them), and the reduce reads the
 * partials as the CTE __qk_partials with those columns cast back.
 */
#include "core/json.h"
#include "dist/dist_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX QK_DIST_PLAN_SQL_MAX

static void free_shards(qk_dist_plan *p)
{
    for (size_t i = 0; i < p->nshards; i++) {
        for (size_t j = 0; j < p->shards[i].nfiles; j++)
            free(p->shards[i].files[j]);
        free(p->shards[i].files);
    }
    free(p->shards);
    p->shards = NULL;
    p->nshards = 0;
}

void qk_dist_plan_shard(qk_dist_plan *p, const qk_obj_list *files, const qk_dist_plan_opts *o)
{
    uint64_t target = o && o->shard_bytes ? o->shard_bytes : QK_DIST_DEFAULT_SHARD_BYTES;
    size_t maxs = o && o->max_shards ? o->max_shards : SIZE_MAX;
    for (size_t i = 0; i < files->n; i++)
        p->total_bytes += files->v[i].size;
    if (maxs != SIZE_MAX && p->total_bytes / maxs > target) target = p->total_bytes / maxs + 1;
    p->shards = calloc(files->n ? files->n : 1, sizeof *p->shards);
    if (!p->shards) abort();
    for (size_t i = 0; i < files->n; i++) {
        qk_dist_shard *s = p->nshards ? &p->shards[p->nshards - 1] : NULL;
        /* a new shard when the last one has bytes and this file would take it past the target */
        if (!s || (s->bytes > 0 && s->bytes + files->v[i].size > target))
            s = &p->shards[p->nshards++];
        s->files = realloc(s->files, (s->nfiles + 1) * sizeof *s->files);
        if (!s->files) abort();
        s->files[s->nfiles++] = qk_xstrdup(files->v[i].key);
        s->bytes += files->v[i].size;
    }
}

/* Append the SQL list literal of a shard's files. */
static int add_file_list(qk_buf *b, char *const *files, size_t n)
{
    int rc = qk_buf_addc(b, '[');
    for (size_t i = 0; i < n && !rc; i++) {
        if (i) rc = qk_buf_addc(b, ',');
        if (!rc) rc = qk_sql_add_literal(b, files[i]);
    }
    return rc ? rc : qk_buf_addc(b, ']');
}

static char *replace_mark(const char *tmpl, const char *mark, const char *with)
{
    qk_buf b;
    const char *hit;
    char q[64];
    snprintf(q, sizeof q, "'%s'", mark);
    qk_buf_init(&b, SQL_MAX);
    while ((hit = strstr(tmpl, q)) != NULL) {
        qk_buf_add(&b, tmpl, (size_t)(hit - tmpl));
        qk_buf_adds(&b, with);
        tmpl = hit + strlen(q);
    }
    qk_buf_adds(&b, tmpl);
    return qk_buf_detach(&b, NULL);
}

char *qk_dist_with_one_file(const char *tmpl, const char *file)
{
    qk_buf b;
    char *out;
    qk_buf_init(&b, SQL_MAX);
    add_file_list(&b, (char *const *)&file, 1);
    out = replace_mark(tmpl, QK_DIST_SHARD_MARK, qk_buf_cstr(&b));
    qk_buf_free(&b);
    return out;
}

int qk_dist_map_sql(const qk_dist_plan *p, size_t shard, char **out, qk_err *err)
{
    qk_buf b;
    *out = NULL;
    if (!p->split || shard >= p->nshards) return qk_errf(err, QK_EINVAL, "no shard %zu", shard);
    qk_buf_init(&b, SQL_MAX);
    if (add_file_list(&b, p->shards[shard].files, p->shards[shard].nfiles)) {
        qk_buf_free(&b);
        return qk_errf(err, QK_ETOOBIG, "shard %zu: file list too long", shard);
    }
    *out = replace_mark(p->map_template, QK_DIST_SHARD_MARK, qk_buf_cstr(&b));
    qk_buf_free(&b);
    return 0;
}

int qk_dist_reduce_sql(const qk_dist_plan *p, const char *const *files, size_t n, char **out,
                       qk_err *err)
{
    qk_buf b;
    *out = NULL;
    if (!p->split) return qk_errf(err, QK_EINVAL, "the plan is not split");
    qk_buf_init(&b, SQL_MAX);
    if (add_file_list(&b, (char *const *)files, n)) {
        qk_buf_free(&b);
        return qk_errf(err, QK_ETOOBIG, "partial file list too long");
    }
    *out = replace_mark(p->reduce_template, QK_DIST_PARTIALS_MARK, qk_buf_cstr(&b));
    qk_buf_free(&b);
    return 0;
}

/* Types that come back from Parquet exactly (the rest travel as VARCHAR). */
static bool parquet_exact(const char *t)
{
    return !qk_dist_type_widens(t) && !strstr(t, "TIME WITH TIME ZONE") && !strstr(t, "MAP");
}

/* " REPLACE (CAST("c" AS VARCHAR) AS "c", ...)" over the partial columns that travel as VARCHAR,
 * or with to_varchar false the casts back to their own types. Nothing when there are none;
 * returns how many. */
static size_t add_casts(qk_buf *b, const qk_dist_plan *p, bool to_varchar)
{
    size_t nv = 0;
    for (size_t i = 0; i < p->npartial_cols; i++) {
        const qk_dist_col *c = &p->partial_cols[i];
        if (!c->as_varchar) continue;
        qk_buf_adds(b, nv++ ? ", CAST(" : " REPLACE (CAST(");
        qk_dist_add_ident(b, c->name);
        qk_buf_printf(b, " AS %s) AS ", to_varchar ? "VARCHAR" : c->type);
        qk_dist_add_ident(b, c->name);
    }
    if (nv) qk_buf_addc(b, ')');
    return nv;
}

int qk_dist_plan_set_partials(qk_dist_plan *p, json_t *cols)
{
    size_t i;
    json_t *c;
    qk_buf b;
    p->partial_cols = calloc(json_array_size(cols) + 1, sizeof *p->partial_cols);
    if (!p->partial_cols) return QK_ENOMEM;
    json_array_foreach(cols, i, c)
    {
        p->partial_cols[i].name = qk_xstrdup(qk_json_str(c, "name"));
        p->partial_cols[i].type = qk_xstrdup(qk_json_str(c, "type"));
        p->partial_cols[i].as_varchar = !parquet_exact(qk_json_str(c, "type"));
    }
    p->npartial_cols = json_array_size(cols);
    /* map: SELECT * REPLACE (... AS VARCHAR) FROM (<map>), when any column needs it */
    qk_buf_init(&b, SQL_MAX);
    qk_buf_adds(&b, "SELECT *");
    if (add_casts(&b, p, true)) {
        qk_buf_printf(&b, " FROM (%s)", p->map_template);
        free(p->map_template);
        p->map_template = qk_buf_detach(&b, NULL);
    }
    qk_buf_free(&b);
    /* reduce: WITH __qk_partials AS (SELECT * REPLACE (casts back) FROM <partials>) <reduce> */
    qk_buf_init(&b, SQL_MAX);
    qk_buf_adds(&b, "WITH __qk_partials AS (SELECT *");
    add_casts(&b, p, false);
    qk_buf_printf(&b, " FROM read_parquet('%s')) %s", QK_DIST_PARTIALS_MARK, p->reduce_template);
    free(p->reduce_template);
    p->reduce_template = qk_buf_detach(&b, NULL);
    return 0;
}

void qk_dist_plan_free(qk_dist_plan *p)
{
    if (!p) return;
    free_shards(p);
    free(p->sql);
    free(p->source);
    free(p->map_template);
    free(p->reduce_template);
    for (size_t i = 0; i < p->npartial_cols; i++) {
        free(p->partial_cols[i].name);
        free(p->partial_cols[i].type);
    }
    free(p->partial_cols);
    memset(p, 0, sizeof *p);
}

int qk_dist_explain(const qk_dist_plan *p, qk_buf *out)
{
    int rc = 0;
    char *m0 = NULL;
    qk_err e;
    if (!p->split)
        return qk_buf_printf(out,
                             "not split: %s\nthe query runs whole on one worker (%.1f ms "
                             "planning)\n",
                             p->reason, p->plan_ms);
    rc = qk_buf_printf(out, "split: %s, planned in %.1f ms\nsource: %s\n", p->reason, p->plan_ms,
                       p->source ? p->source : "?");
    for (size_t i = 0; i < p->nshards && !rc; i++)
        rc = qk_buf_printf(out, "  shard %zu: %zu file%s, %.1f MiB (first: %s)\n", i,
                           p->shards[i].nfiles, p->shards[i].nfiles == 1 ? "" : "s",
                           (double)p->shards[i].bytes / 1048576.0, p->shards[i].files[0]);
    if (!rc && qk_dist_map_sql(p, 0, &m0, &e) == 0)
        rc = qk_buf_printf(out, "map SQL (shard 0):\n  %s\nreduce SQL:\n  %s\n", m0,
                           p->reduce_template);
    free(m0);
    return rc;
}
