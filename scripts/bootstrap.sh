#!/usr/bin/env bash
# bootstrap.sh: install what building and testing quack needs, idempotently and quietly.
#  1. Debian -dev packages (apt-get) that the build links against, plus test tools.
#  2. DuckDB 1.4.4: libduckdb.so and duckdb.h from pinned npm tarballs (see docs/building.md),
#     each verified against its sha512 integrity before extraction, into third_party/duckdb/.
# Prints nothing when everything is already in place. Safe to run concurrently with itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
td="$root/third_party/duckdb"

DEB_PKGS="build-essential cmake pkg-config libcurl4-openssl-dev libssl-dev libmicrohttpd-dev \
libjansson-dev libyaml-dev libcmocka-dev libxml2-dev curl"
[ "${1:-}" = "--test-tools" ] && DEB_PKGS="$DEB_PKGS wrk python3"

LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
LIB_SHA="sha512-jBTL/WvfwxLToFa/pVHfT6elMtltJGnc3wSuxZD9OfMltit9YUdVFS37vBFQzXMT1Z8OWjtSjMh+zPKxOwHLHA=="
HDR_PKG="duckdb@1.4.4"
HDR_SHA="sha512-hEJJ5hyVF0VLj3dmOLpsWrQR0b3d4Ykqtygm6iUXjHJDDnSqg/USKxcb5qvNrOhFYPgktayU6dXCtgPqcmmpog=="

need=""
for p in $DEB_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  echo "bootstrap: installing Debian packages:$need" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# verify FILE INTEGRITY: npm's "sha512-<base64>" form
verify() {
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
  if [ "$got" != "$2" ]; then
    echo "bootstrap: integrity mismatch for $1" >&2
    echo "  expected $2" >&2
    echo "  got      $got" >&2
    return 1
  fi
}

# fetch PKG SHA MEMBER DEST: npm pack PKG, verify, extract MEMBER to DEST
fetch() {
  local tmp tgz
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$1" >/dev/null 2>"$tmp/err") || {
    echo "bootstrap: npm pack $1 failed:" >&2; cat "$tmp/err" >&2; rm -rf "$tmp"; return 1; }
  tgz=$(ls "$tmp"/*.tgz)
  verify "$tgz" "$2" || { rm -rf "$tmp"; return 1; }
  tar -xzf "$tgz" -C "$tmp" "$3"
  install -m 0644 "$tmp/$3" "$4.tmp.$$"
  mv -f "$4.tmp.$$" "$4"
  rm -rf "$tmp"
}

mkdir -p "$td/include" "$td/lib"
if [ ! -f "$td/lib/libduckdb.so" ]; then
  command -v npm >/dev/null || { echo "bootstrap: npm is required to fetch DuckDB" >&2; exit 1; }
  echo "bootstrap: fetching $LIB_PKG" >&2
  fetch "$LIB_PKG" "$LIB_SHA" package/libduckdb.so "$td/lib/libduckdb.so"
fi
if [ ! -f "$td/include/duckdb.h" ]; then
  echo "bootstrap: fetching $HDR_PKG (header)" >&2
  fetch "$HDR_PKG" "$HDR_SHA" package/src/duckdb/src/include/duckdb.h "$td/include/duckdb.h"
fi
