/* kiln container deploy|list|start|stop|shell|logs|retire */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "sanitize/limits.h"
#include "session.h"
#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define MAX_REPEATED 256 /* -v, -e, -p on one command line */

static bool wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) return false;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
  }
  return false;
}

/* ---- deploy ---- */

static const char deploy_help[] =
    "usage: kiln container deploy [PROJECT|IMAGE] [options]\n"
    "\n"
    "Starts a container from your project's image <ns>-<uid>/PROJECT:latest, or from any\n"
    "IMAGE. Images built by kiln start at once; other images are adapted to your user once\n"
    "(saved as <ns>-<uid>/adapted:<id>-<gid>) and reused after. In a folder with kiln.yaml, its\n"
    "project and deploy: block are the defaults; its ports: and deploy.ports are published on\n"
    "127.0.0.1 (a free host port unless one is given), and deploy prints each address.\n"
    "\n"
    "  --name NAME          container name (default: the project or image name)\n"
    "  --workspace DIR      folder mounted at the workspace (default: the current folder)\n"
    "  -v NAME:PATH[:ro]    mount a named volume (repeatable)\n"
    "  --create-volumes     create missing volumes instead of failing\n"
    "  -e KEY=VALUE         environment (repeatable)\n"
    "  -p [IP:]HOST:CONTAINER[/tcp|/udp], -p IP::CONTAINER, -p CONTAINER[/tcp|/udp]\n"
    "                       publish a port (repeatable); without IP on 127.0.0.1 only (this\n"
    "                       host), unlike docker; without HOST a free port is picked.\n"
    "                       Host ports below 1024 are for admins. IPv6: [::1]:8080:80\n"
    "  --memory SIZE  --cpus N  --shm-size SIZE  --pids-limit N\n"
    "  --gpus all|N|ID,ID   NVIDIA GPUs (with --runtime genv: GENV_GPUS)\n"
    "  --gpu-memory SIZE    with --runtime genv: GENV_GPU_MEMORY\n"
    "  --runtime NAME       engine runtime, from the site's list (default: nvidia, genv)\n"
    "  --no-start           create only\n"
    "  --update             in a project folder: build the image first when kiln.yaml, the\n"
    "                       files it copies or the base changed (otherwise deploy says so)\n"
    "  --shell              open a shell in it once started (exit code: the shell's)\n"
    "  --no-gpus            no GPUs, even when kiln.yaml's deploy.gpus asks for some\n"
    "  --all-users          (admins) allow volumes of other users\n"
    "\n"
    "The workspace must be a folder of yours that you can open (not /, a system folder or\n"
    "another user's folder). Another user's images cannot be deployed. Containers run as\n"
    "you, with no-new-privileges unless the site allows container sudo.\n"
    "The container's engine name is NAME._.UID; 'kiln container' commands take NAME.\n"
    "KILN_LEGACY_SETUP_DELAY=N (a test hook, admins only) makes the adaptation sleep N s first.\n";

typedef struct {
  kiln_deploy_options o;
  const char *volumes[MAX_REPEATED], *env[MAX_REPEATED], *ports[MAX_REPEATED];
  const char *target;
  char *owned[2 * MAX_REPEATED]; /* "K=V" and port texts made from the spec */
  size_t n_owned;
  char *default_name;
  char *image_ref;
  json_t *image_json; /* the project image's inspect answer, when it was read */
  bool update;        /* --update: build the project first */
  bool shell;         /* --shell: a shell in it once started */
  bool no_gpus;       /* --no-gpus: none, whatever deploy.gpus says */
} deploy_args;

static int push_arg(kiln_cli *cli, const char **list, size_t *n, const char *value) {
  if (*n >= MAX_REPEATED)
    return cli_usage(cli, "container deploy", "more than %d of one option", MAX_REPEATED);
  list[(*n)++] = value;
  return 0;
}

enum {
  OPT_NAME = 256,
  OPT_WORKSPACE,
  OPT_CREATE_VOLUMES,
  OPT_MEMORY,
  OPT_CPUS,
  OPT_SHM,
  OPT_PIDS,
  OPT_GPUS,
  OPT_GPU_MEMORY,
  OPT_RUNTIME,
  OPT_NO_START,
  OPT_ALL_USERS,
  OPT_UPDATE,
  OPT_SHELL,
  OPT_NO_GPUS,
};

static const struct option deploy_opts[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"workspace", required_argument, NULL, OPT_WORKSPACE},
    {"volume", required_argument, NULL, 'v'},
    {"create-volumes", no_argument, NULL, OPT_CREATE_VOLUMES},
    {"env", required_argument, NULL, 'e'},
    {"publish", required_argument, NULL, 'p'},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"shm-size", required_argument, NULL, OPT_SHM},
    {"pids-limit", required_argument, NULL, OPT_PIDS},
    {"gpus", required_argument, NULL, OPT_GPUS},
    {"gpu-memory", required_argument, NULL, OPT_GPU_MEMORY},
    {"runtime", required_argument, NULL, OPT_RUNTIME},
    {"no-start", no_argument, NULL, OPT_NO_START},
    {"update", no_argument, NULL, OPT_UPDATE},
    {"shell", no_argument, NULL, OPT_SHELL},
    {"no-gpus", no_argument, NULL, OPT_NO_GPUS},
    {"all-users", no_argument, NULL, OPT_ALL_USERS},
    {NULL, 0, NULL, 0},
};

/* Numbers given on the command line, checked by the sanitize rules. */
static int parse_number_opt(int c, const char *arg, kiln_deploy_options *o, kiln_error **err) {
  switch (c) {
  case OPT_MEMORY:
    return kiln_parse_size(arg, &o->memory, err);
  case OPT_SHM:
    return kiln_parse_size(arg, &o->shm_size, err);
  case OPT_CPUS:
    return kiln_parse_cpus(arg, &o->nano_cpus, err);
  default: {
    char *end = NULL;
    long long v = strtoll(arg, &end, 10);
    if (!*arg || *end || v < -1 || v == 0)
      return kiln_error_set(err, KILN_EXIT_USAGE, "--pids-limit: expected a positive number or -1");
    o->pids_limit = v;
    return 0;
  }
  }
}

static int parse_deploy(kiln_cli *cli, deploy_args *a, int argc, char **argv) {
  int c;
  kiln_deploy_options *o = &a->o;
  while ((c = getopt_long(argc, argv, "v:e:p:", deploy_opts, NULL)) != -1) {
    kiln_error *err = NULL;
    int r = 0;
    switch (c) {
    case OPT_NAME:
      o->name = optarg;
      break;
    case OPT_WORKSPACE:
      o->workspace_dir = optarg;
      break;
    case 'v':
      r = push_arg(cli, a->volumes, &o->n_volumes, optarg);
      break;
    case 'e':
      r = push_arg(cli, a->env, &o->n_env, optarg);
      break;
    case 'p':
      r = push_arg(cli, a->ports, &o->n_ports, optarg);
      break;
    case OPT_CREATE_VOLUMES:
      o->create_volumes = true;
      break;
    case OPT_MEMORY:
    case OPT_CPUS:
    case OPT_SHM:
    case OPT_PIDS:
      if (parse_number_opt(c, optarg, o, &err) < 0) {
        r = cli_usage(cli, "container deploy", "%s", err->message);
        kiln_error_free(err);
      }
      break;
    case OPT_GPUS:
      o->gpus = optarg;
      break;
    case OPT_GPU_MEMORY:
      o->gpu_memory = optarg;
      break;
    case OPT_RUNTIME:
      o->runtime = optarg;
      break;
    case OPT_NO_START:
      o->no_start = true;
      break;
    case OPT_ALL_USERS:
      o->all_users = true;
      break;
    case OPT_UPDATE:
      a->update = true;
      break;
    case OPT_SHELL:
      a->shell = true;
      break;
    case OPT_NO_GPUS:
      a->no_gpus = true;
      break;
    default:
      return cli_usage(cli, "container deploy", "unknown option");
    }
    if (r) return r;
  }
  /* DS01's container-deploy NAME IMAGE: the first is the container's name. */
  if (cli->ds01 && argc - optind == 2) {
    if (!o->name) o->name = argv[optind];
    optind++;
  }
  if (argc - optind > 1)
    return cli_usage(cli, "container deploy", "unexpected argument '%s'", argv[optind + 1]);
  if (a->no_gpus && o->gpus)
    return cli_usage(cli, "container deploy", "--no-gpus and --gpus exclude each other");
  if (a->shell && o->no_start)
    return cli_usage(cli, "container deploy", "--shell needs a started container (not --no-start)");
  if (a->shell && cli->json) /* stdout holds the one JSON document */
    return cli_usage(cli, "container deploy",
                     "--shell does not go with --json (deploy, then 'kiln container shell')");
  a->target = optind < argc ? argv[optind] : NULL;
  o->volumes = a->volumes;
  o->env = a->env;
  o->ports = a->ports;
  return 0;
}

/* Keeps s (a new string, may be NULL) for the life of a; NULL when full. */
static const char *own(deploy_args *a, char *s) {
  if (!s || a->n_owned >= sizeof a->owned / sizeof a->owned[0]) return free(s), NULL;
  return a->owned[a->n_owned++] = s;
}

/* Whether a -p flag already publishes container port/proto of text. */
static bool port_given(const deploy_args *a, size_t n_flags, const char *text) {
  kiln_port_binding want, have;
  if (kiln_parse_port_binding(text, &want, NULL) < 0) return false;
  for (size_t i = 0; i < n_flags; i++)
    if (kiln_parse_port_binding(a->ports[i], &have, NULL) == 0 &&
        have.container_port == want.container_port && !strcmp(have.proto, want.proto))
      return true;
  return false;
}

static void add_spec_port(deploy_args *a, size_t n_flags, const char *text) {
  if (a->o.n_ports < MAX_REPEATED && !port_given(a, n_flags, text) &&
      !port_given(a, a->o.n_ports, text))
    a->ports[a->o.n_ports++] = text;
}

/* Spec ports (ports: and deploy.ports) a -p for the same container port did
 * not replace; each on 127.0.0.1 unless it names an address. */
static void apply_spec_ports(deploy_args *a, const kiln_spec *spec) {
  size_t n_flags = a->o.n_ports;
  for (size_t i = 0; i < spec->deploy.ports.n; i++)
    add_spec_port(a, n_flags, spec->deploy.ports.v[i]);
  for (size_t i = 0; i < spec->n_ports; i++) {
    char *text = NULL;
    if (asprintf(&text, "%u", (unsigned)spec->ports[i]) < 0) text = NULL;
    const char *kept = own(a, text);
    if (kept) add_spec_port(a, n_flags, kept);
  }
}

/* deploy.env entries whose name no -e set. */
static void apply_spec_env(deploy_args *a, const kiln_spec *spec) {
  size_t n_flags = a->o.n_env;
  for (size_t i = 0; i < spec->deploy.env.n && a->o.n_env < MAX_REPEATED; i++) {
    const kiln_kv *kv = &spec->deploy.env.v[i];
    bool given = false;
    for (size_t j = 0; j < n_flags && !given; j++) {
      size_t n = strlen(kv->key);
      given = !strncmp(a->env[j], kv->key, n) && a->env[j][n] == '=';
    }
    char *text = NULL;
    if (given || asprintf(&text, "%s=%s", kv->key, kv->value) < 0) continue;
    const char *kept = own(a, text);
    if (kept) a->env[a->o.n_env++] = kept;
  }
}

/* Whether one of the first n volumes (-v texts) mounts at the same path as
 * volume (a deploy.volumes text). Unparsable texts are reported by deploy. */
static bool same_target(const char *const *volumes, size_t n, const char *volume) {
  _cleanup_free_ char *name = NULL, *target = NULL;
  bool ro;
  if (kiln_parse_volume_spec(volume, &name, &target, &ro, NULL) < 0) return false;
  for (size_t i = 0; i < n; i++) {
    _cleanup_free_ char *n2 = NULL, *t2 = NULL;
    if (kiln_parse_volume_spec(volumes[i], &n2, &t2, &ro, NULL) == 0 && !strcmp(t2, target))
      return true;
  }
  return false;
}

/* The spec's deploy: block fills what the command line left unset; a -v, -e
 * or -p for the same mount point, name or container port replaces the
 * spec's. */
static void apply_spec_defaults(deploy_args *a, const kiln_spec *spec) {
  kiln_deploy_options *o = &a->o;
  if (!o->gpus) o->gpus = spec->deploy.gpus;
  if (!o->gpu_memory) o->gpu_memory = spec->deploy.gpu_memory;
  if (!o->runtime) o->runtime = spec->deploy.runtime;
  if (!o->memory) o->memory = spec->deploy.memory;
  if (!o->shm_size) o->shm_size = spec->deploy.shm_size;
  if (!o->nano_cpus) o->nano_cpus = spec->deploy.nano_cpus;
  if (!o->n_command && spec->deploy.command.n) {
    o->command = (const char *const *)spec->deploy.command.v;
    o->n_command = spec->deploy.command.n;
  }
  size_t n_flags = o->n_volumes;
  for (size_t i = 0; i < spec->deploy.volumes.n && o->n_volumes < MAX_REPEATED; i++)
    if (!same_target(a->volumes, n_flags, spec->deploy.volumes.v[i]))
      a->volumes[o->n_volumes++] = spec->deploy.volumes.v[i];
  if (!o->pids_limit) o->pids_limit = spec->deploy.pids_limit;
  apply_spec_env(a, spec);
  apply_spec_ports(a, spec);
}

/* Volumes a deploy may create get the name policy as `volume create` does. */
static int check_new_volume_names(const kiln_deploy_options *o, kiln_error **err) {
  for (size_t i = 0; i < o->n_volumes; i++) {
    _cleanup_free_ char *name = NULL, *target = NULL;
    bool ro;
    if (kiln_parse_volume_spec(o->volumes[i], &name, &target, &ro, err) < 0 ||
        cli_check_name(name, "volume name", err) < 0)
      return -1;
  }
  return 0;
}

/* GET /images/REF/json: a new reference, or NULL (missing or unreadable). */
static json_t *inspect_ref(kiln_engine *engine, const char *ref) {
  _cleanup_error_ kiln_error *ignored = NULL;
  return kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, &ignored);
}

/* "registry:5000/team/debian:bookworm" → "debian"; ids → "c-<12 hex>". */
static char *name_from_image(const char *ref) {
  if (!strncmp(ref, "sha256:", 7)) {
    char *s = NULL;
    return asprintf(&s, "c-%.12s", ref + 7) < 0 ? NULL : s;
  }
  const char *base = strrchr(ref, '/');
  base = base ? base + 1 : ref;
  size_t n = strcspn(base, ":@");
  char *s = strndup(base, n);
  for (char *p = s; p && *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", *p)) *p = '-';
  return s;
}

/* PROJECT → <ns>-<uid>/PROJECT:latest when that image exists; else an image. */
static int resolve_target(kiln_cli *cli, session *s, deploy_args *a, const char *spec_project,
                          kiln_error **err) {
  const char *t = a->target ? a->target : spec_project;
  if (!t)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "container deploy: name a PROJECT or IMAGE, or run it in a folder "
                          "with kiln.yaml");
  bool plain = !strpbrk(t, ":/@");
  if (plain && (a->image_ref = kiln_namespace_ref(ns_of(cli, s), s->identity->uid, t, NULL)) &&
      (a->image_json = inspect_ref(s->engine, a->image_ref))) {
    a->o.project = t;
    a->o.image_inspect = a->image_json; /* kiln_deploy need not ask again */
    a->default_name = strdup(t);
  } else {
    free(a->image_ref);
    json_decref(a->image_json);
    a->image_json = NULL;
    a->image_ref = strdup(t);
    a->default_name = name_from_image(t);
  }
  if (!a->image_ref || !a->default_name) return kiln_error_oom(err);
  a->o.image = a->image_ref;
  if (!a->o.name) a->o.name = a->default_name;
  if (cli_check_name(a->o.name, "container name", err) < 0) return -1;
  return a->o.create_volumes ? check_new_volume_names(&a->o, err) : 0;
}

static void on_deploy_event(void *user, kiln_deploy_event_kind kind, const char *text) {
  kiln_cli *cli = user;
  if (kind == KILN_DEPLOY_WARNING)
    fprintf(stderr, "kiln: warning: %s\n", text);
  else
    cli_info(cli, "%s\n", text);
}

static void print_deployed(kiln_cli *cli, const deploy_args *a, const kiln_deploy_result *r) {
  if (cli->json) {
    cli_json_line(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:b, s:b, s:b, s:o}", "name",
                            a->o.name, "engine_name", r->container_name, "id", r->container_id,
                            "image", a->image_ref, "image_id", r->image_id, "adapted_image",
                            r->adapted_image, "adapted", r->adapted, "reused", r->reused, "started",
                            r->started, "ports", r->ports ? json_incref(r->ports) : json_array()));
    return;
  }
  if (cli->quiet) {
    puts(r->container_name);
    return;
  }
  printf("%s %s (engine name %s)%s\n", r->started ? "started" : "created", a->o.name,
         r->container_name,
         r->adapted ? (r->reused ? ", adapted image reused" : ", image adapted") : "");
  size_t i;
  json_t *p;
  json_array_foreach(r->ports, i, p) {
    const char *container = json_string_value(json_object_get(p, "container"));
    bool tcp = container && strstr(container, "/tcp");
    printf("%s%s -> %s\n", tcp ? "http://" : "", json_string_value(json_object_get(p, "address")),
           container ? container : "?");
  }
  if (r->started) printf("open a shell with: kiln container shell %s\n", a->o.name);
}

static void free_owned(deploy_args *a) {
  free(a->default_name);
  free(a->image_ref);
  json_decref(a->image_json);
  for (size_t i = 0; i < a->n_owned; i++)
    free(a->owned[i]);
}

static void ignore_build_event(void *user, const kiln_build_event *ev) {
  (void)user, (void)ev;
}

/* --update: the project's image, built (or found up to date) here first;
 * with --json its events are not printed (deploy prints one object). */
static int update_first(kiln_cli *cli) {
  kiln_build_options bo = KILN_BUILD_OPTIONS_INIT;
  if (cli->json) bo.on_event = ignore_build_event;
  bool quiet = cli->quiet;
  cli->quiet = true; /* the deploy's own output follows */
  int rc = cli_build(cli, NULL, &bo);
  cli->quiet = quiet;
  return rc;
}

/* A project image older than the project here: one line saying so. */
static void warn_if_stale(kiln_cli *cli, session *s, const char *ref, json_t *known) {
  _cleanup_json_ json_t *img = known ? json_incref(known) : inspect_ref(s->engine, ref);
  json_t *labels = json_object_get(json_object_get(img, "Config"), "Labels");
  if (img && !strcmp(cli_image_stale(cli, s->engine, labels), "yes"))
    fprintf(stderr,
            "kiln: warning: %s is older than kiln.yaml here (the spec, the files it copies or "
            "the base image changed); deploying it anyway: run 'kiln image update' first, or "
            "deploy with --update\n",
            ref);
}

static int deploy_with_session(kiln_cli *cli, deploy_args *a, session *s, cli_spec_context *spec,
                               kiln_error **err) {
  if (resolve_target(cli, s, a, spec->spec ? spec->spec->project : NULL, err) < 0) return -1;
  if (spec->spec && a->o.project && !strcmp(a->o.project, spec->spec->project) && !a->update)
    warn_if_stale(cli, s, a->image_ref, a->image_json);
  /* The library checks it with the caller's rights and binds its real path. */
  if (!a->o.workspace_dir) a->o.workspace_dir = ".";
  a->o.caller = s->caller;
  a->o.config = s->config;
  a->o.ns = ns_of(cli, s);
  a->o.templates_dir = spec->templates_dir;
  a->o.on_event = on_deploy_event;
  a->o.user = cli;
  kiln_deploy_result r = {0};
  cli_catch_interrupts(); /* an adaptation's temporary container is removed */
  int rc = kiln_deploy(s->engine, &a->o, &r, err);
  if (rc == 0) print_deployed(cli, a, &r);
  kiln_deploy_result_clear(&r); /* a failed deploy may have filled part of it */
  if (rc == 0 && a->shell) {    /* --shell: the shell's exit code is deploy's */
    fflush(stdout);
    int code = 0;
    if (kiln_container_shell(s->engine, a->o.name, &s->owner, NULL, 0, STDIN_FILENO, STDOUT_FILENO,
                             STDERR_FILENO, &code, err) < 0)
      return -1;
    return code;
  }
  return rc;
}

/* Under DS01's name only (its flags are rewritten there, main.c ds01_flags);
 * completion reads it from this help, so DS01's name completes DS01's flags. */
static const char deploy_ds01_help[] =
    "\nThrough DS01's container-deploy: --gpu N or --num-gpus N (--gpus N), --cpu-only\n"
    "(--no-gpus), --open (--shell), --background (the default), -w DIR (--workspace).\n";

static int cmd_deploy(kiln_cli *cli, int argc, char **argv) {
  if (wants_help(argc, argv)) {
    fputs(deploy_help, stdout);
    if (cli->ds01) fputs(deploy_ds01_help, stdout);
    return KILN_EXIT_OK;
  }
  deploy_args a;
  memset(&a, 0, sizeof a);
  a.o = (kiln_deploy_options)KILN_DEPLOY_OPTIONS_INIT;
  int r = parse_deploy(cli, &a, argc, argv);
  if (r) return r;
  kiln_error *err = NULL;
  cli_spec_context spec;
  memset(&spec, 0, sizeof spec);
  /* A kiln.yaml here gives defaults; a broken one is an error worth seeing. */
  if (access("kiln.yaml", F_OK) == 0 && cli_load_spec(cli, NULL, &spec, &err) < 0) {
    cli_spec_context_clear(&spec);
    return cli_fail(cli, err);
  }
  bool for_project = spec.spec && (!a.target || !strcmp(a.target, spec.spec->project));
  if (for_project) apply_spec_defaults(&a, spec.spec);
  if (a.no_gpus) a.o.gpus = a.o.gpu_memory = NULL;
  int rc = KILN_EXIT_OK;
  if (a.update && !for_project)
    rc = cli_usage(cli, "container deploy", "--update needs a kiln.yaml here for the project");
  else if (a.update)
    rc = update_first(cli);
  if (rc) {
    cli_spec_context_clear(&spec);
    free_owned(&a);
    return rc;
  }
  session s;
  if (session_open(cli, &s, a.o.all_users, &err) < 0 ||
      (rc = deploy_with_session(cli, &a, &s, &spec, &err)) < 0) {
    rc = cli_fail(cli, err);
  }
  session_clear(&s);
  cli_spec_context_clear(&spec);
  free_owned(&a);
  return rc;
}

/* ---- list ---- */

/* "127.0.0.1:49153->8888/tcp, ..." ("-" for none), cut to fit out. */
static void format_ports(json_t *ports, char *out, size_t cap) {
  size_t used = 0, i;
  json_t *p;
  snprintf(out, cap, "-");
  json_array_foreach(ports, i, p) {
    int n = snprintf(out + used, cap - used, "%s%s->%s", i ? ", " : "",
                     json_string_value(json_object_get(p, "address")),
                     json_string_value(json_object_get(p, "container")));
    if (n < 0 || (size_t)n >= cap - used) break;
    used += (size_t)n;
  }
}

static void print_containers(kiln_cli *cli, json_t *list, bool all) {
  if (cli->json) {
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) json_object_set_new(
        c, "owner_uid", cli_json_uid(json_string_value(json_object_get(c, "owner_uid"))));
    cli_json_line(json_incref(list));
    return;
  }
  printf(all ? "%-24s %-8s %-20s %-40s %-28s %-5s %s\n" : "%-24s%.0s %-20s %-40s %-28s %-5s %s\n",
         "NAME", "OWNER", "PROJECT", "IMAGE", "STATUS", "STALE", "PORTS");
  size_t i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *owner = json_string_value(json_object_get(c, "owner_uid"));
    const char *project = json_string_value(json_object_get(c, "project"));
    char ports[512];
    format_ports(json_object_get(c, "ports"), ports, sizeof ports);
    printf(all ? "%-24s %-8s %-20s %-40s %-28s %-5s %s\n" : "%-24s%.0s %-20s %-40s %-28s %-5s %s\n",
           json_string_value(json_object_get(c, all ? "engine_name" : "name")), owner ? owner : "-",
           project ? project : "-", json_string_value(json_object_get(c, "image")),
           json_string_value(json_object_get(c, "status")),
           json_is_true(json_object_get(c, "stale")) ? "yes" : "no", ports);
  }
}

/* Drops every container whose state is not "running" (--running). */
static void keep_running(json_t *list) {
  for (size_t i = json_array_size(list); i-- > 0;) {
    const char *state = json_string_value(json_object_get(json_array_get(list, i), "state"));
    if (!state || strcmp(state, "running")) json_array_remove(list, i);
  }
}

static int cmd_list(kiln_cli *cli, int argc, char **argv) {
  static const struct option opts[] = {
      {"all", no_argument, NULL, 'a'},     {"all-users", no_argument, NULL, 'a'},
      {"running", no_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},    {NULL, 0, NULL, 0}};
  bool all = false, running = false;
  int c;
  while ((c = getopt_long(argc, argv, "ajh", opts, NULL)) != -1) {
    if (c == 'a')
      all = true;
    else if (c == 'r')
      running = true;
    else if (c == 'j')
      cli->json = true;
    else if (c == 'h')
      return puts("usage: kiln container list [--all] [--running] [--json]\n\nYour containers "
                  "(running or not): name, project, image, status, STALE when the project's "
                  "image was rebuilt since the deploy, and PORTS (published addresses).\n"
                  "--running: only running ones. --all (admins): everyone's.\n"
                  "--json: one JSON array, an object per container (docs/json.md).\n"
                  "Through DS01's container-list: running ones, --all (-a) includes stopped "
                  "ones, --all-users is everyone's."),
             KILN_EXIT_OK;
    else
      return cli_usage(cli, "container list", "unknown option");
  }
  if (optind < argc)
    return cli_usage(cli, "container list", "unexpected argument '%s'", argv[optind]);
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
  if (session_open(cli, &s, all, &err) < 0) {
    rc = cli_fail(cli, err);
  } else {
    _cleanup_json_ json_t *list = kiln_container_list(s.engine, &s.owner, ns_of(cli, &s), &err);
    if (list && running) keep_running(list);
    if (list)
      print_containers(cli, list, all);
    else
      rc = cli_fail(cli, err);
  }
  session_clear(&s);
  return rc;
}

/* ---- start / stop / retire / shell ---- */

typedef int (*name_action)(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                           kiln_error **err);

/* The options each NAME command takes besides --all-users (a value-taking
 * one also as --opt=VALUE); anything else starting with '-' is refused
 * before anything is done. Commands not listed parse their own extras. */
typedef struct {
  const char *name, *alias;
  bool value;
} name_opt;

static const struct {
  const char *cmd;
  const name_opt *opts;
} name_opts[] = {
    {"container start", (const name_opt[]){{NULL, NULL, false}}},
    {"container stop", (const name_opt[]){{"--time", "-t", true}, {NULL, NULL, false}}},
    {"container retire",
     (const name_opt[]){{"--save", NULL, false}, {"--force", "-f", false}, {NULL, NULL, false}}},
    {"container shell", (const name_opt[]){{NULL, NULL, false}}},
};

static const name_opt *opts_of(const char *cmd) {
  for (size_t i = 0; i < sizeof name_opts / sizeof name_opts[0]; i++)
    if (!strcmp(name_opts[i].cmd, cmd)) return name_opts[i].opts;
  return NULL;
}

/* argv[i] among opts: 1 (and *i past a separate value), 0 when unknown. */
static int known_opt(const name_opt *opts, int argc, char **argv, int *i) {
  for (const name_opt *o = opts; o->name; o++) {
    size_t n = strlen(o->name);
    if (o->value && !strncmp(argv[*i], o->name, n) && argv[*i][n] == '=') return 1;
    if (!strcmp(argv[*i], o->name) || (o->alias && !strcmp(argv[*i], o->alias))) {
      if (o->value && *i + 1 < argc) (*i)++;
      return 1;
    }
    if (!strcmp(o->name, "--save") && !strncmp(argv[*i], "--save=", 7)) return 1;
  }
  return 0;
}

/* NAME [--all-users] [options] [extra...]: opens a session and runs act. */
static int with_name(kiln_cli *cli, const char *cmd, const char *help, int argc, char **argv,
                     bool extra_ok, name_action act) {
  if (wants_help(argc, argv)) return printf("%s", help), KILN_EXIT_OK;
  const name_opt *opts = opts_of(cmd);
  bool all = false;
  const char *name = NULL;
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strcmp(argv[i], "--all-users"))
      all = true;
    else if (!strcmp(argv[i], "--json"))
      cli->json = true;
    else if (opts && argv[i][0] == '-') {
      if (!known_opt(opts, argc, argv, &i))
        return cli_usage(cli, cmd, "unknown option '%s'", argv[i]);
    } else if (!name && argv[i][0] != '-')
      name = argv[i];
    else if (!extra_ok)
      return cli_usage(cli, cmd, "unexpected argument '%s'", argv[i]);
  }
  if (!name) return cli_usage(cli, cmd, "name the container");
  session s;
  kiln_error *err = NULL;
  int rc = session_open(cli, &s, all, &err);
  if (rc == 0) rc = act(cli, &s, name, argc, argv, &err);
  if (rc < 0) rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static int do_start(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                    kiln_error **err) {
  (void)argc, (void)argv;
  if (kiln_container_start(s->engine, name, &s->owner, err) < 0) return -1;
  if (cli->json) cli_json_line(json_pack("{s:s, s:b}", "name", name, "started", 1));
  cli_info(cli, "started %s\n", name);
  return 0;
}

/* The value of option opt (or its alias): "--opt V", "-a V" or "--opt=V";
 * NULL when absent. Borrowed from argv. */
static const char *opt_value(int argc, char **argv, const char *opt, const char *alias) {
  size_t n = strlen(opt);
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strncmp(argv[i], opt, n) && argv[i][n] == '=') return argv[i] + n + 1;
    if ((!strcmp(argv[i], opt) || (alias && !strcmp(argv[i], alias))) && i + 1 < argc)
      return argv[i + 1];
  }
  return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag, const char *alias) {
  for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
    if (!strcmp(argv[i], flag) || (alias && !strcmp(argv[i], alias))) return true;
  return false;
}

static int do_stop(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                   kiln_error **err) {
  const char *t = opt_value(argc, argv, "--time", "-t");
  char *end = NULL;
  long secs = t ? strtol(t, &end, 10) : -1;
  if (t && (!*t || *end || secs < 0 || secs > KILN_MAX_STOP_TIMEOUT_S))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "container stop: --time expects seconds from 0 to %d, got '%s'",
                          KILN_MAX_STOP_TIMEOUT_S, t);
  if (kiln_container_stop(s->engine, name, &s->owner, (int)secs, err) < 0) return -1;
  if (cli->json) cli_json_line(json_pack("{s:s, s:b}", "name", name, "stopped", 1));
  cli_info(cli, "stopped %s\n", name);
  return 0;
}

/* A running container whose own filesystem changed loses those changes:
 * ask on a terminal, refuse elsewhere (--force or --save decide). */
static int confirm_loss(session *s, const char *name, kiln_error **err) {
  bool running = false;
  size_t changed = 0;
  if (kiln_container_changes(s->engine, name, &s->owner, &running, &changed, err) < 0) return -1;
  if (!running || !changed) return 0;
  if (isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
    fprintf(stderr,
            "%s is running and %zu path(s) in its filesystem changed since the deploy "
            "(not the workspace or volumes); retiring discards them. Retire? [y/N] ",
            name, changed);
    char answer[16] = "";
    if (fgets(answer, sizeof answer, stdin) && (answer[0] == 'y' || answer[0] == 'Y')) return 0;
    return kiln_error_set(err, KILN_EXIT_FAILURE, "container retire: %s kept", name);
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "container retire: %s is running and %zu path(s) in its filesystem "
                        "changed since the deploy; retiring discards them: pass --save to keep "
                        "them as an image, or --force to discard them",
                        name, changed);
}

/* --save, --save=IMAGE, or --save IMAGE (the positional after NAME). */
static int do_retire(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                     kiln_error **err) {
  bool save = false;
  const char *save_as = NULL;
  bool seen_name = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--save"))
      save = true;
    else if (!strncmp(argv[i], "--save=", 7))
      save = true, save_as = argv[i] + 7;
    else if (argv[i][0] != '-' && seen_name)
      save_as = argv[i];
    else if (argv[i][0] != '-')
      seen_name = true;
  }
  if (save_as && !save)
    return kiln_error_set(err, KILN_EXIT_USAGE, "container retire: unexpected argument '%s'",
                          save_as);
  if (save && cli_check_name(save_as ? save_as : name, "image name", err) < 0) return -1;
  if (!save && !has_flag(argc, argv, "--force", "-f") && confirm_loss(s, name, err) < 0) return -1;
  _cleanup_free_ char *saved = NULL;
  if (kiln_container_retire(s->engine, name, &s->owner, save, save_as, ns_of(cli, s), &saved, err) <
      0)
    return -1;
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:b, s:s?}", "name", name, "retired", 1, "saved_image", saved));
  else if (saved)
    printf("saved %s as %s\n", name, saved);
  cli_info(cli, "retired %s\n", name);
  return 0;
}

static int do_shell(kiln_cli *cli, session *s, const char *name, int argc, char **argv,
                    kiln_error **err) {
  (void)cli;
  int dash = 0;
  for (int i = 1; i < argc && !dash; i++)
    if (!strcmp(argv[i], "--")) dash = i;
  const char *const *cmd = dash ? (const char *const *)argv + dash + 1 : NULL;
  size_t n = dash ? (size_t)(argc - dash - 1) : 0;
  int code = 0;
  if (kiln_container_shell(s->engine, name, &s->owner, cmd, n, STDIN_FILENO, STDOUT_FILENO,
                           STDERR_FILENO, &code, err) < 0)
    return -1;
  return code;
}

/* ---- logs ---- */

static const char logs_help[] =
    "usage: kiln container logs NAME [-f|--follow] [--tail N] [--all-users]\n"
    "\n"
    "The output of your container NAME: its stdout to stdout, its stderr to stderr\n"
    "(containers deployed by kiln have a terminal, which merges both into stdout).\n"
    "  --tail N        only the last N lines (default: all)\n"
    "  -f, --follow    keep printing new output until the container stops; Ctrl-C\n"
    "                  ends it (exit 130)\n";

static void end_follow(int sig) {
  (void)sig;
  _exit(128 + SIGINT); /* nothing to undo: the engine keeps the container and its logs */
}

typedef struct {
  const char *name;
  bool all_users;
  kiln_logs_options o;
} logs_args;

static int parse_tail(kiln_cli *cli, const char *t, long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtol(t, &end, 10);
  if (!strcmp(t, "all"))
    *out = -1;
  else if (!*t || *end || errno || *out < 0)
    return cli_usage(cli, "container logs", "--tail expects a number of lines or 'all', got '%s'",
                     t);
  return 0;
}

static int parse_logs(kiln_cli *cli, logs_args *a, int argc, char **argv) {
  static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
                                       {"tail", required_argument, NULL, 'n'},
                                       {"all-users", no_argument, NULL, 'a'},
                                       {NULL, 0, NULL, 0}};
  int c, r = 0;
  while (!r && (c = getopt_long(argc, argv, "fn:", opts, NULL)) != -1) {
    if (c == 'f')
      a->o.follow = true;
    else if (c == 'n')
      r = parse_tail(cli, optarg, &a->o.tail);
    else if (c == 'a')
      a->all_users = true;
    else
      r = cli_usage(cli, "container logs", "unknown option");
  }
  if (r) return r;
  if (optind >= argc) return cli_usage(cli, "container logs", "name the container");
  if (argc - optind > 1)
    return cli_usage(cli, "container logs", "unexpected argument '%s'", argv[optind + 1]);
  a->name = argv[optind];
  return 0;
}

static int cmd_logs(kiln_cli *cli, int argc, char **argv) {
  if (wants_help(argc, argv)) return fputs(logs_help, stdout), KILN_EXIT_OK;
  logs_args a = {.o = {.tail = -1, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO}};
  int r = parse_logs(cli, &a, argc, argv);
  if (r) return r;
  if (a.o.follow) signal(SIGINT, end_follow);
  session s;
  kiln_error *err = NULL;
  int rc = KILN_EXIT_OK;
  fflush(stdout);
  if (session_open(cli, &s, a.all_users, &err) < 0 ||
      kiln_container_logs(s.engine, a.name, &s.owner, &a.o, &err) < 0)
    rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static int cmd_start(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, "container start",
                   "usage: kiln container start NAME [--all-users] [--json]\n", argc, argv, false,
                   do_start);
}

static int cmd_stop(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, "container stop",
                   "usage: kiln container stop NAME [--time SECONDS] [--all-users] [--json]\n\n"
                   "Stops NAME: its stop signal first (containers run under an init, and\n"
                   "kiln's default shell stops on SIGHUP, so this takes about a second), then a\n"
                   "kill after --time seconds (default 10).\n",
                   argc, argv, false, do_stop);
}

static int cmd_retire(kiln_cli *cli, int argc, char **argv) {
  return with_name(
      cli, "container retire",
      "usage: kiln container retire NAME [--save [IMAGE] | --force] [--all-users] [--json]\n\n"
      "Stops and removes NAME. --save first commits it to IMAGE (default\n"
      "<ns>-<uid>/NAME-saved:latest), keeping its labels. A running container\n"
      "whose own filesystem changed (not the workspace or volumes) would lose\n"
      "those changes: kiln asks on a terminal and refuses elsewhere unless --save\n"
      "or --force says what to do. Unknown options are refused (exit 2).\n",
      argc, argv, true, do_retire);
}

static int cmd_shell(kiln_cli *cli, int argc, char **argv) {
  return with_name(cli, "container shell",
                   "usage: kiln container shell NAME [--all-users] [-- COMMAND...]\n\n"
                   "A shell (or COMMAND) in the running container, as you. With a terminal it\n"
                   "is interactive; piped input works too: echo id | kiln container shell NAME.\n"
                   "The exit code is the command's.\n",
                   argc, argv, false, do_shell);
}

static const kiln_command container_commands[] = {
    {"deploy", cmd_deploy, "start a container from a project or any image"},
    {"list", cmd_list, "list your containers"},
    {"start", cmd_start, "start a stopped container"},
    {"stop", cmd_stop, "stop a container"},
    {"shell", cmd_shell, "a shell or a command inside a container, as you"},
    {"logs", cmd_logs, "print (or follow) a container's output"},
    {"inspect", cmd_container_inspect, "kiln's view of a container: owner, user, state, ports"},
    {"retire", cmd_retire, "stop and remove a container (optionally saving it)"},
    {"commit", cmd_container_commit, "save a container as an image (optionally export or push)"},
    {NULL, NULL, NULL},
};

int cmd_container(kiln_cli *cli, int argc, char **argv) {
  /* DS01 aliases arrive as {"deploy", ...}: the subcommand is argv[0]. */
  for (const kiln_command *c = container_commands; c->name; c++)
    if (!strcmp(argv[0], c->name)) {
      optind = 0;
      return c->fn(cli, argc, argv);
    }
  return cli_dispatch(cli, "container", container_commands, argc, argv);
}
