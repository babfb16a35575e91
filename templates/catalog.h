/* Internal accessors of the catalog (templates/catalog.json) that the
 * generator needs beyond the public lookups in kiln/generate.h. */
#ifndef KILN_TEMPLATES_CATALOG_H
#define KILN_TEMPLATES_CATALOG_H

#include <jansson.h>

#include "kiln/generate.h"

/* The packages of a group for one installer, kind "apt" or "pip": a borrowed
 * JSON array of strings (valid while cat lives; possibly empty), or NULL when
 * the group is unknown. Every entry passed the sanitize/ package rule at load. */
const json_t *kiln_catalog_group_packages(const kiln_catalog *cat, const char *group,
                                          const char *kind);

#endif
