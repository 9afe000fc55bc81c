/* SPDX-License-Identifier: MIT */
/*
 * bench_proc.c: processes and machine facts for `quack bench` (bench_proc.h).
 *
 * A fleet of local workers is `quack serve` children of this very binary (/proc/self/exe) on
 * 127.0.0.1 port 0, each telling its port through --port-file and logging to a file in the
 * spawner's temp dir. A child gets its own process group (a Ctrl-C reaches the bench only,
 * which stops the workers itself) and PR_SET_PDEATHSIG (a killed bench takes them along).
 * Stopping is SIGTERM, then SIGKILL after STOP_WAIT_MS. The machine facts come from /proc:
 * load average, CPU model, memory, and the CPU time other processes used during a run (the
 * machine's busy time minus this process's and its reaped children's).
 */
#include "cli/bench_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

#define SPAWN_WAIT_MS 30000 /* for a worker's port file */
#define STOP_WAIT_MS 10000  /* SIGTERM -> SIGKILL */

/* ---- workers ------------------------------------------------------------------------------ */

static void worker_paths(const qk_bench_spawner *sp, unsigned id, char *port, char *log)
{
    snprintf(port, PATH_MAX, "%s/w%u.port", sp->tmp, id);
    snprintf(log, PATH_MAX, "%s/w%u.log", sp->tmp, id);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_worker(char *const *argv, const char *log, pid_t parent)
{
    int null = open("/dev/null", O_RDWR);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    setpgid(0, 0); /* a Ctrl-C reaches the bench only; it stops the workers itself */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent || null < 0 || fd < 0) _exit(127);
    dup2(null, 0);
    dup2(null, 1);
    dup2(fd, 2);
    execv("/proc/self/exe", argv);
    _exit(127);
}

static int spawn_one(const qk_bench_spawner *sp, unsigned id, int threads, int maxconc, pid_t *pid,
                     qk_err *err)
{
    char port[PATH_MAX], log[PATH_MAX], th[24], mc[24];
    char *argv[] = {"quack",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--port-file",
                    port,
                    "--lake",
                    (char *)sp->lake,
                    "--threads",
                    th,
                    "--max-concurrency",
                    mc,
                    "--log-level",
                    "warn",
                    NULL};
    pid_t parent = getpid(), p;
    worker_paths(sp, id, port, log);
    snprintf(th, sizeof th, "%d", threads);
    snprintf(mc, sizeof mc, "%d", maxconc);
    fflush(NULL);
    if ((p = fork()) < 0)
        return qk_errf(err, QK_EIO, "cannot start a worker: fork: %s", strerror(errno));
    if (p == 0) exec_worker(argv, log, parent);
    *pid = p;
    return 0;
}

static int worker_died(const char *log, qk_err *err)
{
    char *text = NULL;
    size_t len = 0;
    const char *tail = "";
    if (qk_read_file(log, (size_t)1 << 16, &text, &len, NULL) == 0)
        tail = len > 200 ? text + len - 200 : text;
    qk_errf(err, QK_EIO, "a worker exited at start: %s", tail);
    free(text);
    return QK_EIO;
}

static bool read_port(const char *path, int64_t *port)
{
    char *text = NULL;
    size_t len = 0;
    bool ok = false;
    if (qk_read_file(path, 64, &text, &len, NULL) == 0) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = 0;
        ok = qk_parse_int64(text, 1, 65535, port, "port", NULL) == 0;
    }
    free(text);
    return ok;
}

/* Wait for worker id's port file; *pid becomes 0 if it exited (reaped here). */
static int wait_port(const qk_bench_spawner *sp, unsigned id, pid_t *pid, char *url, size_t cap,
                     qk_err *err)
{
    char port_file[PATH_MAX], log[PATH_MAX];
    int64_t t0 = qk_now_ms(), port;
    worker_paths(sp, id, port_file, log);
    while (qk_now_ms() - t0 < SPAWN_WAIT_MS) {
        if (sp->stop && sp->stop(NULL)) return qk_errf(err, QK_ECANCELED, "interrupted");
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return worker_died(log, err);
        }
        if (read_port(port_file, &port)) {
            snprintf(url, cap, "http://127.0.0.1:%lld", (long long)port);
            return 0;
        }
        usleep(20000);
    }
    return qk_errf(err, QK_ETIMEOUT, "a worker did not listen within %d s", SPAWN_WAIT_MS / 1000);
}

int qk_bench_fleet_spawn(qk_bench_spawner *sp, qk_bench_fleet *f, size_t n, int threads,
                         int maxconc, qk_err *err)
{
    const char *token = getenv("QUACK_TOKEN"); /* the spawned `quack serve` requires it */
    unsigned first = sp->next;
    char url[64];
    int rc = 0;
    memset(f, 0, sizeof *f);
    f->threads = threads;
    fprintf(stderr, "[bench reduce] starting %zu worker%s (quack serve --threads %d)\n", n,
            n == 1 ? "" : "s", threads);
    for (size_t i = 0; i < n && !rc; i++)
        rc = spawn_one(sp, sp->next++, threads, maxconc, &f->pids[i], err);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = wait_port(sp, first + (unsigned)i, &f->pids[i], url, sizeof url, err);
        if (!rc) rc = qk_dist_workers_add_http(&f->w, url, token, err);
        if (!rc) f->n++;
    }
    return rc;
}

int qk_bench_fleet_use(qk_bench_fleet *f, const char *urls, qk_err *err)
{
    const char *token = getenv("QUACK_WORKER_TOKEN");
    int rc;
    memset(f, 0, sizeof *f);
    if (!token) token = getenv("QUACK_TOKEN");
    if ((rc = qk_dist_workers_add_http(&f->w, urls, token, err))) return rc;
    f->n = f->w.n;
    return 0;
}

/* Reap what has exited; returns how many are left. */
static size_t reap(qk_bench_fleet *f, bool block)
{
    size_t left = 0;
    for (size_t i = 0; i < QK_BENCH_MAX_WORKERS; i++) {
        if (f->pids[i] <= 0) continue;
        pid_t r = waitpid(f->pids[i], NULL, block ? 0 : WNOHANG);
        if (r == f->pids[i] || (r < 0 && errno != EINTR))
            f->pids[i] = 0;
        else
            left++;
    }
    return left;
}

void qk_bench_fleet_stop(qk_bench_fleet *f)
{
    int64_t t0 = qk_now_ms();
    size_t left;
    for (size_t i = 0; i < QK_BENCH_MAX_WORKERS; i++)
        if (f->pids[i] > 0) kill(f->pids[i], SIGTERM);
    while ((left = reap(f, false)) && qk_now_ms() - t0 < STOP_WAIT_MS)
        usleep(20000);
    if (left) {
        for (size_t i = 0; i < QK_BENCH_MAX_WORKERS; i++)
            if (f->pids[i] > 0) kill(f->pids[i], SIGKILL);
        while (reap(f, true))
            ;
    }
    qk_dist_workers_free(&f->w);
    f->n = 0;
}

/* ---- machine ------------------------------------------------------------------------------ */

void qk_bench_proc_field(const char *path, const char *key, char *out, size_t cap)
{
    char *text = NULL, *p;
    size_t len;
    snprintf(out, cap, "?");
    if (qk_read_file(path, (size_t)4 << 20, &text, &len, NULL) != 0) return;
    if ((p = strstr(text, key))) {
        p += strlen(key);
        p += strspn(p, " \t:");
        snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
    }
    free(text);
}

void qk_bench_loadavg(char *out, size_t cap)
{
    char line[128];
    int n = 0;
    qk_bench_proc_field("/proc/loadavg", "", line, sizeof line);
    for (int spaces = 0; line[n] && spaces < 3; n++)
        spaces += line[n] == ' ';
    snprintf(out, cap, "%.*s", n > 0 && line[n] ? n - 1 : n, line);
}

/* Machine CPU seconds from /proc/stat's first line: busy (by any process) and total. */
static void machine_cpu(double *busy, double *total)
{
    char line[256];
    unsigned long long v[8] = {0};
    double hz = (double)sysconf(_SC_CLK_TCK);
    qk_bench_proc_field("/proc/stat", "cpu ", line, sizeof line);
    sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
           &v[5], &v[6], &v[7]);
    *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
    *total = *busy + (double)(v[3] + v[4] + v[7]) / hz;      /* + idle iowait steal */
}

/* CPU seconds used by this process and its reaped children (the workers). */
static double own_cpu(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                    kids.ru_stime.tv_sec) +
           (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                    kids.ru_stime.tv_usec) /
               1e6;
}

void qk_bench_cpu_snapshot(double snap[3])
{
    machine_cpu(&snap[0], &snap[1]);
    snap[2] = own_cpu();
}

double qk_bench_others_pct(const double start[3])
{
    double now[3], busy, total;
    qk_bench_cpu_snapshot(now);
    busy = (now[0] - start[0]) - (now[2] - start[2]);
    total = now[1] - start[1];
    return total > 0 && busy > 0 ? 100 * busy / total : 0;
}
