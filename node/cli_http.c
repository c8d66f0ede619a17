/*
 * cli_http: a blocking HTTP/1.1 client over a Unix socket. See cli_http.h.
 *
 * Happy path: connect, send the request head and body in full, read until
 * the blank line that ends the headers, parse the status line and
 * Content-Length, read exactly that many body bytes, close.
 *
 * Failure modes: the socket is absent or refuses (no node), permission
 * denied (not the node's user), a timeout (SO_RCVTIMEO/SO_SNDTIMEO), an
 * answer whose head or body exceeds its bound, a malformed status line or
 * Content-Length, a connection closed early. Each is a negative errno and
 * one line of text; nothing is retried here.
 *
 * RFC 9112 §4 (status line), §6.3 (message body length): a response
 * without Content-Length is read to the end of the connection, within the
 * same bound. XXX RFC 9112 §7.1: chunked transfer coding is refused.
 */
#include "node/cli_http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/lib/util.h"

struct cli_http_conn {
	int fd;
	char head[CLI_HTTP_HEAD_MAX + 1];
	size_t head_len;
	char *err;
	size_t errlen;
};

static int
http_fail(struct cli_http_conn *c, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static int
http_connect(struct cli_http_conn *c, const char *sock_path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return http_fail(c, -ENAMETOOLONG, "the socket path %s is too long", sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return http_fail(c, -errno, "socket: %s", strerror(errno));
	struct timeval tv = {.tv_sec = CLI_HTTP_TIMEOUT_S};
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return http_fail(c, -errno, "setsockopt: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return http_fail(c, -errno, "connect %s: %s", sock_path, strerror(errno));
	return 0;
}

static int
http_send_all(struct cli_http_conn *c, const char *p, size_t n)
{
	while (n > 0) {
		/* MSG_NOSIGNAL: a node that closes early is an error, not SIGPIPE. */
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return http_fail(c, -ETIMEDOUT,
			                 "the node did not read the request within %d s",
			                 CLI_HTTP_TIMEOUT_S);
		if (w < 0)
			return http_fail(c, -errno, "cannot send the request: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read up to n bytes. Returns the count (0 at end of stream) or -errno. */
static ssize_t
http_recv(struct cli_http_conn *c, char *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return http_fail(c, -ETIMEDOUT, "no answer from the node within %d s",
			                 CLI_HTTP_TIMEOUT_S);
		return http_fail(c, -errno, "cannot read the answer: %s", strerror(errno));
	}
}

static int
http_send_request(struct cli_http_conn *c, const char *method, const char *path, const char *body,
                  size_t body_len)
{
	char head[CLI_HTTP_PATH_MAX + 256];
	if (strlen(path) > CLI_HTTP_PATH_MAX)
		return http_fail(c, -ENAMETOOLONG, "the request path is too long");
	int n = snprintf(head, sizeof(head),
	                 "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
	                 "User-Agent: mailnode-cli\r\nAccept: application/json\r\n"
	                 "%sContent-Length: %zu\r\n\r\n",
	                 method, path, body ? "Content-Type: application/json\r\n" : "",
	                 body ? body_len : 0);
	if (n < 0 || (size_t)n >= sizeof(head))
		return http_fail(c, -ENAMETOOLONG, "the request head is too long");
	int rc = http_send_all(c, head, (size_t)n);
	if (rc == 0 && body != NULL && body_len > 0)
		rc = http_send_all(c, body, body_len);
	return rc;
}

/* Read until "\r\n\r\n"; *end_r is the offset of the body's first byte. */
static int
http_read_head(struct cli_http_conn *c, size_t *end_r)
{
	for (;;) {
		char *e = NULL;
		if (c->head_len >= 4) {
			c->head[c->head_len] = '\0';
			e = memmem(c->head, c->head_len, "\r\n\r\n", 4);
		}
		if (e != NULL) {
			*end_r = (size_t)(e - c->head) + 4;
			return 0;
		}
		if (c->head_len == CLI_HTTP_HEAD_MAX)
			return http_fail(c, -EMSGSIZE, "the answer's headers exceed %d bytes",
			                 CLI_HTTP_HEAD_MAX);
		ssize_t r = http_recv(c, c->head + c->head_len, CLI_HTTP_HEAD_MAX - c->head_len);
		if (r < 0)
			return (int)r;
		if (r == 0)
			return http_fail(c, -EPROTO,
			                 "the node closed the connection without an "
			                 "answer");
		c->head_len += (size_t)r;
	}
}

/* "HTTP/1.x NNN reason" */
static int
http_parse_status(struct cli_http_conn *c, const char *line, size_t len, int *status_r)
{
	uint64_t st;
	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
	    parse_u64n(line + 9, 3, 599, &st) != 0 || st < 100 || (len > 12 && line[12] != ' '))
		return http_fail(c, -EPROTO, "not an HTTP answer");
	*status_r = (int)st;
	return 0;
}

/* Status line and headers in c->head[0..end). *clen_r is -1 when the
 * answer has no Content-Length. */
static int
http_parse_head(struct cli_http_conn *c, size_t end, int *status_r, long long *clen_r)
{
	if (end < 4 || end > c->head_len)
		return http_fail(c, -EPROTO, "not an HTTP answer");
	const char *p = c->head, *lim = c->head + end - 2; /* before the blank line */
	const char *eol = memmem(p, end - 2, "\r\n", 2);
	if (eol == NULL)
		eol = lim;
	int rc = http_parse_status(c, p, (size_t)(eol - p), status_r);
	if (rc != 0)
		return rc;
	*clen_r = -1;
	for (p = eol + 2; p < lim; p = eol + 2) {
		eol = memmem(p, (size_t)(lim - p), "\r\n", 2);
		if (eol == NULL)
			eol = lim;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL)
			return http_fail(c, -EPROTO, "a malformed header in the answer");
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t vlen = (size_t)(eol - v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (nlen == 17 && ascii_strncasecmp(p, "transfer-encoding", 17) == 0)
			return http_fail(c, -EPROTO, "the answer uses a transfer coding");
		if (nlen != 14 || ascii_strncasecmp(p, "content-length", 14) != 0)
			continue;
		uint64_t n;
		if (parse_u64n(v, vlen, UINT64_MAX, &n) != 0 ||
		    (*clen_r >= 0 && (uint64_t)*clen_r != n))
			return http_fail(c, -EPROTO, "a malformed Content-Length in the answer");
		if (n > CLI_HTTP_BODY_MAX)
			return http_fail(c, -EMSGSIZE, "the answer's body exceeds %u bytes",
			                 CLI_HTTP_BODY_MAX);
		*clen_r = (long long)n;
	}
	return 0;
}

static int
http_read_body(struct cli_http_conn *c, size_t end, long long clen, struct cli_http_resp *resp)
{
	size_t want = clen >= 0 ? (size_t)clen : CLI_HTTP_BODY_MAX;
	size_t have = MIN(c->head_len - end, want);
	/* Without Content-Length the body grows to the bound, at most. */
	size_t cap = clen >= 0 ? want : MIN(want, (size_t)64 * 1024);
	char *b = xmalloc(cap + 1);
	memcpy(b, c->head + end, have);
	while (have < want) {
		if (have == cap) {
			cap = MIN(cap * 2, want);
			b = xrealloc(b, cap + 1);
		}
		ssize_t r = http_recv(c, b + have, cap - have);
		if (r < 0) {
			free(b);
			return (int)r;
		}
		if (r == 0 && clen >= 0) {
			free(b);
			return http_fail(c, -EPROTO,
			                 "the node closed the connection before the "
			                 "answer was complete");
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if (clen < 0 && have == want) {
		char extra;
		ssize_t r = http_recv(c, &extra, 1);
		if (r != 0) {
			free(b);
			return r < 0 ? (int)r
			             : http_fail(c, -EMSGSIZE, "the answer's body exceeds %u bytes",
			                         CLI_HTTP_BODY_MAX);
		}
	}
	b[have] = '\0';
	resp->body = b;
	resp->body_len = have;
	return 0;
}

int
cli_http_request(const char *sock_path, const char *method, const char *path, const char *body,
                 size_t body_len, struct cli_http_resp *resp_r, char *err, size_t errlen)
{
	struct cli_http_conn *c = xcalloc(1, sizeof(*c));
	size_t end = 0;
	long long clen = -1;
	int rc;
	c->fd = -1;
	c->err = err;
	c->errlen = errlen;
	memset(resp_r, 0, sizeof(*resp_r));
	if ((rc = http_connect(c, sock_path)) != 0)
		goto err_after_conn;
	if ((rc = http_send_request(c, method, path, body, body_len)) != 0)
		goto err_after_conn;
	if ((rc = http_read_head(c, &end)) != 0)
		goto err_after_conn;
	if ((rc = http_parse_head(c, end, &resp_r->status, &clen)) != 0)
		goto err_after_conn;
	rc = http_read_body(c, end, clen, resp_r);
err_after_conn:
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return rc;
}

void
cli_http_resp_deinit(struct cli_http_resp *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

char *
cli_http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '~' || ch == '@' ||
		    ch == '-') {
			*o++ = (char)ch;
			continue;
		}
		*o++ = '%';
		*o++ = hex[ch >> 4];
		*o++ = hex[ch & 15];
	}
	*o = '\0';
	return out;
}
