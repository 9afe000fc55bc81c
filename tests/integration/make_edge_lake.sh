#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make_edge_lake.sh QUACK_BIN DIR: write the edge-case datasets of the distributed differential
# suite (test_dist_diff.sh) under DIR, with quack itself (COPY ... TO ... (FORMAT parquet|csv)).
# The data is deterministic (range(), arithmetic and hash(), no random()); every multi-file
# dataset has several files so that a small --shard-size splits it into several shards.
#
#   nulls/part-{0..3}.parquet  100,000 rows: NULL group keys (g, s), NULL values (v, d, b), an
#        + part-4.parquet      empty string key; groups g = 7 and g = 13 have v NULL on every
#                              row (all-NULL groups); part-4 (1,000 rows) has g, v, d, b NULL on
#                              every row (a shard of NULLs only)
#   hive/k={1..5,NULL}/        hive-partitioned, 2 files per partition (40,000 rows); k=NULL is
#        {a,b}_0.parquet       what DuckDB writes for a NULL partition key (it does not write
#                              __HIVE_DEFAULT_PARTITION__); k=6/a_0.parquet is a zero-row
#                              file: an empty partition; x has NULLs. DuckDB types k VARCHAR
#                              over the whole set (because of k=NULL), BIGINT over k=1..5 alone
#   one/one.parquet            a single row (DECIMAL, TIMESTAMP with microseconds, a NULL)
#   empty/{a,b}.parquet        two zero-row files: a dataset with no rows at all
#   dec/part-{0..3}.parquet    120,000 rows: DECIMAL(9,2), DECIMAL(18,4), DECIMAL(38,10) (values
#                              near 1e17 with 10 decimals: sums need all 38 digits), negative
#                              values, NULLs, NULL group keys
#   ts/part-{0..3}.parquet     100,000 rows: TIMESTAMP (microseconds, over 3 years), TIMESTAMPTZ
#                              (across DST changes), DATE (across 1970-01-01), INTERVAL (months,
#                              days, milliseconds), t_ms (written as TIMESTAMP_MS, read back as
#                              TIMESTAMP), TIME; t_end - t is an interval with microseconds and
#                              t - t_end a negative one; NULLs in each
#   skew/part-{0..3}.parquet   200,000 rows: key k = 0 on ~90% of rows, the rest over 1..1000
#   many/part-{0..3}.parquet   400,000 rows: 200,000 distinct keys (k INTEGER, ks VARCHAR), each
#                              in two files that land in different shards
#   str/part-{0..2}.parquet    60,000 rows: strings with unicode (umlauts, CJK, emoji, combining
#                              marks), empty strings, commas, quotes, newlines, leading and
#                              trailing spaces, NULLs; a UUID and a BLOB (any byte) column
#   csv/part-{0..2}.csv        30,000 rows of CSV: NULL (empty) keys and values in every file
#   dim/zones.{parquet,csv}    257 rows: a dimension table for joins (id 0..299 without the ids
#                              = 3 mod 7, so some fact keys find no row and some dim rows no
#                              fact); unicode names, NULL regions, DECIMAL(9,2) weight
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: make_edge_lake.sh QUACK_BIN DIR" >&2
  exit 2
fi
QUACK=$1
DIR=$2
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

# copy SQL TARGET [options]: COPY (SQL) TO 'DIR/TARGET' (FORMAT parquet[, options]).
copy() {
  local opts=${3:+, $3}
  mkdir -p "$(dirname "$DIR/$2")"
  "$QUACK" query --lake "$DIR" -F csv -q "COPY ($1) TO '$DIR/$2' (FORMAT parquet$opts)" >/dev/null ||
    { echo "make_edge_lake: cannot write $2" >&2; exit 1; }
}
copy_csv() {
  mkdir -p "$(dirname "$DIR/$2")"
  "$QUACK" query --lake "$DIR" -F csv -q "COPY ($1) TO '$DIR/$2' (FORMAT csv, HEADER)" >/dev/null ||
    { echo "make_edge_lake: cannot write $2" >&2; exit 1; }
}

# ---- nulls ----
make_nulls() {
  for f in 0 1 2 3; do
    copy "SELECT i::BIGINT AS id,
        CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7) % 50)::INTEGER END AS g,
        CASE WHEN i % 13 = 0 THEN NULL WHEN i % 13 = 1 THEN '' ELSE 'k' || (i % 17) END AS s,
        CASE WHEN i % 5 = 0 OR (i * 7) % 50 IN (7, 13) THEN NULL
             ELSE ((i * 31) % 1000 - 500)::INTEGER END AS v,
        CASE WHEN i % 7 = 0 THEN NULL ELSE (i % 1000)::DOUBLE / 8 - 60 END AS d,
        CASE WHEN i % 9 = 0 THEN NULL ELSE i % 4 = 0 END AS b
      FROM range($((f * 25000)), $(((f + 1) * 25000))) r(i)" "nulls/part-$f.parquet"
  done
  copy "SELECT i::BIGINT AS id, NULL::INTEGER AS g, 'k' || (i % 3) AS s, NULL::INTEGER AS v,
      NULL::DOUBLE AS d, NULL::BOOLEAN AS b FROM range(100000, 101000) r(i)" "nulls/part-4.parquet"
}

# ---- hive ----
make_hive() {
  for p in a b; do
    off=0
    [ $p = b ] && off=20000
    copy "SELECT i::BIGINT AS id,
        CASE WHEN i % 6 = 0 THEN NULL ELSE (i % 997)::DOUBLE / 4 END AS x,
        'n' || (i % 41) AS name,
        CASE WHEN i % 10 = 0 THEN NULL ELSE i % 5 + 1 END AS k
      FROM range($off, $((off + 20000))) r(i)" hive "PARTITION_BY (k), FILENAME_PATTERN '${p}_{i}', OVERWRITE_OR_IGNORE"
  done
  copy "SELECT 0::BIGINT AS id, 0::DOUBLE AS x, ''::VARCHAR AS name WHERE false" "hive/k=6/a_0.parquet"
}

# ---- one, empty ----
make_one_empty() {
  copy "SELECT 1::INTEGER AS id, 'only' AS s, 12.34::DECIMAL(9,2) AS amount,
      TIMESTAMP '2024-02-29 12:34:56.789012' AS t, NULL::INTEGER AS n" "one/one.parquet"
  for f in a b; do
    copy "SELECT 1::INTEGER AS g, 2::BIGINT AS v, 's' AS s WHERE false" "empty/$f.parquet"
  done
}

# ---- dec ----
make_dec() {
  for f in 0 1 2 3; do
    copy "SELECT i::BIGINT AS id,
        CASE WHEN i % 17 = 0 THEN NULL ELSE (i % 7)::INTEGER END AS g,
        CASE WHEN i % 19 = 0 THEN NULL
             ELSE ((((i * 37) % 2000001) - 1000000) * 0.01)::DECIMAL(9,2) END AS d9,
        CASE WHEN i % 23 = 0 THEN NULL
             ELSE (((hash(i) % 10000000000000)::BIGINT - 5000000000000) * 0.0001)::DECIMAL(18,4) END AS d18,
        CASE WHEN i % 29 = 0 THEN NULL
             ELSE (CASE WHEN i % 3 = 0 THEN -1 ELSE 1 END * ((hash(i) % 100000000000000000)::HUGEINT
                   * 10000000000 + hash(i + 1) % 10000000000))::DECIMAL(38,0) * 0.0000000001 END AS d38
      FROM range($((f * 30000)), $(((f + 1) * 30000))) r(i)" "dec/part-$f.parquet"
  done
}

# ---- ts ----
make_ts() {
  for f in 0 1 2 3; do
    copy "SELECT i::BIGINT AS id, (i % 6)::INTEGER AS g,
        CASE WHEN i % 23 = 0 THEN NULL
             ELSE TIMESTAMP '2019-12-31 22:00:00' + to_minutes(i * 17) + to_microseconds((i % 1000) * 7) END AS t,
        CASE WHEN i % 23 = 0 THEN NULL
             ELSE TIMESTAMP '2019-12-31 22:00:00' + to_minutes(i * 17) + to_microseconds((i % 1000) * 7)
                  + to_microseconds((i * 7919) % 5000000) END AS t_end,
        CASE WHEN i % 29 = 0 THEN NULL
             ELSE (TIMESTAMP '2020-03-28 23:30:00' + to_seconds(i * 577)) AT TIME ZONE 'UTC' END AS tz,
        CASE WHEN i % 31 = 0 THEN NULL ELSE DATE '1969-12-25' + (i % 4000)::INTEGER END AS d,
        CASE WHEN i % 37 = 0 THEN NULL
             ELSE to_months((i % 37)::INTEGER) + to_days((i % 29)::INTEGER) + to_milliseconds((i * 7919) % 86400000) END AS iv,
        CASE WHEN i % 41 = 0 THEN NULL
             ELSE CAST(TIMESTAMP '2021-06-30 12:00:00' + to_milliseconds(i * 86399) AS TIMESTAMP_MS) END AS t_ms,
        CAST(TIMESTAMP '2000-01-01' + to_microseconds(i * 863999) AS TIME) AS tm
      FROM range($((f * 25000)), $(((f + 1) * 25000))) r(i)" "ts/part-$f.parquet"
  done
}

# ---- skew ----
make_skew() {
  for f in 0 1 2 3; do
    copy "SELECT i::BIGINT AS id,
        CASE WHEN hash(i) % 10 < 9 THEN 0 ELSE i % 1000 + 1 END::INTEGER AS k,
        (i % 100)::INTEGER AS v
      FROM range($((f * 50000)), $(((f + 1) * 50000))) r(i)" "skew/part-$f.parquet"
  done
}

# ---- many ----
make_many() {
  for f in 0 1 2 3; do
    copy "SELECT ((i * 7919) % 200000)::INTEGER AS k, 'key-' || ((i * 7919) % 200000) AS ks,
        (i % 1000)::BIGINT AS v, (i % 97)::DOUBLE / 4 AS f
      FROM range($((f * 100000)), $(((f + 1) * 100000))) r(i)" "many/part-$f.parquet"
  done
}

# ---- str ----
make_str() {
  # chr(10): a newline; é twice: precomposed U+00E9 and e + U+0301 (different strings)
  strs="['', 'a', 'A', 'ä', 'Ä', 'ß', 'é', 'e' || chr(769), '日本語', '🦆 duck', 'ab,c', 'say \"hi\"',
         'two' || chr(10) || 'lines', ' lead', 'trail ', 'ǅ', 'zz']"
  for f in 0 1 2; do
    copy "SELECT i::BIGINT AS n,
        CASE WHEN i % 19 = 0 THEN NULL ELSE list_element($strs, (i % 17)::INTEGER + 1) END AS s,
        CASE WHEN i % 23 = 0 THEN NULL ELSE list_element($strs, ((i * 7) % 17)::INTEGER + 1) || (i % 3) END AS t,
        CASE WHEN i % 29 = 0 THEN NULL ELSE md5((i % 5000)::VARCHAR)::UUID END AS u,
        CASE WHEN i % 31 = 0 THEN NULL ELSE unhex(md5((i % 3000)::VARCHAR)) END AS bl
      FROM range($((f * 20000)), $(((f + 1) * 20000))) r(i)" "str/part-$f.parquet"
  done
}

# ---- csv ----
make_csv() {
  for f in 0 1 2; do
    copy_csv "SELECT i::BIGINT AS id,
        CASE WHEN i % 9 = 0 THEN NULL ELSE (i % 12)::INTEGER END AS grp,
        CASE WHEN i % 7 = 0 THEN NULL ELSE round((i % 5000)::DOUBLE / 4 + 0.25, 2) END AS amount,
        CASE WHEN i % 11 = 0 THEN NULL ELSE 'l' || (i % 23) END AS label
      FROM range($((f * 10000)), $(((f + 1) * 10000))) r(i)" "csv/part-$f.csv"
  done
}

# ---- dim ----
make_dim() {
  dim="SELECT id::INTEGER AS id,
      CASE WHEN id % 11 = 0 THEN 'Zone ' || id || ' – Süd' ELSE 'zone-' || id END AS name,
      CASE WHEN id % 13 = 0 THEN NULL ELSE list_element(['north', 'south', 'east', 'west'], (id % 4)::INTEGER + 1) END AS region,
      (id * 1.25)::DECIMAL(9,2) AS weight
    FROM range(0, 300) r(id) WHERE id % 7 <> 3"
  copy "$dim" "dim/zones.parquet"
  copy_csv "$dim" "dim/zones.csv"
}

# Every dataset at once (each is a few quack runs); fail if any failed.
pids=()
make_nulls & pids+=($!)
make_hive & pids+=($!)
make_one_empty & pids+=($!)
make_dec & pids+=($!)
make_ts & pids+=($!)
make_skew & pids+=($!)
make_many & pids+=($!)
make_str & pids+=($!)
make_csv & pids+=($!)
make_dim & pids+=($!)
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
