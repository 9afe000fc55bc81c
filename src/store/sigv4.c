/* SPDX-License-Identifier: MIT */
/*
 * sigv4.c: AWS Signature Version 4 (header auth and presigned URLs) and S3 addressing.
 *
 * Signing, per the S3 SigV4 pages (docs/internals/sigv4.md):
 *   CanonicalRequest = METHOD \n UriEncode(path, keep '/') \n sorted encoded query \n
 *                      lowercase-name:trimmed-value \n ... \n signed;header;names \n payload-hash
 *   StringToSign     = "AWS4-HMAC-SHA256" \n amz-date \n date/region/service/aws4_request \n
 *                      hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 *                      "aws4_request")
 *   Signature        = hex(HMAC(SigningKey, StringToSign))
 * Inputs are validated first (lengths against the QK_SIGV4_MAX_* limits, characters of header
 * names and values, the amz date), then the strings are built in bounded qk_bufs. The secret
 * only enters derive_key(); its copies on the stack are wiped with OPENSSL_cleanse.
 */
#include "store/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGO "AWS4-HMAC-SHA256"
#define WORK_MAX ((size_t)8 << 20) /* bound on any intermediate string */
#define NHDR (QK_SIGV4_MAX_HEADERS + 3)
#define NPARAM (QK_SIGV4_MAX_PARAMS + 6)

/* ---- encoding and hashing --------------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int qk_uri_encode(qk_buf *out, const char *s, size_t n, bool encode_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t start, i;
    if (!out || (!s && n > 0)) return QK_EINVAL;
    start = out->len;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c) || (c == '/' && !encode_slash)) {
            rc = qk_buf_addc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = qk_buf_add(out, e, 3);
        }
        if (rc) {
            if (out->data) qk_buf_truncate(out, start);
            return rc;
        }
    }
    return qk_buf_add(out, "", 0); /* NUL-terminate even when n == 0 */
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int qk_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!out || (!p && n > 0)) return QK_EINVAL;
    if (!EVP_Digest(n ? p : "", n, md, &len, EVP_sha256(), NULL) || len != 32) return QK_EINTERNAL;
    to_hex(md, 32, out);
    return 0;
}

/* out = HMAC-SHA256(key, msg); 32 bytes. */
static int hmac(const unsigned char *key, size_t klen, const void *msg, size_t mlen,
                unsigned char out[32])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &len) || len != 32) return QK_EINTERNAL;
    return 0;
}

/* ---- dates ------------------------------------------------------------------------------ */

int qk_amz_date(time_t t, char out[17])
{
    struct tm tm;
    if (!out || !gmtime_r(&t, &tm) || tm.tm_year < 0 || tm.tm_year > 8099) return QK_EINVAL;
    if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) return QK_EINVAL;
    return 0;
}

static bool amz_date_ok(const char *s)
{
    int i;
    if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    for (i = 0; i < 15; i++)
        if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
    return true;
}

int qk_amz_scope_date(const char *amz_date, char out[9])
{
    if (!out || !amz_date_ok(amz_date)) return QK_EINVAL;
    memcpy(out, amz_date, 8);
    out[8] = '\0';
    return 0;
}

/* ---- input checks ----------------------------------------------------------------------- */

typedef bool (*char_ok_fn)(unsigned char c);

static bool id_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '/' && c != ',';
}
/* Session tokens are base64: visible ASCII. */
static bool token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}
static bool scope_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}
static bool method_char(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}
static bool host_char(unsigned char c)
{
    return unreserved(c) || c == ':' || c == '[' || c == ']';
}
static bool hash_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}
/* RFC 9110 token characters, for header names. */
static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}
/* Header values: visible ASCII, space, tab and UTF-8 bytes; no CR, LF or other controls. */
static bool value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}
static bool any_char(unsigned char c)
{
    (void)c;
    return true;
}

/* s must be non-NULL, 1..max bytes (0..max when may_be_empty), each byte accepted by ok.
 * The message names `what` and never quotes the value (it may be a credential). */
static int check(const char *s, size_t max, bool may_be_empty, char_ok_fn ok, const char *what,
                 qk_err *err)
{
    size_t i, n;
    if (!s) return qk_errf(err, QK_EINVAL, "sigv4: %s is missing", what);
    n = strnlen(s, max + 1);
    if (n > max) return qk_errf(err, QK_ETOOBIG, "sigv4: %s is longer than %zu bytes", what, max);
    if (n == 0 && !may_be_empty) return qk_errf(err, QK_EINVAL, "sigv4: %s is empty", what);
    for (i = 0; i < n; i++)
        if (!ok((unsigned char)s[i]))
            return qk_errf(err, QK_EINVAL, "sigv4: %s has an invalid character at byte %zu", what,
                           i);
    return 0;
}

static int check_creds(const qk_sigv4_creds *cr, qk_err *err)
{
    int rc;
    if (!cr) return qk_errf(err, QK_EINVAL, "sigv4: no credentials");
    if ((rc = check(cr->access_key_id, QK_SIGV4_MAX_ID, false, id_char, "access key id", err)))
        return rc;
    if ((rc = check(cr->secret_access_key, QK_SIGV4_MAX_SECRET, false, any_char,
                    "secret access key", err)))
        return rc;
    if (cr->session_token)
        return check(cr->session_token, QK_SIGV4_MAX_VALUE, true, token_char, "session token", err);
    return 0;
}

static int check_req(const qk_sigv4_req *r, qk_err *err)
{
    int rc;
    if (!r) return qk_errf(err, QK_EINVAL, "sigv4: no request");
    if ((rc = check(r->method, 16, false, method_char, "method", err)) ||
        (rc = check(r->host, QK_SIGV4_MAX_HOST, false, host_char, "host", err)) ||
        (rc = check(r->region, QK_SIGV4_MAX_ID, false, scope_char, "region", err)) ||
        (rc = check(r->service, QK_SIGV4_MAX_ID, false, scope_char, "service", err)))
        return rc;
    if (r->path && (rc = check(r->path, QK_SIGV4_MAX_PATH, true, any_char, "path", err))) return rc;
    if (r->path && r->path[0] && r->path[0] != '/')
        return qk_errf(err, QK_EINVAL, "sigv4: path does not start with '/'");
    if (r->payload_hash && (rc = check(r->payload_hash, 64, false, hash_char, "payload hash", err)))
        return rc;
    if (!amz_date_ok(r->amz_date))
        return qk_errf(err, QK_EINVAL, "sigv4: amz date is not YYYYMMDDTHHMMSSZ");
    if (r->nquery > QK_SIGV4_MAX_PARAMS || r->nheaders > QK_SIGV4_MAX_HEADERS)
        return qk_errf(err, QK_ETOOBIG, "sigv4: more than %d query parameters or headers",
                       QK_SIGV4_MAX_PARAMS);
    if ((r->nquery && !r->query) || (r->nheaders && !r->headers))
        return qk_errf(err, QK_EINVAL, "sigv4: query or header list is missing");
    return 0;
}

/* ---- canonical headers ------------------------------------------------------------------ */

typedef struct hdr {
    char name[QK_SIGV4_MAX_NAME + 1]; /* lowercased */
    const char *value;
} hdr;

typedef struct hdr_list {
    hdr h[NHDR];
    size_t n;
} hdr_list;

static int hdr_cmp(const void *a, const void *b)
{
    return strcmp(((const hdr *)a)->name, ((const hdr *)b)->name);
}

static void hdr_push(hdr_list *l, const char *name, const char *value)
{
    size_t i;
    for (i = 0; name[i]; i++)
        l->h[l->n].name[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
    l->h[l->n].name[i] = '\0';
    l->h[l->n].value = value;
    l->n++;
}

static bool reserved_header(const char *name, bool presign)
{
    return !strcasecmp(name, "host") || !strcasecmp(name, "authorization") ||
           (!presign &&
            (!strcasecmp(name, "x-amz-date") || !strcasecmp(name, "x-amz-security-token")));
}

/* Collect host, [x-amz-date, x-amz-security-token] and the caller's headers, sorted. */
static int collect_headers(const qk_sigv4_req *r, const qk_sigv4_creds *cr, bool presign,
                           hdr_list *l, qk_err *err)
{
    size_t i;
    l->n = 0;
    hdr_push(l, "host", r->host);
    if (!presign) hdr_push(l, "x-amz-date", r->amz_date);
    if (!presign && cr->session_token && cr->session_token[0])
        hdr_push(l, "x-amz-security-token", cr->session_token);
    for (i = 0; i < r->nheaders; i++) {
        const qk_sigv4_kv *kv = &r->headers[i];
        int rc;
        if ((rc = check(kv->name, QK_SIGV4_MAX_NAME, false, tchar, "header name", err)) ||
            (rc = check(kv->value, QK_SIGV4_MAX_VALUE, true, value_char, "header value", err)))
            return rc;
        if (reserved_header(kv->name, presign))
            return qk_errf(err, QK_EINVAL, "sigv4: header %s is set by the signer", kv->name);
        hdr_push(l, kv->name, kv->value);
    }
    qsort(l->h, l->n, sizeof l->h[0], hdr_cmp);
    for (i = 1; i < l->n; i++)
        if (!strcmp(l->h[i - 1].name, l->h[i].name))
            return qk_errf(err, QK_EINVAL, "sigv4: header %s appears twice", l->h[i].name);
    return 0;
}

/* Append v with leading and trailing blanks removed and inner runs of blanks made one space. */
static int add_trimmed(qk_buf *b, const char *v)
{
    bool blank = false, any = false;
    int rc = 0;
    for (; *v && !rc; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = any;
            continue;
        }
        if (blank) rc = qk_buf_addc(b, ' ');
        if (!rc) rc = qk_buf_addc(b, *v);
        blank = false;
        any = true;
    }
    return rc;
}

/* "name:value\n" for each header. */
static int write_headers(const hdr_list *l, qk_buf *canon)
{
    size_t i;
    int rc = 0;
    for (i = 0; i < l->n && !rc; i++) {
        rc = qk_buf_printf(canon, "%s:", l->h[i].name);
        if (!rc) rc = add_trimmed(canon, l->h[i].value);
        if (!rc) rc = qk_buf_addc(canon, '\n');
    }
    return rc;
}

/* "a;b;c": the signed headers list. */
static int write_signed_names(const hdr_list *l, qk_buf *out)
{
    size_t i;
    int rc = 0;
    for (i = 0; i < l->n && !rc; i++)
        rc = qk_buf_printf(out, "%s%s", i ? ";" : "", l->h[i].name);
    return rc;
}

/* ---- canonical query -------------------------------------------------------------------- */

typedef struct enc_param {
    size_t name, value; /* offsets of NUL-terminated encoded strings in the pool */
    const char *pool;
} enc_param;

static int param_cmp(const void *a, const void *b)
{
    const enc_param *x = a, *y = b;
    int c = strcmp(x->pool + x->name, y->pool + y->name);
    return c ? c : strcmp(x->pool + x->value, y->pool + y->value);
}

static int encode_param(qk_buf *pool, const qk_sigv4_kv *kv, enc_param *e, qk_err *err)
{
    const char *v = kv->value ? kv->value : "";
    int rc;
    if ((rc = check(kv->name, QK_SIGV4_MAX_VALUE, false, any_char, "query name", err)) ||
        (rc = check(v, QK_SIGV4_MAX_VALUE, true, any_char, "query value", err)))
        return rc;
    e->name = pool->len;
    if ((rc = qk_uri_encode(pool, kv->name, strlen(kv->name), true)) ||
        (rc = qk_buf_addc(pool, '\0')))
        return rc;
    e->value = pool->len;
    if ((rc = qk_uri_encode(pool, v, strlen(v), true)) || (rc = qk_buf_addc(pool, '\0'))) return rc;
    return 0;
}

/* Encode every pair, sort by encoded name then value, and append "n=v&n=v" to out. */
static int write_query(const qk_sigv4_kv *kv, size_t n, qk_buf *out, qk_err *err)
{
    enc_param e[NPARAM] = {{0, 0, NULL}};
    qk_buf pool;
    size_t i;
    int rc = 0;
    if (n > NPARAM) return qk_errf(err, QK_ETOOBIG, "sigv4: too many query parameters");
    qk_buf_init(&pool, WORK_MAX);
    for (i = 0; i < n; i++)
        if ((rc = encode_param(&pool, &kv[i], &e[i], err))) goto out;
    for (i = 0; i < n; i++)
        e[i].pool = pool.data;
    qsort(e, n, sizeof e[0], param_cmp);
    for (i = 0; i < n; i++)
        if ((rc = qk_buf_printf(out, "%s%s=%s", i ? "&" : "", pool.data + e[i].name,
                                pool.data + e[i].value)))
            goto out;
    rc = qk_buf_add(out, "", 0);
out:
    qk_buf_free(&pool);
    return rc;
}

/* ---- signing ---------------------------------------------------------------------------- */

/* Everything one signature needs; lives on the caller's stack. */
typedef struct sig_ctx {
    char date[9];
    char scope[3 * QK_SIGV4_MAX_ID];      /* date/region/service/aws4_request */
    char credential[4 * QK_SIGV4_MAX_ID]; /* akid/scope */
    char expires[24];
    hdr_list hdrs;
    qk_sigv4_kv params[NPARAM];
    size_t nparams;
    qk_buf signed_names, query, creq, sts;
    char sig[65];
} sig_ctx;

static void ctx_init(sig_ctx *c)
{
    qk_buf_init(&c->signed_names, WORK_MAX);
    qk_buf_init(&c->query, WORK_MAX);
    qk_buf_init(&c->creq, WORK_MAX);
    qk_buf_init(&c->sts, WORK_MAX);
}

static void ctx_free(sig_ctx *c)
{
    qk_buf_free(&c->signed_names);
    qk_buf_free(&c->query);
    qk_buf_free(&c->creq);
    qk_buf_free(&c->sts);
}

static void ctx_scope(sig_ctx *c, const qk_sigv4_req *r, const qk_sigv4_creds *cr)
{
    qk_amz_scope_date(r->amz_date, c->date);
    snprintf(c->scope, sizeof c->scope, "%s/%s/%s/aws4_request", c->date, r->region, r->service);
    snprintf(c->credential, sizeof c->credential, "%s/%s", cr->access_key_id, c->scope);
}

/* The X-Amz-* parameters of a presigned URL, after the caller's own. */
static void add_presign_params(sig_ctx *c, const qk_sigv4_req *r, const qk_sigv4_creds *cr)
{
    qk_sigv4_kv *p = c->params + c->nparams;
    *p++ = (qk_sigv4_kv){"X-Amz-Algorithm", ALGO};
    *p++ = (qk_sigv4_kv){"X-Amz-Credential", c->credential};
    *p++ = (qk_sigv4_kv){"X-Amz-Date", r->amz_date};
    *p++ = (qk_sigv4_kv){"X-Amz-Expires", c->expires};
    if (cr->session_token && cr->session_token[0])
        *p++ = (qk_sigv4_kv){"X-Amz-Security-Token", cr->session_token};
    *p++ = (qk_sigv4_kv){"X-Amz-SignedHeaders", qk_buf_cstr(&c->signed_names)};
    c->nparams = (size_t)(p - c->params);
}

static int build_creq(sig_ctx *c, const qk_sigv4_req *r)
{
    const char *path = r->path && r->path[0] ? r->path : "/";
    const char *payload = r->payload_hash ? r->payload_hash : QK_SIGV4_UNSIGNED_PAYLOAD;
    int rc;
    if ((rc = qk_buf_printf(&c->creq, "%s\n", r->method)) ||
        (rc = qk_uri_encode(&c->creq, path, strlen(path), false)) ||
        (rc = qk_buf_printf(&c->creq, "\n%s\n", qk_buf_cstr(&c->query))) ||
        (rc = write_headers(&c->hdrs, &c->creq)) ||
        (rc = qk_buf_printf(&c->creq, "\n%s\n%s", qk_buf_cstr(&c->signed_names), payload)))
        return rc;
    return 0;
}

/* The signing key: the only place the secret is read. */
static int derive_key(const char *secret, const sig_ctx *c, const qk_sigv4_req *r,
                      unsigned char key[32])
{
    unsigned char k[4 + QK_SIGV4_MAX_SECRET], t[32];
    size_t n = strlen(secret);
    int rc;
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, n);
    rc = hmac(k, 4 + n, c->date, 8, t);
    if (!rc) rc = hmac(t, 32, r->region, strlen(r->region), key);
    if (!rc) rc = hmac(key, 32, r->service, strlen(r->service), t);
    if (!rc) rc = hmac(t, 32, "aws4_request", 12, key);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(t, sizeof t);
    return rc;
}

static int compute_signature(sig_ctx *c, const qk_sigv4_req *r, const qk_sigv4_creds *cr,
                             qk_err *err)
{
    unsigned char key[32], mac[32];
    char creq_hash[65];
    int rc;
    if ((rc = qk_sha256_hex(c->creq.data, c->creq.len, creq_hash)) ||
        (rc = qk_buf_printf(&c->sts, ALGO "\n%s\n%s\n%s", r->amz_date, c->scope, creq_hash)))
        goto out;
    if ((rc = derive_key(cr->secret_access_key, c, r, key)) ||
        (rc = hmac(key, 32, c->sts.data, c->sts.len, mac)))
        goto out;
    to_hex(mac, 32, c->sig);
out:
    OPENSSL_cleanse(key, sizeof key);
    if (rc == QK_EINTERNAL) qk_errf(err, rc, "sigv4: libcrypto failed");
    return rc;
}

/* The shared path of sign and presign: checks, canonical request, string to sign, signature. */
static int sign_common(sig_ctx *c, const qk_sigv4_req *r, const qk_sigv4_creds *cr, bool presign,
                       qk_err *err)
{
    size_t i;
    int rc;
    if ((rc = check_req(r, err)) || (rc = check_creds(cr, err))) return rc;
    ctx_scope(c, r, cr);
    if ((rc = collect_headers(r, cr, presign, &c->hdrs, err)) ||
        (rc = write_signed_names(&c->hdrs, &c->signed_names)))
        return rc;
    for (i = 0; i < r->nquery; i++)
        c->params[i] = r->query[i];
    c->nparams = r->nquery;
    if (presign) add_presign_params(c, r, cr);
    if ((rc = write_query(c->params, c->nparams, &c->query, err)) || (rc = build_creq(c, r)))
        return rc;
    return compute_signature(c, r, cr, err);
}

static int copy_debug(const sig_ctx *c, qk_buf *creq, qk_buf *sts)
{
    int rc = 0;
    if (creq) rc = qk_buf_add(creq, c->creq.data, c->creq.len);
    if (!rc && sts) rc = qk_buf_add(sts, c->sts.data, c->sts.len);
    return rc;
}

static int output_error(int rc, qk_err *err)
{
    if (rc && err && !err->msg[0])
        qk_errf(err, rc, "sigv4: %s building the signature", qk_strerror(rc));
    return rc;
}

int qk_sigv4_sign(const qk_sigv4_req *req, const qk_sigv4_creds *cr, qk_buf *auth,
                  qk_buf *canonical_request, qk_buf *string_to_sign, qk_err *err)
{
    sig_ctx *c;
    int rc;
    if (!auth) return qk_errf(err, QK_EINVAL, "sigv4: no output buffer");
    if (!(c = malloc(sizeof *c))) return qk_errf(err, QK_ENOMEM, "sigv4: out of memory");
    if (err) qk_err_clear(err);
    ctx_init(c);
    rc = sign_common(c, req, cr, false, err);
    if (!rc)
        rc = qk_buf_printf(auth, ALGO " Credential=%s, SignedHeaders=%s, Signature=%s",
                           c->credential, qk_buf_cstr(&c->signed_names), c->sig);
    if (!rc) rc = copy_debug(c, canonical_request, string_to_sign);
    ctx_free(c);
    free(c);
    return output_error(rc, err);
}

int qk_sigv4_presign(const qk_sigv4_req *req, const qk_sigv4_creds *cr, int64_t expires_s,
                     qk_buf *query_out, qk_buf *canonical_request, qk_buf *string_to_sign,
                     qk_err *err)
{
    sig_ctx *c;
    int rc;
    if (!query_out) return qk_errf(err, QK_EINVAL, "sigv4: no output buffer");
    if (expires_s < 1 || expires_s > QK_SIGV4_MAX_EXPIRES)
        return qk_errf(err, QK_EINVAL, "sigv4: expiry must be 1..%d seconds", QK_SIGV4_MAX_EXPIRES);
    if (!(c = malloc(sizeof *c))) return qk_errf(err, QK_ENOMEM, "sigv4: out of memory");
    if (err) qk_err_clear(err);
    ctx_init(c);
    snprintf(c->expires, sizeof c->expires, "%lld", (long long)expires_s);
    rc = sign_common(c, req, cr, true, err);
    if (!rc) rc = qk_buf_printf(query_out, "%s&X-Amz-Signature=%s", qk_buf_cstr(&c->query), c->sig);
    if (!rc) rc = copy_debug(c, canonical_request, string_to_sign);
    ctx_free(c);
    free(c);
    return output_error(rc, err);
}

/* ---- S3 addressing ---------------------------------------------------------------------- */

/* An endpoint split into its parts; host points into the endpoint string. */
typedef struct endpoint {
    bool https;
    const char *host;
    size_t host_len;
    long port; /* 0 when absent */
} endpoint;

static int parse_port(const char *p, const char *end, long *port)
{
    long v = 0;
    if (p == end || end - p > 5) return QK_EINVAL;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return QK_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 65535) return QK_EINVAL;
    *port = v;
    return 0;
}

/* "http[s]://host[:port][/]": host is a DNS name, an IPv4 address or "[IPv6]". */
static int parse_endpoint(const char *s, endpoint *e)
{
    const char *h, *end, *colon = NULL, *p;
    memset(e, 0, sizeof *e);
    if (!s || strnlen(s, QK_SIGV4_MAX_HOST + 16) > QK_SIGV4_MAX_HOST + 8) return QK_EINVAL;
    if (!strncasecmp(s, "https://", 8)) {
        e->https = true;
        h = s + 8;
    } else if (!strncasecmp(s, "http://", 7)) {
        h = s + 7;
    } else {
        return QK_EINVAL;
    }
    end = h + strcspn(h, "/");
    if (end[0] == '/' && end[1]) return QK_EINVAL; /* a path after the host */
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb || rb == h + 1) return QK_EINVAL;
        for (p = h + 1; p < rb; p++)
            if (!strchr("0123456789abcdefABCDEF:.", *p)) return QK_EINVAL;
        if (rb + 1 < end && rb[1] != ':') return QK_EINVAL;
        colon = rb + 1 < end ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        for (p = h; p < (colon ? colon : end); p++)
            if (!unreserved((unsigned char)*p) || *p == '~') return QK_EINVAL;
    }
    e->host = h;
    e->host_len = (size_t)((colon ? colon : end) - h);
    if (e->host_len == 0) return QK_EINVAL;
    return colon ? parse_port(colon + 1, end, &e->port) : 0;
}

static bool is_ipv4(const char *h, size_t n)
{
    size_t i, dots = 0, digits = 0;
    for (i = 0; i < n; i++) {
        if (h[i] == '.') {
            if (!digits) return false;
            dots++;
            digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9' && ++digits <= 3) {
            continue;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

bool qk_s3_default_path_style(const char *endpoint_url)
{
    endpoint e;
    if (parse_endpoint(endpoint_url, &e)) return false;
    return e.host[0] == '[' || is_ipv4(e.host, e.host_len) ||
           (e.host_len == 9 && !strncasecmp(e.host, "localhost", 9));
}

static int check_bucket(const char *b, qk_s3_style style, qk_err *err)
{
    size_t i, n = b ? strnlen(b, 256) : 0;
    if (n == 0 || n > 255)
        return qk_errf(err, QK_EINVAL, "s3 address: bucket name is empty or too long");
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        bool dns = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (c == '/' || c < 0x20 || (style == QK_S3_VIRTUAL_HOSTED && !dns))
            return qk_errf(err, QK_EINVAL,
                           "s3 address: bucket name has a character not allowed in %s style",
                           style == QK_S3_VIRTUAL_HOSTED ? "virtual-hosted" : "path");
    }
    if (style == QK_S3_VIRTUAL_HOSTED && (n > 63 || b[0] == '.' || b[n - 1] == '.'))
        return qk_errf(err, QK_EINVAL, "s3 address: bucket name is not a DNS label");
    return 0;
}

/* host[:port] as sent in the Host header (the default port of the scheme dropped). */
static int add_authority(qk_buf *b, const endpoint *e, const char *bucket, qk_s3_style style)
{
    int rc = 0;
    if (style == QK_S3_VIRTUAL_HOSTED) rc = qk_buf_printf(b, "%s.", bucket);
    if (!rc) rc = qk_buf_add(b, e->host, e->host_len);
    if (!rc && e->port && e->port != (e->https ? 443 : 80)) rc = qk_buf_printf(b, ":%ld", e->port);
    return rc ? rc : qk_buf_add(b, "", 0);
}

static int build_path(qk_buf *p, const char *bucket, const char *key, qk_s3_style style)
{
    int rc = 0;
    bool has_key = key && key[0];
    if (style == QK_S3_PATH_STYLE) rc = qk_buf_printf(p, "/%s", bucket);
    if (!rc && (has_key || style == QK_S3_VIRTUAL_HOSTED)) rc = qk_buf_addc(p, '/');
    if (!rc && has_key) rc = qk_buf_adds(p, key);
    return rc;
}

int qk_s3_address(const char *endpoint_url, const char *bucket, const char *key, qk_s3_style style,
                  qk_buf *url, qk_buf *host, qk_buf *path, qk_err *err)
{
    endpoint e;
    qk_buf raw;
    int rc;
    if (parse_endpoint(endpoint_url, &e))
        return qk_errf(err, QK_EINVAL, "s3 address: endpoint is not http[s]://host[:port]");
    if ((rc = check_bucket(bucket, style, err))) return rc;
    if (style == QK_S3_VIRTUAL_HOSTED && (e.host[0] == '[' || is_ipv4(e.host, e.host_len)))
        return qk_errf(err, QK_EINVAL, "s3 address: virtual-hosted style needs a DNS endpoint");
    if (key && strnlen(key, QK_SIGV4_MAX_PATH + 1) > QK_SIGV4_MAX_PATH)
        return qk_errf(err, QK_ETOOBIG, "s3 address: key is longer than %d bytes",
                       QK_SIGV4_MAX_PATH);
    qk_buf_init(&raw, QK_SIGV4_MAX_PATH);
    if ((rc = build_path(&raw, bucket, key, style))) goto out;
    if (url && ((rc = qk_buf_adds(url, e.https ? "https://" : "http://")) ||
                (rc = add_authority(url, &e, bucket, style)) ||
                (rc = qk_uri_encode(url, raw.data, raw.len, false))))
        goto out;
    if (host && (rc = add_authority(host, &e, bucket, style))) goto out;
    if (path) rc = qk_buf_add(path, raw.data, raw.len);
out:
    qk_buf_free(&raw);
    if (rc) qk_errf(err, rc, "s3 address: %s", qk_strerror(rc));
    return rc;
}
