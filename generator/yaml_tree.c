/* libyaml events → bounded ynode tree. */
#include "yaml_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "sanitize/limits.h"
#include "util/cleanup.h"

typedef struct {
  const char *name;
  yaml_parser_t parser;
  ynode *stack[KILN_MAX_YAML_DEPTH + 1];
  int depth;
  ynode *root;
  int documents;
  size_t events;
  kiln_error **err;
} builder;

__attribute__((format(printf, 3, 4))) static int fail_at(builder *b, const yaml_mark_t *m,
                                                          const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return kiln_error_set(b->err, KILN_EXIT_USAGE, "%s:%zu:%zu: %s", b->name, m->line + 1,
                        m->column + 1, msg);
}

void ynode_free(ynode *n) {
  if (!n) return;
  for (size_t i = 0; i < n->n; i++) ynode_free(n->items[i]);
  free(n->items);
  free(n->text);
  free(n);
}

static ynode *node_new(ynode_kind kind, const yaml_mark_t *m) {
  ynode *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->kind = kind;
  n->line = (int)m->line + 1;
  n->col = (int)m->column + 1;
  return n;
}

/* Attaches child to the open collection (or makes it the root). */
static int attach(builder *b, ynode *child, const yaml_mark_t *m) {
  if (b->depth == 0) {
    b->root = child;
    return 0;
  }
  ynode *parent = b->stack[b->depth - 1];
  if (parent->n >= 2 * (size_t)KILN_MAX_LIST_ITEMS) {
    ynode_free(child);
    return fail_at(b, m, "more than %d entries", KILN_MAX_LIST_ITEMS);
  }
  ynode **items = realloc(parent->items, (parent->n + 1) * sizeof *items);
  if (!items) {
    ynode_free(child);
    return kiln_error_set(b->err, KILN_EXIT_FAILURE, "out of memory");
  }
  parent->items = items;
  items[parent->n++] = child;
  return 0;
}

static int on_scalar(builder *b, const yaml_event_t *ev) {
  if (ev->data.scalar.length > KILN_MAX_SCALAR_BYTES)
    return fail_at(b, &ev->start_mark, "value is longer than %d bytes", KILN_MAX_SCALAR_BYTES);
  ynode *n = node_new(YNODE_SCALAR, &ev->start_mark);
  if (!n || !(n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length))) {
    ynode_free(n);
    return kiln_error_set(b->err, KILN_EXIT_FAILURE, "out of memory");
  }
  if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
    ynode_free(n);
    return fail_at(b, &ev->start_mark, "value contains a NUL character");
  }
  n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  return attach(b, n, &ev->start_mark);
}

static int on_open(builder *b, const yaml_event_t *ev, ynode_kind kind) {
  if (b->depth >= KILN_MAX_YAML_DEPTH)
    return fail_at(b, &ev->start_mark, "nesting is deeper than %d levels", KILN_MAX_YAML_DEPTH);
  ynode *n = node_new(kind, &ev->start_mark);
  if (!n) return kiln_error_set(b->err, KILN_EXIT_FAILURE, "out of memory");
  if (attach(b, n, &ev->start_mark) < 0) return -1;
  b->stack[b->depth++] = n;
  return 0;
}

static int on_event(builder *b, const yaml_event_t *ev) {
  if (++b->events > KILN_MAX_YAML_EVENTS)
    return fail_at(b, &ev->start_mark, "document has more than %d YAML events", KILN_MAX_YAML_EVENTS);
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (++b->documents > 1)
      return fail_at(b, &ev->start_mark, "a second YAML document; kiln.yaml holds exactly one");
    return 0;
  case YAML_ALIAS_EVENT:
    return fail_at(b, &ev->start_mark,
                   "aliases (*name) are not supported; write the value out");
  case YAML_SCALAR_EVENT: return on_scalar(b, ev);
  case YAML_SEQUENCE_START_EVENT: return on_open(b, ev, YNODE_SEQ);
  case YAML_MAPPING_START_EVENT: return on_open(b, ev, YNODE_MAP);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT: b->depth--; return 0;
  default: return 0;
  }
}

static int syntax_error(builder *b) {
  const yaml_parser_t *p = &b->parser;
  const yaml_mark_t *m = p->problem_offset || p->problem_mark.line ? &p->problem_mark
                                                                   : &p->context_mark;
  kiln_error_set(b->err, KILN_EXIT_USAGE, "%s:%zu:%zu: invalid YAML: %s%s%s", b->name,
                 m->line + 1, m->column + 1, p->problem ? p->problem : "syntax error",
                 p->context ? " " : "", p->context ? p->context : "");
  return -1;
}

ynode *ynode_parse(const char *name, const char *text, size_t len, kiln_error **err) {
  builder b = {.name = name, .err = err};
  if (!yaml_parser_initialize(&b.parser)) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
    return NULL;
  }
  yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
  int r = 0;
  for (bool done = false; !done && r == 0;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&b.parser, &ev)) {
      r = syntax_error(&b);
      break;
    }
    done = ev.type == YAML_STREAM_END_EVENT;
    r = on_event(&b, &ev);
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&b.parser);
  if (r < 0) {
    ynode_free(b.root);
    return NULL;
  }
  return b.root;
}

bool ynode_is_null(const ynode *n) {
  return n->kind == YNODE_SCALAR && n->plain &&
         (!*n->text || !strcmp(n->text, "~") || !strcasecmp(n->text, "null"));
}

const char *ynode_kind_name(ynode_kind kind) {
  static const char *const names[] = {"text", "mapping", "list"};
  return names[kind];
}
