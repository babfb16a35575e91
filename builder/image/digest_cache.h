/* The per-user cache of file content digests, so that "is the image up to
 * date?" does not reread files that did not change. Internal to builder/.
 *
 * git's index idea: a file is known by its stat data (device, inode, size,
 * mtime and ctime in nanoseconds); while all five are what they were when
 * its content was hashed, the recorded sha256 is its content's. Files
 * changed within the same timestamp tick as a hash ("racy" files) keep
 * their stat data, so two rules keep them out, both at whole seconds (the
 * coarsest tick a filesystem may have):
 *  - an entry is recorded only when the file's mtime and ctime are older
 *    than the second its reading began (a later write moves them);
 *  - on load, an entry whose mtime or ctime is not older than the cache
 *    file's own mtime is not trusted (git's racy-clean rule).
 *
 * The file lives with the caller's state: $XDG_CACHE_HOME/kiln/ or
 * ~/.cache/kiln/ (in sudo mode: the caller's home from the user database,
 * never the environment; no cache for a uid without one). It holds at most
 * KILN_MAX_DIGEST_CACHE_ENTRIES entries (the ones used last are kept), is
 * checked whole on load (magic, version, size, count, a sha256 of
 * everything) and replaced by rename, so a missing, cut or edited file only
 * means an empty cache. Reading and writing it use the kiln_fs_* helpers:
 * under sudo, it is the caller's file, made with their rights. */
#ifndef KILN_DIGEST_CACHE_H
#define KILN_DIGEST_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "kiln/error.h"

#define KILN_DIGEST_CACHE_FILE "context-digests"

typedef struct {
  uint64_t dev, ino, size;
  int64_t mtime_sec, ctime_sec;
  uint32_t mtime_nsec, ctime_nsec;
} kiln_file_key;

void kiln_file_key_from_stat(kiln_file_key *k, const struct stat *st);
bool kiln_file_key_equal(const kiln_file_key *a, const kiln_file_key *b);

typedef struct kiln_digest_cache kiln_digest_cache;

/* The caller's cache file (new string), or NULL when there is none to use
 * (no home). */
char *kiln_digest_cache_path(void);

/* Loads the cache at path; NULL path: an empty cache that is never saved.
 * A missing or invalid file gives an empty cache (*rejected says why it was
 * not used when it existed, for tests; may be NULL). NULL only when out of
 * memory. Free with kiln_digest_cache_free. */
kiln_digest_cache *kiln_digest_cache_load(const char *path, const char **rejected);

/* The recorded digest of the file with stat data k, when there is one that
 * can be trusted. */
bool kiln_digest_cache_get(kiln_digest_cache *c, const kiln_file_key *k, unsigned char out[32]);

/* Records the digest of a file whose content was read from second
 * `read_from` on, with stat data k (the same before and after the read).
 * Racy entries (above) are not recorded. */
void kiln_digest_cache_put(kiln_digest_cache *c, const kiln_file_key *k,
                           const unsigned char digest[32], int64_t read_from);

/* Writes the cache back when it changed: a temporary file in the same
 * folder (created, with its parents, with the caller's rights, mode 0600),
 * then rename. Returns 0 or -1 with *err set; the old file is then kept. */
int kiln_digest_cache_save(kiln_digest_cache *c, kiln_error **err);

/* Entries held now. */
size_t kiln_digest_cache_size(const kiln_digest_cache *c);

void kiln_digest_cache_free(kiln_digest_cache *c);

#endif
