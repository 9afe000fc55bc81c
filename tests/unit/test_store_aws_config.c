/* SPDX-License-Identifier: MIT */
/*
 * test_store_aws_config.c: AWS credentials, region, endpoint and URL style (src/store/
 * aws_config.h) found the way the AWS CLI finds them. Each test runs with HOME,
 * AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE pointing into a fresh temp dir and every other
 * AWS_* variable unset, so the machine's real ~/.aws never matters; the environment is restored
 * afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "store/aws_config.h"

static const char *const VARS[] = {"HOME",
                                   "AWS_ACCESS_KEY_ID",
                                   "AWS_SECRET_ACCESS_KEY",
                                   "AWS_SESSION_TOKEN",
                                   "AWS_REGION",
                                   "AWS_DEFAULT_REGION",
                                   "AWS_PROFILE",
                                   "AWS_DEFAULT_PROFILE",
                                   "AWS_SHARED_CREDENTIALS_FILE",
                                   "AWS_CONFIG_FILE",
                                   "AWS_ENDPOINT_URL",
                                   "AWS_ENDPOINT_URL_S3",
                                   "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                                   "QUACK_S3_URL_STYLE"};
#define NVARS (sizeof VARS / sizeof *VARS)

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"

typedef struct fixture {
    char dir[64];
    char *saved[NVARS];
    char cred[128], conf[128];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    for (size_t i = 0; i < NVARS; i++) {
        const char *v = getenv(VARS[i]);
        f->saved[i] = v ? qk_xstrdup(v) : NULL;
        unsetenv(VARS[i]);
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/qk-aws-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cred, sizeof f->cred, "%s/credentials", f->dir);
    snprintf(f->conf, sizeof f->conf, "%s/config", f->dir);
    setenv("HOME", f->dir, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", f->cred, 1);
    setenv("AWS_CONFIG_FILE", f->conf, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->cred);
    unlink(f->conf);
    rmdir(f->dir);
    for (size_t i = 0; i < NVARS; i++) {
        if (f->saved[i])
            setenv(VARS[i], f->saved[i], 1);
        else
            unsetenv(VARS[i]);
        free(f->saved[i]);
    }
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

static void creds(void **state, const char *text)
{
    write_file(((fixture *)*state)->cred, text);
}

static void config(void **state, const char *text)
{
    write_file(((fixture *)*state)->conf, text);
}

static void set_env_keys(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
}

/* Load expecting success. */
static void load_ok(const qk_aws_load_opts *o, qk_aws_config *c)
{
    qk_err e = {0};
    int rc = qk_aws_config_load(o, c, &e);
    if (rc) fail_msg("load failed: %s", e.msg);
}

/* Load expecting failure with code; the message is left in e and never holds the secret. */
static void load_fails(const qk_aws_load_opts *o, int code, qk_err *e)
{
    qk_aws_config c;
    assert_int_equal(qk_aws_config_load(o, &c, e), code);
    assert_null(c.access_key);
    assert_null(strstr(e->msg, SECRET));
    assert_null(strstr(e->msg, "EXAMPLEKEY"));
    qk_aws_config_free(&c);
}

/* ---- credentials ------------------------------------------------------------------------ */

static void test_env_credentials_win_over_files(void **state)
{
    qk_aws_config c;
    creds(state, "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = filesecret\n");
    set_env_keys();
    setenv("AWS_SESSION_TOKEN", "tok", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIAENV");
    assert_string_equal(c.secret_key, SECRET);
    assert_string_equal(c.session_token, "tok");
    assert_string_equal(c.source, "environment");
    assert_string_equal(c.profile, "default");
    assert_false(c.anonymous);
    qk_aws_config_free(&c);
}

static void test_aws_profile_picks_section_in_both_files(void **state)
{
    qk_aws_config c;
    creds(state, "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = s1\n"
                 "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = s2\n"
                 "aws_session_token = t2\n");
    config(state, "[default]\nregion = eu-west-1\n[profile work]\nregion = ap-south-1\n");
    setenv("AWS_PROFILE", "work", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.profile, "work");
    assert_string_equal(c.access_key, "AKIAWORK");
    assert_string_equal(c.session_token, "t2");
    assert_string_equal(c.source, "credentials file");
    assert_string_equal(c.region, "ap-south-1");
    assert_string_equal(c.region_source, "config file");
    qk_aws_config_free(&c);
}

static void test_config_file_needs_profile_prefix_credentials_file_does_not(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.profile = "dev"};
    qk_err e = {0};
    /* [dev] in the config file and [profile dev] in the credentials file are other names. */
    config(state, "[dev]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = x\n");
    creds(state, "[profile dev]\naws_access_key_id = AKIAWRONG\naws_secret_access_key = x\n");
    load_fails(&o, QK_ENOTFOUND, &e);
    config(state, "[profile   dev ]\naws_access_key_id = AKIACONF\naws_secret_access_key = x\n");
    load_ok(&o, &c);
    assert_string_equal(c.access_key, "AKIACONF");
    assert_string_equal(c.source, "config file");
    qk_aws_config_free(&c);
    creds(state, "[ dev ]\naws_access_key_id = AKIACRED\naws_secret_access_key = y\n");
    load_ok(&o, &c);
    assert_string_equal(c.access_key, "AKIACRED");
    qk_aws_config_free(&c);
}

static void test_default_profile_is_plain_default_section_in_config(void **state)
{
    qk_aws_config c;
    config(state, "[default]\naws_access_key_id = AKIACONF\naws_secret_access_key = s\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIACONF");
    assert_string_equal(c.source, "config file");
    qk_aws_config_free(&c);
}

static void test_credentials_file_beats_config_file_for_keys(void **state)
{
    qk_aws_config c;
    config(state, "[default]\naws_access_key_id = AKIACONF\naws_secret_access_key = c\n");
    creds(state, "[default]\naws_access_key_id = AKIACRED\naws_secret_access_key = k\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIACRED");
    assert_string_equal(c.secret_key, "k");
    assert_string_equal(c.source, "credentials file");
    qk_aws_config_free(&c);
}

static void test_partial_credentials_are_an_error(void **state)
{
    qk_err e = {0};
    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "AWS_SECRET_ACCESS_KEY is not"));
    unsetenv("AWS_ACCESS_KEY_ID");
    creds(state, "[default]\naws_secret_access_key = " SECRET "\n");
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "aws_access_key_id is not"));
    assert_non_null(strstr(e.msg, ((fixture *)*state)->cred));
}

static void test_missing_named_profile_error_names_both_files(void **state)
{
    fixture *f = *state;
    qk_err e = {0};
    creds(state, "[default]\naws_access_key_id = A\naws_secret_access_key = " SECRET "\n");
    set_env_keys(); /* as with the AWS CLI, env keys do not excuse a missing profile */
    setenv("AWS_PROFILE", "nosuch", 1);
    load_fails(NULL, QK_ENOTFOUND, &e);
    assert_non_null(strstr(e.msg, "'nosuch'"));
    assert_non_null(strstr(e.msg, f->cred));
    assert_non_null(strstr(e.msg, f->conf));
}

static void test_no_credentials_error_lists_where_it_looked(void **state)
{
    fixture *f = *state;
    qk_err e = {0};
    config(state, "[default]\nregion = eu-west-1\n");
    load_fails(NULL, QK_ENOTFOUND, &e);
    assert_non_null(strstr(e.msg, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(e.msg, "'default'"));
    assert_non_null(strstr(e.msg, f->cred));
    assert_non_null(strstr(e.msg, "credentials (not read)")); /* it does not exist */
    assert_non_null(strstr(e.msg, f->conf));
    assert_null(strstr(e.msg, "config (not read)"));
}

static void test_no_credentials_is_anonymous_when_allowed(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.allow_anonymous = true};
    (void)state;
    load_ok(&o, &c);
    assert_true(c.anonymous);
    assert_null(c.access_key);
    assert_null(c.secret_key);
    assert_string_equal(c.source, "anonymous");
    assert_string_equal(c.region, "us-east-1");
    qk_aws_config_free(&c);
}

static void test_unsupported_credential_kind_is_named(void **state)
{
    qk_err e = {0};
    config(state, "[profile r]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n");
    setenv("AWS_PROFILE", "r", 1);
    load_fails(NULL, QK_EUNSUPPORTED, &e);
    assert_non_null(strstr(e.msg, "role_arn"));
}

static void test_missing_home_skips_home_files(void **state)
{
    qk_aws_config c;
    qk_err e = {0};
    (void)state;
    unsetenv("HOME");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    setenv("AWS_CONFIG_FILE", "~/config", 1); /* needs HOME: skipped too */
    load_fails(NULL, QK_ENOTFOUND, &e);
    assert_non_null(strstr(e.msg, "HOME not set"));
    set_env_keys();
    load_ok(NULL, &c);
    assert_null(c.credentials_file);
    assert_null(c.config_file);
    qk_aws_config_free(&c);
}

static void test_tilde_in_file_variables_means_home(void **state)
{
    qk_aws_config c;
    creds(state, "[default]\naws_access_key_id = AKIATILDE\naws_secret_access_key = s\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/credentials", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIATILDE");
    assert_string_equal(c.credentials_file, ((fixture *)*state)->cred);
    qk_aws_config_free(&c);
}

/* ---- region ----------------------------------------------------------------------------- */

static void test_region_precedence(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.region = "sa-east-1"};
    set_env_keys();
    load_ok(NULL, &c);
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.region_source, "default");
    qk_aws_config_free(&c);
    config(state, "[default]\nregion = eu-central-1\n");
    load_ok(NULL, &c);
    assert_string_equal(c.region, "eu-central-1");
    qk_aws_config_free(&c);
    setenv("AWS_DEFAULT_REGION", "eu-west-2", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.region, "eu-west-2");
    qk_aws_config_free(&c);
    setenv("AWS_REGION", "eu-west-3", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.region, "eu-west-3");
    assert_string_equal(c.region_source, "AWS_REGION");
    qk_aws_config_free(&c);
    load_ok(&o, &c);
    assert_string_equal(c.region, "sa-east-1");
    qk_aws_config_free(&c);
}

static void test_region_with_url_characters_is_rejected(void **state)
{
    qk_err e = {0};
    (void)state;
    set_env_keys();
    setenv("AWS_REGION", "eu/evil.com#", 1);
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "AWS_REGION"));
}

/* ---- endpoint --------------------------------------------------------------------------- */

static void test_endpoint_precedence(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.endpoint = "http://flag:1"};
    set_env_keys();
    load_ok(NULL, &c);
    assert_null(c.endpoint);
    assert_null(c.endpoint_host);
    assert_true(c.endpoint_https);
    qk_aws_config_free(&c);
    config(state, "[default]\nendpoint_url = http://profile:9000/\n");
    load_ok(NULL, &c);
    assert_string_equal(c.endpoint, "http://profile:9000");
    assert_string_equal(c.endpoint_host, "profile:9000");
    assert_false(c.endpoint_https);
    assert_string_equal(c.endpoint_source, "config file");
    qk_aws_config_free(&c);
    setenv("AWS_ENDPOINT_URL", "https://global", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.endpoint, "https://global");
    qk_aws_config_free(&c);
    setenv("AWS_ENDPOINT_URL_S3", "http://s3only:7480", 1);
    load_ok(NULL, &c);
    assert_string_equal(c.endpoint, "http://s3only:7480");
    assert_string_equal(c.endpoint_source, "AWS_ENDPOINT_URL_S3");
    qk_aws_config_free(&c);
    load_ok(&o, &c);
    assert_string_equal(c.endpoint, "http://flag:1");
    qk_aws_config_free(&c);
}

static void test_endpoint_from_nested_s3_block_and_services_section(void **state)
{
    qk_aws_config c;
    set_env_keys();
    config(state,
           "[default]\nendpoint_url = http://plain:1\ns3 =\n  endpoint_url = http://nested:2\n"
           "  addressing_style = virtual\nregion = eu-north-1\n");
    load_ok(NULL, &c);
    assert_string_equal(c.endpoint, "http://nested:2");
    assert_string_equal(c.region, "eu-north-1");
    qk_aws_config_free(&c);
    config(state, "[default]\nservices = lab\ns3 =\n  endpoint_url = http://nested:2\n"
                  "[services lab]\ns3 =\n  endpoint_url = http://service:3\n");
    load_ok(NULL, &c);
    assert_string_equal(c.endpoint, "http://service:3");
    qk_aws_config_free(&c);
}

static void test_ignore_configured_endpoint_urls(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.endpoint = "http://flag:1"};
    set_env_keys();
    config(state, "[default]\nendpoint_url = http://profile:9000\n");
    setenv("AWS_ENDPOINT_URL_S3", "http://env:1", 1);
    setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    load_ok(NULL, &c);
    assert_null(c.endpoint);
    qk_aws_config_free(&c);
    load_ok(&o, &c);
    assert_string_equal(c.endpoint, "http://flag:1");
    qk_aws_config_free(&c);
}

static void test_endpoint_validation(void **state)
{
    static const char *const bad[] = {
        "s3://bucket",  "ftp://host",       "localhost:9000",    "http://",
        "http://:9000", "http://host:0",    "http://host:65536", "http://host:12x",
        "http://ho st", "http://host/path", "http://host?x=1",   "http://[::zz]:9000",
        "http://[::1",  "https://host:",    "garbage",           "http://a..b/c/"};
    static const char *const good[] = {"http://localhost:9000", "https://s3.example.com/",
                                       "HTTP://127.0.0.1", "http://[::1]:9000",
                                       "https://minio_1.internal:443"};
    char *host = NULL;
    bool https = false;
    qk_err e = {0};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (qk_aws_endpoint_parse(bad[i], "test", &host, &https, &e) != QK_EINVAL)
            fail_msg("accepted %s", bad[i]);
        assert_non_null(strstr(e.msg, "(from test)"));
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (qk_aws_endpoint_parse(good[i], "test", &host, &https, &e) != 0)
            fail_msg("rejected %s: %s", good[i], e.msg);
        free(host);
    }
    assert_int_equal(qk_aws_endpoint_parse("http://[::1]:9000", "t", &host, &https, &e), 0);
    assert_string_equal(host, "[::1]:9000");
    assert_false(https);
    free(host);
}

static void test_bad_endpoint_in_env_fails_load_naming_the_variable(void **state)
{
    qk_err e = {0};
    (void)state;
    set_env_keys();
    setenv("AWS_ENDPOINT_URL", "minio:9000", 1);
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "AWS_ENDPOINT_URL"));
    assert_non_null(strstr(e.msg, "minio:9000"));
}

/* ---- URL style -------------------------------------------------------------------------- */

static void expect_style(const char *endpoint, bool path, const char *source)
{
    qk_aws_config c;
    if (endpoint)
        setenv("AWS_ENDPOINT_URL_S3", endpoint, 1);
    else
        unsetenv("AWS_ENDPOINT_URL_S3");
    load_ok(NULL, &c);
    if (c.path_style != path)
        fail_msg("%s: expected %s style", endpoint, path ? "path" : "virtual");
    assert_string_equal(c.style_source, source);
    qk_aws_config_free(&c);
}

static void test_url_style_is_path_for_ip_and_localhost_endpoints(void **state)
{
    (void)state;
    set_env_keys();
    expect_style("http://127.0.0.1:9000", true, "endpoint host is an IP address or localhost");
    expect_style("http://10.1.2.3", true, "endpoint host is an IP address or localhost");
    expect_style("http://localhost:9000", true, "endpoint host is an IP address or localhost");
    expect_style("http://LocalHost", true, "endpoint host is an IP address or localhost");
    expect_style("http://[::1]:9000", true, "endpoint host is an IP address or localhost");
}

static void test_url_style_is_virtual_for_dns_names_and_aws(void **state)
{
    (void)state;
    set_env_keys();
    expect_style("https://s3.example.com", false, "default");
    expect_style("http://127.0.0.1.nip.io:9000", false, "default");
    expect_style(NULL, false, "default");
}

static void test_url_style_override(void **state)
{
    qk_aws_config c;
    qk_aws_load_opts o = {.url_style = "virtual"};
    set_env_keys();
    setenv("QUACK_S3_URL_STYLE", "virtual", 1);
    expect_style("http://127.0.0.1:9000", false, "QUACK_S3_URL_STYLE");
    setenv("QUACK_S3_URL_STYLE", "PATH", 1);
    expect_style("https://s3.example.com", true, "QUACK_S3_URL_STYLE");
    load_ok(&o, &c); /* the flag beats the variable */
    assert_false(c.path_style);
    qk_aws_config_free(&c);
    unsetenv("QUACK_S3_URL_STYLE");
    config(state, "[default]\ns3 =\n    addressing_style = path\n");
    expect_style("https://s3.example.com", true, "config file s3.addressing_style");
    config(state, "[default]\ns3 =\n    addressing_style = auto\n");
    expect_style("https://s3.example.com", false, "default");
}

static void test_url_style_invalid_override_is_an_error(void **state)
{
    qk_err e = {0};
    qk_aws_load_opts o = {.url_style = "sideways"};
    (void)state;
    set_env_keys();
    setenv("QUACK_S3_URL_STYLE", "vhost", 1);
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "QUACK_S3_URL_STYLE 'vhost'"));
    load_fails(&o, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "sideways"));
}

/* ---- INI parsing ------------------------------------------------------------------------ */

static void test_ini_comments_spaces_crlf_and_case(void **state)
{
    qk_aws_config c;
    creds(state, "# comment\r\n; other comment\r\n\r\n  [ default ]  \r\n"
                 "AWS_Access_Key_ID=AKIACRLF\r\n"
                 "aws_secret_access_key   :   s=c:r#e;t  \r\n"
                 "    # indented comment\r\n"
                 "aws_session_token =\r\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIACRLF");
    assert_string_equal(c.secret_key, "s=c:r#e;t"); /* no inline comments, first delimiter */
    assert_null(c.session_token);                   /* empty means absent */
    qk_aws_config_free(&c);
}

static void test_ini_later_duplicates_win(void **state)
{
    qk_aws_config c;
    creds(state, "[default]\naws_access_key_id = FIRST\naws_secret_access_key = s\n"
                 "[other]\naws_access_key_id = OTHER\n"
                 "[default]\naws_access_key_id = SECOND\n");
    config(state, "[default]\nregion = eu-west-1\nregion = eu-west-2\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "SECOND");
    assert_string_equal(c.secret_key, "s");
    assert_string_equal(c.region, "eu-west-2");
    qk_aws_config_free(&c);
}

static void test_ini_garbage_lines_are_tolerated(void **state)
{
    qk_aws_config c;
    creds(state, "aws_access_key_id = BEFORESECTION\n[\n[]\nno delimiter here\n= novalue\n"
                 "[default\n\x01\xff\n[default]\njunk line\naws_access_key_id = AKIAOK\n"
                 "aws_secret_access_key = s\n   continuation = ignored\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIAOK");
    assert_string_equal(c.secret_key, "s");
    qk_aws_config_free(&c);
}

static void test_ini_indented_keys_at_same_depth_are_keys(void **state)
{
    qk_aws_config c;
    creds(state, "[default]\n  aws_access_key_id = AKIAIND\n  aws_secret_access_key = s\n");
    load_ok(NULL, &c);
    assert_string_equal(c.access_key, "AKIAIND");
    qk_aws_config_free(&c);
}

static void test_huge_file_is_rejected(void **state)
{
    size_t n = QK_AWS_FILE_MAX + 10;
    char *big = malloc(n + 1);
    qk_err e = {0};
    assert_non_null(big);
    memset(big, '#', n);
    big[n] = '\0';
    config(state, big);
    free(big);
    set_env_keys();
    load_fails(NULL, QK_ETOOBIG, &e);
    assert_non_null(strstr(e.msg, ((fixture *)*state)->conf));
}

static void test_unreadable_file_is_skipped(void **state)
{
    qk_aws_config c;
    fixture *f = *state;
    set_env_keys();
    setenv("AWS_CONFIG_FILE", f->dir, 1); /* a directory: open works, read fails */
    load_ok(NULL, &c);
    assert_string_equal(c.region, "us-east-1");
    qk_aws_config_free(&c);
}

/* ---- secrets ---------------------------------------------------------------------------- */

static void test_secret_never_in_error_messages(void **state)
{
    qk_err e = {0};
    qk_aws_load_opts o = {.url_style = SECRET};
    creds(state, "[default]\naws_access_key_id = AKIA\naws_secret_access_key = " SECRET "\n"
                 "endpoint_url = http://AKIA:" SECRET "@host:9000\n");
    load_fails(NULL, QK_EINVAL, &e);
    assert_non_null(strstr(e.msg, "user:password@"));
    creds(state, "[default]\naws_access_key_id = AKIA\naws_secret_access_key = " SECRET "\n");
    setenv("AWS_ENDPOINT_URL", "ftp://nope", 1);
    load_fails(NULL, QK_EINVAL, &e);
    unsetenv("AWS_ENDPOINT_URL");
    load_fails(&o, QK_EINVAL, &e); /* even a secret pasted in the wrong place is cut */
    setenv("AWS_PROFILE", "missing", 1);
    load_fails(NULL, QK_ENOTFOUND, &e);
}

static void test_describe_shows_settings_but_not_the_secret(void **state)
{
    qk_aws_config c;
    qk_buf b;
    creds(state, "[default]\naws_access_key_id = AKIADESCRIBE\naws_secret_access_key = " SECRET
                 "\naws_session_token = SESSIONTOKENVALUE\n");
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000", 1);
    load_ok(NULL, &c);
    qk_buf_init(&b, 1 << 16);
    assert_int_equal(qk_aws_config_describe(&c, &b), 0);
    assert_non_null(strstr(b.data, "AKIADESCRIBE"));
    assert_non_null(strstr(b.data, "secret access key: ****EKEY\n"));
    assert_non_null(strstr(b.data, "session token: set\n"));
    assert_non_null(strstr(b.data, "endpoint: http://127.0.0.1:9000 (AWS_ENDPOINT_URL_S3)\n"));
    assert_non_null(
        strstr(b.data, "url style: path (endpoint host is an IP address or localhost)\n"));
    assert_non_null(strstr(b.data, "credentials: credentials file ("));
    assert_null(strstr(b.data, SECRET));
    assert_null(strstr(b.data, "SESSIONTOKEN"));
    qk_buf_free(&b);
    qk_aws_config_free(&c);
    creds(state, "[default]\naws_access_key_id = A\naws_secret_access_key = short\n");
    load_ok(NULL, &c);
    qk_buf_init(&b, 1 << 16);
    assert_int_equal(qk_aws_config_describe(&c, &b), 0);
    assert_non_null(strstr(b.data, "secret access key: ****\n")); /* short: nothing shown */
    qk_buf_free(&b);
    qk_aws_config_free(&c);
    qk_aws_config_free(NULL);
}

/* ---- bucket URLs ------------------------------------------------------------------------ */

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_env_credentials_win_over_files),
        T(test_aws_profile_picks_section_in_both_files),
        T(test_config_file_needs_profile_prefix_credentials_file_does_not),
        T(test_default_profile_is_plain_default_section_in_config),
        T(test_credentials_file_beats_config_file_for_keys),
        T(test_partial_credentials_are_an_error),
        T(test_missing_named_profile_error_names_both_files),
        T(test_no_credentials_error_lists_where_it_looked),
        T(test_no_credentials_is_anonymous_when_allowed),
        T(test_unsupported_credential_kind_is_named),
        T(test_missing_home_skips_home_files),
        T(test_tilde_in_file_variables_means_home),
        T(test_region_precedence),
        T(test_region_with_url_characters_is_rejected),
        T(test_endpoint_precedence),
        T(test_endpoint_from_nested_s3_block_and_services_section),
        T(test_ignore_configured_endpoint_urls),
        T(test_endpoint_validation),
        T(test_bad_endpoint_in_env_fails_load_naming_the_variable),
        T(test_url_style_is_path_for_ip_and_localhost_endpoints),
        T(test_url_style_is_virtual_for_dns_names_and_aws),
        T(test_url_style_override),
        T(test_url_style_invalid_override_is_an_error),
        T(test_ini_comments_spaces_crlf_and_case),
        T(test_ini_later_duplicates_win),
        T(test_ini_garbage_lines_are_tolerated),
        T(test_ini_indented_keys_at_same_depth_are_keys),
        T(test_huge_file_is_rejected),
        T(test_unreadable_file_is_skipped),
        T(test_secret_never_in_error_messages),
        T(test_describe_shows_settings_but_not_the_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
