/* Golden Dockerfiles: every examples/<name>/kiln.yaml, loaded as user
 * "tester" 4242:4242, must generate exactly tests/golden/<name>.Dockerfile.
 * After an intended template change, run with KILN_UPDATE_GOLDEN=1 to
 * rewrite the goldens, and review the diff. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/generate.h"
#include "kiln/spec.h"
#include "templates/render.h"
#include "util/cleanup.h"

#include "kt_check.h"

#define MAX_EXAMPLES 64

static char *examples_dir, *golden_dir, *templates_dir;
static char *examples[MAX_EXAMPLES];
static size_t n_examples;

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_file(const char *dir, const char *name, const char *leaf) {
  _cleanup_free_ char *path = NULL;
  struct stat st;
  return asprintf(&path, "%s/%s%s", dir, name, leaf) >= 0 && stat(path, &st) == 0 &&
         S_ISREG(st.st_mode);
}

/* Every folder of examples/ holding a kiln.yaml, sorted. */
static void find_examples(void) {
  DIR *d = opendir(examples_dir);
  ck_assert_msg(d != NULL, "cannot open %s", examples_dir);
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.' && is_file(examples_dir, e->d_name, "/kiln.yaml")) {
      ck_assert_uint_lt(n_examples, MAX_EXAMPLES);
      examples[n_examples++] = strdup(e->d_name);
    }
  closedir(d);
  qsort(examples, n_examples, sizeof examples[0], compare_names);
}

static void setup(void) {
  const char *data = getenv("KILN_TEST_DATA");
  ck_assert_msg(data != NULL, "KILN_TEST_DATA must point at tests/");
  ck_assert_int_ge(asprintf(&examples_dir, "%s/../examples", data), 0);
  ck_assert_int_ge(asprintf(&golden_dir, "%s/golden", data), 0);
  ck_assert_int_ge(asprintf(&templates_dir, "%s/../templates", data), 0);
  find_examples();
}

static void teardown(void) {
  while (n_examples)
    free(examples[--n_examples]);
  free(examples_dir);
  free(golden_dir);
  free(templates_dir);
}

static void write_golden(const char *path, const kiln_generated *g) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  ck_assert_uint_eq(fwrite(g->dockerfile, 1, g->dockerfile_len, f), g->dockerfile_len);
  ck_assert_int_eq(fclose(f), 0);
}

/* Byte offset and line of the first difference, for a useful failure. */
static void assert_same(const char *path, const char *want, size_t want_len, const char *got,
                        size_t got_len) {
  size_t i = 0;
  int line = 1;
  while (i < want_len && i < got_len && want[i] == got[i])
    line += want[i++] == '\n';
  ck_assert_msg(i == want_len && i == got_len,
                "%s differs at line %d (byte %zu); rerun with KILN_UPDATE_GOLDEN=1 if intended",
                path, line, i);
}

static void check_example(const char *name, kiln_catalog *cat) {
  kiln_error *err = NULL;
  static char id_name[] = "tester", id_shell[] = "/bin/bash";
  kiln_identity id = {.name = id_name, .uid = 4242, .gid = 4242, .shell = id_shell};
  kiln_spec_options sopts = KILN_SPEC_OPTIONS_INIT;
  sopts.identity = &id;
  sopts.catalog = cat;
  _cleanup_free_ char *yaml = NULL, *golden = NULL;
  ck_assert_int_ge(asprintf(&yaml, "%s/%s/kiln.yaml", examples_dir, name), 0);
  ck_assert_int_ge(asprintf(&golden, "%s/%s.Dockerfile", golden_dir, name), 0);
  kiln_spec *spec = kiln_spec_load(yaml, &sopts, &err);
  ck_assert_msg(spec != NULL, "%s: %s", yaml, err ? err->message : "?");

  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  gopts.templates_dir = templates_dir;
  gopts.catalog = cat;
  kiln_generated g;
  int r = kiln_generate(spec, &gopts, &g, &err);
  ck_assert_msg(r == 0, "%s: %s", yaml, err ? err->message : "?");
  kiln_spec_free(spec);

  const char *update = getenv("KILN_UPDATE_GOLDEN");
  if (update && !strcmp(update, "1")) write_golden(golden, &g);
  size_t len = 0;
  _cleanup_free_ char *want = kiln_read_file_bounded(golden, 1u << 22, &len, &err);
  ck_assert_msg(want != NULL, "%s (set KILN_UPDATE_GOLDEN=1 to create it)",
                err ? err->message : "?");
  assert_same(golden, want, len, g.dockerfile, g.dockerfile_len);
  kiln_generated_clear(&g);
}

START_TEST(examples_match_goldens) {
  ck_assert_msg(n_examples >= 4, "expected the examples in %s", examples_dir);
  kiln_error *err = NULL;
  kiln_catalog *cat = kiln_catalog_load(templates_dir, &err);
  ck_assert_msg(cat != NULL, "%s", err ? err->message : "?");
  for (size_t i = 0; i < n_examples; i++)
    check_example(examples[i], cat);
  kiln_catalog_free(cat);
}
END_TEST

/* A golden without its example would silently stop being checked. */
START_TEST(every_golden_has_an_example) {
  DIR *d = opendir(golden_dir);
  ck_assert_ptr_nonnull(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    char *dot = strstr(e->d_name, ".Dockerfile");
    if (!dot || dot[11]) continue;
    _cleanup_free_ char *name = strndup(e->d_name, (size_t)(dot - e->d_name));
    ck_assert_msg(bsearch(&name, examples, n_examples, sizeof examples[0], compare_names),
                  "tests/golden/%s has no examples/%s/kiln.yaml", e->d_name, name);
  }
  closedir(d);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("golden");
  TCase *tc = kt_tcase(s, "golden", setup, teardown);
  tcase_add_test(tc, examples_match_goldens);
  tcase_add_test(tc, every_golden_has_an_example);
  return s;
}

int main(void) {
  return kt_run_suite(suite());
}
