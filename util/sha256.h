/* SHA-256 through OpenSSL's EVP interface (libcrypto).
 *
 * Why OpenSSL: it is maintained, it uses the CPU's SHA extensions (SHA-NI)
 * or tuned assembly where there are none, and libcurl already loads it into
 * every kiln process. kiln used to carry a portable implementation that ran
 * at about a quarter of the speed; tests/unit/test_util.c checks the NIST
 * vectors against this one.
 *
 * A kiln_sha256 owns an EVP context: kiln_sha256_init allocates it,
 * kiln_sha256_final (or _final_hex) releases it, and kiln_sha256_free
 * releases it on paths that stop early (declare with _cleanup_sha256_). */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H

#include <stdbool.h>
#include <stddef.h>

struct evp_md_ctx_st; /* OpenSSL's EVP_MD_CTX, kept out of callers' headers */

typedef struct {
  struct evp_md_ctx_st *md;
  bool failed; /* an EVP call failed: final reports it */
} kiln_sha256;

#define KILN_SHA256_INIT                                                                           \
  { NULL, false }

/* Returns 0, or -1 when out of memory (s then owns nothing). */
int kiln_sha256_init(kiln_sha256 *s);
void kiln_sha256_update(kiln_sha256 *s, const void *data, size_t n);
/* Writes the 32-byte digest and releases s. Returns 0, or -1 if any step
 * failed (out of memory inside libcrypto). */
int kiln_sha256_final(kiln_sha256 *s, unsigned char out[32]);
/* The same, as 64 lowercase hex digits plus NUL. */
int kiln_sha256_final_hex(kiln_sha256 *s, char out[65]);
/* Releases s without a digest; safe to call twice or after final. */
void kiln_sha256_free(kiln_sha256 *s);
/* One call: 0, or -1 when out of memory. */
int kiln_sha256_hex(const void *data, size_t n, char out[65]);

#define _cleanup_sha256_ __attribute__((cleanup(kiln_sha256_free)))

#endif
