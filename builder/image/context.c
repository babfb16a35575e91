/* The build context as a pull-driven libarchive tar stream; see context.h.
 *
 * kiln_context_add() only records entries (path, type, mode, size, inode).
 * kiln_context_read() then advances a small state machine (next header, next
 * chunk of at most CHUNK bytes of the current file, end of archive) only once
 * the bytes libarchive produced so far have been handed out, so memory stays
 * at one chunk plus one header whatever the file sizes. The folder walk
 * follows go-archive's TarWithOptions, the code the docker CLI builds its
 * context with: sorted by byte order, .dockerignore checked on every path
 * below a named one, excluded folders pruned, each path sent once. */
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

#include "digest_cache.h"
#include "dockerignore.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#define CHUNK            (64u << 10)
#define FIXED_MTIME      946684800  /* 2000-01-01: stable headers, stable build cache */
#define MAX_DOCKERIGNORE (1u << 20) /* bytes of .dockerignore read */

typedef struct {
  char *path; /* relative to the project; "Dockerfile" for the first entry */
  char type;  /* 'f', 'd', 'l' */
  unsigned mode;
  uint64_t size;
  char *link;
  kiln_file_key key; /* files: what was listed (stat data), checked again when read */
} entry;

struct kiln_context {
  char *root; /* realpath of the project */
  size_t root_len;
  char *dockerfile;
  size_t dockerfile_len;
  entry *v;
  size_t n, alloc;
  size_t *slots; /* hash set of paths: entry index + 1, 0 when free */
  size_t n_slots;
  kiln_ignore *ignore;
  /* streaming */
  struct archive *a;
  size_t next;     /* next entry to write */
  int fd;          /* file being sent, or -1 */
  const char *mem; /* or the in-memory Dockerfile being sent */
  uint64_t left;   /* bytes of it still to send */
  const entry *cur;
  kiln_buf pending; /* bytes libarchive produced, not yet handed out */
  size_t pending_off;
  bool finished;
  uint64_t sent;
  kiln_error *err;
  uint64_t read_files, read_bytes; /* file contents the digests read */
  kiln_digest_cache *cache;        /* the caller's, loaded once; NULL until used */
  /* the digest computed while streaming (kiln_context_digest_while_streaming) */
  bool stream_digest;            /* on */
  kiln_sha256 stream_h;          /* over the entries sent so far */
  kiln_sha256 file_h;            /* the current file's content, when not cached */
  bool file_hashing;             /* file_h is in use */
  unsigned char file_digest[32]; /* the current file's content digest, when cached */
  struct stat file_st;           /* the current file when opened */
  struct timespec file_start;
  char streamed[65]; /* the result, "" until the stream ended */
  char **warnings;   /* named paths .dockerignore excludes */
  size_t n_warnings;
};

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

static void entry_clear(entry *e) {
  free(e->path);
  free(e->link);
}

/* Takes ownership of e's strings whatever happens. */
static int push_entry(kiln_context *ctx, entry e, kiln_error **err) {
  if (ctx->n >= KILN_MAX_CONTEXT_ENTRIES) {
    entry_clear(&e);
    return kiln_error_set(err, KILN_EXIT_USAGE, "the build context has more than %d entries",
                          KILN_MAX_CONTEXT_ENTRIES);
  }
  if (ctx->n == ctx->alloc) {
    size_t na = ctx->alloc ? ctx->alloc * 2 : 16;
    entry *nv = realloc(ctx->v, na * sizeof *nv);
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
  ctx->pending = (kiln_buf)KILN_BUF_INIT(4 * CHUNK);
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
  entry df = {strdup("Dockerfile"), 'f', 0644, len, NULL, {0}};
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

static char *full_path(const kiln_context *ctx, const char *rel) {
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

static int read_link(const kiln_context *ctx, const char *rel, const char *full, entry *e,
                     kiln_error **err) {
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
  _cleanup_free_ char *full = full_path(ctx, rel);
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
  _cleanup_free_ char *full = full_path(ctx, rel);
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
  entry e = {NULL, 0, (unsigned)st.st_mode & 07777, 0, NULL, {0}};
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
  _cleanup_free_ char *full = full_path(ctx, rel);
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
    const entry *e = &ctx->v[i];
    kiln_context_entry ce = {e->path, e->type, e->size, e->mode, e->link};
    int r = fn(user, &ce);
    if (r < 0) return r;
  }
  return 0;
}

static int changed(const entry *e, kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "build context: %s changed while the context was being read; try again "
                        "once nothing writes to it",
                        e->path);
}

/* Opens a listed file and checks it is still the one listed. Returns the
 * descriptor (caller closes) or -1; its stat data in *st. */
static int open_entry(const kiln_context *ctx, const entry *e, struct stat *st, kiln_error **err) {
  _cleanup_free_ char *full = full_path(ctx, e->path);
  if (!full) return kiln_error_oom(err);
  /* With the caller's rights: under sudo, kiln reads only what they may. */
  _cleanup_close_ int fd = kiln_fs_open_regular(full, false, st, err);
  if (fd < 0) return kiln_error_prefix(err, "build context: %s", e->path);
  if ((uint64_t)st->st_dev != e->key.dev || (uint64_t)st->st_ino != e->key.ino ||
      (uint64_t)st->st_size != e->size)
    return changed(e, err);
  return steal_fd(&fd);
}

/* ---- the caller's digest cache ---- */

/* Loaded once per context, with the caller's rights (their file, in their
 * home). */
static int load_cache(kiln_context *ctx, kiln_error **err) {
  if (ctx->cache) return 0;
  _cleanup_free_ char *path = kiln_digest_cache_path();
  kiln_fs_rights rights;
  if (kiln_fs_drop(&rights, err) < 0) return -1;
  ctx->cache = kiln_digest_cache_load(path, NULL);
  kiln_fs_restore(&rights);
  return ctx->cache ? 0 : kiln_error_oom(err);
}

/* A cache that cannot be written costs speed, nothing else. */
static void save_cache(kiln_context *ctx) {
  kiln_fs_rights rights;
  kiln_error *ignored = NULL;
  if (ctx->cache && kiln_fs_drop(&rights, &ignored) == 0) {
    kiln_digest_cache_save(ctx->cache, &ignored);
    kiln_fs_restore(&rights);
  }
  kiln_error_free(ignored);
}

/* Records a file hashed from `start` on, opened with stat data `before`,
 * when it stayed the same while it was read (fd still open). */
static void record_file(kiln_context *ctx, const entry *e, int fd, const struct stat *before,
                        const struct timespec *start, const unsigned char digest[32]) {
  ctx->read_files++;
  ctx->read_bytes += e->size;
  struct stat after;
  kiln_file_key k0, k1;
  kiln_file_key_from_stat(&k0, before);
  if (fstat(fd, &after) == 0 &&
      (kiln_file_key_from_stat(&k1, &after), kiln_file_key_equal(&k0, &k1)))
    kiln_digest_cache_put(ctx->cache, &k1, digest, (int64_t)start->tv_sec);
}

/* The sha256 of exactly e->size bytes of the file, from the cache when its
 * stat data did not change since it was hashed; a file read here is
 * recorded when it stayed the same while it was read. With cached_only,
 * a file missing from the cache is not read: returns 1. */
static int hash_file(kiln_context *ctx, const entry *e, bool cached_only, unsigned char out[32],
                     kiln_error **err) {
  if (kiln_digest_cache_get(ctx->cache, &e->key, out)) return 0;
  if (cached_only) return 1;
  struct timespec start; /* the clock file times come from */
  clock_gettime(CLOCK_REALTIME_COARSE, &start);
  struct stat before;
  _cleanup_close_ int fd = open_entry(ctx, e, &before, err);
  if (fd < 0) return -1;
  _cleanup_sha256_ kiln_sha256 h = KILN_SHA256_INIT;
  if (kiln_sha256_init(&h) < 0) return kiln_error_oom(err);
  char buf[CHUNK];
  uint64_t left = e->size;
  ssize_t n = 1;
  while (left && (n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK)) > 0) {
    kiln_sha256_update(&h, buf, (size_t)n);
    left -= (uint64_t)n;
  }
  if (n < 0) return kiln_error_errno(err, errno, "build context: %s", e->path);
  if (left || read(fd, buf, 1) != 0) return changed(e, err);
  if (kiln_sha256_final(&h, out) < 0) return kiln_error_oom(err);
  record_file(ctx, e, fd, &before, &start, out);
  return 0;
}

/* What the context digest says of entry i before its content: NUL-separated
 * fields, so no two entry lists hash alike. The Dockerfile's content
 * follows at once; a file's is the sha256 of its content. */
static void digest_head(kiln_sha256 *h, const kiln_context *ctx, size_t i) {
  const entry *e = &ctx->v[i];
  char head[64];
  int hn = snprintf(head, sizeof head, "%c%c%o%c%llu", e->type, 0, e->mode, 0,
                    (unsigned long long)e->size);
  kiln_sha256_update(h, e->path, strlen(e->path) + 1);
  kiln_sha256_update(h, head, (size_t)hn + 1);
  kiln_sha256_update(h, e->link ? e->link : "", e->link ? strlen(e->link) + 1 : 1);
  if (i == 0) kiln_sha256_update(h, ctx->dockerfile, ctx->dockerfile_len);
}

/* 0 with out set, 1 (cached_only: a file's digest is not cached; *missing
 * then sums the sizes of all such files), -1. */
static int digest_entries(kiln_context *ctx, bool cached_only, char out[65], uint64_t *missing,
                          kiln_error **err) {
  _cleanup_sha256_ kiln_sha256 h = KILN_SHA256_INIT;
  if (kiln_sha256_init(&h) < 0) return kiln_error_oom(err);
  int result = 0;
  for (size_t i = 0; i < ctx->n; i++) {
    digest_head(&h, ctx, i);
    unsigned char content[32];
    if (i == 0 || ctx->v[i].type != 'f') continue;
    int r = hash_file(ctx, &ctx->v[i], cached_only, content, err);
    if (r < 0) return -1;
    if (r == 1) {
      result = 1;
      if (!missing) return 1;
      *missing += ctx->v[i].size;
      continue;
    }
    kiln_sha256_update(&h, content, sizeof content);
  }
  if (result) return 1;
  return kiln_sha256_final_hex(&h, out) < 0 ? kiln_error_oom(err) : 0;
}

/* The digest pass touches only files: it runs with the caller's rights as
 * a whole (kiln/access.h), not one switch per file. */
static int digest(kiln_context *ctx, bool cached_only, char out[65], uint64_t *missing,
                  kiln_error **err) {
  if (load_cache(ctx, err) < 0) return -1;
  kiln_fs_rights rights;
  if (kiln_fs_drop(&rights, err) < 0) return -1;
  int r = digest_entries(ctx, cached_only, out, missing, err);
  kiln_fs_restore(&rights);
  if (r == 0 && !cached_only) save_cache(ctx);
  return r;
}

int kiln_context_digest(kiln_context *ctx, char out[65], kiln_error **err) {
  return digest(ctx, false, out, NULL, err);
}

int kiln_context_digest_cached(kiln_context *ctx, char out[65], uint64_t *uncached_bytes,
                               kiln_error **err) {
  *uncached_bytes = 0;
  int r = digest(ctx, true, out, uncached_bytes, err);
  return r < 0 ? -1 : r == 0;
}

void kiln_context_digest_reads(const kiln_context *ctx, uint64_t *files, uint64_t *bytes) {
  *files = ctx->read_files;
  *bytes = ctx->read_bytes;
}

int kiln_context_digest_while_streaming(kiln_context *ctx, kiln_error **err) {
  if (ctx->a || ctx->stream_digest)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "the context stream has already started");
  if (load_cache(ctx, err) < 0) return -1;
  if (kiln_sha256_init(&ctx->stream_h) < 0) return kiln_error_oom(err);
  ctx->stream_digest = true;
  return 0;
}

int kiln_context_streamed_digest(kiln_context *ctx, char out[65], kiln_error **err) {
  if (!ctx->stream_digest || !ctx->streamed[0])
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the context digest was not computed in the stream");
  memcpy(out, ctx->streamed, 65);
  save_cache(ctx);
  return 0;
}

/* Streaming side of the digest: entry i's head, and for a file whose
 * content digest is not cached, a hash fed as its bytes are sent. */
static int stream_digest_entry(kiln_context *ctx, size_t i) {
  const entry *e = &ctx->v[i];
  digest_head(&ctx->stream_h, ctx, i);
  ctx->file_hashing = false;
  if (i == 0 || e->type != 'f' || kiln_digest_cache_get(ctx->cache, &e->key, ctx->file_digest))
    return 0;
  clock_gettime(CLOCK_REALTIME_COARSE, &ctx->file_start);
  if (kiln_sha256_init(&ctx->file_h) < 0) return kiln_error_oom(&ctx->err);
  ctx->file_hashing = true;
  return 0;
}

/* The current file was sent whole (fd still open): its digest joins the
 * context's. */
static int stream_digest_file_end(kiln_context *ctx) {
  if (ctx->file_hashing) {
    ctx->file_hashing = false;
    if (kiln_sha256_final(&ctx->file_h, ctx->file_digest) < 0) return kiln_error_oom(&ctx->err);
    record_file(ctx, ctx->cur, ctx->fd, &ctx->file_st, &ctx->file_start, ctx->file_digest);
  }
  kiln_sha256_update(&ctx->stream_h, ctx->file_digest, sizeof ctx->file_digest);
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
  const char *why = archive_error_string(ctx->a);
  return kiln_error_set(&ctx->err, KILN_EXIT_FAILURE, "build context: %s: %s", what,
                        why ? why : "tar error");
}

/* pax_restricted: plain ustar headers, pax records only when needed (long
 * or non-ASCII names), as Go's archive/tar writes them for the docker CLI.
 * No block padding: the stream ends right after the two zero blocks. */
static int start_archive(kiln_context *ctx) {
  if (!(ctx->a = archive_write_new())) return kiln_error_oom(&ctx->err);
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
  if (!ae) return kiln_error_oom(&ctx->err);
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
  /* ARCHIVE_WARN: a non-ASCII name the locale cannot convert; libarchive then
   * sends its bytes as they are, with hdrcharset=BINARY, which Go ignores */
  return r >= ARCHIVE_WARN ? 0 : archive_fail(ctx, e->path);
}

static void end_source(kiln_context *ctx) {
  if (ctx->fd >= 0) close(ctx->fd);
  ctx->fd = -1;
  ctx->mem = NULL;
}

static int write_data(kiln_context *ctx, const char *buf, size_t n) {
  la_ssize_t w = archive_write_data(ctx->a, buf, n);
  if (w < 0 || (size_t)w != n) return archive_fail(ctx, ctx->cur->path);
  ctx->left -= n;
  return 0;
}

/* Sends the next piece of the current file; a file that grew or shrank
 * since it was listed is an error, never a corrupt tar. */
static int write_chunk(kiln_context *ctx) {
  size_t want = ctx->left < CHUNK ? (size_t)ctx->left : CHUNK;
  if (ctx->mem) {
    int r = write_data(ctx, ctx->mem + (ctx->cur->size - ctx->left), want);
    if (!ctx->left) end_source(ctx);
    return r;
  }
  char buf[CHUNK];
  ssize_t n = read(ctx->fd, buf, want ? want : 1); /* at the end: expect nothing more */
  if (n < 0) return kiln_error_errno(&ctx->err, errno, "build context: %s", ctx->cur->path);
  if ((want && n == 0) || (!want && n > 0)) return changed(ctx->cur, &ctx->err);
  if (!want) {
    int r = ctx->stream_digest ? stream_digest_file_end(ctx) : 0;
    return end_source(ctx), r;
  }
  if (ctx->file_hashing) kiln_sha256_update(&ctx->file_h, buf, (size_t)n);
  return write_data(ctx, buf, (size_t)n);
}

static int write_entry(kiln_context *ctx) {
  const entry *e = &ctx->v[ctx->next++];
  if (write_header(ctx, e) < 0) return -1;
  if (ctx->stream_digest && stream_digest_entry(ctx, (size_t)(e - ctx->v)) < 0) return -1;
  ctx->cur = e;
  ctx->left = e->size;
  if (e == ctx->v) { /* the Dockerfile, from memory */
    ctx->mem = ctx->dockerfile;
    if (!ctx->left) end_source(ctx);
    return 0;
  }
  if (e->type != 'f') return 0;
  return (ctx->fd = open_entry(ctx, e, &ctx->file_st, &ctx->err)) < 0 ? -1 : 0;
}

static int advance(kiln_context *ctx) {
  if (!ctx->a && start_archive(ctx) < 0) return -1;
  if (ctx->fd >= 0 || ctx->mem) return write_chunk(ctx);
  if (ctx->next < ctx->n) return write_entry(ctx);
  if (archive_write_close(ctx->a) != ARCHIVE_OK) return archive_fail(ctx, "end of stream");
  if (ctx->stream_digest && kiln_sha256_final_hex(&ctx->stream_h, ctx->streamed) < 0)
    return kiln_error_oom(&ctx->err);
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
    if (advance(ctx) < 0) {
      end_source(ctx);
      return -1;
    }
  }
  size_t avail = ctx->pending.len - ctx->pending_off;
  if (n > avail) n = avail;
  memcpy(buf, ctx->pending.data + ctx->pending_off, n);
  ctx->pending_off += n;
  ctx->sent += n;
  return (ssize_t)n;
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
  end_source(ctx);
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
