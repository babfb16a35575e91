/* libFuzzer target for sanitize/: every check and parser gets the input as a
 * NUL-terminated string; each must either accept it or fail with a usage
 * error, never crash, leak or read out of bounds. Invariants that a user
 * relies on are asserted (abort() makes libFuzzer report the input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"
#include "util/cleanup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_INPUT = 2 * KILN_MAX_PATH };

static char project[] = "/tmp/kiln-fuzz-sanitize-XXXXXX";

static void require(bool ok) {
  if (!ok) abort();
}

/* A failed check leaves exactly one usage error with a message; an
 * accepted value leaves none. */
static void check_result(int rc, kiln_error *err) {
  if (rc == 0) {
    require(err == NULL);
    return;
  }
  require(rc < 0 && err && err->message && err->message[0] && !err->next);
  require(err->code == KILN_EXIT_USAGE || err->code == KILN_EXIT_FAILURE);
  kiln_error_free(err);
}

typedef int (*check_fn)(const char *value, kiln_error **err);

static int text_check(const char *s, kiln_error **err) {
  return kiln_check_text(s, 256, "v", err);
}
static int project_check(const char *s, kiln_error **err) {
  return kiln_check_project_name(s, false, err);
}
static int project_policy_check(const char *s, kiln_error **err) {
  return kiln_check_project_name(s, true, err);
}
static int policy_check(const char *s, kiln_error **err) {
  return kiln_check_name_policy(s, "name", err);
}
static int image_path_check(const char *s, kiln_error **err) {
  return kiln_check_image_path(s, "path", err);
}

static const check_fn checks[] = {
    kiln_check_image_ref,   kiln_check_tag,         kiln_check_label_key,
    kiln_check_env_name,    kiln_check_apt_package, kiln_check_pip_package,
    kiln_check_run_command, kiln_check_gpus,        text_check,
    project_check,          project_policy_check,   policy_check,
    image_path_check,
};

/* Reads a single-quoted shell word back the way sh does; the quoting must
 * be exactly '...' pieces joined by \' and give back the original. */
static void verify_quote(const char *s) {
  _cleanup_free_ char *q = kiln_shell_quote(s);
  require(q != NULL);
  _cleanup_free_ char *back = malloc(strlen(q) + 1);
  require(back != NULL);
  size_t w = 0;
  bool quoted = false;
  for (const char *p = q; *p; p++) {
    if (*p == '\'') {
      quoted = !quoted;
    } else if (quoted) {
      back[w++] = *p;
    } else {
      require(p[0] == '\\' && p[1] == '\''); /* the only thing outside quotes */
      back[w++] = '\'';
      p++;
    }
  }
  back[w] = '\0';
  require(!quoted);
  require(strcmp(back, s) == 0);
}

static void verify_username(const char *s) {
  kiln_error *err = NULL;
  _cleanup_free_ char *name = kiln_sanitize_username(s, &err);
  if (!name) {
    check_result(-1, err);
    return;
  }
  require(err == NULL);
  size_t len = strlen(name);
  require(len >= 1 && len <= KILN_MAX_USER_NAME);
  require((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
  require(name[len - 1] != '-' && !strstr(name, "--"));
  require(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len);
}

static void verify_numbers(const char *s) {
  kiln_error *err = NULL;
  uint32_t id;
  uint16_t port;
  unsigned mode;
  uint64_t n;
  int rc = kiln_parse_id(s, false, "uid", &id, &err);
  check_result(rc, err);
  if (rc == 0) require(id >= 1 && id <= KILN_MAX_ID);
  err = NULL;
  rc = kiln_parse_port(s, &port, &err);
  check_result(rc, err);
  if (rc == 0) require(port >= 1);
  err = NULL;
  rc = kiln_parse_mode(s, &mode, &err);
  check_result(rc, err);
  if (rc == 0) require(mode <= 07777);
  err = NULL;
  rc = kiln_parse_size(s, &n, &err);
  check_result(rc, err);
  if (rc == 0) require(n >= 1);
  err = NULL;
  rc = kiln_parse_cpus(s, &n, &err);
  check_result(rc, err);
  if (rc == 0) require(n >= 1 && n <= 1024ull * 1000000000ull);
}

static void verify_project_path(const char *s) {
  kiln_error *err = NULL;
  char *norm = NULL;
  bool is_dir;
  int rc = kiln_check_project_path(project, s, "path", &norm, &is_dir, &err);
  check_result(rc, err);
  if (rc < 0) {
    require(norm == NULL);
    return;
  }
  require(norm[0] && norm[0] != '/' && !strstr(norm, "//"));
  free(norm);
}

static void verify_show(const char *s) {
  char shown[KILN_SHOWN_MAX];
  kiln_show(s, shown);
  require(strlen(shown) < KILN_SHOWN_MAX);
  for (const unsigned char *p = (const unsigned char *)shown; *p; p++)
    require(*p >= 0x20 && *p != 0x7f);
}

static void remove_project(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/a", project);
  unlink(path);
  snprintf(path, sizeof path, "%s/out", project);
  unlink(path);
  rmdir(project);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  require(mkdtemp(project) != NULL);
  atexit(remove_project);
  char path[128];
  snprintf(path, sizeof path, "%s/a", project);
  FILE *f = fopen(path, "w");
  require(f != NULL);
  fclose(f);
  snprintf(path, sizeof path, "%s/out", project);
  require(symlink("/", path) == 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > MAX_INPUT) return 0;
  _cleanup_free_ char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';

  for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
    kiln_error *err = NULL;
    check_result(checks[i](s, &err), err);
  }
  verify_username(s);
  verify_numbers(s);
  verify_project_path(s);
  verify_quote(s);
  verify_show(s);
  static const char *const words[] = {"packages", "project", "base", "user", NULL};
  const char *hint = kiln_did_you_mean(s, words);
  require(!hint || strlen(hint) > 0);
  return 0;
}
