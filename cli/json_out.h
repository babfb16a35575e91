/* The one JSON contract of kiln's --json output (docs/json.md): every
 * command prints one JSON document on stdout (a list: one array; a single
 * result: one object; a failure: one error object); a stream (build
 * progress, tar sync) prints one object per line. The values that appear in
 * several commands are made here, so each has one name and one type. */
#ifndef KILN_CLI_JSON_OUT_H
#define KILN_CLI_JSON_OUT_H

#include <stdint.h>

#include <jansson.h>

#include "cli.h"

/* (cli_json_line in cli.h prints a document or a stream line.) */

/* The error object for err's chain: {"error": first message, "code": exit
 * code, "errors": [every message]}. New reference; NULL when out of memory. */
json_t *cli_json_error(const kiln_error *err, int code);

/* A time as RFC 3339 in UTC, "2026-12-03T15:19:04Z". New reference. */
json_t *cli_json_time(int64_t unix_seconds);

/* The engine's RFC 3339 text (any offset, optional fraction) as
 * cli_json_time gives it; JSON null when text is NULL or no such time. */
json_t *cli_json_time_text(const char *text);

/* A uid label ("1000") as an integer; JSON null when absent or no uid. */
json_t *cli_json_uid(const char *label);

/* cli_image_stale's word as a boolean: "yes" true, "no" false, else null. */
json_t *cli_json_stale(const char *word);

#endif
