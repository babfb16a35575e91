#!/usr/bin/env bash
# No input makes kiln hang, and validate says what generate, context ls and
# image create would: FIFOs as .dockerignore, kiln.yaml, requirements or
# inside a copied folder, a link leaving the project inside a copied
# folder, and COPY sources Docker would expand. Every command runs under
# `timeout 20`, so a regression fails (exit 124) instead of hanging.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

T="timeout 20"
spec="version: 1
project: kt-special
base:
  image: $KT_BASE
files:
  - {src: conf, dest: /etc/kt}"

# FIFO .dockerignore: every command that reads it stops at once, naming it.
dir=$(project fifo-ignore "$spec")
mkdir "$dir/conf" && echo a >"$dir/conf/a"
mkfifo "$dir/.dockerignore"
give_to_caller "$dir"
for cmd in "validate" "context ls" "image create"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "$dir/.dockerignore is a FIFO (named pipe), not a regular file"
done

# FIFO kiln.yaml, found in the folder or named.
dir=$(project fifo-yaml "$spec")
rm "$dir/kiln.yaml" && mkfifo "$dir/kiln.yaml"
for cmd in "validate" "generate" "context ls"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "kiln.yaml is a FIFO (named pipe), not a regular file"
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir/kiln.yaml"
done

# FIFO requirements: refused at validate with file:line:col (it used to pass
# validate and generate and be left out of the context silently).
dir=$(project fifo-req "$spec
packages:
  requirements: req.txt")
mkdir "$dir/conf"
mkfifo "$dir/req.txt"
give_to_caller "$dir"
for cmd in validate generate "context ls"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "kiln.yaml:8:17: packages.requirements \"req.txt\" is a FIFO (named pipe), not a regular file"
done

# A FIFO or an escaping link inside a copied folder: validate refuses it by
# name, as context ls and image create do.
dir=$(project fifo-in-dir "$spec")
mkdir "$dir/conf" && echo a >"$dir/conf/a" && mkfifo "$dir/conf/pipe"
give_to_caller "$dir"
for cmd in validate "context ls" "image create"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "files[0].src: build context: conf/pipe is a FIFO (named pipe)"
done
echo conf/pipe >"$dir/.dockerignore" # left out on purpose: fine
expect 0 $T "$KILN" validate "$dir"
dir=$(project link-in-dir "$spec")
mkdir "$dir/conf" && ln -s /etc/passwd "$dir/conf/out"
give_to_caller "$dir"
for cmd in validate "context ls"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "symlink conf/out points outside the project"
done

# COPY sources Docker would expand: validate, generate and context ls agree.
dir=$(project dollar "version: 1
project: kt-special
base:
  image: $KT_BASE
packages:
  requirements: \"\${HOME}\"")
touch "$dir/\${HOME}"
give_to_caller "$dir"
for cmd in validate generate "context ls"; do
  # shellcheck disable=SC2086
  expect 2 $T "$KILN" $cmd "$dir"
  contains "$errout" "kiln.yaml:6:17: packages.requirements \"\${HOME}\" contains '\$'"
done

# A file the spec names that .dockerignore excludes: sent, with a warning.
dir=$(project named-ignored "$spec
  - {src: conf/s.key, dest: /etc/s.key}")
mkdir "$dir/conf" && echo s >"$dir/conf/s.key" && echo a >"$dir/conf/a"
echo 'conf/*.key' >"$dir/.dockerignore"
give_to_caller "$dir"
expect 0 $T "$KILN" context ls "$dir"
contains "$out" "conf/s.key"
contains "$errout" "warning: conf/s.key is excluded by .dockerignore but the spec names it: it is sent anyway"
expect 0 $T "$KILN" validate "$dir"
contains "$errout" "warning: conf/s.key is excluded by .dockerignore"
expect 0 timeout 300 "$KILN" image create "$dir"
contains "$errout" "warning: conf/s.key is excluded by .dockerignore"
equals "$("$DOCKER" run --rm --entrypoint cat "$(image_of kt-special)" /etc/s.key)" s "the named file"

kt_finish
