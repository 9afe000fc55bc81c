/* SPDX-License-Identifier: MIT */
/*
 * demo.c: the demo-lake generator behind `quack demo` (lake.h has the layout it writes).
 *
 * Flow: open an engine on the lake (sandboxed: DuckDB may write only inside the lake), take
 * <lake>/_quack/demo.lock, then on one connection build small TEMP tables (the hours of the
 * month, the zone ranking, the zone slots, the row indexes), COPY the generated rows ORDER BY
 * their index into <lake>/_quack/demo.tmp/taxi_2019_04.parquet, COPY each day out of that
 * file into demo.tmp/partitioned/date=2019-04-DD/data_0.parquet (a scan of a file keeps its
 * order), rename both into place, and read the stats back from the installed files.
 *
 * Determinism: every value is a pure function of the row index i, the seed and a per-column
 * salt k: qk_demo_u(i, k) is hash(hash(i, seed, k)) mapped to a uniform DOUBLE in [0, 1) and
 * qk_demo_slot(i, k) is its top 16 bits. (DuckDB combines the hashes of several arguments by
 * XOR-like mixing, so hash(i, seed, 16) and hash(i, seed, 18) are strongly correlated; the
 * outer hash, a murmur finalizer, makes the columns independent.) Nothing uses random() or depends
 * on the order in which threads see rows, and ORDER BY i fixes the row order, so the same (rows,
 * seed) gives the same Parquet bytes for any thread count (checked by tests/unit/test_lake_demo.c).
 *
 * Time: qk_demo_hours holds the 720 hours of April 2019 with an integer weight each (an
 * hour-of-day profile for weekdays or weekends, times a day-of-week factor, times a fixed
 * 95..105% factor per date so that Mondays differ from each other). Hour h owns the row
 * indexes [lo, hi), its exact integer share, and row i is placed at second
 * floor((i - lo + u) * 3600 / (hi - lo)) of its hour, so pickup_at never decreases with i.
 * Places: qk_demo_zones ranks the 265 taxi zones (busy Manhattan zones and the airports first,
 * the rest in a fixed hashed order) and weighs rank r by exp(-r/18) + 0.02 exp(-r/80) for
 * pickups (flatter for dropoffs); qk_demo_slots cuts both into 65,536 equal slots, so a zone
 * is a hash-join lookup on a 16-bit slot number. docs/demo.md lists every column.
 */
#include "lake/lake.h"

#include <dirent.h>
#include <duckdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"

/* ---- the SQL ---------------------------------------------------------------------------- */
/* Each define is one statement; they run in order on one connection (TEMP objects). */

/* printf format: the seed, twice. */
#define QK_DEMO_SQL_MACROS                                                                         \
    "CREATE OR REPLACE TEMP MACRO qk_demo_u(i, k) AS "                                             \
    "((hash(hash(i, CAST(%lld AS BIGINT), k)) >> 11)::DOUBLE / 9007199254740992.0);"               \
    "CREATE OR REPLACE TEMP MACRO qk_demo_slot(i, k) AS "                                          \
    "(hash(hash(i, CAST(%lld AS BIGINT), k)) >> 48)::INTEGER"

/* printf format: the row count, twice. Weights are integers so the split is exact. */
#define QK_DEMO_SQL_HOURS                                                                          \
    "CREATE OR REPLACE TEMP TABLE qk_demo_hours AS "                                               \
    "WITH h AS ("                                                                                  \
    "  SELECT d * 24 + hr AS hix, d, hr, isodow(DATE '2019-04-01' + d::INTEGER) AS dow,"           \
    "    ([29,20,14,10,9,12,25,39,46,46,45,47,50,50,53,53,49,57,66,66,60,59,56,44])[hr + 1]"       \
    "      AS wk,"                                                                                 \
    "    ([45,38,30,22,14,9,10,14,22,30,39,45,49,50,51,50,49,51,54,53,48,46,47,47])[hr + 1]"       \
    "      AS we"                                                                                  \
    "  FROM range(30) a(d), range(24) b(hr)"                                                       \
    "), w AS ("                                                                                    \
    "  SELECT *, (CASE WHEN dow >= 6 THEN we ELSE wk END)"                                         \
    "    * ([92,100,103,107,106,101,87])[dow] * (95 + hash(d, 11) %% 11) AS w FROM h"              \
    "), c AS ("                                                                                    \
    "  SELECT *, sum(w) OVER (ORDER BY hix) AS cum, sum(w) OVER () AS tot FROM w"                  \
    ")"                                                                                            \
    "SELECT hix, d, hr, dow, (%lld * (cum - w) // tot)::BIGINT AS lo,"                             \
    "  (%lld * cum // tot)::BIGINT AS hi FROM c ORDER BY hix"

/* Zone ranking: the hot list first (in order), then the other zones in a fixed hashed order. */
#define QK_DEMO_SQL_ZONES                                                                          \
    "CREATE OR REPLACE TEMP TABLE qk_demo_zones AS "                                               \
    "WITH z AS ("                                                                                  \
    "  SELECT zone, row_number() OVER (ORDER BY coalesce(list_position("                           \
    "    [237,161,236,162,230,186,170,48,234,142,79,132,138,239,141,163,107,68,263,249,140,"       \
    "     238,164,229,100,113,43,246,90,137,233,262,151,166,143,50,114,148,158,231,87,13,125,"     \
    "     24,41,88,75,74,209,211,144,4,45,42,261,232,7,152,65,264,25,181,97,116,33,145,112,"       \
    "     179,146,265,193,226,255,256,80,66,17,40,61,95,82,129,260,223,1], zone), 1000),"          \
    "    hash(zone, 7)) - 1 AS rk"                                                                 \
    "  FROM range(1, 266) t(zone)"                                                                 \
    ")"                                                                                            \
    "SELECT zone::INTEGER AS zone, rk,"                                                            \
    "  round(1e12 * (exp(-rk / 18) + 0.02 * exp(-rk / 80)))::BIGINT AS wpu,"                       \
    "  round(1e12 * (exp(-rk / 25) + 0.04 * exp(-rk / 100)))::BIGINT AS wdo "                      \
    "FROM z ORDER BY rk"

/* Slot s of 65,536 takes the zone whose cumulative weight range holds the slot's midpoint. */
#define QK_DEMO_SQL_SLOTS                                                                          \
    "CREATE OR REPLACE TEMP TABLE qk_demo_slots AS "                                               \
    "WITH c AS ("                                                                                  \
    "  SELECT zone, sum(wpu) OVER (ORDER BY rk) - wpu AS plo,"                                     \
    "    sum(wdo) OVER (ORDER BY rk) - wdo AS dlo FROM qk_demo_zones"                              \
    "), t AS (SELECT sum(wpu) AS pt, sum(wdo) AS dt FROM qk_demo_zones"                            \
    "), s AS ("                                                                                    \
    "  SELECT slot::INTEGER AS slot, (2 * slot + 1) * pt // 131072 AS ppos,"                       \
    "    (2 * slot + 1) * dt // 131072 AS dpos FROM range(65536) r(slot), t"                       \
    ")"                                                                                            \
    "SELECT s.slot, p.zone AS pu, d.zone AS dz FROM s"                                             \
    "  ASOF JOIN (SELECT zone, plo FROM c) p ON s.ppos >= p.plo"                                   \
    "  ASOF JOIN (SELECT zone, dlo FROM c) d ON s.dpos >= d.dlo "                                  \
    "ORDER BY s.slot"

/* Row indexes with their hour: a table, so the generator below scans it in parallel. */
#define QK_DEMO_SQL_IDS                                                                            \
    "CREATE OR REPLACE TEMP TABLE qk_demo_ids AS "                                                 \
    "SELECT h.hix, r.i FROM qk_demo_hours h, range(h.lo, h.hi) r(i)"

/*
 * The rows (plus the index i, to order by). Salts: 1 second in hour, 2/3 pickup/dropoff slot,
 * 4 same-zone trip, 5/6 Box-Muller pair (log-normal distance and duration noise), 7 distance
 * for fixed-range trips, 8 extra minutes, 9 rate code, 10 payment, 11 negotiated fare,
 * 12 tolls, 13/14/15 tip, 16 vendor, 17 passengers, 18 store-and-forward.
 */
#define QK_DEMO_SQL_TRIPS                                                                          \
    "CREATE OR REPLACE TEMP VIEW qk_demo_trips AS "                                                \
    "WITH b AS ("                                                                                  \
    "  SELECT r.i, h.hr, h.dow,"                                                                   \
    "    make_timestamp(1554076800000000 + (h.hix * 3600 + floor(((r.i - h.lo)"                    \
    "      + qk_demo_u(r.i, 1)) * 3600 / (h.hi - h.lo)))::BIGINT * 1000000) AS pickup_at,"         \
    "    qk_demo_slot(r.i, 2) AS ps, qk_demo_slot(r.i, 3) AS ds,"                                  \
    "    qk_demo_u(r.i, 4) AS u_same,"                                                             \
    "    sqrt(-2 * ln(1 - qk_demo_u(r.i, 5))) AS bm_r, 2 * pi() * qk_demo_u(r.i, 6) AS bm_t,"      \
    "    qk_demo_u(r.i, 7) AS u_dist, qk_demo_u(r.i, 8) AS u8, qk_demo_u(r.i, 9) AS u9,"           \
    "    qk_demo_u(r.i, 10) AS u10, qk_demo_u(r.i, 11) AS u11, qk_demo_u(r.i, 12) AS u12,"         \
    "    qk_demo_u(r.i, 13) AS u13, qk_demo_u(r.i, 14) AS u14, qk_demo_u(r.i, 15) AS u15,"         \
    "    qk_demo_u(r.i, 16) AS u16, qk_demo_u(r.i, 17) AS u17, qk_demo_u(r.i, 18) AS u18"          \
    "  FROM qk_demo_ids r JOIN qk_demo_hours h ON h.hix = r.hix"                                   \
    "), l AS ("                                                                                    \
    "  SELECT b.*, p.pu AS pu, CASE WHEN u_same < 0.06 THEN p.pu ELSE d.dz END AS dz"              \
    "  FROM b JOIN qk_demo_slots p ON p.slot = b.ps JOIN qk_demo_slots d ON d.slot = b.ds"         \
    "), t AS ("                                                                                    \
    "  SELECT l.*, round(CASE"                                                                     \
    "      WHEN pu = dz THEN 0.3 + 1.5 * u_dist"                                                   \
    "      WHEN pu = 132 OR dz = 132 THEN 14.0 + 8.0 * u_dist"                                     \
    "      WHEN pu = 1 OR dz = 1 THEN 15.0 + 6.0 * u_dist"                                         \
    "      WHEN pu = 138 OR dz = 138 THEN 7.5 + 5.0 * u_dist"                                      \
    "      ELSE least(greatest(exp(0.45 + 0.75 * bm_r * cos(bm_t)), 0.1), 40.0) END, 2) AS dist,"  \
    "    CASE WHEN hr < 6 THEN 18.0 WHEN hr IN (7, 8, 9, 16, 17, 18, 19) AND dow < 6 THEN 9.5"     \
    "      WHEN hr >= 20 THEN 13.0 ELSE 11.0 END AS city_mph"                                      \
    "  FROM l"                                                                                     \
    "), m AS ("                                                                                    \
    "  SELECT t.*,"                                                                                \
    "    (dist / (city_mph + 0.8 * dist) * 3600"                                                   \
    "      * least(greatest(exp(0.25 * bm_r * sin(bm_t)), 0.5), 2.5) + 40 + 80 * u8)::BIGINT"      \
    "      AS dur_s,"                                                                              \
    "    CASE WHEN (pu = 132 OR dz = 132) AND pu <> dz AND u9 < 0.7 THEN 2"                        \
    "      WHEN (pu = 1 OR dz = 1) AND pu <> dz THEN 3"                                            \
    "      WHEN u9 < 0.9965 THEN 1 WHEN u9 < 0.9975 THEN 4 WHEN u9 < 0.99995 THEN 5"               \
    "      WHEN u9 < 0.99998 THEN 6 ELSE 99 END AS rc,"                                            \
    "    CASE WHEN u10 < 0.70 THEN 1 WHEN u10 < 0.98 THEN 2 WHEN u10 < 0.994 THEN 3 ELSE 4 END"    \
    "      AS pay"                                                                                 \
    "  FROM t"                                                                                     \
    "), f AS ("                                                                                    \
    "  SELECT m.*,"                                                                                \
    "    CASE WHEN rc = 2 THEN 52.0 WHEN rc = 5 THEN round(20 + 80 * u11)"                         \
    "      ELSE round((2.5 + 2.5 * dist + 0.35 * dur_s / 60.0) * 2) / 2"                           \
    "        + CASE WHEN rc = 3 THEN 17.5 ELSE 0 END END AS fare,"                                 \
    "    CASE WHEN rc = 2 OR rc = 5 THEN 0.0 WHEN hr IN (16, 17, 18, 19) AND dow < 6 THEN 1.0"     \
    "      WHEN hr >= 20 OR hr < 6 THEN 0.5 ELSE 0.0 END AS extra,"                                \
    "    CASE WHEN rc = 5 THEN 0.0 ELSE 0.5 END AS mta,"                                           \
    "    CASE WHEN (pu IN (1, 132, 138) OR dz IN (1, 132, 138)) AND pu <> dz"                      \
    "      THEN (CASE WHEN u12 < 0.45 THEN 5.76 ELSE 0.0 END)"                                     \
    "      WHEN u12 < 0.015 THEN 5.76 ELSE 0.0 END AS tolls"                                       \
    "  FROM m"                                                                                     \
    "), g AS ("                                                                                    \
    "  SELECT f.*,"                                                                                \
    "    CASE WHEN pay <> 1 OR u13 < 0.08 THEN 0.0"                                                \
    "      ELSE round((fare + extra + mta) * CASE WHEN u14 < 0.45 THEN 0.20"                       \
    "        WHEN u14 < 0.65 THEN 0.25 WHEN u14 < 0.75 THEN 0.30 ELSE 0.12 + 0.18 * u15 END, 2)"   \
    "      END AS tip,"                                                                            \
    "    CASE WHEN u16 < 0.62 THEN 2 ELSE 1 END AS vendor"                                         \
    "  FROM f"                                                                                     \
    ")"                                                                                            \
    "SELECT i, pickup_at, pickup_at + to_seconds(dur_s) AS dropoff_at,"                            \
    "  (CASE WHEN u17 < 0.015 THEN 0 WHEN u17 < 0.725 THEN 1 WHEN u17 < 0.87 THEN 2"               \
    "    WHEN u17 < 0.912 THEN 3 WHEN u17 < 0.932 THEN 4 WHEN u17 < 0.975 THEN 5 ELSE 6 END)"      \
    "    ::INTEGER AS passenger_count,"                                                            \
    "  dist::DOUBLE AS trip_distance,"                                                             \
    "  pu::INTEGER AS pickup_location_id,"                                                         \
    "  dz::INTEGER AS dropoff_location_id,"                                                        \
    "  rc::INTEGER AS rate_code_id,"                                                               \
    "  pay::INTEGER AS payment_type,"                                                              \
    "  fare::DOUBLE AS fare_amount,"                                                               \
    "  extra::DOUBLE AS extra,"                                                                    \
    "  mta::DOUBLE AS mta_tax,"                                                                    \
    "  tip::DOUBLE AS tip_amount,"                                                                 \
    "  tolls::DOUBLE AS tolls_amount,"                                                             \
    "  0.3::DOUBLE AS improvement_surcharge,"                                                      \
    "  round(fare + extra + mta + tip + tolls + 0.3, 2)::DOUBLE AS total_amount,"                  \
    "  vendor::INTEGER AS vendor_id,"                                                              \
    "  CASE WHEN vendor = 1 AND u18 < 0.027 THEN 'Y' ELSE 'N' END AS store_and_fwd_flag "          \
    "FROM g"

/* Days (0 = April 1) that hold at least one row. */
#define QK_DEMO_SQL_DAYS                                                                           \
    "SELECT d::BIGINT FROM qk_demo_hours GROUP BY d HAVING sum(hi - lo) > 0 ORDER BY d"

/* ---- helpers ---------------------------------------------------------------------------- */

#define SQL_MAX (1u << 16) /* longest statement we build (paths included) */
#define MAX_DAYS 30

typedef struct gen {
    const qk_demo_opts *o;
    qk_engine *eng;
    duckdb_connection con;
    const char *lake;           /* absolute lake root, borrowed from the engine */
    char tmp[QK_DEMO_PATH_MAX]; /* <lake>/_quack/demo.tmp */
    int lock_fd;
    int64_t days[MAX_DAYS]; /* days (0 = April 1) holding rows, ascending */
    size_t ndays;
} gen;

static void report(const gen *g, qk_demo_phase p, int64_t done, int64_t total)
{
    if (g->o->progress) g->o->progress(g->o->progress_ud, p, done, total);
}

static int fmt_path(char *out, size_t cap, qk_err *err, const char *fmt, ...) QK_PRINTF(4, 5);
static int fmt_path(char *out, size_t cap, qk_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return qk_errf(err, QK_EINVAL, "path too long: %.64s...", out);
    return 0;
}

/* Build a statement from fmt, where each "%L" is replaced by the next path as a SQL literal
 * (only %L is understood: the SQL here has no other % signs). */
static int build_sql(qk_buf *b, qk_err *err, const char *fmt, const char *p1, const char *p2)
{
    const char *paths[2] = {p1, p2};
    int rc = 0, k = 0;
    qk_buf_truncate(b, 0);
    for (const char *s = fmt; *s && !rc; s++) {
        if (s[0] == '%' && s[1] == 'L' && k < 2) {
            rc = qk_sql_add_literal(b, paths[k++]);
            s++;
        } else {
            rc = qk_buf_addc(b, *s);
        }
    }
    return rc ? qk_errf(err, rc, "demo: statement too long") : 0;
}

/* One BIGINT cell; NULL or another type is an error (the check queries cast to BIGINT). */
static int cell_int64(duckdb_data_chunk ch, idx_t col, idx_t row, int64_t *out, qk_err *err)
{
    duckdb_vector v = duckdb_data_chunk_get_vector(ch, col);
    duckdb_logical_type t = duckdb_vector_get_column_type(v);
    duckdb_type id = duckdb_get_type_id(t);
    uint64_t *valid = duckdb_vector_get_validity(v);
    duckdb_destroy_logical_type(&t);
    if (id != DUCKDB_TYPE_BIGINT || (valid && !duckdb_validity_row_is_valid(valid, row)))
        return qk_errf(err, QK_EINTERNAL, "demo: unexpected NULL or type in a check query");
    *out = ((const int64_t *)duckdb_vector_get_data(v))[row];
    return 0;
}

/* Run sql and copy column 0 of up to max rows into out; *n = rows copied. */
static int query_column(duckdb_connection con, const char *sql, int64_t *out, size_t max, size_t *n,
                        qk_err *err)
{
    duckdb_result res;
    duckdb_data_chunk ch;
    int rc = 0;
    *n = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        goto out;
    }
    while (!rc && (ch = duckdb_fetch_chunk(res)) != NULL) {
        idx_t size = duckdb_data_chunk_get_size(ch);
        for (idx_t r = 0; r < size && !rc && *n < max; r++)
            rc = cell_int64(ch, 0, r, &out[(*n)++], err);
        duckdb_destroy_data_chunk(&ch);
    }
out:
    duckdb_destroy_result(&res);
    return rc;
}

/* Run sql (one row of BIGINTs) and copy its first ncols columns into out. */
static int query_row(duckdb_connection con, const char *sql, int64_t *out, idx_t ncols, qk_err *err)
{
    duckdb_result res;
    duckdb_data_chunk ch = NULL;
    int rc = 0;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
        goto out;
    }
    ch = duckdb_fetch_chunk(res);
    if (!ch || duckdb_data_chunk_get_size(ch) < 1 ||
        duckdb_data_chunk_get_column_count(ch) < ncols) {
        rc = qk_errf(err, QK_EINTERNAL, "demo: check query returned no row");
        goto out;
    }
    for (idx_t c = 0; c < ncols && !rc; c++)
        rc = cell_int64(ch, c, 0, &out[c], err);
out:
    if (ch) duckdb_destroy_data_chunk(&ch);
    duckdb_destroy_result(&res);
    return rc;
}

static int file_size(const char *path, uint64_t *out, qk_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return qk_errf(err, QK_EIO, "cannot stat %s: %s", path, strerror(errno));
    *out = (uint64_t)st.st_size;
    return 0;
}

/* "2019-04-DD" for day index d (0 = April 1). */
static void day_str(int64_t d, char out[11])
{
    int day = d >= 0 && d < 30 ? (int)d + 1 : 0;
    memcpy(out, "2019-04-", 8);
    out[8] = (char)('0' + day / 10);
    out[9] = (char)('0' + day % 10);
    out[10] = '\0';
}

/* ---- steps ------------------------------------------------------------------------------ */

/* <lake>/_quack/demo.lock, held (flock) until the generator ends; then a fresh demo.tmp.
 * Holding the lock means any demo.tmp left there is from a run that died: remove it. */
static int lock_lake(gen *g, qk_err *err)
{
    char path[QK_DEMO_PATH_MAX];
    int rc;
    if ((rc = fmt_path(path, sizeof path, err, "%s/_quack", g->lake)) ||
        (rc = qk_mkdirs(path, err)))
        return rc;
    if ((rc = fmt_path(path, sizeof path, err, "%s/_quack/demo.lock", g->lake))) return rc;
    g->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (g->lock_fd < 0) return qk_errf(err, QK_EIO, "cannot create %s: %s", path, strerror(errno));
    if (flock(g->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return qk_errf(err, errno == EWOULDBLOCK ? QK_EBUSY : QK_EIO,
                       "another 'quack demo' is writing to %s (lock %s: %s)", g->lake, path,
                       strerror(errno));
    if ((rc = fmt_path(g->tmp, sizeof g->tmp, err, "%s/_quack/demo.tmp", g->lake)) ||
        (rc = qk_rmtree(g->tmp, false, err)))
        return rc;
    if ((rc = fmt_path(path, sizeof path, err, "%s/partitioned", g->tmp))) return rc;
    return qk_mkdirs(path, err);
}

/* The TEMP macros and tables the generator view reads. */
static int setup(gen *g, qk_err *err)
{
    char sql[4096];
    long long seed = (long long)g->o->seed, rows = (long long)g->o->rows;
    const char *fixed[] = {QK_DEMO_SQL_ZONES, QK_DEMO_SQL_SLOTS, QK_DEMO_SQL_IDS,
                           QK_DEMO_SQL_TRIPS};
    int rc, n;
    n = snprintf(sql, sizeof sql, QK_DEMO_SQL_MACROS, seed, seed);
    if (n < 0 || (size_t)n >= sizeof sql) return qk_errf(err, QK_EINTERNAL, "demo: SQL too long");
    if ((rc = qk_engine_con_exec(g->con, sql, err))) return rc;
    n = snprintf(sql, sizeof sql, QK_DEMO_SQL_HOURS, rows, rows);
    if (n < 0 || (size_t)n >= sizeof sql) return qk_errf(err, QK_EINTERNAL, "demo: SQL too long");
    if ((rc = qk_engine_con_exec(g->con, sql, err))) return rc;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if ((rc = qk_engine_con_exec(g->con, fixed[i], err))) return rc;
    rc = query_column(g->con, QK_DEMO_SQL_DAYS, g->days, MAX_DAYS, &g->ndays, err);
    if (!rc && g->ndays == 0) rc = qk_errf(err, QK_EINTERNAL, "demo: no days hold rows");
    return rc;
}

static void nap(int idle)
{
    struct timespec ts = {0, idle < 10 ? 50000 : 500000};
    nanosleep(&ts, NULL);
}

/* Run one statement task by task, reporting DuckDB's percent done every ~100 ms. DuckDB only
 * measures progress on a connection with enable_progress_bar set; the engine locks the
 * configuration at open, so today the percentage is -1 and only the phase's start and end are
 * reported. */
static int run_with_progress(gen *g, const char *sql, qk_err *err)
{
    duckdb_prepared_statement st = NULL;
    duckdb_pending_result pending = NULL;
    duckdb_pending_state ps = DUCKDB_PENDING_RESULT_NOT_READY;
    duckdb_result res;
    int64_t next_poll = 0, last = -1;
    int rc = 0;
    if (duckdb_prepare(g->con, sql, &st) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_prepare_error(st), DUCKDB_ERROR_INVALID);
        goto out;
    }
    if (duckdb_pending_prepared(st, &pending) == DuckDBError) {
        rc = qk_engine_set_error(err, duckdb_pending_error(pending), DUCKDB_ERROR_INVALID);
        goto out;
    }
    for (int idle = 0;
         ps == DUCKDB_PENDING_RESULT_NOT_READY || ps == DUCKDB_PENDING_NO_TASKS_AVAILABLE;) {
        ps = duckdb_pending_execute_task(pending);
        if (ps == DUCKDB_PENDING_NO_TASKS_AVAILABLE) nap(idle++);
        if (qk_now_ms() < next_poll) continue;
        next_poll = qk_now_ms() + 100;
        int64_t pct = (int64_t)duckdb_query_progress(g->con).percentage;
        if (pct > last && pct < 100) {
            last = pct;
            report(g, QK_DEMO_PHASE_GENERATE, pct, 100);
        }
    }
    if (ps == DUCKDB_PENDING_ERROR) {
        rc = qk_engine_set_error(err, duckdb_pending_error(pending), DUCKDB_ERROR_INVALID);
        goto out;
    }
    if (duckdb_execute_pending(pending, &res) == DuckDBError)
        rc = qk_engine_set_error(err, duckdb_result_error(&res), duckdb_result_error_type(&res));
    duckdb_destroy_result(&res);
out:
    if (pending) duckdb_destroy_pending(&pending);
    if (st) duckdb_destroy_prepare(&st);
    return rc;
}

/* All rows, ordered, into demo.tmp/taxi_2019_04.parquet. */
static int write_dataset(gen *g, qk_err *err)
{
    char path[QK_DEMO_PATH_MAX];
    qk_buf sql;
    int rc;
    qk_buf_init(&sql, SQL_MAX);
    if ((rc = fmt_path(path, sizeof path, err, "%s/taxi_2019_04.parquet", g->tmp))) goto out;
    report(g, QK_DEMO_PHASE_GENERATE, 0, 100);
    rc = build_sql(
        &sql, err,
        "COPY (SELECT * EXCLUDE (i) FROM qk_demo_trips ORDER BY i) TO %L (FORMAT parquet)", path,
        NULL);
    if (!rc) rc = run_with_progress(g, qk_buf_cstr(&sql), err);
    if (!rc) report(g, QK_DEMO_PHASE_GENERATE, 100, 100);
out:
    qk_buf_free(&sql);
    return rc;
}

/* Day d of the single file (a scan keeps the file's order) into its own partition folder. */
static int write_partition(gen *g, int64_t d, qk_buf *sql, qk_err *err)
{
    char src[QK_DEMO_PATH_MAX], dir[QK_DEMO_PATH_MAX], dst[QK_DEMO_PATH_MAX], day[11], fmt[512];
    int rc;
    day_str(d, day);
    if ((rc = fmt_path(src, sizeof src, err, "%s/taxi_2019_04.parquet", g->tmp)) ||
        (rc = fmt_path(dir, sizeof dir, err, "%s/partitioned/date=%s", g->tmp, day)) ||
        (rc = fmt_path(dst, sizeof dst, err, "%s/data_0.parquet", dir)) ||
        (rc = qk_mkdirs(dir, err)))
        return rc;
    snprintf(fmt, sizeof fmt,
             "COPY (SELECT * FROM read_parquet(%%L) WHERE pickup_at >= TIMESTAMP '%s' "
             "AND pickup_at < TIMESTAMP '%s' + INTERVAL 1 DAY) TO %%L (FORMAT parquet)",
             day, day);
    if ((rc = build_sql(sql, err, fmt, src, dst))) return rc;
    return qk_engine_con_exec(g->con, qk_buf_cstr(sql), err);
}

static int write_partitions(gen *g, qk_err *err)
{
    qk_buf sql;
    int rc = 0;
    qk_buf_init(&sql, SQL_MAX);
    for (size_t i = 0; i < g->ndays && !rc; i++) {
        report(g, QK_DEMO_PHASE_PARTITIONS, (int64_t)i, (int64_t)g->ndays);
        rc = write_partition(g, g->days[i], &sql, err);
    }
    if (!rc) report(g, QK_DEMO_PHASE_PARTITIONS, (int64_t)g->ndays, (int64_t)g->ndays);
    qk_buf_free(&sql);
    return rc;
}

static int rename_path(const char *from, const char *to, qk_err *err)
{
    if (rename(from, to) != 0)
        return qk_errf(err, QK_EIO, "cannot rename %s to %s: %s", from, to, strerror(errno));
    return 0;
}

/* Rename the new datasets into place: the file replaces the old one atomically; the old
 * partitions folder is moved into demo.tmp (removed with it) before the new one moves in. */
static int install(gen *g, qk_err *err)
{
    char from[QK_DEMO_PATH_MAX], to[QK_DEMO_PATH_MAX], old[QK_DEMO_PATH_MAX];
    struct stat st;
    int rc;
    if ((rc = fmt_path(to, sizeof to, err, "%s/dataset", g->lake)) || (rc = qk_mkdirs(to, err)) ||
        (rc = fmt_path(from, sizeof from, err, "%s/taxi_2019_04.parquet", g->tmp)) ||
        (rc = fmt_path(to, sizeof to, err, "%s/" QK_DEMO_DATASET, g->lake)) ||
        (rc = rename_path(from, to, err)))
        return rc;
    if ((rc = fmt_path(from, sizeof from, err, "%s/partitioned", g->tmp)) ||
        (rc = fmt_path(to, sizeof to, err, "%s/" QK_DEMO_PARTITIONED, g->lake)) ||
        (rc = fmt_path(old, sizeof old, err, "%s/old-partitioned", g->tmp)))
        return rc;
    if (lstat(to, &st) == 0 && (rc = rename_path(to, old, err))) return rc;
    return rename_path(from, to, err);
}

/* Sum the sizes of partitioned/date=* / *.parquet and count the date= folders. */
static int partition_bytes(const char *root, qk_demo_stats *st, qk_err *err)
{
    DIR *top = opendir(root);
    struct dirent *de;
    int rc = 0;
    if (!top) return qk_errf(err, QK_EIO, "cannot open %s: %s", root, strerror(errno));
    while (!rc && (de = readdir(top)) != NULL) {
        char dir[QK_DEMO_PATH_MAX], file[QK_DEMO_PATH_MAX];
        uint64_t n = 0;
        if (strncmp(de->d_name, "date=", 5) != 0) continue;
        if ((rc = fmt_path(dir, sizeof dir, err, "%s/%s", root, de->d_name)) ||
            (rc = fmt_path(file, sizeof file, err, "%s/data_0.parquet", dir)) ||
            (rc = file_size(file, &n, err)))
            break;
        st->partitioned_bytes += n;
        st->partitions++;
    }
    closedir(top);
    return rc;
}

/* Stats from the installed files: counts and ranges by DuckDB, sizes by stat(). */
static int read_stats(gen *g, qk_demo_stats *st, qk_err *err)
{
    char file[QK_DEMO_PATH_MAX], glob[QK_DEMO_PATH_MAX], root[QK_DEMO_PATH_MAX];
    int64_t v[4];
    qk_buf sql;
    int rc;
    qk_buf_init(&sql, SQL_MAX);
    report(g, QK_DEMO_PHASE_CHECK, 0, 0);
    memset(st, 0, sizeof *st);
    qk_strlcpy(st->lake, g->lake, sizeof st->lake);
    if ((rc = fmt_path(file, sizeof file, err, "%s/" QK_DEMO_DATASET, g->lake)) ||
        (rc = fmt_path(root, sizeof root, err, "%s/" QK_DEMO_PARTITIONED, g->lake)) ||
        (rc = fmt_path(glob, sizeof glob, err, "%s/*/*.parquet", root)))
        goto out;
    if ((rc = build_sql(&sql, err,
                        "SELECT count(*)::BIGINT, epoch_us(min(pickup_at))::BIGINT, "
                        "epoch_us(max(pickup_at))::BIGINT FROM read_parquet(%L)",
                        file, NULL)) ||
        (rc = query_row(g->con, qk_buf_cstr(&sql), v, 3, err)))
        goto out;
    st->rows = v[0], st->min_pickup_us = v[1], st->max_pickup_us = v[2];
    if ((rc = build_sql(&sql, err,
                        "SELECT count(*)::BIGINT, (min(date) - DATE '2019-04-01')::BIGINT, "
                        "(max(date) - DATE '2019-04-01')::BIGINT FROM read_parquet(%L, "
                        "hive_partitioning = true)",
                        glob, NULL)) ||
        (rc = query_row(g->con, qk_buf_cstr(&sql), v, 3, err)))
        goto out;
    st->partitioned_rows = v[0];
    day_str(v[1], st->first_date);
    day_str(v[2], st->last_date);
    if ((rc = file_size(file, &st->dataset_bytes, err))) goto out;
    rc = partition_bytes(root, st, err);
out:
    qk_buf_free(&sql);
    return rc;
}

/* ---- entry points ----------------------------------------------------------------------- */

void qk_demo_opts_defaults(qk_demo_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lake = qk_env_str("QUACK_LAKE", "lake");
    o->rows = QK_DEMO_DEFAULT_ROWS;
    o->seed = QK_DEMO_DEFAULT_SEED;
}

const char *qk_demo_phase_name(qk_demo_phase p)
{
    switch (p) {
    case QK_DEMO_PHASE_GENERATE:
        return "generating";
    case QK_DEMO_PHASE_PARTITIONS:
        return "partitioning";
    case QK_DEMO_PHASE_CHECK:
        return "checking";
    }
    return "?";
}

static int check_opts(const qk_demo_opts *o, qk_err *err)
{
    if (!o->lake || !*o->lake) return qk_errf(err, QK_EINVAL, "no lake directory given");
    if (o->rows < 1 || o->rows > QK_DEMO_MAX_ROWS)
        return qk_errf(err, QK_EINVAL, "rows must be in 1..%d, got %lld", QK_DEMO_MAX_ROWS,
                       (long long)o->rows);
    if (o->threads < 0) return qk_errf(err, QK_EINVAL, "threads must be >= 0");
    return 0;
}

static int open_engine(gen *g, qk_err *err)
{
    qk_engine_config cfg;
    int rc;
    qk_engine_config_defaults(&cfg);
    cfg.lake = g->o->lake;
    cfg.create_lake = true;
    cfg.threads = g->o->threads;
    if ((rc = qk_engine_open(&cfg, &g->eng, err))) return rc;
    g->lake = qk_engine_lake(g->eng);
    if (duckdb_connect(qk_engine_db(g->eng), &g->con) == DuckDBError)
        return qk_errf(err, QK_EINTERNAL, "cannot connect to DuckDB");
    return 0;
}

int qk_lake_demo_create(const qk_demo_opts *o, qk_demo_stats *st, qk_err *err)
{
    gen g = {.o = o, .lock_fd = -1};
    qk_demo_stats local;
    double t0 = qk_now_msf();
    qk_err cleanup_err = {0};
    int rc;
    if ((rc = check_opts(o, err))) return rc;
    if (!st) st = &local;
    if ((rc = open_engine(&g, err))) goto out;
    if ((rc = lock_lake(&g, err))) goto out;
    if ((rc = setup(&g, err))) goto out;
    if ((rc = write_dataset(&g, err))) goto out;
    if ((rc = write_partitions(&g, err))) goto out;
    if ((rc = install(&g, err))) goto out;
    if ((rc = read_stats(&g, st, err))) goto out;
out:
    if (rc && g.lake) qk_err_prefix(err, "demo lake %s", g.lake);
    if (g.con) duckdb_disconnect(&g.con);
    if (g.tmp[0]) qk_rmtree(g.tmp, false, &cleanup_err);
    if (g.lock_fd >= 0) close(g.lock_fd);
    qk_engine_close(g.eng);
    if (!rc) st->took_ms = qk_now_msf() - t0;
    return rc;
}
