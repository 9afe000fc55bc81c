/* SPDX-License-Identifier: MIT */
/*
 * cmd_cache.c: `quack cache ls|stats|clear|fetch`: look at, empty, or fill the local cache of
 * remote objects (src/store/cache.h). Parses the flags, opens the cache (--dir, else the
 * default dir), and prints a table or one JSON object (--json) on stdout. The work is in the
 * store module; this file only talks to the terminal. docs/cache.md is the user's page.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "store/cache.h"

const char qk_help_cache[] =
    "Usage: quack cache ls|stats|clear [--dir DIR] [--json]\n"
    "       quack cache fetch --store URI KEY [--dir DIR] [--json]\n"
    "\n"
    "Inspect or clear the local cache of remote objects (the files queries read from S3).\n"
    "  ls      list cached objects, most recently used first: size, last use (UTC), ETag and\n"
    "          the object (store URI/key)\n"
    "  stats   number of objects, bytes used and the size limit\n"
    "  clear   remove every cached object (asks nothing) and print what was removed\n"
    "  fetch   copy one object of any store (a local lake dir, s3://bucket/prefix) into the\n"
    "          cache and print its cached path and whether it was a hit (debugging, tests)\n"
    "\n"
    "Options:\n"
    "  --dir DIR      the cache dir (default: $XDG_CACHE_HOME/quack, else ~/.cache/quack,\n"
    "                 else /tmp/quack-cache when HOME is not writable)\n"
    "  --store URI    fetch: the store holding KEY\n"
    "  --json         print one JSON object instead of text\n"
    "  -h, --help     show this help\n"
    "\n"
    "Environment: QUACK_CACHE_MAX (size limit, e.g. 512MB, 10GiB; default 10 GiB).\n"
    "Exit status: 0 done, 1 the cache could not be read or changed, 2 bad arguments.\n"
    "See docs/cache.md.\n";

typedef struct cache_args {
    const char *sub, *dir, *store, *key;
    bool json;
} cache_args;

static const char *utc(int64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0) out[0] = '\0';
    return out;
}

static int add_str_member(qk_buf *b, const char *name, const char *v)
{
    int rc = qk_buf_printf(b, "\"%s\":", name);
    return rc ? rc : qk_buf_add_json_str(b, v, strlen(v));
}

/* Print one JSON object (built with json_pack) on its own line; takes the reference. */
static int print_json(json_t *o, qk_err *err)
{
    int rc = o && json_dumpf(o, stdout, JSON_COMPACT) == 0 ? 0 : QK_ENOMEM;
    json_decref(o);
    if (rc) return qk_errf(err, rc, "cannot build the JSON result");
    fputc('\n', stdout);
    return 0;
}

/* ---- ls ---------------------------------------------------------------------------------- */

typedef struct ls_state {
    bool json;
    qk_buf *b;
    uint64_t n;
} ls_state;

static int ls_one(void *ud, const qk_cache_entry *e, qk_err *err)
{
    ls_state *st = ud;
    char sz[32], t[32];
    int rc = 0;
    (void)err;
    if (!st->json) {
        if (st->n == 0)
            printf("%10s  %-19s  %s  %s\n", "SIZE", "LAST USED (UTC)", "ETAG", "OBJECT");
        printf("%10s  %s  %s  %s/%s\n", qk_cli_human_bytes(e->size, sz, sizeof sz),
               utc(e->last_used_ms, t, sizeof t), e->etag, e->uri, e->key);
        st->n++;
        return 0;
    }
    rc = qk_buf_adds(st->b, st->n++ ? ",{" : "{");
    if (!rc) rc = add_str_member(st->b, "uri", e->uri);
    if (!rc) rc = qk_buf_addc(st->b, ',');
    if (!rc) rc = add_str_member(st->b, "key", e->key);
    if (!rc) rc = qk_buf_addc(st->b, ',');
    if (!rc) rc = add_str_member(st->b, "etag", e->etag);
    if (!rc) rc = qk_buf_addc(st->b, ',');
    if (!rc) rc = add_str_member(st->b, "path", e->path);
    if (!rc)
        rc = qk_buf_printf(st->b, ",\"size\":%llu,\"fetched_ms\":%lld,\"last_used_ms\":%lld}",
                           (unsigned long long)e->size, (long long)e->fetched_ms,
                           (long long)e->last_used_ms);
    return rc ? qk_errf(err, rc, "listing too big for --json") : 0;
}

static int run_ls(qk_cache *c, const cache_args *a, qk_err *err)
{
    qk_buf b;
    ls_state st = {.json = a->json, .b = &b};
    int rc;
    qk_buf_init(&b, 1u << 30);
    rc = qk_buf_adds(&b, "{");
    if (!rc) rc = add_str_member(&b, "dir", qk_cache_dir(c));
    if (!rc) rc = qk_buf_adds(&b, ",\"objects\":[");
    if (!rc) rc = qk_cache_list(c, ls_one, &st, err);
    if (!rc && a->json) {
        if (!(rc = qk_buf_adds(&b, "]}\n"))) fputs(qk_buf_cstr(&b), stdout);
    } else if (!rc && st.n == 0)
        printf("(the cache at %s is empty)\n", qk_cache_dir(c));
    if (rc && !err->msg[0]) qk_errf(err, rc, "cannot build the listing");
    qk_buf_free(&b);
    return rc;
}

/* ---- stats, clear, fetch ----------------------------------------------------------------- */

static int run_stats(qk_cache *c, const cache_args *a, qk_err *err)
{
    qk_cache_stats st;
    char b1[32], b2[32];
    int rc = qk_cache_stats_get(c, &st, err);
    if (rc) return rc;
    if (a->json)
        return print_json(json_pack("{s:s,s:I,s:I,s:I}", "dir", qk_cache_dir(c), "objects",
                                    (json_int_t)st.objects, "bytes", (json_int_t)st.bytes,
                                    "max_bytes", (json_int_t)st.max_bytes),
                          err);
    printf("dir      %s\n", qk_cache_dir(c));
    printf("objects  %llu\n", (unsigned long long)st.objects);
    printf("bytes    %s (%llu)\n", qk_cli_human_bytes(st.bytes, b1, sizeof b1),
           (unsigned long long)st.bytes);
    printf("max      %s (%.1f%% used)\n", qk_cli_human_bytes(st.max_bytes, b2, sizeof b2),
           st.max_bytes ? 100.0 * (double)st.bytes / (double)st.max_bytes : 0.0);
    return 0;
}

static int run_clear(qk_cache *c, const cache_args *a, qk_err *err)
{
    uint64_t n = 0, bytes = 0;
    char h[32];
    int rc = qk_cache_clear(c, &n, &bytes, err);
    if (rc) return rc;
    if (a->json)
        return print_json(json_pack("{s:s,s:I,s:I}", "dir", qk_cache_dir(c), "removed_objects",
                                    (json_int_t)n, "removed_bytes", (json_int_t)bytes),
                          err);
    printf("removed %llu object%s (%s) from %s\n", (unsigned long long)n, n == 1 ? "" : "s",
           qk_cli_human_bytes(bytes, h, sizeof h), qk_cache_dir(c));
    return 0;
}

static int run_fetch(qk_cache *c, const cache_args *a, qk_err *err)
{
    qk_store *s = NULL;
    char *path = NULL;
    bool hit = false;
    int rc = qk_store_open(a->store, &s, err);
    if (!rc) rc = qk_cache_fetch(c, s, a->key, NULL, &path, &hit, err);
    if (!rc && a->json)
        rc = print_json(json_pack("{s:s,s:b}", "path", path, "hit", hit), err);
    else if (!rc)
        printf("%s %s\n", hit ? "hit" : "miss", path);
    free(path);
    qk_store_destroy(s);
    return rc;
}

/* ---- arguments --------------------------------------------------------------------------- */

enum { OPT_DIR = 256, OPT_JSON, OPT_STORE };

static int parse_args(int argc, char **argv, cache_args *a)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"json", no_argument, NULL, OPT_JSON},
        {"store", required_argument, NULL, OPT_STORE},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        if (opt == ':')
            return qk_cli_usage_error("cache", "option '%s' needs a value", argv[optind - 1]);
        if (opt == '?') return qk_cli_usage_error("cache", "unknown option '%s'", argv[optind - 1]);
        if (opt == OPT_DIR) a->dir = optarg;
        if (opt == OPT_JSON) a->json = true;
        if (opt == OPT_STORE) a->store = optarg;
    }
    if (optind >= argc) return qk_cli_usage_error("cache", "missing subcommand (ls, stats, clear)");
    a->sub = argv[optind++];
    if (strcmp(a->sub, "fetch") == 0) {
        if (!a->store) return qk_cli_usage_error("cache", "fetch needs --store URI");
        if (optind >= argc) return qk_cli_usage_error("cache", "fetch needs a KEY");
        a->key = argv[optind++];
    } else if (strcmp(a->sub, "ls") && strcmp(a->sub, "stats") && strcmp(a->sub, "clear"))
        return qk_cli_usage_error("cache", "unknown subcommand '%s'", a->sub);
    else if (a->store)
        return qk_cli_usage_error("cache", "--store is only for fetch");
    if (optind < argc) return qk_cli_usage_error("cache", "unexpected argument '%s'", argv[optind]);
    return QK_EXIT_OK;
}

int qk_cmd_cache(int argc, char **argv)
{
    cache_args a = {0};
    qk_cache *c = NULL;
    qk_err err = {0};
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_cache)) return QK_EXIT_OK;
    if ((rc = parse_args(argc, argv, &a)) != QK_EXIT_OK) return rc;
    rc = qk_cache_open(a.dir, 0, &c, &err);
    if (!rc) {
        if (strcmp(a.sub, "ls") == 0)
            rc = run_ls(c, &a, &err);
        else if (strcmp(a.sub, "stats") == 0)
            rc = run_stats(c, &a, &err);
        else if (strcmp(a.sub, "clear") == 0)
            rc = run_clear(c, &a, &err);
        else
            rc = run_fetch(c, &a, &err);
    }
    qk_cache_close(c);
    if (rc) {
        qk_cli_print_err("cache", &err);
        return QK_EXIT_QUERY;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "quack cache: cannot write the output\n");
        return QK_EXIT_QUERY;
    }
    return QK_EXIT_OK;
}
