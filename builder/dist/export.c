/* Image export: a tarball with a checksum and a sidecar manifest, written
 * so that nothing half-written ever carries a final name (import.c reads
 * them back). */
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

#define ZSTD_LEVEL     3    /* zstd's own default: faster than gzip -6, about as small */
#define MAX_NAME_BUMPS 1000 /* later timestamps tried when a name is taken */

/* ---- export: the sink that hashes and writes (compressed when asked) ---- */

typedef struct {
  int fd;
  kiln_sha256 sha;
  uint64_t size; /* bytes on disk */
  struct archive *gz;
  kiln_dist_progress prog;
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
  if (r == ARCHIVE_OK) r = kiln_dist_compressions[c].add_write(s->gz);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_per_block(s->gz, (int)KILN_DIST_IO_CHUNK);
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_in_last_block(s->gz, 1);
  if (r == ARCHIVE_OK) r = archive_write_open(s->gz, s, NULL, gz_write_cb, NULL);
  if (r == ARCHIVE_OK) r = archive_write_header(s->gz, entry);
  archive_entry_free(entry);
  if (r != ARCHIVE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot start %s: %s",
                          kiln_dist_compressions[c].name, archive_error_string(s->gz));
  return 0;
}

static int sink_data(void *user, const char *data, size_t n) {
  export_sink *s = user;
  if (s->interrupted && *s->interrupted)
    return kiln_error_interrupted(&s->err, *s->interrupted, NULL);
  kiln_dist_progress_add(&s->prog, n);
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
  kiln_dist_progress_start(&s->prog, opts->on_progress, opts->user);
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
  kiln_dist_progress_done(&s->prog);
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
