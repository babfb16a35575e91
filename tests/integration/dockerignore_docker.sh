#!/usr/bin/env bash
# .dockerignore against docker itself: random trees and random .dockerignore
# files, each sent once by the docker CLI (classic builder, COPY . /ctx,
# RUN find) and once listed by `kiln context ls` for a spec that copies each
# top-level entry of the tree (files: [{src: ENTRY}, ...]). Both sides are
# compared as the set of paths of the tree (a file's folders count: the
# engine makes them when it unpacks). A top-level entry docker leaves out
# entirely (it is excluded itself) is left out of the comparison: the spec
# names it, and a spec naming a path wins (kiln warns).
#
#   KILN_DI_CASES=N   cases (default 60; 500 for the full comparison)
#   KILN_DI_SEED=S    first seed (default: from the clock); case i uses S+i
#   KILN_DI_JOBS=J    builds at once (default 4)
#   KILN_DOCKERIGNORE_ORACLE=PATH  the docker CLI to compare with (default:
#                     /usr/local/bin/docker, else the Docker 26 client that
#                     scripts/engine26.sh unpacks, else docker on PATH); it must be
#                     23.0 or newer (moby patternmatcher with parent results:
#                     the 20.10 client still matched every parent folder again)
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

BUSYBOX=kiln-test/busybox:latest
"$DOCKER" image inspect "$BUSYBOX" >/dev/null 2>&1 ||
  { echo "$BUSYBOX is missing (scripts/test makes it)" >&2; exit 1; }
oracle=${KILN_DOCKERIGNORE_ORACLE:-}
[ -z "$oracle" ] && [ -x /usr/local/bin/docker ] && oracle=/usr/local/bin/docker
e26_cli=${KILN_E26_DIR:-/opt/kiln-engine26}/usr/bin/docker
[ -z "$oracle" ] && [ -x "$e26_cli" ] && oracle=$e26_cli
[ -z "$oracle" ] && oracle=$(command -v docker)
version=$("$oracle" version --format '{{.Client.Version}}' 2>/dev/null)
if [ "${version%%.*}" -lt 23 ] 2>/dev/null || [ -z "$version" ]; then
  echo "skipped: the docker CLI at $oracle is $version; the comparison needs 23.0 or newer"
  exit 0
fi
cases=${KILN_DI_CASES:-60}
seed0=${KILN_DI_SEED:-$(($(date +%s) % 100000 * 1000))}
jobs=${KILN_DI_JOBS:-4}
echo "oracle: $oracle $version; $cases cases from seed $seed0"

names=(a b a.txt b.txt README.md x.md keep sub .h)
pieces=(a b a.txt README.md x.md keep sub '*.txt' '*.md' '*' '?' 'a*' '[ab]' 'sub/*' 'keep/**'
  '*/a' '**/b')
prefixes=('' '' '**/' '*/' '**/sub/' 'sub/' 'README.md/' 'x.md/**/')

# tree DIR DEPTH: random files and folders (uses $RANDOM, seeded per case).
tree() {
  local n=$((RANDOM % 4 + 1)) i name
  mkdir -p "$1"
  for ((i = 0; i < n; i++)); do
    name=${names[RANDOM % ${#names[@]}]}
    [ -e "$1/$name" ] && continue
    if [ "$2" -lt 3 ] && [ $((RANDOM % 5)) -lt 2 ]; then
      tree "$1/$name" $(($2 + 1))
    else
      echo "$name" >"$1/$name"
    fi
  done
}

# A pattern line.
pattern() {
  local pre=${prefixes[RANDOM % ${#prefixes[@]}]} piece
  piece=${pieces[RANDOM % ${#pieces[@]}]}
  [ $((RANDOM % 10)) -lt 4 ] && printf '!'
  printf '%s%s\n' "$pre" "$piece"
}

# Paths of the tree, one a line, with every folder above each one; the
# build's own files (Dockerfile, .dockerignore, kiln.yaml) are not compared.
closure() {
  awk '{ n = split($0, p, "/"); s = p[1]; print s; for (i = 2; i <= n; i++) { s = s "/" p[i]; print s } }' |
    grep -vxE 'Dockerfile|\.dockerignore|kiln\.yaml' | sort -u
}

# run_case SEED: the context in $KT_TMP/case-SEED/ctx; writes $KT_TMP/case-SEED/result (ok, skip, or diff + details).
run_case() {
  local seed=$1 work=$KT_TMP/case-$1 dir=$KT_TMP/case-$1/ctx i out id top
  RANDOM=$seed
  mkdir -p "$dir"
  tree "$dir" 0
  # often an exception naming a folder of the tree, after the other lines:
  # where kiln once disagreed (an exception skipped at a folder was still
  # applied below it)
  local -a dirs
  mapfile -t dirs < <(cd "$dir" && find . -mindepth 1 -type d | sed 's|^[.]/||')
  {
    for ((i = RANDOM % 5 + 1; i > 0; i--)); do pattern; done
    if [ ${#dirs[@]} -gt 0 ] && [ $((RANDOM % 10)) -lt 4 ]; then
      printf '!%s\n' "${dirs[RANDOM % ${#dirs[@]}]}"
      [ $((RANDOM % 2)) = 0 ] && pattern
    fi
  } >"$dir/.dockerignore"
  printf 'FROM %s\nCOPY . /ctx\nRUN cd /ctx && find . -mindepth 1 | sed "s|^[.]/||"\n' \
    "$BUSYBOX" >"$dir/Dockerfile"
  {
    printf 'version: 1\nproject: kt-di\nbase: {image: %s}\nfiles:\n' "$KT_BASE"
    for top in $(cd "$dir" && ls -A | grep -vxE 'Dockerfile|\.dockerignore'); do
      printf '  - {src: "%s", dest: "/ctx/%s"}\n' "$top" "$top"
    done
  } >"$work/kiln.yaml"
  mv "$work/kiln.yaml" "$dir/kiln.yaml"
  give_to_caller "$work"
  out=$(DOCKER_BUILDKIT=0 "$oracle" build --no-cache --force-rm --label "kilntest=$KT_PREFIX" \
    "$dir" 2>&1)
  id=$(sed -n 's/^Successfully built \([0-9a-f]*\)$/\1/p' <<<"$out")
  [ -n "${KILN_DI_DEBUG:-}" ] && printf "%s\n" "$out" >"$KILN_DI_DEBUG.$seed"
  [ -n "$id" ] && "$DOCKER" rmi -f "$id" >/dev/null 2>&1
  if [ -z "$id" ]; then
    printf 'diff\ndocker build failed:\n%s\n' "$(tail -5 <<<"$out")" >"$work/result"
    return
  fi
  awk '/^Step 3\// { on = 1; next } /^ ---> Running in/ { next }
       on && /^Removing intermediate|^ ---> / { on = 0 } on' <<<"$out" >"$work/docker.raw"
  closure <"$work/docker.raw" >"$work/docker.txt"
  "$KILN" context ls "$dir" >"$work/kiln.out" 2>"$work/kiln.err"
  # top-level entries docker left out entirely: the spec names them (and wins)
  local keep
  keep=$(cut -d/ -f1 "$work/docker.txt" | sort -u | paste -sd'|')
  awk '$NF != "entries" { print $NF }' "$work/kiln.out" | closure |
    { if [ -n "$keep" ]; then grep -E "^($(sed 's/[.]/[.]/g' <<<"$keep"))(/|\$)"; fi || true; } \
      >"$work/kiln.txt"
  if [ ! -s "$work/docker.txt" ]; then
    echo skip >"$work/result"
  elif cmp -s "$work/docker.txt" "$work/kiln.txt"; then
    echo ok >"$work/result"
  else
    {
      echo diff
      echo "--- .dockerignore:"
      cat "$dir/.dockerignore"
      echo "--- tree:"
      (cd "$dir" && find . -mindepth 1 | sort)
      echo "--- docker (<) vs kiln (>):"
      diff "$work/docker.txt" "$work/kiln.txt"
    } >"$work/result"
  fi
}

ok=0 skipped=0
for ((c = 0; c < cases; c += jobs)); do
  for ((j = c; j < c + jobs && j < cases; j++)); do run_case $((seed0 + j)) & done
  wait
  for ((j = c; j < c + jobs && j < cases; j++)); do
    s=$((seed0 + j))
    r=$(head -1 "$KT_TMP/case-$s/result" 2>/dev/null)
    case $r in
    ok) ok=$((ok + 1)) ;;
    skip) skipped=$((skipped + 1)) ;;
    *) fail "seed $s (KILN_DI_SEED=$s KILN_DI_CASES=1): $(tail -n +2 "$KT_TMP/case-$s/result" 2>/dev/null)" ;;
    esac
    [ -n "${KILN_DI_KEEP:-}" ] && cp -r "$KT_TMP/case-$s" "$KILN_DI_KEEP"
    rm -rf "$KT_TMP/case-$s"
  done
done
# shellcheck disable=SC2046
"$DOCKER" rmi -f $("$DOCKER" images -q --filter "label=kilntest=$KT_PREFIX") >/dev/null 2>&1
echo "$ok of $cases cases match docker, $skipped skipped (all excluded), seeds $seed0..$((seed0 + cases - 1))"
kt_finish
