#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_faultproxy.sh: the S3 tests' fault-injecting proxy (tests/tools/faultproxy.c) does what
# each fault promises on the wire, in front of a plain HTTP server (python3 -m http.server on
# 127.0.0.1 serving a 1 MiB file; no RGW, no quack binary, no lake): pass-through is
# byte-exact; --http503-rate 1 --first-n 2 answers two 503 SlowDown XML errors, then forwards;
# --reset-rate 1 makes curl fail with a connection error; --truncate-rate 1 gives a short
# transfer, never a full-size different body (a bodiless HEAD response is cut in its status line); --delay-ms 500 holds the response >= 0.5 s; a
# control file switches faults on while running; SIGTERM exits 0. Counters come from
# --stats-file. Needs the faultproxy binary ($QUACK_BUILD/faultproxy).
. "$(dirname "$0")/lib.sh"
set -uo pipefail
QUACK_SRC=${QUACK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
QUACK_BUILD=${QUACK_BUILD:-$QUACK_SRC/build}
FP=${FAULTPROXY:-$QUACK_BUILD/faultproxy}
[ -x "$FP" ] || { echo "missing $FP (build the faultproxy target first)" >&2; exit 1; }

QK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qk-fp-XXXXXX")
QK_BODY=$QK_TMP/body
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$QK_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- upstream: python's http.server on a free port, serving a 1 MiB random file
mkdir -p "$QK_TMP/www"
head -c 1048576 /dev/urandom >"$QK_TMP/www/data.bin"
WANT_SHA=$(sha256sum <"$QK_TMP/www/data.bin" | cut -d' ' -f1)
UP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# http.server's handler speaks HTTP/1.0 (one request per connection); S3 clients keep
# connections alive, so the upstream here is the same handler speaking HTTP/1.1.
cat >"$QK_TMP/upstream.py" <<'PY'
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
h = functools.partial(H, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), h).serve_forever()
PY
python3 "$QK_TMP/upstream.py" "$UP_PORT" "$QK_TMP/www" >"$QK_TMP/upstream.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$UP_PORT/data.bin" && break
  sleep 0.05
done

# start_proxy NAME [fault options...]: sets FP_PID, FP_URL, FP_STATS, FP_LOG
start_proxy() {
  local name=$1 pf
  shift
  pf=$QK_TMP/$name.port
  FP_STATS=$QK_TMP/$name.stats
  FP_LOG=$QK_TMP/$name.log
  "$FP" --listen 127.0.0.1:0 --upstream "127.0.0.1:$UP_PORT" --port-file "$pf" \
    --stats-file "$FP_STATS" --seed 7 "$@" 2>"$FP_LOG" &
  FP_PID=$!
  PIDS+=("$FP_PID")
  for _ in $(seq 100); do [ -s "$pf" ] && break; sleep 0.05; done
  FP_URL="http://127.0.0.1:$(cat "$pf" 2>/dev/null)"
}

# stop_proxy: SIGTERM, bounded wait; returns the proxy's exit status (124 if it hung)
stop_proxy() {
  kill -TERM "$FP_PID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$FP_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$FP_PID" 2>/dev/null; then kill -KILL "$FP_PID"; wait "$FP_PID" 2>/dev/null; return 124; fi
  wait "$FP_PID"
}

stat_of() { qk_json "$FP_STATS" "j[\"$1\"]"; }

# fetch: GET data.bin through the proxy into $QK_BODY; prints "http_code curl_exit"
fetch() {
  local code rc
  code=$(curl -s -o "$QK_BODY" -w '%{http_code}' --max-time 20 "$@" "$FP_URL/data.bin")
  rc=$?
  echo "$code $rc"
}

# ---- 1. no faults: byte-exact pass-through, keep-alive requests counted one by one
start_proxy pass
read -r code rc < <(fetch)
qk_eq "pass-through: 200, curl ok" "$code $rc" "200 0"
qk_eq "pass-through: sha256 equals the original" "$(sha256sum <"$QK_BODY" | cut -d' ' -f1)" "$WANT_SHA"
curl -s -o /dev/null -o "$QK_TMP/second" "$FP_URL/data.bin" "$FP_URL/data.bin"
qk_eq "pass-through: two requests on one connection both exact" \
  "$(sha256sum <"$QK_TMP/second" | cut -d' ' -f1)" "$WANT_SHA"
qk_eq "pass-through: stats count 3 requests" "$(stat_of requests)" 3
qk_eq "pass-through: no faults counted" \
  "$(stat_of resets)$(stat_of http503)$(stat_of truncations)$(stat_of delays)" 0000
stop_proxy
qk_eq "proxy exits 0 on SIGTERM" "$?" 0
qk_check "exit line logs the counts" grep -q 'faultproxy: exit connections=2 requests=3' "$FP_LOG"

# ---- 2. 503 SlowDown for the first two requests, then success
start_proxy slow --http503-rate 1 --first-n 2
read -r code rc < <(fetch)
qk_eq "503: first request is 503" "$code" 503
qk_check "503: S3 SlowDown XML body" \
  grep -q '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>' "$QK_BODY"
read -r code rc < <(fetch -X PUT --data-binary @"$QK_TMP/www/data.bin" -H 'Expect:')
qk_eq "503: second request (PUT with a 1 MiB body) is 503" "$code" 503
read -r code rc < <(fetch)
qk_eq "503: third request passes (200)" "$code $rc" "200 0"
qk_eq "503: third body is exact" "$(sha256sum <"$QK_BODY" | cut -d' ' -f1)" "$WANT_SHA"
qk_eq "503: stats count 2 injected 503s" "$(stat_of http503)" 2
qk_eq "503: each fault logged" "$(grep -c 'fault=503' "$FP_LOG")" 2
stop_proxy

# ---- 3. resets: curl sees a connection error, never data it accepts
start_proxy reset --reset-rate 1
fails=0
for i in 1 2 3 4; do
  read -r code rc < <(fetch)
  case $rc in 52|56) fails=$((fails + 1)) ;; *) echo "# reset try $i: http $code, curl exit $rc" ;; esac
done
qk_eq "reset: curl fails with exit 52/56 on every try" "$fails" 4
qk_eq "reset: stats count 4 resets" "$(stat_of resets)" 4
qk_check "reset: logged as fault=reset" grep -q 'fault=reset conn=1 ' "$FP_LOG"
stop_proxy

# ---- 4. truncation: a short transfer, never a full-size different body
start_proxy trunc --truncate-rate 1
read -r code rc < <(fetch)
size=$(stat -c %s "$QK_BODY" 2>/dev/null || echo 0)
if [ "$rc" = 18 ] || [ "$size" != 1048576 ]; then
  qk_ok "truncate: short transfer (curl exit $rc, $size bytes)"
else
  qk_not_ok "truncate: short transfer" "curl exit $rc with $size bytes"
fi
qk_check "truncate: body is a prefix of the original" \
  cmp -s "$QK_BODY" <(head -c "$size" "$QK_TMP/www/data.bin")
code=$(curl -s -o /dev/null -w '%{http_code}' -I --max-time 10 "$FP_URL/data.bin"); rc=$?
qk_check "truncate: a HEAD response is cut in its head (curl fails, exit $rc)" [ "$rc" != 0 ]
qk_eq "truncate: stats count 2 truncations" "$(stat_of truncations)" 2
stop_proxy

# ---- 5. delay: the response starts >= 500 ms later and is still exact
start_proxy delay --delay-ms 500 --delay-rate 1
t=$(ms)
read -r code rc < <(fetch)
took=$(( $(ms) - t ))
qk_check "delay: request took >= 500 ms (took $took ms)" [ "$took" -ge 500 ]
qk_eq "delay: body is exact" "$code $rc $(sha256sum <"$QK_BODY" | cut -d' ' -f1)" "200 0 $WANT_SHA"
qk_eq "delay: stats count 1 delay" "$(stat_of delays)" 1
stop_proxy

# ---- 6. control file: faults switched on while running, with a fresh --first-n budget
CTL=$QK_TMP/control
start_proxy ctl --control-file "$CTL"
read -r code rc < <(fetch)
qk_eq "control: no file, no fault (200)" "$code $rc" "200 0"
printf '# set by the test\nhttp503-rate 1\nfirst-n=1\n' >"$CTL"
read -r code rc < <(fetch)
qk_eq "control: after the file appears, 503" "$code" 503
read -r code rc < <(fetch)
qk_eq "control: first-n budget of 1 spent, 200 again" "$code $rc" "200 0"
stop_proxy
qk_eq "control: SIGTERM exit status" "$?" 0

# ---- 7. bad arguments are refused with the usage text
"$FP" --listen 0.0.0.0:0 --upstream "127.0.0.1:$UP_PORT" 2>"$QK_TMP/bad.err"
rc=$?
qk_check "refuses to listen beyond 127.0.0.1 (exit $rc)" grep -q '127.0.0.1 only' "$QK_TMP/bad.err"
"$FP" --listen 127.0.0.1:0 --upstream "127.0.0.1:$UP_PORT" --reset-rate 2 2>"$QK_TMP/bad.err"
qk_check "refuses a rate above 1" grep -q 'probability' "$QK_TMP/bad.err"

qk_done
