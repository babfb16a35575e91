#!/usr/bin/env bash
# jsoncheck itself: it accepts what docs/json.md promises and refuses the
# old shapes (one object per line where one array is due, a string where a
# boolean is due), so the integration tests using it can fail.
set -u
: "${JSONCHECK:?path to jsoncheck}"
fails=0
ok() { "$@" || { echo "FAIL (expected ok): $*" >&2; fails=$((fails + 1)); }; }
no() { ! "$@" 2>/dev/null || { echo "FAIL (expected refusal): $*" >&2; fails=$((fails + 1)); }; }
# shellcheck disable=SC2317 # called through ok/no
j() { local input=$1; shift; printf '%s' "$input" | "$JSONCHECK" "$@"; }

ok j $'{"a":1}\n' object a:integer
ok j $'[{"a":true},{"a":null}]\n' array --min 2 'a:boolean|null'
ok j $'[{"n":"x","s":false},{"n":"y","s":true}]\n' array --where n=y --min 1 s=true
ok j $'[]\n' array
ok j $'{"event":"step"}\n{"event":"result","up_to_date":true}\n' lines event=result up_to_date:boolean
no j $'{"a":1}\n{"a":2}\n' object               # two documents
no j $'{"a":1}\n{"a":2}\n' array                # the old list format
no j $'[{"a":1}]\n' object                      # wrong type
no j $'{"stale":"no"}\n' object stale:boolean   # the old stale
no j $'{"a":1}\n' object b:integer              # missing key
no j $'[{"n":"x"}]\n' array --where n=y --min 1 # nothing matches
no j $'{"a":\n1}\n' object                      # not one line
no j '' lines
no j $'{"a":1}\nnope\n' lines
[ "$fails" -eq 0 ] && echo "jsoncheck: all checks passed"
exit "$fails"
