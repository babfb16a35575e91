#!/usr/bin/env bash
# kiln against Podman 4.3's Docker-compatible API (issue 12), through a
# private `podman system service` this test starts (its own storage, run and
# tmp folders in the test's temp folder; stopped by PID at the end):
# - Docker's save layout goes into Podman: kiln exports the base from Docker
#   and imports it into Podman;
# - a build shows Podman's `STEP n/m:` progress as kiln's steps, and a failing
#   RUN names its step and the command's exit code;
# - lists show names as docker does (no docker.io/ prefix);
# - deploy creates the container (this sandbox cannot start containers under
#   Podman: runc may not set rlimits without CAP_SYS_RESOURCE);
# - Podman's archive goes into Docker: an export from Podman imports there.
# kiln talks to Podman as an admin (DOCKER_HOST is honoured for admins
# only), so the projects name their user; the deploy test's image is built
# for root (allow_root) because the admin deploying is root.
source "$(dirname "$0")/lib.bash"
kt_require_engine
command -v podman >/dev/null || { echo "podman is missing (scripts/lib.sh installs it)" >&2; exit 1; }

pod=$KT_TMP/podman
mkdir -p "$pod/storage" "$pod/run" "$pod/tmp"
PODSOCK=$pod/podman.sock
podman --root "$pod/storage" --runroot "$pod/run" --tmpdir "$pod/tmp" --storage-driver overlay \
  --events-backend file system service --time=0 "unix://$PODSOCK" >"$pod/service.log" 2>&1 &
pod_pid=$!
pod_cleanup() {
  kill "$pod_pid" 2>/dev/null
  wait "$pod_pid" 2>/dev/null
  # The overlay driver bind-mounts its own folder (and would mount a
  # container's root, but none ran): unmount what is below $pod, deepest
  # first, before kt_cleanup removes the temp folder.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$pod/" | sort -r); do umount "$m" 2>/dev/null; done
  kt_cleanup
}
trap pod_cleanup EXIT
for _ in $(seq 1 300); do
  curl -sf --max-time 2 --unix-socket "$PODSOCK" http://localhost/_ping >/dev/null && break
  sleep 0.1
done
curl -sf --max-time 2 --unix-socket "$PODSOCK" http://localhost/_ping >/dev/null ||
  { echo "podman system service did not start: $(tail -5 "$pod/service.log")" >&2; exit 1; }

# pk ARGS...: kiln against Podman, as an admin.
pk() { as_admin env DOCKER_HOST="unix://$PODSOCK" "$KILN" "$@"; }
# on_podman PATH: GET PATH from Podman's compat API.
on_podman() { curl -sf --max-time 10 --unix-socket "$PODSOCK" "http://localhost/v1.41$1"; }

# ---- Docker's archive into Podman ----
expect 0 as_admin "$KILN" image export "$KT_BASE" -o "$KT_TMP/base.tar"
expect 0 pk image import "$KT_TMP/base.tar"
contains "$out" "(sha256 verified)"
equals "$(on_podman "/images/$KT_BASE/json" | jq -r .Id)" "$(image_id "$KT_BASE")" \
  "the base's id in Podman after kiln's import"
pass "a kiln export from Docker imports into Podman"

# ---- build: progress, result, list ----
user="user: {name: ktpod, uid: $SUDO_UID, gid: $SUDO_GID}"
dir=$(project podc "version: 1
project: podc
$user
base: {image: $KT_BASE}
files:
  - {src: data, dest: /opt/data}")
mkdir -p "$dir/data"
echo podman >"$dir/data/a.txt"
img=$KT_PREFIX-$SUDO_UID/podc:latest
expect 0 pk image create "$dir"
contains "$out" "built $img"
contains "$errout" "Step 1/"
contains "$errout" ": FROM $KT_BASE"
contains "$errout" ": COPY"
equals "$(on_podman "/images/$img/json" | jq -r '.Config.Labels["kiln.project"]')" podc \
  "kiln.project in Podman"
expect 0 pk image update "$dir"
contains "$out" "up to date"
expect 0 pk image list --all
grep -qE "^podc +$img " <<<"$out" || fail "image list on Podman: expected podc $img in: $out"
not_contains "$out" "docker.io/"
json_expect 0 "array" pk --json image list --all
contains "$out" "\"image\":\"$img\""
pass "build with Podman's progress, up to date, listed under docker's names"

# ---- a failing RUN ----
bad=$(project podbad "version: 1
project: podbad
$user
base: {image: $KT_BASE}
run:
  - \"echo kiln-podman-boom; exit 3\"")
expect 1 pk image create "$bad"
contains "$errout" "failed: the command returned a non-zero code: 3"
contains "$errout" "kiln-podman-boom"
grep -qE "build step [0-9]+/[0-9]+ \(RUN" <<<"$errout" || fail "the failing step is not named: $errout"
equals "$(on_podman "/images/$KT_PREFIX-$SUDO_UID/podbad:latest/json" >/dev/null && echo tagged)" "" \
  "a failed build on Podman tagged its image"
pass "a failing RUN names its step and exit code"

# ---- deploy creates; list; retire ----
rootp=$(project podroot "version: 1
project: podroot
user: {name: root, uid: 0, gid: 0, allow_root: true}
base: {image: $KT_BASE}")
expect 0 pk image create "$rootp"
expect 0 pk container deploy "$KT_PREFIX-0/podroot:latest" --no-start --name podc1
contains "$out" "created podc1"
equals "$(on_podman "/containers/podc1._.0/json" | jq -r '.Config.Labels["kiln.project"]')" podroot \
  "the created container's project label in Podman"
expect 0 pk container list
grep -qE "^podc1 +podroot +$KT_PREFIX-0/podroot:latest " <<<"$out" ||
  fail "container list on Podman: expected podc1 with its image's docker name in: $out"
expect 0 pk container retire podc1
on_podman /containers/podc1._.0/json >/dev/null && fail "podc1 is still in Podman after retire"
pass "deploy creates on Podman; list shows docker's names; retire removes"

# ---- Podman's archive into Docker ----
expect 0 pk image export "$img" -o "$KT_TMP/podc.tar"
contains "$out" "exported $img"
expect 0 as_admin "$KILN" image import "$KT_TMP/podc.tar"
contains "$out" "$img"
equals "$(label "$img" kiln.project)" podc "kiln.project after a Podman export imported into Docker"
equals "$("$DOCKER" run --rm "$img" cat /opt/data/a.txt)" podman "the COPYed file in Docker"
pass "a kiln export from Podman imports into Docker"

kt_finish
