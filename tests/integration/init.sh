#!/usr/bin/env bash
# kiln init: with flags and no terminal it writes a commented kiln.yaml that
# validates and generates, which a new user then builds and deploys (the
# offline base through --base); on a terminal it asks, rejecting bad
# answers; it never overwrites, writes nothing for a bad value, leaves no
# temporary file, and writes with the caller's rights.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 1; }

newdir() { mkdir -p "$KT_TMP/$1" && give_to_caller "$KT_TMP/$1" && echo "$KT_TMP/$1"; }

# A new user: init -> image create -> container deploy.
dir=$(newdir kt-init-flow)
expect 0 "$KILN" init "$dir" --base "$KT_BASE" --apt python3 --no-input </dev/null
contains "$out" "wrote $dir/kiln.yaml (project kt-init-flow, base $KT_BASE)"
equals "$(stat -c %u:%g "$dir/kiln.yaml")" "$SUDO_UID:$SUDO_GID" "owner of kiln.yaml"
equals "$(ls -A "$dir")" "kiln.yaml" "files in the folder"
grep -q '^# ' "$dir/kiln.yaml" || fail "no comments in kiln.yaml"
expect 0 "$KILN" validate "$dir"
expect 0 "$KILN" generate "$dir"
contains "$out" "FROM $KT_BASE"
contains "$out" '"python3"'
expect 0 "$KILN" --quiet image create "$dir"
cd "$dir" || exit 1
expect 0 "$KILN" container deploy --name kt-init-c
contains "$out" "started kt-init-c"
expect 0 "$KILN" container shell kt-init-c -- sh -c 'id -u; python3 -c "print(6*7)"; pwd'
contains "$out" "$SUDO_UID"
contains "$out" "42"
contains "$out" "/workspace"
expect 0 "$KILN" container retire kt-init-c --force
cd / || exit 1
pass "init -> image create -> container deploy"

# Never overwrites: exit 1 naming the file, content unchanged.
sum=$(sha256sum <"$dir/kiln.yaml")
expect 1 "$KILN" init "$dir" --base busybox --no-input </dev/null
contains "$errout" "$dir/kiln.yaml already exists; kiln init never overwrites it"
equals "$(sha256sum <"$dir/kiln.yaml")" "$sum" "kiln.yaml after a second init"
pass "never overwrites"

# Defaults without flags or terminal: the newest pytorch, a valid spec.
dir=$(newdir "Kt Default_Proj")
expect 0 "$KILN" init "$dir" </dev/null
expect 0 "$KILN" generate "$dir"
contains "$out" "FROM pytorch/pytorch:"
grep -q '^project: "kt-default-proj"$' "$dir/kiln.yaml" || fail "project from the folder name: $(cat "$dir/kiln.yaml")"
# Groups on pytorch (conda's Python) install with pip; ssh is written.
dir=$(newdir kt-init-fw)
expect 0 "$KILN" init "$dir" --framework pytorch --version 2.3-cuda12.1 --group data-science --pip "rich>=13" --ssh
expect 0 "$KILN" validate "$dir"
expect 0 "$KILN" generate "$dir"
contains "$out" "FROM pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime"
contains "$out" '"scikit-learn"'
contains "$out" '"rich>=13"'
contains "$out" '"openssh-server"'
contains "$out" "EXPOSE 2222/tcp"
# --json: one object saying what was written (docs/json.md), no questions.
dir=$(newdir kt-init-json)
expect 0 "$KILN" init "$dir" --project kt-ij --base "$KT_BASE" --json </dev/null
equals "$(jq -s length <<<"$out")" "1" "one JSON document"
equals "$(jq -c '[.file, .project, .image, .base_image, .framework, .written]' <<<"$out")" \
  "[\"$dir/kiln.yaml\",\"kt-ij\",\"$(image_of kt-ij)\",\"$KT_BASE\",null,true]" "init --json"
pass "flags and defaults"

# Bad values: exit 2, nothing written.
dir=$(newdir kt-init-bad)
expect 2 "$KILN" init "$dir" --base "$KT_BASE" --apt 'x;touch /tmp/pwned'
contains "$errout" "nothing written"
expect 2 "$KILN" init "$dir" --base "$KT_BASE" --pip $'rich\nRUN id'
expect 2 "$KILN" init "$dir" --framework cobol
contains "$errout" 'unknown framework "cobol"'
expect 2 "$KILN" init "$dir" --framework jax --version 1.0
contains "$errout" 'unknown version "1.0" of framework "jax"; expected one of: 23.10, 24.04'
expect 2 "$KILN" init "$dir" --base "$KT_BASE" --group games
contains "$errout" 'unknown package group "games"'
expect 2 "$KILN" init "$dir" --base "$KT_BASE" --project 'Bad Name'
expect 2 "$KILN" init "$dir" --base 'debian:bookworm slim'
expect 2 "$KILN" init "$dir" --base "$KT_BASE" --framework jax
equals "$(ls -A "$dir")" "" "files after refused inits"
pass "bad values write nothing"

# The caller's rights: a folder the caller may not write is refused.
mkdir -p "$KT_TMP/rootonly" && chmod 0755 "$KT_TMP/rootonly"
expect 1 "$KILN" init "$KT_TMP/rootonly" --base "$KT_BASE"
contains "$errout" "Permission denied"
equals "$(ls -A "$KT_TMP/rootonly")" "" "files in a folder the caller cannot write"
pass "caller's rights"

# On a terminal: questions, a bad answer asked again, defaults on Enter.
dir=$(newdir kt-init-tty)
expect 0 python3 "$KILN_ROOT/tests/integration/init_tty.py" "$KILN" "$dir" \
  "Project name [kt-init-tty]=" "Framework or image [pytorch]=jax" "Version [24.04]=" \
  "Groups (space-separated) [none]=nlp bogus" "unknown package group" \
  "Groups (space-separated) [none]=nlp" "Debian (apt) packages [none]=git" \
  "pip packages [none]=" "y/N=y"
contains "$out" "wrote $dir/kiln.yaml (project kt-init-tty, base jax 24.04)"
y=$(cat "$dir/kiln.yaml")
contains "$y" 'framework: "jax"'
contains "$y" 'version: "24.04"'
contains "$y" 'groups: ["nlp"]'
contains "$y" 'apt: ["git"]'
contains "$y" "enabled: true"
expect 0 "$KILN" validate "$dir"
pass "terminal questions"

# A base image with conda's Python: asked on the terminal, --python in flags;
# groups then install with pip.
dir=$(newdir kt-init-conda)
expect 0 python3 "$KILN_ROOT/tests/integration/init_tty.py" "$KILN" "$dir" \
  "Project name [kt-init-conda]=" "Framework or image [pytorch]=registry.example.org/team/conda:1" \
  "conda or local [debian]=anaconda" "is not known" "conda or local [debian]=conda" \
  "Groups (space-separated) [none]=data-science" "Debian (apt) packages [none]=" \
  "pip packages [none]=" "y/N="
contains "$(cat "$dir/kiln.yaml")" 'python: "conda"'
expect 0 "$KILN" generate "$dir"
contains "$out" '"scikit-learn"'
not_contains "$out" "python3-sklearn"
dir=$(newdir kt-init-conda2)
expect 0 "$KILN" init "$dir" --base registry.example.org/team/conda:1 --python conda --group cv
expect 0 "$KILN" generate "$dir"
contains "$out" '"opencv-python-headless"'
expect 2 "$KILN" init "$dir-x" --framework jax --python conda
pass "base image with conda's Python"

kt_finish
