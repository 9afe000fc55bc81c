#!/usr/bin/env bash
# deploy/check.sh: checks of deploy/ that need no AWS account, no Docker daemon and no network.
# Not part of `make test`; run it by hand after changing deploy/ or the build (docs/deploy.md).
#
#   deploy/check.sh            static checks against the local build (make first)
#   deploy/check.sh --build    also replay the Dockerfile's build stage on this machine
#
#  a. Dockerfile: stages, base images, bootstrap, CMD, platform, no secrets; the files it COPYs
#     exist and pass Dockerfile.dockerignore; every top-level folder CMakeLists.txt reads is copied;
#     the DuckDB pins in build-deps.sh equal scripts/bootstrap.sh's.
#  b. Shared libraries: every library build/quack and build/libduckdb.so need is in the
#     provided.al2023 base (the list below) or shipped by the Dockerfile (QUACK_PRIVATE_LIBS).
#  c. glibc: the GLIBC_/GLIBCXX_/CXXABI_ symbol versions those files need, against AL2023's
#     (glibc 2.34, libstdc++ of gcc 11); what a Debian 12 build would need that AL2023 lacks.
#  d. serverless.yml parses as YAML (python3 + PyYAML, else skipped) and has the expected shape.
#  e. Terraform (when installed): fmt, init (offline with TF_PLUGIN_DIR or /opt/tf-plugins),
#     validate and `terraform test` on a scratch copy of deploy/terraform.
# Prints PASS/FAIL/SKIP/INFO lines and a summary; exits 1 if anything failed.
# Env: QUACK_BUILD (default build), TF_PLUGIN_DIR, QUACK_DEPS_CACHE (for --build).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dep="$root/deploy"
bld=${QUACK_BUILD:-build}
case $bld in /*) ;; *) bld="$root/$bld" ;; esac
do_build=0
[ "${1:-}" = "--build" ] && do_build=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

npass=0 nfail=0 nskip=0
pass() { npass=$((npass + 1)); printf 'PASS  %s\n' "$*"; }
fail() { nfail=$((nfail + 1)); printf 'FAIL  %s\n' "$*"; }
skip() { nskip=$((nskip + 1)); printf 'SKIP  %s\n' "$*"; }
info() { printf 'INFO  %s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
# verdict STATUS PASS_TEXT FAIL_TEXT: report the exit status of the command before it
verdict() { if [ "$1" = 0 ]; then pass "$2"; else fail "$3"; fi; }
# expect DESCRIPTION COMMAND...: PASS if the command succeeds, FAIL otherwise
expect() {
  local d=$1
  shift
  if "$@" >/dev/null 2>&1; then pass "$d"; else fail "$d"; fi
}

# Libraries assumed present in public.ecr.aws/lambda/provided:al2023 (AL2023 minimal container
# + microdnf, whose libdnf/librepo pull in libstdc++, libcurl-minimal, OpenSSL and libxml2).
# The Dockerfile's runtime stage runs `quack --version`, so a wrong entry fails the image build.
BASE_LIBS="linux-vdso.so.1 ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0
librt.so.1 libresolv.so.2 libgcc_s.so.1 libstdc++.so.6 libcrypto.so.3 libssl.so.3 libz.so.1
libcurl.so.4 libnghttp2.so.14 libxml2.so.2 liblzma.so.5"
AL2023_GLIBC=2.34
AL2023_GLIBCXX=3.4.29 # libstdc++ of gcc 11
AL2023_CXXABI=1.3.13

df="$dep/Dockerfile"
ignore="$dep/Dockerfile.dockerignore"

# Dockerfile instructions, one per line (continuations joined, comments dropped)
instructions() {
  sed -e '/^[[:space:]]*#/d' "$df" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | sed -e '/^[[:space:]]*$/d'
}
# default of ARG NAME in the Dockerfile
arg_default() { instructions | sed -n "s/^ARG $1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" | head -n1; }
# sha512 hex of an npm "sha512-<base64>" integrity string
integrity_hex() { printf '%s' "${1#sha512-}" | base64 -d | od -An -vtx1 | tr -d ' \n'; }
in_list() { case " $(echo "$2" | tr '\n' ' ') " in *" $1 "*) return 0 ;; esac; return 1; }
vgt() { [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n1)" = "$1" ]; }

# ---------------------------------------------------------------------------------------------
section "a. Dockerfile"
if [ ! -f "$df" ]; then
  fail "deploy/Dockerfile is missing"
else
  ins=$(instructions)
  froms=$(echo "$ins" | grep -c '^FROM ')
  [ "$froms" -ge 2 ]
  verdict $? "multi-stage ($froms FROM)" "multi-stage build expected, found $froms FROM"
  first=$(echo "$ins" | grep '^FROM ' | head -n1)
  last=$(echo "$ins" | grep '^FROM ' | tail -n1)
  build_img=$(arg_default BUILD_IMAGE)
  run_img=$(arg_default RUNTIME_IMAGE)
  first_img=$(echo "$first" | sed 's/--platform=[^ ]* //' | awk '{print $2}' | sed "s#\${BUILD_IMAGE}#$build_img#")
  last_img=$(echo "$last" | sed 's/--platform=[^ ]* //' | awk '{print $2}' | sed "s#\${RUNTIME_IMAGE}#$run_img#")
  case $first_img in
  *amazonlinux:2023* | *amazonlinux*:2023*) pass "build stage on Amazon Linux 2023 ($first_img)" ;;
  *) fail "build stage should be amazonlinux:2023 (glibc 2.34), is $first_img" ;;
  esac
  case $last_img in
  public.ecr.aws/lambda/provided:al2023*) pass "runtime stage FROM $last_img" ;;
  *) fail "runtime stage should be public.ecr.aws/lambda/provided:al2023, is $last_img" ;;
  esac
  if [ "$(echo "$ins" | grep '^FROM ' | grep -c -- '--platform=linux/amd64')" = "$froms" ]; then
    pass "every stage is linux/amd64 (libduckdb.so is x86_64)"
  else
    fail "every FROM needs --platform=linux/amd64"
  fi
  final=$(echo "$ins" | awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}')
  echo "$final" | grep -q '^COPY --from=build '
  verdict $? "runtime stage copies from the build stage" "runtime stage does not COPY --from=build"
  if echo "$final" | grep -Eq '(\$\{?LAMBDA_RUNTIME_DIR(:-/var/runtime)?\}?|/var/runtime)/bootstrap'; then
    pass "runtime stage installs \${LAMBDA_RUNTIME_DIR}/bootstrap"
  else
    fail "runtime stage must install quack as \${LAMBDA_RUNTIME_DIR}/bootstrap"
  fi
  cmd=$(echo "$final" | grep '^CMD ' | tail -n1)
  if echo "$cmd" | grep -Eq '^CMD \[ *"[^"]+" *\]$'; then
    pass "CMD is one exec-form handler name ($cmd), as lambda-entrypoint.sh requires"
  else
    fail "CMD must be exec form with exactly one element (the handler), got: ${cmd:-none}"
  fi
  ! echo "$final" | grep -q '^ENTRYPOINT '
  verdict $? "runtime stage keeps the base image's ENTRYPOINT" \
    "runtime stage overrides ENTRYPOINT (the base's lambda-entrypoint.sh is needed)"
  ! echo "$ins" | grep -Eq '^ADD +(--[^ ]+ +)*https?://'
  verdict $? "no ADD from URLs (downloads are checksummed in build-deps.sh)" "ADD from a URL (unverified download)"
  ! echo "$ins" | grep -Eiq '^(ENV|ARG) .*(AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN)'
  verdict $? "no AWS credentials in ENV/ARG (the role provides them)" "credentials in ENV/ARG"
  ! echo "$ins" | grep '^RUN dnf' | grep -q cmocka
  verdict $? "cmocka not installed (tests only; a configure-time stub stands in)" \
    "cmocka installed in the image build (tests only)"

  # every RUN is valid shell (POSIX sh -n; the images' /bin/sh is bash)
  bad_runs=$(echo "$ins" | sed -n 's/^RUN //p' | while IFS= read -r r; do
    printf '%s\n' "$r" | sh -n 2>/dev/null || echo "$r" | cut -c1-60
  done)
  [ -z "$bad_runs" ]
  verdict $? "every RUN parses as shell (sh -n)" "RUN with a shell syntax error: $bad_runs"
  # COPY sources: exist, and the allow-list lets them into the context
  copies=$(echo "$ins" | grep '^COPY ' | grep -v -- '--from=' | awk '{for (i=2; i<NF; i++) print $i}')
  for c in $copies; do
    if [ ! -e "$root/$c" ]; then
      fail "COPY $c: not in the repository"
    elif [ -f "$ignore" ] && ! grep -qx "!$c" "$ignore"; then
      fail "COPY $c: not allowed by deploy/Dockerfile.dockerignore (add !$c)"
    else
      pass "COPY $c: present and in the build context"
    fi
  done
  # top-level folders CMakeLists.txt reads: copied, or deliberately absent
  # shellcheck disable=SC2016 # the pattern is a literal ${CMAKE_SOURCE_DIR}
  dirs=$(grep -o '${CMAKE_SOURCE_DIR}/[A-Za-z0-9_.-]*' "$root/CMakeLists.txt" | sed 's#.*}/##' | sort -u)
  for d in $dirs; do
    if in_list "$d" "$copies"; then
      pass "CMakeLists.txt reads $d/: copied"
    else
      case $d in
      third_party) pass "CMakeLists.txt reads third_party/: made by build-deps.sh in the image" ;;
      tests | bench) pass "CMakeLists.txt reads $d/: only globbed for test/bench targets, not copied" ;;
      *) fail "CMakeLists.txt reads $d/ but the Dockerfile does not COPY it" ;;
      esac
    fi
  done
  # DuckDB pins: build-deps.sh == scripts/bootstrap.sh
  bs="$root/scripts/bootstrap.sh"
  bd="$dep/build-deps.sh"
  b_lib=$(sed -n 's/^LIB_PKG="\(.*\)"$/\1/p' "$bs")
  b_hdr=$(sed -n 's/^HDR_PKG="\(.*\)"$/\1/p' "$bs")
  b_libsha=$(integrity_hex "$(sed -n 's/^LIB_SHA="\(.*\)"$/\1/p' "$bs")")
  b_hdrsha=$(integrity_hex "$(sed -n 's/^HDR_SHA="\(.*\)"$/\1/p' "$bs")")
  d_liburl=$(sed -n 's/^DUCKDB_LIB_URL="\(.*\)"$/\1/p' "$bd")
  d_hdrurl=$(sed -n 's/^DUCKDB_HDR_URL="\(.*\)"$/\1/p' "$bd")
  d_libsha=$(sed -n 's/^DUCKDB_LIB_SHA512="\(.*\)"$/\1/p' "$bd")
  d_hdrsha=$(sed -n 's/^DUCKDB_HDR_SHA512="\(.*\)"$/\1/p' "$bd")
  # @scope/name@ver -> https://registry.npmjs.org/@scope/name/-/name-ver.tgz
  npm_url() {
    local spec=$1 name ver
    name=${spec%@*}
    ver=${spec##*@}
    echo "https://registry.npmjs.org/$name/-/${name##*/}-$ver.tgz"
  }
  [ -n "$b_lib" ] && [ "$(npm_url "$b_lib")" = "$d_liburl" ] && [ "$b_libsha" = "$d_libsha" ]
  verdict $? "libduckdb pin matches scripts/bootstrap.sh ($b_lib)" \
    "libduckdb pin differs from scripts/bootstrap.sh ($b_lib vs $d_liburl)"
  [ -n "$b_hdr" ] && [ "$(npm_url "$b_hdr")" = "$d_hdrurl" ] && [ "$b_hdrsha" = "$d_hdrsha" ]
  verdict $? "duckdb.h pin matches scripts/bootstrap.sh ($b_hdr)" \
    "duckdb.h pin differs from scripts/bootstrap.sh ($b_hdr vs $d_hdrurl)"
  # a Dockerfile linter, if one is installed (hadolint, or npm's dockerfile-utils)
  if command -v hadolint >/dev/null; then
    expect "hadolint deploy/Dockerfile" hadolint "$df"
  elif command -v dockerfile-utils >/dev/null; then
    expect "dockerfile-utils lint deploy/Dockerfile" dockerfile-utils lint "$df"
  else
    skip "no Dockerfile linter (hadolint, or npm's dockerfile-utils)"
  fi
fi
if command -v shellcheck >/dev/null; then
  expect "shellcheck deploy/*.sh" shellcheck "$dep/check.sh" "$dep/build-deps.sh"
else
  skip "shellcheck not installed"
fi

# ---------------------------------------------------------------------------------------------
section "b. shared libraries (base image: $(echo "$BASE_LIBS" | wc -w) assumed; private: Dockerfile)"
PRIVATE_LIBS=$(arg_default QUACK_PRIVATE_LIBS)
info "shipped in /opt/quack/lib/quack: ${PRIVATE_LIBS:-none}"
# libs_check LABEL FILE: every NEEDED entry of FILE is in the base or shipped
libs_check() {
  local f=$2 n missing=""
  for n in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    in_list "$n" "$BASE_LIBS" || in_list "$n" "$PRIVATE_LIBS" || missing="$missing $n"
  done
  [ -z "$missing" ]
  verdict $? "$1: every NEEDED library is in the base or shipped" "$1: neither in provided.al2023 nor shipped:$missing"
}
if [ -x "$bld/quack" ] && [ -f "$bld/libduckdb.so" ]; then
  libs_check "build/quack" "$bld/quack"
  libs_check "build/libduckdb.so" "$bld/libduckdb.so"
  # the full closure on this machine, for the record: what is transitive here comes from
  # Debian's builds of libcurl/libmicrohttpd; in the image the AL2023 packages bring their own
  other=""
  for n in $(ldd "$bld/quack" | awk '{n = $1; sub(/.*\//, "", n); print n}'); do
    in_list "$n" "$BASE_LIBS" || in_list "$n" "$PRIVATE_LIBS" || other="$other $n"
  done
  info "ldd build/quack here: $(ldd "$bld/quack" | wc -l) libraries; the rest are dependencies of Debian's libcurl/libmicrohttpd builds (in the image, AL2023's packages bring their own):${other:- none}"
else
  skip "no $bld/quack or $bld/libduckdb.so (run make)"
fi

# ---------------------------------------------------------------------------------------------
section "c. symbol versions vs AL2023 (glibc $AL2023_GLIBC, GLIBCXX $AL2023_GLIBCXX, CXXABI $AL2023_CXXABI)"
# versions_check LABEL FILE
versions_check() {
  local f=$2 max too_new
  max=$(objdump -T "$f" | grep -o 'GLIBC_2\.[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
  too_new=$(objdump -T "$f" | awk '/\*UND\*/ && /GLIBC_2\./ {v=$(NF-1); gsub(/[()]/, "", v); print v, $NF}' |
    while read -r v s; do vgt "${v#GLIBC_}" "$AL2023_GLIBC" && echo "$s@$v"; done | sort -u | tr '\n' ' ')
  if [ -z "$too_new" ]; then
    pass "$1: needs glibc <= $max (AL2023 has $AL2023_GLIBC)"
    info "  symbols at GLIBC_$max: $(objdump -T "$f" | awk -v v="GLIBC_$max" '/\*UND\*/ && index($0, "(" v ")") {print $NF}' | sort -u | tr '\n' ' ')"
  else
    fail "$1: needs symbols newer than glibc $AL2023_GLIBC: $too_new"
  fi
  local cxx abi
  cxx=$(objdump -T "$f" | grep -o 'GLIBCXX_[0-9.]*' | sed 's/GLIBCXX_//' | sort -uV | tail -n1)
  abi=$(objdump -T "$f" | grep -o 'CXXABI_[0-9.]*' | sed 's/CXXABI_//' | sort -uV | tail -n1)
  if [ -n "$cxx$abi" ]; then
    if vgt "${cxx:-0}" "$AL2023_GLIBCXX" || vgt "${abi:-0}" "$AL2023_CXXABI"; then
      fail "$1: needs GLIBCXX_$cxx / CXXABI_$abi, newer than AL2023's libstdc++"
    else
      pass "$1: needs GLIBCXX <= $cxx, CXXABI <= $abi (AL2023's libstdc++ has $AL2023_GLIBCXX / $AL2023_CXXABI)"
    fi
  fi
}
if [ -x "$bld/quack" ] && [ -f "$bld/libduckdb.so" ]; then
  info "build/quack was built here ($(ldd --version | head -n1 | sed 's/.* //' | sed 's/^/glibc /'));" \
    "the image builds it on AL2023 instead, so this is what a Debian build would risk"
  versions_check "build/quack (this machine's build)" "$bld/quack"
  versions_check "build/libduckdb.so (DuckDB's prebuilt)" "$bld/libduckdb.so"
  for n in $(ldd "$bld/quack" | awk '$3 ~ /^\// {print $1 "=" $3}'); do
    lib=${n%%=*}
    path=${n#*=}
    in_list "$lib" "$BASE_LIBS" && continue
    in_list "$lib" "$PRIVATE_LIBS" || continue
    [ "$lib" = libduckdb.so ] && continue
    m=$(objdump -T "$path" | grep -o 'GLIBC_2\.[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
    if vgt "$m" "$AL2023_GLIBC"; then
      info "$lib from this machine needs glibc $m: copying Debian's would fail on AL2023 (the image builds its own)"
    else
      info "$lib from this machine needs glibc <= $m (the image builds its own anyway)"
    fi
  done
else
  skip "no build to inspect (run make)"
fi

# ---------------------------------------------------------------------------------------------
section "d. serverless.yml"
sls="$dep/serverless.yml"
if ! command -v python3 >/dev/null || ! python3 -c 'import yaml' 2>/dev/null; then
  skip "python3 with PyYAML not installed: serverless.yml not parsed"
elif out=$(
  python3 - "$sls" <<'EOF' 2>&1
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
p, f, c = d["provider"], d["functions"]["quack"], d["custom"]
problems = []
def want(cond, msg):
    if not cond:
        problems.append(msg)
want(d.get("service") == "quack", "service: quack")
want(p.get("name") == "aws", "provider.name: aws")
want(p.get("architecture") == "x86_64", "provider.architecture: x86_64")
img = p.get("ecr", {}).get("images", {}).get("quack", {})
want(img.get("file") == "deploy/Dockerfile" and img.get("platform") == "linux/amd64", "ecr image from deploy/Dockerfile, linux/amd64")
want(f.get("image", {}).get("name") == "quack", "function image: quack")
want("QUACK_LAKE" in f.get("environment", {}), "QUACK_LAKE in the function environment")
for mode, stmts in c["iam"].items():
    want(isinstance(mode, str), "iam mode keys must be strings (quote on/off)")
    for s in stmts:
        acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        want(all("*" not in a for a in acts), "no wildcard actions (%s)" % mode)
        if "s3:ListBucket" in acts:
            want("s3:prefix" in s.get("Condition", {}).get("StringLike", {}), "ListBucket limited by s3:prefix")
want(all(isinstance(k, str) for k in c["events"]), "event mode keys must be strings (quote on/off)")
want(c["events"]["off"] == [], "no S3 event by default")
if problems:
    print("; ".join(problems)); sys.exit(1)
EOF
); then
  pass "serverless.yml parses and has the expected shape (PyYAML $(python3 -c 'import yaml; print(yaml.__version__)'))"
else
  fail "serverless.yml: $out"
fi

# ---------------------------------------------------------------------------------------------
section "e. Terraform module"
if ! command -v terraform >/dev/null; then
  skip "terraform not installed: module not checked (review by hand)"
else
  tf="$scratch/terraform"
  cp -r "$dep/terraform" "$tf"
  rm -rf "$tf/.terraform" "$tf/.terraform.lock.hcl"
  expect "terraform fmt -check" terraform -chdir="$tf" fmt -check -recursive
  plugin_dir=${TF_PLUGIN_DIR:-}
  [ -z "$plugin_dir" ] && [ -d /opt/tf-plugins ] && plugin_dir=/opt/tf-plugins
  init_args=(-backend=false -input=false)
  [ -n "$plugin_dir" ] && init_args+=(-plugin-dir="$plugin_dir")
  if terraform -chdir="$tf" init "${init_args[@]}" >"$scratch/init.log" 2>&1; then
    expect "terraform validate" terraform -chdir="$tf" validate
    if terraform -chdir="$tf" test -no-color >"$scratch/test.log" 2>&1; then
      pass "terraform test: $(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$scratch/test.log" | tail -n1)"
    else
      fail "terraform test:"
      grep -E 'run "|Error|condition' "$scratch/test.log" | sed 's/^/      /'
    fi
  else
    skip "terraform init failed (no network and no TF_PLUGIN_DIR?): $(grep -m1 -i error "$scratch/init.log")"
  fi
fi

# ---------------------------------------------------------------------------------------------
if [ $do_build = 1 ]; then
  section "f. replay of the Dockerfile's build stage on this machine (not AL2023)"
  sim="$scratch/sim"
  mkdir -p "$sim/src" "$sim/var/runtime"
  cp -r "$root/CMakeLists.txt" "$root/src" "$root/web" "$sim/src/"
  for comp in duckdb jansson yaml mhd cmocka-stub; do
    if bash "$dep/build-deps.sh" "$sim/deps" "$sim/src/third_party/duckdb" "$comp" >"$sim/$comp.log" 2>&1; then
      pass "build-deps.sh $comp"
    else
      skip "build-deps.sh $comp: $(tail -n1 "$sim/$comp.log") (this machine's library is used instead)"
    fi
  done
  if [ ! -f "$sim/src/third_party/duckdb/lib/libduckdb.so" ]; then
    fail "no libduckdb.so: cannot build"
  elif ! (cd "$sim/src" && PKG_CONFIG_PATH="$sim/deps/lib/pkgconfig" \
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUACK_WERROR=OFF &&
    cmake --build build --target quack -j "$(nproc)" &&
    cmake --install build --prefix "$sim/opt/quack" --strip) >"$sim/build.log" 2>&1; then
    fail "configure/build/install as in the Dockerfile (log: tail of $sim/build.log)"
    tail -n 20 "$sim/build.log" | sed 's/^/      /'
  else
    pass "configure (cmocka stub), build --target quack, install --strip"
    cp -P "$sim"/deps/lib/*.so* "$sim/opt/quack/lib/quack/" 2>/dev/null || true
    runpath=$(readelf -d "$sim/opt/quack/bin/quack" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
    # shellcheck disable=SC2016 # $ORIGIN is literal
    [ "$runpath" = '$ORIGIN/../lib/quack' ]
    verdict $? "installed RUNPATH is \$ORIGIN/../lib/quack" "installed RUNPATH is '$runpath'"
    ln -s "$sim/opt/quack/bin/quack" "$sim/var/runtime/bootstrap"
    if v=$(cd / && env -i LD_BIND_NOW=1 "$sim/var/runtime/bootstrap" --version 2>&1); then
      pass "bootstrap symlink runs with a clean environment and LD_BIND_NOW=1: $v"
    else
      fail "bootstrap symlink does not run: $v"
    fi
    for l in $PRIVATE_LIBS; do
      p=$(cd / && env -i LD_DEBUG=libs "$sim/var/runtime/bootstrap" --version 2>&1 |
        sed -n "s/.*calling init: \(.*\/$l\)\$/\1/p" | head -n1)
      case $p in
      "$sim"/opt/quack/*) pass "$l loads from /opt/quack/lib/quack" ;;
      "") info "$l not loaded by this build (linked --as-needed, or not yet used)" ;;
      *) info "$l loads from $p, this machine's package (its build-deps step was skipped)" ;;
      esac
    done
  fi
fi

printf '\n%d passed, %d failed, %d skipped\n' "$npass" "$nfail" "$nskip"
[ "$nfail" = 0 ]
