/* kiln image create/update: context, change detection, POST /build. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kiln/image.h"
#include "kiln/kiln.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

kiln_context *kiln_context_for_spec(const kiln_spec *spec, const kiln_generated *gen,
                                    kiln_error **err) {
  kiln_context *ctx = kiln_context_new(spec->dir, gen->dockerfile, gen->dockerfile_len, err);
  if (!ctx) return NULL;
  int r = 0;
  if (spec->packages.requirements) r = kiln_context_add(ctx, spec->packages.requirements, err);
  for (size_t i = 0; r == 0 && i < spec->n_files; i++)
    r = kiln_context_add(ctx, spec->files[i].src, err);
  if (r == 0 && spec->ssh.enabled && spec->ssh.authorized_keys)
    r = kiln_context_add(ctx, spec->ssh.authorized_keys, err);
  if (r < 0) {
    kiln_context_free(ctx);
    return NULL;
  }
  return ctx;
}

/* ---- image inspection ---- */

static char *image_json_path(const char *name) {
  _cleanup_free_ char *esc = kiln_engine_escape(name);
  char *path = NULL;
  if (!esc || asprintf(&path, "/images/%s/json", esc) < 0) return NULL;
  return path;
}

/* GET /images/{name}/json; NULL with *missing set on 404. */
static json_t *inspect_image(kiln_engine *e, const char *name, bool *missing, kiln_error **err) {
  _cleanup_free_ char *path = image_json_path(name);
  if (!path) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  long status = 0;
  kiln_error *local = NULL;
  json_t *img = kiln_engine_json(e, "GET", path, NULL, NULL, &status, &local);
  *missing = !img && status == 404;
  if (*missing)
    kiln_error_free(local);
  else if (!img)
    kiln_error_set(err, local->code, "%s", local->message), kiln_error_free(local);
  return img;
}

static const char *label_of(json_t *img, const char *key) {
  return json_string_value(json_object_get(json_object_get(json_object_get(img, "Config"), "Labels"), key));
}

static bool same(const char *a, const char *b) { return a && b && !strcmp(a, b); }

/* ---- the build stream ---- */

typedef struct {
  const kiln_build_options *opts;
  int step, steps;
  char *instruction; /* of the current step */
  kiln_buf tail[KILN_BUILD_TAIL_LINES];
  size_t tail_next;
  char *image_id;
  char *error;
} build_state;

static void emit(build_state *b, kiln_build_event_kind kind, const char *text, const char *id) {
  if (!b->opts->on_event) return;
  kiln_build_event ev = {kind, b->step, b->steps, text, id};
  b->opts->on_event(b->opts->user, &ev);
}

static void remember_line(build_state *b, const char *text) {
  kiln_buf *slot = &b->tail[b->tail_next++ % KILN_BUILD_TAIL_LINES];
  kiln_buf_reset(slot);
  kiln_buf_puts(slot, text);
}

/* "Step 3/9 : RUN apt-get ..." starts a step. */
static bool parse_step(build_state *b, const char *text) {
  int step, steps, used = 0;
  if (sscanf(text, "Step %d/%d : %n", &step, &steps, &used) != 2 || !used) return false;
  b->step = step;
  b->steps = steps;
  free(b->instruction);
  b->instruction = strndup(text + used, strcspn(text + used, "\n"));
  for (size_t i = 0; i < KILN_BUILD_TAIL_LINES; i++) kiln_buf_reset(&b->tail[i]);
  b->tail_next = 0;
  emit(b, KILN_BUILD_STEP, b->instruction, NULL);
  return true;
}

static int on_build_line(void *user, json_t *line) {
  build_state *b = user;
  const char *stream = json_string_value(json_object_get(line, "stream"));
  const char *id = json_string_value(json_object_get(json_object_get(line, "aux"), "ID"));
  json_t *detail = json_object_get(line, "errorDetail");
  const char *error = json_string_value(json_object_get(detail, "message"));
  if (!error) error = json_string_value(json_object_get(line, "error"));
  if (error) {
    free(b->error);
    b->error = strdup(error);
  } else if (id) {
    free(b->image_id);
    b->image_id = strdup(id);
  } else if (stream && !parse_step(b, stream)) {
    if (strncmp(stream, " ---> ", 6) && strncmp(stream, "Removing intermediate", 21))
      remember_line(b, stream), emit(b, KILN_BUILD_OUTPUT, stream, NULL);
  }
  return 0;
}

static int build_failed(build_state *b, kiln_error **err) {
  _cleanup_buf_ kiln_buf msg = KILN_BUF_INIT(64u << 10);
  kiln_buf_printf(&msg, "build step %d/%d (%s) failed: %s", b->step, b->steps,
                  b->instruction ? b->instruction : "?", b->error);
  size_t n = b->tail_next < KILN_BUILD_TAIL_LINES ? b->tail_next : KILN_BUILD_TAIL_LINES;
  if (n) kiln_buf_puts(&msg, "\nlast output of the step:\n");
  for (size_t i = 0; i < n; i++) {
    const kiln_buf *line = &b->tail[(b->tail_next - n + i) % KILN_BUILD_TAIL_LINES];
    if (line->data) kiln_buf_printf(&msg, "  | %s", line->data);
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", msg.data ? msg.data : "build failed");
}

static void build_state_clear(build_state *b) {
  free(b->instruction);
  free(b->image_id);
  free(b->error);
  for (size_t i = 0; i < KILN_BUILD_TAIL_LINES; i++) kiln_buf_free(&b->tail[i]);
}

/* ---- the request ---- */

static char *build_labels(const kiln_spec *spec, const char *digest, const char *base_id,
                          uint32_t owner) {
  char created[32], uid[16];
  time_t now = time(NULL);
  struct tm tm;
  strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  snprintf(uid, sizeof uid, "%u", owner);
  _cleanup_free_ char *spec_path = NULL;
  if (asprintf(&spec_path, "%s/%s", spec->dir, strrchr(spec->path, '/') ? strrchr(spec->path, '/') + 1 : spec->path) < 0)
    return NULL;
  _cleanup_json_ json_t *labels =
      json_pack("{s:s, s:s, s:s, s:s, s:s}", KILN_LABEL_CREATED, created,
                KILN_LABEL_CONTEXT_SHA256, digest, KILN_LABEL_BASE_ID, base_id ? base_id : "",
                KILN_LABEL_OWNER_UID, uid, KILN_LABEL_SPEC_PATH, spec_path);
  return labels ? json_dumps(labels, JSON_COMPACT) : NULL;
}

static char *build_query(const char *tag, const char *labels, const kiln_build_options *opts) {
  _cleanup_free_ char *t = kiln_engine_escape(tag);
  _cleanup_free_ char *l = kiln_engine_escape(labels);
  char *q = NULL;
  if (!t || !l || asprintf(&q, "t=%s&labels=%s&rm=1&forcerm=1&nocache=%d&pull=%d", t, l,
                           opts->nocache, opts->pull) < 0)
    return NULL;
  return q;
}

static int post_build(kiln_engine *e, kiln_context *ctx, const char *query, build_state *b,
                      kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = "/build";
  req.query = query;
  req.content_type = "application/x-tar";
  req.read = kiln_context_read;
  req.read_user = ctx;
  req.on_line = on_build_line;
  req.user = b;
  int r = kiln_engine_call(e, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  if (r < 0 && kiln_context_error(ctx)) {
    kiln_error_free(*err);
    *err = NULL;
    return kiln_context_take_error(ctx, err);
  }
  return r;
}

static int up_to_date(kiln_build_result *result, const char *tag, json_t *img,
                      const kiln_build_options *opts) {
  result->up_to_date = true;
  result->tag = strdup(tag);
  result->image_id = strdup(json_string_value(json_object_get(img, "Id")));
  if (opts->on_event) {
    kiln_build_event ev = {KILN_BUILD_UP_TO_DATE, 0, 0, tag, result->image_id};
    opts->on_event(opts->user, &ev);
  }
  return 0;
}

static char *base_image_id(kiln_engine *e, const kiln_spec *spec, bool pull, kiln_error **err) {
  bool missing = false;
  _cleanup_json_ json_t *base = inspect_image(e, spec->base_image, &missing, err);
  if (base) return strdup(json_string_value(json_object_get(base, "Id")));
  if (missing && !pull)
    kiln_error_set(err, KILN_EXIT_FAILURE,
                   "base image %s is not present in the engine, and kiln does not pull it; load "
                   "it first (docker load, kiln image import) or pass --pull when a registry is "
                   "reachable",
                   spec->base_image);
  return missing && pull ? strdup("") : NULL;
}

int kiln_image_build(kiln_engine *e, const kiln_spec *spec, const kiln_generated *gen,
                     const kiln_build_options *opts, kiln_build_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  const char *tag = opts->tag ? opts->tag : gen->image_name;
  kiln_context *ctx = kiln_context_for_spec(spec, gen, err);
  if (!ctx) return -1;
  char digest[65];
  _cleanup_free_ char *base_id = NULL, *labels = NULL, *query = NULL;
  _cleanup_json_ json_t *existing = NULL;
  build_state b = {.opts = opts};
  bool missing = false;
  int r = -1;
  if (kiln_context_digest(ctx, digest, err) < 0 || !(base_id = base_image_id(e, spec, opts->pull, err)))
    goto out;
  existing = inspect_image(e, tag, &missing, err);
  if (!existing && !missing) goto out;
  if (existing && !opts->force && !opts->nocache &&
      same(label_of(existing, KILN_LABEL_SPEC_SHA256), gen->spec_sha256) &&
      same(label_of(existing, KILN_LABEL_CONTEXT_SHA256), digest) &&
      same(label_of(existing, KILN_LABEL_BASE_ID), base_id)) {
    r = up_to_date(result, tag, existing, opts);
    goto out;
  }
  if (!(labels = build_labels(spec, digest, base_id, opts->owner_uid)) ||
      !(query = build_query(tag, labels, opts))) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
    goto out;
  }
  if (post_build(e, ctx, query, &b, err) < 0) goto out;
  if (b.error) {
    build_failed(&b, err);
    goto out;
  }
  result->tag = strdup(tag);
  result->image_id = b.image_id ? strdup(b.image_id) : NULL;
  result->context_bytes = kiln_context_bytes_sent(ctx);
  if (opts->on_event) {
    kiln_build_event ev = {KILN_BUILD_RESULT, b.step, b.steps, tag, result->image_id};
    opts->on_event(opts->user, &ev);
  }
  r = 0;
out:
  build_state_clear(&b);
  kiln_context_free(ctx);
  return r;
}

void kiln_build_result_clear(kiln_build_result *result) {
  free(result->image_id);
  free(result->tag);
  memset(result, 0, sizeof *result);
}
