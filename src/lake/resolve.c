/* SPDX-License-Identifier: MIT */
/*
 * resolve.c: s3:// paths in SQL -> local files (resolve.h; docs/internals/lake-resolve.md).
 *
 * 1. No "s3://" in the text: the SQL is returned unchanged.
 * 2. json_serialize_sql(sql) gives the AST as JSON, parsed with jansson. jansson holds integers
 *    as int64 and DuckDB writes unsigned 64-bit ones (an unset query_location is UINT64_MAX,
 *    HUGEINT literals have a uint64 half), so integers of 19+ digits travel through jansson as
 *    marked strings and are put back verbatim before json_deserialize_sql.
 * 3. Walk the AST: in the subtree of every TABLE_FUNCTION ref, each JSON string that starts
 *    with "s3://" (constants, list constants, list_value children); every BASE_TABLE whose
 *    table_name starts with "s3://" (FROM 's3://b/x.parquet').
 * 4. Each distinct URI: a key with glob characters (* ? [) is LISTed under its literal prefix
 *    and matched segment by segment (DuckDB's rules: '*' stays inside a segment, "**" spans
 *    any number of them); a plain key is HEADed.
 * 5. Every object is fetched into the cache (threads, qk_cache_fetch) and hard-linked (copied
 *    across file systems) to <view>/<bucket>/<key>, view = <engine temp>/q-<uuid>.
 * 6. The strings become view paths (a glob stays a glob) and json_deserialize_sql renders the
 *    AST back to SQL; a failure there is an error, never a different query.
 */
#include "lake/resolve.h"
#include "lake/copy.h"
#include "lake/lake_int.h"
#include "lake/lineage.h"
#include "core/json.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AST_MAX (256u << 20) /* bytes of AST JSON we handle at most */

/* One s3:// string of the query. */
typedef struct uri_ref {
    char *uri;    /* "s3://bucket/key" as written */
    size_t store; /* index into rs->stores */
    char *key;    /* the key or glob, relative to the bucket */
    char *local;  /* the view path that replaces it */
} uri_ref;

typedef struct bucket_store {
    char *bucket;
    qk_store *store;
} bucket_store;

typedef struct fetch_job {
    size_t store;
    char *key;
    qk_obj_info info; /* info.key unused */
} fetch_job;

typedef struct resolve_state {
    qk_lake_ctx *ctx;
    uri_ref *refs;
    size_t nrefs, caprefs;
    bucket_store *stores;
    size_t nstores;
    fetch_job *jobs;
    size_t njobs, capjobs;
    duckdb_connection con; /* for the AST and the pruning probe */
    qk_lake_known known;   /* what binding table names already listed */
    int64_t started_ms;    /* qk_now_ms() when resolving started (timeout) */
    json_t *ast;
    const char *mark;
    /* fetch workers */
    pthread_mutex_t mu;
    size_t next;
    int rc;
    qk_err err;
} resolve_state;

/* ---- glob matching (DuckDB semantics) ----------------------------------------------------- */

QK_TESTABLE bool qk_lake_has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Match pattern segments [p, pe) against name segments [n, ne), each '/'-separated. */
static bool match_segs(const char *p, const char *n)
{
    const char *ps = strchr(p, '/'), *ns = strchr(n, '/');
    size_t pl = ps ? (size_t)(ps - p) : strlen(p);
    char seg[QK_STORE_KEY_MAX + 1], nseg[QK_STORE_KEY_MAX + 1];
    size_t nl = ns ? (size_t)(ns - n) : strlen(n);
    if (pl == 2 && p[0] == '*' && p[1] == '*') {
        if (!ps) return true; /* trailing "**" matches everything below */
        for (const char *q = n;; q = strchr(q, '/') + 1) {
            if (match_segs(ps + 1, q)) return true;
            if (!strchr(q, '/')) return false;
        }
    }
    if (pl > QK_STORE_KEY_MAX || nl > QK_STORE_KEY_MAX) return false;
    memcpy(seg, p, pl);
    seg[pl] = 0;
    memcpy(nseg, n, nl);
    nseg[nl] = 0;
    if (fnmatch(seg, nseg, 0) != 0) return false;
    if (!ps || !ns) return !ps && !ns;
    return match_segs(ps + 1, ns + 1);
}

/* Does key match the glob pattern (both relative to the bucket)? */
bool qk_lake_glob_match(const char *pattern, const char *key)
{
    return match_segs(pattern, key);
}

/* ---- URIs and keys ------------------------------------------------------------------------ */

/* A key (or glob) usable as a relative path: not empty, no empty, "." or ".." segments. */
bool qk_lake_key_is_path(const char *key)
{
    const char *s = key;
    if (!*key) return false;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == 0 || (l == 1 && s[0] == '.') || (l == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        if (!e) return true;
        s = e + 1;
    }
}

static int default_open_store(void *ud, const char *bucket, qk_store **out, qk_err *err)
{
    char uri[300];
    (void)ud;
    snprintf(uri, sizeof uri, "s3://%s", bucket);
    return qk_store_open(uri, out, err);
}

static int store_for(resolve_state *rs, const char *bucket, size_t *idx, qk_err *err)
{
    qk_lake_ctx *c = rs->ctx;
    bucket_store *ns;
    int rc;
    for (size_t i = 0; i < rs->nstores; i++)
        if (!strcmp(rs->stores[i].bucket, bucket)) {
            *idx = i;
            return 0;
        }
    ns = realloc(rs->stores, (rs->nstores + 1) * sizeof *ns);
    if (!ns) return qk_errf(err, QK_ENOMEM, "out of memory");
    rs->stores = ns;
    ns[rs->nstores].store = NULL;
    rc = (c->open_store ? c->open_store : default_open_store)(c->open_store_ud, bucket,
                                                              &ns[rs->nstores].store, err);
    if (rc) return rc;
    ns[rs->nstores].bucket = qk_xstrdup(bucket);
    *idx = rs->nstores++;
    return 0;
}

/* Record one s3:// string (once per distinct URI). */
static int add_ref(resolve_state *rs, const char *uri, qk_err *err)
{
    const char *b = uri + 5, *slash = strchr(b, '/');
    char bucket[256];
    uri_ref *r;
    size_t si = 0;
    int rc;
    for (size_t i = 0; i < rs->nrefs; i++)
        if (!strcmp(rs->refs[i].uri, uri)) return 0;
    if (!slash || slash == b || (size_t)(slash - b) >= sizeof bucket || !slash[1])
        return qk_errf(err, QK_EINVAL, "not an object path: %.200s (want s3://bucket/key)", uri);
    if (!qk_lake_key_is_path(slash + 1) || strlen(slash + 1) > QK_STORE_KEY_MAX)
        return qk_errf(err, QK_EUNSUPPORTED, "cannot read %.200s: empty, '.' or '..' in the key",
                       uri);
    memcpy(bucket, b, (size_t)(slash - b));
    bucket[slash - b] = 0;
    if ((rc = store_for(rs, bucket, &si, err))) return rc;
    if (rs->nrefs == rs->caprefs) {
        size_t cap = rs->caprefs ? rs->caprefs * 2 : 8;
        uri_ref *nr = realloc(rs->refs, cap * sizeof *nr);
        if (!nr) return qk_errf(err, QK_ENOMEM, "out of memory");
        rs->refs = nr;
        rs->caprefs = cap;
    }
    r = &rs->refs[rs->nrefs++];
    r->uri = qk_xstrdup(uri);
    r->key = qk_xstrdup(slash + 1);
    r->store = si;
    r->local = NULL;
    return 0;
}

/* ---- AST walk ----------------------------------------------------------------------------- */

/* visit(rs, slot) is called for each s3:// string: the JSON string value itself. */
typedef int (*visit_fn)(resolve_state *rs, json_t *str, qk_err *err);

static int walk(resolve_state *rs, json_t *j, bool in_tf, visit_fn visit, qk_err *err);

static int walk_object(resolve_state *rs, json_t *j, bool in_tf, visit_fn visit, qk_err *err)
{
    const char *k;
    json_t *v;
    json_t *type = json_object_get(j, "type");
    const char *t = json_is_string(type) ? json_string_value(type) : "";
    int rc;
    if (!strcmp(t, "TABLE_FUNCTION")) in_tf = true;
    if (!strcmp(t, "BASE_TABLE")) {
        json_t *name = json_object_get(j, "table_name");
        if (json_is_string(name) && qk_str_startswith(json_string_value(name), "s3://") &&
            (rc = visit(rs, name, err)))
            return rc;
    }
    json_object_foreach(j, k, v)
    {
        if ((rc = walk(rs, v, in_tf, visit, err))) return rc;
    }
    return 0;
}

static int walk(resolve_state *rs, json_t *j, bool in_tf, visit_fn visit, qk_err *err)
{
    size_t i;
    json_t *v;
    int rc;
    if (json_is_object(j)) return walk_object(rs, j, in_tf, visit, err);
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if ((rc = walk(rs, v, in_tf, visit, err))) return rc;
        }
        return 0;
    }
    if (in_tf && json_is_string(j) && qk_str_startswith(json_string_value(j), "s3://"))
        return visit(rs, j, err);
    return 0;
}

static int collect_visit(resolve_state *rs, json_t *str, qk_err *err)
{
    return add_ref(rs, json_string_value(str), err);
}

static int replace_visit(resolve_state *rs, json_t *str, qk_err *err)
{
    for (size_t i = 0; i < rs->nrefs; i++)
        if (!strcmp(rs->refs[i].uri, json_string_value(str)))
            return json_string_set(str, rs->refs[i].local) ? qk_errf(err, QK_ENOMEM, "oom") : 0;
    return qk_errf(err, QK_EINTERNAL, "unresolved path %.200s", json_string_value(str));
}

/* ---- DuckDB: serialize and deserialize ------------------------------------------------------ */

/* Run `sql` with one VARCHAR parameter and return the single VARCHAR result (caller frees). */
int qk_lake_scalar(duckdb_connection con, const char *sql, const char *arg, char **out, qk_err *err)
{
    duckdb_prepared_statement st = NULL;
    duckdb_result res;
    duckdb_data_chunk ch = NULL;
    int rc = 0;
    bool have_res = false;
    *out = NULL;
    if (duckdb_prepare(con, sql, &st) == DuckDBError) {
        rc = qk_errf(err, QK_ESQL, "%s", duckdb_prepare_error(st));
        goto out;
    }
    duckdb_bind_varchar(st, 1, arg);
    have_res = true;
    if (duckdb_execute_prepared(st, &res) == DuckDBError) {
        rc = qk_errf(err, QK_EPARSE, "%s", duckdb_result_error(&res));
        goto out;
    }
    ch = duckdb_fetch_chunk(res);
    if (!ch || duckdb_data_chunk_get_size(ch) != 1) {
        rc = qk_errf(err, QK_EINTERNAL, "no result from %s", sql);
        goto out;
    }
    {
        duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
        duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v);
        uint32_t n = duckdb_string_t_length(s[0]);
        uint64_t *valid = duckdb_vector_get_validity(v);
        if (valid && !duckdb_validity_row_is_valid(valid, 0)) {
            rc = qk_errf(err, QK_EPARSE, "cannot render the rewritten query");
            goto out;
        }
        if (!(*out = malloc((size_t)n + 1))) {
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(*out, duckdb_string_t_data(&s[0]), n);
        (*out)[n] = 0;
    }
out:
    if (ch) duckdb_destroy_data_chunk(&ch);
    if (have_res) duckdb_destroy_result(&res);
    duckdb_destroy_prepare(&st);
    return rc;
}

/* jansson holds integers as int64, and DuckDB writes UINT64_MAX for an unset query_location.
 * Integer tokens of 19 or more digits (outside strings) are turned into strings "<mark><digits>"
 * before parsing and back after dumping; mark holds a fresh UUID so no user string matches. */
static int protect_big_ints(const char *in, const char *mark, qk_buf *out)
{
    const char *p = in;
    int rc = 0;
    while (*p && !rc) {
        if (*p == '"') {
            const char *q = p + 1;
            while (*q && *q != '"')
                q += (*q == '\\' && q[1]) ? 2 : 1;
            if (*q) q++;
            rc = qk_buf_add(out, p, (size_t)(q - p));
            p = q;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            size_t n = strspn(p, "-+0123456789.eE"), d = strspn(p, "-0123456789");
            if (n == d && n >= 19)
                rc = qk_buf_printf(out, "\"%s%.*s\"", mark, (int)n, p);
            else
                rc = qk_buf_add(out, p, n);
            p += n;
        } else {
            rc = qk_buf_add(out, p++, 1);
        }
    }
    return rc;
}

static int restore_big_ints(const char *in, const char *mark, qk_buf *out)
{
    size_t ml = strlen(mark);
    const char *p = in, *hit;
    int rc = 0;
    while (!rc && (hit = strstr(p, mark)) != NULL) {
        size_t d = strspn(hit + ml, "-0123456789");
        if (hit > p && hit[-1] == '"' && hit[ml + d] == '"') {
            rc = qk_buf_add(out, p, (size_t)(hit - 1 - p));
            if (!rc) rc = qk_buf_add(out, hit + ml, d);
            p = hit + ml + d + 1;
        } else {
            rc = qk_buf_add(out, p, (size_t)(hit + ml - p));
            p = hit + ml;
        }
    }
    return rc ? rc : qk_buf_adds(out, p);
}

/* Parse DuckDB's AST JSON; refuse errors and more than one statement. */
static int parse_ast(const char *text, json_t **out, qk_err *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je), *stmts;
    *out = NULL;
    if (!j)
        return qk_errf(err, QK_EUNSUPPORTED, "query too complex to resolve s3:// paths: %s",
                       je.text);
    if (json_is_true(json_object_get(j, "error"))) {
        json_t *m = json_object_get(j, "error_message");
        qk_errtf(err, QK_EPARSE, "ParserException", "%s",
                 json_is_string(m) ? json_string_value(m) : "cannot parse the query");
        json_decref(j);
        return QK_EPARSE;
    }
    stmts = json_object_get(j, "statements");
    if (!json_is_array(stmts) || json_array_size(stmts) != 1) {
        json_decref(j);
        return qk_errf(err, QK_EUNSUPPORTED, "s3:// paths need exactly one SELECT statement");
    }
    *out = j;
    return 0;
}

int qk_lake_parse(duckdb_connection con, const char *sql, const char *mark, json_t **out,
                  qk_err *err)
{
    char *ast = NULL;
    qk_buf buf;
    int rc;
    *out = NULL;
    qk_buf_init(&buf, AST_MAX);
    if ((rc = qk_lake_scalar(con, "SELECT json_serialize_sql(?::VARCHAR)", sql, &ast, err)))
        goto out;
    if ((rc = protect_big_ints(ast, mark, &buf))) {
        rc = qk_errf(err, rc, "AST of the query too large");
        goto out;
    }
    rc = parse_ast(qk_buf_cstr(&buf), out, err);
out:
    free(ast);
    qk_buf_free(&buf);
    return rc;
}

int qk_lake_render(duckdb_connection con, json_t *ast, const char *mark, char **out, qk_err *err)
{
    char *text = json_dumps(ast, JSON_COMPACT | JSON_REAL_PRECISION(17));
    qk_buf buf;
    int rc;
    *out = NULL;
    if (!text) return qk_errf(err, QK_ENOMEM, "out of memory");
    qk_buf_init(&buf, AST_MAX);
    if ((rc = restore_big_ints(text, mark, &buf)))
        rc = qk_errf(err, rc, "AST of the query too large");
    else
        rc = qk_lake_scalar(con, "SELECT json_deserialize_sql(?::JSON)", qk_buf_cstr(&buf), out,
                            err);
    qk_buf_free(&buf);
    free(text);
    return rc;
}

/* ---- listing and fetching ----------------------------------------------------------------- */

static int add_job(resolve_state *rs, size_t store, const char *key, const qk_obj_info *info)
{
    if (rs->njobs == rs->capjobs) {
        size_t cap = rs->capjobs ? rs->capjobs * 2 : 16;
        fetch_job *nj = realloc(rs->jobs, cap * sizeof *nj);
        if (!nj) return QK_ENOMEM;
        rs->jobs = nj;
        rs->capjobs = cap;
    }
    rs->jobs[rs->njobs].store = store;
    rs->jobs[rs->njobs].key = qk_xstrdup(key);
    rs->jobs[rs->njobs].info = *info;
    rs->jobs[rs->njobs].info.key = NULL;
    rs->njobs++;
    return 0;
}

typedef struct glob_ud {
    resolve_state *rs;
    const uri_ref *ref;
    size_t matched;
} glob_ud;

static int glob_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    glob_ud *g = ud;
    (void)cp;
    if (!obj || qk_str_endswith(obj->key, "/") || !qk_lake_glob_match(g->ref->key, obj->key))
        return 0;
    if (!qk_lake_key_is_path(obj->key))
        return qk_errf(err, QK_EUNSUPPORTED,
                       "cannot read s3://%s/%.200s: empty, '.' or '..' in "
                       "the key",
                       g->rs->stores[g->ref->store].bucket, obj->key);
    g->matched++;
    return add_job(g->rs, g->ref->store, obj->key, obj) ? qk_errf(err, QK_ENOMEM, "oom") : 0;
}

/* Jobs for r from what binding table names listed (rs->known): true when it covered r. */
static bool expand_known(resolve_state *rs, const uri_ref *r, bool glob)
{
    const qk_obj_list *k = &rs->known.objs;
    size_t base = strlen(r->uri) - strlen(r->key); /* "s3://bucket/" */
    bool covered = false;
    if (glob) {
        for (size_t i = 0; i < rs->known.nglobs && !covered; i++)
            covered = !strcmp(rs->known.globs[i], r->uri);
        if (!covered) return false;
    }
    for (size_t i = 0; i < k->n; i++) {
        const qk_obj_entry *x = &k->v[i];
        qk_obj_info info = {.size = x->size, .mtime_ms = x->mtime_ms};
        if (strncmp(x->key, r->uri, base) != 0) continue;
        if (glob ? !qk_lake_glob_match(r->key, x->key + base) : strcmp(x->key, r->uri) != 0)
            continue;
        qk_strlcpy(info.etag, x->etag, sizeof info.etag);
        if (add_job(rs, r->store, x->key + base, &info)) return false;
        covered = true;
    }
    return covered;
}

/* Turn one URI into fetch jobs: LIST for a glob, HEAD for a key (unless a table name's lookup
 * listed them already). */
static int expand_ref(resolve_state *rs, const uri_ref *r, qk_err *err)
{
    qk_store *s = rs->stores[r->store].store;
    int rc;
    if (expand_known(rs, r, qk_lake_has_glob(r->key))) return 0;
    if (qk_lake_has_glob(r->key)) {
        glob_ud g = {rs, r, 0};
        size_t lit = strcspn(r->key, "*?[");
        char *prefix = strndup(r->key, lit);
        if (!prefix) return qk_errf(err, QK_ENOMEM, "out of memory");
        rc = qk_store_list_all(s, prefix, NULL, glob_cb, &g, err);
        free(prefix);
        if (rc) return rc;
        if (!g.matched)
            return qk_errtf(err, QK_ENOTFOUND, "IOException",
                            "No files found that match the pattern \"%.200s\"", r->uri);
        return 0;
    }
    {
        qk_obj_info info;
        rc = qk_store_head(s, r->key, &info, err);
        if (rc == QK_ENOTFOUND)
            return qk_errtf(err, QK_ENOTFOUND, "IOException", "no such object %.200s", r->uri);
        if (rc) return rc;
        return add_job(rs, r->store, r->key, &info) ? qk_errf(err, QK_ENOMEM, "oom") : 0;
    }
}

/* Copy src to dst (when a hard link is impossible). */
static int copy_file(const char *src, const char *dst, qk_err *err)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    ssize_t n;
    if (in < 0) return qk_errf(err, QK_EIO, "open %s: %s", src, strerror(errno));
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = qk_errf(err, QK_EIO, "create %s: %s", dst, strerror(errno));
        goto out;
    }
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = qk_errf(err, QK_EIO, "write %s: %s", dst, strerror(errno));
            goto out;
        }
    if (n < 0) rc = qk_errf(err, QK_EIO, "read %s: %s", src, strerror(errno));
out:
    if (out >= 0) close(out);
    close(in);
    return rc;
}

/* Fetch one object into the cache and place it at <view>/<bucket>/<key>. */
static int fetch_one(resolve_state *rs, const fetch_job *j, qk_err *err)
{
    const bucket_store *bs = &rs->stores[j->store];
    char *cached = NULL, *dst = NULL, *dir = NULL, *slash;
    int rc;
    if ((rc = qk_cache_fetch(rs->ctx->cache, bs->store, j->key, &j->info, &cached, NULL, err))) {
        if (rc == QK_ENOTFOUND)
            qk_errtf(err, QK_ENOTFOUND, "IOException", "no such object s3://%s/%.200s", bs->bucket,
                     j->key);
        goto out;
    }
    if (asprintf(&dst, "%s/%s/%s", rs->ctx->view_dir, bs->bucket, j->key) < 0) {
        dst = NULL;
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    dir = qk_xstrdup(dst);
    slash = strrchr(dir, '/');
    *slash = 0;
    if ((rc = qk_mkdirs(dir, err))) goto out;
    if (link(cached, dst) != 0 && errno != EEXIST) rc = copy_file(cached, dst, err);
out:
    free(dir);
    free(dst);
    free(cached);
    return rc;
}

/* Has the query's deadline passed or its cancel callback fired? (Between fetches: a download
 * in flight finishes or fails on the store's own timeouts.) */
static int fetch_stopped(resolve_state *rs, qk_err *err)
{
    const qk_query_opts *o = rs->ctx->opts;
    if (!o) return 0;
    if (o->timeout_ms > 0 && qk_now_ms() - rs->started_ms > o->timeout_ms)
        return qk_errtf(err, QK_ETIMEOUT, "Timeout",
                        "query exceeded the timeout of %lld ms while fetching from S3",
                        (long long)o->timeout_ms);
    if (o->cancelled && o->cancelled(o->cancel_ud))
        return qk_errtf(err, QK_ECANCELED, "Canceled", "query canceled while fetching from S3");
    return 0;
}

static void *fetch_worker(void *arg)
{
    resolve_state *rs = arg;
    for (;;) {
        size_t i;
        qk_err e;
        int rc;
        pthread_mutex_lock(&rs->mu);
        i = rs->rc ? rs->njobs : rs->next++;
        pthread_mutex_unlock(&rs->mu);
        if (i >= rs->njobs) return NULL;
        qk_err_clear(&e);
        rc = fetch_stopped(rs, &e);
        if (!rc) rc = fetch_one(rs, &rs->jobs[i], &e);
        if (rc) {
            pthread_mutex_lock(&rs->mu);
            if (!rs->rc) rs->rc = rc, rs->err = e;
            pthread_mutex_unlock(&rs->mu);
        }
    }
}

static int job_cmp(const void *a, const void *b)
{
    const fetch_job *x = a, *y = b;
    if (x->store != y->store) return x->store < y->store ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Fetch every job with up to ctx->fetch_threads threads (duplicates removed first). */
static int fetch_all(resolve_state *rs, qk_err *err)
{
    pthread_t th[16];
    size_t nth = rs->ctx->fetch_threads > 0 ? (size_t)rs->ctx->fetch_threads : 8, started = 0, w;
    qsort(rs->jobs, rs->njobs, sizeof *rs->jobs, job_cmp);
    w = 0;
    for (size_t i = 0; i < rs->njobs; i++) {
        if (w && job_cmp(&rs->jobs[w - 1], &rs->jobs[i]) == 0) {
            free(rs->jobs[i].key);
            continue;
        }
        rs->jobs[w++] = rs->jobs[i];
    }
    rs->njobs = w;
    if (nth > 16) nth = 16;
    if (nth > rs->njobs) nth = rs->njobs;
    for (size_t i = 1; i < nth; i++)
        if (pthread_create(&th[started], NULL, fetch_worker, rs) == 0) started++;
    fetch_worker(rs);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (rs->rc) {
        *err = rs->err;
        return rs->rc;
    }
    rs->ctx->objects = rs->njobs;
    return 0;
}

/* ---- the view dir --------------------------------------------------------------------------- */

static int make_view(qk_lake_ctx *c, qk_err *err)
{
    char id[37];
    qk_uuid4(id);
    if (asprintf(&c->view_dir, "%s/q-%s", qk_engine_temp_dir(c->engine), id) < 0) {
        c->view_dir = NULL;
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    return qk_mkdirs(c->view_dir, err);
}

static int open_cache(qk_lake_ctx *c, qk_err *err)
{
    int rc;
    if (c->cache) return 0;
    rc = qk_cache_open(qk_engine_cache_dir(c->engine), 0, &c->cache, err);
    if (!rc) c->own_cache = true;
    return rc;
}

/* ---- API ------------------------------------------------------------------------------------ */

void qk_lake_ctx_init(qk_lake_ctx *ctx, qk_engine *engine)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->engine = engine;
}

void qk_lake_ctx_free(qk_lake_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->view_dir) qk_rmtree(ctx->view_dir, false, NULL);
    free(ctx->view_dir);
    ctx->view_dir = NULL;
    if (ctx->own_cache) qk_cache_close(ctx->cache);
    ctx->cache = NULL;
    json_decref(ctx->bound);
    ctx->bound = NULL;
    ctx->own_cache = false;
}

static void state_free(resolve_state *rs)
{
    for (size_t i = 0; i < rs->nrefs; i++) {
        free(rs->refs[i].uri);
        free(rs->refs[i].key);
        free(rs->refs[i].local);
    }
    for (size_t i = 0; i < rs->nstores; i++) {
        free(rs->stores[i].bucket);
        qk_store_destroy(rs->stores[i].store);
    }
    for (size_t i = 0; i < rs->njobs; i++)
        free(rs->jobs[i].key);
    free(rs->refs);
    free(rs->stores);
    free(rs->jobs);
    qk_lake_known_free(&rs->known);
    pthread_mutex_destroy(&rs->mu);
}

/* Drop the jobs [from, rs->njobs) of glob r whose hive partitions fail the WHERE (prune.c). */
static int prune_ref(resolve_state *rs, const uri_ref *r, size_t from, qk_err *err)
{
    size_t n = rs->njobs - from, w = from;
    char **keys = calloc(n ? n : 1, sizeof *keys), *probe = NULL;
    bool *keep = calloc(n ? n : 1, sizeof *keep);
    if (!keys || !keep || asprintf(&probe, "%s/_probe", rs->ctx->view_dir) < 0) {
        free(keys);
        free(keep);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = rs->jobs[from + i].key;
    qk_lake_prune(rs->con, rs->ast, rs->mark, r->uri, r->key, probe, keys, n, keep);
    for (size_t i = 0; i < n; i++) {
        if (keep[i])
            rs->jobs[w++] = rs->jobs[from + i];
        else
            free(rs->jobs[from + i].key), rs->ctx->pruned++;
    }
    rs->njobs = w;
    free(probe);
    free(keys);
    free(keep);
    return 0;
}

/* Steps 4-5: expand, prune, fetch and name the view path of every reference. */
static int materialize(resolve_state *rs, qk_err *err)
{
    int rc;
    if ((rc = open_cache(rs->ctx, err)) || (rc = make_view(rs->ctx, err))) return rc;
    for (size_t i = 0; i < rs->nrefs; i++) {
        size_t from = rs->njobs;
        if ((rc = expand_ref(rs, &rs->refs[i], err))) return rc;
        if (qk_lake_has_glob(rs->refs[i].key) && (rc = prune_ref(rs, &rs->refs[i], from, err)))
            return rc;
    }
    if ((rc = fetch_all(rs, err))) return rc;
    for (size_t i = 0; i < rs->nrefs; i++) {
        uri_ref *r = &rs->refs[i];
        if (asprintf(&r->local, "%s/%s/%s", rs->ctx->view_dir, rs->stores[r->store].bucket,
                     r->key) < 0) {
            r->local = NULL;
            return qk_errf(err, QK_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Bind the lake's table names in rs->ast (names.c) against the engine's lake. */
static int bind_names(resolve_state *rs, qk_err *err)
{
    qk_store *lake = NULL;
    int rc = qk_store_open(qk_engine_lake(rs->ctx->engine), &lake, err);
    if (!rc)
        rc = qk_lake_bind_names(rs->ctx->engine, rs->con, rs->ast, rs->mark, lake, &rs->ctx->tables,
                                &rs->known, err);
    qk_store_destroy(lake);
    json_decref(rs->ctx->bound);
    rs->ctx->bound = rs->known.bound;
    rs->known.bound = NULL;
    rs->ctx->delta_skipped = rs->known.delta_skipped;
    return rc;
}

int qk_lake_resolve(qk_lake_ctx *ctx, const char *sql, char **sql_out, qk_err *err)
{
    resolve_state rs;
    duckdb_connection con = NULL;
    char mark[48];
    json_t *j = NULL;
    int rc;
    *sql_out = NULL;
    ctx->tables = 0;
    ctx->parsed = false;
    if (!ctx->names && !strstr(sql, "s3://"))
        return (*sql_out = strdup(sql)) ? 0 : qk_errf(err, QK_ENOMEM, "oom");
    memset(&rs, 0, sizeof rs);
    rs.ctx = ctx;
    rs.started_ms = qk_now_ms();
    pthread_mutex_init(&rs.mu, NULL);
    if (duckdb_connect(qk_engine_db(ctx->engine), &con) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
        goto out;
    }
    qk_uuid4(mark);
    memcpy(mark + 36, ":big:", 6);
    if ((rc = qk_lake_parse(con, sql, mark, &j, err))) goto out;
    rs.con = con;
    rs.ast = j;
    rs.mark = mark;
    ctx->parsed = true;
    if (ctx->names && (rc = bind_names(&rs, err))) goto out;
    if ((rc = walk(&rs, j, false, collect_visit, err))) goto out;
    if (rs.nrefs == 0 && ctx->tables == 0) {
        *sql_out = qk_xstrdup(sql); /* "s3://" only in other strings: nothing to do */
        goto out;
    }
    if (rs.nrefs && (rc = materialize(&rs, err))) goto out;
    if (rs.nrefs && (rc = walk(&rs, j, false, replace_visit, err))) goto out;
    if ((rc = qk_lake_render(con, j, mark, sql_out, err)))
        qk_err_prefix(err, "cannot render the query with local paths");
out:
    json_decref(j);
    if (con) duckdb_disconnect(&con);
    state_free(&rs);
    return rc;
}

/* The first keyword of sql (after blanks, comments and opening parentheses), upper-cased. */
static void first_keyword(const char *sql, char *kw, size_t cap)
{
    const char *p = sql;
    size_t n = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '(')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            p = e ? e + 2 : p + strlen(p);
        } else {
            break;
        }
    }
    while (n + 1 < cap && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        kw[n++] = (char)(*p >= 'a' ? *p - 32 : *p), p++;
    kw[n] = 0;
}

/* Does sql hold word (upper case) as a whole word, in any case? (A cheap test: a hit in a
 * string or a comment only costs a parse.) */
static bool has_word(const char *sql, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = sql; (p = strcasestr(p, word)) != NULL; p += n) {
        bool before = p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool after = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (before && after) return true;
    }
    return false;
}

/* CREATE ... AS <query> whose query names lake tables (ctas.c): bind the query part, run the
 * statement with it. DuckDB's first error stands when the statement is not that shape or names
 * no lake table. */
/* Record a session table made by CREATE ... AS in the lineage log; a failure is logged only
 * (the statement has run; a read-only lake keeps no lineage). */
static void ctas_lineage(qk_engine *e, const char *sql, size_t at, json_t *bound)
{
    qk_store *lake = NULL;
    json_t *parents = qk_lineage_parents(bound);
    char *name = qk_lake_ctas_name(sql, at);
    qk_err err = {0};
    if (name && parents && !qk_store_open(qk_engine_lake(e), &lake, &err)) {
        qk_lineage_rec r = {.table = name,
                            .kind = "session",
                            .operation = "create table as",
                            .parents = parents,
                            .query = sql,
                            .location = "session",
                            .version = -1};
        if (qk_lineage_record(e, lake, &r, &err))
            qk_log(QK_LOG_WARN, "lineage_not_recorded", "\"table\":\"%s\",\"error\":\"%s\"",
                   "session", err.type);
    }
    qk_store_destroy(lake);
    json_decref(parents);
    free(name);
}

static int run_ctas(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                    const qk_err *first, qk_err *err)
{
    duckdb_connection con = NULL;
    qk_lake_ctx c;
    char mark[48], *local = NULL, *full = NULL;
    size_t at = 0;
    int rc;
    if (duckdb_connect(qk_engine_db(e), &con) == DuckDBError)
        return qk_errf(err, QK_EINTERNAL, "cannot open a DuckDB connection");
    qk_uuid4(mark);
    memcpy(mark + 36, ":big:", 6);
    at = qk_lake_ctas_split(con, mark, sql);
    duckdb_disconnect(&con);
    qk_lake_ctx_init(&c, e);
    c.names = true;
    c.opts = o;
    rc = at ? qk_lake_resolve(&c, sql + at, &local, err) : QK_ESQL;
    if ((rc && !at) || (!rc && c.tables == 0)) {
        rc = QK_ESQL;
        qk_engine_note_answered(e, rc);
        *err = *first;
    } else if (!rc) {
        if (asprintf(&full, "%.*s %s", (int)at, sql, local) < 0)
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
        else
            rc = qk_engine_query(e, full, o, out, err);
        if (!rc) ctas_lineage(e, sql, at, c.bound);
    }
    free(full);
    free(local);
    qk_lake_ctx_free(&c);
    return rc;
}

/* Resolve sql (paths, and table names when names) and run it. */
static int resolve_and_run(qk_engine *e, const char *sql, bool names, const qk_query_opts *o,
                           qk_result **out, qk_lake_ctx *c, qk_err *err)
{
    char *local = NULL;
    int rc;
    qk_lake_ctx_init(c, e);
    c->names = names;
    c->opts = o;
    rc = qk_lake_resolve(c, sql, &local, err);
    if (!rc) rc = qk_engine_query(e, local, o, out, err);
    free(local);
    return rc;
}

int qk_lake_query(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                  qk_err *err)
{
    qk_lake_ctx c;
    qk_err first;
    qk_query_opts probe;
    char kw[16], *local = NULL, *caret = NULL;
    int rc;
    *out = NULL;
    if ((rc = qk_lake_caret_rewrite(sql, &caret, err))) {
        qk_engine_note_answered(e, rc);
        return rc;
    }
    if (caret) {
        rc = qk_lake_query(e, caret, o, out, err);
        free(caret);
        return rc;
    }
    if (qk_lake_is_copy_to_s3(sql)) return qk_lake_copy(e, sql, o, out, err);
    first_keyword(sql, kw, sizeof kw);
    if (strstr(sql, "s3://") || !strcmp(kw, "DESC") || has_word(sql, "SHOW") ||
        has_word(sql, "DESCRIBE") || has_word(sql, "SUMMARIZE")) {
        rc = resolve_and_run(e, sql, true, o, out, &c, err);
        qk_lake_ctx_free(&c);
        return rc;
    }
    qk_err_clear(&first);
    probe = o ? *o : (qk_query_opts){-1, 0, NULL, NULL, false};
    probe.probe = true;
    rc = qk_engine_query(e, sql, &probe, out, &first);
    if (rc != QK_ESQL ||
        !(((!strcmp(first.type, "CatalogException") || !strcmp(first.type, "BinderException")) &&
           strstr(first.msg, "does not exist")) || /* table, schema, or catalog (a.b.c) */
          (!strcmp(first.type, "BinderException") && strstr(first.msg, "time travel")))) {
        if (rc) {
            qk_engine_note_answered(e, rc); /* the probe's answer is the answer */
            *err = first;
        }
        return rc;
    }
    /* DuckDB does not know a table: maybe the lake does. */
    qk_lake_ctx_init(&c, e);
    c.names = true;
    c.opts = o;
    rc = qk_lake_resolve(&c, sql, &local, err);
    if (rc && !c.parsed && !strcmp(kw, "CREATE")) {
        qk_lake_ctx_free(&c);
        return run_ctas(e, sql, o, out, &first, err);
    }
    if ((rc && !c.parsed) || (!rc && c.tables == 0)) {
        /* not a SELECT we can bind, or no lake table: DuckDB's own error stands, answered */
        rc = QK_ESQL;
        qk_engine_note_answered(e, rc);
        *err = first;
    } else if (!rc) {
        rc = qk_engine_query(e, local, o, out, err);
    }
    free(local);
    qk_lake_ctx_free(&c);
    return rc;
}

/* ---- for the planner ------------------------------------------------------------------------ */

int qk_lake_ast_parse(qk_engine *e, duckdb_connection con, const char *sql, const char *mark,
                      bool names, json_t **ast, size_t *tables, qk_err *err)
{
    resolve_state rs;
    qk_lake_ctx c;
    int rc;
    if (tables) *tables = 0;
    if ((rc = qk_lake_parse(con, sql, mark, ast, err))) return rc;
    if (!names) return 0;
    qk_lake_ctx_init(&c, e);
    memset(&rs, 0, sizeof rs);
    rs.ctx = &c;
    rs.con = con;
    rs.ast = *ast;
    rs.mark = mark;
    rc = bind_names(&rs, err);
    qk_lake_known_free(&rs.known); /* the planner lists for itself */
    json_decref(c.bound);
    if (tables) *tables = c.tables;
    if (rc) {
        json_decref(*ast);
        *ast = NULL;
    }
    return rc;
}

int qk_lake_ast_render(duckdb_connection con, json_t *ast, const char *mark, char **out,
                       qk_err *err)
{
    return qk_lake_render(con, ast, mark, out, err);
}

typedef struct list_uri_ud {
    const char *bucket, *pattern;
    qk_obj_list *out;
} list_uri_ud;

static int list_uri_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    list_uri_ud *u = ud;
    qk_obj_info o;
    char *full;
    int rc;
    (void)cp;
    if (!obj || qk_str_endswith(obj->key, "/") || !qk_lake_glob_match(u->pattern, obj->key))
        return 0;
    if (asprintf(&full, "s3://%s/%s", u->bucket, obj->key) < 0)
        return qk_errf(err, QK_ENOMEM, "out of memory");
    o = *obj;
    o.key = full;
    rc = qk_obj_list_add(u->out, &o, err);
    free(full);
    return rc;
}

int qk_lake_list_uri(const char *uri, qk_obj_list *out, qk_err *err)
{
    const char *b = uri + 5, *slash;
    char bucket[256], store_uri[300];
    qk_store *s = NULL;
    int rc;
    if (!qk_str_startswith(uri, "s3://") || !(slash = strchr(b, '/')) || slash == b ||
        (size_t)(slash - b) >= sizeof bucket || !slash[1] || !qk_lake_key_is_path(slash + 1))
        return qk_errf(err, QK_EINVAL, "not an object path: %.200s (want s3://bucket/key)", uri);
    memcpy(bucket, b, (size_t)(slash - b));
    bucket[slash - b] = 0;
    snprintf(store_uri, sizeof store_uri, "s3://%s", bucket);
    if ((rc = qk_store_open(store_uri, &s, err))) return rc;
    if (qk_lake_has_glob(slash + 1)) {
        list_uri_ud u = {bucket, slash + 1, out};
        char *prefix = strndup(slash + 1, strcspn(slash + 1, "*?["));
        size_t before = out->n;
        if (!prefix)
            rc = qk_errf(err, QK_ENOMEM, "out of memory");
        else
            rc = qk_store_list_all(s, prefix, NULL, list_uri_cb, &u, err);
        free(prefix);
        if (!rc && out->n == before)
            rc = qk_errtf(err, QK_ENOTFOUND, "IOException",
                          "No files found that match the pattern \"%.200s\"", uri);
    } else {
        qk_obj_info info;
        rc = qk_store_head(s, slash + 1, &info, err);
        if (rc == QK_ENOTFOUND)
            rc = qk_errtf(err, QK_ENOTFOUND, "IOException", "no such object %.200s", uri);
        if (!rc) {
            info.key = uri;
            rc = qk_obj_list_add(out, &info, err);
        }
    }
    qk_store_destroy(s);
    return rc;
}

size_t qk_lake_prune_files(qk_engine *e, duckdb_connection con, json_t *ast, const char *mark,
                           const char *uri, qk_obj_list *files)
{
    size_t skip = 0, w = 0, n = files->n, removed;
    const char *pattern = uri;
    char **keys, *probe = NULL, id[37];
    bool *keep;
    if (n == 0) return 0;
    if (qk_str_startswith(uri, "s3://")) {
        const char *slash = strchr(uri + 5, '/');
        if (!slash) return 0;
        skip = (size_t)(slash + 1 - uri); /* "s3://bucket/" */
        pattern = slash + 1;
    } else if (uri[0] == '/') {
        skip = 1;
        pattern = uri + 1;
    }
    keys = calloc(n, sizeof *keys);
    keep = calloc(n, sizeof *keep);
    qk_uuid4(id);
    if (!keys || !keep || asprintf(&probe, "%s/prune-%s", qk_engine_temp_dir(e), id) < 0) {
        free(keys);
        free(keep);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (strlen(files->v[i].key) < skip || strncmp(files->v[i].key, uri, skip) != 0) {
            free(keys);
            free(keep);
            free(probe);
            return 0;
        }
        keys[i] = files->v[i].key + skip;
    }
    qk_lake_prune(con, ast, mark, uri, pattern, probe, keys, n, keep);
    for (size_t i = 0; i < n; i++) {
        if (keep[i])
            files->v[w++] = files->v[i];
        else
            free(files->v[i].key);
    }
    removed = n - w;
    files->n = w;
    free(keys);
    free(keep);
    free(probe);
    return removed;
}
