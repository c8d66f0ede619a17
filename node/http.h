/*
 * http: a small HTTP/1.1 server on the loop for /health, /metrics and the
 * admin API, over the shared connection type. Requests are parsed with
 * Debian's http-parser (node/http.c is its only user).
 *
 * Routes are registered once at start-up. A route marked HTTP_ADMIN is
 * served only on listeners opened with admin=1 (the Unix socket whose file
 * mode limits who can connect); elsewhere it does not exist (404).
 *
 * A handler answers with http_respond, at once or later (after a write
 * went through the cluster, say): the connection reads nothing more until
 * it has. The request is owned by the server; it stays valid until
 * http_respond returns, even if the client went away meanwhile (the answer
 * is then dropped).
 */
#ifndef MAILNODE_HTTP_H
#define MAILNODE_HTTP_H

#include <stddef.h>

#include "node/net/listener.h"

#define HTTP_URL_MAX    2048
#define HTTP_HEADER_MAX (16 * 1024)
#define HTTP_BODY_MAX   (1024 * 1024)

struct http_req {
	const char *method; /* "GET", "POST", ... */
	char *path;         /* decoded path, without the query */
	char *query;        /* raw query string or "" */
	const char *body;   /* request body (NUL-terminated), or "" */
	size_t body_len;
	int admin;  /* came in on an admin listener */
	void *priv; /* the server's */
};

typedef void (*http_handler_fn)(struct http_req *req, void *arg);

enum { HTTP_PUBLIC = 0, HTTP_ADMIN = 1, HTTP_PREFIX = 2 };

/* Route method+path (exact, or a prefix with HTTP_PREFIX) to fn. */
void http_route(const char *method, const char *path, int flags, http_handler_fn fn, void *arg);
void http_routes_free(void);

/* Accept callback for listeners carrying HTTP; l->data must point to an
 * int that is 1 for admin listeners. */
void http_accept(struct listener *l, uv_stream_t *server);

/* Answer the request. status 200..599; body may be NULL for an empty one. */
void http_respond(struct http_req *req, int status, const char *content_type, const char *body,
                  size_t len);
/* Query parameter value (URL-decoded into buf), or NULL. */
const char *http_query_get(const struct http_req *req, const char *key, char *buf, size_t n);

#endif
