# Faults between kiln and the engine, through a proxy kiln talks to
# (tests/integration/fault_proxy.py): the engine going away during a legacy
# adaptation is the engine-unreachable error (exit 3) at once, not a
# timeout, and leaves only what `kiln gc` removes; a stalled export or
# import stops on SIGINT / SIGTERM within seconds with exit 130 / 143,
# "interrupted by ...", and leaves no file and no image. The proxy only
# forwards this test's own connections; DOCKER_HOST is for admins, so kiln
# runs as root without SUDO_* here (as_admin).
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
PROXY_SOCK=$KT_TMP/engine.sock
proxy=

start_proxy() { # [--stall-up N] [--stall-down N]
  python3 "$KILN_ROOT/tests/integration/fault_proxy.py" "$PROXY_SOCK" /var/run/docker.sock "$@" \
    >"$KT_TMP/proxy.out" 2>&1 &
  proxy=$!
  for _ in $(seq 1 50); do
    grep -q ready "$KT_TMP/proxy.out" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "the proxy did not start: $(cat "$KT_TMP/proxy.out")"
}
stop_proxy() {
  [ -z "$proxy" ] || { kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null; }
  proxy=
}
trap 'stop_proxy; dl_cleanup' EXIT

# kiln as an admin through the proxy: a command (not a function), so that
# in the background $! is kiln itself and signals reach it.
VIA_PROXY=(env -u SUDO_UID -u SUDO_GID -u SUDO_USER KILN_CONFIG="$DL_CONFIG"
  DOCKER_HOST="unix://$PROXY_SOCK")

# Ends background kiln $1 with signal $2 and checks it is gone within 10 s
# (else it is killed: a hang fails the test, never blocks it) with exit
# status $3; its output is in $4.
interrupt() {
  sleep 3
  kill "-$2" "$1"
  local _
  for _ in $(seq 1 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    kill -KILL "$1"
    fail "kiln did not stop within 10 s of SIG$2"
  fi
  wait "$1"
  equals "$?" "$3" "exit status after SIG$2"
  contains "$(cat "$4")" "interrupted by SIG$2"
}

LEGACY=$(legacy_base)
mkdir -p "$KT_TMP/ws" && cd "$KT_TMP/ws" || exit 1

# 1. The engine goes away while the adaptation's setup runs.
start_proxy
"${VIA_PROXY[@]}" KILN_LEGACY_SETUP_DELAY=4 "$KILN" container deploy "$LEGACY" --name fault \
  >"$KT_TMP/adapt.out" 2>&1 &
k=$!
# Once the setup runs (its container started), kiln waits for it.
tmp=
for _ in $(seq 1 100); do
  tmp=$(admin_temps)
  [ -n "$tmp" ] && [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$tmp" 2>/dev/null)" = true ] && break
  sleep 0.1
done
[ -n "$tmp" ] || fail "no temporary container appeared: $(cat "$KT_TMP/adapt.out")"
stop_proxy
SECONDS=0
wait "$k"
equals "$?" 3 "exit status when the engine goes away during the adaptation"
[ "$SECONDS" -lt 10 ] || fail "kiln took ${SECONDS} s to notice the engine was gone"
# (Before or after the engine's answer began: "cannot reach" or "lost the
# connection to" the engine.)
contains "$(cat "$KT_TMP/adapt.out")" "kiln: waiting for the user setup: "
contains "$(cat "$KT_TMP/adapt.out")" " the Docker engine at unix://$PROXY_SOCK"
not_contains "$(cat "$KT_TMP/adapt.out")" "did not finish within"
# What is left is a temporary container, which gc removes once it exited.
if [ -n "$tmp" ]; then
  timeout 60 "$DOCKER" wait "$tmp" >/dev/null 2>&1
  expect 0 as_admin env KILN_CONFIG="$DL_CONFIG" "$KILN" gc --dry-run
  contains "$out" "${tmp:0:12}"
  "$DOCKER" rm -f "$tmp" >/dev/null 2>&1
fi
"$DOCKER" inspect fault._.0 >/dev/null 2>&1 && fail "a container was created after the engine went away"
pass "engine gone during the adaptation: exit 3 at once, only gc's leftovers"

# 2. A stalled export (the engine stops sending): SIGINT ends it, no file.
mkdir -p "$KT_TMP/out"
start_proxy --stall-down 2000000
"${VIA_PROXY[@]}" "$KILN" image export "$LEGACY" -o "$KT_TMP/out" >"$KT_TMP/export.out" 2>&1 &
interrupt $! INT 130 "$KT_TMP/export.out"
equals "$(ls -A "$KT_TMP/out")" "" "files left by the interrupted export"
stop_proxy
pass "stalled export: SIGINT, exit 130, nothing left"

# 3. A stalled import (the engine stops reading): SIGTERM ends it, nothing
# is loaded.
IMP=$KT_PREFIX-imp:1
"$DOCKER" tag "$LEGACY" "$IMP"
expect 0 as_admin env KILN_CONFIG="$DL_CONFIG" "$KILN" image export "$IMP" -o "$KT_TMP/imp.tar"
"$DOCKER" rmi "$IMP" >/dev/null
start_proxy --stall-up 1000000
"${VIA_PROXY[@]}" "$KILN" image import "$KT_TMP/imp.tar" >"$KT_TMP/import.out" 2>&1 &
interrupt $! TERM 143 "$KT_TMP/import.out"
stop_proxy
"$DOCKER" image inspect "$IMP" >/dev/null 2>&1 && fail "the interrupted import loaded $IMP"
pass "stalled import: SIGTERM, exit 143, nothing loaded"

# 4. A stalled build upload (the engine stops reading the context): SIGINT
# ends it; no image is tagged.
mkdir -p "$KT_TMP/big"
head -c 8000000 /dev/urandom >"$KT_TMP/big/big.bin"
printf 'version: 1\nproject: %s-big\nbase: {image: %s}\nuser: {name: ktbuild, uid: 4321, gid: 4321}\nfiles:\n  - {src: big.bin, dest: /big.bin}\n' \
  "$KT_PREFIX" "$LEGACY" >"$KT_TMP/big/kiln.yaml"
start_proxy --stall-up 1000000
"${VIA_PROXY[@]}" "$KILN" image create "$KT_TMP/big" >"$KT_TMP/build.out" 2>&1 &
interrupt $! INT 130 "$KT_TMP/build.out"
stop_proxy
"$DOCKER" image inspect "$KT_PREFIX-0/$KT_PREFIX-big:latest" >/dev/null 2>&1 &&
  fail "the interrupted build tagged an image"
pass "stalled build: SIGINT, exit 130, no image"

# 5. A push or pull cut short by the engine going away leaves its registry
# name on the caller's image (kiln could not untag it). gc removes such a
# name, keeps the image, and leaves alone an image that has no other name
# and other users' images.
OWNED=$KT_PREFIX-$SUDO_UID/cut:1
printf 'FROM %s\nLABEL kiln.owner-uid=%s kilntest=%s\n' "$LEGACY" "$SUDO_UID" "$KT_PREFIX" |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$OWNED" - >/dev/null || fail "building $OWNED"
LEFT=localhost:5999/$KT_PREFIX/cut:1
ONLY=localhost:5999/$KT_PREFIX/only:1
"$DOCKER" tag "$OWNED" "$LEFT"
printf 'FROM %s\nLABEL kiln.owner-uid=%s kilntest=%s only=1\n' "$LEGACY" "$SUDO_UID" "$KT_PREFIX" |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$ONLY" - >/dev/null || fail "building $ONLY"
expect 0 "$KILN" gc --dry-run
contains "$out" "$LEFT"
"$DOCKER" image inspect "$LEFT" >/dev/null 2>&1 || fail "gc --dry-run removed $LEFT"
expect 0 "$KILN" gc
contains "$out" "$LEFT"
"$DOCKER" image inspect "$LEFT" >/dev/null 2>&1 && fail "gc left the registry name $LEFT"
"$DOCKER" image inspect "$OWNED" >/dev/null 2>&1 || fail "gc removed the image itself"
"$DOCKER" image inspect "$ONLY" >/dev/null 2>&1 || fail "gc removed an image's only name"
"$DOCKER" rmi "$ONLY" >/dev/null 2>&1
pass "gc removes a registry name a cut-short push left, keeps the image"

kt_finish
