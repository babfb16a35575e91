#!/usr/bin/env bash
# Engine access like docker's, against a real TLS endpoint on loopback: a
# throwaway CA, a server certificate for 127.0.0.1 and a client certificate
# made here with the openssl CLI, and tls_proxy.py in front of the engine's
# socket, which requires a client certificate signed by that CA.
#  - DOCKER_HOST=tcp://127.0.0.1:PORT + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH:
#    list, create, deploy, shell (the upgraded exec stream) and retire work;
#    without a client certificate, with the wrong CA, with a key file
#    missing, with a ca.pem that is a FIFO, or in plain HTTP, kiln fails
#    clearly (exit 3, or 2 for unusable files) and never hangs.
#  - DOCKER_TLS=1 without DOCKER_TLS_VERIFY: TLS without verifying the engine.
#  - docker contexts: one made by the docker CLI itself (`docker context
#    create`), chosen by DOCKER_CONTEXT and by config.json's currentContext;
#    DOCKER_HOST beats the context, "default" is the default socket.
#  - sudo mode: a non-admin caller's DOCKER_CONTEXT, DOCKER_CONFIG,
#    DOCKER_CERT_PATH and DOCKER_TLS_VERIFY are ignored (root's kiln stays
#    on the default socket and reads none of those files).
# The environment is honoured for admins only, so kiln runs as real root
# without SUDO_* (as_admin) except in the sudo-mode checks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine
for tool in openssl python3 sha256sum; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

C=$KT_TMP/pki
mkdir -p "$C"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
# sign NAME CN EXT: NAME-cert.pem for NAME-key.pem, signed by the test CA.
sign() {
  key "$C/$1-key.pem"
  openssl req -new -key "$C/$1-key.pem" -subj "/CN=$2" -out "$C/$1.csr" 2>/dev/null &&
    printf '%b' "$3" >"$C/$1.ext" &&
    openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.pem" -CAkey "$C/ca-key.pem" -CAcreateserial \
      -days 2 -extfile "$C/$1.ext" -out "$C/$1-cert.pem" 2>/dev/null ||
    { echo "openssl could not make the $1 certificate" >&2; exit 1; }
}
key "$C/ca-key.pem"
openssl req -x509 -new -key "$C/ca-key.pem" -subj "/CN=kiln-test-ca-$$" -days 2 -out "$C/ca.pem" 2>/dev/null
sign server 127.0.0.1 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'
sign client kiln-test-client 'extendedKeyUsage=clientAuth\n'
key "$C/other-key.pem"
openssl req -x509 -new -key "$C/other-key.pem" -subj "/CN=other-ca-$$" -days 2 -out "$C/other.pem" 2>/dev/null

# Certificate folders as DOCKER_CERT_PATH sees them.
certdir() { # NAME CA CERT KEY (a "-" leaves the file out)
  local d=$KT_TMP/$1
  mkdir -p "$d"
  [ "$2" = - ] || cp "$2" "$d/ca.pem"
  [ "$3" = - ] || cp "$3" "$d/cert.pem"
  [ "$4" = - ] || cp "$4" "$d/key.pem"
  echo "$d"
}
GOOD=$(certdir good "$C/ca.pem" "$C/client-cert.pem" "$C/client-key.pem")
NOCERT=$(certdir nocert "$C/ca.pem" - -)
NOKEY=$(certdir nokey "$C/ca.pem" "$C/client-cert.pem" -)
WRONGCA=$(certdir wrongca "$C/other.pem" "$C/client-cert.pem" "$C/client-key.pem")
FIFO=$(certdir fifo - "$C/client-cert.pem" "$C/client-key.pem")
mkfifo "$FIFO/ca.pem"

LOG=$KT_TMP/requests.log
: >"$LOG"
python3 "$KILN_ROOT/tests/integration/tls_proxy.py" /var/run/docker.sock "$C/ca.pem" \
  "$C/server-cert.pem" "$C/server-key.pem" --log "$LOG" >"$KT_TMP/proxy.out" 2>&1 &
proxy=$!
trap 'kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null; kt_cleanup' EXIT
PORT=
for _ in $(seq 1 300); do
  PORT=$(awk '/^ready/ {print $2}' "$KT_TMP/proxy.out" 2>/dev/null)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the TLS proxy did not start: $(cat "$KT_TMP/proxy.out")" >&2; exit 1; }
EP=tcp://127.0.0.1:$PORT

# requests: how many requests went through the TLS endpoint so far.
requests() { wc -l <"$LOG"; }
# tls_kiln [VAR=value...] ARGS...: kiln as an admin, bounded in time.
tls_kiln() {
  local vars=()
  while [[ $1 == *=* ]]; do vars+=("$1") && shift; done
  as_admin env -u DOCKER_CONTEXT -u DOCKER_CONFIG -u DOCKER_TLS -u DOCKER_TLS_VERIFY \
    -u DOCKER_CERT_PATH HOME="$KT_TMP/home" "${vars[@]}" timeout 120 "$KILN" "$@"
}
mkdir -p "$KT_TMP/home"
VERIFY=(DOCKER_HOST="$EP" DOCKER_TLS_VERIFY=1)

# ---- DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH ----
before=$(requests)
expect 0 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" image list
[ "$(requests)" -gt "$before" ] || fail "image list did not go through the TLS endpoint"
pass "image list over TLS with a client certificate"

# DOCKER_CERT_PATH unset: the docker config folder (~/.docker) holds them.
mkdir -p "$KT_TMP/home/.docker" && cp "$GOOD"/*.pem "$KT_TMP/home/.docker/"
expect 0 tls_kiln "${VERIFY[@]}" image list
pass "certificates from ~/.docker without DOCKER_CERT_PATH"
rm -f "$KT_TMP/home/.docker"/*.pem

# Failures: clear, bounded, the right exit code.
expect 3 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$NOCERT" image list
contains "$errout" "TLS with the Docker engine at $EP failed"
contains "$errout" "client certificate none (no cert.pem and key.pem in $NOCERT)"
expect 3 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$WRONGCA" image list
contains "$errout" "TLS with the Docker engine at $EP failed"
contains "$errout" "$WRONGCA/ca.pem"
expect 2 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$NOKEY" image list
contains "$errout" "$NOKEY/key.pem is missing"
expect 2 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$FIFO" image list
contains "$errout" "$FIFO/ca.pem is a FIFO"
expect 3 tls_kiln DOCKER_HOST="$EP" image list
contains "$errout" "DOCKER_TLS_VERIFY=1"
pass "no client certificate, wrong CA, missing key, FIFO, plain HTTP: clear errors, no hang"

# DOCKER_TLS=1 without DOCKER_TLS_VERIFY: TLS, the engine not verified (the
# wrong CA does not matter), the client certificate still sent.
expect 0 tls_kiln DOCKER_HOST="$EP" DOCKER_TLS=1 DOCKER_CERT_PATH="$WRONGCA" image list
expect 3 tls_kiln DOCKER_HOST="$EP" DOCKER_TLS=1 DOCKER_CERT_PATH="$NOCERT" image list
pass "DOCKER_TLS=1: TLS without verifying the engine"

# ---- create, deploy, shell, retire over TLS ----
name=kt-tls-$$
dir=$(project tls "version: 1
project: $name
base: {image: $KT_BASE}
user: {name: kt-tls, uid: $SUDO_UID, gid: $SUDO_GID}")
expect 0 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" --quiet image create "$dir"
cd "$dir" || exit 1
before=$(requests)
expect 0 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" container deploy "$(image_of "$name")" --name "$name"
[ "$(requests)" -gt "$before" ] || fail "deploy did not go through the TLS endpoint"
cd - >/dev/null || exit 1
expect 0 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" container shell "$name" -- sh -c 'echo out-$((6*7)); echo err >&2; exit 0' </dev/null
contains "$out" "out-42"
# piped input: its end half-closes the stream, the output still comes back
out=$(printf 'echo piped-$((2*21))\n' | tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" container shell "$name" 2>&1)
contains "$out" "piped-42"
grep -q "exec/.*/start" "$LOG" || fail "the exec stream did not go through the TLS endpoint"
expect 0 tls_kiln "${VERIFY[@]}" DOCKER_CERT_PATH="$GOOD" container retire "$name" --force
pass "image create, container deploy, shell and retire over TLS"

# ---- docker contexts ----
# The context store as the docker CLI writes it (contexts/meta/<sha256 of
# the name>/meta.json, contexts/tls/<sha256>/docker/*.pem).
DCFG=$KT_TMP/dockercfg
mkdir -p "$DCFG"
ctx=kt-tls-ctx
if DOCKER_CONFIG=$DCFG "$DOCKER" context create "$ctx" \
  --docker "host=$EP,ca=$GOOD/ca.pem,cert=$GOOD/cert.pem,key=$GOOD/key.pem" >/dev/null 2>&1; then
  echo "context made by the docker CLI"
else
  h=$(printf '%s' "$ctx" | sha256sum | cut -d' ' -f1)
  mkdir -p "$DCFG/contexts/meta/$h" "$DCFG/contexts/tls/$h/docker"
  printf '{"Name":"%s","Metadata":{},"Endpoints":{"docker":{"Host":"%s","SkipTLSVerify":false}}}' \
    "$ctx" "$EP" >"$DCFG/contexts/meta/$h/meta.json"
  cp "$GOOD"/*.pem "$DCFG/contexts/tls/$h/docker/"
fi
h=$(printf '%s' "$ctx" | sha256sum | cut -d' ' -f1)
[ -f "$DCFG/contexts/meta/$h/meta.json" ] || fail "no meta.json where docker's store keeps it"

before=$(requests)
expect 0 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_CONTEXT="$ctx" image list
[ "$(requests)" -gt "$before" ] || fail "DOCKER_CONTEXT: kiln did not use the context's endpoint"
printf '{"currentContext":"%s"}\n' "$ctx" >"$DCFG/config.json"
before=$(requests)
expect 0 tls_kiln DOCKER_CONFIG="$DCFG" image list
[ "$(requests)" -gt "$before" ] || fail "currentContext: kiln did not use the context's endpoint"
# ~/.docker is the default config folder
cp -r "$DCFG/." "$KT_TMP/home/.docker/"
before=$(requests)
expect 0 tls_kiln image list
[ "$(requests)" -gt "$before" ] || fail "~/.docker/config.json's currentContext was not used"
pass "a docker context via DOCKER_CONTEXT, currentContext, ~/.docker"

# DOCKER_HOST beats the context; "default" is the default socket.
before=$(requests)
expect 0 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_HOST=unix:///var/run/docker.sock image list
expect 0 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_CONTEXT=default image list
equals "$(requests)" "$before" "requests through the context's endpoint with DOCKER_HOST / default"
expect 2 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_CONTEXT=kt-no-such-ctx image list
contains "$errout" 'docker context "kt-no-such-ctx" does not exist'
# the context's TLS folder without the client certificate: refused by the endpoint
rm "$DCFG/contexts/tls/$h/docker/cert.pem" "$DCFG/contexts/tls/$h/docker/key.pem"
expect 3 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_CONTEXT="$ctx" image list
contains "$errout" "context \"$ctx\""
cp "$GOOD/cert.pem" "$GOOD/key.pem" "$DCFG/contexts/tls/$h/docker/"
pass "DOCKER_HOST beats the context, default context, missing context"

# ---- sudo mode: a non-admin caller cannot steer root's kiln ----
# A context of the caller's pointing at a dead address, a FIFO as ca.pem:
# an admin with the same environment fails (so the test can tell), the
# caller (root with SUDO_*) gets the default socket and a warning.
dead=kt-dead-ctx
hd=$(printf '%s' "$dead" | sha256sum | cut -d' ' -f1)
mkdir -p "$DCFG/contexts/meta/$hd"
printf '{"Name":"%s","Endpoints":{"docker":{"Host":"tcp://127.0.0.1:1"}}}' "$dead" \
  >"$DCFG/contexts/meta/$hd/meta.json"
give_to_caller "$DCFG" "$FIFO"
expect 3 tls_kiln DOCKER_CONFIG="$DCFG" DOCKER_CONTEXT="$dead" image list
before=$(requests)
for vars in "DOCKER_CONFIG=$DCFG DOCKER_CONTEXT=$dead" "DOCKER_CONFIG=$DCFG" \
  "DOCKER_CONFIG=$DCFG DOCKER_CONTEXT=$ctx" "DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$FIFO" \
  "DOCKER_TLS=1 DOCKER_CERT_PATH=$NOKEY"; do
  # shellcheck disable=SC2086
  expect 0 env HOME="$KT_TMP/home" $vars timeout 60 "$KILN" image list
  contains "$errout" "is ignored"
done
equals "$(requests)" "$before" "requests through the TLS endpoint by a sudo-mode caller"
pass "sudo mode: the caller's contexts and TLS variables are ignored"

kt_finish
