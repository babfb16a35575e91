/* What every unit suite shares: its test cases, running it, and checking an
 * error the way the user sees it (code and message). */
#ifndef KILN_TEST_KT_CHECK_H
#define KILN_TEST_KT_CHECK_H

#include <check.h>
#include <string.h>

#include "kiln/error.h"

/* Runs suite s (takes it) with CK_NORMAL output and returns the exit status
 * for main: EXIT_SUCCESS when every test passed. */
int kt_run_suite(Suite *s);

/* A new test case `name` of s (s owns it), with setup and teardown (either
 * may be NULL) as its checked fixture: run around each test, in the forked
 * child. */
TCase *kt_tcase(Suite *s, const char *name, SFun setup, SFun teardown);

/* Fails the running test unless err is set, with code, and its message
 * contains text. A macro, so a failure names the test's line. */
#define kt_assert_error(ERR, CODE, TEXT)                                                           \
  do {                                                                                             \
    const kiln_error *kt_err_ = (ERR);                                                             \
    int kt_code_ = (CODE);                                                                         \
    const char *kt_text_ = (TEXT);                                                                 \
    ck_assert_ptr_nonnull(kt_err_);                                                                \
    ck_assert_msg(kt_err_->code == kt_code_, "code %d, expected %d: %s", kt_err_->code, kt_code_,  \
                  kt_err_->message);                                                               \
    ck_assert_msg(strstr(kt_err_->message, kt_text_), "expected \"%s\" in: %s", kt_text_,          \
                  kt_err_->message);                                                               \
  } while (0)

#endif
