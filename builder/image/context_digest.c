/* The build context's digest: a sha256 over every entry's head and
 * content, a file's content hash taken from the caller's digest cache
 * (digest_cache.h) while its stat data did not change; computed in a
 * separate pass (kiln_context_digest, _cached) or fed while the tar is
 * streamed (kiln_context_digest_while_streaming). */
#include "kiln/access.h"
#include "kiln/context.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/image/image_private.h"
#include "util/cleanup.h"
#include "util/sha256.h"

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
static void record_file(kiln_context *ctx, const kiln_context_item *e, int fd,
                        const struct stat *before, const struct timespec *start,
                        const unsigned char digest[32]) {
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
static int hash_file(kiln_context *ctx, const kiln_context_item *e, bool cached_only,
                     unsigned char out[32], kiln_error **err) {
  if (kiln_digest_cache_get(ctx->cache, &e->key, out)) return 0;
  if (cached_only) return 1;
  struct timespec start; /* the clock file times come from */
  clock_gettime(CLOCK_REALTIME_COARSE, &start);
  struct stat before;
  _cleanup_close_ int fd = kiln_context_open_entry(ctx, e, &before, err);
  if (fd < 0) return -1;
  _cleanup_sha256_ kiln_sha256 h = KILN_SHA256_INIT;
  if (kiln_sha256_init(&h) < 0) return kiln_error_oom(err);
  char buf[KILN_CONTEXT_CHUNK];
  uint64_t left = e->size;
  ssize_t n = 1;
  while (left &&
         (n = read(fd, buf, left < KILN_CONTEXT_CHUNK ? (size_t)left : KILN_CONTEXT_CHUNK)) > 0) {
    kiln_sha256_update(&h, buf, (size_t)n);
    left -= (uint64_t)n;
  }
  if (n < 0) return kiln_error_errno(err, errno, "build context: %s", e->path);
  if (left || read(fd, buf, 1) != 0) return kiln_context_changed(e, err);
  if (kiln_sha256_final(&h, out) < 0) return kiln_error_oom(err);
  record_file(ctx, e, fd, &before, &start, out);
  return 0;
}

/* What the context digest says of entry i before its content: NUL-separated
 * fields, so no two entry lists hash alike. The Dockerfile's content
 * follows at once; a file's is the sha256 of its content. */
static void digest_head(kiln_sha256 *h, const kiln_context *ctx, size_t i) {
  const kiln_context_item *e = &ctx->v[i];
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
int kiln_context_stream_digest_entry(kiln_context *ctx, size_t i) {
  const kiln_context_item *e = &ctx->v[i];
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
int kiln_context_stream_digest_file_end(kiln_context *ctx) {
  if (ctx->file_hashing) {
    ctx->file_hashing = false;
    if (kiln_sha256_final(&ctx->file_h, ctx->file_digest) < 0) return kiln_error_oom(&ctx->err);
    record_file(ctx, ctx->cur, ctx->fd, &ctx->file_st, &ctx->file_start, ctx->file_digest);
  }
  kiln_sha256_update(&ctx->stream_h, ctx->file_digest, sizeof ctx->file_digest);
  return 0;
}
