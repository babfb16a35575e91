# Volumes belong to their owner: per-user names (two users both have the
# same NAME), writable by the owner at the mount point from the first deploy
# on adapted and labeled images, fresh and reused, and nothing of the other
# user's becomes writable or reachable. Writes are made as the container's
# user (docker exec without -u), as the owner makes them.
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
D=$KT_PREFIX-data
U0=$DL_UID
U1=$((DL_UID + 1))

mountpoint_of() { "$DOCKER" volume inspect -f '{{.Mountpoint}}' "$1"; }
owner_of() { stat -c '%u:%g' "$(mountpoint_of "$1")"; }
write_as_user() { "$DOCKER" exec "$1" sh -c "touch $2 && test -O $2"; }

# A legacy image whose /data holds root-owned content (copied into a fresh
# volume by the engine on first mount).
SEEDED=$KT_PREFIX-seeded:1
printf 'FROM %s\nRUN mkdir /data && echo seed >/data/seed && chmod 0755 /data\nLABEL kilntest=%s\n' \
  "$KT_BASE" "$KT_PREFIX" | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$SEEDED" - >/dev/null ||
  fail "building $SEEDED"

# Fresh volume on an adapted (legacy) image, then reused by another container.
as_user 0
cd "$(workspace_of 0)" || exit 1
expect 0 "$KILN" volume create "$D"
expect 0 "$KILN" container deploy "$KT_BASE" --name w1 -v "$D:/data"
write_as_user "$(engine_name w1)" /data/x || fail "the owner cannot write to a fresh volume"
equals "$(owner_of "$D._.$U0")" "$U0:$U0" "root of the fresh volume"
expect 0 "$KILN" container retire --force w1
expect 0 "$KILN" container deploy "$KT_BASE" --name w2 -v "$D:/data"
write_as_user "$(engine_name w2)" /data/y || fail "the owner cannot write to a reused volume"
"$DOCKER" exec "$(engine_name w2)" test -e /data/x || fail "the reused volume lost /data/x"
pass "fresh and reused volume writable (adapted image)"

# The image's content at the mount path is copied first, then the root is
# the owner's; the copied files keep their owner (only the root is chowned).
expect 0 "$KILN" container deploy "$SEEDED" --name s1 -v "$D-seeded:/data" --create-volumes
equals "$("$DOCKER" exec "$(engine_name s1)" cat /data/seed)" "seed" "image content in the fresh volume"
write_as_user "$(engine_name s1)" /data/mine || fail "the owner cannot write over seeded content"
equals "$(stat -c %u "$(mountpoint_of "$D-seeded._.$U0")/seed")" "0" "owner of a copied file"
expect 0 "$KILN" container retire --force s1
expect 0 "$KILN" container deploy "$SEEDED" --name s2 -v "$D-seeded:/data"
write_as_user "$(engine_name s2)" /data/again || fail "seeded volume not writable when reused"
pass "seeded volume: copy, then the owner's root"

# A labeled image (what kiln image create makes, reduced to the labels).
LABELED=$KT_PREFIX-$U0/lab:latest
printf 'FROM %s\nLABEL kiln.user-setup=true kiln.uid=%s kiln.gid=%s kiln.owner-uid=%s\n' \
  "$KT_BASE" "$U0" "$U0" "$U0" | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$LABELED" - >/dev/null ||
  fail "building $LABELED"
expect 0 "$KILN" container deploy "$LABELED" --name l1 -v "$D-lab:/srv/lab" --create-volumes
not_contains "$out$errout" "adapt"
write_as_user "$(engine_name l1)" /srv/lab/x || fail "the owner cannot write (labeled image)"
pass "labeled image: writable volume"

# An image without chown: the deploy fails with a clear message, no
# container and no temporary container left.
NOCHOWN=$KT_PREFIX-$U0/nochown:latest
printf 'FROM %s\nRUN rm /bin/chown\nLABEL kiln.user-setup=true kiln.uid=%s kiln.gid=%s kiln.owner-uid=%s\n' \
  "$KT_BASE" "$U0" "$U0" "$U0" | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$NOCHOWN" - >/dev/null ||
  fail "building $NOCHOWN"
expect 1 "$KILN" container deploy "$NOCHOWN" --name n1 -v "$D:/data"
contains "$errout" "making volume '$D' yours at /data failed"
contains "$errout" "needs a chown command"
"$DOCKER" inspect "$(engine_name n1)" >/dev/null 2>&1 && fail "container created despite the failed chown"
no_temp_left "image without chown"
pass "image without chown: clear failure"

# Two users, the same NAME: two volumes, each deployed by its owner.
as_user 1
cd "$(workspace_of 1)" || exit 1
expect 0 "$KILN" volume create "$D"
contains "$out" "created $D"
expect 0 "$KILN" container deploy "$KT_BASE" --name w1 -v "$D:/data"
write_as_user "$(engine_name w1)" /data/from1 || fail "user 1 cannot write to their volume"
"$DOCKER" exec "$(engine_name w1)" test -e /data/x && fail "user 1 sees user 0's files"
equals "$(owner_of "$D._.$U1")" "$U1:$U1" "root of user 1's volume"
equals "$(owner_of "$D._.$U0")" "$U0:$U0" "root of user 0's volume after user 1's deploy"
equals "$(stat -c '%u %a' "$(mountpoint_of "$D-seeded._.$U0")/seed")" "0 644" "user 0's seeded file"
expect 0 "$KILN" volume list
contains "$out" "$D "
not_contains "$out" "$D._."
pass "two users, one name"

# User 1 can neither attach nor remove what only user 0 has, even by its
# engine name; a volume planted under user 1's engine name for user 0 is
# refused as not theirs.
expect 1 "$KILN" container deploy "$KT_BASE" --name a1 -v "$D-lab:/data"
contains "$errout" "volume '$D-lab' does not exist"
expect 1 "$KILN" container deploy "$KT_BASE" --name a2 -v "$D-lab._.$U0:/data"
contains "$errout" "does not exist"
expect 1 "$KILN" volume remove "$D-lab"
contains "$errout" "volume '$D-lab' does not exist"
"$DOCKER" volume create --label "kiln.owner-uid=$U0" "$D-planted._.$U1" >/dev/null
expect 1 "$KILN" container deploy "$KT_BASE" --name a3 -v "$D-planted:/data"
contains "$errout" "volume '$D-planted' is not yours (owner uid $U0)"
expect 1 "$KILN" volume remove "$D-planted"
contains "$errout" "volume '$D-planted' is not yours (owner uid $U0)"
equals "$(owner_of "$D-planted._.$U1")" "0:0" "root of the refused volume"
"$DOCKER" volume inspect "$D-lab._.$U0" >/dev/null 2>&1 || fail "user 0's volume is gone"
for c in a1 a2 a3; do
  "$DOCKER" inspect "$(engine_name $c)" >/dev/null 2>&1 && fail "container $c exists"
done
pass "other user's volumes out of reach"

# The spec's deploy.volumes takes the short name too.
cat >kiln.yaml <<YAML
version: 1
project: vs
base:
  image: $KT_BASE
deploy:
  volumes: ["$D:/data"]
YAML
give_to_caller kiln.yaml
printf 'FROM %s\nLABEL kiln.user-setup=true kiln.uid=%s kiln.gid=%s kiln.owner-uid=%s\n' \
  "$KT_BASE" "$U1" "$U1" "$U1" |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$KT_PREFIX-$U1/vs:latest" - >/dev/null ||
  fail "building vs"
expect 0 "$KILN" container deploy vs --name sp
"$DOCKER" exec "$(engine_name sp)" test -e /data/from1 || fail "spec volume is not user 1's $D"
write_as_user "$(engine_name sp)" /data/spec || fail "spec volume not writable"
pass "deploy.volumes: short names"

no_temp_left "volume owner"
kt_finish
