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
  for (size_t i = 0; i < n->n; i++)
    ynode_free(n->items[i]);
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

/* The most children a collection may hold: list items, or key/value
 * pairs of a mapping (two nodes each). */
static size_t child_cap(const ynode *parent) {
  return parent->kind == YNODE_MAP ? 2 * (size_t)KILN_MAX_LIST_ITEMS : KILN_MAX_LIST_ITEMS;
}

/* Attaches child to the open collection (or makes it the root); takes
 * ownership of child in every case. */
static int attach(builder *b, ynode *child, const yaml_mark_t *m) {
  if (b->depth == 0) {
    b->root = child;
    return 0;
  }
  ynode *parent = b->stack[b->depth - 1];
  if (parent->n >= child_cap(parent)) {
    ynode_free(child);
    return fail_at(b, m, "more than %d entries in one %s", KILN_MAX_LIST_ITEMS,
                   parent->kind == YNODE_MAP ? "mapping" : "list");
  }
  if (parent->n == parent->alloc) {
    size_t alloc = parent->alloc ? 2 * parent->alloc : 8;
    ynode **items = realloc(parent->items, alloc * sizeof *items);
    if (!items) {
      ynode_free(child);
      return kiln_error_oom(b->err);
    }
    parent->items = items;
    parent->alloc = alloc;
  }
  parent->items[parent->n++] = child;
  return 0;
}

/* Anchors only make sense with aliases, and aliases are how a small file
 * expands into a huge tree (billion laughs): both are refused. */
static int refuse_anchor(builder *b, const yaml_mark_t *m, const yaml_char_t *anchor) {
  if (!anchor) return 0;
  return fail_at(b, m, "aliases and anchors are not supported (found &%.64s); write the value out",
                 (const char *)anchor);
}

static int on_scalar(builder *b, const yaml_event_t *ev) {
  if (refuse_anchor(b, &ev->start_mark, ev->data.scalar.anchor) < 0) return -1;
  if (ev->data.scalar.length > KILN_MAX_SCALAR_BYTES)
    return fail_at(b, &ev->start_mark, "value is longer than %d bytes", KILN_MAX_SCALAR_BYTES);
  if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
    return fail_at(b, &ev->start_mark, "value contains a NUL character");
  ynode *n = node_new(YNODE_SCALAR, &ev->start_mark);
  if (!n || !(n->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length))) {
    ynode_free(n);
    return kiln_error_oom(b->err);
  }
  /* An explicit tag (!!str 1) makes the text literal, like quotes do. */
  n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
  return attach(b, n, &ev->start_mark);
}

static int on_open(builder *b, const yaml_event_t *ev, ynode_kind kind, const yaml_char_t *anchor) {
  if (refuse_anchor(b, &ev->start_mark, anchor) < 0) return -1;
  if (b->depth >= KILN_MAX_YAML_DEPTH)
    return fail_at(b, &ev->start_mark, "nesting is deeper than %d levels", KILN_MAX_YAML_DEPTH);
  ynode *n = node_new(kind, &ev->start_mark);
  if (!n) return kiln_error_oom(b->err);
  if (attach(b, n, &ev->start_mark) < 0) return -1;
  b->stack[b->depth++] = n;
  return 0;
}

static int on_event(builder *b, const yaml_event_t *ev) {
  if (++b->events > KILN_MAX_YAML_EVENTS)
    return fail_at(b, &ev->start_mark, "document has more than %d YAML events",
                   KILN_MAX_YAML_EVENTS);
  switch (ev->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (++b->documents > 1)
      return fail_at(b, &ev->start_mark, "a second YAML document (---); expected exactly one");
    return 0;
  case YAML_ALIAS_EVENT:
    return fail_at(b, &ev->start_mark,
                   "aliases and anchors are not supported (found *%.64s); write the value out",
                   (const char *)ev->data.alias.anchor);
  case YAML_SCALAR_EVENT:
    return on_scalar(b, ev);
  case YAML_SEQUENCE_START_EVENT:
    return on_open(b, ev, YNODE_SEQ, ev->data.sequence_start.anchor);
  case YAML_MAPPING_START_EVENT:
    return on_open(b, ev, YNODE_MAP, ev->data.mapping_start.anchor);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT:
    b->depth--;
    return 0;
  default:
    return 0;
  }
}

/* 1-based line:col of byte offset in text, for reader errors (bad UTF-8),
 * where libyaml only records the offset. */
static yaml_mark_t mark_of_offset(const char *text, size_t len, size_t offset) {
  yaml_mark_t m = {0, 0, 0};
  for (size_t i = 0; i < offset && i < len; i++) {
    if (text[i] == '\n') {
      m.line++;
      m.column = 0;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      m.column++;
    }
  }
  return m;
}

static int syntax_error(builder *b, const char *text, size_t len) {
  const yaml_parser_t *p = &b->parser;
  yaml_mark_t m = p->error == YAML_READER_ERROR ? mark_of_offset(text, len, p->problem_offset)
                                                : p->problem_mark;
  /* An unclosed quote or bracket runs to the end of the file: the place to
   * fix is where it opens, with the end as context. */
  if (p->context && p->error != YAML_READER_ERROR && m.index >= len) {
    const char *what = p->context;
    static const char *const verbs[] = {"while scanning ", "while parsing "};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
      if (!strncmp(what, verbs[i], strlen(verbs[i]))) what += strlen(verbs[i]);
    return kiln_error_set(b->err, KILN_EXIT_USAGE,
                          "%s:%zu:%zu: invalid YAML: %s is not closed (%s at %zu:%zu)", b->name,
                          p->context_mark.line + 1, p->context_mark.column + 1, what,
                          p->problem ? p->problem : "the file ends", m.line + 1, m.column + 1);
  }
  char started[64] = "";
  if (p->context)
    snprintf(started, sizeof started, " that starts at %zu:%zu", p->context_mark.line + 1,
             p->context_mark.column + 1);
  return kiln_error_set(b->err, KILN_EXIT_USAGE, "%s:%zu:%zu: invalid YAML: %s%s%s%s", b->name,
                        m.line + 1, m.column + 1, p->problem ? p->problem : "syntax error",
                        p->context ? " " : "", p->context ? p->context : "", started);
}

ynode *ynode_parse(const char *name, const char *text, size_t len, kiln_error **err) {
  builder b = {.name = name, .err = err};
  if (!yaml_parser_initialize(&b.parser)) {
    kiln_error_oom(err);
    return NULL;
  }
  yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
  int r = 0;
  for (bool done = false; !done && r == 0;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&b.parser, &ev)) {
      r = syntax_error(&b, text, len);
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
  static const char *const names[] = {"text", "a mapping", "a list"};
  return names[kind];
}
