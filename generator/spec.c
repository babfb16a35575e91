/* kiln.yaml → kiln_spec: the walk over the YAML tree, error collection,
 * loading and locating the file. The per-key handler tables live in
 * spec_keys.c (curl's tool_getparam style); every problem is recorded with
 * its file:line:col and the walk goes on, so `kiln validate` reports all of
 * them at once. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/access.h"
#include "sanitize/sanitize.h"
#include "spec_private.h"
#include "util/buf.h"
#include "util/cleanup.h"

/* ---- errors ---- */

/* Messages echo values from the file; a control character there must not
 * reach the user's terminal. */
static void blank_controls(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int spec_fail(spec_parser *p, const ynode *at, const char *fmt, ...) {
  if (p->errors >= KILN_MAX_ERRORS) {
    p->errors++;
    return -1;
  }
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  blank_controls(msg);
  spec_problem *pr = &p->problems[p->errors];
  *pr = (spec_problem){at ? at->line : 1, at ? at->col : 1, p->errors, strdup(msg)};
  p->errors++;
  return -1;
}

static int by_position(const void *a, const void *b) {
  const spec_problem *x = a, *y = b;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  if (x->col != y->col) return x->col < y->col ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves the recorded problems into *err, in file order. */
static void report_problems(spec_parser *p, kiln_error **err) {
  size_t n = p->errors < KILN_MAX_ERRORS ? (size_t)p->errors : KILN_MAX_ERRORS;
  qsort(p->problems, n, sizeof *p->problems, by_position);
  for (size_t i = 0; i < n; i++) {
    spec_problem *pr = &p->problems[i];
    kiln_error_set(err, KILN_EXIT_USAGE, "%s:%d:%d: %s", p->name, pr->line, pr->col,
                   pr->message ? pr->message : "out of memory");
    free(pr->message);
  }
  if (p->errors > KILN_MAX_ERRORS)
    kiln_error_set(err, KILN_EXIT_USAGE, "%s: %d more errors not shown", p->name,
                   p->errors - KILN_MAX_ERRORS);
}

int spec_checked_as(spec_parser *p, const ynode *at, const char *what, int r) {
  if (r < 0) {
    for (const kiln_error *e = p->sub; e; e = e->next) {
      bool named = !what || !strncmp(e->message, what, strlen(what));
      spec_fail(p, at, "%s%s%s", named ? "" : what, named ? "" : ": ", e->message);
    }
    if (!p->sub) spec_fail(p, at, "%s: invalid value", what ? what : "value");
  }
  kiln_error_free(p->sub);
  p->sub = NULL;
  return r;
}

int spec_checked(spec_parser *p, const ynode *at, int r) {
  return spec_checked_as(p, at, NULL, r);
}

int spec_oom(spec_parser *p, const ynode *at) {
  return spec_fail(p, at, "out of memory");
}

/* ---- scalar readers ---- */

const char *spec_text(spec_parser *p, const ynode *n, const char *what) {
  if (n->kind == YNODE_SCALAR) return n->text;
  spec_fail(p, n, "%s must be text, not %s", what, ynode_kind_name(n->kind));
  return NULL;
}

const char *spec_number_text(spec_parser *p, const ynode *n, const char *what) {
  if (n->kind != YNODE_SCALAR) {
    spec_fail(p, n, "%s must be a number, not %s", what, ynode_kind_name(n->kind));
    return NULL;
  }
  if (!*n->text) {
    spec_fail(p, n, "%s is empty; expected a number", what);
    return NULL;
  }
  return n->text;
}

static bool in_words(const char *s, const char *const *words) {
  for (; *words; words++)
    if (!strcasecmp(s, *words)) return true;
  return false;
}

int spec_bool(spec_parser *p, const ynode *n, const char *what, bool *out) {
  static const char *const true_words[] = {"true", "yes", NULL};
  static const char *const false_words[] = {"false", "no", NULL};
  if (n->kind == YNODE_SCALAR && n->plain) {
    if (in_words(n->text, true_words)) return *out = true, 0;
    if (in_words(n->text, false_words)) return *out = false, 0;
  }
  if (n->kind != YNODE_SCALAR)
    return spec_fail(p, n, "%s must be true or false, not %s", what, ynode_kind_name(n->kind));
  return spec_fail(p, n, "%s must be true or false (unquoted), not %s\"%.64s\"", what,
                   n->plain ? "" : "the quoted text ", n->text);
}

int spec_keep(spec_parser *p, const ynode *at, char **out, const char *s) {
  char *copy = strdup(s);
  if (!copy) return spec_oom(p, at);
  free(*out);
  *out = copy;
  return 0;
}

/* ---- mappings ---- */

static const spec_key *find_key(const spec_key *table, const char *key) {
  for (const spec_key *h = table; h->key; h++)
    if (!strcmp(h->key, key)) return h;
  return NULL;
}

static const char *section_name(const char *section) {
  return section ? section : "the top level";
}

static int unknown_key(spec_parser *p, const ynode *key, const char *section,
                       const spec_key *table) {
  enum { MAX_KEYS = 32 };
  const char *names[MAX_KEYS + 1];
  size_t n = 0;
  _cleanup_buf_ kiln_buf list = KILN_BUF_INIT(1024);
  for (const spec_key *h = table; h->key && n < MAX_KEYS; h++) {
    names[n++] = h->key;
    kiln_buf_printf(&list, "%s%s", n > 1 ? ", " : "", h->key);
  }
  names[n] = NULL;
  const char *hint = kiln_did_you_mean(key->text, names);
  if (hint)
    return spec_fail(p, key, "unknown key \"%.64s\" in %s; did you mean \"%s\"?", key->text,
                     section_name(section), hint);
  return spec_fail(p, key, "unknown key \"%.64s\" in %s; expected one of: %s", key->text,
                   section_name(section), list.data ? list.data : "");
}

const ynode *spec_earlier_key(const ynode *map, size_t i) {
  const ynode *key = map->items[i];
  if (key->kind != YNODE_SCALAR) return NULL;
  for (size_t j = 0; j < i; j += 2)
    if (map->items[j]->kind == YNODE_SCALAR && !strcmp(map->items[j]->text, key->text))
      return map->items[j];
  return NULL;
}

/* "text", "a list", "text or a list", ... from a kinds mask. */
static const char *kinds_name(unsigned kinds) {
  switch (kinds) {
  case SPEC_TEXT:
    return "text";
  case SPEC_MAP:
    return "a mapping (key: value lines)";
  case SPEC_LIST:
    return "a list";
  default:
    return "text or a list";
  }
}

static int walk_entry(spec_parser *p, const ynode *map, size_t i, const char *section,
                      const spec_key *table) {
  const ynode *key = map->items[i], *value = map->items[i + 1];
  if (key->kind != YNODE_SCALAR)
    return spec_fail(p, key, "keys in %s must be plain words, not %s", section_name(section),
                     ynode_kind_name(key->kind));
  const ynode *first = spec_earlier_key(map, i);
  if (first)
    return spec_fail(p, key, "duplicate key \"%.64s\" in %s (first at line %d)", key->text,
                     section_name(section), first->line);
  const spec_key *h = find_key(table, key->text);
  if (!h) return unknown_key(p, key, section, table);
  if (ynode_is_null(value)) return 0; /* `key:` with nothing is the same as absent */
  if (!(h->kinds & (1u << value->kind)))
    return spec_fail(p, value, "%s%s%s must be %s, not %s", section ? section : "",
                     section ? "." : "", h->key, h->expect ? h->expect : kinds_name(h->kinds),
                     ynode_kind_name(value->kind));
  return h->fn(p, value);
}

int spec_walk_map(spec_parser *p, const ynode *map, const char *section, const spec_key *table) {
  int r = 0;
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (walk_entry(p, map, i, section, table) < 0) r = -1;
  return r;
}

/* ---- lists ---- */

int spec_strv_push(kiln_strv *v, const char *s) {
  char **nv = realloc(v->v, (v->n + 2) * sizeof *nv);
  if (!nv) return -1;
  v->v = nv;
  nv[v->n] = NULL;
  if (!(nv[v->n] = strdup(s))) return -1;
  nv[++v->n] = NULL;
  return 0;
}

static void strv_clear(kiln_strv *v) {
  for (size_t i = 0; i < v->n; i++)
    free(v->v[i]);
  free(v->v);
  *v = (kiln_strv){NULL, 0};
}

int spec_text_list(spec_parser *p, const ynode *seq, const char *what,
                   int (*check)(const char *, kiln_error **), kiln_strv *out) {
  int r = 0;
  for (size_t i = 0; i < seq->n; i++) {
    const ynode *item = seq->items[i];
    const char *s = spec_text(p, item, what);
    if (!s || (check && spec_checked(p, item, check(s, &p->sub)) < 0)) {
      r = -1;
      continue;
    }
    if (spec_strv_push(out, s) < 0) return spec_oom(p, item);
  }
  return r;
}

/* ---- parse ---- */

/* The tree of text, or NULL with *err set (an empty file is an error too). */
static ynode *parse_tree(const char *name, const char *text, size_t len, kiln_error **err) {
  if (len > KILN_MAX_SPEC_BYTES) {
    kiln_error_set(err, KILN_EXIT_USAGE, "%s: larger than %u bytes", name, KILN_MAX_SPEC_BYTES);
    return NULL;
  }
  kiln_error *local = NULL;
  ynode *root = ynode_parse(name, text, len, &local);
  if (!root && !local)
    kiln_error_set(&local, KILN_EXIT_USAGE,
                   "%s:1:1: the file is empty; expected at least "
                   "project: and base:",
                   name);
  if (local) {
    ynode_free(root);
    for (kiln_error *e = local; e; e = e->next)
      kiln_error_set(err, e->code, "%s", e->message);
    kiln_error_free(local);
    return NULL;
  }
  return root;
}

static void walk_spec(spec_parser *p) {
  if (ynode_is_null(p->root)) {
    spec_fail(p, p->root, "the file is empty; expected at least project: and base:");
    return;
  }
  if (p->root->kind != YNODE_MAP) {
    spec_fail(p, p->root, "the top level must be a mapping (key: value lines), not %s",
              ynode_kind_name(p->root->kind));
    return;
  }
  spec_walk_map(p, p->root, NULL, spec_top_keys);
  spec_finish(p);
}

kiln_spec *kiln_spec_parse(const char *name, const char *dir, const char *text, size_t len,
                           const kiln_spec_options *opts, kiln_error **err) {
  ynode *root = parse_tree(name, text, len, err);
  if (!root) return NULL;
  kiln_spec *spec = calloc(1, sizeof *spec);
  spec_parser p = {.name = name, .dir = dir, .opts = opts, .spec = spec, .root = root};
  if (!spec || !(spec->path = strdup(name)) || !(spec->dir = strdup(dir)))
    spec_oom(&p, NULL);
  else
    walk_spec(&p);
  ynode_free(root);
  kiln_error_free(p.sub);
  report_problems(&p, err);
  if (p.errors) {
    kiln_spec_free(spec);
    return NULL;
  }
  return spec;
}

/* ---- files ---- */

/* kiln.yaml may be a symlink (a project can keep it elsewhere); a FIFO or
 * device is refused without blocking (kiln_fs_read_regular). */
static char *read_bounded(const char *path, size_t *len, kiln_error **err) {
  return kiln_fs_read_regular(path, true, KILN_MAX_SPEC_BYTES, len, err);
}

kiln_spec *kiln_spec_load(const char *yaml_path, const kiln_spec_options *opts, kiln_error **err) {
  size_t len = 0;
  _cleanup_free_ char *text = read_bounded(yaml_path, &len, err);
  if (!text) return NULL;
  _cleanup_free_ char *copy = strdup(yaml_path);
  _cleanup_free_ char *dir = copy ? realpath(dirname(copy), NULL) : NULL;
  if (!dir) {
    kiln_error_errno(err, errno, "cannot resolve the folder of %s", yaml_path);
    return NULL;
  }
  return kiln_spec_parse(yaml_path, dir, text, len, opts, err);
}

/* dir/kiln.yaml or dir/kiln.yml, a regular file first, else one that
 * exists at all (a FIFO, say: reading it then says what it is rather than
 * "no kiln.yaml"); a new string or NULL. */
static char *find_in(const char *dir) {
  static const char *const names[] = {"kiln.yaml", "kiln.yml"};
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  char *other = NULL;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char *candidate = NULL;
    struct stat st;
    if (asprintf(&candidate, "%.*s/%s", (int)n, dir, names[i]) < 0) break;
    if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) return free(other), candidate;
    if (!other && lstat(candidate, &st) == 0 && !S_ISDIR(st.st_mode))
      other = candidate;
    else
      free(candidate);
  }
  return other;
}

/* No kiln.yaml found in dir: say whether it is missing or unreadable (under
 * sudo kiln looks with the caller's rights). */
static void not_found(const char *dir, kiln_error **err) {
  _cleanup_free_ char *candidate = NULL;
  struct stat st;
  if (asprintf(&candidate, "%s/kiln.yaml", dir) >= 0 && stat(candidate, &st) < 0 &&
      errno == EACCES) {
    kiln_error_errno(err, EACCES, "cannot read %s", candidate);
    return;
  }
  kiln_error_set(err, KILN_EXIT_USAGE, "no kiln.yaml in %s", dir);
}

char *kiln_spec_locate(const char *path, kiln_error **err) {
  struct stat st;
  if (path && stat(path, &st) < 0 && errno == EACCES) {
    kiln_error_errno(err, EACCES, "cannot read %s", path);
    return NULL;
  }
  if (path && stat(path, &st) < 0) {
    kiln_error_set(err, KILN_EXIT_USAGE,
                   "%s does not exist; expected a kiln.yaml or a folder holding one", path);
    return NULL;
  }
  if (path && !S_ISDIR(st.st_mode)) {
    char *copy = strdup(path);
    if (!copy) kiln_error_oom(err);
    return copy;
  }
  if (path) {
    char *found = find_in(path);
    if (!found) not_found(path, err);
    return found;
  }
  _cleanup_free_ char *cwd = getcwd(NULL, 0);
  char *found = find_in(".");
  if (found && !strncmp(found, "./", 2)) memmove(found, found + 2, strlen(found + 2) + 1);
  if (!found)
    kiln_error_set(err, KILN_EXIT_USAGE, "no kiln.yaml in %s", cwd ? cwd : "the current folder");
  return found;
}

/* ---- freeing ---- */

static void kvv_clear(kiln_kvv *kv) {
  for (size_t i = 0; i < kv->n; i++) {
    free(kv->v[i].key);
    free(kv->v[i].value);
  }
  free(kv->v);
}

void kiln_spec_free(kiln_spec *s) {
  if (!s) return;
  free(s->path);
  free(s->dir);
  free(s->project);
  free(s->base_image);
  free(s->base_framework);
  free(s->base_version);
  free(s->base_python);
  free(s->user.name);
  free(s->user.requested_name);
  free(s->user.shell);
  strv_clear(&s->packages.apt);
  strv_clear(&s->packages.pip);
  strv_clear(&s->packages.groups);
  free(s->packages.requirements);
  free(s->packages.pip_index_url);
  free(s->packages.pip_extra_index_url);
  free(s->packages.pip_find_links);
  kvv_clear(&s->env);
  free(s->ports);
  free(s->workspace);
  for (size_t i = 0; i < s->n_files; i++) {
    free(s->files[i].src);
    free(s->files[i].dest);
  }
  free(s->files);
  strv_clear(&s->run);
  kvv_clear(&s->labels);
  free(s->ssh.authorized_keys);
  free(s->deploy.gpus);
  free(s->deploy.gpu_memory);
  free(s->deploy.runtime);
  strv_clear(&s->deploy.volumes);
  strv_clear(&s->deploy.command);
  strv_clear(&s->deploy.ports);
  kvv_clear(&s->deploy.env);
  free(s);
}
