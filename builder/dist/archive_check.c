/* Import, pass 1: reads the whole archive for its sha256 and checks its
 * layout before the engine sees a byte of it: docker save's legacy layout
 * (Engine <= 24, Podman's docker-archive) and the OCI layout (Engine >= 25),
 * every file manifest.json names present, every image config blob hashing
 * to its name, and the sidecar manifest matching. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define OCI_REF_BLOB_MAX (64u << 10) /* OCI blobs read as a possible manifest or index */

typedef struct {
  int fd;
  volatile sig_atomic_t *interrupted; /* borrowed, may be NULL: checked every chunk */
  kiln_sha256 sha;
  uint64_t bytes;
  char buf[KILN_DIST_IO_CHUNK];
} raw_source;

static la_ssize_t raw_read_cb(struct archive *a, void *user, const void **buf) {
  raw_source *s = user;
  if (s->interrupted && *s->interrupted) {
    archive_set_error(a, EINTR, "interrupted");
    return -1;
  }
  ssize_t n;
  do
    n = read(s->fd, s->buf, sizeof s->buf);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    archive_set_error(a, errno, "read: %s", strerror(errno));
    return -1;
  }
  kiln_sha256_update(&s->sha, s->buf, (size_t)n);
  s->bytes += (uint64_t)n;
  *buf = s->buf;
  return n;
}

void kiln_archive_facts_clear(kiln_archive_facts *f) {
  json_decref(f->save_manifest);
  json_decref(f->entries);
  json_decref(f->digests);
  json_decref(f->refs);
  free(f->image_id);
}

static bool is_hex64(const char *s) {
  size_t n = strspn(s, "0123456789abcdef");
  return n == 64;
}

char *kiln_import_config_id(const char *config) {
  static const char blobs[] = "blobs/sha256/";
  const char *hex = NULL;
  if (!config) return NULL;
  if (!strncmp(config, blobs, strlen(blobs)) && strlen(config) == strlen(blobs) + 64)
    hex = config + strlen(blobs); /* docker save 25 on: an OCI image layout */
  else if (strlen(config) == 64 + 5 && !strcmp(config + 64, ".json"))
    hex = config; /* docker save up to 24, Podman's docker-archive */
  char *id = NULL;
  if (!hex || !is_hex64(hex) || asprintf(&id, "sha256:%.64s", hex) < 0) return NULL;
  return id;
}

/* What an OCI manifest (its config) or index (its manifests) blob names,
 * recorded under the digest of its content; anything else is ignored. */
static void record_refs(kiln_archive_facts *f, const char *digest, const char *text, size_t len) {
  if (!len || text[0] != '{') return;
  _cleanup_json_ json_t *doc = json_loadb(text, len, 0, NULL);
  _cleanup_json_ json_t *named = json_array();
  const char *cfg = json_string_value(json_object_get(json_object_get(doc, "config"), "digest"));
  if (!named || (cfg && json_array_append_new(named, json_string(cfg)) < 0)) return;
  size_t i;
  json_t *desc;
  json_array_foreach(json_object_get(doc, "manifests"), i, desc) {
    const char *d = json_string_value(json_object_get(desc, "digest"));
    if (d) json_array_append_new(named, json_string(d));
  }
  if (json_array_size(named)) json_object_set(f->refs, digest, named);
}

/* Whether id is the image whose config blob has the id config_id: the
 * config's own digest (every engine's image id with its own image store),
 * or, in an OCI layout, the digest of a manifest naming that config or of
 * an index naming such a manifest (the image id of an engine that keeps
 * images in containerd's store, Engine 24 on with containerd-snapshotter). */
bool kiln_import_same_image(const kiln_archive_facts *f, const char *id, const char *config_id,
                            unsigned depth) {
  if (!strcmp(id, config_id)) return true;
  size_t i;
  json_t *d;
  if (depth < 2) json_array_foreach(json_object_get(f->refs, id), i, d) {
      if (kiln_import_same_image(f, json_string_value(d), config_id, depth + 1)) return true;
    }
  return false;
}

/* The sha256 of a plain file entry that may be an image config (its name
 * is one), recorded under its name; other entries are skipped. */
static int hash_config_candidate(struct archive *a, struct archive_entry *entry,
                                 kiln_archive_facts *f, kiln_error **err) {
  const char *name = archive_entry_pathname(entry);
  _cleanup_free_ char *named = kiln_import_config_id(name);
  json_object_del(f->digests, name); /* a later entry of the same name replaces it */
  if (!named || archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) ||
      archive_entry_size(entry) > (la_int64_t)KILN_MAX_IMAGE_CONFIG)
    return archive_read_data_skip(a) == ARCHIVE_OK
               ? 0
               : kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  _cleanup_sha256_ kiln_sha256 sha = KILN_SHA256_INIT;
  if (kiln_sha256_init(&sha) < 0) return kiln_error_oom(err);
  _cleanup_buf_ kiln_buf text = KILN_BUF_INIT(OCI_REF_BLOB_MAX);
  bool whole = !strncmp(name, "blobs/", 6); /* an OCI blob: maybe a manifest or an index */
  char chunk[8192];
  la_ssize_t n;
  while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0) {
    kiln_sha256_update(&sha, chunk, (size_t)n);
    whole = whole && kiln_buf_append(&text, chunk, (size_t)n) == 0;
  }
  if (n < 0) return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  char hex[65], id[72];
  if (kiln_sha256_final_hex(&sha, hex) < 0) return kiln_error_oom(err);
  snprintf(id, sizeof id, "sha256:%s", hex);
  if (whole && text.data) record_refs(f, id, text.data, text.len);
  return json_object_set_new(f->digests, name, json_string(id)) < 0 ? kiln_error_oom(err) : 0;
}

static int read_entry_text(struct archive *a, kiln_buf *b, kiln_error **err) {
  char chunk[8192];
  la_ssize_t n;
  while ((n = archive_read_data(a, chunk, sizeof chunk)) > 0)
    if (kiln_buf_append(b, chunk, (size_t)n) < 0)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "manifest.json is larger than %u bytes",
                            KILN_MAX_STREAM_LINE);
  if (n < 0) return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  return 0;
}

static int walk_entries(struct archive *a, kiln_archive_facts *f, kiln_error **err) {
  struct archive_entry *entry;
  size_t count = 0;
  int r;
  while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(entry);
    if (++count > KILN_MAX_CONTEXT_ENTRIES)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "more than %u entries",
                            KILN_MAX_CONTEXT_ENTRIES);
    if (name) json_object_set_new(f->entries, name, json_true());
    if (name && !strcmp(name, "manifest.json")) {
      _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_STREAM_LINE);
      if (read_entry_text(a, &b, err) < 0) return -1;
      json_decref(f->save_manifest);
      f->save_manifest = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
    } else if (name && hash_config_candidate(a, entry, f, err) < 0) {
      return -1;
    } else if (!name && archive_read_data_skip(a) != ARCHIVE_OK) {
      return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
    }
  }
  if (r != ARCHIVE_EOF)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  return 0;
}

/* The config blob of one manifest.json entry and the image id it implies,
 * the one rule for both docker save layouts: Config names the blob
 * ("<hex>.json" up to Engine 24 and in Podman's docker-archive,
 * "blobs/sha256/<hex>" in the OCI layout of Engine 25 on), the blob is a
 * plain file of the archive, and its content hashes to that hex: the image
 * id is "sha256:" + the hash of the config blob in both. *id gets a new
 * string. */
static int image_of(const kiln_archive_facts *f, json_t *img, char **id, kiln_error **err) {
  const char *cfg = json_string_value(json_object_get(img, "Config"));
  if (!cfg || !json_object_get(f->entries, cfg))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "the image config %s is missing",
                          cfg ? cfg : "(none)");
  _cleanup_free_ char *named = kiln_import_config_id(cfg);
  if (!named)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the image config %s is not a docker save config name (<hex>.json or "
                          "blobs/sha256/<hex>)",
                          cfg);
  const char *has = json_string_value(json_object_get(f->digests, cfg));
  if (!has)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the image config %s is not a plain file of at most %u bytes", cfg,
                          KILN_MAX_IMAGE_CONFIG);
  if (strcmp(has, named))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the image config %s does not match its name (its content is %.19s)", cfg,
                          has);
  *id = steal_pointer(&named);
  return 0;
}

/* Every file manifest.json names must be in the archive: a tar cut at an
 * entry boundary reads cleanly but lacks them. */
static int check_complete(kiln_archive_facts *f, kiln_error **err) {
  if (!json_is_array(f->save_manifest) || !json_array_size(f->save_manifest))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "no docker save manifest.json in it (not `docker save` output, or cut "
                          "short)");
  size_t i, j;
  json_t *img, *layer;
  json_array_foreach(f->save_manifest, i, img) {
    _cleanup_free_ char *id = NULL;
    if (image_of(f, img, &id, err) < 0) return -1;
    if (i == 0) f->image_id = steal_pointer(&id);
    json_array_foreach(json_object_get(img, "Layers"), j, layer) {
      const char *l = json_string_value(layer);
      if (!l || !json_object_get(f->entries, l))
        return kiln_error_set(err, KILN_EXIT_FAILURE, "layer %s is missing", l ? l : "(none)");
    }
  }
  return 0;
}

int kiln_import_read_archive(int fd, kiln_archive_facts *f, volatile sig_atomic_t *interrupted,
                             kiln_error **err) {
  raw_source *src = calloc(1, sizeof *src);
  struct archive *a = archive_read_new();
  f->entries = json_object();
  f->digests = json_object();
  f->refs = json_object();
  if (!src || !a || !f->entries || !f->digests || !f->refs || kiln_sha256_init(&src->sha) < 0) {
    free(src);
    archive_read_free(a);
    return kiln_error_oom(err);
  }
  src->fd = fd;
  src->interrupted = interrupted;
  unsigned char magic[4] = {0};
  ssize_t got = pread(fd, magic, sizeof magic, 0);
  f->compression = kiln_compression_of_magic(magic, got > 0 ? (size_t)got : 0);
  kiln_dist_support_compressions(a);
  archive_read_support_format_tar(a);
  int r = archive_read_open(a, src, NULL, raw_read_cb, NULL) == ARCHIVE_OK
              ? walk_entries(a, f, err)
              : kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  const void *rest;
  /* Bytes past the end of the archive still belong to the file's hash. */
  while (r == 0 && raw_read_cb(a, src, &rest) > 0) {
  }
  if (interrupted && *interrupted) { /* the reader's own error says less */
    if (err) kiln_error_free(*err), *err = NULL;
    r = kiln_error_interrupted(err, *interrupted, NULL);
  }
  archive_read_free(a);
  if (kiln_sha256_final_hex(&src->sha, f->sha256) < 0 && r == 0) r = kiln_error_oom(err);
  free(src);
  return r < 0 ? -1 : check_complete(f, err);
}

int kiln_import_check_sidecar(const json_t *side, const kiln_archive_facts *f, kiln_error **err) {
  const char *want = json_string_value(json_object_get(side, "sha256"));
  if (!want || strcmp(want, f->sha256))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "sha256 mismatch: the manifest says %s, the file has %s (damaged or "
                          "replaced)",
                          want ? want : "(none)", f->sha256);
  const char *id = json_string_value(json_object_get(side, "image_id"));
  if (id && f->image_id && !kiln_import_same_image(f, id, f->image_id, 0))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the archive holds image %.19s, the manifest says %.19s", f->image_id,
                          id);
  return 0;
}

int kiln_import_check_archive(int fd, const json_t *side, char sha256[65], char **image_id,
                              kiln_error **err) {
  kiln_archive_facts f = {0};
  int r = kiln_import_read_archive(fd, &f, NULL, err);
  memcpy(sha256, f.sha256, sizeof f.sha256);
  if (r == 0 && side) r = kiln_import_check_sidecar(side, &f, err);
  if (image_id) *image_id = r == 0 ? steal_pointer(&f.image_id) : NULL;
  kiln_archive_facts_clear(&f);
  return r;
}
