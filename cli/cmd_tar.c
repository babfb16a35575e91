/* kiln tar list|delete|sync: the tarballs in the shared folder. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_distribute.h"
#include "json_out.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "session.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* ---- tar list / delete / sync ---- */

static const cli_opt tar_opts[] = {CLI_VALUE("dir", 'd', opt_result, dir), {0}};

static const char tar_help[] =
    "usage: kiln tar list [NAME] [--dir DIR] [--json]\n"
    "       kiln tar delete NAME|FILE [--dir DIR] [--json]\n"
    "       kiln tar sync [NAME] [--dir DIR] [--json]\n"
    "\n"
    "The image tarballs in DIR (default the site's shared_dir, " KILN_DEFAULT_SHARED_DIR "\n"
    "unless configured; admins: $KILN_SHARED_DIR), read with your rights. list shows\n"
    "name, time, size and whether this engine has the image; delete removes your\n"
    "tarballs of an image (or one FILE of yours); sync loads each image whose newest\n"
    "tarball of yours holds another image id than the local one, as image import\n"
    "does (in your namespace). Other users' tarballs are never deleted or synced.\n"
    "NAME is a project or image. --json: list prints one array, delete one object,\n"
    "sync one object per line ending with {\"state\":\"done\",...} (docs/json.md).\n";

/* The library's entries with the contract's names and types: file the
 * path, manifest the sidecar's path or null, created in UTC. */
static json_t *tar_list_json(json_t *items) {
  json_t *out = json_array();
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    const char *path = json_string_value(json_object_get(it, "path"));
    _cleanup_free_ char *side = NULL;
    if (json_is_true(json_object_get(it, "manifest")) && asprintf(&side, "%s.json", path) < 0)
      side = NULL;
    json_array_append_new(
        out,
        json_pack("{s:s?, s:O, s:O, s:o, s:O, s:O, s:s?, s:O, s:O, s:O}", "file", path, "image",
                  json_object_get(it, "image"), "image_id", json_object_get(it, "image_id"),
                  "created", cli_json_time(json_integer_value(json_object_get(it, "time"))), "size",
                  json_object_get(it, "size"), "sha256", json_object_get(it, "sha256"), "manifest",
                  side, "owner_uid", json_object_get(it, "owner_uid"), "file_uid",
                  json_object_get(it, "file_uid"), "local", json_object_get(it, "local")));
  }
  return out;
}

static void print_tar_list(kiln_cli *cli, json_t *items) {
  size_t i;
  json_t *it;
  if (cli->json) {
    cli_json_line(tar_list_json(items));
    return;
  }
  printf("%-48s %-20s %10s  %s\n", "IMAGE", "TIME", "SIZE", "LOCAL");
  json_array_foreach(items, i, it) {
    const char *img = json_string_value(json_object_get(it, "image"));
    time_t t = (time_t)json_integer_value(json_object_get(it, "time"));
    char when[32], size[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
    dist_human_bytes(size, sizeof size, (double)json_integer_value(json_object_get(it, "size")));
    json_t *local = json_object_get(it, "local");
    printf("%-48s %-20s %10s  %s\n", img ? img : json_string_value(json_object_get(it, "file")),
           when, size,
           json_is_true(local)    ? "yes"
           : json_is_false(local) ? "no"
                                  : "?");
  }
}

static const char *const sync_words[] = {[KILN_SYNC_CURRENT] = "current",
                                         [KILN_SYNC_LOADING] = "loading",
                                         [KILN_SYNC_LOADED] = "loaded",
                                         [KILN_SYNC_SKIPPED] = "skipped",
                                         [KILN_SYNC_FAILED] = "failed"};

static void on_sync(void *user, kiln_sync_state state, const char *image, const char *file,
                    const char *message) {
  kiln_cli *cli = user;
  if (cli->json) {
    cli_json_line(json_pack("{s:s, s:s?, s:s?, s:s?}", "state", sync_words[state], "image", image,
                            "file", file, "message", message));
    return;
  }
  if (state == KILN_SYNC_FAILED) {
    fprintf(stderr, "kiln: %s: %s\n", image ? image : file, message ? message : "failed");
    return;
  }
  if (!cli->quiet && state != KILN_SYNC_LOADING)
    printf("%s %s%s%s\n", sync_words[state], image ? image : file, message ? ": " : "",
           message ? message : "");
}

typedef enum { TAR_LIST, TAR_DELETE, TAR_SYNC } tar_action;

static int tar_run(kiln_cli *cli, tar_action action, const opt_result *o, kiln_error **err) {
  const char *dir = o->dir ? o->dir : kiln_dist_shared_dir(cli->config);
  session s;
  int rc = dist_open_session(cli, &s, err);
  _cleanup_free_ char *name = NULL;
  const char *arg = o->p.n_args ? o->p.args[0] : NULL;
  bool is_file = arg && strstr(arg, ".tar");
  if (rc == 0 && arg && !is_file && !(name = dist_image_arg(cli, arg, err))) rc = -1;
  if (rc == 0 && action == TAR_LIST) {
    _cleanup_json_ json_t *items = kiln_tar_list(s.engine, dir, name, err);
    if (items) print_tar_list(cli, items);
    rc = items ? 0 : -1;
  } else if (rc == 0 && action == TAR_DELETE) {
    unsigned removed = 0;
    rc = kiln_tar_delete(s.caller, dir, name ? name : arg, &removed, err);
    if (rc == 0 && cli->json)
      cli_json_line(
          json_pack("{s:s, s:i}", "target", name ? name : arg, "tarballs_removed", (int)removed));
    else if (rc == 0 && !cli->quiet)
      printf("removed %u tarball(s)\n", removed);
  } else if (rc == 0) {
    unsigned loaded = 0, failed = 0;
    cli_catch_interrupts();
    kiln_sync_options so = {.caller = s.caller,
                            .ns = ns_of(cli, &s),
                            .dir = dir,
                            .image = name,
                            .on_state = on_sync,
                            .on_progress = dist_on_progress,
                            .user = cli,
                            .interrupted = &cli_interrupted};
    rc = kiln_tar_sync(s.engine, &so, &loaded, &failed, err);
    if (rc == 0 && cli->json)
      cli_json_line(json_pack("{s:s, s:i, s:i}", "state", "done", "loaded", (int)loaded, "failed",
                              (int)failed));
    else if (!cli->quiet && !cli->json)
      printf("%u image(s) loaded\n", loaded);
  }
  session_clear(&s);
  return rc;
}

int cmd_tar(kiln_cli *cli, int argc, char **argv) {
  static const char *const actions[] = {
      [TAR_LIST] = "list", [TAR_DELETE] = "delete", [TAR_SYNC] = "sync"};
  if (argc < 2 && cli->json) return cli_usage(cli, "tar", "name an action (list, delete, sync)");
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
    return fputs(tar_help, stdout), argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
  int action = -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(argv[1], actions[i])) action = i;
  if (action < 0) return cli_usage(cli, "tar", "unknown action '%s' (list, delete, sync)", argv[1]);
  opt_result o;
  int rc = dist_parse_opts(cli, "tar", tar_opts, 1, argc - 1, argv + 1, &o);
  if (rc) return rc;
  if (o.p.help) return fputs(tar_help, stdout), KILN_EXIT_OK;
  if (action == TAR_DELETE && !o.p.n_args)
    return cli_usage(cli, "tar delete", "name the image or file");
  kiln_error *err = NULL;
  return tar_run(cli, (tar_action)action, &o, &err) < 0 ? cli_fail(cli, err) : KILN_EXIT_OK;
}
