/* Shared by generator/spec.c (the walk, errors, loading) and
 * generator/spec_keys.c (one handler table per mapping of kiln.yaml).
 * Not part of the library API. */
#ifndef KILN_SPEC_PRIVATE_H
#define KILN_SPEC_PRIVATE_H

#include <stdbool.h>

#include "kiln/spec.h"
#include "sanitize/limits.h"
#include "yaml_tree.h"

/* One recorded problem, reported in file order at the end. */
typedef struct {
  int line, col;
  int seq;       /* order found, for problems at the same place */
  char *message; /* owned; without the location */
} spec_problem;

/* State of one parse. Handlers record problems with spec_fail() and go on,
 * so that one run reports every problem of the file. */
typedef struct {
  const char *name; /* file name for messages */
  const char *dir;  /* project folder that relative paths are checked against */
  const kiln_spec_options *opts;
  kiln_spec *spec; /* being filled */
  int errors;      /* problems found, including those past the cap */
  spec_problem problems[KILN_MAX_ERRORS];
  const ynode *root;
  /* nodes the spec set, kept for defaults and cross-field rules */
  const ynode *user_map, *user_name, *user_uid, *user_gid;
  const ynode *base_image, *base_framework, *base_version;
  kiln_spec_file *current_file; /* the files: entry being read */
  kiln_error *sub;              /* scratch: the error of the sanitize call being checked */
} spec_parser;

/* Which YAML kinds a key accepts (bit per ynode_kind). */
enum {
  SPEC_TEXT = 1u << YNODE_SCALAR,
  SPEC_MAP = 1u << YNODE_MAP,
  SPEC_LIST = 1u << YNODE_SEQ,
};

typedef int (*spec_key_fn)(spec_parser *p, const ynode *value);

/* One key of a mapping: its name, the kinds it accepts, what to say when the
 * kind is wrong (NULL: derived from kinds) and the handler, which is only
 * called with a non-null value of an accepted kind. */
typedef struct {
  const char *key;
  unsigned kinds;
  const char *expect;
  spec_key_fn fn;
} spec_key;

/* The top-level table (spec_keys.c). */
extern const spec_key spec_top_keys[];

/* Defaults from the caller's identity and rules that span keys (base,
 * user, root); runs after the walk. Returns 0 or -1 (errors recorded). */
int spec_finish(spec_parser *p);

/* ---- helpers from spec.c ---- */

/* Records "FILE:LINE:COL: message" at node `at` (the file start when NULL),
 * code KILN_EXIT_USAGE, up to KILN_MAX_ERRORS. Always returns -1. */
int spec_fail(spec_parser *p, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* For sanitize calls made with &p->sub: when r < 0, records p->sub's
 * messages at `at`. Returns r and leaves p->sub NULL. */
int spec_checked(spec_parser *p, const ynode *at, int r);
/* Same, naming the key ("deploy.memory: size ...") when the message does
 * not start with it already. */
int spec_checked_as(spec_parser *p, const ynode *at, const char *what, int r);
/* Records an out-of-memory error and returns -1. */
int spec_oom(spec_parser *p, const ynode *at);

/* The text of a scalar, or NULL after recording "WHAT must be text". */
const char *spec_text(spec_parser *p, const ynode *n, const char *what);
/* A scalar that should be a number: text, not empty. */
const char *spec_number_text(spec_parser *p, const ynode *n, const char *what);
/* YAML 1.1 booleans (true/false/yes/no, any case), unquoted only. */
int spec_bool(spec_parser *p, const ynode *n, const char *what, bool *out);
/* Replaces *out with a copy of s. */
int spec_keep(spec_parser *p, const ynode *at, char **out, const char *s);

/* Walks a mapping with a key table. section names it in messages ("base",
 * "user"; NULL for the top level). Unknown keys get a did-you-mean, duplicate
 * keys name the first occurrence, null values count as absent. */
int spec_walk_map(spec_parser *p, const ynode *map, const char *section, const spec_key *table);
/* The earlier key node of map with the same text as key number i, or NULL. */
const ynode *spec_earlier_key(const ynode *map, size_t i);

/* A list of text items, each checked with check (may be NULL), appended to
 * out. */
int spec_text_list(spec_parser *p, const ynode *seq, const char *what,
                   int (*check)(const char *, kiln_error **), kiln_strv *out);
/* Appends a copy of s, keeping v NULL-terminated. 0 or -1 (no memory). */
int spec_strv_push(kiln_strv *v, const char *s);

#endif
