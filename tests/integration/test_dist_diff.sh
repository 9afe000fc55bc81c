#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_dist_diff.sh: the differential suite of quack-reduce (docs/distributed.md, "Correctness"):
# every query below runs once on one node (`quack query`, the embedded engine) and once
# distributed over 3 real `quack serve` workers with a small --shard-size, and the two answers
# must be the same, as CSV:
#   - rows compared in order when the query has a top-level ORDER BY (each such query orders
#     by enough columns that the order is deterministic), as multisets otherwise;
#   - FLOAT/DOUBLE columns (their types from a DESCRIBE of the query, run when the answers
#     differ as bytes) equal to 1e-9 relative, since a distributed sum adds in another order;
#     every other column (DECIMAL, HUGEINT, temporal, strings) exactly.
# Queries run two at a time; about 30-50 s on 2 cores.
# Each query also carries an expectation about the plan, checked with --explain-distributed
# (its first line is "split: ..." or "not split: <reason>"):
#   S  must split       U  must run unsplit (whole, on one worker)
#   J  a join of the big table with a small dimension table (read whole by every map): must
#      split (JOIN_EXPECT=S; "any" only reports the plan)
# The data: the demo lake (QK_LAKE: its partitioned/ and dataset/ are linked into a private
# lake) and the edge-case datasets of make_edge_lake.sh (nulls, hive partitions with an empty
# and a NULL partition, one row, no rows, decimals, timestamps and intervals, skewed keys,
# 200,000 groups, unicode strings, CSV, a dimension table for joins).
. "$(dirname "$0")/lib.sh"
qk_init

JOIN_EXPECT=S

DEMO=$QK_LAKE
LAKE=$QK_TMP/difflake
mkdir -p "$LAKE"
ln -s "$DEMO/partitioned" "$LAKE/partitioned"
ln -s "$DEMO/dataset" "$LAKE/dataset"
E=$LAKE/edge
t0=$(date +%s%N)
bash "$(dirname "$0")/make_edge_lake.sh" "$QUACK_BIN" "$E" || { echo "cannot make the edge datasets" >&2; exit 1; }
echo "# edge datasets made in $((($(date +%s%N) - t0) / 1000000)) ms"
QK_LAKE=$LAKE # the workers serve the private lake (their sandbox allows only the lake)

WORKERS=()
for _ in 1 2 3; do
  qk_start_server --max-concurrency 8 || exit 1
  WORKERS+=("$QK_URL")
done
ALL=$(IFS=,; echo "${WORKERS[*]}")

# ---- the queries: q NAME EXPECT SQL, with the current $SHARD -------------------------------------
NAMES=()
EXPECTS=()
SHARDS=()
SQLS=()
q() {
  NAMES+=("$1")
  EXPECTS+=("$2")
  SHARDS+=("$SHARD")
  SQLS+=("$3")
}

# The demo lake: 7.4M rows in 30 daily files (the fixture's), or 200,000 (lib.sh's own); shards
# of a tenth of its size: about 10 shards either way.
DEMO_SHARD=$(find -L "$LAKE/partitioned" -name '*.parquet' -printf '%s\n' |
  awk '{ s += $1 } END { print int(s / 10240) + 1 "KB" }')
SHARD=$DEMO_SHARD
PART="$LAKE/partitioned/*/*.parquet"
P="read_parquet('$PART')"
q demo-count S "SELECT count(*) AS n FROM $P"
q demo-vendor S "SELECT vendor_id, count(*) AS n, sum(passenger_count) AS p FROM $P GROUP BY 1 ORDER BY 1"
q demo-top-places S "SELECT pickup_location_id, count(*) AS n, sum(total_amount) AS s, min(pickup_at) AS first, max(dropoff_at) AS last FROM $P GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
q demo-group-all S "SELECT payment_type, avg(trip_distance) AS d, avg(passenger_count) AS p FROM $P GROUP BY ALL ORDER BY 1"
q demo-stddev S "SELECT vendor_id, stddev_samp(fare_amount) AS sd, var_pop(tip_amount) AS v FROM $P GROUP BY 1 ORDER BY 1"
q demo-count-distinct S "SELECT rate_code_id, count(DISTINCT pickup_location_id) AS places FROM $P GROUP BY 1 ORDER BY 1"
q demo-bool S "SELECT count(DISTINCT dropoff_location_id) AS places, bool_or(tolls_amount > 50) AS big_tolls, bool_and(mta_tax >= 0) AS taxed FROM $P"
q demo-hive-date S "SELECT date, count(*) AS n FROM read_parquet('$PART', hive_partitioning = 1) WHERE date >= '2019-04-10' GROUP BY 1 ORDER BY 1"
q demo-having S "SELECT dropoff_location_id, sum(passenger_count) AS p FROM $P WHERE trip_distance > 5 GROUP BY 1 HAVING count(*) > 1000 ORDER BY 2 DESC, 1"
q demo-top-k S "SELECT pickup_at, total_amount, pickup_location_id FROM $P ORDER BY total_amount DESC, pickup_at, pickup_location_id LIMIT 25"
q demo-offset S "SELECT pickup_at, total_amount FROM $P ORDER BY pickup_at, total_amount LIMIT 10 OFFSET 100"
q demo-distinct S "SELECT DISTINCT payment_type, vendor_id FROM $P"
q demo-filter S "SELECT pickup_location_id, vendor_id FROM $P WHERE total_amount > 200"
q demo-hour S "SELECT date_trunc('hour', pickup_at) AS h, count(*) AS n FROM $P GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
q demo-decimal S "SELECT vendor_id, sum(CAST(fare_amount AS DECIMAL(12,2))) AS fares FROM $P GROUP BY 1 ORDER BY 1"
q demo-nulls-first S "SELECT store_and_fwd_flag, count(*) AS n FROM $P GROUP BY 1 ORDER BY 1 NULLS FIRST"
q demo-window U "SELECT vendor_id, row_number() OVER (ORDER BY vendor_id) AS r FROM (SELECT DISTINCT vendor_id FROM $P) ORDER BY 1"
q demo-filter-agg S "SELECT max(total_amount) - min(total_amount) AS spread, count(*) FILTER (WHERE passenger_count = 0) AS empty FROM $P"
q demo-where-false S "SELECT count(*) AS n FROM $P WHERE false"
q demo-one-file S "SELECT payment_type, count(*) AS n, sum(fare_amount) AS f FROM read_parquet('$LAKE/dataset/taxi_2019_04.parquet') GROUP BY 1 ORDER BY 1"
q demo-string-path S "SELECT vendor_id, count(*) AS n FROM '$PART' GROUP BY 1 ORDER BY 1" # a replacement scan, sharded as read_parquet
q demo-volatile U "SELECT count(*) AS n FROM $P WHERE pickup_at < now()" # each worker would evaluate its own now()

# The edge datasets: a few files each, about one file per shard.
SHARD=100KB
NU="read_parquet('$E/nulls/*.parquet')"
HV="read_parquet('$E/hive/*/*.parquet', hive_partitioning = true)"
ONE="read_parquet('$E/one/*.parquet')"
EM="read_parquet('$E/empty/*.parquet')"
DE="read_parquet('$E/dec/*.parquet')"
TS="read_parquet('$E/ts/*.parquet')"
SK="read_parquet('$E/skew/*.parquet')"
MA="read_parquet('$E/many/*.parquet')"
ST="read_parquet('$E/str/*.parquet')"
CS="read_csv('$E/csv/*.csv')"
DP_PATH=$E/dim/zones.parquet
DP="read_parquet('$DP_PATH')"
DC="read_csv('$E/dim/zones.csv')"

# nulls in keys and values; all-NULL groups (g = 7, 13) and an all-NULL file
q nulls-aggs S "SELECT g, count(*) AS n, count(v) AS nv, sum(v) AS s, min(v) AS lo, max(v) AS hi, avg(v) AS a FROM $NU GROUP BY g"
q nulls-string-key S "SELECT s, count(*) AS n, count(d) AS nd, sum(d) AS sd, min(d) AS lo, max(d) AS hi FROM $NU GROUP BY 1 ORDER BY 1 NULLS FIRST"
q nulls-bool S "SELECT g, bool_and(b) AS ba, bool_or(b) AS bo, bool_and(v > 0) AS pos FROM $NU GROUP BY ALL ORDER BY g DESC NULLS LAST"
q nulls-variance S "SELECT g, stddev(v) AS sd, variance(v) AS var, var_pop(d) AS vp, stddev_pop(d) AS sp FROM $NU GROUP BY g ORDER BY g NULLS FIRST"
q nulls-global S "SELECT count(*) AS n, count(g) AS ng, count(DISTINCT g) AS dg, sum(v) AS s, avg(d) AS a, min(s) AS lo, max(s) AS hi FROM $NU"
q nulls-count-distinct-having S "SELECT s, count(DISTINCT g) AS gs FROM $NU GROUP BY s HAVING count(DISTINCT g) > 10 ORDER BY s NULLS LAST"
q nulls-two-keys S "SELECT g, s, count(*) AS n FROM $NU WHERE v IS NULL GROUP BY g, s"
q nulls-distinct S "SELECT DISTINCT g, s FROM $NU WHERE g < 5 OR g IS NULL"
q nulls-top-k-nulls-first S "SELECT id, g, v FROM $NU ORDER BY v DESC NULLS FIRST, id LIMIT 15"
q nulls-offset-nulls-last S "SELECT id, g, v, d FROM $NU ORDER BY v ASC NULLS LAST, d DESC NULLS LAST, id LIMIT 10 OFFSET 20"
q nulls-expr-key S "SELECT g % 5 AS m, sum(v) AS s, count(*) AS n FROM $NU GROUP BY g % 5 ORDER BY 1 NULLS FIRST"
q nulls-coalesce-key S "SELECT coalesce(s, '(null)') AS s2, max(id) - min(id) AS span FROM $NU GROUP BY 1 ORDER BY 1"
q nulls-all-null-groups S "SELECT g, sum(v) AS s, avg(v) AS a, min(v) AS lo, count(v) AS n, stddev(v) AS sd FROM $NU WHERE g IN (7, 13) GROUP BY g ORDER BY g"
q nulls-all-null-file S "SELECT sum(v) AS s, min(d) AS lo, bool_and(b) AS ba, count(v) AS nv, count(*) AS n FROM $NU WHERE id >= 100000"
q nulls-no-rows S "SELECT count(*) AS n, sum(v) AS s, avg(d) AS a FROM $NU WHERE id < 0"
q nulls-no-groups S "SELECT g, count(*) AS n FROM $NU WHERE id < 0 GROUP BY g"
q nulls-filter-clause S "SELECT g, count(*) FILTER (WHERE v > 0) AS pos, sum(v) FILTER (WHERE b) AS sb FROM $NU GROUP BY g ORDER BY g NULLS LAST"
q nulls-quoted-names S "SELECT g AS \"group key\", count(*) AS \"n \"\"rows\"\"\", sum(v) AS \"Sum\" FROM $NU GROUP BY 1 ORDER BY 1 NULLS FIRST"
q nulls-duplicate-names S "SELECT g, count(*) AS n, count(v) AS n, g FROM $NU GROUP BY g"
q nulls-order-by-hidden-agg S "SELECT g FROM $NU GROUP BY g ORDER BY sum(v) DESC NULLS LAST, g NULLS FIRST"
q nulls-agg-arithmetic S "SELECT g, sum(v) / count(*) AS ratio, count(*) * 2 + min(v) AS x, sum(v) + g AS y FROM $NU GROUP BY g"
q nulls-nan-inf S "SELECT g % 3 AS m, max(CASE WHEN id % 997 = 1 THEN 'nan'::DOUBLE WHEN id % 991 = 2 THEN 'inf'::DOUBLE WHEN id % 983 = 3 THEN '-inf'::DOUBLE ELSE d END) AS mx, min(CASE WHEN id % 991 = 2 THEN 'inf'::DOUBLE WHEN id % 983 = 3 THEN '-inf'::DOUBLE ELSE d END) AS mn, sum(CASE WHEN id % 983 = 3 THEN '-inf'::DOUBLE ELSE d END) AS s FROM $NU GROUP BY 1 ORDER BY 1 NULLS LAST"
q nulls-bool-key S "SELECT v > 0 AS pos, count(*) AS n, sum(d) AS sd FROM $NU GROUP BY 1 ORDER BY 1 NULLS FIRST"
q nulls-filename S "SELECT filename[-14:] AS f, count(*) AS n, sum(v) AS s FROM read_parquet('$E/nulls/*.parquet', filename = true) GROUP BY 1 ORDER BY 1"
q nulls-list-of-paths S "SELECT count(*) AS n, sum(v) AS s, count(DISTINCT s) AS ds FROM read_parquet(['$E/nulls/part-0.parquet', '$E/nulls/part-[12].parquet', '$E/nulls/part-4.parquet'])"
q nulls-scalar-subquery-where S "SELECT g, count(*) AS n FROM $NU WHERE v > (SELECT avg(v) FROM $NU) GROUP BY g" # the subquery reads the whole table in every map
q nulls-in-subquery-self S "SELECT count(*) AS n, sum(v) AS s FROM $NU t WHERE t.id IN (SELECT id * 3 FROM $NU WHERE v IS NOT NULL)"
q nulls-past-the-end S "SELECT id, v FROM $NU ORDER BY id LIMIT 5 OFFSET 1000000"

# hive partitions: k=1..5, k=NULL, and k=6 with one zero-row file
q hive-keys S "SELECT k, count(*) AS n, sum(x) AS sx, count(x) AS nx FROM $HV GROUP BY k ORDER BY k NULLS FIRST"
q hive-empty-partition S "SELECT k, count(*) AS n FROM $HV WHERE k = 6 GROUP BY k"
q hive-null-partition S "SELECT count(*) AS n, sum(x) AS sx FROM $HV WHERE k IS NULL"
q hive-range S "SELECT k, max(name) AS mx, min(id) AS lo FROM $HV WHERE k >= '3' GROUP BY ALL"
q hive-pruned-away S "SELECT count(*) AS n FROM $HV WHERE k = '42'" # pruned to one file (for the schema)
q hive-top-k S "SELECT id, k, x FROM $HV WHERE k IS NOT NULL ORDER BY x DESC NULLS LAST, id LIMIT 12"
q hive-distinct S "SELECT DISTINCT k FROM $HV"
q hive-or-null S "SELECT k, count(*) AS n FROM $HV WHERE k <> 2 OR k IS NULL GROUP BY 1"

# one row; no rows at all
q one-aggs S "SELECT count(*) AS n, sum(amount) AS s, avg(amount) AS a, min(t) AS t, max(s) AS s2, stddev(amount) AS sd, var_pop(amount) AS vp, count(n) AS nn FROM $ONE"
q one-rows S "SELECT id, s, amount, t, n FROM $ONE ORDER BY id LIMIT 5"
q one-star S "SELECT * FROM $ONE WHERE n IS NULL"
q one-limit-0 S "SELECT id, s FROM $ONE LIMIT 0"
q one-offset S "SELECT id, t FROM $ONE ORDER BY id LIMIT 1 OFFSET 1"
q empty-aggs S "SELECT count(*) AS n, sum(v) AS s, min(s) AS lo, avg(v) AS a, bool_or(v > 0) AS bo FROM $EM"
q empty-groups S "SELECT g, count(*) AS n, sum(v) AS s FROM $EM GROUP BY g"
q empty-rows S "SELECT g, v, s FROM $EM ORDER BY v LIMIT 3"

# decimals: sums must be exact
q dec-sums S "SELECT g, sum(d9) AS s9, sum(d18) AS s18, sum(d38) AS s38 FROM $DE GROUP BY g ORDER BY g NULLS FIRST"
q dec-min-max S "SELECT g, min(d9) AS a, max(d9) AS b, min(d18) AS c, max(d18) AS d, min(d38) AS e, max(d38) AS f FROM $DE GROUP BY ALL"
q dec-avg S "SELECT avg(d9) AS a9, avg(d18) AS a18, avg(d38) AS a38, count(d38) AS n FROM $DE"
q dec-filtered-sum S "SELECT sum(d38) AS s, sum(d9) AS s9 FROM $DE WHERE d38 > 0"
q dec-top-k S "SELECT id, d38, d9 FROM $DE ORDER BY d38 DESC NULLS LAST, id LIMIT 5"
q dec-having-exprs S "SELECT g, sum(d9 * 2) AS s2, sum(d18 + d9) AS s, max(d38 - d18) AS m FROM $DE GROUP BY g HAVING sum(d9) > 0 ORDER BY g"
q dec-variance S "SELECT stddev(d18) AS sd, var_pop(d9) AS vp FROM $DE"
q dec-count-distinct S "SELECT count(DISTINCT d9) AS n9 FROM $DE"
q dec-avg-groups S "SELECT g, avg(d38) AS a FROM $DE GROUP BY g ORDER BY g NULLS LAST"

# timestamps, timestamptz, dates, intervals
q ts-min-max S "SELECT g, min(t) AS t0, max(t) AS t1, min(tz) AS z0, max(tz) AS z1, min(d) AS d0, max(d) AS d1, min(iv) AS i0, max(iv) AS i1, min(tm) AS m0, max(tm) AS m1 FROM $TS GROUP BY g ORDER BY g"
q ts-month-key S "SELECT date_trunc('month', t) AS m, count(*) AS n, min(d) AS d0 FROM $TS GROUP BY 1 ORDER BY 1 NULLS FIRST"
q ts-tz-day S "SELECT date_trunc('day', tz) AS day, count(*) AS n FROM $TS GROUP BY 1 ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 10"
q ts-order S "SELECT id, t, tz, d, iv FROM $TS ORDER BY t DESC NULLS FIRST, id LIMIT 10"
q ts-interval-order S "SELECT id, iv FROM $TS WHERE iv IS NOT NULL ORDER BY iv, id LIMIT 10"
q ts-interval-micros S "SELECT g, max(t_end - t) AS longest, min(t_end - t) AS shortest FROM $TS GROUP BY g ORDER BY g"
q ts-interval-negative S "SELECT g, min(t - t_end) AS most_negative, max(t - t_end) AS least FROM $TS GROUP BY g ORDER BY g"
q ts-date-range S "SELECT d, count(*) AS n FROM $TS WHERE d BETWEEN DATE '1969-12-28' AND DATE '1970-01-05' GROUP BY d ORDER BY d"
q ts-count-distinct-expr S "SELECT min(tz) AS z0, max(tz) AS z1, count(DISTINCT date_trunc('hour', t)) AS hours FROM $TS"
q ts-millis S "SELECT g, min(t_ms) AS lo, max(t_ms) AS hi FROM $TS GROUP BY g ORDER BY g"
q ts-timetz-ns S "SELECT g, max(CAST(tm AS TIMETZ)) AS mt, min(CAST(t AS TIMESTAMP_NS)) AS ns, max(CAST(t AS TIMESTAMPTZ)) AS tz FROM $TS GROUP BY g ORDER BY g"
q ts-seconds-millis S "SELECT g, max(CAST(t AS TIMESTAMP_S)) AS s, min(CAST(t AS TIMESTAMP_MS)) AS ms FROM $TS GROUP BY g ORDER BY g"
q ts-dow S "SELECT dayofweek(d) AS dow, avg(epoch(t)) AS e, count(*) AS n FROM $TS GROUP BY 1 ORDER BY 1 NULLS LAST"

# skewed keys: k = 0 holds ~90% of the rows
q skew-top S "SELECT k, count(*) AS n, sum(v) AS s, avg(v) AS a FROM $SK GROUP BY k ORDER BY 2 DESC, 1 LIMIT 5"
q skew-global S "SELECT count(DISTINCT k) AS keys, count(*) FILTER (WHERE k = 0) AS hot, max(v) AS mx FROM $SK"
q skew-variance-having S "SELECT k, stddev_samp(v) AS sd, var_samp(v) AS vs FROM $SK GROUP BY k HAVING count(*) > 100 ORDER BY k"
q skew-rows S "SELECT id, k, v FROM $SK WHERE k <> 0 ORDER BY v DESC, id LIMIT 20 OFFSET 5"

# many groups: 200,000 keys, each in two shards
q many-groups S "SELECT k, count(*) AS n, sum(v) AS s, min(f) AS lo, max(f) AS hi FROM $MA GROUP BY k"
q many-top S "SELECT k, sum(v) AS s FROM $MA GROUP BY k ORDER BY s DESC, k LIMIT 25"
q many-count-distinct S "SELECT count(DISTINCT k) AS keys, count(*) AS n FROM $MA"
q many-string-keys S "SELECT ks, count(*) AS n FROM $MA WHERE k < 1000 GROUP BY ks HAVING sum(v) > 500 ORDER BY ks"
q many-distinct-expr S "SELECT DISTINCT k % 1000 AS r FROM $MA"
q many-distinct-top-k S "SELECT DISTINCT k % 1000 AS r FROM $MA ORDER BY 1 DESC LIMIT 5 OFFSET 10"
q many-hugeint S "SELECT sum(9000000000000000000 - v) AS big, avg(9000000000000000000 - v) AS a, max(v::HUGEINT * 100000000000000000000) AS h FROM $MA"

# strings: unicode, empty, quotes, commas, newlines
q str-groups S "SELECT s, count(*) AS n, min(t) AS lo, max(t) AS hi FROM $ST GROUP BY s ORDER BY s NULLS FIRST"
q str-length S "SELECT length(s) AS len, count(*) AS n FROM $ST GROUP BY 1 ORDER BY 1 NULLS LAST"
q str-distinct S "SELECT DISTINCT s FROM $ST"
q str-rows S "SELECT n, s, t FROM $ST WHERE s = '' OR s LIKE '%ä%' OR s LIKE '%🦆%' ORDER BY n DESC LIMIT 10"
q str-distinct-ordered S "SELECT DISTINCT s, length(s) AS len FROM $ST ORDER BY 1 NULLS FIRST"
q str-distinct-by-name S "SELECT DISTINCT s, length(s) AS len FROM $ST ORDER BY len DESC, s NULLS FIRST"
q str-uuid-blob S "SELECT s, min(u) AS u0, max(u) AS u1, count(DISTINCT u) AS du, min(bl) AS b0, max(bl) AS b1 FROM $ST GROUP BY s ORDER BY s NULLS LAST"
q str-global S "SELECT min(s) AS lo, max(s) AS hi, count(DISTINCT s) AS ds, max(upper(t)) AS ut FROM $ST"

# CSV files
q csv-groups S "SELECT grp, count(*) AS n, sum(amount) AS s, max(label) AS l FROM $CS GROUP BY grp ORDER BY grp NULLS FIRST"
q csv-top-k S "SELECT id, amount, label FROM $CS ORDER BY amount DESC NULLS LAST, id LIMIT 10"

# what must run whole, and still give the same answer
q unsplit-window U "SELECT id, g, sum(v) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS w FROM $NU WHERE id % 997 = 0 ORDER BY id"
q unsplit-cte U "WITH x AS (SELECT k, count(*) AS n FROM $SK GROUP BY k) SELECT n, count(*) AS keys FROM x GROUP BY n ORDER BY n"
q unsplit-union-all U "SELECT 'nulls' AS src, count(*) AS n FROM $NU UNION ALL SELECT 'hive', count(*) FROM $HV ORDER BY 1"
q unsplit-union U "SELECT g AS key FROM $NU UNION SELECT k FROM $HV"
q unsplit-subquery-from U "SELECT avg(n) AS a, max(n) AS mx FROM (SELECT g, count(*) AS n FROM $NU GROUP BY g)"
q unsplit-qualify U "SELECT k, v, id FROM $SK WHERE k < 50 QUALIFY row_number() OVER (PARTITION BY k ORDER BY v DESC, id) = 1 ORDER BY k"
q unsplit-scalar-subquery U "SELECT g, count(*) / (SELECT count(*) FROM $NU) AS frac FROM $NU GROUP BY g ORDER BY g NULLS FIRST"
q unsplit-median U "SELECT s, median(n) AS med, string_agg(t, '|' ORDER BY n) AS ts FROM $ST WHERE n < 300 GROUP BY s ORDER BY s NULLS FIRST"
q unsplit-rollup U "SELECT g % 3 AS m, s, count(*) AS n FROM $NU WHERE s IN ('', 'k1') OR s IS NULL GROUP BY ROLLUP (g % 3, s)"
q unsplit-two-distincts U "SELECT count(DISTINCT k) AS keys, count(DISTINCT ks) AS skeys FROM $MA"
q unsplit-union-by-name U "SELECT g, count(*) AS n FROM read_parquet('$E/nulls/*.parquet', union_by_name = true) GROUP BY g"
q unsplit-interval U "WITH x AS (SELECT g, t, t_end FROM $TS) SELECT g, max(t_end - t) AS longest, max(CAST(t AS TIMESTAMP_S)) AS s FROM x GROUP BY g ORDER BY g"

# joins of the big table with the small dimension table (Parquet and CSV)
SHARD=$DEMO_SHARD
q join-demo-region J "SELECT z.region, count(*) AS n, sum(t.total_amount) AS s FROM $P t JOIN $DP z ON t.pickup_location_id = z.id GROUP BY z.region ORDER BY z.region NULLS FIRST"
q join-demo-left-top J "SELECT z.name, count(*) AS n FROM $P t LEFT JOIN $DP z ON t.pickup_location_id = z.id GROUP BY z.name ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 15"
q join-demo-string-paths J "SELECT z.region, count(*) AS n FROM '$PART' t JOIN '${DP_PATH}' z ON t.pickup_location_id = z.id GROUP BY 1 ORDER BY 1 NULLS FIRST"
q join-demo-csv-day J "SELECT date_trunc('day', t.pickup_at) AS day, z.region, count(*) AS n FROM $P t JOIN $DC z ON z.id = t.dropoff_location_id WHERE t.total_amount > 100 GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST"
q join-demo-semi J "SELECT count(*) AS n FROM $P t WHERE t.dropoff_location_id IN (SELECT id FROM $DP WHERE region = 'north')"
SHARD=100KB
q join-nulls-rows J "SELECT t.id, t.g, z.name, z.weight, t.v FROM $NU t JOIN $DC z ON t.g = z.id WHERE t.id % 1000 = 7"
q join-nulls-left-agg J "SELECT t.g, z.region, sum(t.v) AS s, count(z.id) AS matched, count(*) AS n FROM $NU t LEFT JOIN $DP z ON z.id = t.g GROUP BY ALL"
q join-skew-agg J "SELECT z.region, avg(t.v) AS a, max(t.k) AS mk, count(*) AS n FROM $SK t JOIN $DP z ON t.k = z.id GROUP BY 1 ORDER BY 1 NULLS LAST"
q join-skew-left-rows J "SELECT t.id, t.k, z.name FROM $SK t LEFT JOIN $DC z ON t.k = z.id WHERE t.k BETWEEN 1 AND 20 ORDER BY t.id LIMIT 30"
q join-skew-anti J "SELECT t.k, count(*) AS n FROM $SK t WHERE NOT EXISTS (SELECT 1 FROM $DP z WHERE z.id = t.k) GROUP BY t.k ORDER BY t.k"
q join-dec-exact J "SELECT z.region, sum(t.d18) AS s18, sum(t.d38) AS s38, max(z.weight) AS w FROM $DE t JOIN $DP z ON t.g = z.id GROUP BY 1 ORDER BY 1 NULLS FIRST"

# ---- run ------------------------------------------------------------------------------------------
# Every query: the plan (--explain-distributed) while the single-node run goes, then the
# distributed run, then (only when the answers differ as bytes) the column types (DESCRIBE);
# two queries at a time. Files in $QK_TMP/q<i>/.
quack() { "$QUACK_BIN" query --lake "$LAKE" -F csv -l 10000000 "$@"; }
run_one() {
  local i=$1 d=$QK_TMP/q$1 sql=${SQLS[$1]} shard=${SHARDS[$1]} t bg
  mkdir -p "$d"
  t=$(date +%s%N)
  quack --explain-distributed --shard-size "$shard" -q "$sql" >"$d/explain" 2>&1 &
  bg=$!
  quack -q "$sql" >"$d/single" 2>"$d/single.err"
  echo $? >"$d/single.rc"
  wait "$bg"
  quack --workers "$ALL" --shard-size "$shard" -q "$sql" >"$d/dist" 2>"$d/dist.err"
  echo $? >"$d/dist.rc"
  cmp -s "$d/single" "$d/dist" || quack -q "DESCRIBE $sql" >"$d/types" 2>"$d/types.err"
  printf '%s\n' "$sql" >"$d/sql"
  echo $((($(date +%s%N) - t) / 1000000)) >"$d/ms"
}
N=${#SQLS[@]}
T0=$(date +%s%N)
JOBS=2
running=()
for ((i = 0; i < N; i++)); do
  if [ ${#running[@]} -ge $JOBS ]; then
    wait "${running[0]}"
    running=("${running[@]:1}")
  fi
  run_one "$i" &
  running+=($!)
done
for p in "${running[@]}"; do wait "$p"; done # not a bare wait: the workers are children too
RUN_MS=$((($(date +%s%N) - T0) / 1000000))

# compare: for every query dir, one line "<i> <0|1> <why>": the CSV answers equal (see the
# header: a top-level ORDER BY keeps the order, FLOAT/DOUBLE columns to 1e-9 relative).
python3 - "$QK_TMP" "$N" >"$QK_TMP/compare" <<'PY'
import csv, math, os, re, sys
root, n = sys.argv[1], int(sys.argv[2])
def rows(p):
    return list(csv.reader(open(p, newline="", encoding="utf-8")))
def ordered(sql):  # a top-level ORDER BY: outside string literals and parentheses
    s = re.sub(r"'(?:[^']|'')*'", "''", sql)
    depth, flat = 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    return re.search(r"\bORDER\s+BY\b", "".join(flat), re.I) is not None
def compare(d):
    sql = open(os.path.join(d, "sql"), encoding="utf-8").read()
    a, b = rows(os.path.join(d, "single")), rows(os.path.join(d, "dist"))
    o = ordered(sql)
    floats = set()
    if a != b:
        types = rows(os.path.join(d, "types"))
        if not types or types[0][:2] != ["column_name", "column_type"]:
            return False, "no column types (DESCRIBE failed)"
        floats = {j for j, r in enumerate(types[1:]) if re.match(r"(DOUBLE|FLOAT|REAL)$", r[1])}
    if not o:
        a = a[:1] + sorted(a[1:]); b = b[:1] + sorted(b[1:])
    def cell_eq(j, x, y):
        if x == y:
            return True
        if j not in floats:
            return False
        try:
            return math.isclose(float(x), float(y), rel_tol=1e-9, abs_tol=1e-12)
        except ValueError:
            return False
    if len(a) < 1 or len(a) != len(b):
        return False, f"{len(a) - 1} rows single-node vs {len(b) - 1} distributed"
    if a[0] != b[0]:
        return False, f"header {a[0]} vs {b[0]}"
    for i, (ra, rb) in enumerate(zip(a, b)):
        if len(ra) != len(rb) or not all(cell_eq(j, x, y) for j, (x, y) in enumerate(zip(ra, rb))):
            return False, f"row {i}: {ra[:8]} single-node vs {rb[:8]} distributed"
    return True, f"{len(a) - 1} rows{'' if o else ', as multisets'}"
for i in range(n):
    d = os.path.join(root, f"q{i}")
    try:
        ok, why = compare(d)
    except Exception as e:  # a missing or unreadable answer
        ok, why = False, f"cannot compare: {e}"
    print(i, 1 if ok else 0, why.replace("\n", "\\n"))
PY

nsplit=0
nunsplit=0
joins=()
while read -r i same why; do
  name=${NAMES[i]} want=${EXPECTS[i]} sql=${SQLS[i]} d=$QK_TMP/q$i
  plan=$(head -1 "$d/explain")
  case $plan in
    split:*) state="split"; nsplit=$((nsplit + 1)) ;;
    "not split"*) state="unsplit"; nunsplit=$((nunsplit + 1)) ;;
    *) state="?" ;;
  esac
  [ "$want" = J ] && joins+=("$name: $state")
  label="$name [$want, ${plan%%,*}; $(cat "$d/ms") ms]"
  if [ "$(cat "$d/single.rc")" -ne 0 ]; then
    qk_not_ok "$label: the single-node run failed" "$(head -c 400 "$d/single.err")"
    continue
  fi
  if [ "$(cat "$d/dist.rc")" -ne 0 ]; then
    qk_not_ok "$label: the distributed run failed" "$(grep -v '"level":"warn"' "$d/dist.err" | head -c 400)"
    echo "#   first attempt error: $(grep -m1 -o '"message":"[^"]*"' "$d/dist.err")"
    echo "#   $sql"
    continue
  fi
  if [ "$same" != 1 ]; then
    qk_not_ok "$label: distributed differs: $why" "$sql"
    echo "#   single-node: $(head -3 "$d/single" | tr '\n' '|')"
    echo "#   distributed: $(head -3 "$d/dist" | tr '\n' '|')"
    echo "#   plan: $plan"
    continue
  fi
  case $want in
    S) [ "$state" = split ] ;;
    U) [ "$state" = unsplit ] ;;
    J) [ "$JOIN_EXPECT" = any ] || [ "$state" = split ] ;;
  esac || {
    qk_not_ok "$label: distributed == single-node ($why), but the plan should be $want" "$plan"
    echo "#   $sql"
    continue
  }
  qk_ok "$label: distributed == single-node ($why)"
done <"$QK_TMP/compare"

count() { printf '%s\n' "${EXPECTS[@]}" | grep -cx "$1"; }
echo "# $N queries in $RUN_MS ms ($JOBS at a time): expected S $(count S), U $(count U), J $(count J)" \
  "(JOIN_EXPECT=$JOIN_EXPECT); planned $nsplit split, $nunsplit unsplit"
echo "# joins: $(IFS=,; echo "${joins[*]}")"
qk_check "at least 60 queries ($N)" test "$N" -ge 60

qk_done
