/* The tar an import streams into POST /images/load, as a non-admin's
 * import must send it: manifest.json's RepoTags renamed into the caller's
 * namespace (kiln_import_rewrite_manifest), the legacy `repositories`
 * file dropped (the engine only reads it without manifest.json), and in
 * the OCI layout Engine 25 on writes, index.json's name annotations
 * renamed the same way (send_index). The engine
 * unpacks the tar into a folder and reads manifest.json from there, so every
 * way of reaching that name is closed: entry names are cleaned as the
 * engine cleans them, manifest.json must be a plain file, and no entry may
 * pass through a symbolic link of the archive. Streamed: one entry's data
 * block at a time, never the whole archive. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define FILTER_CHUNK (256u << 10)

struct kiln_load_filter {
  struct archive *in, *out;
  const kiln_caller *caller;
  const char *ns;
  bool name_policy;
  char *pend; /* output not yet handed out */
  size_t len, off, cap;
  bool in_data, done;
  json_t *links;    /* cleaned names of the archive's symbolic links */
  json_t *manifest; /* the rewritten manifest.json sent (the last one) */
  kiln_error *err;
  char chunk[FILTER_CHUNK];
};

static int fail(kiln_load_filter *f, const char *what, struct archive *a) {
  if (!f->err) kiln_error_set(&f->err, KILN_EXIT_FAILURE, "%s: %s", what, archive_error_string(a));
  return -1;
}

static la_ssize_t out_write(struct archive *a, void *user, const void *buf, size_t n) {
  kiln_load_filter *f = user;
  if (f->len + n > f->cap) {
    size_t cap = f->cap ? f->cap : FILTER_CHUNK;
    while (cap < f->len + n)
      cap *= 2;
    char *p = realloc(f->pend, cap);
    if (!p) {
      archive_set_error(a, ENOMEM, "out of memory");
      return -1;
    }
    f->pend = p;
    f->cap = cap;
  }
  memcpy(f->pend + f->len, buf, n);
  f->len += n;
  return (la_ssize_t)n;
}

/* The name as the engine's unpacking sees it: "./a//b/../c" → "a/c";
 * NULL when it climbs out of the archive. New string. */
char *kiln_load_clean_path(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (const char *p = name; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && !strncmp(p, "..", 2)) {
      if (!o) {
        free(out);
        return NULL;
      }
      while (o && out[o - 1] != '/')
        o--;
      if (o) o--; /* the slash before the dropped component */
    } else if (len && !(len == 1 && *p == '.')) {
      if (o) out[o++] = '/';
      memcpy(out + o, p, len);
      o += len;
    }
    p += len;
    while (*p == '/')
      p++;
  }
  out[o] = '\0';
  return out;
}

/* Whether a proper leading part of path is one of the archive's links. */
static const char *through_link(json_t *links, const char *path) {
  const char *key;
  json_t *v;
  json_object_foreach(links, key, v) {
    size_t n = strlen(key);
    if (!strncmp(path, key, n) && path[n] == '/') return key;
  }
  return NULL;
}

static int read_text(kiln_load_filter *f, const char *what, kiln_buf *b) {
  la_ssize_t n;
  while ((n = archive_read_data(f->in, f->chunk, sizeof f->chunk)) > 0)
    if (kiln_buf_append(b, f->chunk, (size_t)n) < 0)
      return kiln_error_set(&f->err, KILN_EXIT_FAILURE, "%s is larger than %u bytes", what,
                            KILN_MAX_STREAM_LINE);
  return n < 0 ? fail(f, what, f->in) : 0;
}

/* The JSON document of a plain file entry (NULL when it does not parse;
 * -1 on a link or a read error). */
static int read_json(kiln_load_filter *f, struct archive_entry *e, const char *what, json_t **out) {
  if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
    return kiln_error_set(&f->err, KILN_EXIT_FAILURE,
                          "the archive's %s is not a plain file (a link); refusing it", what);
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_STREAM_LINE);
  if (read_text(f, what, &b) < 0) return -1;
  *out = b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  return 0;
}

/* Writes doc as the entry e (its size set to the new text). */
static int write_json(kiln_load_filter *f, struct archive_entry *e, const char *what,
                      const json_t *doc) {
  _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
  if (!text) return kiln_error_oom(&f->err);
  size_t n = strlen(text);
  archive_entry_set_size(e, (la_int64_t)n);
  if (archive_write_header(f->out, e) < ARCHIVE_WARN) return fail(f, what, f->out);
  if (archive_write_data(f->out, text, n) != (la_ssize_t)n) return fail(f, what, f->out);
  return archive_write_finish_entry(f->out) < ARCHIVE_WARN ? fail(f, what, f->out) : 0;
}

static int send_manifest(kiln_load_filter *f, struct archive_entry *e) {
  _cleanup_json_ json_t *m = NULL;
  if (read_json(f, e, "manifest.json", &m) < 0) return -1;
  json_t *renamed = kiln_import_rewrite_manifest(f->caller, f->ns, m, f->name_policy, &f->err);
  if (!renamed) return -1;
  json_decref(f->manifest);
  f->manifest = renamed;
  return write_json(f, e, "manifest.json", renamed);
}

/* The renamed form of an io.containerd.image.name annotation (a full
 * reference, "docker.io/<ns>-<uid>/proj:tag" as containerd normalises it),
 * or NULL when the name does not rename cleanly. New string. */
static char *renamed_annotation(kiln_load_filter *f, const char *name) {
  kiln_error *e = NULL;
  _cleanup_free_ char *renamed = kiln_import_tag(f->caller, f->ns, name, &e);
  if (!renamed || kiln_check_ref_policy(renamed, f->name_policy, &e) < 0) {
    kiln_error_free(e);
    return NULL;
  }
  size_t first = strcspn(renamed, "/");
  bool has_registry =
      renamed[first] == '/' && (memchr(renamed, '.', first) || memchr(renamed, ':', first) ||
                                (first == 9 && !strncmp(renamed, "localhost", 9)));
  char *out = NULL;
  if (asprintf(&out, "%s%s%s", has_registry ? "" : "docker.io/",
               has_registry || renamed[first] == '/' ? "" : "library/", renamed) < 0)
    return NULL;
  return out;
}

/* The OCI layout's index.json (docker save from Engine 25 on) names each
 * image again in its descriptors' annotations: io.containerd.image.name (a
 * full reference) and org.opencontainers.image.ref.name (its tag). An
 * engine with its own image store ignores them and names the image from
 * manifest.json's RepoTags; one with containerd's image store (Engine 26
 * with containerd-snapshotter, verified) names it from these alone. So
 * they are renamed as RepoTags are (kiln_import_tag): the full name moves
 * into the caller's namespace and ref.name becomes its tag. A name that
 * does not rename cleanly, or a ref.name without a full name beside it, is
 * dropped (the image then loads without that name). Everything else in
 * index.json stays. */
static int rename_descriptor(kiln_load_filter *f, json_t *desc) {
  json_t *ann = json_object_get(desc, "annotations");
  static const char full[] = "io.containerd.image.name",
                    ref[] = "org.opencontainers.image.ref.name";
  const char *name = json_string_value(json_object_get(ann, full));
  _cleanup_free_ char *renamed = name ? renamed_annotation(f, name) : NULL;
  json_object_del(ann, full);
  json_object_del(ann, ref);
  if (!renamed) return 0;
  const char *slash = strrchr(renamed, '/');
  const char *colon = strrchr(slash ? slash : renamed, ':');
  if (json_object_set_new(ann, full, json_string(renamed)) < 0 ||
      (colon && json_object_set_new(ann, ref, json_string(colon + 1)) < 0))
    return kiln_error_oom(&f->err);
  return 0;
}

static int send_index(kiln_load_filter *f, struct archive_entry *e) {
  _cleanup_json_ json_t *index = NULL;
  if (read_json(f, e, "index.json", &index) < 0) return -1;
  if (!json_is_object(index))
    return kiln_error_set(&f->err, KILN_EXIT_FAILURE,
                          "the archive's index.json is not a JSON object; refusing it");
  size_t i;
  json_t *desc;
  json_array_foreach(json_object_get(index, "manifests"), i, desc) {
    if (rename_descriptor(f, desc) < 0) return -1;
  }
  return write_json(f, e, "index.json", index);
}

static int next_entry(kiln_load_filter *f) {
  struct archive_entry *e;
  int r = archive_read_next_header(f->in, &e);
  if (r == ARCHIVE_EOF) {
    f->done = true;
    return archive_write_close(f->out) < ARCHIVE_WARN ? fail(f, "archive end", f->out) : 0;
  }
  if (r < ARCHIVE_WARN) return fail(f, "reading the archive", f->in);
  const char *name = archive_entry_pathname(e);
  _cleanup_free_ char *clean = name ? kiln_load_clean_path(name) : NULL;
  if (!clean)
    return kiln_error_set(&f->err, KILN_EXIT_FAILURE, "the archive entry '%s' leaves the archive",
                          name ? name : "(no name)");
  const char *link = through_link(f->links, clean);
  if (link)
    return kiln_error_set(&f->err, KILN_EXIT_FAILURE,
                          "the archive entry '%s' goes through the link '%s'; refusing it", name,
                          link);
  if (archive_entry_filetype(e) == AE_IFLNK) json_object_set_new(f->links, clean, json_true());
  if (!strcmp(clean, "repositories"))
    return archive_read_data_skip(f->in) < ARCHIVE_WARN ? fail(f, "repositories", f->in) : 0;
  if (!strcmp(clean, "manifest.json")) return send_manifest(f, e);
  if (!strcmp(clean, "index.json")) return send_index(f, e);
  if (archive_write_header(f->out, e) < ARCHIVE_WARN) return fail(f, name, f->out);
  f->in_data = true;
  return 0;
}

static int next_data(kiln_load_filter *f) {
  la_ssize_t n = archive_read_data(f->in, f->chunk, sizeof f->chunk);
  if (n < 0) return fail(f, "reading the archive", f->in);
  if (n == 0) {
    f->in_data = false;
    return archive_write_finish_entry(f->out) < ARCHIVE_WARN ? fail(f, "archive", f->out) : 0;
  }
  return archive_write_data(f->out, f->chunk, (size_t)n) != n ? fail(f, "archive", f->out) : 0;
}

kiln_load_filter *kiln_load_filter_new(int fd, const kiln_caller *c, const char *ns,
                                       bool name_policy, kiln_error **err) {
  kiln_load_filter *f = calloc(1, sizeof *f);
  if (!f) return kiln_error_oom(err), NULL;
  *f = (kiln_load_filter){.caller = c, .ns = ns, .name_policy = name_policy};
  f->in = archive_read_new();
  f->out = archive_write_new();
  f->links = json_object();
  int r = f->in && f->out && f->links ? ARCHIVE_OK : ARCHIVE_FATAL;
  if (r == ARCHIVE_OK) r = archive_read_support_filter_gzip(f->in);
  if (r == ARCHIVE_OK) r = archive_read_support_filter_zstd(f->in);
  if (r == ARCHIVE_OK) r = archive_read_support_format_tar(f->in);
  if (r == ARCHIVE_OK) r = archive_read_open_fd(f->in, fd, FILTER_CHUNK);
  if (r == ARCHIVE_OK) r = archive_write_set_format_pax_restricted(f->out);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_per_block(f->out, 0);
  if (r == ARCHIVE_OK) r = archive_write_open(f->out, f, NULL, out_write, NULL);
  if (r != ARCHIVE_OK) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "cannot read the archive: %s",
                   f->in ? archive_error_string(f->in) : "out of memory");
    kiln_load_filter_free(f);
    return NULL;
  }
  return f;
}

ssize_t kiln_load_filter_read(kiln_load_filter *f, char *buf, size_t n) {
  while (f->off == f->len && !f->done && !f->err) {
    f->off = f->len = 0;
    if ((f->in_data ? next_data(f) : next_entry(f)) < 0) break;
  }
  if (f->err) return -1;
  size_t k = f->len - f->off < n ? f->len - f->off : n;
  memcpy(buf, f->pend + f->off, k);
  f->off += k;
  return (ssize_t)k;
}

const kiln_error *kiln_load_filter_error(const kiln_load_filter *f) {
  return f->err;
}

json_t *kiln_load_filter_manifest(const kiln_load_filter *f) {
  return f->manifest;
}

void kiln_load_filter_free(kiln_load_filter *f) {
  if (!f) return;
  archive_read_free(f->in);
  archive_write_free(f->out);
  json_decref(f->links);
  json_decref(f->manifest);
  kiln_error_free(f->err);
  free(f->pend);
  free(f);
}
