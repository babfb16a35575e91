/* Shell completion from the dispatcher's own tables (cli/complete.c): the
 * hidden `kiln __complete WORDS...` prints the words that may follow, and
 * `kiln completion bash` prints the bash script that asks it. */
#ifndef KILN_CLI_COMPLETE_H
#define KILN_CLI_COMPLETE_H

#include "cli.h"

#define CLI_COMPLETE_WORD "__complete"

/* What completion needs from main.c: the top-level table, the DS01 alias
 * names (NULL-terminated), the global options, and the function that runs
 * one command line as the dispatcher does (used only with --help). */
typedef struct {
  const kiln_command *commands;
  const char *const *aliases;
  const char *const *global_options;
  kiln_cmd_fn run;
} cli_completion;

/* `kiln __complete WORDS...`: WORDS are those typed before the one being
 * completed (global options included). Prints one candidate a line: the
 * commands, or a group's subcommands (from its `--help`, which prints its
 * table), or the options the command's `--help` names. The DS01 names are
 * not offered after `kiln` (they are commands of their own). Returns 0. */
int cli_complete(kiln_cli *cli, const cli_completion *c, int argc, char **argv);

/* `kiln completion bash`: prints the completion script. */
int cli_completion_script(kiln_cli *cli, const cli_completion *c, int argc, char **argv);

#endif
