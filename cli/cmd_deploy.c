/* kiln container deploy: its options, the project spec's defaults (ports,
 * environment, volumes), the image to run and the deployed container's
 * summary. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
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
  cli_list volume_flags, env_flags, port_flags; /* -v, -e, -p */
  const char *memory, *cpus, *shm_size, *pids;  /* checked into o */
} deploy_args;

static const cli_opt deploy_opts[] = {
    CLI_VALUE("name", 0, deploy_args, o.name),
    CLI_VALUE("workspace", 0, deploy_args, o.workspace_dir),
    CLI_LIST("volume", 'v', deploy_args, volume_flags),
    CLI_FLAG("create-volumes", 0, deploy_args, o.create_volumes),
    CLI_LIST("env", 'e', deploy_args, env_flags),
    CLI_LIST("publish", 'p', deploy_args, port_flags),
    CLI_VALUE("memory", 0, deploy_args, memory),
    CLI_VALUE("cpus", 0, deploy_args, cpus),
    CLI_VALUE("shm-size", 0, deploy_args, shm_size),
    CLI_VALUE("pids-limit", 0, deploy_args, pids),
    CLI_VALUE("gpus", 0, deploy_args, o.gpus),
    CLI_VALUE("gpu-memory", 0, deploy_args, o.gpu_memory),
    CLI_VALUE("runtime", 0, deploy_args, o.runtime),
    CLI_FLAG("no-start", 0, deploy_args, o.no_start),
    CLI_FLAG("update", 0, deploy_args, update),
    CLI_FLAG("shell", 0, deploy_args, shell),
    CLI_FLAG("no-gpus", 0, deploy_args, no_gpus),
    CLI_FLAG("all-users", 0, deploy_args, o.all_users),
    {0},
};

/* The -v, -e and -p values into the arrays the spec's own are added to. */
static int take_list(kiln_cli *cli, const cli_list *flags, const char **list, size_t *n) {
  if (*n + flags->n > MAX_REPEATED)
    return cli_usage(cli, "container deploy", "more than %d of one option", MAX_REPEATED);
  for (size_t i = 0; i < flags->n; i++)
    list[(*n)++] = flags->v[i];
  return 0;
}

/* Numbers given on the command line, checked by the sanitize rules. */
static int parse_numbers(const deploy_args *a, kiln_deploy_options *o, kiln_error **err) {
  if (a->memory && kiln_parse_size(a->memory, &o->memory, err) < 0) return -1;
  if (a->shm_size && kiln_parse_size(a->shm_size, &o->shm_size, err) < 0) return -1;
  if (a->cpus && kiln_parse_cpus(a->cpus, &o->nano_cpus, err) < 0) return -1;
  if (!a->pids) return 0;
  char *end = NULL;
  long long v = strtoll(a->pids, &end, 10);
  if (!*a->pids || *end || v < -1 || v == 0)
    return kiln_error_set(err, KILN_EXIT_USAGE, "--pids-limit: expected a positive number or -1");
  o->pids_limit = v;
  return 0;
}

/* Returns 0, or an exit code (usage); *help for --help. */
static int parse_deploy(kiln_cli *cli, deploy_args *a, int argc, char **argv, bool *help) {
  kiln_deploy_options *o = &a->o;
  cli_parsed p;
  int r = cli_parse(
      cli,
      &(cli_parser){.cmd = "container deploy", .opts = deploy_opts, .max_args = cli->ds01 ? 2 : 1},
      argc, argv, a, &p);
  if (r || (*help = p.help)) return r;
  kiln_error *err = NULL;
  if (parse_numbers(a, o, &err) < 0) {
    r = cli_usage(cli, "container deploy", "%s", err->message);
    kiln_error_free(err);
    return r;
  }
  if ((r = take_list(cli, &a->volume_flags, a->volumes, &o->n_volumes)) ||
      (r = take_list(cli, &a->env_flags, a->env, &o->n_env)) ||
      (r = take_list(cli, &a->port_flags, a->ports, &o->n_ports)))
    return r;
  /* DS01's container-deploy NAME IMAGE: the first is the container's name. */
  int at = 0;
  if (p.n_args == 2) {
    if (!o->name) o->name = p.args[0];
    at = 1;
  }
  if (a->no_gpus && o->gpus)
    return cli_usage(cli, "container deploy", "--no-gpus and --gpus exclude each other");
  if (a->shell && o->no_start)
    return cli_usage(cli, "container deploy", "--shell needs a started container (not --no-start)");
  if (a->shell && cli->json) /* stdout holds the one JSON document */
    return cli_usage(cli, "container deploy",
                     "--shell does not go with --json (deploy, then 'kiln container shell')");
  a->target = at < p.n_args ? p.args[at] : NULL;
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
    kiln_shell_options so = KILN_SHELL_OPTIONS_INIT;
    if (kiln_container_shell(s->engine, a->o.name, &s->owner, &so, &code, err) < 0) return -1;
    return code;
  }
  return rc;
}

/* Under DS01's name only (its flags are rewritten there, main.c ds01_flags);
 * completion reads it from this help, so DS01's name completes DS01's flags. */
static const char deploy_ds01_help[] =
    "\nThrough DS01's container-deploy: --gpu N or --num-gpus N (--gpus N), --cpu-only\n"
    "(--no-gpus), --open (--shell), --background (the default), -w DIR (--workspace).\n";

int cmd_deploy(kiln_cli *cli, int argc, char **argv) {
  deploy_args a;
  memset(&a, 0, sizeof a);
  a.o = (kiln_deploy_options)KILN_DEPLOY_OPTIONS_INIT;
  bool help = false;
  int r = parse_deploy(cli, &a, argc, argv, &help);
  if (r) return r;
  if (help) {
    fputs(deploy_help, stdout);
    if (cli->ds01) fputs(deploy_ds01_help, stdout);
    return KILN_EXIT_OK;
  }
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
