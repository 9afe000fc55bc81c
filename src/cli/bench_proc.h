/* SPDX-License-Identifier: MIT */
/*
 * bench_proc.h: local worker processes and machine facts for `quack bench` (bench_proc.c).
 * Not thread-safe: one bench drives its fleets from one thread.
 */
#ifndef QK_CLI_BENCH_PROC_H
#define QK_CLI_BENCH_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/core.h"
#include "dist/transport.h"

#define QK_BENCH_MAX_WORKERS 64 /* per fleet */

/* Where spawned workers keep their port files and logs (tmp), the lake they serve, the next
 * worker number (names are unique across fleets), and a stop poll (may be NULL) that ends a
 * wait for a worker early. */
typedef struct qk_bench_spawner {
    const char *tmp, *lake;
    unsigned next;
    int (*stop)(void *ud);
} qk_bench_spawner;

/* A set of workers: spawned (pids to stop) or given as URLs. */
typedef struct qk_bench_fleet {
    size_t n;
    pid_t pids[QK_BENCH_MAX_WORKERS]; /* spawned workers not reaped yet; 0 = none */
    qk_dist_workers w;
    int threads; /* DuckDB threads per worker; 0 = unknown (given URLs) */
} qk_bench_fleet;

/* Start n `quack serve --threads threads --max-concurrency maxconc` workers (all first, then
 * wait for each to listen). On error the caller still stops f. */
int qk_bench_fleet_spawn(qk_bench_spawner *sp, qk_bench_fleet *f, size_t n, int threads,
                         int maxconc, qk_err *err);
/* Running workers at urls ("URL,URL,..."; token from $QUACK_WORKER_TOKEN, else $QUACK_TOKEN). */
int qk_bench_fleet_use(qk_bench_fleet *f, const char *urls, qk_err *err);
/* SIGTERM every spawned worker, SIGKILL what is left after 10 s; frees the transports.
 * Accepts a zeroed f. */
void qk_bench_fleet_stop(qk_bench_fleet *f);

/* The rest of the first line of a /proc file that starts with key (key "" = the first line);
 * "?" when there is none. */
void qk_bench_proc_field(const char *path, const char *key, char *out, size_t cap);
/* The 1, 5 and 15 minute load averages, as /proc/loadavg says them. */
void qk_bench_loadavg(char *out, size_t cap);
/* Machine busy and total CPU seconds, and this process's own (with reaped children). */
void qk_bench_cpu_snapshot(double snap[3]);
/* Share of the machine's CPU capacity that other processes used since start (percent). */
double qk_bench_others_pct(const double start[3]);

#endif
