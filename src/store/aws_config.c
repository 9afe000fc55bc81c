/* SPDX-License-Identifier: MIT */
/*
 * aws_config.c: AWS credentials, region, endpoint and URL style from flags, the environment and
 * the shared AWS files (~/.aws/credentials, ~/.aws/config). Precedence is in aws_config.h and
 * docs/s3-config.md.
 *
 * The files are INI as botocore reads them (Python configparser, RawConfigParser):
 * - full-line comments start with '#' or ';' (after optional white space); no inline comments;
 * - `[name]` starts a section (text up to the last ']', trimmed); later duplicates merge;
 * - `key = value` or `key: value`, split at the first '=' or ':', both sides trimmed, keys
 *   lowercased (configparser's optionxform), values kept verbatim; later duplicates win;
 * - a line indented deeper than the key before it continues that key. When that key's value
 *   is empty the continuation lines are a nested block (`s3 =\n  endpoint_url = ...`), stored
 *   with the key as parent; other continuations are ignored;
 * - CRLF line endings work; anything else (keys before a section, lines with no '=' or ':')
 *   is skipped where botocore would refuse the whole file. Files over QK_AWS_FILE_MAX are an
 *   error; missing or unreadable files are skipped.
 * Parsing is in place: entries point into the file's text, which the ini_file owns.
 */
#include "store/aws_config.h"
#include "store/sigv4.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_REGION "us-east-1"
#define REGION_MAX 64

typedef struct ini_entry {
    const char *section;
    const char *parent; /* nested block key ("s3") or NULL */
    const char *key;    /* NULL: the entry only records that the section exists */
    const char *value;
} ini_entry;

typedef struct ini_file {
    const char *path; /* borrowed from qk_aws_config; NULL when not looked at */
    bool config;      /* config file: sections are "profile NAME" and "default" */
    bool loaded;      /* the file was read */
    char *text;
    ini_entry *e;
    size_t n, cap;
} ini_file;

typedef struct aws_files {
    const char *profile; /* borrowed from qk_aws_config */
    bool explicit_profile;
    ini_file cred, conf;
} aws_files;

/* ---- INI parsing ------------------------------------------------------------------------ */

static int ini_add(ini_file *f, const char *section, const char *parent, const char *key,
                   const char *value)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 32;
        ini_entry *e = realloc(f->e, cap * sizeof *e);
        if (!e) return QK_ENOMEM;
        f->e = e;
        f->cap = cap;
    }
    f->e[f->n++] = (ini_entry){section, parent, key, value};
    return 0;
}

static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Split "key <delims> value" in place. Returns false when there is no delimiter or no key. */
static bool split_kv(char *s, const char *delims, char **key, char **value)
{
    size_t at = strcspn(s, delims);
    if (!s[at]) return false;
    s[at] = '\0';
    *key = trim(s);
    *value = trim(s + at + 1);
    for (char *p = *key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return **key != '\0';
}

/* "[ name ]" -> "name" in place, or NULL when the line is not a section header. */
static char *section_name(char *s)
{
    char *end = strrchr(s, ']');
    if (s[0] != '[' || !end || end == s + 1) return NULL;
    *end = '\0';
    s = trim(s + 1);
    return *s ? s : NULL;
}

static int ini_parse(ini_file *f)
{
    const char *section = NULL, *last_key = NULL;
    bool nested = false;
    size_t key_indent = 0;
    char *line, *next, *s, *k, *v;
    int rc = 0;
    for (line = f->text; line && *line && rc == 0; line = next) {
        size_t indent = strspn(line, " \t");
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (last_key && indent > key_indent) { /* continuation of last_key */
            if (nested && split_kv(s, "=", &k, &v)) rc = ini_add(f, section, last_key, k, v);
            continue;
        }
        if (*s == '[') {
            if ((s = section_name(s)) != NULL) {
                section = s;
                last_key = NULL;
                rc = ini_add(f, section, NULL, NULL, NULL);
            }
            continue;
        }
        if (!section || !split_kv(s, "=:", &k, &v)) continue; /* tolerated garbage */
        last_key = k;
        key_indent = indent;
        nested = (*v == '\0');
        rc = ini_add(f, section, NULL, k, v);
    }
    return rc;
}

/* "profile  NAME" matches kind "profile" and name "NAME". */
static bool prefixed_section_is(const char *sect, const char *kind, const char *name)
{
    size_t n = strlen(kind);
    if (strncmp(sect, kind, n) != 0 || (sect[n] != ' ' && sect[n] != '\t')) return false;
    sect += n;
    while (*sect == ' ' || *sect == '\t')
        sect++;
    return strcmp(sect, name) == 0;
}

static bool is_profile_section(const ini_file *f, const char *sect, const char *profile)
{
    if (!f->config) return strcmp(sect, profile) == 0;
    if (strcmp(profile, "default") == 0 && strcmp(sect, "default") == 0) return true;
    return prefixed_section_is(sect, "profile", profile);
}

static bool ini_has_profile(const ini_file *f, const char *profile)
{
    for (size_t i = 0; i < f->n; i++)
        if (is_profile_section(f, f->e[i].section, profile)) return true;
    return false;
}

/* Last value of key (under parent, or top level when NULL) in the section of that kind
 * ("profile" or "services") and name, or NULL. Empty values count as absent. */
static const char *ini_get(const ini_file *f, const char *kind, const char *name,
                           const char *parent, const char *key)
{
    const char *found = NULL;
    for (size_t i = 0; i < f->n; i++) {
        const ini_entry *e = &f->e[i];
        bool sect = strcmp(kind, "profile") == 0 ? is_profile_section(f, e->section, name)
                                                 : prefixed_section_is(e->section, kind, name);
        if (!sect || !e->key || strcmp(e->key, key) != 0) continue;
        if (parent ? !e->parent || strcmp(e->parent, parent) != 0 : e->parent != NULL) continue;
        if (*e->value) found = e->value;
    }
    return found;
}

static int ini_load(ini_file *f, qk_err *err)
{
    qk_err ignored = {0};
    size_t len;
    int rc;
    if (!f->path) return 0;
    rc = qk_read_file(f->path, QK_AWS_FILE_MAX, &f->text, &len, &ignored);
    if (rc == QK_ENOMEM) return qk_errf(err, rc, "out of memory reading %s", f->path);
    if (rc == QK_ETOOBIG) {
        return qk_errf(err, rc, "%s: larger than %u bytes, not an AWS %s file", f->path,
                       QK_AWS_FILE_MAX, f->config ? "config" : "credentials");
    }
    if (rc) return 0; /* missing or unreadable: skipped, as the AWS tools do */
    f->loaded = true;
    return ini_parse(f);
}

static void ini_free(ini_file *f)
{
    free(f->text);
    free(f->e);
    memset(f, 0, sizeof *f);
}

/* ---- files and profiles ----------------------------------------------------------------- */

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s) abort(); /* small config strings, like qk_xstrdup */
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

/* The path from env var `var` ("~/" expanded), else $HOME/.aws/<name>; NULL without HOME. */
static char *aws_file_path(const char *var, const char *name)
{
    const char *v = qk_env_str(var, NULL), *home = qk_env_str("HOME", NULL);
    if (v && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) return qk_xstrdup(v);
    if (!home) return NULL;
    if (v) return concat(home, v + 1);
    char *dir = concat(home, "/.aws/"), *path = concat(dir, name);
    free(dir);
    return path;
}

static const char *shown_path(const ini_file *f)
{
    if (!f->path) return "(no file: HOME not set)";
    return f->path;
}

/* Said after shown_path in errors, so a typo in AWS_CONFIG_FILE is easy to see. */
static const char *file_note(const ini_file *f)
{
    return f->path && !f->loaded ? " (not read)" : "";
}

static int open_files(aws_files *x, const qk_aws_load_opts *o, qk_aws_config *out, qk_err *err)
{
    const char *p = o->profile && *o->profile ? o->profile : NULL;
    int rc;
    if (!p) p = qk_env_str("AWS_PROFILE", NULL);
    if (!p) p = qk_env_str("AWS_DEFAULT_PROFILE", NULL);
    x->explicit_profile = p && strcmp(p, "default") != 0;
    out->profile = qk_xstrdup(p ? p : "default");
    x->profile = out->profile;
    out->credentials_file = aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    out->config_file = aws_file_path("AWS_CONFIG_FILE", "config");
    x->cred.path = out->credentials_file;
    x->conf.path = out->config_file;
    x->conf.config = true;
    if ((rc = ini_load(&x->cred, err)) != 0 || (rc = ini_load(&x->conf, err)) != 0) return rc;
    if (x->explicit_profile && !ini_has_profile(&x->cred, x->profile) &&
        !ini_has_profile(&x->conf, x->profile)) {
        return qk_errf(
            err, QK_ENOTFOUND,
            "AWS profile '%s' not found: looked for [%s] in %s%s and [profile %s] in %s%s",
            x->profile, x->profile, shown_path(&x->cred), file_note(&x->cred), x->profile,
            shown_path(&x->conf), file_note(&x->conf));
    }
    return 0;
}

/* A profile setting: the credentials file wins over the config file (botocore merges them so).
 * *from, when non-NULL, gets "credentials file" or "config file". */
static const char *profile_get(const aws_files *x, const char *parent, const char *key,
                               const char **from)
{
    const char *v = ini_get(&x->cred, "profile", x->profile, parent, key);
    const char *f = "credentials file";
    if (!v) {
        v = ini_get(&x->conf, "profile", x->profile, parent, key);
        f = "config file";
    }
    if (v && from) *from = f;
    return v;
}

/* ---- credentials ------------------------------------------------------------------------ */

static void set_keys(qk_aws_config *out, const char *ak, const char *sk, const char *token,
                     const char *source)
{
    out->access_key = qk_xstrdup(ak);
    out->secret_key = qk_xstrdup(sk);
    out->session_token = token && *token ? qk_xstrdup(token) : NULL;
    qk_strlcpy(out->source, source, sizeof out->source);
}

static int creds_from_env(qk_aws_config *out, bool *found, qk_err *err)
{
    const char *ak = qk_env_str("AWS_ACCESS_KEY_ID", NULL);
    const char *sk = qk_env_str("AWS_SECRET_ACCESS_KEY", NULL);
    if (!ak && !sk) return 0;
    if (!ak || !sk) {
        return qk_errf(err, QK_EINVAL,
                       "partial AWS credentials in the environment: %s is set but %s is not",
                       ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
    }
    set_keys(out, ak, sk, qk_env_str("AWS_SESSION_TOKEN", NULL), "environment");
    *found = true;
    return 0;
}

static int creds_from_file(const aws_files *x, const ini_file *f, qk_aws_config *out, bool *found,
                           qk_err *err)
{
    const char *ak = ini_get(f, "profile", x->profile, NULL, "aws_access_key_id");
    const char *sk = ini_get(f, "profile", x->profile, NULL, "aws_secret_access_key");
    if (!ak && !sk) return 0;
    if (!ak || !sk) {
        return qk_errf(err, QK_EINVAL,
                       "partial AWS credentials for profile '%s' in %s: %s is set but %s is not",
                       x->profile, f->path, ak ? "aws_access_key_id" : "aws_secret_access_key",
                       ak ? "aws_secret_access_key" : "aws_access_key_id");
    }
    set_keys(out, ak, sk, ini_get(f, "profile", x->profile, NULL, "aws_session_token"),
             f->config ? "config file" : "credentials file");
    *found = true;
    return 0;
}

static int no_credentials(const aws_files *x, qk_err *err)
{
    static const char *const unsupported[] = {"role_arn", "credential_process", "sso_session",
                                              "sso_start_url", "web_identity_token_file"};
    for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        if (profile_get(x, NULL, unsupported[i], NULL)) {
            return qk_errf(err, QK_EUNSUPPORTED,
                           "AWS profile '%s' uses %s, which quack does not support: give it "
                           "aws_access_key_id and aws_secret_access_key, or set "
                           "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                           x->profile, unsupported[i]);
        }
    }
    return qk_errf(err, QK_ENOTFOUND,
                   "no AWS credentials: looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then "
                   "profile '%s' in %s%s and %s%s",
                   x->profile, shown_path(&x->cred), file_note(&x->cred), shown_path(&x->conf),
                   file_note(&x->conf));
}

static int find_credentials(const aws_files *x, const qk_aws_load_opts *o, qk_aws_config *out,
                            qk_err *err)
{
    bool found = false;
    int rc = creds_from_env(out, &found, err);
    if (!rc && !found) rc = creds_from_file(x, &x->cred, out, &found, err);
    if (!rc && !found) rc = creds_from_file(x, &x->conf, out, &found, err);
    if (rc || found) return rc;
    if (!o->allow_anonymous) return no_credentials(x, err);
    out->anonymous = true;
    qk_strlcpy(out->source, "anonymous", sizeof out->source);
    return 0;
}

/* ---- region ----------------------------------------------------------------------------- */

static int find_region(const aws_files *x, const qk_aws_load_opts *o, qk_aws_config *out,
                       qk_err *err)
{
    const char *r = o->region && *o->region ? o->region : NULL, *from = "region option";
    size_t n;
    if (!r && (r = qk_env_str("AWS_REGION", NULL)) != NULL) from = "AWS_REGION";
    if (!r && (r = qk_env_str("AWS_DEFAULT_REGION", NULL)) != NULL) from = "AWS_DEFAULT_REGION";
    if (!r) r = profile_get(x, NULL, "region", &from);
    if (!r) {
        r = DEFAULT_REGION;
        from = "default";
    }
    n = strlen(r);
    if (n >= REGION_MAX || strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_.") != n) {
        return qk_errf(err, QK_EINVAL,
                       "invalid AWS region '%.64s' (from %s): expected "
                       "letters, digits and '-' like eu-west-1",
                       r, from);
    }
    out->region = qk_xstrdup(r);
    qk_strlcpy(out->region_source, from, sizeof out->region_source);
    return 0;
}

/* ---- endpoint --------------------------------------------------------------------------- */

static int bad_endpoint(const char *url, const char *what, const char *why, qk_err *err)
{
    const char *at = strchr(url, '@');
    if (at) url = "(not shown: it holds user:password@)"; /* never echo userinfo */
    return qk_errf(err, QK_EINVAL,
                   "invalid endpoint URL %.120s (from %s): %s; expected "
                   "http(s)://host[:port]",
                   url, what, why);
}

static bool valid_port(const char *p, size_t n)
{
    long v = 0;
    if (n == 0 || n > 5) return false;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i])) return false;
        v = v * 10 + (p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

/* Check the authority "host[:port]" (n bytes). Returns NULL or what is wrong. */
static const char *check_authority(const char *a, size_t n)
{
    char ip[64];
    size_t hn;
    if (n == 0) return "no host";
    if (memchr(a, '@', n)) return "user:password@ is not allowed (use AWS_ACCESS_KEY_ID)";
    if (a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || (size_t)(close - a - 1) >= sizeof ip) return "bad IPv6 address";
        memcpy(ip, a + 1, (size_t)(close - a - 1));
        ip[close - a - 1] = '\0';
        if (inet_pton(AF_INET6, ip, &(struct in6_addr){0}) != 1) return "bad IPv6 address";
        hn = (size_t)(close - a + 1);
    } else {
        const char *colon = memchr(a, ':', n);
        hn = colon ? (size_t)(colon - a) : n;
        if (hn == 0 || hn > 253) return "bad host name";
        for (size_t i = 0; i < hn; i++)
            if (!isalnum((unsigned char)a[i]) && a[i] != '-' && a[i] != '.' && a[i] != '_')
                return "bad host name";
    }
    if (hn == n) return NULL;
    if (a[hn] != ':' || !valid_port(a + hn + 1, n - hn - 1)) return "bad port (1-65535)";
    return NULL;
}

int qk_aws_endpoint_parse(const char *url, const char *what, char **host, bool *https, qk_err *err)
{
    size_t skip, n;
    const char *a, *why;
    bool tls;
    if (!url || !*url) return bad_endpoint("''", what, "empty", err);
    tls = strncasecmp(url, "https://", 8) == 0;
    if (!tls && strncasecmp(url, "http://", 7) != 0)
        return bad_endpoint(url, what, "the scheme must be http:// or https://", err);
    skip = tls ? 8 : 7;
    a = url + skip;
    n = strcspn(a, "/?#");
    if (a[n] && strcmp(a + n, "/") != 0)
        return bad_endpoint(url, what, "no path, query or fragment allowed", err);
    if ((why = check_authority(a, n)) != NULL) return bad_endpoint(url, what, why, err);
    if (host) {
        *host = malloc(n + 1);
        if (!*host) return qk_errf(err, QK_ENOMEM, "out of memory");
        memcpy(*host, a, n);
        (*host)[n] = '\0';
    }
    if (https) *https = tls;
    return 0;
}

static bool env_true(const char *v)
{
    return v && strcasecmp(v, "true") == 0;
}

static const char *configured_endpoint(const aws_files *x, const char **from)
{
    const char *v, *services;
    if (env_true(qk_env_str("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", NULL)) ||
        env_true(profile_get(x, NULL, "ignore_configured_endpoint_urls", NULL)))
        return NULL;
    if ((v = qk_env_str("AWS_ENDPOINT_URL_S3", NULL)) != NULL) {
        *from = "AWS_ENDPOINT_URL_S3";
        return v;
    }
    if ((v = qk_env_str("AWS_ENDPOINT_URL", NULL)) != NULL) {
        *from = "AWS_ENDPOINT_URL";
        return v;
    }
    services = profile_get(x, NULL, "services", NULL);
    if (services && (v = ini_get(&x->conf, "services", services, "s3", "endpoint_url"))) {
        *from = "config file [services]";
        return v;
    }
    if ((v = profile_get(x, "s3", "endpoint_url", from)) != NULL) return v;
    return profile_get(x, NULL, "endpoint_url", from);
}

static int find_endpoint(const aws_files *x, const qk_aws_load_opts *o, qk_aws_config *out,
                         qk_err *err)
{
    const char *from = "endpoint option";
    const char *url = o->endpoint && *o->endpoint ? o->endpoint : configured_endpoint(x, &from);
    size_t n;
    int rc;
    out->endpoint_https = true;
    if (!url) return 0;
    rc = qk_aws_endpoint_parse(url, from, &out->endpoint_host, &out->endpoint_https, err);
    if (rc) return rc;
    out->endpoint = qk_xstrdup(url);
    n = strlen(out->endpoint);
    if (out->endpoint[n - 1] == '/') out->endpoint[n - 1] = '\0';
    qk_strlcpy(out->endpoint_source, from, sizeof out->endpoint_source);
    return 0;
}

/* ---- URL style -------------------------------------------------------------------------- */

int qk_aws_url_style_parse(const char *s, bool *path_style, const char *what, qk_err *err)
{
    if (s && strcasecmp(s, "path") == 0) {
        *path_style = true;
        return 0;
    }
    if (s && strcasecmp(s, "virtual") == 0) {
        *path_style = false;
        return 0;
    }
    /* Echo only short values: a long one may be a secret pasted in the wrong place. */
    if (s && strlen(s) > 12)
        return qk_errf(err, QK_EINVAL,
                       "invalid %s (a %zu-character value): expected path or "
                       "virtual",
                       what, strlen(s));
    return qk_errf(err, QK_EINVAL, "invalid %s '%s': expected path or virtual", what, s ? s : "");
}

static int find_style(const aws_files *x, const qk_aws_load_opts *o, qk_aws_config *out,
                      qk_err *err)
{
    const char *v, *why, *src;
    if (o->url_style && *o->url_style) {
        qk_strlcpy(out->style_source, "URL style option", sizeof out->style_source);
        return qk_aws_url_style_parse(o->url_style, &out->path_style, "URL style option", err);
    }
    if ((v = qk_env_str("QUACK_S3_URL_STYLE", NULL)) != NULL) {
        qk_strlcpy(out->style_source, "QUACK_S3_URL_STYLE", sizeof out->style_source);
        return qk_aws_url_style_parse(v, &out->path_style, "QUACK_S3_URL_STYLE", err);
    }
    v = profile_get(x, "s3", "addressing_style", &src);
    if (v && qk_aws_url_style_parse(v, &out->path_style, "addressing_style", NULL) == 0) {
        snprintf(out->style_source, sizeof out->style_source, "%s s3.addressing_style", src);
        return 0; /* "auto" and unknown values fall through, as in botocore */
    }
    /* The addressing rule lives with the signer (sigv4.c), which builds the URLs. */
    out->path_style = out->endpoint && qk_s3_default_path_style(out->endpoint);
    why = out->path_style ? "endpoint host is an IP address or localhost" : NULL;
    qk_strlcpy(out->style_source, why ? why : "default", sizeof out->style_source);
    return 0;
}

/* ---- public ----------------------------------------------------------------------------- */

int qk_aws_config_load(const qk_aws_load_opts *opts, qk_aws_config *out, qk_err *err)
{
    static const qk_aws_load_opts none;
    aws_files x;
    int rc;
    memset(out, 0, sizeof *out);
    memset(&x, 0, sizeof x);
    if (!opts) opts = &none;
    rc = open_files(&x, opts, out, err);
    if (rc) goto out;
    rc = find_credentials(&x, opts, out, err);
    if (rc) goto out;
    rc = find_region(&x, opts, out, err);
    if (rc) goto out;
    rc = find_endpoint(&x, opts, out, err);
    if (rc) goto out;
    rc = find_style(&x, opts, out, err);
out:
    ini_free(&x.conf);
    ini_free(&x.cred);
    if (rc) qk_aws_config_free(out);
    return rc;
}

void qk_aws_config_free(qk_aws_config *c)
{
    if (!c) return;
    free(c->access_key);
    free(c->secret_key);
    free(c->session_token);
    free(c->region);
    free(c->endpoint);
    free(c->endpoint_host);
    free(c->profile);
    free(c->credentials_file);
    free(c->config_file);
    memset(c, 0, sizeof *c);
}

static const char *or_none(const char *s)
{
    return s ? s : "(none)";
}

static int describe_credentials(const qk_aws_config *c, qk_buf *out)
{
    const char *file = strcmp(c->source, "credentials file") == 0 ? c->credentials_file
                       : strcmp(c->source, "config file") == 0    ? c->config_file
                                                                  : NULL;
    size_t n = c->secret_key ? strlen(c->secret_key) : 0;
    int rc = qk_buf_printf(out, "credentials: %s%s%s%s\n", c->source, file ? " (" : "",
                           file ? file : "", file ? ")" : "");
    if (rc || c->anonymous) return rc;
    /* The last 4 characters only when they are a small part of the secret (AWS CLI style). */
    return qk_buf_printf(out, "access key id: %s\nsecret access key: ****%s\nsession token: %s\n",
                         or_none(c->access_key), n >= 16 ? c->secret_key + n - 4 : "",
                         c->session_token ? "set" : "not set");
}

int qk_aws_config_describe(const qk_aws_config *c, qk_buf *out)
{
    int rc =
        qk_buf_printf(out, "profile: %s\ncredentials file: %s\nconfig file: %s\n",
                      or_none(c->profile), or_none(c->credentials_file), or_none(c->config_file));
    if (!rc) rc = describe_credentials(c, out);
    if (!rc) rc = qk_buf_printf(out, "region: %s (%s)\n", or_none(c->region), c->region_source);
    if (!rc && c->endpoint)
        rc = qk_buf_printf(out, "endpoint: %s (%s)\n", c->endpoint, c->endpoint_source);
    if (!rc && !c->endpoint)
        rc =
            qk_buf_printf(out, "endpoint: AWS (https://s3.%s.amazonaws.com)\n", or_none(c->region));
    if (!rc)
        rc = qk_buf_printf(out, "url style: %s (%s)\n", c->path_style ? "path" : "virtual",
                           c->style_source);
    return rc;
}
