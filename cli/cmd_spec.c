/* kiln generate / kiln validate: everything that needs no engine. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "options.h"
#include "json_out.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static const char generate_help[] =
    "usage: kiln generate [PATH] [-o FILE] [--json]\n"
    "\n"
    "Prints the Dockerfile kiln would build from PATH (a kiln.yaml, or a folder\n"
    "holding one; default: the current folder).\n"
    "\n"
    "  -o, --output FILE  write it to FILE instead (replaced atomically; left\n"
    "                     untouched when the spec is bad)\n"
    "  --json             one object: image, file (or null), dockerfile\n";

static const char validate_help[] =
    "usage: kiln validate [PATH] [--json]\n"
    "\n"
    "Checks PATH (a kiln.yaml, or a folder holding one; default: the current\n"
    "folder) and prints every problem as FILE:LINE:COL: message.\n"
    "Exit 0 when the spec is good, 2 when it is not.\n";

typedef struct {
  const char *output;
} path_args;

static const cli_opt output_opts[] = {CLI_VALUE("output", 'o', path_args, output), {0}};

/* Parses "[PATH] [-o FILE]" (output NULL: no -o); returns 0, 1 for --help,
 * or an exit code < 0. */
static int parse_path_args(kiln_cli *cli, const char *cmd, int argc, char **argv, const char **path,
                           const char **output) {
  path_args a = {0};
  cli_parsed p;
  int rc =
      cli_parse(cli, &(cli_parser){.cmd = cmd, .opts = output ? output_opts : NULL, .max_args = 1},
                argc, argv, &a, &p);
  if (rc) return -rc;
  if (p.help) return 1;
  *path = p.n_args ? p.args[0] : NULL;
  if (output) *output = a.output;
  return 0;
}

int cmd_generate(kiln_cli *cli, int argc, char **argv) {
  const char *path = NULL, *output = NULL;
  int r = parse_path_args(cli, "generate", argc, argv, &path, &output);
  if (r == 1) return fputs(generate_help, stdout), KILN_EXIT_OK;
  if (r < 0) return -r;

  kiln_error *err = NULL;
  cli_spec_context ctx;
  kiln_generated gen = {0};
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  int code = KILN_EXIT_OK;
  if (cli_load_spec(cli, path, &ctx, &err) < 0) goto out;
  gopts.templates_dir = ctx.templates_dir;
  gopts.catalog = ctx.catalog;
  gopts.ns = cli->ns;
  if (kiln_generate(ctx.spec, &gopts, &gen, &err) < 0) goto out;
  if (output) {
    if (cli_write_atomically(output, gen.dockerfile, gen.dockerfile_len, false, &err) < 0) goto out;
    cli_info(cli, "wrote %s for %s\n", output, gen.image_name);
  }
  if (cli->json) {
    cli_json_line(json_pack("{s:s, s:s?, s:s%}", "image", gen.image_name, "file", output,
                            "dockerfile", gen.dockerfile, gen.dockerfile_len));
  } else if (!output) {
    fwrite(gen.dockerfile, 1, gen.dockerfile_len, stdout);
  }
out:
  if (err) code = cli_fail(cli, err);
  kiln_generated_clear(&gen);
  cli_spec_context_clear(&ctx);
  return code;
}

static void print_valid(kiln_cli *cli, const cli_spec_context *ctx) {
  const kiln_spec *s = ctx->spec;
  if (cli->json) {
    cli_json_line(json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:I}", "valid", 1, "file",
                            ctx->yaml_path, "project", s->project, "base_image", s->base_image,
                            "user", s->user.name, "uid", (json_int_t)s->user.uid, "gid",
                            (json_int_t)s->user.gid));
  } else if (!cli->quiet) {
    printf("%s: ok (project %s, base %s, user %s %u:%u)\n", ctx->yaml_path, s->project,
           s->base_image, s->user.name, s->user.uid, s->user.gid);
  }
}

int cmd_validate(kiln_cli *cli, int argc, char **argv) {
  const char *path = NULL;
  int r = parse_path_args(cli, "validate", argc, argv, &path, NULL);
  if (r == 1) return fputs(validate_help, stdout), KILN_EXIT_OK;
  if (r < 0) return -r;

  kiln_error *err = NULL;
  cli_spec_context ctx;
  kiln_generated gen = {0};
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  kiln_context *tar = NULL;
  int code = KILN_EXIT_OK;
  /* every check generate and context ls make, through the same calls: what
   * validates generates and lists (and builds, but for packages and network) */
  if (cli_load_spec(cli, path, &ctx, &err) == 0) {
    gopts.templates_dir = ctx.templates_dir;
    gopts.catalog = ctx.catalog;
    gopts.ns = cli->ns;
    if (kiln_generate(ctx.spec, &gopts, &gen, &err) < 0 ||
        !(tar = kiln_context_for_spec(ctx.spec, &gen, &err)))
      kiln_error_prefix(&err, "%s", ctx.yaml_path);
    else
      cli_context_warnings(cli, tar);
  }
  if (err)
    code = cli_fail(cli, err);
  else
    print_valid(cli, &ctx);
  kiln_context_free(tar);
  kiln_generated_clear(&gen);
  cli_spec_context_clear(&ctx);
  return code;
}
