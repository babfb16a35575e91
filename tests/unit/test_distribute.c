/* Distribution's pure parts: tarball names, the sidecar manifest, keep-N
 * selection, gzip detection, the name policy, registry references and the
 * credentials that reach the engine and the registry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static void free_error(kiln_error *e) {
  kiln_error_free(e);
}

/* ---- names ---- */

START_TEST(file_name_is_safe_and_timestamped) {
  _cleanup_free_ char *a = kiln_export_file_name("kiln-1000/proj:latest", 1700000000, false);
  _cleanup_free_ char *b = kiln_export_file_name("reg:5000/team/proj", 42, true);
  ck_assert_str_eq(a, "kiln-1000_proj_latest-1700000000.tar");
  ck_assert_str_eq(b, "reg_5000_team_proj_latest-42.tar.gz");
}
END_TEST

START_TEST(file_time_matches_only_the_same_image) {
  _cleanup_free_ char *safe = kiln_export_safe_name("kiln-1000/proj");
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar", safe), 17);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar.gz", safe), 17);
  /* another image whose name starts the same */
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-x-17.tar", safe), -1);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar.json", safe), -1);
  ck_assert_int_eq(kiln_export_file_time(".kiln-1000_proj_latest.partial-abc", safe), -1);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-.tar", safe), -1);
}
END_TEST

/* ---- manifest ---- */

START_TEST(manifest_records_checksum_image_and_labels) {
  _cleanup_json_ json_t *labels = json_pack("{s:s, s:s}", "kiln.spec-sha256", "abc", "a", "b");
  _cleanup_json_ json_t *m = kiln_export_manifest("ff00", 1234, "kiln-1/p:latest", "sha256:9",
                                                  labels, 1700000000, "p.tar.gz", true, 4711);
  ck_assert_ptr_nonnull(m);
  ck_assert_str_eq(json_string_value(json_object_get(m, "sha256")), "ff00");
  ck_assert_int_eq(json_integer_value(json_object_get(m, "size")), 1234);
  ck_assert_str_eq(json_string_value(json_object_get(m, "image")), "kiln-1/p:latest");
  ck_assert_str_eq(json_string_value(json_object_get(m, "image_id")), "sha256:9");
  ck_assert_str_eq(json_string_value(json_object_get(m, "spec_sha256")), "abc");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "labels"), "a")), "b");
  ck_assert_int_eq(json_integer_value(json_object_get(m, "created")), 1700000000);
  ck_assert_str_eq(json_string_value(json_object_get(m, "kiln_version")), kiln_version());
  ck_assert_str_eq(json_string_value(json_object_get(m, "compression")), "gzip");
  ck_assert_int_eq(json_integer_value(json_object_get(m, "owner_uid")), 4711);
  /* the caller's labels are copied, not shared */
  json_object_set_new(labels, "a", json_string("changed"));
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "labels"), "a")), "b");
}
END_TEST

START_TEST(manifest_without_labels_has_null_spec) {
  _cleanup_json_ json_t *m =
      kiln_export_manifest("ff", 1, "x/y:z", "sha256:1", NULL, 0, "f.tar", false, 0);
  ck_assert(json_is_null(json_object_get(m, "spec_sha256")));
  ck_assert_int_eq(json_object_size(json_object_get(m, "labels")), 0);
  ck_assert_str_eq(json_string_value(json_object_get(m, "compression")), "none");
}
END_TEST

START_TEST(sidecar_absent_is_not_an_error) {
  kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_export_manifest_load("/nonexistent/x.tar", &err));
  ck_assert_ptr_null(err);
}
END_TEST

START_TEST(sidecar_unreadable_is_an_error) {
  char dir[] = "/tmp/kiln-dist-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char tar[64], side[128];
  snprintf(tar, sizeof tar, "%s/a.tar", dir);
  snprintf(side, sizeof side, "%s.json", tar);
  FILE *f = fopen(side, "w");
  fputs("[1,", f);
  fclose(f);
  kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_export_manifest_load(tar, &err));
  ck_assert_ptr_nonnull(err);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_ptr_nonnull(strstr(err->message, "not a kiln manifest"));
  free_error(err);
  unlink(side);
  rmdir(dir);
}
END_TEST

/* ---- keep N ---- */

START_TEST(keep_selects_all_but_the_newest) {
  int64_t times[] = {30, 10, 50, 20, 40};
  bool prune[5];
  ck_assert_uint_eq(kiln_keep_select(times, 5, 2, prune), 3);
  ck_assert(!prune[2] && !prune[4]); /* 50 and 40 stay */
  ck_assert(prune[0] && prune[1] && prune[3]);
}
END_TEST

START_TEST(keep_more_than_there_are_prunes_nothing) {
  int64_t times[] = {1, 2};
  bool prune[2];
  ck_assert_uint_eq(kiln_keep_select(times, 2, 5, prune), 0);
  ck_assert(!prune[0] && !prune[1]);
}
END_TEST

START_TEST(keep_ties_keep_exactly_n) {
  int64_t times[] = {7, 7, 7};
  bool prune[3];
  ck_assert_uint_eq(kiln_keep_select(times, 3, 1, prune), 2);
  ck_assert(!prune[0] && prune[1] && prune[2]);
}
END_TEST

/* ---- gzip and policy ---- */

START_TEST(gzip_magic_detected) {
  const unsigned char gz[] = {0x1f, 0x8b, 0x08}, tar[] = {'m', 'a'}, one[] = {0x1f};
  ck_assert(kiln_is_gzip(gz, sizeof gz));
  ck_assert(!kiln_is_gzip(tar, sizeof tar));
  ck_assert(!kiln_is_gzip(one, sizeof one));
}
END_TEST

START_TEST(policy_checks_the_image_name) {
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_check_ref_policy("kiln-1000/my_proj:latest", true, &err), 0);
  ck_assert_int_eq(kiln_check_ref_policy("kiln-1000/my.proj:latest", false, &err), 0);
  ck_assert_int_eq(kiln_check_ref_policy("kiln-1000/my.proj:latest", true, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_ptr_nonnull(
      strstr(err->message, "image name \"my.proj\" does not fit the name policy"));
  free_error(err);
}
END_TEST

/* ---- registry ---- */

START_TEST(registry_ref_uses_sub_path_and_last_component) {
  kiln_error *err = NULL;
  _cleanup_free_ char *a = kiln_registry_ref("reg:5000", "alice", "kiln-1000/proj:v2", &err);
  _cleanup_free_ char *b = kiln_registry_ref("reg.example.org", NULL, "kiln-1000/proj", &err);
  ck_assert_str_eq(a, "reg:5000/alice/proj:v2");
  ck_assert_str_eq(b, "reg.example.org/proj:latest");
  ck_assert_ptr_null(kiln_registry_ref("reg:5000", "Team", "kiln-1/p", &err));
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  free_error(err);
}
END_TEST

START_TEST(registry_split_parts) {
  kiln_error *err = NULL;
  char *server, *path, *ref;
  ck_assert_int_eq(kiln_registry_split("127.0.0.1:5000/t/p:v1", &server, &path, &ref, &err), 0);
  ck_assert_str_eq(server, "127.0.0.1:5000");
  ck_assert_str_eq(path, "t/p");
  ck_assert_str_eq(ref, "v1");
  free(server), free(path), free(ref);
  ck_assert_int_eq(kiln_registry_split("localhost/p", &server, &path, &ref, &err), 0);
  ck_assert_str_eq(ref, "latest");
  free(server), free(path), free(ref);
  ck_assert_int_eq(kiln_registry_split("kiln-1000/proj:latest", &server, &path, &ref, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_ptr_nonnull(strstr(err->message, "names no registry"));
  free(server), free(path), free(ref);
  free_error(err);
}
END_TEST

START_TEST(base64_round_trip_and_url_alphabet) {
  _cleanup_free_ char *std = kiln_base64_encode("\xfb\xff", 2, false);
  _cleanup_free_ char *url = kiln_base64_encode("\xfb\xff", 2, true);
  ck_assert_str_eq(std, "+/8=");
  ck_assert_str_eq(url, "-_8=");
  size_t n;
  _cleanup_free_ unsigned char *plain = kiln_base64_decode("dXNlcjpwYXNz", &n);
  ck_assert_uint_eq(n, 9);
  ck_assert_str_eq((char *)plain, "user:pass");
  ck_assert_ptr_null(kiln_base64_decode("d*==", &n));
}
END_TEST

START_TEST(auth_header_is_base64url_json) {
  char user[] = "bob", pass[] = "p?>~~~", server[] = "reg:5000";
  kiln_registry_auth auth = {user, pass, server};
  _cleanup_free_ char *h = kiln_registry_auth_header(&auth);
  ck_assert_ptr_nonnull(h);
  const char *prefix = "X-Registry-Auth: ";
  ck_assert_int_eq(strncmp(h, prefix, strlen(prefix)), 0);
  const char *value = h + strlen(prefix);
  ck_assert_ptr_null(strpbrk(value, "+/")); /* base64url, not base64 */
  ck_assert_ptr_nonnull(strpbrk(value, "-_"));
  size_t n;
  _cleanup_free_ unsigned char *text = kiln_base64_decode(value, &n);
  _cleanup_json_ json_t *o = json_loadb((const char *)text, n, 0, NULL);
  ck_assert_str_eq(json_string_value(json_object_get(o, "username")), "bob");
  ck_assert_str_eq(json_string_value(json_object_get(o, "password")), "p?>~~~");
  ck_assert_str_eq(json_string_value(json_object_get(o, "serveraddress")), "reg:5000");
  _cleanup_free_ char *anon = kiln_registry_auth_header(NULL);
  ck_assert_str_eq(anon, "X-Registry-Auth: e30=");
}
END_TEST

static char *write_config(const char *text) {
  char *path = strdup("/tmp/kiln-dockercfg-XXXXXX");
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

START_TEST(config_auths_by_server) {
  _cleanup_free_ char *path =
      write_config("{\"auths\":{\"https://other:5000/v1/\":{\"auth\":\"eDp5\"},"
                   "\"http://reg:5000\":{\"auth\":\"dXNlcjpwYTpzcw==\"}}}");
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_registry_auth_from_config(path, "reg:5000", &auth, &err), 0);
  ck_assert_str_eq(auth.username, "user");
  ck_assert_str_eq(auth.password, "pa:ss"); /* only the first ':' splits */
  kiln_registry_auth_clear(&auth);
  ck_assert_int_eq(kiln_registry_auth_from_config(path, "none:1", &auth, &err), 0);
  ck_assert_ptr_null(auth.username);
  unlink(path);
}
END_TEST

START_TEST(config_bad_auth_is_reported) {
  _cleanup_free_ char *path =
      write_config("{\"auths\":{\"reg:5000\":{\"auth\":\"bm9jb2xvbg==\"}}}");
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_registry_auth_from_config(path, "reg:5000", &auth, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_ptr_nonnull(strstr(err->message, "auths \"reg:5000\": its \"auth\" is not base64 of "
                                             "user:password"));
  free_error(err);
  kiln_registry_auth_clear(&auth);
  unlink(path);
}
END_TEST

START_TEST(missing_config_means_anonymous) {
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_registry_auth_from_config("/nonexistent/config.json", "r:1", &auth, &err),
                   0);
  ck_assert_ptr_null(auth.username);
  ck_assert_ptr_null(err);
}
END_TEST

/* ---- who may do what ---- */

static kiln_caller user_caller(uint32_t uid, bool admin) {
  kiln_caller c = {0};
  c.id.uid = uid;
  c.id.gid = uid;
  c.admin = admin;
  return c;
}

START_TEST(import_tag_moves_into_the_callers_namespace) {
  kiln_caller c = user_caller(1002, false);
  kiln_error *err = NULL;
  _cleanup_free_ char *a = kiln_import_tag(&c, "kiln", "kiln-1001/proj:v2", &err);
  _cleanup_free_ char *b = kiln_import_tag(&c, "kiln", "reg:5000/team/sub/proj:latest", &err);
  _cleanup_free_ char *d = kiln_import_tag(&c, NULL, "debian:bookworm", &err);
  ck_assert_ptr_null(err);
  ck_assert_str_eq(a, "kiln-1002/proj:v2");
  ck_assert_str_eq(b, "kiln-1002/proj:latest");
  ck_assert_str_eq(d, "kiln-1002/debian:bookworm");
  kiln_caller admin = user_caller(0, true);
  _cleanup_free_ char *same = kiln_import_tag(&admin, "kiln", "kiln-1001/proj:v2", &err);
  ck_assert_str_eq(same, "kiln-1001/proj:v2");
  ck_assert_ptr_null(kiln_import_tag(&c, "kiln", "BAD//name", &err));
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  free_error(err);
}
END_TEST

START_TEST(rewritten_manifest_names_only_the_callers_namespace) {
  kiln_caller c = user_caller(1002, false);
  _cleanup_json_ json_t *m =
      json_pack("[{s:s, s:[s, s, s], s:[]}, {s:s, s:n}]", "Config", "ab.json", "RepoTags",
                "kiln-1001/victim:latest", "other/victim:latest", "kiln-1002/mine:v1", "Layers",
                "Config", "cd.json", "RepoTags");
  kiln_error *err = NULL;
  _cleanup_json_ json_t *r = kiln_import_rewrite_manifest(&c, "kiln", m, false, &err);
  ck_assert_ptr_nonnull(r);
  json_t *tags = json_object_get(json_array_get(r, 0), "RepoTags");
  ck_assert_uint_eq(json_array_size(tags), 2); /* both victims collapse into one name */
  ck_assert_str_eq(json_string_value(json_array_get(tags, 0)), "kiln-1002/victim:latest");
  ck_assert_str_eq(json_string_value(json_array_get(tags, 1)), "kiln-1002/mine:v1");
  ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(r, 1), "RepoTags")), 0);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 0), "Config")), "ab.json");
  /* the input is left as it was */
  ck_assert_str_eq(
      json_string_value(json_array_get(json_object_get(json_array_get(m, 0), "RepoTags"), 0)),
      "kiln-1001/victim:latest");
  _cleanup_json_ json_t *empty = json_array();
  ck_assert_ptr_null(kiln_import_rewrite_manifest(&c, "kiln", empty, false, &err));
  ck_assert_ptr_nonnull(strstr(err->message, "no docker save manifest.json"));
  free_error(err);
}
END_TEST

START_TEST(archive_paths_are_cleaned_like_the_engine) {
  const char *cases[][2] = {{"manifest.json", "manifest.json"},
                            {"./manifest.json", "manifest.json"},
                            {"/manifest.json", "manifest.json"},
                            {"a//b/../manifest.json", "a/manifest.json"},
                            {"x/../manifest.json", "manifest.json"},
                            {"abc/layer.tar", "abc/layer.tar"},
                            {"./", ""}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    _cleanup_free_ char *c = kiln_load_clean_path(cases[i][0]);
    ck_assert_str_eq(c, cases[i][1]);
  }
  ck_assert_ptr_null(kiln_load_clean_path("../manifest.json"));
  ck_assert_ptr_null(kiln_load_clean_path("a/../../x"));
}
END_TEST

/* A tarball "<dir>/<name>" with a sidecar naming owner. */
static void make_tarball(const char *dir, const char *name, const char *image, long owner) {
  char path[256], side[300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(side, sizeof side, "%s.json", path);
  FILE *f = fopen(path, "w");
  fputs("x", f);
  fclose(f);
  f = fopen(side, "w");
  fprintf(f, "{\"image\":\"%s\",\"image_id\":\"sha256:1\",\"owner_uid\":%ld}", image, owner);
  fclose(f);
}

START_TEST(tar_delete_leaves_other_users_tarballs) {
  char dir[] = "/tmp/kiln-dist-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  uint32_t me = (uint32_t)getuid();
  kiln_caller c = user_caller(me, false);
  make_tarball(dir, "kiln-9_p_latest-10.tar", "kiln-9/p:latest", (long)me + 1);
  make_tarball(dir, "kiln-9_p_latest-20.tar", "kiln-9/p:latest", (long)me);
  unsigned removed = 9;
  kiln_error *err = NULL;
  /* by name: only the caller's */
  int dr = kiln_tar_delete(&c, dir, "kiln-9/p:latest", &removed, &err);
  ck_assert_msg(dr == 0, "%s", err ? err->message : "");
  ck_assert_uint_eq(removed, 1);
  char theirs[256];
  snprintf(theirs, sizeof theirs, "%s/kiln-9_p_latest-10.tar", dir);
  ck_assert_int_eq(access(theirs, F_OK), 0);
  /* again: only someone else's left, refused with the reason */
  ck_assert_int_eq(kiln_tar_delete(&c, dir, "kiln-9/p:latest", &removed, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
  ck_assert_ptr_nonnull(strstr(err->message, "you may only delete or replace your own"));
  free_error(err);
  err = NULL;
  /* by file */
  ck_assert_int_eq(kiln_tar_delete(&c, dir, "kiln-9_p_latest-10.tar", &removed, &err), -1);
  ck_assert_ptr_nonnull(strstr(err->message, "its manifest says so"));
  free_error(err);
  ck_assert_int_eq(access(theirs, F_OK), 0);
  /* an admin may */
  kiln_caller admin = user_caller(me, true);
  err = NULL;
  ck_assert_int_eq(kiln_tar_delete(&admin, dir, "kiln-9_p_latest-10.tar", &removed, &err), 0);
  ck_assert_int_ne(access(theirs, F_OK), 0);
  ck_assert_int_eq(rmdir(dir), 0); /* sidecars went too */
}
END_TEST

static Suite *distribute_suite(void) {
  Suite *s = suite_create("distribute");
  TCase *names = tcase_create("names");
  tcase_add_test(names, file_name_is_safe_and_timestamped);
  tcase_add_test(names, file_time_matches_only_the_same_image);
  tcase_add_test(names, policy_checks_the_image_name);
  suite_add_tcase(s, names);
  TCase *manifest = tcase_create("manifest");
  tcase_add_test(manifest, manifest_records_checksum_image_and_labels);
  tcase_add_test(manifest, manifest_without_labels_has_null_spec);
  tcase_add_test(manifest, sidecar_absent_is_not_an_error);
  tcase_add_test(manifest, sidecar_unreadable_is_an_error);
  tcase_add_test(manifest, gzip_magic_detected);
  suite_add_tcase(s, manifest);
  TCase *keep = tcase_create("keep");
  tcase_add_test(keep, keep_selects_all_but_the_newest);
  tcase_add_test(keep, keep_more_than_there_are_prunes_nothing);
  tcase_add_test(keep, keep_ties_keep_exactly_n);
  suite_add_tcase(s, keep);
  TCase *reg = tcase_create("registry");
  tcase_add_test(reg, registry_ref_uses_sub_path_and_last_component);
  tcase_add_test(reg, registry_split_parts);
  tcase_add_test(reg, base64_round_trip_and_url_alphabet);
  tcase_add_test(reg, auth_header_is_base64url_json);
  tcase_add_test(reg, config_auths_by_server);
  tcase_add_test(reg, config_bad_auth_is_reported);
  tcase_add_test(reg, missing_config_means_anonymous);
  suite_add_tcase(s, reg);
  TCase *access = tcase_create("access");
  tcase_add_test(access, import_tag_moves_into_the_callers_namespace);
  tcase_add_test(access, rewritten_manifest_names_only_the_callers_namespace);
  tcase_add_test(access, archive_paths_are_cleaned_like_the_engine);
  tcase_add_test(access, tar_delete_leaves_other_users_tarballs);
  suite_add_tcase(s, access);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(distribute_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
