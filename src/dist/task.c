/* SPDX-License-Identifier: MIT */
/*
 * task.c: the coordinator <-> worker wire format (task.h): base64, task JSON and answer JSON.
 *
 * Building writes JSON by hand into a bounded qk_buf (the base64 of a partial can be several
 * MB: it is encoded straight into the answer, never copied through jansson). Parsing uses
 * jansson with duplicate keys rejected and checks each field's type and range before using it;
 * unknown fields are ignored so newer coordinators can add optional ones.
 */
#include "dist/task.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define BAD(err, ...) qk_errtf(err, QK_EINVAL, "BadRequest", __VA_ARGS__)
#define INVALID(err, ...) qk_errtf(err, QK_EINVAL, "InvalidAnswer", __VA_ARGS__)

/* ---- base64 ---------------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int qk_base64_encode(const void *p, size_t n, qk_buf *out)
{
    const unsigned char *s = p;
    char quad[4];
    int rc;
    if (n == 0) return 0;
    if (n / 3 > (SIZE_MAX - 8) / 4) return QK_ETOOBIG;
    if ((rc = qk_buf_reserve(out, (n + 2) / 3 * 4))) return rc;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        size_t left = n - i;
        if (left > 1) v |= (uint32_t)s[i + 1] << 8;
        if (left > 2) v |= s[i + 2];
        quad[0] = b64_alphabet[(v >> 18) & 63];
        quad[1] = b64_alphabet[(v >> 12) & 63];
        quad[2] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
        quad[3] = left > 2 ? b64_alphabet[v & 63] : '=';
        if ((rc = qk_buf_add(out, quad, 4))) return rc;
    }
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode one group of 4 symbols; pad = number of '=' (0..2, only in the last group). */
static int b64_group(const unsigned char *g, size_t at, bool last, unsigned char bytes[3],
                     int *nbytes, qk_err *err)
{
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
        if (g[k] == '=' && last && k >= 2 && (k == 3 || g[3] == '=')) {
            v[k] = 0, pad++;
            continue;
        }
        if ((v[k] = b64_value(g[k])) < 0)
            return qk_errf(err, QK_EINVAL, "invalid base64 at offset %zu", at + (size_t)k);
    }
    if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
        return qk_errf(err, QK_EINVAL, "invalid base64: non-zero padding bits at offset %zu", at);
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
    bytes[0] = (unsigned char)(w >> 16);
    bytes[1] = (unsigned char)(w >> 8);
    bytes[2] = (unsigned char)w;
    *nbytes = 3 - pad;
    return 0;
}

int qk_base64_decode(const char *s, size_t n, qk_buf *out, qk_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = out->len;
    unsigned char bytes[3];
    int nb = 0, rc = 0;
    if (n % 4)
        return qk_errf(err, QK_EINVAL, "invalid base64: length %zu is not a multiple of 4", n);
    size_t want = n / 4 * 3 - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
    if ((rc = qk_buf_reserve(out, want)))
        return qk_errf(err, rc, "base64 data of %zu bytes is over the limit", want);
    for (size_t i = 0; i < n; i += 4) {
        if ((rc = b64_group(u + i, i, i + 4 == n, bytes, &nb, err))) break;
        if ((rc = qk_buf_add(out, bytes, (size_t)nb))) {
            qk_errf(err, rc, "base64 data over the limit");
            break;
        }
    }
    if (rc) qk_buf_truncate(out, start);
    return rc;
}

/* ---- JSON helpers ------------------------------------------------------------------------------
 */

static void add_key(qk_buf *b, const char *key)
{
    qk_buf_addc(b, ',');
    qk_buf_add_json_str(b, key, strlen(key));
    qk_buf_addc(b, ':');
}

static void add_str(qk_buf *b, const char *key, const char *v)
{
    add_key(b, key);
    qk_buf_add_json_str(b, v, strlen(v));
}

static bool valid_uuid(const char *s, size_t n)
{
    if (n != 36) return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

/* Integer member in [lo, hi]; absent keeps *out unless required. */
static int get_int(json_t *o, const char *key, int64_t lo, int64_t hi, bool required, int64_t *out,
                   const char *type, qk_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        return qk_errtf(err, QK_EINVAL, type, "missing \"%s\"", key);
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return qk_errtf(err, QK_EINVAL, type, "\"%s\" must be an integer in %lld..%lld", key,
                        (long long)lo, (long long)hi);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* String member copied into a (at most max bytes); absent sets NULL unless required. */
static int get_str(json_t *o, const char *key, size_t max, bool required, qk_arena *a,
                   const char **out, const char *type, qk_err *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        return qk_errtf(err, QK_EINVAL, type, "missing \"%s\"", key);
    }
    if (!json_is_string(v)) return qk_errtf(err, QK_EINVAL, type, "\"%s\" must be a string", key);
    if (json_string_length(v) > max)
        return qk_errtf(err, QK_ETOOBIG, type, "\"%s\" is longer than %zu bytes", key, max);
    if (!(*out = qk_arena_strndup(a, json_string_value(v), json_string_length(v))))
        return qk_errtf(err, QK_ENOMEM, type, "out of memory copying \"%s\"", key);
    return 0;
}

static int get_bool(json_t *o, const char *key, bool *out, const char *type, qk_err *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return qk_errtf(err, QK_EINVAL, type, "\"%s\" must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

static int get_uuid(json_t *o, char out[37], const char *type, qk_err *err)
{
    json_t *v = json_object_get(o, "queryId");
    if (!json_is_string(v) || !valid_uuid(json_string_value(v), json_string_length(v)))
        return qk_errtf(err, QK_EINVAL, type, "\"queryId\" must be a UUID string");
    memcpy(out, json_string_value(v), 37);
    return 0;
}

static int load_object(const char *body, size_t len, json_t **out, const char *type, qk_err *err)
{
    json_error_t je;
    json_t *j =
        json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) return qk_errtf(err, QK_EINVAL, type, "invalid JSON: %s", je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return qk_errtf(err, QK_EINVAL, type, "expected a JSON object");
    }
    *out = j;
    return 0;
}

/* ---- tasks --------------------------------------------------------------------------------------
 */

int qk_dist_task_build(const qk_dist_task *t, qk_buf *out, qk_err *err)
{
    size_t start = out->len;
    int rc;
    if (!valid_uuid(t->query_id, strlen(t->query_id)) || !t->sql)
        return qk_errf(err, QK_EINVAL, "task without a query id or SQL");
    qk_buf_adds(out, "{\"task\":\"map\"");
    add_str(out, "queryId", t->query_id);
    qk_buf_printf(out, ",\"shard\":%lld,\"attempt\":%lld", (long long)t->shard,
                  (long long)t->attempt);
    add_str(out, "sql", t->sql);
    if (t->deadline_ms > 0) qk_buf_printf(out, ",\"deadlineMs\":%lld", (long long)t->deadline_ms);
    if (t->whole) qk_buf_printf(out, ",\"whole\":true,\"limit\":%lld", (long long)t->limit);
    if (t->spill_uri) {
        qk_buf_adds(out, ",\"spill\":{\"uri\":");
        qk_buf_add_json_str(out, t->spill_uri, strlen(t->spill_uri));
        qk_buf_printf(out, ",\"threshold\":%llu}", (unsigned long long)t->spill_threshold);
    }
    if ((rc = qk_buf_addc(out, '}'))) {
        qk_buf_truncate(out, start);
        return qk_errf(err, rc, "task too large");
    }
    return 0;
}

static int parse_spill(json_t *root, qk_arena *a, qk_dist_task *t, qk_err *err)
{
    json_t *s = json_object_get(root, "spill");
    int64_t thr = (int64_t)QK_DIST_INLINE_DEFAULT;
    int rc;
    if (!s || json_is_null(s)) return 0;
    if (!json_is_object(s)) return BAD(err, "\"spill\" must be an object {\"uri\",\"threshold\"}");
    if ((rc = get_str(s, "uri", QK_DIST_URI_MAX, true, a, &t->spill_uri, "BadRequest", err)))
        return rc;
    if (!*t->spill_uri || !qk_str_endswith(t->spill_uri, "/"))
        return BAD(err, "\"spill.uri\" must be a non-empty prefix ending in '/'");
    if ((rc = get_int(s, "threshold", 0, (int64_t)1 << 40, false, &thr, "BadRequest", err)))
        return rc;
    t->spill_threshold = (uint64_t)thr;
    return 0;
}

static int parse_task_fields(json_t *root, qk_arena *a, qk_dist_task *t, qk_err *err)
{
    json_t *kind = json_object_get(root, "task");
    int rc;
    if (!json_is_string(kind)) return BAD(err, "\"task\" must be a string, e.g. \"map\"");
    if (strcmp(json_string_value(kind), "map") != 0)
        return BAD(err, "unknown task \"%.64s\": workers know \"map\"", json_string_value(kind));
    if ((rc = get_uuid(root, t->query_id, "BadRequest", err))) return rc;
    if ((rc = get_int(root, "shard", 0, QK_DIST_MAX_SHARDS - 1, true, &t->shard, "BadRequest",
                      err)) ||
        (rc = get_int(root, "attempt", 1, QK_DIST_MAX_ATTEMPT, true, &t->attempt, "BadRequest",
                      err)) ||
        (rc = get_int(root, "deadlineMs", 0, INT64_MAX / 2, false, &t->deadline_ms, "BadRequest",
                      err)) ||
        (rc = get_int(root, "limit", -1, INT64_MAX / 2, false, &t->limit, "BadRequest", err)) ||
        (rc = get_bool(root, "whole", &t->whole, "BadRequest", err)))
        return rc;
    if ((rc = get_str(root, "sql", QK_DIST_SQL_MAX, true, a, &t->sql, "BadRequest", err))) {
        if (rc == QK_ETOOBIG) qk_strlcpy(err->type, "PayloadTooLarge", sizeof err->type);
        return rc;
    }
    if (qk_str_blank(t->sql)) return BAD(err, "\"sql\" is empty");
    return parse_spill(root, a, t, err);
}

int qk_dist_task_parse(const char *body, size_t len, qk_arena *a, qk_dist_task *out, qk_err *err)
{
    json_t *root = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    out->limit = -1;
    if ((rc = load_object(body, len, &root, "BadRequest", err))) return rc;
    rc = parse_task_fields(root, a, out, err);
    json_decref(root);
    return rc;
}

bool qk_dist_is_task(const char *body, size_t len)
{
    json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    bool yes = json_is_object(root) && json_object_get(root, "task") != NULL;
    json_decref(root);
    return yes;
}

/* ---- answers ------------------------------------------------------------------------------------
 */

void qk_dist_answer_init(qk_dist_answer *a, size_t max_parquet)
{
    memset(a, 0, sizeof *a);
    qk_buf_init(&a->parquet, max_parquet);
}

void qk_dist_answer_free(qk_dist_answer *a)
{
    if (a) qk_buf_free(&a->parquet);
}

static void add_cols(qk_buf *b, const qk_dist_col *cols, size_t n)
{
    add_key(b, "columns");
    qk_buf_addc(b, '[');
    for (size_t i = 0; i < n; i++) {
        qk_buf_adds(b, i ? ",{\"name\":" : "{\"name\":");
        qk_buf_add_json_str(b, cols[i].name, strlen(cols[i].name));
        add_str(b, "type", cols[i].type);
        qk_buf_printf(b, ",\"asVarchar\":%s}", cols[i].as_varchar ? "true" : "false");
    }
    qk_buf_addc(b, ']');
}

int qk_dist_answer_build(const qk_dist_answer *a, const void *p, qk_buf *out, qk_err *err)
{
    size_t start = out->len;
    int rc;
    qk_buf_adds(out, "{\"queryId\":");
    qk_buf_add_json_str(out, a->query_id, strlen(a->query_id));
    qk_buf_printf(out,
                  ",\"shard\":%lld,\"attempt\":%lld,\"rows\":%llu,\"bytes\":%llu,"
                  "\"sha256\":\"%s\",\"execMs\":%.3f",
                  (long long)a->shard, (long long)a->attempt, (unsigned long long)a->rows,
                  (unsigned long long)a->bytes, a->sha256, a->exec_ms);
    if (a->cols) add_cols(out, a->cols, a->ncols);
    if (a->key) {
        add_str(out, "key", a->key);
        rc = qk_buf_addc(out, '}');
    } else {
        qk_buf_adds(out, ",\"parquet\":\"");
        rc = qk_base64_encode(p, (size_t)a->bytes, out);
        if (!rc) rc = qk_buf_adds(out, "\"}");
    }
    if (rc) {
        qk_buf_truncate(out, start);
        return qk_errtf(err, QK_ETOOBIG, "PayloadTooLarge",
                        "the partial (%llu bytes) does not fit in the response limit of %zu bytes",
                        (unsigned long long)a->bytes, out->max);
    }
    return 0;
}

/* The worker's error shape: map it to a code and copy message and type. */
static int remote_error(json_t *root, qk_err *err)
{
    json_t *m = json_object_get(root, "errorMessage"), *t = json_object_get(root, "errorType");
    const char *msg = json_is_string(m) ? json_string_value(m) : "(no message)";
    const char *type = json_is_string(t) ? json_string_value(t) : "Unknown";
    int code = QK_EHTTP;
    size_t tl = strlen(type);
    if (!strcmp(type, "Timeout"))
        code = QK_ETIMEOUT;
    else if (!strcmp(type, "Canceled"))
        code = QK_ECANCELED;
    else if (tl > 9 && !strcmp(type + tl - 9, "Exception"))
        code = QK_ESQL;
    char tbuf[QK_ERR_TYPE_MAX];
    qk_strlcpy(tbuf, type, sizeof tbuf);
    return qk_errtf(err, code, tbuf, "%s", msg);
}

static int parse_cols(json_t *root, qk_arena *ar, qk_dist_answer *a, qk_err *err)
{
    json_t *cols = json_object_get(root, "columns"), *c;
    size_t i;
    int rc;
    if (!cols || json_is_null(cols)) return 0;
    if (!json_is_array(cols) || json_array_size(cols) == 0 ||
        json_array_size(cols) > QK_DIST_MAX_COLS)
        return INVALID(err, "\"columns\" must be an array of 1..%d columns", QK_DIST_MAX_COLS);
    a->ncols = json_array_size(cols);
    if (!(a->cols = qk_arena_alloc(ar, a->ncols * sizeof *a->cols)))
        return qk_errtf(err, QK_ENOMEM, "InvalidAnswer", "out of memory");
    json_array_foreach(cols, i, c)
    {
        const char *name, *type;
        bool asv = false;
        if (!json_is_object(c)) return INVALID(err, "\"columns\"[%zu] must be an object", i);
        if ((rc = get_str(c, "name", 4096, true, ar, &name, "InvalidAnswer", err)) ||
            (rc = get_str(c, "type", 4096, true, ar, &type, "InvalidAnswer", err)) ||
            (rc = get_bool(c, "asVarchar", &asv, "InvalidAnswer", err)))
            return rc;
        a->cols[i] = (qk_dist_col){(char *)name, (char *)type, asv};
    }
    return 0;
}

static bool valid_hex64(const char *s, size_t n)
{
    if (n != 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static int parse_payload(json_t *root, qk_arena *ar, qk_dist_answer *a, qk_err *err)
{
    json_t *p = json_object_get(root, "parquet");
    int rc;
    if ((rc = get_str(root, "key", QK_DIST_URI_MAX + 64, false, ar, &a->key, "InvalidAnswer", err)))
        return rc;
    if ((p != NULL) == (a->key != NULL))
        return INVALID(err, "an answer has exactly one of \"parquet\" and \"key\"");
    if (a->key) return 0;
    if (!json_is_string(p)) return INVALID(err, "\"parquet\" must be a base64 string");
    if (json_string_length(p) / 4 * 3 > a->parquet.max + 2)
        return qk_errtf(err, QK_ETOOBIG, "InvalidAnswer",
                        "inline partial is larger than the limit of %zu bytes", a->parquet.max);
    if ((rc = qk_base64_decode(json_string_value(p), json_string_length(p), &a->parquet, err))) {
        qk_strlcpy(err->type, "InvalidAnswer", sizeof err->type);
        qk_err_prefix(err, "\"parquet\"");
        return rc;
    }
    if (a->parquet.len != a->bytes)
        return INVALID(err, "\"parquet\" holds %zu bytes, \"bytes\" says %llu", a->parquet.len,
                       (unsigned long long)a->bytes);
    return 0;
}

static int parse_answer_fields(json_t *root, qk_arena *ar, qk_dist_answer *a, qk_err *err)
{
    json_t *sha = json_object_get(root, "sha256"), *ms = json_object_get(root, "execMs");
    int64_t rows = 0, bytes = 0;
    int rc;
    if ((rc = get_uuid(root, a->query_id, "InvalidAnswer", err)) ||
        (rc = get_int(root, "shard", 0, QK_DIST_MAX_SHARDS - 1, true, &a->shard, "InvalidAnswer",
                      err)) ||
        (rc = get_int(root, "attempt", 1, QK_DIST_MAX_ATTEMPT, true, &a->attempt, "InvalidAnswer",
                      err)) ||
        (rc = get_int(root, "rows", 0, INT64_MAX, true, &rows, "InvalidAnswer", err)) ||
        (rc = get_int(root, "bytes", 0, INT64_MAX, true, &bytes, "InvalidAnswer", err)))
        return rc;
    a->rows = (uint64_t)rows;
    a->bytes = (uint64_t)bytes;
    if (!json_is_string(sha) || !valid_hex64(json_string_value(sha), json_string_length(sha)))
        return INVALID(err, "\"sha256\" must be 64 lowercase hex digits");
    memcpy(a->sha256, json_string_value(sha), 65);
    if (ms && !json_is_number(ms)) return INVALID(err, "\"execMs\" must be a number");
    a->exec_ms = ms ? json_number_value(ms) : 0;
    if ((rc = parse_cols(root, ar, a, err))) return rc;
    return parse_payload(root, ar, a, err);
}

int qk_dist_answer_parse(const char *body, size_t len, qk_arena *arena, qk_dist_answer *a,
                         qk_err *err)
{
    json_t *root = NULL;
    int rc;
    if ((rc = load_object(body, len, &root, "InvalidAnswer", err))) return rc;
    if (json_object_get(root, "errorMessage") && !json_object_get(root, "queryId"))
        rc = remote_error(root, err);
    else
        rc = parse_answer_fields(root, arena, a, err);
    json_decref(root);
    return rc;
}

/* ---- hashing ------------------------------------------------------------------------------------
 */

int qk_dist_sha256_file(const char *path, char out[65], uint64_t *size, qk_err *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    uint64_t total = 0;
    size_t n;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!f || !ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = f ? qk_errf(err, QK_EINTERNAL, "cannot start SHA-256")
               : qk_errf(err, QK_EIO, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        EVP_DigestUpdate(ctx, buf, n);
        total += n;
    }
    if (ferror(f)) {
        rc = qk_errf(err, QK_EIO, "cannot read %s", path);
        goto out;
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    if (size) *size = total;
out:
    EVP_MD_CTX_free(ctx);
    if (f) fclose(f);
    return rc;
}
