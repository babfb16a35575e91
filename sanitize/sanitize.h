/* Rules for untrusted text. Every value from kiln.yaml or the command line
 * passes one of these before it reaches a Dockerfile, a shell or the engine.
 *
 * Checks return 0 when the value is acceptable, or -1 with *err set to a
 * message that says what was expected (code KILN_EXIT_USAGE); the caller
 * prefixes the location ("kiln.yaml:3:7: "). pcre2 patterns are compiled once,
 * on first use, and kept for the life of the process. */
#ifndef KILN_SANITIZE_H
#define KILN_SANITIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln/error.h"
#include "limits.h"

/* DS01 user-name rule: '@' → "-at-", '.' → '-', other characters outside
 * [a-z0-9_-] → '-', lowercased, runs of '-' collapsed, leading/trailing '-'
 * dropped; must then start with [a-z_]. Longer than KILN_MAX_USER_NAME: cut
 * and suffixed with '-' and 6 hex digits of sha256(original) so two long names
 * never collide. Returns a new string or NULL with *err set (empty result or
 * no valid first character). */
char *kiln_sanitize_username(const char *raw, kiln_error **err);

/* The home folder of user `name` (already sanitized) with that uid inside an
 * image: /root for uid 0 (root keeps its own), else /home/<name>. Returns a
 * new string, or NULL when out of memory. */
char *kiln_user_home(const char *name, uint32_t uid);

/* uid/gid: 1..KILN_MAX_ID, or 0 when allow_root. `what` is "uid" or "gid". */
int kiln_check_id(uint64_t id, bool allow_root, const char *what, kiln_error **err);

/* Parses a decimal id string ("1722830498") with the same range rule. */
int kiln_parse_id(const char *s, bool allow_root, const char *what, uint32_t *out,
                  kiln_error **err);

/* Docker reference grammar: [host[:port]/]path[:tag][@digest], lowercase path
 * components, tag [\w][\w.-]{0,127}. */
int kiln_check_image_ref(const char *ref, kiln_error **err);
int kiln_check_tag(const char *tag, kiln_error **err);

/* The name as docker shows it: without the "docker.io/library/" or
 * "docker.io/" Podman and containerd's image store put in front (Podman's
 * RepoTags read "docker.io/ns-1000/proj:latest"). Points into ref. */
const char *kiln_familiar_ref(const char *ref);

/* Project name: [a-z0-9][a-z0-9_.-]*, <= KILN_MAX_PROJECT_NAME; it becomes an
 * image repository path component, so it must also satisfy that grammar.
 * With policy: <= KILN_POLICY_MAX_NAME and only '-' and '_' as separators. */
int kiln_check_project_name(const char *name, bool policy, kiln_error **err);
/* Colosseum policy for any name (user, project): length and characters. */
int kiln_check_name_policy(const char *name, const char *what, kiln_error **err);

/* A volume name a user gives (-v NAME:/path, deploy.volumes, volume
 * create): docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*, <= KILN_MAX_VOLUME_NAME. */
int kiln_check_volume_name(const char *name, kiln_error **err);

/* Label key: reverse-DNS style [a-z0-9]([a-z0-9._-]*[a-z0-9])?, and the
 * "kiln." namespace is reserved for kiln itself. */
int kiln_check_label_key(const char *key, kiln_error **err);
/* Env name: [A-Za-z_][A-Za-z0-9_]*. */
int kiln_check_env_name(const char *name, kiln_error **err);
/* Any free text placed in a Dockerfile (label/env values, paths): no control
 * characters (C0 including newline and tab, and DEL), valid UTF-8 (no
 * overlong forms or surrogates), <= max bytes. Empty text is fine. */
int kiln_check_text(const char *value, size_t max, const char *what, kiln_error **err);
/* Debian package name (policy §5.6.1) with optional "=version" pin. */
int kiln_check_apt_package(const char *name, kiln_error **err);
/* PEP 508 name with optional extras and a version specifier, no URLs, no
 * options (nothing starting with '-'). */
int kiln_check_pip_package(const char *name, kiln_error **err);
/* A package index for pip (packages.pip_index_url, pip_extra_index_url):
 * http:// or https://, a host name (or [IPv6]), an optional port and path;
 * no credentials, quotes, spaces, '$' or control characters. what names
 * the key in the message. */
int kiln_check_index_url(const char *url, const char *what, kiln_error **err);
/* A build step for `RUN`: text rule, plus no trailing backslash (which would
 * join the next Dockerfile line). */
int kiln_check_run_command(const char *cmd, kiln_error **err);
/* Absolute path inside the image: starts with '/', no "..", no control chars,
 * no '$' or quote characters (Dockerfile variable expansion). */
int kiln_check_image_path(const char *path, const char *what, kiln_error **err);

/* A path inside the project folder: relative, no "..", resolved with
 * realpath so a symlink leaving project_dir is refused, and it must exist
 * as a regular file or a folder (a FIFO, socket or device is refused).
 * On success *normalized is a new string relative to project_dir (no "./",
 * no double slashes) and *is_dir says whether it is a folder. */
int kiln_check_project_path(const char *project_dir, const char *rel, const char *what,
                            char **normalized, bool *is_dir, kiln_error **err);

/* A COPY source as written in the spec (files[].src, requirements,
 * ssh.authorized_keys): Docker expands '$' variables, '\\' escapes and the
 * globs '*', '?', '[' in COPY sources even in JSON form, so they would copy
 * another path; all are refused. */
int kiln_check_copy_source(const char *src, const char *what, kiln_error **err);

/* A mount target inside a container (-v, deploy.volumes): an image path
 * (kiln_check_image_path) that is not "/" nor one of the system trees
 * /proc, /sys, /dev, /etc, /usr, /bin, /sbin, /lib*, /boot or below them. */
int kiln_check_mount_target(const char *path, const char *what, kiln_error **err);

/* Numbers from the spec and the command line. */
int kiln_parse_port(const char *s, uint16_t *out, kiln_error **err); /* 1..65535 */
int kiln_parse_mode(const char *s, unsigned *out, kiln_error **err); /* octal, <= 07777 */
/* A published port: [IP:]HOST:CONTAINER[/proto], IP::CONTAINER[/proto] or
 * CONTAINER[/proto] (docker's -p), IPv6 in brackets ([::1]:8080:80); proto
 * tcp (default) or udp; IP a literal IPv4/IPv6 address. Unset parts stay
 * empty/0: deploy then binds 127.0.0.1 and lets the engine pick the host
 * port. Errors name the value and the grammar. */
typedef struct {
  char host_ip[KILN_MAX_HOST_IP]; /* "" = not given */
  uint16_t host_port;             /* 0 = not given (random) */
  uint16_t container_port;
  char proto[4]; /* "tcp" or "udp" */
} kiln_port_binding;
int kiln_parse_port_binding(const char *s, kiln_port_binding *out, kiln_error **err);
/* Sizes: 512, 64m, 8g, 1.5g. Units b, k, m, g, t (optionally followed by
 * "b" or "ib", any case) are binary: 1k = 1024. Up to 9 decimals, rounded
 * down to whole bytes. 0 is refused: leaving the setting out means "no
 * limit", so a 0 would only be ambiguous. */
int kiln_parse_size(const char *s, uint64_t *out, kiln_error **err);
/* CPUs: "0.5", "2" → nano-CPUs (1e9 each); > 0, <= 1024, up to 9 decimals. */
int kiln_parse_cpus(const char *s, uint64_t *nano_out, kiln_error **err);
/* gpus: "all", a count 1..1024, or a comma list of ids ([A-Za-z0-9-]+, not
 * all digits: a lone "0" is a count, and refused). */
int kiln_check_gpus(const char *s, kiln_error **err);

/* Shell single-quoting: returns a new string 'like'\''this' that a POSIX sh
 * reads back as exactly the input. NULL only when out of memory. */
char *kiln_shell_quote(const char *s);

/* Suggests the closest of candidates (NULL-terminated) to word by edit
 * distance, or NULL when nothing is close. Borrowed result. */
const char *kiln_did_you_mean(const char *word, const char *const *candidates);

/* Frees the compiled patterns (tests and sanitizers call it at exit). */
void kiln_sanitize_cleanup(void);

#endif
