/* The build context as a pull-driven libarchive tar stream; see context.h.
 *
 * kiln_context_read() advances a small state machine (next header, next
 * chunk of the current file, end of archive) only when the bytes libarchive
 * produced so far have been handed out, so memory stays at one chunk. */
#include "kiln/context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "dockerignore.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#define CHUNK (64u << 10)
#define FIXED_MTIME 946684800 /* 2000-01-01: stable headers, stable build cache */

typedef struct {
  char *path; /* relative to the project; "Dockerfile" for the first entry */
  char type;  /* 'f', 'd', 'l' */
  unsigned mode;
  uint64_t size;
  char *link;
} entry;

struct kiln_context {
  char *root; /* realpath of the project */
  char *dockerfile;
  size_t dockerfile_len;
  entry *v;
  size_t n, alloc;
  kiln_ignore *ignore;
  bool ignore_loaded;
  /* streaming */
  struct archive *a;
  size_t next;     /* next entry to write */
  int fd;          /* file being written, or -1 */
  uint64_t left;   /* bytes of it still to write */
  const entry *cur;
  kiln_buf pending; /* bytes libarchive produced, not yet handed out */
  size_t pending_off;
  bool finished;
  uint64_t sent;
  kiln_error *err;
};

/* ---- building the entry list ---- */

static bool has_entry(const kiln_context *ctx, const char *path) {
  for (size_t i = 0; i < ctx->n; i++)
    if (!strcmp(ctx->v[i].path, path)) return true;
  return false;
}

static int push_entry(kiln_context *ctx, entry e, kiln_error **err) {
  if (ctx->n >= KILN_MAX_CONTEXT_ENTRIES) {
    free(e.path);
    free(e.link);
    return kiln_error_set(err, KILN_EXIT_USAGE, "the build context has more than %d entries",
                          KILN_MAX_CONTEXT_ENTRIES);
  }
  if (ctx->n == ctx->alloc) {
    size_t na = ctx->alloc ? ctx->alloc * 2 : 16;
    entry *nv = realloc(ctx->v, na * sizeof *nv);
    if (!nv) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
    ctx->v = nv;
    ctx->alloc = na;
  }
  ctx->v[ctx->n++] = e;
  return 0;
}

kiln_context *kiln_context_new(const char *project_dir, const char *dockerfile, size_t len,
                               kiln_error **err) {
  kiln_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  ctx->fd = -1;
  ctx->pending = (kiln_buf)KILN_BUF_INIT(4 * CHUNK + KILN_MAX_DOCKERFILE_BYTES);
  ctx->root = realpath(project_dir, NULL);
  if (!ctx->root) {
    kiln_error_errno(err, errno, "project folder %s", project_dir);
    kiln_context_free(ctx);
    return NULL;
  }
  ctx->dockerfile = malloc(len + 1);
  if (!ctx->dockerfile) {
    kiln_context_free(ctx);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  }
  memcpy(ctx->dockerfile, dockerfile, len);
  ctx->dockerfile[len] = '\0';
  ctx->dockerfile_len = len;
  entry df = {strdup("Dockerfile"), 'f', 0644, len, NULL};
  if (!df.path || push_entry(ctx, df, err) < 0) {
    kiln_context_free(ctx);
    return NULL;
  }
  return ctx;
}

static int load_ignore(kiln_context *ctx, kiln_error **err) {
  if (ctx->ignore_loaded) return 0;
  ctx->ignore_loaded = true;
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/.dockerignore", ctx->root) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  _cleanup_fclose_ FILE *f = fopen(path, "re");
  if (!f) return 0;
  kiln_buf text = KILN_BUF_INIT(1u << 20);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    if (kiln_buf_append(&text, chunk, n) < 0) {
      kiln_buf_free(&text);
      return kiln_error_set(err, KILN_EXIT_USAGE, "%s is larger than 1 MiB", path);
    }
  ctx->ignore = kiln_ignore_parse(text.data ? text.data : "", text.len, err);
  kiln_buf_free(&text);
  return ctx->ignore ? 0 : -1;
}

/* A link target must resolve, lexically, inside the project. */
static bool link_stays_inside(const char *rel, const char *target) {
  if (target[0] == '/') return false;
  int depth = 0;
  for (const char *p = rel; *p; p++) depth += *p == '/'; /* folders above the link */
  for (const char *p = target; *p;) {
    const char *slash = strchr(p, '/');
    size_t len = slash ? (size_t)(slash - p) : strlen(p);
    if (len == 2 && !strncmp(p, "..", 2)) {
      if (--depth < 0) return false;
    } else if (len && !(len == 1 && *p == '.')) {
      depth++;
    }
    p += len + (slash != NULL);
  }
  return true;
}

static int add_path(kiln_context *ctx, const char *rel, bool top, kiln_error **err);

static int add_children(kiln_context *ctx, const char *rel, bool excluded, kiln_error **err) {
  _cleanup_free_ char *full = NULL;
  if (asprintf(&full, "%s/%s", ctx->root, rel) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  struct dirent **names = NULL;
  int n = scandir(full, &names, NULL, alphasort);
  if (n < 0) return kiln_error_errno(err, errno, "cannot list %s", rel);
  int r = 0;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    char *child = NULL;
    if (r == 0 && strcmp(name, ".") && strcmp(name, "..")) {
      if (asprintf(&child, "%s/%s", rel, name) < 0)
        r = kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
      else if (!(excluded && kiln_ignore_match(ctx->ignore, child) && !kiln_ignore_has_exceptions(ctx->ignore)))
        r = add_path(ctx, child, false, err);
    }
    free(child);
    free(names[i]);
  }
  free(names);
  return r;
}

static int add_path(kiln_context *ctx, const char *rel, bool top, kiln_error **err) {
  if (top && has_entry(ctx, rel)) return 0; /* children: a folder is walked once */
  _cleanup_free_ char *full = NULL;
  if (asprintf(&full, "%s/%s", ctx->root, rel) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  struct stat st;
  if (lstat(full, &st) < 0) return kiln_error_errno(err, errno, "build context: %s", rel);
  bool ignored = !top && kiln_ignore_match(ctx->ignore, rel);
  entry e = {NULL, 0, (unsigned)st.st_mode & 07777, 0, NULL};
  if (S_ISLNK(st.st_mode)) {
    char target[KILN_MAX_PATH];
    ssize_t tn = readlink(full, target, sizeof target - 1);
    if (tn < 0) return kiln_error_errno(err, errno, "build context: %s", rel);
    target[tn] = '\0';
    if (!link_stays_inside(rel, target))
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            "build context: symlink %s points outside the project (to %s)", rel,
                            target);
    if (ignored) return 0;
    e.type = 'l';
    e.link = strdup(target);
  } else if (S_ISDIR(st.st_mode)) {
    if (load_ignore(ctx, err) < 0) return -1;
    if (!ignored) {
      e.type = 'd';
      if (!(e.path = strdup(rel)) || push_entry(ctx, e, err) < 0) return -1;
    }
    if (ignored && !kiln_ignore_has_exceptions(ctx->ignore)) return 0;
    return add_children(ctx, rel, ignored, err);
  } else if (S_ISREG(st.st_mode)) {
    if (ignored) return 0;
    e.type = 'f';
    e.size = (uint64_t)st.st_size;
  } else {
    return 0; /* sockets, fifos, devices: never part of a context */
  }
  if (!(e.path = strdup(rel))) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  return push_entry(ctx, e, err);
}

int kiln_context_add(kiln_context *ctx, const char *rel_path, kiln_error **err) {
  if (add_path(ctx, rel_path, true, err) < 0) return -1;
  /* COPY follows a top-level symlink inside the context: send its target too. */
  const entry *last = &ctx->v[ctx->n - 1];
  if (last->type != 'l' || strcmp(last->path, rel_path)) return 0;
  _cleanup_free_ char *full = NULL, *real = NULL;
  if (asprintf(&full, "%s/%s", ctx->root, rel_path) < 0 || !(real = realpath(full, NULL)))
    return kiln_error_errno(err, errno, "build context: %s", rel_path);
  size_t n = strlen(ctx->root);
  if (strncmp(real, ctx->root, n) || real[n] != '/')
    return kiln_error_set(err, KILN_EXIT_USAGE, "build context: %s leads outside the project",
                          rel_path);
  return add_path(ctx, real + n + 1, true, err);
}

/* ---- listing and digest ---- */

int kiln_context_list(kiln_context *ctx, kiln_context_entry_fn fn, void *user, kiln_error **err) {
  (void)err;
  for (size_t i = 0; i < ctx->n; i++) {
    const entry *e = &ctx->v[i];
    kiln_context_entry ce = {e->path, e->type, e->size, e->mode, e->link};
    int r = fn(user, &ce);
    if (r < 0) return r;
  }
  return 0;
}

static int hash_file(kiln_context *ctx, const entry *e, kiln_sha256 *h, kiln_error **err) {
  _cleanup_free_ char *full = NULL;
  if (asprintf(&full, "%s/%s", ctx->root, e->path) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  _cleanup_close_ int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return kiln_error_errno(err, errno, "build context: %s", e->path);
  char buf[CHUNK];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) kiln_sha256_update(h, buf, (size_t)n);
  return n < 0 ? kiln_error_errno(err, errno, "build context: %s", e->path) : 0;
}

int kiln_context_digest(kiln_context *ctx, char out[65], kiln_error **err) {
  kiln_sha256 h;
  kiln_sha256_init(&h);
  for (size_t i = 0; i < ctx->n; i++) {
    const entry *e = &ctx->v[i];
    char head[64];
    int hn = snprintf(head, sizeof head, "%c %o %llu ", e->type, e->mode,
                      (unsigned long long)e->size);
    kiln_sha256_update(&h, e->path, strlen(e->path) + 1);
    kiln_sha256_update(&h, head, (size_t)hn);
    if (e->link) kiln_sha256_update(&h, e->link, strlen(e->link) + 1);
    if (i == 0)
      kiln_sha256_update(&h, ctx->dockerfile, ctx->dockerfile_len);
    else if (e->type == 'f' && hash_file(ctx, e, &h, err) < 0)
      return -1;
  }
  kiln_sha256_final_hex(&h, out);
  return 0;
}

/* ---- streaming ---- */

static la_ssize_t on_archive_write(struct archive *a, void *user, const void *buf, size_t n) {
  (void)a;
  kiln_context *ctx = user;
  if (kiln_buf_append(&ctx->pending, buf, n) < 0) return -1;
  return (la_ssize_t)n;
}

static int archive_fail(kiln_context *ctx, const char *what) {
  return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE, "build context: %s: %s", what,
                        archive_error_string(ctx->a) ? archive_error_string(ctx->a) : "tar error");
}

static int start_archive(kiln_context *ctx) {
  ctx->a = archive_write_new();
  if (!ctx->a) return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE, "out of memory");
  if (archive_write_set_format_pax_restricted(ctx->a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(ctx->a, 0) != ARCHIVE_OK ||
      archive_write_open2(ctx->a, ctx, NULL, on_archive_write, NULL, NULL) != ARCHIVE_OK)
    return archive_fail(ctx, "cannot start the tar stream");
  return 0;
}

static int write_header(kiln_context *ctx, const entry *e) {
  static const struct {
    char type;
    unsigned filetype;
  } types[] = {{'f', AE_IFREG}, {'d', AE_IFDIR}, {'l', AE_IFLNK}};
  struct archive_entry *ae = archive_entry_new();
  if (!ae) return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE, "out of memory");
  archive_entry_set_pathname(ae, e->path);
  for (size_t i = 0; i < sizeof types / sizeof *types; i++)
    if (types[i].type == e->type) archive_entry_set_filetype(ae, types[i].filetype);
  archive_entry_set_perm(ae, e->mode);
  archive_entry_set_size(ae, e->type == 'f' ? (la_int64_t)e->size : 0);
  archive_entry_set_mtime(ae, FIXED_MTIME, 0);
  archive_entry_set_uid(ae, 0);
  archive_entry_set_gid(ae, 0);
  if (e->link) archive_entry_set_symlink(ae, e->link);
  int r = archive_write_header(ctx->a, ae);
  archive_entry_free(ae);
  return r == ARCHIVE_OK ? 0 : archive_fail(ctx, e->path);
}

static int open_current(kiln_context *ctx, const entry *e) {
  _cleanup_free_ char *full = NULL;
  if (asprintf(&full, "%s/%s", ctx->root, e->path) < 0)
    return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE, "out of memory");
  ctx->fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (ctx->fd < 0) return kiln_error_errno(&ctx->err, errno, "build context: %s", e->path);
  ctx->left = e->size;
  ctx->cur = e;
  return 0;
}

/* Writes the next piece of the current file; checks it did not change size. */
static int write_chunk(kiln_context *ctx) {
  char buf[CHUNK];
  size_t want = ctx->left < CHUNK ? (size_t)ctx->left : CHUNK;
  ssize_t n = want ? read(ctx->fd, buf, want) : read(ctx->fd, buf, 1);
  if (n < 0) return kiln_error_errno(&ctx->err, errno, "build context: %s", ctx->cur->path);
  if ((want && n == 0) || (!want && n > 0))
    return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE,
                          "build context: %s changed size while it was being sent",
                          ctx->cur->path);
  if (!want) { /* the whole file is out and nothing more followed */
    close(ctx->fd);
    ctx->fd = -1;
    return 0;
  }
  if (archive_write_data(ctx->a, buf, (size_t)n) < 0) return archive_fail(ctx, ctx->cur->path);
  ctx->left -= (uint64_t)n;
  return 0;
}

static int write_entry(kiln_context *ctx) {
  const entry *e = &ctx->v[ctx->next++];
  if (write_header(ctx, e) < 0) return -1;
  if (ctx->next == 1) /* the Dockerfile, from memory */
    return archive_write_data(ctx->a, ctx->dockerfile, ctx->dockerfile_len) < 0
               ? archive_fail(ctx, "Dockerfile")
               : 0;
  return e->type == 'f' ? open_current(ctx, e) : 0;
}

static int advance(kiln_context *ctx) {
  if (!ctx->a && start_archive(ctx) < 0) return -1;
  if (ctx->fd >= 0) return write_chunk(ctx);
  if (ctx->next < ctx->n) return write_entry(ctx);
  if (archive_write_close(ctx->a) != ARCHIVE_OK) return archive_fail(ctx, "end of stream");
  ctx->finished = true;
  return 0;
}

ssize_t kiln_context_read(void *user, char *buf, size_t n) {
  kiln_context *ctx = user;
  if (ctx->err) return -1;
  while (ctx->pending_off == ctx->pending.len) {
    kiln_buf_reset(&ctx->pending);
    ctx->pending_off = 0;
    if (ctx->finished) return 0;
    if (advance(ctx) < 0) return -1;
  }
  size_t avail = ctx->pending.len - ctx->pending_off;
  if (n > avail) n = avail;
  memcpy(buf, ctx->pending.data + ctx->pending_off, n);
  ctx->pending_off += n;
  ctx->sent += n;
  return (ssize_t)n;
}

const kiln_error *kiln_context_error(const kiln_context *ctx) { return ctx->err; }

int kiln_context_take_error(kiln_context *ctx, kiln_error **err) {
  if (ctx->err) {
    for (kiln_error *e = ctx->err; e; e = e->next) kiln_error_set(err, e->code, "%s", e->message);
    kiln_error_free(ctx->err);
    ctx->err = NULL;
  }
  return -1;
}

uint64_t kiln_context_bytes_sent(const kiln_context *ctx) { return ctx->sent; }

void kiln_context_free(kiln_context *ctx) {
  if (!ctx) return;
  if (ctx->a) archive_write_free(ctx->a);
  if (ctx->fd >= 0) close(ctx->fd);
  for (size_t i = 0; i < ctx->n; i++) {
    free(ctx->v[i].path);
    free(ctx->v[i].link);
  }
  free(ctx->v);
  kiln_ignore_free(ctx->ignore);
  kiln_buf_free(&ctx->pending);
  kiln_error_free(ctx->err);
  free(ctx->dockerfile);
  free(ctx->root);
  free(ctx);
}
