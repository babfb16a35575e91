/* The pure helpers behind export and its keep rule, exposed for tests: the
 * tarball's file name and its timestamp, the sidecar manifest, which older
 * tarballs to prune, and the name policy on an image reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

static bool has_tag_or_digest(const char *ref) {
  const char *slash = strrchr(ref, '/');
  return strchr(slash ? slash : ref, ':') || strchr(ref, '@');
}

char *kiln_export_safe_name(const char *image) {
  char *full = NULL;
  if (asprintf(&full, "%s%s", image, has_tag_or_digest(image) ? "" : ":latest") < 0) return NULL;
  for (char *p = full; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-'))
      *p = '_';
  return full;
}

char *kiln_export_file_name(const char *image, int64_t unix_time, kiln_compression c) {
  _cleanup_free_ char *safe = kiln_export_safe_name(image);
  char *name = NULL;
  if (!safe ||
      asprintf(&name, "%s-%lld%s", safe, (long long)unix_time,
               kiln_dist_compressions[(size_t)c < KILN_DIST_N_COMPRESSIONS ? c : 0].suffix) < 0)
    return NULL;
  return name;
}

int64_t kiln_export_file_time(const char *base, const char *safe) {
  size_t n = strlen(safe);
  if (strncmp(base, safe, n) || base[n] != '-') return -1;
  const char *p = base + n + 1, *digits = p;
  int64_t t = 0;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (p - digits >= 18) return -1;
    t = t * 10 + (*p - '0');
  }
  kiln_compression c;
  if (p == digits || *p != '.' || kiln_compression_of_file(p, &c) < 0 ||
      strcmp(p, kiln_dist_compressions[c].suffix))
    return -1;
  return t;
}

json_t *kiln_export_manifest(const char *sha256, uint64_t size, const char *image,
                             const char *image_id, json_t *labels, int64_t created,
                             const char *file, kiln_compression c, uint32_t owner_uid) {
  json_t *spec = json_object_get(labels, KILN_LABEL_SPEC_SHA256);
  json_t *m =
      json_pack("{s:s, s:I, s:s, s:s, s:O, s:I, s:s, s:s, s:s, s:I}", "sha256", sha256, "size",
                (json_int_t)size, "image", image, "image_id", image_id, "spec_sha256",
                json_is_string(spec) ? spec : json_null(), "created", (json_int_t)created,
                "kiln_version", kiln_version(), "file", file, "compression",
                kiln_compression_name(c), "owner_uid", (json_int_t)owner_uid);
  if (m && json_object_set_new(
               m, "labels", json_is_object(labels) ? json_deep_copy(labels) : json_object()) < 0) {
    json_decref(m);
    return NULL;
  }
  return m;
}

size_t kiln_keep_select(const int64_t *times, size_t n, unsigned keep, bool *prune) {
  size_t count = 0;
  if (keep == 0) keep = 1;
  for (size_t i = 0; i < n; i++) {
    size_t newer = 0; /* ties: the earlier entry counts as newer */
    for (size_t j = 0; j < n; j++)
      if (times[j] > times[i] || (times[j] == times[i] && j < i)) newer++;
    prune[i] = newer >= keep;
    count += prune[i];
  }
  return count;
}

int kiln_check_ref_policy(const char *ref, bool policy, kiln_error **err) {
  if (!policy) return 0;
  const char *slash = strrchr(ref, '/');
  const char *last = slash ? slash + 1 : ref;
  size_t len = strcspn(last, ":@");
  _cleanup_free_ char *name = strndup(last, len);
  if (!name) return kiln_error_oom(err);
  return kiln_check_name_policy(name, "image name", err);
}
