/* SPDX-License-Identifier: MIT */
/*
 * replay.c: action reconciliation (PROTOCOL.md "Action Reconciliation") and the snapshot's
 * arrays.
 *
 * Actions arrive in log order: the checkpoint's rows first, then each commit's lines. The
 * newest protocol and metaData actions are kept whole (jansson references); txn actions are
 * kept per appId, the newest winning. Every add is a record in an array indexed by a hash of
 * (decoded path, deletion vector id): a later add of the same key replaces the record, a
 * remove marks it inactive (a later add reactivates it). Strings are copied into the
 * snapshot's arena; stats stay raw text until the end, when only the active files' stats are
 * parsed. qk_delta_replay_finish checks the protocol, parses the schema and lays out the
 * active files (sorted by path) with their partition values in partitionColumns order
 * (a missing key, null or "" is a NULL partition).
 */
#include "delta/delta_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct rec {
    const char *path;  /* decoded */
    const char *dv;    /* deletion vector id, "" for none */
    const char *stats; /* raw JSON or NULL */
    const char **pv_keys, **pv_vals;
    size_t npv;
    int64_t size, mtime;
    bool data_change, active, absolute;
} rec;

struct qk_delta_replay {
    qk_delta_snapshot *snap;
    json_t *protocol; /* the newest protocol action's value */
    json_t *metadata; /* the newest metaData action's value */
    json_t *txns;     /* appId -> txn value */
    rec *recs;
    size_t nrecs, caprecs;
    uint32_t *slots; /* open addressing: 0 empty, else record index + 1 */
    size_t nslots;
};

int qk_delta_replay_new(qk_delta_snapshot *snap, qk_delta_replay **out, qk_err *err)
{
    qk_delta_replay *r = calloc(1, sizeof *r);
    if (!r || !(r->txns = json_object())) {
        free(r);
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    r->snap = snap;
    *out = r;
    return 0;
}

void qk_delta_replay_destroy(qk_delta_replay *r)
{
    if (!r) return;
    json_decref(r->protocol);
    json_decref(r->metadata);
    json_decref(r->txns);
    free(r->recs);
    free(r->slots);
    free(r);
}

/* ---- the (path, dv) table ------------------------------------------------------------------ */

static uint64_t key_hash(const char *path, const char *dv)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)dv; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The slot holding (path, dv), or the empty slot where it would go. */
static size_t find_slot(const qk_delta_replay *r, const char *path, const char *dv)
{
    size_t mask = r->nslots - 1, i = (size_t)key_hash(path, dv) & mask;
    while (r->slots[i]) {
        const rec *x = &r->recs[r->slots[i] - 1];
        if (!strcmp(x->path, path) && !strcmp(x->dv, dv)) return i;
        i = (i + 1) & mask;
    }
    return i;
}

/* Keep the table at most half full. */
static int grow_slots(qk_delta_replay *r, qk_err *err)
{
    size_t n = r->nslots ? r->nslots * 2 : 1024;
    if (r->nslots && r->nrecs * 2 < r->nslots) return 0;
    free(r->slots);
    if (!(r->slots = calloc(n, sizeof *r->slots))) {
        r->nslots = 0;
        return qk_errf(err, QK_ENOMEM, "out of memory (file table)");
    }
    r->nslots = n;
    for (size_t i = 0; i < r->nrecs; i++)
        r->slots[find_slot(r, r->recs[i].path, r->recs[i].dv)] = (uint32_t)(i + 1);
    return 0;
}

/* The record for (path, dv), created inactive when new. */
static int lookup_rec(qk_delta_replay *r, const char *path, const char *dv, bool create, rec **out,
                      qk_err *err)
{
    size_t i;
    *out = NULL;
    if (r->nslots) {
        i = find_slot(r, path, dv);
        if (r->slots[i]) {
            *out = &r->recs[r->slots[i] - 1];
            return 0;
        }
    }
    if (!create) return 0;
    if (r->nrecs >= QK_DELTA_FILES_MAX)
        return qk_errf(err, QK_ETOOBIG, "more than %zu files in the log", QK_DELTA_FILES_MAX);
    if (r->nrecs == r->caprecs) {
        size_t cap = r->caprecs ? r->caprecs * 2 : 256;
        rec *v = realloc(r->recs, cap * sizeof *v);
        if (!v) return qk_errf(err, QK_ENOMEM, "out of memory (files)");
        r->recs = v;
        r->caprecs = cap;
    }
    rec *x = &r->recs[r->nrecs];
    memset(x, 0, sizeof *x);
    x->path = qk_arena_strdup(&r->snap->arena, path);
    x->dv = qk_arena_strdup(&r->snap->arena, dv);
    if (!x->path || !x->dv) return qk_errf(err, QK_ENOMEM, "out of memory (paths)");
    r->nrecs++;
    int rc = grow_slots(r, err);
    if (rc) return rc;
    r->slots[find_slot(r, path, dv)] = (uint32_t)r->nrecs;
    *out = x;
    return 0;
}

/* ---- values ------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %XX escapes once (the add path is an RFC 2396 URI). A '%' not followed by two hex
 * digits is kept as it is; %00 is refused. */
int qk_delta_path_decode(const char *in, qk_arena *a, const char **out, const char *where,
                         qk_err *err)
{
    size_t n = strlen(in), j = 0;
    char *p = qk_arena_alloc(a, n + 1);
    if (!p) return qk_errf(err, QK_ENOMEM, "out of memory (paths)");
    for (size_t i = 0; i < n; i++) {
        int hi = i + 2 < n && in[i] == '%' ? hexval(in[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(in[i + 2]) : -1;
        if (lo >= 0) {
            p[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            p[j++] = in[i];
        }
        if (j && !p[j - 1]) return qk_errf(err, QK_EPARSE, "%s: a path holds %%00", where);
    }
    p[j] = '\0';
    *out = p;
    return 0;
}

/* An absolute URI starts with a scheme ("s3:", "file:") or with '/'. */
bool qk_delta_path_absolute(const char *raw)
{
    const char *p = raw;
    if (*p == '/') return true;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return false;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '.' || *p == '-')
        p++;
    return *p == ':';
}

int64_t qk_delta_json_int(json_t *o, const char *name, int64_t dflt)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* A partition value's text: strings as they are, other scalars as JSON, null as NULL. */
static int scalar_text(json_t *v, qk_arena *a, const char **out, qk_err *err)
{
    char *txt;
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        *out = qk_arena_strndup(a, json_string_value(v), json_string_length(v));
    } else {
        if (!(txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)))
            return qk_errf(err, QK_ENOMEM, "out of memory");
        *out = qk_arena_strdup(a, txt);
        free(txt);
    }
    return *out ? 0 : qk_errf(err, QK_ENOMEM, "out of memory (partition values)");
}

/* The deletion vector's unique id: storageType + pathOrInlineDv (+ "@" offset). */
static int dv_id(json_t *dv, char *out, size_t cap, qk_arena *a, const char **res, qk_err *err)
{
    json_t *off = json_object_get(dv, "offset");
    const char *st = json_string_value(json_object_get(dv, "storageType"));
    const char *pv = json_string_value(json_object_get(dv, "pathOrInlineDv"));
    *res = "";
    if (!json_is_object(dv)) return 0;
    if (json_is_integer(off))
        snprintf(out, cap, "%s%s@%lld", st ? st : "", pv ? pv : "",
                 (long long)json_integer_value(off));
    else
        snprintf(out, cap, "%s%s", st ? st : "", pv ? pv : "");
    if (!(*res = qk_arena_strdup(a, out))) return qk_errf(err, QK_ENOMEM, "out of memory");
    return 0;
}

/* ---- actions ------------------------------------------------------------------------------ */

static int copy_partition_values(rec *x, json_t *pv, qk_arena *a, qk_err *err)
{
    const char *k;
    json_t *v;
    size_t i = 0, n = json_is_object(pv) ? json_object_size(pv) : 0;
    int rc = 0;
    x->npv = 0;
    if (!n) return 0;
    x->pv_keys = qk_arena_alloc(a, n * sizeof *x->pv_keys);
    x->pv_vals = qk_arena_alloc(a, n * sizeof *x->pv_vals);
    if (!x->pv_keys || !x->pv_vals) return qk_errf(err, QK_ENOMEM, "out of memory");
    json_object_foreach(pv, k, v)
    {
        if (!(x->pv_keys[i] = qk_arena_strdup(a, k)))
            return qk_errf(err, QK_ENOMEM, "out of memory");
        if ((rc = scalar_text(v, a, &x->pv_vals[i], err))) return rc;
        i++;
    }
    x->npv = i;
    return 0;
}

/* The stats text of an add: "stats", else a checkpoint's "stats_parsed" written back out. */
static int copy_stats(rec *x, json_t *add, qk_arena *a, qk_err *err)
{
    json_t *st = json_object_get(add, "stats"), *parsed = json_object_get(add, "stats_parsed");
    char *txt;
    x->stats = NULL;
    if (json_is_string(st)) {
        x->stats = qk_arena_strndup(a, json_string_value(st), json_string_length(st));
    } else if (json_is_object(parsed)) {
        if (!(txt = json_dumps(parsed, JSON_COMPACT)))
            return qk_errf(err, QK_ENOMEM, "out of memory");
        x->stats = qk_arena_strdup(a, txt);
        free(txt);
    } else {
        return 0;
    }
    return x->stats ? 0 : qk_errf(err, QK_ENOMEM, "out of memory (stats)");
}

/* add or remove: find the record keyed by (decoded path, dv id). */
static int file_rec(qk_delta_replay *r, json_t *a, bool create, const char *what, const char *where,
                    rec **out, qk_err *err)
{
    const char *raw = json_string_value(json_object_get(a, "path")), *path = "", *dv = "";
    char dvbuf[2048];
    int rc;
    if (!raw || !*raw) return qk_errf(err, QK_EPARSE, "%s: %s action without a path", where, what);
    rc = qk_delta_path_decode(raw, &r->snap->arena, &path, where, err);
    if (!rc)
        rc = dv_id(json_object_get(a, "deletionVector"), dvbuf, sizeof dvbuf, &r->snap->arena, &dv,
                   err);
    if (!rc) rc = lookup_rec(r, path, dv, create, out, err);
    if (!rc && *out) (*out)->absolute = qk_delta_path_absolute(raw);
    return rc;
}

static int apply_add(qk_delta_replay *r, json_t *a, const char *where, qk_err *err)
{
    rec *x;
    json_t *pv = json_object_get(a, "partitionValues");
    int rc = file_rec(r, a, true, "add", where, &x, err);
    if (rc) return rc;
    x->active = true;
    x->size = qk_delta_json_int(a, "size", 0);
    x->mtime = qk_delta_json_int(a, "modificationTime", 0);
    x->data_change = !json_is_false(json_object_get(a, "dataChange"));
    if (!json_is_object(pv)) pv = json_object_get(a, "partitionValues_parsed");
    rc = copy_partition_values(x, pv, &r->snap->arena, err);
    return rc ? rc : copy_stats(x, a, &r->snap->arena, err);
}

static int apply_remove(qk_delta_replay *r, json_t *a, const char *where, qk_err *err)
{
    rec *x;
    int rc = file_rec(r, a, false, "remove", where, &x, err);
    if (!rc && x) x->active = false;
    return rc;
}

static int apply_txn(qk_delta_replay *r, json_t *t, const char *where, qk_err *err)
{
    const char *app = json_string_value(json_object_get(t, "appId"));
    if (!app || !json_is_integer(json_object_get(t, "version")))
        return qk_errf(err, QK_EPARSE, "%s: txn action without appId or version", where);
    if (json_object_set(r->txns, app, t)) return qk_errf(err, QK_ENOMEM, "out of memory");
    return 0;
}

/* Keep a reference to the newest value of a protocol or metaData action. */
static void keep(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = json_incref(v);
}

int qk_delta_replay_action(qk_delta_replay *r, json_t *action, bool from_checkpoint,
                           const char *where, qk_err *err)
{
    json_t *v;
    if (!json_is_object(action))
        return qk_errf(err, QK_EPARSE, "%s: an action is not a JSON object", where);
    if (json_is_object(v = json_object_get(action, "add"))) return apply_add(r, v, where, err);
    if (json_is_object(v = json_object_get(action, "remove")))
        return from_checkpoint ? 0 : apply_remove(r, v, where, err);
    if (json_is_object(v = json_object_get(action, "metaData"))) {
        keep(&r->metadata, v);
        return 0;
    }
    if (json_is_object(v = json_object_get(action, "protocol"))) {
        keep(&r->protocol, v);
        return 0;
    }
    if (json_is_object(v = json_object_get(action, "txn"))) return apply_txn(r, v, where, err);
    return 0; /* commitInfo, cdc, domainMetadata, checkpointMetadata, sidecar, unknown */
}

/* ---- commit files ------------------------------------------------------------------------- */

int qk_delta_each_line(const char *key, const char *data, size_t len, qk_delta_line_fn fn, void *ud,
                       qk_err *err)
{
    size_t pos = 0, lineno = 0;
    int rc = 0;
    while (!rc && pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;
        char where[QK_STORE_KEY_MAX + 32];
        json_error_t je;
        lineno++;
        snprintf(where, sizeof where, "%s:%zu", key, lineno);
        while (n && (data[pos + n - 1] == '\r' || data[pos + n - 1] == ' '))
            n--;
        if (n) {
            json_t *a = json_loadb(data + pos, n, 0, &je);
            if (!a)
                rc = qk_errf(err, QK_EPARSE, "%s: corrupt JSON action: %s", where, je.text);
            else
                rc = fn(ud, a, where, err);
            json_decref(a);
        }
        pos = end + 1;
    }
    return rc;
}

typedef struct commit_ctx {
    qk_delta_replay *r; /* NULL: only look for the inCommitTimestamp */
    int64_t ict;
} commit_ctx;

static int commit_line(void *ud, json_t *a, const char *where, qk_err *err)
{
    commit_ctx *c = ud;
    json_t *ci = json_object_get(a, "commitInfo");
    if (json_is_object(ci)) c->ict = qk_delta_json_int(ci, "inCommitTimestamp", c->ict);
    return c->r ? qk_delta_replay_action(c->r, a, false, where, err) : 0;
}

int qk_delta_replay_commit(qk_delta_replay *r, const char *key, const char *data, size_t len,
                           int64_t *ict, qk_err *err)
{
    commit_ctx c = {r, -1};
    int rc = qk_delta_each_line(key, data, len, commit_line, &c, err);
    *ict = c.ict;
    return rc;
}

int qk_delta_commit_ict(const char *key, const char *data, size_t len, int64_t *ict, qk_err *err)
{
    return qk_delta_replay_commit(NULL, key, data, len, ict, err);
}

/* ---- finish ------------------------------------------------------------------------------- */

static int copy_strings(json_t *arr, qk_arena *a, const char ***out, size_t *n, qk_err *err)
{
    size_t i;
    json_t *v;
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || !json_array_size(arr)) return 0;
    if (!(*out = qk_arena_alloc(a, json_array_size(arr) * sizeof **out)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) return qk_errf(err, QK_EPARSE, "a feature or column is not text");
        if (!((*out)[i] = qk_arena_strdup(a, json_string_value(v))))
            return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    *n = json_array_size(arr);
    return 0;
}

static int finish_protocol(qk_delta_replay *r, qk_err *err)
{
    qk_delta_protocol *p = &r->snap->protocol;
    json_t *cfg = r->metadata ? json_object_get(r->metadata, "configuration") : NULL;
    int rc;
    if (!r->protocol)
        return qk_errf(err, QK_EPARSE, "no protocol action in the log up to version %lld",
                       (long long)r->snap->version);
    p->min_reader_version = (int)qk_delta_json_int(r->protocol, "minReaderVersion", 1);
    p->min_writer_version = (int)qk_delta_json_int(r->protocol, "minWriterVersion", 1);
    rc = copy_strings(json_object_get(r->protocol, "readerFeatures"), &r->snap->arena,
                      &p->reader_features, &p->nreader_features, err);
    if (!rc)
        rc = copy_strings(json_object_get(r->protocol, "writerFeatures"), &r->snap->arena,
                          &p->writer_features, &p->nwriter_features, err);
    return rc ? rc : qk_delta_protocol_check(p, cfg, err);
}

static const char *opt_str(qk_delta_replay *r, const char *name)
{
    const char *v = json_string_value(json_object_get(r->metadata, name));
    return v ? qk_arena_strdup(&r->snap->arena, v) : NULL;
}

static int finish_metadata(qk_delta_replay *r, qk_err *err)
{
    qk_delta_metadata *m = &r->snap->metadata;
    json_t *cfg;
    int rc;
    if (!r->metadata)
        return qk_errf(err, QK_EPARSE, "no metaData action in the log up to version %lld",
                       (long long)r->snap->version);
    m->id = opt_str(r, "id");
    m->name = opt_str(r, "name");
    m->description = opt_str(r, "description");
    if (!(m->schema_string = opt_str(r, "schemaString")))
        return qk_errf(err, QK_EPARSE, "the metaData action has no schemaString");
    m->created_time = qk_delta_json_int(r->metadata, "createdTime", -1);
    cfg = json_object_get(r->metadata, "configuration");
    m->configuration = json_is_object(cfg) ? json_incref(cfg) : json_object();
    if (!m->configuration || json_array_append_new(r->snap->owned, m->configuration))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    rc = copy_strings(json_object_get(r->metadata, "partitionColumns"), &r->snap->arena,
                      &m->partition_columns, &m->npartition_columns, err);
    return rc ? rc : qk_delta_columns_parse(r->snap, err);
}

/* Fill the stats fields of f from its raw text; stats that do not parse are ignored. */
static int parse_stats(qk_delta_snapshot *snap, qk_delta_file *f)
{
    json_t *st;
    f->num_records = -1;
    if (!f->stats || !(st = json_loads(f->stats, 0, NULL))) return 0;
    if (json_array_append_new(snap->owned, st)) return QK_ENOMEM;
    f->num_records = qk_delta_json_int(st, "numRecords", -1);
    f->min_values = json_object_get(st, "minValues");
    f->max_values = json_object_get(st, "maxValues");
    f->null_count = json_object_get(st, "nullCount");
    return 0;
}

/* The value of partition column name in x: exact key first, then case-insensitive. */
static const char *partition_value(const rec *x, const char *name)
{
    const char *v = NULL;
    bool found = false;
    for (size_t i = 0; i < x->npv && !found; i++)
        if (!strcmp(x->pv_keys[i], name)) v = x->pv_vals[i], found = true;
    for (size_t i = 0; i < x->npv && !found; i++)
        if (!strcasecmp(x->pv_keys[i], name)) v = x->pv_vals[i], found = true;
    return v && *v ? v : NULL;
}

static int fill_file(qk_delta_snapshot *snap, const rec *x, qk_delta_file *f, qk_err *err)
{
    size_t np = snap->metadata.npartition_columns;
    memset(f, 0, sizeof *f);
    f->path = x->path;
    f->absolute = x->absolute;
    f->size = x->size;
    f->modification_time = x->mtime;
    f->data_change = x->data_change;
    f->stats = x->stats;
    if (np && !(f->partition_values = qk_arena_alloc(&snap->arena, np * sizeof(char *))))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    for (size_t i = 0; i < np; i++)
        f->partition_values[i] = partition_value(x, snap->metadata.partition_columns[i]);
    if (parse_stats(snap, f)) return qk_errf(err, QK_ENOMEM, "out of memory (stats)");
    return 0;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const qk_delta_file *)a)->path, ((const qk_delta_file *)b)->path);
}

static int finish_files(qk_delta_replay *r, qk_err *err)
{
    qk_delta_snapshot *snap = r->snap;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < r->nrecs; i++)
        n += r->recs[i].active;
    if (n && !(snap->files = qk_arena_alloc(&snap->arena, n * sizeof *snap->files)))
        return qk_errf(err, QK_ENOMEM, "out of memory (files)");
    for (size_t i = 0; !rc && i < r->nrecs; i++)
        if (r->recs[i].active) rc = fill_file(snap, &r->recs[i], &snap->files[snap->nfiles++], err);
    if (!rc && snap->nfiles > 1) qsort(snap->files, snap->nfiles, sizeof *snap->files, cmp_file);
    return rc;
}

static int cmp_txn(const void *a, const void *b)
{
    return strcmp(((const qk_delta_txn *)a)->app_id, ((const qk_delta_txn *)b)->app_id);
}

static int finish_txns(qk_delta_replay *r, qk_err *err)
{
    qk_delta_snapshot *snap = r->snap;
    size_t n = json_object_size(r->txns);
    const char *k;
    json_t *v;
    if (!n) return 0;
    if (!(snap->txns = qk_arena_alloc(&snap->arena, n * sizeof *snap->txns)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    json_object_foreach(r->txns, k, v)
    {
        qk_delta_txn *t = &snap->txns[snap->ntxns++];
        if (!(t->app_id = qk_arena_strdup(&snap->arena, k)))
            return qk_errf(err, QK_ENOMEM, "out of memory");
        t->version = qk_delta_json_int(v, "version", -1);
        t->last_updated = qk_delta_json_int(v, "lastUpdated", -1);
    }
    qsort(snap->txns, snap->ntxns, sizeof *snap->txns, cmp_txn);
    return 0;
}

int qk_delta_replay_finish(qk_delta_replay *r, qk_err *err)
{
    int rc = finish_protocol(r, err);
    if (!rc) rc = finish_metadata(r, err);
    if (!rc) rc = finish_files(r, err);
    if (!rc) rc = finish_txns(r, err);
    return rc;
}
