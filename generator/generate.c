/* Spec → model → Dockerfile.
 *
 * The model is a JSON object holding everything the templates show; its
 * canonical form (sorted keys, compact) is hashed into kiln.spec-sha256, so
 * the hash changes exactly when the Dockerfile's meaning changes. The spec's
 * values were all checked by spec.c; the model only arranges them. */
#include <stdlib.h>
#include <string.h>

#include "kiln/access.h"
#include "kiln/generate.h"
#include "sanitize/sanitize.h"
#include "kiln/kiln.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "templates/catalog.h"
#include "templates/render.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#define USER_SETUP_SCRIPT   "user-setup.sh"
#define DOCKERFILE_TEMPLATE "Dockerfile"

/* Adds obj[key] = value, taking value's reference; NULL value is OOM. */
static int set_new(json_t *obj, const char *key, json_t *value, kiln_error **err) {
  if (!value || json_object_set_new(obj, key, value) < 0) return kiln_error_oom(err);
  return 0;
}

static int set_string(json_t *obj, const char *key, const char *value, kiln_error **err) {
  return set_new(obj, key, json_string(value), err);
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A sorted, duplicate-free JSON array of the strings collected in names. */
typedef struct {
  const char **v;
  size_t n, alloc;
} name_set;

static int name_set_add(name_set *set, const char *name, kiln_error **err) {
  if (set->n == set->alloc) {
    size_t alloc = set->alloc ? set->alloc * 2 : 32;
    const char **v = realloc(set->v, alloc * sizeof *v);
    if (!v) return kiln_error_oom(err);
    set->v = v;
    set->alloc = alloc;
  }
  set->v[set->n++] = name;
  return 0;
}

static int name_set_add_strv(name_set *set, const kiln_strv *strv, kiln_error **err) {
  for (size_t i = 0; i < strv->n; i++)
    if (name_set_add(set, strv->v[i], err) < 0) return -1;
  return 0;
}

static int name_set_add_json(name_set *set, const json_t *list, kiln_error **err) {
  for (size_t i = 0; i < json_array_size(list); i++)
    if (name_set_add(set, json_string_value(json_array_get(list, i)), err) < 0) return -1;
  return 0;
}

static json_t *name_set_sorted(name_set *set) {
  if (set->n) qsort(set->v, set->n, sizeof *set->v, compare_strings);
  json_t *out = json_array();
  for (size_t i = 0; out && i < set->n; i++)
    if ((i == 0 || strcmp(set->v[i], set->v[i - 1])) &&
        json_array_append_new(out, json_string(set->v[i])) < 0)
      return json_decref(out), NULL;
  return out;
}

/* The packages of every group in the spec for one installer. */
static int add_group_packages(name_set *set, const kiln_spec *spec, const kiln_catalog *cat,
                              const char *kind, kiln_error **err) {
  for (size_t i = 0; i < spec->packages.groups.n; i++) {
    const char *group = spec->packages.groups.v[i];
    const json_t *list = kiln_catalog_group_packages(cat, group, kind);
    if (!list) return kiln_error_set(err, KILN_EXIT_USAGE, "unknown package group \"%s\"", group);
    if (name_set_add_json(set, list, err) < 0) return -1;
  }
  return 0;
}

static json_t *pip_packages(const kiln_spec *spec, const kiln_catalog *cat, kiln_error **err) {
  _cleanup_free_ const char **names = NULL;
  name_set set = {0};
  int r = name_set_add_strv(&set, &spec->packages.pip, err);
  if (r == 0 &&
      !strcmp(kiln_catalog_group_installer(cat, spec->base_framework, spec->base_python), "pip"))
    r = add_group_packages(&set, spec, cat, "pip", err);
  names = set.v;
  if (r < 0) return NULL;
  json_t *out = name_set_sorted(&set);
  if (!out) kiln_error_oom(err);
  return out;
}

static int model_apt(json_t *model, const kiln_spec *spec, const kiln_catalog *cat, bool needs_pip,
                     kiln_error **err) {
  _cleanup_free_ const char **names = NULL;
  name_set set = {0};
  int r = name_set_add_strv(&set, &spec->packages.apt, err);
  if (r == 0 &&
      !strcmp(kiln_catalog_group_installer(cat, spec->base_framework, spec->base_python), "apt"))
    r = add_group_packages(&set, spec, cat, "apt", err);
  if (r == 0 && spec->ssh.enabled) r = name_set_add(&set, "openssh-server", err);
  if (r == 0 && spec->user.sudo) r = name_set_add(&set, "sudo", err);
  names = set.v;
  if (r < 0) return -1;
  if (!set.n && !needs_pip) return 0;
  _cleanup_json_ json_t *apt = json_object();
  if (!apt || set_new(apt, "packages", name_set_sorted(&set), err) < 0) return kiln_error_oom(err);
  if (needs_pip && set_new(apt, "ensure_pip", json_true(), err) < 0) return -1;
  return set_new(model, "apt", json_incref(apt), err);
}

/* Where pip_find_links lands in the image. */
#define FIND_LINKS_DIR "/etc/kiln/pip-find-links"

static int add_option(json_t *options, const char *flag, const char *value, kiln_error **err) {
  if (json_array_append_new(options, json_string(flag)) < 0 ||
      json_array_append_new(options, json_string(value)) < 0)
    return kiln_error_oom(err);
  return 0;
}

/* pip ignores a plain-http index unless its host is trusted; an http:// URL
 * the spec names is one the site chose (an internal mirror), so its
 * "host[:port]" becomes --trusted-host. https:// adds nothing. */
static int add_trusted_host(json_t *options, const char *url, kiln_error **err) {
  if (!url || strncmp(url, "http://", 7)) return 0;
  const char *host = url + 7;
  _cleanup_free_ char *hostport = strndup(host, strcspn(host, "/?#"));
  if (!hostport) return kiln_error_oom(err);
  return add_option(options, "--trusted-host", hostport, err);
}

/* pip's index options as separate arguments ("--index-url", URL, ...): the
 * RUN steps pass them through "$@", never through the script's text. */
static int model_pip_options(json_t *pip, const kiln_spec *spec, kiln_error **err) {
  _cleanup_json_ json_t *options = json_array();
  if (!options) return kiln_error_oom(err);
  const struct {
    const char *flag, *value;
  } set[] = {
      {"--index-url", spec->packages.pip_index_url},
      {"--extra-index-url", spec->packages.pip_extra_index_url},
      {"--find-links", spec->packages.pip_find_links ? FIND_LINKS_DIR : NULL},
  };
  for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
    if (set[i].value && add_option(options, set[i].flag, set[i].value, err) < 0) return -1;
  if (add_trusted_host(options, spec->packages.pip_index_url, err) < 0 ||
      add_trusted_host(options, spec->packages.pip_extra_index_url, err) < 0)
    return -1;
  if (spec->packages.pip_find_links &&
      (kiln_check_copy_source(spec->packages.pip_find_links, "COPY source", err) < 0 ||
       set_new(pip, "find_links",
               json_pack("{s:s, s:s}", "src", spec->packages.pip_find_links, "dest",
                         FIND_LINKS_DIR "/"),
               err) < 0))
    return kiln_error_prefix(err, "packages.pip_find_links");
  if (!json_array_size(options)) return 0;
  if (set_new(pip, "indexed", json_true(), err) < 0) return -1;
  return set_new(pip, "options", json_incref(options), err);
}

static int model_pip(json_t *model, const kiln_spec *spec, json_t *packages, kiln_error **err) {
  _cleanup_json_ json_t *pip = json_object();
  if (!pip) return kiln_error_oom(err);
  if (model_pip_options(pip, spec, err) < 0) return -1;
  if (spec->packages.requirements &&
      (kiln_check_copy_source(spec->packages.requirements, "COPY source", err) < 0 ||
       set_string(pip, "requirements", spec->packages.requirements, err) < 0))
    return kiln_error_prefix(err, "packages.requirements");
  if (json_array_size(packages) &&
      set_new(pip, "install", json_pack("{s:O}", "packages", packages), err) < 0)
    return -1;
  if (!json_object_size(pip)) return 0;
  return set_new(model, "pip", json_incref(pip), err);
}

/* Docker expands variables and globs in COPY sources even in JSON form;
 * refuse the characters that would make it copy something else. */
static int check_copy_source(const char *src, kiln_error **err) {
  return kiln_check_copy_source(src, "COPY source", err); /* the spec checked it already */
}

/* Where a file lands: COPY into "dir/" keeps the source's base name. */
static char *copied_path(const kiln_spec_file *f) {
  size_t n = strlen(f->dest);
  char *path = NULL;
  if (n && f->dest[n - 1] == '/' && !f->is_dir) {
    const char *base = strrchr(f->src, '/');
    if (asprintf(&path, "%s%s", f->dest, base ? base + 1 : f->src) < 0) return NULL;
    return path;
  }
  return strdup(f->dest);
}

static int add_chmod(json_t *entries, const kiln_spec_file *f, kiln_error **err) {
  _cleanup_free_ char *path = copied_path(f);
  char mode[16];
  snprintf(mode, sizeof mode, "%04o", f->mode & 07777u);
  if (!path ||
      json_array_append_new(entries, json_pack("{s:s, s:s}", "mode", mode, "path", path)) < 0)
    return kiln_error_oom(err);
  return 0;
}

static int model_files(json_t *model, const kiln_spec *spec, kiln_error **err) {
  _cleanup_json_ json_t *files = json_array();
  _cleanup_json_ json_t *entries = json_array();
  if (!files || !entries) return kiln_error_oom(err);
  for (size_t i = 0; i < spec->n_files; i++) {
    const kiln_spec_file *f = &spec->files[i];
    if (check_copy_source(f->src, err) < 0) return kiln_error_prefix(err, "files[%zu].src", i);
    if (json_array_append_new(files, json_pack("{s:s, s:s}", "src", f->src, "dest", f->dest)) < 0)
      return kiln_error_oom(err);
    if (f->has_mode && add_chmod(entries, f, err) < 0) return -1;
  }
  if (json_array_size(files) && set_new(model, "files", json_incref(files), err) < 0) return -1;
  if (json_array_size(entries) &&
      set_new(model, "chmod", json_pack("{s:O}", "entries", entries), err) < 0)
    return -1;
  return 0;
}

static json_t *strv_json(const kiln_strv *strv) {
  json_t *out = json_array();
  for (size_t i = 0; out && i < strv->n; i++)
    if (json_array_append_new(out, json_string(strv->v[i])) < 0) return json_decref(out), NULL;
  return out;
}

/* [{"key": k, "value": v}, ...] in spec order. */
static json_t *kvv_json(const kiln_kvv *kvv) {
  json_t *out = json_array();
  for (size_t i = 0; out && i < kvv->n; i++)
    if (json_array_append_new(
            out, json_pack("{s:s, s:s}", "key", kvv->v[i].key, "value", kvv->v[i].value)) < 0)
      return json_decref(out), NULL;
  return out;
}

static int model_ssh(json_t *model, const kiln_spec *spec, kiln_error **err) {
  if (!spec->ssh.enabled) return 0;
  char owner[32];
  snprintf(owner, sizeof owner, "%u:%u", spec->user.uid, spec->user.gid);
  _cleanup_json_ json_t *ssh = json_pack("{s:i, s:s}", "port", (int)spec->ssh.port, "owner", owner);
  if (!ssh) return kiln_error_oom(err);
  if (spec->ssh.authorized_keys) {
    if (check_copy_source(spec->ssh.authorized_keys, err) < 0)
      return kiln_error_prefix(err, "ssh.authorized_keys");
    if (set_string(ssh, "authorized_keys", spec->ssh.authorized_keys, err) < 0) return -1;
  }
  return set_new(model, "ssh", json_incref(ssh), err);
}

static int model_user(json_t *model, const kiln_spec *spec, const char *templates_dir,
                      kiln_error **err) {
  _cleanup_free_ char *home = kiln_user_home(spec->user.name, spec->user.uid);
  _cleanup_free_ char *local_bin = NULL, *script_path = NULL;
  if (!home) return kiln_error_oom(err);
  if (asprintf(&local_bin, "%s/.local/bin", home) < 0) return kiln_error_oom(err);
  if (asprintf(&script_path, "%s/%s", templates_dir, USER_SETUP_SCRIPT) < 0)
    return kiln_error_oom(err);
  _cleanup_free_ char *script =
      kiln_read_file_bounded(script_path, KILN_MAX_TEMPLATE_BYTES, NULL, err);
  if (!script) return -1;
  json_t *user =
      json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:i}", "name", spec->user.name, "requested_name",
                spec->user.requested_name ? spec->user.requested_name : spec->user.name, "uid",
                (json_int_t)spec->user.uid, "gid", (json_int_t)spec->user.gid, "home", home,
                "shell", spec->user.shell, "sudo", spec->user.sudo ? 1 : 0);
  if (set_new(model, "user", user, err) < 0 ||
      set_string(model, "path_prefix", local_bin, err) < 0 ||
      set_string(model, "user_setup_script", script, err) < 0)
    return -1;
  return 0;
}

static int compare_ports(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Spec ports plus the ssh port, sorted, each once. */
static int model_ports(json_t *model, const kiln_spec *spec, kiln_error **err) {
  _cleanup_free_ uint16_t *ports = calloc(spec->n_ports + 1, sizeof *ports);
  if (!ports) return kiln_error_oom(err);
  size_t n = spec->n_ports;
  if (n) memcpy(ports, spec->ports, n * sizeof *ports);
  if (spec->ssh.enabled) ports[n++] = spec->ssh.port;
  qsort(ports, n, sizeof *ports, compare_ports);
  json_t *list = json_array();
  for (size_t i = 0; list && i < n; i++)
    if ((i == 0 || ports[i] != ports[i - 1]) &&
        json_array_append_new(list, json_integer(ports[i])) < 0)
      return json_decref(list), kiln_error_oom(err);
  return set_new(model, "ports", list, err);
}

static int model_base(json_t *model, const kiln_spec *spec, kiln_error **err) {
  _cleanup_json_ json_t *base = json_pack("{s:s}", "image", spec->base_image);
  if (!base) return kiln_error_oom(err);
  if (spec->base_framework && (set_string(base, "framework", spec->base_framework, err) < 0 ||
                               set_string(base, "version", spec->base_version, err) < 0))
    return -1;
  return set_new(model, "base", json_incref(base), err);
}

static json_t *build_model(const kiln_spec *spec, const kiln_generate_options *opts,
                           kiln_error **err) {
  _cleanup_json_ json_t *model = json_object();
  if (!model) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *pip = pip_packages(spec, opts->catalog, err);
  if (!pip) return NULL;
  bool needs_pip = json_array_size(pip) || spec->packages.requirements;
  if (set_string(model, "project", spec->project, err) < 0 || model_base(model, spec, err) < 0 ||
      model_apt(model, spec, opts->catalog, needs_pip, err) < 0 ||
      model_pip(model, spec, pip, err) < 0 || model_files(model, spec, err) < 0 ||
      set_new(model, "run", strv_json(&spec->run), err) < 0 || model_ssh(model, spec, err) < 0 ||
      model_user(model, spec, opts->templates_dir, err) < 0 ||
      set_string(model, "workspace", spec->workspace, err) < 0 ||
      set_new(model, "env", kvv_json(&spec->env), err) < 0 || model_ports(model, spec, err) < 0 ||
      set_new(model, "user_labels", kvv_json(&spec->labels), err) < 0)
    return NULL;
  return steal_pointer(&model);
}

static int spec_hash(const json_t *model, char out[65], kiln_error **err) {
  _cleanup_free_ char *canonical = json_dumps(model, JSON_SORT_KEYS | JSON_COMPACT);
  if (!canonical || kiln_sha256_hex(canonical, strlen(canonical), out) < 0)
    return kiln_error_oom(err);
  return 0;
}

static int add_label(json_t *labels, const char *key, const char *value, kiln_error **err) {
  if (json_array_append_new(
          labels, json_pack("{s:s, s:s, s:b}", "key", key, "value", value, "more", 1)) < 0)
    return kiln_error_oom(err);
  return 0;
}

static int add_label_uint(json_t *labels, const char *key, uint32_t value, kiln_error **err) {
  char text[16];
  snprintf(text, sizeof text, "%u", value);
  return add_label(labels, key, text, err);
}

/* kiln.* labels, then OCI ones, then the spec's own (which may override
 * the OCI ones; the kiln. namespace is reserved by sanitize). Also the
 * build-step label the line after FROM sets (not part of the spec hash). */
static int model_labels(json_t *model, const kiln_spec *spec, const char *hash, kiln_error **err) {
  json_t *user = json_object_get(model, "user");
  const char *home = json_string_value(json_object_get(user, "home"));
  _cleanup_json_ json_t *labels = json_array();
  if (!labels) return kiln_error_oom(err);
  if (add_label(labels, KILN_LABEL_USER_SETUP, "true", err) < 0 ||
      add_label_uint(labels, KILN_LABEL_UID, spec->user.uid, err) < 0 ||
      add_label_uint(labels, KILN_LABEL_GID, spec->user.gid, err) < 0 ||
      add_label(labels, KILN_LABEL_USER, spec->user.name, err) < 0 ||
      add_label(labels, KILN_LABEL_HOME, home, err) < 0 ||
      add_label(labels, KILN_LABEL_WORKSPACE, spec->workspace, err) < 0 ||
      add_label(labels, KILN_LABEL_PROJECT, spec->project, err) < 0 ||
      add_label(labels, KILN_LABEL_SPEC_SHA256, hash, err) < 0 ||
      add_label(labels, KILN_LABEL_VERSION, kiln_version(), err) < 0 ||
      add_label(labels, "org.opencontainers.image.title", spec->project, err) < 0 ||
      add_label(labels, "org.opencontainers.image.ref.name", "latest", err) < 0 ||
      add_label(labels, KILN_LABEL_BUILD_STEP, "", err) < 0)
    return -1;
  for (size_t i = 0; i < spec->labels.n; i++)
    if (add_label(labels, spec->labels.v[i].key, spec->labels.v[i].value, err) < 0) return -1;
  json_object_set(json_array_get(labels, json_array_size(labels) - 1), "more", json_false());
  if (set_new(model, "build_step",
              json_pack("{s:s, s:s}", "key", KILN_LABEL_BUILD_STEP, "value", "true"), err) < 0)
    return -1;
  return set_new(model, "labels", json_incref(labels), err);
}

int kiln_generate(const kiln_spec *spec, const kiln_generate_options *opts, kiln_generated *out,
                  kiln_error **err) {
  memset(out, 0, sizeof *out);
  if (!opts || !opts->templates_dir || !opts->catalog)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "kiln_generate: templates_dir and catalog are required");
  _cleanup_json_ json_t *model = build_model(spec, opts, err);
  if (!model) return kiln_error_prefix(err, "generating the Dockerfile for %s", spec->project);
  char hash[65];
  if (spec_hash(model, hash, err) < 0 || model_labels(model, spec, hash, err) < 0) return -1;
  size_t len = 0;
  char *text = kiln_render_file(opts->templates_dir, DOCKERFILE_TEMPLATE, model, &len, err);
  if (!text) return kiln_error_prefix(err, "generating the Dockerfile for %s", spec->project);
  char *image = kiln_namespace_ref(opts->ns, spec->user.uid, spec->project, "latest");
  if (!image) {
    free(text);
    return kiln_error_oom(err);
  }
  out->dockerfile = text;
  out->dockerfile_len = len;
  memcpy(out->spec_sha256, hash, sizeof hash);
  out->image_name = image;
  return 0;
}

void kiln_generated_clear(kiln_generated *out) {
  if (!out) return;
  free(out->dockerfile);
  free(out->image_name);
  memset(out, 0, sizeof *out);
}
