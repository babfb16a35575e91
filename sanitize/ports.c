/* The one grammar for published ports, shared by `-p`, `deploy.ports` and
 * deploy itself: [IP:]HOST:CONTAINER[/proto], IP::CONTAINER[/proto] or
 * CONTAINER[/proto]; an IPv6 address in brackets ([::1]:8080:80). */
#include "sanitize/sanitize.h"
#include "sanitize/sanitize_private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define PORT_GRAMMAR "[IP:]HOST:CONTAINER[/tcp|/udp] or CONTAINER[/tcp|/udp]"

static int bad(const char *s, const char *why, kiln_error **err) {
  char shown[KILN_SHOWN_MAX];
  return kiln_error_set(err, KILN_EXIT_USAGE, "port \"%s\" is not valid%s%s; expected %s",
                        kiln_show(s, shown), why ? ": " : "", why ? why : "", PORT_GRAMMAR);
}

/* Copies [from, from+n) into out (size cap); false when it does not fit. */
static bool take(char *out, size_t cap, const char *from, size_t n) {
  if (n >= cap) return false;
  memcpy(out, from, n);
  out[n] = '\0';
  return true;
}

static int parse_ip(const char *s, const char *ip, kiln_port_binding *out, kiln_error **err) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, ip, addr) != 1 && inet_pton(AF_INET6, ip, addr) != 1)
    return bad(s, "the address is not a literal IPv4 or IPv6 address", err);
  snprintf(out->host_ip, sizeof out->host_ip, "%s", ip);
  return 0;
}

/* "[IPv6]:" or "IPv4:" at the front of rest; advances *rest past it. No
 * address (one colon or none left) leaves host_ip empty. */
static int split_ip(const char *s, const char **rest, kiln_port_binding *out, kiln_error **err) {
  char ip[KILN_MAX_HOST_IP];
  const char *r = *rest;
  if (r[0] == '[') {
    const char *close = strchr(r, ']');
    if (!close || close[1] != ':' || !take(ip, sizeof ip, r + 1, (size_t)(close - r - 1)))
      return bad(s, "an IPv6 address needs [brackets] followed by ':'", err);
    *rest = close + 2;
    return parse_ip(s, ip, out, err);
  }
  const char *first = strchr(r, ':');
  if (!first || !strchr(first + 1, ':')) return 0;
  if (strchr(strchr(first + 1, ':') + 1, ':'))
    return bad(s, "too many ':' (write an IPv6 address in [brackets])", err);
  if (!take(ip, sizeof ip, r, (size_t)(first - r))) return bad(s, "the address is too long", err);
  *rest = first + 1;
  return parse_ip(s, ip, out, err);
}

static int split_proto(const char *s, char *body, size_t cap, kiln_port_binding *out,
                       kiln_error **err) {
  const char *slash = strrchr(s, '/');
  const char *proto = slash ? slash + 1 : "tcp";
  if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
    return bad(s, "the protocol must be tcp or udp", err);
  snprintf(out->proto, sizeof out->proto, "%s", proto);
  if (!take(body, cap, s, slash ? (size_t)(slash - s) : strlen(s))) return bad(s, "too long", err);
  return 0;
}

int kiln_parse_port_binding(const char *s, kiln_port_binding *out, kiln_error **err) {
  memset(out, 0, sizeof *out);
  char body[KILN_MAX_HOST_IP + 16];
  if (split_proto(s, body, sizeof body, out, err) < 0) return -1;
  const char *rest = body;
  if (split_ip(s, &rest, out, err) < 0) return -1;
  const char *colon = strchr(rest, ':');
  if (!colon && out->host_ip[0]) return bad(s, "an address needs HOST:CONTAINER after it", err);
  if (colon && strchr(colon + 1, ':'))
    return bad(s, "too many ':' (write an IPv6 address in [brackets])", err);
  char host[8] = "";
  if (colon && !take(host, sizeof host, rest, (size_t)(colon - rest)))
    return bad(s, "the host port is not 1..65535", err);
  if (colon && !host[0] && !out->host_ip[0])
    return bad(s, "the host port is empty (IP::CONTAINER or CONTAINER picks one)", err);
  kiln_error *sub = NULL;
  if ((host[0] && kiln_parse_port(host, &out->host_port, &sub) < 0) ||
      kiln_parse_port(colon ? colon + 1 : rest, &out->container_port, &sub) < 0) {
    kiln_error_free(sub);
    return bad(s,
               host[0] && !out->host_port ? "the host port is not 1..65535"
                                          : "the container port is not 1..65535",
               err);
  }
  return 0;
}
