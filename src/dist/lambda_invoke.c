/* SPDX-License-Identifier: MIT */
/*
 * lambda_invoke.c: the AWS Lambda transport (transport.h): a map task is the event of a
 * synchronous Invoke call,
 *
 *   POST <endpoint>/2015-03-31/functions/<FunctionName>/invocations
 *   X-Amz-Invocation-Type: RequestResponse, body = the task JSON, signed with SigV4
 *   (service "lambda", the region of the AWS configuration).
 *
 * The answer is 200 with the function's output; a function error is also 200 but carries
 * X-Amz-Function-Error (Unhandled/Handled) and the {"errorMessage","errorType"} body. Other
 * statuses are the Lambda service's own errors (429 TooManyRequestsException, 404
 * ResourceNotFoundException, 413 RequestEntityTooLargeException...).
 *
 * Signing: for every service but S3 the canonical URI is the path URI-encoded twice. The path
 * sent is the function name encoded once (':' of an ARN becomes %3A); store/sigv4.c encodes
 * the path it is given once more, so handing it the already-encoded path gives the double
 * encoding Lambda expects. Credentials are read once, when the transport is made; with none
 * (the emulator in tests), requests go unsigned.
 */
#include "dist/dist_int.h"
#include "store/aws_config.h"
#include "store/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_MS 5000
#define FUNCTION_MAX 170 /* longest function ARN with a qualifier */

typedef struct lambda_transport {
    qk_dist_transport base;
    char *url;  /* endpoint + path */
    char *host; /* Host header value */
    char *path; /* the encoded path (what is sent, and what the signer encodes again) */
    qk_aws_config cfg;
} lambda_transport;

static int add_line(struct curl_slist **l, const char *name, const char *value)
{
    char line[QK_SIGV4_MAX_VALUE + 160];
    struct curl_slist *n;
    snprintf(line, sizeof line, "%s: %s", name, value);
    if (!(n = curl_slist_append(*l, line))) return QK_ENOMEM;
    *l = n;
    return 0;
}

static int sign(lambda_transport *t, const char *hash, const char *date, struct curl_slist **l,
                qk_err *err)
{
    qk_sigv4_req sr = {"POST", t->host, t->path, NULL,          0,       NULL,
                       0,      hash,    date,    t->cfg.region, "lambda"};
    qk_sigv4_creds cr = {t->cfg.access_key, t->cfg.secret_key, t->cfg.session_token};
    qk_buf auth;
    int rc;
    qk_buf_init(&auth, 4096);
    if (!(rc = qk_sigv4_sign(&sr, &cr, &auth, NULL, NULL, err))) {
        rc = add_line(l, "Authorization", auth.data);
        if (!rc && cr.session_token && *cr.session_token)
            rc = add_line(l, "x-amz-security-token", cr.session_token);
        if (rc) rc = qk_errf(err, QK_ENOMEM, "out of memory");
    }
    qk_buf_free(&auth);
    return rc;
}

static int lambda_prepare(qk_dist_transport *base, CURL *h, const char *body, size_t len,
                          struct curl_slist **headers, qk_err *err)
{
    lambda_transport *t = (lambda_transport *)base;
    struct curl_slist *l = NULL;
    char date[17], hash[65];
    int rc;
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    if (qk_amz_date(time(NULL), date) || qk_sha256_hex(body, len, hash))
        return qk_errf(err, QK_EINTERNAL, "cannot date or hash the Lambda request");
    rc = add_line(&l, "Host", t->host) || add_line(&l, "x-amz-date", date) ||
         add_line(&l, "Content-Type", "application/json") || add_line(&l, "Expect", "") ||
         add_line(&l, "X-Amz-Invocation-Type", "RequestResponse");
    if (rc) rc = qk_errf(err, QK_ENOMEM, "out of memory");
    if (!rc && !t->cfg.anonymous) rc = sign(t, hash, date, &l, err);
    if (rc) {
        curl_slist_free_all(l);
        return rc;
    }
    *headers = l;
    return 0;
}

static int lambda_finish(qk_dist_transport *t, long status, bool fn_error, const qk_buf *body,
                         qk_err *err)
{
    if (status == 200 && !fn_error) return 0;
    if (status == 200) {
        /* The function failed: its error is the task's error (errorType from quack). */
        int rc = qk_dist_body_error(t->name, 400, body, err);
        return rc == QK_EBUSY ? QK_EHTTP : rc;
    }
    return qk_dist_body_error(t->name, status, body, err);
}

static void lambda_destroy(qk_dist_transport *base)
{
    lambda_transport *t = (lambda_transport *)base;
    free(t->url);
    free(t->host);
    free(t->path);
    qk_aws_config_free(&t->cfg);
    free(t);
}

static const qk_dist_transport_ops lambda_ops = {"lambda", lambda_prepare, lambda_finish,
                                                 lambda_destroy};

static bool valid_function(const char *f)
{
    size_t n = strlen(f);
    if (n == 0 || n > FUNCTION_MAX) return false;
    for (; *f; f++)
        if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z') || (*f >= '0' && *f <= '9') ||
              strchr("-_:.$", *f)))
            return false;
    return true;
}

/* The endpoint: AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL, else Lambda's regional one. */
static int endpoint(const qk_aws_config *cfg, qk_buf *url, char **host, qk_err *err)
{
    const char *e = qk_env_str("AWS_ENDPOINT_URL_LAMBDA", NULL);
    const char *what = "AWS_ENDPOINT_URL_LAMBDA";
    bool https;
    int rc;
    if (!e) e = qk_env_str("AWS_ENDPOINT_URL", NULL), what = "AWS_ENDPOINT_URL";
    if (!e) {
        if (qk_buf_printf(url, "lambda.%s.amazonaws.com", cfg->region))
            return qk_errf(err, QK_EINVAL, "AWS region too long");
        *host = qk_buf_detach(url, NULL);
        return qk_buf_printf(url, "https://%s", *host) ? qk_errf(err, QK_ENOMEM, "oom") : 0;
    }
    if ((rc = qk_aws_endpoint_parse(e, what, host, &https, err))) return rc;
    if (qk_buf_printf(url, "%s://%s", https ? "https" : "http", *host))
        return qk_errf(err, QK_EINVAL, "%s too long", what);
    return 0;
}

static int build(lambda_transport *t, const char *function, qk_err *err)
{
    qk_aws_load_opts ao = {0};
    qk_buf url, path;
    int rc;
    ao.allow_anonymous = true;
    if ((rc = qk_aws_config_load(&ao, &t->cfg, err))) return rc;
    qk_buf_init(&url, 4096);
    qk_buf_init(&path, 1024);
    rc = endpoint(&t->cfg, &url, &t->host, err);
    if (!rc && (qk_buf_adds(&path, "/2015-03-31/functions/") ||
                qk_uri_encode(&path, function, strlen(function), true) ||
                qk_buf_adds(&path, "/invocations") || qk_buf_adds(&url, qk_buf_cstr(&path))))
        rc = qk_errf(err, QK_EINVAL, "Lambda function name too long");
    if (!rc) {
        t->url = qk_buf_detach(&url, NULL);
        t->path = qk_buf_detach(&path, NULL);
    }
    qk_buf_free(&url);
    qk_buf_free(&path);
    return rc;
}

int qk_dist_transport_lambda(const char *function, qk_dist_transport **out, qk_err *err)
{
    lambda_transport *t;
    int rc;
    *out = NULL;
    if (!valid_function(function))
        return qk_errf(err, QK_EINVAL,
                       "Lambda function '%.80s' is not a function name or ARN (letters, digits, "
                       "'-', '_', ':', at most %d characters)",
                       function, FUNCTION_MAX);
    if (!(t = calloc(1, sizeof *t))) return qk_errf(err, QK_ENOMEM, "out of memory");
    t->base.ops = &lambda_ops;
    t->base.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    snprintf(t->base.name, sizeof t->base.name, "lambda:%s", function);
    if ((rc = build(t, function, err))) {
        qk_err_prefix(err, "--lambda %.80s", function);
        lambda_destroy(&t->base);
        return rc;
    }
    *out = &t->base;
    return 0;
}
