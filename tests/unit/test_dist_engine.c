/* Export, import, registry push and the tarball store against the fake
 * engine (tests/support/fake_engine.h), error paths first: what the user
 * sees (error code and message), that nothing reaches the engine after a
 * refusal, and that a failed export leaves no file behind.
 *
 * The caller is the process's own uid (tarballs must be the caller's
 * files), not an admin; its images are kiln-<uid>/... (namespace "kiln"). */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "kiln/distribute.h"
#include "kiln/engine.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#include "fake_engine.h"
#include "kt_check.h"

static kiln_caller caller;

/* Formatted strings, kept for the whole test (routes borrow them). */
#define MAX_FORMATTED 64
static char formatted[MAX_FORMATTED][8 * 257]; /* holds 8 names of 256 bytes (listing) */
static size_t n_formatted;

__attribute__((format(printf, 1, 2))) static const char *fmt(const char *f, ...) {
  ck_assert_uint_lt(n_formatted, MAX_FORMATTED);
  char *out = formatted[n_formatted++];
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(out, sizeof formatted[0], f, ap);
  va_end(ap);
  ck_assert(n > 0 && (size_t)n < sizeof formatted[0]);
  return out;
}

static void setup(void) {
  fake_setup();
  n_formatted = 0;
  memset(&caller, 0, sizeof caller);
  caller.id.uid = (uint32_t)getuid();
  caller.id.gid = (uint32_t)getgid();
}

static unsigned uid(void) {
  return caller.id.uid;
}

/* "<fake_dir>/name". */
static const char *in_dir(const char *name) {
  return fmt("%s/%s", fake_dir(), name);
}

/* The names in fake_dir/sub (hidden ones too), sorted, joined by spaces
 * ("" when empty). */
static const char *listing(const char *sub) {
  DIR *d = opendir(in_dir(sub));
  ck_assert_ptr_nonnull(d);
  char names[8][256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n < 8)
      snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  closedir(d);
  qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
  ck_assert_uint_lt(n_formatted, MAX_FORMATTED);
  char *out = formatted[n_formatted++];
  out[0] = '\0';
  for (size_t i = 0; i < n; i++)
    snprintf(out + strlen(out), sizeof formatted[0] - strlen(out), "%s%s", i ? " " : "", names[i]);
  return out;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static void run(const char *cmd) {
  ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* ---- export ---- */

static const char *mine_json(void) {
  return fmt("{\"Id\":\"sha256:1\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"%u\"}}}", uid());
}

/* The engine cuts GET /images/{name}/get after a few bytes: the export
 * fails with the engine's loss, and the folder holds what it held before
 * (no temporary, no tarball, no manifest). */
START_TEST(export_cut_by_the_engine_leaves_nothing) {
  fake_answer_engine("1.41");
  fake_answer("GET", fmt("/images/kiln-%u%%2Fp%%3Alatest/json", uid()), 200, mine_json());
  fake_raw_answer("GET", "/get",
                  "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
                  "Content-Length: 100000\r\nConnection: close\r\n\r\nmanifest.json\0\0\0");
  kiln_engine *e = fake_open();
  const char *image = fmt("kiln-%u/p:latest", uid());
  ck_assert_int_eq(mkdir(in_dir("out"), 0755), 0);
  const char *earlier = fmt("kiln-%u_p_latest-100.tar", uid());
  write_file(in_dir(fmt("out/%s", earlier)), "old", 3);
  kiln_export_options o = KILN_EXPORT_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.image = image;
  o.output = in_dir("out");
  kiln_export_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_export(e, &o, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, fmt("exporting %s: ", image));
  kt_assert_error(err, KILN_EXIT_ENGINE, "lost the connection to the Docker engine");
  ck_assert_str_eq(listing("out"), earlier);
  ck_assert_uint_eq(fake_count_seen("GET", "/get"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(export_refused_by_the_engine_says_why) {
  fake_answer_engine("1.41");
  fake_answer("GET", fmt("/images/kiln-%u%%2Fp%%3Alatest/json", uid()), 200, mine_json());
  fake_answer("GET", "/get", 500,
              "{\"message\":\"open /var/lib/docker/overlay2/x: no such file\"}");
  kiln_engine *e = fake_open();
  ck_assert_int_eq(mkdir(in_dir("out"), 0755), 0);
  kiln_export_options o = KILN_EXPORT_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.image = fmt("kiln-%u/p:latest", uid());
  o.output = in_dir("out");
  kiln_export_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_export(e, &o, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "engine: open /var/lib/docker/overlay2/x: no such file (HTTP 500)");
  ck_assert_str_eq(listing("out"), "");
  kiln_engine_free(e);
}
END_TEST

START_TEST(export_of_someone_elses_image_reads_nothing) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-4242%2Fp%3Alatest/json", 200,
              "{\"Id\":\"sha256:2\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"4242\"}}}");
  kiln_engine *e = fake_open();
  ck_assert_int_eq(mkdir(in_dir("out"), 0755), 0);
  kiln_export_options o = KILN_EXPORT_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.image = "kiln-4242/p:latest";
  o.output = in_dir("out");
  kiln_export_result res;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_image_export(e, &o, &res, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "kiln-4242/p:latest");
  ck_assert_uint_eq(fake_count_seen("GET", "/get"), 0);
  ck_assert_str_eq(listing("out"), "");
  kiln_engine_free(e);
}
END_TEST

/* ---- import ---- */

/* A `docker save` archive (classic layout: manifest.json, <config
 * hex>.json, <layer>/layer.tar) of one image tagged p:latest, written to
 * fake_dir/name; gzip when gz. Returns its path. */
static const char *save_archive(const char *name, bool gz) {
  const char *src = in_dir("save");
  ck_assert_int_eq(mkdir(src, 0755), 0);
  ck_assert_int_eq(mkdir(fmt("%s/l1", src), 0755), 0);
  const char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                        "\"layers\",\"diff_ids\":[]}}";
  char hex[65];
  ck_assert_int_eq(kiln_sha256_hex(config, strlen(config), hex), 0);
  write_file(fmt("%s/%s.json", src, hex), config, strlen(config));
  static char layer[200000];
  for (size_t i = 0; i < sizeof layer; i++)
    layer[i] = (char)(i * 7919 % 251);
  write_file(fmt("%s/l1/layer.tar", src), layer, sizeof layer);
  const char *manifest = fmt(
      "[{\"Config\":\"%s.json\",\"RepoTags\":[\"p:latest\"],\"Layers\":[\"l1/layer.tar\"]}]", hex);
  write_file(fmt("%s/manifest.json", src), manifest, strlen(manifest));
  const char *path = in_dir(name);
  run(fmt("tar -C '%s' -c%sf '%s' manifest.json %s.json l1", src, gz ? "z" : "", path, hex));
  return path;
}

/* Cuts the file at path to half its size. */
static void cut_in_half(const char *path) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
}

static int import(kiln_engine *e, const char *path, kiln_error **err) {
  kiln_import_options o = KILN_IMPORT_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.path = path;
  kiln_import_result res;
  int r = kiln_image_import(e, &o, &res, err);
  if (r == 0) kiln_import_result_clear(&res);
  return r;
}

START_TEST(truncated_archive_is_not_loaded) {
  fake_answer_engine("1.41");
  kiln_engine *e = fake_open();
  const char *path = save_archive("p.tar", false);
  cut_in_half(path);
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(import(e, path, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, fmt("%s is not a complete image archive", path));
  ck_assert_uint_eq(fake_count_seen("POST", "/images/load"), 0);
  kiln_engine_free(e);
}
END_TEST

START_TEST(truncated_gzip_archive_says_its_data_is_cut) {
  fake_answer_engine("1.41");
  kiln_engine *e = fake_open();
  const char *path = save_archive("p.tar.gz", true);
  cut_in_half(path);
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(import(e, path, &err), -1);
  kt_assert_error(
      err, KILN_EXIT_FAILURE,
      fmt("%s is not a complete image archive (its gzip data is cut or damaged)", path));
  ck_assert_uint_eq(fake_count_seen("POST", "/images/load"), 0);
  kiln_engine_free(e);
}
END_TEST

/* A tar cut exactly after manifest.json reads cleanly but lacks the files
 * the manifest names. */
START_TEST(archive_without_its_layers_is_not_loaded) {
  fake_answer_engine("1.41");
  kiln_engine *e = fake_open();
  save_archive("full.tar", false);
  const char *path = in_dir("cut.tar");
  run(fmt("tar -C '%s' -cf '%s' manifest.json", in_dir("save"), path));
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(import(e, path, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, fmt("%s is not a complete image archive: ", path));
  kt_assert_error(err, KILN_EXIT_FAILURE, "is missing");
  ck_assert_uint_eq(fake_count_seen("POST", "/images/load"), 0);
  kiln_engine_free(e);
}
END_TEST

/* Complete and checked, but the engine's load stream reports an error. */
START_TEST(archive_the_engine_refuses_says_why) {
  fake_answer_engine("1.41");
  const char refused[] = "{\"errorDetail\":{\"message\":\"no space left on device\"},"
                         "\"error\":\"no space left on device\"}\r\n";
  fake_answer_until_close("POST", "/images/load", refused, sizeof refused - 1);
  kiln_engine *e = fake_open();
  const char *path = save_archive("p.tar", false);
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(import(e, path, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  fmt("loading %s: the engine refused the archive: no space left on device", path));
  const fake_request *load = fake_find_seen("POST", "/images/load");
  ck_assert_ptr_nonnull(load);
  ck_assert_uint_gt(load->body_bytes, 200000); /* the whole archive was sent */
  kiln_engine_free(e);
}
END_TEST

/* ---- registry push ---- */

#define REMOTE      "127.0.0.1:5000/alice/p:latest"
#define REMOTE_PATH "/images/127.0.0.1%3A5000%2Falice%2Fp%3Alatest/json"

/* The caller's image, the remote name not yet local, tagging works. */
static void answer_pushable(void) {
  fake_answer_engine("1.41");
  fake_answer("GET", fmt("/images/kiln-%u%%2Fp%%3Alatest/json", uid()), 200, mine_json());
  fake_answer("GET", REMOTE_PATH, 404, "{\"message\":\"No such image\"}");
  fake_answer("POST", "/tag", 201, NULL);
  fake_answer("DELETE", "/images/", 200, "[{\"Untagged\":\"" REMOTE "\"}]");
}

static int push(kiln_engine *e, const kiln_registry_auth *auth, kiln_error **err) {
  kiln_transfer_options o = KILN_TRANSFER_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.auth = auth;
  return kiln_image_push(e, fmt("kiln-%u/p:latest", uid()), REMOTE, &o, err);
}

START_TEST(push_refused_credentials_say_what_to_do) {
  answer_pushable();
  const char stream[] =
      "{\"status\":\"The push refers to repository [127.0.0.1:5000/alice/p]\"}\r\n"
      "{\"status\":\"Preparing\",\"progressDetail\":{},\"id\":\"abc\"}\r\n"
      "{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},"
      "\"error\":\"unauthorized: authentication required\"}\r\n";
  fake_answer_until_close("POST", "/push", stream, sizeof stream - 1);
  kiln_engine *e = fake_open();
  char user[] = "bob", password[] = "wrong", server[] = "127.0.0.1:5000";
  kiln_registry_auth auth = {.username = user, .password = password, .server = server};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(push(e, &auth, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "pushing " REMOTE ": registry 127.0.0.1:5000 refused the credentials of bob "
                  "(unauthorized: authentication required); give --username and "
                  "--password-stdin, or log in with docker login 127.0.0.1:5000");
  ck_assert_ptr_nonnull(strstr(fake_find_seen("POST", "/push")->target, "tag=latest"));
  /* the remote name made for the push is dropped again */
  ck_assert_uint_eq(fake_count_seen("POST", "/tag"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/127.0.0.1%3A5000%2Falice%2Fp%3Alatest"), 1);
  kiln_engine_free(e);
}
END_TEST

START_TEST(push_to_an_unreachable_registry_says_so) {
  answer_pushable();
  const char stream[] = "{\"errorDetail\":{\"message\":\"Get \\\"https://127.0.0.1:5000/v2/\\\": "
                        "dial tcp 127.0.0.1:5000: connect: connection refused\"}}\r\n";
  fake_answer_until_close("POST", "/push", stream, sizeof stream - 1);
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(push(e, NULL, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "registry 127.0.0.1:5000 is unreachable (Get \"https://127.0.0.1:5000/v2/\": "
                  "dial tcp 127.0.0.1:5000: connect: connection refused); check the address and "
                  "that it runs");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/"), 1);
  kiln_engine_free(e);
}
END_TEST

/* Refused before streaming (the engine's 4xx): the same sentence. */
START_TEST(push_refused_before_the_stream_says_so) {
  answer_pushable();
  fake_answer("POST", "/push", 401, "{\"message\":\"denied: requested access is denied\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(push(e, NULL, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "pushing " REMOTE ": registry 127.0.0.1:5000 refused the credentials (");
  kt_assert_error(err, KILN_EXIT_FAILURE, "denied: requested access is denied");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/"), 1);
  kiln_engine_free(e);
}
END_TEST

/* The remote name is already another local image: never moved, nothing
 * pushed. */
START_TEST(push_never_moves_a_local_name) {
  fake_answer_engine("1.41");
  fake_answer("GET", fmt("/images/kiln-%u%%2Fp%%3Alatest/json", uid()), 200, mine_json());
  fake_answer("GET", REMOTE_PATH, 200, "{\"Id\":\"sha256:other\"}");
  kiln_engine *e = fake_open();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(push(e, NULL, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "a local image is already named " REMOTE
                  " (sha256:other, not the image to push); kiln does not move that name");
  ck_assert_uint_eq(fake_count_seen("POST", "/"), 0);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

/* ---- the tarball store ---- */

START_TEST(tar_list_of_a_missing_folder_names_it) {
  _cleanup_error_ kiln_error *err = NULL;
  const char *dir = in_dir("nowhere");
  ck_assert_ptr_null(kiln_tar_list(NULL, dir, NULL, &err));
  kt_assert_error(err, KILN_EXIT_FAILURE, dir);
}
END_TEST

START_TEST(tar_delete_of_nothing_is_an_error) {
  ck_assert_int_eq(mkdir(in_dir("store"), 0755), 0);
  unsigned removed = 7;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_tar_delete(&caller, in_dir("store"), "kiln-1/p:latest", &removed, &err),
                   -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  fmt("no tarball of 'kiln-1/p:latest' in %s", in_dir("store")));
}
END_TEST

typedef struct {
  int failed;
  char message[512];
} sync_seen;

static void on_sync(void *user, kiln_sync_state state, const char *image, const char *file,
                    const char *message) {
  (void)image;
  (void)file;
  sync_seen *s = user;
  if (state != KILN_SYNC_FAILED) return;
  s->failed++;
  snprintf(s->message, sizeof s->message, "%s", message ? message : "");
}

/* The caller's newest tarball of an image the engine lacks is cut: the
 * sync reports that image as failed, loads nothing and fails. */
START_TEST(sync_of_a_truncated_tarball_fails_that_image) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/", 404, "{\"message\":\"No such image\"}");
  kiln_engine *e = fake_open();
  ck_assert_int_eq(mkdir(in_dir("store"), 0755), 0);
  save_archive("p.tar", false);
  const char *tar = in_dir(fmt("store/p_latest-100.tar"));
  run(fmt("cp '%s' '%s'", in_dir("p.tar"), tar));
  cut_in_half(tar);
  const char *side =
      fmt("{\"image\":\"p:latest\",\"image_id\":\"sha256:%064d\",\"owner_uid\":%u}", 1, uid());
  write_file(fmt("%s.json", tar), side, strlen(side));
  sync_seen seen = {0};
  kiln_sync_options o = KILN_SYNC_OPTIONS_INIT;
  o.caller = &caller;
  o.ns = "kiln";
  o.dir = in_dir("store");
  o.on_state = on_sync;
  o.user = &seen;
  unsigned loaded = 9, failed = 9;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_tar_sync(e, &o, &loaded, &failed, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "1 image(s) could not be loaded");
  ck_assert_uint_eq(loaded, 0);
  ck_assert_uint_eq(failed, 1);
  ck_assert_int_eq(seen.failed, 1);
  ck_assert_msg(strstr(seen.message, "is not a complete image archive"), "%s", seen.message);
  ck_assert_uint_eq(fake_count_seen("POST", "/images/load"), 0);
  kiln_engine_free(e);
}
END_TEST

static Suite *dist_engine_suite(void) {
  Suite *s = suite_create("dist_engine");
  TCase *x = kt_tcase(s, "export", setup, fake_teardown);
  tcase_add_test(x, export_cut_by_the_engine_leaves_nothing);
  tcase_add_test(x, export_refused_by_the_engine_says_why);
  tcase_add_test(x, export_of_someone_elses_image_reads_nothing);

  TCase *i = kt_tcase(s, "import", setup, fake_teardown);
  tcase_add_test(i, truncated_archive_is_not_loaded);
  tcase_add_test(i, truncated_gzip_archive_says_its_data_is_cut);
  tcase_add_test(i, archive_without_its_layers_is_not_loaded);
  tcase_add_test(i, archive_the_engine_refuses_says_why);

  TCase *r = kt_tcase(s, "registry", setup, fake_teardown);
  tcase_add_test(r, push_refused_credentials_say_what_to_do);
  tcase_add_test(r, push_to_an_unreachable_registry_says_so);
  tcase_add_test(r, push_refused_before_the_stream_says_so);
  tcase_add_test(r, push_never_moves_a_local_name);

  TCase *t = kt_tcase(s, "tarballs", setup, fake_teardown);
  tcase_add_test(t, tar_list_of_a_missing_folder_names_it);
  tcase_add_test(t, tar_delete_of_nothing_is_an_error);
  tcase_add_test(t, sync_of_a_truncated_tarball_fails_that_image);
  return s;
}

int main(void) {
  return kt_run_suite(dist_engine_suite());
}
