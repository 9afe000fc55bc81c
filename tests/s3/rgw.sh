#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# rgw.sh: a throw-away real S3 server for tests: Ceph RADOS Gateway (Debian 12 packages,
# Ceph 16.2 "Pacific") on 127.0.0.1 - 1 mon + 1 osd (memstore, RAM only) + radosgw (beast),
# no systemd, no cephx, every file (config, data, sockets, pids, logs) inside one state dir.
# Two clusters can run at once (distinct state dirs; ports picked by the kernel).
#
# Origin: written for quack after the ceph-rgw recipe in the team's shared recipes
# (start/stop scripts and their gotchas); this file has no dependency on it. See
# docs/internals/s3-testing.md.
#
#   rgw.sh install                 apt-get install radosgw ceph-mon ceph-osd when missing;
#                                  exit 0 ok, 2 when apt cannot reach a mirror, 1 otherwise
#   rgw.sh start STATE_DIR         start, wait until S3 answers (bounded); writes
#                                  STATE_DIR/env (S3_* and AWS_* variables) and STATE_DIR/pids
#   rgw.sh stop STATE_DIR [--purge]  TERM, KILL after a short grace; --purge removes STATE_DIR;
#                                  idempotent
#   rgw.sh bucket STATE_DIR NAME   create a bucket (SigV4-signed PUT); ok if it exists already
#
# Environment: S3_KEY / S3_SECRET (default testkey / testsecret), RGW_START_TIMEOUT (seconds,
# default 60), RGW_STOP_GRACE (seconds before KILL; default 2, 0.5 with --purge).
set -euo pipefail

RGW_PKGS="radosgw ceph-mon ceph-osd"
RGW_BINS="radosgw radosgw-admin ceph-mon ceph-osd ceph ceph-authtool monmaptool"

die() { echo "rgw.sh: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---------------------------------------------------------------- install
have_bins() {
  local b
  for b in $RGW_BINS; do command -v "$b" >/dev/null 2>&1 || return 1; done
}

# An apt failure is "unreachable" when its output says the network or the mirror failed.
apt_unreachable() {
  grep -Eqi 'Could not resolve|Temporary failure resolving|Failed to fetch|Unable to fetch|Unable to connect|Could not connect|Connection (failed|timed out|refused)|Network is unreachable|No route to host' "$1"
}

cmd_install() {
  have_bins && return 0
  command -v apt-get >/dev/null || die "install: no apt-get (Debian 12 expected); install $RGW_PKGS by hand"
  local sudo="" log t0
  if [ "$(id -u)" != 0 ]; then
    if ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
      die "install: not root and no password-less sudo; run as root: apt-get install $RGW_PKGS"
    fi
    sudo="sudo -n"
  fi
  log=$(mktemp "${TMPDIR:-/tmp}/rgw-apt-XXXXXX")
  t0=$(now_ms)
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -qq --no-install-recommends -o DPkg::Lock::Timeout=120)
  # shellcheck disable=SC2086 # $sudo and $RGW_PKGS are word lists
  if ! $sudo apt-get install "${apt_opts[@]}" $RGW_PKGS >"$log" 2>&1; then
    # stale or missing package lists: update, then try once more
    if ! $sudo apt-get update -qq >>"$log" 2>&1 && apt_unreachable "$log"; then
      echo "rgw.sh: install: apt-get update cannot reach a mirror:" >&2
      tail -n 5 "$log" >&2; rm -f "$log"; exit 2
    fi
    # shellcheck disable=SC2086
    if ! $sudo apt-get install "${apt_opts[@]}" $RGW_PKGS >>"$log" 2>&1; then
      if apt_unreachable "$log"; then
        echo "rgw.sh: install: apt-get cannot reach a mirror:" >&2
        tail -n 5 "$log" >&2; rm -f "$log"; exit 2
      fi
      echo "rgw.sh: install: apt-get install $RGW_PKGS failed:" >&2
      tail -n 20 "$log" >&2; rm -f "$log"; exit 1
    fi
  fi
  rm -f "$log"
  have_bins || die "install: packages installed but binaries missing ($RGW_BINS)"
  echo "rgw.sh: installed $RGW_PKGS in $(( $(now_ms) - t0 )) ms" >&2
}

# ---------------------------------------------------------------- start
# Three distinct free loopback ports, all held open until printed.
free_ports() {
  python3 -c '
import socket
ss = []
for _ in range(3):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))'
}

log_tail() {
  local f
  for f in "$D"/log/*; do
    [ -s "$f" ] || continue
    echo "--- ${f#"$D"/}" >&2
    tail -n 15 "$f" >&2
  done
}

# A port-collision failure is worth another try with fresh ports.
port_collision() {
  grep -Eqs 'Address already in use|bind unable to bind|failed to bind|Cannot assign requested address' "$D"/log/* 2>/dev/null
}

# Start a daemon in the background with no inherited stdio, record its pid.
spawn() {
  local name=$1
  shift
  "$@" </dev/null >>"$D/log/$name.stdout" 2>&1 &
  echo "$name $!" >>"$D/pids"
  disown $!   # no "Killed" job notices from bash when it is stopped
}

write_conf() {
  local fsid=$1 mon_v2=$2 mon_v1=$3 rgw_port=$4
  cat >"$D/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
crash dir = $D/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
mon osd down out interval = 0
osd crush update on start = true
[mon]
mon data = $D/mon/\$id
# each pool radosgw creates is one paxos round (1 s by default): ~13 s start -> ~2 s
paxos propose interval = 0.05
paxos min wait = 0.01
mon cluster log file = $D/log/cluster.log
[osd]
osd data = $D/osd/\$id
osd objectstore = memstore
memstore device bytes = 1073741824
osd op num shards = 1
osd op num threads per shard = 2
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.gw]
# radosgw defaults to cephx and ms_mon_client_mode=secure; without these two lines it
# retries "get_initial_auth_request returned -13" for 300 s
auth client required = none
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $D/rgw
rgw thread pool size = 16
rgw dns name = localhost
rgw enable usage log = false
EOF
}

# wait_for DESC PID CMD...: poll CMD until it succeeds, the daemon PID dies, or the deadline.
wait_for() {
  local desc=$1 pid=$2
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "rgw.sh: $desc: the daemon exited" >&2; return 1; }
    [ "$(now_ms)" -lt "$DEADLINE" ] || { echo "rgw.sh: $desc: timed out" >&2; return 1; }
    sleep 0.1
  done
}

mon_up() { timeout 10 ceph -c "$D/ceph.conf" --connect-timeout 5 mon stat; }
# Probes read captured output (<<<), not a pipe: under pipefail, `cmd | grep -q` fails when
# grep's early exit kills cmd with SIGPIPE.
osd_up() { grep -q "^osd.$1 up" <<<"$(timeout 10 ceph -c "$D/ceph.conf" --connect-timeout 5 osd dump 2>/dev/null)"; }
rgw_up() { grep -q ListAllMyBucketsResult <<<"$(curl -s --max-time 2 "http://127.0.0.1:$1/")"; }

# One attempt at bringing the cluster up; returns non-zero on failure (daemons left running,
# the caller stops them).
start_once() {
  local mon_v2 mon_v1 rgw_port fsid osd_uuid osd_id
  rm -rf "$D"
  mkdir -p "$D"/{mon/a,osd,rgw,run,log,crash}
  read -r mon_v2 mon_v1 rgw_port < <(free_ports)
  [ -n "$rgw_port" ] || { echo "rgw.sh: cannot pick free ports (python3?)" >&2; return 1; }
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid" "$mon_v2" "$mon_v1" "$rgw_port"
  local C=$D/ceph.conf
  # cephx is off: the keys are never checked, but mkfs wants a keyring
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]" \
    --enable-all-features "$D/monmap" >/dev/null
  ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring" \
    >>"$D/log/mon.mkfs" 2>&1 || { echo "rgw.sh: ceph-mon --mkfs failed" >&2; return 1; }
  spawn mon.a ceph-mon -c "$C" -i a -f
  local mon_pid=$!
  wait_for "mon quorum" "$mon_pid" mon_up || return 1
  echo "rgw.sh: [$(( $(now_ms) - T0 )) ms] mon up" >&2

  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$(timeout 20 ceph -c "$C" --connect-timeout 10 osd new "$osd_uuid" 2>>"$D/log/ceph-cli.err") ||
    { echo "rgw.sh: ceph osd new failed" >&2; return 1; }
  mkdir -p "$D/osd/$osd_id"
  timeout 30 ceph-osd -c "$C" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >>"$D/log/osd.mkfs" 2>&1 ||
    { echo "rgw.sh: ceph-osd --mkfs failed" >&2; return 1; }
  spawn "osd.$osd_id" ceph-osd -c "$C" -i "$osd_id" -f
  local osd_pid=$!
  wait_for "osd.$osd_id up" "$osd_pid" osd_up "$osd_id" || return 1
  echo "rgw.sh: [$(( $(now_ms) - T0 )) ms] osd.$osd_id up" >&2

  spawn rgw.gw radosgw -c "$C" -n client.rgw.gw -f
  local rgw_pid=$!
  wait_for "radosgw on 127.0.0.1:$rgw_port" "$rgw_pid" rgw_up "$rgw_port" || return 1
  echo "rgw.sh: [$(( $(now_ms) - T0 )) ms] radosgw answering on 127.0.0.1:$rgw_port" >&2

  timeout 30 radosgw-admin -c "$C" user create --uid=tester --display-name=tester \
    --access-key="$S3_KEY" --secret-key="$S3_SECRET" >"$D/user.json" 2>>"$D/log/radosgw-admin.err" ||
    { echo "rgw.sh: radosgw-admin user create failed" >&2; return 1; }

  cat >"$D/env.tmp" <<EOF
S3_ENDPOINT=http://127.0.0.1:$rgw_port
S3_KEY=$S3_KEY
S3_SECRET=$S3_SECRET
S3_REGION=us-east-1
AWS_ENDPOINT_URL=http://127.0.0.1:$rgw_port
AWS_ACCESS_KEY_ID=$S3_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET
AWS_REGION=us-east-1
AWS_DEFAULT_REGION=us-east-1
CEPH_CONF=$C
EOF
  mv "$D/env.tmp" "$D/env"
}

cmd_start() {
  [ -n "${1:-}" ] || die "usage: rgw.sh start STATE_DIR"
  D=$(realpath -m "$1")
  S3_KEY=${S3_KEY:-testkey}
  S3_SECRET=${S3_SECRET:-testsecret}
  have_bins || die "start: Ceph binaries missing; run: $0 install"
  command -v python3 >/dev/null || die "start: python3 is needed to pick free ports"
  if [ -e "$D/pids" ]; then die "start: $D/pids exists: stop that cluster first ($0 stop $D)"; fi
  # the state dir is wiped at start: refuse a non-empty directory that is not one of ours
  if [ -d "$D" ] && [ -n "$(ls -A "$D")" ] && [ ! -f "$D/ceph.conf" ]; then
    die "start: $D is not empty and not an rgw.sh state dir"
  fi
  T0=$(now_ms)
  DEADLINE=$(( T0 + ${RGW_START_TIMEOUT:-60} * 1000 ))
  local attempt
  for attempt in 1 2 3; do
    if start_once; then
      echo "rgw.sh: ready in $(( $(now_ms) - T0 )) ms; env: $D/env" >&2
      return 0
    fi
    if port_collision && [ "$(now_ms)" -lt "$DEADLINE" ] && [ "$attempt" -lt 3 ]; then
      echo "rgw.sh: port collision on attempt $attempt; retrying with new ports" >&2
      stop_pids "$D" 0.2
      continue
    fi
    break
  done
  echo "rgw.sh: start failed; log tails:" >&2
  log_tail
  stop_pids "$D" 0.5
  echo "rgw.sh: start FAILED after $(( $(now_ms) - T0 )) ms (see above); state left in $D" >&2
  return 1
}

# ---------------------------------------------------------------- stop
# alive PID DIR: the process exists, is not a zombie, and is one of this state dir's daemons
# (its command line names DIR/ceph.conf), so a recycled pid is never signalled.
alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  grep -qF -- "$2/ceph.conf" <<<"$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)"
}

# stop_pids DIR GRACE: TERM every daemon at once, KILL what is left after GRACE seconds.
stop_pids() {
  local dir=$1 grace=$2 name pid live=() t
  [ -f "$dir/pids" ] || return 0
  while read -r name pid; do
    [ -n "${pid:-}" ] && alive "$pid" "$dir" && { kill -TERM "$pid" 2>/dev/null || true; live+=("$pid"); }
  done <"$dir/pids"
  t=$(( $(now_ms) + ${grace%.*}000 + $(awk "BEGIN{printf \"%d\", ($grace - int($grace)) * 1000}") ))
  for pid in "${live[@]}"; do
    while alive "$pid" "$dir" && [ "$(now_ms)" -lt "$t" ]; do sleep 0.05; done
    if alive "$pid" "$dir"; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  for pid in "${live[@]}"; do
    for _ in $(seq 100); do alive "$pid" "$dir" || break; sleep 0.05; done
  done
  rm -f "$dir/pids"
}

cmd_stop() {
  [ -n "${1:-}" ] || die "usage: rgw.sh stop STATE_DIR [--purge]"
  local dir
  dir=$(realpath -m "$1")
  if [ "${2:-}" = --purge ]; then
    # the data is thrown away: no point waiting long for radosgw's TERM handling
    stop_pids "$dir" "${RGW_STOP_GRACE:-0.5}"
    if [ -f "$dir/ceph.conf" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then rm -rf "$dir"
    else echo "rgw.sh: stop: $dir is not an rgw.sh state dir; not removed" >&2; fi
  else
    stop_pids "$dir" "${RGW_STOP_GRACE:-2}"
  fi
  return 0
}

# ---------------------------------------------------------------- bucket
cmd_bucket() {
  if [ -z "${1:-}" ] || [ -z "${2:-}" ]; then die "usage: rgw.sh bucket STATE_DIR NAME"; fi
  local dir env code out
  dir=$(realpath -m "$1")
  env=$dir/env
  [ -f "$env" ] || die "bucket: no $env (is the server started?)"
  # shellcheck disable=SC1090
  . "$env"
  out=$(mktemp "${TMPDIR:-/tmp}/rgw-bucket-XXXXXX")
  # curl 7.88's --aws-sigv4 does not add x-amz-content-sha256: set it (sha256 of ""), curl signs it
  code=$(curl -s -o "$out" -w '%{http_code}' --max-time 20 -X PUT \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_KEY:$S3_SECRET" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "$S3_ENDPOINT/$2") || code=000
  if [ "$code" = 200 ] || { [ "$code" = 409 ] && grep -q BucketAlreadyOwnedByYou "$out"; }; then
    rm -f "$out"; return 0
  fi
  echo "rgw.sh: bucket $2: HTTP $code: $(head -c 300 "$out")" >&2
  rm -f "$out"
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  bucket) shift; cmd_bucket "$@" ;;
  *) echo "usage: rgw.sh install | start DIR | stop DIR [--purge] | bucket DIR NAME" >&2; exit 64 ;;
esac
