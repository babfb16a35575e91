/* libFuzzer target for kiln.yaml: arbitrary bytes through kiln_spec_parse
 * with a fixed identity and the real catalog. Must never crash, leak or
 * pass its caps; a failure must say why, with a location, and a success
 * must hold every field the generator relies on. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/generate.h"
#include "kiln/spec.h"
#include "sanitize/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/kiln-fuzz-spec-XXXXXX";

static void remove_project_dir(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return;
}

/* A project folder with a file, a folder and a symlink out, made once and
 * removed at exit. */
static const char *project_dir(void) {
  if (!mkdtemp(dir)) abort();
  atexit(remove_project_dir);
  char cmd[256];
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/data && echo x >%s/requirements.txt && ln -s /etc/passwd %s/escape", dir,
           dir, dir);
  if (system(cmd) != 0) abort();
  return dir;
}

static void check_success(const kiln_spec *s) {
  if (!s->project || !s->base_image || !s->user.name || !s->user.shell || !s->workspace) abort();
  if (s->version != 1 || s->ssh.port == 0) abort();
  if (s->user.uid == 0 && !s->user.allow_root) abort();
  for (size_t i = 0; i < s->n_files; i++)
    if (!s->files[i].src || !s->files[i].dest) abort();
}

static void check_failure(const kiln_error *err) {
  if (!err) abort(); /* failure must say why */
  int n = 0;
  for (const kiln_error *e = err; e; e = e->next, n++)
    if (strncmp(e->message, "fuzz.yaml:", 10) || e->code != KILN_EXIT_USAGE) abort();
  if (n > KILN_MAX_ERRORS + 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kiln_catalog *catalog;
  static const char *project;
  static char name[] = "Fuzz.User", shell[] = "/bin/bash";
  static kiln_identity identity = {name, 4242, 4242, shell};
  if (!catalog) {
    kiln_error *err = NULL;
    catalog = kiln_catalog_load(KILN_SOURCE_TEMPLATES_DIR, &err);
    if (!catalog) abort();
    project = project_dir();
  }
  kiln_spec_options opts = KILN_SPEC_OPTIONS_INIT;
  opts.identity = &identity;
  opts.catalog = catalog;
  opts.name_policy = size > 0 && data[0] == '#';
  kiln_error *err = NULL;
  kiln_spec *spec = kiln_spec_parse("fuzz.yaml", project, (const char *)data, size, &opts, &err);
  if (spec) {
    if (err) abort();
    check_success(spec);
  } else {
    check_failure(err);
  }
  kiln_spec_free(spec);
  kiln_error_free(err);
  return 0;
}
