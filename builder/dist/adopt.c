/* Ownership of images that arrive from elsewhere (import, pull): the names
 * they get and the relabel that makes them the caller's. */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define ADOPT_CONTEXT_MAX 16384 /* the one-line Dockerfile as a tar */

/* ---- engine calls on names ---- */

static int call(kiln_engine *engine, const char *method, const char *path, const char *query,
                bool undo, long *status, kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = method;
  req.path = path;
  req.query = query;
  req.undo = undo;
  int r = kiln_engine_call(engine, &req, &resp, err);
  if (status) *status = resp.status;
  kiln_engine_response_clear(&resp);
  return r;
}

json_t *kiln_dist_inspect(kiln_engine *engine, const char *ref, bool missing_ok, kiln_error **err) {
  kiln_error *local = NULL;
  json_t *info = kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, &local);
  if (!info && !local && !missing_ok)
    kiln_error_set(&local, KILN_EXIT_FAILURE, "no image '%s' in the engine", ref);
  kiln_error_keep(err, local);
  return info;
}

static int split_repo_tag(const char *ref, char **repo, char **tag) {
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  *repo = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
  *tag = strdup(colon ? colon + 1 : "latest");
  return *repo && *tag ? 0 : -1;
}

static int tag_call(kiln_engine *engine, const char *image, const char *ref, bool undo,
                    kiln_error **err) {
  _cleanup_free_ char *repo = NULL, *tag = NULL, *path = NULL, *query = NULL;
  if (split_repo_tag(ref, &repo, &tag) < 0) return kiln_error_oom(err);
  _cleanup_free_ char *repo_q = kiln_engine_escape(repo), *tag_q = kiln_engine_escape(tag);
  if (!repo_q || !tag_q || asprintf(&path, "/images/%s/tag", image) < 0 ||
      asprintf(&query, "repo=%s&tag=%s", repo_q, tag_q) < 0)
    return kiln_error_oom(err);
  if (call(engine, "POST", path, query, undo, NULL, err) < 0)
    return kiln_error_prefix(err, "tagging %.19s as %s", image, ref);
  return 0;
}

int kiln_dist_tag(kiln_engine *engine, const char *image, const char *ref, kiln_error **err) {
  return tag_call(engine, image, ref, false, err);
}

/* Undo calls run even after an interruption (bounded). */
void kiln_dist_retag(kiln_engine *engine, const char *image, const char *ref) {
  kiln_error *e = NULL;
  tag_call(engine, image, ref, true, &e);
  kiln_error_free(e);
}

void kiln_dist_untag(kiln_engine *engine, const char *ref) {
  _cleanup_error_ kiln_error *e = NULL;
  kiln_engine_remove(engine, KILN_OBJECT_IMAGE, ref, "noprune=1", true, &e);
}

void kiln_dist_remove_if_untagged(kiln_engine *engine, const char *image_id) {
  _cleanup_error_ kiln_error *e = NULL;
  _cleanup_json_ json_t *info = kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, image_id, true, &e);
  /* Deleting by id would also drop a last tag: only an untagged image. */
  if (info && !kiln_image_tagged(info))
    kiln_engine_remove(engine, KILN_OBJECT_IMAGE, image_id, NULL, true, &e);
}

/* ---- names ---- */

char *kiln_import_tag(const kiln_caller *c, const char *ns, const char *archive_tag,
                      kiln_error **err) {
  if (kiln_check_image_ref(archive_tag, err) < 0) return NULL;
  if (c->admin) {
    char *same = strdup(archive_tag);
    if (!same) kiln_error_oom(err);
    return same;
  }
  const char *slash = strrchr(archive_tag, '/');
  const char *last = slash ? slash + 1 : archive_tag;
  size_t n = strcspn(last, ":@");
  const char *tag = last[n] == ':' ? last + n + 1 : "latest";
  _cleanup_free_ char *project = strndup(last, n);
  char *ref = project ? kiln_namespace_ref(ns, c->id.uid, project, tag) : NULL;
  if (!ref) return kiln_error_oom(err), NULL;
  if (kiln_check_image_ref(ref, err) < 0) {
    free(ref);
    return NULL;
  }
  return ref;
}

/* ---- adoption ---- */

/* A tar holding only "Dockerfile" = "FROM <id>". */
static int adopt_context(const char *image_id, char *buf, size_t cap, size_t *used,
                         kiln_error **err) {
  char dockerfile[160];
  int n = snprintf(dockerfile, sizeof dockerfile, "FROM %s\n", image_id);
  struct archive *a = archive_write_new();
  struct archive_entry *e = archive_entry_new();
  int r = a && e && n > 0 && (size_t)n < sizeof dockerfile ? ARCHIVE_OK : ARCHIVE_FATAL;
  if (r == ARCHIVE_OK) r = archive_write_set_format_ustar(a);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_per_block(a, 512);
  if (r == ARCHIVE_OK) r = archive_write_open_memory(a, buf, cap, used);
  if (r == ARCHIVE_OK) {
    archive_entry_set_pathname(e, "Dockerfile");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, n);
    r = archive_write_header(a, e);
  }
  if (r == ARCHIVE_OK && archive_write_data(a, dockerfile, (size_t)n) != n) r = ARCHIVE_FATAL;
  if (r == ARCHIVE_OK) r = archive_write_close(a);
  archive_entry_free(e);
  archive_write_free(a);
  return r == ARCHIVE_OK ? 0
                         : kiln_error_set(err, KILN_EXIT_FAILURE, "cannot write a build context");
}

typedef struct {
  char *id;
  char *error;
} adopt_build;

static int adopt_line(void *user, json_t *line) {
  adopt_build *b = user;
  const char *msg =
      json_string_value(json_object_get(json_object_get(line, "errorDetail"), "message"));
  if (!msg) msg = json_string_value(json_object_get(line, "error"));
  if (msg && !b->error) b->error = strdup(msg);
  const char *id = json_string_value(json_object_get(json_object_get(line, "aux"), "ID"));
  const char *text = json_string_value(json_object_get(line, "stream"));
  if (!id && text && !strncmp(text, "sha256:", 7)) id = text;
  if (id && !b->id) b->id = strndup(id, strcspn(id, "\r\n"));
  return 0;
}

static char *adopt_query(uint32_t uid, json_t *tags) {
  char value[16];
  snprintf(value, sizeof value, "%" PRIu32, uid);
  _cleanup_json_ json_t *labels = json_pack("{s:s}", KILN_LABEL_OWNER_UID, value);
  _cleanup_free_ char *text = labels ? json_dumps(labels, JSON_COMPACT) : NULL;
  _cleanup_free_ char *text_q = text ? kiln_engine_escape(text) : NULL;
  char *q = NULL;
  if (!text_q || asprintf(&q, "version=1&rm=1&forcerm=1&q=1&labels=%s", text_q) < 0) return NULL;
  size_t i;
  json_t *t;
  json_array_foreach(tags, i, t) {
    _cleanup_free_ char *t_q = kiln_engine_escape(json_string_value(t));
    char *more = NULL;
    if (!t_q || asprintf(&more, "%s&t=%s", q, t_q) < 0) {
      free(q);
      return NULL;
    }
    free(q);
    q = more;
  }
  return q;
}

/* FROM image_id, label kiln.owner-uid=uid, tagged with tags. */
static char *relabel(kiln_engine *engine, const char *image_id, uint32_t uid, json_t *tags,
                     kiln_error **err) {
  char buf[ADOPT_CONTEXT_MAX];
  size_t used = 0;
  if (adopt_context(image_id, buf, sizeof buf, &used, err) < 0) return NULL;
  _cleanup_free_ char *query = adopt_query(uid, tags);
  if (!query) return kiln_error_oom(err), NULL;
  adopt_build b = {0};
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = "/build";
  req.query = query;
  req.content_type = "application/x-tar";
  req.body = buf;
  req.body_len = used;
  req.on_line = adopt_line;
  req.user = &b;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  if (r == 0 && (b.error || !b.id))
    r = kiln_error_set(err, KILN_EXIT_ENGINE, "%s", b.error ? b.error : "the build gave no image");
  free(b.error);
  if (r < 0) {
    free(b.id);
    kiln_error_prefix(err, "making %.19s yours (relabel build)", image_id);
    return NULL;
  }
  return b.id;
}

static int tag_all(kiln_engine *engine, const char *image_id, json_t *tags, kiln_error **err) {
  size_t i;
  json_t *t;
  json_array_foreach(tags, i, t) {
    if (kiln_dist_tag(engine, image_id, json_string_value(t), err) < 0) return -1;
  }
  return 0;
}

int kiln_image_adopt(kiln_engine *engine, const kiln_caller *c, const char *ns,
                     const char *image_id, json_t *tags, char **new_id, bool *adopted,
                     kiln_error **err) {
  *new_id = NULL;
  if (adopted) *adopted = false;
  size_t i;
  json_t *t;
  json_array_foreach(tags, i, t) {
    if (!json_is_string(t) || kiln_access_tag(c, ns, json_string_value(t), err) < 0) return -1;
  }
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, image_id, false, err);
  if (!info) return -1;
  json_t *config = json_object_get(info, "Config");
  const char *id = json_string_value(json_object_get(info, "Id"));
  if (!id) return kiln_error_set(err, KILN_EXIT_ENGINE, "image %.19s has no id", image_id);
  if (kiln_access_owns(c, json_object_get(config, "Labels"), false)) {
    if (tag_all(engine, id, tags, err) < 0) return -1;
    if (!(*new_id = strdup(id))) return kiln_error_oom(err);
    return 0;
  }
  if (json_array_size(json_object_get(config, "OnBuild")))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "image %.19s has ONBUILD triggers; kiln does not run them to make the "
                          "image yours (ask an admin to import it)",
                          id);
  if (!(*new_id = relabel(engine, id, c->id.uid, tags, err))) return -1;
  if (adopted) *adopted = true;
  kiln_dist_remove_if_untagged(engine, id);
  return 0;
}

static json_t *rewrite_tags(const kiln_caller *c, const char *ns, json_t *tags, bool name_policy,
                            kiln_error **err) {
  json_t *out = json_array();
  size_t i, j;
  json_t *t;
  json_array_foreach(tags, i, t) {
    if (!out) break;
    if (!json_is_string(t)) continue;
    char *renamed = kiln_import_tag(c, ns, json_string_value(t), err);
    if (!renamed || kiln_check_ref_policy(renamed, name_policy, err) < 0) {
      if (renamed) kiln_error_prefix(err, "the archive names %s", json_string_value(t));
      free(renamed);
      json_decref(out);
      return NULL;
    }
    bool seen = false;
    json_t *prev;
    json_array_foreach(out, j, prev) seen = seen || !strcmp(json_string_value(prev), renamed);
    if (!seen) json_array_append_new(out, json_string(renamed));
    free(renamed);
  }
  if (!out) kiln_error_oom(err);
  return out;
}

json_t *kiln_import_rewrite_manifest(const kiln_caller *c, const char *ns, json_t *manifest,
                                     bool name_policy, kiln_error **err) {
  if (!json_is_array(manifest) || !json_array_size(manifest))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "no docker save manifest.json in the archive"),
           NULL;
  _cleanup_json_ json_t *out = json_deep_copy(manifest);
  if (!out) return kiln_error_oom(err), NULL;
  size_t i;
  json_t *img;
  json_array_foreach(out, i, img) {
    json_t *tags = json_object_get(img, "RepoTags");
    if (!json_is_object(img)) continue;
    json_t *renamed = tags ? rewrite_tags(c, ns, tags, name_policy, err) : json_array();
    if (!renamed || json_object_set_new(img, "RepoTags", renamed) < 0) return NULL;
  }
  return steal_pointer(&out);
}
