/* Shared CLI plumbing: group dispatch, error printing, spec loading. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "kiln/distribute.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static int is_help(const char *arg) {
  return !strcmp(arg, "help") || !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

static void print_group_help(const char *group, const kiln_command *table) {
  printf("usage: kiln %s COMMAND [ARGS]\n\nCommands:\n", group);
  for (const kiln_command *c = table; c->name; c++)
    printf("  %-10s %s\n", c->name, c->summary);
  printf("\nRun 'kiln %s COMMAND --help' for a command's options.\n", group);
}

int cli_dispatch(kiln_cli *cli, const char *group, const kiln_command *table, int argc,
                 char **argv) {
  /* argv[0] is the group name; argv[1] the subcommand. */
  if (argc < 2 || is_help(argv[1])) {
    print_group_help(group, table);
    return argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
  }
  for (const kiln_command *c = table; c->name; c++) {
    if (strcmp(c->name, argv[1])) continue;
    optind = 0; /* each subcommand parses its own options from argv[1] */
    return c->fn(cli, argc - 1, argv + 1);
  }
  return cli_usage(cli, group, "unknown command '%s'", argv[1]);
}

static void print_error_json(const kiln_error *e) {
  _cleanup_json_ json_t *o = json_pack("{s:s, s:i}", "error", e->message, "code", e->code);
  _cleanup_free_ char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  if (s) puts(s);
}

int cli_fail(kiln_cli *cli, kiln_error *err) {
  if (!err) return KILN_EXIT_FAILURE;
  int code = err->code ? err->code : KILN_EXIT_FAILURE;
  for (const kiln_error *e = err; e; e = e->next) {
    if (cli->json)
      print_error_json(e);
    else
      fprintf(stderr, "kiln: %s\n", e->message);
  }
  kiln_error_free(err);
  return code;
}

int cli_usage(kiln_cli *cli, const char *cmd, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  kiln_error *err = NULL;
  if (cmd)
    kiln_error_set(&err, KILN_EXIT_USAGE, "%s: %s (see 'kiln %s --help')", cmd, msg, cmd);
  else
    kiln_error_set(&err, KILN_EXIT_USAGE, "%s (see 'kiln --help')", msg);
  return cli_fail(cli, err);
}

void cli_info(kiln_cli *cli, const char *fmt, ...) {
  if (cli->quiet || cli->json) return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

/* Reads the spec with the caller's file rights: under sudo, kiln reads only
 * the project folders the caller could read. */
static int load_spec(cli_spec_context *ctx, const char *path, kiln_error **err);

int cli_load_spec(kiln_cli *cli, const char *path, cli_spec_context *ctx, kiln_error **err) {
  (void)cli;
  memset(ctx, 0, sizeof *ctx);
  kiln_fs_rights rights;
  if (kiln_fs_drop(&rights, err) < 0) return -1;
  int r = load_spec(ctx, path, err);
  kiln_fs_restore(&rights);
  return r;
}

static int load_spec(cli_spec_context *ctx, const char *path, kiln_error **err) {
  ctx->yaml_path = kiln_spec_locate(path, err);
  if (!ctx->yaml_path) return -1;
  if (kiln_identity_current(&ctx->identity, err) < 0) return -1;
  ctx->templates_dir = kiln_templates_dir(err);
  if (!ctx->templates_dir) return -1;
  ctx->catalog = kiln_catalog_load(ctx->templates_dir, err);
  if (!ctx->catalog) return -1;
  kiln_spec_options opts = KILN_SPEC_OPTIONS_INIT;
  opts.identity = &ctx->identity;
  opts.catalog = ctx->catalog;
  opts.name_policy = kiln_dist_name_policy();
  ctx->spec = kiln_spec_load(ctx->yaml_path, &opts, err);
  return ctx->spec ? 0 : -1;
}

void cli_spec_context_clear(cli_spec_context *ctx) {
  kiln_spec_free(ctx->spec);
  kiln_catalog_free(ctx->catalog);
  kiln_identity_clear(&ctx->identity);
  free(ctx->templates_dir);
  free(ctx->yaml_path);
  memset(ctx, 0, sizeof *ctx);
}

kiln_engine *cli_engine_open(kiln_cli *cli, kiln_error **err) {
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = cli->host;
  return kiln_engine_open(&opts, err);
}

char *cli_image_ref(kiln_cli *cli, const char *arg) {
  if (strpbrk(arg, "/:")) return strdup(arg);
  return kiln_namespace_ref(cli->ns, cli->caller->id.uid, arg, "latest");
}

void cli_json_line(json_t *value) {
  char *text = value ? json_dumps(value, JSON_COMPACT) : NULL;
  if (text) {
    puts(text);
    fflush(stdout);
  }
  free(text);
  json_decref(value);
}
