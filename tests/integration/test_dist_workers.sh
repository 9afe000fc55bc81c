#!/usr/bin/env bash
# test_dist_workers.sh: quack-reduce over real worker processes (docs/distributed.md).
#   1. POST /map on `quack serve`: the answer's Parquet (base64) hashes to its sha256 and
#      reads back; bad tasks, non-SELECT map SQL and a missing token are refused
#   2. --explain-distributed: a split plan, an unsplit one
#   3. spill: every partial through <lake>/_quack/partials/, cleaned up after
#   4. faults: a worker killed mid-query; a hanging worker (faultproxy --delay-ms) where the
#      backup copy wins; truncated answers (faultproxy --truncate-rate 1) retried elsewhere;
#      every worker dead -> a clear error; the query's timeout; a busy worker (429) whose
#      refusals are resent after a backoff, not counted as failed attempts
#   5. a coordinator server: POST /query with "distributed": true (same records, stats,
#      X-Quack-Shards), and a server without workers refusing it
#   6. the Lambda transport through tests/tools/lambda_emu with 2 runtimes
# Whether distributed answers equal single-node ones, query by query, is test_dist_diff.sh.
# Results here are compared with `same`: CSV cell by cell (rows sorted when asked; floats to
# 1e-9 relative, since a distributed sum adds in another order).
. "$(dirname "$0")/lib.sh"
qk_init
FP=$QUACK_BUILD/faultproxy
EMU_BIN=$QUACK_BUILD/lambda_emu
PART="$QK_LAKE/partitioned/*/*.parquet"
PQ="$QK_LAKE/dataset/taxi_2019_04.parquet"
SHARD=12MB # about 10 shards over the demo lake's 30 day files

# start_worker: a `quack serve` worker; appends its URL to WORKERS and its pid to WPIDS.
WORKERS=()
WPIDS=()
start_worker() {
  qk_start_server --max-concurrency 8 "$@" || exit 1
  WORKERS+=("$QK_URL")
  WPIDS+=("$QK_PID")
}
start_worker
start_worker
start_worker
ALL=$(IFS=,; echo "${WORKERS[*]}")

# start_proxy NAME UPSTREAM_URL [fault options]: sets FP_URL, FP_PID, FP_STATS.
start_proxy() {
  local name=$1 up=${2#http://} pf=$QK_TMP/$1.port
  shift 2
  FP_STATS=$QK_TMP/$name.stats
  "$FP" --listen 127.0.0.1:0 --upstream "$up" --port-file "$pf" --stats-file "$FP_STATS" "$@" \
    2>"$QK_TMP/$name.log" &
  FP_PID=$!
  QK_PIDS+=("$FP_PID")
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
  FP_URL="http://127.0.0.1:$(cat "$pf")"
}

# same A B [sorted]: CSV files equal, cell by cell (floats to 1e-9 relative).
same() {
  python3 - "$@" <<'PY'
import csv, math, sys
def rows(p):
    return list(csv.reader(open(p, newline="")))
a, b = rows(sys.argv[1]), rows(sys.argv[2])
if len(sys.argv) > 3:
    a = a[:1] + sorted(a[1:]); b = b[:1] + sorted(b[1:])
def cell_eq(x, y):
    if x == y:
        return True
    try:
        fx, fy = float(x), float(y)
    except ValueError:
        return False
    return math.isclose(fx, fy, rel_tol=1e-9, abs_tol=1e-12)
if len(a) != len(b) or len(a) < 1:
    print(f"rows: {len(a)} vs {len(b)}"); sys.exit(1)
for i, (ra, rb) in enumerate(zip(a, b)):
    if len(ra) != len(rb) or not all(cell_eq(x, y) for x, y in zip(ra, rb)):
        print(f"row {i}: {ra[:6]} vs {rb[:6]}"); sys.exit(1)
PY
}

single() { "$QUACK_BIN" query --lake "$QK_LAKE" -F csv -l 1000000 -q "$1" >"$QK_TMP/single" 2>"$QK_TMP/single.err"; }
dist() {
  local sql=$1
  shift
  "$QUACK_BIN" query --lake "$QK_LAKE" -F csv -l 1000000 --shard-size "$SHARD" "$@" -q "$sql" \
    >"$QK_TMP/dist" 2>"$QK_TMP/dist.err"
}

# ---- 1. POST /map ------------------------------------------------------------------------------
QID=6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f
QK_URL=${WORKERS[0]}
task() { python3 -c 'import json,sys; print(json.dumps({"task":"map","queryId":sys.argv[1],"shard":int(sys.argv[2]),"attempt":1,"sql":sys.argv[3]}))' "$QID" "$1" "$2"; }
st=$(qk_post /map "$(task 3 "SELECT vendor_id, count(*) AS n FROM read_parquet('$PQ') GROUP BY 1")")
qk_eq "/map answers 200" "$st" 200
python3 - "$QK_BODY" "$QK_TMP/p.parquet" <<'PY' && qk_ok "/map: base64 Parquet matches sha256 and bytes" || qk_not_ok "/map answer"
import base64, hashlib, json, sys
j = json.load(open(sys.argv[1]))
b = base64.b64decode(j["parquet"], validate=True)
assert j["shard"] == 3 and j["attempt"] == 1 and j["rows"] == 2, j
assert len(b) == j["bytes"] and hashlib.sha256(b).hexdigest() == j["sha256"]
assert b[:4] == b"PAR1" and b[-4:] == b"PAR1"
open(sys.argv[2], "wb").write(b)
PY
got=$("$QUACK_BIN" query --lake "$QK_TMP" -F csv -q "SELECT sum(n) FROM '$QK_TMP/p.parquet'" | tail -1 | tr -d '\r')
qk_eq "/map: the partial reads back" "$got" 7433139
st=$(qk_post /map '{"task":"map","shard":0}')
qk_eq "/map: a task without queryId is 400 BadRequest" "$st $(qk_json "$QK_BODY" 'j["errorType"]')" "400 BadRequest"
st=$(qk_post /map "$(task 0 "COPY (SELECT 1) TO '$QK_TMP/evil.csv'")")
qk_eq "/map: non-SELECT map SQL is refused" "$st $(qk_json "$QK_BODY" 'j["errorType"]')" "400 BadRequest"
qk_check "/map: nothing was written" test ! -e "$QK_TMP/evil.csv"
st=$(qk_post /map "$(task 0 "SELECT nope FROM range(3)")")
qk_eq "/map: a SQL error keeps DuckDB's type" "$st $(qk_json "$QK_BODY" 'j["errorType"]')" "400 BinderException"
qk_start_server --token s3cret || exit 1
st=$(qk_post /map "$(task 0 "SELECT 1")")
qk_eq "/map: needs the token" "$st" 401
st=$(qk_post /map "$(task 0 "SELECT 1")" -H "Authorization: Bearer s3cret")
qk_eq "/map: with the token" "$st" 200
TOKEN_URL=$QK_URL

# ---- 2. --explain-distributed --------------------------------------------------------------------
SPLIT_SQL="SELECT vendor_id, count(*) AS n, sum(passenger_count) AS p FROM read_parquet('$PART') GROUP BY 1 ORDER BY 1"
out=$("$QUACK_BIN" query --lake "$QK_LAKE" --explain-distributed --shard-size "$SHARD" -q "$SPLIT_SQL" 2>&1)
qk_check "explain: a split plan names shards, map and reduce SQL" \
  bash -c '[[ "$1" == split:* && "$1" == *"map SQL"* && "$1" == *"reduce SQL"* ]]' _ "$out"
out=$("$QUACK_BIN" query --lake "$QK_LAKE" --explain-distributed -q "SELECT 42" 2>&1)
qk_check "explain: an unsplit plan says why" bash -c '[[ "$1" == "not split"* ]]' _ "$out"

# ---- 3. spill through the lake's store ----------------------------------------------------------
q="SELECT pickup_location_id, dropoff_location_id, count(*) AS n FROM read_parquet('$PART') GROUP BY ALL ORDER BY 3 DESC, 1, 2 LIMIT 30"
single "$q"
dist "$q" --workers "$ALL" --spill-threshold 1KB
qk_check "spill: every partial through the store, same result" same "$QK_TMP/single" "$QK_TMP/dist"
left=$(find "$QK_LAKE/_quack/partials" -type f 2>/dev/null | wc -l)
qk_eq "spill: no partial objects left behind" "$left" 0

# ---- 4. faults --------------------------------------------------------------------------------------
SLOW="SELECT vendor_id, count(*) AS n, max(md5(md5(md5(CAST(pickup_at AS VARCHAR) || CAST(trip_distance AS VARCHAR))))) AS m FROM read_parquet('$PART') GROUP BY 1 ORDER BY 1"
single "$SLOW"
cp "$QK_TMP/single" "$QK_TMP/slow.expected"

# A worker killed mid-query: its tasks go to the others.
start_worker
VICTIM=$QK_PID
"$QUACK_BIN" query --lake "$QK_LAKE" -F csv --shard-size 5MB --parallel 4 \
  --workers "${WORKERS[0]},${WORKERS[1]},$QK_URL" -q "$SLOW" >"$QK_TMP/kill.out" 2>"$QK_TMP/kill.err" &
QPID=$!
sleep 0.8
{ kill -KILL "$VICTIM"; wait "$VICTIM"; } 2>/dev/null
wait "$QPID"
qk_eq "kill: the query still succeeds" "$?" 0
qk_check "kill: the result is still correct" same "$QK_TMP/slow.expected" "$QK_TMP/kill.out"
qk_check "kill: the lost tasks were retried" grep -q dist_attempt_failed "$QK_TMP/kill.err"

# A hanging worker: every answer from it is held 30 s; backup copies win long before.
start_proxy hang "${WORKERS[2]}" --delay-ms 30000 --delay-rate 1
t0=$(date +%s%N)
dist "$SLOW" --workers "${WORKERS[0]},${WORKERS[1]},$FP_URL"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
qk_eq "hang: the query succeeds" "$rc" 0
qk_check "hang: the result is correct" same "$QK_TMP/slow.expected" "$QK_TMP/dist"
qk_check "hang: backups won long before the 30 s delay ($ms ms)" test "$ms" -lt 20000
qk_check "hang: backup copies were sent" grep -q dist_backup "$QK_TMP/dist.err"

# Truncated answers: detected (short read), retried on the other workers.
start_proxy cut "${WORKERS[2]}" --truncate-rate 1
dist "$SPLIT_SQL" --workers "${WORKERS[0]},$FP_URL,${WORKERS[1]}"
rc=$?
single "$SPLIT_SQL"
qk_eq "truncate: the query succeeds" "$rc" 0
qk_check "truncate: the result is correct" same "$QK_TMP/single" "$QK_TMP/dist"
qk_check "truncate: cut answers were seen and retried" test "$(qk_json "$FP_STATS" 'j["truncations"]')" -ge 1

# Every worker dead.
dist "$SPLIT_SQL" --workers "http://127.0.0.1:9,http://127.0.0.1:7"
rc=$?
qk_eq "dead: exit 1" "$rc" 1
qk_check "dead: the error names the shard and the workers" \
  grep -q "failed on every worker (3 attempts): worker http://127.0.0.1:" "$QK_TMP/dist.err"
# Bad URLs are usage errors.
"$QUACK_BIN" query --workers "ftp://nope" -q "SELECT 1" 2>"$QK_TMP/err"
qk_eq "bad URL: exit 2" "$?" 2
qk_check "bad URL: says why" grep -q "must start with http:// or https://" "$QK_TMP/err"

# The query's timeout reaches the coordinator and the workers.
dist "$SLOW" --workers "$ALL" --timeout 0.3
rc=$?
qk_eq "timeout: exit 1" "$rc" 1
qk_check "timeout: says so" grep -qi "timeout" "$QK_TMP/dist.err"

# A worker at its --max-concurrency answers 429: the shard waits and goes again, it is not a
# failed attempt (20 tasks in flight against one slot used to fail in milliseconds).
qk_start_server --max-concurrency 1 --threads 1 || exit 1
dist "$SPLIT_SQL" --workers "$QK_URL" --shard-size 1 --parallel 20
rc=$?
single "$SPLIT_SQL"
qk_eq "busy: a worker with one slot and 20 tasks in flight: the query succeeds" "$rc" 0
qk_check "busy: the result is correct" same "$QK_TMP/single" "$QK_TMP/dist"
qk_check "busy: the worker did refuse (429) and the shards were resent" \
  grep -q "too many queries in flight" "$QK_TMP/dist.err"

# ---- 5. a coordinator server ---------------------------------------------------------------------
qk_start_server --workers "$ALL" --shard-size "$SHARD" || exit 1
body=$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "distributed": True, "limit": 1000}))' "$SPLIT_SQL")
st=$(qk_post /query "$body")
qk_eq "server: distributed /query is 200" "$st" 200
qk_check "server: X-Quack-Shards header" test "$(qk_header X-Quack-Shards)" -gt 1
qk_eq "server: distributed stats" "$(qk_json "$QK_BODY" 'j["distributed"]["split"] and j["distributed"]["shards"] > 1')" true
dist_records=$(qk_json "$QK_BODY" 'j["records"]')
body=$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "limit": 1000}))' "$SPLIT_SQL")
qk_post /query "$body" >/dev/null
qk_eq "server: same records as a plain /query" "$dist_records" "$(qk_json "$QK_BODY" 'j["records"]')"
QK_URL=${WORKERS[0]}
st=$(qk_post /query '{"sql": "SELECT 1", "distributed": true}')
qk_eq "server without workers: 400" "$st $(qk_json "$QK_BODY" 'j["errorType"]')" "400 BadRequest"
st=$(qk_post /query '{"sql": "SELECT 1", "distributed": "yes"}')
qk_eq "server: \"distributed\" must be a boolean" "$st" 400

# ---- 6. Lambda through the emulator -------------------------------------------------------------
"$EMU_BIN" --bin "$QUACK_BIN" --lake "$QK_LAKE" --runtimes 2 --timeout 60 --port 0 \
  --port-file "$QK_TMP/emu.port" --env QUACK_THREADS=1 2>"$QK_TMP/emu.log" &
QK_PIDS+=("$!")
for _ in $(seq 200); do [ -s "$QK_TMP/emu.port" ] && break; sleep 0.05; done
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$(cat "$QK_TMP/emu.port")"
TOP_SQL="SELECT pickup_location_id, count(*) AS n, sum(total_amount) AS s, min(pickup_at) AS first, max(dropoff_at) AS last FROM read_parquet('$PART') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
for q in "$SPLIT_SQL" "$TOP_SQL" "SELECT 42::HUGEINT AS h, 'x' AS s"; do
  single "$q"
  if dist "$q" --lambda quack-worker && same "$QK_TMP/single" "$QK_TMP/dist"; then
    qk_ok "lambda: distributed == single-node: ${q:0:50}..."
  else
    qk_not_ok "lambda: $q" "$(head -c 300 "$QK_TMP/dist.err")"
  fi
done
tasks=$(grep -c '"kind":"task","ok":true' "$QK_TMP/emu.log")
qk_check "lambda: the runtimes answered map tasks ($tasks)" test "$tasks" -ge 10
unset AWS_ENDPOINT_URL_LAMBDA

qk_done
