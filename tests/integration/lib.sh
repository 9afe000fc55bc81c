#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lib.sh: shared helpers for the server's integration tests (tests/integration/test_server_*.sh).
#
#   qk_init                 strict mode, a private temp dir, the binaries, the lake; a trap
#                           that stops every server this test started and removes the temp dir
#   qk_start_server ARGS    `quack serve --port 0 --port-file ...` on 127.0.0.1; waits for the
#                           port file and GET /health; sets QK_PID, QK_URL, QK_LOG
#   qk_stop_server [PID]    SIGTERM, wait (bounded), return the server's exit status
#   qk_post PATH BODY [curl args]   POST, body in $QK_BODY, headers in $QK_HEADERS, prints
#                           the status; qk_get PATH likewise
#   qk_json FILE EXPR       evaluate a Python expression on the JSON in FILE (as j)
#   qk_check NAME CMD...    run CMD, count and print "ok"/"not ok"; qk_eq NAME GOT WANT
#   qk_run_case FILE        one data-driven case from tests/integration/http/*/ (format below)
#   qk_delta_files DIR      a local Delta table's files, replayed from its JSON log
#   qk_done                 print "N passed, N failed" and exit non-zero on any failure
#
# Environment (CTest sets it): QUACK_BIN, QUACK_SRC, QUACK_BUILD, QUACK_TEST_LAKE. Without a
# demo lake at QUACK_TEST_LAKE a small one is made with `quack demo --rows 200000`.
# python3 parses JSON (it is on every machine we build on).

QK_PASS=0
QK_FAIL=0
QK_PIDS=()

qk_init() {
  set -uo pipefail
  QUACK_SRC=${QUACK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  QUACK_BUILD=${QUACK_BUILD:-$QUACK_SRC/build}
  QUACK_BIN=${QUACK_BIN:-$QUACK_BUILD/quack}
  QK_DUCKQ=$QUACK_BUILD/duckq
  QK_LOADGEN=$QUACK_BUILD/loadgen
  QK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qk-it-XXXXXX")
  QK_BODY=$QK_TMP/body
  QK_HEADERS=$QK_TMP/headers
  trap qk_cleanup EXIT
  for b in "$QUACK_BIN" "$QK_DUCKQ"; do
    [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }
  done
  qk_lake
}

qk_cleanup() {
  local pid
  for pid in "${QK_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null
  done
  rm -rf "$QK_TMP"
}

# The lake: the demo lake when the fixture made it, else a small one of the same shape.
qk_lake() {
  if [ -n "${QUACK_TEST_LAKE:-}" ] && [ -f "$QUACK_TEST_LAKE/dataset/taxi_2019_04.parquet" ] &&
     [ -d "$QUACK_TEST_LAKE/partitioned" ]; then
    QK_LAKE=$(cd "$QUACK_TEST_LAKE" && pwd)
    return
  fi
  # Same generator as the fixture, smaller: one schema for every test.
  QK_LAKE=$QK_TMP/lake
  echo "# no demo lake at QUACK_TEST_LAKE: making a 200,000-row demo lake" >&2
  "$QUACK_BIN" demo --lake "$QK_LAKE" --rows 200000 --quiet >/dev/null ||
    { echo "cannot make a test lake" >&2; exit 1; }
}

# qk_start_server [serve args...]: start a server and wait until /health answers 200.
qk_start_server() {
  local n=${#QK_PIDS[@]} pf
  pf=$QK_TMP/port.$n
  QK_LOG=$QK_TMP/server.$n.log
  "$QUACK_BIN" serve --host 127.0.0.1 --port 0 --port-file "$pf" --lake "$QK_LAKE" \
    --threads 2 "$@" 2>"$QK_LOG" &
  QK_PID=$!
  QK_PIDS+=("$QK_PID")
  for _ in $(seq 600); do
    [ -s "$pf" ] && break
    kill -0 "$QK_PID" 2>/dev/null || { echo "server exited at start:" >&2; cat "$QK_LOG" >&2; return 1; }
    sleep 0.05
  done
  [ -s "$pf" ] || { echo "server did not write its port file" >&2; return 1; }
  QK_URL="http://127.0.0.1:$(cat "$pf")"
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$QK_URL/health")" = 200 ] && return 0
    sleep 0.05
  done
  echo "server at $QK_URL does not answer /health" >&2
  return 1
}

# qk_stop_server [PID]: SIGTERM (unless it already exited), wait up to 30 s; returns the
# server's exit status (124 when it had to be killed).
qk_stop_server() {
  local pid=${1:-$QK_PID}
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; return 124; fi
  wait "$pid"
}

# qk_post PATH BODY [curl args...]: prints the HTTP status.
qk_post() {
  local path=$1 body=$2
  shift 2
  printf '%s' "$body" >"$QK_TMP/req"
  curl -s -o "$QK_BODY" -D "$QK_HEADERS" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$QK_TMP/req" "$@" "$QK_URL$path"
}

qk_get() {
  local path=$1
  shift
  curl -s -o "$QK_BODY" -D "$QK_HEADERS" -w '%{http_code}' "$@" "$QK_URL$path"
}

# qk_header NAME: a header of the last response (case-insensitive name), without CR.
qk_header() {
  grep -i "^$1:" "$QK_HEADERS" | head -1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'
}

# qk_json FILE EXPR: print EXPR evaluated with j = the parsed JSON (strings bare, else JSON).
qk_json() {
  python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

qk_ok() { QK_PASS=$((QK_PASS + 1)); echo "ok - $1"; }
qk_not_ok() {
  QK_FAIL=$((QK_FAIL + 1))
  echo "not ok - $1"
  [ -n "${2:-}" ] && echo "#   $2"
  [ -f "$QK_BODY" ] && echo "#   last body: $(head -c 400 "$QK_BODY")"
  return 0
}

# qk_check NAME CMD...: pass when CMD succeeds.
qk_check() {
  local name=$1
  shift
  if "$@"; then qk_ok "$name"; else qk_not_ok "$name" "command failed: $*"; fi
}

# qk_eq NAME GOT WANT
qk_eq() {
  if [ "$2" = "$3" ]; then qk_ok "$1"; else qk_not_ok "$1" "got '$2', want '$3'"; fi
}

# qk_run_case FILE: a case file is "key: value" lines (path, method, status, errorType,
# message: a substring of errorMessage, header: an extra request header, repeatable), then a
# line "body:" and the body verbatim (@LAKE@ is replaced by the lake root, no final newline).
qk_run_case() {
  local file=$1 name
  name=$(basename "$file" .case)
  python3 - "$file" "$QK_LAKE" "$QK_TMP/case" <<'PY'
import sys
text = open(sys.argv[1]).read()
head, sep, body = text.partition("\nbody:\n")
fields = {"method": "POST", "header": []}
for line in head.splitlines():
    if not line.strip() or line.startswith("#"):
        continue
    k, _, v = line.partition(":")
    if k.strip() == "header":
        fields["header"].append(v.strip())
    else:
        fields[k.strip()] = v.strip()
body = body[:-1] if body.endswith("\n") else body
open(sys.argv[3] + ".body", "w").write(body.replace("@LAKE@", sys.argv[2]))
with open(sys.argv[3] + ".vars", "w") as f:
    for k in ("path", "method", "status", "errorType", "message"):
        f.write(fields.get(k, "") + "\n")
    f.write("\x1f".join(fields["header"]) + "\n")
PY
  local path method status etype msg hdrs got args=()
  { read -r path; read -r method; read -r status; read -r etype; read -r msg; read -r hdrs; } \
    <"$QK_TMP/case.vars"
  if [ -n "$hdrs" ]; then
    IFS=$'\x1f' read -r -a hl <<<"$hdrs"
    for h in "${hl[@]}"; do args+=(-H "$h"); done
  fi
  if [ "$method" = POST ]; then
    got=$(curl -s -o "$QK_BODY" -D "$QK_HEADERS" -w '%{http_code}' -H 'Content-Type: application/json' \
      "${args[@]}" --data-binary @"$QK_TMP/case.body" "$QK_URL$path")
  else
    got=$(curl -s -o "$QK_BODY" -D "$QK_HEADERS" -w '%{http_code}' -X "$method" "${args[@]}" "$QK_URL$path")
  fi
  if [ "$got" != "$status" ]; then qk_not_ok "$name: status" "got $got, want $status"; return; fi
  if [ -n "$etype" ]; then
    local t m
    t=$(qk_json "$QK_BODY" 'j["errorType"]' 2>/dev/null)
    m=$(qk_json "$QK_BODY" 'j["errorMessage"]' 2>/dev/null)
    if [ "$t" != "$etype" ]; then qk_not_ok "$name: errorType" "got '$t', want '$etype'"; return; fi
    if [ -n "$msg" ] && [[ "$m" != *"$msg"* ]]; then
      qk_not_ok "$name: errorMessage" "'$m' lacks '$msg'"; return
    fi
  fi
  qk_ok "$name ($status${etype:+ $etype})"
}

# qk_delta_files DIR: the Parquet files the Delta table in local directory DIR lists at its
# latest version, as a DuckDB list literal: its JSON commits (contiguous from 0) replayed here
# in python, independently of quack's reader (checkpoints are not read).
qk_delta_files() {
  python3 - "$1" <<'PY'
import json, os, sys, urllib.parse
d = sys.argv[1]
log = os.path.join(d, "_delta_log")
vs = sorted(int(f[:20]) for f in os.listdir(log) if f.endswith(".json") and len(f) == 25)
assert vs == list(range(len(vs))), vs
live = {}
for v in vs:
    for line in open(os.path.join(log, "%020d.json" % v)):
        a = json.loads(line)
        if "add" in a: live[urllib.parse.unquote(a["add"]["path"])] = a["add"]
        if "remove" in a: live.pop(urllib.parse.unquote(a["remove"]["path"]), None)
print("[" + ", ".join("'" + os.path.join(d, p).replace("'", "''") + "'" for p in sorted(live)) + "]")
PY
}

qk_done() {
  echo "$QK_PASS passed, $QK_FAIL failed"
  [ "$QK_FAIL" -eq 0 ]
}
