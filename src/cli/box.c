/* SPDX-License-Identifier: MIT */
/*
 * box.c: the small metadata box `quack query` prints above a result table, drawn with the
 * same box characters as the result table:
 *   ┌────────┬──────┐
 *   │ timeMs │ warm │
 *   ├────────┼──────┤
 *   │  1.234 │ true │
 *   └────────┴──────┘
 * Cells are ASCII (numbers and words), so byte length is display width.
 */
#include <string.h>

#include "cli/cli.h"

static void rule(FILE *f, int n, const size_t *w, const char *l, const char *m, const char *r)
{
    fputs(l, f);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < w[i] + 2; k++)
            fputs("─", f);
        fputs(i + 1 < n ? m : r, f);
    }
    fputc('\n', f);
}

void qk_cli_print_box(FILE *f, int n, const char *const *names, const char *const *values)
{
    size_t w[32] = {0};
    if (n > 32) n = 32;
    for (int i = 0; i < n; i++) {
        size_t a = strlen(names[i]), b = strlen(values[i]);
        w[i] = a > b ? a : b;
    }
    rule(f, n, w, "┌", "┬", "┐");
    fputs("│", f);
    for (int i = 0; i < n; i++) {
        size_t pad = w[i] - strlen(names[i]);
        fprintf(f, " %*s%s%*s │", (int)(pad / 2), "", names[i], (int)(pad - pad / 2), "");
    }
    fputc('\n', f);
    rule(f, n, w, "├", "┼", "┤");
    fputs("│", f);
    for (int i = 0; i < n; i++)
        fprintf(f, " %*s │", (int)w[i], values[i]);
    fputc('\n', f);
    rule(f, n, w, "└", "┴", "┘");
}
