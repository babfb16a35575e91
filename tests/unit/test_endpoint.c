/* The engine endpoint as the docker CLI decides it: --host / DOCKER_HOST,
 * the docker context store (paths derived from the name's SHA-256), and
 * the TLS material from DOCKER_CERT_PATH or the context's TLS folder. No
 * caller is recorded here, so the environment is trusted (as for admins);
 * the sudo-mode rule is tested in tests/integration/engine_tls.sh. Each
 * test runs in its own process (CK_FORK), so setenv does not leak. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/engine/endpoint.h"
#include "util/cleanup.h"

/* sha256("kt-ctx"), as `printf %s kt-ctx | sha256sum` prints it */
#define KT_CTX_HEX "b0ea7e7a141f8b52fd932d47467786e32f8b8a1971fa2968229bfc26a938d1e0"

static char tmp[64];

static void setup(void) {
  snprintf(tmp, sizeof tmp, "/tmp/kiln-endpoint.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmp));
  static const char *const vars[] = {"DOCKER_HOST",       "DOCKER_CONTEXT", "DOCKER_CONFIG",
                                     "DOCKER_TLS_VERIFY", "DOCKER_TLS",     "DOCKER_CERT_PATH"};
  for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
    unsetenv(vars[i]);
  setenv("HOME", tmp, 1); /* ~/.docker is empty unless a test fills it */
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to tmp/rel, making the folders on the way. */
static void put(const char *rel, const char *text) {
  char cmd[1100], path[512];
  snprintf(path, sizeof path, "%s/%s", tmp, rel);
  snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
  ck_assert_int_eq(system(cmd), 0);
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static char *at(const char *rel) {
  char *p = NULL;
  ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, rel), 0);
  return p;
}

static void assert_error(const kiln_error *err, int code, const char *text) {
  ck_assert_ptr_nonnull(err);
  ck_assert_msg(err->code == code, "code %d, expected %d: %s", err->code, code, err->message);
  ck_assert_msg(strstr(err->message, text), "expected \"%s\" in: %s", text, err->message);
}

START_TEST(context_folders_are_named_by_the_sha256_of_the_name) {
  _cleanup_free_ char *meta = kiln_context_dir("/home/u/.docker", "meta", "kt-ctx");
  _cleanup_free_ char *tls = kiln_context_dir("/home/u/.docker", "tls", "kt-ctx");
  ck_assert_str_eq(meta, "/home/u/.docker/contexts/meta/" KT_CTX_HEX);
  ck_assert_str_eq(tls, "/home/u/.docker/contexts/tls/" KT_CTX_HEX);
}
END_TEST

START_TEST(nothing_set_is_the_default_socket_without_tls) {
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), 0);
  ck_assert_str_eq(ep.host, KILN_DEFAULT_ENGINE_HOST);
  ck_assert(!ep.tls);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(tls_verify_reads_the_cert_path) {
  put("certs/ca.pem", "CA");
  put("certs/cert.pem", "CERT");
  put("certs/key.pem", "KEY");
  _cleanup_free_ char *dir = at("certs");
  setenv("DOCKER_HOST", "tcp://127.0.0.1:2376", 1);
  setenv("DOCKER_TLS_VERIFY", "1", 1);
  setenv("DOCKER_CERT_PATH", dir, 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_endpoint_resolve(NULL, &ep, &err) == 0, "%s", err ? err->message : "");
  ck_assert(ep.tls && ep.verify);
  ck_assert_str_eq(ep.ca.data, "CA");
  ck_assert_str_eq(ep.cert.data, "CERT");
  ck_assert_str_eq(ep.key.data, "KEY");
  ck_assert_str_eq(ep.origin, "DOCKER_HOST");
  _cleanup_free_ char *ca = at("certs/ca.pem");
  ck_assert_str_eq(ep.ca.path, ca);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(cert_path_defaults_to_the_docker_config_folder) {
  put(".docker/ca.pem", "CA");
  setenv("DOCKER_TLS_VERIFY", "1", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve("tcp://h:2376", &ep, &err), 0);
  ck_assert(ep.tls && ep.verify);
  ck_assert_str_eq(ep.ca.data, "CA");
  ck_assert_ptr_null(ep.cert.data); /* no client certificate there: none, as in docker */
  ck_assert_str_eq(ep.origin, "--host");
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(docker_tls_without_verify_does_not_verify) {
  put("c/ca.pem", "CA");
  _cleanup_free_ char *dir = at("c");
  setenv("DOCKER_TLS", "1", 1);
  setenv("DOCKER_CERT_PATH", dir, 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve("tcp://h:2376", &ep, &err), 0);
  ck_assert(ep.tls && !ep.verify);
  ck_assert_ptr_null(ep.ca.data);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(unix_sockets_never_speak_tls) {
  setenv("DOCKER_TLS_VERIFY", "1", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve("unix:///run/x.sock", &ep, &err), 0);
  ck_assert(!ep.tls);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(a_certificate_without_its_key_names_the_missing_file) {
  put("c/cert.pem", "CERT");
  _cleanup_free_ char *dir = at("c");
  setenv("DOCKER_TLS_VERIFY", "1", 1);
  setenv("DOCKER_CERT_PATH", dir, 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve("tcp://h:2376", &ep, &err), -1);
  _cleanup_free_ char *key = at("c/key.pem");
  assert_error(err, KILN_EXIT_USAGE, key);
}
END_TEST

START_TEST(a_fifo_as_certificate_is_refused_without_blocking) {
  put("c/ca.pem", "CA");
  _cleanup_free_ char *fifo = at("c/cert.pem"), *dir = at("c");
  ck_assert_int_eq(mkfifo(fifo, 0600), 0);
  setenv("DOCKER_TLS_VERIFY", "1", 1);
  setenv("DOCKER_CERT_PATH", dir, 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve("tcp://h:2376", &ep, &err), -1);
  assert_error(err, KILN_EXIT_USAGE, "FIFO");
}
END_TEST

#define META(host, skip)                                                                           \
  "{\"Name\":\"kt-ctx\",\"Metadata\":{},\"Endpoints\":{\"docker\":{\"Host\":\"" host               \
  "\",\"SkipTLSVerify\":" skip "}}}"

START_TEST(the_current_context_gives_address_and_tls) {
  put("cfg/config.json", "{\"currentContext\":\"kt-ctx\"}");
  put("cfg/contexts/meta/" KT_CTX_HEX "/meta.json", META("tcp://10.0.0.1:2376", "false"));
  put("cfg/contexts/tls/" KT_CTX_HEX "/docker/ca.pem", "CA");
  put("cfg/contexts/tls/" KT_CTX_HEX "/docker/cert.pem", "CERT");
  put("cfg/contexts/tls/" KT_CTX_HEX "/docker/key.pem", "KEY");
  _cleanup_free_ char *cfg = at("cfg");
  setenv("DOCKER_CONFIG", cfg, 1);
  setenv("DOCKER_TLS", "", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_endpoint_resolve(NULL, &ep, &err) == 0, "%s", err ? err->message : "");
  ck_assert_str_eq(ep.host, "tcp://10.0.0.1:2376");
  ck_assert_str_eq(ep.origin, "context \"kt-ctx\"");
  ck_assert(ep.tls && ep.verify);
  ck_assert_str_eq(ep.key.data, "KEY");
  kiln_endpoint_clear(&ep);
  /* DOCKER_CONTEXT beats currentContext; "default" is the default socket */
  setenv("DOCKER_CONTEXT", "default", 1);
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), 0);
  ck_assert_str_eq(ep.host, KILN_DEFAULT_ENGINE_HOST);
  kiln_endpoint_clear(&ep);
  /* DOCKER_HOST beats the context */
  unsetenv("DOCKER_CONTEXT");
  setenv("DOCKER_HOST", "tcp://other:2375", 1);
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), 0);
  ck_assert_str_eq(ep.host, "tcp://other:2375");
  ck_assert(!ep.tls);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(a_context_that_skips_verification_speaks_tls_unverified) {
  put(".docker/contexts/meta/" KT_CTX_HEX "/meta.json", META("tcp://10.0.0.1:2376", "true"));
  setenv("DOCKER_CONTEXT", "kt-ctx", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_msg(kiln_endpoint_resolve(NULL, &ep, &err) == 0, "%s", err ? err->message : "");
  ck_assert(ep.tls && !ep.verify);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(a_context_without_tls_files_is_plain_http) {
  put(".docker/contexts/meta/" KT_CTX_HEX "/meta.json", META("tcp://10.0.0.1:2375", "false"));
  setenv("DOCKER_CONTEXT", "kt-ctx", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), 0);
  ck_assert(!ep.tls);
  kiln_endpoint_clear(&ep);
}
END_TEST

START_TEST(a_missing_or_broken_context_is_a_usage_error) {
  setenv("DOCKER_CONTEXT", "kt-nothere", 1);
  kiln_endpoint ep;
  _cleanup_error_ kiln_error *err = NULL;
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), -1);
  assert_error(err, KILN_EXIT_USAGE, "docker context \"kt-nothere\" does not exist");
  kiln_error_free(err);
  err = NULL;
  put(".docker/contexts/meta/" KT_CTX_HEX "/meta.json", "{\"Endpoints\":{}}");
  setenv("DOCKER_CONTEXT", "kt-ctx", 1);
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), -1);
  assert_error(err, KILN_EXIT_USAGE, "has no Endpoints.docker.Host");
  kiln_error_free(err);
  err = NULL;
  put(".docker/config.json", "{\"currentContext\": ");
  unsetenv("DOCKER_CONTEXT");
  ck_assert_int_eq(kiln_endpoint_resolve(NULL, &ep, &err), -1);
  assert_error(err, KILN_EXIT_USAGE, "config.json");
}
END_TEST

static Suite *endpoint_suite(void) {
  Suite *s = suite_create("endpoint");
  TCase *t = tcase_create("resolve");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_add_test(t, context_folders_are_named_by_the_sha256_of_the_name);
  tcase_add_test(t, nothing_set_is_the_default_socket_without_tls);
  tcase_add_test(t, tls_verify_reads_the_cert_path);
  tcase_add_test(t, cert_path_defaults_to_the_docker_config_folder);
  tcase_add_test(t, docker_tls_without_verify_does_not_verify);
  tcase_add_test(t, unix_sockets_never_speak_tls);
  tcase_add_test(t, a_certificate_without_its_key_names_the_missing_file);
  tcase_add_test(t, a_fifo_as_certificate_is_refused_without_blocking);
  tcase_add_test(t, the_current_context_gives_address_and_tls);
  tcase_add_test(t, a_context_that_skips_verification_speaks_tls_unverified);
  tcase_add_test(t, a_context_without_tls_files_is_plain_http);
  tcase_add_test(t, a_missing_or_broken_context_is_a_usage_error);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(endpoint_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
