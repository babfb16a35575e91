# Helpers for the distribution tests (dist_*.sh), on top of lib.bash. Sourced.
# (Named .bash so that CTest does not run it as a test of its own.)
#
# Adds: a shared tarball folder in the test's temp folder ($SHARED, sticky
# and writable by all like a real team folder; KILN_SHARED_DIR is honoured
# only for admins, so tests pass -o / --dir), an output folder of the
# simulated caller ($OUT), a second simulated user (as_victim), the loopback
# test registry (scripts/registry.sh), and cleanup of what these tests push
# to it. Base images are never modified: tests tag them into the test's own
# namespace.
# shellcheck source=lib.bash
. "$KILN_ROOT/tests/integration/lib.bash"
# shellcheck source=../../scripts/registry.sh
. "$KILN_ROOT/scripts/registry.sh"

SHARED=$KT_TMP/shared
OUT=$KT_TMP/out
mkdir -p "$SHARED" "$OUT"
chmod 1777 "$SHARED"
give_to_caller "$OUT"
# The other person on the server: a uid next to the caller's (KT_UID keeps
# parallel runs apart).
VUID=$((SUDO_UID + 2))
VGID=$SUDO_GID # the same team group: 0640 tarballs are readable by both
as_victim() { env SUDO_UID=$VUID SUDO_GID=$VGID SUDO_USER=kt-victim "$@"; }
DIST_PUSHED=() # remote references to delete from the registry at exit

dist_cleanup() {
  local ref
  for ref in "${DIST_PUSHED[@]}"; do
    printf '%s\n' "$KILN_TEST_REGISTRY_PASSWORD" |
      as_admin "$KILN" image delete-remote "$ref" --username "$KILN_TEST_REGISTRY_USER" \
        --password-stdin >/dev/null 2>&1
  done
  # Registry names of this test (pushed with --team $KT_PREFIX).
  local img
  for img in $("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep -F "/$KT_PREFIX/"); do
    "$DOCKER" rmi -f "$img" >/dev/null 2>&1
  done
  kt_cleanup
}
trap dist_cleanup EXIT

# dist_image NAME BASE [LABEL=VALUE...]: builds $KT_PREFIX-$SUDO_UID/NAME:latest
# FROM BASE with kiln.owner-uid=$SUDO_UID (as kiln's own builds label them)
# and the labels (no context); prints the reference.
dist_image() {
  local name=$1 base=$2 ref
  shift 2
  ref=$(image_of "$name")
  {
    echo "FROM $base"
    echo "LABEL kiln.owner-uid=\"$SUDO_UID\""
    local kv
    for kv in "$@"; do echo "LABEL ${kv%%=*}=\"${kv#*=}\""; done
  } | "$DOCKER" build -q -t "$ref" - >/dev/null || { echo "cannot build $ref" >&2; exit 1; }
  echo "$ref"
}

# victim_image NAME: the second user's image $KT_PREFIX-$VUID/NAME:latest.
victim_image() { SUDO_UID=$VUID dist_image "$@"; }

# The one tarball of a name in the shared folder (newest when several).
newest_tarball() {
  ls -t "$SHARED"/*"$1"*.tar* 2>/dev/null | grep -v '\.json$' | head -1
}
tarball_count() {
  find "$SHARED" -maxdepth 1 -name "*$1*.tar*" ! -name '*.json' ! -name '.*' | wc -l
}
# Images named in this test's namespaces (other sessions share the engine).
image_count() { "$DOCKER" images --format '{{.Repository}}' | grep -c "^$KT_PREFIX-"; }
sidecar() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1.json" "$2"; }
# A folder of the simulated caller for deploys (never a top-level or root's).
workspace() { mkdir -p "$KT_TMP/ws" && give_to_caller "$KT_TMP/ws" && echo "$KT_TMP/ws"; }
