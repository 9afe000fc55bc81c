#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_s3_rgw.sh: the real-S3 test server (tests/s3/rgw.sh: Ceph RADOS Gateway on 127.0.0.1)
# installs, starts, stops, and behaves the way quack's S3 layer relies on: SigV4-signed
# PUT/GET/HEAD of a key with spaces and unicode, ranged GET (206), ListObjectsV2 with
# prefix/delimiter/pagination, conditional PUT (If-None-Match: * -> 412), wrong secret -> 403
# SignatureDoesNotMatch, unsigned -> 403, body != x-amz-content-sha256 -> 400, unknown bucket
# -> 404 NoSuchBucket. Requests are signed by curl --aws-sigv4.
# Prints "SKIP: ..." and exits 0 only when apt-get cannot reach a package mirror to install Ceph;
# any other failure fails. Needs no quack binary and no lake.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../s3/up.sh"
qk_s3_test s3
T_ALL=$(qk_ms)
QK_HEADERS=$QK_TMP/headers

# ---- install (only when missing) and start
qk_rgw_up "$STATE"
for v in S3_ENDPOINT S3_KEY S3_SECRET S3_REGION AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID \
         AWS_SECRET_ACCESS_KEY AWS_REGION; do
  [ -n "${!v:-}" ] || qk_not_ok "env file sets $v"
done
qk_check "env: endpoint is loopback" grep -q '^S3_ENDPOINT=http://127.0.0.1:[0-9]*$' "$STATE/env"

# ---- helpers
# s3 METHOD PATH [BODYFILE] [curl args...]: a SigV4-signed request; prints the status, body in
# $QK_BODY, headers in $QK_HEADERS. curl 7.88 does not send x-amz-content-sha256 itself.
s3() {
  local method=$1 path=$2 file=${3:-} sha args=()
  shift 3 2>/dev/null || shift $#
  if [ -n "$file" ]; then
    sha=${S3_SHA:-$(sha256sum "$file" | cut -d' ' -f1)}
    args+=(--data-binary @"$file")
  else
    sha=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  fi
  if [ "$method" = HEAD ]; then args+=(--head); else args+=(-X "$method"); fi
  curl -s --max-time 20 -o "$QK_BODY" -D "$QK_HEADERS" -w '%{http_code}' \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "${S3_USER:-$S3_KEY:$S3_SECRET}" \
    -H "x-amz-content-sha256: $sha" "${args[@]}" "$@" "$S3_ENDPOINT$path"
}
# urlenc S [SAFE]: percent-encode S the SigV4 way (everything but A-Za-z0-9-_.~ and SAFE);
# paths keep "/", query values do not (qenc).
urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=sys.argv[2]))' "$1" "${2-/~}"; }
qenc() { urlenc "$1" "~"; }
# xml EXPR: evaluate EXPR on the last body, parsed (r = root element, ns stripped; t(tag) = the
# texts of every element named tag).
xml() {
  python3 - "$QK_BODY" "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
for e in r.iter():
    e.tag = e.tag.split('}')[-1]
def t(tag): return [e.text or "" for e in r.iter(tag)]
print(eval(sys.argv[2]))
PY
}

B=quack-test-$$
t=$(qk_ms)
qk_check "bucket $B created" bash "$RGW" bucket "$STATE" "$B"
qk_check "bucket create is idempotent" bash "$RGW" bucket "$STATE" "$B"

# ---- PUT / GET / HEAD a key with spaces and unicode
KEY="dir a/hé llo wörld ✓ 東京.txt"
EKEY=$(urlenc "$KEY")
printf '0123456789abcdefghij-quack-s3-payload\n' >"$QK_TMP/obj"
SIZE=$(wc -c <"$QK_TMP/obj")
MD5=$(md5sum "$QK_TMP/obj" | cut -d' ' -f1)
qk_eq "PUT unicode key" "$(s3 PUT "/$B/$EKEY" "$QK_TMP/obj")" 200
qk_eq "PUT returns the MD5 ETag" "$(qk_header ETag)" "\"$MD5\""
qk_eq "GET unicode key" "$(s3 GET "/$B/$EKEY")" 200
qk_check "GET returns the same bytes" cmp -s "$QK_BODY" "$QK_TMP/obj"
qk_eq "HEAD unicode key" "$(s3 HEAD "/$B/$EKEY")" 200
qk_eq "HEAD Content-Length" "$(qk_header Content-Length)" "$SIZE"
qk_eq "HEAD ETag" "$(qk_header ETag)" "\"$MD5\""
qk_check "HEAD Last-Modified" test -n "$(qk_header Last-Modified)"
qk_eq "HEAD missing key" "$(s3 HEAD "/$B/no-such-key")" 404
qk_eq "GET missing key" "$(s3 GET "/$B/no-such-key")" 404
qk_eq "GET missing key: NoSuchKey" "$(xml 't("Code")[0]')" NoSuchKey

# ---- ranged GET
qk_eq "ranged GET bytes=0-9" "$(s3 GET "/$B/$EKEY" "" -H 'Range: bytes=0-9')" 206
qk_eq "ranged GET: 10 bytes" "$(wc -c <"$QK_BODY")" 10
qk_eq "ranged GET: the first 10 bytes" "$(cat "$QK_BODY")" 0123456789
qk_eq "ranged GET: Content-Range" "$(qk_header Content-Range)" "bytes 0-9/$SIZE"
qk_eq "ranged GET suffix bytes=-5" "$(s3 GET "/$B/$EKEY" "" -H 'Range: bytes=-5')" 206
qk_eq "ranged GET suffix: last 5 bytes" "$(cat "$QK_BODY")" "$(tail -c 5 "$QK_TMP/obj")"
qk_eq "ranged GET past the end" "$(s3 GET "/$B/$EKEY" "" -H "Range: bytes=$SIZE-")" 416

# ---- ListObjectsV2: prefix, delimiter, pagination
# curl 7.88's --aws-sigv4 signs the query string as written: parameters must be in sorted order
# (else 403 SignatureDoesNotMatch), values percent-encoded.
printf x >"$QK_TMP/x"
for k in data/a.parquet data/b.parquet data/sub/c.parquet data/sub/d.parquet other/e; do
  s3 PUT "/$B/$k" "$QK_TMP/x" >/dev/null
done
qk_eq "ListObjectsV2 prefix+delimiter" \
  "$(s3 GET "/$B?delimiter=%2F&list-type=2&prefix=data%2F")" 200
qk_eq "  Contents" "$(xml '",".join(t("Key"))')" "data/a.parquet,data/b.parquet"
qk_eq "  CommonPrefixes" "$(xml '",".join(e.findtext("Prefix") for e in r.iter("CommonPrefixes"))')" "data/sub/"
qk_eq "  KeyCount" "$(xml 't("KeyCount")[0]')" 3
qk_eq "  IsTruncated" "$(xml 't("IsTruncated")[0]')" false
qk_eq "ListObjectsV2 unicode prefix" "$(s3 GET "/$B?list-type=2&prefix=$(qenc "dir a/")")" 200
qk_eq "  the unicode key comes back verbatim" "$(xml 't("Key")[0]')" "$KEY"
qk_eq "ListObjectsV2 max-keys=2" "$(s3 GET "/$B?list-type=2&max-keys=2&prefix=data%2F")" 200
qk_eq "  page 1" "$(xml '",".join(t("Key"))')" "data/a.parquet,data/b.parquet"
qk_eq "  page 1 IsTruncated" "$(xml 't("IsTruncated")[0]')" true
TOK=$(xml 't("NextContinuationToken")[0]')
qk_eq "  page 2 (continuation-token)" \
  "$(s3 GET "/$B?continuation-token=$(qenc "$TOK")&list-type=2&max-keys=2&prefix=data%2F")" 200
qk_eq "  page 2 keys" "$(xml '",".join(t("Key"))')" "data/sub/c.parquet,data/sub/d.parquet"
qk_eq "  page 2 IsTruncated" "$(xml 't("IsTruncated")[0]')" false

# ---- conditional PUT
printf 'other\n' >"$QK_TMP/obj2"
qk_eq "PUT If-None-Match:* on an existing key" \
  "$(s3 PUT "/$B/$EKEY" "$QK_TMP/obj2" -H 'If-None-Match: *')" 412
qk_eq "  PreconditionFailed" "$(xml 't("Code")[0]')" PreconditionFailed
s3 GET "/$B/$EKEY" >/dev/null
qk_check "  the object is unchanged" cmp -s "$QK_BODY" "$QK_TMP/obj"
qk_eq "PUT If-None-Match:* on a new key" "$(s3 PUT "/$B/new-key" "$QK_TMP/obj2" -H 'If-None-Match: *')" 200

# ---- authentication and errors
qk_eq "wrong secret -> 403" "$(S3_USER="$S3_KEY:wrong-secret" s3 GET "/$B/$EKEY")" 403
qk_eq "  SignatureDoesNotMatch" "$(xml 't("Code")[0]')" SignatureDoesNotMatch
qk_eq "unknown access key -> 403" "$(S3_USER="nosuchkey:$S3_SECRET" s3 GET "/$B/$EKEY")" 403
qk_eq "  InvalidAccessKeyId" "$(xml 't("Code")[0]')" InvalidAccessKeyId
qk_eq "unsigned GET -> 403" \
  "$(curl -s --max-time 20 -o "$QK_BODY" -w '%{http_code}' "$S3_ENDPOINT/$B/$EKEY")" 403
qk_eq "  AccessDenied" "$(xml 't("Code")[0]')" AccessDenied
qk_eq "body != x-amz-content-sha256 -> 400" \
  "$(S3_SHA=$(printf nope | sha256sum | cut -d' ' -f1) s3 PUT "/$B/bad-sha" "$QK_TMP/obj")" 400
qk_eq "  XAmzContentSHA256Mismatch" "$(xml 't("Code")[0]')" XAmzContentSHA256Mismatch
qk_eq "unknown bucket -> 404" "$(s3 GET "/no-such-bucket-$$?list-type=2")" 404
qk_eq "  NoSuchBucket" "$(xml 't("Code")[0]')" NoSuchBucket
echo "# S3 checks: $(( $(qk_ms) - t )) ms"

# ---- stop
PIDS=$(awk '{print $2}' "$STATE/pids")
t=$(qk_ms)
bash "$RGW" stop "$STATE" --purge
qk_eq "stop --purge exits 0" "$?" 0
echo "# stop: $(( $(qk_ms) - t )) ms"
qk_check "stop --purge removes the state dir" test ! -e "$STATE"
live=""
for p in $PIDS; do
  st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) && [ "$st" != Z ] && live="$live $p"
done
qk_eq "no daemon left running" "$live" ""
qk_check "stop is idempotent" bash "$RGW" stop "$STATE" --purge
echo "# total: $(( $(qk_ms) - T_ALL )) ms"
qk_done
