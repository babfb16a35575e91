/* The state the container, volume, gc and distribution commands share: the
 * engine, the site configuration and who asks. Header-only, for cli/ alone. */
#ifndef KILN_CLI_SESSION_H
#define KILN_CLI_SESSION_H

#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kiln/access.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"

/* What every engine command needs: engine, config, who asks. Only the
 * engine is owned; config and caller are the process's (cli->config,
 * cli->caller). */
typedef struct {
  kiln_engine *engine;
  const kiln_config *config;
  const kiln_caller *caller;
  const kiln_identity *identity; /* &caller->id */
  kiln_owner owner;
} session;

static inline void session_clear(session *s) {
  kiln_engine_free(s->engine);
  s->engine = NULL;
}

/* all_users (--all-users) is refused unless the caller is an admin. */
static inline int session_open(kiln_cli *cli, session *s, bool all_users, kiln_error **err) {
  memset(s, 0, sizeof *s);
  s->config = cli->config;
  s->caller = cli->caller;
  s->identity = &cli->caller->id;
  if (all_users && kiln_access_all_users(cli->caller, err) < 0) return -1;
  if (!(s->engine = cli_engine_open(cli, err))) return -1;
  s->owner = (kiln_owner){.uid = s->identity->uid,
                          .gid = s->identity->gid,
                          .all_users = all_users,
                          .caller = cli->caller};
  return 0;
}

static inline const char *ns_of(const kiln_cli *cli, const session *s) {
  (void)s;
  return cli->ns;
}

#endif
