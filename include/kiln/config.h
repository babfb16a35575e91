/* kiln's site configuration: /etc/kiln/config.yaml, or the file named by
 * $KILN_CONFIG. Every key is optional; a missing default file means the
 * defaults below.
 *
 *   max_containers: 10    # per user, counted from the engine
 *   max_volumes: 100      # per user
 *   namespace: kiln       # images are <namespace>-<uid>/<project>
 *   legacy_timeout: 300   # seconds a legacy image's user setup may take
 */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stddef.h>

#include "kiln/error.h"

#define KILN_CONFIG_DEFAULT_PATH "/etc/kiln/config.yaml"

typedef struct {
  unsigned max_containers;
  unsigned max_volumes;
  char *ns;                /* owned */
  unsigned legacy_timeout; /* seconds */
  char *path;              /* owned; the file read, or NULL when only defaults apply */
} kiln_config;

/* Fills *cfg with the defaults (no file read). Free with kiln_config_clear. */
int kiln_config_defaults(kiln_config *cfg, kiln_error **err);

/* Reads $KILN_CONFIG (which must exist) or /etc/kiln/config.yaml (which may
 * be absent). Errors are "FILE:LINE:COL: problem" with code KILN_EXIT_USAGE.
 * Fills *cfg on success; free with kiln_config_clear. */
int kiln_config_load(kiln_config *cfg, kiln_error **err);

/* Same from memory; name is used in messages. */
int kiln_config_parse(kiln_config *cfg, const char *name, const char *text, size_t len,
                      kiln_error **err);

void kiln_config_clear(kiln_config *cfg);

#endif
