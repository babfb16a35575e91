/* The engine client, the JSON-lines reader and the build/retire logic,
 * against the shared fake Docker engine (tests/support/fake_engine.h): an
 * HTTP/1.1 server on a unix socket in a thread of the test process. Each test scripts the raw
 * answers (status, headers, body, cut connections) and then checks what the user would see: error
 * code and message, events, and which requests reached the "engine". */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/engine/stream.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"
#include "kiln/image.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "fake_engine.h"
#include "kt_check.h"

/* ---- connecting ---- */

START_TEST(negotiates_down_to_what_kiln_knows) {
  fake_answer_engine("1.45");
  fake_answer("GET", "/info", 200, "{}");
  kiln_engine *e = fake_open();
  ck_assert_str_eq(kiln_engine_api_version(e), "1.43");
  _cleanup_error_ kiln_error *err = NULL;
  _cleanup_json_ json_t *info = kiln_engine_json(e, "GET", "/info", NULL, NULL, NULL, &err);
  ck_assert_ptr_nonnull(info);
  ck_assert_ptr_nonnull(fake_find_seen("GET", "/v1.43/info"));
  ck_assert_ptr_nonnull(fake_find_seen("GET", "/_ping"));
  kiln_engine_free(e);
}
END_TEST

START_TEST(uses_an_older_engines_version) {
  fake_answer_engine("1.41");
  kiln_engine *e = fake_open();
  ck_assert_str_eq(kiln_engine_api_version(e), "1.41");
  ck_assert_str_eq(kiln_engine_host(e), fake_host());
  /* the ping's Api-Version header was enough: no second round trip */
  ck_assert_uint_eq(fake_count_seen("GET", "/version"), 0);
  ck_assert_uint_eq(fake_count_seen("GET", "/_ping"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(a_newer_engine_is_asked_its_minimum) {
  fake_answer_ping("1.52"); /* engine 29.0: minimum 1.44, above what kiln knows */
  fake_answer_version("1.52", "1.44");
  kiln_engine *e = fake_open();
  ck_assert_str_eq(kiln_engine_api_version(e), "1.44");
  ck_assert_uint_eq(fake_count_seen("GET", "/version"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(a_ping_without_the_header_falls_back_to_version) {
  fake_answer("GET", "/_ping", 200, "OK");
  fake_answer_version("1.40", "1.12");
  kiln_engine *e = fake_open();
  ck_assert_str_eq(kiln_engine_api_version(e), "1.40");
  ck_assert_uint_eq(fake_count_seen("GET", "/version"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(docker_host_is_honoured_and_api_version_pinned) {
  fake_answer("GET", "/_ping", 200, "OK");
  fake_start();
  setenv("DOCKER_HOST", fake_host(), 1);
  setenv("DOCKER_API_VERSION", "1.40", 1);
  _cleanup_error_ kiln_error *err = NULL;
  kiln_engine *e = kiln_engine_open(NULL, &err);
  ck_assert_msg(e, "%s", err ? err->message : "");
  ck_assert_str_eq(kiln_engine_api_version(e), "1.40");
  ck_assert_uint_eq(fake_count_seen("GET", "/version"), 0);
  kiln_engine_free(e);
}
END_TEST

START_TEST(missing_socket_names_it_and_how_to_start_the_engine) {
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = fake_host(); /* nothing listens: the socket file does not exist */
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_open(&opts, &err));
  kt_assert_error(err, KILN_EXIT_ENGINE, "cannot reach the Docker engine at unix://");
  kt_assert_error(err, KILN_EXIT_ENGINE, "docker.sock: no such file");
  kt_assert_error(err, KILN_EXIT_ENGINE, "systemctl start docker");
}
END_TEST

START_TEST(a_file_that_is_not_a_socket_says_so) {
  FILE *f = fopen(fake_sock(), "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = fake_host();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_open(&opts, &err));
  kt_assert_error(err, KILN_EXIT_ENGINE, "docker.sock is not a socket");
}
END_TEST

START_TEST(a_socket_nobody_listens_on_is_refused) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fake_sock());
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0); /* no listen() */
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = fake_host();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_open(&opts, &err));
  kt_assert_error(err, KILN_EXIT_ENGINE, "(Connection refused): is dockerd running?");
  close(fd);
}
END_TEST

/* A socket path libcurl refuses (longer than its 8 MB string cap; a libcurl
 * without unix sockets refuses any): the request stops there, instead of
 * going to TCP port 80 of localhost. */
START_TEST(a_refused_socket_option_stops_the_request) {
  size_t n = 9u << 20;
  _cleanup_free_ char *long_host = malloc(n + 8);
  ck_assert_ptr_nonnull(long_host);
  memcpy(long_host, "unix://", 7);
  memset(long_host + 7, 'a', n);
  long_host[7 + n] = '\0';
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = long_host;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_open(&opts, &err));
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(strlen(err->message) < 200 && err->code == KILN_EXIT_FAILURE, "code %d: %.200s",
                err->code, err->message);
  kt_assert_error(err, KILN_EXIT_FAILURE, "libcurl refused CURLOPT_UNIX_SOCKET_PATH");
}
END_TEST

START_TEST(unknown_host_scheme_is_a_usage_error) {
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = "ssh://somewhere";
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_open(&opts, &err));
  kt_assert_error(err, KILN_EXIT_USAGE, "engine address \"ssh://somewhere\" is not supported");
}
END_TEST

/* ---- answers ---- */

START_TEST(error_status_carries_the_engines_message) {
  fake_answer_engine("1.41");
  fake_answer("POST", "/containers/create", 500, "{\"message\":\"disk full on /var/lib/docker\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  long status = 0;
  _cleanup_json_ json_t *body = json_pack("{s:s}", "Image", "x");
  ck_assert_ptr_null(kiln_engine_json(e, "POST", "/containers/create", NULL, body, &status, &err));
  ck_assert_int_eq(status, 500);
  kt_assert_error(err, KILN_EXIT_ENGINE, "engine: disk full on /var/lib/docker (HTTP 500)");
  ck_assert_str_eq(fake_find_seen("POST", "/containers/create")->content_type, "application/json");
  kiln_engine_free(e);
}
END_TEST

/* A never-started container's /changes is the JSON value null (Docker
 * 20.10): a value, not an error. */
START_TEST(null_answer_is_a_json_null) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/containers/c1/changes", 200, "null");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  _cleanup_json_ json_t *v =
      kiln_engine_json(e, "GET", "/containers/c1/changes", NULL, NULL, NULL, &err);
  ck_assert_ptr_null(err);
  ck_assert(json_is_null(v));
  kiln_engine_free(e);
}
END_TEST

START_TEST(error_status_with_plain_text_keeps_the_text) {
  fake_answer_engine("1.41");
  fake_raw_answer("GET", "/images/json",
                  "HTTP/1.1 400 X\r\nContent-Length: 9\r\nConnection: close\r\n\r\nbad thing");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_engine_json(e, "GET", "/images/json", NULL, NULL, NULL, &err));
  kt_assert_error(err, KILN_EXIT_ENGINE, "engine: bad thing (HTTP 400)");
  kiln_engine_free(e);
}
END_TEST

typedef struct {
  size_t lines;
  char streams[256];
} collected;

static int collect(void *user, json_t *line) {
  collected *c = user;
  c->lines++;
  const char *s = json_string_value(json_object_get(line, "stream"));
  if (s) strncat(c->streams, s, sizeof c->streams - strlen(c->streams) - 1);
  return 0;
}

static int stream_call(kiln_engine *e, const char *path, collected *c, kiln_error **err) {
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = path;
  req.on_line = collect;
  req.user = c;
  int r = kiln_engine_call(e, &req, &resp, err);
  kiln_engine_response_clear(&resp);
  return r;
}

START_TEST(json_lines_split_and_coalesced) {
  fake_answer_engine("1.41");
  /* CRLF endings, two objects on one line, an empty line, no final newline */
  const char body[] = "{\"stream\":\"a\"}\r\n{\"stream\":\"b\"}{\"stream\":\"c\"}\r\n\r\n"
                      "{\"stream\":\"d\"}";
  fake_answer_until_close("POST", "/load", body, sizeof body - 1);
  kiln_engine *e = fake_open();
  collected c = {0};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(stream_call(e, "/load", &c, &err), 0);
  ck_assert_uint_eq(c.lines, 4);
  ck_assert_str_eq(c.streams, "abcd");
  kiln_engine_free(e);
}
END_TEST

START_TEST(stream_cut_inside_an_object_is_an_error) {
  fake_answer_engine("1.41");
  const char body[] = "{\"stream\":\"Step 1/2 : FROM x\"}\r\n{\"stream\":\"Step 2/";
  fake_answer_until_close("POST", "/load", body, sizeof body - 1);
  kiln_engine *e = fake_open();
  collected c = {0};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(stream_call(e, "/load", &c, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "the engine's answer ended inside a JSON object");
  kt_assert_error(err, KILN_EXIT_ENGINE, "{\"stream\":\"Step 2/");
  ck_assert_uint_eq(c.lines, 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(stream_shorter_than_announced_is_an_error) {
  fake_answer_engine("1.41");
  fake_raw_answer("POST", "/load",
                  "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
                  "{\"stream\":\"a\"}\r\n");
  kiln_engine *e = fake_open();
  collected c = {0};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(stream_call(e, "/load", &c, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "lost the connection to the Docker engine at unix://");
  kiln_engine_free(e);
}
END_TEST

START_TEST(malformed_line_is_quoted) {
  fake_answer_engine("1.41");
  const char body[] = "{\"stream\":\"a\"}\n{not json}\n";
  fake_answer_until_close("POST", "/load", body, sizeof body - 1);
  kiln_engine *e = fake_open();
  collected c = {0};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(stream_call(e, "/load", &c, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "the engine sent a malformed line");
  kt_assert_error(err, KILN_EXIT_ENGINE, "{not json}");
  kiln_engine_free(e);
}
END_TEST

START_TEST(over_long_line_is_refused) {
  fake_answer_engine("1.41");
  size_t n = KILN_MAX_STREAM_LINE + 100;
  char *body = malloc(n);
  ck_assert_ptr_nonnull(body);
  memcpy(body, "{\"stream\":\"", 11);
  memset(body + 11, 'x', n - 11);
  fake_answer_until_close("POST", "/load", body, n);
  free(body);
  kiln_engine *e = fake_open();
  collected c = {0};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(stream_call(e, "/load", &c, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "the engine sent a line longer than 1048576 bytes");
  ck_assert_uint_eq(c.lines, 0);
  kiln_engine_free(e);
}
END_TEST

/* The reader by itself: a line exactly at the cap is fine. */
START_TEST(stream_reader_accepts_a_line_at_the_cap) {
  kiln_json_stream s;
  collected c = {0};
  kiln_json_stream_init(&s, collect, &c);
  size_t n = KILN_MAX_STREAM_LINE;
  char *line = malloc(n + 1);
  ck_assert_ptr_nonnull(line);
  memset(line, ' ', n);
  memcpy(line, "{\"stream\":\"z\"}", 14);
  line[n] = '\n';
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_json_stream_feed(&s, line, 7, &err), 0); /* split mid-object */
  ck_assert_int_eq(kiln_json_stream_feed(&s, line + 7, n + 1 - 7, &err), 0);
  ck_assert_int_eq(kiln_json_stream_finish(&s, &err), 0);
  ck_assert_uint_eq(c.lines, 1);
  ck_assert_str_eq(c.streams, "z");
  free(line);
  kiln_json_stream_free(&s);
}
END_TEST

typedef struct {
  size_t left;
  size_t calls;
} producer;

static ssize_t produce(void *user, char *buf, size_t n) {
  producer *p = user;
  size_t k = n < 1000 ? n : 1000; /* many small pieces */
  if (k > p->left) k = p->left;
  memset(buf, 'a', k);
  p->left -= k;
  p->calls++;
  return (ssize_t)k;
}

START_TEST(streamed_body_is_sent_chunked_with_its_content_type) {
  fake_answer_engine("1.41");
  fake_answer("POST", "/images/load", 200, "{\"stream\":\"Loaded\"}\n");
  kiln_engine *e = fake_open();
  producer p = {.left = 300000};
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = "/images/load";
  req.content_type = "application/x-tar";
  req.read = produce;
  req.read_user = &p;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_engine_call(e, &req, &resp, &err), 0);
  kiln_engine_response_clear(&resp);
  const fake_request *s = fake_find_seen("POST", "/v1.41/images/load");
  ck_assert_ptr_nonnull(s);
  ck_assert(s->chunked);
  ck_assert_str_eq(s->content_type, "application/x-tar");
  ck_assert_uint_eq(s->body_bytes, 300000);
  ck_assert_uint_gt(p.calls, 100);
  kiln_engine_free(e);
}
END_TEST

/* ---- build ---- */

static kiln_spec spec;
static kiln_generated gen;

typedef struct {
  int steps, outputs, errors, results, up_to_date, warnings;
  char error_text[256];
  int error_step;
} events;

static void on_event(void *user, const kiln_build_event *ev) {
  events *x = user;
  switch (ev->kind) {
  case KILN_BUILD_STEP:
    x->steps++;
    break;
  case KILN_BUILD_OUTPUT:
    x->outputs++;
    break;
  case KILN_BUILD_UP_TO_DATE:
    x->up_to_date++;
    break;
  case KILN_BUILD_RESULT:
    x->results++;
    break;
  case KILN_BUILD_ERROR:
    x->errors++;
    x->error_step = ev->step;
    snprintf(x->error_text, sizeof x->error_text, "%s", ev->text);
    break;
  case KILN_BUILD_WARNING:
    x->warnings++;
    break;
  }
}

static char spec_path[] = "kiln.yaml", project[] = "p", base[] = "debian:bookworm-slim";
static char dockerfile[] = "FROM debian:bookworm-slim\nRUN false\n";
static char image_name[] = "kilntest-1000/p:latest";

static void build_setup(void) {
  fake_setup();
  memset(&spec, 0, sizeof spec);
  memset(&gen, 0, sizeof gen);
  static char project_dir[64];
  snprintf(project_dir, sizeof project_dir, "%s", fake_dir());
  spec.dir = project_dir;
  spec.path = spec_path;
  spec.project = project;
  spec.base_image = base;
  gen.dockerfile = dockerfile;
  gen.dockerfile_len = strlen(gen.dockerfile);
  snprintf(gen.spec_sha256, sizeof gen.spec_sha256, "%064d", 7);
  gen.image_name = image_name;
}

static const char base_json[] = "{\"Id\":\"sha256:base\"}";

static int build(kiln_engine *e, events *ev, bool force, kiln_build_result *res, kiln_error **err) {
  kiln_build_options opts = KILN_BUILD_OPTIONS_INIT;
  opts.owner_uid = 1000;
  opts.force = force;
  opts.on_event = on_event;
  opts.user = ev;
  return kiln_image_build(e, &spec, &gen, &opts, res, err);
}

static const char failing_stream[] =
    "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n{\"stream\":\" ---\\u003e 607d3c365506\\n\"}\r\n"
    "{\"stream\":\"Step 2/2 : RUN false\"}\r\n{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in 0123456789ab\\n\"}\r\n"
    "{\"stream\":\"Reading package\"}\r\n{\"stream\":\" lists...\\n\\nBuilding tree\\n\"}\r\n"
    "{\"stream\":\"\\u001b[91mE: Unable to locate package kiln-no-such-pkg\\n\\u001b[0m\"}\r\n"
    "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' returned a "
    "non-zero code: 1\"},\"error\":\"The command '/bin/sh -c false' returned a non-zero code: "
    "1\"}\r\n";

START_TEST(error_detail_in_a_200_build_stream_fails_the_build) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  fake_answer_until_close("POST", "/build", failing_stream, sizeof failing_stream - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "build step 2/2 (RUN false) failed: the command returned a non-zero code: 1");
  /* the step's last output, line by line, without the engine's colour codes */
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "last output of the step:\n  | Reading package lists...\n  | Building tree\n"
                  "  | E: Unable to locate package kiln-no-such-pkg");
  ck_assert_ptr_null(strchr(err->message, '\033'));
  ck_assert_int_eq(ev.steps, 2);
  ck_assert_int_eq(ev.errors, 1);
  ck_assert_int_eq(ev.error_step, 2);
  ck_assert_int_eq(ev.results, 0);
  ck_assert_ptr_null(res.image_id);

  const fake_request *s = fake_find_seen("POST", "/v1.41/build");
  ck_assert_ptr_nonnull(s);
  ck_assert_str_eq(s->content_type, "application/x-tar");
  ck_assert(s->chunked);
  ck_assert_uint_gt(s->body_bytes, 1024); /* at least the Dockerfile's tar blocks */
  ck_assert_ptr_nonnull(strstr(s->target, "t=kilntest-1000%2Fp%3Alatest"));
  ck_assert_ptr_nonnull(strstr(s->target, "rm=1&forcerm=1&nocache=0&pull=0"));
  ck_assert_ptr_nonnull(strstr(s->target, "kiln.context-sha256"));
  ck_assert_ptr_nonnull(strstr(s->target, "kiln.owner-uid%22%3A%221000%22"));
  ck_assert_ptr_nonnull(strstr(s->target, "kiln.base-image-id%22%3A%22sha256%3Abase%22"));
  kiln_engine_free(e);
}
END_TEST

START_TEST(build_succeeds_with_the_aux_image_id) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  const char ok[] = "{\"stream\":\"Step 1/1 : FROM debian:bookworm-slim\"}\r\n"
                    "{\"aux\":{\"ID\":\"sha256:new\"}}\r\n"
                    "{\"stream\":\"Successfully built 0123\\n\"}\r\n";
  fake_answer_until_close("POST", "/build", ok, sizeof ok - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(build(e, &ev, false, &res, &err) == 0, "%s", err ? err->message : "");
  ck_assert_str_eq(res.image_id, "sha256:new");
  ck_assert_str_eq(res.tag, "kilntest-1000/p:latest");
  ck_assert(!res.up_to_date);
  ck_assert_uint_gt(res.context_bytes, 0);
  ck_assert_int_eq(ev.results, 1);
  ck_assert_int_eq(ev.outputs, 0); /* "Successfully built" is the engine's, not the step's */
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

/* Podman's compat API streams buildah's own lines: "STEP n/m: ...",
 * "--> id", "COMMIT name". */
START_TEST(podman_step_lines_are_steps) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  const char ok[] = "{\"stream\":\"STEP 1/3: FROM debian:bookworm-slim\\n\"}\r\n"
                    "{\"stream\":\"STEP 2/3: RUN echo hello\\n\"}\r\n"
                    "{\"stream\":\"hello\\n\"}\r\n"
                    "{\"stream\":\"--\\u003e 5e6f7a8b9c0d\\n\"}\r\n"
                    "{\"stream\":\"STEP 3/3: LABEL a=b\\n\"}\r\n"
                    "{\"stream\":\"COMMIT kilntest-1000/p:latest\\n\"}\r\n"
                    "{\"stream\":\"--\\u003e 0123456789ab\\n\"}\r\n"
                    "{\"stream\":\"Successfully tagged localhost/kilntest-1000/p:latest\\n\"}\r\n"
                    "{\"stream\":\"5ec9d16326850e156ff8ec5f46ae501a662b7dabbbcfef1acb46a9cb1b662e1d"
                    "\\n\"}\r\n"
                    "{\"aux\":{\"ID\":\"sha256:new\"}}\r\n";
  fake_answer_until_close("POST", "/build", ok, sizeof ok - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(build(e, &ev, false, &res, &err) == 0, "%s", err ? err->message : "");
  ck_assert_str_eq(res.image_id, "sha256:new");
  ck_assert_int_eq(ev.steps, 3);
  ck_assert_int_eq(ev.outputs, 1); /* "hello" only; the rest is Podman's bookkeeping */
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

START_TEST(podman_failure_names_its_step) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  const char failing[] =
      "{\"stream\":\"STEP 1/2: FROM debian:bookworm-slim\\n\"}\r\n"
      "{\"stream\":\"STEP 2/2: RUN false\\n\"}\r\n"
      "{\"stream\":\"E: Unable to locate package kiln-no-such-pkg\\n\"}\r\n"
      "{\"errorDetail\":{\"message\":\"building at STEP \\\"RUN /bin/sh -c false\\\": while "
      "running runtime: exit status 1\\n\"},\"error\":\"building at STEP \\\"RUN /bin/sh -c "
      "false\\\": while running runtime: exit status 1\\n\"}\r\n";
  fake_answer_until_close("POST", "/build", failing, sizeof failing - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "build step 2/2 (RUN false) failed: the command returned a non-zero code: 1\n"
                  "last output of the step:\n");
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "last output of the step:\n  | E: Unable to locate package kiln-no-such-pkg");
  ck_assert_int_eq(ev.steps, 2);
  ck_assert_int_eq(ev.error_step, 2);
  kiln_engine_free(e);
}
END_TEST

START_TEST(build_without_an_image_id_is_not_a_success) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  const char cut[] = "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\r\n";
  fake_answer_until_close("POST", "/build", cut, sizeof cut - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "the engine ended the build of kilntest-1000/p:latest without an image id "
                  "(step 1/2)");
  kiln_engine_free(e);
}
END_TEST

/* The classic builder's answer when the layer a step took from the cache
 * was pruned (another user removed the last image built on it). */
static const char vanished_stream[] =
    "{\"stream\":\"Step 1/2 : FROM debian:bookworm-slim\"}\r\n"
    "{\"stream\":\"Step 2/2 : RUN false\"}\r\n"
    "{\"errorDetail\":{\"message\":\"unable to find image \\\"sha256:0020861b\\\"\"},"
    "\"error\":\"unable to find image \\\"sha256:0020861b\\\"\"}\r\n";

START_TEST(a_cached_layer_removed_under_the_build_is_built_again) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  fake_answer_until_close("POST", "/build", vanished_stream, sizeof vanished_stream - 1);
  fake_times(1);
  const char ok[] = "{\"aux\":{\"ID\":\"sha256:new\"}}\r\n";
  fake_answer_until_close("POST", "/build", ok, sizeof ok - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(build(e, &ev, false, &res, &err) == 0, "%s", err ? err->message : "");
  ck_assert_str_eq(res.image_id, "sha256:new");
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 2);
  ck_assert_int_eq(ev.warnings, 1);
  ck_assert_int_eq(ev.errors, 0);
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

START_TEST(a_cached_layer_removed_twice_fails_saying_to_run_again) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  fake_answer_until_close("POST", "/build", vanished_stream, sizeof vanished_stream - 1);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "cached layers were removed under the build twice");
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 2);
  ck_assert_int_eq(ev.warnings, 2);
  kiln_engine_free(e);
}
END_TEST

START_TEST(early_build_error_is_the_engines_message) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 404,
              "{\"message\":\"No such image\"}");
  fake_answer("POST", "/build", 400,
              "{\"message\":\"dockerfile parse error line 2: unknown instruction: FOOBAR\"}");
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "build: engine: dockerfile parse error line 2: unknown instruction: FOOBAR "
                  "(HTTP 400)");
  kiln_engine_free(e);
}
END_TEST

START_TEST(missing_base_image_is_not_pulled) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 404, "{\"message\":\"No such image\"}");
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "base image debian:bookworm-slim is not present locally, and kiln does not pull");
  kt_assert_error(err, KILN_EXIT_FAILURE, "kiln image import");
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 0);
  kiln_engine_free(e);
}
END_TEST

/* The labels the existing image must carry to count as current. */
static char *existing_image_json(const char *spec_sha) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_context *ctx = kiln_context_for_spec(&spec, &gen, &err);
  ck_assert_ptr_nonnull(ctx);
  char digest[65];
  ck_assert_int_eq(kiln_context_digest(ctx, digest, &err), 0);
  kiln_context_free(ctx);
  _cleanup_json_ json_t *img =
      json_pack("{s:s, s:{s:{s:s, s:s, s:s, s:s}}}", "Id", "sha256:old", "Config", "Labels",
                KILN_LABEL_SPEC_SHA256, spec_sha, KILN_LABEL_CONTEXT_SHA256, digest,
                KILN_LABEL_BASE_ID, "sha256:base", KILN_LABEL_OWNER_UID, "1000");
  return json_dumps(img, JSON_COMPACT);
}

START_TEST(unchanged_image_is_up_to_date_without_a_build) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  _cleanup_free_ char *img = existing_image_json(gen.spec_sha256);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 200, img);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), 0);
  ck_assert(res.up_to_date);
  ck_assert_str_eq(res.image_id, "sha256:old");
  ck_assert_int_eq(ev.up_to_date, 1);
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 0);
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

START_TEST(changed_spec_or_force_builds_and_drops_the_old_image) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  _cleanup_free_ char *img = existing_image_json(gen.spec_sha256);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 200, img);
  const char ok[] = "{\"aux\":{\"ID\":\"sha256:new\"}}\r\n";
  fake_answer_until_close("POST", "/build", ok, sizeof ok - 1);
  fake_answer("DELETE", "/images/sha256%3Aold", 200, "[{\"Deleted\":\"sha256:old\"}]");
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, true, &res, &err), 0); /* --force */
  ck_assert(!res.up_to_date);
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/sha256%3Aold"), 1);
  kiln_build_result_clear(&res);

  snprintf(gen.spec_sha256, sizeof gen.spec_sha256, "%064d", 8); /* the spec changed */
  ck_assert_int_eq(build(e, &ev, false, &res, &err), 0);
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 2);
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

/* ---- retire ---- */

/* A non-admin caller with uid 1000. Borrowed. */
static const kiln_caller *caller_1000(void) {
  static kiln_caller c;
  c.id.uid = 1000;
  c.id.gid = 1000;
  return &c;
}

START_TEST(retire_never_touches_someone_elses_image) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-2000%2Fp%3Alatest/json", 200,
              "{\"Id\":\"sha256:x\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"2000\"}}}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_retire(e, "kiln-2000/p:latest", caller_1000(), "kiln", true, &err),
                   -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "kiln-2000/p:latest is not yours (its owner label is not uid 1000)");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

static const char mine[] =
    "{\"Id\":\"sha256:x\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"1000\"}}}";

START_TEST(retire_refuses_while_containers_use_it) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fp%3Alatest/json", 200, mine);
  fake_answer("GET", "/containers/json", 200,
              "[{\"Id\":\"c1\",\"Names\":[\"/p-dev\"],\"Labels\":{\"kiln.owner-uid\":\"1000\"}}]");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_retire(e, "kiln-1000/p:latest", caller_1000(), "kiln", false, &err),
                   -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "kiln-1000/p:latest is used by 1 container(s): p-dev; remove them first or pass "
                  "--force");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  const fake_request *s = fake_find_seen("GET", "/containers/json");
  ck_assert_ptr_nonnull(strstr(s->target, "all=1"));
  ck_assert_ptr_nonnull(strstr(s->target, "ancestor"));
  kiln_engine_free(e);
}
END_TEST

START_TEST(retire_force_removes_own_containers_then_the_image) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fp%3Alatest/json", 200, mine);
  fake_answer("GET", "/containers/json", 200,
              "[{\"Id\":\"c1\",\"Names\":[\"/p-dev\"],\"Labels\":{\"kiln.owner-uid\":\"1000\"}}]");
  fake_answer("DELETE", "/containers/c1", 204, NULL);
  fake_answer("DELETE", "/images/kiln-1000%2Fp%3Alatest", 200, "[{\"Untagged\":\"x\"}]");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_image_retire(e, "kiln-1000/p:latest", caller_1000(), "kiln", true, &err) == 0,
                "%s", err ? err->message : "");
  ck_assert_ptr_nonnull(strstr(fake_find_seen("DELETE", "/containers/c1")->target, "force=1"));
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/kiln-1000%2Fp%3Alatest"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(retire_force_stops_at_someone_elses_container) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fp%3Alatest/json", 200, mine);
  fake_answer("GET", "/containers/json", 200,
              "[{\"Id\":\"c1\",\"Names\":[\"/mine\"],\"Labels\":{\"kiln.owner-uid\":\"1000\"}},"
              "{\"Id\":\"c2\",\"Names\":[\"/theirs\"],\"Labels\":{\"kiln.owner-uid\":\"2000\"}}]");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_retire(e, "kiln-1000/p:latest", caller_1000(), "kiln", true, &err),
                   -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "is used by container theirs, which is not yours (kiln.owner-uid=2000); not "
                  "removing anything");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

START_TEST(retire_of_a_missing_image_says_so) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fq%3Alatest/json", 404, "{\"message\":\"No such image\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_retire(e, "kiln-1000/q:latest", caller_1000(), "kiln", false, &err),
                   -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "there is no image kiln-1000/q:latest");
  ck_assert_int_eq(kiln_error_count(err), 1);
  kiln_engine_free(e);
}
END_TEST

/* ---- answers without an Id ---- */

/* A labeled image for uid 1000 whose inspect answer has no Id: refused
 * with the engine's fault, never strdup(NULL). */
START_TEST(deploy_of_an_image_answer_without_id_is_refused) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fp%3Alatest/json", 200,
              "{\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"1000\",\"kiln.user-setup\":\"true\","
              "\"kiln.uid\":\"1000\",\"kiln.gid\":\"1000\",\"kiln.user\":\"u\","
              "\"kiln.home\":\"/home/u\",\"kiln.workspace\":\"/workspace\"}}}");
  fake_answer("GET", "/containers/json", 200, "[]");
  fake_answer("POST", "/containers/create", 201, "{\"Id\":\"c1\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  kiln_config cfg;
  ck_assert_int_eq(kiln_config_defaults(&cfg, &err), 0);
  kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
  o.image = "kiln-1000/p:latest";
  o.name = "p";
  o.caller = caller_1000();
  o.config = &cfg;
  o.ns = "kiln";
  o.no_start = true;
  kiln_deploy_result res;
  ck_assert_int_eq(kiln_deploy(e, &o, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "no Id");
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/create"), 0);
  kiln_deploy_result_clear(&res);
  kiln_config_clear(&cfg);
  kiln_engine_free(e);
}
END_TEST

/* The caller's inspect answer stands in for deploy's own: one request
 * fewer, the same checks (the image is the caller's and labeled). */
START_TEST(deploy_uses_the_callers_inspect_answer) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/containers/json", 200, "[]");
  fake_answer("POST", "/containers/create", 201, "{\"Id\":\"c1\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  _cleanup_json_ json_t *img = json_loads(
      "{\"Id\":\"sha256:1\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"1000\","
      "\"kiln.user-setup\":\"true\",\"kiln.uid\":\"1000\",\"kiln.gid\":\"1000\","
      "\"kiln.user\":\"u\",\"kiln.home\":\"/home/u\",\"kiln.workspace\":\"/workspace\"}}}",
      0, NULL);
  ck_assert_ptr_nonnull(img);
  kiln_config cfg;
  ck_assert_int_eq(kiln_config_defaults(&cfg, &err), 0);
  kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
  o.image = "kiln-1000/p:latest";
  o.image_inspect = img;
  o.name = "p";
  o.caller = caller_1000();
  o.config = &cfg;
  o.ns = "kiln";
  o.no_start = true;
  kiln_deploy_result res;
  ck_assert_msg(kiln_deploy(e, &o, &res, &err) == 0, "%s", err ? err->message : "");
  ck_assert_uint_eq(fake_count_seen("GET", "/images/"), 0);
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/create"), 1);
  ck_assert_str_eq(res.image_id, "sha256:1");
  /* another user's image is refused all the same */
  kiln_deploy_result_clear(&res);
  json_object_set_new(json_object_get(json_object_get(img, "Config"), "Labels"), "kiln.owner-uid",
                      json_string("2000"));
  ck_assert_int_eq(kiln_deploy(e, &o, &res, &err), -1);
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/create"), 1);
  kiln_deploy_result_clear(&res);
  kiln_config_clear(&cfg);
  kiln_engine_free(e);
}
END_TEST

/* The tag exists with the current labels but no Id: not "up to date" with
 * a NULL id, and not a build on top of an answer kiln cannot use. */
START_TEST(build_with_an_existing_answer_without_id_is_refused) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/debian%3Abookworm-slim/json", 200, base_json);
  _cleanup_free_ char *img = existing_image_json(gen.spec_sha256);
  json_t *parsed = json_loads(img, 0, NULL);
  json_object_del(parsed, "Id");
  _cleanup_free_ char *no_id = json_dumps(parsed, JSON_COMPACT);
  json_decref(parsed);
  fake_answer("GET", "/images/kilntest-1000%2Fp%3Alatest/json", 200, no_id);
  kiln_engine *e = fake_open();
  events ev = {0};
  kiln_build_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(build(e, &ev, false, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "no Id");
  ck_assert_uint_eq(fake_count_seen("POST", "/build"), 0);
  kiln_build_result_clear(&res);
  kiln_engine_free(e);
}
END_TEST

static Suite *engine_suite(void) {
  Suite *s = suite_create("engine");
  TCase *conn = kt_tcase(s, "connect", fake_setup, fake_teardown);
  tcase_add_test(conn, negotiates_down_to_what_kiln_knows);
  tcase_add_test(conn, uses_an_older_engines_version);
  tcase_add_test(conn, a_newer_engine_is_asked_its_minimum);
  tcase_add_test(conn, deploy_uses_the_callers_inspect_answer);
  tcase_add_test(conn, a_ping_without_the_header_falls_back_to_version);
  tcase_add_test(conn, docker_host_is_honoured_and_api_version_pinned);
  tcase_add_test(conn, missing_socket_names_it_and_how_to_start_the_engine);
  tcase_add_test(conn, a_file_that_is_not_a_socket_says_so);
  tcase_add_test(conn, a_socket_nobody_listens_on_is_refused);
  tcase_add_test(conn, unknown_host_scheme_is_a_usage_error);
  tcase_add_test(conn, a_refused_socket_option_stops_the_request);

  TCase *ans = kt_tcase(s, "answers", fake_setup, fake_teardown);
  tcase_add_test(ans, error_status_carries_the_engines_message);
  tcase_add_test(ans, error_status_with_plain_text_keeps_the_text);
  tcase_add_test(ans, null_answer_is_a_json_null);
  tcase_add_test(ans, json_lines_split_and_coalesced);
  tcase_add_test(ans, stream_cut_inside_an_object_is_an_error);
  tcase_add_test(ans, stream_shorter_than_announced_is_an_error);
  tcase_add_test(ans, malformed_line_is_quoted);
  tcase_add_test(ans, over_long_line_is_refused);
  tcase_add_test(ans, stream_reader_accepts_a_line_at_the_cap);
  tcase_add_test(ans, streamed_body_is_sent_chunked_with_its_content_type);

  TCase *b = kt_tcase(s, "build", build_setup, fake_teardown);
  tcase_add_test(b, error_detail_in_a_200_build_stream_fails_the_build);
  tcase_add_test(b, build_succeeds_with_the_aux_image_id);
  tcase_add_test(b, podman_step_lines_are_steps);
  tcase_add_test(b, podman_failure_names_its_step);
  tcase_add_test(b, build_without_an_image_id_is_not_a_success);
  tcase_add_test(b, early_build_error_is_the_engines_message);
  tcase_add_test(b, missing_base_image_is_not_pulled);
  tcase_add_test(b, unchanged_image_is_up_to_date_without_a_build);
  tcase_add_test(b, changed_spec_or_force_builds_and_drops_the_old_image);
  tcase_add_test(b, a_cached_layer_removed_under_the_build_is_built_again);
  tcase_add_test(b, a_cached_layer_removed_twice_fails_saying_to_run_again);
  tcase_add_test(b, build_with_an_existing_answer_without_id_is_refused);

  TCase *r = kt_tcase(s, "retire", fake_setup, fake_teardown);
  tcase_add_test(r, retire_never_touches_someone_elses_image);
  tcase_add_test(r, deploy_of_an_image_answer_without_id_is_refused);
  tcase_add_test(r, retire_refuses_while_containers_use_it);
  tcase_add_test(r, retire_force_removes_own_containers_then_the_image);
  tcase_add_test(r, retire_force_stops_at_someone_elses_container);
  tcase_add_test(r, retire_of_a_missing_image_says_so);
  return s;
}

int main(void) {
  return kt_run_suite(engine_suite());
}
