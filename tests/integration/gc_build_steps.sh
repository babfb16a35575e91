#!/usr/bin/env bash
# A build cut short by the engine dying leaves the classic builder's step
# containers behind. kiln marks them (kiln.build-step=true from the line
# after FROM, "" on the finished image), and an admin's `kiln gc
# --all-users` finds those stopped for --min-age seconds (default 600, so
# a live build's step awaiting its commit is left alone). The leftovers are
# made for real: the docker CLI's classic builder with --rm=false keeps
# every step container of kiln's own Dockerfile (--no-cache: cached steps
# make none). Only dry runs sweep everyone's (this test must not remove
# other people's containers); the removal itself is gc's shared remove path.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

proj=$KT_TMP/steps
mkdir -p "$proj" "$KT_TMP/ctx"
cat >"$proj/kiln.yaml" <<YAML
version: 1
project: steps
base:
  image: $KT_BASE
run:
  - echo kt-step >/tmp/step
YAML
give_to_caller "$proj"
cd "$proj" || exit 1
expect 0 "$KILN" generate
printf '%s\n' "$out" >"$KT_TMP/ctx/Dockerfile"
grep -q '^LABEL "kiln.build-step"="true"$' "$KT_TMP/ctx/Dockerfile" ||
  fail "no build-step label after FROM: $(head -3 "$KT_TMP/ctx/Dockerfile")"

LEFT=$KT_PREFIX-steps:left
DOCKER_BUILDKIT=0 "$DOCKER" build --rm=false --no-cache -q -t "$LEFT" "$KT_TMP/ctx" >/dev/null ||
  fail "docker build of kiln's Dockerfile failed"
# This build's step containers: those made from the layers of $LEFT.
layers=$("$DOCKER" history -q --no-trunc "$LEFT" | grep -v missing)
ours=""
while read -r id image; do
  grep -qF "${image#sha256:}" <<<"$layers" && ours="$ours $id"
done < <("$DOCKER" ps -a --no-trunc --filter label=kiln.build-step=true --format '{{.ID}} {{.Image}}')
[ -n "$ours" ] || fail "the classic builder kept no step container with the label"
kt_remove_steps() { # shellcheck disable=SC2086
  [ -z "$ours" ] || "$DOCKER" rm -f $ours >/dev/null 2>&1
}
trap 'kt_remove_steps; kt_cleanup' EXIT
equals "$("$DOCKER" image inspect -f '{{index .Config.Labels "kiln.build-step"}}' "$LEFT")" "" \
  "build-step label on the finished image"
pass "step containers carry the label, the image does not"

# A person's own gc does not see them (the shared steps are nobody's).
expect 0 "$KILN" gc --dry-run
for id in $ours; do not_contains "$out" "${id:0:19}"; done
expect 2 "$KILN" gc --min-age 5
contains "$errout" "--min-age goes with --all-users"

# An admin's: not while they are fresh (a live build's step awaits its
# commit), then listed once stopped for --min-age.
expect 0 as_admin "$KILN" gc --all-users --dry-run
for id in $ours; do not_contains "$out" "${id:0:19}"; done
sleep 2
expect 0 as_admin "$KILN" gc --all-users --dry-run --min-age 1
for id in $ours; do contains "$out" "would remove build-step container"; contains "$out" "${id:0:19}"; done
for id in $ours; do
  "$DOCKER" inspect "$id" >/dev/null 2>&1 || fail "a dry run removed $id"
done
pass "admin gc finds build-step leftovers once stopped, dry run removes nothing"

# A container deployed from the finished image is never one of them.
expect 0 "$KILN" image create
KEPT=$KT_PREFIX-kept
expect 0 "$KILN" container deploy --name "$KEPT" --no-start
sleep 2
expect 0 as_admin "$KILN" gc --all-users --dry-run --min-age 1
not_contains "$out" "$KEPT._.$SUDO_UID"
pass "deployed containers are not build steps"

kt_finish
