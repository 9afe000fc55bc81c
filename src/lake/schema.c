/* SPDX-License-Identifier: MIT */
/*
 * schema.c: a lake table's columns through DuckDB's DESCRIBE (schema.h has the contract).
 *
 * Local lake: DESCRIBE SELECT * FROM <the table's read_* call>, in place.
 * S3 lake: LIST the table's path until the first of its data files, fetch the few bytes DuckDB
 * needs to bind it (Parquet: the footer; text: a sample from the start), write them to
 * <engine temp>/schema-<uuid>/<key> and DESCRIBE that file with the table's hive flag. A Parquet
 * file is laid out as "PAR1" <column chunks> <FileMetaData> <4-byte LE length> "PAR1"; the
 * mirror is a sparse file of the object's size holding the leading magic and the real tail, so
 * every offset in the metadata is what it is in the object, and the column chunks (never read
 * to bind) are holes.
 */
#include "lake/schema.h"
#include "lake/lake_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SQL_MAX (64u << 20) /* a DESCRIBE over an explicit list of many files */
/* Room for a ranged get of n bytes (exactly enough: this is also the regression test of the S3
 * backend's Content-Length check, which once compared with the room left after earlier body
 * chunks). */
#define GET_ROOM(n) ((size_t)(n) + 1)
#define LIST_FOUND 1 /* first_cb's "stop, found it" (positive: never a QK_E* code) */

/* ---- DESCRIBE -------------------------------------------------------------------------------- */

static int column_index(duckdb_result *res, const char *name, idx_t *out, qk_err *err)
{
    for (idx_t i = 0; i < duckdb_column_count(res); i++)
        if (!strcmp(duckdb_column_name(res, i), name)) {
            *out = i;
            return 0;
        }
    return qk_errf(err, QK_EINTERNAL, "DESCRIBE returned no %s column", name);
}

static json_t *vec_str(duckdb_vector v, idx_t row)
{
    duckdb_string_t *s = (duckdb_string_t *)duckdb_vector_get_data(v) + row;
    uint64_t *valid = duckdb_vector_get_validity(v);
    if (valid && !duckdb_validity_row_is_valid(valid, row)) return json_string("");
    return json_stringn(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

/* Append {"name", "type"} for every row of a DESCRIBE result to cols. */
static int read_columns(duckdb_result *res, json_t *cols, qk_err *err)
{
    duckdb_data_chunk ch;
    idx_t ni, ti;
    int rc = column_index(res, "column_name", &ni, err);
    if (!rc) rc = column_index(res, "column_type", &ti, err);
    while (!rc && (ch = duckdb_fetch_chunk(*res)) != NULL) {
        duckdb_vector nv = duckdb_data_chunk_get_vector(ch, ni);
        duckdb_vector tv = duckdb_data_chunk_get_vector(ch, ti);
        for (idx_t r = 0; !rc && r < duckdb_data_chunk_get_size(ch); r++) {
            json_t *c = json_object();
            if (!c || json_object_set_new(c, "name", vec_str(nv, r)) ||
                json_object_set_new(c, "type", vec_str(tv, r)) || json_array_append_new(cols, c))
                rc = qk_errf(err, QK_ENOMEM, "out of memory");
        }
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

/* DESCRIBE SELECT * FROM <from> on a fresh connection of e. */
static int describe(qk_engine *e, const char *from, json_t **columns, qk_err *err)
{
    duckdb_connection con = NULL;
    duckdb_result res;
    bool have_res = false;
    json_t *cols = json_array();
    qk_buf sql;
    int rc;
    qk_buf_init(&sql, SQL_MAX);
    if (!cols) return qk_errf(err, QK_ENOMEM, "out of memory");
    if ((rc = qk_buf_printf(&sql, "DESCRIBE SELECT * FROM %s", from))) {
        rc = qk_errf(err, rc, "DESCRIBE query too long");
        goto out;
    }
    if (duckdb_connect(qk_engine_db(e), &con) == DuckDBError) {
        rc = qk_errf(err, QK_EINTERNAL, "cannot connect to DuckDB");
        goto out;
    }
    have_res = true;
    if (duckdb_query(con, qk_buf_cstr(&sql), &res) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        goto out;
    }
    if ((rc = read_columns(&res, cols, err))) goto out;
    *columns = cols;
    cols = NULL;
out:
    if (have_res) duckdb_destroy_result(&res);
    if (con) duckdb_disconnect(&con);
    json_decref(cols);
    qk_buf_free(&sql);
    return rc;
}

static int describe_local(qk_engine *e, qk_store *lake, const qk_lake_table *t, json_t **columns,
                          qk_err *err)
{
    qk_buf from;
    int rc;
    qk_buf_init(&from, SQL_MAX);
    rc = qk_lake_table_sql(t, qk_store_uri(lake), &from, err);
    if (!rc) rc = describe(e, qk_buf_cstr(&from), columns, err);
    qk_buf_free(&from);
    return rc;
}

/* ---- the first data file on S3 ----------------------------------------------------------- */

typedef struct first_file {
    const qk_lake_table *t;
    char *key;
    uint64_t size;
} first_file;

static bool is_table_file(const qk_lake_table *t, const char *key)
{
    if (t->kind == QK_TABLE_FILE) return !strcmp(key, t->path);
    if (t->files) return t->nfiles > 0 && !strcmp(key, t->files[0]);
    return qk_lake_glob_match(t->pattern, key);
}

static int first_cb(void *ud, const qk_obj_info *obj, const char *cp, qk_err *err)
{
    first_file *f = ud;
    (void)cp;
    (void)err;
    if (!obj || !is_table_file(f->t, obj->key)) return 0;
    f->key = qk_xstrdup(obj->key);
    f->size = obj->size;
    return LIST_FOUND;
}

/* The table's first data file in key order (listing stops there). *key: caller frees. */
static int find_first_file(qk_store *lake, const qk_lake_table *t, char **key, uint64_t *size,
                           qk_err *err)
{
    first_file f = {t, NULL, 0};
    char prefix[QK_STORE_KEY_MAX + 2];
    int rc;
    snprintf(prefix, sizeof prefix, "%s%s", t->path, t->kind == QK_TABLE_FILE ? "" : "/");
    rc = qk_store_list_all(lake, prefix, NULL, first_cb, &f, err);
    if (rc == LIST_FOUND) {
        *key = f.key;
        *size = f.size;
        return 0;
    }
    free(f.key);
    if (rc) return rc;
    return qk_errf(err, QK_ENOTFOUND, "table %s: no data file left under %s", t->name, t->path);
}

/* ---- the local mirror -------------------------------------------------------------------- */

/* <temp>/schema-<uuid> (*dir) and <dir>/<key> (*path) with its parent folders made. */
static int mirror_paths(qk_engine *e, const char *key, char **dir, char **path, qk_err *err)
{
    char uuid[37];
    qk_buf b;
    char *slash;
    int rc;
    if (!qk_lake_key_is_path(key))
        return qk_errf(err, QK_EUNSUPPORTED, "cannot mirror %.200s: empty, '.' or '..' in the key",
                       key);
    qk_uuid4(uuid);
    qk_buf_init(&b, 8192);
    if ((rc = qk_buf_printf(&b, "%s/schema-%s", qk_engine_temp_dir(e), uuid)) == 0)
        *dir = qk_xstrdup(qk_buf_cstr(&b));
    if (rc || (rc = qk_buf_printf(&b, "/%s", key))) {
        qk_buf_free(&b);
        return qk_errf(err, rc, "temp path too long");
    }
    *path = qk_buf_detach(&b, NULL);
    slash = strrchr(*path, '/');
    *slash = 0;
    rc = qk_mkdirs(*path, err);
    *slash = '/';
    return rc;
}

static int pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Write a file of `size` bytes, all holes but head (at 0) and tail (at tail_off). */
static int write_mirror(const char *path, uint64_t size, const qk_buf *head, const qk_buf *tail,
                        uint64_t tail_off, qk_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0) return qk_errf(err, QK_EIO, "cannot create %s: %s", path, strerror(errno));
    if (ftruncate(fd, (off_t)size) != 0 ||
        (head && head->len && pwrite_all(fd, head->data, head->len, 0) != 0) ||
        (tail && tail->len && pwrite_all(fd, tail->data, tail->len, tail_off) != 0))
        rc = qk_errf(err, QK_EIO, "cannot write %s: %s", path, strerror(errno));
    if (close(fd) != 0 && !rc) rc = qk_errf(err, QK_EIO, "cannot write %s", path);
    return rc;
}

/* ---- what is fetched ---------------------------------------------------------------------- */

/* Bytes [off, off+len) of key into out (emptied first); the object must still be `size` long. */
static int get_range(qk_store *lake, const char *key, uint64_t size, uint64_t off, uint64_t len,
                     qk_buf *out, qk_err *err)
{
    qk_obj_info info;
    int rc;
    qk_buf_truncate(out, 0);
    if ((rc = qk_store_get(lake, key, off, len, out, &info, err))) return rc;
    if (out->len != len || info.size != size)
        return qk_errf(err, QK_EIO, "%.200s changed while its schema was read; try again", key);
    return 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The Parquet footer of key: the last 64 KiB, or exactly the footer when it is longer. */
static int parquet_mirror(qk_store *lake, const char *key, uint64_t size, const char *path,
                          qk_err *err)
{
    uint64_t n = size < QK_SCHEMA_PARQUET_TAIL ? size : QK_SCHEMA_PARQUET_TAIL;
    qk_buf tail, head;
    const unsigned char *end;
    uint32_t flen;
    int rc;
    if (size < 12)
        return qk_errf(err, QK_EPARSE, "%.200s is not a Parquet file (%llu bytes)", key,
                       (unsigned long long)size);
    qk_buf_init(&tail, GET_ROOM(QK_SCHEMA_FOOTER_MAX + 8));
    qk_buf_init(&head, 8);
    if ((rc = get_range(lake, key, size, size - n, n, &tail, err))) goto out;
    end = (const unsigned char *)tail.data + n - 8;
    if (memcmp(end + 4, "PAR1", 4) != 0) {
        rc = qk_errf(err, QK_EPARSE, "%.200s is not a Parquet file (no PAR1 at its end%s)", key,
                     memcmp(end + 4, "PARE", 4) ? "" : ": its footer is encrypted");
        goto out;
    }
    flen = le32(end);
    if ((uint64_t)flen + 12 > size || flen > QK_SCHEMA_FOOTER_MAX) {
        rc = qk_errf(err, QK_EPARSE, "%.200s: bad Parquet footer length %u", key, flen);
        goto out;
    }
    if ((uint64_t)flen + 8 > n) {
        n = (uint64_t)flen + 8;
        if ((rc = get_range(lake, key, size, size - n, n, &tail, err))) goto out;
    }
    qk_buf_add(&head, "PAR1", 4);
    rc = write_mirror(path, size, &head, &tail, size - n, err);
out:
    qk_buf_free(&head);
    qk_buf_free(&tail);
    return rc;
}

static bool compressed(const char *key)
{
    return qk_str_endswith(key, ".gz") || qk_str_endswith(key, ".zst");
}

/* The start of a CSV/JSON file, cut after its last newline; a compressed file whole. */
static int text_mirror(qk_store *lake, const char *key, uint64_t size, const char *path,
                       qk_err *err)
{
    uint64_t n = size < QK_SCHEMA_TEXT_SAMPLE ? size : QK_SCHEMA_TEXT_SAMPLE;
    qk_buf b;
    int rc = 0;
    if (compressed(key)) {
        if (size > QK_SCHEMA_COMPRESSED_MAX)
            return qk_errf(err, QK_EUNSUPPORTED,
                           "%.200s is compressed and %llu bytes: too big to sample for its "
                           "schema (at most %u MiB)",
                           key, (unsigned long long)size, QK_SCHEMA_COMPRESSED_MAX >> 20);
        n = size;
    }
    qk_buf_init(&b, GET_ROOM(n));
    if (n > 0) rc = get_range(lake, key, size, 0, n, &b, err);
    if (!rc && n < size) {
        const char *nl = memrchr(b.data, '\n', b.len);
        if (!nl)
            rc = qk_errf(err, QK_EUNSUPPORTED, "%.200s: no line ends in its first %u KiB", key,
                         QK_SCHEMA_TEXT_SAMPLE >> 10);
        else
            qk_buf_truncate(&b, (size_t)(nl - b.data) + 1);
    }
    if (!rc) rc = write_mirror(path, b.len, &b, NULL, 0, err);
    qk_buf_free(&b);
    return rc;
}

static int describe_remote(qk_engine *e, qk_store *lake, const qk_lake_table *t, json_t **columns,
                           qk_err *err)
{
    static const char *const fn[] = {"read_parquet", "read_csv", "read_json"};
    char *key = NULL, *dir = NULL, *path = NULL;
    uint64_t size = 0;
    qk_buf from;
    int rc;
    qk_buf_init(&from, 16384);
    if ((rc = find_first_file(lake, t, &key, &size, err))) goto out;
    if ((rc = mirror_paths(e, key, &dir, &path, err))) goto out;
    rc = t->format == QK_FORMAT_PARQUET ? parquet_mirror(lake, key, size, path, err)
                                        : text_mirror(lake, key, size, path, err);
    if (rc) goto out;
    if (qk_buf_printf(&from, "%s(", fn[t->format]) || qk_sql_add_literal(&from, path) ||
        qk_buf_printf(&from, ", hive_partitioning = %s)",
                      t->kind == QK_TABLE_HIVE ? "true" : "false")) {
        rc = qk_errf(err, QK_ETOOBIG, "temp path too long");
        goto out;
    }
    rc = describe(e, qk_buf_cstr(&from), columns, err);
out:
    if (dir) qk_rmtree(dir, false, NULL);
    free(dir);
    free(path);
    free(key);
    qk_buf_free(&from);
    return rc;
}

/* ---- entry point --------------------------------------------------------------------------- */

int qk_lake_table_schema(qk_engine *e, qk_store *lake, const qk_lake_table *t, json_t **columns,
                         qk_err *err)
{
    *columns = NULL;
    if (t->format == QK_FORMAT_DELTA)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "%s is a Delta table; reading its schema is not supported yet", t->name);
    if (t->format == QK_FORMAT_MIXED)
        return qk_errtf(err, QK_EUNSUPPORTED, "NotImplementedException",
                        "table %s mixes data formats in one folder, so it has no one schema",
                        t->name);
    if ((unsigned)t->format > QK_FORMAT_JSON)
        return qk_errf(err, QK_EINVAL, "table %s: unknown format", t->name);
    if (!strcmp(qk_store_backend(lake), "local")) return describe_local(e, lake, t, columns, err);
    return describe_remote(e, lake, t, columns, err);
}
