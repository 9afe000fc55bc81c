#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_server_bad_input.sh: every kind of bad request gets its documented status and a JSON
# error body {"errorMessage","errorType"} with a clear message, and the server keeps serving.
# The cases are data (tests/integration/http/bad_input/*.case); the ones that need generated
# bodies (10 MB, deep nesting) or odd transports (chunked upload, early hang-up) are below.
source "$(dirname "$0")/lib.sh"
qk_init
qk_start_server || exit 1

for c in "$QUACK_SRC"/tests/integration/http/bad_input/*.case; do qk_run_case "$c"; done

# A 10 MB body: refused from Content-Length (with and without Expect: 100-continue) and while
# streaming a chunked upload that declares no length.
python3 -c 'import sys; sys.stdout.write("{\"q\": \"SELECT 1\", \"pad\": \"" + "a" * (10 << 20) + "\"}")' >"$QK_TMP/10mb.json"
for variant in "content-length" "no-expect" "chunked"; do
  case $variant in
    content-length) args=() ;;
    no-expect) args=(-H 'Expect:') ;;
    chunked) args=(-H 'Transfer-Encoding: chunked') ;;
  esac
  got=$(curl -s -o "$QK_BODY" -w '%{http_code}' "${args[@]}" --data-binary @"$QK_TMP/10mb.json" "$QK_URL/invoke")
  qk_eq "10 MB body ($variant): 413" "$got" 413
  qk_eq "10 MB body ($variant): PayloadTooLarge" "$(qk_json "$QK_BODY" 'j["errorType"]' 2>&1)" PayloadTooLarge
done
qk_eq "a body just under the limit is read" \
  "$(python3 -c 'import sys; sys.stdout.write("{\"q\": \"SELECT 1 AS one\", \"pad\": \"" + "a" * 1000000 + "\"}")' >"$QK_TMP/1mb.json"
     curl -s -o "$QK_BODY" -w '%{http_code}' --data-binary @"$QK_TMP/1mb.json" "$QK_URL/invoke")" 200

# Deeply nested JSON is refused by the parser's depth limit, not by a crash.
python3 -c 'import sys; sys.stdout.write("{\"q\": " + "[" * 100000 + "]" * 100000 + "}")' >"$QK_TMP/deep.json"
qk_eq "deeply nested JSON: 400" \
  "$(curl -s -o "$QK_BODY" -w '%{http_code}' --data-binary @"$QK_TMP/deep.json" "$QK_URL/invoke")" 400
qk_eq "deeply nested JSON: BadRequest" "$(qk_json "$QK_BODY" 'j["errorType"]')" BadRequest

# Not UTF-8 inside a JSON string.
printf '{"q": "SELECT \xff\xfe"}' >"$QK_TMP/latin1.json"
qk_eq "invalid UTF-8: 400" \
  "$(curl -s -o "$QK_BODY" -w '%{http_code}' --data-binary @"$QK_TMP/latin1.json" "$QK_URL/invoke")" 400

# A client that sends half a body and hangs up.
python3 - "${QK_URL#http://}" <<'PY'
import socket, sys
host, port = sys.argv[1].split(":")
s = socket.create_connection((host, int(port)))
s.sendall(b"POST /invoke HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"q\": \"SEL")
s.close()
PY
# A request line that is not HTTP.
printf 'NOT HTTP AT ALL\r\n\r\n' | timeout 5 python3 -c '
import socket, sys
h, p = sys.argv[1].split(":")
s = socket.create_connection((h, int(p))); s.sendall(sys.stdin.buffer.read()); s.settimeout(5)
try: s.recv(100)
except Exception: pass' "${QK_URL#http://}"

# Every error body is JSON with exactly errorMessage and errorType.
qk_post /invoke '{"q": "SELECT * FROM nope"}' >/dev/null
qk_eq "error body keys" "$(qk_json "$QK_BODY" 'sorted(j)')" '["errorMessage", "errorType"]'
qk_eq "error Content-Type" "$(qk_header Content-Type)" application/json

# After all of that the server still serves, with nothing left in flight.
qk_eq "still serving /health" "$(qk_get /health)" 200
qk_eq "nothing in flight" "$(qk_json "$QK_BODY" 'j["inFlight"]')" 0
qk_eq "still answering queries" "$(qk_post /invoke '{"q": "SELECT 2 AS two"}'; qk_json "$QK_BODY" 'j["data"]["records"]')" \
  '200[{"two": 2}]'
qk_check "the process is alive" kill -0 "$QK_PID"
qk_stop_server
qk_eq "SIGTERM: exit 0" "$?" 0

# Bad configuration never starts a server: exit 2 for a bad value, 1 for a missing lake.
serve_rc() { # EXPECTED_RC MESSAGE_PART ARGS... (runs with a 10 s bound)
  local want=$1 msg=$2 out rc
  shift 2
  out=$(timeout 10 "$QUACK_BIN" serve --port 0 --lake "$QK_LAKE" "$@" 2>&1)
  rc=$?
  if [ "$rc" = "$want" ] && [[ "$out" == *"$msg"* ]]; then qk_ok "serve $* -> exit $want"
  else qk_not_ok "serve $* -> exit $want" "exit $rc: $out"; fi
}
serve_rc 2 "quack serve: --port" --port 70000
serve_rc 2 "quack serve: --port" --port abc
serve_rc 2 "quack serve: --timeout" --timeout soon
serve_rc 2 "quack serve: --max-body" --max-body 12XB
serve_rc 2 "quack serve: --max-concurrency" --max-concurrency 0
serve_rc 2 "quack serve: --log-level" --log-level loud
serve_rc 2 "quack serve: unexpected argument" extra
serve_rc 2 "quack serve: --max-response" --max-response 1KB
out=$(QUACK_MAX_LIMIT=-1 timeout 10 "$QUACK_BIN" serve --port 0 --lake "$QK_LAKE" 2>&1)
qk_eq "a bad QUACK_* variable is named: exit 2" "$?:$(echo "$out" | head -1 | cut -c1-30)" \
  "2:quack serve: QUACK_MAX_LIMIT: "
serve_rc 1 "is not a directory" --lake "$QK_TMP/no-such-lake"
qk_check "serve --help lists the variables" bash -c "'$QUACK_BIN' serve --help | grep -q QUACK_MAX_CONCURRENCY"
qk_done
