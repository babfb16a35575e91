# Tarball export/import: round trip with labels (then deploy), gzip, zstd, corrupt
# and truncated archives refused with nothing loaded, a killed export, keep-N.
. "$KILN_ROOT/tests/integration/dist_lib.bash"
kt_require_engine

# ---- export → remove → import → labels kept → deploy ----
IMG=$(dist_image dt "$KT_BASE" kiln.user-setup=true kiln.uid="$SUDO_UID" kiln.gid="$SUDO_GID" \
  kiln.project=dt org.example.team=vision)
ID=$(image_id "$IMG")
expect 0 "$KILN" image export dt -o "$SHARED"
contains "$out" "exported $IMG to $SHARED/"
TAR=$(newest_tarball dt)
[ -f "$TAR" ] && [ -f "$TAR.json" ] || fail "no tarball and manifest in $SHARED"
equals "$(sidecar "$TAR" sha256)" "$(sha256sum "$TAR" | cut -d' ' -f1)" "manifest sha256"
equals "$(sidecar "$TAR" size)" "$(stat -c %s "$TAR")" "manifest size"
equals "$(sidecar "$TAR" image_id)" "$ID" "manifest image id"
equals "$(sidecar "$TAR" image)" "$IMG" "manifest image"
equals "$(stat -c %a "$TAR")" "640" "tarball mode (team readable)"
equals "$(stat -c %u "$TAR")" "$SUDO_UID" "tarball written with the caller's rights"
equals "$(stat -c %u "$TAR.json")" "$SUDO_UID" "manifest written with the caller's rights"
equals "$(sidecar "$TAR" owner_uid)" "$SUDO_UID" "manifest owner_uid"
contains "$errout" "MiB in"
"$DOCKER" rmi "$IMG" >/dev/null
expect 0 "$KILN" image import "$TAR"
contains "$out" "(sha256 verified)"
contains "$out" "$IMG"
equals "$(label "$IMG" kiln.owner-uid)" "$SUDO_UID" "owner after importing one's own image"
equals "$(image_id "$IMG")" "$ID" "image id after import"
equals "$(label "$IMG" org.example.team)" "vision" "label kept"
equals "$(label "$IMG" kiln.project)" "dt" "kiln label kept"
pass "export, remove, import keeps id and labels"
if "$KILN" container deploy --help >/dev/null 2>&1; then
  expect 0 "$KILN" container deploy dt --no-start --workspace "$(workspace)"
  equals "$("$DOCKER" inspect -f '{{.Image}}' "dt._.$SUDO_UID" 2>/dev/null)" "$ID" "deployed image"
  "$DOCKER" rm -f "dt._.$SUDO_UID" >/dev/null # it would keep the image from removal
  pass "imported image deploys"
fi

# ---- gzip round trip; FILE output ----
expect 0 "$KILN" image export "$IMG" -o "$KT_TMP/out/dt.tar.gz"
gzip -t "$KT_TMP/out/dt.tar.gz" || fail "the .tar.gz is not gzip"
equals "$(sidecar "$KT_TMP/out/dt.tar.gz" compression)" "gzip" "compression in the manifest"
"$DOCKER" rmi "$IMG" >/dev/null || fail "cannot remove $IMG"
expect 0 "$KILN" image import "$KT_TMP/out/dt.tar.gz"
equals "$(image_id "$IMG")" "$ID" "image id after gzip round trip"
pass "gzip round trip"

# ---- zstd round trip (both import paths), then deploy; corrupt zstd refused ----
mkdir -p "$KT_TMP/zdir" && give_to_caller "$KT_TMP/zdir"
expect 0 "$KILN" image export "$IMG" -o "$KT_TMP/zdir" --compress zstd
ZTAR=$(ls "$KT_TMP/zdir"/*.tar.zst 2>/dev/null | head -n 1)
[ -n "$ZTAR" ] && [ -f "$ZTAR.json" ] || fail "no .tar.zst and manifest: $(ls "$KT_TMP/zdir")"
expect 0 "$KILN" image export "$IMG" -o "$KT_TMP/zdir/named.tar.zst" # the suffix says zstd
equals "$(sidecar "$KT_TMP/zdir/named.tar.zst" compression)" "zstd" "compression from the suffix"
equals "$(head -c 4 "$ZTAR" | od -An -tx1 | tr -d ' \n')" "28b52ffd" "zstd magic"
equals "$(sidecar "$ZTAR" compression)" "zstd" "compression in the zstd manifest"
equals "$(sidecar "$ZTAR" sha256)" "$(sha256sum "$ZTAR" | cut -d' ' -f1)" "zstd manifest sha256"
[ "$(stat -c %s "$ZTAR")" -lt "$(stat -c %s "$TAR")" ] || fail "the .tar.zst is not smaller than the .tar"
"$DOCKER" rmi "$IMG" >/dev/null || fail "cannot remove $IMG"
expect 0 "$KILN" image import "$ZTAR"
contains "$out" "(sha256 verified)"
equals "$(image_id "$IMG")" "$ID" "image id after zstd round trip"
"$DOCKER" rmi "$IMG" >/dev/null || fail "cannot remove $IMG"
expect 0 as_admin "$KILN" image import "$ZTAR" # admins: decompressed straight to the engine
equals "$(image_id "$IMG")" "$ID" "image id after an admin's zstd import"
if "$KILN" container deploy --help >/dev/null 2>&1; then
  expect 0 "$KILN" container deploy dt --no-start --workspace "$(workspace)"
  equals "$("$DOCKER" inspect -f '{{.Image}}' "dt._.$SUDO_UID" 2>/dev/null)" "$ID" "deployed from zstd"
  "$DOCKER" rm -f "dt._.$SUDO_UID" >/dev/null
fi
expect 2 "$KILN" image export "$IMG" -o "$KT_TMP/zdir" --compress xz
contains "$errout" "--compress expects gzip, zstd or none"
zsize=$(stat -c %s "$ZTAR")
cp "$ZTAR" "$KT_TMP/bad.tar.zst" # no sidecar: only the archive itself can tell
printf 'XXXXXXXX' | dd of="$KT_TMP/bad.tar.zst" bs=1 seek=$((zsize / 2)) conv=notrunc 2>/dev/null
head -c $((zsize / 2)) "$ZTAR" >"$KT_TMP/cut.tar.zst"
give_to_caller "$KT_TMP/bad.tar.zst" "$KT_TMP/cut.tar.zst"
"$DOCKER" rmi "$IMG" >/dev/null || fail "cannot remove $IMG"
expect 1 "$KILN" image import "$KT_TMP/bad.tar.zst"
contains "$errout" "is not a complete image archive (its zstd data is cut or damaged)"
expect 1 "$KILN" image import "$KT_TMP/cut.tar.zst"
contains "$errout" "is not a complete image archive"
[ -z "$(image_id "$IMG")" ] || fail "a corrupt zstd archive loaded the image"
expect 0 "$KILN" image import "$ZTAR" # for the checks below
rm -f "$ZTAR" "$ZTAR.json"
pass "zstd round trip, deploy, corrupt zstd refused"

# ---- corrupt and truncated archives: refused, nothing loaded ----
"$DOCKER" rmi "$IMG" >/dev/null
before=$(image_count)
size=$(stat -c %s "$TAR")
head -c $((size / 2)) "$TAR" >"$KT_TMP/cut.tar"
expect 1 "$KILN" image import "$KT_TMP/cut.tar"
contains "$errout" "is not a complete image archive: Truncated"
# cut at an entry boundary: reads cleanly, but manifest.json is gone
cut_at=$(python3 -c 'import sys,tarfile; print(tarfile.open(sys.argv[1]).getmember("manifest.json").offset)' "$TAR")
head -c "$cut_at" "$TAR" >"$KT_TMP/short.tar"
expect 1 "$KILN" image import "$KT_TMP/short.tar"
contains "$errout" "no docker save manifest.json"
head -c $(($(stat -c %s "$KT_TMP/out/dt.tar.gz") / 2)) "$KT_TMP/out/dt.tar.gz" >"$KT_TMP/cut.tar.gz"
expect 1 "$KILN" image import "$KT_TMP/cut.tar.gz"
contains "$errout" "is not a complete image archive"
cp "$TAR" "$KT_TMP/flip.tar" && cp "$TAR.json" "$KT_TMP/flip.tar.json"
printf 'X' | dd of="$KT_TMP/flip.tar" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
give_to_caller "$KT_TMP/flip.tar" "$KT_TMP/flip.tar.json"
expect 1 "$KILN" image import "$KT_TMP/flip.tar"
contains "$errout" "sha256 mismatch"
head -c 100000 /dev/urandom >"$KT_TMP/noise.tar"
expect 1 "$KILN" image import "$KT_TMP/noise.tar"
contains "$errout" "is not a complete image archive"
equals "$(image_count)" "$before" "images after refused imports"
"$DOCKER" image inspect "$IMG" >/dev/null 2>&1 && fail "a refused archive loaded $IMG"
pass "corrupt and truncated archives are refused with nothing loaded"

# ---- name policy ----
"$DOCKER" tag "$KT_BASE" "$(image_of pol.icy)"
expect 0 "$KILN" image export "$(image_of pol.icy)" -o "$OUT/pol.tar"
"$DOCKER" rmi "$(image_of pol.icy)" >/dev/null
KILN_NAME_POLICY=1 expect 2 "$KILN" image import "$OUT/pol.tar"
contains "$errout" "image name \"pol.icy\" does not fit the name policy"
"$DOCKER" image inspect "$(image_of pol.icy)" >/dev/null 2>&1 && fail "policy refusal loaded it"
pass "name policy refuses with nothing loaded"

# ---- a killed export leaves the previous tarball intact ----
BIG=$(image_of big)
"$DOCKER" tag "$KT_BASE" "$BIG"
expect 0 "$KILN" image export big -o "$SHARED"
PREV=$(newest_tarball big)
prev_sum=$(sha256sum "$PREV" | cut -d' ' -f1)
sleep 1 # the next export's name would be one second later
"$KILN" image export big -o "$SHARED" --gzip --keep 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do # until the temporary holds something
  part=$(find "$SHARED" -maxdepth 1 -name ".*partial-*" -size +1k | head -1)
  [ -n "$part" ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -n "$part" ] || fail "never saw the export's temporary file"
equals "$(tarball_count big)" "1" "tarballs of big after the killed export"
equals "$(sha256sum "$PREV" | cut -d' ' -f1)" "$prev_sum" "previous tarball untouched"
[ -f "$PREV.json" ] || fail "previous manifest removed"
expect 0 "$KILN" image export big -o "$SHARED"
equals "$(find "$SHARED" -maxdepth 1 -name ".*partial-*" | wc -l)" "0" "stale temporaries"
pass "killed export leaves no final file, previous intact, temporary cleaned next time"

# ---- keep N ----
rm -f "$SHARED"/*big*
for _ in 1 2 3; do expect 0 "$KILN" image export big -o "$SHARED" --keep 2; done
equals "$(tarball_count big)" "2" "tarballs kept with --keep 2"
equals "$(find "$SHARED" -maxdepth 1 -name '*big*.json' | wc -l)" "2" "manifests kept"
newest=$(newest_tarball big)
expect 0 "$KILN" image export big -o "$SHARED"
equals "$(tarball_count big)" "1" "tarballs kept with the default keep 1"
[ -f "$newest" ] && fail "the older tarball was kept"
equals "$(tarball_count dt)" "1" "another image's tarball untouched by pruning"
# someone else's older tarball of the same image name is not the caller's to prune
mine=$(newest_tarball big)
theirs=$SHARED/$(basename "$mine" | sed 's/-[0-9]*\.tar$/-1000.tar/')
cp "$mine" "$theirs" && cp "$mine.json" "$theirs.json"
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); m['owner_uid']=$VUID; json.dump(m,open(sys.argv[1],'w'))" "$theirs.json"
chown "$VUID:$VGID" "$theirs" "$theirs.json"
expect 0 "$KILN" image export big -o "$SHARED"
[ -f "$theirs" ] && [ -f "$theirs.json" ] || fail "keep pruned another user's tarball"
equals "$(tarball_count big)" "2" "the caller's newest and the other user's"
pass "keep-N pruning"

kt_finish
