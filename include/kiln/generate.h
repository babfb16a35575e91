/* Spec → model → Dockerfile, and the templates and catalog behind it. */
#ifndef KILN_GENERATE_H
#define KILN_GENERATE_H

#include <stddef.h>

#include <jansson.h>

#include "kiln/error.h"
#include "kiln/spec.h"

/* Finds the templates folder: $KILN_TEMPLATES_DIR, then <exe dir>/../share/kiln
 * (installed), then the source tree's templates/ recorded at configure time
 * (run from the build tree). Returns a new string or NULL with *err set. */
char *kiln_templates_dir(kiln_error **err);

/* Loads templates_dir/catalog.json. Free with kiln_catalog_free. */
kiln_catalog *kiln_catalog_load(const char *templates_dir, kiln_error **err);
void kiln_catalog_free(kiln_catalog *cat);

/* Base image for framework+version, or NULL when unknown (borrowed). */
const char *kiln_catalog_framework_image(const kiln_catalog *cat, const char *framework,
                                         const char *version);
/* A comma-separated list, for "expected one of ..." messages: the versions
 * of framework when the catalog has it, else the framework names; or the
 * groups. Returns a new string. */
char *kiln_catalog_describe_frameworks(const kiln_catalog *cat, const char *framework);
char *kiln_catalog_describe_groups(const kiln_catalog *cat);
/* True when the framework exists (any version). */
int kiln_catalog_has_framework(const kiln_catalog *cat, const char *framework);
/* True when the package group exists. */
int kiln_catalog_has_group(const kiln_catalog *cat, const char *group);
/* Which Python the framework's image runs: "debian" (apt's python3-*
 * install into it; also for NULL or unknown frameworks, i.e. base.image),
 * "conda" or "local". Static or borrowed string. */
const char *kiln_catalog_framework_python(const kiln_catalog *cat, const char *framework);
/* How package groups install on that framework's image, or on a base whose
 * Python the spec names (python: base.python, may be NULL): "apt" (Debian
 * Python) or "pip" (into the image's own python3). The one rule the
 * generator and `kiln catalog` share. Static string. */
const char *kiln_catalog_group_installer(const kiln_catalog *cat, const char *framework,
                                         const char *python);
/* base.python: "debian", "conda" or "local" (code KILN_EXIT_USAGE otherwise). */
int kiln_catalog_check_python(const char *python, kiln_error **err);
/* The catalog for people and --json (kiln catalog): new arrays, sorted by
 * name, or NULL when out of memory.
 *   frameworks: [{"name", "description", "python", "installer",
 *                 "versions": [{"version", "image"}]}]
 *   groups:     [{"name", "description", "apt": [...], "pip": [...]}] */
json_t *kiln_catalog_frameworks(const kiln_catalog *cat);
json_t *kiln_catalog_groups(const kiln_catalog *cat);

/* The result of generation. All strings owned by the struct. */
typedef struct {
  char *dockerfile; /* the rendered Dockerfile text */
  size_t dockerfile_len;
  char spec_sha256[65]; /* hex sha256 of the canonical model (labels excluded) */
  char *image_name;     /* <ns>-<uid>/<project>:latest */
} kiln_generated;

typedef struct {
  const char *templates_dir;   /* borrowed; required */
  const kiln_catalog *catalog; /* borrowed; required */
  const char *ns;              /* image namespace; NULL = "kiln" */
} kiln_generate_options;

#define KILN_GENERATE_OPTIONS_INIT                                                                 \
  { NULL, NULL, NULL }

/* Renders the Dockerfile for spec. Deterministic: same spec and templates →
 * same bytes. Returns 0 and fills *out (free with kiln_generated_clear), or
 * -1 with *err set. */
int kiln_generate(const kiln_spec *spec, const kiln_generate_options *opts, kiln_generated *out,
                  kiln_error **err);
void kiln_generated_clear(kiln_generated *out);

#endif
