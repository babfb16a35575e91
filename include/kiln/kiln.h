/* libkiln: the public API. See README.md for the pipeline. */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include "kiln/error.h"
#include "kiln/spec.h"
#include "kiln/generate.h"
#include "kiln/labels.h"

/* The version baked into labels and `kiln version`. */
const char *kiln_version(void);

#endif
