/* .dockerignore matching. Each pattern is classified the way moby's
 * patternmatcher does (exact text, a prefix ending in "**", "**" + literal suffix, or
 * a general pattern) because those shortcuts are what Docker really matches
 * with. A general pattern is a list of tokens run as an NFA over the path's
 * runes: linear in path length times pattern length, so no pattern can make
 * matching blow up (no backtracking, no regex engine).
 *
 * Known difference: Docker turns a general pattern into a Go regexp, so an
 * escaped letter such as "\d" means a regexp class there; here, as in
 * filepath.Match, it is the letter itself. */
#include "dockerignore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize/limits.h"
#include "util/cleanup.h"

#define RUNE_ERROR 0xFFFDu

typedef enum {
  TOK_LITERAL,  /* one rune */
  TOK_ANY,      /* '?': one rune but '/' */
  TOK_STAR,     /* '*': runes but '/' */
  TOK_CLASS,    /* "[...]" */
  TOK_ANY_DIRS, /* "**" with more after it: any folders, even none */
  TOK_ANY_TAIL, /* "**" at the end, after wildcards: anything */
} token_kind;

typedef struct {
  uint32_t lo, hi;
} rune_range;

typedef struct {
  token_kind kind;
  uint32_t rune;      /* TOK_LITERAL */
  bool negated;       /* TOK_CLASS */
  size_t first_range; /* TOK_CLASS: ranges[first_range .. +n_ranges] */
  size_t n_ranges;
} token;

/* patternmatcher's match types, in the order it settles on one. */
typedef enum { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_GENERAL } match_kind;

typedef struct {
  char *text; /* cleaned, without the '!' */
  bool exception;
  match_kind kind;
  token *tokens;
  size_t n_tokens;
  rune_range *ranges;
  size_t n_ranges;
} ignore_pattern;

struct kiln_ignore {
  ignore_pattern *v;
  size_t n;
  bool has_exceptions;
  /* NFA scratch: two state rows of (max tokens + 1), plus "inside **" rows */
  unsigned char *scratch;
  size_t max_tokens;
};

/* ---- UTF-8, the way Go's range loop decodes it ---- */

static size_t decode_rune(const unsigned char *s, size_t n, uint32_t *out) {
  static const struct {
    unsigned char mask, lead;
    size_t len;
    uint32_t min;
  } forms[] = {{0xE0, 0xC0, 2, 0x80}, {0xF0, 0xE0, 3, 0x800}, {0xF8, 0xF0, 4, 0x10000}};
  *out = RUNE_ERROR;
  if (n == 0) return 0;
  if (s[0] < 0x80) return *out = s[0], 1;
  for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
    if ((s[0] & forms[f].mask) != forms[f].lead) continue;
    if (n < forms[f].len) return 1;
    uint32_t r = s[0] & (0x7Fu >> forms[f].len);
    for (size_t i = 1; i < forms[f].len; i++) {
      if ((s[i] & 0xC0) != 0x80) return 1;
      r = (r << 6) | (s[i] & 0x3Fu);
    }
    if (r < forms[f].min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 1;
    *out = r;
    return forms[f].len;
  }
  return 1;
}

/* ---- filepath.Clean ---- */

static bool is_sep_or_end(const char *p, size_t i, size_t n) {
  return i == n || p[i] == '/';
}

/* Go's filepath.Clean, lexically. Returns a new string. */
static char *clean_path(const char *p) {
  size_t n = strlen(p);
  char *out = malloc(n + 2);
  if (!out) return NULL;
  bool rooted = n && p[0] == '/';
  size_t w = 0, r = 0, dotdot = 0;
  if (rooted) out[w++] = '/', r = 1, dotdot = 1;
  while (r < n) {
    if (p[r] == '/') {
      r++;
    } else if (p[r] == '.' && is_sep_or_end(p, r + 1, n)) {
      r++;
    } else if (p[r] == '.' && p[r + 1] == '.' && is_sep_or_end(p, r + 2, n)) {
      r += 2;
      if (w > dotdot) { /* back up over the last element */
        w--;
        while (w > dotdot && out[w] != '/')
          w--;
      } else if (!rooted) { /* cannot back up: keep the ".." */
        if (w > 0) out[w++] = '/';
        out[w++] = '.', out[w++] = '.';
        dotdot = w;
      }
    } else {
      if ((rooted && w != 1) || (!rooted && w != 0)) out[w++] = '/';
      while (r < n && p[r] != '/')
        out[w++] = p[r++];
    }
  }
  if (w == 0) out[w++] = '.';
  out[w] = '\0';
  return out;
}

/* ---- filepath.Match syntax check (what patternmatcher.New runs) ---- */

/* One class bound ("a", "\]"): returns the bytes used, 0 when malformed. */
static size_t class_bound(const char *p, uint32_t *r) {
  size_t i = 0;
  if (!p[0] || p[0] == '-' || p[0] == ']') return 0;
  if (p[0] == '\\') i = 1;
  if (!p[i]) return 0;
  size_t len = decode_rune((const unsigned char *)p + i, strlen(p + i), r);
  if (*r == RUNE_ERROR && len == 1 && (unsigned char)p[i] >= 0x80) return 0;
  if (!p[i + len]) return 0; /* the class must go on to its ']' */
  return i + len;
}

/* Parses "[...]" starting after '['; stores the ranges in out when it is
 * set and their count in *count. Returns the bytes used (through ']'), 0
 * when malformed. */
static size_t parse_class(const char *p, bool *negated, rune_range *out, size_t *count) {
  size_t i = 0, n = 0;
  *negated = p[0] == '^';
  if (*negated) i++;
  for (;;) {
    if (p[i] == ']' && n > 0) return *count = n, i + 1;
    uint32_t lo, hi;
    size_t used = class_bound(p + i, &lo);
    if (!used) return 0;
    i += used;
    hi = lo;
    if (p[i] == '-') {
      used = class_bound(p + i + 1, &hi);
      if (!used) return 0;
      i += 1 + used;
    }
    if (out) out[n] = (rune_range){lo, hi};
    n++;
  }
}

static bool valid_pattern(const char *p) {
  for (size_t i = 0; p[i];) {
    if (p[i] == '\\') {
      if (!p[i + 1]) return false;
      i += 2;
    } else if (p[i] == '[') {
      bool neg;
      size_t count;
      size_t used = parse_class(p + i + 1, &neg, NULL, &count);
      if (!used) return false;
      i += 1 + used;
    } else {
      i++;
    }
  }
  return true;
}

/* ---- compiling a pattern (patternmatcher's compile) ---- */

static int push_token(ignore_pattern *pat, token t) {
  token *nv = realloc(pat->tokens, (pat->n_tokens + 1) * sizeof *nv);
  if (!nv) return -1;
  pat->tokens = nv;
  pat->tokens[pat->n_tokens++] = t;
  return 0;
}

static int push_class(ignore_pattern *pat, const char *p, size_t *used) {
  size_t room = strlen(p) + 1; /* a class holds fewer ranges than bytes */
  rune_range *nv = realloc(pat->ranges, (pat->n_ranges + room) * sizeof *nv);
  if (!nv) return -1;
  pat->ranges = nv;
  token t = {TOK_CLASS, 0, false, pat->n_ranges, 0};
  *used = parse_class(p, &t.negated, pat->ranges + pat->n_ranges, &t.n_ranges);
  pat->n_ranges += t.n_ranges;
  return push_token(pat, t);
}

/* "**": folders (or everything at the end). Updates the match kind the way
 * patternmatcher does. */
static int compile_double_star(ignore_pattern *pat, const char **pp, size_t rune_index) {
  const char *p = *pp + 1; /* past the second '*' */
  if (*p == '/') p++;
  int r = 0;
  if (!*p) {
    if (pat->kind == MATCH_EXACT)
      pat->kind = MATCH_PREFIX;
    else
      pat->kind = MATCH_GENERAL;
    r = push_token(pat, (token){TOK_ANY_TAIL, 0, false, 0, 0});
  } else {
    pat->kind = MATCH_GENERAL;
    r = push_token(pat, (token){TOK_ANY_DIRS, 0, false, 0, 0});
  }
  if (rune_index == 0) pat->kind = MATCH_SUFFIX;
  *pp = p;
  return r;
}

static int compile_pattern(ignore_pattern *pat) {
  pat->kind = MATCH_EXACT;
  const char *p = pat->text;
  for (size_t i = 0; *p; i++) {
    uint32_t ch;
    size_t len = decode_rune((const unsigned char *)p, strlen(p), &ch);
    int r = 0;
    if (ch == '*' && p[1] == '*') {
      p++;
      r = compile_double_star(pat, &p, i);
      len = 0;
    } else if (ch == '*' || ch == '?') {
      pat->kind = MATCH_GENERAL;
      r = push_token(pat, (token){ch == '*' ? TOK_STAR : TOK_ANY, 0, false, 0, 0});
    } else if (ch == '\\') {
      pat->kind = MATCH_GENERAL;
      len = 1 + decode_rune((const unsigned char *)p + 1, strlen(p + 1), &ch);
      r = push_token(pat, (token){TOK_LITERAL, ch, false, 0, 0});
    } else if (ch == '[') {
      pat->kind = MATCH_GENERAL;
      size_t used = 0;
      r = push_class(pat, p + 1, &used);
      len = 1 + used;
    } else {
      if (ch == ']') pat->kind = MATCH_GENERAL;
      r = push_token(pat, (token){TOK_LITERAL, ch, false, 0, 0});
    }
    if (r < 0) return -1;
    p += len;
  }
  return 0;
}

/* ---- running a general pattern ---- */

static bool class_has(const ignore_pattern *pat, const token *t, uint32_t c) {
  bool in = false;
  for (size_t i = 0; i < t->n_ranges && !in; i++) {
    const rune_range *r = &pat->ranges[t->first_range + i];
    in = r->lo <= c && c <= r->hi;
  }
  return in != t->negated;
}

/* Zero-width moves: '*' and '**' may match nothing. */
static void close_states(const ignore_pattern *pat, unsigned char *at) {
  for (size_t k = 0; k < pat->n_tokens; k++) {
    token_kind kind = pat->tokens[k].kind;
    if (at[k] && (kind == TOK_STAR || kind == TOK_ANY_DIRS || kind == TOK_ANY_TAIL)) at[k + 1] = 1;
  }
}

/* One rune c from states (at, inside) to (nat, ninside). inside[k] means
 * "within the .* of a '**' at k, waiting for its '/'". */
static bool step(const ignore_pattern *pat, const unsigned char *at, const unsigned char *inside,
                 unsigned char *nat, unsigned char *ninside, uint32_t c) {
  size_t m = pat->n_tokens;
  bool alive = false;
  memset(nat, 0, m + 1);
  memset(ninside, 0, m + 1);
  for (size_t k = 0; k < m; k++) {
    const token *t = &pat->tokens[k];
    if (!at[k] && !(t->kind == TOK_ANY_DIRS && inside[k])) continue;
    switch (t->kind) {
    case TOK_LITERAL:
      nat[k + 1] |= c == t->rune;
      break;
    case TOK_ANY:
      nat[k + 1] |= c != '/';
      break;
    case TOK_STAR:
      nat[k] |= c != '/';
      break;
    case TOK_CLASS:
      nat[k + 1] |= class_has(pat, t, c);
      break;
    case TOK_ANY_TAIL:
      nat[k] |= c != '\n';
      break; /* Go's '.' stops at newlines */
    case TOK_ANY_DIRS:
      ninside[k] |= c != '\n';
      nat[k + 1] |= c == '/';
      break;
    }
  }
  close_states(pat, nat);
  for (size_t k = 0; k <= m && !alive; k++)
    alive = nat[k] || ninside[k];
  return alive;
}

static bool match_general(kiln_ignore *ig, const ignore_pattern *pat, const char *s, size_t n) {
  size_t row = ig->max_tokens + 1;
  unsigned char *at = ig->scratch, *inside = at + row, *nat = inside + row, *ninside = nat + row;
  memset(at, 0, pat->n_tokens + 1);
  memset(inside, 0, pat->n_tokens + 1);
  at[0] = 1;
  close_states(pat, at);
  for (size_t i = 0; i < n;) {
    uint32_t c;
    i += decode_rune((const unsigned char *)s + i, n - i, &c);
    if (!step(pat, at, inside, nat, ninside, c)) return false;
    unsigned char *swap = at;
    at = nat, nat = swap;
    swap = inside, inside = ninside, ninside = swap;
  }
  return at[pat->n_tokens];
}

/* Pattern.match on the first n bytes of s. */
static bool match_pattern(kiln_ignore *ig, const ignore_pattern *pat, const char *s, size_t n) {
  size_t tn = strlen(pat->text);
  switch (pat->kind) {
  case MATCH_EXACT:
    return n == tn && !memcmp(s, pat->text, n);
  case MATCH_PREFIX:
    return n >= tn - 2 && !memcmp(s, pat->text, tn - 2);
  case MATCH_SUFFIX: {
    const char *suffix = pat->text + 2;
    size_t sn = tn - 2;
    if (n >= sn && !memcmp(s + n - sn, suffix, sn)) return true;
    /* a leading "**" + "/" also matches the bare rest */
    return suffix[0] == '/' && n == sn - 1 && !memcmp(s, suffix + 1, n);
  }
  case MATCH_GENERAL:
    return match_general(ig, pat, s, n);
  }
  return false;
}

/* The pattern matches path or one of its parent folders. */
static bool match_or_parent(kiln_ignore *ig, const ignore_pattern *pat, const char *path) {
  size_t n = strlen(path);
  if (match_pattern(ig, pat, path, n)) return true;
  for (size_t i = 0; i < n; i++)
    if (path[i] == '/' && match_pattern(ig, pat, path, i)) return true;
  return false;
}

bool kiln_ignore_match(kiln_ignore *ig, const char *path) {
  bool matched = false;
  for (size_t i = 0; ig && i < ig->n; i++) {
    const ignore_pattern *pat = &ig->v[i];
    if (pat->exception != matched) continue; /* cannot change the outcome */
    if (match_or_parent(ig, pat, path)) matched = !pat->exception;
  }
  return matched;
}

size_t kiln_ignore_count(const kiln_ignore *ig) {
  return ig ? ig->n : 0;
}

/* patternmatcher.MatchesUsingParentResults. A pattern the parent matched
 * counts as matched without a look; a pattern skipped because it could not
 * change the outcome so far is recorded as not matched (the child then
 * tests it on its own path only, never on its parents): that is why, with
 * every "*.txt" at any depth excluded and then "!README.md", nothing under
 * a folder README.md/y.txt is sent. */
bool kiln_ignore_match_below(kiln_ignore *ig, const char *path, const bool *parent, bool *out) {
  bool matched = false;
  for (size_t i = 0; ig && i < ig->n; i++) {
    const ignore_pattern *pat = &ig->v[i];
    bool match = parent && parent[i];
    if (!match) {
      if (out) out[i] = false;
      if (pat->exception != matched) continue; /* cannot change the outcome */
      match = parent ? match_pattern(ig, pat, path, strlen(path)) : match_or_parent(ig, pat, path);
    }
    if (out) out[i] = match;
    if (match) matched = !pat->exception;
  }
  return matched;
}

bool kiln_ignore_walk_excluded_dir(const kiln_ignore *ig, const char *dir) {
  size_t dn = strlen(dir);
  for (size_t i = 0; ig && i < ig->n; i++) {
    const ignore_pattern *pat = &ig->v[i];
    if (!pat->exception) continue;
    /* (pattern + "/") starts with (dir + "/") */
    size_t pn = strlen(pat->text);
    if (pn >= dn && !memcmp(pat->text, dir, dn) && (pn == dn || pat->text[dn] == '/')) return true;
  }
  return false;
}

/* ---- reading the file (docker/cli's ReadAll, then patternmatcher.New) ---- */

static bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Trims s[0..*n) in place; returns the new start. */
static const char *trim(const char *s, size_t *n) {
  while (*n && is_space(*s))
    s++, (*n)--;
  while (*n && is_space(s[*n - 1]))
    (*n)--;
  return s;
}

/* The text patternmatcher receives for one line: "" for none, else a new
 * string ("!" + cleaned pattern for an exception). */
static char *line_to_pattern(const char *line, size_t n) {
  if (n && line[0] == '#') return strdup("");
  line = trim(line, &n);
  bool exception = n && line[0] == '!';
  if (exception) {
    n--;
    line = trim(line + 1, &n);
  }
  _cleanup_free_ char *raw = strndup(line, n);
  if (!raw) return NULL;
  _cleanup_free_ char *clean = n ? clean_path(raw) : strdup("");
  if (!clean) return NULL;
  const char *p = clean;
  if (strlen(p) > 1 && p[0] == '/') p++;
  char *out = NULL;
  if (asprintf(&out, "%s%s", exception ? "!" : "", p) < 0) return NULL;
  return out;
}

static int add_pattern(kiln_ignore *ig, const char *text, size_t line_no, kiln_error **err) {
  _cleanup_free_ char *clean = clean_path(text);
  if (!clean) return kiln_error_oom(err);
  ignore_pattern pat = {0};
  const char *p = clean;
  if (p[0] == '!') {
    if (!p[1])
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            ".dockerignore line %zu: illegal exclusion pattern \"!\"", line_no);
    pat.exception = true;
    p++;
  }
  if (!valid_pattern(p))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          ".dockerignore line %zu: bad pattern \"%s\" (unclosed '[', bad range "
                          "or trailing '\\')",
                          line_no, p);
  if (ig->n >= KILN_MAX_DOCKERIGNORE_PATTERNS)
    return kiln_error_set(err, KILN_EXIT_USAGE, ".dockerignore has more than %d patterns",
                          KILN_MAX_DOCKERIGNORE_PATTERNS);
  if (!(pat.text = strdup(p)) || compile_pattern(&pat) < 0) {
    free(pat.text);
    free(pat.tokens);
    free(pat.ranges);
    return kiln_error_oom(err);
  }
  ig->v[ig->n++] = pat;
  ig->has_exceptions |= pat.exception;
  if (pat.n_tokens > ig->max_tokens) ig->max_tokens = pat.n_tokens;
  return 0;
}

static int parse_lines(kiln_ignore *ig, const char *text, size_t len, kiln_error **err) {
  if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3;
  size_t line_no = 0;
  for (size_t pos = 0; pos < len;) {
    const char *start = text + pos;
    const char *nl = memchr(start, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - start) : len - pos;
    pos += n + 1;
    line_no++;
    if (n && start[n - 1] == '\r') n--; /* bufio.ScanLines drops one CR */
    if (n > KILN_MAX_PATH)
      return kiln_error_set(err, KILN_EXIT_USAGE, ".dockerignore line %zu is longer than %d bytes",
                            line_no, KILN_MAX_PATH);
    _cleanup_free_ char *pattern = line_to_pattern(start, n);
    if (!pattern) return kiln_error_oom(err);
    if (*pattern && add_pattern(ig, pattern, line_no, err) < 0) return -1;
  }
  return 0;
}

kiln_ignore *kiln_ignore_parse(const char *text, size_t len, kiln_error **err) {
  kiln_ignore *ig = calloc(1, sizeof *ig);
  if (!ig || !(ig->v = calloc(KILN_MAX_DOCKERIGNORE_PATTERNS, sizeof *ig->v))) {
    kiln_ignore_free(ig);
    return kiln_error_oom(err), NULL;
  }
  if (parse_lines(ig, text, len, err) < 0) {
    kiln_ignore_free(ig);
    return NULL;
  }
  if (!(ig->scratch = malloc(4 * (ig->max_tokens + 1)))) {
    kiln_ignore_free(ig);
    return kiln_error_oom(err), NULL;
  }
  return ig;
}

void kiln_ignore_free(kiln_ignore *ig) {
  if (!ig) return;
  for (size_t i = 0; ig->v && i < ig->n; i++) {
    free(ig->v[i].text);
    free(ig->v[i].tokens);
    free(ig->v[i].ranges);
  }
  free(ig->v);
  free(ig->scratch);
  free(ig);
}
