/* kiln image push|pull|delete-remote (registries, credentials) and kiln
 * container commit (then optionally export or push the image). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_distribute.h"
#include "json_out.h"
#include "kiln/distribute.h"
#include "sanitize/sanitize.h"
#include "session.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"
#define MAX_PASSWORD 4096

/* ---- registry ---- */

static const cli_opt registry_opts[] = {
    CLI_VALUE("registry", 0, opt_result, registry),
    CLI_VALUE("team", 0, opt_result, team),
    CLI_VALUE("username", 'u', opt_result, username),
    CLI_FLAG("password-stdin", 0, opt_result, password_stdin),
    CLI_VALUE("as", 0, opt_result, as),
    CLI_VALUE("export", 0, opt_result, export_to),
    CLI_FLAG("push", 0, opt_result, push),
    {0},
};

/* Credentials: --username with --password-stdin, else config.json. */
static int read_auth(const opt_result *o, const char *server, kiln_registry_auth *auth,
                     kiln_error **err) {
  memset(auth, 0, sizeof *auth);
  if (!(auth->server = strdup(server))) return kiln_error_oom(err);
  if (o->password_stdin && !o->username)
    return kiln_error_set(err, KILN_EXIT_USAGE, "--password-stdin needs --username");
  if (!o->username) return kiln_registry_auth_from_config(NULL, server, auth, err);
  auth->username = strdup(o->username);
  _cleanup_buf_ kiln_buf pw = KILN_BUF_INIT(MAX_PASSWORD);
  char chunk[512];
  size_t n;
  while (o->password_stdin && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
    if (kiln_buf_append(&pw, chunk, n) < 0)
      return kiln_error_set(err, KILN_EXIT_USAGE, "the password is longer than %d bytes",
                            MAX_PASSWORD);
  while (pw.len && (pw.data[pw.len - 1] == '\n' || pw.data[pw.len - 1] == '\r'))
    pw.data[--pw.len] = '\0';
  auth->password = strdup(pw.data ? pw.data : "");
  return 0;
}

static const char *registry_of(const opt_result *o) {
  return o->registry ? o->registry : kiln_dist_registry();
}

/* The team, else the caller's sanitized name: the registry sub-path. */
static char *sub_path(const opt_result *o, const session *s, kiln_error **err) {
  if (o->team) return strdup(o->team);
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
  _cleanup_free_ char *local = dist_image_arg(cli, arg, err);
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
    kiln_transfer_options to = {.caller = s->caller,
                                .ns = ns_of(cli, s),
                                .auth = &auth,
                                .on_layer = dist_on_layer,
                                .user = cli};
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

static int with_session(kiln_cli *cli, const char *cmd, const char *help, const cli_opt *defs,
                        int argc, char **argv, bool image, session_fn fn) {
  opt_result o;
  int rc = dist_parse_opts(cli, cmd, defs, 2, argc, argv, &o);
  if (rc) return rc;
  if (o.p.help) return fputs(help, stdout), KILN_EXIT_OK;
  if (o.p.n_args < 1) return cli_usage(cli, cmd, "missing argument; see --help");
  session s;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = NULL;
  rc = dist_open_session(cli, &s, &err);
  if (rc == 0 && image && !(ref = dist_image_arg(cli, o.p.args[0], &err))) rc = -1;
  if (rc == 0) rc = fn(cli, &s, &o, ref ? ref : o.p.args[0], &err);
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
  local = o->as ? strdup(o->as)
                : kiln_namespace_ref(ns_of(cli, s), s->identity->uid, last,
                                     strncmp(reference, "sha256:", 7) ? reference : "latest");
  if (!local) return kiln_error_oom(err);
  if (cli_check_name(local, "image name", err) < 0) return -1;
  kiln_registry_auth auth;
  kiln_transfer_options to = {.caller = s->caller,
                              .ns = ns_of(cli, s),
                              .auth = &auth,
                              .on_layer = dist_on_layer,
                              .user = cli};
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
  _cleanup_free_ char *ref = dist_image_arg(cli, o->p.n_args > 1 ? o->p.args[1] : name, err);
  _cleanup_free_ char *id = NULL;
  kiln_commit_options co = {
      .caller = s->caller, .ns = ns_of(cli, s), .owner = &s->owner, .name = name, .ref = ref};
  if (!ref || cli_check_name(ref, "image name", err) < 0 ||
      kiln_container_commit(s->engine, &co, &id, err) < 0)
    return -1;
  if (!cli->json && !cli->quiet) printf("committed %s to %s (%.19s)\n", name, ref, id);
  _cleanup_json_ json_t *exported = NULL, *pushed = NULL;
  if (o->export_to) {
    opt_result eo = {0};
    eo.output = o->export_to;
    if (dist_do_export(cli, s, &eo, ref, &exported, err) != 0) return -1;
  }
  if (o->push && push_to(cli, s, o, ref, &pushed, err) < 0) return -1;
  if (cli->json)
    cli_json_line(json_pack("{s:s, s:s, s:s, s:O?, s:O?}", "container", name, "image", ref,
                            "image_id", id, "export", exported, "push", pushed));
  return 0;
}

int cmd_container_commit(kiln_cli *cli, int argc, char **argv) {
  return with_session(cli, "container commit", commit_help, registry_opts, argc, argv, false,
                      commit_one);
}
