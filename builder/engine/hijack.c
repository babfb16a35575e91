/* Raw engine connections for what libcurl's request/response model does not
 * fit: the upgraded (hijacked) exec stream of `container shell`, and the
 * connect-only request a signal handler sends. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/json_cleanup.h"

#define RELAY_CHUNK         16384
#define MAX_UPGRADE_HEADERS 8192

static int sockaddr_unix(const char *path, struct sockaddr_storage *addr, socklen_t *len,
                         kiln_error **err) {
  struct sockaddr_un *un = (struct sockaddr_un *)addr;
  if (strlen(path) >= sizeof un->sun_path)
    return kiln_error_set(err, KILN_EXIT_USAGE, "socket path %s is too long", path);
  memset(addr, 0, sizeof *addr);
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path, strlen(path) + 1);
  *len = (socklen_t)sizeof *un;
  return 0;
}

static int sockaddr_tcp(const char *hostport, struct sockaddr_storage *addr, socklen_t *len,
                        kiln_error **err) {
  char host[256], port[16];
  const char *colon = strrchr(hostport, ':');
  size_t hl = colon ? (size_t)(colon - hostport) : strlen(hostport);
  const char *slash = colon ? strchr(colon, '/') : NULL;
  size_t pl = colon ? (slash ? (size_t)(slash - colon - 1) : strlen(colon + 1)) : 0;
  if (hl == 0 || hl >= sizeof host || pl >= sizeof port)
    return kiln_error_set(err, KILN_EXIT_USAGE, "bad engine address tcp://%s", hostport);
  snprintf(host, sizeof host, "%.*s", (int)hl, hostport);
  snprintf(port, sizeof port, "%.*s", (int)pl, colon ? colon + 1 : "");
  if (!*port) snprintf(port, sizeof port, "2375");
  if (host[0] == '[' && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = '\0';
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int r = getaddrinfo(host, port, &hints, &res);
  if (r != 0 || !res)
    return kiln_error_set(err, KILN_EXIT_ENGINE, "cannot resolve %s: %s", host, gai_strerror(r));
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return 0;
}

int kiln_engine_sockaddr(const char *host, struct sockaddr_storage *addr, socklen_t *len,
                         kiln_error **err) {
  if (!strncmp(host, "unix://", 7)) return sockaddr_unix(host + 7, addr, len, err);
  if (!strncmp(host, "tcp://", 6)) return sockaddr_tcp(host + 6, addr, len, err);
  if (!strncmp(host, "http://", 7)) return sockaddr_tcp(host + 7, addr, len, err);
  return kiln_error_set(err, KILN_EXIT_USAGE, "engine address \"%s\" is not supported", host);
}

int kiln_engine_socket(const char *host, kiln_error **err) {
  struct sockaddr_storage addr;
  socklen_t len;
  if (kiln_engine_sockaddr(host, &addr, &len, err) < 0) return -1;
  _cleanup_close_ int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, len) < 0)
    return kiln_error_errno(err, errno, "cannot connect to the engine at %s", host);
  return steal_fd(&fd);
}

/* ---- the multiplexed stream ---- */

int kiln_demux_feed(kiln_demux *d, const char *data, size_t n, kiln_demux_fn fn, void *user) {
  while (n > 0) {
    if (d->remaining == 0) {
      size_t take = sizeof d->header - d->header_len;
      if (take > n) take = n;
      memcpy(d->header + d->header_len, data, take);
      d->header_len += take;
      data += take;
      n -= take;
      if (d->header_len < sizeof d->header) return 0;
      d->stream = d->header[0];
      d->remaining = (uint32_t)d->header[4] << 24 | (uint32_t)d->header[5] << 16 |
                     (uint32_t)d->header[6] << 8 | d->header[7];
      d->header_len = 0;
      continue;
    }
    size_t take = n < d->remaining ? n : d->remaining;
    if (fn(user, d->stream, data, take) < 0) return -1;
    d->remaining -= (uint32_t)take;
    data += take;
    n -= take;
  }
  return 0;
}

/* ---- exec attach ---- */

/* Sockets get send(MSG_NOSIGNAL): a closed engine connection is an error,
 * not a SIGPIPE. */
static int send_all(int fd, const char *data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    data += w;
    n -= (size_t)w;
  }
  return 0;
}

typedef struct {
  int out_fd, err_fd;
} outputs;

static int write_stream(void *user, int stream, const char *data, size_t n) {
  const outputs *o = user;
  return kiln_write_all(stream == 1 ? o->out_fd : o->err_fd, data, n);
}

/* Sends the upgrade request and reads the answer's headers. Bytes read past
 * the headers already belong to the stream: they are left in *extra. */
static int upgrade(int fd, kiln_engine *engine, const char *exec_id, bool tty, kiln_buf *extra,
                   kiln_error **err) {
  char body[64], req[512];
  int bl = snprintf(body, sizeof body, "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
  int rl = snprintf(req, sizeof req,
                    "POST /v%s/exec/%s/start HTTP/1.1\r\nHost: localhost\r\n"
                    "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    kiln_engine_api_version(engine), exec_id, bl, body);
  if (rl <= 0 || (size_t)rl >= sizeof req || send_all(fd, req, (size_t)rl) < 0)
    return kiln_error_errno(err, errno, "cannot send the exec request");
  kiln_buf head = KILN_BUF_INIT(MAX_UPGRADE_HEADERS);
  char *end = NULL;
  while (!end) {
    char chunk[1024];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || kiln_buf_append(&head, chunk, (size_t)n) < 0) {
      kiln_buf_free(&head);
      return kiln_error_set(err, KILN_EXIT_ENGINE, "the engine closed the exec connection");
    }
    end = strstr(head.data, "\r\n\r\n");
  }
  int status = 0;
  sscanf(head.data, "HTTP/1.%*d %d", &status);
  size_t used = (size_t)(end + 4 - head.data);
  int r = 0;
  if (status != 101 && status != 200) {
    char *msg = strstr(head.data + used, "\"message\":\"");
    r = kiln_error_set(err, KILN_EXIT_ENGINE, "engine refused the exec (HTTP %d)%s%.*s", status,
                       msg ? ": " : "", msg ? (int)strcspn(msg + 11, "\"") : 0,
                       msg ? msg + 11 : "");
  } else {
    kiln_buf_append(extra, head.data + used, head.len - used);
  }
  kiln_buf_free(&head);
  return r;
}

typedef struct {
  int sock;
  bool tty;
  kiln_demux demux;
  outputs out;
  int winch_fd; /* signalfd for SIGWINCH (terminal resized), or -1 */
  kiln_engine *engine;
  const char *exec_id;
} relay;

static void resize_exec(kiln_engine *engine, const char *exec_id, int fd);

static int deliver(relay *r, const char *data, size_t n) {
  if (r->tty) return kiln_write_all(r->out.out_fd, data, n);
  return kiln_demux_feed(&r->demux, data, n, write_stream, &r->out);
}

/* stdin → socket; on EOF half-close (never for a TTY: that ends the session). */
static int pump_input(relay *r, int in_fd, bool *in_open) {
  char buf[RELAY_CHUNK];
  ssize_t n = read(in_fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return 0;
  if (n <= 0) {
    *in_open = false;
    if (!r->tty) shutdown(r->sock, SHUT_WR);
    return 0;
  }
  return send_all(r->sock, buf, (size_t)n) < 0 ? -1 : 0;
}

/* The terminal was resized: drain the signalfd, tell the engine. */
static void on_resize(relay *r) {
  struct signalfd_siginfo si;
  while (read(r->winch_fd, &si, sizeof si) == (ssize_t)sizeof si)
    continue;
  resize_exec(r->engine, r->exec_id, r->out.out_fd);
}

static int relay_loop(relay *r, int in_fd, kiln_error **err) {
  bool in_open = in_fd >= 0;
  char buf[RELAY_CHUNK];
  for (;;) {
    struct pollfd p[3] = {{r->sock, POLLIN, 0}, {r->winch_fd, POLLIN, 0}, {in_fd, POLLIN, 0}};
    if (poll(p, in_open ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      return kiln_error_errno(err, errno, "poll");
    }
    if (p[1].revents & POLLIN) on_resize(r);
    if (p[0].revents) {
      ssize_t n = read(r->sock, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0; /* the engine closed: the process ended */
      if (deliver(r, buf, (size_t)n) < 0)
        return kiln_error_errno(err, errno, "cannot write output");
    }
    if (in_open && p[2].revents && pump_input(r, in_fd, &in_open) < 0)
      return kiln_error_errno(err, errno, "cannot send input");
  }
}

/* Tells the engine the terminal's size; only possible once started. */
static void resize_exec(kiln_engine *engine, const char *exec_id, int fd) {
  struct winsize ws;
  if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row) return;
  char path[160], query[64];
  snprintf(path, sizeof path, "/exec/%s/resize", exec_id);
  snprintf(query, sizeof query, "h=%u&w=%u", ws.ws_row, ws.ws_col);
  _cleanup_error_ kiln_error *ignored = NULL;
  json_decref(kiln_engine_json(engine, "POST", path, query, NULL, NULL, &ignored));
}

int kiln_exec_attach(kiln_engine *engine, const char *exec_id, bool tty, int in_fd, int out_fd,
                     int err_fd, kiln_error **err) {
  _cleanup_close_ int sock = kiln_engine_socket(kiln_engine_host(engine), err);
  if (sock < 0) return -1;
  kiln_buf extra = KILN_BUF_INIT(MAX_UPGRADE_HEADERS);
  if (upgrade(sock, engine, exec_id, tty, &extra, err) < 0) {
    kiln_buf_free(&extra);
    return -1;
  }
  relay r = {.sock = sock,
             .tty = tty,
             .out = {out_fd, err_fd},
             .winch_fd = -1,
             .engine = engine,
             .exec_id = exec_id};
  /* Resizes follow the terminal through a signalfd: SIGWINCH is blocked for
   * the session (no handler is installed) and the old mask put back. */
  sigset_t winch, old;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  bool masked = tty && sigprocmask(SIG_BLOCK, &winch, &old) == 0;
  if (masked) r.winch_fd = signalfd(-1, &winch, SFD_NONBLOCK | SFD_CLOEXEC);
  if (tty) resize_exec(engine, exec_id, out_fd);
  int rc = extra.len ? deliver(&r, extra.data, extra.len) : 0;
  kiln_buf_free(&extra);
  if (rc < 0)
    rc = kiln_error_errno(err, errno, "cannot write output");
  else
    rc = relay_loop(&r, in_fd, err);
  if (r.winch_fd >= 0) close(r.winch_fd);
  if (masked) sigprocmask(SIG_SETMASK, &old, NULL);
  return rc;
}
