/* Image references and tags (Docker's distribution/reference grammar). */
#include <string.h>

#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

/* Docker's tag length limit. */
enum { MAX_TAG = 128 };

int kiln_check_image_ref(const char *ref, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_IMAGE_REF, ref, KILN_MAX_IMAGE_REF, "image reference",
                            "[registry[:port]/]name[:tag][@algorithm:hex] with a lowercase "
                            "name, e.g. debian:bookworm-slim",
                            err);
}

int kiln_check_tag(const char *tag, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_TAG, tag, MAX_TAG, "tag",
                            "up to 128 of A-Z, a-z, 0-9, '_', '.' and '-', not starting with "
                            "'.' or '-'",
                            err);
}

const char *kiln_familiar_ref(const char *ref) {
  static const char *const hub[] = {"docker.io/library/", "docker.io/"};
  for (size_t i = 0; i < sizeof hub / sizeof *hub; i++) {
    size_t n = strlen(hub[i]);
    if (strncmp(ref, hub[i], n)) continue;
    /* "docker.io/localhost:5000/x" must keep its prefix: the rest would
     * read as another registry. */
    const char *rest = ref + n;
    size_t first = strcspn(rest, "/");
    bool host = rest[first] == '/' && (memchr(rest, '.', first) || memchr(rest, ':', first) ||
                                       (first == 9 && !strncmp(rest, "localhost", 9)));
    return host ? ref : rest;
  }
  return ref;
}
