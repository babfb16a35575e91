# Helpers for the distribution tests (dist_*.sh), on top of lib.bash. Sourced.
# (Named .bash so that CTest does not run it as a test of its own.)
#
# Adds: a shared tarball folder in the test's temp folder (KILN_SHARED_DIR),
# the loopback test registry (scripts/registry.sh), and cleanup of what these
# tests push to it. Base images are never modified: tests tag them into the
# test's own namespace.
# shellcheck source=lib.bash
. "$KILN_ROOT/tests/integration/lib.bash"
# shellcheck source=../../scripts/registry.sh
. "$KILN_ROOT/scripts/registry.sh"

export KILN_SHARED_DIR=$KT_TMP/shared
mkdir -p "$KILN_SHARED_DIR"
DIST_PUSHED=() # remote references to delete from the registry at exit

dist_cleanup() {
  local ref
  for ref in "${DIST_PUSHED[@]}"; do
    printf '%s\n' "$KILN_TEST_REGISTRY_PASSWORD" |
      "$KILN" image delete-remote "$ref" --username "$KILN_TEST_REGISTRY_USER" \
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
# FROM BASE with the labels (no context); prints the reference.
dist_image() {
  local name=$1 base=$2 ref
  shift 2
  ref=$(image_of "$name")
  {
    echo "FROM $base"
    local kv
    for kv in "$@"; do echo "LABEL ${kv%%=*}=\"${kv#*=}\""; done
  } | "$DOCKER" build -q -t "$ref" - >/dev/null || { echo "cannot build $ref" >&2; exit 1; }
  echo "$ref"
}

# The one tarball of a name in the shared folder (newest when several).
newest_tarball() {
  ls -t "$KILN_SHARED_DIR"/*"$1"*.tar* 2>/dev/null | grep -v '\.json$' | head -1
}
tarball_count() {
  find "$KILN_SHARED_DIR" -maxdepth 1 -name "*$1*.tar*" ! -name '*.json' ! -name '.*' | wc -l
}
image_count() { "$DOCKER" images -q | sort -u | wc -l; }
sidecar() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1.json" "$2"; }
