/* Named volumes owned by one user, within a limit. The engine name is per
 * user, NAME._.UID (kiln_volume_engine_name), and the volume carries the
 * label kiln.owner-uid; kiln commands take and show NAME. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* The caller's uid (see kiln_owner). */
static uint32_t owner_uid(const kiln_owner *owner) {
  kiln_caller fallback;
  return kiln_owner_caller(owner, &fallback)->id.uid;
}

int kiln_volume_create_locked(kiln_engine *engine, const char *name, uint32_t owner_uid,
                              kiln_error **err) {
  char uid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, owner_uid);
  _cleanup_json_ json_t *body =
      json_pack("{s:s, s:{s:s}}", "Name", name, "Labels", KILN_LABEL_OWNER_UID, uid);
  if (!body) return kiln_error_oom(err);
  _cleanup_json_ json_t *r =
      kiln_engine_json(engine, "POST", "/volumes/create", NULL, body, NULL, err);
  return r ? 0 : kiln_error_prefix(err, "creating volume '%s'", name);
}

static int not_yours(const char *name, json_t *vol, kiln_error **err) {
  const char *who = kiln_label(json_object_get(vol, "Labels"), KILN_LABEL_OWNER_UID);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "volume '%s' is not yours (owner uid %s)", name,
                        who ? who : "unknown: not created by kiln");
}

/* Inspects the engine volume ename (NULL with *err unset when missing). */
static json_t *inspect_as(kiln_engine *engine, const char *ename, char **engine_name,
                          kiln_error **err) {
  json_t *vol = kiln_engine_inspect(engine, KILN_OBJECT_VOLUME, ename, false, err);
  if (vol && !(*engine_name = strdup(ename))) {
    json_decref(vol);
    return kiln_error_oom(err), NULL;
  }
  return vol;
}

json_t *kiln_volume_find(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         char **engine_name, kiln_error **err) {
  *engine_name = NULL;
  if (kiln_check_volume_name(name, err) < 0) return NULL;
  _cleanup_free_ char *own = kiln_volume_engine_name(name, owner_uid(owner));
  if (!own) return kiln_error_oom(err), NULL;
  json_t *vol = inspect_as(engine, own, engine_name, err);
  if (!vol && !(err && *err) && kiln_owner_all_users(owner))
    vol = inspect_as(engine, name, engine_name, err); /* an admin naming an engine volume */
  if (vol && !kiln_owner_owns(owner, json_object_get(vol, "Labels"))) {
    not_yours(name, vol, err);
    json_decref(vol);
    free(*engine_name);
    *engine_name = NULL;
    return NULL;
  }
  return vol;
}

/* Under the user's volumes lock: exists? yours? room left? create. */
static int create_checked(kiln_engine *engine, const char *name, const kiln_owner *owner,
                          const kiln_config *config, bool *existed, kiln_error **err) {
  _cleanup_free_ char *ename = kiln_volume_engine_name(name, owner_uid(owner));
  if (!ename) return kiln_error_oom(err);
  _cleanup_json_ json_t *vol = kiln_engine_inspect(engine, KILN_OBJECT_VOLUME, ename, false, err);
  if (!vol && err && *err) return -1;
  if (vol) {
    if (!kiln_owner_owns(owner, json_object_get(vol, "Labels"))) return not_yours(name, vol, err);
    *existed = true;
    return 0;
  }
  unsigned count = 0;
  if (kiln_count_owned(engine, "volumes", owner_uid(owner), &count, err) < 0) return -1;
  if (count >= config->max_volumes)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "volume limit reached: you have %u volumes and the limit is %u "
                          "(max_volumes in %s); remove one with 'kiln volume remove NAME'",
                          count, config->max_volumes,
                          config->path ? config->path : "the kiln configuration");
  if (kiln_volume_create_locked(engine, ename, owner_uid(owner), err) < 0)
    return kiln_error_prefix(err, "volume '%s'", name);
  return 0;
}

int kiln_volume_create(kiln_engine *engine, const char *name, const kiln_owner *owner,
                       const kiln_config *config, bool *existed, kiln_error **err) {
  *existed = false;
  if (kiln_check_volume_name(name, err) < 0) return -1;
  char lock_name[48];
  snprintf(lock_name, sizeof lock_name, "volumes-%" PRIu32, owner_uid(owner));
  int lock = kiln_lock_acquire(lock_name, kiln_engine_interrupt_flag(engine), err);
  if (lock < 0) return -1;
  int r = create_checked(engine, name, owner, config, existed, err);
  kiln_lock_release(lock);
  return r;
}

/* Volume name → names of containers mounting it, from one container list. */
static json_t *volume_users(kiln_engine *engine, kiln_error **err) {
  _cleanup_json_ json_t *list =
      kiln_engine_json(engine, "GET", "/containers/json", "all=1", NULL, NULL, err);
  if (!list) return NULL;
  json_t *users = json_object();
  size_t i, j;
  json_t *c, *m;
  json_array_foreach(list, i, c) {
    const char *cname = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    json_array_foreach(json_object_get(c, "Mounts"), j, m) {
      const char *vname = json_string_value(json_object_get(m, "Name"));
      if (!vname || !cname) continue;
      json_t *names = json_object_get(users, vname);
      if (!names) json_object_set_new(users, vname, names = json_array());
      json_array_append_new(names, json_string(cname[0] == '/' ? cname + 1 : cname));
    }
  }
  return users;
}

json_t *kiln_volume_list(kiln_engine *engine, const kiln_owner *owner, kiln_error **err) {
  char label[64];
  if (kiln_owner_all_users(owner))
    snprintf(label, sizeof label, "%s", KILN_LABEL_OWNER_UID);
  else
    snprintf(label, sizeof label, "%s=%" PRIu32, KILN_LABEL_OWNER_UID, owner_uid(owner));
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "label", label);
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  _cleanup_free_ char *query = NULL;
  if (!esc || asprintf(&query, "filters=%s", esc) < 0) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *r = kiln_engine_json(engine, "GET", "/volumes", query, NULL, NULL, err);
  _cleanup_json_ json_t *users = r ? volume_users(engine, err) : NULL;
  if (!users) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(r, "Volumes"), i, v) {
    const char *ename = json_string_value(json_object_get(v, "Name"));
    const char *owner_label = kiln_label(json_object_get(v, "Labels"), KILN_LABEL_OWNER_UID);
    _cleanup_free_ char *name = kiln_engine_short_name(ename ? ename : "", owner_label);
    json_t *used_by = json_object_get(users, ename ? ename : "");
    if (!name) return json_decref(out), kiln_error_oom(err), NULL;
    json_array_append_new(out, json_pack("{s:s, s:s, s:s?, s:O?, s:o}", "name", name, "engine_name",
                                         ename ? ename : "", "owner_uid", owner_label, "created",
                                         json_object_get(v, "CreatedAt"), "used_by",
                                         used_by ? json_incref(used_by) : json_array()));
  }
  return out;
}

static int in_use(kiln_engine *engine, const char *name, const char *ename, kiln_error **err) {
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *users = volume_users(engine, &ignored);
  json_t *names = json_object_get(users, ename);
  kiln_buf list = KILN_BUF_INIT(4096);
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n)
      kiln_buf_printf(&list, "%s%s", i ? ", " : "", json_string_value(n));
  kiln_error_set(err, KILN_EXIT_FAILURE,
                 "volume '%s' is in use by %s; retire or remove those containers first", name,
                 list.len ? list.data : "a container");
  kiln_buf_free(&list);
  return -1;
}

int kiln_volume_remove(kiln_engine *engine, const char *name, const kiln_owner *owner, bool force,
                       kiln_error **err) {
  _cleanup_free_ char *ename = NULL;
  _cleanup_json_ json_t *vol = kiln_volume_find(engine, name, owner, &ename, err);
  if (!vol && err && *err) return -1;
  if (!vol)
    return force ? 0 : kiln_error_set(err, KILN_EXIT_FAILURE, "volume '%s' does not exist", name);
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/volumes/%s", ename) < 0) return kiln_error_oom(err);
  long status = 0;
  kiln_error *e = NULL;
  json_decref(kiln_engine_json(engine, "DELETE", path, NULL, NULL, &status, &e));
  if (!e) return 0;
  if (status == 409) {
    kiln_error_free(e);
    return in_use(engine, name, ename, err);
  }
  kiln_error_keep(err, e);
  return kiln_error_prefix(err, "removing volume '%s'", name);
}
