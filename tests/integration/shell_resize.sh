#!/usr/bin/env bash
# container shell follows the terminal: the size at the start, and every
# resize after (SIGWINCH → the engine's exec resize), seen by `stty size`
# inside, through a real pseudo-terminal.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

dir=$(project winch "version: 1
project: kt-winch
base: {image: $KT_BASE}")
expect 0 "$KILN" --quiet image create "$dir"
cd "$dir" || exit 1
expect 0 "$KILN" container deploy
cd - >/dev/null || exit 1
expect 0 env NS="$KT_PREFIX" timeout 60 python3 "$KILN_ROOT/tests/integration/pty_resize.py" "$KILN" kt-winch
contains "$out" "resize followed"
pass "shell follows terminal resizes"
expect 0 "$KILN" container retire kt-winch --force
kt_finish
