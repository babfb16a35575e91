/* "did you mean": the closest candidate by edit distance. */
#include "sanitize/sanitize.h"

#include <ctype.h>
#include <string.h>

/* Words longer than this get no suggestion (keys and commands are short). */
enum { MAX_WORD = 64 };

static bool same_letter(char a, char b) {
  return tolower((unsigned char)a) == tolower((unsigned char)b);
}

static size_t min_size(size_t a, size_t b) {
  return a < b ? a : b;
}

/* Optimal string alignment distance (Damerau-Levenshtein where a
 * transposition counts 1), case-insensitive. Keeps three rows. */
static size_t edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > MAX_WORD || m > MAX_WORD) return SIZE_MAX;
  size_t rows[3][MAX_WORD + 1];
  size_t *before = rows[0], *prev = rows[1], *cur = rows[2];
  for (size_t j = 0; j <= m; j++)
    prev[j] = j;
  for (size_t i = 1; i <= n; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= m; j++) {
      size_t cost = !same_letter(a[i - 1], b[j - 1]);
      size_t best = min_size(min_size(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
      if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) && same_letter(a[i - 2], b[j - 1]))
        best = min_size(best, before[j - 2] + 1);
      cur[j] = best;
    }
    size_t *oldest = before;
    before = prev;
    prev = cur;
    cur = oldest;
  }
  return prev[m];
}

const char *kiln_did_you_mean(const char *word, const char *const *candidates) {
  size_t limit = strlen(word) / 3;
  if (limit < 1) limit = 1;
  const char *best = NULL;
  size_t best_distance = SIZE_MAX;
  for (const char *const *c = candidates; *c; c++) {
    size_t d = edit_distance(word, *c);
    if (d <= limit && d < best_distance) {
      best = *c;
      best_distance = d;
    }
  }
  return best;
}
