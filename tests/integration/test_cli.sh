#!/usr/bin/env bash
# test_cli.sh: the command-line surface. Every command has --help; `quack query` takes SQL from
# -q, a positional argument, -f and stdin and prints the same bytes; formats; exit codes 0/1/2;
# the LIMIT wrap keeps memory small on the 7.4M-row file (peak RSS measured).
# Env (from CTest): QUACK_BIN, QUACK_TEST_LAKE.
set -euo pipefail
Q=${QUACK_BIN:?QUACK_BIN not set}
LAKE=${QUACK_TEST_LAKE:?QUACK_TEST_LAKE not set}
PQ="$LAKE/dataset/taxi_2019_04.parquet"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
# expect_exit CODE DESC CMD...: run CMD, check its exit status.
expect_exit() {
  local want=$1 desc=$2; shift 2
  local got=0
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || got=$?
  if [ "$got" = "$want" ]; then ok "$desc (exit $got)"; else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$tmp/err")"; fi
}
contains() { if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: '$2' not in $(head -c 400 "$1")"; fi; }

# --- help for every command ---------------------------------------------------------------
expect_exit 0 "quack --help" "$Q" --help
cmds=$(awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{f=0}' "$tmp/out")
[ -n "$cmds" ] || bad "no commands listed in quack --help"
for c in $cmds; do
  expect_exit 0 "quack $c --help" "$Q" "$c" --help
  if grep -q "^Usage: quack $c" "$tmp/out" && [ "$(wc -l <"$tmp/out")" -ge 3 ]; then ok "$c has help text"
  else bad "$c --help has no real help text: $(head -c 200 "$tmp/out")"; fi
done
expect_exit 2 "quack with no command" "$Q"
expect_exit 2 "unknown command" "$Q" frobnicate
contains "$tmp/err" "unknown command 'frobnicate'" "unknown command named"
expect_exit 0 "quack help query" "$Q" help query

# --- SQL sources give identical output ----------------------------------------------------
sql="SELECT pickup_location_id, count(*) AS n FROM read_parquet('$PQ') WHERE pickup_at < '2019-04-02' GROUP BY 1 ORDER BY n DESC, 1 LIMIT 5"
"$Q" query --lake "$LAKE" -F csv -q "$sql" >"$tmp/a.csv"
"$Q" query --lake "$LAKE" -F csv "$sql" >"$tmp/b.csv"
echo "$sql" >"$tmp/q.sql"
"$Q" query --lake "$LAKE" -F csv -f "$tmp/q.sql" >"$tmp/c.csv"
echo "$sql" | "$Q" query --lake "$LAKE" -F csv >"$tmp/d.csv"
if cmp -s "$tmp/a.csv" "$tmp/b.csv" && cmp -s "$tmp/a.csv" "$tmp/c.csv" && cmp -s "$tmp/a.csv" "$tmp/d.csv"; then
  ok "-q, positional, -f and stdin give the same bytes"
else bad "SQL sources differ"; fi
[ "$(wc -l <"$tmp/a.csv")" = 6 ] && ok "csv: header + 5 rows" || bad "csv rows: $(cat "$tmp/a.csv")"

# --- the seed's default query -------------------------------------------------------------
"$Q" query --lake "$LAKE" </dev/null >"$tmp/default.txt"
contains "$tmp/default.txt" "COUNTS" "default query column COUNTS"
contains "$tmp/default.txt" "roundtripMs" "table output has the metadata box"
want=$("$Q" query --lake "$LAKE" -F csv -q "SELECT count(*) FROM read_parquet('$PQ')" | tail -n 1 | tr -d '\r')
grep -q "│ *$want │" "$tmp/default.txt" && ok "default query counts $want rows" || bad "default count: $(cat "$tmp/default.txt")"
"$Q" query --lake "$LAKE" -F json </dev/null >"$tmp/default.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d==[{'COUNTS': int(sys.argv[2])}], d" "$tmp/default.json" "$want" \
  && ok "default query as json" || bad "default json: $(cat "$tmp/default.json")"

# --- paths relative to the working directory, as the README writes them --------------------
rel=$(basename "$LAKE")
got=$(cd "$(dirname "$LAKE")" && "$Q" query --lake "$rel" -F csv -q "SELECT count(*) AS n FROM '$rel/dataset/taxi_2019_04.parquet'" | tail -n 1 | tr -d '\r')
[ "$got" = "$want" ] && ok "relative lake path in SQL works ($got rows)" || bad "relative path: got '$got'"
(cd "$(dirname "$LAKE")" && "$Q" query --lake "$rel" -q "SELECT * FROM read_csv('$rel/../../../etc/passwd')") >/dev/null 2>"$tmp/err" \
  && bad "relative escape allowed" || ok "relative path escaping the lake is refused"

# --- formats --------------------------------------------------------------------------------
"$Q" query --lake "$LAKE" -F json -l 3 -q "SELECT range AS i, 'a,\"b' AS s FROM range(10)" >"$tmp/j"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d==[{'i':0,'s':'a,\"b'},{'i':1,'s':'a,\"b'},{'i':2,'s':'a,\"b'}], d" "$tmp/j" \
  && ok "json array of records, limit 3" || bad "json: $(cat "$tmp/j")"
"$Q" query --lake "$LAKE" -F ndjson -l 3 -q "SELECT range AS i FROM range(10)" >"$tmp/nd"
[ "$(wc -l <"$tmp/nd")" = 3 ] && ok "ndjson: 3 lines" || bad "ndjson: $(cat "$tmp/nd")"
"$Q" query --lake "$LAKE" -F csv -q "SELECT 'a,\"b' AS s" >"$tmp/c"
printf 's\r\n"a,""b"\r\n' | cmp -s - "$tmp/c" && ok "csv quoting (RFC 4180)" || bad "csv: $(od -c "$tmp/c" | head)"
"$Q" query --lake "$LAKE" -l 20 -q "SELECT * FROM read_parquet('$PQ')" >"$tmp/t"
contains "$tmp/t" "truncated" "table metadata"
grep -q "│ *20 │ *true *│" "$tmp/t" && ok "limit 20 of 7.4M rows: rows 20, truncated true" || bad "meta: $(head -5 "$tmp/t")"

# --- errors and exit codes ----------------------------------------------------------------
expect_exit 1 "invalid SQL" "$Q" query --lake "$LAKE" -q "SELEC 1"
contains "$tmp/err" "Parser Error" "parser error shown"
expect_exit 1 "two statements" "$Q" query --lake "$LAKE" -q "SELECT 1; SELECT 2"
contains "$tmp/err" "one SQL statement" "multiple statements refused"
expect_exit 1 "file outside the lake" "$Q" query --lake "$LAKE" -q "SELECT * FROM read_csv('/etc/passwd')"
contains "$tmp/err" "Permission" "sandbox error shown"
expect_exit 1 "missing lake" "$Q" query --lake /nonexistent/lake -q "SELECT 1"
contains "$tmp/err" "/nonexistent/lake" "missing lake named"
expect_exit 1 "timeout" "$Q" query --lake "$LAKE" --timeout 0.3 -q "SELECT count(*) FROM range(100000000) a, range(1000) b"
contains "$tmp/err" "timeout" "timeout explained"
expect_exit 1 "unreachable endpoint" "$Q" query --endpoint http://127.0.0.1:1 -q "SELECT 1"
contains "$tmp/err" "cannot reach" "unreachable endpoint explained"
expect_exit 2 "negative limit" "$Q" query --lake "$LAKE" --limit -1
expect_exit 2 "non-numeric limit" "$Q" query --lake "$LAKE" --limit ten
expect_exit 2 "bad format" "$Q" query --lake "$LAKE" --format xml
expect_exit 2 "unknown flag" "$Q" query --lake "$LAKE" --frob
expect_exit 2 "two SQL sources" "$Q" query --lake "$LAKE" -q "SELECT 1" "SELECT 2"
expect_exit 2 "missing -f file (a bad argument)" "$Q" query --lake "$LAKE" -f /nonexistent.sql
expect_exit 2 "bad timeout" "$Q" query --lake "$LAKE" --timeout soon

# --- the row limit does not materialize the rows it will not return ------------------------
# Peak RSS of SELECT * over the 7.4M-row file with limit 20, against the same query with a
# limit that returns every row (which must materialize them): a memory bound, not a timing.
peak() { python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
}
small=$(peak "$Q" query --lake "$LAKE" --threads 2 -F csv -l 20 -q "SELECT * FROM read_parquet('$PQ')")
big=$(peak "$Q" query --lake "$LAKE" --threads 2 -F csv -l 1000000000 --max-bytes 1k -q "SELECT * FROM read_parquet('$PQ')")
echo "     peak RSS: limit 20 -> ${small} MB; all rows materialized -> ${big} MB"
if [ "$small" -lt 300 ] && [ "$big" -gt $((small * 3)) ]; then ok "limit 20 keeps memory small (${small} MB vs ${big} MB)"
else bad "limit 20 peak ${small} MB vs ${big} MB"; fi

echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
