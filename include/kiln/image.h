/* Images: build a spec through POST /build, list and retire them.
 *
 * Every function takes an open engine (kiln/engine.h, borrowed) and reports
 * failures through *err: KILN_EXIT_FAILURE for a failed build step or a
 * refusal, KILN_EXIT_ENGINE when the engine is unreachable or errs. */
#ifndef KILN_IMAGE_H
#define KILN_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "kiln/access.h"
#include "kiln/context.h"
#include "kiln/engine.h"
#include "kiln/generate.h"
#include "kiln/spec.h"

/* Progress of kiln_image_build, in stream order. */
typedef enum {
  KILN_BUILD_STEP,       /* a new Dockerfile step: step, steps, text = instruction */
  KILN_BUILD_OUTPUT,     /* output of the step: text as the engine sent it (ANSI
                            colour on stderr lines, usually ends in "\n") */
  KILN_BUILD_UP_TO_DATE, /* nothing changed, no build was made: text = tag, image_id */
  KILN_BUILD_RESULT,     /* the image was built: text = tag, image_id */
  KILN_BUILD_ERROR,      /* the step failed: step, steps, text = the engine's message */
  KILN_BUILD_WARNING,    /* before the build: text = a context warning (kiln_context_warning) */
} kiln_build_event_kind;

typedef struct {
  kiln_build_event_kind kind;
  int step, steps;
  const char *text;     /* borrowed */
  const char *image_id; /* borrowed */
} kiln_build_event;

/* Called synchronously from kiln_image_build; ev and its strings are
 * borrowed for the call. */
typedef void (*kiln_build_event_fn)(void *user, const kiln_build_event *ev);

typedef struct {
  const char *tag;    /* borrowed; NULL: the generated image name */
  bool nocache;       /* build without the layer cache (also forces a build) */
  bool pull;          /* let the engine pull the base (needs a registry) */
  bool force;         /* build even when nothing changed */
  uint32_t owner_uid; /* the kiln.owner-uid label: the spec's user */
  kiln_build_event_fn on_event;
  void *user;
  const kiln_caller *caller; /* borrowed; when set, the base must be readable by it */
  const char *ns;            /* the namespace, for that check */
} kiln_build_options;

#define KILN_BUILD_OPTIONS_INIT                                                                    \
  {                                                                                                \
    .tag = NULL, .nocache = false, .pull = false, .force = false, .owner_uid = 0,                  \
    .on_event = NULL, .user = NULL, .caller = NULL, .ns = NULL                                     \
  }

typedef struct {
  char *image_id; /* owned */
  char *tag;      /* owned */
  bool up_to_date;
  uint64_t context_bytes; /* bytes of tar sent (0 when up to date) */
} kiln_build_result;

/* The context for spec: the generated Dockerfile plus the requirements
 * file, the pip_find_links folder, every files[].src and ssh.authorized_keys. New; free with
 * kiln_context_free. */
kiln_context *kiln_context_for_spec(const kiln_spec *spec, const kiln_generated *gen,
                                    kiln_error **err);

/* Builds (or finds up to date) the image for spec. Nothing changed means
 * the existing tag carries the same kiln.spec-sha256, kiln.context-sha256 and
 * kiln.base-image-id labels; then no /build call is made. A build whose stream
 * reports an error fails with the step number, its instruction and the last
 * lines of output (code KILN_EXIT_FAILURE); the tag is not moved then.
 * Fills *result (free with kiln_build_result_clear). */
int kiln_image_build(kiln_engine *engine, const kiln_spec *spec, const kiln_generated *gen,
                     const kiln_build_options *opts, kiln_build_result *result, kiln_error **err);
void kiln_build_result_clear(kiln_build_result *result);

/* Images labelled with kiln.owner-uid=uid (every image carrying a
 * kiln.owner-uid label when all). Returns the engine's /images/json array
 * (new reference; caller json_decref's it) or NULL with *err set. */
json_t *kiln_image_list(kiln_engine *engine, uint32_t uid, bool all, kiln_error **err);

/* Removes the image `ref` (borrowed) of caller. Refuses (code 1) when it is
 * not the caller's (kiln_access_owns), when any of its tags lies outside
 * what the caller may remove (kiln_access_tag with ns), and while
 * containers (any state) were created from it. With force, the containers
 * are removed first (DELETE ?force=1, so running ones are stopped) when
 * every one is the caller's; a container of someone else still refuses and
 * nothing is removed. The image itself is never removed with force=1. */
int kiln_image_retire(kiln_engine *engine, const char *ref, const kiln_caller *caller,
                      const char *ns, bool force, kiln_error **err);

#endif
