/* SPDX-License-Identifier: MIT */
/*
 * err.c: the one error scheme (STYLE.md 4). Codes come from the QK_ERRORS X-macro in core.h;
 * a qk_err carries the code, a one-line message written where the failure happened, and an
 * optional type name shown to API clients as errorType.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

const char *qk_strerror(int code)
{
    switch (code) {
#define QK_ERR_CASE(name, val, text)                                                               \
    case val:                                                                                      \
        return text;
        QK_ERRORS(QK_ERR_CASE)
#undef QK_ERR_CASE
    }
    return "unknown error";
}

const char *qk_err_name(int code)
{
    switch (code) {
    case QK_OK:
        return "OK";
    case QK_EINVAL:
        return "InvalidInput";
    case QK_ENOMEM:
        return "OutOfMemory";
    case QK_EIO:
        return "IOError";
    case QK_ESQL:
        return "SQLError";
    case QK_ETIMEOUT:
        return "Timeout";
    case QK_ECANCELED:
        return "Canceled";
    case QK_ETOOBIG:
        return "TooBig";
    case QK_EDENIED:
        return "PermissionDenied";
    case QK_ENOTFOUND:
        return "NotFound";
    case QK_EEXIST:
        return "AlreadyExists";
    case QK_EBUSY:
        return "Busy";
    case QK_EPARSE:
        return "ParseError";
    case QK_EUNSUPPORTED:
        return "Unsupported";
    case QK_EINTERNAL:
        return "InternalError";
    case QK_EHTTP:
        return "HTTPError";
    case QK_ECONFLICT:
        return "ConcurrentModification";
    case QK_ECONSTRAINT:
        return "ConstraintViolation";
    }
    return "Error";
}

void qk_err_clear(qk_err *e)
{
    if (!e) return;
    e->code = 0;
    e->type[0] = '\0';
    e->msg[0] = '\0';
}

static void oneline(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t') *s = ' ';
}

static int verrf(qk_err *e, int code, const char *type, const char *fmt, va_list ap)
{
    if (!e) return code;
    e->code = code;
    qk_strlcpy(e->type, type ? type : "", sizeof e->type);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    oneline(e->msg);
    return code;
}

int qk_errf(qk_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrf(e, code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int qk_errtf(qk_err *e, int code, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrf(e, code, type, fmt, ap);
    va_end(ap);
    return code;
}

void qk_err_prefix(qk_err *e, const char *fmt, ...)
{
    char ctx[QK_ERR_MSG_MAX], old[QK_ERR_MSG_MAX];
    size_t n;
    va_list ap;
    if (!e) return;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx - 2, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    n = strlen(ctx);
    memcpy(ctx + n, ": ", 3);
    n += 2;
    qk_strlcpy(e->msg, ctx, sizeof e->msg);
    if (n < sizeof e->msg) qk_strlcpy(e->msg + n, old, sizeof e->msg - n);
    oneline(e->msg);
}

const char *qk_err_type(const qk_err *e)
{
    if (e->type[0]) return e->type;
    return qk_err_name(e->code);
}
