/* Names: user names (DS01 rule), the name policy, project names, label keys,
 * environment names and package names. */
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

/* ---- user names (DS01 rule) ---- */

/* Hex digits of sha256(raw) appended to a cut name: '-' + 6 hex. */
enum { USER_HASH_DIGITS = 6, USER_KEEP = KILN_MAX_USER_NAME - 1 - USER_HASH_DIGITS };

static bool is_user_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* What one input byte becomes; '-' runs are collapsed afterwards. */
static int append_user_byte(kiln_buf *b, unsigned char c) {
  if (c == '@') return kiln_buf_puts(b, "-at-");
  if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
  return is_user_char(c) ? kiln_buf_append(b, &c, 1) : kiln_buf_puts(b, "-");
}

/* Collapses runs of '-' and drops them at both ends, in place. */
static void collapse_dashes(char *s) {
  char *w = s;
  for (const char *r = s; *r; r++) {
    if (*r == '-' && (w == s || w[-1] == '-')) continue;
    *w++ = *r;
  }
  while (w > s && w[-1] == '-')
    w--;
  *w = '\0';
}

/* Cuts a long name and adds a suffix from the original, so two long names
 * with a common prefix stay apart. s has room for KILN_MAX_USER_NAME + 1. */
static int shorten_user_name(char *s, const char *raw) {
  char hex[65];
  if (kiln_sha256_hex(raw, strlen(raw), hex) < 0) return -1;
  size_t keep = USER_KEEP;
  while (s[keep - 1] == '-')
    keep--; /* s[0] is a letter or '_' */
  snprintf(s + keep, KILN_MAX_USER_NAME + 1 - keep, "-%.*s", USER_HASH_DIGITS, hex);
  return 0;
}

char *kiln_sanitize_username(const char *raw, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  if (strlen(raw) > KILN_MAX_SCALAR_BYTES) {
    kiln_error_set(err, KILN_EXIT_USAGE, "user name is %zu bytes long; expected at most %u",
                   strlen(raw), KILN_MAX_SCALAR_BYTES);
    return NULL;
  }
  /* "-at-" is the longest replacement: 4 bytes per input byte at most. */
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(4 * KILN_MAX_SCALAR_BYTES);
  if (kiln_buf_puts(&b, "") < 0) goto oom;
  for (const unsigned char *p = (const unsigned char *)raw; *p; p++)
    if (append_user_byte(&b, *p) < 0) goto oom;
  collapse_dashes(b.data);
  if (!b.data[0]) {
    kiln_error_set(err, KILN_EXIT_USAGE,
                   "user name \"%s\" is empty after sanitizing; expected letters, digits, '_' "
                   "or '-'",
                   kiln_show(raw, shown));
    return NULL;
  }
  /* A digit first (uid-like LDAP names, "1alice") is not a valid account
   * name: prefixed with 'u', as DS01 turns every invalid character into one
   * that is valid rather than refusing the person. */
  if (b.data[0] >= '0' && b.data[0] <= '9') {
    _cleanup_free_ char *digits = strdup(b.data);
    kiln_buf_reset(&b);
    if (!digits || kiln_buf_printf(&b, "u%s", digits) < 0) goto oom;
  }
  if (strlen(b.data) > KILN_MAX_USER_NAME && shorten_user_name(b.data, raw) < 0) goto oom;
  return kiln_buf_steal(&b, NULL);
oom:
  kiln_error_oom(err);
  return NULL;
}

/* ---- project names and the name policy ---- */

static bool is_policy_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int kiln_check_name_policy(const char *name, const char *what, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  size_t len = strlen(name);
  if (!len || len > KILN_POLICY_MAX_NAME)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s \"%s\" is %zu characters long; the name policy expects 1 to %d", what,
                          kiln_show(name, shown), len, KILN_POLICY_MAX_NAME);
  for (const char *p = name; *p; p++)
    if (!is_policy_char(*p))
      return kiln_error_set(err, KILN_EXIT_USAGE,
                            "%s \"%s\" does not fit the name policy; expected only a-z, "
                            "0-9, '-' and '_'",
                            what, kiln_show(name, shown));
  return 0;
}

int kiln_check_project_name(const char *name, bool policy, kiln_error **err) {
  if (kiln_check_grammar(KILN_PAT_PROJECT, name, KILN_MAX_PROJECT_NAME, "project name",
                         "lowercase letters and digits separated by '.', '_', '__' or '-', "
                         "e.g. my-project",
                         err) < 0)
    return -1;
  return policy ? kiln_check_name_policy(name, "project name", err) : 0;
}

int kiln_check_volume_name(const char *name, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_VOLUME_NAME, name, KILN_MAX_VOLUME_NAME, "volume name",
                            "a letter or digit, then letters, digits, '_', '.' or '-'", err);
}

/* ---- label keys and environment names ---- */

#define RESERVED_LABEL_PREFIX "kiln."

int kiln_check_label_key(const char *key, kiln_error **err) {
  if (kiln_check_grammar(KILN_PAT_LABEL_KEY, key, KILN_MAX_LABEL_KEY, "label key",
                         "lowercase reverse-DNS style such as org.example.team", err) < 0)
    return -1;
  if (!strncmp(key, RESERVED_LABEL_PREFIX, strlen(RESERVED_LABEL_PREFIX)))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "label key \"%s\" is reserved: the \"" RESERVED_LABEL_PREFIX
                          "\" namespace belongs to kiln; expected a key such as "
                          "org.example.team",
                          key);
  return 0;
}

int kiln_check_env_name(const char *name, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_ENV_NAME, name, KILN_MAX_ENV_NAME, "environment variable name",
                            "letters, digits and '_', not starting with a digit", err);
}

/* ---- packages ---- */

int kiln_check_apt_package(const char *name, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_APT, name, KILN_MAX_PACKAGE_NAME, "apt package",
                            "a Debian package name such as python3-numpy (lowercase letters, "
                            "digits, '+', '.', '-'), optionally :arch and =version",
                            err);
}

int kiln_check_index_url(const char *url, const char *what, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_INDEX_URL, url, KILN_MAX_URL, what,
                            "an http:// or https:// URL such as https://pypi.example.org/simple "
                            "(no user:password@, quotes, spaces or '$')",
                            err);
}

int kiln_check_pip_package(const char *name, kiln_error **err) {
  return kiln_check_grammar(KILN_PAT_PIP, name, KILN_MAX_PACKAGE_NAME, "pip package",
                            "a PEP 508 name with optional [extras] and version specifiers, "
                            "e.g. torch>=2.1,<3 (no URLs, options, markers or quotes)",
                            err);
}

char *kiln_user_home(const char *name, uint32_t uid) {
  char *home = NULL;
  if (uid == 0) return strdup("/root");
  return asprintf(&home, "/home/%s", name) < 0 ? NULL : home;
}
