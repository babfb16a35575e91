/* kiln.yaml → kiln_spec: defaults from the caller, every key, and every way
 * a spec can be wrong, each asserted with its exit code and the exact
 * "kiln.yaml:LINE:COL: message" the user sees. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln/generate.h"
#include "kiln/spec.h"
#include "sanitize/limits.h"
#include "util/buf.h"
#include "util/cleanup.h"

#include "kt_check.h"

static kiln_catalog *catalog;
static char project_dir[64];
static kiln_identity identity;
static char id_name[] = "Jane.Doe@Lab", id_shell[] = "/bin/zsh", root_name[] = "root",
            bash[] = "/bin/bash", bad_shell[] = "bad shell";
static kiln_spec_options opts;
static kiln_error *err;
static kiln_spec *spec;

static void write_file(const char *rel, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", project_dir, rel);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static void setup(void) {
  catalog = kiln_catalog_load(KILN_SOURCE_TEMPLATES_DIR, &err);
  ck_assert_msg(catalog, "catalog: %s", err ? err->message : "?");
  snprintf(project_dir, sizeof project_dir, "/tmp/kiln-test-spec-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(project_dir));
  char path[512];
  snprintf(path, sizeof path, "%s/data", project_dir);
  ck_assert_int_eq(mkdir(path, 0755), 0);
  write_file("requirements.txt", "numpy\n");
  write_file("keys.pub", "ssh-ed25519 AAAA test\n");
  write_file("data/a.csv", "1,2\n");
  snprintf(path, sizeof path, "%s/escape", project_dir);
  ck_assert_int_eq(symlink("/etc/passwd", path), 0);
  identity = (kiln_identity){.name = id_name, .uid = 1722830498, .gid = 1000, .shell = id_shell};
  opts = (kiln_spec_options)KILN_SPEC_OPTIONS_INIT;
  opts.identity = &identity;
  opts.catalog = catalog;
}

static void teardown(void) {
  kiln_spec_free(spec);
  spec = NULL;
  kiln_error_free(err);
  err = NULL;
  kiln_catalog_free(catalog);
  ck_assert_int_eq(chdir("/"), 0); /* a test may have entered the project folder */
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", project_dir);
  ck_assert_int_eq(system(cmd), 0);
}

static kiln_spec *parse(const char *yaml) {
  kiln_spec_free(spec);
  kiln_error_free(err);
  err = NULL;
  spec = kiln_spec_parse("kiln.yaml", project_dir, yaml, strlen(yaml), &opts, &err);
  return spec;
}

static kiln_spec *parse_ok(const char *yaml) {
  kiln_spec *s = parse(yaml);
  ck_assert_msg(s, "unexpected error: %s", err ? err->message : "?");
  ck_assert_ptr_null(err);
  return s;
}

/* Asserts that parsing fails with code USAGE and that one of the errors is
 * exactly `message`. */
static void assert_error(const char *yaml, const char *message) {
  ck_assert_ptr_null(parse(yaml));
  ck_assert_ptr_nonnull(err);
  _cleanup_buf_ kiln_buf all = KILN_BUF_INIT(1 << 20);
  for (const kiln_error *e = err; e; e = e->next) {
    ck_assert_int_eq(e->code, KILN_EXIT_USAGE);
    if (!strcmp(e->message, message)) return;
    kiln_buf_printf(&all, "\n  %s", e->message);
  }
  ck_abort_msg("expected error\n  %s\ngot:%s", message, all.data);
}

#define BASE "project: demo\nbase: {image: debian:bookworm-slim}\n"

/* ---- good specs ---- */

START_TEST(minimal_spec_takes_defaults_from_identity) {
  kiln_spec *s = parse_ok("project: demo\nbase:\n  image: debian:bookworm-slim\n");
  ck_assert_int_eq(s->version, 1);
  ck_assert_str_eq(s->project, "demo");
  ck_assert_str_eq(s->base_image, "debian:bookworm-slim");
  ck_assert_ptr_null(s->base_framework);
  ck_assert_str_eq(s->user.name, "jane-doe-at-lab");
  ck_assert_str_eq(s->user.requested_name, "Jane.Doe@Lab");
  ck_assert_uint_eq(s->user.uid, 1722830498);
  ck_assert_uint_eq(s->user.gid, 1000);
  ck_assert_str_eq(s->user.shell, "/bin/zsh");
  ck_assert(!s->user.sudo);
  ck_assert(!s->user.allow_root);
  ck_assert_str_eq(s->workspace, "/workspace");
  ck_assert(!s->ssh.enabled);
  ck_assert_uint_eq(s->ssh.port, 22);
  ck_assert_uint_eq(s->n_ports, 0);
  ck_assert_uint_eq(s->n_files, 0);
  ck_assert_uint_eq(s->run.n, 0);
  ck_assert_uint_eq(s->deploy.command.n, 0);
  ck_assert_str_eq(s->path, "kiln.yaml");
  ck_assert_str_eq(s->dir, project_dir);
}
END_TEST

START_TEST(every_key) {
  kiln_spec *s = parse_ok("version: 1\n"
                          "project: vision-lab\n"
                          "base: {framework: pytorch, version: 2.3-cuda12.1}\n"
                          "user:\n"
                          "  name: Bob.Smith\n"
                          "  uid: 2000\n"
                          "  gid: 3000\n"
                          "  sudo: YES\n"
                          "  shell: /bin/sh\n"
                          "  allow_root: no\n"
                          "packages:\n"
                          "  apt: [vim, git=1:2.39.2-1.1]\n"
                          "  pip: ['torch>=2.1,<3', numpy]\n"
                          "  requirements: ./requirements.txt\n"
                          "  groups: [jupyter, cv]\n"
                          "  pip_index_url: https://pypi.example.org/simple\n"
                          "  pip_extra_index_url: 'http://[::1]:3141/root/+simple/'\n"
                          "  pip_find_links: ./data/\n"
                          "env: {LANG: C.UTF-8, WORKERS: 4, DEBUG: true, EMPTY: }\n"
                          "ports: [8888, \"6006\"]\n"
                          "workspace: /home/bob/work\n"
                          "files:\n"
                          "  - {src: data, dest: /data}\n"
                          "  - {src: requirements.txt, dest: /opt/req.txt, mode: 644}\n"
                          "  - {src: keys.pub, dest: /opt/k, mode: '0600'}\n"
                          "run:\n"
                          "  - echo hi\n"
                          "  - pip list | grep torch\n"
                          "labels: {org.example.team: vision, org.example.cost: 42}\n"
                          "ssh: {enabled: true, port: 2222, authorized_keys: keys.pub}\n"
                          "deploy:\n"
                          "  gpus: 2\n"
                          "  gpu_memory: 8g\n"
                          "  runtime: nvidia\n"
                          "  memory: 16g\n"
                          "  cpus: 1.5\n"
                          "  shm_size: 1g\n"
                          "  volumes: ['cache:/cache', 'ds.v2:/datasets:ro']\n"
                          "  command: [python, train.py, --epochs, '3']\n");
  ck_assert_str_eq(s->project, "vision-lab");
  ck_assert_str_eq(s->base_framework, "pytorch");
  ck_assert_str_eq(s->base_version, "2.3-cuda12.1");
  ck_assert_str_eq(s->base_image, "pytorch/pytorch:2.3.1-cuda12.1-cudnn8-runtime");
  ck_assert_str_eq(s->user.name, "bob-smith");
  ck_assert_str_eq(s->user.requested_name, "Bob.Smith");
  ck_assert_uint_eq(s->user.uid, 2000);
  ck_assert_uint_eq(s->user.gid, 3000);
  ck_assert(s->user.sudo);
  ck_assert_str_eq(s->user.shell, "/bin/sh");
  ck_assert(!s->user.allow_root);
  ck_assert_uint_eq(s->packages.apt.n, 2);
  ck_assert_str_eq(s->packages.apt.v[1], "git=1:2.39.2-1.1");
  ck_assert_ptr_null(s->packages.apt.v[2]);
  ck_assert_uint_eq(s->packages.pip.n, 2);
  ck_assert_str_eq(s->packages.pip.v[0], "torch>=2.1,<3");
  ck_assert_str_eq(s->packages.requirements, "requirements.txt");
  ck_assert_uint_eq(s->packages.groups.n, 2);
  ck_assert_str_eq(s->packages.groups.v[1], "cv");
  ck_assert_str_eq(s->packages.pip_index_url, "https://pypi.example.org/simple");
  ck_assert_str_eq(s->packages.pip_extra_index_url, "http://[::1]:3141/root/+simple/");
  ck_assert_str_eq(s->packages.pip_find_links, "data");
  ck_assert_uint_eq(s->env.n, 4);
  ck_assert_str_eq(s->env.v[1].key, "WORKERS");
  ck_assert_str_eq(s->env.v[1].value, "4");
  ck_assert_str_eq(s->env.v[2].value, "true");
  ck_assert_str_eq(s->env.v[3].value, "");
  ck_assert_uint_eq(s->n_ports, 2);
  ck_assert_uint_eq(s->ports[0], 8888);
  ck_assert_uint_eq(s->ports[1], 6006);
  ck_assert_str_eq(s->workspace, "/home/bob/work");
  ck_assert_uint_eq(s->n_files, 3);
  ck_assert_str_eq(s->files[0].src, "data");
  ck_assert(s->files[0].is_dir);
  ck_assert(!s->files[0].has_mode);
  ck_assert_str_eq(s->files[1].dest, "/opt/req.txt");
  ck_assert(!s->files[1].is_dir);
  ck_assert(s->files[1].has_mode);
  ck_assert_uint_eq(s->files[1].mode, 0644);
  ck_assert_uint_eq(s->files[2].mode, 0600);
  ck_assert_uint_eq(s->run.n, 2);
  ck_assert_str_eq(s->run.v[1], "pip list | grep torch");
  ck_assert_uint_eq(s->labels.n, 2);
  ck_assert_str_eq(s->labels.v[1].value, "42");
  ck_assert(s->ssh.enabled);
  ck_assert_uint_eq(s->ssh.port, 2222);
  ck_assert_str_eq(s->ssh.authorized_keys, "keys.pub");
  ck_assert_str_eq(s->deploy.gpus, "2");
  ck_assert_str_eq(s->deploy.gpu_memory, "8g");
  ck_assert_str_eq(s->deploy.runtime, "nvidia");
  ck_assert_uint_eq(s->deploy.memory, 16ull << 30);
  ck_assert_uint_eq(s->deploy.nano_cpus, 1500000000ull);
  ck_assert_uint_eq(s->deploy.shm_size, 1ull << 30);
  ck_assert_uint_eq(s->deploy.volumes.n, 2);
  ck_assert_str_eq(s->deploy.volumes.v[1], "ds.v2:/datasets:ro");
  ck_assert_uint_eq(s->deploy.command.n, 4);
  ck_assert_str_eq(s->deploy.command.v[3], "3");
  ck_assert_ptr_null(s->deploy.command.v[4]);
}
END_TEST

START_TEST(command_string_runs_through_sh) {
  kiln_spec *s = parse_ok(BASE "deploy: {command: 'sleep infinity'}\n");
  ck_assert_uint_eq(s->deploy.command.n, 3);
  ck_assert_str_eq(s->deploy.command.v[0], "/bin/sh");
  ck_assert_str_eq(s->deploy.command.v[1], "-c");
  ck_assert_str_eq(s->deploy.command.v[2], "sleep infinity");
}
END_TEST

START_TEST(deploy_ports_env_pids_limit) {
  kiln_spec *s = parse_ok(BASE "ports: [8888]\n"
                               "deploy:\n"
                               "  ports: [8080, '127.0.0.1:18123:9000', '[::1]::53/udp']\n"
                               "  env: {TOKEN: abc, MODE: 'a b'}\n"
                               "  pids_limit: 512\n");
  ck_assert_uint_eq(s->n_ports, 1);
  ck_assert_uint_eq(s->deploy.ports.n, 3);
  ck_assert_str_eq(s->deploy.ports.v[0], "8080");
  ck_assert_str_eq(s->deploy.ports.v[1], "127.0.0.1:18123:9000");
  ck_assert_str_eq(s->deploy.ports.v[2], "[::1]::53/udp");
  ck_assert_uint_eq(s->deploy.env.n, 2);
  ck_assert_str_eq(s->deploy.env.v[1].key, "MODE");
  ck_assert_str_eq(s->deploy.env.v[1].value, "a b");
  ck_assert_int_eq(s->deploy.pids_limit, 512);
  kiln_spec *u = parse_ok(BASE "deploy: {pids_limit: -1}\n");
  ck_assert_int_eq(u->deploy.pids_limit, -1);
}
END_TEST

START_TEST(nulls_are_absent) {
  kiln_spec *s = parse_ok("# a comment\n" BASE "user:\nenv: ~\nports: null\nworkspace:\n");
  ck_assert_str_eq(s->workspace, "/workspace");
  ck_assert_uint_eq(s->user.uid, 1722830498);
  ck_assert_uint_eq(s->env.n, 0);
}
END_TEST

START_TEST(uid_in_range_and_root_with_allow_root) {
  kiln_spec *s = parse_ok(BASE "user: {uid: 1722830498, gid: 4294967294}\n");
  ck_assert_uint_eq(s->user.uid, 1722830498);
  ck_assert_uint_eq(s->user.gid, 4294967294u);
  s = parse_ok(BASE "user: {name: root, uid: 0, gid: 0, allow_root: true}\n");
  ck_assert_uint_eq(s->user.uid, 0);
  ck_assert_str_eq(s->user.name, "root");
}
END_TEST

START_TEST(unusable_identity_shell_falls_back_to_bash) {
  identity.shell = bad_shell;
  ck_assert_str_eq(parse_ok(BASE)->user.shell, "/bin/bash");
}
END_TEST

/* ---- bad specs: one table, exact messages ---- */

typedef struct {
  const char *yaml;
  const char *message;
} bad_case;

static const bad_case bad_cases[] = {
    /* YAML syntax */
    {"project: \"demo\nbase: x\n",
     "kiln.yaml:1:10: invalid YAML: a quoted scalar is not closed (found unexpected end of "
     "stream at 3:1)"},
    {"project: demo\n  base: x\n",
     "kiln.yaml:2:7: invalid YAML: mapping values are not allowed in this context"},
    {"project: demo\nbase: {image: x\n",
     "kiln.yaml:2:7: invalid YAML: a flow mapping is not closed (did not find expected ',' or "
     "'}' at 3:1)"},
    {BASE "---\nproject: other\n",
     "kiln.yaml:3:1: a second YAML document (---); expected exactly one"},
    {"", "kiln.yaml:1:1: the file is empty; expected at least project: and base:"},
    {"- a\n- b\n", "kiln.yaml:1:1: the top level must be a mapping (key: value lines), not a list"},
    /* keys */
    {"pakages: {apt: [vim]}\n" BASE,
     "kiln.yaml:1:1: unknown key \"pakages\" in the top level; did you mean \"packages\"?"},
    {"project: demo\nbase: {imag: debian}\n",
     "kiln.yaml:2:8: unknown key \"imag\" in base; did you mean \"image\"?"},
    {BASE "zzzzzzzz: 1\n",
     "kiln.yaml:3:1: unknown key \"zzzzzzzz\" in the top level; expected one of: version, "
     "project, base, user, packages, env, ports, workspace, files, run, labels, ssh, deploy"},
    {BASE "project: other\n",
     "kiln.yaml:3:1: duplicate key \"project\" in the top level (first at line 1)"},
    {BASE "env:\n  A: 1\n  A: 2\n", "kiln.yaml:5:3: duplicate key \"A\" in env (first at line 4)"},
    /* types */
    {"project: demo\nbase: [debian]\n",
     "kiln.yaml:2:7: base must be a mapping (key: value lines), not a list"},
    {BASE "packages: {apt: vim}\n", "kiln.yaml:3:17: packages.apt must be a list, not text"},
    {BASE "env: [A=1]\n", "kiln.yaml:3:6: env must be a mapping (key: value lines), not a list"},
    {BASE "user: {sudo: \"true\"}\n",
     "kiln.yaml:3:14: user.sudo must be true or false (unquoted), not the quoted text \"true\""},
    {BASE "ssh: {enabled: maybe}\n",
     "kiln.yaml:3:16: ssh.enabled must be true or false (unquoted), not \"maybe\""},
    {BASE "user: {uid: [1]}\n", "kiln.yaml:3:13: user.uid must be a number, not a list"},
    {BASE "files: [data]\n",
     "kiln.yaml:3:9: files entries must be mappings like {src: a, dest: /b}, not text"},
    {BASE "files: [{src: data}]\n",
     "kiln.yaml:3:9: files entry needs both src (in the project) and dest (in the image)"},
    {BASE "env: {X: [1]}\n", "kiln.yaml:3:10: env.X must be text, not a list"},
    /* numbers */
    {BASE "user: {uid: 0}\n",
     "kiln.yaml:3:13: user.uid 0 is root; expected 1..4294967294 (set user.allow_root: true to "
     "build as root)"},
    {BASE "user: {uid: 4294967295}\n",
     "kiln.yaml:3:13: user.uid 4294967295 is out of range; expected 1..4294967294"},
    {BASE "user: {gid: -5}\n",
     "kiln.yaml:3:13: user.gid \"-5\" is not a number; expected a decimal in 1..4294967294"},
    {"version: 2\n" BASE, "kiln.yaml:1:10: version 2 is not supported; expected 1"},
    {BASE "ports: [0]\n", "kiln.yaml:3:9: ports: port \"0\" is not valid; expected 1..65535"},
    {BASE "ports: [65536]\n",
     "kiln.yaml:3:9: ports: port \"65536\" is not valid; expected 1..65535"},
    {BASE "files: [{src: data, dest: /d, mode: 999}]\n",
     "kiln.yaml:3:37: files.mode: mode \"999\" is not octal; expected digits 0-7 such as 0644 or "
     "755"},
    {BASE "deploy: {memory: 0}\n",
     "kiln.yaml:3:18: deploy.memory: size \"0\" is zero; expected at least 1 byte (leave the "
     "setting out for no limit)"},
    {BASE "deploy: {runtime: NV}\n",
     "kiln.yaml:3:19: deploy.runtime \"NV\" is not valid; expected a runtime name of [a-z0-9_-] "
     "such as nvidia"},
    {BASE "deploy: {volumes: ['-x:/data']}\n",
     "kiln.yaml:3:20: volume \"-x:/data\": volume name \"-x\" is not valid; expected a letter or "
     "digit, then letters, digits, '_', '.' or '-'"},
    {BASE "deploy: {command: []}\n",
     "kiln.yaml:3:19: deploy.command is an empty list; expected a command"},
    {BASE "deploy: {ports: ['localhost:80:80']}\n",
     "kiln.yaml:3:18: port \"localhost:80:80\" is not valid: the address is not a literal IPv4 "
     "or IPv6 address; expected [IP:]HOST:CONTAINER[/tcp|/udp] or CONTAINER[/tcp|/udp]"},
    {BASE "deploy: {ports: [8080, '80/sctp']}\n",
     "kiln.yaml:3:24: port \"80/sctp\" is not valid: the protocol must be tcp or udp; expected "
     "[IP:]HOST:CONTAINER[/tcp|/udp] or CONTAINER[/tcp|/udp]"},
    {BASE "deploy: {ports: 8080}\n",
     "kiln.yaml:3:17: deploy.ports must be a list of [IP:]HOST:CONTAINER or CONTAINER, not text"},
    {BASE "deploy: {env: {1X: a}}\n",
     "kiln.yaml:3:16: deploy.env: environment variable name \"1X\" is not valid; expected "
     "letters, digits and '_', not starting with a digit"},
    {BASE "deploy: {pids_limit: 0}\n",
     "kiln.yaml:3:22: deploy.pids_limit \"0\" is not valid; expected 1..4194304 or -1"},
    {BASE "deploy: {pids_limit: lots}\n",
     "kiln.yaml:3:22: deploy.pids_limit \"lots\" is not valid; expected 1..4194304 or -1"},
    {BASE "deploy: {pid_limit: 5}\n",
     "kiln.yaml:3:10: unknown key \"pid_limit\" in deploy; did you mean \"pids_limit\"?"},
    /* required and exclusive */
    {"base: {image: debian}\n",
     "kiln.yaml:1:1: project is required; expected a name such as my-project"},
    {"project: demo\n",
     "kiln.yaml:1:1: base.image or base.framework is required; expected base: {image: REF} or "
     "base: {framework: NAME, version: VERSION}"},
    {"project: demo\nbase: {image: debian, framework: pytorch, version: 2.3-cuda12.1}\n",
     "kiln.yaml:2:34: base.image and base.framework/base.version exclude each other; use one"},
    {"project: demo\nbase: {framework: pytorch}\n",
     "kiln.yaml:2:19: base.framework and base.version go together; expected both"},
    {"project: demo\nbase: {framework: rust, version: '1'}\n",
     "kiln.yaml:2:19: unknown framework \"rust\"; expected one of: aime-pytorch, "
     "aime-tensorflow, cuda, debian, jax, python, pytorch, tensorflow, ubuntu (see 'kiln catalog "
     "frameworks')"},
    {"project: demo\nbase: {framework: jax, version: '1'}\n",
     "kiln.yaml:2:33: unknown version \"1\" of framework \"jax\"; expected one of: 23.10, 24.04 "
     "(see 'kiln catalog frameworks')"},
    {BASE "packages: {groups: [gpu-magic]}\n",
     "kiln.yaml:3:21: unknown package group \"gpu-magic\"; expected one of: cv, data-science, "
     "jupyter, nlp"},
    /* injection attempts */
    {BASE "run: [\"echo hi\\nRUN rm -rf /\"]\n",
     "kiln.yaml:3:7: run step contains the control character 0x0a at byte 7; expected text "
     "without newlines, tabs or other control characters"},
    {BASE "run:\n  - |\n    echo one\n    echo two\n",
     "kiln.yaml:4:5: run step contains the control character 0x0a at byte 8; expected text "
     "without newlines, tabs or other control characters"},
    {BASE "packages: {apt: ['vim; rm -rf /']}\n",
     "kiln.yaml:3:18: apt package \"vim; rm -rf /\" is not valid; expected a Debian package "
     "name such as python3-numpy (lowercase letters, digits, '+', '.', '-'), optionally :arch "
     "and =version"},
    {BASE "packages: {pip: ['--index-url http://evil']}\n",
     "kiln.yaml:3:18: pip package \"--index-url http://evil\" is not valid; expected a PEP 508 "
     "name with optional [extras] and version specifiers, e.g. torch>=2.1,<3 (no URLs, "
     "options, markers or quotes)"},
    {BASE "labels: {org.example.x: \"a\\nLABEL y=z\"}\n",
     "kiln.yaml:3:25: labels.org.example.x contains the control character 0x0a at byte 1; "
     "expected text without newlines, tabs or other control characters"},
    {BASE "env: {A B: 1}\n",
     "kiln.yaml:3:7: environment variable name \"A B\" is not valid; expected letters, digits "
     "and '_', not starting with a digit"},
    {"project: demo\nbase: {image: \"debian\\nRUN x\"}\n",
     "kiln.yaml:2:15: image reference contains the control character 0x0a at byte 6; expected "
     "text without newlines, tabs or other control characters"},
    {BASE "workspace: \"/w\\nRUN x\"\n",
     "kiln.yaml:3:12: workspace contains the control character 0x0a at byte 2; expected text "
     "without newlines, tabs or other control characters"},
    {BASE "files: [{src: ../x, dest: /x}]\n",
     "kiln.yaml:3:15: files.src \"../x\" contains \"..\"; expected a path inside the project "
     "folder"},
    {BASE "files: [{src: /etc/passwd, dest: /x}]\n",
     "kiln.yaml:3:15: files.src \"/etc/passwd\" is absolute; expected a path relative to the "
     "project folder"},
    /* COPY sources Docker would expand: refused here, not at generate or build */
    {BASE "files: [{src: \"${PATH}$HOME\", dest: /x}]\n",
     "kiln.yaml:3:15: files.src \"${PATH}$HOME\" contains '$', which Docker would expand in a COPY "
     "source (copying another path); rename the file or folder"},
    {BASE "files: [{src: 'data\\', dest: /x}]\n",
     "kiln.yaml:3:15: files.src \"data\\\\\" contains '\\', which Docker would expand in a COPY "
     "source (copying another path); rename the file or folder"},
    {BASE "packages: {requirements: \"${HOME}\"}\n",
     "kiln.yaml:3:26: packages.requirements \"${HOME}\" contains '$', which Docker would expand in "
     "a COPY source (copying another path); rename the file or folder"},
    {BASE "ssh: {enabled: true, authorized_keys: 'keys.pub\\'}\n",
     "kiln.yaml:3:39: ssh.authorized_keys \"keys.pub\\\\\" contains '\\', which Docker would "
     "expand in a COPY source (copying another path); rename the file or folder"},
    {BASE "files: [{src: 'data/*.csv', dest: /x/}]\n",
     "kiln.yaml:3:15: files.src \"data/*.csv\" contains '*', which Docker would expand in a COPY "
     "source (copying another path); rename the file or folder"},
    /* volumes: the one grammar of -v, system folders refused */
    {BASE "deploy: {volumes: ['data:/x:rw,z']}\n",
     "kiln.yaml:3:20: volume 'data:/x:rw,z': mode must be ro or rw, got 'rw,z'"},
    {BASE "deploy: {volumes: ['data:/proc']}\n",
     "kiln.yaml:3:20: volume 'data:/proc': volume target \"/proc\" is a system folder of the "
     "container; expected a folder of your own such as /data (not /, /proc, /sys, /dev, /etc, "
     "/usr, /bin, /sbin, /lib or /boot)"},
    {BASE "deploy: {volumes: ['data:/etc/x:ro']}\n",
     "kiln.yaml:3:20: volume 'data:/etc/x:ro': volume target \"/etc/x\" is a system folder of the "
     "container; expected a folder of your own such as /data (not /, /proc, /sys, /dev, /etc, "
     "/usr, /bin, /sbin, /lib or /boot)"},
    {BASE "packages: {requirements: data}\n",
     "kiln.yaml:3:26: packages.requirements \"data\" is a folder; expected a file"},
    {"project: demo\nbase: {image: debian, python: cpython}\n",
     "kiln.yaml:2:31: base.python \"cpython\" is not known; expected debian (Debian's or Ubuntu's "
     "python3: groups install with apt), conda or local (the image's own Python: groups install "
     "with pip)"},
    {BASE "packages: {pip_find_links: requirements.txt}\n",
     "kiln.yaml:3:28: packages.pip_find_links \"requirements.txt\" is a file; expected a folder"},
    {BASE "packages: {pip_find_links: ../wheels}\n",
     "kiln.yaml:3:28: packages.pip_find_links \"../wheels\" contains \"..\"; expected a path "
     "inside "
     "the project folder"},
    {BASE "packages: {pip_index_url: \"https://x.org/s\\nRUN id\"}\n",
     "kiln.yaml:3:27: packages.pip_index_url contains the control character 0x0a at byte 15; "
     "expected text without newlines, tabs or other control characters"},
    {BASE "packages: {pip_extra_index_url: 'https://x.org/\"; id'}\n",
     "kiln.yaml:3:33: packages.pip_extra_index_url \"https://x.org/\\\"; id\" is not valid; "
     "expected "
     "an http:// or https:// URL such as https://pypi.example.org/simple (no user:password@, "
     "quotes, spaces or '$')"},
    /* YAML tricks */
    {"a: &a [x, x]\nb: [*a, *a]\n",
     "kiln.yaml:1:4: aliases and anchors are not supported (found &a); write the value out"},
    {BASE "env: {A: *x}\n",
     "kiln.yaml:3:10: aliases and anchors are not supported (found *x); write the value out"},
};

START_TEST(bad_spec) {
  assert_error(bad_cases[_i].yaml, bad_cases[_i].message);
}
END_TEST

/* The symlink's target depends on the temp folder, so it is checked apart. */
START_TEST(symlink_out_of_project_refused) {
  char expected[512];
  snprintf(expected, sizeof expected,
           "kiln.yaml:3:15: files.src \"escape\" leads outside the project folder (to "
           "/etc/passwd); expected a path that stays inside %s",
           project_dir);
  assert_error(BASE "files: [{src: escape, dest: /x}]\n", expected);
}
END_TEST

/* Special files are refused by name when the spec names them: no open, so
 * no hang (a FIFO would block a reader). */
START_TEST(fifo_and_devices_as_copy_sources_refused) {
  char path[512];
  snprintf(path, sizeof path, "%s/pipe", project_dir);
  ck_assert_int_eq(mkfifo(path, 0644), 0);
  assert_error(BASE "packages: {requirements: pipe}\n",
               "kiln.yaml:3:26: packages.requirements \"pipe\" is a FIFO (named pipe), not a "
               "regular file or folder; expected a file or folder Docker can copy");
  assert_error(BASE "files: [{src: pipe, dest: /p}]\n",
               "kiln.yaml:3:15: files.src \"pipe\" is a FIFO (named pipe), not a regular file or "
               "folder; expected a file or folder Docker can copy");
  snprintf(path, sizeof path, "%s/null", project_dir);
  ck_assert_int_eq(symlink("/dev/null", path), 0); /* leaves the project: refused anyway */
  ck_assert_ptr_null(parse(BASE "files: [{src: null, dest: /n}]\n"));
}
END_TEST

START_TEST(many_errors_reported_together_in_file_order) {
  ck_assert_ptr_null(parse("project: Demo Project\n"
                           "base: {image: debian}\n"
                           "user: {uid: 0}\n"
                           "ports: [70000]\n"
                           "pakages: {}\n"));
  ck_assert_int_eq(kiln_error_count(err), 4);
  ck_assert(!strncmp(err->message, "kiln.yaml:1:10: ", 16));
  ck_assert(!strncmp(err->next->message, "kiln.yaml:3:13: user.uid 0", 26));
  ck_assert(!strncmp(err->next->next->message, "kiln.yaml:4:9: ports:", 21));
  ck_assert_str_eq(err->next->next->next->message,
                   "kiln.yaml:5:1: unknown key \"pakages\" in the top level; did you mean "
                   "\"packages\"?");
}
END_TEST

START_TEST(error_count_is_capped) {
  _cleanup_buf_ kiln_buf y = KILN_BUF_INIT(1 << 20);
  kiln_buf_puts(&y, BASE "ports:\n");
  for (int i = 0; i < KILN_MAX_ERRORS + 5; i++)
    kiln_buf_puts(&y, "  - 0\n");
  ck_assert_ptr_null(parse(y.data));
  ck_assert_int_eq(kiln_error_count(err), KILN_MAX_ERRORS + 1);
  const kiln_error *last = err;
  while (last->next)
    last = last->next;
  ck_assert_str_eq(last->message, "kiln.yaml: 5 more errors not shown");
}
END_TEST

/* ---- caps ---- */

START_TEST(billion_laughs_refused_at_first_anchor) {
  ck_assert_ptr_null(parse("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                           "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                           "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                           "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                           "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                           "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                           "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"));
  ck_assert_int_eq(kiln_error_count(err), 1);
  ck_assert_str_eq(err->message, "kiln.yaml:1:4: aliases and anchors are not supported (found "
                                 "&a); write the value out");
}
END_TEST

START_TEST(nesting_depth_capped) {
  _cleanup_buf_ kiln_buf y = KILN_BUF_INIT(1 << 20);
  kiln_buf_puts(&y, "env: ");
  for (int i = 0; i < KILN_MAX_YAML_DEPTH + 4; i++)
    kiln_buf_puts(&y, "[");
  for (int i = 0; i < KILN_MAX_YAML_DEPTH + 4; i++)
    kiln_buf_puts(&y, "]");
  ck_assert_ptr_null(parse(y.data));
  ck_assert_int_eq(kiln_error_count(err), 1);
  char expected[128];
  snprintf(expected, sizeof expected, "kiln.yaml:1:%d: nesting is deeper than %d levels",
           6 + KILN_MAX_YAML_DEPTH - 1, KILN_MAX_YAML_DEPTH);
  ck_assert_str_eq(err->message, expected);
}
END_TEST

START_TEST(list_length_capped) {
  _cleanup_buf_ kiln_buf y = KILN_BUF_INIT(1 << 20);
  kiln_buf_puts(&y, BASE "run:\n");
  for (int i = 0; i <= KILN_MAX_LIST_ITEMS; i++)
    kiln_buf_puts(&y, "  - echo\n");
  ck_assert_ptr_null(parse(y.data));
  char expected[128];
  snprintf(expected, sizeof expected, "kiln.yaml:%d:5: more than %d entries in one list",
           4 + KILN_MAX_LIST_ITEMS, KILN_MAX_LIST_ITEMS);
  ck_assert_str_eq(err->message, expected);
}
END_TEST

START_TEST(scalar_size_capped) {
  _cleanup_buf_ kiln_buf y = KILN_BUF_INIT(1 << 20);
  kiln_buf_puts(&y, BASE "run: [\"");
  for (int i = 0; i <= KILN_MAX_SCALAR_BYTES; i++)
    kiln_buf_puts(&y, "x");
  kiln_buf_puts(&y, "\"]\n");
  ck_assert_ptr_null(parse(y.data));
  char expected[128];
  snprintf(expected, sizeof expected, "kiln.yaml:3:7: value is longer than %d bytes",
           KILN_MAX_SCALAR_BYTES);
  ck_assert_str_eq(err->message, expected);
}
END_TEST

START_TEST(spec_size_capped) {
  ck_assert_ptr_null(
      kiln_spec_parse("kiln.yaml", project_dir, "", KILN_MAX_SPEC_BYTES + 1, &opts, &err));
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->message, "kiln.yaml: larger than 1048576 bytes");
}
END_TEST

/* ---- the caller ---- */

START_TEST(root_without_sudo_must_name_the_user) {
  identity = (kiln_identity){.name = root_name, .uid = 0, .gid = 0, .shell = bash};
  assert_error(BASE, "kiln.yaml:1:1: kiln is running as root without sudo; set user.name/uid/gid "
                     "in kiln.yaml or run through sudo — kiln never builds a root user silently");
  ck_assert_int_eq(kiln_error_count(err), 1);
  kiln_spec *s = parse_ok(BASE "user: {name: alice, uid: 1001, gid: 1001}\n");
  ck_assert_str_eq(s->user.name, "alice");
  ck_assert_uint_eq(s->user.uid, 1001);
}
END_TEST

START_TEST(name_policy_applies_to_project_and_user) {
  opts.name_policy = true;
  assert_error(BASE "user: {name: a-very-long-user-name-beyond-thirty-chars}\n",
               "kiln.yaml:3:14: user name \"a-very-long-user-name-bey-33bae4\" is 32 characters "
               "long; the name policy expects 1 to 30");
  assert_error("project: my.project\nbase: {image: debian}\n",
               "kiln.yaml:1:10: project name \"my.project\" does not fit the name policy; "
               "expected only a-z, 0-9, '-' and '_'");
}
END_TEST

START_TEST(identity_from_sudo_env) {
  setenv("SUDO_UID", "1722830498", 1);
  setenv("SUDO_GID", "4242", 1);
  setenv("SUDO_USER", "Jane.Doe", 1);
  kiln_identity id;
  ck_assert_int_eq(kiln_identity_current(&id, &err), 0);
  ck_assert_uint_eq(id.uid, 1722830498);
  ck_assert_uint_eq(id.gid, 4242);
  ck_assert_str_eq(id.name, "Jane.Doe");
  ck_assert_str_eq(id.shell, "/bin/bash"); /* no passwd entry for that uid */
  kiln_identity_clear(&id);
  ck_assert_ptr_null(id.name);

  setenv("SUDO_UID", "12abc", 1);
  ck_assert_int_eq(kiln_identity_current(&id, &err), -1);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->message, "kiln runs under sudo: SUDO_UID \"12abc\" is not a number; "
                                 "expected a decimal in 0..4294967294");
  kiln_error_free(err);
  err = NULL;

  setenv("SUDO_UID", "1000", 1);
  setenv("SUDO_USER", "bob\nRUN x", 1);
  ck_assert_int_eq(kiln_identity_current(&id, &err), -1);
  ck_assert(!strncmp(err->message, "kiln runs under sudo: SUDO_USER contains the control", 51));
}
END_TEST

START_TEST(identity_without_sudo) {
  unsetenv("SUDO_UID");
  kiln_identity id;
  ck_assert_int_eq(kiln_identity_current(&id, &err), 0);
  ck_assert_uint_eq(id.uid, getuid());
  ck_assert_uint_eq(id.gid, getgid());
  ck_assert_ptr_nonnull(id.name);
  ck_assert(id.shell[0] == '/');
  kiln_identity_clear(&id);
}
END_TEST

/* ---- files ---- */

START_TEST(locate_file_folder_and_yml) {
  char path[600];
  ck_assert_ptr_null(kiln_spec_locate(project_dir, &err));
  snprintf(path, sizeof path, "no kiln.yaml in %s", project_dir);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->message, path);
  kiln_error_free(err);
  err = NULL;

  write_file("kiln.yml", BASE);
  _cleanup_free_ char *yml = kiln_spec_locate(project_dir, &err);
  snprintf(path, sizeof path, "%s/kiln.yml", project_dir);
  ck_assert_str_eq(yml, path);

  write_file("kiln.yaml", BASE);
  _cleanup_free_ char *yaml = kiln_spec_locate(project_dir, &err);
  snprintf(path, sizeof path, "%s/kiln.yaml", project_dir);
  ck_assert_str_eq(yaml, path);
  _cleanup_free_ char *given = kiln_spec_locate(path, &err);
  ck_assert_str_eq(given, path);

  ck_assert_int_eq(chdir(project_dir), 0);
  _cleanup_free_ char *here = kiln_spec_locate(NULL, &err);
  ck_assert_str_eq(here, "kiln.yaml");
  ck_assert_ptr_null(err);
}
END_TEST

START_TEST(load_resolves_the_project_folder) {
  write_file("kiln.yaml", BASE "files: [{src: data, dest: /data}]\n");
  char path[600];
  snprintf(path, sizeof path, "%s/kiln.yaml", project_dir);
  spec = kiln_spec_load(path, &opts, &err);
  ck_assert_msg(spec, "%s", err ? err->message : "?");
  ck_assert_str_eq(spec->path, path);
  _cleanup_free_ char *real = realpath(project_dir, NULL);
  ck_assert_str_eq(spec->dir, real);
  ck_assert_str_eq(spec->files[0].src, "data");

  snprintf(path, sizeof path, "%s/missing.yaml", project_dir);
  ck_assert_ptr_null(kiln_spec_load(path, &opts, &err));
  ck_assert_int_eq(err->code, KILN_EXIT_FAILURE);
}
END_TEST

static Suite *spec_suite(void) {
  Suite *s = suite_create("spec");
  TCase *good = kt_tcase(s, "good", setup, teardown);
  tcase_add_test(good, minimal_spec_takes_defaults_from_identity);
  tcase_add_test(good, every_key);
  tcase_add_test(good, command_string_runs_through_sh);
  tcase_add_test(good, deploy_ports_env_pids_limit);
  tcase_add_test(good, nulls_are_absent);
  tcase_add_test(good, uid_in_range_and_root_with_allow_root);
  tcase_add_test(good, unusable_identity_shell_falls_back_to_bash);

  TCase *bad = kt_tcase(s, "bad", setup, teardown);
  tcase_add_loop_test(bad, bad_spec, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
  tcase_add_test(bad, symlink_out_of_project_refused);
  tcase_add_test(bad, fifo_and_devices_as_copy_sources_refused);
  tcase_add_test(bad, many_errors_reported_together_in_file_order);
  tcase_add_test(bad, error_count_is_capped);

  TCase *caps = kt_tcase(s, "caps", setup, teardown);
  tcase_add_test(caps, billion_laughs_refused_at_first_anchor);
  tcase_add_test(caps, nesting_depth_capped);
  tcase_add_test(caps, list_length_capped);
  tcase_add_test(caps, scalar_size_capped);
  tcase_add_test(caps, spec_size_capped);

  TCase *caller = kt_tcase(s, "caller", setup, teardown);
  tcase_add_test(caller, root_without_sudo_must_name_the_user);
  tcase_add_test(caller, name_policy_applies_to_project_and_user);
  tcase_add_test(caller, identity_from_sudo_env);
  tcase_add_test(caller, identity_without_sudo);
  tcase_add_test(caller, locate_file_folder_and_yml);
  tcase_add_test(caller, load_resolves_the_project_folder);
  return s;
}

int main(void) {
  return kt_run_suite(spec_suite());
}
