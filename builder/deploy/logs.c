/* container logs: the engine's log stream of the caller's container,
 * demultiplexed when the container has no TTY, raw when it has one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "util/cleanup.h"
#include "util/io.h"
#include "util/json_cleanup.h"

typedef struct {
  bool tty;
  int out_fd, err_fd;
  bool output_closed; /* a write failed: the reader went away (head, a closed pipe) */
  kiln_demux demux;
} log_stream;

/* Stream 1 is stdout; 2 (stderr) and 3 (the daemon's own errors) go to err_fd. */
static int write_stream(void *user, int stream, const char *data, size_t n) {
  log_stream *l = user;
  if (kiln_write_all(stream == 1 ? l->out_fd : l->err_fd, data, n) == 0) return 0;
  l->output_closed = true;
  return -1;
}

static int on_data(void *user, const char *data, size_t n) {
  log_stream *l = user;
  if (!l->tty) return kiln_demux_feed(&l->demux, data, n, write_stream, l);
  return write_stream(l, 1, data, n);
}

/* Whether container id was created with a TTY (its log stream is raw). */
static int has_tty(kiln_engine *engine, const char *id, bool *tty, kiln_error **err) {
  _cleanup_json_ json_t *c = kiln_engine_inspect(engine, KILN_OBJECT_CONTAINER, id, false, err);
  if (!c && !*err) return kiln_error_set(err, KILN_EXIT_FAILURE, "the container is gone");
  if (!c) return -1;
  *tty = json_is_true(json_object_get(json_object_get(c, "Config"), "Tty"));
  return 0;
}

int kiln_container_logs(kiln_engine *engine, const char *name, const kiln_owner *owner,
                        const kiln_logs_options *opts, kiln_error **err) {
  _cleanup_free_ char *id = kiln_container_find(engine, name, owner, err);
  if (!id) return -1;
  log_stream l = {.out_fd = opts->out_fd, .err_fd = opts->err_fd};
  if (has_tty(engine, id, &l.tty, err) < 0) return kiln_error_prefix(err, "container '%s'", name);
  _cleanup_free_ char *path = NULL, *query = NULL;
  char tail[24] = "all";
  if (opts->tail >= 0) snprintf(tail, sizeof tail, "%ld", opts->tail);
  if (asprintf(&path, "/containers/%s/logs", id) < 0 ||
      asprintf(&query, "stdout=1&stderr=1&follow=%d&tail=%s", opts->follow ? 1 : 0, tail) < 0)
    return kiln_error_oom(err);
  kiln_engine_request req = {
      .method = "GET", .path = path, .query = query, .on_data = on_data, .user = &l};
  kiln_engine_response resp = {0};
  kiln_error *e = NULL;
  int r = kiln_engine_call(engine, &req, &resp, &e);
  kiln_engine_response_clear(&resp);
  if (r == 0 || l.output_closed) {
    kiln_error_free(e);
    return 0;
  }
  kiln_error_keep(err, e);
  return kiln_error_prefix(err, "logs of '%s'", name);
}
