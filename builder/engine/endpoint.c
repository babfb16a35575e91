/* The engine endpoint: address, docker context and TLS material. */
#include "builder/engine/endpoint.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/engine/curlopt.h"
#include "kiln/access.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

static void pem_clear(kiln_pem *p) {
  free(p->path);
  free(p->data);
  memset(p, 0, sizeof *p);
}

void kiln_endpoint_clear(kiln_endpoint *ep) {
  free(ep->host);
  free(ep->origin);
  free(ep->tls_dir);
  pem_clear(&ep->ca);
  pem_clear(&ep->cert);
  pem_clear(&ep->key);
  memset(ep, 0, sizeof *ep);
}

char *kiln_context_dir(const char *config_dir, const char *kind, const char *name) {
  char hex[65], *out = NULL;
  if (kiln_sha256_hex(name, strlen(name), hex) < 0) return NULL;
  if (asprintf(&out, "%s/contexts/%s/%s", config_dir, kind, hex) < 0) return NULL;
  return out;
}

/* ---- files ---- */

/* Reads dir/name into *p. A missing file leaves *p empty and returns 0
 * (docker drops missing default files); any other failure is an error
 * naming the file. */
static int read_pem(const char *dir, const char *name, const char *origin, kiln_pem *p,
                    kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s", dir, name) < 0) return kiln_error_oom(err);
  _cleanup_error_ kiln_error *local = NULL;
  p->data = kiln_fs_read_regular(path, true, KILN_MAX_PEM_BYTES, &p->len, &local);
  if (!p->data && errno == ENOENT && local && local->code != KILN_EXIT_USAGE) return 0;
  if (!p->data)
    return kiln_error_set(err, KILN_EXIT_USAGE, "engine TLS (%s): %s", origin,
                          local ? local->message : path);
  p->path = steal_pointer(&path);
  return 0;
}

/* ca.pem (when verifying), cert.pem and key.pem from dir; a certificate
 * without its key (or the other way round) is an error, as in docker. */
static int read_tls_dir(kiln_endpoint *ep, const char *dir, kiln_error **err) {
  if (!(ep->tls_dir = strdup(dir))) return kiln_error_oom(err);
  if ((ep->verify && read_pem(dir, "ca.pem", ep->origin, &ep->ca, err) < 0) ||
      read_pem(dir, "cert.pem", ep->origin, &ep->cert, err) < 0 ||
      read_pem(dir, "key.pem", ep->origin, &ep->key, err) < 0)
    return -1;
  if (!ep->cert.data != !ep->key.data)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "engine TLS (%s): %s/%s is missing (the client certificate needs both "
                          "cert.pem and key.pem)",
                          ep->origin, dir, ep->cert.data ? "key.pem" : "cert.pem");
  return 0;
}

/* A JSON file read with the caller's rights; NULL with *err unset when it
 * does not exist and missing_ok. */
static json_t *read_json(const char *path, bool missing_ok, kiln_error **err) {
  _cleanup_error_ kiln_error *local = NULL;
  size_t len = 0;
  _cleanup_free_ char *text =
      kiln_fs_read_regular(path, true, KILN_MAX_DOCKER_CONFIG, &len, &local);
  if (!text && missing_ok && errno == ENOENT && local && local->code != KILN_EXIT_USAGE)
    return NULL;
  if (!text) return kiln_error_set(err, KILN_EXIT_USAGE, "%s", local->message), NULL;
  json_error_t je;
  json_t *doc = json_loadb(text, len, 0, &je);
  if (!json_is_object(doc)) {
    json_decref(doc);
    kiln_error_set(err, KILN_EXIT_USAGE, "%s:%d: %s", path, je.line,
                   doc ? "not a JSON object" : je.text);
    return NULL;
  }
  return doc;
}

/* ---- sources ---- */

static bool is_tcp(const char *host) {
  return !strncmp(host, "tcp://", 6) || !strncmp(host, "http://", 7);
}

/* --host, DOCKER_HOST or the default: TLS from the environment as docker's
 * flags take it (DOCKER_TLS_VERIFY non-empty: verify; DOCKER_TLS non-empty:
 * TLS without verifying; material from DOCKER_CERT_PATH, else the docker
 * config folder). Only tcp:// speaks TLS. */
static int from_environment(kiln_endpoint *ep, const char *host, const char *origin,
                            kiln_error **err) {
  if (!(ep->host = strdup(host)) || !(ep->origin = strdup(origin))) return kiln_error_oom(err);
  const char *verify = kiln_env("DOCKER_TLS_VERIFY"), *tls = kiln_env("DOCKER_TLS");
  ep->verify = verify && *verify;
  ep->tls = ep->verify || (tls && *tls);
  if (!ep->tls || !is_tcp(host)) return ep->tls = ep->verify = false, 0;
  const char *dir = kiln_env("DOCKER_CERT_PATH");
  _cleanup_free_ char *fallback = NULL;
  if (!dir || !*dir) dir = fallback = kiln_docker_config_dir();
  return dir ? read_tls_dir(ep, dir, err) : 0;
}

/* The context named name in the store under config_dir: its docker
 * endpoint's Host and SkipTLSVerify, its TLS folder's material. TLS is on
 * when the context has any TLS file or skips verification (docker's rule). */
static int from_context(kiln_endpoint *ep, const char *config_dir, const char *name,
                        kiln_error **err) {
  _cleanup_free_ char *meta_dir = kiln_context_dir(config_dir, "meta", name);
  _cleanup_free_ char *tls_dir = kiln_context_dir(config_dir, "tls", name);
  _cleanup_free_ char *meta = NULL, *docker_tls = NULL;
  if (!meta_dir || !tls_dir || asprintf(&meta, "%s/meta.json", meta_dir) < 0 ||
      asprintf(&docker_tls, "%s/docker", tls_dir) < 0 ||
      asprintf(&ep->origin, "context \"%s\"", name) < 0)
    return kiln_error_oom(err);
  kiln_error *local = NULL;
  _cleanup_json_ json_t *doc = read_json(meta, true, &local);
  if (!doc)
    return kiln_error_keep(err, local) < 0
               ? kiln_error_prefix(err, "docker context \"%s\"", name)
               : kiln_error_set(err, KILN_EXIT_USAGE,
                                "docker context \"%s\" does not exist (no %s); see `docker "
                                "context ls`",
                                name, meta);
  json_t *endpoint = json_object_get(json_object_get(doc, "Endpoints"), "docker");
  const char *host = json_string_value(json_object_get(endpoint, "Host"));
  if (!host || !*host)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "docker context \"%s\": %s has no Endpoints.docker.Host", name, meta);
  if (!(ep->host = strdup(host))) return kiln_error_oom(err);
  bool skip = json_is_true(json_object_get(endpoint, "SkipTLSVerify"));
  if (!is_tcp(host)) return 0;
  ep->verify = true; /* read ca.pem; skip decides below */
  if (read_tls_dir(ep, docker_tls, err) < 0) return -1;
  ep->tls = skip || ep->ca.data || ep->cert.data;
  ep->verify = ep->tls && !skip;
  return 0;
}

/* $DOCKER_CONTEXT, else config.json's currentContext; NULL for none. */
static char *context_name(const char *config_dir, kiln_error **err) {
  const char *env = kiln_env("DOCKER_CONTEXT");
  if (env && *env) return strdup(env);
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/config.json", config_dir) < 0) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *cfg = read_json(path, true, err);
  const char *name = json_string_value(json_object_get(cfg, "currentContext"));
  return name && *name ? strdup(name) : NULL;
}

int kiln_endpoint_resolve(const char *flag_host, kiln_endpoint *ep, kiln_error **err) {
  memset(ep, 0, sizeof *ep);
  const char *env_host = kiln_env("DOCKER_HOST");
  int r;
  if (flag_host && *flag_host)
    r = from_environment(ep, flag_host, "--host", err);
  else if (env_host && *env_host)
    r = from_environment(ep, env_host, "DOCKER_HOST", err);
  else {
    /* Untrusted callers never reach the context store: only the default. */
    _cleanup_free_ char *dir = kiln_env_trusted() ? kiln_docker_config_dir() : NULL;
    kiln_error *local = NULL;
    _cleanup_free_ char *name = dir ? context_name(dir, &local) : NULL;
    if (local) return kiln_error_keep(err, local);
    if (name && strcmp(name, "default"))
      r = from_context(ep, dir, name, err);
    else
      r = from_environment(ep, KILN_DEFAULT_ENGINE_HOST, "default", err);
  }
  if (r < 0) kiln_endpoint_clear(ep);
  return r;
}

/* ---- libcurl ---- */

static int set_blob(CURL *curl, CURLoption option, const char *name, const kiln_pem *p,
                    kiln_error **err) {
  struct curl_blob blob = {.data = p->data, .len = p->len, .flags = CURL_BLOB_COPY};
  CURLcode code = curl_easy_setopt(curl, option, &blob);
  return code == CURLE_OK ? 0 : kiln_curl_option_refused(name, code, err);
}

int kiln_endpoint_curl_tls(const kiln_endpoint *ep, CURL *curl, kiln_error **err) {
  if (!ep->tls) return 0;
  KILN_SETOPT(curl, CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L, err);
  KILN_SETOPT(curl, CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L, err);
  if (ep->verify && ep->ca.data) {
    /* only this CA, as docker does with a ca.pem: not the system's too */
    KILN_SETOPT(curl, CURLOPT_CAINFO, (char *)NULL, err);
    KILN_SETOPT(curl, CURLOPT_CAPATH, (char *)NULL, err);
    if (set_blob(curl, CURLOPT_CAINFO_BLOB, "CURLOPT_CAINFO_BLOB", &ep->ca, err) < 0) return -1;
  }
  if (ep->cert.data &&
      (set_blob(curl, CURLOPT_SSLCERT_BLOB, "CURLOPT_SSLCERT_BLOB", &ep->cert, err) < 0 ||
       set_blob(curl, CURLOPT_SSLKEY_BLOB, "CURLOPT_SSLKEY_BLOB", &ep->key, err) < 0))
    return -1;
  return 0;
}

bool kiln_endpoint_tls_failure(CURLcode code) {
  static const CURLcode tls[] = {
      CURLE_SSL_CONNECT_ERROR,  CURLE_PEER_FAILED_VERIFICATION,
      CURLE_SSL_CERTPROBLEM,    CURLE_SSL_CIPHER,
      CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
      CURLE_SSL_CLIENTCERT,     CURLE_SSL_ENGINE_INITFAILED,
      CURLE_RECV_ERROR,         CURLE_SEND_ERROR,
      CURLE_GOT_NOTHING,
  };
  for (size_t i = 0; i < sizeof tls / sizeof *tls; i++)
    if (code == tls[i]) return true;
  return false;
}
