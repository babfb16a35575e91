/* The per-user cache of file content digests; see digest_cache.h.
 *
 * File layout (native byte order: the cache never leaves its host):
 *   8 bytes  magic "KILNDIGC"
 *   4 bytes  format version (1)
 *   4 bytes  entry count n (at most KILN_MAX_DIGEST_CACHE_ENTRIES)
 *   n × 80   dev, ino, size (u64), mtime s, ctime s (i64), mtime ns,
 *            ctime ns (u32), sha256 of the content (32 bytes)
 *   32 bytes sha256 of everything before it
 * Anything else (other size, version, count or checksum) is ignored whole. */
#include "digest_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/access.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/sha256.h"

#define MAGIC         "KILNDIGC"
#define VERSION       1u
#define HEADER_BYTES  16u
#define RECORD_BYTES  80u
#define TRAILER_BYTES 32u
#define MAX_HELD      (2u * KILN_MAX_DIGEST_CACHE_ENTRIES) /* loaded + new, in memory */

typedef struct {
  kiln_file_key k;
  unsigned char digest[32];
  bool used; /* looked up or recorded by this process: kept first */
} cache_entry;

struct kiln_digest_cache {
  char *path; /* NULL: never saved */
  cache_entry *v;
  size_t n, alloc;
  size_t *slots; /* open addressing on (dev, ino): index + 1, 0 when free */
  size_t n_slots;
  bool have_file_time;
  int64_t file_mtime; /* seconds: the loaded file's own mtime */
  bool dirty;
};

void kiln_file_key_from_stat(kiln_file_key *k, const struct stat *st) {
  *k = (kiln_file_key){(uint64_t)st->st_dev,         (uint64_t)st->st_ino,
                       (uint64_t)st->st_size,        (int64_t)st->st_mtim.tv_sec,
                       (int64_t)st->st_ctim.tv_sec,  (uint32_t)st->st_mtim.tv_nsec,
                       (uint32_t)st->st_ctim.tv_nsec};
}

bool kiln_file_key_equal(const kiln_file_key *a, const kiln_file_key *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
         a->ctime_sec == b->ctime_sec && a->ctime_nsec == b->ctime_nsec;
}

/* ---- where it lives ---- */

char *kiln_digest_cache_path(void) {
  _cleanup_free_ char *dir = kiln_caller_cache_dir();
  char *path = NULL;
  return dir && asprintf(&path, "%s/kiln/" KILN_DIGEST_CACHE_FILE, dir) >= 0 ? path : NULL;
}

/* ---- the table ---- */

static size_t *find_slot(const kiln_digest_cache *c, uint64_t dev, uint64_t ino) {
  size_t mask = c->n_slots - 1;
  uint64_t h = (ino * 0x9e3779b97f4a7c15u) ^ (dev * 0xc2b2ae3d27d4eb4fu);
  for (size_t i = (size_t)(h ^ (h >> 29)) & mask;; i = (i + 1) & mask) {
    size_t s = c->slots[i];
    if (!s || (c->v[s - 1].k.dev == dev && c->v[s - 1].k.ino == ino)) return &c->slots[i];
  }
}

static cache_entry *lookup(const kiln_digest_cache *c, const kiln_file_key *k) {
  if (!c->n_slots) return NULL;
  size_t s = *find_slot(c, k->dev, k->ino);
  return s ? &c->v[s - 1] : NULL;
}

/* Room for one more entry: the array and a set at most half full. */
static int reserve(kiln_digest_cache *c) {
  if (c->n == c->alloc) {
    size_t na = c->alloc ? 2 * c->alloc : 64;
    cache_entry *nv = realloc(c->v, na * sizeof *nv);
    if (!nv) return -1;
    c->v = nv;
    c->alloc = na;
  }
  if (2 * (c->n + 1) <= c->n_slots) return 0;
  size_t n_slots = c->n_slots ? 2 * c->n_slots : 128;
  size_t *slots = calloc(n_slots, sizeof *slots);
  if (!slots) return -1;
  free(c->slots);
  c->slots = slots;
  c->n_slots = n_slots;
  for (size_t i = 0; i < c->n; i++)
    *find_slot(c, c->v[i].k.dev, c->v[i].k.ino) = i + 1;
  return 0;
}

/* Adds or replaces the entry for k's file. */
static void insert(kiln_digest_cache *c, const kiln_file_key *k, const unsigned char digest[32],
                   bool used) {
  cache_entry *e = lookup(c, k);
  if (!e) {
    if (c->n >= MAX_HELD || reserve(c) < 0) return; /* a cache only: skipping is fine */
    e = &c->v[c->n++];
    *find_slot(c, k->dev, k->ino) = c->n;
  }
  e->k = *k;
  memcpy(e->digest, digest, 32);
  e->used = used;
}

/* ---- loading ---- */

static void get_record(const unsigned char *p, kiln_file_key *k, unsigned char digest[32]) {
  memcpy(&k->dev, p, 8);
  memcpy(&k->ino, p + 8, 8);
  memcpy(&k->size, p + 16, 8);
  memcpy(&k->mtime_sec, p + 24, 8);
  memcpy(&k->ctime_sec, p + 32, 8);
  memcpy(&k->mtime_nsec, p + 40, 4);
  memcpy(&k->ctime_nsec, p + 44, 4);
  memcpy(digest, p + 48, 32);
}

static uid_t expected_owner(void) {
  const kiln_caller *c = kiln_access_caller();
  return c && c->sudo ? (uid_t)c->id.uid : geteuid();
}

/* Reads and checks the whole file; fills c or says why not. */
static const char *load_file(kiln_digest_cache *c, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_uid != expected_owner()) return "not owned by the caller";
  uint64_t size = (uint64_t)st.st_size;
  uint64_t most =
      HEADER_BYTES + (uint64_t)RECORD_BYTES * KILN_MAX_DIGEST_CACHE_ENTRIES + TRAILER_BYTES;
  if (size < HEADER_BYTES + TRAILER_BYTES || size > most ||
      (size - HEADER_BYTES - TRAILER_BYTES) % RECORD_BYTES)
    return "wrong size";
  _cleanup_free_ unsigned char *data = malloc((size_t)size);
  if (!data) return "out of memory";
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, data + got, (size_t)size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "cannot be read";
    got += (size_t)n;
  }
  uint32_t version, count;
  memcpy(&version, data + 8, 4);
  memcpy(&count, data + 12, 4);
  if (memcmp(data, MAGIC, 8)) return "not a kiln digest cache";
  if (version != VERSION) return "another format version";
  if ((uint64_t)count * RECORD_BYTES != size - HEADER_BYTES - TRAILER_BYTES)
    return "count does not match the size";
  unsigned char sum[32];
  kiln_sha256 h = KILN_SHA256_INIT;
  if (kiln_sha256_init(&h) < 0) return "out of memory";
  kiln_sha256_update(&h, data, (size_t)size - TRAILER_BYTES);
  if (kiln_sha256_final(&h, sum) < 0) return "out of memory";
  if (memcmp(sum, data + size - TRAILER_BYTES, 32)) return "checksum mismatch";
  for (uint32_t i = 0; i < count; i++) {
    kiln_file_key k;
    unsigned char digest[32];
    get_record(data + HEADER_BYTES + (size_t)i * RECORD_BYTES, &k, digest);
    insert(c, &k, digest, false);
  }
  c->have_file_time = true;
  c->file_mtime = (int64_t)st.st_mtim.tv_sec;
  return NULL;
}

kiln_digest_cache *kiln_digest_cache_load(const char *path, const char **rejected) {
  if (rejected) *rejected = NULL;
  kiln_digest_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (!path) return c;
  if (!(c->path = strdup(path))) {
    free(c);
    return NULL;
  }
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_close_ int fd = kiln_fs_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, &ignored);
  if (fd < 0) {
    if (rejected) *rejected = errno == ENOENT ? NULL : "cannot be opened";
    return c;
  }
  const char *why = load_file(c, fd);
  if (why) { /* start over empty; the next save replaces the file */
    c->n = 0;
    if (c->slots) memset(c->slots, 0, c->n_slots * sizeof *c->slots);
    c->dirty = true;
    if (rejected) *rejected = why;
  }
  return c;
}

/* ---- use ---- */

bool kiln_digest_cache_get(kiln_digest_cache *c, const kiln_file_key *k, unsigned char out[32]) {
  cache_entry *e = lookup(c, k);
  if (!e || !kiln_file_key_equal(&e->k, k)) return false;
  /* git's racy-clean rule: changed in the second the cache was written, a
   * file may have changed again after its hash without its stat moving. */
  if (!e->used && c->have_file_time &&
      (k->mtime_sec >= c->file_mtime || k->ctime_sec >= c->file_mtime))
    return false;
  memcpy(out, e->digest, 32);
  e->used = true;
  return true;
}

void kiln_digest_cache_put(kiln_digest_cache *c, const kiln_file_key *k,
                           const unsigned char digest[32], int64_t read_from) {
  if (k->mtime_sec >= read_from || k->ctime_sec >= read_from) return; /* racy */
  insert(c, k, digest, true);
  c->dirty = true;
}

size_t kiln_digest_cache_size(const kiln_digest_cache *c) {
  return c->n;
}

/* ---- saving ---- */

static void put_record(unsigned char *p, const cache_entry *e) {
  memcpy(p, &e->k.dev, 8);
  memcpy(p + 8, &e->k.ino, 8);
  memcpy(p + 16, &e->k.size, 8);
  memcpy(p + 24, &e->k.mtime_sec, 8);
  memcpy(p + 32, &e->k.ctime_sec, 8);
  memcpy(p + 40, &e->k.mtime_nsec, 4);
  memcpy(p + 44, &e->k.ctime_nsec, 4);
  memcpy(p + 48, e->digest, 32);
}

/* The bytes of the file: used entries first, then the others, up to the cap. */
static unsigned char *encode(const kiln_digest_cache *c, size_t *len) {
  size_t count = c->n < KILN_MAX_DIGEST_CACHE_ENTRIES ? c->n : KILN_MAX_DIGEST_CACHE_ENTRIES;
  size_t size = HEADER_BYTES + count * RECORD_BYTES + TRAILER_BYTES;
  unsigned char *data = malloc(size);
  if (!data) return NULL;
  uint32_t version = VERSION, n32 = (uint32_t)count;
  memcpy(data, MAGIC, 8);
  memcpy(data + 8, &version, 4);
  memcpy(data + 12, &n32, 4);
  size_t w = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n && w < count; i++)
      if (c->v[i].used == (pass == 0))
        put_record(data + HEADER_BYTES + RECORD_BYTES * w++, &c->v[i]);
  kiln_sha256 h = KILN_SHA256_INIT;
  if (kiln_sha256_init(&h) < 0) return free(data), NULL;
  kiln_sha256_update(&h, data, size - TRAILER_BYTES);
  if (kiln_sha256_final(&h, data + size - TRAILER_BYTES) < 0) return free(data), NULL;
  *len = size;
  return data;
}

/* Creates the cache folder and its parent (kiln/ and .cache/ or
 * $XDG_CACHE_HOME) with the caller's rights. */
static int make_parents(const char *path, kiln_error **err) {
  _cleanup_free_ char *dir = strdup(path);
  if (!dir) return kiln_error_oom(err);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  char *up = strrchr(dir, '/');
  if (up && up != dir) {
    *up = '\0';
    int r = kiln_fs_mkdir(dir, 0700, err);
    *up = '/';
    if (r < 0) return -1;
  }
  return kiln_fs_mkdir(dir, 0700, err);
}

int kiln_digest_cache_save(kiln_digest_cache *c, kiln_error **err) {
  if (!c->path || !c->dirty) return 0;
  size_t len = 0;
  _cleanup_free_ unsigned char *data = encode(c, &len);
  _cleanup_free_ char *tmp = NULL;
  if (!data || asprintf(&tmp, "%s.XXXXXX", c->path) < 0) return kiln_error_oom(err);
  if (make_parents(c->path, err) < 0) return -1;
  int fd = kiln_fs_mkstemp(tmp, 0600, err);
  if (fd < 0) return -1;
  int w = kiln_write_all(fd, data, len), e = errno;
  if (close(fd) < 0 && w == 0) w = -1, e = errno;
  if (w < 0) {
    kiln_fs_unlink(tmp, true, NULL);
    return kiln_error_errno(err, e, "cannot write %s", tmp);
  }
  if (kiln_fs_rename(tmp, c->path, false, err) < 0) {
    kiln_fs_unlink(tmp, true, NULL);
    return -1;
  }
  c->dirty = false;
  return 0;
}

void kiln_digest_cache_free(kiln_digest_cache *c) {
  if (!c) return;
  free(c->path);
  free(c->v);
  free(c->slots);
  free(c);
}
