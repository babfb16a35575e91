# Shared helpers for the integration tests (sourced). Each test gets a unique
# namespace, so every image it makes is <ns>-<uid>/..., and a trap removes
# all of them (and their containers) however the test ends.
set -uo pipefail
: "${KILN:?path to the kiln binary}" "${KILN_ROOT:?source tree}"
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=0
export KILN_NAMESPACE="kt$$x${RANDOM}"
TEST_TMP=$(mktemp -d "/tmp/kiln-test-${KILN_NAMESPACE}.XXXXXX")
fails=0

# Runs as a simulated sudo user (tests run as root; kiln never builds root).
as_user() { SUDO_USER=${T_USER:-tester} SUDO_UID=${T_UID:-4242} SUDO_GID=${T_GID:-4242} "$@"; }

cleanup_engine() {
  local ids
  ids=$("$DOCKER" ps -aq --filter "label=kiln.test-ns=$KILN_NAMESPACE" 2>/dev/null)
  for img in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$KILN_NAMESPACE-"); do
    ids="$ids $("$DOCKER" ps -aq --filter "ancestor=$img")"
  done
  [ -n "${ids// /}" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1
  "$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$KILN_NAMESPACE-" |
    xargs -r "$DOCKER" rmi -f >/dev/null 2>&1
  rm -rf "$TEST_TMP"
}
trap cleanup_engine EXIT

fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
pass() { printf 'ok: %s\n' "$*"; }

# expect CODE CMD...: runs CMD; stdout in $out, stderr in $errout.
expect() {
  local want=$1
  shift
  out=$("$@" 2>"$TEST_TMP/stderr")
  local got=$?
  errout=$(cat "$TEST_TMP/stderr")
  if [ "$got" -ne "$want" ]; then
    fail "'$*' exited $got, expected $want; stderr: $(tail -15 "$TEST_TMP/stderr")"
    return 1
  fi
}
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $(head -c 2000 <<<"$1")"; }
equals() { [ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; }

# A project folder from an example (copied, so tests may edit it).
example_copy() {
  local dir="$TEST_TMP/$1"
  cp -r "$KILN_ROOT/examples/$1" "$dir"
  echo "$dir"
}

# A project folder holding the given kiln.yaml text.
project() {
  local dir="$TEST_TMP/$1"
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/kiln.yaml"
  echo "$dir"
}

# Runs a command inside a fresh container of IMAGE as the image's user.
in_image() {
  local image=$1
  shift
  "$DOCKER" run --rm --label "kiln.test-ns=$KILN_NAMESPACE" "$image" sh -c "$*"
}

finish() {
  [ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
  echo "all passed"
}
