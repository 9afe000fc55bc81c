#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_bench_reduce.sh: `quack bench reduce` (docs/bench-reduce.md), small and fast. Timings are
# never checked, only that the command runs, agrees with itself and reports every part:
#   1. a short run on spawned workers (--days 3 --runs 1 --fanout 1,2): exit 0, the four
#      sections and the agreement line on stdout, location 237's count equal in all three
#      modes and equal to a plain `quack query`; --json is valid with the expected keys; no
#      worker process is left behind
#   2. --json -: one JSON document on stdout (what bench/run.sh records), the tables on stderr
#   3. --workers: two running `quack serve` instances instead of spawned ones, --query with
#      <LAKE>/<FIRST_DAY>/<LAST_DAY>
#   4. results that cannot agree (sum of random()) -> exit 1 "results disagree"
#   5. bad flags and a missing lake -> exit 2 with a clear message
. "$(dirname "$0")/lib.sh"
qk_init
Q=$QUACK_BIN
OUT=$QK_TMP/out.md
ERR=$QK_TMP/err.txt
J=$QK_TMP/r.json
FAST=(--days 3 --runs 1 --warmup 0)
BT=$QK_TMP/benchtmp # the bench's TMPDIR: its worker files and the engines' temp dirs
mkdir -p "$BT"

# bench ARGS...: quack bench reduce with TMPDIR=$BT.
bench() { TMPDIR=$BT "$Q" bench reduce "$@"; }
# serve_count: worker processes the bench spawned that are still running.
serve_count() { pgrep -f -- "--port-file $BT/quack-bench-" | wc -l; }

# ---- 1. a short run on spawned workers ------------------------------------------------------------
rc=0
bench --lake "$QK_LAKE" "${FAST[@]}" --spawn 2 --fanout 1,2 --json "$J" \
  >"$OUT" 2>"$ERR" || rc=$?
qk_eq "short run exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "#   $(tail -c 400 "$ERR")"
for section in "## (1) The seed's experiment" "## (2) Per-shard overhead" "## (3) Scaling" \
               "## (4) Simulated fan-out" "Results: the three agree" "What it cannot show"; do
  qk_check "output has '$section'" grep -qF "$section" "$OUT"
done
qk_check "scaling prints PASS or MISS against 0.85" grep -qE "efficiency [0-9.]+ \(target >= 0.85\): (PASS|MISS)" "$OUT"
qk_check "progress goes to stderr" grep -qF "[bench reduce] (1) run 1/1 distributed" "$ERR"
want=$("$Q" query --lake "$QK_LAKE" -F csv -q "SELECT count(*) FROM read_parquet('$QK_LAKE/partitioned/*/*.parquet', hive_partitioning = true) WHERE pickup_location_id = 237 AND date BETWEEN '2019-04-01' AND '2019-04-03'" | tail -1 | tr -d '\r')
got=$(python3 - "$J" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(str(j["seed"][m]["location_237"]) for m in ("distributed", "one_worker", "embedded")))
PY
)
qk_eq "location 237: the same count in the three modes, as plain quack query" "$got" "$want $want $want"
python3 - "$J" <<'PY' && qk_ok "--json: valid, with every part's numbers" || qk_not_ok "--json keys"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("command", "machine", "config", "seed", "overhead", "scaling", "fanout", "agree"):
    assert k in j, k
assert j["agree"] is True and j["seed"]["agree"] is True and j["scaling"]["agree"] is True
for k in ("nproc", "cpu", "mem_total_bytes", "kernel", "loadavg_start", "loadavg_end", "others_cpu_pct"):
    assert k in j["machine"], k
assert j["config"]["days"] == 3 and j["config"]["workers"] == 2 and j["config"]["day_files"] >= 3
d = j["seed"]["distributed"]
assert d["shards"] == j["config"]["day_files"], d
assert len(d["runs_ms"]) == 1 and d["mean_ms"] > 0 and d["plan_ms_mean"] > 0
assert j["seed"]["one_worker"]["shards"] == 1
assert j["overhead"]["sequential"]["map_ms_per_shard"] > 0
s = j["scaling"]
for k in ("embedded_1_thread", "workers_1", "workers_2", "speedup", "efficiency_2_workers",
          "efficiency_1_worker", "result_2_workers", "result_1_worker"):
    assert k in s, k
assert s["result_2_workers"] in ("PASS", "MISS") and s["target"] == 0.85
sizes = j["fanout"]["sizes"]
assert [x["workers"] for x in sizes] == [1, 2], sizes
for x in sizes:
    assert x["agree"] is True and "excess_ms_per_shard" in x and "empty_map_ms_per_shard" in x
assert j["fanout"]["shows"] and j["fanout"]["cannot_show"]
PY
qk_eq "no worker left running" "$(serve_count)" 0
qk_eq "temp dirs removed" "$(ls -A "$BT")" ""

# ---- 2. --json - ------------------------------------------------------------------------------------
rc=0
bench --lake "$QK_LAKE" "${FAST[@]}" --days 1 --spawn 1 --fanout none --json - \
  >"$QK_TMP/stdout.json" 2>"$ERR" || rc=$?
qk_eq "--json - exits 0" "$rc" 0
qk_check "--json -: stdout is one JSON document" python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1
j = json.loads(lines[0]); assert j["fanout"]["sizes"] == [] and j["agree"] is True' "$QK_TMP/stdout.json"
qk_check "--json -: the tables go to stderr" grep -qF "## (1) The seed's experiment" "$ERR"

# ---- 3. running workers and --query ------------------------------------------------------------------
qk_start_server || exit 1
W1=$QK_URL
qk_start_server || exit 1
W2=$QK_URL
rc=0
bench --lake "$QK_LAKE" "${FAST[@]}" --days 2 --fanout none --workers "$W1,$W2" \
  --query "SELECT vendor_id, count(*) AS n FROM read_parquet('<LAKE>/partitioned/*/*.parquet', hive_partitioning = true) WHERE date BETWEEN '<FIRST_DAY>' AND '<LAST_DAY>' GROUP BY 1" \
  --json "$J" >"$OUT" 2>"$ERR" || rc=$?
qk_eq "--workers and --query: exit 0" "$rc" 0
qk_check "--workers: the header names them" grep -qF "2 given with --workers" "$OUT"
qk_check "--query: placeholders replaced, results agree" python3 -c '
import json, sys
j = json.load(open(sys.argv[1])); sql = j["seed"]["sql"]
assert "<LAKE>" not in sql and "2019-04-02" in sql and j["seed"]["agree"] is True, sql
assert j["seed"]["distributed"]["location_237"] is None' "$J"

# ---- 4. results that cannot agree --------------------------------------------------------------------
rc=0
bench --lake "$QK_LAKE" "${FAST[@]}" --days 1 --spawn 1 --fanout none \
  --query "SELECT sum(random()) AS r FROM read_parquet('<LAKE>/partitioned/*/*.parquet', hive_partitioning = true) WHERE date = '<FIRST_DAY>'" \
  >"$OUT" 2>"$ERR" || rc=$?
qk_eq "disagreeing results: exit 1" "$rc" 1
qk_check "disagreeing results: said on stderr" grep -qF "quack bench reduce: results disagree: (1)" "$ERR"
qk_check "disagreeing results: marked in the tables" grep -qF "**DISAGREE**" "$OUT"

# ---- 5. bad flags --------------------------------------------------------------------------------------
# bad NAME WANT_MESSAGE ARGS...: exit 2 and the message on stderr.
bad() {
  local name=$1 msg=$2 rc=0
  shift 2
  bench "$@" >/dev/null 2>"$ERR" || rc=$?
  if [ "$rc" = 2 ] && grep -qF -- "$msg" "$ERR"; then qk_ok "$name (exit 2)"
  else qk_not_ok "$name" "exit $rc, stderr: $(head -c 300 "$ERR")"; fi
}
bad "--days 0" "--days: 0 is out of range" --lake "$QK_LAKE" --days 0
bad "--runs abc" "--runs: expected an integer, got 'abc'" --lake "$QK_LAKE" --runs abc
bad "--parallel -1" "--parallel: -1 is out of range" --lake "$QK_LAKE" --parallel -1
bad "--fanout 0" "--fanout: 0 is out of range" --lake "$QK_LAKE" --fanout 0
bad "--fanout 1,,2" "--fanout: expected worker counts" --lake "$QK_LAKE" --fanout 1,,2
bad "unknown flag" "unknown option or missing value: --frobnicate" --lake "$QK_LAKE" --frobnicate
bad "missing value" "unknown option or missing value: --days" --lake "$QK_LAKE" --days
bad "more days than the lake has" "the lake has only" --lake "$QK_LAKE" --days 100000
bad "--workers with --spawn" "give --workers or --spawn, not both" --lake "$QK_LAKE" --spawn 1 --workers http://127.0.0.1:1
bad "a bad worker URL" "--workers: worker URL" --lake "$QK_LAKE" --workers ftp://x
bad "missing lake" "no lake directory $QK_TMP/nope" --lake "$QK_TMP/nope"
mkdir -p "$QK_TMP/empty"
bad "a lake without day partitions" "no day partitions" --lake "$QK_TMP/empty"
bad "an s3:// lake" "needs a local lake directory" --lake s3://bucket/lake
rc=0
"$Q" bench frob >/dev/null 2>"$ERR" || rc=$?
qk_eq "unknown benchmark: exit 2" "$rc $(grep -c "unknown benchmark 'frob'" "$ERR")" "2 1"
qk_check "quack bench --help" bash -c '"$1" bench --help | grep -q "^Usage: quack bench reduce"' _ "$Q"
qk_eq "no worker left running at the end" "$(serve_count)" 0
qk_eq "temp dirs removed at the end" "$(ls -A "$BT")" ""
qk_done
