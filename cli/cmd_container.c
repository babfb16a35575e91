/* kiln container list|start|stop|shell|logs|retire (deploy: cmd_deploy.c) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "options.h"
#include "sanitize/limits.h"
#include "session.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* ---- list ---- */

/* "127.0.0.1:49153->8888/tcp, ..." ("-" for none), cut to fit out. */
static void format_ports(json_t *ports, char *out, size_t cap) {
  size_t used = 0, i;
  json_t *p;
  snprintf(out, cap, "-");
  json_array_foreach(ports, i, p) {
    int n = snprintf(out + used, cap - used, "%s%s->%s", i ? ", " : "",
                     json_string_value(json_object_get(p, "address")),
                     json_string_value(json_object_get(p, "container")));
    if (n < 0 || (size_t)n >= cap - used) break;
    used += (size_t)n;
  }
}

static void print_containers(kiln_cli *cli, json_t *list, bool all) {
  if (cli->json) {
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) json_object_set_new(
        c, "owner_uid", cli_json_uid(json_string_value(json_object_get(c, "owner_uid"))));
    cli_json_line(json_incref(list));
    return;
  }
  printf(all ? "%-24s %-8s %-20s %-40s %-28s %-5s %s\n" : "%-24s%.0s %-20s %-40s %-28s %-5s %s\n",
         "NAME", "OWNER", "PROJECT", "IMAGE", "STATUS", "STALE", "PORTS");
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *owner = json_string_value(json_object_get(c, "owner_uid"));
    const char *project = json_string_value(json_object_get(c, "project"));
    char ports[512];
    format_ports(json_object_get(c, "ports"), ports, sizeof ports);
    printf(all ? "%-24s %-8s %-20s %-40s %-28s %-5s %s\n" : "%-24s%.0s %-20s %-40s %-28s %-5s %s\n",
           json_string_value(json_object_get(c, all ? "engine_name" : "name")), owner ? owner : "-",
           project ? project : "-", json_string_value(json_object_get(c, "image")),
           json_string_value(json_object_get(c, "status")),
           json_is_true(json_object_get(c, "stale")) ? "yes" : "no", ports);
  }
}

/* Drops every container whose state is not "running" (--running). */
static void keep_running(json_t *list) {
  for (size_t i = json_array_size(list); i-- > 0;) {
    const char *state = json_string_value(json_object_get(json_array_get(list, i), "state"));
    if (!state || strcmp(state, "running")) json_array_remove(list, i);
  }
}

typedef struct {
  bool all, all_users, running;
} list_args;

static const cli_opt list_opts[] = {
    CLI_FLAG("all", 'a', list_args, all),
    CLI_FLAG("all-users", 0, list_args, all_users),
    CLI_FLAG("running", 0, list_args, running),
    {0},
};

static int cmd_list(kiln_cli *cli, int argc, char **argv) {
  list_args a = {0};
  cli_parsed p;
  int rc =
      cli_parse(cli, &(cli_parser){.cmd = "container list", .opts = list_opts}, argc, argv, &a, &p);
  if (rc) return rc;
  bool all = a.all || a.all_users, running = a.running;
  if (p.help)
    return puts("usage: kiln container list [--all] [--running] [--json]\n\nYour containers "
                "(running or not): name, project, image, status, STALE when the project's "
                "image was rebuilt since the deploy, and PORTS (published addresses).\n"
                "--running: only running ones. --all (admins): everyone's.\n"
                "--json: one JSON array, an object per container (docs/json.md).\n"
                "Through DS01's container-list: running ones, --all (-a) includes stopped "
                "ones, --all-users is everyone's."),
           KILN_EXIT_OK;
  session s;
  kiln_error *err = NULL;
  if (session_open(cli, &s, all, &err) < 0) {
    rc = cli_fail(cli, err);
  } else {
    _cleanup_json_ json_t *list = kiln_container_list(s.engine, &s.owner, ns_of(cli, &s), &err);
    if (list && running) keep_running(list);
    if (list)
      print_containers(cli, list, all);
    else
      rc = cli_fail(cli, err);
  }
  session_clear(&s);
  return rc;
}

/* ---- start / stop / retire / shell ---- */

/* What the NAME commands take; each one's table says which of them. */
typedef struct {
  bool all_users, force;
  const char *time; /* stop --time */
  const char *save; /* retire --save: "" alone, IMAGE with --save=IMAGE */
  cli_parsed p;     /* NAME [IMAGE] [-- COMMAND...] */
} name_args;

typedef int (*name_action)(kiln_cli *cli, session *s, const name_args *a, kiln_error **err);

#define ALL_USERS CLI_FLAG("all-users", 0, name_args, all_users)
static const cli_opt start_opts[] = {ALL_USERS, {0}};
static const cli_opt stop_opts[] = {ALL_USERS, CLI_VALUE("time", 't', name_args, time), {0}};
static const cli_opt retire_opts[] = {ALL_USERS,
                                      CLI_FLAG("force", 'f', name_args, force),
                                      CLI_MAYBE("save", 0, name_args, save),
                                      {0}};
static const cli_opt shell_opts[] = {ALL_USERS, {0}};

/* NAME [options]: opens a session and runs act. */
static int with_name(kiln_cli *cli, const cli_parser *parser, const char *help, int argc,
                     char **argv, name_action act) {
  name_args a = {0};
  int rc = cli_parse(cli, parser, argc, argv, &a, &a.p);
  if (rc) return rc;
  if (a.p.help) return printf("%s", help), KILN_EXIT_OK;
  if (!a.p.n_args) return cli_usage(cli, parser->cmd, "name the container");
  session s;
  kiln_error *err = NULL;
  rc = session_open(cli, &s, a.all_users, &err);
  if (rc == 0) rc = act(cli, &s, &a, &err);
  if (rc < 0) rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static int do_start(kiln_cli *cli, session *s, const name_args *a, kiln_error **err) {
  const char *name = a->p.args[0];
  if (kiln_container_start(s->engine, name, &s->owner, err) < 0) return -1;
  if (cli->json) cli_json_line(json_pack("{s:s, s:b}", "name", name, "started", 1));
  cli_info(cli, "started %s\n", name);
  return 0;
}

static int do_stop(kiln_cli *cli, session *s, const name_args *a, kiln_error **err) {
  const char *name = a->p.args[0], *t = a->time;
  char *end = NULL;
  long secs = t ? strtol(t, &end, 10) : -1;
  if (t && (!*t || *end || secs < 0 || secs > KILN_MAX_STOP_TIMEOUT_S))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "container stop: --time expects seconds from 0 to %d, got '%s'",
                          KILN_MAX_STOP_TIMEOUT_S, t);
  if (kiln_container_stop(s->engine, name, &s->owner, (int)secs, err) < 0) return -1;
  if (cli->json) cli_json_line(json_pack("{s:s, s:b}", "name", name, "stopped", 1));
  cli_info(cli, "stopped %s\n", name);
  return 0;
}

/* A running container whose own filesystem changed loses those changes:
 * ask on a terminal, refuse elsewhere (--force or --save decide). */
static int confirm_loss(session *s, const char *name, kiln_error **err) {
  bool running = false;
  size_t changed = 0;
  if (kiln_container_changes(s->engine, name, &s->owner, &running, &changed, err) < 0) return -1;
  if (!running || !changed) return 0;
  if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
    fprintf(stderr,
            "%s is running and %zu path(s) in its filesystem changed since the deploy "
            "(not the workspace or volumes); retiring discards them. Retire? [y/N] ",
            name, changed);
    char answer[16] = "";
    if (fgets(answer, sizeof answer, stdin) && (answer[0] == 'y' || answer[0] == 'Y')) return 0;
    return kiln_error_set(err, KILN_EXIT_FAILURE, "container retire: %s kept", name);
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "container retire: %s is running and %zu path(s) in its filesystem "
                        "changed since the deploy; retiring discards them: pass --save to keep "
                        "them as an image, or --force to discard them",
                        name, changed);
}

/* --save, --save=IMAGE, or --save IMAGE (the positional after NAME). */
static int do_retire(kiln_cli *cli, session *s, const name_args *a, kiln_error **err) {
  const char *name = a->p.args[0];
  bool save = a->save != NULL;
  const char *save_as = a->save && *a->save ? a->save : NULL;
  if (a->p.n_args == 2 && (!save || save_as))
    return kiln_error_set(err, KILN_EXIT_USAGE, "container retire: unexpected argument '%s'",
                          a->p.args[1]);
  if (a->p.n_args == 2) save_as = a->p.args[1];
  if (save && cli_check_name(save_as ? save_as : name, "image name", err) < 0) return -1;
  if (!save && !a->force && confirm_loss(s, name, err) < 0) return -1;
  _cleanup_free_ char *saved = NULL;
  if (kiln_container_retire(s->engine, name, &s->owner, save, save_as, ns_of(cli, s), &saved, err) <
      0)
    return -1;
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:b, s:s?}", "name", name, "retired", 1, "saved_image", saved));
  else if (saved)
    printf("saved %s as %s\n", name, saved);
  cli_info(cli, "retired %s\n", name);
  return 0;
}

static int do_shell(kiln_cli *cli, session *s, const name_args *a, kiln_error **err) {
  (void)cli;
  kiln_shell_options so = KILN_SHELL_OPTIONS_INIT;
  so.argv = a->p.n_rest ? (const char *const *)a->p.rest : NULL;
  so.argc = (size_t)a->p.n_rest;
  int code = 0;
  if (kiln_container_shell(s->engine, a->p.args[0], &s->owner, &so, &code, err) < 0) return -1;
  return code;
}

/* ---- logs ---- */

static const char logs_help[] =
    "usage: kiln container logs NAME [-f|--follow] [--tail N] [--all-users]\n"
    "\n"
    "The output of your container NAME: its stdout to stdout, its stderr to stderr\n"
    "(containers deployed by kiln have a terminal, which merges both into stdout).\n"
    "  --tail N        only the last N lines (default: all)\n"
    "  -f, --follow    keep printing new output until the container stops; Ctrl-C\n"
    "                  ends it (exit 130)\n";

static void end_follow(int sig) {
  (void)sig;
  _exit(128 + SIGINT); /* nothing to undo: the engine keeps the container and its logs */
}

typedef struct {
  const char *name;
  const char *tail; /* --tail */
  bool all_users;
  kiln_logs_options o;
} logs_args;

static int parse_tail(kiln_cli *cli, const char *t, long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtol(t, &end, 10);
  if (!strcmp(t, "all"))
    *out = -1;
  else if (!*t || *end || errno || *out < 0)
    return cli_usage(cli, "container logs", "--tail expects a number of lines or 'all', got '%s'",
                     t);
  return 0;
}

static const cli_opt logs_opts[] = {
    CLI_FLAG("follow", 'f', logs_args, o.follow),
    CLI_VALUE("tail", 'n', logs_args, tail),
    CLI_FLAG("all-users", 0, logs_args, all_users),
    {0},
};

static int cmd_logs(kiln_cli *cli, int argc, char **argv) {
  logs_args a = {.o = {.tail = -1, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO}};
  cli_parsed p;
  int r = cli_parse(cli, &(cli_parser){.cmd = "container logs", .opts = logs_opts, .max_args = 1},
                    argc, argv, &a, &p);
  if (r) return r;
  if (p.help) return fputs(logs_help, stdout), KILN_EXIT_OK;
  if (!p.n_args) return cli_usage(cli, "container logs", "name the container");
  if (a.tail && (r = parse_tail(cli, a.tail, &a.o.tail))) return r;
  a.name = p.args[0];
  if (a.o.follow) signal(SIGINT, end_follow);
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
  fflush(stdout);
  if (session_open(cli, &s, a.all_users, &err) < 0 ||
      kiln_container_logs(s.engine, a.name, &s.owner, &a.o, &err) < 0)
    rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static int cmd_start(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, &(cli_parser){.cmd = "container start", .opts = start_opts, .max_args = 1},
                   "usage: kiln container start NAME [--all-users] [--json]\n", argc, argv,
                   do_start);
}

static int cmd_stop(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, &(cli_parser){.cmd = "container stop", .opts = stop_opts, .max_args = 1},
                   "usage: kiln container stop NAME [--time SECONDS] [--all-users] [--json]\n\n"
                   "Stops NAME: its stop signal first (containers run under an init, and\n"
                   "kiln's default shell stops on SIGHUP, so this takes about a second), then a\n"
                   "kill after --time seconds (default 10).\n",
                   argc, argv, do_stop);
}

static int cmd_retire(kiln_cli *cli, int argc, char **argv) {
  return with_name(
      cli, &(cli_parser){.cmd = "container retire", .opts = retire_opts, .max_args = 2},
      "usage: kiln container retire NAME [--save [IMAGE] | --force] [--all-users] [--json]\n\n"
      "Stops and removes NAME. --save first commits it to IMAGE (default\n"
      "<ns>-<uid>/NAME-saved:latest), keeping its labels. A running container\n"
      "whose own filesystem changed (not the workspace or volumes) would lose\n"
      "those changes: kiln asks on a terminal and refuses elsewhere unless --save\n"
      "or --force says what to do. Unknown options are refused (exit 2).\n",
      argc, argv, do_retire);
}

static int cmd_shell(kiln_cli *cli, int argc, char **argv) {
  return with_name(
      cli, &(cli_parser){.cmd = "container shell", .opts = shell_opts, .max_args = 1, .rest = true},
      "usage: kiln container shell NAME [--all-users] [-- COMMAND...]\n\n"
      "A shell (or COMMAND) in the running container, as you. With a terminal it\n"
      "is interactive; piped input works too: echo id | kiln container shell NAME.\n"
      "The exit code is the command's.\n",
      argc, argv, do_shell);
}

static const kiln_command container_commands[] = {
    {"deploy", cmd_deploy, "start a container from a project or any image"},
    {"list", cmd_list, "list your containers"},
    {"start", cmd_start, "start a stopped container"},
    {"stop", cmd_stop, "stop a container"},
    {"shell", cmd_shell, "a shell or a command inside a container, as you"},
    {"logs", cmd_logs, "print (or follow) a container's output"},
    {"inspect", cmd_container_inspect, "kiln's view of a container: owner, user, state, ports"},
    {"retire", cmd_retire, "stop and remove a container (optionally saving it)"},
    {"commit", cmd_container_commit, "save a container as an image (optionally export or push)"},
    {NULL, NULL, NULL},
};

int cmd_container(kiln_cli *cli, int argc, char **argv) {
  /* DS01 aliases arrive as {"deploy", ...}: the subcommand is argv[0]. */
  for (const kiln_command *c = container_commands; c->name; c++)
    if (!strcmp(argv[0], c->name)) return c->fn(cli, argc, argv);
  return cli_dispatch(cli, "container", container_commands, argc, argv);
}
