/* The one option parser (options.h). */
#include "options.h"

#include <string.h>

#include "sanitize/sanitize.h"

#define MAX_SUGGEST 64

/* The common options every command takes. */
static bool common_option(kiln_cli *cli, const char *a, cli_parsed *p) {
  if (!strcmp(a, "--help") || !strcmp(a, "-h"))
    p->help = true;
  else if (!strcmp(a, "--json"))
    cli->json = true;
  else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
    cli->quiet = true;
  else
    return false;
  return true;
}

static const cli_opt *find_long(const cli_opt *opts, const char *name, size_t len) {
  for (const cli_opt *o = opts; o && o->name; o++)
    if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
  return NULL;
}

static const cli_opt *find_short(const cli_opt *opts, char c) {
  for (const cli_opt *o = opts; o && o->name; o++)
    if (o->short_name && o->short_name == c) return o;
  return NULL;
}

static int unknown_option(kiln_cli *cli, const cli_parser *parser, const char *word) {
  const char *names[MAX_SUGGEST + 4] = {"help", "json", "quiet"};
  size_t n = 3;
  for (const cli_opt *o = parser->opts; o && o->name && n < MAX_SUGGEST; o++)
    names[n++] = o->name;
  names[n] = NULL;
  const char *near = !strncmp(word, "--", 2) ? kiln_did_you_mean(word + 2, names) : NULL;
  if (near)
    return cli_usage(cli, parser->cmd, "unknown option '%s'; did you mean '--%s'?", word, near);
  return cli_usage(cli, parser->cmd, "unknown option '%s'", word);
}

/* Stores value (NULL for a flag) for o into out. */
static int store(kiln_cli *cli, const cli_parser *parser, const cli_opt *o, const char *value,
                 void *out) {
  char *field = (char *)out + o->offset;
  if (o->kind == CLI_OPT_FLAG) {
    *(bool *)(void *)field = true;
  } else if (o->kind == CLI_OPT_VALUE || o->kind == CLI_OPT_MAYBE) {
    *(const char **)(void *)field = value ? value : "";
  } else {
    cli_list *l = (cli_list *)(void *)field;
    if (l->n >= CLI_MAX_LIST)
      return cli_usage(cli, parser->cmd, "--%s is given more than %d times", o->name, CLI_MAX_LIST);
    l->v[l->n++] = value;
  }
  return 0;
}

/* "--name", "--name=V" or "--name V" at argv[*i]. */
static int long_option(kiln_cli *cli, const cli_parser *parser, int argc, char **argv, int *i,
                       void *out) {
  const char *a = argv[*i] + 2, *eq = strchr(a, '=');
  const cli_opt *o = find_long(parser->opts, a, eq ? (size_t)(eq - a) : strlen(a));
  if (!o) return unknown_option(cli, parser, argv[*i]);
  if (o->kind == CLI_OPT_FLAG)
    return eq ? cli_usage(cli, parser->cmd, "--%s takes no value", o->name)
              : store(cli, parser, o, NULL, out);
  if (eq || o->kind == CLI_OPT_MAYBE) return store(cli, parser, o, eq ? eq + 1 : NULL, out);
  if (*i + 1 >= argc) return cli_usage(cli, parser->cmd, "--%s needs a value", o->name);
  return store(cli, parser, o, argv[++*i], out);
}

/* "-v V", or flags together ("-af"); the last of them may take a value. */
static int short_options(kiln_cli *cli, const cli_parser *parser, int argc, char **argv, int *i,
                         void *out) {
  const char *word = argv[*i];
  for (const char *c = word + 1; *c; c++) {
    const cli_opt *o = find_short(parser->opts, *c);
    if (!o) return unknown_option(cli, parser, word);
    if (o->kind == CLI_OPT_FLAG || o->kind == CLI_OPT_MAYBE) {
      int r = store(cli, parser, o, NULL, out);
      if (r) return r;
      continue;
    }
    if (c[1]) return store(cli, parser, o, c + 1, out); /* -vNAME:/path */
    if (*i + 1 >= argc) return cli_usage(cli, parser->cmd, "-%c needs a value", *c);
    return store(cli, parser, o, argv[++*i], out);
  }
  return 0;
}

static int argument(kiln_cli *cli, const cli_parser *parser, const char *a, cli_parsed *p) {
  if (p->n_args >= parser->max_args || p->n_args >= CLI_MAX_ARGS)
    return cli_usage(cli, parser->cmd, "unexpected argument '%s'", a);
  p->args[p->n_args++] = a;
  return 0;
}

/* --help or -h before "--" (before the first argument with stop_at_arg):
 * the command prints its usage, whatever else the line says. */
static bool wants_help(const cli_parser *parser, int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    if (parser->stop_at_arg && (argv[i][0] != '-' || !argv[i][1])) return false;
  }
  return false;
}

int cli_parse(kiln_cli *cli, const cli_parser *parser, int argc, char **argv, void *out,
              cli_parsed *p) {
  memset(p, 0, sizeof *p);
  if ((p->help = wants_help(parser, argc, argv))) return 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = 0;
    if (!strcmp(a, "--")) {
      if (parser->rest) {
        p->rest = argv + i + 1;
        p->n_rest = argc - i - 1;
        return 0;
      }
      for (i++; i < argc && r == 0; i++) /* only arguments from here */
        r = argument(cli, parser, argv[i], p);
      return r;
    }
    if (common_option(cli, a, p)) continue;
    if (a[0] != '-' || !a[1]) {
      if (parser->stop_at_arg) {
        p->rest = argv + i;
        p->n_rest = argc - i;
        return 0;
      }
      r = argument(cli, parser, a, p);
    } else if (a[1] == '-') {
      r = long_option(cli, parser, argc, argv, &i, out);
    } else {
      r = short_options(cli, parser, argc, argv, &i, out);
    }
    if (r) return r;
  }
  return 0;
}
