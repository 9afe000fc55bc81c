/* SPDX-License-Identifier: MIT */
/*
 * main.c: `quack` entry point. Loads ./.env (without overriding the environment), then
 * dispatches `quack CMD [args]` through the command table to src/cli/cmd_<name>.c.
 * `quack`, `quack --help` and `quack help [CMD]` print help; unknown commands exit 2.
 * Started without arguments and with AWS_LAMBDA_RUNTIME_API set (as a Lambda function's
 * `bootstrap` is), it runs the AWS Lambda runtime loop instead (src/runtime, docs/lambda.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/runtime.h"

const qk_command qk_commands[] = {
    {"query", "run SQL over the lake (embedded, or against a running quack serve)", qk_help_query,
     qk_cmd_query},
    {"serve", "start the HTTP service (POST /invoke, POST /query, /health, /metrics)",
     qk_help_serve, qk_cmd_serve},
    {"demo", "create the demo lake: a synthetic NYC-taxi month (April 2019)", qk_help_demo,
     qk_cmd_demo},
    {"cache", "inspect or clear the local cache of remote objects", qk_help_cache, qk_cmd_cache},
    {"lake", "list, copy and remove objects in a lake (local or s3://)", qk_help_lake, qk_cmd_lake},
    {"table", "Delta tables: load CSV or a query, info, history, vacuum", qk_help_table,
     qk_cmd_table},
    {"lineage", "which tables were made from which", qk_help_lineage, qk_cmd_lineage},
    {"bench", "benchmarks: 'bench reduce' (quack-reduce), 'bench delta' (Delta tables)",
     qk_help_bench, qk_cmd_bench},
    {"version", "print version information", qk_help_version, qk_cmd_version},
    {NULL, NULL, NULL, NULL},
};

static void print_main_help(FILE *f)
{
    fprintf(f, "quack: SQL over a data lake, on DuckDB.\n\n"
               "Usage: quack COMMAND [OPTIONS]\n\nCommands:\n");
    for (const qk_command *c = qk_commands; c->name; c++)
        fprintf(f, "  %-9s %s\n", c->name, c->summary);
    fprintf(f, "\nRun 'quack COMMAND --help' for a command's options.\n"
               "Environment: QUACK_LAKE (lake root, default ./lake), QUACK_LOG_LEVEL; a .env file\n"
               "in the working directory is read first (variables already set win).\n"
               "With AWS_LAMBDA_RUNTIME_API set and no COMMAND, quack is an AWS Lambda custom\n"
               "runtime (the function's bootstrap): see docs/lambda.md.\n");
}

int main(int argc, char **argv)
{
    qk_err err = {0};
    if (qk_env_load_file(".env", &err) != 0) fprintf(stderr, "quack: warning: .env: %s\n", err.msg);
    if (argc < 2) {
        const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
        if (api && *api) return qk_runtime_main();
        print_main_help(stderr);
        return QK_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_main_help(stdout);
        return QK_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return qk_cmd_version(1, argv + 1);
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_main_help(stdout);
            return QK_EXIT_OK;
        }
        name = argv[2];
        for (const qk_command *c = qk_commands; c->name; c++)
            if (strcmp(c->name, name) == 0) {
                fputs(c->help, stdout);
                return QK_EXIT_OK;
            }
    }
    for (const qk_command *c = qk_commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "quack: unknown command '%s' (see 'quack --help')\n", name);
    return QK_EXIT_USAGE;
}
