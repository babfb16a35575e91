/* Deploy internals without an engine: the create body (GPUs, Genv, mounts,
 * ports, env, limits, command, and what it must never carry), the legacy
 * adaptation's temporary container, ownership through the access module,
 * label reading, config parsing, the stream demultiplexer. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/config.h"
#include "kiln/labels.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "kt_check.h"

static char ident_name[] = "alice", ident_shell[] = "/bin/bash", config_ns[] = "kiln";
static kiln_caller caller = {.id = {ident_name, 1722830498u, 1000, ident_shell}};
static kiln_config config = {
    .max_containers = 10, .max_volumes = 100, .ns = config_ns, .legacy_timeout = 300};

static kiln_deploy_options base_opts(void) {
  kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
  o.image = "kiln-1722830498/ml:latest";
  o.name = "ml";
  o.caller = &caller;
  o.config = &config;
  return o;
}

/* Builds the body for o against an image config given as JSON text. */
static json_t *body_for(const kiln_deploy_options *o, const char *image_config, kiln_error **err) {
  _cleanup_json_ json_t *cfg = json_loads(image_config, 0, NULL);
  ck_assert_ptr_nonnull(cfg);
  return kiln_deploy_create_body(o, "sha256:abc", cfg, err);
}

static const char *path_str(json_t *root, const char *p1, const char *p2) {
  json_t *v = json_object_get(root, p1);
  return json_string_value(p2 ? json_object_get(v, p2) : v);
}

START_TEST(body_basics) {
  kiln_deploy_options o = base_opts();
  o.workspace_dir = "/home/alice/ml";
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b =
      body_for(&o,
               "{\"Cmd\":[\"/bin/bash\"],\"Labels\":{\"kiln.workspace\":\"/work\","
               "\"kiln.spec-sha256\":\"f00\",\"kiln.project\":\"ml\"}}",
               &err);
  ck_assert_ptr_nonnull(b);
  ck_assert_str_eq(path_str(b, "Image", NULL), "sha256:abc");
  ck_assert_str_eq(path_str(b, "User", NULL), "1722830498:1000");
  ck_assert_str_eq(path_str(b, "WorkingDir", NULL), "/work");
  ck_assert(json_is_true(json_object_get(b, "Tty")));
  ck_assert(json_is_true(json_object_get(b, "OpenStdin")));
  ck_assert_ptr_null(json_object_get(b, "Cmd")); /* the image's shell is kept */
  json_t *labels = json_object_get(b, "Labels");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_OWNER_UID), "1722830498");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_IMAGE_ID), "sha256:abc");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_SPEC_SHA256), "f00");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_PROJECT), "ml");
  json_t *m = json_array_get(json_object_get(json_object_get(b, "HostConfig"), "Mounts"), 0);
  ck_assert_str_eq(path_str(m, "Type", NULL), "bind");
  ck_assert_str_eq(path_str(m, "Source", NULL), "/home/alice/ml");
  ck_assert_str_eq(path_str(m, "Target", NULL), "/work");
  ck_assert_ptr_null(json_object_get(json_object_get(b, "HostConfig"), "DeviceRequests"));
}
END_TEST

START_TEST(body_command_defaults) {
  kiln_deploy_options o = base_opts();
  kiln_error *err = NULL;
  _cleanup_json_ json_t *none = body_for(&o, "{\"Cmd\":null,\"Entrypoint\":null}", &err);
  _cleanup_free_ char *cmd_text = json_dumps(json_object_get(none, "Cmd"), JSON_COMPACT);
  ck_assert_str_eq(cmd_text, "[\"sleep\",\"infinity\"]");
  ck_assert_str_eq(path_str(none, "WorkingDir", NULL), "/workspace");
  const char *cmd[] = {"python3", "-m", "http.server"};
  o.command = cmd;
  o.n_command = 3;
  _cleanup_json_ json_t *given = body_for(&o, "{\"Cmd\":[\"/bin/sh\"]}", &err);
  ck_assert_int_eq((int)json_array_size(json_object_get(given, "Cmd")), 3);
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(given, "Cmd"), 2)),
                   "http.server");
}
END_TEST

static json_t *device_requests(json_t *b) {
  return json_object_get(json_object_get(b, "HostConfig"), "DeviceRequests");
}

START_TEST(body_gpus_all_count_ids) {
  kiln_deploy_options o = base_opts();
  kiln_error *err = NULL;
  o.gpus = "all";
  _cleanup_json_ json_t *all = body_for(&o, "{}", &err);
  json_t *r = json_array_get(device_requests(all), 0);
  ck_assert_str_eq(path_str(r, "Driver", NULL), "nvidia");
  ck_assert_int_eq(json_integer_value(json_object_get(r, "Count")), -1);
  _cleanup_free_ char *caps = json_dumps(json_object_get(r, "Capabilities"), JSON_COMPACT);
  ck_assert_str_eq(caps, "[[\"gpu\"]]");

  o.gpus = "2";
  _cleanup_json_ json_t *two = body_for(&o, "{}", &err);
  ck_assert_int_eq(
      json_integer_value(json_object_get(json_array_get(device_requests(two), 0), "Count")), 2);

  o.gpus = "0,GPU-3f2a";
  _cleanup_json_ json_t *ids = body_for(&o, "{}", &err);
  r = json_array_get(device_requests(ids), 0);
  ck_assert_ptr_null(json_object_get(r, "Count"));
  _cleanup_free_ char *list = json_dumps(json_object_get(r, "DeviceIDs"), JSON_COMPACT);
  ck_assert_str_eq(list, "[\"0\",\"GPU-3f2a\"]"); /* a list, not "0,GPU-3f2a" */
}
END_TEST

START_TEST(body_genv) {
  kiln_deploy_options o = base_opts();
  kiln_error *err = NULL;
  o.gpus = "2";
  o.gpu_memory = "8g";
  o.runtime = "genv";
  _cleanup_json_ json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_nonnull(b);
  ck_assert_ptr_null(device_requests(b));
  ck_assert_str_eq(path_str(json_object_get(b, "HostConfig"), "Runtime", NULL), "genv");
  _cleanup_free_ char *env = json_dumps(json_object_get(b, "Env"), JSON_COMPACT);
  ck_assert_str_eq(env, "[\"GENV_GPUS=2\",\"GENV_GPU_MEMORY=8g\"]");
}
END_TEST

START_TEST(body_gpu_memory_needs_genv) {
  kiln_deploy_options o = base_opts();
  kiln_error *err = NULL;
  o.gpus = "1";
  o.gpu_memory = "8g";
  json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_null(b);
  ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
  ck_assert_str_eq(err->message, "--gpu-memory needs --runtime genv");
  kiln_error_free(err);
}
END_TEST

START_TEST(body_volumes_ports_env_limits) {
  kiln_deploy_options o = base_opts();
  const char *vols[] = {"data:/data", "models:/models:ro"};
  const char *env[] = {"A=1", "B=x=y"};
  const char *ports[] = {"8888:8888", "9000/udp"};
  o.volumes = vols;
  o.n_volumes = 2;
  o.env = env;
  o.n_env = 2;
  o.ports = ports;
  o.n_ports = 2;
  o.memory = 1u << 30;
  o.nano_cpus = 1500000000u;
  o.shm_size = 64u << 20;
  o.pids_limit = 512;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_nonnull(b);
  json_t *hc = json_object_get(b, "HostConfig");
  json_t *m1 = json_array_get(json_object_get(hc, "Mounts"), 1);
  ck_assert_str_eq(path_str(m1, "Type", NULL), "volume");
  ck_assert_str_eq(path_str(m1, "Source", NULL), "models._.1722830498");
  ck_assert_str_eq(path_str(m1, "Target", NULL), "/models");
  ck_assert(json_is_true(json_object_get(m1, "ReadOnly")));
  ck_assert(
      json_is_false(json_object_get(json_array_get(json_object_get(hc, "Mounts"), 0), "ReadOnly")));
  ck_assert_str_eq(
      json_string_value(json_object_get(
          json_array_get(json_object_get(json_object_get(hc, "PortBindings"), "8888/tcp"), 0),
          "HostPort")),
      "8888");
  ck_assert_ptr_nonnull(json_object_get(json_object_get(b, "ExposedPorts"), "9000/udp"));
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(b, "Env"), 1)), "B=x=y");
  ck_assert_int_eq(json_integer_value(json_object_get(hc, "Memory")), 1 << 30);
  ck_assert_int_eq(json_integer_value(json_object_get(hc, "NanoCpus")), 1500000000);
  ck_assert_int_eq(json_integer_value(json_object_get(hc, "ShmSize")), 64 << 20);
  ck_assert_int_eq(json_integer_value(json_object_get(hc, "PidsLimit")), 512);
}
END_TEST

/* Each bad value is refused with a usage error naming it. */
/* Every binding gets an address: 127.0.0.1 unless one is named; a missing
 * host port is "" (the engine picks one). */
START_TEST(body_port_bindings_loopback) {
  kiln_deploy_options o = base_opts();
  const char *ports[] = {"8888", "18888:8889", "0.0.0.0:9000:9000/udp", "[::1]::7000",
                         "127.0.0.1:18123:8080"};
  o.ports = ports;
  o.n_ports = 5;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_nonnull(b);
  json_t *pb = json_object_get(json_object_get(b, "HostConfig"), "PortBindings");
  _cleanup_free_ char *text = json_dumps(pb, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(text, "{\"7000/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"\"}],"
                         "\"8080/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"18123\"}],"
                         "\"8888/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"\"}],"
                         "\"8889/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"18888\"}],"
                         "\"9000/udp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"9000\"}]}");
  ck_assert_int_eq((int)json_object_size(json_object_get(b, "ExposedPorts")), 5);
}
END_TEST

/* Published ports in kiln's one shape, from inspect and from the list. */
START_TEST(published_ports_shape) {
  _cleanup_json_ json_t *inspect = json_loads(
      "{\"8888/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"49153\"}],\"22/tcp\":null,"
      "\"80/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"8080\"}]}",
      0, NULL);
  _cleanup_json_ json_t *a = kiln_ports_from_inspect(inspect);
  ck_assert_int_eq((int)json_array_size(a), 2);
  json_t *p0 = json_array_get(a, 0);
  ck_assert_str_eq(path_str(p0, "container", NULL), "8888/tcp");
  ck_assert_str_eq(path_str(p0, "address", NULL), "127.0.0.1:49153");
  ck_assert_int_eq(json_integer_value(json_object_get(p0, "host_port")), 49153);
  ck_assert_str_eq(path_str(json_array_get(a, 1), "address", NULL), "[::1]:8080");
  _cleanup_json_ json_t *list = json_loads(
      "[{\"IP\":\"127.0.0.1\",\"PrivatePort\":8080,\"PublicPort\":18123,\"Type\":\"tcp\"},"
      "{\"PrivatePort\":22,\"Type\":\"tcp\"}]",
      0, NULL);
  _cleanup_json_ json_t *l = kiln_ports_from_list(list);
  ck_assert_int_eq((int)json_array_size(l), 1);
  ck_assert_str_eq(path_str(json_array_get(l, 0), "address", NULL), "127.0.0.1:18123");
  ck_assert_str_eq(path_str(json_array_get(l, 0), "container", NULL), "8080/tcp");
  _cleanup_json_ json_t *none = kiln_ports_from_inspect(NULL);
  ck_assert_int_eq((int)json_array_size(none), 0);
}
END_TEST

START_TEST(body_bad_values) {
  static const struct {
    const char *vol, *env, *port, *want;
  } cases[] = {
      {"data", NULL, NULL, "volume 'data': expected NAME:/path[:ro]"},
      {"/etc:/x", NULL, NULL, "volume '/etc:/x': '/etc' is a path"},
      {"d:/x:rx", NULL, NULL, "mode must be ro or rw"},
      {NULL, "NOVALUE", NULL, "-e 'NOVALUE': expected KEY=VALUE"},
      {NULL, "1X=2", NULL, "-e '1X=2'"},
      {NULL, NULL, "80:http", "-p: port \"80:http\" is not valid: the container port"},
      {NULL, NULL, "70000", "-p: port \"70000\" is not valid"},
      {NULL, NULL, "host:1:2", "not a literal IPv4 or IPv6 address"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kiln_deploy_options o = base_opts();
    o.volumes = &cases[i].vol;
    o.n_volumes = cases[i].vol ? 1 : 0;
    o.env = &cases[i].env;
    o.n_env = cases[i].env ? 1 : 0;
    o.ports = &cases[i].port;
    o.n_ports = cases[i].port ? 1 : 0;
    kiln_error *err = NULL;
    json_t *b = body_for(&o, "{}", &err);
    ck_assert_msg(!b, "case %zu accepted", i);
    ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
    ck_assert_msg(strstr(err->message, cases[i].want), "case %zu: %s", i, err->message);
    kiln_error_free(err);
  }
}
END_TEST

/* Every option kiln has, set at once: the body still carries nothing that
 * reaches the host beyond the workspace (no privileges, capabilities,
 * devices, host namespaces, other binds or security options). */
static kiln_deploy_options full_opts(void) {
  static const char *vols[] = {"data:/data", "models:/models:ro"};
  static const char *env[] = {"A=1"};
  static const char *ports[] = {"8888:8888"};
  static const char *cmd[] = {"python3"};
  kiln_deploy_options o = base_opts();
  o.workspace_dir = "/home/alice/ml";
  o.volumes = vols;
  o.n_volumes = 2;
  o.create_volumes = true;
  o.env = env;
  o.n_env = 1;
  o.ports = ports;
  o.n_ports = 1;
  o.command = cmd;
  o.n_command = 1;
  o.memory = 1u << 30;
  o.shm_size = 1u << 26;
  o.nano_cpus = 2000000000u;
  o.pids_limit = 100;
  o.gpus = "all";
  o.runtime = "nvidia";
  o.project = "ml";
  o.all_users = true;
  return o;
}

static void assert_not_host(json_t *hc, const char *key) {
  const char *v = json_string_value(json_object_get(hc, key));
  ck_assert_msg(!v || strcmp(v, "host"), "%s is host", key);
}

START_TEST(body_never_privileged) {
  kiln_deploy_options o = full_opts();
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b = body_for(&o, "{\"Labels\":{\"kiln.workspace\":\"/work\"}}", &err);
  ck_assert_ptr_nonnull(b);
  json_t *hc = json_object_get(b, "HostConfig");
  static const char *const never[] = {"Privileged",   "Devices",           "CapAdd",  "Binds",
                                      "VolumesFrom",  "DeviceCgroupRules", "Sysctls", "Links",
                                      "CgroupParent", "SecurityOpt-extra", NULL};
  for (size_t i = 0; never[i]; i++)
    ck_assert_msg(!json_object_get(hc, never[i]), "HostConfig.%s is set", never[i]);
  ck_assert_ptr_null(json_object_get(b, "Privileged"));
  ck_assert_ptr_null(json_object_get(b, "Volumes"));
  static const char *const ns_keys[] = {"PidMode",    "NetworkMode",  "IpcMode", "UTSMode",
                                        "UsernsMode", "CgroupnsMode", NULL};
  for (size_t i = 0; ns_keys[i]; i++)
    assert_not_host(hc, ns_keys[i]);
  _cleanup_free_ char *sec = json_dumps(json_object_get(hc, "SecurityOpt"), JSON_COMPACT);
  ck_assert_str_eq(sec, "[\"no-new-privileges\"]");
  /* One bind, the workspace; the rest are named volumes. */
  size_t i, binds = 0;
  json_t *m;
  json_array_foreach(json_object_get(hc, "Mounts"), i, m) {
    const char *type = path_str(m, "Type", NULL);
    if (!strcmp(type, "bind")) {
      binds++;
      ck_assert_str_eq(path_str(m, "Source", NULL), "/home/alice/ml");
      ck_assert_str_eq(path_str(m, "Target", NULL), "/work");
    } else {
      ck_assert_str_eq(type, "volume");
    }
  }
  ck_assert_uint_eq(binds, 1);
  ck_assert_uint_eq(json_array_size(json_object_get(hc, "Mounts")), 3);
  ck_assert_str_eq(path_str(b, "User", NULL), "1722830498:1000");
}
END_TEST

START_TEST(body_container_sudo_site) {
  kiln_config sudo_site = config;
  sudo_site.container_sudo = true;
  kiln_deploy_options o = full_opts();
  o.config = &sudo_site;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_nonnull(b);
  ck_assert_ptr_null(json_object_get(json_object_get(b, "HostConfig"), "SecurityOpt"));
  ck_assert_ptr_null(json_object_get(json_object_get(b, "HostConfig"), "Privileged"));
}
END_TEST

/* The legacy adaptation runs as root: it must mount nothing of the user. */
START_TEST(temp_body_mounts_nothing) {
  kiln_deploy_options o = full_opts();
  _cleanup_json_ json_t *base = json_loads("{\"Labels\":{\"kiln.workspace\":\"/w\"}}", 0, NULL);
  kiln_adapted_user user;
  ck_assert_int_eq(kiln_adapted_user_of(base, "alice", 1000, &user, NULL), 0);
  _cleanup_json_ json_t *b = kiln_deploy_temp_body(&o, "sha256:base", &user, "echo setup");
  kiln_adapted_user_clear(&user);
  ck_assert_ptr_nonnull(b);
  json_t *hc = json_object_get(b, "HostConfig");
  _cleanup_free_ char *hc_text = json_dumps(hc, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(hc_text, "{\"AutoRemove\":false}");
  ck_assert_ptr_null(json_object_get(b, "Volumes"));
  ck_assert_ptr_null(json_object_get(b, "Mounts"));
  ck_assert_str_eq(path_str(b, "Image", NULL), "sha256:base");
  ck_assert_str_eq(path_str(b, "User", NULL), "0:0");
  json_t *labels = json_object_get(b, "Labels");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_TEMP), "true");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_OWNER_UID), "1722830498");
  json_t *entry = json_object_get(b, "Entrypoint");
  ck_assert_str_eq(json_string_value(json_array_get(entry, 4)), "alice");
  ck_assert_str_eq(json_string_value(json_array_get(entry, 10)), "/w");
}
END_TEST

/* An adapted image is the deployer's: HOME, ~/.local/bin on PATH and a
 * workspace inside the old home move to the new home; the rest of the
 * environment stays. */
static char *adapted_text(const char *config_json, const char *name) {
  _cleanup_json_ json_t *image_config = json_loads(config_json, 0, NULL);
  ck_assert_ptr_nonnull(image_config);
  kiln_adapted_user u;
  ck_assert_int_eq(
      kiln_adapted_user_of(image_config, name, strcmp(name, "root") ? 1000 : 0, &u, NULL), 0);
  _cleanup_free_ char *env = json_dumps(u.env, JSON_COMPACT);
  char *text = NULL;
  ck_assert_int_ge(asprintf(&text, "%s|%s|%s|%s", u.name, u.home, u.workspace, env), 0);
  kiln_adapted_user_clear(&u);
  return text;
}

START_TEST(adapted_user_moves_home) {
  _cleanup_free_ char *team = adapted_text(
      "{\"Env\":[\"PATH=/home/team/.local/bin:/opt/conda/bin:/usr/bin\",\"HOME=/home/team\","
      "\"LANG=C.UTF-8\"],\"Labels\":{\"kiln.home\":\"/home/team\","
      "\"kiln.workspace\":\"/home/team/work\"}}",
      "bob");
  ck_assert_str_eq(team, "bob|/home/bob|/home/bob/work|"
                         "[\"LANG=C.UTF-8\",\"HOME=/home/bob\","
                         "\"PATH=/home/bob/.local/bin:/opt/conda/bin:/usr/bin\"]");
  /* The home from the label alone; a workspace outside it stays. */
  _cleanup_free_ char *label =
      adapted_text("{\"Env\":[\"PATH=/usr/bin:/home/team/.local/bin\"],\"Labels\":{\"kiln.home\":"
                   "\"/home/team\",\"kiln.workspace\":\"/workspace\"}}",
                   "bob");
  ck_assert_str_eq(label, "bob|/home/bob|/workspace|"
                          "[\"HOME=/home/bob\",\"PATH=/home/bob/.local/bin:/usr/bin\"]");
  /* A legacy image with no Env, no labels, and a name to sanitize; a
   * folder that only starts like the old home is not inside it. */
  _cleanup_free_ char *bare = adapted_text("{}", "Bob.Smith");
  ck_assert_str_eq(bare, "bob-smith|/home/bob-smith|/workspace|[\"HOME=/home/bob-smith\","
                         "\"PATH=/home/bob-smith/.local/bin:/usr/local/sbin:/usr/local/bin:"
                         "/usr/sbin:/usr/bin:/sbin:/bin\"]");
  _cleanup_free_ char *prefix = adapted_text(
      "{\"Env\":[\"HOME=/home/team\"],\"Labels\":{\"kiln.workspace\":\"/home/teamwork\"}}", "bob");
  ck_assert_ptr_nonnull(strstr(prefix, "|/home/teamwork|"));
  /* Adapting twice for the same user changes nothing more. */
  _cleanup_free_ char *again =
      adapted_text("{\"Env\":[\"HOME=/home/bob\",\"PATH=/home/bob/.local/bin:/usr/bin\"]}", "bob");
  ck_assert_str_eq(again, "bob|/home/bob|/workspace|"
                          "[\"HOME=/home/bob\",\"PATH=/home/bob/.local/bin:/usr/bin\"]");
  /* Root (an admin deploying) keeps /root: the setup leaves root's account
   * as it is, so HOME must be the one in its passwd entry. */
  _cleanup_free_ char *root = adapted_text("{\"Env\":[\"HOME=/home/team\"],\"Labels\":"
                                           "{\"kiln.workspace\":\"/home/team/ws\"}}",
                                           "root");
  ck_assert_str_eq(root, "root|/root|/root/ws|"
                         "[\"HOME=/root\",\"PATH=/root/.local/bin:/usr/local/sbin:"
                         "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"]");
}
END_TEST

/* Without a recorded caller (this test program), an owner is a non-admin:
 * only its own objects, and all_users gives nothing more. */
START_TEST(ownership_through_access) {
  ck_assert_ptr_null(kiln_access_caller());
  kiln_owner me = {.uid = 1000, .gid = 1000, .all_users = false};
  kiln_owner me_all = {.uid = 1000, .gid = 1000, .all_users = true};
  _cleanup_json_ json_t *mine = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1000");
  _cleanup_json_ json_t *theirs = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1001");
  _cleanup_json_ json_t *odd = json_pack("{s:s}", KILN_LABEL_OWNER_UID, "1000x");
  ck_assert(kiln_owner_owns(&me, mine));
  ck_assert(!kiln_owner_owns(&me, theirs));
  ck_assert(!kiln_owner_owns(&me, odd));
  ck_assert(!kiln_owner_owns(&me, NULL));
  ck_assert(!kiln_owner_owns(&me_all, theirs));
  ck_assert(!kiln_owner_all_users(&me_all));
  kiln_caller fallback;
  const kiln_caller *c = kiln_owner_caller(&me_all, &fallback);
  ck_assert_uint_eq(c->id.uid, 1000);
  ck_assert(!c->admin);
  /* An admin caller (as the access module makes one) may act for all. */
  kiln_caller admin = {.id = {ident_name, 0, 0, ident_shell}, .admin = true};
  ck_assert(kiln_access_owns(&admin, theirs, true));
  ck_assert(!kiln_access_owns(&admin, theirs, false));
  ck_assert(!kiln_access_owns(&caller, theirs, true));
}
END_TEST

START_TEST(label_ids) {
  uint32_t v = 0;
  _cleanup_json_ json_t *l =
      json_pack("{s:s, s:s, s:s, s:s}", "a", "42", "b", "-1", "c", "4294967296", "d", "");
  ck_assert(kiln_label_id(l, "a", &v));
  ck_assert_uint_eq(v, 42);
  ck_assert(!kiln_label_id(l, "b", &v));
  ck_assert(!kiln_label_id(l, "c", &v));
  ck_assert(!kiln_label_id(l, "d", &v));
  ck_assert(!kiln_label_id(l, "missing", &v));
}
END_TEST

START_TEST(setup_labels) {
  uint32_t u = 0, g = 0;
  _cleanup_json_ json_t *mine = json_pack("{s:s, s:s, s:s}", KILN_LABEL_USER_SETUP, "true",
                                          KILN_LABEL_UID, "1722830498", KILN_LABEL_GID, "1000");
  ck_assert_int_eq(kiln_image_setup_of(mine, 1722830498u, 1000, &u, &g), KILN_IMAGE_LABELED);
  ck_assert_int_eq(kiln_image_setup_of(mine, 1001, 1000, &u, &g), KILN_IMAGE_OTHER_USER);
  ck_assert_uint_eq(u, 1722830498u);
  ck_assert_int_eq(kiln_image_setup_of(NULL, 1, 1, &u, &g), KILN_IMAGE_LEGACY);
  _cleanup_json_ json_t *ds01 = json_pack("{s:s, s:s, s:s}", DS01_LABEL_USER_SETUP, "true",
                                          DS01_LABEL_UID, "5", DS01_LABEL_GID, "6");
  ck_assert_int_eq(kiln_image_setup_of(ds01, 5, 6, &u, &g), KILN_IMAGE_LABELED);
  _cleanup_json_ json_t *aime = json_pack("{s:s, s:s, s:s}", AIME_LABEL_USER_SETUP, "1",
                                          AIME_LABEL_UID, "7", AIME_LABEL_GID, "8");
  ck_assert_int_eq(kiln_image_setup_of(aime, 7, 8, &u, &g), KILN_IMAGE_LABELED);
  _cleanup_json_ json_t *off = json_pack("{s:s, s:s, s:s}", KILN_LABEL_USER_SETUP, "false",
                                         KILN_LABEL_UID, "7", KILN_LABEL_GID, "8");
  ck_assert_int_eq(kiln_image_setup_of(off, 7, 8, &u, &g), KILN_IMAGE_LEGACY);
}
END_TEST

START_TEST(config_parse) {
  kiln_config c;
  kiln_error *err = NULL;
  const char *text = "max_containers: 3\nmax_volumes: 7\nnamespace: lab\nlegacy_timeout: 60\n";
  ck_assert_int_eq(kiln_config_parse(&c, "c.yaml", text, strlen(text), &err), 0);
  ck_assert_uint_eq(c.max_containers, 3);
  ck_assert_uint_eq(c.max_volumes, 7);
  ck_assert_str_eq(c.ns, "lab");
  ck_assert_uint_eq(c.legacy_timeout, 60);
  kiln_config_clear(&c);
  ck_assert_int_eq(kiln_config_parse(&c, "c.yaml", "", 0, &err), 0);
  ck_assert_uint_eq(c.max_containers, 10);
  ck_assert_uint_eq(c.max_volumes, 100);
  ck_assert_str_eq(c.ns, "kiln");
  ck_assert_uint_eq(c.legacy_timeout, 300);
  kiln_config_clear(&c);
}
END_TEST

START_TEST(config_errors) {
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"max_containers: ten\n", "c.yaml:1:17: expected a whole number from 0 to 100000, got 'ten'"},
      {"a: 1\nmax_volume: 3\n", "c.yaml:1:1: unknown key 'a'"},
      {"max_volume: 3\n", "c.yaml:1:1: unknown key 'max_volume' (did you mean 'max_volumes'?)"},
      {"legacy_timeout: 0\n", "c.yaml:1:17: expected a whole number from 1 to 86400, got '0'"},
      {"namespace: Bad NS\n", "c.yaml:1:12: namespace:"},
      {"- 1\n", "c.yaml:1:1: expected a mapping of settings, got a list"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    kiln_config c;
    kiln_error *err = NULL;
    ck_assert_int_eq(kiln_config_parse(&c, "c.yaml", cases[i].text, strlen(cases[i].text), &err),
                     -1);
    ck_assert_int_eq(err->code, KILN_EXIT_USAGE);
    ck_assert_msg(!strncmp(err->message, cases[i].want, strlen(cases[i].want)), "case %zu: %s", i,
                  err->message);
    kiln_error_free(err);
  }
}
END_TEST

START_TEST(config_missing_explicit_file) {
  kiln_config c;
  kiln_error *err = NULL;
  ck_assert_int_eq(kiln_config_load_file(&c, "/nonexistent/kiln.yaml", false, &err), -1);
  ck_assert_ptr_nonnull(strstr(err->message, "configuration: cannot read /nonexistent/kiln.yaml"));
  kiln_error_free(err);
}
END_TEST

typedef struct {
  char out[64], errs[64];
} sink;

static int collect(void *user, int stream, const char *data, size_t n) {
  sink *s = user;
  char *dst = stream == 1 ? s->out : s->errs;
  strncat(dst, data, n);
  return 0;
}

START_TEST(demux_split_frames) {
  static const char stream[] = "\1\0\0\0\0\0\0\3abc\2\0\0\0\0\0\0\2de\1\0\0\0\0\0\0\1f";
  size_t len = sizeof stream - 1;
  for (size_t step = 1; step <= len; step++) {
    sink s = {"", ""};
    kiln_demux d = {0};
    for (size_t off = 0; off < len; off += step)
      kiln_demux_feed(&d, stream + off, off + step > len ? len - off : step, collect, &s);
    ck_assert_str_eq(s.out, "abcf");
    ck_assert_str_eq(s.errs, "de");
  }
}
END_TEST

START_TEST(engine_names) {
  _cleanup_free_ char *n = kiln_container_engine_name("ml", 1722830498u);
  ck_assert_str_eq(n, "ml._.1722830498");
}
END_TEST

/* Volumes: the same per-user rule, and back to the short name only when
 * the suffix is the owner's. */
START_TEST(volume_engine_names) {
  _cleanup_free_ char *v = kiln_volume_engine_name("data", 1001u);
  ck_assert_str_eq(v, "data._.1001");
  static const struct {
    const char *engine_name, *owner, *want;
  } cases[] = {
      {"data._.1001", "1001", "data"},    {"data._.1001", "1002", "data._.1001"},
      {"data", "1001", "data"},           {"data._.1001", NULL, "data._.1001"},
      {"x._.5._.1001", "1001", "x._.5"},  {"._.1001", "1001", "._.1001"},
      {"data.1001", "1001", "data.1001"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    _cleanup_free_ char *s = kiln_engine_short_name(cases[i].engine_name, cases[i].owner);
    ck_assert_msg(s && !strcmp(s, cases[i].want), "case %zu: %s", i, s ? s : "(null)");
  }
}
END_TEST

/* The create body mounts the caller's per-user volume with NoCopy (the
 * preparing container did the engine's first copy). */
START_TEST(body_volume_per_user_nocopy) {
  kiln_deploy_options o = base_opts();
  const char *vols[] = {"data:/data:ro"};
  o.volumes = vols;
  o.n_volumes = 1;
  kiln_error *err = NULL;
  _cleanup_json_ json_t *b = body_for(&o, "{}", &err);
  ck_assert_ptr_nonnull(b);
  json_t *m = json_array_get(json_object_get(json_object_get(b, "HostConfig"), "Mounts"), 0);
  ck_assert_str_eq(path_str(m, "Source", NULL), "data._.1722830498");
  ck_assert_str_eq(path_str(m, "Target", NULL), "/data");
  ck_assert(json_is_true(json_object_get(m, "ReadOnly")));
  ck_assert(json_is_true(json_object_get(json_object_get(m, "VolumeOptions"), "NoCopy")));
}
END_TEST

/* The volume-preparing container: chown of the root only, as root, from the
 * image deployed, the volume at the real target and nothing else. */
START_TEST(volume_prepare_body_minimal) {
  _cleanup_json_ json_t *b =
      kiln_volume_prepare_body("sha256:img", "data._.1001", "/data", 1001u, 1002u);
  ck_assert_ptr_nonnull(b);
  ck_assert_str_eq(path_str(b, "Image", NULL), "sha256:img");
  ck_assert_str_eq(path_str(b, "User", NULL), "0:0");
  _cleanup_free_ char *cmd = json_dumps(json_object_get(b, "Cmd"), JSON_COMPACT);
  _cleanup_free_ char *entry = json_dumps(json_object_get(b, "Entrypoint"), JSON_COMPACT);
  ck_assert_str_eq(entry, "[\"chown\"]");
  ck_assert_str_eq(cmd, "[\"1001:1002\",\"/data\"]");
  json_t *labels = json_object_get(b, "Labels");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_TEMP), "true");
  ck_assert_str_eq(kiln_label(labels, KILN_LABEL_OWNER_UID), "1001");
  _cleanup_free_ char *hc =
      json_dumps(json_object_get(b, "HostConfig"), JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(hc, "{\"AutoRemove\":false,\"CapAdd\":[\"CHOWN\"],\"CapDrop\":[\"ALL\"],"
                       "\"Mounts\":[{\"ReadOnly\":false,\"Source\":\"data._.1001\","
                       "\"Target\":\"/data\",\"Type\":\"volume\"}],\"NetworkMode\":\"none\","
                       "\"SecurityOpt\":[\"no-new-privileges\"]}");
  ck_assert_ptr_null(json_object_get(b, "Volumes"));
}
END_TEST

/* The one volume grammar (-v and deploy.volumes): NAME:/path[:ro|:rw], no
 * other options, no system folder as the target. */
START_TEST(volume_grammar_is_strict) {
  static const struct {
    const char *spec, *error;
  } cases[] = {
      {"data:/data", NULL},
      {"data:/data:ro", NULL},
      {"my.vol-1:/home/u/x:rw", NULL},
      {"data:/x:rw,z", "mode must be ro or rw, got 'rw,z'"},
      {"data:/x:z", "mode must be ro or rw"},
      {"data:/proc", "volume target \"/proc\" is a system folder of the container"},
      {"data:/", "is a system folder"},
      {"data:/etc/ssl", "is a system folder"},
      {"data:/dev:ro", "is a system folder"},
      {"/srv:/data", "is a path; -v takes a named volume"},
      {"-x:/data", "volume \"-x:/data\": volume name \"-x\" is not valid"},
      /* the one cap of every volume name (KILN_MAX_VOLUME_NAME) */
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaa:/data",
       "volume name"},
      {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "aaaaaaaaa"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaa:/data",
       NULL},
      {"da ta:/data", "is not valid"},
      {"data", "expected NAME:/path[:ro]"},
      {"data:rel", "is not absolute"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *name = NULL, *target = NULL;
    bool ro = false;
    _cleanup_error_ kiln_error *err = NULL;
    int r = kiln_parse_volume_spec(cases[i].spec, &name, &target, &ro, &err);
    if (!cases[i].error) {
      ck_assert_msg(r == 0, "%s: %s", cases[i].spec, err ? err->message : "");
    } else {
      ck_assert_msg(r < 0 && err && err->code == KILN_EXIT_USAGE, "%s accepted", cases[i].spec);
      ck_assert_msg(strstr(err->message, cases[i].error), "%s: %s", cases[i].spec, err->message);
    }
    free(name);
    free(target);
  }
}
END_TEST

static Suite *deploy_suite(void) {
  Suite *s = suite_create("deploy");
  TCase *body = kt_tcase(s, "create body", NULL, NULL);
  tcase_add_test(body, body_basics);
  tcase_add_test(body, volume_grammar_is_strict);
  tcase_add_test(body, body_command_defaults);
  tcase_add_test(body, body_gpus_all_count_ids);
  tcase_add_test(body, body_genv);
  tcase_add_test(body, body_gpu_memory_needs_genv);
  tcase_add_test(body, body_volumes_ports_env_limits);
  tcase_add_test(body, body_bad_values);
  tcase_add_test(body, body_port_bindings_loopback);
  tcase_add_test(body, published_ports_shape);
  tcase_add_test(body, body_never_privileged);
  tcase_add_test(body, body_container_sudo_site);
  tcase_add_test(body, temp_body_mounts_nothing);
  tcase_add_test(body, adapted_user_moves_home);
  TCase *owner = kt_tcase(s, "ownership", NULL, NULL);
  tcase_add_test(owner, ownership_through_access);
  tcase_add_test(owner, label_ids);
  TCase *other = kt_tcase(s, "labels, config, streams", NULL, NULL);
  tcase_add_test(other, setup_labels);
  tcase_add_test(other, config_parse);
  tcase_add_test(other, config_errors);
  tcase_add_test(other, config_missing_explicit_file);
  tcase_add_test(other, demux_split_frames);
  tcase_add_test(other, engine_names);
  tcase_add_test(other, volume_engine_names);
  tcase_add_test(other, body_volume_per_user_nocopy);
  tcase_add_test(other, volume_prepare_body_minimal);
  return s;
}

int main(void) {
  return kt_run_suite(deploy_suite());
}
