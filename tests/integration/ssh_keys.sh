#!/usr/bin/env bash
# ssh images between two users: every container makes its own host key at
# first start (none lives in a cached layer the users' images share) and
# keeps it across restarts; each user logs in with their own key only, as
# themselves, never as root.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

UIDS=("$SUDO_UID" $((SUDO_UID + 3)))
GIDS=("$SUDO_GID" $((SUDO_GID + 3)))
as_nth() { env SUDO_USER="kt-ssh$1" SUDO_UID="${UIDS[$1]}" SUDO_GID="${GIDS[$1]}" "${@:2}"; }
SSH=(ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o ConnectTimeout=5 -o LogLevel=ERROR)

# The address deploy printed for 2222/tcp ("http://127.0.0.1:PORT -> 2222/tcp").
port_of() { sed -n 's|^.*127\.0\.0\.1:\([0-9]*\) -> 2222/tcp.*$|\1|p' <<<"$1" | head -1; }

# Waits (bounded) until sshd answers on port $1 and prints its host key.
host_key() {
  local i key
  for i in $(seq 1 50); do
    key=$(ssh-keyscan -T 2 -p "$1" -t ed25519 127.0.0.1 2>/dev/null | awk '{ print $3 }')
    [ -n "$key" ] && { echo "$key"; return 0; }
    sleep 0.2
  done
  return 1
}

declare -a dirs ports keys
for n in 0 1; do
  dirs[n]=$KT_TMP/ssh$n
  mkdir -p "${dirs[n]}"
  ssh-keygen -q -t ed25519 -N '' -f "$KT_TMP/id$n" -C "kt-ssh$n"
  cp "$KT_TMP/id$n.pub" "${dirs[n]}/authorized_keys"
  printf 'version: 1\nproject: kt-ssh\nbase: {image: %s}\nssh: {enabled: true, port: 2222, authorized_keys: authorized_keys}\n' \
    "$KT_BASE" >"${dirs[n]}/kiln.yaml"
  chown -R "${UIDS[n]}:${GIDS[n]}" "${dirs[n]}"
  expect 0 as_nth "$n" "$KILN" --quiet image create "${dirs[n]}"
  cd "${dirs[n]}" || exit 1
  expect 0 as_nth "$n" "$KILN" container deploy -p 2222
  cd - >/dev/null || exit 1
  ports[n]=$(port_of "$out")
  [ -n "${ports[n]}" ] || fail "user $n: no published address in: $out"
  keys[n]=$(host_key "${ports[n]}") || fail "user $n: sshd does not answer on ${ports[n]}"
done
[ "${keys[0]}" != "${keys[1]}" ] || fail "two users' containers share a host key"
for n in 0 1; do
  img="$KT_PREFIX-${UIDS[n]}/kt-ssh:latest"
  n_keys=$("$DOCKER" run --rm --entrypoint sh "$img" -c 'ls /etc/ssh/kiln-host-keys /etc/ssh/ssh_host_* 2>/dev/null | grep -c _key')
  equals "$n_keys" 0 "host keys inside image $img"
done
pass "each container has its own host key, none is in an image"

# A restart keeps the key (clients would warn otherwise).
expect 0 as_nth 0 "$KILN" container stop kt-ssh
expect 0 as_nth 0 "$KILN" container start kt-ssh
new_port=$("$DOCKER" port "kt-ssh._.${UIDS[0]}" 2222/tcp | sed -n 's/^127\.0\.0\.1:\([0-9]*\)$/\1/p' | head -1)
equals "$(host_key "$new_port")" "${keys[0]}" "host key after a restart"
ports[0]=$new_port
pass "the host key survives a restart"

# Each user logs in with their own key, as themselves; the other's key fails.
for n in 0 1; do
  other=$((1 - n))
  got=$("${SSH[@]}" -i "$KT_TMP/id$n" -p "${ports[n]}" "kt-ssh$n@127.0.0.1" id -u 2>&1)
  equals "$got" "${UIDS[n]}" "user $n over ssh"
  "${SSH[@]}" -i "$KT_TMP/id$other" -p "${ports[n]}" "kt-ssh$n@127.0.0.1" true 2>/dev/null &&
    fail "user $other's key opened user $n's container"
  "${SSH[@]}" -i "$KT_TMP/id$n" -p "${ports[n]}" "root@127.0.0.1" true 2>/dev/null &&
    fail "root login into user $n's container"
done
pass "own key only, as yourself"

for n in 0 1; do as_nth "$n" "$KILN" container retire kt-ssh --force >/dev/null 2>&1; done
kt_finish
