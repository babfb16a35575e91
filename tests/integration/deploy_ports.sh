# Ports and logs (issue 10): a spec port is published on 127.0.0.1 only, on a
# port the engine picks, and deploy prints the address; -p takes docker's
# forms ([IP:]HOST:CONTAINER[/proto], CONTAINER), without an address on
# 127.0.0.1; bad forms exit 2 naming the value; container list shows the
# ports; container logs prints (and follows) the container's output,
# demultiplexed for a container without a TTY.
. "$KILN_ROOT/tests/integration/deploy_lib.bash"
kt_require_engine

# fetch URL: the body, retried while the server starts (at most 5 s).
fetch() {
  local body="" _
  for _ in $(seq 1 50); do
    body=$(curl -s --max-time 2 "$1") && [ -n "$body" ] && break
    sleep 0.1
  done
  printf '%s' "$body"
}
"$DOCKER" image inspect kiln-test/busybox:latest >/dev/null 2>&1 ||
  { echo "kiln-test/busybox:latest is missing (scripts/test creates it)" >&2; exit 1; }

as_user 0
WS=$(workspace_of 0)
IMG=$KT_PREFIX-$SUDO_UID/web:latest
mkdir -p "$KT_TMP/build"
cat >"$KT_TMP/build/Dockerfile" <<DOCKERFILE
FROM kiln-test/busybox:latest
RUN mkdir -p /www && echo hi-from-kiln >/www/index.html && echo "web:x:$SUDO_UID:$SUDO_GID::/tmp:/bin/sh" >>/etc/passwd
LABEL kiln.user-setup=true kiln.uid=$SUDO_UID kiln.gid=$SUDO_GID kiln.user=web kiln.project=web kiln.owner-uid=$SUDO_UID
DOCKERFILE
DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$IMG" "$KT_TMP/build" >/dev/null || fail "building $IMG"
cat >"$WS/kiln.yaml" <<'YAML'
project: web
base: {image: "kiln-test/busybox:latest"}
ports: [8080]
deploy:
  command: [httpd, -f, -vv, -p, "8080", -h, /www]
  env: {GREETING: hello}
  pids_limit: 64
YAML
chown "$SUDO_UID:$SUDO_GID" "$WS/kiln.yaml"
cd "$WS" || exit 1

# The spec's port: 127.0.0.1, a port the engine picked, printed by deploy.
expect 0 "$KILN" container deploy
url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' <<<"$out" | head -1)
[ -n "$url" ] || fail "no published address in: $out"
contains "$out" "$url -> 8080/tcp"
C=$(engine_name web)
equals "$("$DOCKER" inspect -f '{{json .HostConfig.PortBindings}}' "$C")" \
  '{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}' "PortBindings"
equals "$("$DOCKER" inspect -f '{{.HostConfig.PidsLimit}}' "$C")" 64 "deploy.pids_limit"
"$DOCKER" inspect -f '{{json .Config.Env}}' "$C" | grep -q '"GREETING=hello"' || fail "deploy.env"
equals "$(fetch "$url/")" "hi-from-kiln" "answer on $url"
port=${url##*:}
for ip in $(hostname -I 2>/dev/null); do
  case $ip in 127.*|::1) continue ;; esac
  case $ip in *:*) target="[$ip]" ;; *) target=$ip ;; esac
  curl -s --max-time 2 "http://$target:$port/" >/dev/null && fail "the port answers on $ip"
done
pass "spec port on 127.0.0.1 only, address printed, deploy.env and pids_limit"

# The --json result and container list carry the ports.
expect 0 "$KILN" container list
contains "$out" "PORTS"
contains "$out" "127.0.0.1:$port->8080/tcp"
expect 0 "$KILN" --json container list
contains "$out" "\"address\":\"127.0.0.1:$port\""
pass "container list shows the ports"

# logs: httpd's request log (TTY container: raw), --tail, --follow.
expect 0 "$KILN" container logs web
contains "$out" "url:/"
curl -s --max-time 2 "$url/second" >/dev/null
expect 0 "$KILN" container logs web --tail 2
contains "$out" "url:/second"
not_contains "$out" "url:/ "
lines=$(grep -c . <<<"$out")
[ "$lines" -le 2 ] || fail "--tail 2 printed $lines lines: $out"
"$KILN" container logs web -f >"$KT_TMP/follow.out" 2>&1 &
fpid=$!
sleep 1
curl -s --max-time 2 "$url/followed" >/dev/null
for _ in $(seq 1 30); do grep -q followed "$KT_TMP/follow.out" && break; sleep 0.1; done
kill -0 "$fpid" 2>/dev/null || fail "logs -f ended by itself"
kill -INT "$fpid"
wait "$fpid"
equals "$?" 130 "logs -f after SIGINT"
grep -q followed "$KT_TMP/follow.out" || fail "logs -f did not show new output: $(cat "$KT_TMP/follow.out")"
expect 1 "$KILN" container logs nosuch
contains "$errout" "you have no container named 'nosuch'"
expect 2 "$KILN" container logs web --tail x
contains "$errout" "--tail expects a number of lines"
expect 2 "$KILN" container logs web --bogus
contains "$errout" "unknown option"
pass "logs, --tail, --follow ended by SIGINT with 130"

# Another user cannot read them.
as_user 1
expect 1 "$KILN" container logs web
contains "$errout" "you have no container named 'web'"
expect 1 "$KILN" container logs "$C" --all-users
as_user 0
pass "another user's logs refused"

# A container without a TTY: stdout and stderr demultiplexed apart.
"$DOCKER" run -d --name "$(engine_name plain)" --label "kiln.owner-uid=$SUDO_UID" \
  kiln-test/busybox:latest sh -c 'echo to-stdout; echo to-stderr >&2' >/dev/null || fail "docker run"
"$DOCKER" wait "$(engine_name plain)" >/dev/null
expect 0 "$KILN" container logs plain
equals "$out" "to-stdout" "stdout of a non-TTY container"
equals "$errout" "to-stderr" "stderr of a non-TTY container"
pass "non-TTY logs demultiplexed"

# -p forms: an explicit loopback address and port (replacing the spec's
# binding of 8080); bad forms exit 2.
expect 0 "$KILN" container deploy web --name web2 -p 127.0.0.1:18123:8080
contains "$out" "http://127.0.0.1:18123 -> 8080/tcp"
equals "$("$DOCKER" inspect -f '{{json .HostConfig.PortBindings}}' "$(engine_name web2)")" \
  '{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"18123"}]}' "PortBindings of web2"
equals "$(fetch http://127.0.0.1:18123/)" "hi-from-kiln" "answer on 18123"
expect 0 "$KILN" --json container deploy web --name web3 -p 8080
contains "$out" '"ports":[{"container":"8080/tcp","host_ip":"127.0.0.1"'
for bad in "localhost:18124:8080|not a literal IPv4 or IPv6 address" \
  "8080/sctp|the protocol must be tcp or udp" "18124:http|the container port is not 1..65535" \
  "::1:18124:8080|write an IPv6 address in [brackets]"; do
  expect 2 "$KILN" container deploy web --name bad -p "${bad%%|*}"
  contains "$errout" "port \"${bad%%|*}\" is not valid"
  contains "$errout" "${bad#*|}"
done
expect 1 "$KILN" container deploy web --name low -p 127.0.0.1:80:8080
"$DOCKER" inspect "$(engine_name bad)" >/dev/null 2>&1 && fail "a container was made for a bad -p"
pass "-p IP:HOST:CONTAINER works; bad forms exit 2 with the reason"
kt_finish
