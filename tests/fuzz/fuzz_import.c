/* libFuzzer target for the import archive readers (archive_check.c, loadfilter.c):
 * the input is the file `kiln image import` would read (a docker save tar,
 * plain or gzip). Pass 1 (kiln_import_check_archive) must accept it or say
 * why; the non-admin load filter must stream a tar or fail saying why; the
 * filter's output, when it finishes, must itself be a tar pass 1 reads.
 * Never a crash, a leak, or a name that climbs out. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_of(const void *data, size_t n) {
  int fd = memfd_create("fuzz-import", MFD_CLOEXEC);
  if (fd < 0) abort();
  for (size_t at = 0; at < n;) {
    ssize_t w = write(fd, (const char *)data + at, n - at);
    if (w <= 0) abort();
    at += (size_t)w;
  }
  if (lseek(fd, 0, SEEK_SET) != 0) abort();
  return fd;
}

static bool check_archive(int fd) {
  char sha[65] = "";
  kiln_error *err = NULL;
  int r = kiln_import_check_archive(fd, NULL, sha, NULL, &err);
  if (r < 0 && !err) abort();
  if (r == 0 && (err || strlen(sha) != 64)) abort();
  kiln_error_free(err);
  return r == 0;
}

/* The filtered tar as a non-admin (uid 1000) would load it. */
static void filter(int fd, bool valid) {
  static kiln_caller caller;
  caller.id.uid = caller.id.gid = 1000;
  kiln_error *err = NULL;
  kiln_load_filter *f = kiln_load_filter_new(fd, &caller, "kiln", false, &err);
  if (!f) {
    if (!err) abort();
    kiln_error_free(err);
    return;
  }
  char *out = NULL;
  size_t len = 0, cap = 0;
  ssize_t n;
  char buf[65536];
  while ((n = kiln_load_filter_read(f, buf, sizeof buf)) > 0) {
    if (len + (size_t)n > cap) {
      cap = (len + (size_t)n) * 2;
      out = realloc(out, cap);
      if (!out) abort();
    }
    memcpy(out + len, buf, (size_t)n);
    len += (size_t)n;
  }
  if (n < 0 && !kiln_load_filter_error(f)) abort(); /* failure must say why */
  if (n == 0 && valid) {
    int again = memfd_of(out, len);
    if (!check_archive(again)) abort(); /* a valid archive stays valid filtered */
    close(again);
  }
  free(out);
  kiln_load_filter_free(f);
  kiln_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = memfd_of(data, size);
  bool valid = check_archive(fd);
  if (lseek(fd, 0, SEEK_SET) != 0) abort();
  filter(fd, valid);
  close(fd);
  return 0;
}
