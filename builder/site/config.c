/* Site configuration (/etc/kiln/config.yaml, or $KILN_CONFIG for admins): a
 * flat mapping of a few keys, read with the generator's bounded YAML tree. */
#include "kiln/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "generator/spec_private.h"
#include "generator/yaml_tree.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

#define DEFAULT_MAX_CONTAINERS 10
#define DEFAULT_MAX_VOLUMES    100
#define DEFAULT_LEGACY_TIMEOUT 300
#define MAX_LIMIT              100000u /* containers or volumes per user */
#define MAX_LEGACY_TIMEOUT     86400u  /* one day */
#define MAX_RUNTIMES           32
#define MAX_RUNTIME_NAME       64

static const char *const default_runtimes[] = {"nvidia", "genv", NULL};

__attribute__((format(printf, 4, 5))) static int fail_at(const char *name, const ynode *n,
                                                         kiln_error **err, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return kiln_error_set(err, KILN_EXIT_USAGE, "%s:%d:%d: %s", name, n->line, n->col, msg);
}

/* A whole number in [min, max] written as a plain scalar. */
static int get_uint(const char *name, const ynode *n, unsigned min, unsigned max, unsigned *out,
                    kiln_error **err) {
  if (n->kind != YNODE_SCALAR || !n->plain)
    return fail_at(name, n, err, "expected a whole number, got %s",
                   n->kind == YNODE_SCALAR ? "quoted text" : ynode_kind_name(n->kind));
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(n->text, &end, 10);
  if (!*n->text || *end || errno || n->text[0] == '-' || v < min || v > max)
    return fail_at(name, n, err, "expected a whole number from %u to %u, got '%s'", min, max,
                   n->text);
  *out = (unsigned)v;
  return 0;
}

static int set_max_containers(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  return get_uint(name, v, 0, MAX_LIMIT, &c->max_containers, err);
}

static int set_max_volumes(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  return get_uint(name, v, 0, MAX_LIMIT, &c->max_volumes, err);
}

static int set_legacy_timeout(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  return get_uint(name, v, 1, MAX_LEGACY_TIMEOUT, &c->legacy_timeout, err);
}

static int set_namespace(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  if (v->kind != YNODE_SCALAR) return fail_at(name, v, err, "namespace must be text");
  kiln_error *why = NULL;
  if (kiln_check_project_name(v->text, false, &why) < 0) {
    fail_at(name, v, err, "namespace: %s", why->message);
    kiln_error_free(why);
    return -1;
  }
  char *copy = strdup(v->text);
  if (!copy) return kiln_error_oom(err);
  free(c->ns);
  c->ns = copy;
  return 0;
}

/* Text for a name-like setting: plain, no control characters, bounded. */
static int get_text(const char *name, const ynode *v, const char *key, size_t max, char **out,
                    kiln_error **err) {
  if (v->kind != YNODE_SCALAR || ynode_is_null(v))
    return fail_at(name, v, err, "%s must be text", key);
  kiln_error *why = NULL;
  if (kiln_check_text(v->text, max, key, &why) < 0) {
    fail_at(name, v, err, "%s", why->message);
    kiln_error_free(why);
    return -1;
  }
  char *copy = strdup(v->text);
  if (!copy) return kiln_error_oom(err);
  free(*out);
  *out = copy;
  return 0;
}

static int set_admin_group(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  return get_text(name, v, "admin_group", KILN_MAX_USER_NAME, &c->admin_group, err);
}

static int set_shared_dir(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  if (get_text(name, v, "shared_dir", KILN_MAX_PATH, &c->shared_dir, err) < 0) return -1;
  if (c->shared_dir[0] != '/') return fail_at(name, v, err, "shared_dir must be an absolute path");
  return 0;
}

static int set_container_sudo(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  static const char *const yes[] = {"true", "yes", "on", NULL}, *const no[] = {"false", "no", "off",
                                                                               NULL};
  for (size_t i = 0; v->kind == YNODE_SCALAR && v->plain && yes[i]; i++)
    if (!strcmp(v->text, yes[i])) return c->container_sudo = true, 0;
  for (size_t i = 0; v->kind == YNODE_SCALAR && v->plain && no[i]; i++)
    if (!strcmp(v->text, no[i])) return c->container_sudo = false, 0;
  return fail_at(name, v, err, "container_sudo must be true or false");
}

static void strv_free(kiln_strv *v) {
  for (size_t i = 0; i < v->n; i++)
    free(v->v[i]);
  free(v->v);
  *v = (kiln_strv){NULL, 0};
}

static int set_runtimes(kiln_config *c, const char *name, const ynode *v, kiln_error **err) {
  if (v->kind != YNODE_SEQ) return fail_at(name, v, err, "runtimes must be a list of names");
  if (v->n > MAX_RUNTIMES) return fail_at(name, v, err, "runtimes: more than %d", MAX_RUNTIMES);
  kiln_strv list = {NULL, 0};
  for (size_t i = 0; i < v->n; i++) {
    const ynode *item = v->items[i];
    kiln_error *why = NULL;
    if (item->kind != YNODE_SCALAR ||
        kiln_check_text(item->text, MAX_RUNTIME_NAME, "runtime", &why) < 0 ||
        strpbrk(item->text, " /\\")) {
      kiln_error_free(why);
      strv_free(&list);
      return fail_at(name, item, err, "runtimes: expected a runtime name");
    }
    if (spec_strv_push(&list, item->text) < 0) {
      strv_free(&list);
      return kiln_error_oom(err);
    }
  }
  strv_free(&c->runtimes);
  c->runtimes = list;
  return 0;
}

static const struct {
  const char *key;
  int (*set)(kiln_config *c, const char *name, const ynode *v, kiln_error **err);
} config_keys[] = {
    {"max_containers", set_max_containers},
    {"max_volumes", set_max_volumes},
    {"namespace", set_namespace},
    {"legacy_timeout", set_legacy_timeout},
    {"admin_group", set_admin_group},
    {"container_sudo", set_container_sudo},
    {"runtimes", set_runtimes},
    {"shared_dir", set_shared_dir},
};

static const char *const config_key_names[] = {"max_containers", "max_volumes", "namespace",
                                               "legacy_timeout", "admin_group", "container_sudo",
                                               "runtimes",       "shared_dir",  NULL};

static int apply_key(kiln_config *c, const char *name, const ynode *k, const ynode *v,
                     kiln_error **err) {
  if (k->kind != YNODE_SCALAR) return fail_at(name, k, err, "keys must be text");
  for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
    if (!strcmp(config_keys[i].key, k->text)) return config_keys[i].set(c, name, v, err);
  const char *near = kiln_did_you_mean(k->text, config_key_names);
  if (near) return fail_at(name, k, err, "unknown key '%s' (did you mean '%s'?)", k->text, near);
  return fail_at(name, k, err,
                 "unknown key '%s' (expected max_containers, max_volumes, namespace, "
                 "legacy_timeout, admin_group, container_sudo, runtimes or shared_dir)",
                 k->text);
}

int kiln_config_defaults(kiln_config *cfg, kiln_error **err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_containers = DEFAULT_MAX_CONTAINERS;
  cfg->max_volumes = DEFAULT_MAX_VOLUMES;
  cfg->legacy_timeout = DEFAULT_LEGACY_TIMEOUT;
  cfg->ns = strdup(KILN_DEFAULT_NAMESPACE);
  cfg->shared_dir = strdup(KILN_DEFAULT_SHARED_DIR);
  bool ok = cfg->ns && cfg->shared_dir;
  for (size_t i = 0; ok && default_runtimes[i]; i++)
    ok = spec_strv_push(&cfg->runtimes, default_runtimes[i]) == 0;
  if (!ok) {
    kiln_config_clear(cfg);
    return kiln_error_oom(err);
  }
  return 0;
}

int kiln_config_parse(kiln_config *cfg, const char *name, const char *text, size_t len,
                      kiln_error **err) {
  if (kiln_config_defaults(cfg, err) < 0) return -1;
  kiln_error *perr = NULL;
  ynode *root = ynode_parse(name, text, len, &perr);
  if (perr) {
    kiln_config_clear(cfg);
    kiln_error_keep(err, perr);
    return -1;
  }
  int r = 0;
  if (root && !(root->kind == YNODE_SCALAR && ynode_is_null(root))) {
    if (root->kind != YNODE_MAP)
      r = fail_at(name, root, err, "expected a mapping of settings, got %s",
                  ynode_kind_name(root->kind));
    for (size_t i = 0; r == 0 && root->kind == YNODE_MAP && i + 1 < root->n; i += 2)
      r = apply_key(cfg, name, root->items[i], root->items[i + 1], err);
  }
  ynode_free(root);
  if (r < 0) kiln_config_clear(cfg);
  return r;
}

/* A site file is trusted with everyone's limits: root's, and writable by
 * no one else. */
static int check_site_file(const char *path, const struct stat *st, kiln_error **err) {
  if (!S_ISREG(st->st_mode))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s is not a regular file", path);
  if (st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "refusing %s: the site configuration must be owned by root and "
                          "writable by no one else (chown root %s; chmod go-w %s)",
                          path, path, path);
  return 0;
}

/* Reads path whole, up to KILN_CONFIG_MAX_BYTES, without following a
 * symlink or blocking on a FIFO. *missing tells ENOENT apart. */
static char *read_file(const char *path, bool site, size_t *len, int *missing, kiln_error **err) {
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  *missing = 0;
  struct stat st;
  if (fd < 0) {
    *missing = errno == ENOENT;
    return kiln_error_errno(err, errno, "cannot read %s", path), NULL;
  }
  if (fstat(fd, &st) < 0) return kiln_error_errno(err, errno, "cannot read %s", path), NULL;
  if (site && check_site_file(path, &st, err) < 0) return NULL;
  if (!S_ISREG(st.st_mode))
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is not a regular file", path), NULL;
  _cleanup_free_ char *buf = malloc(KILN_CONFIG_MAX_BYTES + 1);
  if (!buf) return kiln_error_oom(err), NULL;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, KILN_CONFIG_MAX_BYTES + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return kiln_error_errno(err, errno, "cannot read %s", path), NULL;
    if (r == 0 || (n += (size_t)r) > KILN_CONFIG_MAX_BYTES) break;
  }
  if (n > KILN_CONFIG_MAX_BYTES)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is larger than %u bytes", path,
                          KILN_CONFIG_MAX_BYTES),
           NULL;
  buf[n] = '\0';
  *len = n;
  return steal_pointer(&buf);
}

int kiln_config_load_file(kiln_config *cfg, const char *path, bool site, kiln_error **err) {
  size_t len = 0;
  int missing = 0;
  kiln_error *rerr = NULL;
  _cleanup_free_ char *text = read_file(path, site, &len, &missing, &rerr);
  if (!text) {
    if (missing && site) {
      kiln_error_free(rerr);
      return kiln_config_defaults(cfg, err);
    }
    kiln_error_keep(err, rerr);
    return kiln_error_prefix(err, "configuration");
  }
  if (kiln_config_parse(cfg, path, text, len, err) < 0) return -1;
  cfg->path = strdup(path);
  if (!cfg->path) {
    kiln_config_clear(cfg);
    return kiln_error_oom(err);
  }
  return 0;
}

bool kiln_config_allows_runtime(const kiln_config *cfg, const char *runtime) {
  for (size_t i = 0; i < cfg->runtimes.n; i++)
    if (!strcmp(cfg->runtimes.v[i], runtime)) return true;
  return false;
}

void kiln_config_clear(kiln_config *cfg) {
  free(cfg->ns);
  free(cfg->admin_group);
  free(cfg->shared_dir);
  strv_free(&cfg->runtimes);
  free(cfg->path);
  memset(cfg, 0, sizeof *cfg);
}
