#!/usr/bin/env bash
# The --json contract (docs/json.md): every command that takes --json prints
# one JSON document (lists one array, results one object, failures one
# error object; build and tar sync one object per line), with the same
# names and types everywhere; each output parsed with jansson (jsoncheck),
# against the real engine and registry, on objects this test made.
. "$KILN_ROOT/tests/integration/dist_lib.bash"
kt_require_engine
K=("$KILN" --json)
ID='image_id:string'
UIDT='owner_uid:integer|null'

dir=$(project jc "version: 1
project: kt-jc
base: {image: \"$KT_BASE\"}")
img=$(image_of kt-jc)

# ---- spec ----
json_expect 0 "object version:string" "${K[@]}" version
json_expect 0 "object valid=true project=kt-jc base_image:string uid:integer gid:integer file:string" \
  "${K[@]}" validate "$dir"
json_expect 0 "object image=$img file:null dockerfile:string" "${K[@]}" generate "$dir"
contains "$out" "FROM $KT_BASE"
json_expect 0 "array --where path=Dockerfile --min 1 type=f size:integer mode:integer" \
  "$KILN" context ls --json "$dir"
bad=$(project jcbad 'version: 1
project: kt-jc
nonsense: 1
also_nonsense: 2')
json_expect 2 "object code=2 error:string errors:array" "${K[@]}" validate "$bad"
contains "$out" "nonsense"
contains "$out" "also_nonsense" # every problem, in the one object's errors
json_expect 2 "object code=2 error:string" "${K[@]}" imgae list
contains "$out" "did you mean 'image'"
for group in "" container tar; do # no command: the usage error, not the help text
  json_expect 2 "object code=2 error:string" "${K[@]}" $group
done
pass "version, validate, generate, context ls, errors"

# ---- catalog (one array, every entry with its kind), init ----
json_expect 0 "array --min 2 kind:string name:string description:string" "${K[@]}" catalog
json_is array --where kind=framework --min 1 python:string installer:string versions:array
json_is array --where kind=group --min 1 apt:array pip:array
json_expect 0 "array --min 1 kind=framework name:string versions:array" "$KILN" catalog frameworks --json
json_expect 0 "array --min 1 kind=group name:string apt:array pip:array" "${K[@]}" catalog groups
mkdir -p "$KT_TMP/jcinit/fw" && give_to_caller "$KT_TMP/jcinit"
json_expect 0 "object file=$KT_TMP/jcinit/kiln.yaml project=kt-jci image=$(image_of kt-jci) base_image=$KT_BASE framework:null version:null written=true" \
  "$KILN" init "$KT_TMP/jcinit" --project kt-jci --base "$KT_BASE" --json
json_expect 0 "object project=kt-jci image:string base_image:string framework=pytorch version:string written=true" \
  "${K[@]}" init "$KT_TMP/jcinit/fw" --project kt-jci --framework pytorch </dev/null
json_expect 1 "object code=1 error:string errors:array" "${K[@]}" init "$KT_TMP/jcinit" --base "$KT_BASE"
pass "catalog, init"

# ---- image: build stream, list, export/import, push/pull ----
json_expect 0 "lines event=result image=$img $ID up_to_date=false" "${K[@]}" image create "$dir"
json_expect 0 "lines event=result up_to_date=true" "$KILN" image update "$dir" --json
json_expect 0 "array --where image=$img --min 1 project=kt-jc $ID owner_uid=$SUDO_UID size:integer created:string stale=false" \
  "${K[@]}" image list
grep -qE "\"created\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"" <<<"$out" ||
  fail "created is not RFC 3339 UTC: $out"
printf 'env: {KT_JC: "1"}\n' >>"$dir/kiln.yaml"
json_expect 0 "array --where image=$img --min 1 stale=true" "$KILN" image list --json
json_expect 0 "object image=$img $ID tags:array project=kt-jc owner_uid=$SUDO_UID owner_user:string|null user:string uid=$SUDO_UID gid=$SUDO_GID user_setup=kiln run_as:string created:string size:integer labels:object stale=true" \
  "${K[@]}" image inspect kt-jc
grep -qE "\"created\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"" <<<"$out" ||
  fail "image inspect: created is not RFC 3339 UTC: $out"
json_expect 0 "object image=$KT_BASE $ID owner_uid:null owner_user:null user:null uid:null gid:null user_setup:null run_as:string stale:null" \
  "$KILN" image inspect "$KT_BASE" --json
json_expect 1 "object code=1 error:string errors:array" "${K[@]}" image inspect kt-jc-nothing
json_expect 0 "object image=$img file:string manifest:string sha256:string size:integer $ID pruned:integer" \
  "${K[@]}" image export kt-jc -o "$SHARED"
tarball=$(sed -E 's/.*"file":"([^"]*)".*/\1/' <<<"$out")
json_expect 0 "array --where image=$img --min 1 file:string $ID created:string size:integer sha256:string manifest:string $UIDT local=true" \
  "${K[@]}" tar list --dir "$SHARED"
json_expect 0 "object file:string $ID tags:array verified=true" "${K[@]}" image import "$tarball"
json_expect 0 "lines state=done loaded:integer failed:integer" "${K[@]}" tar sync --dir "$SHARED"
if ensure_registry; then
  REG=$KILN_TEST_REGISTRY
  AUTH=(--registry "$REG" --team "$KT_PREFIX" --username "$KILN_TEST_REGISTRY_USER" --password-stdin)
  REMOTE=$REG/$KT_PREFIX/kt-jc:latest
  with_password() { printf '%s\n' "$KILN_TEST_REGISTRY_PASSWORD" | "$@"; }
  DIST_PUSHED+=("$REMOTE")
  json_expect 0 "object image=$img remote=$REMOTE" \
    with_password "${K[@]}" image push kt-jc "${AUTH[@]}"
  json_expect 0 "object remote=$REMOTE image:string $ID" \
    with_password "${K[@]}" image pull kt-jc "${AUTH[@]}"
  json_expect 0 "object remote=$REMOTE digest:string deleted=true" \
    with_password "${K[@]}" image delete-remote kt-jc "${AUTH[@]}"
  pass "push, pull, delete-remote"
else
  fail "no test registry (scripts/registry.sh)"
fi
pass "image create/update/list/inspect/export/import, tar list/sync"

# ---- volumes ----
vol=$KT_PREFIX-v
json_expect 0 "array --min 1 name=$vol existed=false" "${K[@]}" volume create "$vol"
json_expect 0 "array --where name=$vol --min 1 engine_name:string $UIDT owner_uid=$SUDO_UID created:string used_by:array" \
  "${K[@]}" volume list
pass "volume create, list"

# ---- containers ----
cd "$(workspace)" || exit 1
json_expect 0 "object name=jc engine_name=jc._.$SUDO_UID id:string image=$img $ID adapted:boolean reused:boolean started=true ports:array" \
  "${K[@]}" container deploy kt-jc --name jc -v "$vol:/data"
json_expect 0 "array --where name=jc --min 1 engine_name:string id:string project=kt-jc image=$img $ID status:string state:string owner_uid=$SUDO_UID stale:boolean ports:array" \
  "${K[@]}" container list
# inspect: the list's entry (same keys, same types) and more.
json_expect 0 "object name=jc engine_name=jc._.$SUDO_UID id:string project=kt-jc image=$img $ID status:string state=running running=true owner_uid=$SUDO_UID owner_user:string|null stale:boolean ports:array created:string workspace:object labels:object user:string uid=$SUDO_UID gid=$SUDO_GID user_setup=kiln run_as:string" \
  "${K[@]}" container inspect jc
grep -qE "\"created\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\"" <<<"$out" ||
  fail "container inspect: created is not RFC 3339 UTC: $out"
json_expect 0 "array --where name=jc --min 1 state=running" "$KILN" container list --running --json
json_expect 0 "object name=jc stopped=true" "${K[@]}" container stop jc --time 1
json_expect 0 "array" "$KILN" container list --running --json
not_contains "$out" '"name":"jc"'
json_expect 0 "object name=jc started=true" "$KILN" container start jc --json
json_expect 0 "object container=jc image:string $ID export:object push:null" \
  "${K[@]}" container commit jc "$(image_of kt-jc-saved)" --export "$OUT"
json_expect 0 "object name=jc retired=true saved_image:null" "${K[@]}" container retire jc --force
json_expect 1 "object code=1 error:string errors:array" "${K[@]}" container stop jc
json_expect 0 "array --min 1 name=$vol removed=true" "${K[@]}" volume remove "$vol"
# deploy --update in the project folder: the build's events are not printed,
# the deploy's object is the one document (the spec changed above: it builds).
cd "$dir" || exit 1
json_expect 0 "object name=jcu started=false image=$img $ID" \
  "${K[@]}" container deploy --name jcu --update --no-start
json_expect 0 "object name=jcu retired=true" "${K[@]}" container retire jcu
pass "container deploy (also --update), list (also --running), inspect, stop, start, commit, retire; volume remove"

# ---- clean-up commands ----
json_expect 0 "array" "${K[@]}" gc --dry-run
json_expect 0 "object target:string tarballs_removed:integer" "${K[@]}" tar delete kt-jc --dir "$SHARED"
json_expect 0 "object image=$img removed=true" "${K[@]}" image retire kt-jc
pass "gc, tar delete, image retire"

kt_finish
