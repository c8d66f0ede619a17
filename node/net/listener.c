/*
 * listener: bound sockets on the loop. See listener.h.
 */
#include "node/net/listener.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/net/addr.h"

#define LISTEN_BACKLOG 511

static char listener_err[400];

static void
listener_connection_cb(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	if (status != 0) {
		log_warn("net", "event=accept-error listener=%s error=\"%s\"", l->name,
		         uv_strerror(status));
		return;
	}
	l->on_accept(l, server);
}

int
listener_bind_tcp(struct listener *l, uv_loop_t *loop, const char *name, const char *addr,
                  listener_accept_cb cb, void *data, const char **error_r)
{
	struct sockaddr_storage ss;
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->on_accept = cb;
	l->data = data;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	if (addr_resolve(addr, &ss, error_r) != 0)
		return -1;
	uv_tcp_init(loop, &l->u.tcp);
	l->u.handle.data = l;
	l->bound = 1;
	int rc = uv_tcp_bind(&l->u.tcp, (struct sockaddr *)&ss, 0);
	/* libuv reports EADDRINUSE only at listen time. */
	if (rc == 0)
		rc = uv_listen(&l->u.stream, LISTEN_BACKLOG, listener_connection_cb);
	if (rc != 0) {
		snprintf(listener_err, sizeof(listener_err), "cannot bind %s %s: %s", name, addr,
		         uv_strerror(rc));
		*error_r = listener_err;
		return -1;
	}
	log_info("net", "event=listening listener=%s addr=%s", name, addr);
	return 0;
}

int
listener_bind_unix(struct listener *l, uv_loop_t *loop, const char *name, const char *path,
                   int mode, listener_accept_cb cb, void *data, const char **error_r)
{
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->on_accept = cb;
	l->data = data;
	l->is_pipe = 1;
	snprintf(l->addr, sizeof(l->addr), "%s", path);
	unlink(path);
	uv_pipe_init(loop, &l->u.pipe, 0);
	l->u.handle.data = l;
	l->bound = 1;
	mode_t old = umask(0077);
	int rc = uv_pipe_bind(&l->u.pipe, path);
	umask(old);
	if (rc == 0 && chmod(path, (mode_t)mode) != 0)
		rc = -errno;
	if (rc == 0)
		rc = uv_listen(&l->u.stream, LISTEN_BACKLOG, listener_connection_cb);
	if (rc != 0) {
		snprintf(listener_err, sizeof(listener_err), "cannot bind %s %s: %s", name, path,
		         uv_strerror(rc));
		*error_r = listener_err;
		return -1;
	}
	return 0;
}

void
listener_close(struct listener *l)
{
	if (!l->bound || uv_is_closing(&l->u.handle))
		return;
	uv_close(&l->u.handle, NULL);
	if (l->is_pipe)
		unlink(l->addr);
}
