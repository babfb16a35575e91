/* kiln image list / retire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/image.h"
#include "kiln/access.h"
#include "kiln/labels.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* "filters" query value for one label condition. */
static char *label_filter(const char *label) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "label", label);
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  char *q = NULL;
  if (!esc || asprintf(&q, "filters=%s", esc) < 0) return NULL;
  return q;
}

json_t *kiln_image_list(kiln_engine *e, uint32_t uid, bool all, kiln_error **err) {
  char cond[64];
  if (all) /* the key alone: every image a kiln build labelled */
    snprintf(cond, sizeof cond, "%s", KILN_LABEL_OWNER_UID);
  else
    snprintf(cond, sizeof cond, "%s=%u", KILN_LABEL_OWNER_UID, uid);
  _cleanup_free_ char *query = label_filter(cond);
  if (!query) return kiln_error_oom(err), NULL;
  return kiln_engine_json(e, "GET", "/images/json", query, NULL, NULL, err);
}

/* Containers (any state) created from image id. New reference. */
static json_t *containers_of(kiln_engine *e, const char *image_id, kiln_error **err) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "ancestor", image_id);
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  _cleanup_free_ char *q = NULL;
  if (!esc || asprintf(&q, "all=1&filters=%s", esc) < 0) return kiln_error_oom(err), NULL;
  return kiln_engine_json(e, "GET", "/containers/json", q, NULL, NULL, err);
}

static const char *container_name(json_t *c) {
  const char *n = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
  return n ? n + (n[0] == '/') : "?";
}

static int remove_container(kiln_engine *e, json_t *c, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/containers/%s", json_string_value(json_object_get(c, "Id"))) < 0)
    return kiln_error_oom(err);
  _cleanup_json_ json_t *r = kiln_engine_json(e, "DELETE", path, "force=1", NULL, NULL, err);
  return r ? 0 : kiln_error_prefix(err, "removing container %s", container_name(c));
}

/* Refuses while containers use the image; with force removes the caller's. */
static int clear_containers(kiln_engine *e, const char *ref, const char *id,
                            const kiln_caller *caller, bool force, kiln_error **err) {
  _cleanup_json_ json_t *list = containers_of(e, id, err);
  if (!list) return -1;
  if (!json_array_size(list)) return 0;
  _cleanup_buf_ kiln_buf names = KILN_BUF_INIT(4096);
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) kiln_buf_printf(&names, "%s%s", i ? ", " : "", container_name(c));
  if (!force)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s is used by %zu container(s): %s; remove them first or pass --force "
                          "to remove them with the image",
                          ref, json_array_size(list), names.data);
  /* A container inherits the image's labels; kiln's deploy overrides
   * kiln.owner-uid with the deployer's uid, so this tells whose it is. */
  json_array_foreach(list, i, c) {
    json_t *labels = json_object_get(c, "Labels");
    const char *owner = json_string_value(json_object_get(labels, KILN_LABEL_OWNER_UID));
    if (!kiln_access_owns(caller, labels, false))
      return kiln_error_set(err, KILN_EXIT_FAILURE,
                            "%s is used by container %s, which is not yours (kiln.owner-uid=%s); "
                            "not removing anything",
                            ref, container_name(c), owner ? owner : "unset");
  }
  json_array_foreach(list, i, c) if (remove_container(e, c, err) < 0) return -1;
  return 0;
}

/* Every tag of img must be one the caller may remove. */
static int check_tags(const kiln_caller *caller, const char *ns, json_t *img, kiln_error **err) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(img, "RepoTags"), i, t) {
    const char *tag = json_string_value(t);
    if (tag && strcmp(tag, "<none>:<none>") && kiln_access_tag(caller, ns, tag, err) < 0)
      return kiln_error_prefix(err, "not removing the image");
  }
  return 0;
}

int kiln_image_retire(kiln_engine *e, const char *ref, const kiln_caller *caller, const char *ns,
                      bool force, kiln_error **err) {
  _cleanup_json_ json_t *img = kiln_engine_inspect(e, KILN_OBJECT_IMAGE, ref, false, err);
  if (!img && !*err) return kiln_error_set(err, KILN_EXIT_FAILURE, "there is no image %s", ref);
  if (!img) return -1;
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  if (!kiln_access_owns(caller, labels, false))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s is not yours (its owner label is not uid %u); kiln never removes "
                          "someone else's image",
                          ref, caller->id.uid);
  /* By name only that tag goes; by id every tag does. */
  bool by_id = !strncmp(ref, "sha256:", 7);
  if (!by_id && kiln_access_tag(caller, ns, ref, err) < 0)
    return kiln_error_prefix(err, "not removing %s", ref);
  if (by_id && check_tags(caller, ns, img, err) < 0) return -1;
  const char *id = json_string_value(json_object_get(img, "Id"));
  if (clear_containers(e, ref, id, caller, force, err) < 0) return -1;
  int r = kiln_engine_remove(e, KILN_OBJECT_IMAGE, ref, NULL, false, err);
  if (r == 1) return kiln_error_set(err, KILN_EXIT_FAILURE, "there is no image %s", ref);
  return r < 0 ? kiln_error_prefix(err, "removing %s", ref) : 0;
}
