# A test registry on loopback: Debian's docker-registry with htpasswd auth
# and deletes enabled. Sourced; defines ensure_registry. Installs nothing
# (scripts/lib.sh installs docker-registry and apache2-utils).
#
#   ensure_registry   starts it when 127.0.0.1:$KILN_REGISTRY_PORT does not
#                     answer /v2/, and waits until it does.
#
# After it: KILN_TEST_REGISTRY=127.0.0.1:5000, KILN_TEST_REGISTRY_USER and
# KILN_TEST_REGISTRY_PASSWORD hold the test account. The engine needs no
# daemon.json change: Docker contacts 127.0.0.0/8 registries over plain
# HTTP already (checked by registry_engine_accepts below, never a restart).

KILN_REGISTRY_PORT=${KILN_REGISTRY_PORT:-5000}
KILN_REGISTRY_DIR=${KILN_REGISTRY_DIR:-/var/lib/kiln-test-registry}
KILN_TEST_REGISTRY=127.0.0.1:$KILN_REGISTRY_PORT
KILN_TEST_REGISTRY_USER=kiln-test
KILN_TEST_REGISTRY_PASSWORD=kiln-test-password

# 401 (auth asked) or 200 from /v2/ means a registry answers.
registry_answers() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$KILN_TEST_REGISTRY/v2/")
  [ "$code" = 401 ] || [ "$code" = 200 ]
}

registry_write_config() {
  mkdir -p "$KILN_REGISTRY_DIR/data"
  htpasswd -Bbn "$KILN_TEST_REGISTRY_USER" "$KILN_TEST_REGISTRY_PASSWORD" \
    >"$KILN_REGISTRY_DIR/htpasswd" || return 1
  cat >"$KILN_REGISTRY_DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $KILN_REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: $KILN_TEST_REGISTRY
auth:
  htpasswd:
    realm: kiln-test
    path: $KILN_REGISTRY_DIR/htpasswd
EOF
}

# Docker treats 127.0.0.0/8 as insecure (plain HTTP) by itself; say so
# when the engine's configuration disagrees rather than restarting it.
registry_engine_accepts() {
  local info
  info=$(curl -s --max-time 5 --unix-socket /var/run/docker.sock http://localhost/info) || return 1
  grep -q '"127.0.0.0/8"' <<<"$info" && return 0
  echo "the engine does not list 127.0.0.0/8 as insecure; add \"insecure-registries\":" \
    "[\"$KILN_TEST_REGISTRY\"] to /etc/docker/daemon.json and restart dockerd" >&2
  return 1
}

ensure_registry() {
  if ! registry_answers; then
    command -v docker-registry >/dev/null ||
      { echo "docker-registry is not installed (scripts/lib.sh installs it)" >&2; return 1; }
    registry_write_config || return 1
    nohup /usr/bin/docker-registry serve "$KILN_REGISTRY_DIR/config.yml" \
      >>"$KILN_REGISTRY_DIR/registry.log" 2>&1 &
    local i
    for i in $(seq 1 50); do
      registry_answers && break
      sleep 0.2
    done
    registry_answers || { tail -5 "$KILN_REGISTRY_DIR/registry.log" >&2; return 1; }
  fi
  # A registry someone else started must know the test account.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
    -u "$KILN_TEST_REGISTRY_USER:$KILN_TEST_REGISTRY_PASSWORD" "http://$KILN_TEST_REGISTRY/v2/")
  [ "$code" = 200 ] ||
    { echo "the registry at $KILN_TEST_REGISTRY refuses the test account (HTTP $code)" >&2; return 1; }
  registry_engine_accepts
}
