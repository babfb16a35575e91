/* What every unit suite shares: running it, and checking an error the way
 * the user sees it (code and message). */
#ifndef KILN_TEST_KT_CHECK_H
#define KILN_TEST_KT_CHECK_H

#include <check.h>

#include "kiln/error.h"

/* Runs suite s (takes it) with CK_NORMAL output and returns the exit status
 * for main: EXIT_SUCCESS when every test passed. */
int kt_run_suite(Suite *s);

/* Fails the running test unless err is set, with code, and its message
 * contains text. */
void kt_assert_error(const kiln_error *err, int code, const char *text);

#endif
