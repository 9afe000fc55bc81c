#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_lambda_runtime.sh: quack as an AWS Lambda custom runtime (docs/lambda.md), driven through
# tests/tools/lambda_emu (the Runtime API and the Invoke API, real `quack` runtime processes):
# the seed contract over invocations (differential against `quack query -F json`, metadata,
# warm per process, default limit), function errors (SQL errors with DuckDB's exception name,
# malformed events), S3 ObjectCreated events (acknowledged and logged), map tasks
# (a malformed one is a BadRequest; real map tasks: test_dist_workers.sh), the runtime's own deadline, Lambda's hard timeout, the 6 MB response cap,
# a runtime killed mid-invocation, an event over QUACK_MAX_BODY, an init error, and a clean
# stop of the emulator and its runtimes.
source "$(dirname "$0")/lib.sh"
qk_init
EMU_BIN=$QUACK_BUILD/lambda_emu
[ -x "$EMU_BIN" ] || { echo "missing $EMU_BIN (build first)" >&2; exit 1; }
DS="$QK_LAKE/dataset/taxi_2019_04.parquet"
INVOKE=/2015-03-31/functions/function/invocations
EMU_N=0

# emu_start ARGS...: start an emulator; sets QK_URL (for qk_post), EMU_PID, EMU_LOG.
emu_start() {
  local pf=$QK_TMP/emu.$EMU_N.port
  EMU_LOG=$QK_TMP/emu.$EMU_N.log
  EMU_N=$((EMU_N + 1))
  "$EMU_BIN" --bin "$QUACK_BIN" --port 0 --port-file "$pf" --env QUACK_THREADS=2 "$@" \
    2>"$EMU_LOG" &
  EMU_PID=$!
  QK_PIDS+=("$EMU_PID")
  for _ in $(seq 200); do
    [ -s "$pf" ] && break
    kill -0 "$EMU_PID" 2>/dev/null || { echo "lambda_emu exited:" >&2; cat "$EMU_LOG" >&2; return 1; }
    sleep 0.05
  done
  [ -s "$pf" ] || { echo "lambda_emu wrote no port file" >&2; return 1; }
  QK_URL="http://127.0.0.1:$(cat "$pf")"
}

# invoke EVENT [curl args]: prints the HTTP status (body in $QK_BODY, headers in $QK_HEADERS).
invoke() { qk_post "$INVOKE" "$@"; }
fn_error() { qk_header X-Amz-Function-Error; }
runtime_tag() { qk_header X-Emu-Runtime; }
emu_status() { curl -s "$QK_URL/emu/status"; }
q_event() { python3 -c 'import json,sys; print(json.dumps({"q": sys.argv[1]}))' "$1"; }

# expect_error NAME EVENT TYPE [MESSAGE]: a function error of type TYPE (and MESSAGE in it).
expect_error() {
  local name=$1 event=$2 type=$3 msg=${4:-} st t m
  st=$(invoke "$event")
  t=$(qk_json "$QK_BODY" 'j.get("errorType")' 2>/dev/null)
  m=$(qk_json "$QK_BODY" 'j.get("errorMessage")' 2>/dev/null)
  if [ "$st" != 200 ] || [ "$(fn_error)" != Unhandled ]; then
    qk_not_ok "$name" "status $st, X-Amz-Function-Error '$(fn_error)'"
  elif [ "$t" != "$type" ]; then qk_not_ok "$name" "errorType '$t', want '$type'"
  elif [ -n "$msg" ] && [[ "$m" != *"$msg"* ]]; then qk_not_ok "$name" "'$m' lacks '$msg'"
  elif [ "$(qk_json "$QK_BODY" 'sorted(j)')" != '["errorMessage", "errorType"]' ]; then
    qk_not_ok "$name" "keys $(qk_json "$QK_BODY" 'sorted(j)')"
  else qk_ok "$name ($type)"; fi
}

# differential NAME SQL: the invocation's records equal `quack query -F json` on the same SQL.
differential() {
  local name=$1 sql=$2
  if [ "$(invoke "$(python3 -c 'import json,sys; print(json.dumps({"q": sys.argv[1], "limit": 1000}))' "$sql")")" != 200 ] ||
     [ -n "$(fn_error)" ]; then
    qk_not_ok "differential: $name" "invocation failed"; return
  fi
  "$QUACK_BIN" query --lake "$QK_LAKE" --threads 2 --limit 1000 -F json "$sql" >"$QK_TMP/want.json" \
    2>"$QK_TMP/want.err" || { qk_not_ok "differential: $name" "quack query: $(cat "$QK_TMP/want.err")"; return; }
  if python3 - "$QK_BODY" "$QK_TMP/want.json" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))["data"]["records"]
want = json.load(open(sys.argv[2]))
sys.exit(0 if got == want and len(got) > 0 else 1)
PY
  then qk_ok "differential: $name ($(qk_json "$QK_BODY" 'len(j["data"]["records"])') records)"
  else qk_not_ok "differential: $name" "records differ from quack query"; fi
}

# --- the bootstrap switch ---------------------------------------------------------------------
AWS_LAMBDA_RUNTIME_API= "$QUACK_BIN" >/dev/null 2>&1
qk_eq "no arguments, no AWS_LAMBDA_RUNTIME_API: usage (exit 2)" "$?" 2
AWS_LAMBDA_RUNTIME_API=127.0.0.1:1 "$QUACK_BIN" version >/dev/null 2>&1
qk_eq "a command wins over AWS_LAMBDA_RUNTIME_API" "$?" 0
(cd "$QK_TMP" && AWS_LAMBDA_RUNTIME_API=127.0.0.1:1 QUACK_LAKE="$QK_LAKE" timeout 20 "$QUACK_BIN" \
  >/dev/null 2>"$QK_TMP/noapi.log")
qk_eq "no Runtime API listening: the runtime exits 1" "$?" 1
qk_check "... and says why in the log" grep -q runtime_api_error "$QK_TMP/noapi.log"
AWS_LAMBDA_RUNTIME_API='http://x/y' "$QUACK_BIN" >/dev/null 2>"$QK_TMP/badapi.log"
qk_eq "AWS_LAMBDA_RUNTIME_API must be host:port (exit 1)" "$?" 1
qk_check "... with a message naming it" grep -q 'AWS_LAMBDA_RUNTIME_API: want host:port' "$QK_TMP/badapi.log"

# --- one emulator, two warm runtimes, default limits ------------------------------------------
emu_start --runtimes 2 --lake "$QK_LAKE" --timeout 5 || exit 1
E1_URL=$QK_URL
E1_LOG=$EMU_LOG
E1_PID=$EMU_PID

# warm: false on the first query a process answers, true afterwards on the same process.
: >"$QK_TMP/warm"
for _ in $(seq 8); do
  invoke '{"q": "SELECT 1 AS one"}' >/dev/null
  echo "$(runtime_tag) $(qk_json "$QK_BODY" 'j["metadata"]["warm"]')" >>"$QK_TMP/warm"
done
qk_check "warm is false on each runtime's first query, true after" python3 - "$QK_TMP/warm" <<'PY'
import sys
seen, repeat = set(), False
for line in open(sys.argv[1]):
    tag, warm = line.split()
    assert tag != "", "no X-Emu-Runtime"
    assert warm == ("true" if tag in seen else "false"), line
    repeat |= tag in seen
    seen.add(tag)
assert repeat
PY

qk_eq "seed query is 200" "$(invoke "$(q_event "SELECT COUNT(*) AS COUNTS FROM read_parquet(['$DS'])")")" 200
qk_eq "no function error" "$(fn_error)" ""
qk_eq "top-level keys" "$(qk_json "$QK_BODY" 'sorted(j)')" '["data", "metadata"]'
qk_eq "metadata keys" "$(qk_json "$QK_BODY" 'sorted(j["metadata"])')" \
  '["epochMs", "eventId", "query", "timeMs", "warm"]'
qk_eq "query echoed" "$(qk_json "$QK_BODY" 'j["metadata"]["query"]')" \
  "SELECT COUNT(*) AS COUNTS FROM read_parquet(['$DS'])"
qk_check "eventId is a uuid4, timeMs a number, epochMs now" python3 -c '
import json, re, sys, time
m = json.load(open(sys.argv[1]))["metadata"]
assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", m["eventId"])
assert isinstance(m["timeMs"], (int, float)) and m["timeMs"] >= 0
assert isinstance(m["epochMs"], int) and abs(m["epochMs"] - time.time() * 1000) < 60000' "$QK_BODY"
differential "seed count" "SELECT COUNT(*) AS COUNTS FROM read_parquet(['$DS'])"
differential "top pickup locations 2019-04-01..03" "SELECT pickup_location_id AS location_id,
  COUNT(*) AS counts FROM read_parquet(['$DS']) WHERE pickup_at BETWEEN '2019-04-01' AND '2019-04-03'
  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
differential "hive partitions by day" "SELECT date, COUNT(*) AS trips, SUM(passenger_count) AS p
  FROM read_parquet('$QK_LAKE/partitioned/*/*.parquet', hive_partitioning=1)
  WHERE date BETWEEN '2019-04-01' AND '2019-04-10' GROUP BY date ORDER BY date"
differential "lake table name" "SELECT payment_type, COUNT(*) AS n FROM partitioned GROUP BY 1 ORDER BY 1"
differential "types: decimal, timestamp, null" "SELECT 1.25::DECIMAL(10,2) AS d,
  TIMESTAMP '2019-04-01 10:20:30' AS t, NULL AS nothing, 170141183460469231731687303715884105727::HUGEINT AS h"

qk_eq "limit defaults to 20" "$(invoke '{"q": "SELECT * FROM range(100)"}' >/dev/null
  qk_json "$QK_BODY" 'len(j["data"]["records"])')" 20
qk_eq "limit 5" "$(invoke '{"q": "SELECT * FROM range(100)", "limit": 5}' >/dev/null
  qk_json "$QK_BODY" 'len(j["data"]["records"])')" 5
qk_eq "no q: no records, query null" "$(invoke '{}' >/dev/null
  qk_json "$QK_BODY" '[j["data"]["records"], j["metadata"]["query"]]')" '[[], null]'

# --- function errors -----------------------------------------------------------------------------
expect_error "SQL syntax error" '{"q": "SELEC 1"}' ParserException "syntax error"
expect_error "unknown column" '{"q": "SELECT nope FROM range(3)"}' BinderException "nope"
expect_error "unknown table" '{"q": "SELECT * FROM no_such_table"}' CatalogException "no_such_table"
expect_error "sandbox: file outside the lake" "$(q_event "SELECT * FROM read_csv('/etc/passwd')")" \
  PermissionException
expect_error "event is not JSON" 'not json at all' BadRequest "invalid JSON"
expect_error "empty event" '' BadRequest "empty request body"
expect_error "event is a JSON array" '[1, 2]' BadRequest "JSON object"
expect_error "event is a JSON string" '"SELECT 1"' BadRequest "JSON object"
expect_error "q is a number" '{"q": 42}' BadRequest '"q" must be a string'
expect_error "limit is negative" '{"q": "SELECT 1", "limit": -1}' BadRequest "between 0 and 1000000"
expect_error "limit is huge" '{"q": "SELECT 1", "limit": 1e30}' BadRequest '"limit" must be an integer'
expect_error "deep nesting" "{\"q\": \"SELECT 1\", \"x\": $(printf '[%.0s' $(seq 5000))$(printf ']%.0s' $(seq 5000))}" \
  BadRequest "invalid JSON"
expect_error "map task without a queryId" '{"task": "map", "sql": "SELECT 1", "shard": 0}' BadRequest "queryId"
expect_error "unknown task" '{"task": "reduce"}' BadRequest 'unknown task "reduce"'
expect_error "task of the wrong type" '{"task": 7}' BadRequest '"task" must be a string'
expect_error "Records not an array" '{"Records": {}}' BadRequest '"Records" must be an array'
expect_error "S3 record without a key" \
  '{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]}' \
  BadRequest "Records[0].s3.object.key"
expect_error "SQS records are not S3 events" '{"Records": [{"eventSource": "aws:sqs", "body": "x"}]}' \
  UnsupportedEvent "aws:sqs"
qk_eq "the runtimes survived the bad events (no restarts)" \
  "$(emu_status | python3 -c 'import json,sys; print(sum(r["restarts"] for r in json.load(sys.stdin)["runtimes"]))')" 0

# --- S3 ObjectCreated events ----------------------------------------------------------------------
S3_EVENT='{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
  "eventTime": "2019-04-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
  "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "lake-bucket", "arn": "arn:aws:s3:::lake-bucket"},
         "object": {"key": "raw/trips/day+one%3D1.csv", "size": 1024, "eTag": "abc", "sequencer": "0A1B"}}},
  {"eventSource": "aws:s3", "eventName": "ObjectCreated:CompleteMultipartUpload",
   "s3": {"bucket": {"name": "lake-bucket"}, "object": {"key": "raw/trips/2.csv"}}}]}'
qk_eq "S3 event is acknowledged" "$(invoke "$S3_EVENT" >/dev/null; fn_error; cat "$QK_BODY")" \
  '{"records":2,"handled":false}'
sleep 0.2
qk_check "each record is logged with its URL-decoded key" python3 - "$E1_LOG" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if '"s3_record"' in l]
keys = {(r["bucket"], r["key"], r["eventName"], r["size"]) for r in recs}
assert ("lake-bucket", "raw/trips/day one=1.csv", "ObjectCreated:Put", 1024) in keys, keys
assert ("lake-bucket", "raw/trips/2.csv", "ObjectCreated:CompleteMultipartUpload", -1) in keys, keys
PY

# --- limits: the runtime's deadline, the response cap, the Invoke API's request cap ------------
LONG='{"q": "SELECT sum(hash(range)) AS h FROM range(100000000000)"}'
expect_error "a query past the deadline is stopped by the runtime" "$LONG" Timeout \
  "before the invocation's deadline"
qk_eq "... without a restart" \
  "$(emu_status | python3 -c 'import json,sys; print(sum(r["restarts"] for r in json.load(sys.stdin)["runtimes"]))')" 0
BIG='{"q": "SELECT range AS i, repeat('"'x'"', 1000) AS pad FROM range(7000)", "limit": 7000}'
qk_eq "a 7 MB result under the default cap is 200" "$(invoke "$BIG")" 200
qk_eq "... not a function error" "$(fn_error)" ""
qk_check "... cut below 6 MiB with truncated:true" python3 -c '
import json, os, sys
j = json.load(open(sys.argv[1]))
assert os.path.getsize(sys.argv[1]) <= 6 * 1024 * 1024
assert j["metadata"]["truncated"] is True and 0 < len(j["data"]["records"]) < 7000' "$QK_BODY"
head -c 6400000 /dev/zero | tr '\0' ' ' >"$QK_TMP/huge_event"
st=$(curl -s -o "$QK_BODY" -w '%{http_code}' --data-binary @"$QK_TMP/huge_event" "$QK_URL$INVOKE")
qk_eq "an event over 6 MB is refused by the Invoke API (413)" "$st" 413
qk_eq "... RequestEntityTooLargeException" "$(qk_json "$QK_BODY" 'j["errorType"]')" RequestEntityTooLargeException

# --- Lambda's own limits: hard timeout, 6 MB response, a crash --------------------------------
# The deadline advertised to the runtime is a minute late, so the runtime overruns and the
# emulator kills it, as Lambda does; QUACK_MAX_RESPONSE lets the runtime send 7 MB.
emu_start --runtimes 1 --lake "$QK_LAKE" --timeout 2 --deadline-extra-ms 60000 \
  --env QUACK_MAX_RESPONSE=16MB --env QUACK_MAX_BODY=64KB || exit 1
E2_LOG=$EMU_LOG
qk_eq "first invocation works" "$(invoke '{"q": "SELECT 1 AS one"}' >/dev/null; fn_error; qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"one": 1}]'
PID1=$(runtime_tag | cut -d/ -f2)
expect_error "a query past the function timeout: Lambda's timeout error" "$LONG" Sandbox.Timedout \
  "Task timed out after 2.00 seconds"
qk_eq "the next invocation works" "$(invoke '{"q": "SELECT 2 AS two"}' >/dev/null; fn_error; qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"two": 2}]'
PID2=$(runtime_tag | cut -d/ -f2)
qk_check "... on a new runtime process ($PID1 -> $PID2)" test "$PID1" != "$PID2" -a -n "$PID2"
qk_eq "... which is cold again (warm false)" "$(qk_json "$QK_BODY" 'j["metadata"]["warm"]')" false
qk_eq "the timed-out process is gone" "$(kill -0 "$PID1" 2>/dev/null && echo alive || echo gone)" gone

expect_error "a 7 MB response is refused" "$BIG" Function.ResponseSizeTooLarge \
  "Response payload size exceeded"
qk_check "... the runtime logged the refusal" grep -q '"answer_refused"' "$E2_LOG"
qk_eq "the next invocation works on the same process" \
  "$(invoke '{"q": "SELECT 3 AS three"}' >/dev/null; fn_error; runtime_tag | cut -d/ -f2)" "$PID2"

expect_error "an event over QUACK_MAX_BODY" "$(q_event "SELECT '$(head -c 70000 /dev/zero | tr '\0' x)' AS s")" \
  PayloadTooLarge "QUACK_MAX_BODY"
qk_eq "... and the runtime goes on" "$(invoke '{"q": "SELECT 4 AS four"}' >/dev/null; fn_error; qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"four": 4}]'

# Kill the runtime while it runs a query.
curl -s -o "$QK_TMP/killed.body" -D "$QK_TMP/killed.headers" --data-binary "$LONG" "$QK_URL$INVOKE" &
CURL_PID=$!
VICTIM=
for _ in $(seq 100); do
  VICTIM=$(emu_status | python3 -c '
import json, sys
r = [r for r in json.load(sys.stdin)["runtimes"] if r["state"] == "busy"]
print(r[0]["pid"] if r else "")')
  [ -n "$VICTIM" ] && break
  sleep 0.05
done
qk_check "a runtime is busy with the long query" test -n "$VICTIM"
[ -n "$VICTIM" ] && kill -KILL "$VICTIM"
wait "$CURL_PID"
qk_eq "killed mid-invocation: a function error" \
  "$(grep -i '^X-Amz-Function-Error:' "$QK_TMP/killed.headers" | tr -d '\r' | cut -d' ' -f2)" Unhandled
qk_eq "... Runtime.ExitError, signal: killed" \
  "$(qk_json "$QK_TMP/killed.body" '[j["errorType"], "signal: killed" in j["errorMessage"]]')" \
  '["Runtime.ExitError", true]'
qk_eq "the next invocation works" "$(invoke '{"q": "SELECT 5 AS five"}' >/dev/null; fn_error; qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"five": 5}]'
qk_check "... on a restarted process" test "$(runtime_tag | cut -d/ -f2)" != "$VICTIM"
qk_eq "two restarts counted" "$(emu_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtimes"][0]["restarts"])')" 2
E2_PID=$EMU_PID
RT_PID=$(runtime_tag | cut -d/ -f2)
qk_stop_server "$E2_PID"
qk_eq "SIGTERM stops the emulator (exit 0)" "$?" 0
qk_eq "... and its runtime" "$(kill -0 "$RT_PID" 2>/dev/null && echo alive || echo gone)" gone
qk_check "... which stopped cleanly" grep -q '"runtime_stopped"' "$E2_LOG"

# --- init errors ---------------------------------------------------------------------------------
emu_start --runtimes 1 --lake "$QK_TMP/no-such-lake" --timeout 5 || exit 1
expect_error "a missing lake: the init error reaches the caller" '{"q": "SELECT 1"}' \
  Runtime.ConfigInvalid "no-such-lake"
expect_error "... again on the next invocation (a new init)" '{"q": "SELECT 1"}' \
  Runtime.ConfigInvalid "quack cannot start"
qk_check "the emulator logged the init error" grep -q '"emu_init_error"' "$EMU_LOG"
emu_start --runtimes 1 --lake "$QK_LAKE" --env QUACK_MAX_RESPONSE=lots || exit 1
expect_error "a bad QUACK_* setting is an init error" '{"q": "SELECT 1"}' Runtime.ConfigInvalid \
  "QUACK_MAX_RESPONSE"

QK_URL=$E1_URL
qk_eq "the first emulator still answers" "$(invoke '{"q": "SELECT 6 AS six"}' >/dev/null; qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"six": 6}]'
qk_stop_server "$E1_PID"
qk_eq "the first emulator stops (exit 0)" "$?" 0
qk_eq "... its two runtimes exited 0" "$(grep -c '"emu_runtime_exit".*"exit status 0"' "$E1_LOG")" 2
qk_check "no sanitizer reports from any process" bash -c "! grep -l 'Sanitizer' '$QK_TMP'/emu.*.log"
qk_done
