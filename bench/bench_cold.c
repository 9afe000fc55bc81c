/* SPDX-License-Identifier: MIT */
/*
 * bench_cold.c: process cold-start times (bench/run.sh, measurement 2). "Cold" means a new
 * process (a fresh DuckDB instance, nothing cached in it); the files it reads are in the OS
 * page cache, since one unmeasured warm-up run precedes the measured ones (a disk-cold start
 * is a property of the disk, not of quack).
 *
 *   bench_cold exec [--runs N] [--warmup W] [--expect STR] [--stderr FILE] -- CMD ARGS...
 *       Wall time from posix_spawn to the child's exit, its stdout read in full through a
 *       pipe (so "printed result" is included). The exit status must be 0 and, with
 *       --expect, stdout must contain STR.
 *   bench_cold serve --port-file F --body JSON [--path /invoke] [--expect STR] [--runs N]
 *                    [--warmup W] [--timeout SEC] [--stderr FILE] -- CMD ARGS...
 *       CMD is a server that writes its bound port to F once it listens (`quack serve
 *       --port 0 --port-file F`). Measures spawn -> port file written (listen_ms) and
 *       spawn -> first HTTP 200 answer to POST http://127.0.0.1:PORT<path> (answer_ms; the
 *       body must contain --expect), then stops the server with SIGTERM (SIGKILL after 5 s).
 *
 * Output: one JSON object on stdout with the statistics (ms). The children's stderr goes to
 * /dev/null, or is appended to --stderr FILE.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

typedef struct args {
    bool serve;
    const char *port_file, *body, *path, *expect, *stderr_file;
    long runs, warmup, timeout;
    char **cmd;
} args;

typedef struct text {
    char *data;
    size_t len, cap;
} text;

static void usage(void)
{
    fprintf(
        stderr,
        "usage: bench_cold exec [--runs N] [--warmup W] [--expect STR] [--stderr FILE] -- CMD...\n"
        "       bench_cold serve --port-file F --body JSON [--path /invoke] [--expect STR]\n"
        "                        [--runs N] [--warmup W] [--timeout SEC] [--stderr FILE] -- "
        "CMD...\n");
    exit(2);
}

static void parse_args(int argc, char **argv, args *a)
{
    int i = 2;
    *a = (args){.path = "/invoke", .runs = 10, .warmup = 1, .timeout = 60};
    if (argc < 2) usage();
    if (strcmp(argv[1], "serve") == 0)
        a->serve = true;
    else if (strcmp(argv[1], "exec") != 0)
        usage();
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port-file") == 0)
            a->port_file = v;
        else if (strcmp(k, "--body") == 0)
            a->body = v;
        else if (strcmp(k, "--path") == 0)
            a->path = v;
        else if (strcmp(k, "--expect") == 0)
            a->expect = v;
        else if (strcmp(k, "--stderr") == 0)
            a->stderr_file = v;
        else if (strcmp(k, "--runs") == 0)
            a->runs = bench_parse_long(v, 1, 100000, k);
        else if (strcmp(k, "--warmup") == 0)
            a->warmup = bench_parse_long(v, 0, 100000, k);
        else if (strcmp(k, "--timeout") == 0)
            a->timeout = bench_parse_long(v, 1, 3600, k);
        else
            usage();
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) usage();
    a->cmd = argv + i + 1;
    if (a->serve && (!a->port_file || !a->body)) usage();
}

/* Spawn cmd with stdout to out_fd (-1: /dev/null) and stderr to stderr_file or /dev/null. */
static int spawn(const args *a, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    int rc;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0)
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    else
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, a->stderr_file ? a->stderr_file : "/dev/null",
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = posix_spawnp(pid, a->cmd[0], &fa, NULL, a->cmd, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc) fprintf(stderr, "bench_cold: cannot run %s: %s\n", a->cmd[0], strerror(rc));
    return rc ? -1 : 0;
}

static int text_add(text *t, const char *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *d;
        while (cap < t->len + n + 1)
            cap *= 2;
        if (!(d = realloc(t->data, cap))) return -1;
        t->data = d;
        t->cap = cap;
    }
    memcpy(t->data + t->len, p, n);
    t->len += n;
    t->data[t->len] = '\0';
    return 0;
}

static bool expected(const args *a, const text *t)
{
    if (!a->expect) return true;
    if (t->data && strstr(t->data, a->expect)) return true;
    fprintf(stderr, "bench_cold: output lacks '%s': %.300s\n", a->expect, t->data ? t->data : "");
    return false;
}

/* One exec run: spawn, read stdout to EOF, wait. Returns ms or -1. */
static double exec_once(const args *a, text *out)
{
    int p[2], status = 0;
    pid_t pid;
    char buf[65536];
    ssize_t n;
    double t0;
    out->len = 0;
    if (pipe2(p, O_CLOEXEC)) return -1;
    t0 = bench_now_ms();
    if (spawn(a, p[1], &pid)) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    close(p[1]);
    while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && text_add(out, buf, (size_t)n)) break;
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    t0 = bench_now_ms() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_cold: %s exited with %s %d\n", a->cmd[0],
                WIFEXITED(status) ? "code" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return expected(a, out) ? t0 : -1;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return text_add(ud, p, size * n) ? 0 : size * n;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* The port in the port file, or 0 while it is missing or incomplete. */
static long read_port(const char *path)
{
    char buf[32] = {0}, *end;
    long v;
    FILE *f = fopen(path, "r");
    size_t n;
    if (!f) return 0;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    v = strtol(buf, &end, 10);
    if (end == buf || v <= 0 || v > 65535 || (*end && *end != '\n' && *end != '\r')) return 0;
    return v;
}

/* POST body to the server until it answers 200; 0 ok. */
static int first_answer(const args *a, long port, double deadline, text *out)
{
    char url[512];
    long status = 0;
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    int rc = -1;
    snprintf(url, sizeof url, "http://127.0.0.1:%ld%s", port, a->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, a->timeout);
    while (bench_now_ms() < deadline) {
        out->len = 0;
        if (curl_easy_perform(c) == CURLE_OK &&
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200) {
            rc = 0;
            break;
        }
        sleep_us(200);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return rc;
}

static void stop_child(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    for (int i = 0; i < 5000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return;
        sleep_us(1000);
    }
    fprintf(stderr, "bench_cold: server did not stop on SIGTERM within 5 s; killing it\n");
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* One serve run: listen and answer times in ms; 0 ok. */
static int serve_once(const args *a, double *listen_ms, double *answer_ms, text *out)
{
    pid_t pid;
    long port = 0;
    int status, rc = -1;
    double t0, deadline;
    unlink(a->port_file);
    t0 = bench_now_ms();
    deadline = t0 + (double)a->timeout * 1000;
    if (spawn(a, -1, &pid)) return -1;
    while (!(port = read_port(a->port_file)) && bench_now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_cold: server exited early (%s %d)\n",
                    WIFEXITED(status) ? "code" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            return -1;
        }
        sleep_us(100);
    }
    *listen_ms = bench_now_ms() - t0;
    if (!port)
        fprintf(stderr, "bench_cold: no port in %s after %ld s\n", a->port_file, a->timeout);
    else if (first_answer(a, port, deadline, out))
        fprintf(stderr, "bench_cold: no answer\n");
    else
        rc = 0;
    *answer_ms = bench_now_ms() - t0;
    stop_child(pid);
    return rc || !expected(a, out) ? -1 : 0;
}

static int run_exec(const args *a)
{
    double *v = calloc((size_t)a->runs, sizeof *v);
    text out = {0};
    int rc = 1;
    if (!v) return 1;
    for (long i = 0; i < a->warmup; i++)
        if (exec_once(a, &out) < 0) goto out;
    for (long i = 0; i < a->runs; i++)
        if ((v[i] = exec_once(a, &out)) < 0) goto out;
    printf("{\"tool\":\"bench_cold\",\"mode\":\"exec\",\"runs\":%ld,\"output_bytes\":%zu,", a->runs,
           out.len);
    bench_print_stats(stdout, "", v, (int)a->runs);
    printf("}\n");
    rc = 0;
out:
    free(v);
    free(out.data);
    return rc;
}

static int run_serve(const args *a)
{
    double *lv = calloc((size_t)a->runs, sizeof *lv), *av = calloc((size_t)a->runs, sizeof *av);
    double l, an;
    text out = {0};
    int rc = 1;
    if (!lv || !av || curl_global_init(CURL_GLOBAL_DEFAULT)) goto out;
    for (long i = 0; i < a->warmup; i++)
        if (serve_once(a, &l, &an, &out)) goto out;
    for (long i = 0; i < a->runs; i++)
        if (serve_once(a, &lv[i], &av[i], &out)) goto out;
    printf("{\"tool\":\"bench_cold\",\"mode\":\"serve\",\"runs\":%ld,", a->runs);
    bench_print_stats(stdout, "listen_", lv, (int)a->runs);
    printf(",");
    bench_print_stats(stdout, "answer_", av, (int)a->runs);
    printf("}\n");
    rc = 0;
out:
    curl_global_cleanup();
    free(lv);
    free(av);
    free(out.data);
    return rc;
}

int main(int argc, char **argv)
{
    args a;
    parse_args(argc, argv, &a);
    signal(SIGPIPE, SIG_IGN);
    return a.serve ? run_serve(&a) : run_exec(&a);
}
