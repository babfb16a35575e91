/* .dockerignore matching: a table of (file, path, excluded?) rows taken from
 * Docker's documentation, moby/patternmatcher's behaviour and what
 * docker-api-notes.md verified on the engine; then the reading rules and the
 * errors. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/image/dockerignore.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"

#include "kt_check.h"

typedef struct {
  const char *file; /* .dockerignore text */
  const char *path;
  bool excluded;
} match_case;

static const match_case cases[] = {
    /* Docker's documented examples */
    {"*/temp*", "somedir/temporary.txt", true},
    {"*/temp*", "somedir/temp", true},
    {"*/temp*", "somedir/temp/inner.txt", true}, /* under a matched folder */
    {"*/temp*", "temp", false},
    {"*/temp*", "a/b/temp", false},
    {"*/*/temp*", "somedir/subdir/temporary.txt", true},
    {"*/*/temp*", "somedir/temporary.txt", false},
    {"temp?", "tempa", true},
    {"temp?", "tempb/file", true},
    {"temp?", "temp", false},
    {"temp?", "tempab", false},
    {"**/*.go", "main.go", true},
    {"**/*.go", "cmd/x/main.go", true},
    {"**/*.go", "main.gox", false},
    {"*.md\n!README.md", "CHANGES.md", true},
    {"*.md\n!README.md", "README.md", false},
    {"*.md\n!README.md", "docs/CHANGES.md", false}, /* '*' stays at the top */
    {"*.md\n!README*.md\nREADME-secret.md", "README-secret.md", true},
    {"*.md\n!README*.md\nREADME-secret.md", "README-public.md", false},
    {"*.md\nREADME-secret.md\n!README*.md", "README-secret.md", false},
    /* verified on the engine (docker-api-notes.md, section 3) */
    {"*.go", "a.go", true},
    {"*.go", "sub/b.go", false},
    {"docs\n!docs/keep.md", "docs/keep.md", false},
    {"docs\n!docs/keep.md", "docs/other.md", true},
    {"!docs/keep.md\ndocs", "docs/keep.md", true},
    {"*/deep", "sub/deep", true},
    {"**/deep", "sub/deep", true},
    {"**/deep", "deep", true},
    {"**/deep", "a/b/deep/file", true},
    {"sub/**", "sub", false},
    {"sub/**", "sub/file", true},
    {"sub/**", "sub/a/b", true},
    {"*\n!sub", "sub/file", false},
    {"*\n!sub", "other", true},
    /* wildcards never cross '/' */
    {"a?b", "a/b", false},
    {"a*c", "ab/c", false},
    {"a*", "ab/c", true}, /* through the parent "ab" */
    {"a**b", "ab", true},
    {"a**b", "ax/b", true},
    {"a**b", "axb", false},
    {"**", "anything/at/all", true},
    {"**foo", "barfoo", true}, /* patternmatcher's suffix shortcut */
    {"x/**/y", "x/y", true},
    {"x/**/y", "x/a/b/y", true},
    {"x/**/y", "x/ay", false},
    /* classes and escapes (filepath.Match) */
    {"file[0-9].txt", "file3.txt", true},
    {"file[0-9].txt", "filex.txt", false},
    {"[^a]bc", "xbc", true},
    {"[^a]bc", "abc", false},
    {"[!a]bc", "!bc", true}, /* '!' is not a negation in Go */
    {"[!a]bc", "xbc", false},
    {"[\\]]x", "]x", true},
    {"\\*.txt", "*.txt", true},
    {"\\*.txt", "a.txt", false},
    {"a\\?b", "a?b", true},
    {"a\\?b", "axb", false},
    {"a.b", "axb", false}, /* '.' is literal */
    {"a+(b)", "a+(b)", true},
    {"caf?", "café", true}, /* '?' is one rune, not one byte */
    /* cleaning the pattern */
    {"/foo", "foo", true},
    {"./foo/../bar", "bar", true},
    {"foo/", "foo/x", true},
    {"a//b", "a/b", true},
    {"../x", "x", false},
    /* reading the file */
    {"# comment\nfoo", "# comment", false},
    {"  # x", "# x", true}, /* '#' only counts as the first byte */
    {"foo   \n", "foo", true},
    {"\xEF\xBB\xBF"
     "foo",
     "foo", true},
    {"foo\r\nbar\r\n", "bar", true},
    {"*\n!  keep", "keep", false},
    {"\n\n   \n", "x", false},
    {"", "x", false},
};

START_TEST(matches_like_docker) {
  const match_case *c = &cases[_i];
  _cleanup_error_ kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(c->file, strlen(c->file), &err);
  ck_assert_msg(ig, "parse \"%s\": %s", c->file, err ? err->message : "");
  ck_assert_msg(kiln_ignore_match(ig, c->path) == c->excluded, "\"%s\" on %s: expected %s", c->file,
                c->path, c->excluded ? "excluded" : "kept");
  kiln_ignore_free(ig);
}
END_TEST

static bool walks(const char *file, const char *dir) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(file, strlen(file), &err);
  ck_assert_ptr_nonnull(ig);
  bool r = kiln_ignore_walk_excluded_dir(ig, dir);
  kiln_ignore_free(ig);
  return r;
}

/* go-archive prunes an excluded folder unless an exception starts with it. */
START_TEST(excluded_folder_is_walked_only_for_a_literal_exception) {
  ck_assert(walks("build\n!build/keep/important.txt", "build"));
  ck_assert(walks("build\n!build/keep/important.txt", "build/keep"));
  ck_assert(walks("build\n!build", "build"));
  ck_assert(!walks("build\n!**/important.txt", "build"));
  ck_assert(!walks("build\n!buildx/a", "build"));
  ck_assert(!walks("build", "build"));
}
END_TEST

static void assert_parse_error(const char *file, const char *text) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(file, strlen(file), &err);
  ck_assert_ptr_null(ig);
  ck_assert_ptr_nonnull(err);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_msg(strstr(err->message, text), "expected \"%s\" in: %s", text, err->message);
}

START_TEST(bad_patterns_are_errors_naming_the_line) {
  assert_parse_error("ok\n[abc", ".dockerignore line 2: bad pattern \"[abc\"");
  assert_parse_error("a\\", "line 1: bad pattern \"a\\\"");
  assert_parse_error("[]a]", "bad pattern \"[]a]\"");
  assert_parse_error("[a-]", "bad pattern");
  assert_parse_error("x\n\n!", ".dockerignore line 3: illegal exclusion pattern \"!\"");
  assert_parse_error("!   ", "illegal exclusion pattern");
}
END_TEST

START_TEST(too_many_patterns_or_long_lines_are_refused) {
  size_t n = (KILN_MAX_DOCKERIGNORE_PATTERNS + 1) * 2;
  _cleanup_free_ char *many = malloc(n + 1);
  for (size_t i = 0; i < n; i += 2)
    memcpy(many + i, "a\n", 2);
  many[n] = '\0';
  assert_parse_error(many, "more than 4096 patterns");
  _cleanup_free_ char *longline = malloc(KILN_MAX_PATH + 2);
  memset(longline, 'a', KILN_MAX_PATH + 1);
  longline[KILN_MAX_PATH + 1] = '\0';
  assert_parse_error(longline, "line 1 is longer than 4096 bytes");
}
END_TEST

/* Whether the go-archive walk of "." excludes path: every folder above it
 * matched first, each passing its results down (MatchesUsingParentResults). */
static bool walk_excludes(const char *file, const char *path) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(file, strlen(file), &err);
  ck_assert_ptr_nonnull(ig);
  size_t n = kiln_ignore_count(ig);
  bool parent[16] = {0}, out[16] = {0}, have = false, excluded = false;
  ck_assert_uint_le(n, 16);
  char prefix[256];
  for (size_t i = 0;; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    memcpy(prefix, path, i);
    prefix[i] = '\0';
    excluded = kiln_ignore_match_below(ig, prefix, have ? parent : NULL, out);
    memcpy(parent, out, sizeof parent);
    have = true;
    if (!path[i]) break;
  }
  kiln_ignore_free(ig);
  return excluded;
}

/* Measured with the docker CLI (classic builder, COPY . /ctx): an exception
 * skipped at a folder (it could not change the outcome there) is not carried
 * to what lies below, so "!README.md" rescues nothing under README.md/y.txt. */
START_TEST(walk_carries_parent_results_like_docker) {
  ck_assert(!walk_excludes("**/*.txt\n!README.md", "README.md"));
  ck_assert(walk_excludes("**/*.txt\n!README.md", "README.md/y.txt"));
  ck_assert(walk_excludes("**/*.txt\n!README.md", "README.md/y.txt/b"));
  ck_assert(!walk_excludes("**/*.txt\n!README.md", "README.md/b"));
  ck_assert(!walk_excludes("docs\n!docs/keep.md", "docs/keep.md"));
  ck_assert(walk_excludes("docs\n!docs/keep.md", "docs/other.md"));
  ck_assert(!walk_excludes("*\n!sub", "sub/file"));
  ck_assert(walk_excludes("a\n!a/b\na/b/c", "a/b/c/d"));
  ck_assert(!walk_excludes("a\n!a/b\na/b/c", "a/b/x"));
}
END_TEST

/* Whether docker's walk of "." leaves path out: excluded itself, or below
 * a folder it excluded and pruned (no exception starts with that folder). */
static bool left_out_by_walk(const char *file, const char *path) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_ignore *ig = kiln_ignore_parse(file, strlen(file), &err);
  ck_assert_ptr_nonnull(ig);
  bool parent[16] = {0}, out[16] = {0}, have = false, excluded = false;
  ck_assert_uint_le(kiln_ignore_count(ig), 16);
  char prefix[256];
  for (size_t i = 0;; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    memcpy(prefix, path, i);
    prefix[i] = '\0';
    excluded = kiln_ignore_match_below(ig, prefix, have ? parent : NULL, out);
    memcpy(parent, out, sizeof parent);
    have = true;
    if (!path[i]) break;
    if (excluded && !kiln_ignore_walk_excluded_dir(ig, prefix)) break; /* pruned */
  }
  kiln_ignore_free(ig);
  return excluded;
}

/* The table again, through the walk docker really does (folders above a
 * path are visited first): every case holds there too. */
START_TEST(table_holds_for_the_walk) {
  const match_case *c = &cases[_i];
  ck_assert_msg(left_out_by_walk(c->file, c->path) == c->excluded,
                "\"%s\" on %s: expected %s by the walk", c->file, c->path,
                c->excluded ? "left out" : "sent");
}
END_TEST

START_TEST(null_matcher_excludes_nothing) {
  ck_assert(!kiln_ignore_match(NULL, "x"));
  ck_assert(!kiln_ignore_walk_excluded_dir(NULL, "x"));
}
END_TEST

static Suite *dockerignore_suite(void) {
  Suite *s = suite_create("dockerignore");
  TCase *tc = kt_tcase(s, "core", NULL, NULL);
  tcase_add_loop_test(tc, matches_like_docker, 0, (int)(sizeof cases / sizeof *cases));
  tcase_add_test(tc, excluded_folder_is_walked_only_for_a_literal_exception);
  tcase_add_test(tc, bad_patterns_are_errors_naming_the_line);
  tcase_add_test(tc, too_many_patterns_or_long_lines_are_refused);
  tcase_add_test(tc, walk_carries_parent_results_like_docker);
  tcase_add_loop_test(tc, table_holds_for_the_walk, 0, (int)(sizeof cases / sizeof *cases));
  tcase_add_test(tc, null_matcher_excludes_nothing);
  return s;
}

int main(void) {
  return kt_run_suite(dockerignore_suite());
}
