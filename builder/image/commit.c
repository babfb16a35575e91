/* kiln container commit: a running (or stopped) container of the caller
 * becomes an image, its config and labels carried over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

int kiln_container_commit(kiln_engine *engine, const kiln_commit_options *opts, char **image_id,
                          kiln_error **err) {
  const char *name = opts->name, *ref = opts->ref;
  if (!opts->caller || !opts->owner)
    return kiln_error_set(err, KILN_EXIT_FAILURE, "commit: no caller");
  if (kiln_check_image_ref(ref, err) < 0) return -1;
  if (kiln_access_tag(opts->caller, opts->ns, ref, err) < 0) return -1;
  _cleanup_free_ char *id = kiln_container_find(engine, name, opts->owner, err);
  if (!id) return -1;
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  _cleanup_free_ char *repo = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
  _cleanup_free_ char *repo_q = repo ? kiln_engine_escape(repo) : NULL;
  _cleanup_free_ char *tag_q = kiln_engine_escape(colon ? colon + 1 : "latest");
  _cleanup_free_ char *id_q = kiln_engine_escape(id), *query = NULL;
  if (!repo_q || !tag_q || !id_q ||
      asprintf(&query, "container=%s&repo=%s&tag=%s&comment=kiln%%20container%%20commit", id_q,
               repo_q, tag_q) < 0)
    return kiln_error_oom(err);
  /* An empty config: Cmd, Env, User and Labels all come from the container
   * (a body is sent for the JSON Content-Type the engine insists on). */
  _cleanup_json_ json_t *body = json_object();
  _cleanup_json_ json_t *r = kiln_engine_json(engine, "POST", "/commit", query, body, NULL, err);
  if (!r) return kiln_error_prefix(err, "committing %s to %s", name, ref);
  const char *new_id = json_string_value(json_object_get(r, "Id"));
  if (image_id && !(*image_id = strdup(new_id ? new_id : ""))) return kiln_error_oom(err);
  return 0;
}
