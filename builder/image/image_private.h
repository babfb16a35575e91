/* What the build context's files (context.c: entries and the folder walk,
 * context_digest.c: the digest and the cache, context_stream.c: the tar
 * stream) share and nobody else needs. Internal to builder/image. */
#ifndef KILN_BUILDER_IMAGE_PRIVATE_H
#define KILN_BUILDER_IMAGE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/image/digest_cache.h"
#include "builder/image/dockerignore.h"
#include "kiln/context.h"
#include "util/buf.h"
#include "util/sha256.h"

/* Bytes of a file read (hashed or sent) at a time. */
#define KILN_CONTEXT_CHUNK (64u << 10)

/* One entry of the context, in the order it is sent. */
typedef struct {
  char *path; /* relative to the project; "Dockerfile" for the first entry */
  char type;  /* 'f', 'd', 'l' */
  unsigned mode;
  uint64_t size;
  char *link;
  kiln_file_key key; /* files: what was listed (stat data), checked again when read */
} kiln_context_item;

struct kiln_context {
  char *root; /* realpath of the project */
  size_t root_len;
  char *dockerfile;
  size_t dockerfile_len;
  kiln_context_item *v;
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
  const kiln_context_item *cur;
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

/* ---- context.c ---- */

/* ctx->root + "/" + rel: a new string, or NULL (out of memory). */
char *kiln_context_full_path(const kiln_context *ctx, const char *rel);
/* The error for a listed entry that changed while it was read; -1. */
int kiln_context_changed(const kiln_context_item *e, kiln_error **err);
/* Opens a listed file with the caller's rights and checks it is still the
 * one listed. Returns the descriptor (caller closes) or -1; its stat data
 * in *st. */
int kiln_context_open_entry(const kiln_context *ctx, const kiln_context_item *e, struct stat *st,
                            kiln_error **err);

/* ---- context_stream.c ---- */

/* Closes the file being sent (if any) and forgets the in-memory one. */
void kiln_context_end_source(kiln_context *ctx);

/* ---- context_digest.c ---- */

/* Streaming side of the digest: entry i's head, and for a file whose
 * content digest is not cached, a hash fed as its bytes are sent. 0, or
 * -1 with ctx->err. */
int kiln_context_stream_digest_entry(kiln_context *ctx, size_t i);
/* The current file was sent whole (fd still open): its digest joins the
 * context's. 0, or -1 with ctx->err. */
int kiln_context_stream_digest_file_end(kiln_context *ctx);

#endif
