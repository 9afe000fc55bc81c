/* SPDX-License-Identifier: MIT */
/*
 * test_store_s3_xml.c: parsing S3's XML bodies (src/store/s3_xml.c): ListObjectsV2 results,
 * <Error>, InitiateMultipartUpload and DeleteObjects results, and refusing what a hostile or
 * broken server could send: malformed and truncated XML, oversized bodies, DOCTYPEs with
 * entities (billion laughs, external files), deep nesting; plus ISO-8601 times and escaping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/s3_int.h"

#define LEN(s) (sizeof(s) - 1)

static const char LIST_BODY[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>b</Name><Prefix>root/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
    "<IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>"
    "<Contents><Key>root/a &amp; b.txt</Key><LastModified>2026-11-21T14:31:43.250Z</LastModified>"
    "<ETag>&quot;abc&quot;</ETag><Size>42</Size><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>root/\xc3\xa9 \xf0\x9f\xa6\x86</Key>"
    "<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"d-2\"</ETag><Size>0</Size>"
    "</Contents>"
    "<CommonPrefixes><Prefix>root/dir/</Prefix></CommonPrefixes>"
    "</ListBucketResult>";

static qk_list_page new_page(void)
{
    qk_list_page p;
    memset(&p, 0, sizeof p);
    qk_arena_init(&p.arena, 1u << 24);
    return p;
}

static void test_list_parses_contents_prefixes_and_token(void **state)
{
    qk_list_page p = new_page();
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_list(LIST_BODY, LEN(LIST_BODY), "root/", &p, &err), 0);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.objs[0].key, "a & b.txt");
    assert_int_equal(p.objs[0].size, 42);
    assert_string_equal(p.objs[0].etag, "\"abc\"");
    assert_int_equal(p.objs[0].mtime_ms, 1795271503250LL);
    assert_string_equal(p.objs[1].key, "\xc3\xa9 \xf0\x9f\xa6\x86");
    assert_int_equal(p.objs[1].size, 0);
    assert_int_equal(p.nprefixes, 1);
    assert_string_equal(p.common_prefixes[0], "dir/");
    assert_string_equal(p.next_token, "tok+/=");
    qk_list_page_free(&p);
}

static void test_list_not_truncated_has_no_token(void **state)
{
    static const char body[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
                               "<NextContinuationToken>x</NextContinuationToken>"
                               "</ListBucketResult>";
    qk_list_page p = new_page();
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_list(body, LEN(body), "", &p, &err), 0);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.nprefixes, 0);
    assert_null(p.next_token);
    qk_list_page_free(&p);
}

static void test_list_refuses_keys_outside_the_root(void **state)
{
    qk_list_page p = new_page();
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_list(LIST_BODY, LEN(LIST_BODY), "other/", &p, &err),
                     QK_EPARSE);
    assert_non_null(strstr(err.msg, "malformed"));
    qk_list_page_free(&p);
}

static void test_list_refuses_bad_size_and_missing_token(void **state)
{
    static const char bad_size[] =
        "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>";
    static const char no_tok[] = "<ListBucketResult><IsTruncated>true</IsTruncated>"
                                 "</ListBucketResult>";
    static const char wrong_root[] = "<Other/>";
    qk_list_page p = new_page();
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_list(bad_size, LEN(bad_size), "", &p, &err), QK_EPARSE);
    qk_list_page_free(&p);
    p = new_page();
    assert_int_equal(qk_s3_xml_parse_list(no_tok, LEN(no_tok), "", &p, &err), QK_EPARSE);
    qk_list_page_free(&p);
    p = new_page();
    assert_int_equal(qk_s3_xml_parse_list(wrong_root, LEN(wrong_root), "", &p, &err), QK_EPARSE);
    qk_list_page_free(&p);
}

static void test_truncated_and_malformed_bodies_are_parse_errors(void **state)
{
    qk_list_page p;
    qk_err err = {0};
    qk_s3_xml_error xe;
    static const char *const bad[] = {"",
                                      "not xml",
                                      "<ListBucketResult>",
                                      "<a><b></a></b>",
                                      "\xff\xfe<x/>",
                                      "<Error><Code>X</Code>"};
    (void)state;
    for (size_t cut = 1; cut < LEN(LIST_BODY) - 1; cut += 37) {
        p = new_page();
        assert_int_equal(qk_s3_xml_parse_list(LIST_BODY, cut, "root/", &p, &err), QK_EPARSE);
        qk_list_page_free(&p);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = new_page();
        assert_int_equal(qk_s3_xml_parse_list(bad[i], strlen(bad[i]), "", &p, &err), QK_EPARSE);
        qk_list_page_free(&p);
        assert_int_equal(qk_s3_xml_parse_error(bad[i], strlen(bad[i]), &xe), QK_EPARSE);
    }
    assert_int_equal(qk_s3_xml_parse_error(NULL, 0, &xe), QK_EPARSE);
}

static void test_oversized_body_is_refused_before_parsing(void **state)
{
    size_t n = QK_S3_XML_MAX + 1;
    char *big = malloc(n);
    qk_list_page p = new_page();
    qk_err err = {0};
    qk_s3_xml_error xe;
    (void)state;
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "<Error><Code>X</Code>", 21);
    memcpy(big + n - 8, "</Error>", 8);
    assert_int_equal(qk_s3_xml_parse_error(big, n, &xe), QK_EPARSE);
    assert_int_equal(qk_s3_xml_parse_list(big, n, "", &p, &err), QK_EPARSE);
    assert_non_null(strstr(err.msg, "too large"));
    qk_list_page_free(&p);
    free(big);
}

static void test_doctype_and_entities_are_refused(void **state)
{
    static const char laughs[] =
        "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY a \"aaaaaaaaaa\">"
        "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">"
        "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>"
        "<Error><Code>&d;</Code><Message>&d;</Message></Error>";
    static const char xxe[] = "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x SYSTEM "
                              "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
    static const char ext[] = "<!DOCTYPE Error SYSTEM \"http://127.0.0.1:1/x.dtd\">"
                              "<Error><Code>X</Code></Error>";
    qk_s3_xml_error xe;
    qk_list_page p = new_page();
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_error(laughs, LEN(laughs), &xe), QK_EPARSE);
    assert_int_equal(qk_s3_xml_parse_error(xxe, LEN(xxe), &xe), QK_EPARSE);
    assert_int_equal(qk_s3_xml_parse_error(ext, LEN(ext), &xe), QK_EPARSE);
    assert_string_equal(xe.code, "");
    assert_int_equal(qk_s3_xml_parse_list(xxe, LEN(xxe), "", &p, &err), QK_EPARSE);
    qk_list_page_free(&p);
}

static void test_deep_nesting_is_refused(void **state)
{
    qk_buf b;
    qk_s3_xml_error xe;
    (void)state;
    qk_buf_init(&b, 1u << 20);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(qk_buf_adds(&b, "<a>"), 0);
    assert_int_equal(qk_s3_xml_parse_error(b.data, b.len, &xe), QK_EPARSE);
    qk_buf_free(&b);
}

static void test_error_body_gives_code_and_message(void **state)
{
    static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"
                               "<Code>SignatureDoesNotMatch</Code><Message>The request "
                               "signature we calculated does not match</Message>"
                               "<RequestId>1</RequestId></Error>";
    static const char rgw[] = "<Error><Code>NoSuchBucket</Code><BucketName>x</BucketName>"
                              "</Error>";
    static const char ok[] = "<CopyObjectResult><ETag>\"x\"</ETag></CopyObjectResult>";
    qk_s3_xml_error xe;
    (void)state;
    assert_int_equal(qk_s3_xml_parse_error(body, LEN(body), &xe), 0);
    assert_string_equal(xe.code, "SignatureDoesNotMatch");
    assert_string_equal(xe.message, "The request signature we calculated does not match");
    assert_int_equal(qk_s3_xml_parse_error(rgw, LEN(rgw), &xe), 0);
    assert_string_equal(xe.code, "NoSuchBucket");
    assert_string_equal(xe.message, "");
    assert_int_equal(qk_s3_xml_parse_error(ok, LEN(ok), &xe), QK_ENOTFOUND);
}

static void test_long_error_message_is_cut_not_overflowed(void **state)
{
    qk_buf b;
    qk_s3_xml_error xe;
    (void)state;
    qk_buf_init(&b, 1u << 20);
    qk_buf_adds(&b, "<Error><Code>");
    for (int i = 0; i < 1000; i++)
        qk_buf_adds(&b, "C");
    qk_buf_adds(&b, "</Code><Message>");
    for (int i = 0; i < 10000; i++)
        qk_buf_adds(&b, "m");
    qk_buf_adds(&b, "</Message></Error>");
    assert_int_equal(qk_s3_xml_parse_error(b.data, b.len, &xe), 0);
    assert_int_equal(strlen(xe.code), QK_S3_CODE_MAX - 1);
    assert_int_equal(strlen(xe.message), QK_S3_MESSAGE_MAX - 1);
    qk_buf_free(&b);
}

static void test_initiate_multipart_gives_upload_id(void **state)
{
    static const char body[] = "<InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket>"
                               "<Key>k</Key><UploadId>2~abc_DEF</UploadId>"
                               "</InitiateMultipartUploadResult>";
    static const char none[] = "<InitiateMultipartUploadResult><UploadId/>"
                               "</InitiateMultipartUploadResult>";
    char *id = NULL;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_upload_id(body, LEN(body), &id, &err), 0);
    assert_string_equal(id, "2~abc_DEF");
    free(id);
    assert_int_equal(qk_s3_xml_parse_upload_id(none, LEN(none), &id, &err), QK_EPARSE);
    assert_null(id);
    assert_int_equal(qk_s3_xml_parse_upload_id("<Error/>", 8, &id, &err), QK_EPARSE);
    assert_int_equal(qk_s3_xml_parse_upload_id(body, 30, &id, &err), QK_EPARSE);
}

static void test_delete_result_reports_first_error(void **state)
{
    static const char ok[] = "<DeleteResult><Deleted><Key>a</Key></Deleted></DeleteResult>";
    static const char quiet[] = "<DeleteResult/>";
    static const char bad[] = "<DeleteResult><Deleted><Key>a</Key></Deleted>"
                              "<Error><Key>b c</Key><Code>AccessDenied</Code>"
                              "<Message>Access Denied</Message></Error>"
                              "<Error><Key>d</Key><Code>InternalError</Code></Error>"
                              "</DeleteResult>";
    qk_s3_xml_error first;
    size_t n = 9;
    qk_err err = {0};
    (void)state;
    assert_int_equal(qk_s3_xml_parse_delete_result(ok, LEN(ok), &first, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(qk_s3_xml_parse_delete_result(quiet, LEN(quiet), &first, &n, &err), 0);
    assert_int_equal(qk_s3_xml_parse_delete_result(bad, LEN(bad), &first, &n, &err), QK_EIO);
    assert_int_equal(n, 2);
    assert_string_equal(first.key, "b c");
    assert_string_equal(first.code, "AccessDenied");
    assert_string_equal(first.message, "Access Denied");
    assert_int_equal(qk_s3_xml_parse_delete_result("<Error/>", 8, &first, &n, &err), QK_EPARSE);
    assert_int_equal(qk_s3_xml_parse_delete_result(bad, 40, &first, &n, &err), QK_EPARSE);
}

static void test_iso_time(void **state)
{
    (void)state;
    assert_int_equal(qk_s3_parse_iso_time("1970-01-01T00:00:01.5Z"), 1500);
    assert_int_equal(qk_s3_parse_iso_time("2026-11-21T14:31:43Z"), 1795271503000LL);
    assert_int_equal(qk_s3_parse_iso_time("2026-11-21T14:31:43.123456Z"), 1795271503123LL);
    assert_int_equal(qk_s3_parse_iso_time("2026-11-21 14:31:43Z"), -1);
    assert_int_equal(qk_s3_parse_iso_time("2026-13-21T14:31:43Z"), -1);
    assert_int_equal(qk_s3_parse_iso_time("2026-11-21T14:31:43+01:00"), -1);
    assert_int_equal(qk_s3_parse_iso_time(""), -1);
    assert_int_equal(qk_s3_parse_iso_time(NULL), -1);
}

static void test_escape_makes_keys_safe_in_xml(void **state)
{
    qk_buf b;
    qk_s3_xml_error xe;
    (void)state;
    qk_buf_init(&b, 4096);
    assert_int_equal(qk_buf_adds(&b, "<Error><Code>"), 0);
    assert_int_equal(qk_s3_xml_escape(&b, "a&b<c>\"d'e \xc3\xa9"), 0);
    assert_int_equal(qk_buf_adds(&b, "</Code></Error>"), 0);
    assert_non_null(strstr(b.data, "a&amp;b&lt;c&gt;&quot;d&apos;e"));
    assert_int_equal(qk_s3_xml_parse_error(b.data, b.len, &xe), 0);
    assert_string_equal(xe.code, "a&b<c>\"d'e \xc3\xa9");
    qk_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parses_contents_prefixes_and_token),
        cmocka_unit_test(test_list_not_truncated_has_no_token),
        cmocka_unit_test(test_list_refuses_keys_outside_the_root),
        cmocka_unit_test(test_list_refuses_bad_size_and_missing_token),
        cmocka_unit_test(test_truncated_and_malformed_bodies_are_parse_errors),
        cmocka_unit_test(test_oversized_body_is_refused_before_parsing),
        cmocka_unit_test(test_doctype_and_entities_are_refused),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_error_body_gives_code_and_message),
        cmocka_unit_test(test_long_error_message_is_cut_not_overflowed),
        cmocka_unit_test(test_initiate_multipart_gives_upload_id),
        cmocka_unit_test(test_delete_result_reports_first_error),
        cmocka_unit_test(test_iso_time),
        cmocka_unit_test(test_escape_makes_keys_safe_in_xml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
