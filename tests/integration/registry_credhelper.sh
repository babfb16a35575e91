#!/usr/bin/env bash
# Docker credential helpers (issue 12): credsStore and credHelpers in the
# caller's ~/.docker/config.json make kiln run docker-credential-<name> get
# as docker does, and push/pull to the loopback test registry (htpasswd,
# scripts/registry.sh) with what it answers. In sudo mode the helper runs as
# the caller (uid, gid, HOME from the user database, a fixed PATH, none of
# kiln's environment), never as root; wrong credentials, "not found"
# (anonymous, as docker), a failing helper, an invalid name and a helper
# that hangs (killed after the timeout, with what it started) are told
# clearly. The caller is a real user made for this test (uid 5721, home in
# the test's temp folder), removed at the end.
KT_UID=5721 KT_GID=5721
. "$(dirname "$0")/dist_lib.bash"
kt_require_engine
ensure_registry || { echo "cannot start the test registry" >&2; exit 1; }
REG=$KILN_TEST_REGISTRY

user=ktch$$
home=$KT_TMP/home
kt_make_user "$user" "$KT_UID" "$KT_GID" "$home"

# The caller's home: the helper in ~/bin (on the helper's PATH in sudo
# mode), its state in ~/.kilntest, docker's config in ~/.docker.
state=$home/.kilntest
mkdir -p "$home/bin" "$home/.docker" "$state"
install -m 0755 "$KILN_ROOT/tests/integration/docker-credential-kilntest" "$home/bin/"
chown -R "$KT_UID:$KT_GID" "$home"
# config JSON / answer USER PASSWORD / server ADDRESS / mode MODE: the state.
config() { printf '%s\n' "$1" >"$home/.docker/config.json" && give_to_caller "$home/.docker"; }
answer() {
  printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}\n' "$REG" "$1" "$2" >"$state/answer"
  chmod 0644 "$state/answer"
}
server() { printf '%s\n' "$1" >"$state/server" && chmod 0644 "$state/server"; }
mode() { printf '%s\n' "$1" >"$state/mode" && chmod 0644 "$state/mode"; }
calls() { [ -f "$state/log" ] && wc -l <"$state/log" || echo 0; }
last_call() { tail -1 "$state/log" 2>/dev/null; }
answer "$KILN_TEST_REGISTRY_USER" "$KILN_TEST_REGISTRY_PASSWORD"
server "$REG"
mode normal

IMG=$(dist_image ch kiln-test/busybox:latest kiln.project=ch)
REMOTE=$REG/$KT_PREFIX/ch:latest
DIST_PUSHED+=("$REMOTE")
push() { "$KILN" image push ch --registry "$REG" --team "$KT_PREFIX" "$@"; }

# ---- credsStore: the helper answers, as the caller ----
config '{"credsStore":"kilntest"}'
expect 0 push
contains "$out" "pushed $REMOTE"
equals "$(calls)" 1 "helper calls after the first push"
line=$(last_call)
contains "$line" "uid=$KT_UID gid=$KT_GID groups=$KT_GID home=$home "
contains "$line" "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$home/.local/bin:$home/bin "
contains "$line" "leaked=0 address=$REG"
not_contains "$line" "uid=0 "
pass "credsStore: push with the helper's credentials; the helper ran as uid $KT_UID, not root"

"$DOCKER" rmi "$IMG" >/dev/null
expect 0 "$KILN" image pull "$REMOTE"
contains "$out" "pulled $REMOTE as $IMG"
equals "$(calls)" 2 "helper calls after the pull"
pass "credsStore: pull"

# ---- credHelpers takes precedence for its registry ----
# credsStore names a helper that does not exist and auths holds wrong
# credentials: neither is used for $REG.
bad=$(printf 'nobody:wrong' | base64 -w0)
config "{\"credsStore\":\"kilntest-absent\",\"credHelpers\":{\"$REG\":\"kilntest\"},\"auths\":{\"$REG\":{\"auth\":\"$bad\"}}}"
expect 0 push
contains "$out" "pushed $REMOTE"
equals "$(calls)" 3 "helper calls after the credHelpers push"
# and a registry credHelpers does not name goes to credsStore
expect 1 "$KILN" image push ch --registry 127.0.0.1:1 --team "$KT_PREFIX"
contains "$errout" "cannot run credential helper docker-credential-kilntest-absent: No such file or directory"
pass "credHelpers before credsStore before auths"

# ---- wrong credentials, not found, a failing helper ----
config '{"credsStore":"kilntest"}'
answer "$KILN_TEST_REGISTRY_USER" wrong-password
expect 1 push
contains "$errout" "registry $REG refused the credentials of $KILN_TEST_REGISTRY_USER"
answer "$KILN_TEST_REGISTRY_USER" "$KILN_TEST_REGISTRY_PASSWORD"
server other.example:5000
before=$(calls)
expect 1 push
equals "$(calls)" "$((before + 1))" "helper calls for 'not found'"
contains "$errout" "registry $REG refused the credentials ("
not_contains "$errout" "credential helper"
server "$REG"
mode fail
expect 1 push
contains "$errout" "credential helper docker-credential-kilntest failed (exit 1): the keychain is locked"
contains "$errout" "$home/.docker/config.json"
mode normal
config '{"credsStore":"../bin/kilntest"}'
expect 2 push
contains "$errout" "credential helper name '../bin/kilntest' is not valid"
pass "wrong credentials, not found (anonymous, like docker), failing helper, invalid name"

# ---- sudo mode: the invoker's PATH and environment do not reach the helper ----
mkdir -p "$KT_TMP/evil"
printf '#!/bin/sh\ntouch %s/evil/ran\n' "$KT_TMP" >"$KT_TMP/evil/docker-credential-kilnevil"
chmod 0755 "$KT_TMP/evil/docker-credential-kilnevil"
config '{"credsStore":"kilnevil"}'
PATH=$KT_TMP/evil:$PATH expect 1 push
contains "$errout" "cannot run credential helper docker-credential-kilnevil: No such file or directory"
[ -e "$KT_TMP/evil/ran" ] && fail "a helper from the invoker's PATH ran in sudo mode"
config '{"credsStore":"kilntest"}'
KILN_CRED_HELPER_TIMEOUT_MS=1 DOCKER_CONFIG=$KT_TMP/evil expect 0 push
contains "$(last_call)" "leaked=0 "
pass "sudo mode: the helper's PATH and environment are not the invoker's"

# ---- a helper that hangs is killed after the timeout (admin override) ----
mode hang
rm -f "$state/sleeper"
start=$(date +%s%N)
as_admin env HOME="$home" DOCKER_CONFIG="$home/.docker" PATH="$home/bin:$PATH" \
  KILN_CRED_HELPER_TIMEOUT_MS=1500 "$KILN" image push "$IMG" --registry "$REG" \
  --team "$KT_PREFIX" >"$KT_TMP/o" 2>"$KT_TMP/err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
equals "$rc" 1 "exit code when the helper hangs"
contains "$(cat "$KT_TMP/err")" "credential helper docker-credential-kilntest did not answer within 1500 ms; kiln killed it"
[ "$ms" -lt 10000 ] || fail "kiln took $ms ms with a 1500 ms helper timeout"
sleeper=$(cat "$state/sleeper" 2>/dev/null)
[ -n "$sleeper" ] || fail "the hanging helper did not start its sleep"
# alive PID: a live process (not a zombie) running sleep.
alive() {
  [ -n "$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] &&
    grep -q sleep "/proc/$1/cmdline" 2>/dev/null
}
for _ in $(seq 1 50); do
  alive "$sleeper" || break
  sleep 0.1
done
if alive "$sleeper"; then
  fail "the hanging helper's child $sleeper outlived the timeout"
  kill "$sleeper" 2>/dev/null
fi
contains "$(last_call)" "uid=0 " # as an admin, the helper runs as the invoking user
mode normal
pass "a hanging helper is killed with what it started after the timeout ($ms ms)"

kt_finish
