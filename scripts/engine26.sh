# A second, newer engine beside the machine's Docker 20.10: Debian 13
# (trixie)'s docker.io 26 and containerd 1.7, unpacked from Debian's own
# packages into a folder (nothing is installed on the machine, and its apt
# sources stay bookworm). Sourced after lib.sh; defines:
#
#   ensure_engine26   downloads and unpacks the packages when they are not
#                     there yet, starts dockerd unless one answers on
#                     $KILN_E26_SOCKET, and imports the offline base images.
#                     Sets KILN_E26_STARTED=1 when it started the daemon.
#   stop_engine26     stops the daemon this machine's pidfile names.
#   engine26_exec CMD...
#                     runs CMD in a private mount namespace where
#                     /var/run/docker.sock is engine 26's socket, so the
#                     docker CLI and kiln in every mode (sudo mode ignores
#                     DOCKER_HOST) talk to it. Nobody outside CMD sees it.
#
# The daemon has its own socket, data root, exec root (so its own managed
# containerd), pidfile and bridge. Never --bridge=none: at start that deletes
# docker0, the bridge the first engine's containers need.

KILN_E26_DIR=${KILN_E26_DIR:-/opt/kiln-engine26}
KILN_E26_DATA=${KILN_E26_DATA:-/var/lib/kiln-engine26}
KILN_E26_RUN=${KILN_E26_RUN:-/run/kiln-engine26}
KILN_E26_SOCKET=$KILN_E26_RUN/docker.sock
KILN_E26_PIDFILE=$KILN_E26_RUN/dockerd.pid
KILN_E26_LOG=${KILN_E26_LOG:-/var/log/kiln-engine26.log}
KILN_E26_BRIDGE=${KILN_E26_BRIDGE:-kiln26br0}
KILN_E26_ADDR=${KILN_E26_ADDR:-172.29.0.1/16}
KILN_E26_MIRROR=${KILN_E26_MIRROR:-http://deb.debian.org/debian}
# The major version the unpacked daemon must report.
KILN_E26_MAJOR=26

engine26_ping() {
  curl -sf --max-time 2 --unix-socket "$KILN_E26_SOCKET" http://localhost/_ping >/dev/null 2>&1
}

# apt-get with trixie as its only source and its own lists and caches: the
# machine's sources, lists and package caches are left as they are.
engine26_apt() {
  local state=$1
  shift
  apt-get -q -o Dir::Etc::sourcelist="$state/trixie.sources" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$state/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o APT::Sandbox::User=root "$@"
}

# Unpacks trixie's docker.io, containerd and docker-cli (the 26 client: the
# .dockerignore comparison needs a CLI of 23 or newer) into $KILN_E26_DIR. Trixie's runc
# needs a newer glibc than Debian 12's: the daemon finds Debian 12's
# /usr/sbin/runc on PATH instead (the runc package is not fetched at all).
engine26_unpack() {
  [ -x "$KILN_E26_DIR/usr/sbin/dockerd" ] && [ -x "$KILN_E26_DIR/usr/bin/docker" ] && return 0
  log "fetching Docker $KILN_E26_MAJOR from Debian 13's packages into $KILN_E26_DIR"
  local tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/debs"
  cat >"$tmp/trixie.sources" <<EOF
Types: deb
URIs: $KILN_E26_MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  engine26_apt "$tmp" update >/dev/null &&
    (cd "$tmp/debs" && engine26_apt "$tmp" download docker.io containerd docker-cli >/dev/null) ||
    { rm -rf "$tmp"; die "could not download docker.io, containerd and docker-cli from trixie"; }
  rm -rf "$KILN_E26_DIR.new"
  local deb
  for deb in "$tmp"/debs/*.deb; do
    dpkg -x "$deb" "$KILN_E26_DIR.new" || { rm -rf "$tmp"; die "dpkg -x $deb failed"; }
  done
  rm -rf "$tmp"
  rm -f "$KILN_E26_DIR.new/usr/sbin/runc" "$KILN_E26_DIR.new/usr/bin/runc"
  local version
  version=$("$KILN_E26_DIR.new/usr/sbin/dockerd" --version) ||
    die "the unpacked dockerd does not run on this system"
  [[ $version == "Docker version $KILN_E26_MAJOR."* ]] ||
    die "trixie's docker.io is not Docker $KILN_E26_MAJOR: $version"
  rm -rf "$KILN_E26_DIR"
  mv "$KILN_E26_DIR.new" "$KILN_E26_DIR"
}

# The daemon's own bridge (an address the first engine does not use).
engine26_bridge() {
  ip link show "$KILN_E26_BRIDGE" >/dev/null 2>&1 && return 0
  ip link add "$KILN_E26_BRIDGE" type bridge &&
    ip addr add "$KILN_E26_ADDR" dev "$KILN_E26_BRIDGE" &&
    ip link set "$KILN_E26_BRIDGE" up ||
    die "could not create bridge $KILN_E26_BRIDGE"
}

# RUN steps fetch packages from the Debian mirror, so the bridge needs a way
# out. --iptables=false keeps engine 26 away from the chains the first engine
# owns (DOCKER, DOCKER-USER, DOCKER-ISOLATION-*, FORWARD policy DROP); these
# three rules, each only about this bridge, give its containers what the
# first engine gives docker0's: masquerade out, replies back in.
engine26_network() {
  local net=${KILN_E26_ADDR%.*/*}.0/${KILN_E26_ADDR#*/} tag=(-m comment --comment kiln-engine26)
  local rules=(
    "nat POSTROUTING -s $net ! -o $KILN_E26_BRIDGE -j MASQUERADE"
    "filter FORWARD -i $KILN_E26_BRIDGE ! -o $KILN_E26_BRIDGE -j ACCEPT"
    "filter FORWARD -o $KILN_E26_BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
  )
  local rule table chain args
  for rule in "${rules[@]}"; do
    read -r table chain args <<<"$rule"
    # shellcheck disable=SC2086
    iptables -t "$table" -C "$chain" $args "${tag[@]}" 2>/dev/null ||
      iptables -t "$table" -A "$chain" $args "${tag[@]}" ||
      die "could not add the iptables rule for $KILN_E26_BRIDGE: $rule"
  done
}

engine26_start() {
  engine26_ping && return 0
  [ "$(id -u)" -eq 0 ] || die "no Docker $KILN_E26_MAJOR at $KILN_E26_SOCKET and not root to start one"
  engine26_unpack
  engine26_bridge
  engine26_network
  mkdir -p "$KILN_E26_RUN" "$KILN_E26_DATA"
  log "starting Docker $KILN_E26_MAJOR on $KILN_E26_SOCKET (log: $KILN_E26_LOG)"
  # Its usr/bin first on PATH: the daemon starts that containerd and its shim;
  # runc and docker-init come from Debian 12 (/usr/sbin, /usr/bin).
  PATH="$KILN_E26_DIR/usr/bin:$KILN_E26_DIR/usr/sbin:/usr/sbin:/usr/bin:/sbin:/bin" \
    nohup "$KILN_E26_DIR/usr/sbin/dockerd" --host "unix://$KILN_E26_SOCKET" \
    --data-root "$KILN_E26_DATA" --exec-root "$KILN_E26_RUN/exec" --pidfile "$KILN_E26_PIDFILE" \
    --bridge "$KILN_E26_BRIDGE" --iptables=false --config-file "$KILN_E26_RUN/daemon.json" \
    >"$KILN_E26_LOG" 2>&1 </dev/null &
  KILN_E26_STARTED=1
  local i
  for i in $(seq 1 120); do
    engine26_ping && return 0
    sleep 0.5
  done
  tail -20 "$KILN_E26_LOG" >&2
  die "Docker $KILN_E26_MAJOR did not answer /_ping on $KILN_E26_SOCKET within 60 s"
}

ensure_engine26() {
  KILN_E26_STARTED=0
  mkdir -p "$KILN_E26_RUN"
  # Its own (empty) configuration, never the first engine's daemon.json.
  [ -f "$KILN_E26_RUN/daemon.json" ] || echo '{}' >"$KILN_E26_RUN/daemon.json"
  engine26_start
  # The offline base images, made the same way as for the first engine.
  (
    export DOCKER_HOST=unix://$KILN_E26_SOCKET
    ensure_base_image
    ensure_busybox_image
  ) || die "could not create the base images on Docker $KILN_E26_MAJOR"
}

stop_engine26() {
  local pid
  pid=$(cat "$KILN_E26_PIDFILE" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  log "stopping Docker $KILN_E26_MAJOR (pid $pid)"
  kill -TERM "$pid"
  local i
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  die "Docker $KILN_E26_MAJOR (pid $pid) did not stop within 30 s"
}

engine26_exec() {
  engine26_ping || die "Docker $KILN_E26_MAJOR does not answer on $KILN_E26_SOCKET"
  unshare --mount --propagation private -- bash -c \
    'mount --bind "$0" /var/run/docker.sock && exec "$@"' "$KILN_E26_SOCKET" "$@"
}
