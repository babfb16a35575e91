#!/usr/bin/env bash
# Busy-engine mode: another kiln user working on the same engine while the
# integration tests run, so that the suite proves it looks only at what it
# made. In a loop, as a simulated sudo-mode user (uid 6999, its own
# namespace): build an image whose RUN step changes every round, deploy it
# with a volume, run a command in it, retire everything; every third round
# also deploy a plain base image (the legacy adaptation, cached after the
# first). Bounded: stops after KILN_BUSY_SECONDS (default 3600) or on
# SIGTERM, then removes all it made and prints "busy load: N rounds, M
# failed". Exit status 1 when a round failed: the tests beside it must
# never touch what another user makes (or when no round ran at all).
#
#   scripts/busy_load.sh KILN_BINARY
set -uo pipefail
KILN=${1:?usage: busy_load.sh KILN_BINARY}
DOCKER=${DOCKER:-/usr/bin/docker}
BASE=${KILN_BASE_IMAGE:-debian:bookworm-slim}
export SUDO_USER=kiln-busy SUDO_UID=6999 SUDO_GID=6999 KILN_NAMESPACE=kiln-busy
unset DOCKER_HOST KILN_CONFIG
deadline=$((SECONDS + ${KILN_BUSY_SECONDS:-3600}))
work=$(mktemp -d /tmp/kiln-busy.XXXXXX)
chmod 0755 "$work"
mkdir -p "$work/proj"
chown -R "$SUDO_UID:$SUDO_GID" "$work/proj"
rounds=0 failed=0 stop=0

cleanup() {
  local ids vols imgs
  ids=$("$DOCKER" ps -aq --filter "label=kiln.owner-uid=$SUDO_UID")
  # shellcheck disable=SC2086
  [ -z "$ids" ] || "$DOCKER" rm -f $ids >/dev/null 2>&1
  vols=$("$DOCKER" volume ls -q --filter "label=kiln.owner-uid=$SUDO_UID")
  # shellcheck disable=SC2086
  [ -z "$vols" ] || "$DOCKER" volume rm -f $vols >/dev/null 2>&1
  imgs=$("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^kiln-busy-$SUDO_UID/")
  # shellcheck disable=SC2086
  [ -z "$imgs" ] || "$DOCKER" rmi -f $imgs >/dev/null 2>&1
  rm -rf "$work"
}
trap 'stop=1' TERM INT

round() {
  local n=$1
  printf 'version: 1\nproject: busy\nbase: {image: %s}\nrun: ["echo round %s > /tmp/round"]\n' \
    "$BASE" "$n" >"$work/proj/kiln.yaml"
  chown "$SUDO_UID:$SUDO_GID" "$work/proj/kiln.yaml"
  cd "$work/proj" || return 1
  "$KILN" --quiet image create --force &&
    "$KILN" --quiet container deploy --name busy -v busyvol:/data --create-volumes &&
    "$KILN" --quiet container shell busy -- sh -c 'cat /tmp/round; date >/data/last' </dev/null &&
    "$KILN" --quiet container retire busy --force || return 1
  if [ $((n % 3)) = 0 ]; then
    "$KILN" --quiet container deploy "$BASE" --name plain &&
      "$KILN" --quiet container retire plain --force || return 1
  fi
  "$KILN" --quiet volume remove busyvol
}

while [ "$stop" = 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
  rounds=$((rounds + 1))
  if ! round "$rounds" >"$work/round" 2>&1; then
    failed=$((failed + 1))
    # Kept for the summary: what a failed round said (the first three).
    [ "$failed" -gt 3 ] || { echo "round $rounds failed:" && tail -4 "$work/round"; } >>"$work/failures"
  fi
  sleep 2
done
sed 's/^/busy load: /' "$work/failures" 2>/dev/null
echo "busy load: $rounds rounds, $failed failed"
cleanup
[ "$failed" = 0 ] && [ "$rounds" -gt 0 ]
