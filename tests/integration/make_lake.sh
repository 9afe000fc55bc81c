#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make_lake.sh QUACK_BIN DIR: make the full-size demo lake (7,433,139 rows, seed 42) in DIR for
# the integration tests, unless DIR already holds one made by the same quack version and demo
# generator version. CTest runs it once as the fixture "demo_lake" (CMakeLists.txt).
#
# The marker DIR/.quack-demo.json ({"quack": "<quack version>", "generator": N, "rows": R,
# "seed": S}) is written last, after `quack demo` succeeded and its stats were checked, so a
# run that stopped halfway is redone next time. Safe to re-run; `quack demo` itself locks the
# lake, so two runs at once fail fast instead of mixing their files.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: make_lake.sh QUACK_BIN DIR" >&2
  exit 2
fi
QUACK=$1
DIR=$2
ROWS=7433139
SEED=42
MARKER=$DIR/.quack-demo.json

[ -x "$QUACK" ] || { echo "make_lake: $QUACK is not an executable" >&2; exit 1; }
version=$("$QUACK" version)
generator=$("$QUACK" demo --help | sed -n 's/.*generator version \([0-9][0-9]*\).*/\1/p' | head -1)
[ -n "$generator" ] || { echo "make_lake: 'quack demo --help' names no generator version" >&2; exit 1; }
want=$(printf '{"quack": "%s", "generator": %s, "rows": %s, "seed": %s}' \
  "$version" "$generator" "$ROWS" "$SEED")

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want" ] &&
   [ -f "$DIR/dataset/taxi_2019_04.parquet" ] && [ -d "$DIR/partitioned" ]; then
  echo "make_lake: $DIR is up to date ($want)"
  exit 0
fi

rm -f "$MARKER"
mkdir -p "$DIR"
echo "make_lake: making the demo lake in $DIR ($ROWS rows, seed $SEED)"
stats=$("$QUACK" demo --lake "$DIR" --rows "$ROWS" --seed "$SEED" --json)
echo "make_lake: $stats"
for want_field in "\"rows\":$ROWS," "\"partitions\":30," "\"first_date\":\"2019-04-01\"" \
                  "\"last_date\":\"2019-04-30\""; do
  case $stats in
    *"$want_field"*) ;;
    *) echo "make_lake: the stats lack $want_field" >&2; exit 1 ;;
  esac
done
printf '%s\n' "$want" >"$MARKER.tmp"
mv -f "$MARKER.tmp" "$MARKER"
echo "make_lake: done"
