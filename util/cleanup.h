/* Scoped cleanup, in the manner of crun and bubblewrap.
 *
 *   _cleanup_free_ char *s = strdup("x");
 *   return steal_pointer(&s);   // hand ownership out; cleanup sees NULL
 *
 * Every owner type gets its macro here, and nowhere else. */
#ifndef KILN_CLEANUP_H
#define KILN_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kiln/error.h"

static inline void *steal_pointer_impl(void *pp) {
  void **p = pp;
  void *v = *p;
  *p = NULL;
  return v;
}
#define steal_pointer(pp) ((__typeof__(*(pp)))steal_pointer_impl(pp))

static inline int steal_fd(int *fd) {
  int v = *fd;
  *fd = -1;
  return v;
}

static inline void cleanup_freep(void *p) {
  free(*(void **)p);
}
static inline void cleanup_fclosep(FILE **f) {
  if (*f) fclose(*f);
}
static inline void cleanup_closep(int *fd) {
  if (*fd >= 0) close(*fd);
}
static inline void cleanup_errorp(kiln_error **e) {
  kiln_error_free(*e);
}

#define _cleanup_(f)     __attribute__((cleanup(f)))
#define _cleanup_free_   _cleanup_(cleanup_freep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)
#define _cleanup_close_  _cleanup_(cleanup_closep)
#define _cleanup_error_  _cleanup_(cleanup_errorp)

/* Types from the dependencies, declared where each is used so that a module
 * does not pull every library's headers:
 *   json_t        → _cleanup_json_   (util/json_cleanup.h)
 *   yaml_parser_t → local to generator/
 *   CURL          → local to builder/
 * Keep new macros here when more than one module needs them. */

#endif
