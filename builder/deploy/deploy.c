/* container deploy: labeled images are created directly; legacy images are
 * adapted once per (base image id, uid, gid) by running user-setup.sh in a
 * temporary container and committing it, then created like labeled ones. */
#include "kiln/deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/generate.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define DEFAULT_WORKSPACE    "/workspace"
#define ADAPTED_REPO         "adapted"
#define SETUP_LOG_TAIL       20
#define KILN_DEFAULT_HOST_IP "127.0.0.1"
#define NO_GPU_MESSAGE                                                                             \
  "this engine has no NVIDIA GPU runtime; deploy without --gpus or on a GPU node"

/* The image namespace of this deploy. */
static const char *ns_of(const kiln_deploy_options *o) {
  return o->ns ? o->ns : o->config->ns;
}

/* ---- labels and ownership ---- */

const char *kiln_label(json_t *labels, const char *key) {
  return json_string_value(json_object_get(labels, key));
}

bool kiln_label_id(json_t *labels, const char *key, uint32_t *out) {
  const char *v = kiln_label(labels, key);
  if (!v || !*v) return false;
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end || errno || n > KILN_MAX_ID || v[0] == '-') return false;
  *out = (uint32_t)n;
  return true;
}

static bool truthy(const char *v) {
  return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

static const struct {
  const char *setup, *uid, *gid;
} setup_label_sets[] = {
    {KILN_LABEL_USER_SETUP, KILN_LABEL_UID, KILN_LABEL_GID},
    {DS01_LABEL_USER_SETUP, DS01_LABEL_UID, DS01_LABEL_GID},
    {AIME_LABEL_USER_SETUP, AIME_LABEL_UID, AIME_LABEL_GID},
};

kiln_image_setup kiln_image_setup_of(json_t *labels, uint32_t uid, uint32_t gid, uint32_t *for_uid,
                                     uint32_t *for_gid) {
  bool other = false;
  for (size_t i = 0; i < sizeof setup_label_sets / sizeof setup_label_sets[0]; i++) {
    uint32_t u, g;
    if (!truthy(kiln_label(labels, setup_label_sets[i].setup))) continue;
    if (!kiln_label_id(labels, setup_label_sets[i].uid, &u) ||
        !kiln_label_id(labels, setup_label_sets[i].gid, &g))
      continue;
    if (u == uid && g == gid) return KILN_IMAGE_LABELED;
    if (!other) {
      other = true;
      *for_uid = u;
      *for_gid = g;
    }
  }
  return other ? KILN_IMAGE_OTHER_USER : KILN_IMAGE_LEGACY;
}

const kiln_caller *kiln_owner_caller(const kiln_owner *owner, kiln_caller *fallback) {
  const kiln_caller *c = owner->caller;
  if (c && c->id.uid == owner->uid) return c;
  memset(fallback, 0, sizeof *fallback);
  fallback->id.uid = owner->uid;
  fallback->id.gid = owner->gid;
  return fallback;
}

bool kiln_owner_owns(const kiln_owner *owner, json_t *labels) {
  kiln_caller fallback;
  return kiln_access_owns(kiln_owner_caller(owner, &fallback), labels, owner->all_users);
}

bool kiln_owner_all_users(const kiln_owner *owner) {
  kiln_caller fallback;
  return owner->all_users && kiln_access_all_users(kiln_owner_caller(owner, &fallback), NULL) == 0;
}

/* The one rule for every per-user engine object: "NAME._.UID". */
static char *per_user_engine_name(const char *name, uint32_t uid) {
  char *s = NULL;
  return asprintf(&s, "%s._.%" PRIu32, name, uid) < 0 ? NULL : s;
}

char *kiln_container_engine_name(const char *name, uint32_t uid) {
  return per_user_engine_name(name, uid);
}

char *kiln_volume_engine_name(const char *name, uint32_t uid) {
  return per_user_engine_name(name, uid);
}

char *kiln_engine_short_name(const char *engine_name, const char *owner_uid) {
  size_t n = strlen(engine_name), k = owner_uid ? strlen(owner_uid) : 0;
  if (k && n > k + 3 && !strcmp(engine_name + n - k, owner_uid) &&
      !strncmp(engine_name + n - k - 3, "._.", 3))
    return strndup(engine_name, n - k - 3);
  return strdup(engine_name);
}

/* ---- the create body (pure) ---- */

/* Where an image wants the workspace mounted (label kiln.workspace). */
static const char *workspace_of(json_t *image_config) {
  const char *ws = kiln_label(json_object_get(image_config, "Labels"), KILN_LABEL_WORKSPACE);
  return ws && *ws ? ws : DEFAULT_WORKSPACE;
}

int kiln_parse_volume_spec(const char *spec, char **name, char **target, bool *read_only,
                           kiln_error **err) {
  const char *colon = strchr(spec, ':');
  if (!colon || colon == spec)
    return kiln_error_set(err, KILN_EXIT_USAGE, "volume '%s': expected NAME:/path[:ro]", spec);
  const char *path = colon + 1;
  const char *mode = strchr(path, ':');
  size_t path_len = mode ? (size_t)(mode - path) : strlen(path);
  *read_only = false;
  if (mode && strcmp(mode + 1, "ro") && strcmp(mode + 1, "rw"))
    return kiln_error_set(err, KILN_EXIT_USAGE, "volume '%s': mode must be ro or rw, got '%s'",
                          spec, mode + 1);
  if (mode) *read_only = !strcmp(mode + 1, "ro");
  _cleanup_free_ char *n = strndup(spec, (size_t)(colon - spec));
  _cleanup_free_ char *t = strndup(path, path_len);
  if (!n || !t) return kiln_error_oom(err);
  if (strchr(n, '/'))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "volume '%s': '%s' is a path; -v takes a named volume (the workspace "
                          "folder is mounted already)",
                          spec, n);
  if (kiln_check_volume_name(n, err) < 0) return kiln_error_prefix(err, "volume \"%.64s\"", spec);
  if (kiln_check_mount_target(t, "volume target", err) < 0)
    return kiln_error_prefix(err, "volume '%s'", spec);
  *name = steal_pointer(&n);
  *target = steal_pointer(&t);
  return 0;
}

static int add_env(json_t *env, const char *kv, kiln_error **err) {
  const char *eq = strchr(kv, '=');
  if (!eq) return kiln_error_set(err, KILN_EXIT_USAGE, "-e '%s': expected KEY=VALUE", kv);
  _cleanup_free_ char *key = strndup(kv, (size_t)(eq - kv));
  if (!key) return kiln_error_oom(err);
  if (kiln_check_env_name(key, err) < 0) return kiln_error_prefix(err, "-e '%s'", kv);
  return json_array_append_new(env, json_string(kv)) < 0 ? kiln_error_oom(err) : 0;
}

static int add_env_pair(json_t *env, const char *key, const char *value, kiln_error **err) {
  _cleanup_free_ char *kv = NULL;
  if (asprintf(&kv, "%s=%s", key, value) < 0) return kiln_error_oom(err);
  return json_array_append_new(env, json_string(kv)) < 0 ? kiln_error_oom(err) : 0;
}

/* One -p value (kiln_parse_port_binding's grammar) → ExposedPorts and
 * PortBindings. No address given: 127.0.0.1 (never every interface by
 * default); no host port: "" (the engine picks one). */
static int add_port(const kiln_caller *caller, json_t *exposed, json_t *bindings, const char *spec,
                    kiln_error **err) {
  kiln_port_binding pb;
  if (kiln_parse_port_binding(spec, &pb, err) < 0) return kiln_error_prefix(err, "-p");
  if (pb.host_port && kiln_access_host_port(caller, pb.host_port, err) < 0)
    return kiln_error_prefix(err, "-p '%s'", spec);
  char key[16], host[8] = "";
  snprintf(key, sizeof key, "%u/%s", (unsigned)pb.container_port, pb.proto);
  if (pb.host_port) snprintf(host, sizeof host, "%u", (unsigned)pb.host_port);
  json_t *list = json_object_get(bindings, key);
  if (!list) {
    list = json_array();
    if (json_object_set_new(bindings, key, list) < 0) return kiln_error_oom(err);
  }
  if (json_object_set_new(exposed, key, json_object()) < 0 ||
      json_array_append_new(list, json_pack("{s:s, s:s}", "HostIp",
                                            pb.host_ip[0] ? pb.host_ip : KILN_DEFAULT_HOST_IP,
                                            "HostPort", host)) < 0)
    return kiln_error_oom(err);
  return 0;
}

static bool all_digits(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return false;
  return true;
}

/* --gpus for the nvidia driver: count -1 (all), a count, or device ids as
 * a JSON list. */
static json_t *device_request(const char *gpus) {
  json_t *req = json_pack("{s:s, s:[[s]]}", "Driver", "nvidia", "Capabilities", "gpu");
  if (!req) return NULL;
  if (!strcmp(gpus, "all")) {
    json_object_set_new(req, "Count", json_integer(-1));
  } else if (all_digits(gpus)) {
    json_object_set_new(req, "Count", json_integer(strtoll(gpus, NULL, 10)));
  } else {
    json_t *ids = json_array();
    _cleanup_free_ char *copy = strdup(gpus);
    char *save = NULL;
    for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
      json_array_append_new(ids, json_string(t));
    json_object_set_new(req, "DeviceIDs", ids);
  }
  return req;
}

static int add_gpus(const kiln_deploy_options *o, json_t *env, json_t *host_config,
                    kiln_error **err) {
  bool genv = o->runtime && !strcmp(o->runtime, "genv");
  if (o->gpus && kiln_check_gpus(o->gpus, err) < 0) return kiln_error_prefix(err, "--gpus");
  if (o->gpu_memory && !genv)
    return kiln_error_set(err, KILN_EXIT_USAGE, "--gpu-memory needs --runtime genv");
  if (o->gpu_memory && kiln_check_text(o->gpu_memory, 32, "--gpu-memory", err) < 0) return -1;
  if (o->runtime && kiln_check_text(o->runtime, 64, "--runtime", err) < 0) return -1;
  if (o->runtime && json_object_set_new(host_config, "Runtime", json_string(o->runtime)) < 0)
    return kiln_error_oom(err);
  if (genv) {
    if (o->gpus && add_env_pair(env, "GENV_GPUS", o->gpus, err) < 0) return -1;
    if (o->gpu_memory && add_env_pair(env, "GENV_GPU_MEMORY", o->gpu_memory, err) < 0) return -1;
    return 0;
  }
  if (!o->gpus) return 0;
  json_t *req = device_request(o->gpus);
  if (!req || json_object_set_new(host_config, "DeviceRequests", json_pack("[o]", req)) < 0)
    return kiln_error_oom(err);
  return 0;
}

static int add_mounts(const kiln_deploy_options *o, const char *workspace, json_t *mounts,
                      kiln_error **err) {
  if (o->workspace_dir &&
      json_array_append_new(mounts, json_pack("{s:s, s:s, s:s}", "Type", "bind", "Source",
                                              o->workspace_dir, "Target", workspace)) < 0)
    return kiln_error_oom(err);
  for (size_t i = 0; i < o->n_volumes; i++) {
    _cleanup_free_ char *name = NULL, *target = NULL;
    bool ro;
    if (kiln_parse_volume_spec(o->volumes[i], &name, &target, &ro, err) < 0) return -1;
    /* The caller's volume NAME; NoCopy: the preparing container (same image,
     * same target) already copied the image's content (kiln_volume_prepare). */
    _cleanup_free_ char *ename = kiln_volume_engine_name(name, o->caller->id.uid);
    if (!ename ||
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b, s:{s:b}}", "Type", "volume",
                                                "Source", ename, "Target", target, "ReadOnly", ro,
                                                "VolumeOptions", "NoCopy", 1)) < 0)
      return kiln_error_oom(err);
  }
  return 0;
}

static int add_limits(const kiln_deploy_options *o, json_t *hc, kiln_error **err) {
  int r = 0;
  if (o->memory) r |= json_object_set_new(hc, "Memory", json_integer((json_int_t)o->memory));
  if (o->nano_cpus)
    r |= json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)o->nano_cpus));
  if (o->shm_size) r |= json_object_set_new(hc, "ShmSize", json_integer((json_int_t)o->shm_size));
  if (o->pids_limit) r |= json_object_set_new(hc, "PidsLimit", json_integer(o->pids_limit));
  return r < 0 ? kiln_error_oom(err) : 0;
}

/* The only security option a container gets; nothing else (privileges,
 * capabilities, devices, host namespaces) is ever set. */
/* An init as PID 1 (the engine's own, docker-init/tini): it reaps zombies
 * and passes the stop signal on, so `sleep infinity` or a shell stop at
 * once instead of after the kill timeout (a PID 1 ignores default signals).
 * no-new-privileges unless the site allows container sudo. */
static int add_security(const kiln_deploy_options *o, json_t *hc, kiln_error **err) {
  if (json_object_set_new(hc, "Init", json_true()) < 0) return kiln_error_oom(err);
  if (!kiln_access_no_new_privileges(o->config)) return 0;
  return json_object_set_new(hc, "SecurityOpt", json_pack("[s]", "no-new-privileges")) < 0
             ? kiln_error_oom(err)
             : 0;
}

static json_t *strv_json(const char *const *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

/* The command: given, else the image's, else something that stays alive. */
static int set_command(const kiln_deploy_options *o, json_t *image_config, json_t *body,
                       kiln_error **err) {
  if (o->n_command)
    return json_object_set_new(body, "Cmd", strv_json(o->command, o->n_command)) < 0
               ? kiln_error_oom(err)
               : 0;
  if (json_array_size(json_object_get(image_config, "Cmd")) ||
      json_array_size(json_object_get(image_config, "Entrypoint")))
    return 0;
  return json_object_set_new(body, "Cmd", json_pack("[s,s]", "sleep", "infinity")) < 0
             ? kiln_error_oom(err)
             : 0;
}

static json_t *container_labels(const kiln_deploy_options *o, const char *image_id,
                                json_t *image_labels) {
  char uid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, o->caller->id.uid);
  json_t *labels =
      json_pack("{s:s, s:s}", KILN_LABEL_OWNER_UID, uid, KILN_LABEL_IMAGE_ID, image_id);
  const char *project = o->project ? o->project : kiln_label(image_labels, KILN_LABEL_PROJECT);
  const char *sha = kiln_label(image_labels, KILN_LABEL_SPEC_SHA256);
  if (labels && project) json_object_set_new(labels, KILN_LABEL_PROJECT, json_string(project));
  if (labels && sha) json_object_set_new(labels, KILN_LABEL_SPEC_SHA256, json_string(sha));
  return labels;
}

json_t *kiln_deploy_create_body(const kiln_deploy_options *o, const char *image_id,
                                json_t *image_config, kiln_error **err) {
  json_t *image_labels = json_object_get(image_config, "Labels");
  const char *workspace = workspace_of(image_config);
  char user[32];
  snprintf(user, sizeof user, "%" PRIu32 ":%" PRIu32, o->caller->id.uid, o->caller->id.gid);
  _cleanup_json_ json_t *body =
      json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:o, s:{s:o, s:o}}", "Image", image_id, "User",
                user, "WorkingDir", workspace, "Tty", 1, "OpenStdin", 1, "Env", json_array(),
                "Labels", container_labels(o, image_id, image_labels), "ExposedPorts",
                json_object(), "HostConfig", "Mounts", json_array(), "PortBindings", json_object());
  if (!body) return kiln_error_oom(err), NULL;
  json_t *env = json_object_get(body, "Env"), *hc = json_object_get(body, "HostConfig");
  for (size_t i = 0; i < o->n_env; i++)
    if (add_env(env, o->env[i], err) < 0) return NULL;
  for (size_t i = 0; i < o->n_ports; i++)
    if (add_port(o->caller, json_object_get(body, "ExposedPorts"),
                 json_object_get(hc, "PortBindings"), o->ports[i], err) < 0)
      return NULL;
  if (add_mounts(o, workspace, json_object_get(hc, "Mounts"), err) < 0 ||
      add_limits(o, hc, err) < 0 || add_gpus(o, env, hc, err) < 0 || add_security(o, hc, err) < 0 ||
      set_command(o, image_config, body, err) < 0)
    return NULL;
  return steal_pointer(&body);
}

void kiln_deploy_result_clear(kiln_deploy_result *r) {
  free(r->container_id);
  free(r->container_name);
  free(r->image_id);
  free(r->adapted_image);
  json_decref(r->ports);
  memset(r, 0, sizeof *r);
}

/* ---- engine helpers ---- */

__attribute__((format(printf, 3, 4))) static void
emit(const kiln_deploy_options *o, kiln_deploy_event_kind kind, const char *fmt, ...) {
  if (!o->on_event) return;
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  o->on_event(o->user, kind, text);
}

static json_t *inspect_image(kiln_engine *engine, const char *ref, kiln_error **err) {
  return kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, err);
}

/* An undo call: runs (bounded) after an interrupt too. Best effort. */
static void remove_container(kiln_engine *engine, const char *id) {
  _cleanup_error_ kiln_error *ignored = NULL;
  kiln_engine_remove(engine, KILN_OBJECT_CONTAINER, id, "force=1&v=1", true, &ignored);
}

/* ---- legacy adaptation ---- */

typedef struct {
  kiln_engine *engine;
  const kiln_deploy_options *opts;
  const char *base_id;
  json_t *base_config; /* borrowed */
  char id12[13];
  char *repo;             /* <ns>-<uid>/adapted */
  char *tag;              /* <id12>-<gid>: one adaptation per (base, uid, gid) */
  kiln_adapted_user user; /* who the image is set up for */
  char *temp_id;          /* temporary container, while it exists */
} adaptation;

/* ---- interrupts during an adaptation ---- */

/* The caller's interrupt flag (kiln_engine_options.interrupted) stops the
 * engine calls within about a second, also the long /wait; the temporary
 * container is then removed by an undo call. */
static int interrupted(const adaptation *a, kiln_error **err) {
  return kiln_error_interrupted(err, kiln_engine_interrupted(a->engine),
                                a->temp_id ? "the temporary container was removed" : NULL);
}

static void adaptation_clear(adaptation *a) {
  free(a->repo);
  free(a->tag);
  kiln_adapted_user_clear(&a->user);
  free(a->temp_id);
}

static char *read_setup_script(const kiln_deploy_options *o, kiln_error **err) {
  _cleanup_free_ char *dir = o->templates_dir ? strdup(o->templates_dir) : kiln_templates_dir(err);
  _cleanup_free_ char *path = NULL;
  if (!dir || asprintf(&path, "%s/user-setup.sh", dir) < 0)
    return err && *err ? NULL : (kiln_error_oom(err), NULL);
  size_t len = 0;
  _cleanup_free_ char *script =
      kiln_fs_read_regular(path, true, KILN_MAX_TEMPLATE_BYTES, &len, err);
  if (!script) return NULL;
  kiln_buf b = KILN_BUF_INIT(KILN_MAX_TEMPLATE_BYTES + 16);
  const char *delay = kiln_env("KILN_LEGACY_SETUP_DELAY"); /* test hook (admins): a slow setup */
  if (delay && all_digits(delay) && strlen(delay) < 6) kiln_buf_printf(&b, "sleep %s\n", delay);
  if (kiln_buf_append(&b, script, len) < 0 || kiln_buf_append(&b, "", 0) < 0) {
    kiln_buf_free(&b);
    return kiln_error_oom(err), NULL;
  }
  return kiln_buf_steal(&b, NULL);
}

static const char *user_shell(const kiln_identity *id) {
  return id->shell && id->shell[0] == '/' && !strpbrk(id->shell, " \t\n'\"") ? id->shell
                                                                             : "/bin/sh";
}

/* The temporary container: the setup script as the entrypoint (so the base's
 * Cmd is not appended and the commit keeps the base's Cmd), as root. Its
 * HostConfig holds AutoRemove only: no mounts of any kind. */
json_t *kiln_deploy_temp_body(const kiln_deploy_options *o, const char *base_id,
                              const kiln_adapted_user *user, const char *script) {
  const kiln_identity *id = &o->caller->id;
  char uid[16], gid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, id->uid);
  snprintf(gid, sizeof gid, "%" PRIu32, id->gid);
  return json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s], s:{s:s, s:s}, s:{s:b}}", "Image", base_id,
                   "User", "0:0", "Entrypoint", "/bin/sh", "-c", script, "kiln-user-setup",
                   user->name, uid, gid, user->home, user_shell(id), "0", user->workspace, "Labels",
                   KILN_LABEL_TEMP, "true", KILN_LABEL_OWNER_UID, uid, "HostConfig", "AutoRemove",
                   0);
}

static int create_temp(adaptation *a, kiln_error **err) {
  _cleanup_free_ char *script = read_setup_script(a->opts, err);
  if (!script) return -1;
  _cleanup_json_ json_t *body = kiln_deploy_temp_body(a->opts, a->base_id, &a->user, script);
  unsigned char rnd[4] = {0};
  if (getrandom(rnd, sizeof rnd, 0) < 0) rnd[0] = (unsigned char)getpid();
  char name[64];
  snprintf(name, sizeof name, "name=kiln-tmp-%" PRIu32 "-%02x%02x%02x%02x", a->opts->caller->id.uid,
           rnd[0], rnd[1], rnd[2], rnd[3]);
  if (!body) return kiln_error_oom(err);
  _cleanup_json_ json_t *r =
      kiln_engine_json(a->engine, "POST", "/containers/create", name, body, NULL, err);
  const char *id = json_string_value(json_object_get(r, "Id"));
  if (!id) return err && *err ? -1 : kiln_error_set(err, KILN_EXIT_ENGINE, "no container id");
  if (!(a->temp_id = strdup(id))) return kiln_error_oom(err);
  return 0;
}

int kiln_container_call(kiln_engine *engine, const char *method, const char *id, const char *what,
                        const char *query, long timeout_ms, json_t **out, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/containers/%s/%s", id, what) < 0) return kiln_error_oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = method;
  req.path = path;
  req.query = query;
  req.timeout_ms = timeout_ms;
  if (kiln_engine_call(engine, &req, &resp, err) < 0) return -1;
  if (out) *out = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
  kiln_engine_response_clear(&resp);
  return 0;
}

static int container_call(adaptation *a, const char *method, const char *what, const char *query,
                          long timeout_ms, json_t **out, kiln_error **err) {
  return kiln_container_call(a->engine, method, a->temp_id, what, query, timeout_ms, out, err);
}

static int append_log(void *user, int stream, const char *data, size_t n) {
  (void)stream;
  kiln_buf_append(user, data, n);
  return 0;
}

char *kiln_container_log_tail(kiln_engine *engine, const char *id, unsigned lines) {
  _cleanup_free_ char *path = NULL, *query = NULL;
  if (asprintf(&path, "/containers/%s/logs", id) < 0 ||
      asprintf(&query, "stdout=1&stderr=1&tail=%u", lines) < 0)
    return NULL;
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.path = path;
  req.query = query;
  _cleanup_error_ kiln_error *ignored = NULL;
  if (kiln_engine_call(engine, &req, &resp, &ignored) < 0) return NULL;
  kiln_buf text = KILN_BUF_INIT(64u << 10);
  kiln_demux d = {0};
  kiln_demux_feed(&d, resp.body, resp.body_len, append_log, &text);
  kiln_engine_response_clear(&resp);
  while (text.len && text.data[text.len - 1] == '\n')
    text.data[--text.len] = '\0';
  return text.len ? kiln_buf_steal(&text, NULL) : (kiln_buf_free(&text), NULL);
}

/* The last lines of the temporary container's output, for the error. */
static char *setup_log_tail(adaptation *a) {
  return kiln_container_log_tail(a->engine, a->temp_id, SETUP_LOG_TAIL);
}

/* The /wait for the setup failed: still running means the engine answered
 * but the setup took longer than legacy_timeout; otherwise the engine's own
 * error (it went away, ...) is the one to report. Takes werr. */
static int setup_wait_failed(adaptation *a, unsigned timeout, kiln_error *werr, kiln_error **err) {
  if (kiln_engine_interrupted(a->engine)) {
    kiln_error_free(werr);
    return interrupted(a, err);
  }
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *state = NULL;
  if (container_call(a, "GET", "json", NULL, KILN_UNDO_TIMEOUT_MS, &state, &ignored) == 0 &&
      json_is_true(json_object_get(json_object_get(state, "State"), "Running"))) {
    kiln_error_free(werr);
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the user setup did not finish within %u s (legacy_timeout in the kiln "
                          "configuration)",
                          timeout);
  }
  kiln_error_keep(err, werr);
  return kiln_error_prefix(err, "waiting for the user setup");
}

/* Runs the temporary container to its end and checks its exit code. */
static int run_setup(adaptation *a, kiln_error **err) {
  unsigned timeout = a->opts->config->legacy_timeout;
  if (container_call(a, "POST", "start", NULL, 0, NULL, err) < 0) return -1;
  json_t *w = NULL;
  kiln_error *werr = NULL;
  if (container_call(a, "POST", "wait", "condition=not-running", (long)timeout * 1000, &w, &werr) <
      0)
    return setup_wait_failed(a, timeout, werr, err);
  json_int_t code = json_integer_value(json_object_get(w, "StatusCode"));
  json_decref(w);
  if (code == 0) return 0;
  _cleanup_free_ char *tail = setup_log_tail(a);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "the user setup failed in the image (exit %d)%s%s",
                        (int)code, tail ? ":\n" : "", tail ? tail : "");
}

static json_t *adapted_labels(const adaptation *a) {
  const kiln_identity *id = &a->opts->caller->id;
  char uid[16], gid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, id->uid);
  snprintf(gid, sizeof gid, "%" PRIu32, id->gid);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", KILN_LABEL_USER_SETUP, "true",
                   KILN_LABEL_UID, uid, KILN_LABEL_GID, gid, KILN_LABEL_USER, a->user.name,
                   KILN_LABEL_HOME, a->user.home, KILN_LABEL_WORKSPACE, a->user.workspace,
                   KILN_LABEL_ADAPTED_FROM, a->base_id, KILN_LABEL_OWNER_UID, uid, KILN_LABEL_TEMP,
                   "false");
}

/* Empty lists are sent on purpose: the commit would otherwise fill an empty
 * Entrypoint with the temporary container's (the setup script). The image
 * runs as the user, in the workspace, with the user's HOME and PATH. */
static json_t *commit_body(const adaptation *a) {
  json_t *cmd = json_object_get(a->base_config, "Cmd");
  json_t *entry = json_object_get(a->base_config, "Entrypoint");
  char user[32];
  snprintf(user, sizeof user, "%" PRIu32 ":%" PRIu32, a->opts->caller->id.uid,
           a->opts->caller->id.gid);
  return json_pack("{s:o, s:o, s:o, s:O, s:s, s:s}", "Labels", adapted_labels(a), "Cmd",
                   json_is_array(cmd) ? json_incref(cmd) : json_array(), "Entrypoint",
                   json_is_array(entry) ? json_incref(entry) : json_array(), "Env", a->user.env,
                   "WorkingDir", a->user.workspace, "User", user);
}

static char *commit(adaptation *a, kiln_error **err) {
  _cleanup_free_ char *repo = kiln_engine_escape(a->repo);
  _cleanup_free_ char *query = NULL;
  if (!repo ||
      asprintf(&query, "container=%s&repo=%s&tag=%s&pause=0", a->temp_id, repo, a->tag) < 0)
    return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *body = commit_body(a);
  if (!body) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *r = kiln_engine_json(a->engine, "POST", "/commit", query, body, NULL, err);
  const char *id = json_string_value(json_object_get(r, "Id"));
  if (!id) return err && *err ? NULL : (kiln_error_set(err, KILN_EXIT_ENGINE, "no image id"), NULL);
  return strdup(id);
}

/* create → start → wait → commit, with the temporary container removed on
 * every path (an interrupt included: the removal is an undo call). */
static char *run_and_commit(adaptation *a, kiln_error **err) {
  char *image_id = NULL;
  if (create_temp(a, err) == 0 && run_setup(a, err) == 0) image_id = commit(a, err);
  if (a->temp_id) remove_container(a->engine, a->temp_id);
  if (image_id && kiln_engine_interrupted(a->engine)) {
    /* The commit landed: the adaptation is kept (reused next time). */
    emit(a->opts, KILN_DEPLOY_WARNING, "interrupted after the commit");
    free(image_id);
    interrupted(a, err);
    return NULL;
  }
  if (!image_id && err && *err && kiln_engine_interrupted(a->engine)) {
    kiln_error_free(*err);
    *err = NULL;
    interrupted(a, err);
  }
  return image_id;
}

/* An earlier adaptation of this base for this uid and gid, or NULL. */
static char *find_adaptation(adaptation *a, const char *ref, kiln_error **err) {
  _cleanup_json_ json_t *img = inspect_image(a->engine, ref, err);
  if (!img) return NULL;
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  uint32_t u, g;
  const kiln_identity *id = &a->opts->caller->id;
  const char *from = kiln_label(labels, KILN_LABEL_ADAPTED_FROM);
  if (!from || strcmp(from, a->base_id) ||
      kiln_image_setup_of(labels, id->uid, id->gid, &u, &g) != KILN_IMAGE_LABELED)
    return NULL;
  return strdup(json_string_value(json_object_get(img, "Id")));
}

static int adaptation_init(adaptation *a, kiln_engine *engine, const kiln_deploy_options *o,
                           const char *base_id, json_t *base_config, kiln_error **err) {
  memset(a, 0, sizeof *a);
  a->engine = engine;
  a->opts = o;
  a->base_id = base_id;
  a->base_config = base_config;
  const char *hex = strncmp(base_id, "sha256:", 7) ? base_id : base_id + 7;
  snprintf(a->id12, sizeof a->id12, "%.12s", hex);
  if (asprintf(&a->repo, "%s-%" PRIu32 "/" ADAPTED_REPO, ns_of(o), o->caller->id.uid) < 0) {
    a->repo = NULL;
    return kiln_error_oom(err);
  }
  if (asprintf(&a->tag, "%s-%" PRIu32, a->id12, o->caller->id.gid) < 0) {
    a->tag = NULL;
    return kiln_error_oom(err);
  }
  return kiln_adapted_user_of(base_config, o->caller->id.name, o->caller->id.uid, &a->user, err);
}

/* Returns the id of the adapted image (new string), reusing an earlier one. */
static char *adapt(kiln_engine *engine, const kiln_deploy_options *o, const char *base_id,
                   json_t *base_config, kiln_deploy_result *result, kiln_error **err) {
  adaptation a;
  char lock_name[64];
  char *image_id = NULL;
  if (adaptation_init(&a, engine, o, base_id, base_config, err) < 0) {
    adaptation_clear(&a);
    return NULL;
  }
  _cleanup_free_ char *ref = NULL;
  if (asprintf(&ref, "%s:%s", a.repo, a.tag) < 0) {
    adaptation_clear(&a);
    return kiln_error_oom(err), NULL;
  }
  /* Same user, same base: one adaptation at a time; the second one reuses. */
  snprintf(lock_name, sizeof lock_name, "adapt-%" PRIu32 "-%s", o->caller->id.uid, a.tag);
  int lock = kiln_lock_acquire(lock_name, kiln_engine_interrupt_flag(engine), err);
  if (lock >= 0) {
    kiln_error *ferr = NULL;
    image_id = find_adaptation(&a, ref, &ferr);
    if (ferr) {
      kiln_error_keep(err, ferr);
    } else if (image_id) {
      result->reused = true;
      emit(o, KILN_DEPLOY_PROGRESS, "reusing the adaptation %s", ref);
    } else {
      emit(o, KILN_DEPLOY_PROGRESS, "adapting %s for uid %" PRIu32 " (once; saved as %s)", o->image,
           o->caller->id.uid, ref);
      image_id = run_and_commit(&a, err);
    }
    kiln_lock_release(lock);
  }
  if (image_id) {
    result->adapted = true;
    result->adapted_image = steal_pointer(&ref);
  }
  adaptation_clear(&a);
  return image_id;
}

/* ---- volumes and limits ---- */

/* The caller's volume NAME (found, or created with --create-volumes): its
 * engine name in *ename, *own when it is the caller's own (not another
 * user's that an admin attaches with --all-users). */
static int volume_for_deploy(kiln_engine *engine, const kiln_deploy_options *o, const char *name,
                             char **ename, bool *own, kiln_error **err) {
  kiln_owner owner = {.uid = o->caller->id.uid,
                      .gid = o->caller->id.gid,
                      .all_users = o->all_users,
                      .caller = o->caller};
  _cleanup_json_ json_t *vol = kiln_volume_find(engine, name, &owner, ename, err);
  if (!vol && err && *err) return -1;
  uint32_t uid;
  *own = !vol || (kiln_label_id(json_object_get(vol, "Labels"), KILN_LABEL_OWNER_UID, &uid) &&
                  uid == o->caller->id.uid);
  if (vol) return 0;
  if (!o->create_volumes)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "volume '%s' does not exist; create it with 'kiln volume create %s' "
                          "or deploy with --create-volumes",
                          name, name);
  bool existed;
  owner.all_users = false;
  if (kiln_volume_create(engine, name, &owner, o->config, &existed, err) < 0) return -1;
  *ename = kiln_volume_engine_name(name, o->caller->id.uid);
  return *ename ? 0 : kiln_error_oom(err);
}

/* Every -v volume: the caller's (or, for an admin with --all-users,
 * anyone's), its mount in mounts (the create body's, workspace first) given
 * the engine name found, and the caller's own made writable by the caller
 * before the container exists. Another user's volume is never chowned; its
 * mount copies the image's content as the engine does by default. */
static int check_volumes(kiln_engine *engine, const kiln_deploy_options *o, const char *image_id,
                         json_t *mounts, kiln_error **err) {
  size_t first = o->workspace_dir ? 1 : 0;
  for (size_t i = 0; i < o->n_volumes; i++) {
    _cleanup_free_ char *name = NULL, *target = NULL, *ename = NULL;
    bool ro, own;
    if (kiln_parse_volume_spec(o->volumes[i], &name, &target, &ro, err) < 0 ||
        volume_for_deploy(engine, o, name, &ename, &own, err) < 0)
      return -1;
    json_t *mount = json_array_get(mounts, first + i);
    if (json_object_set_new(mount, "Source", json_string(ename)) < 0) return kiln_error_oom(err);
    if (!own) {
      json_object_del(mount, "VolumeOptions");
      continue;
    }
    if (kiln_volume_prepare(engine, image_id, name, ename, target, o->caller->id.uid,
                            o->caller->id.gid, o->config->legacy_timeout, err) < 0)
      return -1;
  }
  return 0;
}

static bool is_gpu_error(const char *msg) {
  return strstr(msg, "could not select device driver") || strcasestr(msg, "nvidia") ||
         strcasestr(msg, "unknown runtime");
}

/* POST /containers/create under the user's container limit. */
static char *create_limited(kiln_engine *engine, const kiln_deploy_options *o, const char *name,
                            json_t *body, kiln_error **err) {
  char lock_name[48];
  snprintf(lock_name, sizeof lock_name, "containers-%" PRIu32, o->caller->id.uid);
  int lock = kiln_lock_acquire(lock_name, kiln_engine_interrupt_flag(engine), err);
  if (lock < 0) return NULL;
  unsigned count = 0;
  char *id = NULL;
  if (kiln_count_owned(engine, "containers", o->caller->id.uid, &count, err) == 0) {
    if (count >= o->config->max_containers) {
      kiln_error_set(err, KILN_EXIT_FAILURE,
                     "container limit reached: you have %u containers and the limit is %u "
                     "(max_containers in %s); retire one with 'kiln container retire NAME'",
                     count, o->config->max_containers,
                     o->config->path ? o->config->path : "the kiln configuration");
    } else {
      _cleanup_free_ char *esc = kiln_engine_escape(name);
      _cleanup_free_ char *query = NULL;
      long status = 0;
      kiln_error *cerr = NULL;
      if (!esc || asprintf(&query, "name=%s", esc) < 0) {
        kiln_error_oom(err);
      } else {
        _cleanup_json_ json_t *r =
            kiln_engine_json(engine, "POST", "/containers/create", query, body, &status, &cerr);
        const char *cid = json_string_value(json_object_get(r, "Id"));
        if (cid) id = strdup(cid);
      }
      if (cerr && status == 409) {
        kiln_error_set(err, KILN_EXIT_FAILURE,
                       "you already have a container named '%s' (%s); pick another --name or "
                       "retire it with 'kiln container retire %s'",
                       o->name, name, o->name);
        kiln_error_free(cerr);
      } else if (cerr && is_gpu_error(cerr->message)) {
        kiln_error_set(err, KILN_EXIT_ENGINE,
                       "this engine has no '%s' runtime; deploy without "
                       "--runtime or on a GPU node (%s)",
                       o->runtime ? o->runtime : "nvidia", cerr->message);
        kiln_error_free(cerr);
      } else if (cerr) {
        kiln_error_keep(err, cerr);
      }
    }
  }
  kiln_lock_release(lock);
  return id;
}

static int start_or_remove(kiln_engine *engine, const char *id, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/containers/%s/start", id) < 0) return kiln_error_oom(err);
  kiln_error *serr = NULL;
  json_decref(kiln_engine_json(engine, "POST", path, NULL, NULL, NULL, &serr));
  if (!serr) return 0;
  remove_container(engine, id);
  if (is_gpu_error(serr->message)) {
    kiln_error_free(serr);
    return kiln_error_set(err, KILN_EXIT_ENGINE, NO_GPU_MESSAGE);
  }
  kiln_error_keep(err, serr);
  return kiln_error_prefix(err, "the container could not start and was removed");
}

/* ---- deploy ---- */

static int check_options(const kiln_deploy_options *o, kiln_error **err) {
  if (!o || !o->image || !o->name || !o->caller || !o->config)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "deploy: image, name, caller and config are "
                          "required");
  if (kiln_check_project_name(o->name, false, err) < 0)
    return kiln_error_prefix(err, "container name '%s'", o->name);
  for (size_t i = 0; i < o->n_volumes; i++) { /* bad usage before any work */
    _cleanup_free_ char *name = NULL, *target = NULL;
    bool ro;
    if (kiln_parse_volume_spec(o->volumes[i], &name, &target, &ro, err) < 0) return -1;
  }
  return 0;
}

/* The workspace as the access module resolved it. */
typedef struct {
  char *real; /* owned; the folder to bind, or NULL (no workspace) */
  dev_t dev;
  ino_t ino;
} checked_workspace;

/* The access module's answers that need no engine, asked before anything
 * is created: the runtime, and the workspace (its real path is bound). */
static int check_access(const kiln_deploy_options *o, checked_workspace *ws, kiln_error **err) {
  if (kiln_access_runtime(o->caller, o->config, o->runtime, err) < 0) return -1;
  if (!o->workspace_dir) return 0;
  return kiln_access_workspace(o->caller, o->workspace_dir, &ws->real, &ws->dev, &ws->ino, err);
}

/* The image to run: opts->image itself when labeled for the caller, else its
 * adaptation. Fills *image (inspect result of that image). Refused when the
 * caller may not read opts->image. */
static int resolve_image(kiln_engine *engine, const kiln_deploy_options *o,
                         kiln_deploy_result *result, json_t **image, kiln_error **err) {
  bool given = o->image_inspect && json_string_value(json_object_get(o->image_inspect, "Id"));
  _cleanup_json_ json_t *img =
      given ? json_incref(o->image_inspect) : inspect_image(engine, o->image, err);
  if (!img)
    return err && *err ? kiln_error_prefix(err, "image '%s'", o->image)
                       : kiln_error_set(err, KILN_EXIT_FAILURE,
                                        "image '%s' does not exist; build it with 'kiln image "
                                        "create' (nothing is pulled)",
                                        o->image);
  const char *id = json_string_value(json_object_get(img, "Id"));
  json_t *config = json_object_get(img, "Config");
  json_t *labels = json_object_get(config, "Labels");
  if (kiln_access_image(o->caller, ns_of(o), o->image, labels, err) < 0) return -1;
  uint32_t fu = 0, fg = 0;
  kiln_image_setup kind =
      kiln_image_setup_of(labels, o->caller->id.uid, o->caller->id.gid, &fu, &fg);
  if (kind == KILN_IMAGE_LABELED) {
    *image = steal_pointer(&img);
    return 0;
  }
  if (kind == KILN_IMAGE_OTHER_USER)
    emit(o, KILN_DEPLOY_WARNING,
         "image '%s' was set up for uid %" PRIu32 " gid %" PRIu32 ", not for you (uid %" PRIu32
         " gid %" PRIu32 "); adapting it",
         o->image, fu, fg, o->caller->id.uid, o->caller->id.gid);
  _cleanup_free_ char *adapted_id = adapt(engine, o, id, config, result, err);
  if (!adapted_id) return -1;
  *image = inspect_image(engine, adapted_id, err);
  if (!*image)
    return err && *err ? -1 : kiln_error_set(err, KILN_EXIT_ENGINE, "the adapted image vanished");
  return 0;
}

/* As root, the started container's workspace must be the folder that was
 * checked: a folder swapped for another (a symlink) between the check and
 * the engine's mount is caught here, and the container removed. *inspected
 * gets the container's inspect answer when the check read it (new
 * reference), so it is not asked twice. */
static int verify_workspace(kiln_engine *engine, const char *id, const checked_workspace *ws,
                            json_t *image, json_t **inspected, kiln_error **err) {
  if (!ws->real || geteuid() != 0) return 0;
  const char *target = workspace_of(json_object_get(image, "Config"));
  if (kiln_workspace_mount_check(engine, id, target, ws->dev, ws->ino, inspected, err) == 0)
    return 0;
  remove_container(engine, id);
  return kiln_error_prefix(err, "workspace changed while deploying; the container was removed");
}

/* The started container's published ports (the engine picked the random
 * ones at start), from its inspect answer after the start: `inspected`
 * when one was read already (borrowed; may be NULL). */
static int published_ports(kiln_engine *engine, const char *id, json_t *inspected,
                           kiln_deploy_result *result, kiln_error **err) {
  _cleanup_json_ json_t *c =
      inspected ? json_incref(inspected)
                : kiln_engine_inspect(engine, KILN_OBJECT_CONTAINER, id, false, err);
  if (!c && !*err) kiln_error_set(err, KILN_EXIT_ENGINE, "container %.12s is gone", id);
  if (!c) return kiln_error_prefix(err, "reading the published ports");
  result->ports =
      kiln_ports_from_inspect(json_object_get(json_object_get(c, "NetworkSettings"), "Ports"));
  return result->ports ? 0 : kiln_error_oom(err);
}

/* Checked, created, started and verified; the image was resolved. */
static int deploy_image(kiln_engine *engine, const kiln_deploy_options *o,
                        const checked_workspace *ws, json_t *image, kiln_deploy_result *result,
                        kiln_error **err) {
  const char *image_id = json_string_value(json_object_get(image, "Id"));
  _cleanup_json_ json_t *body =
      kiln_deploy_create_body(o, image_id, json_object_get(image, "Config"), err);
  if (!body ||
      check_volumes(engine, o, image_id,
                    json_object_get(json_object_get(body, "HostConfig"), "Mounts"), err) < 0)
    return -1;
  _cleanup_free_ char *name = kiln_container_engine_name(o->name, o->caller->id.uid);
  if (!name) return kiln_error_oom(err);
  _cleanup_free_ char *id = create_limited(engine, o, name, body, err);
  if (!id) return -1;
  _cleanup_json_ json_t *inspected = NULL;
  if (!o->no_start && (start_or_remove(engine, id, err) < 0 ||
                       verify_workspace(engine, id, ws, image, &inspected, err) < 0))
    return -1;
  result->started = !o->no_start;
  if (result->started && published_ports(engine, id, inspected, result, err) < 0) return -1;
  result->container_id = steal_pointer(&id);
  result->container_name = steal_pointer(&name);
  result->image_id = strdup(image_id);
  return result->image_id ? 0 : kiln_error_oom(err);
}

int kiln_deploy(kiln_engine *engine, const kiln_deploy_options *o, kiln_deploy_result *result,
                kiln_error **err) {
  memset(result, 0, sizeof *result);
  checked_workspace ws = {NULL, 0, 0};
  if (check_options(o, err) < 0 || check_access(o, &ws, err) < 0) return -1;
  kiln_deploy_options checked = *o;
  checked.workspace_dir = ws.real; /* the folder the caller could open, not the name given */
  _cleanup_json_ json_t *image = NULL;
  int r = resolve_image(engine, &checked, result, &image, err);
  if (r == 0) r = deploy_image(engine, &checked, &ws, image, result, err);
  free(ws.real);
  return r;
}
