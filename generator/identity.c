/* Who runs kiln: the defaults for user.* in kiln.yaml. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/spec.h"
#include "sanitize/sanitize.h"

/* Looks uid up in the passwd database; name and shell are new strings or
 * NULL when there is no entry. */
static void lookup_passwd(uid_t uid, char **name, char **shell) {
  struct passwd pw, *found = NULL;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) {
    *name = strdup(pw.pw_name);
    *shell = pw.pw_shell && *pw.pw_shell ? strdup(pw.pw_shell) : NULL;
  }
}

/* Under sudo, the person is SUDO_UID/SUDO_GID/SUDO_USER, not root. */
static int from_sudo(kiln_identity *id, kiln_error **err) {
  const char *uid = getenv("SUDO_UID"), *gid = getenv("SUDO_GID"), *user = getenv("SUDO_USER");
  if (kiln_parse_id(uid, true, "SUDO_UID", &id->uid, err) < 0) return -1;
  if (!gid) gid = uid;
  if (kiln_parse_id(gid, true, "SUDO_GID", &id->gid, err) < 0) return -1;
  lookup_passwd(id->uid, &id->name, &id->shell);
  if (user && *user) {
    free(id->name);
    id->name = strdup(user);
  }
  return 0;
}

int kiln_identity_current(kiln_identity *id, kiln_error **err) {
  memset(id, 0, sizeof *id);
  const char *sudo_uid = getenv("SUDO_UID");
  if (sudo_uid && *sudo_uid) {
    if (from_sudo(id, err) < 0) return kiln_error_prefix(err, "kiln runs under sudo");
  } else {
    id->uid = getuid();
    id->gid = getgid();
    lookup_passwd(id->uid, &id->name, &id->shell);
  }
  if (!id->name && asprintf(&id->name, "user%u", id->uid) < 0) id->name = NULL;
  if (!id->shell) id->shell = strdup("/bin/bash");
  if (!id->name || !id->shell) {
    kiln_identity_clear(id);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  }
  return 0;
}

void kiln_identity_clear(kiln_identity *id) {
  free(id->name);
  free(id->shell);
  memset(id, 0, sizeof *id);
}
