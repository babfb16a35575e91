#include "util/sha256.h"

#include <openssl/evp.h>

int kiln_sha256_init(kiln_sha256 *s) {
  *s = (kiln_sha256)KILN_SHA256_INIT;
  if (!(s->md = EVP_MD_CTX_new())) return -1;
  if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
    kiln_sha256_free(s);
    return -1;
  }
  return 0;
}

void kiln_sha256_update(kiln_sha256 *s, const void *data, size_t n) {
  if (!s->md || s->failed) return;
  if (n && EVP_DigestUpdate(s->md, data, n) != 1) s->failed = true;
}

int kiln_sha256_final(kiln_sha256 *s, unsigned char out[32]) {
  unsigned len = 0;
  int ok = s->md && !s->failed && EVP_DigestFinal_ex(s->md, out, &len) == 1 && len == 32;
  kiln_sha256_free(s);
  return ok ? 0 : -1;
}

static void to_hex(const unsigned char d[32], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[64] = '\0';
}

int kiln_sha256_final_hex(kiln_sha256 *s, char out[65]) {
  unsigned char d[32];
  if (kiln_sha256_final(s, d) < 0) return -1;
  to_hex(d, out);
  return 0;
}

void kiln_sha256_free(kiln_sha256 *s) {
  EVP_MD_CTX_free(s->md);
  s->md = NULL;
}

int kiln_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char d[32];
  unsigned len = 0;
  if (EVP_Digest(data, n, d, &len, EVP_sha256(), NULL) != 1 || len != 32) return -1;
  to_hex(d, out);
  return 0;
}
