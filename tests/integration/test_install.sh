#!/usr/bin/env bash
# test_install.sh: `cmake --install` (what `make install PREFIX=...` runs) puts quack in
# PREFIX/bin and libduckdb.so in PREFIX/lib/quack, and the installed binary finds DuckDB through
# its relative rpath, from any working directory and with no LD_LIBRARY_PATH.
set -euo pipefail
B=${QUACK_BUILD:?QUACK_BUILD not set}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$B" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/quack" || { echo "FAIL no $prefix/bin/quack"; exit 1; }
test -f "$prefix/lib/quack/libduckdb.so" || { echo "FAIL no libduckdb.so in lib/quack"; exit 1; }
out=$(cd / && env -u LD_LIBRARY_PATH "$prefix/bin/quack" version)
echo "$out" | grep -q "DuckDB v1.4.4" || { echo "FAIL installed quack: $out"; exit 1; }
echo "ok   installed binary runs: $out"
# Moving the whole prefix keeps it working (the rpath is relative).
mv "$prefix" "$prefix.moved"
prefix="$prefix.moved"
out=$(cd / && "$prefix/bin/quack" version)
echo "ok   relocated prefix still runs: $out"
echo "2 passed, 0 failed"
