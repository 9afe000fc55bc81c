/* SPDX-License-Identifier: MIT */
/*
 * copy.c: COPY ... TO 's3://bucket/key' (copy.h; docs/internals/lake-copy.md).
 *
 * 1. Split. A lexer that knows just enough SQL (white space, -- and nested block comments,
 *    "identifiers", 'strings', E'strings', $tag$ strings$tag$, parentheses) splits
 *    COPY <source> TO '<target>' <rest> at parenthesis depth 0. The source is ( query ) or a
 *    table name with an optional column list; anything else is not ours and DuckDB gets it.
 *    The option list in <rest> is scanned for the options that change where files go.
 * 2. Check the target: s3://bucket/key with no empty, "." or ".." segment. One LIST of
 *    "<key>/" (at most one key) checks the bucket and credentials before any work, and, for a
 *    directory output without OVERWRITE or OVERWRITE_OR_IGNORE, that nothing is there yet.
 * 3. Rewrite and run. The source becomes a query (a table t (a, b) -> SELECT a, b FROM t)
 *    whose s3:// paths and lake table names qk_lake_resolve turns into local files (as
 *    qk_lake_query does for any SQL with s3:// paths); the target becomes
 *    <engine temp>/copy-<uuid>/<last key segment>; <rest> stays verbatim. qk_engine_query runs
 *    it (row limit, timeout and cancel apply).
 * 4. Publish. A file is put at the key; a directory is walked and each regular file is put at
 *    <key>/<relative path> by a few threads, the first error stopping the rest. OVERWRITE first
 *    deletes what is under "<key>/" (after the local COPY succeeded, so a failing query deletes
 *    nothing). The staging directory is removed in every case.
 */
#include "lake/copy.h"
#include "lake/lake_int.h"
#include "lake/resolve.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define SQL_MAX (256u << 20) /* bytes of rewritten SQL at most */
#define UPLOAD_THREADS 4     /* files put at once (a large file also uploads parts in parallel) */
#define OUTPUT_FILES_MAX 1000000 /* files of one directory output */
#define OUTPUT_DEPTH_MAX 64      /* folder levels of one directory output */
#define PATH_MAX_LEN 4096

/* ---- lexer -------------------------------------------------------------------------------- */

typedef enum {
    T_END,     /* end of the text */
    T_BAD,     /* unterminated string, identifier or comment */
    T_WORD,    /* keyword, identifier or number */
    T_QIDENT,  /* "quoted identifier" */
    T_STRING,  /* 'string' */
    T_ESTRING, /* E'string' with backslash escapes */
    T_DOLLAR,  /* $tag$ ... $tag$ */
    T_LPAREN,
    T_RPAREN,
    T_OTHER /* one byte of punctuation */
} tok_kind;

typedef struct tok {
    tok_kind kind;
    size_t off, len;
} tok;

typedef struct lexer {
    const char *s;
    size_t n;
} lexer;

static bool is_word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80 ||
           (c >= '0' && c <= '9');
}

static bool is_word_char(unsigned char c)
{
    return is_word_start(c) || c == '$';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Skip white space and comments from i; false for an unterminated block comment. Block
 * comments nest, as in PostgreSQL's and DuckDB's lexers. */
static bool skip_space(const lexer *lx, size_t *i)
{
    const char *s = lx->s;
    size_t p = *i;
    for (;;) {
        if (is_space(s[p])) {
            p++;
        } else if (s[p] == '-' && s[p + 1] == '-') {
            while (s[p] && s[p] != '\n')
                p++;
        } else if (s[p] == '/' && s[p + 1] == '*') {
            size_t depth = 1;
            for (p += 2; depth > 0; p++) {
                if (!s[p]) return false;
                if (s[p] == '/' && s[p + 1] == '*') {
                    depth++;
                    p++; /* the loop skips the second byte */
                } else if (s[p] == '*' && s[p + 1] == '/') {
                    depth--;
                    p++;
                }
            }
        } else {
            *i = p;
            return true;
        }
    }
}

/* A quoted token from q (the opening quote): '' (or "") doubles the quote; with backslash
 * set, a backslash escapes the next byte. Returns the end offset, 0 when unterminated. */
static size_t scan_quoted(const lexer *lx, size_t q, char quote, bool backslash)
{
    const char *s = lx->s;
    for (size_t p = q + 1; s[p]; p++) {
        if (backslash && s[p] == '\\') {
            if (!s[++p]) return 0;
        } else if (s[p] == quote) {
            if (s[p + 1] != quote) return p + 1;
            p++;
        }
    }
    return 0;
}

#define NO_TAG SIZE_MAX

/* $tag$ ... $tag$ from i (a '$'): its end, 0 when unterminated, NO_TAG when '$' opens no tag
 * (a parameter such as $1, or a '$' alone). */
static size_t scan_dollar(const lexer *lx, size_t i)
{
    const char *s = lx->s, *close;
    size_t p = i + 1, taglen;
    if (s[p] != '$') {
        if (!is_word_start((unsigned char)s[p]) || (s[p] >= '0' && s[p] <= '9')) return NO_TAG;
        while (is_word_start((unsigned char)s[p]))
            p++;
        if (s[p] != '$') return NO_TAG;
    }
    taglen = p + 1 - i;
    close = memmem(s + p + 1, lx->n - (p + 1), s + i, taglen);
    return close ? (size_t)(close - s) + taglen : 0;
}

/* The token at or after offset i. */
static tok next_tok(const lexer *lx, size_t i)
{
    const char *s = lx->s;
    tok t = {T_BAD, i, 0};
    size_t end;
    if (!skip_space(lx, &i)) return t;
    t.off = i;
    if (!s[i]) return (tok){T_END, i, 0};
    if (s[i] == '(' || s[i] == ')') return (tok){s[i] == '(' ? T_LPAREN : T_RPAREN, i, 1};
    if (s[i] == '\'' || s[i] == '"') {
        end = scan_quoted(lx, i, s[i], false);
        t.kind = end ? (s[i] == '"' ? T_QIDENT : T_STRING) : T_BAD;
    } else if ((s[i] == 'e' || s[i] == 'E') && s[i + 1] == '\'') {
        end = scan_quoted(lx, i + 1, '\'', true);
        t.kind = end ? T_ESTRING : T_BAD;
    } else if (s[i] == '$') {
        end = scan_dollar(lx, i);
        t.kind = end == NO_TAG ? T_OTHER : end ? T_DOLLAR : T_BAD;
        if (end == NO_TAG) end = i + 1;
    } else if (is_word_start((unsigned char)s[i])) {
        for (end = i; is_word_char((unsigned char)s[end]); end++)
            ;
        t.kind = T_WORD;
    } else {
        end = i + 1;
        t.kind = T_OTHER;
    }
    t.len = end ? end - i : 0;
    return t;
}

static tok tok_after(const lexer *lx, const tok *t)
{
    return next_tok(lx, t->off + t->len);
}

/* Is t the word kw (ASCII, case-insensitive)? */
static bool tok_is(const lexer *lx, const tok *t, const char *kw)
{
    return t->kind == T_WORD && t->len == strlen(kw) && !strncasecmp(lx->s + t->off, kw, t->len);
}

/* From the '(' at open, find its ')': false at the end of the text or a bad token. Iterative,
 * so any nesting depth is fine. */
static bool match_paren(const lexer *lx, const tok *open, tok *close)
{
    size_t depth = 0;
    for (tok t = *open;; t = tok_after(lx, &t)) {
        if (t.kind == T_END || t.kind == T_BAD) return false;
        if (t.kind == T_LPAREN) depth++;
        if (t.kind == T_RPAREN && --depth == 0) {
            *close = t;
            return true;
        }
    }
}

/* ---- the splitter ------------------------------------------------------------------------- */

static qk_copy_span span(size_t from, size_t to)
{
    return (qk_copy_span){from, to - from};
}

/* A table source: name ( "." name )* [ ( columns ) ]. On success *t is the token after it. */
static bool scan_table(const lexer *lx, tok *t, qk_copy_stmt *st)
{
    size_t start = t->off, end;
    tok n;
    if ((t->kind != T_WORD && t->kind != T_QIDENT) || tok_is(lx, t, "FROM") || tok_is(lx, t, "TO"))
        return false;
    end = t->off + t->len;
    for (n = next_tok(lx, end); n.kind == T_OTHER && lx->s[n.off] == '.'; n = next_tok(lx, end)) {
        tok part = tok_after(lx, &n);
        if (part.kind != T_WORD && part.kind != T_QIDENT) return false;
        end = part.off + part.len;
    }
    st->src = span(start, end);
    if (n.kind == T_LPAREN) {
        tok close;
        if (!match_paren(lx, &n, &close)) return false;
        st->has_cols = true;
        st->cols = span(n.off + 1, close.off);
        n = tok_after(lx, &close);
    }
    *t = n;
    return true;
}

/* The text of a word or plain string token (quotes removed, no unescaping) is one of DuckDB's
 * spellings of false? */
static bool value_is_false(const lexer *lx, const tok *v)
{
    static const char *const no[] = {"false", "f", "0", "no", "n"};
    size_t off = v->off, len = v->len;
    if (v->kind != T_WORD && v->kind != T_STRING) return false;
    if (v->kind == T_STRING) {
        off++;
        len -= 2;
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (len == strlen(no[i]) && !strncasecmp(lx->s + off, no[i], len)) return true;
    return false;
}

/* Is t the option name kw? DuckDB takes option names in any case, quoted or not. */
static bool name_is(const lexer *lx, const tok *t, const char *kw)
{
    size_t n = strlen(kw);
    if (t->kind == T_QIDENT) return t->len == n + 2 && !strncasecmp(lx->s + t->off + 1, kw, n);
    return tok_is(lx, t, kw);
}

/* One option of the list ends: *name with nval value tokens, the first of them *val ("NAME"
 * alone, or a value DuckDB reads as true, turns it on). *name is reset for the next one. */
static void note_option(const lexer *lx, qk_copy_stmt *st, tok *name, size_t nval, const tok *val)
{
    const tok n = *name;
    name->kind = T_END;
    if (nval == 1 && value_is_false(lx, val)) return;
    if (name_is(lx, &n, "PARTITION_BY") || name_is(lx, &n, "PER_THREAD_OUTPUT") ||
        name_is(lx, &n, "FILE_SIZE_BYTES") || name_is(lx, &n, "ROW_GROUPS_PER_FILE"))
        st->dir_output = true;
    else if (name_is(lx, &n, "OVERWRITE"))
        st->overwrite = true;
    else if (name_is(lx, &n, "OVERWRITE_OR_IGNORE"))
        st->overwrite_or_ignore = true;
    else if (name_is(lx, &n, "APPEND"))
        st->append = true;
    else if (name_is(lx, &n, "RETURN_FILES") || name_is(lx, &n, "RETURN_STATS"))
        st->return_files = true;
}

/* Scan the options in st->rest: every "( name [value], ... )" group at depth 1; a value is
 * its first token (a parenthesized value such as PARTITION_BY's counts as one). */
static bool scan_options(const lexer *lx, qk_copy_stmt *st)
{
    size_t depth = 0, nval = 0;
    bool want_name = false;
    tok name = {T_END, 0, 0}, val = {T_END, 0, 0};
    for (tok t = next_tok(lx, st->rest.off);; t = tok_after(lx, &t)) {
        if (t.kind == T_BAD) return false;
        if (t.kind == T_END) return true;
        if (t.kind == T_LPAREN) {
            if (++depth == 1) {
                want_name = true;
                name.kind = T_END;
            } else if (depth == 2 && nval++ == 0) {
                val = t;
            }
        } else if (t.kind == T_RPAREN) {
            if (depth == 1) note_option(lx, st, &name, nval, &val);
            if (depth > 0) depth--;
        } else if (depth != 1) {
            continue;
        } else if (t.kind == T_OTHER && lx->s[t.off] == ',') {
            note_option(lx, st, &name, nval, &val);
            want_name = true;
        } else if (want_name) {
            name = t;
            nval = 0;
            want_name = false;
        } else if (nval++ == 0) {
            val = t;
        }
    }
}

/* Split sql into COPY <source> TO '<s3 target>' <rest>; false when it is not that. */
QK_TESTABLE bool qk_lake_copy_split(const char *sql, qk_copy_stmt *st)
{
    lexer lx = {sql, strlen(sql)};
    tok t = next_tok(&lx, 0), close;
    memset(st, 0, sizeof *st);
    if (!tok_is(&lx, &t, "COPY")) return false;
    t = tok_after(&lx, &t);
    if (t.kind == T_LPAREN) {
        if (!match_paren(&lx, &t, &close)) return false;
        st->src_is_query = true;
        st->src = span(t.off + 1, close.off);
        t = tok_after(&lx, &close);
    } else if (!scan_table(&lx, &t, st)) {
        return false;
    }
    if (!tok_is(&lx, &t, "TO")) return false;
    t = tok_after(&lx, &t);
    if (t.kind != T_STRING || strncmp(sql + t.off + 1, "s3://", 5) != 0) return false;
    st->target = span(t.off, t.off + t.len);
    st->rest = span(t.off + t.len, lx.n);
    /* 'a' 'b' on two lines is one literal in PostgreSQL's grammar: not a plain target. */
    t = tok_after(&lx, &t);
    if (t.kind == T_STRING || t.kind == T_ESTRING) return false;
    return scan_options(&lx, st);
}

bool qk_lake_is_copy_to_s3(const char *sql)
{
    qk_copy_stmt st;
    return sql && strstr(sql, "s3://") && qk_lake_copy_split(sql, &st);
}

/* ---- the target --------------------------------------------------------------------------- */

/* The value of a plain 'literal' (quotes included in [s, s+len)), '' undoubled. */
static char *literal_value(const char *s, size_t len)
{
    char *v = malloc(len), *w = v;
    if (!v) return NULL;
    for (size_t i = 1; i + 1 < len; i++) {
        *w++ = s[i];
        if (s[i] == '\'') i++;
    }
    *w = 0;
    return v;
}

/* Everything one COPY needs, freed by job_free. */
typedef struct copy_job {
    qk_copy_stmt st;
    char *uri; /* the target as written, "s3://bucket/key" */
    char bucket[256];
    char *key; /* the target key (a trailing '/' of a directory target dropped) */
    qk_store *store;
    char *staging; /* <temp>/copy-<uuid> */
    char *local;   /* <staging>/<last segment of key> */
    char *sql;     /* the rewritten COPY */
} copy_job;

static void job_free(copy_job *j)
{
    if (j->staging) qk_rmtree(j->staging, false, NULL);
    qk_store_destroy(j->store);
    free(j->uri);
    free(j->key);
    free(j->staging);
    free(j->local);
    free(j->sql);
}

/* Split the target URI into bucket and key and check both. */
static int parse_target(copy_job *j, const char *sql, qk_err *err)
{
    const char *b, *slash;
    size_t kl;
    if (!(j->uri = literal_value(sql + j->st.target.off, j->st.target.len)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    b = j->uri + 5;
    slash = strchr(b, '/');
    if (!slash || slash == b || (size_t)(slash - b) >= sizeof j->bucket)
        return qk_errtf(err, QK_EINVAL, "InvalidInputException",
                        "COPY target %.200s is not an object path (want s3://bucket/key)", j->uri);
    memcpy(j->bucket, b, (size_t)(slash - b));
    j->bucket[slash - b] = 0;
    j->key = qk_xstrdup(slash + 1);
    kl = strlen(j->key);
    if (j->st.dir_output && kl > 1 && j->key[kl - 1] == '/') j->key[--kl] = 0;
    if (!qk_lake_key_is_path(j->key) || kl > QK_STORE_KEY_MAX)
        return qk_errtf(err, QK_EINVAL, "InvalidInputException",
                        "COPY target %.200s is not an object path: the key is empty, too long or "
                        "has an empty, '.' or '..' segment",
                        j->uri);
    return 0;
}

/* ---- checks before the COPY runs ---------------------------------------------------------- */

static int refuse_options(const qk_copy_stmt *st, qk_err *err)
{
    if (st->append)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "COPY to s3:// does not support APPEND; use OVERWRITE_OR_IGNORE with "
                        "FILENAME_PATTERN 'data_{uuid}' to add files");
    if (st->return_files)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "COPY to s3:// does not support RETURN_FILES or RETURN_STATS");
    return 0;
}

/* One LIST of "<key>/": checks bucket and credentials, and that a directory output without
 * OVERWRITE or OVERWRITE_OR_IGNORE would not mix with files already there. */
static int preflight(copy_job *j, qk_err *err)
{
    char *prefix = NULL;
    qk_list_page page = {0};
    qk_list_req req = {0};
    int rc;
    if (asprintf(&prefix, "%s/", j->key) < 0) return qk_errf(err, QK_ENOMEM, "out of memory");
    req.prefix = prefix;
    req.max_keys = 1;
    rc = qk_store_list(j->store, &req, &page, err);
    if (rc)
        qk_err_prefix(err, "COPY to %.200s", j->uri);
    else if (page.n > 0 && j->st.dir_output && !j->st.overwrite && !j->st.overwrite_or_ignore)
        rc = qk_errtf(err, QK_EIO, "IOException",
                      "IO Error: Directory \"%.200s\" is not empty! Enable OVERWRITE option to "
                      "overwrite files",
                      j->uri);
    qk_list_page_free(&page);
    free(prefix);
    return rc;
}

/* ---- the rewritten statement -------------------------------------------------------------- */

/* The source as one query: ( query ) as written, a table as SELECT <cols or *> FROM <table>. */
static char *source_query(const copy_job *j, const char *sql)
{
    const qk_copy_stmt *st = &j->st;
    char *q = NULL;
    int n;
    if (st->src_is_query) return strndup(sql + st->src.off, st->src.len);
    if (st->has_cols)
        n = asprintf(&q, "SELECT %.*s\nFROM %.*s\n", (int)st->cols.len, sql + st->cols.off,
                     (int)st->src.len, sql + st->src.off);
    else
        n = asprintf(&q, "SELECT *\nFROM %.*s\n", (int)st->src.len, sql + st->src.off);
    return n < 0 ? NULL : q;
}

static bool last_line_has_dashes(const char *s)
{
    const char *nl = strrchr(s, '\n');
    return strstr(nl ? nl : s, "--") != NULL;
}

/* Make the staging dir and the rewritten COPY (j->sql); ctx keeps the source's view. */
static int rewrite(qk_engine *e, copy_job *j, const char *sql, qk_lake_ctx *ctx, qk_err *err)
{
    char id[37], *query = NULL, *resolved = NULL;
    const char *base = strrchr(j->key, '/');
    qk_buf b;
    int rc;
    qk_uuid4(id);
    if (asprintf(&j->staging, "%s/copy-%s", qk_engine_temp_dir(e), id) < 0) {
        j->staging = NULL;
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    if (asprintf(&j->local, "%s/%s", j->staging, base ? base + 1 : j->key) < 0) {
        j->local = NULL;
        return qk_errf(err, QK_ENOMEM, "out of memory");
    }
    if ((rc = qk_mkdirs(j->staging, err))) return rc;
    if (!(query = source_query(j, sql))) return qk_errf(err, QK_ENOMEM, "out of memory");
    rc = qk_lake_resolve(ctx, query, &resolved, err);
    free(query);
    if (rc) return rc;
    qk_buf_init(&b, SQL_MAX);
    /* A "--" comment on the source's last line would swallow the ')': end the line then. */
    rc = qk_buf_printf(&b, "COPY (%s%s) TO ", resolved, last_line_has_dashes(resolved) ? "\n" : "");
    if (!rc) rc = qk_sql_add_literal(&b, j->local);
    if (!rc) rc = qk_buf_add(&b, sql + j->st.rest.off, j->st.rest.len);
    free(resolved);
    if (rc) {
        qk_buf_free(&b);
        return qk_errf(err, rc, "COPY statement too large to rewrite");
    }
    j->sql = qk_buf_detach(&b, NULL);
    return 0;
}

/* Put `to` in place of the first occurrence of `from` in err's message. */
static void replace_in_msg(qk_err *err, const char *from, const char *to)
{
    char msg[QK_ERR_MSG_MAX];
    char *hit = strstr(err->msg, from);
    if (!hit) return;
    snprintf(msg, sizeof msg, "%.*s%s%s", (int)(hit - err->msg), err->msg, to, hit + strlen(from));
    qk_strlcpy(err->msg, msg, sizeof err->msg);
}

static int timeout_error(const qk_query_opts *o, qk_err *err)
{
    return qk_errtf(err, QK_ETIMEOUT, "Timeout", "query exceeded the timeout of %lld ms",
                    (long long)o->timeout_ms);
}

/* Run the rewritten COPY with what is left of the timeout. */
static int run_copy(qk_engine *e, copy_job *j, const qk_query_opts *o, int64_t start,
                    qk_result **out, qk_err *err)
{
    qk_query_opts lo = {.limit = -1};
    int rc;
    if (o) lo = *o;
    if (lo.timeout_ms > 0) {
        lo.timeout_ms -= qk_now_ms() - start;
        if (lo.timeout_ms <= 0) return timeout_error(o, err);
    }
    rc = qk_engine_query(e, j->sql, &lo, out, err);
    if (rc == QK_ETIMEOUT && o) return timeout_error(o, err);
    if (rc) replace_in_msg(err, j->local, j->uri);
    return rc;
}

/* ---- publishing --------------------------------------------------------------------------- */

typedef struct str_list {
    char **v;
    size_t n, cap;
} str_list;

static int list_add(str_list *l, const char *s, size_t n)
{
    if (l->n == OUTPUT_FILES_MAX) return QK_ETOOBIG;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return QK_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strndup(s, n))) return QK_ENOMEM;
    l->n++;
    return 0;
}

static void list_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Add the regular files under path (path->data = <dir>/<rel>, rel starting at root_len + 1)
 * to files as relative paths. path is one buffer, extended and cut back, so deep trees cost
 * no stack beyond a small frame per level. */
static int walk_dir(qk_buf *path, size_t root_len, int depth, str_list *files, qk_err *err)
{
    DIR *d;
    struct dirent *de;
    size_t len = path->len;
    int rc = 0;
    if (depth > OUTPUT_DEPTH_MAX)
        return qk_errf(err, QK_EUNSUPPORTED, "COPY output nested deeper than %d folders",
                       OUTPUT_DEPTH_MAX);
    if (!(d = opendir(qk_buf_cstr(path))))
        return qk_errf(err, QK_EIO, "cannot read %s: %s", qk_buf_cstr(path), strerror(errno));
    while (!rc && (de = readdir(d)) != NULL) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (qk_buf_printf(path, "/%s", de->d_name)) {
            rc = qk_errf(err, QK_ETOOBIG, "COPY output path too long: %.200s", qk_buf_cstr(path));
            break;
        }
        if (lstat(qk_buf_cstr(path), &sb) != 0)
            rc = qk_errf(err, QK_EIO, "stat %s: %s", qk_buf_cstr(path), strerror(errno));
        else if (S_ISDIR(sb.st_mode))
            rc = walk_dir(path, root_len, depth + 1, files, err);
        else if (S_ISREG(sb.st_mode) &&
                 (rc = list_add(files, path->data + root_len + 1, path->len - root_len - 1)))
            rc = qk_errf(err, rc, "COPY wrote too many files (at most %d)", OUTPUT_FILES_MAX);
        qk_buf_truncate(path, len);
    }
    closedir(d);
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of a directory output, sorted, each checked as a key under j->key. */
static int output_files(const copy_job *j, str_list *files, qk_err *err)
{
    qk_buf path;
    int rc;
    qk_buf_init(&path, PATH_MAX_LEN);
    rc = qk_buf_adds(&path, j->local) ? qk_errf(err, QK_ETOOBIG, "staging path too long")
                                      : walk_dir(&path, strlen(j->local), 0, files, err);
    qk_buf_free(&path);
    if (rc) return rc;
    if (files->n) qsort(files->v, files->n, sizeof *files->v, str_cmp);
    for (size_t i = 0; i < files->n; i++)
        if (!qk_lake_key_is_path(files->v[i]) ||
            strlen(j->key) + 1 + strlen(files->v[i]) > QK_STORE_KEY_MAX)
            return qk_errtf(err, QK_EINVAL, "InvalidInputException",
                            "COPY output %.100s/%.100s cannot be an object key", j->uri,
                            files->v[i]);
    return 0;
}

static int collect_key(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    (void)cp;
    if (obj && list_add(ud, obj->key, strlen(obj->key)))
        return qk_errf(err, QK_ETOOBIG, "too many objects to overwrite (at most %d)",
                       OUTPUT_FILES_MAX);
    return 0;
}

/* OVERWRITE: delete every object under "<key>/". */
static int delete_existing(copy_job *j, qk_err *err)
{
    str_list keys = {0};
    char *prefix = NULL;
    int rc;
    if (asprintf(&prefix, "%s/", j->key) < 0) return qk_errf(err, QK_ENOMEM, "out of memory");
    rc = qk_store_list_all(j->store, prefix, NULL, collect_key, &keys, err);
    for (size_t i = 0; !rc && i < keys.n; i += QK_STORE_DELETE_MANY_MAX) {
        size_t n = keys.n - i < QK_STORE_DELETE_MANY_MAX ? keys.n - i : QK_STORE_DELETE_MANY_MAX;
        rc = qk_store_delete_many(j->store, (const char *const *)keys.v + i, n, err);
    }
    if (rc) qk_err_prefix(err, "COPY OVERWRITE of %.200s", j->uri);
    list_free(&keys);
    free(prefix);
    return rc;
}

typedef struct upload_state {
    copy_job *job;
    const str_list *files;
    const qk_query_opts *o;
    int64_t start;
    pthread_mutex_t mu;
    size_t next;
    int rc;
    qk_err err;
} upload_state;

/* Timeout or cancel between uploads (called with us->mu held). */
static int check_stop(upload_state *us, qk_err *err)
{
    const qk_query_opts *o = us->o;
    if (!o) return 0;
    if (o->timeout_ms > 0 && qk_now_ms() - us->start >= o->timeout_ms) return timeout_error(o, err);
    if (o->cancelled && o->cancelled(o->cancel_ud))
        return qk_errtf(err, QK_ECANCELED, "Canceled", "query canceled");
    return 0;
}

/* Put one file: rel "" is the single-file output itself. */
static int put_one(copy_job *j, const char *rel, qk_err *err)
{
    char *src = NULL, *key = NULL;
    int rc;
    if (asprintf(&src, "%s%s%s", j->local, *rel ? "/" : "", rel) < 0) src = NULL;
    if (asprintf(&key, "%s%s%s", j->key, *rel ? "/" : "", rel) < 0) key = NULL;
    if (!src || !key)
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
    else if ((rc = qk_store_put_file(j->store, key, src, err)))
        qk_err_prefix(err, "cannot upload s3://%s/%.200s", j->bucket, key);
    free(src);
    free(key);
    return rc;
}

static void *upload_worker(void *arg)
{
    upload_state *us = arg;
    for (;;) {
        qk_err e;
        size_t i;
        int rc;
        qk_err_clear(&e);
        pthread_mutex_lock(&us->mu);
        if (!us->rc && us->next < us->files->n && (rc = check_stop(us, &e)))
            us->rc = rc, us->err = e;
        i = us->rc ? us->files->n : us->next++;
        pthread_mutex_unlock(&us->mu);
        if (i >= us->files->n) return NULL;
        if ((rc = put_one(us->job, us->files->v[i], &e))) {
            pthread_mutex_lock(&us->mu);
            if (!us->rc) us->rc = rc, us->err = e;
            pthread_mutex_unlock(&us->mu);
        }
    }
}

/* Put every file with up to UPLOAD_THREADS threads; the first error stops the rest. */
static int upload_all(copy_job *j, const str_list *files, const qk_query_opts *o, int64_t start,
                      qk_err *err)
{
    pthread_t th[UPLOAD_THREADS];
    size_t nth = files->n < UPLOAD_THREADS ? files->n : UPLOAD_THREADS, started = 0;
    upload_state us = {.job = j, .files = files, .o = o, .start = start};
    pthread_mutex_init(&us.mu, NULL);
    for (size_t i = 1; i < nth; i++)
        if (pthread_create(&th[started], NULL, upload_worker, &us) == 0) started++;
    upload_worker(&us);
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&us.mu);
    if (us.rc) *err = us.err;
    return us.rc;
}

/* Step 4: what DuckDB wrote at j->local goes to the target. */
static int publish(copy_job *j, const qk_query_opts *o, int64_t start, qk_err *err)
{
    struct stat sb;
    str_list files = {0};
    int rc;
    if (lstat(j->local, &sb) != 0) {
        if (errno != ENOENT || !j->st.dir_output)
            return qk_errf(err, QK_EIO, "COPY wrote no file for %.200s", j->uri);
        return j->st.overwrite ? delete_existing(j, err) : 0; /* no rows: no partitions */
    }
    if (S_ISREG(sb.st_mode)) {
        files.v = (char *[]){""};
        files.n = 1;
        return upload_all(j, &files, o, start, err);
    }
    if (!S_ISDIR(sb.st_mode))
        return qk_errf(err, QK_EIO, "COPY wrote neither a file nor a folder for %.200s", j->uri);
    rc = output_files(j, &files, err);
    if (!rc && j->st.overwrite) rc = delete_existing(j, err);
    if (!rc) rc = upload_all(j, &files, o, start, err);
    list_free(&files);
    return rc;
}

/* ---- API ---------------------------------------------------------------------------------- */

static int default_open_store(void *ud, const char *bucket, qk_store **out, qk_err *err)
{
    char uri[300];
    (void)ud;
    snprintf(uri, sizeof uri, "s3://%s", bucket);
    return qk_store_open(uri, out, err);
}

/* qk_lake_copy with the store of a bucket opened by open_store (tests use local dirs). */
QK_TESTABLE int qk_lake_copy_with(qk_engine *e, const char *sql, const qk_query_opts *o,
                                  qk_lake_open_store_fn open_store, void *ud, qk_result **out,
                                  qk_err *err)
{
    copy_job j;
    qk_lake_ctx ctx;
    qk_result *res = NULL;
    int64_t start = qk_now_ms();
    int rc;
    *out = NULL;
    memset(&j, 0, sizeof j);
    qk_lake_ctx_init(&ctx, e);
    ctx.open_store = open_store;
    ctx.open_store_ud = ud;
    ctx.names = true; /* as qk_lake_query does for SQL with s3:// paths */
    ctx.opts = o;
    if (!qk_lake_copy_split(sql, &j.st)) {
        rc = qk_errtf(err, QK_EPARSE, "ParserException",
                      "not a COPY <query or table> TO 's3://...' statement quack can run");
        goto out;
    }
    if ((rc = refuse_options(&j.st, err)) || (rc = parse_target(&j, sql, err))) goto out;
    if ((rc = open_store(ud, j.bucket, &j.store, err))) {
        qk_err_prefix(err, "COPY to %.200s", j.uri);
        goto out;
    }
    if ((rc = preflight(&j, err)) || (rc = rewrite(e, &j, sql, &ctx, err)) ||
        (rc = run_copy(e, &j, o, start, &res, err)) || (rc = publish(&j, o, start, err)))
        goto out;
    *out = res;
    res = NULL;
out:
    qk_result_destroy(res);
    qk_lake_ctx_free(&ctx);
    job_free(&j);
    return rc;
}

int qk_lake_copy(qk_engine *e, const char *sql, const qk_query_opts *o, qk_result **out,
                 qk_err *err)
{
    return qk_lake_copy_with(e, sql, o, default_open_store, NULL, out, err);
}
