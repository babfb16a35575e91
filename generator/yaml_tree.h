/* A small, bounded YAML tree with positions, built from libyaml events.
 * Internal to libkiln: the spec (generator/) and the config file
 * (builder/site/config.c) share it. Aliases are refused, so an alias bomb costs
 * nothing; depth, event count, items and scalar sizes are capped. */
#ifndef KILN_YAML_TREE_H
#define KILN_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "kiln/error.h"

typedef enum { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ } ynode_kind;

typedef struct ynode {
  ynode_kind kind;
  int line, col;        /* 1-based */
  char *text;           /* scalars: owned, NUL-terminated */
  bool plain;           /* scalars: unquoted (so true/false/null/numbers apply) */
  struct ynode **items; /* owned; maps hold key, value, key, value, ... */
  size_t n;
  size_t alloc; /* capacity of items */
} ynode;

/* Parses text into a tree. Returns the root (NULL for an empty document,
 * with *err unset) or NULL with *err set to "NAME:LINE:COL: problem".
 * Free with ynode_free. */
ynode *ynode_parse(const char *name, const char *text, size_t len, kiln_error **err);
void ynode_free(ynode *n);

/* A plain scalar that YAML reads as null: "", "~", "null". */
bool ynode_is_null(const ynode *n);

/* "a mapping", "a list" or "text", for messages ("must be a list, not text"). */
const char *ynode_kind_name(ynode_kind kind);

#endif
