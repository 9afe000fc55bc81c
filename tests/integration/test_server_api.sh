#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_server_api.sh: the HTTP API of `quack serve` as docs/http-api.md describes it:
# /health; the seed contract of POST /invoke (exact key sets, warm, default limit, null q);
# POST /query (columns, types, truncation, formats, Accept, X-Quack-* headers); the response
# byte cap; bearer auth; /metrics; the request log; `quack query --endpoint`; and differential
# checks: quack's answers on the lake equal plain DuckDB's (bench/duckq) byte for byte.
source "$(dirname "$0")/lib.sh"
qk_init
qk_start_server || exit 1
DS="$QK_LAKE/dataset/taxi_2019_04.parquet"

# --- /health -------------------------------------------------------------------------------
qk_eq "GET /health is 200" "$(qk_get /health)" 200
qk_eq "health keys" "$(qk_json "$QK_BODY" 'sorted(j)')" '["inFlight", "lake", "status", "uptimeMs", "version"]'
qk_eq "health names the lake" "$(qk_json "$QK_BODY" 'j["lake"]')" "$QK_LAKE"

# --- /invoke: the seed contract --------------------------------------------------------------
qk_eq "first /invoke is 200" "$(qk_post /invoke '{"q": "SELECT 42 AS answer, NULL AS nothing"}')" 200
cp "$QK_BODY" "$QK_TMP/first.json"
qk_eq "top-level keys" "$(qk_json "$QK_BODY" 'sorted(j)')" '["data", "metadata"]'
qk_eq "metadata keys" "$(qk_json "$QK_BODY" 'sorted(j["metadata"])')" \
  '["epochMs", "eventId", "query", "timeMs", "warm"]'
qk_eq "data keys" "$(qk_json "$QK_BODY" 'sorted(j["data"])')" '["records"]'
qk_eq "records" "$(qk_json "$QK_BODY" 'j["data"]["records"]')" '[{"answer": 42, "nothing": null}]'
qk_eq "warm is false on the first query" "$(qk_json "$QK_BODY" 'j["metadata"]["warm"]')" false
qk_eq "query echoed" "$(qk_json "$QK_BODY" 'j["metadata"]["query"]')" "SELECT 42 AS answer, NULL AS nothing"
qk_check "eventId is a uuid4" python3 -c '
import json, re, sys
m = json.load(open(sys.argv[1]))["metadata"]
assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", m["eventId"])' "$QK_BODY"
qk_check "timeMs is a number, epochMs is now" python3 -c '
import json, sys, time
m = json.load(open(sys.argv[1]))["metadata"]
assert isinstance(m["timeMs"], (int, float)) and m["timeMs"] >= 0
assert isinstance(m["epochMs"], int) and abs(m["epochMs"] - time.time() * 1000) < 60000' "$QK_BODY"
qk_eq "X-Quack-Query-Id is the eventId" "$(qk_header X-Quack-Query-Id)" "$(qk_json "$QK_BODY" 'j["metadata"]["eventId"]')"
qk_eq "second /invoke is 200" "$(qk_post /invoke '{"q": "SELECT 1"}')" 200
qk_eq "warm is true after the first query" "$(qk_json "$QK_BODY" 'j["metadata"]["warm"]')" true
qk_eq "limit defaults to 20" "$(qk_post /invoke '{"q": "SELECT * FROM range(100)"}'; qk_json "$QK_BODY" 'len(j["data"]["records"])')" "20020"
qk_eq "limit 5" "$(qk_post /invoke '{"q": "SELECT * FROM range(100)", "limit": 5}' >/dev/null; qk_json "$QK_BODY" 'len(j["data"]["records"])')" 5
qk_eq "limit 0" "$(qk_post /invoke '{"q": "SELECT * FROM range(100)", "limit": 0}' >/dev/null; qk_json "$QK_BODY" 'j["data"]["records"]')" '[]'
qk_eq "no q: 200" "$(qk_post /invoke '{}')" 200
qk_eq "no q: no records, query null" "$(qk_json "$QK_BODY" '[j["data"]["records"], j["metadata"]["query"]]')" '[[], null]'
qk_eq "null q: same" "$(qk_post /invoke '{"q": null}' >/dev/null; qk_json "$QK_BODY" 'j["metadata"]["query"]')" null
qk_eq "timestamps are ISO-8601" "$(qk_post /invoke '{"q": "SELECT TIMESTAMP '"'"'2019-04-01 10:20:30'"'"' AS t"}' >/dev/null
  qk_json "$QK_BODY" 'j["data"]["records"][0]["t"][:19]')" "2019-04-01T10:20:30"

# --- /query --------------------------------------------------------------------------------
qk_eq "/query json is 200" "$(qk_post /query '{"sql": "SELECT range AS i, '"'"'x'"'"' AS s FROM range(50)", "limit": 10}')" 200
qk_eq "/query keys" "$(qk_json "$QK_BODY" 'sorted(j)')" \
  '["columns", "queryId", "records", "rowCount", "timeMs", "totalMs", "truncated", "truncatedBy", "warm"]'
qk_eq "columns and types" "$(qk_json "$QK_BODY" 'j["columns"]')" \
  '[{"name": "i", "type": "BIGINT"}, {"name": "s", "type": "VARCHAR"}]'
qk_eq "row count and truncation by limit" "$(qk_json "$QK_BODY" '[j["rowCount"], len(j["records"]), j["truncated"], j["truncatedBy"]]')" \
  '[10, 10, true, "limit"]'
qk_eq "X-Quack-Rows" "$(qk_header X-Quack-Rows)" 10
qk_eq "X-Quack-Truncated" "$(qk_header X-Quack-Truncated)" true
qk_eq "X-Quack-Truncated-By" "$(qk_header X-Quack-Truncated-By)" limit
qk_eq "X-Quack-Warm" "$(qk_header X-Quack-Warm)" true
qk_eq "X-Quack-Query-Id is queryId" "$(qk_header X-Quack-Query-Id)" "$(qk_json "$QK_BODY" 'j["queryId"]')"
qk_check "X-Quack-Time-Ms is a number" python3 -c 'float(__import__("sys").argv[1])' "$(qk_header X-Quack-Time-Ms)"
qk_eq "Content-Type json" "$(qk_header Content-Type)" application/json
qk_post /query '{"sql": "SELECT 1 AS x"}' >/dev/null
qk_eq "untruncated: truncatedBy null" "$(qk_json "$QK_BODY" '[j["truncated"], j["truncatedBy"]]')" '[false, null]'
qk_eq "untruncated: no X-Quack-Truncated-By" "$(qk_header X-Quack-Truncated-By)" ""

qk_post /query '{"sql": "SELECT range AS i FROM range(3)", "format": "csv"}' >/dev/null
qk_eq "format csv body" "$(tr -d '\r' <"$QK_BODY" | paste -sd' ')" "i 0 1 2"
qk_eq "format csv type" "$(qk_header Content-Type | cut -d';' -f1)" text/csv
qk_eq "csv also has X-Quack-Rows" "$(qk_header X-Quack-Rows)" 3
qk_post /query '{"sql": "SELECT range AS i FROM range(3)", "format": "ndjson"}' >/dev/null
qk_eq "format ndjson body" "$(paste -sd' ' "$QK_BODY")" '{"i":0} {"i":1} {"i":2}'
qk_eq "format ndjson type" "$(qk_header Content-Type | cut -d';' -f1)" application/x-ndjson
qk_post /query '{"sql": "SELECT 42 AS answer", "format": "table"}' >/dev/null
qk_check "format table draws a box with the type" grep -q "answer" "$QK_BODY"
qk_eq "format table type" "$(qk_header Content-Type | cut -d';' -f1)" text/plain
qk_post /query '{"sql": "SELECT 7 AS n"}' -H 'Accept: text/csv' >/dev/null
qk_eq "Accept: text/csv" "$(tr -d '\r' <"$QK_BODY" | paste -sd' ')" "n 7"
qk_post /query '{"sql": "SELECT 7 AS n"}' -H 'Accept: text/html, application/x-ndjson' >/dev/null
qk_eq "Accept: first known type" "$(cat "$QK_BODY")" '{"n":7}'
qk_post /query '{"sql": "SELECT 7 AS n", "format": "json"}' -H 'Accept: text/csv' >/dev/null
qk_eq "format wins over Accept" "$(qk_json "$QK_BODY" 'j["records"]')" '[{"n": 7}]'

# --- the CLI against the server --------------------------------------------------------------
out=$("$QUACK_BIN" query --endpoint "$QK_URL" --format csv "SELECT 6 * 7 AS answer" 2>&1)
qk_eq "quack query --endpoint" "$(printf '%s' "$out" | tr -d '\r' | paste -sd' ')" "answer 42"

# --- differential: quack's answers equal DuckDB's own ----------------------------------------
diff_check() { # NAME SQL
  local name=$1 sql=$2 body
  body=$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "format": "csv", "limit": 100000}))' "$sql")
  if [ "$(qk_post /query "$body")" != 200 ]; then qk_not_ok "differential: $name" "quack failed"; return; fi
  "$QK_DUCKQ" --threads 2 "$sql" >"$QK_TMP/want.csv" 2>"$QK_TMP/duckq.err" ||
    { qk_not_ok "differential: $name" "duckq: $(cat "$QK_TMP/duckq.err")"; return; }
  if cmp -s "$QK_BODY" "$QK_TMP/want.csv"; then qk_ok "differential: $name ($(($(wc -l <"$QK_BODY") - 1)) rows)"
  else qk_not_ok "differential: $name" "$(diff <(tr -d '\r' <"$QK_BODY") <(tr -d '\r' <"$QK_TMP/want.csv") | head -5)"; fi
}
diff_check "seed count" "SELECT COUNT(*) AS COUNTS FROM read_parquet(['$DS'])"
diff_check "top pickup locations 2019-04-01..03" "SELECT pickup_location_id AS location_id, COUNT(*) AS counts
  FROM read_parquet(['$DS']) WHERE pickup_at BETWEEN '2019-04-01' AND '2019-04-03'
  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
diff_check "hive partitions 2019-04-01..10" "SELECT date, COUNT(*) AS trips, SUM(passenger_count) AS passengers
  FROM read_parquet('$QK_LAKE/partitioned/*/*.parquet', hive_partitioning=1)
  WHERE date BETWEEN '2019-04-01' AND '2019-04-10' GROUP BY date ORDER BY date"
diff_check "aggregates by payment type" "SELECT payment_type, COUNT(*) AS n, MIN(pickup_location_id) AS lo,
  MAX(dropoff_location_id) AS hi, SUM(passenger_count) AS p FROM read_parquet('$DS') GROUP BY 1 ORDER BY 1"
qk_post /invoke "{\"q\": \"SELECT COUNT(*) AS COUNTS FROM read_parquet(['$DS'])\"}" >/dev/null
qk_eq "differential: /invoke count equals DuckDB's" "$(qk_json "$QK_BODY" 'j["data"]["records"][0]["COUNTS"]')" \
  "$("$QK_DUCKQ" "SELECT COUNT(*) FROM read_parquet(['$DS'])" | tail -1 | tr -d '\r')"

# --- the response byte cap -------------------------------------------------------------------
qk_start_server --max-response 64KB || exit 1
BIG='{"q": "SELECT range AS i, repeat('"'"'x'"'"', 200) AS pad FROM range(10000)", "limit": 10000}'
qk_eq "capped /invoke is 200" "$(qk_post /invoke "$BIG")" 200
qk_check "capped /invoke stays under 64 KiB" test "$(stat -c %s "$QK_BODY")" -le 65536
qk_eq "capped /invoke: valid JSON, truncated flag, some rows" \
  "$(qk_json "$QK_BODY" '[j["metadata"]["truncated"], 0 < len(j["data"]["records"]) < 10000]')" '[true, true]'
qk_eq "capped /invoke: X-Quack-Truncated" "$(qk_header X-Quack-Truncated)" true
qk_eq "capped /query csv is 200" "$(qk_post /query "${BIG/\"q\"/\"sql\"}" -H 'Accept: text/csv')" 200
qk_check "capped /query csv stays under 64 KiB" test "$(stat -c %s "$QK_BODY")" -le 65536
qk_eq "capped /query csv: truncated by bytes" "$(qk_header X-Quack-Truncated-By)" bytes
qk_eq "capped /query csv: whole lines only" "$(tail -c 2 "$QK_BODY" | od -An -c | tr -d ' ')" '\r\n'
qk_post /query "${BIG/\"q\"/\"sql\"}" >/dev/null
qk_eq "capped /query json: truncatedBy bytes, rowCount matches" \
  "$(qk_json "$QK_BODY" '[j["truncatedBy"], j["rowCount"] == len(j["records"])]')" '["bytes", true]'
qk_stop_server
qk_eq "capped server exits 0" "$?" 0

# --- bearer token ------------------------------------------------------------------------------
TOKEN="s3cret-$RANDOM-token"
QUACK_TOKEN=$TOKEN qk_start_server || exit 1
qk_eq "no token: 401" "$(qk_post /invoke '{"q": "SELECT 1"}')" 401
qk_eq "no token: Unauthorized" "$(qk_json "$QK_BODY" 'j["errorType"]')" Unauthorized
qk_check "no token: WWW-Authenticate" grep -qi '^WWW-Authenticate: Bearer' "$QK_HEADERS"
qk_eq "wrong token: 401" "$(qk_post /query '{"sql": "SELECT 1"}' -H "Authorization: Bearer nope")" 401
qk_eq "right token: 200" "$(qk_post /invoke '{"q": "SELECT 1"}' -H "Authorization: Bearer $TOKEN")" 200
qk_eq "/health needs no token" "$(qk_get /health)" 200
qk_eq "/metrics needs the token" "$(qk_get /metrics)" 401
qk_eq "/metrics with the token" "$(qk_get /metrics -H "Authorization: Bearer $TOKEN")" 200
out=$(QUACK_TOKEN=$TOKEN "$QUACK_BIN" query --endpoint "$QK_URL" --format csv "SELECT 5 AS five" 2>&1)
qk_eq "quack query --endpoint sends QUACK_TOKEN" "$(printf '%s' "$out" | tr -d '\r' | paste -sd' ')" "five 5"
qk_stop_server
qk_check "the token never reaches the log" bash -c "! grep -q '$TOKEN' '$QK_LOG'"

# --- metrics and the request log (first server) ----------------------------------------------
QK_URL="http://127.0.0.1:$(cat "$QK_TMP/port.0")"
QK_LOG=$QK_TMP/server.0.log
qk_post /invoke '{"q": "SELEC 1"}' >/dev/null
qk_eq "GET /metrics is 200" "$(qk_get /metrics)" 200
qk_eq "metrics content type" "$(qk_header Content-Type)" "text/plain; version=0.0.4; charset=utf-8"
for series in 'quack_requests_total{endpoint="invoke",status="200"}' \
  'quack_requests_total{endpoint="query",status="200"}' 'quack_errors_total{type="ParserException"}' \
  'quack_request_duration_seconds_bucket{le="+Inf"}' 'quack_request_duration_seconds_count' \
  'quack_rows_out_total' 'quack_bytes_out_total' 'quack_queries_total' 'quack_in_flight 0'; do
  qk_check "metrics has $series" grep -qF "$series" "$QK_BODY"
done
qk_check "one JSON log line per request with id, status, ms, rows, bytes" python3 -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"request\"" in l]
assert len(reqs) > 20, len(reqs)
for r in reqs:
    for k in ("id", "method", "path", "status", "ms", "rows", "bytes"): assert k in r, (k, r)
bad = [r for r in reqs if r["status"] >= 400]
assert bad and all("errorType" in r for r in bad)
assert not any("sql" in r or "q" in r for r in reqs)' "$QK_LOG"
qk_check "a listening line with the URL" grep -q "\"event\":\"listening\",\"url\":\"$QK_URL\"" "$QK_LOG"
qk_stop_server "${QK_PIDS[0]}"
qk_eq "SIGTERM: exit 0" "$?" 0
qk_done
