/* SPDX-License-Identifier: MIT */
/*
 * cmd_table.c: `quack table load|info|history|vacuum` and `quack lineage`: the lake's Delta
 * tables (docs/tables.md). The work is done by src/lake/table.c, lineage.c and src/delta; this
 * file parses flags and prints.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/json.h"
#include "delta/delta.h"
#include "engine/engine.h"
#include "lake/lineage.h"
#include "lake/table.h"
#include "store/store.h"

#define HOURS_MS ((int64_t)3600 * 1000)
#define VACUUM_MIN_HOURS 168 /* Delta's default retention: 7 days */

const char qk_help_table[] =
    "Usage: quack table load NAME (--from PATH | --query SQL) [--mode MODE] [OPTIONS]\n"
    "       quack table info NAME [--json]\n"
    "       quack table history NAME [--limit N] [--json]\n"
    "       quack table vacuum NAME [--retain HOURS] [--delete] [--force] [--json]\n"
    "\n"
    "The lake's Delta tables (NAME: silver.trips, gold.\"my table\"; folders silver/trips/).\n"
    "\n"
    "  load     write CSV files or a query's rows into a Delta table. --from: a directory (its\n"
    "           .csv/.tsv/.txt files, optionally .gz/.zst), a file or a glob, local or s3://\n"
    "           (a relative path that is not here is looked up in the lake); DuckDB sniffs\n"
    "           delimiter, quotes, header, CRLF and types. --query: a SELECT over the lake\n"
    "           (table names, =(^)name, s3:// paths). Prints rows, files and the version.\n"
    "  info     the table's latest version: files, bytes, rows, partitions, schema, properties\n"
    "  history  the commits, newest first: version, time, operation, files added/removed, rows\n"
    "  vacuum   the data files no version of the last HOURS references (old versions' files,\n"
    "           files of failed writers). A dry run unless --delete.\n"
    "\n"
    "Options:\n"
    "  --lake URI             the lake (default $QUACK_LAKE, else ./lake)\n"
    "  --mode MODE            load: create (default; fails if the table exists), append\n"
    "                         (creates it when missing) or overwrite (replaces the rows and,\n"
    "                         if different, the schema)\n"
    "  --partition-by COLS    load: partition columns, comma-separated (new tables, overwrite)\n"
    "  --csv-options TEXT     load: extra read_csv arguments, e.g. \"delim = ';'\"\n"
    "  --app-id ID --txn-version N\n"
    "                         load: an idempotent load: a second load with the same ID and a\n"
    "                         version not above the last one committed writes nothing\n"
    "  --quiet                load: no progress on stderr\n"
    "  --limit N              history: the newest N commits (default all)\n"
    "  --retain HOURS         vacuum: keep every version of the last HOURS (default 168)\n"
    "  --delete               vacuum: delete the files (default: list them only)\n"
    "  --force                vacuum: allow --retain below 168 hours (time travel to older\n"
    "                         versions then fails; a writer running longer than HOURS loses\n"
    "                         its files)\n"
    "  --json                 print JSON\n";

const char qk_help_lineage[] =
    "Usage: quack lineage [NAME] [--lake URI] [--json]\n"
    "\n"
    "Which tables were made from which: every `quack table load` and every CREATE TABLE AS\n"
    "records its table, the lake tables its query read (its parents), the query, the version\n"
    "and the time in the lake's lineage log (_quack/lineage, a Delta table). Without NAME:\n"
    "every table with its parents as a tree; with NAME: its ancestors and its descendants.\n"
    "--json prints the graph as GET /lineage returns it.\n";

enum {
    OPT_LAKE = 256,
    OPT_FROM,
    OPT_QUERY,
    OPT_MODE,
    OPT_PARTITION_BY,
    OPT_CSV_OPTIONS,
    OPT_APP_ID,
    OPT_TXN_VERSION,
    OPT_QUIET,
    OPT_LIMIT,
    OPT_RETAIN,
    OPT_DELETE,
    OPT_FORCE,
    OPT_JSON,
};

typedef struct table_args {
    const char *sub, *name, *lake, *from, *query, *csv_options, *app_id;
    int mode;
    char *partition_by[32];
    size_t npartition_by;
    int64_t txn_version, limit, retain_hours;
    bool has_txn, quiet, del, force, json;
} table_args;

static int parse_mode(const char *s, int *mode)
{
    if (!strcmp(s, "create"))
        *mode = QK_DELTA_CREATE;
    else if (!strcmp(s, "append"))
        *mode = QK_DELTA_APPEND;
    else if (!strcmp(s, "overwrite"))
        *mode = QK_DELTA_OVERWRITE;
    else
        return -1;
    return 0;
}

static int split_cols(table_args *a, const char *s)
{
    char *copy = qk_xstrdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (!*t || a->npartition_by == 32) {
            free(copy);
            return -1;
        }
        a->partition_by[a->npartition_by++] = qk_xstrdup(t);
    }
    free(copy);
    return a->npartition_by ? 0 : -1;
}

static int parse_opt(table_args *a, int opt, const char *cmd)
{
    qk_err err = {0};
    switch (opt) {
    case OPT_LAKE:
        a->lake = optarg;
        break;
    case OPT_FROM:
        a->from = optarg;
        break;
    case OPT_QUERY:
        a->query = optarg;
        break;
    case OPT_MODE:
        if (parse_mode(optarg, &a->mode))
            return qk_cli_usage_error(cmd, "--mode: want create, append or overwrite, not '%s'",
                                      optarg);
        break;
    case OPT_PARTITION_BY:
        if (split_cols(a, optarg))
            return qk_cli_usage_error(cmd, "--partition-by: want COL[,COL...] (at most 32)");
        break;
    case OPT_CSV_OPTIONS:
        a->csv_options = optarg;
        break;
    case OPT_APP_ID:
        if (!*optarg) return qk_cli_usage_error(cmd, "--app-id: empty");
        a->app_id = optarg;
        break;
    case OPT_TXN_VERSION:
        if (qk_parse_int64(optarg, 0, INT64_MAX, &a->txn_version, "--txn-version", &err))
            return qk_cli_usage_error(cmd, "%s", err.msg);
        a->has_txn = true;
        break;
    case OPT_QUIET:
        a->quiet = true;
        break;
    case OPT_LIMIT:
        if (qk_parse_int64(optarg, 1, INT64_MAX, &a->limit, "--limit", &err))
            return qk_cli_usage_error(cmd, "%s", err.msg);
        break;
    case OPT_RETAIN:
        if (qk_parse_int64(optarg, 0, (int64_t)24 * 365 * 100, &a->retain_hours, "--retain", &err))
            return qk_cli_usage_error(cmd, "%s", err.msg);
        break;
    case OPT_DELETE:
        a->del = true;
        break;
    case OPT_FORCE:
        a->force = true;
        break;
    case OPT_JSON:
        a->json = true;
        break;
    default:
        return qk_cli_usage_error(cmd, "unknown option");
    }
    return QK_EXIT_OK;
}

/* Which options each subcommand takes (a bit per OPT_ - 256). */
static unsigned allowed(const char *sub)
{
#define B(o) (1u << ((o)-OPT_LAKE))
    unsigned common = B(OPT_LAKE) | B(OPT_JSON);
    if (!strcmp(sub, "load"))
        return common | B(OPT_FROM) | B(OPT_QUERY) | B(OPT_MODE) | B(OPT_PARTITION_BY) |
               B(OPT_CSV_OPTIONS) | B(OPT_APP_ID) | B(OPT_TXN_VERSION) | B(OPT_QUIET);
    if (!strcmp(sub, "history")) return common | B(OPT_LIMIT);
    if (!strcmp(sub, "vacuum")) return common | B(OPT_RETAIN) | B(OPT_DELETE) | B(OPT_FORCE);
    return common; /* info, lineage */
#undef B
}

static int parse_args(int argc, char **argv, table_args *a, const char *cmd, int first)
{
    static const struct option longopts[] = {
        {"lake", required_argument, NULL, OPT_LAKE},
        {"from", required_argument, NULL, OPT_FROM},
        {"query", required_argument, NULL, OPT_QUERY},
        {"mode", required_argument, NULL, OPT_MODE},
        {"partition-by", required_argument, NULL, OPT_PARTITION_BY},
        {"csv-options", required_argument, NULL, OPT_CSV_OPTIONS},
        {"app-id", required_argument, NULL, OPT_APP_ID},
        {"txn-version", required_argument, NULL, OPT_TXN_VERSION},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"retain", required_argument, NULL, OPT_RETAIN},
        {"delete", no_argument, NULL, OPT_DELETE},
        {"force", no_argument, NULL, OPT_FORCE},
        {"json", no_argument, NULL, OPT_JSON},
        {NULL, 0, NULL, 0},
    };
    unsigned ok = allowed(a->sub);
    int opt, rc, n = argc - first;
    char **v = argv + first;
    a->retain_hours = VACUUM_MIN_HOURS;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(n, v, ":", longopts, NULL)) != -1) {
        if (opt == '?') return qk_cli_usage_error(cmd, "unknown option '%s'", v[optind - 1]);
        if (opt == ':') return qk_cli_usage_error(cmd, "'%s' needs a value", v[optind - 1]);
        if (!(ok & (1u << (opt - OPT_LAKE))))
            return qk_cli_usage_error(cmd, "'%s' does not apply to %s", v[optind - 1], a->sub);
        if ((rc = parse_opt(a, opt, cmd)) != QK_EXIT_OK) return rc;
    }
    if (optind < n) a->name = v[optind++];
    if (optind < n) return qk_cli_usage_error(cmd, "unexpected argument '%s'", v[optind]);
    return QK_EXIT_OK;
}

static int open_engine(const table_args *a, bool local_source, qk_engine **e, qk_err *err)
{
    qk_engine_config cfg;
    qk_engine_config_defaults(&cfg);
    cfg.lake = qk_cli_lake(a->lake);
    cfg.create_lake = !strcmp(a->sub, "load");
    /* CSV files outside the lake are the user's own: read them as DuckDB's CLI would */
    cfg.no_sandbox = local_source;
    return qk_engine_open(&cfg, e, err);
}

/* Is from a local path outside the lake (which the sandbox would refuse)? */
static bool outside_lake(const char *from, const char *lake)
{
    char *abs = NULL, *root = NULL;
    bool out;
    struct stat st;
    if (!from || qk_str_startswith(from, "s3://")) return false;
    if (*from != '/' && stat(from, &st) != 0) return false; /* a path of the lake */
    if (qk_str_startswith(lake, "s3://")) return true;
    if (qk_path_abs(from, &abs, NULL) || qk_path_abs(lake, &root, NULL)) {
        free(abs);
        return true;
    }
    out = !(qk_str_startswith(abs, root) && (abs[strlen(root)] == '/' || !abs[strlen(root)]));
    free(abs);
    free(root);
    return out;
}

/* ---- load --------------------------------------------------------------------------------- */

typedef struct load_progress {
    bool tty;
    int64_t last_ms;
    bool drawn;
} load_progress;

static void on_progress(void *ud, const char *stage, uint64_t done, uint64_t total)
{
    load_progress *p = ud;
    int64_t now = qk_now_ms();
    if (!p->tty || (now - p->last_ms < 100 && done != total)) return;
    p->last_ms = now;
    p->drawn = true;
    if (total)
        fprintf(stderr, "\r\033[Kquack table load: %s %llu/%llu (%.0f%%)", stage,
                (unsigned long long)done, (unsigned long long)total,
                100.0 * (double)done / (double)total);
    else
        fprintf(stderr, "\r\033[Kquack table load: %s %llu", stage, (unsigned long long)done);
}

static void print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) puts(s);
    free(s);
    json_decref(o);
}

static int run_load(const table_args *a, qk_err *err)
{
    qk_engine *e = NULL;
    qk_table_load_req req = {0};
    qk_table_load_result res;
    load_progress p = {.tty = !a->quiet && isatty(STDERR_FILENO) == 1};
    char h[32];
    int rc;
    if ((rc = open_engine(a, outside_lake(a->from, qk_cli_lake(a->lake)), &e, err))) return rc;
    req.name = a->name;
    req.from = a->from;
    req.query = a->query;
    req.mode = a->mode;
    req.partition_by = (const char *const *)a->partition_by;
    req.npartition_by = a->npartition_by;
    req.csv_options = a->csv_options;
    req.app_id = a->app_id;
    req.txn_version = a->txn_version;
    req.progress = on_progress;
    req.progress_ud = &p;
    rc = qk_table_load(e, &req, &res, err);
    if (p.drawn) fprintf(stderr, "\r\033[K");
    if (!rc && a->json) {
        print_json(qk_table_load_json(a->name, &res));
    } else if (!rc && res.write.skipped) {
        printf("%s: nothing written: app %s already committed txn version %lld (table version "
               "%lld)\n",
               a->name, a->app_id, (long long)a->txn_version, (long long)res.write.version);
    } else if (!rc) {
        const qk_delta_write_result *w = &res.write;
        printf("%s: %llu rows in %zu files (%s), version %lld%s%s\n", a->name,
               (unsigned long long)w->rows, w->files_added,
               qk_cli_human_bytes(w->bytes, h, sizeof h), (long long)w->version,
               w->created ? " (created)" : "", w->files_removed ? " (overwrote)" : "");
        if (w->attempts > 1)
            printf("  committed after %d attempts (other writers committed first)\n", w->attempts);
        if (w->checkpointed)
            printf("  checkpoint written at version %lld\n", (long long)w->version);
    }
    if (!rc && res.write.warning[0])
        fprintf(stderr, "quack table load: warning: %s\n", res.write.warning);
    if (!rc && res.lineage_failed)
        fprintf(stderr, "quack table load: warning: lineage not recorded: %s\n", res.lineage_error);
    qk_engine_close(e);
    return rc;
}

/* ---- info, history, vacuum ---------------------------------------------------------------- */

/* The Delta table called a->name: its path (caller frees). */
static int delta_path(const table_args *a, qk_store **lake, char **path, qk_err *err)
{
    bool exists = false;
    int rc = qk_store_open(qk_cli_lake(a->lake), lake, err);
    if (!rc) rc = qk_lake_delta_path(*lake, a->name, path, &exists, err);
    if (!rc && !exists) {
        rc = qk_errf(err, QK_ENOTFOUND, "no Delta table %s in %s", a->name, qk_store_uri(*lake));
        free(*path);
        *path = NULL;
    }
    return rc;
}

static int run_info(const table_args *a, qk_err *err)
{
    qk_store *lake = NULL;
    qk_engine *e = NULL;
    char *path = NULL, h[32];
    json_t *o = NULL;
    int rc = delta_path(a, &lake, &path, err);
    if (!rc) rc = open_engine(a, false, &e, err);
    if (!rc) rc = qk_lake_delta_json(e, lake, path, &o, err);
    if (!rc && a->json) {
        json_object_set_new(o, "name", json_string(a->name));
        json_object_set_new(o, "path", json_string(path));
        print_json(o);
        o = NULL;
    } else if (!rc) {
        json_t *c, *rows = json_object_get(o, "rows");
        size_t i;
        printf("%-11s %s\n%-11s %s/%s\n", "name", a->name, "location", qk_store_uri(lake), path);
        printf("%-11s %lld (%s)\n", "version",
               (long long)json_integer_value(json_object_get(o, "version")),
               qk_json_str(o, "timestamp"));
        printf("%-11s %lld\n", "files", (long long)json_integer_value(json_object_get(o, "files")));
        printf("%-11s %s\n", "bytes",
               qk_cli_human_bytes((uint64_t)json_integer_value(json_object_get(o, "bytes")), h,
                                  sizeof h));
        if (json_is_integer(rows))
            printf("%-11s %lld\n", "rows", (long long)json_integer_value(rows));
        else
            printf("%-11s unknown (a file has no stats)\n", "rows");
        printf("%-11s %lld\n", "partitions",
               (long long)json_integer_value(json_object_get(o, "partitions")));
        printf("%-11s %zu\n", "columns", json_array_size(json_object_get(o, "schema")));
        json_array_foreach(json_object_get(o, "schema"), i, c)
        {
            printf("  %s %s%s\n", qk_json_str(c, "name"), qk_json_str(c, "type"),
                   json_is_true(json_object_get(c, "partition")) ? "  (partition)" : "");
        }
        if (json_object_size(json_object_get(o, "properties"))) {
            const char *k;
            json_t *v;
            printf("properties\n");
            json_object_foreach(json_object_get(o, "properties"), k, v)
            {
                printf("  %s = %s\n", k, json_string_value(v) ? json_string_value(v) : "");
            }
        }
    }
    json_decref(o);
    qk_engine_close(e);
    qk_store_destroy(lake);
    free(path);
    return rc;
}

static int run_history(const table_args *a, qk_err *err)
{
    qk_store *lake = NULL;
    char *path = NULL;
    json_t *h = NULL, *c;
    size_t i;
    int rc = delta_path(a, &lake, &path, err);
    if (!rc) rc = qk_lake_history_json(lake, path, (size_t)a->limit, &h, err);
    if (!rc && a->json) {
        json_array_foreach(h, i, c)
        {
            print_json(json_incref(c));
        }
    } else if (!rc) {
        printf("%7s  %-20s  %-24s  %7s  %7s  %10s\n", "VERSION", "TIME (UTC)", "OPERATION", "ADDED",
               "REMOVED", "ROWS");
        json_array_foreach(h, i, c)
        {
            json_t *rows = json_object_get(c, "rows_added");
            char r[32] = "-";
            if (json_is_integer(rows))
                snprintf(r, sizeof r, "%lld", (long long)json_integer_value(rows));
            printf("%7lld  %-20s  %-24.24s  %7lld  %7lld  %10s\n",
                   (long long)json_integer_value(json_object_get(c, "version")),
                   qk_json_str(c, "timestamp"),
                   *qk_json_str(c, "operation") ? qk_json_str(c, "operation") : "-",
                   (long long)json_integer_value(json_object_get(c, "files_added")),
                   (long long)json_integer_value(json_object_get(c, "files_removed")), r);
        }
    }
    json_decref(h);
    qk_store_destroy(lake);
    free(path);
    return rc;
}

static int run_vacuum(const table_args *a, qk_err *err)
{
    qk_store *lake = NULL;
    qk_engine *e = NULL;
    qk_delta_vacuum_result *r = NULL;
    char *path = NULL, h[32], ts[40];
    int rc;
    if (a->retain_hours < VACUUM_MIN_HOURS && !a->force)
        return qk_errf(err, QK_EINVAL,
                       "--retain %lld is below %d hours: versions older than that could no longer "
                       "be read and a writer running longer could lose its files; add --force "
                       "if you mean it",
                       (long long)a->retain_hours, VACUUM_MIN_HOURS);
    rc = delta_path(a, &lake, &path, err);
    if (!rc) rc = open_engine(a, false, &e, err);
    if (!rc) rc = qk_delta_vacuum(e, lake, path, a->retain_hours * HOURS_MS, !a->del, &r, err);
    if (!rc && a->json) {
        json_t *files = json_array();
        for (size_t i = 0; i < r->n; i++)
            json_array_append_new(files, json_pack("{s:s, s:I, s:b}", "key", r->files[i].key,
                                                   "size", (json_int_t)r->files[i].size, "tracked",
                                                   r->files[i].tracked));
        print_json(json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:o}", "table", a->name, "dry_run",
                             !a->del, "retain_hours", (json_int_t)a->retain_hours, "keep_version",
                             (json_int_t)r->keep_version, "bytes", (json_int_t)r->bytes, "deleted",
                             (json_int_t)r->deleted, "files", files));
    } else if (!rc) {
        for (size_t i = 0; i < r->n; i++)
            printf("%s  %10llu  %s\n", r->files[i].tracked ? "old    " : "orphan ",
                   (unsigned long long)r->files[i].size, r->files[i].key);
        printf("%s %zu files (%s) of %s; versions from %lld on stay readable (cutoff %s)\n",
               a->del ? "deleted" : "would delete", a->del ? r->deleted : r->n,
               qk_cli_human_bytes(r->bytes, h, sizeof h), a->name, (long long)r->keep_version,
               qk_lake_fmt_time(qk_epoch_ms() - a->retain_hours * HOURS_MS, false, ts, sizeof ts));
        if (!a->del && r->n) printf("(a dry run: add --delete to delete them)\n");
    }
    qk_delta_vacuum_free(r);
    qk_engine_close(e);
    qk_store_destroy(lake);
    free(path);
    return rc;
}

static int check_load(const table_args *a)
{
    if (!a->from == !a->query)
        return qk_cli_usage_error("table", "load needs exactly one of --from PATH and --query SQL");
    if (!a->app_id != !a->has_txn)
        return qk_cli_usage_error("table", "--app-id and --txn-version go together");
    return QK_EXIT_OK;
}

int qk_cmd_table(int argc, char **argv)
{
    table_args a = {0};
    qk_err err = {0};
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_table)) return QK_EXIT_OK;
    if (argc < 2)
        return qk_cli_usage_error("table", "missing subcommand (load, info, history, vacuum)");
    a.sub = argv[1];
    if (strcmp(a.sub, "load") && strcmp(a.sub, "info") && strcmp(a.sub, "history") &&
        strcmp(a.sub, "vacuum"))
        return qk_cli_usage_error("table", "unknown subcommand '%s' (load, info, history, vacuum)",
                                  a.sub);
    rc = parse_args(argc, argv, &a, "table", 1);
    if (rc == QK_EXIT_OK && !a.name)
        rc = qk_cli_usage_error("table", "%s needs a table NAME", a.sub);
    if (rc == QK_EXIT_OK && !strcmp(a.sub, "load")) rc = check_load(&a);
    if (rc != QK_EXIT_OK) goto out;
    if (!strcmp(a.sub, "load"))
        rc = run_load(&a, &err);
    else if (!strcmp(a.sub, "info"))
        rc = run_info(&a, &err);
    else if (!strcmp(a.sub, "history"))
        rc = run_history(&a, &err);
    else
        rc = run_vacuum(&a, &err);
    if (rc) {
        fflush(stdout);
        qk_cli_print_err("table", &err);
        rc = err.code == QK_EINVAL && !strcmp(a.sub, "vacuum") ? QK_EXIT_USAGE : QK_EXIT_QUERY;
    }
out:
    for (size_t i = 0; i < a.npartition_by; i++)
        free(a.partition_by[i]);
    return rc;
}

/* ---- lineage ------------------------------------------------------------------------------ */

static void print_tree(json_t *tables, const char *name, const char *key, const char *prefix,
                       int depth)
{
    json_t *n = NULL, *v;
    size_t i, cnt;
    for (i = 0; i < json_array_size(tables) && !n; i++)
        if (!strcmp(qk_json_str(json_array_get(tables, i), "name"), name))
            n = json_array_get(tables, i);
    if (!n || depth > 64) return;
    cnt = json_array_size(json_object_get(n, key));
    json_array_foreach(json_object_get(n, key), i, v)
    {
        char next[512];
        bool last = i + 1 == cnt;
        json_t *child = NULL;
        for (size_t j = 0; j < json_array_size(tables) && !child; j++)
            if (!strcmp(qk_json_str(json_array_get(tables, j), "name"), json_string_value(v)))
                child = json_array_get(tables, j);
        printf("%s%s %s", prefix, last ? "└──" : "├──", json_string_value(v));
        if (child && json_is_integer(json_object_get(child, "version")))
            printf(" (v%lld)", (long long)json_integer_value(json_object_get(child, "version")));
        else if (child && !strcmp(qk_json_str(child, "kind"), "session"))
            printf(" (session)");
        putchar('\n');
        snprintf(next, sizeof next, "%s%s", prefix, last ? "    " : "│   ");
        print_tree(tables, json_string_value(v), key, next, depth + 1);
    }
}

static void print_node(json_t *t)
{
    printf("%s", qk_json_str(t, "name"));
    if (json_is_integer(json_object_get(t, "version")))
        printf(" (v%lld)", (long long)json_integer_value(json_object_get(t, "version")));
    else if (*qk_json_str(t, "kind"))
        printf(" (%s)", qk_json_str(t, "kind"));
    if (*qk_json_str(t, "time")) printf("  %s", qk_json_str(t, "time"));
    putchar('\n');
}

int qk_cmd_lineage(int argc, char **argv)
{
    table_args a = {.sub = "lineage"};
    qk_err err = {0};
    qk_store *lake = NULL;
    qk_engine *e = NULL;
    json_t *g = NULL, *t;
    size_t i;
    int rc;
    if (qk_cli_wants_help(argc, argv, qk_help_lineage)) return QK_EXIT_OK;
    if ((rc = parse_args(argc, argv, &a, "lineage", 0)) != QK_EXIT_OK) return rc;
    rc = qk_store_open(qk_cli_lake(a.lake), &lake, &err);
    if (!rc) rc = open_engine(&a, false, &e, &err);
    if (!rc) rc = qk_lineage_graph(e, lake, a.name, &g, &err);
    if (!rc && a.json) {
        print_json(g);
        g = NULL;
    } else if (!rc) {
        json_t *tables = json_object_get(g, "tables");
        if (json_array_size(tables) == 0) printf("no lineage recorded yet\n");
        json_array_foreach(tables, i, t)
        {
            const char *n = qk_json_str(t, "name");
            if (a.name ? strcmp(n, a.name) != 0 : !strcmp(qk_json_str(t, "kind"), "source"))
                continue;
            print_node(t);
            print_tree(tables, n, "parents", "", 0);
            if (a.name && json_array_size(json_object_get(t, "children"))) {
                printf("used by\n");
                print_tree(tables, n, "children", "", 0);
            }
        }
    }
    json_decref(g);
    qk_engine_close(e);
    qk_store_destroy(lake);
    if (rc) {
        qk_cli_print_err("lineage", &err);
        return QK_EXIT_QUERY;
    }
    return QK_EXIT_OK;
}
