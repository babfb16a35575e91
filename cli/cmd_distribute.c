/* kiln image export|import|push|pull|delete-remote, kiln container commit,
 * kiln tar list|delete|sync. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json_out.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "session.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define MAX_PASSWORD 4096

/* ---- options: a tiny table-driven parser ---- */

typedef struct {
  const char *name;  /* "--keep" */
  const char *alias; /* "-o" or NULL */
  bool takes_value;
} opt_def;

typedef struct {
  const char *values[16]; /* by index into the definitions; "" for flags */
  const char *args[4];
  int n_args;
  bool help;
} opt_result;

static int parse_opts(kiln_cli *cli, const char *cmd, const opt_def *defs, int max_args, int argc,
                      char **argv, opt_result *r) {
  memset(r, 0, sizeof *r);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      r->help = true;
      continue;
    }
    if (!strcmp(a, "--json")) {
      cli->json = true;
      continue;
    }
    if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
      cli->quiet = true;
      continue;
    }
    int k = 0;
    for (; defs[k].name; k++)
      if (!strcmp(a, defs[k].name) || (defs[k].alias && !strcmp(a, defs[k].alias))) break;
    if (defs[k].name) {
      if (defs[k].takes_value && i + 1 >= argc)
        return cli_usage(cli, cmd, "%s needs a value", defs[k].name);
      r->values[k] = defs[k].takes_value ? argv[++i] : "";
    } else if (a[0] == '-' && a[1]) {
      return cli_usage(cli, cmd, "unknown option '%s'", a);
    } else if (r->n_args >= max_args) {
      return cli_usage(cli, cmd, "unexpected argument '%s'", a);
    } else {
      r->args[r->n_args++] = a;
    }
  }
  return 0;
}

/* ---- progress ---- */

static void human_bytes(char *out, size_t n, double bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4)
    bytes /= 1024, u++;
  snprintf(out, n, "%.1f %s", bytes, units[u]);
}

static void on_progress(void *user, uint64_t bytes, double seconds, bool done) {
  kiln_cli *cli = user;
  bool tty = isatty(STDERR_FILENO);
  if (!done && !tty) return;
  char amount[32], rate[32];
  human_bytes(amount, sizeof amount, (double)bytes);
  human_bytes(rate, sizeof rate, seconds > 0 ? (double)bytes / seconds : 0);
  cli_info(cli, "%s%s in %.1f s (%s/s)%s", tty ? "\r\033[K" : "", amount, seconds, rate,
           done ? "\n" : "");
}

static void on_layer(void *user, const char *layer, const char *status, uint64_t current,
                     uint64_t total) {
  kiln_cli *cli = user;
  bool tty = isatty(STDERR_FILENO);
  bool final = !total; /* "Pushed", "Layer already exists", "Pull complete" */
  if (!final && !tty) return;
  if (total) {
    char a[32], b[32];
    human_bytes(a, sizeof a, (double)current);
    human_bytes(b, sizeof b, (double)total);
    cli_info(cli, "%s%.12s: %s %s/%s", tty ? "\r\033[K" : "", layer, status, a, b);
  } else {
    cli_info(cli, "%s%.12s: %s\n", tty ? "\r\033[K" : "", layer, status);
  }
}

/* ---- common set-up ---- */

static int open_session(kiln_cli *cli, session *s, kiln_error **err) {
  return session_open(cli, s, false, err);
}

/* PROJECT → the caller's image name (cli_image_ref); IMAGE as is. */
static char *image_arg(kiln_cli *cli, const char *arg, kiln_error **err) {
  char *ref = cli_image_ref(cli, arg);
  if (!ref) kiln_error_oom(err);
  return ref;
}

static int parse_keep(kiln_cli *cli, const char *cmd, const char *text, unsigned *keep) {
  char *end;
  unsigned long v = text ? strtoul(text, &end, 10) : 1;
  if (text && (*end || !*text || v < 1 || v > 10000))
    return cli_usage(cli, cmd, "--keep expects a count from 1 to 10000, got '%s'", text);
  *keep = (unsigned)v;
  return 0;
}

/* ---- export / import ---- */

static const char export_help[] =
    "usage: kiln image export PROJECT|IMAGE [-o DIR|FILE.tar[.gz|.zst]]\n"
    "                         [--compress gzip|zstd|none] [--gzip] [--keep N]\n"
    "\n"
    "Writes your image as `docker save` output to DIR/<name>-<unix time>.tar (default\n"
    "DIR: the site's shared_dir, " KILN_DEFAULT_SHARED_DIR " unless configured; admins:\n"
    "$KILN_SHARED_DIR), with a sidecar manifest <file>.json holding its sha256, size,\n"
    "image id, labels and owner_uid (you). Another user's image is refused. Files are\n"
    "written with your rights: a folder you cannot write fails, and an existing FILE is\n"
    "never replaced. The file appears under its final name only once complete.\n"
    "--keep N (default 1) then removes your older tarballs of the same image. File\n"
    "mode 0640 (admins: $KILN_TAR_MODE).\n"
    "--compress zstd (.tar.zst) or gzip (.tar.gz, also --gzip/-z) compresses it; the\n"
    "default is plain tar, or what the suffix of -o FILE says. zstd is several times\n"
    "faster than gzip at a similar size; kiln image import reads all three.\n";

enum { EXPORT_OUT, EXPORT_GZIP, EXPORT_KEEP, EXPORT_COMPRESS };
static const opt_def export_opts[] = {{"--output", "-o", true},
                                      {"--gzip", "-z", false},
                                      {"--keep", NULL, true},
                                      {"--compress", NULL, true},
                                      {NULL, NULL, false}};

/* --compress NAME, or --gzip; not both unless they agree. */
static int parse_compression(kiln_cli *cli, const opt_result *o, kiln_compression *out) {
  const char *name = o->values[EXPORT_COMPRESS];
  *out = o->values[EXPORT_GZIP] ? KILN_COMPRESS_GZIP : KILN_COMPRESS_NONE;
  kiln_compression c;
  if (!name) return 0;
  if (kiln_compression_parse(name, &c) < 0)
    return cli_usage(cli, "image export", "--compress expects gzip, zstd or none, got '%s'", name);
  if (o->values[EXPORT_GZIP] && c != KILN_COMPRESS_GZIP)
    return cli_usage(cli, "image export", "--gzip and --compress %s contradict each other", name);
  *out = c;
  return 0;
}

/* Exports image_ref; with --json the result object goes to *json_out when
 * given (a part of commit's result), else it is printed. */
static int do_export(kiln_cli *cli, session *s, const opt_result *o, const char *image_ref,
                     json_t **json_out, kiln_error **err) {
  kiln_export_options eo = KILN_EXPORT_OPTIONS_INIT;
  kiln_export_result res;
  eo.caller = s->caller;
  eo.ns = ns_of(cli, s);
  eo.image = image_ref;
  eo.output = o->values[EXPORT_OUT] ? o->values[EXPORT_OUT] : kiln_dist_shared_dir(s->config);
  if (parse_compression(cli, o, &eo.compression)) return KILN_EXIT_USAGE;
  eo.mode = kiln_dist_tar_mode();
  eo.on_progress = on_progress;
  eo.user = cli;
  eo.interrupted = &cli_interrupted;
  if (parse_keep(cli, "image export", o->values[EXPORT_KEEP], &eo.keep)) return KILN_EXIT_USAGE;
  cli_catch_interrupts();
  if (kiln_image_export(s->engine, &eo, &res, err) < 0) return -1;
  if (cli->json) {
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:i}", "image", image_ref, "file", res.path,
                  "manifest", res.manifest, "sha256", res.sha256, "size", (json_int_t)res.size,
                  "image_id", res.image_id, "pruned", (int)res.pruned);
    if (json_out)
      *json_out = j;
    else
      cli_json_line(j);
  } else if (!cli->quiet)
    printf("exported %s to %s (sha256 %.12s)%s\n", image_ref, res.path, res.sha256,
           res.pruned ? ", older tarballs removed" : "");
  kiln_export_result_clear(&res);
  return 0;
}

int cmd_image_export(kiln_cli *cli, int argc, char **argv) {
  opt_result o;
  int rc = parse_opts(cli, "image export", export_opts, 1, argc, argv, &o);
  if (rc) return rc;
  if (o.help) return fputs(export_help, stdout), KILN_EXIT_OK;
  if (o.n_args != 1) return cli_usage(cli, "image export", "name the project or image");
  session s;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = NULL;
  rc = open_session(cli, &s, &err);
  if (rc == 0 && !(ref = image_arg(cli, o.args[0], &err))) rc = -1;
  if (rc == 0) rc = do_export(cli, &s, &o, ref, NULL, &err);
  if (rc < 0) rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

static const char import_help[] =
    "usage: kiln image import FILE [--tag IMAGE] [--no-verify]\n"
    "\n"
    "Loads `docker save` output, plain, gzip or zstd, read with your rights. The whole\n"
    "archive is read first: a truncated or corrupt file, or one whose sha256 differs\n"
    "from its sidecar manifest FILE.json, is refused with nothing loaded. Names\n"
    "breaking the name policy ($KILN_NAME_POLICY=1) are refused.\n"
    "\n"
    "Names: the archive's tags are loaded only under your namespace: NAME:TAG becomes\n"
    "<ns>-<your uid>/<last part of NAME>:TAG (e.g. kiln-1001/proj:latest becomes\n"
    "kiln-1002/proj:latest for uid 1002); no other tag is created or moved. --tag\n"
    "also names the image IMAGE, which must be in your namespace. You become the\n"
    "owner: an image labelled for someone else gets your kiln.owner-uid label (a\n"
    "label-only image on top, no new layer). Admins keep the archive's tags and labels.\n";

enum { IMPORT_TAG, IMPORT_NO_VERIFY };
static const opt_def import_opts[] = {
    {"--tag", "-t", true}, {"--no-verify", NULL, false}, {NULL, NULL, false}};

static void print_import(kiln_cli *cli, const char *path, const kiln_import_result *res) {
  if (cli->json) {
    cli_json_line(json_pack("{s:s, s:s, s:O, s:b}", "file", path, "image_id", res->image_id, "tags",
                            res->tags, "verified", res->verified));
    return;
  }
  if (cli->quiet) return;
  size_t i;
  json_t *t;
  printf("loaded %.19s from %s%s\n", res->image_id, path,
         res->verified ? " (sha256 verified)" : "");
  json_array_foreach(res->tags, i, t) printf("  %s\n", kiln_familiar_ref(json_string_value(t)));
}

int cmd_image_import(kiln_cli *cli, int argc, char **argv) {
  opt_result o;
  int rc = parse_opts(cli, "image import", import_opts, 1, argc, argv, &o);
  if (rc) return rc;
  if (o.help) return fputs(import_help, stdout), KILN_EXIT_OK;
  if (o.n_args != 1) return cli_usage(cli, "image import", "name the tarball");
  session s;
  kiln_error *err = NULL;
  kiln_import_result res = {0};
  kiln_import_options io = KILN_IMPORT_OPTIONS_INIT;
  io.caller = cli->caller;
  io.ns = cli->ns;
  io.path = o.args[0];
  io.retag = o.values[IMPORT_TAG];
  io.skip_checksum = o.values[IMPORT_NO_VERIFY] != NULL;
  io.name_policy = kiln_dist_name_policy();
  io.on_progress = on_progress;
  io.user = cli;
  io.interrupted = &cli_interrupted;
  cli_catch_interrupts();
  rc = open_session(cli, &s, &err);
  if (rc == 0) rc = kiln_image_import(s.engine, &io, &res, &err);
  if (rc == 0) print_import(cli, io.path, &res);
  if (rc < 0) rc = cli_fail(cli, err);
  kiln_import_result_clear(&res);
  session_clear(&s);
  return rc;
}

/* ---- registry ---- */

enum { REG_REGISTRY, REG_TEAM, REG_USER, REG_PASSWORD_STDIN, REG_AS, REG_EXPORT, REG_PUSH };
static const opt_def registry_opts[] = {
    {"--registry", NULL, true},        {"--team", NULL, true}, {"--username", "-u", true},
    {"--password-stdin", NULL, false}, {"--as", NULL, true},   {"--export", NULL, true},
    {"--push", NULL, false},           {NULL, NULL, false}};

/* Credentials: --username with --password-stdin, else config.json. */
static int read_auth(const opt_result *o, const char *server, kiln_registry_auth *auth,
                     kiln_error **err) {
  memset(auth, 0, sizeof *auth);
  if (!(auth->server = strdup(server))) return kiln_error_oom(err);
  if (o->values[REG_PASSWORD_STDIN] && !o->values[REG_USER])
    return kiln_error_set(err, KILN_EXIT_USAGE, "--password-stdin needs --username");
  if (!o->values[REG_USER]) return kiln_registry_auth_from_config(NULL, server, auth, err);
  auth->username = strdup(o->values[REG_USER]);
  _cleanup_buf_ kiln_buf pw = KILN_BUF_INIT(MAX_PASSWORD);
  char chunk[512];
  size_t n;
  while (o->values[REG_PASSWORD_STDIN] && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
    if (kiln_buf_append(&pw, chunk, n) < 0)
      return kiln_error_set(err, KILN_EXIT_USAGE, "the password is longer than %d bytes",
                            MAX_PASSWORD);
  while (pw.len && (pw.data[pw.len - 1] == '\n' || pw.data[pw.len - 1] == '\r'))
    pw.data[--pw.len] = '\0';
  auth->password = strdup(pw.data ? pw.data : "");
  return 0;
}

static const char *registry_of(const opt_result *o) {
  return o->values[REG_REGISTRY] ? o->values[REG_REGISTRY] : kiln_dist_registry();
}

/* The team, else the caller's sanitized name: the registry sub-path. */
static char *sub_path(const opt_result *o, const session *s, kiln_error **err) {
  if (o->values[REG_TEAM]) return strdup(o->values[REG_TEAM]);
  return kiln_sanitize_username(s->identity->name ? s->identity->name : "user", err);
}

/* A remote reference: as given when it names a registry, else
 * REGISTRY/<team or user>/<project>:latest. */
static char *remote_arg(kiln_cli *cli, session *s, const opt_result *o, const char *arg,
                        kiln_error **err) {
  _cleanup_free_ char *server = NULL, *path = NULL, *reference = NULL;
  /* An image reference must name its registry; a project gets the default. */
  if (strpbrk(arg, "/:"))
    return kiln_registry_split(arg, &server, &path, &reference, err) < 0 ? NULL : strdup(arg);
  const char *reg = registry_of(o);
  if (!reg)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "no registry: give --registry HOST[:PORT] or set KILN_REGISTRY"),
           NULL;
  _cleanup_free_ char *local = image_arg(cli, arg, err);
  _cleanup_free_ char *sub = local ? sub_path(o, s, err) : NULL;
  return sub ? kiln_registry_ref(reg, sub, local, err) : NULL;
}

/* Pushes local; with --json the result object goes to *json_out when given
 * (a part of commit's result), else it is printed. */
static int push_to(kiln_cli *cli, session *s, const opt_result *o, const char *local,
                   json_t **json_out, kiln_error **err) {
  cli_catch_interrupts(); /* the temporary registry tag is removed */
  _cleanup_free_ char *remote = NULL, *server = NULL, *path = NULL, *reference = NULL;
  const char *reg = registry_of(o);
  if (!reg)
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "no registry: give --registry HOST[:PORT] or set KILN_REGISTRY");
  _cleanup_free_ char *sub = sub_path(o, s, err);
  if (!sub || !(remote = kiln_registry_ref(reg, sub, local, err))) return -1;
  if (kiln_registry_split(remote, &server, &path, &reference, err) < 0) return -1;
  kiln_registry_auth auth;
  int r = read_auth(o, server, &auth, err);
  if (r == 0) {
    kiln_transfer_options to = {
        .caller = s->caller, .ns = ns_of(cli, s), .auth = &auth, .on_layer = on_layer, .user = cli};
    r = kiln_image_push(s->engine, local, remote, &to, err);
  }
  kiln_registry_auth_clear(&auth);
  if (r < 0) return -1;
  if (cli->json) {
    json_t *j = json_pack("{s:s, s:s}", "image", local, "remote", remote);
    if (json_out)
      *json_out = j;
    else
      cli_json_line(j);
  } else if (!cli->quiet) {
    printf("pushed %s\n", remote);
  }
  return 0;
}

static int push_one(kiln_cli *cli, session *s, const opt_result *o, const char *local,
                    kiln_error **err) {
  return push_to(cli, s, o, local, NULL, err);
}

static const char push_help[] =
    "usage: kiln image push PROJECT|IMAGE [--registry HOST[:PORT]] [--team TEAM]\n"
    "                       [--username USER --password-stdin]\n"
    "\n"
    "Pushes the image as REGISTRY/<team or your user name>/<project>:<tag>. The\n"
    "registry defaults to $KILN_REGISTRY; credentials come from --username with the\n"
    "password on stdin, else from your ~/.docker/config.json (auths; under sudo the\n"
    "home directory of your account, read with your rights). Another user's image is\n"
    "refused; so is a push whose registry name is already a different local image.\n";

/* Runs fn with an open session for the single argument. */
typedef int (*session_fn)(kiln_cli *cli, session *s, const opt_result *o, const char *arg,
                          kiln_error **err);

static int with_session(kiln_cli *cli, const char *cmd, const char *help, const opt_def *defs,
                        int argc, char **argv, bool image, session_fn fn) {
  opt_result o;
  int rc = parse_opts(cli, cmd, defs, 2, argc, argv, &o);
  if (rc) return rc;
  if (o.help) return fputs(help, stdout), KILN_EXIT_OK;
  if (o.n_args < 1) return cli_usage(cli, cmd, "missing argument; see --help");
  session s;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = NULL;
  rc = open_session(cli, &s, &err);
  if (rc == 0 && image && !(ref = image_arg(cli, o.args[0], &err))) rc = -1;
  if (rc == 0) rc = fn(cli, &s, &o, ref ? ref : o.args[0], &err);
  if (rc < 0) rc = cli_fail(cli, err);
  session_clear(&s);
  return rc;
}

int cmd_image_push(kiln_cli *cli, int argc, char **argv) {
  return with_session(cli, "image push", push_help, registry_opts, argc, argv, true, push_one);
}

static int pull_one(kiln_cli *cli, session *s, const opt_result *o, const char *arg,
                    kiln_error **err) {
  cli_catch_interrupts(); /* the remote name is put back */
  _cleanup_free_ char *remote = remote_arg(cli, s, o, arg, err);
  _cleanup_free_ char *server = NULL, *path = NULL, *reference = NULL, *local = NULL, *id = NULL;
  if (!remote || kiln_registry_split(remote, &server, &path, &reference, err) < 0) return -1;
  const char *last = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  local = o->values[REG_AS]
              ? strdup(o->values[REG_AS])
              : kiln_namespace_ref(ns_of(cli, s), s->identity->uid, last,
                                   strncmp(reference, "sha256:", 7) ? reference : "latest");
  if (!local) return kiln_error_oom(err);
  if (cli_check_name(local, "image name", err) < 0) return -1;
  kiln_registry_auth auth;
  kiln_transfer_options to = {
      .caller = s->caller, .ns = ns_of(cli, s), .auth = &auth, .on_layer = on_layer, .user = cli};
  int r = read_auth(o, server, &auth, err);
  if (r == 0) r = kiln_image_pull(s->engine, remote, local, &to, &id, err);
  kiln_registry_auth_clear(&auth);
  if (r < 0) return -1;
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:s, s:s}", "remote", remote, "image", local, "image_id", id));
  else if (!cli->quiet)
    printf("pulled %s as %s (%.19s)\n", remote, local, id);
  return 0;
}

static const char pull_help[] =
    "usage: kiln image pull REF|PROJECT [--as IMAGE] [--registry HOST[:PORT]] [--team TEAM]\n"
    "                       [--username USER --password-stdin]\n"
    "\n"
    "Pulls REF (HOST[:PORT]/PATH[:TAG]), or REGISTRY/<team or user>/PROJECT:latest,\n"
    "and names it <ns>-<uid>/<project>:<tag> (or IMAGE, in your namespace) locally;\n"
    "you become its owner (as with image import).\n";

int cmd_image_pull(kiln_cli *cli, int argc, char **argv) {
  return with_session(cli, "image pull", pull_help, registry_opts, argc, argv, false, pull_one);
}

static int delete_remote_one(kiln_cli *cli, session *s, const opt_result *o, const char *arg,
                             kiln_error **err) {
  _cleanup_free_ char *remote = remote_arg(cli, s, o, arg, err);
  _cleanup_free_ char *server = NULL, *path = NULL, *reference = NULL, *digest = NULL;
  if (!remote || kiln_registry_split(remote, &server, &path, &reference, err) < 0) return -1;
  kiln_registry_auth auth;
  int r = read_auth(o, server, &auth, err);
  if (r == 0) r = kiln_registry_delete(remote, &auth, &digest, err);
  kiln_registry_auth_clear(&auth);
  if (r < 0) return kiln_error_prefix(err, "deleting %s", remote);
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:s, s:b}", "remote", remote, "digest", digest, "deleted", 1));
  else if (!cli->quiet)
    printf("deleted %s (%s)\n", remote, digest);
  return 0;
}

static const char delete_remote_help[] =
    "usage: kiln image delete-remote REF|PROJECT [--registry HOST[:PORT]] [--team TEAM]\n"
    "                                [--username USER --password-stdin]\n"
    "\n"
    "Deletes the manifest REF points at from the registry (HTTP API v2: digest\n"
    "lookup, then DELETE), where the registry allows deletes.\n";

int cmd_image_delete_remote(kiln_cli *cli, int argc, char **argv) {
  return with_session(cli, "image delete-remote", delete_remote_help, registry_opts, argc, argv,
                      false, delete_remote_one);
}

/* ---- container commit ---- */

static const char commit_help[] =
    "usage: kiln container commit NAME [IMAGE] [--export DIR|FILE] [--push --registry R]\n"
    "\n"
    "Commits your container NAME into IMAGE (default <ns>-<uid>/NAME:latest; IMAGE\n"
    "must be in your namespace), its labels carried over; then optionally exports or\n"
    "pushes the image.\n";

static int commit_one(kiln_cli *cli, session *s, const opt_result *o, const char *name,
                      kiln_error **err) {
  _cleanup_free_ char *ref = image_arg(cli, o->n_args > 1 ? o->args[1] : name, err);
  _cleanup_free_ char *id = NULL;
  kiln_commit_options co = {
      .caller = s->caller, .ns = ns_of(cli, s), .owner = &s->owner, .name = name, .ref = ref};
  if (!ref || cli_check_name(ref, "image name", err) < 0 ||
      kiln_container_commit(s->engine, &co, &id, err) < 0)
    return -1;
  if (!cli->json && !cli->quiet) printf("committed %s to %s (%.19s)\n", name, ref, id);
  _cleanup_json_ json_t *exported = NULL, *pushed = NULL;
  if (o->values[REG_EXPORT]) {
    opt_result eo = {0};
    eo.values[EXPORT_OUT] = o->values[REG_EXPORT];
    if (do_export(cli, s, &eo, ref, &exported, err) != 0) return -1;
  }
  if (o->values[REG_PUSH] && push_to(cli, s, o, ref, &pushed, err) < 0) return -1;
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "container", name, "image", ref,
                            "image_id", id, "export", exported, "push", pushed));
  return 0;
}

int cmd_container_commit(kiln_cli *cli, int argc, char **argv) {
  return with_session(cli, "container commit", commit_help, registry_opts, argc, argv, false,
                      commit_one);
}

/* ---- tar list / delete / sync ---- */

enum { TAR_DIR };
static const opt_def tar_opts[] = {{"--dir", "-d", true}, {NULL, NULL, false}};

static const char tar_help[] =
    "usage: kiln tar list [NAME] [--dir DIR] [--json]\n"
    "       kiln tar delete NAME|FILE [--dir DIR] [--json]\n"
    "       kiln tar sync [NAME] [--dir DIR] [--json]\n"
    "\n"
    "The image tarballs in DIR (default the site's shared_dir, " KILN_DEFAULT_SHARED_DIR "\n"
    "unless configured; admins: $KILN_SHARED_DIR), read with your rights. list shows\n"
    "name, time, size and whether this engine has the image; delete removes your\n"
    "tarballs of an image (or one FILE of yours); sync loads each image whose newest\n"
    "tarball of yours holds another image id than the local one, as image import\n"
    "does (in your namespace). Other users' tarballs are never deleted or synced.\n"
    "NAME is a project or image. --json: list prints one array, delete one object,\n"
    "sync one object per line ending with {\"state\":\"done\",...} (docs/json.md).\n";

/* The library's entries with the contract's names and types: file the
 * path, manifest the sidecar's path or null, created in UTC. */
static json_t *tar_list_json(json_t *items) {
  json_t *out = json_array();
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    const char *path = json_string_value(json_object_get(it, "path"));
    _cleanup_free_ char *side = NULL;
    if (json_is_true(json_object_get(it, "manifest")) && asprintf(&side, "%s.json", path) < 0)
      side = NULL;
    json_array_append_new(
        out,
        json_pack("{s:s?, s:O, s:O, s:o, s:O, s:O, s:s?, s:O, s:O, s:O}", "file", path, "image",
                  json_object_get(it, "image"), "image_id", json_object_get(it, "image_id"),
                  "created", cli_json_time(json_integer_value(json_object_get(it, "time"))), "size",
                  json_object_get(it, "size"), "sha256", json_object_get(it, "sha256"), "manifest",
                  side, "owner_uid", json_object_get(it, "owner_uid"), "file_uid",
                  json_object_get(it, "file_uid"), "local", json_object_get(it, "local")));
  }
  return out;
}

static void print_tar_list(kiln_cli *cli, json_t *items) {
  size_t i;
  json_t *it;
  if (cli->json) {
    cli_json_line(tar_list_json(items));
    return;
  }
  printf("%-48s %-20s %10s  %s\n", "IMAGE", "TIME", "SIZE", "LOCAL");
  json_array_foreach(items, i, it) {
    const char *img = json_string_value(json_object_get(it, "image"));
    time_t t = (time_t)json_integer_value(json_object_get(it, "time"));
    char when[32], size[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&t));
    human_bytes(size, sizeof size, (double)json_integer_value(json_object_get(it, "size")));
    json_t *local = json_object_get(it, "local");
    printf("%-48s %-20s %10s  %s\n", img ? img : json_string_value(json_object_get(it, "file")),
           when, size,
           json_is_true(local)    ? "yes"
           : json_is_false(local) ? "no"
                                  : "?");
  }
}

static const char *const sync_words[] = {[KILN_SYNC_CURRENT] = "current",
                                         [KILN_SYNC_LOADING] = "loading",
                                         [KILN_SYNC_LOADED] = "loaded",
                                         [KILN_SYNC_SKIPPED] = "skipped",
                                         [KILN_SYNC_FAILED] = "failed"};

static void on_sync(void *user, kiln_sync_state state, const char *image, const char *file,
                    const char *message) {
  kiln_cli *cli = user;
  if (cli->json) {
    cli_json_line(json_pack("{s:s, s:s?, s:s?, s:s?}", "state", sync_words[state], "image", image,
                            "file", file, "message", message));
    return;
  }
  if (state == KILN_SYNC_FAILED) {
    fprintf(stderr, "kiln: %s: %s\n", image ? image : file, message ? message : "failed");
    return;
  }
  if (!cli->quiet && state != KILN_SYNC_LOADING)
    printf("%s %s%s%s\n", sync_words[state], image ? image : file, message ? ": " : "",
           message ? message : "");
}

typedef enum { TAR_LIST, TAR_DELETE, TAR_SYNC } tar_action;

static int tar_run(kiln_cli *cli, tar_action action, const opt_result *o, kiln_error **err) {
  const char *dir = o->values[TAR_DIR] ? o->values[TAR_DIR] : kiln_dist_shared_dir(cli->config);
  session s;
  int rc = open_session(cli, &s, err);
  _cleanup_free_ char *name = NULL;
  const char *arg = o->n_args ? o->args[0] : NULL;
  bool is_file = arg && strstr(arg, ".tar");
  if (rc == 0 && arg && !is_file && !(name = image_arg(cli, arg, err))) rc = -1;
  if (rc == 0 && action == TAR_LIST) {
    _cleanup_json_ json_t *items = kiln_tar_list(s.engine, dir, name, err);
    if (items) print_tar_list(cli, items);
    rc = items ? 0 : -1;
  } else if (rc == 0 && action == TAR_DELETE) {
    unsigned removed = 0;
    rc = kiln_tar_delete(s.caller, dir, name ? name : arg, &removed, err);
    if (rc == 0 && cli->json)
      cli_json_line(
          json_pack("{s:s, s:i}", "target", name ? name : arg, "tarballs_removed", (int)removed));
    else if (rc == 0 && !cli->quiet)
      printf("removed %u tarball(s)\n", removed);
  } else if (rc == 0) {
    unsigned loaded = 0, failed = 0;
    cli_catch_interrupts();
    kiln_sync_options so = {.caller = s.caller,
                            .ns = ns_of(cli, &s),
                            .dir = dir,
                            .image = name,
                            .on_state = on_sync,
                            .on_progress = on_progress,
                            .user = cli,
                            .interrupted = &cli_interrupted};
    rc = kiln_tar_sync(s.engine, &so, &loaded, &failed, err);
    if (rc == 0 && cli->json)
      cli_json_line(json_pack("{s:s, s:i, s:i}", "state", "done", "loaded", (int)loaded, "failed",
                              (int)failed));
    else if (!cli->quiet && !cli->json)
      printf("%u image(s) loaded\n", loaded);
  }
  session_clear(&s);
  return rc;
}

int cmd_tar(kiln_cli *cli, int argc, char **argv) {
  static const char *const actions[] = {
      [TAR_LIST] = "list", [TAR_DELETE] = "delete", [TAR_SYNC] = "sync"};
  if (argc < 2 && cli->json) return cli_usage(cli, "tar", "name an action (list, delete, sync)");
  if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
    return fputs(tar_help, stdout), argc < 2 ? KILN_EXIT_USAGE : KILN_EXIT_OK;
  int action = -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(argv[1], actions[i])) action = i;
  if (action < 0) return cli_usage(cli, "tar", "unknown action '%s' (list, delete, sync)", argv[1]);
  opt_result o;
  int rc = parse_opts(cli, "tar", tar_opts, 1, argc - 1, argv + 1, &o);
  if (rc) return rc;
  if (o.help) return fputs(tar_help, stdout), KILN_EXIT_OK;
  if (action == TAR_DELETE && !o.n_args)
    return cli_usage(cli, "tar delete", "name the image or file");
  kiln_error *err = NULL;
  return tar_run(cli, (tar_action)action, &o, &err) < 0 ? cli_fail(cli, err) : KILN_EXIT_OK;
}
