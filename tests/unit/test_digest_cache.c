/* The per-user digest cache (builder/image/digest_cache.h) and the context digest
 * over it: a file whose stat data did not change is not read again, a
 * changed one is read alone, a damaged or foreign cache file is ignored,
 * racy entries are not trusted, the file stays bounded and is the caller's. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/image/digest_cache.h"
#include "kiln/context.h"
#include "sanitize/limits.h"
#include "util/cleanup.h"

#include "kt_check.h"

#define DOCKERFILE "FROM scratch\nCOPY data /data\n"

static char dir[64];         /* the project */
static char cache_home[64];  /* $XDG_CACHE_HOME */
static char cache_path[160]; /* the cache file in it */

static void write_file(const char *rel, const char *text) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", dir, rel), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  ck_assert_int_eq(fclose(f), 0);
}

/* Moves a file's mtime (and so its ctime, to now) back by `ago` seconds. */
static void age(const char *path, int ago) {
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= ago;
  t[1] = t[0];
  ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void setup(void) {
  strcpy(dir, "/tmp/kiln-dc-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  strcpy(cache_home, "/tmp/kiln-dc-cache-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(cache_home));
  setenv("XDG_CACHE_HOME", cache_home, 1);
  snprintf(cache_path, sizeof cache_path, "%s/kiln/" KILN_DIGEST_CACHE_FILE, cache_home);
  _cleanup_free_ char *data = NULL;
  ck_assert_int_ge(asprintf(&data, "%s/data", dir), 0);
  ck_assert_int_eq(mkdir(data, 0755), 0);
  write_file("data/a", "alpha\n");
  write_file("data/b", "bravo\n");
  write_file("data/c", "charlie\n");
}

static void teardown(void) {
  char cmd[192];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, cache_home);
  ck_assert_int_eq(system(cmd), 0);
}

/* The digest of the project; *files and *bytes: what it read. */
static void digest(char out[65], uint64_t *files, uint64_t *bytes) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_context *ctx = kiln_context_new(dir, DOCKERFILE, strlen(DOCKERFILE), &err);
  ck_assert_msg(ctx, "%s", err ? err->message : "");
  ck_assert_msg(kiln_context_add(ctx, "data", &err) == 0, "%s", err ? err->message : "");
  ck_assert_msg(kiln_context_digest(ctx, out, &err) == 0, "%s", err ? err->message : "");
  kiln_context_digest_reads(ctx, files, bytes);
  kiln_context_free(ctx);
}

/* Files made in the past (and a second gone by), as an unchanged project is. */
static void settle(void) {
  const char *names[] = {"data/a", "data/b", "data/c"};
  for (size_t i = 0; i < 3; i++) {
    _cleanup_free_ char *p = NULL;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, names[i]), 0);
    age(p, 10);
  }
  sleep(1); /* the ctimes utimensat just set must be older than the next read */
}

START_TEST(unchanged_files_are_not_read_again) {
  settle();
  char first[65], second[65];
  uint64_t files, bytes;
  digest(first, &files, &bytes);
  ck_assert_uint_eq(files, 3); /* a cold cache: everything read */
  ck_assert_uint_eq(bytes, 6 + 6 + 8);
  struct stat st;
  ck_assert_int_eq(stat(cache_path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0600);
  ck_assert_uint_eq(st.st_uid, geteuid());
  digest(second, &files, &bytes);
  ck_assert_uint_eq(files, 0);
  ck_assert_uint_eq(bytes, 0);
  ck_assert_str_eq(first, second);
}
END_TEST

/* Streams the project's context to the end with the digest computed on the
 * way; the tar bytes sent in *sent. */
static void stream_digest(char out[65], uint64_t *files, uint64_t *sent) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_context *ctx = kiln_context_new(dir, DOCKERFILE, strlen(DOCKERFILE), &err);
  ck_assert_msg(ctx, "%s", err ? err->message : "");
  ck_assert_msg(kiln_context_add(ctx, "data", &err) == 0, "%s", err ? err->message : "");
  /* not before the stream has ended */
  ck_assert_int_eq(kiln_context_digest_while_streaming(ctx, &err), 0);
  ck_assert_int_eq(kiln_context_streamed_digest(ctx, out, &err), -1);
  kiln_error_free(err);
  err = NULL;
  char buf[512];
  ssize_t n;
  while ((n = kiln_context_read(ctx, buf, sizeof buf)) > 0)
    continue;
  ck_assert_int_eq(n, 0);
  ck_assert_msg(kiln_context_streamed_digest(ctx, out, &err) == 0, "%s", err ? err->message : "");
  uint64_t bytes;
  kiln_context_digest_reads(ctx, files, &bytes);
  *sent = kiln_context_bytes_sent(ctx);
  kiln_context_free(ctx);
}

/* One pass: the digest made while the context streams is the one the
 * separate pass makes, and the files it hashed are recorded, so the next
 * digest reads nothing; with the cache warm, streaming hashes nothing. */
START_TEST(the_streamed_digest_equals_the_separate_one_and_is_recorded) {
  settle();
  char streamed[65], separate[65], again[65];
  uint64_t files, bytes, sent;
  stream_digest(streamed, &files, &sent);
  ck_assert_uint_eq(files, 3);
  ck_assert_uint_ge(sent, 6 + 6 + 8 + 512 * 5);
  digest(separate, &files, &bytes);
  ck_assert_uint_eq(files, 0); /* recorded by the stream */
  ck_assert_str_eq(streamed, separate);
  stream_digest(again, &files, &sent);
  ck_assert_uint_eq(files, 0);
  ck_assert_str_eq(again, separate);
  /* a changed byte shows in the streamed digest */
  write_file("data/b", "brav0\n");
  stream_digest(again, &files, &sent);
  ck_assert_uint_eq(files, 1);
  ck_assert_str_ne(again, separate);
}
END_TEST

/* The cache really stands in for the content: a recorded digest (made
 * wrong here on purpose) is what the context digest uses. */
START_TEST(a_hit_uses_the_recorded_digest) {
  settle();
  char real[65], poisoned[65];
  uint64_t files, bytes;
  digest(real, &files, &bytes);
  kiln_digest_cache *c = kiln_digest_cache_load(cache_path, NULL);
  ck_assert_uint_eq(kiln_digest_cache_size(c), 3);
  _cleanup_free_ char *p = NULL;
  ck_assert_int_ge(asprintf(&p, "%s/data/b", dir), 0);
  struct stat st;
  ck_assert_int_eq(stat(p, &st), 0);
  kiln_file_key k;
  kiln_file_key_from_stat(&k, &st);
  unsigned char wrong[32] = {1, 2, 3};
  kiln_digest_cache_put(c, &k, wrong, (int64_t)time(NULL));
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_digest_cache_save(c, &err), 0);
  kiln_digest_cache_free(c);
  digest(poisoned, &files, &bytes);
  ck_assert_uint_eq(files, 0);
  ck_assert_str_ne(real, poisoned);
}
END_TEST

START_TEST(a_changed_file_is_read_alone) {
  settle();
  char first[65], second[65], third[65];
  uint64_t files, bytes;
  digest(first, &files, &bytes);
  write_file("data/b", "BRAVO\n"); /* same size */
  digest(second, &files, &bytes);
  ck_assert_uint_eq(files, 1);
  ck_assert_uint_eq(bytes, 6);
  ck_assert_str_ne(first, second);
  write_file("data/b", "bravo\n"); /* back: the same digest as at first */
  digest(third, &files, &bytes);
  ck_assert_uint_eq(files, 1);
  ck_assert_str_eq(first, third);
}
END_TEST

/* Changed within the same second as its hash, a file is read every time
 * until its times are older than the read: never recorded as racy-clean. */
START_TEST(a_file_changed_within_the_second_is_not_trusted) {
  settle();
  char first[65], second[65];
  uint64_t files, bytes;
  digest(first, &files, &bytes);
  write_file("data/c", "CHARLIE\n"); /* now, same size */
  digest(second, &files, &bytes);
  ck_assert_uint_eq(files, 1);
  ck_assert_str_ne(first, second);
  write_file("data/c", "chArlie\n"); /* again, maybe within the same tick */
  char third[65];
  digest(third, &files, &bytes);
  ck_assert_uint_eq(files, 1); /* read again, not taken from the cache */
  ck_assert_str_ne(second, third);
  ck_assert_str_ne(first, third);
}
END_TEST

/* git's racy-clean rule on load: an entry whose file changed in the second
 * the cache file was written is read again; older ones are trusted. */
START_TEST(entries_not_older_than_the_cache_file_are_not_trusted) {
  kiln_digest_cache *c = kiln_digest_cache_load(cache_path, NULL);
  time_t now = time(NULL);
  kiln_file_key old = {1, 10, 5, (int64_t)now - 100, (int64_t)now - 100, 0, 0};
  kiln_file_key fresh = {1, 11, 5, (int64_t)now - 1, (int64_t)now - 1, 0, 0};
  unsigned char d[32] = {7}, got[32];
  kiln_digest_cache_put(c, &old, d, (int64_t)now);
  kiln_digest_cache_put(c, &fresh, d, (int64_t)now);
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_digest_cache_save(c, &err), 0);
  kiln_digest_cache_free(c);
  /* the cache file written in the same second as `fresh` changed */
  struct timespec t[2] = {{(time_t)now - 1, 500}, {(time_t)now - 1, 500}};
  ck_assert_int_eq(utimensat(AT_FDCWD, cache_path, t, 0), 0);
  c = kiln_digest_cache_load(cache_path, NULL);
  ck_assert_uint_eq(kiln_digest_cache_size(c), 2);
  ck_assert(kiln_digest_cache_get(c, &old, got));
  ck_assert_uint_eq(got[0], 7);
  ck_assert(!kiln_digest_cache_get(c, &fresh, got));
  kiln_digest_cache_free(c);
  /* a put for a file whose times are not older than its read is dropped */
  c = kiln_digest_cache_load(NULL, NULL);
  kiln_digest_cache_put(c, &fresh, d, fresh.mtime_sec);
  ck_assert(!kiln_digest_cache_get(c, &fresh, got));
  ck_assert_uint_eq(kiln_digest_cache_size(c), 0);
  kiln_digest_cache_free(c);
}
END_TEST

static void write_cache_bytes(const void *data, size_t n) {
  int fd = open(cache_path, O_WRONLY | O_TRUNC);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
}

START_TEST(a_damaged_cache_is_ignored_and_rebuilt) {
  settle();
  char first[65], again[65];
  uint64_t files, bytes;
  digest(first, &files, &bytes);
  /* one flipped byte in a recorded digest: the checksum catches it */
  int fd = open(cache_path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  unsigned char byte;
  ck_assert_int_eq(pread(fd, &byte, 1, 16 + 48), 1);
  byte ^= 0x40;
  ck_assert_int_eq(pwrite(fd, &byte, 1, 16 + 48), 1);
  close(fd);
  const char *why = NULL;
  kiln_digest_cache *c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "checksum mismatch");
  ck_assert_uint_eq(kiln_digest_cache_size(c), 0);
  kiln_digest_cache_free(c);
  digest(again, &files, &bytes);
  ck_assert_uint_eq(files, 3); /* everything read again, same answer */
  ck_assert_str_eq(first, again);
  /* and written back whole */
  digest(again, &files, &bytes);
  ck_assert_uint_eq(files, 0);

  /* cut short, another version, garbage, empty: each ignored */
  struct stat st;
  ck_assert_int_eq(stat(cache_path, &st), 0);
  _cleanup_free_ unsigned char *good = malloc((size_t)st.st_size);
  fd = open(cache_path, O_RDONLY);
  ck_assert_int_eq(read(fd, good, (size_t)st.st_size), st.st_size);
  close(fd);
  write_cache_bytes(good, (size_t)st.st_size - 1);
  c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "wrong size");
  kiln_digest_cache_free(c);
  good[8] = 2; /* version 2 */
  write_cache_bytes(good, (size_t)st.st_size);
  c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "another format version");
  kiln_digest_cache_free(c);
  write_cache_bytes("garbage garbage garbage garbage garbage garbage!", 48);
  c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "not a kiln digest cache");
  ck_assert_uint_eq(kiln_digest_cache_size(c), 0);
  kiln_digest_cache_free(c);
  write_cache_bytes("", 0);
  c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "wrong size");
  kiln_digest_cache_free(c);
  /* missing: empty, nothing to say */
  ck_assert_int_eq(unlink(cache_path), 0);
  c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_ptr_null(why);
  kiln_digest_cache_free(c);
  digest(again, &files, &bytes);
  ck_assert_str_eq(first, again);
}
END_TEST

START_TEST(a_cache_file_of_someone_else_is_ignored) {
  settle();
  char first[65];
  uint64_t files, bytes;
  digest(first, &files, &bytes);
  ck_assert_int_eq(chown(cache_path, geteuid() + 1, (gid_t)-1), 0);
  const char *why = NULL;
  kiln_digest_cache *c = kiln_digest_cache_load(cache_path, &why);
  ck_assert_str_eq(why, "not owned by the caller");
  ck_assert_uint_eq(kiln_digest_cache_size(c), 0);
  kiln_digest_cache_free(c);
}
END_TEST

/* At most KILN_MAX_DIGEST_CACHE_ENTRIES are written; the ones used last
 * are kept. */
START_TEST(the_cache_is_bounded_keeping_the_last_used) {
  enum { CAP = KILN_MAX_DIGEST_CACHE_ENTRIES, EXTRA = 1000 };
  kiln_digest_cache *c = kiln_digest_cache_load(cache_path, NULL);
  int64_t now = (int64_t)time(NULL);
  unsigned char d[32] = {0};
  for (uint64_t i = 0; i < CAP; i++) {
    kiln_file_key k = {1, i, 1, now - 100, now - 100, 0, 0};
    kiln_digest_cache_put(c, &k, d, now);
  }
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_digest_cache_save(c, &err), 0);
  kiln_digest_cache_free(c);
  age(cache_path, 5);
  /* a later run uses EXTRA new files and one old one */
  c = kiln_digest_cache_load(cache_path, NULL);
  ck_assert_uint_eq(kiln_digest_cache_size(c), CAP);
  unsigned char got[32];
  kiln_file_key old = {1, 5, 1, now - 100, now - 100, 0, 0};
  ck_assert(kiln_digest_cache_get(c, &old, got));
  for (uint64_t i = CAP; i < CAP + EXTRA; i++) {
    kiln_file_key k = {1, i, 1, now - 100, now - 100, 0, 0};
    kiln_digest_cache_put(c, &k, d, now);
  }
  ck_assert_int_eq(kiln_digest_cache_save(c, &err), 0);
  kiln_digest_cache_free(c);
  struct stat st;
  ck_assert_int_eq(stat(cache_path, &st), 0);
  ck_assert_int_eq(st.st_size, 16 + 80 * CAP + 32);
  age(cache_path, 5);
  c = kiln_digest_cache_load(cache_path, NULL);
  ck_assert_uint_eq(kiln_digest_cache_size(c), CAP);
  ck_assert(kiln_digest_cache_get(c, &old, got)); /* used: kept */
  kiln_file_key newest = {1, CAP + EXTRA - 1, 1, now - 100, now - 100, 0, 0};
  ck_assert(kiln_digest_cache_get(c, &newest, got));
  size_t dropped = 0;
  for (uint64_t i = 0; i < CAP; i++) {
    kiln_file_key k = {1, i, 1, now - 100, now - 100, 0, 0};
    dropped += !kiln_digest_cache_get(c, &k, got);
  }
  ck_assert_uint_eq(dropped, EXTRA); /* EXTRA of the unused old ones made room */
  kiln_digest_cache_free(c);
}
END_TEST

static Suite *digest_cache_suite(void) {
  Suite *s = suite_create("digest_cache");
  TCase *tc = kt_tcase(s, "core", setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, unchanged_files_are_not_read_again);
  tcase_add_test(tc, a_hit_uses_the_recorded_digest);
  tcase_add_test(tc, the_streamed_digest_equals_the_separate_one_and_is_recorded);
  tcase_add_test(tc, a_changed_file_is_read_alone);
  tcase_add_test(tc, a_file_changed_within_the_second_is_not_trusted);
  tcase_add_test(tc, entries_not_older_than_the_cache_file_are_not_trusted);
  tcase_add_test(tc, a_damaged_cache_is_ignored_and_rebuilt);
  tcase_add_test(tc, a_cache_file_of_someone_else_is_ignored);
  tcase_add_test(tc, the_cache_is_bounded_keeping_the_last_used);
  return s;
}

int main(void) {
  return kt_run_suite(digest_cache_suite());
}
