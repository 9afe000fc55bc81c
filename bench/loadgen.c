/* SPDX-License-Identifier: MIT */
/*
 * loadgen.c: a small HTTP load generator for quack serve (libcurl multi, one thread).
 *
 *   loadgen --url http://127.0.0.1:PORT [--clients N] [--requests M] [--token T]
 *           [--timeout S] (--mix FILE | --case 'STATUS METHOD PATH [BODY]')...
 *
 * N clients each send M requests back to back over keep-alive connections (the connection
 * pool holds N connections). Request j of client i is case (i + j) mod the number of cases,
 * so every run sends the same mix. A case is one line: the expected status, the method, the
 * path and the rest of the line as the body, e.g. `200 POST /invoke {"q":"SELECT 1"}`
 * (blank lines and lines starting with # are skipped in a mix file).
 * Prints one JSON object: clients, requests, seconds, rps, status counts, unexpected (status
 * not the expected one), transportErrors, connections opened, latency percentiles in ms.
 * Exit 0 when every response had its expected status, 1 otherwise, 2 on bad arguments.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define MAX_CASES 256
#define SNIPPET 160

typedef struct lg_case {
    int expect;
    bool post;
    char *url;
    char *body;
} lg_case;

typedef struct lg_client {
    CURL *h;
    int index, sent;
    lg_case *c;
    double t0;
    char snippet[SNIPPET];
    size_t snippet_len;
} lg_client;

typedef struct lg_run {
    const char *base, *token;
    int clients, requests;
    long timeout_s;
    lg_case cases[MAX_CASES];
    int ncases;
    struct curl_slist *headers;
    CURLM *multi;
    lg_client *cl;
    double *lat;
    size_t nlat;
    uint64_t status[600], unexpected, transport, connects;
    int outstanding; /* transfers added and not yet finished */
} lg_run;

static int add_case(lg_run *r, const char *line)
{
    char method[8], path[512];
    int expect, used = 0;
    lg_case *c;
    if (r->ncases >= MAX_CASES) return fprintf(stderr, "loadgen: too many cases\n"), -1;
    if (sscanf(line, "%d %7s %511s%n", &expect, method, path, &used) != 3 || expect < 100 ||
        expect > 599) {
        fprintf(stderr, "loadgen: bad case line: %s\n", line);
        return -1;
    }
    c = &r->cases[r->ncases++];
    c->expect = expect;
    c->post = strcmp(method, "POST") == 0;
    while (line[used] == ' ')
        used++;
    c->body = qk_xstrdup(line + used);
    c->body[strcspn(c->body, "\r\n")] = '\0';
    size_t n = strlen(r->base) + strlen(path) + 1;
    c->url = malloc(n);
    if (!c->url) return -1;
    snprintf(c->url, n, "%s%s", r->base, path);
    return 0;
}

static int read_mix(lg_run *r, const char *path)
{
    char line[65536];
    FILE *f = fopen(path, "r");
    int rc = 0;
    if (!f) return fprintf(stderr, "loadgen: cannot open %s\n", path), -1;
    while (!rc && fgets(line, sizeof line, f))
        if (line[0] != '#' && strspn(line, " \t\r\n") != strlen(line)) rc = add_case(r, line);
    fclose(f);
    return rc;
}

static int parse_args(lg_run *r, int argc, char **argv)
{
    qk_err err = {0};
    int64_t v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return fprintf(stderr, "loadgen: %s needs a value\n", a), -1;
        i++;
        if (strcmp(a, "--url") == 0)
            r->base = val;
        else if (strcmp(a, "--token") == 0)
            r->token = val;
        else if (strcmp(a, "--mix") == 0) {
            if (read_mix(r, val)) return -1;
        } else if (strcmp(a, "--case") == 0) {
            if (add_case(r, val)) return -1;
        } else if (strcmp(a, "--clients") == 0 && !qk_parse_int64(val, 1, 4096, &v, a, &err))
            r->clients = (int)v;
        else if (strcmp(a, "--requests") == 0 && !qk_parse_int64(val, 1, 100000000, &v, a, &err))
            r->requests = (int)v;
        else if (strcmp(a, "--timeout") == 0 && !qk_parse_int64(val, 1, 3600, &v, a, &err))
            r->timeout_s = (long)v;
        else
            return fprintf(stderr, "loadgen: bad option %s %s %s\n", a, val, err.msg), -1;
    }
    if (!r->base || !r->ncases) return fprintf(stderr, "loadgen: need --url and a case\n"), -1;
    return 0;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    lg_client *c = ud;
    size_t len = sz * n, room = SNIPPET - 1 - c->snippet_len;
    size_t k = len < room ? len : room;
    memcpy(c->snippet + c->snippet_len, p, k);
    c->snippet_len += k;
    c->snippet[c->snippet_len] = '\0';
    return len;
}

static void start_next(lg_run *r, lg_client *c)
{
    c->c = &r->cases[(c->index + c->sent) % r->ncases];
    c->sent++;
    c->snippet_len = 0;
    c->snippet[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_URL, c->c->url);
    if (c->c->post) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->c->body);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->c->body));
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    c->t0 = qk_now_msf();
    curl_multi_add_handle(r->multi, c->h);
    r->outstanding++;
}

static void finish_one(lg_run *r, CURL *h, CURLcode res)
{
    lg_client *c = NULL;
    long status = 0, conns = 0;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&c);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
    curl_multi_remove_handle(r->multi, h);
    r->outstanding--;
    r->lat[r->nlat++] = qk_now_msf() - c->t0;
    r->connects += (uint64_t)conns;
    if (res != CURLE_OK) {
        if (r->transport++ < 5)
            fprintf(stderr, "loadgen: %s: %s\n", c->c->url, curl_easy_strerror(res));
    } else {
        r->status[status > 0 && status < 600 ? status : 0]++;
        if (status != c->c->expect && r->unexpected++ < 10)
            fprintf(stderr, "loadgen: %s %s -> %ld (expected %d): %s\n", c->c->url, c->c->body,
                    status, c->c->expect, c->snippet);
    }
    if (c->sent < r->requests) start_next(r, c);
}

static int setup_clients(lg_run *r)
{
    char auth[512];
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    r->headers = curl_slist_append(r->headers, "Expect:");
    if (r->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token);
        r->headers = curl_slist_append(r->headers, auth);
    }
    r->cl = calloc((size_t)r->clients, sizeof *r->cl);
    r->lat = calloc((size_t)r->clients * (size_t)r->requests, sizeof *r->lat);
    if (!r->cl || !r->lat) return -1;
    for (int i = 0; i < r->clients; i++) {
        lg_client *c = &r->cl[i];
        c->index = i;
        c->h = curl_easy_init();
        curl_easy_setopt(c->h, CURLOPT_PRIVATE, (char *)c);
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->h, CURLOPT_TIMEOUT, r->timeout_s);
    }
    return 0;
}

static void run_all(lg_run *r)
{
    int running, left;
    CURLMsg *m;
    for (int i = 0; i < r->clients; i++)
        start_next(r, &r->cl[i]);
    while (r->outstanding > 0) {
        curl_multi_perform(r->multi, &running);
        while ((m = curl_multi_info_read(r->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE) finish_one(r, m->easy_handle, m->data.result);
        if (r->outstanding > 0) curl_multi_poll(r->multi, NULL, 0, 100, NULL);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const lg_run *r, double p)
{
    size_t i = (size_t)(p * (double)(r->nlat - 1) + 0.5);
    return r->nlat ? r->lat[i] : 0;
}

static void report(lg_run *r, double secs)
{
    int first = 1;
    qsort(r->lat, r->nlat, sizeof *r->lat, cmp_double);
    printf("{\"clients\":%d,\"requests\":%zu,\"seconds\":%.3f,\"rps\":%.1f,\"status\":{",
           r->clients, r->nlat, secs, secs > 0 ? (double)r->nlat / secs : 0.0);
    for (int s = 0; s < 600; s++)
        if (r->status[s])
            printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)r->status[s]),
                first = 0;
    printf("},\"unexpected\":%llu,\"transportErrors\":%llu,\"connections\":%llu,"
           "\"latencyMs\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
           (unsigned long long)r->unexpected, (unsigned long long)r->transport,
           (unsigned long long)r->connects, pct(r, 0.5), pct(r, 0.9), pct(r, 0.99),
           r->nlat ? r->lat[r->nlat - 1] : 0.0);
}

static void cleanup(lg_run *r)
{
    for (int i = 0; r->cl && i < r->clients; i++)
        curl_easy_cleanup(r->cl[i].h);
    for (int i = 0; i < r->ncases; i++)
        free(r->cases[i].url), free(r->cases[i].body);
    if (r->multi) curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    free(r->cl);
    free(r->lat);
}

int main(int argc, char **argv)
{
    static lg_run r;
    double t0;
    int rc = 2;
    r.clients = 16;
    r.requests = 1000;
    r.timeout_s = 60;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (parse_args(&r, argc, argv) || !(r.multi = curl_multi_init())) goto out;
    curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS, (long)r.clients);
    if (setup_clients(&r)) goto out;
    t0 = qk_now_msf();
    run_all(&r);
    report(&r, (qk_now_msf() - t0) / 1000.0);
    rc = r.unexpected || r.transport ? 1 : 0;
out:
    cleanup(&r);
    curl_global_cleanup();
    return rc;
}
