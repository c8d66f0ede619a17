/*
 * listener: a bound, listening TCP or Unix-domain socket on the loop. The
 * node validates its whole configuration before binding any; connections
 * that arrive before the loop runs wait in the backlog.
 * Owner: whoever embeds it (the node); listener_close before freeing.
 */
#ifndef MAILNODE_LISTENER_H
#define MAILNODE_LISTENER_H

#include <uv.h>

struct listener;
/* A connection is waiting: call conn_accept(server, l->is_pipe, ...). */
typedef void (*listener_accept_cb)(struct listener *l, uv_stream_t *server);

struct listener {
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} u;
	const char *name; /* "imap", "http", ... */
	char addr[300];
	int is_pipe;
	int bound;
	listener_accept_cb on_accept;
	void *data;
};

/* Bind to "host:port" and listen. Returns 0 or -1 with *error_r. */
int listener_bind_tcp(struct listener *l, uv_loop_t *loop, const char *name, const char *addr,
                      listener_accept_cb cb, void *data, const char **error_r);
/* Bind a Unix-domain socket at path with the given file mode (a stale
 * socket file is replaced). Returns 0 or -1 with *error_r. */
int listener_bind_unix(struct listener *l, uv_loop_t *loop, const char *name, const char *path,
                       int mode, listener_accept_cb cb, void *data, const char **error_r);
/* Stop accepting and close (the handle closes on the loop). */
void listener_close(struct listener *l);

#endif
