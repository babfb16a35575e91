/* Volumes writable by their owner: before a deploy, a short temporary root
 * container from the image being deployed chowns the root of each of the
 * caller's volumes to the caller's uid:gid (only the root, not what is in
 * it). It mounts the volume at the same path as the real container, so the
 * engine's copy of the image's content into a fresh volume (with the
 * ownership of the image's folder) happens first and the chown comes after;
 * the real container then mounts the volume with NoCopy, so that copy can
 * never run again and take the root back.
 *
 * Why always chown instead of recording that a volume was prepared (a label
 * cannot be added to an existing volume; a state file could go stale when
 * the volume is recreated or chowned inside a container): the chown of the
 * root is idempotent, costs one short container, needs no shell in the
 * image (exec form), and is right whatever happened to the volume before. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define PREPARE_LOG_TAIL 10

json_t *kiln_volume_prepare_body(const char *image_id, const char *engine_name, const char *target,
                                 uint32_t uid, uint32_t gid) {
  char owner[32], uid_s[16];
  snprintf(owner, sizeof owner, "%" PRIu32 ":%" PRIu32, uid, gid);
  snprintf(uid_s, sizeof uid_s, "%" PRIu32, uid);
  return json_pack("{s:s, s:s, s:s, s:[s], s:[s,s], s:b, s:{s:s, s:s},"
                   " s:{s:b, s:s, s:[s], s:[s], s:[s], s:[{s:s, s:s, s:s, s:b}]}}",
                   "Image", image_id, "User", "0:0", "WorkingDir", "/", "Entrypoint", "chown",
                   "Cmd", owner, target, "NetworkDisabled", 1, "Labels", KILN_LABEL_TEMP, "true",
                   KILN_LABEL_OWNER_UID, uid_s, "HostConfig", "AutoRemove", 0, "NetworkMode",
                   "none", "CapDrop", "ALL", "CapAdd", "CHOWN", "SecurityOpt", "no-new-privileges",
                   "Mounts", "Type", "volume", "Source", engine_name, "Target", target, "ReadOnly",
                   0);
}

static int temp_call(kiln_engine *engine, const char *id, const char *what, const char *query,
                     long timeout_ms, json_t **out, kiln_error **err) {
  return kiln_container_call(engine, "POST", id, what, query, timeout_ms, out, err);
}

static char *create_temp(kiln_engine *engine, json_t *body, uint32_t uid, kiln_error **err) {
  unsigned char rnd[4] = {0};
  if (getrandom(rnd, sizeof rnd, 0) < 0) rnd[0] = (unsigned char)getpid();
  char query[64];
  snprintf(query, sizeof query, "name=kiln-vol-%" PRIu32 "-%02x%02x%02x%02x", uid, rnd[0], rnd[1],
           rnd[2], rnd[3]);
  _cleanup_json_ json_t *r =
      kiln_engine_json(engine, "POST", "/containers/create", query, body, NULL, err);
  const char *id = json_string_value(json_object_get(r, "Id"));
  if (!id)
    return err && *err ? NULL : (kiln_error_set(err, KILN_EXIT_ENGINE, "no container id"), NULL);
  char *copy = strdup(id);
  if (!copy) kiln_error_oom(err);
  return copy;
}

/* Starts id, waits for its end (bounded), checks the exit code. */
static int run_temp(kiln_engine *engine, const char *id, const char *name, const char *target,
                    unsigned timeout_s, kiln_error **err) {
  kiln_error *serr = NULL;
  if (temp_call(engine, id, "start", NULL, 0, NULL, &serr) < 0) { /* no chown: exec fails */
    kiln_error_set(err, KILN_EXIT_FAILURE,
                   "making volume '%s' yours at %s failed: the image could not run chown (it "
                   "needs a chown command): %s",
                   name, target, serr ? serr->message : "start failed");
    kiln_error_free(serr);
    return -1;
  }
  json_t *w = NULL;
  kiln_error *werr = NULL;
  if (temp_call(engine, id, "wait", "condition=not-running", (long)timeout_s * 1000, &w, &werr) <
      0) {
    kiln_error_free(werr);
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "making volume '%s' yours did not finish within %u s", name, timeout_s);
  }
  json_int_t code = json_integer_value(json_object_get(w, "StatusCode"));
  json_decref(w);
  if (code == 0) return 0;
  _cleanup_free_ char *tail = kiln_container_log_tail(engine, id, PREPARE_LOG_TAIL);
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "making volume '%s' yours at %s failed: chown exited %d in the image (it "
                        "needs a chown command)%s%s",
                        name, target, (int)code, tail ? ":\n" : "", tail ? tail : "");
}

static void remove_temp(kiln_engine *engine, const char *id) {
  _cleanup_free_ char *path = NULL;
  _cleanup_error_ kiln_error *ignored = NULL;
  if (asprintf(&path, "/containers/%s", id) < 0) return;
  json_decref(kiln_engine_json(engine, "DELETE", path, "force=1&v=1", NULL, NULL, &ignored));
}

int kiln_volume_prepare(kiln_engine *engine, const char *image_id, const char *name,
                        const char *engine_name, const char *target, uint32_t uid, uint32_t gid,
                        unsigned timeout_s, kiln_error **err) {
  _cleanup_json_ json_t *body = kiln_volume_prepare_body(image_id, engine_name, target, uid, gid);
  if (!body) return kiln_error_oom(err);
  _cleanup_free_ char *id = create_temp(engine, body, uid, err);
  if (!id) return kiln_error_prefix(err, "volume '%s'", name);
  int r = run_temp(engine, id, name, target, timeout_s, err);
  remove_temp(engine, id);
  return r;
}
