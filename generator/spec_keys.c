/* kiln.yaml v1, key by key: one table of {key, kinds, handler} per mapping
 * level (design convention 6), then the defaults and the rules that span
 * several keys (spec_finish). Every value is checked with the sanitize/
 * rule that fits it before it is stored in the spec. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/deploy.h"
#include "kiln/generate.h"
#include "sanitize/sanitize.h"
#include "spec_private.h"
#include "util/cleanup.h"

enum { MAX_RUNTIME_NAME = 64 };

/* ---- shared readers ---- */

/* An absolute path inside the image (workspace, shell, files.dest). */
static int read_image_path(spec_parser *p, const ynode *v, const char *what, char **out) {
  const char *s = spec_text(p, v, what);
  if (!s || spec_checked(p, v, kiln_check_image_path(s, what, &p->sub)) < 0) return -1;
  return spec_keep(p, v, out, s);
}

/* A path inside the project folder: a file (requirements, authorized_keys)
 * or, with folder, a folder (pip_find_links). */
static int read_project_path(spec_parser *p, const ynode *v, const char *what, bool folder,
                             char **out) {
  const char *s = spec_text(p, v, what);
  if (!s || spec_checked(p, v, kiln_check_copy_source(s, what, &p->sub)) < 0) return -1;
  _cleanup_free_ char *norm = NULL;
  bool is_dir = false;
  if (spec_checked(p, v, kiln_check_project_path(p->dir, s, what, &norm, &is_dir, &p->sub)) < 0)
    return -1;
  if (is_dir != folder)
    return spec_fail(p, v, "%s \"%s\" is a %s; expected a %s", what, s, is_dir ? "folder" : "file",
                     folder ? "folder" : "file");
  free(*out);
  *out = steal_pointer(&norm);
  return 0;
}

/* A size such as 8g, checked with kiln_parse_size. */
static int read_size(spec_parser *p, const ynode *v, const char *what, uint64_t *out) {
  const char *s = spec_number_text(p, v, what);
  return s ? spec_checked_as(p, v, what, kiln_parse_size(s, out, &p->sub)) : -1;
}

/* ---- top level scalars ---- */

static int key_version(spec_parser *p, const ynode *v) {
  const char *s = spec_number_text(p, v, "version");
  if (!s) return -1;
  if (strcmp(s, "1")) return spec_fail(p, v, "version %.32s is not supported; expected 1", s);
  p->spec->version = 1;
  return 0;
}

static int key_project(spec_parser *p, const ynode *v) {
  const char *s = spec_text(p, v, "project");
  if (!s || spec_checked(p, v, kiln_check_project_name(s, p->opts->name_policy, &p->sub)) < 0)
    return -1;
  return spec_keep(p, v, &p->spec->project, s);
}

static int key_workspace(spec_parser *p, const ynode *v) {
  return read_image_path(p, v, "workspace", &p->spec->workspace);
}

/* ---- base ---- */

static int key_base_image(spec_parser *p, const ynode *v) {
  p->base_image = v;
  const char *s = spec_text(p, v, "base.image");
  if (!s || spec_checked(p, v, kiln_check_image_ref(s, &p->sub)) < 0) return -1;
  return spec_keep(p, v, &p->spec->base_image, s);
}

static int key_base_framework(spec_parser *p, const ynode *v) {
  p->base_framework = v;
  return spec_keep(p, v, &p->spec->base_framework, v->text);
}

static int key_base_version(spec_parser *p, const ynode *v) {
  p->base_version = v;
  return spec_keep(p, v, &p->spec->base_version, v->text);
}

/* Which Python the base runs, for images the catalog does not describe. */
static int key_base_python(spec_parser *p, const ynode *v) {
  const char *s = spec_text(p, v, "base.python");
  if (!s || spec_checked(p, v, kiln_catalog_check_python(s, &p->sub)) < 0) return -1;
  return spec_keep(p, v, &p->spec->base_python, s);
}

static const spec_key base_keys[] = {
    {"image", SPEC_TEXT, "an image reference such as debian:bookworm-slim", key_base_image},
    {"framework", SPEC_TEXT, "a framework name such as pytorch", key_base_framework},
    {"version", SPEC_TEXT, "a framework version such as 2.3-cuda12.1", key_base_version},
    {"python", SPEC_TEXT, "debian, conda or local", key_base_python},
    {NULL, 0, NULL, NULL},
};

static int key_base(spec_parser *p, const ynode *v) {
  return spec_walk_map(p, v, "base", base_keys);
}

/* ---- user ---- */

static int key_user_name(spec_parser *p, const ynode *v) {
  p->user_name = v;
  const char *s = v->text;
  if (spec_checked(p, v, kiln_check_text(s, KILN_MAX_SCALAR_BYTES, "user.name", &p->sub)) < 0)
    return -1;
  char *name = kiln_sanitize_username(s, &p->sub);
  if (spec_checked(p, v, name ? 0 : -1) < 0) return -1;
  free(p->spec->user.name);
  p->spec->user.name = name;
  return spec_keep(p, v, &p->spec->user.requested_name, s);
}

/* uid and gid depend on allow_root, which may come later: read in
 * spec_finish. */
static int key_user_uid(spec_parser *p, const ynode *v) {
  p->user_uid = v;
  return 0;
}

static int key_user_gid(spec_parser *p, const ynode *v) {
  p->user_gid = v;
  return 0;
}

static int key_user_sudo(spec_parser *p, const ynode *v) {
  return spec_bool(p, v, "user.sudo", &p->spec->user.sudo);
}

static int key_user_allow_root(spec_parser *p, const ynode *v) {
  return spec_bool(p, v, "user.allow_root", &p->spec->user.allow_root);
}

static int key_user_shell(spec_parser *p, const ynode *v) {
  return read_image_path(p, v, "user.shell", &p->spec->user.shell);
}

static const spec_key user_keys[] = {
    {"name", SPEC_TEXT, "a login name", key_user_name},
    {"uid", SPEC_TEXT, "a number", key_user_uid},
    {"gid", SPEC_TEXT, "a number", key_user_gid},
    {"sudo", SPEC_TEXT, "true or false", key_user_sudo},
    {"shell", SPEC_TEXT, "an absolute path such as /bin/bash", key_user_shell},
    {"allow_root", SPEC_TEXT, "true or false", key_user_allow_root},
    {NULL, 0, NULL, NULL},
};

static int key_user(spec_parser *p, const ynode *v) {
  p->user_map = v;
  return spec_walk_map(p, v, "user", user_keys);
}

/* ---- packages ---- */

static int key_apt(spec_parser *p, const ynode *v) {
  return spec_text_list(p, v, "packages.apt", kiln_check_apt_package, &p->spec->packages.apt);
}

static int key_pip(spec_parser *p, const ynode *v) {
  return spec_text_list(p, v, "packages.pip", kiln_check_pip_package, &p->spec->packages.pip);
}

static int key_requirements(spec_parser *p, const ynode *v) {
  return read_project_path(p, v, "packages.requirements", false, &p->spec->packages.requirements);
}

static int read_index_url(spec_parser *p, const ynode *v, const char *what, char **out) {
  const char *s = spec_text(p, v, what);
  if (!s || spec_checked(p, v, kiln_check_index_url(s, what, &p->sub)) < 0) return -1;
  return spec_keep(p, v, out, s);
}

static int key_pip_index_url(spec_parser *p, const ynode *v) {
  return read_index_url(p, v, "packages.pip_index_url", &p->spec->packages.pip_index_url);
}

static int key_pip_extra_index_url(spec_parser *p, const ynode *v) {
  return read_index_url(p, v, "packages.pip_extra_index_url",
                        &p->spec->packages.pip_extra_index_url);
}

/* A folder of wheels or sdists inside the project, sent with the context. */
static int key_pip_find_links(spec_parser *p, const ynode *v) {
  return read_project_path(p, v, "packages.pip_find_links", true,
                           &p->spec->packages.pip_find_links);
}

static int check_group(spec_parser *p, const ynode *item) {
  const char *s = spec_text(p, item, "packages.groups");
  if (!s) return -1;
  if (!kiln_catalog_has_group(p->opts->catalog, s)) {
    _cleanup_free_ char *known = kiln_catalog_describe_groups(p->opts->catalog);
    return spec_fail(p, item, "unknown package group \"%.64s\"; expected one of: %s", s,
                     known ? known : "(none)");
  }
  if (spec_strv_push(&p->spec->packages.groups, s) < 0) return spec_oom(p, item);
  return 0;
}

static int key_groups(spec_parser *p, const ynode *v) {
  int r = 0;
  for (size_t i = 0; i < v->n; i++)
    if (check_group(p, v->items[i]) < 0) r = -1;
  return r;
}

static const spec_key package_keys[] = {
    {"apt", SPEC_LIST, NULL, key_apt},
    {"pip", SPEC_LIST, NULL, key_pip},
    {"requirements", SPEC_TEXT, "a file path in the project", key_requirements},
    {"groups", SPEC_LIST, NULL, key_groups},
    {"pip_index_url", SPEC_TEXT, "an http(s) URL of a package index", key_pip_index_url},
    {"pip_extra_index_url", SPEC_TEXT, "an http(s) URL of a package index",
     key_pip_extra_index_url},
    {"pip_find_links", SPEC_TEXT, "a folder in the project", key_pip_find_links},
    {NULL, 0, NULL, NULL},
};

static int key_packages(spec_parser *p, const ynode *v) {
  return spec_walk_map(p, v, "packages", package_keys);
}

/* ---- env, labels: free-form mappings ---- */

static int kvv_push(kiln_kvv *kv, const char *k, const char *val) {
  kiln_kv *nv = realloc(kv->v, (kv->n + 1) * sizeof *nv);
  if (!nv) return -1;
  kv->v = nv;
  kiln_kv entry = {strdup(k), strdup(val)};
  if (!entry.key || !entry.value) {
    free(entry.key);
    free(entry.value);
    return -1;
  }
  nv[kv->n++] = entry;
  return 0;
}

/* One NAME: value entry; numbers and booleans keep the text as written, a
 * null value is the empty string. */
static int read_kv_entry(spec_parser *p, const ynode *map, size_t i, const char *section,
                         int (*check_key)(const char *, kiln_error **), kiln_kvv *out) {
  const ynode *k = map->items[i], *v = map->items[i + 1];
  const char *key = spec_text(p, k, section);
  if (!key) return -1;
  const ynode *first = spec_earlier_key(map, i);
  if (first)
    return spec_fail(p, k, "duplicate key \"%.64s\" in %s (first at line %d)", key, section,
                     first->line);
  int r = spec_checked_as(p, k, section, check_key(key, &p->sub));
  char what[96];
  snprintf(what, sizeof what, "%s.%.64s", section, key);
  if (v->kind != YNODE_SCALAR)
    return spec_fail(p, v, "%s must be text, not %s", what, ynode_kind_name(v->kind));
  const char *val = ynode_is_null(v) ? "" : v->text;
  if (spec_checked(p, v, kiln_check_text(val, KILN_MAX_SCALAR_BYTES, what, &p->sub)) < 0 || r < 0)
    return -1;
  return kvv_push(out, key, val) < 0 ? spec_oom(p, k) : 0;
}

static int read_kv_map(spec_parser *p, const ynode *map, const char *section,
                       int (*check_key)(const char *, kiln_error **), kiln_kvv *out) {
  int r = 0;
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (read_kv_entry(p, map, i, section, check_key, out) < 0) r = -1;
  return r;
}

static int key_env(spec_parser *p, const ynode *v) {
  return read_kv_map(p, v, "env", kiln_check_env_name, &p->spec->env);
}

static int key_labels(spec_parser *p, const ynode *v) {
  return read_kv_map(p, v, "labels", kiln_check_label_key, &p->spec->labels);
}

/* ---- ports, run ---- */

static int key_ports(spec_parser *p, const ynode *v) {
  p->spec->ports = calloc(v->n ? v->n : 1, sizeof *p->spec->ports);
  if (!p->spec->ports) return spec_oom(p, v);
  int r = 0;
  for (size_t i = 0; i < v->n; i++) {
    const char *s = spec_number_text(p, v->items[i], "ports");
    uint16_t port;
    if (!s || spec_checked_as(p, v->items[i], "ports", kiln_parse_port(s, &port, &p->sub)) < 0) {
      r = -1;
      continue;
    }
    p->spec->ports[p->spec->n_ports++] = port;
  }
  return r;
}

static int key_run(spec_parser *p, const ynode *v) {
  return spec_text_list(p, v, "run", kiln_check_run_command, &p->spec->run);
}

/* ---- files ---- */

static int key_file_src(spec_parser *p, const ynode *v) {
  kiln_spec_file *f = p->current_file;
  if (spec_checked(p, v, kiln_check_copy_source(v->text, "files.src", &p->sub)) < 0) return -1;
  return spec_checked(
      p, v, kiln_check_project_path(p->dir, v->text, "files.src", &f->src, &f->is_dir, &p->sub));
}

static int key_file_dest(spec_parser *p, const ynode *v) {
  return read_image_path(p, v, "files.dest", &p->current_file->dest);
}

/* The scalar text, not a YAML integer: `mode: 644` and `mode: 0644` both
 * mean octal 644, as in chmod. */
static int key_file_mode(spec_parser *p, const ynode *v) {
  const char *s = spec_number_text(p, v, "files.mode");
  if (!s ||
      spec_checked_as(p, v, "files.mode", kiln_parse_mode(s, &p->current_file->mode, &p->sub)) < 0)
    return -1;
  p->current_file->has_mode = true;
  return 0;
}

static const spec_key file_keys[] = {
    {"src", SPEC_TEXT, "a path in the project", key_file_src},
    {"dest", SPEC_TEXT, "an absolute path in the image", key_file_dest},
    {"mode", SPEC_TEXT, "an octal mode such as 0644", key_file_mode},
    {NULL, 0, NULL, NULL},
};

static bool has_value(const ynode *map, const char *key) {
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (map->items[i]->kind == YNODE_SCALAR && !strcmp(map->items[i]->text, key) &&
        !ynode_is_null(map->items[i + 1]))
      return true;
  return false;
}

static int read_file_entry(spec_parser *p, const ynode *item) {
  if (item->kind != YNODE_MAP)
    return spec_fail(p, item, "files entries must be mappings like {src: a, dest: /b}, not %s",
                     ynode_kind_name(item->kind));
  p->current_file = &p->spec->files[p->spec->n_files++];
  int r = spec_walk_map(p, item, "files", file_keys);
  p->current_file = NULL;
  if (!has_value(item, "src") || !has_value(item, "dest"))
    return spec_fail(p, item,
                     "files entry needs both src (in the project) and dest (in the "
                     "image)");
  return r;
}

static int key_files(spec_parser *p, const ynode *v) {
  p->spec->files = calloc(v->n ? v->n : 1, sizeof *p->spec->files);
  if (!p->spec->files) return spec_oom(p, v);
  int r = 0;
  for (size_t i = 0; i < v->n; i++)
    if (read_file_entry(p, v->items[i]) < 0) r = -1;
  return r;
}

/* ---- ssh ---- */

static int key_ssh_enabled(spec_parser *p, const ynode *v) {
  return spec_bool(p, v, "ssh.enabled", &p->spec->ssh.enabled);
}

static int key_ssh_port(spec_parser *p, const ynode *v) {
  const char *s = spec_number_text(p, v, "ssh.port");
  return s ? spec_checked_as(p, v, "ssh.port", kiln_parse_port(s, &p->spec->ssh.port, &p->sub))
           : -1;
}

static int key_ssh_keys(spec_parser *p, const ynode *v) {
  return read_project_path(p, v, "ssh.authorized_keys", false, &p->spec->ssh.authorized_keys);
}

static const spec_key ssh_keys[] = {
    {"enabled", SPEC_TEXT, "true or false", key_ssh_enabled},
    {"port", SPEC_TEXT, "a port number", key_ssh_port},
    {"authorized_keys", SPEC_TEXT, "a file path in the project", key_ssh_keys},
    {NULL, 0, NULL, NULL},
};

static int key_ssh(spec_parser *p, const ynode *v) {
  return spec_walk_map(p, v, "ssh", ssh_keys);
}

/* ---- deploy ---- */

static int key_deploy_gpus(spec_parser *p, const ynode *v) {
  if (spec_checked_as(p, v, "deploy.gpus", kiln_check_gpus(v->text, &p->sub)) < 0) return -1;
  return spec_keep(p, v, &p->spec->deploy.gpus, v->text);
}

/* Kept as written (the runtime reads it), but it must be a valid size. */
static int key_deploy_gpu_memory(spec_parser *p, const ynode *v) {
  uint64_t bytes;
  if (read_size(p, v, "deploy.gpu_memory", &bytes) < 0) return -1;
  return spec_keep(p, v, &p->spec->deploy.gpu_memory, v->text);
}

static int key_deploy_runtime(spec_parser *p, const ynode *v) {
  const char *s = v->text;
  size_t n = strlen(s);
  if (!n || n > MAX_RUNTIME_NAME || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
    return spec_fail(p, v,
                     "deploy.runtime \"%.64s\" is not valid; expected a runtime name of "
                     "[a-z0-9_-] such as nvidia",
                     s);
  return spec_keep(p, v, &p->spec->deploy.runtime, s);
}

static int key_deploy_memory(spec_parser *p, const ynode *v) {
  return read_size(p, v, "deploy.memory", &p->spec->deploy.memory);
}

static int key_deploy_shm(spec_parser *p, const ynode *v) {
  return read_size(p, v, "deploy.shm_size", &p->spec->deploy.shm_size);
}

static int key_deploy_cpus(spec_parser *p, const ynode *v) {
  const char *s = spec_number_text(p, v, "deploy.cpus");
  return s ? spec_checked_as(p, v, "deploy.cpus",
                             kiln_parse_cpus(s, &p->spec->deploy.nano_cpus, &p->sub))
           : -1;
}

/* "NAME:/path[:ro|:rw]": the one grammar of -v (kiln_parse_volume_spec). */
static int check_volume(const char *s, kiln_error **err) {
  _cleanup_free_ char *name = NULL, *target = NULL;
  bool ro;
  return kiln_parse_volume_spec(s, &name, &target, &ro, err);
}

static int key_deploy_volumes(spec_parser *p, const ynode *v) {
  return spec_text_list(p, v, "deploy.volumes", check_volume, &p->spec->deploy.volumes);
}

static int check_command_word(const char *s, kiln_error **err) {
  return kiln_check_text(s, KILN_MAX_SCALAR_BYTES, "deploy.command", err);
}

/* A list is the exec form; a single string runs through /bin/sh -c. */
static int key_deploy_command(spec_parser *p, const ynode *v) {
  kiln_strv *cmd = &p->spec->deploy.command;
  if (v->kind == YNODE_SEQ) {
    if (!v->n) return spec_fail(p, v, "deploy.command is an empty list; expected a command");
    return spec_text_list(p, v, "deploy.command", check_command_word, cmd);
  }
  if (spec_checked(p, v, kiln_check_run_command(v->text, &p->sub)) < 0) return -1;
  if (spec_strv_push(cmd, "/bin/sh") < 0 || spec_strv_push(cmd, "-c") < 0 ||
      spec_strv_push(cmd, v->text) < 0)
    return spec_oom(p, v);
  return 0;
}

static int check_port_binding(const char *s, kiln_error **err) {
  kiln_port_binding pb;
  return kiln_parse_port_binding(s, &pb, err);
}

/* Items are text or numbers ("8888", 8888, "127.0.0.1:18888:8888"). */
static int key_deploy_ports(spec_parser *p, const ynode *v) {
  return spec_text_list(p, v, "deploy.ports", check_port_binding, &p->spec->deploy.ports);
}

static int key_deploy_env(spec_parser *p, const ynode *v) {
  return read_kv_map(p, v, "deploy.env", kiln_check_env_name, &p->spec->deploy.env);
}

/* A positive number, or -1 for no limit (like --pids-limit). */
static int key_deploy_pids_limit(spec_parser *p, const ynode *v) {
  const char *s = spec_number_text(p, v, "deploy.pids_limit");
  if (!s) return -1;
  char *end = NULL;
  errno = 0;
  long long n = strtoll(s, &end, 10);
  if (!strcmp(s, "-1")) {
    p->spec->deploy.pids_limit = -1;
    return 0;
  }
  if (*end || errno || s[0] < '0' || s[0] > '9' || n < 1 || n > KILN_MAX_PIDS_LIMIT)
    return spec_fail(p, v, "deploy.pids_limit \"%.32s\" is not valid; expected 1..%u or -1", s,
                     (unsigned)KILN_MAX_PIDS_LIMIT);
  p->spec->deploy.pids_limit = (int64_t)n;
  return 0;
}

static const spec_key deploy_keys[] = {
    {"gpus", SPEC_TEXT, "all, a count or a list of ids", key_deploy_gpus},
    {"gpu_memory", SPEC_TEXT, "a size such as 8g", key_deploy_gpu_memory},
    {"runtime", SPEC_TEXT, "a runtime name such as nvidia", key_deploy_runtime},
    {"memory", SPEC_TEXT, "a size such as 16g", key_deploy_memory},
    {"cpus", SPEC_TEXT, "a number of CPUs such as 2 or 0.5", key_deploy_cpus},
    {"shm_size", SPEC_TEXT, "a size such as 1g", key_deploy_shm},
    {"volumes", SPEC_LIST, "a list of NAME:/path[:ro]", key_deploy_volumes},
    {"command", SPEC_TEXT | SPEC_LIST, "text or a list of words", key_deploy_command},
    {"ports", SPEC_LIST, "a list of [IP:]HOST:CONTAINER or CONTAINER", key_deploy_ports},
    {"env", SPEC_MAP, NULL, key_deploy_env},
    {"pids_limit", SPEC_TEXT, "a number of processes or -1", key_deploy_pids_limit},
    {NULL, 0, NULL, NULL},
};

static int key_deploy(spec_parser *p, const ynode *v) {
  return spec_walk_map(p, v, "deploy", deploy_keys);
}

/* ---- the top level ---- */

const spec_key spec_top_keys[] = {
    {"version", SPEC_TEXT, "the number 1", key_version},
    {"project", SPEC_TEXT, "a name such as my-project", key_project},
    {"base", SPEC_MAP, NULL, key_base},
    {"user", SPEC_MAP, NULL, key_user},
    {"packages", SPEC_MAP, NULL, key_packages},
    {"env", SPEC_MAP, NULL, key_env},
    {"ports", SPEC_LIST, "a list of port numbers", key_ports},
    {"workspace", SPEC_TEXT, "an absolute path in the image", key_workspace},
    {"files", SPEC_LIST, "a list of {src, dest, mode}", key_files},
    {"run", SPEC_LIST, "a list of commands", key_run},
    {"labels", SPEC_MAP, NULL, key_labels},
    {"ssh", SPEC_MAP, NULL, key_ssh},
    {"deploy", SPEC_MAP, NULL, key_deploy},
    {NULL, 0, NULL, NULL},
};

/* ---- defaults and rules across keys ---- */

static int resolve_framework(spec_parser *p) {
  kiln_spec *s = p->spec;
  if (!s->base_framework || !s->base_version)
    return spec_fail(p, s->base_framework ? p->base_framework : p->base_version,
                     "base.framework and base.version go together; expected both");
  const char *image =
      kiln_catalog_framework_image(p->opts->catalog, s->base_framework, s->base_version);
  if (!image) {
    const char *name = s->base_framework;
    _cleanup_free_ char *known = kiln_catalog_describe_frameworks(p->opts->catalog, name);
    if (kiln_catalog_has_framework(p->opts->catalog, name))
      return spec_fail(p, p->base_version,
                       "unknown version \"%.64s\" of framework \"%.64s\"; expected one of: %s "
                       "(see 'kiln catalog frameworks')",
                       s->base_version, name, known ? known : "(none)");
    return spec_fail(p, p->base_framework,
                     "unknown framework \"%.64s\"; expected one of: %s (see 'kiln catalog "
                     "frameworks')",
                     name, known ? known : "(none)");
  }
  return spec_keep(p, p->base_framework, &s->base_image, image);
}

/* The value of key in map, or NULL when absent. */
static const ynode *value_of(const ynode *map, const char *key) {
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (map->items[i]->kind == YNODE_SCALAR && !strcmp(map->items[i]->text, key))
      return map->items[i + 1];
  return NULL;
}

static int resolve_base(spec_parser *p) {
  const ynode *base = value_of(p->root, "base");
  if (base && !ynode_is_null(base) && base->kind != YNODE_MAP) return -1; /* reported */
  bool by_framework = p->base_framework || p->base_version;
  if (p->base_image && by_framework)
    return spec_fail(p, p->base_framework ? p->base_framework : p->base_version,
                     "base.image and base.framework/base.version exclude each other; use one");
  if (p->base_image) return 0; /* checked (or refused) by its handler */
  if (!by_framework)
    return spec_fail(p, p->root,
                     "base.image or base.framework is required; expected base: {image: REF} or "
                     "base: {framework: NAME, version: VERSION}");
  return resolve_framework(p);
}

/* uid or gid from the spec, else from the identity. */
static int resolve_id(spec_parser *p, const ynode *n, uint32_t fallback, const char *what,
                      uint32_t *out) {
  bool allow_root = p->spec->user.allow_root;
  if (!n) {
    *out = fallback;
    return spec_checked(p, p->user_map ? p->user_map : p->root,
                        kiln_check_id(fallback, allow_root, what, &p->sub));
  }
  const char *s = spec_number_text(p, n, what);
  return s ? spec_checked(p, n, kiln_parse_id(s, allow_root, what, out, &p->sub)) : -1;
}

static int default_user_name(spec_parser *p, const ynode *at) {
  const char *raw = p->opts->identity->name ? p->opts->identity->name : "";
  p->spec->user.name = kiln_sanitize_username(raw, &p->sub);
  if (spec_checked(p, at, p->spec->user.name ? 0 : -1) < 0) return -1;
  return spec_keep(p, at, &p->spec->user.requested_name, raw);
}

/* The login shell: the spec's, else the caller's when it is a usable image
 * path, else /bin/bash. */
static int default_shell(spec_parser *p, const ynode *at) {
  const char *shell = p->opts->identity->shell;
  kiln_error *ignored = NULL;
  if (!shell || kiln_check_image_path(shell, "shell", &ignored) < 0) shell = "/bin/bash";
  kiln_error_free(ignored);
  return spec_keep(p, at, &p->spec->user.shell, shell);
}

static int resolve_user(spec_parser *p) {
  kiln_spec *s = p->spec;
  const ynode *at = p->user_map ? p->user_map : p->root;
  if (p->opts->identity->uid == 0 && !p->user_uid && !s->user.allow_root)
    return spec_fail(p, at,
                     "kiln is running as root without sudo; set user.name/uid/gid in kiln.yaml "
                     "or run through sudo — kiln never builds a root user silently");
  int r = 0;
  if (!p->user_name && default_user_name(p, at) < 0) r = -1;
  if (resolve_id(p, p->user_uid, p->opts->identity->uid, "user.uid", &s->user.uid) < 0) r = -1;
  if (resolve_id(p, p->user_gid, p->opts->identity->gid, "user.gid", &s->user.gid) < 0) r = -1;
  if (s->user.name && !strcmp(s->user.name, "root") && !s->user.allow_root)
    r = spec_fail(p, p->user_name ? p->user_name : at,
                  "user name \"root\" is the image's own root account; set another user.name "
                  "(or user.allow_root: true)");
  if (s->user.name && p->opts->name_policy &&
      spec_checked(p, p->user_name ? p->user_name : at,
                   kiln_check_name_policy(s->user.name, "user name", &p->sub)) < 0)
    r = -1;
  if (!s->user.shell && default_shell(p, at) < 0) r = -1;
  return r;
}

int spec_finish(spec_parser *p) {
  kiln_spec *s = p->spec;
  int r = 0;
  if (!s->version) s->version = 1;
  if (!s->project && !has_value(p->root, "project"))
    r = spec_fail(p, p->root, "project is required; expected a name such as my-project");
  if (resolve_base(p) < 0) r = -1;
  if (resolve_user(p) < 0) r = -1;
  if (!s->workspace && !has_value(p->root, "workspace") &&
      spec_keep(p, p->root, &s->workspace, "/workspace") < 0)
    r = -1;
  if (!s->ssh.port) s->ssh.port = 22;
  return r;
}
