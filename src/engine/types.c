/* SPDX-License-Identifier: MIT */
/*
 * types.c: DuckDB's spelling of a logical type, as DESCRIBE prints it: BIGINT, DECIMAL(18,3),
 * TIMESTAMP WITH TIME ZONE, INTEGER[], INTEGER[3], STRUCT(a INTEGER, b VARCHAR),
 * MAP(VARCHAR, INTEGER), UNION(a INTEGER, b VARCHAR), ENUM('a', 'b'). An alias (a user type)
 * wins when the type has one.
 */
#include "engine/engine_int.h"

#include <string.h>

static const char *simple_name(duckdb_type t)
{
    switch (t) {
    case DUCKDB_TYPE_BOOLEAN:
        return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
        return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
        return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
        return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
        return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
        return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
        return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
        return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
        return "UBIGINT";
    case DUCKDB_TYPE_FLOAT:
        return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
        return "DOUBLE";
    case DUCKDB_TYPE_TIMESTAMP:
        return "TIMESTAMP";
    case DUCKDB_TYPE_DATE:
        return "DATE";
    case DUCKDB_TYPE_TIME:
        return "TIME";
    case DUCKDB_TYPE_INTERVAL:
        return "INTERVAL";
    case DUCKDB_TYPE_HUGEINT:
        return "HUGEINT";
    case DUCKDB_TYPE_UHUGEINT:
        return "UHUGEINT";
    case DUCKDB_TYPE_VARCHAR:
        return "VARCHAR";
    case DUCKDB_TYPE_BLOB:
        return "BLOB";
    case DUCKDB_TYPE_TIMESTAMP_S:
        return "TIMESTAMP_S";
    case DUCKDB_TYPE_TIMESTAMP_MS:
        return "TIMESTAMP_MS";
    case DUCKDB_TYPE_TIMESTAMP_NS:
        return "TIMESTAMP_NS";
    case DUCKDB_TYPE_UUID:
        return "UUID";
    case DUCKDB_TYPE_BIT:
        return "BIT";
    case DUCKDB_TYPE_TIME_TZ:
        return "TIME WITH TIME ZONE";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
        return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_SQLNULL:
        return "NULL";
    case DUCKDB_TYPE_BIGNUM:
        return "BIGNUM";
    case DUCKDB_TYPE_TIME_NS:
        return "TIME_NS";
    default:
        return NULL;
    }
}

static int struct_members(duckdb_logical_type t, qk_buf *out, bool is_union)
{
    idx_t n = is_union ? duckdb_union_type_member_count(t) : duckdb_struct_type_child_count(t);
    int rc = 0;
    for (idx_t i = 0; i < n && !rc; i++) {
        char *name =
            is_union ? duckdb_union_type_member_name(t, i) : duckdb_struct_type_child_name(t, i);
        duckdb_logical_type c =
            is_union ? duckdb_union_type_member_type(t, i) : duckdb_struct_type_child_type(t, i);
        if (i) rc = qk_buf_adds(out, ", ");
        if (!rc) rc = qk_buf_printf(out, "%s ", name ? name : "");
        if (!rc) rc = qk_type_name(c, out);
        duckdb_free(name);
        duckdb_destroy_logical_type(&c);
    }
    return rc;
}

static int enum_name(duckdb_logical_type t, qk_buf *out)
{
    uint32_t n = duckdb_enum_dictionary_size(t);
    int rc = qk_buf_adds(out, "ENUM(");
    for (uint32_t i = 0; i < n && !rc; i++) {
        char *v = duckdb_enum_dictionary_value(t, i);
        if (i) rc = qk_buf_adds(out, ", ");
        if (!rc) rc = qk_sql_add_literal(out, v ? v : "");
        duckdb_free(v);
    }
    return rc ? rc : qk_buf_addc(out, ')');
}

int qk_type_name(duckdb_logical_type t, qk_buf *out)
{
    duckdb_type id = duckdb_get_type_id(t);
    char *alias = duckdb_logical_type_get_alias(t);
    duckdb_logical_type c, k;
    const char *s;
    int rc;
    if (alias) {
        rc = qk_buf_adds(out, alias);
        duckdb_free(alias);
        return rc;
    }
    if ((s = simple_name(id))) return qk_buf_adds(out, s);
    switch (id) {
    case DUCKDB_TYPE_DECIMAL:
        return qk_buf_printf(out, "DECIMAL(%u,%u)", duckdb_decimal_width(t),
                             duckdb_decimal_scale(t));
    case DUCKDB_TYPE_ENUM:
        return enum_name(t, out);
    case DUCKDB_TYPE_LIST:
        c = duckdb_list_type_child_type(t);
        rc = qk_type_name(c, out);
        duckdb_destroy_logical_type(&c);
        return rc ? rc : qk_buf_adds(out, "[]");
    case DUCKDB_TYPE_ARRAY:
        c = duckdb_array_type_child_type(t);
        rc = qk_type_name(c, out);
        duckdb_destroy_logical_type(&c);
        return rc ? rc
                  : qk_buf_printf(out, "[%llu]",
                                  (unsigned long long)duckdb_array_type_array_size(t));
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION:
        rc = qk_buf_adds(out, id == DUCKDB_TYPE_STRUCT ? "STRUCT(" : "UNION(");
        if (!rc) rc = struct_members(t, out, id == DUCKDB_TYPE_UNION);
        return rc ? rc : qk_buf_addc(out, ')');
    case DUCKDB_TYPE_MAP:
        k = duckdb_map_type_key_type(t);
        c = duckdb_map_type_value_type(t);
        rc = qk_buf_adds(out, "MAP(");
        if (!rc) rc = qk_type_name(k, out);
        if (!rc) rc = qk_buf_adds(out, ", ");
        if (!rc) rc = qk_type_name(c, out);
        if (!rc) rc = qk_buf_addc(out, ')');
        duckdb_destroy_logical_type(&k);
        duckdb_destroy_logical_type(&c);
        return rc;
    default:
        return qk_buf_printf(out, "TYPE_%d", (int)id);
    }
}
