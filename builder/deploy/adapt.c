/* The legacy adaptation: a legacy image is adapted once per (base image
 * id, uid, gid) by running user-setup.sh in a temporary container, waiting
 * for it and committing it; a later deploy reuses the adapted image. */
#include "kiln/deploy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/generate.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define ADAPTED_REPO   "adapted"
#define SETUP_LOG_TAIL 20

typedef struct {
  kiln_engine *engine;
  const kiln_deploy_options *opts;
  const char *base_id;
  json_t *base_config; /* borrowed */
  char id12[13];
  char *repo;             /* <ns>-<uid>/adapted */
  char *tag;              /* <id12>-<gid>: one adaptation per (base, uid, gid) */
  kiln_adapted_user user; /* who the image is set up for */
  char *temp_id;          /* temporary container, while it exists */
} adaptation;

/* ---- interrupts during an adaptation ---- */

/* The caller's interrupt flag (kiln_engine_options.interrupted) stops the
 * engine calls within about a second, also the long /wait; the temporary
 * container is then removed by an undo call. */
static int interrupted(const adaptation *a, kiln_error **err) {
  return kiln_error_interrupted(err, kiln_engine_interrupted(a->engine),
                                a->temp_id ? "the temporary container was removed" : NULL);
}

static void adaptation_clear(adaptation *a) {
  free(a->repo);
  free(a->tag);
  kiln_adapted_user_clear(&a->user);
  free(a->temp_id);
}

static char *read_setup_script(const kiln_deploy_options *o, kiln_error **err) {
  _cleanup_free_ char *dir = o->templates_dir ? strdup(o->templates_dir) : kiln_templates_dir(err);
  _cleanup_free_ char *path = NULL;
  if (!dir || asprintf(&path, "%s/user-setup.sh", dir) < 0)
    return err && *err ? NULL : (kiln_error_oom(err), NULL);
  size_t len = 0;
  _cleanup_free_ char *script =
      kiln_fs_read_regular(path, true, KILN_MAX_TEMPLATE_BYTES, &len, err);
  if (!script) return NULL;
  kiln_buf b = KILN_BUF_INIT(KILN_MAX_TEMPLATE_BYTES + 16);
  const char *delay = kiln_env("KILN_LEGACY_SETUP_DELAY"); /* test hook (admins): a slow setup */
  if (delay && kiln_deploy_all_digits(delay) && strlen(delay) < 6)
    kiln_buf_printf(&b, "sleep %s\n", delay);
  if (kiln_buf_append(&b, script, len) < 0 || kiln_buf_append(&b, "", 0) < 0) {
    kiln_buf_free(&b);
    return kiln_error_oom(err), NULL;
  }
  return kiln_buf_steal(&b, NULL);
}

static const char *user_shell(const kiln_identity *id) {
  return id->shell && id->shell[0] == '/' && !strpbrk(id->shell, " \t\n'\"") ? id->shell
                                                                             : "/bin/sh";
}

/* The temporary container: the setup script as the entrypoint (so the base's
 * Cmd is not appended and the commit keeps the base's Cmd), as root. Its
 * HostConfig holds AutoRemove only: no mounts of any kind. */
json_t *kiln_deploy_temp_body(const kiln_deploy_options *o, const char *base_id,
                              const kiln_adapted_user *user, const char *script) {
  const kiln_identity *id = &o->caller->id;
  char uid[16], gid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, id->uid);
  snprintf(gid, sizeof gid, "%" PRIu32, id->gid);
  return json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s], s:{s:s, s:s}, s:{s:b}}", "Image", base_id,
                   "User", "0:0", "Entrypoint", "/bin/sh", "-c", script, "kiln-user-setup",
                   user->name, uid, gid, user->home, user_shell(id), "0", user->workspace, "Labels",
                   KILN_LABEL_TEMP, "true", KILN_LABEL_OWNER_UID, uid, "HostConfig", "AutoRemove",
                   0);
}

static int create_temp(adaptation *a, kiln_error **err) {
  _cleanup_free_ char *script = read_setup_script(a->opts, err);
  if (!script) return -1;
  _cleanup_json_ json_t *body = kiln_deploy_temp_body(a->opts, a->base_id, &a->user, script);
  unsigned char rnd[4] = {0};
  if (getrandom(rnd, sizeof rnd, 0) < 0) rnd[0] = (unsigned char)getpid();
  char name[64];
  snprintf(name, sizeof name, "name=kiln-tmp-%" PRIu32 "-%02x%02x%02x%02x", a->opts->caller->id.uid,
           rnd[0], rnd[1], rnd[2], rnd[3]);
  if (!body) return kiln_error_oom(err);
  _cleanup_json_ json_t *r =
      kiln_engine_json(a->engine, "POST", "/containers/create", name, body, NULL, err);
  const char *id = json_string_value(json_object_get(r, "Id"));
  if (!id) return err && *err ? -1 : kiln_error_set(err, KILN_EXIT_ENGINE, "no container id");
  if (!(a->temp_id = strdup(id))) return kiln_error_oom(err);
  return 0;
}

static int container_call(adaptation *a, const char *method, const char *what, const char *query,
                          long timeout_ms, json_t **out, kiln_error **err) {
  return kiln_container_call(a->engine, method, a->temp_id, what, query, timeout_ms, out, err);
}
/* The last lines of the temporary container's output, for the error. */
static char *setup_log_tail(adaptation *a) {
  return kiln_container_log_tail(a->engine, a->temp_id, SETUP_LOG_TAIL);
}

/* The /wait for the setup failed: still running means the engine answered
 * but the setup took longer than legacy_timeout; otherwise the engine's own
 * error (it went away, ...) is the one to report. Takes werr. */
static int setup_wait_failed(adaptation *a, unsigned timeout, kiln_error *werr, kiln_error **err) {
  if (kiln_engine_interrupted(a->engine)) {
    kiln_error_free(werr);
    return interrupted(a, err);
  }
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *state = NULL;
  if (container_call(a, "GET", "json", NULL, KILN_UNDO_TIMEOUT_MS, &state, &ignored) == 0 &&
      json_is_true(json_object_get(json_object_get(state, "State"), "Running"))) {
    kiln_error_free(werr);
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the user setup did not finish within %u s (legacy_timeout in the kiln "
                          "configuration)",
                          timeout);
  }
  kiln_error_keep(err, werr);
  return kiln_error_prefix(err, "waiting for the user setup");
}

/* Runs the temporary container to its end and checks its exit code. */
static int run_setup(adaptation *a, kiln_error **err) {
  unsigned timeout = a->opts->config->legacy_timeout;
  if (container_call(a, "POST", "start", NULL, 0, NULL, err) < 0) return -1;
  json_t *w = NULL;
  kiln_error *werr = NULL;
  if (container_call(a, "POST", "wait", "condition=not-running", (long)timeout * 1000, &w, &werr) <
      0)
    return setup_wait_failed(a, timeout, werr, err);
  json_int_t code = json_integer_value(json_object_get(w, "StatusCode"));
  json_decref(w);
  if (code == 0) return 0;
  _cleanup_free_ char *tail = setup_log_tail(a);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "the user setup failed in the image (exit %d)%s%s",
                        (int)code, tail ? ":\n" : "", tail ? tail : "");
}

static json_t *adapted_labels(const adaptation *a) {
  const kiln_identity *id = &a->opts->caller->id;
  char uid[16], gid[16];
  snprintf(uid, sizeof uid, "%" PRIu32, id->uid);
  snprintf(gid, sizeof gid, "%" PRIu32, id->gid);
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", KILN_LABEL_USER_SETUP, "true",
                   KILN_LABEL_UID, uid, KILN_LABEL_GID, gid, KILN_LABEL_USER, a->user.name,
                   KILN_LABEL_HOME, a->user.home, KILN_LABEL_WORKSPACE, a->user.workspace,
                   KILN_LABEL_ADAPTED_FROM, a->base_id, KILN_LABEL_OWNER_UID, uid, KILN_LABEL_TEMP,
                   "false");
}

/* Empty lists are sent on purpose: the commit would otherwise fill an empty
 * Entrypoint with the temporary container's (the setup script). The image
 * runs as the user, in the workspace, with the user's HOME and PATH. */
static json_t *commit_body(const adaptation *a) {
  json_t *cmd = json_object_get(a->base_config, "Cmd");
  json_t *entry = json_object_get(a->base_config, "Entrypoint");
  char user[32];
  snprintf(user, sizeof user, "%" PRIu32 ":%" PRIu32, a->opts->caller->id.uid,
           a->opts->caller->id.gid);
  return json_pack("{s:o, s:o, s:o, s:O, s:s, s:s}", "Labels", adapted_labels(a), "Cmd",
                   json_is_array(cmd) ? json_incref(cmd) : json_array(), "Entrypoint",
                   json_is_array(entry) ? json_incref(entry) : json_array(), "Env", a->user.env,
                   "WorkingDir", a->user.workspace, "User", user);
}

static char *commit(adaptation *a, kiln_error **err) {
  _cleanup_free_ char *repo = kiln_engine_escape(a->repo);
  _cleanup_free_ char *query = NULL;
  if (!repo ||
      asprintf(&query, "container=%s&repo=%s&tag=%s&pause=0", a->temp_id, repo, a->tag) < 0)
    return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *body = commit_body(a);
  if (!body) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *r = kiln_engine_json(a->engine, "POST", "/commit", query, body, NULL, err);
  const char *id = json_string_value(json_object_get(r, "Id"));
  if (!id) return err && *err ? NULL : (kiln_error_set(err, KILN_EXIT_ENGINE, "no image id"), NULL);
  return strdup(id);
}

/* create → start → wait → commit, with the temporary container removed on
 * every path (an interrupt included: the removal is an undo call). */
static char *run_and_commit(adaptation *a, kiln_error **err) {
  char *image_id = NULL;
  if (create_temp(a, err) == 0 && run_setup(a, err) == 0) image_id = commit(a, err);
  if (a->temp_id) kiln_deploy_remove_container(a->engine, a->temp_id);
  if (image_id && kiln_engine_interrupted(a->engine)) {
    /* The commit landed: the adaptation is kept (reused next time). */
    kiln_deploy_emit(a->opts, KILN_DEPLOY_WARNING, "interrupted after the commit");
    free(image_id);
    interrupted(a, err);
    return NULL;
  }
  if (!image_id && err && *err && kiln_engine_interrupted(a->engine)) {
    kiln_error_free(*err);
    *err = NULL;
    interrupted(a, err);
  }
  return image_id;
}

/* An earlier adaptation of this base for this uid and gid, or NULL. */
static char *find_adaptation(adaptation *a, const char *ref, kiln_error **err) {
  _cleanup_json_ json_t *img = kiln_deploy_inspect_image(a->engine, ref, err);
  if (!img) return NULL;
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  uint32_t u, g;
  const kiln_identity *id = &a->opts->caller->id;
  const char *from = kiln_label(labels, KILN_LABEL_ADAPTED_FROM);
  if (!from || strcmp(from, a->base_id) ||
      kiln_image_setup_of(labels, id->uid, id->gid, &u, &g) != KILN_IMAGE_LABELED)
    return NULL;
  return strdup(json_string_value(json_object_get(img, "Id")));
}

static int adaptation_init(adaptation *a, kiln_engine *engine, const kiln_deploy_options *o,
                           const char *base_id, json_t *base_config, kiln_error **err) {
  memset(a, 0, sizeof *a);
  a->engine = engine;
  a->opts = o;
  a->base_id = base_id;
  a->base_config = base_config;
  const char *hex = strncmp(base_id, "sha256:", 7) ? base_id : base_id + 7;
  snprintf(a->id12, sizeof a->id12, "%.12s", hex);
  if (!(a->repo = kiln_namespace_repo(kiln_deploy_ns_of(o), o->caller->id.uid, ADAPTED_REPO)))
    return kiln_error_oom(err);
  if (asprintf(&a->tag, "%s-%" PRIu32, a->id12, o->caller->id.gid) < 0) {
    a->tag = NULL;
    return kiln_error_oom(err);
  }
  return kiln_adapted_user_of(base_config, o->caller->id.name, o->caller->id.uid, &a->user, err);
}

/* Returns the id of the adapted image (new string), reusing an earlier one. */
char *kiln_deploy_adapt(kiln_engine *engine, const kiln_deploy_options *o, const char *base_id,
                        json_t *base_config, kiln_deploy_result *result, kiln_error **err) {
  adaptation a;
  char lock_name[64];
  char *image_id = NULL;
  if (adaptation_init(&a, engine, o, base_id, base_config, err) < 0) {
    adaptation_clear(&a);
    return NULL;
  }
  _cleanup_free_ char *ref = NULL;
  if (asprintf(&ref, "%s:%s", a.repo, a.tag) < 0) {
    adaptation_clear(&a);
    return kiln_error_oom(err), NULL;
  }
  /* Same user, same base: one adaptation at a time; the second one reuses. */
  snprintf(lock_name, sizeof lock_name, "adapt-%" PRIu32 "-%s", o->caller->id.uid, a.tag);
  int lock = kiln_lock_acquire(lock_name, kiln_engine_interrupt_flag(engine), err);
  if (lock >= 0) {
    kiln_error *ferr = NULL;
    image_id = find_adaptation(&a, ref, &ferr);
    if (ferr) {
      kiln_error_keep(err, ferr);
    } else if (image_id) {
      result->reused = true;
      kiln_deploy_emit(o, KILN_DEPLOY_PROGRESS, "reusing the adaptation %s", ref);
    } else {
      kiln_deploy_emit(o, KILN_DEPLOY_PROGRESS,
                       "adapting %s for uid %" PRIu32 " (once; saved as %s)", o->image,
                       o->caller->id.uid, ref);
      image_id = run_and_commit(&a, err);
    }
    kiln_lock_release(lock);
  }
  if (image_id) {
    result->adapted = true;
    result->adapted_image = steal_pointer(&ref);
  }
  adaptation_clear(&a);
  return image_id;
}
