/* The template renderer: filters, sections, partials, caps and errors. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sanitize/limits.h"
#include "templates/render.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "kt_check.h"

static json_t *model;
static char dir[] = "/tmp/kiln-render-XXXXXX";

static void setup(void) {
  json_error_t jerr;
  model = json_loads("{\"name\": \"a\\\"b $x\", \"n\": 42, \"yes\": true, \"no\": false,"
                     " \"nil\": null, \"empty\": [], \"blank\": \"\","
                     " \"list\": [\"x\", \"y z\"], \"objs\": [{\"k\": \"1\"}, {\"k\": \"2\"}],"
                     " \"user\": {\"home\": \"/home/u\", \"deep\": {\"v\": \"d\"}},"
                     " \"nl\": \"a\\nb\", \"quote\": \"it's\"}",
                     0, &jerr);
  ck_assert_ptr_nonnull(model);
  strcpy(dir, "/tmp/kiln-render-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_partial(const char *name) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s.tmpl", dir, name), 0);
  unlink(path);
}

static void teardown(void) {
  json_decref(model);
  const char *names[] = {"p", "self", "bad", "Dockerfile"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    remove_partial(names[i]);
  rmdir(dir);
}

static void write_partial(const char *name, const char *text) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s.tmpl", dir, name), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* Renders text and returns the output (caller frees); fails the test on error. */
static char *render(const char *text) {
  kiln_error *err = NULL;
  size_t len = 0;
  char *out = kiln_render_string(dir, "t.tmpl", text, strlen(text), model, &len, &err);
  ck_assert_msg(out != NULL, "%s", err ? err->message : "?");
  ck_assert_uint_eq(strlen(out), len);
  return out;
}

/* Renders text expecting an error; returns the message (caller frees). */
static char *render_error(const char *text) {
  kiln_error *err = NULL;
  char *out = kiln_render_string(dir, "t.tmpl", text, strlen(text), model, NULL, &err);
  ck_assert_msg(out == NULL, "rendered: %s", out ? out : "");
  ck_assert_ptr_nonnull(err);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_ptr_null(err->next);
  char *msg = strdup(err->message);
  kiln_error_free(err);
  return msg;
}

#define ASSERT_RENDERS(text, want)                                                                 \
  do {                                                                                             \
    _cleanup_free_ char *got_ = render(text);                                                      \
    ck_assert_str_eq(got_, want);                                                                  \
  } while (0)

#define ASSERT_FAILS(text, want)                                                                   \
  do {                                                                                             \
    _cleanup_free_ char *msg_ = render_error(text);                                                \
    ck_assert_str_eq(msg_, want);                                                                  \
  } while (0)

START_TEST(json_filter_makes_a_json_string) {
  ASSERT_RENDERS("[{{json:name}}, {{json:n}}, {{json:nl}}]", "[\"a\\\"b $x\", \"42\", \"a\\nb\"]");
}
END_TEST

START_TEST(dq_filter_escapes_dockerfile_expansion) {
  ASSERT_RENDERS("ENV A={{dq:name}}", "ENV A=\"a\\\"b \\$x\"");
  ASSERT_FAILS("ENV A={{dq:nl}}",
               "t.tmpl:1: \"nl\" cannot be escaped (control character or invalid UTF-8)");
}
END_TEST

START_TEST(sh_filter_single_quotes) {
  ASSERT_RENDERS("echo {{sh:quote}} {{sh:name}}", "echo 'it'\\''s' 'a\"b $x'");
}
END_TEST

START_TEST(raw_filter_and_scalars) {
  ASSERT_RENDERS("{{raw:n}} {{raw:yes}} {{raw:user.home}}", "42 true /home/u");
}
END_TEST

START_TEST(unfiltered_variable_is_refused) {
  ASSERT_FAILS("FROM x\nRUN {{name}}\n",
               "t.tmpl:2: {{name}} needs an escaping filter: json:, dq:, sh: or raw: (raw only "
               "for values the generator made)");
  ASSERT_FAILS("{{html:name}}", "t.tmpl:1: {{html:name}} needs an escaping filter: json:, dq:, "
                                "sh: or raw: (raw only for values the generator made)");
}
END_TEST

START_TEST(missing_and_nonscalar_variables_are_errors) {
  ASSERT_FAILS("a\nb\n{{json:nope}}", "t.tmpl:3: \"nope\" is not in the model");
  ASSERT_FAILS("{{json:user}}", "t.tmpl:1: \"user\" is not a string, number or boolean");
  ASSERT_FAILS("{{json:user.nope}}", "t.tmpl:1: \"user.nope\" is not in the model");
}
END_TEST

START_TEST(sections_iterate_arrays) {
  ASSERT_RENDERS("{{#list}}<{{raw:.}}>{{/list}}", "<x><y z>");
  ASSERT_RENDERS("{{#objs}}{{raw:k}}{{raw:n}};{{/objs}}", "142;242;"); /* outer names visible */
}
END_TEST

START_TEST(sections_render_truthy_once_and_skip_falsy) {
  ASSERT_RENDERS("{{#yes}}Y{{/yes}}{{#user}}{{raw:home}}{{/user}}{{#n}}N{{/n}}", "Y/home/uN");
  ASSERT_RENDERS("{{#no}}1{{/no}}{{#nil}}2{{/nil}}{{#empty}}3{{/empty}}{{#blank}}4{{/blank}}"
                 "{{#missing}}5{{/missing}}.",
                 ".");
  ASSERT_RENDERS("{{#user.deep}}{{raw:v}}{{/user.deep}}", "d");
}
END_TEST

START_TEST(inverted_sections) {
  ASSERT_RENDERS("{{^no}}a{{/no}}{{^empty}}b{{/empty}}{{^missing}}c{{/missing}}"
                 "{{^yes}}X{{/yes}}{{^list}}X{{/list}}",
                 "abc");
}
END_TEST

START_TEST(standalone_tags_take_their_line) {
  ASSERT_RENDERS("A\n  {{#list}}  \n- {{raw:.}}\n{{/list}}\n{{! note\n over lines }}\nB\n",
                 "A\n- x\n- y z\nB\n");
  ASSERT_RENDERS("A {{#yes}}b{{/yes}}\n", "A b\n"); /* not alone: kept inline */
}
END_TEST

START_TEST(partials_load_from_templates_dir) {
  write_partial("p", "{{#list}}\n[{{raw:.}}]\n{{/list}}\n");
  ASSERT_RENDERS("start\n{{>p}}\nend\n", "start\n[x]\n[y z]\nend\n");
  ASSERT_RENDERS("{{#user}}{{>p}}{{/user}}", "[x]\n[y z]\n"); /* context carries over */
}
END_TEST

START_TEST(partial_errors_name_both_files) {
  write_partial("bad", "ok\n{{oops}}\n");
  _cleanup_free_ char *msg = render_error("x\n{{>bad}}\n");
  _cleanup_free_ char *want = NULL;
  ck_assert_int_ge(asprintf(&want,
                            "t.tmpl:2: in partial {{>bad}}: %s/bad.tmpl:2: {{oops}} needs an "
                            "escaping filter: json:, dq:, sh: or raw: (raw only for values the "
                            "generator made)",
                            dir),
                   0);
  ck_assert_str_eq(msg, want);
  _cleanup_free_ char *missing = render_error("{{>nothere}}");
  ck_assert_msg(strstr(missing, "t.tmpl:1: in partial {{>nothere}}: cannot open ") &&
                    strstr(missing, "/nothere.tmpl"),
                "%s", missing);
  ASSERT_FAILS("{{>../etc/passwd}}", "t.tmpl:1: bad name \"../etc/passwd\" in tag");
}
END_TEST

START_TEST(recursive_partial_hits_depth_cap) {
  write_partial("self", "{{>self}}");
  _cleanup_free_ char *msg = render_error("{{>self}}");
  ck_assert_msg(strstr(msg, "sections and partials nested deeper than 8"), "%s", msg);
  ck_assert_msg(!strncmp(msg, "t.tmpl:1: in partial {{>self}}: ", 32), "%s", msg);
}
END_TEST

START_TEST(section_nesting_is_capped) {
  char text[512] = "";
  for (int i = 0; i <= KILN_MAX_TEMPLATE_DEPTH; i++)
    strcat(text, "{{#yes}}");
  for (int i = 0; i <= KILN_MAX_TEMPLATE_DEPTH; i++)
    strcat(text, "{{/yes}}");
  ASSERT_FAILS(text, "t.tmpl:1: sections nested deeper than 8");
  /* exactly at the cap is fine */
  char ok[512] = "";
  for (int i = 0; i < KILN_MAX_TEMPLATE_DEPTH; i++)
    strcat(ok, "{{#yes}}");
  strcat(ok, "!");
  for (int i = 0; i < KILN_MAX_TEMPLATE_DEPTH; i++)
    strcat(ok, "{{/yes}}");
  ASSERT_RENDERS(ok, "!");
}
END_TEST

START_TEST(malformed_templates_report_the_line) {
  ASSERT_FAILS("a\n{{#list}}\nb", "t.tmpl:2: {{#list}} is never closed");
  ASSERT_FAILS("a\n\n{{/list}}", "t.tmpl:3: {{/list}} closes no section");
  ASSERT_FAILS("{{#a}}\n{{/b}}", "t.tmpl:2: {{/b}} closes {{#a}} of line 1");
  ASSERT_FAILS("x\n{{json:name", "t.tmpl:2: unclosed tag \"{{\"");
  ASSERT_FAILS("{{json:na\nme}}", "t.tmpl:1: unclosed tag \"{{\"");
  ASSERT_FAILS("{{json:a b}}", "t.tmpl:1: bad name \"a b\" in tag");
}
END_TEST

START_TEST(output_is_capped) {
  /* A repeated long value passes the cap; the error names the section's line. */
  _cleanup_json_ json_t *big = json_array();
  _cleanup_free_ char *chunk = malloc(4097);
  memset(chunk, 'x', 4096);
  chunk[4096] = '\0';
  for (size_t i = 0; i < KILN_MAX_DOCKERFILE_BYTES / 4096 + 1; i++)
    json_array_append_new(big, json_string(chunk));
  json_object_set(model, "big", big);
  ASSERT_FAILS("line1\n{{#big}}{{raw:.}}{{/big}}",
               "t.tmpl:2: output larger than 1048576 bytes or out of memory");
}
END_TEST

START_TEST(template_size_is_capped) {
  size_t n = KILN_MAX_TEMPLATE_BYTES + 1;
  _cleanup_free_ char *text = malloc(n + 1);
  memset(text, 'a', n);
  text[n] = '\0';
  ASSERT_FAILS(text, "t.tmpl is larger than 262144 bytes");
}
END_TEST

START_TEST(render_file_reads_templates_dir) {
  write_partial("Dockerfile", "FROM {{raw:user.home}}\n{{>p}}");
  write_partial("p", "P {{json:n}}\n");
  kiln_error *err = NULL;
  size_t len = 0;
  _cleanup_free_ char *out = kiln_render_file(dir, "Dockerfile", model, &len, &err);
  ck_assert_msg(out != NULL, "%s", err ? err->message : "?");
  ck_assert_str_eq(out, "FROM /home/u\nP \"42\"\n");
  ck_assert_uint_eq(len, strlen(out));
  ck_assert_ptr_null(kiln_render_file(dir, "absent", model, NULL, &err));
  ck_assert_msg(strstr(err->message, "cannot open ") && strstr(err->message, "/absent.tmpl"), "%s",
                err->message);
  kiln_error_free(err);
}
END_TEST

START_TEST(empty_template_renders_empty) {
  ASSERT_RENDERS("", "");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("render");
  TCase *tc = kt_tcase(s, "render", setup, teardown);
  tcase_add_test(tc, json_filter_makes_a_json_string);
  tcase_add_test(tc, dq_filter_escapes_dockerfile_expansion);
  tcase_add_test(tc, sh_filter_single_quotes);
  tcase_add_test(tc, raw_filter_and_scalars);
  tcase_add_test(tc, unfiltered_variable_is_refused);
  tcase_add_test(tc, missing_and_nonscalar_variables_are_errors);
  tcase_add_test(tc, sections_iterate_arrays);
  tcase_add_test(tc, sections_render_truthy_once_and_skip_falsy);
  tcase_add_test(tc, inverted_sections);
  tcase_add_test(tc, standalone_tags_take_their_line);
  tcase_add_test(tc, partials_load_from_templates_dir);
  tcase_add_test(tc, partial_errors_name_both_files);
  tcase_add_test(tc, recursive_partial_hits_depth_cap);
  tcase_add_test(tc, section_nesting_is_capped);
  tcase_add_test(tc, malformed_templates_report_the_line);
  tcase_add_test(tc, output_is_capped);
  tcase_add_test(tc, template_size_is_capped);
  tcase_add_test(tc, render_file_reads_templates_dir);
  tcase_add_test(tc, empty_template_renders_empty);
  return s;
}

int main(void) {
  return kt_run_suite(suite());
}
