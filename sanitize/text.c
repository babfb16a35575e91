/* Free text: the control-character and UTF-8 rule every other check starts
 * from, RUN steps, and how an untrusted value is echoed in a message. */
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <stdio.h>
#include <string.h>

/* Well-formed UTF-8 (Unicode 15, table 3-7): lead byte range, sequence
 * length, and the allowed range of the second byte (later bytes 80..BF). */
static const struct {
  unsigned char lead_lo, lead_hi, len, second_lo, second_hi;
} utf8_forms[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF}, {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF}, {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
};

size_t kiln_utf8_sequence_length(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  for (size_t f = 0; f < sizeof utf8_forms / sizeof *utf8_forms; f++) {
    if (p[0] < utf8_forms[f].lead_lo || p[0] > utf8_forms[f].lead_hi) continue;
    if (p[1] < utf8_forms[f].second_lo || p[1] > utf8_forms[f].second_hi) return 0;
    for (size_t i = 2; i < utf8_forms[f].len; i++)
      if ((p[i] & 0xC0) != 0x80) return 0;
    return utf8_forms[f].len;
  }
  return 0;
}

static bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

/* C1 controls U+0080..U+009F, encoded C2 80..C2 9F: some terminals obey them. */
static bool is_c1_control(const unsigned char *p, size_t n) {
  return n == 2 && p[0] == 0xC2 && p[1] < 0xA0;
}

/* Bytes of the value shown before "..."; the last step may add 4 more. */
enum { SHOWN_CUT = 64 };
_Static_assert(SHOWN_CUT + 4 + sizeof "..." <= KILN_SHOWN_MAX, "kiln_show buffer too small");

const char *kiln_show(const char *value, char out[KILN_SHOWN_MAX]) {
  size_t w = 0;
  const unsigned char *p = (const unsigned char *)value;
  while (*p && w < SHOWN_CUT) {
    size_t n = kiln_utf8_sequence_length(p);
    if (n == 1 && (*p == '"' || *p == '\\')) {
      w += (size_t)snprintf(out + w, KILN_SHOWN_MAX - w, "\\%c", *p);
    } else if (n == 0 || (n == 1 && is_control(*p)) || is_c1_control(p, n)) {
      w += (size_t)snprintf(out + w, KILN_SHOWN_MAX - w, "\\x%02x", *p);
      n = 1; /* escape byte by byte */
    } else {
      memcpy(out + w, p, n);
      w += n;
    }
    p += n;
  }
  if (*p) w += (size_t)snprintf(out + w, KILN_SHOWN_MAX - w, "...");
  out[w] = '\0';
  return out;
}

int kiln_check_text(const char *value, size_t max, const char *what, kiln_error **err) {
  size_t len = strlen(value);
  if (len > max)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is %zu bytes long; expected at most %zu", what,
                          len, max);
  for (const unsigned char *p = (const unsigned char *)value; *p;) {
    if (is_control(*p))
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            "%s contains the control character 0x%02x at byte %zu; expected "
                            "text without newlines, tabs or other control characters",
                            what, *p, (size_t)(p - (const unsigned char *)value));
    size_t n = kiln_utf8_sequence_length(p);
    if (!n)
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            "%s is not valid UTF-8 (byte %zu); expected UTF-8 text", what,
                            (size_t)(p - (const unsigned char *)value));
    p += n;
  }
  return 0;
}

int kiln_check_grammar(enum kiln_pattern id, const char *value, size_t max, const char *what,
                       const char *expected, kiln_error **err) {
  if (kiln_check_text(value, max, what, err) < 0) return -1;
  if (!*value)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is empty; expected %s", what, expected);
  int m = kiln_pattern_match(id, value, err);
  if (m < 0) return -1;
  char shown[KILN_SHOWN_MAX];
  if (!m)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s \"%s\" is not valid; expected %s", what,
                          kiln_show(value, shown), expected);
  return 0;
}

int kiln_check_run_command(const char *cmd, kiln_error **err) {
  if (kiln_check_text(cmd, KILN_MAX_SCALAR_BYTES, "run step", err) < 0) return -1;
  size_t len = strlen(cmd);
  if (!len)
    return kiln_error_set(err, KILN_EXIT_USAGE, "run step is empty; expected a shell command");
  if (cmd[len - 1] == '\\')
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "run step ends with a backslash, which would join the next Dockerfile "
                          "line; expected a complete command");
  return 0;
}
