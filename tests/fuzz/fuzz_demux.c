/* libFuzzer target for the exec/logs stream demultiplexer (kiln_demux_feed,
 * the engine's 8-byte-header frames): the first byte picks a read size, the
 * rest is the stream. Fed in reads of that size and fed whole, every stream
 * must get the same bytes in the same order (frames split anywhere across
 * reads), no payload may come from a header, and nothing may crash or read
 * past the input. A payload starting with '!' makes the callback fail,
 * which must stop the feed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  uint64_t digest[256]; /* per stream number, of its bytes in order */
  size_t bytes;
  size_t pieces;
  bool failed;
} seen;

static int on_piece(void *user, int stream, const char *data, size_t n) {
  seen *s = user;
  if (stream < 0 || stream > 255 || n == 0 || s->failed) abort();
  for (size_t i = 0; i < n; i++)
    s->digest[stream] = (s->digest[stream] ^ (unsigned char)data[i]) * 1099511628211u;
  s->bytes += n;
  s->pieces++;
  if (data[0] == '!' && s->pieces == 1) {
    s->failed = true;
    return -1;
  }
  return 0;
}

static int feed_all(const char *text, size_t n, size_t step, seen *s) {
  kiln_demux d = {0};
  for (size_t at = 0; at < n; at += step) {
    size_t take = n - at < step ? n - at : step;
    if (kiln_demux_feed(&d, text + at, take, on_piece, s) < 0) return -1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t step = (size_t)data[0] + 1;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  seen *cut = calloc(1, sizeof *cut), *whole = calloc(1, sizeof *whole);
  if (!cut || !whole) abort();
  int a = feed_all(text, n, step, cut);
  int b = feed_all(text, n, n ? n : 1, whole);
  if (a != b || a != (whole->failed ? -1 : 0)) abort();
  if (cut->bytes > n) abort(); /* payload can only come from the input */
  /* A failure stops at the first piece, which differs with the read size;
   * otherwise every stream's bytes must match. */
  if (a == 0 &&
      (cut->bytes != whole->bytes || memcmp(cut->digest, whole->digest, sizeof cut->digest)))
    abort();
  free(cut);
  free(whole);
  return 0;
}
