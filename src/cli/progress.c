/* SPDX-License-Identifier: MIT */
/*
 * progress.c: the transfer progress bar (progress.h). The line looks like
 *   quack lake put  [#########-----------]  45%  5.4 MiB / 12.0 MiB  3.1 MiB/s  ETA 2s  3/14 files
 * and is redrawn with "\r" and an erase-to-end escape, never more often than every 100 ms.
 * Counting is per finished file (the store reports no bytes within one object).
 */
#include "cli/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"

static void draw(qk_progress *p, int64_t now);

#define REDRAW_MS 100
#define BAR_WIDTH 20

void qk_progress_init(qk_progress *p, const char *label, uint64_t bytes_total, uint64_t files_total,
                      bool quiet)
{
    pthread_mutex_init(&p->mu, NULL);
    p->label = label;
    p->bytes_total = bytes_total;
    p->files_total = files_total;
    p->bytes_done = p->files_done = 0;
    p->start_ms = qk_now_ms();
    p->last_draw_ms = 0;
    p->tty = !quiet && isatty(STDERR_FILENO) == 1;
    p->quiet = quiet;
    p->drawn = false;
    if (p->tty) draw(p, p->start_ms);
}

static void draw(qk_progress *p, int64_t now)
{
    char done[32], total[32], rate[32], bar[BAR_WIDTH + 1];
    double secs = (double)(now - p->start_ms) / 1000.0;
    double frac = p->bytes_total   ? (double)p->bytes_done / (double)p->bytes_total
                  : p->files_total ? (double)p->files_done / (double)p->files_total
                                   : 1.0;
    double bps = secs > 0 ? (double)p->bytes_done / secs : 0;
    int fill = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s  [%s] %3d%%  %s / %s  %s/s", p->label, bar, (int)(frac * 100),
            qk_cli_human_bytes(p->bytes_done, done, sizeof done),
            qk_cli_human_bytes(p->bytes_total, total, sizeof total),
            qk_cli_human_bytes((uint64_t)bps, rate, sizeof rate));
    if (bps > 0 && p->bytes_done < p->bytes_total)
        fprintf(stderr, "  ETA %.0fs", (double)(p->bytes_total - p->bytes_done) / bps);
    fprintf(stderr, "  %llu/%llu files\x1b[K", (unsigned long long)p->files_done,
            (unsigned long long)p->files_total);
    fflush(stderr);
    p->drawn = true;
    p->last_draw_ms = now;
}

void qk_progress_add(qk_progress *p, uint64_t bytes, uint64_t files)
{
    pthread_mutex_lock(&p->mu);
    p->bytes_done += bytes;
    p->files_done += files;
    if (p->tty) {
        int64_t now = qk_now_ms();
        if (now - p->last_draw_ms >= REDRAW_MS) draw(p, now);
    }
    pthread_mutex_unlock(&p->mu);
}

void qk_progress_finish(qk_progress *p)
{
    char done[32], rate[32];
    double secs;
    pthread_mutex_lock(&p->mu);
    secs = (double)(qk_now_ms() - p->start_ms) / 1000.0;
    if (p->drawn) fputs("\r\x1b[K", stderr);
    if (!p->quiet)
        fprintf(stderr, "%s: %llu file%s, %s in %.1f s (%s/s)\n", p->label,
                (unsigned long long)p->files_done, p->files_done == 1 ? "" : "s",
                qk_cli_human_bytes(p->bytes_done, done, sizeof done), secs,
                qk_cli_human_bytes(secs > 0 ? (uint64_t)((double)p->bytes_done / secs) : 0, rate,
                                   sizeof rate));
    p->drawn = false;
    pthread_mutex_unlock(&p->mu);
}

void qk_progress_free(qk_progress *p)
{
    if (p) pthread_mutex_destroy(&p->mu);
}
