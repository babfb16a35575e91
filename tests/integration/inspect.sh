#!/usr/bin/env bash
# kiln image inspect / container inspect: kiln's view (owner uid and user,
# project, the user inside, labels, stale as image list decides it,
# published addresses, state), human and one JSON object; another user may
# inspect neither (the access module's rules), an admin may.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 1; }

dir=$(project kt-insp "version: 1
project: kt-insp
base:
  image: $KT_BASE
labels:
  org.example.team: vision
ports: [8080]
deploy:
  command: [sleep, '300']")
img=$(image_of kt-insp)
expect 0 "$KILN" --quiet image create "$dir"
id=$(image_id "$img")

# image inspect: human and JSON.
expect 0 "$KILN" image inspect kt-insp
contains "$out" "$img"
contains "$out" "uid $SUDO_UID (kt-user)"
contains "$out" "org.example.team=vision"
grep -qE '^stale +no$' <<<"$out" || fail "fresh image not 'stale no': $out"
expect 0 "$KILN" image inspect "$img" --json
equals "$(jq -r .image_id <<<"$out")" "$id" "image_id"
equals "$(jq -r .project <<<"$out")" "kt-insp" "project"
equals "$(jq -r .owner_uid <<<"$out")" "$SUDO_UID" "owner_uid"
equals "$(jq -r .owner_user <<<"$out")" "kt-user" "owner_user"
equals "$(jq -r .uid <<<"$out")" "$SUDO_UID" "uid inside"
equals "$(jq -r .gid <<<"$out")" "$SUDO_GID" "gid inside"
equals "$(jq -r .user <<<"$out")" "kt-user" "user inside"
equals "$(jq -r .user_setup <<<"$out")" "kiln" "user_setup"
equals "$(jq -r '.labels["org.example.team"]' <<<"$out")" "vision" "labels"
equals "$(jq -r .stale <<<"$out")" "false" "stale"
equals "$(jq -s length <<<"$out")" "1" "one JSON document"
pass "image inspect"

# Stale: the same check as image list.
printf 'env:\n  KT_CHANGED: "1"\n' >>"$dir/kiln.yaml"
expect 0 "$KILN" image inspect kt-insp --json
equals "$(jq -r .stale <<<"$out")" "true" "stale after a spec change"
expect 0 "$KILN" image list --json
contains "$out" '"stale":true'
pass "image inspect stale"

# A base image without owner: readable; unknown: a clear error.
expect 0 "$KILN" image inspect "$KT_BASE" --json
equals "$(jq -r .owner_uid <<<"$out")" "null" "base image owner"
equals "$(jq -r .run_as <<<"$out")" "root" "base image user"
equals "$(jq -r .user_setup <<<"$out")" "null" "base image: no user setup"
expect 1 "$KILN" image inspect kt-nothing-here
contains "$errout" "there is no image $(image_of kt-nothing-here)"

# Someone else may not inspect it (sudo mode); an admin may.
expect 1 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" image inspect "$img"
contains "$errout" "$img"
not_contains "$out" "$id"
expect 0 as_admin "$KILN" image inspect "$img" --json
equals "$(jq -r .owner_uid <<<"$out")" "$SUDO_UID" "admin sees the owner"
pass "image inspect access"

# container inspect: deployed from the project, with a published port.
cd "$dir" || exit 1
sed -i "/KT_CHANGED/d;/^env:$/d" "$dir/kiln.yaml"
expect 0 "$KILN" container deploy --name kt-insp-c
addr=$(grep -oE '127\.0\.0\.1:[0-9]+' <<<"$out" | head -1)
[ -n "$addr" ] || fail "deploy printed no address: $out"
expect 0 "$KILN" container inspect kt-insp-c
contains "$out" "kt-insp-c._.$SUDO_UID"
contains "$out" "http://$addr -> 8080/tcp"
contains "$out" "uid $SUDO_UID (kt-user)"
grep -qE '^state +running$' <<<"$out" || fail "state not running: $out"
expect 0 "$KILN" container inspect kt-insp-c --json
equals "$(jq -s length <<<"$out")" "1" "one JSON document"
equals "$(jq -r .name <<<"$out")" "kt-insp-c" "name"
equals "$(jq -r .project <<<"$out")" "kt-insp" "project"
equals "$(jq -r .state <<<"$out")" "running" "state"
equals "$(jq -r .running <<<"$out")" "true" "running"
equals "$(jq -r '.ports[0].address' <<<"$out")" "$addr" "published address"
equals "$(jq -r .owner_uid <<<"$out")" "$SUDO_UID" "owner"
equals "$(jq -r .uid <<<"$out")" "$SUDO_UID" "user inside"
equals "$(jq -r .workspace.source <<<"$out")" "$dir" "workspace"
equals "$(jq -r .stale <<<"$out")" "false" "stale"
equals "$(jq -r '.labels["org.example.team"]' <<<"$out")" "vision" "labels"
expect 1 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" container inspect kt-insp-c
contains "$errout" "you have no container named 'kt-insp-c'"
expect 1 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" container inspect "kt-insp-c._.$SUDO_UID" --all-users
contains "$errout" "--all-users is for admins"
expect 0 as_admin "$KILN" container inspect "kt-insp-c._.$SUDO_UID" --all-users --json
equals "$(jq -r .owner_uid <<<"$out")" "$SUDO_UID" "admin sees the owner"
expect 0 "$KILN" container stop kt-insp-c --time 1
expect 0 "$KILN" container inspect kt-insp-c --json
equals "$(jq -r .state <<<"$out")" "exited" "state after stop"
expect 0 "$KILN" container retire kt-insp-c --force
pass "container inspect"

kt_finish
