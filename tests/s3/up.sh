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
