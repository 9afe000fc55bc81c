/* SPDX-License-Identifier: MIT */
/*
 * test_lake_demo.c: the demo-lake generator (src/lake/lake.h, qk_lake_demo_create): the
 * files it writes and where, the stats it reports, the data (April 2019, every column in its
 * domain, totals that add up, skewed locations, each partition holding only its day, the same
 * rows in both datasets), determinism (same seed and any thread count: the same bytes; another
 * seed: other bytes), replacing an earlier lake, the lock, bad options and progress reports.
 * Lakes are 50,000 rows (QK_TEST_DEMO_ROWS overrides, e.g. smaller under valgrind); the data
 * is read back with the engine (qk_engine_query) over the written files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "lake/lake.h"

static char root[] = "/tmp/qk-test-demo-XXXXXX";
static char lake_a[512], lake_b[512], lake_c[512];
static int64_t rows = 50000;
static qk_demo_stats stats_a;
static qk_engine *eng; /* sandboxed to root: reads every test lake */

/* Progress calls, recorded by the first generation. */
typedef struct calls {
    int n;
    qk_demo_phase phase[256];
    int64_t done[256], total[256];
} calls;
static calls progress_calls;

static void record(void *ud, qk_demo_phase p, int64_t done, int64_t total)
{
    calls *c = ud;
    if (c->n >= 256) return;
    c->phase[c->n] = p, c->done[c->n] = done, c->total[c->n] = total;
    c->n++;
}

static int make_lake(const char *lake, int64_t seed, int threads, qk_demo_stats *st, qk_err *err)
{
    qk_demo_opts o;
    qk_demo_opts_defaults(&o);
    o.lake = lake;
    o.rows = rows;
    o.seed = seed;
    o.threads = threads;
    if (st == &stats_a) {
        o.progress = record;
        o.progress_ud = &progress_calls;
    }
    return qk_lake_demo_create(&o, st, err);
}

static int setup(void **state)
{
    qk_engine_config c;
    qk_demo_stats st;
    qk_err err = {0};
    const char *env = getenv("QK_TEST_DEMO_ROWS");
    (void)state;
    if (env && qk_parse_int64(env, 1, QK_DEMO_MAX_ROWS, &rows, "QK_TEST_DEMO_ROWS", &err) != 0)
        return -1;
    if (!mkdtemp(root)) return -1;
    snprintf(lake_a, sizeof lake_a, "%s/a", root);
    snprintf(lake_b, sizeof lake_b, "%s/b", root);
    snprintf(lake_c, sizeof lake_c, "%s/c", root);
    /* a: seed 7 on 2 threads; b: the same on 1 thread; c: seed 8. */
    if (make_lake(lake_a, 7, 2, &stats_a, &err) || make_lake(lake_b, 7, 1, &st, &err) ||
        make_lake(lake_c, 8, 2, &st, &err)) {
        fprintf(stderr, "demo: %s\n", err.msg);
        return -1;
    }
    qk_engine_config_defaults(&c);
    c.lake = root;
    c.threads = 2;
    if (qk_engine_open(&c, &eng, &err) != 0) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qk_engine_close(eng);
    return qk_rmtree(root, false, NULL) == 0 ? 0 : -1;
}

/* Placeholders in the SQL of q1: @A = read_parquet(lake a's single file), @P = lake a's
 * partitions read with hive partitioning, @F = lake a's single file as a string literal. */
static int expand(const char *in, char *sql, size_t cap)
{
    char a[700], p[700], f[600];
    size_t o = 0;
    snprintf(f, sizeof f, "'%s/" QK_DEMO_DATASET "'", lake_a);
    snprintf(a, sizeof a, "read_parquet(%s)", f);
    snprintf(p, sizeof p,
             "read_parquet('%s/" QK_DEMO_PARTITIONED "/*/*.parquet', hive_partitioning = true)",
             lake_a);
    for (const char *s = in; *s; s++) {
        const char *rep = NULL;
        if (s[0] == '@') rep = s[1] == 'A' ? a : s[1] == 'P' ? p : s[1] == 'F' ? f : NULL;
        size_t n = rep ? strlen(rep) : 1;
        if (o + n + 1 > cap) return -1;
        memcpy(sql + o, rep ? rep : s, n);
        o += n;
        if (rep) s++;
    }
    sql[o] = '\0';
    return 0;
}

/* The BIGINT in row 0, column 0 of a query (see expand); fails the test on any error. */
static int64_t q1(const char *in)
{
    char sql[8192];
    qk_result *r = NULL;
    qk_err err = {0};
    assert_int_equal(expand(in, sql, sizeof sql), 0);
    if (qk_engine_query(eng, sql, NULL, &r, &err) != 0) fail_msg("%s\n  in: %s", err.msg, sql);
    duckdb_data_chunk ch = qk_result_next_chunk(r);
    assert_non_null(ch);
    duckdb_vector v = duckdb_data_chunk_get_vector(ch, 0);
    duckdb_logical_type t = duckdb_vector_get_column_type(v);
    assert_int_equal(duckdb_get_type_id(t), DUCKDB_TYPE_BIGINT);
    duckdb_destroy_logical_type(&t);
    uint64_t *valid = duckdb_vector_get_validity(v);
    assert_true(!valid || duckdb_validity_row_is_valid(valid, 0));
    int64_t val = ((int64_t *)duckdb_vector_get_data(v))[0];
    duckdb_destroy_data_chunk(&ch);
    qk_result_destroy(r);
    return val;
}

static bool same_file(const char *a, const char *b)
{
    char *da = NULL, *db = NULL;
    size_t na = 0, nb = 0;
    qk_err err = {0};
    bool same = qk_read_file(a, 1u << 30, &da, &na, &err) == 0 &&
                qk_read_file(b, 1u << 30, &db, &nb, &err) == 0 && na == nb &&
                memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return same;
}

static bool exists(const char *fmt, const char *lake)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, fmt, lake);
    return stat(p, &st) == 0;
}

/* ---- layout and stats --------------------------------------------------------------------- */

static void test_writes_single_file_and_30_day_partitions(void **state)
{
    (void)state;
    assert_true(exists("%s/dataset/taxi_2019_04.parquet", lake_a));
    assert_true(exists("%s/partitioned/date=2019-04-01/data_0.parquet", lake_a));
    assert_true(exists("%s/partitioned/date=2019-04-30/data_0.parquet", lake_a));
    assert_false(exists("%s/partitioned/date=2019-05-01", lake_a));
    assert_false(exists("%s/_quack/demo.tmp", lake_a));
    assert_int_equal(q1("SELECT count(DISTINCT date)::BIGINT FROM @P"), 30);
}

static void test_stats_describe_the_written_files(void **state)
{
    (void)state;
    assert_int_equal(stats_a.rows, rows);
    assert_int_equal(stats_a.partitioned_rows, rows);
    assert_int_equal(stats_a.partitions, 30);
    assert_string_equal(stats_a.first_date, "2019-04-01");
    assert_string_equal(stats_a.last_date, "2019-04-30");
    assert_true(stats_a.dataset_bytes > 1000);
    assert_true(stats_a.partitioned_bytes > stats_a.dataset_bytes / 2);
    assert_true(strstr(stats_a.lake, root) == stats_a.lake);
    assert_int_equal(stats_a.min_pickup_us, q1("SELECT epoch_us(min(pickup_at)) FROM @A"));
    assert_int_equal(stats_a.max_pickup_us, q1("SELECT epoch_us(max(pickup_at)) FROM @A"));
    assert_true(stats_a.took_ms > 0);
}

static void test_progress_reports_each_phase_in_order(void **state)
{
    const calls *c = &progress_calls;
    int i = 0;
    (void)state;
    assert_true(c->n >= 3);
    assert_int_equal(c->phase[0], QK_DEMO_PHASE_GENERATE);
    assert_int_equal(c->done[0], 0);
    for (; i < c->n && c->phase[i] == QK_DEMO_PHASE_GENERATE; i++)
        assert_int_equal(c->total[i], 100);
    assert_int_equal(c->done[i - 1], 100);
    assert_int_equal(c->phase[i], QK_DEMO_PHASE_PARTITIONS);
    for (int64_t k = 0; k <= 30; k++, i++) {
        assert_int_equal(c->phase[i], QK_DEMO_PHASE_PARTITIONS);
        assert_int_equal(c->done[i], k);
        assert_int_equal(c->total[i], 30);
    }
    assert_int_equal(c->phase[i], QK_DEMO_PHASE_CHECK);
    assert_int_equal(i + 1, c->n);
    assert_string_equal(qk_demo_phase_name(QK_DEMO_PHASE_GENERATE), "generating");
}

/* ---- the data ------------------------------------------------------------------------------ */

static void test_columns_have_the_seed_dataset_names_and_types(void **state)
{
    (void)state;
    assert_int_equal(
        q1("SELECT (string_agg(column_name || ' ' || column_type, ', ') = "
           "'pickup_at TIMESTAMP, dropoff_at TIMESTAMP, passenger_count INTEGER, "
           "trip_distance DOUBLE, pickup_location_id INTEGER, dropoff_location_id INTEGER, "
           "rate_code_id INTEGER, payment_type INTEGER, fare_amount DOUBLE, extra DOUBLE, "
           "mta_tax DOUBLE, tip_amount DOUBLE, tolls_amount DOUBLE, improvement_surcharge DOUBLE, "
           "total_amount DOUBLE, vendor_id INTEGER, store_and_fwd_flag VARCHAR')::BIGINT "
           "FROM (DESCRIBE SELECT * FROM @A)"),
        1);
}

static void test_pickups_cover_april_2019_in_file_order(void **state)
{
    (void)state;
    assert_int_equal(q1("SELECT count(*) FILTER (pickup_at < '2019-04-01' OR pickup_at >= "
                        "'2019-05-01') FROM @A"),
                     0);
    assert_int_equal(q1("SELECT count(*) FILTER (dropoff_at <= pickup_at "
                        "OR dropoff_at > pickup_at + INTERVAL 4 HOUR) FROM @A"),
                     0);
    assert_int_equal(
        q1("SELECT count(*) FROM (SELECT pickup_at < lag(pickup_at) OVER "
           "(ORDER BY file_row_number) AS back FROM read_parquet(@F, file_row_number = true)) "
           "WHERE back"),
        0);
}

static void test_every_column_stays_in_its_domain(void **state)
{
    (void)state;
    assert_int_equal(q1("SELECT count(*) FILTER ("
                        "   passenger_count NOT BETWEEN 0 AND 6"
                        "OR trip_distance NOT BETWEEN 0.1 AND 40"
                        "OR pickup_location_id NOT BETWEEN 1 AND 265"
                        "OR dropoff_location_id NOT BETWEEN 1 AND 265"
                        "OR rate_code_id NOT IN (1, 2, 3, 4, 5, 6, 99)"
                        "OR payment_type NOT BETWEEN 1 AND 4"
                        "OR fare_amount * 2 <> round(fare_amount * 2) OR fare_amount < 2.5"
                        "OR extra NOT IN (0, 0.5, 1) OR mta_tax NOT IN (0, 0.5)"
                        "OR tip_amount < 0 OR (tip_amount > 0 AND payment_type <> 1)"
                        "OR tolls_amount NOT IN (0, 5.76) OR improvement_surcharge <> 0.3"
                        "OR abs(total_amount - (fare_amount + extra + mta_tax + tip_amount"
                        "       + tolls_amount + improvement_surcharge)) > 0.011"
                        "OR vendor_id NOT IN (1, 2) OR store_and_fwd_flag NOT IN ('N', 'Y')"
                        "OR (store_and_fwd_flag = 'Y' AND vendor_id <> 1)"
                        ") FROM @A"),
                     0);
    assert_int_equal(q1("SELECT count(*) - count(COLUMNS(*)) FROM @A"), 0);
}

/* Shares in per mille, with wide bounds: the exact values depend on the seed. */
static void test_shares_look_like_taxi_data(void **state)
{
    (void)state;
    int64_t card = q1("SELECT (1000 * avg((payment_type = 1)::INT))::BIGINT FROM @A");
    int64_t one = q1("SELECT (1000 * avg((passenger_count = 1)::INT))::BIGINT FROM @A");
    int64_t y = q1("SELECT (1000 * avg((store_and_fwd_flag = 'Y')::INT))::BIGINT FROM @A");
    int64_t v2 = q1("SELECT (1000 * avg((vendor_id = 2)::INT))::BIGINT FROM @A");
    int64_t dist = q1("SELECT (100 * avg(trip_distance))::BIGINT FROM @A");
    assert_in_range(card, 650, 750);
    assert_in_range(one, 650, 780);
    assert_in_range(y, 2, 25);
    assert_in_range(v2, 560, 680);
    assert_in_range(dist, 200, 400);
    /* Quieter at 4am than at 7pm, and every day of the month has trips. */
    assert_true(4 * q1("SELECT count(*) FILTER (hour(pickup_at) = 4) FROM @A") <
                q1("SELECT count(*) FILTER (hour(pickup_at) = 19) FROM @A"));
    assert_int_equal(q1("SELECT count(DISTINCT pickup_at::DATE) FROM @A"), 30);
}

static void test_locations_are_skewed_toward_busy_zones(void **state)
{
    (void)state;
    int64_t top =
        q1("SELECT max(n) FROM (SELECT count(*) AS n FROM @A GROUP BY pickup_location_id)");
    int64_t median = q1("SELECT median(n)::BIGINT FROM (SELECT count(*) AS n FROM @A "
                        "GROUP BY pickup_location_id)");
    int64_t hot = q1(
        "SELECT (1000 * avg((pickup_location_id IN "
        "(237, 161, 236, 162, 230, 186, 170, 48, 234, 142, 79, 132, 138))::INT))::BIGINT FROM @A");
    assert_true(top >= 20 * (median > 0 ? median : 1));
    assert_in_range(hot, 350, 650);
    assert_int_equal(
        q1("SELECT arg_max(pickup_location_id, n)::BIGINT FROM (SELECT pickup_location_id, "
           "count(*) AS n FROM @A GROUP BY 1)"),
        237);
}

static void test_partitions_hold_only_their_day(void **state)
{
    (void)state;
    assert_int_equal(q1("SELECT count(*) FILTER (pickup_at::DATE <> date) FROM @P"), 0);
    assert_int_equal(q1("SELECT count(*) FROM @P"), rows);
}

static void test_partitions_hold_the_same_rows_as_the_file(void **state)
{
    (void)state;
    assert_int_equal(
        q1("SELECT count(*) FROM (SELECT * FROM @A EXCEPT ALL SELECT * EXCLUDE (date) FROM @P)"),
        0);
    assert_int_equal(
        q1("SELECT count(*) FROM (SELECT * EXCLUDE (date) FROM @P EXCEPT ALL SELECT * FROM @A)"),
        0);
}

/* ---- determinism --------------------------------------------------------------------------- */

static void assert_lakes(const char *x, const char *y, bool want_same)
{
    char fa[1024], fb[1024];
    snprintf(fa, sizeof fa, "%s/" QK_DEMO_DATASET, x);
    snprintf(fb, sizeof fb, "%s/" QK_DEMO_DATASET, y);
    assert_int_equal(same_file(fa, fb), want_same);
    for (int d = 1; d <= 30; d++) {
        snprintf(fa, sizeof fa, "%s/partitioned/date=2019-04-%02d/data_0.parquet", x, d);
        snprintf(fb, sizeof fb, "%s/partitioned/date=2019-04-%02d/data_0.parquet", y, d);
        assert_int_equal(same_file(fa, fb), want_same);
    }
}

static void test_same_seed_gives_same_bytes_on_any_thread_count(void **state)
{
    (void)state;
    assert_lakes(lake_a, lake_b, true);
}

static void test_other_seed_gives_other_bytes(void **state)
{
    (void)state;
    assert_lakes(lake_a, lake_c, false);
}

/* ---- replacing, locking, errors ------------------------------------------------------------ */

static void put_file(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("stale\n", f);
    fclose(f);
}

static void test_rerun_replaces_the_earlier_lake(void **state)
{
    char lake[600], p[800];
    qk_demo_opts o;
    qk_demo_stats st;
    qk_err err = {0};
    (void)state;
    snprintf(lake, sizeof lake, "%s/rerun", root);
    qk_demo_opts_defaults(&o);
    o.lake = lake;
    o.rows = 1000;
    assert_int_equal(qk_lake_demo_create(&o, &st, &err), 0);
    snprintf(p, sizeof p, "%s/partitioned/date=2019-05-01", lake);
    assert_int_equal(qk_mkdirs(p, &err), 0);
    snprintf(p, sizeof p, "%s/partitioned/date=2019-05-01/data_0.parquet", lake);
    put_file(p);
    snprintf(p, sizeof p, "%s/_quack/demo.tmp", lake);
    assert_int_equal(qk_mkdirs(p, &err), 0);
    snprintf(p, sizeof p, "%s/_quack/demo.tmp/junk", lake);
    put_file(p);
    o.rows = 2000;
    assert_int_equal(qk_lake_demo_create(&o, &st, &err), 0);
    assert_int_equal(st.rows, 2000);
    assert_int_equal(st.partitioned_rows, 2000);
    assert_int_equal(st.partitions, 30);
    assert_false(exists("%s/partitioned/date=2019-05-01", lake));
    assert_false(exists("%s/_quack/demo.tmp", lake));
}

static void test_a_held_lock_makes_the_lake_busy(void **state)
{
    char lake[600], p[800];
    qk_demo_opts o;
    qk_err err = {0};
    (void)state;
    snprintf(lake, sizeof lake, "%s/locked", root);
    snprintf(p, sizeof p, "%s/_quack", lake);
    assert_int_equal(qk_mkdirs(p, &err), 0);
    snprintf(p, sizeof p, "%s/_quack/demo.lock", lake);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    qk_demo_opts_defaults(&o);
    o.lake = lake;
    o.rows = 100;
    assert_int_equal(qk_lake_demo_create(&o, NULL, &err), QK_EBUSY);
    assert_non_null(strstr(err.msg, "another 'quack demo'"));
    assert_false(exists("%s/dataset", lake));
    close(fd);
}

static void test_bad_options_are_refused(void **state)
{
    qk_demo_opts o;
    qk_err err = {0};
    (void)state;
    qk_demo_opts_defaults(&o);
    o.lake = lake_a;
    o.rows = 0;
    assert_int_equal(qk_lake_demo_create(&o, NULL, &err), QK_EINVAL);
    o.rows = QK_DEMO_MAX_ROWS + 1;
    assert_int_equal(qk_lake_demo_create(&o, NULL, &err), QK_EINVAL);
    o.rows = 10;
    o.lake = "";
    assert_int_equal(qk_lake_demo_create(&o, NULL, &err), QK_EINVAL);
    o.lake = NULL;
    assert_int_equal(qk_lake_demo_create(&o, NULL, &err), QK_EINVAL);
}

static void test_unwritable_lake_fails_with_its_path(void **state)
{
    qk_demo_opts o;
    qk_err err = {0};
    (void)state;
    qk_demo_opts_defaults(&o);
    o.lake = "/proc/qk-demo-test/lake";
    o.rows = 10;
    assert_int_not_equal(qk_lake_demo_create(&o, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "/proc/qk-demo-test"));
}

static void test_one_row_makes_one_partition(void **state)
{
    char lake[600];
    qk_demo_opts o;
    qk_demo_stats st;
    qk_err err = {0};
    (void)state;
    snprintf(lake, sizeof lake, "%s/one", root);
    qk_demo_opts_defaults(&o);
    o.lake = lake;
    o.rows = 1;
    assert_int_equal(qk_lake_demo_create(&o, &st, &err), 0);
    assert_int_equal(st.rows, 1);
    assert_int_equal(st.partitioned_rows, 1);
    assert_int_equal(st.partitions, 1);
    assert_string_equal(st.first_date, st.last_date);
    assert_int_equal(st.min_pickup_us, st.max_pickup_us);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_single_file_and_30_day_partitions),
        cmocka_unit_test(test_stats_describe_the_written_files),
        cmocka_unit_test(test_progress_reports_each_phase_in_order),
        cmocka_unit_test(test_columns_have_the_seed_dataset_names_and_types),
        cmocka_unit_test(test_pickups_cover_april_2019_in_file_order),
        cmocka_unit_test(test_every_column_stays_in_its_domain),
        cmocka_unit_test(test_shares_look_like_taxi_data),
        cmocka_unit_test(test_locations_are_skewed_toward_busy_zones),
        cmocka_unit_test(test_partitions_hold_only_their_day),
        cmocka_unit_test(test_partitions_hold_the_same_rows_as_the_file),
        cmocka_unit_test(test_same_seed_gives_same_bytes_on_any_thread_count),
        cmocka_unit_test(test_other_seed_gives_other_bytes),
        cmocka_unit_test(test_rerun_replaces_the_earlier_lake),
        cmocka_unit_test(test_a_held_lock_makes_the_lake_busy),
        cmocka_unit_test(test_bad_options_are_refused),
        cmocka_unit_test(test_unwritable_lake_fails_with_its_path),
        cmocka_unit_test(test_one_row_makes_one_partition),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
