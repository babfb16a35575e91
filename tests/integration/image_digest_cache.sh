#!/usr/bin/env bash
# The per-user digest cache (issue 11) in sudo mode: it lives in the
# caller's home (from the user database, not root's), is the caller's file;
# `image update` and `image list` with nothing changed open no COPYed file
# (strace: the data file is never opened), a same-size edit made within the
# same second still rebuilds, and a damaged cache file is ignored and
# written back whole. A build that needs the digest of more than 32 MiB
# of uncached files reads every COPYed file once: hashed while it streams
# to the engine, recorded in the cache, the image tagged with every kiln
# label by a second, metadata-only build once the digest is known; a
# smaller one is hashed first and built once. The caller is a real user
# made for this test (uid 5601, home in the test's temp folder), removed at
# the end.
KT_UID=5601 KT_GID=5601
source "$(dirname "$0")/lib.bash"
kt_require_engine
command -v strace >/dev/null || { echo "strace is missing (scripts/lib.sh installs it)" >&2; exit 1; }

user=ktdc$$
home=$KT_TMP/home
kt_make_user "$user" "$KT_UID" "$KT_GID" "$home"
cache=$home/.cache/kiln/context-digests

dir=$(project dcache 'version: 1
project: dcache
base: {image: debian:bookworm-slim}
files:
  - {src: data, dest: /opt/data}')
mkdir -p "$dir/data"
head -c 40000000 /dev/urandom >"$dir/data/big.bin" # > 32 MiB: hashed while streaming
echo aaaa >"$dir/data/small.txt"
give_to_caller "$dir"
image=$(image_of dcache)
sleep 1 # files older than the first read: the cache may record them

# opened_by OUT CMD...: runs CMD under strace; OUT gets the files it opened.
opened_by() {
  local trace=$1
  shift
  # LeakSanitizer cannot run under ptrace (the ASan build of the suite)
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -e trace=open,openat -o "$trace" "$@" >"$KT_TMP/.out" 2>"$KT_TMP/.err"
  local rc=$?
  out=$(cat "$KT_TMP/.out")
  errout=$(cat "$KT_TMP/.err")
  [ "$rc" -eq 0 ] || fail "'$*' exited $rc: $(tail -c 1500 <<<"$errout")"
}

opened_by "$KT_TMP/trace-create" "$KILN" image create "$dir"
contains "$out" "built $image"
equals "$(grep -c 'data/big.bin' "$KT_TMP/trace-create")" 1 "times the first build opened big.bin"
[ -n "$(label "$image" kiln.context-sha256)" ] || fail "the built image has no context digest label"
[ -n "$(label "$image" kiln.owner-uid)" ] || fail "the built image has no owner label"
[ -f "$cache" ] || fail "no digest cache at $cache"
equals "$(stat -c '%u:%g %a' "$cache")" "$KT_UID:$KT_GID 600" "cache file owner and mode"
equals "$(stat -c '%u:%g %a' "$home/.cache" "$home/.cache/kiln" | sort -u)" "$KT_UID:$KT_GID 700" \
  "cache folders' owner and mode"
[ -e /root/.cache/kiln/context-digests ] && [ /root/.cache/kiln/context-digests -nt "$dir/kiln.yaml" ] &&
  fail "root's digest cache was written for a sudo caller"
pass "the cache is the caller's file in the caller's home"

# The streamed digest is the one update computes, and was recorded.
opened_by "$KT_TMP/trace-after" "$KILN" image update "$dir"
contains "$out" "up to date"
grep -E 'data/(big.bin|small.txt)' "$KT_TMP/trace-after" && fail "update after the first build reread a COPYed file"
pass "the first build read each COPYed file once and recorded it"

# Without a cache the data is read (the check below can tell)...
mv "$cache" "$KT_TMP/cache.saved"
opened_by "$KT_TMP/trace0" "$KILN" image update "$dir"
contains "$out" "up to date"
grep -q 'data/big.bin' "$KT_TMP/trace0" || fail "without a cache, update did not open big.bin"
# ...with it, nothing COPYed is opened.
opened_by "$KT_TMP/trace1" "$KILN" image update "$dir"
contains "$out" "up to date"
grep -E 'data/(big.bin|small.txt)' "$KT_TMP/trace1" && fail "update with nothing changed opened a COPYed file"
opened_by "$KT_TMP/trace2" "$KILN" image list
grep -qE '^dcache .* no$' <<<"$out" || fail "image list: expected stale no in: $out"
grep -E 'data/(big.bin|small.txt)' "$KT_TMP/trace2" && fail "image list opened a COPYed file"
pass "update and list with nothing changed read no COPYed file"

# A same-size edit: stale, and the one changed file is the only one read;
# then rebuilt.
id1=$(image_id "$image")
echo bbbb >"$dir/data/small.txt"
opened_by "$KT_TMP/trace3" "$KILN" image list
grep -qE '^dcache .* yes$' <<<"$out" || fail "image list: expected stale yes in: $out"
grep -q 'data/small.txt' "$KT_TMP/trace3" || fail "image list did not read the changed small.txt"
grep -q 'data/big.bin' "$KT_TMP/trace3" && fail "an edit of small.txt made image list read big.bin"
expect 0 "$KILN" image update "$dir"
contains "$out" "built $image"
id2=$(image_id "$image")
[ "$id1" != "$id2" ] || fail "a same-size edit did not rebuild"
echo cccc >"$dir/data/small.txt" # again, within a second of that hash
expect 0 "$KILN" image update "$dir"
contains "$out" "built $image"
equals "$("$DOCKER" run --rm "$image" cat /opt/data/small.txt)" cccc "small.txt in the image"
expect 0 "$KILN" image update "$dir"
contains "$out" "up to date"
pass "same-size edits within the same second rebuild"

# The same through the streamed digest (no image yet, so a build is needed
# whatever the content): an edit within the second of that hash still shows.
# No cache: big.bin's 40 MB must be hashed, so while they stream.
"$DOCKER" rmi -f "$image" >/dev/null
rm -f "$cache"
echo dddd >"$dir/data/small.txt"
expect 0 kt_requests "$KT_TMP/streamed.log" "$KILN" image create "$dir"
contains "$out" "built $image"
equals "$(requests_matching "$KT_TMP/streamed.log" '^POST /[^ ]*build')" 2 \
  "builds for a streamed digest (the context, then the labels)"
# The first, untagged build carries its owner (and no tag): killed before
# the second, it leaves a dangling image that is the caller's to gc.
first=$(grep -m1 -E '^POST /[^ ]*build' "$KT_TMP/streamed.log")
contains "$first" "labels=%7B%22kiln.owner-uid%22%3A%22$KT_UID%22%7D"
grep -q '[?&]t=' <<<"$first" && fail "the streamed build was tagged before its labels: $first"
[ -n "$(label "$image" kiln.context-sha256)" ] || fail "the streamed build's image has no digest label"
echo eeee >"$dir/data/small.txt"
expect 0 "$KILN" image update "$dir"
contains "$out" "built $image"
equals "$("$DOCKER" run --rm "$image" cat /opt/data/small.txt)" eeee "small.txt after a streamed build"
expect 0 "$KILN" image update "$dir"
contains "$out" "up to date"
pass "same-second edits after a streamed digest rebuild"

# A small project whose files the cache does not know: hashed before the
# build (read twice, the second time from the page cache), so one /build
# carries the labels and the tag; nothing COPYed is read after it.
small=$(project dsmall 'version: 1
project: dsmall
base: {image: debian:bookworm-slim}
files:
  - {src: few, dest: /opt/few}')
mkdir -p "$small/few"
head -c 300000 /dev/urandom >"$small/few/a.bin"
give_to_caller "$small"
sleep 1
expect 0 kt_requests "$KT_TMP/small.log" "$KILN" image create "$small"
contains "$out" "built $(image_of dsmall)"
equals "$(requests_matching "$KT_TMP/small.log" '^POST /[^ ]*build')" 1 "builds of a small uncached context"
[ -n "$(label "$(image_of dsmall)" kiln.context-sha256)" ] || fail "the small build's image has no digest label"
opened_by "$KT_TMP/trace-small" "$KILN" image update "$small"
contains "$out" "up to date"
grep -q 'few/a.bin' "$KT_TMP/trace-small" && fail "update after a small build reread a.bin"
pass "a small uncached context is hashed first and built once"

# A damaged cache: ignored (right answer), then written back whole.
printf 'KILNDIGC garbage' >"$cache"
expect 0 "$KILN" image update "$dir"
contains "$out" "up to date"
size=$(stat -c %s "$cache")
[ $(((size - 48) % 80)) -eq 0 ] && [ "$size" -gt 48 ] || fail "cache not rewritten whole (size $size)"
equals "$(stat -c '%u:%g %a' "$cache")" "$KT_UID:$KT_GID 600" "rewritten cache owner and mode"
pass "a damaged cache is ignored and rebuilt"

kt_finish
