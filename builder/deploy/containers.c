/* Container lifecycle after deploy: list, start, stop, shell, retire. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "builder/deploy/deploy_private.h"
#include "kiln/labels.h"
#include "sanitize/limits.h"
#include "sanitize/sanitize.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#define STOP_TIMEOUT_S 10
/* The user's login shell from the container's passwd, else /bin/sh. */
#define LOGIN_SHELL_SCRIPT                                                                         \
  "s=$(awk -F: -v u=\"$(id -u)\" '$3 == u { print $7; exit }' /etc/passwd 2>/dev/null); "          \
  "[ -x \"$s\" ] || s=/bin/sh; exec \"$s\" -l"

/* filters={"label":[...]} escaped; label may be NULL. */
static char *label_filter(const char *label, const char *label2) {
  _cleanup_json_ json_t *f = json_pack("{s:[]}", "label");
  json_t *list = json_object_get(f, "label");
  if (label) json_array_append_new(list, json_string(label));
  if (label2) json_array_append_new(list, json_string(label2));
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL;
  char *q = NULL;
  return esc && asprintf(&q, "all=1&filters=%s", esc) >= 0 ? q : NULL;
}

/* The caller's uid (see kiln_owner). */
static uint32_t owner_uid(const kiln_owner *owner) {
  kiln_caller fallback;
  return kiln_owner_caller(owner, &fallback)->id.uid;
}

static char *owner_label(const kiln_owner *owner) {
  char *s = NULL;
  if (kiln_owner_all_users(owner)) return strdup(KILN_LABEL_OWNER_UID);
  return asprintf(&s, "%s=%" PRIu32, KILN_LABEL_OWNER_UID, owner_uid(owner)) < 0 ? NULL : s;
}

static bool is_temporary(json_t *labels) {
  const char *t = kiln_label(labels, KILN_LABEL_TEMP);
  return t && !strcmp(t, "true");
}

int kiln_count_owned(kiln_engine *engine, const char *what, uint32_t uid, unsigned *count,
                     kiln_error **err) {
  char label[64];
  snprintf(label, sizeof label, "%s=%" PRIu32, KILN_LABEL_OWNER_UID, uid);
  _cleanup_free_ char *query = label_filter(label, NULL);
  if (!query) return kiln_error_oom(err);
  bool containers = !strcmp(what, "containers");
  _cleanup_json_ json_t *r = kiln_engine_json(
      engine, "GET", containers ? "/containers/json" : "/volumes", query, NULL, NULL, err);
  if (!r) return -1;
  json_t *list = containers ? r : json_object_get(r, "Volumes");
  size_t i;
  json_t *item;
  *count = 0;
  json_array_foreach(list, i, item) {
    if (!containers || !is_temporary(json_object_get(item, "Labels"))) (*count)++;
  }
  return 0;
}

/* ---- list ---- */

/* Whether the project's image (by labels: owner, project) now has another
 * id than image_id, the one deployed. */
static bool is_stale(kiln_engine *engine, const char *ns, json_t *labels, const char *image_id) {
  uint32_t uid;
  const char *project = kiln_label(labels, KILN_LABEL_PROJECT);
  if (!project || !image_id || !kiln_label_id(labels, KILN_LABEL_OWNER_UID, &uid)) return false;
  _cleanup_free_ char *ref = kiln_namespace_ref(ns, uid, project, NULL);
  if (!ref) return false;
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *img = kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, &ignored);
  const char *id = json_string_value(json_object_get(img, "Id"));
  return id && strcmp(id, image_id);
}

/* The image a container runs, for people: the first tag of an image id (the
 * id when untagged), without the docker.io/ Podman puts in front. New. */
static json_t *image_name(kiln_engine *engine, json_t *image) {
  const char *ref = json_string_value(image);
  if (!ref) return json_incref(image);
  _cleanup_error_ kiln_error *ignored = NULL;
  _cleanup_json_ json_t *img =
      strncmp(ref, "sha256:", 7)
          ? NULL
          : kiln_engine_inspect(engine, KILN_OBJECT_IMAGE, ref, false, &ignored);
  const char *tag = json_string_value(json_array_get(json_object_get(img, "RepoTags"), 0));
  if (tag && strcmp(tag, "<none>:<none>")) ref = tag;
  return json_string(kiln_familiar_ref(ref));
}

static json_t *list_entry(kiln_engine *engine, const char *ns, json_t *c) {
  json_t *labels = json_object_get(c, "Labels");
  const char *owner = kiln_label(labels, KILN_LABEL_OWNER_UID);
  const char *project = kiln_label(labels, KILN_LABEL_PROJECT);
  const char *image_id = kiln_label(labels, KILN_LABEL_IMAGE_ID);
  const char *engine_name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
  if (engine_name && *engine_name == '/') engine_name++;
  _cleanup_free_ char *name = kiln_engine_short_name(engine_name ? engine_name : "", owner);
  return json_pack("{s:s, s:s, s:O, s:s?, s:o, s:s?, s:O, s:O, s:s?, s:b, s:o*}", "name",
                   name ? name : "", "engine_name", engine_name ? engine_name : "", "id",
                   json_object_get(c, "Id"), "project", project, "image",
                   image_name(engine, json_object_get(c, "Image")), "image_id", image_id, "status",
                   json_object_get(c, "Status"), "state", json_object_get(c, "State"), "owner_uid",
                   owner, "stale", is_stale(engine, ns, labels, image_id), "ports",
                   kiln_ports_from_list(json_object_get(c, "Ports")));
}

json_t *kiln_container_list(kiln_engine *engine, const kiln_owner *owner, const char *ns,
                            kiln_error **err) {
  _cleanup_free_ char *label = owner_label(owner);
  _cleanup_free_ char *query = label ? label_filter(label, NULL) : NULL;
  if (!query) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *r =
      kiln_engine_json(engine, "GET", "/containers/json", query, NULL, NULL, err);
  if (!r) return NULL;
  json_t *out = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(r, i, c) {
    if (is_temporary(json_object_get(c, "Labels"))) continue;
    json_t *e = list_entry(engine, ns ? ns : "kiln", c);
    if (!e || json_array_append_new(out, e) < 0) {
      json_decref(out);
      return kiln_error_oom(err), NULL;
    }
  }
  return out;
}

/* ---- find ---- */

/* The caller's container NAME (inspect result), ownership checked. */
static json_t *find_owned(kiln_engine *engine, const char *name, const kiln_owner *owner,
                          kiln_error **err) {
  _cleanup_free_ char *engine_name = kiln_container_engine_name(name, owner_uid(owner));
  if (!engine_name) return kiln_error_oom(err), NULL;
  json_t *c = kiln_engine_inspect(engine, KILN_OBJECT_CONTAINER, engine_name, false, err);
  if (!c && err && *err) return NULL;
  if (!c && kiln_owner_all_users(owner))
    c = kiln_engine_inspect(engine, KILN_OBJECT_CONTAINER, name, false, err);
  if (!c)
    return err && *err ? NULL
                       : (kiln_error_set(err, KILN_EXIT_FAILURE,
                                         "you have no container named '%s' (see 'kiln container "
                                         "list')",
                                         name),
                          NULL);
  json_t *labels = json_object_get(json_object_get(c, "Config"), "Labels");
  if (!kiln_owner_owns(owner, labels)) {
    const char *who = kiln_label(labels, KILN_LABEL_OWNER_UID);
    kiln_error_set(err, KILN_EXIT_FAILURE, "container '%s' is not yours (owner uid %s)", name,
                   who ? who : "unknown: not deployed by kiln");
    json_decref(c);
    return NULL;
  }
  return c;
}

char *kiln_container_find(kiln_engine *engine, const char *name, const kiln_owner *owner,
                          kiln_error **err) {
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  const char *id = json_string_value(json_object_get(c, "Id"));
  return id ? strdup(id) : NULL;
}

/* ---- inspect ---- */

static json_t *workspace_mount(json_t *container);

/* The list entry of container id (the list's shape: stale, ports, image). */
static json_t *list_entry_of(kiln_engine *engine, const char *ns, const char *id,
                             kiln_error **err) {
  _cleanup_json_ json_t *f = json_pack("{s:[s]}", "id", id);
  _cleanup_free_ char *text = f ? json_dumps(f, JSON_COMPACT) : NULL;
  _cleanup_free_ char *esc = text ? kiln_engine_escape(text) : NULL, *q = NULL;
  if (!esc || asprintf(&q, "all=1&filters=%s", esc) < 0) return kiln_error_oom(err), NULL;
  _cleanup_json_ json_t *r =
      kiln_engine_json(engine, "GET", "/containers/json", q, NULL, NULL, err);
  if (!r) return NULL;
  json_t *c = json_array_get(r, 0);
  if (!c) return kiln_error_set(err, KILN_EXIT_FAILURE, "container %.12s went away", id), NULL;
  json_t *e = list_entry(engine, ns ? ns : "kiln", c);
  return e ? e : (kiln_error_oom(err), NULL);
}

json_t *kiln_container_inspect(kiln_engine *engine, const char *name, const kiln_owner *owner,
                               const char *ns, kiln_error **err) {
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  const char *id = json_string_value(json_object_get(c, "Id"));
  if (!id) return NULL;
  _cleanup_json_ json_t *e = list_entry_of(engine, ns, id, err);
  if (!e) return NULL;
  json_t *config = json_object_get(c, "Config"), *state = json_object_get(c, "State");
  json_t *labels = json_object_get(config, "Labels");
  json_t *mount = workspace_mount(c);
  const char *user = json_string_value(json_object_get(config, "User"));
  if (json_object_set_new(e, "labels", json_is_object(labels) ? json_copy(labels) : json_object()) <
          0 ||
      json_object_set_new(e, "running",
                          json_boolean(json_is_true(json_object_get(state, "Running")))) < 0 ||
      json_object_set(e, "created", json_object_get(c, "Created")) < 0 ||
      json_object_set_new(e, "run_as", json_string(user ? user : "")) < 0 ||
      json_object_set_new(e, "workspace",
                          mount
                              ? json_pack("{s:O, s:O}", "source", json_object_get(mount, "Source"),
                                          "target", json_object_get(mount, "Target"))
                              : json_null()) < 0)
    return kiln_error_oom(err), NULL;
  return steal_pointer(&e);
}

/* POST /containers/ID/ACTION; 304 (already in that state) is fine. */
static int post_action(kiln_engine *engine, const char *id, const char *name, const char *action,
                       const char *query, kiln_error **err) {
  _cleanup_free_ char *path = NULL;
  if (asprintf(&path, "/containers/%s/%s", id, action) < 0) return kiln_error_oom(err);
  kiln_engine_request req = KILN_ENGINE_REQUEST_INIT;
  kiln_engine_response resp;
  req.method = "POST";
  req.path = path;
  req.query = query;
  kiln_error *e = NULL;
  int r = kiln_engine_call(engine, &req, &resp, &e);
  if (r < 0 && resp.status == 304) {
    kiln_error_free(e);
    return 0;
  }
  kiln_engine_response_clear(&resp);
  if (r < 0) {
    kiln_error_keep(err, e);
    return kiln_error_prefix(err, "%s '%s'", action, name);
  }
  return 0;
}

static int lifecycle(kiln_engine *engine, const char *name, const kiln_owner *owner,
                     const char *action, const char *query, kiln_error **err) {
  _cleanup_free_ char *id = kiln_container_find(engine, name, owner, err);
  return id ? post_action(engine, id, name, action, query, err) : -1;
}

/* ---- the workspace mount ---- */

/* The container's workspace: its bind mount (kiln binds nothing else). */
static json_t *workspace_mount(json_t *container) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(json_object_get(container, "HostConfig"), "Mounts"), i, m) {
    const char *type = json_string_value(json_object_get(m, "Type"));
    if (type && !strcmp(type, "bind")) return m;
  }
  return NULL;
}

/* A container that already exited has no mount to look at: its bind source
 * must still be a real path (no symlink anywhere) to the folder checked. */
static int host_side_check(json_t *container, dev_t dev, ino_t ino, kiln_error **err) {
  const char *src = json_string_value(json_object_get(workspace_mount(container), "Source"));
  _cleanup_free_ char *real = src ? realpath(src, NULL) : NULL;
  struct stat st;
  if (!real || strcmp(real, src) || stat(real, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "the workspace %s is not the folder that was checked", src ? src : "?");
  return 0;
}

int kiln_workspace_mount_check(kiln_engine *engine, const char *id, const char *target, dev_t dev,
                               ino_t ino, json_t **inspected, kiln_error **err) {
  _cleanup_json_ json_t *c = kiln_engine_inspect(engine, KILN_OBJECT_CONTAINER, id, false, err);
  if (inspected) *inspected = json_incref(c);
  if (!c) return err && *err ? -1 : kiln_error_set(err, KILN_EXIT_FAILURE, "the container is gone");
  json_int_t pid = json_integer_value(json_object_get(json_object_get(c, "State"), "Pid"));
  if (pid <= 0) return host_side_check(c, dev, ino, err); /* it ran and exited already */
  char root[64];
  snprintf(root, sizeof root, "/proc/%lld/root", (long long)pid);
  _cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return kiln_error_errno(err, errno, "the container's root %s", root);
  /* Symlinks inside the container resolve inside it, never to the host. */
  struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                         .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  _cleanup_close_ int fd = (int)syscall(SYS_openat2, rfd, target, &how, sizeof how);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0)
    return kiln_error_errno(err, errno, "the workspace mount %s in the container", target);
  if (st.st_dev != dev || st.st_ino != ino)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "%s in the container is not the folder that was checked", target);
  return 0;
}

/* As root: the workspace folder is checked again (it may have been swapped
 * for a symlink since the deploy), the container started, and its mount
 * compared with the folder checked; a mismatch stops it again. */
static int start_checked(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         const char *id, json_t *mount, kiln_error **err) {
  const char *source = json_string_value(json_object_get(mount, "Source"));
  const char *target = json_string_value(json_object_get(mount, "Target"));
  if (!source || !target)
    return kiln_error_set(err, KILN_EXIT_ENGINE, "a bind mount without paths");
  kiln_caller fallback;
  _cleanup_free_ char *real = NULL;
  dev_t dev;
  ino_t ino;
  if (kiln_access_workspace(kiln_owner_caller(owner, &fallback), source, &real, &dev, &ino, err) <
      0)
    return kiln_error_prefix(err, "start '%s'", name);
  if (strcmp(real, source))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "start '%s': its workspace %s now leads to %s; retire it and deploy "
                          "again",
                          name, source, real);
  if (post_action(engine, id, name, "start", NULL, err) < 0) return -1;
  if (kiln_workspace_mount_check(engine, id, target, dev, ino, NULL, err) == 0) return 0;
  _cleanup_error_ kiln_error *ignored = NULL;
  post_action(engine, id, name, "kill", NULL, &ignored);
  return kiln_error_prefix(err, "workspace changed while starting '%s'; the container was stopped",
                           name);
}

int kiln_container_start(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         kiln_error **err) {
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  const char *id = json_string_value(json_object_get(c, "Id"));
  if (!id) return -1;
  json_t *mount = geteuid() == 0 ? workspace_mount(c) : NULL;
  if (mount) return start_checked(engine, name, owner, id, mount, err);
  return post_action(engine, id, name, "start", NULL, err);
}

int kiln_container_stop(kiln_engine *engine, const char *name, const kiln_owner *owner,
                        int timeout_s, kiln_error **err) {
  if (timeout_s > KILN_MAX_STOP_TIMEOUT_S)
    return kiln_error_set(err, KILN_EXIT_USAGE, "--time %d: at most %d seconds", timeout_s,
                          KILN_MAX_STOP_TIMEOUT_S);
  char query[32];
  snprintf(query, sizeof query, "t=%d", timeout_s < 0 ? STOP_TIMEOUT_S : timeout_s);
  return lifecycle(engine, name, owner, "stop", query, err);
}

/* Whether path is a proper ancestor folder of another entry of list. */
static bool is_ancestor(json_t *list, const char *path) {
  size_t n = strlen(path), i;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *p = json_string_value(json_object_get(c, "Path"));
    if (p && !strncmp(p, path, n) && p[n] == '/') return true;
  }
  return false;
}

/* Whether path is where the container mounts something (the workspace, a
 * volume): the engine creates those mount points in its filesystem. */
static bool is_mount_point(json_t *container, const char *path) {
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(container, "Mounts"), i, m) {
    const char *dest = json_string_value(json_object_get(m, "Destination"));
    if (dest && !strcmp(dest, path)) return true;
  }
  return false;
}

/* The paths a user changed: not the engine's init (bound in by Init: true)
 * or mount points, and not the folders that only changed because something
 * inside did. */
static size_t user_changes(json_t *container, json_t *list) {
  size_t i, n = 0;
  json_t *c;
  json_array_foreach(list, i, c) {
    const char *p = json_string_value(json_object_get(c, "Path"));
    const char *base = p ? strrchr(p, '/') : NULL;
    if (!p || (base && !strcmp(base, "/docker-init")) || is_mount_point(container, p)) continue;
    if (json_integer_value(json_object_get(c, "Kind")) == 0 && is_ancestor(list, p)) continue;
    n++;
  }
  return n;
}

int kiln_container_changes(kiln_engine *engine, const char *name, const kiln_owner *owner,
                           bool *running, size_t *changed, kiln_error **err) {
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  if (!c) return -1;
  *running = json_is_true(json_object_get(json_object_get(c, "State"), "Running"));
  char path[128];
  snprintf(path, sizeof path, "/containers/%s/changes",
           json_string_value(json_object_get(c, "Id")));
  _cleanup_json_ json_t *list = kiln_engine_json(engine, "GET", path, NULL, NULL, NULL, err);
  if (!list && err && *err) return kiln_error_prefix(err, "changes of '%s'", name);
  *changed = user_changes(c, list); /* null: nothing changed */
  return 0;
}

/* ---- shell ---- */

static json_t *exec_body(json_t *container, const char *const *argv, size_t argc, bool tty) {
  json_t *config = json_object_get(container, "Config");
  json_t *cmd = json_array();
  for (size_t i = 0; i < argc; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  if (!argc) {
    json_t *login = json_pack("[s,s,s]", "/bin/sh", "-c", LOGIN_SHELL_SCRIPT);
    json_array_extend(cmd, login); /* extend copies; the pack is ours to drop */
    json_decref(login);
  }
  const char *user = json_string_value(json_object_get(config, "User"));
  json_t *body = json_pack("{s:b, s:b, s:b, s:b, s:o}", "AttachStdin", 1, "AttachStdout", 1,
                           "AttachStderr", 1, "Tty", tty, "Cmd", cmd);
  if (body && user && *user) json_object_set_new(body, "User", json_string(user));
  if (body && tty) json_object_set_new(body, "Env", json_pack("[s]", "TERM=xterm-256color"));
  return body;
}

/* The exit code once the exec has ended (it may lag the stream's end). */
static int exec_exit_code(kiln_engine *engine, const char *exec_id, int *code, kiln_error **err) {
  char path[160];
  snprintf(path, sizeof path, "/exec/%s/json", exec_id);
  for (int tries = 0; tries < 200; tries++) {
    _cleanup_json_ json_t *r = kiln_engine_json(engine, "GET", path, NULL, NULL, NULL, err);
    if (!r) return -1;
    if (!json_is_true(json_object_get(r, "Running"))) {
      *code = (int)json_integer_value(json_object_get(r, "ExitCode"));
      return 0;
    }
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  return kiln_error_set(err, KILN_EXIT_FAILURE, "the command still runs after its output ended");
}

int kiln_container_shell(kiln_engine *engine, const char *name, const kiln_owner *owner,
                         const kiln_shell_options *opts, int *exit_code, kiln_error **err) {
  int in_fd = opts->in_fd, out_fd = opts->out_fd;
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  if (!c) return -1;
  if (!json_is_true(json_object_get(json_object_get(c, "State"), "Running")))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "container '%s' is not running; start it with 'kiln container start %s'",
                          name, name);
  bool tty = isatty(in_fd) && isatty(out_fd);
  _cleanup_json_ json_t *body = exec_body(c, opts->argv, opts->argc, tty);
  char path[128];
  snprintf(path, sizeof path, "/containers/%s/exec", json_string_value(json_object_get(c, "Id")));
  _cleanup_json_ json_t *r =
      body ? kiln_engine_json(engine, "POST", path, NULL, body, NULL, err) : NULL;
  const char *exec_id = json_string_value(json_object_get(r, "Id"));
  if (!exec_id) return err && *err ? -1 : kiln_error_oom(err);
  struct termios saved;
  bool raw = tty && tcgetattr(in_fd, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(in_fd, TCSANOW, &t);
  }
  int rc = kiln_exec_attach(engine, exec_id, tty, in_fd, out_fd, opts->err_fd, err);
  if (raw) tcsetattr(in_fd, TCSANOW, &saved);
  if (rc < 0) return -1;
  return exec_exit_code(engine, exec_id, exit_code, err);
}

/* ---- retire ---- */

static int commit_container(kiln_engine *engine, const char *id, const char *ref,
                            kiln_error **err) {
  const char *slash = strrchr(ref, '/');
  const char *colon = strrchr(slash ? slash : ref, ':');
  _cleanup_free_ char *repo = colon ? strndup(ref, (size_t)(colon - ref)) : strdup(ref);
  _cleanup_free_ char *repo_esc = repo ? kiln_engine_escape(repo) : NULL;
  _cleanup_free_ char *tag_esc = kiln_engine_escape(colon ? colon + 1 : "latest");
  _cleanup_free_ char *query = NULL;
  if (!repo_esc || !tag_esc ||
      asprintf(&query, "container=%s&repo=%s&tag=%s", id, repo_esc, tag_esc) < 0)
    return kiln_error_oom(err);
  /* An empty config: everything, labels included, comes from the container.
   * (A body is needed for the JSON Content-Type the engine insists on.) */
  _cleanup_json_ json_t *body = json_object();
  _cleanup_json_ json_t *r = kiln_engine_json(engine, "POST", "/commit", query, body, NULL, err);
  return r ? 0 : kiln_error_prefix(err, "saving to %s", ref);
}

/* --save's reference: save_as, else "<ns>-<owner>/<NAME>-saved:latest". */
static char *save_ref(json_t *container, const char *name, const kiln_owner *owner,
                      const char *save_as, const char *ns) {
  if (save_as) return strdup(save_as);
  uint32_t who;
  json_t *labels = json_object_get(json_object_get(container, "Config"), "Labels");
  if (!kiln_label_id(labels, KILN_LABEL_OWNER_UID, &who)) who = owner_uid(owner);
  _cleanup_free_ char *project = NULL;
  if (asprintf(&project, "%s-saved", name) < 0) return NULL;
  return kiln_namespace_ref(ns, who, project, NULL);
}

int kiln_container_retire(kiln_engine *engine, const char *name, const kiln_owner *owner, bool save,
                          const char *save_as, const char *ns, char **saved, kiln_error **err) {
  _cleanup_json_ json_t *c = find_owned(engine, name, owner, err);
  if (!c) return -1;
  const char *id = json_string_value(json_object_get(c, "Id"));
  _cleanup_free_ char *ref = NULL;
  kiln_caller fallback;
  if (save && !(ref = save_ref(c, name, owner, save_as, ns))) return kiln_error_oom(err);
  /* Before anything changes: the tag is the caller's to create or move. */
  if (ref && kiln_check_image_ref(ref, err) < 0) return kiln_error_prefix(err, "--save '%s'", ref);
  if (ref && kiln_access_tag(kiln_owner_caller(owner, &fallback), ns ? ns : KILN_DEFAULT_NAMESPACE,
                             ref, err) < 0)
    return -1;
  char query[32];
  snprintf(query, sizeof query, "t=%d", STOP_TIMEOUT_S);
  if (post_action(engine, id, name, "stop", query, err) < 0) return -1;
  if (ref && commit_container(engine, id, ref, err) < 0) return -1;
  char path[128];
  snprintf(path, sizeof path, "/containers/%s", id);
  _cleanup_json_ json_t *r = kiln_engine_json(engine, "DELETE", path, "force=1", NULL, NULL, err);
  if (!r) return kiln_error_prefix(err, "removing '%s'", name);
  if (saved) *saved = steal_pointer(&ref);
  return 0;
}
