#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_cache_cli.sh: the `quack cache` command line (docs/cache.md): --help, usage errors (exit
# 2), ls/stats/clear on an empty cache and on one filled with `quack cache fetch` from a small
# local store (text and --json), hit/miss and ETag revalidation through fetch, QUACK_CACHE_MAX
# errors (exit 1), and the default dir when HOME is not writable.
# Env (from CTest): QUACK_BIN.
set -uo pipefail
Q=${QUACK_BIN:?QUACK_BIN not set}
Q=$(cd "$(dirname "$Q")" && pwd)/$(basename "$Q")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/qk-test-cache-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fails=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }

# expect_exit CODE DESC CMD...: run CMD (stdout in $tmp/out, stderr in $tmp/err), check status.
expect_exit() {
  local want=$1 desc=$2
  shift 2
  local got=0
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || got=$?
  if [ "$got" = "$want" ]; then ok "$desc (exit $got)"
  else bad "$desc: exit $got, want $want; stderr: $(head -c 300 "$tmp/err")"; fi
}
contains() { if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: '$2' not in: $(head -c 300 "$1")"; fi; }
eq() { if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', want '$3'"; fi; }
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

C=$tmp/cache
L=$tmp/lake
mkdir -p "$L/dataset" "$L/raw dir"
printf 'a,b\n1,2\n' >"$L/dataset/small.csv"
printf 'hello' >"$L/raw dir/notes ünïcode.txt"

# --- help and usage ---
expect_exit 0 "cache --help" "$Q" cache --help
contains "$tmp/out" "quack cache ls|stats|clear" "help shows the usage"
expect_exit 0 "help cache" "$Q" help cache
expect_exit 0 "quack --help lists cache" "$Q" --help
contains "$tmp/out" "inspect or clear the local cache" "main help has the cache summary"
expect_exit 2 "no subcommand" "$Q" cache
expect_exit 2 "unknown subcommand" "$Q" cache frobnicate --dir "$C"
contains "$tmp/err" "unknown subcommand 'frobnicate'" "names the bad subcommand"
expect_exit 2 "unknown option" "$Q" cache ls --bogus
expect_exit 2 "--dir needs a value" "$Q" cache ls --dir
expect_exit 2 "extra argument" "$Q" cache stats extra --dir "$C"
expect_exit 2 "fetch without --store" "$Q" cache fetch --dir "$C" dataset/small.csv
expect_exit 2 "fetch without a key" "$Q" cache fetch --dir "$C" --store "$L"
expect_exit 2 "--store outside fetch" "$Q" cache ls --dir "$C" --store "$L"

# --- empty cache ---
expect_exit 0 "stats on an empty cache" "$Q" cache stats --dir "$C"
contains "$tmp/out" "objects  0" "empty: 0 objects"
expect_exit 0 "stats --json on an empty cache" "$Q" cache stats --dir "$C" --json
eq "empty: json objects" "$(json "$tmp/out" 'j["objects"]')" 0
eq "empty: json max is 10 GiB" "$(json "$tmp/out" 'j["max_bytes"]')" $((10 << 30))
expect_exit 0 "ls on an empty cache" "$Q" cache ls --dir "$C"
contains "$tmp/out" "is empty" "empty ls says so"
expect_exit 0 "ls --json on an empty cache" "$Q" cache ls --dir "$C" --json
eq "empty: json listing" "$(json "$tmp/out" 'len(j["objects"])')" 0
expect_exit 0 "clear on an empty cache" "$Q" cache clear --dir "$C"
contains "$tmp/out" "removed 0 objects" "clear of nothing"

# --- populate ---
expect_exit 0 "fetch a csv (miss)" "$Q" cache fetch --dir "$C" --store "$L" dataset/small.csv
contains "$tmp/out" "miss " "first fetch is a miss"
path=$(cut -d' ' -f2- "$tmp/out")
case "$path" in "$C"/objects/*.csv) ok "cached path keeps .csv ($path)" ;; *) bad "cached path: $path" ;; esac
eq "cached bytes equal the source" "$(cat "$path")" "$(cat "$L/dataset/small.csv")"
expect_exit 0 "fetch again (hit)" "$Q" cache fetch --dir "$C" --store "$L" dataset/small.csv --json
eq "second fetch is a hit" "$(json "$tmp/out" 'j["hit"]')" True
expect_exit 0 "fetch a key with spaces and unicode" "$Q" cache fetch --dir "$C" --store "$L" \
  "raw dir/notes ünïcode.txt"
sleep 0.01
printf 'a,b\n1,2\n3,4\n' >"$L/dataset/small.csv.new" && mv "$L/dataset/small.csv.new" "$L/dataset/small.csv"
expect_exit 0 "fetch after the object changed" "$Q" cache fetch --dir "$C" --store "$L" dataset/small.csv
contains "$tmp/out" "miss " "a new ETag is a miss"
eq "the new content is cached" "$(cat "$path")" "$(printf 'a,b\n1,2\n3,4')"
expect_exit 1 "fetch a missing object" "$Q" cache fetch --dir "$C" --store "$L" nope.csv
contains "$tmp/err" "nope.csv" "the error names the key"

# --- populated cache ---
expect_exit 0 "stats on a populated cache" "$Q" cache stats --dir "$C" --json
eq "two objects" "$(json "$tmp/out" 'j["objects"]')" 2
eq "their bytes" "$(json "$tmp/out" 'j["bytes"]')" $((12 + 5))
expect_exit 0 "stats text" "$Q" cache stats --dir "$C"
contains "$tmp/out" "17 B (17)" "bytes are humanized"
expect_exit 0 "ls text" "$Q" cache ls --dir "$C"
contains "$tmp/out" "$L/dataset/small.csv" "ls names the object"
contains "$tmp/out" "notes ünïcode.txt" "ls shows the unicode key"
expect_exit 0 "ls --json" "$Q" cache ls --dir "$C" --json
eq "ls --json has both" "$(json "$tmp/out" 'len(j["objects"])')" 2
eq "most recently used first" "$(json "$tmp/out" 'j["objects"][0]["key"]')" "dataset/small.csv"
eq "ls --json key with unicode" "$(json "$tmp/out" 'j["objects"][1]["key"]')" "raw dir/notes ünïcode.txt"
eq "no temp files left" "$(find "$C" -name '.qk-tmp-*' | wc -l)" 0

# --- limits and environment ---
QUACK_CACHE_MAX=huge expect_exit 1 "bad QUACK_CACHE_MAX" "$Q" cache stats --dir "$C"
contains "$tmp/err" "QUACK_CACHE_MAX" "the error names QUACK_CACHE_MAX"
QUACK_CACHE_MAX=1MB expect_exit 0 "QUACK_CACHE_MAX is the limit" "$Q" cache stats --dir "$C" --json
eq "max from QUACK_CACHE_MAX" "$(json "$tmp/out" 'j["max_bytes"]')" $((1 << 20))
HOME=$tmp/no-such-home XDG_CACHE_HOME='' expect_exit 0 "default dir without a writable HOME" \
  "$Q" cache stats --json
eq "default dir is /tmp/quack-cache" "$(json "$tmp/out" 'j["dir"]')" /tmp/quack-cache
XDG_CACHE_HOME=$tmp/xdg expect_exit 0 "default dir under XDG_CACHE_HOME" "$Q" cache stats --json
eq "XDG dir" "$(json "$tmp/out" 'j["dir"]')" "$tmp/xdg/quack"

# --- clear ---
expect_exit 0 "clear a populated cache" "$Q" cache clear --dir "$C" --json
eq "removed two" "$(json "$tmp/out" 'j["removed_objects"]')" 2
eq "removed bytes" "$(json "$tmp/out" 'j["removed_bytes"]')" 17
eq "nothing left under objects/" "$(find "$C/objects" -mindepth 1 | wc -l)" 0
expect_exit 0 "stats after clear" "$Q" cache stats --dir "$C" --json
eq "empty after clear" "$(json "$tmp/out" 'j["objects"]')" 0

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
