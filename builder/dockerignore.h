/* .dockerignore with Docker's semantics (moby patternmatcher): patterns are
 * cleaned paths relative to the context root, `*` `?` `[...]` `\` as in Go's
 * filepath.Match, `**` for any number of folders, `!` for exceptions, the
 * last matching pattern wins, and a pattern that matches a folder matches
 * everything under it. Internal to builder/. */
#ifndef KILN_DOCKERIGNORE_H
#define KILN_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/error.h"

typedef struct kiln_ignore kiln_ignore;

/* Parses .dockerignore text. Returns a new matcher (free with
 * kiln_ignore_free) or NULL with *err set (too many patterns, bad pattern). */
kiln_ignore *kiln_ignore_parse(const char *text, size_t len, kiln_error **err);
void kiln_ignore_free(kiln_ignore *ig);

/* True when path (relative, '/'-separated, no leading "./") is excluded. */
bool kiln_ignore_match(const kiln_ignore *ig, const char *path);

/* True when some exception (!pattern) exists, so an excluded folder must
 * still be walked for files the exception brings back. */
bool kiln_ignore_has_exceptions(const kiln_ignore *ig);

#endif
