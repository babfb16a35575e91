# Helpers for the deploy_*.sh and volume_*.sh tests, on top of lib.bash.
# (Named .bash so that CTest does not run it as a test of its own.) Sourced.
#
# Each test simulates users with uids unique to this run (DL_UID, DL_UID+1,
# ...) and volumes prefixed with $KT_PREFIX; the EXIT trap removes every
# container, volume and image of those users, then runs lib.bash's cleanup.
# shellcheck source=lib.bash
. "$KILN_ROOT/tests/integration/lib.bash"

DL_UID=$((70000 + $$ % 20000 * 4))
DL_UIDS="$DL_UID $((DL_UID + 1)) $((DL_UID + 2)) $((DL_UID + 3))"
export KILN_CONFIG=$KT_TMP/config.yaml
printf 'max_containers: 10\nmax_volumes: 100\nlegacy_timeout: 120\n' >"$KILN_CONFIG"

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
