#!/usr/bin/env bash
# Images between two users (both simulated sudo callers): a user builds and
# tags only in their own namespace, never reads another's image (not even
# as a build base), never retires another's image; every refusal is one
# clear line, exit 1, and the victim's image keeps its id.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

VICTIM_UID=$((SUDO_UID + 7))
VICTIM_GID=$((SUDO_GID + 7))
as_victim() { env SUDO_USER=kt-victim SUDO_UID=$VICTIM_UID SUDO_GID=$VICTIM_GID "$@"; }
victim_img="$KT_PREFIX-$VICTIM_UID/kt-shared:latest"

# The victim's image, built by the victim.
vdir=$(project victim "version: 1
project: kt-shared
base: {image: $KT_BASE}")
chown -R "$VICTIM_UID:$VICTIM_GID" "$vdir"
expect 0 as_victim "$KILN" --quiet image create "$vdir"
victim_id=$(image_id "$victim_img")
[ -n "$victim_id" ] || fail "the victim's image was not built: $errout"
unchanged() { equals "$(image_id "$victim_img")" "$victim_id" "victim's image id after: $1"; }

# 1. A spec naming the victim's uid: refused before anything is built.
evil=$(project evil-uid "version: 1
project: kt-shared
base: {image: $KT_BASE}
user: {name: kt-victim, uid: $VICTIM_UID, gid: $VICTIM_GID}")
expect 1 "$KILN" image create "$evil"
contains "$errout" "user.uid $VICTIM_UID is not you (uid $SUDO_UID); only an admin builds images for another user"
unchanged "user.uid of the victim"
# uid 0 and a group the caller is not in: refused too.
root=$(project evil-root "version: 1
project: kt-root
base: {image: $KT_BASE}
user: {name: toor, uid: 0, gid: 0, allow_root: true}")
expect 1 "$KILN" image create "$root"
contains "$errout" "user.uid 0 is not you"
grp=$(project evil-gid "version: 1
project: kt-gid
base: {image: $KT_BASE}
user: {gid: 27}")
expect 1 "$KILN" image create "$grp"
contains "$errout" "user.gid 27 is not one of your groups"
# In-image sudo needs container_sudo in the site config (not set here).
sudo=$(project evil-sudo "version: 1
project: kt-sudo
base: {image: $KT_BASE}
user: {sudo: true}")
expect 1 "$KILN" image create "$sudo"
contains "$errout" "user.sudo is not allowed on this server"
pass "builds only for yourself"

# 2. --tag into the victim's namespace or onto a shared base: refused.
mine=$(project mine "version: 1
project: kt-mine
base: {image: $KT_BASE}")
expect 1 "$KILN" image create "$mine" --tag "$victim_img"
contains "$errout" "refusing to tag $victim_img: you may only create or move tags in your own namespace $KT_PREFIX-$SUDO_UID/"
unchanged "--tag"
base_id=$(image_id "$KT_BASE")
expect 1 "$KILN" image create "$mine" --tag "$KT_BASE"
contains "$errout" "refusing to tag $KT_BASE"
equals "$(image_id "$KT_BASE")" "$base_id" "the shared base after --tag"
expect 0 "$KILN" --quiet image create "$mine" --tag "$KT_PREFIX-$SUDO_UID/kt-mine:v2"
pass "tags only in your own namespace"

# 3. The victim's image as a base: refused (reading another's image).
reader=$(project reader "version: 1
project: kt-reader
base: {image: \"$victim_img\"}")
expect 1 "$KILN" image create "$reader"
contains "$errout" "base image: image $victim_img belongs to uid $VICTIM_UID; another user's images are private"
[ -z "$(image_id "$(image_of kt-reader)")" ] || fail "an image was built from the victim's image"
pass "another user's image is not a base"

# 4. Retiring the victim's image, by name or by id: refused, still there.
expect 1 "$KILN" image retire "$victim_img"
contains "$errout" "is not yours"
expect 1 "$KILN" image retire --force "$victim_id"
contains "$errout" "is not yours"
unchanged "retire"
pass "another user's image is never retired"

# 5. Listing: only your own; everyone's only for admins.
expect 0 "$KILN" image list
not_contains "$out" "$victim_img"
expect 1 "$KILN" image list --all
contains "$errout" "--all-users is for admins"
expect 0 as_admin "$KILN" image list --all
contains "$out" "$victim_img"
pass "lists"

# 6. An admin may build for the victim (and it becomes the victim's).
expect 0 as_admin "$KILN" --quiet image create "$evil" --force
equals "$(label "$victim_img" kiln.owner-uid)" "$VICTIM_UID" "owner of an image an admin built for the victim"
pass "admins build for others"

kt_finish
