/* kiln image create|update|list|retire, kiln context ls. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "json_out.h"
#include "kiln/image.h"
#include "sanitize/sanitize.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

/* ---- create / update ---- */

static const char build_help[] =
    "usage: kiln image create|update [PATH] [--no-cache] [--pull] [--force] [--tag IMAGE]\n"
    "                                [--quiet] [--json]\n"
    "\n"
    "Builds <ns>-<uid>/<project>:latest from PATH (a kiln.yaml or a folder holding\n"
    "one; default: the current folder) through the Docker Engine API. Only the\n"
    "generated Dockerfile and the files it COPYs are sent. When the spec, those\n"
    "files and the base image are unchanged, nothing is built (\"up to date\");\n"
    "create on an existing image behaves the same. A failed build moves no tag\n"
    "and leaves no container behind.\n"
    "\n"
    "  --no-cache   build every step anew (implies a build)\n"
    "  --pull       let the engine pull the base image (needs a registry)\n"
    "  --force      build even when nothing changed\n"
    "  --tag IMAGE  tag the result IMAGE instead of the project's name\n"
    "  --quiet      print only the result\n"
    "  --json       one JSON event per line: step, stream, warning, error, result\n"
    "\n"
    "Exit codes: 0 built or up to date, 1 build failed, 2 bad spec or usage,\n"
    "3 engine unreachable or engine error.\n";

/* Step output, indented under its step line. Engine objects hold parts of
 * lines or several lines, so where a line starts is remembered. ANSI
 * escapes (the engine colours stderr) are dropped when colour is off. */
static bool output_at_line_start = true;

static void print_output(kiln_cli *cli, const char *text) {
  _cleanup_buf_ kiln_buf out = KILN_BUF_INIT(4 * KILN_MAX_STREAM_LINE);
  for (const char *p = text; *p; p++) {
    if (!cli->color && *p == '\033' && p[1] == '[') {
      for (p += 2; *p && !(*p >= '@' && *p <= '~'); p++)
        continue;
      if (!*p) break;
      continue;
    }
    if (*p == '\r') continue;
    if (output_at_line_start && *p != '\n') kiln_buf_puts(&out, "    ");
    kiln_buf_append(&out, p, 1);
    output_at_line_start = *p == '\n';
  }
  if (out.len) cli_info(cli, "%s", out.data);
}

/* A step line starts at the left margin even after unfinished output. */
static void end_output_line(kiln_cli *cli) {
  if (!output_at_line_start) cli_info(cli, "\n");
  output_at_line_start = true;
}

static void print_event_json(const kiln_build_event *ev) {
  static const char *const names[] = {
      [KILN_BUILD_STEP] = "step",         [KILN_BUILD_OUTPUT] = "stream",
      [KILN_BUILD_UP_TO_DATE] = "result", [KILN_BUILD_RESULT] = "result",
      [KILN_BUILD_ERROR] = "error",       [KILN_BUILD_WARNING] = "warning",
  };
  static const char *const text_keys[] = {
      [KILN_BUILD_STEP] = "instruction", [KILN_BUILD_OUTPUT] = "stream",
      [KILN_BUILD_UP_TO_DATE] = "image", [KILN_BUILD_RESULT] = "image",
      [KILN_BUILD_ERROR] = "message",    [KILN_BUILD_WARNING] = "message",
  };
  json_t *o = json_pack("{s:s}", "event", names[ev->kind]);
  if (!o) return;
  if (ev->step) json_object_set_new(o, "step", json_integer(ev->step));
  if (ev->steps) json_object_set_new(o, "steps", json_integer(ev->steps));
  if (ev->text) json_object_set_new(o, text_keys[ev->kind], json_string(ev->text));
  if (ev->image_id) json_object_set_new(o, "image_id", json_string(ev->image_id));
  if (ev->kind == KILN_BUILD_UP_TO_DATE || ev->kind == KILN_BUILD_RESULT)
    json_object_set_new(o, "up_to_date", json_boolean(ev->kind == KILN_BUILD_UP_TO_DATE));
  cli_json_line(o);
}

/* Long generated instructions are cut to one screen line. */
#define STEP_TEXT_WIDTH 100

static void on_build_event(void *user, const kiln_build_event *ev) {
  kiln_cli *cli = user;
  if (cli->json) {
    print_event_json(ev);
  } else if (ev->kind == KILN_BUILD_WARNING) {
    end_output_line(cli);
    fprintf(stderr, "kiln: warning: %s\n", ev->text);
  } else if (ev->kind == KILN_BUILD_STEP) {
    end_output_line(cli);
    const char *bold = cli->color ? "\033[1m" : "", *reset = cli->color ? "\033[0m" : "";
    cli_info(cli, "%sStep %d/%d : %.*s%s%s\n", bold, ev->step, ev->steps, STEP_TEXT_WIDTH, ev->text,
             strlen(ev->text) > STEP_TEXT_WIDTH ? " ..." : "", reset);
  } else if (ev->kind == KILN_BUILD_OUTPUT) {
    print_output(cli, ev->text);
  } else {
    end_output_line(cli);
  }
}

static void print_result(kiln_cli *cli, const kiln_build_result *r) {
  if (cli->json) return; /* the result event said it */
  const char *id = r->image_id ? r->image_id : "";
  if (!strncmp(id, "sha256:", 7)) id += 7;
  if (r->up_to_date)
    printf("%s is up to date (%.12s)\n", r->tag, id);
  else
    printf("built %s (%.12s)\n", r->tag, id);
}

int cli_build(kiln_cli *cli, const char *path, kiln_build_options *opts) {
  kiln_error *err = NULL;
  cli_spec_context ctx;
  kiln_generated gen = {0};
  kiln_build_result result = {0};
  kiln_engine *engine = NULL;
  int code = KILN_EXIT_OK;
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  if (cli_load_spec(cli, path, &ctx, &err) < 0) goto out;
  gopts.templates_dir = ctx.templates_dir;
  gopts.catalog = ctx.catalog;
  gopts.ns = cli->ns;
  if (kiln_generate(ctx.spec, &gopts, &gen, &err) < 0) goto out;
  if (kiln_access_build(cli->caller, cli->config, ctx.spec, &err) < 0) goto out;
  if (kiln_access_tag(cli->caller, cli->ns, opts->tag ? opts->tag : gen.image_name, &err) < 0)
    goto out;
  if (!(engine = cli_engine_open(cli, &err))) goto out;
  opts->owner_uid = ctx.spec->user.uid;
  opts->caller = cli->caller;
  opts->ns = cli->ns;
  bool ours = !opts->on_event; /* a caller's own handler prints nothing here */
  if (ours) {
    opts->on_event = on_build_event;
    opts->user = cli;
  }
  cli_catch_interrupts(); /* the upload stops; the engine drops the build, no tag moves */
  if (kiln_image_build(engine, ctx.spec, &gen, opts, &result, &err) < 0) goto out;
  if (ours) print_result(cli, &result);
out:
  if (err) code = cli_fail(cli, err);
  kiln_build_result_clear(&result);
  kiln_engine_free(engine);
  kiln_generated_clear(&gen);
  cli_spec_context_clear(&ctx);
  return code;
}

static const cli_opt build_opts[] = {
    CLI_FLAG("no-cache", 0, kiln_build_options, nocache),
    CLI_FLAG("pull", 0, kiln_build_options, pull),
    CLI_FLAG("force", 'f', kiln_build_options, force),
    CLI_VALUE("tag", 't', kiln_build_options, tag),
    {0},
};

/* image create|update [PATH]: argv[0] names which. */
static int image_build(kiln_cli *cli, int argc, char **argv) {
  kiln_build_options bo = KILN_BUILD_OPTIONS_INIT;
  char cmd[32];
  snprintf(cmd, sizeof cmd, "image %s", argv[0]);
  cli_parsed p;
  int rc = cli_parse(cli, &(cli_parser){.cmd = cmd, .opts = build_opts, .max_args = 1}, argc, argv,
                     &bo, &p);
  if (rc) return rc;
  if (p.help) return fputs(build_help, stdout), KILN_EXIT_OK;
  return cli_build(cli, p.n_args ? p.args[0] : NULL, &bo);
}

/* ---- list ---- */

static const char list_help[] =
    "usage: kiln image list [--all] [--json]\n"
    "\n"
    "Your images (labelled with your uid): project, tag, size, created, and\n"
    "whether the spec, the files it copies or the base image changed since the\n"
    "build (stale: yes, no, or ? when the spec cannot be read).\n"
    "\n"
    "  --all   every kiln image on the engine, whoever built it (admins only)\n"
    "  --json  one JSON array, an object per image (docs/json.md)\n";

static void list_row(kiln_cli *cli, kiln_engine *engine, json_t *img, json_t *out) {
  json_t *labels = json_object_get(img, "Labels");
  const char *tag = json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
  const char *project = json_string_value(json_object_get(labels, KILN_LABEL_PROJECT));
  const char *uid = json_string_value(json_object_get(labels, KILN_LABEL_OWNER_UID));
  json_int_t size = json_integer_value(json_object_get(img, "Size"));
  time_t created = (time_t)json_integer_value(json_object_get(img, "Created"));
  const char *stale = cli_image_stale(cli, engine, labels);
  char when[32], sz[32];
  struct tm tm;
  strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&created, &tm));
  cli_human_size(size, sz, sizeof sz);
  tag = !tag || !strcmp(tag, "<none>:<none>") ? "<none>" : kiln_familiar_ref(tag);
  if (cli->json) {
    json_array_append_new(out, json_pack("{s:s?, s:s, s:s?, s:o, s:I, s:o, s:o}", "image",
                                         strcmp(tag, "<none>") ? tag : NULL, "image_id",
                                         json_string_value(json_object_get(img, "Id")), "project",
                                         project, "owner_uid", cli_json_uid(uid), "size", size,
                                         "created", cli_json_time(created), "stale",
                                         cli_json_stale(stale)));
    return;
  }
  printf("%-16s %-40s %10s  %-16s %s\n", project ? project : "-", tag, sz, when, stale);
}

static int image_list(kiln_cli *cli, int argc, char **argv) {
  struct list_args {
    bool all;
  } a = {0};
  static const cli_opt opts[] = {CLI_FLAG("all", 'a', struct list_args, all), {0}};
  cli_parsed p;
  int rc = cli_parse(cli, &(cli_parser){.cmd = "image list", .opts = opts}, argc, argv, &a, &p);
  if (rc) return rc;
  if (p.help) return fputs(list_help, stdout), KILN_EXIT_OK;
  bool all = a.all;
  kiln_error *err = NULL;
  if (all && kiln_access_all_users(cli->caller, &err) < 0) return cli_fail(cli, err);
  uint32_t caller = cli->caller->id.uid;
  kiln_engine *engine = cli_engine_open(cli, &err);
  json_t *list = engine ? kiln_image_list(engine, caller, all, &err) : NULL;
  if (!list) {
    kiln_engine_free(engine);
    return cli_fail(cli, err);
  }
  if (!cli->json)
    printf("%-16s %-40s %10s  %-16s %s\n", "PROJECT", "IMAGE", "SIZE", "CREATED", "STALE");
  size_t i;
  json_t *img, *out = json_array();
  json_array_foreach(list, i, img) list_row(cli, engine, img, out);
  if (cli->json) cli_json_line(json_incref(out));
  json_decref(out);
  json_decref(list);
  kiln_engine_free(engine);
  return KILN_EXIT_OK;
}

/* ---- retire ---- */

static const char retire_help[] =
    "usage: kiln image retire PROJECT|IMAGE [--force] [--json]\n"
    "\n"
    "Removes one of your images (PROJECT means <ns>-<uid>/PROJECT:latest).\n"
    "Refuses while containers (running or not) use it. With --force, those\n"
    "containers are removed first, running ones included, but only when every\n"
    "one is yours (its kiln.owner-uid label, set by deploy or inherited from\n"
    "the image); otherwise nothing is removed. Never removes someone else's\n"
    "image.\n"
    "\n"
    "  --force  remove your containers of the image, then the image\n";

static int image_retire(kiln_cli *cli, int argc, char **argv) {
  struct retire_args {
    bool force;
  } a = {0};
  static const cli_opt opts[] = {CLI_FLAG("force", 'f', struct retire_args, force), {0}};
  cli_parsed p;
  int rc = cli_parse(cli, &(cli_parser){.cmd = "image retire", .opts = opts, .max_args = 1}, argc,
                     argv, &a, &p);
  if (rc) return rc;
  if (p.help) return fputs(retire_help, stdout), KILN_EXIT_OK;
  if (p.n_args != 1) return cli_usage(cli, "image retire", "name one PROJECT or IMAGE");
  bool force = a.force;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = cli_image_ref(cli, p.args[0]);
  if (!ref) return cli_fail(cli, (kiln_error_oom(&err), err));
  kiln_engine *engine = cli_engine_open(cli, &err);
  int r = engine ? kiln_image_retire(engine, ref, cli->caller, cli->ns, force, &err) : -1;
  kiln_engine_free(engine);
  if (r < 0) return cli_fail(cli, err);
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:b}", "image", ref, "removed", 1));
  else if (!cli->quiet)
    printf("removed %s\n", ref);
  return KILN_EXIT_OK;
}

static const kiln_command image_commands[] = {
    {"create", image_build, "build your project's image (same as update when it exists)"},
    {"update", image_build, "rebuild it; does nothing when nothing changed"},
    {"list", image_list, "list your images"},
    {"retire", image_retire, "remove one of your images"},
    {"inspect", cmd_image_inspect, "kiln's view of an image: owner, project, user, labels, stale"},
    {"export", cmd_image_export, "write an image to a tarball (with sha256 manifest)"},
    {"import", cmd_image_import, "load a tarball written by export or docker save"},
    {"push", cmd_image_push, "push an image to a registry"},
    {"pull", cmd_image_pull, "pull an image from a registry"},
    {"delete-remote", cmd_image_delete_remote, "delete an image from a registry"},
    {NULL, NULL, NULL},
};

int cmd_image(kiln_cli *cli, int argc, char **argv) {
  return cli_dispatch(cli, "image", image_commands, argc, argv);
}

/* ---- context ls ---- */

static const char context_help[] =
    "usage: kiln context ls [PATH] [--json]\n"
    "\n"
    "Lists what `kiln image create` would send to the engine: the generated\n"
    "Dockerfile and exactly the files it COPYs (a copied folder filtered by\n"
    "the project's .dockerignore), with sizes, type, mode and the total.\n"
    "\n"
    "  --json  one JSON array, an object per entry (docs/json.md)\n";

typedef struct {
  kiln_cli *cli;
  uint64_t total;
  size_t count;
  json_t *entries; /* --json: the array printed at the end */
} listing;

static int print_entry(void *user, const kiln_context_entry *e) {
  listing *l = user;
  l->total += e->size;
  l->count++;
  if (l->cli->json) {
    char type[2] = {e->type, 0};
    json_array_append_new(l->entries, json_pack("{s:s, s:s, s:I, s:i, s:s?}", "path", e->path,
                                                "type", type, "size", (json_int_t)e->size, "mode",
                                                (int)e->mode, "link", e->link_target));
  } else {
    printf("%12llu  %c %04o  %s%s%s\n", (unsigned long long)e->size, e->type, e->mode, e->path,
           e->link_target ? " -> " : "", e->link_target ? e->link_target : "");
  }
  return 0;
}

static int context_ls(kiln_cli *cli, int argc, char **argv) {
  cli_parsed p;
  int rc = cli_parse(cli, &(cli_parser){.cmd = "context ls", .max_args = 1}, argc, argv, NULL, &p);
  if (rc) return rc;
  if (p.help) return fputs(context_help, stdout), KILN_EXIT_OK;
  kiln_error *err = NULL;
  cli_spec_context ctx;
  kiln_generated gen = {0};
  kiln_context *tar = NULL;
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  listing l = {cli, 0, 0, json_array()};
  int code = KILN_EXIT_OK;
  if (cli_load_spec(cli, p.n_args ? p.args[0] : NULL, &ctx, &err) < 0) goto out;
  gopts.templates_dir = ctx.templates_dir;
  gopts.catalog = ctx.catalog;
  gopts.ns = cli->ns;
  if (kiln_generate(ctx.spec, &gopts, &gen, &err) < 0) goto out;
  if (!(tar = kiln_context_for_spec(ctx.spec, &gen, &err))) goto out;
  cli_context_warnings(cli, tar);
  if (kiln_context_list(tar, print_entry, &l, &err) < 0) goto out;
  if (cli->json) cli_json_line(json_incref(l.entries));
  if (!cli->json && !cli->quiet)
    printf("%12llu  total, %zu entries\n", (unsigned long long)l.total, l.count);
out:
  if (err) code = cli_fail(cli, err);
  json_decref(l.entries);
  kiln_context_free(tar);
  kiln_generated_clear(&gen);
  cli_spec_context_clear(&ctx);
  return code;
}

static const kiln_command context_commands[] = {
    {"ls", context_ls, "list what a build would send"},
    {NULL, NULL, NULL},
};

int cmd_context(kiln_cli *cli, int argc, char **argv) {
  return cli_dispatch(cli, "context", context_commands, argc, argv);
}
