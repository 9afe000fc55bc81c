#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_lake_tables_cli.sh: `quack lake ls` as a table listing (src/cli/cmd_lake.c, catalog.h,
# schema.h; docs/lake-cli.md). A small local lake holds every kind of table: the demo lake (a
# file table and a 30-day hive table), a folder of 2 CSV files, a hive folder of CSV, a file in
# a zone written by COPY, a folder of mixed formats, a Delta folder, a 2 MiB CSV and quack's own
# _quack/. Checked: the aligned listing, --json fields (files, bytes = the sum of the files'
# sizes, partitions, columns), `ls NAME` details whose schema equals DuckDB's own DESCRIBE of
# the same files, unknown names (exit 1), bad flags (exit 2), the object listing forms. Then the
# lake is uploaded to S3 (Ceph RGW, tests/s3/rgw.sh) and `ls --schema` must give the same tables
# and schemas while moving only footers and samples: a byte-counting proxy between quack and
# RGW measures GETs and bytes, the cache stays empty and no temp files are left behind.
# Prints "N passed, N failed"; "SKIP: ..." and exit 0 only when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test laketables quack

# Every quack run gets its own TMPDIR (engine temp dirs, schema mirrors) and cache: both must
# be left without files.
export TMPDIR=$QK_TMP/tmp XDG_CACHE_HOME=$QK_TMP/xdg
mkdir -p "$TMPDIR"

# err CMD...: run, stdout in $QK_TMP/out, stderr in $QK_TMP/err, print the exit code
err() { "$@" >"$QK_TMP/out" 2>"$QK_TMP/err"; echo $?; }
# py EXPR FILE: evaluate EXPR with rows = the JSON lines of FILE, by = rows keyed by name
py() {
  python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
by = {r["name"]: r for r in rows}
v = eval(sys.argv[1])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
# describe FILE_OUT SQL_FROM: DuckDB's own DESCRIBE (through quack query) as [[name, type], ...]
describe() {
  "$Q" query --lake "$L" -F csv -l 1000 "DESCRIBE SELECT * FROM $2" 2>"$QK_TMP/err" |
    python3 -c 'import csv, json, sys; print(json.dumps([[r["column_name"], r["column_type"]] for r in csv.DictReader(sys.stdin)]))' >"$1"
}
sum_sizes() { find "$@" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
no_files_left() { [ -z "$(find "$TMPDIR" "$XDG_CACHE_HOME" -type f 2>/dev/null | head -1)" ]; }

# ---- usage errors need no lake
qk_eq "--schema with a URI exits 2" "$(err "$Q" lake ls s3://b/x --schema)" 2
qk_eq "--schema with --objects exits 2" "$(err "$Q" lake ls --objects --schema)" 2
qk_eq "--schema with --recursive exits 2" "$(err "$Q" lake ls --recursive --schema)" 2
qk_eq "--lake on put exits 2" "$(err "$Q" lake put a b --lake x)" 2
qk_eq "--objects on rm exits 2" "$(err "$Q" lake rm a --objects)" 2
qk_eq "--lake without a value exits 2" "$(err "$Q" lake ls --lake)" 2
qk_eq "two arguments exit 2" "$(err "$Q" lake ls a b)" 2
qk_eq "unterminated quote in a name exits 2" "$(err "$Q" lake ls '"raw.climate')" 2
qk_eq "four-part name exits 2" "$(err "$Q" lake ls a.b.c.d)" 2
qk_eq "unknown flag exits 2" "$(err "$Q" lake ls --frob)" 2
qk_check "ls --help documents the three forms" bash -c \
  "'$Q' lake ls --help | grep -q '^Usage: quack lake ls' && '$Q' lake ls --help | grep -q 'quack lake ls NAME' && '$Q' lake ls --help | grep -q -- '--objects'"
qk_eq "a missing local lake exits 1" "$(err "$Q" lake ls --lake "$QK_TMP/nolake")" 1
qk_check "  and says so" grep -q "^quack lake ls: lake .*nolake is not a directory" "$QK_TMP/err"

# ---- the local lake
L=$QK_TMP/lake
"$Q" demo --lake "$L" --rows 20000 --quiet >/dev/null 2>"$QK_TMP/err" ||
  { cat "$QK_TMP/err" >&2; qk_not_ok "demo lake"; qk_done; exit 1; }
mkdir -p "$L/raw/climate" "$L/raw/events/year=2020" "$L/raw/events/year=2021" "$L/mixed" \
  "$L/silver/trips/_delta_log" "$L/_quack/runs" "$L/gold"
printf 'station,temp,day\nA,1.5,2024-01-01\nB,2.25,2024-01-02\n' >"$L/raw/climate/a.csv"
printf 'station,temp,day\nC,3.5,2024-01-03\n' >"$L/raw/climate/b.csv"
printf 'id,kind\n1,click\n2,view\n' >"$L/raw/events/year=2020/part.csv"
printf 'id,kind\n3,click\n' >"$L/raw/events/year=2021/part.csv"
printf 'a\n1\n' >"$L/mixed/a.csv"
printf '{"a": 1}\n' >"$L/mixed/b.json"
printf '{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}\n' \
  >"$L/silver/trips/_delta_log/00000000000000000000.json"
cp "$L/dataset/taxi_2019_04.parquet" "$L/silver/trips/part-00000.parquet"
printf '{"run": 1}\n' >"$L/_quack/runs/1.json"
# 2.x MiB of CSV: on S3 only its first 1 MiB may be read
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,name,score,seen\n")
    for i in range(70000):
        f.write("%d,name_%d,%d.%02d,2024-02-%02d 10:00:00\n" % (i, i, i % 97, i % 100, i % 28 + 1))' \
  "$L/raw/big.csv"
"$Q" query --lake "$L" "COPY (SELECT vendor_id, count(*)::BIGINT AS trips, round(sum(total_amount), 2) AS total FROM read_parquet('$L/dataset/taxi_2019_04.parquet') GROUP BY 1) TO '$L/gold/summary.parquet' (FORMAT parquet)" \
  >/dev/null 2>"$QK_TMP/err" || { cat "$QK_TMP/err" >&2; qk_not_ok "COPY gold/summary.parquet"; }
TABLES="dataset.taxi_2019_04 gold.summary mixed partitioned raw.big raw.climate raw.events silver.trips"

qk_eq "ls exits 0" "$(err "$Q" lake ls --lake "$L")" 0
cp "$QK_TMP/out" "$QK_TMP/ls.txt"
qk_eq "  header" "$(head -1 "$QK_TMP/ls.txt" | tr -s ' ')" "NAME KIND FORMAT FILES BYTES PARTITIONS"
qk_eq "  one line per table, sorted, no _quack" "$(tail -n +2 "$QK_TMP/ls.txt" | awk '{print $1}' | tr '\n' ' ')" "$TABLES "
qk_eq "  partitioned line" "$(grep '^partitioned ' "$QK_TMP/ls.txt" | tr -s ' ' | sed 's/ [0-9.]* KiB / BYTES /')" \
  "partitioned hive parquet 30 BYTES 30 (date)"
qk_eq "  raw.events line" "$(grep '^raw.events ' "$QK_TMP/ls.txt" | tr -s ' ')" \
  "raw.events hive csv 2 $(sum_sizes "$L/raw/events") B 2 (year)"
qk_eq "  raw.climate line" "$(grep '^raw.climate ' "$QK_TMP/ls.txt" | tr -s ' ')" \
  "raw.climate folder csv 2 $(sum_sizes "$L/raw/climate") B -"
qk_eq "  silver.trips is a delta table" "$(grep '^silver.trips ' "$QK_TMP/ls.txt" | awk '{print $2, $3, $4}')" "delta delta 1"
qk_eq "  mixed folder" "$(grep '^mixed ' "$QK_TMP/ls.txt" | awk '{print $2, $3, $4}')" "folder mixed 2"
qk_eq "  columns aligned" "$(awk 'NR == 1 {h = index($0, "PARTITIONS")} /^partitioned / {p = index($0, "30 (date)")} END {print (h > 0 && h == p)}' "$QK_TMP/ls.txt")" 1
qk_eq "QUACK_LAKE gives the same listing" "$(QUACK_LAKE=$L "$Q" lake ls | md5sum)" "$(md5sum <"$QK_TMP/ls.txt")"

qk_eq "ls --json exits 0" "$(err "$Q" lake ls --lake "$L" --json)" 0
cp "$QK_TMP/out" "$QK_TMP/ls.json"
qk_eq "  one object per table" "$(py '" ".join(r["name"] for r in rows)' "$QK_TMP/ls.json")" "${TABLES% }"
qk_eq "  partitioned: files, partitions, columns" \
  "$(py '[by["partitioned"][k] for k in ("kind", "format", "files", "partitions", "partition_columns")]' "$QK_TMP/ls.json")" \
  '["hive", "parquet", 30, 30, ["date"]]'
qk_eq "  partitioned: bytes = the sum of the file sizes" "$(py 'by["partitioned"]["bytes"]' "$QK_TMP/ls.json")" \
  "$(sum_sizes "$L/partitioned")"
qk_eq "  raw.climate: 2 files, their bytes" "$(py '[by["raw.climate"]["files"], by["raw.climate"]["bytes"]]' "$QK_TMP/ls.json")" \
  "[2, $(sum_sizes "$L/raw/climate")]"
qk_eq "  dataset.taxi_2019_04: a file table" "$(py '[by["dataset.taxi_2019_04"][k] for k in ("kind", "path", "location", "bytes")]' "$QK_TMP/ls.json")" \
  "[\"file\", \"dataset/taxi_2019_04.parquet\", \"$L/dataset/taxi_2019_04.parquet\", $(sum_sizes "$L/dataset")]"
qk_eq "  gold.summary: the zone's file" "$(py 'by["gold.summary"]["kind"] + " " + by["gold.summary"]["path"]' "$QK_TMP/ls.json")" \
  "file gold/summary.parquet"
qk_eq "  mtime_ms and modified" "$(py 'all(r["mtime_ms"] > 0 and r["modified"].endswith("Z") for r in rows)' "$QK_TMP/ls.json")" true
qk_eq "  no schema without --schema" "$(py 'any("schema" in r for r in rows)' "$QK_TMP/ls.json")" false

# ---- schemas equal DuckDB's own DESCRIBE of the same files
describe "$QK_TMP/want.partitioned" "read_parquet('$L/partitioned/*/*.parquet', hive_partitioning=1)"
describe "$QK_TMP/want.dataset" "read_parquet('$L/dataset/taxi_2019_04.parquet')"
describe "$QK_TMP/want.summary" "read_parquet('$L/gold/summary.parquet')"
describe "$QK_TMP/want.climate" "read_csv(['$L/raw/climate/a.csv', '$L/raw/climate/b.csv'])"
describe "$QK_TMP/want.events" "read_csv('$L/raw/events/*/*.csv', hive_partitioning=1)"
describe "$QK_TMP/want.big" "read_csv('$L/raw/big.csv')"
qk_eq "DuckDB's DESCRIBE of partitioned has date last" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[-1])' "$QK_TMP/want.partitioned")" "['date', 'DATE']"
# same_schema NAME WANT_FILE JSON_FILE: the table's "schema" equals WANT
same_schema() {
  local got
  got=$(py "[[c['name'], c['type']] for c in by['$1']['schema']]" "$3")
  qk_eq "$4: $1 schema equals DuckDB's DESCRIBE" "$got" "$(cat "$2")"
}
qk_eq "ls partitioned --json exits 0" "$(err "$Q" lake ls --lake "$L" partitioned --json)" 0
same_schema partitioned "$QK_TMP/want.partitioned" "$QK_TMP/out" local
qk_eq "ls --schema --json exits 0" "$(err "$Q" lake ls --lake "$L" --schema --json)" 0
cp "$QK_TMP/out" "$QK_TMP/local.json"
same_schema partitioned "$QK_TMP/want.partitioned" "$QK_TMP/local.json" "local list"
same_schema dataset.taxi_2019_04 "$QK_TMP/want.dataset" "$QK_TMP/local.json" "local list"
same_schema gold.summary "$QK_TMP/want.summary" "$QK_TMP/local.json" "local list"
same_schema raw.climate "$QK_TMP/want.climate" "$QK_TMP/local.json" "local list"
same_schema raw.events "$QK_TMP/want.events" "$QK_TMP/local.json" "local list"
same_schema raw.big "$QK_TMP/want.big" "$QK_TMP/local.json" "local list"
qk_eq "  delta and mixed: schema null with the reason" \
  "$(py '[by[n]["schema"] is None and "schema_error" in by[n] for n in ("silver.trips", "mixed")]' "$QK_TMP/local.json")" "[true, true]"

qk_eq "ls --schema exits 0" "$(err "$Q" lake ls --lake "$L" --schema)" 0
qk_eq "  SCHEMA column" "$(head -1 "$QK_TMP/out" | tr -s ' ')" "NAME KIND FORMAT FILES BYTES PARTITIONS SCHEMA"
qk_check "  compact schema of raw.climate" grep -q "^raw.climate .* station VARCHAR, temp DOUBLE, day DATE$" "$QK_TMP/out"
qk_check "  long schemas are cut with a column count" grep -q "^partitioned .*, \.\.\. (18 columns)$" "$QK_TMP/out"
qk_check "  delta schema unknown" grep -q "^silver.trips .*(unknown)$" "$QK_TMP/out"

qk_eq "ls partitioned exits 0" "$(err "$Q" lake ls --lake "$L" partitioned)" 0
qk_check "  partitions line" grep -q "^partitions  30 (date)$" "$QK_TMP/out"
qk_check "  location line" grep -qF "location    $L/partitioned" "$QK_TMP/out"
qk_check "  columns count" grep -q "^columns     18$" "$QK_TMP/out"
qk_check "  date is the partition column" grep -q "^  date  *DATE  (partition)$" "$QK_TMP/out"
qk_eq "a quoted, mixed-case name finds raw.climate" "$(err "$Q" lake ls --lake "$L" '"raw".CLIMATE'; head -1 "$QK_TMP/out")" \
  "0
name        raw.climate"
qk_eq "ls silver.trips (Delta) exits 0" "$(err "$Q" lake ls --lake "$L" silver.trips)" 0
qk_check "  schema unknown, says Delta" grep -q "^columns     unknown (.*Delta" "$QK_TMP/out"
qk_eq "unknown table exits 1" "$(err "$Q" lake ls --lake "$L" nosuch)" 1
qk_check "  no table NAME in LAKE" grep -q "^quack lake ls: no table nosuch in $L" "$QK_TMP/err"

# ---- objects, as before
NDIRS=$(find "$L" -mindepth 1 -maxdepth 1 -type d | wc -l)
qk_eq "ls PATH lists objects" "$(err "$Q" lake ls "$L"; grep -c ' PRE ' "$QK_TMP/out")" "0
$NDIRS"
qk_eq "ls --objects lists the lake's objects" "$("$Q" lake ls --objects --lake "$L" | md5sum)" "$("$Q" lake ls "$L" | md5sum)"
qk_eq "ls ./NAME lists the directory" \
  "$(cd "$L" && "$Q" lake ls ./raw | sed -E 's/^ +PRE //; s/^[0-9-]+ [0-9:]+ +[0-9]+ //' | tr '\n' '|')" "climate/|events/|big.csv|"
qk_eq "ls --recursive lists every object" "$("$Q" lake ls --lake "$L" --recursive | wc -l)" "$(find "$L" -type f | wc -l)"
qk_check "nothing left in TMPDIR or the cache" no_files_left

# ---- the same lake on S3
qk_rgw_up "$STATE"
qk_s3_env
B="qk-laketables-$$"
S="s3://$B/lake"
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }
qk_eq "put the lake" "$(err "$Q" lake put "$L" "$S" --quiet)" 0

# A proxy that counts requests and the bytes RGW sends back (stats in JSON, rewritten on each
# chunk); quack talks to RGW through it.
cat >"$QK_TMP/countproxy.py" <<'PY'
import json, os, re, socket, sys, threading
port_file, upstream, stats_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
st = {"get": 0, "list": 0, "head": 0, "other": 0, "down": 0}
req = re.compile(rb"^(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.[01]$")
def save():
    with open(stats_file + ".tmp", "w") as f:
        json.dump(st, f)
    os.replace(stats_file + ".tmp", stats_file)
def pump(src, dst, down):
    pending = b""
    try:
        while True:
            d = src.recv(65536)
            if not d:
                break
            with lock:
                if down:
                    st["down"] += len(d)
                else:
                    pending += d
                    *lines, pending = pending.split(b"\r\n")
                    for l in lines:
                        m = req.match(l)
                        if m:
                            k = m.group(1).decode().lower()
                            if k == "get" and b"list-type=" in m.group(2):
                                k = "list"
                            st[k if k in st else "other"] += 1
                save()
            dst.sendall(d)  # counted first: when quack has the bytes, the stats have them
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(c):
    u = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pump, args=(u, c, True), daemon=True).start()
    pump(c, u, False)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
save()
with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.replace(port_file + ".tmp", port_file)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
UP_PORT=${AWS_ENDPOINT_URL##*:}
python3 "$QK_TMP/countproxy.py" "$QK_TMP/px.port" "$UP_PORT" "$QK_TMP/px.json" 2>"$QK_TMP/px.log" &
PX_PID=$!
QK_BG+=("$PX_PID")
for _ in $(seq 100); do [ -s "$QK_TMP/px.port" ] && break; sleep 0.05; done
[ -s "$QK_TMP/px.port" ] || { qk_not_ok "count proxy starts" "$(cat "$QK_TMP/px.log")"; qk_done; exit 1; }
export AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$QK_TMP/px.port")
# px_mark: remember the proxy's counters; px_delta FIELD: how much FIELD grew since
px_mark() { cp "$QK_TMP/px.json" "$QK_TMP/px.mark"; }
px_delta() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[3]] - json.load(open(sys.argv[2]))[sys.argv[3]])' \
    "$QK_TMP/px.json" "$QK_TMP/px.mark" "$1"
}
# norm FILE: the JSON lines without the fields that name where or when
norm() {
  python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    for k in ("location", "mtime_ms", "modified"):
        r.pop(k, None)
    print(json.dumps(r, sort_keys=True))' "$1"
}

px_mark
qk_eq "S3: ls exits 0" "$(err "$Q" lake ls --lake "$S")" 0
qk_eq "  same lines as the local lake" "$(tail -n +2 "$QK_TMP/out" | tr -s ' ' | md5sum)" "$(tail -n +2 "$QK_TMP/ls.txt" | tr -s ' ' | md5sum)"
qk_eq "  listing only: no object GETs" "$(px_delta get)" 0

px_mark
qk_eq "S3: ls --json --schema exits 0" "$(err "$Q" lake ls --lake "$S" --json --schema)" 0
cp "$QK_TMP/out" "$QK_TMP/s3.json"
qk_eq "  same tables, fields and schemas as the local lake" "$(norm "$QK_TMP/s3.json" | md5sum)" "$(norm "$QK_TMP/local.json" | md5sum)"
same_schema partitioned "$QK_TMP/want.partitioned" "$QK_TMP/s3.json" S3
same_schema raw.big "$QK_TMP/want.big" "$QK_TMP/s3.json" S3
qk_eq "  locations are s3:// URIs" "$(py 'by["partitioned"]["location"]' "$QK_TMP/s3.json")" "$S/partitioned"
gets=$(px_delta get) down=$(px_delta down)
qk_eq "  one GET per readable table (6), none for delta and mixed" "$gets" 6
lake_bytes=$(sum_sizes "$L")
# at most a 64 KiB tail per Parquet table, the 1 MiB sample of raw/big, small CSVs, listings
qk_check "  bytes received ($down) < 1.25 MiB, the lake has $lake_bytes" test "$down" -lt 1310720
qk_check "nothing left in TMPDIR or the cache" no_files_left

big=$(stat -c %s "$L/dataset/taxi_2019_04.parquet")
px_mark
qk_eq "S3: ls dataset.taxi_2019_04 --json exits 0" "$(err "$Q" lake ls --lake "$S" dataset.taxi_2019_04 --json)" 0
same_schema dataset.taxi_2019_04 "$QK_TMP/want.dataset" "$QK_TMP/out" "S3 detail"
down=$(px_delta down)
qk_eq "  one GET (the footer)" "$(px_delta get)" 1
qk_check "  bytes received ($down) <= 64 KiB + listings, the file is $big" test "$down" -lt 81920
px_mark
qk_eq "S3: ls raw.big exits 0" "$(err "$Q" lake ls --lake "$S" raw.big)" 0
qk_check "  columns" grep -q "^  seen   TIMESTAMP$" "$QK_TMP/out"
down=$(px_delta down)
qk_check "  bytes received ($down) about the 1 MiB sample, the file is $(sum_sizes "$L/raw/big.csv")" \
  test "$down" -gt 1000000 -a "$down" -lt 1114112
qk_eq "S3: ls partitioned (text)" "$(err "$Q" lake ls --lake "$S" partitioned; grep -c '' "$QK_TMP/out")" "0
27"
qk_check "  location" grep -q "^location    $S/partitioned$" "$QK_TMP/out"
qk_check "  date is the partition column" grep -q "^  date  *DATE  (partition)$" "$QK_TMP/out"
qk_eq "S3: unknown table exits 1" "$(err "$Q" lake ls --lake "$S" nosuch)" 1
qk_check "  no table NAME in LAKE" grep -q "^quack lake ls: no table nosuch in $S" "$QK_TMP/err"
qk_eq "S3: ls URI still lists objects" "$("$Q" lake ls "$S" | grep -c ' PRE ')" "$NDIRS"
qk_check "nothing left in TMPDIR or the cache" no_files_left

qk_done
