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
#include <zstd.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define IO_CHUNK          (256u << 10)
#define ZSTD_LEVEL        3           /* zstd's own default: faster than gzip -6, about as small */
#define PROGRESS_INTERVAL 0.25        /* seconds between progress calls */
#define MAX_NAME_BUMPS    1000        /* later timestamps tried when a name is taken */
#define OCI_REF_BLOB_MAX  (64u << 10) /* OCI blobs read as a possible manifest or index */

/* ---- settings ---- */

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

const char *kiln_dist_shared_dir(const kiln_config *cfg) {
  const char *v = kiln_env("KILN_SHARED_DIR");
  if (v && *v) return v;
  return cfg && cfg->shared_dir && *cfg->shared_dir ? cfg->shared_dir : KILN_DEFAULT_SHARED_DIR;
}

unsigned kiln_dist_tar_mode(void) {
  const char *v = kiln_env("KILN_TAR_MODE");
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

/* ---- compressions: one row each ---- */

static const struct {
  const char *name, *suffix;
  unsigned char magic[4];
  size_t magic_len;
  int (*add_write)(struct archive *);
  int (*add_read)(struct archive *);
} compressions[] = {
    [KILN_COMPRESS_NONE] = {"none", ".tar", {0}, 0, NULL, NULL},
    [KILN_COMPRESS_GZIP] = {"gzip",
                            ".tar.gz",
                            {0x1f, 0x8b},
                            2,
                            archive_write_add_filter_gzip,
                            archive_read_support_filter_gzip},
    [KILN_COMPRESS_ZSTD] = {"zstd",
                            ".tar.zst",
                            {0x28, 0xb5, 0x2f, 0xfd},
                            4,
                            archive_write_add_filter_zstd,
                            archive_read_support_filter_zstd},
};
#define N_COMPRESSIONS (sizeof compressions / sizeof *compressions)

const char *kiln_compression_name(kiln_compression c) {
  return (size_t)c < N_COMPRESSIONS ? compressions[c].name : "none";
}

int kiln_compression_parse(const char *name, kiln_compression *out) {
  for (size_t i = 0; name && i < N_COMPRESSIONS; i++)
    if (!strcmp(name, compressions[i].name)) return *out = (kiln_compression)i, 0;
  return -1;
}

static bool ends_with(const char *s, const char *suffix);

int kiln_compression_of_file(const char *name, kiln_compression *out) {
  for (size_t i = 0; i < N_COMPRESSIONS; i++)
    if (ends_with(name, compressions[i].suffix)) return *out = (kiln_compression)i, 0;
  return -1;
}

kiln_compression kiln_compression_of_magic(const unsigned char *data, size_t n) {
  for (size_t i = 1; i < N_COMPRESSIONS; i++)
    if (n >= compressions[i].magic_len &&
        !memcmp(data, compressions[i].magic, compressions[i].magic_len))
      return (kiln_compression)i;
  return KILN_COMPRESS_NONE;
}

/* Every compression's reader, for an archive read as tar. */
static int support_compressions(struct archive *a) {
  for (size_t i = 1; i < N_COMPRESSIONS; i++)
    if (compressions[i].add_read(a) != ARCHIVE_OK) return -1;
  return 0;
}

char *kiln_export_file_name(const char *image, int64_t unix_time, kiln_compression c) {
  _cleanup_free_ char *safe = kiln_export_safe_name(image);
  char *name = NULL;
  if (!safe || asprintf(&name, "%s-%lld%s", safe, (long long)unix_time,
                        compressions[(size_t)c < N_COMPRESSIONS ? c : 0].suffix) < 0)
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
  kiln_compression c;
  if (p == digits || *p != '.' || kiln_compression_of_file(p, &c) < 0 ||
      strcmp(p, compressions[c].suffix))
    return -1;
  return t;
}

json_t *kiln_export_manifest(const char *sha256, uint64_t size, const char *image,
                             const char *image_id, json_t *labels, int64_t created,
                             const char *file, kiln_compression c, uint32_t owner_uid) {
  json_t *spec = json_object_get(labels, KILN_LABEL_SPEC_SHA256);
  json_t *m =
      json_pack("{s:s, s:I, s:s, s:s, s:O, s:I, s:s, s:s, s:s, s:I}", "sha256", sha256, "size",
                (json_int_t)size, "image", image, "image_id", image_id, "spec_sha256",
                json_is_string(spec) ? spec : json_null(), "created", (json_int_t)created,
                "kiln_version", kiln_version(), "file", file, "compression",
                kiln_compression_name(c), "owner_uid", (json_int_t)owner_uid);
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
  return kiln_compression_of_magic(data, n) == KILN_COMPRESS_GZIP;
}

int kiln_check_ref_policy(const char *ref, bool policy, kiln_error **err) {
  if (!policy) return 0;
  const char *slash = strrchr(ref, '/');
  const char *last = slash ? slash + 1 : ref;
  size_t len = strcspn(last, ":@");
  _cleanup_free_ char *name = strndup(last, len);
  if (!name) return kiln_error_oom(err);
  return kiln_check_name_policy(name, "image name", err);
}

/* ---- small file helpers ---- */

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

/* ---- export: the sink that hashes and writes (compressed when asked) ---- */

typedef struct {
  int fd;
  kiln_sha256 sha;
  uint64_t size; /* bytes on disk */
  struct archive *gz;
  progress prog;
  volatile sig_atomic_t *interrupted;
  kiln_error *err;
  ZSTD_CCtx *zc; /* or zstd through libzstd, with zbuf for its output */
  char *zbuf;
  size_t zbuf_len;
} export_sink;

static int sink_write_disk(export_sink *s, const void *data, size_t n) {
  if (kiln_write_all(s->fd, data, n) < 0)
    return kiln_error_errno(&s->err, errno, "cannot write the tarball");
  kiln_sha256_update(&s->sha, data, n);
  s->size += n;
  return 0;
}

/* For the sink's owner: the hash when the export stopped early. */
static void sink_release(export_sink *s) {
  kiln_sha256_free(&s->sha);
}

static la_ssize_t gz_write_cb(struct archive *a, void *user, const void *buf, size_t n) {
  (void)a;
  return sink_write_disk(user, buf, n) < 0 ? -1 : (la_ssize_t)n;
}

/* Feeds n bytes (mode ZSTD_e_end: and ends the frame) to zstd and writes
 * what comes out. */
static int zstd_push(export_sink *s, const void *data, size_t n, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in = {data, n, 0};
  bool done;
  do {
    ZSTD_outBuffer out = {s->zbuf, s->zbuf_len, 0};
    size_t left = ZSTD_compressStream2(s->zc, &out, &in, mode);
    if (ZSTD_isError(left))
      return kiln_error_set(&s->err, KILN_EXIT_FAILURE, "zstd: %s", ZSTD_getErrorName(left));
    if (out.pos && sink_write_disk(s, s->zbuf, out.pos) < 0) return -1;
    done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
  } while (!done);
  return 0;
}

/* Level 3 (zstd's default), with the frame's content checksum (XXH64),
 * which every zstd reader checks. */
static int sink_open_zstd(export_sink *s, kiln_error **err) {
  s->zbuf_len = ZSTD_CStreamOutSize();
  if (!(s->zc = ZSTD_createCCtx()) || !(s->zbuf = malloc(s->zbuf_len))) return kiln_error_oom(err);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1)))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot start zstd");
  return 0;
}

static void sink_free_filter(export_sink *s) {
  if (s->gz) archive_write_free(s->gz);
  s->gz = NULL;
  ZSTD_freeCCtx(s->zc);
  s->zc = NULL;
  free(s->zbuf);
  s->zbuf = NULL;
}

static int sink_open_filter(export_sink *s, kiln_compression c, kiln_error **err) {
  if (c == KILN_COMPRESS_ZSTD) return sink_open_zstd(s, err);
  struct archive_entry *entry = archive_entry_new();
  s->gz = archive_write_new();
  if (!s->gz || !entry) {
    archive_entry_free(entry);
    return kiln_error_oom(err);
  }
  archive_entry_set_filetype(entry, AE_IFREG);
  archive_entry_set_pathname(entry, "image.tar");
  int r = archive_write_set_format_raw(s->gz);
  if (r == ARCHIVE_OK) r = compressions[c].add_write(s->gz);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_per_block(s->gz, (int)IO_CHUNK);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_in_last_block(s->gz, 1);
  if (r == ARCHIVE_OK) r = archive_write_open(s->gz, s, NULL, gz_write_cb, NULL);
  if (r == ARCHIVE_OK) r = archive_write_header(s->gz, entry);
  archive_entry_free(entry);
  if (r != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot start %s: %s", compressions[c].name,
                          archive_error_string(s->gz));
  return 0;
}

static int sink_data(void *user, const char *data, size_t n) {
  export_sink *s = user;
  if (s->interrupted && *s->interrupted)
    return kiln_error_interrupted(&s->err, *s->interrupted, NULL);
  progress_add(&s->prog, n);
  if (s->zc) return zstd_push(s, data, n, ZSTD_e_continue);
  if (!s->gz) return sink_write_disk(s, data, n);
  if (archive_write_data(s->gz, data, n) < 0) {
    if (!s->err)
      kiln_error_set(&s->err, KILN_EXIT_FAILURE, "compressing: %s", archive_error_string(s->gz));
    return -1;
  }
  return 0;
}

static int sink_close_filter(export_sink *s, kiln_error **err) {
  if (s->zc) zstd_push(s, NULL, 0, ZSTD_e_end);
  if (s->gz && archive_write_close(s->gz) != ARCHIVE_OK && !s->err)
    kiln_error_set(&s->err, KILN_EXIT_FAILURE, "compressing: %s", archive_error_string(s->gz));
  sink_free_filter(s);
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
  kiln_compression compression;
} export_target;

static void export_target_clear(export_target *t) {
  free(t->dir);
  free(t->file);
}

static int resolve_target(const kiln_export_options *opts, export_target *t, kiln_error **err) {
  const char *out = opts->output;
  struct stat st;
  t->compression = opts->compression;
  kiln_compression by_name;
  if (!out || !*out)
    return kiln_error_set(err, KILN_EXIT_USAGE, "no output: give -o DIR or -o FILE.tar");
  bool is_dir = kiln_dist_stat(out, &st, true) == 0 && S_ISDIR(st.st_mode);
  if (!is_dir && kiln_compression_of_file(out, &by_name) == 0) {
    t->file = strdup(out);
    const char *slash = strrchr(out, '/');
    t->dir = slash ? strndup(out, slash == out ? 1 : (size_t)(slash - out)) : strdup(".");
    if (t->compression == KILN_COMPRESS_NONE) t->compression = by_name;
    if (!t->file || !t->dir) return kiln_error_oom(err);
    return 0;
  }
  if (!is_dir)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s is not a folder you can reach (create it, or give -o DIR or -o "
                          "FILE.tar)",
                          out);
  if (!(t->dir = strdup(out))) return kiln_error_oom(err);
  for (size_t n = strlen(t->dir); n > 1 && t->dir[n - 1] == '/'; n--)
    t->dir[n - 1] = '\0'; /* "~/" gives ~/name, not ~//name */
  return 0;
}

static int fsync_dir(const char *dir, kiln_error **err) {
  _cleanup_close_ int fd = kiln_dist_open_read(dir, O_DIRECTORY);
  if (fd < 0 || fsync(fd) < 0) return kiln_error_errno(err, errno, "cannot sync folder %s", dir);
  return 0;
}

static char *join(const char *dir, const char *base) {
  char *path = NULL;
  return asprintf(&path, "%s/%s", dir, base) < 0 ? NULL : path;
}

/* Temporaries a killed export of the caller left behind: any
 * ".<safe>.partial-*" of theirs that no running export holds locked. */
static void remove_stale_partials(const kiln_caller *c, const char *dir, const char *safe) {
  kiln_error *e = NULL;
  _cleanup_json_ json_t *names = kiln_dist_names(dir, KILN_MAX_CONTEXT_ENTRIES, &e);
  _cleanup_free_ char *prefix = NULL;
  if (!names || asprintf(&prefix, ".%s.partial-", safe) < 0) {
    kiln_error_free(e);
    return;
  }
  size_t i;
  json_t *n;
  json_array_foreach(names, i, n) {
    if (strncmp(json_string_value(n), prefix, strlen(prefix))) continue;
    _cleanup_free_ char *path = join(dir, json_string_value(n));
    struct stat st;
    _cleanup_close_ int fd = path ? kiln_fs_open(path, O_RDONLY, 0, &e) : -1;
    if (fd >= 0 && fstat(fd, &st) == 0 && (st.st_uid == c->id.uid || c->admin) &&
        flock(fd, LOCK_EX | LOCK_NB) == 0)
      kiln_fs_unlink(path, true, &e);
  }
  kiln_error_free(e);
}

/* A locked temporary in dir, created with the caller's rights; *path gets
 * its name. */
static int open_partial(const char *dir, const char *safe, unsigned mode, char **path,
                        kiln_error **err) {
  if (asprintf(path, "%s/.%s.partial-XXXXXX", dir, safe) < 0) return kiln_error_oom(err);
  int fd = kiln_fs_mkstemp(*path, mode, err);
  if (fd < 0) return kiln_error_prefix(err, "cannot write into %s", dir);
  if (flock(fd, LOCK_EX) < 0) {
    int e = errno;
    close(fd);
    kiln_fs_unlink(*path, true, NULL);
    return kiln_error_errno(err, e, "cannot lock %s", *path);
  }
  return fd;
}

/* rename(tmp, final) with RENAME_NOREPLACE and the caller's rights; -1
 * with errno. */
static int rename_noreplace(const char *tmp, const char *final) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, NULL) < 0) {
    errno = EPERM;
    return -1;
  }
  int r = renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE);
  int e = errno;
  kiln_fs_restore(&saved);
  errno = e;
  return r;
}

/* Renames tmp to dir/<name for time>, trying later times while taken. */
static int publish_timestamped(const char *tmp, const char *dir, const char *image,
                               kiln_compression c, char **final, kiln_error **err) {
  int64_t t = (int64_t)time(NULL);
  for (int i = 0; i < MAX_NAME_BUMPS; i++, t++) {
    _cleanup_free_ char *base = kiln_export_file_name(image, t, c);
    if (!base || !(* final = join(dir, base))) return kiln_error_oom(err);
    if (rename_noreplace(tmp, *final) == 0) return 0;
    if (errno != EEXIST) return kiln_error_errno(err, errno, "cannot rename %s to %s", tmp, *final);
    free(*final);
    *final = NULL;
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "no free tarball name in %s", dir);
}

static int publish_file(const char *tmp, const char *file, char **final, kiln_error **err) {
  if (rename_noreplace(tmp, file) < 0)
    return errno == EEXIST ? kiln_error_set(err, KILN_EXIT_FAILURE,
                                            "%s already exists; remove it or choose another "
                                            "name",
                                            file)
                           : kiln_error_errno(err, errno, "cannot rename %s to %s", tmp, file);
  if (!(* final = strdup(file))) return kiln_error_oom(err);
  return 0;
}

/* Writes text to path through a temporary, fsync and rename, all with the
 * caller's rights. */
static int write_file_atomic(const char *path, const char *text, unsigned mode, kiln_error **err) {
  _cleanup_free_ char *tmp = NULL;
  if (asprintf(&tmp, "%s.partial-XXXXXX", path) < 0) return kiln_error_oom(err);
  _cleanup_close_ int fd = kiln_fs_mkstemp(tmp, mode, err);
  if (fd < 0) return kiln_error_prefix(err, "cannot write %s", path);
  if (kiln_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
    int e = errno;
    kiln_fs_unlink(tmp, true, NULL);
    return kiln_error_errno(err, e, "cannot write %s", path);
  }
  if (kiln_fs_rename(tmp, path, false, err) < 0) {
    kiln_fs_unlink(tmp, true, NULL);
    return -1;
  }
  return 0;
}

/* Whether the caller may replace the tarball dir/base (kiln_access_tarball
 * on its sidecar and file owner). */
static bool may_prune(const kiln_caller *c, const char *path) {
  struct stat st;
  kiln_error *e = NULL;
  if (kiln_dist_stat(path, &st, false) < 0 || !S_ISREG(st.st_mode)) return false;
  _cleanup_json_ json_t *m = kiln_export_manifest_load(path, &e);
  bool ok = !e && kiln_access_tarball(c, m, st.st_uid, path, &e) == 0;
  kiln_error_free(e);
  return ok;
}

static int unlink_tarball(const char *path) {
  _cleanup_free_ char *side = NULL;
  if (asprintf(&side, "%s.json", path) < 0) return -1;
  int r = kiln_fs_unlink(path, false, NULL);
  kiln_fs_unlink(side, true, NULL);
  return r;
}

#define MAX_PRUNE 1024 /* tarballs of one image considered by keep */

/* The caller's older tarballs of the same image past keep; never the one
 * just written, never someone else's. */
static int prune_older(const kiln_caller *c, const char *dir, const char *safe, const char *written,
                       unsigned keep, unsigned *pruned, kiln_error **err) {
  _cleanup_json_ json_t *names = kiln_dist_names(dir, KILN_MAX_CONTEXT_ENTRIES, err);
  _cleanup_json_ json_t *paths = json_array();
  if (!names || !paths) return names ? kiln_error_oom(err) : -1;
  int64_t times[MAX_PRUNE];
  size_t n = 0, i;
  json_t *name;
  json_array_foreach(names, i, name) {
    const char *base = json_string_value(name);
    int64_t t = kiln_export_file_time(base, safe);
    if (t < 0 || !strcmp(base, written) || n >= MAX_PRUNE) continue;
    _cleanup_free_ char *path = join(dir, base);
    if (!path) return kiln_error_oom(err);
    if (!may_prune(c, path)) continue;
    json_array_append_new(paths, json_string(path));
    times[n++] = t;
  }
  bool prune[MAX_PRUNE];
  kiln_keep_select(times, n, keep > 1 ? keep - 1 : 0, prune);
  for (i = 0; i < n; i++)
    if ((prune[i] || keep <= 1) && unlink_tarball(json_string_value(json_array_get(paths, i))) == 0)
      (*pruned)++;
  return 0;
}

/* The image, if the caller may read it (kiln_access_image). */
static json_t *readable_image(kiln_engine *engine, const kiln_export_options *opts,
                              kiln_error **err) {
  json_t *info = kiln_dist_inspect(engine, opts->image, false, err);
  json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");
  if (info && kiln_access_image(opts->caller, opts->ns, opts->image, labels, err) < 0) {
    json_decref(info);
    return NULL;
  }
  return info;
}

/* Streams the image into the locked temporary fd. */
static int stream_image(kiln_engine *engine, const kiln_export_options *opts, int fd,
                        kiln_compression c, export_sink *s, kiln_error **err) {
  *s = (export_sink){.fd = fd, .interrupted = opts->interrupted};
  if (kiln_sha256_init(&s->sha) < 0) return kiln_error_oom(err);
  progress_start(&s->prog, opts->on_progress, opts->user);
  if (c != KILN_COMPRESS_NONE && sink_open_filter(s, c, err) < 0) return sink_free_filter(s), -1;
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/get", opts->image) < 0) return kiln_error_oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "GET";
  req.path = path;
  req.on_data = sink_data;
  req.user = s;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  if (r < 0) {
    sink_free_filter(s);
    if (s->err) { /* the sink's reason beats "the transfer was stopped" */
      kiln_error_free(*err);
      *err = NULL;
      kiln_error_set(err, s->err->code, "%s", s->err->message);
      kiln_error_free(s->err);
    }
    return -1;
  }
  if (sink_close_filter(s, err) < 0) return -1;
  progress_done(&s->prog);
  if (fsync(fd) < 0) return kiln_error_errno(err, errno, "cannot sync the tarball");
  return 0;
}

/* The name still names the image checked before the transfer. */
static int same_image_still(kiln_engine *engine, const char *image, const char *id,
                            kiln_error **err) {
  _cleanup_json_ json_t *now = kiln_dist_inspect(engine, image, false, err);
  if (!now) return -1;
  const char *now_id = json_string_value(json_object_get(now, "Id"));
  if (!now_id || strcmp(now_id, id))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s changed during the export; try again", image);
  return 0;
}

/* Streams into a temporary and publishes it under its final name. */
static int write_tarball(kiln_engine *engine, const kiln_export_options *opts,
                         const export_target *t, const char *safe, export_sink *sink,
                         kiln_export_result *res, kiln_error **err) {
  _cleanup_free_ char *tmp = NULL;
  _cleanup_close_ int fd = open_partial(t->dir, safe, opts->mode, &tmp, err);
  if (fd < 0) return -1;
  int r = stream_image(engine, opts, fd, t->compression, sink, err);
  if (r < 0) kiln_error_prefix(err, "exporting %s", opts->image);
  if (r == 0) r = same_image_still(engine, opts->image, res->image_id, err);
  if (r == 0)
    r = t->file ? publish_file(tmp, t->file, &res->path, err)
                : publish_timestamped(tmp, t->dir, opts->image, t->compression, &res->path, err);
  if (r < 0) kiln_fs_unlink(tmp, true, NULL);
  return r;
}

static int export_body(kiln_engine *engine, const kiln_export_options *opts, const export_target *t,
                       kiln_export_result *res, kiln_error **err) {
  _cleanup_json_ json_t *info = readable_image(engine, opts, err);
  if (!info) return -1;
  const char *id = json_string_value(json_object_get(info, "Id"));
  if (!id || !(res->image_id = strdup(id))) return kiln_error_oom(err);
  _cleanup_free_ char *safe = kiln_export_safe_name(opts->image);
  if (!safe) return kiln_error_oom(err);
  if (!t->file) remove_stale_partials(opts->caller, t->dir, safe);

  __attribute__((cleanup(sink_release))) export_sink sink = {.fd = -1};
  if (write_tarball(engine, opts, t, safe, &sink, res, err) < 0) return -1;
  if (fsync_dir(t->dir, err) < 0) return -1;
  if (kiln_sha256_final_hex(&sink.sha, res->sha256) < 0) return kiln_error_oom(err);
  res->size = sink.size;
  const char *base = strrchr(res->path, '/') ? strrchr(res->path, '/') + 1 : res->path;
  _cleanup_json_ json_t *m =
      kiln_export_manifest(res->sha256, res->size, opts->image, id,
                           json_object_get(json_object_get(info, "Config"), "Labels"),
                           (int64_t)time(NULL), base, t->compression, opts->caller->id.uid);
  _cleanup_free_ char *text = m ? json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
  if (!text || asprintf(&res->manifest, "%s.json", res->path) < 0) return kiln_error_oom(err);
  if (write_file_atomic(res->manifest, text, opts->mode, err) < 0) return -1;
  if (!t->file && prune_older(opts->caller, t->dir, safe, base, opts->keep, &res->pruned, err) < 0)
    return -1;
  return fsync_dir(t->dir, err);
}

int kiln_image_export(kiln_engine *engine, const kiln_export_options *opts,
                      kiln_export_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  if (!opts->caller) return kiln_error_set(err, KILN_EXIT_FAILURE, "export: no caller");
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
  volatile sig_atomic_t *interrupted; /* borrowed, may be NULL: checked every chunk */
  kiln_sha256 sha;
  uint64_t bytes;
  char buf[IO_CHUNK];
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

/* What pass 1 learned. */
typedef struct {
  char sha256[65];
  kiln_compression compression;
  json_t *save_manifest; /* docker save's manifest.json */
  json_t *entries;       /* object: entry name → true */
  json_t *digests;       /* object: config-named plain file → "sha256:<hex>" of its content */
  json_t *refs;   /* object: digest of an OCI manifest or index blob → [digests it names] */
  char *image_id; /* the first image's, from its config blob */
} archive_facts;

static void archive_facts_clear(archive_facts *f) {
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
static void record_refs(archive_facts *f, const char *digest, const char *text, size_t len) {
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
static bool same_image(const archive_facts *f, const char *id, const char *config_id,
                       unsigned depth) {
  if (!strcmp(id, config_id)) return true;
  size_t i;
  json_t *d;
  if (depth < 2) json_array_foreach(json_object_get(f->refs, id), i, d) {
      if (same_image(f, json_string_value(d), config_id, depth + 1)) return true;
    }
  return false;
}

/* The sha256 of a plain file entry that may be an image config (its name
 * is one), recorded under its name; other entries are skipped. */
static int hash_config_candidate(struct archive *a, struct archive_entry *entry, archive_facts *f,
                                 kiln_error **err) {
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
static int image_of(const archive_facts *f, json_t *img, char **id, kiln_error **err) {
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
static int check_complete(archive_facts *f, kiln_error **err) {
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

static int read_archive(int fd, archive_facts *f, volatile sig_atomic_t *interrupted,
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
  support_compressions(a);
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

static int check_sidecar(const json_t *side, const archive_facts *f, kiln_error **err) {
  const char *want = json_string_value(json_object_get(side, "sha256"));
  if (!want || strcmp(want, f->sha256))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "sha256 mismatch: the manifest says %s, the file has %s (damaged or "
                          "replaced)",
                          want ? want : "(none)", f->sha256);
  const char *id = json_string_value(json_object_get(side, "image_id"));
  if (id && f->image_id && !same_image(f, id, f->image_id, 0))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the archive holds image %.19s, the manifest says %.19s", f->image_id,
                          id);
  return 0;
}

int kiln_import_check_archive(int fd, const json_t *side, char sha256[65], char **image_id,
                              kiln_error **err) {
  archive_facts f = {0};
  int r = read_archive(fd, &f, NULL, err);
  memcpy(sha256, f.sha256, sizeof f.sha256);
  if (r == 0 && side) r = check_sidecar(side, &f, err);
  if (image_id) *image_id = r == 0 ? steal_pointer(&f.image_id) : NULL;
  archive_facts_clear(&f);
  return r;
}

/* The names the load will give (kiln_import_tag), checked before any byte
 * reaches the engine: valid, within the name policy, --tag allowed for the
 * caller, and (non-admins) a tag for every image. */
static int check_names(const archive_facts *f, const kiln_import_options *opts, kiln_error **err) {
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
  progress prog;
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
  compressions[c].add_read(s->decompress);
  archive_read_support_format_raw(s->decompress);
  struct archive_entry *entry;
  if (archive_read_open_fd(s->decompress, s->fd, IO_CHUNK) != ARCHIVE_OK ||
      archive_read_next_header(s->decompress, &entry) != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "decompressing (%s): %s", compressions[c].name,
                          archive_error_string(s->decompress));
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
                            const archive_facts *f, kiln_import_result *res, json_t **sent,
                            kiln_error **err) {
  load_state s = {.fd = fd, .interrupted = opts->interrupted, .loaded = json_array()};
  progress_start(&s.prog, opts->on_progress, opts->user);
  int r = open_source(&s, opts, f->compression, err);
  if (r == 0) r = post_load(engine, &s, err);
  if (r == 0) progress_done(&s.prog);
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
static char *loaded_image_id(kiln_engine *engine, const archive_facts *f, json_t *img) {
  _cleanup_free_ char *cfg = config_image_id(img);
  if (!cfg) return NULL;
  kiln_error *e = NULL;
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, cfg, true, &e);
  kiln_error_free(e);
  if (info || !json_object_size(f->refs)) return steal_pointer(&cfg);
  const char *digest;
  json_t *v;
  json_object_foreach(f->refs, digest, v) {
    if (!same_image(f, digest, cfg, 0)) continue;
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
                        const archive_facts *f, json_t *sent, kiln_import_result *res,
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
static int tag_as_is(kiln_engine *engine, const kiln_import_options *opts, const archive_facts *f,
                     json_t *sent, kiln_import_result *res, kiln_error **err) {
  if (!(res->image_id = loaded_image_id(engine, f, json_array_get(sent, 0))))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "the archive names no image");
  if (!opts->retag) return 0;
  if (kiln_dist_tag(engine, res->image_id, opts->retag, err) < 0) return -1;
  json_array_append_new(res->tags, json_string(opts->retag));
  return 0;
}

static int import_body(kiln_engine *engine, const kiln_import_options *opts, int fd,
                       kiln_import_result *res, kiln_error **err) {
  archive_facts f = {0};
  _cleanup_json_ json_t *side = NULL, *sent = NULL;
  int r = read_archive(fd, &f, opts->interrupted, err);
  if (r < 0 && f.compression != KILN_COMPRESS_NONE) /* libarchive then says only "Truncated" */
    kiln_error_prefix(err, "%s is not a complete image archive (its %s data is cut or damaged)",
                      opts->path, kiln_compression_name(f.compression));
  else if (r < 0)
    kiln_error_prefix(err, "%s is not a complete image archive", opts->path);
  if (r == 0 && !opts->skip_checksum && (side = load_sidecar(opts->path, err)) == NULL && *err)
    r = -1;
  if (r == 0 && side && (r = check_sidecar(side, &f, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  res->verified = r == 0 && side;
  if (r == 0 && (r = check_names(&f, opts, err)) < 0)
    kiln_error_prefix(err, "refusing %s", opts->path);
  if (r == 0 && (r = load_into_engine(engine, opts, fd, &f, res, &sent, err)) < 0)
    kiln_error_prefix(err, "loading %s", opts->path);
  if (r == 0)
    r = opts->caller->admin ? tag_as_is(engine, opts, &f, sent, res, err)
                            : adopt_loaded(engine, opts, &f, sent, res, err);
  archive_facts_clear(&f);
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
