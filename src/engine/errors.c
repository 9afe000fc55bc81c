/* SPDX-License-Identifier: MIT */
/*
 * errors.c: DuckDB errors as quack errors. The type is DuckDB's own exception name (the one
 * DuckDB's clients raise, e.g. duckdb.BinderException in Python), so errorType in API
 * responses matches what the seed Lambda returned for the same failure.
 */
#include "engine/engine_int.h"

#include <ctype.h>
#include <string.h>

const char *qk_duckdb_error_name(duckdb_error_type t)
{
    static const char *names[] = {"Error",
                                  "OutOfRangeException",
                                  "ConversionException",
                                  "UnknownTypeException",
                                  "DecimalException",
                                  "MismatchTypeException",
                                  "DivideByZeroException",
                                  "ObjectSizeException",
                                  "InvalidTypeException",
                                  "SerializationException",
                                  "TransactionException",
                                  "NotImplementedException",
                                  "ExpressionException",
                                  "CatalogException",
                                  "ParserException",
                                  "PlannerException",
                                  "SchedulerException",
                                  "ExecutorException",
                                  "ConstraintException",
                                  "IndexException",
                                  "StatException",
                                  "ConnectionException",
                                  "SyntaxException",
                                  "SettingsException",
                                  "BinderException",
                                  "NetworkException",
                                  "OptimizerException",
                                  "NullPointerException",
                                  "IOException",
                                  "InterruptException",
                                  "FatalException",
                                  "InternalException",
                                  "InvalidInputException",
                                  "OutOfMemoryException",
                                  "PermissionException",
                                  "ParameterNotResolvedException",
                                  "ParameterNotAllowedException",
                                  "DependencyException",
                                  "HTTPException",
                                  "MissingExtensionException",
                                  "AutoloadException",
                                  "SequenceException"};
    if ((unsigned)t < sizeof names / sizeof names[0]) return names[t];
    return "Error";
}

/* DuckDB prefixes messages with their type: "Binder Error: ...". When the C API gives no
 * type (prepare and pending errors), derive "BinderException" from that prefix. */
static void type_from_message(const char *m, char *out, size_t cap)
{
    const char *colon = strstr(m, " Error: ");
    size_t n = 0;
    out[0] = '\0';
    if (!colon || colon - m > 24) return;
    for (const char *p = m; p < colon && n + 10 < cap; p++) {
        if (*p == ' ') continue;
        /* "INTERRUPT Error" -> "Interrupt" */
        out[n] = (char)(p == m || p[-1] == ' ' ? toupper((unsigned char)*p)
                                               : tolower((unsigned char)*p));
        n++;
    }
    memcpy(out + n, "Exception", 10);
}

int qk_engine_set_error(qk_err *err, const char *msg, duckdb_error_type type)
{
    char derived[QK_ERR_TYPE_MAX];
    const char *m = msg ? msg : "unknown DuckDB error";
    const char *tname = qk_duckdb_error_name(type);
    if (type == DUCKDB_ERROR_INVALID) {
        type_from_message(m, derived, sizeof derived);
        if (derived[0]) tname = derived;
    }
    int code = strcmp(tname, "PermissionException") == 0 ? QK_EDENIED
               : strcmp(tname, "IOException") == 0       ? QK_EIO
                                                         : QK_ESQL;
    return qk_errtf(err, code, tname, "%s", m);
}
