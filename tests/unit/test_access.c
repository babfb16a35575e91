/* access/: every "may this caller do this?" decision on constructed callers,
 * and the site configuration keys the decisions read. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/access.h"
#include "kiln/labels.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "kt_check.h"

static gid_t alice_groups[] = {1000, 2000};

/* A non-admin caller, uid 1000, gid 1000, also in group 2000. */
static kiln_caller alice(void) {
  kiln_caller c;
  memset(&c, 0, sizeof c);
  c.id.uid = 1000;
  c.id.gid = 1000;
  c.groups = alice_groups;
  c.n_groups = 2;
  c.sudo = true;
  return c;
}

static kiln_caller admin(void) {
  kiln_caller c = alice();
  c.admin = true;
  return c;
}

/* *err is read after r was computed (argument order is unspecified). */
static void assert_refused(int r, kiln_error **err, const char *text) {
  ck_assert_int_eq(r, -1);
  ck_assert_ptr_nonnull(*err);
  ck_assert_int_eq((*err)->code, KILN_EXIT_FAILURE);
  ck_assert_msg(strstr((*err)->message, text), "expected \"%s\" in: %s", text, (*err)->message);
  ck_assert_int_eq(kiln_error_count(*err), 1);
  kiln_error_free(*err);
  *err = NULL;
}

static void assert_allowed(int r, kiln_error **err) {
  ck_assert_msg(r == 0, "refused: %s", *err ? (*err)->message : "?");
}

/* ---- names ---- */

START_TEST(namespace_ref_is_the_one_name_rule) {
  _cleanup_free_ char *a = kiln_namespace_ref("kiln", 1000, "vision", NULL);
  _cleanup_free_ char *b = kiln_namespace_ref(NULL, 7, "p", "v2");
  ck_assert_str_eq(a, "kiln-1000/vision:latest");
  ck_assert_str_eq(b, "kiln-7/p:v2");
}
END_TEST

/* ---- tags ---- */

START_TEST(tags_only_in_own_namespace) {
  kiln_caller c = alice();
  kiln_error *err = NULL;
  assert_allowed(kiln_access_tag(&c, "kiln", "kiln-1000/x:latest", &err), &err);
  static const char *const refused[] = {
      "kiln-1001/x:latest",         /* another user's namespace */
      "kiln-10001/x:latest",        /* a longer uid starting with ours */
      "kiln-100/x:latest",          /* a prefix of ours */
      "debian:bookworm-slim",       /* a shared base image */
      "kiln-1000",                  /* no repository path */
      "other-1000/x:latest",        /* another namespace name */
      "localhost:5000/kiln-1000/x", /* a registry name */
  };
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    assert_refused(kiln_access_tag(&c, "kiln", refused[i], &err), &err,
                   "you may only create or move tags in your own namespace kiln-1000/");
  }
}
END_TEST

/* A namespace holding '/' would name a path inside another namespace. */
START_TEST(namespace_with_a_slash_owns_nothing) {
  kiln_caller c = alice();
  kiln_error *err = NULL;
  assert_refused(kiln_access_tag(&c, "kiln-1001/x", "kiln-1001/x-1000/app:latest", &err), &err,
                 "you may only create or move tags in your own namespace");
}
END_TEST

START_TEST(admins_tag_anywhere) {
  kiln_caller c = admin();
  kiln_error *err = NULL;
  assert_allowed(kiln_access_tag(&c, "kiln", "kiln-1001/x:latest", &err), &err);
  assert_allowed(kiln_access_tag(&c, "kiln", "debian:bookworm-slim", &err), &err);
}
END_TEST

/* ---- reading images ---- */

START_TEST(others_images_are_private) {
  kiln_caller c = alice();
  kiln_error *err = NULL;
  _cleanup_json_ json_t *theirs = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1001");
  _cleanup_json_ json_t *mine = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1000");
  _cleanup_json_ json_t *team = json_pack("{s:s}", "ds01.user_id", "1001");
  assert_refused(kiln_access_image(&c, "kiln", "sha256:abc", theirs, &err), &err,
                 "belongs to uid 1001; another user's images are private");
  assert_refused(kiln_access_image(&c, "kiln", "kiln-1001/p:latest", NULL, &err), &err,
                 "is in the namespace of uid 1001");
  assert_refused(kiln_access_image(&c, "kiln", "kiln-1000/p:latest", theirs, &err), &err,
                 "belongs to uid 1001");
  assert_allowed(kiln_access_image(&c, "kiln", "kiln-1000/p:latest", mine, &err), &err);
  assert_allowed(kiln_access_image(&c, "kiln", "debian:bookworm-slim", NULL, &err), &err);
  assert_allowed(kiln_access_image(&c, "kiln", "team/ds01-image:1", team, &err), &err);
  kiln_caller a = admin();
  assert_allowed(kiln_access_image(&a, "kiln", "kiln-1001/p:latest", theirs, &err), &err);
}
END_TEST

/* ---- building ---- */

static char spec_path[] = "proj/kiln.yaml";

static kiln_spec spec_for(uint32_t uid, uint32_t gid, bool sudo) {
  kiln_spec s;
  memset(&s, 0, sizeof s);
  s.path = spec_path;
  s.user.uid = uid;
  s.user.gid = gid;
  s.user.sudo = sudo;
  return s;
}

START_TEST(build_only_for_yourself) {
  kiln_caller c = alice();
  kiln_config cfg;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_config_defaults(&cfg, &err), 0);
  kiln_spec s = spec_for(1000, 1000, false);
  assert_allowed(kiln_access_build(&c, &cfg, &s, &err), &err);
  s = spec_for(1000, 2000, false); /* a supplementary group is fine */
  assert_allowed(kiln_access_build(&c, &cfg, &s, &err), &err);
  s = spec_for(1001, 1000, false);
  assert_refused(kiln_access_build(&c, &cfg, &s, &err), &err,
                 "proj/kiln.yaml: user.uid 1001 is not you (uid 1000)");
  err = NULL;
  s = spec_for(0, 0, false);
  assert_refused(kiln_access_build(&c, &cfg, &s, &err), &err, "user.uid 0 is not you");
  err = NULL;
  s = spec_for(1000, 27, false);
  assert_refused(kiln_access_build(&c, &cfg, &s, &err), &err,
                 "user.gid 27 is not one of your groups");
  err = NULL;
  s = spec_for(1000, 1000, true);
  assert_refused(kiln_access_build(&c, &cfg, &s, &err), &err,
                 "user.sudo is not allowed on this server");
  cfg.container_sudo = true;
  assert_allowed(kiln_access_build(&c, &cfg, &s, &err), &err);
  kiln_caller a = admin();
  s = spec_for(0, 0, true);
  cfg.container_sudo = false;
  assert_allowed(kiln_access_build(&a, &cfg, &s, &err), &err);
  kiln_config_clear(&cfg);
}
END_TEST

/* ---- objects, --all-users, runtimes ---- */

START_TEST(owners_and_all_users) {
  kiln_caller c = alice(), a = admin();
  _cleanup_json_ json_t *mine = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1000");
  _cleanup_json_ json_t *theirs = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1001");
  _cleanup_json_ json_t *odd = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1000x");
  ck_assert(kiln_access_owns(&c, mine, false));
  ck_assert(!kiln_access_owns(&c, theirs, false));
  ck_assert(!kiln_access_owns(&c, theirs, true)); /* all_users means nothing to non-admins */
  ck_assert(!kiln_access_owns(&c, odd, false));
  ck_assert(!kiln_access_owns(&c, NULL, false));
  ck_assert(kiln_access_owns(&a, theirs, true));
  ck_assert(!kiln_access_owns(&a, theirs, false));
  kiln_error *err = NULL;
  assert_refused(kiln_access_all_users(&c, &err), &err, "--all-users is for admins");
  assert_allowed(kiln_access_all_users(&a, &err), &err);
}
END_TEST

START_TEST(privileged_host_ports_for_admins) {
  kiln_caller c = alice(), a = admin();
  kiln_error *err = NULL;
  assert_refused(kiln_access_host_port(&c, 22, &err), &err, "host port 22 is below 1024");
  assert_refused(kiln_access_host_port(&c, 1023, &err), &err, "host port 1023 is below 1024");
  assert_allowed(kiln_access_host_port(&c, 1024, &err), &err);
  assert_allowed(kiln_access_host_port(&a, 80, &err), &err);
}
END_TEST

START_TEST(runtimes_from_the_site_list) {
  kiln_caller c = alice();
  kiln_config cfg;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_config_defaults(&cfg, &err), 0);
  assert_allowed(kiln_access_runtime(&c, &cfg, NULL, &err), &err);
  assert_allowed(kiln_access_runtime(&c, &cfg, "nvidia", &err), &err);
  assert_allowed(kiln_access_runtime(&c, &cfg, "genv", &err), &err);
  assert_refused(kiln_access_runtime(&c, &cfg, "runc-privileged", &err), &err,
                 "runtime 'runc-privileged' is not allowed on this server (allowed: nvidia, genv");
  ck_assert(kiln_access_no_new_privileges(&cfg));
  kiln_config_clear(&cfg);
}
END_TEST

/* ---- workspace ---- */

START_TEST(workspace_refuses_system_and_foreign_folders) {
  kiln_caller c = alice();
  c.sudo = false; /* no caller recorded: checks run with the test's rights */
  c.id.uid = getuid();
  static const char *const system[] = {"/", "/etc", "/usr/lib", "/root", "/proc/self", "/tmp"};
  for (size_t i = 0; i < sizeof system / sizeof *system; i++) {
    char *real = NULL;
    kiln_error *err = NULL;
    int r = kiln_access_workspace(&c, system[i], &real, NULL, NULL, &err);
    ck_assert_ptr_null(real);
    ck_assert_int_eq(r, -1);
    ck_assert_msg(strstr(err->message, "system folder") || strstr(err->message, "cannot open"),
                  "%s: %s", system[i], err->message);
    kiln_error_free(err);
  }
  char dir[] = "/tmp/kiln-access-XXXXXX";
  ck_assert_ptr_nonnull(mkdtemp(dir));
  char link[64];
  snprintf(link, sizeof link, "%s.link", dir);
  ck_assert_int_eq(symlink(dir, link), 0);
  char *real = NULL;
  dev_t dev = 0;
  ino_t ino = 0;
  kiln_error *err = NULL;
  assert_allowed(kiln_access_workspace(&c, link, &real, &dev, &ino, &err), &err);
  ck_assert_str_eq(real, dir); /* the resolved folder, not the link */
  struct stat st;
  ck_assert_int_eq(stat(dir, &st), 0);
  ck_assert(st.st_ino == ino && st.st_dev == dev);
  free(real);
  real = NULL;
  c.id.uid = getuid() + 1; /* now the folder is someone else's */
  assert_refused(kiln_access_workspace(&c, dir, &real, NULL, NULL, &err), &err, "belongs to uid");
  ck_assert_ptr_null(real);
  unlink(link);
  rmdir(dir);
}
END_TEST

/* ---- tarballs ---- */

START_TEST(tarballs_by_manifest_owner) {
  kiln_caller c = alice();
  _cleanup_json_ json_t *mine = json_pack("{s:i}", "owner_uid", 1000);
  _cleanup_json_ json_t *theirs = json_pack("{s:s}", "owner_uid", "1001");
  kiln_error *err = NULL;
  assert_allowed(kiln_access_tarball(&c, mine, 1000, "a.tar", &err), &err);
  assert_allowed(kiln_access_tarball(&c, NULL, 1000, "a.tar", &err), &err);
  assert_refused(kiln_access_tarball(&c, theirs, 1000, "b.tar", &err), &err,
                 "b.tar belongs to uid 1001 (its manifest says so)");
  assert_refused(kiln_access_tarball(&c, mine, 0, "c.tar", &err), &err, "c.tar is owned by uid 0");
  kiln_caller a = admin();
  assert_allowed(kiln_access_tarball(&a, theirs, 0, "b.tar", &err), &err);
}
END_TEST

/* ---- the site configuration ---- */

START_TEST(config_keys_for_access) {
  static const char text[] = "admin_group: kiln-admin\n"
                             "container_sudo: true\n"
                             "runtimes: [nvidia]\n"
                             "shared_dir: /data/kiln\n";
  kiln_config cfg;
  kiln_error *err = NULL;
  ck_assert_msg(kiln_config_parse(&cfg, "site.yaml", text, strlen(text), &err) == 0, "%s",
                err ? err->message : "");
  ck_assert_str_eq(cfg.admin_group, "kiln-admin");
  ck_assert(cfg.container_sudo);
  ck_assert_uint_eq(cfg.runtimes.n, 1);
  ck_assert(kiln_config_allows_runtime(&cfg, "nvidia"));
  ck_assert(!kiln_config_allows_runtime(&cfg, "genv"));
  ck_assert_str_eq(cfg.shared_dir, "/data/kiln");
  kiln_config_clear(&cfg);
}
END_TEST

START_TEST(config_bad_access_keys) {
  static const struct {
    const char *text, *message;
  } cases[] = {
      {"container_sudo: maybe\n", "site.yaml:1:17: container_sudo must be true or false"},
      {"runtimes: nvidia\n", "site.yaml:1:11: runtimes must be a list of names"},
      {"runtimes: [\"a/b\"]\n", "site.yaml:1:12: runtimes: expected a runtime name"},
      {"shared_dir: data\n", "site.yaml:1:13: shared_dir must be an absolute path"},
      {"admin_grup: x\n", "did you mean 'admin_group'?"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    kiln_config cfg;
    kiln_error *err = NULL;
    ck_assert_int_eq(
        kiln_config_parse(&cfg, "site.yaml", cases[i].text, strlen(cases[i].text), &err), -1);
    ck_assert_msg(strstr(err->message, cases[i].message), "expected \"%s\" in: %s",
                  cases[i].message, err->message);
    ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
    kiln_error_free(err);
  }
}
END_TEST

/* A site file anyone may write would let anyone set everyone's limits. */
START_TEST(site_file_must_be_roots_and_not_writable) {
  char path[] = "/tmp/kiln-site-XXXXXX";
  int fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, "max_containers: 99\n", 19), 19);
  close(fd);
  kiln_config cfg;
  kiln_error *err = NULL;
  if (getuid() == 0) { /* CI runs as root; the file is root's */
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_msg(kiln_config_load_file(&cfg, path, true, &err) == 0, "%s",
                  err ? err->message : "");
    ck_assert_uint_eq(cfg.max_containers, 99);
    kiln_config_clear(&cfg);
  }
  ck_assert_int_eq(chmod(path, 0666), 0);
  ck_assert_int_eq(kiln_config_load_file(&cfg, path, true, &err), -1);
  ck_assert_ptr_nonnull(strstr(err->message, "must be owned by root and writable by no one else"));
  kiln_error_free(err);
  err = NULL;
  /* A file named by an admin ($KILN_CONFIG) is not a site file. */
  ck_assert_int_eq(kiln_config_load_file(&cfg, path, false, &err), 0);
  kiln_config_clear(&cfg);
  /* A missing site file is the defaults. */
  unlink(path);
  ck_assert_int_eq(kiln_config_load_file(&cfg, path, true, &err), 0);
  ck_assert_uint_eq(cfg.max_containers, 10);
  ck_assert_ptr_null(cfg.path);
  kiln_config_clear(&cfg);
}
END_TEST

/* ---- the caller ---- */

/* Sudo mode needs root (CI runs as root); nobody:nogroup is on every Debian. */
START_TEST(sudo_caller_and_admin_group) {
  if (geteuid() != 0) return;
  setenv("SUDO_UID", "65534", 1);
  setenv("SUDO_GID", "65534", 1);
  setenv("SUDO_USER", "nobody", 1);
  kiln_caller c;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_caller_current(&c, NULL, &err), 0);
  ck_assert(c.sudo);
  ck_assert(!c.admin);
  ck_assert_uint_eq(c.id.uid, 65534);
  ck_assert_str_eq(c.id.name, "nobody");
  kiln_caller_clear(&c);
  ck_assert_int_eq(kiln_caller_current(&c, "nogroup", &err), 0);
  ck_assert_msg(c.admin, "a member of admin_group is an admin");
  kiln_caller_clear(&c);
  ck_assert_int_eq(kiln_caller_current(&c, "kiln-no-such-group", &err), 0);
  ck_assert(!c.admin);
  kiln_caller_clear(&c);
  unsetenv("SUDO_UID"); /* real root without SUDO_UID: an admin */
  ck_assert_int_eq(kiln_caller_current(&c, NULL, &err), 0);
  ck_assert(!c.sudo && c.admin && c.id.uid == 0);
  kiln_caller_clear(&c);
}
END_TEST

/* ---- the environment ---- */

START_TEST(environment_is_trusted_only_for_admins) {
  setenv("KILN_SHARED_DIR", "/x", 1);
  ck_assert_str_eq(kiln_env("KILN_SHARED_DIR"), "/x"); /* no caller recorded yet */
  unsetenv("KILN_SHARED_DIR");
}
END_TEST

static Suite *access_suite(void) {
  Suite *s = suite_create("access");
  TCase *t = kt_tcase(s, "decisions", NULL, NULL);
  tcase_add_test(t, namespace_ref_is_the_one_name_rule);
  tcase_add_test(t, tags_only_in_own_namespace);
  tcase_add_test(t, namespace_with_a_slash_owns_nothing);
  tcase_add_test(t, admins_tag_anywhere);
  tcase_add_test(t, others_images_are_private);
  tcase_add_test(t, build_only_for_yourself);
  tcase_add_test(t, owners_and_all_users);
  tcase_add_test(t, runtimes_from_the_site_list);
  tcase_add_test(t, privileged_host_ports_for_admins);
  tcase_add_test(t, workspace_refuses_system_and_foreign_folders);
  tcase_add_test(t, tarballs_by_manifest_owner);
  TCase *cfg = kt_tcase(s, "config", NULL, NULL);
  tcase_add_test(cfg, config_keys_for_access);
  tcase_add_test(cfg, config_bad_access_keys);
  tcase_add_test(cfg, site_file_must_be_roots_and_not_writable);
  tcase_add_test(cfg, environment_is_trusted_only_for_admins);
  tcase_add_test(cfg, sudo_caller_and_admin_group);
  return s;
}

int main(void) {
  return kt_run_suite(access_suite());
}
