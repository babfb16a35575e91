/* kiln: the entry point. Global options, the top-level command table and
 * DS01's hyphenated names (also honoured when kiln runs through a symlink
 * named after one). */
#include <stdbool.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "complete.h"
#include "options.h"
#include "kiln/config.h"
#include "sanitize/sanitize.h"

static int cmd_version(kiln_cli *cli, int argc, char **argv);
static int cmd_help(kiln_cli *cli, int argc, char **argv);
static int cmd_completion(kiln_cli *cli, int argc, char **argv);
static int cmd_complete(kiln_cli *cli, int argc, char **argv);

static const kiln_command commands[] = {
    {"init", cmd_init, "write a commented kiln.yaml for a new project (asks on a terminal)"},
    {"generate", cmd_generate, "print the Dockerfile kiln would build from kiln.yaml"},
    {"validate", cmd_validate, "check kiln.yaml and report every problem"},
    {"image", cmd_image, "create, update, list and retire your project images"},
    {"context", cmd_context, "show what a build would send to the engine"},
    {"container", cmd_container, "deploy, list, start, stop, shell into and retire containers"},
    {"volume", cmd_volume, "create, list and remove your volumes"},
    {"tar", cmd_tar, "list, delete and sync image tarballs in the shared folder"},
    {"catalog", cmd_catalog, "list the frameworks and package groups kiln.yaml can name"},
    {"gc", cmd_gc, "remove kiln's leftovers (temporary containers, stale adaptations)"},
    {"version", cmd_version, "print kiln's version"},
    {"completion", cmd_completion, "print the bash completion script (kiln completion bash)"},
    {CLI_COMPLETE_WORD, cmd_complete, "(hidden) the words that may follow, for completion"},
    {"help", cmd_help, "show this help"},
    {NULL, NULL, NULL},
};

/* DS01's command names map to a group and its subcommand. */
static const struct {
  const char *alias;
  kiln_cmd_fn group;
  const char *sub;
} aliases[] = {
    {"image-create", cmd_image, "create"},
    {"image-update", cmd_image, "update"},
    {"image-list", cmd_image, "list"},
    {"image-retire", cmd_image, "retire"},
    {"container-deploy", cmd_container, "deploy"},
    {"container-list", cmd_container, "list"},
    {"container-retire", cmd_container, "retire"},
    {NULL, NULL, NULL},
};

static const char usage_text[] =
    "usage: kiln [--json] [--quiet] [--no-color] [--host URL] [--namespace NS] COMMAND [ARGS]\n"
    "\n"
    "Project environments as Docker images whose user matches you.\n"
    "\n"
    "Options:\n"
    "  --json          machine-readable output: one JSON document (build and tar sync:\n"
    "                  one object per line); fields in docs/json.md\n"
    "  --quiet         only results and errors\n"
    "  --no-color      no colour (also NO_COLOR)\n"
    "  --host URL      engine address: unix:///path or tcp://host:port (default $DOCKER_HOST,\n"
    "                  else the docker context; TLS from $DOCKER_TLS_VERIFY, $DOCKER_CERT_PATH)\n"
    "  --namespace NS  image namespace, images are NS-UID/PROJECT (default kiln, $KILN_NAMESPACE)\n"
    "\n"
    "Commands:\n";

static const char exit_codes_text[] =
    "\nExit codes: 0 ok, 1 failure, 2 bad usage or bad spec, 3 engine unreachable or engine "
    "error.\n"
    "DS01 names work too: image-create, image-update, image-list, image-retire,\n"
    "container-deploy, container-list, container-retire, with DS01's flags\n"
    "(container-deploy --gpu N, --cpu-only, --background, --open, -w DIR; container-list --all:\n"
    "stopped ones too).\n"
    "Run 'kiln COMMAND --help' for a command's options.\n"
    "\n"
    "Shared servers: members of the docker group are root-equivalent; users outside it\n"
    "run 'sudo kiln ...' (README, \"Security model\").\n";

static int cmd_help(kiln_cli *cli, int argc, char **argv) {
  (void)cli;
  (void)argc;
  (void)argv;
  fputs(usage_text, stdout);
  for (const kiln_command *c = commands; c->name; c++)
    if (c->name[0] != '_') printf("  %-10s %s\n", c->name, c->summary);
  fputs(exit_codes_text, stdout);
  return KILN_EXIT_OK;
}

static int cmd_version(kiln_cli *cli, int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: kiln version\n\nPrints kiln's version.");
    return KILN_EXIT_OK;
  }
  if (argc > 1) return cli_usage(cli, "version", "unexpected argument '%s'", argv[1]);
  if (cli->json)
    cli_json_line(json_pack("{s:s}", "version", kiln_version()));
  else
    printf("kiln %s\n", kiln_version());
  return KILN_EXIT_OK;
}

/* DS01's flags, through DS01's names, in kiln's spelling (README, "DS01
 * compatibility", shows this table). `kiln` empty: dropped, kiln already
 * does that; `absent`: added when the flag is not given. Arguments after
 * "--" are never rewritten. */
static struct {                          /* not const: kiln's spellings become argv entries */
  const char *alias, *flag, *short_flag; /* DS01's spelling */
  char kiln[16];                         /* kiln's spelling, or "" (dropped) */
  bool value;                            /* takes a value: FLAG V or FLAG=V */
  char absent[16];                       /* kiln's flag when DS01's is absent, or "" */
} ds01_flags[] = {
    {"container-deploy", "--gpu", NULL, "--gpus", true, ""},
    {"container-deploy", "--num-gpus", NULL, "--gpus", true, ""},
    {"container-deploy", "--workspace", "-w", "--workspace", true, ""},
    {"container-deploy", "--background", NULL, "", false, ""},
    {"container-deploy", "--open", NULL, "--shell", false, ""},
    {"container-deploy", "--cpu-only", NULL, "--no-gpus", false, ""},
    {"container-list", "--all", "-a", "", false, "--running"},
};

#define N_DS01_FLAGS (sizeof ds01_flags / sizeof ds01_flags[0])

/* Which entry of ds01_flags arg is for alias (*inline_value: the V of
 * FLAG=V), or -1. */
static int ds01_flag_of(const char *alias, char *arg, char **inline_value) {
  *inline_value = NULL;
  for (size_t i = 0; i < N_DS01_FLAGS; i++) {
    if (strcmp(ds01_flags[i].alias, alias)) continue;
    size_t n = strlen(ds01_flags[i].flag);
    if (!strcmp(arg, ds01_flags[i].flag) ||
        (ds01_flags[i].short_flag && !strcmp(arg, ds01_flags[i].short_flag)))
      return (int)i;
    if (ds01_flags[i].value && !strncmp(arg, ds01_flags[i].flag, n) && arg[n] == '=') {
      *inline_value = arg + n + 1;
      return (int)i;
    }
  }
  return -1;
}

/* Rewrites argv[1..argc) of alias into out (room for 2 * argc + N_DS01_FLAGS
 * entries); returns the count. */
static int ds01_rewrite(const char *alias, int argc, char **argv, char **out) {
  bool seen[N_DS01_FLAGS] = {false};
  int n = 0, i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    char *inline_value;
    int f = ds01_flag_of(alias, argv[i], &inline_value);
    if (f < 0) {
      out[n++] = argv[i];
      continue;
    }
    seen[f] = true;
    if (ds01_flags[f].kiln[0]) out[n++] = ds01_flags[f].kiln;
    if (ds01_flags[f].value && inline_value)
      out[n++] = inline_value;
    else if (ds01_flags[f].value && i + 1 < argc)
      out[n++] = argv[++i];
  }
  for (size_t f = 0; f < N_DS01_FLAGS; f++)
    if (!seen[f] && ds01_flags[f].absent[0] && !strcmp(ds01_flags[f].alias, alias))
      out[n++] = ds01_flags[f].absent;
  for (; i < argc; i++)
    out[n++] = argv[i];
  return n;
}

/* Runs an alias: argv[0] is the alias, argv[1..] its arguments. The group
 * sees {alias, sub, arguments in kiln's spelling...}, as if called as
 * `kiln GROUP SUB ...`. */
static int run_alias(kiln_cli *cli, int idx, int argc, char **argv) {
  char **args = calloc(2 * (size_t)argc + N_DS01_FLAGS + 2, sizeof *args);
  static char sub[32];
  if (!args) return KILN_EXIT_FAILURE;
  snprintf(sub, sizeof sub, "%s", aliases[idx].sub);
  args[0] = argv[0];
  args[1] = sub;
  int n = ds01_rewrite(aliases[idx].alias, argc, argv, args + 2);
  cli->ds01 = true;
  int code = aliases[idx].group(cli, n + 2, args);
  free(args);
  return code;
}

static int find_alias(const char *name) {
  for (int i = 0; aliases[i].alias; i++)
    if (!strcmp(aliases[i].alias, name)) return i;
  return -1;
}

static int run_command(kiln_cli *cli, int argc, char **argv);

/* Completion reads the tables above through run_command (complete.h). */
static const cli_completion *completion(void) {
  static const char *alias_names[sizeof aliases / sizeof aliases[0]];
  static const char *const globals[] = {"--json",      "--quiet", "--no-color", "--host",
                                        "--namespace", "--help",  "--version",  NULL};
  static cli_completion c = {commands, alias_names, globals, run_command};
  for (size_t i = 0; aliases[i].alias; i++)
    alias_names[i] = aliases[i].alias;
  return &c;
}

static int cmd_completion(kiln_cli *cli, int argc, char **argv) {
  return cli_completion_script(cli, completion(), argc, argv);
}

static int cmd_complete(kiln_cli *cli, int argc, char **argv) {
  return cli_complete(cli, completion(), argc - 1, argv + 1);
}

static int run_command(kiln_cli *cli, int argc, char **argv) {
  int a = find_alias(argv[0]);
  if (a >= 0) return run_alias(cli, a, argc, argv);
  for (const kiln_command *c = commands; c->name; c++)
    if (!strcmp(c->name, argv[0])) return c->fn(cli, argc, argv);
  const char *alias_names[32];
  size_t n = 0;
  for (int i = 0; aliases[i].alias && n < 31; i++)
    alias_names[n++] = aliases[i].alias;
  alias_names[n] = NULL;
  return cli_unknown_command(cli, NULL, argv[0], commands, alias_names);
}

/* What only the caller's rights decide, before any command runs: a valid
 * namespace, --host only for admins, and a word about ignored overrides. */
static int check_globals(kiln_cli *cli, kiln_error **err) {
  if (cli->ns && kiln_check_project_name(cli->ns, false, err) < 0)
    return kiln_error_prefix(err, "namespace '%s' (--namespace or KILN_NAMESPACE)", cli->ns);
  if (cli->host && !cli->caller->admin)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "--host is for admins: kiln talks to the engine the site configured");
  const char *ignored = kiln_env_ignored();
  if (ignored && !cli->quiet)
    fprintf(stderr,
            "kiln: warning: %s is ignored: only admins may change kiln's settings through the "
            "environment\n",
            ignored);
  return 0;
}

/* Every command runs for one caller under one site configuration
 * (kiln/access.h); the site's namespace applies unless overridden. */
static int run_as_caller(kiln_cli *cli, int argc, char **argv) {
  static const char *const callerless[] = {"help", "version", "completion", CLI_COMPLETE_WORD};
  for (size_t i = 0; i < sizeof callerless / sizeof callerless[0]; i++)
    if (!strcmp(argv[0], callerless[i])) return run_command(cli, argc, argv);
  kiln_config config;
  kiln_caller caller;
  kiln_error *err = NULL;
  if (kiln_access_begin(&config, &caller, &err) < 0) return cli_fail(cli, err);
  cli->config = &config;
  cli->caller = &caller;
  int code = check_globals(cli, &err) < 0 ? cli_fail(cli, err) : -1;
  if (!cli->ns) cli->ns = config.ns;
  if (code < 0) code = run_command(cli, argc, argv);
  kiln_caller_clear(&caller);
  kiln_config_clear(&config);
  return code;
}

typedef struct {
  bool no_color, version;
  const char *host, *ns;
} global_args;

static const cli_opt global_opts[] = {
    CLI_FLAG("no-color", 0, global_args, no_color),
    CLI_VALUE("host", 0, global_args, host),
    CLI_VALUE("namespace", 0, global_args, ns),
    CLI_FLAG("version", 'V', global_args, version),
    {0},
};

int main(int argc, char **argv) {
  kiln_cli cli = {0};
  cli.tty = isatty(STDOUT_FILENO);
  cli.color = cli.tty && !getenv("NO_COLOR");
  cli.ns = getenv("KILN_NAMESPACE");

  /* Invoked through a symlink named like a DS01 command. */
  int a = find_alias(basename(argv[0]));
  if (a >= 0) {
    static char name[32];
    snprintf(name, sizeof name, "%s", aliases[a].alias);
    argv[0] = name;
    return run_as_caller(&cli, argc, argv);
  }

  /* Global options stop at the command name: commands parse their own. */
  global_args g = {0};
  cli_parsed p;
  int rc =
      cli_parse(&cli, &(cli_parser){.opts = global_opts, .stop_at_arg = true}, argc, argv, &g, &p);
  if (rc) return rc;
  if (p.help) return cmd_help(&cli, 0, NULL);
  if (g.version) return cmd_version(&cli, 1, argv);
  if (g.no_color) cli.color = false;
  if (g.host) cli.host = g.host;
  if (g.ns) cli.ns = g.ns;
  if (!p.n_rest && cli.json) return cli_usage(&cli, NULL, "name a command");
  if (!p.n_rest) {
    cmd_help(&cli, 0, NULL);
    return KILN_EXIT_USAGE;
  }
  return run_as_caller(&cli, p.n_rest, p.rest);
}
