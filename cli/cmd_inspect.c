/* kiln image inspect, kiln container inspect: kiln's view of one image or
 * container (owner, project, the user inside, labels, stale, published
 * addresses, state). Who may look is the access module's decision
 * (kiln_access_image for images; the NAME rule of every container command
 * for containers). With --json: one JSON object. */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "json_out.h"
#include "kiln/deploy.h"
#include "kiln/labels.h"
#include "sanitize/sanitize.h"
#include "session.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static const char image_help[] =
    "usage: kiln image inspect PROJECT|IMAGE [--json]\n"
    "\n"
    "kiln's view of one image (PROJECT means <ns>-<uid>/PROJECT:latest): owner\n"
    "(uid and user), project, the user inside (name, uid, gid), labels, and\n"
    "whether it is stale (the spec, the files it copies or the base image\n"
    "changed since the build: the check of 'kiln image list'). Your images and\n"
    "images without an owner (bases, team images); admins: any.\n"
    "\n"
    "  --json  one JSON object (docs/json.md)\n";

static const char container_help[] =
    "usage: kiln container inspect NAME [--all-users] [--json]\n"
    "\n"
    "kiln's view of your container NAME: owner, project, image, the user inside,\n"
    "state, published addresses, workspace, labels, and whether the project's\n"
    "image was rebuilt since the deploy (stale, as in 'kiln container list').\n"
    "\n"
    "  --all-users  (admins) anyone's container, by NAME or engine name\n"
    "  --json       one JSON object (docs/json.md)\n";

/* The login name of uid from the user database; the caller's own name for
 * the caller (sudo mode: SUDO_USER); null when unknown. */
static json_t *user_name(const kiln_cli *cli, uint32_t uid) {
  if (uid == cli->caller->id.uid) return json_string(cli->caller->id.name);
  struct passwd *pw = getpwuid((uid_t)uid);
  return pw ? json_string(pw->pw_name) : json_null();
}

/* labels[key] as a number, or null. */
static json_t *label_number(json_t *labels, const char *key) {
  const char *text = json_string_value(json_object_get(labels, key));
  uint32_t id;
  if (!text || kiln_parse_id(text, true, key, &id, NULL) < 0) return json_null();
  return json_integer(id);
}

/* The owner and the user inside, flat, with the names the other commands
 * use (docs/json.md): "owner_uid" (integer or null: no owner label),
 * "owner_user" (its login name, or null), "user"/"uid"/"gid" from kiln's
 * (or DS01's, AIME's) user-setup labels (as 'kiln validate' names them; null
 * when the image is not set up for a user), "user_setup" ("kiln", "ds01",
 * "aime" or null) and "run_as" (what the engine runs as: Config.User, "root"
 * when unset). */
static int add_identity(const kiln_cli *cli, json_t *view, json_t *labels, const char *run_as) {
  json_t *owner_uid =
      cli_json_uid(json_string_value(json_object_get(labels, KILN_LABEL_OWNER_UID)));
  json_t *owner_user = json_is_integer(owner_uid)
                           ? user_name(cli, (uint32_t)json_integer_value(owner_uid))
                           : json_null();
  static const char *const setups[][4] = {
      {"kiln", KILN_LABEL_USER, KILN_LABEL_UID, KILN_LABEL_GID},
      {"ds01", NULL, DS01_LABEL_UID, DS01_LABEL_GID},
      {"aime", NULL, AIME_LABEL_UID, AIME_LABEL_GID},
  };
  const char *const *setup = NULL;
  for (size_t i = 0; !setup && i < sizeof setups / sizeof setups[0]; i++)
    if (json_object_get(labels, setups[i][2])) setup = setups[i];
  const char *name =
      setup && setup[1] ? json_string_value(json_object_get(labels, setup[1])) : NULL;
  int rc = json_object_set_new(view, "owner_uid", owner_uid) |
           json_object_set_new(view, "owner_user", owner_user) |
           json_object_set_new(view, "user", name ? json_string(name) : json_null()) |
           json_object_set_new(view, "uid", setup ? label_number(labels, setup[2]) : json_null()) |
           json_object_set_new(view, "gid", setup ? label_number(labels, setup[3]) : json_null()) |
           json_object_set_new(view, "user_setup", setup ? json_string(setup[0]) : json_null()) |
           json_object_set_new(view, "run_as", json_string(run_as && *run_as ? run_as : "root"));
  return rc ? -1 : 0;
}

/* ---- human output ---- */

static void print_field(const char *key, json_t *v) {
  if (json_is_string(v))
    printf("%-12s %s\n", key, json_string_value(v));
  else if (json_is_integer(v))
    printf("%-12s %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
  else if (json_is_boolean(v))
    printf("%-12s %s\n", key, json_is_true(v) ? "yes" : "no");
  else if (json_is_null(v) || !v)
    printf("%-12s -\n", key);
}

static void print_identity(json_t *view) {
  json_t *uid = json_object_get(view, "owner_uid"), *user = json_object_get(view, "owner_user");
  if (json_is_integer(uid))
    printf("%-12s uid %" JSON_INTEGER_FORMAT " (%s)\n", "owner", json_integer_value(uid),
           json_is_string(user) ? json_string_value(user) : "no such user here");
  else
    printf("%-12s - (no owner label: readable by everyone)\n", "owner");
  json_t *setup = json_object_get(view, "user_setup");
  json_t *name = json_object_get(view, "user");
  if (!json_is_string(setup))
    printf("%-12s %s (not set up for a user by kiln, DS01 or AIME)\n", "user",
           json_string_value(json_object_get(view, "run_as")));
  else
    printf("%-12s %s uid %" JSON_INTEGER_FORMAT " gid %" JSON_INTEGER_FORMAT " (%s)\n", "user",
           json_is_string(name) ? json_string_value(name) : "-",
           json_integer_value(json_object_get(view, "uid")),
           json_integer_value(json_object_get(view, "gid")), json_string_value(setup));
}

static void print_labels(json_t *labels) {
  printf("labels:\n");
  const char *key;
  json_t *value;
  json_object_foreach(labels, key, value) {
    printf("  %s=%s\n", key, json_is_string(value) ? json_string_value(value) : "");
  }
}

static void print_ports(json_t *ports) {
  size_t i;
  json_t *p;
  if (!json_array_size(ports)) printf("%-12s -\n", "ports");
  json_array_foreach(ports, i, p) {
    const char *container = json_string_value(json_object_get(p, "container"));
    printf("%-12s %s%s -> %s\n", i ? "" : "ports",
           container && strstr(container, "/tcp") ? "http://" : "",
           json_string_value(json_object_get(p, "address")), container ? container : "?");
  }
}

static void print_view(json_t *view, const char *const *keys) {
  for (const char *const *k = keys; *k; k++) {
    if (!strcmp(*k, "size")) {
      char size[32];
      cli_human_size(json_integer_value(json_object_get(view, "size")), size, sizeof size);
      printf("%-12s %s\n", "size", size);
    } else if (!strcmp(*k, "identity"))
      print_identity(view);
    else if (!strcmp(*k, "ports"))
      print_ports(json_object_get(view, "ports"));
    else if (!strcmp(*k, "labels"))
      print_labels(json_object_get(view, "labels"));
    else if (!strcmp(*k, "workspace")) {
      json_t *w = json_object_get(view, "workspace");
      if (json_is_object(w))
        printf("%-12s %s -> %s\n", "workspace", json_string_value(json_object_get(w, "source")),
               json_string_value(json_object_get(w, "target")));
      else
        printf("%-12s -\n", "workspace");
    } else
      print_field(*k, json_object_get(view, *k));
  }
}

static int print_result(kiln_cli *cli, json_t *view, const char *const *keys) {
  if (cli->json) {
    cli_json_line(json_incref(view));
    return KILN_EXIT_OK;
  }
  print_view(view, keys);
  return KILN_EXIT_OK;
}

/* ---- image ---- */

/* GET /images/REF/json; a missing image says so by name. */
static json_t *engine_image(kiln_engine *engine, const char *ref, kiln_error **err) {
  json_t *img = kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, err);
  if (!img && !*err)
    kiln_error_set(err, KILN_EXIT_FAILURE, "there is no image %s (see 'kiln image list')", ref);
  return img;
}

static json_t *image_view(kiln_cli *cli, kiln_engine *engine, const char *ref, json_t *img) {
  json_t *config = json_object_get(img, "Config");
  json_t *labels = json_object_get(config, "Labels");
  json_t *tags = json_object_get(img, "RepoTags"), *created = json_object_get(img, "Created");
  if (!json_is_object(labels)) labels = NULL;
  json_t *view = json_pack("{s:s, s:O, s:o, s:s?, s:o, s:I, s:o, s:o}", "image", ref, "image_id",
                           json_object_get(img, "Id"), "tags",
                           json_is_array(tags) ? json_incref(tags) : json_array(), "project",
                           json_string_value(json_object_get(labels, KILN_LABEL_PROJECT)),
                           "created", cli_json_time_text(json_string_value(created)), "size",
                           json_integer_value(json_object_get(img, "Size")), "labels",
                           labels ? json_incref(labels) : json_object(), "stale",
                           cli_json_stale(cli_image_stale(cli, engine, labels)));
  if (view &&
      add_identity(cli, view, labels, json_string_value(json_object_get(config, "User"))) < 0)
    json_decref(steal_pointer(&view));
  return view;
}

/* Options of both inspects. Returns -1 to go on (*at: the NAME's index),
 * else the exit code (help, usage). */
static int parse_inspect(kiln_cli *cli, const char *cmd, const char *help, int argc, char **argv,
                         bool *all_users, const char **name) {
  struct inspect_args {
    bool all_users;
  } a = {0};
  static const cli_opt container_opts[] = {CLI_FLAG("all-users", 0, struct inspect_args, all_users),
                                           {0}};
  cli_parsed p;
  int rc = cli_parse(
      cli, &(cli_parser){.cmd = cmd, .opts = all_users ? container_opts : NULL, .max_args = 1},
      argc, argv, &a, &p);
  if (rc) return rc;
  if (p.help) return fputs(help, stdout), KILN_EXIT_OK;
  if (p.n_args != 1)
    return cli_usage(cli, cmd, "%s",
                     all_users ? "name one container" : "name one PROJECT or IMAGE");
  if (all_users) *all_users = a.all_users;
  *name = p.args[0];
  return -1;
}

int cmd_image_inspect(kiln_cli *cli, int argc, char **argv) {
  const char *name = NULL;
  int rc = parse_inspect(cli, "image inspect", image_help, argc, argv, NULL, &name);
  if (rc >= 0) return rc;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = cli_image_ref(cli, name);
  if (!ref) return cli_fail(cli, (kiln_error_oom(&err), err));
  kiln_engine *engine = cli_engine_open(cli, &err);
  _cleanup_json_ json_t *img = engine ? engine_image(engine, ref, &err) : NULL;
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  _cleanup_json_ json_t *view = NULL;
  if (img && kiln_access_image(cli->caller, cli->ns, ref, labels, &err) == 0 &&
      !(view = image_view(cli, engine, ref, img)))
    kiln_error_oom(&err);
  kiln_engine_free(engine);
  if (!view) return cli_fail(cli, err);
  static const char *const keys[] = {"image", "image_id", "project", "identity", "created",
                                     "size",  "stale",    "labels",  NULL};
  return print_result(cli, view, keys);
}

/* ---- container ---- */

int cmd_container_inspect(kiln_cli *cli, int argc, char **argv) {
  bool all = false;
  const char *name = NULL;
  int rc = parse_inspect(cli, "container inspect", container_help, argc, argv, &all, &name);
  if (rc >= 0) return rc;
  session s;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *view = NULL;
  if (session_open(cli, &s, all, &err) == 0 &&
      (view = kiln_container_inspect(s.engine, name, &s.owner, ns_of(cli, &s), &err))) {
    json_t *labels = json_object_get(view, "labels");
    _cleanup_json_ json_t *run_as = json_incref(json_object_get(view, "run_as"));
    json_t *created = cli_json_time_text(json_string_value(json_object_get(view, "created")));
    if (json_object_set_new(view, "created", created) < 0 ||
        add_identity(cli, view, labels, json_string_value(run_as)) < 0) {
      json_decref(steal_pointer(&view));
      kiln_error_oom(&err);
    }
  }
  session_clear(&s);
  if (!view) return cli_fail(cli, err);
  static const char *const keys[] = {"name",     "engine_name", "id",     "project", "image",
                                     "identity", "state",       "status", "ports",   "workspace",
                                     "stale",    "labels",      NULL};
  return print_result(cli, view, keys);
}
