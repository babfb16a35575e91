/* Image import, pass 2: the names the load will give checked, the archive
 * (pass 1 in archive_check.c has read and checked it) streamed into the
 * engine, and the loaded images adopted for the caller; the sidecar
 * manifest reader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* The sidecar next to path, read with the caller's rights: NULL when there
 * is none (err unset). */
static json_t *load_sidecar(const char *path, kiln_error **err) {
  _cleanup_free_ char *side = NULL;
  if (asprintf(&side, "%s.json", path) < 0) return kiln_error_oom(err), NULL;
  _cleanup_close_ int fd = kiln_dist_open_read(side, 0);
  if (fd < 0 && errno == ENOENT) return NULL;
  if (fd < 0) return kiln_error_errno(err, errno, "cannot read %s", side), NULL;
  json_error_t je;
  json_t *m = json_loadfd(fd, 0, &je);
  if (!json_is_object(m)) {
    json_decref(m);
    kiln_error_set(err, KILN_EXIT_FAILURE, "%s: not a kiln manifest (%s)", side,
                   m ? "not an object" : je.text);
    return NULL;
  }
  return m;
}

/* The id an entry of manifest.json names (kiln_import_config_id of its
 * Config; pass 1 checked it against the blob). New string or NULL. */
static char *config_image_id(json_t *entry) {
  return kiln_import_config_id(json_string_value(json_object_get(entry, "Config")));
}
/* The names the load will give (kiln_import_tag), checked before any byte
 * reaches the engine: valid, within the name policy, --tag allowed for the
 * caller, and (non-admins) a tag for every image. */
static int check_names(const kiln_archive_facts *f, const kiln_import_options *opts,
                       kiln_error **err) {
  _cleanup_json_ json_t *renamed = kiln_import_rewrite_manifest(
      opts->caller, opts->ns, f->save_manifest, opts->name_policy, err);
  if (!renamed) return -1;
  if (opts->retag && (kiln_check_image_ref(opts->retag, err) < 0 ||
                      kiln_check_ref_policy(opts->retag, opts->name_policy, err) < 0 ||
                      kiln_access_tag(opts->caller, opts->ns, opts->retag, err) < 0))
    return -1;
  size_t i;
  json_t *img;
  json_array_foreach(renamed, i, img) {
    if (opts->caller->admin || json_array_size(json_object_get(img, "RepoTags")) ||
        (i == 0 && opts->retag))
      continue;
    _cleanup_free_ char *id = config_image_id(img);
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "image %.19s in the archive has no tag; give --tag IMAGE to name it",
                          id ? id : "(unknown)");
  }
  return 0;
}

/* ---- import: pass 2, stream the tar into the engine ---- */

typedef struct {
  int fd;
  struct archive *decompress; /* admins: the raw decompressed bytes; NULL for a plain tar */
  kiln_load_filter *filter;   /* non-admins: the renaming filter */
  kiln_dist_progress prog;
  volatile sig_atomic_t *interrupted;
  char *error;    /* the engine's in-stream error */
  json_t *loaded; /* "Loaded image: X" names */
} load_state;

static ssize_t load_read(void *user, char *buf, size_t n) {
  load_state *s = user;
  if (s->interrupted && *s->interrupted) return -1;
  ssize_t r;
  if (s->filter)
    r = kiln_load_filter_read(s->filter, buf, n);
  else if (s->decompress)
    r = archive_read_data(s->decompress, buf, n);
  else
    do
      r = read(s->fd, buf, n);
    while (r < 0 && errno == EINTR);
  if (r > 0) kiln_dist_progress_add(&s->prog, (size_t)r);
  return r < 0 ? -1 : r;
}

static int load_line(void *user, json_t *line) {
  load_state *s = user;
  const char *msg =
      json_string_value(json_object_get(json_object_get(line, "errorDetail"), "message"));
  if (!msg) msg = json_string_value(json_object_get(line, "error"));
  if (msg && !s->error) s->error = strdup(msg);
  const char *text = json_string_value(json_object_get(line, "stream"));
  static const char loaded[] = "Loaded image: ";
  if (text && !strncmp(text, loaded, strlen(loaded)))
    json_array_append_new(
        s->loaded, json_stringn(text + strlen(loaded), strcspn(text + strlen(loaded), "\r\n")));
  return 0;
}

static int open_source(load_state *s, const kiln_import_options *opts, kiln_compression c,
                       kiln_error **err) {
  if (lseek(s->fd, 0, SEEK_SET) < 0) return kiln_error_errno(err, errno, "cannot rewind");
  if (!opts->caller->admin) {
    s->filter = kiln_load_filter_new(s->fd, opts->caller, opts->ns, opts->name_policy, err);
    return s->filter ? 0 : -1;
  }
  if (c == KILN_COMPRESS_NONE) return 0;
  if (!(s->decompress = archive_read_new())) return kiln_error_oom(err);
  kiln_dist_compressions[c].add_read(s->decompress);
  archive_read_support_format_raw(s->decompress);
  struct archive_entry *entry;
  if (archive_read_open_fd(s->decompress, s->fd, KILN_DIST_IO_CHUNK) != ARCHIVE_OK ||
      archive_read_next_header(s->decompress, &entry) != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "decompressing (%s): %s",
                          kiln_dist_compressions[c].name, archive_error_string(s->decompress));
  return 0;
}

static int post_load(kiln_engine *engine, load_state *s, kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = "/images/load";
  req.query = "quiet=1";
  req.content_type = "application/x-tar";
  req.read = load_read;
  req.read_user = s;
  req.on_line = load_line;
  req.user = s;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  if (r < 0 && s->interrupted && *s->interrupted) {
    kiln_error_free(*err);
    *err = NULL;
    return kiln_error_interrupted(err, *s->interrupted, NULL);
  }
  const kiln_error *why = s->filter ? kiln_load_filter_error(s->filter) : NULL;
  if (r < 0 && why) { /* the filter's reason beats "the upload was aborted" */
    kiln_error_free(*err);
    *err = NULL;
    return kiln_error_set(err, why->code, "%s", why->message);
  }
  if (r == 0 && s->error)
    r = kiln_error_set(err, KILN_EXIT_FAILURE, "the engine refused the archive: %s", s->error);
  return r;
}

/* Streams the archive into the engine. *sent gets the manifest the engine
 * read (the rewritten one for non-admins; new reference). */
static int load_into_engine(kiln_engine *engine, const kiln_import_options *opts, int fd,
                            const kiln_archive_facts *f, kiln_import_result *res, json_t **sent,
                            kiln_error **err) {
  load_state s = {.fd = fd, .interrupted = opts->interrupted, .loaded = json_array()};
  kiln_dist_progress_start(&s.prog, opts->on_progress, opts->user);
  int r = open_source(&s, opts, f->compression, err);
  if (r == 0) r = post_load(engine, &s, err);
  if (r == 0) kiln_dist_progress_done(&s.prog);
  json_t *m = s.filter ? kiln_load_filter_manifest(s.filter) : f->save_manifest;
  if (r == 0 && !m)
    r = kiln_error_set(err, KILN_EXIT_FAILURE, "the archive changed while loading (no manifest)");
  if (r == 0) *sent = json_incref(m);
  res->bytes = s.prog.bytes;
  res->tags = steal_pointer(&s.loaded);
  if (s.decompress) archive_read_free(s.decompress);
  kiln_load_filter_free(s.filter);
  free(s.error);
  json_decref(s.loaded);
  return r;
}

/* The id the engine gave the loaded image of a manifest entry: the config's
 * id (kiln_import_config_id) when the engine knows it, else the digest of
 * the archive's OCI manifest or index that names that config and the engine
 * knows (an engine with containerd's image store). New string, or NULL
 * when the entry names no image; the config's id when the engine knows
 * none (the call that uses it then says so). */
static char *loaded_image_id(kiln_engine *engine, const kiln_archive_facts *f, json_t *img) {
  _cleanup_free_ char *cfg = config_image_id(img);
  if (!cfg) return NULL;
  kiln_error *e = NULL;
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, cfg, true, &e);
  kiln_error_free(e);
  if (info || !json_object_size(f->refs)) return steal_pointer(&cfg);
  const char *digest;
  json_t *v;
  json_object_foreach(f->refs, digest, v) {
    if (!kiln_import_same_image(f, digest, cfg, 0)) continue;
    e = NULL;
    _cleanup_json_ json_t *has = kiln_dist_inspect(engine, digest, true, &e);
    kiln_error_free(e);
    const char *id = json_string_value(json_object_get(has, "Id"));
    if (id) return strdup(id);
  }
  return steal_pointer(&cfg);
}

/* The caller now owns each loaded image under its (rewritten) tags, the
 * first also under --tag. */
static int adopt_loaded(kiln_engine *engine, const kiln_import_options *opts,
                        const kiln_archive_facts *f, json_t *sent, kiln_import_result *res,
                        kiln_error **err) {
  json_decref(res->tags);
  if (!(res->tags = json_array())) return kiln_error_oom(err);
  size_t i;
  json_t *img;
  json_array_foreach(sent, i, img) {
    _cleanup_free_ char *id = loaded_image_id(engine, f, img), *now = NULL;
    _cleanup_json_ json_t *tags = json_deep_copy(json_object_get(img, "RepoTags"));
    if (!tags) tags = json_array();
    if (!id || !tags) return kiln_error_set(err, KILN_EXIT_FAILURE, "the archive names no image");
    if (i == 0 && opts->retag) json_array_append_new(tags, json_string(opts->retag));
    bool adopted = false;
    if (kiln_image_adopt(engine, opts->caller, opts->ns, id, tags, &now, &adopted, err) < 0)
      return -1;
    res->adopted = res->adopted || adopted;
    json_array_extend(res->tags, tags);
    if (i == 0) res->image_id = steal_pointer(&now);
  }
  return 0;
}

/* Admins: the archive's names as they are, plus --tag. */
static int tag_as_is(kiln_engine *engine, const kiln_import_options *opts,
                     const kiln_archive_facts *f, json_t *sent, kiln_import_result *res,
                     kiln_error **err) {
  if (!(res->image_id = loaded_image_id(engine, f, json_array_get(sent, 0))))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "the archive names no image");
  if (!opts->retag) return 0;
  if (kiln_dist_tag(engine, res->image_id, opts->retag, err) < 0) return -1;
  json_array_append_new(res->tags, json_string(opts->retag));
  return 0;
}

static int import_body(kiln_engine *engine, const kiln_import_options *opts, int fd,
                       kiln_import_result *res, kiln_error **err) {
  kiln_archive_facts f = {0};
  _cleanup_json_ json_t *side = NULL, *sent = NULL;
  int r = kiln_import_read_archive(fd, &f, opts->interrupted, err);
  if (r < 0 && f.compression != KILN_COMPRESS_NONE) /* libarchive then says only "Truncated" */
    kiln_error_prefix(err, "%s is not a complete image archive (its %s data is cut or damaged)",
                      opts->path, kiln_compression_name(f.compression));
  else if (r < 0)
    kiln_error_prefix(err, "%s is not a complete image archive", opts->path);
  if (r == 0 && !opts->skip_checksum && (side = load_sidecar(opts->path, err)) == NULL && *err)
    r = -1;
  if (r == 0 && side && (r = kiln_import_check_sidecar(side, &f, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  res->verified = r == 0 && side;
  if (r == 0 && (r = check_names(&f, opts, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  if (r == 0 && (r = load_into_engine(engine, opts, fd, &f, res, &sent, err)) < 0)
    kiln_error_prefix(err, "loading %s", opts->path);
  if (r == 0)
    r = opts->caller->admin ? tag_as_is(engine, opts, &f, sent, res, err)
                            : adopt_loaded(engine, opts, &f, sent, res, err);
  kiln_archive_facts_clear(&f);
  return r;
}

int kiln_image_import(kiln_engine *engine, const kiln_import_options *opts,
                      kiln_import_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  if (!opts->caller) return kiln_error_set(err, KILN_EXIT_FAILURE, "import: no caller");
  _cleanup_close_ int fd = kiln_dist_open_read(opts->path, 0);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot open %s", opts->path);
  int r = import_body(engine, opts, fd, result, err);
  if (r < 0) kiln_import_result_clear(result);
  return r;
}

void kiln_import_result_clear(kiln_import_result *result) {
  free(result->image_id);
  json_decref(result->tags);
  memset(result, 0, sizeof *result);
}

json_t *kiln_export_manifest_load(const char *tar_path, kiln_error **err) {
  return load_sidecar(tar_path, err);
}
