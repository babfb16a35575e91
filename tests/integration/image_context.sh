#!/usr/bin/env bash
# kiln context ls: only the generated Dockerfile and the files it COPYs are
# sent, whatever else lies in the project folder (here 100 MB of data), and
# .dockerignore applies to a copied folder. The build itself sends no more.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

dir=$(project ctx "version: 1
project: kt-ctx
base:
  image: $KT_BASE
files:
  - src: tool.sh
    dest: /usr/local/bin/tool
    mode: \"0755\"
  - src: conf
    dest: /etc/kt-conf")
printf '#!/bin/sh\necho tool\n' >"$dir/tool.sh"
mkdir -p "$dir/conf" "$dir/datasets"
echo a >"$dir/conf/a.conf"
echo secret >"$dir/conf/secret.key"
printf 'conf/*.key\n' >"$dir/.dockerignore"
head -c 100000000 /dev/zero >"$dir/datasets/big.bin"

expect 0 "$KILN" context ls "$dir"
contains "$out" "Dockerfile"
contains "$out" "tool.sh"
contains "$out" "conf/a.conf"
not_contains "$out" "secret.key"
not_contains "$out" "big.bin"
not_contains "$out" "datasets"
not_contains "$out" "kiln.yaml"
total=$(awk '/total/ {print $1}' <<<"$out")
[ -n "$total" ] && [ "$total" -lt 100000 ] || fail "context total $total is not small"
expect 0 "$KILN" context ls --json "$dir"
contains "$out" '"path":"Dockerfile"'
expect 0 "$KILN" context ls "$dir/kiln.yaml"
contains "$out" "tool.sh"
expect 0 "$KILN" context ls --help
contains "$out" "usage: kiln context ls"
pass "context ls lists only what the Dockerfile copies"

expect 0 "$KILN" --quiet image create "$dir"
img=$(image_of kt-ctx)
equals "$("$DOCKER" run --rm "$img" sh -c 'tool; ls /etc/kt-conf')" "tool
a.conf" "copied files in the image"
pass "the build gets the copied files and nothing else"

kt_finish
