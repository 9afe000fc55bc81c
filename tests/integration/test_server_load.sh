#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_server_load.sh: 16 concurrent keep-alive clients x 1,000 requests each, mixing good and
# bad requests (tests/integration/http/load.mix), through bench/loadgen. Passes when every
# response has the status its request should get, the server is alive and answering after,
# nothing is left in flight, memory stays flat (VmRSS after a warm-up vs. at the end, growth
# under 64 MiB; not checked in sanitizer builds), and the whole run takes under 120 s.
source "$(dirname "$0")/lib.sh"
qk_init
[ -x "$QK_LOADGEN" ] || { echo "missing $QK_LOADGEN" >&2; exit 1; }
qk_start_server --max-concurrency 16 || exit 1
sed "s|@LAKE@|$QK_LAKE|g" "$QUACK_SRC/tests/integration/http/load.mix" >"$QK_TMP/load.mix"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$QK_PID/status"; }

timeout 60 "$QK_LOADGEN" --url "$QK_URL" --clients 16 --requests 100 --mix "$QK_TMP/load.mix" \
  >"$QK_TMP/warmup.json"
qk_eq "warm-up: every status as expected" "$?" 0
rss0=$(rss_kb)

t0=$(date +%s)
timeout 120 "$QK_LOADGEN" --url "$QK_URL" --clients 16 --requests 1000 --mix "$QK_TMP/load.mix" \
  >"$QK_TMP/load.json"
rc=$?
t1=$(date +%s)
rss1=$(rss_kb)
echo "# loadgen: $(cat "$QK_TMP/load.json")"
echo "# VmRSS after warm-up ${rss0} kB, after 16,000 requests ${rss1} kB (growth $(((rss1 - rss0) / 1024)) MiB), $((t1 - t0)) s"
qk_eq "loadgen finished in time with no unexpected status" "$rc" 0
qk_eq "16,000 requests, none unexpected, no transport errors" \
  "$(qk_json "$QK_TMP/load.json" '[j["requests"], j["unexpected"], j["transportErrors"]]')" '[16000, 0, 0]'
qk_eq "no 5xx" "$(qk_json "$QK_TMP/load.json" 'sum(v for k, v in j["status"].items() if k >= "500")')" 0
qk_check "keep-alive: far fewer connections than requests" \
  test "$(qk_json "$QK_TMP/load.json" 'j["connections"]')" -lt 1000
# (No `ldd | grep -q` here: under pipefail, grep's early exit can SIGPIPE ldd and fail the test.)
if [[ "$(ldd "$QUACK_BIN" 2>/dev/null)" == *libasan* ]]; then
  echo "# memory check skipped: under AddressSanitizer RSS measures its allocator and quarantine,"
  echo "# not quack (27-79 MiB here vs 5 MiB without); leaks are LeakSanitizer's check at exit"
else
  qk_check "memory flat: RSS growth < 64 MiB" test $((rss1 - rss0)) -lt 65536
fi
qk_check "bounded in time: < 120 s" test $((t1 - t0)) -lt 120

qk_check "the server is alive" kill -0 "$QK_PID"
qk_eq "and serving" "$(qk_get /health)" 200
qk_eq "nothing in flight" "$(qk_json "$QK_BODY" 'j["inFlight"]')" 0
qk_eq "a query after the load" "$(qk_post /invoke '{"q": "SELECT 3 AS three"}'; qk_json "$QK_BODY" 'j["data"]["records"]')" \
  '200[{"three": 3}]'
qk_check "metrics counted every request" bash -c "curl -s '$QK_URL/metrics' | awk '
  /^quack_requests_total/ { n += \$2 } END { exit !(n >= 17600) }'"
qk_stop_server
qk_eq "SIGTERM: exit 0" "$?" 0
qk_done
