/* The template renderer (see render.h for the syntax). A template is first
 * cut into tokens, with every section matched to its closing tag, and then
 * rendered from the token list; partials are parsed once per render. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kiln/access.h"
#include "sanitize/sanitize.h"
#include "templates/render.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define TAG_OPEN      "{{"
#define TAG_CLOSE     "}}"
#define MAX_TAG_BYTES 256
#define NAME_CHARS    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
#define PARTIAL_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

char *kiln_read_file_bounded(const char *path, size_t max, size_t *len, kiln_error **err) {
  return kiln_fs_read_regular(path, true, max, len, err); /* the one careful reader */
}

typedef enum { TOK_TEXT, TOK_VAR, TOK_SECTION, TOK_INVERTED, TOK_CLOSE, TOK_PARTIAL } tok_kind;
typedef enum { FILTER_JSON, FILTER_DQ, FILTER_SH, FILTER_RAW } filter_kind;

typedef struct {
  tok_kind kind;
  filter_kind filter; /* TOK_VAR */
  const char *s;      /* text, or the tag's name (not NUL-terminated) */
  size_t len;
  int line;
  size_t match; /* sections: index of the closing token */
} token;

typedef struct {
  char *name; /* for messages: the file path, or the name given */
  char *text; /* owned; tokens point into it */
  token *toks;
  size_t n, alloc;
} template;

static void template_free(template *t) {
  if (!t) return;
  free(t->name);
  free(t->text);
  free(t->toks);
  free(t);
}

static int push_token(template *t, token tok, kiln_error **err) {
  if (t->n == t->alloc) {
    size_t alloc = t->alloc ? t->alloc * 2 : 64;
    token *p = realloc(t->toks, alloc * sizeof *p);
    if (!p) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
    t->toks = p;
    t->alloc = alloc;
  }
  t->toks[t->n++] = tok;
  return 0;
}

static int parse_error(const template *t, int line, kiln_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int parse_error(const template *t, int line, kiln_error **err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  kiln_error_setv(err, KILN_EXIT_FAILURE, fmt, ap);
  va_end(ap);
  return kiln_error_prefix(err, "%s:%d", t->name, line);
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

static const struct {
  const char *prefix;
  filter_kind filter;
} filters[] = {
    {"json:", FILTER_JSON}, {"dq:", FILTER_DQ}, {"sh:", FILTER_SH}, {"raw:", FILTER_RAW}};

/* Reads a variable tag's body "filter:name" into tok. */
static int parse_variable(const template *t, const char *body, size_t len, token *tok,
                          kiln_error **err) {
  for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
    size_t plen = strlen(filters[i].prefix);
    if (len > plen && !strncmp(body, filters[i].prefix, plen)) {
      tok->filter = filters[i].filter;
      tok->s = body + plen;
      tok->len = len - plen;
      return 0;
    }
  }
  return parse_error(t, tok->line, err,
                     "{{%.*s}} needs an escaping filter: json:, dq:, sh: or raw: (raw only "
                     "for values the generator made)",
                     (int)len, body);
}

static int check_name(const template *t, const token *tok, const char *allowed, kiln_error **err) {
  if (tok->len == 0 || strspn(tok->s, allowed) < tok->len)
    return parse_error(t, tok->line, err, "bad name \"%.*s\" in tag", (int)tok->len, tok->s);
  return 0;
}

static const struct {
  char sigil;
  tok_kind kind;
} sigils[] = {{'#', TOK_SECTION}, {'^', TOK_INVERTED}, {'/', TOK_CLOSE}, {'>', TOK_PARTIAL}};

/* Classifies a tag body (spaces trimmed). Comments come back as TOK_TEXT
 * with len 0 so the caller drops them. */
static int parse_tag(const template *t, const char *body, size_t len, token *tok,
                     kiln_error **err) {
  while (len && is_blank(*body))
    body++, len--;
  while (len && is_blank(body[len - 1]))
    len--;
  if (len && body[0] == '!') {
    tok->kind = TOK_TEXT;
    tok->len = 0;
    return 0;
  }
  for (size_t i = 0; i < sizeof sigils / sizeof sigils[0]; i++) {
    if (len && body[0] == sigils[i].sigil) {
      tok->kind = sigils[i].kind;
      tok->s = body + 1;
      tok->len = len - 1;
      while (tok->len && is_blank(*tok->s))
        tok->s++, tok->len--;
      return check_name(t, tok, tok->kind == TOK_PARTIAL ? PARTIAL_CHARS : NAME_CHARS, err);
    }
  }
  tok->kind = TOK_VAR;
  if (parse_variable(t, body, len, tok, err) < 0) return -1;
  return check_name(t, tok, NAME_CHARS, err);
}

/* A tag other than a variable that stands alone on its line takes the
 * whole line with it, so templates can put sections on their own lines
 * without leaving blank lines in the Dockerfile. Returns the line's start
 * (or tag_start when the tag is not standalone) and sets *resume to where
 * text continues. */
static size_t standalone(const char *text, size_t text_len, size_t tag_start, size_t tag_end,
                         size_t *resume) {
  size_t line_start = tag_start;
  while (line_start > 0 && text[line_start - 1] != '\n')
    line_start--;
  for (size_t i = line_start; i < tag_start; i++)
    if (!is_blank(text[i])) return *resume = tag_end, tag_start;
  size_t end = tag_end;
  while (end < text_len && is_blank(text[end]))
    end++;
  if (end < text_len && text[end] != '\n') return *resume = tag_end, tag_start;
  *resume = end < text_len ? end + 1 : end;
  return line_start;
}

static int count_lines(const char *s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to; i++)
    n += s[i] == '\n';
  return n;
}

/* Matches sections with their closing tags and caps their nesting. */
static int match_sections(template *t, kiln_error **err) {
  size_t stack[KILN_MAX_TEMPLATE_DEPTH];
  size_t depth = 0;
  for (size_t i = 0; i < t->n; i++) {
    token *tok = &t->toks[i];
    if (tok->kind == TOK_SECTION || tok->kind == TOK_INVERTED) {
      if (depth == KILN_MAX_TEMPLATE_DEPTH)
        return parse_error(t, tok->line, err, "sections nested deeper than %d",
                           KILN_MAX_TEMPLATE_DEPTH);
      stack[depth++] = i;
    } else if (tok->kind == TOK_CLOSE) {
      if (!depth)
        return parse_error(t, tok->line, err, "{{/%.*s}} closes no section", (int)tok->len, tok->s);
      token *open = &t->toks[stack[--depth]];
      if (open->len != tok->len || memcmp(open->s, tok->s, tok->len))
        return parse_error(t, tok->line, err, "{{/%.*s}} closes {{%c%.*s}} of line %d",
                           (int)tok->len, tok->s, open->kind == TOK_SECTION ? '#' : '^',
                           (int)open->len, open->s, open->line);
      open->match = i;
    }
  }
  if (depth) {
    const token *open = &t->toks[stack[depth - 1]];
    return parse_error(t, open->line, err, "{{%c%.*s}} is never closed",
                       open->kind == TOK_SECTION ? '#' : '^', (int)open->len, open->s);
  }
  return 0;
}

static int tokenize(template *t, size_t len, kiln_error **err) {
  const char *text = t->text;
  size_t pos = 0, text_from = 0;
  int line = 1;
  for (;;) {
    const char *open = memmem(text + pos, len - pos, TAG_OPEN, 2);
    size_t tag_start = open ? (size_t)(open - text) : len;
    line += count_lines(text, pos, tag_start);
    if (!open) break;
    size_t body = tag_start + 2;
    const char *close = memmem(text + body, len - body, TAG_CLOSE, 2);
    size_t body_len = close ? (size_t)(close - (text + body)) : 0;
    bool comment = body < len && text[body] == '!'; /* comments may span lines */
    if (!close || (!comment && (body_len > MAX_TAG_BYTES || memchr(text + body, '\n', body_len))))
      return parse_error(t, line, err, "unclosed tag \"{{\"");
    token tok = {.line = line};
    if (parse_tag(t, text + body, body_len, &tok, err) < 0) return -1;
    size_t tag_end = body + body_len + 2, resume = tag_end;
    size_t text_to =
        tok.kind == TOK_VAR ? tag_start : standalone(text, len, tag_start, tag_end, &resume);
    token lead = {.kind = TOK_TEXT, .s = text + text_from, .len = text_to - text_from};
    if (lead.len && push_token(t, lead, err) < 0) return -1;
    if ((tok.kind != TOK_TEXT) && push_token(t, tok, err) < 0) return -1;
    line += count_lines(text, tag_start, resume);
    pos = text_from = resume;
  }
  token tail = {.kind = TOK_TEXT, .s = text + text_from, .len = len - text_from};
  if (tail.len && push_token(t, tail, err) < 0) return -1;
  return match_sections(t, err);
}

/* Takes ownership of text. */
static template *template_parse(const char *name, char *text, size_t len, kiln_error **err) {
  template *t = calloc(1, sizeof *t);
  if (!t || !(t->name = strdup(name))) {
    free(text);
    template_free(t);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  }
  t->text = text;
  if (len > KILN_MAX_TEMPLATE_BYTES) {
    kiln_error_set(err, KILN_EXIT_FAILURE, "%s is larger than %u bytes", name,
                   KILN_MAX_TEMPLATE_BYTES);
    template_free(t);
    return NULL;
  }
  if (tokenize(t, len, err) < 0) {
    template_free(t);
    return NULL;
  }
  return t;
}

static template *template_load(const char *dir, const char *name, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/%s.tmpl", dir, name) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  size_t len = 0;
  char *text = kiln_read_file_bounded(path, KILN_MAX_TEMPLATE_BYTES, &len, err);
  return text ? template_parse(path, text, len, err) : NULL;
}

/* Rendering */

typedef struct {
  const char *dir;
  kiln_buf out;
  const json_t *stack[KILN_MAX_TEMPLATE_DEPTH * 2 + 2]; /* context, innermost last */
  size_t depth;
  template *partials[KILN_MAX_TEMPLATE_DEPTH * 4]; /* parsed once per render */
  size_t n_partials;
} render_state;

static void state_clear(render_state *st) {
  kiln_buf_free(&st->out);
  for (size_t i = 0; i < st->n_partials; i++)
    template_free(st->partials[i]);
}

/* Looks `name` (may be dotted, or ".") up through the context stack. */
static const json_t *lookup(const render_state *st, const char *name, size_t len) {
  if (len == 1 && name[0] == '.') return st->depth ? st->stack[st->depth - 1] : NULL;
  const char *dot = memchr(name, '.', len);
  size_t first = dot ? (size_t)(dot - name) : len;
  char key[MAX_TAG_BYTES + 1];
  snprintf(key, sizeof key, "%.*s", (int)first, name);
  const json_t *v = NULL;
  for (size_t i = st->depth; i-- > 0 && !v;)
    v = json_object_get(st->stack[i], key);
  while (v && dot) {
    name = dot + 1;
    len -= first + 1;
    dot = memchr(name, '.', len);
    first = dot ? (size_t)(dot - name) : len;
    snprintf(key, sizeof key, "%.*s", (int)first, name);
    v = json_object_get(v, key);
  }
  return v;
}

static bool truthy(const json_t *v) {
  if (!v || json_is_false(v) || json_is_null(v)) return false;
  if (json_is_array(v)) return json_array_size(v) > 0;
  if (json_is_string(v)) return json_string_length(v) > 0;
  return true;
}

/* The text form of a scalar (new string), or NULL for arrays and objects. */
static char *scalar_text(const json_t *v) {
  char *s = NULL;
  if (json_is_string(v)) return strndup(json_string_value(v), json_string_length(v));
  if (json_is_integer(v) && asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) >= 0)
    return s;
  if (json_is_real(v) && asprintf(&s, "%.17g", json_real_value(v)) >= 0) return s;
  if (json_is_boolean(v)) return strdup(json_is_true(v) ? "true" : "false");
  return NULL;
}

static char *json_string_literal(const char *s) {
  _cleanup_json_ json_t *str = json_string(s);
  return str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
}

/* Docker's double-quoted word (ENV, LABEL, WORKDIR): the builder expands
 * $ and takes \\ \" \$ as escapes there, and a control character would end
 * or corrupt the instruction, so those are refused. NULL when refused. */
static char *dockerfile_quote(const char *s) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_DOCKERFILE_BYTES);
  if (kiln_buf_puts(&b, "\"") < 0) return NULL;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p == 0x7f) return NULL;
    if ((*p == '"' || *p == '\\' || *p == '$') && kiln_buf_puts(&b, "\\") < 0) return NULL;
    if (kiln_buf_append(&b, p, 1) < 0) return NULL;
  }
  if (kiln_buf_puts(&b, "\"") < 0) return NULL;
  return kiln_buf_steal(&b, NULL);
}

static char *apply_filter(filter_kind filter, const char *s) {
  switch (filter) {
  case FILTER_JSON:
    return json_string_literal(s);
  case FILTER_DQ:
    return dockerfile_quote(s);
  case FILTER_SH:
    return kiln_shell_quote(s);
  case FILTER_RAW:
    return strdup(s);
  }
  return NULL;
}

static int render_error(const template *t, const token *tok, kiln_error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int render_error(const template *t, const token *tok, kiln_error **err, const char *fmt,
                        ...) {
  va_list ap;
  va_start(ap, fmt);
  kiln_error_setv(err, KILN_EXIT_FAILURE, fmt, ap);
  va_end(ap);
  return kiln_error_prefix(err, "%s:%d", t->name, tok->line);
}

static int emit(render_state *st, const template *t, const token *tok, const char *s, size_t n,
                kiln_error **err) {
  if (kiln_buf_append(&st->out, s, n) < 0)
    return render_error(t, tok, err, "output larger than %u bytes or out of memory",
                        KILN_MAX_DOCKERFILE_BYTES);
  return 0;
}

static int render_variable(render_state *st, const template *t, const token *tok,
                           kiln_error **err) {
  const json_t *v = lookup(st, tok->s, tok->len);
  if (!v) return render_error(t, tok, err, "\"%.*s\" is not in the model", (int)tok->len, tok->s);
  _cleanup_free_ char *text = scalar_text(v);
  if (!text)
    return render_error(t, tok, err, "\"%.*s\" is not a string, number or boolean", (int)tok->len,
                        tok->s);
  if (strlen(text) != (json_is_string(v) ? json_string_length(v) : strlen(text)))
    return render_error(t, tok, err, "\"%.*s\" holds a NUL byte", (int)tok->len, tok->s);
  _cleanup_free_ char *escaped = apply_filter(tok->filter, text);
  if (!escaped)
    return render_error(t, tok, err,
                        "\"%.*s\" cannot be escaped (control character or invalid UTF-8)",
                        (int)tok->len, tok->s);
  return emit(st, t, tok, escaped, strlen(escaped), err);
}

static int render_tokens(render_state *st, const template *t, size_t from, size_t to, size_t depth,
                         kiln_error **err);

static int render_with(render_state *st, const template *t, const json_t *ctx, size_t from,
                       size_t to, size_t depth, kiln_error **err) {
  st->stack[st->depth++] = ctx;
  int r = render_tokens(st, t, from, to, depth, err);
  st->depth--;
  return r;
}

static int render_section(render_state *st, const template *t, const token *tok, size_t i,
                          size_t depth, kiln_error **err) {
  const json_t *v = lookup(st, tok->s, tok->len);
  bool show = truthy(v);
  if (tok->kind == TOK_INVERTED)
    return show ? 0 : render_tokens(st, t, i + 1, tok->match, depth, err);
  if (!show) return 0;
  if (!json_is_array(v)) return render_with(st, t, v, i + 1, tok->match, depth, err);
  for (size_t k = 0; k < json_array_size(v); k++)
    if (render_with(st, t, json_array_get(v, k), i + 1, tok->match, depth, err) < 0) return -1;
  return 0;
}

static template *find_partial(render_state *st, const template *t, const token *tok,
                              kiln_error **err) {
  char name[MAX_TAG_BYTES + 1];
  snprintf(name, sizeof name, "%.*s", (int)tok->len, tok->s);
  for (size_t i = 0; i < st->n_partials; i++) {
    const char *base = strrchr(st->partials[i]->name, '/');
    if (base && !strncmp(base + 1, name, tok->len) && !strcmp(base + 1 + tok->len, ".tmpl"))
      return st->partials[i];
  }
  if (!st->dir)
    return render_error(t, tok, err, "partial {{>%s}} without a templates folder", name), NULL;
  if (st->n_partials == sizeof st->partials / sizeof st->partials[0])
    return render_error(t, tok, err, "too many different partials"), NULL;
  template *p = template_load(st->dir, name, err);
  if (!p)
    return kiln_error_prefix(err, "%s:%d: in partial {{>%s}}", t->name, tok->line, name), NULL;
  return st->partials[st->n_partials++] = p;
}

static int render_partial(render_state *st, const template *t, const token *tok, size_t depth,
                          kiln_error **err) {
  template *p = find_partial(st, t, tok, err);
  if (!p) return -1;
  if (render_tokens(st, p, 0, p->n, depth, err) < 0)
    return kiln_error_prefix(err, "%s:%d: in partial {{>%.*s}}", t->name, tok->line, (int)tok->len,
                             tok->s);
  return 0;
}

static int render_tokens(render_state *st, const template *t, size_t from, size_t to, size_t depth,
                         kiln_error **err) {
  for (size_t i = from; i < to; i++) {
    const token *tok = &t->toks[i];
    bool nests = tok->kind == TOK_SECTION || tok->kind == TOK_INVERTED || tok->kind == TOK_PARTIAL;
    if (nests && depth >= KILN_MAX_TEMPLATE_DEPTH)
      return render_error(t, tok, err, "sections and partials nested deeper than %d",
                          KILN_MAX_TEMPLATE_DEPTH);
    int r = 0;
    switch (tok->kind) {
    case TOK_TEXT:
      r = emit(st, t, tok, tok->s, tok->len, err);
      break;
    case TOK_VAR:
      r = render_variable(st, t, tok, err);
      break;
    case TOK_SECTION:
    case TOK_INVERTED:
      r = render_section(st, t, tok, i, depth + 1, err);
      i = tok->match;
      break;
    case TOK_PARTIAL:
      r = render_partial(st, t, tok, depth + 1, err);
      break;
    case TOK_CLOSE:
      break;
    }
    if (r < 0) return -1;
  }
  return 0;
}

static char *render_template(const char *dir, const template *t, const json_t *model, size_t *len,
                             kiln_error **err) {
  render_state st = {.dir = dir, .out = KILN_BUF_INIT(KILN_MAX_DOCKERFILE_BYTES)};
  st.stack[st.depth++] = model;
  char *out = NULL;
  if (render_tokens(&st, t, 0, t->n, 0, err) == 0) {
    if (kiln_buf_append(&st.out, "", 0) == 0) /* "" when nothing was rendered */
      out = kiln_buf_steal(&st.out, len);
    else
      kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  }
  state_clear(&st);
  return out;
}

char *kiln_render_string(const char *templates_dir, const char *name, const char *text,
                         size_t text_len, const json_t *model, size_t *len, kiln_error **err) {
  if (text_len > KILN_MAX_TEMPLATE_BYTES)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "%s is larger than %u bytes", name,
                          KILN_MAX_TEMPLATE_BYTES),
           NULL;
  char *copy = malloc(text_len + 1);
  if (copy) memcpy(copy, text, text_len), copy[text_len] = '\0';
  if (!copy) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  template *t = template_parse(name, copy, text_len, err);
  if (!t) return NULL;
  char *out = render_template(templates_dir, t, model, len, err);
  template_free(t);
  return out;
}

char *kiln_render_file(const char *templates_dir, const char *name, const json_t *model,
                       size_t *len, kiln_error **err) {
  template *t = template_load(templates_dir, name, err);
  if (!t) return NULL;
  char *out = render_template(templates_dir, t, model, len, err);
  template_free(t);
  return out;
}
