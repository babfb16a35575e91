/* libFuzzer target for the engine's JSON-lines reader (builder/engine/stream.c):
 * the first byte picks a read size, the rest is the engine's answer. Fed in
 * reads of that size and fed whole, the reader must hand out the same
 * objects and end the same way (cut reads are the normal case), never crash,
 * leak or pass a line past its cap; a failure must say why. An object with
 * a "stop" member makes the callback stop the stream. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "builder/engine/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  size_t objects;
  uint64_t digest; /* of every object's compact text, in order */
} seen;

static int on_line(void *user, json_t *line) {
  seen *s = user;
  if (!json_is_object(line) && !json_is_array(line)) abort();
  char *text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  for (const char *p = text; p && *p; p++)
    s->digest = (s->digest ^ (unsigned char)*p) * 1099511628211u;
  free(text);
  s->objects++;
  return json_object_get(line, "stop") ? -1 : 0;
}

/* Feeds text in reads of `step` bytes; returns 0 or -1 (err set). */
static int read_all(const char *text, size_t n, size_t step, seen *s, kiln_error **err) {
  kiln_json_stream st;
  kiln_json_stream_init(&st, on_line, s);
  int r = 0;
  for (size_t at = 0; r == 0 && at < n; at += step)
    r = kiln_json_stream_feed(&st, text + at, n - at < step ? n - at : step, err);
  if (r == 0) r = kiln_json_stream_finish(&st, err);
  if (st.objects != s->objects) abort();
  kiln_json_stream_free(&st);
  if (r < 0 && (!*err || !(*err)->message)) abort(); /* failure must say why */
  if (r == 0 && *err) abort();
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] + 1;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  seen cut = {0, 14695981039346656037u}, whole = {0, 14695981039346656037u};
  kiln_error *cut_err = NULL, *whole_err = NULL;
  int a = read_all(text, n, step, &cut, &cut_err);
  int b = read_all(text, n, n ? n : 1, &whole, &whole_err);
  if (a != b || cut.objects != whole.objects || cut.digest != whole.digest) abort();
  if (a < 0 && (cut_err->code != whole_err->code || strcmp(cut_err->message, whole_err->message)))
    abort();
  kiln_error_free(cut_err);
  kiln_error_free(whole_err);
  return 0;
}
