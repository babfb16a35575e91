/* POSIX shell single-quoting. */
#include "sanitize/sanitize.h"

#include <stdint.h>

#include "util/buf.h"

/* Inside '...' nothing is special except the closing quote, so each ' is
 * written as '\'' (close, escaped quote, reopen). */
char *kiln_shell_quote(const char *s) {
  kiln_buf b = KILN_BUF_INIT(SIZE_MAX / 8);
  int r = kiln_buf_puts(&b, "'");
  for (const char *p = s; *p && r == 0; p++)
    r = *p == '\'' ? kiln_buf_puts(&b, "'\\''") : kiln_buf_append(&b, p, 1);
  if (r == 0) r = kiln_buf_puts(&b, "'");
  if (r < 0) {
    kiln_buf_free(&b);
    return NULL;
  }
  return kiln_buf_steal(&b, NULL);
}
