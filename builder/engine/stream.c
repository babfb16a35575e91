/* JSON-lines reader for engine streams; see stream.h. */
#include "builder/engine/stream.h"

#include <stdbool.h>
#include <string.h>

#include "sanitize/limits.h"
#include "util/json_cleanup.h"

/* How much of a bad line an error message quotes. */
#define QUOTE_BYTES 80

void kiln_json_stream_init(kiln_json_stream *s, kiln_engine_line_fn on_line, void *user) {
  s->line = (kiln_buf)KILN_BUF_INIT(KILN_MAX_STREAM_LINE);
  s->on_line = on_line;
  s->user = user;
  s->objects = 0;
}

void kiln_json_stream_free(kiln_json_stream *s) {
  kiln_buf_free(&s->line);
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One line may hold several objects (advance by the parsed length). */
static int parse_line(kiln_json_stream *s, const char *p, size_t n, bool cut, kiln_error **err) {
  for (;;) {
    while (n && is_blank(*p))
      p++, n--;
    if (!n) return 0;
    json_error_t jerr;
    _cleanup_json_ json_t *obj = json_loadb(p, n, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!obj && cut)
      return kiln_error_set(err, KILN_EXIT_ENGINE,
                            "the engine's answer ended inside a JSON object (connection cut?): "
                            "%.*s",
                            (int)(n < QUOTE_BYTES ? n : QUOTE_BYTES), p);
    if (!obj)
      return kiln_error_set(err, KILN_EXIT_ENGINE, "the engine sent a malformed line (%s): %.*s",
                            jerr.text, (int)(n < QUOTE_BYTES ? n : QUOTE_BYTES), p);
    size_t used = jerr.position > 0 && (size_t)jerr.position <= n ? (size_t)jerr.position : n;
    s->objects++;
    if (s->on_line(s->user, obj) < 0)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "the reader of the engine's answer stopped it");
    p += used;
    n -= used;
  }
}

int kiln_json_stream_feed(kiln_json_stream *s, const char *data, size_t n, kiln_error **err) {
  while (n) {
    const char *nl = memchr(data, '\n', n);
    size_t chunk = nl ? (size_t)(nl - data) : n;
    if (kiln_buf_append(&s->line, data, chunk) < 0)
      return kiln_error_set(err, KILN_EXIT_ENGINE,
                            "the engine sent a line longer than %u bytes (KILN_MAX_STREAM_LINE)",
                            KILN_MAX_STREAM_LINE);
    if (!nl) return 0;
    int r = parse_line(s, s->line.data ? s->line.data : "", s->line.len, false, err);
    kiln_buf_reset(&s->line);
    if (r < 0) return r;
    data = nl + 1;
    n -= chunk + 1;
  }
  return 0;
}

int kiln_json_stream_finish(kiln_json_stream *s, kiln_error **err) {
  int r = s->line.len ? parse_line(s, s->line.data, s->line.len, true, err) : 0;
  kiln_buf_reset(&s->line);
  return r;
}
