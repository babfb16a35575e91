# Helpers for the security_*.sh tests (issue 9: the trust boundary between
# users of one server), on top of lib.bash. Sourced; named .bash so CTest
# does not run it.
#
# Unlike the other integration tests these use REAL users, made for this run
# and removed at exit with their homes, their engine objects and the sudoers
# drop-in:
#   $SEC_A, $SEC_B  in the docker group: docker-group mode, kiln run directly.
#                   The group is root-equivalent (anyone in it can
#                   `docker run -v /:/host`); kiln's checks there keep people
#                   from mistakes, not from malice, so nothing here asserts
#                   that they cannot reach the engine without kiln.
#   $SEC_S          NOT in the docker group: sudo mode, `sudo -n kiln ...`
#                   through the drop-in the project installs. kiln is the only
#                   door to the engine for this user and must hold.
# kiln is installed with `cmake --install` into a root-owned prefix, and the
# installed share/kiln/sudoers.d/kiln is copied to /etc/sudoers.d/kiln-test-PID.
# Every image lives under the namespace $SEC_NS (given with --namespace: sudo's
# env_reset drops KILN_NAMESPACE).
# shellcheck source=lib.bash
. "$KILN_ROOT/tests/integration/lib.bash"
unset SUDO_USER SUDO_UID SUDO_GID KILN_NAMESPACE KILN_CONFIG KILN_SHARED_DIR

[ "$(id -u)" -eq 0 ] || { echo "security tests create users: run them as root" >&2; exit 1; }
for tool in useradd userdel runuser sudo visudo; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/test installs sudo)" >&2; exit 1; }
done
kt_require_engine

SEC=kt$$
SEC_NS=$SEC
SEC_A=${SEC}a SEC_B=${SEC}b SEC_S=${SEC}s
SEC_USERS="$SEC_A $SEC_B $SEC_S"
SEC_SUDOERS=/etc/sudoers.d/kiln-test-$$
SEC_BUILD=$(dirname "$KILN")
SEC_PREFIX=$KT_TMP/prefix
SEC_BIN=$SEC_PREFIX/bin
SEC_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SEC_UIDS=""

# Engine objects of our users (by owner label and by namespace), removed.
sec_remove_objects() {
  local u ids vols imgs
  for u in $SEC_UIDS; do
    ids=$("$DOCKER" ps -aq --filter "label=kiln.owner-uid=$u"; "$DOCKER" ps -aq --filter "name=\._\.$u\$")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
    vols=$("$DOCKER" volume ls -q --filter "label=kiln.owner-uid=$u")
    # shellcheck disable=SC2086
    [ -z "$vols" ] || "$DOCKER" volume rm -f $vols >/dev/null 2>&1
  done
  imgs=$("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$SEC_NS-")
  for u in $SEC_UIDS; do
    imgs="$imgs $("$DOCKER" images -q --filter "label=kiln.owner-uid=$u")"
  done
  for u in $imgs; do
    ids=$(kt_containers_of "$u" "$SEC_NS-")
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
    "$DOCKER" rmi -f "$u" >/dev/null 2>&1
  done
}

sec_cleanup() {
  local u
  rm -f "$SEC_SUDOERS"
  sec_remove_objects
  for u in $SEC_USERS; do
    for _ in 1 2 3 4 5; do
      id "$u" >/dev/null 2>&1 || break
      userdel -r -f "$u" >/dev/null 2>&1 || sleep 1
    done
  done
  # What a refused export might have written all the same.
  rm -f /etc/kiln-evil-$$* /root/kiln-evil-$$* /etc/"$SEC_NS"-* /root/"$SEC_NS"-*
  kt_cleanup
}
trap sec_cleanup EXIT

sec_home() { getent passwd "$1" | cut -d: -f6; }
sec_uid() { id -u "$1"; }

# sec_as USER DIR [VAR=VALUE...] CMD...: CMD as USER (groups from the group
# database) in DIR, with a fresh login-like environment plus VAR=VALUE.
sec_as() {
  local u=$1 dir=$2
  shift 2
  runuser -u "$u" -- env -i -C "$dir" PATH="$SEC_PATH" HOME="$(sec_home "$u")" USER="$u" \
    LOGNAME="$u" LANG=C.UTF-8 "$@"
}

# sec_kiln USER DIR ARGS...: kiln as USER, the way USER may run it: directly
# for the docker group, `sudo -n kiln` for $SEC_S.
sec_kiln() {
  local u=$1 dir=$2
  shift 2
  if [ "$u" = "$SEC_S" ]; then
    sec_as "$u" "$dir" sudo -n "$SEC_BIN/kiln" --namespace "$SEC_NS" "$@"
  else
    sec_as "$u" "$dir" "$SEC_BIN/kiln" --namespace "$SEC_NS" "$@"
  fi
}

sec_mode() { [ "$1" = "$SEC_S" ] && echo sudo || echo docker-group; }

# The project folder ~/proj of USER with a kiln.yaml (project app, offline
# base, nothing that needs the network) plus EXTRA lines; prints it.
sec_project() {
  local u=$1 name=${2:-proj} extra=${3:-}
  local dir
  dir=$(sec_home "$u")/$name
  mkdir -p "$dir"
  printf 'version: 1\nproject: app\nbase: {image: %s}\n%s' "$KT_BASE" "$extra" >"$dir/kiln.yaml"
  printf 'hello from %s\n' "$u" >"$dir/notes.txt"
  chown -R "$u:$u" "$dir"
  echo "$dir"
}

sec_image() { echo "$SEC_NS-$(sec_uid "$1")/${2:-app}:latest"; }

# Users, install, sudoers. Exits on any set-up failure (not a check).
sec_setup() {
  local u
  local groups try
  for u in $SEC_USERS; do
    groups=(-G docker)
    [ "$u" = "$SEC_S" ] && groups=()
    # useradd fails while another process holds the passwd lock: retry.
    for try in 1 2 3 4 5 6; do
      useradd -m -s /bin/bash "${groups[@]}" "$u" && break
      [ "$try" -eq 6 ] && { echo "useradd $u failed" >&2; exit 1; }
      sleep 1
    done
    chmod 0755 "$(sec_home "$u")" # readable homes: the harder case for the checks
    SEC_UIDS="$SEC_UIDS $(sec_uid "$u")"
  done
  sec_remove_objects # leftovers of earlier users that had these uids
  id -nG "$SEC_S" | grep -qw docker && { echo "$SEC_S must not be in the docker group" >&2; exit 1; }
  # What the admin's tmpfiles.d/kiln.conf makes at boot: the host-wide lock
  # folder docker-group users share (left in place: it belongs to the host).
  [ -d /run/kiln ] || install -d -m 1777 -o root -g root /run/kiln
  mkdir -p "$SEC_PREFIX" && chmod 0755 "$KT_TMP" "$SEC_PREFIX"
  cmake --install "$SEC_BUILD" --prefix "$SEC_PREFIX" >"$KT_TMP/install.log" 2>&1 ||
    { cat "$KT_TMP/install.log" >&2; echo "cmake --install failed" >&2; exit 1; }
  local src=$SEC_PREFIX/share/kiln/sudoers.d/kiln
  [ -f "$src" ] || { echo "cmake --install did not install share/kiln/sudoers.d/kiln" >&2; exit 1; }
  visudo -cf "$src" >/dev/null || { echo "visudo -cf $src failed" >&2; exit 1; }
  install -m 0440 -o root -g root "$src" "$SEC_SUDOERS"
  visudo -c >/dev/null || { rm -f "$SEC_SUDOERS"; echo "visudo -c fails with the drop-in" >&2; exit 1; }
}

# ---- assertions ----

# gone NAME WHAT: no container NAME (removed if there is one).
gone() {
  if "$DOCKER" inspect "$1" >/dev/null 2>&1; then
    fail "$2: container $1 was created"
    "$DOCKER" rm -f "$1" >/dev/null 2>&1
  fi
  return 0
}

# refused CODE REGEX WHAT CMD...: CMD exits CODE with exactly one line on
# stderr (besides "kiln: warning:" lines, e.g. "KILN_CONFIG is ignored"),
# matching REGEX (grep -E, case-insensitive). One FAIL per case.
refused() {
  local code=$1 re=$2 what=$3
  shift 3
  # shellcheck disable=SC2034 # out: for the caller, as expect sets it
  out=$("$@" 2>"$KT_TMP/.stderr")
  local got=$? why=""
  errout=$(cat "$KT_TMP/.stderr")
  local lines
  lines=$(grep -v '^kiln: warning:' <<<"$errout" | grep -c .)
  [ "$got" -eq "$code" ] || why="exit $got, expected $code;"
  [ "$lines" -eq 1 ] || why="$why $lines lines on stderr, expected 1;"
  grep -qiE -- "$re" <<<"$errout" || why="$why message does not match /$re/;"
  if [ -n "$why" ]; then
    fail "$what: $why stderr: $(head -c 600 <<<"$errout")"
  else
    pass "$what: refused ($code): $(tr "\n" " " <<<"$errout")"
  fi
  return 0
}

# works WHAT CMD...: CMD exits 0.
works() {
  local what=$1
  shift
  local before=$fails
  expect 0 "$@"
  [ "$fails" -eq "$before" ] && pass "$what"
  return 0
}

# sec_state UID [DIR...]: everything of uid's that an attack must not change:
# tags in its namespace with their ids, images labelled for it, containers
# (name, image, state), volumes, and the files under DIR.
sec_state() {
  local u=$1
  shift
  "$DOCKER" images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | grep "^$SEC_NS-$u/" | sort
  "$DOCKER" images -q --no-trunc --filter "label=kiln.owner-uid=$u" | sort -u
  "$DOCKER" ps -a --no-trunc --filter "label=kiln.owner-uid=$u" --format '{{.Names}} {{.Image}} {{.State}}' | sort
  "$DOCKER" volume ls -q --filter "label=kiln.owner-uid=$u" | sort
  [ $# -eq 0 ] || find "$@" -printf '%p %s %T@ %U %m\n' 2>/dev/null | sort
}

# unchanged BEFORE WHAT UID [DIR...]: sec_state is still BEFORE.
unchanged() {
  local before=$1 what=$2
  shift 2
  local now
  now=$(sec_state "$@")
  [ "$now" = "$before" ] || fail "$what: state of uid $1 changed:$(diff <(echo "$before") <(echo "$now") | tail -20)"
  return 0
}
