#!/usr/bin/env bash
# Every example builds through kiln's own builder on the real engine, and a
# container from it runs as the spec's user with the right ids.
source "$(dirname "$0")/lib.sh"

# The image `kiln image list` shows for the project in DIR.
image_of() {
  local project
  project=$(sed -n 's/^project: *//p' "$1/kiln.yaml")
  as_user "$KILN" --json image list | grep "\"project\":\"$project\"" |
    sed -n 's/.*"image":"\([^"]*\)".*/\1/p' | head -1
}

# check_user DIR UID GID NAME: build DIR, then id/whoami/home/workspace inside.
check_user() {
  local dir=$1 uid=$2 gid=$3 name=$4 image
  expect 0 as_user "$KILN" --quiet image create "$dir" || return
  image=$(image_of "$dir")
  [ -n "$image" ] || { fail "image list does not show $(basename "$dir")"; return; }
  local got
  got=$(in_image "$image" 'id -u; id -g; whoami; test -w "$HOME" && echo home-ok; test -w "$PWD" && echo ws-ok; echo "$PATH"')
  equals "$(sed -n 1p <<<"$got")" "$uid" "$dir id -u"
  equals "$(sed -n 2p <<<"$got")" "$gid" "$dir id -g"
  equals "$(sed -n 3p <<<"$got")" "$name" "$dir whoami"
  contains "$got" home-ok
  contains "$got" ws-ok
  contains "$got" "/home/$name/.local/bin"
  local labels
  labels=$("$DOCKER" image inspect -f '{{json .Config.Labels}}' "$image")
  contains "$labels" "\"kiln.user-setup\":\"true\""
  contains "$labels" "\"kiln.uid\":\"$uid\""
  contains "$labels" "\"kiln.gid\":\"$gid\""
  contains "$labels" "\"kiln.user\":\"$name\""
  contains "$labels" "\"kiln.spec-sha256\":"
  contains "$labels" "\"kiln.version\":"
  contains "$labels" "\"org.opencontainers.image.title\":"
  pass "$(basename "$dir") builds and runs as $name ($uid:$gid)"
}

check_user "$(example_copy minimal-python)" 4242 4242 tester

ds01=$(example_copy ds01-user)
check_user "$ds01" 1722830498 1722800513 h-baker-at-hertie-school-lan
img=$(image_of "$ds01")
got=$(in_image "$img" 'sudo -n id -u')
equals "$got" 0 "ds01-user sudo"

ssh=$(example_copy ssh)
check_user "$ssh" 4242 4242 tester
img=$(image_of "$ssh")
got=$(in_image "$img" 'test -x /usr/sbin/sshd && echo sshd; ls /etc/ssh/ssh_host_*_key | wc -l')
contains "$got" sshd

# The CUDA base cannot exist offline: the same spec on the local Debian base.
torch=$(example_copy pytorch-cuda)
sed -i '/^base:/,/^[a-z]/{/^  /d}; s/^base:.*/base:\n  image: debian:bookworm-slim/' "$torch/kiln.yaml"
check_user "$torch" 4242 4242 tester
img=$(image_of "$torch")
got=$(in_image "$img" 'python3 -c "import numpy, pandas; print(\"imports-ok\")"')
contains "$got" imports-ok

finish
