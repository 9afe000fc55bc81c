/* SPDX-License-Identifier: MIT */
/*
 * progress.h: a terminal progress bar for long transfers (`quack lake put|get|sync`, demo
 * uploads). Counts bytes and files done of a known total; on a terminal it redraws one line on
 * stderr (bytes done/total, percent, rate, ETA) at most 10 times a second; when stderr is not a
 * terminal it prints nothing until qk_progress_finish, which writes one summary line.
 * Thread safety: qk_progress_add may be called from several threads at once (a mutex inside).
 */
#ifndef QK_CLI_PROGRESS_H
#define QK_CLI_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct qk_progress {
    pthread_mutex_t mu;
    const char *label; /* e.g. "quack lake put"; borrowed */
    uint64_t bytes_total, files_total;
    uint64_t bytes_done, files_done;
    int64_t start_ms, last_draw_ms;
    bool tty, quiet, drawn;
} qk_progress;

/* Start counting (caller-allocated; free with qk_progress_free). quiet: print nothing at all. */
void qk_progress_init(qk_progress *p, const char *label, uint64_t bytes_total, uint64_t files_total,
                      bool quiet);
/* Count bytes and files finished; may redraw the bar (terminal only). Thread-safe. */
void qk_progress_add(qk_progress *p, uint64_t bytes, uint64_t files);
/* Clear the bar and print "LABEL: N files, X in T s (R/s)" on stderr (unless quiet). */
void qk_progress_finish(qk_progress *p);
void qk_progress_free(qk_progress *p);

#endif
