/* Docker credential helpers: `docker-credential-<name> get` as docker runs
 * them (server address on stdin, {"ServerURL","Username","Secret"} on
 * stdout), chosen by credHelpers/credsStore in docker's config.json. In
 * sudo mode the helper runs as the caller, never as root: root's stored
 * credentials and root's rights stay out of a user's reach. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/dist/dist_private.h"
#include "kiln/distribute.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

extern char **environ;

#define HELPER_PREFIX   "docker-credential-"
#define MAX_HELPER_NAME 64
#define MAX_STDERR      4096
#define MAX_TIMEOUT_MS  600000L
#define NOT_FOUND       "credentials not found in native keychain"
#define TOKEN_USER      "<token>"
#define HUB_ADDRESS     "https://index.docker.io/v1/"
#define SYSTEM_PATH     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

bool kiln_cred_helper_name_ok(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > MAX_HELPER_NAME || name[0] == '.') return false;
  return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

const char *kiln_cred_helper_address(const char *server) {
  static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io", NULL};
  for (const char *const *h = hub; *h; h++)
    if (!strcmp(server, *h)) return HUB_ADDRESS;
  return server;
}

const char *kiln_cred_helper_for(json_t *cfg, const char *server) {
  const char *one = json_string_value(
      json_object_get(json_object_get(cfg, "credHelpers"), kiln_cred_helper_address(server)));
  if (one && *one) return one;
  const char *store = json_string_value(json_object_get(cfg, "credsStore"));
  return store && *store ? store : NULL;
}

int kiln_cred_helper_parse(const char *helper, const char *text, kiln_registry_auth *auth,
                           kiln_error **err) {
  json_error_t je;
  _cleanup_json_ json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
  const char *user = json_string_value(json_object_get(o, "Username"));
  const char *secret = json_string_value(json_object_get(o, "Secret"));
  if (!json_is_object(o) || !user || !secret)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          HELPER_PREFIX "%s get answered no JSON object with string Username and "
                                        "Secret",
                          helper);
  if (!*user && !*secret) return 0; /* nothing stored: anonymous */
  if (!strcmp(user, TOKEN_USER)) {
    if (!(auth->identity_token = strdup(secret))) return kiln_error_oom(err);
    return 0;
  }
  if (!(auth->username = strdup(user)) || !(auth->password = strdup(secret)))
    return kiln_error_oom(err);
  return 0;
}

/* ---- running one helper ---- */

/* Everything the child needs, prepared before fork (nothing allocates
 * after it). */
typedef struct {
  char *argv[3];
  char **envp; /* NULL: inherit */
  bool drop;   /* sudo mode: become the caller */
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  size_t n_groups;
  int in, out, errfd, report; /* report: CLOEXEC pipe for exec's errno */
} child_plan;

static void report_and_exit(int fd) __attribute__((noreturn));
static void report_and_exit(int fd) {
  int e = errno;
  if (write(fd, &e, sizeof e) < 0) _exit(127);
  _exit(127);
}

static void run_child(const child_plan *p) __attribute__((noreturn));
static void run_child(const child_plan *p) {
  int rep = p->report;
  setpgid(0, 0); /* its own group: a timeout kills what it started too */
  if (dup2(p->in, 0) < 0 || dup2(p->out, 1) < 0 || dup2(p->errfd, 2) < 0 || dup2(rep, 3) < 0)
    report_and_exit(rep);
  rep = 3;
  if (fcntl(rep, F_SETFD, FD_CLOEXEC) < 0) report_and_exit(rep);
  closefrom(4);
  if (p->drop) {
    if (setgroups(p->n_groups, p->groups) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
      report_and_exit(rep);
    if (getuid() != p->uid || geteuid() != p->uid || getegid() != p->gid || setuid(0) == 0) {
      errno = EPERM;
      report_and_exit(rep);
    }
  }
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &dfl, NULL); /* ignored signals stay ignored across exec */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  if (p->envp) environ = p->envp;
  execvp(p->argv[0], p->argv);
  report_and_exit(rep);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long helper_timeout_ms(void) {
  const char *v = kiln_env("KILN_CRED_HELPER_TIMEOUT_MS");
  char *end = NULL;
  long ms = v && *v ? strtol(v, &end, 10) : 0;
  return end && !*end && ms > 0 && ms <= MAX_TIMEOUT_MS ? ms : KILN_CRED_HELPER_TIMEOUT_MS;
}

typedef struct {
  kiln_buf out, err;
  bool too_big, timed_out;
  bool interrupted; /* a caught signal (Ctrl-C: the CLI's handlers) */
  int status;       /* waitpid's */
  int exec_errno;   /* the child could not start the helper */
} child_result;

/* Reads stdout/stderr until both close or the deadline passes. */
static void collect(int out, int errfd, int64_t deadline, child_result *r) {
  struct pollfd fds[2] = {{.fd = out, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
  kiln_buf *bufs[2] = {&r->out, &r->err};
  char chunk[4096];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      r->timed_out = true;
      return;
    }
    int n = poll(fds, 2, (int)left);
    if (n < 0 && errno == EINTR) { /* only a handled signal interrupts poll */
      r->interrupted = true;
      return;
    }
    if (n < 0) return;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        fds[i].fd = -1;
        continue;
      }
      if (kiln_buf_append(bufs[i], chunk, (size_t)got) < 0 && i == 0) {
        r->too_big = true;
        return;
      }
    }
  }
}

/* Waits for pid until the deadline, then kills its group; always reaps.
 * Every kill happens while pid (alive or a zombie) still holds its group
 * id, so it never reaches an unrelated process. */
static void reap(pid_t pid, int64_t deadline, bool kill_now, child_result *r) {
  if (kill_now) kill(-pid, SIGKILL);
  for (;;) {
    pid_t w = waitpid(pid, &r->status, kill_now ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return;
    if (now_ms() >= deadline) {
      r->timed_out = true;
      kill_now = true;
      kill(-pid, SIGKILL);
      continue;
    }
    if (nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL) < 0 && errno == EINTR) {
      r->interrupted = kill_now = true;
      kill(-pid, SIGKILL);
    }
  }
  /* No kill after the reap: the group id may then be reused. */
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* stdin carries the address, written before the fork: it fits in the
 * pipe, and a helper that never reads it cannot raise SIGPIPE in kiln. */
static int start_child(child_plan *p, const char *address, int fds[6], pid_t *pid,
                       kiln_error **err) {
  int in[2], out[2], errp[2], rep[2];
  if (pipe2(in, O_CLOEXEC) < 0) return kiln_error_errno(err, errno, "pipe");
  fds[0] = in[0], fds[1] = in[1];
  if (pipe2(out, O_CLOEXEC) < 0) return kiln_error_errno(err, errno, "pipe");
  fds[2] = out[0], fds[3] = out[1];
  if (pipe2(errp, O_CLOEXEC) < 0) return kiln_error_errno(err, errno, "pipe");
  fds[4] = errp[0], fds[5] = errp[1];
  if (pipe2(rep, O_CLOEXEC) < 0) return kiln_error_errno(err, errno, "pipe");
  size_t n = strlen(address);
  if (write(in[1], address, n) != (ssize_t)n) {
    close(rep[0]), close(rep[1]);
    return kiln_error_errno(err, errno, "writing to the helper's stdin");
  }
  close_fd(&fds[1]);
  p->in = in[0], p->out = out[1], p->errfd = errp[1], p->report = rep[1];
  *pid = fork();
  if (*pid == 0) run_child(p);
  int e = errno;
  close(rep[1]);
  close_fd(&fds[0]), close_fd(&fds[3]), close_fd(&fds[5]);
  if (*pid < 0) {
    close(rep[0]);
    return kiln_error_errno(err, e, "fork");
  }
  setpgid(*pid, *pid);
  fds[1] = rep[0]; /* reused: the report pipe's read end */
  return 0;
}

static int run_helper(child_plan *p, const char *address, long timeout_ms, child_result *r,
                      kiln_error **err) {
  int fds[6] = {-1, -1, -1, -1, -1, -1};
  pid_t pid = -1;
  int rc = start_child(p, address, fds, &pid, err);
  if (rc == 0) {
    int64_t deadline = now_ms() + timeout_ms;
    collect(fds[2], fds[4], deadline, r);
    reap(pid, deadline, r->too_big || r->timed_out || r->interrupted, r);
    int e = 0;
    if (read(fds[1], &e, sizeof e) == (ssize_t)sizeof e) r->exec_errno = e;
  }
  for (int i = 0; i < 6; i++)
    close_fd(&fds[i]);
  return rc;
}

/* ---- the caller's identity and environment ---- */

typedef struct {
  char *home, *path, *user, *logname;
  char *envp[5];
} caller_env;

static void caller_env_clear(caller_env *e) {
  free(e->home), free(e->path), free(e->user), free(e->logname);
}

/* Sudo mode: the helper as the caller, with an environment of its own. */
static int plan_drop(child_plan *p, caller_env *e, kiln_error **err) {
  const kiln_caller *c = kiln_access_caller();
  if (!c || !c->sudo) return 0;
  _cleanup_free_ char *home = kiln_caller_home();
  if (!home)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "uid %u has no home folder in the user database; a credential helper "
                          "runs only as a known user",
                          (unsigned)c->id.uid);
  const char *name = c->id.name ? c->id.name : "";
  if (asprintf(&e->home, "HOME=%s", home) < 0 || asprintf(&e->user, "USER=%s", name) < 0 ||
      asprintf(&e->logname, "LOGNAME=%s", name) < 0 ||
      asprintf(&e->path, "PATH=" SYSTEM_PATH ":%s/.local/bin:%s/bin", home, home) < 0)
    return kiln_error_oom(err);
  e->envp[0] = e->home, e->envp[1] = e->path, e->envp[2] = e->user, e->envp[3] = e->logname;
  e->envp[4] = NULL;
  p->envp = e->envp;
  p->drop = true;
  p->uid = c->id.uid;
  p->gid = c->id.gid;
  p->groups = c->groups;
  p->n_groups = c->n_groups;
  return 0;
}

/* ---- its answer ---- */

/* The first line of text, trimmed, at most 200 bytes. New string. */
static char *first_line(const char *text) {
  text += strspn(text, " \t\r\n");
  size_t n = strcspn(text, "\r\n");
  while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
    n--;
  return strndup(text, n > 200 ? 200 : n);
}

static int judge(const char *helper, const child_result *r, long timeout_ms,
                 kiln_registry_auth *auth, kiln_error **err) {
  const char *out = r->out.data ? r->out.data : "";
  if (r->exec_errno)
    return kiln_error_set(
        err, KILN_EXIT_FAILURE, "cannot run credential helper " HELPER_PREFIX "%s: %s%s", helper,
        strerror(r->exec_errno), r->exec_errno == ENOENT ? " (is it installed and in PATH?)" : "");
  if (r->interrupted)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "interrupted while credential helper " HELPER_PREFIX "%s ran; kiln "
                          "killed it",
                          helper);
  if (r->timed_out)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "credential helper " HELPER_PREFIX "%s did not answer within %ld ms; "
                          "kiln killed it",
                          helper, timeout_ms);
  if (r->too_big)
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "credential helper " HELPER_PREFIX "%s answered more than %u bytes",
                          helper, KILN_CRED_HELPER_MAX_OUTPUT);
  if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
    return kiln_cred_helper_parse(helper, out, auth, err);
  _cleanup_free_ char *said = first_line(*out ? out : r->err.data ? r->err.data : "");
  if (!said) return kiln_error_oom(err);
  if (!strcmp(said, NOT_FOUND)) return 0; /* docker: then anonymous */
  if (WIFSIGNALED(r->status))
    return kiln_error_set(err, KILN_EXIT_FAILURE,
                          "credential helper " HELPER_PREFIX "%s was killed by signal %d%s%s",
                          helper, WTERMSIG(r->status), *said ? ": " : "", said);
  return kiln_error_set(err, KILN_EXIT_FAILURE,
                        "credential helper " HELPER_PREFIX "%s failed (exit %d)%s%s", helper,
                        WEXITSTATUS(r->status), *said ? ": " : "", said);
}

int kiln_cred_helper_get(const char *helper, const char *server, kiln_registry_auth *auth,
                         kiln_error **err) {
  if (!kiln_cred_helper_name_ok(helper))
    return kiln_error_set(err, KILN_EXIT_USAGE,
                          "credential helper name '%s' is not valid (letters, digits, '-', '_' "
                          "and '.' only)",
                          helper);
  _cleanup_free_ char *program = NULL;
  if (asprintf(&program, HELPER_PREFIX "%s", helper) < 0) return kiln_error_oom(err);
  char get[] = "get";
  child_plan p = {.argv = {program, get, NULL}};
  caller_env env = {0};
  child_result r = {.out = KILN_BUF_INIT(KILN_CRED_HELPER_MAX_OUTPUT),
                    .err = KILN_BUF_INIT(MAX_STDERR)};
  long timeout_ms = helper_timeout_ms();
  int rc = plan_drop(&p, &env, err);
  if (rc == 0) rc = run_helper(&p, kiln_cred_helper_address(server), timeout_ms, &r, err);
  if (rc == 0) rc = judge(helper, &r, timeout_ms, auth, err);
  caller_env_clear(&env);
  kiln_buf_free(&r.out);
  kiln_buf_free(&r.err);
  return rc;
}
