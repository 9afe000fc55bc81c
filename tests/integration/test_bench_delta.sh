#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_bench_delta.sh: `quack bench delta` (docs/bench-delta.md) runs end to end on a small
# table and reports every part; its answers-agree check is what can fail it. No timing is
# asserted: only that the numbers exist and are positive, and that bad flags are usage errors.
. "$(dirname "$0")/lib.sh"
qk_init
L=$QK_TMP/lake
mkdir -p "$L"
"$QUACK_BIN" bench delta --lake "$L" --commits 25 --runs 3 --json "$QK_TMP/b.json" \
  >"$QK_TMP/out" 2>"$QK_TMP/err"
qk_eq "bench delta --commits 25 --runs 3: exit 0" "$?" 0
qk_check "JSON written" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$QK_TMP/b.json"
qk_eq "skipping: answers agree, 1 of 20 files read with stats, 20 without, fewer bytes" \
  "$(qk_json "$QK_TMP/b.json" '[j["skipping"]["answers_equal"], j["skipping"]["on"]["files_read"], j["skipping"]["off"]["files_read"], j["skipping"]["on"]["bytes_read"] < j["skipping"]["off"]["bytes_read"]]')" \
  "[true, 1, 20, true]"
qk_eq "snapshot load: a checkpoint at version 20 of versions 0..24" \
  "$(qk_json "$QK_TMP/b.json" '[j["snapshot_load"]["version"], j["snapshot_load"]["checkpoint_version"]]')" "[24, 20]"
qk_check "append latency measured" python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["append"]["append"]["median_ms"] > 0' "$QK_TMP/b.json"
qk_check "the folder it made under the lake is removed" test -z "$(ls "$L")"
"$QUACK_BIN" bench delta --lake "$L" --commits 5 >/dev/null 2>&1
qk_eq "--commits 5 (below 11): exit 2" "$?" 2
"$QUACK_BIN" bench delta --lake "$L" --runs abc >/dev/null 2>&1
qk_eq "--runs abc: exit 2" "$?" 2
qk_done
