/* Image tarballs: export with a checksum and a sidecar manifest, written so
 * that nothing half-written ever carries a final name; import that reads the
 * whole archive before the engine sees a byte of it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>

#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define IO_CHUNK          (256u << 10)
#define PROGRESS_INTERVAL 0.25 /* seconds between progress calls */
#define MAX_NAME_BUMPS    1000 /* later timestamps tried when a name is taken */

static int oom(kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
}

/* ---- settings ---- */

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

const char *kiln_dist_shared_dir(void) {
  return env_or("KILN_SHARED_DIR", KILN_DEFAULT_SHARED_DIR);
}

unsigned kiln_dist_tar_mode(void) {
  const char *v = getenv("KILN_TAR_MODE");
  unsigned mode;
  if (!v || !*v || kiln_parse_mode(v, &mode, NULL) < 0 || mode > 0777) return KILN_DEFAULT_TAR_MODE;
  return mode;
}

const char *kiln_dist_registry(void) {
  return env_or("KILN_REGISTRY", NULL);
}

bool kiln_dist_name_policy(void) {
  const char *v = getenv("KILN_NAME_POLICY");
  return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* ---- pure helpers ---- */

static bool has_tag_or_digest(const char *ref) {
  const char *slash = strrchr(ref, '/');
  return strchr(slash ? slash : ref, ':') || strchr(ref, '@');
}

char *kiln_export_safe_name(const char *image) {
  char *full = NULL;
  if (asprintf(&full, "%s%s", image, has_tag_or_digest(image) ? "" : ":latest") < 0) return NULL;
  for (char *p = full; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-'))
      *p = '_';
  return full;
}

char *kiln_export_file_name(const char *image, int64_t unix_time, bool gzip) {
  _cleanup_free_ char *safe = kiln_export_safe_name(image);
  char *name = NULL;
  if (!safe || asprintf(&name, "%s-%lld.tar%s", safe, (long long)unix_time, gzip ? ".gz" : "") < 0)
    return NULL;
  return name;
}

int64_t kiln_export_file_time(const char *base, const char *safe) {
  size_t n = strlen(safe);
  if (strncmp(base, safe, n) || base[n] != '-') return -1;
  const char *p = base + n + 1, *digits = p;
  int64_t t = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (p - digits >= 18) return -1;
    t = t * 10 + (*p - '0');
  }
  if (p == digits || (strcmp(p, ".tar") && strcmp(p, ".tar.gz"))) return -1;
  return t;
}

json_t *kiln_export_manifest(const char *sha256, uint64_t size, const char *image,
                             const char *image_id, json_t *labels, int64_t created,
                             const char *file, bool gzip) {
  json_t *spec = json_object_get(labels, KILN_LABEL_SPEC_SHA256);
  json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:O, s:I, s:s, s:s, s:s}", "sha256", sha256, "size",
                        (json_int_t)size, "image", image, "image_id", image_id, "spec_sha256",
                        json_is_string(spec) ? spec : json_null(), "created", (json_int_t)created,
                        "kiln_version", kiln_version(), "file", file, "compression",
                        gzip ? "gzip" : "none");
  if (m && json_object_set_new(
               m, "labels", json_is_object(labels) ? json_deep_copy(labels) : json_object()) < 0) {
    json_decref(m);
    return NULL;
  }
  return m;
}

size_t kiln_keep_select(const int64_t *times, size_t n, unsigned keep, bool *prune) {
  size_t count = 0;
  if (keep == 0) keep = 1;
  for (size_t i = 0; i < n; i++) {
    size_t newer = 0; /* ties: the earlier entry counts as newer */
    for (size_t j = 0; j < n; j++)
      if (times[j] > times[i] || (times[j] == times[i] && j < i)) newer++;
    prune[i] = newer >= keep;
    count += prune[i];
  }
  return count;
}

bool kiln_is_gzip(const unsigned char *data, size_t n) {
  return n >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

int kiln_check_ref_policy(const char *ref, bool policy, kiln_error **err) {
  if (!policy) return 0;
  const char *slash = strrchr(ref, '/');
  const char *last = slash ? slash + 1 : ref;
  size_t len = strcspn(last, ":@");
  _cleanup_free_ char *name = strndup(last, len);
  if (!name) return oom(err);
  return kiln_check_name_policy(name, "image name", err);
}

/* ---- small file helpers ---- */

static int write_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int fsync_dir(const char *dir, kiln_error **err) {
  _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) < 0) return kiln_error_errno(err, errno, "cannot sync folder %s", dir);
  return 0;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

/* Progress throttle shared by export and import. */
typedef struct {
  kiln_progress_fn fn;
  void *user;
  double start, last;
  uint64_t bytes;
} progress;

static void progress_start(progress *p, kiln_progress_fn fn, void *user) {
  *p = (progress){fn, user, now_seconds(), 0, 0};
}

static void progress_add(progress *p, size_t n) {
  p->bytes += n;
  double t = now_seconds();
  if (p->fn && t - p->last >= PROGRESS_INTERVAL) {
    p->last = t;
    p->fn(p->user, p->bytes, t - p->start, false);
  }
}

static void progress_done(progress *p) {
  if (p->fn) p->fn(p->user, p->bytes, now_seconds() - p->start, true);
}

/* ---- export: the sink that hashes and writes (through gzip when asked) ---- */

typedef struct {
  int fd;
  kiln_sha256 sha;
  uint64_t size; /* bytes on disk */
  struct archive *gz;
  progress prog;
  volatile sig_atomic_t *interrupted;
  kiln_error *err;
} export_sink;

static int sink_write_disk(export_sink *s, const void *data, size_t n) {
  if (write_all(s->fd, data, n) < 0)
    return kiln_error_errno(&s->err, errno, "cannot write the tarball");
  kiln_sha256_update(&s->sha, data, n);
  s->size += n;
  return 0;
}

static la_ssize_t gz_write_cb(struct archive *a, void *user, const void *buf, size_t n) {
  (void)a;
  return sink_write_disk(user, buf, n) < 0 ? -1 : (la_ssize_t)n;
}

static int sink_open_gzip(export_sink *s, kiln_error **err) {
  struct archive_entry *entry = archive_entry_new();
  s->gz = archive_write_new();
  if (!s->gz || !entry) {
    archive_entry_free(entry);
    return oom(err);
  }
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_pathname(entry, "image.tar");
  int r = archive_write_set_format_raw(s->gz);
  if (r == ARCHIVE_OK) r = archive_write_add_filter_gzip(s->gz);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_per_block(s->gz, (int)IO_CHUNK);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_in_last_block(s->gz, 1);
  if (r == ARCHIVE_OK) r = archive_write_open(s->gz, s, NULL, gz_write_cb, NULL);
  if (r == ARCHIVE_OK) r = archive_write_header(s->gz, entry);
  archive_entry_free(entry);
  if (r != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot start gzip: %s",
                          archive_error_string(s->gz));
  return 0;
}

static int sink_data(void *user, const char *data, size_t n) {
  export_sink *s = user;
  if (s->interrupted && *s->interrupted)
    return kiln_error_set(&s->err, KILN_EXIT_FAILURE, "interrupted");
  progress_add(&s->prog, n);
  if (!s->gz) return sink_write_disk(s, data, n);
  if (archive_write_data(s->gz, data, n) < 0) {
    if (!s->err)
      kiln_error_set(&s->err, KILN_EXIT_FAILURE, "gzip: %s", archive_error_string(s->gz));
    return -1;
  }
  return 0;
}

static int sink_close_gzip(export_sink *s, kiln_error **err) {
  if (!s->gz) return 0;
  int r = archive_write_close(s->gz);
  if (r != ARCHIVE_OK && !s->err)
    kiln_error_set(&s->err, KILN_EXIT_FAILURE, "gzip: %s", archive_error_string(s->gz));
  archive_write_free(s->gz);
  s->gz = NULL;
  if (s->err) {
    kiln_error_set(err, s->err->code, "%s", s->err->message);
    return -1;
  }
  return 0;
}

/* ---- export ---- */

/* Where the tarball goes: a folder (dir mode: timestamped name, keep) or
 * one named file. */
typedef struct {
  char *dir;
  char *file; /* NULL in dir mode */
  bool gzip;
} export_target;

static void export_target_clear(export_target *t) {
  free(t->dir);
  free(t->file);
}

static int resolve_target(const kiln_export_options *opts, export_target *t, kiln_error **err) {
  const char *out = opts->output ? opts->output : kiln_dist_shared_dir();
  struct stat st;
  t->gzip = opts->gzip;
  bool is_dir = stat(out, &st) == 0 && S_ISDIR(st.st_mode);
  if (!is_dir && (ends_with(out, ".tar") || ends_with(out, ".tar.gz"))) {
    t->file = strdup(out);
    const char *slash = strrchr(out, '/');
    t->dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    t->gzip = t->gzip || ends_with(out, ".gz");
    if (!t->file || !t->dir) return oom(err);
    return 0;
  }
  if (!is_dir)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s is not a folder (create it, set KILN_SHARED_DIR, or give -o "
                          "DIR or -o FILE.tar)",
                          out);
  if (!(t->dir = strdup(out))) return oom(err);
  return 0;
}

/* Temporaries a killed export left behind: any ".<safe>.partial-*" that no
 * running export holds locked. */
static void remove_stale_partials(const char *dir, const char *safe) {
  DIR *d = opendir(dir);
  if (!d) return;
  _cleanup_free_ char *prefix = NULL;
  if (asprintf(&prefix, ".%s.partial-", safe) < 0) {
    closedir(d);
    return;
  }
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, prefix, strlen(prefix))) continue;
    _cleanup_close_ int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) unlinkat(dirfd(d), e->d_name, 0);
  }
  closedir(d);
}

/* A locked temporary in dir; *path gets its name. */
static int open_partial(const char *dir, const char *safe, unsigned mode, char **path,
                        kiln_error **err) {
  if (asprintf(path, "%s/.%s.partial-XXXXXX", dir, safe) < 0) return oom(err);
  int fd = mkostemp(*path, O_CLOEXEC);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot create a file in %s", dir);
  if (flock(fd, LOCK_EX) < 0 || fchmod(fd, mode) < 0) {
    int e = errno;
    close(fd);
    unlink(*path);
    return kiln_error_errno(err, e, "cannot prepare %s", *path);
  }
  return fd;
}

/* Renames tmp to dir/<name for time>, trying later times while taken. */
static int publish_timestamped(const char *tmp, const char *dir, const char *image, bool gzip,
                               char **final, kiln_error **err) {
  int64_t t = (int64_t)time(NULL);
  for (int i = 0; i < MAX_NAME_BUMPS; i++, t++) {
    _cleanup_free_ char *base = kiln_export_file_name(image, t, gzip);
    if (!base || asprintf(final, "%s/%s", dir, base) < 0) return oom(err);
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, *final, RENAME_NOREPLACE) == 0) return 0;
    int e = errno;
    if (e == EINVAL || e == ENOSYS) { /* file system without NOREPLACE */
      if (access(*final, F_OK) < 0 && rename(tmp, *final) == 0) return 0;
      e = errno == 0 ? EEXIST : errno;
    }
    if (e != EEXIST) return kiln_error_errno(err, e, "cannot rename %s to %s", tmp, *final);
    free(*final);
    *final = NULL;
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "no free tarball name in %s", dir);
}

/* Writes text to path through a temporary, fsync and rename. */
static int write_file_atomic(const char *path, const char *text, unsigned mode, kiln_error **err) {
  _cleanup_free_ char *tmp = NULL;
  if (asprintf(&tmp, "%s.partial-XXXXXX", path) < 0) return oom(err);
  _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot write %s", path);
  if (fchmod(fd, mode) < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
      rename(tmp, path) < 0) {
    int e = errno;
    unlink(tmp);
    return kiln_error_errno(err, e, "cannot write %s", path);
  }
  return 0;
}

static int unlink_tarball(const char *dir, const char *base) {
  _cleanup_free_ char *path = NULL, *side = NULL;
  if (asprintf(&path, "%s/%s", dir, base) < 0 || asprintf(&side, "%s.json", path) < 0) return -1;
  int r = unlink(path);
  unlink(side);
  return r;
}

/* Older tarballs of the same image past keep; never the one just written. */
static int prune_older(const char *dir, const char *safe, const char *written, unsigned keep,
                       unsigned *pruned, kiln_error **err) {
  DIR *d = opendir(dir);
  if (!d) return kiln_error_errno(err, errno, "cannot list %s", dir);
  json_t *names = json_array();
  int64_t times[1024];
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d)) && n < 1024;) {
    int64_t t = kiln_export_file_time(e->d_name, safe);
    if (t < 0 || !strcmp(e->d_name, written)) continue;
    json_array_append_new(names, json_string(e->d_name));
    times[n++] = t;
  }
  closedir(d);
  bool prune[1024];
  kiln_keep_select(times, n, keep > 1 ? keep - 1 : 0, prune);
  for (size_t i = 0; i < n; i++)
    if ((prune[i] || keep <= 1) &&
        unlink_tarball(dir, json_string_value(json_array_get(names, i))) == 0)
      (*pruned)++;
  json_decref(names);
  return 0;
}

static json_t *inspect_image(kiln_engine *engine, const char *image, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/json", image) < 0) return oom(err), NULL;
  long status = 0;
  json_t *info = kiln_engine_json(engine, "GET", path, NULL, NULL, &status, err);
  if (!info && status == 404) {
    kiln_error_free(*err);
    *err = NULL;
    kiln_error_set(err, KILN_EXIT_FAILURE, "no image '%s' in the engine", image);
  }
  return info;
}

/* Streams the image into the locked temporary fd. */
static int stream_image(kiln_engine *engine, const kiln_export_options *opts, int fd, bool gzip,
                        export_sink *s, kiln_error **err) {
  *s = (export_sink){.fd = fd, .interrupted = opts->interrupted};
  kiln_sha256_init(&s->sha);
  progress_start(&s->prog, opts->on_progress, opts->user);
  if (gzip && sink_open_gzip(s, err) < 0) return -1;
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/get", opts->image) < 0) return oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "GET";
  req.path = path;
  req.on_data = sink_data;
  req.user = s;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  if (r < 0) {
    if (s->gz) archive_write_free(s->gz);
    if (s->err) { /* the sink's reason beats "the transfer was stopped" */
      kiln_error_free(*err);
      *err = NULL;
      kiln_error_set(err, s->err->code, "%s", s->err->message);
      kiln_error_free(s->err);
    }
    return -1;
  }
  if (sink_close_gzip(s, err) < 0) return -1;
  progress_done(&s->prog);
  if (fsync(fd) < 0) return kiln_error_errno(err, errno, "cannot sync the tarball");
  return 0;
}

static int export_body(kiln_engine *engine, const kiln_export_options *opts, const export_target *t,
                       kiln_export_result *res, kiln_error **err) {
  _cleanup_json_ json_t *info = inspect_image(engine, opts->image, err);
  if (!info) return -1;
  const char *id = json_string_value(json_object_get(info, "Id"));
  if (!id || !(res->image_id = strdup(id))) return oom(err);
  _cleanup_free_ char *safe = kiln_export_safe_name(opts->image);
  if (!safe) return oom(err);
  if (!t->file) remove_stale_partials(t->dir, safe);

  _cleanup_free_ char *tmp = NULL;
  _cleanup_close_ int fd = open_partial(t->dir, safe, opts->mode, &tmp, err);
  if (fd < 0) return -1;
  export_sink sink;
  if (stream_image(engine, opts, fd, t->gzip, &sink, err) < 0) {
    unlink(tmp);
    return kiln_error_prefix(err, "exporting %s", opts->image);
  }
  int r = t->file ? (rename(tmp, t->file) < 0
                         ? kiln_error_errno(err, errno, "cannot rename %s to %s", tmp, t->file)
                         : 0)
                  : publish_timestamped(tmp, t->dir, opts->image, t->gzip, &res->path, err);
  if (r < 0) {
    unlink(tmp);
    return -1;
  }
  if (t->file && !(res->path = strdup(t->file))) return oom(err);
  if (fsync_dir(t->dir, err) < 0) return -1;

  kiln_sha256_final_hex(&sink.sha, res->sha256);
  res->size = sink.size;
  const char *base = strrchr(res->path, '/') ? strrchr(res->path, '/') + 1 : res->path;
  _cleanup_json_ json_t *m =
      kiln_export_manifest(res->sha256, res->size, opts->image, id,
                           json_object_get(json_object_get(info, "Config"), "Labels"),
                           (int64_t)time(NULL), base, t->gzip);
  _cleanup_free_ char *text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  if (!text || asprintf(&res->manifest, "%s.json", res->path) < 0) return oom(err);
  if (write_file_atomic(res->manifest, text, opts->mode, err) < 0) return -1;
  if (!t->file && prune_older(t->dir, safe, base, opts->keep, &res->pruned, err) < 0) return -1;
  return fsync_dir(t->dir, err);
}

int kiln_image_export(kiln_engine *engine, const kiln_export_options *opts,
                      kiln_export_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  if (kiln_check_image_ref(opts->image, err) < 0) return -1;
  export_target t = {0};
  int r = resolve_target(opts, &t, err);
  if (r == 0) r = export_body(engine, opts, &t, result, err);
  export_target_clear(&t);
  if (r < 0) kiln_export_result_clear(result);
  return r;
}

void kiln_export_result_clear(kiln_export_result *result) {
  free(result->path);
  free(result->manifest);
  free(result->image_id);
  memset(result, 0, sizeof *result);
}

/* ---- import: pass 1, read and check everything ---- */

typedef struct {
  int fd;
  kiln_sha256 sha;
  uint64_t bytes;
  char buf[IO_CHUNK];
} raw_source;

static la_ssize_t raw_read_cb(struct archive *a, void *user, const void **buf) {
  raw_source *s = user;
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

/* What pass 1 learned. */
typedef struct {
  char sha256[65];
  bool gzip;
  json_t *save_manifest; /* docker save's manifest.json */
  json_t *entries;       /* object: entry name → true */
} archive_facts;

static void archive_facts_clear(archive_facts *f) {
  json_decref(f->save_manifest);
  json_decref(f->entries);
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

static int walk_entries(struct archive *a, archive_facts *f, kiln_error **err) {
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
    } else if (archive_read_data_skip(a) != ARCHIVE_OK) {
      return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
    }
  }
  if (r != ARCHIVE_EOF)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  return 0;
}

/* Every file manifest.json names must be in the archive: a tar cut at an
 * entry boundary reads cleanly but lacks them. */
static int check_complete(const archive_facts *f, kiln_error **err) {
  if (!json_is_array(f->save_manifest) || !json_array_size(f->save_manifest))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "no docker save manifest.json in it (not `docker save` output, or cut "
                          "short)");
  size_t i, j;
  json_t *img, *layer;
  json_array_foreach(f->save_manifest, i, img) {
    const char *cfg = json_string_value(json_object_get(img, "Config"));
    if (!cfg || !json_object_get(f->entries, cfg))
      return kiln_error_set(err, KILN_EXIT_FAILURE, "the image config %s is missing",
                            cfg ? cfg : "(none)");
    json_array_foreach(json_object_get(img, "Layers"), j, layer) {
      const char *l = json_string_value(layer);
      if (!l || !json_object_get(f->entries, l))
        return kiln_error_set(err, KILN_EXIT_FAILURE, "layer %s is missing", l ? l : "(none)");
    }
  }
  return 0;
}

static int read_archive(int fd, archive_facts *f, volatile sig_atomic_t *interrupted,
                        kiln_error **err) {
  raw_source *src = calloc(1, sizeof *src);
  struct archive *a = archive_read_new();
  f->entries = json_object();
  if (!src || !a || !f->entries) {
    free(src);
    archive_read_free(a);
    return oom(err);
  }
  src->fd = fd;
  kiln_sha256_init(&src->sha);
  unsigned char magic[2] = {0};
  f->gzip = pread(fd, magic, 2, 0) == 2 && kiln_is_gzip(magic, 2);
  archive_read_support_filter_gzip(a);
  archive_read_support_format_tar(a);
  int r = archive_read_open(a, src, NULL, raw_read_cb, NULL) == ARCHIVE_OK
              ? walk_entries(a, f, err)
              : kiln_error_set(err, KILN_EXIT_FAILURE, "%s", archive_error_string(a));
  const void *rest;
  /* Bytes past the end of the archive still belong to the file's hash. */
  while (r == 0 && raw_read_cb(a, src, &rest) > 0)
    if (interrupted && *interrupted) r = kiln_error_set(err, KILN_EXIT_FAILURE, "interrupted");
  archive_read_free(a);
  kiln_sha256_final_hex(&src->sha, f->sha256);
  free(src);
  return r < 0 ? -1 : check_complete(f, err);
}

/* The sidecar next to path: NULL when there is none (err unset). */
static json_t *load_sidecar(const char *path, kiln_error **err) {
  _cleanup_free_ char *side = NULL;
  if (asprintf(&side, "%s.json", path) < 0) return oom(err), NULL;
  if (access(side, F_OK) < 0) return NULL;
  json_error_t je;
  json_t *m = json_load_file(side, 0, &je);
  if (!json_is_object(m)) {
    json_decref(m);
    kiln_error_set(err, KILN_EXIT_FAILURE, "%s: not a kiln manifest (%s)", side, je.text);
  }
  return m;
}

static int check_sidecar(const json_t *side, const archive_facts *f, kiln_error **err) {
  const char *want = json_string_value(json_object_get(side, "sha256"));
  if (!want || strcmp(want, f->sha256))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "sha256 mismatch: the manifest says %s, the file has %s (damaged or "
                          "replaced)",
                          want ? want : "(none)", f->sha256);
  const char *id = json_string_value(json_object_get(side, "image_id"));
  const char *cfg =
      json_string_value(json_object_get(json_array_get(f->save_manifest, 0), "Config"));
  if (id && cfg && !strncmp(id, "sha256:", 7) && strncmp(cfg, id + 7, strlen(id + 7)))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the archive holds image %.19s, the manifest says %.19s", cfg, id + 7);
  return 0;
}

static int check_names(const archive_facts *f, const kiln_import_options *opts, kiln_error **err) {
  size_t i, j;
  json_t *img, *tag;
  json_array_foreach(f->save_manifest, i, img) {
    json_array_foreach(json_object_get(img, "RepoTags"), j, tag) {
      const char *t = json_string_value(tag);
      if (!t) continue;
      if (kiln_check_image_ref(t, err) < 0 || kiln_check_ref_policy(t, opts->name_policy, err) < 0)
        return kiln_error_prefix(err, "the archive names %s", t);
    }
  }
  if (opts->retag && (kiln_check_image_ref(opts->retag, err) < 0 ||
                      kiln_check_ref_policy(opts->retag, opts->name_policy, err) < 0))
    return -1;
  return 0;
}

/* ---- import: pass 2, stream the tar into the engine ---- */

typedef struct {
  int fd;
  struct archive *gunzip; /* NULL for a plain tar */
  progress prog;
  volatile sig_atomic_t *interrupted;
  char *error;    /* the engine's in-stream error */
  json_t *loaded; /* "Loaded image: X" names */
  char *id;       /* "Loaded image ID: X" */
} load_state;

static ssize_t load_read(void *user, char *buf, size_t n) {
  load_state *s = user;
  if (s->interrupted && *s->interrupted) return -1;
  ssize_t r;
  if (s->gunzip)
    r = archive_read_data(s->gunzip, buf, n);
  else
    do
      r = read(s->fd, buf, n);
    while (r < 0 && errno == EINTR);
  if (r > 0) progress_add(&s->prog, (size_t)r);
  return r < 0 ? -1 : r;
}

static int load_line(void *user, json_t *line) {
  load_state *s = user;
  const char *msg =
      json_string_value(json_object_get(json_object_get(line, "errorDetail"), "message"));
  if (!msg) msg = json_string_value(json_object_get(line, "error"));
  if (msg && !s->error) s->error = strdup(msg);
  const char *text = json_string_value(json_object_get(line, "stream"));
  static const char loaded[] = "Loaded image: ", loaded_id[] = "Loaded image ID: ";
  if (text && !strncmp(text, loaded, strlen(loaded)))
    json_array_append_new(
        s->loaded, json_stringn(text + strlen(loaded), strcspn(text + strlen(loaded), "\r\n")));
  if (text && !strncmp(text, loaded_id, strlen(loaded_id)) && !s->id)
    s->id = strndup(text + strlen(loaded_id), strcspn(text + strlen(loaded_id), "\r\n"));
  return 0;
}

static int open_gunzip(load_state *s, kiln_error **err) {
  if (!(s->gunzip = archive_read_new())) return oom(err);
  archive_read_support_filter_gzip(s->gunzip);
  archive_read_support_format_raw(s->gunzip);
  struct archive_entry *entry;
  if (archive_read_open_fd(s->gunzip, s->fd, IO_CHUNK) != ARCHIVE_OK ||
      archive_read_next_header(s->gunzip, &entry) != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "gunzip: %s", archive_error_string(s->gunzip));
  return 0;
}

static int load_into_engine(kiln_engine *engine, const kiln_import_options *opts, int fd, bool gzip,
                            kiln_import_result *res, kiln_error **err) {
  load_state s = {.fd = fd, .interrupted = opts->interrupted, .loaded = json_array()};
  progress_start(&s.prog, opts->on_progress, opts->user);
  int r = lseek(fd, 0, SEEK_SET) < 0 ? kiln_error_errno(err, errno, "cannot rewind") : 0;
  if (r == 0 && gzip) r = open_gunzip(&s, err);
  if (r == 0) {
    kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
    kiln_engine_response resp;
    req.method = "POST";
    req.path = "/images/load";
    req.query = "quiet=1";
    req.content_type = "application/x-tar";
    req.read = load_read;
    req.read_user = &s;
    req.on_line = load_line;
    req.user = &s;
    r = kiln_engine_call(engine, &req, &resp, err);
    kiln_engine_response_clear(&resp);
  }
  if (r < 0 && s.interrupted && *s.interrupted) {
    kiln_error_free(*err);
    *err = NULL;
    r = kiln_error_set(err, KILN_EXIT_FAILURE, "interrupted");
  }
  if (r == 0 && s.error)
    r = kiln_error_set(err, KILN_EXIT_FAILURE, "the engine refused the archive: %s", s.error);
  if (r == 0) progress_done(&s.prog);
  res->bytes = s.prog.bytes;
  res->tags = steal_pointer(&s.loaded);
  if (s.gunzip) archive_read_free(s.gunzip);
  free(s.error);
  free(s.id);
  json_decref(s.loaded);
  return r;
}

static int retag(kiln_engine *engine, const char *id, const char *ref, kiln_error **err) {
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  _cleanup_free_ char *repo = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
  _cleanup_free_ char *repo_q = repo ? kiln_engine_escape(repo) : NULL;
  _cleanup_free_ char *tag_q = kiln_engine_escape(colon ? colon + 1 : "latest");
  _cleanup_free_ char *path = NULL, *query = NULL;
  if (!repo_q || !tag_q || asprintf(&path, "/images/%s/tag", id) < 0 ||
      asprintf(&query, "repo=%s&tag=%s", repo_q, tag_q) < 0)
    return oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = path;
  req.query = query;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  return r < 0 ? kiln_error_prefix(err, "tagging %s", ref) : 0;
}

/* The id the archive holds, from manifest.json's Config ("<hex>.json"). */
static char *archive_image_id(const archive_facts *f) {
  const char *cfg =
      json_string_value(json_object_get(json_array_get(f->save_manifest, 0), "Config"));
  char *id = NULL;
  if (!cfg) return NULL;
  size_t n = strcspn(cfg, ".");
  if (asprintf(&id, "sha256:%.*s", (int)n, cfg) < 0) return NULL;
  return id;
}

static int import_body(kiln_engine *engine, const kiln_import_options *opts, int fd,
                       kiln_import_result *res, kiln_error **err) {
  archive_facts f = {0};
  _cleanup_json_ json_t *side = NULL;
  int r = read_archive(fd, &f, opts->interrupted, err);
  if (r < 0) kiln_error_prefix(err, "%s is not a complete image archive", opts->path);
  if (r == 0 && !opts->skip_checksum && (side = load_sidecar(opts->path, err)) == NULL && *err)
    r = -1;
  if (r == 0 && side && (r = check_sidecar(side, &f, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  res->verified = r == 0 && side;
  if (r == 0 && (r = check_names(&f, opts, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  if (r == 0 && (r = load_into_engine(engine, opts, fd, f.gzip, res, err)) < 0)
    kiln_error_prefix(err, "loading %s", opts->path);
  if (r == 0 && !(res->image_id = archive_image_id(&f))) r = oom(err);
  if (r == 0 && opts->retag && (r = retag(engine, res->image_id, opts->retag, err)) == 0)
    json_array_append_new(res->tags, json_string(opts->retag));
  archive_facts_clear(&f);
  return r;
}

int kiln_image_import(kiln_engine *engine, const kiln_import_options *opts,
                      kiln_import_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  _cleanup_close_ int fd = open(opts->path, O_RDONLY | O_CLOEXEC);
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
