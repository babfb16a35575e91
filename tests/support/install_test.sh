#!/usr/bin/env bash
# cmake --install into a temporary prefix places every file kiln ships:
# binary and DS01 links, templates, sudoers drop-in, tmpfiles entry, man page
# (rendered by man), JSON contract, examples, and the bash completion, which
# completes `kiln ima<TAB>` to image when sourced.
set -u
: "${CMAKE_COMMAND:?}" "${KILN_BUILD:?}" "${KILN_ROOT:?}"
fails=0
fail() { printf 'FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
tmp=$(mktemp -d /tmp/kiln-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/usr

"$CMAKE_COMMAND" --install "$KILN_BUILD" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; echo "FAIL: cmake --install" >&2; exit 1; }

# ---- every file ----
[ -x "$prefix/bin/kiln" ] || fail "bin/kiln"
for name in image-create image-update image-list image-retire container-deploy container-list \
  container-retire; do
  [ "$(readlink "$prefix/bin/$name")" = kiln ] || fail "bin/$name is no link to kiln"
  [ "$(readlink "$prefix/share/bash-completion/completions/$name")" = kiln ] ||
    fail "completion link $name"
done
for f in share/kiln/catalog.json share/kiln/tmpfiles.d/kiln.conf share/man/man1/kiln.1 \
  share/doc/kiln/json.md share/doc/kiln/README.md share/doc/kiln/examples/minimal-python/kiln.yaml \
  share/bash-completion/completions/kiln; do
  [ -s "$prefix/$f" ] || fail "$f is missing or empty"
done
ls "$prefix"/share/kiln/*.tmpl >/dev/null 2>&1 || ls "$prefix"/share/kiln/*/*.tmpl >/dev/null 2>&1 ||
  fail "no templates under share/kiln"
sudoers=$prefix/share/kiln/sudoers.d/kiln
[ -f "$sudoers" ] || fail "share/kiln/sudoers.d/kiln"
[ "$(stat -c %a "$sudoers" 2>/dev/null)" = 440 ] || fail "sudoers mode $(stat -c %a "$sudoers")"
grep -qF "$prefix/bin/kiln" "$sudoers" || fail "the sudoers drop-in does not name $prefix/bin/kiln"
if command -v visudo >/dev/null; then
  visudo -cf "$sudoers" >/dev/null 2>&1 || fail "visudo refuses the drop-in"
fi

# ---- the man page renders, without warnings, for this version ----
version=$("$prefix/bin/kiln" version | awk '{print $2}')
if command -v man >/dev/null; then
  page=$(MANWIDTH=80 man -l "$prefix/share/man/man1/kiln.1" 2>"$tmp/man.err")
else
  page=$(groff -man -Tutf8 "$prefix/share/man/man1/kiln.1" 2>"$tmp/man.err")
fi
[ ! -s "$tmp/man.err" ] || fail "man: $(cat "$tmp/man.err")"
for want in NAME SYNOPSIS COMMANDS "EXIT STATUS" ENVIRONMENT FILES "SECURITY MODEL" \
  "container deploy" "kiln $version"; do
  grep -qF "$want" <<<"$page" || fail "the man page lacks '$want'"
done
warnings=$(groff -man -Tutf8 -ww -z "$prefix/share/man/man1/kiln.1" 2>&1)
[ -z "$warnings" ] || fail "groff warnings: $warnings"

# ---- the completion, sourced in a clean bash ----
complete_words() { # LINE...: COMP_WORDS, the last word being completed
  # shellcheck disable=SC2016 # expanded by the inner bash
  env -i PATH="$prefix/bin:/usr/bin:/bin" HOME="$tmp" bash --norc --noprofile -c '
    source "$0" || exit 9
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _kiln; printf "%s\n" "${COMPREPLY[@]}"' \
    "$prefix/share/bash-completion/completions/kiln" "$@"
}
got=$(complete_words kiln ima)
[ "$got" = image ] || fail "kiln ima<TAB> gave '$got', expected image"
got=$(complete_words kiln container re)
[ "$got" = retire ] || fail "kiln container re<TAB> gave '$got', expected retire"
got=$(complete_words kiln --json image list --a)
[ "$got" = --all ] || fail "kiln --json image list --a<TAB> gave '$got', expected --all"
got=$(complete_words image-create --no-c)
[ "$got" = --no-cache ] || fail "image-create --no-c<TAB> gave '$got', expected --no-cache"
# The commands added later: completed like the others (from their help).
check_completion() { # WANT LINE...
  local want=$1 got
  shift
  got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "$*<TAB> gave '$got', expected $want"
}
check_completion inspect kiln image ins
check_completion inspect kiln container ins
check_completion catalog kiln cat
check_completion groups kiln catalog gr
check_completion init kiln ini
check_completion --no-input kiln init --no-i
check_completion --running kiln container list --ru
check_completion --no-gpus kiln container deploy --no-g
check_completion --shell kiln container deploy --she
# DS01's flags under DS01's name only (kiln's own spelling refuses them).
check_completion --cpu-only container-deploy --cpu-
check_completion --open container-deploy --op
check_completion --cpus kiln container deploy --cpu
grep -q 'complete -F _kiln kiln image-create' "$prefix/share/bash-completion/completions/kiln" ||
  fail "the script does not register kiln and the DS01 names"

[ "$fails" -eq 0 ] && echo "install: all checks passed"
exit "$fails"
