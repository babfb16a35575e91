/* Engine objects by kind: the one rule for inspecting one (a 404 is
 * "missing", not an error; an answer without its id is the engine's
 * error) and for removing one, as a normal or an undo call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/engine.h"
#include "util/cleanup.h"

static const struct object_kind {
  const char *path;   /* the object's path is path + escaped reference */
  const char *detail; /* + this for inspect */
  const char *id_key; /* what every inspect answer carries */
} kinds[] = {
    [KILN_OBJECT_IMAGE] = {"/images/", "/json", "Id"},
    [KILN_OBJECT_CONTAINER] = {"/containers/", "/json", "Id"},
    [KILN_OBJECT_VOLUME] = {"/volumes/", "", "Name"},
};

const char *kiln_object_kind_name(kiln_object_kind kind) {
  static const char *const names[] = {
      [KILN_OBJECT_IMAGE] = "image",
      [KILN_OBJECT_CONTAINER] = "container",
      [KILN_OBJECT_VOLUME] = "volume",
  };
  return names[kind];
}

/* A new path for ref (+ suffix), or NULL (out of memory). */
static char *object_path(kiln_object_kind kind, const char *ref, const char *suffix) {
  _cleanup_free_ char *esc = kiln_engine_escape(ref);
  char *path = NULL;
  return esc && asprintf(&path, "%s%s%s", kinds[kind].path, esc, suffix) >= 0 ? path : NULL;
}

/* One call; 0, 1 for a 404 (the error dropped), -1 with *err set. */
static int object_call(kiln_engine *e, const char *method, const char *path, const char *query,
                       bool undo, kiln_engine_response *resp, kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  req.method = method;
  req.path = path;
  req.query = query;
  req.undo = undo;
  kiln_error *local = NULL;
  if (kiln_engine_call(e, &req, resp, &local) == 0) return 0;
  if (resp->status != 404) return kiln_error_keep(err, local);
  kiln_error_free(local);
  return 1;
}

json_t *kiln_engine_inspect(kiln_engine *e, kiln_object_kind kind, const char *ref, bool undo,
                            kiln_error **err) {
  const struct object_kind *k = &kinds[kind];
  _cleanup_free_ char *path = object_path(kind, ref, k->detail);
  if (!path) return kiln_error_oom(err), NULL;
  kiln_engine_response resp;
  if (object_call(e, "GET", path, NULL, undo, &resp, err) != 0) return NULL;
  json_t *doc = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
  kiln_engine_response_clear(&resp);
  if (!json_string_value(json_object_get(doc, k->id_key))) {
    json_decref(doc);
    return kiln_error_set(err, KILN_EXIT_ENGINE,
                          "the engine's answer for %s %s is not an inspect document (no %s)",
                          kiln_object_kind_name(kind), ref, k->id_key),
           NULL;
  }
  return doc;
}

bool kiln_image_tagged(json_t *image) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(image, "RepoTags"), i, t) {
    const char *s = json_string_value(t);
    if (s && strcmp(s, "<none>:<none>")) return true;
  }
  return false;
}

int kiln_engine_remove(kiln_engine *e, kiln_object_kind kind, const char *ref, const char *query,
                       bool undo, kiln_error **err) {
  _cleanup_free_ char *path = object_path(kind, ref, "");
  if (!path) return kiln_error_oom(err);
  kiln_engine_response resp;
  int r = object_call(e, "DELETE", path, query, undo, &resp, err);
  if (r == 0) kiln_engine_response_clear(&resp);
  return r;
}
