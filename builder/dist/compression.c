/* The compressions of a tarball, one row each: their names, file suffixes,
 * magic bytes and libarchive filters. */
#include <stdbool.h>
#include <string.h>

#include <archive.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"

const kiln_dist_compression kiln_dist_compressions[] = {
    [KILN_COMPRESS_NONE] = {"none", ".tar", {0}, 0, NULL, NULL},
    [KILN_COMPRESS_GZIP] = {"gzip",
                            ".tar.gz",
                            {0x1f, 0x8b},
                            2,
                            archive_write_add_filter_gzip,
                            archive_read_support_filter_gzip},
    [KILN_COMPRESS_ZSTD] = {"zstd",
                            ".tar.zst",
                            {0x28, 0xb5, 0x2f, 0xfd},
                            4,
                            archive_write_add_filter_zstd,
                            archive_read_support_filter_zstd},
};

const char *kiln_compression_name(kiln_compression c) {
  return (size_t)c < KILN_DIST_N_COMPRESSIONS ? kiln_dist_compressions[c].name : "none";
}

int kiln_compression_parse(const char *name, kiln_compression *out) {
  for (size_t i = 0; name && i < KILN_DIST_N_COMPRESSIONS; i++)
    if (!strcmp(name, kiln_dist_compressions[i].name)) return *out = (kiln_compression)i, 0;
  return -1;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

int kiln_compression_of_file(const char *name, kiln_compression *out) {
  for (size_t i = 0; i < KILN_DIST_N_COMPRESSIONS; i++)
    if (ends_with(name, kiln_dist_compressions[i].suffix)) return *out = (kiln_compression)i, 0;
  return -1;
}

kiln_compression kiln_compression_of_magic(const unsigned char *data, size_t n) {
  for (size_t i = 1; i < KILN_DIST_N_COMPRESSIONS; i++)
    if (n >= kiln_dist_compressions[i].magic_len &&
        !memcmp(data, kiln_dist_compressions[i].magic, kiln_dist_compressions[i].magic_len))
      return (kiln_compression)i;
  return KILN_COMPRESS_NONE;
}

/* Every compression's reader, for an archive read as tar. */
int kiln_dist_support_compressions(struct archive *a) {
  for (size_t i = 1; i < KILN_DIST_N_COMPRESSIONS; i++)
    if (kiln_dist_compressions[i].add_read(a) != ARCHIVE_OK) return -1;
  return 0;
}

bool kiln_is_gzip(const unsigned char *data, size_t n) {
  return kiln_compression_of_magic(data, n) == KILN_COMPRESS_GZIP;
}
