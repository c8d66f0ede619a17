/*
 * cli_http: the CLI's blocking HTTP/1.1 client for the admin API on the
 * node's Unix socket (<data>/admin.sock).
 *
 * One request per connection ("Connection: close"), a body sent with
 * Content-Length, a response read with bounded sizes: the status line and
 * headers together at most CLI_HTTP_HEAD_MAX, a Content-Length body at
 * most CLI_HTTP_BODY_MAX. Every read and write times out after
 * CLI_HTTP_TIMEOUT_S. No chunked encoding: the node never sends it.
 *
 * Owner: the caller owns the request body (it may carry a password: the
 * client sends it from the caller's buffer and keeps no copy) and the
 * response, freed with cli_http_resp_deinit.
 */
#ifndef MAILNODE_CLI_HTTP_H
#define MAILNODE_CLI_HTTP_H

#include <stddef.h>

#define CLI_HTTP_PATH_MAX  2048
#define CLI_HTTP_HEAD_MAX  (16 * 1024)
#define CLI_HTTP_BODY_MAX  (8u * 1024 * 1024)
#define CLI_HTTP_TIMEOUT_S 120

struct cli_http_resp {
	int status; /* 100..599 */
	char *body; /* NUL-terminated (the NUL is not counted), or NULL */
	size_t body_len;
};

/* Send method+path (with body, body_len bytes, or no body when NULL) to
 * the Unix socket sock_path and read the answer into *resp_r.
 * Returns 0, or a negative errno with a one-line reason in err (errlen
 * bytes): -ENOENT/-ECONNREFUSED/-EACCES from connect (the caller knows
 * what they mean for a node), -ETIMEDOUT, -EMSGSIZE (answer too large),
 * -EPROTO (not an HTTP answer we accept), or another -errno. */
int cli_http_request(const char *sock_path, const char *method, const char *path, const char *body,
                     size_t body_len, struct cli_http_resp *resp_r, char *err, size_t errlen);
void cli_http_resp_deinit(struct cli_http_resp *resp);

/* Percent-encode s for one path segment: everything but [A-Za-z0-9._~@-]
 * becomes %XX. Returns a heap string the caller frees. */
char *cli_http_escape(const char *s);

#endif
