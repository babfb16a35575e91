#ifndef KILN_JSON_CLEANUP_H
#define KILN_JSON_CLEANUP_H

#include <jansson.h>

static inline void cleanup_jsonp(json_t **j) {
  json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(cleanup_jsonp)))

#endif
