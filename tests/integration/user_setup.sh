# templates/user-setup.sh on images whose accounts collide with the
# caller's: the ids come out right, every name exists once, and a second
# run changes nothing. On Debian (shadow-utils) and busybox (no useradd).
. "$KILN_ROOT/tests/integration/lib.bash"
kt_require_engine
SETUP=$KILN_ROOT/templates/user-setup.sh
IMAGES=("$KT_BASE" kiln-test/busybox:latest)

# Runs PREPARE (shell lines that append accounts), the setup for
# alice UID GID twice, and prints: id of alice, the names in /etc/group and
# /etc/passwd that occur twice, and whether the second run changed a file.
run_case() { # IMAGE UID GID PREPARE
  "$DOCKER" run --rm --label "kilntest=$KT_PREFIX" --user 0:0 \
    -v "$SETUP:/kiln-setup.sh:ro" --entrypoint /bin/sh "$1" -c '
      set -e
      '"$4"'
      s() { sh /kiln-setup.sh alice "$1" "$2" /home/alice /bin/sh 0 /workspace 2>&1; }
      s "$1" "$2" >/dev/null
      cat /etc/passwd /etc/group >/tmp/before
      s "$1" "$2" >/dev/null
      cat /etc/passwd /etc/group | cmp -s - /tmp/before && again=same || again=changed
      echo "$(id -u alice):$(id -g alice) $(awk -F: "{ print \$1 }" /etc/group | sort | uniq -d | tr "\n" " ")| $(awk -F: "{ print \$1 }" /etc/passwd | sort | uniq -d | tr "\n" " ")| $again"
      touch /workspace/w && echo ws-ok || true
    ' sh "$2" "$3" 2>&1
}

add() { printf 'echo %q >>/etc/%s;' "$2" "$1"; }

for img in "${IMAGES[@]}"; do
  # The image's user holds the caller's uid, with a personal group of the
  # same name; the caller's gid is held by another group. Renaming the user
  # used to rename that personal group as well: two groups called alice.
  prep="$(add passwd 'ubuntu:x:1000:1000::/home/ubuntu:/bin/sh')$(add group 'ubuntu:x:1000:')$(add group 'staff2:x:2000:ubuntu')"
  out=$(run_case "$img" 1000 2000 "$prep")
  equals "$(head -n 1 <<<"$out")" "1000:2000 | | same" "$img: uid renamed, gid renamed"
  contains "$out" "ws-ok"

  # Both the caller's name and ids are taken by different accounts.
  prep="$(add passwd 'alice:x:5000:5000::/home/alice:/bin/sh')$(add group 'alice:x:5000:')$(add passwd 'ubuntu:x:4711:4711::/home/ubuntu:/bin/sh')$(add group 'ubuntu:x:4711:alice')"
  out=$(run_case "$img" 4711 4711 "$prep")
  equals "$(head -n 1 <<<"$out")" "4711:4711 | | same" "$img: name and ids taken"

  # Nothing collides: created.
  out=$(run_case "$img" 4711 4712 ":")
  equals "$(head -n 1 <<<"$out")" "4711:4712 | | same" "$img: fresh"

  # The name exists with other ids and the gid is free.
  prep="$(add passwd 'alice:x:5000:5000::/home/x:/bin/sh')$(add group 'alice:x:5000:')"
  out=$(run_case "$img" 4711 4712 "$prep")
  equals "$(head -n 1 <<<"$out")" "4711:4712 | | same" "$img: name moved to new ids"
  pass "$img: collisions resolved, names unique, idempotent"
done

kt_finish
