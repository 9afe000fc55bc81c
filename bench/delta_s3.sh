#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/delta_s3.sh [BUILD_DIR]: `quack bench delta` (docs/bench-delta.md) on a throw-away Ceph
# RGW on loopback, started the way the S3 tests start it (tests/s3/up.sh: qk_s3_test,
# qk_rgw_up, qk_s3_env; a bucket from tests/s3/rgw.sh) and always stopped and purged (trap).
# Runs `quack bench delta --lake s3://quack-bench-delta/bench --commits N`: fewer commits than
# the local run's 1000 by default, since every commit of the table is a few RGW requests.
# Output: the tables on stdout and in BUILD_DIR/bench-delta-s3.md, every number in
# BUILD_DIR/bench-delta-s3.json. "SKIP: ..." and exit 0 when RGW cannot be installed (apt has
# no mirror), as the tests do; exit 1 when the benchmark fails.
# Environment: QUACK_BENCH_DELTA_S3_COMMITS (default 200), QUACK_BENCH_DELTA_S3_RUNS (default
# 30), QUACK_BENCH_DELTA_S3_BUDGET (seconds for the whole script, default 570).
set -uo pipefail
# the whole run is bounded: re-run under timeout (the trap below still stops RGW)
if [ -z "${QUACK_BENCH_DELTA_S3_INNER:-}" ]; then
  QUACK_BENCH_DELTA_S3_INNER=1 exec timeout "${QUACK_BENCH_DELTA_S3_BUDGET:-570}" bash "$0" "$@"
fi

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ARG=${1:-build}
[ -d "$BUILD_ARG" ] || BUILD_ARG="$SRC/$BUILD_ARG"
[ -d "$BUILD_ARG" ] || { echo "bench/delta_s3.sh: no build directory ${1:-build}" >&2; exit 2; }
export QUACK_SRC=$SRC QUACK_BUILD
QUACK_BUILD=$(cd "$BUILD_ARG" && pwd)
export QUACK_BIN=$QUACK_BUILD/quack
COMMITS=${QUACK_BENCH_DELTA_S3_COMMITS:-200}
RUNS=${QUACK_BENCH_DELTA_S3_RUNS:-30}
B=quack-bench-delta

. "$SRC/tests/integration/lib.sh"
. "$SRC/tests/s3/up.sh"
qk_s3_test bench-delta-s3 quack # strict mode, QK_TMP, STATE, the trap that stops RGW

log() { printf '[delta-s3 %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "starting RGW"
qk_rgw_up "$STATE" >&2
qk_s3_env
bash "$RGW" bucket "$STATE" "$B" >&2 || { log "cannot create bucket $B"; exit 1; }
log "RGW at $AWS_ENDPOINT_URL (Ceph $(ceph --version 2>/dev/null | awk '{print $3}')); bucket $B"

log "quack bench delta --lake s3://$B/bench --commits $COMMITS --runs $RUNS"
rc=0
"$QUACK_BIN" bench delta --lake "s3://$B/bench" --commits "$COMMITS" --runs "$RUNS" \
  --json "$QK_TMP/delta.json" >"$QK_TMP/delta.md" || rc=$?
cat "$QK_TMP/delta.md"
if [ "$rc" != 0 ]; then
  log "quack bench delta failed (exit $rc)"
  exit 1
fi
cp "$QK_TMP/delta.md" "$QUACK_BUILD/bench-delta-s3.md"
cp "$QK_TMP/delta.json" "$QUACK_BUILD/bench-delta-s3.json"
log "wrote $QUACK_BUILD/bench-delta-s3.md and $QUACK_BUILD/bench-delta-s3.json"
