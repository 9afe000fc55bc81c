#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_server_sandbox.sh: over HTTP, SQL cannot reach outside the lake: reading or writing
# other paths (also through ../), ATTACH, INSTALL/LOAD, SET of locked settings and remote URLs
# are refused with 400 and DuckDB's error type (cases in tests/integration/http/sandbox/);
# writing inside the lake works. The server keeps serving afterwards.
source "$(dirname "$0")/lib.sh"
qk_init
rm -f /tmp/qk-sandbox-escape.csv /tmp/qk-sandbox.duckdb
qk_start_server || exit 1

for c in "$QUACK_SRC"/tests/integration/http/sandbox/*.case; do qk_run_case "$c"; done
qk_check "nothing was written to /tmp" test ! -e /tmp/qk-sandbox-escape.csv
qk_check "nothing was written beside the lake" test ! -e "$(dirname "$QK_LAKE")/qk-sandbox-escape.csv"
qk_check "nothing was attached" test ! -e /tmp/qk-sandbox.duckdb

# COPY TO inside the lake is allowed (a unique name: the demo lake is shared between tests).
OUT="$QK_LAKE/qk-sandbox-test-$$.csv"
qk_eq "COPY TO inside the lake: 200" \
  "$(qk_post /invoke "{\"q\": \"COPY (SELECT 42 AS x) TO '$OUT'\"}")" 200
qk_eq "the file is there" "$(tr -d '\r' <"$OUT" 2>/dev/null | paste -sd' ')" "x 42"
qk_eq "and readable back" "$(qk_post /invoke "{\"q\": \"SELECT x FROM read_csv('$OUT')\"}" >/dev/null
  qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"x": 42}]'
rm -f "$OUT"

qk_eq "still serving" "$(qk_get /health)" 200
qk_stop_server
qk_eq "SIGTERM: exit 0" "$?" 0
qk_done
