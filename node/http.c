/*
 * http: HTTP/1.1 on the loop. See http.h.
 *
 * One http_parser per connection. When a request is complete the parser is
 * paused and the connection stops delivering input until the handler
 * responds; then the rest of the buffered input (pipelined requests) is
 * parsed. Limits: URL HTTP_URL_MAX, all headers HTTP_HEADER_MAX, body
 * HTTP_BODY_MAX; beyond them the answer is 414/431/413 and the connection
 * closes. Keep-alive is honoured as HTTP/1.1 says.
 */
#include "node/http.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "node/net/conn.h"

#define HTTP_IN_LIMIT (64 * 1024)
#define HTTP_IDLE_MS  (60 * 1000)

struct http_route {
	struct http_route *next;
	char *method;
	char *path;
	int flags;
	http_handler_fn fn;
	void *arg;
};

struct http_session {
	struct conn *conn;
	http_parser parser;
	struct http_req req;
	struct nbuf url;
	struct nbuf body;
	size_t header_bytes;
	int admin;
	int in_request; /* a request is being handled */
	int error_status;
	int keep_alive;
	int orphaned; /* the connection closed while a handler still works */
};

static struct http_route *routes;

void
http_route(const char *method, const char *path, int flags, http_handler_fn fn, void *arg)
{
	struct http_route *r = xcalloc(1, sizeof(*r));
	r->method = xstrdup(method);
	r->path = xstrdup(path);
	r->flags = flags;
	r->fn = fn;
	r->arg = arg;
	r->next = routes;
	routes = r;
}

void
http_routes_free(void)
{
	while (routes) {
		struct http_route *r = routes;
		routes = r->next;
		free(r->method);
		free(r->path);
		free(r);
	}
}

static const char *
http_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 422:
		return "Unprocessable Entity";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

static void http_parse(struct http_session *s);

static void
http_reset_request(struct http_session *s)
{
	free(s->req.path);
	s->req.path = NULL;
	s->req.query = NULL;
	nbuf_deinit(&s->url);
	nbuf_deinit(&s->body);
	s->header_bytes = 0;
	s->error_status = 0;
}

void
http_respond(struct http_req *req, int status, const char *ctype, const char *body, size_t len)
{
	struct http_session *s = req->priv;
	if (s->orphaned) {
		http_reset_request(s);
		free(s);
		return;
	}
	struct conn *c = s->conn;
	if (!conn_closing(c)) {
		conn_printf(c,
		            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		            "Cache-Control: no-store\r\n%s\r\n",
		            status, http_reason(status), ctype ? ctype : "text/plain", len,
		            s->keep_alive ? "" : "Connection: close\r\n");
		if (len > 0)
			conn_write(c, body, len);
	}
	char st[16];
	snprintf(st, sizeof(st), "code=\"%d\"", status);
	metric_inc(metric_counter("mailnode_http_requests_total", st, "HTTP requests answered"));
	http_reset_request(s);
	s->in_request = 0;
	if (!s->keep_alive || conn_closing(c)) {
		conn_close(c);
		return;
	}
	http_parser_pause(&s->parser, 0);
	conn_resume(c);
}

static void
http_dispatch(struct http_session *s)
{
	struct http_req *req = &s->req;
	req->method = http_method_str((enum http_method)s->parser.method);
	req->admin = s->admin;
	req->priv = s;
	req->body = nbuf_avail(&s->body) ? (const char *)nbuf_head(&s->body) : "";
	req->body_len = nbuf_avail(&s->body);
	s->keep_alive = http_should_keep_alive(&s->parser);

	struct http_parser_url u;
	http_parser_url_init(&u);
	const char *url = (const char *)nbuf_head(&s->url);
	size_t ulen = nbuf_avail(&s->url);
	if (ulen == 0 || http_parser_parse_url(url, ulen, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH))) {
		http_respond(req, 400, "text/plain", "bad URL\n", 8);
		return;
	}
	req->path = xstrndup(url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
	if (u.field_set & (1 << UF_QUERY)) {
		((char *)url)[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
		req->query = (char *)url + u.field_data[UF_QUERY].off;
	} else {
		req->query = "";
	}
	int path_found = 0;
	for (struct http_route *r = routes; r != NULL; r = r->next) {
		if ((r->flags & HTTP_ADMIN) && !s->admin)
			continue;
		int match = (r->flags & HTTP_PREFIX)
		                    ? strncmp(req->path, r->path, strlen(r->path)) == 0
		                    : strcmp(req->path, r->path) == 0;
		if (!match)
			continue;
		path_found = 1;
		if (strcmp(r->method, req->method) != 0)
			continue;
		r->fn(req, r->arg);
		return;
	}
	if (path_found)
		http_respond(req, 405, "text/plain", "method not allowed\n", 19);
	else
		http_respond(req, 404, "text/plain", "not found\n", 10);
}

static int
http_on_url(http_parser *p, const char *at, size_t len)
{
	struct http_session *s = p->data;
	if (nbuf_avail(&s->url) + len > HTTP_URL_MAX || nbuf_append(&s->url, at, len) != 0) {
		s->error_status = 414;
		return 1;
	}
	return 0;
}

static int
http_on_header(http_parser *p, const char *at, size_t len)
{
	struct http_session *s = p->data;
	s->header_bytes += len;
	if (s->header_bytes > HTTP_HEADER_MAX) {
		s->error_status = 431;
		return 1;
	}
	return 0;
}

static int
http_on_headers_complete(http_parser *p)
{
	struct http_session *s = p->data;
	if (p->content_length != ULLONG_MAX && p->content_length > HTTP_BODY_MAX) {
		s->error_status = 413;
		return 1;
	}
	return 0;
}

static int
http_on_body(http_parser *p, const char *at, size_t len)
{
	struct http_session *s = p->data;
	if (nbuf_avail(&s->body) + len > HTTP_BODY_MAX || nbuf_append(&s->body, at, len) != 0) {
		s->error_status = 413;
		return 1;
	}
	return 0;
}

static int
http_on_message_complete(http_parser *p)
{
	struct http_session *s = p->data;
	/* NUL-terminate URL and body for the handlers. */
	if (nbuf_append(&s->url, "", 1) != 0 || nbuf_append(&s->body, "", 1) != 0) {
		s->error_status = 413;
		return 1;
	}
	s->url.len--;
	s->body.len--;
	s->in_request = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings http_settings = {
        .on_url = http_on_url,
        .on_header_field = http_on_header,
        .on_header_value = http_on_header,
        .on_headers_complete = http_on_headers_complete,
        .on_body = http_on_body,
        .on_message_complete = http_on_message_complete,
};

static void
http_parse(struct http_session *s)
{
	struct conn *c = s->conn;
	while (!s->in_request && nbuf_avail(&c->in) > 0 && !conn_closing(c)) {
		size_t avail = nbuf_avail(&c->in);
		size_t n = http_parser_execute(&s->parser, &http_settings,
		                               (const char *)nbuf_head(&c->in), avail);
		enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
		nbuf_consume(&c->in, n);
		if (s->in_request) {
			conn_pause(c);
			http_dispatch(s);
			continue;
		}
		if (e != HPE_OK && e != HPE_PAUSED) {
			int status = s->error_status ? s->error_status : 400;
			s->keep_alive = 0;
			struct http_req *req = &s->req;
			req->priv = s;
			const char *msg = http_errno_description(e);
			if (s->error_status)
				msg = http_reason(status);
			char body[160];
			int len = snprintf(body, sizeof(body), "%s\n", msg);
			http_respond(req, status, "text/plain", body, (size_t)len);
			return;
		}
		if (n < avail)
			break;
	}
}

static void
http_on_read(struct conn *c)
{
	http_parse(c->data);
}

static void
http_on_close(struct conn *c)
{
	struct http_session *s = c->data;
	if (s->in_request) {
		/* A handler will still answer: free the session then. */
		s->orphaned = 1;
		return;
	}
	http_reset_request(s);
	free(s);
}

static const struct conn_handler http_handler = {
        .on_read = http_on_read,
        .on_close = http_on_close,
};

void
http_accept(struct listener *l, uv_stream_t *server)
{
	struct http_session *s = xcalloc(1, sizeof(*s));
	struct conn *c = conn_accept(server, l->is_pipe, &http_handler, s, HTTP_IN_LIMIT, "http");
	if (c == NULL) {
		free(s);
		return;
	}
	s->conn = c;
	s->admin = l->data ? *(int *)l->data : 0;
	http_parser_init(&s->parser, HTTP_REQUEST);
	s->parser.data = s;
	nbuf_init(&s->url, HTTP_URL_MAX + 1);
	nbuf_init(&s->body, HTTP_BODY_MAX + 1);
	conn_set_timeout(c, HTTP_IDLE_MS);
	conn_start(c);
}

static int
http_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

const char *
http_query_get(const struct http_req *req, const char *key, char *buf, size_t n)
{
	size_t klen = strlen(key);
	const char *q = req->query;
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t plen = amp ? (size_t)(amp - q) : strlen(q);
		if (plen > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			const char *v = q + klen + 1, *end = q + plen;
			size_t o = 0;
			while (v < end && o + 1 < n) {
				if (*v == '%' && end - v >= 3 && http_hexval(v[1]) >= 0 &&
				    http_hexval(v[2]) >= 0) {
					buf[o++] =
					        (char)(http_hexval(v[1]) * 16 + http_hexval(v[2]));
					v += 3;
				} else {
					buf[o++] = *v == '+' ? ' ' : *v;
					v++;
				}
			}
			buf[o] = '\0';
			return buf;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}
