/* validate == generate == context ls. A corpus of COPY sources (the
 * injection strings of the spec tests, special files, links, folders
 * holding a FIFO or a link that leaves the project), each put in every key
 * that names a project file, runs through the three stages `kiln validate`
 * runs: kiln_spec_parse, kiln_generate and kiln_context_for_spec. A spec the
 * parser accepts must generate; its context may then fail only for what
 * lies inside a copied folder (the walk), never for the named path itself,
 * which the parser must have judged with file:line:col. And `kiln
 * validate` (spec, generate and context in one) must say no whenever a
 * later stage would. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/context.h"
#include "kiln/generate.h"
#include "kiln/image.h"
#include "kiln/spec.h"
#include "util/buf.h"
#include "util/cleanup.h"

#include "kt_check.h"

static char project[64];
static kiln_catalog *catalog;
static kiln_identity identity;
static char id_name[] = "tester", id_shell[] = "/bin/bash";

static void at(char *out, size_t n, const char *rel) {
  snprintf(out, n, "%s/%s", project, rel);
}

static void touch(const char *rel) {
  char path[512];
  at(path, sizeof path, rel);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("x\n", f);
  fclose(f);
}

static void folder(const char *rel) {
  char path[512];
  at(path, sizeof path, rel);
  ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void link_to(const char *rel, const char *target) {
  char path[512];
  at(path, sizeof path, rel);
  ck_assert_int_eq(symlink(target, path), 0);
}

static void fifo(const char *rel) {
  char path[512];
  at(path, sizeof path, rel);
  ck_assert_int_eq(mkfifo(path, 0644), 0);
}

/* Names a COPY source may take in the corpus; each exists in the project
 * when it can be a file name. */
static const char *const sources[] = {
    "plain.txt",
    "${PATH}$HOME",
    "$HOME",
    "a\\",
    "back\\slash",
    "x*",
    "x?",
    "x[1]",
    "sp ace",
    "quo\"te",
    "quo'te",
    "back`tick",
    "%s%n",
    "ünï",
    "-rf",
    "--opt",
    "pipe",
    "dir",
    "dir/",
    "./dir//a",
    "fifodir",
    "escapedir",
    "link_in",
    "link_out",
    "ignored",
    "..",
    "../x",
    "/etc/passwd",
    "",
    "missing",
    "new\nline",
    "tab\there",
    "dir/a",
    "fifodir/pipe",
    "#hash",
    "a:b",
};

static void setup(void) {
  _cleanup_error_ kiln_error *err = NULL;
  catalog = kiln_catalog_load(KILN_SOURCE_TEMPLATES_DIR, &err);
  ck_assert_ptr_nonnull(catalog);
  strcpy(project, "/tmp/kiln-agree-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(project));
  for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
    if (*sources[i] && !strchr(sources[i], '/') && strcmp(sources[i], "..") &&
        strcmp(sources[i], "missing") && strcmp(sources[i], "pipe") &&
        strncmp(sources[i], "link", 4) && !strstr(sources[i], "dir") &&
        strcmp(sources[i], "ignored"))
      touch(sources[i]);
  fifo("pipe");
  folder("dir");
  touch("dir/a");
  folder("fifodir");
  touch("fifodir/ok");
  fifo("fifodir/pipe");
  folder("escapedir");
  link_to("escapedir/out", "/etc/passwd");
  link_to("link_in", "plain.txt");
  link_to("link_out", "/etc/hostname");
  touch("ignored");
  FILE *f = fopen(strcat(strcpy((char[512]){0}, project), "/.dockerignore"), "w");
  ck_assert_ptr_nonnull(f);
  fputs("ignored\n", f);
  fclose(f);
  identity = (kiln_identity){.name = id_name, .uid = 4242, .gid = 4242, .shell = id_shell};
}

static void teardown(void) {
  kiln_catalog_free(catalog);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", project);
  ck_assert_int_eq(system(cmd), 0);
}

/* The source as a YAML double-quoted scalar. */
static void quoted(kiln_buf *b, const char *s) {
  kiln_buf_puts(b, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      kiln_buf_printf(b, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      kiln_buf_printf(b, "\\x%02x", (unsigned char)*s);
    else
      kiln_buf_printf(b, "%c", *s);
  }
  kiln_buf_puts(b, "\"");
}

static const char *const keys[] = {"files", "requirements", "authorized_keys"};

static void spec_text(kiln_buf *b, size_t key, const char *src) {
  kiln_buf_puts(b, "project: demo\nbase: {image: debian:bookworm-slim}\n");
  if (key == 0) {
    kiln_buf_puts(b, "files:\n  - {dest: /opt/x, src: ");
    quoted(b, src);
    kiln_buf_puts(b, "}\n");
  } else if (key == 1) {
    kiln_buf_puts(b, "packages: {requirements: ");
    quoted(b, src);
    kiln_buf_puts(b, "}\n");
  } else {
    kiln_buf_puts(b, "ssh: {enabled: true, authorized_keys: ");
    quoted(b, src);
    kiln_buf_puts(b, "}\n");
  }
}

/* The three stages; *stage is where it stopped (0 parse, 1 generate, 2
 * context, 3 none), *message the error. */
static void run(const char *yaml, int *stage, char *message, size_t n) {
  kiln_spec_options opts = KILN_SPEC_OPTIONS_INIT;
  opts.identity = &identity;
  opts.catalog = catalog;
  kiln_error *err = NULL;
  kiln_generated gen = {0};
  kiln_context *ctx = NULL;
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  gopts.templates_dir = KILN_SOURCE_TEMPLATES_DIR;
  gopts.catalog = catalog;
  kiln_spec *spec = kiln_spec_parse("kiln.yaml", project, yaml, strlen(yaml), &opts, &err);
  *stage = 0;
  if (spec) {
    *stage = 1;
    if (kiln_generate(spec, &gopts, &gen, &err) == 0) {
      *stage = 2;
      if ((ctx = kiln_context_for_spec(spec, &gen, &err))) *stage = 3;
    }
  }
  snprintf(message, n, "%s", err ? err->message : "");
  if (err) ck_assert_msg(err->code == KILN_EXIT_USAGE, "exit %d: %s", err->code, err->message);
  kiln_context_free(ctx);
  kiln_generated_clear(&gen);
  kiln_spec_free(spec);
  kiln_error_free(err);
}

START_TEST(validate_generate_and_context_agree) {
  size_t key = (size_t)_i % 3;
  const char *src = sources[(size_t)_i / 3];
  _cleanup_buf_ kiln_buf yaml = KILN_BUF_INIT(1 << 16);
  spec_text(&yaml, key, src);
  int stage;
  char message[1024];
  run(yaml.data, &stage, message, sizeof message);
  /* generate never finds what the parser let through */
  ck_assert_msg(stage != 1, "%s \"%s\": parsed, then generate failed: %s", keys[key], src, message);
  /* the context fails only below a copied folder, naming the path */
  if (stage == 2)
    ck_assert_msg(key == 0 && (!strncmp(src, "fifodir", 7) || !strncmp(src, "escapedir", 9)) &&
                      strstr(message, "build context: ") && strstr(message, "dir/"),
                  "%s \"%s\": parsed and generated, then the context failed: %s", keys[key], src,
                  message);
  /* what Docker would expand in a COPY source never gets past the parser,
   * whatever the key (requirements: "${HOME}" used to pass every stage) */
  if (strpbrk(src, "$\\*?["))
    ck_assert_msg(stage == 0, "%s \"%s\": Docker would expand it, yet it passed the parser",
                  keys[key], src);
  /* a parse error carries file:line:col */
  if (stage == 0)
    ck_assert_msg(!strncmp(message, "kiln.yaml:", 10), "%s \"%s\": %s", keys[key], src, message);
}
END_TEST

/* The corpus reaches every verdict: what passes, what the parser stops,
 * and what only the folder walk (which validate runs) can see. */
START_TEST(the_corpus_covers_every_stage) {
  int seen[4] = {0};
  for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
    _cleanup_buf_ kiln_buf yaml = KILN_BUF_INIT(1 << 16);
    spec_text(&yaml, 0, sources[i]);
    int stage;
    char message[1024];
    run(yaml.data, &stage, message, sizeof message);
    seen[stage]++;
  }
  ck_assert_int_gt(seen[0], 10);
  ck_assert_int_eq(seen[1], 0);
  ck_assert_int_eq(seen[2], 2); /* fifodir, escapedir */
  ck_assert_int_gt(seen[3], 3);
}
END_TEST

static Suite *agree_suite(void) {
  Suite *s = suite_create("agree");
  TCase *tc = kt_tcase(s, "core", NULL, NULL);
  tcase_set_timeout(tc, 60);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_loop_test(tc, validate_generate_and_context_agree, 0,
                      (int)(3 * sizeof sources / sizeof *sources));
  tcase_add_test(tc, the_corpus_covers_every_stage);
  return s;
}

int main(void) {
  return kt_run_suite(agree_suite());
}
