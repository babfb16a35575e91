/* The reader for the engine's JSON-lines answers (build, load, push, pull,
 * events): bytes in, one parsed JSON object per callback out.
 *
 * Objects end with "\n" (build/load/push send "\r\n"); a read may end in
 * the middle of one or hold several. A line longer than KILN_MAX_STREAM_LINE
 * is an error, never a silent cut. Internal to builder/. */
#ifndef KILN_BUILDER_STREAM_H
#define KILN_BUILDER_STREAM_H

#include <stddef.h>

#include "kiln/engine.h"
#include "util/buf.h"

typedef struct {
  kiln_buf line; /* the unfinished line, capped at KILN_MAX_STREAM_LINE */
  kiln_engine_line_fn on_line;
  void *user;
  size_t objects; /* objects handed to on_line so far */
} kiln_json_stream;

/* on_line gets every object (borrowed for the call); returning <0 stops. */
void kiln_json_stream_init(kiln_json_stream *s, kiln_engine_line_fn on_line, void *user);

/* Feeds n bytes. Returns 0, or -1 with *err set: a malformed line or one
 * past the cap (KILN_EXIT_ENGINE), or on_line asked to stop
 * (KILN_EXIT_FAILURE). */
int kiln_json_stream_feed(kiln_json_stream *s, const char *data, size_t n, kiln_error **err);

/* At the end of the answer: parses a last line without "\n"; an object cut
 * short (the connection ended inside it) is an error (KILN_EXIT_ENGINE). */
int kiln_json_stream_finish(kiln_json_stream *s, kiln_error **err);

/* Frees the line buffer; the struct may be initialised again. */
void kiln_json_stream_free(kiln_json_stream *s);

#endif
