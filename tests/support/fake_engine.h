/* A tiny fake Docker engine for unit tests: an HTTP/1.1 server on a unix
 * socket, served by a thread of the test process. A test scripts raw answers
 * (status, headers, body, a cut or held connection) by method and a
 * substring of the request target, then checks what the user would see and
 * which requests reached the "engine".
 *
 * One fake per process (check forks each test: CK_FORK=yes), so the state is
 * static. Use fake_setup/fake_teardown as the checked fixture (they run in
 * the forked child), script answers, then fake_open() (or fake_start() and
 * open the engine yourself). Connections are served one at a time, each
 * closed after its answer; routes are tried in the order they were added and
 * the first match answers; an unmatched request gets 404 {"message":"no such
 * route"}. Every assertion failure here fails the running test. */
#ifndef KILN_TEST_FAKE_ENGINE_H
#define KILN_TEST_FAKE_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "kiln/engine.h"

#define FAKE_MAX_ROUTES 24
#define FAKE_MAX_SEEN   64
#define FAKE_BODY_KEPT  8192 /* request body bytes kept for checks */

/* One request as the fake engine received it. */
typedef struct {
  char method[16];
  char target[4096]; /* "/v1.41/containers/create?name=..." */
  char content_type[128];
  bool chunked;
  size_t body_bytes;         /* after de-chunking */
  char body[FAKE_BODY_KEPT]; /* its first bytes, NUL-terminated */
} fake_request;

/* Fixture: a fresh temporary folder (fake_dir) for the socket and the
 * test's own files, DOCKER_HOST and DOCKER_API_VERSION unset. */
void fake_setup(void);
/* Fixture: stops the server, frees the routes, removes fake_dir. */
void fake_teardown(void);

/* The temporary folder (removed by fake_teardown), the socket path in it
 * and its address "unix://...". Borrowed, valid until fake_teardown. */
const char *fake_dir(void);
const char *fake_sock(void);
const char *fake_host(void);

/* Starts serving (listen + thread). Routes may still be added afterwards,
 * but only between requests. */
void fake_start(void);
/* fake_start, then kiln_engine_open on it with interrupted as the engine's
 * interrupt flag (may be NULL). Returns a new engine (kiln_engine_free). */
kiln_engine *fake_open_with(volatile sig_atomic_t *interrupted);
kiln_engine *fake_open(void);

/* ---- scripted answers (strings are copied; method and match are borrowed
 * and must outlive the test: string literals) ---- */

/* A complete JSON answer with Content-Length; body may be NULL (empty). */
void fake_answer(const char *method, const char *match, int status, const char *body);
/* A 200 whose body (body_len bytes) ends when the connection closes. */
void fake_answer_until_close(const char *method, const char *match, const char *body,
                             size_t body_len);
/* raw is sent as is (status line, headers, body, or a cut-off part). */
void fake_raw_answer(const char *method, const char *match, const char *raw);
/* No answer: the connection is held until the client closes it (at most
 * 20 s), as an engine does during a long /wait. */
void fake_hang(const char *method, const char *match);
/* /_ping as the engine answers it: its maximum API version in a header. */
void fake_answer_ping(const char *api_version);
/* GET /version with ApiVersion and MinAPIVersion. */
void fake_answer_version(const char *api_version, const char *min);
/* fake_answer_ping + fake_answer_version (minimum 1.12). */
void fake_answer_engine(const char *api_version);

/* Modifiers of the route added last. */
/* It answers n times only; later requests fall through to later routes. */
void fake_times(unsigned n);
/* When it is matched, *flag = sig first (a signal arriving mid-call). */
void fake_set_flag(volatile sig_atomic_t *flag, int sig);

/* ---- what reached the engine ---- */

/* Requests of method whose target contains match. */
size_t fake_count_seen(const char *method, const char *match);
/* The first such request, or NULL. Borrowed, valid until fake_teardown. */
const fake_request *fake_find_seen(const char *method, const char *match);
/* The i-th request of all (NULL past the end), and how many there were. */
const fake_request *fake_seen(size_t i);
size_t fake_n_seen(void);

#endif
