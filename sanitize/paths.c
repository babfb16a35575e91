/* Paths: absolute paths inside the image, and project-relative paths that
 * must resolve (symlinks included) inside the project folder. */
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/cleanup.h"

/* Characters the Dockerfile builder would expand or that end a quoted word. */
#define IMAGE_PATH_FORBIDDEN "$'\"\\`"

/* True when s has ".." as a whole path component. */
static bool has_dotdot_component(const char *s) {
  for (const char *p = s; (p = strstr(p, "..")); p += 2)
    if ((p == s || p[-1] == '/') && (p[2] == '/' || p[2] == '\0')) return true;
  return false;
}

int kiln_check_image_path(const char *path, const char *what, kiln_error **err) {
  if (kiln_check_text(path, KILN_MAX_PATH, what, err) < 0) return -1;
  char shown[KILN_SHOWN_MAX];
  if (path[0] != '/')
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" is not absolute; expected a path inside the image starting "
                          "with '/'",
                          what, kiln_show(path, shown));
  if (strpbrk(path, IMAGE_PATH_FORBIDDEN))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" contains $, a quote or a backslash; expected a plain path",
                          what, kiln_show(path, shown));
  if (has_dotdot_component(path))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" contains \"..\"; expected a path without parent references",
                          what, kiln_show(path, shown));
  return 0;
}

int kiln_check_copy_source(const char *src, const char *what, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  const char *bad = strpbrk(src, "$\\*?[");
  if (!bad) return 0;
  return kiln_error_set(err, KILN_EXIT_USAGE,
                        "%s \"%s\" contains '%c', which Docker would expand in a COPY source "
                        "(copying another path); rename the file or folder",
                        what, kiln_show(src, shown), *bad);
}

/* Trees of the system a volume must not cover (the target or below). */
static const char *const system_mount_trees[] = {
    "/proc", "/sys",   "/dev",   "/etc",    "/usr",  "/bin", "/sbin",
    "/lib",  "/lib32", "/lib64", "/libx32", "/boot", NULL,
};

int kiln_check_mount_target(const char *path, const char *what, kiln_error **err) {
  if (kiln_check_image_path(path, what, err) < 0) return -1;
  char shown[KILN_SHOWN_MAX];
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  bool bad = len == 1;
  for (size_t i = 0; !bad && system_mount_trees[i]; i++) {
    size_t n = strlen(system_mount_trees[i]);
    bad = len >= n && !strncmp(path, system_mount_trees[i], n) && (len == n || path[n] == '/');
  }
  if (bad)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" is a system folder of the container; expected a folder of "
                          "your own such as /data (not /, /proc, /sys, /dev, /etc, /usr, /bin, "
                          "/sbin, /lib or /boot)",
                          what, kiln_show(path, shown));
  return 0;
}

static const char *special_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

/* Joins the components of rel without "." and empty parts; refuses "..". */
static char *normalize_relative(const char *rel, const char *what, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_PATH);
  _cleanup_free_ char *copy = strdup(rel);
  if (!copy) return kiln_error_oom(err), NULL;
  char *save = NULL;
  for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (!strcmp(part, ".")) continue;
    if (!strcmp(part, "..")) {
      kiln_error_set(err, KILN_EXIT_USAGE,
                     "%s \"%s\" contains \"..\"; expected a path inside the project folder", what,
                     kiln_show(rel, shown));
      return NULL;
    }
    if ((b.len && kiln_buf_puts(&b, "/") < 0) || kiln_buf_puts(&b, part) < 0) {
      kiln_error_oom(err);
      return NULL;
    }
  }
  if (!b.len) {
    kiln_error_set(err, KILN_EXIT_USAGE,
                   "%s \"%s\" names the project folder itself; expected a file or folder "
                   "inside it",
                   what, kiln_show(rel, shown));
    return NULL;
  }
  return kiln_buf_steal(&b, NULL);
}

static bool is_inside(const char *root, const char *path) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/') return true;
  return !strncmp(root, path, n) && (path[n] == '/' || path[n] == '\0');
}

/* realpath of root/norm; a missing path is the user's mistake, anything
 * else (permissions, loops) an I/O failure. */
static char *resolve(const char *root, const char *norm, const char *rel, const char *what,
                     kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  _cleanup_free_ char *joined = NULL;
  if (asprintf(&joined, "%s/%s", root, norm) < 0) {
    kiln_error_oom(err);
    return NULL;
  }
  char *real = realpath(joined, NULL);
  if (real) return real;
  if (errno == ENOENT || errno == ENOTDIR)
    kiln_error_set(err, KILN_EXIT_USAGE,
                   "%s \"%s\" does not exist; expected a file or folder inside the project "
                   "folder %s",
                   what, kiln_show(rel, shown), root);
  else
    kiln_error_errno(err, errno, "%s \"%s\"", what, kiln_show(rel, shown));
  return NULL;
}

int kiln_check_project_path(const char *project_dir, const char *rel, const char *what,
                            char **normalized, bool *is_dir, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  if (kiln_check_text(rel, KILN_MAX_PATH, what, err) < 0) return -1;
  if (rel[0] == '/')
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" is absolute; expected a path relative to the project "
                          "folder",
                          what, kiln_show(rel, shown));
  _cleanup_free_ char *norm = normalize_relative(rel, what, err);
  if (!norm) return -1;
  _cleanup_free_ char *root = realpath(project_dir, NULL);
  if (!root) return kiln_error_errno(err, errno, "project folder %s", project_dir);
  _cleanup_free_ char *real = resolve(root, norm, rel, what, err);
  if (!real) return -1;
  if (!is_inside(root, real))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" leads outside the project folder (to %s); expected a path "
                          "that stays inside %s",
                          what, kiln_show(rel, shown), real, root);
  struct stat st;
  if (stat(real, &st) < 0)
    return kiln_error_errno(err, errno, "%s \"%s\"", what, kiln_show(rel, shown));
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" is %s, not a regular file or folder; expected a file or "
                          "folder Docker can copy",
                          what, kiln_show(rel, shown), special_kind(st.st_mode));
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  *normalized = steal_pointer(&norm);
  return 0;
}
