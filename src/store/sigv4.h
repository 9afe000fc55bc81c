/* SPDX-License-Identifier: MIT */
/*
 * sigv4.h: AWS Signature Version 4 for S3 requests, and S3 URL addressing.
 *
 * The S3 backend describes a request (qk_sigv4_req: method, Host, raw path, raw query pairs,
 * extra headers, payload hash, x-amz-date, region, service) and gets back either the value of
 * the Authorization header (qk_sigv4_sign) or the query string of a presigned URL
 * (qk_sigv4_presign). The rules followed are in docs/internals/sigv4.md: S3 canonical URI
 * (the raw path URI-encoded once, '/' kept, no normalization), query pairs encoded and sorted,
 * header names lowercased and values trimmed, HMAC-SHA256 key derivation from the secret.
 *
 * Everything here is a pure function: no I/O, no global state, thread-safe. The secret access
 * key is used only as HMAC key material and never appears in any output or error message.
 */
#ifndef QK_STORE_SIGV4_H
#define QK_STORE_SIGV4_H

#include "core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Limits on inputs (longer input fails with QK_ETOOBIG, never overflows). */
#define QK_SIGV4_MAX_PATH 4096      /* raw path bytes (S3 keys are at most 1024) */
#define QK_SIGV4_MAX_PARAMS 64      /* query parameters */
#define QK_SIGV4_MAX_HEADERS 64     /* caller headers (host/x-amz-* added by the signer aside) */
#define QK_SIGV4_MAX_NAME 128       /* header name bytes */
#define QK_SIGV4_MAX_VALUE 8192     /* header value, query name or value, session token bytes */
#define QK_SIGV4_MAX_SECRET 256     /* secret access key bytes */
#define QK_SIGV4_MAX_ID 128         /* access key id, region, service, method, host bytes... */
#define QK_SIGV4_MAX_HOST 300       /* Host header value (name plus :port) */
#define QK_SIGV4_MAX_EXPIRES 604800 /* presigned URL lifetime: 7 days */

/* The hash to use as payload_hash when the body is not hashed. */
#define QK_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a request without a body. */
#define QK_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A name/value pair, borrowed. For query parameters both are raw (unencoded); a NULL value
 * means a bare parameter ("?lifecycle") and signs like an empty one. */
typedef struct qk_sigv4_kv {
    const char *name;
    const char *value;
} qk_sigv4_kv;

typedef struct qk_sigv4_creds {
    const char *access_key_id;     /* printable ASCII without '/', ',' or space */
    const char *secret_access_key; /* only ever used as HMAC key material */
    const char *session_token;     /* NULL or "" when the credentials are not temporary */
} qk_sigv4_creds;

/* One request, all fields borrowed.
 * - host: the Host header value exactly as sent (with ":port" when the port is not the
 *   scheme's default); qk_s3_address computes it. Send it explicitly.
 * - path: the raw, unencoded path starting with '/' (e.g. "/bucket/my key.csv"); NULL or ""
 *   means "/". It is URI-encoded once with '/' kept; "//" and "." are not normalized.
 * - headers: headers to sign besides the ones the signer adds; names in any case, unique,
 *   not host, x-amz-date or x-amz-security-token. For S3 pass "x-amz-content-sha256" with the
 *   payload hash here (S3 requires the header; other services do not). Values containing CR,
 *   LF or other control characters are refused.
 * - payload_hash: lowercase hex SHA-256 of the body, QK_SIGV4_UNSIGNED_PAYLOAD, or NULL (=
 *   UNSIGNED-PAYLOAD) for presigned URLs.
 * - amz_date: "YYYYMMDDTHHMMSSZ" (qk_amz_date), also the source of the credential scope date. */
typedef struct qk_sigv4_req {
    const char *method;
    const char *host;
    const char *path;
    const qk_sigv4_kv *query;
    size_t nquery;
    const qk_sigv4_kv *headers;
    size_t nheaders;
    const char *payload_hash;
    const char *amz_date;
    const char *region;
    const char *service; /* "s3" */
} qk_sigv4_req;

/* Append s[0..n) to out URI-encoded per RFC 3986: A-Z a-z 0-9 - _ . ~ are kept, every other
 * byte (UTF-8 bytewise) becomes %XX with uppercase hex; '/' is kept when encode_slash is
 * false (an object key in a path) and encoded as %2F when true (query names and values).
 * QK_EINVAL for a NULL out (or NULL s with n > 0); QK_ETOOBIG/QK_ENOMEM from the buffer, which
 * then holds what it held before the call. */
int qk_uri_encode(qk_buf *out, const char *s, size_t n, bool encode_slash);

/* Lowercase hex SHA-256 of p[0..n) into out (64 chars + NUL). QK_EINVAL for NULL p with n > 0
 * or NULL out; QK_EINTERNAL if libcrypto fails. */
int qk_sha256_hex(const void *p, size_t n, char out[65]);

/* Format t (UTC) as "YYYYMMDDTHHMMSSZ" (16 chars + NUL). The first 8 chars are the date of
 * the credential scope (qk_amz_scope_date). QK_EINVAL when t is out of range or out NULL. */
int qk_amz_date(time_t t, char out[17]);
/* Copy the 8-char date ("YYYYMMDD") of an amz date into out (8 chars + NUL). QK_EINVAL when
 * amz_date is not of the form above. */
int qk_amz_scope_date(const char *amz_date, char out[9]);

/* Sign req with cr for header authentication. The signed headers are host, x-amz-date, the
 * caller's headers and, when cr has a session token, x-amz-security-token: the caller must
 * send "x-amz-date: <amz_date>" and "x-amz-security-token: <token>" (when set) with the
 * request. Appends to auth the Authorization header value
 *   "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
 *    SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=<64 hex>"
 * (one line; ", " between the parts). canonical_request and string_to_sign, when not NULL,
 * receive those intermediate strings for tests and debugging: they never hold the secret, but
 * the canonical request holds the session token when there is one, so do not log it.
 * Returns 0, QK_EINVAL (malformed or NULL input, with a message in err that never quotes a
 * credential), QK_ETOOBIG (input over the limits above or an output buffer's max), QK_ENOMEM,
 * QK_EINTERNAL (libcrypto). On error the output buffers may hold partial text. */
int qk_sigv4_sign(const qk_sigv4_req *req, const qk_sigv4_creds *cr, qk_buf *auth,
                  qk_buf *canonical_request, qk_buf *string_to_sign, qk_err *err);

/* Presign req (normally a GET with no headers) for expires_s seconds (1..604800, else
 * QK_EINVAL). Appends to query_out the complete query string of the URL (without '?'): req's
 * own parameters and X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * [X-Amz-Security-Token], X-Amz-SignedHeaders, all encoded and sorted, then
 * "&X-Amz-Signature=<hex>". The URL is scheme://host + the encoded path (qk_s3_address's url)
 * + "?" + query_out. The signed headers are host plus req's headers; the payload hash is
 * req->payload_hash or UNSIGNED-PAYLOAD. Errors as qk_sigv4_sign. */
int qk_sigv4_presign(const qk_sigv4_req *req, const qk_sigv4_creds *cr, int64_t expires_s,
                     qk_buf *query_out, qk_buf *canonical_request, qk_buf *string_to_sign,
                     qk_err *err);

/* ---- S3 addressing ---------------------------------------------------------------------- */

typedef enum {
    QK_S3_PATH_STYLE = 0,    /* scheme://host[:port]/bucket/key */
    QK_S3_VIRTUAL_HOSTED = 1 /* scheme://bucket.host[:port]/key */
} qk_s3_style;

/* True when endpoint ("scheme://host[:port]") names an IP address (v4, or v6 in brackets) or
 * "localhost": such servers (Ceph RGW, MinIO on a laptop) have no per-bucket DNS names, so
 * path style is their default. False for other host names and for malformed endpoints. */
bool qk_s3_default_path_style(const char *endpoint);

/* Address an object. endpoint is "http://host[:port]" or "https://host[:port]" (a trailing
 * '/' is allowed, another path is not); bucket is a bucket name (for virtual-hosted style a
 * DNS-compatible one: lowercase letters, digits, '-' and '.'); key is the raw object key, or
 * NULL/"" for a bucket-level request. Appends to the buffers that are not NULL:
 *   url:  scheme://host[:port] + the URI-encoded path (what to give curl; add "?query")
 *   host: the Host header value (":port" kept unless it is the scheme's default)
 *   path: the raw path to put in qk_sigv4_req.path ("/bucket/key", "/key"; "/bucket" or "/"
 *         for a bucket-level request)
 * e.g. path style http://127.0.0.1:7480 + bucket + "a b" -> http://127.0.0.1:7480/bucket/a%20b,
 * virtual-hosted https://s3.us-east-1.amazonaws.com -> https://bucket.s3.us-east-1.amazonaws.com/
 * key. QK_EINVAL (message in err), QK_ETOOBIG, QK_ENOMEM. */
int qk_s3_address(const char *endpoint, const char *bucket, const char *key, qk_s3_style style,
                  qk_buf *url, qk_buf *host, qk_buf *path, qk_err *err);

#endif
