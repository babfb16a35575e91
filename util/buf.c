#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(kiln_buf *b, size_t extra) {
  if (extra > b->cap || b->len > b->cap - extra) return -1;
  size_t need = b->len + extra + 1;
  if (need <= b->alloc) return 0;
  size_t n = b->alloc ? b->alloc : 64;
  while (n < need)
    n = n > SIZE_MAX / 2 ? need : n * 2;
  char *p = realloc(b->data, n);
  if (!p) return -1;
  b->data = p;
  b->alloc = n;
  return 0;
}

int kiln_buf_append(kiln_buf *b, const void *data, size_t n) {
  if (grow(b, n) < 0) return -1;
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int kiln_buf_puts(kiln_buf *b, const char *s) {
  return kiln_buf_append(b, s, strlen(s));
}

int kiln_buf_vprintf(kiln_buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0 || grow(b, (size_t)n) < 0) return -1;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int kiln_buf_printf(kiln_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = kiln_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return r;
}

void kiln_buf_consume(kiln_buf *b, size_t n) {
  if (n >= b->len) {
    kiln_buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

void kiln_buf_reset(kiln_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

char *kiln_buf_steal(kiln_buf *b, size_t *len) {
  if (!b->data) {
    if (grow(b, 0) < 0) return NULL;
    b->data[0] = '\0';
  }
  char *d = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->alloc = 0;
  return d;
}

void kiln_buf_free(kiln_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->alloc = 0;
}
