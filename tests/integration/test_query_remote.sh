#!/usr/bin/env bash
# test_query_remote.sh: `quack query --endpoint` against a real `quack serve` prints the same
# bytes as the embedded engine for json, ndjson and csv (the seed queries and a mix of types);
# table output carries the server's metadata (warm after the first query); server-side errors
# come back as exit 1 with DuckDB's message; a bad token is refused.
. "$(dirname "$0")/lib.sh"
qk_init
PQ="$QK_LAKE/dataset/taxi_2019_04.parquet"
qk_start_server --token s3cret || exit 1
export QUACK_TOKEN=s3cret

queries=(
  "SELECT COUNT(*) AS COUNTS FROM read_parquet(['$PQ'])"
  "SELECT pickup_location_id AS location_id, COUNT(*) AS counts FROM read_parquet(['$PQ']) WHERE pickup_at >= '2019-04-01' AND pickup_at < '2019-04-03' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
  "SELECT date, count(*) AS n, round(avg(total_amount), 4) AS avg_total FROM read_parquet('$QK_LAKE/partitioned/*/*.parquet', hive_partitioning=1) WHERE date BETWEEN '2019-04-01' AND '2019-04-10' GROUP BY 1 ORDER BY 1"
  "SELECT 1.25::DECIMAL(10,2) AS d, 170141183460469231731687303715884105727::HUGEINT AS h, 'a,\"b' AS s, [1,NULL] AS l, {'k': 'v'} AS st, NULL AS n, DATE '2019-04-01' AS dt, INTERVAL 90 MINUTE AS iv, 0.1::DOUBLE AS dbl"
  "SELECT * FROM read_parquet(['$PQ']) ORDER BY pickup_at, dropoff_at, pickup_location_id, dropoff_location_id, total_amount LIMIT 50"
)
i=0
for q in "${queries[@]}"; do
  i=$((i + 1))
  for f in json ndjson csv; do
    "$QUACK_BIN" query --lake "$QK_LAKE" -F "$f" -l 30 -q "$q" >"$QK_TMP/emb" 2>"$QK_TMP/err1"
    "$QUACK_BIN" query --endpoint "$QK_URL" -F "$f" -l 30 -q "$q" >"$QK_TMP/rem" 2>"$QK_TMP/err2"
    if [ -s "$QK_TMP/emb" ] && cmp -s "$QK_TMP/emb" "$QK_TMP/rem"; then qk_ok "query $i $f: embedded == remote ($(wc -c <"$QK_TMP/emb") bytes)"
    else qk_not_ok "query $i $f" "embedded and remote differ: $(head -c 200 "$QK_TMP/err1" "$QK_TMP/err2")"; fi
  done
done

"$QUACK_BIN" query --endpoint "$QK_URL" -q "SELECT 42 AS answer" >"$QK_TMP/t1"
"$QUACK_BIN" query --endpoint "$QK_URL" -l 5 -q "SELECT * FROM range(100)" >"$QK_TMP/t2"
qk_check "remote table: warm server, metadata box" grep -q "│ *[0-9.]* │ *[0-9.]* │ true │ *1 │ *false │" "$QK_TMP/t1"
qk_check "remote table: limit 5 of 100 is truncated" grep -q "│ *5 │ *true │" "$QK_TMP/t2"
qk_check "remote table: int64 column" grep -q "int64" "$QK_TMP/t2"

"$QUACK_BIN" query --endpoint "$QK_URL" -q "SELEC 1" >/dev/null 2>"$QK_TMP/err"
qk_eq "remote SQL error exits 1" "$?" 1
qk_check "remote SQL error shows DuckDB's message" grep -q "Parser Error" "$QK_TMP/err"
QUACK_TOKEN=wrong "$QUACK_BIN" query --endpoint "$QK_URL" -q "SELECT 1" >/dev/null 2>"$QK_TMP/err"
qk_eq "wrong token exits 1" "$?" 1
qk_check "wrong token explained" grep -qi "token\|unauthori" "$QK_TMP/err"
qk_stop_server
qk_eq "server stops cleanly" "$?" 0
qk_done
