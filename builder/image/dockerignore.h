/* .dockerignore with Docker's semantics (docker/cli ReadAll + moby
 * patternmatcher + the go-archive walk). Internal to builder/.
 *
 * Reading: a UTF-8 BOM is dropped; a line whose first byte is '#' is a
 * comment; lines are trimmed, blank ones skipped; a leading '!' (spaces may
 * follow) makes an exception; each pattern is cleaned like Go's
 * filepath.Clean and one leading '/' is stripped.
 *
 * Matching is on the whole '/'-separated path relative to the context root:
 * '*' and '?' never match '/', "[...]" and '\' escapes follow filepath.Match,
 * "**" matches any number of folders (even none). A path is excluded when the
 * last pattern matching it, or one of its parent folders, is not an
 * exception. */
#ifndef KILN_DOCKERIGNORE_H
#define KILN_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/error.h"

typedef struct kiln_ignore kiln_ignore;

/* Parses .dockerignore text. Returns a new matcher (free with
 * kiln_ignore_free) or NULL with *err set: more than
 * KILN_MAX_DOCKERIGNORE_PATTERNS patterns, a line longer than KILN_MAX_PATH,
 * a pattern filepath.Match rejects ("[a", "a\"), or a lone "!". The messages
 * name the line. */
kiln_ignore *kiln_ignore_parse(const char *text, size_t len, kiln_error **err);
void kiln_ignore_free(kiln_ignore *ig);

/* True when path (relative, '/'-separated, no leading "./") is excluded
 * (patternmatcher's MatchesOrParentMatches). NULL ig excludes nothing. Uses
 * scratch space inside ig: not for concurrent calls. */
bool kiln_ignore_match(kiln_ignore *ig, const char *path);

/* Patterns in ig (0 for NULL): the size of the arrays below. */
size_t kiln_ignore_count(const kiln_ignore *ig);

/* The go-archive walk's test (patternmatcher.MatchesUsingParentResults):
 * whether path is excluded, given `parent`, what this call stored in `out`
 * for the folder holding path (NULL for the first level below a path the
 * Dockerfile names: then parents are matched as kiln_ignore_match does).
 * out (kiln_ignore_count entries, may be NULL) receives path's own results
 * for its children. Differs from kiln_ignore_match: a pattern that could
 * not change the outcome at the parent is not carried down. */
bool kiln_ignore_match_below(kiln_ignore *ig, const char *path, const bool *parent, bool *out);

/* For an excluded folder: true when it must still be walked because some
 * exception pattern, as literal text, lies under it ("!dir/keep.txt").
 * Docker prunes the folder otherwise, so an exception that does not start
 * with the folder's path (one starting with "**", say) rescues nothing in it. */
bool kiln_ignore_walk_excluded_dir(const kiln_ignore *ig, const char *dir);

#endif
