/* The kiln command line: shared state, the command table type, and the
 * helpers every cmd_<group>.c uses. cli/ is the only code that prints. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "kiln/access.h"
#include "kiln/config.h"
#include "kiln/engine.h"
#include "kiln/image.h"
#include "kiln/kiln.h"

/* Global options, parsed before the command name. */
typedef struct {
  bool json;                 /* --json: one JSON document on stdout (docs/json.md) */
  bool quiet;                /* --quiet: only results and errors */
  bool color;                /* false with --no-color, NO_COLOR or when stdout is no TTY */
  bool tty;                  /* stdout is a terminal */
  bool ds01;                 /* run through a DS01 name (image-create, container-deploy, ...) */
  const char *host;          /* --host, else DOCKER_HOST, else the default socket */
  const char *ns;            /* --namespace / KILN_NAMESPACE, else the site's namespace */
  const kiln_config *config; /* the site configuration (kiln_access_begin) */
  const kiln_caller *caller; /* who runs kiln (kiln_access_begin) */
} kiln_cli;

typedef int (*kiln_cmd_fn)(kiln_cli *cli, int argc, char **argv);

typedef struct {
  const char *name;
  kiln_cmd_fn fn;
  const char *summary; /* one line for `kiln help` */
} kiln_command;

/* Runs the entry of table named argv[0]; prints the table as help for
 * "help", "--help", "-h" or no argument. `group` is "image", "container", ...
 * Returns an exit code. */
int cli_dispatch(kiln_cli *cli, const char *group, const kiln_command *table, int argc,
                 char **argv);

/* A usage error for an unknown (sub)command word, with "did you mean" the
 * closest name of table or more (NULL-terminated; either may be NULL). */
int cli_unknown_command(kiln_cli *cli, const char *group, const char *word,
                        const kiln_command *table, const char *const *more);

/* Prints every error in the chain once ("kiln: message" on stderr, or with
 * --json one object {"error", "code", "errors"} on stdout), frees it, and
 * returns its exit code. */
int cli_fail(kiln_cli *cli, kiln_error *err);
/* A usage error for command cmd; prints "kiln CMD: message" and a hint to
 * --help, returns KILN_EXIT_USAGE. */
int cli_usage(kiln_cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress and information for people: stderr, suppressed by --quiet and
 * --json. */
/* Prints the context's warnings (named paths .dockerignore excludes). */
void cli_context_warnings(kiln_cli *cli, const kiln_context *ctx);
void cli_info(kiln_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Everything needed to turn PATH into a checked spec: locate kiln.yaml, read
 * the caller's identity, find templates and the catalog, parse. On success
 * the context owns all of it; release with cli_spec_context_clear(). */
typedef struct {
  char *yaml_path;
  char *templates_dir;
  kiln_identity identity;
  kiln_catalog *catalog;
  kiln_spec *spec;
} cli_spec_context;

int cli_load_spec(kiln_cli *cli, const char *path, cli_spec_context *ctx, kiln_error **err);
void cli_spec_context_clear(cli_spec_context *ctx);

/* The name policy ($KILN_NAME_POLICY=1, Colosseum's rule) for every name
 * kiln creates: what is "container name", "volume name" or "image name";
 * for an image reference the repository's last part is checked
 * ("kiln-1000/My_Proj:v1" → "My_Proj"). 0 when the policy is off or the
 * name fits; -1 with *err (code KILN_EXIT_USAGE) otherwise. */
int cli_check_name(const char *name, const char *what, kiln_error **err);

/* Whether argv (after argv[0], up to a "--") asks for --help or -h. */

/* Opens the engine named by --host / DOCKER_HOST, watching cli_interrupted.
 * NULL with *err set. */
struct kiln_engine *cli_engine_open(kiln_cli *cli, kiln_error **err);

/* The one interrupt rule of the commands that undo their work (build,
 * export, import, push, pull, tar sync): cli_catch_interrupts() makes SIGINT,
 * SIGTERM and SIGHUP only record the signal in cli_interrupted; the library
 * checks it (every engine transfer within about a second), undoes what it
 * made and reports kiln_error_interrupted: "interrupted by SIGINT", exit
 * 128 + the signal. Other commands keep the default (the signal ends them
 * at once, with the same exit status). */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_interrupts(void);

/* The image name kiln gives PROJECT for the caller: "<ns>-<uid>/<project>:latest";
 * an argument holding '/' or ':' is taken as an image reference as it is.
 * Returns a new string. */
char *cli_image_ref(kiln_cli *cli, const char *project_or_ref);

/* "yes" when the image whose labels these are would be built differently
 * now (the spec at its kiln.spec-path, the files it copies, or — with an
 * engine — the base image's id changed), "no" when not, "?" when the spec
 * cannot be read or the image is not the caller's. Static string. */
const char *cli_image_stale(kiln_cli *cli, struct kiln_engine *engine, json_t *labels);

/* Builds (or finds up to date) the project at path (NULL: here), printing
 * progress as `kiln image create` does. Returns an exit code. */
int cli_build(kiln_cli *cli, const char *path, kiln_build_options *opts);

/* Writes len bytes of data to path through a temporary name in the same
 * folder (fsync, then rename), with the caller's rights (kiln_fs_*): a
 * reader never sees half a file, a failure leaves what was there. With
 * noreplace an existing path is kept and the error (errno EEXIST) says so. */
int cli_write_atomically(const char *path, const char *data, size_t len, bool noreplace,
                         kiln_error **err);

/* bytes for people: "164.1 MB" (powers of 1000), into out (n bytes). */
void cli_human_size(json_int_t bytes, char *out, size_t n);

/* Writes one JSON document as one line on stdout and drops the reference:
 * the only place kiln prints JSON (cli/json_out.c; contract in docs/json.md).
 * A command calls it once (streams: once per event). */
void cli_json_line(json_t *value);

/* Command groups, one file each. */
int cmd_generate(kiln_cli *cli, int argc, char **argv);  /* cmd_spec.c */
int cmd_validate(kiln_cli *cli, int argc, char **argv);  /* cmd_spec.c */
int cmd_init(kiln_cli *cli, int argc, char **argv);      /* cmd_init.c */
int cmd_image(kiln_cli *cli, int argc, char **argv);     /* cmd_image.c */
int cmd_context(kiln_cli *cli, int argc, char **argv);   /* cmd_image.c */
int cmd_container(kiln_cli *cli, int argc, char **argv); /* cmd_container.c */
int cmd_deploy(kiln_cli *cli, int argc,
               char **argv); /* cmd_deploy.c; the container table lists it */
int cmd_volume(kiln_cli *cli, int argc, char **argv);  /* cmd_volume.c */
int cmd_gc(kiln_cli *cli, int argc, char **argv);      /* cmd_gc.c */
int cmd_catalog(kiln_cli *cli, int argc, char **argv); /* cmd_catalog.c */
/* Distribution (cmd_distribute.c); the image/container tables list them. */
int cmd_image_export(kiln_cli *cli, int argc, char **argv);
int cmd_image_import(kiln_cli *cli, int argc, char **argv);
int cmd_image_push(kiln_cli *cli, int argc, char **argv);
int cmd_image_pull(kiln_cli *cli, int argc, char **argv);
int cmd_image_delete_remote(kiln_cli *cli, int argc, char **argv);
int cmd_container_commit(kiln_cli *cli, int argc, char **argv);
int cmd_tar(kiln_cli *cli, int argc, char **argv);
/* kiln's view of one image or container (cmd_inspect.c). */
int cmd_image_inspect(kiln_cli *cli, int argc, char **argv);
int cmd_container_inspect(kiln_cli *cli, int argc, char **argv);

#endif
