# Distribution across people (issue 9): another user's images, tags,
# tarballs and the host's files are out of reach of export, import, tar,
# push, pull and commit; sharing on purpose (export → import) gives the
# importer their own copy. Each refusal: exit code, message, and the
# victim's state unchanged.
. "$KILN_ROOT/tests/integration/dist_lib.bash"
kt_require_engine

VIMG=$(victim_image vic kiln-test/busybox:latest kiln.project=vic)
VID=$(image_id "$VIMG")
MINE=$(dist_image mine kiln-test/busybox:latest kiln.project=mine)
victim_unchanged() {
  equals "$(image_id "$VIMG")" "$VID" "victim's image id ($1)"
  equals "$(label "$VIMG" kiln.owner-uid)" "$VUID" "victim's owner label ($1)"
}

# ---- export ----
expect 1 "$KILN" image export "$VIMG" -o "$OUT"
contains "$errout" "image $VIMG belongs to uid $VUID"
equals "$(ls -A "$OUT")" "" "files written by a refused export"
expect 1 "$KILN" image export "$VID" -o "$OUT"
contains "$errout" "belongs to uid $VUID"
pass "export of another user's image is refused"

EVIL=/etc/kiln-evil-$$.tar
expect 1 "$KILN" image export mine -o "$EVIL"
contains "$errout" "Permission denied"
[ -e "$EVIL" ] && { rm -f "$EVIL"; fail "export wrote $EVIL"; }
equals "$(find /etc -maxdepth 1 -name ".kiln-evil-$$*" | wc -l)" "0" "temporaries in /etc"
mkdir -m 0700 "$KT_TMP/rootonly"
expect 1 "$KILN" image export mine -o "$KT_TMP/rootonly"
contains "$errout" "Permission denied"
expect 1 "$KILN" image export mine -o "$KT_TMP/rootonly/x.tar"
contains "$errout" "Permission denied"
equals "$(ls -A "$KT_TMP/rootonly")" "" "files in a root-only folder"
pass "export into /etc or a root-only folder fails with the caller's EACCES, nothing written"

# ---- import: tags only in the caller's namespace ----
# An archive of the caller's own image whose tags (manifest.json and the
# legacy repositories file) name the victim's image.
"$DOCKER" save "$MINE" >"$KT_TMP/mine.tar"
python3 - "$KT_TMP/mine.tar" "$KT_TMP/evil.tar" "$VIMG" <<'PY'
import io, json, sys, tarfile
src, dst, victim = sys.argv[1:]
repo, tag = victim.rsplit(":", 1)
with tarfile.open(src) as t, tarfile.open(dst, "w") as out:
    for m in t.getmembers():
        data = t.extractfile(m).read() if m.isfile() else None
        if m.name == "manifest.json":
            man = json.loads(data)
            man[0]["RepoTags"] = [victim]
            cfg = man[0]["Config"].split(".")[0]
            data = json.dumps(man).encode()
        elif m.name == "repositories":
            data = json.dumps({repo: {tag: cfg}}).encode()
        if data is not None:
            m.size = len(data)
            out.addfile(m, io.BytesIO(data))
        else:
            out.addfile(m)
PY
give_to_caller "$KT_TMP/evil.tar"
MINE_ID=$(image_id "$MINE")
"$DOCKER" rmi "$MINE" >/dev/null
expect 0 "$KILN" image import "$KT_TMP/evil.tar"
contains "$out" "$KT_PREFIX-$SUDO_UID/vic:latest"
not_contains "$out" "$VIMG"
victim_unchanged "archive naming the victim's tag"
equals "$(image_id "$KT_PREFIX-$SUDO_UID/vic:latest")" "$MINE_ID" "the archive's image, in the caller's namespace"
pass "import loads an archive naming another user's tag only under the caller's namespace"

"$DOCKER" tag "$MINE_ID" "$MINE"
expect 0 "$KILN" image export mine -o "$OUT/mine2.tar"
"$DOCKER" rmi "$MINE" >/dev/null
before=$(image_count)
expect 1 "$KILN" image import "$OUT/mine2.tar" --tag "$VIMG"
contains "$errout" "refusing to tag $VIMG: you may only create or move tags in your own namespace"
equals "$(image_count)" "$before" "images after a refused --tag"
"$DOCKER" image inspect "$MINE" >/dev/null 2>&1 && fail "a refused --tag loaded $MINE"
victim_unchanged "--tag into the victim's namespace"
pass "import --tag into another namespace is refused with nothing loaded"

# An archive whose manifest.json is a link to another manifest is refused.
python3 - "$KT_TMP/evil.tar" "$KT_TMP/link.tar" <<'PY'
import io, sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src) as t, tarfile.open(dst, "w") as out:
    for m in t.getmembers():
        if m.name == "manifest.json":
            data = t.extractfile(m).read()
            m.name = "x.json"
            out.addfile(m, io.BytesIO(data))
            link = tarfile.TarInfo("manifest.json")
            link.type = tarfile.SYMTYPE
            link.linkname = "x.json"
            out.addfile(link)
        else:
            out.addfile(m, t.extractfile(m) if m.isfile() else None)
PY
give_to_caller "$KT_TMP/link.tar"
expect 1 "$KILN" image import "$KT_TMP/link.tar"
victim_unchanged "manifest.json as a link"
pass "an archive reaching manifest.json through a link is refused"

# ---- sharing on purpose: the victim exports, the caller imports ----
expect 0 as_victim "$KILN" image export vic -o "$SHARED"
VTAR=$(newest_tarball vic)
equals "$(sidecar "$VTAR" owner_uid)" "$VUID" "owner of the victim's tarball"
expect 0 "$KILN" image import "$VTAR"
contains "$out" "(sha256 verified)"
COPY=$KT_PREFIX-$SUDO_UID/vic:latest
equals "$(label "$COPY" kiln.owner-uid)" "$SUDO_UID" "the importer owns the copy"
equals "$(label "$COPY" kiln.project)" "vic" "other labels kept"
[ "$(image_id "$COPY")" != "$VID" ] || fail "the copy is the victim's image itself"
victim_unchanged "import of the victim's shared tarball"
pass "importing another user's shared tarball gives the importer their own image"

# ---- tar delete / sync: only the caller's tarballs ----
mkdir -m 0777 "$KT_TMP/open" # even where the folder would let anyone delete
expect 0 as_victim "$KILN" image export vic -o "$KT_TMP/open"
VOPEN=$(ls "$KT_TMP/open"/*.tar)
expect 1 "$KILN" tar delete "$(basename "$VOPEN")" --dir "$KT_TMP/open"
contains "$errout" "belongs to uid $VUID"
expect 1 "$KILN" tar delete "$VIMG" --dir "$KT_TMP/open"
contains "$errout" "you may only delete or replace your own tarballs"
[ -f "$VOPEN" ] && [ -f "$VOPEN.json" ] || fail "the victim's tarball was removed"
"$DOCKER" rmi "$COPY" >/dev/null
expect 0 "$KILN" tar sync --dir "$KT_TMP/open"
contains "$out" "0 image(s) loaded"
"$DOCKER" image inspect "$COPY" >/dev/null 2>&1 && fail "sync loaded another user's tarball"
victim_unchanged "tar delete and sync"
pass "tar delete of another user's tarball is refused, sync leaves it alone"

# ---- commit ----
C=cm._.$SUDO_UID
"$DOCKER" run -d --name "$C" --label kiln.owner-uid="$SUDO_UID" --label "kilntest=$KT_PREFIX" \
  "$MINE_ID" sleep 300 >/dev/null
expect 1 "$KILN" container commit cm "$VIMG"
contains "$errout" "refusing to tag $VIMG"
victim_unchanged "commit into the victim's namespace"
pass "commit into another namespace is refused"

# ---- push / pull (refused before any registry is contacted) ----
NOREG=127.0.0.1:1
expect 1 "$KILN" image push "$VIMG" --registry "$NOREG" --team "$KT_PREFIX"
contains "$errout" "belongs to uid $VUID"
"$DOCKER" image inspect "$NOREG/$KT_PREFIX/vic:latest" >/dev/null 2>&1 &&
  fail "a refused push left a registry name"
"$DOCKER" tag "$VIMG" "$NOREG/$KT_PREFIX/mine:latest"
"$DOCKER" tag "$MINE_ID" "$MINE"
expect 1 "$KILN" image push mine --registry "$NOREG" --team "$KT_PREFIX"
contains "$errout" "a local image is already named $NOREG/$KT_PREFIX/mine:latest"
equals "$(image_id "$NOREG/$KT_PREFIX/mine:latest")" "$VID" "a local name push would clobber"
expect 1 "$KILN" image pull "$NOREG/x/y:latest" --as "$VIMG"
contains "$errout" "refusing to tag $VIMG"
victim_unchanged "push and pull"
pass "push of another user's image, a clobbering push and pull --as elsewhere are refused"

kt_finish
