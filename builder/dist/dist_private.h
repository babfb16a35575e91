/* What export, import, tarstore, registry and commit share and nobody else
 * needs: file access with the caller's rights for reading a folder, the
 * engine calls on image names, the compression table, the progress
 * throttle and what import's two passes hand each other. Internal to
 * builder/. */
#ifndef KILN_BUILDER_DIST_PRIVATE_H
#define KILN_BUILDER_DIST_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>

#include "kiln/access.h"
#include "kiln/distribute.h"
#include "kiln/engine.h"
#include "kiln/error.h"

/* ---- files with the caller's rights (distfs.c) ---- */

/* open(2) for reading with the caller's rights (symlinks followed, as the
 * caller would). Returns the fd, or -1 with errno set. */
int kiln_dist_open_read(const char *path, int flags);
/* stat(2) (lstat when !follow) with the caller's rights; -1 with errno. */
int kiln_dist_stat(const char *path, struct stat *st, bool follow);
/* The entry names of dir (without "." and ".."), read with the caller's
 * rights, as a new array of strings; NULL with *err. At most max names. */
json_t *kiln_dist_names(const char *dir, size_t max, kiln_error **err);

/* ---- engine calls (adopt.c) ---- */

/* GET /images/{ref}/json: a new object, or NULL with *err ("no image" is
 * code 1 when missing_ok is false; with missing_ok a missing image gives
 * NULL and *err unset). */
json_t *kiln_dist_inspect(kiln_engine *engine, const char *ref, bool missing_ok, kiln_error **err);
/* POST /images/{image}/tag for ref ("repo[:tag]", default tag latest). */
int kiln_dist_tag(kiln_engine *engine, const char *image, const char *ref, kiln_error **err);
/* Puts the name ref back on image, as an undo call (runs after an
 * interruption too, bounded). Best effort. */
void kiln_dist_retag(kiln_engine *engine, const char *image, const char *ref);
/* Drops the name ref without touching the image (noprune). Best effort. */
void kiln_dist_untag(kiln_engine *engine, const char *ref);
/* Removes image_id when it has no tag left (inspect and removal are undo
 * calls); any refusal (a container or a child image uses it) is ignored. */
void kiln_dist_remove_if_untagged(kiln_engine *engine, const char *image_id);

#define KILN_DIST_IO_CHUNK (256u << 10) /* bytes read or written at a time */

/* ---- compressions: one row each (compression.c) ---- */

struct archive;

typedef struct {
  const char *name, *suffix;
  unsigned char magic[4];
  size_t magic_len;
  int (*add_write)(struct archive *);
  int (*add_read)(struct archive *);
} kiln_dist_compression;

/* Indexed by kiln_compression. */
extern const kiln_dist_compression kiln_dist_compressions[KILN_COMPRESS_ZSTD + 1];
#define KILN_DIST_N_COMPRESSIONS (sizeof kiln_dist_compressions / sizeof *kiln_dist_compressions)

/* Every compression's reader, for an archive read as tar. */
int kiln_dist_support_compressions(struct archive *a);

/* ---- progress throttle shared by export and import (progress.c) ---- */

typedef struct {
  kiln_progress_fn fn;
  void *user;
  double start, last;
  uint64_t bytes;
} kiln_dist_progress;

void kiln_dist_progress_start(kiln_dist_progress *p, kiln_progress_fn fn, void *user);
/* Counts n more bytes; calls fn at most every quarter second. */
void kiln_dist_progress_add(kiln_dist_progress *p, size_t n);
/* The last call, with done set. */
void kiln_dist_progress_done(kiln_dist_progress *p);

/* ---- import, pass 1 (archive_check.c) ---- */

/* What pass 1 learned. */
typedef struct {
  char sha256[65];
  kiln_compression compression;
  json_t *save_manifest; /* docker save's manifest.json */
  json_t *entries;       /* object: entry name → true */
  json_t *digests;       /* object: config-named plain file → "sha256:<hex>" of its content */
  json_t *refs;   /* object: digest of an OCI manifest or index blob → [digests it names] */
  char *image_id; /* the first image's, from its config blob */
} kiln_archive_facts;

void kiln_archive_facts_clear(kiln_archive_facts *f);
/* Reads the whole archive on fd (plain or compressed) into *f: its sha256,
 * its entries, the config blobs' digests, and checks that it is complete
 * (every file manifest.json names is in it, every config blob hashes to its
 * name). interrupted (borrowed, may be NULL) is checked every chunk.
 * Returns 0, or -1 with *err; clear *f either way. */
int kiln_import_read_archive(int fd, kiln_archive_facts *f, volatile sig_atomic_t *interrupted,
                             kiln_error **err);
/* The sidecar manifest side (borrowed) names the archive's sha256 and its
 * first image; 0, or -1 with *err. */
int kiln_import_check_sidecar(const json_t *side, const kiln_archive_facts *f, kiln_error **err);
/* Whether id is the image whose config blob has the id config_id: the
 * config's digest, or (OCI layout) the digest of a manifest or index of
 * the archive naming it. Call with depth 0. */
bool kiln_import_same_image(const kiln_archive_facts *f, const char *id, const char *config_id,
                            unsigned depth);

/* What kiln_image_import does first: reads the whole archive on fd (a
 * docker save tar, plain or gzip; either layout: Engine ≤ 24 and Podman's
 * docker-archive, or Engine ≥ 25's OCI layout) for its sha256 (hex into
 * sha256), checks that every file its manifest.json names is in it and
 * that each image config blob hashes to its name, and, when side (a kiln
 * sidecar manifest, borrowed) is given, that its sha256 and image_id match
 * the archive. *image_id (when image_id is not NULL) gets the first image's
 * id, a new string, or NULL on failure. Returns 0, or -1 with *err. Nothing
 * reaches the engine (the fuzzer's entry point). */
int kiln_import_check_archive(int fd, const json_t *side, char sha256[65], char **image_id,
                              kiln_error **err);
/* The image id a manifest.json Config name implies: "sha256:<hex>" for
 * "<hex>.json" (docker save ≤ 24, Podman) or "blobs/sha256/<hex>" (≥ 25),
 * hex being 64 lowercase hex digits; NULL for any other name. New string. */
char *kiln_import_config_id(const char *config);

/* ---- the tar a non-admin's import streams (loadfilter.c) ---- */

typedef struct kiln_load_filter kiln_load_filter;

/* Reads the tar (plain or gzip) from fd and hands it out again with
 * manifest.json rewritten for c (kiln_import_rewrite_manifest),
 * `repositories` dropped and index.json's image name annotations
 * (io.containerd.image.name, org.opencontainers.image.ref.name) renamed
 * the same way;
 * an entry name that climbs out, a manifest.json or index.json that is no
 * plain file, or an entry through one of the archive's links is
 * an error (the read fails; kiln_load_filter_error says why). Free with
 * kiln_load_filter_free; c and ns are borrowed. */
kiln_load_filter *kiln_load_filter_new(int fd, const kiln_caller *c, const char *ns,
                                       bool name_policy, kiln_error **err);
/* Up to n bytes of the filtered tar; 0 at the end, -1 on error. */
ssize_t kiln_load_filter_read(kiln_load_filter *f, char *buf, size_t n);
const kiln_error *kiln_load_filter_error(const kiln_load_filter *f); /* borrowed or NULL */
json_t *kiln_load_filter_manifest(const kiln_load_filter *f);        /* borrowed or NULL */
void kiln_load_filter_free(kiln_load_filter *f);
/* "./a//b/../c" → "a/c"; NULL when the name climbs out. New string. */
char *kiln_load_clean_path(const char *name);

/* ---- pure helpers (export_names.c, compression.c; unit-tested) ---- */

/* The tarball's base name: every character outside [A-Za-z0-9._-] of the
 * reference becomes '_', a missing tag is ":latest". Then "-<time>.tar" or
 * ".tar.gz" or ".tar.zst". New string or NULL (out of memory). */
char *kiln_export_safe_name(const char *image);
char *kiln_export_file_name(const char *image, int64_t unix_time, kiln_compression c);
/* When base (a file name, no folder) is "<safe>-<digits>.tar[.gz|.zst]"
 * for this safe name, returns the time, else -1. */
int64_t kiln_export_file_time(const char *base, const char *safe);
/* The sidecar object: {sha256, size, image, image_id, labels, spec_sha256,
 * created, kiln_version, file, compression, owner_uid}. labels may be NULL.
 * New reference or NULL. */
json_t *kiln_export_manifest(const char *sha256, uint64_t size, const char *image,
                             const char *image_id, json_t *labels, int64_t created,
                             const char *file, kiln_compression c, uint32_t owner_uid);
/* The sidecar "<tar_path>.json" (read with the caller's rights) as a new
 * object; NULL with *err unset when there is none, NULL with *err set when
 * it is unreadable. */
json_t *kiln_export_manifest_load(const char *tar_path, kiln_error **err);
/* Which of n tarball times to remove so that the newest `keep` stay:
 * prune[i] set for those; returns how many. */
size_t kiln_keep_select(const int64_t *times, size_t n, unsigned keep, bool *prune);
/* gzip magic (1f 8b) at the start of data. */
bool kiln_is_gzip(const unsigned char *data, size_t n);
/* The compression whose magic starts data (gzip 1f 8b, zstd 28 b5 2f fd). */
kiln_compression kiln_compression_of_magic(const unsigned char *data, size_t n);
/* By a tarball name's suffix (".tar", ".tar.gz", ".tar.zst"); 0, or -1
 * for a name without one. */
int kiln_compression_of_file(const char *name, kiln_compression *out);
/* The repository name's last component under the policy; 0 or -1 (code 2). */
int kiln_check_ref_policy(const char *ref, bool policy, kiln_error **err);

#endif
