/* What the distribution commands (cmd_distribute.c: export, import;
 * cmd_registry.c: push, pull, delete-remote, container commit; cmd_tar.c:
 * tar list, delete, sync) share: the option parser, the progress lines and
 * the set-up. Internal to cli/. */
#ifndef KILN_CLI_CMD_DISTRIBUTE_H
#define KILN_CLI_CMD_DISTRIBUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"
#include "options.h"
#include "session.h"

/* The distribution commands' options; each command's table (cli_opt, in
 * its file) says which of them it takes. */
typedef struct {
  const char *output, *keep, *compress; /* image export */
  bool gzip;
  const char *tag; /* image import */
  bool no_verify;
  const char *registry, *team, *username, *as, *export_to; /* registry, container commit */
  bool password_stdin, push;
  const char *dir; /* tar */
  cli_parsed p;    /* the arguments */
} opt_result;

/* cli_parse of argv with defs into *r, at most max_args arguments. 0, or
 * the exit code of a usage error (printed). */
int dist_parse_opts(kiln_cli *cli, const char *cmd, const cli_opt *defs, int max_args, int argc,
                    char **argv, opt_result *r);

/* Progress of a transfer (kiln_progress_fn) and of one layer
 * (kiln_layer_fn), on stderr: redrawn on a terminal, the end only
 * elsewhere; user is the kiln_cli. */
void dist_on_progress(void *user, uint64_t bytes, double seconds, bool done);
void dist_on_layer(void *user, const char *layer, const char *status, uint64_t current,
                   uint64_t total);
/* bytes as "12.3 MiB" into out. */
void dist_human_bytes(char *out, size_t n, double bytes);

int dist_open_session(kiln_cli *cli, session *s, kiln_error **err);
/* PROJECT → the caller's image name (cli_image_ref); IMAGE as is. New
 * string, or NULL with *err. */
char *dist_image_arg(kiln_cli *cli, const char *arg, kiln_error **err);

/* Exports image_ref; with --json the result object goes to *json_out when
 * given (a part of commit's result), else it is printed. */
int dist_do_export(kiln_cli *cli, session *s, const opt_result *o, const char *image_ref,
                   json_t **json_out, kiln_error **err);

#endif
