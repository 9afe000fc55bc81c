/* SPDX-License-Identifier: MIT */
/*
 * common.c: helpers shared by the command files: usage errors, --help detection, the lake
 * default (--lake, then QUACK_LAKE, then ./lake).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int qk_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "quack %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'quack %s --help')\n", cmd);
    return QK_EXIT_USAGE;
}

void qk_cli_print_err(const char *cmd, const qk_err *err)
{
    fprintf(stderr, "quack %s: %s\n", cmd, err->msg[0] ? err->msg : qk_strerror(err->code));
}

bool qk_cli_wants_help(int argc, char **argv, const char *help)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(help, stdout);
            return true;
        }
    }
    return false;
}

const char *qk_cli_lake(const char *flag_value)
{
    if (flag_value && *flag_value) return flag_value;
    return qk_env_str("QUACK_LAKE", "lake");
}

/* 1536 -> "1.5 KiB" (binary units; plain bytes below 1 KiB). */
const char *qk_cli_human_bytes(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(out, cap, "%.1f %s", v, units[u]);
    return out;
}
