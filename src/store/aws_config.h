/* SPDX-License-Identifier: MIT */
/*
 * aws_config.h: find AWS credentials, region, endpoint and S3 URL style the way the AWS CLI and
 * SDKs do (DESIGN.md section 3, "Configuration follows the ecosystem"). Used by the S3 store.
 *
 * Precedence (first hit wins; docs/s3-config.md has the full tables):
 * - profile:     opts->profile, AWS_PROFILE, "default"
 * - credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), then the
 *                profile in the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
 *                ~/.aws/credentials, sections [name]), then in the config file (AWS_CONFIG_FILE
 *                or ~/.aws/config, sections [profile name] and [default]); else anonymous when
 *                opts->allow_anonymous, else an error listing where it looked.
 * - region:      opts->region, AWS_REGION, AWS_DEFAULT_REGION, profile `region`, "us-east-1"
 * - endpoint:    opts->endpoint, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, `[services x]` s3 =
 *                endpoint_url, profile `s3 = endpoint_url`, profile `endpoint_url`; else none
 *                (AWS itself). Must be http(s)://host[:port][/].
 * - URL style:   opts->url_style, QUACK_S3_URL_STYLE, profile `s3 = addressing_style`, else path
 *                when the endpoint host is an IP address or localhost, else virtual.
 * Profile values merge the two files as botocore does: the credentials file wins.
 * INI files are read like botocore's parser (see aws_config.c). Secrets never appear in error
 * messages or in qk_aws_config_describe output. No global state; it reads the environment with
 * getenv, so do not call it while another thread calls setenv.
 */
#ifndef QK_STORE_AWS_CONFIG_H
#define QK_STORE_AWS_CONFIG_H

#include <stdbool.h>

#include "core/core.h"

/* Largest credentials or config file read; a larger one is an error (QK_ETOOBIG). */
#define QK_AWS_FILE_MAX (1u << 20)

/* Overrides from command-line flags; every field may be NULL/false, and opts itself may be
 * NULL. Strings are borrowed for the duration of the call. */
typedef struct qk_aws_load_opts {
    const char *profile;   /* beats AWS_PROFILE */
    const char *region;    /* beats AWS_REGION */
    const char *endpoint;  /* beats AWS_ENDPOINT_URL_S3 */
    const char *url_style; /* "path" | "virtual"; beats QUACK_S3_URL_STYLE */
    bool allow_anonymous;  /* no credentials found -> unsigned requests instead of an error */
} qk_aws_load_opts;

/* The result. All strings are owned (freed by qk_aws_config_free); NULL when absent. */
typedef struct qk_aws_config {
    char *access_key;         /* NULL when anonymous */
    char *secret_key;         /* NULL when anonymous; never log it */
    char *session_token;      /* NULL unless temporary credentials */
    char *region;             /* never NULL after a successful load */
    char *endpoint;           /* "http(s)://host[:port]" without trailing '/', or NULL = AWS */
    char *endpoint_host;      /* "host[:port]" of endpoint as written ("[::1]:9000"), or NULL */
    bool endpoint_https;      /* scheme of endpoint (true when endpoint is NULL) */
    char *profile;            /* profile name used ("default" unless chosen) */
    char *credentials_file;   /* path looked at, or NULL (HOME unset) */
    char *config_file;        /* path looked at, or NULL (HOME unset) */
    bool anonymous;           /* no credentials: sign nothing */
    bool path_style;          /* https://host/bucket/key rather than https://bucket.host/key */
    char source[64];          /* credentials: "environment" | "credentials file" | "config file" |
                                 "anonymous" */
    char region_source[64];   /* e.g. "AWS_REGION", "config file", "default" */
    char endpoint_source[64]; /* e.g. "AWS_ENDPOINT_URL_S3", "" when none */
    char style_source[64];    /* e.g. "QUACK_S3_URL_STYLE", "endpoint host is localhost" */
} qk_aws_config;

/* Fill *out (caller-allocated; it is zeroed first) from opts, the environment and the AWS
 * files. On error *out holds nothing (no need to free, freeing is harmless) and err says what
 * and where, never a secret: QK_ENOTFOUND (a named profile exists nowhere; no credentials),
 * QK_EINVAL (bad endpoint, region, URL style; partial credentials), QK_EUNSUPPORTED (the
 * profile uses role_arn, credential_process or SSO), QK_ETOOBIG (file over QK_AWS_FILE_MAX).
 * Missing or unreadable files are skipped. */
int qk_aws_config_load(const qk_aws_load_opts *opts, qk_aws_config *out, qk_err *err);
/* Free the strings and zero the struct. Accepts NULL and a zeroed struct. */
void qk_aws_config_free(qk_aws_config *c);
/* Append a multi-line, human-readable summary for --verbose: every setting and where it came
 * from; the secret shows as "****" plus at most its last 4 characters, the session token only as
 * "set". Returns 0 or the qk_buf error. */
int qk_aws_config_describe(const qk_aws_config *c, qk_buf *out);
/* URLs, Host headers and signed paths are built by qk_s3_address (store/sigv4.h) from
 * `endpoint` (or https://s3.<region>.amazonaws.com) and `path_style`. */
/* Parse "path" | "virtual" (case-insensitive) into *path_style; QK_EINVAL otherwise, with a
 * message naming `what` (e.g. "QUACK_S3_URL_STYLE"). */
int qk_aws_url_style_parse(const char *s, bool *path_style, const char *what, qk_err *err);
/* Check that url is http(s)://host[:port][/] (host: DNS name, IPv4 or [IPv6]; port 1-65535).
 * On success and when non-NULL, *host gets "host[:port]" (caller frees) and *https the scheme.
 * QK_EINVAL with a message naming `what` that never shows userinfo ("user:pass@"). */
int qk_aws_endpoint_parse(const char *url, const char *what, char **host, bool *https, qk_err *err);

#endif
