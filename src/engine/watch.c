/* SPDX-License-Identifier: MIT */
/*
 * watch.c: the engine's watchdog. A query run with duckdb_query blocks its thread inside
 * DuckDB, so deadlines and cancel callbacks are checked by one shared thread instead: every
 * 5 ms it walks the list of running queries and calls duckdb_interrupt on those whose
 * deadline passed or whose cancel callback fires, recording why in w->stop. The thread starts
 * with the first watched query and ends at qk_engine_close. The list and the interrupt are
 * under one mutex, so a query is never interrupted after qk_watch_end returned.
 */
#include "engine/engine_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define WATCH_TICK_NS 5000000L

struct qk_watchdog {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    qk_watch *head;
    pthread_t thread;
    bool running, quit;
};

qk_watchdog *qk_watchdog_new(void)
{
    qk_watchdog *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    return d;
}

void qk_watchdog_destroy(qk_watchdog *d)
{
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    d->quit = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->running) pthread_join(d->thread, NULL);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static void check_one(qk_watch *w, int64_t now)
{
    int why = 0;
    if (w->stop) {
        /* Interrupt again on every tick until the query ends: an interrupt that lands before
         * DuckDB starts executing (while it binds or plans) is cleared by the execution start
         * and would be lost. */
        duckdb_interrupt(w->con);
        return;
    }
    if (w->deadline && now >= w->deadline)
        why = QK_ETIMEOUT;
    else if (w->cancelled && w->cancelled(w->cancel_ud))
        why = QK_ECANCELED;
    if (why) {
        w->stop = why;
        duckdb_interrupt(w->con);
    }
}

static void *watch_loop(void *arg)
{
    qk_watchdog *d = arg;
    struct timespec ts;
    pthread_mutex_lock(&d->lock);
    while (!d->quit) {
        if (!d->head) {
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        int64_t now = qk_now_ms();
        for (qk_watch *w = d->head; w; w = w->next)
            check_one(w, now);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCH_TICK_NS;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&d->cond, &d->lock, &ts);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int qk_watch_begin(qk_watchdog *d, qk_watch *w, qk_err *err)
{
    int rc = 0;
    w->stop = 0;
    pthread_mutex_lock(&d->lock);
    if (!d->running) {
        if ((rc = pthread_create(&d->thread, NULL, watch_loop, d)) != 0) {
            pthread_mutex_unlock(&d->lock);
            return qk_errf(err, QK_EINTERNAL, "cannot start the query watchdog: %d", rc);
        }
        d->running = true;
    }
    w->next = d->head;
    d->head = w;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

void qk_watch_end(qk_watchdog *d, qk_watch *w)
{
    pthread_mutex_lock(&d->lock);
    for (qk_watch **p = &d->head; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&d->lock);
}
