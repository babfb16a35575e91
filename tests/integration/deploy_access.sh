# The trust boundary at deploy (issue 9): another user's images, host
# folders as the workspace, runtimes outside the site's list, --all-users
# for non-admins and other users' containers are refused with exit 1 and
# one clear line, and nothing is created or changed. Containers run with
# no-new-privileges. The simulated users are sudo-mode callers (lib.bash).
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine

# containers_of N: the engine names of user N's containers.
containers_of() {
  "$DOCKER" ps -a --filter "label=kiln.owner-uid=$((DL_UID + $1))" --format '{{.Names}}' | sort
}

# A kiln-labeled image of user 0 (what kiln image create makes, reduced).
as_user 0
WS0=$(workspace_of 0)
IMG0=$KT_PREFIX-$SUDO_UID/proj:latest
mkdir -p "$KT_TMP/build0"
cat >"$KT_TMP/build0/Dockerfile" <<DOCKERFILE
FROM $KT_BASE
RUN groupadd -g $SUDO_GID dl && useradd -m -u $SUDO_UID -g $SUDO_GID dl
LABEL kiln.user-setup=true kiln.uid=$SUDO_UID kiln.gid=$SUDO_GID kiln.user=dl kiln.project=proj kiln.owner-uid=$SUDO_UID
DOCKERFILE
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMG0" "$KT_TMP/build0" >/dev/null || fail "building $IMG0"
IMG0_ID=$(image_id "$IMG0")

# The owner deploys it; the container runs as them with no-new-privileges.
cd "$WS0" || exit 1
expect 0 "$KILN" container deploy proj --name victim
C0=$(engine_name victim)
C0_ID=$("$DOCKER" inspect -f '{{.Id}}' "$C0")
equals "$("$DOCKER" inspect -f '{{json .HostConfig.SecurityOpt}}' "$C0")" '["no-new-privileges"]' "SecurityOpt"
equals "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}} {{json .HostConfig.CapAdd}} {{json .HostConfig.Devices}} {{json .HostConfig.Binds}}' "$C0")" \
  "false null null null" "privileges, capabilities, devices, binds"
equals "$("$DOCKER" inspect -f '{{range .Mounts}}{{.Type}}:{{.Source}} {{end}}' "$C0")" "bind:$WS0 " "mounts"
equals "$("$DOCKER" exec "$C0" sh -c 'grep NoNewPrivs /proc/self/status')" "NoNewPrivs:	1" "NoNewPrivs in the container"
pass "no-new-privileges, only the workspace bound"

# Stop and start again: the workspace is checked again and still fine.
expect 0 "$KILN" container stop victim
expect 0 "$KILN" container start victim
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$C0")" true "restarted"
pass "restart re-checks the workspace"

# Another user's kiln image: by name, by id, and under a neutral tag.
as_user 1
WS1=$(workspace_of 1)
cd "$WS1" || exit 1
before=$(containers_of 1)
expect 1 "$KILN" container deploy "$IMG0" --name steal
contains "$errout" "image $IMG0 belongs to uid $DL_UID; another user's images are private"
expect 1 "$KILN" container deploy "$IMG0_ID" --name steal
contains "$errout" "belongs to uid $DL_UID; another user's images are private"
"$DOCKER" tag "$IMG0" "$KT_PREFIX-neutral:1" || fail "tag"
expect 1 "$KILN" container deploy "$KT_PREFIX-neutral:1" --name steal
contains "$errout" "image $KT_PREFIX-neutral:1 belongs to uid $DL_UID"
equals "$(containers_of 1)" "$before" "user 1's containers after the refusals"
"$DOCKER" image inspect "$KT_PREFIX-$SUDO_UID/adapted" >/dev/null 2>&1 && fail "an adaptation was made"
equals "$(image_id "$IMG0")" "$IMG0_ID" "the victim's image"
pass "another user's image refused"

# Host folders, system folders and other users' folders as the workspace.
for dir in / /etc /root /usr/lib "$WS0"; do
  expect 1 "$KILN" container deploy "$KT_BASE" --name hostws --workspace "$dir"
  case $dir in
  "$WS0") contains "$errout" "workspace $WS0 belongs to uid $DL_UID, not you" ;;
  /root) contains "$errout" "workspace /root" ;; # a system folder the caller cannot open either
  *) contains "$errout" "workspace $dir is a system folder" ;;
  esac
done
cd / || exit 1
expect 1 "$KILN" container deploy "$KT_BASE" --name hostws
contains "$errout" "workspace / is a system folder"
cd "$WS1" || exit 1
# A symlink of the caller's pointing at a system folder is the folder it names.
ln -s /etc "$WS1/etc-link"
expect 1 "$KILN" container deploy "$KT_BASE" --name hostws --workspace "$WS1/etc-link"
contains "$errout" "workspace /etc is a system folder"
# A folder of someone else's that the caller cannot even open.
mkdir -p "$KT_TMP/private" && chmod 0700 "$KT_TMP/private"
expect 1 "$KILN" container deploy "$KT_BASE" --name hostws --workspace "$KT_TMP/private"
contains "$errout" "you cannot open this folder"
"$DOCKER" inspect "$(engine_name hostws)" >/dev/null 2>&1 && fail "a container was created"
equals "$(containers_of 1)" "$before" "user 1's containers after the workspace refusals"
pass "host and other users' folders refused as workspace"

# Runtimes only from the site's list, from the command line or kiln.yaml.
expect 1 "$KILN" container deploy "$KT_BASE" --name evil --runtime runc-evil
contains "$errout" "runtime 'runc-evil' is not allowed on this server"
# The host's own services' ports (below 1024) are root's to bind.
expect 1 "$KILN" container deploy "$KT_BASE" --name evil -p 22:22
contains "$errout" "-p '22:22': host port 22 is below 1024"
cat >"$WS1/kiln.yaml" <<YAML
version: 1
project: evil
base:
  image: $KT_BASE
deploy:
  runtime: runc-evil
YAML
give_to_caller "$WS1/kiln.yaml"
expect 1 "$KILN" container deploy --name evil
contains "$errout" "runtime 'runc-evil' is not allowed on this server"
rm -f "$WS1/kiln.yaml"
equals "$(containers_of 1)" "$before" "user 1's containers after the runtime refusals"
pass "runtime outside the site's list refused"

# --all-users is for admins.
for cmd in "container list --all-users" "container stop victim --all-users" \
  "volume list --all-users" "gc --all-users --dry-run" \
  "container deploy $KT_BASE --name au --all-users"; do
  # shellcheck disable=SC2086
  expect 1 "$KILN" $cmd
  contains "$errout" "--all-users is for admins"
done
pass "non-admin --all-users refused"

# Another user's container: stop, start, retire (also --save), shell.
for cmd in stop start retire shell; do
  expect 1 "$KILN" container "$cmd" victim
  contains "$errout" "you have no container named 'victim'"
  expect 1 "$KILN" container "$cmd" "$C0"
  contains "$errout" "you have no container named '$C0'"
done
expect 1 "$KILN" container retire "$C0" --save "$KT_PREFIX-$SUDO_UID/loot:latest"
contains "$errout" "you have no container named '$C0'"
equals "$("$DOCKER" inspect -f '{{.Id}} {{.State.Running}}' "$C0")" "$C0_ID true" "the victim's container"
"$DOCKER" image inspect "$KT_PREFIX-$SUDO_UID/loot:latest" >/dev/null 2>&1 && fail "loot image made"
pass "another user's container untouched"

# retire --save only into the caller's own namespace.
expect 0 "$KILN" container deploy "$KT_BASE" --name mine --no-start
expect 1 "$KILN" container retire mine --save "$KT_PREFIX-$DL_UID/proj:latest"
contains "$errout" "refusing to tag $KT_PREFIX-$DL_UID/proj:latest: you may only create or move tags in your own namespace $KT_PREFIX-$SUDO_UID/"
equals "$(image_id "$IMG0")" "$IMG0_ID" "the victim's image after --save"
"$DOCKER" inspect "$(engine_name mine)" >/dev/null 2>&1 || fail "refused retire removed the container"
expect 0 "$KILN" container retire mine --save "$KT_PREFIX-$SUDO_UID/mine-kept:1"
contains "$out" "saved mine as $KT_PREFIX-$SUDO_UID/mine-kept:1"
pass "retire --save into the own namespace only"

# A volume of another user cannot be attached.
as_user 0
expect 0 "$KILN" volume create "$KT_PREFIX-v0"
as_user 1
expect 1 "$KILN" container deploy "$KT_BASE" --name vol -v "$KT_PREFIX-v0:/data"
contains "$errout" "volume '$KT_PREFIX-v0' does not exist" # names are per user
"$DOCKER" inspect "$(engine_name vol)" >/dev/null 2>&1 && fail "container with another user's volume"
expect 2 "$KILN" container deploy "$KT_BASE" --name vol -v "/etc:/data"
contains "$errout" "'/etc' is a path; -v takes a named volume"
not_contains "$errout" "adapting"
pass "volumes: named and own only"

# The workspace swapped for a symlink to a system folder after the deploy:
# starting the container again is refused, nothing is mounted.
as_user 0
cd "$KT_TMP" || exit 1
expect 0 "$KILN" container stop victim
mv "$WS0" "$WS0.moved" && ln -s /etc "$WS0"
expect 1 "$KILN" container start victim
contains "$errout" "start 'victim': workspace /etc is a system folder"
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$C0")" false "container after a swapped workspace"
rm "$WS0" && mv "$WS0.moved" "$WS0"
expect 0 "$KILN" container start victim
pass "swapped workspace caught at start"

no_temp_left "access"
kt_finish
