/* The build context as a pull-driven libarchive tar stream
 * (kiln_context_read): a small state machine (next header, next chunk of
 * the current file, end of archive) advanced only once the bytes produced
 * so far were handed out, so memory stays at one chunk plus one header. */
#include "kiln/access.h"
#include "kiln/context.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/image/image_private.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#define FIXED_MTIME 946684800 /* 2000-01-01: stable headers, stable build cache */

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

static int write_header(kiln_context *ctx, const kiln_context_item *e) {
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

void kiln_context_end_source(kiln_context *ctx) {
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
  size_t want = ctx->left < KILN_CONTEXT_CHUNK ? (size_t)ctx->left : KILN_CONTEXT_CHUNK;
  if (ctx->mem) {
    int r = write_data(ctx, ctx->mem + (ctx->cur->size - ctx->left), want);
    if (!ctx->left) kiln_context_end_source(ctx);
    return r;
  }
  char buf[KILN_CONTEXT_CHUNK];
  ssize_t n = read(ctx->fd, buf, want ? want : 1); /* at the end: expect nothing more */
  if (n < 0) return kiln_error_errno(&ctx->err, errno, "build context: %s", ctx->cur->path);
  if ((want && n == 0) || (!want && n > 0)) return kiln_context_changed(ctx->cur, &ctx->err);
  if (!want) {
    int r = ctx->stream_digest ? kiln_context_stream_digest_file_end(ctx) : 0;
    return kiln_context_end_source(ctx), r;
  }
  if (ctx->file_hashing) kiln_sha256_update(&ctx->file_h, buf, (size_t)n);
  return write_data(ctx, buf, (size_t)n);
}

static int write_entry(kiln_context *ctx) {
  const kiln_context_item *e = &ctx->v[ctx->next++];
  if (write_header(ctx, e) < 0) return -1;
  if (ctx->stream_digest && kiln_context_stream_digest_entry(ctx, (size_t)(e - ctx->v)) < 0)
    return -1;
  ctx->cur = e;
  ctx->left = e->size;
  if (e == ctx->v) { /* the Dockerfile, from memory */
    ctx->mem = ctx->dockerfile;
    if (!ctx->left) kiln_context_end_source(ctx);
    return 0;
  }
  if (e->type != 'f') return 0;
  return (ctx->fd = kiln_context_open_entry(ctx, e, &ctx->file_st, &ctx->err)) < 0 ? -1 : 0;
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
      kiln_context_end_source(ctx);
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
