/* SPDX-License-Identifier: MIT */
/* cmd_version.c: `quack version`: quack's version and the DuckDB library it runs on. */
#include <duckdb.h>
#include <stdio.h>

#include "cli/cli.h"

#ifndef QUACK_VERSION
#define QUACK_VERSION "0.1.0"
#endif

const char qk_help_version[] = "Usage: quack version\n\nPrint quack's version and DuckDB's.\n";

int qk_cmd_version(int argc, char **argv)
{
    if (qk_cli_wants_help(argc, argv, qk_help_version)) return QK_EXIT_OK;
    printf("quack %s (DuckDB %s)\n", QUACK_VERSION, duckdb_library_version());
    return QK_EXIT_OK;
}
