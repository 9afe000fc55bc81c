#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_delta_sql.sh: Delta tables by name in SQL (docs/tables.md, docs/internals/delta.md).
# The delta-rs fixture tables (tests/fixtures/delta-rs) are copied into a lake; every answer is
# checked against plain DuckDB over the files the table's log lists for that version (read here
# from the JSON commits with python, independently of quack's reader):
#   - FROM name (latest), FROM name AT (VERSION => n), AT (TIMESTAMP => t) with mtimes set here
#   - partition values from the log, typed per the schema; a NULL partition; "A/A" decoded once
#   - DESCRIBE and SHOW TABLES; the seeds' =(^)name spelling and the =(^)quack probe
#   - CREATE TABLE ... AS SELECT over lake tables (a session table on a server)
#   - refusals: deletion vectors and column mapping name the feature; a version that does not
#     exist, a timestamp before the first commit, a NULL or negative version; AT on a Parquet
#     table; a vacuumed data file is an error, not a partial answer
#   - file skipping: filtered queries over tables written here with stats equal DuckDB over all
#     their files and quack with QUACK_DELTA_SKIPPING=off; the debug log counts files skipped
. "$(dirname "$0")/lib.sh"
qk_init
FX=$QUACK_SRC/tests/fixtures/delta-rs
L=$QK_TMP/lake
mkdir -p "$L/db"
cp -r "$FX/simple_table" "$L/simple"
cp -r "$FX/delta-0.8.0" "$L/db/d08"
cp -r "$FX/delta-0.8.0-partitioned" "$L/db/parts"
cp -r "$FX/delta-0.8.0-null-partition" "$L/nullpart"
cp -r "$FX/delta-0.8.0-special-partition" "$L/special"
cp -r "$FX/table-with-dv-small" "$L/dv"
cp -r "$FX/table_with_column_mapping" "$L/colmap"
cp -r "$FX/simple_table_with_checkpoint" "$L/ckpt"
"$QUACK_BIN" query --lake "$L" -q "COPY (SELECT 1 AS x) TO '$L/plain.parquet'" >/dev/null

q() { "$QUACK_BIN" query --lake "$L" -F csv -l 1000000 -q "$1" 2>"$QK_TMP/err" | tr -d '\r'; }
sorted() { q "$1" | tail -n +2 | sort; }

# The active files of table dir $1 at version $2, by replaying its JSON commits (add/remove by
# path); only for tables without checkpoints in the range.
active() {
  python3 - "$1" "$2" <<'PY'
import json, os, sys, urllib.parse
d, v = sys.argv[1], int(sys.argv[2])
live = {}
for i in range(v + 1):
    for line in open(os.path.join(d, "_delta_log", "%020d.json" % i)):
        a = json.loads(line)
        if "add" in a: live[a["add"]["path"]] = a["add"]
        if "remove" in a: live.pop(a["remove"]["path"], None)
for p in sorted(live):
    print(os.path.join(d, urllib.parse.unquote(p)))
PY
}
# DuckDB's own answer for SELECT sql_cols over the listed files.
plain() {
  local list
  list=$(active "$1" "$2" | sed "s/.*/'&'/" | paste -sd, -)
  "$QUACK_BIN" query --lake "$L" -F csv -l 1000000 -q "SELECT $3 FROM read_parquet([$list])" |
    tr -d '\r' | tail -n +2 | sort
}

# ---- reads by name, differential against the files the log lists ----------------------------------
for v in 0 1 2 3 4; do
  qk_eq "simple AT (VERSION => $v) == DuckDB over the log's files" \
    "$(sorted "SELECT id FROM simple AT (VERSION => $v)")" "$(plain "$L/simple" $v id)"
done
qk_eq "simple (latest) is v4: ids 5, 7, 9" "$(sorted "SELECT id FROM simple" | paste -sd,)" "5,7,9"
qk_eq "three-part name db.d08 at v0: 5 rows" "$(q "SELECT count(*) FROM db.d08 AT (VERSION => 0)" | tail -1)" 5
qk_eq "db.d08 latest: 4 rows == DuckDB" "$(sorted "SELECT value FROM db.d08")" "$(plain "$L/db/d08" 1 value)"
qk_eq "partition values from the log (7 rows by year)" \
  "$(q "SELECT year, count(*) FROM db.parts GROUP BY 1 ORDER BY 1" | tail -n +2 | paste -sd' ')" \
  "2020,3 2021,4"
qk_eq "a NULL partition reads as NULL" "$(q "SELECT count(*) FROM nullpart WHERE k IS NULL" | tail -1)" 1
qk_eq "an escaped partition path is decoded once" \
  "$(q "SELECT DISTINCT x FROM special ORDER BY 1" | tail -n +2 | paste -sd'|')" "A/A|B B"
qk_eq "a table read from its checkpoint == DuckDB over the log's files" \
  "$(sorted "SELECT * FROM ckpt")" "$(plain "$L/ckpt" 10 '*')"
qk_check "DESCRIBE db.parts lists the partition columns" \
  bash -c "'$QUACK_BIN' query --lake '$L' -F csv -q 'DESCRIBE db.parts' | grep -q '^year,VARCHAR'"
qk_check "SHOW TABLES lists the Delta tables" grep -qx 'db.parts' <(q "SHOW TABLES")
qk_eq "a join of two versions of one table" \
  "$(q "SELECT count(*) FROM simple a AT (VERSION => 4) JOIN simple b AT (VERSION => 3) USING (id)" | tail -1)" \
  "$(comm -12 <(plain "$L/simple" 4 id) <(plain "$L/simple" 3 id) | wc -l)"

# ---- the seeds' =(^)name spelling: the same table; =(^)quack the responsiveness probe -------------
qk_eq "=(^)simple == simple" "$(sorted "SELECT id FROM =(^)simple")" "$(sorted "SELECT id FROM simple")"
qk_eq "=(^)db.parts AT (VERSION => 0) == db.parts at v0" \
  "$(sorted "SELECT * FROM =(^)db.parts AT (VERSION => 0)")" "$(sorted "SELECT * FROM db.parts AT (VERSION => 0)")"
qk_eq "=(^)quack: 10 rows of random values in [0, 1)" \
  "$(q "SELECT count(*), count(DISTINCT id), bool_and(value >= 0 AND value < 1) FROM =(^)quack" | tail -1)" "10,10,true"
q "SELECT * FROM =(^) simple" >/dev/null
qk_check "=(^) without a name: a parse error" grep -q "must be followed by a table name" "$QK_TMP/err"

# ---- CREATE ... AS with lake names: the query part is bound; a server keeps the session table ------
qk_eq "CREATE TABLE AS SELECT FROM =(^)name: the row count" \
  "$(q "CREATE TABLE t AS SELECT * FROM =(^)simple" | tail -1)" "$(q "SELECT count(*) FROM simple" | tail -1)"
qk_eq "CREATE OR REPLACE TEMP TABLE \"AS\" AS (... AT (VERSION => 0) ...)" \
  "$(q "CREATE OR REPLACE TEMP TABLE \"AS\" AS (SELECT id FROM simple AT (VERSION => 0) WHERE id > 1)" | tail -1)" \
  "$(q "SELECT count(*) FROM simple AT (VERSION => 0) WHERE id > 1" | tail -1)"
qk_eq "CREATE TABLE AS WITH ... (a CTE over a lake table)" \
  "$(q "CREATE TABLE t2 AS WITH x AS (SELECT * FROM db.parts) SELECT year, count(*) AS n FROM x GROUP BY 1" | tail -1)" 2
q "CREATE TABLE t3 AS SELECT * FROM nosuch" >/dev/null
qk_check "CREATE TABLE AS over an unknown table: DuckDB's catalog error" grep -q "Table with name nosuch does not exist" "$QK_TMP/err"
QK_LAKE=$L
if qk_start_server; then
  qk_post /query '{"sql":"CREATE TABLE climate_copy AS SELECT * FROM =(^)db.parts"}' >/dev/null
  st=$(qk_post /query '{"sql":"SELECT count(*) AS n FROM climate_copy"}')
  qk_eq "serve: the session table made from a Delta table is there for the next request" \
    "$st $(qk_json "$QK_BODY" 'j["records"][0]["n"]')" "200 7"
else
  qk_not_ok "serve: session table" "the server did not start"
fi

# ---- time travel by timestamp: commit times are the commit files' mtimes ---------------------------
for v in 0 1 2 3 4; do touch -d "2024-01-0$((v + 1)) 12:00:00 UTC" "$L/simple/_delta_log/$(printf %020d $v).json"; done
qk_eq "AT (TIMESTAMP) between v1 and v2 reads v1" \
  "$(sorted "SELECT id FROM simple AT (TIMESTAMP => TIMESTAMPTZ '2024-01-02 18:00:00+00')")" "$(plain "$L/simple" 1 id)"
qk_eq "AT (TIMESTAMP) exactly at v3's commit reads v3" \
  "$(sorted "SELECT id FROM simple AT (TIMESTAMP => TIMESTAMPTZ '2024-01-04 12:00:00+00')")" "$(plain "$L/simple" 3 id)"
q "SELECT * FROM simple AT (TIMESTAMP => TIMESTAMPTZ '2023-12-31 00:00:00+00')" >/dev/null
qk_check "a timestamp before the first commit is an error naming both times" \
  grep -q "2023-12-31 00:00:00.000 UTC is before the first commit (version 0 at 2024-01-01 12:00:00.000 UTC)" "$QK_TMP/err"

# ---- refusals and errors --------------------------------------------------------------------------
q "SELECT * FROM dv" >/dev/null
qk_check "deletion vectors are refused by name" grep -q "deletionVectors" "$QK_TMP/err"
q "SELECT * FROM colmap" >/dev/null
qk_check "column mapping is refused by name" grep -q "columnMapping" "$QK_TMP/err"
q "SELECT * FROM simple AT (VERSION => 5)" >/dev/null
qk_check "a version after the latest: clear error" grep -q "simple: version 5 does not exist: the latest is 4" "$QK_TMP/err"
q "SELECT * FROM simple AT (VERSION => -1)" >/dev/null
qk_check "a negative version: clear error" grep -q "versions start at 0" "$QK_TMP/err"
q "SELECT * FROM simple AT (VERSION => NULL)" >/dev/null
qk_check "a NULL version: clear error" grep -q "AT (VERSION => ...) is NULL" "$QK_TMP/err"
q "SELECT * FROM simple AT (VERSION => 'abc')" >/dev/null
qk_check "a version that is not a number: DuckDB's conversion error" grep -q "Could not convert string 'abc'" "$QK_TMP/err"
q "SELECT * FROM plain AT (VERSION => 1)" >/dev/null
qk_check "AT on a Parquet table is refused" grep -q "need a Delta table; plain is" "$QK_TMP/err"
victim=$(active "$L/db/d08" 0 | head -1)
rm -f "$victim"
out=$(q "SELECT count(*) FROM db.d08 AT (VERSION => 0)")
qk_eq "a vacuumed data file: no answer" "$out" ""
qk_check "  the error names the missing file" grep -q "$(basename "$victim")" "$QK_TMP/err"

# ---- file skipping by partition values and stats (docs/tables.md "File skipping") ----------------
# Two tables written here: skip.flat (8 files of 1,000 rows, clustered by id; timestamps .0005 s
# past the milliseconds their stats are truncated to, string stats cut to 7 characters, n NULL in
# files 0, 3 and 6) and skip.byday (6 files partitioned by day and region). Every filtered query
# must answer as DuckDB does over all the files read directly, and as quack does with skipping
# off; the debug log line "delta_skip" shows the files left out.
SK=$L/skip
mkdir -p "$SK"
"$QUACK_BIN" query --lake "$L" -q "COPY (SELECT i // 1000 AS k, i AS id, (i % 97) * 1.5 AS v,
  'name_' || lpad(CAST(i // 1000 AS VARCHAR), 2, '0') || '_' || (i % 1000) AS name,
  TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_days(CAST(i // 1000 AS INTEGER))
    + to_microseconds((i % 1000) * 1000 + 500) AS ts,
  DATE '2024-01-01' + CAST(i // 1000 AS INTEGER) AS d,
  CAST((i % 1000) / 100 + (i // 1000) * 10 AS DECIMAL(10,2)) AS amt,
  CASE WHEN (i // 1000) % 3 = 0 THEN NULL ELSE CAST(i AS INTEGER) END AS n
  FROM range(8000) t(i)) TO '$SK/flat' (FORMAT parquet, PARTITION_BY (k))" >/dev/null
"$QUACK_BIN" query --lake "$L" -q "COPY (SELECT DATE '2024-01-01' + CAST(i // 200 AS INTEGER) AS day,
  CASE WHEN (i // 100) % 2 = 0 THEN 'eu' ELSE 'us' END AS region, i AS id, i * 0.5 AS amount
  FROM range(600) t(i)) TO '$SK/byday' (FORMAT parquet, PARTITION_BY (day, region))" >/dev/null
# The add actions: path and stats per file, computed by DuckDB (timestamps truncated to ms).
stats_of() { # dir glob column...
  local d=$1 g=$2 mins="" maxs="" nulls=""
  shift 2
  for c in "$@"; do
    case $c in
      ts) mins+="'ts', strftime(timezone('UTC', min(ts)), '%Y-%m-%dT%H:%M:%S.%gZ'), "
          maxs+="'ts', strftime(timezone('UTC', max(ts)), '%Y-%m-%dT%H:%M:%S.%gZ'), " ;;
      name) mins+="'name', left(min(name), 7), "; maxs+="'name', left(max(name), 7), " ;;
      *) mins+="'$c', min($c), "; maxs+="'$c', max($c), " ;;
    esac
    nulls+="'$c', count(*) - count($c), "
  done
  "$QUACK_BIN" query --lake "$L" -F csv -l 1000000 -q "SELECT json_object('path',
    regexp_replace(filename, '^$d/', ''), 'stats', json_object('numRecords', count(*),
    'minValues', json_object(${mins%, }), 'maxValues', json_object(${maxs%, }),
    'nullCount', json_object(${nulls%, }))) FROM read_parquet('$d/$g', filename = true,
    hive_partitioning = false) GROUP BY filename ORDER BY filename" | tail -n +2
}
write_log() { # dir schema-fields partition-columns (JSON) file-of-stats_of-lines
  python3 - "$@" <<'PY'
import csv, json, os, sys
d, fields, parts = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
os.makedirs(os.path.join(d, "_delta_log"), exist_ok=True)
with open(os.path.join(d, "_delta_log", "%020d.json" % 0), "w") as out:
    out.write(json.dumps({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}) + "\n")
    schema = {"type": "struct", "fields": [
        {"name": n, "type": t, "nullable": True, "metadata": {}} for n, t in fields]}
    out.write(json.dumps({"metaData": {"id": "skip-" + os.path.basename(d),
        "format": {"provider": "parquet", "options": {}}, "schemaString": json.dumps(schema),
        "partitionColumns": parts, "configuration": {}, "createdTime": 0}}) + "\n")
    for row in csv.reader(open(sys.argv[4])):
        a = json.loads(row[0])
        pv = dict(seg.split("=", 1) for seg in a["path"].split("/")[:-1])
        out.write(json.dumps({"add": {"path": a["path"], "partitionValues": pv,
            "size": os.path.getsize(os.path.join(d, a["path"])), "modificationTime": 0,
            "dataChange": True, "stats": json.dumps(a["stats"])}}) + "\n")
PY
}
stats_of "$SK/flat" '*/*.parquet' id v name ts d amt n >"$QK_TMP/adds"
write_log "$SK/flat" '[["id","long"],["v","double"],["name","string"],["ts","timestamp"],
  ["d","date"],["amt","decimal(10,2)"],["n","integer"]]' '[]' "$QK_TMP/adds"
stats_of "$SK/byday" '*/*/*.parquet' id amount >"$QK_TMP/adds"
write_log "$SK/byday" '[["day","date"],["region","string"],["id","long"],["amount","double"]]' \
  '["day","region"]' "$QK_TMP/adds"

COLS="count(*), sum(id), min(id), max(id), min(name), max(ts), sum(amt), count(n)"
FLAT="read_parquet('$SK/flat/*/*.parquet', hive_partitioning = false)"
BYDAY="read_parquet('$SK/byday/*/*/*.parquet', hive_partitioning = true)"
skipped() { # query -> "files skipped" from the debug log, or "none"
  QUACK_LOG_LEVEL=debug "$QUACK_BIN" query --lake "$L" -F csv -q "$1" 2>&1 >/dev/null |
    grep -o '"files":[0-9]*,"skipped":[0-9]*' | head -1 | grep . || echo none
}
while IFS='|' read -r table where want; do
  cols="count(*), sum(id), sum(amount), min(day), max(region)" direct=$BYDAY
  if [ "$table" = flat ]; then cols=$COLS direct=$FLAT; fi
  sql="SELECT $cols FROM skip.$table WHERE $where"
  got=$(q "$sql")
  qk_eq "skipping: $table WHERE $where == DuckDB over every file" \
    "$got" "$(q "SELECT $cols FROM $direct WHERE $where")"
  qk_eq "  ... == quack with QUACK_DELTA_SKIPPING=off" \
    "$got" "$(QUACK_DELTA_SKIPPING=off q "$sql")"
  qk_eq "  ... skips $want" "$(skipped "$sql")" "$want"
done <<'EOF'
flat|id = 3500|"files":8,"skipped":7
flat|id BETWEEN 2990 AND 3010|"files":8,"skipped":6
flat|id IN (5, 7777)|"files":8,"skipped":6
flat|3000 > id OR id >= 7990|"files":8,"skipped":4
flat|v > 140|none
flat|name = 'name_05_17'|"files":8,"skipped":7
flat|name >= 'name_06' AND name < 'name_07_5'|"files":8,"skipped":6
flat|ts >= TIMESTAMPTZ '2024-01-04 00:00:00.9995+00' AND ts < TIMESTAMPTZ '2024-01-05 00:00:00.0004+00'|"files":8,"skipped":6
flat|ts > TIMESTAMPTZ '2024-01-04 00:00:00.9996+00' AND ts < TIMESTAMPTZ '2024-01-05 00:00:00+00'|"files":8,"skipped":6
flat|d = DATE '2024-01-06'|"files":8,"skipped":7
flat|amt >= 69.99|"files":8,"skipped":6
flat|amt > 70.5|"files":8,"skipped":7
flat|amt = '69.995'|none
flat|n IS NULL|"files":8,"skipped":5
flat|n IS NOT NULL AND id < 2500|"files":8,"skipped":6
flat|abs(id) = 3500 AND id + 0 > 10|none
byday|day = DATE '2024-01-02' AND region = 'eu'|"files":6,"skipped":5
byday|region <> 'us' AND id > 250|"files":6,"skipped":4
byday|day > '2024-01-02' OR id < 50|"files":6,"skipped":3
EOF
qk_eq "skipping: AT (VERSION => 0) skips the same way" \
  "$(skipped "SELECT count(*) FROM skip.flat AT (VERSION => 0) WHERE id = 3500")" '"files":8,"skipped":7'
qk_eq "skipping: QUACK_DELTA_SKIPPING=off reads every file" \
  "$(QUACK_DELTA_SKIPPING=off skipped "SELECT count(*) FROM skip.flat WHERE id = 3500")" none

qk_done
