# Labeled images (kiln's user-setup labels, or DS01's) deploy directly: no
# adaptation, no temporary container. PROJECT names resolve to
# <ns>-<uid>/PROJECT:latest, kiln.yaml's deploy: block gives defaults, and
# list reports a container as stale once its project image is rebuilt.
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine
as_user 0
WS=$(workspace_of 0)
IMG=$KT_PREFIX-$SUDO_UID/proj:latest

# A labeled image made with the engine's own builder (what kiln image create
# produces, reduced to the labels deploy reads).
labeled_image() { # TAG UID LABEL_SET(kiln|ds01)
  local dir=$KT_TMP/build-$2-$3
  mkdir -p "$dir"
  local labels
  if [ "$3" = kiln ]; then
    labels="LABEL kiln.user-setup=true kiln.uid=$2 kiln.gid=$2 kiln.user=dl kiln.workspace=/work kiln.project=proj kiln.spec-sha256=s1 kiln.owner-uid=$2"
  else
    labels="LABEL ds01.has_user_setup=true ds01.user_id=$2 ds01.group_id=$2"
  fi
  cat >"$dir/Dockerfile" <<DOCKERFILE
FROM $KT_BASE
RUN groupadd -g $2 dl && useradd -m -u $2 -g $2 dl && mkdir -p /work && chown $2:$2 /work
$labels
DOCKERFILE
  DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$1" "$dir" >/dev/null || fail "building $1"
}

labeled_image "$IMG" "$SUDO_UID" kiln
IMG_ID=$("$DOCKER" image inspect -f '{{.Id}}' "$IMG")

# Fast path from a project folder with kiln.yaml: PROJECT and defaults.
cd "$WS" || exit 1
cat >kiln.yaml <<YAML
version: 1
project: proj
base:
  image: $KT_BASE
deploy:
  memory: 256m
YAML
expect 0 kt_requests "$KT_TMP/deploy.log" "$KILN" container deploy
not_contains "$errout" "adapting"
C=$(engine_name proj)
equals "$("$DOCKER" inspect -f '{{.Image}}' "$C")" "$IMG_ID" "deployed image"
equals "$("$DOCKER" inspect -f '{{.HostConfig.Memory}}' "$C")" 268435456 "memory from kiln.yaml"
equals "$("$DOCKER" inspect -f '{{index .Config.Labels "kiln.project"}}' "$C")" proj "project label"
equals "$("$DOCKER" inspect -f '{{index .Config.Labels "kiln.spec-sha256"}}' "$C")" s1 "spec label"
equals "$("$DOCKER" exec "$C" sh -c 'id -u; pwd')" "$SUDO_UID
/work" "user and workspace"
"$DOCKER" exec "$C" touch /work/from-container || fail "workspace not writable"
# The fast path creates the container and nothing else: no temporary
# container, no commit (the requests this deploy sent, through a proxy).
equals "$(requests_matching "$KT_TMP/deploy.log" '^POST /[^ ]*/containers/create')" 1 \
  "containers created by the fast path"
equals "$(requests_matching "$KT_TMP/deploy.log" '^POST /[^ ]*/(commit|build)')" 0 \
  "commits and builds on the fast path"
rm -f kiln.yaml
pass "labeled fast path"

# Flags win over the deploy: block: a -v at the same mount point replaces
# the spec's volume there, the others stay; --memory replaces memory.
cat >kiln.yaml <<YAML
version: 1
project: proj
base:
  image: $KT_BASE
deploy:
  memory: 256m
  volumes: [$KT_PREFIX-a:/data, $KT_PREFIX-b:/models]
YAML
chown "$SUDO_UID:$SUDO_GID" kiln.yaml
expect 0 "$KILN" container deploy --name flags -v "$KT_PREFIX-c:/data" --memory 512m --create-volumes --no-start
# The engine lists .Mounts in no fixed order (from a Go map; Engine 26
# showed the other order), so the volumes are compared sorted.
equals "$("$DOCKER" inspect -f '{{.HostConfig.Memory}}' "$(engine_name flags)") $("$DOCKER" inspect \
  -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}={{.Destination}}{{"\n"}}{{end}}{{end}}' \
  "$(engine_name flags)" | grep . | sort | tr '\n' ' ')" \
  "536870912 $KT_PREFIX-b._.$SUDO_UID=/models $KT_PREFIX-c._.$SUDO_UID=/data " "flags over the deploy: block"
"$DOCKER" volume inspect "$KT_PREFIX-a._.$SUDO_UID" >/dev/null 2>&1 && fail "the replaced spec volume was created"
expect 0 "$KILN" container retire flags
rm -f kiln.yaml
pass "flags replace the deploy: block's values"

# By PROJECT name from elsewhere, with options.
cd "$KT_TMP" || exit 1
expect 0 "$KILN" container deploy proj --name p2 --workspace "$WS" -e FOO=bar -p 18089:80 --cpus 0.5 --pids-limit 100 --shm-size 64m --no-start
contains "$out" "created p2"
C2=$(engine_name p2)
equals "$("$DOCKER" inspect -f '{{.State.Status}}' "$C2")" created "--no-start"
equals "$("$DOCKER" inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ShmSize}}' "$C2")" "500000000 100 67108864" "limits"
equals "$("$DOCKER" inspect -f '{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}' "$C2")" 18089 "port"
contains "$("$DOCKER" inspect -f '{{json .Config.Env}}' "$C2")" '"FOO=bar"'
pass "deploy by project name"

# Stale once the project image is rebuilt.
expect 0 "$KILN" --json container list
contains "$out" '"name":"proj"'
contains "$out" '"stale":false'
labeled_image "$IMG-new" "$SUDO_UID" kiln
"$DOCKER" build -q -t "$IMG" - >/dev/null <<DOCKERFILE || fail "rebuild"
FROM $IMG-new
LABEL kiln.spec-sha256=s2
DOCKERFILE
expect 0 "$KILN" --json container list
contains "$out" '"stale":true'
pass "stale"

# DS01's labels count as labeled.
as_user 1
cd "$(workspace_of 1)" || exit 1
labeled_image "$KT_PREFIX-ds01:1" "$SUDO_UID" ds01
expect 0 "$KILN" container deploy "$KT_PREFIX-ds01:1" --name ds
not_contains "$errout" "adapting"
equals "$("$DOCKER" exec "$(engine_name ds)" id -u)" "$SUDO_UID" "DS01 image uid"

# Ownership: another user cannot touch these containers, nor ask for
# everyone's; an admin (real root) with --all-users can.
expect 1 "$KILN" container stop proj
contains "$errout" "you have no container named 'proj'"
expect 1 "$KILN" container stop "proj._.$DL_UID"
contains "$errout" "you have no container named 'proj._.$DL_UID'"
expect 1 "$KILN" container list --all
contains "$errout" "--all-users is for admins"
not_contains "$out" "proj._.$DL_UID"
expect 1 "$KILN" container stop "proj._.$DL_UID" --all-users
contains "$errout" "--all-users is for admins"
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$C")" true "the other user's container still runs"
expect 0 as_admin "$KILN" container list --all
contains "$out" "proj._.$DL_UID"
expect 1 as_admin "$KILN" container stop "proj._.$DL_UID"
expect 0 as_admin "$KILN" container stop "proj._.$DL_UID" --all-users
equals "$("$DOCKER" inspect -f '{{.State.Running}}' "$C")" false "stopped by the admin"
pass "ownership"

no_temp_left "labeled"
kt_finish
