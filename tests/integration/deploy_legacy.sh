# Legacy images (no kiln labels): adapted once per user and base, reused,
# temporary containers always removed (also on SIGINT), shell, GPU failure.
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
as_user 0
WS=$(workspace_of 0)
cd "$WS" || exit 1
BASE_ID=$("$DOCKER" image inspect -f '{{.Id}}' "$KT_BASE")
ID12=${BASE_ID#sha256:}
ID12=${ID12:0:12}
ADAPTED=$KT_PREFIX-$SUDO_UID/adapted:$ID12-$SUDO_GID

# First deploy adapts the plain Debian base.
expect 0 kt_requests "$KT_TMP/adapt.log" "$KILN" container deploy "$KT_BASE" --name leg
contains "$errout" "adapting $KT_BASE for uid $SUDO_UID"
# The adaptation: a temporary container, one commit, then the deploy's own.
equals "$(requests_matching "$KT_TMP/adapt.log" '^POST /[^ ]*/containers/create')" 2 \
  "containers created by the first deploy"
equals "$(requests_matching "$KT_TMP/adapt.log" '^POST /[^ ]*/commit')" 1 "commits by the first deploy"
contains "$out" "started leg (engine name leg._.$SUDO_UID), image adapted"
C=$(engine_name leg)
equals "$("$DOCKER" exec "$C" id -u)" "$SUDO_UID" "id -u"
equals "$("$DOCKER" exec "$C" id -g)" "$SUDO_GID" "id -g"
equals "$("$DOCKER" exec "$C" whoami)" "dluser0" "whoami"
equals "$("$DOCKER" exec "$C" pwd)" "/workspace" "working dir"
"$DOCKER" exec "$C" sh -c 'echo hi >/workspace/written' || fail "workspace not writable"
equals "$(stat -c %u "$WS/written")" "$SUDO_UID" "owner of a file written in the workspace"
equals "$("$DOCKER" image inspect -f '{{index .Config.Labels "kiln.adapted-from"}}' "$ADAPTED")" "$BASE_ID" "adapted-from label"
equals "$("$DOCKER" image inspect -f '{{json .Config.Cmd}} {{len .Config.Entrypoint}}' "$ADAPTED")" \
  "$("$DOCKER" image inspect -f '{{json .Config.Cmd}} {{len .Config.Entrypoint}}' "$KT_BASE")" "command kept from the base"
equals "$("$DOCKER" image inspect -f '{{.Id}}' "$KT_BASE")" "$BASE_ID" "the named image is untouched"
no_temp_left "first legacy deploy"
pass "legacy deploy adapts"

# Second deploy reuses: the adapted image is unchanged, and the deploy
# creates only its own container (no temporary one, no commit: the
# requests this deploy sent, through a proxy).
adapted_id=$("$DOCKER" image inspect -f '{{.Id}}' "$ADAPTED")
expect 0 kt_requests "$KT_TMP/reuse.log" "$KILN" container deploy "$KT_BASE" --name leg2
contains "$errout" "reusing the adaptation $ADAPTED"
contains "$out" "adapted image reused"
equals "$("$DOCKER" image inspect -f '{{.Id}}' "$ADAPTED")" "$adapted_id" "adapted image id"
equals "$(requests_matching "$KT_TMP/reuse.log" '^POST /[^ ]*/containers/create')" 1 \
  "containers created by the second deploy"
equals "$(requests_matching "$KT_TMP/reuse.log" '^POST /[^ ]*/commit')" 0 "commits by the second deploy"
pass "second legacy deploy reuses"

# Name taken.
expect 1 "$KILN" container deploy "$KT_BASE" --name leg2
contains "$errout" "you already have a container named 'leg2' (leg2._.$SUDO_UID)"

# Shell with piped stdin; the exit code comes through.
out=$(echo 'id -u; whoami' | "$KILN" container shell leg 2>&1)
equals "$out" "$SUDO_UID
dluser0" "piped shell output"
"$KILN" container shell leg -- sh -c 'echo to-stderr >&2; exit 7' 2>"$KT_TMP/e" >/dev/null
equals "$?" 7 "exit code of the shell command"
equals "$(cat "$KT_TMP/e")" "to-stderr" "stderr of the shell command"
pass "shell"

# Another user's adaptation is private: deploying it is refused, nothing made.
as_user 1
cd "$(workspace_of 1)" || exit 1
expect 1 "$KILN" container deploy "$ADAPTED" --name mism
contains "$errout" "image $ADAPTED belongs to uid $DL_UID; another user's images are private"
"$DOCKER" inspect "$(engine_name mism)" >/dev/null 2>&1 && fail "container made from another user's image"
"$DOCKER" image inspect "$KT_PREFIX-$SUDO_UID/adapted:$ID12-$SUDO_GID" >/dev/null 2>&1 &&
  fail "another user's image was adapted"
expect 1 "$KILN" container stop leg
contains "$errout" "you have no container named 'leg'"
pass "another user's adaptation refused"

# An image set up for someone else by another tool (DS01 labels, no kiln
# owner) is adapted, with a warning that says so.
OTHER=$KT_PREFIX-ds01other:1
printf 'FROM %s\nLABEL ds01.has_user_setup=true ds01.user_id=%s ds01.group_id=%s\n' \
  "$KT_BASE" "$DL_UID" "$DL_UID" | DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$OTHER" - >/dev/null ||
  fail "building $OTHER"
expect 0 "$KILN" container deploy "$OTHER" --name mism
contains "$errout" "warning: image '$OTHER' was set up for uid $DL_UID gid $DL_UID, not for you (uid $SUDO_UID gid $SUDO_GID); adapting it"
equals "$("$DOCKER" exec "$(engine_name mism)" id -u)" "$SUDO_UID" "id -u after mismatch"
pass "uid mismatch warning"

# Two users adapt the same base at once; each gets their own image.
as_user 2
"$KILN" container deploy "$KT_BASE" --name twin --workspace "$(workspace_of 2)" >"$KT_TMP/u2" 2>&1 &
p2=$!
as_user 3
"$KILN" container deploy "$KT_BASE" --name twin --workspace "$(workspace_of 3)" >"$KT_TMP/u3" 2>&1 &
p3=$!
wait $p2 || fail "user 2 deploy: $(cat "$KT_TMP/u2")"
wait $p3 || fail "user 3 deploy: $(cat "$KT_TMP/u3")"
for n in 2 3; do
  u=$((DL_UID + n))
  equals "$("$DOCKER" exec "twin._.$u" id -u)" "$u" "user $n id"
  equals "$("$DOCKER" image inspect -f '{{index .Config.Labels "kiln.uid"}}' "$KT_PREFIX-$u/adapted:$ID12-$u")" "$u" "user $n adaptation"
done
no_temp_left "concurrent users"
pass "two users at once"

# GPU request on an engine without NVIDIA runtime: one sentence, nothing left.
as_user 0
cd "$WS" || exit 1
expect 3 "$KILN" container deploy "$KT_BASE" --name gpu --gpus all
contains "$errout" "this engine has no NVIDIA GPU runtime; deploy without --gpus or on a GPU node"
"$DOCKER" inspect "$(engine_name gpu)" >/dev/null 2>&1 && fail "GPU container left behind"
expect 3 "$KILN" container deploy "$KT_BASE" --name gpu --gpus 0,1
"$DOCKER" inspect "$(engine_name gpu)" >/dev/null 2>&1 && fail "GPU container left behind (ids)"
pass "GPU failure"

# Interrupted adaptation: SIGINT while the setup runs removes the temporary
# container (KILN_LEGACY_SETUP_DELAY makes the setup slow). The hook is for
# admins only: a simulated user's setting is ignored (the setup is not slow).
LEGACY=$(legacy_base)
SECONDS=0
expect 0 env KILN_LEGACY_SETUP_DELAY=60 "$KILN" container deploy "$LEGACY" --name nodelay
contains "$errout" "adapting $LEGACY for uid $SUDO_UID"
[ "$SECONDS" -lt 45 ] || fail "a non-admin's KILN_LEGACY_SETUP_DELAY was honoured (${SECONDS} s)"
# (env, not a shell function: the signal must reach kiln itself.)
env -u SUDO_UID -u SUDO_GID -u SUDO_USER KILN_CONFIG="$DL_CONFIG" KILN_LEGACY_SETUP_DELAY=60 \
  "$KILN" container deploy "$LEGACY" --name slow >"$KT_TMP/slow" 2>&1 &
ps=$!
for _ in $(seq 1 100); do
  [ -n "$(admin_temps)" ] && break
  sleep 0.1
done
tmp=$(admin_temps)
[ -n "$tmp" ] || fail "no temporary container appeared"
# The adaptation runs as root in the image: it mounts nothing of the user.
[ -z "$tmp" ] || equals "$("$DOCKER" inspect -f '{{len .Mounts}} {{json .HostConfig.Binds}} {{json .HostConfig.Mounts}} {{.HostConfig.Privileged}}' "$tmp")" \
  "0 null null false" "mounts of the temporary container"
kill -INT $ps
wait $ps
equals "$?" 130 "exit status after SIGINT"
contains "$(cat "$KT_TMP/slow")" "interrupted by SIGINT; the temporary container was removed"
equals "$(admin_temps)" "" "temporary containers after SIGINT"
"$DOCKER" inspect slow._.0 >/dev/null 2>&1 && fail "container created after SIGINT"
pass "SIGINT during adaptation"

# A failing setup (timeout) also removes it.
printf 'legacy_timeout: 1\n' >"$DL_CONFIG"
expect 1 as_kiln_admin KILN_LEGACY_SETUP_DELAY=5 "$KILN" container deploy "$LEGACY" --name slow
contains "$errout" "the user setup did not finish within 1 s"
equals "$(admin_temps)" "" "temporary containers after the timeout"
printf 'max_containers: 10\n' >"$DL_CONFIG"
pass "timeout"

# list, stop/start, retire --save.
as_user 0
expect 0 "$KILN" container list
contains "$out" "leg2"
expect 0 "$KILN" --json container list
contains "$out" "\"engine_name\":\"leg._.$SUDO_UID\""
expect 0 "$KILN" container stop leg
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$(engine_name leg)")" false "stopped"
expect 0 "$KILN" container start leg
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$(engine_name leg)")" true "started"
"$DOCKER" exec "$(engine_name leg)" sh -c 'echo kept >/home/dluser0/note' || fail "write in home"
expect 0 "$KILN" container retire leg --save
contains "$out" "saved leg as $KT_PREFIX-$SUDO_UID/leg-saved:latest"
"$DOCKER" inspect "$(engine_name leg)" >/dev/null 2>&1 && fail "retired container still there"
equals "$("$DOCKER" run --rm "$KT_PREFIX-$SUDO_UID/leg-saved:latest" cat /home/dluser0/note)" kept "saved content"
pass "lifecycle"

# gc: an exited temporary container of ours goes; dry-run keeps it.
"$DOCKER" run --name "$KT_PREFIX-gctmp" --label kiln.temporary=true \
  --label "kiln.owner-uid=$SUDO_UID" "$KT_BASE" true >/dev/null || fail "gc fixture"
expect 0 "$KILN" gc --dry-run
contains "$out" "would remove temporary container $KT_PREFIX-gctmp"
"$DOCKER" inspect "$KT_PREFIX-gctmp" >/dev/null 2>&1 || fail "dry run removed it"
expect 0 "$KILN" gc
contains "$out" "removed temporary container $KT_PREFIX-gctmp"
"$DOCKER" inspect "$KT_PREFIX-gctmp" >/dev/null 2>&1 && fail "gc left the temporary container"
pass "gc"

no_temp_left "end"
kt_finish
