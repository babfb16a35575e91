/* libFuzzer target for the template renderer: arbitrary template text over
 * a fixed model, no templates folder (partials are refused). Must never
 * crash, leak, or exceed its caps; errors are fine. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "sanitize/sanitize.h"
#include "templates/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *fixed_model(void) {
  json_error_t jerr;
  return json_loads("{\"name\": \"a\\\"b $x\", \"n\": 42, \"t\": true, \"f\": false,"
                    " \"z\": null, \"e\": [], \"s\": \"\", \"l\": [\"x\", \"y\", 3],"
                    " \"o\": [{\"k\": \"1\", \"l\": [1, 2]}, {\"k\": \"2\"}],"
                    " \"u\": {\"h\": \"/home/u\", \"d\": {\"v\": \"d\\n\"}}}",
                    0, &jerr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static json_t *model;
  if (!model) model = fixed_model();
  kiln_error *err = NULL;
  size_t len = 0;
  char *out = kiln_render_string(NULL, "fuzz.tmpl", (const char *)data, size, model, &len, &err);
  if (out && len > KILN_MAX_DOCKERFILE_BYTES) abort();
  if (!out && !err) abort(); /* failure must say why */
  free(out);
  kiln_error_free(err);
  return 0;
}
