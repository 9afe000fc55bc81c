#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_delta_write.sh: writing Delta tables on a local lake (docs/tables.md):
#   - quack table load from CSV (CRLF, quoted fields with commas and newlines, headers) and from
#     a query; create / append / overwrite; partitions; answers compared with plain DuckDB
#     (duckq) over the CSV files and over the Parquet files the log lists (replayed here in
#     python, independently of quack's reader)
#   - refusals: create over a table, an append whose columns differ (each column named), both
#     or neither of --from/--query; nothing is written by a refused load
#   - txn: a second load with the same --app-id/--txn-version writes nothing
#   - history, info, vacuum (dry run, --force, --delete; old versions then fail clearly)
#   - crashes: QUACK_TEST_CRASH at each point, and kill -9 at random moments: the table reads
#     at its last committed version; orphans are only visible to vacuum
#   - two processes appending 100 times each: 200 commits, contiguous, no lost or doubled rows
#   - lineage: load and CREATE TABLE AS record parents from the query; quack lineage; HTTP
#   - bad logs: a corrupt commit line, a version gap, minReaderVersion 99, a truncated checkpoint
#   - HTTP: GET /tables, /tables/NAME, /tables/NAME/history, POST /tables/NAME/load, /lineage
. "$(dirname "$0")/lib.sh"
qk_init
L=$QK_TMP/lake
mkdir -p "$L/raw/climate" "$QK_TMP/csv"
QK_LAKE=$L

# ---- CSV files: CRLF, quoted fields holding commas, quotes and a newline, a header
printf 'city,day,temp,note\r\n"Oslo, NO",2024-01-01,-3.5,"cold ""very"""\r\nLima,2024-01-01,22.25,\r\n' \
  >"$L/raw/climate/a.csv"
printf 'city,day,temp,note\r\nLima,2024-01-02,23.0,"two\r\nlines"\r\nCairo,2024-01-02,19.5,ok\r\n' \
  >"$L/raw/climate/b.csv"
cp "$L/raw/climate/"*.csv "$QK_TMP/csv/"

t() { "$QUACK_BIN" table "$@" --lake "$L"; }
q() { "$QUACK_BIN" query --lake "$L" -F csv -l 1000000 -q "$1" 2>"$QK_TMP/qerr" | tr -d '\r'; }
dq() { "$QK_DUCKQ" --threads 2 "$1" 2>"$QK_TMP/dqerr" | tr -d '\r'; }
sorted() { tail -n +2 | sort; }
version_of() { t info "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }

# ---- load from a CSV folder inside the lake (sniffed), compared with DuckDB over the files
out=$(t load silver.climate --from raw/climate --quiet 2>&1)
qk_eq "load CSV: exit 0" "$?" 0
qk_check "load CSV: summary names rows, files and version" grep -q "4 rows in 1 files.*version 0 (created)" <<<"$out"
want=$(dq "SELECT * FROM read_csv(['$L/raw/climate/a.csv', '$L/raw/climate/b.csv'], union_by_name = true)" | sorted)
got=$(q "SELECT * FROM silver.climate" | sorted)
qk_eq "CSV rows (CRLF, quotes, embedded newline) equal DuckDB's read_csv" "$got" "$want"
got=$(dq "SELECT * FROM read_parquet($(qk_delta_files "$L/silver/climate"))" | sorted)
qk_eq "the Parquet files the log lists hold the same rows (plain DuckDB)" "$got" "$want"
qk_eq "types sniffed: temp DOUBLE, day DATE" \
  "$(q "SELECT typeof(temp) || ' ' || typeof(day) FROM silver.climate LIMIT 1" | tail -1)" "DOUBLE DATE"
qk_eq "=(^)name reads the new table" "$(q "SELECT count(*) FROM =(^)silver.climate" | tail -1)" 4

# ---- a local directory outside the lake, append
t load silver.climate --from "$QK_TMP/csv" --mode append --quiet >/dev/null
qk_eq "append from a local directory: exit 0" "$?" 0
qk_eq "append: 8 rows" "$(q "SELECT count(*) FROM silver.climate" | tail -1)" 8
qk_eq "append: version 1" "$(version_of silver.climate)" 1
qk_eq "AT (VERSION => 0) still has 4 rows" \
  "$(q "SELECT count(*) FROM silver.climate AT (VERSION => 0)" | tail -1)" 4

# ---- --csv-options; a progress line on a terminal (script(1) gives the load a tty), none without
printf 'a;b\n1;x\n2;y\n' >"$QK_TMP/semi.csv"
out=$(script -qec "'$QUACK_BIN' table load silver.semi --from '$QK_TMP/semi.csv' --csv-options \"delim = ';'\" --lake '$L'" /dev/null)
qk_check "a terminal gets progress lines (stage counts)" grep -q "quack table load: writing 2/2" <<<"$out"
qk_eq "--csv-options delim = ';' splits the columns" "$(q "SELECT a || b FROM silver.semi ORDER BY a" | tail -n +2 | tr '\n' ' ')" "1x 2y "
out=$(t load silver.semi2 --from "$QK_TMP/semi.csv" --csv-options "delim = ';'" 2>&1 >/dev/null)
qk_eq "no terminal: no progress on stderr" "$out" ""

# ---- refusals; nothing written
before=$(find "$L/silver" -type f | sort | md5sum)
err=$(t load silver.climate --from raw/climate --quiet 2>&1)
qk_eq "create over an existing table: exit 1" "$?" 1
qk_check "create over an existing table: says it exists" grep -qi "exist" <<<"$err"
printf 'city,rain\nOslo,1\n' >"$QK_TMP/other.csv"
err=$(t load silver.climate --from "$QK_TMP/other.csv" --mode append --quiet 2>&1)
qk_eq "append with other columns: exit 1" "$?" 1
qk_check "append mismatch names column rain" grep -q "rain" <<<"$err"
qk_check "append mismatch names a missing column (day, temp or note)" grep -Eq "day|temp|note" <<<"$err"
after=$(find "$L/silver" -type f | sort | md5sum)
qk_eq "refused loads wrote nothing" "$after" "$before"
t load x.y --quiet >/dev/null 2>&1
qk_eq "neither --from nor --query: exit 2" "$?" 2
t load x.y --from a --query 'SELECT 1' >/dev/null 2>&1
qk_eq "both --from and --query: exit 2" "$?" 2
t load x.y --query 'SELECT 1' --mode upsert >/dev/null 2>&1
qk_eq "bad --mode: exit 2" "$?" 2
t load _x --query 'SELECT 1 AS a' --quiet >/dev/null 2>&1
qk_eq "a table name starting with _: exit 1" "$?" 1
t load raw.climate --query 'SELECT 1 AS a' --mode overwrite --quiet >/dev/null 2>&1
qk_eq "loading into a CSV folder table is refused" "$?" 1
t load x.y --from "$QK_TMP/nothing-here" --quiet >/dev/null 2>&1
qk_eq "--from a missing path: exit 1" "$?" 1

# ---- overwrite from a query, partitioned; differential against DuckDB
t load gold.by_city --query "SELECT city, count(*) AS n, avg(temp) AS t FROM silver.climate GROUP BY city" \
  --partition-by city --quiet >/dev/null
qk_eq "query load, partitioned: exit 0" "$?" 0
want=$(dq "SELECT city, count(*) AS n, avg(temp) AS t FROM read_csv(['$L/raw/climate/a.csv', '$L/raw/climate/b.csv', '$QK_TMP/csv/a.csv', '$QK_TMP/csv/b.csv'], union_by_name = true) GROUP BY city" | sorted)
qk_eq "partitioned table equals DuckDB's answer" "$(q "SELECT city, n, t FROM gold.by_city" | sorted)" "$want"
qk_eq "info: 3 partitions" "$(t info gold.by_city --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitions"])')" 3
qk_check "partition folders: city=Oslo%2C NO (escaped) or similar" test "$(find "$L/gold/by_city" -mindepth 1 -maxdepth 1 -type d -name 'city=*' | wc -l)" -eq 3
t load gold.by_city --query "SELECT 'x' AS city, 1 AS n, 2.0 AS t" --mode overwrite --quiet >/dev/null
qk_eq "overwrite: one row" "$(q "SELECT count(*) FROM gold.by_city" | tail -1)" 1
qk_eq "overwrite: version 0 still reads (time travel)" \
  "$(q "SELECT count(*) FROM gold.by_city AT (VERSION => 0)" | tail -1)" 3

# ---- txn: idempotent loads
t load silver.events --query "SELECT 1 AS id" --mode append --app-id etl --txn-version 7 --quiet >/dev/null
out=$(t load silver.events --query "SELECT 1 AS id" --mode append --app-id etl --txn-version 7 2>&1)
qk_check "same app id and txn version: nothing written" grep -q "nothing written" <<<"$out"
t load silver.events --query "SELECT 2 AS id" --mode append --app-id etl --txn-version 8 --quiet >/dev/null
qk_eq "txn: 2 rows after versions 7, 7 (skipped), 8" "$(q "SELECT count(*) FROM silver.events" | tail -1)" 2

# ---- history and info
h=$(t history silver.climate --json)
qk_eq "history: 2 commits" "$(wc -l <<<"$h")" 2
qk_eq "history: newest first, rows added 4" \
  "$(head -1 <<<"$h" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["version"], j["rows_added"], j["files_added"])')" "1 4 1"
qk_check "history table has a header" grep -q "VERSION" <(t history silver.climate)
info=$(t info gold.by_city --json)
qk_eq "info: version, files, partition columns" \
  "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["version"], j["files"], j["partition_columns"])' "$info")" "1 1 ['city']"
t info no.such >/dev/null 2>&1
qk_eq "info of a missing table: exit 1" "$?" 1

# ---- vacuum
t vacuum gold.by_city --retain 0 >/dev/null 2>&1
qk_eq "vacuum --retain 0 without --force: exit 2" "$?" 2
out=$(t vacuum gold.by_city --retain 0 --force --json)
qk_eq "vacuum dry run lists the 3 overwritten files" \
  "$(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(len(j["files"]), j["deleted"], j["dry_run"])' "$out")" "3 0 True"
qk_eq "dry run deleted nothing: version 0 reads" "$(q "SELECT count(*) FROM gold.by_city AT (VERSION => 0)" | tail -1)" 3
out=$(t vacuum gold.by_city --retain 0 --force --delete --json)
qk_eq "vacuum --delete deletes 3" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["deleted"])' "$out")" 3
qk_eq "latest still reads" "$(q "SELECT count(*) FROM gold.by_city" | tail -1)" 1
q "SELECT count(*) FROM gold.by_city AT (VERSION => 0)" >/dev/null
qk_check "a vacuumed version is a clear error" grep -qi "vacuum\|missing\|not found\|no such" "$QK_TMP/qerr"

# ---- crashes at each point of a write
for point in before-data after-data before-commit after-commit; do
  v0=$(version_of silver.events)
  n0=$(q "SELECT count(*) FROM silver.events" | tail -1)
  QUACK_TEST_CRASH=$point t load silver.events --query "SELECT 100 AS id" --mode append --quiet >/dev/null 2>&1
  rc=$?
  qk_eq "crash $point: killed (137)" "$rc" 137
  v1=$(version_of silver.events)
  n1=$(q "SELECT count(*) FROM silver.events" | tail -1)
  if [ "$point" = after-commit ]; then
    qk_eq "crash $point: the commit stands" "$v1 $n1" "$((v0 + 1)) $((n0 + 1))"
  else
    qk_eq "crash $point: the table reads at its last version" "$v1 $n1" "$v0 $n0"
  fi
done
out=$(t vacuum silver.events --retain 0 --force --json)
orphans=$(python3 -c 'import json,sys; print(sum(1 for f in json.loads(sys.argv[1])["files"] if not f["tracked"]))' "$out")
qk_eq "orphans of the crashed writers are visible to vacuum only (after-data, before-commit)" "$orphans" 2

# ---- kill -9 at random moments during a loop of appends
t load silver.kill --query "SELECT 0 AS batch, 0 AS i" --quiet >/dev/null
for round in 1 2 3 4 5; do
  ( for b in $(seq 1 50); do
      t load silver.kill --query "SELECT $round * 1000 + $b AS batch, range AS i FROM range(10)" \
        --mode append --quiet >/dev/null 2>&1 || exit 0
    done ) &
  bg=$!
  sleep "0.$((RANDOM % 9 + 1))"
  pkill -KILL -P "$bg" 2>/dev/null
  kill -KILL "$bg" 2>/dev/null
  wait "$bg" 2>/dev/null
done
rows=$(q "SELECT count(*) FROM silver.kill" | tail -1)
hist=$(t history silver.kill --json | python3 -c 'import json,sys; print(sum(json.loads(l)["rows_added"] or 0 for l in sys.stdin))')
qk_eq "after 5 random kills: rows = the sum of committed rows (history)" "$rows" "$hist"
qk_eq "every committed batch is whole (10 rows each)" \
  "$(q "SELECT count(*) FROM (SELECT batch FROM silver.kill WHERE batch > 0 GROUP BY batch HAVING count(*) <> 10)" | tail -1)" 0
versions=$(t history silver.kill --json | python3 -c 'import json,sys; v=[json.loads(l)["version"] for l in sys.stdin]; print(sorted(v) == list(range(len(v))))')
qk_eq "versions are contiguous after the kills" "$versions" True

# ---- two processes appending 100 times each
t load silver.conc --query "SELECT 'init' AS who, 0 AS k" --quiet >/dev/null
for who in a b; do
  ( for k in $(seq 1 100); do
      t load silver.conc --query "SELECT '$who' AS who, $k AS k" --mode append --quiet >/dev/null 2>>"$QK_TMP/conc.err"
    done ) &
done
wait
qk_eq "concurrent appends: 200 rows, 200 distinct appends" \
  "$(q "SELECT count(*), count(DISTINCT who || k) FROM silver.conc WHERE who <> 'init'" | tail -1)" "200,200"
qk_eq "concurrent appends: versions 0..200" "$(version_of silver.conc)" 200
versions=$(t history silver.conc --json | python3 -c 'import json,sys; v=[json.loads(l)["version"] for l in sys.stdin]; print(sorted(v) == list(range(201)))')
qk_eq "concurrent appends: contiguous versions" "$versions" True
qk_check "a checkpoint was written (every 10 commits)" test -f "$L/silver/conc/_delta_log/00000000000000000200.checkpoint.parquet"
qk_check "_last_checkpoint names version 200" grep -q '"version":200' "$L/silver/conc/_delta_log/_last_checkpoint"
qk_eq "no writer failed" "$(wc -c <"$QK_TMP/conc.err" 2>/dev/null || echo 0)" 0

# ---- lineage
out=$(q "CREATE TABLE s AS SELECT city FROM silver.climate")
"$QUACK_BIN" lineage --lake "$L" --json >"$QK_TMP/lin.json"
qk_eq "lineage: silver.climate's parent is raw.climate" \
  "$(qk_json "$QK_TMP/lin.json" '[t["parents"] for t in j["tables"] if t["name"] == "silver.climate"][0]')" '["raw.climate"]'
qk_eq "lineage: gold.by_city's parent is silver.climate (from the query's AST)" \
  "$(qk_json "$QK_TMP/lin.json" '[t["parents"] for t in j["tables"] if t["name"] == "gold.by_city"][0]')" '["silver.climate"]'
qk_eq "lineage: CREATE TABLE AS recorded a session table" \
  "$(qk_json "$QK_TMP/lin.json" '[t["kind"] + " " + ",".join(t["parents"]) for t in j["tables"] if t["name"] == "s"][0]')" "session silver.climate"
qk_eq "lineage: raw.climate's children" \
  "$(qk_json "$QK_TMP/lin.json" '[t["children"] for t in j["tables"] if t["name"] == "raw.climate"][0]')" '["silver.climate"]'
tree=$("$QUACK_BIN" lineage gold.by_city --lake "$L")
qk_check "quack lineage NAME prints the ancestors as a tree" grep -q "└── silver.climate" <<<"$tree"
qk_check "... down to raw.climate" grep -q "raw.climate" <<<"$tree"
"$QUACK_BIN" lineage nope.nope --lake "$L" >/dev/null 2>&1
qk_eq "lineage of an unknown table: exit 1" "$?" 1
qk_eq "the lineage log is hidden from SHOW TABLES" "$(q "SHOW TABLES" | grep -c lineage)" 0

# ---- bad logs: the load fails clearly and writes nothing
bad() {
  local name=$1 setup=$2 want=$3 before after
  rm -rf "$L/bad"
  mkdir -p "$L/bad"
  t load bad.t --query "SELECT range AS x FROM range(3)" --quiet >/dev/null
  t load bad.t --query "SELECT 3 AS x" --mode append --quiet >/dev/null
  eval "$setup"
  before=$(find "$L/bad" -type f | sort | md5sum)
  err=$(t load bad.t --query "SELECT 4 AS x" --mode append --quiet 2>&1)
  local rc=$?
  after=$(find "$L/bad" -type f | sort | md5sum)
  qk_eq "$name: refused" "$rc" 1
  qk_check "$name: says $want" grep -qi "$want" <<<"$err"
  qk_eq "$name: nothing written" "$after" "$before"
}
LOG=$L/bad/t/_delta_log
bad "corrupt commit line" "echo '{not json' >>$LOG/00000000000000000001.json" "00000000000000000001.json"
bad "version gap" "mv $LOG/00000000000000000001.json $LOG/00000000000000000002.json" "missing\|gap"
bad "minReaderVersion 99" "sed -i 's/\"minReaderVersion\":1/\"minReaderVersion\":99/' $LOG/00000000000000000000.json" "reader version\|99"
bad "truncated checkpoint" "$QUACK_BIN query --lake $L -q \"SELECT 1\" >/dev/null; \
  cp $L/silver/conc/_delta_log/00000000000000000010.checkpoint.parquet $LOG/00000000000000000001.checkpoint.parquet; \
  truncate -s 100 $LOG/00000000000000000001.checkpoint.parquet" "checkpoint"

# ---- HTTP
qk_start_server
qk_eq "GET /tables: 200" "$(qk_get /tables)" 200
qk_check "GET /tables lists silver.climate as delta" \
  test "$(qk_json "$QK_BODY" '[t["kind"] for t in j["tables"] if t["name"] == "silver.climate"][0]')" = delta
qk_eq "GET /tables/silver.climate: 200" "$(qk_get /tables/silver.climate)" 200
qk_eq "GET /tables/NAME: Delta version and rows" "$(qk_json "$QK_BODY" '[j["delta"]["version"], j["delta"]["rows"]]')" "[1, 8]"
qk_eq "GET /tables/NAME/history: 200" "$(qk_get '/tables/silver.climate/history?limit=1')" 200
qk_eq "history?limit=1: one commit, version 1" "$(qk_json "$QK_BODY" '[len(j["history"]), j["history"][0]["version"]]')" "[1, 1]"
qk_eq "POST load from a lake path: 201" \
  "$(qk_post /tables/silver.http/load '{"from": "raw/climate", "mode": "create"}')" 201
qk_eq "POST load: rows and version" "$(qk_json "$QK_BODY" '[j["rows"], j["version"]]')" "[4, 0]"
qk_eq "POST load a query, append: 200" \
  "$(qk_post /tables/silver.http/load '{"query": "SELECT * FROM silver.climate", "mode": "append"}')" 200
qk_eq "GET /lineage?table=silver.http" "$(qk_get '/lineage?table=silver.http')" 200
qk_eq "lineage over HTTP has silver.http's parents" \
  "$(qk_json "$QK_BODY" 'sorted([t["parents"] for t in j["tables"] if t["name"] == "silver.http"][0])')" '["raw.climate", "silver.climate"]'
for c in \
  "absolute from|/tables/a.b/load|{\"from\": \"/etc\"}|400|BadRequest" \
  "dotdot from|/tables/a.b/load|{\"from\": \"raw/../../x\"}|400|BadRequest" \
  "malformed JSON|/tables/a.b/load|{\"from\"|400|BadRequest" \
  "unknown field|/tables/a.b/load|{\"from\": \"raw/climate\", \"x\": 1}|400|BadRequest" \
  "bad mode|/tables/a.b/load|{\"from\": \"raw/climate\", \"mode\": \"merge\"}|400|BadRequest" \
  "both from and query|/tables/a.b/load|{\"from\": \"raw/climate\", \"query\": \"SELECT 1\"}|400|BadRequest" \
  "create over existing|/tables/silver.http/load|{\"query\": \"SELECT 1 AS a\"}|409|AlreadyExists" \
  "bad partition_by|/tables/a.b/load|{\"query\": \"SELECT 1 AS a\", \"partition_by\": [1]}|400|BadRequest" \
  "not an object|/tables/a.b/load|[1]|400|BadRequest"; do
  IFS='|' read -r name path body status etype <<<"$c"
  got=$(qk_post "$path" "$body")
  qk_eq "POST load, $name: $status" "$got" "$status"
  qk_eq "POST load, $name: $etype" "$(qk_json "$QK_BODY" 'j["errorType"]' 2>&1)" "$etype"
done
qk_eq "GET /tables/no.such: 404" "$(qk_get /tables/no.such)" 404
qk_eq "GET /tables/NAME/load: 405" "$(qk_get /tables/silver.http/load)" 405
qk_eq "POST /tables: 405" "$(qk_post /tables '{}')" 405
qk_eq "history of a CSV table: 400" "$(qk_get /tables/raw.climate/history)" 400
qk_eq "history?limit=abc: 400" "$(qk_get '/tables/silver.climate/history?limit=abc')" 400
qk_stop_server
qk_done
