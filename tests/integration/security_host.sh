# Issue 9, host access and configuration with real users. Sudo mode: the
# sudo-only user may not mount a host or foreign folder, write or read files
# kiln's root could but they could not, build a root or sudo image, or pick
# any runtime. Both modes: the user's KILN_CONFIG / DOCKER_HOST, docker
# context and TLS variables are ignored,
# --host and --all-users are for admins. Exit 1 (2 for bad usage), one line,
# nothing changed.
# shellcheck source=security_lib.bash
. "$KILN_ROOT/tests/integration/security_lib.bash"
sec_setup

S=$SEC_S A=$SEC_A
suid=$(sec_uid "$S")
auid=$(sec_uid "$A")
shome=$(sec_home "$S")
ahome=$(sec_home "$A")
sdir=$(sec_project "$S")
adir=$(sec_project "$A")
expect 0 sec_kiln "$S" "$sdir" image create
expect 0 sec_kiln "$A" "$adir" image create
"$DOCKER" image inspect "$(sec_image "$S")" >/dev/null 2>&1 || { echo "set-up: no image for $S: $errout" >&2; exit 1; }
# A private folder of the victim's, and links to foreign places in S's home.
mkdir -p "$ahome/secret" && printf 'version: 1\nproject: secret\nbase: {image: %s}\n' "$KT_BASE" >"$ahome/secret/kiln.yaml"
echo "victim's secret" >"$ahome/secret/data.txt"
chown -R "$A:$A" "$ahome/secret" && chmod 0700 "$ahome/secret"
ln -s /etc "$shome/etc-link"
ln -s "$adir" "$shome/victim-link"
chown -h "$S:$S" "$shome/etc-link" "$shome/victim-link"

s_state() { sec_state "$suid"; }
a_before=$(sec_state "$auid" "$ahome")

# ---- workspaces: only a folder the caller could open and owns ----
before=$(s_state)
for ws in / /etc /root /var/lib/docker /home /tmp "$ahome" "$adir" "$ahome/secret" \
  "$shome/etc-link" "$shome/victim-link"; do
  refused 1 'workspace' "sudo: deploy --workspace $ws" \
    sec_kiln "$S" "$sdir" container deploy --name ws --workspace "$ws" --no-start
  gone "ws._.$suid" "sudo: container with workspace $ws"
done
unchanged "$before" "sudo: refused workspaces" "$suid"
for v in /etc:/host /:/host "$ahome:/victim"; do
  refused 2 'volume' "sudo: deploy -v $v (only named volumes)" \
    sec_kiln "$S" "$sdir" container deploy --name ws -v "$v" --no-start
  gone "ws._.$suid" "sudo: container with -v $v"
done
for flag in --privileged "--cap-add=SYS_ADMIN" "--device=/dev/sda" "--security-opt=seccomp=unconfined"; do
  expect 2 sec_kiln "$S" "$sdir" container deploy --name ws "$flag" --no-start
  gone "ws._.$suid" "sudo: container with $flag"
done
refused 1 'runtime' "sudo: deploy --runtime whatever" \
  sec_kiln "$S" "$sdir" container deploy --name ws --runtime whatever --no-start
gone "ws._.$suid" "sudo: container with --runtime whatever"
unchanged "$before" "sudo: refused deploy flags" "$suid"

# ---- files: written and read with the caller's rights ----
listing() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort; }
new_files() { LC_ALL=C comm -13 <(echo "$1") <(listing "$2") | tr '\n' ' '; }
etc_before=$(listing /etc)
root_before=$(listing /root)
refused 1 'permission|cannot|not allowed|refus' "sudo: image export -o /etc/kiln-evil-$$.tar" \
  sec_kiln "$S" "$sdir" image export app -o "/etc/kiln-evil-$$.tar"
refused 1 'permission|cannot|not allowed|refus' "sudo: image export -o /etc" \
  sec_kiln "$S" "$sdir" image export app -o /etc
refused 1 'permission|cannot|not allowed|refus' "sudo: image export -o /root/kiln-evil-$$.tar" \
  sec_kiln "$S" "$sdir" image export app -o "/root/kiln-evil-$$.tar"
refused 1 'permission|cannot|not allowed|refus' "sudo: generate -o /etc/kiln-evil-$$.Dockerfile" \
  sec_kiln "$S" "$sdir" generate -o "/etc/kiln-evil-$$.Dockerfile"
equals "$(new_files "$etc_before" /etc)" "" "new files in /etc after refused writes"
equals "$(new_files "$root_before" /root)" "" "new files in /root after refused writes"
refused 1 'permission|cannot|not allowed|refus' "sudo: image export -o the victim's folder" \
  sec_kiln "$S" "$sdir" image export app -o "$adir"
refused 1 'permission|cannot|not allowed|refus' "sudo: generate -o the victim's folder" \
  sec_kiln "$S" "$sdir" generate -o "$adir/Dockerfile"
for what in "image create" "validate" "context ls"; do
  # shellcheck disable=SC2086
  refused 1 'permission|cannot|not allowed|refus' "sudo: $what of the victim's private folder" \
    sec_kiln "$S" "$sdir" $what "$ahome/secret"
done
unchanged "$a_before" "sudo: victim after refused reads and writes" "$auid" "$ahome"
"$DOCKER" image inspect "$SEC_NS-$suid/secret:latest" >/dev/null 2>&1 && fail "sudo: built the victim's private project"

# A build context that points outside the project through a symlink: the
# spec is refused (a bad spec, exit 2) before anything is read as root.
evil=$(sec_project "$S" evil-link "files:
  - {src: shadow, dest: /tmp/shadow}
")
ln -s /etc/shadow "$evil/shadow" && chown -h "$S:$S" "$evil/shadow"
refused 2 'symlink|outside|leaves|project' "sudo: files: src symlink to /etc/shadow" \
  sec_kiln "$S" "$evil" image create
"$DOCKER" image inspect "$SEC_NS-$suid/app:latest" >/dev/null 2>&1 &&
  "$DOCKER" run --rm --entrypoint cat "$SEC_NS-$suid/app:latest" /tmp/shadow 2>/dev/null | grep -q '^root:' &&
  fail "sudo: /etc/shadow went into an image"

# ---- images of root, other groups, sudo ----
before=$(s_state)
# uid 0 without allow_root is a bad spec (2); with it, admins only (1).
evil=$(sec_project "$S" evil-root "user: {uid: 0}"$'\n')
refused 2 'user\.uid' "sudo: spec user: {uid: 0}" sec_kiln "$S" "$evil" image create --force
for spec in "user: {uid: 0, allow_root: true}" "user: {name: root, uid: 0, gid: 0, allow_root: true}"; do
  evil=$(sec_project "$S" evil-root "$spec"$'\n')
  refused 1 'user\.uid' "sudo: spec $spec" sec_kiln "$S" "$evil" image create --force
done
evil=$(sec_project "$S" evil-gid "user: {gid: 0, allow_root: true}"$'\n')
refused 1 'user\.gid' "sudo: spec user: {gid: 0, allow_root: true}" sec_kiln "$S" "$evil" image create --force
evil=$(sec_project "$S" evil-sudo "user: {sudo: true}"$'\n')
refused 1 'user\.sudo' "sudo: spec user: {sudo: true} without container_sudo" \
  sec_kiln "$S" "$evil" image create --force
unchanged "$before" "sudo: refused root/sudo specs" "$suid"

# ---- configuration: only the site's ----
for u in "$A" "$S"; do
  d=$(sec_home "$u")/proj
  m="$(sec_mode "$u") $u"
  via=()
  [ "$u" = "$S" ] && via=(sudo -n)
  refused 1 '--host|admin' "$m: --host" \
    sec_as "$u" "$d" "${via[@]}" "$SEC_BIN/kiln" --host unix:///var/run/docker.sock image list
  refused 1 'admin' "$m: image list --all" sec_kiln "$u" "$d" image list --all
  refused 1 'admin' "$m: container list --all" sec_kiln "$u" "$d" container list --all
  refused 1 'admin' "$m: gc --all-users" sec_kiln "$u" "$d" gc --all-users --dry-run
  refused 1 'admin' "$m: volume list --all-users" sec_kiln "$u" "$d" volume list --all-users
  refused 1 'admin' "$m: container stop --all-users" sec_kiln "$u" "$d" container stop app --all-users
done
# docker-group mode: the user's own config file and engine address are not
# read (a broken file is not reported, its admin_group and namespace unused).
ag=$(id -gn "$A")
printf 'max_containers: [\n' >"$ahome/broken.yaml"
printf 'admin_group: %s\nnamespace: evil%s\nmax_containers: 1000\n' "$ag" "$$" >"$ahome/mine.yaml"
chown "$A:$A" "$ahome/broken.yaml" "$ahome/mine.yaml"
expect 0 sec_as "$A" "$adir" KILN_CONFIG="$ahome/broken.yaml" "$SEC_BIN/kiln" --namespace "$SEC_NS" image list
not_contains "$errout" "broken.yaml"
refused 1 'admin' "docker-group $A: KILN_CONFIG (admin_group: own group) + image list --all" \
  sec_as "$A" "$adir" KILN_CONFIG="$ahome/mine.yaml" "$SEC_BIN/kiln" --namespace "$SEC_NS" image list --all
refused 1 'admin' "docker-group $A: KILN_CONFIG (admin_group: own group) + gc --all-users" \
  sec_as "$A" "$adir" KILN_CONFIG="$ahome/mine.yaml" "$SEC_BIN/kiln" gc --all-users --dry-run
expect 0 sec_as "$A" "$adir" KILN_CONFIG="$ahome/mine.yaml" "$SEC_BIN/kiln" image create
"$DOCKER" images --format '{{.Repository}}' | grep -q "^evil$$-" && fail "docker-group $A: KILN_CONFIG's namespace was used"
expect 0 sec_as "$A" "$adir" DOCKER_HOST=tcp://127.0.0.1:9 "$SEC_BIN/kiln" --namespace "$SEC_NS" image list
contains "$out" "app"
# Both modes: the user's docker context (currentContext in ~/.docker, a
# context's TLS folder) and TLS variables do not steer kiln either: a context
# to a dead address, a TLS folder whose ca.pem is /etc/shadow.
ctxhex=$(printf '%s' kt-evil | sha256sum | cut -d' ' -f1)
for u in "$S" "$A"; do
  h=$(sec_home "$u")
  mkdir -p "$h/.docker/contexts/meta/$ctxhex" "$h/.docker/contexts/tls/$ctxhex/docker"
  printf '{"currentContext":"kt-evil"}\n' >"$h/.docker/config.json"
  printf '{"Name":"kt-evil","Endpoints":{"docker":{"Host":"tcp://127.0.0.1:9"}}}' \
    >"$h/.docker/contexts/meta/$ctxhex/meta.json"
  ln -sf /etc/shadow "$h/.docker/contexts/tls/$ctxhex/docker/ca.pem"
  chown -R "$u:$u" "$h/.docker"
  d=$sdir && [ "$u" = "$A" ] && d=$adir
  expect 0 sec_kiln "$u" "$d" image list
  contains "$out" "app"
done
expect 0 sec_as "$A" "$adir" DOCKER_CONTEXT=kt-evil DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=/etc/ssl/private \
  "$SEC_BIN/kiln" --namespace "$SEC_NS" image list
contains "$out" "app"
contains "$errout" "is ignored"
pass "both modes: the user's docker context and TLS variables are ignored"

# ---- limits: one host-wide lock whatever the mode or environment ----
# 14 concurrent deploys by one user, half direct with their own
# XDG_RUNTIME_DIR, half through sudo: never more than max_containers (the
# default 10 when the host has no site config; skipped when it has one).
if [ -e /etc/kiln/config.yaml ]; then
  echo "skip: limits (this host has a site config)"
else
  "$DOCKER" ps -aq --filter "label=kiln.owner-uid=$auid" | xargs -r "$DOCKER" rm -f >/dev/null
  fails_before=$fails
  pids=()
  for i in $(seq 1 14); do
    if [ $((i % 2)) -eq 1 ]; then
      mkdir -p "$KT_TMP/xdg$i" && chown "$A" "$KT_TMP/xdg$i" && chmod 0700 "$KT_TMP/xdg$i"
      sec_as "$A" "$adir" XDG_RUNTIME_DIR="$KT_TMP/xdg$i" "$SEC_BIN/kiln" --namespace "$SEC_NS" \
        container deploy --name "l$i" --no-start >"$KT_TMP/l$i.out" 2>&1 &
    else
      sec_as "$A" "$adir" sudo -n "$SEC_BIN/kiln" --namespace "$SEC_NS" \
        container deploy --name "l$i" --no-start >"$KT_TMP/l$i.out" 2>&1 &
    fi
    pids+=($!)
  done
  ok=0
  for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
      ok=$((ok + 1))
    else
      grep -qiE 'max_containers|limit|at most' "$KT_TMP/l$((i + 1)).out" ||
        fail "limits: deploy l$((i + 1)) failed otherwise: $(cat "$KT_TMP/l$((i + 1)).out")"
    fi
  done
  n=$("$DOCKER" ps -aq --filter "label=kiln.owner-uid=$auid" | grep -c .)
  [ "$n" -le 10 ] || fail "limits: $A has $n containers after 14 concurrent deploys (max_containers 10)"
  equals "$ok" "$n" "limits: deploys that succeeded vs containers"
  [ "$ok" -ge 1 ] || fail "limits: no deploy succeeded"
  [ "$fails" -eq "$fails_before" ] && pass "limits: $ok of 14 concurrent deploys (direct + sudo) succeeded, $n containers"
fi

kt_finish
