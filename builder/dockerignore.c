/* .dockerignore matching: each pattern becomes an anchored pcre2 regex the
 * way moby's patternmatcher builds its regexps. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "dockerignore.h"

#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"

typedef struct {
  pcre2_code *re;
  bool exception; /* "!pattern" */
  int depth;      /* number of path components in the pattern */
} ignore_pattern;

struct kiln_ignore {
  ignore_pattern *v;
  size_t n;
  bool has_exceptions;
  pcre2_match_data *md;
};

/* filepath.Clean for relative patterns: drops "." and empty parts, folds
 * "x/.." and strips a leading '/'. Returns a new string ("." when empty). */
static char *clean_path(const char *p) {
  size_t n = strlen(p);
  char *out = malloc(n + 2);
  if (!out) return NULL;
  size_t w = 0;
  for (size_t r = 0; r < n;) {
    while (r < n && p[r] == '/') r++;
    size_t start = r;
    while (r < n && p[r] != '/') r++;
    size_t len = r - start;
    if (len == 0 || (len == 1 && p[start] == '.')) continue;
    if (len == 2 && p[start] == '.' && p[start + 1] == '.') {
      if (w > 0) { /* drop the last component */
        while (w > 0 && out[w - 1] != '/') w--;
        if (w > 0) w--;
        continue;
      }
    }
    if (w) out[w++] = '/';
    memcpy(out + w, p + start, len);
    w += len;
  }
  if (!w) out[w++] = '.';
  out[w] = '\0';
  return out;
}

static int count_components(const char *p) {
  int n = 1;
  for (; *p; p++) n += *p == '/';
  return n;
}

/* Translates one cleaned pattern to a regex (moby's patternmatcher rules). */
static int to_regex(const char *pat, kiln_buf *re) {
  int r = kiln_buf_puts(re, "^");
  for (const char *p = pat; *p && r == 0; p++) {
    if (p[0] == '*' && p[1] == '*') {
      p++;
      if (p[1] == '/') { /* "**" + "/" : any number of folders, even none */
        p++;
        r = kiln_buf_puts(re, p[1] ? "(?:.*/)?" : ".*");
      } else {
        r = kiln_buf_puts(re, ".*");
      }
    } else if (*p == '*') {
      r = kiln_buf_puts(re, "[^/]*");
    } else if (*p == '?') {
      r = kiln_buf_puts(re, "[^/]");
    } else if (*p == '[') {
      const char *end = strchr(p + 1, ']');
      if (!end) return -1;
      r = kiln_buf_puts(re, "[");
      if (p[1] == '^' || p[1] == '!') r = kiln_buf_puts(re, "^"), p++;
      r = r ? r : kiln_buf_append(re, p + 1, (size_t)(end - p - 1));
      r = r ? r : kiln_buf_puts(re, "]");
      p = end;
    } else if (*p == '\\') {
      if (!p[1]) return -1;
      p++;
      r = kiln_buf_printf(re, "\\x{%x}", (unsigned char)*p);
    } else if (strchr(".+()|{}^$", *p)) {
      r = kiln_buf_printf(re, "\\%c", *p);
    } else {
      r = kiln_buf_append(re, p, 1);
    }
  }
  return r ? r : kiln_buf_puts(re, "$");
}

static int add_pattern(kiln_ignore *ig, const char *line, kiln_error **err) {
  bool exception = line[0] == '!';
  if (exception) line++;
  while (*line == ' ' || *line == '\t') line++;
  _cleanup_free_ char *clean = clean_path(line);
  _cleanup_buf_ kiln_buf re = KILN_BUF_INIT(8 * KILN_MAX_PATH);
  if (!clean) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  if (to_regex(clean, &re) < 0)
    return kiln_error_set(err, KILN_EXIT_USAGE, ".dockerignore: bad pattern \"%s\"", line);
  int code;
  PCRE2_SIZE off;
  pcre2_code *c = pcre2_compile((PCRE2_SPTR)re.data, re.len, PCRE2_DOTALL, &code, &off, NULL);
  if (!c) return kiln_error_set(err, KILN_EXIT_USAGE, ".dockerignore: bad pattern \"%s\"", line);
  ig->v[ig->n++] = (ignore_pattern){c, exception, count_components(clean)};
  ig->has_exceptions |= exception;
  return 0;
}

kiln_ignore *kiln_ignore_parse(const char *text, size_t len, kiln_error **err) {
  kiln_ignore *ig = calloc(1, sizeof *ig);
  if (!ig || !(ig->v = calloc(KILN_MAX_DOCKERIGNORE_PATTERNS, sizeof *ig->v)) ||
      !(ig->md = pcre2_match_data_create(1, NULL))) {
    kiln_ignore_free(ig);
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  }
  for (size_t pos = 0; pos < len;) {
    const char *start = text + pos;
    const char *nl = memchr(start, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - start) : len - pos;
    pos += n + 1;
    _cleanup_free_ char *line = strndup(start, n);
    if (!line) continue;
    /* trim like the docker CLI: surrounding whitespace, CR */
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r')) s[--l] = '\0';
    if (!*s || *s == '#') continue;
    if (ig->n >= KILN_MAX_DOCKERIGNORE_PATTERNS) {
      kiln_ignore_free(ig);
      return kiln_error_set(err, KILN_EXIT_USAGE, ".dockerignore has more than %d patterns",
                            KILN_MAX_DOCKERIGNORE_PATTERNS), NULL;
    }
    if (add_pattern(ig, s, err) < 0) {
      kiln_ignore_free(ig);
      return NULL;
    }
  }
  return ig;
}

void kiln_ignore_free(kiln_ignore *ig) {
  if (!ig) return;
  for (size_t i = 0; ig->v && i < ig->n; i++) pcre2_code_free(ig->v[i].re);
  free(ig->v);
  pcre2_match_data_free(ig->md);
  free(ig);
}

static bool match_one(const kiln_ignore *ig, const ignore_pattern *p, const char *s, size_t n) {
  return pcre2_match(p->re, (PCRE2_SPTR)s, n, 0, 0, ig->md, NULL) >= 0;
}

/* The pattern matches path, or the parent folder of path with as many
 * components as the pattern has (moby's MatchesOrParentMatches). */
static bool match_or_parent(const kiln_ignore *ig, const ignore_pattern *p, const char *path) {
  size_t n = strlen(path);
  if (match_one(ig, p, path, n)) return true;
  int depth = 0;
  for (size_t i = 0; i < n; i++) {
    if (path[i] == '/' && ++depth == p->depth) return match_one(ig, p, path, i);
  }
  return false;
}

bool kiln_ignore_match(const kiln_ignore *ig, const char *path) {
  bool matched = false;
  for (size_t i = 0; ig && i < ig->n; i++) {
    const ignore_pattern *p = &ig->v[i];
    if (p->exception != matched) continue; /* cannot change the outcome */
    if (match_or_parent(ig, p, path)) matched = !p->exception;
  }
  return matched;
}

bool kiln_ignore_has_exceptions(const kiln_ignore *ig) { return ig && ig->has_exceptions; }
