/* Deploy, containers, volumes and gc against the fake engine
 * (tests/support/fake_engine.h), error paths first: each test scripts what
 * the engine answers and checks what the user sees (error code and
 * message) and which requests reached the engine (nothing created after a
 * refusal, temporary containers removed). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kiln/config.h"
#include "kiln/deploy.h"
#include "kiln/engine.h"
#include "util/cleanup.h"
#include "util/json_cleanup.h"

#include "fake_engine.h"
#include "kt_check.h"

/* ---- fixture: a non-admin caller uid/gid 1000 and the default config ---- */

static kiln_caller caller;
static kiln_config cfg;
static char templates[4096];
static char caller_name[] = "alice";
static char caller_shell[] = "/bin/bash";

static void setup(void) {
  fake_setup();
  memset(&caller, 0, sizeof caller);
  caller.id.uid = 1000;
  caller.id.gid = 1000;
  caller.id.name = caller_name;
  caller.id.shell = caller_shell;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_config_defaults(&cfg, &err), 0);
  const char *data = getenv("KILN_TEST_DATA"); /* tests/ */
  ck_assert_ptr_nonnull(data);
  snprintf(templates, sizeof templates, "%s/../templates", data);
}

static void teardown(void) {
  kiln_config_clear(&cfg);
  fake_teardown();
}

static kiln_owner owner_1000(void) {
  return (kiln_owner){.uid = 1000, .gid = 1000, .caller = &caller};
}

#define IMAGE      "kiln-1000/p:latest"
#define IMAGE_PATH "/images/kiln-1000%2Fp%3Alatest/json"
/* An image kiln built for uid 1000: deployed as it is. */
static const char labeled_image[] =
    "{\"Id\":\"sha256:1\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"1000\","
    "\"kiln.user-setup\":\"true\",\"kiln.uid\":\"1000\",\"kiln.gid\":\"1000\","
    "\"kiln.user\":\"alice\",\"kiln.home\":\"/home/alice\",\"kiln.workspace\":\"/workspace\"}}}";

static kiln_deploy_options deploy_options(const char *image) {
  kiln_deploy_options o = KILN_DEPLOY_OPTIONS_INIT;
  o.image = image;
  o.name = "p";
  o.caller = &caller;
  o.config = &cfg;
  o.ns = "kiln";
  o.templates_dir = templates;
  return o;
}

/* Deploys o; returns what kiln_deploy returned, the result cleared. */
static int deploy(kiln_engine *e, const kiln_deploy_options *o, kiln_error **err) {
  kiln_deploy_result res;
  int r = kiln_deploy(e, o, &res, err);
  kiln_deploy_result_clear(&res);
  return r;
}

/* Deploys o on the fake engine (started here), which must fail: returns
 * the error (new; the caller frees it). */
static kiln_error *deploy_error(const kiln_deploy_options *o) {
  kiln_engine *e = fake_open();
  kiln_error *err = NULL;
  ck_assert_int_eq(deploy(e, o, &err), -1);
  kiln_engine_free(e);
  return err;
}

/* The labeled image, nobody's containers yet. */
static void answer_labeled_image(void) {
  fake_answer_engine("1.41");
  fake_answer("GET", IMAGE_PATH, 200, labeled_image);
  fake_answer("GET", "/containers/json", 200, "[]");
}

/* ---- deploy: refusals and engine errors ---- */

START_TEST(name_taken_says_which_and_what_to_do) {
  answer_labeled_image();
  fake_answer("POST", "/containers/create", 409,
              "{\"message\":\"Conflict. The container name \\\"/p._.1000\\\" is already in use by "
              "container \\\"abc\\\".\"}");
  kiln_deploy_options o = deploy_options(IMAGE);
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "you already have a container named 'p' (p._.1000); pick another --name or "
                  "retire it with 'kiln container retire p'");
  ck_assert_int_eq(kiln_error_count(err), 1);
  ck_assert_ptr_nonnull(strstr(fake_find_seen("POST", "/containers/create")->target, "p._.1000"));
  ck_assert_uint_eq(fake_count_seen("POST", "/start"), 0);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0); /* not someone else's to remove */
}
END_TEST

START_TEST(unknown_runtime_at_create_names_the_runtime) {
  answer_labeled_image();
  fake_answer("POST", "/containers/create", 400,
              "{\"message\":\"Unknown runtime specified nvidia\"}");
  kiln_deploy_options o = deploy_options(IMAGE);
  o.runtime = "nvidia";
  o.gpus = "all";
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "this engine has no 'nvidia' runtime; deploy without --runtime or on a GPU node "
                  "(engine: Unknown runtime specified nvidia (HTTP 400))");
  const fake_request *create = fake_find_seen("POST", "/containers/create");
  ck_assert_ptr_nonnull(strstr(create->body, "\"Runtime\":\"nvidia\""));
  ck_assert_uint_eq(fake_count_seen("POST", "/start"), 0);
}
END_TEST

/* Container c1 is created; its start fails with the engine's answer (a
 * JSON body); removing it works. */
static void answer_start_failure(const char *body) {
  answer_labeled_image();
  fake_answer("POST", "/containers/create", 201, "{\"Id\":\"c1\"}");
  fake_answer("POST", "/containers/c1/start", 500, body);
  fake_answer("DELETE", "/containers/c1", 204, NULL);
}

/* --gpus on an engine without the NVIDIA driver: the engine creates the
 * container and refuses to start it; kiln removes it and says why. */
START_TEST(no_gpu_driver_at_start_removes_the_container) {
  answer_start_failure("{\"message\":\"could not select device driver \\\"\\\" with capabilities: "
                       "[[gpu]]\"}");
  kiln_deploy_options o = deploy_options(IMAGE);
  o.gpus = "all";
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "this engine has no NVIDIA GPU runtime; deploy without --gpus or on a GPU node");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/c1"), 1);
  ck_assert_ptr_nonnull(strstr(fake_find_seen("DELETE", "/containers/c1")->target, "force=1"));
}
END_TEST

/* Another start failure keeps the engine's message, and the container is
 * removed all the same. */
START_TEST(other_start_failure_keeps_the_engines_message) {
  answer_start_failure("{\"message\":\"driver failed programming external connectivity\"}");
  kiln_deploy_options o = deploy_options(IMAGE);
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_ENGINE,
                  "the container could not start and was removed: engine: driver failed "
                  "programming external connectivity (HTTP 500)");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/c1"), 1);
}
END_TEST

/* Two containers of the caller and one temporary one (an adaptation in
 * progress, not counted): at a limit of 2 nothing is created. */
START_TEST(over_the_container_limit_creates_nothing) {
  fake_answer_engine("1.41");
  fake_answer("GET", IMAGE_PATH, 200, labeled_image);
  fake_answer(
      "GET", "/containers/json", 200,
      "[{\"Id\":\"a\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}},"
      "{\"Id\":\"b\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}},"
      "{\"Id\":\"t\",\"Labels\":{\"kiln.owner-uid\":\"1000\",\"kiln.temporary\":\"true\"}}]");
  cfg.max_containers = 2;
  kiln_deploy_options o = deploy_options(IMAGE);
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "container limit reached: you have 2 containers and the limit is 2 "
                  "(max_containers in the kiln configuration); retire one with 'kiln container "
                  "retire NAME'");
  /* counted by the caller's owner label */
  ck_assert_ptr_nonnull(
      strstr(fake_find_seen("GET", "/containers/json")->target, "kiln.owner-uid%3D1000"));
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/create"), 0);
}
END_TEST

START_TEST(missing_image_is_not_pulled) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-1000%2Fq%3Alatest/json", 404,
              "{\"message\":\"No such image: kiln-1000/q:latest\"}");
  kiln_deploy_options o = deploy_options("kiln-1000/q:latest");
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "image 'kiln-1000/q:latest' does not exist; build it with 'kiln image create' "
                  "(nothing is pulled)");
  ck_assert_uint_eq(fake_count_seen("POST", "/"), 0); /* no pull, no create */
}
END_TEST

START_TEST(someone_elses_image_is_refused_before_anything_is_made) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/images/kiln-2000%2Fp%3Alatest/json", 200,
              "{\"Id\":\"sha256:2\",\"Config\":{\"Labels\":{\"kiln.owner-uid\":\"2000\"}}}");
  kiln_deploy_options o = deploy_options("kiln-2000/p:latest");
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE, "kiln-2000/p:latest");
  ck_assert_uint_eq(fake_count_seen("POST", "/"), 0);
}
END_TEST

/* ---- the legacy path: adaptation by a temporary container ---- */

#define BASE_PATH "/images/debian%3Abookworm-slim/json"
static const char legacy_image[] =
    "{\"Id\":\"sha256:0123456789abcdef\",\"Config\":{\"Cmd\":[\"bash\"],"
    "\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\"]}}";

/* An unlabeled base without an earlier adaptation; the temporary container
 * tmp1 is created and started. */
static void answer_legacy_base(void) {
  fake_answer_engine("1.41");
  fake_answer("GET", BASE_PATH, 200, legacy_image);
  fake_answer("GET", "/images/kiln-1000%2Fadapted%3A0123456789ab-1000/json", 404,
              "{\"message\":\"No such image\"}");
  fake_answer("POST", "/containers/create", 201, "{\"Id\":\"tmp1\"}");
  fake_answer("POST", "/containers/tmp1/start", 204, NULL);
  fake_answer("DELETE", "/containers/tmp1", 204, NULL);
}

static volatile sig_atomic_t interrupted;

/* SIGINT arrives while the user setup runs (during the /wait): the wait
 * stops, the temporary container is removed by an undo call, nothing is
 * committed or created, and the error is the interrupt's (128 + 2). */
START_TEST(interrupted_adaptation_removes_the_temporary_container) {
  answer_legacy_base();
  fake_hang("POST", "/containers/tmp1/wait");
  fake_set_flag(&interrupted, SIGINT);
  interrupted = 0;
  kiln_engine *e = fake_open_with(&interrupted);
  kiln_deploy_options o = deploy_options("debian:bookworm-slim");
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(deploy(e, &o, &err), -1);
  kt_assert_error(err, 128 + SIGINT, "interrupted by SIGINT; the temporary container was removed");
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/tmp1/wait"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/tmp1"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 1);
  ck_assert_uint_eq(fake_count_seen("POST", "/commit"), 0);
  ck_assert_uint_eq(fake_count_seen("POST", "/containers/create"), 1); /* the temporary only */
  /* the temporary container mounts nothing and runs the setup as root */
  const fake_request *create = fake_find_seen("POST", "/containers/create");
  ck_assert_ptr_nonnull(strstr(create->target, "name=kiln-tmp-1000-"));
  ck_assert_ptr_null(strstr(create->body, "Mounts"));
  ck_assert_ptr_null(strstr(create->body, "Binds"));
  kiln_engine_free(e);
}
END_TEST

START_TEST(failed_user_setup_removes_the_temporary_container) {
  answer_legacy_base();
  fake_answer("POST", "/containers/tmp1/wait", 200, "{\"StatusCode\":3}");
  fake_answer("GET", "/containers/tmp1/logs", 200, NULL);
  kiln_deploy_options o = deploy_options("debian:bookworm-slim");
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE, "the user setup failed in the image (exit 3)");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/tmp1"), 1);
  ck_assert_uint_eq(fake_count_seen("POST", "/commit"), 0);
}
END_TEST

/* ---- volumes ---- */

#define VOLUME_PATH "/volumes/data._.1000"

START_TEST(volume_over_the_limit_is_not_created) {
  fake_answer_engine("1.41");
  fake_answer("GET", VOLUME_PATH, 404, "{\"message\":\"get data._.1000: no such volume\"}");
  fake_answer("GET", "/volumes?", 200,
              "{\"Volumes\":[{\"Name\":\"a._.1000\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}},"
              "{\"Name\":\"b._.1000\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}}]}");
  kiln_engine *e = fake_open();
  cfg.max_volumes = 2;
  kiln_owner me = owner_1000();
  bool existed = true;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_volume_create(e, "data", &me, &cfg, &existed, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "volume limit reached: you have 2 volumes and the limit is 2 (max_volumes in "
                  "the kiln configuration); remove one with 'kiln volume remove NAME'");
  ck_assert(!existed);
  ck_assert_uint_eq(fake_count_seen("POST", "/volumes/create"), 0);
  kiln_engine_free(e);
}
END_TEST

START_TEST(volume_under_the_limit_is_created_with_its_owner) {
  fake_answer_engine("1.41");
  fake_answer("GET", VOLUME_PATH, 404, "{\"message\":\"no such volume\"}");
  fake_answer("GET", "/volumes?", 200,
              "{\"Volumes\":[{\"Name\":\"a._.1000\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}}]}");
  fake_answer("POST", "/volumes/create", 201, "{\"Name\":\"data._.1000\"}");
  kiln_engine *e = fake_open();
  cfg.max_volumes = 2;
  kiln_owner me = owner_1000();
  bool existed = true;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_volume_create(e, "data", &me, &cfg, &existed, &err) == 0, "%s",
                err ? err->message : "");
  ck_assert(!existed);
  const fake_request *create = fake_find_seen("POST", "/volumes/create");
  ck_assert_ptr_nonnull(create);
  ck_assert_ptr_nonnull(strstr(create->body, "\"Name\":\"data._.1000\""));
  ck_assert_ptr_nonnull(strstr(create->body, "\"kiln.owner-uid\":\"1000\""));
  kiln_engine_free(e);
}
END_TEST

START_TEST(volume_of_someone_else_is_not_yours) {
  fake_answer_engine("1.41");
  fake_answer("GET", VOLUME_PATH, 200,
              "{\"Name\":\"data._.1000\",\"Labels\":{\"kiln.owner-uid\":\"2000\"}}");
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  bool existed = false;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_volume_create(e, "data", &me, &cfg, &existed, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "volume 'data' is not yours (owner uid 2000)");
  ck_assert_uint_eq(fake_count_seen("POST", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

START_TEST(volume_in_use_names_the_containers) {
  fake_answer_engine("1.41");
  fake_answer("GET", VOLUME_PATH, 200,
              "{\"Name\":\"data._.1000\",\"Labels\":{\"kiln.owner-uid\":\"1000\"}}");
  fake_answer("DELETE", VOLUME_PATH, 409,
              "{\"message\":\"remove data._.1000: volume is in use - [abc]\"}");
  fake_answer("GET", "/containers/json", 200,
              "[{\"Names\":[\"/p._.1000\"],\"Mounts\":[{\"Name\":\"data._.1000\"}]},"
              "{\"Names\":[\"/q._.1000\"],\"Mounts\":[{\"Name\":\"other\"}]}]");
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  for (int force = 0; force < 2; force++) { /* force does not change that */
    _cleanup_error_ kiln_error *err = NULL;
    ck_assert_int_eq(kiln_volume_remove(e, "data", &me, force, &err), -1);
    kt_assert_error(err, KILN_EXIT_FAILURE,
                    "volume 'data' is in use by p._.1000; retire or remove those containers first");
  }
  ck_assert_uint_eq(fake_count_seen("DELETE", VOLUME_PATH), 2);
  kiln_engine_free(e);
}
END_TEST

START_TEST(missing_volume_is_an_error_unless_forced) {
  fake_answer_engine("1.41");
  fake_answer("GET", VOLUME_PATH, 404, "{\"message\":\"no such volume\"}");
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_volume_remove(e, "data", &me, false, &err), -1);
  kt_assert_error(err, KILN_EXIT_FAILURE, "volume 'data' does not exist");
  _cleanup_error_ kiln_error *ferr = NULL;
  ck_assert_int_eq(kiln_volume_remove(e, "data", &me, true, &ferr), 0);
  ck_assert_ptr_null(ferr);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

/* A deploy naming a volume that does not exist creates nothing. */
START_TEST(deploy_with_a_missing_volume_creates_nothing) {
  answer_labeled_image();
  fake_answer("GET", VOLUME_PATH, 404, "{\"message\":\"no such volume\"}");
  kiln_deploy_options o = deploy_options(IMAGE);
  const char *const volumes[] = {"data:/data"};
  o.volumes = volumes;
  o.n_volumes = 1;
  _cleanup_error_ kiln_error *err = deploy_error(&o);
  kt_assert_error(err, KILN_EXIT_FAILURE,
                  "volume 'data' does not exist; create it with 'kiln volume create data' or "
                  "deploy with --create-volumes");
  ck_assert_uint_eq(fake_count_seen("POST", "/"), 0);
}
END_TEST

/* ---- gc ---- */

typedef struct {
  size_t n;
  char lines[8][160];
} gc_seen;

static void on_gc(void *user, const kiln_gc_item *item) {
  gc_seen *g = user;
  ck_assert_uint_lt(g->n, 8);
  snprintf(g->lines[g->n++], sizeof g->lines[0], "%d %s %s %s", (int)item->kind, item->id,
           item->name, item->removed ? "removed" : "kept");
}

/* The caller's leftovers: an exited temporary container (and a running
 * one, an adaptation in progress), a dangling image, an adaptation whose
 * base is gone, and a registry name left on an image with another name. */
static void answer_leftovers(void) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/containers/json", 200,
              "[{\"Id\":\"t1\",\"Names\":[\"/kiln-tmp-1000-aa\"],\"State\":\"exited\"},"
              "{\"Id\":\"t2\",\"Names\":[\"/kiln-tmp-1000-bb\"],\"State\":\"running\"}]");
  fake_answer("GET", "dangling", 200, "[{\"Id\":\"sha256:d1\"}]");
  fake_answer("GET", "adapted-from", 200,
              "[{\"Id\":\"sha256:a1\",\"RepoTags\":[\"kiln-1000/adapted:abc-1000\"],"
              "\"Labels\":{\"kiln.adapted-from\":\"sha256:gone\"}}]");
  fake_answer("GET", "/images/sha256%3Agone/json", 404, "{\"message\":\"No such image\"}");
  fake_answer("GET", "/images/json", 200,
              "[{\"Id\":\"sha256:r1\",\"RepoTags\":[\"kiln-1000/p:latest\","
              "\"127.0.0.1:5000/alice/p:latest\"]}]");
  fake_answer("DELETE", "/containers/t1", 204, NULL);
  fake_answer("DELETE", "/images/", 200, "[]");
}

static const char *const leftovers[] = {
    "0 t1 kiln-tmp-1000-aa",
    "1 sha256:d1 <none>",
    "2 sha256:a1 kiln-1000/adapted:abc-1000",
    "3 sha256:r1 127.0.0.1:5000/alice/p:latest",
};

static void check_leftovers(const gc_seen *g, const char *state) {
  ck_assert_uint_eq(g->n, 4);
  for (size_t i = 0; i < 4; i++) {
    char want[160];
    snprintf(want, sizeof want, "%s %s", leftovers[i], state);
    ck_assert_str_eq(g->lines[i], want);
  }
}

START_TEST(gc_dry_run_lists_and_removes_nothing) {
  answer_leftovers();
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  gc_seen g = {0};
  kiln_gc_options o = {.owner = &me, .dry_run = true, .fn = on_gc, .user = &g};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_gc(e, &o, &err) == 0, "%s", err ? err->message : "");
  check_leftovers(&g, "kept");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  /* only the caller's: every list is filtered by the owner label */
  ck_assert_ptr_nonnull(
      strstr(fake_find_seen("GET", "/containers/json")->target, "kiln.owner-uid%3D1000"));
  ck_assert_ptr_nonnull(strstr(fake_find_seen("GET", "dangling")->target, "kiln.owner-uid%3D1000"));
  kiln_engine_free(e);
}
END_TEST

START_TEST(gc_removes_what_it_lists) {
  answer_leftovers();
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  gc_seen g = {0};
  kiln_gc_options o = {.owner = &me, .fn = on_gc, .user = &g};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_gc(e, &o, &err) == 0, "%s", err ? err->message : "");
  check_leftovers(&g, "removed");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/t1"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/containers/t2"), 0); /* still running */
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/sha256%3Ad1"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/kiln-1000%2Fadapted%3Aabc-1000"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/127.0.0.1%3A5000%2Falice%2Fp%3Alatest"), 1);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/images/kiln-1000%2Fp%3Alatest"), 0);
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 4);
  kiln_engine_free(e);
}
END_TEST

/* A removal the engine refuses is reported as kept, not fatal. */
START_TEST(gc_reports_a_refused_removal_as_kept) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/containers/json", 200, "[]");
  fake_answer("GET", "dangling", 200, "[{\"Id\":\"sha256:d1\"}]");
  fake_answer("GET", "/images/json", 200, "[]");
  fake_answer("DELETE", "/images/sha256%3Ad1", 409,
              "{\"message\":\"image is being used by running container c1\"}");
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  gc_seen g = {0};
  kiln_gc_options o = {.owner = &me, .fn = on_gc, .user = &g};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_gc(e, &o, &err) == 0, "%s", err ? err->message : "");
  ck_assert_uint_eq(g.n, 1);
  ck_assert_str_eq(g.lines[0], "1 sha256:d1 <none> kept");
  kiln_engine_free(e);
}
END_TEST

START_TEST(gc_stops_when_the_engine_cannot_list) {
  fake_answer_engine("1.41");
  fake_answer("GET", "/containers/json", 500, "{\"message\":\"database is locked\"}");
  kiln_engine *e = fake_open();
  kiln_owner me = owner_1000();
  kiln_gc_options o = {.owner = &me};
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_gc(e, &o, &err), -1);
  kt_assert_error(err, KILN_EXIT_ENGINE, "gc: engine: database is locked (HTTP 500)");
  ck_assert_uint_eq(fake_count_seen("DELETE", "/"), 0);
  kiln_engine_free(e);
}
END_TEST

static Suite *deploy_engine_suite(void) {
  Suite *s = suite_create("deploy_engine");
  TCase *d = kt_tcase(s, "deploy", setup, teardown);
  tcase_add_test(d, name_taken_says_which_and_what_to_do);
  tcase_add_test(d, unknown_runtime_at_create_names_the_runtime);
  tcase_add_test(d, no_gpu_driver_at_start_removes_the_container);
  tcase_add_test(d, other_start_failure_keeps_the_engines_message);
  tcase_add_test(d, over_the_container_limit_creates_nothing);
  tcase_add_test(d, missing_image_is_not_pulled);
  tcase_add_test(d, someone_elses_image_is_refused_before_anything_is_made);
  tcase_add_test(d, deploy_with_a_missing_volume_creates_nothing);

  TCase *a = kt_tcase(s, "adaptation", setup, teardown);
  tcase_set_timeout(a, 30);
  tcase_add_test(a, interrupted_adaptation_removes_the_temporary_container);
  tcase_add_test(a, failed_user_setup_removes_the_temporary_container);

  TCase *v = kt_tcase(s, "volumes", setup, teardown);
  tcase_add_test(v, volume_over_the_limit_is_not_created);
  tcase_add_test(v, volume_under_the_limit_is_created_with_its_owner);
  tcase_add_test(v, volume_of_someone_else_is_not_yours);
  tcase_add_test(v, volume_in_use_names_the_containers);
  tcase_add_test(v, missing_volume_is_an_error_unless_forced);

  TCase *g = kt_tcase(s, "gc", setup, teardown);
  tcase_add_test(g, gc_dry_run_lists_and_removes_nothing);
  tcase_add_test(g, gc_removes_what_it_lists);
  tcase_add_test(g, gc_reports_a_refused_removal_as_kept);
  tcase_add_test(g, gc_stops_when_the_engine_cannot_list);
  return s;
}

int main(void) {
  return kt_run_suite(deploy_engine_suite());
}
