/* SPDX-License-Identifier: MIT */
/*
 * sql.c: the little SQL text handling the engine needs besides DuckDB's own parser: finding
 * where the last statement really ends, so a single SELECT can be wrapped as a subquery. This
 * is a lexer, not a parser: it skips '...' and "..." (doubled quotes), E'...' backslash
 * escapes, $tag$...$tag$ dollar quotes, -- line comments and nested block comments.
 */
#include "engine/engine_int.h"

#include <ctype.h>
#include <string.h>

/* If s[i] starts a dollar-quote tag ($$ or $tag$), return the tag length (incl. both $). */
static size_t dollar_tag(const char *s, size_t i)
{
    size_t j = i + 1;
    if (s[i] != '$') return 0;
    if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_')) return 0;
    while (s[j] && (isalnum((unsigned char)s[j]) || s[j] == '_'))
        j++;
    if (s[j] != '$') return 0;
    if (j > i + 1 && isdigit((unsigned char)s[i + 1])) return 0; /* $1 parameter */
    return j - i + 1;
}

size_t qk_sql_trimmed_len(const char *s)
{
    size_t i = 0, end = 0, n = strlen(s);
    while (i < n) {
        char c = s[i];
        if (c == '-' && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (c == '/' && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < n && depth) {
                if (s[i] == '/' && s[i + 1] == '*')
                    depth++, i += 2;
                else if (s[i] == '*' && s[i + 1] == '/')
                    depth--, i += 2;
                else
                    i++;
            }
        } else if (c == '\'' || c == '"') {
            bool esc = c == '\'' && i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e');
            i++;
            while (i < n) {
                if (esc && s[i] == '\\' && i + 1 < n) {
                    i += 2;
                    continue;
                }
                if (s[i] == c) {
                    if (s[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i++;
            }
            i = i < n ? i + 1 : n;
            end = i;
        } else if (c == '$' && dollar_tag(s, i)) {
            size_t t = dollar_tag(s, i);
            const char *close = NULL;
            for (size_t j = i + t; j + t <= n; j++)
                if (memcmp(s + j, s + i, t) == 0) {
                    close = s + j;
                    break;
                }
            i = close ? (size_t)(close - s) + t : n;
            end = i;
        } else {
            if (!isspace((unsigned char)c) && c != ';') end = i + 1;
            i++;
        }
    }
    return end;
}
