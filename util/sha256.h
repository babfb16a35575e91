/* SHA-256 (FIPS 180-4). None of kiln's dependencies exports a hash, so kiln
 * carries this one; tests/unit/test_util.c checks the NIST vectors. */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t total;
  unsigned char block[64];
  size_t used;
} kiln_sha256;

void kiln_sha256_init(kiln_sha256 *s);
void kiln_sha256_update(kiln_sha256 *s, const void *data, size_t n);
void kiln_sha256_final(kiln_sha256 *s, unsigned char out[32]);
/* Finishes into 64 lowercase hex digits plus NUL. */
void kiln_sha256_final_hex(kiln_sha256 *s, char out[65]);
void kiln_sha256_hex(const void *data, size_t n, char out[65]);

#endif
