/*
 * conn: buffered, bounded, optionally TLS streams on the loop. See conn.h.
 *
 * This file: creation, the end-of-iteration list (flushes and deferred
 * deliveries, run from a uv_check with a uv_idle keeping poll from blocking
 * while the list is not empty), the sweep, and closing. Reading, writing
 * and line input are in conn_io.c.
 *
 * Closing: conn_close stops reading, flushes, sends close_notify, and calls
 * uv_close when nothing is in flight; the once-a-second sweep aborts a
 * close that takes longer than CONN_CLOSE_GRACE_MS and applies idle
 * timeouts.
 */
#include "node/net/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/compress.h"
#include "node/net/conn_private.h"
#include "node/net/tls.h"

static struct {
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle;
	uv_timer_t sweep;
	struct conn *list; /* flush/deliver list (flush_next, doubly via flush_prev) */
	struct conn *all;  /* every open conn */
	size_t count;
	int shutting_down;
	uint64_t deadline_ms;
	unsigned char readbuf[CONN_READ_CHUNK];
} net;

static void conn_close_cb(uv_handle_t *h);
static void net_idle_cb(uv_idle_t *h);

unsigned char *
conn__readbuf(size_t *len_r)
{
	*len_r = sizeof(net.readbuf);
	return net.readbuf;
}

uv_loop_t *
net_loop(void)
{
	return net.loop;
}

size_t
net_conn_count(void)
{
	return net.count;
}

/* --- the flush/deliver list ----------------------------------------- */

/* The list is singly linked, membership flagged by CONN_F_QUEUED; removal
 * walks it, and it holds only connections with work this iteration. */
static struct conn **
conn_flush_prevp(struct conn *c)
{
	struct conn **pp = &net.list;
	while (*pp != NULL && *pp != c)
		pp = &(*pp)->flush_next;
	return pp;
}

void
conn__list_add(struct conn *c, uint32_t why)
{
	c->flags |= why;
	if (c->flags & CONN_F_QUEUED)
		return;
	c->flags |= CONN_F_QUEUED;
	c->flush_next = net.list;
	net.list = c;
	if (!uv_is_active((uv_handle_t *)&net.idle))
		uv_idle_start(&net.idle, net_idle_cb);
}

static void
conn_list_remove(struct conn *c)
{
	if (!(c->flags & CONN_F_QUEUED))
		return;
	struct conn **pp = conn_flush_prevp(c);
	if (*pp == c)
		*pp = c->flush_next;
	c->flush_next = NULL;
	c->flags &= ~(uint32_t)(CONN_F_QUEUED | CONN_F_DELIVER | CONN_F_TLS_PUMP);
}

void
conn__deliver(struct conn *c)
{
	if ((c->flags & (CONN_F_PAUSED | CONN_F_IN_READ)) || conn_closing(c))
		return;
	if (nbuf_avail(&c->in) == 0)
		return;
	c->flags |= CONN_F_IN_READ;
	c->handler->on_read(c);
	c->flags &= ~(uint32_t)CONN_F_IN_READ;
	/* Input left in TLS or the inflater for want of room in c->in: now
	 * that the owner took some, pull more at the next iteration (not
	 * here: no recursion, and a paused owner is left alone). */
	if ((c->flags & CONN_F_STARVED) && !(c->flags & CONN_F_PAUSED) && !conn_closing(c) &&
	    nbuf_avail(&c->in) < c->in_limit)
		conn__list_add(c, CONN_F_TLS_PUMP | CONN_F_DELIVER);
}

static void
net_check_cb(uv_check_t *h)
{
	/* Take the list: work queued while we run waits for the next round,
	 * and the idle handle keeps that round from blocking. */
	struct conn *list = net.list;
	net.list = NULL;
	while (list != NULL) {
		struct conn *c = list;
		list = c->flush_next;
		c->flush_next = NULL;
		uint32_t why = c->flags;
		c->flags &= ~(uint32_t)(CONN_F_QUEUED | CONN_F_DELIVER | CONN_F_TLS_PUMP);
		if (c->flags & CONN_F_CLOSED)
			continue;
		if (why & CONN_F_TLS_PUMP)
			conn__tls_pump(c);
		if (why & CONN_F_DELIVER) {
			conn__deliver(c);
			conn__update_reading(c);
		}
		if (!(c->flags & CONN_F_CLOSED))
			conn_flush(c);
	}
	if (net.list == NULL)
		uv_idle_stop(&net.idle);
}

static void
net_idle_cb(uv_idle_t *h)
{
	/* Only here to make poll return at once; the check handle works. */
}

/* --- sweep: idle timeouts and stuck closes --------------------------- */

static void
net_sweep_cb(uv_timer_t *t)
{
	uint64_t now = now_mono_ms();
	for (struct conn *c = net.all; c != NULL; c = c->all_next) {
		if (c->flags & CONN_F_CLOSED)
			continue;
		if (c->flags & CONN_F_CLOSING) {
			if (now - c->closing_since_ms > CONN_CLOSE_GRACE_MS ||
			    (net.shutting_down && now > net.deadline_ms))
				conn_abort(c);
			continue;
		}
		if (net.shutting_down && now > net.deadline_ms) {
			conn_abort(c);
			continue;
		}
		if (c->idle_timeout_ms && now - c->last_active_ms > c->idle_timeout_ms) {
			log_debug("net", "event=idle-timeout proto=%s peer=%s", c->proto, c->peer);
			if (c->handler->on_timeout)
				c->handler->on_timeout(c);
			else
				conn_close(c);
		}
	}
	if (net.shutting_down && net.count == 0) {
		uv_timer_stop(&net.sweep);
		uv_close((uv_handle_t *)&net.sweep, NULL);
		uv_close((uv_handle_t *)&net.check, NULL);
		uv_close((uv_handle_t *)&net.idle, NULL);
	}
}

void
net_init(uv_loop_t *loop)
{
	memset(&net, 0, sizeof(net));
	net.loop = loop;
	uv_check_init(loop, &net.check);
	uv_check_start(&net.check, net_check_cb);
	uv_unref((uv_handle_t *)&net.check);
	uv_idle_init(loop, &net.idle);
	uv_timer_init(loop, &net.sweep);
	uv_timer_start(&net.sweep, net_sweep_cb, 1000, 1000);
	uv_unref((uv_handle_t *)&net.sweep);
}

void
net_shutdown(uint32_t grace_ms)
{
	net.shutting_down = 1;
	net.deadline_ms = now_mono_ms() + grace_ms;
	for (struct conn *c = net.all; c != NULL; c = c->all_next) {
		if (!conn_closing(c) && c->handler && c->handler->on_shutdown)
			c->handler->on_shutdown(c);
		conn_close(c);
	}
	uv_ref((uv_handle_t *)&net.sweep);
	uv_timer_start(&net.sweep, net_sweep_cb, 0, 100);
}

/* --- creation ------------------------------------------------------- */

static struct conn *
conn_new(const struct conn_handler *h, void *data, size_t in_limit, const char *proto)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	c->handler = h;
	c->data = data;
	c->in_limit = in_limit;
	nbuf_init(&c->in, in_limit + CONN_READ_CHUNK);
	nbuf_init(&c->out, CONN_OUT_MAX);
	c->proto = proto;
	c->last_active_ms = now_mono_ms();
	c->flags = CONN_F_PAUSED;
	c->u.handle.data = c;
	c->all_next = net.all;
	if (net.all)
		net.all->all_prev = c;
	net.all = c;
	net.count++;
	snprintf(c->peer, sizeof(c->peer), "-");
	return c;
}

static void
conn_set_peer(struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (c->flags & CONN_F_PIPE) {
		snprintf(c->peer, sizeof(c->peer), "local");
		return;
	}
	if (uv_tcp_getpeername(&c->u.tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		uv_ip4_name(sin, ip, sizeof(ip));
		port = ntohs(sin->sin_port);
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		uv_ip6_name(sin6, ip, sizeof(ip));
		port = ntohs(sin6->sin6_port);
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip, port);
	}
}

struct conn *
conn_accept(uv_stream_t *server, int is_pipe, const struct conn_handler *h, void *data,
            size_t in_limit, const char *proto)
{
	struct conn *c = conn_new(h, data, in_limit, proto);
	if (is_pipe) {
		c->flags |= CONN_F_PIPE;
		uv_pipe_init(net.loop, &c->u.pipe, 0);
	} else {
		uv_tcp_init(net.loop, &c->u.tcp);
	}
	c->flags |= CONN_F_CONNECTED;
	if (uv_accept(server, &c->u.stream) != 0) {
		/* The conn must still go through close to be freed; make the
		 * owner's on_close harmless by having no owner yet. */
		c->flags |= CONN_F_CLOSING | CONN_F_CLOSED;
		c->handler = NULL;
		uv_close(&c->u.handle, conn_close_cb);
		return NULL;
	}
	if (!is_pipe)
		uv_tcp_nodelay(&c->u.tcp, 1);
	conn_set_peer(c);
	return c;
}

struct conn *
conn_open_fd(int fd, const struct conn_handler *h, void *data, size_t in_limit, const char *proto)
{
	struct conn *c = conn_new(h, data, in_limit, proto);
	c->flags |= CONN_F_PIPE | CONN_F_CONNECTED;
	uv_pipe_init(net.loop, &c->u.pipe, 0);
	if (uv_pipe_open(&c->u.pipe, fd) != 0) {
		c->flags |= CONN_F_CLOSING | CONN_F_CLOSED;
		c->handler = NULL;
		uv_close(&c->u.handle, conn_close_cb);
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "fd:%d", fd);
	return c;
}

static void
conn_connect_cb(uv_connect_t *req, int status)
{
	struct conn *c = req->data;
	free(req);
	if (c->flags & CONN_F_CLOSED)
		return;
	if (status != 0) {
		log_debug("net", "event=connect-failed proto=%s peer=%s error=\"%s\"", c->proto,
		          c->peer, uv_strerror(status));
		conn_abort(c);
		return;
	}
	c->flags |= CONN_F_CONNECTED;
	uv_tcp_nodelay(&c->u.tcp, 1);
	conn_touch(c);
	if (c->tls)
		conn__list_add(c, CONN_F_TLS_PUMP);
	conn__list_add(c, 0);
	conn__update_reading(c);
}

struct conn *
conn_connect(const struct sockaddr *addr, const struct conn_handler *h, void *data, size_t in_limit,
             const char *proto)
{
	struct conn *c = conn_new(h, data, in_limit, proto);
	c->flags |= CONN_F_CLIENT;
	c->flags &= ~(uint32_t)CONN_F_PAUSED;
	uv_tcp_init(net.loop, &c->u.tcp);
	char ip[INET6_ADDRSTRLEN] = "?";
	if (addr->sa_family == AF_INET) {
		uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%d", ip,
		         ntohs(((const struct sockaddr_in *)addr)->sin_port));
	} else {
		uv_ip6_name((const struct sockaddr_in6 *)addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "[%s]:%d", ip,
		         ntohs(((const struct sockaddr_in6 *)addr)->sin6_port));
	}
	uv_connect_t *req = xmalloc(sizeof(*req));
	req->data = c;
	int rc = uv_tcp_connect(req, &c->u.tcp, addr, conn_connect_cb);
	if (rc != 0) {
		free(req);
		log_debug("net", "event=connect-failed proto=%s peer=%s error=\"%s\"", proto,
		          c->peer, uv_strerror(rc));
		conn_abort(c);
	}
	return c;
}

/* --- closing -------------------------------------------------------- */

void
conn_close(struct conn *c)
{
	if (conn_closing(c))
		return;
	c->flags |= CONN_F_CLOSING;
	c->closing_since_ms = now_mono_ms();
	conn__update_reading(c);
	/* The last compressed bytes go before TLS's close_notify. */
	conn__z_flush(c);
	if (c->flags & CONN_F_CLOSED)
		return;
	if (c->tls && tls_conn_established(c->tls)) {
		tls_conn_shutdown(c->tls);
		size_t pend;
		while ((pend = tls_conn_out_pending(c->tls)) > 0) {
			unsigned char *dst = nbuf_reserve(&c->out, pend);
			if (dst == NULL)
				break;
			nbuf_commit(&c->out, tls_conn_take_out(c->tls, dst, pend));
		}
	}
	conn_flush(c);
	conn__maybe_finish_close(c);
}

void
conn_abort(struct conn *c)
{
	if (c->flags & CONN_F_CLOSED)
		return;
	c->flags |= CONN_F_CLOSING | CONN_F_CLOSED;
	conn_list_remove(c);
	if (c->flags & CONN_F_READING)
		uv_read_stop(&c->u.stream);
	uv_close(&c->u.handle, conn_close_cb);
}

static void
conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (c->handler && c->handler->on_close)
		c->handler->on_close(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		net.all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	net.count--;
	tls_conn_free(&c->tls);
	compress_free(&c->z);
	nbuf_deinit(&c->in);
	nbuf_deinit(&c->out);
	free(c);
}
