/* Helpers shared by the files in sanitize/; not part of the library API. */
#ifndef KILN_SANITIZE_PRIVATE_H
#define KILN_SANITIZE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/error.h"

/* The pcre2 grammars (patterns.c), compiled on first use. */
enum kiln_pattern {
  KILN_PAT_IMAGE_REF,
  KILN_PAT_TAG,
  KILN_PAT_PROJECT,
  KILN_PAT_LABEL_KEY,
  KILN_PAT_ENV_NAME,
  KILN_PAT_APT,
  KILN_PAT_PIP,
  KILN_PAT_GPU_IDS,
  KILN_PAT_INDEX_URL,
  KILN_PAT_VOLUME_NAME,
  KILN_PAT_COUNT
};

/* 1 when the whole of s matches, 0 when not, -1 with *err set when the
 * pattern could not be compiled or matched (code KILN_EXIT_FAILURE). */
int kiln_pattern_match(enum kiln_pattern id, const char *s, kiln_error **err);

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is invalid
 * (overlong, surrogate, past U+10FFFF, truncated). Reads no further than the
 * first byte that breaks the sequence, so a NUL stops it. */
size_t kiln_utf8_sequence_length(const unsigned char *p);

/* An untrusted value made safe to echo in a message: control characters and
 * invalid UTF-8 escaped as \xNN, '"' and '\' escaped, cut with "..." after
 * about 64 bytes. Writes into out and returns it. */
#define KILN_SHOWN_MAX 128
const char *kiln_show(const char *value, char out[KILN_SHOWN_MAX]);

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow.
 * Returns 0 and *out, or -1. */
int kiln_parse_u64(const char *s, uint64_t *out);

/* The text rule plus "not empty" plus a grammar; the message names `what`,
 * echoes the value and says what was expected. */
int kiln_check_grammar(enum kiln_pattern id, const char *value, size_t max, const char *what,
                       const char *expected, kiln_error **err);

#endif
