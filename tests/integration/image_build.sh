#!/usr/bin/env bash
# kiln image create/update against the real engine: every example builds,
# the user inside is the spec's (ids, name, home, workspace, sudo), labels
# are set, a no-op update makes no build, a changed requirements file does.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine
base_id=$(image_id "$KT_BASE")

# check_user IMAGE UID GID NAME WORKSPACE: what `id`/`whoami` say inside.
check_user() {
  local got
  got=$("$DOCKER" run --rm "$1" sh -c \
    "id -u; id -g; whoami; test -w \"\$HOME\" && test -w '$5' && echo writable" 2>&1)
  equals "$got" "$2
$3
$4
writable" "user in $1"
}

check_labels() { # IMAGE PROJECT UID
  equals "$(label "$1" kiln.project)" "$2" "kiln.project of $1"
  equals "$(label "$1" kiln.uid)" "$3" "kiln.uid of $1"
  # the owner is the user the image is for (an admin builds for others)
  equals "$(label "$1" kiln.owner-uid)" "$3" "kiln.owner-uid of $1"
  equals "$(label "$1" kiln.user-setup)" "true" "kiln.user-setup of $1"
  equals "$(label "$1" kiln.base-image-id)" "$base_id" "kiln.base-image-id of $1"
  grep -qE '^[0-9a-f]{64}$' <<<"$(label "$1" kiln.spec-sha256)" || fail "kiln.spec-sha256 of $1"
  grep -qE '^[0-9a-f]{64}$' <<<"$(label "$1" kiln.context-sha256)" || fail "kiln.context-sha256 of $1"
}

# Every example builds; the caller's identity is SUDO_* ($SUDO_UID:$SUDO_GID kt-user).
# ds01-user names another user (uid 1722830498, sudo): only an admin builds
# that; the simulated caller is refused with the reason.
for ex in "$KILN_ROOT"/examples/*/; do
  name=$(basename "$ex")
  dir=$(copy_example "$name")
  admin=()
  if [ "$name" = ds01-user ]; then
    expect 1 "$KILN" --quiet image create "$dir"
    contains "$errout" "user.uid 1722830498 is not you (uid $SUDO_UID); only an admin builds images for another user"
    admin=(as_admin)
  fi
  expect 0 "${admin[@]}" "$KILN" --quiet image create "$dir"
  contains "$out" "built "
  img=$(sed -n 's/^built \([^ ]*\) (.*$/\1/p' <<<"$out")
  [ -n "$img" ] && image_id "$img" >/dev/null || { fail "$name: no image from: $out"; continue; }
  project=$(label "$img" kiln.project)
  case $name in
  ds01-user)
    equals "$img" "$KT_PREFIX-1722830498/ds01-user:latest" "ds01 image name"
    check_user "$img" 1722830498 1722800513 h-baker-at-hertie-school-lan /workspace
    equals "$("$DOCKER" run --rm "$img" sudo -n id -u 2>&1)" 0 "sudo in $img"
    check_labels "$img" "$project" 1722830498
    ;;
  *)
    equals "$img" "$(image_of "$project")" "$name image name"
    check_user "$img" "$SUDO_UID" "$SUDO_GID" kt-user /workspace
    check_labels "$img" "$project" "$SUDO_UID"
    ;;
  esac
  pass "example $name builds as $img"
done

# A base that already has the spec's uid and gid (nobody:nogroup on Debian).
dir=$(project nobody "version: 1
project: kt-nobody
base:
  image: $KT_BASE
user:
  name: kt-alice
  uid: 65534
  gid: 65534")
expect 1 "$KILN" --quiet image create "$dir"
contains "$errout" "user.uid 65534 is not you"
expect 0 as_admin "$KILN" --quiet image create "$dir"
img=$(image_of kt-nobody)
img=${img/-$SUDO_UID\//-65534/}
check_user "$img" 65534 65534 kt-alice /workspace
pass "uid/gid already taken in the base"

# No-op update: "up to date", no build (same id and Created, no container made).
dir=$KT_TMP/pytorch-cuda
img=$(image_of pytorch-cuda)
id_before=$(image_id "$img")
created_before=$("$DOCKER" image inspect -f '{{.Created}}' "$img")
expect 0 kt_requests "$KT_TMP/noop.log" "$KILN" image update "$dir"
contains "$out" "up to date"
expect 0 "$KILN" image create "$dir" # create on an existing image behaves like update
contains "$out" "up to date"
expect 0 "$KILN" image-update "$dir" # DS01's name
contains "$out" "up to date"
equals "$(image_id "$img")" "$id_before" "image id after a no-op update"
equals "$("$DOCKER" image inspect -f '{{.Created}}' "$img")" "$created_before" "Created after a no-op update"
# What the first one asked of the engine (through a proxy): no build, no
# container, no tag.
[ -s "$KT_TMP/noop.log" ] || fail "no requests recorded for the no-op update"
equals "$(requests_matching "$KT_TMP/noop.log" '^POST ')" 0 "POST requests of a no-op update"
expect 0 "$KILN" --json image update "$dir"
contains "$out" '"event":"result"'
contains "$out" '"up_to_date":true'
pass "no-op update"

# Changing the requirements file's content rebuilds (and drops the old image).
echo "# kiln test: changed" >>"$dir/requirements.txt"
expect 0 "$KILN" image update "$dir"
contains "$out" "built $img"
contains "$errout" "Step "
id_after=$(image_id "$img")
[ -n "$id_after" ] && [ "$id_after" != "$id_before" ] || fail "requirements change did not rebuild"
"$DOCKER" image inspect "$id_before" >/dev/null 2>&1 && fail "the replaced image $id_before is still there"
pass "changed requirements rebuild"

# --force builds although nothing changed; --json gives step/stream/result
# events. kiln's labels carry no timestamp, so every step, labels included,
# comes from the engine's layer cache: the same image.
mp_before=$(image_id "$(image_of minimal-python)")
expect 0 "$KILN" --json image update --force "$KT_TMP/minimal-python"
contains "$out" '"event":"step"'
contains "$out" '"instruction":"FROM debian:bookworm-slim"'
contains "$out" '"up_to_date":false'
equals "$(image_id "$(image_of minimal-python)")" "$mp_before" "image id after --force with nothing changed"
pass "--force and --json"

kt_finish
