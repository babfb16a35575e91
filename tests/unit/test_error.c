/* util/error.c: recording an error never fails (a static out-of-memory
 * error when allocations fail), and kiln_error_keep keeps both errors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/config.h"
#include "kiln/error.h"
#include "util/cleanup.h"
#include "util/error_private.h"

#include "kt_check.h"

/* Allocations through kiln_error_alloc fail from the n-th one on (0: all). */
static int allocs_before_failure;

static void *failing_alloc(size_t size) {
  if (allocs_before_failure-- > 0) return malloc(size);
  return NULL;
}

static void fail_allocations_after(int n) {
  allocs_before_failure = n;
  kiln_error_alloc = failing_alloc;
}

static void teardown(void) {
  kiln_error_alloc = malloc;
}

START_TEST(set_without_memory_still_sets) {
  kiln_error *err = NULL;
  fail_allocations_after(0);
  ck_assert_int_eq(kiln_error_set(&err, KILN_EXIT_ENGINE, "engine said %d", 500), -1);
  ck_assert_ptr_nonnull(err); /* callers dereference *err after a set */
  ck_assert_str_eq(err->message, "out of memory");
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_int_eq(kiln_error_prefix(&err, "build"), -1);
  ck_assert_str_eq(err->message, "out of memory"); /* static: never rewritten */
  kiln_error_set(&err, KILN_EXIT_USAGE, "second");
  ck_assert_int_eq(kiln_error_count(err), 1);
  teardown();
  kiln_error_set(&err, KILN_EXIT_USAGE, "later, with memory"); /* freed: oom stays last */
  ck_assert_int_eq(kiln_error_count(err), 1);
  ck_assert_ptr_null(err->next);
  kiln_error_free(err); /* must not free the static error */
}
END_TEST

/* The struct is allocated, the message is not: no leak, no NULL message. */
START_TEST(message_without_memory) {
  kiln_error *err = NULL;
  fail_allocations_after(1);
  kiln_error_set(&err, KILN_EXIT_ENGINE, "engine said %d", 500);
  ck_assert_ptr_nonnull(err);
  ck_assert_str_eq(err->message, "out of memory");
  kiln_error_free(err);
}
END_TEST

/* A real error first, then out of memory: both kept, in that order. */
START_TEST(out_of_memory_after_a_real_error) {
  kiln_error *err = NULL;
  kiln_error_set(&err, KILN_EXIT_USAGE, "bad uid");
  fail_allocations_after(0);
  kiln_error_errno(&err, 12, "reading %s", "kiln.yaml");
  ck_assert_int_eq(kiln_error_count(err), 2);
  ck_assert_str_eq(err->message, "bad uid");
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->next->message, "out of memory");
  kiln_error_prefix(&err, "validate"); /* fails quietly without memory */
  teardown();
  kiln_error_prefix(&err, "validate");
  ck_assert_str_eq(err->message, "validate: bad uid");
  ck_assert_str_eq(err->next->message, "out of memory");
  kiln_error_free(err);
}
END_TEST

START_TEST(keep_keeps_the_first_and_the_second) {
  kiln_error *err = NULL, *first = NULL, *second = NULL;
  kiln_error_set(&first, KILN_EXIT_ENGINE, "engine: no such image");
  kiln_error_set(&second, KILN_EXIT_FAILURE, "lock: busy");
  kiln_error_set(&second, KILN_EXIT_FAILURE, "lock: retried");
  ck_assert_int_eq(kiln_error_keep(&err, NULL), 0);
  ck_assert_ptr_null(err);
  ck_assert_int_eq(kiln_error_keep(&err, first), -1);
  ck_assert_ptr_eq(err, first);
  ck_assert_int_eq(kiln_error_keep(&err, second), -1);
  ck_assert_int_eq(kiln_error_count(err), 3);
  ck_assert_str_eq(err->message, "engine: no such image");
  ck_assert_int_eq(err->code, KILN_EXIT_ENGINE);
  ck_assert_str_eq(err->next->message, "lock: busy");
  ck_assert_str_eq(err->next->next->message, "lock: retried");
  ck_assert_int_eq(kiln_error_keep(&err, NULL), -1);
  kiln_error_free(err);

  kiln_error *dropped = NULL;
  kiln_error_set(&dropped, KILN_EXIT_FAILURE, "nowhere to go");
  ck_assert_int_eq(kiln_error_keep(NULL, dropped), -1); /* freed (ASan checks) */
}
END_TEST

/* The "pass it on only if none is set" pattern dropped the second error:
 * a parse error after an earlier one must still be reported. */
START_TEST(a_second_error_is_not_dropped) {
  kiln_error *err = NULL;
  kiln_error_set(&err, KILN_EXIT_USAGE, "earlier");
  kiln_config cfg;
  const char *text = "max_containers: [1,\n";
  ck_assert_int_eq(kiln_config_parse(&cfg, "site.yaml", text, strlen(text), &err), -1);
  ck_assert_int_eq(kiln_error_count(err), 2);
  ck_assert_str_eq(err->message, "earlier");
  ck_assert_ptr_nonnull(strstr(err->next->message, "site.yaml"));
  kiln_error_free(err);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("error");
  TCase *tc = kt_tcase(s, "error", NULL, teardown);
  tcase_add_test(tc, set_without_memory_still_sets);
  tcase_add_test(tc, message_without_memory);
  tcase_add_test(tc, out_of_memory_after_a_real_error);
  tcase_add_test(tc, keep_keeps_the_first_and_the_second);
  tcase_add_test(tc, a_second_error_is_not_dropped);
  return s;
}

int main(void) {
  return kt_run_suite(suite());
}
