#include "kiln/kiln.h"

const char *kiln_version(void) {
  return KILN_VERSION;
}
