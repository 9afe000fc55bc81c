#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_s3_copy.sh: COPY ... TO 's3://...' (src/lake/copy.c) against a real S3 server (Ceph RGW
# from tests/s3/rgw.sh), differential against DuckDB's own COPY to a local file wherever it can
# be: (a) a Parquet file read back through s3:// equals the query on the local source; (b) a
# CSV object is byte-for-byte the file a local COPY writes; (c) PARTITION_BY gives the same
# col=value/ keys as the local folder and the same rows back with hive_partitioning; (d) a
# second PARTITION_BY COPY without OVERWRITE fails like DuckDB and changes nothing, with
# OVERWRITE_OR_IGNORE it keeps other objects, with OVERWRITE it replaces; (e) an s3 -> s3 COPY;
# a lake table name as the source; (f) errors: unknown bucket, a target that is no key;
# (g) `quack serve`'s /query.
# Prints "N passed, N failed". "SKIP: ..." and exit 0 only when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test s3copy quack s3check
C="$QUACK_BUILD/s3check"


qk_rgw_up "$STATE"
qk_s3_env

# ---- a small demo lake (local), its single file also in bucket $B
L=$QK_TMP/lake
B=qk-copy-$$
SRC=$L/dataset/taxi_2019_04.parquet
"$QUACK_BIN" demo --lake "$L" --rows 20000 --quiet >/dev/null 2>"$QK_TMP/err" ||
  { cat "$QK_TMP/err" >&2; qk_not_ok "demo lake"; qk_done; exit 1; }
mkdir -p "$L/base"
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }
"$C" put "s3://$B" dataset/taxi_2019_04.parquet "$SRC" >/dev/null 2>"$QK_TMP/err" ||
  { cat "$QK_TMP/err" >&2; qk_not_ok "upload the source"; qk_done; exit 1; }

# q ID SQL: run SQL with `quack query -F csv` into $QK_TMP/ID.csv, stderr in ID.err.
q() {
  "$QUACK_BIN" query --lake "$L" -l 1000000 -F csv "$2" >"$QK_TMP/$1.csv" 2>"$QK_TMP/$1.err"
}
# scalar SQL: the one value SQL returns.
scalar() { "$QUACK_BIN" query --lake "$L" -F csv "$1" | tail -1 | tr -d '\r'; }

# runs NAME SQL COUNT: the COPY succeeds and reports COUNT rows.
runs() {
  if ! q run "$2"; then
    qk_not_ok "$1" "failed: $(head -c 300 "$QK_TMP/run.err")"; return 1
  fi
  qk_eq "$1" "$(tail -1 "$QK_TMP/run.csv" | tr -d '\r')" "$3"
}

# same NAME A B: the CSV results of queries A and B are identical and not empty.
same() {
  if ! q a "$2" || ! q b "$3"; then
    qk_not_ok "$1" "query failed: $(cat "$QK_TMP/a.err" "$QK_TMP/b.err" | head -c 300)"; return
  fi
  if cmp -s "$QK_TMP/a.csv" "$QK_TMP/b.csv" && [ -s "$QK_TMP/a.csv" ]; then
    qk_ok "$1 ($(wc -l <"$QK_TMP/a.csv") lines)"
  else
    qk_not_ok "$1" "differ: $(diff "$QK_TMP/a.csv" "$QK_TMP/b.csv" | head -5 | tr '\n' ' ')"
  fi
}

# fails NAME SQL PATTERN: the query exits non-zero and stderr matches PATTERN (grep -E).
fails() {
  "$QUACK_BIN" query --lake "$L" -F csv "$2" >"$QK_TMP/out" 2>"$QK_TMP/err"
  local rc=$?
  if [ $rc != 0 ] && grep -Eq "$3" "$QK_TMP/err"; then
    qk_ok "$1"
  else
    qk_not_ok "$1" "exit $rc, stderr: $(head -c 300 "$QK_TMP/err")"
  fi
}

# keys PREFIX: the keys under PREFIX in $B, relative to it, sorted.
keys() { "$C" ls "s3://$B" "$1" | sed "s|^$1||" | sort; }

Q="SELECT vendor_id, pickup_at, fare_amount, tip_amount, store_and_fwd_flag, payment_type
   FROM read_parquet('$SRC') WHERE pickup_location_id % 7 = 3"
N=$(scalar "SELECT count(*) FROM ($Q)")
N1=$(scalar "SELECT count(*) FROM ($Q) WHERE vendor_id = 1")

# ---- (a) Parquet to one object, read back through s3://
runs "parquet: COPY to s3://$B/out/x.parquet ($N rows)" \
  "COPY ($Q) TO 's3://$B/out/x.parquet' (FORMAT parquet)" "$N"
same "parquet: read back equals the local source" \
  "SELECT * FROM 's3://$B/out/x.parquet' ORDER BY ALL" "$Q ORDER BY ALL"

# ---- (b) CSV bytes equal a local COPY of the same query
runs "csv: COPY to s3://$B/out/y.csv" \
  "COPY ($Q ORDER BY ALL) TO 's3://$B/out/y.csv' (FORMAT csv, HEADER)" "$N"
q base.y "COPY ($Q ORDER BY ALL) TO '$L/base/y.csv' (FORMAT csv, HEADER)"
"$C" get "s3://$B" out/y.csv "$QK_TMP/y.csv" >/dev/null 2>"$QK_TMP/err"
if cmp -s "$QK_TMP/y.csv" "$L/base/y.csv" && [ -s "$L/base/y.csv" ]; then
  qk_ok "csv: object bytes equal a local COPY ($(wc -c <"$L/base/y.csv") bytes)"
else
  qk_not_ok "csv: object bytes equal a local COPY" "$(head -c 300 "$QK_TMP/err")"
fi
# the target's extension picks the format, as for a local COPY
q ext.s3 "COPY ($Q ORDER BY ALL LIMIT 50) TO 's3://$B/out/ext.csv'"
q ext.base "COPY ($Q ORDER BY ALL LIMIT 50) TO '$L/base/ext.csv'"
"$C" get "s3://$B" out/ext.csv "$QK_TMP/ext.csv" >/dev/null 2>&1
qk_check "csv: format from the .csv extension, bytes equal" cmp -s "$QK_TMP/ext.csv" "$L/base/ext.csv"

# ---- (c) PARTITION_BY: same layout as the local folder, same rows back
P="COPY ($Q) TO '@T@' (FORMAT parquet, PARTITION_BY (vendor_id, payment_type))"
runs "partition_by: COPY to s3://$B/parts" "${P//@T@/s3://$B/parts}" "$N"
q base.parts "${P//@T@/$L/base/parts}"
(cd "$L/base/parts" && find . -type f | sed 's|^\./||' | sort) >"$QK_TMP/parts.local"
keys parts/ >"$QK_TMP/parts.s3"
if cmp -s "$QK_TMP/parts.s3" "$QK_TMP/parts.local" && grep -q '^vendor_id=[0-9]*/payment_type=[0-9]*/data_0.parquet$' "$QK_TMP/parts.s3"; then
  qk_ok "partition_by: keys are the local folder's col=value/ layout ($(wc -l <"$QK_TMP/parts.s3") objects)"
else
  qk_not_ok "partition_by: keys are the local folder's col=value/ layout" \
    "$(diff "$QK_TMP/parts.s3" "$QK_TMP/parts.local" | head -5 | tr '\n' ' ')"
fi
same "partition_by: read back with hive_partitioning equals the source" \
  "SELECT vendor_id, payment_type, pickup_at, fare_amount, tip_amount, store_and_fwd_flag FROM read_parquet('s3://$B/parts/*/*/*.parquet', hive_partitioning=1) ORDER BY ALL" \
  "SELECT vendor_id, payment_type, pickup_at, fare_amount, tip_amount, store_and_fwd_flag FROM ($Q) ORDER BY ALL"

# ---- (d) the folder is not empty now
"$C" head "s3://$B" "$(head -1 "$QK_TMP/parts.s3" | sed "s|^|parts/|")" >"$QK_TMP/head.before" 2>&1
fails "not empty: a second COPY without OVERWRITE fails like DuckDB" \
  "${P//@T@/s3://$B/parts}" "Directory \"s3://$B/parts\" is not empty! Enable OVERWRITE option"
keys parts/ >"$QK_TMP/parts.after"
"$C" head "s3://$B" "$(head -1 "$QK_TMP/parts.s3" | sed "s|^|parts/|")" >"$QK_TMP/head.after" 2>&1
if cmp -s "$QK_TMP/parts.s3" "$QK_TMP/parts.after" && cmp -s "$QK_TMP/head.before" "$QK_TMP/head.after"; then
  qk_ok "not empty: nothing changed"
else
  qk_not_ok "not empty: nothing changed" "$(diff "$QK_TMP/parts.s3" "$QK_TMP/parts.after" | head -3)"
fi
"$C" putm "s3://$B" parts/stale.txt "old" >/dev/null
O="COPY (SELECT * FROM ($Q) WHERE vendor_id = 1) TO 's3://$B/parts' (FORMAT parquet, PARTITION_BY (vendor_id, payment_type), @O@)"
runs "overwrite_or_ignore: COPY into the folder" "${O//@O@/OVERWRITE_OR_IGNORE}" "$N1"
qk_eq "overwrite_or_ignore: other objects stay" \
  "$(keys parts/ | grep -c -e '^stale.txt$' -e '^vendor_id=2/')" \
  "$(($(grep -c '^vendor_id=2/' "$QK_TMP/parts.s3") + 1))"
runs "overwrite: COPY replaces the folder" "${O//@O@/OVERWRITE}" "$N1"
keys parts/ >"$QK_TMP/parts.over"
q base.over "COPY (SELECT * FROM ($Q) WHERE vendor_id = 1) TO '$L/base/over' (FORMAT parquet, PARTITION_BY (vendor_id, payment_type))"
(cd "$L/base/over" && find . -type f | sed 's|^\./||' | sort) >"$QK_TMP/over.local"
qk_check "overwrite: only the new objects are left" cmp -s "$QK_TMP/parts.over" "$QK_TMP/over.local"

# ---- (e) s3 -> s3: the source query reads s3:// too
runs "s3 -> s3: COPY from s3://$B/dataset to s3://$B/out/z.csv" \
  "COPY (SELECT * FROM 's3://$B/dataset/taxi_2019_04.parquet' WHERE payment_type = 2 ORDER BY ALL) TO 's3://$B/out/z.csv' (HEADER)" \
  "$(scalar "SELECT count(*) FROM '$SRC' WHERE payment_type = 2")"
q base.z "COPY (SELECT * FROM '$SRC' WHERE payment_type = 2 ORDER BY ALL) TO '$L/base/z.csv' (HEADER)"
"$C" get "s3://$B" out/z.csv "$QK_TMP/z.csv" >/dev/null 2>&1
qk_check "s3 -> s3: bytes equal a local COPY of the local file" cmp -s "$QK_TMP/z.csv" "$L/base/z.csv"

# a lake table name as the source: a table with a column list, and inside a query
runs "lake table source: COPY partitioned (cols) TO s3://$B/out/t.parquet" \
  "COPY partitioned (date, vendor_id, fare_amount) TO 's3://$B/out/t.parquet'" \
  "$(scalar "SELECT count(*) FROM read_parquet('$L/partitioned/*/*.parquet')")"
same "lake table source: read back equals the local files" \
  "SELECT * FROM 's3://$B/out/t.parquet' ORDER BY ALL" \
  "SELECT date, vendor_id, fare_amount FROM read_parquet('$L/partitioned/*/*.parquet', hive_partitioning = 1) ORDER BY ALL"
runs "lake table in the source query" \
  "COPY (SELECT date, count(*) AS n FROM partitioned GROUP BY date ORDER BY date) TO 's3://$B/out/days.csv'" 30

# ---- (f) errors
fails "unknown bucket: NoSuchBucket, non-zero exit" \
  "COPY (SELECT 1 AS a) TO 's3://qk-no-such-bucket-$$/x.csv'" "NoSuchBucket"
fails "target s3://$B/ is refused" "COPY (SELECT 1 AS a) TO 's3://$B/'" "not an object path"
fails "target with '..' is refused" "COPY (SELECT 1 AS a) TO 's3://$B/a/../x.csv'" "not an object path"
fails "a failing source query uploads nothing" \
  "COPY (SELECT * FROM 's3://$B/dataset/missing.parquet') TO 's3://$B/out/never.csv'" "no such object"
"$C" head "s3://$B" out/never.csv >/dev/null 2>&1
qk_eq "a failing source query uploads nothing: no object" "$?" 4

# ---- (g) the server's /query runs the same COPY
QK_LAKE=$L
if qk_start_server; then
  url=$QK_URL
  "$QUACK_BIN" query -e "$url" -F csv \
    "COPY ($Q ORDER BY ALL) TO 's3://$B/srv/y.csv' (FORMAT csv, HEADER)" >"$QK_TMP/srv.csv" 2>"$QK_TMP/err"
  qk_eq "serve: COPY to s3:// through /query" "$(tail -1 "$QK_TMP/srv.csv" | tr -d '\r')" "$N"
  "$C" get "s3://$B" srv/y.csv "$QK_TMP/srv-y.csv" >/dev/null 2>&1
  qk_check "serve: the object equals the local COPY" cmp -s "$QK_TMP/srv-y.csv" "$L/base/y.csv"
  "$QUACK_BIN" query -e "$url" -F csv "COPY (SELECT 1 AS a) TO 's3://$B/'" >/dev/null 2>"$QK_TMP/err"
  rc=$?
  if [ $rc != 0 ] && grep -q "not an object path" "$QK_TMP/err"; then
    qk_ok "serve: a bad target is a clear error"
  else
    qk_not_ok "serve: a bad target is a clear error" "exit $rc: $(head -c 300 "$QK_TMP/err")"
  fi
else
  qk_not_ok "serve: COPY to s3:// through /query" "server did not start: $(head -c 300 "$QK_LOG")"
fi

qk_done
