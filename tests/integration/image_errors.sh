#!/usr/bin/env bash
# What a user sees when things go wrong: a failing build step (exit 1, the
# step named, no tag moved, no container left), a missing base image, a bad
# spec, an engine that cannot be reached or a socket that is not one (exit 3).
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

good=$(project broken "version: 1
project: kt-broken
base:
  image: $KT_BASE")
img=$(image_of kt-broken)

# A failing build of a new image leaves no tag and no container.
cat >"$good/kiln.yaml" <<YAML
version: 1
project: kt-broken
base:
  image: $KT_BASE
packages:
  apt: [kiln-no-such-pkg]
YAML
expect 1 "$KILN" image create "$good"
contains "$errout" "build step "
contains "$errout" "RUN"
contains "$errout" "returned a non-zero code"
contains "$errout" "kiln-no-such-pkg" # the step's last output lines
image_id "$img" >/dev/null && fail "a failed build tagged $img"
equals "$(containers_running kiln-no-such-pkg)" 0 "containers of the failed step (forcerm)"
pass "failed build: exit 1, step named, no tag, no container"

# --json: the failure is an "error" event with the step.
expect 1 "$KILN" --json image create "$good"
contains "$out" '"event":"error"'
contains "$out" '"step":'
pass "failed build as JSON events"

# A failing update does not move the existing tag.
cat >"$good/kiln.yaml" <<YAML
version: 1
project: kt-broken
base:
  image: $KT_BASE
YAML
expect 0 "$KILN" --quiet image create "$good"
good_id=$(image_id "$img")
[ -n "$good_id" ] || fail "the good build made no image"
printf 'packages:\n  apt: [kiln-no-such-pkg]\n' >>"$good/kiln.yaml"
expect 1 "$KILN" image update "$good"
contains "$errout" "kiln-no-such-pkg"
equals "$(image_id "$img")" "$good_id" "tag after a failed update"
equals "$(containers_running kiln-no-such-pkg)" 0 "containers after a failed update"
pass "failed update keeps the tag where it was"

# The base image is not present and kiln does not pull.
nobase=$(project nobase "version: 1
project: kt-nobase
base:
  image: kiln-test/no-such-base:1")
expect 1 "$KILN" image create "$nobase"
contains "$errout" "base image kiln-test/no-such-base:1 is not present locally, and kiln does not pull"
pass "missing base image"

# A bad spec is exit 2 and talks to no engine.
bad=$(project bad "version: 1
project: Not A Name")
expect 2 as_admin env DOCKER_HOST=unix:///tmp/nonexistent.sock "$KILN" image create "$bad"
pass "bad spec"

# Engine unreachable: exit 3, the socket named, how to start the engine.
# Choosing the engine is for admins (real root here, who names the user).
rooted=$(project rooted "version: 1
project: kt-rooted
base: {image: $KT_BASE}
user: {name: kt-user, uid: $SUDO_UID, gid: $SUDO_GID}")
expect 3 as_admin env DOCKER_HOST=unix:///tmp/nonexistent.sock "$KILN" image create "$rooted"
contains "$errout" "cannot reach the Docker engine at unix:///tmp/nonexistent.sock"
contains "$errout" "/tmp/nonexistent.sock: no such file"
contains "$errout" "systemctl start docker"
expect 3 as_admin env DOCKER_HOST=unix:///tmp/nonexistent.sock "$KILN" image list
contains "$errout" "unix:///tmp/nonexistent.sock"
touch "$KT_TMP/not-a-socket"
expect 3 as_admin "$KILN" --host "unix://$KT_TMP/not-a-socket" image list
contains "$errout" "$KT_TMP/not-a-socket is not a socket"
expect 3 as_admin env DOCKER_HOST=tcp://127.0.0.1:1 "$KILN" image list
contains "$errout" "cannot reach the Docker engine at tcp://127.0.0.1:1"
expect 2 as_admin "$KILN" --host ftp://x image list
contains "$errout" "not supported"
pass "engine unreachable, bad socket, bad address"

# A user (the simulated sudo caller) cannot point kiln at another engine:
# --host is refused, DOCKER_HOST is ignored with a warning.
expect 1 "$KILN" --host "unix://$KT_TMP/not-a-socket" image list
contains "$errout" "--host is for admins"
expect 0 env DOCKER_HOST=tcp://127.0.0.1:1 "$KILN" image list
contains "$errout" "warning: DOCKER_HOST is ignored"
pass "engine choice is for admins"

# A namespace is one name: a '/' would reach into another user's namespace.
expect 2 "$KILN" --namespace "$KT_PREFIX-1/x" image create "$good"
contains "$errout" "namespace '$KT_PREFIX-1/x' (--namespace or KILN_NAMESPACE)"
expect 2 env KILN_NAMESPACE="a/b" "$KILN" image list
pass "namespace is one name"

kt_finish
