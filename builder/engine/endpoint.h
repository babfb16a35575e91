/* Where the engine is and how to talk to it, as the docker CLI decides:
 * --host, else $DOCKER_HOST, else the docker context ($DOCKER_CONTEXT, else
 * "currentContext" in config.json), else unix:///var/run/docker.sock; TLS
 * from DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH for --host,
 * DOCKER_HOST and the default, from the context's own TLS folder for a
 * context.
 *
 * Environment and context files count only where kiln_env() trusts the
 * environment (admins, no caller recorded): for everyone else the engine is
 * the default socket, whatever their variables or ~/.docker say. Files are
 * read with kiln_fs_read_regular (the caller's rights, never blocking on a
 * FIFO). Internal to builder/. */
#ifndef KILN_BUILDER_ENDPOINT_H
#define KILN_BUILDER_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "kiln/error.h"

#define KILN_DEFAULT_ENGINE_HOST "unix:///var/run/docker.sock"
#define KILN_MAX_PEM_BYTES       (256u << 10) /* one ca.pem / cert.pem / key.pem */
#define KILN_MAX_DOCKER_CONFIG   (4u << 20)   /* config.json, a context's meta.json */

typedef struct {
  char *path; /* owned: where it was read, for messages; NULL: not used */
  char *data; /* owned: the PEM text */
  size_t len;
} kiln_pem;

typedef struct {
  char *host;    /* owned: "unix:///path", "tcp://host:port" or "http://host:port" */
  char *origin;  /* owned: where the address came from ("DOCKER_HOST", "context \"x\"") */
  bool tls;      /* https (tcp only) */
  bool verify;   /* verify the engine's certificate (against ca, else the system's CAs) */
  char *tls_dir; /* owned: where ca.pem, cert.pem, key.pem were looked for, or NULL */
  kiln_pem ca, cert, key;
} kiln_endpoint;

/* Fills *ep (free with kiln_endpoint_clear) from flag_host (may be NULL),
 * the environment and the context store. A context that does not exist, a
 * malformed meta.json or config.json, or TLS material that cannot be read
 * (a cert.pem without its key.pem, an unreadable or oversized file) is
 * code KILN_EXIT_USAGE, naming the file. Returns 0 or -1. */
int kiln_endpoint_resolve(const char *flag_host, kiln_endpoint *ep, kiln_error **err);
void kiln_endpoint_clear(kiln_endpoint *ep);

/* "<config_dir>/contexts/<kind>/<sha256 hex of name>", kind "meta" or "tls",
 * as docker's context store lays it out. New string or NULL (no memory). */
char *kiln_context_dir(const char *config_dir, const char *kind, const char *name);

/* Sets the TLS options of ep on curl (nothing for plain connections). */
int kiln_endpoint_curl_tls(const kiln_endpoint *ep, CURL *curl, kiln_error **err);

/* Whether code is a failed TLS handshake or verification (for messages). */
bool kiln_endpoint_tls_failure(CURLcode code);

#endif
