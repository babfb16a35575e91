/* util/: sha256 against the NIST vectors, the capped buffer, the error chain. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/error.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#include "kt_check.h"

/* ---- sha256 (FIPS 180-2 appendix B / NIST CAVP examples) ---- */

START_TEST(sha256_short_vectors) {
  static const struct {
    const char *text, *hex;
  } vectors[] = {
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
  };
  for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
    char hex[65];
    ck_assert_int_eq(kiln_sha256_hex(vectors[i].text, strlen(vectors[i].text), hex), 0);
    ck_assert_str_eq(hex, vectors[i].hex);
  }
}
END_TEST

START_TEST(sha256_million_a_in_uneven_chunks) {
  enum { TOTAL = 1000000 };
  static char a[1000];
  memset(a, 'a', sizeof a);
  /* Chunk sizes cross the 64-byte block boundary at every offset. */
  static const size_t chunks[] = {1, 63, 64, 65, 127, 3, 999, 55, 56, 57, 0, 1000};
  _cleanup_sha256_ kiln_sha256 s = KILN_SHA256_INIT;
  ck_assert_int_eq(kiln_sha256_init(&s), 0);
  size_t done = 0;
  for (size_t i = 0; done < TOTAL; i = (i + 1) % (sizeof chunks / sizeof *chunks)) {
    size_t n = chunks[i] < TOTAL - done ? chunks[i] : TOTAL - done;
    kiln_sha256_update(&s, a, n);
    done += n;
  }
  char hex[65];
  ck_assert_int_eq(kiln_sha256_final_hex(&s, hex), 0);
  ck_assert_ptr_null(s.md); /* final released the context */
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_raw_matches_hex) {
  kiln_sha256 s;
  unsigned char raw[32];
  ck_assert_int_eq(kiln_sha256_init(&s), 0);
  kiln_sha256_update(&s, "abc", 3);
  ck_assert_int_eq(kiln_sha256_final(&s, raw), 0);
  ck_assert_int_eq(kiln_sha256_final(&s, raw), -1); /* released: no second digest */
  ck_assert_uint_eq(raw[0], 0xba);
  ck_assert_uint_eq(raw[1], 0x78);
  ck_assert_uint_eq(raw[31], 0xad);
}
END_TEST

/* ---- kiln_buf ---- */

START_TEST(buf_cap) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(8);
  ck_assert_int_eq(kiln_buf_append(&b, "hello", 5), 0);
  ck_assert_int_eq(kiln_buf_append(&b, "wxyz", 4), -1); /* 9 > 8 */
  ck_assert_uint_eq(b.len, 5);
  ck_assert_str_eq(b.data, "hello");
  ck_assert_int_eq(kiln_buf_printf(&b, "%d", 1234), -1);
  ck_assert_str_eq(b.data, "hello");
  ck_assert_int_eq(kiln_buf_puts(&b, "abc"), 0); /* exactly the cap */
  ck_assert_str_eq(b.data, "helloabc");
  ck_assert_int_eq(kiln_buf_append(&b, "!", 1), -1);
  ck_assert_uint_eq(b.len, 8);
  ck_assert_str_eq(b.data, "helloabc");
}
END_TEST

START_TEST(buf_huge_append_fails_without_overflow) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(16);
  ck_assert_int_eq(kiln_buf_puts(&b, "abc"), 0);
  ck_assert_int_eq(kiln_buf_append(&b, "x", SIZE_MAX), -1);
  ck_assert_str_eq(b.data, "abc");
}
END_TEST

START_TEST(buf_consume_and_reset) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(64);
  ck_assert_int_eq(kiln_buf_printf(&b, "line1\n%s", "line2"), 0);
  kiln_buf_consume(&b, 6);
  ck_assert_uint_eq(b.len, 5);
  ck_assert_str_eq(b.data, "line2");
  kiln_buf_consume(&b, 100);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_str_eq(b.data, "");
  ck_assert_int_eq(kiln_buf_puts(&b, "again"), 0);
  kiln_buf_reset(&b);
  ck_assert_uint_eq(b.len, 0);
  ck_assert_str_eq(b.data, "");
}
END_TEST

START_TEST(buf_steal) {
  kiln_buf b = KILN_BUF_INIT(64);
  ck_assert_int_eq(kiln_buf_puts(&b, "owned"), 0);
  size_t len = 0;
  _cleanup_free_ char *s = kiln_buf_steal(&b, &len);
  ck_assert_str_eq(s, "owned");
  ck_assert_uint_eq(len, 5);
  ck_assert_ptr_null(b.data);
  ck_assert_uint_eq(b.len, 0);
  /* An empty buffer still gives a string. */
  _cleanup_free_ char *empty = kiln_buf_steal(&b, NULL);
  ck_assert_ptr_nonnull(empty);
  ck_assert_str_eq(empty, "");
  kiln_buf_free(&b);
}
END_TEST

/* ---- kiln_error ---- */

START_TEST(error_chain) {
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_error_count(err), 0);
  ck_assert_int_eq(kiln_error_set(&err, KILN_EXIT_USAGE, "bad %s", "uid"), -1);
  ck_assert_int_eq(kiln_error_set(&err, KILN_EXIT_ENGINE, "engine said %d", 409), -1);
  ck_assert_int_eq(kiln_error_count(err), 2);
  ck_assert_int_eq(kiln_error_prefix(&err, "kiln.yaml:%d:%d", 3, 7), -1);
  ck_assert_str_eq(err->message, "kiln.yaml:3:7: bad uid");
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->next->message, "kiln.yaml:3:7: engine said 409");
  ck_assert_int_eq(err->next->code, KILN_EXIT_ENGINE);
  ck_assert_ptr_null(err->next->next);
  ck_assert_int_eq(kiln_error_prefix(&err, "validate"), -1);
  ck_assert_str_eq(err->message, "validate: kiln.yaml:3:7: bad uid");
  ck_assert_str_eq(err->next->message, "validate: kiln.yaml:3:7: engine said 409");
}
END_TEST

START_TEST(error_errno_and_null) {
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_error_errno(&err, ENOENT, "open %s", "kiln.yaml"), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_str_eq(err->message, "open kiln.yaml: No such file or directory");
  /* No place to record: still -1, nothing happens. */
  ck_assert_int_eq(kiln_error_set(NULL, KILN_EXIT_USAGE, "ignored"), -1);
  kiln_error *none = NULL;
  ck_assert_int_eq(kiln_error_prefix(&none, "ctx"), -1);
  ck_assert_ptr_null(none);
  kiln_error_free(NULL);
}
END_TEST

static Suite *util_suite(void) {
  Suite *s = suite_create("util");
  TCase *sha = kt_tcase(s, "sha256", NULL, NULL);
  tcase_add_test(sha, sha256_short_vectors);
  tcase_add_test(sha, sha256_million_a_in_uneven_chunks);
  tcase_add_test(sha, sha256_raw_matches_hex);
  TCase *buf = kt_tcase(s, "buf", NULL, NULL);
  tcase_add_test(buf, buf_cap);
  tcase_add_test(buf, buf_huge_append_fails_without_overflow);
  tcase_add_test(buf, buf_consume_and_reset);
  tcase_add_test(buf, buf_steal);
  TCase *error = kt_tcase(s, "error", NULL, NULL);
  tcase_add_test(error, error_chain);
  tcase_add_test(error, error_errno_and_null);
  return s;
}

int main(void) {
  return kt_run_suite(util_suite());
}
