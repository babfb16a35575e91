/* Published ports as kiln reports them (deploy, container list): one shape
 * from the engine's two ones (inspect's NetworkSettings.Ports map and the
 * list's Ports array). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/deploy/deploy_private.h"
#include "util/cleanup.h"

/* {"container":"8888/tcp","host_ip","host_port","address":"IP:PORT"}; IPv6
 * in brackets. NULL when out of memory. */
static json_t *port_entry(const char *ip, long long host_port, const char *container) {
  char address[80];
  bool v6 = strchr(ip, ':') != NULL;
  snprintf(address, sizeof address, "%s%s%s:%lld", v6 ? "[" : "", ip, v6 ? "]" : "", host_port);
  return json_pack("{s:s, s:s, s:I, s:s}", "container", container, "host_ip", ip, "host_port",
                   (json_int_t)host_port, "address", address);
}

static int append(json_t *out, json_t *entry) {
  return entry ? json_array_append_new(out, entry) : -1;
}

json_t *kiln_ports_from_inspect(json_t *network_ports) {
  json_t *out = json_array();
  const char *key;
  json_t *list;
  json_object_foreach(network_ports, key, list) {
    size_t i;
    json_t *b;
    json_array_foreach(list, i, b) {
      const char *ip = json_string_value(json_object_get(b, "HostIp"));
      const char *port = json_string_value(json_object_get(b, "HostPort"));
      if (!out || !port || !*port) continue;
      if (append(out, port_entry(ip && *ip ? ip : "0.0.0.0", strtoll(port, NULL, 10), key)) < 0)
        json_decref(steal_pointer(&out));
    }
  }
  return out;
}

json_t *kiln_ports_from_list(json_t *ports) {
  json_t *out = json_array();
  size_t i;
  json_t *p;
  json_array_foreach(ports, i, p) {
    json_int_t public_port = json_integer_value(json_object_get(p, "PublicPort"));
    const char *ip = json_string_value(json_object_get(p, "IP"));
    const char *type = json_string_value(json_object_get(p, "Type"));
    if (!out || !public_port) continue;
    char container[16];
    snprintf(container, sizeof container, "%lld/%s",
             (long long)json_integer_value(json_object_get(p, "PrivatePort")), type ? type : "tcp");
    if (append(out, port_entry(ip && *ip ? ip : "0.0.0.0", public_port, container)) < 0)
      json_decref(steal_pointer(&out));
  }
  return out;
}
