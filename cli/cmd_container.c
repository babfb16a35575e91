/* kiln container list|start|stop|shell|logs|retire (deploy: cmd_deploy.c) */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
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

static int cmd_list(kiln_cli *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},     {"all-users", no_argument, NULL, 'a'},
      {"running", no_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0}};
  bool all = false, running = false;
  int c;
  while ((c = getopt_long(argc, argv, "ajh", opts, NULL)) != -1) {
    if (c == 'a')
      all = true;
    else if (c == 'r')
      running = true;
    else if (c == 'j')
      cli->json = true;
    else if (c == 'h')
      return puts("usage: kiln container list [--all] [--running] [--json]\n\nYour containers "
                  "(running or not): name, project, image, status, STALE when the project's "
                  "image was rebuilt since the deploy, and PORTS (published addresses).\n"
                  "--running: only running ones. --all (admins): everyone's.\n"
                  "--json: one JSON array, an object per container (docs/json.md).\n"
                  "Through DS01's container-list: running ones, --all (-a) includes stopped "
                  "ones, --all-users is everyone's."),
             KILN_EXIT_OK;
    else
      return cli_usage(cli, "container list", "unknown option");
  }
  if (optind < argc)
    return cli_usage(cli, "container list", "unexpected argument '%s'", argv[optind]);
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
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

typedef int (*name_action)(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                           kiln_error **err);

/* The options each NAME command takes besides --all-users (a value-taking
 * one also as --opt=VALUE); anything else starting with '-' is refused
 * before anything is done. Commands not listed parse their own extras. */
typedef struct {
  const char *name, *alias;
  bool value;
} name_opt;

static const struct {
  const char *cmd;
  const name_opt *opts;
} name_opts[] = {
    {"container start", (const name_opt[]){{NULL, NULL, false}}},
    {"container stop", (const name_opt[]){{"--time", "-t", true}, {NULL, NULL, false}}},
    {"container retire",
     (const name_opt[]){{"--save", NULL, false}, {"--force", "-f", false}, {NULL, NULL, false}}},
    {"container shell", (const name_opt[]){{NULL, NULL, false}}},
};

static const name_opt *opts_of(const char *cmd) {
  for (size_t i = 0; i < sizeof name_opts / sizeof name_opts[0]; i++)
    if (!strcmp(name_opts[i].cmd, cmd)) return name_opts[i].opts;
  return NULL;
}

/* argv[i] among opts: 1 (and *i past a separate value), 0 when unknown. */
static int known_opt(const name_opt *opts, int argc, char **argv, int *i) {
  for (const name_opt *o = opts; o->name; o++) {
    size_t n = strlen(o->name);
    if (o->value && !strncmp(argv[*i], o->name, n) && argv[*i][n] == '=') return 1;
    if (!strcmp(argv[*i], o->name) || (o->alias && !strcmp(argv[*i], o->alias))) {
      if (o->value && *i + 1 < argc) (*i)++;
      return 1;
    }
    if (!strcmp(o->name, "--save") && !strncmp(argv[*i], "--save=", 7)) return 1;
  }
  return 0;
}

/* NAME [--all-users] [options] [extra...]: opens a session and runs act. */
static int with_name(kiln_cli *cli, const char *cmd, const char *help, int argc, char **argv,
                     bool extra_ok, name_action act) {
  if (cli_wants_help(argc, argv)) return printf("%s", help), KILN_EXIT_OK;
  const name_opt *opts = opts_of(cmd);
  bool all = false;
  const char *name = NULL;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "--all-users"))
      all = true;
    else if (!strcmp(argv[i], "--json"))
      cli->json = true;
    else if (opts && argv[i][0] == '-') {
      if (!known_opt(opts, argc, argv, &i))
        return cli_usage(cli, cmd, "unknown option '%s'", argv[i]);
    } else if (!name && argv[i][0] != '-')
      name = argv[i];
    else if (!extra_ok)
      return cli_usage(cli, cmd, "unexpected argument '%s'", argv[i]);
  }
  if (!name) return cli_usage(cli, cmd, "name the container");
  session s;
  kiln_error *err = NULL;
  int rc = session_open(cli, &s, all, &err);
  if (rc == 0) rc = act(cli, &s, name, argc, argv, &err);
  if (rc < 0) rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static int do_start(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                    kiln_error **err) {
  (void)argc, (void)argv;
  if (kiln_container_start(s->engine, name, &s->owner, err) < 0) return -1;
  if (cli->json) cli_json_line(json_pack("{s:s, s:b}", "name", name, "started", 1));
  cli_info(cli, "started %s\n", name);
  return 0;
}

/* The value of option opt (or its alias): "--opt V", "-a V" or "--opt=V";
 * NULL when absent. Borrowed from argv. */
static const char *opt_value(int argc, char **argv, const char *opt, const char *alias) {
  size_t n = strlen(opt);
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strncmp(argv[i], opt, n) && argv[i][n] == '=') return argv[i] + n + 1;
    if ((!strcmp(argv[i], opt) || (alias && !strcmp(argv[i], alias))) && i + 1 < argc)
      return argv[i + 1];
  }
  return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag, const char *alias) {
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], flag) || (alias && !strcmp(argv[i], alias))) return true;
  return false;
}

static int do_stop(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                   kiln_error **err) {
  const char *t = opt_value(argc, argv, "--time", "-t");
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
static int do_retire(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                     kiln_error **err) {
  bool save = false;
  const char *save_as = NULL;
  bool seen_name = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--save"))
      save = true;
    else if (!strncmp(argv[i], "--save=", 7))
      save = true, save_as = argv[i] + 7;
    else if (argv[i][0] != '-' && seen_name)
      save_as = argv[i];
    else if (argv[i][0] != '-')
      seen_name = true;
  }
  if (save_as && !save)
    return kiln_error_set(err, KILN_EXIT_USAGE, "container retire: unexpected argument '%s'",
                          save_as);
  if (save && cli_check_name(save_as ? save_as : name, "image name", err) < 0) return -1;
  if (!save && !has_flag(argc, argv, "--force", "-f") && confirm_loss(s, name, err) < 0) return -1;
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

static int do_shell(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                    kiln_error **err) {
  (void)cli;
  int dash = 0;
  for (int i = 1; i < argc && !dash; i++)
    if (!strcmp(argv[i], "--")) dash = i;
  const char *const *cmd = dash ? (const char *const *)argv + dash + 1 : NULL;
  size_t n = dash ? (size_t)(argc - dash - 1) : 0;
  int code = 0;
  if (kiln_container_shell(s->engine, name, &s->owner, cmd, n, STDIN_FILENO, STDOUT_FILENO,
                           STDERR_FILENO, &code, err) < 0)
    return -1;
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

static int parse_logs(kiln_cli *cli, logs_args *a, int argc, char **argv) {
  static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                       {"tail", required_argument, NULL, 'n'},
                                       {"all-users", no_argument, NULL, 'a'},
                                       {NULL, 0, NULL, 0}};
  int c, r = 0;
  while (!r && (c = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
    if (c == 'f')
      a->o.follow = true;
    else if (c == 'n')
      r = parse_tail(cli, optarg, &a->o.tail);
    else if (c == 'a')
      a->all_users = true;
    else
      r = cli_usage(cli, "container logs", "unknown option");
  }
  if (r) return r;
  if (optind >= argc) return cli_usage(cli, "container logs", "name the container");
  if (argc - optind > 1)
    return cli_usage(cli, "container logs", "unexpected argument '%s'", argv[optind + 1]);
  a->name = argv[optind];
  return 0;
}

static int cmd_logs(kiln_cli *cli, int argc, char **argv) {
  if (cli_wants_help(argc, argv)) return fputs(logs_help, stdout), KILN_EXIT_OK;
  logs_args a = {.o = {.tail = -1, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO}};
  int r = parse_logs(cli, &a, argc, argv);
  if (r) return r;
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
  return with_name(cli, "container start",
                   "usage: kiln container start NAME [--all-users] [--json]\n", argc, argv, false,
                   do_start);
}

static int cmd_stop(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, "container stop",
                   "usage: kiln container stop NAME [--time SECONDS] [--all-users] [--json]\n\n"
                   "Stops NAME: its stop signal first (containers run under an init, and\n"
                   "kiln's default shell stops on SIGHUP, so this takes about a second), then a\n"
                   "kill after --time seconds (default 10).\n",
                   argc, argv, false, do_stop);
}

static int cmd_retire(kiln_cli *cli, int argc, char **argv) {
  return with_name(
      cli, "container retire",
      "usage: kiln container retire NAME [--save [IMAGE] | --force] [--all-users] [--json]\n\n"
      "Stops and removes NAME. --save first commits it to IMAGE (default\n"
      "<ns>-<uid>/NAME-saved:latest), keeping its labels. A running container\n"
      "whose own filesystem changed (not the workspace or volumes) would lose\n"
      "those changes: kiln asks on a terminal and refuses elsewhere unless --save\n"
      "or --force says what to do. Unknown options are refused (exit 2).\n",
      argc, argv, true, do_retire);
}

static int cmd_shell(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, "container shell",
                   "usage: kiln container shell NAME [--all-users] [-- COMMAND...]\n\n"
                   "A shell (or COMMAND) in the running container, as you. With a terminal it\n"
                   "is interactive; piped input works too: echo id | kiln container shell NAME.\n"
                   "The exit code is the command's.\n",
                   argc, argv, false, do_shell);
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
    if (!strcmp(argv[0], c->name)) {
      optind = 0;
      return c->fn(cli, argc, argv);
    }
  return cli_dispatch(cli, "container", container_commands, argc, argv);
}
