/* SPDX-License-Identifier: MIT */
/*
 * bench_http.c: warm request latency of a running `quack serve` (bench/run.sh, measurement 1).
 * One libcurl easy handle, so one keep-alive connection, sends the same POST sequentially:
 * W unmeasured warm-up requests, then N measured ones. Each measured latency is the wall
 * time of curl_easy_perform: request sent, server runs the query, encodes JSON, response
 * received in full. Every response must be HTTP 200 (else the run fails, printing the body).
 *
 *   bench_http --url URL (--body JSON | --sql SQL | --sql-file FILE) [--lake DIR]
 *              [--limit N] [--key q] [--runs N] [--warmup W] [--timeout SEC]
 *
 * With --sql/--sql-file the body is {"<key>": SQL, "limit": N} ("<LAKE>" replaced by --lake;
 * key q for /invoke, sql for /query). Output: one JSON object on stdout with the latency
 * statistics (ms), the response size, the number of records in data.records, and the
 * server's own metadata.timeMs statistics when the response has them (the part of the
 * latency spent executing the query; the rest is HTTP, JSON encoding and the client).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct args {
    const char *url, *body, *sql, *sql_file, *lake, *key;
    long limit, runs, warmup, timeout;
} args;

typedef struct resp {
    char *data;
    size_t len, cap;
} resp;

static void usage(void)
{
    fprintf(stderr, "usage: bench_http --url URL (--body JSON | --sql SQL | --sql-file FILE)\n"
                    "                  [--lake DIR] [--limit N] [--key q] [--runs N]\n"
                    "                  [--warmup W] [--timeout SEC]\n");
    exit(2);
}

static void parse_args(int argc, char **argv, args *a)
{
    *a = (args){.key = "q", .limit = 20, .runs = 50, .warmup = 5, .timeout = 60};
    if (argc % 2 == 0) usage(); /* flags come in pairs */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--url") == 0)
            a->url = v;
        else if (strcmp(k, "--body") == 0)
            a->body = v;
        else if (strcmp(k, "--sql") == 0)
            a->sql = v;
        else if (strcmp(k, "--sql-file") == 0)
            a->sql_file = v;
        else if (strcmp(k, "--lake") == 0)
            a->lake = v;
        else if (strcmp(k, "--key") == 0)
            a->key = v;
        else if (strcmp(k, "--limit") == 0)
            a->limit = bench_parse_long(v, 0, 1000000000, k);
        else if (strcmp(k, "--runs") == 0)
            a->runs = bench_parse_long(v, 1, 10000000, k);
        else if (strcmp(k, "--warmup") == 0)
            a->warmup = bench_parse_long(v, 0, 10000000, k);
        else if (strcmp(k, "--timeout") == 0)
            a->timeout = bench_parse_long(v, 1, 3600, k);
        else
            usage();
    }
    if (!a->url || (!!a->body + !!a->sql + !!a->sql_file) != 1) usage();
}

/* The request body: --body as given, or {"<key>": sql, "limit": n}. Caller frees. */
static char *make_body(const args *a)
{
    char *sql, *out;
    json_t *o;
    if (a->body) return strdup(a->body);
    sql = a->sql_file ? bench_read_sql(a->sql_file, a->lake) : bench_subst_lake(a->sql, a->lake);
    if (!sql) return NULL;
    o = json_object();
    json_object_set_new(o, a->key, json_string(sql));
    json_object_set_new(o, "limit", json_integer(a->limit));
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    free(sql);
    return out;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    size_t add = size * n;
    if (r->len + add + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        char *d;
        while (cap < r->len + add + 1)
            cap *= 2;
        if (!(d = realloc(r->data, cap))) return 0;
        r->data = d;
        r->cap = cap;
    }
    memcpy(r->data + r->len, p, add);
    r->len += add;
    r->data[r->len] = '\0';
    return add;
}

/* One request; 0 when it completed with HTTP 200. */
static int do_request(CURL *c, resp *r)
{
    long status = 0;
    CURLcode cc;
    r->len = 0;
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        fprintf(stderr, "bench_http: %s\n", curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, "bench_http: HTTP %ld: %.500s\n", status, r->data ? r->data : "");
        return -1;
    }
    return 0;
}

/* metadata.timeMs and the number of data.records of a response (-1 when absent). */
static void inspect(const resp *r, double *time_ms, long *records)
{
    json_t *root = json_loadb(r->data ? r->data : "", r->len, 0, NULL), *v;
    *time_ms = -1;
    *records = -1;
    if (!root) return;
    v = json_object_get(json_object_get(root, "metadata"), "timeMs");
    if (json_is_number(v)) *time_ms = json_number_value(v);
    v = json_object_get(json_object_get(root, "data"), "records");
    if (json_is_array(v)) *records = (long)json_array_size(v);
    json_decref(root);
}

static CURL *make_handle(const args *a, const char *body, struct curl_slist *hdrs, resp *r)
{
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, a->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, a->timeout);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

static void report(const args *a, double *lat, double *srv, int nsrv, size_t bytes, long records)
{
    printf("{\"tool\":\"bench_http\",\"url\":\"%s\",\"runs\":%ld,\"warmup\":%ld,"
           "\"response_bytes\":%zu,\"records\":%ld,",
           a->url, a->runs, a->warmup, bytes, records);
    bench_print_stats(stdout, "", lat, (int)a->runs);
    if (nsrv == a->runs) {
        printf(",");
        bench_print_stats(stdout, "server_", srv, nsrv);
    }
    printf("}\n");
}

int main(int argc, char **argv)
{
    args a;
    resp r = {0};
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;
    double *lat, *srv, tm;
    char *body = NULL;
    long records = -1;
    int nsrv = 0, rc = 1;
    parse_args(argc, argv, &a);
    lat = calloc((size_t)a.runs, sizeof *lat);
    srv = calloc((size_t)a.runs, sizeof *srv);
    if (!lat || !srv || !(body = make_body(&a)) || curl_global_init(CURL_GLOBAL_DEFAULT)) goto out;
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!hdrs || !(c = make_handle(&a, body, hdrs, &r))) goto out;
    for (long i = 0; i < a.warmup; i++)
        if (do_request(c, &r)) goto out;
    for (long i = 0; i < a.runs; i++) {
        double t0 = bench_now_ms();
        if (do_request(c, &r)) goto out;
        lat[i] = bench_now_ms() - t0;
        inspect(&r, &tm, &records);
        if (tm >= 0) srv[nsrv++] = tm;
    }
    report(&a, lat, srv, nsrv, r.len, records);
    rc = 0;
out:
    if (c) curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    free(body);
    free(r.data);
    free(lat);
    free(srv);
    return rc;
}
