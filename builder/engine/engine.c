/* Docker Engine API client: libcurl over a unix socket, TCP or TLS. */
#include "kiln/access.h"
#include "kiln/engine.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "builder/engine/engine_private.h"
#include "builder/engine/curlopt.h"
#include "builder/engine/endpoint.h"
#include "builder/engine/stream.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* The newest API version kiln speaks; older engines are used at their own. */
#define KILN_API_MAX "1.43"

struct kiln_engine {
  CURL *curl;
  kiln_endpoint ep;  /* address (for messages), TLS material */
  char *socket_path; /* unix sockets; NULL for TCP */
  char *base_url;    /* "http://localhost", "http://HOST:PORT" or "https://HOST:PORT" */
  char curl_error[CURL_ERROR_SIZE]; /* libcurl's details of the last failure */
  char api[16];                     /* negotiated, e.g. "1.41" */
  char ping_api[16];                /* the Api-Version header of /_ping ("" when absent) */
  long connect_timeout_ms;
  volatile sig_atomic_t *interrupted; /* borrowed; a signal number once caught */
};

const char *kiln_engine_api_version(const kiln_engine *e) {
  return e->api;
}
const char *kiln_engine_host(const kiln_engine *e) {
  return e->ep.host;
}
volatile sig_atomic_t *kiln_engine_interrupt_flag(const kiln_engine *e) {
  return e->interrupted;
}
int kiln_engine_interrupted(const kiln_engine *e) {
  return e->interrupted ? *e->interrupted : 0;
}

/* ---- transfer state ---- */

typedef struct {
  const kiln_engine_request *req;
  kiln_engine *engine;
  kiln_buf body;          /* kept body (no callbacks, or an error answer) */
  kiln_json_stream lines; /* JSON-lines answers */
  kiln_error *cb_err;     /* why a callback aborted */
  bool aborted;
  int interrupted_by; /* the signal that stopped the transfer, or 0 */
} transfer;

static long response_status(CURL *curl) {
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

static bool is_success(long status) {
  return status >= 200 && status < 300;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *user) {
  transfer *t = user;
  size_t n = size * nmemb;
  int r;
  if (!is_success(response_status(t->engine->curl)) || (!t->req->on_line && !t->req->on_data))
    r = kiln_buf_append(&t->body, data, n) < 0
            ? kiln_error_set(&t->cb_err, KILN_EXIT_ENGINE,
                             "the engine's answer is larger than %u "
                             "bytes",
                             KILN_MAX_RESPONSE_BYTES)
            : 0;
  else if (t->req->on_line)
    r = kiln_json_stream_feed(&t->lines, data, n, &t->cb_err);
  else
    r = t->req->on_data(t->req->user, data, n);
  if (r < 0) {
    t->aborted = true;
    return 0; /* tells curl to stop */
  }
  return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *user) {
  transfer *t = user;
  ssize_t n = t->req->read(t->req->read_user, buf, size * nmemb);
  if (n < 0) {
    t->aborted = true;
    return CURL_READFUNC_ABORT;
  }
  return (size_t)n;
}

/* Called by curl about once a second, also while nothing moves: a caught
 * signal stops the transfer there. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  transfer *t = user;
  int sig = t->engine->interrupted ? *t->engine->interrupted : 0;
  if (!sig || t->req->undo) return 0;
  t->interrupted_by = sig;
  return 1;
}

/* Before a version is negotiated, /_ping's Api-Version header (the
 * engine's maximum) is kept, so no /version round trip is needed. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user) {
  kiln_engine *e = user;
  size_t n = size * nmemb;
  static const char name[] = "api-version:";
  if (n <= sizeof name - 1 || strncasecmp(data, name, sizeof name - 1)) return n;
  const char *v = data + sizeof name - 1;
  size_t len = n - (sizeof name - 1);
  while (len && (*v == ' ' || *v == '\t'))
    v++, len--;
  while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
    len--;
  if (len < sizeof e->ping_api) snprintf(e->ping_api, sizeof e->ping_api, "%.*s", (int)len, v);
  return n;
}

/* ---- request setup ---- */

static int set_common(kiln_engine *e, kiln_error **err) {
  curl_easy_reset(e->curl);
  KILN_SETOPT(e->curl, CURLOPT_NOSIGNAL, 1L, err);
  KILN_SETOPT(e->curl, CURLOPT_CONNECTTIMEOUT_MS, e->connect_timeout_ms, err);
  e->curl_error[0] = '\0';
  KILN_SETOPT(e->curl, CURLOPT_ERRORBUFFER, e->curl_error, err);
  if (e->socket_path) KILN_SETOPT(e->curl, CURLOPT_UNIX_SOCKET_PATH, e->socket_path, err);
  if (kiln_endpoint_curl_tls(&e->ep, e->curl, err) < 0) return -1;
  if (!e->api[0]) {
    KILN_SETOPT(e->curl, CURLOPT_HEADERFUNCTION, on_header, err);
    KILN_SETOPT(e->curl, CURLOPT_HEADERDATA, e, err);
  }
  return 0;
}

/* Appends one header line; on failure keeps the list and says so. */
static struct curl_slist *add_header(struct curl_slist *h, const char *line, bool *failed) {
  struct curl_slist *n = curl_slist_append(h, line);
  if (!n) *failed = true;
  return n ? n : h;
}

/* The request's headers, or NULL (out of memory). */
static struct curl_slist *build_headers(const kiln_engine_request *req) {
  struct curl_slist *h = NULL;
  bool failed = false;
  char ct[256];
  bool has_body = req->body || req->read;
  bool is_post = req->method && !strcmp(req->method, "POST");
  snprintf(ct, sizeof ct, "Content-Type: %s",
           req->content_type ? req->content_type : "application/json");
  /* Always say what a POST carries: libcurl would otherwise announce an
   * empty body as a form, which the engine refuses for /commit. */
  if (has_body || is_post || req->content_type) h = add_header(h, ct, &failed);
  if (req->read) h = add_header(h, "Transfer-Encoding: chunked", &failed);
  h = add_header(h, "Expect:", &failed);
  for (const char *const *x = req->headers; x && *x; x++)
    h = add_header(h, *x, &failed);
  if (!failed) return h;
  curl_slist_free_all(h);
  return NULL;
}

static char *build_url(const kiln_engine *e, const kiln_engine_request *req) {
  char *url = NULL;
  const char *q = req->query && *req->query ? req->query : NULL;
  /* /_ping and /version are asked before a version is known. */
  int r = e->api[0] ? asprintf(&url, "%s/v%s%s%s%s", e->base_url, e->api, req->path, q ? "?" : "",
                               q ? q : "")
                    : asprintf(&url, "%s%s%s%s", e->base_url, req->path, q ? "?" : "", q ? q : "");
  return r < 0 ? NULL : url;
}

static int set_method(kiln_engine *e, const kiln_engine_request *req, transfer *t,
                      kiln_error **err) {
  const char *method = req->method ? req->method : "GET";
  if (req->read) {
    KILN_SETOPT(e->curl, CURLOPT_POST, 1L, err);
    KILN_SETOPT(e->curl, CURLOPT_READFUNCTION, on_read, err);
    KILN_SETOPT(e->curl, CURLOPT_READDATA, t, err);
  } else if (req->body) {
    KILN_SETOPT(e->curl, CURLOPT_POSTFIELDS, req->body, err);
    KILN_SETOPT(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len, err);
  } else if (!strcmp(method, "POST")) {
    KILN_SETOPT(e->curl, CURLOPT_POSTFIELDS, "", err);
    KILN_SETOPT(e->curl, CURLOPT_POSTFIELDSIZE, 0L, err);
  }
  if (strcmp(method, "GET") && strcmp(method, "POST"))
    KILN_SETOPT(e->curl, CURLOPT_CUSTOMREQUEST, method, err);
  return 0;
}

/* ---- errors ---- */

#define START_HINT                                                                                 \
  "is dockerd running? Start it with 'systemctl start docker' or 'dockerd &' (as root), or "       \
  "point DOCKER_HOST or --host at a running engine"

/* A failed TLS handshake: libcurl's details and where the material came from. */
static int tls_failed(const kiln_engine *e, CURLcode code, kiln_error **err) {
  const kiln_endpoint *ep = &e->ep;
  char client[KILN_MAX_PATH + 64];
  if (ep->cert.path)
    snprintf(client, sizeof client, "%s", ep->cert.path);
  else
    snprintf(client, sizeof client, "none (no cert.pem and key.pem in %s)",
             ep->tls_dir ? ep->tls_dir : "any folder");
  return kiln_error_set(
      err, KILN_EXIT_ENGINE,
      "TLS with the Docker engine at %s failed (%s): check the certificates of %s: CA %s, client "
      "certificate %s",
      ep->host, e->curl_error[0] ? e->curl_error : curl_easy_strerror(code), ep->origin,
      !ep->verify   ? "not verified"
      : ep->ca.path ? ep->ca.path
                    : "the system's (no ca.pem)",
      client);
}

#define TLS_HINT                                                                                   \
  "; an engine that speaks TLS (usually on port 2376) needs DOCKER_TLS_VERIFY=1 and "              \
  "DOCKER_CERT_PATH"

/* Why the connection failed, in terms of the socket or address tried. */
static int unreachable(const kiln_engine *e, CURL *curl, CURLcode code, kiln_error **err) {
  if (e->ep.tls && kiln_endpoint_tls_failure(code)) return tls_failed(e, code, err);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (e->socket_path) {
    struct stat st;
    if (os_errno == EACCES)
      return kiln_error_set(err, KILN_EXIT_ENGINE,
                            "permission denied on %s: add yourself to the docker group (then log "
                            "in again) or use sudo",
                            e->socket_path);
    if (stat(e->socket_path, &st) < 0)
      return kiln_error_set(err, KILN_EXIT_ENGINE,
                            "cannot reach the Docker engine at %s (%s: no such file): " START_HINT,
                            e->ep.host, e->socket_path);
    if (!S_ISSOCK(st.st_mode))
      return kiln_error_set(err, KILN_EXIT_ENGINE,
                            "cannot reach the Docker engine at %s (%s is not a socket): check "
                            "DOCKER_HOST or --host",
                            e->ep.host, e->socket_path);
  }
  return kiln_error_set(err, KILN_EXIT_ENGINE, "cannot reach the Docker engine at %s (%s): %s",
                        e->ep.host, os_errno ? strerror((int)os_errno) : curl_easy_strerror(code),
                        e->socket_path || e->ep.tls ? START_HINT : START_HINT TLS_HINT);
}

/* The engine's own words for a non-2xx answer: {"message": "..."}. */
static int engine_refused(transfer *t, long status, kiln_error **err) {
  _cleanup_json_ json_t *o = t->body.data ? json_loadb(t->body.data, t->body.len, 0, NULL) : NULL;
  const char *msg = json_string_value(json_object_get(o, "message"));
  if (!msg) msg = t->body.data && t->body.len ? t->body.data : "no message";
  return kiln_error_set(err, KILN_EXIT_ENGINE, "engine: %s (HTTP %ld)", msg, status);
}

static int finish(transfer *t, CURLcode code, kiln_engine_response *resp, kiln_error **err) {
  resp->status = response_status(t->engine->curl);
  if (t->interrupted_by) return kiln_error_interrupted(err, t->interrupted_by, NULL);
  if (t->aborted || code == CURLE_ABORTED_BY_CALLBACK) {
    if (t->cb_err) return kiln_error_keep(err, steal_pointer(&t->cb_err)); /* the whole chain */
    return kiln_error_set(err, KILN_EXIT_FAILURE, "the transfer was stopped");
  }
  if (code != CURLE_OK) {
    if (resp->status == 0) return unreachable(t->engine, t->engine->curl, code, err);
    return kiln_error_set(err, KILN_EXIT_ENGINE,
                          "lost the connection to the Docker engine at %s in the middle of its "
                          "answer (%s): " START_HINT,
                          t->engine->ep.host, curl_easy_strerror(code));
  }
  if (!is_success(resp->status)) return engine_refused(t, resp->status, err);
  if (t->req->on_line && kiln_json_stream_finish(&t->lines, err) < 0) return -1;
  resp->body = kiln_buf_steal(&t->body, &resp->body_len);
  return 0;
}

/* Interruptible transfers watch the flag; undo calls are bounded instead. */
static int set_interrupt(kiln_engine *e, const kiln_engine_request *req, transfer *t,
                         kiln_error **err) {
  if (req->undo && !req->timeout_ms)
    KILN_SETOPT(e->curl, CURLOPT_TIMEOUT_MS, (long)KILN_UNDO_TIMEOUT_MS, err);
  if (!e->interrupted) return 0;
  KILN_SETOPT(e->curl, CURLOPT_XFERINFOFUNCTION, on_progress, err);
  KILN_SETOPT(e->curl, CURLOPT_XFERINFODATA, t, err);
  KILN_SETOPT(e->curl, CURLOPT_NOPROGRESS, 0L, err);
  return 0;
}

static int set_options(kiln_engine *e, const kiln_engine_request *req, transfer *t, const char *url,
                       struct curl_slist *headers, kiln_error **err) {
  if (set_common(e, err) < 0) return -1;
  KILN_SETOPT(e->curl, CURLOPT_URL, url, err);
  KILN_SETOPT(e->curl, CURLOPT_HTTPHEADER, headers, err);
  KILN_SETOPT(e->curl, CURLOPT_WRITEFUNCTION, on_write, err);
  KILN_SETOPT(e->curl, CURLOPT_WRITEDATA, t, err);
  if (req->timeout_ms) KILN_SETOPT(e->curl, CURLOPT_TIMEOUT_MS, req->timeout_ms, err);
  if (set_interrupt(e, req, t, err) < 0) return -1;
  return set_method(e, req, t, err);
}

int kiln_engine_call(kiln_engine *e, const kiln_engine_request *req, kiln_engine_response *resp,
                     kiln_error **err) {
  memset(resp, 0, sizeof *resp);
  if (e->interrupted && *e->interrupted && !req->undo)
    return kiln_error_interrupted(err, *e->interrupted, NULL);
  transfer t = {.req = req, .engine = e, .body = KILN_BUF_INIT(KILN_MAX_RESPONSE_BYTES)};
  kiln_json_stream_init(&t.lines, req->on_line, req->user);
  _cleanup_free_ char *url = build_url(e, req);
  if (!url) return kiln_error_oom(err);
  struct curl_slist *headers = build_headers(req);
  int r = headers ? set_options(e, req, &t, url, headers, err) : kiln_error_oom(err);
  if (r == 0) r = finish(&t, curl_easy_perform(e->curl), resp, err);
  curl_slist_free_all(headers);
  kiln_buf_free(&t.body);
  kiln_json_stream_free(&t.lines);
  kiln_error_free(t.cb_err);
  if (r < 0) {
    long status = resp->status;
    kiln_engine_response_clear(resp);
    resp->status = status;
  }
  return r;
}

void kiln_engine_response_clear(kiln_engine_response *resp) {
  free(resp->body);
  memset(resp, 0, sizeof *resp);
}

json_t *kiln_engine_json(kiln_engine *e, const char *method, const char *path, const char *query,
                         json_t *body, long *status, kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  _cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  req.method = method;
  req.path = path;
  req.query = query;
  req.body = text;
  req.body_len = text ? strlen(text) : 0;
  int r = kiln_engine_call(e, &req, &resp, err);
  if (status) *status = resp.status;
  if (r < 0) return NULL;
  json_t *out = NULL;
  if (resp.body_len) {
    json_error_t jerr;
    /* Any value: a never-started container's /changes is null. */
    out = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, &jerr);
    if (!out)
      kiln_error_set(err, KILN_EXIT_ENGINE, "engine sent invalid JSON for %s: %s", path, jerr.text);
  } else {
    out = json_null();
  }
  kiln_engine_response_clear(&resp);
  return out;
}

char *kiln_engine_escape(const char *value) {
  CURL *c = curl_easy_init();
  char *esc = c ? curl_easy_escape(c, value, 0) : NULL;
  char *out = esc ? strdup(esc) : NULL;
  curl_free(esc);
  if (c) curl_easy_cleanup(c);
  return out;
}

/* ---- open / version ---- */

/* The one parser of engine addresses: the endpoint (--host, DOCKER_HOST,
 * the docker context or the default) becomes the socket path or base URL
 * every request and the exec stream (kiln_engine_connect_only) use. */
static int parse_host(kiln_engine *e, const char *flag_host, kiln_error **err) {
  if (kiln_endpoint_resolve(flag_host, &e->ep, err) < 0) return -1;
  const char *host = e->ep.host;
  if (!strncmp(host, "unix://", 7)) {
    if (!(e->socket_path = strdup(host + 7))) return kiln_error_oom(err);
    e->base_url = strdup("http://localhost");
  } else if (!strncmp(host, "tcp://", 6) || !strncmp(host, "http://", 7)) {
    const char *rest = strchr(host, '/') + 2;
    size_t n = strcspn(rest, "/");
    if (!n)
      return kiln_error_set(err, KILN_EXIT_USAGE, "engine address \"%s\" has no host (from %s)",
                            host, e->ep.origin);
    /* no port: docker's 2375 (an IPv6 address's colons sit inside brackets) */
    const char *colon = memrchr(rest, ':', n), *bracket = memrchr(rest, ']', n);
    bool port = colon && (!bracket || colon > bracket);
    if (asprintf(&e->base_url, "%s://%.*s%s", e->ep.tls ? "https" : "http", (int)n, rest,
                 port ? "" : ":2375") < 0)
      e->base_url = NULL;
  } else {
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "engine address \"%s\" is not supported; expected unix:///path or "
                          "tcp://host:port (the address came from %s)",
                          host, e->ep.origin);
  }
  if (!e->base_url) return kiln_error_oom(err);
  return 0;
}

/* "1.41" < "1.43": compares major.minor numerically. */
static int version_cmp(const char *a, const char *b) {
  unsigned am = 0, an = 0, bm = 0, bn = 0;
  sscanf(a, "%u.%u", &am, &an);
  sscanf(b, "%u.%u", &bm, &bn);
  return am != bm ? (am < bm ? -1 : 1) : (an < bn ? -1 : an > bn);
}

static bool is_version(const char *v) {
  unsigned major, minor;
  char end;
  return v && strlen(v) < sizeof((kiln_engine *)0)->api &&
         sscanf(v, "%u.%u%c", &major, &minor, &end) == 2;
}

/* min(kiln's max, the engine's), raised to the engine's minimum when
 * below it (only /version says the minimum); DOCKER_API_VERSION pins it.
 * /_ping's Api-Version header is the engine's maximum: when it is not
 * above kiln's, it is the answer and /version is not asked. */
static int negotiate(kiln_engine *e, kiln_error **err) {
  kiln_engine_request ping = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  ping.path = "/_ping";
  ping.timeout_ms = 30000;
  if (kiln_engine_call(e, &ping, &resp, err) < 0) return -1;
  kiln_engine_response_clear(&resp);
  const char *pinned = kiln_env("DOCKER_API_VERSION");
  if (pinned && *pinned) {
    if (!is_version(pinned))
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            "DOCKER_API_VERSION=\"%s\" is not a version like 1.41", pinned);
    snprintf(e->api, sizeof e->api, "%s", pinned);
    return 0;
  }
  if (is_version(e->ping_api) && version_cmp(e->ping_api, KILN_API_MAX) <= 0) {
    snprintf(e->api, sizeof e->api, "%s", e->ping_api);
    return 0;
  }
  _cleanup_json_ json_t *v = kiln_engine_json(e, "GET", "/version", NULL, NULL, NULL, err);
  if (!v) return -1;
  const char *api = json_string_value(json_object_get(v, "ApiVersion"));
  const char *min = json_string_value(json_object_get(v, "MinAPIVersion"));
  if (!is_version(api))
    return kiln_error_set(err, KILN_EXIT_ENGINE, "the engine did not say its API version");
  const char *use = version_cmp(api, KILN_API_MAX) < 0 ? api : KILN_API_MAX;
  if (is_version(min) && version_cmp(use, min) < 0) use = min;
  snprintf(e->api, sizeof e->api, "%s", use);
  return 0;
}

kiln_engine *kiln_engine_open(const kiln_engine_options *opts, kiln_error **err) {
  static bool curl_ready;
  if (!curl_ready) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_ready = true;
  }
  kiln_engine *e = calloc(1, sizeof *e);
  if (!e) return kiln_error_oom(err), NULL;
  e->connect_timeout_ms =
      opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : KILN_CONNECT_TIMEOUT_MS;
  e->interrupted = opts ? opts->interrupted : NULL;
  if (parse_host(e, opts ? opts->host : NULL, err) < 0 || !(e->curl = curl_easy_init()) ||
      negotiate(e, err) < 0) {
    if (!e->curl && err && !*err) kiln_error_set(err, KILN_EXIT_FAILURE, "cannot start libcurl");
    kiln_engine_free(e);
    return NULL;
  }
  return e;
}

CURL *kiln_engine_connect_only(kiln_engine *e, kiln_error **err) {
  if (set_common(e, err) < 0) return NULL;
  CURLcode code = curl_easy_setopt(e->curl, CURLOPT_CONNECT_ONLY, 1L);
  if (code != CURLE_OK) return kiln_curl_option_refused("CURLOPT_CONNECT_ONLY", code, err), NULL;
  if (curl_easy_setopt(e->curl, CURLOPT_URL, e->base_url) != CURLE_OK)
    return kiln_error_oom(err), NULL;
  CURL *c = curl_easy_duphandle(e->curl);
  if (!c) return kiln_error_oom(err), NULL;
  code = curl_easy_perform(c);
  if (code == CURLE_OK) return c;
  unreachable(e, c, code, err); /* c wrote its details into e->curl_error */
  curl_easy_cleanup(c);
  return NULL;
}

void kiln_engine_free(kiln_engine *e) {
  if (!e) return;
  if (e->curl) curl_easy_cleanup(e->curl);
  kiln_endpoint_clear(&e->ep);
  free(e->socket_path);
  free(e->base_url);
  free(e);
}
