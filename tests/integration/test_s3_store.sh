#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_s3_store.sh: the S3 backend of the store (src/store/s3.c) against a real S3 server (Ceph
# RGW from tests/s3/rgw.sh), driven through tests/tools/s3check: put/get/head/cat of keys with
# spaces, unicode and + = & ? # % /; listing of 1,100 keys with a delimiter and continuation;
# a 50 MB multipart upload and ranged reads of it (sha256 against dd); put_if_absent races
# between two processes (exactly one wins); delete, delete_many, copy; errors in S3's words
# (SignatureDoesNotMatch, NoSuchBucket, missing keys); retries through tests/tools/faultproxy
# (503 SlowDown, resets, truncated bodies); backup requests for slow GETs; presigned GET URLs. One bucket per case.
# Prints "N passed, N failed". "SKIP: ..." and exit 0 only when apt cannot reach a mirror.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test s3store s3check faultproxy
C="$QUACK_BUILD/s3check"
T_ALL=$(qk_ms)

# ---- install (only when missing) and start
qk_rgw_up "$STATE"
qk_s3_env

# bucket NAME: a fresh bucket for one case; prints its store URI.
N=0
bucket() {
  N=$((N + 1))
  local b="qk-$1-$$-$N"
  bash "$RGW" bucket "$STATE" "$b" >/dev/null 2>&1 || { echo "cannot create bucket $b" >&2; return 1; }
  echo "s3://$b"
}
# err CMD...: run, keep stderr in $QK_TMP/err, print the exit code
err() { "$@" >"$QK_TMP/out" 2>"$QK_TMP/err"; echo $?; }

# ---- special-character keys round-trip
t=$(qk_ms)
S=$(bucket keys)/root/dir
printf 'payload\n' >"$QK_TMP/small"
i=0
while IFS= read -r k; do
  i=$((i + 1))
  printf 'value %s\n' "$k" >"$QK_TMP/v"
  "$C" put "$S" "$k" "$QK_TMP/v" 2>>"$QK_TMP/keys.err"
  qk_eq "key round-trips: '$k'" "$("$C" cat "$S" "$k" 2>&1)" "value $k"
done <<'EOF'
with space.txt
é/ü ñ 東京.csv
🦆 duck.parquet
a+b=c&d?e#f%g.txt
100% done/x%2Fy
deep/a/b/c/d.txt
EOF
qk_eq "listing returns each key verbatim (prefix stripped)" "$("$C" ls "$S" | LC_ALL=C sort | tr '\n' '|')" \
  "100% done/x%2Fy|a+b=c&d?e#f%g.txt|deep/a/b/c/d.txt|with space.txt|é/ü ñ 東京.csv|🦆 duck.parquet|"
qk_eq "listing with delimiter rolls up folders" "$("$C" ls "$S" "" / | tr '\n' '|')" \
  "P 100% done/|a+b=c&d?e#f%g.txt|P deep/|with space.txt|P é/|🦆 duck.parquet|"
qk_eq "head: size" "$("$C" head "$S" "🦆 duck.parquet" | cut -d' ' -f1)" 24
qk_check "head: quoted ETag" bash -c "\"$C\" head \"$S\" \"🦆 duck.parquet\" | grep -q '^24 \"[0-9a-f]*\" [0-9]*\$'"
qk_eq "get_file writes the object" "$(err "$C" get "$S" "a+b=c&d?e#f%g.txt" "$QK_TMP/dl/x.txt"; cat "$QK_TMP/dl/x.txt")" \
  "0
value a+b=c&d?e#f%g.txt"
qk_eq "ranged cat" "$("$C" cat "$S" "with space.txt" 6 5)" "with "
qk_eq "range past the end -> InvalidRange" "$(err "$C" cat "$S" "with space.txt" 1000)" 1
qk_check "  error says InvalidRange" grep -q "InvalidRange" "$QK_TMP/err"
echo "# keys: $(( $(qk_ms) - t )) ms"

# ---- errors in S3's words, never the secret
t=$(qk_ms)
qk_eq "missing key: cat exits 4" "$(err "$C" cat "$S" "no such")" 4
qk_check "  error names NoSuchKey, bucket and key" grep -q "error: NoSuchKey: .*s3://qk-keys-.*/root/dir/no such" "$QK_TMP/err"
qk_eq "missing key: head exits 4" "$(err "$C" head "$S" "no such")" 4
qk_check "  'no such key: bucket/key'" grep -q "no such key: qk-keys-[0-9-]*/root/dir/no such" "$QK_TMP/err"
qk_eq "missing key: get exits 4" "$(err "$C" get "$S" "no such" "$QK_TMP/dl/missing")" 4
qk_check "  no file and no temp file left" test -z "$(ls -A "$QK_TMP/dl" | grep -v '^x.txt$')"
qk_eq "wrong secret fails" "$(AWS_SECRET_ACCESS_KEY=wrong-secret-zz err "$C" ls "$S")" 1
qk_check "  SignatureDoesNotMatch" grep -q "error: SignatureDoesNotMatch: S3 SignatureDoesNotMatch (HTTP 403) on GET s3://" "$QK_TMP/err"
qk_check "  the secret is not in the message" bash -c "! grep -q wrong-secret-zz '$QK_TMP/err'"
qk_eq "unknown access key fails" "$(AWS_ACCESS_KEY_ID=nosuchkey err "$C" head "$S" "with space.txt")" 1
qk_check "  403 without a body on HEAD" grep -q "HTTP403\|InvalidAccessKeyId" "$QK_TMP/err"
qk_eq "unknown bucket fails (not found)" "$(err "$C" ls "s3://qk-no-such-bucket-$$")" 4
qk_check "  NoSuchBucket" grep -q "error: NoSuchBucket: S3 NoSuchBucket (HTTP 404)" "$QK_TMP/err"
qk_eq "no credentials: open fails" "$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$C" ls "$S" 2>&1 >/dev/null | grep -c 'error: NotFound')" 1
echo "# errors: $(( $(qk_ms) - t )) ms"

# ---- listing 1,100 keys: two pages, delimiter, continuation
t=$(qk_ms)
S=$(bucket list)
qk_check "put 1,100 keys (16 threads)" "$C" put-many "$S" "many/k" 1100 16
qk_check "put 3 more" "$C" put-many "$S" "many/sub/s" 3 2
"$C" putm "$S" "top.txt" top
"$C" ls "$S" >"$QK_TMP/ls"
qk_eq "list_all: 1,104 keys over two pages" "$(wc -l <"$QK_TMP/ls")" 1104
qk_check "  in byte order" bash -c "LC_ALL=C sort -c '$QK_TMP/ls'"
qk_eq "  first and last" "$(head -1 "$QK_TMP/ls")|$(tail -1 "$QK_TMP/ls")" "many/k00000|top.txt"
qk_eq "list_all with prefix and delimiter: 1,100 keys + 1 prefix" \
  "$("$C" ls "$S" many/ / | wc -l)|$("$C" ls "$S" many/ / | grep -c '^P many/sub/$')" "1101|1"
qk_eq "delimiter at the root" "$("$C" ls "$S" "" / | tr '\n' '|')" "P many/|top.txt|"
echo "# list: $(( $(qk_ms) - t )) ms"

# ---- multipart: 50 MB, parallel parts, ranged reads
t=$(qk_ms)
S=$(bucket mp)/big
head -c 52428800 /dev/urandom >"$QK_TMP/big"
t1=$(qk_ms)
qk_check "put_file 50 MB (multipart)" "$C" put "$S" data/big.bin "$QK_TMP/big"
echo "# 50 MB multipart upload: $(( $(qk_ms) - t1 )) ms"
H=$("$C" head "$S" data/big.bin)
qk_eq "  size" "${H%% *}" 52428800
qk_check "  multipart ETag (7 parts of 8 MiB)" bash -c "echo '$H' | grep -q '\"[0-9a-f]*-7\"'"
t1=$(qk_ms)
qk_check "get_file 50 MB" "$C" get "$S" data/big.bin "$QK_TMP/big.out"
echo "# 50 MB download: $(( $(qk_ms) - t1 )) ms"
qk_check "  same bytes" cmp -s "$QK_TMP/big" "$QK_TMP/big.out"
for r in "0 1" "0 8388608" "8388607 2" "10000000 5000000" "52428700 100" "52428000 end"; do
  set -- $r
  want=$(if [ "$2" = end ]; then tail -c +$(( $1 + 1 )) "$QK_TMP/big"; else
           dd if="$QK_TMP/big" bs=1M skip="$1" count="$2" iflag=skip_bytes,count_bytes 2>/dev/null; fi | sha256sum)
  qk_eq "ranged get [$1, +$2) matches dd" "$("$C" cat "$S" data/big.bin "$1" "$2" | sha256sum)" "$want"
done
echo "# multipart: $(( $(qk_ms) - t )) ms"

# ---- put_if_absent: exactly one of two processes wins
t=$(qk_ms)
S=$(bucket pifa)
mkdir -p "$QK_TMP/race"
for i in $(seq 20); do
  "$C" pifa "$S" "_delta_log/$(printf %020d "$i").json" A >"$QK_TMP/race/a$i" 2>&1 &
  "$C" pifa "$S" "_delta_log/$(printf %020d "$i").json" B >"$QK_TMP/race/b$i" 2>&1 &
  wait
done
qk_eq "20 races: 20 winners" "$(cat "$QK_TMP"/race/* | grep -c '^created$')" 20
qk_eq "20 races: 20 'already exists'" "$(cat "$QK_TMP"/race/* | grep -c '^error: PreconditionFailed: already exists: _delta_log/')" 20
w=$(grep -l created "$QK_TMP/race/a1" "$QK_TMP/race/b1" | head -1)
qk_eq "  the winner's bytes are stored" "$("$C" cat "$S" "_delta_log/00000000000000000001.json")" \
  "$([ "$w" = "$QK_TMP/race/a1" ] && echo A || echo B)"
qk_eq "pifa on an existing key exits 3" "$(err "$C" pifa "$S" "_delta_log/00000000000000000001.json" C)" 3
echo "# put_if_absent: $(( $(qk_ms) - t )) ms"

# ---- delete, delete_many, copy
t=$(qk_ms)
S=$(bucket del)/p
for k in a "b c" "d+e" "f/g" keep; do "$C" putm "$S" "$k" "v-$k"; done
qk_check "delete" "$C" rm "$S" a
qk_eq "  gone" "$(err "$C" head "$S" a)" 4
qk_check "delete of a missing key succeeds" "$C" rm "$S" a
qk_check "delete_many (with a missing key)" "$C" rmm "$S" "b c" "d+e" "f/g" ghost
qk_eq "  only keep is left" "$("$C" ls "$S" | tr '\n' '|')" "keep|"
qk_check "copy" "$C" cp "$S" keep "copy of/keep & co"
qk_eq "  copy has the bytes" "$("$C" cat "$S" "copy of/keep & co")" "v-keep"
qk_eq "copy of a missing key exits 4" "$(err "$C" cp "$S" ghost x)" 4
qk_check "  no such key" grep -q "no such key: .*/p/ghost" "$QK_TMP/err"
echo "# delete/copy: $(( $(qk_ms) - t )) ms"

# ---- presigned GET
S=$(bucket pre)
"$C" putm "$S" "pre signed/é.txt" "presigned body"
URL=$("$C" presign "$S" "pre signed/é.txt" 60)
qk_eq "presigned URL works without credentials" "$(curl -s --max-time 10 "$URL")" "presigned body"
qk_eq "tampered presigned URL is refused" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${URL/X-Amz-Expires=60/X-Amz-Expires=61}")" 403

# ---- retries through a fault-injecting proxy
t=$(qk_ms)
S=$(bucket retry)
qk_fp_start fp --http503-rate 0.1 --reset-rate 0.1 --truncate-rate 0.1 --seed 11
FPURL=$QK_FP_URL
bad=0
for i in $(seq 30); do
  AWS_ENDPOINT_URL=$FPURL QUACK_S3_MAX_ATTEMPTS=12 "$C" putm "$S" "r/$i" "value $i" 2>>"$QK_TMP/retry.err" || bad=$((bad + 1))
  [ "$(AWS_ENDPOINT_URL=$FPURL QUACK_S3_MAX_ATTEMPTS=12 "$C" cat "$S" "r/$i" 2>>"$QK_TMP/retry.err")" = "value $i" ] || bad=$((bad + 1))
done
qk_eq "30 puts + 30 gets through 503s, resets and truncations" "$bad" 0
qk_check "multipart upload through the faults" env AWS_ENDPOINT_URL="$FPURL" QUACK_S3_MAX_ATTEMPTS=12 "$C" put "$S" big "$QK_TMP/big"
qk_check "download through the faults" env AWS_ENDPOINT_URL="$FPURL" QUACK_S3_MAX_ATTEMPTS=12 "$C" get "$S" big "$QK_TMP/big.out2"
qk_check "  same bytes" cmp -s "$QK_TMP/big" "$QK_TMP/big.out2"
qk_check "  faults were injected" python3 -c "import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s['http503'] and s['resets'] and s['truncations']))" "$QK_TMP/fp.stats"
echo "#   proxy: $(cat "$QK_TMP/fp.stats")"
qk_fp_stop
qk_fp_start fp2 --http503-rate 1
t1=$(qk_ms)
qk_eq "always SlowDown: gives up after QUACK_S3_MAX_ATTEMPTS" \
  "$(AWS_ENDPOINT_URL=$QK_FP_URL QUACK_S3_MAX_ATTEMPTS=4 err "$C" cat "$S" r/1)" 1
qk_check "  SlowDown, after 4 attempts" grep -q "error: SlowDown: S3 SlowDown (HTTP 503) on GET .*(after 4 attempts)" "$QK_TMP/err"
qk_check "  with backoff (0.05..2 s)" test $(( $(qk_ms) - t1 )) -ge 0 -a $(( $(qk_ms) - t1 )) -lt 2000
qk_fp_stop
qk_eq "404 is not retried" "$(err "$C" cat "$S" nope)" 4
qk_check "  (one attempt)" bash -c "! grep -q attempts '$QK_TMP/err'"
qk_eq "connection refused: retried, then a clear error" \
  "$(AWS_ENDPOINT_URL=http://127.0.0.1:1 QUACK_S3_MAX_ATTEMPTS=3 err "$C" cat "$S" r/1)" 1
qk_check "  ConnectionError after 3 attempts" grep -q "error: ConnectionError: .*(after 3 attempts)" "$QK_TMP/err"
echo "# retries: $(( $(qk_ms) - t )) ms"

# ---- backup requests (Starling's straggler trick): the first GET is held for 1.5 s
t=$(qk_ms)
slow_proxy() {
  qk_fp_start fp3 --delay-ms 1500 --delay-rate 1 --first-n 1
  SLOW=$QK_FP_URL
}
stop_proxy() { qk_fp_stop; }
slow_proxy
t1=$(qk_ms)
qk_eq "slow GET: the backup request answers" "$(AWS_ENDPOINT_URL=$SLOW "$C" cat "$S" r/2 2>"$QK_TMP/err")" "value 2"
el=$(( $(qk_ms) - t1 ))
qk_check "  before the slow one would ($el ms < 1400)" test "$el" -lt 1400
qk_check "  logged s3.backup_request" grep -q '"event":"s3.backup_request"' "$QK_TMP/err"
stop_proxy; slow_proxy
t1=$(qk_ms)
qk_check "slow get_file of 50 MB" env AWS_ENDPOINT_URL="$SLOW" "$C" get "$S" big "$QK_TMP/dl2/big" 2>"$QK_TMP/err"
el=$(( $(qk_ms) - t1 ))
qk_check "  the backup was sent ($el ms)" grep -q '"event":"s3.backup_request"' "$QK_TMP/err"
qk_check "  same bytes" cmp -s "$QK_TMP/big" "$QK_TMP/dl2/big"
qk_eq "  no temp file left" "$(ls -A "$QK_TMP/dl2")" big
stop_proxy; slow_proxy
t1=$(qk_ms)
qk_eq "QUACK_S3_BACKUP_MULTIPLE=0: no backup" "$(AWS_ENDPOINT_URL=$SLOW QUACK_S3_BACKUP_MULTIPLE=0 "$C" cat "$S" r/2 2>&1)" "value 2"
el=$(( $(qk_ms) - t1 ))
qk_check "  waits for the slow answer ($el ms >= 1400)" test "$el" -ge 1400
stop_proxy
echo "# backup requests: $(( $(qk_ms) - t )) ms"

# ---- stop
bash "$RGW" stop "$STATE" --purge
echo "# total: $(( $(qk_ms) - T_ALL )) ms"
qk_done
