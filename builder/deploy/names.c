/* The per-user engine names of containers and volumes ("NAME._.UID") and
 * the one grammar of a volume spec (NAME:/path[:ro|:rw]). */
#include "kiln/deploy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

/* The one rule for every per-user engine object: "NAME._.UID". */
static char *per_user_engine_name(const char *name, uint32_t uid) {
  char *s = NULL;
  return asprintf(&s, "%s._.%" PRIu32, name, uid) < 0 ? NULL : s;
}

char *kiln_container_engine_name(const char *name, uint32_t uid) {
  return per_user_engine_name(name, uid);
}

char *kiln_volume_engine_name(const char *name, uint32_t uid) {
  return per_user_engine_name(name, uid);
}

char *kiln_engine_short_name(const char *engine_name, const char *owner_uid) {
  size_t n = strlen(engine_name), k = owner_uid ? strlen(owner_uid) : 0;
  if (k && n > k + 3 && !strcmp(engine_name + n - k, owner_uid) &&
      !strncmp(engine_name + n - k - 3, "._.", 3))
    return strndup(engine_name, n - k - 3);
  return strdup(engine_name);
}

int kiln_parse_volume_spec(const char *spec, char **name, char **target, bool *read_only,
                           kiln_error **err) {
  const char *colon = strchr(spec, ':');
  if (!colon || colon == spec)
    return kiln_error_set(err, KILN_EXIT_USAGE, "volume '%s': expected NAME:/path[:ro]", spec);
  const char *path = colon + 1;
  const char *mode = strchr(path, ':');
  size_t path_len = mode ? (size_t)(mode - path) : strlen(path);
  *read_only = false;
  if (mode && strcmp(mode + 1, "ro") && strcmp(mode + 1, "rw"))
    return kiln_error_set(err, KILN_EXIT_USAGE, "volume '%s': mode must be ro or rw, got '%s'",
                          spec, mode + 1);
  if (mode) *read_only = !strcmp(mode + 1, "ro");
  _cleanup_free_ char *n = strndup(spec, (size_t)(colon - spec));
  _cleanup_free_ char *t = strndup(path, path_len);
  if (!n || !t) return kiln_error_oom(err);
  if (strchr(n, '/'))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "volume '%s': '%s' is a path; -v takes a named volume (the workspace "
                          "folder is mounted already)",
                          spec, n);
  if (kiln_check_volume_name(n, err) < 0) return kiln_error_prefix(err, "volume \"%.64s\"", spec);
  if (kiln_check_mount_target(t, "volume target", err) < 0)
    return kiln_error_prefix(err, "volume '%s'", spec);
  *name = steal_pointer(&n);
  *target = steal_pointer(&t);
  return 0;
}
