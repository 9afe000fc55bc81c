#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_lake_cli.sh: `quack lake ls|put|get|rm|sync` and `quack demo --lake s3://` against a real
# S3 server (Ceph RGW from tests/s3/rgw.sh): a tree with spaces, unicode and nested dirs plus a
# 12 MB file (multipart) is put, listed (one level and --recursive), got back and compared with
# diff -r; sync transfers nothing when nothing changed, exactly the changed file after a change,
# removes extras with --delete; rm --recursive empties the prefix; local->local sync; usage
# errors exit 2; an unknown bucket exits 1 with NoSuchBucket. The demo lake written to S3 equals
# a local one byte for byte. Prints "N passed, N failed"; "SKIP: ..." and exit 0 only when
# apt cannot reach a mirror to install RGW.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test lakecli quack

# err CMD...: run, stdout in $QK_TMP/out, stderr in $QK_TMP/err, print the exit code
err() { "$@" >"$QK_TMP/out" 2>"$QK_TMP/err"; echo $?; }

# ---- usage errors need no server
qk_eq "no subcommand exits 2" "$(err "$Q" lake)" 2
qk_eq "unknown subcommand exits 2" "$(err "$Q" lake frob)" 2
qk_eq "put with one argument exits 2" "$(err "$Q" lake put only)" 2
qk_eq "sync with three arguments exits 2" "$(err "$Q" lake sync a b c)" 2
qk_eq "unknown option exits 2" "$(err "$Q" lake ls --frob)" 2
qk_eq "--json on put exits 2" "$(err "$Q" lake put a b --json)" 2
qk_check "lake --help names every subcommand" bash -c "'$Q' lake --help | grep -q 'quack lake sync SRC DEST'"
for sub in ls put get rm sync; do
  qk_check "lake $sub --help" bash -c "'$Q' lake $sub --help | grep -q '^Usage: quack lake $sub'"
done

# ---- local -> local sync
L=$QK_TMP/l
mkdir -p "$L/src/d/e"
printf 'one\n' >"$L/src/one.txt"; printf 'deep\n' >"$L/src/d/e/deep.txt"
qk_eq "local sync copies all" "$("$Q" lake sync "$L/src" "$L/dst" 2>/dev/null)" "copied 2 (9 bytes), skipped 0, deleted 0"
qk_eq "local sync again copies nothing" "$("$Q" lake sync "$L/src" "$L/dst" 2>/dev/null)" "copied 0 (0 bytes), skipped 2, deleted 0"
qk_check "local trees equal" diff -r "$L/src" "$L/dst"

# ---- RGW
qk_rgw_up "$STATE"
qk_s3_env
B="qk-lakecli-$$"
bash "$RGW" bucket "$STATE" "$B" >/dev/null 2>&1 || { qk_not_ok "create bucket $B"; qk_done; exit 1; }
S="s3://$B/tree"

T=$QK_TMP/tree
mkdir -p "$T/nested/deeper" "$T/é ü"
printf 'hello\n' >"$T/with space.txt"
printf 'unicode\n' >"$T/é ü/東京 🦆.csv"
printf 'deep\n' >"$T/nested/deeper/d.txt"
printf 'n\n' >"$T/nested/n.txt"
head -c 12582912 /dev/urandom >"$T/big.bin"

qk_eq "put a tree exits 0" "$(err "$Q" lake put "$T" "$S")" 0
qk_check "  put summary" grep -q "^put 5 objects" "$QK_TMP/out"
qk_check "  progress summary on stderr" grep -q "quack lake put: 5 files" "$QK_TMP/err"
"$Q" lake ls "$S" >"$QK_TMP/ls1"
qk_eq "ls: one level, folders first" "$(sed -E 's/^ +PRE //; s/^[0-9-]+ [0-9:]+ +[0-9]+ //' "$QK_TMP/ls1" | tr '\n' '|')" \
  "nested/|é ü/|big.bin|with space.txt|"
qk_check "  ls: PRE lines" grep -q "PRE nested/" "$QK_TMP/ls1"
qk_check "  ls: key with space" grep -q " with space.txt$" "$QK_TMP/ls1"
qk_check "  ls: size of big.bin" grep -q " 12582912 big.bin$" "$QK_TMP/ls1"
"$Q" lake ls "$S" --recursive >"$QK_TMP/ls2"
qk_eq "ls --recursive: 5 keys" "$(wc -l <"$QK_TMP/ls2")" 5
qk_check "  ls --recursive: unicode key" grep -q "é ü/東京 🦆.csv$" "$QK_TMP/ls2"
qk_eq "ls --json: one object per line" "$("$Q" lake ls "$S" --recursive --json | python3 -c '
import sys, json
print(sorted(json.loads(l)["key"] for l in sys.stdin)[0])')" "big.bin"

qk_eq "get the prefix exits 0" "$(err "$Q" lake get "$S" "$QK_TMP/back")" 0
qk_check "  diff -r equal" diff -r "$T" "$QK_TMP/back"
qk_eq "get one object" "$(err "$Q" lake get "$S/é ü/東京 🦆.csv" "$QK_TMP/one.csv"; cat "$QK_TMP/one.csv")" "0
unicode"

qk_eq "sync unchanged: nothing copied" "$("$Q" lake sync "$T" "$S" 2>/dev/null)" "copied 0 (0 bytes), skipped 5, deleted 0"
sleep 1.1
printf 'changed!\n' >"$T/nested/n.txt"
qk_eq "sync after a change: exactly 1" "$("$Q" lake sync "$T" "$S" 2>/dev/null)" "copied 1 (9 bytes), skipped 4, deleted 0"
printf 'extra\n' >"$QK_TMP/extra.txt"
"$Q" lake put "$QK_TMP/extra.txt" "$S/nested" >/dev/null 2>&1
qk_eq "sync without --delete keeps the extra" "$("$Q" lake sync "$T" "$S" 2>/dev/null)" "copied 0 (0 bytes), skipped 5, deleted 0"
qk_eq "sync --delete --dry-run" "$("$Q" lake sync "$T" "$S" --delete --dry-run 2>/dev/null | tr '\n' '|')" \
  "would delete nested/extra.txt|dry run: copied 0 (0 bytes), skipped 5, deleted 1|"
qk_eq "sync --delete removes the extra" "$("$Q" lake sync "$T" "$S" --delete 2>/dev/null)" "copied 0 (0 bytes), skipped 5, deleted 1"
qk_eq "s3 -> local sync copies the changed file" "$("$Q" lake sync "$S" "$QK_TMP/back" 2>/dev/null)" "copied 1 (9 bytes), skipped 4, deleted 0"
qk_check "  trees equal again" diff -r "$T" "$QK_TMP/back"

qk_eq "rm one object" "$(err "$Q" lake rm "$S/with space.txt")" 0
qk_eq "rm a missing object exits 1" "$(err "$Q" lake rm "$S/with space.txt")" 1
qk_eq "rm --recursive" "$(err "$Q" lake rm "$S" --recursive; cat "$QK_TMP/out")" "0
deleted 4 objects under $S"
qk_eq "ls is empty" "$("$Q" lake ls "$S" --recursive)" ""

qk_eq "unknown bucket exits 1" "$(err "$Q" lake ls "s3://qk-no-such-bucket-$$/x")" 1
qk_check "  NoSuchBucket in the message" grep -q "NoSuchBucket" "$QK_TMP/err"

# ---- demo --lake s3://
NB=qk-new-bucket-$$
qk_eq "demo to a missing bucket creates it" "$(err "$Q" demo --lake "s3://$NB/demo" --rows 100)" 0
qk_check "  and says so" grep -q "creating the bucket of s3://$NB/demo" "$QK_TMP/err"
qk_check "  the bucket holds the demo" test "$("$Q" lake ls "s3://$NB/demo/dataset" --recursive | wc -l)" = 1
qk_eq "demo to a bucket name S3 refuses exits 1" "$(err "$Q" demo --lake "s3://Bad_Bucket_$$/demo" --rows 100 --quiet)" 1
qk_check "  with S3's error" grep -Eq "InvalidBucketName|NoSuchBucket|HTTP 400" "$QK_TMP/err"
qk_eq "demo --lake s3:// exits 0" "$(err "$Q" demo --lake "s3://$B/demo" --rows 20000 --quiet)" 0
qk_check "  stats name the S3 lake" grep -q "^lake *s3://$B/demo" "$QK_TMP/out"
"$Q" lake ls "s3://$B/demo" --recursive >"$QK_TMP/dls"
qk_check "  dataset/taxi_2019_04.parquet" grep -q " dataset/taxi_2019_04.parquet$" "$QK_TMP/dls"
qk_eq "  30 partition files" "$(grep -c ' partitioned/date=2019-04-[0-9]*/data_0.parquet$' "$QK_TMP/dls")" 30
qk_eq "  nothing else" "$(wc -l <"$QK_TMP/dls")" 31
"$Q" demo --lake "$QK_TMP/dlocal" --rows 20000 --quiet >/dev/null 2>&1
"$Q" lake get "s3://$B/demo/dataset/taxi_2019_04.parquet" "$QK_TMP/s3.parquet" >/dev/null 2>&1
qk_check "  the parquet equals a local demo byte for byte" cmp "$QK_TMP/s3.parquet" "$QK_TMP/dlocal/dataset/taxi_2019_04.parquet"

qk_done
