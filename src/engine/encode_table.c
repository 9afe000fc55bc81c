/* SPDX-License-Identifier: MIT */
/*
 * encode_table.c: the terminal table, drawn like DuckDB's CLI ("duckbox"):
 *
 *   ┌─────────┬─────────┐
 *   │ COUNTS  │  name   │     column names, centered
 *   │  int64  │ varchar │     DuckDB CLI's short type names, centered
 *   ├─────────┼─────────┤
 *   │ 7433139 │ foo     │     numbers right-aligned, everything else left-aligned
 *   └─────────┴─────────┘
 *
 * 1. Collect: every cell becomes text (encode_value.c, TABLE mode; NULL as NULL), control
 *    characters are escaped (\n, \t, ...) as DuckDB does, and text wider than CELL_MAX display
 *    columns is cut with "…". Widths are measured in code points (East Asian wide as 2).
 * 2. Lay out: column width = widest of name, type and cells. While the table is wider than
 *    opts->table_width (0 = 120), the widest columns shrink: first their names and type names
 *    (down to the widest value), then text values (down to MIN_COL; numbers, dates and times
 *    are never cut). If it is still too wide, trailing columns are dropped and a "…" column
 *    marks the gap; room left over goes back to the columns that were cut.
 * 3. Draw: header, rows, bottom. The bottom border's bytes are reserved first so that under a
 *    byte cap the box is always closed: a row that does not fit ends the table (truncated).
 * A result with no rows gets a "0 rows" line inside the box.
 */
#include "engine/encode_int.h"

#include <stdlib.h>

#define CELL_MAX 40
#define MIN_COL 5
#define CELL_TEXT_MAX ((size_t)256 << 20) /* one cell's text before it is cut (nested values) */
#define DEFAULT_WIDTH 120
#define ELLIPSIS "\xE2\x80\xA6" /* U+2026 */
#define NO_COL ((idx_t)-1)

typedef struct cell {
    size_t off, len, width;
} cell;

typedef struct table {
    idx_t ncols;
    qk_buf text; /* all cell texts, back to back */
    cell *cells; /* rows of ncols cells: names, types, then the data rows */
    size_t nlines, cap_lines;
    bool *right;     /* per column: right-aligned (numbers) */
    bool *whole;     /* per column: values are never cut (numbers, dates, times, ...) */
    size_t *natural; /* per column: widest of name, type and values */
    size_t *fl;      /* per column: the width shrink() stops at */
    idx_t *vis;      /* visible columns (NO_COL: the "…" column) */
    size_t *vw;      /* their widths */
    idx_t nvis;
    qk_buf scratch;
} table;

/* ---- display width ----------------------------------------------------------------------- */

/* Decode one UTF-8 code point; invalid bytes decode as U+FFFD with length 1. */
static uint32_t next_cp(const unsigned char *s, size_t n, size_t *len)
{
    uint32_t cp;
    size_t l = qk_utf8_decode(s, n, &cp);
    *len = l ? l : 1;
    return l ? cp : 0xFFFD;
}

static size_t cp_width(uint32_t cp)
{
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || cp == 0xFE0F) return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

size_t qk_enc_display_width(const char *s, size_t n)
{
    size_t w = 0, i = 0, l;
    while (i < n) {
        uint32_t cp = next_cp((const unsigned char *)s + i, n - i, &l);
        w += cp_width(cp);
        i += l;
    }
    return w;
}

/* Bytes of the longest prefix of s no wider than maxw; its width in *w. */
static size_t fit_prefix(const char *s, size_t n, size_t maxw, size_t *w)
{
    size_t i = 0, l, cw;
    *w = 0;
    while (i < n) {
        cw = cp_width(next_cp((const unsigned char *)s + i, n - i, &l));
        if (*w + cw > maxw) break;
        *w += cw;
        i += l;
    }
    return i;
}

/* ---- type names -------------------------------------------------------------------------- */

static const char *short_int_name(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_TINYINT:
        return "int8";
    case DUCKDB_TYPE_SMALLINT:
        return "int16";
    case DUCKDB_TYPE_INTEGER:
        return "int32";
    case DUCKDB_TYPE_BIGINT:
        return "int64";
    case DUCKDB_TYPE_HUGEINT:
        return "int128";
    case DUCKDB_TYPE_UTINYINT:
        return "uint8";
    case DUCKDB_TYPE_USMALLINT:
        return "uint16";
    case DUCKDB_TYPE_UINTEGER:
        return "uint32";
    case DUCKDB_TYPE_UBIGINT:
        return "uint64";
    case DUCKDB_TYPE_UHUGEINT:
        return "uint128";
    default:
        return NULL;
    }
}

int qk_enc_table_type(duckdb_logical_type t, qk_buf *out)
{
    char *alias = duckdb_logical_type_get_alias(t);
    duckdb_type id = duckdb_get_type_id(t);
    const char *s = alias ? NULL : short_int_name(id);
    size_t start = out->len;
    int rc;
    duckdb_free(alias);
    if (s) return qk_buf_adds(out, s);
    if (!alias && id == DUCKDB_TYPE_LIST) {
        duckdb_logical_type c = duckdb_list_type_child_type(t);
        rc = qk_enc_table_type(c, out);
        duckdb_destroy_logical_type(&c);
        return rc ? rc : qk_buf_adds(out, "[]");
    }
    if ((rc = qk_type_name(t, out))) return rc;
    for (size_t i = start; i < out->len; i++)
        if (out->data[i] >= 'A' && out->data[i] <= 'Z')
            out->data[i] = (char)(out->data[i] - 'A' + 'a');
    return 0;
}

/* ---- collecting cells -------------------------------------------------------------------- */

/* DuckDB's rendering of a control character (\n, \t, ... or \<decimal>). */
static size_t escape_ctl(unsigned char c, char *p)
{
    static const char names[] = "\a\b\t\n\v\f\r\x1b";
    static const char letters[] = "abtnvfre";
    const char *hit = c ? memchr(names, c, sizeof names - 1) : NULL;
    p[0] = '\\';
    if (hit) {
        p[1] = letters[hit - names];
        return 2;
    }
    return 1 + qk_fmt_u64(p + 1, c);
}

/* Append s as a cell's text: control characters escaped, cut to CELL_MAX columns. */
static int add_text(table *t, cell *c, const char *s, size_t n, bool escape)
{
    size_t i = 0, l, cut_len = 0, cut_w = 0, w = 0;
    int rc = 0;
    c->off = t->text.len;
    while (i < n && !rc) {
        char esc[8];
        const char *piece = s + i;
        size_t plen, pw;
        uint32_t cp = next_cp((const unsigned char *)s + i, n - i, &l);
        if (escape && cp < 32)
            plen = pw = escape_ctl((unsigned char)cp, esc), piece = esc;
        else if (cp == 0xFFFD && l == 1)
            piece = "\xEF\xBF\xBD", plen = 3, pw = 1;
        else
            plen = l, pw = cp_width(cp);
        if (w + pw > CELL_MAX) { /* too wide: back to the last point that leaves room for … */
            qk_buf_truncate(&t->text, c->off + cut_len);
            rc = qk_buf_add(&t->text, ELLIPSIS, 3);
            w = cut_w + 1;
            break;
        }
        rc = qk_buf_add(&t->text, piece, plen);
        w += pw;
        i += l;
        if (w <= CELL_MAX - 1) cut_len = t->text.len - c->off, cut_w = w;
    }
    c->len = t->text.len - c->off;
    c->width = w;
    return rc;
}

static cell *new_line(table *t)
{
    if (t->nlines == t->cap_lines) {
        size_t ncap = t->cap_lines ? t->cap_lines * 2 : 64;
        cell *p = realloc(t->cells, ncap * (t->ncols ? t->ncols : 1) * sizeof *p);
        if (!p) return NULL;
        t->cells = p;
        t->cap_lines = ncap;
    }
    return t->cells + t->nlines++ * t->ncols;
}

static bool is_numeric(duckdb_type id)
{
    return short_int_name(id) || id == DUCKDB_TYPE_DECIMAL || id == DUCKDB_TYPE_FLOAT ||
           id == DUCKDB_TYPE_DOUBLE;
}

/* Types whose values lose their meaning when cut: shrinking stops at their widest value. */
static bool is_whole(duckdb_type id)
{
    switch (id) {
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT:
    case DUCKDB_TYPE_BIGNUM:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_MAP:
    case DUCKDB_TYPE_UNION:
        return false;
    default:
        return true;
    }
}

static int collect_header(table *t, qk_result *r)
{
    cell *names = new_line(t), *types;
    int rc = 0;
    if (!names) return QK_ENOMEM;
    for (idx_t c = 0; c < t->ncols && !rc; c++) {
        const char *n = qk_result_column_name(r, c);
        rc = add_text(t, &names[c], n, strlen(n), true);
    }
    if (rc || !(types = new_line(t))) return rc ? rc : QK_ENOMEM; /* names may have moved */
    for (idx_t c = 0; c < t->ncols && !rc; c++) {
        duckdb_logical_type lt = qk_result_column_logical_type(r, c);
        t->right[c] = is_numeric(duckdb_get_type_id(lt));
        t->whole[c] = is_whole(duckdb_get_type_id(lt));
        qk_buf_truncate(&t->scratch, 0);
        if (!(rc = qk_enc_table_type(lt, &t->scratch)))
            rc = add_text(t, &types[c], qk_buf_cstr(&t->scratch), t->scratch.len, true);
    }
    return rc;
}

static int collect_row(table *t, qk_enc_col **plan, idx_t row)
{
    cell *line = new_line(t);
    int rc = 0;
    if (!line) return QK_ENOMEM;
    for (idx_t c = 0; c < t->ncols && !rc; c++) {
        if (!qk_enc_valid(plan[c], row)) {
            rc = add_text(t, &line[c], "NULL", 4, false);
            continue;
        }
        qk_buf_truncate(&t->scratch, 0);
        if (!(rc = qk_enc_value(&t->scratch, plan[c], row, QK_ENC_TABLE)))
            rc = add_text(t, &line[c], qk_buf_cstr(&t->scratch), t->scratch.len, !t->right[c]);
    }
    return rc;
}

/* Collect rows while they could still fit in `room` bytes of output: a drawn row takes at least
 * 10 bytes, and at least 1/8 of its cells' text (a cell keeps >= 5 of its <= 40 columns). */
static int collect_rows(table *t, qk_result *r, qk_enc_col **plan, size_t room, bool *more)
{
    duckdb_data_chunk ch;
    size_t max_rows = room / 10, max_text = room > SIZE_MAX / 8 ? SIZE_MAX : room * 8;
    int rc = 0;
    while (!rc && !*more && (ch = qk_result_next_chunk(r)) != NULL) {
        idx_t n = duckdb_data_chunk_get_size(ch);
        for (idx_t c = 0; c < t->ncols; c++)
            qk_enc_col_bind(plan[c], duckdb_data_chunk_get_vector(ch, c));
        for (idx_t row = 0; row < n && !rc; row++) {
            if (t->nlines - 2 >= max_rows || t->text.len > max_text) {
                *more = true;
                break;
            }
            rc = collect_row(t, plan, row);
        }
        duckdb_destroy_data_chunk(&ch);
    }
    return rc;
}

/* ---- layout ------------------------------------------------------------------------------ */

static size_t total_width(const table *t)
{
    size_t w = 1;
    for (idx_t i = 0; i < t->nvis; i++)
        w += t->vw[i] + 3;
    return w;
}

/* Shrink the widest columns, one level at a time, until the table fits or all are MIN_COL. */
/* Shrink the widest columns, one level at a time, until the table fits or every column is at
 * its floor t->fl[i]. */
static void shrink(table *t, size_t limit)
{
    size_t total = total_width(t);
    while (total > limit) {
        size_t top = 0, next = 0, count = 0, cut;
        for (idx_t i = 0; i < t->nvis; i++)
            if (t->vw[i] > t->fl[i] && t->vw[i] > top) top = t->vw[i];
        if (top == 0) return;
        for (idx_t i = 0; i < t->nvis; i++) {
            if (t->vw[i] <= t->fl[i]) continue;
            if (t->vw[i] == top)
                count++;
            else if (t->vw[i] > next)
                next = t->vw[i];
        }
        cut = (total - limit + count - 1) / count; /* per widest column, at least 1 */
        if (cut > top - next) cut = top - next;
        for (idx_t i = 0; i < t->nvis; i++) {
            if (t->vw[i] != top || t->vw[i] <= t->fl[i]) continue;
            size_t d = t->vw[i] - t->fl[i] < cut ? t->vw[i] - t->fl[i] : cut;
            t->vw[i] -= d;
            total -= d;
        }
    }
}

/* Natural widths (widest of name, type, values) and the widest value of every column. */
static void measure(table *t, size_t *value_w)
{
    for (idx_t c = 0; c < t->ncols; c++) {
        size_t w = 1, v = 1;
        for (size_t l = 0; l < t->nlines; l++) {
            size_t cw = t->cells[l * t->ncols + c].width;
            if (cw > w) w = cw;
            if (l >= 2 && cw > v) v = cw;
        }
        t->vis[c] = c;
        t->vw[c] = t->natural[c] = w;
        value_w[c] = v;
    }
}

/*
 * Fit the table into `limit` columns: first cut names and type names down to the widest
 * value (at least MIN_COL); then cut text values down to MIN_COL (numbers, dates and times are
 * never cut); then drop trailing columns behind a "…" column, and give any room left back to
 * the columns that were cut, left to right.
 */
static void layout(table *t, size_t limit, bool zero_rows)
{
    size_t *value_w = t->fl, room;
    t->nvis = t->ncols;
    measure(t, value_w);
    for (idx_t c = 0; c < t->ncols; c++)
        t->fl[c] = value_w[c] > MIN_COL ? value_w[c] : MIN_COL;
    shrink(t, limit);
    for (idx_t c = 0; c < t->ncols; c++)
        if (!t->whole[c]) t->fl[c] = MIN_COL;
    shrink(t, limit);
    if (total_width(t) > limit && t->nvis > 1) { /* drop trailing columns, add "…" */
        while (t->nvis > 1 && total_width(t) + 4 > limit)
            t->nvis--;
        t->vis[t->nvis] = NO_COL;
        t->vw[t->nvis++] = 1;
    }
    room = total_width(t) < limit ? limit - total_width(t) : 0;
    for (idx_t i = 0; i < t->nvis && room > 0; i++) {
        idx_t c = t->vis[i];
        size_t add = c == NO_COL ? 0 : t->natural[c] - t->vw[i];
        if (add > room) add = room;
        t->vw[i] += add;
        room -= add;
    }
    if (zero_rows && total_width(t) < 12) t->vw[0] += 12 - total_width(t); /* "│ 0 rows │" */
}

/* ---- drawing ----------------------------------------------------------------------------- */

static int put_repeat(qk_buf *b, const char *s, size_t n, size_t times)
{
    char tmp[192];
    size_t per = sizeof tmp / n, k;
    int rc = 0;
    for (k = 0; k < per && k < times; k++)
        memcpy(tmp + k * n, s, n);
    while (times && !rc) {
        k = times < per ? times : per;
        rc = qk_enc_put(b, tmp, k * n);
        times -= k;
    }
    return rc;
}

/* A border line: left, then per column ─ * (width + 2) joined by mid, then right. */
static int border(const table *t, qk_buf *b, const char *left, const char *mid, const char *right)
{
    int rc = qk_enc_put(b, left, 3);
    for (idx_t i = 0; i < t->nvis && !rc; i++) {
        rc = put_repeat(b, "\xE2\x94\x80", 3, t->vw[i] + 2);
        if (!rc) rc = qk_enc_put(b, i + 1 < t->nvis ? mid : right, 3);
    }
    return rc ? rc : qk_enc_put(b, "\n", 1);
}

typedef enum { AL_LEFT, AL_CENTER, AL_RIGHT } align;

static int put_cell(qk_buf *b, const char *s, size_t n, size_t tw, size_t w, align a)
{
    bool cut = tw > w; /* the column was shrunk: cut again, with … */
    size_t pad, left;
    int rc;
    if (cut) {
        n = fit_prefix(s, n, w - 1, &tw);
        tw++;
    }
    pad = w - tw;
    left = a == AL_LEFT ? 0 : a == AL_RIGHT ? pad : pad / 2;
    rc = put_repeat(b, " ", 1, left + 1);
    if (!rc) rc = qk_enc_put(b, s, n);
    if (!rc && cut) rc = qk_enc_put(b, ELLIPSIS, 3);
    if (!rc) rc = put_repeat(b, " ", 1, pad - left + 1);
    return rc ? rc : qk_enc_put(b, "\xE2\x94\x82", 3);
}

typedef enum { LINE_NAMES, LINE_TYPES, LINE_VALUES } line_kind;

static int draw_line(const table *t, qk_buf *b, size_t line, line_kind kind)
{
    const cell *cells = t->cells + line * t->ncols;
    int rc = qk_enc_put(b, "\xE2\x94\x82", 3);
    for (idx_t i = 0; i < t->nvis && !rc; i++) {
        idx_t c = t->vis[i];
        align a = kind != LINE_VALUES             ? AL_CENTER
                  : t->right[c == NO_COL ? 0 : c] ? AL_RIGHT
                                                  : AL_LEFT;
        if (c == NO_COL) {
            rc = kind == LINE_TYPES ? put_cell(b, "", 0, 0, 1, AL_CENTER)
                                    : put_cell(b, ELLIPSIS, 3, 1, 1, AL_CENTER);
            continue;
        }
        rc = put_cell(b, t->text.data + cells[c].off, cells[c].len, cells[c].width, t->vw[i], a);
    }
    return rc ? rc : qk_enc_put(b, "\n", 1);
}

static int draw_zero_rows(const table *t, qk_buf *b)
{
    size_t inner = total_width(t) - 2, left = (inner - 6) / 2;
    int rc = border(t, b, "\xE2\x94\x9C", "\xE2\x94\xB4", "\xE2\x94\xA4");
    if (!rc) rc = qk_enc_put(b, "\xE2\x94\x82", 3);
    if (!rc) rc = put_repeat(b, " ", 1, left);
    if (!rc) rc = qk_enc_put(b, "0 rows", 6);
    if (!rc) rc = put_repeat(b, " ", 1, inner - 6 - left);
    if (!rc) rc = qk_enc_put(b, "\xE2\x94\x82\n", 4);
    if (!rc) rc = qk_enc_put(b, "\xE2\x94\x94", 3);
    if (!rc) rc = put_repeat(b, "\xE2\x94\x80", 3, inner);
    return rc ? rc : qk_enc_put(b, "\xE2\x94\x98\n", 4);
}

/* Header, rows (as many as fit before `lim` minus the bottom border), bottom. */
static int draw(table *t, qk_buf *b, qk_encode_stats *st, qk_err *err)
{
    size_t lim = b->max, bottom_len, mark;
    int rc;
    qk_buf_truncate(&t->scratch, 0);
    if ((rc = border(t, &t->scratch, "\xE2\x94\x94", "\xE2\x94\xB4", "\xE2\x94\x98")))
        return qk_errf(err, rc, "cannot draw the table: %s", qk_strerror(rc));
    bottom_len = t->scratch.len;
    if (t->nlines == 2 && !st->truncated) bottom_len = 0; /* the zero-rows footer replaces it */
    if (lim - b->len < bottom_len) goto toobig;
    b->max = lim - bottom_len;
    rc = border(t, b, "\xE2\x94\x8C", "\xE2\x94\xAC", "\xE2\x94\x90");
    if (!rc) rc = draw_line(t, b, 0, LINE_NAMES);
    if (!rc) rc = draw_line(t, b, 1, LINE_TYPES);
    if (!rc && bottom_len == 0) {
        b->max = lim;
        if ((rc = draw_zero_rows(t, b)) == QK_ETOOBIG) goto toobig;
        return rc ? qk_errf(err, rc, "cannot draw the table: %s", qk_strerror(rc)) : 0;
    }
    if (!rc) rc = border(t, b, "\xE2\x94\x9C", "\xE2\x94\xBC", "\xE2\x94\xA4");
    if (rc == QK_ETOOBIG) goto toobig;
    for (size_t l = 2; l < t->nlines && !rc; l++, st->rows++) {
        mark = b->len;
        if ((rc = draw_line(t, b, l, LINE_VALUES)) == QK_ETOOBIG) {
            qk_buf_truncate(b, mark);
            st->truncated = true;
            rc = 0;
            break;
        }
    }
    b->max = lim;
    if (!rc) rc = qk_enc_put(b, t->scratch.data, t->scratch.len);
    return rc ? qk_errf(err, rc, "cannot draw the table: %s", qk_strerror(rc)) : 0;
toobig:
    b->max = lim;
    return qk_errf(err, QK_ETOOBIG, "byte cap too small for the table header");
}

static int finish(table *t, int rc)
{
    qk_buf_free(&t->text);
    qk_buf_free(&t->scratch);
    free(t->cells);
    free(t->right);
    free(t->whole);
    free(t->natural);
    free(t->fl);
    free(t->vis);
    free(t->vw);
    return rc;
}

int qk_enc_table(qk_result *r, qk_enc_col **plan, const qk_encode_opts *o, qk_buf *out,
                 qk_encode_stats *st, qk_err *err)
{
    table t;
    size_t limit = o->table_width > 0 ? (size_t)o->table_width : DEFAULT_WIDTH;
    bool more = false;
    int rc;
    memset(&t, 0, sizeof t);
    t.ncols = qk_result_column_count(r);
    if (t.ncols == 0) return 0;         /* nothing to draw */
    qk_buf_init(&t.text, SIZE_MAX - 1); /* bounded by collect_rows */
    qk_buf_init(&t.scratch, CELL_TEXT_MAX);
    t.right = calloc(t.ncols + 1, sizeof *t.right);
    t.whole = calloc(t.ncols + 1, sizeof *t.whole);
    t.natural = calloc(t.ncols + 1, sizeof *t.natural);
    t.fl = calloc(t.ncols + 1, sizeof *t.fl);
    t.vis = calloc(t.ncols + 1, sizeof *t.vis);
    t.vw = calloc(t.ncols + 1, sizeof *t.vw);
    if (!t.right || !t.whole || !t.natural || !t.fl || !t.vis || !t.vw) {
        rc = QK_ENOMEM;
        goto out;
    }
    if ((rc = collect_header(&t, r)) ||
        (rc = collect_rows(&t, r, plan, out->max - out->len, &more)))
        goto out;
    st->truncated = more;
    layout(&t, limit, t.nlines == 2 && !more);
    return finish(&t, draw(&t, out, st, err));
out:
    qk_errf(err, rc, "cannot draw the table: %s", qk_strerror(rc));
    return finish(&t, rc);
}
