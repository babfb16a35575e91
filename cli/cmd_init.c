/* kiln init: writes a commented kiln.yaml for a new project. On a terminal
 * it asks (framework and version, groups, apt and pip packages, ssh); with
 * flags, or without a terminal, it writes the same from the flags. The text
 * is parsed and generated exactly as `kiln validate` and `kiln generate` do
 * before anything is written, then written atomically and never over an
 * existing file. Every value enters the YAML as a JSON-quoted string, and
 * the spec rules (sanitize/) check it again on the way back in. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "kiln/generate.h"
#include "kiln/spec.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define MAX_INIT_PACKAGES CLI_MAX_LIST /* --group, --apt, --pip each */
#define MAX_ANSWER        1024
#define MAX_TRIES         5
#define SSH_PORT          2222 /* sshd runs as the user: no port below 1024 */

static const char init_help[] =
    "usage: kiln init [DIR] [--project NAME] [--framework NAME --version V | --base IMAGE\n"
    "                 [--python KIND]]\n"
    "                 [--group G]... [--apt PKG]... [--pip PKG]... [--ssh] [--no-input]\n"
    "                 [--json]\n"
    "\n"
    "Writes DIR/kiln.yaml (default: the current folder), commented, for a new\n"
    "project. On a terminal without these flags it asks for each; otherwise it\n"
    "writes what the flags say (defaults: the folder's name, the newest pytorch).\n"
    "The result passes 'kiln validate' and 'kiln generate'; an existing kiln.yaml\n"
    "is never overwritten. 'kiln catalog' lists frameworks and groups.\n"
    "\n"
    "  --project NAME     the project (image) name\n"
    "  --framework NAME   a catalog framework; --version one of its versions\n"
    "                     (default: its newest)\n"
    "  --base IMAGE       any base image instead, e.g. debian:bookworm-slim\n"
    "  --python KIND      with --base: its Python, debian (default), conda or local;\n"
    "                     groups install with apt on debian, with pip otherwise\n"
    "  --group G          a package group (repeatable)\n"
    "  --apt PKG          a Debian package (repeatable)\n"
    "  --pip PKG          a pip requirement (repeatable)\n"
    "  --ssh              sshd in the container, as you, on port 2222\n"
    "  --no-input         never ask, even on a terminal\n"
    "  --json             one JSON object: what was written (docs/json.md); never asks\n";

typedef cli_list word_list;

typedef struct {
  const char *dir;
  const char *project_arg; /* --project */
  char *project;           /* owned */
  const char *framework, *version, *base;
  const char *python; /* base.python with --base: debian, conda or local */
  word_list groups, apt, pip;
  bool ssh, no_input, flags;              /* flags: a content flag was given */
  char *owned[4 * MAX_INIT_PACKAGES + 8]; /* answers read on the terminal */
  size_t n_owned;
} init_args;

static const char *keep(init_args *a, char *s) {
  if (!s || a->n_owned >= sizeof a->owned / sizeof a->owned[0]) return free(s), NULL;
  return a->owned[a->n_owned++] = s;
}

static void init_args_clear(init_args *a) {
  free(a->project);
  for (size_t i = 0; i < a->n_owned; i++)
    free(a->owned[i]);
}

static const cli_opt init_opts[] = {
    CLI_VALUE("project", 0, init_args, project_arg),
    CLI_VALUE("framework", 0, init_args, framework),
    CLI_VALUE("version", 0, init_args, version),
    CLI_VALUE("base", 0, init_args, base),
    CLI_LIST("group", 0, init_args, groups),
    CLI_LIST("apt", 0, init_args, apt),
    CLI_LIST("pip", 0, init_args, pip),
    CLI_FLAG("ssh", 0, init_args, ssh),
    CLI_FLAG("no-input", 0, init_args, no_input),
    CLI_VALUE("python", 0, init_args, python),
    {0},
};

static int parse_init(kiln_cli *cli, init_args *a, int argc, char **argv) {
  cli_parsed p;
  int r = cli_parse(cli, &(cli_parser){.cmd = "init", .opts = init_opts, .max_args = 1}, argc, argv,
                    a, &p);
  if (r) return r;
  if (p.help) return fputs(init_help, stdout), KILN_EXIT_OK;
  if (a->project_arg && !(a->project = strdup(a->project_arg))) return KILN_EXIT_FAILURE;
  a->flags = a->framework || a->version || a->base || a->python || a->ssh || a->groups.n ||
             a->apt.n || a->pip.n;
  if (a->base && (a->framework || a->version))
    return cli_usage(cli, "init", "--base and --framework/--version exclude each other");
  if (a->python && !a->base) return cli_usage(cli, "init", "--python goes with --base");
  if (a->version && !a->framework) return cli_usage(cli, "init", "--version goes with --framework");
  a->dir = p.n_args ? p.args[0] : ".";
  return -1;
}

/* ---- checks: the spec rules, so that a bad answer is asked again ---- */

/* A project name from the folder's name: lowercase, other characters '-'. */
static char *project_from_dir(const char *dir) {
  char real[PATH_MAX];
  if (!realpath(dir, real)) snprintf(real, sizeof real, "%s", dir);
  const char *base = strrchr(real, '/');
  base = base && base[1] ? base + 1 : "project";
  char *name = strndup(base, KILN_MAX_PROJECT_NAME);
  for (char *p = name; p && *p; p++) {
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789", *p)) *p = '-';
  }
  size_t n = name ? strlen(name) : 0, lead = name ? strspn(name, "-") : 0;
  while (n > lead && name[n - 1] == '-')
    name[--n] = '\0';
  if (name) memmove(name, name + lead, n - lead + 1);
  if (name && kiln_check_project_name(name, false, NULL) < 0) {
    free(name);
    name = strdup("project");
  }
  return name;
}

/* The newest version of framework: the last in the catalog's order. */
static const char *newest_version(json_t *frameworks, const char *framework) {
  size_t i;
  json_t *f;
  json_array_foreach(frameworks, i, f) {
    if (strcmp(json_string_value(json_object_get(f, "name")), framework)) continue;
    json_t *versions = json_object_get(f, "versions");
    return json_string_value(
        json_object_get(json_array_get(versions, json_array_size(versions) - 1), "version"));
  }
  return NULL;
}

static int check_framework(const kiln_catalog *cat, const char *framework, const char *version,
                           kiln_error **err) {
  if (!kiln_catalog_has_framework(cat, framework)) {
    _cleanup_free_ char *known = kiln_catalog_describe_frameworks(cat, NULL);
    return kiln_error_set(err, KILN_EXIT_USAGE, "unknown framework \"%s\"; expected one of: %s",
                          framework, known ? known : "(none)");
  }
  if (version && !kiln_catalog_framework_image(cat, framework, version)) {
    _cleanup_free_ char *known = kiln_catalog_describe_frameworks(cat, framework);
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "unknown version \"%s\" of framework \"%s\"; expected one of: %s",
                          version, framework, known ? known : "(none)");
  }
  return 0;
}

static int check_group(const kiln_catalog *cat, const char *group, kiln_error **err) {
  if (kiln_catalog_has_group(cat, group)) return 0;
  _cleanup_free_ char *known = kiln_catalog_describe_groups(cat);
  return kiln_error_set(err, KILN_EXIT_USAGE, "unknown package group \"%s\"; expected one of: %s",
                        group, known ? known : "(none)");
}

/* ---- the terminal ---- */

/* One line from stdin without its newline (new string), NULL at EOF. */
static char *read_answer(const char *question, const char *def) {
  fprintf(stderr, "%s%s%s%s: ", question, def ? " [" : "", def ? def : "", def ? "]" : "");
  fflush(stderr);
  char line[MAX_ANSWER];
  if (!fgets(line, sizeof line, stdin)) return NULL;
  line[strcspn(line, "\r\n")] = '\0';
  char *start = line + strspn(line, " \t");
  size_t n = strlen(start);
  while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
    start[--n] = '\0';
  return strdup(*start ? start : def ? def : "");
}

typedef int (*answer_check)(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err);

/* Asks until check accepts the answer (at most MAX_TRIES times). */
static int ask(init_args *a, const kiln_catalog *cat, const char *question, const char *def,
               answer_check check, kiln_error **err) {
  for (int tries = 0; tries < MAX_TRIES; tries++) {
    char *answer = read_answer(question, def);
    if (!answer) return kiln_error_set(err, KILN_EXIT_USAGE, "init: no answer (end of input)");
    kiln_error *why = NULL;
    if (check(a, cat, answer, &why) == 0) return 0;
    fprintf(stderr, "  %s\n", why ? why->message : "not accepted");
    kiln_error_free(why);
  }
  return kiln_error_set(err, KILN_EXIT_USAGE, "init: no usable answer after %d tries", MAX_TRIES);
}

static int take_project(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  (void)cat;
  if (kiln_check_project_name(answer, false, err) < 0) return free(answer), -1;
  free(a->project);
  a->project = answer;
  return 0;
}

/* A catalog framework, or an image reference (holding ':' or '/'). */
static int take_framework(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  const char *kept = keep(a, answer);
  if (!kept) return kiln_error_oom(err);
  if (strpbrk(kept, ":/")) {
    if (kiln_check_image_ref(kept, err) < 0) return -1;
    a->base = kept;
    a->framework = NULL;
    return 0;
  }
  if (check_framework(cat, kept, NULL, err) < 0) return -1;
  a->framework = kept;
  a->base = NULL;
  return 0;
}

static int take_python(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  (void)cat;
  const char *kept = keep(a, answer);
  if (!kept) return kiln_error_oom(err);
  if (kiln_catalog_check_python(kept, err) < 0) return -1;
  a->python = kept;
  return 0;
}

static int take_version(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  const char *kept = keep(a, answer);
  if (!kept) return kiln_error_oom(err);
  if (check_framework(cat, a->framework, kept, err) < 0) return -1;
  a->version = kept;
  return 0;
}

/* Space- or comma-separated words into l, each checked by check. */
static int take_words(init_args *a, word_list *l, char *answer,
                      int (*check)(const kiln_catalog *, const char *, kiln_error **),
                      const kiln_catalog *cat, kiln_error **err) {
  const char *kept = keep(a, answer);
  if (!kept) return kiln_error_oom(err);
  l->n = 0;
  for (char *save = NULL, *w = strtok_r(answer, " ,\t", &save); w;
       w = strtok_r(NULL, " ,\t", &save)) {
    if (!strcmp(w, "none")) continue;
    if (check(cat, w, err) < 0 || l->n >= MAX_INIT_PACKAGES) {
      if (l->n >= MAX_INIT_PACKAGES)
        kiln_error_set(err, KILN_EXIT_USAGE, "more than %d names", MAX_INIT_PACKAGES);
      l->n = 0;
      return -1;
    }
    l->v[l->n++] = w;
  }
  return 0;
}

static int apt_ok(const kiln_catalog *cat, const char *w, kiln_error **err) {
  (void)cat;
  return kiln_check_apt_package(w, err);
}
static int pip_ok(const kiln_catalog *cat, const char *w, kiln_error **err) {
  (void)cat;
  return kiln_check_pip_package(w, err);
}

static int take_groups(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  return take_words(a, &a->groups, answer, check_group, cat, err);
}
static int take_apt(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  return take_words(a, &a->apt, answer, apt_ok, cat, err);
}
static int take_pip(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  return take_words(a, &a->pip, answer, pip_ok, cat, err);
}

static int take_ssh(init_args *a, const kiln_catalog *cat, char *answer, kiln_error **err) {
  (void)cat;
  bool yes = !strcasecmp(answer, "y") || !strcasecmp(answer, "yes");
  bool no = !*answer || !strcasecmp(answer, "n") || !strcasecmp(answer, "no");
  free(answer);
  if (!yes && !no) return kiln_error_set(err, KILN_EXIT_USAGE, "answer y or n");
  a->ssh = yes;
  return 0;
}

static int interview(init_args *a, const kiln_catalog *cat, json_t *frameworks, kiln_error **err) {
  _cleanup_free_ char *names = kiln_catalog_describe_frameworks(cat, NULL);
  _cleanup_free_ char *groups = kiln_catalog_describe_groups(cat);
  fprintf(stderr, "kiln init: a kiln.yaml for %s (Enter keeps the [default])\n", a->dir);
  if (ask(a, cat, "Project name", a->project, take_project, err) < 0) return -1;
  fprintf(stderr,
          "Frameworks: %s ('kiln catalog' shows more), or a base image such as "
          "debian:bookworm-slim\n",
          names ? names : "");
  if (ask(a, cat, "Framework or image", "pytorch", take_framework, err) < 0) return -1;
  if (a->framework) {
    _cleanup_free_ char *versions = kiln_catalog_describe_frameworks(cat, a->framework);
    fprintf(stderr, "Versions of %s: %s\n", a->framework, versions ? versions : "");
    if (ask(a, cat, "Version", newest_version(frameworks, a->framework), take_version, err) < 0)
      return -1;
  } else if (ask(a, cat, "Its Python: debian (apt's python3), conda or local", "debian",
                 take_python, err) < 0) {
    return -1;
  }
  fprintf(stderr, "Package groups: %s\n", groups ? groups : "");
  if (ask(a, cat, "Groups (space-separated)", "none", take_groups, err) < 0 ||
      ask(a, cat, "Debian (apt) packages", "none", take_apt, err) < 0 ||
      ask(a, cat, "pip packages", "none", take_pip, err) < 0 ||
      ask(a, cat, "Log in with ssh (sshd on port 2222)? y/N", NULL, take_ssh, err) < 0)
    return -1;
  return 0;
}

/* ---- the YAML ---- */

/* value as a YAML double-quoted scalar (JSON's syntax is YAML's). */
static int put_quoted(kiln_buf *out, const char *value) {
  _cleanup_json_ json_t *s = json_string(value);
  _cleanup_free_ char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
  return text ? kiln_buf_puts(out, text) : -1;
}

static int put_list(kiln_buf *out, const char *key, const word_list *l, const char *example) {
  if (!l->n) return kiln_buf_printf(out, "  # %s: [%s]\n", key, example);
  int r = kiln_buf_printf(out, "  %s: [", key);
  for (size_t i = 0; r >= 0 && i < l->n; i++)
    r = (i ? kiln_buf_puts(out, ", ") : 0) < 0 ? -1 : put_quoted(out, l->v[i]);
  return r < 0 ? -1 : kiln_buf_puts(out, "]\n");
}

static int put_base(kiln_buf *out, const init_args *a, const kiln_catalog *cat) {
  int r = kiln_buf_puts(out, "\n# The base image: a catalog framework ('kiln catalog frameworks'"
                             " lists them\n# with the image each names), or any image as "
                             "base.image instead.\nbase:\n");
  if (r >= 0 && a->base) {
    r = kiln_buf_puts(out, "  image: ");
    if (r >= 0) r = put_quoted(out, a->base);
    if (r >= 0)
      r = kiln_buf_puts(out, "\n  # its Python: debian (groups install with apt), conda or "
                             "local (with pip)\n  ");
    if (r >= 0 && !a->python) r = kiln_buf_puts(out, "# ");
    if (r >= 0) r = kiln_buf_puts(out, "python: ");
    if (r >= 0) r = put_quoted(out, a->python ? a->python : "debian");
    return r < 0 ? -1 : kiln_buf_puts(out, "\n  # or: framework: pytorch + version: \"...\"\n");
  }
  const char *python = kiln_catalog_framework_python(cat, a->framework);
  if (r >= 0) r = kiln_buf_puts(out, "  framework: ");
  if (r >= 0) r = put_quoted(out, a->framework);
  if (r >= 0) r = kiln_buf_puts(out, "\n  version: ");
  if (r >= 0) r = put_quoted(out, a->version);
  if (r >= 0)
    r = kiln_buf_printf(out, "  # %s's Python is %s: groups install with %s\n", a->framework,
                        python, kiln_catalog_group_installer(cat, a->framework, NULL));
  return r < 0 ? -1 : kiln_buf_puts(out, "  # or: image: debian:bookworm-slim\n");
}

static int put_packages(kiln_buf *out, const init_args *a) {
  int r = kiln_buf_puts(out, "\n# Packages. groups: 'kiln catalog groups' (apt's python3-* on a "
                             "Debian Python,\n# pip into the image's Python on conda ones); apt: "
                             "Debian packages; pip:\n# requirements (PyPI, or your site's mirror); "
                             "requirements: a file in this folder.\n");
  if (!a->groups.n && !a->apt.n && !a->pip.n)
    return r < 0 ? -1
                 : kiln_buf_puts(out, "# packages:\n#   groups: [data-science, jupyter]\n"
                                      "#   apt: [git]\n#   pip: [\"rich>=13\"]\n"
                                      "#   requirements: requirements.txt\n");
  if (r >= 0) r = kiln_buf_puts(out, "packages:\n");
  if (r >= 0) r = put_list(out, "groups", &a->groups, "data-science, jupyter");
  if (r >= 0) r = put_list(out, "apt", &a->apt, "git");
  if (r >= 0) r = put_list(out, "pip", &a->pip, "\"rich>=13\"");
  return r < 0 ? -1 : kiln_buf_puts(out, "  # requirements: requirements.txt\n");
}

static int put_rest(kiln_buf *out, const init_args *a) {
  int r = kiln_buf_puts(out, "\n# You inside the image: name, uid and gid default to yours.\n"
                             "# user:\n#   sudo: true\n#   shell: /bin/bash\n"
                             "\n# Where the project folder is mounted in the container.\n"
                             "workspace: /workspace\n\n# ports: [8888]   # published on "
                             "127.0.0.1 by 'kiln container deploy'\n");
  if (r >= 0 && a->ssh)
    r = kiln_buf_printf(out,
                        "\n# sshd runs as you; keys: ~/.ssh/authorized_keys in the "
                        "container, or a file\n# here as authorized_keys.\nssh:\n"
                        "  enabled: true\n  port: %d\n  # authorized_keys: "
                        "authorized_keys\n",
                        SSH_PORT);
  else if (r >= 0)
    r = kiln_buf_puts(out, "\n# ssh: {enabled: true, port: 2222, authorized_keys: "
                           "authorized_keys}\n");
  if (r >= 0)
    r = kiln_buf_puts(out, "\n# Container defaults for 'kiln container deploy' (flags win).\n"
                           "# deploy:\n#   gpus: all\n#   shm_size: 2g\n#   volumes: "
                           "[\"data:/data\"]\n");
  return r;
}

static char *compose(const init_args *a, const kiln_catalog *cat, size_t *len) {
  _cleanup_buf_ kiln_buf out = KILN_BUF_INIT(KILN_MAX_SPEC_BYTES);
  int r = kiln_buf_puts(&out, "# kiln.yaml, written by 'kiln init'. 'kiln validate' checks it, "
                              "'kiln generate'\n# prints the Dockerfile, 'kiln image create' "
                              "builds it and 'kiln container\n# deploy' starts a container, as "
                              "you. Every key: README, \"kiln.yaml\".\nversion: 1\nproject: ");
  if (r >= 0) r = put_quoted(&out, a->project);
  if (r >= 0) r = kiln_buf_puts(&out, "\n");
  if (r >= 0) r = put_base(&out, a, cat);
  if (r >= 0) r = put_packages(&out, a);
  if (r >= 0) r = put_rest(&out, a);
  return r < 0 ? NULL : kiln_buf_steal(&out, len);
}

/* ---- the command ---- */

/* What the spec loading of validate/generate needs, loaded once. */
typedef struct {
  char *templates_dir;
  kiln_catalog *catalog;
  kiln_identity identity;
  json_t *frameworks;
} init_env;

static void init_env_clear(init_env *e) {
  json_decref(e->frameworks);
  kiln_identity_clear(&e->identity);
  kiln_catalog_free(e->catalog);
  free(e->templates_dir);
}

static int init_env_load(init_env *e, kiln_error **err) {
  memset(e, 0, sizeof *e);
  if (!(e->templates_dir = kiln_templates_dir(err))) return -1;
  if (!(e->catalog = kiln_catalog_load(e->templates_dir, err))) return -1;
  if (kiln_identity_current(&e->identity, err) < 0) return -1;
  if (!(e->frameworks = kiln_catalog_frameworks(e->catalog))) return kiln_error_oom(err);
  return 0;
}

/* Without questions: the flags, the newest pytorch by default. */
static int from_flags(init_args *a, const init_env *e, kiln_error **err) {
  if (kiln_check_project_name(a->project, false, err) < 0)
    return kiln_error_prefix(err, "--project");
  if (a->base) {
    if (kiln_check_image_ref(a->base, err) < 0) return kiln_error_prefix(err, "--base");
    if (a->python && kiln_catalog_check_python(a->python, err) < 0)
      return kiln_error_prefix(err, "--python");
  } else {
    if (!a->framework) a->framework = "pytorch";
    if (!a->version) a->version = newest_version(e->frameworks, a->framework);
    if (check_framework(e->catalog, a->framework, a->version, err) < 0) return -1;
  }
  for (size_t i = 0; i < a->groups.n; i++)
    if (check_group(e->catalog, a->groups.v[i], err) < 0) return -1;
  return 0;
}

/* The text goes through what validate and generate do, in memory. */
static int check_text(const init_env *e, const char *path, const char *dir, const char *text,
                      size_t len, kiln_cli *cli, kiln_error **err) {
  kiln_spec_options opts = KILN_SPEC_OPTIONS_INIT;
  opts.identity = &e->identity;
  opts.catalog = e->catalog;
  char real[PATH_MAX];
  if (!realpath(dir, real)) return kiln_error_errno(err, errno, "%s", dir);
  kiln_spec *spec = kiln_spec_parse(path, real, text, len, &opts, err);
  if (!spec) return -1;
  kiln_generate_options gopts = KILN_GENERATE_OPTIONS_INIT;
  gopts.templates_dir = e->templates_dir;
  gopts.catalog = e->catalog;
  gopts.ns = cli->ns;
  kiln_generated gen = {0};
  int r = kiln_generate(spec, &gopts, &gen, err);
  kiln_generated_clear(&gen);
  kiln_spec_free(spec);
  return r;
}

static bool exists(const char *path) {
  struct stat st;
  kiln_fs_rights rights;
  if (kiln_fs_drop(&rights, NULL) < 0) return false;
  bool found = lstat(path, &st) == 0;
  kiln_fs_restore(&rights);
  return found;
}

static int refuse_existing(const char *path, kiln_error **err) {
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "%s already exists; kiln init never overwrites it (edit it, or remove "
                        "it first)",
                        path);
}

static int write_spec(kiln_cli *cli, init_args *a, const init_env *e, const char *path,
                      kiln_error **err) {
  size_t len = 0;
  _cleanup_free_ char *text = compose(a, e->catalog, &len);
  if (!text) return kiln_error_oom(err);
  if (check_text(e, path, a->dir, text, len, cli, err) < 0)
    return kiln_error_prefix(err, "init: the kiln.yaml it would write is not valid; nothing "
                                  "written");
  if (cli_write_atomically(path, text, len, true, err) < 0) {
    if (!exists(path)) return -1;
    kiln_error_free(*err);
    *err = NULL;
    return refuse_existing(path, err);
  }
  return 0;
}

/* --json: {"file", "project", "image" (what 'kiln image create' will build),
 * "base_image", "framework", "version" (null with --base), "written": true}. */
static int print_json(kiln_cli *cli, const init_args *a, const kiln_catalog *cat,
                      const char *path) {
  _cleanup_free_ char *image = cli_image_ref(cli, a->project);
  const char *base =
      a->base ? a->base : kiln_catalog_framework_image(cat, a->framework, a->version);
  json_t *doc = image ? json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:b}", "file", path, "project",
                                  a->project, "image", image, "base_image", base, "framework",
                                  a->base ? NULL : a->framework, "version",
                                  a->base ? NULL : a->version, "written", 1)
                      : NULL;
  if (!doc) {
    kiln_error *err = NULL;
    return cli_fail(cli, (kiln_error_oom(&err), err));
  }
  cli_json_line(doc);
  return KILN_EXIT_OK;
}

static int print_written(kiln_cli *cli, const init_args *a, const kiln_catalog *cat,
                         const char *path) {
  const char *base = a->base ? a->base : a->framework;
  if (cli->json) return print_json(cli, a, cat, path);
  if (!cli->quiet) {
    printf("wrote %s (project %s, base %s%s%s)\n", path, a->project, base, a->base ? "" : " ",
           a->base ? "" : a->version);
    printf("next: kiln image create%s%s && kiln container deploy\n", strcmp(a->dir, ".") ? " " : "",
           strcmp(a->dir, ".") ? a->dir : "");
  }
  return KILN_EXIT_OK;
}

int cmd_init(kiln_cli *cli, int argc, char **argv) {
  init_args a;
  memset(&a, 0, sizeof a);
  int rc = parse_init(cli, &a, argc, argv);
  if (rc >= 0) return init_args_clear(&a), rc;
  rc = KILN_EXIT_OK;
  kiln_error *err = NULL;
  init_env e;
  memset(&e, 0, sizeof e);
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "%s/kiln.yaml", a.dir) < 0) path = NULL;
  if (!path)
    kiln_error_oom(&err);
  else if (exists(path))
    refuse_existing(path, &err);
  else if (init_env_load(&e, &err) == 0) {
    if (!a.project && !(a.project = project_from_dir(a.dir))) kiln_error_oom(&err);
    /* With --json stdout holds the one document: no questions. */
    bool ask_user = !a.flags && !a.no_input && !cli->json && isatty(STDIN_FILENO);
    if (!err &&
        (ask_user ? interview(&a, e.catalog, e.frameworks, &err) : from_flags(&a, &e, &err)) == 0 &&
        write_spec(cli, &a, &e, path, &err) == 0)
      rc = print_written(cli, &a, e.catalog, path);
  }
  init_env_clear(&e);
  if (err) rc = cli_fail(cli, err);
  init_args_clear(&a);
  return rc;
}
