/* The catalog: frameworks → base images and package groups, read from
 * templates_dir/catalog.json so that an administrator can change them
 * without a rebuild. Everything is checked at load, so lookups cannot fail
 * later on a malformed entry. */
#include <stdlib.h>
#include <string.h>

#include "kiln/generate.h"
#include "sanitize/sanitize.h"
#include "templates/catalog.h"
#include "templates/render.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

struct kiln_catalog {
  json_t *root;
  json_t *frameworks; /* borrowed from root */
  json_t *groups;     /* borrowed from root */
};

/* Catalog keys (framework, version, group names) end up in messages and in
 * lookups only; keep them to a plain alphabet. */
static int check_catalog_name(const char *name, const char *what, kiln_error **err) {
  size_t n = strlen(name);
  if (n == 0 || n > KILN_MAX_PACKAGE_NAME ||
      strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s name \"%s\" must be [A-Za-z0-9._-]+", what,
                          name);
  return 0;
}

static int check_versions(const char *framework, json_t *versions, kiln_error **err) {
  if (!json_is_object(versions))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "frameworks.%s.versions must map versions to image references",
                          framework);
  const char *version;
  json_t *image;
  json_object_foreach(versions, version, image) {
    if (check_catalog_name(version, "version", err) < 0) return -1;
    if (!json_is_string(image))
      return kiln_error_set(err, KILN_EXIT_FAILURE, "frameworks.%s.versions.%s must be a string",
                            framework, version);
    if (kiln_check_image_ref(json_string_value(image), err) < 0)
      return kiln_error_prefix(err, "frameworks.%s.versions.%s", framework, version);
  }
  return 0;
}

/* What runs Python in a framework's image decides how groups install. */
static const char *const python_kinds[] = {"debian", "conda", "local", NULL};

static int check_python(const char *framework, json_t *python, kiln_error **err) {
  for (size_t i = 0; python_kinds[i]; i++)
    if (json_is_string(python) && !strcmp(json_string_value(python), python_kinds[i])) return 0;
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "frameworks.%s.python must be \"debian\", \"conda\" or \"local\"",
                        framework);
}

/* A catalog written before frameworks said their Python maps versions to
 * images directly: {VERSION: IMAGE, ...}. Such an entry (an object without
 * "versions" whose values are all strings) is read as {"python": "debian",
 * "versions": {...}}, what kiln assumed then. New reference. */
static json_t *upgraded(json_t *def) {
  if (!json_is_object(def) || json_object_get(def, "versions")) return json_incref(def);
  const char *key;
  json_t *value;
  json_object_foreach(def, key, value) if (!json_is_string(value)) return json_incref(def);
  return json_pack("{s:s, s:s, s:O}", "description", "", "python", "debian", "versions", def);
}

/* {"description", "python", "versions": {VERSION: IMAGE}}; a missing
 * description is filled in empty. */
static int check_framework(const char *name, json_t *def, kiln_error **err) {
  if (!json_is_object(def))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "frameworks.%s must be an object with python and versions", name);
  json_t *description = json_object_get(def, "description");
  if (!description && json_object_set_new(def, "description", json_string("")) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  if (description && !json_is_string(description))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "frameworks.%s.description must be a string",
                          name);
  if (check_python(name, json_object_get(def, "python"), err) < 0) return -1;
  return check_versions(name, json_object_get(def, "versions"), err);
}

static int check_frameworks(json_t *frameworks, kiln_error **err) {
  if (!json_is_object(frameworks))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "\"frameworks\" must be an object");
  const char *name;
  json_t *def;
  json_object_foreach(frameworks, name, def) {
    if (check_catalog_name(name, "framework", err) < 0) return -1;
    json_t *entry = upgraded(def);
    /* replacing the value of the key being visited keeps the iteration */
    if (!entry || (entry != def && json_object_set(frameworks, name, entry) < 0)) {
      json_decref(entry);
      return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
    }
    int r = check_framework(name, entry, err);
    json_decref(entry);
    if (r < 0) return -1;
  }
  return 0;
}

typedef int (*package_check_fn)(const char *name, kiln_error **err);

static int check_package_list(const char *group, json_t *def, const char *kind,
                              package_check_fn check, kiln_error **err) {
  json_t *list = json_object_get(def, kind);
  /* Filled in when absent so that lookups always find a list. */
  if (!list && json_object_set_new(def, kind, list = json_array()) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  if (!json_is_array(list))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "groups.%s.%s must be a list", group, kind);
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    if (!json_is_string(item))
      return kiln_error_set(err, KILN_EXIT_FAILURE, "groups.%s.%s[%zu] must be a string", group,
                            kind, i);
    if (check(json_string_value(item), err) < 0)
      return kiln_error_prefix(err, "groups.%s.%s[%zu]", group, kind, i);
  }
  return 0;
}

static int check_groups(json_t *groups, kiln_error **err) {
  if (!json_is_object(groups))
    return kiln_error_set(err, KILN_EXIT_FAILURE, "\"groups\" must be an object");
  const char *name;
  json_t *def;
  json_object_foreach(groups, name, def) {
    if (check_catalog_name(name, "group", err) < 0) return -1;
    if (!json_is_object(def))
      return kiln_error_set(err, KILN_EXIT_FAILURE, "groups.%s must be an object", name);
    json_t *description = json_object_get(def, "description");
    if (description ? !json_is_string(description)
                    : json_object_set_new(def, "description", json_string("")) < 0)
      return kiln_error_set(err, KILN_EXIT_FAILURE, "groups.%s.description must be a string", name);
    if (check_package_list(name, def, "apt", kiln_check_apt_package, err) < 0 ||
        check_package_list(name, def, "pip", kiln_check_pip_package, err) < 0)
      return -1;
  }
  return 0;
}

kiln_catalog *kiln_catalog_load(const char *templates_dir, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/catalog.json", templates_dir) < 0) path = NULL;
  if (!path) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  size_t len = 0;
  _cleanup_free_ char *text = kiln_read_file_bounded(path, KILN_MAX_TEMPLATE_BYTES, &len, err);
  if (!text) return NULL;
  json_error_t jerr;
  _cleanup_json_ json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_object(root) || check_frameworks(json_object_get(root, "frameworks"), err) < 0 ||
      check_groups(json_object_get(root, "groups"), err) < 0) {
    if (!json_is_object(root)) kiln_error_set(err, KILN_EXIT_FAILURE, "must be a JSON object");
    kiln_error_prefix(err, "%s", path);
    return NULL;
  }
  kiln_catalog *cat = calloc(1, sizeof *cat);
  if (!cat) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  cat->root = steal_pointer(&root);
  cat->frameworks = json_object_get(cat->root, "frameworks");
  cat->groups = json_object_get(cat->root, "groups");
  return cat;
}

void kiln_catalog_free(kiln_catalog *cat) {
  if (!cat) return;
  json_decref(cat->root);
  free(cat);
}

static json_t *versions_of(const kiln_catalog *cat, const char *framework) {
  return json_object_get(json_object_get(cat->frameworks, framework), "versions");
}

const char *kiln_catalog_framework_image(const kiln_catalog *cat, const char *framework,
                                         const char *version) {
  if (!cat || !framework || !version) return NULL;
  return json_string_value(json_object_get(versions_of(cat, framework), version));
}

const char *kiln_catalog_framework_python(const kiln_catalog *cat, const char *framework) {
  const char *python =
      cat && framework ? json_string_value(
                             json_object_get(json_object_get(cat->frameworks, framework), "python"))
                       : NULL;
  return python ? python : "debian";
}

const char *kiln_catalog_group_installer(const kiln_catalog *cat, const char *framework,
                                         const char *python) {
  if (!python) python = kiln_catalog_framework_python(cat, framework);
  return strcmp(python, "debian") ? "pip" : "apt";
}

int kiln_catalog_check_python(const char *python, kiln_error **err) {
  for (size_t i = 0; python_kinds[i]; i++)
    if (!strcmp(python, python_kinds[i])) return 0;
  return kiln_error_set(err, KILN_EXIT_USAGE,
                        "base.python \"%.64s\" is not known; expected debian (Debian's or "
                        "Ubuntu's python3: groups install with apt), conda or local (the image's "
                        "own Python: groups install with pip)",
                        python);
}

int kiln_catalog_has_framework(const kiln_catalog *cat, const char *framework) {
  return cat && framework && json_object_get(cat->frameworks, framework) != NULL;
}

int kiln_catalog_has_group(const kiln_catalog *cat, const char *group) {
  return cat && group && json_object_get(cat->groups, group) != NULL;
}

const json_t *kiln_catalog_group_packages(const kiln_catalog *cat, const char *group,
                                          const char *kind) {
  json_t *def = cat && group ? json_object_get(cat->groups, group) : NULL;
  return def ? json_object_get(def, kind) : NULL;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys of obj in byte order (jansson keeps insertion order, which would let
 * the file's layout leak into messages). Returns a new array of borrowed
 * keys, or NULL when out of memory; *n gets the count. */
static const char **sorted_keys(json_t *obj, size_t *n) {
  *n = json_object_size(obj);
  const char **keys = calloc(*n + 1, sizeof *keys);
  if (!keys) return NULL;
  size_t i = 0;
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value) keys[i++] = key;
  qsort(keys, *n, sizeof *keys, compare_strings);
  return keys;
}

/* The keys of obj, sorted, comma separated; a new string or NULL. */
static char *describe_keys(json_t *obj) {
  _cleanup_buf_ kiln_buf out = KILN_BUF_INIT(KILN_MAX_TEMPLATE_BYTES);
  size_t n = 0;
  _cleanup_free_ const char **names = sorted_keys(obj, &n);
  for (size_t i = 0; names && i < n; i++)
    if (kiln_buf_printf(&out, "%s%s", i ? ", " : "", names[i]) < 0) return NULL;
  return names ? kiln_buf_steal(&out, NULL) : NULL;
}

char *kiln_catalog_describe_frameworks(const kiln_catalog *cat, const char *framework) {
  if (!cat) return NULL;
  json_t *versions = framework ? versions_of(cat, framework) : NULL;
  return describe_keys(versions ? versions : cat->frameworks);
}

char *kiln_catalog_describe_groups(const kiln_catalog *cat) {
  return cat ? describe_keys(cat->groups) : NULL;
}

/* [{"name", "description", "python", "installer", "versions": [{"version",
 * "image"}]}] in name and version order. */
json_t *kiln_catalog_frameworks(const kiln_catalog *cat) {
  json_t *out = json_array();
  size_t nf = 0;
  _cleanup_free_ const char **names = cat ? sorted_keys(cat->frameworks, &nf) : NULL;
  for (size_t f = 0; out && names && f < nf; f++) {
    json_t *def = json_object_get(cat->frameworks, names[f]), *versions = json_array();
    size_t nv = 0;
    _cleanup_free_ const char **keys = sorted_keys(versions_of(cat, names[f]), &nv);
    for (size_t v = 0; versions && keys && v < nv; v++)
      json_array_append_new(versions,
                            json_pack("{s:s, s:O}", "version", keys[v], "image",
                                      json_object_get(versions_of(cat, names[f]), keys[v])));
    if (!keys || !versions || json_array_size(versions) != nv ||
        json_array_append_new(out, json_pack("{s:s, s:O, s:O, s:s, s:o}", "name", names[f],
                                             "description", json_object_get(def, "description"),
                                             "python", json_object_get(def, "python"), "installer",
                                             kiln_catalog_group_installer(cat, names[f], NULL),
                                             "versions", versions)) < 0)
      json_decref(steal_pointer(&out));
  }
  return names || !nf ? out : (json_decref(out), NULL);
}

json_t *kiln_catalog_groups(const kiln_catalog *cat) {
  json_t *out = json_array();
  size_t n = 0;
  _cleanup_free_ const char **names = cat ? sorted_keys(cat->groups, &n) : NULL;
  for (size_t i = 0; out && names && i < n; i++) {
    json_t *def = json_object_get(cat->groups, names[i]);
    if (json_array_append_new(out, json_pack("{s:s, s:O, s:O, s:O}", "name", names[i],
                                             "description", json_object_get(def, "description"),
                                             "apt", json_object_get(def, "apt"), "pip",
                                             json_object_get(def, "pip"))) < 0)
      json_decref(steal_pointer(&out));
  }
  return names || !n ? out : (json_decref(out), NULL);
}
