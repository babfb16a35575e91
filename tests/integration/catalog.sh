#!/usr/bin/env bash
# kiln catalog [frameworks|groups] [--json]: lists exactly what kiln.yaml's
# base.framework/base.version and packages.groups accept (every listed
# version validates; a site catalog changes listing and validation alike),
# with jax and AIME's images, each framework's Python, and groups installed
# with the package manager of that Python (generate shows it).
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 1; }

expect 0 "$KILN" catalog
contains "$out" "FRAMEWORK"
contains "$out" "GROUP"
expect 0 "$KILN" catalog frameworks
for f in pytorch tensorflow jax cuda aime-pytorch aime-tensorflow; do
  grep -qE "^$f " <<<"$out" || fail "catalog frameworks lacks $f: $out"
done
grep -qE '^pytorch +[^ ]+ +conda +pip +pytorch/pytorch:' <<<"$out" || fail "pytorch row: $out"
grep -qE '^aime-pytorch +[^ ]+ +debian +apt +aimehub/pytorch-' <<<"$out" || fail "AIME row: $out"
expect 0 "$KILN" catalog frameworks --json
equals "$(jq -s length <<<"$out")" "1" "one JSON document"
equals "$(jq -r 'type' <<<"$out")" "array" "frameworks JSON"
equals "$(jq -r '.[] | select(.name=="jax") | .python' <<<"$out")" "debian" "jax python"
equals "$(jq -r '.[] | select(.name=="pytorch") | .installer' <<<"$out")" "pip" "pytorch installer"
equals "$(jq -r '[.[].kind] | unique | join(",")' <<<"$out")" "framework" "frameworks' kind"
frameworks_json=$out
expect 0 "$KILN" catalog groups --json
equals "$(jq -r '[.[].name] | join(",")' <<<"$out")" "cv,data-science,jupyter,nlp" "groups"
equals "$(jq -r '[.[].kind] | unique | join(",")' <<<"$out")" "group" "groups' kind"
groups_json=$out
# Both: one array, the frameworks then the groups (docs/json.md).
expect 0 "$KILN" --json catalog
equals "$(jq -s length <<<"$out")" "1" "one JSON document"
equals "$(jq -c . <<<"$out")" "$(jq -sc 'add' <<<"$frameworks_json$groups_json")" "catalog --json"
expect 2 "$KILN" catalog framework
contains "$errout" "did you mean 'frameworks'"
pass "listing"

# Every listed framework version is what a spec may name.
n=0
while read -r name version; do
  d=$(project "v-$n" "version: 1
project: kt-cat
base:
  framework: $name
  version: \"$version\"
packages:
  groups: [data-science]")
  expect 0 "$KILN" validate "$d"
  n=$((n + 1))
done < <(jq -r '.[] | .name as $n | .versions[] | "\($n) \(.version)"' <<<"$frameworks_json")
[ "$n" -ge 20 ] || fail "only $n framework versions listed"
pass "every listed version validates ($n)"

# Groups: pip into conda's Python on pytorch, apt python3-* on tensorflow.
d=$(project conda "version: 1
project: kt-cat
base: {framework: pytorch, version: '2.3-cuda12.1'}
packages: {groups: [data-science]}")
expect 0 "$KILN" generate "$d"
contains "$out" '"kiln-pip"'
contains "$out" '"scikit-learn"'
not_contains "$out" 'python3-sklearn'
d=$(project deb "version: 1
project: kt-cat
base: {framework: tensorflow, version: '2.15'}
packages: {groups: [data-science]}")
expect 0 "$KILN" generate "$d"
contains "$out" '"python3-sklearn"'
not_contains "$out" '"scikit-learn"'
pass "groups follow the base's Python"

# A site catalog (admins: KILN_TEMPLATES_DIR) is the one table for both.
site=$KT_TMP/site-templates
cp -r "$KILN_ROOT/templates" "$site"
jq '.frameworks.mxnet = {"description": "test", "python": "conda", "versions": {"1.9": "example.org/mxnet:1.9"}}' \
  "$KILN_ROOT/templates/catalog.json" >"$site/catalog.json"
expect 0 as_admin env KILN_TEMPLATES_DIR="$site" "$KILN" catalog frameworks
contains "$out" "example.org/mxnet:1.9"
d=$(project site "version: 1
project: kt-cat
base: {framework: mxnet, version: '1.9'}
user: {name: kt-user, uid: $SUDO_UID, gid: $SUDO_GID}")
expect 2 "$KILN" validate "$d"
contains "$errout" 'unknown framework "mxnet"'
contains "$errout" "kiln catalog frameworks"
expect 0 as_admin env KILN_TEMPLATES_DIR="$site" "$KILN" validate "$d"
pass "site catalog"

kt_finish
