/* kiln catalog [frameworks|groups]: what base.framework/base.version and
 * packages.groups accept, read from the catalog spec loading uses
 * (templates/catalog.json), so the listing and the spec rules cannot
 * disagree. With --json: one JSON array, an object per entry, each with
 * "kind" ("framework" or "group"): frameworks first, then groups. */
#include <string.h>

#include "cli.h"
#include "options.h"
#include "kiln/generate.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

static const char catalog_help[] =
    "usage: kiln catalog [--json]\n"
    "       kiln catalog frameworks [--json]\n"
    "       kiln catalog groups [--json]\n"
    "\n"
    "The frameworks (base.framework + base.version in kiln.yaml: the base image\n"
    "each names, and whether its Python is Debian's, conda's or its own) and the\n"
    "package groups (packages.groups). Groups install with apt (python3-*) on\n"
    "Debian-Python bases and base.image, and with pip into the image's Python on\n"
    "conda and python.org bases. The catalog is the site's catalog.json.\n"
    "\n"
    "  --json  one JSON array (docs/json.md): frameworks {kind: \"framework\", name,\n"
    "          description, python, installer, versions: [{version, image}]},\n"
    "          then groups {kind: \"group\", name, description, apt, pip}\n";

static void print_frameworks(json_t *list) {
  printf("%-16s %-20s %-7s %-6s %s\n", "FRAMEWORK", "VERSION", "PYTHON", "GROUPS", "IMAGE");
  size_t i, j;
  json_t *f, *v;
  json_array_foreach(list, i, f) {
    json_array_foreach(json_object_get(f, "versions"), j, v) {
      printf("%-16s %-20s %-7s %-6s %s\n", json_string_value(json_object_get(f, "name")),
             json_string_value(json_object_get(v, "version")),
             json_string_value(json_object_get(f, "python")),
             json_string_value(json_object_get(f, "installer")),
             json_string_value(json_object_get(v, "image")));
    }
  }
}

static void print_packages(const char *kind, json_t *packages) {
  printf("%-16s %s:", "", kind);
  size_t i;
  json_t *p;
  json_array_foreach(packages, i, p) printf(" %s", json_string_value(p));
  printf("%s\n", json_array_size(packages) ? "" : " (none)");
}

static void print_groups(json_t *list) {
  size_t i;
  json_t *g;
  json_array_foreach(list, i, g) {
    printf("%-16s %s\n", json_string_value(json_object_get(g, "name")),
           json_string_value(json_object_get(g, "description")));
    print_packages("apt", json_object_get(g, "apt"));
    print_packages("pip", json_object_get(g, "pip"));
  }
}

/* The one array of --json: every entry of frameworks then of groups (either
 * may be NULL), each with its "kind". */
static int print_json(kiln_cli *cli, json_t *frameworks, json_t *groups) {
  static const char *const kinds[] = {"framework", "group"};
  json_t *lists[] = {frameworks, groups};
  json_t *all = json_array();
  for (size_t k = 0; all && k < 2; k++) {
    size_t i;
    json_t *entry;
    json_array_foreach(lists[k], i, entry) {
      json_t *e = json_pack("{s:s}", "kind", kinds[k]);
      if (e && json_object_update(e, entry) < 0) json_decref(steal_pointer(&e));
      if (!e || json_array_append_new(all, e) < 0) {
        json_decref(steal_pointer(&all));
        break;
      }
    }
  }
  if (!all) {
    kiln_error *err = NULL;
    return cli_fail(cli, (kiln_error_oom(&err), err));
  }
  cli_json_line(all);
  return KILN_EXIT_OK;
}

typedef struct {
  kiln_cli *cli;
  bool frameworks, groups;
} catalog_args;

static int show(catalog_args *a) {
  kiln_error *err = NULL;
  _cleanup_free_ char *dir = kiln_templates_dir(&err);
  kiln_catalog *cat = dir ? kiln_catalog_load(dir, &err) : NULL;
  if (!cat) return cli_fail(a->cli, err);
  _cleanup_json_ json_t *frameworks = a->frameworks ? kiln_catalog_frameworks(cat) : NULL;
  _cleanup_json_ json_t *groups = a->groups ? kiln_catalog_groups(cat) : NULL;
  kiln_catalog_free(cat);
  if ((a->frameworks && !frameworks) || (a->groups && !groups))
    return cli_fail(a->cli, (kiln_error_oom(&err), err));
  if (a->cli->json) return print_json(a->cli, frameworks, groups);
  if (frameworks) print_frameworks(frameworks);
  if (frameworks && groups) printf("\n");
  if (groups) printf("%-16s %s\n", "GROUP", "DESCRIPTION / PACKAGES"), print_groups(groups);
  return KILN_EXIT_OK;
}

/* Parses the common options after the subcommand; -1 to go on. */
static int parse(kiln_cli *cli, int argc, char **argv) {
  cli_parsed p;
  int rc = cli_parse(cli, &(cli_parser){.cmd = "catalog"}, argc, argv, NULL, &p);
  if (rc) return rc;
  return p.help ? (fputs(catalog_help, stdout), KILN_EXIT_OK) : -1;
}

static int catalog_frameworks(kiln_cli *cli, int argc, char **argv) {
  int rc = parse(cli, argc, argv);
  return rc >= 0 ? rc : show(&(catalog_args){cli, true, false});
}

static int catalog_groups(kiln_cli *cli, int argc, char **argv) {
  int rc = parse(cli, argc, argv);
  return rc >= 0 ? rc : show(&(catalog_args){cli, false, true});
}

static const kiln_command catalog_commands[] = {
    {"frameworks", catalog_frameworks, "frameworks, their versions, base images and Python"},
    {"groups", catalog_groups, "package groups and what they install (apt or pip)"},
    {NULL, NULL, NULL},
};

int cmd_catalog(kiln_cli *cli, int argc, char **argv) {
  /* No subcommand (or only options): both lists. */
  if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "-h") && strcmp(argv[1], "--help"))) {
    int rc = parse(cli, argc, argv);
    return rc >= 0 ? rc : show(&(catalog_args){cli, true, true});
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
    return fputs(catalog_help, stdout), KILN_EXIT_OK;
  return cli_dispatch(cli, "catalog", catalog_commands, argc, argv);
}
