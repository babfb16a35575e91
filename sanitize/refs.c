/* Image references and tags (Docker's distribution/reference grammar). */
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
