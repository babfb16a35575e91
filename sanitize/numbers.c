/* Numbers from the spec and the command line: ids, ports, modes, sizes,
 * CPUs and GPUs. All parsing is exact integer arithmetic (no strtod), with
 * no sign, no spaces and no overflow. */
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <string.h>
#include <strings.h>

enum {
  MAX_DECIMALS = 9, /* "1.123456789": nano precision, fits the CPU unit */
  MAX_CPUS = 1024,
  MAX_GPU_COUNT = 1024,
  MAX_MODE_DIGITS = 6, /* "007777" */
  MAX_GPUS_TEXT = 1024,
};

static const uint64_t pow10_table[MAX_DECIMALS + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
};

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool all_digits(const char *s) {
  return *s && strspn(s, "0123456789") == strlen(s);
}

int kiln_parse_u64(const char *s, uint64_t *out) {
  if (!all_digits(s)) return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* ---- ids ---- */

int kiln_check_id(uint64_t id, bool allow_root, const char *what, kiln_error **err) {
  if (id == 0 && !allow_root)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "%s 0 is root; expected 1..%u (set user.allow_root: true to build as "
                          "root)",
                          what, KILN_MAX_ID);
  if (id > KILN_MAX_ID)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s %llu is out of range; expected %u..%u", what,
                          (unsigned long long)id, allow_root ? 0u : 1u, KILN_MAX_ID);
  return 0;
}

int kiln_parse_id(const char *s, bool allow_root, const char *what, uint32_t *out,
                  kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  uint64_t v;
  if (kiln_parse_u64(s, &v) < 0)
    return kiln_error_set(err, KILN_EXIT_USAGE, "%s \"%s\" is %s; expected a decimal in %u..%u",
                          what, kiln_show(s, shown),
                          all_digits(s) ? "out of range" : "not a number", allow_root ? 0u : 1u,
                          KILN_MAX_ID);
  if (kiln_check_id(v, allow_root, what, err) < 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

/* ---- ports and modes ---- */

int kiln_parse_port(const char *s, uint16_t *out, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  uint64_t v;
  if (kiln_parse_u64(s, &v) < 0 || v < 1 || v > 65535)
    return kiln_error_set(err, KILN_EXIT_USAGE, "port \"%s\" is not valid; expected 1..65535",
                          kiln_show(s, shown));
  *out = (uint16_t)v;
  return 0;
}

int kiln_parse_mode(const char *s, unsigned *out, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  size_t n = strlen(s);
  if (n == 0 || strspn(s, "01234567") != n)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "mode \"%s\" is not octal; expected digits 0-7 such as 0644 or 755",
                          kiln_show(s, shown));
  unsigned v = 0;
  for (const char *p = s; *p && n <= MAX_MODE_DIGITS; p++)
    v = v * 8 + (unsigned)(*p - '0');
  if (n > MAX_MODE_DIGITS || v > 07777)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "mode \"%s\" is out of range; expected at most 07777", s);
  *out = v;
  return 0;
}

/* ---- decimals: sizes and CPUs ---- */

/* "12" or "12.5": whole part, fraction digits as an integer and their count. */
typedef struct {
  uint64_t whole;
  uint64_t fraction;
  unsigned decimals;
  bool overflow; /* the whole part does not fit 64 bits */
} decimal;

/* Parses a leading decimal; returns the rest of s, or NULL when there is no
 * number or too many decimals. */
static const char *parse_decimal(const char *s, decimal *d) {
  *d = (decimal){0, 0, 0, false};
  if (!is_digit(*s)) return NULL;
  const char *p = s;
  for (; is_digit(*p); p++) {
    unsigned digit = (unsigned)(*p - '0');
    if (d->overflow || d->whole > (UINT64_MAX - digit) / 10)
      d->overflow = true;
    else
      d->whole = d->whole * 10 + digit;
  }
  if (*p != '.') return p;
  if (!is_digit(*++p)) return NULL;
  for (; is_digit(*p); p++) {
    if (d->decimals == MAX_DECIMALS) return NULL;
    d->fraction = d->fraction * 10 + (unsigned)(*p - '0');
    d->decimals++;
  }
  return p;
}

/* d * factor rounded down to an integer; -1 on overflow. The fraction part
 * is split so no intermediate product overflows: fraction < 10^9 and
 * factor % 10^k < 10^9. */
static int scale_decimal(const decimal *d, uint64_t factor, uint64_t *out) {
  if (d->overflow) return -1;
  if (d->whole && factor > UINT64_MAX / d->whole) return -1;
  uint64_t v = d->whole * factor;
  uint64_t p10 = pow10_table[d->decimals];
  uint64_t extra = d->fraction * (factor / p10) + d->fraction * (factor % p10) / p10;
  if (v > UINT64_MAX - extra) return -1;
  *out = v + extra;
  return 0;
}

/* Binary units, as Docker's RAMInBytes reads them: "kb" and "kib" are both
 * 1024 bytes. Compared case-insensitively. */
static const struct {
  const char *suffix;
  uint64_t factor;
} size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ull << 10},
    {"kb", 1ull << 10},
    {"kib", 1ull << 10},
    {"m", 1ull << 20},
    {"mb", 1ull << 20},
    {"mib", 1ull << 20},
    {"g", 1ull << 30},
    {"gb", 1ull << 30},
    {"gib", 1ull << 30},
    {"t", 1ull << 40},
    {"tb", 1ull << 40},
    {"tib", 1ull << 40},
};

static const uint64_t *size_factor(const char *suffix) {
  for (size_t i = 0; i < sizeof size_units / sizeof *size_units; i++)
    if (!strcasecmp(suffix, size_units[i].suffix)) return &size_units[i].factor;
  return NULL;
}

int kiln_parse_size(const char *s, uint64_t *out, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  decimal d;
  const char *rest = parse_decimal(s, &d);
  const uint64_t *factor = rest ? size_factor(rest) : NULL;
  if (!factor)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "size \"%s\" is not valid; expected a number (up to %d decimals) with "
                          "an optional unit b, k, m, g or t, e.g. 512m or 1.5g",
                          kiln_show(s, shown), MAX_DECIMALS);
  uint64_t bytes;
  if (scale_decimal(&d, *factor, &bytes) < 0)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "size \"%s\" is too large; expected less than 16 EiB",
                          kiln_show(s, shown));
  if (bytes == 0)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "size \"%s\" is zero; expected at least 1 byte (leave the setting out "
                          "for no limit)",
                          kiln_show(s, shown));
  *out = bytes;
  return 0;
}

int kiln_parse_cpus(const char *s, uint64_t *nano_out, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  decimal d;
  const char *rest = parse_decimal(s, &d);
  uint64_t nano = 0;
  if (!rest || *rest || d.whole > MAX_CPUS || scale_decimal(&d, 1000000000u, &nano) < 0 ||
      nano == 0 || nano > (uint64_t)MAX_CPUS * 1000000000u)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "cpus \"%s\" is not valid; expected a number such as 0.5 or 4, greater "
                          "than 0 and at most %d, with up to %d decimals",
                          kiln_show(s, shown), MAX_CPUS, MAX_DECIMALS);
  *nano_out = nano;
  return 0;
}

/* ---- GPUs ---- */

int kiln_check_gpus(const char *s, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  uint64_t count;
  if (!strcmp(s, "all")) return 0;
  if (kiln_parse_u64(s, &count) == 0 && count >= 1 && count <= MAX_GPU_COUNT) return 0;
  if (!all_digits(s) && strlen(s) <= MAX_GPUS_TEXT) {
    int m = kiln_pattern_match(KILN_PAT_GPU_IDS, s, err);
    if (m < 0) return -1;
    if (m) return 0;
  }
  return kiln_error_set(err, KILN_EXIT_USAGE,
                        "gpus \"%s\" is not valid; expected \"all\", a count from 1 to %d, or "
                        "device ids such as 0,1 or GPU-<uuid>",
                        kiln_show(s, shown), MAX_GPU_COUNT);
}
