/* SPDX-License-Identifier: MIT */
/*
 * bench.h: small helpers shared by the benchmark programs in bench/ (header-only, because
 * every bench/NAME.c is built as its own executable): a monotonic clock, latency statistics
 * printed as JSON members, reading a SQL file with the <LAKE> placeholder replaced, and a
 * strict integer flag parser. Nothing here is part of quack itself.
 *
 * Percentiles are nearest-rank over the sorted samples: pXX = sorted[ceil(XX/100 * n) - 1].
 */
#ifndef QK_BENCH_H
#define QK_BENCH_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Monotonic time in milliseconds with sub-ms precision. */
static inline double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct bench_stats {
    int n;
    double min, median, mean, p95, p99, max;
} bench_stats;

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static inline double bench_rank(const double *sorted, int n, double pct)
{
    int k = (int)ceil(pct / 100.0 * n);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

/* Statistics of v[0..n) (v is sorted in place). */
static inline bench_stats bench_compute(double *v, int n)
{
    bench_stats s = {0};
    double sum = 0;
    if (n <= 0) return s;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    for (int i = 0; i < n; i++)
        sum += v[i];
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.mean = sum / n;
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    s.p95 = bench_rank(v, n, 95);
    s.p99 = bench_rank(v, n, 99);
    return s;
}

/* Compute the statistics of v[0..n) (sorting v) and print them as JSON members
 * `"<prefix>min_ms":..,"<prefix>median_ms":..,...,"<prefix>samples_ms":[..]` (no braces, no
 * trailing comma). The samples let bench/report.py pool several rounds. Returns the stats. */
static inline bench_stats bench_print_stats(FILE *f, const char *prefix, double *v, int n)
{
    bench_stats s = bench_compute(v, n);
    fprintf(f,
            "\"%smin_ms\":%.3f,\"%smedian_ms\":%.3f,\"%smean_ms\":%.3f,\"%sp95_ms\":%.3f,"
            "\"%sp99_ms\":%.3f,\"%smax_ms\":%.3f,\"%ssamples_ms\":[",
            prefix, s.min, prefix, s.median, prefix, s.mean, prefix, s.p95, prefix, s.p99, prefix,
            s.max, prefix);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.3f", i ? "," : "", v[i]);
    fputc(']', f);
    return s;
}

/* Parse a whole decimal integer in [min,max]; exits with a message on bad input. */
static inline long bench_parse_long(const char *s, long min, long max, const char *what)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s ? s : "", &end, 10);
    if (!s || !*s || *end || errno || v < min || v > max) {
        fprintf(stderr, "bad %s: '%s' (want %ld..%ld)\n", what, s ? s : "", min, max);
        exit(2);
    }
    return v;
}

/* A heap copy of s with every "<LAKE>" replaced by lake (NULL: no replacement) and trailing
 * white space and semicolons cut. NULL when out of memory. */
static inline char *bench_subst_lake(const char *s, const char *lake)
{
    size_t n = strlen(s), o = 0, ll = lake ? strlen(lake) : 0, cap;
    char *out;
    while (n && strchr("; \t\r\n", s[n - 1]))
        n--;
    cap = n + 1 + (lake ? (n / 6 + 1) * ll : 0);
    if (!(out = malloc(cap))) return NULL;
    for (size_t i = 0; i < n;) {
        if (lake && n - i >= 6 && strncmp(s + i, "<LAKE>", 6) == 0) {
            memcpy(out + o, lake, ll);
            o += ll;
            i += 6;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = '\0';
    return out;
}

/* Read a whole text file (up to 1 MiB) through bench_subst_lake. Returns a heap string, or
 * NULL with a message on stderr. */
static inline char *bench_read_sql(const char *path, const char *lake)
{
    FILE *f = fopen(path, "rb");
    char *raw, *out;
    size_t n;
    if (!f) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    raw = malloc((1u << 20) + 1);
    n = raw ? fread(raw, 1, 1u << 20, f) : 0;
    fclose(f);
    if (!raw) return NULL;
    raw[n] = '\0';
    out = bench_subst_lake(raw, lake);
    free(raw);
    return out;
}

#endif
