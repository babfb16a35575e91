/* The build context: the generated Dockerfile plus exactly the files it
 * COPYs, as a tar stream made by libarchive and produced on demand, so the
 * whole context is never written to disk or held in memory.
 *
 * Entries are project-relative paths, exactly as the Dockerfile's COPY
 * sources name them. A folder is walked; the project's .dockerignore applies
 * to it with Docker's semantics. Headers are normalised: uid/gid 0, no user
 * or group names, mtime fixed, permission bits kept. Symlinks are stored as
 * links, never followed; a link whose target leaves the project is refused. */
#ifndef KILN_CONTEXT_H
#define KILN_CONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kiln/error.h"

typedef struct kiln_context kiln_context;

/* Starts a context for project_dir holding `dockerfile` (copied) as
 * "Dockerfile". Returns a new context (free with kiln_context_free) or NULL. */
kiln_context *kiln_context_new(const char *project_dir, const char *dockerfile, size_t len,
                               kiln_error **err);

/* Adds a project-relative file, folder or symlink. Adding the same path
 * twice is fine (kept once). Returns 0 or -1 with *err set. */
int kiln_context_add(kiln_context *ctx, const char *rel_path, kiln_error **err);

/* One entry as it will appear in the tar stream. Strings are borrowed for
 * the duration of the callback. type is 'f' file, 'd' folder, 'l' symlink. */
typedef struct {
  const char *path;
  char type;
  uint64_t size;
  unsigned mode;
  const char *link_target; /* for 'l' */
} kiln_context_entry;

typedef int (*kiln_context_entry_fn)(void *user, const kiln_context_entry *entry);

/* Calls fn for every entry in stream order (the Dockerfile first). Stops and
 * returns fn's value when it is <0. */
int kiln_context_list(kiln_context *ctx, kiln_context_entry_fn fn, void *user, kiln_error **err);

/* sha256 (hex) over every entry's path, type, mode, link target and the
 * sha256 of its content: equal digests mean the engine would receive the
 * same context. A file's content digest comes from the caller's digest
 * cache (builder/image/digest_cache.h) while its stat data is unchanged, so
 * files that did not change are not read; the others are read, and the
 * cache updated. */
int kiln_context_digest(kiln_context *ctx, char out[65], kiln_error **err);
/* The same digest from the digest cache alone: returns 1 with out set
 * when every file's content digest is cached, 0 when one is not (no file
 * content is read then; *uncached_bytes is the total size of the files
 * whose digest is not cached), -1 with *err set. */
int kiln_context_digest_cached(kiln_context *ctx, char out[65], uint64_t *uncached_bytes,
                               kiln_error **err);
/* Computes the digest while the context streams (kiln_context_read), so a
 * build reads each file once: files whose digest is not cached are hashed
 * as they are sent, and recorded in the cache. Call before the first read.
 * Returns 0 or -1 with *err set. */
int kiln_context_digest_while_streaming(kiln_context *ctx, kiln_error **err);
/* That digest, once kiln_context_read returned 0 (the end); also writes
 * the newly hashed files to the caller's digest cache. Returns 0, or -1
 * with *err set when the stream has not ended or was not digested. */
int kiln_context_streamed_digest(kiln_context *ctx, char out[65], kiln_error **err);
/* What the digests of this context read so far: files and bytes of their
 * content (0, 0 when every file came from the cache). */
void kiln_context_digest_reads(const kiln_context *ctx, uint64_t *files, uint64_t *bytes);

/* Pull side of the stream, shaped for kiln_engine_read_fn: fills buf with
 * up to n bytes of tar, returns the count, 0 at the end, -1 on error (see
 * kiln_context_error). Memory use is bounded by one tar block plus one read
 * buffer, whatever the size of the files. */
ssize_t kiln_context_read(void *ctx, char *buf, size_t n);
/* The error that made kiln_context_read return -1 (borrowed; NULL if none). */
const kiln_error *kiln_context_error(const kiln_context *ctx);
/* Moves that error to *err (for the caller's chain); returns -1. */
int kiln_context_take_error(kiln_context *ctx, kiln_error **err);
/* Paths the spec names that .dockerignore excludes: they are sent anyway
 * (a spec naming a file wins) and each one gets a warning for the user.
 * Strings are borrowed from ctx. */
size_t kiln_context_n_warnings(const kiln_context *ctx);
const char *kiln_context_warning(const kiln_context *ctx, size_t i);
/* Bytes produced so far by kiln_context_read. */
uint64_t kiln_context_bytes_sent(const kiln_context *ctx);

void kiln_context_free(kiln_context *ctx);

#endif
