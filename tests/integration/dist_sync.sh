# kiln tar list|delete|sync: a runner loads only images whose newest
# tarball differs from the local image, and two syncs never load one image
# twice.
. "$KILN_ROOT/tests/integration/dist_lib.bash"
kt_require_engine

A=$(dist_image sa kiln-test/busybox:latest kiln.project=sa)
B=$(dist_image sb kiln-test/busybox:latest kiln.project=sb)
expect 0 "$KILN" image export sa -o "$SHARED"
expect 0 "$KILN" image export sb -o "$SHARED"

# ---- list ----
expect 0 "$KILN" tar list --dir "$SHARED"
contains "$out" "$A"
contains "$out" "$B"
expect 0 "$KILN" --json tar list sa --dir "$SHARED"
json_is array --min 1 "image=$A" local=true
equals "$(grep -o '"file":' <<<"$out" | wc -l)" 1 "json list of sa: one tarball"
pass "tar list"

# ---- sync: nothing changed → nothing loaded ----
expect 0 "$KILN" tar sync --dir "$SHARED"
contains "$out" "current $A"
contains "$out" "0 image(s) loaded"

# ---- sync after a change: only that image loads ----
old_a=$(image_id "$A")
dist_image sa kiln-test/busybox:latest kiln.project=sa kiln.rev=2 >/dev/null
new_a=$(image_id "$A")
expect 0 "$KILN" image export sa -o "$SHARED"
"$DOCKER" tag kiln-test/busybox:latest "$A" # this runner still has an old image
expect 0 "$KILN" tar sync --dir "$SHARED"
contains "$out" "loaded $A"
contains "$out" "current $B"
contains "$out" "1 image(s) loaded"
equals "$(image_id "$A")" "$new_a" "image after sync"
equals "$(grep -c "^loaded " <<<"$out")" "1" "loads by sync"
pass "sync loads only what changed"
[ "$old_a" != "$new_a" ] || fail "the test image did not change"

# ---- two syncs at once load the image once ----
"$DOCKER" tag kiln-test/busybox:latest "$A"
"$KILN" tar sync sa --dir "$SHARED" >"$KT_TMP/s1" 2>&1 &
p1=$!
"$KILN" tar sync sa --dir "$SHARED" >"$KT_TMP/s2" 2>&1 &
p2=$!
wait $p1 || fail "first sync failed: $(cat "$KT_TMP/s1")"
wait $p2 || fail "second sync failed: $(cat "$KT_TMP/s2")"
# What each sync did, as it says (the engine's event stream is shared with
# everyone else's loads): one loaded, the other found it current.
loads=$(cat "$KT_TMP/s1" "$KT_TMP/s2" | grep -c "^loaded ")
equals "$loads" "1" "loads by two concurrent syncs of one image"
grep -q "^current " "$KT_TMP/s1" "$KT_TMP/s2" || fail "the second sync did not find the image current"
equals "$(image_id "$A")" "$new_a" "image after concurrent syncs"
pass "concurrent syncs load once"

# ---- delete ----
expect 0 "$KILN" tar delete sa --dir "$SHARED"
contains "$out" "removed 1 tarball(s)"
equals "$(tarball_count sa)" "0" "sa tarballs after delete"
equals "$(tarball_count sb)" "1" "sb tarballs after deleting sa"
expect 1 "$KILN" tar delete sa --dir "$SHARED"
contains "$errout" "no tarball of '$A'"
pass "tar delete"

kt_finish
