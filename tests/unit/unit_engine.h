/* SPDX-License-Identifier: MIT */
/*
 * unit_engine.h: the engine the lake unit tests share: lake <dir>/lake (created), cache
 * <dir>/cache, temp <dir>/tmp (or a fresh one of the engine's own when with_temp is false),
 * 2 DuckDB threads, sandbox on. Prints the reason and returns -1 when it cannot open.
 * Also the other pieces the lake unit tests share: closing it (teardown), local-directory
 * "buckets" for the lake's open_store hooks, and running fixture SQL.
 */
#ifndef QK_UNIT_ENGINE_H
#define QK_UNIT_ENGINE_H

#include <stdio.h>

#include "engine/engine.h"
#include "store/store.h"

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

/* Close e and remove dir: a cmocka teardown's body (0, or -1 when dir cannot be removed). */
static inline int qk_test_engine_done(qk_engine *e, const char *dir)
{
    qk_engine_close(e);
    return qk_rmtree(dir, false, NULL) == 0 ? 0 : -1;
}

/* An open_store hook (qk_lake_open_store_fn): bucket b is the local directory
 * <ud>/lake/buckets/<b>, ud being the test's temp dir. */
static inline int qk_test_local_bucket(void *ud, const char *bucket, qk_store **out, qk_err *err)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/lake/buckets/%s", (const char *)ud, bucket);
    return qk_store_open(path, out, err);
}

/* Run trusted fixture SQL; print DuckDB's message and return -1 when it fails. */
static inline int qk_test_exec(qk_engine *e, const char *sql)
{
    qk_err err = {0};
    if (qk_engine_exec(e, sql, &err) == 0) return 0;
    fprintf(stderr, "fixture: %s\n", err.msg);
    return -1;
}

#endif
