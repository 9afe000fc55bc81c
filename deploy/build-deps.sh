#!/usr/bin/env bash
# deploy/build-deps.sh: fetch, verify and build the libraries the Lambda image needs beyond what
# the provided.al2023 base has. Run by deploy/Dockerfile in its amazonlinux:2023 build stage;
# runnable on any glibc Linux with gcc, make, curl and coreutils (deploy/check.sh uses it on a
# Debian machine for the parts it can reach).
#
#   deploy/build-deps.sh PREFIX DUCKDB_DIR [COMPONENT...]
#
# Components (default: all, in this order):
#   duckdb       libduckdb.so + duckdb.h (DuckDB 1.4.4) from the same pinned npm tarballs as
#                scripts/bootstrap.sh, into DUCKDB_DIR/{lib,include} (CMake's third_party/duckdb).
#   jansson      jansson 2.14    -> PREFIX/lib/libjansson.so.4
#   yaml         libyaml 0.2.5   -> PREFIX/lib/libyaml-0.so.2
#   mhd          libmicrohttpd 1.0.10, without TLS (quack serve speaks plain HTTP; TLS ends at a
#                proxy) -> PREFIX/lib/libmicrohttpd.so.12
#   cmocka-stub  PREFIX/lib/pkgconfig/cmocka.pc with no flags: CMakeLists.txt requires cmocka at
#                configure time, but the image builds only the `quack` target, which never links it.
#
# Every download is checked against a pinned checksum before it is unpacked; a mismatch stops the
# build. Each pin was cross-checked against at least two independent sources (see docs/deploy.md).
# QUACK_DEPS_CACHE=DIR: look for the tarballs there (by file name) before downloading.
set -euo pipefail

# --- pins (keep the DuckDB pair identical to scripts/bootstrap.sh; deploy/check.sh compares) ----
DUCKDB_LIB_URL="https://registry.npmjs.org/@duckdb/node-bindings-linux-x64/-/node-bindings-linux-x64-1.4.4-r.4.tgz"
DUCKDB_LIB_SHA512="8c14cbfd6bdfc312d3a056bfa551df4fa7a532d96d2469dcdf04aec590fd39f325b62b7d614755152dfbbc1150cd7313d59f0e5a3b528cc87eccf2b13b01cb1c"
DUCKDB_HDR_URL="https://registry.npmjs.org/duckdb/-/duckdb-1.4.4.tgz"
DUCKDB_HDR_SHA512="844249e61c9517454b8f776638ba6c5ab411d1bddde1892ab72826ea25178c72430e74aa83f5122b171be6abcdace84560f824b5ac94e9d5c2b603ea7269a9a2"

JANSSON_VERSION=2.14
JANSSON_SHA256=5798d010e41cf8d76b66236cfb2f2543c8d082181d16bc3085ab49538d4b9929
JANSSON_URLS="https://github.com/akheron/jansson/releases/download/v2.14/jansson-2.14.tar.gz"

YAML_VERSION=0.2.5
YAML_SHA256=c642ae9b75fee120b2d96c712538bd2cf283228d2337df2cf2988e3c02678ef4
YAML_URLS="https://github.com/yaml/libyaml/releases/download/0.2.5/yaml-0.2.5.tar.gz
https://pyyaml.org/download/libyaml/yaml-0.2.5.tar.gz"

MHD_VERSION=1.0.10
MHD_SHA256=04bfe8ef75db7d629a33de767599765cecadc56274a39822d5d081030d577685
MHD_URLS="https://ftpmirror.gnu.org/libmicrohttpd/libmicrohttpd-1.0.10.tar.gz
https://ftp.gnu.org/gnu/libmicrohttpd/libmicrohttpd-1.0.10.tar.gz"
# ------------------------------------------------------------------------------------------------

die() { echo "build-deps: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 PREFIX DUCKDB_DIR [duckdb|jansson|yaml|mhd|cmocka-stub ...]"
prefix=$1
duckdb_dir=$2
shift 2
components=${*:-duckdb jansson yaml mhd cmocka-stub}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$prefix/lib/pkgconfig"

# check FILE ALGO SUM: sha256 or sha512 of FILE equals SUM (hex)
check() {
  local got
  got=$("${2}sum" "$1" | cut -d' ' -f1)
  [ "$got" = "$3" ] || { echo "build-deps: $2 mismatch for $(basename "$1"): got $got" >&2; return 1; }
}

# fetch NAME ALGO SUM URL...: a verified copy of NAME in $work (cache dir first, then each URL)
fetch() {
  local name=$1 algo=$2 sum=$3 url
  shift 3
  if [ -n "${QUACK_DEPS_CACHE:-}" ] && [ -f "$QUACK_DEPS_CACHE/$name" ]; then
    cp "$QUACK_DEPS_CACHE/$name" "$work/$name"
    check "$work/$name" "$algo" "$sum" && return 0
  fi
  for url in "$@"; do
    rm -f "$work/$name"
    if curl -fsSL --retry 3 --connect-timeout 20 -o "$work/$name" "$url" &&
      check "$work/$name" "$algo" "$sum"; then
      return 0
    fi
    echo "build-deps: could not get a verified $name from $url" >&2
  done
  die "no verified copy of $name"
}

# autotools NAME VERSION SHA256 URLS [CONFIGURE_ARGS...]: build a release tarball into $prefix
autotools() {
  local name=$1 version=$2 sha=$3 urls=$4 tarball
  shift 4
  tarball=$(basename "$(echo "$urls" | head -n1)")
  # shellcheck disable=SC2086 # URLS is a newline-separated list
  fetch "$tarball" sha256 "$sha" $urls
  mkdir -p "$work/$name"
  tar -xzf "$work/$tarball" -C "$work/$name" --strip-components=1
  (
    cd "$work/$name"
    ./configure --prefix="$prefix" --libdir="$prefix/lib" --disable-static "$@" >/dev/null
    make -j"$jobs" >/dev/null
    make install-strip >/dev/null
  )
  echo "build-deps: $name $version -> $prefix/lib" >&2
}

build_duckdb() {
  mkdir -p "$duckdb_dir/lib" "$duckdb_dir/include" "$work/duckdb-lib" "$work/duckdb-hdr"
  fetch "$(basename "$DUCKDB_LIB_URL")" sha512 "$DUCKDB_LIB_SHA512" "$DUCKDB_LIB_URL"
  fetch "$(basename "$DUCKDB_HDR_URL")" sha512 "$DUCKDB_HDR_SHA512" "$DUCKDB_HDR_URL"
  tar -xzf "$work/$(basename "$DUCKDB_LIB_URL")" -C "$work/duckdb-lib" package/libduckdb.so
  tar -xzf "$work/$(basename "$DUCKDB_HDR_URL")" -C "$work/duckdb-hdr" \
    package/src/duckdb/src/include/duckdb.h
  install -m 0644 "$work/duckdb-lib/package/libduckdb.so" "$duckdb_dir/lib/libduckdb.so"
  install -m 0644 "$work/duckdb-hdr/package/src/duckdb/src/include/duckdb.h" \
    "$duckdb_dir/include/duckdb.h"
  echo "build-deps: duckdb 1.4.4 -> $duckdb_dir" >&2
}

cmocka_stub() {
  cat >"$prefix/lib/pkgconfig/cmocka.pc" <<'EOF'
# Stub: quack's CMakeLists.txt looks for cmocka at configure time; the Lambda image builds only
# the quack target, which does not link cmocka. Never use this file for a test build.
Name: cmocka
Description: configure-time stub (deploy/build-deps.sh)
Version: 1.1.7
Cflags:
Libs:
EOF
}

for c in $components; do
  case $c in
  duckdb) build_duckdb ;;
  jansson) autotools jansson "$JANSSON_VERSION" "$JANSSON_SHA256" "$JANSSON_URLS" ;;
  yaml) autotools yaml "$YAML_VERSION" "$YAML_SHA256" "$YAML_URLS" ;;
  mhd)
    autotools libmicrohttpd "$MHD_VERSION" "$MHD_SHA256" "$MHD_URLS" \
      --disable-https --disable-doc --disable-examples --disable-tools --disable-curl
    ;;
  cmocka-stub) cmocka_stub ;;
  *) die "unknown component: $c" ;;
  esac
done
