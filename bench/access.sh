#!/usr/bin/env bash
# What sudo mode's file rights cost (kiln/access.h): the same project of
# FILES small files, read by kiln as a sudo caller (every file opened with
# the caller's uid: setfsuid around the digest pass and each upload open)
# and as an admin (root, no switch), in the same run. Prints ratios.
#   KILN=build-rel/kiln bench/access.sh     (RUNS=3 FILES=20000 by default)
set -euo pipefail
: "${KILN:?set KILN to the kiln binary}"
RUNS=${RUNS:-3}
FILES=${FILES:-20000}
BUID=${BENCH_UID:-64998}
NS=kilnbench$$
work=$(mktemp -d)
cleanup() {
  /usr/bin/docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$NS-" | xargs -r /usr/bin/docker rmi -f >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/p/data"
for i in $(seq "$FILES"); do echo "$i" >"$work/p/data/f$i"; done
printf 'project: access\nbase: {image: debian:bookworm-slim}\nuser: {name: bench, uid: %s, gid: %s}\nfiles:\n  - {src: data, dest: /opt/data}\n' \
  "$BUID" "$BUID" >"$work/p/kiln.yaml"
chmod 0755 "$work"
chown -R "$BUID:$BUID" "$work/p"
SUDO_ENV=(env SUDO_USER=bench SUDO_UID="$BUID" SUDO_GID="$BUID")
ADMIN_ENV=(env -u SUDO_USER -u SUDO_UID -u SUDO_GID)
"$KILN" --quiet --namespace "$NS" image create --force "$work/p" >/dev/null # warm cache

# best wall seconds of RUNS for: sudo|admin ARGS...
best() {
  local b=999 t
  local -n who=$1
  shift
  for _ in $(seq "$RUNS"); do
    t=$( { /usr/bin/time -f '%e' "${who[@]}" "$KILN" --quiet --namespace "$NS" "$@" >/dev/null; } 2>&1 | tail -1)
    b=$(echo "if ($t < $b) $t else $b" | bc)
  done
  echo "$b"
}
for what in "image update" "image create --force"; do
  # shellcheck disable=SC2086
  s=$(best SUDO_ENV $what "$work/p")
  # shellcheck disable=SC2086
  a=$(best ADMIN_ENV $what "$work/p")
  printf '%-22s %s files: sudo mode %s s, admin %s s, ratio %sx\n' "$what" "$FILES" "$s" "$a" \
    "$(echo "scale=2; $s / $a" | bc)"
done
