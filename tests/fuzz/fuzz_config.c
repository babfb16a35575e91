/* libFuzzer target for the site configuration parser (/etc/kiln/config.yaml):
 * arbitrary text must give a configuration or an error saying why, never a
 * crash, a leak or a value past its caps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/config.h"
#include "sanitize/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > KILN_CONFIG_MAX_BYTES) return 0;
  kiln_config cfg;
  kiln_error *err = NULL;
  if (kiln_config_parse(&cfg, "fuzz.yaml", (const char *)data, size, &err) == 0) {
    if (err || !cfg.ns || !cfg.shared_dir || cfg.shared_dir[0] != '/') abort();
    for (size_t i = 0; i < cfg.runtimes.n; i++)
      if (!cfg.runtimes.v[i] || strchr(cfg.runtimes.v[i], '/')) abort();
    kiln_config_clear(&cfg);
  } else if (!err) {
    abort(); /* failure must say why */
  }
  kiln_error_free(err);
  return 0;
}
