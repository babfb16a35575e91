# Helpers for the deploy_*.sh and volume_*.sh tests, on top of lib.bash.
# (Named .bash so that CTest does not run it as a test of its own.) Sourced.
#
# Each test simulates users with uids unique to this run (DL_UID, DL_UID+1,
# ...) and volumes prefixed with $KT_PREFIX; the EXIT trap removes every
# container, volume and image of those users, then runs lib.bash's cleanup.
# The simulated users are not admins: they get the site configuration's
# limits (the defaults: 10 containers, 100 volumes) and no environment
# overrides. Commands that need DL_CONFIG or a test hook run through
# admin_kiln (real root, an admin).
# shellcheck source=lib.bash
. "$KILN_ROOT/tests/integration/lib.bash"

DL_UID=$((70000 + $$ % 20000 * 4))
DL_UIDS="$DL_UID $((DL_UID + 1)) $((DL_UID + 2)) $((DL_UID + 3))"
DL_CONFIG=$KT_TMP/config.yaml
printf 'max_containers: 10\nmax_volumes: 100\nlegacy_timeout: 120\n' >"$DL_CONFIG"
unset KILN_CONFIG

# as_kiln_admin [VAR=value...] CMD...: CMD as real root (an admin) with
# KILN_CONFIG=$DL_CONFIG and the variables given.
as_kiln_admin() { as_admin env KILN_CONFIG="$DL_CONFIG" "$@"; }

# Containers and images of this test made by as_kiln_admin (root, uid 0) are
# found by the label kilntest=$KT_PREFIX that legacy_base puts in the image
# (containers inherit it), and removed by lib.bash's cleanup.
# legacy_base: a legacy image unique to this test; prints its name.
legacy_base() {
  local tag=$KT_PREFIX-legacy:1
  printf 'FROM %s\nLABEL kilntest=%s\n' "$KT_BASE" "$KT_PREFIX" |
    DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$tag" - >/dev/null || fail "building $tag"
  echo "$tag"
}
admin_temps() {
  "$DOCKER" ps -aq --filter "label=kiln.temporary=true" --filter "label=kilntest=$KT_PREFIX"
}

# as_user N: the Nth simulated user (0..3) for the next kiln calls.
as_user() {
  export SUDO_UID=$((DL_UID + $1)) SUDO_GID=$((DL_UID + $1)) SUDO_USER=dluser$1
}

dl_cleanup() {
  local u ids vols
  for u in $DL_UIDS; do
    ids=$("$DOCKER" ps -aq --filter "label=kiln.owner-uid=$u")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
    vols=$("$DOCKER" volume ls -q --filter "label=kiln.owner-uid=$u")
    # shellcheck disable=SC2086
    [ -z "$vols" ] || "$DOCKER" volume rm -f $vols >/dev/null 2>&1
  done
  kt_cleanup
}
trap dl_cleanup EXIT

# A workspace folder owned by the simulated user N.
workspace_of() {
  local dir=$KT_TMP/ws$1
  mkdir -p "$dir"
  chown "$((DL_UID + $1)):$((DL_UID + $1))" "$dir"
  echo "$dir"
}

# Temporary containers of our users still present (should be none).
temp_containers() {
  local u
  for u in $DL_UIDS; do
    "$DOCKER" ps -aq --filter "label=kiln.temporary=true" --filter "label=kiln.owner-uid=$u"
  done
}

no_temp_left() {
  local left
  left=$(temp_containers)
  [ -z "$left" ] || fail "$1: temporary containers left behind: $left"
}

engine_name() { echo "$1._.$SUDO_UID"; }
