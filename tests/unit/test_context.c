/* The build context: what goes in (named paths, folder walks with
 * .dockerignore, symlinks), the tar stream read back with libarchive's
 * reader straight from kiln_context_read in 64 KiB pulls (a 200 MB sparse
 * file included), the digest, and the errors. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/context.h"
#include "util/cleanup.h"

#include "kt_check.h"

#define PULL        (64u << 10)
#define FIXED_MTIME 946684800
#define BIG_SIZE    (200ull << 20)
#define DOCKERFILE  "FROM scratch\nCOPY conf /etc/conf\n"

static char project[64];

static void write_file(const char *rel, const char *text, mode_t mode) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", project, rel), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  ck_assert_int_eq(chmod(path, mode), 0);
}

static void make_dir(const char *rel) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", project, rel), 0);
  ck_assert_int_eq(mkdir(path, 0750), 0);
}

static void make_link(const char *rel, const char *target) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", project, rel), 0);
  ck_assert_int_eq(symlink(target, path), 0);
}

static void append(const char *rel, const char *text) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/%s", project, rel), 0);
  FILE *f = fopen(path, "a");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* A project with a copied folder holding an ignored key, a nested
 * .dockerignore (just a file), a link inside and a sub-folder; plus data
 * nobody copies. */
static void setup(void) {
  strcpy(project, "/tmp/kiln-ctx-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(project));
  write_file(".dockerignore", "conf/*.key\nconf/cache\n", 0644);
  write_file("tool.sh", "#!/bin/sh\necho tool\n", 0755);
  make_dir("conf");
  write_file("conf/a.conf", "a=1\n", 0640);
  write_file("conf/secret.key", "secret\n", 0600);
  write_file("conf/.dockerignore", "*\n", 0644);
  make_link("conf/link", "a.conf");
  make_dir("conf/sub");
  write_file("conf/sub/x", "x\n", 0644);
  make_dir("conf/cache");
  write_file("conf/cache/c", "c\n", 0644);
  make_dir("data");
  write_file("data/unrelated", "not sent\n", 0644);
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", project);
  ck_assert_int_eq(system(cmd), 0);
}

static kiln_context *new_context(void) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_context *ctx = kiln_context_new(project, DOCKERFILE, strlen(DOCKERFILE), &err);
  ck_assert_msg(ctx, "%s", err ? err->message : "");
  return ctx;
}

static void add(kiln_context *ctx, const char *rel) {
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_context_add(ctx, rel, &err) == 0, "%s", err ? err->message : "");
}

/* ---- listing ---- */

typedef struct {
  char text[2048]; /* "path type mode size [-> link]" lines */
} listing;

static int collect(void *user, const kiln_context_entry *e) {
  listing *l = user;
  size_t used = strlen(l->text);
  snprintf(l->text + used, sizeof l->text - used, "%s %c %o %llu%s%s\n", e->path, e->type, e->mode,
           (unsigned long long)e->size, e->link_target ? " -> " : "",
           e->link_target ? e->link_target : "");
  return 0;
}

static void list(kiln_context *ctx, listing *l) {
  _cleanup_error_ kiln_error *err = NULL;
  l->text[0] = '\0';
  ck_assert_int_eq(kiln_context_list(ctx, collect, l, &err), 0);
}

START_TEST(sends_named_paths_with_dockerignore_applied_below_them) {
  kiln_context *ctx = new_context();
  add(ctx, "tool.sh");
  add(ctx, "conf/");
  add(ctx, "./conf/a.conf"); /* already in: kept once */
  add(ctx, "conf");
  listing l;
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\n"
                           "tool.sh f 755 20\n"
                           "conf d 750 0\n"
                           "conf/.dockerignore f 644 2\n"
                           "conf/a.conf f 640 4\n"
                           "conf/link l 777 0 -> a.conf\n"
                           "conf/sub d 750 0\n"
                           "conf/sub/x f 644 2\n");
  kiln_context_free(ctx);
}
END_TEST

START_TEST(a_named_path_is_sent_even_when_ignored) {
  kiln_context *ctx = new_context();
  add(ctx, "conf/secret.key");
  add(ctx, "tool.sh");
  listing l;
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\nconf/secret.key f 600 7\ntool.sh f 755 20\n");
  /* the spec wins, and says so: one warning, for the excluded one */
  ck_assert_uint_eq(kiln_context_n_warnings(ctx), 1);
  ck_assert_str_eq(kiln_context_warning(ctx, 0), "conf/secret.key is excluded by .dockerignore "
                                                 "but the spec names it: it is sent anyway");
  ck_assert_ptr_null(kiln_context_warning(ctx, 1));
  kiln_context_free(ctx);
}
END_TEST

/* "build" + "!build/keep/important.txt": the file comes back without an
 * entry for its excluded folders; "!**" exceptions rescue nothing. */
START_TEST(exceptions_reach_into_excluded_folders_like_docker) {
  write_file(".dockerignore",
             "tree/build\n!tree/build/keep/important.txt\ntree/out\n"
             "!**/wanted.txt\n",
             0644);
  make_dir("tree");
  make_dir("tree/build");
  make_dir("tree/build/keep");
  write_file("tree/build/keep/important.txt", "i\n", 0644);
  write_file("tree/build/keep/other.txt", "o\n", 0644);
  make_dir("tree/out");
  write_file("tree/out/wanted.txt", "w\n", 0644);
  kiln_context *ctx = new_context();
  add(ctx, "tree");
  listing l;
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\ntree d 750 0\n"
                           "tree/build/keep/important.txt f 644 2\n");
  kiln_context_free(ctx);
}
END_TEST

/* Every .txt excluded, then "!tree/README.md": the exception is skipped at
 * tree/README.md (nothing to undo there) and so is not carried below it;
 * docker sends nothing under the excluded folder tree/README.md/y.txt. */
START_TEST(skipped_exceptions_are_not_inherited_like_docker) {
  write_file(".dockerignore", "**/*.txt\n!tree/README.md\n", 0644);
  make_dir("tree");
  make_dir("tree/README.md");
  write_file("tree/README.md/c", "c\n", 0644);
  make_dir("tree/README.md/y.txt");
  write_file("tree/README.md/y.txt/b", "b\n", 0644);
  kiln_context *ctx = new_context();
  add(ctx, "tree");
  listing l;
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\ntree d 750 0\ntree/README.md d 750 0\n"
                           "tree/README.md/c f 644 2\n");
  kiln_context_free(ctx);
  /* named below its folders: matched as docker walks down to it */
  ctx = new_context();
  add(ctx, "tree/README.md");
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\ntree/README.md d 750 0\n"
                           "tree/README.md/c f 644 2\n");
  ck_assert_uint_eq(kiln_context_n_warnings(ctx), 0);
  kiln_context_free(ctx);
}
END_TEST

/* A FIFO in a copied folder: docker would send it and the build fail;
 * kiln refuses it by name (and never opens it), unless .dockerignore
 * leaves it out. */
START_TEST(special_files_in_a_copied_folder_are_refused_by_name) {
  _cleanup_free_ char *fifo = NULL;
  ck_assert_int_ge(asprintf(&fifo, "%s/conf/sub/pipe", project), 0);
  ck_assert_int_eq(mkfifo(fifo, 0644), 0);
  kiln_context *ctx = new_context();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_add(ctx, "conf", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE,
                  "build context: conf/sub/pipe is a FIFO (named pipe), not a regular file, folder "
                  "or symlink; remove it or exclude it in .dockerignore");
  kiln_context_free(ctx);
  kiln_error_free(err);
  err = NULL;
  ctx = new_context();
  ck_assert_int_eq(kiln_context_add(ctx, "conf/sub/pipe", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE,
                  "\"conf/sub/pipe\" is a FIFO (named pipe), not a regular file");
  kiln_context_free(ctx);
  append(".dockerignore", "conf/sub/pipe\n");
  ctx = new_context();
  add(ctx, "conf");
  kiln_context_free(ctx);
}
END_TEST

START_TEST(a_named_symlink_brings_its_target) {
  make_link("current.conf", "conf/a.conf");
  kiln_context *ctx = new_context();
  add(ctx, "current.conf");
  listing l;
  list(ctx, &l);
  ck_assert_str_eq(l.text, "Dockerfile f 644 33\ncurrent.conf l 777 0 -> conf/a.conf\n"
                           "conf/a.conf f 640 4\n");
  kiln_context_free(ctx);
}
END_TEST

/* ---- the stream, read back ---- */

static la_ssize_t pull(struct archive *a, void *user, const void **out) {
  (void)a;
  static char buf[PULL];
  ssize_t n = kiln_context_read(user, buf, sizeof buf);
  *out = buf;
  return n;
}

typedef struct {
  char names[1024];
  uint64_t total;
} stream_summary;

/* Checks every header's normalisation and returns names and content size. */
static void read_back(kiln_context *ctx, stream_summary *s) {
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  ck_assert_int_eq(archive_read_open(a, ctx, NULL, pull, NULL), ARCHIVE_OK);
  struct archive_entry *ae;
  s->names[0] = '\0';
  s->total = 0;
  int r;
  while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
    const char *name = archive_entry_pathname(ae);
    size_t used = strlen(s->names);
    snprintf(s->names + used, sizeof s->names - used, "%s %o\n", name,
             (unsigned)archive_entry_perm(ae));
    ck_assert_int_eq(archive_entry_uid(ae), 0);
    ck_assert_int_eq(archive_entry_gid(ae), 0);
    ck_assert_msg(!archive_entry_uname(ae) || !*archive_entry_uname(ae), "uname on %s", name);
    ck_assert_msg(!archive_entry_gname(ae) || !*archive_entry_gname(ae), "gname on %s", name);
    ck_assert_int_eq(archive_entry_mtime(ae), FIXED_MTIME);
    if (!strcmp(name, "conf/link")) ck_assert_str_eq(archive_entry_symlink(ae), "a.conf");
    const void *buf;
    size_t n;
    la_int64_t off;
    uint64_t got = 0;
    while ((r = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
      got = (uint64_t)off + n;
      if (!strcmp(name, "data/big.bin")) {
        static const char zeros[PULL];
        for (size_t i = 0; i < n; i += PULL) {
          size_t m = n - i < PULL ? n - i : PULL;
          ck_assert_msg(!memcmp((const char *)buf + i, zeros, m), "big.bin near %lld",
                        (long long)off);
        }
      }
    }
    ck_assert_int_eq(r, ARCHIVE_EOF);
    ck_assert_uint_eq(got, (uint64_t)archive_entry_size(ae));
    s->total += got;
  }
  ck_assert_msg(r == ARCHIVE_EOF, "reader: %s", archive_error_string(a));
  archive_read_free(a);
}

START_TEST(stream_reads_back_as_normalised_tar) {
  make_dir("data/big");
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/data/big.bin", project), 0);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, (off_t)BIG_SIZE), 0);
  close(fd);
  kiln_context *ctx = new_context();
  add(ctx, "tool.sh");
  add(ctx, "conf");
  add(ctx, "data/big.bin");
  stream_summary s;
  read_back(ctx, &s);
  ck_assert_str_eq(s.names, "Dockerfile 644\n"
                            "tool.sh 755\n"
                            "conf/ 750\n"
                            "conf/.dockerignore 644\n"
                            "conf/a.conf 640\n"
                            "conf/link 777\n"
                            "conf/sub/ 750\n"
                            "conf/sub/x 644\n"
                            "data/big.bin 644\n");
  ck_assert_uint_eq(s.total, 33 + 20 + 2 + 4 + 2 + BIG_SIZE);
  /* ustar headers only, no padding past the two end blocks: 9 headers,
   * contents rounded up to 512, end of archive */
  uint64_t expect = 9 * 512 + 512 + 512 + 512 + 512 + 512 + BIG_SIZE + 1024;
  ck_assert_uint_eq(kiln_context_bytes_sent(ctx), expect);
  char buf[16];
  ck_assert_int_eq(kiln_context_read(ctx, buf, sizeof buf), 0); /* stays at the end */
  ck_assert_ptr_null(kiln_context_error(ctx));
  kiln_context_free(ctx);
}
END_TEST

START_TEST(long_and_non_ascii_names_survive) {
  char longname[200] = "deep/";
  memset(longname + 5, 'n', 150);
  make_dir("deep");
  write_file(longname, "l\n", 0644);
  write_file("caf\xC3\xA9.txt", "c\n", 0644);
  kiln_context *ctx = new_context();
  add(ctx, longname);
  add(ctx, "caf\xC3\xA9.txt");
  stream_summary s;
  read_back(ctx, &s);
  _cleanup_free_ char *expect = NULL;
  ck_assert_int_ge(asprintf(&expect, "Dockerfile 644\n%s 644\ncaf\xC3\xA9.txt 644\n", longname), 0);
  ck_assert_str_eq(s.names, expect);
  kiln_context_free(ctx);
}
END_TEST

START_TEST(small_pulls_give_the_same_bytes) {
  kiln_context *one = new_context(), *two = new_context();
  add(one, "conf");
  add(two, "conf");
  char a[PULL], b[7];
  ssize_t n, total = 0;
  while ((n = kiln_context_read(one, a, sizeof a)) > 0) {
    for (ssize_t off = 0; off < n;) {
      ssize_t m =
          kiln_context_read(two, b, (size_t)(n - off) < sizeof b ? (size_t)(n - off) : sizeof b);
      ck_assert_int_gt(m, 0);
      ck_assert(!memcmp(a + off, b, (size_t)m));
      off += m;
    }
    total += n;
  }
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(kiln_context_read(two, b, sizeof b), 0);
  ck_assert_uint_eq(kiln_context_bytes_sent(two), (uint64_t)total);
  kiln_context_free(one);
  kiln_context_free(two);
}
END_TEST

/* ---- digest ---- */

static void digest_of(const char *dir, char out[65]) {
  _cleanup_error_ kiln_error *err = NULL;
  kiln_context *ctx = kiln_context_new(dir, DOCKERFILE, strlen(DOCKERFILE), &err);
  ck_assert_ptr_nonnull(ctx);
  add(ctx, "conf");
  add(ctx, "tool.sh");
  ck_assert_msg(kiln_context_digest(ctx, out, &err) == 0, "%s", err ? err->message : "");
  kiln_context_free(ctx);
}

START_TEST(digest_follows_content_mode_and_names) {
  char first[65], copy[65], changed_byte[65], changed_mode[65];
  digest_of(project, first);
  ck_assert_uint_eq(strlen(first), 64);
  /* the same tree elsewhere: same digest */
  char other[64] = "/tmp/kiln-ctx2-XXXXXX", cmd[256];
  ck_assert_ptr_nonnull(mkdtemp(other));
  snprintf(cmd, sizeof cmd, "cp -a '%s'/. '%s'", project, other);
  ck_assert_int_eq(system(cmd), 0);
  digest_of(other, copy);
  ck_assert_str_eq(first, copy);
  write_file("conf/a.conf", "a=2\n", 0640); /* one byte */
  digest_of(project, changed_byte);
  ck_assert_str_ne(first, changed_byte);
  write_file("conf/a.conf", "a=1\n", 0644); /* mode only */
  digest_of(project, changed_mode);
  ck_assert_str_ne(first, changed_mode);
  write_file("conf/a.conf", "a=1\n", 0640); /* back */
  digest_of(project, changed_mode);
  ck_assert_str_eq(first, changed_mode);
  write_file("conf/secret.key", "other secret\n", 0600); /* ignored: no change */
  digest_of(project, changed_mode);
  ck_assert_str_eq(first, changed_mode);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", other);
  ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- errors ---- */

START_TEST(escaping_symlinks_are_refused_by_name) {
  make_link("conf/sub/up", "../../../outside");
  kiln_context *ctx = new_context();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_add(ctx, "conf", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE,
                  "build context: symlink conf/sub/up points outside the project (to "
                  "../../../outside)");
  kiln_context_free(ctx);
}
END_TEST

START_TEST(absolute_symlinks_are_refused) {
  make_link("conf/abs", "/etc/passwd");
  kiln_context *ctx = new_context();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_add(ctx, "conf", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE,
                  "symlink conf/abs points outside the project (to /etc/passwd)");
  kiln_context_free(ctx);
}
END_TEST

/* conf/hop -> ../up looks inside, but up -> .. leads out: resolved for real. */
START_TEST(symlink_chains_leaving_the_project_are_refused) {
  make_link("up", "..");
  make_link("conf/hop", "../up");
  kiln_context *ctx = new_context();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_add(ctx, "conf", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE, "symlink conf/hop points outside the project");
  kiln_context_free(ctx);
}
END_TEST

START_TEST(missing_paths_are_errors) {
  kiln_context *ctx = new_context();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_add(ctx, "nope.txt", &err), -1);
  kt_assert_error(err, KILN_EXIT_USAGE, "build context path \"nope.txt\" does not exist");
  kiln_context_free(ctx);
  kiln_error *err2 = NULL;
  ck_assert_ptr_null(kiln_context_new("/nonexistent/kiln", "x", 1, &err2));
  kt_assert_error(err2, KILN_EXIT_FAILURE, "project folder /nonexistent/kiln");
  kiln_error_free(err2);
}
END_TEST

START_TEST(bad_dockerignore_is_an_error) {
  write_file(".dockerignore", "ok\n[oops\n", 0644);
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_context_new(project, "x", 1, &err));
  kt_assert_error(err, KILN_EXIT_USAGE, ".dockerignore line 2: bad pattern \"[oops\"");
}
END_TEST

static ssize_t drain(kiln_context *ctx, size_t stop_after) {
  char buf[512];
  ssize_t n;
  size_t total = 0;
  while ((n = kiln_context_read(ctx, buf, sizeof buf)) > 0 && total < stop_after)
    total += (size_t)n;
  return n;
}

START_TEST(a_file_changed_after_listing_is_an_error_not_a_corrupt_tar) {
  kiln_context *ctx = new_context();
  add(ctx, "conf/a.conf");
  append("conf/a.conf", "more\n");
  ck_assert_int_eq(drain(ctx, SIZE_MAX), -1);
  kt_assert_error(kiln_context_error(ctx), KILN_EXIT_FAILURE,
                  "build context: conf/a.conf changed while the context was being read");
  ck_assert_int_eq(kiln_context_read(ctx, (char[8]){0}, 8), -1); /* stays failed */
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_take_error(ctx, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "conf/a.conf changed");
  ck_assert_ptr_null(kiln_context_error(ctx));
  kiln_context_free(ctx);
}
END_TEST

START_TEST(a_file_growing_while_streamed_is_an_error) {
  _cleanup_free_ char *path = NULL;
  ck_assert_int_ge(asprintf(&path, "%s/grow.bin", project), 0);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
  kiln_context *ctx = new_context();
  add(ctx, "grow.bin");
  char buf[4096];
  ck_assert_int_gt(kiln_context_read(ctx, buf, sizeof buf), 0); /* the stream has begun */
  ck_assert_int_eq(pwrite(fd, "tail", 4, 1 << 20), 4);
  close(fd);
  ck_assert_int_eq(drain(ctx, SIZE_MAX), -1);
  kt_assert_error(kiln_context_error(ctx), KILN_EXIT_FAILURE, "grow.bin changed while");
  kiln_context_free(ctx);
}
END_TEST

START_TEST(digest_of_a_changed_file_is_an_error) {
  kiln_context *ctx = new_context();
  add(ctx, "tool.sh");
  append("tool.sh", "x");
  char out[65];
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_context_digest(ctx, out, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "tool.sh changed while");
  kiln_context_free(ctx);
}
END_TEST

static Suite *context_suite(void) {
  Suite *s = suite_create("context");
  TCase *tc = kt_tcase(s, "core", setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, sends_named_paths_with_dockerignore_applied_below_them);
  tcase_add_test(tc, a_named_path_is_sent_even_when_ignored);
  tcase_add_test(tc, exceptions_reach_into_excluded_folders_like_docker);
  tcase_add_test(tc, skipped_exceptions_are_not_inherited_like_docker);
  tcase_add_test(tc, special_files_in_a_copied_folder_are_refused_by_name);
  tcase_add_test(tc, a_named_symlink_brings_its_target);
  tcase_add_test(tc, stream_reads_back_as_normalised_tar);
  tcase_add_test(tc, long_and_non_ascii_names_survive);
  tcase_add_test(tc, small_pulls_give_the_same_bytes);
  tcase_add_test(tc, digest_follows_content_mode_and_names);
  tcase_add_test(tc, escaping_symlinks_are_refused_by_name);
  tcase_add_test(tc, absolute_symlinks_are_refused);
  tcase_add_test(tc, symlink_chains_leaving_the_project_are_refused);
  tcase_add_test(tc, missing_paths_are_errors);
  tcase_add_test(tc, bad_dockerignore_is_an_error);
  tcase_add_test(tc, a_file_changed_after_listing_is_an_error_not_a_corrupt_tar);
  tcase_add_test(tc, a_file_growing_while_streamed_is_an_error);
  tcase_add_test(tc, digest_of_a_changed_file_is_an_error);
  return s;
}

int main(void) {
  return kt_run_suite(context_suite());
}
