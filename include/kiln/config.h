/* kiln's site configuration: /etc/kiln/config.yaml (for admins only, the
 * file named by $KILN_CONFIG; see kiln/access.h). Every key is optional; a
 * missing site file means the defaults below.
 *
 *   max_containers: 10    # per user, counted from the engine
 *   max_volumes: 100      # per user
 *   namespace: kiln       # images are <namespace>-<uid>/<project>
 *   legacy_timeout: 300   # seconds a legacy image's user setup may take
 *   admin_group: kiln-admin   # members act as admins (default: none)
 *   container_sudo: false     # allow user.sudo (root inside containers)
 *   runtimes: [nvidia, genv]  # engine runtimes containers may ask for
 *   shared_dir: /srv/kiln/images  # where export/tar put tarballs
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stddef.h>

#include "kiln/error.h"
#include "kiln/spec.h"

#define KILN_CONFIG_DEFAULT_PATH "/etc/kiln/config.yaml"
#define KILN_DEFAULT_NAMESPACE   "kiln"
#define KILN_DEFAULT_SHARED_DIR  "/srv/kiln/images"

typedef struct {
  unsigned max_containers;
  unsigned max_volumes;
  char *ns;                /* owned */
  unsigned legacy_timeout; /* seconds */
  char *admin_group;       /* owned; NULL = no admin group */
  bool container_sudo;     /* user.sudo allowed (no no-new-privileges) */
  kiln_strv runtimes;      /* allowed engine runtimes */
  char *shared_dir;        /* owned; tarball folder */
  char *path;              /* owned; the file read, or NULL when only defaults apply */
} kiln_config;

/* Fills *cfg with the defaults (no file read). Free with kiln_config_clear. */
int kiln_config_defaults(kiln_config *cfg, kiln_error **err);

/* Reads path. A site file (site = true) may be absent (defaults) and must
 * be a regular file owned by root and writable by no one else; any other
 * file must exist. Errors are "FILE:LINE:COL: problem" with code
 * KILN_EXIT_USAGE. Fills *cfg on success; free with kiln_config_clear. */
int kiln_config_load_file(kiln_config *cfg, const char *path, bool site, kiln_error **err);

/* Whether runtime is in cfg->runtimes. */
bool kiln_config_allows_runtime(const kiln_config *cfg, const char *runtime);

/* Same from memory; name is used in messages. */
int kiln_config_parse(kiln_config *cfg, const char *name, const char *text, size_t len,
                      kiln_error **err);

void kiln_config_clear(kiln_config *cfg);

#endif
