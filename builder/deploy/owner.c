/* Labels and ownership: label values, which user an image is set up for
 * (kiln's, DS01's or AIME's labels), and whose objects an owner speaks
 * for. */
#include "kiln/deploy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"

const char *kiln_label(json_t *labels, const char *key) {
  return json_string_value(json_object_get(labels, key));
}

bool kiln_label_id(json_t *labels, const char *key, uint32_t *out) {
  const char *v = kiln_label(labels, key);
  if (!v || !*v) return false;
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (*end || errno || n > KILN_MAX_ID || v[0] == '-') return false;
  *out = (uint32_t)n;
  return true;
}

static bool truthy(const char *v) {
  return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

static const struct {
  const char *setup, *uid, *gid;
} setup_label_sets[] = {
    {KILN_LABEL_USER_SETUP, KILN_LABEL_UID, KILN_LABEL_GID},
    {DS01_LABEL_USER_SETUP, DS01_LABEL_UID, DS01_LABEL_GID},
    {AIME_LABEL_USER_SETUP, AIME_LABEL_UID, AIME_LABEL_GID},
};

kiln_image_setup kiln_image_setup_of(json_t *labels, uint32_t uid, uint32_t gid, uint32_t *for_uid,
                                     uint32_t *for_gid) {
  bool other = false;
  for (size_t i = 0; i < sizeof setup_label_sets / sizeof setup_label_sets[0]; i++) {
    uint32_t u, g;
    if (!truthy(kiln_label(labels, setup_label_sets[i].setup))) continue;
    if (!kiln_label_id(labels, setup_label_sets[i].uid, &u) ||
        !kiln_label_id(labels, setup_label_sets[i].gid, &g))
      continue;
    if (u == uid && g == gid) return KILN_IMAGE_LABELED;
    if (!other) {
      other = true;
      *for_uid = u;
      *for_gid = g;
    }
  }
  return other ? KILN_IMAGE_OTHER_USER : KILN_IMAGE_LEGACY;
}

const kiln_caller *kiln_owner_caller(const kiln_owner *owner, kiln_caller *fallback) {
  const kiln_caller *c = owner->caller;
  if (c && c->id.uid == owner->uid) return c;
  memset(fallback, 0, sizeof *fallback);
  fallback->id.uid = owner->uid;
  fallback->id.gid = owner->gid;
  return fallback;
}

bool kiln_owner_owns(const kiln_owner *owner, json_t *labels) {
  kiln_caller fallback;
  return kiln_access_owns(kiln_owner_caller(owner, &fallback), labels, owner->all_users);
}

bool kiln_owner_all_users(const kiln_owner *owner) {
  kiln_caller fallback;
  return owner->all_users && kiln_access_all_users(kiln_owner_caller(owner, &fallback), NULL) == 0;
}
