/* The progress throttle export and import share: a call at most every
 * PROGRESS_INTERVAL seconds, and one at the end. */
#include <time.h>

#include "builder/dist/dist_private.h"

#define PROGRESS_INTERVAL 0.25 /* seconds between progress calls */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kiln_dist_progress_start(kiln_dist_progress *p, kiln_progress_fn fn, void *user) {
  *p = (kiln_dist_progress){fn, user, now_seconds(), 0, 0};
}

void kiln_dist_progress_add(kiln_dist_progress *p, size_t n) {
  p->bytes += n;
  double t = now_seconds();
  if (p->fn && t - p->last >= PROGRESS_INTERVAL) {
    p->last = t;
    p->fn(p->user, p->bytes, t - p->start, false);
  }
}

void kiln_dist_progress_done(kiln_dist_progress *p) {
  if (p->fn) p->fn(p->user, p->bytes, now_seconds() - p->start, true);
}
