/* Lock files for what must not race between kiln processes: counting a
 * user's containers or volumes before creating one, and adapting one base
 * image for one user.
 *
 * One folder for every caller of the host, whatever the environment or the
 * mode kiln runs in: /run/kiln (root creates it sticky and world-writable,
 * like /tmp, so that docker-group users share it; packaging/tmpfiles.d
 * creates it at boot). The lock files there are root's where root made them,
 * and the sticky bit keeps users from removing them: a user cannot swap the
 * file under a waiting kiln to count twice. flock(2) locks go away with the
 * process, so a killed kiln never leaves a stale lock; a lock held longer
 * than KILN_LOCK_WAIT_S is an error, not a hang. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"

#define LOCK_DIR       "/run/kiln"
#define LOCK_POLL_NS   50000000L /* 50 ms between tries */
#define LOCK_FILE_MODE 0644

/* The folder must be a real folder of root's, sticky when others may write. */
static int check_dir(const struct stat *st, kiln_error **err) {
  if (!S_ISDIR(st->st_mode) || st->st_uid != 0 ||
      ((st->st_mode & S_IWOTH) && !(st->st_mode & S_ISVTX)))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "refusing lock folder %s: it must be a folder owned by root, sticky "
                          "when world-writable (rm -rf %s; kiln recreates it as root)",
                          LOCK_DIR, LOCK_DIR);
  return 0;
}

char *kiln_lock_dir(kiln_error **err) {
  struct stat st;
  if (lstat(LOCK_DIR, &st) < 0 && errno == ENOENT && geteuid() == 0) {
    if (mkdir(LOCK_DIR, 0755) < 0 && errno != EEXIST)
      return kiln_error_errno(err, errno, "cannot create %s", LOCK_DIR), NULL;
    if (chmod(LOCK_DIR, 01777) < 0)
      return kiln_error_errno(err, errno, "cannot set the mode of %s", LOCK_DIR), NULL;
  }
  if (lstat(LOCK_DIR, &st) < 0)
    return kiln_error_errno(err, errno,
                            "no lock folder %s (run any kiln command once as root, or let "
                            "the admin install packaging/tmpfiles.d/kiln.conf)",
                            LOCK_DIR),
           NULL;
  if (check_dir(&st, err) < 0) return NULL;
  char *dir = strdup(LOCK_DIR);
  if (!dir) kiln_error_oom(err);
  return dir;
}

/* Root uses only lock files of its own: a file another user left under
 * that name is replaced (the sticky folder lets root, not them, remove it). */
static int open_as_root(const char *path, kiln_error **err) {
  for (int attempt = 0; attempt < 2; attempt++) {
    _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, LOCK_FILE_MODE);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) return kiln_error_errno(err, errno, "lock file %s", path);
    if (S_ISREG(st.st_mode) && st.st_uid == 0) {
      if (fchmod(fd, LOCK_FILE_MODE) < 0) return kiln_error_errno(err, errno, "lock file %s", path);
      return steal_fd(&fd);
    }
    if (unlink(path) < 0) return kiln_error_errno(err, errno, "lock file %s", path);
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "lock file %s keeps being replaced", path);
}

/* Anyone else reads the shared file (flock needs no write access) or makes
 * it when it is not there yet. */
static int open_as_user(const char *path, kiln_error **err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT)
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, LOCK_FILE_MODE);
  if (fd < 0 && errno == EEXIST) fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot open lock file %s", path);
  return fd;
}

int kiln_lock_acquire(const char *name, volatile sig_atomic_t *interrupted, kiln_error **err) {
  _cleanup_free_ char *dir = kiln_lock_dir(err);
  if (!dir) return -1;
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s.lock", dir, name) < 0) return kiln_error_oom(err);
  _cleanup_close_ int fd = geteuid() == 0 ? open_as_root(path, err) : open_as_user(path, err);
  if (fd < 0) return -1;
  const struct timespec pause = {0, LOCK_POLL_NS};
  for (long waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += LOCK_POLL_NS) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return kiln_error_errno(err, errno, "cannot lock %s", path);
    if (interrupted && *interrupted) {
      char what[320];
      snprintf(what, sizeof what, "was waiting for %s", path);
      return kiln_error_interrupted(err, *interrupted, what);
    }
    if (waited / 1000000000L >= KILN_LOCK_WAIT_S)
      return kiln_error_set(err, KILN_EXIT_FAILURE,
                            "another kiln has held %s for more than %d s; try again later", path,
                            KILN_LOCK_WAIT_S);
    nanosleep(&pause, NULL);
  }
  return steal_fd(&fd);
}

void kiln_lock_release(int fd) {
  if (fd >= 0) close(fd); /* closing drops the flock */
}
