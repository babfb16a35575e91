# Team images set up for someone else (DS01 labels for uid 5000, or kiln
# labels without an owner): the adapted image gives the deployer their own
# writable HOME, ~/.local/bin first on PATH and a workspace of theirs; one
# adaptation per (base, uid, gid).
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
as_user 0
WS=$(workspace_of 0)
cd "$WS" || exit 1

# What the user sees in a container: HOME, PATH's first entry, the working
# folder, and whether HOME and the working folder take a new file.
view() {
  "$DOCKER" exec "$(engine_name "$1")" sh -c \
    'echo "$HOME ${PATH%%:*} $(pwd)"; touch "$HOME/.kiln-w" && touch ./.kiln-w && echo writable'
}

TEAM=$KT_PREFIX-team:1
printf '%s\n' "FROM $KT_BASE" \
  'RUN useradd -m -u 5000 -U team && mkdir -p /home/team/.local/bin && chmod 0750 /home/team' \
  'ENV HOME=/home/team PATH=/home/team/.local/bin:/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8' \
  'WORKDIR /home/team' 'USER 5000:5000' \
  'LABEL ds01.has_user_setup=true ds01.user_id=5000 ds01.group_id=5000' |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$TEAM" - >/dev/null || fail "building $TEAM"

expect 0 "$KILN" container deploy "$TEAM" --name team
contains "$errout" "was set up for uid 5000 gid 5000, not for you (uid $SUDO_UID gid $SUDO_GID); adapting it"
equals "$(view team)" "/home/dluser0 /home/dluser0/.local/bin /workspace
writable" "DS01 team image"
ref=$KT_PREFIX-$SUDO_UID/adapted:$("$DOCKER" image inspect -f '{{.Id}}' "$TEAM" | cut -c8-19)-$SUDO_GID
equals "$("$DOCKER" image inspect -f '{{.Config.User}} {{.Config.WorkingDir}}' "$ref")" \
  "$SUDO_UID:$SUDO_GID /workspace" "adapted image's user and folder"
equals "$("$DOCKER" exec "$(engine_name team)" stat -c %u:%a /home/team)" "5000:750" \
  "the team user's home is left alone"
pass "DS01-labeled team image: HOME, PATH, workspace are the deployer's"

# A kiln-labeled image without an owner whose workspace is inside the
# team user's home: the workspace moves into the deployer's home.
KTEAM=$KT_PREFIX-kteam:1
printf '%s\n' "FROM $TEAM" 'USER 0:0' 'RUN mkdir -p /home/team/work && chown 5000:5000 /home/team/work' \
  'USER 5000:5000' 'WORKDIR /home/team/work' \
  'LABEL kiln.user-setup=true kiln.uid=5000 kiln.gid=5000 kiln.home=/home/team kiln.workspace=/home/team/work' |
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$KTEAM" - >/dev/null || fail "building $KTEAM"
expect 0 "$KILN" container deploy "$KTEAM" --name kteam
equals "$(view kteam)" "/home/dluser0 /home/dluser0/.local/bin /home/dluser0/work
writable" "kiln team image"
pass "kiln-labeled team image: workspace moved into the deployer's home"

# The same uid with another gid gets its own adaptation; the first stays
# and is reused when the first gid comes back.
first=$("$DOCKER" image inspect -f '{{.Id}}' "$ref")
SUDO_GID=$((DL_UID + 50)) expect 0 "$KILN" container deploy "$TEAM" --name team2
contains "$errout" "adapting $TEAM for uid $SUDO_UID"
equals "$("$DOCKER" exec "$(engine_name team2)" id -g)" "$((DL_UID + 50))" "gid of the second adaptation"
equals "$("$DOCKER" image inspect -f '{{.Id}}' "$ref")" "$first" "the first adaptation's tag"
expect 0 "$KILN" container deploy "$TEAM" --name team3
contains "$errout" "reusing the adaptation $ref"
pass "one adaptation per (base, uid, gid)"

kt_finish
