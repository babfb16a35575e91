/* kiln's one error type.
 *
 * Functions that can fail take `kiln_error **err` as their last argument and
 * return <0 (or NULL) on failure after setting *err. Each layer may add context
 * on the way up with kiln_error_prefix(); only cli/ prints an error.
 *
 * A spec check can report several problems at once: kiln_error_append() chains
 * them through `next` so `kiln validate` prints every one. */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#include <stdarg.h>

/* Exit codes, documented in the README; kept for every command. */
enum kiln_exit {
  KILN_EXIT_OK = 0,
  KILN_EXIT_FAILURE = 1,  /* the operation failed (build step, I/O, ...) */
  KILN_EXIT_USAGE = 2,    /* bad command line or bad spec */
  KILN_EXIT_ENGINE = 3,   /* engine unreachable or the engine refused */
  KILN_EXIT_SIGNAL = 128, /* + the signal: interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP) */
};

typedef struct kiln_error {
  int code;                /* one of enum kiln_exit */
  char *message;           /* owned; "context: context: cause" */
  struct kiln_error *next; /* owned; further errors of the same report */
} kiln_error;

/* Sets *err to a new error (or appends when *err is already set) and
 * returns -1, so callers can write `return kiln_error_set(err, ...);`.
 * err may be NULL, in which case nothing is recorded. Never fails to
 * record: without memory, the error is a static "out of memory" one (which
 * kiln_error_free and kiln_error_prefix leave alone), so *err is never NULL
 * after a set. */
int kiln_error_set(kiln_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kiln_error_setv(kiln_error **err, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like kiln_error_set, adding strerror(errnum) after the message. */
int kiln_error_errno(kiln_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one out-of-memory error: kiln_error_set(err, KILN_EXIT_FAILURE,
 * "out of memory"). Returns -1. */
int kiln_error_oom(kiln_error **err);

/* Hands over `other` (a whole chain, owned; NULL is fine): it becomes *err
 * when none is set, else it is appended after the errors already there, so
 * the first error stays first (its code is the exit code) and the second is
 * kept as context instead of being dropped. err NULL frees other. Returns
 * -1 when an error is set afterwards, else 0. */
int kiln_error_keep(kiln_error **err, kiln_error *other);

/* Prefixes every error in the chain with "<context>: " and returns -1.
 * Does nothing when *err is NULL. */
int kiln_error_prefix(kiln_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one rule for an interruption: code KILN_EXIT_SIGNAL + sig, message
 * "interrupted by SIGINT" (or the signal's name), then "; " and what was
 * undone when what is not NULL. Returns -1. */
int kiln_error_interrupted(kiln_error **err, int sig, const char *what);

/* Number of errors in the chain (0 for NULL). */
int kiln_error_count(const kiln_error *err);

/* Frees the whole chain; NULL is fine. */
void kiln_error_free(kiln_error *err);

#endif
