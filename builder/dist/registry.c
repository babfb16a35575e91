/* Registries: credentials from docker's config.json, push and pull through
 * the engine, and manifest deletion through the registry's own HTTP API v2
 * (the engine has no call for that, so libcurl talks to the registry). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "builder/engine/curlopt.h"
#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define REGISTRY_TIMEOUT_MS 60000L
#define MAX_DIGEST          160

/* ---- base64 ---- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *kiln_base64_encode(const void *data, size_t n, bool url) {
  const unsigned char *p = data;
  const char *alpha = url ? b64_url : b64_std;
  char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *o++ = alpha[v >> 18 & 63];
    *o++ = alpha[v >> 12 & 63];
    *o++ = i + 1 < n ? alpha[v >> 6 & 63] : '=';
    *o++ = i + 2 < n ? alpha[v & 63] : '=';
  }
  *o = '\0';
  return out;
}

static int b64_value(char c) {
  const char *p = c ? strchr(b64_std, c) : NULL;
  if (p) return (int)(p - b64_std);
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

unsigned char *kiln_base64_decode(const char *text, size_t *n) {
  size_t len = strlen(text);
  while (len && text[len - 1] == '=')
    len--;
  unsigned char *out = malloc(len * 3 / 4 + 1);
  if (!out) return NULL;
  uint32_t acc = 0;
  size_t bits = 0, o = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value(text[i]);
    if (v < 0) {
      free(out);
      return NULL;
    }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (unsigned char)(acc >> bits & 0xff);
    }
  }
  if (bits >= 6) { /* a lone trailing character carries no byte */
    free(out);
    return NULL;
  }
  out[o] = '\0';
  *n = o;
  return out;
}

/* ---- credentials ---- */

void kiln_registry_auth_clear(kiln_registry_auth *auth) {
  free(auth->username);
  free(auth->password);
  free(auth->server);
  free(auth->identity_token);
  memset(auth, 0, sizeof *auth);
}

/* "https://reg:5000/v1/" → "reg:5000". New string. */
static char *server_of_key(const char *key) {
  const char *p = strstr(key, "://");
  p = p ? p + 3 : key;
  return strndup(p, strcspn(p, "/"));
}

static int auth_from_entry(json_t *entry, kiln_registry_auth *auth, kiln_error **err) {
  const char *user = json_string_value(json_object_get(entry, "username"));
  const char *pass = json_string_value(json_object_get(entry, "password"));
  const char *b64 = json_string_value(json_object_get(entry, "auth"));
  if (user && pass) {
    if (!(auth->username = strdup(user)) || !(auth->password = strdup(pass)))
      return kiln_error_oom(err);
    return 0;
  }
  if (!b64 || !*b64) return 0;
  size_t n;
  _cleanup_free_ unsigned char *plain = kiln_base64_decode(b64, &n);
  char *colon = plain ? memchr(plain, ':', n) : NULL;
  if (!colon)
    return kiln_error_set(err, KILN_EXIT_USAGE, "its \"auth\" is not base64 of user:password");
  *colon = '\0';
  if (!(auth->username = strdup((char *)plain)) || !(auth->password = strdup(colon + 1)))
    return kiln_error_oom(err);
  return 0;
}

/* The default config.json (kiln_docker_config_dir). New string; NULL with
 * *err unset when there is none. */
static char *default_config_path(kiln_error **err) {
  _cleanup_free_ char *dir = kiln_docker_config_dir();
  char *path = NULL;
  if (dir && asprintf(&path, "%s/config.json", dir) < 0) return kiln_error_oom(err), NULL;
  return path;
}

int kiln_registry_auth_from_config(const char *path, const char *server, kiln_registry_auth *auth,
                                   kiln_error **err) {
  _cleanup_free_ char *fallback = NULL;
  if (!path && !(path = fallback = default_config_path(err))) return *err ? -1 : 0;
  kiln_error *oerr = NULL; /* the caller's rights, never blocking on a FIFO */
  int fd = kiln_fs_open_regular(path, true, NULL, &oerr);
  if (fd < 0 && errno == ENOENT && oerr && oerr->code != KILN_EXIT_USAGE) {
    kiln_error_free(oerr);
    return 0;
  }
  if (fd < 0) return *err = oerr, -1;
  FILE *f = fdopen(fd, "r");
  if (!f) {
    close(fd);
    return kiln_error_errno(err, errno, "cannot read %s", path);
  }
  json_error_t je;
  _cleanup_json_ json_t *cfg = json_loadf(f, 0, &je);
  fclose(f);
  if (!cfg) return kiln_error_set(err, KILN_EXIT_USAGE, "%s:%d: %s", path, je.line, je.text);
  const char *helper = kiln_cred_helper_for(cfg, server);
  if (helper) /* docker: a configured helper replaces the auths entries */
    return kiln_cred_helper_get(helper, server, auth, err) < 0 ? kiln_error_prefix(err, "%s", path)
                                                               : 0;
  const char *key;
  json_t *entry;
  json_object_foreach(json_object_get(cfg, "auths"), key, entry) {
    _cleanup_free_ char *s = server_of_key(key);
    if (!s) return kiln_error_oom(err);
    if (strcmp(s, server)) continue;
    if (auth_from_entry(entry, auth, err) < 0)
      return kiln_error_prefix(err, "%s: auths \"%s\"", path, key);
    break;
  }
  return 0;
}

char *kiln_registry_auth_header(const kiln_registry_auth *auth) {
  _cleanup_json_ json_t *o = json_object();
  if (!o) return NULL;
  if (auth && auth->username) {
    json_object_set_new(o, "username", json_string(auth->username));
    json_object_set_new(o, "password", json_string(auth->password ? auth->password : ""));
    if (auth->server) json_object_set_new(o, "serveraddress", json_string(auth->server));
  } else if (auth && auth->identity_token) {
    json_object_set_new(o, "identitytoken", json_string(auth->identity_token));
    if (auth->server) json_object_set_new(o, "serveraddress", json_string(auth->server));
  }
  _cleanup_free_ char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  _cleanup_free_ char *b64 = text ? kiln_base64_encode(text, strlen(text), true) : NULL;
  char *header = NULL;
  if (!b64 || asprintf(&header, "X-Registry-Auth: %s", b64) < 0) return NULL;
  return header;
}

/* ---- references ---- */

static bool looks_like_host(const char *s, size_t n) {
  return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9));
}

int kiln_registry_split(const char *ref, char **server, char **path, char **reference,
                        kiln_error **err) {
  *server = *path = *reference = NULL;
  if (kiln_check_image_ref(ref, err) < 0) return -1;
  const char *slash = strchr(ref, '/');
  if (!slash || !looks_like_host(ref, (size_t)(slash - ref)))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "'%s' names no registry; expected HOST[:PORT]/PATH[:TAG], e.g. "
                          "registry.example.org:5000/team/project:latest",
                          ref);
  const char *rest = slash + 1;
  const char *at = strchr(rest, '@');
  const char *last = strrchr(rest, '/');
  const char *colon = at ? NULL : strchr(last ? last : rest, ':');
  const char *end = at ? at : colon ? colon : rest + strlen(rest);
  *server = strndup(ref, (size_t)(slash - ref));
  *path = strndup(rest, (size_t)(end - rest));
  *reference = strdup(at ? at + 1 : colon ? colon + 1 : "latest");
  if (!*server || !*path || !*reference) return kiln_error_oom(err);
  return 0;
}

char *kiln_registry_ref(const char *server, const char *sub, const char *local_ref,
                        kiln_error **err) {
  const char *slash = strrchr(local_ref, '/');
  const char *last = slash ? slash + 1 : local_ref;
  size_t n = strcspn(last, ":@");
  const char *tag = last[n] == ':' ? last + n + 1 : "latest";
  char *ref = NULL;
  if (asprintf(&ref, "%s/%s%s%.*s:%s", server, sub && *sub ? sub : "", sub && *sub ? "/" : "",
               (int)n, last, tag) < 0)
    return kiln_error_oom(err), NULL;
  if (kiln_check_image_ref(ref, err) < 0) {
    free(ref);
    return NULL;
  }
  return ref;
}

/* ---- engine calls ---- */

static int split_repo_tag(const char *ref, char **repo, char **tag) {
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  *repo = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
  *tag = strdup(colon ? colon + 1 : "latest");
  return *repo && *tag ? 0 : -1;
}

/* The id ref names locally, or NULL (missing: *err unset). */
static char *local_id(kiln_engine *engine, const char *ref, kiln_error **err) {
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, ref, true, err);
  const char *id = json_string_value(json_object_get(info, "Id"));
  char *copy = id ? strdup(id) : NULL;
  if (id && !copy) kiln_error_oom(err);
  return copy;
}

typedef struct {
  kiln_layer_fn on_layer;
  void *user;
  char *error;
} stream_state;

static int registry_line(void *user, json_t *line) {
  stream_state *s = user;
  const char *msg =
      json_string_value(json_object_get(json_object_get(line, "errorDetail"), "message"));
  if (!msg) msg = json_string_value(json_object_get(line, "error"));
  if (msg) {
    if (!s->error) s->error = strdup(msg);
    return 0;
  }
  const char *id = json_string_value(json_object_get(line, "id"));
  const char *status = json_string_value(json_object_get(line, "status"));
  json_t *detail = json_object_get(line, "progressDetail");
  if (s->on_layer && id && status)
    s->on_layer(s->user, id, status,
                (uint64_t)json_integer_value(json_object_get(detail, "current")),
                (uint64_t)json_integer_value(json_object_get(detail, "total")));
  return 0;
}

static bool mentions(const char *text, const char *const *words) {
  for (; *words; words++)
    if (strcasestr(text, *words)) return true;
  return false;
}

/* The registry's or engine's words, told as what went wrong. */
static int registry_failure(kiln_error **err, const char *server, const char *user,
                            const char *message) {
  static const char *const auth_words[] = {"unauthorized",
                                           "authentication required",
                                           "no basic auth credentials",
                                           "denied",
                                           "401",
                                           NULL};
  static const char *const net_words[] = {"connection refused",
                                          "no such host",
                                          "i/o timeout",
                                          "dial tcp",
                                          "timeout",
                                          "network is unreachable",
                                          "HTTP response to HTTPS client",
                                          NULL};
  if (mentions(message, auth_words))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "registry %s refused the credentials%s%s (%s); give --username and "
                          "--password-stdin, or log in with docker login %s",
                          server, user ? " of " : "", user ? user : "", message, server);
  if (mentions(message, net_words))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "registry %s is unreachable (%s); check the address and that it runs",
                          server, message);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "registry %s: %s", server, message);
}

/* A push or pull call whose stream reports errors. */
static int registry_stream(kiln_engine *engine, const char *path, const char *query,
                           const char *server, const kiln_registry_auth *auth,
                           kiln_layer_fn on_layer, void *user, kiln_error **err) {
  _cleanup_free_ char *header = kiln_registry_auth_header(auth);
  if (!header) return kiln_error_oom(err);
  const char *headers[] = {header, NULL};
  stream_state s = {on_layer, user, NULL};
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = path;
  req.query = query;
  req.headers = headers;
  req.on_line = registry_line;
  req.user = &s;
  kiln_error *call_err = NULL;
  int r = kiln_engine_call(engine, &req, &resp, &call_err);
  long status = resp.status;
  kiln_engine_response_clear(&resp);
  const char *who = auth && auth->username ? auth->username : NULL;
  if (r < 0 && status >= 400) /* refused before streaming: the engine's words */
    registry_failure(err, server, who, call_err->message);
  else if (r < 0)
    kiln_error_set(err, call_err->code, "%s", call_err->message);
  else if (s.error)
    r = registry_failure(err, server, who, s.error);
  kiln_error_free(call_err);
  free(s.error);
  return r;
}

/* The local image the caller may push: its id (new string). */
static char *pushable(kiln_engine *engine, const char *local_ref, const kiln_transfer_options *opts,
                      kiln_error **err) {
  _cleanup_json_ json_t *info = kiln_dist_inspect(engine, local_ref, false, err);
  json_t *labels = json_object_get(json_object_get(info, "Config"), "Labels");
  if (!info || kiln_access_image(opts->caller, opts->ns, local_ref, labels, err) < 0) return NULL;
  const char *id = json_string_value(json_object_get(info, "Id"));
  char *copy = id ? strdup(id) : NULL;
  if (!copy) kiln_error_oom(err);
  return copy;
}

/* Puts the remote name on id for the push; *made says whether it is new.
 * A remote name already on another local image is never moved. */
static int tag_for_push(kiln_engine *engine, const char *id, const char *remote_ref, bool *made,
                        kiln_error **err) {
  *made = false;
  _cleanup_free_ char *before = local_id(engine, remote_ref, err);
  if (*err) return -1;
  if (before && strcmp(before, id))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "a local image is already named %s (%.19s, not the image to push); "
                          "kiln does not move that name",
                          remote_ref, before);
  if (before) return 0;
  if (kiln_dist_tag(engine, id, remote_ref, err) < 0) return -1;
  *made = true;
  return 0;
}

int kiln_image_push(kiln_engine *engine, const char *local_ref, const char *remote_ref,
                    const kiln_transfer_options *opts, kiln_error **err) {
  _cleanup_free_ char *server = NULL, *rpath = NULL, *reference = NULL;
  if (!opts->caller) return kiln_error_set(err, KILN_EXIT_FAILURE, "push: no caller");
  if (kiln_registry_split(remote_ref, &server, &rpath, &reference, err) < 0) return -1;
  if (kiln_check_image_ref(local_ref, err) < 0) return -1;
  _cleanup_free_ char *id = pushable(engine, local_ref, opts, err);
  bool made = false;
  if (!id || tag_for_push(engine, id, remote_ref, &made, err) < 0) return -1;
  _cleanup_free_ char *repo = NULL, *tag = NULL, *path = NULL, *query = NULL;
  if (split_repo_tag(remote_ref, &repo, &tag) < 0) return kiln_error_oom(err);
  _cleanup_free_ char *tag_q = kiln_engine_escape(tag);
  if (!tag_q || asprintf(&path, "/images/%s/push", repo) < 0 ||
      asprintf(&query, "tag=%s", tag_q) < 0)
    return kiln_error_oom(err);
  int r = registry_stream(engine, path, query, server, opts->auth, opts->on_layer, opts->user, err);
  if (made) kiln_dist_untag(engine, remote_ref);
  return r < 0 ? kiln_error_prefix(err, "pushing %s", remote_ref) : 0;
}

/* After a pull: the local remote_ref as it was before (put back on the
 * image it named, or dropped when the pull made it). */
static void restore_remote_name(kiln_engine *engine, const char *remote_ref, const char *before,
                                const char *pulled) {
  if (!before)
    kiln_dist_untag(engine, remote_ref);
  else if (strcmp(before, pulled))
    kiln_dist_retag(engine, before, remote_ref);
}

/* The pulled image under local_ref, the caller's (admins: as is). */
static int name_pulled(kiln_engine *engine, const char *id, const char *local_ref,
                       const kiln_transfer_options *opts, char **image_id, kiln_error **err) {
  if (opts->caller->admin) {
    if (kiln_dist_tag(engine, id, local_ref, err) < 0) return -1;
    if (image_id && !(*image_id = strdup(id))) return kiln_error_oom(err);
    return 0;
  }
  _cleanup_json_ json_t *tags = json_pack("[s]", local_ref);
  _cleanup_free_ char *now = NULL;
  if (!tags) return kiln_error_oom(err);
  if (kiln_image_adopt(engine, opts->caller, opts->ns, id, tags, &now, NULL, err) < 0) return -1;
  if (image_id) *image_id = steal_pointer(&now);
  return 0;
}

int kiln_image_pull(kiln_engine *engine, const char *remote_ref, const char *local_ref,
                    const kiln_transfer_options *opts, char **image_id, kiln_error **err) {
  _cleanup_free_ char *server = NULL, *rpath = NULL, *reference = NULL;
  if (!opts->caller || !local_ref)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "pull: no caller or local name");
  if (kiln_registry_split(remote_ref, &server, &rpath, &reference, err) < 0) return -1;
  if (kiln_check_image_ref(local_ref, err) < 0 ||
      kiln_access_tag(opts->caller, opts->ns, local_ref, err) < 0)
    return -1;
  _cleanup_free_ char *from = NULL, *from_q = NULL, *ref_q = NULL, *query = NULL;
  if (asprintf(&from, "%s/%s", server, rpath) < 0 || !(from_q = kiln_engine_escape(from)) ||
      !(ref_q = kiln_engine_escape(reference)) ||
      asprintf(&query, "fromImage=%s&tag=%s", from_q, ref_q) < 0)
    return kiln_error_oom(err);
  _cleanup_free_ char *before = local_id(engine, remote_ref, err);
  if (*err) return -1;
  if (registry_stream(engine, "/images/create", query, server, opts->auth, opts->on_layer,
                      opts->user, err) < 0)
    return kiln_error_prefix(err, "pulling %s", remote_ref);
  _cleanup_free_ char *id = local_id(engine, remote_ref, err);
  if (!id)
    return *err ? kiln_error_prefix(err, "pulled %s", remote_ref)
                : kiln_error_set(err, KILN_EXIT_ENGINE, "pulled %s: not found", remote_ref);
  /* Named first: dropping the remote name of an image with no other name
   * would remove the image. */
  int r = name_pulled(engine, id, local_ref, opts, image_id, err);
  if (strcmp(local_ref, remote_ref)) restore_remote_name(engine, remote_ref, before, id);
  return r;
}

/* ---- registry HTTP API v2 ---- */

typedef struct {
  char digest[MAX_DIGEST];
} head_state;

static size_t on_header(char *line, size_t size, size_t nmemb, void *user) {
  head_state *h = user;
  size_t n = size * nmemb;
  static const char name[] = "docker-content-digest:";
  if (n > strlen(name) && !strncasecmp(line, name, strlen(name))) {
    const char *v = line + strlen(name);
    size_t len = n - strlen(name);
    while (len && (*v == ' ' || *v == '\t'))
      v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
      len--;
    if (len < sizeof h->digest) {
      memcpy(h->digest, v, len);
      h->digest[len] = '\0';
    }
  }
  return n;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *user) {
  (void)data;
  (void)user;
  return size * nmemb;
}

static bool is_loopback(const char *server) {
  return !strncmp(server, "127.", 4) || !strncmp(server, "localhost", 9) ||
         !strncmp(server, "[::1]", 5);
}

static void cleanup_curlp(CURL **c) {
  if (*c) curl_easy_cleanup(*c);
}

static void cleanup_slistp(struct curl_slist **l) {
  curl_slist_free_all(*l);
}

/* One request to the registry; *status gets the HTTP status. */
static int registry_request(const char *method, const char *url, const kiln_registry_auth *auth,
                            head_state *h, long *status, kiln_error **err) {
  __attribute__((cleanup(cleanup_curlp))) CURL *c = curl_easy_init();
  if (!c) return kiln_error_oom(err);
  __attribute__((cleanup(cleanup_slistp))) struct curl_slist *headers = curl_slist_append(
      NULL, "Accept: application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json, "
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json");
  if (!headers) return kiln_error_oom(err);
  KILN_SETOPT(c, CURLOPT_URL, url, err);
  KILN_SETOPT(c, CURLOPT_NOSIGNAL, 1L, err);
  KILN_SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, (long)KILN_CONNECT_TIMEOUT_MS, err);
  KILN_SETOPT(c, CURLOPT_TIMEOUT_MS, REGISTRY_TIMEOUT_MS, err);
  KILN_SETOPT(c, CURLOPT_HTTPHEADER, headers, err);
  KILN_SETOPT(c, CURLOPT_HEADERFUNCTION, on_header, err);
  KILN_SETOPT(c, CURLOPT_HEADERDATA, h, err);
  KILN_SETOPT(c, CURLOPT_WRITEFUNCTION, discard, err);
  if (!strcmp(method, "HEAD"))
    KILN_SETOPT(c, CURLOPT_NOBODY, 1L, err);
  else
    KILN_SETOPT(c, CURLOPT_CUSTOMREQUEST, method, err);
  if (auth && auth->username) {
    KILN_SETOPT(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC, err);
    KILN_SETOPT(c, CURLOPT_USERNAME, auth->username, err);
    KILN_SETOPT(c, CURLOPT_PASSWORD, auth->password ? auth->password : "", err);
  }
  CURLcode code = curl_easy_perform(c);
  if (code != CURLE_OK)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "registry unreachable at %s: %s", url,
                          curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

static int http_failure(long status, const char *server, const char *what, kiln_error **err) {
  if (status == 401 || status == 403)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "registry %s refused the credentials (HTTP %ld); give --username and "
                          "--password-stdin, or log in with docker login %s",
                          server, status, server);
  if (status == 404)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "registry %s has no %s (HTTP 404)", server, what);
  if (status == 405)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "registry %s does not allow deletes (HTTP 405; its storage.delete."
                          "enabled is off)",
                          server);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "registry %s answered HTTP %ld for %s", server,
                        status, what);
}

int kiln_registry_delete(const char *remote_ref, const kiln_registry_auth *auth, char **digest,
                         kiln_error **err) {
  _cleanup_free_ char *server = NULL, *path = NULL, *reference = NULL, *url = NULL;
  if (kiln_registry_split(remote_ref, &server, &path, &reference, err) < 0) return -1;
  const char *scheme = is_loopback(server) ? "http" : "https";
  head_state h = {{0}};
  long status = 0;
  if (!strncmp(reference, "sha256:", 7)) {
    snprintf(h.digest, sizeof h.digest, "%s", reference);
  } else {
    if (asprintf(&url, "%s://%s/v2/%s/manifests/%s", scheme, server, path, reference) < 0)
      return kiln_error_oom(err);
    if (registry_request("HEAD", url, auth, &h, &status, err) < 0) return -1;
    if (status != 200) return http_failure(status, server, remote_ref, err);
    if (!h.digest[0])
      return kiln_error_set(err, KILN_EXIT_FAILURE,
                            "registry %s sent no Docker-Content-Digest for %s", server, remote_ref);
    free(url);
    url = NULL;
  }
  if (asprintf(&url, "%s://%s/v2/%s/manifests/%s", scheme, server, path, h.digest) < 0)
    return kiln_error_oom(err);
  head_state ignored = {{0}};
  if (registry_request("DELETE", url, auth, &ignored, &status, err) < 0) return -1;
  if (status != 202 && status != 200) return http_failure(status, server, remote_ref, err);
  if (digest && !(*digest = strdup(h.digest))) return kiln_error_oom(err);
  return 0;
}
