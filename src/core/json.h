/* SPDX-License-Identifier: MIT */
/*
 * json.h: the one jansson helper every module wants: a member's string, or "" (DuckDB's JSON
 * parse trees from json_serialize_sql, task bodies, listings). Header-only.
 */
#ifndef QK_CORE_JSON_H
#define QK_CORE_JSON_H

#include <jansson.h>

/* The string member k of object o, or "" when o is not an object, k is missing or not a string.
 * Borrowed from o. */
static inline const char *qk_json_str(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

#endif
