/* What an adapted image gives its user: the home, the workspace and the
 * environment of the deployer, not of whoever the base was set up for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define DEFAULT_WORKSPACE "/workspace"
#define DEFAULT_PATH      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define LOCAL_BIN         "/.local/bin"

/* The value of KEY in an image's Env list ("KEY=value" strings), borrowed. */
static const char *env_value(json_t *env, const char *key) {
  size_t n = strlen(key), i;
  json_t *e;
  json_array_foreach(env, i, e) {
    const char *s = json_string_value(e);
    if (s && !strncmp(s, key, n) && s[n] == '=') return s + n + 1;
  }
  return NULL;
}

/* The home the base was set up with: its HOME, else kiln's home label. */
static const char *old_home_of(json_t *base_config) {
  const char *h = env_value(json_object_get(base_config, "Env"), "HOME");
  if (!h || h[0] != '/' || !h[1])
    h = json_string_value(json_object_get(json_object_get(base_config, "Labels"), KILN_LABEL_HOME));
  return h && h[0] == '/' && h[1] ? h : NULL;
}

/* *out: path with the prefix old (a folder) replaced by new_prefix, or path
 * itself when it is not old nor inside it. 0, or -1 when out of memory. */
static int moved(const char *path, const char *old, const char *new_prefix, char **out) {
  size_t n = old ? strlen(old) : 0;
  if (!n || strncmp(path, old, n) || (path[n] && path[n] != '/'))
    return (*out = strdup(path)) ? 0 : -1;
  return asprintf(out, "%s%s", new_prefix, path + n) < 0 ? (*out = NULL, -1) : 0;
}

/* PATH with home/.local/bin first, and any other .local/bin of the old
 * home or the new one dropped. */
static char *adapted_path(const char *path, const char *old_home, const char *home) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(64u << 10);
  _cleanup_free_ char *copy = strdup(path ? path : DEFAULT_PATH);
  if (!copy || kiln_buf_printf(&b, "%s" LOCAL_BIN, home) < 0) return NULL;
  char *save = NULL;
  for (char *c = strtok_r(copy, ":", &save); c; c = strtok_r(NULL, ":", &save)) {
    size_t n = strlen(c);
    bool local_bin = n > strlen(LOCAL_BIN) && !strcmp(c + n - strlen(LOCAL_BIN), LOCAL_BIN);
    size_t prefix = local_bin ? n - strlen(LOCAL_BIN) : 0;
    if (local_bin && ((old_home && strlen(old_home) == prefix && !strncmp(c, old_home, prefix)) ||
                      (strlen(home) == prefix && !strncmp(c, home, prefix))))
      continue;
    if (kiln_buf_printf(&b, ":%s", c) < 0) return NULL;
  }
  return kiln_buf_steal(&b, NULL);
}

static json_t *adapted_env(json_t *base_env, const char *old_home, const char *home) {
  _cleanup_json_ json_t *env = json_array();
  _cleanup_free_ char *path = adapted_path(env_value(base_env, "PATH"), old_home, home);
  if (!env || !path) return NULL;
  size_t i;
  json_t *e;
  json_array_foreach(base_env, i, e) {
    const char *s = json_string_value(e);
    if (!s || !strncmp(s, "HOME=", 5) || !strncmp(s, "PATH=", 5)) continue;
    if (json_array_append(env, e) < 0) return NULL;
  }
  if (json_array_append_new(env, json_sprintf("HOME=%s", home)) < 0 ||
      json_array_append_new(env, json_sprintf("PATH=%s", path)) < 0)
    return NULL;
  return steal_pointer(&env);
}

int kiln_adapted_user_of(json_t *base_config, const char *caller_name, uint32_t uid,
                         kiln_adapted_user *out, kiln_error **err) {
  memset(out, 0, sizeof *out);
  if (!(out->name = kiln_sanitize_username(caller_name, err)))
    return kiln_error_prefix(err, "user name '%s'", caller_name);
  if (!(out->home = kiln_user_home(out->name, uid))) return kiln_error_oom(err);
  const char *old_home = old_home_of(base_config);
  const char *ws = json_string_value(
      json_object_get(json_object_get(base_config, "Labels"), KILN_LABEL_WORKSPACE));
  if (!ws || ws[0] != '/') ws = DEFAULT_WORKSPACE;
  if (moved(ws, old_home, out->home, &out->workspace) < 0) return kiln_error_oom(err);
  out->env = adapted_env(json_object_get(base_config, "Env"), old_home, out->home);
  return out->env ? 0 : kiln_error_oom(err);
}

void kiln_adapted_user_clear(kiln_adapted_user *u) {
  free(u->name);
  free(u->home);
  free(u->workspace);
  json_decref(u->env);
  memset(u, 0, sizeof *u);
}
