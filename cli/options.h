/* The one option parser of kiln's commands: a table per command says which
 * options it takes and where each lands in the command's own options
 * struct. Every command accepts the same common ones in the same places:
 * --help/-h, --json and --quiet/-q, anywhere before "--". Long options take
 * their value as "--name V" or "--name=V", short ones as "-v V"; options and
 * arguments may come in any order. A mistake is a usage error naming the
 * word (with "did you mean" for a mistyped option). */
#ifndef KILN_CLI_OPTIONS_H
#define KILN_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

typedef enum {
  CLI_OPT_FLAG,  /* bool, set to true */
  CLI_OPT_VALUE, /* const char *, the last one given wins */
  CLI_OPT_LIST,  /* cli_list, every one given, in order */
  CLI_OPT_MAYBE, /* const char *: "" for --name alone, V for --name=V (never the next word) */
} cli_opt_kind;

#define CLI_MAX_LIST 256 /* values of one repeated option */

typedef struct {
  const char *v[CLI_MAX_LIST]; /* borrowed from argv */
  size_t n;
} cli_list;

typedef struct {
  const char *name; /* "name" for --name; NULL ends a table */
  char short_name;  /* 'v' for -v, or 0 */
  cli_opt_kind kind;
  size_t offset; /* of the bool, const char * or cli_list in the options struct */
} cli_opt;

#define CLI_FLAG(name, short_name, type, field)                                                    \
  { name, short_name, CLI_OPT_FLAG, offsetof(type, field) }
#define CLI_VALUE(name, short_name, type, field)                                                   \
  { name, short_name, CLI_OPT_VALUE, offsetof(type, field) }
#define CLI_LIST(name, short_name, type, field)                                                    \
  { name, short_name, CLI_OPT_LIST, offsetof(type, field) }
#define CLI_MAYBE(name, short_name, type, field)                                                   \
  { name, short_name, CLI_OPT_MAYBE, offsetof(type, field) }

#define CLI_MAX_ARGS 64 /* positional arguments of one command */

typedef struct {
  const char *cmd;     /* "container deploy": for messages */
  const cli_opt *opts; /* may be NULL: only the common options */
  int max_args;        /* positional arguments before "--" (more is a usage error) */
  bool rest;           /* "--" ends the options; what follows is kept in rest */
  bool stop_at_arg;    /* the first argument ends the options (kiln's global ones) */
} cli_parser;

typedef struct {
  const char *args[CLI_MAX_ARGS]; /* borrowed from argv */
  int n_args;
  char **rest; /* after "--" (parser.rest) or from the first argument (stop_at_arg) */
  int n_rest;
  bool help; /* --help or -h: the command prints its usage */
} cli_parsed;

/* Parses argv[1..argc) with parser: options into *out (the struct the table's
 * offsets point into), the rest into *p. Sets cli->json and cli->quiet for
 * --json and --quiet. --help or -h anywhere before "--" wins: p->help is set
 * and nothing else is read. Returns 0, or the exit code of the usage error
 * it printed (KILN_EXIT_USAGE). */
int cli_parse(kiln_cli *cli, const cli_parser *parser, int argc, char **argv, void *out,
              cli_parsed *p);

#endif
