#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_s3_sql.sh: s3:// paths in SQL (src/lake/resolve.c) against a real S3 server (Ceph RGW
# from tests/s3/rgw.sh). A small demo lake (20,000 rows) is uploaded with tests/tools/s3check;
# every case runs `quack query -F csv` once on s3:// paths and once on the local copy and
# compares the CSV byte for byte: a single file, a list of files, a glob with
# hive_partitioning=1 and a WHERE on the partition column, "**", FROM 's3://...', read_csv on a
# CSV object; then the errors (missing object, empty glob) and `quack serve`'s /query.
# Prints "N passed, N failed". "SKIP: ..." and exit 0 only when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test s3sql quack s3check faultproxy
C="$QUACK_BUILD/s3check"


qk_rgw_up "$STATE"
qk_s3_env

# ---- the lake: local copy and the same keys in bucket $B
L=$QK_TMP/lake
B=qk-sql-$$
"$QUACK_BIN" demo --lake "$L" --rows 20000 --quiet >/dev/null 2>"$QK_TMP/err" ||
  { cat "$QK_TMP/err" >&2; qk_not_ok "demo lake"; qk_done; exit 1; }
{ echo "zone,fare"; for i in $(seq 1 50); do echo "z$((i % 4)),$i.5"; done; } >"$L/fares.csv"
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }
up_ok=1
while IFS= read -r f; do
  k=${f#"$L"/}
  "$C" put "s3://$B" "$k" "$f" >/dev/null 2>"$QK_TMP/err" || { up_ok=0; cat "$QK_TMP/err" >&2; }
done < <(find "$L/dataset" "$L/partitioned" "$L/fares.csv" -type f | sort)
qk_eq "upload the demo lake" "$up_ok" 1

# same NAME SQL: SQL with @ROOT@ run on s3://$B and on the local lake; CSV must be identical.
same() {
  local name=$1 sql=$2 s3 loc
  s3=${sql//@ROOT@/s3:\/\/$B}
  loc=${sql//@ROOT@/$L}
  if ! "$QUACK_BIN" query --lake "$L" -l 100000 -F csv "$s3" >"$QK_TMP/s3.csv" 2>"$QK_TMP/s3.err"; then
    qk_not_ok "$name" "s3 query failed: $(head -c 300 "$QK_TMP/s3.err")"; return
  fi
  if ! "$QUACK_BIN" query --lake "$L" -l 100000 -F csv "$loc" >"$QK_TMP/loc.csv" 2>"$QK_TMP/loc.err"; then
    qk_not_ok "$name" "local query failed: $(head -c 300 "$QK_TMP/loc.err")"; return
  fi
  if cmp -s "$QK_TMP/s3.csv" "$QK_TMP/loc.csv" && [ -s "$QK_TMP/loc.csv" ]; then
    qk_ok "$name ($(wc -l <"$QK_TMP/loc.csv") lines)"
  else
    qk_not_ok "$name" "results differ: $(diff "$QK_TMP/s3.csv" "$QK_TMP/loc.csv" | head -5 | tr '\n' ' ')"
  fi
}

same "single file" \
  "SELECT count(*) AS n, sum(total_amount) AS total FROM read_parquet('@ROOT@/dataset/taxi_2019_04.parquet')"
same "single file, all rows" \
  "SELECT * FROM read_parquet('@ROOT@/dataset/taxi_2019_04.parquet') ORDER BY ALL"
same "list of files" \
  "SELECT count(*) AS n, min(pickup_at) AS lo, max(pickup_at) AS hi FROM read_parquet(['@ROOT@/partitioned/date=2019-04-01/data_0.parquet', '@ROOT@/partitioned/date=2019-04-02/data_0.parquet'])"
same "glob with hive_partitioning and a WHERE on date" \
  "SELECT date, count(*) AS n, round(sum(fare_amount), 2) AS fares FROM read_parquet('@ROOT@/partitioned/*/*.parquet', hive_partitioning=1) WHERE date BETWEEN '2019-04-03' AND '2019-04-05' GROUP BY date ORDER BY date"
same "glob with a partition pattern" \
  "SELECT count(*) AS n FROM read_parquet('@ROOT@/partitioned/date=2019-04-1?/*.parquet')"
same "double-star glob" \
  "SELECT date, count(*) AS n FROM read_parquet('@ROOT@/partitioned/**/*.parquet', hive_partitioning=true) GROUP BY ALL ORDER BY ALL"
same "FROM 's3://...'" \
  "SELECT vendor_id, count(*) AS n FROM '@ROOT@/dataset/taxi_2019_04.parquet' GROUP BY 1 ORDER BY 1"
same "read_csv on a CSV object" \
  "SELECT zone, sum(fare) AS s FROM read_csv('@ROOT@/fares.csv', header=true) GROUP BY zone ORDER BY zone"
same "join of two s3 paths" \
  "SELECT count(*) AS n FROM '@ROOT@/dataset/taxi_2019_04.parquet' a JOIN read_parquet('@ROOT@/partitioned/*/*.parquet') b USING (pickup_at, dropoff_at, total_amount)"

# ---- hive partition pruning, counted at the wire: the seed's 10-day filter on the 30-day
# dataset, through faultproxy (no faults) with a cold cache, must GET exactly 10 objects; the
# same query again (warm cache) must GET none.
PRUNE_SQL="SELECT date, count(*) AS n, round(sum(fare_amount), 2) AS fares FROM read_parquet('@ROOT@/partitioned/*/*.parquet', hive_partitioning=true) WHERE date >= '2019-04-01' AND date <= '2019-04-10' GROUP BY date ORDER BY date"
qk_fp_start fp
fp_count() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$QK_TMP/fp.stats"; }
if [ -n "${QK_FP_URL:-}" ]; then
  saved_ep=$AWS_ENDPOINT_URL saved_xdg=$XDG_CACHE_HOME
  export AWS_ENDPOINT_URL=$QK_FP_URL XDG_CACHE_HOME=$QK_TMP/xdg-prune
  same "pruned 10-day query through the proxy (cold cache)" "$PRUNE_SQL"
  g1=$(fp_count get) l1=$(fp_count list)
  qk_eq "cold cache: exactly 10 object GETs (LISTs: $l1)" "$g1" 10
  same "pruned 10-day query again (warm cache)" "$PRUNE_SQL"
  g2=$(fp_count get)
  qk_eq "warm cache: zero object GETs" "$((g2 - g1))" 0
  export AWS_ENDPOINT_URL=$saved_ep XDG_CACHE_HOME=$saved_xdg
else
  qk_not_ok "faultproxy starts" "$(head -c 300 "$QK_TMP/fp.log")"
fi
qk_fp_stop

# ---- errors
"$QUACK_BIN" query --lake "$L" -F csv "SELECT count(*) FROM read_parquet('s3://$B/dataset/missing.parquet')" \
  >"$QK_TMP/out" 2>"$QK_TMP/err"
rc=$?
if [ $rc != 0 ] && grep -q "no such object s3://$B/dataset/missing.parquet" "$QK_TMP/err"; then
  qk_ok "missing object: clear error"
else
  qk_not_ok "missing object: clear error" "exit $rc, stderr: $(head -c 300 "$QK_TMP/err")"
fi
"$QUACK_BIN" query --lake "$L" -F csv "SELECT count(*) FROM read_parquet('s3://$B/nothing/*.parquet')" \
  >"$QK_TMP/out" 2>"$QK_TMP/err"
rc=$?
if [ $rc != 0 ] && grep -q "No files found that match the pattern" "$QK_TMP/err"; then
  qk_ok "empty glob: DuckDB's message"
else
  qk_not_ok "empty glob: DuckDB's message" "exit $rc, stderr: $(head -c 300 "$QK_TMP/err")"
fi
n=$(find "$XDG_CACHE_HOME/quack/objects" -type f -name '*.parquet' 2>/dev/null | wc -l)
qk_check "objects are in the cache ($n)" test "$n" -ge 31

# ---- the server's /query goes through the same resolver
QK_LAKE=$L
if qk_start_server; then
  url=$QK_URL
  "$QUACK_BIN" query -e "$url" -F csv "SELECT count(*) AS n FROM 's3://$B/dataset/taxi_2019_04.parquet'" \
    >"$QK_TMP/srv.csv" 2>"$QK_TMP/err"
  qk_eq "serve: s3:// path through /query" "$(tail -1 "$QK_TMP/srv.csv" | tr -d '\r')" "20000"
else
  qk_not_ok "serve: s3:// path through /query" "server did not start: $(head -c 300 "$QK_LOG")"
fi

# ---- Delta tables by name on an s3:// lake (log listed and read from the bucket) ---------------
FX=$QUACK_SRC/tests/fixtures/delta-rs
mkdir -p "$L/delta"
cp -r "$FX/simple_table" "$L/delta/simple"
cp -r "$FX/delta-0.8.0-partitioned" "$L/delta/parts"
cp -r "$FX/simple_table_with_checkpoint" "$L/delta/ckpt"
up_ok=1
while IFS= read -r f; do
  "$C" put "s3://$B" "${f#"$L"/}" "$f" >/dev/null 2>"$QK_TMP/err" || { up_ok=0; cat "$QK_TMP/err" >&2; }
done < <(find "$L/delta" -type f | sort)
qk_eq "upload three Delta tables" "$up_ok" 1
delta_same() {
  local name=$1 sql=$2
  "$QUACK_BIN" query --lake "s3://$B" -F csv -l 100000 -q "$sql" >"$QK_TMP/ds3.csv" 2>"$QK_TMP/ds3.err"
  "$QUACK_BIN" query --lake "$L" -F csv -l 100000 -q "$sql" >"$QK_TMP/dloc.csv" 2>"$QK_TMP/dloc.err"
  if [ -s "$QK_TMP/ds3.csv" ] && cmp -s "$QK_TMP/ds3.csv" "$QK_TMP/dloc.csv"; then
    qk_ok "delta on S3 == local: $name"
  else
    qk_not_ok "delta on S3 == local: $name" "s3: $(head -c 300 "$QK_TMP/ds3.err") local: $(head -c 200 "$QK_TMP/dloc.err")"
  fi
}
delta_same "latest" "SELECT id FROM delta.simple ORDER BY id"
delta_same "AT (VERSION => 1)" "SELECT id FROM delta.simple AT (VERSION => 1) ORDER BY id"
delta_same "partition values" "SELECT year, month, count(*) FROM delta.parts GROUP BY ALL ORDER BY ALL"
delta_same "from a checkpoint" "SELECT * FROM delta.ckpt ORDER BY ALL"

qk_done
