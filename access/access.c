/* The access module: who the caller is, and every "may this caller do
 * this?" decision (see kiln/access.h). */
#include "kiln/access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"

/* The one caller and configuration of this process (kiln_access_begin). */
static const kiln_caller *current_caller;
static const kiln_config *current_config;

/* ---- the caller ---- */

/* The groups the group database gives uid (sudo mode: not this process's). */
static int database_groups(kiln_caller *c, kiln_error **err) {
  struct passwd pw, *found = NULL;
  char buf[16384];
  int n = KILN_MAX_GROUPS;
  c->groups = calloc(KILN_MAX_GROUPS, sizeof *c->groups);
  if (!c->groups) return kiln_error_oom(err);
  if (getpwuid_r(c->id.uid, &pw, buf, sizeof buf, &found) != 0 || !found) {
    c->groups[0] = c->id.gid; /* a uid without a passwd entry: its gid only */
    c->n_groups = 1;
    return 0;
  }
  if (getgrouplist(pw.pw_name, c->id.gid, c->groups, &n) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "user %s is in more than %d groups", pw.pw_name,
                          KILN_MAX_GROUPS);
  c->n_groups = (size_t)n;
  return 0;
}

static int process_groups(kiln_caller *c, kiln_error **err) {
  int n = getgroups(0, NULL);
  if (n < 0 || n > KILN_MAX_GROUPS)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot read this process's groups");
  c->groups = calloc((size_t)n + 1, sizeof *c->groups);
  if (!c->groups) return kiln_error_oom(err);
  if ((n = getgroups(n, c->groups)) < 0) return kiln_error_errno(err, errno, "getgroups");
  c->groups[n] = c->id.gid;
  c->n_groups = (size_t)n + 1;
  return 0;
}

static bool has_group(const kiln_caller *c, gid_t gid) {
  if (c->id.gid == gid) return true;
  for (size_t i = 0; i < c->n_groups; i++)
    if (c->groups[i] == gid) return true;
  return false;
}

static bool in_admin_group(const kiln_caller *c, const char *admin_group) {
  if (!admin_group || !*admin_group) return false;
  struct group gr, *found = NULL;
  char buf[65536];
  if (getgrnam_r(admin_group, &gr, buf, sizeof buf, &found) != 0 || !found) return false;
  return has_group(c, found->gr_gid);
}

int kiln_caller_current(kiln_caller *c, const char *admin_group, kiln_error **err) {
  memset(c, 0, sizeof *c);
  if (kiln_identity_current(&c->id, err) < 0) return -1;
  c->sudo = c->id.sudo;
  int r = c->sudo ? database_groups(c, err) : process_groups(c, err);
  if (r < 0) {
    kiln_caller_clear(c);
    return -1;
  }
  c->admin = c->id.uid == 0 || in_admin_group(c, admin_group);
  return 0;
}

void kiln_caller_clear(kiln_caller *c) {
  if (current_caller == c) current_caller = NULL;
  kiln_identity_clear(&c->id);
  free(c->groups);
  memset(c, 0, sizeof *c);
}

int kiln_access_begin(kiln_config *cfg, kiln_caller *c, kiln_error **err) {
  if (kiln_config_load_file(cfg, KILN_CONFIG_DEFAULT_PATH, true, err) < 0) return -1;
  if (kiln_caller_current(c, cfg->admin_group, err) < 0) {
    kiln_config_clear(cfg);
    return -1;
  }
  const char *own = getenv("KILN_CONFIG");
  if (c->admin && own && *own) {
    kiln_config_clear(cfg);
    if (kiln_config_load_file(cfg, own, false, err) < 0) {
      kiln_caller_clear(c);
      return -1;
    }
  }
  /* Root's own access checks do not use groups (its capabilities decide),
   * so the process takes on the caller's groups once: with the caller's
   * fsuid (kiln_fs_drop) files are then checked exactly as for them. */
  if (c->sudo && geteuid() == 0 && setgroups(c->n_groups, c->groups) < 0) {
    kiln_error_errno(err, errno, "cannot take on your groups");
    kiln_caller_clear(c);
    kiln_config_clear(cfg);
    return -1;
  }
  current_caller = c;
  current_config = cfg;
  return 0;
}

const kiln_caller *kiln_access_caller(void) {
  return current_caller;
}

/* The environment overrides kiln_env() guards (the list README documents). */
static const char *const env_overrides[] = {
    "KILN_CONFIG",
    "KILN_TEMPLATES_DIR",
    "KILN_SHARED_DIR",
    "KILN_TAR_MODE",
    "DOCKER_HOST",
    "DOCKER_API_VERSION",
    "DOCKER_CONFIG",
    "KILN_CRED_HELPER_TIMEOUT_MS",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
    "KILN_LEGACY_SETUP_DELAY",
    NULL,
};

char *kiln_caller_cache_dir(void) {
  const char *xdg = current_caller && current_caller->sudo ? NULL : getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return strdup(xdg); /* the XDG rule: a relative value is ignored */
  _cleanup_free_ char *home = kiln_caller_home();
  char *out = NULL;
  return home && asprintf(&out, "%s/.cache", home) >= 0 ? out : NULL;
}

char *kiln_docker_config_dir(void) {
  const char *dir = kiln_env("DOCKER_CONFIG");
  if (dir && *dir) return strdup(dir);
  _cleanup_free_ char *home = kiln_caller_home();
  char *out = NULL;
  return home && asprintf(&out, "%s/.docker", home) >= 0 ? out : NULL;
}

static char *passwd_home(uid_t uid) {
  struct passwd pw, *found = NULL;
  char buf[16384];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || !found || !pw.pw_dir ||
      pw.pw_dir[0] != '/')
    return NULL;
  return strdup(pw.pw_dir);
}

char *kiln_caller_home(void) {
  if (current_caller && current_caller->sudo) return passwd_home(current_caller->id.uid);
  const char *home = getenv("HOME");
  return home && home[0] == '/' ? strdup(home) : passwd_home(getuid());
}

const char *kiln_env_ignored(void) {
  if (!current_caller || current_caller->admin) return NULL;
  for (size_t i = 0; env_overrides[i]; i++) {
    const char *v = getenv(env_overrides[i]);
    if (v && *v) return env_overrides[i];
  }
  return NULL;
}

bool kiln_env_trusted(void) {
  return !current_caller || current_caller->admin;
}

/* The environment anyone may set: choices within their own rights. */
static const char *const env_for_everyone[] = {"KILN_NAMESPACE", "KILN_NAME_POLICY",
                                               "KILN_REGISTRY", NULL};

const char *kiln_env(const char *name) {
  for (const char *const *e = env_for_everyone; *e; e++)
    if (!strcmp(*e, name)) return getenv(name);
  return kiln_env_trusted() ? getenv(name) : NULL;
}

/* ---- images and tags ---- */

char *kiln_namespace_repo(const char *ns, uint32_t uid, const char *project) {
  char *repo = NULL;
  if (asprintf(&repo, "%s-%" PRIu32 "/%s", ns ? ns : KILN_DEFAULT_NAMESPACE, uid, project) < 0)
    return NULL;
  return repo;
}

char *kiln_namespace_ref(const char *ns, uint32_t uid, const char *project, const char *tag) {
  _cleanup_free_ char *repo = kiln_namespace_repo(ns, uid, project);
  char *ref = NULL;
  if (!repo || asprintf(&ref, "%s:%s", repo, tag ? tag : "latest") < 0) return NULL;
  return ref;
}

/* The uid of ref's namespace when its first component is "<ns>-<digits>/"
 * for ns; false otherwise. */
static bool namespace_uid(const char *ref, const char *ns, uint32_t *uid) {
  size_t nl = ns ? strlen(ns) : 0;
  if (!nl || strchr(ns, '/') || strncmp(ref, ns, nl) || ref[nl] != '-') return false;
  const char *digits = ref + nl + 1, *p = digits;
  uint64_t v = 0;
  for (; *p >= '0' && *p <= '9' && v <= KILN_MAX_ID; p++)
    v = v * 10 + (uint64_t)(*p - '0');
  if (p == digits || *p != '/' || v > KILN_MAX_ID) return false;
  *uid = (uint32_t)v;
  return true;
}

static bool site_namespace_uid(const char *ref, const char *ns, uint32_t *uid) {
  if (namespace_uid(ref, ns, uid)) return true;
  return current_config && namespace_uid(ref, current_config->ns, uid);
}

int kiln_access_tag(const kiln_caller *c, const char *ns, const char *ref, kiln_error **err) {
  if (c->admin) return 0;
  uint32_t uid;
  if (namespace_uid(ref, ns, &uid) && uid == c->id.uid) return 0;
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "refusing to tag %s: you may only create or move tags in your own "
                        "namespace %s-%" PRIu32 "/",
                        ref, ns, c->id.uid);
}

/* A decimal uid; false when not one. */
static bool parse_uid(const char *v, uint32_t *out) {
  if (!v || !*v || strlen(v) > 10) return false;
  uint64_t n = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    n = n * 10 + (uint64_t)(*p - '0');
  }
  if (n > KILN_MAX_ID) return false;
  *out = (uint32_t)n;
  return true;
}

/* A decimal id label; false when absent or not a number. */
static bool label_uid(json_t *labels, const char *key, uint32_t *out) {
  return parse_uid(json_string_value(json_object_get(labels, key)), out);
}

int kiln_access_image(const kiln_caller *c, const char *ns, const char *ref, json_t *labels,
                      kiln_error **err) {
  if (c->admin) return 0;
  uint32_t uid;
  if (label_uid(labels, KILN_LABEL_OWNER_UID, &uid) && uid != c->id.uid)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "image %s belongs to uid %" PRIu32 "; another user's images are "
                          "private (they can share it with push/pull or export/import)",
                          ref, uid);
  if (site_namespace_uid(ref, ns, &uid) && uid != c->id.uid)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "image %s is in the namespace of uid %" PRIu32 "; another user's "
                          "images are private (they can share it with push/pull or "
                          "export/import)",
                          ref, uid);
  return 0;
}

int kiln_access_build(const kiln_caller *c, const kiln_config *cfg, const kiln_spec *spec,
                      kiln_error **err) {
  if (c->admin) return 0;
  const char *yaml = spec->path ? spec->path : "kiln.yaml";
  if (spec->user.uid != c->id.uid)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s: user.uid %" PRIu32 " is not you (uid %" PRIu32 "); only an admin "
                          "builds images for another user; remove user.uid to build for yourself",
                          yaml, spec->user.uid, c->id.uid);
  if (!has_group(c, spec->user.gid))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s: user.gid %" PRIu32 " is not one of your groups; remove user.gid "
                          "to use your own",
                          yaml, spec->user.gid);
  if (spec->user.sudo && !cfg->container_sudo)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s: user.sudo is not allowed on this server (root in a container "
                          "with your folder mounted is root over those files); remove it, or "
                          "ask the admin to set container_sudo: true",
                          yaml);
  return 0;
}

bool kiln_access_owns(const kiln_caller *c, json_t *labels, bool all_users) {
  if (all_users && c->admin) return true;
  uint32_t uid;
  return label_uid(labels, KILN_LABEL_OWNER_UID, &uid) && uid == c->id.uid;
}

int kiln_access_all_users(const kiln_caller *c, kiln_error **err) {
  if (c->admin) return 0;
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "--all-users is for admins (root, or members of the site's "
                        "admin_group); you see and change only your own objects");
}

int kiln_access_runtime(const kiln_caller *c, const kiln_config *cfg, const char *runtime,
                        kiln_error **err) {
  (void)c;
  if (!runtime || kiln_config_allows_runtime(cfg, runtime)) return 0;
  char allowed[512] = "";
  size_t off = 0;
  for (size_t i = 0; i < cfg->runtimes.n && off < sizeof allowed; i++)
    off += (size_t)snprintf(allowed + off, sizeof allowed - off, "%s%s", i ? ", " : "",
                            cfg->runtimes.v[i]);
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "runtime '%s' is not allowed on this server (allowed: %s; the admin "
                        "sets runtimes: in %s)",
                        runtime, cfg->runtimes.n ? allowed : "none", KILN_CONFIG_DEFAULT_PATH);
}

int kiln_access_host_port(const kiln_caller *c, unsigned port, kiln_error **err) {
  if (c->admin || port >= 1024) return 0;
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "host port %u is below 1024, which only root may bind on the host; "
                        "publish on a port from 1024 up (e.g. -p %u:CONTAINER)",
                        port, port + 8000);
}

bool kiln_access_no_new_privileges(const kiln_config *cfg) {
  return !cfg->container_sudo;
}

/* ---- workspace ---- */

/* Folders whose contents are the system's: never a workspace. */
static const char *const system_trees[] = {
    "/bin",  "/boot", "/dev",  "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/root", "/run",  "/sbin", "/sys", "/usr", "/var",   "/snap",  NULL,
};

static bool is_system_folder(const char *real) {
  if (!strcmp(real, "/")) return true;
  if (!strchr(real + 1, '/')) return true; /* a top-level folder: /home, /tmp, /srv */
  for (size_t i = 0; system_trees[i]; i++) {
    size_t n = strlen(system_trees[i]);
    if (!strncmp(real, system_trees[i], n) && (real[n] == '/' || !real[n])) return true;
  }
  return false;
}

/* Opens dir as the caller; O_DIRECTORY refuses anything else. */
static int open_as_caller(const char *dir, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno = errno;
  kiln_fs_restore(&saved);
  if (fd < 0)
    return kiln_error_errno(err, saved_errno, "workspace %s: you cannot open this folder", dir);
  return fd;
}

int kiln_access_workspace(const kiln_caller *c, const char *dir, char **real, dev_t *dev,
                          ino_t *ino, kiln_error **err) {
  _cleanup_close_ int fd = open_as_caller(dir, err);
  if (fd < 0) return -1;
  struct stat st;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (fstat(fd, &st) < 0 || n <= 0 || path[0] != '/')
    return kiln_error_errno(err, errno, "workspace %s", dir);
  path[n] = '\0';
  if (is_system_folder(path))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "workspace %s is a system folder; deploy from a project folder of "
                          "yours (cd into it or give --workspace DIR)",
                          path);
  bool group_folder = has_group(c, st.st_gid) && (st.st_mode & S_IWGRP);
  if (!c->admin && st.st_uid != c->id.uid && !group_folder)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "workspace %s belongs to uid %u, not you; deploy from a folder of "
                          "yours (or a group folder you may write)",
                          path, (unsigned)st.st_uid);
  if (!(*real = strdup(path))) return kiln_error_oom(err);
  if (dev) *dev = st.st_dev;
  if (ino) *ino = st.st_ino;
  return 0;
}

/* ---- tarballs ---- */

static bool manifest_owner(json_t *manifest, uint32_t *uid) {
  json_t *o = json_object_get(manifest, "owner_uid");
  if (json_is_integer(o) && json_integer_value(o) >= 0 && json_integer_value(o) <= KILN_MAX_ID) {
    *uid = (uint32_t)json_integer_value(o);
    return true;
  }
  return parse_uid(json_string_value(o), uid);
}

int kiln_access_tarball(const kiln_caller *c, json_t *manifest, uid_t st_uid, const char *file,
                        kiln_error **err) {
  if (c->admin) return 0;
  uint32_t uid;
  if (manifest && manifest_owner(manifest, &uid) && uid != c->id.uid)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s belongs to uid %" PRIu32 " (its manifest says so); you may only "
                          "delete or replace your own tarballs",
                          file, uid);
  if (st_uid != c->id.uid)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s is owned by uid %u; you may only delete or replace your own "
                          "tarballs",
                          file, (unsigned)st_uid);
  return 0;
}

/* ---- files with the caller's rights ---- */

/* Whether the process runs with the caller's file rights now (a drop
 * inside a drop changes nothing), and whether switching was seen to work. */
static bool rights_dropped, rights_verified;

int kiln_fs_drop(kiln_fs_rights *saved, kiln_error **err) {
  memset(saved, 0, sizeof *saved);
  const kiln_caller *c = current_caller;
  if (!c || !c->sudo || rights_dropped || geteuid() != 0) return 0;
  saved->fsgid = (gid_t)setfsgid(c->id.gid);
  saved->fsuid = (uid_t)setfsuid(c->id.uid);
  saved->dropped = rights_dropped = true;
  /* setfsuid reports the previous value; asking again tells whether it took. */
  if (!rights_verified &&
      ((uid_t)setfsuid(c->id.uid) != c->id.uid || (gid_t)setfsgid(c->id.gid) != c->id.gid)) {
    kiln_fs_restore(saved);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "cannot take on your file rights");
  }
  rights_verified = true;
  return 0;
}

void kiln_fs_restore(kiln_fs_rights *saved) {
  if (!saved->dropped) return;
  setfsuid(saved->fsuid);
  setfsgid(saved->fsgid);
  saved->dropped = rights_dropped = false;
}

/* open(2) as the caller; errno is the open's on failure. */
static int open_as(const char *path, int flags, mode_t mode, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int fd = open(path, flags | O_CLOEXEC, mode);
  int e = errno;
  kiln_fs_restore(&saved);
  if (fd < 0) kiln_error_errno(err, e, "cannot open %s", path);
  errno = e;
  return fd;
}

int kiln_fs_open(const char *path, int flags, mode_t mode, kiln_error **err) {
  return open_as(path, flags | O_NOFOLLOW, mode, err);
}

static const char *file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a symlink";
}

int kiln_fs_open_regular(const char *path, bool follow, struct stat *st, kiln_error **err) {
  struct stat own;
  if (!st) st = &own;
  /* O_NONBLOCK: opening a FIFO (or a device) never waits for a peer; a
   * regular file ignores the flag, which is cleared anyway for the reads. */
  kiln_error *local = NULL;
  _cleanup_close_ int fd =
      open_as(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW), 0, &local);
  if (fd < 0) {
    int e = errno;
    if (e == ELOOP && !follow) /* O_NOFOLLOW on a symlink */
      kiln_error_set(err, KILN_EXIT_USAGE, "%s is a symlink, not a regular file", path);
    else
      for (const kiln_error *l = local; l; l = l->next)
        kiln_error_set(err, l->code, "%s", l->message);
    kiln_error_free(local);
    errno = e;
    return -1;
  }
  if (fstat(fd, st) < 0) return kiln_error_errno(err, errno, "cannot read %s", path);
  if (!S_ISREG(st->st_mode))
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is %s, not a regular file", path,
                          file_kind(st->st_mode));
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
    return kiln_error_errno(err, errno, "cannot read %s", path);
  return steal_fd(&fd);
}

char *kiln_fs_read_regular(const char *path, bool follow, size_t max, size_t *len,
                           kiln_error **err) {
  struct stat st;
  _cleanup_close_ int fd = kiln_fs_open_regular(path, follow, &st, err);
  if (fd < 0) return NULL;
  if ((uint64_t)st.st_size > max) {
    kiln_error_set(err, KILN_EXIT_USAGE, "%s is larger than %zu bytes", path, max);
    return NULL;
  }
  /* the size may change under us: read to the end, but never past max */
  size_t cap = (size_t)st.st_size + 1 <= max ? (size_t)st.st_size + 1 : max + 1;
  size_t n = 0;
  char *buf = malloc(cap + 1);
  if (!buf) return kiln_error_oom(err), NULL;
  for (;;) {
    if (n == cap) {
      if (cap > max) break;
      size_t ncap = cap * 2 < max + 1 ? cap * 2 : max + 1;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) return free(buf), kiln_error_oom(err), NULL;
      buf = nb;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return free(buf), kiln_error_errno(err, errno, "cannot read %s", path), NULL;
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n > max) {
    free(buf);
    kiln_error_set(err, KILN_EXIT_USAGE, "%s is larger than %zu bytes", path, max);
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

int kiln_fs_mkstemp(char *template, mode_t mode, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int fd = mkostemp(template, O_CLOEXEC);
  int e = errno;
  if (fd >= 0 && fchmod(fd, mode) < 0) {
    e = errno;
    unlink(template);
    close(fd);
    fd = -1;
  }
  kiln_fs_restore(&saved);
  return fd >= 0 ? fd : kiln_error_errno(err, e, "cannot create a file like %s", template);
}

int kiln_fs_rename(const char *from, const char *to, bool noreplace, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int r = noreplace ? renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) : rename(from, to);
  int e = errno;
  kiln_fs_restore(&saved);
  return r == 0 ? 0 : kiln_error_errno(err, e, "cannot rename %s to %s", from, to);
}

int kiln_fs_unlink(const char *path, bool missing_ok, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int r = unlink(path);
  int e = errno;
  kiln_fs_restore(&saved);
  if (r == 0 || (missing_ok && e == ENOENT)) return 0;
  return kiln_error_errno(err, e, "cannot remove %s", path);
}

int kiln_fs_mkdir(const char *path, mode_t mode, kiln_error **err) {
  kiln_fs_rights saved;
  if (kiln_fs_drop(&saved, err) < 0) return -1;
  int r = mkdir(path, mode);
  int e = errno;
  kiln_fs_restore(&saved);
  if (r == 0 || e == EEXIST) return 0;
  return kiln_error_errno(err, e, "cannot create folder %s", path);
}
