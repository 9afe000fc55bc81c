/* SPDX-License-Identifier: MIT */
/*
 * core.h: the bottom layer every other module uses (DESIGN.md section 2).
 *
 * - Errors: functions return int status, 0 = ok, negative QK_E* codes from the QK_ERRORS
 *   X-macro (which also generates qk_strerror). The detail is written once, where the failure
 *   happens, into the caller's qk_err; callers may prefix context with qk_err_prefix.
 * - qk_buf: a growable byte buffer with a hard maximum set at init (curl's dynbuf).
 * - qk_arena: a bump allocator for per-request memory, freed in one call (h2o's mempool).
 * - Logging: one JSON object per line on stderr.
 * - Parsing helpers (strtoll with end checks), .env loading, time, uuid4.
 * Nothing here knows about DuckDB, HTTP or S3. All functions are thread-safe unless noted;
 * the only process-wide state is the log level and log sink (see qk_log_set_level).
 */
#ifndef QK_CORE_H
#define QK_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef QK_TESTING
#define QK_TESTABLE
#else
#define QK_TESTABLE static
#endif

#if defined(__GNUC__)
#define QK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define QK_PRINTF(a, b)
#endif

/* ---- errors ------------------------------------------------------------------------------ */

#define QK_ERRORS(X)                                                                               \
    X(QK_OK, 0, "ok")                                                                              \
    X(QK_EINVAL, -1, "invalid argument")                                                           \
    X(QK_ENOMEM, -2, "out of memory")                                                              \
    X(QK_EIO, -3, "I/O error")                                                                     \
    X(QK_ESQL, -4, "SQL error")                                                                    \
    X(QK_ETIMEOUT, -5, "timed out")                                                                \
    X(QK_ECANCELED, -6, "canceled")                                                                \
    X(QK_ETOOBIG, -7, "too big")                                                                   \
    X(QK_EDENIED, -8, "permission denied")                                                         \
    X(QK_ENOTFOUND, -9, "not found")                                                               \
    X(QK_EEXIST, -10, "already exists")                                                            \
    X(QK_EBUSY, -11, "busy")                                                                       \
    X(QK_EPARSE, -12, "parse error")                                                               \
    X(QK_EUNSUPPORTED, -13, "unsupported")                                                         \
    X(QK_EINTERNAL, -14, "internal error")                                                         \
    X(QK_EHTTP, -15, "HTTP error")                                                                 \
    X(QK_ECONFLICT, -16, "conflict")                                                               \
    X(QK_ECONSTRAINT, -17, "constraint violated")

enum {
#define QK_ERR_ENUM(name, val, text) name = val,
    QK_ERRORS(QK_ERR_ENUM)
#undef QK_ERR_ENUM
};

#define QK_ERR_MSG_MAX 256
#define QK_ERR_TYPE_MAX 40

/* An error: a code, a one-line message (no newline, at most 255 bytes) and an optional type
 * name (e.g. DuckDB's "BinderException") used as errorType in API responses. */
typedef struct qk_err {
    int code;
    char type[QK_ERR_TYPE_MAX];
    char msg[QK_ERR_MSG_MAX];
} qk_err;

/* Text for a QK_E* code (static storage). */
const char *qk_strerror(int code);
/* Short stable name for a code, e.g. "QK_ETIMEOUT" -> "Timeout" (static storage). */
const char *qk_err_name(int code);
void qk_err_clear(qk_err *e);
/* Set code and message (newlines become spaces, long messages are cut). Returns code, so
 * `return qk_errf(err, QK_EINVAL, "...")` works. err may be NULL. */
int qk_errf(qk_err *e, int code, const char *fmt, ...) QK_PRINTF(3, 4);
/* Like qk_errf and also sets the type name. */
int qk_errtf(qk_err *e, int code, const char *type, const char *fmt, ...) QK_PRINTF(4, 5);
/* Prefix context to an existing message: "context: message". Keeps code and type. */
void qk_err_prefix(qk_err *e, const char *fmt, ...) QK_PRINTF(2, 3);
/* The type to show a client: e->type if set, else qk_err_name(e->code). */
const char *qk_err_type(const qk_err *e);

/* ---- bounded buffer --------------------------------------------------------------------- */

/* data is always NUL-terminated after the first successful add (len excludes the NUL). */
typedef struct qk_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* hard limit on len */
} qk_buf;

void qk_buf_init(qk_buf *b, size_t max);
void qk_buf_free(qk_buf *b);
/* Append n bytes. QK_ETOOBIG (buffer unchanged) if len would exceed max; QK_ENOMEM. */
int qk_buf_add(qk_buf *b, const void *p, size_t n);
int qk_buf_adds(qk_buf *b, const char *s);
int qk_buf_addc(qk_buf *b, char c);
int qk_buf_printf(qk_buf *b, const char *fmt, ...) QK_PRINTF(2, 3);
int qk_buf_vprintf(qk_buf *b, const char *fmt, va_list ap);
/* Make room for n more bytes without changing len. */
int qk_buf_reserve(qk_buf *b, size_t n);
/* Cut back to len (<= current len). */
void qk_buf_truncate(qk_buf *b, size_t len);
/* "" for an empty buffer; borrowed until the next add. */
const char *qk_buf_cstr(const qk_buf *b);
/* Take the data (caller frees with free()); the buffer is reset to empty. */
char *qk_buf_detach(qk_buf *b, size_t *len);
/* Length of the valid UTF-8 sequence at s (n >= 1 bytes left), or 0 when it is invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
size_t qk_utf8_len(const unsigned char *s, size_t n);
/* Like qk_utf8_len, also storing the code point in *cp when the sequence is valid. */
size_t qk_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Append s (n bytes, UTF-8) as a JSON string literal with quotes. Invalid UTF-8 bytes become
 * U+FFFD; control characters are \u-escaped. */
int qk_buf_add_json_str(qk_buf *b, const char *s, size_t n);

/* ---- arena ------------------------------------------------------------------------------ */

typedef struct qk_arena_block qk_arena_block;
typedef struct qk_arena {
    qk_arena_block *head;
    size_t used; /* bytes handed out */
    size_t max;  /* limit on bytes handed out (0 = unlimited) */
} qk_arena;

void qk_arena_init(qk_arena *a, size_t max);
/* NULL when out of memory or over max. Memory is 16-byte aligned, valid until qk_arena_free. */
void *qk_arena_alloc(qk_arena *a, size_t n);
char *qk_arena_strndup(qk_arena *a, const char *s, size_t n);
char *qk_arena_strdup(qk_arena *a, const char *s);
char *qk_arena_printf(qk_arena *a, const char *fmt, ...) QK_PRINTF(2, 3);
void qk_arena_free(qk_arena *a);

/* ---- logging ---------------------------------------------------------------------------- */

typedef enum { QK_LOG_DEBUG = 0, QK_LOG_INFO, QK_LOG_WARN, QK_LOG_ERROR, QK_LOG_OFF } qk_log_level;

/* Process-wide: minimum level (default INFO, or QUACK_LOG_LEVEL) and sink fd (default 2). */
void qk_log_set_level(qk_log_level lvl);
qk_log_level qk_log_get_level(void);
void qk_log_set_fd(int fd);
/* Parse "debug|info|warn|error|off"; -1 if unknown. */
int qk_log_level_parse(const char *s);
/* Write one line: {"ts":"...","level":"...","event":"<event>",<fields>} where fields is a
 * printf-formatted fragment of JSON members (may be NULL or empty). The line is written with
 * one write(2) so lines from threads never interleave. */
void qk_log(qk_log_level lvl, const char *event, const char *fields_fmt, ...) QK_PRINTF(3, 4);

/* ---- strings and parsing ---------------------------------------------------------------- */

/* Parse a whole base-10 integer in [min,max]. QK_EINVAL with a message naming `what`. */
int qk_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out, const char *what,
                   qk_err *err);
/* Parse a size like "6MB", "512k", "1048576", "2GiB" (k/m/g powers of 1024). */
int qk_parse_size(const char *s, uint64_t *out, const char *what, qk_err *err);
/* Parse a duration in seconds, fractional allowed ("30", "0.5", "2s", "250ms"). */
int qk_parse_duration_ms(const char *s, int64_t *out_ms, const char *what, qk_err *err);
bool qk_str_startswith(const char *s, const char *prefix);
bool qk_str_endswith(const char *s, const char *suffix);
/* True when s is NULL or only white space. */
bool qk_str_blank(const char *s);
/* strdup that never returns NULL (aborts on OOM: used only for small config strings). */
char *qk_xstrdup(const char *s);
/* Copy at most cap-1 bytes and NUL-terminate; returns strlen(src) like strlcpy. */
size_t qk_strlcpy(char *dst, const char *src, size_t cap);
/* Read a whole file up to max bytes into a NUL-terminated heap string (caller frees). */
int qk_read_file(const char *path, size_t max, char **out, size_t *len, qk_err *err);
/* Make an absolute, normalized path (no symlink resolution; "." and ".." folded). Caller
 * frees. The path need not exist. */
int qk_path_abs(const char *path, char **out, qk_err *err);
/* rm -rf path without following symlinks; a missing path is fine. With keep_root only what is
 * inside is removed. err may be NULL. */
int qk_rmtree(const char *path, bool keep_root, qk_err *err);
/* mkdir -p */
int qk_mkdirs(const char *path, qk_err *err);

/* ---- environment ------------------------------------------------------------------------ */

/* Load KEY=VALUE lines from a .env file into the environment without overriding variables
 * that are already set. Supports comments (#), `export KEY=...`, single and double quotes.
 * A missing file is not an error (returns 0); malformed lines are reported in err and
 * skipped (returns QK_EPARSE after loading the rest). */
int qk_env_load_file(const char *path, qk_err *err);
/* The cache directory when none is configured: $XDG_CACHE_HOME/quack, else ~/.cache/quack,
 * else /tmp/quack-cache when HOME is unset or not writable (as on AWS Lambda). Caller frees. */
int qk_default_cache_dir(char **out, qk_err *err);
/* getenv with a default for unset or empty. */
const char *qk_env_str(const char *name, const char *dflt);

/* ---- time and ids ----------------------------------------------------------------------- */

int64_t qk_now_ms(void);   /* monotonic ms */
double qk_now_msf(void);   /* monotonic ms with sub-ms precision */
int64_t qk_epoch_ms(void); /* wall clock ms since 1970 */
/* Random version-4 UUID, 36 chars + NUL. */
void qk_uuid4(char out[37]);

#endif
