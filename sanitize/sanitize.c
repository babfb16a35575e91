/* Rules for untrusted text; see sanitize.h. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sanitize/sanitize.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pcre2.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"

#define USAGE KILN_EXIT_USAGE

/* ---- user names (DS01 rule) ---- */

static int append_mapped(kiln_buf *b, unsigned char c) {
  if (c == '@') return kiln_buf_puts(b, "-at-");
  if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
    return kiln_buf_append(b, &c, 1);
  return kiln_buf_puts(b, "-");
}

/* Collapses runs of '-' and trims them at both ends, in place. */
static void collapse_dashes(char *s) {
  char *w = s;
  for (const char *r = s; *r; r++) {
    if (*r == '-' && (w == s || w[-1] == '-')) continue;
    *w++ = *r;
  }
  while (w > s && w[-1] == '-') w--;
  *w = '\0';
}

char *kiln_sanitize_username(const char *raw, kiln_error **err) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(4 * KILN_MAX_PATH);
  for (const unsigned char *p = (const unsigned char *)raw; *p; p++)
    if (append_mapped(&b, *p) < 0) {
      kiln_error_set(err, USAGE, "user name is longer than %d characters", KILN_MAX_PATH);
      return NULL;
    }
  if (!b.data || kiln_buf_puts(&b, "") < 0) {
    kiln_error_set(err, USAGE, "user name is empty; expected letters, digits, '_' or '-'");
    return NULL;
  }
  collapse_dashes(b.data);
  if (!(islower((unsigned char)b.data[0]) || b.data[0] == '_')) {
    kiln_error_set(err, USAGE, "user name \"%s\" must start with a letter or '_' after sanitizing",
                   raw);
    return NULL;
  }
  size_t len = strlen(b.data);
  if (len > KILN_MAX_USER_NAME) {
    /* Cut and add a stable suffix so two long names never collide. */
    char hex[65];
    kiln_sha256_hex(raw, strlen(raw), hex);
    size_t keep = KILN_MAX_USER_NAME - 7;
    while (keep > 1 && b.data[keep - 1] == '-') keep--;
    snprintf(b.data + keep, b.alloc - keep, "-%.6s", hex);
  }
  return kiln_buf_steal(&b, NULL);
}

/* ---- ids ---- */

int kiln_check_id(uint64_t id, bool allow_root, const char *what, kiln_error **err) {
  if (id == 0 && !allow_root)
    return kiln_error_set(err, USAGE,
                          "%s 0 is root; expected 1..%u (set user.allow_root: true to build as root)",
                          what, KILN_MAX_ID);
  if (id > KILN_MAX_ID)
    return kiln_error_set(err, USAGE, "%s %llu is out of range; expected 1..%u", what,
                          (unsigned long long)id, KILN_MAX_ID);
  return 0;
}

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20) return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int kiln_parse_id(const char *s, bool allow_root, const char *what, uint32_t *out,
                  kiln_error **err) {
  uint64_t v;
  if (parse_u64(s, &v) < 0)
    return kiln_error_set(err, USAGE, "%s \"%s\" is not a number; expected 1..%u", what, s,
                          KILN_MAX_ID);
  if (kiln_check_id(v, allow_root, what, err) < 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

/* ---- pcre2 patterns, compiled once ---- */

enum pattern_id {
  PAT_IMAGE_REF,
  PAT_TAG,
  PAT_PROJECT,
  PAT_LABEL_KEY,
  PAT_ENV_NAME,
  PAT_APT,
  PAT_PIP,
  PAT_GPU_IDS,
  PAT_COUNT
};

#define REF_COMPONENT "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
#define REF_DOMAIN_COMPONENT "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
#define REF_DOMAIN REF_DOMAIN_COMPONENT "(?:\\." REF_DOMAIN_COMPONENT ")*(?::[0-9]+)?"
#define REF_TAG "[\\w][\\w.-]{0,127}"
#define REF_DIGEST "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

static const char *const pattern_source[PAT_COUNT] = {
    [PAT_IMAGE_REF] = "^(?:" REF_DOMAIN "/)?" REF_COMPONENT "(?:/" REF_COMPONENT ")*"
                      "(?::" REF_TAG ")?(?:@" REF_DIGEST ")?$",
    [PAT_TAG] = "^" REF_TAG "$",
    [PAT_PROJECT] = "^" REF_COMPONENT "$",
    [PAT_LABEL_KEY] = "^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$",
    [PAT_ENV_NAME] = "^[A-Za-z_][A-Za-z0-9_]*$",
    [PAT_APT] = "^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$",
    [PAT_PIP] = "^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
                "(?: *\\[ *[A-Za-z0-9][A-Za-z0-9._-]*(?: *, *[A-Za-z0-9][A-Za-z0-9._-]*)* *\\])?"
                "(?: *(?:===|==|!=|<=|>=|~=|<|>) *[A-Za-z0-9.*+!-]+"
                "(?: *, *(?:===|==|!=|<=|>=|~=|<|>) *[A-Za-z0-9.*+!-]+)*)?$",
    [PAT_GPU_IDS] = "^[A-Za-z0-9-]+(?:,[A-Za-z0-9-]+)*$",
};

static pcre2_code *patterns[PAT_COUNT];
static pcre2_match_data *match_data;

static pcre2_code *pattern(enum pattern_id id) {
  if (!patterns[id]) {
    int code;
    PCRE2_SIZE offset;
    patterns[id] = pcre2_compile((PCRE2_SPTR)pattern_source[id], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP, &code, &offset, NULL);
    if (!patterns[id]) abort(); /* a bug in the table above, caught by every test */
  }
  if (!match_data) match_data = pcre2_match_data_create(4, NULL);
  return patterns[id];
}

static bool matches(enum pattern_id id, const char *s) {
  pcre2_code *re = pattern(id);
  if (!match_data) return false;
  return pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, match_data, NULL) >= 0;
}

void kiln_sanitize_cleanup(void) {
  for (int i = 0; i < PAT_COUNT; i++) {
    pcre2_code_free(patterns[i]);
    patterns[i] = NULL;
  }
  pcre2_match_data_free(match_data);
  match_data = NULL;
}

/* ---- text ---- */

/* Length of a valid UTF-8 sequence at p, 0 when invalid. */
static size_t utf8_len(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (!n || p[0] == 0xC0 || p[0] == 0xC1 || p[0] > 0xF4) return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  return n;
}

int kiln_check_text(const char *value, size_t max, const char *what, kiln_error **err) {
  size_t len = strlen(value);
  if (len > max)
    return kiln_error_set(err, USAGE, "%s is %zu bytes long; at most %zu allowed", what, len, max);
  for (const unsigned char *p = (const unsigned char *)value; *p;) {
    if (*p < 0x20 || *p == 0x7f)
      return kiln_error_set(err, USAGE,
                            "%s contains a control character (0x%02x); newlines, tabs and other "
                            "control characters are not allowed",
                            what, *p);
    size_t n = utf8_len(p);
    if (!n) return kiln_error_set(err, USAGE, "%s is not valid UTF-8", what);
    p += n;
  }
  return 0;
}

/* Text rule plus a grammar; message says what was expected. */
static int check_grammar(enum pattern_id id, const char *value, size_t max, const char *what,
                         const char *expected, kiln_error **err) {
  if (kiln_check_text(value, max, what, err) < 0) return -1;
  if (!*value) return kiln_error_set(err, USAGE, "%s is empty; expected %s", what, expected);
  if (!matches(id, value))
    return kiln_error_set(err, USAGE, "%s \"%s\" is not valid; expected %s", what, value,
                          expected);
  return 0;
}

int kiln_check_image_ref(const char *ref, kiln_error **err) {
  return check_grammar(PAT_IMAGE_REF, ref, KILN_MAX_IMAGE_REF, "image reference",
                       "[registry[:port]/]name[:tag][@digest] with a lowercase name, e.g. "
                       "debian:bookworm-slim",
                       err);
}

int kiln_check_tag(const char *tag, kiln_error **err) {
  return check_grammar(PAT_TAG, tag, 128, "tag",
                       "up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'", err);
}

int kiln_check_name_policy(const char *name, const char *what, kiln_error **err) {
  if (strlen(name) > KILN_POLICY_MAX_NAME)
    return kiln_error_set(err, USAGE, "%s \"%s\" is longer than %d characters (name policy)", what,
                          name, KILN_POLICY_MAX_NAME);
  for (const char *p = name; *p; p++)
    if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '_'))
      return kiln_error_set(err, USAGE,
                            "%s \"%s\" may only hold a-z, 0-9, '-' and '_' (name policy)", what,
                            name);
  return 0;
}

int kiln_check_project_name(const char *name, bool policy, kiln_error **err) {
  if (check_grammar(PAT_PROJECT, name, KILN_MAX_PROJECT_NAME, "project name",
                    "lowercase letters and digits separated by '.', '_', '__' or '-', e.g. "
                    "my-project",
                    err) < 0)
    return -1;
  return policy ? kiln_check_name_policy(name, "project name", err) : 0;
}

int kiln_check_label_key(const char *key, kiln_error **err) {
  if (check_grammar(PAT_LABEL_KEY, key, KILN_MAX_LABEL_KEY, "label key",
                    "lowercase reverse-DNS style such as org.example.team", err) < 0)
    return -1;
  if (!strncmp(key, "kiln.", 5))
    return kiln_error_set(err, USAGE, "label key \"%s\" uses the reserved \"kiln.\" namespace",
                          key);
  return 0;
}

int kiln_check_env_name(const char *name, kiln_error **err) {
  return check_grammar(PAT_ENV_NAME, name, KILN_MAX_ENV_NAME, "environment variable name",
                       "letters, digits and '_', not starting with a digit", err);
}

int kiln_check_apt_package(const char *name, kiln_error **err) {
  return check_grammar(PAT_APT, name, KILN_MAX_PACKAGE_NAME, "apt package",
                       "a Debian package name such as python3-numpy, optionally :arch and "
                       "=version",
                       err);
}

int kiln_check_pip_package(const char *name, kiln_error **err) {
  return check_grammar(PAT_PIP, name, KILN_MAX_PACKAGE_NAME, "pip package",
                       "a PEP 508 name with optional [extras] and version specifiers, e.g. "
                       "torch>=2.1 (no URLs or options)",
                       err);
}

int kiln_check_run_command(const char *cmd, kiln_error **err) {
  if (kiln_check_text(cmd, KILN_MAX_SCALAR_BYTES, "run step", err) < 0) return -1;
  size_t len = strlen(cmd);
  if (!len) return kiln_error_set(err, USAGE, "run step is empty; expected a shell command");
  if (cmd[len - 1] == '\\')
    return kiln_error_set(err, USAGE, "run step ends with a backslash; expected a complete command");
  return 0;
}

int kiln_check_image_path(const char *path, const char *what, kiln_error **err) {
  if (kiln_check_text(path, KILN_MAX_PATH, what, err) < 0) return -1;
  if (path[0] != '/')
    return kiln_error_set(err, USAGE, "%s \"%s\" must be an absolute path inside the image", what,
                          path);
  if (strpbrk(path, "$'\"\\`"))
    return kiln_error_set(err, USAGE, "%s \"%s\" may not contain $, quotes or backslashes", what,
                          path);
  for (const char *p = path; (p = strstr(p, "..")); p += 2)
    if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
      return kiln_error_set(err, USAGE, "%s \"%s\" may not contain \"..\"", what, path);
  return 0;
}

/* ---- paths inside the project ---- */

/* Joins the components of rel without "." and empty parts; refuses "..". */
static char *normalize_relative(const char *rel, const char *what, kiln_error **err) {
  _cleanup_buf_ kiln_buf b = KILN_BUF_INIT(KILN_MAX_PATH);
  _cleanup_free_ char *copy = strdup(rel);
  if (!copy) return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory"), NULL;
  char *save = NULL;
  for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (!strcmp(part, ".")) continue;
    if (!strcmp(part, ".."))
      return kiln_error_set(err, USAGE, "%s \"%s\" may not contain \"..\"; it must stay inside "
                                        "the project folder", what, rel), NULL;
    if ((b.len && kiln_buf_puts(&b, "/") < 0) || kiln_buf_puts(&b, part) < 0)
      return kiln_error_set(err, USAGE, "%s is too long", what), NULL;
  }
  if (!b.len)
    return kiln_error_set(err, USAGE, "%s \"%s\" names the project folder itself; expected a "
                                      "file or folder inside it", what, rel), NULL;
  return kiln_buf_steal(&b, NULL);
}

static bool is_inside(const char *root, const char *path) {
  size_t n = strlen(root);
  if (n == 1 && root[0] == '/') return true;
  return !strncmp(root, path, n) && (path[n] == '/' || path[n] == '\0');
}

int kiln_check_project_path(const char *project_dir, const char *rel, const char *what,
                            char **normalized, bool *is_dir, kiln_error **err) {
  if (kiln_check_text(rel, KILN_MAX_PATH, what, err) < 0) return -1;
  if (rel[0] == '/')
    return kiln_error_set(err, USAGE, "%s \"%s\" is absolute; expected a path relative to the "
                                      "project folder", what, rel);
  _cleanup_free_ char *norm = normalize_relative(rel, what, err);
  if (!norm) return -1;
  _cleanup_free_ char *root = realpath(project_dir, NULL);
  if (!root) return kiln_error_errno(err, errno, "project folder %s", project_dir);
  _cleanup_free_ char *joined = NULL;
  if (asprintf(&joined, "%s/%s", root, norm) < 0)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "out of memory");
  _cleanup_free_ char *real = realpath(joined, NULL);
  if (!real)
    return kiln_error_set(err, USAGE, "%s \"%s\" does not exist in the project folder %s", what,
                          rel, root);
  if (!is_inside(root, real))
    return kiln_error_set(err, USAGE, "%s \"%s\" leads outside the project folder (to %s)", what,
                          rel, real);
  struct stat st;
  if (stat(real, &st) < 0) return kiln_error_errno(err, errno, "%s \"%s\"", what, rel);
  if (is_dir) *is_dir = S_ISDIR(st.st_mode);
  *normalized = steal_pointer(&norm);
  return 0;
}

/* ---- numbers ---- */

int kiln_parse_port(const char *s, uint16_t *out, kiln_error **err) {
  uint64_t v;
  if (parse_u64(s, &v) < 0 || v < 1 || v > 65535)
    return kiln_error_set(err, USAGE, "port \"%s\" is not valid; expected 1..65535", s);
  *out = (uint16_t)v;
  return 0;
}

int kiln_parse_mode(const char *s, unsigned *out, kiln_error **err) {
  size_t n = strlen(s);
  if (n == 0 || n > 5 || strspn(s, "01234567") != n)
    return kiln_error_set(err, USAGE, "mode \"%s\" is not valid; expected octal such as 0644", s);
  unsigned long v = strtoul(s, NULL, 8);
  if (v > 07777)
    return kiln_error_set(err, USAGE, "mode \"%s\" is out of range; expected at most 07777", s);
  *out = (unsigned)v;
  return 0;
}

static const struct {
  const char *suffix;
  uint64_t factor;
} size_units[] = {
    {"", 1},          {"b", 1},         {"k", 1ull << 10}, {"kb", 1ull << 10}, {"kib", 1ull << 10},
    {"m", 1ull << 20}, {"mb", 1ull << 20}, {"mib", 1ull << 20}, {"g", 1ull << 30},
    {"gb", 1ull << 30}, {"gib", 1ull << 30}, {"t", 1ull << 40}, {"tb", 1ull << 40},
    {"tib", 1ull << 40},
};

/* Parses "1.5" style decimals into mantissa (digits) and scale; no exponent,
 * no sign. Returns the end pointer or NULL. */
static const char *parse_decimal(const char *s, double *out) {
  const char *p = s;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    while (isdigit((unsigned char)*p)) p++;
  }
  if (p == s || p - s > 20) return NULL;
  char num[32];
  memcpy(num, s, (size_t)(p - s));
  num[p - s] = '\0';
  *out = strtod(num, NULL);
  return p;
}

int kiln_parse_size(const char *s, uint64_t *out, kiln_error **err) {
  double v;
  const char *end = parse_decimal(s, &v);
  if (end) {
    for (size_t i = 0; i < sizeof size_units / sizeof *size_units; i++) {
      if (strcasecmp(end, size_units[i].suffix)) continue;
      double bytes = v * (double)size_units[i].factor;
      if (bytes < 1 || bytes >= 18446744073709551615.0) break;
      *out = (uint64_t)bytes;
      return 0;
    }
  }
  return kiln_error_set(err, USAGE,
                        "size \"%s\" is not valid; expected a positive number with an optional "
                        "unit k, m, g or t, e.g. 512m or 1.5g",
                        s);
}

int kiln_parse_cpus(const char *s, uint64_t *nano_out, kiln_error **err) {
  double v;
  const char *end = parse_decimal(s, &v);
  if (!end || *end || v <= 0 || v > 1024)
    return kiln_error_set(err, USAGE, "cpus \"%s\" is not valid; expected a number such as 0.5 "
                                      "or 4, greater than 0 and at most 1024", s);
  *nano_out = (uint64_t)llround(v * 1e9);
  if (!*nano_out)
    return kiln_error_set(err, USAGE, "cpus \"%s\" is too small; expected at least 0.000000001", s);
  return 0;
}

int kiln_check_gpus(const char *s, kiln_error **err) {
  uint64_t n;
  if (!strcmp(s, "all")) return 0;
  if (parse_u64(s, &n) == 0) {
    if (n >= 1 && n <= 1024) return 0;
  } else if (strlen(s) <= 1024 && matches(PAT_GPU_IDS, s)) {
    return 0;
  }
  return kiln_error_set(err, USAGE,
                        "gpus \"%s\" is not valid; expected \"all\", a count such as 2, or device "
                        "ids such as 0,1",
                        s);
}

/* ---- shell quoting ---- */

char *kiln_shell_quote(const char *s) {
  kiln_buf b = KILN_BUF_INIT(SIZE_MAX / 2);
  int r = kiln_buf_puts(&b, "'");
  for (const char *p = s; *p && r == 0; p++)
    r = *p == '\'' ? kiln_buf_puts(&b, "'\\''") : kiln_buf_append(&b, p, 1);
  if (r == 0) r = kiln_buf_puts(&b, "'");
  if (r < 0) {
    kiln_buf_free(&b);
    return NULL;
  }
  return kiln_buf_steal(&b, NULL);
}

/* ---- did you mean ---- */

/* Optimal string alignment distance, bounded to short words. */
static size_t edit_distance(const char *a, const char *b) {
  enum { MAXW = 64 };
  size_t n = strlen(a), m = strlen(b);
  if (n >= MAXW || m >= MAXW) return SIZE_MAX;
  size_t d[MAXW + 1][MAXW + 1];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
      size_t best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[n][m];
}

const char *kiln_did_you_mean(const char *word, const char *const *candidates) {
  size_t limit = strlen(word) / 3;
  if (limit < 1) limit = 1;
  const char *best = NULL;
  size_t best_d = SIZE_MAX;
  for (const char *const *c = candidates; *c; c++) {
    size_t d = edit_distance(word, *c);
    if (d <= limit && d < best_d) best = *c, best_d = d;
  }
  return best;
}
