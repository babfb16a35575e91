/* Registries: credentials from docker's config.json, push and pull through
 * the engine, and manifest deletion through the registry's own HTTP API v2
 * (the engine has no call for that, so libcurl talks to the registry). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "kiln/distribute.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define REGISTRY_TIMEOUT_MS 60000L
#define MAX_DIGEST          160

static int oom(kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
}

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
    if (!(auth->username = strdup(user)) || !(auth->password = strdup(pass))) return oom(err);
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
    return oom(err);
  return 0;
}

int kiln_registry_auth_from_config(const char *path, const char *server, kiln_registry_auth *auth,
                                   kiln_error **err) {
  _cleanup_free_ char *fallback = NULL;
  if (!path) {
    const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
    if (dir && *dir ? asprintf(&fallback, "%s/config.json", dir) < 0
                    : asprintf(&fallback, "%s/.docker/config.json", home ? home : "/root") < 0)
      return oom(err);
    path = fallback;
  }
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? 0 : kiln_error_errno(err, errno, "cannot read %s", path);
  json_error_t je;
  _cleanup_json_ json_t *cfg = json_loadf(f, 0, &je);
  fclose(f);
  if (!cfg) return kiln_error_set(err, KILN_EXIT_USAGE, "%s:%d: %s", path, je.line, je.text);
  const char *key;
  json_t *entry;
  json_object_foreach(json_object_get(cfg, "auths"), key, entry) {
    _cleanup_free_ char *s = server_of_key(key);
    if (!s) return oom(err);
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
  if (!*server || !*path || !*reference) return oom(err);
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
    return oom(err), NULL;
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

static int simple_call(kiln_engine *engine, const char *method, const char *path, const char *query,
                       kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = method;
  req.path = path;
  req.query = query;
  int r = kiln_engine_call(engine, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  return r;
}

static int tag_image(kiln_engine *engine, const char *image, const char *ref, kiln_error **err) {
  _cleanup_free_ char *repo = NULL, *tag = NULL, *path = NULL, *query = NULL;
  if (split_repo_tag(ref, &repo, &tag) < 0) return oom(err);
  _cleanup_free_ char *repo_q = kiln_engine_escape(repo), *tag_q = kiln_engine_escape(tag);
  if (!repo_q || !tag_q || asprintf(&path, "/images/%s/tag", image) < 0 ||
      asprintf(&query, "repo=%s&tag=%s", repo_q, tag_q) < 0)
    return oom(err);
  if (simple_call(engine, "POST", path, query, err) < 0)
    return kiln_error_prefix(err, "tagging %s as %s", image, ref);
  return 0;
}

/* Drops a name without touching the image (noprune). Best effort. */
static void untag(kiln_engine *engine, const char *ref) {
  _cleanup_free_ char *path = NULL;
  kiln_error *e = NULL;
  if (asprintf(&path, "/images/%s", ref) >= 0) simple_call(engine, "DELETE", path, "noprune=1", &e);
  kiln_error_free(e);
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
  if (!header) return oom(err);
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

int kiln_image_push(kiln_engine *engine, const char *local_ref, const char *remote_ref,
                    const kiln_registry_auth *auth, kiln_layer_fn on_layer, void *user,
                    kiln_error **err) {
  _cleanup_free_ char *server = NULL, *rpath = NULL, *reference = NULL;
  if (kiln_registry_split(remote_ref, &server, &rpath, &reference, err) < 0) return -1;
  if (kiln_check_image_ref(local_ref, err) < 0) return -1;
  if (tag_image(engine, local_ref, remote_ref, err) < 0) return -1;
  _cleanup_free_ char *repo = NULL, *tag = NULL, *path = NULL, *query = NULL;
  if (split_repo_tag(remote_ref, &repo, &tag) < 0) return oom(err);
  _cleanup_free_ char *tag_q = kiln_engine_escape(tag);
  if (!tag_q || asprintf(&path, "/images/%s/push", repo) < 0 ||
      asprintf(&query, "tag=%s", tag_q) < 0)
    return oom(err);
  int r = registry_stream(engine, path, query, server, auth, on_layer, user, err);
  if (strcmp(local_ref, remote_ref)) untag(engine, remote_ref);
  return r < 0 ? kiln_error_prefix(err, "pushing %s", remote_ref) : 0;
}

static char *image_id_of(kiln_engine *engine, const char *ref, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/images/%s/json", ref) < 0) return oom(err), NULL;
  _cleanup_json_ json_t *info = kiln_engine_json(engine, "GET", path, NULL, NULL, NULL, err);
  const char *id = json_string_value(json_object_get(info, "Id"));
  return id ? strdup(id) : NULL;
}

int kiln_image_pull(kiln_engine *engine, const char *remote_ref, const char *local_ref,
                    const kiln_registry_auth *auth, kiln_layer_fn on_layer, void *user,
                    char **image_id, kiln_error **err) {
  _cleanup_free_ char *server = NULL, *rpath = NULL, *reference = NULL;
  if (kiln_registry_split(remote_ref, &server, &rpath, &reference, err) < 0) return -1;
  if (local_ref && kiln_check_image_ref(local_ref, err) < 0) return -1;
  _cleanup_free_ char *from = NULL, *from_q = NULL, *ref_q = NULL, *query = NULL;
  if (asprintf(&from, "%s/%s", server, rpath) < 0 || !(from_q = kiln_engine_escape(from)) ||
      !(ref_q = kiln_engine_escape(reference)) ||
      asprintf(&query, "fromImage=%s&tag=%s", from_q, ref_q) < 0)
    return oom(err);
  if (registry_stream(engine, "/images/create", query, server, auth, on_layer, user, err) < 0)
    return kiln_error_prefix(err, "pulling %s", remote_ref);
  _cleanup_free_ char *id = image_id_of(engine, remote_ref, err);
  if (!id) return kiln_error_prefix(err, "pulled %s", remote_ref);
  if (local_ref && strcmp(local_ref, remote_ref)) {
    if (tag_image(engine, id, local_ref, err) < 0) return -1;
    untag(engine, remote_ref);
  }
  if (image_id) *image_id = steal_pointer(&id);
  return 0;
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

/* One request to the registry; *status gets the HTTP status. */
static int registry_request(const char *method, const char *url, const kiln_registry_auth *auth,
                            head_state *h, long *status, kiln_error **err) {
  __attribute__((cleanup(cleanup_curlp))) CURL *c = curl_easy_init();
  if (!c) return oom(err);
  struct curl_slist *headers = curl_slist_append(
      NULL, "Accept: application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.docker.distribution.manifest.list.v2+json, "
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)KILN_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REGISTRY_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  if (!strcmp(method, "HEAD"))
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  else
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (auth && auth->username) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, auth->username);
    curl_easy_setopt(c, CURLOPT_PASSWORD, auth->password ? auth->password : "");
  }
  CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
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
      return oom(err);
    if (registry_request("HEAD", url, auth, &h, &status, err) < 0) return -1;
    if (status != 200) return http_failure(status, server, remote_ref, err);
    if (!h.digest[0])
      return kiln_error_set(err, KILN_EXIT_FAILURE,
                            "registry %s sent no Docker-Content-Digest for %s", server, remote_ref);
    free(url);
    url = NULL;
  }
  if (asprintf(&url, "%s://%s/v2/%s/manifests/%s", scheme, server, path, h.digest) < 0)
    return oom(err);
  head_state ignored = {{0}};
  if (registry_request("DELETE", url, auth, &ignored, &status, err) < 0) return -1;
  if (status != 202 && status != 200) return http_failure(status, server, remote_ref, err);
  if (digest && !(*digest = strdup(h.digest))) return oom(err);
  return 0;
}
