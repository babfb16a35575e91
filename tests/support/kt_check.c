/* Shared check-suite helpers (kt_check.h). */
#include "kt_check.h"

#include <stdlib.h>
#include <string.h>

int kt_run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void kt_assert_error(const kiln_error *err, int code, const char *text) {
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(err->code == code, "code %d, expected %d: %s", err->code, code, err->message);
  ck_assert_msg(strstr(err->message, text), "expected \"%s\" in: %s", text, err->message);
}
