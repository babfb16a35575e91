/* Lock files for what must not race between kiln processes: counting a
 * user's containers or volumes before creating one, and adapting one base
 * image for one user. flock(2) locks go away with the process, so a killed
 * kiln never leaves a stale lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/deploy_private.h"
#include "util/cleanup.h"

/* Usable when it is (or can be made) a folder writable by us. */
static bool usable_dir(const char *dir, mode_t mode) {
  if (mkdir(dir, mode) < 0 && errno != EEXIST) return false;
  struct stat st;
  return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

char *kiln_lock_dir(kiln_error **err) {
  char *dir = NULL;
  if (geteuid() == 0 && usable_dir("/run/kiln", 0755)) return strdup("/run/kiln");
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  if (xdg && *xdg == '/' && asprintf(&dir, "%s/kiln", xdg) >= 0) {
    if (usable_dir(dir, 0700)) return dir;
    free(dir);
    dir = NULL;
  }
  if (asprintf(&dir, "/tmp/kiln-%u", (unsigned)geteuid()) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  struct stat st;
  /* /tmp is shared: the folder must be ours and private. */
  if (usable_dir(dir, 0700) && lstat(dir, &st) == 0 && st.st_uid == geteuid() &&
      !(st.st_mode & 077))
    return dir;
  kiln_error_set(err, KILN_EXIT_FAILURE,
                 "no folder for lock files: /run/kiln, $XDG_RUNTIME_DIR/kiln and %s are not "
                 "usable",
                 dir);
  free(dir);
  return NULL;
}

int kiln_lock_acquire(const char *name, volatile sig_atomic_t *interrupted, kiln_error **err) {
  _cleanup_free_ char *dir = kiln_lock_dir(err);
  if (!dir) return -1;
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s.lock", dir, name) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot open lock file %s", path);
  while (flock(fd, LOCK_EX) < 0) {
    if (errno != EINTR) return kiln_error_errno(err, errno, "cannot lock %s", path);
    if (interrupted && *interrupted)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "interrupted while waiting for %s", path);
  }
  return steal_fd(&fd);
}

void kiln_lock_release(int fd) {
  if (fd >= 0) close(fd); /* closing drops the flock */
}
