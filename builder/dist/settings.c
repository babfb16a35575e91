/* The distribution settings read from the environment and the site
 * config: the shared tarball folder, the tarball mode, the registry and the
 * name policy. */
#include <stdlib.h>
#include <string.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "sanitize/sanitize.h"

const char *kiln_dist_shared_dir(const kiln_config *cfg) {
  const char *v = kiln_env("KILN_SHARED_DIR");
  if (v && *v) return v;
  return cfg && cfg->shared_dir && *cfg->shared_dir ? cfg->shared_dir : KILN_DEFAULT_SHARED_DIR;
}

unsigned kiln_dist_tar_mode(void) {
  const char *v = kiln_env("KILN_TAR_MODE");
  unsigned mode;
  if (!v || !*v || kiln_parse_mode(v, &mode, NULL) < 0 || mode > 0777) return KILN_DEFAULT_TAR_MODE;
  return mode;
}

const char *kiln_dist_registry(void) {
  const char *v = kiln_env("KILN_REGISTRY");
  return v && *v ? v : NULL;
}

bool kiln_dist_name_policy(void) {
  const char *v = kiln_env("KILN_NAME_POLICY");
  return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}
