/* container deploy: labeled images are created directly; legacy images are
 * adapted once (adapt.c), then created like labeled ones; the caller's
 * volumes, the limits and the start. */
#include "kiln/deploy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/generate.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define NO_GPU_MESSAGE                                                                             \
  "this engine has no NVIDIA GPU runtime; deploy without --gpus or on a GPU node"

/* The image namespace of this deploy. */
const char *kiln_deploy_ns_of(const kiln_deploy_options *o) {
  return o->ns ? o->ns : o->config->ns;
}

void kiln_deploy_result_clear(kiln_deploy_result *r) {
  free(r->container_id);
  free(r->container_name);
  free(r->image_id);
  free(r->adapted_image);
  json_decref(r->ports);
  memset(r, 0, sizeof *r);
}

/* ---- events ---- */

__attribute__((format(printf, 3, 4))) void
kiln_deploy_emit(const kiln_deploy_options *o, kiln_deploy_event_kind kind, const char *fmt, ...) {
  if (!o->on_event) return;
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  o->on_event(o->user, kind, text);
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
  kiln_deploy_remove_container(engine, id);
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
      given ? json_incref(o->image_inspect) : kiln_deploy_inspect_image(engine, o->image, err);
  if (!img)
    return err && *err ? kiln_error_prefix(err, "image '%s'", o->image)
                       : kiln_error_set(err, KILN_EXIT_FAILURE,
                                        "image '%s' does not exist; build it with 'kiln image "
                                        "create' (nothing is pulled)",
                                        o->image);
  const char *id = json_string_value(json_object_get(img, "Id"));
  json_t *config = json_object_get(img, "Config");
  json_t *labels = json_object_get(config, "Labels");
  if (kiln_access_image(o->caller, kiln_deploy_ns_of(o), o->image, labels, err) < 0) return -1;
  uint32_t fu = 0, fg = 0;
  kiln_image_setup kind =
      kiln_image_setup_of(labels, o->caller->id.uid, o->caller->id.gid, &fu, &fg);
  if (kind == KILN_IMAGE_LABELED) {
    *image = steal_pointer(&img);
    return 0;
  }
  if (kind == KILN_IMAGE_OTHER_USER)
    kiln_deploy_emit(o, KILN_DEPLOY_WARNING,
                     "image '%s' was set up for uid %" PRIu32 " gid %" PRIu32
                     ", not for you (uid %" PRIu32 " gid %" PRIu32 "); adapting it",
                     o->image, fu, fg, o->caller->id.uid, o->caller->id.gid);
  _cleanup_free_ char *adapted_id = kiln_deploy_adapt(engine, o, id, config, result, err);
  if (!adapted_id) return -1;
  *image = kiln_deploy_inspect_image(engine, adapted_id, err);
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
  const char *target = kiln_deploy_workspace_of(json_object_get(image, "Config"));
  if (kiln_workspace_mount_check(engine, id, target, ws->dev, ws->ino, inspected, err) == 0)
    return 0;
  kiln_deploy_remove_container(engine, id);
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
