/* kiln image create/update: context, change detection, POST /build. */
#include <limits.h>
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

/* How much of a step's instruction an error message quotes. */
#define INSTRUCTION_QUOTE 160

kiln_context *kiln_context_for_spec(const kiln_spec *spec, const kiln_generated *gen,
                                    kiln_error **err) {
  kiln_context *ctx = kiln_context_new(spec->dir, gen->dockerfile, gen->dockerfile_len, err);
  if (!ctx) return NULL;
  int r = 0;
  if (spec->packages.requirements && kiln_context_add(ctx, spec->packages.requirements, err) < 0)
    r = kiln_error_prefix(err, "packages.requirements");
  if (r == 0 && spec->packages.pip_find_links &&
      kiln_context_add(ctx, spec->packages.pip_find_links, err) < 0)
    r = kiln_error_prefix(err, "packages.pip_find_links");
  for (size_t i = 0; r == 0 && i < spec->n_files; i++)
    if (kiln_context_add(ctx, spec->files[i].src, err) < 0)
      r = kiln_error_prefix(err, "files[%zu].src", i);
  if (r == 0 && spec->ssh.enabled && spec->ssh.authorized_keys &&
      kiln_context_add(ctx, spec->ssh.authorized_keys, err) < 0)
    r = kiln_error_prefix(err, "ssh.authorized_keys");
  if (r < 0) {
    kiln_context_free(ctx);
    return NULL;
  }
  return ctx;
}

/* ---- image inspection ---- */

/* The image's inspect document; NULL with *missing set (and no error) when
 * there is none, NULL with *err set otherwise. */
static json_t *inspect_image(kiln_engine *e, const char *name, bool *missing, kiln_error **err) {
  kiln_error *local = NULL;
  json_t *img = kiln_engine_inspect(e, KILN_OBJECT_IMAGE, name, false, &local);
  *missing = !img && !local;
  kiln_error_keep(err, local);
  return img;
}

static const char *label_of(json_t *img, const char *key) {
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  return json_string_value(json_object_get(labels, key));
}

static bool same(const char *a, const char *b) {
  return a && b && !strcmp(a, b);
}

/* ---- the build stream ---- */

typedef struct {
  const kiln_build_options *opts;
  int step, steps;
  char *instruction;                    /* of the current step */
  kiln_buf tail[KILN_BUILD_TAIL_LINES]; /* its last output lines, ANSI-free */
  size_t tail_next;
  char *image_id; /* from {"aux":{"ID":...}} */
  char *error;    /* from errorDetail.message or error */
} build_state;

static void build_state_init(build_state *b, const kiln_build_options *opts) {
  memset(b, 0, sizeof *b);
  b->opts = opts;
  for (size_t i = 0; i < KILN_BUILD_TAIL_LINES; i++)
    b->tail[i] = (kiln_buf)KILN_BUF_INIT(KILN_MAX_STREAM_LINE);
}

static void build_state_clear(build_state *b) {
  free(b->instruction);
  free(b->image_id);
  free(b->error);
  for (size_t i = 0; i < KILN_BUILD_TAIL_LINES; i++)
    kiln_buf_free(&b->tail[i]);
}

static void emit(const kiln_build_options *opts, const kiln_build_event *ev) {
  if (opts->on_event) opts->on_event(opts->user, ev);
}

/* Keeps the step's output, line by line, for the failure message; drops
 * the ANSI colour the engine wraps stderr in ("\033[91m...\033[0m"). An
 * engine object may hold part of a line or several lines. */
static void remember_output(build_state *b, const char *text) {
  for (const char *p = text; *p; p++) {
    kiln_buf *slot = &b->tail[b->tail_next % KILN_BUILD_TAIL_LINES];
    if (*p == '\033' && p[1] == '[') {
      for (p += 2; *p && !(*p >= '@' && *p <= '~'); p++)
        continue;
      if (!*p) break;
    } else if (*p == '\n' || *p == '\r') {
      if (slot->len) b->tail_next++;
      kiln_buf_reset(&b->tail[b->tail_next % KILN_BUILD_TAIL_LINES]);
    } else if (kiln_buf_append(slot, p, 1) < 0) {
      break; /* a line past KILN_MAX_STREAM_LINE: keep its start */
    }
  }
}

/* How a step line starts: Docker's classic builder ("Step 3/9 : RUN ..."),
 * Podman's buildah ("STEP 3/9: RUN ..."). */
static const struct {
  const char *word, *colon;
} step_formats[] = {{"Step ", " : "}, {"STEP ", ": "}};

/* "<word>N/M<colon>": the step numbers and where the instruction starts. */
static bool scan_step(const char *text, int *step, int *steps, size_t *used) {
  for (size_t i = 0; i < sizeof step_formats / sizeof *step_formats; i++) {
    size_t n = strlen(step_formats[i].word);
    if (strncmp(text, step_formats[i].word, n)) continue;
    char *end;
    long a = strtol(text + n, &end, 10);
    if (end == text + n || *end != '/') return false;
    const char *second = end + 1;
    long b = strtol(second, &end, 10);
    size_t c = strlen(step_formats[i].colon);
    if (end == second || strncmp(end, step_formats[i].colon, c) || a < 0 || b < 0 || a > INT_MAX ||
        b > INT_MAX)
      return false;
    *step = (int)a;
    *steps = (int)b;
    *used = (size_t)(end + c - text);
    return true;
  }
  return false;
}

/* A step line starts a step. */
static bool parse_step(build_state *b, const char *text) {
  int step, steps;
  size_t used;
  if (!scan_step(text, &step, &steps, &used)) return false;
  b->step = step;
  b->steps = steps;
  free(b->instruction);
  b->instruction = strndup(text + used, strcspn(text + used, "\r\n"));
  for (size_t i = 0; i < KILN_BUILD_TAIL_LINES; i++)
    kiln_buf_reset(&b->tail[i]);
  b->tail_next = 0;
  kiln_build_event ev = {KILN_BUILD_STEP, step, steps, b->instruction, NULL};
  emit(b->opts, &ev);
  return true;
}

/* Podman ends with the new image's id alone on a line. */
static bool is_image_id_line(const char *text) {
  size_t n = strspn(text, "0123456789abcdef");
  return n == 64 && !strcmp(text + n, "\n");
}

/* The engine's own bookkeeping lines, not the step's output ("--> " and
 * "COMMIT " are Podman's). */
static bool is_noise(const char *text) {
  static const char *const prefixes[] = {" ---> ",
                                         "Removing intermediate container",
                                         "Successfully built ",
                                         "Successfully tagged ",
                                         "--> ",
                                         "COMMIT "};
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (!strncmp(text, prefixes[i], strlen(prefixes[i]))) return true;
  return !strcmp(text, "\n") || is_image_id_line(text);
}

static int on_build_line(void *user, json_t *line) {
  build_state *b = user;
  const char *stream = json_string_value(json_object_get(line, "stream"));
  const char *id = json_string_value(json_object_get(json_object_get(line, "aux"), "ID"));
  const char *error =
      json_string_value(json_object_get(json_object_get(line, "errorDetail"), "message"));
  if (!error) error = json_string_value(json_object_get(line, "error"));
  if (error) {
    free(b->error);
    b->error = strdup(error);
  } else if (id) {
    free(b->image_id);
    b->image_id = strdup(id);
  } else if (stream && !parse_step(b, stream) && !is_noise(stream)) {
    remember_output(b, stream);
    kiln_build_event ev = {KILN_BUILD_OUTPUT, b->step, b->steps, stream, NULL};
    emit(b->opts, &ev);
  }
  return 0;
}

/* Both builders repeat the step's command in their message; the step line
 * already shows it, so keep only the exit code, said the same way for both.
 * Docker's classic builder: "The command '<cmd>' returned a non-zero code: N";
 * Podman's buildah, for a RUN (its command in shell form, not as the step
 * line shows it): "building at STEP \"<cmd>\": while running runtime: exit
 * status N\n". */
static const struct {
  const char *start, *marker;
} exit_code_formats[] = {{"The command '", "' returned a non-zero code: "},
                         {"building at STEP \"", "\": while running runtime: exit status "}};

static const char *short_cause(const char *error, char *buf, size_t n) {
  for (size_t i = 0; i < sizeof exit_code_formats / sizeof *exit_code_formats; i++) {
    const char *code = strstr(error, exit_code_formats[i].marker);
    if (strncmp(error, exit_code_formats[i].start, strlen(exit_code_formats[i].start)) || !code)
      continue;
    code += strlen(exit_code_formats[i].marker);
    snprintf(buf, n, "the command returned a non-zero code: %.*s", (int)strcspn(code, "\n"), code);
    return buf;
  }
  return error;
}

/* "build step 5/16 (RUN ...) failed: <cause>" and the step's last output
 * lines (the unfinished one included). */
static int build_failed(build_state *b, kiln_error **err) {
  kiln_build_event ev = {KILN_BUILD_ERROR, b->step, b->steps, b->error, NULL};
  emit(b->opts, &ev);
  _cleanup_buf_ kiln_buf msg = KILN_BUF_INIT(KILN_MAX_STREAM_LINE);
  const char *instr = b->instruction ? b->instruction : "?";
  char cause[96];
  kiln_buf_printf(&msg, "build step %d/%d (%.*s%s) failed: %s", b->step, b->steps,
                  INSTRUCTION_QUOTE, instr, strlen(instr) > INSTRUCTION_QUOTE ? "..." : "",
                  short_cause(b->error, cause, sizeof cause));
  size_t last = b->tail_next + (b->tail[b->tail_next % KILN_BUILD_TAIL_LINES].len ? 1 : 0);
  size_t n = last < KILN_BUILD_TAIL_LINES ? last : KILN_BUILD_TAIL_LINES;
  if (n) kiln_buf_puts(&msg, "\nlast output of the step:");
  for (size_t i = last - n; i < last; i++) {
    const kiln_buf *line = &b->tail[i % KILN_BUILD_TAIL_LINES];
    kiln_buf_printf(&msg, "\n  | %s", line->data ? line->data : "");
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "%s", msg.data ? msg.data : "build failed");
}

/* ---- the request ---- */

/* No timestamp among them: the classic builder makes one LABEL step per
 * query label, and equal values let a forced rebuild of unchanged files
 * come whole from the layer cache (the engine's Created is the time). */
static char *build_labels(const kiln_spec *spec, const char *digest, const char *base_id,
                          uint32_t owner) {
  char uid[16];
  snprintf(uid, sizeof uid, "%u", owner);
  const char *slash = strrchr(spec->path, '/');
  _cleanup_free_ char *spec_path = NULL;
  if (asprintf(&spec_path, "%s/%s", spec->dir, slash ? slash + 1 : spec->path) < 0) return NULL;
  _cleanup_json_ json_t *labels =
      json_pack("{s:s, s:s, s:s, s:s}", KILN_LABEL_CONTEXT_SHA256, digest, KILN_LABEL_BASE_ID,
                base_id, KILN_LABEL_OWNER_UID, uid, KILN_LABEL_SPEC_PATH, spec_path);
  return labels ? json_dumps(labels, JSON_COMPACT) : NULL;
}

/* version=1: the classic builder (BuildKit needs a session kiln does not
 * speak); rm+forcerm: no intermediate container survives, even on failure.
 * A NULL tag builds an untagged image. */
static char *build_query(const char *tag, const char *labels, const kiln_build_options *opts) {
  _cleanup_free_ char *t = tag ? kiln_engine_escape(tag) : strdup("");
  _cleanup_free_ char *l = kiln_engine_escape(labels);
  char *q = NULL;
  if (!t || !l ||
      asprintf(&q, "%s%s%slabels=%s&rm=1&forcerm=1&nocache=%d&pull=%d&version=1", tag ? "t=" : "",
               t, tag ? "&" : "", l, opts->nocache, opts->pull) < 0)
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
    /* the context failed (a file vanished...): that is the cause to show */
    kiln_error_free(*err);
    *err = NULL;
    return kiln_context_take_error(ctx, err);
  }
  return r < 0 ? kiln_error_prefix(err, "build") : 0;
}

static int fill_result(kiln_build_result *result, const char *tag, const char *id, bool up) {
  if (!id) return -1; /* callers check; never strdup(NULL) */
  result->up_to_date = up;
  result->tag = strdup(tag);
  result->image_id = strdup(id);
  return result->tag && result->image_id ? 0 : -1;
}

/* The base's image id, or NULL: missing without --pull is an error (kiln
 * never pulls behind the user's back); with --pull it is "" (unknown). */
static char *base_image_id(kiln_engine *e, const kiln_spec *spec, const kiln_build_options *opts,
                           kiln_error **err) {
  bool missing = false, pull = opts->pull;
  _cleanup_json_ json_t *base = inspect_image(e, spec->base_image, &missing, err);
  const char *id = json_string_value(json_object_get(base, "Id"));
  json_t *labels = json_object_get(json_object_get(base, "Config"), "Labels");
  if (base && opts->caller &&
      kiln_access_image(opts->caller, opts->ns, spec->base_image, labels, err) < 0)
    return kiln_error_prefix(err, "base image"), NULL;
  if (id) return strdup(id);
  if (base)
    return kiln_error_set(err, KILN_EXIT_ENGINE, "the engine gave no id for %s", spec->base_image),
           NULL;
  if (missing && pull) return strdup("");
  if (missing)
    kiln_error_set(err, KILN_EXIT_FAILURE,
                   "base image %s is not present locally, and kiln does not pull: load it with "
                   "docker load or kiln image import, or pass --pull when a registry is reachable",
                   spec->base_image);
  return NULL;
}

/* The existing tag is current when its labels name the same spec, context
 * and base image. */
static bool is_current(json_t *img, const kiln_generated *gen, const char *digest,
                       const char *base_id) {
  return same(label_of(img, KILN_LABEL_SPEC_SHA256), gen->spec_sha256) &&
         same(label_of(img, KILN_LABEL_CONTEXT_SHA256), digest) &&
         same(label_of(img, KILN_LABEL_BASE_ID), base_id) &&
         json_string_value(json_object_get(img, "Id"));
}

/* The image the tag named before a rebuild is left untagged; remove it so
 * updates do not pile up old images. Best effort: the engine refuses (409)
 * while a container still uses it, and then it stays. */
static void drop_previous(kiln_engine *e, json_t *previous, const char *new_id) {
  const char *old_id = json_string_value(json_object_get(previous, "Id"));
  if (!old_id || !new_id || !strcmp(old_id, new_id)) return;
  _cleanup_error_ kiln_error *ignored = NULL;
  kiln_engine_remove(e, KILN_OBJECT_IMAGE, old_id, NULL, false, &ignored);
}

/* The classic builder's answer when a cached layer it had just taken was
 * removed before the next step used it: another user's removal of the
 * last image built on a shared layer (the engine prunes untagged parents
 * then) races a build that hit the cache for it. */
static bool parent_vanished(const char *error) {
  return error && strstr(error, "unable to find image \"sha256:");
}

/* One POST /build of ctx; the image id in *id (new string), the last
 * step's numbers in steps[0..1] (may be NULL). Returns 0, -1 with *err set,
 * or 1 (no error set; a warning event told the user) when a cached layer
 * vanished under the build (parent_vanished): building again will do. */
static int build_once(kiln_engine *e, kiln_context *ctx, const char *query,
                      const kiln_build_options *opts, const char *what, char **id, int *steps,
                      kiln_error **err) {
  build_state b;
  build_state_init(&b, opts);
  int r = post_build(e, ctx, query, &b, err);
  if (r == 0 && parent_vanished(b.error)) {
    kiln_build_event ev = {KILN_BUILD_WARNING, b.step, b.steps,
                           "a layer this build took from the engine's cache was removed meanwhile "
                           "(someone removed the last image built on it); building again",
                           NULL};
    emit(opts, &ev);
    r = 1;
  } else if (r == 0 && b.error) {
    r = build_failed(&b, err);
  }
  if (r == 0 && !b.image_id)
    r = kiln_error_set(err, KILN_EXIT_ENGINE,
                       "the engine ended the build of %s without an image id (step %d/%d)", what,
                       b.step, b.steps);
  if (r == 0) *id = steal_pointer(&b.image_id);
  if (steps) steps[0] = b.step, steps[1] = b.steps;
  build_state_clear(&b);
  return r;
}

/* An image id the engine gave, as it may appear in a FROM line. */
static bool is_image_id(const char *id) {
  size_t n = strlen(id);
  return n == 71 && !strncmp(id, "sha256:", 7) && strspn(id + 7, "0123456789abcdef") == 64;
}

/* The untagged image `id` gets kiln's labels and the tag: a build of
 * "FROM id" alone (metadata only, no layer; the Dockerfile is the whole
 * context). On failure nothing is tagged and id is removed. */
static int finish_tagged(kiln_engine *e, const kiln_spec *spec, const char *tag, const char *id,
                         const char *labels, const kiln_build_options *opts, char **final_id,
                         kiln_error **err) {
  _cleanup_free_ char *dockerfile = NULL, *query = NULL;
  kiln_build_options quiet = *opts;
  quiet.on_event = NULL; /* the user saw the build; this step is bookkeeping */
  quiet.pull = false;
  int r = -1;
  if (!is_image_id(id))
    r = kiln_error_set(err, KILN_EXIT_ENGINE, "the engine gave an unexpected image id '%.80s'", id);
  else if (asprintf(&dockerfile, "FROM %s\n", id) < 0 ||
           !(query = build_query(tag, labels, &quiet)))
    r = kiln_error_oom(err);
  else {
    kiln_context *ctx = kiln_context_new(spec->dir, dockerfile, strlen(dockerfile), err);
    r = ctx ? build_once(e, ctx, query, &quiet, tag, final_id, NULL, err) : -1;
    if (r == 1)
      r = kiln_error_set(err, KILN_EXIT_ENGINE,
                         "the image %.19s was removed while kiln labelled it", id);
    kiln_context_free(ctx);
  }
  if (r < 0) {
    _cleanup_error_ kiln_error *ignored = NULL;
    kiln_engine_remove(e, KILN_OBJECT_IMAGE, id, NULL, true, &ignored);
  }
  return r < 0 ? kiln_error_prefix(err, "labelling the image") : 0;
}

/* The streamed build's only label: its owner, so that an untagged image a
 * kill between the two builds leaves is the owner's to gc (a dangling image
 * with the caller's owner label). New string or NULL. */
static char *owner_label(uint32_t owner) {
  char uid[16];
  snprintf(uid, sizeof uid, "%u", owner);
  _cleanup_json_ json_t *labels = json_pack("{s:s}", KILN_LABEL_OWNER_UID, uid);
  return labels ? json_dumps(labels, JSON_COMPACT) : NULL;
}

/* Builds ctx and tags it. With the digest known, one build carries kiln's
 * labels and the tag. Without it, the files are hashed as they stream (each
 * read once): that build has no tag and only the owner label (the same for
 * every build of this user, so the engine's layer cache serves it whole
 * when only the other labels would differ), and finish_tagged adds the
 * labels, the digest among them, and the tag. A failed build moves no tag
 * either way. Returns 0, -1, or 1 as build_once. */
static int run_build(kiln_engine *e, const kiln_spec *spec, kiln_context *ctx, const char *tag,
                     const char *digest, const char *base_id, const kiln_build_options *opts,
                     kiln_build_result *result, kiln_error **err) {
  _cleanup_free_ char *labels =
      digest ? build_labels(spec, digest, base_id, opts->owner_uid) : owner_label(opts->owner_uid);
  _cleanup_free_ char *query = labels ? build_query(digest ? tag : NULL, labels, opts) : NULL;
  if (!query) return kiln_error_oom(err);
  if (!digest && kiln_context_digest_while_streaming(ctx, err) < 0) return -1;
  _cleanup_free_ char *id = NULL, *final_id = NULL;
  char streamed[65];
  int steps[2] = {0, 0};
  int r = build_once(e, ctx, query, opts, tag, &id, steps, err);
  if (r == 0 && !digest) {
    r = kiln_context_streamed_digest(ctx, streamed, err);
    free(steal_pointer(&labels));
    if (r == 0 && !(labels = build_labels(spec, streamed, base_id, opts->owner_uid)))
      r = kiln_error_oom(err);
    if (r == 0) r = finish_tagged(e, spec, tag, id, labels, opts, &final_id, err);
  }
  if (r == 0 && fill_result(result, tag, final_id ? final_id : id, false) < 0)
    r = kiln_error_oom(err);
  if (r == 0) {
    result->context_bytes = kiln_context_bytes_sent(ctx);
    kiln_build_event ev = {KILN_BUILD_RESULT, steps[0], steps[1], tag, result->image_id};
    emit(opts, &ev);
  }
  return r;
}

/* The digest when the cache knows every file, when the files it does not
 * know are small (KILN_DIGEST_UPFRONT_BYTES: one build instead of two), or
 * when the existing image is current in everything else (then only the
 * digest can tell "up to date", so the changed files are read for it).
 * Else *known stays false: a build is needed whatever the content, and the
 * digest is made while the context streams. */
static int digest_upfront(kiln_context *ctx, json_t *existing, const kiln_generated *gen,
                          const char *base_id, const kiln_build_options *opts, char digest[65],
                          bool *known, kiln_error **err) {
  uint64_t uncached = 0;
  int r = kiln_context_digest_cached(ctx, digest, &uncached, err);
  if (r < 0) return -1;
  *known = r == 1;
  bool may_be_current = existing && !opts->force && !opts->nocache &&
                        same(label_of(existing, KILN_LABEL_SPEC_SHA256), gen->spec_sha256) &&
                        same(label_of(existing, KILN_LABEL_BASE_ID), base_id);
  if (*known || (!may_be_current && uncached > KILN_DIGEST_UPFRONT_BYTES)) return 0;
  if (kiln_context_digest(ctx, digest, err) < 0) return -1;
  *known = true;
  return 0;
}

int kiln_image_build(kiln_engine *e, const kiln_spec *spec, const kiln_generated *gen,
                     const kiln_build_options *opts, kiln_build_result *result, kiln_error **err) {
  memset(result, 0, sizeof *result);
  const char *tag = opts->tag ? opts->tag : gen->image_name;
  char digest[65];
  bool missing = false, known = false;
  kiln_context *ctx = kiln_context_for_spec(spec, gen, err);
  if (!ctx) return -1;
  for (size_t i = 0; i < kiln_context_n_warnings(ctx); i++) {
    kiln_build_event warn = {KILN_BUILD_WARNING, 0, 0, kiln_context_warning(ctx, i), NULL};
    emit(opts, &warn);
  }
  _cleanup_free_ char *base_id = NULL;
  _cleanup_json_ json_t *existing = NULL;
  int r = -1;
  if (!(base_id = base_image_id(e, spec, opts, err))) goto out;
  existing = inspect_image(e, tag, &missing, err);
  if (!existing && !missing) goto out;
  if (digest_upfront(ctx, existing, gen, base_id, opts, digest, &known, err) < 0) goto out;
  if (known && existing && !opts->force && !opts->nocache &&
      is_current(existing, gen, digest, base_id)) {
    const char *id = json_string_value(json_object_get(existing, "Id"));
    r = fill_result(result, tag, id, true) < 0 ? kiln_error_oom(err) : 0;
    kiln_build_event ev = {KILN_BUILD_UP_TO_DATE, 0, 0, tag, id};
    if (r == 0) emit(opts, &ev);
    goto out;
  }
  r = run_build(e, spec, ctx, tag, known ? digest : NULL, base_id, opts, result, err);
  if (r == 1) { /* a cached layer vanished under the build: once more, the context anew */
    kiln_context_free(ctx);
    ctx = kiln_context_for_spec(spec, gen, err);
    r = ctx ? run_build(e, spec, ctx, tag, known ? digest : NULL, base_id, opts, result, err) : -1;
    if (r == 1)
      r = kiln_error_set(err, KILN_EXIT_ENGINE,
                         "cached layers were removed under the build twice (images are being "
                         "removed on the engine right now); run the command again");
  }
  if (r == 0 && existing) drop_previous(e, existing, result->image_id);
out:
  kiln_context_free(ctx);
  if (r < 0) kiln_build_result_clear(result);
  return r;
}

void kiln_build_result_clear(kiln_build_result *result) {
  free(result->image_id);
  free(result->tag);
  memset(result, 0, sizeof *result);
}
