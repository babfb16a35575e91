/* --json output: the one printer and the shared value makers (json_out.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_out.h"

void cli_json_line(json_t *value) {
  char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (text) {
    puts(text);
    fflush(stdout);
  }
  free(text);
  json_decref(value);
}

json_t *cli_json_error(const kiln_error *err, int code) {
  json_t *all = json_array();
  for (const kiln_error *e = err; e && all; e = e->next)
    json_array_append_new(all, json_string(e->message));
  return json_pack("{s:s, s:i, s:o}", "error", err && err->message ? err->message : "failed",
                   "code", code, "errors", all);
}

json_t *cli_json_time(int64_t unix_seconds) {
  time_t t = (time_t)unix_seconds;
  struct tm tm;
  char text[32];
  if (!gmtime_r(&t, &tm) || !strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm))
    return json_null();
  return json_string(text);
}

/* "Z", "+hh:mm" or "-hh:mm" after the seconds (and any fraction). */
static int parse_offset(const char *p, long *seconds) {
  while (*p == '.' || (*p >= '0' && *p <= '9'))
    p++;
  if (*p == 'Z' && !p[1]) return *seconds = 0, 0;
  int hh, mm, n = 0;
  if ((*p != '+' && *p != '-') || sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || p[1 + n])
    return -1;
  *seconds = (*p == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
  return 0;
}

json_t *cli_json_time_text(const char *text) {
  struct tm tm;
  int n = 0;
  long offset;
  memset(&tm, 0, sizeof tm);
  if (!text ||
      sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec, &n) != 6 ||
      parse_offset(text + n, &offset) < 0)
    return json_null();
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return cli_json_time((int64_t)timegm(&tm) - offset);
}

json_t *cli_json_uid(const char *label) {
  char *end = NULL;
  if (!label || !*label || *label == '-') return json_null();
  unsigned long long v = strtoull(label, &end, 10);
  return *end || v > UINT32_MAX ? json_null() : json_integer((json_int_t)v);
}

json_t *cli_json_stale(const char *word) {
  if (word && !strcmp(word, "yes")) return json_true();
  if (word && !strcmp(word, "no")) return json_false();
  return json_null();
}
