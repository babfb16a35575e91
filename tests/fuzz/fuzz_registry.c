/* libFuzzer target for registry references and credentials (registry.c):
 * input lines are (1) a reference, (2) a server, (3) a sub-path, and the
 * rest a docker config.json. A reference splits into server, path and
 * reference or fails saying why; base64 decodes only what it can encode
 * back (decode(encode(x)) == x, both alphabets); the auths of config.json
 * give credentials or an error, never a crash or a leak. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kiln/distribute.h"

/* A config naming credsStore/credHelpers runs docker-credential-<name>:
 * with no PATH to find one in, the fuzzer never starts a real helper. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setenv("PATH", "/nonexistent-kiln-fuzz", 1);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of [*at, end) as a new string (NULs end it early). */
static char *next_line(const char **at, const char *end) {
  const char *nl = memchr(*at, '\n', (size_t)(end - *at));
  size_t n = nl ? (size_t)(nl - *at) : (size_t)(end - *at);
  char *s = strndup(*at, n);
  *at = nl ? nl + 1 : end;
  return s;
}

static void check_split(const char *ref) {
  char *server, *path, *reference;
  kiln_error *err = NULL;
  if (kiln_registry_split(ref, &server, &path, &reference, &err) == 0) {
    if (err || !server || !path || !reference || strchr(server, '/') || !*server) abort();
  } else if (!err) {
    abort();
  }
  free(server);
  free(path);
  free(reference);
  kiln_error_free(err);
}

static void check_ref(const char *server, const char *sub, const char *local) {
  kiln_error *err = NULL;
  char *ref = kiln_registry_ref(server, sub, local, &err);
  if (!ref && !err) abort();
  if (ref && (err || strncmp(ref, server, strlen(server)))) abort();
  free(ref);
  kiln_error_free(err);
}

/* decode(encode(x)) == x in both alphabets; a decoded text encodes back. */
static void check_base64(const char *text, const uint8_t *raw, size_t raw_n) {
  for (int url = 0; url < 2; url++) {
    char *enc = kiln_base64_encode(raw, raw_n, url);
    size_t n = 0;
    unsigned char *dec = enc ? kiln_base64_decode(enc, &n) : NULL;
    if (enc && (!dec || n != raw_n || (raw_n && memcmp(dec, raw, raw_n)))) abort();
    free(enc);
    free(dec);
  }
  size_t n = 0;
  unsigned char *dec = kiln_base64_decode(text, &n);
  if (dec) {
    char *again = kiln_base64_encode(dec, n, false);
    size_t m = 0;
    unsigned char *back = again ? kiln_base64_decode(again, &m) : NULL;
    if (again && (!back || m != n || memcmp(back, dec, n))) abort();
    free(again);
    free(back);
  }
  free(dec);
}

static void check_config(const char *text, size_t n, const char *server) {
  int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
  if (fd < 0) return;
  if (n && write(fd, text, n) != (ssize_t)n) abort();
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  int r = kiln_registry_auth_from_config(path, server, &auth, &err);
  if (r < 0 && !err) abort();
  if (r == 0 && (err || (auth.username && !auth.password))) abort();
  kiln_registry_auth_clear(&auth);
  kiln_error_free(err);
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *at = (const char *)data, *end = at + size;
  char *ref = next_line(&at, end);
  char *server = next_line(&at, end);
  char *sub = next_line(&at, end);
  if (!ref || !server || !sub) abort();
  check_split(ref);
  check_ref(server, sub, ref);
  check_base64(ref, data, size);
  check_config(at, (size_t)(end - at), server);
  free(ref);
  free(server);
  free(sub);
  return 0;
}
