/* The POST /containers/create body of a deploy, pure: environment, ports,
 * GPUs, mounts, limits, security options, command and labels. */
#include "kiln/deploy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define DEFAULT_WORKSPACE    "/workspace"
#define KILN_DEFAULT_HOST_IP "127.0.0.1"

/* Where an image wants the workspace mounted (label kiln.workspace). */
const char *kiln_deploy_workspace_of(json_t *image_config) {
  const char *ws = kiln_label(json_object_get(image_config, "Labels"), KILN_LABEL_WORKSPACE);
  return ws && *ws ? ws : DEFAULT_WORKSPACE;
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

bool kiln_deploy_all_digits(const char *s) {
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
  } else if (kiln_deploy_all_digits(gpus)) {
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
  const char *workspace = kiln_deploy_workspace_of(image_config);
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
