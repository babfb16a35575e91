/* The engine stage's private interface for the other stages: raw
 * (upgraded) connections and the engine's multiplexed stream format
 * (builder/engine/hijack.c, engine.c). */
#ifndef KILN_ENGINE_PRIVATE_H
#define KILN_ENGINE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "kiln/engine.h"

/* Demultiplexer for the engine's 8-byte-header stream format (exec and logs
 * without a TTY): stream 1 stdout, 2 stderr, 3 daemon error. Frames may split
 * anywhere across feeds. */
typedef struct {
  unsigned char header[8];
  size_t header_len;
  uint32_t remaining; /* payload bytes left in the current frame */
  int stream;
} kiln_demux;

typedef int (*kiln_demux_fn)(void *user, int stream, const char *data, size_t n);

/* Feeds n bytes; calls fn for every payload piece. Returns 0, or fn's <0. */
int kiln_demux_feed(kiln_demux *d, const char *data, size_t n, kiln_demux_fn fn, void *user);

/* A new connection to the engine (unix socket, TCP or TLS, as every request
 * goes), connected and past the TLS handshake, for a raw exchange with
 * curl_easy_send / curl_easy_recv (CURLINFO_ACTIVESOCKET to poll). Free with
 * curl_easy_cleanup. NULL with *err set when the engine is unreachable. */
CURL *kiln_engine_connect_only(kiln_engine *engine, kiln_error **err);

/* POST /exec/ID/start with the connection upgraded, then relays in_fd to
 * the process and its output to out_fd/err_fd (demultiplexed when !tty)
 * until the engine closes. */
int kiln_exec_attach(kiln_engine *engine, const char *exec_id, bool tty, int in_fd, int out_fd,
                     int err_fd, kiln_error **err);

#endif
