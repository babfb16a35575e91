/* kiln gc [--dry-run] [--all-users] [--json] */
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "session.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static const char gc_help[] =
    "usage: kiln gc [--dry-run] [--all-users] [--json]\n"
    "\n"
    "Removes your leftovers: exited temporary containers of legacy deploys, untagged\n"
    "kiln images, adapted images whose base image is gone, and registry names a push or\n"
    "pull cut short left on your images (the image stays). AIME-style '*._.*'\n"
    "images are listed for an admin (--all-users), never removed. --dry-run removes nothing.\n"
    "--json: one JSON array, an object per item (docs/json.md).\n";

static const char *const gc_kind_names[] = {
    [KILN_GC_TEMP_CONTAINER] = "temporary container",
    [KILN_GC_DANGLING_IMAGE] = "untagged image",
    [KILN_GC_ORPHAN_ADAPTATION] = "adaptation of a removed base",
    [KILN_GC_REGISTRY_NAME] = "leftover registry name",
    [KILN_GC_AIME_IMAGE] = "AIME image (not removed)",
};

/* The same kinds for --json: stable words. */
static const char *const gc_kind_keys[] = {
    [KILN_GC_TEMP_CONTAINER] = "temp_container",
    [KILN_GC_DANGLING_IMAGE] = "untagged_image",
    [KILN_GC_ORPHAN_ADAPTATION] = "orphan_adaptation",
    [KILN_GC_REGISTRY_NAME] = "registry_name",
    [KILN_GC_AIME_IMAGE] = "aime_image",
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

int cmd_gc(kiln_cli *cli, int argc, char **argv) {
  bool dry_run = false, all = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n"))
      dry_run = true;
    else if (!strcmp(argv[i], "--all-users"))
      all = true;
    else if (!strcmp(argv[i], "--json"))
      cli->json = true;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
      return fputs(gc_help, stdout), 0;
    else
      return cli_usage(cli, "gc", "unexpected argument '%s'", argv[i]);
  }
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
  _cleanup_json_ json_t *items = json_array();
  gc_print p = {cli, dry_run, 0, items};
  if (session_open(cli, &s, all, &err) < 0 ||
      kiln_gc(s.engine, &s.owner, dry_run, on_item, &p, &err) < 0)
    rc = cli_fail(cli, err);
  else if (cli->json)
    cli_json_line(json_incref(items));
  else if (!p.count)
    cli_info(cli, "nothing to clean up\n");
  session_clear(&s);
  return rc;
}
