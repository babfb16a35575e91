#!/usr/bin/env bash
# Export/import throughput of kiln against docker save/load of the same image
# in the same run. Both sides include a sha256 of the tarball (kiln computes
# it while streaming; the baseline runs sha256sum after docker save, and
# before docker load, which is what a careful script would do); compressed
# rows pipe through gzip -6 / zstd -3 (zstd -dc before load). Best of
# $RUNS runs each; ratios are kiln / docker wall time (< 1: kiln faster).
#
#   KILN=build/kiln bench/dist.sh [IMAGE]     (default debian:bookworm-slim)
set -euo pipefail
KILN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILN=${KILN:-$KILN_ROOT/build/kiln}
DOCKER=${DOCKER:-/usr/bin/docker}
SRC=${1:-debian:bookworm-slim}
RUNS=${RUNS:-3}
IMG=kilnbench$$-0/dist:latest
TMP=$(mktemp -d /tmp/kiln-bench-dist.XXXXXX)
cleanup() {
  "$DOCKER" rmi "$IMG" "kilnbench$$-${BENCH_UID:-4799}/dist:latest" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$DOCKER" tag "$SRC" "$IMG" # the base itself is never touched

now() { date +%s.%N; }
# best SECONDS of RUNS runs of "$@"
best() {
  local b=999999 t0 t1 i
  for i in $(seq 1 "$RUNS"); do
    t0=$(now)
    "$@" >/dev/null 2>&1
    t1=$(now)
    b=$(echo "$t1 $t0 $b" | awk '{d=$1-$2; print (d<$3)?d:$3}')
  done
  echo "$b"
}

docker_save() { "$DOCKER" save "$IMG" >"$TMP/d.tar" && sha256sum "$TMP/d.tar" >/dev/null; }
docker_save_gz() { "$DOCKER" save "$IMG" | gzip -6 >"$TMP/d.tar.gz" && sha256sum "$TMP/d.tar.gz" >/dev/null; }
docker_load() { sha256sum "$TMP/d.tar" >/dev/null && "$DOCKER" load -q -i "$TMP/d.tar"; }
kiln_export() { rm -f "$TMP"/k/*; "$KILN" image export "$IMG" -o "$TMP/k/k.tar"; }
kiln_export_gz() { rm -f "$TMP"/k/*; "$KILN" image export "$IMG" -o "$TMP/k/k.tar.gz"; }
docker_save_zst() { "$DOCKER" save "$IMG" | zstd -q -3 >"$TMP/d.tar.zst" && sha256sum "$TMP/d.tar.zst" >/dev/null; }
docker_load_zst() { sha256sum "$TMP/d.tar.zst" >/dev/null && zstd -q -dc "$TMP/d.tar.zst" | "$DOCKER" load -q; }
kiln_export_zst() { rm -f "$TMP"/z/*; "$KILN" image export "$IMG" -o "$TMP/z/k.tar.zst"; }
kiln_import_zst() { "$KILN" image import "$TMP/z/k.tar.zst"; }
kiln_import() { "$KILN" image import "$TMP/k/k.tar"; }
# A user's import (sudo mode) streams through the renaming filter and
# relabels: the bench's image carries no owner, so each run adopts it.
BENCH_UID=${BENCH_UID:-4799}
kiln_import_user() {
  env SUDO_UID="$BENCH_UID" SUDO_GID="$BENCH_UID" SUDO_USER=kiln-bench \
    KILN_NAMESPACE=kilnbench$$ "$KILN" image import "$TMP/k/k.tar"
}

mkdir -p "$TMP/k" "$TMP/z"
chmod 0755 "$TMP"
export KILN_TAR_MODE=0644 # the user's import reads the admin's export
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMG")
echo "image $SRC ($((size / 1000000)) MB), best of $RUNS runs"

t_ds=$(best docker_save)
t_ke=$(best kiln_export)
bytes=$(stat -c %s "$TMP/k/k.tar")
t_dl=$(best docker_load)
t_ki=$(best kiln_import)
t_kiu=$(best kiln_import_user)
t_dsz=$(best docker_save_gz)
t_kez=$(best kiln_export_gz)
t_dsZ=$(best docker_save_zst)
t_keZ=$(best kiln_export_zst)
t_dlZ=$(best docker_load_zst)
t_kiZ=$(best kiln_import_zst)

row() { # label kiln_s docker_s
  awk -v l="$1" -v k="$2" -v d="$3" -v b="$bytes" \
    'BEGIN { printf "%-26s kiln %6.2f s (%6.1f MB/s)  docker %6.2f s (%6.1f MB/s)  ratio %.2f\n",
             l, k, b/k/1e6, d, b/d/1e6, k/d }'
}
row "export (plain tar)" "$t_ke" "$t_ds"
row "import (plain tar)" "$t_ki" "$t_dl"
row "import as a user (rename)" "$t_kiu" "$t_dl"
row "export (gzip)" "$t_kez" "$t_dsz"
row "export (zstd)" "$t_keZ" "$t_dsZ"
row "import (zstd)" "$t_kiZ" "$t_dlZ"
echo "(sizes: tar $((bytes / 1000000)) MB, gzip $(($(stat -c %s "$TMP/d.tar.gz") / 1000000)) MB, zstd $(($(stat -c %s "$TMP/z/k.tar.zst") / 1000000)) MB; baselines: docker save | gzip -6 / zstd -3, then sha256sum; sha256sum, then zstd -dc | docker load)"
echo "(MB/s over the uncompressed tar: $((bytes / 1000000)) MB; import = full verify pass + load)"
