# Helpers for the integration tests against the real engine. Sourced.
#
# Every test gets a unique image namespace (KILN_NAMESPACE=kilntest<pid>), so
# its images are kilntest<pid>-<uid>/<project>:latest, and a temp folder.
# The EXIT trap removes every image with that prefix, the containers made
# from those that carry no other name, and every container labelled
# kilntest=<prefix>, even when the test fails half-way.
# Tests run as root: the caller's identity is simulated with SUDO_* as sudo
# sets it, which is kiln's sudo mode (kiln/access.h): kiln reads and writes
# files with that uid's rights, so the temp folder is searchable by all and
# every project folder belongs to the simulated user. Environment overrides
# (KILN_CONFIG, KILN_SHARED_DIR, DOCKER_HOST, test hooks) are honoured only
# for admins: run those commands with `as_admin` (root without SUDO_*).
set -uo pipefail
: "${KILN:?path to the kiln binary}" "${KILN_ROOT:?source tree}"
DOCKER=${DOCKER:-/usr/bin/docker} # the Debian client, not a BuildKit one
KT_PREFIX=kilntest$$
export KILN_NAMESPACE=$KT_PREFIX
export SUDO_USER=kt-user SUDO_UID=${KT_UID:-4711} SUDO_GID=${KT_GID:-4712}
unset DOCKER_HOST DOCKER_API_VERSION
KT_TMP=$(mktemp -d /tmp/kiln-it.XXXXXX)
chmod 0755 "$KT_TMP"
# kiln run as an admin (real root) keeps its digest cache here, not in
# /root/.cache (a sudo caller's goes to their home from the user database).
export XDG_CACHE_HOME=$KT_TMP/xdg-cache
KT_BASE=debian:bookworm-slim
fails=0

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  fails=$((fails + 1))
}
pass() { printf 'ok: %s\n' "$*"; }

# Containers made from IMG (or its descendants), but only when every name the
# image has starts with PREFIX: a test that tags a shared image (the base)
# under its own name must not reach other people's containers made from it.
kt_containers_of() {
  local img=$1 prefix=$2 tag
  for tag in $("$DOCKER" image inspect -f '{{join .RepoTags " "}}' "$img" 2>/dev/null); do
    case $tag in "$prefix"*) ;; *) return 0 ;; esac
  done
  "$DOCKER" ps -aq --filter "ancestor=$img"
}

kt_cleanup() {
  local ids
  ids="$("$DOCKER" ps -aq --filter "label=kilntest=$KT_PREFIX")"
  local img
  for img in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$KT_PREFIX-"); do
    ids="$ids $(kt_containers_of "$img" "$KT_PREFIX-")"
  done
  # shellcheck disable=SC2086
  [ -n "$(tr -d ' \n' <<<"$ids")" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1
  for img in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$KT_PREFIX-"); do
    "$DOCKER" rmi -f "$img" >/dev/null 2>&1
  done
  kt_remove_user
  rm -rf "$KT_TMP"
}
trap kt_cleanup EXIT

# kt_make_user NAME UID GID HOME: a real user NAME (uid UID; its own group
# NAME with gid GID; home HOME, made here, theirs, mode 0700; no login
# shell), for tests that need the caller in the user database (sudo mode
# takes the caller's home from it). NAME becomes the caller (SUDO_*). A UID
# or GID already taken on the host ends the test. useradd fails while
# another process holds the passwd lock: retried. kt_cleanup removes the
# user and the group.
KT_MADE_USER=
kt_make_user() {
  local name=$1 uid=$2 gid=$3 home=$4 try
  if getent passwd "$uid" >/dev/null || getent group "$gid" >/dev/null; then
    echo "uid $uid or gid $gid is taken on this host; this test needs them free" >&2
    exit 1
  fi
  KT_MADE_USER=$name
  for try in 1 2 3 4 5 6; do
    groupadd -g "$gid" "$name" 2>/dev/null || getent group "$name" >/dev/null
    useradd -M -u "$uid" -g "$gid" -d "$home" -s /usr/sbin/nologin "$name" && break
    [ "$try" -eq 6 ] && { echo "useradd $name failed" >&2; exit 1; }
    sleep 1
  done
  export SUDO_USER=$name SUDO_UID=$uid SUDO_GID=$gid
  mkdir -p "$home"
  chown "$uid:$gid" "$home"
  chmod 0700 "$home"
}
# The user (and group) kt_make_user made, if any.
kt_remove_user() {
  [ -n "$KT_MADE_USER" ] || return 0
  userdel "$KT_MADE_USER" >/dev/null 2>&1
  getent group "$KT_MADE_USER" >/dev/null && groupdel "$KT_MADE_USER" >/dev/null 2>&1
  KT_MADE_USER=
}

# Ends the test: exit 1 when anything failed.
kt_finish() {
  if [ "$fails" -gt 0 ]; then
    printf '%d check(s) failed\n' "$fails" >&2
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

kt_require_engine() {
  curl -sf --max-time 5 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null ||
    { echo "no Docker engine at /var/run/docker.sock (scripts/test starts one)" >&2; exit 1; }
  "$DOCKER" image inspect "$KT_BASE" >/dev/null 2>&1 ||
    { echo "base image $KT_BASE is missing (scripts/test imports it)" >&2; exit 1; }
}

# expect CODE CMD...: runs CMD; stdout in $out, stderr in $errout.
expect() {
  local want=$1
  shift
  out=$("$@" 2>"$KT_TMP/.stderr")
  local got=$?
  errout=$(cat "$KT_TMP/.stderr")
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(tail -c 2000 <<<"$errout")"
  return 0
}
# The --json contract (docs/json.md), checked with jansson by jsoncheck
# (built beside kiln).
JSONCHECK=${JSONCHECK:-$(dirname "$KILN")/jsoncheck}
# json_is KIND [CHECK...]: $out is one KIND (object, array; lines: a
# stream) with CHECKs (tests/support/jsoncheck.c).
json_is() {
  "$JSONCHECK" "$@" <<<"$out" 2>"$KT_TMP/.jsoncheck" ||
    fail "json $*: $(cat "$KT_TMP/.jsoncheck"); output: $(tail -c 1500 <<<"$out")"
}
# json_expect CODE "KIND [CHECK...]" CMD...: runs CMD like expect and checks
# its stdout byte for byte (one line, nothing else) with jsoncheck.
json_expect() {
  local want=$1 spec got
  read -ra spec <<<"$2"
  shift 2
  "$@" >"$KT_TMP/.json" 2>"$KT_TMP/.stderr"
  got=$?
  out=$(cat "$KT_TMP/.json")
  errout=$(cat "$KT_TMP/.stderr")
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; stderr: $(tail -c 2000 <<<"$errout")"
  "$JSONCHECK" "${spec[@]}" <"$KT_TMP/.json" 2>"$KT_TMP/.jsoncheck" ||
    fail "'$*' --json: $(cat "$KT_TMP/.jsoncheck"); output: $(tail -c 1500 <<<"$out")"
}
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $(tail -c 1500 <<<"$1")"; }
not_contains() { ! grep -qF -- "$2" <<<"$1" || fail "did not expect '$2' in: $(tail -c 1500 <<<"$1")"; }
equals() { [ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"; }

# kt_requests LOG CMD...: runs CMD with the engine socket it sees replaced
# (in a private mount namespace, for CMD only) by fault_proxy.py in front of
# the real one, which appends every request line CMD sends to LOG
# ("POST /v1.41/build?..."): what one command asked of the engine, without
# the engine's shared event stream. CMD keeps its SUDO_* identity.
kt_requests() {
  local log=$1 sock proxy rc ready=
  shift
  # A socket path of its own each time: a bind mount of an earlier call's
  # (stale) socket file would reach no one.
  sock=$(mktemp -u "$KT_TMP/requests.XXXXXX.sock")
  : >"$log"
  python3 "$KILN_ROOT/tests/integration/fault_proxy.py" "$sock" /var/run/docker.sock --log "$log" \
    >"$sock.out" 2>&1 &
  proxy=$!
  for _ in $(seq 1 300); do # 30 s on a busy machine
    grep -q ready "$sock.out" 2>/dev/null && { ready=1 && break; }
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    kill "$proxy" 2>/dev/null
    echo "kt_requests: the request-logging proxy did not start: $(cat "$sock.out")" >&2
    return 125
  fi
  unshare --mount --propagation private \
    sh -c 'mount --bind "$0" /var/run/docker.sock && exec "$@"' "$sock" "$@"
  rc=$?
  kill "$proxy" 2>/dev/null
  wait "$proxy" 2>/dev/null
  return "$rc"
}
# requests_matching LOG REGEX: how many logged requests match (grep -E).
requests_matching() { grep -cE -- "$2" "$1"; }

# give_to_caller PATH...: the simulated caller ($SUDO_UID:$SUDO_GID) owns PATH.
give_to_caller() { chown -R "${SUDO_UID:-0}:${SUDO_GID:-0}" "$@"; }

# as_admin CMD...: runs CMD as real root (an admin), without the SUDO_* caller.
as_admin() { env -u SUDO_UID -u SUDO_GID -u SUDO_USER "$@"; }

# project NAME YAML: a folder $KT_TMP/NAME holding kiln.yaml, owned by the
# simulated caller; prints it.
project() {
  mkdir -p "$KT_TMP/$1"
  printf '%s\n' "$2" >"$KT_TMP/$1/kiln.yaml"
  give_to_caller "$KT_TMP/$1"
  echo "$KT_TMP/$1"
}

# copy_example NAME: a temp copy of examples/NAME, base image made local.
copy_example() {
  local dst=$KT_TMP/$1
  cp -r "$KILN_ROOT/examples/$1" "$dst"
  # pytorch-cuda's CUDA base cannot be pulled here; everything else stays.
  sed -i -e "s|^  framework: pytorch\$|  image: $KT_BASE|" -e '/^  version: "2.3-cuda12.1"$/d' \
    "$dst/kiln.yaml"
  give_to_caller "$dst"
  echo "$dst"
}

# The image name kiln gives PROJECT for the simulated caller.
image_of() { echo "$KT_PREFIX-$SUDO_UID/$1:latest"; }

label() { "$DOCKER" image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }
image_id() { "$DOCKER" image inspect -f '{{.Id}}' "$1" 2>/dev/null; }
# Containers (any state) whose command mentions TEXT: a failed RUN step's
# container would (other sessions' containers do not carry the test's text).
containers_running() {
  "$DOCKER" ps -a --no-trunc --format '{{.Command}}' | grep -cF -- "$1"
}

# The names image_examples.sh and image_lifecycle.sh use (written against an
# earlier version of this file): the caller there is tester 4242:4242.
TEST_TMP=$KT_TMP
as_user() { env SUDO_USER=tester SUDO_UID=4242 SUDO_GID=4242 "$@"; }
example_copy() {
  local dst=$KT_TMP/example-$1
  cp -r "$KILN_ROOT/examples/$1" "$dst" && chown -R 4242:4242 "$dst" && echo "$dst"
}
in_image() { "$DOCKER" run --rm "$1" sh -c "$2" 2>&1; }
finish() { kt_finish; }
