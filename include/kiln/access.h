/* Who may do what: the one place kiln answers "may this caller do this?".
 *
 * The caller is one identity whichever way kiln runs:
 *  - sudo mode: kiln runs as root with SUDO_UID set (users outside the
 *    docker group, `sudo kiln` through the shipped sudoers rule). The caller
 *    is SUDO_UID/SUDO_GID/SUDO_USER with the groups the group database gives
 *    that user; kiln is the only door to the engine and these checks are the
 *    boundary between people.
 *  - direct mode: the real uid/gid and groups of the process (users in the
 *    docker group, which is root-equivalent: the checks prevent mistakes).
 * An admin is real root without SUDO_UID, or a member of the site config's
 * admin_group. Admins may use --all-users, build for another uid, tag
 * outside their namespace, and have the environment overrides honoured.
 *
 * kiln serves one caller per process: kiln_access_begin() records it, and
 * the file helpers (kiln_fs_*) and kiln_env() use that record. Before it is
 * called (unit tests, other programs) the environment is trusted and files
 * are touched with the process's own rights.
 *
 * Every refusal is code KILN_EXIT_FAILURE with one line saying what was
 * refused and why. */
#ifndef KILN_ACCESS_H
#define KILN_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "kiln/config.h"
#include "kiln/error.h"
#include "kiln/spec.h"

typedef struct {
  kiln_identity id; /* owned: the person (uid, gid, login name, shell) */
  gid_t *groups;    /* owned: the person's supplementary groups */
  size_t n_groups;
  bool sudo;  /* sudo mode: euid 0 and SUDO_UID set */
  bool admin; /* may act for others (see above) */
} kiln_caller;

/* The caller of this process: SUDO_* under root, else the real ids.
 * admin_group (may be NULL) names the site's admin group. Free with
 * kiln_caller_clear. */
int kiln_caller_current(kiln_caller *c, const char *admin_group, kiln_error **err);
void kiln_caller_clear(kiln_caller *c);

/* What every command starts with: reads the site config
 * (/etc/kiln/config.yaml, which must be owned by root and writable by no one
 * else; absent means defaults), works out the caller, and for an admin only
 * honours $KILN_CONFIG instead. In sudo mode the process takes on the
 * caller's groups (root's own checks ignore them). Records the caller for kiln_env() and the
 * kiln_fs_* helpers (c must outlive their use). Fills *cfg and *c; free with
 * kiln_config_clear and kiln_caller_clear. */
int kiln_access_begin(kiln_config *cfg, kiln_caller *c, kiln_error **err);

/* The caller kiln_access_begin recorded, or NULL. Borrowed. */
const kiln_caller *kiln_access_caller(void);

/* The caller's home folder: in sudo mode from the password database (the
 * environment is sudo's, not the caller's), else $HOME when it is an
 * absolute path, else getuid()'s password database entry. New string, or
 * NULL when there is none. */
char *kiln_caller_home(void);

/* The caller's cache folder (XDG): $XDG_CACHE_HOME when it is an absolute
 * path and kiln runs as the caller (in sudo mode it is sudo's), else
 * kiln_caller_home()/.cache. New string, or NULL. */
char *kiln_caller_cache_dir(void);

/* Docker's config folder for this caller: $DOCKER_CONFIG (trusted
 * environment only, see kiln_env), else kiln_caller_home()/.docker. New
 * string; NULL when there is no home (or no memory). */
char *kiln_docker_config_dir(void);

/* Whether the environment is trusted: an admin, or no caller recorded. */
bool kiln_env_trusted(void);

/* The library's one door to the environment. KILN_NAMESPACE,
 * KILN_NAME_POLICY and KILN_REGISTRY are anyone's to set; everything else
 * is getenv(name) when the environment is trusted, else NULL. For every
 * override: KILN_CONFIG, KILN_TEMPLATES_DIR, KILN_SHARED_DIR, DOCKER_HOST,
 * DOCKER_CONTEXT, DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH,
 * DOCKER_API_VERSION, DOCKER_CONFIG, KILN_TAR_MODE,
 * KILN_CRED_HELPER_TIMEOUT_MS and test hooks. The
 * engine endpoint also reads the docker context store only when trusted.
 * Borrowed. */
const char *kiln_env(const char *name);

/* The first of those overrides that is set but ignored for this caller, so
 * the CLI can say so; NULL when none. Borrowed. */
const char *kiln_env_ignored(void);

/* ---- names ---- */

/* The image name rule, "<ns>-<uid>/<project>:<tag>" (ns NULL: the default
 * namespace, tag NULL: "latest"). New string, or NULL when out of memory. */
char *kiln_namespace_ref(const char *ns, uint32_t uid, const char *project, const char *tag);
/* The same repository without a tag, "<ns>-<uid>/<project>". New or NULL. */
char *kiln_namespace_repo(const char *ns, uint32_t uid, const char *project);

/* ---- decisions ---- */

/* May c create, move or remove the tag ref (build --tag, import, pull --as,
 * commit, retire --save, sync)? Non-admins only inside "<ns>-<own uid>/". */
int kiln_access_tag(const kiln_caller *c, const char *ns, const char *ref, kiln_error **err);

/* May c read (deploy, export, push, inspect, build FROM) the image named
 * ref whose labels are labels (may be NULL)? Refused for non-admins when the
 * kiln.owner-uid label names someone else, or ref lies in another user's
 * namespace "<ns>-<uid>/". Images without an owner (bases, team images) are
 * readable by all. */
int kiln_access_image(const kiln_caller *c, const char *ns, const char *ref, json_t *labels,
                      kiln_error **err);

/* May c build spec? user.uid must be c's own (uid 0 and other uids: admins
 * only), user.gid one of c's groups (admins: any), user.sudo only where the
 * site allows container_sudo (admins: always). The message names the key. */
int kiln_access_build(const kiln_caller *c, const kiln_config *cfg, const kiln_spec *spec,
                      kiln_error **err);

/* Does the object with these labels (container, volume, image) belong to
 * c? all_users (only valid when kiln_access_all_users allowed it) says yes
 * to every kiln object. */
bool kiln_access_owns(const kiln_caller *c, json_t *labels, bool all_users);

/* May c use --all-users (act on everyone's objects)? Admins only. */
int kiln_access_all_users(const kiln_caller *c, kiln_error **err);

/* May c's containers use this engine runtime (NULL = default)? Only those
 * in the site's runtimes list (default: nvidia, genv). */
int kiln_access_runtime(const kiln_caller *c, const kiln_config *cfg, const char *runtime,
                        kiln_error **err);

/* May c publish a container port on host port `port`? Ports below 1024
 * belong to the host's services (ssh, http), which only root may bind:
 * admins only. */
int kiln_access_host_port(const kiln_caller *c, unsigned port, kiln_error **err);

/* Whether containers get no-new-privileges (true unless the site allows
 * container_sudo). */
bool kiln_access_no_new_privileges(const kiln_config *cfg);

/* Resolves dir as a workspace for c: opened with c's rights (so c must be
 * able to open it), then its real path; refused when it is "/", a system
 * folder (/etc, /usr, /root, /proc, ...), a top-level folder (/home, /tmp),
 * or a folder of someone else (owned by another uid and not a group folder
 * of c's that c may write). Admins skip the ownership rule, not the system
 * folders. *real gets a new string; *dev and *ino (may be NULL) identify
 * the folder, to check after the mount that it is still the same one. */
int kiln_access_workspace(const kiln_caller *c, const char *dir, char **real, dev_t *dev,
                          ino_t *ino, kiln_error **err);

/* May c delete or replace the tarball whose sidecar manifest is manifest
 * (may be NULL: no manifest)? Its "owner_uid" must be c's (admins: any). A
 * tarball without a manifest belongs to the owner of the file. st_uid is
 * the file's owner. */
int kiln_access_tarball(const kiln_caller *c, json_t *manifest, uid_t st_uid, const char *file,
                        kiln_error **err);

/* ---- files with the caller's rights ----
 * In sudo mode each call switches the filesystem ids to the caller's for the
 * one system call (kiln_access_begin already gave the process the caller's
 * groups, which root's own checks ignore), so kiln never creates, replaces or
 * removes a file where the caller could not. Elsewhere they are the plain
 * calls. Errors name path. */

/* open(2) with O_CLOEXEC | O_NOFOLLOW added. Returns the fd or -1. */
int kiln_fs_open(const char *path, int flags, mode_t mode, kiln_error **err);
/* The one way kiln opens a file it reads (kiln.yaml, .dockerignore, COPY
 * sources, templates): as the caller, O_NONBLOCK so a FIFO or device never
 * blocks the open, O_NOFOLLOW unless follow, then fstat must say regular
 * file (else "PATH is a FIFO (named pipe), not a regular file", code
 * KILN_EXIT_USAGE) and O_NONBLOCK is cleared. Fills *st (may be NULL).
 * Returns the fd (caller closes) or -1 with errno kept from a failed open
 * (ENOENT: missing). */
int kiln_fs_open_regular(const char *path, bool follow, struct stat *st, kiln_error **err);
/* All of such a file, at most max bytes (larger: KILN_EXIT_USAGE), NUL
 * terminated; *len (may be NULL) its length. New string or NULL. */
char *kiln_fs_read_regular(const char *path, bool follow, size_t max, size_t *len,
                           kiln_error **err);
/* mkstemp(3) on template (modified in place), then fchmod to mode. */
int kiln_fs_mkstemp(char *template, mode_t mode, kiln_error **err);
/* rename(2); with noreplace, an existing `to` is an error (EEXIST). */
int kiln_fs_rename(const char *from, const char *to, bool noreplace, kiln_error **err);
/* unlink(2); a missing file is fine when missing_ok. */
int kiln_fs_unlink(const char *path, bool missing_ok, kiln_error **err);
/* mkdir(2); an existing folder is fine. */
int kiln_fs_mkdir(const char *path, mode_t mode, kiln_error **err);

/* For code that must make several calls with the caller's rights (a
 * directory walk): drop, work, restore. Nothing else may run in between
 * (no engine calls: the socket needs kiln's own rights). */
typedef struct {
  bool dropped;
  uid_t fsuid;
  gid_t fsgid;
} kiln_fs_rights;
int kiln_fs_drop(kiln_fs_rights *saved, kiln_error **err);
void kiln_fs_restore(kiln_fs_rights *saved);

#endif
