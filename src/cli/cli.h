/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the command-line front end. src/main.c dispatches `quack CMD ...` to one function per
 * command, each in its own file src/cli/cmd_<name>.c, with its --help text beside it.
 * Commands return the process exit code: QK_EXIT_OK (0), QK_EXIT_QUERY (1: the work failed),
 * QK_EXIT_USAGE (2: bad flags or arguments). Commands parse flags with getopt_long and print
 * errors as "quack CMD: message" on stderr. No logic a server request would also need lives
 * here (DESIGN.md section 2).
 */
#ifndef QK_CLI_H
#define QK_CLI_H

#include <stdio.h>

#include "core/core.h"

enum { QK_EXIT_OK = 0, QK_EXIT_QUERY = 1, QK_EXIT_USAGE = 2 };

typedef struct qk_command {
    const char *name;
    const char *summary; /* one line for `quack --help` */
    const char *help;    /* full text for `quack CMD --help` */
    int (*run)(int argc, char **argv);
} qk_command;

/* The command table (src/main.c), NULL-name terminated. */
extern const qk_command qk_commands[];

/* Each command file defines these two (help text and entry point). */
extern const char qk_help_query[], qk_help_serve[], qk_help_demo[], qk_help_version[];
int qk_cmd_query(int argc, char **argv);
int qk_cmd_serve(int argc, char **argv);
int qk_cmd_demo(int argc, char **argv);
int qk_cmd_version(int argc, char **argv);
extern const char qk_help_cache[];
int qk_cmd_cache(int argc, char **argv);
extern const char qk_help_lake[];
int qk_cmd_lake(int argc, char **argv);
extern const char qk_help_table[], qk_help_lineage[];
int qk_cmd_table(int argc, char **argv);
int qk_cmd_lineage(int argc, char **argv);
extern const char qk_help_bench[];
int qk_cmd_bench(int argc, char **argv);

/* Print "quack CMD: <msg>" to stderr and return QK_EXIT_USAGE. */
int qk_cli_usage_error(const char *cmd, const char *fmt, ...) QK_PRINTF(2, 3);
/* Print "quack CMD: <err->msg>" to stderr. */
void qk_cli_print_err(const char *cmd, const qk_err *err);
/* True when argv holds -h/--help before any "--"; prints the command's help to stdout. */
bool qk_cli_wants_help(int argc, char **argv, const char *help);
/* The lake root: the --lake value if given, else QUACK_LAKE, else "lake". */
const char *qk_cli_lake(const char *flag_value);

/* Format a byte count for people: 1536 -> "1.5 KiB". Returns out. */
const char *qk_cli_human_bytes(uint64_t n, char *out, size_t cap);
/* Print a one-row box (names over values, values right-aligned) like the result tables. */
void qk_cli_print_box(FILE *f, int n, const char *const *names, const char *const *values);

#endif
