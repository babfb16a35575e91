/* Site configuration (/etc/kiln/config.yaml or $KILN_CONFIG): a flat mapping
 * of a few keys, read with the generator's bounded YAML tree. */
#include "kiln/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/yaml_tree.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

#define DEFAULT_MAX_CONTAINERS 10
#define DEFAULT_MAX_VOLUMES    100
#define DEFAULT_NAMESPACE      "kiln"
#define DEFAULT_LEGACY_TIMEOUT 300
#define MAX_LIMIT              100000u /* containers or volumes per user */
#define MAX_LEGACY_TIMEOUT     86400u  /* one day */

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
  if (!copy) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  free(c->ns);
  c->ns = copy;
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
};

static const char *const config_key_names[] = {"max_containers", "max_volumes", "namespace",
                                               "legacy_timeout", NULL};

static int apply_key(kiln_config *c, const char *name, const ynode *k, const ynode *v,
                     kiln_error **err) {
  if (k->kind != YNODE_SCALAR) return fail_at(name, k, err, "keys must be text");
  for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
    if (!strcmp(config_keys[i].key, k->text)) return config_keys[i].set(c, name, v, err);
  const char *near = kiln_did_you_mean(k->text, config_key_names);
  if (near) return fail_at(name, k, err, "unknown key '%s' (did you mean '%s'?)", k->text, near);
  return fail_at(name, k, err,
                 "unknown key '%s' (expected max_containers, max_volumes, namespace or "
                 "legacy_timeout)",
                 k->text);
}

int kiln_config_defaults(kiln_config *cfg, kiln_error **err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_containers = DEFAULT_MAX_CONTAINERS;
  cfg->max_volumes = DEFAULT_MAX_VOLUMES;
  cfg->legacy_timeout = DEFAULT_LEGACY_TIMEOUT;
  cfg->ns = strdup(DEFAULT_NAMESPACE);
  if (!cfg->ns) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  return 0;
}

int kiln_config_parse(kiln_config *cfg, const char *name, const char *text, size_t len,
                      kiln_error **err) {
  if (kiln_config_defaults(cfg, err) < 0) return -1;
  kiln_error *perr = NULL;
  ynode *root = ynode_parse(name, text, len, &perr);
  if (perr) {
    kiln_config_clear(cfg);
    if (err && !*err)
      *err = perr;
    else
      kiln_error_free(perr);
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

/* Reads path whole, up to KILN_CONFIG_MAX_BYTES. *missing tells ENOENT apart. */
static char *read_file(const char *path, size_t *len, int *missing, kiln_error **err) {
  _cleanup_fclose_ FILE *f = fopen(path, "re");
  *missing = 0;
  if (!f) {
    *missing = errno == ENOENT;
    kiln_error_errno(err, errno, "cannot read %s", path);
    return NULL;
  }
  _cleanup_free_ char *buf = malloc(KILN_CONFIG_MAX_BYTES + 1);
  if (!buf) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  *len = fread(buf, 1, KILN_CONFIG_MAX_BYTES + 1, f);
  if (ferror(f)) return kiln_error_errno(err, errno, "cannot read %s", path), NULL;
  if (*len > KILN_CONFIG_MAX_BYTES)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s is larger than %u bytes", path,
                          KILN_CONFIG_MAX_BYTES),
           NULL;
  buf[*len] = '\0';
  return steal_pointer(&buf);
}

int kiln_config_load(kiln_config *cfg, kiln_error **err) {
  const char *env = getenv("KILN_CONFIG");
  const char *path = env && *env ? env : KILN_CONFIG_DEFAULT_PATH;
  size_t len = 0;
  int missing = 0;
  kiln_error *rerr = NULL;
  _cleanup_free_ char *text = read_file(path, &len, &missing, &rerr);
  if (!text) {
    if (missing && path != env) {
      kiln_error_free(rerr);
      return kiln_config_defaults(cfg, err);
    }
    if (err && !*err)
      *err = rerr;
    else
      kiln_error_free(rerr);
    return kiln_error_prefix(err, "configuration");
  }
  if (kiln_config_parse(cfg, path, text, len, err) < 0) return -1;
  cfg->path = strdup(path);
  if (!cfg->path) {
    kiln_config_clear(cfg);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  }
  return 0;
}

void kiln_config_clear(kiln_config *cfg) {
  free(cfg->ns);
  free(cfg->path);
  memset(cfg, 0, sizeof *cfg);
}
