/* jsoncheck: checks that stdin is what docs/json.md promises, parsed with
 * jansson (the library kiln prints with). Used by the integration tests.
 *
 *   jsoncheck object|array|lines [--min N] [--where KEY=VALUE] [CHECK...]
 *
 * object: exactly one JSON object on one line; array: exactly one array on
 * one line; lines: one object per line (a stream), at least one line.
 * CHECK is KEY:TYPE[|TYPE...] (TYPE: string, integer, boolean, null, array,
 * object, number) or KEY=VALUE (VALUE a JSON literal, else a string). For an
 * array the checks apply to every element (after --where keeps those whose
 * KEY equals VALUE; --min N: at least N of them); for lines, to the last
 * line. Exit 0 when all hold; 1 with the reasons on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_INPUT (64u << 20)

static int failures;

static void failf(const char *what, const char *detail) {
  fprintf(stderr, "jsoncheck: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  failures++;
}

static char *read_all(FILE *f, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap + 1);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap && cap < MAX_INPUT) {
      char *bigger = realloc(buf, 2 * cap + 1);
      if (!bigger) return free(buf), NULL;
      buf = bigger, cap *= 2;
    }
  }
  if (buf) buf[n] = '\0';
  *len = n;
  return buf;
}

static const char *type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
    return "integer";
  case JSON_REAL:
    return "real";
  case JSON_TRUE:
  case JSON_FALSE:
    return "boolean";
  default:
    return "null";
  }
}

static int type_matches(const json_t *v, const char *types) {
  const char *t = type_name(v);
  size_t n = strlen(t);
  for (const char *p = types; *p;) {
    size_t len = strcspn(p, "|");
    if ((len == n && !strncmp(p, t, n)) ||
        (len == 6 && !strncmp(p, "number", 6) && json_is_number(v)))
      return 1;
    p += len + (p[len] == '|');
  }
  return 0;
}

/* VALUE as JSON (true, 3, "x", null), else as a plain string. New ref. */
static json_t *literal(const char *text) {
  json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
  return v ? v : json_string(text);
}

static int has_value(const json_t *obj, const char *key_eq_value) {
  const char *eq = strchr(key_eq_value, '=');
  char key[256];
  snprintf(key, sizeof key, "%.*s", (int)(eq - key_eq_value), key_eq_value);
  json_t *want = literal(eq + 1);
  int same = json_equal(json_object_get(obj, key), want);
  json_decref(want);
  return same;
}

static void check_one(const json_t *obj, const char *check, size_t index) {
  char where[64];
  snprintf(where, sizeof where, "element %zu", index);
  if (!json_is_object(obj)) {
    failf("not an object", where);
    return;
  }
  const char *colon = strchr(check, ':'), *eq = strchr(check, '=');
  if (eq && (!colon || eq < colon)) {
    if (!has_value(obj, check)) {
      char *text = json_dumps(obj, JSON_COMPACT);
      fprintf(stderr, "jsoncheck: %s: expected %s in %s\n", where, check, text ? text : "?");
      free(text);
      failures++;
    }
    return;
  }
  if (!colon) {
    failf("a check is KEY:TYPE or KEY=VALUE, not", check);
    return;
  }
  char key[256];
  snprintf(key, sizeof key, "%.*s", (int)(colon - check), check);
  json_t *v = json_object_get(obj, key);
  if (!v) {
    fprintf(stderr, "jsoncheck: %s: no key '%s'\n", where, key);
    failures++;
  } else if (!type_matches(v, colon + 1)) {
    fprintf(stderr, "jsoncheck: %s: '%s' is %s, expected %s\n", where, key, type_name(v),
            colon + 1);
    failures++;
  }
}

static void check_all(const json_t *obj, char **checks, int n, size_t index) {
  for (int i = 0; i < n; i++)
    check_one(obj, checks[i], index);
}

/* Exactly one document of the wanted type, on one line. */
static json_t *one_document(const char *text, size_t len, json_type want) {
  json_error_t e;
  json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &e);
  if (!doc) return failf("not one JSON document", e.text), NULL;
  if (json_typeof(doc) != want) failf("wrong type", type_name(doc));
  const char *nl = memchr(text, '\n', len);
  if (!nl || nl != text + len - 1) failf("not exactly one line ending in a newline", NULL);
  return doc;
}

static int check_lines(char *text, char **checks, int n) {
  json_t *last = NULL;
  size_t count = 0;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    json_error_t e;
    json_decref(last);
    last = json_loads(line, 0, &e);
    if (!json_is_object(last)) {
      fprintf(stderr, "jsoncheck: line %zu is no JSON object: %s\n", count + 1, e.text);
      failures++;
    }
    count++;
  }
  if (!count) failf("no lines", NULL);
  if (last) check_all(last, checks, n, count - 1);
  json_decref(last);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: jsoncheck object|array|lines [--min N] [--where K=V] [KEY:TYPE|KEY=VALUE...]\n",
          stderr);
    return 2;
  }
  const char *kind = argv[1], *where = NULL;
  long min = 0;
  int i = 2;
  for (; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--min"))
      min = strtol(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--where"))
      where = argv[i + 1];
    else
      break;
  }
  if (where && !strchr(where, '=')) return failf("--where needs KEY=VALUE", where), 2;
  size_t len;
  char *text = read_all(stdin, &len);
  if (!text) return failf("cannot read stdin", NULL), 1;
  if (!strcmp(kind, "lines")) {
    int r = check_lines(text, argv + i, argc - i);
    free(text);
    return r;
  }
  json_t *doc = one_document(text, len, !strcmp(kind, "array") ? JSON_ARRAY : JSON_OBJECT);
  free(text);
  if (json_is_object(doc) && !strcmp(kind, "object")) check_all(doc, argv + i, argc - i, 0);
  if (json_is_array(doc) && !strcmp(kind, "array")) {
    size_t k, kept = 0;
    json_t *el;
    json_array_foreach(doc, k, el) {
      if (where && !(json_is_object(el) && has_value(el, where))) continue;
      kept++;
      check_all(el, argv + i, argc - i, k);
    }
    if ((long)kept < min) {
      fprintf(stderr, "jsoncheck: %zu element(s)%s%s, expected at least %ld\n", kept,
              where ? " with " : "", where ? where : "", min);
      failures++;
    }
  }
  json_decref(doc);
  return failures ? 1 : 0;
}
