/* Spec → Dockerfile: layer order, quoting of hostile values, determinism,
 * the spec hash, and the catalog and templates lookups behind it. Specs are
 * built in C here, so these tests do not depend on the YAML parser. */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "kiln/generate.h"
#include "kiln/labels.h"
#include "kiln/spec.h"
#include "templates/catalog.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "kt_check.h"

#define HOSTILE "x\" $(touch /pwned) `id` '; \\ RUN rm -rf / #"

/* Every allocation of a test spec, freed in teardown. */
static void *kept[512];
static size_t n_kept;

static void *keep(void *p) {
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_lt(n_kept, sizeof kept / sizeof kept[0]);
  return kept[n_kept++] = p;
}
static char *S(const char *s) {
  return keep(strdup(s));
}

static kiln_strv strv(size_t n, ...) {
  kiln_strv v = {keep(calloc(n + 1, sizeof(char *))), n};
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++)
    v.v[i] = S(va_arg(ap, const char *));
  va_end(ap);
  return v;
}

static kiln_kvv kvv(size_t n, ...) {
  kiln_kvv v = {keep(calloc(n + 1, sizeof(kiln_kv))), n};
  va_list ap;
  va_start(ap, n);
  for (size_t i = 0; i < n; i++) {
    v.v[i].key = S(va_arg(ap, const char *));
    v.v[i].value = S(va_arg(ap, const char *));
  }
  va_end(ap);
  return v;
}

static kiln_spec spec;
static kiln_catalog *catalog;
static char *templates_dir;

/* A spec using every feature once. */
static void setup(void) {
  memset(&spec, 0, sizeof spec);
  templates_dir = NULL;
  kiln_error *err = NULL;
  const char *data = getenv("KILN_TEST_DATA");
  ck_assert_msg(data != NULL, "KILN_TEST_DATA must point at tests/");
  ck_assert_int_ge(asprintf(&templates_dir, "%s/../templates", data), 0);
  catalog = kiln_catalog_load(templates_dir, &err);
  ck_assert_msg(catalog != NULL, "%s", err ? err->message : "?");

  spec.path = S("/p/kiln.yaml");
  spec.dir = S("/p");
  spec.version = 1;
  spec.project = S("demo");
  spec.base_image = S("debian:bookworm-slim");
  spec.user.name = S("tester");
  spec.user.requested_name = S("Tester");
  spec.user.uid = 4242;
  spec.user.gid = 4343;
  spec.user.sudo = true;
  spec.user.shell = S("/bin/bash");
  spec.packages.apt = strv(3, "git", "curl", "git");
  spec.packages.pip = strv(1, "rich==13.7.0");
  spec.packages.groups = strv(1, "data-science");
  spec.packages.requirements = S("requirements.txt");
  spec.env = kvv(2, "MODE", "fast", "TRICKY", HOSTILE);
  spec.ports = keep(calloc(2, sizeof(uint16_t)));
  spec.ports[0] = 8888;
  spec.n_ports = 1;
  spec.workspace = S("/workspace");
  spec.files = keep(calloc(2, sizeof(kiln_spec_file)));
  spec.files[0] = (kiln_spec_file){S("bin/tool.sh"), S("/usr/local/bin/"), 0755, true, false};
  spec.files[1] = (kiln_spec_file){S("data"), S("/opt/data"), 0, false, true};
  spec.n_files = 2;
  spec.run = strv(2, "echo first", HOSTILE);
  spec.labels = kvv(1, "org.example.team", HOSTILE);
  spec.ssh.enabled = true;
  spec.ssh.port = 2222;
  spec.ssh.authorized_keys = S("keys/authorized_keys");
}

static void teardown(void) {
  kiln_catalog_free(catalog);
  free(templates_dir);
  while (n_kept)
    free(kept[--n_kept]);
}

static kiln_generate_options options(void) {
  kiln_generate_options o = KILN_GENERATE_OPTIONS_INIT;
  o.templates_dir = templates_dir;
  o.catalog = catalog;
  return o;
}

static void generate(kiln_generated *out) {
  kiln_error *err = NULL;
  kiln_generate_options o = options();
  int r = kiln_generate(&spec, &o, out, &err);
  ck_assert_msg(r == 0, "%s", err ? err->message : "?");
  ck_assert_uint_eq(strlen(out->dockerfile), out->dockerfile_len);
}

/* Offset of the first line starting with prefix (after `from`), or -1. */
static long line_at(const char *text, const char *prefix, long from) {
  size_t n = strlen(prefix);
  for (const char *p = text + from; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (!strncmp(p, prefix, n)) return p - text;
  return -1;
}

/* The JSON array of an exec-form instruction line "INSTR [...]" (joined
 * over continuation lines). New reference. */
static json_t *exec_array(const char *text, long at) {
  const char *open = strchr(text + at, '[');
  ck_assert_ptr_nonnull(open);
  _cleanup_free_ char *joined = strdup(open);
  char *w = joined;
  for (const char *r = open; *r; r++) {
    if (r[0] == '\\' && r[1] == '\n') { /* Dockerfile line continuation */
      r++;
      continue;
    }
    if (*r == '\n') break;
    *w++ = *r;
  }
  *w = '\0';
  json_error_t jerr;
  json_t *arr = json_loads(joined, 0, &jerr);
  ck_assert_msg(json_is_array(arr), "not JSON: %s (%s)", joined, jerr.text);
  return arr;
}

START_TEST(layers_come_in_order) {
  kiln_generated g;
  generate(&g);
  const char *order[] = {
      "FROM debian:bookworm-slim",
      "RUN [\"/bin/sh\", \"-c\", \"set -e; python3 -m pip", /* apt */
      "COPY [\"requirements.txt\", \"/etc/kiln/requirements.txt\"]",
      "RUN [\"/bin/sh\", \"-c\", \"PIP_BREAK_SYSTEM_PACKAGES=1", /* -r requirements */
      "RUN [\"/bin/sh\", \"-c\", \"PIP_BREAK_SYSTEM_PACKAGES=1", /* packages */
      "COPY [\"bin/tool.sh\", \"/usr/local/bin/\"]",
      "COPY [\"data\", \"/opt/data\"]",
      "RUN [\"/bin/sh\", \"-c\", \"set -e; while", /* chmod */
      "RUN [\"/bin/sh\", \"-c\", \"echo first\"]",
      "RUN [\"/bin/sh\", \"-c\", \"x\\\" $(touch",              /* hostile run step */
      "RUN [\"/bin/sh\", \"-c\", \"set -e; mkdir -p /run/sshd", /* ssh */
      "RUN [\"/bin/sh\", \"-c\", \"#!/bin/sh",                  /* user setup */
      "COPY [\"keys/authorized_keys\", \"/etc/kiln/authorized_keys\"]",
      "RUN [\"/bin/sh\", \"-c\", \"set -e; chown",
      "USER 4242:4343",
      "WORKDIR \"/workspace\"",
      "ENV HOME=\"/home/tester\"",
      "EXPOSE 2222/tcp",
      "EXPOSE 8888/tcp",
      "CMD [\"/bin/sh\", \"-c\", \"k=/etc/ssh/kiln-host-keys/ssh_host_ed25519_key;", /* sshd */
      "LABEL \\",
  };
  long at = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    long next = line_at(g.dockerfile, order[i], at);
    ck_assert_msg(next >= 0, "\"%s\" missing or out of order in:\n%s", order[i], g.dockerfile);
    at = next + 1;
  }
  /* Only label continuation lines follow LABEL. */
  for (const char *p = strchr(g.dockerfile + at, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
    ck_assert_msg(!strncmp(p + 1, "      \"", 7), "after LABEL: %.40s", p + 1);
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(apt_packages_are_sorted_unique_with_ssh_and_sudo) {
  kiln_generated g;
  generate(&g);
  _cleanup_json_ json_t *arr = exec_array(g.dockerfile, line_at(g.dockerfile, "RUN", 0));
  const char *want[] = {"curl",
                        "git",
                        "openssh-server",
                        "python3-matplotlib",
                        "python3-numpy",
                        "python3-pandas",
                        "python3-scipy",
                        "python3-sklearn",
                        "sudo"};
  ck_assert_uint_eq(json_array_size(arr), 4 + sizeof want / sizeof want[0]);
  ck_assert_str_eq(json_string_value(json_array_get(arr, 3)), "kiln-apt");
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_str_eq(json_string_value(json_array_get(arr, 4 + i)), want[i]);
  /* pip is wanted, so the apt step installs python3-pip when it is missing */
  ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(arr, 2)), "python3-pip"));
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(no_apt_layer_without_packages) {
  spec.packages.apt.n = spec.packages.groups.n = spec.packages.pip.n = 0;
  spec.packages.requirements = NULL;
  spec.ssh.enabled = spec.user.sudo = false;
  kiln_generated g;
  generate(&g);
  ck_assert_int_eq(line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"set -e; [", 0), -1);
  ck_assert_int_eq(line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"PIP_", 0), -1);
  ck_assert_int_eq(line_at(g.dockerfile, "COPY", 0), line_at(g.dockerfile, "COPY [\"bin/", 0));
  ck_assert_int_ge(line_at(g.dockerfile, "CMD [\"/bin/sh\", \"-c\", \"if [ -x", 0), 0);
  kiln_generated_clear(&g);
}
END_TEST

/* The hostile value must come back exactly, and only as a JSON string
 * element or an escaped double-quoted word. */
START_TEST(hostile_values_stay_inside_strings) {
  kiln_generated g;
  generate(&g);
  long run = line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"x\\\"", 0);
  ck_assert_int_ge(run, 0);
  _cleanup_json_ json_t *arr = exec_array(g.dockerfile, run);
  ck_assert_uint_eq(json_array_size(arr), 3);
  ck_assert_str_eq(json_string_value(json_array_get(arr, 2)), HOSTILE);
  /* ENV and LABEL: Docker expands $ there, so it is escaped */
  ck_assert_ptr_nonnull(
      strstr(g.dockerfile, "\"TRICKY\"=\"x\\\" \\$(touch /pwned) `id` '; \\\\ RUN rm -rf / #\""));
  ck_assert_ptr_nonnull(
      strstr(g.dockerfile,
             "\"org.example.team\"=\"x\\\" \\$(touch /pwned) `id` '; \\\\ RUN rm -rf / #\""));
  /* no line of the file starts with the injected instruction */
  ck_assert_int_eq(line_at(g.dockerfile, "RUN rm", 0), -1);
  ck_assert_int_eq(line_at(g.dockerfile, " RUN rm", 0), -1);
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(labels_carry_identity_and_hash) {
  kiln_generated g;
  generate(&g);
  long label = line_at(g.dockerfile, "LABEL", 0);
  const char *want[] = {"\"" KILN_LABEL_USER_SETUP "\"=\"true\" \\",
                        "\"" KILN_LABEL_UID "\"=\"4242\" \\",
                        "\"" KILN_LABEL_GID "\"=\"4343\" \\",
                        "\"" KILN_LABEL_USER "\"=\"tester\" \\",
                        "\"" KILN_LABEL_HOME "\"=\"/home/tester\" \\",
                        "\"" KILN_LABEL_WORKSPACE "\"=\"/workspace\" \\",
                        "\"" KILN_LABEL_PROJECT "\"=\"demo\" \\",
                        "\"org.opencontainers.image.title\"=\"demo\" \\"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    _cleanup_free_ char *line = NULL;
    ck_assert_int_ge(asprintf(&line, "      %s\n", want[i]), 0);
    ck_assert_msg(strstr(g.dockerfile + label, line), "missing label line %s", want[i]);
  }
  _cleanup_free_ char *hash = NULL;
  ck_assert_int_ge(asprintf(&hash, "\"" KILN_LABEL_SPEC_SHA256 "\"=\"%s\"", g.spec_sha256), 0);
  ck_assert_ptr_nonnull(strstr(g.dockerfile + label, hash));
  ck_assert_uint_eq(strspn(g.spec_sha256, "0123456789abcdef"), 64);
  ck_assert_str_eq(g.image_name, "kiln-4242/demo:latest");
  /* the last line ends the instruction */
  ck_assert(g.dockerfile[g.dockerfile_len - 1] == '\n' &&
            g.dockerfile[g.dockerfile_len - 2] == '"');
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(namespace_option_names_the_image) {
  kiln_generated g;
  kiln_error *err = NULL;
  kiln_generate_options o = options();
  o.ns = "lab";
  ck_assert_int_eq(kiln_generate(&spec, &o, &g, &err), 0);
  ck_assert_str_eq(g.image_name, "lab-4242/demo:latest");
  kiln_generated_clear(&g);
}
END_TEST

/* Prints the Dockerfile when KILN_TEST_SHOW=1, for eyeballing. */
START_TEST(generation_is_deterministic) {
  kiln_generated a, b;
  generate(&a);
  generate(&b);
  if (getenv("KILN_TEST_SHOW")) fputs(a.dockerfile, stderr);
  ck_assert_uint_eq(a.dockerfile_len, b.dockerfile_len);
  ck_assert_mem_eq(a.dockerfile, b.dockerfile, a.dockerfile_len);
  ck_assert_str_eq(a.spec_sha256, b.spec_sha256);
  kiln_generated_clear(&a);
  kiln_generated_clear(&b);
}
END_TEST

START_TEST(hash_follows_content_not_location) {
  kiln_generated before, moved, changed;
  generate(&before);
  spec.path = S("/elsewhere/kiln.yaml");
  spec.dir = S("/elsewhere");
  generate(&moved);
  ck_assert_str_eq(before.spec_sha256, moved.spec_sha256);
  ck_assert_str_eq(before.dockerfile, moved.dockerfile);
  spec.packages.apt.v[1] = S("wget");
  generate(&changed);
  ck_assert_str_ne(before.spec_sha256, changed.spec_sha256);
  kiln_generated_clear(&before);
  kiln_generated_clear(&moved);
  kiln_generated_clear(&changed);
}
END_TEST

START_TEST(file_mode_targets_the_copied_path) {
  kiln_generated g;
  generate(&g);
  _cleanup_json_ json_t *arr = exec_array(
      g.dockerfile, line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"set -e; while", 0));
  ck_assert_uint_eq(json_array_size(arr), 6);
  ck_assert_str_eq(json_string_value(json_array_get(arr, 4)), "0755");
  ck_assert_str_eq(json_string_value(json_array_get(arr, 5)), "/usr/local/bin/tool.sh");
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(copy_source_with_glob_is_refused) {
  spec.files[1].src = S("data[1]");
  kiln_generated g;
  kiln_error *err = NULL;
  kiln_generate_options o = options();
  ck_assert_int_eq(kiln_generate(&spec, &o, &g, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->message, "generating the Dockerfile for demo: files[1].src: COPY source "
                                 "\"data[1]\" contains '[', which Docker would expand in a COPY "
                                 "source (copying another path); rename the file or folder");
  kiln_error_free(err);
}
END_TEST

/* Built in code, not parsed: the requirements file is a COPY source too. */
START_TEST(requirements_with_dollar_is_refused) {
  spec.packages.requirements = S("${HOME}");
  kiln_generated g;
  kiln_error *err = NULL;
  kiln_generate_options o = options();
  ck_assert_int_eq(kiln_generate(&spec, &o, &g, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_msg(strstr(err->message, "packages.requirements: COPY source \"${HOME}\" contains '$'"),
                "%s", err->message);
  kiln_error_free(err);
}
END_TEST

START_TEST(user_setup_runs_with_identity_arguments) {
  kiln_generated g;
  generate(&g);
  _cleanup_json_ json_t *arr =
      exec_array(g.dockerfile, line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"#!/bin/sh", 0));
  const char *args[] = {"kiln-user-setup", "tester",    "4242", "4343",
                        "/home/tester",    "/bin/bash", "1",    "/workspace"};
  ck_assert_uint_eq(json_array_size(arr), 3 + sizeof args / sizeof args[0]);
  for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
    ck_assert_str_eq(json_string_value(json_array_get(arr, 3 + i)), args[i]);
  _cleanup_free_ char *path = NULL, *script = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/user-setup.sh", templates_dir), 0);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  size_t cap = 1 << 20, n;
  script = calloc(1, cap);
  n = fread(script, 1, cap - 1, f);
  fclose(f);
  ck_assert_uint_gt(n, 0);
  ck_assert_str_eq(json_string_value(json_array_get(arr, 2)), script);
  kiln_generated_clear(&g);
}
END_TEST

START_TEST(missing_template_names_the_file) {
  char dir[] = "/tmp/kiln-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  kiln_generated g;
  kiln_error *err = NULL;
  kiln_generate_options o = options();
  o.templates_dir = dir;
  ck_assert_int_eq(kiln_generate(&spec, &o, &g, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_msg(strstr(err->message, "/user-setup.sh") && strstr(err->message, "cannot open"), "%s",
                err->message);
  kiln_error_free(err);
  rmdir(dir);
}
END_TEST

/* Catalog */

START_TEST(catalog_resolves_frameworks_and_groups) {
  ck_assert_str_eq(kiln_catalog_framework_image(catalog, "pytorch", "2.3-cuda12.1"),
                   "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime");
  ck_assert_str_eq(kiln_catalog_framework_image(catalog, "debian", "bookworm"),
                   "debian:bookworm-slim");
  ck_assert_ptr_null(kiln_catalog_framework_image(catalog, "pytorch", "0.1"));
  ck_assert_ptr_null(kiln_catalog_framework_image(catalog, "cobol", "85"));
  ck_assert(kiln_catalog_has_group(catalog, "jupyter"));
  ck_assert(!kiln_catalog_has_group(catalog, "games"));
  const json_t *apt = kiln_catalog_group_packages(catalog, "cv", "apt");
  ck_assert_str_eq(json_string_value(json_array_get(apt, 0)), "python3-opencv");
  const json_t *pip = kiln_catalog_group_packages(catalog, "cv", "pip");
  ck_assert_str_eq(json_string_value(json_array_get(pip, 0)), "opencv-python-headless");
  ck_assert_ptr_null(kiln_catalog_group_packages(catalog, "games", "apt"));
  _cleanup_free_ char *groups = kiln_catalog_describe_groups(catalog);
  ck_assert_str_eq(groups, "cv, data-science, jupyter, nlp");
  _cleanup_free_ char *frameworks = kiln_catalog_describe_frameworks(catalog, NULL);
  ck_assert_msg(strstr(frameworks, "cuda, debian, jax, python, pytorch"), "%s", frameworks);
  _cleanup_free_ char *versions = kiln_catalog_describe_frameworks(catalog, "jax");
  ck_assert_str_eq(versions, "23.10, 24.04");
}
END_TEST

/* One rule decides how groups install: apt on Debian's Python (base.image,
 * tensorflow, jax, cuda, AIME's images), pip into the image's own Python
 * on conda (pytorch) and python.org (python) images. */
START_TEST(groups_install_with_the_base_python) {
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, NULL, NULL), "apt");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, "tensorflow", NULL), "apt");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, "aime-pytorch", NULL), "apt");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, "pytorch", NULL), "pip");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, "python", NULL), "pip");
  ck_assert_str_eq(kiln_catalog_framework_python(catalog, "pytorch"), "conda");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, NULL, "conda"), "pip");
  ck_assert_str_eq(kiln_catalog_group_installer(catalog, "pytorch", "debian"), "apt");
  spec.base_framework = S("pytorch");
  spec.base_version = S("2.3-cuda12.1");
  kiln_generated g;
  generate(&g);
  ck_assert_ptr_null(strstr(g.dockerfile, "python3-numpy"));
  long pip = line_at(g.dockerfile,
                     "RUN [\"/bin/sh\", \"-c\", \"PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip "
                     "install --no-cache-dir --disable-pip-version-check \\\"$@\\\"\"",
                     0);
  ck_assert_int_ge(pip, 0);
  _cleanup_json_ json_t *arr = exec_array(g.dockerfile, pip);
  const char *want[] = {"matplotlib", "numpy", "pandas", "rich==13.7.0", "scikit-learn", "scipy"};
  ck_assert_uint_eq(json_array_size(arr), 4 + sizeof want / sizeof want[0]);
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_str_eq(json_string_value(json_array_get(arr, 4 + i)), want[i]);
  kiln_generated_clear(&g);
  spec.base_framework = S("tensorflow");
  generate(&g);
  ck_assert_ptr_nonnull(strstr(g.dockerfile, "\"python3-numpy\""));
  ck_assert_ptr_null(strstr(g.dockerfile, "\"numpy\""));
  kiln_generated_clear(&g);
  /* base.image with base.python: conda (a conda image the catalog does not name) */
  spec.base_framework = spec.base_version = NULL;
  spec.base_python = S("conda");
  generate(&g);
  ck_assert_ptr_null(strstr(g.dockerfile, "\"python3-numpy\""));
  ck_assert_ptr_nonnull(strstr(g.dockerfile, "\"numpy\""));
  kiln_generated_clear(&g);
}
END_TEST

/* pip's index options reach pip as arguments of both pip steps, the
 * find-links folder is copied in first, and nothing changes without them. */
START_TEST(pip_index_options_are_arguments) {
  kiln_generated plain;
  generate(&plain);
  ck_assert_ptr_null(strstr(plain.dockerfile, "--index-url"));
  ck_assert_ptr_null(strstr(plain.dockerfile, "pip-find-links"));
  spec.packages.pip_index_url = S("https://pypi.example.org/simple");
  spec.packages.pip_extra_index_url = S("http://127.0.0.1:3141/extra/");
  spec.packages.pip_find_links = S("wheels");
  kiln_generated g;
  generate(&g);
  long copy = line_at(g.dockerfile, "COPY [\"wheels\", \"/etc/kiln/pip-find-links/\"]", 0);
  ck_assert_int_ge(copy, 0);
  const char *want[] = {"--index-url",       "https://pypi.example.org/simple",
                        "--extra-index-url", "http://127.0.0.1:3141/extra/",
                        "--find-links",      "/etc/kiln/pip-find-links",
                        "--trusted-host",    "127.0.0.1:3141"};
  long at = copy;
  for (int step = 0; step < 2; step++) {
    at = line_at(g.dockerfile, "RUN [\"/bin/sh\", \"-c\", \"PIP_BREAK_SYSTEM_PACKAGES=1", at + 1);
    ck_assert_int_gt(at, copy);
    _cleanup_json_ json_t *arr = exec_array(g.dockerfile, at);
    ck_assert_str_eq(json_string_value(json_array_get(arr, 3)), "kiln-pip");
    ck_assert_uint_ge(json_array_size(arr), 4 + sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
      ck_assert_str_eq(json_string_value(json_array_get(arr, 4 + i)), want[i]);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(arr, 2)), "\"$@\""));
    ck_assert_ptr_null(strstr(json_string_value(json_array_get(arr, 2)), "https://"));
  }
  ck_assert_str_ne(g.spec_sha256, plain.spec_sha256);
  kiln_generated_clear(&g);
  kiln_generated_clear(&plain);
}
END_TEST

/* kiln catalog lists what spec loading resolves: the same table. */
START_TEST(catalog_lists_frameworks_and_groups) {
  _cleanup_json_ json_t *frameworks = kiln_catalog_frameworks(catalog);
  _cleanup_json_ json_t *groups = kiln_catalog_groups(catalog);
  ck_assert_ptr_nonnull(frameworks);
  ck_assert_ptr_nonnull(groups);
  const char *seen[] = {"aime-pytorch", "aime-tensorflow", "cuda", "jax", "pytorch", "tensorflow"};
  for (size_t k = 0; k < sizeof seen / sizeof seen[0]; k++) {
    json_t *found = NULL, *f;
    size_t i;
    json_array_foreach(frameworks, i, f) if (!strcmp(json_string_value(json_object_get(f, "name")),
                                                     seen[k])) found = f;
    ck_assert_msg(found != NULL, "%s missing", seen[k]);
    ck_assert(json_is_string(json_object_get(found, "python")));
    json_t *v;
    json_array_foreach(json_object_get(found, "versions"), i, v) {
      const char *image = json_string_value(json_object_get(v, "image"));
      const char *version = json_string_value(json_object_get(v, "version"));
      ck_assert_str_eq(kiln_catalog_framework_image(catalog, seen[k], version), image);
    }
    ck_assert_uint_gt(json_array_size(json_object_get(found, "versions")), 0);
  }
  ck_assert_uint_eq(json_array_size(groups), 4);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(groups, 0), "name")), "cv");
}
END_TEST

static kiln_error *load_catalog_text(const char *text, char dir[static 22]) {
  strcpy(dir, "/tmp/kiln-test-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/catalog.json", dir), 0);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_catalog_load(dir, &err));
  unlink(path);
  rmdir(dir);
  return err;
}

/* A site catalog in the earlier shape ({VERSION: IMAGE} per framework)
 * still loads, as Debian-Python frameworks. */
START_TEST(catalog_in_the_earlier_shape_loads) {
  char dir[] = "/tmp/kiln-test-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/catalog.json", dir), 0);
  FILE *f = fopen(path, "w");
  fputs("{\"frameworks\": {\"site\": {\"1\": \"example.org/site:1\"}, \"new\": {\"python\": "
        "\"conda\", \"versions\": {\"2\": \"example.org/new:2\"}}}, \"groups\": {}}",
        f);
  fclose(f);
  kiln_error *err = NULL;
  kiln_catalog *cat = kiln_catalog_load(dir, &err);
  unlink(path);
  rmdir(dir);
  ck_assert_msg(cat != NULL, "%s", err ? err->message : "?");
  ck_assert_str_eq(kiln_catalog_framework_image(cat, "site", "1"), "example.org/site:1");
  ck_assert_str_eq(kiln_catalog_framework_python(cat, "site"), "debian");
  ck_assert_str_eq(kiln_catalog_framework_image(cat, "new", "2"), "example.org/new:2");
  ck_assert_str_eq(kiln_catalog_group_installer(cat, "new", NULL), "pip");
  kiln_catalog_free(cat);
}
END_TEST

START_TEST(catalog_errors_name_file_and_entry) {
  char dir[22];
  kiln_error *err = load_catalog_text(
      "{\"frameworks\": {\"x\": {\"python\": \"conda\", \"versions\": {\"1\": 5}}}, "
      "\"groups\": {}}",
      dir);
  _cleanup_free_ char *want = NULL;
  ck_assert_int_ge(
      asprintf(&want, "%s/catalog.json: frameworks.x.versions.1 must be a string", dir), 0);
  ck_assert_str_eq(err->message, want);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  kiln_error_free(err);

  err = load_catalog_text("{\"frameworks\": {}, \"groups\": {\"g\": {\"apt\": \"x\"}}}", dir);
  ck_assert_msg(strstr(err->message, "catalog.json: groups.g.apt must be a list"), "%s",
                err->message);
  kiln_error_free(err);

  err = load_catalog_text("{\"frameworks\": {\"x\": {\"python\": \"cpython\", \"versions\": {}}}, "
                          "\"groups\": {}}",
                          dir);
  ck_assert_msg(strstr(err->message, "frameworks.x.python must be \"debian\", \"conda\" or "
                                     "\"local\""),
                "%s", err->message);
  kiln_error_free(err);

  err = load_catalog_text("{\"frameworks\": {", dir);
  ck_assert_msg(strstr(err->message, "catalog.json:1:"), "%s", err->message);
  kiln_error_free(err);
}
END_TEST

START_TEST(templates_dir_prefers_environment) {
  setenv("KILN_TEMPLATES_DIR", templates_dir, 1);
  kiln_error *err = NULL;
  _cleanup_free_ char *dir = kiln_templates_dir(&err);
  ck_assert_str_eq(dir, templates_dir);
  setenv("KILN_TEMPLATES_DIR", "/nonexistent", 1);
  ck_assert_ptr_null(kiln_templates_dir(&err));
  ck_assert_str_eq(err->message, "KILN_TEMPLATES_DIR=/nonexistent holds no readable catalog.json");
  kiln_error_free(err);
  err = NULL;
  unsetenv("KILN_TEMPLATES_DIR");
  _cleanup_free_ char *fallback = kiln_templates_dir(&err); /* the source tree, from the build */
  ck_assert_ptr_nonnull(fallback);
  ck_assert_str_eq(fallback, KILN_SOURCE_TEMPLATES_DIR);
}
END_TEST

/* ---- lint: hadolint's image-size rules on every generated RUN ---- */

/* One rule: a RUN script holding `trigger` must hold `required` after it
 * (in the same shell command when same_command, else anywhere after it, so
 * that the cleanup happens in the layer that made the mess). */
typedef struct {
  const char *id;
  const char *trigger;
  const char *required;
  bool same_command;
} lint_rule;

static const lint_rule lint_rules[] = {
    {"DL3015", "apt-get install", "--no-install-recommends", true},
    {"DL3009", "apt-get update", "rm -rf /var/lib/apt/lists/*", false},
    {"DL3009 (apt's package archives)", "apt-get install", "apt-get clean", false},
    {"DL3009 (apt's .bin caches)", "apt-get install", "/var/cache/apt/*.bin", false},
    {"DL3042", "pip install", "--no-cache-dir", true},
};

/* Whether `at` is inside a shell comment line of script. */
static bool in_comment(const char *script, const char *at) {
  const char *line = at;
  while (line > script && line[-1] != '\n')
    line--;
  line += strspn(line, " \t");
  return *line == '#' && line < at;
}

/* Checks every occurrence of every rule's trigger in one script; returns
 * how many held (so a rule table that matches nothing is noticed). */
static size_t lint_script(const char *where, const char *script) {
  size_t held = 0;
  for (size_t r = 0; r < sizeof lint_rules / sizeof lint_rules[0]; r++) {
    const lint_rule *rule = &lint_rules[r];
    for (const char *t = strstr(script, rule->trigger); t; t = strstr(t + 1, rule->trigger)) {
      if (in_comment(script, t)) continue;
      const char *after = t + strlen(rule->trigger);
      const char *found = strstr(after, rule->required);
      size_t command_len = strcspn(after, ";&|\n");
      ck_assert_msg(found && (!rule->same_command || found < after + command_len),
                    "%s: %s: '%s' without '%s' in: ...%.200s", where, rule->id, rule->trigger,
                    rule->required, t);
      held++;
    }
  }
  return held;
}

/* Every exec-form RUN ["/bin/sh", "-c", SCRIPT, ...] of a Dockerfile. */
static size_t lint_dockerfile(const char *where, const char *dockerfile) {
  size_t held = 0;
  for (long at = line_at(dockerfile, "RUN ", 0); at >= 0;
       at = line_at(dockerfile, "RUN ", at + 1)) {
    ck_assert_msg(dockerfile[at + 4] == '[', "%s: a shell-form RUN: %.60s", where, dockerfile + at);
    _cleanup_json_ json_t *arr = exec_array(dockerfile, at);
    const char *script = json_string_value(json_array_get(arr, 2));
    if (script && !strcmp(json_string_value(json_array_get(arr, 1)), "-c"))
      held += lint_script(where, script);
  }
  return held;
}

static kiln_spec *load_example(const char *dir, const char *name) {
  static char id_name[] = "tester", id_shell[] = "/bin/bash";
  kiln_identity id = {.name = id_name, .uid = 4242, .gid = 4242, .shell = id_shell};
  kiln_spec_options o = KILN_SPEC_OPTIONS_INIT;
  o.identity = &id;
  o.catalog = catalog;
  kiln_error *err = NULL;
  _cleanup_free_ char *yaml = NULL;
  ck_assert_int_ge(asprintf(&yaml, "%s/%s/kiln.yaml", dir, name), 0);
  kiln_spec *s = kiln_spec_load(yaml, &o, &err);
  ck_assert_msg(s != NULL, "%s: %s", yaml, err ? err->message : "?");
  return s;
}

/* The table holds for this file's full spec and for every example. */
START_TEST(lint_rules_hold_for_every_example) {
  kiln_generated g;
  generate(&g);
  size_t held = lint_dockerfile("the full test spec", g.dockerfile);
  kiln_generated_clear(&g);
  ck_assert_uint_ge(held, sizeof lint_rules / sizeof lint_rules[0]);

  _cleanup_free_ char *dir = NULL;
  ck_assert_int_ge(asprintf(&dir, "%s/../examples", getenv("KILN_TEST_DATA")), 0);
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    struct stat st;
    _cleanup_free_ char *yaml = NULL;
    ck_assert_int_ge(asprintf(&yaml, "%s/%s/kiln.yaml", dir, e->d_name), 0);
    if (e->d_name[0] == '.' || stat(yaml, &st) < 0) continue;
    kiln_spec *s = load_example(dir, e->d_name);
    kiln_error *err = NULL;
    kiln_generate_options o = options();
    ck_assert_msg(kiln_generate(s, &o, &g, &err) == 0, "%s: %s", e->d_name,
                  err ? err->message : "?");
    lint_dockerfile(e->d_name, g.dockerfile);
    kiln_generated_clear(&g);
    kiln_spec_free(s);
    n++;
  }
  closedir(d);
  ck_assert_uint_ge(n, 4);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("generate");
  TCase *tc = kt_tcase(s, "generate", setup, teardown);
  tcase_add_test(tc, layers_come_in_order);
  tcase_add_test(tc, apt_packages_are_sorted_unique_with_ssh_and_sudo);
  tcase_add_test(tc, no_apt_layer_without_packages);
  tcase_add_test(tc, hostile_values_stay_inside_strings);
  tcase_add_test(tc, labels_carry_identity_and_hash);
  tcase_add_test(tc, namespace_option_names_the_image);
  tcase_add_test(tc, generation_is_deterministic);
  tcase_add_test(tc, hash_follows_content_not_location);
  tcase_add_test(tc, file_mode_targets_the_copied_path);
  tcase_add_test(tc, copy_source_with_glob_is_refused);
  tcase_add_test(tc, requirements_with_dollar_is_refused);
  tcase_add_test(tc, user_setup_runs_with_identity_arguments);
  tcase_add_test(tc, missing_template_names_the_file);
  tcase_add_test(tc, catalog_resolves_frameworks_and_groups);
  tcase_add_test(tc, groups_install_with_the_base_python);
  tcase_add_test(tc, catalog_lists_frameworks_and_groups);
  tcase_add_test(tc, pip_index_options_are_arguments);
  tcase_add_test(tc, catalog_in_the_earlier_shape_loads);
  tcase_add_test(tc, catalog_errors_name_file_and_entry);
  tcase_add_test(tc, templates_dir_prefers_environment);
  tcase_add_test(tc, lint_rules_hold_for_every_example);
  return s;
}

int main(void) {
  return kt_run_suite(suite());
}
