/* SPDX-License-Identifier: MIT */
/*
 * test_store_sigv4.c: AWS Signature Version 4 and S3 addressing (src/store/sigv4.h).
 *
 * The signatures are AWS's published example values: the S3 pages "Signature Calculations
 * for the Authorization Header: Transferring Payload in a Single Chunk" (GET object with
 * Range, PUT object, GET bucket lifecycle, GET bucket list) and "Authenticating Requests:
 * Using Query Parameters" (presigned GET), and the get-vanilla case of the generic SigV4 test
 * suite. Then URI encoding of awkward keys, addressing, and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EX_HOST "examplebucket.s3.amazonaws.com"
#define EX_DATE "20130524T000000Z"
#define EX_CRED "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

static const qk_sigv4_creds ex_creds = {AKID, SECRET, NULL};

/* A request for AWS's S3 examples: examplebucket, us-east-1, 2013-05-24. */
static qk_sigv4_req ex_req(const char *method, const char *path)
{
    qk_sigv4_req r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.host = EX_HOST;
    r.path = path;
    r.payload_hash = QK_SIGV4_EMPTY_SHA256;
    r.amz_date = EX_DATE;
    r.region = "us-east-1";
    r.service = "s3";
    return r;
}

/* Sign and return the Authorization value (static storage; one call at a time). */
static const char *sign(const qk_sigv4_req *r, const qk_sigv4_creds *cr, qk_buf *creq, qk_buf *sts)
{
    static char out[1024];
    qk_buf auth;
    qk_err err = {0};
    int rc;
    qk_buf_init(&auth, 4096);
    rc = qk_sigv4_sign(r, cr, &auth, creq, sts, &err);
    if (rc) fprintf(stderr, "sign: %s\n", err.msg);
    assert_int_equal(rc, 0);
    snprintf(out, sizeof out, "%s", qk_buf_cstr(&auth));
    qk_buf_free(&auth);
    return out;
}

static const char *signature_of(const char *auth)
{
    const char *s = strstr(auth, "Signature=");
    assert_non_null(s);
    return s + 10;
}

static int sign_rc(const qk_sigv4_req *r, const qk_sigv4_creds *cr, qk_err *err)
{
    qk_buf auth;
    int rc;
    qk_buf_init(&auth, 4096);
    rc = qk_sigv4_sign(r, cr, &auth, NULL, NULL, err);
    qk_buf_free(&auth);
    return rc;
}

/* ---- AWS's published examples ----------------------------------------------------------- */

static void test_get_object_with_range_matches_aws_example(void **state)
{
    qk_sigv4_kv h[] = {{"Range", "bytes=0-9"}, {"x-amz-content-sha256", QK_SIGV4_EMPTY_SHA256}};
    qk_sigv4_req r = ex_req("GET", "/test.txt");
    qk_buf creq, sts;
    (void)state;
    r.headers = h;
    r.nheaders = 2;
    qk_buf_init(&creq, 1 << 16);
    qk_buf_init(&sts, 1 << 16);
    assert_string_equal(
        sign(&r, &ex_creds, &creq, &sts),
        "AWS4-HMAC-SHA256 " EX_CRED ", SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        " Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_string_equal(qk_buf_cstr(&creq),
                        "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                        "x-amz-content-sha256:" QK_SIGV4_EMPTY_SHA256 "\n"
                        "x-amz-date:20130524T000000Z\n\n"
                        "host;range;x-amz-content-sha256;x-amz-date\n" QK_SIGV4_EMPTY_SHA256);
    assert_string_equal(qk_buf_cstr(&sts),
                        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
                        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    qk_buf_free(&creq);
    qk_buf_free(&sts);
}

static void test_put_object_matches_aws_example(void **state)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[65];
    qk_sigv4_kv h[3] = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                        {"x-amz-content-sha256", hash}};
    qk_sigv4_req r = ex_req("PUT", "/test$file.text");
    const char *auth;
    qk_buf creq;
    (void)state;
    assert_int_equal(qk_sha256_hex(body, strlen(body), hash), 0);
    assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    r.headers = h;
    r.nheaders = 3;
    r.payload_hash = hash;
    qk_buf_init(&creq, 1 << 16);
    auth = sign(&r, &ex_creds, &creq, NULL);
    assert_non_null(strstr(
        auth, "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"));
    assert_string_equal(signature_of(auth),
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    assert_true(qk_str_startswith(qk_buf_cstr(&creq), "PUT\n/test%24file.text\n\n"));
    qk_buf_free(&creq);
}

static void test_get_bucket_lifecycle_matches_aws_example(void **state)
{
    qk_sigv4_kv q[] = {{"lifecycle", NULL}};
    qk_sigv4_kv h[] = {{"x-amz-content-sha256", QK_SIGV4_EMPTY_SHA256}};
    qk_sigv4_req r = ex_req("GET", "/");
    qk_buf creq;
    (void)state;
    r.query = q;
    r.nquery = 1;
    r.headers = h;
    r.nheaders = 1;
    qk_buf_init(&creq, 1 << 16);
    assert_string_equal(signature_of(sign(&r, &ex_creds, &creq, NULL)),
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    assert_true(qk_str_startswith(qk_buf_cstr(&creq), "GET\n/\nlifecycle=\nhost:"));
    qk_buf_free(&creq);
}

static void test_list_objects_matches_aws_example(void **state)
{
    qk_sigv4_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* out of order on purpose */
    qk_sigv4_kv h[] = {{"x-amz-content-sha256", QK_SIGV4_EMPTY_SHA256}};
    qk_sigv4_req r = ex_req("GET", "/");
    qk_buf creq;
    (void)state;
    r.query = q;
    r.nquery = 2;
    r.headers = h;
    r.nheaders = 1;
    qk_buf_init(&creq, 1 << 16);
    assert_string_equal(signature_of(sign(&r, &ex_creds, &creq, NULL)),
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    assert_true(qk_str_startswith(qk_buf_cstr(&creq), "GET\n/\nmax-keys=2&prefix=J\n"));
    qk_buf_free(&creq);
}

static void test_presigned_get_matches_aws_example(void **state)
{
    qk_sigv4_req r = ex_req("GET", "/test.txt");
    qk_buf q;
    qk_err err = {0};
    (void)state;
    r.payload_hash = NULL; /* UNSIGNED-PAYLOAD */
    qk_buf_init(&q, 4096);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, 86400, &q, NULL, NULL, &err), 0);
    assert_string_equal(
        qk_buf_cstr(&q),
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    qk_buf_free(&q);
}

static void test_generic_suite_get_vanilla(void **state)
{
    qk_sigv4_creds cr = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL};
    qk_sigv4_req r;
    (void)state;
    memset(&r, 0, sizeof r);
    r.method = "GET";
    r.host = "example.amazonaws.com";
    r.path = "/";
    r.payload_hash = QK_SIGV4_EMPTY_SHA256;
    r.amz_date = "20150830T123600Z";
    r.region = "us-east-1";
    r.service = "service";
    assert_string_equal(
        sign(&r, &cr, NULL, NULL),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

/* ---- signing rules ---------------------------------------------------------------------- */

static void test_session_token_is_a_signed_header(void **state)
{
    qk_sigv4_creds cr = {AKID, SECRET, "FQoGZXIvYXdzEXAMPLETOKEN=="};
    qk_sigv4_req r = ex_req("GET", "/test.txt");
    qk_buf creq, sts;
    const char *auth;
    (void)state;
    qk_buf_init(&creq, 1 << 16);
    qk_buf_init(&sts, 1 << 16);
    auth = sign(&r, &cr, &creq, &sts);
    assert_non_null(strstr(auth, "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
    assert_non_null(
        strstr(qk_buf_cstr(&creq), "\nx-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN==\n"));
    assert_null(strstr(auth, "wJalr"));
    assert_null(strstr(qk_buf_cstr(&creq), "wJalr"));
    assert_null(strstr(qk_buf_cstr(&sts), "wJalr"));
    qk_buf_free(&creq);
    qk_buf_free(&sts);
}

static void test_presign_with_session_token_adds_security_token_param(void **state)
{
    qk_sigv4_creds cr = {AKID, SECRET, "tok/en+="};
    qk_sigv4_req r = ex_req("GET", "/test.txt");
    qk_buf q;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&q, 4096);
    assert_int_equal(qk_sigv4_presign(&r, &cr, 3600, &q, NULL, NULL, &err), 0);
    assert_non_null(strstr(qk_buf_cstr(&q),
                           "&X-Amz-Expires=3600&X-Amz-Security-Token=tok%2Fen%2B%3D"
                           "&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    qk_buf_free(&q);
}

static void test_headers_are_lowercased_trimmed_and_sorted(void **state)
{
    qk_sigv4_kv h[] = {{"X-Amz-Meta-B", "  two   spaces\t\tand tabs  "}, {"X-AMZ-META-A", ""}};
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_buf creq;
    const char *auth;
    (void)state;
    r.headers = h;
    r.nheaders = 2;
    qk_buf_init(&creq, 1 << 16);
    auth = sign(&r, &ex_creds, &creq, NULL);
    assert_non_null(strstr(auth, "SignedHeaders=host;x-amz-date;x-amz-meta-a;x-amz-meta-b,"));
    assert_non_null(
        strstr(qk_buf_cstr(&creq), "\nx-amz-meta-a:\nx-amz-meta-b:two spaces and tabs\n\n"));
    qk_buf_free(&creq);
}

static void test_query_pairs_are_encoded_then_sorted_by_name_then_value(void **state)
{
    qk_sigv4_kv q[] = {{"b", "2"}, {"a", "z"}, {"a", "a b+c=d&e"}, {"A", "/"}, {"list-type", "2"}};
    qk_sigv4_req r = ex_req("GET", "/");
    qk_buf creq;
    (void)state;
    r.query = q;
    r.nquery = 5;
    qk_buf_init(&creq, 1 << 16);
    sign(&r, &ex_creds, &creq, NULL);
    assert_true(qk_str_startswith(qk_buf_cstr(&creq),
                                  "GET\n/\nA=%2F&a=a%20b%2Bc%3Dd%26e&a=z&b=2&list-type=2\n"));
    qk_buf_free(&creq);
}

static void test_path_is_encoded_once_without_normalization(void **state)
{
    qk_sigv4_req r = ex_req("GET", "/bucket/my key/\xc3\xa9/\xf0\x9f\xa6\x86+=&?#%~//./a/");
    qk_buf creq;
    (void)state;
    qk_buf_init(&creq, 1 << 16);
    sign(&r, &ex_creds, &creq, NULL);
    assert_true(qk_str_startswith(
        qk_buf_cstr(&creq),
        "GET\n/bucket/my%20key/%C3%A9/%F0%9F%A6%86%2B%3D%26%3F%23%25~//./a/\n\n"));
    qk_buf_free(&creq);
}

static void test_empty_path_signs_as_slash(void **state)
{
    qk_sigv4_req a = ex_req("GET", ""), b = ex_req("GET", "/");
    char sa[200];
    (void)state;
    snprintf(sa, sizeof sa, "%s", sign(&a, &ex_creds, NULL, NULL));
    assert_string_equal(sa, sign(&b, &ex_creds, NULL, NULL));
}

/* ---- URI encoding ----------------------------------------------------------------------- */

static void assert_encodes(const char *in, bool encode_slash, const char *want)
{
    qk_buf b;
    qk_buf_init(&b, 1 << 16);
    assert_int_equal(qk_uri_encode(&b, in, strlen(in), encode_slash), 0);
    assert_string_equal(qk_buf_cstr(&b), want);
    qk_buf_free(&b);
}

static void test_uri_encode_keeps_only_unreserved_characters(void **state)
{
    (void)state;
    assert_encodes("AZaz09-_.~", true, "AZaz09-_.~");
    assert_encodes("a b", true, "a%20b");
    assert_encodes("+=&?#%", true, "%2B%3D%26%3F%23%25");
    assert_encodes("!*'();:@$,[]\"<>\\^`{|}", false,
                   "%21%2A%27%28%29%3B%3A%40%24%2C%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D");
    assert_encodes("", true, "");
}

static void test_uri_encode_utf8_bytewise_uppercase_hex(void **state)
{
    (void)state;
    assert_encodes("caf\xc3\xa9", true, "caf%C3%A9");
    assert_encodes("\xf0\x9f\xa6\x86", true, "%F0%9F%A6%86");
    assert_encodes("\x01\x7f\xff", true, "%01%7F%FF");
}

static void test_uri_encode_slash_kept_only_in_paths(void **state)
{
    (void)state;
    assert_encodes("a/b//c/", false, "a/b//c/");
    assert_encodes("a/b//c/", true, "a%2Fb%2F%2Fc%2F");
}

static void test_uri_encode_embedded_nul_is_encoded(void **state)
{
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 64);
    assert_int_equal(qk_uri_encode(&b, "a\0b", 3, true), 0);
    assert_string_equal(qk_buf_cstr(&b), "a%00b");
    qk_buf_free(&b);
}

static void test_uri_encode_over_max_leaves_buffer_unchanged(void **state)
{
    qk_buf b;
    (void)state;
    qk_buf_init(&b, 7);
    assert_int_equal(qk_buf_adds(&b, "ab"), 0);
    assert_int_equal(qk_uri_encode(&b, "  ", 2, true), QK_ETOOBIG);
    assert_string_equal(qk_buf_cstr(&b), "ab");
    assert_int_equal(qk_uri_encode(NULL, "x", 1, true), QK_EINVAL);
    assert_int_equal(qk_uri_encode(&b, NULL, 1, true), QK_EINVAL);
    qk_buf_free(&b);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void test_sha256_hex_known_values(void **state)
{
    char h[65];
    (void)state;
    assert_int_equal(qk_sha256_hex("", 0, h), 0);
    assert_string_equal(h, QK_SIGV4_EMPTY_SHA256);
    assert_int_equal(qk_sha256_hex(NULL, 0, h), 0);
    assert_string_equal(h, QK_SIGV4_EMPTY_SHA256);
    assert_int_equal(qk_sha256_hex("abc", 3, h), 0);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(qk_sha256_hex(NULL, 1, h), QK_EINVAL);
}

static void test_amz_date_formats_utc(void **state)
{
    char d[17], day[9];
    (void)state;
    assert_int_equal(qk_amz_date((time_t)1369353600, d), 0);
    assert_string_equal(d, EX_DATE);
    assert_int_equal(qk_amz_scope_date(d, day), 0);
    assert_string_equal(day, "20130524");
    assert_int_equal(qk_amz_scope_date("2013-05-24T00:00:00Z", day), QK_EINVAL);
    assert_int_equal(qk_amz_scope_date(NULL, day), QK_EINVAL);
}

/* ---- addressing ------------------------------------------------------------------------- */

static void assert_address(const char *endpoint, const char *bucket, const char *key,
                           qk_s3_style style, const char *want_url, const char *want_host,
                           const char *want_path)
{
    qk_buf url, host, path;
    qk_err err = {0};
    qk_buf_init(&url, 8192);
    qk_buf_init(&host, 512);
    qk_buf_init(&path, 8192);
    assert_int_equal(qk_s3_address(endpoint, bucket, key, style, &url, &host, &path, &err), 0);
    assert_string_equal(qk_buf_cstr(&url), want_url);
    assert_string_equal(qk_buf_cstr(&host), want_host);
    assert_string_equal(qk_buf_cstr(&path), want_path);
    qk_buf_free(&url);
    qk_buf_free(&host);
    qk_buf_free(&path);
}

static void test_address_path_style_keeps_port(void **state)
{
    (void)state;
    assert_address("http://127.0.0.1:7480", "bucket", "key", QK_S3_PATH_STYLE,
                   "http://127.0.0.1:7480/bucket/key", "127.0.0.1:7480", "/bucket/key");
    assert_address("http://localhost:7480/", "bucket", NULL, QK_S3_PATH_STYLE,
                   "http://localhost:7480/bucket", "localhost:7480", "/bucket");
    assert_address("http://[::1]:9000", "b", "k", QK_S3_PATH_STYLE, "http://[::1]:9000/b/k",
                   "[::1]:9000", "/b/k");
}

static void test_address_virtual_hosted(void **state)
{
    (void)state;
    assert_address("https://s3.us-east-1.amazonaws.com", "bucket", "key", QK_S3_VIRTUAL_HOSTED,
                   "https://bucket.s3.us-east-1.amazonaws.com/key",
                   "bucket.s3.us-east-1.amazonaws.com", "/key");
    assert_address("https://s3.amazonaws.com:443", "examplebucket", "", QK_S3_VIRTUAL_HOSTED,
                   "https://examplebucket.s3.amazonaws.com/", "examplebucket.s3.amazonaws.com",
                   "/");
}

static void test_address_awkward_keys_round_trip(void **state)
{
    (void)state;
    assert_address("http://127.0.0.1:7480", "b", "dir/my file+=&?#%~\xc3\xa9\xf0\x9f\xa6\x86",
                   QK_S3_PATH_STYLE,
                   "http://127.0.0.1:7480/b/dir/my%20file%2B%3D%26%3F%23%25~%C3%A9%F0%9F%A6%86",
                   "127.0.0.1:7480", "/b/dir/my file+=&?#%~\xc3\xa9\xf0\x9f\xa6\x86");
    assert_address("http://127.0.0.1", "b", "a//b/", QK_S3_PATH_STYLE, "http://127.0.0.1/b/a//b/",
                   "127.0.0.1", "/b/a//b/");
    assert_address("http://127.0.0.1:80", "b", "/lead", QK_S3_PATH_STYLE,
                   "http://127.0.0.1/b//lead", "127.0.0.1", "/b//lead");
}

static void test_address_refuses_bad_input(void **state)
{
    qk_buf url;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&url, 8192);
    assert_int_equal(qk_s3_address("ftp://h", "b", "k", QK_S3_PATH_STYLE, &url, NULL, NULL, &err),
                     QK_EINVAL);
    assert_int_equal(
        qk_s3_address("http://h/prefix", "b", "k", QK_S3_PATH_STYLE, &url, NULL, NULL, &err),
        QK_EINVAL);
    assert_int_equal(
        qk_s3_address("http://h:99999", "b", "k", QK_S3_PATH_STYLE, &url, NULL, NULL, &err),
        QK_EINVAL);
    assert_int_equal(
        qk_s3_address("http://h", "a/b", "k", QK_S3_PATH_STYLE, &url, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_s3_address("https://s3.amazonaws.com", "My_Bucket", "k",
                                   QK_S3_VIRTUAL_HOSTED, &url, NULL, NULL, &err),
                     QK_EINVAL);
    assert_int_equal(qk_s3_address("http://127.0.0.1:7480", "b", "k", QK_S3_VIRTUAL_HOSTED, &url,
                                   NULL, NULL, &err),
                     QK_EINVAL);
    assert_int_equal(qk_s3_address(NULL, "b", "k", QK_S3_PATH_STYLE, &url, NULL, NULL, &err),
                     QK_EINVAL);
    assert_int_equal(url.len, 0);
    qk_buf_free(&url);
}

static void test_default_path_style_for_ip_and_localhost(void **state)
{
    (void)state;
    assert_true(qk_s3_default_path_style("http://127.0.0.1:7480"));
    assert_true(qk_s3_default_path_style("http://10.0.0.12"));
    assert_true(qk_s3_default_path_style("http://localhost:9000/"));
    assert_true(qk_s3_default_path_style("http://LOCALHOST"));
    assert_true(qk_s3_default_path_style("http://[::1]:9000"));
    assert_false(qk_s3_default_path_style("https://s3.us-east-1.amazonaws.com"));
    assert_false(qk_s3_default_path_style("https://localhost.example.com"));
    assert_false(qk_s3_default_path_style("https://1.2.3.example"));
    assert_false(qk_s3_default_path_style("not a url"));
    assert_false(qk_s3_default_path_style(NULL));
}

/* ---- hostile input ---------------------------------------------------------------------- */

static void test_header_value_with_crlf_is_refused(void **state)
{
    qk_sigv4_kv h1[] = {{"x-amz-meta-a", "ok\r\nInjected: yes"}};
    qk_sigv4_kv h2[] = {{"x-amz-meta-a", "line\nbreak"}};
    qk_sigv4_kv h3[] = {{"bad name", "v"}};
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_err err = {0};
    (void)state;
    r.nheaders = 1;
    r.headers = h1;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r.headers = h2;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r.headers = h3;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
}

static void test_session_token_with_crlf_is_refused(void **state)
{
    qk_sigv4_creds cr = {AKID, SECRET, "tok\r\nen"};
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_err err = {0};
    (void)state;
    assert_int_equal(sign_rc(&r, &cr, &err), QK_EINVAL);
}

static void test_null_inputs_are_refused(void **state)
{
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_sigv4_creds no_secret = {AKID, NULL, NULL}, no_id = {NULL, SECRET, NULL};
    qk_buf b;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 4096);
    assert_int_equal(qk_sigv4_sign(NULL, &ex_creds, &b, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_sign(&r, NULL, &b, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_sign(&r, &ex_creds, NULL, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_sign(&r, &no_secret, &b, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_sign(&r, &no_id, &b, NULL, NULL, &err), QK_EINVAL);
    r.host = NULL;
    assert_int_equal(qk_sigv4_sign(&r, &ex_creds, &b, NULL, NULL, &err), QK_EINVAL);
    r = ex_req("GET", "/k");
    r.nheaders = 1; /* headers NULL */
    assert_int_equal(qk_sigv4_sign(&r, &ex_creds, &b, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, 60, NULL, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(b.len, 0);
    qk_buf_free(&b);
}

static void test_malformed_fields_are_refused(void **state)
{
    qk_sigv4_kv dup[] = {{"X-A", "1"}, {"x-a", "2"}};
    qk_sigv4_kv reserved[] = {{"Host", "evil.example.com"}};
    qk_sigv4_req r;
    qk_err err = {0};
    (void)state;
    r = ex_req("GET", "/k");
    r.amz_date = "2013-05-24";
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r = ex_req("get", "/k");
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r = ex_req("GET", "k-without-slash");
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r = ex_req("GET", "/k");
    r.host = "evil.com\r\nX: y";
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r = ex_req("GET", "/k");
    r.region = "us east";
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r = ex_req("GET", "/k");
    r.headers = dup;
    r.nheaders = 2;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
    r.headers = reserved;
    r.nheaders = 1;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_EINVAL);
}

static void test_oversized_inputs_give_toobig(void **state)
{
    static char big[QK_SIGV4_MAX_VALUE + 2];
    static qk_sigv4_kv many[QK_SIGV4_MAX_HEADERS + 1];
    qk_sigv4_kv h[1];
    qk_sigv4_creds cr = {AKID, big, NULL};
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_err err = {0};
    size_t i;
    (void)state;
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    r.path = big; /* longer than QK_SIGV4_MAX_PATH */
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_ETOOBIG);
    r = ex_req("GET", "/k");
    h[0] = (qk_sigv4_kv){"x-amz-meta-big", big};
    r.headers = h;
    r.nheaders = 1;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_ETOOBIG);
    r = ex_req("GET", "/k");
    for (i = 0; i < QK_SIGV4_MAX_HEADERS + 1; i++)
        many[i] = (qk_sigv4_kv){"x-a", "1"};
    r.headers = many;
    r.nheaders = QK_SIGV4_MAX_HEADERS + 1;
    assert_int_equal(sign_rc(&r, &ex_creds, &err), QK_ETOOBIG);
    r = ex_req("GET", "/k");
    assert_int_equal(sign_rc(&r, &cr, &err), QK_ETOOBIG); /* secret */
    assert_null(strstr(err.msg, "aaaa"));
}

static void test_small_output_buffer_gives_toobig(void **state)
{
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_buf b;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&b, 50);
    assert_int_equal(qk_sigv4_sign(&r, &ex_creds, &b, NULL, NULL, &err), QK_ETOOBIG);
    qk_buf_free(&b);
}

static void test_presign_expiry_limits(void **state)
{
    qk_sigv4_req r = ex_req("GET", "/test.txt");
    qk_buf q;
    qk_err err = {0};
    (void)state;
    qk_buf_init(&q, 4096);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, 0, &q, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, -5, &q, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, 604801, &q, NULL, NULL, &err), QK_EINVAL);
    assert_int_equal(q.len, 0);
    assert_int_equal(qk_sigv4_presign(&r, &ex_creds, 604800, &q, NULL, NULL, &err), 0);
    assert_non_null(strstr(qk_buf_cstr(&q), "X-Amz-Expires=604800&"));
    qk_buf_free(&q);
}

static void test_error_messages_never_quote_the_secret(void **state)
{
    qk_sigv4_creds cr = {AKID, SECRET, "bad token"};
    qk_sigv4_req r = ex_req("GET", "/k");
    qk_err err = {0};
    (void)state;
    assert_int_equal(sign_rc(&r, &cr, &err), QK_EINVAL);
    assert_true(err.msg[0] != '\0');
    assert_null(strstr(err.msg, SECRET));
    assert_null(strstr(err.msg, "bad token"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_object_with_range_matches_aws_example),
        cmocka_unit_test(test_put_object_matches_aws_example),
        cmocka_unit_test(test_get_bucket_lifecycle_matches_aws_example),
        cmocka_unit_test(test_list_objects_matches_aws_example),
        cmocka_unit_test(test_presigned_get_matches_aws_example),
        cmocka_unit_test(test_generic_suite_get_vanilla),
        cmocka_unit_test(test_session_token_is_a_signed_header),
        cmocka_unit_test(test_presign_with_session_token_adds_security_token_param),
        cmocka_unit_test(test_headers_are_lowercased_trimmed_and_sorted),
        cmocka_unit_test(test_query_pairs_are_encoded_then_sorted_by_name_then_value),
        cmocka_unit_test(test_path_is_encoded_once_without_normalization),
        cmocka_unit_test(test_empty_path_signs_as_slash),
        cmocka_unit_test(test_uri_encode_keeps_only_unreserved_characters),
        cmocka_unit_test(test_uri_encode_utf8_bytewise_uppercase_hex),
        cmocka_unit_test(test_uri_encode_slash_kept_only_in_paths),
        cmocka_unit_test(test_uri_encode_embedded_nul_is_encoded),
        cmocka_unit_test(test_uri_encode_over_max_leaves_buffer_unchanged),
        cmocka_unit_test(test_sha256_hex_known_values),
        cmocka_unit_test(test_amz_date_formats_utc),
        cmocka_unit_test(test_address_path_style_keeps_port),
        cmocka_unit_test(test_address_virtual_hosted),
        cmocka_unit_test(test_address_awkward_keys_round_trip),
        cmocka_unit_test(test_address_refuses_bad_input),
        cmocka_unit_test(test_default_path_style_for_ip_and_localhost),
        cmocka_unit_test(test_header_value_with_crlf_is_refused),
        cmocka_unit_test(test_session_token_with_crlf_is_refused),
        cmocka_unit_test(test_null_inputs_are_refused),
        cmocka_unit_test(test_malformed_fields_are_refused),
        cmocka_unit_test(test_oversized_inputs_give_toobig),
        cmocka_unit_test(test_small_output_buffer_gives_toobig),
        cmocka_unit_test(test_presign_expiry_limits),
        cmocka_unit_test(test_error_messages_never_quote_the_secret),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
