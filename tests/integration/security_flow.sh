# Issue 9, the day-to-day flow with real users: two in the docker group run
# kiln directly, one outside it runs `sudo kiln` (and a DS01 name) through the
# shipped sudoers drop-in. Each builds, deploys (the container runs as them,
# their project folder at the workspace, no-new-privileges), runs a piped
# shell, exports into their own folder and retires. The drop-in itself: the
# environment cannot be kept or set through it.
# shellcheck source=security_lib.bash
. "$KILN_ROOT/tests/integration/security_lib.bash"
sec_setup

flow() {
  local u=$1 uid home dir img mode cname
  uid=$(sec_uid "$u")
  home=$(sec_home "$u")
  mode=$(sec_mode "$u")
  img=$(sec_image "$u")
  cname=app._.$uid
  dir=$(sec_project "$u")

  works "$mode $u: image create" sec_kiln "$u" "$dir" image create
  equals "$(label "$img" kiln.owner-uid)" "$uid" "$mode $u: owner label of $img"

  works "$mode $u: container deploy" sec_kiln "$u" "$dir" container deploy --name app
  local user mount state nnp
  user=$("$DOCKER" inspect -f '{{.Config.User}}' "$cname" 2>/dev/null)
  equals "${user%%:*}" "$uid" "$mode $u: container user"
  mount=$("$DOCKER" inspect -f '{{range .Mounts}}{{if eq .Type "bind"}}{{.Source}}->{{.Destination}} {{end}}{{end}}' "$cname" 2>/dev/null)
  equals "$mount" "$dir->/workspace " "$mode $u: bind mounts"
  state=$("$DOCKER" inspect -f '{{.State.Running}}' "$cname" 2>/dev/null)
  equals "$state" true "$mode $u: container running"
  nnp=$("$DOCKER" inspect -f '{{.HostConfig.SecurityOpt}} privileged={{.HostConfig.Privileged}} capadd={{.HostConfig.CapAdd}} devices={{len .HostConfig.Devices}}' "$cname" 2>/dev/null)
  contains "$nnp" "no-new-privileges"
  contains "$nnp" "privileged=false capadd=[] devices=0"

  expect 0 sec_kiln "$u" "$dir" container shell app -- id -u </dev/null
  equals "$(tr -d '\r' <<<"$out")" "$uid" "$mode $u: piped 'container shell app -- id -u'"
  expect 0 sec_kiln "$u" "$dir" container shell app <<<"id -u"
  equals "$(tr -d '\r' <<<"$out" | grep -x '[0-9]*' | tail -1)" "$uid" "$mode $u: 'echo id -u | container shell app'"
  expect 0 sec_kiln "$u" "$dir" container shell app -- sh -c 'cat /workspace/notes.txt; touch /workspace/made-inside' </dev/null
  contains "$out" "hello from $u"
  equals "$(stat -c %u "$dir/made-inside" 2>/dev/null)" "$uid" "$mode $u: owner of a file made in the workspace"

  mkdir -p "$home/exports" && chown "$u:$u" "$home/exports"
  works "$mode $u: image export -o own folder" sec_kiln "$u" "$dir" image export app -o "$home/exports"
  local f
  f=$(find "$home/exports" -name '*.tar' | head -1)
  if [ -z "$f" ]; then
    fail "$mode $u: no tarball in $home/exports: $(ls -la "$home/exports")"
  else
    equals "$(stat -c %u "$f")" "$uid" "$mode $u: owner of $f"
    [ -f "$f.json" ] && equals "$(stat -c %u "$f.json")" "$uid" "$mode $u: owner of $f.json"
  fi
  works "$mode $u: image export -o own file" sec_kiln "$u" "$dir" image export app -o "$home/exports/mine.tar"
  equals "$(stat -c %u "$home/exports/mine.tar" 2>/dev/null)" "$uid" "$mode $u: owner of mine.tar"

  # One DS01 name (a symlink to kiln), through the same sudoers rule.
  if [ "$mode" = sudo ]; then
    expect 0 sec_as "$u" "$dir" sudo -n "$SEC_BIN/container-list"
  else
    expect 0 sec_as "$u" "$dir" "$SEC_BIN/container-list"
  fi
  contains "$out" "app"
  expect 0 sec_kiln "$u" "$dir" image-list
  contains "$out" "app"

  # A base image kiln did not build: adapted once for this user, then run as them.
  works "$mode $u: container deploy $KT_BASE" sec_kiln "$u" "$dir" container deploy "$KT_BASE" --name plain
  user=$("$DOCKER" inspect -f '{{.Config.User}}' "plain._.$uid" 2>/dev/null)
  equals "${user%%:*}" "$uid" "$mode $u: user of the adapted container"
  works "$mode $u: container retire plain" sec_kiln "$u" "$dir" container retire plain

  # A team image set up for uid 5000 by DS01: adapted, HOME is theirs.
  works "$mode $u: container deploy $TEAM" sec_kiln "$u" "$dir" container deploy "$TEAM" --name team
  expect 0 sec_kiln "$u" "$dir" container shell team -- sh -c 'touch "$HOME/mine" && stat -c "%u %n" "$HOME/mine"' </dev/null
  equals "$(tr -d '\r' <<<"$out")" "$uid /home/$u/mine" "$mode $u: a file made in HOME of a team image"
  works "$mode $u: container retire team" sec_kiln "$u" "$dir" container retire team --force

  works "$mode $u: container retire" sec_kiln "$u" "$dir" container retire app
  "$DOCKER" inspect "$cname" >/dev/null 2>&1 && fail "$mode $u: $cname still there after retire"
  works "$mode $u: image retire" sec_kiln "$u" "$dir" image retire app
  "$DOCKER" image inspect "$img" >/dev/null 2>&1 && fail "$mode $u: $img still there after retire"
}

TEAM=$KT_PREFIX-team:1
printf '%s\n' "FROM $KT_BASE" 'RUN useradd -m -u 5000 -U team && chmod 0750 /home/team' \
  'ENV HOME=/home/team PATH=/home/team/.local/bin:/usr/bin:/bin' 'USER 5000:5000' \
  'LABEL ds01.has_user_setup=true ds01.user_id=5000 ds01.group_id=5000' |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$TEAM" - >/dev/null || fail "building $TEAM"

for u in $SEC_USERS; do flow "$u"; done

# The user outside the docker group has no other door to the engine.
sec_as "$SEC_S" / test -w /var/run/docker.sock && fail "$SEC_S may write the engine socket"
# sudo runs exactly kiln for them: not a shell, not kiln with a kept or set
# environment (env_reset, no SETENV).
sdir=$(sec_home "$SEC_S")/proj
expect 1 sec_as "$SEC_S" "$sdir" sudo -n /bin/sh -c id
contains "$errout" "sudo"
expect 1 sec_as "$SEC_S" "$sdir" sudo -n "KILN_CONFIG=$sdir/kiln.yaml" "$SEC_BIN/kiln" version
contains "$errout" "not allowed to set"
expect 1 sec_as "$SEC_S" "$sdir" KILN_NAMESPACE=evil sudo -n -E "$SEC_BIN/kiln" version
contains "$errout" "sudo"
expect 0 sec_as "$SEC_S" "$sdir" sudo -n "$SEC_BIN/kiln" version
contains "$out" "kiln "

kt_finish
