#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/error.h"
#include "util/cleanup.h"

__attribute__((format(printf, 1, 0))) static char *vformat(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) return NULL;
  return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = vformat(fmt, ap);
  va_end(ap);
  return s;
}

static void append(kiln_error **err, kiln_error *e) {
  while (*err)
    err = &(*err)->next;
  *err = e;
}

int kiln_error_setv(kiln_error **err, int code, const char *fmt, va_list ap) {
  if (!err) return -1;
  kiln_error *e = calloc(1, sizeof *e);
  if (!e) return -1;
  e->code = code;
  e->message = vformat(fmt, ap);
  if (!e->message) e->message = strdup("out of memory");
  append(err, e);
  return -1;
}

int kiln_error_set(kiln_error **err, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kiln_error_setv(err, code, fmt, ap);
  va_end(ap);
  return -1;
}

int kiln_error_errno(kiln_error **err, int errnum, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  _cleanup_free_ char *msg = vformat(fmt, ap);
  va_end(ap);
  return kiln_error_set(err, KILN_EXIT_FAILURE, "%s: %s", msg ? msg : "error", strerror(errnum));
}

int kiln_error_prefix(kiln_error **err, const char *fmt, ...) {
  if (!err || !*err) return -1;
  va_list ap;
  va_start(ap, fmt);
  _cleanup_free_ char *ctx = vformat(fmt, ap);
  va_end(ap);
  if (!ctx) return -1;
  for (kiln_error *e = *err; e; e = e->next) {
    char *m = format("%s: %s", ctx, e->message);
    if (!m) continue;
    free(e->message);
    e->message = m;
  }
  return -1;
}

static const char *signal_name(int sig) {
  static const struct {
    int sig;
    const char *name;
  } names[] = {{SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"}, {SIGQUIT, "SIGQUIT"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].sig == sig) return names[i].name;
  return NULL;
}

int kiln_error_interrupted(kiln_error **err, int sig, const char *what) {
  const char *name = signal_name(sig);
  char number[24];
  snprintf(number, sizeof number, "signal %d", sig);
  int code = sig > 0 && sig < 64 ? KILN_EXIT_SIGNAL + sig : KILN_EXIT_FAILURE;
  return kiln_error_set(err, code, "interrupted by %s%s%s", name ? name : number, what ? "; " : "",
                        what ? what : "");
}

int kiln_error_count(const kiln_error *err) {
  int n = 0;
  for (; err; err = err->next)
    n++;
  return n;
}

void kiln_error_free(kiln_error *err) {
  while (err) {
    kiln_error *next = err->next;
    free(err->message);
    free(err);
    err = next;
  }
}
