/* libFuzzer target for .dockerignore: the first line of the input is the
 * pattern list, with '|' standing for a line break (so comments, '!' and
 * blank lines are reachable); every further line is a path to match. Must
 * never crash, leak or hang; parse errors are fine but must say why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/image/dockerignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  size_t first = nl ? (size_t)(nl - text) : size;
  char *patterns = malloc(first + 1);
  if (!patterns) return 0;
  for (size_t i = 0; i < first; i++)
    patterns[i] = text[i] == '|' ? '\n' : text[i];
  patterns[first] = '\0';
  kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(patterns, first, &err);
  free(patterns);
  if (!ig && !err) abort(); /* failure must say why */
  kiln_error_free(err);
  for (size_t pos = first + 1; ig && pos < size;) {
    const char *end = memchr(text + pos, '\n', size - pos);
    size_t n = end ? (size_t)(end - (text + pos)) : size - pos;
    char *path = strndup(text + pos, n);
    if (path) {
      (void)kiln_ignore_match(ig, path);
      (void)kiln_ignore_walk_excluded_dir(ig, path);
    }
    free(path);
    pos += n + 1;
  }
  kiln_ignore_free(ig);
  return 0;
}
