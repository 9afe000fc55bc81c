/* SPDX-License-Identifier: MIT */
/*
 * log.c: JSON-lines logging. Each call writes exactly one line,
 *   {"ts":"2026-11-21T13:12:08.123Z","level":"info","event":"request",...fields}
 * with a single write(2) so that lines from concurrent threads never interleave. Globals: the
 * minimum level and the sink fd (both atomics, set at start-up).
 */
#include "core/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_level = -1; /* -1: not yet read from QUACK_LOG_LEVEL */
static _Atomic int log_fd = 2;

static const char *level_names[] = {"debug", "info", "warn", "error", "off"};

int qk_log_level_parse(const char *s)
{
    for (int i = 0; i <= QK_LOG_OFF; i++)
        if (s && strcasecmp(s, level_names[i]) == 0) return i;
    if (s && strcasecmp(s, "warning") == 0) return QK_LOG_WARN;
    return -1;
}

void qk_log_set_level(qk_log_level lvl)
{
    log_level = (int)lvl;
}

qk_log_level qk_log_get_level(void)
{
    int l = log_level;
    if (l < 0) {
        l = qk_log_level_parse(getenv("QUACK_LOG_LEVEL"));
        if (l < 0) l = QK_LOG_INFO;
        log_level = l;
    }
    return (qk_log_level)l;
}

void qk_log_set_fd(int fd)
{
    log_fd = fd;
}

void qk_log(qk_log_level lvl, const char *event, const char *fields_fmt, ...)
{
    char line[4096];
    struct timeval tv;
    struct tm tm;
    size_t n;
    int w;
    if (lvl < qk_log_get_level() || lvl >= QK_LOG_OFF) return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    w = snprintf(
        line, sizeof line,
        "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"level\":\"%s\",\"event\":\"%s\"",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(tv.tv_usec / 1000), level_names[lvl], event);
    n = (size_t)w < sizeof line ? (size_t)w : sizeof line - 1;
    if (fields_fmt && *fields_fmt && n < sizeof line - 3) {
        va_list ap;
        line[n++] = ',';
        va_start(ap, fields_fmt);
        w = vsnprintf(line + n, sizeof line - n - 2, fields_fmt, ap);
        va_end(ap);
        if (w > 0) n += (size_t)w < sizeof line - n - 2 ? (size_t)w : sizeof line - n - 3;
    }
    line[n++] = '}';
    line[n++] = '\n';
    ssize_t r = write(log_fd, line, n);
    (void)r;
}
