/* A client for the Docker Engine API: libcurl over a unix socket or TCP.
 *
 * One kiln_engine per process is enough; it is not thread-safe. Every call
 * returns <0 with *err set on failure: KILN_EXIT_ENGINE when the engine is
 * unreachable or answered with an error status (message taken from the
 * engine's {"message": ...}), KILN_EXIT_FAILURE for local problems. */
#ifndef KILN_ENGINE_H
#define KILN_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "kiln/error.h"

typedef struct kiln_engine kiln_engine;

typedef struct {
  const char *host;        /* "unix:///path", "tcp://host:port", or NULL:
                              $DOCKER_HOST, else unix:///var/run/docker.sock */
  long connect_timeout_ms; /* 0 = KILN_CONNECT_TIMEOUT_MS; streams have no timeout */
  /* Borrowed, may be NULL. Once *interrupted holds a signal number, every
   * call (but undo calls) stops within about a second, also a stalled one,
   * with kiln_error_interrupted (code 128 + the signal). */
  volatile sig_atomic_t *interrupted;
} kiln_engine_options;

#define KILN_ENGINE_OPTIONS_INIT                                                                   \
  { NULL, 0, NULL }

/* Connects (GET /_ping), negotiates the API version (/version, capped by what
 * kiln knows), and returns a new engine (free with kiln_engine_free). On an
 * unreachable engine the message names the socket or address tried and how
 * to start the engine; permission denied on the socket says so. */
kiln_engine *kiln_engine_open(const kiln_engine_options *opts, kiln_error **err);
void kiln_engine_free(kiln_engine *engine);

/* "1.41" etc. Borrowed. */
const char *kiln_engine_api_version(const kiln_engine *engine);
/* The address used, for messages. Borrowed. */
const char *kiln_engine_host(const kiln_engine *engine);
/* The interrupt flag given in the options (borrowed, may be NULL): work
 * beside the engine calls (lock waits) stops on the same flag. */
volatile sig_atomic_t *kiln_engine_interrupt_flag(const kiln_engine *engine);
/* The signal caught so far through that flag, or 0. */
int kiln_engine_interrupted(const kiln_engine *engine);

/* Request body producer for streamed uploads (chunked): fill buf with up to
 * n bytes and return the count, 0 at the end, or -1 to abort (after setting
 * the producer's own error, reported through the call's *err). */
typedef ssize_t (*kiln_engine_read_fn)(void *user, char *buf, size_t n);
/* Called for every JSON object of a JSON-lines response (build, push, pull,
 * load). Returning <0 aborts the transfer. The object is borrowed. */
typedef int (*kiln_engine_line_fn)(void *user, json_t *line);
/* Called with raw response bytes (image export, attach). <0 aborts. */
typedef int (*kiln_engine_data_fn)(void *user, const char *data, size_t n);

typedef struct {
  const char *method;       /* "GET", "POST", "DELETE", ... */
  const char *path;         /* "/images/json", without the /vX.Y prefix */
  const char *query;        /* already escaped ("a=1&b=2") or NULL */
  const char *content_type; /* default "application/json" when a body is sent */
  const char *body;         /* in-memory body, or NULL */
  size_t body_len;
  kiln_engine_read_fn read; /* streamed body, instead of `body` */
  void *read_user;
  kiln_engine_line_fn on_line; /* JSON-lines response; else the body is kept */
  kiln_engine_data_fn on_data; /* raw response; else the body is kept */
  void *user;
  const char *const *headers; /* extra "Name: value" headers, NULL-terminated */
  long timeout_ms;            /* whole request; 0 = none (long streams) */
  bool undo;                  /* undoing work (untag, remove): runs even after an interruption,
                                 within timeout_ms or else KILN_UNDO_TIMEOUT_MS */
} kiln_engine_request;

#define KILN_ENGINE_REQUEST_INIT                                                                   \
  { 0 }

typedef struct {
  long status; /* HTTP status */
  char *body;  /* owned; response body when neither on_line nor on_data */
  size_t body_len;
} kiln_engine_response;

/* Performs one API call. Returns 0 for a 2xx answer (response filled; free
 * with kiln_engine_response_clear), or -1 with *err set: for a non-2xx answer
 * the engine's message with code KILN_EXIT_ENGINE, and the status still in
 * resp->status so callers can tell 404 from 409. */
int kiln_engine_call(kiln_engine *engine, const kiln_engine_request *req,
                     kiln_engine_response *resp, kiln_error **err);
void kiln_engine_response_clear(kiln_engine_response *resp);

/* Convenience: a call whose answer is JSON. Returns a new reference or NULL
 * with *err set; *status (may be NULL) gets the HTTP status either way.
 * body may be NULL (no body) and is serialised compactly. */
json_t *kiln_engine_json(kiln_engine *engine, const char *method, const char *path,
                         const char *query, json_t *body, long *status, kiln_error **err);

/* Escapes a value for a query string. Returns a new string. */
char *kiln_engine_escape(const char *value);

/* ---- engine objects (builder/engine/objects.c) ---- */

typedef enum { KILN_OBJECT_IMAGE, KILN_OBJECT_CONTAINER, KILN_OBJECT_VOLUME } kiln_object_kind;

/* "image", "container", "volume" (static). */
const char *kiln_object_kind_name(kiln_object_kind kind);

/* The engine's inspect document of the object ref names (a name or an id;
 * escaped here). Returns a new reference; NULL with *err unset when the
 * engine has no such object (404); NULL with *err set for any other
 * failure, an answer that is not JSON or one without the object's id
 * ("Id"; "Name" for volumes). undo: the call also runs after an interrupt
 * (kiln_engine_request.undo). */
json_t *kiln_engine_inspect(kiln_engine *engine, kiln_object_kind kind, const char *ref, bool undo,
                            kiln_error **err);

/* Whether an image inspect (or list) entry has a name: an image whose
 * only RepoTags entry is "<none>:<none>" (what Podman and old engines
 * list) has none. image is borrowed. */
bool kiln_image_tagged(json_t *image);

/* DELETE of the object ref names; query (may be NULL) e.g. "force=1&v=1".
 * Returns 0 when removed, 1 when the engine has no such object (no error),
 * -1 with *err set (the engine's message: 409 for an image in use...). */
int kiln_engine_remove(kiln_engine *engine, kiln_object_kind kind, const char *ref,
                       const char *query, bool undo, kiln_error **err);

#endif
