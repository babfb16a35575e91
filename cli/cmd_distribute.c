/* kiln image export|import, and what the distribution commands share:
 * their option parser, progress lines and set-up (cmd_distribute.h; push,
 * pull, delete-remote and container commit are in cmd_registry.c, tar in
 * cmd_tar.c). */
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

/* ---- options ---- */

int dist_parse_opts(kiln_cli *cli, const char *cmd, const cli_opt *defs, int max_args, int argc,
                    char **argv, opt_result *r) {
  memset(r, 0, sizeof *r);
  return cli_parse(cli, &(cli_parser){.cmd = cmd, .opts = defs, .max_args = max_args}, argc, argv,
                   r, &r->p);
}

/* ---- progress ---- */

void dist_human_bytes(char *out, size_t n, double bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4)
    bytes /= 1024, u++;
  snprintf(out, n, "%.1f %s", bytes, units[u]);
}

void dist_on_progress(void *user, uint64_t bytes, double seconds, bool done) {
  kiln_cli *cli = user;
  bool tty = isatty(STDERR_FILENO);
  if (!done && !tty) return;
  char amount[32], rate[32];
  dist_human_bytes(amount, sizeof amount, (double)bytes);
  dist_human_bytes(rate, sizeof rate, seconds > 0 ? (double)bytes / seconds : 0);
  cli_info(cli, "%s%s in %.1f s (%s/s)%s", tty ? "\r\033[K" : "", amount, seconds, rate,
           done ? "\n" : "");
}

void dist_on_layer(void *user, const char *layer, const char *status, uint64_t current,
                   uint64_t total) {
  kiln_cli *cli = user;
  bool tty = isatty(STDERR_FILENO);
  bool final = !total; /* "Pushed", "Layer already exists", "Pull complete" */
  if (!final && !tty) return;
  if (total) {
    char a[32], b[32];
    dist_human_bytes(a, sizeof a, (double)current);
    dist_human_bytes(b, sizeof b, (double)total);
    cli_info(cli, "%s%.12s: %s %s/%s", tty ? "\r\033[K" : "", layer, status, a, b);
  } else {
    cli_info(cli, "%s%.12s: %s\n", tty ? "\r\033[K" : "", layer, status);
  }
}

/* ---- common set-up ---- */

int dist_open_session(kiln_cli *cli, session *s, kiln_error **err) {
  return session_open(cli, s, false, err);
}

/* PROJECT → the caller's image name (cli_image_ref); IMAGE as is. */
char *dist_image_arg(kiln_cli *cli, const char *arg, kiln_error **err) {
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

static const cli_opt export_opts[] = {
    CLI_VALUE("output", 'o', opt_result, output),
    CLI_FLAG("gzip", 'z', opt_result, gzip),
    CLI_VALUE("keep", 0, opt_result, keep),
    CLI_VALUE("compress", 0, opt_result, compress),
    {0},
};

/* --compress NAME, or --gzip; not both unless they agree. */
static int parse_compression(kiln_cli *cli, const opt_result *o, kiln_compression *out) {
  const char *name = o->compress;
  *out = o->gzip ? KILN_COMPRESS_GZIP : KILN_COMPRESS_NONE;
  kiln_compression c;
  if (!name) return 0;
  if (kiln_compression_parse(name, &c) < 0)
    return cli_usage(cli, "image export", "--compress expects gzip, zstd or none, got '%s'", name);
  if (o->gzip && c != KILN_COMPRESS_GZIP)
    return cli_usage(cli, "image export", "--gzip and --compress %s contradict each other", name);
  *out = c;
  return 0;
}

/* Exports image_ref; with --json the result object goes to *json_out when
 * given (a part of commit's result), else it is printed. */
int dist_do_export(kiln_cli *cli, session *s, const opt_result *o, const char *image_ref,
                   json_t **json_out, kiln_error **err) {
  kiln_export_options eo = KILN_EXPORT_OPTIONS_INIT;
  kiln_export_result res;
  eo.caller = s->caller;
  eo.ns = ns_of(cli, s);
  eo.image = image_ref;
  eo.output = o->output ? o->output : kiln_dist_shared_dir(s->config);
  if (parse_compression(cli, o, &eo.compression)) return KILN_EXIT_USAGE;
  eo.mode = kiln_dist_tar_mode();
  eo.on_progress = dist_on_progress;
  eo.user = cli;
  eo.interrupted = &cli_interrupted;
  if (parse_keep(cli, "image export", o->keep, &eo.keep)) return KILN_EXIT_USAGE;
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
  int rc = dist_parse_opts(cli, "image export", export_opts, 1, argc, argv, &o);
  if (rc) return rc;
  if (o.p.help) return fputs(export_help, stdout), KILN_EXIT_OK;
  if (o.p.n_args != 1) return cli_usage(cli, "image export", "name the project or image");
  session s;
  kiln_error *err = NULL;
  _cleanup_free_ char *ref = NULL;
  rc = dist_open_session(cli, &s, &err);
  if (rc == 0 && !(ref = dist_image_arg(cli, o.p.args[0], &err))) rc = -1;
  if (rc == 0) rc = dist_do_export(cli, &s, &o, ref, NULL, &err);
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

static const cli_opt import_opts[] = {
    CLI_VALUE("tag", 't', opt_result, tag),
    CLI_FLAG("no-verify", 0, opt_result, no_verify),
    {0},
};

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
  int rc = dist_parse_opts(cli, "image import", import_opts, 1, argc, argv, &o);
  if (rc) return rc;
  if (o.p.help) return fputs(import_help, stdout), KILN_EXIT_OK;
  if (o.p.n_args != 1) return cli_usage(cli, "image import", "name the tarball");
  session s;
  kiln_error *err = NULL;
  kiln_import_result res = {0};
  kiln_import_options io = KILN_IMPORT_OPTIONS_INIT;
  io.caller = cli->caller;
  io.ns = cli->ns;
  io.path = o.p.args[0];
  io.retag = o.tag;
  io.skip_checksum = o.no_verify;
  io.name_policy = kiln_dist_name_policy();
  io.on_progress = dist_on_progress;
  io.user = cli;
  io.interrupted = &cli_interrupted;
  cli_catch_interrupts();
  rc = dist_open_session(cli, &s, &err);
  if (rc == 0) rc = kiln_image_import(s.engine, &io, &res, &err);
  if (rc == 0) print_import(cli, io.path, &res);
  if (rc < 0) rc = cli_fail(cli, err);
  kiln_import_result_clear(&res);
  session_clear(&s);
  return rc;
}
