/* SPDX-License-Identifier: MIT */
/*
 * env.c: configuration from the environment, and the seeds' `.env` convention. A .env file
 * holds KEY=VALUE lines; `#` starts a comment line; `export ` may prefix a line; values may be
 * quoted with '...' (literal) or "..." (\n, \" and \\ escapes). Variables already set in the
 * environment win over the file, as with docker compose and python-dotenv.
 */
#include "core/core.h"

#include <ctype.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define ENV_FILE_MAX (1u << 20)

const char *qk_env_str(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Parse one value starting at p (after '='), into out (cap bytes). Returns 0 or -1. */
static int parse_value(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && *p != q) {
            char c = *p++;
            if (q == '"' && c == '\\' && *p) {
                c = *p++;
                if (c == 'n')
                    c = '\n';
                else if (c == 't')
                    c = '\t';
            }
            if (n + 1 >= cap) return -1;
            out[n++] = c;
        }
        if (*p != q) return -1;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '#') return -1;
    } else {
        const char *end = p + strlen(p);
        const char *hash = strstr(p, " #");
        if (hash) end = hash;
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if ((size_t)(end - p) >= cap) return -1;
        memcpy(out, p, (size_t)(end - p));
        n = (size_t)(end - p);
    }
    out[n] = '\0';
    return 0;
}

int qk_env_load_file(const char *path, qk_err *err)
{
    char *text = NULL, *line, *next;
    size_t len;
    int rc, bad = 0, lineno = 0;
    rc = qk_read_file(path, ENV_FILE_MAX, &text, &len, err);
    if (rc == QK_ENOTFOUND) {
        qk_err_clear(err);
        return 0;
    }
    if (rc) return rc;
    for (line = text; line && *line; line = next) {
        char key[256], val[8192], *eq, *k;
        size_t klen;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        len = strlen(line);
        if (len && line[len - 1] == '\r') line[--len] = '\0';
        k = line;
        while (isspace((unsigned char)*k))
            k++;
        if (!*k || *k == '#') continue;
        if (strncmp(k, "export ", 7) == 0) k += 7;
        eq = strchr(k, '=');
        if (!eq) goto malformed;
        klen = (size_t)(eq - k);
        while (klen && isspace((unsigned char)k[klen - 1]))
            klen--;
        if (klen == 0 || klen >= sizeof key) goto malformed;
        memcpy(key, k, klen);
        key[klen] = '\0';
        for (size_t i = 0; i < klen; i++)
            if (!(isalnum((unsigned char)key[i]) || key[i] == '_')) goto malformed;
        if (parse_value(eq + 1, val, sizeof val) != 0) goto malformed;
        if (!getenv(key)) setenv(key, val, 0);
        continue;
    malformed:
        if (!bad) qk_errf(err, QK_EPARSE, "%s:%d: expected KEY=VALUE", path, lineno);
        bad = 1;
    }
    free(text);
    return bad ? QK_EPARSE : 0;
}

int qk_default_cache_dir(char **out, qk_err *err)
{
    char path[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(path, sizeof path, "%s/quack", xdg);
    else if (home && *home && access(home, W_OK | X_OK) == 0)
        snprintf(path, sizeof path, "%s/.cache/quack", home);
    else
        snprintf(path, sizeof path, "/tmp/quack-cache");
    return qk_path_abs(path, out, err);
}
