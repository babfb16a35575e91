/* A small mustache-like renderer over a jansson model, for Dockerfile
 * templates. Internal to libkiln.
 *
 * Syntax:
 *   {{json:a.b}}  the value as a JSON string literal ("..."), for exec-form
 *                 arrays (RUN, COPY, CMD), which Docker parses as JSON
 *   {{dq:a.b}}    the value as a Dockerfile double-quoted word ("..." with
 *                 \ " $ escaped), for ENV, LABEL and WORKDIR, where the
 *                 builder expands variables; control characters are refused
 *   {{sh:a.b}}    the value POSIX single-quoted (kiln_shell_quote)
 *   {{raw:a.b}}   the value as is; only for values the generator made itself
 *   {{#x}}..{{/x}} section: arrays repeat the body per element ({{.}} is the
 *                 element); any other value but false, null, "" and [] renders
 *                 the body once with x on top of the context stack; a name
 *                 that is not in the model counts as false
 *   {{^x}}..{{/x}} inverted section: renders when {{#x}} would not
 *   {{>name}}     partial: templates_dir/name.tmpl
 *   {{! text }}   comment
 * A variable without a filter is an error, so no value reaches a Dockerfile
 * unescaped by accident; so is a variable that is missing or not a scalar. Names are looked up
 * through the context stack, innermost first; "a.b" walks objects. A tag that is alone on its line
 * (sections, partials, comments) takes the line's newline with it.
 *
 * Caps: template size KILN_MAX_TEMPLATE_BYTES, nesting of sections and
 * partials KILN_MAX_TEMPLATE_DEPTH, output KILN_MAX_DOCKERFILE_BYTES. Errors
 * name "file:line: ...". */
#ifndef KILN_TEMPLATES_RENDER_H
#define KILN_TEMPLATES_RENDER_H

#include <stddef.h>

#include <jansson.h>

#include "kiln/error.h"

/* Reads path completely, refusing files larger than max bytes. Returns a new
 * NUL-terminated buffer (caller frees) with its length in *len (may be NULL),
 * or NULL with *err set (KILN_EXIT_FAILURE). */
char *kiln_read_file_bounded(const char *path, size_t max, size_t *len, kiln_error **err);

/* Renders templates_dir/name.tmpl with model (borrowed). Returns the output
 * (caller frees) with its length in *len (may be NULL), or NULL with *err. */
char *kiln_render_file(const char *templates_dir, const char *name, const json_t *model,
                       size_t *len, kiln_error **err);

/* Renders the template text (len bytes, `name` used in messages) with model;
 * partials are loaded from templates_dir (NULL: partials are refused). */
char *kiln_render_string(const char *templates_dir, const char *name, const char *text,
                         size_t text_len, const json_t *model, size_t *len, kiln_error **err);

#endif
