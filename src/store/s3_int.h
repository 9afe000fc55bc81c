/* SPDX-License-Identifier: MIT */
/*
 * s3_int.h: private to the S3 backend (s3.c, s3_xml.c) and its tests.
 *
 * s3_xml.c turns S3's XML response bodies into C: ListObjectsV2 results, <Error> bodies,
 * InitiateMultipartUpload results and DeleteObjects results. Bodies are untrusted: the parser
 * refuses bodies over QK_S3_XML_MAX, documents with a DOCTYPE (no entity expansion, no DTD
 * loading, no network: libxml2 runs with XML_PARSE_NONET and without XML_PARSE_NOENT /
 * XML_PARSE_DTDLOAD) and anything malformed or truncated (QK_EPARSE). Element names are matched
 * without their namespace, as S3 answers with and without xmlns.
 *
 * s3.c exposes qk_s3_presign_get for tools and tests (presigned GET URLs).
 */
#ifndef QK_STORE_S3_INT_H
#define QK_STORE_S3_INT_H

#include "store/store_int.h"

#define QK_S3_XML_MAX (16u << 20) /* a 1000-key listing with 1 KiB keys is about 1.5 MiB */
#define QK_S3_CODE_MAX 64
#define QK_S3_MESSAGE_MAX 160

/* S3's <Error><Code/><Message/></Error>. */
typedef struct qk_s3_xml_error {
    char code[QK_S3_CODE_MAX];       /* "" when absent */
    char message[QK_S3_MESSAGE_MAX]; /* "" when absent; cut to fit */
    char key[QK_STORE_KEY_MAX + 1];  /* DeleteResult errors name the key; else "" */
} qk_s3_xml_error;

/* Parse an <Error> body. 0 with *out filled when the root element is Error; QK_ENOTFOUND when
 * the body is well-formed XML with another root (a 200 answer); QK_EPARSE for anything else
 * (empty, not XML, a DOCTYPE, over QK_S3_XML_MAX). */
int qk_s3_xml_parse_error(const char *body, size_t len, qk_s3_xml_error *out);

/* Parse a ListBucketResult into page (entries allocated from page->arena). Every Key and
 * CommonPrefixes/Prefix must start with strip (the store's root prefix), which is removed.
 * page->next_token is NextContinuationToken when IsTruncated is true, else NULL. Objects and
 * prefixes keep S3's order. QK_EPARSE with a message in err on a malformed body; QK_ENOMEM. */
int qk_s3_xml_parse_list(const char *body, size_t len, const char *strip, qk_list_page *page,
                         qk_err *err);

/* The UploadId of an InitiateMultipartUploadResult (caller frees *upload_id). */
int qk_s3_xml_parse_upload_id(const char *body, size_t len, char **upload_id, qk_err *err);

/* A DeleteResult: 0 when it holds no <Error>; else QK_EIO with the first error in *first
 * (and its count in *nerrors). QK_EPARSE for a malformed body. */
int qk_s3_xml_parse_delete_result(const char *body, size_t len, qk_s3_xml_error *first,
                                  size_t *nerrors, qk_err *err);

/* Parse S3's ISO-8601 time ("2026-11-21T14:31:43.000Z") into ms since 1970; -1 if malformed. */
int64_t qk_s3_parse_iso_time(const char *s);

/* Append to xml the text s escaped for XML character data (& < > " ' and control bytes). */
int qk_s3_xml_escape(qk_buf *xml, const char *s);

/* A presigned GET URL for key (relative to the store's root prefix) valid for expires_s
 * seconds (1..604800). *url is the caller's (free()). QK_EINVAL for a non-S3 store. */
int qk_s3_presign_get(qk_store *s, const char *key, int64_t expires_s, char **url, qk_err *err);

#endif
