#!/usr/bin/env bash
# Stop and retire as people use them: a default container stops at once
# (an init passes the stop signal on; kiln's shell stops on SIGHUP), unknown
# options are refused with nothing done, and a running container whose own
# filesystem changed is not retired silently.
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine

dir=$(project stopper "version: 1
project: kt-stopper
base: {image: $KT_BASE}")
expect 0 "$KILN" --quiet image create "$dir"
cd "$dir" || exit 1
expect 0 "$KILN" container deploy
C="kt-stopper._.$SUDO_UID"
id=$("$DOCKER" inspect -f '{{.Id}}' "$C")
equals "$("$DOCKER" inspect -f '{{.HostConfig.Init}} {{.Config.StopSignal}}' "$C")" "true SIGHUP" \
  "init and stop signal"

# 1. Stop does not wait for the 10 s kill: the stop signal ends the
# container (a kill after the timeout would leave exit code 137; a clock
# would only measure how busy the machine is).
expect 0 "$KILN" container stop kt-stopper
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$C")
[ "$code" != 137 ] || fail "stop ended the container with SIGKILL (exit 137): the stop signal did not"
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$C")
[ "$code" != 137 ] || fail "the container was killed (137), not stopped by its signal"
expect 0 "$KILN" container start kt-stopper
expect 0 "$KILN" container stop kt-stopper --time 2
expect 2 "$KILN" container stop kt-stopper --time soon
contains "$errout" "--time expects seconds from 0 to 3600"
pass "stop is quick; --time"

# 2. Unknown options: exit 2, nothing done.
expect 0 "$KILN" container start kt-stopper
expect 2 "$KILN" container retire kt-stopper --saev
contains "$errout" "unknown option '--saev'"
expect 2 "$KILN" container stop kt-stopper --force
contains "$errout" "unknown option '--force'"
expect 2 "$KILN" container start kt-stopper -x
equals "$("$DOCKER" inspect -f '{{.Id}} {{.State.Running}}' "$C")" "$id true" "container after refused options"
pass "unknown options refused"

# 3. Changes in the container's own filesystem are not discarded silently
# (not a terminal here: refused; --force discards, --save keeps).
echo 'echo data >/tmp/work-in-progress' | "$KILN" container shell kt-stopper
expect 1 "$KILN" container retire kt-stopper </dev/null
contains "$errout" "kt-stopper is running and 1 path(s) in its filesystem changed since the deploy"
contains "$errout" "pass --save to keep them as an image, or --force to discard them"
equals "$("$DOCKER" inspect -f '{{.Id}} {{.State.Running}}' "$C")" "$id true" "container after a refused retire"
expect 0 "$KILN" container retire kt-stopper --force
"$DOCKER" inspect "$C" >/dev/null 2>&1 && fail "retire --force left the container"
pass "retire of a changed running container needs --force or --save"

# 4. An unchanged container (mount points and the init do not count) retires.
expect 0 "$KILN" container deploy --name fresh -v "$KT_PREFIX-vol:/data" --create-volumes
expect 0 "$KILN" container retire fresh </dev/null
expect 0 "$KILN" volume remove "$KT_PREFIX-vol"
pass "an unchanged container retires without questions"

# 5. The name policy (KILN_NAME_POLICY=1) holds for every name kiln makes:
# containers, volumes, committed and saved images; nothing is created.
export KILN_NAME_POLICY=1
expect 2 "$KILN" container deploy --name Bad.Name
contains "$errout" "container name \"Bad.Name\" does not fit the name policy"
"$DOCKER" inspect "Bad.Name._.$SUDO_UID" >/dev/null 2>&1 && fail "container made against the policy"
expect 2 "$KILN" volume create "$KT_PREFIX-Vol"
contains "$errout" "volume name \"$KT_PREFIX-Vol\" does not fit the name policy"
"$DOCKER" volume inspect "$KT_PREFIX-Vol._.$SUDO_UID" >/dev/null 2>&1 && fail "volume made against the policy"
expect 2 "$KILN" container deploy --name polv -v "$KT_PREFIX-Vol:/data" --create-volumes
contains "$errout" "volume name \"$KT_PREFIX-Vol\" does not fit the name policy"
"$DOCKER" volume inspect "$KT_PREFIX-Vol._.$SUDO_UID" >/dev/null 2>&1 && fail "deploy made a volume against the policy"
"$DOCKER" inspect "polv._.$SUDO_UID" >/dev/null 2>&1 && fail "container made with a volume against the policy"
expect 0 "$KILN" container deploy --name pol
expect 2 "$KILN" container commit pol "$KT_PREFIX-$SUDO_UID/Pol:1"
contains "$errout" "image name \"Pol\" does not fit the name policy"
expect 2 "$KILN" container retire pol --save "$KT_PREFIX-$SUDO_UID/Pol:1"
"$DOCKER" inspect "pol._.$SUDO_UID" >/dev/null 2>&1 || fail "retire against the policy removed the container"
expect 0 "$KILN" container retire pol --force
unset KILN_NAME_POLICY
pass "the name policy applies to containers, volumes and images"

kt_finish
