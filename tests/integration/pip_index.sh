#!/usr/bin/env bash
# packages.pip_index_url, pip_extra_index_url and pip_find_links: a site
# with its own index and a wheel folder builds without PyPI. Three wheels
# are made here (zip, no network): one served as the index, one as the extra
# index (python3's http.server on the engine's bridge gateway), one in a
# folder of the project, which the context sends and pip finds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

gw=$("$DOCKER" network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
[ -n "$gw" ] || { echo "no gateway on the bridge network" >&2; exit 1; }

# wheel DIR NAME: a minimal pure-Python wheel NAME-0.1-py3-none-any.whl in DIR.
wheel() {
  mkdir -p "$1"
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
d, n = sys.argv[1], sys.argv[2]
di = f"{n}-0.1.dist-info"
files = {
    f"{n}/__init__.py": f"NAME = '{n}'\n",
    f"{di}/METADATA": f"Metadata-Version: 2.1\nName: {n}\nVersion: 0.1\n",
    f"{di}/WHEEL": "Wheel-Version: 1.0\nGenerator: kiln-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files[f"{di}/RECORD"] = "".join(f"{p},,\n" for p in files) + f"{di}/RECORD,,\n"
with zipfile.ZipFile(f"{d}/{n}-0.1-py3-none-any.whl", "w") as z:
    for p, text in files.items():
        z.writestr(p, text)
PY
}

web=$KT_TMP/web
wheel "$web/simple/ktalpha" ktalpha
wheel "$web/extra/ktbeta" ktbeta
dir=$(project kt-pipidx "version: 1
project: kt-pipidx
base:
  image: $KT_BASE
packages:
  pip: [ktalpha, ktbeta, 'ktgamma==0.1']
  pip_index_url: http://$gw:PORTX/simple/
  pip_extra_index_url: http://$gw:PORTX/extra/
  pip_find_links: wheels")
wheel "$dir/wheels" ktgamma
give_to_caller "$dir"

# A free port, then the index server (ended by its PID on exit).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
sed -i "s/PORTX/$port/" "$dir/kiln.yaml"
python3 -m http.server "$port" --bind "$gw" --directory "$web" >"$KT_TMP/http.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; kt_cleanup' EXIT
for _ in $(seq 50); do curl -sf "http://$gw:$port/simple/" >/dev/null && break; sleep 0.1; done

expect 0 "$KILN" validate "$dir"
expect 0 "$KILN" context ls "$dir"
contains "$out" "wheels/ktgamma-0.1-py3-none-any.whl"
expect 0 "$KILN" generate "$dir"
contains "$out" 'COPY ["wheels", "/etc/kiln/pip-find-links/"]'
contains "$out" "\"--index-url\", \\"
contains "$out" "\"http://$gw:$port/simple/\""
contains "$out" "\"--extra-index-url\""
contains "$out" "\"--find-links\""
pass "rendered"

expect 0 "$KILN" --quiet image create "$dir"
img=$(image_of kt-pipidx)
got=$("$DOCKER" run --rm --entrypoint python3 "$img" -c 'import ktalpha, ktbeta, ktgamma; print(ktalpha.NAME, ktbeta.NAME, ktgamma.NAME)' 2>&1)
equals "$got" "ktalpha ktbeta ktgamma" "packages from the index, the extra index and the wheel folder"
grep -q "GET /simple/ktalpha/" "$KT_TMP/http.log" || fail "pip never asked the index: $(cat "$KT_TMP/http.log")"
grep -q "GET /extra/ktbeta/" "$KT_TMP/http.log" || fail "pip never asked the extra index"
pass "built from a local index and a wheel folder"

kt_finish
