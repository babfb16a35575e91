/* The state the container, volume and gc commands share: the engine, the
 * site configuration and who asks. Header-only, for cli/ alone. */
#ifndef KILN_CLI_SESSION_H
#define KILN_CLI_SESSION_H

#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"

/* What every container command needs: engine, config, who asks. */
typedef struct {
  kiln_engine *engine;
  kiln_config config;
  kiln_identity identity;
  kiln_owner owner;
} session;

static inline void session_clear(session *s) {
  kiln_engine_free(s->engine);
  kiln_config_clear(&s->config);
  kiln_identity_clear(&s->identity);
}

static inline int session_open(kiln_cli *cli, session *s, bool all_users, kiln_error **err) {
  memset(s, 0, sizeof *s);
  if (all_users && geteuid() != 0)
    return kiln_error_set(err, KILN_EXIT_USAGE, "--all-users needs root (run kiln through sudo)");
  if (kiln_config_load(&s->config, err) < 0 || kiln_identity_current(&s->identity, err) < 0)
    return -1;
  kiln_engine_options eo = KILN_ENGINE_OPTIONS_INIT;
  eo.host = cli->host;
  if (!(s->engine = kiln_engine_open(&eo, err))) return -1;
  s->owner = (kiln_owner){s->identity.uid, s->identity.gid, all_users};
  return 0;
}

static inline const char *ns_of(const kiln_cli *cli, const session *s) {
  return cli->ns ? cli->ns : s->config.ns;
}

#endif
