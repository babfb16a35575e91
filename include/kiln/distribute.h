/* Distribution: images as verified tarballs on shared storage, through a
 * registry, and containers committed back to images.
 *
 * Every function takes an open engine (kiln/engine.h, borrowed) where it
 * needs one and reports failures through *err: KILN_EXIT_FAILURE for a
 * refused or failed operation (corrupt tarball, checksum mismatch, registry
 * refusal), KILN_EXIT_USAGE for bad names, KILN_EXIT_ENGINE when the engine
 * is unreachable or errs. Nothing here prints. */
#ifndef KILN_DISTRIBUTE_H
#define KILN_DISTRIBUTE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kiln/access.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"

/* Who may do what (kiln/access.h): every entry point takes the caller
 * (borrowed, required) and the image namespace (NULL: the default). Images
 * are exported and pushed only when the caller may read them; tags are
 * created or moved only where kiln_access_tag allows; files are created,
 * replaced and removed with the caller's rights (kiln_fs_*); tarballs are
 * deleted or synced only when kiln_access_tarball allows. */

/* ---- settings (settings.c) ----
 * shared_dir: $KILN_SHARED_DIR for admins (kiln_env), else cfg->shared_dir
 * (cfg may be NULL), else KILN_DEFAULT_SHARED_DIR. tar_mode: $KILN_TAR_MODE
 * for admins (octal), else 0640 (readable by the team). registry:
 * $KILN_REGISTRY (default none). name_policy: $KILN_NAME_POLICY=1
 * (Colosseum names; only ever stricter). Borrowed. */
#define KILN_DEFAULT_TAR_MODE 0640
const char *kiln_dist_shared_dir(const kiln_config *cfg);
unsigned kiln_dist_tar_mode(void);
const char *kiln_dist_registry(void);
bool kiln_dist_name_policy(void);

/* Progress of a long transfer: bytes so far, seconds since the start. Called
 * at most a few times a second and once at the end (done = true). */
typedef void (*kiln_progress_fn)(void *user, uint64_t bytes, double seconds, bool done);

/* ---- export (export.c) ---- */

/* How a tarball is compressed. kiln's import reads all three and hands the
 * engine plain tar, so every engine version loads any of them. */
typedef enum { KILN_COMPRESS_NONE, KILN_COMPRESS_GZIP, KILN_COMPRESS_ZSTD } kiln_compression;

typedef struct {
  const kiln_caller *caller;    /* borrowed; required: who exports (may read the image?) */
  const char *ns;               /* borrowed; the image namespace, NULL = default */
  const char *image;            /* borrowed; a reference the engine knows */
  const char *output;           /* borrowed; a folder, or a FILE ending in .tar/.tar.gz/.tar.zst */
  kiln_compression compression; /* NONE: as the output FILE's suffix says (plain in a folder) */
  unsigned keep;                /* tarballs of this image kept in the folder, >= 1 */
  unsigned mode;                /* file mode of the tarball and its manifest */
  kiln_progress_fn on_progress;
  void *user;
  volatile sig_atomic_t *interrupted; /* stops the transfer when set; may be NULL */
} kiln_export_options;

#define KILN_EXPORT_OPTIONS_INIT                                                                   \
  { .keep = 1, .mode = KILN_DEFAULT_TAR_MODE }

typedef struct {
  char *path;     /* owned; the tarball written */
  char *manifest; /* owned; its sidecar "<path>.json" */
  char sha256[65];
  uint64_t size;
  char *image_id;  /* owned */
  unsigned pruned; /* older tarballs removed by keep */
} kiln_export_result;

/* Refuses an image the caller may not read (kiln_access_image). Then
 * streams GET /images/{image}/get into "<dir>/<safe name>-<unix time>.tar[.gz]"
 * (or the FILE) through a locked temporary ".<safe name>.partial-XXXXXX" in
 * the same folder, fsync, rename (never over an existing file) and fsync of
 * the folder; then writes the sidecar manifest (with "owner_uid", the
 * caller's uid) the same way and prunes the caller's older tarballs of the
 * same image past opts->keep (only those kiln_access_tarball allows). Every
 * file is created, renamed and removed with the caller's rights, so an
 * output the caller could not write fails with their EACCES and nothing
 * written. A failed or interrupted export
 * leaves the previous tarballs untouched and removes its temporary; a killed
 * one leaves only the temporary, which the next export of that image removes.
 * Fills *result (free with kiln_export_result_clear). */
int kiln_image_export(kiln_engine *engine, const kiln_export_options *opts,
                      kiln_export_result *result, kiln_error **err);
void kiln_export_result_clear(kiln_export_result *result);

/* ---- import (import.c, archive_check.c) ---- */

typedef struct {
  const kiln_caller *caller; /* borrowed; required: who imports (becomes the owner) */
  const char *ns;            /* borrowed; the image namespace, NULL = default */
  const char *path;          /* borrowed; plain or gzipped `docker save` output */
  const char *retag;         /* borrowed; also tag the (first) image so, or NULL */
  bool name_policy;          /* refuse names breaking the Colosseum policy */
  bool skip_checksum;        /* do not compare with the sidecar manifest */
  kiln_progress_fn on_progress;
  void *user;
  volatile sig_atomic_t *interrupted;
} kiln_import_options;

#define KILN_IMPORT_OPTIONS_INIT                                                                   \
  { 0 }

typedef struct {
  char *image_id; /* owned; "sha256:..." (after adoption: the caller's image) */
  json_t *tags;   /* owned; array of the names now on the image(s) */
  bool verified;  /* the sha256 matched a sidecar manifest */
  bool adopted;   /* relabelled for the caller (kiln_image_adopt) */
  uint64_t bytes; /* tar bytes sent to the engine */
} kiln_import_result;

/* Opens the archive with the caller's rights and reads it whole first
 * (through libarchive, decompressing gzip) to make sure it is complete and
 * holds a docker-save manifest, while hashing the file; compares with
 * "<path>.json" when present. Only then streams the tar into POST
 * /images/load. A truncated or corrupt archive, a checksum mismatch or a
 * refused name fail with nothing loaded (code 1 or 2).
 *
 * Tags, for a non-admin caller: the archive's tags are loaded only under
 * the caller's namespace. While streaming, manifest.json's RepoTags become
 * kiln_import_tag() of each, and the legacy `repositories` file is dropped
 * (an archive whose manifest.json is not a plain file, or that reaches it
 * through a link, is refused); --tag (retag) must pass kiln_access_tag, and
 * an image without any tag needs one. Each loaded image then becomes the
 * caller's (kiln_image_adopt). Admins keep the archive's tags and labels.
 * Fills *result (free with kiln_import_result_clear). */
int kiln_image_import(kiln_engine *engine, const kiln_import_options *opts,
                      kiln_import_result *result, kiln_error **err);
void kiln_import_result_clear(kiln_import_result *result);

/* The name an archive tag NAME:TAG gets when c imports it: for non-admins
 * "<ns>-<c's uid>/<last component of NAME>:<TAG>", for admins the tag as
 * it is. New string, or NULL with *err (a tag that is no image reference). */
char *kiln_import_tag(const kiln_caller *c, const char *ns, const char *archive_tag,
                      kiln_error **err);

/* docker save's manifest.json as c's import loads it: every RepoTags entry
 * becomes kiln_import_tag() of it (duplicates dropped), each checked with
 * the name policy when name_policy. A manifest that is not a non-empty
 * array is an error. New reference, or NULL with *err. */
json_t *kiln_import_rewrite_manifest(const kiln_caller *c, const char *ns, json_t *manifest,
                                     bool name_policy, kiln_error **err);

/* Makes image_id c's: when its kiln.owner-uid label is not c's uid, builds
 * FROM it with that one label (the classic builder adds a LABEL step: no new
 * layer) tagged with every tag in tags (an array of references, each
 * passing kiln_access_tag; may be empty or NULL); the original is removed
 * when that left it untagged and unused. When the label is already c's, the
 * tags are put on image_id. An image with ONBUILD triggers is refused (the
 * build would run them). *new_id gets the image now carrying the tags (new
 * string); *adopted (may be NULL) says whether a relabel happened. */
int kiln_image_adopt(kiln_engine *engine, const kiln_caller *c, const char *ns,
                     const char *image_id, json_t *tags, char **new_id, bool *adopted,
                     kiln_error **err);

/* ---- compression names (compression.c) ---- */

/* "none", "gzip", "zstd" (static strings). */
const char *kiln_compression_name(kiln_compression c);
/* By name; 0, or -1 for a name that is none of them. */
int kiln_compression_parse(const char *name, kiln_compression *out);

/* ---- tarballs in a folder (tarstore.c) ---- */

/* Every "*.tar" / "*.tar.gz" / "*.tar.zst" of dir (hidden temporaries left out), read
 * with the caller's rights, newest first, as a new array of {"file","path",
 * "image","image_id","time","size","sha256","manifest":bool,"owner_uid":
 * int|null,"file_uid":int,"local":bool|null}. image is only kept when image
 * (a reference) matches, or every one when NULL. local says whether the
 * engine has image_id (null when engine is NULL or no manifest). */
json_t *kiln_tar_list(kiln_engine *engine, const char *dir, const char *image, kiln_error **err);

/* Removes c's tarballs (and sidecars) of image in dir, or the one named
 * file (a base name in dir) when image holds no ':' or '/' and names a file
 * there; only those kiln_access_tarball allows, whatever the folder's
 * permissions, with the caller's rights. *removed gets the count; none at
 * all is an error (code 1; a named file or image that is someone else's
 * says so). */
int kiln_tar_delete(const kiln_caller *c, const char *dir, const char *image_or_file,
                    unsigned *removed, kiln_error **err);

typedef enum {
  KILN_SYNC_CURRENT, /* the engine already has the newest tarball's image */
  KILN_SYNC_LOADING, /* about to load (progress follows) */
  KILN_SYNC_LOADED,
  KILN_SYNC_SKIPPED, /* no manifest: cannot tell which image it holds */
  KILN_SYNC_FAILED,  /* message says why; other images go on */
} kiln_sync_state;

typedef void (*kiln_sync_fn)(void *user, kiln_sync_state state, const char *image, const char *file,
                             const char *message);

typedef struct {
  const kiln_caller *caller; /* borrowed; required */
  const char *ns;            /* borrowed; NULL = default */
  const char *dir;           /* borrowed; the tarball folder */
  const char *image;         /* borrowed; only this image, or NULL: all */
  kiln_sync_fn on_state;
  kiln_progress_fn on_progress;
  void *user; /* for both callbacks */
  volatile sig_atomic_t *interrupted;
} kiln_sync_options;

#define KILN_SYNC_OPTIONS_INIT                                                                     \
  { 0 }

/* For each image in dir (or only image when not NULL) whose newest tarball
 * of the caller's (kiln_access_tarball; others' are left alone) holds
 * another image id than the engine's image of that name (as the import
 * names it: kiln_import_tag), imports it through kiln_image_import. One
 * flock per image name keeps two syncs from loading the same image twice
 * (the second finds it current once it gets the lock); different images
 * load in parallel. *loaded and *failed get counts; returns -1 when any
 * failed. */
int kiln_tar_sync(kiln_engine *engine, const kiln_sync_options *opts, unsigned *loaded,
                  unsigned *failed, kiln_error **err);

/* ---- registry (registry.c) ---- */

typedef struct {
  char *username;       /* owned */
  char *password;       /* owned */
  char *server;         /* owned; "HOST[:PORT]" */
  char *identity_token; /* owned; a credential helper's "<token>" answer */
} kiln_registry_auth;

void kiln_registry_auth_clear(kiln_registry_auth *auth);

/* Fills auth->username/password from docker's config.json (path, or NULL:
 * $DOCKER_CONFIG/config.json for admins (kiln_env), else
 * ~/.docker/config.json of the caller: in sudo mode the caller's home from
 * the passwd database, never root's $HOME) for server, as docker chooses:
 * credHelpers[server], else credsStore, runs that credential helper
 * (kiln_cred_helper_get); else the `auths` entry for server (keys may carry
 * a scheme and path). The file is read with the caller's rights. A missing
 * file or entry, or a helper without credentials for server, is not an
 * error (auth left empty, returns 0: anonymous, as docker does). */
int kiln_registry_auth_from_config(const char *path, const char *server, kiln_registry_auth *auth,
                                   kiln_error **err);

/* "X-Registry-Auth: <base64url JSON>" for auth (anonymous: "{}"; an
 * identity token goes as "identitytoken"). New string or NULL (out of
 * memory). */
char *kiln_registry_auth_header(const kiln_registry_auth *auth);

/* ---- credential helpers (credhelper.c) ---- */

#define KILN_CRED_HELPER_TIMEOUT_MS 30000
#define KILN_CRED_HELPER_MAX_OUTPUT (64u << 10) /* a helper's stdout */

/* A helper name docker-credential-<name> may carry: letters, digits, '-',
 * '_' and '.', at most 64, not starting with '.'. */
bool kiln_cred_helper_name_ok(const char *name);
/* The server address docker gives a helper and looks up in credHelpers:
 * "https://index.docker.io/v1/" for Docker Hub (docker.io, index.docker.io,
 * registry-1.docker.io), else server as is ("127.0.0.1:5000"). Borrowed
 * (server or a constant). */
const char *kiln_cred_helper_address(const char *server);
/* The helper docker's config cfg names for server: credHelpers[address],
 * else credsStore; NULL when neither. Borrowed from cfg. */
const char *kiln_cred_helper_for(json_t *cfg, const char *server);
/* Parses a helper's `get` answer text ({"ServerURL","Username","Secret"})
 * into auth (username/password; Username "<token>": identity_token).
 * Errors name docker-credential-<helper>. */
int kiln_cred_helper_parse(const char *helper, const char *text, kiln_registry_auth *auth,
                           kiln_error **err);
/* Runs `docker-credential-<helper> get` (execvp, no shell) with the
 * server address on stdin and fills auth from its answer. In sudo mode the
 * helper runs as the caller (their uid, gid and groups; HOME from the
 * passwd database, PATH the system's folders then ~/.local/bin and ~/bin;
 * nothing else of kiln's environment), else as the invoking user with the
 * environment as is. Bounded: stdout at most KILN_CRED_HELPER_MAX_OUTPUT, a
 * timeout of KILN_CRED_HELPER_TIMEOUT_MS (admins: $KILN_CRED_HELPER_TIMEOUT_MS)
 * after which its process group is killed; always reaped. "credentials not
 * found in native keychain" returns 0 with auth left empty. */
int kiln_cred_helper_get(const char *helper, const char *server, kiln_registry_auth *auth,
                         kiln_error **err);

/* Base64 (RFC 4648 §4, url=false) or base64url (§5); new strings. decode
 * returns NULL for invalid input; *n gets the length. */
char *kiln_base64_encode(const void *data, size_t n, bool url);
unsigned char *kiln_base64_decode(const char *text, size_t *n);

/* The registry's name for a local image: "<server>/<sub>/<repo's last
 * component>:<tag>", e.g. kiln-1000/proj:latest → reg:5000/alice/proj:latest.
 * sub may be NULL or empty (then no sub-path). New string or NULL with *err. */
char *kiln_registry_ref(const char *server, const char *sub, const char *local_ref,
                        kiln_error **err);
/* Splits "host[:port]/path[:tag|@digest]" into new strings server, repo
 * path (no host), and reference (tag or digest, default "latest"). A ref
 * without a host part (no '.', ':' or "localhost" before the first '/') is
 * an error (code 2). */
int kiln_registry_split(const char *ref, char **server, char **path, char **reference,
                        kiln_error **err);

/* One layer's progress from a push/pull stream. */
typedef void (*kiln_layer_fn)(void *user, const char *layer, const char *status, uint64_t current,
                              uint64_t total);

typedef struct {
  const kiln_caller *caller;      /* borrowed; required */
  const char *ns;                 /* borrowed; NULL = default */
  const kiln_registry_auth *auth; /* borrowed; NULL = anonymous */
  kiln_layer_fn on_layer;
  void *user;
} kiln_transfer_options;

#define KILN_TRANSFER_OPTIONS_INIT                                                                 \
  { 0 }

/* Refuses an image the caller may not read (kiln_access_image). Tags
 * local_ref as remote_ref (refused when a local image of that name is
 * another image: it is never moved), pushes it, then drops the remote tag
 * locally when it made it. Registry errors arrive in the stream:
 * authentication failures and unreachable registries get their own
 * messages (code 1). */
int kiln_image_push(kiln_engine *engine, const char *local_ref, const char *remote_ref,
                    const kiln_transfer_options *opts, kiln_error **err);
/* Pulls remote_ref and names it local_ref (required; must pass
 * kiln_access_tag, checked before pulling). A local remote_ref tag that
 * pointed elsewhere is put back; one the pull made is dropped. The image
 * then becomes the caller's (kiln_image_adopt; admins: tagged as is).
 * *image_id (may be NULL) gets the id local_ref names (new string). */
int kiln_image_pull(kiln_engine *engine, const char *remote_ref, const char *local_ref,
                    const kiln_transfer_options *opts, char **image_id, kiln_error **err);
/* Deletes remote_ref's manifest through the registry HTTP API v2 (HEAD for
 * Docker-Content-Digest, then DELETE by digest) with basic auth. Plain HTTP
 * for loopback registries, HTTPS otherwise. *digest (may be NULL) gets it. */
int kiln_registry_delete(const char *remote_ref, const kiln_registry_auth *auth, char **digest,
                         kiln_error **err);

/* ---- commit (commit.c) ---- */

typedef struct {
  const kiln_caller *caller; /* borrowed; required */
  const char *ns;            /* borrowed; NULL = default */
  const kiln_owner *owner;   /* borrowed; whose container NAME is */
  const char *name;          /* borrowed; the container */
  const char *ref;           /* borrowed; the image to create (kiln_access_tag) */
} kiln_commit_options;

#define KILN_COMMIT_OPTIONS_INIT                                                                   \
  { 0 }

/* Commits the caller's container NAME (see kiln_container_find) into ref,
 * keeping its config and labels (the image's and the container's), and
 * tagging ref, which must pass kiln_access_tag (checked first). *image_id
 * (may be NULL) gets the new id (new string). */
int kiln_container_commit(kiln_engine *engine, const kiln_commit_options *opts, char **image_id,
                          kiln_error **err);

#endif
