/* kiln gc [--dry-run] [--all-users [--min-age SECONDS]] [--json] */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "options.h"
#include "session.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static const char gc_help[] =
    "usage: kiln gc [--dry-run] [--all-users [--min-age SECONDS]] [--json]\n"
    "\n"
    "Removes your leftovers: exited temporary containers of legacy deploys, untagged\n"
    "kiln images, adapted images whose base image is gone, and registry names a push or\n"
    "pull cut short left on your images (the image stays). AIME-style '*._.*'\n"
    "images are listed for an admin (--all-users), never removed. --dry-run removes nothing.\n"
    "An admin's --all-users also removes the build-step containers an engine that died\n"
    "mid-build left, once stopped for --min-age seconds (default 600: younger ones may\n"
    "be a running build's step waiting for its commit).\n"
    "--json: one JSON array, an object per item (docs/json.md).\n";

static const char *const gc_kind_names[] = {
    [KILN_GC_TEMP_CONTAINER] = "temporary container",
    [KILN_GC_DANGLING_IMAGE] = "untagged image",
    [KILN_GC_ORPHAN_ADAPTATION] = "adaptation of a removed base",
    [KILN_GC_REGISTRY_NAME] = "leftover registry name",
    [KILN_GC_AIME_IMAGE] = "AIME image (not removed)",
    [KILN_GC_BUILD_STEP] = "build-step container",
};

/* The same kinds for --json: stable words. */
static const char *const gc_kind_keys[] = {
    [KILN_GC_TEMP_CONTAINER] = "temp_container",
    [KILN_GC_DANGLING_IMAGE] = "untagged_image",
    [KILN_GC_ORPHAN_ADAPTATION] = "orphan_adaptation",
    [KILN_GC_REGISTRY_NAME] = "registry_name",
    [KILN_GC_AIME_IMAGE] = "aime_image",
    [KILN_GC_BUILD_STEP] = "build_step_container",
};

typedef struct {
  kiln_cli *cli;
  bool dry_run;
  int count;
  json_t *items; /* --json: the array printed at the end */
} gc_print;

static void on_item(void *user, const kiln_gc_item *item) {
  gc_print *p = user;
  p->count++;
  if (p->cli->json) {
    json_array_append_new(p->items,
                          json_pack("{s:s, s:s?, s:s?, s:b}", "kind", gc_kind_keys[item->kind],
                                    "id", item->id, "name", item->name, "removed", item->removed));
    return;
  }
  const char *verb = item->kind == KILN_GC_AIME_IMAGE ? "found"
                     : item->removed                  ? "removed"
                     : p->dry_run                     ? "would remove"
                                                      : "could not remove (in use?)";
  printf("%s %s %s (%.19s)\n", verb, gc_kind_names[item->kind], item->name ? item->name : "",
         item->id ? item->id : "");
}

/* --min-age SECONDS: 1 .. a day. */
static int parse_age(kiln_cli *cli, const char *text, long *age) {
  char *end = NULL;
  long v = text ? strtol(text, &end, 10) : 0;
  if (!text || !*text || *end || v < 1 || v > 86400)
    return cli_usage(cli, "gc", "--min-age takes seconds from 1 to 86400, not '%s'",
                     text ? text : "");
  *age = v;
  return 0;
}

typedef struct {
  bool dry_run, all;
  const char *min_age;
} gc_args;

static const cli_opt gc_opts[] = {
    CLI_FLAG("dry-run", 'n', gc_args, dry_run),
    CLI_FLAG("all-users", 0, gc_args, all),
    CLI_VALUE("min-age", 0, gc_args, min_age),
    {0},
};

int cmd_gc(kiln_cli *cli, int argc, char **argv) {
  gc_args a = {0};
  cli_parsed parsed;
  int rc = cli_parse(cli, &(cli_parser){.cmd = "gc", .opts = gc_opts}, argc, argv, &a, &parsed);
  if (rc) return rc;
  if (parsed.help) return fputs(gc_help, stdout), 0;
  long age = 0;
  if (a.min_age && (rc = parse_age(cli, a.min_age, &age))) return rc;
  bool dry_run = a.dry_run, all = a.all;
  if (age && !all) return cli_usage(cli, "gc", "--min-age goes with --all-users");
  session s;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *items = json_array();
  gc_print p = {cli, dry_run, 0, items};
  if (session_open(cli, &s, all, &err) < 0 || kiln_gc(s.engine,
                                                      &(kiln_gc_options){.owner = &s.owner,
                                                                         .dry_run = dry_run,
                                                                         .build_step_age_s = age,
                                                                         .fn = on_item,
                                                                         .user = &p},
                                                      &err) < 0)
    rc = cli_fail(cli, err);
  else if (cli->json)
    cli_json_line(json_incref(items));
  else if (!p.count)
    cli_info(cli, "nothing to clean up\n");
  session_clear(&s);
  return rc;
}
