/* sanitize/: every rule for untrusted text, as a user meets it. Error cases
 * assert the code and the words of the message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#include "kt_check.h"

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Asserts a failed check: rc < 0, code `code`, and every needle (NULL-ended)
 * in the first error's message. Frees the error. */
static void expect_failure_code(int rc, kiln_error *err, int code, const char *const *needles) {
  ck_assert_int_lt(rc, 0);
  ck_assert_ptr_nonnull(err);
  ck_assert_int_eq(err->code, code);
  for (const char *const *n = needles; *n; n++)
    ck_assert_msg(strstr(err->message, *n), "expected \"%s\" in: %s", *n, err->message);
  kiln_error_free(err);
}

/* Macros so the call runs before err is read (argument order is unspecified). */
#define expect_usage(call, err, ...)                                                               \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    expect_failure_code(rc_, (err), KILN_EXIT_USAGE, (const char *const[]){__VA_ARGS__, NULL});    \
  } while (0)

#define expect_ok(call, err, value)                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    ck_assert_msg(rc_ == 0 && !(err), "\"%s\" refused: %s", (value),                               \
                  (err) ? (err)->message : "?");                                                   \
  } while (0)

typedef int (*check_fn)(const char *value, kiln_error **err);

/* A value and the words its error must hold (NULL for an accepted value). */
typedef struct {
  const char *value;
  const char *message;
} check_case;

static void run_cases(check_fn fn, const check_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    kiln_error *err = NULL;
    int rc = fn(cases[i].value, &err);
    if (!cases[i].message) {
      expect_ok(rc, err, cases[i].value);
      continue;
    }
    ck_assert_msg(rc < 0, "\"%s\" accepted, expected: %s", cases[i].value, cases[i].message);
    expect_usage(rc, err, cases[i].message);
  }
}

/* ---- user names ---- */

START_TEST(username_rule) {
  static const struct {
    const char *raw, *want;
  } cases[] = {
      {"h.baker@hertie-school.lan", "h-baker-at-hertie-school-lan"},
      {"Alice", "alice"},
      {"john..doe", "john-doe"},
      {"_svc", "_svc"},
      {"-bob-", "bob"},
      {"a b\tc", "a-b-c"},
      {"J\xc3\xbcrgen", "j-rgen"}, /* two UTF-8 bytes, one '-' */
      {"@home", "at-home"},
      {"x_y-z9", "x_y-z9"},
      {"1alice", "u1alice"}, /* a digit first: prefixed, not refused */
      {"-42", "u42"},
  };
  for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
    kiln_error *err = NULL;
    _cleanup_free_ char *got = kiln_sanitize_username(cases[i].raw, &err);
    ck_assert_msg(got, "%s: %s", cases[i].raw, err ? err->message : "?");
    ck_assert_str_eq(got, cases[i].want);
  }
}
END_TEST

START_TEST(username_refused) {
  kiln_error *err = NULL;
  ck_assert_ptr_null(kiln_sanitize_username("", &err));
  expect_usage(-1, err, "user name \"\" is empty after sanitizing", "expected letters");
  err = NULL;
  ck_assert_ptr_null(kiln_sanitize_username("...", &err));
  expect_usage(-1, err, "is empty after sanitizing");
  /* The raw name is echoed with control characters escaped. */
  err = NULL;
  ck_assert_ptr_null(kiln_sanitize_username("\x1b\x1b", &err));
  expect_usage(-1, err, "\"\\x1b\\x1b\"");
  char *huge = malloc(KILN_MAX_SCALAR_BYTES + 2);
  memset(huge, 'a', KILN_MAX_SCALAR_BYTES + 1);
  huge[KILN_MAX_SCALAR_BYTES + 1] = '\0';
  err = NULL;
  ck_assert_ptr_null(kiln_sanitize_username(huge, &err));
  expect_usage(-1, err, "user name is 4097 bytes long; expected at most 4096");
  free(huge);
}
END_TEST

START_TEST(username_long_names_stay_apart) {
  const char *a = "firstname.lastname.department@university-example.org";
  const char *b = "firstname.lastname.department@university-example.com";
  kiln_error *err = NULL;
  _cleanup_free_ char *sa = kiln_sanitize_username(a, &err);
  _cleanup_free_ char *sb = kiln_sanitize_username(b, &err);
  _cleanup_free_ char *sa_again = kiln_sanitize_username(a, &err);
  ck_assert_ptr_null(err);
  ck_assert_ptr_nonnull(sa);
  ck_assert_ptr_nonnull(sb);
  ck_assert_uint_le(strlen(sa), KILN_MAX_USER_NAME);
  ck_assert_uint_le(strlen(sb), KILN_MAX_USER_NAME);
  ck_assert_str_ne(sa, sb);
  ck_assert_str_eq(sa, sa_again);
  /* The suffix is the start of sha256(original name). */
  char hex[65], want[KILN_MAX_USER_NAME + 1];
  kiln_sha256_hex(a, strlen(a), hex);
  snprintf(want, sizeof want, "firstname-lastname-depart-%.6s", hex);
  ck_assert_str_eq(sa, want);
  ck_assert_uint_eq(strlen(sa), KILN_MAX_USER_NAME);
}
END_TEST

START_TEST(username_cut_drops_trailing_dash) {
  /* The 25th kept character is a '-': it is dropped before the suffix. */
  const char *raw = "abcdefghijklmnopqrstuvwx-yzabcdefghijkl";
  kiln_error *err = NULL;
  _cleanup_free_ char *got = kiln_sanitize_username(raw, &err);
  ck_assert_ptr_nonnull(got);
  char hex[65], want[KILN_MAX_USER_NAME + 1];
  kiln_sha256_hex(raw, strlen(raw), hex);
  snprintf(want, sizeof want, "abcdefghijklmnopqrstuvwx-%.6s", hex);
  ck_assert_str_eq(got, want);
  /* Exactly the cap is kept as is. */
  const char *exact = "abcdefghijklmnopqrstuvwxyz012345";
  ck_assert_uint_eq(strlen(exact), KILN_MAX_USER_NAME);
  _cleanup_free_ char *same = kiln_sanitize_username(exact, &err);
  ck_assert_str_eq(same, exact);
}
END_TEST

/* ---- ids ---- */

START_TEST(ids) {
  kiln_error *err = NULL;
  uint32_t id = 0;
  expect_ok(kiln_parse_id("1722830498", false, "uid", &id, &err), err, "1722830498");
  ck_assert_uint_eq(id, 1722830498u);
  expect_ok(kiln_parse_id("4294967294", false, "uid", &id, &err), err, "4294967294");
  ck_assert_uint_eq(id, 4294967294u);
  expect_ok(kiln_parse_id("1", false, "gid", &id, &err), err, "1");
  ck_assert_uint_eq(id, 1);
  expect_ok(kiln_parse_id("0", true, "uid", &id, &err), err, "0 with allow_root");
  ck_assert_uint_eq(id, 0);
  expect_ok(kiln_check_id(1000, false, "uid", &err), err, "1000");

  expect_usage(kiln_parse_id("0", false, "uid", &id, &err), err, "uid 0 is root",
               "expected 1..4294967294", "allow_root");
  err = NULL;
  expect_usage(kiln_parse_id("4294967295", false, "gid", &id, &err), err,
               "gid 4294967295 is out of range; expected 1..4294967294");
  err = NULL;
  expect_usage(kiln_parse_id("4294967295", true, "uid", &id, &err), err, "expected 0..4294967294");
  err = NULL;
  expect_usage(kiln_check_id(1ull << 40, false, "uid", &err), err, "out of range");
  static const char *const not_numbers[] = {"-1", "+5", " 5", "5 ", "12a", "", "0x10", "1.0"};
  for (size_t i = 0; i < N_ELEMENTS(not_numbers); i++) {
    err = NULL;
    expect_usage(kiln_parse_id(not_numbers[i], false, "uid", &id, &err), err, "uid \"",
                 "is not a number; expected a decimal in 1..4294967294");
  }
  err = NULL;
  expect_usage(kiln_parse_id("99999999999999999999999", false, "uid", &id, &err), err,
               "is out of range; expected a decimal in 1..4294967294");
}
END_TEST

/* ---- image references and tags ---- */

START_TEST(image_refs) {
  static const check_case cases[] = {
      {"debian:bookworm-slim", NULL},
      {"debian", NULL},
      {"nvcr.io/nvidia/pytorch:24.01-py3", NULL},
      {"localhost:5000/a/b:c", NULL},
      {"registry.example.com/x@sha256:"
       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
       NULL},
      {"ghcr.io/org/my_image__x.y-z:V1.2_rc", NULL},
      {"a/b:c@sha256:0123456789abcdef0123456789abcdef", NULL},
      {"Debian", "image reference \"Debian\" is not valid; expected"},
      {"a b", "is not valid; expected [registry[:port]/]name[:tag]"},
      {"a:b:c", "\"a:b:c\" is not valid"},
      {"a\nRUN x", "control character 0x0a"},
      {":tag", "\":tag\" is not valid"},
      {"a/", "\"a/\" is not valid"},
      {"", "image reference is empty; expected"},
      {"a:-x", "is not valid"},
      {"a:t\xc3\xa9", "is not valid"},
      {"a@sha256:abc", "is not valid"},
      {"a..b", "is not valid"},
      {"a:", "is not valid"},
  };
  run_cases(kiln_check_image_ref, cases, N_ELEMENTS(cases));

  char longref[KILN_MAX_IMAGE_REF + 2];
  memset(longref, 'a', sizeof longref - 1);
  longref[sizeof longref - 1] = '\0';
  kiln_error *err = NULL;
  expect_usage(kiln_check_image_ref(longref, &err), err,
               "image reference is 256 bytes long; expected at most 255");
}
END_TEST

START_TEST(familiar_refs) {
  ck_assert_str_eq(kiln_familiar_ref("docker.io/kilntest-1000/p:latest"), "kilntest-1000/p:latest");
  ck_assert_str_eq(kiln_familiar_ref("docker.io/library/debian:bookworm-slim"),
                   "debian:bookworm-slim");
  ck_assert_str_eq(kiln_familiar_ref("kilntest-1000/p:latest"), "kilntest-1000/p:latest");
  ck_assert_str_eq(kiln_familiar_ref("localhost/p:latest"), "localhost/p:latest");
  ck_assert_str_eq(kiln_familiar_ref("127.0.0.1:5000/p:1"), "127.0.0.1:5000/p:1");
  /* the rest would name another registry: kept whole */
  ck_assert_str_eq(kiln_familiar_ref("docker.io/localhost:5000/p:1"),
                   "docker.io/localhost:5000/p:1");
  ck_assert_str_eq(kiln_familiar_ref("docker.io/registry.example/p:1"),
                   "docker.io/registry.example/p:1");
  ck_assert_str_eq(kiln_familiar_ref("docker.iox/p:1"), "docker.iox/p:1");
}
END_TEST

START_TEST(tags) {
  char max_tag[129], long_tag[130];
  memset(max_tag, 'x', 128);
  max_tag[128] = '\0';
  memset(long_tag, 'x', 129);
  long_tag[129] = '\0';
  const check_case cases[] = {
      {"latest", NULL},
      {"V1.0_rc-2", NULL},
      {"_x", NULL},
      {max_tag, NULL},
      {long_tag, "tag is 129 bytes long; expected at most 128"},
      {".x", "tag \".x\" is not valid; expected up to 128"},
      {"-x", "is not valid"},
      {"a:b", "is not valid"},
      {"a/b", "is not valid"},
      {"\xc3\xa9", "is not valid"},
      {"", "tag is empty"},
  };
  run_cases(kiln_check_tag, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- project names, the name policy, label keys, env names ---- */

static int project_name(const char *s, kiln_error **err) {
  return kiln_check_project_name(s, false, err);
}
static int project_name_policy(const char *s, kiln_error **err) {
  return kiln_check_project_name(s, true, err);
}

START_TEST(project_names) {
  static const check_case plain[] = {
      {"my-project", NULL},
      {"a", NULL},
      {"ml.v2", NULL},
      {"a__b", NULL},
      {"a---b", NULL},
      {"My", "project name \"My\" is not valid; expected lowercase letters"},
      {"-a", "is not valid"},
      {"a-", "is not valid"},
      {"a..b", "is not valid"},
      {"a/b", "is not valid"},
      {"", "project name is empty"},
      {"01234567890123456789012345678901234567890123456789012345678901234",
       "project name is 65 bytes long; expected at most 64"},
  };
  run_cases(project_name, plain, N_ELEMENTS(plain));
  static const check_case policy[] = {
      {"my_project-2", NULL},
      {"ml.v2", "does not fit the name policy; expected only a-z, 0-9, '-' and '_'"},
      {"abcdefghijklmnopqrstuvwxyz01234", "is 31 characters long; the name policy expects 1 to 30"},
  };
  run_cases(project_name_policy, policy, N_ELEMENTS(policy));
}
END_TEST

START_TEST(name_policy) {
  kiln_error *err = NULL;
  expect_ok(kiln_check_name_policy("h-baker_2", "user name", &err), err, "h-baker_2");
  expect_usage(kiln_check_name_policy("H.baker", "user name", &err), err,
               "user name \"H.baker\" does not fit the name policy");
  err = NULL;
  expect_usage(kiln_check_name_policy("", "user name", &err), err, "expects 1 to 30");
}
END_TEST

START_TEST(label_keys) {
  static const check_case cases[] = {
      {"org.example.team", NULL},
      {"maintainer", NULL},
      {"ds01.has_user_setup", NULL},
      {"kiln", NULL},
      {"kiln.project", "label key \"kiln.project\" is reserved"},
      {"kiln.anything-else", "namespace belongs to kiln"},
      {"Org.example", "label key \"Org.example\" is not valid; expected lowercase reverse-DNS"},
      {"a-", "is not valid"},
      {".a", "is not valid"},
      {"a b", "is not valid"},
      {"", "label key is empty"},
  };
  run_cases(kiln_check_label_key, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(env_names) {
  static const check_case cases[] = {
      {"PATH", NULL},
      {"_x", NULL},
      {"cuda_Home2", NULL},
      {"1A", "environment variable name \"1A\" is not valid; expected letters, digits and '_'"},
      {"A-B", "is not valid"},
      {"A=B", "is not valid"},
      {"A B", "is not valid"},
      {"", "environment variable name is empty"},
  };
  run_cases(kiln_check_env_name, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- text ---- */

static int text_20(const char *s, kiln_error **err) {
  return kiln_check_text(s, 20, "label value", err);
}

START_TEST(text) {
  static const check_case cases[] = {
      {"hello world", NULL},
      {"Gr\xc3\xbc\xc3\x9f"
       "e \xe2\x82\xac \xf0\x9f\x98\x80",
       NULL},
      {"", NULL},
      {"a\nb", "label value contains the control character 0x0a at byte 1; expected text "
               "without newlines, tabs or other control characters"},
      {"a\rb", "control character 0x0d"},
      {"a\tb", "control character 0x09"},
      {"\x01", "control character 0x01"},
      {"a\x7f", "control character 0x7f"},
      {"\xff", "label value is not valid UTF-8 (byte 0); expected UTF-8 text"},
      {"ok\xc0\xaf", "not valid UTF-8 (byte 2)"}, /* overlong '/' */
      {"\xe0\x80\xaf", "not valid UTF-8"},        /* overlong, 3 bytes */
      {"\xed\xa0\x80", "not valid UTF-8"},        /* surrogate */
      {"\xf4\x90\x80\x80", "not valid UTF-8"},    /* past U+10FFFF */
      {"\xe2\x82", "not valid UTF-8"},            /* cut short */
      {"\x80", "not valid UTF-8"},                /* lone continuation */
      {"123456789012345678901", "label value is 21 bytes long; expected at most 20"},
  };
  run_cases(text_20, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- packages ---- */

START_TEST(apt_packages) {
  static const check_case cases[] = {
      {"vim", NULL},
      {"python3-numpy", NULL},
      {"g++", NULL},
      {"libc6:amd64", NULL},
      {"vim=2:9.0.1378-2", NULL},
      {"libstdc++6:arm64=12.2.0-14~deb12u1", NULL},
      {"Vim", "apt package \"Vim\" is not valid; expected a Debian package name"},
      {"a", "is not valid"},
      {"-vim", "is not valid"},
      {"vim; rm -rf /", "is not valid"},
      {"vim rm", "is not valid"},
      {"vim=", "is not valid"},
      {"vim/bookworm", "is not valid"},
      {"$(x)", "is not valid"},
      {"", "apt package is empty"},
  };
  run_cases(kiln_check_apt_package, cases, N_ELEMENTS(cases));
}
END_TEST

START_TEST(pip_packages) {
  static const check_case cases[] = {
      {"numpy", NULL},
      {"torch>=2.1", NULL},
      {"torch >= 2.1, < 3", NULL},
      {"requests[security,socks]==2.31.0", NULL},
      {"requests [ security ]", NULL},
      {"black~=23.1", NULL},
      {"foo===1.0", NULL},
      {"a.b_c-D", NULL},
      {"pkg!=1.*", NULL},
      {"x==1.0+local.1", NULL},
      {"-e .", "pip package \"-e .\" is not valid; expected a PEP 508 name"},
      {"--index-url=http://evil", "is not valid"},
      {"git+https://github.com/x/y", "is not valid"},
      {"pkg @ https://x/y.whl", "is not valid"},
      {"pkg; python_version<'3.8'", "is not valid"},
      {"pkg>=1.0 ; x", "is not valid"},
      {"\"pkg\"", "\"\\\"pkg\\\"\" is not valid"},
      {"$HOME", "is not valid"},
      {"pkg-", "is not valid"},
      {"pkg=1.0", "is not valid"},
      {"pkg[]", "is not valid"},
      {" pkg", "is not valid"},
      {"", "pip package is empty"},
  };
  run_cases(kiln_check_pip_package, cases, N_ELEMENTS(cases));
}
END_TEST

static int check_url(const char *value, kiln_error **err) {
  return kiln_check_index_url(value, "packages.pip_index_url", err);
}

START_TEST(index_urls) {
  static const check_case cases[] = {
      {"https://pypi.org/simple", NULL},
      {"http://127.0.0.1:8080/simple/", NULL},
      {"https://mirror.example.org/pypi/web/simple?x=1&y=2", NULL},
      {"http://[::1]:3141/root/pypi/+simple/", NULL},
      {"https://user:secret@pypi.example.org/simple", "packages.pip_index_url"},
      {"ftp://pypi.example.org/simple", "is not valid; expected an http:// or https:// URL"},
      {"file:///srv/wheels", "is not valid"},
      {"https://pypi.org/simple\nRUN id", "control character 0x0a"},
      {"https://pypi.org/simple\"", "is not valid"},
      {"https://pypi.org/$HOME", "is not valid"},
      {"https://pypi.org/a b", "is not valid"},
      {"https://pypi.org/`id`", "is not valid"},
      {"--index-url=https://x", "is not valid"},
      {"", "packages.pip_index_url is empty"},
  };
  run_cases(check_url, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- RUN steps and image paths ---- */

START_TEST(run_commands) {
  static const check_case cases[] = {
      {"apt-get update && apt-get install -y vim", NULL},
      {"printf '%s\\n' a", NULL},
      {"echo \\", "run step ends with a backslash, which would join the next Dockerfile line"},
      {"echo hi\nRUN rm -rf /", "run step contains the control character 0x0a"},
      {"", "run step is empty; expected a shell command"},
  };
  run_cases(kiln_check_run_command, cases, N_ELEMENTS(cases));
}
END_TEST

static int image_path(const char *s, kiln_error **err) {
  return kiln_check_image_path(s, "workspace", err);
}

START_TEST(image_paths) {
  static const check_case cases[] = {
      {"/workspace", NULL},
      {"/", NULL},
      {"/home/u/.config", NULL},
      {"/a..b/c..", NULL},
      {"/with space", NULL},
      {"workspace", "workspace \"workspace\" is not absolute; expected a path inside the image"},
      {"/a/../b", "workspace \"/a/../b\" contains \"..\"; expected a path without parent"},
      {"/..", "contains \"..\""},
      {"/a/..", "contains \"..\""},
      {"/a/$HOME", "contains $, a quote or a backslash; expected a plain path"},
      {"/a'b", "contains $, a quote"},
      {"/a\"b", "contains $, a quote"},
      {"/a\\b", "contains $, a quote"},
      {"/a`id`", "contains $, a quote"},
      {"/a\nb", "control character 0x0a"},
      {"", "is not absolute"},
  };
  run_cases(image_path, cases, N_ELEMENTS(cases));
}
END_TEST

static int mount_target(const char *s, kiln_error **err) {
  return kiln_check_mount_target(s, "volume target", err);
}

/* One rule for -v and deploy.volumes: no system folder of the container. */
START_TEST(mount_targets) {
  static const check_case cases[] = {
      {"/data", NULL},
      {"/procx", NULL},
      {"/home/u/data", NULL},
      {"/var/lib/data", NULL},
      {"/", "volume target \"/\" is a system folder of the container; expected a folder of "
            "your own such as /data"},
      {"//", "is a system folder"},
      {"/proc", "is a system folder"},
      {"/proc/", "is a system folder"},
      {"/sys/fs", "is a system folder"},
      {"/dev", "is a system folder"},
      {"/etc/x", "is a system folder"},
      {"/usr/local/x", "is a system folder"},
      {"/lib64", "is a system folder"},
      {"/a/$x", "contains $, a quote"},
      {"data", "is not absolute"},
  };
  run_cases(mount_target, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- paths inside the project ---- */

static char project[] = "/tmp/kiln-sanitize-XXXXXX";

static void make_project(void) {
  strcpy(project, "/tmp/kiln-sanitize-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(project));
  char path[256];
  snprintf(path, sizeof path, "%s/sub", project);
  ck_assert_int_eq(mkdir(path, 0755), 0);
  snprintf(path, sizeof path, "%s/sub/file.txt", project);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fclose(f);
  snprintf(path, sizeof path, "%s/link-in", project);
  ck_assert_int_eq(symlink("sub", path), 0);
  snprintf(path, sizeof path, "%s/link-out", project);
  ck_assert_int_eq(symlink("/etc", path), 0);
  snprintf(path, sizeof path, "%s/sub/up", project);
  ck_assert_int_eq(symlink("../..", path), 0);
}

static void remove_project(void) {
  static const char *const entries[] = {"sub/up", "sub/file.txt", "link-in", "link-out", "sub"};
  char path[256];
  for (size_t i = 0; i < N_ELEMENTS(entries); i++) {
    snprintf(path, sizeof path, "%s/%s", project, entries[i]);
    remove(path);
  }
  rmdir(project);
}

START_TEST(project_paths_inside) {
  static const struct {
    const char *rel, *want;
    bool is_dir;
  } cases[] = {
      {"sub/file.txt", "sub/file.txt", false},
      {"./sub//file.txt", "sub/file.txt", false},
      {"sub/", "sub", true},
      {"link-in", "link-in", true},
      {"link-in/file.txt", "link-in/file.txt", false},
  };
  for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
    kiln_error *err = NULL;
    _cleanup_free_ char *norm = NULL;
    bool is_dir = !cases[i].is_dir;
    expect_ok(kiln_check_project_path(project, cases[i].rel, "files.src", &norm, &is_dir, &err),
              err, cases[i].rel);
    ck_assert_str_eq(norm, cases[i].want);
    ck_assert_int_eq(is_dir, cases[i].is_dir);
  }
}
END_TEST

START_TEST(project_paths_refused) {
  static const struct {
    const char *rel, *message;
  } cases[] = {
      {"link-out", "files.src \"link-out\" leads outside the project folder"},
      {"link-out/passwd", "leads outside the project folder"},
      {"sub/up", "leads outside the project folder"},
      {"../x", "files.src \"../x\" contains \"..\"; expected a path inside the project folder"},
      {"sub/../../x", "contains \"..\""},
      {"/etc/passwd", "files.src \"/etc/passwd\" is absolute; expected a path relative"},
      {"missing", "files.src \"missing\" does not exist; expected a file or folder inside"},
      {".", "names the project folder itself"},
      {"", "names the project folder itself"},
      {"a\nb", "control character"},
  };
  for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
    kiln_error *err = NULL;
    char *norm = NULL;
    expect_usage(kiln_check_project_path(project, cases[i].rel, "files.src", &norm, NULL, &err),
                 err, cases[i].message);
    ck_assert_ptr_null(norm);
  }
  /* A project folder that cannot be read is an I/O failure, not a bad value. */
  kiln_error *err = NULL;
  char *norm = NULL;
  int rc = kiln_check_project_path("/nonexistent-kiln-dir", "a", "files.src", &norm, NULL, &err);
  expect_failure_code(rc, err, KILN_EXIT_FAILURE,
                      (const char *const[]){"project folder /nonexistent-kiln-dir", NULL});
}
END_TEST

/* ---- numbers ---- */

START_TEST(ports) {
  static const struct {
    const char *s;
    uint16_t want;
  } good[] = {{"1", 1}, {"22", 22}, {"8080", 8080}, {"65535", 65535}};
  for (size_t i = 0; i < N_ELEMENTS(good); i++) {
    kiln_error *err = NULL;
    uint16_t port = 0;
    expect_ok(kiln_parse_port(good[i].s, &port, &err), err, good[i].s);
    ck_assert_uint_eq(port, good[i].want);
  }
  static const char *const bad[] = {"0", "65536", "-1", "+22", " 22", "22a", "", "1e3"};
  for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
    kiln_error *err = NULL;
    uint16_t port = 7;
    expect_usage(kiln_parse_port(bad[i], &port, &err), err, "port \"", "expected 1..65535");
    ck_assert_uint_eq(port, 7);
  }
}
END_TEST

/* -p's grammar: every form, and each refusal names the value, the reason
 * and the grammar. */
START_TEST(port_bindings) {
  static const struct {
    const char *s, *ip;
    uint16_t host, cont;
    const char *proto;
  } good[] = {
      {"8888", "", 0, 8888, "tcp"},
      {"53/udp", "", 0, 53, "udp"},
      {"18888:8888", "", 18888, 8888, "tcp"},
      {"9000:9000/udp", "", 9000, 9000, "udp"},
      {"127.0.0.1:18123:8080", "127.0.0.1", 18123, 8080, "tcp"},
      {"0.0.0.0:8080:80/tcp", "0.0.0.0", 8080, 80, "tcp"},
      {"127.0.0.1::8080", "127.0.0.1", 0, 8080, "tcp"},
      {"[::1]:8080:80", "::1", 8080, 80, "tcp"},
      {"[fe80::1]::80/udp", "fe80::1", 0, 80, "udp"},
  };
  for (size_t i = 0; i < N_ELEMENTS(good); i++) {
    kiln_error *err = NULL;
    kiln_port_binding pb;
    expect_ok(kiln_parse_port_binding(good[i].s, &pb, &err), err, good[i].s);
    ck_assert_str_eq(pb.host_ip, good[i].ip);
    ck_assert_uint_eq(pb.host_port, good[i].host);
    ck_assert_uint_eq(pb.container_port, good[i].cont);
    ck_assert_str_eq(pb.proto, good[i].proto);
  }
  static const struct {
    const char *s, *why;
  } bad[] = {
      {"", "the container port is not 1..65535"},
      {"80:http", "the container port is not 1..65535"},
      {"70000", "the container port is not 1..65535"},
      {"0:80", "the host port is not 1..65535"},
      {"x:80", "the host port is not 1..65535"},
      {":80", "the host port is empty"},
      {"80/sctp", "the protocol must be tcp or udp"},
      {"80/", "the protocol must be tcp or udp"},
      {"localhost:8080:80", "not a literal IPv4 or IPv6 address"},
      {"1.2.3:8080:80", "not a literal IPv4 or IPv6 address"},
      {"::1:8080:80", "too many ':'"},
      {"[::1:8080:80", "[brackets]"},
      {"[::1]8080:80", "[brackets]"},
      {"127.0.0.1:80", "the host port is not 1..65535"},
      {"[::1]:80", "an address needs HOST:CONTAINER"},
      {"8000-8010:80", "the host port is not 1..65535"},
  };
  for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
    kiln_error *err = NULL;
    kiln_port_binding pb;
    expect_usage(kiln_parse_port_binding(bad[i].s, &pb, &err), err, "port \"", bad[i].why,
                 "expected [IP:]HOST:CONTAINER[/tcp|/udp] or CONTAINER[/tcp|/udp]");
  }
}
END_TEST

START_TEST(modes) {
  static const struct {
    const char *s;
    unsigned want;
  } good[] = {{"0644", 0644},  {"644", 0644}, {"755", 0755},
              {"7777", 07777}, {"0", 0},      {"004755", 04755}};
  for (size_t i = 0; i < N_ELEMENTS(good); i++) {
    kiln_error *err = NULL;
    unsigned mode = 1;
    expect_ok(kiln_parse_mode(good[i].s, &mode, &err), err, good[i].s);
    ck_assert_uint_eq(mode, good[i].want);
  }
  static const check_case bad[] = {
      {"0649", "mode \"0649\" is not octal; expected digits 0-7 such as 0644"},
      {"8", "is not octal"},
      {"9", "is not octal"},
      {"", "is not octal"},
      {"-1", "is not octal"},
      {"0o644", "is not octal"},
      {"10000", "mode \"10000\" is out of range; expected at most 07777"},
      {"0000000644", "is out of range"},
  };
  for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
    kiln_error *err = NULL;
    unsigned mode;
    expect_usage(kiln_parse_mode(bad[i].value, &mode, &err), err, bad[i].message);
  }
}
END_TEST

START_TEST(sizes) {
  static const struct {
    const char *s;
    uint64_t want;
  } good[] = {
      {"512", 512},
      {"3b", 3},
      {"1k", 1024},
      {"0.5K", 512},
      {"64m", 64ull << 20},
      {"10MB", 10ull << 20},
      {"8g", 8ull << 30},
      {"2GiB", 2ull << 30},
      {"1.5g", 1610612736ull},
      {"1T", 1ull << 40},
      {"1.123456789g", 1206302541ull}, /* 1.123456789 * 2^30, rounded down */
      {"18446744073709551615", UINT64_MAX},
      {"16777215t", 16777215ull << 40},
  };
  for (size_t i = 0; i < N_ELEMENTS(good); i++) {
    kiln_error *err = NULL;
    uint64_t bytes = 0;
    expect_ok(kiln_parse_size(good[i].s, &bytes, &err), err, good[i].s);
    ck_assert_msg(bytes == good[i].want, "%s: got %llu", good[i].s, (unsigned long long)bytes);
  }
  static const check_case bad[] = {
      {"0", "size \"0\" is zero; expected at least 1 byte"},
      {"0k", "is zero"},
      {"0.1b", "is zero"},
      {"18446744073709551616", "size \"18446744073709551616\" is too large; expected less than"},
      {"16777216t", "is too large"},
      {"99999999999999999999999g", "is too large"},
      {"1.5x", "size \"1.5x\" is not valid; expected a number (up to 9 decimals) with an "
               "optional unit b, k, m, g or t"},
      {"g", "is not valid"},
      {"-1", "is not valid"},
      {"1.", "is not valid"},
      {".5g", "is not valid"},
      {" 1g", "is not valid"},
      {"1 g", "is not valid"},
      {"1.0000000001g", "is not valid"},
      {"1e3", "is not valid"},
      {"", "is not valid"},
  };
  for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
    kiln_error *err = NULL;
    uint64_t bytes;
    expect_usage(kiln_parse_size(bad[i].value, &bytes, &err), err, bad[i].message);
  }
}
END_TEST

START_TEST(cpus) {
  static const struct {
    const char *s;
    uint64_t want;
  } good[] = {
      {"0.5", 500000000ull}, {"2", 2000000000ull},       {"1.25", 1250000000ull},
      {"0.000000001", 1},    {"1024", 1024000000000ull}, {"1024.0", 1024000000000ull},
  };
  for (size_t i = 0; i < N_ELEMENTS(good); i++) {
    kiln_error *err = NULL;
    uint64_t nano = 0;
    expect_ok(kiln_parse_cpus(good[i].s, &nano, &err), err, good[i].s);
    ck_assert_msg(nano == good[i].want, "%s: got %llu", good[i].s, (unsigned long long)nano);
  }
  static const char *const bad[] = {"0",   "0.0",  "1025", "1024.5",       "-1", "1e3",
                                    "abc", "2cpu", "",     "0.0000000001", ".5", "1,5"};
  for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
    kiln_error *err = NULL;
    uint64_t nano;
    expect_usage(kiln_parse_cpus(bad[i], &nano, &err), err, "cpus \"",
                 "expected a number such as 0.5 or 4, greater than 0 and at most 1024");
  }
}
END_TEST

START_TEST(gpus) {
  static const check_case cases[] = {
      {"all", NULL},
      {"1", NULL},
      {"4", NULL},
      {"0,1", NULL},
      {"GPU-3f1c2a9e-0000-1111", NULL},
      {"0,GPU-x", NULL},
      {"0", "gpus \"0\" is not valid; expected \"all\", a count from 1 to 1024, or device ids"},
      {"1025", "is not valid"},
      {"99999999999999999999999", "is not valid"},
      {"1,", "is not valid"},
      {",1", "is not valid"},
      {"a b", "is not valid"},
      {"all;x", "is not valid"},
      {"", "is not valid"},
  };
  run_cases(kiln_check_gpus, cases, N_ELEMENTS(cases));
}
END_TEST

/* ---- shell quoting ---- */

/* What /bin/sh prints for `printf %s <quoted>`. Caller frees. */
static char *sh_reads_back(const char *quoted) {
  _cleanup_free_ char *cmd = NULL;
  ck_assert_int_ge(asprintf(&cmd, "printf %%s %s", quoted), 0);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  char *out = calloc(1, 4096);
  size_t n = fread(out, 1, 4095, p);
  out[n] = '\0';
  ck_assert_int_eq(pclose(p), 0);
  return out;
}

START_TEST(shell_quote_round_trip) {
  static const char *const nasty[] = {
      "plain", "",           "$(touch /tmp/kiln-pwned)",
      "`id`",  "it's",       "''",
      "\"",    "\\",         "a  b",
      "*",     "$HOME ~ !x", "a\nb",
      "%s %d", "-n",         "'$(id)'\\'",
  };
  for (size_t i = 0; i < N_ELEMENTS(nasty); i++) {
    _cleanup_free_ char *quoted = kiln_shell_quote(nasty[i]);
    ck_assert_ptr_nonnull(quoted);
    _cleanup_free_ char *back = sh_reads_back(quoted);
    ck_assert_str_eq(back, nasty[i]);
  }
  ck_assert_int_ne(access("/tmp/kiln-pwned", F_OK), 0);
  _cleanup_free_ char *q = kiln_shell_quote("it's");
  ck_assert_str_eq(q, "'it'\\''s'");
  _cleanup_free_ char *empty = kiln_shell_quote("");
  ck_assert_str_eq(empty, "''");
}
END_TEST

/* ---- did you mean ---- */

START_TEST(did_you_mean) {
  static const char *const keys[] = {"packages", "project", "base", "user", "ports", NULL};
  static const struct {
    const char *word, *want;
  } cases[] = {
      {"pakages", "packages"}, {"projcet", "project"}, {"usr", "user"},
      {"bsae", "base"},        {"PORTS", "ports"},     {"port", "ports"},
      {"xyz", NULL},           {"zzzzzzzz", NULL},     {"ab", NULL},
      {"pack", NULL}, /* 4 edits from "packages", limit 1 */
  };
  for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
    const char *got = kiln_did_you_mean(cases[i].word, keys);
    if (!cases[i].want)
      ck_assert_msg(!got, "%s: suggested %s", cases[i].word, got);
    else
      ck_assert_msg(got && !strcmp(got, cases[i].want), "%s: got %s, want %s", cases[i].word,
                    got ? got : "(none)", cases[i].want);
  }
  static const char *const none[] = {NULL};
  ck_assert_ptr_null(kiln_did_you_mean("base", none));
}
END_TEST

/* ---- patterns survive cleanup ---- */

START_TEST(cleanup_then_reuse) {
  kiln_error *err = NULL;
  expect_ok(kiln_check_image_ref("debian", &err), err, "debian");
  kiln_sanitize_cleanup();
  kiln_sanitize_cleanup(); /* twice is fine */
  expect_ok(kiln_check_image_ref("debian:bookworm-slim", &err), err, "after cleanup");
  expect_usage(kiln_check_image_ref("Debian", &err), err, "is not valid");
}
END_TEST

static Suite *sanitize_suite(void) {
  Suite *s = suite_create("sanitize");
  TCase *names = kt_tcase(s, "names", NULL, NULL);
  tcase_add_test(names, username_rule);
  tcase_add_test(names, username_refused);
  tcase_add_test(names, username_long_names_stay_apart);
  tcase_add_test(names, username_cut_drops_trailing_dash);
  tcase_add_test(names, project_names);
  tcase_add_test(names, name_policy);
  tcase_add_test(names, label_keys);
  tcase_add_test(names, env_names);
  tcase_add_test(names, apt_packages);
  tcase_add_test(names, pip_packages);
  tcase_add_test(names, index_urls);

  TCase *refs = kt_tcase(s, "refs", NULL, NULL);
  tcase_add_test(refs, image_refs);
  tcase_add_test(refs, tags);
  tcase_add_test(refs, familiar_refs);
  tcase_add_test(refs, cleanup_then_reuse);

  TCase *text_case = kt_tcase(s, "text", NULL, NULL);
  tcase_add_test(text_case, text);
  tcase_add_test(text_case, run_commands);
  tcase_add_test(text_case, image_paths);
  tcase_add_test(text_case, mount_targets);

  TCase *paths = kt_tcase(s, "project paths", make_project, remove_project);
  tcase_add_test(paths, project_paths_inside);
  tcase_add_test(paths, project_paths_refused);

  TCase *numbers = kt_tcase(s, "numbers", NULL, NULL);
  tcase_add_test(numbers, ids);
  tcase_add_test(numbers, ports);
  tcase_add_test(numbers, port_bindings);
  tcase_add_test(numbers, modes);
  tcase_add_test(numbers, sizes);
  tcase_add_test(numbers, cpus);
  tcase_add_test(numbers, gpus);

  TCase *misc = kt_tcase(s, "quote and suggest", NULL, NULL);
  tcase_add_test(misc, shell_quote_round_trip);
  tcase_add_test(misc, did_you_mean);
  return s;
}

int main(void) {
  int status = kt_run_suite(sanitize_suite());
  kiln_sanitize_cleanup();
  return status;
}
