/* Where the templates and the catalog live: $KILN_TEMPLATES_DIR, else the
 * installed share folder next to the executable, else the source tree
 * recorded at configure time (running from the build tree). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/access.h"
#include "kiln/generate.h"
#include "util/cleanup.h"

static bool holds_catalog(const char *dir) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/catalog.json", dir) < 0) return false;
  return access(path, R_OK) == 0;
}

/* <dir of /proc/self/exe>/KILN_INSTALL_TEMPLATES_REL, or NULL. */
static char *installed_dir(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = '\0';
  char *dir = NULL;
  if (asprintf(&dir, "%s/%s", exe, KILN_INSTALL_TEMPLATES_REL) < 0) return NULL;
  return dir;
}

char *kiln_templates_dir(kiln_error **err) {
  const char *env = kiln_env("KILN_TEMPLATES_DIR");
  if (env && *env) {
    if (holds_catalog(env)) return strdup(env);
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "KILN_TEMPLATES_DIR=%s holds no readable catalog.json", env),
           NULL;
  }
  _cleanup_free_ char *installed = installed_dir();
  if (installed && holds_catalog(installed)) return steal_pointer(&installed);
  if (holds_catalog(KILN_SOURCE_TEMPLATES_DIR)) return strdup(KILN_SOURCE_TEMPLATES_DIR);
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "cannot find kiln's templates (catalog.json): tried $KILN_TEMPLATES_DIR "
                        "(unset), %s and %s; set KILN_TEMPLATES_DIR to the templates folder",
                        installed ? installed : "<exe dir>/" KILN_INSTALL_TEMPLATES_REL,
                        KILN_SOURCE_TEMPLATES_DIR),
         NULL;
}
