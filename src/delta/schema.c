/* SPDX-License-Identifier: MIT */
/*
 * schema.c: the table schema and the protocol checks.
 *
 * metaData.schemaString is Spark's JSON schema (PROTOCOL.md "Schema Serialization Format"):
 * {"type":"struct","fields":[{"name","type","nullable","metadata"}...]} where a type is a
 * primitive name or an object {"type":"array","elementType"}, {"type":"map","keyType",
 * "valueType"} or {"type":"struct","fields"}. DuckDB types:
 *   string VARCHAR, long BIGINT, integer INTEGER, short SMALLINT, byte TINYINT, float FLOAT,
 *   double DOUBLE, boolean BOOLEAN, binary BLOB, date DATE, timestamp TIMESTAMP WITH TIME ZONE
 *   (instants, UTC-adjusted in Parquet), timestamp_ntz TIMESTAMP, decimal(p,s) DECIMAL(p,s)
 *   (p <= 38), array T[], map MAP(K, V), struct STRUCT("name" T, ...).
 * variant and void are refused. The reader supports reader version 1, and version 3 with
 * only the reader features listed in supported_features; column mapping (reader version 2
 * or a delta.columnMapping.mode) and deletion vectors change how rows are read and are
 * refused by name.
 */
#include "delta/delta_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TYPE_DEPTH_MAX 64
#define TYPE_MAX (1u << 20)

static const struct {
    const char *spark, *duck;
} primitives[] = {
    {"string", "VARCHAR"},
    {"long", "BIGINT"},
    {"integer", "INTEGER"},
    {"short", "SMALLINT"},
    {"byte", "TINYINT"},
    {"float", "FLOAT"},
    {"double", "DOUBLE"},
    {"boolean", "BOOLEAN"},
    {"binary", "BLOB"},
    {"date", "DATE"},
    {"timestamp", "TIMESTAMP WITH TIME ZONE"},
    {"timestamp_ntz", "TIMESTAMP"},
};

/* Reader features whose tables read the same as reader version 1 tables. */
static const char *const supported_features[] = {"timestampNtz", "vacuumProtocolCheck"};

int qk_delta_add_ident(qk_buf *b, const char *name)
{
    int rc = qk_buf_addc(b, '"');
    for (const char *p = name; !rc && *p; p++)
        rc = *p == '"' ? qk_buf_adds(b, "\"\"") : qk_buf_addc(b, *p);
    return rc ? rc : qk_buf_addc(b, '"');
}

/* Parse a whole unsigned number of at most 2 digits at *p, advancing it. */
static int small_num(const char **p, int *out)
{
    int n = 0, d = 0;
    while (**p == ' ')
        (*p)++;
    while (**p >= '0' && **p <= '9' && d < 3)
        n = n * 10 + (*(*p)++ - '0'), d++;
    while (**p == ' ')
        (*p)++;
    *out = n;
    return d >= 1 && d <= 2 ? 0 : -1;
}

/* "decimal(p,s)" (or plain "decimal", meaning decimal(10,0)). */
static int decimal_type(const char *s, qk_buf *out, qk_err *err)
{
    const char *p = s + strlen("decimal");
    int prec = 10, scale = 0;
    if (*p) {
        if (*p++ != '(' || small_num(&p, &prec) || *p++ != ',' || small_num(&p, &scale) ||
            *p++ != ')' || *p)
            return qk_errf(err, QK_EPARSE, "malformed decimal type \"%s\"", s);
    }
    if (prec < 1 || prec > 38 || scale > prec)
        return qk_errf(err, QK_EPARSE, "decimal type \"%s\" is out of range", s);
    return qk_buf_printf(out, "DECIMAL(%d,%d)", prec, scale)
               ? qk_errf(err, QK_ETOOBIG, "type too long")
               : 0;
}

static int primitive_type(const char *s, qk_buf *out, qk_err *err)
{
    for (size_t i = 0; i < sizeof primitives / sizeof *primitives; i++)
        if (!strcmp(s, primitives[i].spark))
            return qk_buf_adds(out, primitives[i].duck) ? qk_errf(err, QK_ETOOBIG, "type too long")
                                                        : 0;
    if (!strncmp(s, "decimal", 7)) return decimal_type(s, out, err);
    if (!strcmp(s, "variant") || !strcmp(s, "void"))
        return qk_errf(err, QK_EUNSUPPORTED, "the %s type is not supported", s);
    return qk_errf(err, QK_EUNSUPPORTED, "unknown type \"%s\"", s);
}

static int type_of(json_t *t, qk_buf *out, int depth, qk_err *err);

static int struct_type(json_t *fields, qk_buf *out, int depth, qk_err *err)
{
    size_t i;
    json_t *f;
    int rc = 0;
    if (!json_is_array(fields) || !json_array_size(fields))
        return qk_errf(err, QK_EPARSE, "a struct type has no fields");
    if (qk_buf_adds(out, "STRUCT(")) return qk_errf(err, QK_ETOOBIG, "type too long");
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name) return qk_errf(err, QK_EPARSE, "a struct field has no name");
        if ((i && qk_buf_adds(out, ", ")) || qk_delta_add_ident(out, name) || qk_buf_addc(out, ' '))
            return qk_errf(err, QK_ETOOBIG, "type too long");
        if ((rc = type_of(json_object_get(f, "type"), out, depth + 1, err))) return rc;
    }
    return qk_buf_addc(out, ')') ? qk_errf(err, QK_ETOOBIG, "type too long") : 0;
}

static int map_type(json_t *t, qk_buf *out, int depth, qk_err *err)
{
    int rc;
    if (qk_buf_adds(out, "MAP(")) return qk_errf(err, QK_ETOOBIG, "type too long");
    if ((rc = type_of(json_object_get(t, "keyType"), out, depth + 1, err))) return rc;
    if (qk_buf_adds(out, ", ")) return qk_errf(err, QK_ETOOBIG, "type too long");
    if ((rc = type_of(json_object_get(t, "valueType"), out, depth + 1, err))) return rc;
    return qk_buf_addc(out, ')') ? qk_errf(err, QK_ETOOBIG, "type too long") : 0;
}

static int type_of(json_t *t, qk_buf *out, int depth, qk_err *err)
{
    const char *kind;
    int rc;
    if (depth > TYPE_DEPTH_MAX)
        return qk_errf(err, QK_EUNSUPPORTED, "types nested more than %d deep", TYPE_DEPTH_MAX);
    if (json_is_string(t)) return primitive_type(json_string_value(t), out, err);
    kind = json_string_value(json_object_get(t, "type"));
    if (!kind) return qk_errf(err, QK_EPARSE, "a schema type is neither a name nor an object");
    if (!strcmp(kind, "struct")) return struct_type(json_object_get(t, "fields"), out, depth, err);
    if (!strcmp(kind, "map")) return map_type(t, out, depth, err);
    if (strcmp(kind, "array")) return qk_errf(err, QK_EUNSUPPORTED, "unknown type \"%s\"", kind);
    if ((rc = type_of(json_object_get(t, "elementType"), out, depth + 1, err))) return rc;
    return qk_buf_adds(out, "[]") ? qk_errf(err, QK_ETOOBIG, "type too long") : 0;
}

int qk_delta_type_of(json_t *spark_type, qk_buf *duckdb_type, qk_err *err)
{
    return type_of(spark_type, duckdb_type, 0, err);
}

/* ---- protocol ----------------------------------------------------------------------------- */

static bool feature_supported(const char *f)
{
    for (size_t i = 0; i < sizeof supported_features / sizeof *supported_features; i++)
        if (!strcmp(f, supported_features[i])) return true;
    return false;
}

int qk_delta_protocol_check(const qk_delta_protocol *p, json_t *configuration, qk_err *err)
{
    const char *mode =
        json_string_value(json_object_get(configuration, "delta.columnMapping.mode"));
    if (p->min_reader_version > 3 || p->min_reader_version < 1)
        return qk_errf(err, QK_EUNSUPPORTED,
                       "the table needs Delta reader version %d; quack reads versions 1 to 3",
                       p->min_reader_version);
    if (p->min_reader_version == 2)
        return qk_errf(err, QK_EUNSUPPORTED,
                       "the table needs reader feature columnMapping (reader version 2), which "
                       "quack does not support");
    for (size_t i = 0; p->min_reader_version == 3 && i < p->nreader_features; i++)
        if (!feature_supported(p->reader_features[i]))
            return qk_errf(err, QK_EUNSUPPORTED,
                           "the table needs reader feature %s, which quack does not support",
                           p->reader_features[i]);
    if (mode && strcmp(mode, "none"))
        return qk_errf(err, QK_EUNSUPPORTED,
                       "the table uses column mapping (mode %s), which quack does not support",
                       mode);
    return 0;
}

/* ---- columns ------------------------------------------------------------------------------ */

static int partition_index(const qk_delta_metadata *m, const char *name)
{
    for (size_t i = 0; i < m->npartition_columns; i++)
        if (!strcmp(m->partition_columns[i], name)) return (int)i;
    for (size_t i = 0; i < m->npartition_columns; i++)
        if (!strcasecmp(m->partition_columns[i], name)) return (int)i;
    return -1;
}

static int parse_column(qk_delta_snapshot *snap, json_t *f, qk_delta_column *c, qk_buf *tb,
                        qk_err *err)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    json_t *t = json_object_get(f, "type");
    char *spark;
    int rc;
    if (!name || !t) return qk_errf(err, QK_EPARSE, "a schema field has no name or type");
    qk_buf_truncate(tb, 0);
    if ((rc = qk_delta_type_of(t, tb, err))) {
        qk_err_prefix(err, "column %s", name);
        return rc;
    }
    if (!(spark = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT)))
        return qk_errf(err, QK_ENOMEM, "out of memory");
    c->spark = qk_arena_strdup(&snap->arena, spark);
    free(spark);
    c->name = qk_arena_strdup(&snap->arena, name);
    c->type = qk_arena_strdup(&snap->arena, qk_buf_cstr(tb));
    c->nullable = !json_is_false(json_object_get(f, "nullable"));
    c->partition = partition_index(&snap->metadata, name);
    return c->name && c->type && c->spark ? 0 : qk_errf(err, QK_ENOMEM, "out of memory");
}

/* Every partition column must be a column of the schema. */
static int check_partitions(const qk_delta_metadata *m, qk_err *err)
{
    for (size_t i = 0; i < m->npartition_columns; i++) {
        bool found = false;
        for (size_t j = 0; j < m->ncolumns && !found; j++)
            found = m->columns[j].partition == (int)i;
        if (!found)
            return qk_errf(err, QK_EPARSE, "partition column %s is not in the schema",
                           m->partition_columns[i]);
    }
    return 0;
}

int qk_delta_columns_parse(qk_delta_snapshot *snap, qk_err *err)
{
    qk_delta_metadata *m = &snap->metadata;
    json_error_t je;
    json_t *schema = json_loads(m->schema_string, 0, &je), *fields;
    qk_buf tb;
    size_t i;
    int rc = 0;
    qk_buf_init(&tb, TYPE_MAX);
    fields = json_object_get(schema, "fields");
    if (!schema || !json_is_array(fields)) {
        rc = qk_errf(err, QK_EPARSE, "schemaString is not a struct schema: %s",
                     schema ? "no fields" : je.text);
        goto out;
    }
    m->columns = qk_arena_alloc(&snap->arena, (json_array_size(fields) + 1) * sizeof *m->columns);
    if (!m->columns) {
        rc = qk_errf(err, QK_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; !rc && i < json_array_size(fields); i++)
        rc = parse_column(snap, json_array_get(fields, i), &m->columns[i], &tb, err);
    if (rc) goto out;
    m->ncolumns = json_array_size(fields);
    rc = check_partitions(m, err);
out:
    qk_buf_free(&tb);
    json_decref(schema);
    return rc;
}
