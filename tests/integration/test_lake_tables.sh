#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_lake_tables.sh: named tables in SQL (src/lake/catalog.c, names.c; docs/tables.md).
# A local lake (a 20,000-row demo lake plus CSV folders, zones, quoted names, a mixed folder
# and a Delta folder) is queried by table name and by explicit path: the CSV outputs must be
# identical (differential against DuckDB reading the same files). SHOW TABLES, SHOW ALL TABLES,
# DESCRIBE, CTE shadowing, case, aliases, errors, the server; then the same lake uploaded to a
# real S3 server (Ceph RGW) and queried with --lake s3://...: same answers, and a partition
# filter on a named hive table downloads only the matching partitions.
# Prints "N passed, N failed". "SKIP: ..." (S3 part only) when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test tables quack faultproxy
export XDG_CACHE_HOME=$QK_TMP/xdg

# ---- the lake
L=$QK_TMP/lake
"$Q" demo --lake "$L" --rows 20000 --quiet >/dev/null 2>"$QK_TMP/err" ||
  { cat "$QK_TMP/err" >&2; qk_not_ok "demo lake"; qk_done; exit 1; }
mkdir -p "$L/raw/climate" "$L/gold" "$L/My Data" "$L/mixed" "$L/silver/trips/_delta_log" \
  "$L/amb" "$L/raw/climate/_tmp"
printf 'city,temp\nOslo,3.5\nLima,19\n' >"$L/raw/climate/a.csv"
printf 'temp,city,wind\n25.5,Cairo,4\n-2,Nuuk,11\n' >"$L/raw/climate/b.csv"
printf 'junk\n' >"$L/raw/climate/_tmp/c.csv"    # hidden: not part of the table
printf 'notes\n' >"$L/raw/climate/README.md"     # not a data file: ignored
"$Q" query --lake "$L" -F csv "COPY (SELECT 7 AS id, 'x' AS v) TO '$L/gold/summary.parquet'" >/dev/null
cp "$L/gold/summary.parquet" "$L/My Data/Q1.parquet"
printf 'a\n1\n' >"$L/mixed/x.csv"
cp "$L/gold/summary.parquet" "$L/mixed/y.parquet"
printf '{"commitInfo":{}}\n' >"$L/silver/trips/_delta_log/00000000000000000000.json"
cp "$L/gold/summary.parquet" "$L/silver/trips/part-0.parquet"
printf 'a\n1\n' >"$L/amb/t.csv"
cp "$L/gold/summary.parquet" "$L/amb/t.parquet"
mkdir -p "$L/_quack/x" && cp "$L/gold/summary.parquet" "$L/_quack/x/hidden.parquet"

# q LAKE SQL: CSV of the whole result into $QK_TMP/out, stderr in $QK_TMP/err
q() {
  local rc
  "$Q" query --lake "$1" -l 1000000 -F csv "$2" >"$QK_TMP/out" 2>"$QK_TMP/err"
  rc=$?
  sed -i 's/\r$//' "$QK_TMP/out"
  return $rc
}

# same NAME NAMED_SQL PATH_SQL [LAKE]: both must succeed with identical, non-empty CSV.
same() {
  local name=$1 a=$2 b=$3 lake=${4:-$L}
  if ! q "$lake" "$a"; then qk_not_ok "$name" "named query failed: $(head -c 300 "$QK_TMP/err")"; return; fi
  cp "$QK_TMP/out" "$QK_TMP/named.csv"
  if ! q "$L" "$b"; then qk_not_ok "$name" "path query failed: $(head -c 300 "$QK_TMP/err")"; return; fi
  if [ -s "$QK_TMP/out" ] && cmp -s "$QK_TMP/named.csv" "$QK_TMP/out"; then
    qk_ok "$name ($(wc -l <"$QK_TMP/out") lines)"
  else
    qk_not_ok "$name" "differ: $(diff "$QK_TMP/named.csv" "$QK_TMP/out" | head -6 | tr '\n' ' ')"
  fi
}

# fails NAME SQL PATTERN: the query must fail with PATTERN (grep -E) in stderr.
fails() {
  local name=$1 sql=$2 pat=$3 lake=${4:-$L}
  if q "$lake" "$sql"; then qk_not_ok "$name" "succeeded: $(head -c 200 "$QK_TMP/out")"; return; fi
  if grep -Eq -- "$pat" "$QK_TMP/err"; then qk_ok "$name"
  else qk_not_ok "$name" "stderr: $(head -c 300 "$QK_TMP/err")"; fi
}

PART="read_parquet('$L/partitioned/*/*.parquet', hive_partitioning=true)"
FILE="read_parquet('$L/dataset/taxi_2019_04.parquet')"
CLIM="read_csv(['$L/raw/climate/a.csv', '$L/raw/climate/b.csv'], union_by_name=true)"

# ---- SELECT by name == SELECT by path
same "hive table with a partition filter" \
  "SELECT date, count(*) AS n, sum(total_amount) AS t FROM partitioned WHERE date BETWEEN '2019-04-03' AND '2019-04-06' GROUP BY date ORDER BY date" \
  "SELECT date, count(*) AS n, sum(total_amount) AS t FROM $PART WHERE date BETWEEN '2019-04-03' AND '2019-04-06' GROUP BY date ORDER BY date"
same "file table by zone.name" \
  "SELECT * FROM dataset.taxi_2019_04 ORDER BY ALL" "SELECT * FROM $FILE ORDER BY ALL"
same "file table by its unique short name" \
  "SELECT count(*), sum(fare_amount) FROM taxi_2019_04" "SELECT count(*), sum(fare_amount) FROM $FILE"
same "folder of CSV files (union by name; hidden and non-data files ignored)" \
  "SELECT * FROM raw.climate ORDER BY city" "SELECT * FROM $CLIM ORDER BY city"
same "a zone's file table" "SELECT * FROM gold.summary" "SELECT * FROM read_parquet('$L/gold/summary.parquet')"
same "quoted names (\"My Data\".\"Q1\")" "SELECT * FROM \"My Data\".\"Q1\"" \
  "SELECT * FROM read_parquet('$L/My Data/Q1.parquet')"
same "names ignore case" "SELECT count(*) FROM PARTITIONED" "SELECT count(*) FROM $PART"
same "table name qualifies columns; alias too" \
  "SELECT partitioned.date, count(*) FROM partitioned GROUP BY partitioned.date ORDER BY 1" \
  "SELECT date, count(*) FROM $PART GROUP BY date ORDER BY 1"
same "alias with column aliases" \
  "SELECT p.a, count(*) FROM gold.summary AS p(a, b) GROUP BY p.a" \
  "SELECT p.a, count(*) FROM read_parquet('$L/gold/summary.parquet') AS p(a, b) GROUP BY p.a"
same "join of two lake tables and a subquery" \
  "SELECT count(*) FROM dataset.taxi_2019_04 f JOIN partitioned p USING (pickup_at, dropoff_at, total_amount) WHERE p.pickup_location_id IN (SELECT pickup_location_id FROM partitioned WHERE date = '2019-04-02')" \
  "SELECT count(*) FROM $FILE f JOIN $PART p USING (pickup_at, dropoff_at, total_amount) WHERE p.pickup_location_id IN (SELECT pickup_location_id FROM $PART WHERE date = '2019-04-02')"
same "a CTE shadows a lake table" \
  "WITH partitioned AS (SELECT 1 AS x) SELECT * FROM partitioned" "SELECT 1 AS x"
same "DESCRIBE a table" "DESCRIBE partitioned" "DESCRIBE SELECT * FROM $PART"
same "SUMMARIZE a table" "SUMMARIZE gold.summary" "SUMMARIZE SELECT * FROM read_parquet('$L/gold/summary.parquet')"

# ---- listings
if q "$L" "SHOW TABLES"; then
  qk_eq "SHOW TABLES lists the lake's tables" "$(tr '\n' ' ' <"$QK_TMP/out")" \
    'name """My Data"".""Q1""" amb dataset.taxi_2019_04 gold.summary mixed partitioned raw.climate silver.trips '
else
  qk_not_ok "SHOW TABLES" "$(head -c 300 "$QK_TMP/err")"
fi
if q "$L" "SELECT name, kind, format, files, bytes, partitions, partition_columns FROM (SHOW ALL TABLES) WHERE name IN ('partitioned', 'raw.climate', 'silver.trips') ORDER BY name"; then
  pb=$(find "$L/partitioned" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
  cb=$(( $(stat -c %s "$L/raw/climate/a.csv") + $(stat -c %s "$L/raw/climate/b.csv") ))
  qk_eq "SHOW ALL TABLES: kind, format, files, bytes, partitions" "$(tr '\n' '|' <"$QK_TMP/out")" \
    "name,kind,format,files,bytes,partitions,partition_columns|partitioned,hive,parquet,30,$pb,30,\"[\"\"date\"\"]\"|raw.climate,folder,csv,2,$cb,0,[]|silver.trips,delta,delta,1,$(stat -c %s "$L/silver/trips/part-0.parquet"),0,[]|"
else
  qk_not_ok "SHOW ALL TABLES" "$(head -c 300 "$QK_TMP/err")"
fi
E=$QK_TMP/empty && mkdir -p "$E"
q "$E" "SHOW TABLES" && qk_eq "SHOW TABLES on an empty lake" "$(cat "$QK_TMP/out")" "name" ||
  qk_not_ok "SHOW TABLES on an empty lake" "$(head -c 300 "$QK_TMP/err")"

# ---- errors
fails "unknown table: DuckDB's catalog error" "SELECT * FROM nosuch" "Table with name nosuch does not exist"
fails "mixed formats are refused" "SELECT * FROM mixed" "mixes data formats"
fails "a Delta table whose log has no protocol: a clear error naming it" "SELECT * FROM silver.trips" "silver.trips: no protocol action in the log up to version 0"
fails "ambiguous name" "SELECT * FROM amb.t" "ambiguous table name"
fails "AT clause on a Parquet table" "SELECT * FROM partitioned AT (VERSION => 1)" "need a Delta table"
fails "a zone is not a table" "SELECT * FROM raw" "does not exist"
fails "no escape from the lake" "SELECT * FROM \"..\".etc" "does not exist"
fails "hidden folders are not tables" "SELECT * FROM _quack.x" "does not exist"
same "DuckDB's own catalog wins" "SELECT count(*) > 0 FROM duckdb_settings()" "SELECT true AS \"(count_star() > 0)\""

# ---- the server resolves names too (same path as the CLI)
QK_LAKE=$L
qk_start_server || qk_not_ok "quack serve starts"
URL=$QK_URL
code=$(curl -s -o "$QK_BODY" -w '%{http_code}' -X POST "$URL/invoke" \
  -d '{"q":"SELECT count(*) AS n FROM partitioned WHERE date = DATE '"'"'2019-04-02'"'"'"}')
want=$("$Q" query --lake "$L" -F csv "SELECT count(*) FROM $PART WHERE date = DATE '2019-04-02'" | tail -1 | tr -d '\r')
qk_eq "/invoke with a table name" "$code $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["records"][0]["n"])' "$QK_BODY" 2>/dev/null)" "200 $want"
code=$(curl -s -o "$QK_BODY" -w '%{http_code}' -X POST "$URL/query" -d '{"sql":"SHOW TABLES","format":"csv"}')
qk_eq "/query SHOW TABLES" "$code $(grep -c . "$QK_BODY")" "200 9"
qk_stop_server >/dev/null

# ---- the same lake on S3
qk_rgw_up "$STATE"
qk_s3_env
B=qk-tables-$$
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }
"$Q" lake put "$L" "s3://$B/lake" --quiet >/dev/null 2>"$QK_TMP/err" ||
  qk_not_ok "upload the lake" "$(head -c 300 "$QK_TMP/err")"
S=s3://$B/lake
q "$L" "SHOW TABLES" && cp "$QK_TMP/out" "$QK_TMP/local-tables"
q "$S" "SHOW TABLES" && qk_check "S3 lake: SHOW TABLES == local" cmp -s "$QK_TMP/out" "$QK_TMP/local-tables" ||
  qk_not_ok "S3 lake: SHOW TABLES" "$(head -c 300 "$QK_TMP/err")"
export XDG_CACHE_HOME=$QK_TMP/xdg-s3
same "S3 lake: hive table with a partition filter" \
  "SELECT date, count(*) AS n, sum(total_amount) AS t FROM partitioned WHERE date BETWEEN '2019-04-03' AND '2019-04-06' GROUP BY date ORDER BY date" \
  "SELECT date, count(*) AS n, sum(total_amount) AS t FROM $PART WHERE date BETWEEN '2019-04-03' AND '2019-04-06' GROUP BY date ORDER BY date" "$S"
n=$(find "$XDG_CACHE_HOME/quack/objects" -type f -name '*.parquet' 2>/dev/null | wc -l)
qk_eq "S3 lake: the 4-day filter fetched 4 of 30 partitions" "$n" 4
same "S3 lake: CSV folder" "SELECT * FROM raw.climate ORDER BY city" "SELECT * FROM $CLIM ORDER BY city" "$S"
same "S3 lake: file table by short name" "SELECT * FROM taxi_2019_04 ORDER BY ALL" "SELECT * FROM $FILE ORDER BY ALL" "$S"
same "S3 lake: DESCRIBE" "DESCRIBE partitioned" "DESCRIBE SELECT * FROM $PART" "$S"
"$Q" query --lake "$S" -F csv >"$QK_TMP/out" 2>"$QK_TMP/err"
qk_eq "S3 lake: the seed's default query" "$(tail -1 "$QK_TMP/out" | tr -d '\r')" 20000
fails "S3 lake: unknown table" "SELECT * FROM nosuch" "does not exist" "$S"

# ---- requests at the wire (faultproxy without faults counts them): a named table is listed
# once, by its lookup; the path resolution reuses that listing (no second LIST, no HEADs)
qk_fp_start fpc || qk_not_ok "faultproxy starts" "$(head -c 300 "$QK_TMP/fpc.log")"
counts() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["list"], j["head"], j["get"])' "$QK_TMP/fpc.stats"; }
# delta COUNTS_BEFORE: "LIST HEAD GET" made since
delta() { local b=($1) a=($(counts)); echo "$((a[0] - b[0])) $((a[1] - b[1])) $((a[2] - b[2]))"; }
PX=$QK_FP_URL
export XDG_CACHE_HOME=$QK_TMP/xdg-count
wq() { AWS_ENDPOINT_URL=$PX "$Q" query --lake "$S" -F csv "$1" >"$QK_TMP/out" 2>"$QK_TMP/err"; }
c0=$(counts)
wq "SELECT count(*) FROM partitioned WHERE date BETWEEN '2019-04-03' AND '2019-04-06'"
qk_eq "named hive table, cold: 1 LIST, 0 HEAD, 4 GET" "$(delta "$c0")" "1 0 4"
c0=$(counts)
wq "SELECT count(*) FROM partitioned WHERE date BETWEEN '2019-04-03' AND '2019-04-06'"
qk_eq "the same, warm: 1 LIST, nothing else" "$(delta "$c0")" "1 0 0"
c0=$(counts)
wq "SELECT count(*) FROM dataset.taxi_2019_04"
qk_eq "named file table, cold: 1 LIST, 0 HEAD, 1 GET" "$(delta "$c0")" "1 0 1"
c0=$(counts)
wq "SELECT count(*) FROM read_parquet('$S/dataset/taxi_2019_04.parquet')"
qk_eq "the same file by path, warm: 1 HEAD (ETag check), no LIST, no GET" "$(delta "$c0")" "0 1 0"
# A Delta table: the lookup's LIST (its data files) and the log's LIST; the lookup's listing
# also proves the data files are there (no third LIST); GETs: 5 commits + the 5 active files.
"$Q" lake put "$QUACK_SRC/tests/fixtures/delta-rs/simple_table" "$S/deltas/simple" --quiet >/dev/null 2>&1 ||
  qk_not_ok "upload a Delta table"
c0=$(counts)
wq "SELECT count(*) FROM deltas.simple"
qk_eq "named Delta table, cold: 2 LIST, 0 HEAD, 5 + 5 GET" "$(delta "$c0") $(tail -1 "$QK_TMP/out" | tr -d '\r')" "2 0 10 3"
qk_fp_stop

# ---- --timeout holds while objects are being fetched: every response through the proxy is
# held 1.5 s, the query has 1 s; it fails with the timeout (not a result, not a hang) and
# leaves no partial file in the cache.
qk_fp_start slow --delay-ms 1500 --delay-rate 1 || qk_not_ok "faultproxy starts"
export XDG_CACHE_HOME=$QK_TMP/xdg-slow
t0=$(date +%s%N)
AWS_ENDPOINT_URL=$QK_FP_URL "$Q" query --lake "$S" --timeout 1 \
  "SELECT count(*) FROM partitioned" >"$QK_TMP/out" 2>"$QK_TMP/err"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $rc = 1 ] && grep -q "exceeded the timeout of 1000 ms" "$QK_TMP/err"; then
  qk_ok "timeout while fetching from S3 (${ms} ms)"
else
  qk_not_ok "timeout while fetching from S3" "exit $rc after ${ms} ms: $(head -c 300 "$QK_TMP/err")"
fi
partial=$(find "$XDG_CACHE_HOME" -type f \( -name '*.tmp*' -o -name '.*' \) 2>/dev/null | wc -l)
qk_eq "no partial files in the cache after the timeout" "$partial" 0
qk_fp_stop
fails "S3 lake: bad root" "SELECT 1" "want s3://bucket" "s3:///x"
qk_done
