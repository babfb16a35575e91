# Shared set-up steps for scripts/demo, scripts/test and the benchmarks.
# Every step is idempotent and quick when its work is already done.
# Sourced, not executed.

KILN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILN_BUILD=${KILN_BUILD:-$KILN_ROOT/build}
KILN_BASE_IMAGE=${KILN_BASE_IMAGE:-debian:bookworm-slim}
KILN_SOCKET=${KILN_SOCKET:-/var/run/docker.sock}
# The Debian docker.io client; /usr/local/bin may hold a newer client that
# defaults to BuildKit, which this engine does not offer.
DOCKER=${DOCKER:-/usr/bin/docker}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

KILN_PACKAGES=(
  build-essential cmake pkg-config clang clang-format llvm libclang-rt-14-dev
  libyaml-dev libcurl4-openssl-dev libjansson-dev libarchive-dev libzstd-dev libpcre2-dev libssl-dev check
  docker.io mmdebstrap docker-registry apache2-utils curl ca-certificates
  busybox-static time bc openssh-client python3 sudo strace jq
  openssl # engine_tls.sh: a throwaway CA, server and client certificates
  groff-base man-db # the install test renders kiln.1
  iproute2 iptables # engine26.sh: its own bridge and the rules for it
  podman catatonit  # podman_compat.sh: kiln against Podman's compat API (catatonit: Init)
)

install_packages() {
  local missing=()
  for p in "${KILN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages (${missing[*]}); run as root to install them"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

engine_ping() {
  curl -sf --max-time 2 --unix-socket "$KILN_SOCKET" http://localhost/_ping >/dev/null 2>&1
}

# Starts Debian's dockerd in the background when no engine answers on the socket.
start_engine() {
  engine_ping && return 0
  [ "$(id -u)" -eq 0 ] || die "no Docker engine at $KILN_SOCKET and not root to start one"
  log "starting dockerd (log: /var/log/kiln-dockerd.log)"
  # A reachable registry on loopback is plain HTTP for 20.10; daemon.json only
  # needs to exist so operators can extend it.
  mkdir -p /etc/docker
  [ -f /etc/docker/daemon.json ] || echo '{}' >/etc/docker/daemon.json
  nohup /usr/sbin/dockerd >/var/log/kiln-dockerd.log 2>&1 &
  local i
  for i in $(seq 1 120); do
    engine_ping && return 0
    sleep 0.5
  done
  tail -20 /var/log/kiln-dockerd.log >&2
  die "dockerd did not answer /_ping on $KILN_SOCKET within 60 s"
}

# The offline Debian base: mmdebstrap minbase bookworm, imported as
# $KILN_BASE_IMAGE. No registry is reachable, so nothing is ever pulled.
ensure_base_image() {
  "$DOCKER" image inspect "$KILN_BASE_IMAGE" >/dev/null 2>&1 && return 0
  log "creating base image $KILN_BASE_IMAGE with mmdebstrap (about 30 s)"
  local tmp
  tmp=$(mktemp -d)
  mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tmp/base.tar" ||
    { rm -rf "$tmp"; die "mmdebstrap failed"; }
  "$DOCKER" import --change 'CMD ["/bin/bash"]' "$tmp/base.tar" "$KILN_BASE_IMAGE" >/dev/null ||
    { rm -rf "$tmp"; die "docker import failed"; }
  rm -rf "$tmp"
}

# A busybox-only image, to prove user setup on bases without shadow-utils.
ensure_busybox_image() {
  local ref=kiln-test/busybox:latest
  "$DOCKER" image inspect "$ref" >/dev/null 2>&1 && return 0
  log "creating $ref from Debian's busybox-static"
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/root/bin" "$tmp/root/etc" "$tmp/root/tmp" "$tmp/root/root"
  cp /bin/busybox "$tmp/root/bin/busybox"
  local app
  for app in $("$tmp/root/bin/busybox" --list); do
    [ -e "$tmp/root/bin/$app" ] || ln -s busybox "$tmp/root/bin/$app"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/root/etc/group"
  printf 'root:*:19000:0:99999:7:::\n' >"$tmp/root/etc/shadow"
  tar -C "$tmp/root" -cf "$tmp/bb.tar" .
  "$DOCKER" import --change 'CMD ["/bin/sh"]' "$tmp/bb.tar" "$ref" >/dev/null
  rm -rf "$tmp"
}

build_kiln() {
  local type=${1:-RelWithDebInfo} dir=${2:-$KILN_BUILD}
  shift 2 || true
  cmake -S "$KILN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

# Every C file must match .clang-format.
check_format() {
  local files
  mapfile -t files < <(cd "$KILN_ROOT" && git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
  [ ${#files[@]} -eq 0 ] && return 0
  (cd "$KILN_ROOT" && clang-format --dry-run --Werror "${files[@]}") ||
    die "formatting differs from .clang-format; run: clang-format -i \$(git ls-files '*.[ch]')"
}

# Runs each libFuzzer target for a few seconds from its seed corpus.
run_fuzzers() {
  local dir=$1 seconds=$2 f corpus
  for f in "$dir"/fuzz_*; do
    [ -x "$f" ] || continue
    corpus="$KILN_ROOT/tests/fuzz/corpus/$(basename "$f")"
    log "fuzzing $(basename "$f") for ${seconds}s"
    local args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10)
    if [ -d "$corpus" ]; then
      local work
      work=$(mktemp -d)
      "$f" "${args[@]}" "$work" "$corpus" >/dev/null 2>"$work.log" || { tail -40 "$work.log" >&2; rm -rf "$work" "$work.log"; die "fuzzer $(basename "$f") failed"; }
      rm -rf "$work" "$work.log"
    else
      "$f" "${args[@]}" >/dev/null 2>/tmp/kiln-fuzz.log || { tail -40 /tmp/kiln-fuzz.log >&2; die "fuzzer $(basename "$f") failed"; }
    fi
  done
}
