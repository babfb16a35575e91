/* kiln volume create|list|remove */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "options.h"
#include "session.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

typedef struct {
  bool all_users, force;
  cli_parsed p; /* the NAMEs */
} volume_args;

/* NAME... [--force] [--all-users] [--json]. */
static const cli_opt volume_opts[] = {
    CLI_FLAG("all-users", 0, volume_args, all_users),
    CLI_FLAG("force", 'f', volume_args, force),
    {0},
};

/* fn appends its result object to out (--json). */
typedef int (*volume_fn)(kiln_cli *cli, session *s, const volume_args *a, const char *name,
                         json_t *out, kiln_error **err);

/* Runs fn for every NAME; stops at the first failure. --json: one array of
 * the results, or the error object alone. */
static int for_each_name(kiln_cli *cli, const char *cmd, const char *help, int argc, char **argv,
                         volume_fn fn) {
  volume_args a = {0};
  cli_parser parser = {.cmd = cmd, .opts = volume_opts, .max_args = CLI_MAX_ARGS};
  int r = cli_parse(cli, &parser, argc, argv, &a, &a.p);
  if (r) return r;
  if (a.p.help) return fputs(help, stdout), KILN_EXIT_OK;
  if (!a.p.n_args) return cli_usage(cli, cmd, "name the volume");
  session s;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *out = json_array();
  int rc = session_open(cli, &s, a.all_users, &err);
  for (int i = 0; rc == 0 && i < a.p.n_args; i++)
    rc = fn(cli, &s, &a, a.p.args[i], out, &err);
  if (rc < 0)
    rc = cli_fail(cli, err);
  else if (cli->json)
    cli_json_line(json_incref(out));
  session_clear(&s);
  return rc;
}

static int create_one(kiln_cli *cli, session *s, const volume_args *a, const char *name,
                      json_t *out, kiln_error **err) {
  (void)a;
  bool existed = false;
  if (cli_check_name(name, "volume name", err) < 0) return -1;
  if (kiln_volume_create(s->engine, name, &s->owner, s->config, &existed, err) < 0) return -1;
  if (cli->json)
    json_array_append_new(out, json_pack("{s:s, s:b}", "name", name, "existed", existed));
  else if (!cli->quiet)
    printf("%s %s\n", existed ? "exists" : "created", name);
  return 0;
}

static int remove_one(kiln_cli *cli, session *s, const volume_args *a, const char *name,
                      json_t *out, kiln_error **err) {
  if (kiln_volume_remove(s->engine, name, &s->owner, a->force, err) < 0) return -1;
  if (cli->json)
    json_array_append_new(out, json_pack("{s:s, s:b}", "name", name, "removed", 1));
  else if (!cli->quiet)
    printf("removed %s\n", name);
  return 0;
}

static int cmd_create(kiln_cli *cli, int argc, char **argv) {
  return for_each_name(cli, "volume create",
                       "usage: kiln volume create NAME... [--json]\n\nCreates your named volumes "
                       "(NAME._.UID in the engine, labelled with your uid;\nanother user may "
                       "have a NAME of their own). An existing volume of yours is fine;\n"
                       "max_volumes in the kiln configuration limits how many you have.\n",
                       argc, argv, create_one);
}

static int cmd_remove(kiln_cli *cli, int argc, char **argv) {
  return for_each_name(
      cli, "volume remove",
      "usage: kiln volume remove NAME... [--force] [--json]\n\nRemoves your volumes. "
      "A missing volume is an error unless --force; a volume\nin use by a "
      "container is always refused.\n",
      argc, argv, remove_one);
}

/* The library's entries with the contract's types: owner_uid a number,
 * created in UTC. */
static json_t *volumes_json(json_t *list) {
  json_t *out = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    json_t *o = json_deep_copy(v);
    json_object_set_new(o, "owner_uid",
                        cli_json_uid(json_string_value(json_object_get(v, "owner_uid"))));
    json_object_set_new(o, "created",
                        cli_json_time_text(json_string_value(json_object_get(v, "created"))));
    json_array_append_new(out, o);
  }
  return out;
}

static void print_volumes(kiln_cli *cli, json_t *list) {
  if (cli->json) {
    cli_json_line(volumes_json(list));
    return;
  }
  printf("%-32s %-10s %s\n", "NAME", "OWNER", "USED BY");
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    json_t *users = json_object_get(v, "used_by");
    _cleanup_free_ char *used = json_array_size(users) ? json_dumps(users, JSON_COMPACT) : NULL;
    const char *owner = json_string_value(json_object_get(v, "owner_uid"));
    printf("%-32s %-10s %s\n", json_string_value(json_object_get(v, "name")), owner ? owner : "-",
           used ? used : "-");
  }
}

static int cmd_list(kiln_cli *cli, int argc, char **argv) {
  volume_args a = {0};
  static const cli_opt opts[] = {CLI_FLAG("all-users", 0, volume_args, all_users), {0}};
  cli_parser parser = {.cmd = "volume list", .opts = opts};
  int r = cli_parse(cli, &parser, argc, argv, &a, &a.p);
  if (r) return r;
  if (a.p.help)
    return puts("usage: kiln volume list [--all-users] [--json]\n\nYour volumes and the "
                "containers using them."),
           KILN_EXIT_OK;
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
  if (session_open(cli, &s, a.all_users, &err) < 0) {
    rc = cli_fail(cli, err);
  } else {
    _cleanup_json_ json_t *list = kiln_volume_list(s.engine, &s.owner, &err);
    if (list)
      print_volumes(cli, list);
    else
      rc = cli_fail(cli, err);
  }
  session_clear(&s);
  return rc;
}

static const kiln_command volume_commands[] = {
    {"create", cmd_create, "create named volumes"},
    {"list", cmd_list, "list your volumes"},
    {"ls", cmd_list, "same as list"},
    {"remove", cmd_remove, "remove volumes"},
    {"rm", cmd_remove, "same as remove"},
    {NULL, NULL, NULL},
};

int cmd_volume(kiln_cli *cli, int argc, char **argv) {
  return cli_dispatch(cli, "volume", volume_commands, argc, argv);
}
