/* The engine calls on one container that deploy, the legacy adaptation and
 * volume ownership share: inspect the image, remove, METHOD
 * /containers/ID/WHAT, and the tail of its log. */
#include "kiln/deploy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

json_t *kiln_deploy_inspect_image(kiln_engine *engine, const char *ref, kiln_error **err) {
  return kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, err);
}

/* An undo call: runs (bounded) after an interrupt too. Best effort. */
void kiln_deploy_remove_container(kiln_engine *engine, const char *id) {
  _cleanup_error_ kiln_error *ignored = NULL;
  kiln_engine_remove(engine, KILN_OBJECT_CONTAINER, id, "force=1&v=1", true, &ignored);
}

int kiln_container_call(kiln_engine *engine, const char *method, const char *id, const char *what,
                        const char *query, long timeout_ms, json_t **out, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/containers/%s/%s", id, what) < 0) return kiln_error_oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = method;
  req.path = path;
  req.query = query;
  req.timeout_ms = timeout_ms;
  if (kiln_engine_call(engine, &req, &resp, err) < 0) return -1;
  if (out) *out = resp.body_len ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
  kiln_engine_response_clear(&resp);
  return 0;
}

static int append_log(void *user, int stream, const char *data, size_t n) {
  (void)stream;
  kiln_buf_append(user, data, n);
  return 0;
}

char *kiln_container_log_tail(kiln_engine *engine, const char *id, unsigned lines) {
  _cleanup_free_ char *path = NULL, *query = NULL;
  if (asprintf(&path, "/containers/%s/logs", id) < 0 ||
      asprintf(&query, "stdout=1&stderr=1&tail=%u", lines) < 0)
    return NULL;
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.path = path;
  req.query = query;
  _cleanup_error_ kiln_error *ignored = NULL;
  if (kiln_engine_call(engine, &req, &resp, &ignored) < 0) return NULL;
  kiln_buf text = KILN_BUF_INIT(64u << 10);
  kiln_demux d = {0};
  kiln_demux_feed(&d, resp.body, resp.body_len, append_log, &text);
  kiln_engine_response_clear(&resp);
  while (text.len && text.data[text.len - 1] == '\n')
    text.data[--text.len] = '\0';
  return text.len ? kiln_buf_steal(&text, NULL) : (kiln_buf_free(&text), NULL);
}
