/* The shared tarball folder: list, delete, and sync a runner's engine with
 * the newest tarball of each image. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/deploy_private.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define MAX_TARBALLS 10000 /* files considered in one folder */

static int oom(kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
}

static bool is_tarball_name(const char *name) {
  size_t n = strlen(name);
  if (name[0] == '.') return false; /* temporaries of running exports */
  return (n > 4 && !strcmp(name + n - 4, ".tar")) || (n > 7 && !strcmp(name + n - 7, ".tar.gz"));
}

/* "<safe>-<time>.tar[.gz]" → time, or -1 for other names. */
static int64_t time_from_name(const char *base) {
  const char *dash = strrchr(base, '-');
  if (!dash) return -1;
  _cleanup_free_ char *safe = strndup(base, (size_t)(dash - base));
  return safe ? kiln_export_file_time(base, safe) : -1;
}

/* Whether the engine has the image id: true, false, or null (unknown). */
static json_t *engine_has(kiln_engine *engine, const char *image_id) {
  if (!engine || !image_id) return json_null();
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/json", image_id) < 0) return json_null();
  kiln_error *e = NULL;
  long status = 0;
  _cleanup_json_ json_t *info = kiln_engine_json(engine, "GET", path, NULL, NULL, &status, &e);
  kiln_error_free(e);
  if (info) return json_true();
  return status == 404 ? json_false() : json_null();
}

/* The same image, by reference: "x" means "x:latest". */
static bool same_image(const char *a, const char *b) {
  _cleanup_free_ char *sa = kiln_export_safe_name(a), *sb = kiln_export_safe_name(b);
  return sa && sb && !strcmp(sa, sb);
}

static json_t *describe(kiln_engine *engine, const char *dir, const char *name) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, name) < 0) return NULL;
  struct stat st;
  if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) return NULL;
  kiln_error *e = NULL;
  _cleanup_json_ json_t *m = kiln_export_manifest_load(path, &e);
  kiln_error_free(e);
  int64_t t = time_from_name(name);
  const char *id = json_string_value(json_object_get(m, "image_id"));
  return json_pack("{s:s, s:s, s:O, s:O, s:I, s:I, s:O, s:b, s:o}", "file", name, "path", path,
                   "image", m ? json_object_get(m, "image") : json_null(), "image_id",
                   id ? json_object_get(m, "image_id") : json_null(), "time",
                   (json_int_t)(t >= 0 ? t : (int64_t)st.st_mtime), "size", (json_int_t)st.st_size,
                   "sha256", m ? json_object_get(m, "sha256") : json_null(), "manifest", m != NULL,
                   "local", engine_has(engine, id));
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

json_t *kiln_tar_list(kiln_engine *engine, const char *dir, const char *image, kiln_error **err) {
  DIR *d = opendir(dir);
  if (!d) return kiln_error_errno(err, errno, "cannot list %s", dir), NULL;
  _cleanup_json_ json_t *items = json_array();
  size_t seen = 0;
  for (struct dirent *e; items && (e = readdir(d));) {
    if (!is_tarball_name(e->d_name)) continue;
    if (++seen > MAX_TARBALLS) break;
    json_t *item = describe(engine, dir, e->d_name);
    const char *img = json_string_value(json_object_get(item, "image"));
    if (item && image && !(img && same_image(img, image))) {
      json_decref(item);
      continue;
    }
    if (item) json_array_append_new(items, item);
  }
  closedir(d);
  if (seen > MAX_TARBALLS)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "more than %d tarballs in %s", MAX_TARBALLS, dir),
           NULL;
  json_t *out = items ? sorted(items) : NULL;
  if (!out) oom(err);
  return out;
}

static int remove_one(const char *path, kiln_error **err) {
  _cleanup_free_ char *side = NULL;
  if (asprintf(&side, "%s.json", path) < 0) return oom(err);
  if (unlink(path) < 0) return kiln_error_errno(err, errno, "cannot remove %s", path);
  if (unlink(side) < 0 && errno != ENOENT)
    return kiln_error_errno(err, errno, "cannot remove %s", side);
  return 0;
}

int kiln_tar_delete(const char *dir, const char *image_or_file, unsigned *removed,
                    kiln_error **err) {
  *removed = 0;
  if (is_tarball_name(image_or_file) && !strchr(image_or_file, '/')) {
    _cleanup_free_ char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, image_or_file) < 0) return oom(err);
    if (access(path, F_OK) == 0) {
      if (remove_one(path, err) < 0) return -1;
      *removed = 1;
      return 0;
    }
  }
  _cleanup_json_ json_t *items = kiln_tar_list(NULL, dir, image_or_file, err);
  if (!items) return -1;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    if (remove_one(json_string_value(json_object_get(item, "path")), err) < 0) return -1;
    (*removed)++;
  }
  if (!*removed)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "no tarball of '%s' in %s", image_or_file, dir);
  return 0;
}

/* ---- sync ---- */

typedef struct {
  kiln_engine *engine;
  kiln_sync_fn on_state;
  void *user;
  kiln_progress_fn on_progress;
  volatile sig_atomic_t *interrupted;
  unsigned loaded, failed;
} sync_run;

static void report(sync_run *s, kiln_sync_state state, const char *image, const char *file,
                   const char *message) {
  if (s->on_state) s->on_state(s->user, state, image, file, message);
}

/* The id the engine gives image now, or NULL (missing). */
static char *local_id(kiln_engine *engine, const char *image) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/json", image) < 0) return NULL;
  kiln_error *e = NULL;
  _cleanup_json_ json_t *info = kiln_engine_json(engine, "GET", path, NULL, NULL, NULL, &e);
  kiln_error_free(e);
  const char *id = json_string_value(json_object_get(info, "Id"));
  return id ? strdup(id) : NULL;
}

static bool is_current(kiln_engine *engine, const char *image, const char *image_id) {
  _cleanup_free_ char *id = local_id(engine, image);
  return id && !strcmp(id, image_id);
}

/* Loads one image's newest tarball under the image's lock. */
static void sync_one(sync_run *s, json_t *item) {
  const char *image = json_string_value(json_object_get(item, "image"));
  const char *id = json_string_value(json_object_get(item, "image_id"));
  const char *file = json_string_value(json_object_get(item, "file"));
  if (is_current(s->engine, image, id)) {
    report(s, KILN_SYNC_CURRENT, image, file, NULL);
    return;
  }
  char lock_name[80], hex[65];
  kiln_sha256_hex(image, strlen(image), hex);
  snprintf(lock_name, sizeof lock_name, "tar-sync-%.32s", hex);
  kiln_error *e = NULL;
  int lock = kiln_lock_acquire(lock_name, s->interrupted, &e);
  if (lock >= 0 && is_current(s->engine, image, id)) { /* another sync was first */
    kiln_lock_release(lock);
    report(s, KILN_SYNC_CURRENT, image, file, NULL);
    return;
  }
  kiln_import_options io = KILN_IMPORT_OPTIONS_INIT;
  kiln_import_result res;
  io.path = json_string_value(json_object_get(item, "path"));
  io.on_progress = s->on_progress;
  io.user = s->user;
  io.interrupted = s->interrupted;
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

int kiln_tar_sync(kiln_engine *engine, const char *dir, const char *image, kiln_sync_fn on_state,
                  void *user, kiln_progress_fn on_progress, volatile sig_atomic_t *interrupted,
                  unsigned *loaded, unsigned *failed, kiln_error **err) {
  *loaded = *failed = 0;
  _cleanup_json_ json_t *items = kiln_tar_list(NULL, dir, image, err);
  if (!items) return -1;
  _cleanup_json_ json_t *done = json_object(); /* images already handled */
  sync_run s = {engine, on_state, user, on_progress, interrupted, 0, 0};
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) { /* newest first */
    const char *img = json_string_value(json_object_get(item, "image"));
    if (interrupted && *interrupted) break;
    if (!img || !json_is_string(json_object_get(item, "image_id"))) {
      report(&s, KILN_SYNC_SKIPPED, NULL, json_string_value(json_object_get(item, "file")),
             "no manifest");
      continue;
    }
    _cleanup_free_ char *key = kiln_export_safe_name(img);
    if (!key) return oom(err);
    if (json_object_get(done, key)) continue;
    json_object_set_new(done, key, json_true());
    sync_one(&s, item);
  }
  *loaded = s.loaded;
  *failed = s.failed;
  if (interrupted && *interrupted) return kiln_error_set(err, KILN_EXIT_FAILURE, "interrupted");
  if (s.failed)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%u image(s) could not be loaded", s.failed);
  if (image && !json_object_size(done))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "no tarball of '%s' with a manifest in %s", image,
                          dir);
  return 0;
}
