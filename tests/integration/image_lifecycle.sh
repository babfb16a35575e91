#!/usr/bin/env bash
# image create/update/list/retire and context ls as a user meets them:
# no-op updates, rebuilds on change, failing builds that leave nothing
# behind, engine errors, ownership, and bases that already hold the ids.
source "$(dirname "$0")/lib.sh"

small='version: 1
project: life
base: {image: debian:bookworm-slim}
files:
  - {src: data/config.txt, dest: /etc/life/config.txt, mode: "0604"}
run:
  - "cat /etc/life/config.txt"'
dir=$(project life "$small")
mkdir -p "$dir/data"
echo one >"$dir/data/config.txt"
# 100 MB the Dockerfile never mentions: it must not be sent.
dd if=/dev/zero of="$dir/data/big.bin" bs=1M count=100 status=none

expect 0 as_user "$KILN" context ls "$dir"
contains "$out" "Dockerfile"
contains "$out" "data/config.txt"
grep -q big.bin <<<"$out" && fail "context ls lists a file the Dockerfile does not COPY"
pass "context holds only the Dockerfile and what it COPYs"

expect 0 as_user "$KILN" image create "$dir"
contains "$out" "built $KILN_NAMESPACE-4242/life:latest"
contains "$errout" "COPY"
image="$KILN_NAMESPACE-4242/life:latest"
id1=$("$DOCKER" image inspect -f '{{.Id}}' "$image")
got=$(in_image "$image" 'cat /etc/life/config.txt; stat -c %a /etc/life/config.txt')
contains "$got" one
contains "$got" 604

# Nothing changed: no build at all, same image.
expect 0 as_user "$KILN" image update "$dir"
contains "$out" "up to date"
equals "$("$DOCKER" image inspect -f '{{.Id}}' "$image")" "$id1" "image id after no-op update"
expect 0 as_user "$KILN" image create "$dir"
contains "$out" "up to date"
# Unrelated data changes nothing either.
echo more >>"$dir/data/big.bin"
expect 0 as_user "$KILN" image update "$dir"
contains "$out" "up to date"
pass "update with nothing changed makes no build"

# A COPYed file changes: rebuild.
echo two >"$dir/data/config.txt"
expect 0 as_user "$KILN" image update "$dir"
contains "$out" "built"
id2=$("$DOCKER" image inspect -f '{{.Id}}' "$image")
[ "$id1" != "$id2" ] || fail "changing a COPYed file did not rebuild"
got=$(in_image "$image" 'cat /etc/life/config.txt')
equals "$got" two "new file content in the image"
expect 0 as_user "$KILN" image update --force "$dir"
contains "$out" "built"
pass "changed files rebuild; --force builds"

# --json: one event per line, a result with the image id.
echo three >"$dir/data/config.txt"
expect 0 as_user "$KILN" --json image update "$dir"
contains "$out" '"event":"step"'
contains "$out" '"event":"result"'
grep -v '^{.*}$' <<<"$out" | grep -q . && fail "--json printed a line that is not JSON"

# A failing build: exit 1, the step named, no tag, no container left.
bad=$(project bad 'version: 1
project: broken
base: {image: debian:bookworm-slim}
packages: {apt: [kiln-no-such-package]}')
before=$("$DOCKER" ps -aq | wc -l)
expect 1 as_user "$KILN" image create "$bad"
contains "$errout" "build step 2/"
contains "$errout" "kiln-no-such-package"
"$DOCKER" image inspect "$KILN_NAMESPACE-4242/broken:latest" >/dev/null 2>&1 &&
  fail "a failed build left a tag"
equals "$("$DOCKER" ps -aq | wc -l)" "$before" "containers after a failed build"
pass "a failed build names the step and leaves no tag or container"

# A missing base is never pulled.
nobase=$(project nobase 'project: nobase
base: {image: kiln-no-such/base:1}')
expect 1 as_user "$KILN" image create "$nobase"
contains "$errout" "kiln-no-such/base:1 is not present"

# Engine errors: exit 3 naming what was tried.
expect 3 env DOCKER_HOST=unix:///tmp/kiln-no-engine.sock "$KILN" image list
contains "$errout" "/tmp/kiln-no-engine.sock"
contains "$errout" "dockerd"
expect 3 "$KILN" --host unix:///etc/hostname image list
contains "$errout" "not a socket"
expect 3 "$KILN" --host tcp://127.0.0.1:1 image list
contains "$errout" "tcp://127.0.0.1:1"
expect 2 "$KILN" --host ftp://x image list
pass "engine unreachable, bad socket and bad address give clear errors"

# list and retire, with ownership.
expect 0 as_user "$KILN" image list
contains "$out" "life"
expect 0 as_user "$KILN" image-list
contains "$out" "life"
ln -s "$KILN" "$TEST_TMP/image-list"
expect 0 as_user "$TEST_TMP/image-list"
contains "$out" "life"
expect 0 env SUDO_UID=5151 SUDO_GID=5151 SUDO_USER=other "$KILN" image list
grep -q "$KILN_NAMESPACE-4242/life" <<<"$out" && fail "another user's list shows my image"
expect 1 env SUDO_UID=5151 SUDO_GID=5151 SUDO_USER=other "$KILN" image retire "$image"
contains "$errout" "not yours"
cid=$("$DOCKER" create --label "kiln.test-ns=$KILN_NAMESPACE" --label kiln.owner-uid=4242 "$image" true)
expect 1 as_user "$KILN" image retire life
contains "$errout" "used by"
expect 0 as_user "$KILN" image retire --force life
"$DOCKER" image inspect "$image" >/dev/null 2>&1 && fail "retire --force left the image"
"$DOCKER" container inspect "$cid" >/dev/null 2>&1 && fail "retire --force left my container"
expect 1 as_user "$KILN" image retire life
contains "$errout" "no image"
pass "list, DS01 names, retire with ownership and containers"

# Bases that already hold the uid, the gid or the name.
taken=$(project taken 'project: taken
base: {image: debian:bookworm-slim}
user: {name: alice, uid: 65534, gid: 100}')
expect 0 as_user "$KILN" --quiet image create "$taken"
got=$(in_image "$KILN_NAMESPACE-65534/taken:latest" 'id -u; id -g; whoami')
equals "$(tr '\n' ' ' <<<"$got")" "65534 100 alice " "user on a base holding uid 65534 and gid 100"
bb=$(project busybox 'project: tiny
base: {image: "kiln-test/busybox:latest"}
user: {name: h.baker@hertie-school.lan, uid: 1722830498, gid: 1722800513, shell: /bin/sh}')
expect 0 as_user "$KILN" --quiet image create "$bb"
got=$(in_image "$KILN_NAMESPACE-1722830498/tiny:latest" 'id -u; id -g; whoami; test -w "$HOME" && echo home-ok')
equals "$(tr '\n' ' ' <<<"$got")" "1722830498 1722800513 h-baker-at-hertie-school-lan home-ok " "busybox base"
pass "user setup on bases that already hold the ids, and on busybox"

finish
