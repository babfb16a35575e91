/* Deploy: containers from kiln-labeled images at once, legacy images adapted
 * once per (user, base image) by run-and-commit; container and volume
 * lifecycle; per-user limits; gc.
 *
 * Names. A container NAME belongs to its user: the engine name is
 * "NAME._.UID" (DS01's convention), so two users may both have "ml". Volumes
 * follow the same rule (kiln_volume_engine_name): two users may both have
 * "data"; kiln commands and the spec take and show the short NAME, and a
 * volume also carries its owner's label kiln.owner-uid.
 *
 * Ownership. Who may touch what is the access module's answer
 * (kiln/access.h): every call here refuses containers and volumes that
 * kiln_access_owns() does not give to the caller, i.e. whose kiln.owner-uid
 * label is not the caller's uid, unless all_users is set and the caller is
 * an admin. Errors for that have code KILN_EXIT_FAILURE and say whose object
 * it is. */
#ifndef KILN_DEPLOY_H
#define KILN_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kiln/access.h"
#include "kiln/config.h"
#include "kiln/engine.h"
#include "kiln/error.h"
#include "kiln/spec.h"

/* Who asks (uid, gid), and whether they asked to act for everyone. The
 * access module decides for caller when it is set; otherwise for a non-admin
 * with these ids (admin powers come only from a kiln_caller). */
typedef struct {
  uint32_t uid, gid;
  bool all_users;            /* honoured only for admins (kiln_access_all_users) */
  const kiln_caller *caller; /* borrowed; may be NULL */
} kiln_owner;

/* ---- deploy ---- */

typedef enum {
  KILN_DEPLOY_WARNING,  /* something the user should know (uid mismatch, ...) */
  KILN_DEPLOY_PROGRESS, /* a step of the legacy path (adapting, reusing, ...) */
} kiln_deploy_event_kind;

/* text is borrowed for the duration of the call. */
typedef void (*kiln_deploy_event_fn)(void *user, kiln_deploy_event_kind kind, const char *text);

typedef struct {
  const char *image;          /* reference or id; required */
  const char *name;           /* container NAME (see above); required */
  const char *project;        /* kiln.project label; NULL = the image's label */
  const char *workspace_dir;  /* host folder bind-mounted at the workspace (relative: to the
                                 current folder); checked with kiln_access_workspace; NULL = none */
  const char *const *volumes; /* "NAME:/path[:ro]" */
  size_t n_volumes;
  bool create_volumes;    /* create missing volumes instead of failing */
  const char *const *env; /* "KEY=VALUE" */
  size_t n_env;
  const char *const *ports; /* kiln_parse_port_binding's grammar: [IP:]HOST:CONTAINER[/proto],
                               IP::CONTAINER or CONTAINER; no IP = 127.0.0.1 */
  size_t n_ports;
  const char *const *command; /* exec form; n_command 0 = the image's (see kiln_deploy) */
  size_t n_command;
  uint64_t memory;        /* bytes; 0 = unlimited */
  uint64_t shm_size;      /* bytes; 0 = engine default */
  uint64_t nano_cpus;     /* 1e9 per CPU; 0 = unlimited */
  int64_t pids_limit;     /* 0 = engine default */
  const char *gpus;       /* "all", a count, or "ID,ID"; NULL = none */
  const char *gpu_memory; /* with runtime genv: GENV_GPU_MEMORY */
  const char *runtime;    /* engine runtime, only from the site's list (kiln_access_runtime);
                             "genv" turns gpus into GENV_* env */
  bool no_start;
  const kiln_caller *caller;     /* borrowed; required: who deploys (ids, name, rights) */
  const kiln_config *config;     /* borrowed; required (limits, timeout, runtimes) */
  const char *ns;                /* image namespace; NULL = config->ns */
  const char *templates_dir;     /* where user-setup.sh is; NULL = kiln_templates_dir() */
  kiln_deploy_event_fn on_event; /* may be NULL */
  void *user;
  bool all_users;        /* admins only (kiln_access_owns): attach volumes of other users */
  json_t *image_inspect; /* borrowed; the engine's GET /images/{image}/json answer the caller
                            read just before, or NULL: kiln_deploy asks for it (saves a
                            round trip; it is checked exactly as its own would be) */
} kiln_deploy_options;

/* Everything unset: no workspace, volumes, limits, GPUs or runtime; the
 * image's command; started. */
#define KILN_DEPLOY_OPTIONS_INIT                                                                   \
  {                                                                                                \
    .image = NULL, .name = NULL, .workspace_dir = NULL, .n_volumes = 0, .create_volumes = false,   \
    .n_env = 0, .n_ports = 0, .n_command = 0, .memory = 0, .pids_limit = 0, .gpus = NULL,          \
    .runtime = NULL, .no_start = false, .caller = NULL, .config = NULL, .ns = NULL,                \
    .on_event = NULL, .all_users = false, .image_inspect = NULL,                                   \
  }

typedef struct {
  char *container_id;   /* owned */
  char *container_name; /* owned; the engine name */
  char *image_id;       /* owned; the image the container runs */
  char *adapted_image;  /* owned; "<ns>-<uid>/adapted:<id12>-<gid>" or NULL (labeled image) */
  bool adapted;         /* the legacy path was taken */
  bool reused;          /* ... and an earlier adaptation was reused (nothing ran) */
  bool started;
  json_t *ports; /* owned; a started container's published ports, [{"container":"8888/tcp",
                    "host_ip","host_port","address":"127.0.0.1:49153"}]; NULL = none */
} kiln_deploy_result;

/* Deploys opts->image as opts->caller. First the access module decides,
 * before anything is created: the caller may read the image
 * (kiln_access_image, by the name given and the image's labels), use the
 * runtime (kiln_access_runtime) and mount the workspace
 * (kiln_access_workspace: its real path is bound). A labeled image (kiln,
 * DS01 or AIME user-setup labels for the caller's uid and gid) is created
 * directly; any other image is adapted first (a warning says why when it is
 * labeled for someone else); the adaptation's temporary container mounts
 * nothing. The container runs as the caller, with no-new-privileges unless
 * the site allows container sudo, and with no other security option,
 * capability, device, host namespace or bind mount than the workspace. The
 * command: opts->command, else the image's Cmd/Entrypoint (Tty and
 * OpenStdin keep a shell alive), else ["sleep","infinity"]. When kiln runs
 * as root, a started container's workspace mount is checked against the
 * folder that was checked (same device and inode); a mismatch removes the
 * container. The temporary container of an adaptation is removed on every
 * path, including an interrupt: once the engine's interrupt flag
 * (kiln_engine_options.interrupted) is set, the running call stops within
 * about a second, the container is removed, and the error's code is 128 +
 * the signal. The library installs no signal handler. Fills *result (free with
 * kiln_deploy_result_clear). Errors: refused by the access module (code 1),
 * name taken (1), over the container limit (1), missing volume (1),
 * workspace changed while deploying (1, container removed), no GPU runtime
 * on the engine (3, container removed). */
int kiln_deploy(kiln_engine *engine, const kiln_deploy_options *opts, kiln_deploy_result *result,
                kiln_error **err);
void kiln_deploy_result_clear(kiln_deploy_result *result);

/* "NAME._.UID". Returns a new string or NULL (out of memory). */
char *kiln_container_engine_name(const char *name, uint32_t uid);
/* The engine name of the volume NAME of uid: the same rule, "NAME._.UID".
 * Returns a new string or NULL (out of memory). */
char *kiln_volume_engine_name(const char *name, uint32_t uid);

/* ---- containers ---- */

/* The caller's kiln containers (everyone's with all_users), as a new array of
 * {"name","engine_name","id","project","image","image_id","status","state",
 *  "owner_uid","stale","ports"} (ports: published ones, shaped like
 * kiln_deploy_result's). stale is true when the project's image
 * <ns>-<owner>/<project>:latest now has another id than the one deployed
 * (the image was rebuilt since), false otherwise. */
json_t *kiln_container_list(kiln_engine *engine, const kiln_owner *owner, const char *ns,
                            kiln_error **err);

/* kiln's view of the caller's container NAME (with all_users: anyone's,
 * by NAME or engine name; ownership through the access module as for
 * every NAME command): the kiln_container_list entry plus "labels" (all of
 * them), "running", "created" (the engine's RFC 3339 time), "run_as" (the
 * engine's Config.User, "" when unset) and "workspace" ({"source",
 * "target"} of its bind mount, or null). New object, or NULL with *err set
 * (missing or not the caller's: code 1). */
json_t *kiln_container_inspect(kiln_engine *engine, const char *name, const kiln_owner *owner,
                               const char *ns, kiln_error **err);

/* Finds the container NAME of owner (or, with all_users, an engine name
 * as-is). Returns its id (new string) or NULL with *err set (missing or not
 * the caller's: code 1). */
char *kiln_container_find(kiln_engine *engine, const char *name, const kiln_owner *owner,
                          kiln_error **err);

/* Starts NAME. As root, the workspace bind mount is checked again first
 * (kiln_access_workspace on its folder) and after the start (the mount is
 * that folder); on a mismatch the container is stopped. */
int kiln_container_start(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         kiln_error **err);
/* Stops NAME: the stop signal, then a kill after timeout_s seconds (< 0:
 * 10 s; at most KILN_MAX_STOP_TIMEOUT_S). */
int kiln_container_stop(kiln_engine *engine, const char *name, const kiln_owner *owner,
                        int timeout_s, kiln_error **err);

/* What retiring NAME would lose: *running says whether it runs, *changed
 * how many paths of its own filesystem changed since it was created
 * (GET /containers/ID/changes; the workspace and volumes are not in it). */
int kiln_container_changes(kiln_engine *engine, const char *name, const kiln_owner *owner,
                           bool *running, size_t *changed, kiln_error **err);

/* What `container shell` runs and where it is wired. */
typedef struct {
  const char *const *argv; /* borrowed; NULL (argc 0): the user's login shell, from the
                              image's kiln.user label's passwd entry, else /bin/sh */
  size_t argc;
  int in_fd, out_fd, err_fd; /* a TTY is used when in_fd and out_fd are terminals */
} kiln_shell_options;

#define KILN_SHELL_OPTIONS_INIT                                                                    \
  { .in_fd = 0, .out_fd = 1, .err_fd = 2 }

/* Runs opts->argv in the running container NAME as owner uid:gid.
 * *exit_code gets the command's exit status. 0, or -1 with *err set. */
int kiln_container_shell(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         const kiln_shell_options *opts, int *exit_code, kiln_error **err);

typedef struct {
  bool follow; /* keep streaming new output until the container stops (or a signal) */
  long tail;   /* the last N lines only; < 0 = all */
  int out_fd;  /* the container's stdout (and everything, for a TTY container) */
  int err_fd;  /* its stderr */
} kiln_logs_options;

/* Streams the output of owner's container NAME (found like
 * kiln_container_find) to opts->out_fd/err_fd: GET /containers/ID/logs,
 * demultiplexed when the container has no TTY, raw when it has one (stderr
 * is then merged into stdout by the engine). A closed output ends it
 * quietly. Returns 0, or -1 with *err set (not the caller's: code 1; engine
 * errors: code 3). */
int kiln_container_logs(kiln_engine *engine, const char *name, const kiln_owner *owner,
                        const kiln_logs_options *opts, kiln_error **err);

/* Stops and removes NAME. With save, first commits it to save_as (NULL:
 * "<ns>-<uid>/<NAME>-saved:latest"), keeping its labels; the tag must pass
 * kiln_access_tag (checked before anything changes). *saved (may be NULL)
 * gets the reference (new string). */
int kiln_container_retire(kiln_engine *engine, const char *name, const kiln_owner *owner, bool save,
                          const char *save_as, const char *ns, char **saved, kiln_error **err);

/* ---- volumes ---- */

/* The one grammar of a volume mount, "NAME:/path[:ro|:rw]" (-v and
 * deploy.volumes) → parts. Returns 0 or -1 (code KILN_EXIT_USAGE). *name
 * and *target are new strings owned by the caller. */
int kiln_parse_volume_spec(const char *spec, char **name, char **target, bool *read_only,
                           kiln_error **err);

/* Creates volume NAME for owner, within config->max_volumes. Creating an
 * existing volume of the caller is fine (*existed = true); one of someone
 * else is refused. */
int kiln_volume_create(kiln_engine *engine, const char *name, const kiln_owner *owner,
                       const kiln_config *config, bool *existed, kiln_error **err);
/* The caller's volumes (all kiln volumes with all_users): a new array of
 * {"name","owner_uid","created","used_by":[container names]}. */
json_t *kiln_volume_list(kiln_engine *engine, const kiln_owner *owner, kiln_error **err);
/* Removes NAME. Missing → error unless force; in use → error naming the
 * containers (force does not change that). */
int kiln_volume_remove(kiln_engine *engine, const char *name, const kiln_owner *owner, bool force,
                       kiln_error **err);

/* ---- gc ---- */

typedef enum {
  KILN_GC_TEMP_CONTAINER,    /* exited temporary container of a legacy deploy */
  KILN_GC_DANGLING_IMAGE,    /* untagged kiln image */
  KILN_GC_ORPHAN_ADAPTATION, /* adaptation whose base image is gone */
  KILN_GC_REGISTRY_NAME,     /* a push's or pull's registry name left on an image */
  KILN_GC_AIME_IMAGE,        /* reported only, never removed */
  KILN_GC_BUILD_STEP,        /* a build's step container an engine that died left */
} kiln_gc_kind;

typedef struct {
  kiln_gc_kind kind;
  const char *id;   /* borrowed */
  const char *name; /* borrowed; container name or image reference */
  bool removed;     /* false for reports and dry runs */
} kiln_gc_item;

typedef void (*kiln_gc_fn)(void *user, const kiln_gc_item *item);

typedef struct {
  const kiln_owner *owner; /* borrowed: whose leftovers (everyone's with all_users) */
  bool dry_run;            /* remove nothing, report what would go */
  /* Build-step containers (KILN_LABEL_BUILD_STEP, everyone's: the steps
   * before the user setup are shared) are looked at with all_users only,
   * and removed once exited for this long; 0 = KILN_GC_BUILD_STEP_AGE_S. */
  long build_step_age_s;
  kiln_gc_fn fn; /* may be NULL */
  void *user;
} kiln_gc_options;

/* Removes the caller's leftovers and reports AIME "*._.*" images through fn
 * (only to admins with all_users: the tags are other people's). */
int kiln_gc(kiln_engine *engine, const kiln_gc_options *opts, kiln_error **err);

#endif
