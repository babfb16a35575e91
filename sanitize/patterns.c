/* The pcre2 grammars behind the name checks, compiled once on first use and
 * kept until kiln_sanitize_cleanup (not thread-safe, like the rest of kiln). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <string.h>

#include <pcre2.h>

/* Docker's distribution/reference grammar. Its path separator is [-]* in
 * the spec text; -+ accepts the same language without the nested-quantifier
 * backtracking that [-]* would cause. */
#define REF_COMPONENT        "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
#define REF_DOMAIN_COMPONENT "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
#define REF_DOMAIN           REF_DOMAIN_COMPONENT "(?:\\." REF_DOMAIN_COMPONENT ")*(?::[0-9]+)?"
#define REF_TAG              "\\w[\\w.-]{0,127}"
#define REF_DIGEST           "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

#define PIP_NAME   "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
#define PIP_EXTRAS "\\[ *" PIP_NAME "(?: *, *" PIP_NAME ")* *\\]"
#define PIP_CLAUSE "(?:===|==|!=|<=|>=|~=|<|>) *[A-Za-z0-9.*+!-]+"
#define PIP_SPEC   PIP_CLAUSE "(?: *, *" PIP_CLAUSE ")*"

/* Every pattern is anchored at both ends; PCRE2_DOLLAR_ENDONLY stops '$'
 * from also matching before a final newline. No PCRE2_UTF/UCP: the grammars
 * are ASCII, so \w is [A-Za-z0-9_] and any byte >= 0x80 fails. */
static const char *const pattern_source[KILN_PAT_COUNT] = {
    [KILN_PAT_IMAGE_REF] = "^(?:" REF_DOMAIN "/)?" REF_COMPONENT "(?:/" REF_COMPONENT ")*"
                           "(?::" REF_TAG ")?(?:@" REF_DIGEST ")?$",
    [KILN_PAT_TAG] = "^" REF_TAG "$",
    [KILN_PAT_PROJECT] = "^" REF_COMPONENT "$",
    [KILN_PAT_LABEL_KEY] = "^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$",
    [KILN_PAT_ENV_NAME] = "^[A-Za-z_][A-Za-z0-9_]*$",
    [KILN_PAT_APT] = "^[a-z0-9][a-z0-9+.-]+(?::[a-z0-9-]+)?(?:=[A-Za-z0-9.+~:-]+)?$",
    [KILN_PAT_PIP] = "^" PIP_NAME "(?: *" PIP_EXTRAS ")?(?: *" PIP_SPEC ")?$",
    [KILN_PAT_GPU_IDS] = "^[A-Za-z0-9-]+(?:,[A-Za-z0-9-]+)*$",
    [KILN_PAT_VOLUME_NAME] = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", /* docker's */
    /* http(s)://host[:port][/path]: RFC 3986 characters without quotes,
     * backslash, '<', '>', '`', space or '$'; no "user:password@" (it would
     * stay in the image's history). */
    [KILN_PAT_INDEX_URL] = "^https?://(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?"
                           "(?:/[A-Za-z0-9._~&+,=:%/?#-]*)?$",
};

/* Inputs are capped far below this; the limit only guards against a
 * pattern mistake turning into runaway backtracking. */
enum { MATCH_LIMIT = 1000000 };

static pcre2_code *compiled[KILN_PAT_COUNT];
static pcre2_match_data *match_data;
static pcre2_match_context *match_context;

static int compile(enum kiln_pattern id, kiln_error **err) {
  int code;
  PCRE2_SIZE offset;
  compiled[id] = pcre2_compile((PCRE2_SPTR)pattern_source[id], PCRE2_ZERO_TERMINATED,
                               PCRE2_DOLLAR_ENDONLY, &code, &offset, NULL);
  if (!compiled[id]) {
    PCRE2_UCHAR why[128];
    pcre2_get_error_message(code, why, sizeof why);
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "internal error: pattern %d does not compile at offset %zu: %s", (int)id,
                          (size_t)offset, (const char *)why);
  }
  return 0;
}

static int prepare(enum kiln_pattern id, kiln_error **err) {
  if (!compiled[id] && compile(id, err) < 0) return -1;
  if (!match_data) match_data = pcre2_match_data_create(1, NULL);
  if (!match_context) {
    match_context = pcre2_match_context_create(NULL);
    if (match_context) pcre2_set_match_limit(match_context, MATCH_LIMIT);
  }
  if (!match_data || !match_context) return kiln_error_oom(err);
  return 0;
}

int kiln_pattern_match(enum kiln_pattern id, const char *s, kiln_error **err) {
  if (prepare(id, err) < 0) return -1;
  int rc = pcre2_match(compiled[id], (PCRE2_SPTR)s, strlen(s), 0, 0, match_data, match_context);
  if (rc >= 0) return 1;
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  return kiln_error_set(err, KILN_EXIT_FAILURE, "internal error: pattern %d failed (pcre2 %d)",
                        (int)id, rc);
}

void kiln_sanitize_cleanup(void) {
  for (int i = 0; i < KILN_PAT_COUNT; i++) {
    pcre2_code_free(compiled[i]);
    compiled[i] = NULL;
  }
  pcre2_match_data_free(match_data);
  match_data = NULL;
  pcre2_match_context_free(match_context);
  match_context = NULL;
}
