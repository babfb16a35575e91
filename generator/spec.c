/* kiln.yaml → kiln_spec. The YAML tree is walked with one table of key
 * handlers per mapping (curl's tool_getparam style); every problem is
 * recorded with its file:line:col and the walk goes on, so `kiln validate`
 * reports all of them at once. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/generate.h"
#include "kiln/spec.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "yaml_tree.h"

typedef struct {
  const char *name; /* file name for messages */
  const char *dir;  /* project folder */
  const kiln_spec_options *opts;
  kiln_spec *spec;
  kiln_error **err;
  int errors;
  /* which user fields the spec set */
  bool has_user_name, has_uid, has_gid;
  /* nodes kept for cross-field messages */
  const ynode *base_framework_node, *base_version_node;
  const ynode *user_uid_node, *user_gid_node;
  kiln_spec_file *current_file; /* the files: entry being read */
  kiln_error *sub; /* scratch: the error of the sanitize call being checked */
} parser;

/* ---- errors ---- */

__attribute__((format(printf, 3, 4))) static int fail(parser *p, const ynode *at, const char *fmt,
                                                      ...) {
  if (p->errors++ >= KILN_MAX_ERRORS) return -1;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return kiln_error_set(p->err, KILN_EXIT_USAGE, "%s:%d:%d: %s", p->name, at ? at->line : 1,
                        at ? at->col : 1, msg);
}

/* Records a sanitize error (which says what was expected) at a node. */
static int fail_with(parser *p, const ynode *at, kiln_error *sub) {
  for (kiln_error *e = sub; e; e = e->next) fail(p, at, "%s", e->message);
  kiln_error_free(sub);
  return -1;
}

/* Wraps a sanitize call made with &p->sub: records its error at node at. */
static int checked(parser *p, const ynode *at, int r) {
  if (r < 0) fail_with(p, at, p->sub);
  p->sub = NULL;
  return r;
}

/* ---- scalar readers ---- */

static const char *scalar(parser *p, const ynode *n, const char *what) {
  if (n->kind == YNODE_SCALAR) return n->text;
  fail(p, n, "%s must be text, not a %s", what, ynode_kind_name(n->kind));
  return NULL;
}

static char *dup_scalar(parser *p, const ynode *n, const char *what) {
  const char *s = scalar(p, n, what);
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) fail(p, n, "out of memory");
  return d;
}

static const char *const true_words[] = {"true", "yes", "on", NULL};
static const char *const false_words[] = {"false", "no", "off", NULL};

static bool in_words(const char *s, const char *const *words) {
  for (; *words; words++)
    if (!strcasecmp(s, *words)) return true;
  return false;
}

static int read_bool(parser *p, const ynode *n, const char *what, bool *out) {
  if (n->kind == YNODE_SCALAR && n->plain) {
    if (in_words(n->text, true_words)) return *out = true, 0;
    if (in_words(n->text, false_words)) return *out = false, 0;
  }
  return fail(p, n, "%s must be true or false (unquoted)", what);
}

/* A scalar that must look like a number (plain, or quoted digits). */
static const char *number_text(parser *p, const ynode *n, const char *what) {
  const char *s = scalar(p, n, what);
  if (s && !*s) {
    fail(p, n, "%s is empty; expected a number", what);
    return NULL;
  }
  return s;
}

/* ---- key tables ---- */

typedef int (*key_fn)(parser *p, const ynode *value);

typedef struct {
  const char *key;
  ynode_kind kind; /* expected kind of the value */
  key_fn fn;
} key_handler;

static int walk_map(parser *p, const ynode *map, const char *where, const key_handler *table);

static const key_handler *find_key(const key_handler *table, const char *key) {
  for (const key_handler *h = table; h->key; h++)
    if (!strcmp(h->key, key)) return h;
  return NULL;
}

static int unknown_key(parser *p, const ynode *key, const char *where, const key_handler *table) {
  const char *names[64];
  size_t n = 0;
  for (const key_handler *h = table; h->key && n < 63; h++) names[n++] = h->key;
  names[n] = NULL;
  const char *hint = kiln_did_you_mean(key->text, names);
  _cleanup_buf_ kiln_buf list = KILN_BUF_INIT(4096);
  for (size_t i = 0; i < n; i++) kiln_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
  if (hint)
    return fail(p, key, "unknown key \"%s\" in %s; did you mean \"%s\"?", key->text, where, hint);
  return fail(p, key, "unknown key \"%s\" in %s; expected one of: %s", key->text, where,
              list.data ? list.data : "");
}

/* The earlier key node with the same text, if any. */
static const ynode *earlier_key(const ynode *map, size_t upto) {
  for (size_t i = 0; i < upto; i += 2)
    if (map->items[i]->kind == YNODE_SCALAR && !strcmp(map->items[i]->text, map->items[upto]->text))
      return map->items[i];
  return NULL;
}

static int walk_entry(parser *p, const ynode *map, size_t i, const char *where,
                      const key_handler *table) {
  const ynode *key = map->items[i], *value = map->items[i + 1];
  if (key->kind != YNODE_SCALAR) return fail(p, key, "keys in %s must be plain text", where);
  const ynode *first = earlier_key(map, i);
  if (first)
    return fail(p, key, "duplicate key \"%s\" in %s (first at line %d)", key->text, where,
                first->line);
  const key_handler *h = find_key(table, key->text);
  if (!h) return unknown_key(p, key, where, table);
  if (ynode_is_null(value)) return 0; /* `key:` with nothing is the same as absent */
  if (value->kind != h->kind)
    return fail(p, value, "%s.%s must be a %s, not a %s", where, key->text,
                ynode_kind_name(h->kind), ynode_kind_name(value->kind));
  return h->fn(p, value);
}

static int walk_map(parser *p, const ynode *map, const char *where, const key_handler *table) {
  int r = 0;
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (walk_entry(p, map, i, where, table) < 0) r = -1;
  return r;
}

/* ---- lists ---- */

typedef int (*item_fn)(parser *p, const ynode *item, const char *text, kiln_strv *out);

/* Appends a copy of s to v, keeping it NULL-terminated. */
static int strv_push(kiln_strv *v, const char *s) {
  char **nv = realloc(v->v, (v->n + 2) * sizeof *nv);
  if (!nv) return -1;
  v->v = nv;
  if (!(nv[v->n] = strdup(s))) return -1;
  nv[++v->n] = NULL;
  return 0;
}

static void strv_clear(kiln_strv *v) {
  for (size_t i = 0; i < v->n; i++) free(v->v[i]);
  free(v->v);
  v->v = NULL;
  v->n = 0;
}

/* Walks a list of scalars, checking each with check (may be NULL). */
static int read_text_list(parser *p, const ynode *seq, const char *what,
                          int (*check)(const char *, kiln_error **), kiln_strv *out) {
  int r = 0;
  for (size_t i = 0; i < seq->n; i++) {
    const char *s = scalar(p, seq->items[i], what);
    if (!s || (check && checked(p, seq->items[i], check(s, &p->sub)) < 0)) {
      r = -1;
      continue;
    }
    if (strv_push(out, s) < 0) return fail(p, seq->items[i], "out of memory");
  }
  return r;
}

/* ---- top level ---- */

static int key_version(parser *p, const ynode *v) {
  const char *s = number_text(p, v, "version");
  if (!s) return -1;
  if (strcmp(s, "1")) return fail(p, v, "version \"%s\" is not supported; expected 1", s);
  p->spec->version = 1;
  return 0;
}

static int key_project(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "project");
  if (!s || checked(p, v, kiln_check_project_name(s, p->opts->name_policy, &p->sub)) < 0) return -1;
  return (p->spec->project = strdup(s)) ? 0 : -1;
}

static int key_base_image(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "base.image");
  if (!s || checked(p, v, kiln_check_image_ref(s, &p->sub)) < 0) return -1;
  return (p->spec->base_image = strdup(s)) ? 0 : -1;
}

static int key_base_framework(parser *p, const ynode *v) {
  p->base_framework_node = v;
  return (p->spec->base_framework = dup_scalar(p, v, "base.framework")) ? 0 : -1;
}

static int key_base_version(parser *p, const ynode *v) {
  p->base_version_node = v;
  return (p->spec->base_version = dup_scalar(p, v, "base.version")) ? 0 : -1;
}

static const key_handler base_keys[] = {
    {"image", YNODE_SCALAR, key_base_image},
    {"framework", YNODE_SCALAR, key_base_framework},
    {"version", YNODE_SCALAR, key_base_version},
    {NULL, 0, NULL},
};

static int key_base(parser *p, const ynode *v) { return walk_map(p, v, "base", base_keys); }

/* ---- user ---- */

static int key_user_name(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "user.name");
  if (!s) return -1;
  kiln_error *sub = NULL;
  char *name = kiln_sanitize_username(s, &sub);
  if (!name) return fail_with(p, v, sub);
  free(p->spec->user.name);
  free(p->spec->user.requested_name);
  p->spec->user.name = name;
  p->spec->user.requested_name = strdup(s);
  p->has_user_name = true;
  return 0;
}

static int key_user_uid(parser *p, const ynode *v) {
  p->user_uid_node = v;
  p->has_uid = true;
  return number_text(p, v, "user.uid") ? 0 : -1;
}

static int key_user_gid(parser *p, const ynode *v) {
  p->user_gid_node = v;
  p->has_gid = true;
  return number_text(p, v, "user.gid") ? 0 : -1;
}

static int key_user_sudo(parser *p, const ynode *v) {
  return read_bool(p, v, "user.sudo", &p->spec->user.sudo);
}

static int key_user_allow_root(parser *p, const ynode *v) {
  return read_bool(p, v, "user.allow_root", &p->spec->user.allow_root);
}

static int key_user_shell(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "user.shell");
  if (!s || checked(p, v, kiln_check_image_path(s, "user.shell", &p->sub)) < 0) return -1;
  free(p->spec->user.shell);
  return (p->spec->user.shell = strdup(s)) ? 0 : -1;
}

static const key_handler user_keys[] = {
    {"name", YNODE_SCALAR, key_user_name},   {"uid", YNODE_SCALAR, key_user_uid},
    {"gid", YNODE_SCALAR, key_user_gid},     {"sudo", YNODE_SCALAR, key_user_sudo},
    {"shell", YNODE_SCALAR, key_user_shell}, {"allow_root", YNODE_SCALAR, key_user_allow_root},
    {NULL, 0, NULL},
};

static int key_user(parser *p, const ynode *v) { return walk_map(p, v, "user", user_keys); }

/* ---- packages ---- */

static int key_apt(parser *p, const ynode *v) {
  return read_text_list(p, v, "packages.apt", kiln_check_apt_package, &p->spec->packages.apt);
}

static int key_pip(parser *p, const ynode *v) {
  return read_text_list(p, v, "packages.pip", kiln_check_pip_package, &p->spec->packages.pip);
}

/* A project-relative file path (requirements, authorized_keys). */
static int read_project_file(parser *p, const ynode *v, const char *what, char **out) {
  const char *s = scalar(p, v, what);
  if (!s) return -1;
  char *norm = NULL;
  bool is_dir = false;
  if (checked(p, v, kiln_check_project_path(p->dir, s, what, &norm, &is_dir, &p->sub)) < 0) return -1;
  if (is_dir) {
    free(norm);
    return fail(p, v, "%s \"%s\" is a folder; expected a file", what, s);
  }
  free(*out);
  *out = norm;
  return 0;
}

static int key_requirements(parser *p, const ynode *v) {
  return read_project_file(p, v, "packages.requirements", &p->spec->packages.requirements);
}

static int key_groups(parser *p, const ynode *v) {
  int r = 0;
  for (size_t i = 0; i < v->n; i++) {
    const ynode *item = v->items[i];
    const char *s = scalar(p, item, "packages.groups");
    if (!s) {
      r = -1;
      continue;
    }
    if (!kiln_catalog_has_group(p->opts->catalog, s)) {
      _cleanup_free_ char *known = kiln_catalog_describe_groups(p->opts->catalog);
      r = fail(p, item, "unknown package group \"%s\"; expected one of: %s", s,
               known ? known : "?");
      continue;
    }
    if (strv_push(&p->spec->packages.groups, s) < 0) return fail(p, item, "out of memory");
  }
  return r;
}

static const key_handler package_keys[] = {
    {"apt", YNODE_SEQ, key_apt},
    {"pip", YNODE_SEQ, key_pip},
    {"requirements", YNODE_SCALAR, key_requirements},
    {"groups", YNODE_SEQ, key_groups},
    {NULL, 0, NULL},
};

static int key_packages(parser *p, const ynode *v) {
  return walk_map(p, v, "packages", package_keys);
}

/* ---- env, labels ---- */

static int kvv_push(kiln_kvv *kv, const char *k, const char *val) {
  kiln_kv *nv = realloc(kv->v, (kv->n + 1) * sizeof *nv);
  if (!nv) return -1;
  kv->v = nv;
  nv[kv->n].key = strdup(k);
  nv[kv->n].value = strdup(val);
  kv->n++;
  return nv[kv->n - 1].key && nv[kv->n - 1].value ? 0 : -1;
}

static int read_kv_map(parser *p, const ynode *map, const char *where,
                       int (*check_key)(const char *, kiln_error **), kiln_kvv *out) {
  int r = 0;
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->items[i], *v = map->items[i + 1];
    const char *key = scalar(p, k, "key");
    const char *val = ynode_is_null(v) ? "" : scalar(p, v, where);
    if (!key || !val) {
      r = -1;
      continue;
    }
    const ynode *first = earlier_key(map, i);
    if (first) {
      r = fail(p, k, "duplicate key \"%s\" in %s (first at line %d)", key, where, first->line);
      continue;
    }
    if (checked(p, k, check_key(key, &p->sub)) < 0 ||
        checked(p, v, kiln_check_text(val, KILN_MAX_SCALAR_BYTES, where, &p->sub)) < 0) {
      r = -1;
      continue;
    }
    if (kvv_push(out, key, val) < 0) return fail(p, k, "out of memory");
  }
  return r;
}

static int key_env(parser *p, const ynode *v) {
  return read_kv_map(p, v, "env", kiln_check_env_name, &p->spec->env);
}

static int key_labels(parser *p, const ynode *v) {
  return read_kv_map(p, v, "labels", kiln_check_label_key, &p->spec->labels);
}

/* ---- ports, workspace, run ---- */

static int key_ports(parser *p, const ynode *v) {
  free(p->spec->ports);
  p->spec->ports = calloc(v->n ? v->n : 1, sizeof *p->spec->ports);
  if (!p->spec->ports) return fail(p, v, "out of memory");
  int r = 0;
  for (size_t i = 0; i < v->n; i++) {
    const char *s = number_text(p, v->items[i], "ports");
    uint16_t port;
    if (!s || checked(p, v->items[i], kiln_parse_port(s, &port, &p->sub)) < 0) {
      r = -1;
      continue;
    }
    p->spec->ports[p->spec->n_ports++] = port;
  }
  return r;
}

static int read_image_path(parser *p, const ynode *v, const char *what, char **out) {
  const char *s = scalar(p, v, what);
  if (!s || checked(p, v, kiln_check_image_path(s, what, &p->sub)) < 0) return -1;
  free(*out);
  return (*out = strdup(s)) ? 0 : -1;
}

static int key_workspace(parser *p, const ynode *v) {
  return read_image_path(p, v, "workspace", &p->spec->workspace);
}

static int key_run(parser *p, const ynode *v) {
  return read_text_list(p, v, "run", kiln_check_run_command, &p->spec->run);
}

/* ---- files ---- */

static int key_file_src(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "files.src");
  if (!s) return -1;
  return checked(p, v,
               kiln_check_project_path(p->dir, s, "files.src", &p->current_file->src,
                                       &p->current_file->is_dir, &p->sub));
}

static int key_file_dest(parser *p, const ynode *v) {
  return read_image_path(p, v, "files.dest", &p->current_file->dest);
}

static int key_file_mode(parser *p, const ynode *v) {
  const char *s = number_text(p, v, "files.mode");
  if (!s || checked(p, v, kiln_parse_mode(s, &p->current_file->mode, &p->sub)) < 0) return -1;
  p->current_file->has_mode = true;
  return 0;
}

static const key_handler file_keys[] = {
    {"src", YNODE_SCALAR, key_file_src},
    {"dest", YNODE_SCALAR, key_file_dest},
    {"mode", YNODE_SCALAR, key_file_mode},
    {NULL, 0, NULL},
};

static bool has_key(const ynode *map, const char *key) {
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (map->items[i]->kind == YNODE_SCALAR && !strcmp(map->items[i]->text, key) &&
        !ynode_is_null(map->items[i + 1]))
      return true;
  return false;
}

static int key_files(parser *p, const ynode *v) {
  p->spec->files = calloc(v->n ? v->n : 1, sizeof *p->spec->files);
  if (!p->spec->files) return fail(p, v, "out of memory");
  int r = 0;
  for (size_t i = 0; i < v->n; i++) {
    const ynode *item = v->items[i];
    if (item->kind != YNODE_MAP) {
      r = fail(p, item, "files entries must be mappings like {src: a, dest: /b}, not a %s",
               ynode_kind_name(item->kind));
      continue;
    }
    p->current_file = &p->spec->files[p->spec->n_files++];
    if (walk_map(p, item, "files", file_keys) < 0) r = -1;
    if (!has_key(item, "src") || !has_key(item, "dest"))
      r = fail(p, item, "files entry needs both src (in the project) and dest (in the image)");
  }
  p->current_file = NULL;
  return r;
}

/* ---- ssh ---- */

static int key_ssh_enabled(parser *p, const ynode *v) {
  return read_bool(p, v, "ssh.enabled", &p->spec->ssh.enabled);
}

static int key_ssh_port(parser *p, const ynode *v) {
  const char *s = number_text(p, v, "ssh.port");
  return s ? checked(p, v, kiln_parse_port(s, &p->spec->ssh.port, &p->sub)) : -1;
}

static int key_ssh_keys(parser *p, const ynode *v) {
  return read_project_file(p, v, "ssh.authorized_keys", &p->spec->ssh.authorized_keys);
}

static const key_handler ssh_keys[] = {
    {"enabled", YNODE_SCALAR, key_ssh_enabled},
    {"port", YNODE_SCALAR, key_ssh_port},
    {"authorized_keys", YNODE_SCALAR, key_ssh_keys},
    {NULL, 0, NULL},
};

static int key_ssh(parser *p, const ynode *v) { return walk_map(p, v, "ssh", ssh_keys); }

/* ---- deploy ---- */

static int key_deploy_gpus(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "deploy.gpus");
  if (!s || checked(p, v, kiln_check_gpus(s, &p->sub)) < 0) return -1;
  return (p->spec->deploy.gpus = strdup(s)) ? 0 : -1;
}

static int key_deploy_gpu_memory(parser *p, const ynode *v) {
  uint64_t bytes;
  const char *s = scalar(p, v, "deploy.gpu_memory");
  if (!s || checked(p, v, kiln_parse_size(s, &bytes, &p->sub)) < 0) return -1;
  return (p->spec->deploy.gpu_memory = strdup(s)) ? 0 : -1;
}

static int key_deploy_runtime(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "deploy.runtime");
  if (!s) return -1;
  size_t n = strlen(s);
  if (!n || n > 64 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
    return fail(p, v, "deploy.runtime \"%s\" is not valid; expected a runtime name such as "
                      "nvidia or genv", s);
  return (p->spec->deploy.runtime = strdup(s)) ? 0 : -1;
}

static int key_deploy_memory(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "deploy.memory");
  return s ? checked(p, v, kiln_parse_size(s, &p->spec->deploy.memory, &p->sub)) : -1;
}

static int key_deploy_shm(parser *p, const ynode *v) {
  const char *s = scalar(p, v, "deploy.shm_size");
  return s ? checked(p, v, kiln_parse_size(s, &p->spec->deploy.shm_size, &p->sub)) : -1;
}

static int key_deploy_cpus(parser *p, const ynode *v) {
  const char *s = number_text(p, v, "deploy.cpus");
  return s ? checked(p, v, kiln_parse_cpus(s, &p->spec->deploy.nano_cpus, &p->sub)) : -1;
}

/* "NAME:/path[:ro]" */
static int check_volume(const char *s, kiln_error **err) {
  size_t name_len = strcspn(s, ":");
  const char *path = s + name_len;
  bool name_ok = name_len > 0 && name_len <= 128 &&
                 strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >=
                     name_len &&
                 s[0] != '.' && s[0] != '_' && s[0] != '-';
  if (!name_ok || *path != ':')
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "volume \"%s\" is not valid; expected NAME:/path[:ro] with NAME made of "
                          "letters, digits, '_', '.' and '-'",
                          s);
  _cleanup_free_ char *dest = strdup(path + 1);
  if (!dest) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  size_t dl = strlen(dest);
  if (dl > 3 && !strcmp(dest + dl - 3, ":ro")) dest[dl - 3] = '\0';
  return kiln_check_image_path(dest, "volume path", err);
}

static int key_deploy_volumes(parser *p, const ynode *v) {
  return read_text_list(p, v, "deploy.volumes", check_volume, &p->spec->deploy.volumes);
}

static int check_command_word(const char *s, kiln_error **err) {
  return kiln_check_text(s, KILN_MAX_SCALAR_BYTES, "deploy.command", err);
}

static int key_deploy_command(parser *p, const ynode *v) {
  kiln_strv *cmd = &p->spec->deploy.command;
  if (v->kind == YNODE_SEQ) {
    if (!v->n) return fail(p, v, "deploy.command is an empty list; expected a command");
    return read_text_list(p, v, "deploy.command", check_command_word, cmd);
  }
  if (v->kind != YNODE_SCALAR)
    return fail(p, v, "deploy.command must be text or a list, not a mapping");
  if (checked(p, v, kiln_check_run_command(v->text, &p->sub)) < 0) return -1;
  if (strv_push(cmd, "/bin/sh") < 0 || strv_push(cmd, "-c") < 0 || strv_push(cmd, v->text) < 0)
    return fail(p, v, "out of memory");
  return 0;
}

/* command accepts text or a list, so it is dispatched by hand. */
static int key_deploy_any(parser *p, const ynode *v);

static const key_handler deploy_keys[] = {
    {"gpus", YNODE_SCALAR, key_deploy_gpus},
    {"gpu_memory", YNODE_SCALAR, key_deploy_gpu_memory},
    {"runtime", YNODE_SCALAR, key_deploy_runtime},
    {"memory", YNODE_SCALAR, key_deploy_memory},
    {"cpus", YNODE_SCALAR, key_deploy_cpus},
    {"shm_size", YNODE_SCALAR, key_deploy_shm},
    {"volumes", YNODE_SEQ, key_deploy_volumes},
    {"command", YNODE_SEQ, key_deploy_command},
    {NULL, 0, NULL},
};

static int key_deploy_any(parser *p, const ynode *map) {
  /* deploy.command may be a string too: rewrite its expected kind on the fly
   * by handling it before the generic walk sees a kind mismatch. */
  int r = 0;
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->items[i], *v = map->items[i + 1];
    if (k->kind == YNODE_SCALAR && !strcmp(k->text, "command") && v->kind == YNODE_SCALAR &&
        !ynode_is_null(v) && !earlier_key(map, i)) {
      if (key_deploy_command(p, v) < 0) r = -1;
      continue;
    }
    if (walk_entry(p, map, i, "deploy", deploy_keys) < 0) r = -1;
  }
  return r;
}

/* ---- the top level ---- */

static const key_handler top_keys[] = {
    {"version", YNODE_SCALAR, key_version},   {"project", YNODE_SCALAR, key_project},
    {"base", YNODE_MAP, key_base},            {"user", YNODE_MAP, key_user},
    {"packages", YNODE_MAP, key_packages},    {"env", YNODE_MAP, key_env},
    {"ports", YNODE_SEQ, key_ports},          {"workspace", YNODE_SCALAR, key_workspace},
    {"files", YNODE_SEQ, key_files},          {"run", YNODE_SEQ, key_run},
    {"labels", YNODE_MAP, key_labels},        {"ssh", YNODE_MAP, key_ssh},
    {"deploy", YNODE_MAP, key_deploy_any},    {NULL, 0, NULL},
};

/* ---- defaults and cross-field rules ---- */

static int resolve_base(parser *p, const ynode *root) {
  kiln_spec *s = p->spec;
  if (s->base_image && (s->base_framework || s->base_version))
    return fail(p, p->base_framework_node ? p->base_framework_node : p->base_version_node,
                "base.image and base.framework/base.version exclude each other; use one");
  if (s->base_image) return 0;
  if (!s->base_framework && !s->base_version)
    return fail(p, root, "base.image or base.framework (with base.version) is required");
  if (!s->base_framework || !s->base_version)
    return fail(p, s->base_framework ? p->base_framework_node : p->base_version_node,
                "base.framework and base.version go together");
  const char *image =
      kiln_catalog_framework_image(p->opts->catalog, s->base_framework, s->base_version);
  if (!image) {
    _cleanup_free_ char *known = kiln_catalog_describe_frameworks(p->opts->catalog);
    return fail(p, p->base_framework_node, "unknown framework %s %s; expected one of: %s",
                s->base_framework, s->base_version, known ? known : "?");
  }
  return (s->base_image = strdup(image)) ? 0 : -1;
}

static int resolve_id(parser *p, const ynode *n, uint32_t fallback, const char *what,
                      uint32_t *out) {
  if (!n) {
    *out = fallback;
    return checked(p, NULL, kiln_check_id(fallback, p->spec->user.allow_root, what, &p->sub));
  }
  return checked(p, n, kiln_parse_id(n->text, p->spec->user.allow_root, what, out, &p->sub));
}

static int resolve_user(parser *p, const ynode *root) {
  kiln_spec *s = p->spec;
  const kiln_identity *id = p->opts->identity;
  if (id->uid == 0 && !s->user.allow_root && (!p->has_user_name || !p->has_uid || !p->has_gid))
    return fail(p, root,
                "kiln is running as root without sudo; set user.name, user.uid and user.gid in "
                "the spec, or run kiln through sudo — kiln never builds a root user silently");
  int r = 0;
  if (!p->has_user_name) {
    kiln_error *sub = NULL;
    s->user.name = kiln_sanitize_username(id->name, &sub);
    s->user.requested_name = strdup(id->name);
    if (!s->user.name) r = fail_with(p, root, sub);
  }
  if (resolve_id(p, p->user_uid_node, id->uid, "user.uid", &s->user.uid) < 0) r = -1;
  if (resolve_id(p, p->user_gid_node, id->gid, "user.gid", &s->user.gid) < 0) r = -1;
  if (s->user.name && !strcmp(s->user.name, "root") && !s->user.allow_root)
    r = fail(p, root, "user name \"root\" needs user.allow_root: true");
  if (s->user.name && p->opts->name_policy &&
      checked(p, root, kiln_check_name_policy(s->user.name, "user name", &p->sub)) < 0)
    r = -1;
  if (!s->user.shell && !(s->user.shell = strdup("/bin/bash"))) r = -1;
  return r;
}

static int apply_defaults(parser *p, const ynode *root) {
  kiln_spec *s = p->spec;
  int r = 0;
  if (!s->version) s->version = 1;
  if (!s->project) r = fail(p, root, "project is required (a name such as my-project)");
  if (resolve_base(p, root) < 0) r = -1;
  if (resolve_user(p, root) < 0) r = -1;
  if (!s->workspace && !(s->workspace = strdup("/workspace"))) r = -1;
  if (!s->ssh.port) s->ssh.port = 22;
  return r;
}

kiln_spec *kiln_spec_parse(const char *name, const char *dir, const char *text, size_t len,
                           const kiln_spec_options *opts, kiln_error **err) {
  if (len > KILN_MAX_SPEC_BYTES) {
    kiln_error_set(err, KILN_EXIT_USAGE, "%s: larger than %u bytes", name, KILN_MAX_SPEC_BYTES);
    return NULL;
  }
  kiln_error *local = NULL;
  ynode *root = ynode_parse(name, text, len, &local);
  if (!root) {
    if (!local) kiln_error_set(&local, KILN_EXIT_USAGE, "%s:1:1: the file is empty", name);
    kiln_error_set(err, local->code, "%s", local->message); /* keep the chain in err */
    kiln_error_free(local);
    return NULL;
  }
  kiln_spec *spec = calloc(1, sizeof *spec);
  parser p = {.name = name, .dir = dir, .opts = opts, .spec = spec, .err = err};
  if (!spec || !(spec->path = strdup(name)) || !(spec->dir = strdup(dir))) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  } else if (root->kind != YNODE_MAP) {
    fail(&p, root, "the top level must be a mapping (key: value lines), not a %s",
         ynode_kind_name(root->kind));
  } else {
    walk_map(&p, root, "the top level", top_keys);
    apply_defaults(&p, root);
  }
  ynode_free(root);
  if (p.errors > KILN_MAX_ERRORS)
    kiln_error_set(err, KILN_EXIT_USAGE, "%s: %d more errors not shown", name,
                   p.errors - KILN_MAX_ERRORS);
  if (p.errors || !spec || !spec->path || !spec->dir) {
    kiln_spec_free(spec);
    return NULL;
  }
  return spec;
}

/* ---- files ---- */

static char *read_bounded(const char *path, size_t *len, kiln_error **err) {
  _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    kiln_error_errno(err, errno, "cannot read %s", path);
    return NULL;
  }
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_SPEC_BYTES);
  char chunk[8192];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      kiln_error_errno(err, errno, "cannot read %s", path);
      return NULL;
    }
    if (n == 0) break;
    if (kiln_buf_append(&b, chunk, (size_t)n) < 0) {
      kiln_error_set(err, KILN_EXIT_USAGE, "%s: larger than %u bytes", path, KILN_MAX_SPEC_BYTES);
      return NULL;
    }
  }
  if (!b.data && kiln_buf_puts(&b, "") < 0) return NULL;
  return kiln_buf_steal(&b, len);
}

kiln_spec *kiln_spec_load(const char *yaml_path, const kiln_spec_options *opts,
                          kiln_error **err) {
  size_t len = 0;
  _cleanup_free_ char *text = read_bounded(yaml_path, &len, err);
  if (!text) return NULL;
  _cleanup_free_ char *copy = strdup(yaml_path);
  _cleanup_free_ char *dir = copy ? realpath(dirname(copy), NULL) : NULL;
  if (!dir) {
    kiln_error_errno(err, errno, "cannot resolve the folder of %s", yaml_path);
    return NULL;
  }
  return kiln_spec_parse(yaml_path, dir, text, len, opts, err);
}

static bool is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *kiln_spec_locate(const char *path, kiln_error **err) {
  static const char *const names[] = {"kiln.yaml", "kiln.yml"};
  struct stat st;
  if (path && stat(path, &st) < 0) {
    kiln_error_set(err, KILN_EXIT_USAGE, "%s does not exist; expected a kiln.yaml or a folder "
                                         "holding one", path);
    return NULL;
  }
  if (path && !S_ISDIR(st.st_mode)) return strdup(path);
  for (size_t i = 0; i < 2; i++) {
    char *candidate = NULL;
    size_t n = path ? strlen(path) : 0;
    while (n > 1 && path[n - 1] == '/') n--;
    if ((path ? asprintf(&candidate, "%.*s/%s", (int)n, path, names[i])
              : asprintf(&candidate, "%s", names[i])) < 0)
      break;
    if (is_regular(candidate)) return candidate;
    free(candidate);
  }
  kiln_error_set(err, KILN_EXIT_USAGE, "no kiln.yaml in %s; create one (see examples/) or pass "
                                       "its path", path ? path : "the current folder");
  return NULL;
}

/* ---- freeing ---- */

static void kvv_clear(kiln_kvv *kv) {
  for (size_t i = 0; i < kv->n; i++) {
    free(kv->v[i].key);
    free(kv->v[i].value);
  }
  free(kv->v);
}

void kiln_spec_free(kiln_spec *s) {
  if (!s) return;
  free(s->path);
  free(s->dir);
  free(s->project);
  free(s->base_image);
  free(s->base_framework);
  free(s->base_version);
  free(s->user.name);
  free(s->user.requested_name);
  free(s->user.shell);
  strv_clear(&s->packages.apt);
  strv_clear(&s->packages.pip);
  strv_clear(&s->packages.groups);
  free(s->packages.requirements);
  kvv_clear(&s->env);
  free(s->ports);
  free(s->workspace);
  for (size_t i = 0; i < s->n_files; i++) {
    free(s->files[i].src);
    free(s->files[i].dest);
  }
  free(s->files);
  strv_clear(&s->run);
  kvv_clear(&s->labels);
  free(s->ssh.authorized_keys);
  free(s->deploy.gpus);
  free(s->deploy.gpu_memory);
  free(s->deploy.runtime);
  strv_clear(&s->deploy.volumes);
  strv_clear(&s->deploy.command);
  free(s);
}
