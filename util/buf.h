/* A growable byte buffer with a hard cap (curl's dynbuf idea).
 * The data is always NUL-terminated so it can be used as a string. */
#ifndef KILN_BUF_H
#define KILN_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
  char *data; /* owned; NULL until the first append */
  size_t len;
  size_t alloc;
  size_t cap; /* maximum len; appends past it fail */
} kiln_buf;

#define KILN_BUF_INIT(max)                                                                         \
  { NULL, 0, 0, (max) }

/* Each returns 0, or -1 when out of memory or past the cap (then the
 * buffer is unchanged). */
int kiln_buf_append(kiln_buf *b, const void *data, size_t n);
int kiln_buf_puts(kiln_buf *b, const char *s);
int kiln_buf_printf(kiln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Drops the first n bytes (used by stream parsers). */
void kiln_buf_consume(kiln_buf *b, size_t n);
void kiln_buf_reset(kiln_buf *b);
/* Returns the data (caller frees) and leaves the buffer empty. Never NULL
 * unless out of memory. */
char *kiln_buf_steal(kiln_buf *b, size_t *len);
void kiln_buf_free(kiln_buf *b);

static inline void cleanup_bufp(kiln_buf *b) {
  kiln_buf_free(b);
}
#define _cleanup_buf_ __attribute__((cleanup(cleanup_bufp)))

#endif
