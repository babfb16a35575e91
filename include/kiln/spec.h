/* kiln.yaml v1 as a C structure.
 *
 * kiln_spec_load() parses and checks a spec completely: every value that comes
 * back has passed the sanitize/ rules, paths are inside the project folder,
 * catalog names are resolved, and missing user fields hold the caller's
 * identity. Nothing downstream re-validates. */
#ifndef KILN_SPEC_H
#define KILN_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/error.h"

typedef struct kiln_catalog kiln_catalog;

/* A NULL-terminated list of owned strings plus its length. */
typedef struct {
  char **v;
  size_t n;
} kiln_strv;

typedef struct {
  char *key;
  char *value;
} kiln_kv;

typedef struct {
  kiln_kv *v;
  size_t n;
} kiln_kvv;

typedef struct {
  char *src;     /* relative to the project folder, normalised, no ".." */
  char *dest;    /* absolute path inside the image */
  unsigned mode; /* permission bits; meaningful when has_mode */
  bool has_mode;
  bool is_dir; /* src is a directory (COPY of a folder: .dockerignore applies) */
} kiln_spec_file;

typedef struct kiln_spec {
  char *path; /* the kiln.yaml as given, for messages */
  char *dir;  /* absolute, resolved project folder */
  int version;
  char *project;

  char *base_image;     /* resolved reference, always set */
  char *base_framework; /* NULL unless base.framework was used */
  char *base_version;
  char *base_python; /* base.python: "debian", "conda" or "local"; NULL = the catalog's */

  struct {
    char *name;           /* sanitized (DS01 rule) */
    char *requested_name; /* the name before sanitizing, for labels/messages */
    uint32_t uid, gid;
    bool sudo;
    char *shell; /* absolute path, default /bin/bash */
    bool allow_root;
  } user;

  struct {
    kiln_strv apt;
    kiln_strv pip;
    kiln_strv groups;          /* catalog group names, validated */
    char *requirements;        /* relative path or NULL */
    char *pip_index_url;       /* pip --index-url (kiln_check_index_url) or NULL */
    char *pip_extra_index_url; /* pip --extra-index-url or NULL */
    char *pip_find_links;      /* a folder in the project (relative, normalised): copied into
                                  the image for pip --find-links; or NULL */
  } packages;

  kiln_kvv env;
  uint16_t *ports;
  size_t n_ports;
  char *workspace; /* absolute, default /workspace */

  kiln_spec_file *files;
  size_t n_files;
  kiln_strv run; /* extra build steps, one shell command each */
  kiln_kvv labels;

  struct {
    bool enabled;
    uint16_t port;         /* default 22 */
    char *authorized_keys; /* relative path or NULL */
  } ssh;

  struct {
    char *gpus;       /* "all", a count, or a comma list of ids; NULL = none */
    char *gpu_memory; /* e.g. "8g"; NULL = none */
    char *runtime;
    uint64_t memory;    /* bytes; 0 = unlimited */
    uint64_t shm_size;  /* bytes; 0 = engine default */
    uint64_t nano_cpus; /* 1e9 per CPU; 0 = unlimited */
    kiln_strv volumes;  /* "NAME:/path[:ro]" */
    kiln_strv command;  /* exec form; empty = image default */
    kiln_strv ports;    /* kiln_parse_port_binding's grammar; published on 127.0.0.1 unless an
                           address is given */
    kiln_kvv env;       /* container environment (not baked into the image) */
    int64_t pids_limit; /* 0 = engine default, -1 = unlimited */
  } deploy;
} kiln_spec;

/* Who runs kiln; the defaults for user.* come from here. */
typedef struct {
  char *name; /* login name, unsanitized */
  uint32_t uid, gid;
  char *shell;
  bool sudo; /* from SUDO_* (kiln runs as root through sudo) */
} kiln_identity;

/* Fills *id from SUDO_UID/SUDO_GID/SUDO_USER when set and kiln runs as root
 * (through sudo; the one place this is decided),
 * else from getuid()/getgid() and getpwuid(). Caller frees with
 * kiln_identity_clear(). */
int kiln_identity_current(kiln_identity *id, kiln_error **err);
void kiln_identity_clear(kiln_identity *id);

typedef struct {
  const kiln_identity *identity; /* borrowed; required */
  const kiln_catalog *catalog;   /* borrowed; required */
  bool name_policy;              /* Colosseum rule: project/user names <= 30 chars, [a-z0-9_-] */
} kiln_spec_options;

#define KILN_SPEC_OPTIONS_INIT                                                                     \
  { NULL, NULL, false }

/* Resolves PATH the way the CLI does: a kiln.yaml file, or a folder holding
 * one, or NULL for the current folder. Returns a new string (caller frees)
 * or NULL with *err set (code KILN_EXIT_USAGE). */
char *kiln_spec_locate(const char *path, kiln_error **err);

/* Parses and checks the spec at yaml_path. On success returns a new spec
 * (free with kiln_spec_free). On failure returns NULL and *err holds every
 * problem found, each as "file:line:col: message", code KILN_EXIT_USAGE
 * (or KILN_EXIT_FAILURE when the file cannot be read). */
kiln_spec *kiln_spec_load(const char *yaml_path, const kiln_spec_options *opts, kiln_error **err);

/* Same, from memory; `name` is used in messages and `dir` is the project
 * folder that relative paths are checked against. */
kiln_spec *kiln_spec_parse(const char *name, const char *dir, const char *text, size_t len,
                           const kiln_spec_options *opts, kiln_error **err);

void kiln_spec_free(kiln_spec *spec);

#endif
