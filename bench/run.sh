#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh BUILD_DIR: quack's benchmarks, each measured against a plain-DuckDB baseline in
# the same run (bench/README.md explains every number; bench/RESULTS.md records them). Numbered
# as in the issue:
#   (1) warm latency per seed query (bench/queries/*.sql; q3_named is Q3 by lake table name,
#       its baseline plain DuckDB on Q3's paths): baseline (plain DuckDB), quack's
#       engine in-process (bench_encode --limit 20) and POST /invoke over keep-alive HTTP
#       (bench_http) on one `quack serve --threads 2`, in interleaved rounds
#   (2) cold start: `quack query` exec -> printed result, and `quack serve` exec -> first
#       answered POST /invoke, vs `baseline --once` (bench_cold)
#   (3) SELECT 1 throughput over keep-alive HTTP (wrk, 8 connections, 10 s; and bench/loadgen)
#   (4) encoding rate of a 1M-row taxi result: JSON, NDJSON, CSV (bench_encode)
#   and, as diagnostics without a target, where the engine's warm time goes (bench_paths)
#   (5) quack-reduce: `quack bench reduce` (the seed's per-day map vs one worker vs embedded,
#       per-shard overhead, 1-vs-2-worker scaling, simulated fan-out; docs/bench-reduce.md)
#   (6) Delta tables: `quack bench delta` on a fresh local lake in the work dir (snapshot load
#       of a 1,000-commit table with and without checkpoints, append-commit latency, file
#       skipping; docs/bench-delta.md), then bench/delta_s3.sh (the same on a throw-away RGW,
#       200 commits) as a separate step when the budget still allows it
# Run order: the full-size demo lake BUILD_DIR/test-lake (tests/integration/make_lake.sh), wait
# for the machine to settle, (2), start the server, (1), (3), stop it, (4), diagnostics, (5),
# (6), report. Results: the tables on stdout, BUILD_DIR/bench-results.json (with machine notes
# and every tool's raw output, (5)'s JSON under raw.reduce, (6)'s under raw.delta and
# raw.delta_s3) and BUILD_DIR/bench-results.md; (5)'s own tables in BUILD_DIR/bench-reduce.md
# and its JSON in BUILD_DIR/bench-reduce.json, (6)'s in BUILD_DIR/bench-delta{,-s3}.{md,json};
# the source tree stays clean. Every step has
# a time limit and the whole run a budget; a failed step is recorded as "not measured" with its
# reason and the run goes on. The server is always stopped (trap).
# Environment: QUACK_BENCH_LAKE (lake dir), QUACK_BENCH_RUNS (warm runs, default 100),
# QUACK_BENCH_TP_SECONDS (throughput duration, default 10), QUACK_BENCH_QUIET_WAIT (seconds to
# wait for a busy machine to settle, default 120), QUACK_BENCH_BUDGET (seconds for the
# measurements once the lake exists and the machine has settled, default 600).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-build}
[ -d "$BUILD_ARG" ] || BUILD_ARG="$SRC/$BUILD_ARG"
[ -d "$BUILD_ARG" ] || { echo "bench/run.sh: no build directory ${1:-build}" >&2; exit 2; }
BUILD=$(cd "$BUILD_ARG" && pwd)
QUACK=$BUILD/quack
LAKE=$(realpath -m "${QUACK_BENCH_LAKE:-$BUILD/test-lake}")
THREADS=2
RUNS=${QUACK_BENCH_RUNS:-100}
ROUNDS=10
WARMUP=3
COLD_RUNS=10
TP_SECONDS=${QUACK_BENCH_TP_SECONDS:-10}
QUIET_WAIT=${QUACK_BENCH_QUIET_WAIT:-120}
BUDGET=${QUACK_BENCH_BUDGET:-600}
DEADLINE=0 # set once the lake exists and the machine has settled
TP_CONNS=8
QUERIES="q1_count q2_top_pickups q3_partitioned q3_named select1"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/quack-bench.XXXXXX")
RES=$WORK/res
SERVER_PID=""
URL=""
mkdir -p "$RES"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() { stop_server; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# step NAME SECONDS CMD...: stdout -> $RES/NAME.out, the arguments -> $RES/NAME.cmd. A
# failure (or the time limit) is written to $RES/NAME.err as the reason and does not stop the
# run.
step() {
  local name=$1 secs=$2 rc=0
  shift 2
  if [ "$DEADLINE" -gt 0 ]; then
    local left=$((DEADLINE - SECONDS))
    if [ "$left" -le 5 ]; then
      skip "$name" "the run's budget of ${BUDGET}s (QUACK_BENCH_BUDGET) was used up"
      return 0
    fi
    [ "$secs" -le "$left" ] || secs=$left
  fi
  log "$name"
  printf '%s\0' "$@" >"$RES/$name.cmd"
  timeout -k 5 "$secs" "$@" >"$RES/$name.out" 2>"$RES/$name.log" || rc=$?
  [ "$rc" = 0 ] && return 0
  local why
  why=$(tail -c 400 "$RES/$name.log" | tr '\n\t' '  ' | tr -d '\000-\037')
  [ "$rc" = 124 ] && why="timed out after ${secs}s. $why"
  printf 'exit %s: %s\n' "$rc" "$why" >"$RES/$name.err"
  log "$name failed: $(cat "$RES/$name.err")"
}

# Record a step that could not run at all.
skip() { log "$1 not measured: $2"; printf '%s\n' "$2" >"$RES/$1.err"; }

# CPU busy percentage of the whole machine over one second (from /proc/stat).
cpu_busy() {
  local a b
  read -ra a </proc/stat
  sleep 1
  read -ra b </proc/stat
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  [ "$total" -gt 0 ] || { echo 0; return; }
  echo $(( 100 * (total - idle) / total ))
}

# Wait (at most QUIET_WAIT seconds) until the machine has been mostly idle for three seconds in
# a row, so that other work on a shared machine disturbs the numbers less; the CPU use seen
# last is recorded.
wait_quiet() {
  local busy quiet=0 deadline=$((SECONDS + QUIET_WAIT)) said=-100
  while :; do
    busy=$(cpu_busy)
    if [ "$busy" -le 20 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 3 ] || [ "$SECONDS" -ge "$deadline" ] && break
    if [ "$quiet" = 0 ] && [ $((SECONDS - said)) -ge 15 ]; then
      log "machine busy (${busy}% CPU used by others); waiting up to $((deadline - SECONDS))s for it to settle"
      said=$SECONDS
    fi
  done
  echo "$busy" >"$RES/cpu_busy_start.txt"
  log "CPU busy before measuring: ${busy}%"
}

# Diagnostics (no target): the engine's warm per-query time split by execution path.
measure_paths() {
  local q
  for q in q1_count q2_top_pickups q3_partitioned select1; do
    if [ -x "$BUILD/bench_paths" ]; then
      step "paths_$q" 120 "$BUILD/bench_paths" --lake "$LAKE" --threads "$THREADS" --runs 30 \
        --sql-file "$SRC/bench/queries/$q.sql"
    else
      skip "paths_$q" "no $BUILD/bench_paths"
    fi
  done
}

# For the record of interference: machine CPU counters and this script's children's CPU time
# at the start and at the end (report.py derives how much CPU other processes used meanwhile).
snapshot() { { date +%s.%N; head -1 /proc/stat; times; } >"$RES/snap_$1.txt"; }

need_bins() {
  local b missing=""
  for b in quack baseline bench_http bench_cold bench_encode; do
    [ -x "$BUILD/$b" ] || missing="$missing $b"
  done
  [ -z "$missing" ] || { log "missing in $BUILD:$missing (build first)"; exit 1; }
}

ensure_lake() {
  if [ -f "$SRC/tests/integration/make_lake.sh" ]; then
    timeout -k 5 900 bash "$SRC/tests/integration/make_lake.sh" "$QUACK" "$LAKE" >&2
  elif [ ! -f "$LAKE/dataset/taxi_2019_04.parquet" ]; then
    timeout -k 5 900 "$QUACK" demo --lake "$LAKE" >&2
  fi
  [ -f "$LAKE/dataset/taxi_2019_04.parquet" ] && compgen -G "$LAKE/partitioned/*/*.parquet" >/dev/null
}

start_server() {
  rm -f "$WORK/port"
  "$QUACK" serve --lake "$LAKE" --host 127.0.0.1 --port 0 --port-file "$WORK/port" \
    --threads "$THREADS" >"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    [ -s "$WORK/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=""; return 1; }
    sleep 0.1
  done
  local port
  port=$(head -c 16 "$WORK/port" 2>/dev/null | tr -dc 0-9)
  [ -n "$port" ] || return 1
  for _ in $(seq 1 100); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/health"; then
      URL=http://127.0.0.1:$port
      return 0
    fi
    sleep 0.1
  done
  return 1
}

json_body() { python3 -c 'import json,sys; print(json.dumps({"q": sys.argv[1], "limit": 20}))' "$1"; }
sql_of() { sed "s|<LAKE>|$LAKE|g" "$SRC/bench/queries/$1.sql" | tr '\n' ' ' | sed 's/[; ]*$//'; }

measure_cold() {
  local q1 body
  q1=$(sql_of q1_count)
  body=$(json_body "$q1")
  step cold_baseline 300 "$BUILD/bench_cold" exec --runs "$COLD_RUNS" --expect COUNTS \
    --stderr "$RES/cold_baseline_inner.jsonl" -- \
    "$BUILD/baseline" --once --threads "$THREADS" --lake "$LAKE" -f "$SRC/bench/queries/q1_count.sql"
  step cold_query 300 "$BUILD/bench_cold" exec --runs "$COLD_RUNS" --expect COUNTS -- \
    "$QUACK" query --lake "$LAKE" --threads "$THREADS" --format csv -q "$q1"
  step cold_serve 300 "$BUILD/bench_cold" serve --runs "$COLD_RUNS" --expect COUNTS \
    --port-file "$WORK/cold.port" --body "$body" --path /invoke -- \
    "$QUACK" serve --lake "$LAKE" --host 127.0.0.1 --port 0 --port-file "$WORK/cold.port" \
    --threads "$THREADS"
}

# Rounds interleave the three sides so that background load on the machine hits them alike:
# each round runs every query RUNS/ROUNDS times per side (after WARMUP unmeasured runs in that
# process); report.py pools the samples of all rounds.
measure_warm() {
  local q f bf r n=$((RUNS / ROUNDS))
  [ "$n" -ge 1 ] || n=1
  for r in $(seq 1 "$ROUNDS"); do
    for q in $QUERIES; do
      f=$SRC/bench/queries/$q.sql
      bf=$f # plain DuckDB has no lake names: the named query's baseline is the same by path
      [ "$q" = q3_named ] && bf=$SRC/bench/queries/q3_partitioned.sql
      step "warm_${q}_baseline_r$r" 300 "$BUILD/baseline" --lake "$LAKE" -f "$bf" \
        --threads "$THREADS" --runs "$n" --warmup "$WARMUP"
      step "warm_${q}_engine_r$r" 300 "$BUILD/bench_encode" --lake "$LAKE" --sql-file "$f" \
        --limit 20 --formats json --threads "$THREADS" --runs "$n" --warmup "$WARMUP"
      if [ -n "$URL" ]; then
        step "warm_${q}_http_r$r" 300 "$BUILD/bench_http" --url "$URL/invoke" --sql-file "$f" \
          --lake "$LAKE" --limit 20 --runs "$n" --warmup "$WARMUP"
      else
        skip "warm_${q}_http_r$r" "quack serve did not start: $(tail -c 300 "$WORK/serve.log" | tr '\n' ' ')"
      fi
    done
  done
}

measure_throughput() {
  if [ -z "$URL" ]; then
    skip tp_wrk "quack serve did not start"
    skip tp_loadgen "quack serve did not start"
    return
  fi
  if command -v wrk >/dev/null; then
    cat >"$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"q":"SELECT 1","limit":20}'
wrk.headers["Content-Type"] = "application/json"
EOF
    step tp_wrk $((TP_SECONDS + 60)) wrk -t2 -c"$TP_CONNS" -d"${TP_SECONDS}s" --timeout 10s \
      --latency -s "$WORK/post.lua" "$URL/invoke"
  else
    skip tp_wrk "wrk is not installed (bash scripts/bootstrap.sh --test-tools)"
  fi
  # Cross-check with the project's own load generator (libcurl multi, one thread).
  if [ -x "$BUILD/loadgen" ]; then
    step tp_loadgen 120 "$BUILD/loadgen" --url "$URL" --clients "$TP_CONNS" --requests 2500 \
      --case '200 POST /invoke {"q":"SELECT 1","limit":20}'
  else
    skip tp_loadgen "no $BUILD/loadgen"
  fi
}

# (5) quack-reduce: `quack bench reduce` spawns and always stops its own workers. Its JSON is
# the step's stdout (one line, so report.py keeps it under raw.reduce); its tables are on
# stderr and are copied, without the progress lines, to BUILD/bench-reduce.md.
measure_reduce() {
  step reduce 300 "$QUACK" bench reduce --lake "$LAKE" --json -
  [ -f "$RES/reduce.err" ] && return 0
  cp "$RES/reduce.out" "$BUILD/bench-reduce.json"
  grep -v '^\[bench reduce\]' "$RES/reduce.log" >"$BUILD/bench-reduce.md" || true
  log "wrote $BUILD/bench-reduce.md and $BUILD/bench-reduce.json"
}

# (6) Delta tables: `quack bench delta` removes its own tables; its JSON is the step's stdout
# (one line: raw.delta), its tables (stderr) go to BUILD/bench-delta.md. Then the RGW run:
# bench/delta_s3.sh writes BUILD/bench-delta-s3.{md,json}; the step's output becomes that JSON
# on one line (raw.delta_s3), or the script's reason when RGW could not be installed.
measure_delta() {
  mkdir -p "$WORK/delta-lake"
  step delta 240 "$QUACK" bench delta --lake "$WORK/delta-lake" --json -
  if [ ! -f "$RES/delta.err" ]; then
    cp "$RES/delta.out" "$BUILD/bench-delta.json"
    grep -v '^\[bench delta\]' "$RES/delta.log" >"$BUILD/bench-delta.md" || true
    log "wrote $BUILD/bench-delta.md and $BUILD/bench-delta.json"
  fi
  rm -f "$BUILD/bench-delta-s3.json"
  step delta_s3 300 env QUACK_BENCH_DELTA_S3_BUDGET=290 bash "$SRC/bench/delta_s3.sh" "$BUILD"
  [ -f "$RES/delta_s3.err" ] && return 0
  if [ -f "$BUILD/bench-delta-s3.json" ]; then
    python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' \
      "$BUILD/bench-delta-s3.json" >"$RES/delta_s3.out"
  else
    skip delta_s3 "$(tail -c 300 "$RES/delta_s3.out" | tr '\n' ' ')"
  fi
}

need_bins
log "build $BUILD, lake $LAKE, work $WORK"
ensure_lake || { log "could not create the demo lake in $LAKE"; exit 1; }
wait_quiet
DEADLINE=$((SECONDS + BUDGET))
cp /proc/loadavg "$RES/loadavg_start.txt"
snapshot start
measure_cold
if start_server; then
  log "quack serve on $URL (pid $SERVER_PID)"
else
  log "quack serve did not start: $(tail -c 400 "$WORK/serve.log" 2>/dev/null | tr '\n' ' ')"
  stop_server
fi
measure_warm
measure_throughput
stop_server
step encode 600 "$BUILD/bench_encode" --lake "$LAKE" --formats json,ndjson,csv --runs 5 \
  --warmup 1 --threads "$THREADS"
measure_paths

measure_reduce
measure_delta

snapshot end
BENCH_SRC=$SRC BENCH_BUILD=$BUILD BENCH_LAKE=$LAKE BENCH_QUERIES=$QUERIES BENCH_THREADS=$THREADS \
BENCH_TP_CONNS=$TP_CONNS BENCH_TP_SECONDS=$TP_SECONDS BENCH_RUNS=$RUNS BENCH_ROUNDS=$ROUNDS \
  python3 "$SRC/bench/report.py" "$RES" "$BUILD/bench-results.json" "$BUILD/bench-results.md"
log "wrote $BUILD/bench-results.json and $BUILD/bench-results.md"
