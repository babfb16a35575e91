/* Who runs kiln: the defaults for user.* in kiln.yaml. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln/spec.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

enum { PASSWD_BUF_START = 4096, PASSWD_BUF_MAX = 1 << 20 };

#define DEFAULT_SHELL "/bin/bash"

/* What the passwd database says about one uid. */
typedef struct {
  char *name;
  char *shell;
  gid_t gid;
  bool found;
} passwd_entry;

/* Shells that refuse logins are not what a container shell should be. */
static bool usable_shell(const char *shell) {
  static const char *const refusing[] = {"nologin", "false", NULL};
  if (!shell || shell[0] != '/') return false;
  const char *base = strrchr(shell, '/') + 1;
  for (size_t i = 0; refusing[i]; i++)
    if (!strcmp(base, refusing[i])) return false;
  return true;
}

/* Looks uid up (growing the buffer on ERANGE); an absent entry is not an
 * error: uids from LDAP or a bare container may have none. */
static void lookup_passwd(uid_t uid, passwd_entry *out) {
  for (size_t size = PASSWD_BUF_START; size <= PASSWD_BUF_MAX; size *= 2) {
    _cleanup_free_ char *buf = malloc(size);
    struct passwd pw, *found = NULL;
    if (!buf) return;
    int r = getpwuid_r(uid, &pw, buf, size, &found);
    if (r == ERANGE) continue;
    if (r != 0 || !found) return;
    out->found = true;
    out->gid = pw.pw_gid;
    out->name = strdup(pw.pw_name);
    out->shell = usable_shell(pw.pw_shell) ? strdup(pw.pw_shell) : NULL;
    return;
  }
}

/* SUDO_USER is what sudo recorded as the invoking login; it becomes a
 * label value and (sanitized) a user name, so it must be plain text. */
static int check_sudo_user(const char *user, kiln_error **err) {
  if (kiln_check_text(user, KILN_MAX_USER_NAME * 4, "SUDO_USER", err) < 0) return -1;
  return 0;
}

/* Under sudo, the person is SUDO_UID/SUDO_GID/SUDO_USER, not root. */
static int from_sudo(kiln_identity *id, const char *sudo_uid, kiln_error **err) {
  const char *gid = getenv("SUDO_GID"), *user = getenv("SUDO_USER");
  if (kiln_parse_id(sudo_uid, true, "SUDO_UID", &id->uid, err) < 0) return -1;
  passwd_entry pw = {NULL, NULL, 0, false};
  lookup_passwd(id->uid, &pw);
  id->shell = pw.shell;
  if (gid && *gid) {
    if (kiln_parse_id(gid, true, "SUDO_GID", &id->gid, err) < 0) {
      free(pw.name);
      return -1;
    }
  } else {
    id->gid = pw.found ? pw.gid : id->uid;
  }
  if (user && *user) {
    free(pw.name);
    if (check_sudo_user(user, err) < 0) return -1;
    id->name = strdup(user);
  } else {
    id->name = pw.name;
  }
  return 0;
}

static void from_process(kiln_identity *id) {
  passwd_entry pw = {NULL, NULL, 0, false};
  id->uid = getuid();
  id->gid = getgid();
  lookup_passwd(id->uid, &pw);
  id->name = pw.name;
  id->shell = pw.shell;
}

int kiln_identity_current(kiln_identity *id, kiln_error **err) {
  memset(id, 0, sizeof *id);
  /* SUDO_* only mean something when sudo made us root: anyone can set them. */
  const char *sudo_uid = geteuid() == 0 ? getenv("SUDO_UID") : NULL;
  if (sudo_uid && *sudo_uid) {
    if (from_sudo(id, sudo_uid, err) < 0) {
      kiln_identity_clear(id);
      return kiln_error_prefix(err, "kiln runs under sudo");
    }
    id->sudo = true;
  } else {
    from_process(id);
  }
  if (!id->name && asprintf(&id->name, "user%u", id->uid) < 0) id->name = NULL;
  if (!id->shell) id->shell = strdup(DEFAULT_SHELL);
  if (!id->name || !id->shell) {
    kiln_identity_clear(id);
    return kiln_error_oom(err);
  }
  return 0;
}

void kiln_identity_clear(kiln_identity *id) {
  free(id->name);
  free(id->shell);
  memset(id, 0, sizeof *id);
}
