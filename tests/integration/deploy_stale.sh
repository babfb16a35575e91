#!/usr/bin/env bash
# An image older than its project: deploy in the project folder says so in
# one line (and how to update), --update builds first; image list's STALE
# also follows a changed base image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

BASE="$KT_PREFIX-base:1" # a base of this test's own, moved below
"$DOCKER" tag "$KT_BASE" "$BASE"
dir=$(project stale "version: 1
project: kt-stale
base: {image: \"$BASE\"}")
img=$(image_of kt-stale)
expect 0 "$KILN" --quiet image create "$dir"
cd "$dir" || exit 1

# Nothing changed: no warning.
expect 0 "$KILN" container deploy --name fresh
not_contains "$errout" "older than kiln.yaml"

# The spec changed: one line, the container still deploys (from the old image).
printf 'env: {KT_STALE: "1"}\n' >>kiln.yaml
old_id=$(image_id "$img")
expect 0 "$KILN" container deploy --name old
contains "$errout" "kiln: warning: $img is older than kiln.yaml here"
contains "$errout" "run 'kiln image update' first, or deploy with --update"
equals "$(grep -c 'older than kiln.yaml' <<<"$errout")" 1 "warning lines"
equals "$(image_id "$img")" "$old_id" "image after a plain deploy"
expect 0 "$KILN" image list --json
json_is array --where "image=$img" --min 1 stale=true
pass "deploy warns about an image older than its spec"

# --update builds first; the new container runs the new image, no warning.
expect 0 "$KILN" container deploy --name new --update
not_contains "$errout" "older than kiln.yaml"
[ "$(image_id "$img")" != "$old_id" ] || fail "--update did not build"
equals "$("$DOCKER" exec "new._.$SUDO_UID" sh -c 'echo $KT_STALE')" 1 "the new container's image"
expect 0 "$KILN" image list --json
json_is array --where "image=$img" --min 1 stale=false
expect 2 "$KILN" container deploy "$KT_BASE" --name elsewhere --update
contains "$errout" "--update needs a kiln.yaml here for the project"
pass "--update builds first"

# The base moved: STALE says so, and deploy warns.
"$DOCKER" tag kiln-test/busybox:latest "$BASE"
expect 0 "$KILN" image list --json
json_is array --where "image=$img" --min 1 stale=true
expect 0 "$KILN" container deploy --name based --no-start
contains "$errout" "older than kiln.yaml here (the spec, the files it copies or the base image changed)"
pass "a changed base makes the image stale"

cd - >/dev/null || exit 1
for c in fresh old new based; do "$KILN" container retire "$c" --force >/dev/null 2>&1; done
"$DOCKER" rmi "$BASE" >/dev/null 2>&1
kt_finish
