/* Checked curl_easy_setopt for builder/ (engine and registry clients).
 *
 * Every option kiln sets matters: a libcurl that refuses one (built without
 * unix sockets, out of memory, a value past its length cap) must stop the
 * request, not send it some other way (to TCP port 80, without a timeout or
 * without credentials). Internal to builder/. */
#ifndef KILN_BUILDER_CURLOPT_H
#define KILN_BUILDER_CURLOPT_H

#include <curl/curl.h>

#include "kiln/error.h"

/* Sets *err for a refused option and returns -1. */
static inline int kiln_curl_option_refused(const char *option, CURLcode code, kiln_error **err) {
  if (code == CURLE_UNKNOWN_OPTION || code == CURLE_NOT_BUILT_IN)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "this libcurl cannot do %s (%s)", option,
                          curl_easy_strerror(code));
  return kiln_error_set(err, KILN_EXIT_FAILURE, "libcurl refused %s: %s", option,
                        curl_easy_strerror(code));
}

/* curl_easy_setopt, returning -1 from the calling function when refused. */
#define KILN_SETOPT(curl, option, value, err)                                                      \
  do {                                                                                             \
    CURLcode code_ = curl_easy_setopt(curl, option, value);                                        \
    if (code_ != CURLE_OK) return kiln_curl_option_refused(#option, code_, err);                   \
  } while (0)

#endif
