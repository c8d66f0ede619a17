/*
 * addr: "host:port" strings for listeners and peers. Hosts are IPv4
 * literals, IPv6 literals in brackets ("[::1]:7001") or names, resolved
 * once with getaddrinfo (at start-up, never on the loop while serving).
 */
#ifndef MAILNODE_ADDR_H
#define MAILNODE_ADDR_H

#include <sys/socket.h>

#define ADDR_HOST_MAX 256

/* Split "host:port". Returns 0, or -1 with *error_r ("port out of range",
 * ...). host_r holds ADDR_HOST_MAX bytes. */
int addr_split(const char *s, char *host_r, int *port_r, const char **error_r);
/* Split and resolve to the first address. Returns 0 or -1 with *error_r. */
int addr_resolve(const char *s, struct sockaddr_storage *ss_r, const char **error_r);

#endif
