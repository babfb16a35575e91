#!/usr/bin/env bash
# Deploy latency against a raw-API create+start done with curl, in the same
# run: a kiln-labeled image (fast path), a legacy image's first deploy (run
# user setup + commit) and its second (cached adaptation). Prints ratios.
#   KILN=build-rel/kiln bench/deploy.sh    (RUNS=5 by default)
set -euo pipefail
: "${KILN:?set KILN to the kiln binary}"
RUNS=${RUNS:-5}
SOCK=/var/run/docker.sock
API=http://localhost/v1.41
export SUDO_USER=bench SUDO_UID=${BENCH_UID:-64999} SUDO_GID=${BENCH_UID:-64999}
export KILN_NAMESPACE=kilnbench$$
work=$(mktemp -d)
# Only what this run made: its raw containers carry kiln-bench=<pid>, kiln's
# are named here (NAME._.UID); never every container of the uid.
mine=kiln-bench=$$
rm_mine() {
  { /usr/bin/docker ps -aq --filter "label=$mine"
    for n in "$@"; do /usr/bin/docker ps -aq --filter "name=^$n._.$SUDO_UID\$"; done; } |
    xargs -r /usr/bin/docker rm -f >/dev/null
}
cleanup() {
  rm_mine $(seq -f 'b%g' 1 "$RUNS") legacy1 legacy2
  /usr/bin/docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$KILN_NAMESPACE-" | xargs -r /usr/bin/docker rmi -f >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
ms() { echo "($2 - $1) * 1000" | bc -l | xargs printf '%.0f'; }

printf 'project: bench\nbase: {image: debian:bookworm-slim}\n' >"$work/kiln.yaml"
chmod 0755 "$work"
chown -R "$SUDO_UID:$SUDO_GID" "$work" # the workspace must be the caller's folder
"$KILN" --quiet image create "$work" >/dev/null
image="$KILN_NAMESPACE-$SUDO_UID/bench:latest"

raw=0 fast=0
for i in $(seq "$RUNS"); do
  t0=$(now)
  id=$(curl -sf --unix-socket $SOCK -H 'Content-Type: application/json' \
    -d "{\"Image\":\"$image\",\"User\":\"$SUDO_UID:$SUDO_GID\",\"Tty\":true,\"OpenStdin\":true,\"Labels\":{\"kiln.owner-uid\":\"\",\"kiln-bench\":\"$$\"}}" \
    "$API/containers/create?name=kiln-bench-raw$i" | sed 's/.*"Id":"\([^"]*\)".*/\1/')
  curl -sf --unix-socket $SOCK -X POST "$API/containers/$id/start" >/dev/null
  t1=$(now)
  (cd "$work" && "$KILN" --quiet container deploy --name "b$i" >/dev/null)
  t2=$(now)
  raw=$((raw + $(ms "$t0" "$t1")))
  fast=$((fast + $(ms "$t1" "$t2")))
  rm_mine "b$i" # stay below the per-user container limit whatever RUNS is
done
echo "labeled deploy:  kiln $((fast / RUNS)) ms, curl create+start $((raw / RUNS)) ms, ratio $(echo "scale=2; $fast / $raw" | bc)x"

t0=$(now)
(cd "$work" && "$KILN" --quiet container deploy debian:bookworm-slim --name legacy1 >/dev/null)
t1=$(now)
(cd "$work" && "$KILN" --quiet container deploy debian:bookworm-slim --name legacy2 >/dev/null)
t2=$(now)
first=$(ms "$t0" "$t1") second=$(ms "$t1" "$t2")
echo "legacy deploy:   first $first ms (run setup + commit), second $second ms (cached), raw create+start $((raw / RUNS)) ms"
echo "  first / raw $(echo "scale=2; $first * $RUNS / $raw" | bc)x, second / raw $(echo "scale=2; $second * $RUNS / $raw" | bc)x"
