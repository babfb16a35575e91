/* Shared CLI plumbing: group dispatch, error printing, spec loading. */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "json_out.h"
#include "kiln/image.h"
#include "kiln/labels.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
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

int cli_unknown_command(kiln_cli *cli, const char *group, const char *word,
                        const kiln_command *table, const char *const *more) {
  const char *names[64];
  size_t n = 0;
  for (const kiln_command *c = table; c && c->name && n < 63; c++)
    if (c->name[0] != '_') names[n++] = c->name; /* hidden ones are never suggested */
  for (const char *const *m = more; m && *m && n < 63; m++)
    names[n++] = *m;
  names[n] = NULL;
  const char *near = kiln_did_you_mean(word, names);
  if (near) return cli_usage(cli, group, "unknown command '%s'; did you mean '%s'?", word, near);
  return cli_usage(cli, group, "unknown command '%s'", word);
}

int cli_dispatch(kiln_cli *cli, const char *group, const kiln_command *table, int argc,
                 char **argv) {
  /* argv[0] is the group name; argv[1] the subcommand. */
  if (argc < 2 && cli->json) return cli_usage(cli, group, "name a command");
  if (argc < 2 || is_help(argv[1])) {
    print_group_help(group, table);
    return argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
  }
  for (const kiln_command *c = table; c->name; c++) {
    if (strcmp(c->name, argv[1])) continue;
    return c->fn(cli, argc - 1, argv + 1);
  }
  return cli_unknown_command(cli, group, argv[1], table, NULL);
}

int cli_fail(kiln_cli *cli, kiln_error *err) {
  if (!err) return KILN_EXIT_FAILURE;
  int code = err->code ? err->code : KILN_EXIT_FAILURE;
  if (cli->json) cli_json_line(cli_json_error(err, code));
  for (const kiln_error *e = err; e && !cli->json; e = e->next)
    fprintf(stderr, "kiln: %s\n", e->message);
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

void cli_context_warnings(kiln_cli *cli, const kiln_context *ctx) {
  (void)cli; /* warnings go to stderr even with --json and --quiet */
  for (size_t i = 0; i < kiln_context_n_warnings(ctx); i++)
    fprintf(stderr, "kiln: warning: %s\n", kiln_context_warning(ctx, i));
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

int cli_check_name(const char *name, const char *what, kiln_error **err) {
  if (!kiln_dist_name_policy()) return 0;
  const char *slash = strrchr(name, '/');
  const char *last = slash ? slash + 1 : name;
  const char *colon = strchr(last, ':');
  _cleanup_free_ char *part = strndup(last, colon ? (size_t)(colon - last) : strlen(last));
  if (!part) return kiln_error_oom(err);
  return kiln_check_name_policy(part, what, err);
}

kiln_engine *cli_engine_open(kiln_cli *cli, kiln_error **err) {
  kiln_engine_options opts = KILN_ENGINE_OPTIONS_INIT;
  opts.host = cli->host;
  opts.interrupted = &cli_interrupted;
  return kiln_engine_open(&opts, err);
}

volatile sig_atomic_t cli_interrupted;

static void record_signal(int sig) {
  cli_interrupted = sig;
}

void cli_catch_interrupts(void) {
  static const int signals[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = record_signal; /* no SA_RESTART: a blocking wait returns EINTR */
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
    sigaction(signals[i], &sa, NULL);
}

char *cli_image_ref(kiln_cli *cli, const char *arg) {
  if (strpbrk(arg, "/:")) return strdup(arg);
  return kiln_namespace_ref(cli->ns, cli->caller->id.uid, arg, "latest");
}

/* The base image's id now, or NULL (missing, or the engine would not say). */
static char *base_id_now(kiln_engine *engine, const char *base) {
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *img =
      kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, base, false, &ignored);
  const char *id = json_string_value(json_object_get(img, "Id"));
  return id ? strdup(id) : NULL;
}

/* Whether what the labels record differs from the spec, context and base
 * that ctx would build now. */
static const char *compare_build(kiln_cli *cli, kiln_engine *engine, json_t *labels,
                                 cli_spec_context *ctx, kiln_error **err) {
  const char *want_spec = json_string_value(json_object_get(labels, KILN_LABEL_SPEC_SHA256));
  const char *want_ctx = json_string_value(json_object_get(labels, KILN_LABEL_CONTEXT_SHA256));
  const char *want_base = json_string_value(json_object_get(labels, KILN_LABEL_BASE_ID));
  kiln_generated gen = {0};
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  gopts.templates_dir = ctx->templates_dir;
  gopts.catalog = ctx->catalog;
  gopts.ns = cli->ns;
  char digest[65];
  const char *stale = "?";
  kiln_context *c = kiln_generate(ctx->spec, &gopts, &gen, err) == 0
                        ? kiln_context_for_spec(ctx->spec, &gen, err)
                        : NULL;
  if (c && kiln_context_digest(c, digest, err) == 0) {
    _cleanup_free_ char *base =
        engine && want_base && *want_base ? base_id_now(engine, ctx->spec->base_image) : NULL;
    bool base_changed = base && strcmp(base, want_base);
    stale =
        strcmp(gen.spec_sha256, want_spec) || !want_ctx || strcmp(digest, want_ctx) || base_changed
            ? "yes"
            : "no";
  }
  kiln_context_free(c);
  kiln_generated_clear(&gen);
  return stale;
}

const char *cli_image_stale(kiln_cli *cli, kiln_engine *engine, json_t *labels) {
  if (!kiln_access_owns(cli->caller, labels, false)) return "?";
  const char *spec_path = json_string_value(json_object_get(labels, KILN_LABEL_SPEC_PATH));
  if (!spec_path || !json_string_value(json_object_get(labels, KILN_LABEL_SPEC_SHA256))) return "?";
  kiln_error *err = NULL;
  cli_spec_context ctx;
  const char *stale = "?";
  if (cli_load_spec(cli, spec_path, &ctx, &err) == 0)
    stale = compare_build(cli, engine, labels, &ctx, &err);
  kiln_error_free(err);
  cli_spec_context_clear(&ctx);
  return stale;
}

/* cli_write_atomically (cli.h): writes data to path through a temporary name in the same folder, so
 * a reader never sees a half-written file and a failure leaves the old one. Both names are made
 * with the caller's rights (kiln_fs_*): under sudo, kiln writes only where the caller could. */
int cli_write_atomically(const char *path, const char *data, size_t len, bool noreplace,
                         kiln_error **err) {
  _cleanup_free_ char *dir = strdup(path);
  _cleanup_free_ char *base = strdup(path);
  _cleanup_free_ char *tmp = NULL;
  if (!dir || !base || asprintf(&tmp, "%s/.%s.XXXXXX", dirname(dir), basename(base)) < 0)
    return kiln_error_oom(err);
  _cleanup_close_ int fd = kiln_fs_mkstemp(tmp, 0644, err);
  if (fd < 0) return kiln_error_prefix(err, "cannot write %s", path);
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) goto fail;
    off += (size_t)n;
  }
  if (fsync(fd) < 0) goto fail;
  if (kiln_fs_rename(tmp, path, noreplace, err) < 0) {
    kiln_fs_unlink(tmp, true, NULL);
    return kiln_error_prefix(err, "cannot write %s", path);
  }
  return 0;
fail:;
  int saved = errno;
  kiln_fs_unlink(tmp, true, NULL);
  return kiln_error_errno(err, saved, "cannot write %s", path);
}

void cli_human_size(json_int_t bytes, char *out, size_t n) {
  static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = (double)bytes;
  size_t u = 0;
  while (v >= 1000 && u < 4)
    v /= 1000, u++;
  snprintf(out, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}
