#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_server_timeout_cancel.sh: the limits that interrupt DuckDB and the server's lifecycle:
#  - a query past --timeout is interrupted and answered 504 Timeout in about the timeout
#  - a client that hangs up mid-query cancels it quickly (logged as 499 Canceled)
#  - over --max-concurrency the answer is 429 TooManyRequests, at once
#  - SIGTERM with a query in flight: the query completes with 200, then the server exits 0
# After each, /health reports nothing in flight and queries are answered again.
source "$(dirname "$0")/lib.sh"
qk_init
FOREVER='{"q": "SELECT sum(a.range * b.range) AS n FROM range(1000000) a, range(1000000) b"}'

now_ms() { date +%s%3N; }
# wait_in_flight N: until /health says N queries are in flight (at most 10 s).
wait_in_flight() {
  for _ in $(seq 200); do
    [ "$(curl -s "$QK_URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["inFlight"])')" = "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

# --- timeout ---------------------------------------------------------------------------------
qk_start_server --timeout 1 || exit 1
t0=$(now_ms)
qk_eq "past the timeout: 504" "$(qk_post /invoke "$FOREVER")" 504
t1=$(now_ms)
qk_eq "past the timeout: Timeout" "$(qk_json "$QK_BODY" 'j["errorType"]')" Timeout
qk_check "interrupted in about the timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 900 -a $((t1 - t0)) -lt 6000
qk_eq "/query past the timeout: 504" "$(qk_post /query "${FOREVER/\"q\"/\"sql\"}")" 504
qk_check "nothing left in flight" wait_in_flight 0
qk_eq "a quick query still works" "$(qk_post /invoke '{"q": "SELECT 1"}')" 200
qk_stop_server
qk_eq "exit 0" "$?" 0

# --- a client that goes away ------------------------------------------------------------------
qk_start_server --timeout 120 || exit 1
t0=$(now_ms)
curl -s -o /dev/null --max-time 1 --data-binary "$FOREVER" "$QK_URL/invoke"
qk_eq "the client gave up (curl exit 28)" "$?" 28
qk_check "the server sees it and cancels the query" wait_in_flight 0
t1=$(now_ms)
qk_check "cancelled within 5 s of the request ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
qk_check "logged as 499 Canceled" grep -q '"status":499,.*"errorType":"Canceled"' "$QK_LOG"
qk_check "counted in metrics" bash -c "curl -s '$QK_URL/metrics' | grep -q 'quack_errors_total{type=\"Canceled\"} 1'"
qk_eq "still serving" "$(qk_post /invoke '{"q": "SELECT 1"}')" 200
qk_stop_server
qk_eq "exit 0" "$?" 0

# --- max concurrency ----------------------------------------------------------------------------
qk_start_server --timeout 120 --max-concurrency 1 || exit 1
curl -s -o /dev/null --max-time 20 --data-binary "$FOREVER" "$QK_URL/invoke" &
slow=$!
qk_check "one slow query in flight" wait_in_flight 1
t0=$(now_ms)
qk_eq "a second query: 429" "$(qk_post /invoke '{"q": "SELECT 1"}')" 429
t1=$(now_ms)
qk_eq "a second query: TooManyRequests" "$(qk_json "$QK_BODY" 'j["errorType"]')" TooManyRequests
qk_check "429 comes at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 2000
qk_eq "/health is not a query: 200" "$(qk_get /health)" 200
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null
qk_check "the slow one is cancelled when its client goes" wait_in_flight 0
qk_eq "then queries run again" "$(qk_post /invoke '{"q": "SELECT 1"}')" 200
qk_stop_server
qk_eq "exit 0" "$?" 0

# --- graceful shutdown -------------------------------------------------------------------------
qk_start_server --timeout 60 || exit 1
SLOW='{"q": "SELECT sum(a.range * b.range) AS n FROM range(15000) a, range(15000) b"}'
curl -s -o "$QK_TMP/slow.json" -w '%{http_code}' --data-binary "$SLOW" "$QK_URL/invoke" >"$QK_TMP/slow.status" &
slow=$!
qk_check "a query in flight" wait_in_flight 1
kill -TERM "$QK_PID"
sleep 0.2
qk_eq "no new connections while stopping" \
  "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$QK_URL/health")" 000
wait "$slow"
qk_eq "the in-flight query completes: 200" "$(cat "$QK_TMP/slow.status")" 200
qk_eq "with the right answer" "$(qk_json "$QK_TMP/slow.json" 'j["data"]["records"][0]["n"]')" \
  "$(python3 -c 'n = 15000; print((n * (n - 1) // 2) ** 2)')"
qk_stop_server
qk_eq "the server exits 0" "$?" 0
qk_check "and logged its shutdown" grep -q '"event":"shutdown","signal":"SIGTERM","inFlight":1' "$QK_LOG"
qk_done
