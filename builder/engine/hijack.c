/* The upgraded (hijacked) exec stream of `container shell`, which libcurl's
 * request/response model does not fit: the connection is libcurl's own
 * (connect-only, so unix sockets, TCP and TLS with client certificates work
 * as for every request), the bytes go through curl_easy_send/recv. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "builder/engine/engine_private.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/json_cleanup.h"

#define RELAY_CHUNK         16384
#define MAX_UPGRADE_HEADERS 8192
#define CONN_AGAIN          (-2)

/* ---- the connection ---- */

typedef struct {
  CURL *curl; /* owned */
  int fd;     /* libcurl's socket, for poll and the half-close */
} conn;

static void conn_close(conn *c) {
  if (c->curl) curl_easy_cleanup(c->curl);
  c->curl = NULL;
}

static int conn_wait(const conn *c, short events) {
  struct pollfd p = {c->fd, events, 0};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR) return -1;
  return 0;
}

/* All n bytes (waiting while the socket is full), or -1. */
static int conn_send(const conn *c, const char *data, size_t n) {
  while (n > 0) {
    size_t sent = 0;
    CURLcode code = curl_easy_send(c->curl, data, n, &sent);
    if (code == CURLE_AGAIN) {
      if (conn_wait(c, POLLOUT) < 0) return -1;
      continue;
    }
    if (code != CURLE_OK) return errno = EPIPE, -1;
    data += sent;
    n -= sent;
  }
  return 0;
}

/* Bytes read (>0), 0 when the engine closed, CONN_AGAIN when nothing is
 * there now (neither in the socket nor in libcurl's TLS buffers), -1. */
static ssize_t conn_recv(const conn *c, char *buf, size_t n) {
  size_t got = 0;
  CURLcode code = curl_easy_recv(c->curl, buf, n, &got);
  if (code == CURLE_AGAIN) return CONN_AGAIN;
  return code == CURLE_OK ? (ssize_t)got : -1;
}

/* The end of input: over TLS a close_notify first (the engine's TLS layer
 * then reads a clean end; reading the answer goes on), then the TCP
 * half-close, as docker's CLI ends an exec's input. */
static void conn_close_write(const conn *c) {
  struct curl_tlssessioninfo *tls = NULL;
  if (curl_easy_getinfo(c->curl, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK && tls &&
      tls->backend == CURLSSLBACKEND_OPENSSL && tls->internals)
    SSL_shutdown(tls->internals);
  shutdown(c->fd, SHUT_WR);
}

static int conn_open(conn *c, kiln_engine *engine, kiln_error **err) {
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (!(c->curl = kiln_engine_connect_only(engine, err))) return -1;
  if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD) {
    conn_close(c);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "libcurl gave no socket for the exec stream");
  }
  c->fd = (int)fd;
  return 0;
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

typedef struct {
  int out_fd, err_fd;
} outputs;

static int write_stream(void *user, int stream, const char *data, size_t n) {
  const outputs *o = user;
  return kiln_write_all(stream == 1 ? o->out_fd : o->err_fd, data, n);
}

/* Sends the upgrade request and reads the answer's headers. Bytes read past
 * the headers already belong to the stream: they are left in *extra. */
static int upgrade(const conn *c, kiln_engine *engine, const char *exec_id, bool tty,
                   kiln_buf *extra, kiln_error **err) {
  char body[64], req[512];
  int bl = snprintf(body, sizeof body, "{\"Detach\":false,\"Tty\":%s}", tty ? "true" : "false");
  int rl = snprintf(req, sizeof req,
                    "POST /v%s/exec/%s/start HTTP/1.1\r\nHost: localhost\r\n"
                    "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    kiln_engine_api_version(engine), exec_id, bl, body);
  if (rl <= 0 || (size_t)rl >= sizeof req || conn_send(c, req, (size_t)rl) < 0)
    return kiln_error_errno(err, errno, "cannot send the exec request");
  kiln_buf head = KILN_BUF_INIT(MAX_UPGRADE_HEADERS);
  char *end = NULL;
  while (!end) {
    char chunk[1024];
    ssize_t n = conn_recv(c, chunk, sizeof chunk);
    if (n == CONN_AGAIN && conn_wait(c, POLLIN) == 0) continue;
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
  const conn *sock;
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
    if (!r->tty) conn_close_write(r->sock);
    return 0;
  }
  return conn_send(r->sock, buf, (size_t)n) < 0 ? -1 : 0;
}

/* The terminal was resized: drain the signalfd, tell the engine. */
static void on_resize(relay *r) {
  struct signalfd_siginfo si;
  while (read(r->winch_fd, &si, sizeof si) == (ssize_t)sizeof si)
    continue;
  resize_exec(r->engine, r->exec_id, r->out.out_fd);
}

/* Everything the engine sent so far, also what libcurl's TLS layer holds
 * already (poll cannot see that). 1 when the engine closed, 0, or -1. */
static int drain(relay *r, kiln_error **err) {
  char buf[RELAY_CHUNK];
  for (;;) {
    ssize_t n = conn_recv(r->sock, buf, sizeof buf);
    if (n == CONN_AGAIN) return 0;
    if (n <= 0) return 1; /* the engine closed: the process ended */
    if (deliver(r, buf, (size_t)n) < 0) return kiln_error_errno(err, errno, "cannot write output");
  }
}

static int relay_loop(relay *r, int in_fd, kiln_error **err) {
  bool in_open = in_fd >= 0;
  for (;;) {
    int d = drain(r, err);
    if (d != 0) return d < 0 ? -1 : 0;
    struct pollfd p[3] = {{r->sock->fd, POLLIN, 0}, {r->winch_fd, POLLIN, 0}, {in_fd, POLLIN, 0}};
    if (poll(p, in_open ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      return kiln_error_errno(err, errno, "poll");
    }
    if (p[1].revents & POLLIN) on_resize(r);
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
  _cleanup_(conn_close) conn sock = {NULL, -1};
  if (conn_open(&sock, engine, err) < 0) return -1;
  kiln_buf extra = KILN_BUF_INIT(MAX_UPGRADE_HEADERS);
  if (upgrade(&sock, engine, exec_id, tty, &extra, err) < 0) {
    kiln_buf_free(&extra);
    return -1;
  }
  relay r = {.sock = &sock,
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
