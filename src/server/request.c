/* SPDX-License-Identifier: MIT */
/*
 * request.c: request bodies of POST /query (POST /invoke: lake/invoke.c, shared with the Lambda
 * runtime), parsed with jansson and checked field by field. Rules (docs/http-api.md):
 *   - the body is one JSON object (no trailing data, no \u0000 in strings, nesting bounded by
 *     jansson's depth limit); unknown fields are ignored; duplicate keys: the last one wins
 *   - /invoke: "q" string or null/absent (absent: answered with no records), "limit" integer
 *     0..max_limit or null/absent (20)
 *   - /query: "sql" string (required), "limit" integer 0..max_limit (100), "format" one of
 *     json|ndjson|csv|table, "width" integer 20..1000 (120)
 * Every failure is QK_EINVAL with errorType "BadRequest" and a message naming the field.
 * Also: choosing a format from an Accept header.
 */
#include "server/server_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BAD(err, ...) qk_errtf(err, QK_EINVAL, "BadRequest", __VA_ARGS__)

static int get_format(json_t *o, qk_query_req *out, qk_err *err)
{
    json_t *v = json_object_get(o, "format");
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v) || qk_format_parse(json_string_value(v), &out->format, NULL) != 0)
        return BAD(err, "\"format\" must be one of \"json\", \"ndjson\", \"csv\", \"table\"");
    out->has_format = true;
    return 0;
}

int qk_req_parse_query(const char *body, size_t len, int64_t max_limit, qk_arena *a,
                       qk_query_req *out, qk_err *err)
{
    json_t *root = NULL;
    int64_t width = QK_QUERY_DEFAULT_WIDTH;
    int rc;
    memset(out, 0, sizeof *out);
    out->limit = QK_QUERY_DEFAULT_LIMIT < max_limit ? QK_QUERY_DEFAULT_LIMIT : max_limit;
    out->format = QK_FMT_JSON;
    if ((rc = qk_json_req_object(body, len, &root, err))) return rc;
    if ((rc = qk_json_req_str(root, "sql", a, &out->sql, err))) goto out;
    if (!out->sql) {
        rc = BAD(err, "missing \"sql\": send {\"sql\": \"SELECT ...\"}");
        goto out;
    }
    if ((rc = qk_json_req_int(root, "limit", 0, max_limit, &out->limit, err))) goto out;
    if ((rc = get_format(root, out, err))) goto out;
    if ((rc = qk_json_req_int(root, "width", 20, 1000, &width, err))) goto out;
    out->width = (int)width;
out:
    json_decref(root);
    return rc;
}

static bool media_format(const char *m, size_t n, qk_format *out)
{
    static const struct {
        const char *mime;
        qk_format fmt;
    } known[] = {{"application/json", QK_FMT_JSON},
                 {"application/x-ndjson", QK_FMT_NDJSON},
                 {"application/ndjson", QK_FMT_NDJSON},
                 {"application/jsonl", QK_FMT_NDJSON},
                 {"text/csv", QK_FMT_CSV},
                 {"text/plain", QK_FMT_TABLE}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].mime) == n && strncasecmp(m, known[i].mime, n) == 0) {
            *out = known[i].fmt;
            return true;
        }
    return false;
}

/* True when a media range's parameters say q=0 (the client refuses it). */
static bool refused(const char *params, size_t n)
{
    char buf[128];
    size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
    memcpy(buf, params, k);
    buf[k] = '\0';
    for (char *p = strchr(buf, ';'); p; p = strchr(p + 1, ';')) {
        char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if ((*q == 'q' || *q == 'Q') && q[1] == '=') return strtod(q + 2, NULL) <= 0.0;
    }
    return false;
}

bool qk_req_accept_format(const char *accept, qk_format *out)
{
    const char *p = accept;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p), mlen;
        while (n && (*p == ' ' || *p == '\t'))
            p++, n--;
        mlen = strcspn(p, ";, \t");
        if (mlen > n) mlen = n;
        if (!refused(p + mlen, n - mlen) && media_format(p, mlen, out)) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}
