/* SPDX-License-Identifier: MIT */
/*
 * s3_xml.c: S3's XML response bodies, parsed with libxml2 (see s3_int.h).
 *
 * Safety rules for untrusted bodies: at most QK_S3_XML_MAX bytes; options XML_PARSE_NONET |
 * XML_PARSE_NOERROR | XML_PARSE_NOWARNING only (no XML_PARSE_NOENT, no XML_PARSE_DTDLOAD, no
 * XML_PARSE_HUGE, so libxml2's depth and size limits apply); a document with a DOCTYPE is refused
 * outright, so no entity other than the five predefined ones and character references can
 * appear; text is read from text and CDATA children only (entity references are never followed).
 * Element names are compared without namespace.
 *
 * Shapes read (AWS S3 API reference):
 *   <ListBucketResult><IsTruncated/><NextContinuationToken/>
 *     <Contents><Key/><LastModified/><ETag/><Size/></Contents>*
 *     <CommonPrefixes><Prefix/></CommonPrefixes>*</ListBucketResult>
 *   <Error><Code/><Message/>...</Error>
 *   <InitiateMultipartUploadResult><UploadId/></InitiateMultipartUploadResult>
 *   <DeleteResult><Deleted/>*<Error><Key/><Code/><Message/></Error>*</DeleteResult>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "store/s3_int.h"

/* ---- document and node helpers ----------------------------------------------------------- */

/* Parse body, refusing oversize input and DOCTYPEs. NULL on any failure. */
static xmlDocPtr doc_read(const char *body, size_t len)
{
    xmlDocPtr doc;
    if (!body || len == 0 || len > QK_S3_XML_MAX) return NULL;
    doc = xmlReadMemory(body, (int)len, "s3.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) return NULL;
    if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static bool is_elem(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first child element named name, or NULL. */
static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (is_elem(c, name)) return c;
    return NULL;
}

/* The text of n (text and CDATA children only) into a new qk_buf-owned string; NULL if n is
 * NULL or out of memory. Caller frees. Never follows entity references. */
static char *text_of(xmlNodePtr n, size_t max)
{
    qk_buf b;
    char *s;
    if (!n) return NULL;
    qk_buf_init(&b, max);
    if (qk_buf_adds(&b, "")) return NULL;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content &&
            qk_buf_adds(&b, (const char *)c->content)) {
            qk_buf_free(&b);
            return NULL;
        }
    }
    s = qk_buf_detach(&b, NULL);
    return s;
}

/* Copy the text of child `name` of n into dst (cut to fit). */
static void text_into(xmlNodePtr n, const char *name, char *dst, size_t cap)
{
    char *t = text_of(child(n, name), 1u << 16);
    dst[0] = '\0';
    if (t) qk_strlcpy(dst, t, cap);
    free(t);
}

/* ---- Error ------------------------------------------------------------------------------- */

static void error_fill(xmlNodePtr e, qk_s3_xml_error *out)
{
    text_into(e, "Code", out->code, sizeof out->code);
    text_into(e, "Message", out->message, sizeof out->message);
    text_into(e, "Key", out->key, sizeof out->key);
}

int qk_s3_xml_parse_error(const char *body, size_t len, qk_s3_xml_error *out)
{
    xmlDocPtr doc = doc_read(body, len);
    xmlNodePtr root;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!doc) return QK_EPARSE;
    root = xmlDocGetRootElement(doc);
    if (is_elem(root, "Error"))
        error_fill(root, out);
    else
        rc = QK_ENOTFOUND;
    xmlFreeDoc(doc);
    return rc;
}

/* ---- time -------------------------------------------------------------------------------- */

int64_t qk_s3_parse_iso_time(const char *s)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0, ms = 0;
    time_t t;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return -1;
    s += n;
    if (*s == '.') {
        int digits = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (digits < 3) ms = ms * 10 + (*s - '0');
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(s, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    if ((t = timegm(&tm)) == (time_t)-1) return -1;
    return (int64_t)t * 1000 + ms;
}

/* ---- ListObjectsV2 ----------------------------------------------------------------------- */

static int list_err(qk_err *err, const char *what)
{
    return qk_errf(err, QK_EPARSE, "S3 list: malformed ListBucketResult: %s", what);
}

/* Strip the root prefix from t: NULL when t does not start with it. */
static const char *strip_prefix(const char *t, const char *strip)
{
    size_t n = strlen(strip);
    return strncmp(t, strip, n) == 0 ? t + n : NULL;
}

static int list_obj(xmlNodePtr c, const char *strip, qk_list_page *page, qk_err *err)
{
    qk_obj_info *o = &page->objs[page->n];
    char *key = text_of(child(c, "Key"), QK_STORE_KEY_MAX + 1);
    char *size = text_of(child(c, "Size"), 32);
    char *lm = text_of(child(c, "LastModified"), 64);
    const char *rel;
    int64_t sz;
    qk_err ignored = {0};
    int rc = 0;
    if (!key || !size || !(rel = strip_prefix(key, strip)) || !*rel) {
        rc = list_err(err, "Contents without a Key under the root, or without a Size");
        goto out;
    }
    if (qk_parse_int64(size, 0, INT64_MAX, &sz, "Size", &ignored)) {
        rc = list_err(err, "bad Size");
        goto out;
    }
    if (!(o->key = qk_list_page_strdup(page, rel, strlen(rel)))) {
        rc = qk_errf(err, QK_ENOMEM, "S3 list: out of memory");
        goto out;
    }
    o->size = (uint64_t)sz;
    o->mtime_ms = lm ? qk_s3_parse_iso_time(lm) : -1;
    if (o->mtime_ms < 0) o->mtime_ms = 0;
    text_into(c, "ETag", o->etag, sizeof o->etag);
    page->n++;
out:
    free(key);
    free(size);
    free(lm);
    return rc;
}

static int list_prefix(xmlNodePtr c, const char *strip, qk_list_page *page, qk_err *err)
{
    char *p = text_of(child(c, "Prefix"), QK_STORE_KEY_MAX + 1);
    const char *rel = p ? strip_prefix(p, strip) : NULL;
    int rc = 0;
    if (!rel || !*rel)
        rc = list_err(err, "CommonPrefixes without a Prefix under the root");
    else if (!(page->common_prefixes[page->nprefixes++] =
                   qk_list_page_strdup(page, rel, strlen(rel))))
        rc = qk_errf(err, QK_ENOMEM, "S3 list: out of memory");
    free(p);
    return rc;
}

static int list_alloc(xmlNodePtr root, qk_list_page *page, qk_err *err)
{
    size_t nobj = 0, npre = 0;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        nobj += is_elem(c, "Contents");
        npre += is_elem(c, "CommonPrefixes");
    }
    if (nobj + npre > 100000) return list_err(err, "too many entries");
    page->objs = qk_arena_alloc(&page->arena, (nobj + 1) * sizeof *page->objs);
    page->common_prefixes = qk_arena_alloc(&page->arena, (npre + 1) * sizeof(char *));
    if (!page->objs || !page->common_prefixes)
        return qk_errf(err, QK_ENOMEM, "S3 list: out of memory");
    memset(page->objs, 0, (nobj + 1) * sizeof *page->objs);
    return 0;
}

static int list_token(xmlNodePtr root, qk_list_page *page, qk_err *err)
{
    char *trunc = text_of(child(root, "IsTruncated"), 16);
    char *tok = NULL;
    int rc = 0;
    if (trunc && strcmp(trunc, "true") == 0) {
        tok = text_of(child(root, "NextContinuationToken"), 4 * QK_STORE_KEY_MAX);
        if (!tok || !*tok)
            rc = list_err(err, "IsTruncated without NextContinuationToken");
        else if (!(page->next_token = qk_list_page_strdup(page, tok, strlen(tok))))
            rc = qk_errf(err, QK_ENOMEM, "S3 list: out of memory");
    }
    free(trunc);
    free(tok);
    return rc;
}

int qk_s3_xml_parse_list(const char *body, size_t len, const char *strip, qk_list_page *page,
                         qk_err *err)
{
    xmlDocPtr doc = doc_read(body, len);
    xmlNodePtr root;
    int rc = 0;
    if (!doc) return list_err(err, len > QK_S3_XML_MAX ? "body too large" : "not XML");
    root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "ListBucketResult")) {
        rc = list_err(err, "unexpected root element");
        goto out;
    }
    if ((rc = list_alloc(root, page, err))) goto out;
    for (xmlNodePtr c = root->children; c && !rc; c = c->next) {
        if (is_elem(c, "Contents"))
            rc = list_obj(c, strip ? strip : "", page, err);
        else if (is_elem(c, "CommonPrefixes"))
            rc = list_prefix(c, strip ? strip : "", page, err);
    }
    if (!rc) rc = list_token(root, page, err);
out:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- multipart and delete ---------------------------------------------------------------- */

int qk_s3_xml_parse_upload_id(const char *body, size_t len, char **upload_id, qk_err *err)
{
    xmlDocPtr doc = doc_read(body, len);
    xmlNodePtr root;
    *upload_id = NULL;
    if (!doc) return qk_errf(err, QK_EPARSE, "S3 multipart: malformed initiate response");
    root = xmlDocGetRootElement(doc);
    if (is_elem(root, "InitiateMultipartUploadResult"))
        *upload_id = text_of(child(root, "UploadId"), 4096);
    xmlFreeDoc(doc);
    if (!*upload_id || !**upload_id) {
        free(*upload_id);
        *upload_id = NULL;
        return qk_errf(err, QK_EPARSE, "S3 multipart: initiate response without an UploadId");
    }
    return 0;
}

int qk_s3_xml_parse_delete_result(const char *body, size_t len, qk_s3_xml_error *first,
                                  size_t *nerrors, qk_err *err)
{
    xmlDocPtr doc = doc_read(body, len);
    xmlNodePtr root;
    *nerrors = 0;
    memset(first, 0, sizeof *first);
    if (!doc) return qk_errf(err, QK_EPARSE, "S3 delete: malformed DeleteResult");
    root = xmlDocGetRootElement(doc);
    if (!is_elem(root, "DeleteResult")) {
        xmlFreeDoc(doc);
        return qk_errf(err, QK_EPARSE, "S3 delete: unexpected root element");
    }
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (!is_elem(c, "Error")) continue;
        if ((*nerrors)++ == 0) error_fill(c, first);
    }
    xmlFreeDoc(doc);
    return *nerrors ? QK_EIO : 0;
}

int qk_s3_xml_escape(qk_buf *xml, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            rc = qk_buf_adds(xml, "&amp;");
            break;
        case '<':
            rc = qk_buf_adds(xml, "&lt;");
            break;
        case '>':
            rc = qk_buf_adds(xml, "&gt;");
            break;
        case '"':
            rc = qk_buf_adds(xml, "&quot;");
            break;
        case '\'':
            rc = qk_buf_adds(xml, "&apos;");
            break;
        default:
            rc = c < 0x20 ? qk_buf_printf(xml, "&#x%X;", c) : qk_buf_addc(xml, (char)c);
        }
    }
    return rc;
}
