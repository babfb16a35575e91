# Issue 9, namespaces and reading, with real users in both modes: an attacker
# may neither create nor move a tag in the victim's namespace (spec user.uid,
# --tag, import, commit, retire --save), nor read the victim's image (export,
# push, deploy, build FROM), nor touch the victim's containers, volumes or
# image. Each attempt: exit 1, one line, the victim's state unchanged.
# Pairs: docker-group -> docker-group, sudo -> docker-group, docker-group -> sudo.
# shellcheck source=security_lib.bash
. "$KILN_ROOT/tests/integration/security_lib.bash"
sec_setup

# Every user: image app, running containers app and mine, volume <SEC>v<uid>,
# an exports folder, and a clean `docker save` of their image (own.tar).
prepare() {
  local u=$1 uid dir
  uid=$(sec_uid "$u")
  dir=$(sec_project "$u")
  expect 0 sec_kiln "$u" "$dir" image create
  expect 0 sec_kiln "$u" "$dir" container deploy --name app
  expect 0 sec_kiln "$u" "$dir" container deploy --name mine
  expect 0 sec_kiln "$u" "$dir" volume create "${SEC}v$uid"
  "$DOCKER" image inspect "$(sec_image "$u")" >/dev/null 2>&1 ||
    { echo "set-up: $u has no image: $errout" >&2; exit 1; }
  mkdir -p "$(sec_home "$u")/exports"
  "$DOCKER" save -o "$(sec_home "$u")/own.tar" "$(sec_image "$u")"
  chown -R "$u:$u" "$(sec_home "$u")"
}

# evil_archive ATTACKER VICTIM: ATTACKER's image in an archive whose tags name
# VICTIM's namespace (docker save output, manifest.json + repositories
# rewritten); prints its path, owned by ATTACKER.
evil_archive() {
  local a=$1 v=$2 x out
  x=$(mktemp -d "$KT_TMP/evil.XXXXXX")
  out=$(sec_home "$a")/evil.tar
  tar -xf "$(sec_home "$a")/own.tar" -C "$x"
  sed -i "s#$SEC_NS-$(sec_uid "$a")/app#$SEC_NS-$(sec_uid "$v")/app#g" "$x/manifest.json" "$x/repositories"
  grep -q "$SEC_NS-$(sec_uid "$v")/app" "$x/manifest.json" || { echo "set-up: evil archive" >&2; exit 1; }
  (cd "$x" && tar -cf "$out" -- *)
  chown "$a:$a" "$out"
  rm -rf "$x"
  echo "$out"
}

# victim_ok WHAT: the victim's state is what it was; then puts the victim's
# tag back where it was, so that each failure is reported once.
victim_ok() {
  unchanged "$before" "$1" "$vuid" "$vdir"
  "$DOCKER" tag "$vimg_id" "$vimg" >/dev/null 2>&1
  before=$(sec_state "$vuid" "$vdir")
}

attacks() {
  local a=$1 v=$2 auid vuid vimg vimg_id adir vdir m before tars
  auid=$(sec_uid "$a")
  vuid=$(sec_uid "$v")
  vimg=$(sec_image "$v")
  vimg_id=$(image_id "$vimg")
  adir=$(sec_home "$a")/proj
  vdir=$(sec_home "$v")/proj
  m="$(sec_mode "$a") $a -> $(sec_mode "$v") $v"
  before=$(sec_state "$vuid" "$vdir")
  echo "--- $m (victim image $vimg $vimg_id)"

  # ---- namespaces: no tag is created or moved in the victim's namespace ----
  local evil
  evil=$(sec_project "$a" evil-uid "user: {uid: $vuid}"$'\n')
  refused 1 'user\.uid' "$m: spec user.uid $vuid" sec_kiln "$a" "$evil" image create --force
  victim_ok "$m: spec user.uid"
  refused 1 'user\.uid' "$m: spec user.uid $vuid, image update" sec_kiln "$a" "$evil" image update --force
  victim_ok "$m: spec user.uid (update)"

  refused 1 'namespace' "$m: image create --tag $vimg" sec_kiln "$a" "$adir" image create --force --tag "$vimg"
  victim_ok "$m: --tag"
  refused 1 'namespace' "$m: image create --tag (new name)" \
    sec_kiln "$a" "$adir" image create --force --tag "$SEC_NS-$vuid/planted:latest"
  victim_ok "$m: --tag new name"
  # The namespace is the caller's to choose, but it is one name: neither
  # another --namespace nor one holding the victim's namespace plus a '/'
  # reaches into "<ns>-<victim uid>/".
  refused 1 'namespace' "$m: --namespace zz image create --tag $vimg" \
    sec_kiln "$a" "$adir" --namespace zz image create --force --tag "$vimg"
  victim_ok "$m: --tag under another namespace"
  refused 2 'namespace' "$m: --namespace $SEC_NS-$vuid/x image create" \
    sec_kiln "$a" "$adir" --namespace "$SEC_NS-$vuid/x" image create --force
  victim_ok "$m: --namespace inside the victim's namespace"

  # An archive tagged in the victim's namespace: refused with nothing loaded,
  # or loaded only under the attacker's namespace (the README says which).
  local arch
  arch=$(evil_archive "$a" "$v")
  local rc
  out=$(sec_kiln "$a" "$adir" image import "$arch" 2>"$KT_TMP/.stderr")
  rc=$?
  errout=$(cat "$KT_TMP/.stderr")
  case $rc in
  0) # loaded, and the tags it lists are the attacker's own
    if grep -qF "$SEC_NS-$auid/app:latest" <<<"$out" && ! grep -qF "$SEC_NS-$vuid/" <<<"$out"; then
      pass "$m: import of an archive tagged $vimg: loaded under the attacker's namespace"
    else
      fail "$m: import of an archive tagged $vimg: loaded as: $out"
    fi ;;
  1) if [ "$(grep -c . <<<"$errout")" -eq 1 ] && grep -qi namespace <<<"$errout"; then
       pass "$m: import of an archive tagged $vimg: refused: $errout"
     else
       fail "$m: import of an archive tagged $vimg: expected one line naming the namespace: $errout"
     fi ;;
  *) fail "$m: import of an archive tagged $vimg exited $rc: $(tail -c 800 <<<"$errout")" ;;
  esac
  equals "$(image_id "$vimg")" "$vimg_id" "$m: image import of an archive tagged $vimg: victim's tag"
  victim_ok "$m: import archive in victim's namespace"
  refused 1 'namespace' "$m: image import --tag $vimg" \
    sec_kiln "$a" "$adir" image import "$(sec_home "$a")/own.tar" --tag "$vimg"
  victim_ok "$m: import --tag"

  refused 1 'namespace' "$m: container commit mine $vimg" sec_kiln "$a" "$adir" container commit mine "$vimg"
  victim_ok "$m: commit"
  refused 1 'namespace' "$m: container retire mine --save $vimg" \
    sec_kiln "$a" "$adir" container retire mine --save "$vimg"
  victim_ok "$m: retire --save"
  "$DOCKER" inspect "mine._.$auid" >/dev/null 2>&1 || fail "$m: a refused retire --save removed mine._.$auid"

  # ---- reading: the victim's image is private ----
  tars=$(ls -A "$(sec_home "$a")/exports")
  refused 1 'private|belongs|namespace of' "$m: image export $vimg" \
    sec_kiln "$a" "$adir" image export "$vimg" -o "$(sec_home "$a")/exports"
  equals "$(ls -A "$(sec_home "$a")/exports")" "$tars" "$m: files in the attacker's exports after a refused export"
  refused 1 'private|belongs|namespace of' "$m: image push $vimg" \
    sec_kiln "$a" "$adir" image push "$vimg" --registry 127.0.0.1:9
  refused 1 'private|belongs|namespace of' "$m: container deploy $vimg" \
    sec_kiln "$a" "$adir" container deploy "$vimg" --name stolen --no-start
  gone "stolen._.$auid" "$m: deploy $vimg"
  refused 1 'private|belongs|namespace of' "$m: --namespace zz container deploy $vimg" \
    sec_kiln "$a" "$adir" --namespace zz container deploy "$vimg" --name stolen --no-start
  gone "stolen._.$auid" "$m: --namespace zz deploy $vimg"
  evil=$(sec_project "$a" evil-from)
  printf 'version: 1\nproject: from\nbase: {image: %s}\n' "$vimg" >"$evil/kiln.yaml"
  refused 1 'private|belongs|namespace of' "$m: build FROM $vimg" sec_kiln "$a" "$evil" image create --force
  "$DOCKER" image inspect "$SEC_NS-$auid/from:latest" >/dev/null 2>&1 && fail "$m: built FROM the victim's image"
  victim_ok "$m: reading"

  # ---- the victim's objects by their engine names ----
  refused 1 'private|belongs|not yours|namespace' "$m: image retire $vimg" \
    sec_kiln "$a" "$adir" image retire "$vimg" --force
  local c
  for c in "container stop" "container retire" "container shell"; do
    # shellcheck disable=SC2086
    refused 1 'no container|not yours|belongs' "$m: $c app._.$vuid" sec_kiln "$a" "$adir" $c "app._.$vuid" </dev/null
  done
  # Volume names are per user: the victim's is out of the attacker's reach,
  # by its short name and by its engine name.
  local vv
  for vv in "${SEC}v$vuid" "${SEC}v$vuid._.$vuid"; do
    refused 1 'does not exist' "$m: volume remove $vv" sec_kiln "$a" "$adir" volume remove "$vv"
  done
  refused 1 'does not exist' "$m: deploy -v ${SEC}v$vuid:/data" \
    sec_kiln "$a" "$adir" container deploy --name vol -v "${SEC}v$vuid:/data" --no-start
  gone "vol._.$auid" "$m: deploy -v ${SEC}v$vuid"
  # The same name makes the attacker's own volume; the victim's stays theirs.
  expect 0 sec_kiln "$a" "$adir" volume create "${SEC}v$vuid"
  equals "$("$DOCKER" volume inspect -f '{{index .Labels "kiln.owner-uid"}}' "${SEC}v$vuid._.$vuid")" \
    "$vuid" "$m: owner of the victim's volume"
  expect 0 sec_kiln "$a" "$adir" volume remove "${SEC}v$vuid"
  victim_ok "$m: engine names"
  equals "$("$DOCKER" inspect -f '{{.State.Running}}' "app._.$vuid" 2>/dev/null)" true "$m: victim's app still running"
}

for u in $SEC_USERS; do prepare "$u"; done
attacks "$SEC_A" "$SEC_B"
attacks "$SEC_S" "$SEC_A"
attacks "$SEC_B" "$SEC_S"

kt_finish
