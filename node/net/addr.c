/*
 * addr: parse and resolve "host:port". See addr.h.
 */
#include "node/net/addr.h"

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "node/lib/util.h"

static char addr_err[320];

int
addr_split(const char *s, char *host_r, int *port_r, const char **error_r)
{
	const char *colon;
	size_t hlen;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (end == NULL || end[1] != ':') {
			*error_r = "expected [ipv6]:port";
			return -1;
		}
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*error_r = "expected host:port";
			return -1;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL) {
			*error_r = "an IPv6 address must be written in brackets: [addr]:port";
			return -1;
		}
	}
	if (hlen == 0 || hlen >= ADDR_HOST_MAX) {
		*error_r = "missing or overlong host";
		return -1;
	}
	uint64_t port;
	if (parse_u64(colon + 1, 65535, &port) != 0 || port == 0) {
		*error_r = "port out of range (1-65535)";
		return -1;
	}
	memcpy(host_r, s, hlen);
	host_r[hlen] = '\0';
	*port_r = (int)port;
	return 0;
}

int
addr_resolve(const char *s, struct sockaddr_storage *ss_r, const char **error_r)
{
	char host[ADDR_HOST_MAX];
	int port;
	if (addr_split(s, host, &port, error_r) != 0)
		return -1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	if (strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	int rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || res == NULL) {
		hints.ai_flags = 0; /* loopback-only hosts have no "configured" address */
		rc = getaddrinfo(host, NULL, &hints, &res);
	}
	if (rc != 0 || res == NULL) {
		snprintf(addr_err, sizeof(addr_err), "cannot resolve %s: %s", host,
		         gai_strerror(rc));
		*error_r = addr_err;
		return -1;
	}
	memset(ss_r, 0, sizeof(*ss_r));
	memcpy(ss_r, res->ai_addr, res->ai_addrlen);
	if (ss_r->ss_family == AF_INET)
		((struct sockaddr_in *)ss_r)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss_r)->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}
