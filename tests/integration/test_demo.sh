#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_demo.sh: the `quack demo` command line (docs/demo.md): --help, flag validation and exit
# codes (2 for bad flags, 1 for a lake that cannot be written), the stats table and --json,
# the default lake (QUACK_LAKE, else ./lake), progress on stderr and --quiet, determinism
# (same seed: every file byte-identical, also on another thread count; another seed: other
# bytes), replacing an earlier lake, and the data itself: row counts, 30 day partitions whose
# rows have their day, pickups in April 2019, skewed location ids in 1..265. The data checks
# use DuckDB directly through $QUACK_BUILD/duckq when it is built (tests/unit/test_lake_demo.c
# checks the data in depth either way).
# Env (from CTest): QUACK_BIN, QUACK_BUILD.
set -euo pipefail
Q=${QUACK_BIN:?QUACK_BIN not set}
Q=$(cd "$(dirname "$Q")" && pwd)/$(basename "$Q") # absolute: some checks run in another cwd
DUCKQ=${QUACK_BUILD:+$QUACK_BUILD/duckq}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qk-test-demo-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
ROWS=100000

# expect_exit CODE DESC CMD...: run CMD (stdout in $tmp/out, stderr in $tmp/err), check status.
expect_exit() {
  local want=$1 desc=$2
  shift 2
  local got=0
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || got=$?
  if [ "$got" = "$want" ]; then ok "$desc (exit $got)"
  else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$tmp/err")"; fi
}
contains() { if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: '$2' not in: $(head -c 300 "$1")"; fi; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', want '$3'"; fi; }
# json FILE EXPR: a field of the JSON object in FILE.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# hashes LAKE: sha256 of every data file, by relative path.
hashes() { (cd "$1" && find dataset partitioned -type f | LC_ALL=C sort | xargs sha256sum); }

echo "# help and flags"
expect_exit 0 "quack demo --help" "$Q" demo --help
contains "$tmp/out" "Usage: quack demo" "help has a usage line"
contains "$tmp/out" "generator version" "help names the generator version"
for args in "--rows -1" "--rows abc" "--rows 0" "--rows 100000001" "--rows 1e5" "--seed x" \
            "--threads 0" "--bogus" "--lake" "extra-arg"; do
  # shellcheck disable=SC2086
  expect_exit 2 "quack demo $args" "$Q" demo --lake "$tmp/never" $args
  contains "$tmp/err" "quack demo: " "message for '$args'"
done
check "bad flags create no lake" test ! -e "$tmp/never"
expect_exit 2 "quack demo --rows abc" "$Q" demo --rows abc
contains "$tmp/err" "--rows: expected an integer, got 'abc'" "the message names the flag and value"

echo "# a lake that cannot be written"
expect_exit 1 "lake under /proc" "$Q" demo --lake /proc/quack --rows 10 --quiet
contains "$tmp/err" "quack demo: " "error is prefixed"
contains "$tmp/err" "/proc/quack" "error names the lake"
: >"$tmp/plainfile"
expect_exit 1 "lake is a file" "$Q" demo --lake "$tmp/plainfile" --rows 10 --quiet

echo "# a small lake, twice with the same seed, once with another"
expect_exit 0 "lake a (seed 5, 2 threads)" "$Q" demo --lake "$tmp/a" --rows $ROWS --seed 5 --threads 2 --json
cp "$tmp/out" "$tmp/a.json"
contains "$tmp/err" "generating 100,000 rows" "progress on stderr"
eq "json rows" "$(json "$tmp/a.json" 'j["rows"]')" $ROWS
eq "json dataset rows" "$(json "$tmp/a.json" 'j["dataset"]["rows"]')" $ROWS
eq "json partitioned rows" "$(json "$tmp/a.json" 'j["partitioned"]["rows"]')" $ROWS
eq "json partitions" "$(json "$tmp/a.json" 'j["partitioned"]["partitions"]')" 30
eq "json files" "$(json "$tmp/a.json" 'j["partitioned"]["files"]')" 30
eq "first date" "$(json "$tmp/a.json" 'j["partitioned"]["first_date"]')" 2019-04-01
eq "last date" "$(json "$tmp/a.json" 'j["partitioned"]["last_date"]')" 2019-04-30
eq "min pickup in April 2019" "$(json "$tmp/a.json" 'j["min_pickup_at"][:8]')" 2019-04-
eq "max pickup in April 2019" "$(json "$tmp/a.json" 'j["max_pickup_at"][:8]')" 2019-04-
eq "lake is absolute" "$(json "$tmp/a.json" 'j["lake"]')" "$tmp/a"
eq "dataset bytes = file size" "$(json "$tmp/a.json" 'j["dataset"]["bytes"]')" \
  "$(stat -c %s "$tmp/a/dataset/taxi_2019_04.parquet")"
eq "partition bytes = sum of file sizes" "$(json "$tmp/a.json" 'j["partitioned"]["bytes"]')" \
  "$(find "$tmp/a/partitioned" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')"
eq "30 date= folders" "$(find "$tmp/a/partitioned" -mindepth 1 -maxdepth 1 -type d -name 'date=2019-04-*' | wc -l)" 30
check "no work folder left" test ! -e "$tmp/a/_quack/demo.tmp"

expect_exit 0 "lake b (seed 5, 1 thread, quiet)" "$Q" demo --lake "$tmp/b" --rows $ROWS --seed 5 --threads 1 --quiet
eq "--quiet prints nothing on stderr" "$(wc -c <"$tmp/err")" 0
contains "$tmp/out" "rows        100,000" "stats table"
contains "$tmp/out" "partitions  30 (date=2019-04-01 .. date=2019-04-30)" "partitions line"
hashes "$tmp/a" >"$tmp/a.sha"
hashes "$tmp/b" >"$tmp/b.sha"
eq "31 files" "$(wc -l <"$tmp/a.sha")" 31
if cmp -s "$tmp/a.sha" "$tmp/b.sha"; then ok "same seed: every file byte-identical"
else bad "same seed gave different bytes: $(diff "$tmp/a.sha" "$tmp/b.sha" | head -5)"; fi

expect_exit 0 "lake c (seed 6)" "$Q" demo --lake "$tmp/c" --rows $ROWS --seed 6 --quiet
hashes "$tmp/c" >"$tmp/c.sha"
if [ "$(head -1 "$tmp/a.sha" | cut -d' ' -f1)" != "$(head -1 "$tmp/c.sha" | cut -d' ' -f1)" ]; then
  ok "another seed: other bytes"
else bad "seeds 5 and 6 gave the same dataset file"; fi

echo "# replacing an earlier lake"
mkdir -p "$tmp/c/partitioned/date=2019-05-01"
: >"$tmp/c/partitioned/date=2019-05-01/stale.parquet"
expect_exit 0 "rerun over lake c" "$Q" demo --lake "$tmp/c" --rows 5000 --seed 6 --quiet --json
eq "rerun rows" "$(json "$tmp/out" 'j["rows"]')" 5000
check "old partitions removed" test ! -e "$tmp/c/partitioned/date=2019-05-01"

echo "# the default lake"
mkdir -p "$tmp/cwd"
(cd "$tmp/cwd" && env -u QUACK_LAKE "$Q" demo --rows 1000 --quiet >/dev/null)
check "default lake is ./lake" test -f "$tmp/cwd/lake/dataset/taxi_2019_04.parquet"
(cd "$tmp/cwd" && QUACK_LAKE="$tmp/envlake" "$Q" demo --rows 1000 --quiet >/dev/null)
check "QUACK_LAKE sets the lake" test -f "$tmp/envlake/dataset/taxi_2019_04.parquet"

echo "# the data (DuckDB via duckq)"
if [ -n "$DUCKQ" ] && [ -x "$DUCKQ" ]; then
  F="read_parquet('$tmp/a/dataset/taxi_2019_04.parquet')"
  P="read_parquet('$tmp/a/partitioned/*/*.parquet', hive_partitioning = true)"
  one() { "$DUCKQ" "$1" | tail -n +2 | tr -d '\r'; }
  eq "rows in the file" "$(one "SELECT count(*) FROM $F")" $ROWS
  eq "rows in the partitions" "$(one "SELECT count(*) FROM $P")" $ROWS
  eq "partition rows have their date" "$(one "SELECT count(*) FILTER (pickup_at::DATE <> date) FROM $P")" 0
  eq "pickups in April 2019" \
    "$(one "SELECT count(*) FILTER (pickup_at < '2019-04-01' OR pickup_at >= '2019-05-01') FROM $F")" 0
  eq "location ids in 1..265" "$(one "SELECT count(*) FILTER (pickup_location_id NOT BETWEEN 1 AND 265
    OR dropoff_location_id NOT BETWEEN 1 AND 265) FROM $F")" 0
  eq "top location is many times the median" "$(one "SELECT max(n) >= 20 * median(n) FROM
    (SELECT count(*) AS n FROM $F GROUP BY pickup_location_id)")" true
else
  echo "# skipped: no duckq at '${DUCKQ:-}' (build it; test_lake_demo checks the data too)"
fi

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
