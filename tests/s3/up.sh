#!/usr/bin/env bash
# up.sh: sourced by the S3 integration tests after lib.sh's qk_init. Defines
#   qk_rgw_up STATE_DIR   install Ceph RGW when missing (tests/s3/rgw.sh install), start a cluster
#                         in STATE_DIR and export its env (S3_* and AWS_*). When apt-get cannot
#                         reach a mirror it prints "SKIP: ..." and exits 0 (the only skip); any
#                         other failure is a test failure and exits 1.
# The caller's EXIT trap must run `bash "$RGW" stop STATE_DIR --purge`.
RGW=${RGW:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/rgw.sh}
qk_ms() { echo $(( $(date +%s%N) / 1000000 )); }

qk_rgw_up() {
  local state=$1 t rc
  t=$(qk_ms)
  bash "$RGW" install 2>"$QK_TMP/install.err"
  rc=$?
  if [ $rc = 2 ]; then
    echo "SKIP: cannot install Ceph RGW: apt-get cannot reach a package mirror:"
    sed 's/^/  /' "$QK_TMP/install.err"
    exit 0
  elif [ $rc != 0 ]; then
    cat "$QK_TMP/install.err" >&2
    qk_not_ok "install radosgw ceph-mon ceph-osd" "rgw.sh install exited $rc"
    qk_done; exit 1
  fi
  echo "# install: $(( $(qk_ms) - t )) ms"
  t=$(qk_ms)
  if bash "$RGW" start "$state" 2>"$QK_TMP/start.err"; then
    qk_ok "rgw starts ($(( $(qk_ms) - t )) ms)"
  else
    cat "$QK_TMP/start.err" >&2
    qk_not_ok "rgw starts" "see the log tails above"
    qk_done; exit 1
  fi
  set -a; . "$state/env"; set +a
}

# qk_s3_test TAG [TOOL...]: the common start of an S3 test (after lib.sh and this file are
# sourced): strict mode; QUACK_SRC, QUACK_BUILD, QUACK_BIN and Q; a temp dir QK_TMP holding
# QK_BODY and STATE (the RGW state dir); a trap that kills the background processes listed in
# QK_BG, stops RGW and removes QK_TMP. Exits 1 when a TOOL is missing: "quack" ($QUACK_BIN) or
# a name in QUACK_BUILD (e.g. s3check).
qk_s3_test() {
  local tag=$1 b
  shift
  set -uo pipefail
  QUACK_SRC=${QUACK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  QUACK_BUILD=${QUACK_BUILD:-$QUACK_SRC/build}
  QUACK_BIN=${QUACK_BIN:-$QUACK_BUILD/quack}
  Q=$QUACK_BIN
  QK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/qk-$tag-XXXXXX")
  QK_BODY=$QK_TMP/body
  STATE=$QK_TMP/rgw
  QK_BG=()
  trap qk_s3_cleanup EXIT
  trap 'exit 130' INT TERM
  for b in "$@"; do
    [ "$b" = quack ] && b=$QUACK_BIN || b=$QUACK_BUILD/$b
    [ -x "$b" ] || { echo "missing $b (build first)" >&2; exit 1; }
  done
}

qk_s3_cleanup() {
  local p
  for p in "${QK_BG[@]}" "${QK_PIDS[@]}"; do # QK_PIDS: servers from lib.sh's qk_start_server
    kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  [ -d "$STATE" ] && bash "$RGW" stop "$STATE" --purge >/dev/null 2>&1
  rm -rf "$QK_TMP"
}

# qk_s3_env: after qk_rgw_up: ignore the user's AWS files and profile; the cache in QK_TMP.
qk_s3_env() {
  unset AWS_PROFILE QUACK_S3_URL_STYLE
  export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
  export XDG_CACHE_HOME=$QK_TMP/xdg
}

# qk_fp_start NAME [faultproxy options...]: a tests/tools/faultproxy in front of RGW
# ($AWS_ENDPOINT_URL as qk_rgw_up exported it), stats in $QK_TMP/NAME.stats, log in
# $QK_TMP/NAME.log. Sets QK_FP_URL (http://127.0.0.1:PORT) and QK_FP_PID (also added to QK_BG,
# so the trap stops it). Returns 1 when it does not start.
qk_fp_start() {
  local name=$1
  shift
  rm -f "$QK_TMP/$name.port"
  "$QUACK_BUILD/faultproxy" --listen 127.0.0.1:0 --upstream "${S3_ENDPOINT#http://}" \
    --port-file "$QK_TMP/$name.port" --stats-file "$QK_TMP/$name.stats" "$@" 2>"$QK_TMP/$name.log" &
  QK_FP_PID=$!
  QK_BG+=("$QK_FP_PID")
  for _ in $(seq 100); do [ -s "$QK_TMP/$name.port" ] && break; sleep 0.1; done
  [ -s "$QK_TMP/$name.port" ] || return 1
  QK_FP_URL=http://127.0.0.1:$(cat "$QK_TMP/$name.port")
}

# qk_fp_stop: stop the last proxy qk_fp_start started.
qk_fp_stop() { kill "$QK_FP_PID" 2>/dev/null; wait "$QK_FP_PID" 2>/dev/null; }
