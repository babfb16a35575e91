/* Internals of deploy, containers, volumes and gc, shared between those
 * files and the unit tests (test_deploy.c). Not installed. */
#ifndef KILN_DEPLOY_PRIVATE_H
#define KILN_DEPLOY_PRIVATE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <jansson.h>

#include "builder/engine/engine_private.h"
#include "kiln/deploy.h"

/* How an image's labels relate to the caller. */
typedef enum {
  KILN_IMAGE_LEGACY,     /* no user-setup labels */
  KILN_IMAGE_LABELED,    /* set up for this uid and gid */
  KILN_IMAGE_OTHER_USER, /* set up for another uid or gid */
} kiln_image_setup;

/* Reads kiln's, DS01's or AIME's user-setup labels from labels (an object
 * or NULL). For KILN_IMAGE_OTHER_USER, for_uid and for_gid get the ids found. */
kiln_image_setup kiln_image_setup_of(json_t *labels, uint32_t uid, uint32_t gid, uint32_t *for_uid,
                                     uint32_t *for_gid);

/* The POST /containers/create body for opts, pure: image_id and
 * image_config (the image's Config: Labels, Cmd, Entrypoint) decide the
 * workspace, the spec label and the command. Returns a new object or NULL
 * with *err set (bad -e/-p/-v values: code KILN_EXIT_USAGE). */
json_t *kiln_deploy_create_body(const kiln_deploy_options *opts, const char *image_id,
                                json_t *image_config, kiln_error **err);

/* Label value or NULL (borrowed). */
const char *kiln_label(json_t *labels, const char *key);

/* Reads a decimal id label; false when absent or not a number. */
bool kiln_label_id(json_t *labels, const char *key, uint32_t *out);

/* The caller owner speaks for: owner->caller when it is owner->uid,
 * else a non-admin with owner's uid and gid, written to *fallback (which
 * then holds no allocations: nothing to clear). Borrowed. */
const kiln_caller *kiln_owner_caller(const kiln_owner *owner, kiln_caller *fallback);
/* Does the object with these labels belong to owner? (kiln_access_owns) */
bool kiln_owner_owns(const kiln_owner *owner, json_t *labels);
/* Does owner act for every user (all_users, and the access module allows
 * it)? Lists and filters then take everyone's objects. */
bool kiln_owner_all_users(const kiln_owner *owner);

/* The user an adapted image is set up for, all owned: the sanitized name,
 * home /home/<name>, the base's workspace (moved into that home when it was
 * inside the base's own home), and the base's Env with HOME the new home and
 * <home>/.local/bin first on PATH (the old home's .local/bin dropped): a
 * team image set up for someone else works for the deployer. */
typedef struct {
  char *name;
  char *home;
  char *workspace;
  json_t *env;
} kiln_adapted_user;

/* Fills *out from the base image's Config and the caller's host user name
 * and uid (uid 0 keeps /root as its home).
 * 0, or -1 with *err set (a user name that cannot be sanitized, out of
 * memory); *out is then cleared by kiln_adapted_user_clear either way. */
int kiln_adapted_user_of(json_t *base_config, const char *caller_name, uint32_t uid,
                         kiln_adapted_user *out, kiln_error **err);
void kiln_adapted_user_clear(kiln_adapted_user *u);

/* The legacy adaptation's temporary container, pure: base_id runs script
 * (user-setup.sh) as root for opts->caller as user (name, home, workspace),
 * labelled temporary. It mounts nothing of the user: no Mounts, Binds,
 * volumes or devices. Returns a new object or NULL (out of memory). */
json_t *kiln_deploy_temp_body(const kiln_deploy_options *opts, const char *base_id,
                              const kiln_adapted_user *user, const char *script);

/* Whether the running container id has, at target, the folder dev/ino (its
 * workspace bind mount). Looked up through /proc/<pid>/root without
 * following symlinks out of the container's root; needs root. A container
 * that already exited is judged by its bind source on the host (a real
 * path, no symlink, to dev/ino). 0 when it is; -1 with *err set (code
 * KILN_EXIT_FAILURE: not the same folder) otherwise. *inspected (may be
 * NULL) gets the container's inspect answer it read (new reference, or
 * NULL), for callers that need it too. */
int kiln_workspace_mount_check(kiln_engine *engine, const char *id, const char *target, dev_t dev,
                               ino_t ino, json_t **inspected, kiln_error **err);

/* METHOD /containers/ID/WHAT, the whole request bounded by timeout_ms (0:
 * the engine's default); *out (may be NULL) gets the JSON answer or NULL.
 * 0, or -1 with *err set. (container_call.c) */
int kiln_container_call(kiln_engine *engine, const char *method, const char *id, const char *what,
                        const char *query, long timeout_ms, json_t **out, kiln_error **err);

/* The last `lines` lines of container id's output, demultiplexed, trailing
 * newlines dropped: a new string, or NULL when there is none.
 * (container_call.c) */
char *kiln_container_log_tail(kiln_engine *engine, const char *id, unsigned lines);

/* GET /images/REF/json: a new object, or NULL with *err (a missing image
 * is an error). (container_call.c) */
json_t *kiln_deploy_inspect_image(kiln_engine *engine, const char *ref, kiln_error **err);
/* Removes container id with its anonymous volumes, as an undo call: runs
 * (bounded) after an interrupt too. Best effort. (container_call.c) */
void kiln_deploy_remove_container(kiln_engine *engine, const char *id);

/* ---- deploy's steps, shared by its files (deploy.c, create_body.c, adapt.c) ---- */

/* The image namespace of this deploy (opts->ns, else the config's).
 * Borrowed. */
const char *kiln_deploy_ns_of(const kiln_deploy_options *o);
/* Reports an event to opts->on_event (when set), formatted like printf and
 * cut at 511 bytes. */
__attribute__((format(printf, 3, 4))) void
kiln_deploy_emit(const kiln_deploy_options *o, kiln_deploy_event_kind kind, const char *fmt, ...);
/* Where an image wants the workspace mounted: its kiln.workspace label,
 * else /workspace. Borrowed from image_config. (create_body.c) */
const char *kiln_deploy_workspace_of(json_t *image_config);
/* Whether s is a non-empty run of decimal digits. (create_body.c) */
bool kiln_deploy_all_digits(const char *s);
/* Adapts the legacy image base_id (its Config in base_config, borrowed)
 * for opts->caller, or reuses an earlier adaptation (result->reused);
 * sets result->adapted and result->adapted_image. Returns the adapted
 * image's id (new string), or NULL with *err. (adapt.c) */
char *kiln_deploy_adapt(kiln_engine *engine, const kiln_deploy_options *o, const char *base_id,
                        json_t *base_config, kiln_deploy_result *result, kiln_error **err);

/* ---- lock files (lock.c) ---- */

/* The host-wide lock folder /run/kiln, whatever the mode or environment
 * (root creates it sticky; see lock.c). New string or NULL with *err set. */
char *kiln_lock_dir(kiln_error **err);
/* Takes an exclusive flock on <lock dir>/<name>.lock, waiting for it at
 * most KILN_LOCK_WAIT_S; gives up when *interrupted becomes non-zero
 * (interrupted may be NULL). Returns
 * the fd (release with kiln_lock_release) or -1. */
int kiln_lock_acquire(const char *name, volatile sig_atomic_t *interrupted, kiln_error **err);
void kiln_lock_release(int fd);

/* Counts the engine's containers ("containers") or volumes ("volumes")
 * labelled kiln.owner-uid=uid, temporary containers excluded. */
int kiln_count_owned(kiln_engine *engine, const char *what, uint32_t uid, unsigned *count,
                     kiln_error **err);

/* Creates a volume labelled for uid without limit checks (caller holds the
 * limits lock). */
int kiln_volume_create_locked(kiln_engine *engine, const char *name, uint32_t uid,
                              kiln_error **err);

/* "ml._.1000" → "ml" when the suffix is owner_uid (may be NULL); else a copy.
 * New string or NULL (out of memory). */
char *kiln_engine_short_name(const char *engine_name, const char *owner_uid);

/* The volume NAME of owner: its engine name NAME._.UID, or, for an admin
 * acting for all users, NAME as an engine name when that does not exist.
 * Returns the inspect result (new) with *engine_name (new string) set; NULL
 * with *err unset when missing; NULL with *err set on engine errors or when
 * the volume is not owner's (code KILN_EXIT_FAILURE, naming its owner). */
json_t *kiln_volume_find(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         char **engine_name, kiln_error **err);

/* The temporary container that makes the root of volume engine_name
 * (mounted at target, the same path as in the real container, so that the
 * engine's first-mount copy of the image's content happens before) owned by
 * uid:gid, pure: image_id runs `chown UID:GID target` as root, not
 * recursive, labelled temporary and with the owner's uid, no network, every
 * capability dropped but CHOWN, no-new-privileges, no other mount. Returns a
 * new object or NULL (out of memory). */
json_t *kiln_volume_prepare_body(const char *image_id, const char *engine_name, const char *target,
                                 uint32_t uid, uint32_t gid);

/* Runs that container to its end (at most timeout_s) and removes it on
 * every path. 0, or -1 with *err set (code KILN_EXIT_FAILURE: the chown
 * failed in the image, with its output; the image needs a chown command). */
int kiln_volume_prepare(kiln_engine *engine, const char *image_id, const char *name,
                        const char *engine_name, const char *target, uint32_t uid, uint32_t gid,
                        unsigned timeout_s, kiln_error **err);

/* Published ports, one shape: a new array of {"container":"8888/tcp",
 * "host_ip","host_port","address":"IP:PORT"} (IPv6 in brackets), from
 * inspect's NetworkSettings.Ports map or from the list's Ports array
 * (borrowed; NULL gives []). Exposed-only ports are left out. NULL when out
 * of memory. */
json_t *kiln_ports_from_inspect(json_t *network_ports);
json_t *kiln_ports_from_list(json_t *ports);

#endif
