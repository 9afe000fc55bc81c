#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_delta_s3_write.sh: writing Delta tables on an S3 lake (s3://BUCKET/lake on a real Ceph RGW
# from tests/s3/rgw.sh); the S3 twin of test_delta_write.sh (docs/tables.md "Writing Delta
# tables"):
#   - quack table load from a CSV folder in the bucket (CRLF, quoted fields with commas, quotes
#     and a newline, files whose columns are in another order) by lake path and by s3:// glob,
#     and from a --query (lake names, an s3:// path); read back with quack query and compared
#     with plain DuckDB (duckq) over the local copies of the CSV files, and over the Parquet
#     files the log lists (log and files fetched with s3check, replayed here in python)
#   - a partitioned table with a NULL partition value; time travel after append and overwrite
#   - two processes appending 100 times each to one table: 200 rows, versions 0..200, a
#     checkpoint at 200 and _last_checkpoint naming it, no writer error (time bounded)
#   - QUACK_TEST_CRASH=after-data: the table reads at its last version; vacuum sees the orphan
#     (tracked false) and --delete removes it
#   - history, info, lineage over S3
#   - a data file deleted behind the log's back: a clear error naming it, no partial answer
# Prints "N passed, N failed". "SKIP: ..." and exit 0 only when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test s3dw quack s3check duckq
C="$QUACK_BUILD/s3check"
D="$QUACK_BUILD/duckq"
T0=$(date +%s)

qk_rgw_up "$STATE"
qk_s3_env

B=qk-deltaw-$$
S="s3://$B/lake"
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }

t() { "$QUACK_BIN" table "$@" --lake "$S"; }
q() { "$QUACK_BIN" query --lake "$S" -F csv -l 1000000 -q "$1" 2>"$QK_TMP/qerr" | tr -d '\r'; }
dq() { "$D" --threads 2 "$1" 2>"$QK_TMP/dqerr" | tr -d '\r'; }
sorted() { tail -n +2 | sort; }
one() { q "$1" | tail -1; } # the single value of a one-row, one-column answer
jf() { python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
version_of() { jf "$(t info "$1" --json)" 'j["version"]'; }
LOADS=0 # loads that committed (each writes one lineage record)

# ---- CSV files: CRLF, quoted fields holding commas, quotes and a newline, a header; c.csv has
# its columns in another order and an empty city (NULL: a NULL partition below)
mkdir -p "$QK_TMP/csv"
printf 'city,day,temp,note\r\n"Oslo, NO",2024-01-01,-3.5,"cold ""very"""\r\nLima,2024-01-01,22.25,\r\n' \
  >"$QK_TMP/csv/a.csv"
printf 'city,day,temp,note\r\nLima,2024-01-02,23.0,"two\r\nlines"\r\nCairo,2024-01-02,19.5,ok\r\n' \
  >"$QK_TMP/csv/b.csv"
printf 'temp,city,note,day\r\n-1.25,,"no city, ""null"" partition",2024-01-03\r\n4.5,Cairo,,2024-01-03\r\n' \
  >"$QK_TMP/csv/c.csv"
up_ok=1
for f in a b c; do
  "$C" put "s3://$B" "lake/raw/climate/$f.csv" "$QK_TMP/csv/$f.csv" >/dev/null 2>"$QK_TMP/err" ||
    { up_ok=0; cat "$QK_TMP/err" >&2; }
done
qk_eq "upload 3 CSV files to $S/raw/climate" "$up_ok" 1
LOCAL_CSV="['$QK_TMP/csv/a.csv', '$QK_TMP/csv/b.csv', '$QK_TMP/csv/c.csv']"
want=$(dq "SELECT * FROM read_csv($LOCAL_CSV, union_by_name = true)" | sorted)
qk_check "DuckDB reads the local copies (6 rows)" test "$(wc -l <<<"$want")" -eq 7 # 6 + the newline

# ---- load from the CSV folder in the bucket (a lake path), compared with DuckDB
out=$(t load silver.climate --from raw/climate --quiet 2>&1)
qk_eq "load CSV folder from the bucket: exit 0" "$?" 0
LOADS=$((LOADS + 1))
qk_check "load CSV: summary names rows, files and version ($out)" \
  grep -q "6 rows in 1 files.*version 0 (created)" <<<"$out"
got=$(q "SELECT * FROM silver.climate" | sorted)
qk_eq "CSV rows (CRLF, quotes, embedded newline, column order) equal DuckDB's read_csv" "$got" "$want"
qk_eq "types sniffed: temp DOUBLE, day DATE" \
  "$(one "SELECT typeof(temp) || ' ' || typeof(day) FROM silver.climate LIMIT 1")" "DOUBLE DATE"
qk_eq "QUACK_LAKE=s3://... works like --lake" \
  "$(QUACK_LAKE=$S "$QUACK_BIN" query -F csv -q "SELECT count(*) FROM =(^)silver.climate" 2>&1 | tail -1 | tr -d '\r')" 6

# The table's objects fetched with s3check, for qk_delta_files (lib.sh).
fetch_table() { # fetch_table TABLE_PATH DEST
  local k ok=0
  rm -rf "$2"
  while IFS= read -r k; do
    mkdir -p "$2/$(dirname "${k#lake/"$1"/}")"
    "$C" get "s3://$B" "$k" "$2/${k#lake/"$1"/}" >/dev/null 2>>"$QK_TMP/fetch.err" || ok=1
  done < <("$C" ls "s3://$B" "lake/$1/" 2>>"$QK_TMP/fetch.err")
  return $ok
}
if fetch_table silver/climate "$QK_TMP/dl/climate"; then
  got=$(dq "SELECT * FROM read_parquet($(qk_delta_files "$QK_TMP/dl/climate"))" | sorted)
  qk_eq "the Parquet objects the log lists hold the same rows (plain DuckDB)" "$got" "$want"
else
  qk_not_ok "fetch silver/climate with s3check" "$(head -c 300 "$QK_TMP/fetch.err")"
fi

# ---- append from an s3:// glob; time travel to version 0
t load silver.climate --from "s3://$B/lake/raw/climate/*.csv" --mode append --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "append from an s3:// glob: exit 0" "$?" 0
LOADS=$((LOADS + 1))
qk_eq "append: 12 rows" "$(one "SELECT count(*) FROM silver.climate")" 12
qk_eq "append: version 1" "$(version_of silver.climate)" 1
qk_eq "AT (VERSION => 0) still has 6 rows" "$(one "SELECT count(*) FROM silver.climate AT (VERSION => 0)")" 6
want2=$(dq "SELECT * FROM read_csv($LOCAL_CSV, union_by_name = true) UNION ALL SELECT * FROM read_csv($LOCAL_CSV, union_by_name = true)" | sorted)
qk_eq "after the append: every row twice, as DuckDB says" "$(q "SELECT * FROM silver.climate" | sorted)" "$want2"

# ---- --query over an s3:// path
t load silver.a_only --query "SELECT city, temp FROM read_csv('s3://$B/lake/raw/climate/a.csv')" --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "load --query over an s3:// CSV path: exit 0" "$?" 0
LOADS=$((LOADS + 1))
qk_eq "  equals DuckDB over the local a.csv" "$(q "SELECT * FROM silver.a_only" | sorted)" \
  "$(dq "SELECT city, temp FROM read_csv('$QK_TMP/csv/a.csv')" | sorted)"

# ---- partitioned table from a query, with a NULL partition; differential against DuckDB
GOLD_SQL="SELECT city, count(*) AS n, avg(temp) AS t, min(day) AS first_day FROM silver.climate GROUP BY city"
t load gold.by_city --query "$GOLD_SQL" --partition-by city --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "query load, partitioned by city: exit 0" "$?" 0
LOADS=$((LOADS + 1))
DQ_BOTH="(SELECT * FROM read_csv($LOCAL_CSV, union_by_name = true) UNION ALL SELECT * FROM read_csv($LOCAL_CSV, union_by_name = true))"
want=$(dq "SELECT city, count(*) AS n, avg(temp) AS t, min(day) AS first_day FROM $DQ_BOTH GROUP BY city" | sorted)
qk_eq "partitioned table equals DuckDB's answer (NULL city included)" \
  "$(q "SELECT city, n, t, first_day FROM gold.by_city" | sorted)" "$want"
qk_eq "the NULL partition reads back as NULL" "$(one "SELECT n FROM gold.by_city WHERE city IS NULL")" 2
qk_eq "WHERE on the partition column equals DuckDB's" \
  "$(q "SELECT city, n FROM gold.by_city WHERE city = 'Lima'" | sorted)" \
  "$(dq "SELECT city, count(*) AS n FROM $DQ_BOTH WHERE city = 'Lima' GROUP BY city" | sorted)"
"$QUACK_BIN" lake ls "$S/gold/by_city/" --objects >"$QK_TMP/ls" 2>&1
qk_eq "4 partition folders on S3" "$(grep -c 'PRE city=' "$QK_TMP/ls")" 4
qk_eq "info: 4 partitions, the NULL one counted once" \
  "$(t info gold.by_city --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitions"])')" 4
qk_check "the NULL partition is city=__HIVE_DEFAULT_PARTITION__/" grep -q "PRE city=__HIVE_DEFAULT_PARTITION__/" "$QK_TMP/ls"

# ---- time travel after an append and an overwrite
t load gold.by_city --query "SELECT 'Extra' AS city, 1::BIGINT AS n, 0.5::DOUBLE AS t, DATE '2024-02-01' AS first_day" \
  --mode append --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "append to the partitioned table: exit 0" "$?" 0
LOADS=$((LOADS + 1))
t load gold.by_city --query "SELECT 'x' AS city, 7::BIGINT AS n, 1.0::DOUBLE AS t, DATE '2024-03-01' AS first_day" \
  --mode overwrite --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "overwrite: exit 0" "$?" 0
LOADS=$((LOADS + 1))
qk_eq "time travel: rows at versions 0, 1, 2 and latest" \
  "$(one "SELECT (SELECT count(*) FROM gold.by_city AT (VERSION => 0)) || ' ' || (SELECT count(*) FROM gold.by_city AT (VERSION => 1)) || ' ' || (SELECT count(*) FROM gold.by_city AT (VERSION => 2)) || ' ' || (SELECT count(*) FROM gold.by_city)")" \
  "4 5 1 1"
qk_eq "AT (VERSION => 1) has the appended row" "$(one "SELECT n FROM gold.by_city AT (VERSION => 1) WHERE city = 'Extra'")" 1
qk_eq "latest is the overwrite's row" "$(q "SELECT city, n FROM gold.by_city" | tail -1)" "x,7"
q "SELECT count(*) FROM gold.by_city AT (VERSION => 3)" >/dev/null
qk_check "AT (VERSION => 3): 'the latest is 2'" grep -q "latest is 2" "$QK_TMP/qerr"
echo "# loads and reads: $(($(date +%s) - T0)) s since the start"

# ---- history and info over S3
h=$(t history silver.climate --json)
qk_eq "history: 2 commits" "$(wc -l <<<"$h")" 2
qk_eq "history: newest first: version, rows added, files added" \
  "$(head -1 <<<"$h" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["version"], j["rows_added"], j["files_added"], j["parameters"]["mode"])')" \
  "1 6 1 append"
qk_eq "history: version 0 created the table" \
  "$(tail -1 <<<"$h" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["version"], j["rows_added"], j["operation"])')" \
  "0 6 CREATE TABLE AS SELECT"
h=$(t history gold.by_city --json)
qk_eq "history of the partitioned table: overwrite removed the 5 files" \
  "$(head -1 <<<"$h" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["version"], j["files_added"], j["files_removed"])')" "2 1 5"
info=$(t info silver.climate --json)
qk_eq "info: version, files, rows, path" "$(jf "$info" 'j["version"], j["files"], j["rows"], j["path"]')" \
  "(1, 2, 12, 'silver/climate')"
info=$(t info gold.by_city --json)
qk_eq "info of the partitioned table: version, files, partition columns" \
  "$(jf "$info" 'j["version"], j["files"], j["partition_columns"]')" "(2, 1, ['city'])"
qk_check "history (text) has a header" grep -q "VERSION" <(t history silver.climate)

# ---- two processes appending 100 times each (bounded: 10 minutes)
t load silver.conc --query "SELECT 'init' AS who, 0 AS k" --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "conc: create" "$?" 0
LOADS=$((LOADS + 1))
: >"$QK_TMP/conc.err"
tc=$(date +%s)
CONC=()
for who in a b; do
  ( for k in $(seq 1 100); do
      t load silver.conc --query "SELECT '$who' AS who, $k AS k" --mode append --json \
        >>"$QK_TMP/conc.$who.json" 2>>"$QK_TMP/conc.err" || echo "$who $k: exit $?" >>"$QK_TMP/conc.err"
    done ) &
  CONC+=($!)
  QK_BG+=($!)
done
timed_out=0
while kill -0 "${CONC[0]}" 2>/dev/null || kill -0 "${CONC[1]}" 2>/dev/null; do
  if [ $(($(date +%s) - tc)) -gt 600 ]; then
    timed_out=1
    for p in "${CONC[@]}"; do pkill -TERM -P "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    break
  fi
  sleep 0.5
done
wait "${CONC[@]}" 2>/dev/null
elapsed=$(($(date +%s) - tc))
echo "# 200 concurrent appends on S3: $elapsed s"
qk_eq "concurrent appends finish within 10 minutes ($elapsed s)" "$timed_out" 0
LOADS=$((LOADS + 200))
qk_eq "concurrent appends: 200 rows, 200 distinct (who, k)" \
  "$(one "SELECT count(*) || ' ' || count(DISTINCT who || ':' || k) FROM silver.conc WHERE who <> 'init'")" "200 200"
qk_eq "concurrent appends: 100 per writer, k 1..100 each" \
  "$(q "SELECT who, count(*), min(k), max(k) FROM silver.conc WHERE who <> 'init' GROUP BY who" | sorted | tr '\n' ' ')" \
  "a,100,1,100 b,100,1,100 "
qk_eq "concurrent appends: latest version 200" "$(version_of silver.conc)" 200
versions=$(t history silver.conc --json | python3 -c 'import json,sys; v=[json.loads(l)["version"] for l in sys.stdin]; print(sorted(v) == list(range(201)))')
qk_eq "concurrent appends: history has versions 0..200, contiguous" "$versions" True
committed=$(cat "$QK_TMP"/conc.[ab].json 2>/dev/null | python3 -c 'import json,sys; v=sorted(json.loads(l)["version"] for l in sys.stdin); print(v == list(range(1, 201)))')
qk_eq "each writer's commit versions: 1..200 between them, no version twice" "$committed" True
rebased=$(cat "$QK_TMP"/conc.[ab].json 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for l in sys.stdin if json.loads(l)["attempts"] > 1))')
echo "# commits rebased on the other writer's: $rebased"
"$QUACK_BIN" lake ls "$S/silver/conc/_delta_log/" --objects >"$QK_TMP/ls" 2>&1
qk_check "a checkpoint object at version 200" grep -q " 00000000000000000200.checkpoint.parquet$" "$QK_TMP/ls"
qk_eq "checkpoints every 10 versions: 20 of them" "$(grep -c 'checkpoint.parquet$' "$QK_TMP/ls")" 20
"$C" cat "s3://$B" lake/silver/conc/_delta_log/_last_checkpoint >"$QK_TMP/lc" 2>&1
qk_eq "_last_checkpoint names version 200" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$QK_TMP/lc" 2>&1)" 200
qk_eq "no writer reported an error" "$(head -c 600 "$QK_TMP/conc.err")" ""
qk_eq "the table reads from its checkpoint: info says checkpoint_version 200" \
  "$(jf "$(t info silver.conc --json)" 'j["checkpoint_version"], j["files"], j["rows"]')" "(200, 201, 201)"

# ---- a writer killed after uploading its data, before committing
v0=$(version_of silver.climate)
n0=$(one "SELECT count(*) FROM silver.climate")
QUACK_TEST_CRASH=after-data t load silver.climate \
  --query "SELECT 'Crash' AS city, DATE '2024-04-01' AS day, 1.5::DOUBLE AS temp, 'x' AS note" \
  --mode append --quiet >/dev/null 2>&1
qk_eq "crash after-data: killed (137)" "$?" 137
qk_eq "crash after-data: the table is at its previous version, rows unchanged" \
  "$(version_of silver.climate) $(one "SELECT count(*) FROM silver.climate")" "$v0 $n0"
qk_eq "crash after-data: a read AT the previous version: rows unchanged" \
  "$(one "SELECT count(*) FROM silver.climate AT (VERSION => $v0)")" "$n0"
qk_eq "crash after-data: the crashed row is nowhere" "$(one "SELECT count(*) FROM silver.climate WHERE city = 'Crash'")" 0
out=$(t vacuum silver.climate --retain 0 --force --json 2>&1)
qk_eq "vacuum dry run: exactly the orphan, tracked false, nothing deleted" \
  "$(jf "$out" '[(f["key"].startswith("silver/climate/part-"), f["tracked"]) for f in j["files"]], j["deleted"], j["dry_run"]' 2>&1)" \
  "([(True, False)], 0, True)"
orphan=$(jf "$out" 'j["files"][0]["key"]' 2>/dev/null)
qk_check "the orphan object is in the bucket" grep -qx "lake/$orphan" <("$C" ls "s3://$B" lake/silver/climate/)
out=$(t vacuum silver.climate --retain 0 --force --delete --json 2>&1)
qk_eq "vacuum --delete deletes it" "$(jf "$out" 'j["deleted"], j["dry_run"]' 2>&1)" "(1, False)"
qk_check "the orphan object is gone" bash -c "! \"$C\" ls s3://$B lake/silver/climate/ | grep -qx 'lake/$orphan'"
qk_eq "the table still reads (latest and version 0)" \
  "$(one "SELECT (SELECT count(*) FROM silver.climate) || ' ' || (SELECT count(*) FROM silver.climate AT (VERSION => 0))")" "$n0 6"

# ---- lineage over S3
"$QUACK_BIN" lineage --lake "$S" --json >"$QK_TMP/lin.json" 2>"$QK_TMP/err"
qk_eq "quack lineage --json: exit 0" "$?" 0
qk_eq "lineage: silver.climate's parent is raw.climate, its location on S3" \
  "$(qk_json "$QK_TMP/lin.json" '[[t["parents"], t["location"]] for t in j["tables"] if t["name"] == "silver.climate"][0]')" \
  "[[\"raw.climate\"], \"$S/silver/climate\"]"
qk_eq "lineage: gold.by_city's parent is silver.climate" \
  "$(qk_json "$QK_TMP/lin.json" '[t["parents"] for t in j["tables"] if t["name"] == "gold.by_city"][0]')" '["silver.climate"]'
qk_eq "lineage: one record per committed load ($LOADS), the 200 concurrent ones included" \
  "$(qk_json "$QK_TMP/lin.json" 'j["records"]')" "$LOADS"
qk_check "quack lineage NAME prints the tree" grep -q "└── raw.climate" <("$QUACK_BIN" lineage silver.climate --lake "$S")
"$QUACK_BIN" table load silver.c2 --from "$S/raw/climate" --lake "$S" --quiet >/dev/null 2>"$QK_TMP/err"
qk_eq "load --from an s3:// URI inside the lake: exit 0" "$?" 0
"$QUACK_BIN" lineage silver.c2 --lake "$S" --json >"$QK_TMP/lin2.json" 2>"$QK_TMP/err"
qk_eq "lineage: an s3:// URI into the lake's folder has that table as parent" \
  "$(qk_json "$QK_TMP/lin2.json" '[t["parents"] for t in j["tables"] if t["name"] == "silver.c2"][0]')" '["raw.climate"]'

# ---- a data file deleted behind the log's back (the table was read before: the cache has it)
added=$("$C" cat "s3://$B" lake/silver/climate/_delta_log/00000000000000000001.json |
  python3 -c 'import json,sys; print([a["add"]["path"] for a in map(json.loads, sys.stdin) if "add" in a][0])')
qk_check "version 1's add path read from its commit" test -n "$added"
"$C" rm "s3://$B" "lake/silver/climate/$added" >/dev/null 2>&1
qk_eq "delete version 1's data file from the bucket" "$?" 0
"$QUACK_BIN" query --lake "$S" -F csv -q "SELECT * FROM silver.climate" >"$QK_TMP/out" 2>"$QK_TMP/err"
rc=$?
qk_eq "query of the table: exit 1" "$rc" 1
qk_check "the error names the missing file" grep -q "silver/climate/$added.*missing" "$QK_TMP/err"
qk_eq "no partial answer on stdout" "$(wc -c <"$QK_TMP/out")" 0
"$QUACK_BIN" query --lake "$S" -F csv -q "SELECT count(*) FROM silver.climate WHERE city = 'Lima'" >"$QK_TMP/out" 2>"$QK_TMP/err"
qk_eq "a filtered count fails too (no partial count)" "$?:$(wc -c <"$QK_TMP/out")" "1:0"
qk_eq "version 0 (its file intact) still reads" "$(one "SELECT count(*) FROM silver.climate AT (VERSION => 0)")" 6

echo "# total: $(($(date +%s) - T0)) s"
qk_done
