#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run_s3.sh [BUILD_DIR]: the "Lake on S3" benchmark. The full demo lake
# (BUILD_DIR/test-lake, made by bench/run.sh or tests/integration/make_lake.sh) is uploaded to a
# throw-away Ceph RGW on loopback (tests/s3/rgw.sh), then:
#   (a) upload: `quack lake put` of dataset/ and partitioned/ (wall time, MB/s)
#   (b) latency of the seed queries (bench/queries/*.sql with <LAKE> = s3://BUCKET or the local
#       lake): `quack query --format csv` embedded, one new process per run on every side,
#       N runs each, interleaved (local, cold, warm): local = the local files; cold = a fresh
#       XDG_CACHE_HOME (empty object cache) per run; warm = one cache dir kept (filled by an
#       unmeasured run). Medians and the ratios cold/local and warm/local. Q3u is Q3 with the
#       table function in a subquery (the resolver does not prune; docs/internals/lake-resolve.md)
#   (c) requests and bytes per query: the same queries through tests/tools/faultproxy (no
#       faults) with a cold cache then warm: GET/HEAD/LIST deltas from its --stats-file and the
#       bytes the cold run put in the cache (du of XDG_CACHE_HOME/quack); results of Q3 and Q3u
#       are checked equal to the local run
#   (d) parallel download: `quack lake get` of the same 31 objects (4 parallel transfers) vs
#       one curl process fetching them one after another on one connection (SigV4), same bytes
# Everything is bounded (timeouts per step, < 10 min in total); RGW and the proxy are always
# stopped (trap). Output: tables on stdout and BUILD_DIR/bench-s3-results.md.
# Environment: QUACK_BENCH_S3_RUNS (runs per side, default 5), QUACK_BENCH_LAKE,
# QUACK_BENCH_S3_BUDGET (seconds for the whole run, default 570).
set -uo pipefail
# the whole run is bounded: re-run under timeout (TERM to the process group; the trap below
# still stops RGW and the proxy)
if [ -z "${QUACK_BENCH_S3_INNER:-}" ]; then
  QUACK_BENCH_S3_INNER=1 exec timeout "${QUACK_BENCH_S3_BUDGET:-570}" bash "$0" "$@"
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-build}
[ -d "$BUILD_ARG" ] || BUILD_ARG="$SRC/$BUILD_ARG"
[ -d "$BUILD_ARG" ] || { echo "bench/run_s3.sh: no build directory ${1:-build}" >&2; exit 2; }
BUILD=$(cd "$BUILD_ARG" && pwd)
QUACK=$BUILD/quack
FP=$BUILD/faultproxy
RGW=$SRC/tests/s3/rgw.sh
LAKE=$(realpath -m "${QUACK_BENCH_LAKE:-$BUILD/test-lake}")
N=${QUACK_BENCH_S3_RUNS:-5}
QT=120 # seconds per query run at most
WORK=$(mktemp -d "${TMPDIR:-/tmp}/quack-bench-s3.XXXXXX")
STATE=$WORK/rgw
OUT=$BUILD/bench-s3-results.md
B=quack-bench
FP_PID=""
T_START=$(date +%s)

log() { printf '[bench-s3 %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ns() { date +%s%N; }
cleanup() {
  if [ -n "$FP_PID" ]; then kill "$FP_PID" 2>/dev/null; wait "$FP_PID" 2>/dev/null; fi
  bash "$RGW" stop "$STATE" --purge >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in "$QUACK" "$FP"; do [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }; done
[ -f "$LAKE/dataset/taxi_2019_04.parquet" ] ||
  { echo "no lake at $LAKE (run bench/run.sh or tests/integration/make_lake.sh)" >&2; exit 1; }

MD=$WORK/report.md
: >"$MD"
md() { printf '%s\n' "$*" >>"$MD"; }
# median of numbers on stdin (ms, 1 decimal)
median() { sort -n | awk '{a[NR]=$1} END{if(NR==0){print "n/a"; exit} if(NR%2) m=a[(NR+1)/2]; else m=(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="n/a"||b=="n/a"||b==0) print "n/a"; else printf "%.2f", a/b }'; }
mbps() { awk -v by="$1" -v ms="$2" 'BEGIN{ if (ms=="n/a"||ms<=0) print "n/a"; else printf "%.1f", by/1048576/(ms/1000) }'; }

# ---------------------------------------------------------------- machine notes
NPROC=$(nproc)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)
log "machine: $NPROC cores ($CPU), $MEM, load $LOAD0, commit $COMMIT"

# ---------------------------------------------------------------- RGW
log "starting RGW"
if ! timeout 120 bash "$RGW" start "$STATE" 2>"$WORK/rgw.err"; then
  cat "$WORK/rgw.err" >&2; echo "bench/run_s3.sh: RGW did not start" >&2; exit 1
fi
set -a; . "$STATE/env"; set +a
unset AWS_PROFILE QUACK_S3_URL_STYLE
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
RGW_EP=$AWS_ENDPOINT_URL
bash "$RGW" bucket "$STATE" "$B" || { echo "bench/run_s3.sh: cannot create bucket" >&2; exit 1; }
export XDG_CACHE_HOME=$WORK/xdg-misc

# ---------------------------------------------------------------- (a) upload
LAKE_BYTES=$(( $(find "$LAKE/dataset" "$LAKE/partitioned" -type f -printf '%s\n' | paste -sd+ | bc) ))
NOBJ=$(find "$LAKE/dataset" "$LAKE/partitioned" -type f | wc -l)
log "(a) upload: $NOBJ objects, $LAKE_BYTES bytes"
t0=$(now_ns); up_ok=1
timeout 180 "$QUACK" lake put "$LAKE/dataset" "s3://$B/dataset" >"$WORK/put1.out" 2>"$WORK/put1.err" || up_ok=0
timeout 180 "$QUACK" lake put "$LAKE/partitioned" "s3://$B/partitioned" >"$WORK/put2.out" 2>"$WORK/put2.err" || up_ok=0
UP_MS=$(( ($(now_ns) - t0) / 1000000 ))
if [ $up_ok = 1 ]; then
  UP_MBPS=$(mbps "$LAKE_BYTES" "$UP_MS")
  log "(a) upload: ${UP_MS} ms, $UP_MBPS MiB/s"
else
  cat "$WORK"/put*.err >&2
  echo "bench/run_s3.sh: upload failed; nothing else can be measured" >&2; exit 1
fi
cat "$WORK/put1.out" "$WORK/put2.out" >&2

# ---------------------------------------------------------------- queries
declare -A SQL SAME
qsql() { sed "s#<LAKE>#$2#g" "$SRC/bench/queries/$1.sql"; }
QNAMES="Q1 Q2 Q3 Q3u"
qfile() { case $1 in Q1) echo q1_count;; Q2) echo q2_top_pickups;; Q3|Q3u) echo q3_partitioned;; esac; }
mk_sql() { # mk_sql Q ROOT
  local s
  s=$(qsql "$(qfile "$1")" "$2")
  if [ "$1" = Q3u ]; then
    # the same query with read_parquet in a subquery in FROM: the resolver does not prune
    s=$(printf '%s' "$s" | sed -E "s#FROM (read_parquet\('[^']*', hive_partitioning=1\))#FROM (SELECT * FROM \1)#")
  fi
  printf '%s' "$s"
}
for q in $QNAMES; do
  SQL[$q,local]=$(mk_sql "$q" "$LAKE")
  SQL[$q,s3]=$(mk_sql "$q" "s3://$B")
done
log "Q3u (no pruning): ${SQL[Q3u,s3]}"

# run_q OUTFILE SQL: one quack query process; prints wall ms (or "fail")
run_q() {
  local t0 t1
  t0=$(now_ns)
  if timeout "$QT" "$QUACK" query --lake "$LAKE" -l 100 --format csv -q "$2" >"$1" 2>"$1.err"; then
    t1=$(now_ns); echo $(( (t1 - t0) / 1000 )) | awk '{printf "%.1f\n", $1/1000}'
  else
    echo fail
  fi
}

# ---------------------------------------------------------------- (b) latency
log "(b) latency: $N runs per side, interleaved local / cold / warm"
for q in $QNAMES; do
  : >"$WORK/$q.local"; : >"$WORK/$q.cold"; : >"$WORK/$q.warm"
  run_q "$WORK/$q.ref.csv" "${SQL[$q,local]}" >/dev/null # warm-up (page cache)
  XDG_CACHE_HOME=$WORK/xdg-warm-$q run_q "$WORK/$q.w0.csv" "${SQL[$q,s3]}" >/dev/null # fill the cache
  for i in $(seq 1 "$N"); do
    run_q "$WORK/out.csv" "${SQL[$q,local]}" >>"$WORK/$q.local"
    XDG_CACHE_HOME=$WORK/xdg-cold-$q-$i run_q "$WORK/$q.cold.csv" "${SQL[$q,s3]}" >>"$WORK/$q.cold"
    rm -rf "$WORK/xdg-cold-$q-$i"
    XDG_CACHE_HOME=$WORK/xdg-warm-$q run_q "$WORK/$q.warm.csv" "${SQL[$q,s3]}" >>"$WORK/$q.warm"
  done
  rm -rf "$WORK/xdg-warm-$q"
  same="yes"
  for f in "$WORK/$q.cold.csv" "$WORK/$q.warm.csv" "$WORK/$q.w0.csv"; do cmp -s "$f" "$WORK/$q.ref.csv" || same="NO"; done
  SAME[$q]=$same
  log "(b) $q: local $(tr '\n' ' ' <"$WORK/$q.local")| cold $(tr '\n' ' ' <"$WORK/$q.cold")| warm $(tr '\n' ' ' <"$WORK/$q.warm")| same result: $same"
done

# ---------------------------------------------------------------- (c) requests and bytes
log "(c) requests and bytes through faultproxy (no faults)"
UP=${RGW_EP#http://}
"$FP" --listen 127.0.0.1:0 --upstream "$UP" --port-file "$WORK/fp.port" \
  --stats-file "$WORK/fp.stats" 2>"$WORK/fp.log" &
FP_PID=$!
for _ in $(seq 100); do [ -s "$WORK/fp.port" ] && break; sleep 0.1; done
fpc() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$WORK/fp.stats" 2>/dev/null | grep . || echo 0; }
snap() { echo "$(fpc get) $(fpc head) $(fpc list) $(fpc requests)"; }
declare -A REQ
if [ -s "$WORK/fp.port" ]; then
  for q in $QNAMES; do
    x=$WORK/xdg-fp-$q
    for phase in cold warm; do
      read -r g0 h0 l0 r0 < <(snap)
      ms=$(AWS_ENDPOINT_URL=http://127.0.0.1:$(cat "$WORK/fp.port") XDG_CACHE_HOME=$x \
        run_q "$WORK/$q.fp-$phase.csv" "${SQL[$q,s3]}")
      sleep 0.2 # the proxy rewrites its stats file after each event
      read -r g1 h1 l1 r1 < <(snap)
      bytes=$(du -sb "$x" 2>/dev/null | cut -f1); bytes=${bytes:-0}
      cmp -s "$WORK/$q.fp-$phase.csv" "$WORK/$q.ref.csv" && ok=yes || ok=NO
      REQ[$q,$phase]="$((g1 - g0)) $((h1 - h0)) $((l1 - l0)) $((r1 - r0)) $bytes $ok $ms"
      log "(c) $q $phase: GET $((g1 - g0)) HEAD $((h1 - h0)) LIST $((l1 - l0)) all $((r1 - r0)); cache $bytes B; same result as local: $ok"
    done
    rm -rf "$x"
  done
  if cmp -s "$WORK/Q3.ref.csv" "$WORK/Q3u.ref.csv"; then Q3EQ=yes; else Q3EQ=NO; fi
else
  log "(c) faultproxy did not start: $(head -c 300 "$WORK/fp.log")"
fi
kill "$FP_PID" 2>/dev/null; wait "$FP_PID" 2>/dev/null; FP_PID=""

# ---------------------------------------------------------------- (d) download throughput
log "(d) parallel download vs one curl stream"
KEYS=$(cd "$LAKE" && find dataset partitioned -type f | sort)
CFG=$WORK/curl.cfg
: >"$CFG"
for k in $KEYS; do
  printf 'url = "%s/%s/%s"\noutput = "%s/curl/%s"\n' "$RGW_EP" "$B" "${k//=/%3D}" "$WORK" "$k" >>"$CFG"
done
declare -a T_Q T_C
D_OK=1
for r in 1 2 3; do
  rm -rf "$WORK/get" "$WORK/curl"; mkdir -p "$WORK/get"
  t0=$(now_ns)
  if timeout 120 "$QUACK" lake get "s3://$B/dataset" "$WORK/get/dataset" --quiet >/dev/null 2>"$WORK/get.err" &&
     timeout 120 "$QUACK" lake get "s3://$B/partitioned" "$WORK/get/partitioned" --quiet >/dev/null 2>>"$WORK/get.err"; then
    T_Q+=($(( ($(now_ns) - t0) / 1000000 )))
  else
    D_OK=0; cat "$WORK/get.err" >&2
  fi
  got_q=$(find "$WORK/get" -type f -printf '%s\n' | paste -sd+ | bc)
  rm -rf "$WORK/get"
  t0=$(now_ns)
  if timeout 180 curl -sS --fail --create-dirs --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
      -K "$CFG" 2>"$WORK/curl.err"; then
    T_C+=($(( ($(now_ns) - t0) / 1000000 )))
  else
    D_OK=0; cat "$WORK/curl.err" >&2
  fi
  got_c=$(find "$WORK/curl" -type f -printf '%s\n' 2>/dev/null | paste -sd+ | bc)
  log "(d) round $r: quack lake get ${T_Q[-1]:-fail} ms ($got_q B), curl ${T_C[-1]:-fail} ms (${got_c:-0} B)"
  [ "${got_q:-0}" = "$LAKE_BYTES" ] && [ "${got_c:-0}" = "$LAKE_BYTES" ] || { D_OK=0; log "(d) byte counts differ from the lake's $LAKE_BYTES"; }
  rm -rf "$WORK/curl"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
md "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $COMMIT; machine: $NPROC cores ($CPU), $MEM;"
md "load average before $LOAD0, after $LOAD1. RGW: Ceph $(ceph --version 2>/dev/null | awk '{print $3}') (memstore, 1 OSD, beast) on 127.0.0.1, same cores."
md "Lake: $LAKE ($NOBJ objects, $(awk -v b="$LAKE_BYTES" 'BEGIN{printf "%.1f", b/1048576}') MiB). Runs per side: $N. Total wall time: $(( $(date +%s) - T_START )) s."
md ""
md "**Upload** (\`quack lake put\` dataset/ then partitioned/): $UP_MS ms, $UP_MBPS MiB/s."
md ""
md "**Latency** (\`quack query --format csv\`, embedded, a new process per run on every side; median ms of $N):"
md ""
md "| query | local | S3 cold (empty cache) | S3 warm (cached) | cold / local | warm / local | same result |"
md "|---|---:|---:|---:|---:|---:|---|"
for q in $QNAMES; do
  ml=$(grep -v fail "$WORK/$q.local" | median); mc=$(grep -v fail "$WORK/$q.cold" | median); mw=$(grep -v fail "$WORK/$q.warm" | median)
  nf=$(cat "$WORK/$q.local" "$WORK/$q.cold" "$WORK/$q.warm" | grep -c fail)
  note=""; [ "$nf" -gt 0 ] && note=" ($nf runs failed)"
  md "| $q | $ml | $mc | $mw | $(ratio "$mc" "$ml") | $(ratio "$mw" "$ml") | ${SAME[$q]:-?}$note |"
done
md ""
md "Raw runs (ms):"
md ""
md '```'
for q in $QNAMES; do
  md "$q local: $(tr '\n' ' ' <"$WORK/$q.local")"
  md "$q cold:  $(tr '\n' ' ' <"$WORK/$q.cold")"
  md "$q warm:  $(tr '\n' ' ' <"$WORK/$q.warm")"
done
md '```'
md ""
md "**Requests and bytes per query** (through faultproxy, no faults; one run each with an empty cache, then one warm; bytes = size of the cache dir after the cold run; Q3u = Q3 with read_parquet in a subquery, so no pruning):"
md ""
md "| query | cold GET | cold HEAD | cold LIST | cold all | bytes fetched (cold) | warm GET | warm HEAD | warm LIST | warm all | same result |"
md "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for q in $QNAMES; do
  if [ -n "${REQ[$q,cold]:-}" ]; then
    read -r cg ch cl ca cb cok cms <<<"${REQ[$q,cold]}"
    read -r wg wh wl wa wb wok wms <<<"${REQ[$q,warm]}"
    md "| $q | $cg | $ch | $cl | $ca | $cb ($(awk -v b="$cb" 'BEGIN{printf "%.1f", b/1048576}') MiB) | $wg | $wh | $wl | $wa | $cok/$wok |"
  else
    md "| $q | not measured: faultproxy did not start | | | | | | | | | |"
  fi
done
md ""
md "Q3 (pruned) and Q3u (not pruned) give the same CSV locally: ${Q3EQ:-not checked}."
md ""
if [ ${#T_Q[@]} -gt 0 ] && [ ${#T_C[@]} -gt 0 ]; then
  mq=$(printf '%s\n' "${T_Q[@]}" | median); mc=$(printf '%s\n' "${T_C[@]}" | median)
  tq=$(mbps "$LAKE_BYTES" "$mq"); tc=$(mbps "$LAKE_BYTES" "$mc")
  r=$(ratio "$tq" "$tc")
  verdict=$(awk -v r="$r" 'BEGIN{ if (r=="n/a") print "n/a"; else if (r>=3) print "met"; else print "MISSED" }')
  md "**Download throughput** ($NOBJ objects, $LAKE_BYTES bytes, median of ${#T_Q[@]} rounds, written to local files):"
  md ""
  md "| client | median ms | MiB/s | runs (ms) |"
  md "|---|---:|---:|---|"
  md "| \`quack lake get\` (4 parallel transfers; dataset/ then partitioned/) | $mq | $tq | ${T_Q[*]} |"
  md "| one \`curl\` process, objects one after another (one connection) | $mc | $tc | ${T_C[*]} |"
  md ""
  md "Ratio quack / curl: **$r** (target >= 3): $verdict.$( [ $D_OK = 1 ] || echo ' Some rounds failed or byte counts differed; see the log.')"
else
  md "**Download throughput**: not measured: quack lake get or curl failed (see the log)."
fi

cp "$MD" "$OUT"
cat "$MD"
log "wrote $OUT ($(( $(date +%s) - T_START )) s)"
