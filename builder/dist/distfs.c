/* Reading the tarball folder with the caller's rights (kiln/access.h's
 * kiln_fs_drop): what kiln lists or reads there is what the caller could. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "builder/dist/dist_private.h"
#include "kiln/access.h"

/* Takes on the caller's rights; false (errno EPERM) when it cannot. */
static bool as_caller(kiln_fs_rights *saved) {
  kiln_error *e = NULL;
  if (kiln_fs_drop(saved, &e) == 0) return true;
  kiln_error_free(e);
  errno = EPERM;
  return false;
}

/* Back to kiln's own rights, errno kept. */
static void back(kiln_fs_rights *saved) {
  int saved_errno = errno;
  kiln_fs_restore(saved);
  errno = saved_errno;
}

int kiln_dist_open_read(const char *path, int flags) {
  kiln_fs_rights saved;
  if (!as_caller(&saved)) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
  back(&saved);
  return fd;
}

int kiln_dist_stat(const char *path, struct stat *st, bool follow) {
  kiln_fs_rights saved;
  if (!as_caller(&saved)) return -1;
  int r = follow ? stat(path, st) : lstat(path, st);
  back(&saved);
  return r;
}

json_t *kiln_dist_names(const char *dir, size_t max, kiln_error **err) {
  int fd = kiln_dist_open_read(dir, O_DIRECTORY);
  if (fd < 0) return kiln_error_errno(err, errno, "cannot list %s", dir), NULL;
  DIR *d = fdopendir(fd); /* reading an open folder needs no further rights */
  if (!d) {
    close(fd);
    return kiln_error_errno(err, errno, "cannot list %s", dir), NULL;
  }
  json_t *names = json_array();
  for (struct dirent *e; names && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (json_array_size(names) >= max) break;
    json_array_append_new(names, json_string(e->d_name));
  }
  closedir(d);
  if (!names) kiln_error_oom(err);
  return names;
}
