/* Distribution's pure parts: tarball names, the sidecar manifest, keep-N
 * selection, gzip detection, the name policy, registry references and the
 * credentials that reach the engine and the registry. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <jansson.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "kiln/kiln.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#include "util/sha256.h"

#include "kt_check.h"

static void free_error(kiln_error *e) {
  kiln_error_free(e);
}

/* ---- names ---- */

START_TEST(file_name_is_safe_and_timestamped) {
  _cleanup_free_ char *a =
      kiln_export_file_name("kiln-1000/proj:latest", 1700000000, KILN_COMPRESS_NONE);
  _cleanup_free_ char *b = kiln_export_file_name("reg:5000/team/proj", 42, KILN_COMPRESS_GZIP);
  ck_assert_str_eq(a, "kiln-1000_proj_latest-1700000000.tar");
  ck_assert_str_eq(b, "reg_5000_team_proj_latest-42.tar.gz");
  _cleanup_free_ char *c = kiln_export_file_name("p", 7, KILN_COMPRESS_ZSTD);
  ck_assert_str_eq(c, "p_latest-7.tar.zst");
}
END_TEST

START_TEST(file_time_matches_only_the_same_image) {
  _cleanup_free_ char *safe = kiln_export_safe_name("kiln-1000/proj");
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar", safe), 17);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar.gz", safe), 17);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar.zst", safe), 17);
  ck_assert_int_eq(kiln_export_file_time("kiln-1000_proj_latest-17.tar.xz", safe), -1);
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
  _cleanup_json_ json_t *m =
      kiln_export_manifest("ff00", 1234, "kiln-1/p:latest", "sha256:9", labels, 1700000000,
                           "p.tar.gz", KILN_COMPRESS_GZIP, 4711);
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

START_TEST(compressions_by_magic_name_and_suffix) {
  const unsigned char zst[] = {0x28, 0xb5, 0x2f, 0xfd, 0x04}, gz[] = {0x1f, 0x8b},
                      cut[] = {0x28, 0xb5, 0x2f}, tar[] = {'m', 'a', 'n', 'i'};
  ck_assert_int_eq(kiln_compression_of_magic(zst, sizeof zst), KILN_COMPRESS_ZSTD);
  ck_assert_int_eq(kiln_compression_of_magic(gz, sizeof gz), KILN_COMPRESS_GZIP);
  ck_assert_int_eq(kiln_compression_of_magic(cut, sizeof cut), KILN_COMPRESS_NONE);
  ck_assert_int_eq(kiln_compression_of_magic(tar, sizeof tar), KILN_COMPRESS_NONE);
  kiln_compression c;
  ck_assert_int_eq(kiln_compression_parse("zstd", &c), 0);
  ck_assert_int_eq(c, KILN_COMPRESS_ZSTD);
  ck_assert_str_eq(kiln_compression_name(c), "zstd");
  ck_assert_int_eq(kiln_compression_parse("xz", &c), -1);
  ck_assert_int_eq(kiln_compression_of_file("/x/a.tar.zst", &c), 0);
  ck_assert_int_eq(c, KILN_COMPRESS_ZSTD);
  ck_assert_int_eq(kiln_compression_of_file("a.tar", &c), 0);
  ck_assert_int_eq(c, KILN_COMPRESS_NONE);
  ck_assert_int_eq(kiln_compression_of_file("a.zst", &c), -1);
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
  kiln_registry_auth auth = {.username = user, .password = pass, .server = server};
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

/* ---- credential helpers ---- */

START_TEST(cred_helper_answer_is_parsed) {
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_cred_helper_parse("t",
                                          "{\"ServerURL\":\"reg:5000\",\"Username\":\"bob\","
                                          "\"Secret\":\"s3:cret\"}\n",
                                          &auth, &err),
                   0);
  ck_assert_str_eq(auth.username, "bob");
  ck_assert_str_eq(auth.password, "s3:cret");
  ck_assert_ptr_null(auth.identity_token);
  kiln_registry_auth_clear(&auth);
  /* "<token>": an identity token, sent as identitytoken */
  ck_assert_int_eq(
      kiln_cred_helper_parse("t", "{\"Username\":\"<token>\",\"Secret\":\"tok\"}", &auth, &err), 0);
  ck_assert_ptr_null(auth.username);
  ck_assert_str_eq(auth.identity_token, "tok");
  auth.server = strdup("reg:5000");
  _cleanup_free_ char *h = kiln_registry_auth_header(&auth);
  size_t n;
  _cleanup_free_ unsigned char *text = kiln_base64_decode(h + strlen("X-Registry-Auth: "), &n);
  _cleanup_json_ json_t *o = json_loadb((const char *)text, n, 0, NULL);
  ck_assert_str_eq(json_string_value(json_object_get(o, "identitytoken")), "tok");
  ck_assert_ptr_null(json_object_get(o, "username"));
  kiln_registry_auth_clear(&auth);
  static const char *const bad[] = {
      "", "not json", "[]", "{\"Username\":\"bob\"}", "{\"Username\":1,\"Secret\":\"x\"}", NULL};
  for (const char *const *b = bad; *b; b++) {
    ck_assert_int_eq(kiln_cred_helper_parse("t", *b, &auth, &err), -1);
    ck_assert_ptr_nonnull(strstr(err->message, "docker-credential-t get answered no JSON object"));
    free_error(err);
    err = NULL;
    ck_assert_ptr_null(auth.username);
  }
}
END_TEST

START_TEST(cred_helper_is_chosen_like_docker) {
  _cleanup_json_ json_t *cfg =
      json_loads("{\"credsStore\":\"store\",\"credHelpers\":{\"reg:5000\":\"one\","
                 "\"https://index.docker.io/v1/\":\"hub\"}}",
                 0, NULL);
  ck_assert_str_eq(kiln_cred_helper_for(cfg, "reg:5000"), "one");
  ck_assert_str_eq(kiln_cred_helper_for(cfg, "other:5000"), "store");
  ck_assert_str_eq(kiln_cred_helper_for(cfg, "docker.io"), "hub");
  ck_assert_str_eq(kiln_cred_helper_address("registry-1.docker.io"), "https://index.docker.io/v1/");
  ck_assert_str_eq(kiln_cred_helper_address("127.0.0.1:5000"), "127.0.0.1:5000");
  _cleanup_json_ json_t *none = json_loads("{\"credsStore\":\"\",\"auths\":{}}", 0, NULL);
  ck_assert_ptr_null(kiln_cred_helper_for(none, "reg:5000"));
  ck_assert(kiln_cred_helper_name_ok("pass"));
  ck_assert(kiln_cred_helper_name_ok("ecr-login_2.x"));
  static const char *const bad[] = {"", "../x", "a/b", ".hidden", "a b", "a;b", NULL};
  for (const char *const *b = bad; *b; b++)
    ck_assert_msg(!kiln_cred_helper_name_ok(*b), "%s", *b);
}
END_TEST

/* A helper on PATH (direct mode: as this process), run for real. */
static char *helper_dir(const char *name, const char *script) {
  char *dir = strdup("/tmp/kiln-credhelper-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char path[512];
  snprintf(path, sizeof path, "%s/docker-credential-%s", dir, name);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f, "#!/bin/sh\n%s\n", script);
  fclose(f);
  chmod(path, 0755);
  char *old = getenv("PATH");
  char newpath[4096];
  snprintf(newpath, sizeof newpath, "%s:%s", dir, old ? old : "/usr/bin:/bin");
  setenv("PATH", newpath, 1);
  return dir;
}

START_TEST(cred_helper_runs_and_is_bounded) {
  _cleanup_free_ char *dir = helper_dir(
      "ut",
      "read -r a; case \"$1:$a\" in\n"
      "get:reg:5000) echo '{\"ServerURL\":\"reg:5000\",\"Username\":\"u\",\"Secret\":\"p\"}';;\n"
      "get:none:1) echo 'credentials not found in native keychain'; exit 1;;\n"
      "get:slow:1) exec sleep 30;;\n"
      "get:big:1) head -c 70000 /dev/zero | tr '\\0' x;;\n"
      "*) echo \"no idea about $a\" >&2; exit 3;;\nesac");
  kiln_registry_auth auth = {0};
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_cred_helper_get("ut", "reg:5000", &auth, &err), 0);
  ck_assert_str_eq(auth.username, "u");
  ck_assert_str_eq(auth.password, "p");
  kiln_registry_auth_clear(&auth);
  ck_assert_int_eq(kiln_cred_helper_get("ut", "none:1", &auth, &err), 0);
  ck_assert_ptr_null(auth.username);
  ck_assert_ptr_null(err);
  ck_assert_int_eq(kiln_cred_helper_get("ut", "what:1", &auth, &err), -1);
  ck_assert_str_eq(err->message, "credential helper docker-credential-ut failed (exit 3): no idea "
                                 "about what:1");
  free_error(err);
  err = NULL;
  ck_assert_int_eq(kiln_cred_helper_get("ut", "big:1", &auth, &err), -1);
  ck_assert_ptr_nonnull(strstr(err->message, "answered more than 65536 bytes"));
  free_error(err);
  err = NULL;
  setenv("KILN_CRED_HELPER_TIMEOUT_MS", "300", 1);
  ck_assert_int_eq(kiln_cred_helper_get("ut", "slow:1", &auth, &err), -1);
  unsetenv("KILN_CRED_HELPER_TIMEOUT_MS");
  ck_assert_str_eq(err->message,
                   "credential helper docker-credential-ut did not answer within 300 ms; kiln "
                   "killed it");
  free_error(err);
  err = NULL;
  ck_assert_int_eq(kiln_cred_helper_get("absent", "reg:5000", &auth, &err), -1);
  ck_assert_ptr_nonnull(strstr(err->message, "cannot run credential helper "
                                             "docker-credential-absent: No such file"));
  free_error(err);
  err = NULL;
  ck_assert_int_eq(kiln_cred_helper_get("../ut", "reg:5000", &auth, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  free_error(err);
  char path[512];
  snprintf(path, sizeof path, "%s/docker-credential-ut", dir);
  unlink(path);
  rmdir(dir);
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

/* ---- synthetic docker save archives (both layouts) ---- */

typedef struct {
  const char *name, *data; /* data NULL: a symbolic link to "manifest.json" */
} tar_file;

/* A temp tar of files (in order), opened for reading; unlinked already. */
static int tar_of(const tar_file *files, size_t n) {
  char path[] = "/tmp/kiln-save-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  unlink(path);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ck_assert_int_eq(archive_write_open_fd(a, fd), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, files[i].name);
    archive_entry_set_perm(e, 0644);
    if (files[i].data) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, (la_int64_t)strlen(files[i].data));
    } else {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, "manifest.json");
    }
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    if (files[i].data) archive_write_data(a, files[i].data, strlen(files[i].data));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static const char config_json[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\","
    "\"diff_ids\":[]}}";
static const char layer_data[] = "not really a layer";

typedef struct {
  char cfg[65], layer[65];
  char cfg_name[128], layer_name[128], manifest[1024], index[1024];
  char id[72];
} save_names;

/* Names for an archive whose config is `config` (its name from the hash of
 * named_after, so a different text there makes a config that does not match
 * its name). */
static void names_for(save_names *s, const char *config, const char *named_after, bool oci,
                      bool podman) {
  kiln_sha256_hex(named_after, strlen(named_after), s->cfg);
  kiln_sha256_hex(layer_data, strlen(layer_data), s->layer);
  char real[65];
  kiln_sha256_hex(config, strlen(config), real);
  snprintf(s->id, sizeof s->id, "sha256:%s", real);
  if (oci) {
    snprintf(s->cfg_name, sizeof s->cfg_name, "blobs/sha256/%s", s->cfg);
    snprintf(s->layer_name, sizeof s->layer_name, "blobs/sha256/%s", s->layer);
  } else {
    snprintf(s->cfg_name, sizeof s->cfg_name, "%s.json", s->cfg);
    snprintf(s->layer_name, sizeof s->layer_name, podman ? "%s.tar" : "%s/layer.tar", s->layer);
  }
  snprintf(s->manifest, sizeof s->manifest,
           "[{\"Config\":\"%s\",\"RepoTags\":[\"kiln-1001/proj:v1\"],\"Layers\":[\"%s\"]}]",
           s->cfg_name, s->layer_name);
  snprintf(s->index, sizeof s->index,
           "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
           "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
           "\"digest\":\"sha256:%s\",\"size\":10,\"annotations\":{"
           "\"io.containerd.image.name\":\"docker.io/kiln-1001/proj:v1\","
           "\"org.opencontainers.image.ref.name\":\"v1\",\"keep.me\":\"yes\"}}]}",
           s->layer);
}

/* Docker ≥ 25: an OCI layout with manifest.json beside it (blobs first,
 * as the engine writes them). */
static int oci_save(save_names *s, const char *config, const char *named_after) {
  names_for(s, config, named_after, true, false);
  tar_file files[] = {{s->cfg_name, config},
                      {s->layer_name, layer_data},
                      {"index.json", s->index},
                      {"manifest.json", s->manifest},
                      {"oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"}};
  return tar_of(files, sizeof files / sizeof files[0]);
}

/* Docker ≤ 24 (podman: Podman's docker-archive, layers as <digest>.tar). */
static int classic_save(save_names *s, const char *config, const char *named_after, bool podman) {
  names_for(s, config, named_after, false, podman);
  tar_file files[] = {{s->layer_name, layer_data},
                      {s->cfg_name, config},
                      {"manifest.json", s->manifest},
                      {"repositories", "{\"kiln-1001/proj\":{\"v1\":\"x\"}}"}};
  return tar_of(files, sizeof files / sizeof files[0] - (podman ? 1 : 0));
}

static char *check_ok(int fd, const json_t *side) {
  char sha[65] = "";
  char *id = NULL;
  kiln_error *err = NULL;
  int r = kiln_import_check_archive(fd, side, sha, &id, &err);
  ck_assert_msg(r == 0, "%s", err ? err->message : "");
  ck_assert_uint_eq(strlen(sha), 64);
  ck_assert_ptr_nonnull(id);
  return id;
}

static kiln_error *check_fails(int fd, const json_t *side) {
  char sha[65] = "";
  char *id = NULL;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_import_check_archive(fd, side, sha, &id, &err), -1);
  ck_assert_ptr_null(id);
  ck_assert_ptr_nonnull(err);
  return err;
}

START_TEST(oci_layout_archive_is_read) {
  save_names s;
  _cleanup_close_ int fd = oci_save(&s, config_json, config_json);
  _cleanup_free_ char *id = check_ok(fd, NULL);
  ck_assert_str_eq(id, s.id);
}
END_TEST

START_TEST(classic_and_podman_archives_are_read) {
  for (int podman = 0; podman < 2; podman++) {
    save_names s;
    _cleanup_close_ int fd = classic_save(&s, config_json, config_json, podman);
    _cleanup_free_ char *id = check_ok(fd, NULL);
    ck_assert_str_eq(id, s.id);
  }
}
END_TEST

START_TEST(config_not_matching_its_name_is_refused) {
  for (int oci = 0; oci < 2; oci++) {
    save_names s;
    _cleanup_close_ int fd = oci ? oci_save(&s, "{\"os\":\"evil\"}", config_json)
                                 : classic_save(&s, "{\"os\":\"evil\"}", config_json, false);
    kiln_error *err = check_fails(fd, NULL);
    ck_assert_msg(strstr(err->message, "does not match its name") != NULL, "%s", err->message);
    ck_assert_ptr_nonnull(strstr(err->message, s.cfg_name));
    free_error(err);
  }
}
END_TEST

START_TEST(config_name_of_neither_layout_is_refused) {
  save_names s;
  names_for(&s, config_json, config_json, true, false);
  char manifest[512];
  snprintf(manifest, sizeof manifest, "[{\"Config\":\"cfg/%s\",\"RepoTags\":[],\"Layers\":[]}]",
           s.cfg);
  char cfg_name[128];
  snprintf(cfg_name, sizeof cfg_name, "cfg/%s", s.cfg);
  tar_file files[] = {{cfg_name, config_json}, {"manifest.json", manifest}};
  _cleanup_close_ int fd = tar_of(files, 2);
  kiln_error *err = check_fails(fd, NULL);
  ck_assert_msg(strstr(err->message, "not a docker save config name") != NULL, "%s", err->message);
  free_error(err);
}
END_TEST

/* The sidecar's image id is checked against the config blob in both
 * layouts: the right one passes, another is refused with both ids. */
START_TEST(sidecar_image_id_checked_in_both_layouts) {
  for (int oci = 0; oci < 2; oci++) {
    save_names s;
    _cleanup_close_ int fd = oci ? oci_save(&s, config_json, config_json)
                                 : classic_save(&s, config_json, config_json, false);
    char sha[65];
    char *id = NULL;
    kiln_error *err = NULL;
    ck_assert_int_eq(kiln_import_check_archive(fd, NULL, sha, &id, &err), 0);
    free(id);
    _cleanup_json_ json_t *good = json_pack("{s:s, s:s}", "sha256", sha, "image_id", s.id);
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    _cleanup_free_ char *same = check_ok(fd, good);
    ck_assert_str_eq(same, s.id);
    _cleanup_json_ json_t *bad =
        json_pack("{s:s, s:s}", "sha256", sha, "image_id",
                  "sha256:706f1497aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    err = check_fails(fd, bad);
    ck_assert_msg(strstr(err->message, "the archive holds image sha256:") != NULL, "%s",
                  err->message);
    ck_assert_ptr_nonnull(strstr(err->message, "the manifest says sha256:706f1497"));
    free_error(err);
  }
}
END_TEST

/* An engine with containerd's image store (Engine 26 with the
 * containerd-snapshotter feature) gives the manifest's digest as the image
 * id, so the sidecar says that: accepted when the archive's manifest blob
 * names this config, refused for a manifest of another config. */
START_TEST(sidecar_image_id_of_containerd_store_is_its_manifest) {
  save_names s;
  names_for(&s, config_json, config_json, true, false);
  char man[512], man_hex[65], man_name[128], other[512], other_hex[65], other_name[128];
  snprintf(man, sizeof man,
           "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:%s\"},\"layers\":[]}", s.cfg);
  snprintf(other, sizeof other,
           "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:%s\"},\"layers\":[]}", s.layer);
  kiln_sha256_hex(man, strlen(man), man_hex);
  kiln_sha256_hex(other, strlen(other), other_hex);
  snprintf(man_name, sizeof man_name, "blobs/sha256/%s", man_hex);
  snprintf(other_name, sizeof other_name, "blobs/sha256/%s", other_hex);
  tar_file files[] = {{s.cfg_name, config_json}, {s.layer_name, layer_data},
                      {man_name, man},           {other_name, other},
                      {"index.json", s.index},   {"manifest.json", s.manifest}};
  _cleanup_close_ int fd = tar_of(files, sizeof files / sizeof files[0]);
  char sha[65];
  char *id = NULL;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_import_check_archive(fd, NULL, sha, &id, &err), 0);
  free(id);
  char want[80];
  snprintf(want, sizeof want, "sha256:%s", man_hex);
  _cleanup_json_ json_t *good = json_pack("{s:s, s:s}", "sha256", sha, "image_id", want);
  ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
  _cleanup_free_ char *same = check_ok(fd, good);
  ck_assert_str_eq(same, s.id); /* still the config's id */
  snprintf(want, sizeof want, "sha256:%s", other_hex);
  _cleanup_json_ json_t *bad = json_pack("{s:s, s:s}", "sha256", sha, "image_id", want);
  ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
  err = check_fails(fd, bad);
  ck_assert_msg(strstr(err->message, "the archive holds image") != NULL, "%s", err->message);
  free_error(err);
}
END_TEST

/* Runs the non-admin load filter over fd; the output tar's entries as an
 * object name → text (NULL with the filter's error message in *why). */
static json_t *filtered(int fd, char **why) {
  kiln_caller c = user_caller(1002, false);
  kiln_error *err = NULL;
  kiln_load_filter *f = kiln_load_filter_new(fd, &c, "kiln", false, &err);
  ck_assert_ptr_nonnull(f);
  char path[] = "/tmp/kiln-filtered-XXXXXX";
  _cleanup_close_ int out = mkstemp(path);
  unlink(path);
  char buf[4096];
  ssize_t n;
  while ((n = kiln_load_filter_read(f, buf, sizeof buf)) > 0)
    ck_assert_int_eq(write(out, buf, (size_t)n), n);
  if (n < 0) {
    *why = strdup(kiln_load_filter_error(f)->message);
    kiln_load_filter_free(f);
    return NULL;
  }
  kiln_load_filter_free(f);
  json_t *entries = json_object();
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  ck_assert_int_eq(lseek(out, 0, SEEK_SET), 0);
  ck_assert_int_eq(archive_read_open_fd(a, out, 4096), ARCHIVE_OK);
  struct archive_entry *e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char text[4096] = "";
    la_ssize_t k = archive_read_data(a, text, sizeof text - 1);
    text[k > 0 ? k : 0] = '\0';
    json_object_set_new(entries, archive_entry_pathname(e), json_string(text));
  }
  archive_read_free(a);
  return entries;
}

static json_t *entry_json(json_t *entries, const char *name) {
  const char *text = json_string_value(json_object_get(entries, name));
  ck_assert_msg(text != NULL, "no %s in the filtered tar", name);
  return json_loads(text, 0, NULL);
}

START_TEST(load_filter_renames_oci_layout) {
  save_names s;
  _cleanup_close_ int fd = oci_save(&s, config_json, config_json);
  char *why = NULL;
  _cleanup_json_ json_t *entries = filtered(fd, &why);
  ck_assert_msg(entries != NULL, "%s", why);
  _cleanup_json_ json_t *m = entry_json(entries, "manifest.json");
  ck_assert_str_eq(
      json_string_value(json_array_get(json_object_get(json_array_get(m, 0), "RepoTags"), 0)),
      "kiln-1002/proj:v1");
  /* index.json's names (what an engine with containerd's image store
   * reads) move into the caller's namespace too */
  _cleanup_json_ json_t *index = entry_json(entries, "index.json");
  json_t *ann =
      json_object_get(json_array_get(json_object_get(index, "manifests"), 0), "annotations");
  ck_assert_str_eq(json_string_value(json_object_get(ann, "io.containerd.image.name")),
                   "docker.io/kiln-1002/proj:v1");
  ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name")),
                   "v1");
  ck_assert_str_eq(json_string_value(json_object_get(ann, "keep.me")), "yes");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(index, "manifests"), 0), "digest")) +
                       7,
                   s.layer);
  ck_assert_str_eq(json_string_value(json_object_get(entries, s.cfg_name)), config_json);
  ck_assert_ptr_nonnull(json_object_get(entries, "oci-layout"));
}
END_TEST

/* An index.json name that does not rename cleanly, or a ref.name without a
 * full name, is dropped; nothing of the archive's own names goes through. */
START_TEST(load_filter_drops_index_names_it_cannot_rename) {
  save_names s;
  names_for(&s, config_json, config_json, true, false);
  char index[1024];
  snprintf(index, sizeof index,
           "{\"schemaVersion\":2,\"manifests\":["
           "{\"digest\":\"sha256:%s\",\"annotations\":{\"io.containerd.image.name\":"
           "\"BAD//name\",\"org.opencontainers.image.ref.name\":\"v1\"}},"
           "{\"digest\":\"sha256:%s\",\"annotations\":{"
           "\"org.opencontainers.image.ref.name\":\"kiln-1001/victim:v1\"}}]}",
           s.layer, s.layer);
  tar_file files[] = {{s.cfg_name, config_json},
                      {s.layer_name, layer_data},
                      {"index.json", index},
                      {"manifest.json", s.manifest}};
  _cleanup_close_ int fd = tar_of(files, sizeof files / sizeof files[0]);
  char *why = NULL;
  _cleanup_json_ json_t *entries = filtered(fd, &why);
  ck_assert_msg(entries != NULL, "%s", why);
  _cleanup_json_ json_t *out = entry_json(entries, "index.json");
  for (size_t i = 0; i < 2; i++) {
    json_t *ann =
        json_object_get(json_array_get(json_object_get(out, "manifests"), i), "annotations");
    ck_assert(json_is_object(ann));
    ck_assert_uint_eq(json_object_size(ann), 0);
  }
}
END_TEST

START_TEST(load_filter_refuses_index_json_link) {
  save_names s;
  names_for(&s, config_json, config_json, true, false);
  tar_file files[] = {{s.cfg_name, config_json},
                      {s.layer_name, layer_data},
                      {"manifest.json", s.manifest},
                      {"index.json", NULL}};
  _cleanup_close_ int fd = tar_of(files, 4);
  char *why = NULL;
  _cleanup_json_ json_t *entries = filtered(fd, &why);
  ck_assert_ptr_null(entries);
  ck_assert_msg(strstr(why, "index.json is not a plain file") != NULL, "%s", why);
  free(why);
}
END_TEST

START_TEST(load_filter_keeps_classic_layout) {
  save_names s;
  _cleanup_close_ int fd = classic_save(&s, config_json, config_json, false);
  char *why = NULL;
  _cleanup_json_ json_t *entries = filtered(fd, &why);
  ck_assert_msg(entries != NULL, "%s", why);
  ck_assert_ptr_null(json_object_get(entries, "repositories"));
  ck_assert_str_eq(json_string_value(json_object_get(entries, s.cfg_name)), config_json);
  ck_assert_str_eq(json_string_value(json_object_get(entries, s.layer_name)), layer_data);
}
END_TEST

static Suite *distribute_suite(void) {
  Suite *s = suite_create("distribute");
  TCase *names = kt_tcase(s, "names", NULL, NULL);
  tcase_add_test(names, file_name_is_safe_and_timestamped);
  tcase_add_test(names, file_time_matches_only_the_same_image);
  tcase_add_test(names, policy_checks_the_image_name);
  TCase *manifest = kt_tcase(s, "manifest", NULL, NULL);
  tcase_add_test(manifest, manifest_records_checksum_image_and_labels);
  tcase_add_test(manifest, manifest_without_labels_has_null_spec);
  tcase_add_test(manifest, sidecar_absent_is_not_an_error);
  tcase_add_test(manifest, sidecar_unreadable_is_an_error);
  tcase_add_test(manifest, gzip_magic_detected);
  tcase_add_test(manifest, compressions_by_magic_name_and_suffix);
  TCase *keep = kt_tcase(s, "keep", NULL, NULL);
  tcase_add_test(keep, keep_selects_all_but_the_newest);
  tcase_add_test(keep, keep_more_than_there_are_prunes_nothing);
  tcase_add_test(keep, keep_ties_keep_exactly_n);
  TCase *reg = kt_tcase(s, "registry", NULL, NULL);
  tcase_add_test(reg, registry_ref_uses_sub_path_and_last_component);
  tcase_add_test(reg, registry_split_parts);
  tcase_add_test(reg, base64_round_trip_and_url_alphabet);
  tcase_add_test(reg, auth_header_is_base64url_json);
  tcase_add_test(reg, config_auths_by_server);
  tcase_add_test(reg, config_bad_auth_is_reported);
  tcase_add_test(reg, missing_config_means_anonymous);
  tcase_add_test(reg, cred_helper_answer_is_parsed);
  tcase_add_test(reg, cred_helper_is_chosen_like_docker);
  tcase_add_test(reg, cred_helper_runs_and_is_bounded);
  TCase *access = kt_tcase(s, "access", NULL, NULL);
  tcase_add_test(access, import_tag_moves_into_the_callers_namespace);
  tcase_add_test(access, rewritten_manifest_names_only_the_callers_namespace);
  tcase_add_test(access, archive_paths_are_cleaned_like_the_engine);
  tcase_add_test(access, tar_delete_leaves_other_users_tarballs);
  TCase *archive = kt_tcase(s, "archive", NULL, NULL);
  tcase_add_test(archive, oci_layout_archive_is_read);
  tcase_add_test(archive, classic_and_podman_archives_are_read);
  tcase_add_test(archive, config_not_matching_its_name_is_refused);
  tcase_add_test(archive, config_name_of_neither_layout_is_refused);
  tcase_add_test(archive, sidecar_image_id_checked_in_both_layouts);
  tcase_add_test(archive, sidecar_image_id_of_containerd_store_is_its_manifest);
  tcase_add_test(archive, load_filter_renames_oci_layout);
  tcase_add_test(archive, load_filter_drops_index_names_it_cannot_rename);
  tcase_add_test(archive, load_filter_refuses_index_json_link);
  tcase_add_test(archive, load_filter_keeps_classic_layout);
  return s;
}

int main(void) {
  return kt_run_suite(distribute_suite());
}
