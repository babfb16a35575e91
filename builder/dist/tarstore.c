/* The shared tarball folder: list, delete, and sync a runner's engine with
 * the newest tarball of each image. The folder is read, and files removed,
 * with the caller's rights; delete and sync act only on the caller's
 * tarballs (kiln_access_tarball). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define MAX_TARBALLS 10000 /* files considered in one folder */
#define MAX_ENTRIES  (4 * MAX_TARBALLS)

static bool is_tarball_name(const char *name) {
  size_t n = strlen(name);
  if (name[0] == '.') return false; /* temporaries of running exports */
  kiln_compression c;
  return n > 4 && kiln_compression_of_file(name, &c) == 0;
}

/* "<safe>-<time>.tar[.gz|.zst]" → time, or -1 for other names. */
static int64_t time_from_name(const char *base) {
  const char *dash = strrchr(base, '-');
  if (!dash) return -1;
  _cleanup_free_ char *safe = strndup(base, (size_t)(dash - base));
  return safe ? kiln_export_file_time(base, safe) : -1;
}

/* Whether the engine has the image id: true, false, or null (unknown). */
static json_t *engine_has(kiln_engine *engine, const char *image_id) {
  if (!engine || !image_id) return json_null();
  kiln_error *e = NULL;
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, image_id, true, &e);
  bool unknown = e != NULL;
  kiln_error_free(e);
  if (info) return json_true();
  return unknown ? json_null() : json_false();
}

/* The same image, by reference: "x" means "x:latest". */
static bool same_image(const char *a, const char *b) {
  _cleanup_free_ char *sa = kiln_export_safe_name(a), *sb = kiln_export_safe_name(b);
  return sa && sb && !strcmp(sa, sb);
}

/* A manifest field (borrowed), JSON null when absent. */
static json_t *field(json_t *m, const char *key) {
  json_t *v = json_object_get(m, key);
  return v ? v : json_null();
}

static json_t *owner_of(json_t *m) {
  json_t *o = json_object_get(m, "owner_uid");
  return json_is_integer(o) ? json_incref(o) : json_null();
}

/* One tarball, read with the caller's rights; NULL when it is none. */
static json_t *describe(const char *dir, const char *name) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, name) < 0) return NULL;
  struct stat st;
  if (kiln_dist_stat(path, &st, false) < 0 || !S_ISREG(st.st_mode)) return NULL;
  kiln_error *e = NULL;
  _cleanup_json_ json_t *m = kiln_export_manifest_load(path, &e);
  kiln_error_free(e);
  int64_t t = time_from_name(name);
  const char *id = json_string_value(json_object_get(m, "image_id"));
  return json_pack("{s:s, s:s, s:O, s:O, s:I, s:I, s:O, s:b, s:o, s:I, s:n}", "file", name, "path",
                   path, "image", field(m, "image"), "image_id",
                   id ? field(m, "image_id") : json_null(), "time",
                   (json_int_t)(t >= 0 ? t : (int64_t)st.st_mtime), "size", (json_int_t)st.st_size,
                   "sha256", field(m, "sha256"), "manifest", m != NULL, "owner_uid", owner_of(m),
                   "file_uid", (json_int_t)st.st_uid, "local");
}

static int newest_first(const void *a, const void *b) {
  json_int_t ta = json_integer_value(json_object_get(*(json_t *const *)a, "time"));
  json_int_t tb = json_integer_value(json_object_get(*(json_t *const *)b, "time"));
  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

static json_t *sorted(json_t *items) {
  size_t n = json_array_size(items);
  json_t **v = calloc(n ? n : 1, sizeof *v);
  json_t *out = json_array();
  if (!v || !out) {
    free(v);
    json_decref(out);
    return NULL;
  }
  for (size_t i = 0; i < n; i++)
    v[i] = json_array_get(items, i);
  qsort(v, n, sizeof *v, newest_first);
  for (size_t i = 0; i < n; i++)
    json_array_append(out, v[i]);
  free(v);
  return out;
}

/* The tarballs of dir (of image when not NULL), "local" left null. */
static json_t *collect(const char *dir, const char *image, kiln_error **err) {
  _cleanup_json_ json_t *names = kiln_dist_names(dir, MAX_ENTRIES, err);
  if (!names) return NULL;
  _cleanup_json_ json_t *items = json_array();
  size_t seen = 0, i;
  json_t *name;
  json_array_foreach(names, i, name) {
    if (!items || !is_tarball_name(json_string_value(name))) continue;
    if (++seen > MAX_TARBALLS)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "more than %d tarballs in %s", MAX_TARBALLS,
                            dir),
             NULL;
    json_t *item = describe(dir, json_string_value(name));
    const char *img = json_string_value(json_object_get(item, "image"));
    if (item && image && !(img && same_image(img, image))) {
      json_decref(item);
      continue;
    }
    if (item) json_array_append_new(items, item);
  }
  json_t *out = items ? sorted(items) : NULL;
  if (!out) kiln_error_oom(err);
  return out;
}

json_t *kiln_tar_list(kiln_engine *engine, const char *dir, const char *image, kiln_error **err) {
  json_t *items = collect(dir, image, err);
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    json_object_set_new(item, "local",
                        engine_has(engine, json_string_value(json_object_get(item, "image_id"))));
  }
  return items;
}

/* Whether item is c's to delete or sync; *err gets the reason when not. */
static bool is_callers(const kiln_caller *c, json_t *item, kiln_error **err) {
  const char *path = json_string_value(json_object_get(item, "path"));
  kiln_error *e = NULL;
  _cleanup_json_ json_t *m = kiln_export_manifest_load(path, &e);
  kiln_error_free(e);
  uid_t file_uid = (uid_t)json_integer_value(json_object_get(item, "file_uid"));
  return kiln_access_tarball(c, m, file_uid, path, err) == 0;
}

static int remove_one(const char *path, kiln_error **err) {
  _cleanup_free_ char *side = NULL;
  if (asprintf(&side, "%s.json", path) < 0) return kiln_error_oom(err);
  if (kiln_fs_unlink(path, false, err) < 0) return -1;
  return kiln_fs_unlink(side, true, err);
}

/* FILE: a base name in dir. 1 when it named one (removed), 0 when not. */
static int delete_file(const kiln_caller *c, const char *dir, const char *file, kiln_error **err) {
  if (!is_tarball_name(file) || strchr(file, '/')) return 0;
  _cleanup_json_ json_t *item = describe(dir, file);
  if (!item) return 0;
  if (!is_callers(c, item, err)) return -1;
  return remove_one(json_string_value(json_object_get(item, "path")), err) < 0 ? -1 : 1;
}

int kiln_tar_delete(const kiln_caller *c, const char *dir, const char *image_or_file,
                    unsigned *removed, kiln_error **err) {
  *removed = 0;
  int r = delete_file(c, dir, image_or_file, err);
  if (r != 0) return r < 0 ? -1 : (*removed = 1, 0);
  _cleanup_json_ json_t *items = collect(dir, image_or_file, err);
  if (!items) return -1;
  _cleanup_error_ kiln_error *refused = NULL;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    kiln_error *why = NULL;
    if (!is_callers(c, item, &why)) { /* someone else's: left alone */
      if (!refused)
        refused = why;
      else
        kiln_error_free(why);
      continue;
    }
    if (remove_one(json_string_value(json_object_get(item, "path")), err) < 0) return -1;
    (*removed)++;
  }
  if (*removed) return 0;
  if (refused) return kiln_error_set(err, refused->code, "%s", refused->message);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "no tarball of '%s' in %s", image_or_file, dir);
}

/* ---- sync ---- */

typedef struct {
  kiln_engine *engine;
  const kiln_sync_options *opts;
  unsigned loaded, failed;
} sync_run;

static void report(sync_run *s, kiln_sync_state state, const char *image, const char *file,
                   const char *message) {
  if (s->opts->on_state) s->opts->on_state(s->opts->user, state, image, file, message);
}

/* Whether the engine's image of the name the import gives holds image_id:
 * that id itself, or the caller's relabel of it (its parent). */
static bool is_current(sync_run *s, const char *image, const char *image_id) {
  kiln_error *e = NULL;
  _cleanup_free_ char *name = kiln_import_tag(s->opts->caller, s->opts->ns, image, &e);
  _cleanup_json_ json_t *info = name ? kiln_dist_inspect(s->engine, name, true, &e) : NULL;
  kiln_error_free(e);
  const char *id = json_string_value(json_object_get(info, "Id"));
  const char *parent = json_string_value(json_object_get(info, "Parent"));
  return (id && !strcmp(id, image_id)) || (parent && !strcmp(parent, image_id));
}

static int sync_lock(sync_run *s, const char *image, kiln_error **err) {
  char lock_name[80], hex[65];
  if (kiln_sha256_hex(image, strlen(image), hex) < 0) return kiln_error_oom(err);
  snprintf(lock_name, sizeof lock_name, "tar-sync-%.32s", hex);
  return kiln_lock_acquire(lock_name, s->opts->interrupted, err);
}

/* Loads one image's newest tarball under the image's lock. */
static void sync_one(sync_run *s, json_t *item) {
  const char *image = json_string_value(json_object_get(item, "image"));
  const char *id = json_string_value(json_object_get(item, "image_id"));
  const char *file = json_string_value(json_object_get(item, "file"));
  if (is_current(s, image, id)) {
    report(s, KILN_SYNC_CURRENT, image, file, NULL);
    return;
  }
  kiln_error *e = NULL;
  int lock = sync_lock(s, image, &e);
  if (lock >= 0 && is_current(s, image, id)) { /* another sync was first */
    kiln_lock_release(lock);
    report(s, KILN_SYNC_CURRENT, image, file, NULL);
    return;
  }
  kiln_import_options io = KILN_IMPORT_OPTIONS_INIT;
  kiln_import_result res;
  io.caller = s->opts->caller;
  io.ns = s->opts->ns;
  io.path = json_string_value(json_object_get(item, "path"));
  io.on_progress = s->opts->on_progress;
  io.user = s->opts->user;
  io.interrupted = s->opts->interrupted;
  io.name_policy = kiln_dist_name_policy();
  if (lock >= 0) report(s, KILN_SYNC_LOADING, image, file, NULL);
  if (lock >= 0 && kiln_image_import(s->engine, &io, &res, &e) == 0) {
    kiln_import_result_clear(&res);
    s->loaded++;
    report(s, KILN_SYNC_LOADED, image, file, NULL);
  } else {
    s->failed++;
    report(s, KILN_SYNC_FAILED, image, file, e ? e->message : "failed");
  }
  kiln_lock_release(lock);
  kiln_error_free(e);
}

/* The newest of the caller's tarballs of each image, once. */
static void sync_items(sync_run *s, json_t *items, json_t *done) {
  volatile sig_atomic_t *interrupted = s->opts->interrupted;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) { /* newest first */
    const char *img = json_string_value(json_object_get(item, "image"));
    if (interrupted && *interrupted) break;
    kiln_error *e = NULL;
    bool mine = is_callers(s->opts->caller, item, &e);
    kiln_error_free(e);
    if (!mine) continue; /* someone else's: theirs to sync */
    if (!img || !json_is_string(json_object_get(item, "image_id"))) {
      report(s, KILN_SYNC_SKIPPED, NULL, json_string_value(json_object_get(item, "file")),
             "no manifest");
      continue;
    }
    _cleanup_free_ char *key = kiln_export_safe_name(img);
    if (!key || json_object_get(done, key)) continue;
    json_object_set_new(done, key, json_true());
    sync_one(s, item);
  }
}

int kiln_tar_sync(kiln_engine *engine, const kiln_sync_options *opts, unsigned *loaded,
                  unsigned *failed, kiln_error **err) {
  *loaded = *failed = 0;
  if (!opts->caller) return kiln_error_set(err, KILN_EXIT_FAILURE, "sync: no caller");
  _cleanup_json_ json_t *items = collect(opts->dir, opts->image, err);
  if (!items) return -1;
  _cleanup_json_ json_t *done = json_object(); /* images already handled */
  if (!done) return kiln_error_oom(err);
  sync_run s = {engine, opts, 0, 0};
  sync_items(&s, items, done);
  *loaded = s.loaded;
  *failed = s.failed;
  if (opts->interrupted && *opts->interrupted)
    return kiln_error_interrupted(err, *opts->interrupted, NULL);
  if (s.failed)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%u image(s) could not be loaded", s.failed);
  if (opts->image && !json_object_size(done))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "no tarball of yours of '%s' with a manifest in %s", opts->image,
                          opts->dir);
  return 0;
}
