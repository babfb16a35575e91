/* The fake Docker engine of the unit tests (fake_engine.h). */
#include "fake_engine.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

#define HANG_LIMIT_MS 20000

typedef struct {
  const char *method; /* "GET", ... */
  const char *match;  /* substring of the request target */
  char *answer;       /* owned; raw HTTP answer, sent as is; the connection then closes */
  size_t answer_len;
  bool hang;                   /* no answer: hold the connection until the client closes */
  unsigned times;              /* answers left; 0 = no limit */
  bool limited;                /* times applies */
  volatile sig_atomic_t *flag; /* set to sig when matched, or NULL */
  int sig;
} route;

static struct {
  char dir[64], sock[96], host[160];
  int listen_fd;
  pthread_t thread;
  route routes[FAKE_MAX_ROUTES];
  size_t n_routes;
  fake_request seen[FAKE_MAX_SEEN];
  size_t n_seen;
} fake;

const char *fake_dir(void) {
  return fake.dir;
}
const char *fake_sock(void) {
  return fake.sock;
}
const char *fake_host(void) {
  return fake.host;
}

/* The next free route, for method and match. */
static route *add_route(const char *method, const char *match) {
  ck_assert_uint_lt(fake.n_routes, FAKE_MAX_ROUTES);
  route *r = &fake.routes[fake.n_routes++];
  memset(r, 0, sizeof *r);
  r->method = method;
  r->match = match;
  return r;
}

static route *last_route(void) {
  ck_assert_uint_gt(fake.n_routes, 0);
  return &fake.routes[fake.n_routes - 1];
}

void fake_answer(const char *method, const char *match, int status, const char *body) {
  route *r = add_route(method, match);
  size_t n = body ? strlen(body) : 0;
  ck_assert_int_ge(asprintf(&r->answer,
                            "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            status, n, body ? body : ""),
                   0);
  r->answer_len = strlen(r->answer);
}

void fake_answer_until_close(const char *method, const char *match, const char *body,
                             size_t body_len) {
  route *r = add_route(method, match);
  const char *head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
  r->answer_len = strlen(head) + body_len;
  r->answer = malloc(r->answer_len);
  ck_assert_ptr_nonnull(r->answer);
  memcpy(r->answer, head, strlen(head));
  memcpy(r->answer + strlen(head), body, body_len);
}

void fake_raw_answer(const char *method, const char *match, const char *raw) {
  route *r = add_route(method, match);
  r->answer = strdup(raw);
  ck_assert_ptr_nonnull(r->answer);
  r->answer_len = strlen(raw);
}

void fake_hang(const char *method, const char *match) {
  add_route(method, match)->hang = true;
}

void fake_answer_ping(const char *api_version) {
  _cleanup_free_ char *raw = NULL;
  ck_assert_int_ge(asprintf(&raw,
                            "HTTP/1.1 200 OK\r\nApi-Version: %s\r\nOstype: linux\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n"
                            "Connection: close\r\n\r\nOK",
                            api_version),
                   0);
  fake_raw_answer("GET", "/_ping", raw);
}

void fake_answer_version(const char *api_version, const char *min) {
  _cleanup_free_ char *v = NULL;
  ck_assert_int_ge(
      asprintf(&v, "{\"ApiVersion\":\"%s\",\"MinAPIVersion\":\"%s\"}", api_version, min), 0);
  fake_answer("GET", "/version", 200, v);
}

void fake_answer_engine(const char *api_version) {
  fake_answer_ping(api_version);
  fake_answer_version(api_version, "1.12");
}

void fake_times(unsigned n) {
  route *r = last_route();
  r->times = n;
  r->limited = true;
}

void fake_set_flag(volatile sig_atomic_t *flag, int sig) {
  route *r = last_route();
  r->flag = flag;
  r->sig = sig;
}

size_t fake_count_seen(const char *method, const char *match) {
  size_t n = 0;
  for (size_t i = 0; i < fake.n_seen; i++)
    n += !strcmp(fake.seen[i].method, method) && strstr(fake.seen[i].target, match);
  return n;
}

const fake_request *fake_find_seen(const char *method, const char *match) {
  for (size_t i = 0; i < fake.n_seen; i++)
    if (!strcmp(fake.seen[i].method, method) && strstr(fake.seen[i].target, match))
      return &fake.seen[i];
  return NULL;
}

const fake_request *fake_seen(size_t i) {
  return i < fake.n_seen ? &fake.seen[i] : NULL;
}
size_t fake_n_seen(void) {
  return fake.n_seen;
}

/* ---- the server ---- */

/* Reads one byte-exact line ("...\r\n") from fd. */
static bool read_line(int fd, char *out, size_t cap) {
  size_t n = 0;
  char c;
  while (read(fd, &c, 1) == 1) {
    if (c == '\n') {
      if (n && out[n - 1] == '\r') n--;
      out[n] = '\0';
      return true;
    }
    if (n + 1 < cap) out[n++] = c;
  }
  return false;
}

/* Reads n body bytes, the first ones into req->body. */
static size_t drain(int fd, size_t n, fake_request *req) {
  char buf[4096];
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf, n - got < sizeof buf ? n - got : sizeof buf);
    if (r <= 0) break;
    size_t kept = req->body_bytes + got, room = sizeof req->body - 1;
    if (kept < room)
      memcpy(req->body + kept, buf, (size_t)r < room - kept ? (size_t)r : room - kept);
    got += (size_t)r;
  }
  return got;
}

static size_t read_chunked(int fd, fake_request *req) {
  char line[64];
  while (read_line(fd, line, sizeof line)) {
    size_t n = strtoul(line, NULL, 16);
    if (!n) {
      read_line(fd, line, sizeof line);
      break;
    }
    req->body_bytes += drain(fd, n, req);
    read_line(fd, line, sizeof line);
  }
  return req->body_bytes;
}

/* Holds fd until the client closes it (bounded). */
static void hold(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  char c;
  while (poll(&p, 1, HANG_LIMIT_MS) > 0 && read(fd, &c, 1) > 0) {
  }
}

static void send_all(int fd, const char *data, size_t n) {
  ssize_t w = write(fd, data, n);
  (void)w;
}

static void answer_with(int fd, const fake_request *req) {
  for (size_t i = 0; i < fake.n_routes; i++) {
    route *r = &fake.routes[i];
    if (strcmp(r->method, req->method) || !strstr(req->target, r->match)) continue;
    if (r->limited && !r->times) continue;
    if (r->limited) r->times--;
    if (r->flag) *r->flag = r->sig;
    if (r->hang)
      hold(fd);
    else
      send_all(fd, r->answer, r->answer_len);
    return;
  }
  const char *none = "HTTP/1.1 404 X\r\nContent-Length: 27\r\nConnection: close\r\n\r\n"
                     "{\"message\":\"no such route\"}";
  send_all(fd, none, strlen(none));
}

static void serve_one(int fd) {
  fake_request req;
  memset(&req, 0, sizeof req);
  char line[8192];
  size_t length = 0;
  if (!read_line(fd, line, sizeof line)) return;
  sscanf(line, "%15s %4095s", req.method, req.target);
  while (read_line(fd, line, sizeof line) && line[0]) {
    if (!strncasecmp(line, "Content-Length:", 15)) length = strtoul(line + 15, NULL, 10);
    if (!strncasecmp(line, "Transfer-Encoding: chunked", 26)) req.chunked = true;
    if (!strncasecmp(line, "Content-Type: ", 14))
      snprintf(req.content_type, sizeof req.content_type, "%.127s", line + 14);
  }
  if (req.chunked)
    read_chunked(fd, &req);
  else
    req.body_bytes = drain(fd, length, &req);
  if (fake.n_seen < FAKE_MAX_SEEN) fake.seen[fake.n_seen++] = req;
  answer_with(fd, &req);
}

static void *serve(void *unused) {
  (void)unused;
  for (;;) {
    int fd = accept(fake.listen_fd, NULL, NULL);
    if (fd < 0) return NULL; /* shut down by fake_teardown */
    serve_one(fd);
    close(fd);
  }
}

void fake_start(void) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fake.sock);
  fake.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ck_assert_int_ge(fake.listen_fd, 0);
  ck_assert_int_eq(bind(fake.listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
  ck_assert_int_eq(listen(fake.listen_fd, 8), 0);
  ck_assert_int_eq(pthread_create(&fake.thread, NULL, serve, NULL), 0);
}

kiln_engine *fake_open_with(volatile sig_atomic_t *interrupted) {
  fake_start();
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = fake.host;
  opts.interrupted = interrupted;
  _cleanup_error_ kiln_error *err = NULL;
  kiln_engine *e = kiln_engine_open(&opts, &err);
  ck_assert_msg(e, "open: %s", err ? err->message : "?");
  return e;
}

kiln_engine *fake_open(void) {
  return fake_open_with(NULL);
}

void fake_setup(void) {
  memset(&fake, 0, sizeof fake);
  fake.listen_fd = -1;
  snprintf(fake.dir, sizeof fake.dir, "/tmp/kiln-test-engine.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(fake.dir));
  snprintf(fake.sock, sizeof fake.sock, "%s/docker.sock", fake.dir);
  snprintf(fake.host, sizeof fake.host, "unix://%s", fake.sock);
  unsetenv("DOCKER_API_VERSION");
  unsetenv("DOCKER_HOST");
}

void fake_teardown(void) {
  if (fake.listen_fd >= 0) {
    shutdown(fake.listen_fd, SHUT_RDWR);
    pthread_join(fake.thread, NULL);
    close(fake.listen_fd);
  }
  for (size_t i = 0; i < fake.n_routes; i++)
    free(fake.routes[i].answer);
  _cleanup_free_ char *cmd = NULL;
  if (asprintf(&cmd, "rm -rf '%s'", fake.dir) >= 0 && system(cmd) != 0) return;
}
