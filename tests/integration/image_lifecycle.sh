#!/usr/bin/env bash
# What image_build.sh does not cover: files: entries with modes, data the
# Dockerfile never mentions (not sent, changes nothing), COPYed files that
# change (rebuild), and user setup on bases that already hold the ids or
# have no shadow-utils (busybox).
source "$(dirname "$0")/lib.bash"

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

# Bases that already hold the uid, the gid or the name.
taken=$(project taken 'project: taken
base: {image: debian:bookworm-slim}
user: {name: alice, uid: 65534, gid: 100}')
expect 0 as_admin "$KILN" --quiet image create "$taken"
got=$(in_image "$KILN_NAMESPACE-65534/taken:latest" 'id -u; id -g; whoami')
equals "$(tr '\n' ' ' <<<"$got")" "65534 100 alice " "user on a base holding uid 65534 and gid 100"
bb=$(project busybox 'project: tiny
base: {image: "kiln-test/busybox:latest"}
user: {name: h.baker@hertie-school.lan, uid: 1722830498, gid: 1722800513, shell: /bin/sh}')
expect 0 as_admin "$KILN" --quiet image create "$bb"
got=$(in_image "$KILN_NAMESPACE-1722830498/tiny:latest" 'id -u; id -g; whoami; test -w "$HOME" && echo home-ok')
equals "$(tr '\n' ' ' <<<"$got")" "1722830498 1722800513 h-baker-at-hertie-school-lan home-ok " "busybox base"
pass "user setup on bases that already hold the ids, and on busybox"

finish
