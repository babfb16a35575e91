# The mist ContainerMgr test plan through the CLI: volumes, sharing, limits.
# Volume names are per user (engine name NAME._.UID); writes go through the
# container's own user, as the owner would make them.
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
as_user 0
V=$KT_PREFIX-vol
WS=$(workspace_of 0)
cd "$WS" || exit 1

# T1: create, check, delete.
expect 0 "$KILN" volume create "$V"
contains "$out" "created $V"
equals "$("$DOCKER" volume inspect -f '{{index .Labels "kiln.owner-uid"}}' "$V._.$SUDO_UID")" "$SUDO_UID" "owner label"
expect 0 "$KILN" volume list
contains "$out" "$V "
not_contains "$out" "$V._."
expect 0 "$KILN" volume remove "$V"
"$DOCKER" volume inspect "$V._.$SUDO_UID" >/dev/null 2>&1 && fail "volume still there after remove"
pass "T1 create/check/delete"

# T2: same name twice is fine.
expect 0 "$KILN" volume create "$V"
expect 0 "$KILN" volume create "$V"
contains "$out" "exists $V"
pass "T2 create twice"

# T3: removing a missing volume errors (and --force makes it fine).
expect 1 "$KILN" volume remove "$V-missing"
contains "$errout" "volume '$V-missing' does not exist"
expect 0 "$KILN" volume remove --force "$V-missing"
pass "T3 remove missing"

# T4: attaching a missing volume errors, and leaves no container.
expect 1 "$KILN" container deploy "$KT_BASE" --name c0 -v "$V-missing:/data"
contains "$errout" "volume '$V-missing' does not exist; create it with 'kiln volume create $V-missing'"
"$DOCKER" inspect "$(engine_name c0)" >/dev/null 2>&1 && fail "container created despite missing volume"
expect 0 "$KILN" container deploy "$KT_BASE" --name c0 -v "$V-auto:/data" --create-volumes
expect 0 "$KILN" container retire c0
expect 0 "$KILN" volume remove "$V-auto"
pass "T4 attach missing"

# T5: removing a volume in use errors.
expect 0 "$KILN" container deploy "$KT_BASE" --name c1 -v "$V:/data"
expect 1 "$KILN" volume remove "$V"
contains "$errout" "volume '$V' is in use by $(engine_name c1)"
pass "T5 remove in use"

# T6: two containers share one volume.
expect 0 "$KILN" container deploy "$KT_BASE" --name c2 -v "$V:/data"
"$DOCKER" exec "$(engine_name c1)" sh -c 'echo shared >/data/f' || fail "write in c1"
equals "$("$DOCKER" exec "$(engine_name c2)" cat /data/f)" "shared" "file seen from c2"
expect 0 "$KILN" container retire c1
expect 0 "$KILN" container retire c2
pass "T6 shared volume"

# T7: ... also when both are deployed at the same time.
"$KILN" container deploy "$KT_BASE" --name c3 -v "$V:/data" >"$KT_TMP/c3" 2>&1 &
p3=$!
"$KILN" container deploy "$KT_BASE" --name c4 -v "$V:/data" >"$KT_TMP/c4" 2>&1 &
p4=$!
wait $p3 || fail "concurrent deploy c3: $(cat "$KT_TMP/c3")"
wait $p4 || fail "concurrent deploy c4: $(cat "$KT_TMP/c4")"
"$DOCKER" exec "$(engine_name c3)" sh -c 'echo both >/data/g' || fail "write in c3"
equals "$("$DOCKER" exec "$(engine_name c4)" cat /data/g)" "both" "file seen from c4"
expect 0 "$KILN" container retire c3
expect 0 "$KILN" container retire c4
expect 0 "$KILN" volume remove "$V"
pass "T7 shared volume, concurrent deploys"

# T8: the 101st volume over a limit of 100 fails.
for i in $(seq 1 100); do
  "$KILN" --quiet volume create "$V-$i" >/dev/null 2>&1 || fail "volume $i of 100"
done
expect 1 "$KILN" volume create "$V-101"
contains "$errout" "volume limit reached: you have 100 volumes and the limit is 100"
"$DOCKER" volume inspect "$V-101._.$SUDO_UID" >/dev/null 2>&1 && fail "the 101st volume exists"
as_user 1
expect 0 "$KILN" volume create "$V-other-user"
contains "$out" "created"
expect 1 "$KILN" volume remove "$V-1" # names are per user: user 0's is out of reach
contains "$errout" "volume '$V-1' does not exist"
"$DOCKER" volume inspect "$V-1._.$DL_UID" >/dev/null 2>&1 || fail "user 0's volume was removed"
expect 0 "$KILN" volume remove "$V-other-user"
as_user 0
for i in $(seq 1 100); do "$KILN" --quiet volume remove "$V-$i" >/dev/null 2>&1; done
pass "T8 volume limit"

# T9: the 11th container over a limit of 10 fails.
for i in $(seq 1 10); do
  "$KILN" --quiet container deploy "$KT_BASE" --name "l$i" >/dev/null 2>&1 || fail "container $i of 10"
done
expect 1 "$KILN" container deploy "$KT_BASE" --name l11
contains "$errout" "container limit reached: you have 10 containers and the limit is 10"
for i in $(seq 1 10); do "$KILN" --quiet container retire "l$i" >/dev/null 2>&1; done
pass "T9 container limit"

# T10: 11 deploys at once: exactly 10 succeed.
pids=()
for i in $(seq 1 11); do
  "$KILN" --quiet container deploy "$KT_BASE" --name "p$i" >"$KT_TMP/p$i" 2>&1 &
  pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
equals "$ok" 10 "concurrent deploys that succeeded"
equals "$("$DOCKER" ps -aq --filter "label=kiln.owner-uid=$SUDO_UID" | wc -l)" 10 "containers of the user"
grep -l "container limit reached" "$KT_TMP"/p* >/dev/null || fail "no deploy reported the limit"
pass "T10 concurrent limit"

no_temp_left "volume plan"
kt_finish
