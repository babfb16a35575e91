#!/usr/bin/env bash
# kiln validate / generate through the CLI, as a user sees them: exit codes,
# file:line:col messages, no Dockerfile written for a bad spec, --help on
# every command, determinism. Needs no engine.
set -uo pipefail
: "${KILN:?path to the kiln binary}" "${KILN_ROOT:?source tree}"
export SUDO_USER=spec-tester SUDO_UID=4242 SUDO_GID=4242
tmp=$(mktemp -d /tmp/kiln-spec-cli.XXXXXX)
chmod 0755 "$tmp" # the simulated caller (sudo mode) reads and writes with its own rights
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }

# expect CODE CMD...: runs CMD, keeps stdout/stderr in $out/$errout.
expect() {
  local want=$1
  shift
  out=$("$@" 2>"$tmp/stderr")
  local got=$?
  errout=$(cat "$tmp/stderr")
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want; stderr: $errout"
}
contains() { grep -qF -- "$2" <<<"$1" || fail "expected '$2' in: $1"; }
not_contains() { ! grep -qF -- "$2" <<<"$1" || fail "did not expect '$2' in: $1"; }

project() { # project NAME YAML: a folder holding kiln.yaml
  mkdir -p "$tmp/$1"
  printf '%s\n' "$2" >"$tmp/$1/kiln.yaml"
  chown -R "$SUDO_UID:$SUDO_GID" "$tmp/$1"
  echo "$tmp/$1"
}

good=$(project good 'version: 1
project: demo
base:
  image: debian:bookworm-slim
packages:
  apt: [curl]')

expect 0 "$KILN" validate "$good"
contains "$out" "ok"
expect 0 "$KILN" validate "$good/kiln.yaml"
expect 0 "$KILN" generate "$good"
contains "$out" "FROM debian:bookworm-slim"
first=$out
expect 0 "$KILN" generate "$good"
[ "$out" = "$first" ] || fail "generate is not deterministic"
expect 0 env -C "$good" "$KILN" generate
[ "$out" = "$first" ] || fail "generate in the folder differs from generate PATH"
expect 0 "$KILN" generate "$good" -o "$good/Dockerfile.out"
[ "$(cat "$good/Dockerfile.out")" = "$first" ] || fail "-o wrote something else"
[ "$(stat -c %u "$good/Dockerfile.out")" = "$SUDO_UID" ] || fail "-o: the file is not the caller's"
# Under sudo, kiln writes with the caller's rights: not into root's folders.
expect 1 "$KILN" generate "$good" -o "$tmp/Dockerfile.root"
contains "$errout" "cannot write $tmp/Dockerfile.root"
contains "$errout" "Permission denied"
[ ! -e "$tmp/Dockerfile.root" ] || fail "generate -o wrote into a folder the caller cannot write"
expect 1 "$KILN" generate "$good" -o /etc/kiln-spec-cli-evil
[ ! -e /etc/kiln-spec-cli-evil ] || { rm -f /etc/kiln-spec-cli-evil; fail "generate -o wrote into /etc"; }
expect 0 "$KILN" --json validate "$good"
contains "$out" '"valid":true'

# Bad specs: exit 2, file:line:col, every error, nothing written.
bad=$(project bad 'version: 1
project: demo
base:
  image: debian:bookworm-slim
pakages:
  apt: ["vim; rm -rf /"]
run:
  - "echo hi\nRUN rm -rf /"
user:
  uid: 0')
expect 2 "$KILN" validate "$bad"
contains "$errout" "$bad/kiln.yaml:5:1:"
contains "$errout" 'did you mean "packages"'
contains "$errout" "$bad/kiln.yaml:10:8:"
[ "$(grep -c "kiln.yaml:[0-9]*:[0-9]*:" <<<"$errout")" -ge 3 ] || fail "validate did not report every error: $errout"
echo previous >"$tmp/keep"
expect 2 "$KILN" generate "$bad" -o "$tmp/keep"
[ "$(cat "$tmp/keep")" = previous ] || fail "a bad spec overwrote the output file"
[ -z "$(find "$tmp" -name '.keep.*')" ] || fail "a temporary output file was left behind"

syntax=$(project syntax 'project: "demo
base: {image: debian}')
expect 2 "$KILN" validate "$syntax"
contains "$errout" "$syntax/kiln.yaml:"

escape=$(project escape 'project: demo
base: {image: debian:bookworm-slim}
packages: {requirements: ../good/kiln.yaml}')
expect 2 "$KILN" validate "$escape"
contains "$errout" "kiln.yaml:3:"

bomb=$(project bomb 'project: demo
base: {image: debian:bookworm-slim}
a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]')
expect 2 timeout 10 "$KILN" validate "$bomb"
contains "$errout" "kiln.yaml:"

# Root without sudo and without a user in the spec: never silently root.
expect 2 env -u SUDO_UID -u SUDO_GID -u SUDO_USER "$KILN" validate "$good"
contains "$errout" "root"

# Usage errors and help.
expect 2 "$KILN" no-such-command
expect 2 "$KILN" validate a b
expect 2 "$KILN" validate "$tmp/nowhere"
expect 0 "$KILN" --help
contains "$out" "Exit codes"
for cmd in generate validate version image context container volume gc; do
  expect 0 "$KILN" "$cmd" --help
  contains "$out" "usage: kiln $cmd"
done
expect 0 "$KILN" version
contains "$out" "kiln "

# A mistyped command or subcommand: exit 2 and the closest name.
expect 2 "$KILN" imgae list
contains "$errout" "unknown command 'imgae'; did you mean 'image'?"
expect 2 "$KILN" container retier x
contains "$errout" "container: unknown command 'retier'; did you mean 'retire'?"
expect 2 "$KILN" container-deplyo
contains "$errout" "did you mean 'container-deploy'?"
expect 2 "$KILN" zzzzzz
not_contains "$errout" "did you mean"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "spec_cli: ok"
