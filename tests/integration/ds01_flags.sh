#!/usr/bin/env bash
# DS01's flags through DS01's names (as commands and as symlinks to kiln):
# container-deploy NAME IMAGE, --gpu N / --num-gpus=N, --background, --open,
# -w DIR; container-list shows running containers and --all (-a) includes
# stopped ones (DS01's meaning; kiln's own --all is every user's).
source "$(dirname "${BASH_SOURCE[0]}")/lib.bash"
kt_require_engine
command -v jq >/dev/null || { echo "jq is needed" >&2; exit 1; }

dir=$(project kt-ds01 "version: 1
project: kt-ds01
base:
  image: $KT_BASE")
expect 0 "$KILN" --quiet image-create "$dir"
ws=$KT_TMP/ws && mkdir -p "$ws" && give_to_caller "$ws"
cd "$KT_TMP" || exit 1

# --background and -w DIR.
expect 0 "$KILN" container-deploy kt-ds01 --background -w "$ws"
contains "$out" "started kt-ds01"
expect 0 "$KILN" container inspect kt-ds01 --json
equals "$(jq -r .workspace.source <<<"$out")" "$ws" "workspace from -w"
equals "$(jq -r .state <<<"$out")" "running" "state after --background"

# NAME IMAGE and --open (a shell, here fed from a pipe), through a symlink.
ln -s "$KILN" "$KT_TMP/container-deploy"
expect 0 sh -c "echo 'echo in-\$(id -u)-\$PWD' | '$KT_TMP/container-deploy' kt-ds01-open kt-ds01 --open --workspace=$ws"
contains "$out" "started kt-ds01-open"
contains "$out" "in-$SUDO_UID-/workspace"

# --gpu N and --num-gpus=N ask the engine for N GPUs (created only: no GPU here).
expect 0 "$KILN" container-deploy kt-ds01-gpu kt-ds01 --gpu 2 --no-start -w "$ws"
equals "$("$DOCKER" inspect -f '{{range .HostConfig.DeviceRequests}}{{.Count}}{{end}}' "kt-ds01-gpu._.$SUDO_UID")" "2" "GPUs from --gpu 2"
expect 0 "$KILN" container-deploy kt-ds01-gpu2 kt-ds01 --num-gpus=1 --no-start -w "$ws"
equals "$("$DOCKER" inspect -f '{{range .HostConfig.DeviceRequests}}{{.Count}}{{end}}' "kt-ds01-gpu2._.$SUDO_UID")" "1" "GPUs from --num-gpus=1"
# --cpu-only: no GPUs even though kiln.yaml's deploy.gpus asks for them.
printf 'deploy:\n  gpus: all\n' >>"$dir/kiln.yaml"
cd "$dir" || exit 1
expect 0 "$KILN" container-deploy kt-ds01-cpu kt-ds01 --cpu-only --no-start -w "$ws"
equals "$("$DOCKER" inspect -f '{{len .HostConfig.DeviceRequests}}' "kt-ds01-cpu._.$SUDO_UID")" "0" "GPUs with --cpu-only"
expect 0 "$KILN" container-deploy kt-ds01-allg kt-ds01 --no-start -w "$ws"
equals "$("$DOCKER" inspect -f '{{range .HostConfig.DeviceRequests}}{{.Count}}{{end}}' "kt-ds01-allg._.$SUDO_UID")" "-1" "GPUs from deploy.gpus: all"
expect 2 "$KILN" container-deploy kt-ds01-x kt-ds01 --cpu-only --gpu 1
cd "$KT_TMP" || exit 1
pass "container-deploy flags"

# container-list: running ones; --all / -a: stopped ones too.
expect 0 "$KILN" container stop kt-ds01-open --time 1
expect 0 "$KILN" container-list
contains "$out" "kt-ds01 "
not_contains "$out" "kt-ds01-open"
not_contains "$out" "kt-ds01-gpu"
for all in --all -a; do
  expect 0 "$KILN" container-list "$all"
  contains "$out" "kt-ds01-open"
  contains "$out" "kt-ds01-gpu2"
done
expect 0 "$KILN" --json container-list --all
# (only this test's containers: the uid may have others)
equals "$(jq -r 'map(.name | select(startswith("kt-ds01"))) | sort | join(",")' <<<"$out")" "kt-ds01,kt-ds01-allg,kt-ds01-cpu,kt-ds01-gpu,kt-ds01-gpu2,kt-ds01-open" "container-list --all --json"
# kiln's own spelling keeps kiln's meaning.
expect 0 "$KILN" container list
contains "$out" "kt-ds01-open"
expect 0 "$KILN" container list --running
not_contains "$out" "kt-ds01-open"
expect 1 "$KILN" container list --all
contains "$errout" "--all-users is for admins"
expect 1 "$KILN" container-list --all-users
contains "$errout" "--all-users is for admins"
pass "container-list --all includes stopped ones"

for c in kt-ds01 kt-ds01-open kt-ds01-gpu kt-ds01-gpu2 kt-ds01-cpu kt-ds01-allg; do
  expect 0 "$KILN" container retire "$c" --force
done
kt_finish
