/* SPDX-License-Identifier: MIT */
/*
 * arena.c: bump allocator for per-request memory (h2o's mempool). Blocks of at least 8 KiB
 * are chained; everything is freed at once by qk_arena_free. A byte limit guards against
 * input-driven growth.
 */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qk_arena_block {
    qk_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char mem[];
};

#define ARENA_BLOCK 8192

void qk_arena_init(qk_arena *a, size_t max)
{
    a->head = NULL;
    a->used = 0;
    a->max = max;
}

void *qk_arena_alloc(qk_arena *a, size_t n)
{
    qk_arena_block *blk = a->head;
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL;
    if (a->max && (need > a->max || a->used > a->max - need)) return NULL;
    if (!blk || blk->size - blk->used < need) {
        size_t sz = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        blk = malloc(sizeof *blk + sz);
        if (!blk) return NULL;
        blk->size = sz;
        blk->used = 0;
        blk->next = a->head;
        a->head = blk;
    }
    void *p = blk->mem + blk->used;
    blk->used += need;
    a->used += need;
    return p;
}

char *qk_arena_strndup(qk_arena *a, const char *s, size_t n)
{
    char *p = qk_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *qk_arena_strdup(qk_arena *a, const char *s)
{
    return qk_arena_strndup(a, s, strlen(s));
}

char *qk_arena_printf(qk_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *p;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(p = qk_arena_alloc(a, (size_t)n + 1))) {
        va_end(ap2);
        return NULL;
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void qk_arena_free(qk_arena *a)
{
    qk_arena_block *b, *next;
    if (!a) return;
    for (b = a->head; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
    a->used = 0;
}
