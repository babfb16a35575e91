/* kiln gc: exited temporary containers, build-step containers a dying
 * engine left, dangling kiln images, adaptations whose base is gone;
 * AIME-style "*._.*" images are only reported. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/distribute.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

typedef struct {
  kiln_engine *engine;
  const kiln_owner *owner;
  bool dry_run;
  long build_step_age_s;
  kiln_gc_fn fn;
  void *user;
} gc_run;

/* GET path?[all=1&]filters={"label":[labels...], extra} */
static json_t *list_filtered(gc_run *g, const char *path, json_t *filters, kiln_error **err) {
  char owner[64];
  kiln_caller fallback;
  if (kiln_owner_all_users(g->owner))
    snprintf(owner, sizeof owner, "%s", KILN_LABEL_OWNER_UID);
  else
    snprintf(owner, sizeof owner, "%s=%" PRIu32, KILN_LABEL_OWNER_UID,
             kiln_owner_caller(g->owner, &fallback)->id.uid);
  json_t *labels = json_object_get(filters, "label");
  if (!labels) json_object_set_new(filters, "label", labels = json_array());
  json_array_append_new(labels, json_string(owner));
  _cleanup_free_ char *text = json_dumps(filters, JSON_COMPACT);
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  _cleanup_free_ char *query = NULL;
  /* all=1 only for containers: for images it would add build parents. */
  bool containers = !strcmp(path, "/containers/json");
  if (!esc || asprintf(&query, "%sfilters=%s", containers ? "all=1&" : "", esc) < 0)
    return kiln_error_oom(err), NULL;
  return kiln_engine_json(g->engine, "GET", path, query, NULL, NULL, err);
}

static void report(gc_run *g, kiln_gc_kind kind, const char *id, const char *name, bool removed) {
  kiln_gc_item item = {kind, id, name, removed};
  if (g->fn) g->fn(g->user, &item);
}

/* DELETE; failures (an image still used, ...) are skipped, not fatal. */
static bool remove_object(gc_run *g, kiln_object_kind kind, const char *id) {
  if (g->dry_run) return false;
  _cleanup_error_ kiln_error *ignored = NULL;
  return kiln_engine_remove(g->engine, kind, id, kind == KILN_OBJECT_CONTAINER ? "v=1" : NULL,
                            false, &ignored) == 0;
}

static int temp_containers(gc_run *g, kiln_error **err) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "label", KILN_LABEL_TEMP "=true");
  _cleanup_json_ json_t *list = f ? list_filtered(g, "/containers/json", f, err) : NULL;
  if (!list) return -1;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *state = json_string_value(json_object_get(c, "State"));
    if (!state || (strcmp(state, "exited") && strcmp(state, "dead"))) continue; /* in progress */
    const char *id = json_string_value(json_object_get(c, "Id"));
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    report(g, KILN_GC_TEMP_CONTAINER, id, name && *name == '/' ? name + 1 : name,
           remove_object(g, KILN_OBJECT_CONTAINER, id));
  }
  return 0;
}

static int dangling_images(gc_run *g, kiln_error **err) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "dangling", "true");
  _cleanup_json_ json_t *list = f ? list_filtered(g, "/images/json", f, err) : NULL;
  if (!list) return -1;
  size_t i;
  json_t *img;
  json_array_foreach(list, i, img) {
    const char *id = json_string_value(json_object_get(img, "Id"));
    report(g, KILN_GC_DANGLING_IMAGE, id, "<none>", remove_object(g, KILN_OBJECT_IMAGE, id));
  }
  return 0;
}

/* A base is gone when its id is missing or no longer has any tag (a parent
 * of the adaptation survives untagged after `rmi`). */
static bool base_gone(gc_run *g, const char *base_id) {
  _cleanup_error_ kiln_error *e = NULL;
  _cleanup_json_ json_t *img =
      kiln_engine_inspect(g->engine, KILN_OBJECT_IMAGE, base_id, false, &e);
  return img ? !kiln_image_tagged(img) : !e;
}

static int orphan_adaptations(gc_run *g, kiln_error **err) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "label", KILN_LABEL_ADAPTED_FROM);
  _cleanup_json_ json_t *list = f ? list_filtered(g, "/images/json", f, err) : NULL;
  if (!list) return -1;
  size_t i;
  json_t *img;
  json_array_foreach(list, i, img) {
    const char *from = kiln_label(json_object_get(img, "Labels"), KILN_LABEL_ADAPTED_FROM);
    if (!from || !base_gone(g, from)) continue;
    const char *id = json_string_value(json_object_get(img, "Id"));
    const char *tag = json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
    /* Remove by tag first so an image with several tags loses only this one. */
    bool removed = remove_object(g, KILN_OBJECT_IMAGE, tag ? tag : id);
    report(g, KILN_GC_ORPHAN_ADAPTATION, id, tag ? tag : "<none>", removed);
  }
  return 0;
}

static bool is_registry_name(const char *tag) {
  char *server = NULL, *path = NULL, *reference = NULL;
  bool yes = kiln_registry_split(tag, &server, &path, &reference, NULL) == 0;
  free(server);
  free(path);
  free(reference);
  return yes;
}

/* Registry names on the caller's images. kiln keeps none (a push tags for
 * the push only, a pull renames into the namespace), so one that is left
 * comes from a push or pull cut short by the engine going away. Only the
 * name is removed, and only when the image keeps another one. */
static int registry_names(gc_run *g, kiln_error **err) {
  _cleanup_json_ json_t *f = json_object();
  _cleanup_json_ json_t *list = f ? list_filtered(g, "/images/json", f, err) : NULL;
  if (!list) return -1;
  size_t i, j;
  json_t *img, *t;
  json_array_foreach(list, i, img) {
    json_t *tags = json_object_get(img, "RepoTags");
    size_t kept = json_array_size(tags);
    json_array_foreach(tags, j, t) {
      const char *tag = json_string_value(t);
      if (!tag || kept < 2 || !is_registry_name(tag)) continue;
      bool removed = remove_object(g, KILN_OBJECT_IMAGE, tag);
      if (removed) kept--;
      report(g, KILN_GC_REGISTRY_NAME, json_string_value(json_object_get(img, "Id")), tag, removed);
    }
  }
  return 0;
}

/* Everyone's AIME images: a report for admins (--all-users) only, since the
 * tags name other people's images. */
static int aime_images(gc_run *g, kiln_error **err) {
  if (!kiln_owner_all_users(g->owner)) return 0;
  _cleanup_json_ json_t *list =
      kiln_engine_json(g->engine, "GET", "/images/json", NULL, NULL, NULL, err);
  if (!list) return -1;
  size_t i, j;
  json_t *img, *t;
  json_array_foreach(list, i, img) {
    json_array_foreach(json_object_get(img, "RepoTags"), j, t) {
      const char *tag = json_string_value(t);
      if (tag && strstr(tag, "._."))
        report(g, KILN_GC_AIME_IMAGE, json_string_value(json_object_get(img, "Id")), tag, false);
    }
  }
  return 0;
}

/* Seconds since an RFC 3339 time ("2026-12-03T15:04:05.123Z"), or -1. */
static long seconds_since(const char *when) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  const char *rest = when ? strptime(when, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
  if (!rest || tm.tm_year < 71) return -1; /* "0001-01-01": never */
  return (long)(time(NULL) - timegm(&tm));
}

/* How long ago a container stopped (or was made, when it never ran). */
static long idle_seconds(gc_run *g, const char *id, json_t *listed) {
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *c =
      kiln_engine_inspect(g->engine, KILN_OBJECT_CONTAINER, id, false, &ignored);
  long since =
      seconds_since(json_string_value(json_object_get(json_object_get(c, "State"), "FinishedAt")));
  if (since >= 0) return since;
  json_int_t created = json_integer_value(json_object_get(listed, "Created"));
  return created > 0 ? (long)(time(NULL) - (time_t)created) : -1;
}

/* The classic builder's step containers an engine that died mid-build
 * left (a normal build removes them): everyone's, for admins only. */
static int build_steps(gc_run *g, kiln_error **err) {
  if (!kiln_owner_all_users(g->owner)) return 0;
  _cleanup_json_ json_t *f = json_pack("{s:[s], s:[s,s,s]}", "label", KILN_LABEL_BUILD_STEP "=true",
                                       "status", "exited", "created", "dead");
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  _cleanup_free_ char *query = NULL;
  if (!esc || asprintf(&query, "all=1&filters=%s", esc) < 0) return kiln_error_oom(err);
  _cleanup_json_ json_t *list =
      kiln_engine_json(g->engine, "GET", "/containers/json", query, NULL, NULL, err);
  if (!list) return -1;
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *id = json_string_value(json_object_get(c, "Id"));
    if (!id || idle_seconds(g, id, c) < g->build_step_age_s) continue; /* awaiting its commit */
    const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
    report(g, KILN_GC_BUILD_STEP, id, name && *name == '/' ? name + 1 : name,
           remove_object(g, KILN_OBJECT_CONTAINER, id));
  }
  return 0;
}

int kiln_gc(kiln_engine *engine, const kiln_gc_options *opts, kiln_error **err) {
  gc_run g = {
      engine,        opts->owner,
      opts->dry_run, opts->build_step_age_s ? opts->build_step_age_s : KILN_GC_BUILD_STEP_AGE_S,
      opts->fn,      opts->user};
  if (temp_containers(&g, err) < 0 || build_steps(&g, err) < 0 || dangling_images(&g, err) < 0 ||
      orphan_adaptations(&g, err) < 0 || registry_names(&g, err) < 0 || aime_images(&g, err) < 0)
    return kiln_error_prefix(err, "gc");
  return 0;
}
