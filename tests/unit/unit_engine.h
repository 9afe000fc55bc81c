/* SPDX-License-Identifier: MIT */
/*
 * unit_engine.h: the engine the lake unit tests share: lake <dir>/lake (created), cache
 * <dir>/cache, temp <dir>/tmp (or a fresh one of the engine's own when with_temp is false),
 * 2 DuckDB threads, sandbox on. Prints the reason and returns -1 when it cannot open.
 */
#ifndef QK_UNIT_ENGINE_H
#define QK_UNIT_ENGINE_H

#include <stdio.h>

#include "engine/engine.h"

static inline int qk_test_engine_open(const char *dir, bool with_temp, qk_engine **out)
{
    qk_engine_config c;
    qk_err err = {0};
    char lake[512], cache[512], tmp[512];
    snprintf(lake, sizeof lake, "%s/lake", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    qk_engine_config_defaults(&c);
    c.lake = lake;
    c.cache_dir = cache;
    if (with_temp) c.temp_dir = tmp;
    c.threads = 2;
    c.create_lake = true;
    if (qk_engine_open(&c, out, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

#endif
