#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/error.h"
#include "util/cleanup.h"
#include "util/error_private.h"

void *(*kiln_error_alloc)(size_t size) = malloc;

/* The error recorded when recording one needs memory that is not there:
 * static, so a set never leaves *err NULL; always the last of its chain
 * (append keeps it there, so its `next` is never written), never changed by
 * prefix and never freed. */
static char oom_message[] = "out of memory";
static kiln_error oom_error = {KILN_EXIT_FAILURE, oom_message, NULL};

__attribute__((format(printf, 1, 0))) static char *vformat(const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  int n = vsnprintf(NULL, 0, fmt, ap);
  char *s = n < 0 ? NULL : kiln_error_alloc((size_t)n + 1);
  if (s) vsnprintf(s, (size_t)n + 1, fmt, again);
  va_end(again);
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

/* The link holding the end of the chain: NULL, or the out-of-memory error,
 * which stays last. */
static kiln_error **chain_end(kiln_error **err) {
  while (*err && *err != &oom_error)
    err = &(*err)->next;
  return err;
}

/* Appends the chain e to *err. After an out-of-memory error nothing more is
 * recorded (e is freed): it stays the last word, and its `next` is never
 * written. */
static void append(kiln_error **err, kiln_error *e) {
  err = chain_end(err);
  if (*err)
    kiln_error_free(e);
  else
    *err = e;
}

int kiln_error_setv(kiln_error **err, int code, const char *fmt, va_list ap) {
  if (!err) return -1;
  kiln_error *e = kiln_error_alloc(sizeof *e);
  char *message = e ? vformat(fmt, ap) : NULL;
  if (!message) {
    free(e);
    append(err, &oom_error);
    return -1;
  }
  *e = (kiln_error){.code = code, .message = message, .next = NULL};
  append(err, e);
  return -1;
}

int kiln_error_oom(kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
}

int kiln_error_keep(kiln_error **err, kiln_error *other) {
  if (!other) return err && *err ? -1 : 0;
  if (!err) {
    kiln_error_free(other);
    return -1;
  }
  append(err, other);
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
  for (kiln_error *e = *err; e && e != &oom_error; e = e->next) {
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
  while (err && err != &oom_error) {
    kiln_error *next = err->next;
    free(err->message);
    free(err);
    err = next;
  }
}
