/* The build context's entries; see context.h.
 *
 * kiln_context_add() only records entries (path, type, mode, size, inode);
 * the tar stream (context_stream.c) and the digest (context_digest.c) read
 * them later. The folder walk follows go-archive's TarWithOptions, the code
 * the docker CLI builds its context with: sorted by byte order,
 * .dockerignore checked on every path below a named one, excluded folders
 * pruned, each path sent once. */
#include "kiln/access.h"
#include "kiln/context.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/image/image_private.h"
#include "builder/image/digest_cache.h"
#include "builder/image/dockerignore.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#define MAX_DOCKERIGNORE (1u << 20) /* bytes of .dockerignore read */

/* ---- the set of paths already in the context ---- */

static uint64_t hash_path(const char *s) {
  uint64_t h = 14695981039346656037u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static size_t *find_slot(const kiln_context *ctx, const char *path) {
  size_t mask = ctx->n_slots - 1;
  for (size_t i = hash_path(path) & mask;; i = (i + 1) & mask)
    if (!ctx->slots[i] || !strcmp(ctx->v[ctx->slots[i] - 1].path, path)) return &ctx->slots[i];
}

static bool has_path(const kiln_context *ctx, const char *path) {
  return ctx->n_slots && *find_slot(ctx, path) != 0;
}

/* Keeps the set at most half full. */
static int grow_slots(kiln_context *ctx) {
  if (2 * (ctx->n + 1) <= ctx->n_slots) return 0;
  size_t n_slots = ctx->n_slots ? 2 * ctx->n_slots : 64;
  size_t *old = ctx->slots;
  size_t old_n = ctx->n_slots;
  if (!(ctx->slots = calloc(n_slots, sizeof *ctx->slots))) {
    ctx->slots = old;
    return -1;
  }
  ctx->n_slots = n_slots;
  for (size_t i = 0; i < old_n; i++)
    if (old[i]) *find_slot(ctx, ctx->v[old[i] - 1].path) = old[i];
  free(old);
  return 0;
}

static void entry_clear(kiln_context_item *e) {
  free(e->path);
  free(e->link);
}

/* Takes ownership of e's strings whatever happens. */
static int push_entry(kiln_context *ctx, kiln_context_item e, kiln_error **err) {
  if (ctx->n >= KILN_MAX_CONTEXT_ENTRIES) {
    entry_clear(&e);
    return kiln_error_set(err, KILN_EXIT_USAGE, "the build context has more than %d entries",
                          KILN_MAX_CONTEXT_ENTRIES);
  }
  if (ctx->n == ctx->alloc) {
    size_t na = ctx->alloc ? ctx->alloc * 2 : 16;
    kiln_context_item *nv = realloc(ctx->v, na * sizeof *nv);
    if (!nv) return entry_clear(&e), kiln_error_oom(err);
    ctx->v = nv;
    ctx->alloc = na;
  }
  if (grow_slots(ctx) < 0) return entry_clear(&e), kiln_error_oom(err);
  ctx->v[ctx->n++] = e;
  *find_slot(ctx, e.path) = ctx->n;
  return 0;
}

/* ---- creating ---- */

static int load_ignore(kiln_context *ctx, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/.dockerignore", ctx->root) < 0) return kiln_error_oom(err);
  /* With the caller's rights; never blocks on a FIFO; regular files only. */
  kiln_error *oerr = NULL;
  size_t len = 0;
  _cleanup_free_ char *text = kiln_fs_read_regular(path, false, MAX_DOCKERIGNORE, &len, &oerr);
  if (!text) {
    if (errno != ENOENT || !oerr || oerr->code == KILN_EXIT_USAGE) return *err = oerr, -1;
    kiln_error_free(oerr);
    return 0; /* no .dockerignore */
  }
  ctx->ignore = kiln_ignore_parse(text, len, err);
  return ctx->ignore ? 0 : kiln_error_prefix(err, "%s", ctx->root);
}

kiln_context *kiln_context_new(const char *project_dir, const char *dockerfile, size_t len,
                               kiln_error **err) {
  kiln_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return kiln_error_oom(err), NULL;
  ctx->fd = -1;
  ctx->pending = (kiln_buf)KILN_BUF_INIT(4 * KILN_CONTEXT_CHUNK);
  if (len > KILN_MAX_DOCKERFILE_BYTES) {
    kiln_error_set(err, KILN_EXIT_USAGE, "the Dockerfile is larger than %u bytes",
                   KILN_MAX_DOCKERFILE_BYTES);
    goto fail;
  }
  if (!(ctx->root = realpath(project_dir, NULL))) {
    kiln_error_errno(err, errno, "project folder %s", project_dir);
    goto fail;
  }
  ctx->root_len = strlen(ctx->root);
  if (!(ctx->dockerfile = malloc(len + 1))) {
    kiln_error_oom(err);
    goto fail;
  }
  memcpy(ctx->dockerfile, dockerfile, len);
  ctx->dockerfile[len] = '\0';
  ctx->dockerfile_len = len;
  kiln_context_item df = {strdup("Dockerfile"), 'f', 0644, len, NULL, {0}};
  if (!df.path) {
    kiln_error_oom(err);
    goto fail;
  }
  if (push_entry(ctx, df, err) < 0 || load_ignore(ctx, err) < 0) goto fail;
  return ctx;
fail:
  kiln_context_free(ctx);
  return NULL;
}

/* ---- walking ---- */

char *kiln_context_full_path(const kiln_context *ctx, const char *rel) {
  char *full = NULL;
  return asprintf(&full, "%s/%s", ctx->root, rel) < 0 ? NULL : full;
}

/* The link at rel (project-relative) may point at target: relative, and it
 * stays inside the project both lexically and, when it resolves, for real
 * (a chain of links could leave it). */
static bool link_stays_inside(const kiln_context *ctx, const char *rel, const char *full,
                              const char *target) {
  if (target[0] == '/') return false;
  int depth = 0;
  for (const char *p = rel; *p; p++)
    depth += *p == '/'; /* folders above the link */
  for (const char *p = target; *p;) {
    size_t len = strcspn(p, "/");
    if (len == 2 && !strncmp(p, "..", 2)) {
      if (--depth < 0) return false;
    } else if (len && !(len == 1 && *p == '.')) {
      depth++;
    }
    p += len + (p[len] == '/');
  }
  _cleanup_free_ char *real = realpath(full, NULL);
  if (!real) return true; /* dangling: the lexical check is all there is */
  return !strncmp(real, ctx->root, ctx->root_len) &&
         (real[ctx->root_len] == '/' || real[ctx->root_len] == '\0');
}

static int read_link(const kiln_context *ctx, const char *rel, const char *full,
                     kiln_context_item *e, kiln_error **err) {
  char target[KILN_MAX_PATH];
  ssize_t tn = readlink(full, target, sizeof target - 1);
  if (tn < 0) return kiln_error_errno(err, errno, "build context: %s", rel);
  target[tn] = '\0';
  if (!link_stays_inside(ctx, rel, full, target))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "build context: symlink %s points outside the project (to %s); only "
                          "relative links that stay inside the project folder can be sent",
                          rel, target);
  e->type = 'l';
  return (e->link = strdup(target)) ? 0 : kiln_error_oom(err);
}

static int add_path(kiln_context *ctx, const char *rel, bool named, const bool *parent,
                    kiln_error **err);

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name); /* byte order, like Go, not the locale's */
}

/* info: rel's .dockerignore results, handed to its children. */
static int add_children(kiln_context *ctx, const char *rel, const bool *info, kiln_error **err) {
  _cleanup_free_ char *full = kiln_context_full_path(ctx, rel);
  if (!full) return kiln_error_oom(err);
  struct dirent **names = NULL;
  int n = scandir(full, &names, NULL, by_name);
  if (n < 0) return kiln_error_errno(err, errno, "build context: cannot list %s", rel);
  int r = 0;
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (r == 0 && strcmp(name, ".") && strcmp(name, "..")) {
      _cleanup_free_ char *child = NULL;
      r = asprintf(&child, "%s/%s", rel, name) < 0 ? kiln_error_oom(err)
                                                   : add_path(ctx, child, false, info, err);
    }
    free(names[i]);
  }
  free(names);
  return r;
}

/* A path the spec names is sent even when .dockerignore excludes it (the
 * spec wins); the caller is told. */
static int warn_named(kiln_context *ctx, const char *rel, kiln_error **err) {
  char **nv = realloc(ctx->warnings, (ctx->n_warnings + 1) * sizeof *nv);
  if (!nv) return kiln_error_oom(err);
  ctx->warnings = nv;
  if (asprintf(&nv[ctx->n_warnings],
               "%s is excluded by .dockerignore but the spec names it: it is sent anyway", rel) < 0)
    return kiln_error_oom(err);
  ctx->n_warnings++;
  return 0;
}

/* .dockerignore results of the folders above rel, walked down from the
 * project root as go-archive walks "." (NULL at the top level or without
 * patterns), so what lies under a named path is matched as docker would. */
static int ancestors_info(kiln_context *ctx, const char *rel, bool **out, kiln_error **err) {
  *out = NULL;
  size_t n_pat = kiln_ignore_count(ctx->ignore);
  const char *slash = strrchr(rel, '/');
  if (!n_pat || !slash) return 0;
  _cleanup_free_ char *prefix = strndup(rel, (size_t)(slash - rel));
  _cleanup_free_ bool *info = calloc(n_pat, sizeof *info);
  _cleanup_free_ bool *next = calloc(n_pat, sizeof *next);
  if (!prefix || !info || !next) return kiln_error_oom(err);
  bool have = false;
  for (char *p = prefix;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    kiln_ignore_match_below(ctx->ignore, prefix, have ? info : NULL, next);
    *p = c;
    bool *t = info;
    info = next;
    next = t;
    have = true;
    if (!c) break;
  }
  *out = steal_pointer(&info);
  return 0;
}

/* Adds rel and, for a folder, what lies under it. `named` is a path the
 * Dockerfile names: .dockerignore does not apply to it (go-archive's
 * include == relFilePath rule), only to what is below; a named path that
 * .dockerignore excludes is sent with a warning. `parent`: the results of
 * the folder holding rel (kiln_ignore_match_below), NULL at the top level. */
static int add_path(kiln_context *ctx, const char *rel, bool named, const bool *parent,
                    kiln_error **err) {
  _cleanup_free_ char *full = kiln_context_full_path(ctx, rel);
  if (!full) return kiln_error_oom(err);
  struct stat st;
  if (lstat(full, &st) < 0) return kiln_error_errno(err, errno, "build context: %s", rel);
  size_t n_pat = kiln_ignore_count(ctx->ignore);
  _cleanup_free_ bool *info = NULL;
  if (S_ISDIR(st.st_mode) && n_pat && !(info = calloc(n_pat, sizeof *info)))
    return kiln_error_oom(err);
  bool excluded = kiln_ignore_match_below(ctx->ignore, rel, parent, info);
  if (excluded && named && !has_path(ctx, rel) && warn_named(ctx, rel, err) < 0) return -1;
  if (excluded && !named) {
    bool walk = S_ISDIR(st.st_mode) && kiln_ignore_walk_excluded_dir(ctx->ignore, rel);
    return walk ? add_children(ctx, rel, info, err) : 0; /* no entry for the folder itself */
  }
  if (has_path(ctx, rel)) return 0; /* a folder seen is a folder walked */
  kiln_context_item e = {NULL, 0, (unsigned)st.st_mode & 07777, 0, NULL, {0}};
  kiln_file_key_from_stat(&e.key, &st);
  if (S_ISLNK(st.st_mode)) {
    if (read_link(ctx, rel, full, &e, err) < 0) return -1;
  } else if (S_ISDIR(st.st_mode)) {
    e.type = 'd';
  } else if (S_ISREG(st.st_mode)) {
    e.type = 'f';
    e.size = (uint64_t)st.st_size;
  } else { /* docker would send it and the build fail: say so now */
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "build context: %s is %s, not a regular file, folder or symlink; "
                          "remove it or exclude it in .dockerignore",
                          rel,
                          S_ISFIFO(st.st_mode)   ? "a FIFO (named pipe)"
                          : S_ISSOCK(st.st_mode) ? "a socket"
                                                 : "a device file");
  }
  if (!(e.path = strdup(rel))) return entry_clear(&e), kiln_error_oom(err);
  if (push_entry(ctx, e, err) < 0) return -1;
  return e.type == 'd' ? add_children(ctx, rel, info, err) : 0;
}

/* A named path, matched below its folders as docker walks them. */
static int add_named(kiln_context *ctx, const char *rel, kiln_error **err) {
  _cleanup_free_ bool *parent = NULL;
  if (ancestors_info(ctx, rel, &parent, err) < 0) return -1;
  return add_path(ctx, rel, true, parent, err);
}

int kiln_context_add(kiln_context *ctx, const char *rel_path, kiln_error **err) {
  _cleanup_free_ char *rel = NULL;
  if (kiln_check_project_path(ctx->root, rel_path, "build context path", &rel, NULL, err) < 0 ||
      add_named(ctx, rel, err) < 0)
    return -1;
  /* COPY copies what a named symlink points to: send its target too. The
   * path check above made sure it resolves inside the project. */
  _cleanup_free_ char *full = kiln_context_full_path(ctx, rel);
  struct stat st;
  if (!full) return kiln_error_oom(err);
  if (lstat(full, &st) < 0 || !S_ISLNK(st.st_mode)) return 0;
  _cleanup_free_ char *real = realpath(full, NULL);
  if (!real) return kiln_error_errno(err, errno, "build context: %s", rel);
  if (strlen(real) <= ctx->root_len) return 0; /* the project folder itself */
  return add_named(ctx, real + ctx->root_len + 1, err);
}

/* ---- listing and digest ---- */

int kiln_context_list(kiln_context *ctx, kiln_context_entry_fn fn, void *user, kiln_error **err) {
  (void)err;
  for (size_t i = 0; i < ctx->n; i++) {
    const kiln_context_item *e = &ctx->v[i];
    kiln_context_entry ce = {e->path, e->type, e->size, e->mode, e->link};
    int r = fn(user, &ce);
    if (r < 0) return r;
  }
  return 0;
}

int kiln_context_changed(const kiln_context_item *e, kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "build context: %s changed while the context was being read; try again "
                        "once nothing writes to it",
                        e->path);
}

/* Opens a listed file and checks it is still the one listed. Returns the
 * descriptor (caller closes) or -1; its stat data in *st. */
int kiln_context_open_entry(const kiln_context *ctx, const kiln_context_item *e, struct stat *st,
                            kiln_error **err) {
  _cleanup_free_ char *full = kiln_context_full_path(ctx, e->path);
  if (!full) return kiln_error_oom(err);
  /* With the caller's rights: under sudo, kiln reads only what they may. */
  _cleanup_close_ int fd = kiln_fs_open_regular(full, false, st, err);
  if (fd < 0) return kiln_error_prefix(err, "build context: %s", e->path);
  if ((uint64_t)st->st_dev != e->key.dev || (uint64_t)st->st_ino != e->key.ino ||
      (uint64_t)st->st_size != e->size)
    return kiln_context_changed(e, err);
  return steal_fd(&fd);
}

const kiln_error *kiln_context_error(const kiln_context *ctx) {
  return ctx->err;
}

int kiln_context_take_error(kiln_context *ctx, kiln_error **err) {
  kiln_error *mine = steal_pointer(&ctx->err);
  if (err && !*err) {
    *err = mine;
    return -1;
  }
  for (kiln_error *e = mine; e; e = e->next)
    kiln_error_set(err, e->code, "%s", e->message);
  kiln_error_free(mine);
  return -1;
}

size_t kiln_context_n_warnings(const kiln_context *ctx) {
  return ctx->n_warnings;
}

const char *kiln_context_warning(const kiln_context *ctx, size_t i) {
  return i < ctx->n_warnings ? ctx->warnings[i] : NULL;
}

uint64_t kiln_context_bytes_sent(const kiln_context *ctx) {
  return ctx->sent;
}

void kiln_context_free(kiln_context *ctx) {
  if (!ctx) return;
  if (ctx->a) archive_write_free(ctx->a);
  kiln_context_end_source(ctx);
  for (size_t i = 0; i < ctx->n; i++)
    entry_clear(&ctx->v[i]);
  free(ctx->v);
  free(ctx->slots);
  kiln_ignore_free(ctx->ignore);
  for (size_t i = 0; i < ctx->n_warnings; i++)
    free(ctx->warnings[i]);
  free(ctx->warnings);
  kiln_buf_free(&ctx->pending);
  kiln_sha256_free(&ctx->stream_h);
  kiln_sha256_free(&ctx->file_h);
  kiln_digest_cache_free(ctx->cache);
  kiln_error_free(ctx->err);
  free(ctx->dockerfile);
  free(ctx->root);
  free(ctx);
}
