# Registry push/pull/delete-remote against a real registry on loopback
# (Debian's docker-registry with htpasswd auth, started by ensure_registry):
# push → remove local → pull → deploy, credentials from config.json, bad
# credentials, unreachable registry, and container commit.
. "$KILN_ROOT/tests/integration/dist_lib.bash"
kt_require_engine
ensure_registry || { echo "cannot start the test registry" >&2; exit 1; }
REG=$KILN_TEST_REGISTRY
login() { printf '%s\n' "$KILN_TEST_REGISTRY_PASSWORD"; }
AUTH=(--username "$KILN_TEST_REGISTRY_USER" --password-stdin)

IMG=$(dist_image rp kiln-test/busybox:latest kiln.user-setup=true kiln.uid="$SUDO_UID" \
  kiln.gid="$SUDO_GID" kiln.project=rp)
ID=$(image_id "$IMG")
REMOTE=$REG/$KT_PREFIX/rp:latest
DIST_PUSHED+=("$REMOTE")

# ---- push → remove local → pull ----
out=$(login | "$KILN" image push rp --registry "$REG" --team "$KT_PREFIX" "${AUTH[@]}" 2>"$KT_TMP/err")
[ $? -eq 0 ] || fail "push failed: $(cat "$KT_TMP/err")"
contains "$out" "pushed $REMOTE"
grep -qE '^[0-9a-f]{12}: (Pushed|Mounted from|Layer already exists)' "$KT_TMP/err" ||
  fail "no per-layer progress: $(cat "$KT_TMP/err")"
"$DOCKER" image inspect "$REMOTE" >/dev/null 2>&1 && fail "the registry name stayed on the local image"
"$DOCKER" rmi "$IMG" >/dev/null
out=$(login | "$KILN" image pull "$REMOTE" "${AUTH[@]}" 2>"$KT_TMP/err")
[ $? -eq 0 ] || fail "pull failed: $(cat "$KT_TMP/err")"
contains "$out" "pulled $REMOTE as $IMG"
equals "$(label "$IMG" kiln.project)" "rp" "label after pull"
equals "$(image_id "$IMG")" "$ID" "image id after push and pull"
pass "push, remove, pull"
if "$KILN" container deploy --help >/dev/null 2>&1; then
  expect 0 "$KILN" container deploy rp --no-start --workspace "$(workspace)"
  equals "$("$DOCKER" inspect -f '{{.Image}}' "rp._.$SUDO_UID" 2>/dev/null)" "$ID" "deployed image"
  "$DOCKER" rm -f "rp._.$SUDO_UID" >/dev/null
  pass "pulled image deploys"
fi

# ---- pulled by someone else: their own copy, in their namespace ----
out=$(login | as_victim "$KILN" image pull "$REMOTE" "${AUTH[@]}" 2>"$KT_TMP/err")
[ $? -eq 0 ] || fail "pull by another user failed: $(cat "$KT_TMP/err")"
VCOPY=$KT_PREFIX-$VUID/rp:latest
contains "$out" "pulled $REMOTE as $VCOPY"
equals "$(label "$VCOPY" kiln.owner-uid)" "$VUID" "owner of the other user's pull"
equals "$(label "$VCOPY" kiln.project)" "rp" "labels kept on the other user's pull"
equals "$(image_id "$IMG")" "$ID" "the pusher's image after the other user's pull"
"$DOCKER" image inspect "$REMOTE" >/dev/null 2>&1 && fail "the registry name stayed after a pull"
pass "pull makes the puller the owner"

# ---- credentials from config.json ----
# Under sudo, $HOME is root's business: a config.json there is not read (the
# caller's own comes from their passwd home). Admins may point DOCKER_CONFIG.
mkdir -p "$KT_TMP/home/.docker"
b64=$(printf '%s:%s' "$KILN_TEST_REGISTRY_USER" "$KILN_TEST_REGISTRY_PASSWORD" | base64 -w0)
printf '{"auths":{"http://%s":{"auth":"%s"}}}\n' "$REG" "$b64" >"$KT_TMP/home/.docker/config.json"
chmod 0600 "$KT_TMP/home/.docker/config.json"
HOME=$KT_TMP/home DOCKER_CONFIG=$KT_TMP/home/.docker expect 1 "$KILN" image push rp \
  --registry "$REG" --team "$KT_PREFIX"
contains "$errout" "registry $REG refused the credentials"
as_admin env DOCKER_CONFIG="$KT_TMP/home/.docker" "$KILN" image push "$IMG" --registry "$REG" \
  --team "$KT_PREFIX" >"$KT_TMP/o" 2>"$KT_TMP/err" || fail "admin push with DOCKER_CONFIG: $(cat "$KT_TMP/err")"
contains "$(cat "$KT_TMP/o")" "pushed $REMOTE"
pass "credentials from config.json (root's HOME and DOCKER_CONFIG ignored under sudo)"

# ---- bad credentials, unreachable registry ----
out=$(printf 'wrong\n' | "$KILN" image push rp --registry "$REG" --team "$KT_PREFIX" \
  --username "$KILN_TEST_REGISTRY_USER" --password-stdin 2>"$KT_TMP/err")
equals "$?" "1" "exit code with bad credentials"
contains "$(cat "$KT_TMP/err")" "registry $REG refused the credentials of $KILN_TEST_REGISTRY_USER"
HOME=$KT_TMP/nohome expect 1 "$KILN" image pull "$REMOTE"
contains "$errout" "registry $REG refused the credentials"
expect 1 "$KILN" image push rp --registry 127.0.0.1:1 --team "$KT_PREFIX"
contains "$errout" "registry 127.0.0.1:1 is unreachable"
"$DOCKER" image inspect "127.0.0.1:1/$KT_PREFIX/rp:latest" >/dev/null 2>&1 &&
  fail "a failed push left its registry name behind"
expect 2 "$KILN" image pull "$KT_PREFIX-x/rp:latest"
contains "$errout" "names no registry"
pass "bad credentials and unreachable registry"

# ---- delete-remote ----
out=$(login | "$KILN" image delete-remote "$REMOTE" "${AUTH[@]}" 2>"$KT_TMP/err")
[ $? -eq 0 ] || fail "delete-remote failed: $(cat "$KT_TMP/err")"
contains "$out" "deleted $REMOTE (sha256:"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "$KILN_TEST_REGISTRY_USER:$KILN_TEST_REGISTRY_PASSWORD" \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/$KT_PREFIX/rp/manifests/latest")
equals "$code" "404" "manifest after delete-remote"
out=$(login | "$KILN" image delete-remote "$REMOTE" "${AUTH[@]}" 2>"$KT_TMP/err")
contains "$(cat "$KT_TMP/err")" "registry $REG has no $REMOTE (HTTP 404)"
expect 1 "$KILN" image delete-remote "$REMOTE"
contains "$errout" "refused the credentials (HTTP 401)"
pass "delete-remote"

# ---- container commit ----
C=cm._.$SUDO_UID
"$DOCKER" run -d --name "$C" --label kiln.owner-uid="$SUDO_UID" --label "kilntest=$KT_PREFIX" \
  "$IMG" sh -c 'echo changed >/marker; sleep 300' >/dev/null
sleep 0.5
expect 0 "$KILN" container commit cm
SAVED=$(image_of cm)
contains "$out" "committed cm to $SAVED"
equals "$(label "$SAVED" kiln.project)" "rp" "image label carried over"
equals "$(label "$SAVED" kiln.owner-uid)" "$SUDO_UID" "container label carried over"
equals "$(in_image "$SAVED" 'cat /marker')" "changed" "container changes in the image"
expect 0 "$KILN" container commit cm "$KT_PREFIX-$SUDO_UID/cm2:v1" --export "$OUT/cm2.tar"
[ -f "$OUT/cm2.tar" ] && [ -f "$OUT/cm2.tar.json" ] || fail "commit --export wrote no tarball"
"$DOCKER" run -d --name "other._.$SUDO_UID" --label kiln.owner-uid=1 --label "kilntest=$KT_PREFIX" \
  "$IMG" sleep 300 >/dev/null
expect 1 "$KILN" container commit other
contains "$errout" "container 'other' is not yours"
pass "container commit"

kt_finish
