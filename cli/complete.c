/* Shell completion (complete.h). Subcommands and options are read from the
 * `--help` text each command prints (a group prints its dispatch table), run
 * in a child process with a time limit, so completion can never drift from
 * the dispatcher, and needs no engine, configuration or caller. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "complete.h"
#include "util/buf.h"
#include "util/cleanup.h"

#define HELP_MAX     (64 * 1024)
#define HELP_SECONDS 2
#define MAX_WORDS    8

/* The --help text of the command line words (n of them), NULL on failure. */
static char *help_of(kiln_cli *cli, const cli_completion *c, char **words, int n) {
  int fds[2];
  if (n >= MAX_WORDS || pipe(fds) < 0) return NULL;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return close(fds[0]), close(fds[1]), NULL;
  if (pid == 0) {
    static char help_word[] = "--help";
    char *argv[MAX_WORDS + 2];
    for (int i = 0; i < n; i++)
      argv[i] = words[i];
    argv[n] = help_word;
    argv[n + 1] = NULL;
    alarm(HELP_SECONDS);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stderr)) _exit(1);
    cli->json = false;
    fflush(stdout);
    _exit(c->run(cli, n + 1, argv) == 0 ? (fflush(stdout), 0) : 1);
  }
  close(fds[1]);
  _cleanup_buf_ kiln_buf out = KILN_BUF_INIT(HELP_MAX);
  char chunk[4096];
  ssize_t got;
  while ((got = read(fds[0], chunk, sizeof chunk)) > 0)
    if (kiln_buf_append(&out, chunk, (size_t)got) < 0) break;
  close(fds[0]);
  int status;
  waitpid(pid, &status, 0);
  return out.data ? strdup(out.data) : NULL;
}

static bool is_word(const char *s, size_t n) {
  if (!n) return false;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyz-", s[i])) return false;
  return true;
}

/* A group's subcommands: the "Commands:" lines of its help ("  name  what"),
 * and "kiln GROUP name" in its usage lines. */
static int print_subcommands(const char *help, const char *group) {
  int found = 0;
  bool in_table = false;
  char prefix[64];
  snprintf(prefix, sizeof prefix, "kiln %s ", group);
  for (const char *line = help; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    const char *u = memmem(line, len, prefix, strlen(prefix));
    if (!strncmp(line, "Commands:", 9)) {
      in_table = true;
    } else if (in_table && len > 2 && !strncmp(line, "  ", 2) && line[2] != ' ') {
      size_t n = strcspn(line + 2, " \n");
      if (is_word(line + 2, n)) printf("%.*s\n", (int)n, line + 2), found++;
    } else if (in_table) {
      in_table = false;
    } else if (u) {
      const char *w = u + strlen(prefix);
      size_t n = strcspn(w, " \n");
      if (w + n <= line + len && is_word(w, n)) printf("%.*s\n", (int)n, w), found++;
    }
    line = end ? end + 1 : NULL;
  }
  return found;
}

/* Every "--option" the help text names, once. */
static void print_options(const char *help) {
  _cleanup_buf_ kiln_buf seen = KILN_BUF_INIT(HELP_MAX);
  for (const char *p = help; (p = strstr(p, "--"));) {
    size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
    char opt[64];
    snprintf(opt, sizeof opt, " %.*s ", (int)(n < 60 ? n : 60), p);
    bool starts = p == help || strchr(" [|,(\n", p[-1]);
    if (n > 3 && starts && !(seen.data && strstr(seen.data, opt))) {
      kiln_buf_puts(&seen, opt);
      printf("%.*s\n", (int)(n < 60 ? n : 60), p);
    }
    p += n;
  }
}

static bool is_command(const cli_completion *c, const char *word) {
  for (const kiln_command *k = c->commands; k->name; k++)
    if (!strcmp(k->name, word)) return true;
  for (const char *const *a = c->aliases; *a; a++)
    if (!strcmp(*a, word)) return true;
  return false;
}

int cli_complete(kiln_cli *cli, const cli_completion *c, int argc, char **argv) {
  /* The command words: global options (and --host/--namespace values) dropped. */
  char *words[MAX_WORDS];
  int n = 0;
  for (int i = 0; i < argc && n < MAX_WORDS - 1; i++) {
    if (!strcmp(argv[i], "--host") || !strcmp(argv[i], "--namespace"))
      i++;
    else if (argv[i][0] != '-' && (n || is_command(c, argv[i])))
      words[n++] = argv[i];
    else if (argv[i][0] != '-' && !n)
      return 0; /* an unknown command: nothing to offer */
  }
  if (!n) {
    for (const kiln_command *k = c->commands; k->name; k++)
      if (k->name[0] != '_') printf("%s\n", k->name);
    for (const char *const *o = c->global_options; *o; o++)
      printf("%s\n", *o);
    return 0;
  }
  if (!strcmp(words[0], "help") || !strcmp(words[0], "completion")) {
    if (!strcmp(words[0], "completion") && n == 1) puts("bash");
    return 0;
  }
  _cleanup_free_ char *help = help_of(cli, c, words, n > 2 ? 2 : n);
  if (!help) return 0;
  if (n == 1 && print_subcommands(help, words[0])) return 0;
  print_options(help);
  return 0;
}

static const char script[] =
    "# bash completion for kiln: generated by `kiln completion bash`; the words\n"
    "# come from `kiln __complete`, which reads kiln's own command tables.\n"
    "_kiln() {\n"
    "  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]} IFS=$'\\n'\n"
    "  local -a before=(\"${COMP_WORDS[@]:1:COMP_CWORD-1}\")\n"
    "  case ${cmd##*/} in\n"
    "  kiln) ;;\n"
    "  *) before=(\"${cmd##*/}\" \"${before[@]}\"); cmd=kiln ;;\n"
    "  esac\n"
    "  local words\n"
    "  words=$(\"$cmd\" __complete \"${before[@]}\" 2>/dev/null)\n"
    "  # shellcheck disable=SC2207\n"
    "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
    "  if [ \"${#before[@]}\" -gt 0 ] && [ \"${cur#-}\" = \"$cur\" ] &&\n"
    "    ! grep -q '^[^-]' <<<\"$words\"; then\n"
    "    # shellcheck disable=SC2207\n"
    "    COMPREPLY+=($(compgen -f -- \"$cur\"))\n"
    "  fi\n"
    "}\n";

int cli_completion_script(kiln_cli *cli, const cli_completion *c, int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    puts("usage: kiln completion bash\n\nPrints the bash completion script (installed by cmake "
         "--install as\nshare/bash-completion/completions/kiln). Try: source <(kiln completion "
         "bash)");
    return KILN_EXIT_OK;
  }
  if (argc != 2 || strcmp(argv[1], "bash"))
    return cli_usage(cli, "completion", "only 'bash' is supported");
  fputs(script, stdout);
  printf("complete -F _kiln kiln");
  for (const char *const *a = c->aliases; *a; a++)
    printf(" %s", *a);
  printf("\n");
  return KILN_EXIT_OK;
}
