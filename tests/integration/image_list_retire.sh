#!/usr/bin/env bash
# kiln image list / retire (and DS01's image-list / image-retire names, also
# through argv[0] symlinks): the caller's images only, --all, --json; retire
# refuses while a container uses the image, --force removes the caller's
# containers with it, nobody else's image or container is ever removed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

dir=$(project lister "version: 1
project: kt-lister
base:
  image: $KT_BASE")
img=$(image_of kt-lister)
expect 0 "$KILN" --quiet image create "$dir"
id=$(image_id "$img")

# list: the project, its tag, not stale; --json; other users' only with --all.
expect 0 "$KILN" image list
contains "$out" "kt-lister"
contains "$out" "$img"
line=$(grep -F "$img" <<<"$out")
grep -qE ' no$' <<<"$line" || fail "fresh image listed as stale: $line"
expect 0 "$KILN" image list --json
json_is array --where "image=$img" --min 1 project=kt-lister stale=false
expect 0 "$KILN" image-list
contains "$out" "$img"
ln -s "$KILN" "$KT_TMP/image-list"
expect 0 "$KT_TMP/image-list"
contains "$out" "$img"
expect 0 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" image list
not_contains "$out" "$img"
expect 1 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" image list --all
contains "$errout" "--all-users is for admins"
expect 0 as_admin "$KILN" image list --all
contains "$out" "$img"
pass "list"

# A changed spec shows as stale.
printf 'env:\n  KT_CHANGED: "1"\n' >>"$dir/kiln.yaml"
expect 0 "$KILN" image list --json
json_is array --where "image=$img" --min 1 stale=true
pass "stale after a spec change"

# Someone else's image is never retired.
expect 1 env SUDO_UID=4799 SUDO_GID=4799 SUDO_USER=kt-other "$KILN" image retire "$img"
contains "$errout" "is not yours"
equals "$(image_id "$img")" "$id" "image after someone else's retire"

# A container (deployed by the caller: kiln.owner-uid label) blocks retire.
"$DOCKER" create --label "kilntest=$KT_PREFIX" --label "kiln.owner-uid=$SUDO_UID" \
  --name "$KT_PREFIX-dev" "$img" sleep 60 >/dev/null
expect 1 "$KILN" image retire kt-lister
contains "$errout" "is used by 1 container(s): $KT_PREFIX-dev"
contains "$errout" "--force"
equals "$(image_id "$img")" "$id" "image after a refused retire"
# --force removes the caller's container and the image.
expect 0 "$KILN" image retire kt-lister --force
contains "$out" "removed $img"
image_id "$img" >/dev/null && fail "retire --force left $img"
[ -z "$("$DOCKER" ps -aq --filter "name=$KT_PREFIX-dev")" ] || fail "retire --force left the container"
pass "retire refuses while used, --force removes container and image"

# A container deployed for someone else (kiln deploy sets their uid over the
# image's kiln.owner-uid) is not removed, even with --force.
expect 0 "$KILN" --quiet image create "$dir"
"$DOCKER" create --label "kilntest=$KT_PREFIX" --label kiln.owner-uid=4799 \
  --name "$KT_PREFIX-foreign" "$img" sleep 60 >/dev/null
expect 1 "$KILN" image-retire kt-lister --force
contains "$errout" "$KT_PREFIX-foreign, which is not yours (kiln.owner-uid=4799)"
image_id "$img" >/dev/null || fail "image removed although a foreign container uses it"
[ -n "$("$DOCKER" ps -aq --filter "name=$KT_PREFIX-foreign")" ] || fail "foreign container removed"
"$DOCKER" rm -f "$KT_PREFIX-foreign" >/dev/null
expect 0 "$KILN" image-retire kt-lister # no container left: plain retire works
image_id "$img" >/dev/null && fail "retire left $img"
expect 1 "$KILN" image retire kt-lister
contains "$errout" "there is no image $img"
pass "foreign containers block, retire after removal works"

kt_finish
