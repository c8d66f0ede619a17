/*
 * conn: buffered, bounded, optionally TLS streams on the loop. See conn.h.
 *
 * Reading: one 64 KiB loop-wide buffer receives every read; its bytes are
 * appended to the connection's bounded input (or fed to TLS and decrypted
 * into it) at once, so per-connection memory is what the connection holds,
 * never a read buffer. Reading is started and stopped so that c->in never
 * holds more than in_limit bytes before a read and in_limit + one chunk
 * after it.
 *
 * Writing: conn_write appends to c->out; connections with output are put on
 * the flush list, drained at the end of each loop iteration (uv_check, with
 * a uv_idle keeping poll from blocking while the list is not empty). A
 * flush tries uv_try_write first and hands the rest to uv_write with the
 * buffer's storage.
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
#include "node/net/tls.h"

#define CONN_OUT_MAX         (64u * 1024 * 1024)
#define CONN_CLOSE_GRACE_MS  5000
#define CONN_TLS_FED_MAX     (2 * CONN_READ_CHUNK)

enum {
	CONN_F_DELIVER = 1u << 16, /* on the list: run on_read */
	CONN_F_TLS_PUMP = 1u << 17,
};

struct conn_wreq {
	uv_write_t req;
	struct conn *c;
	unsigned char *data;
	size_t len;
};

static struct {
	uv_loop_t *loop;
	uv_check_t check;
	uv_idle_t idle;
	uv_timer_t sweep;
	struct conn *list;     /* flush/deliver list (flush_next, doubly via flush_prev) */
	struct conn *all;      /* every open conn */
	size_t count;
	int shutting_down;
	uint64_t deadline_ms;
	unsigned char readbuf[CONN_READ_CHUNK];
} net;

static void conn_close_cb(uv_handle_t *h);
static void conn_update_reading(struct conn *c);
static void conn_tls_pump(struct conn *c);
static void net_idle_cb(uv_idle_t *h);

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

static void
conn_list_add(struct conn *c, uint32_t why)
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

static void
conn_deliver(struct conn *c)
{
	if ((c->flags & (CONN_F_PAUSED | CONN_F_IN_READ)) || conn_closing(c))
		return;
	if (nbuf_avail(&c->in) == 0)
		return;
	c->flags |= CONN_F_IN_READ;
	c->handler->on_read(c);
	c->flags &= ~(uint32_t)CONN_F_IN_READ;
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
			conn_tls_pump(c);
		if (why & CONN_F_DELIVER) {
			conn_deliver(c);
			conn_update_reading(c);
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
		conn_list_add(c, CONN_F_TLS_PUMP);
	conn_list_add(c, 0);
	conn_update_reading(c);
}

struct conn *
conn_connect(const struct sockaddr *addr, const struct conn_handler *h, void *data,
	     size_t in_limit, const char *proto)
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

/* --- reading -------------------------------------------------------- */

static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	buf->base = (char *)net.readbuf;
	buf->len = sizeof(net.readbuf);
}

static void
conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("net", "event=read-error proto=%s peer=%s error=\"%s\"", c->proto,
				  c->peer, uv_strerror((int)nread));
		c->flags |= CONN_F_EOF;
		conn_update_reading(c);
		/* Whatever was buffered is still delivered if not paused; a
		 * half-closed peer gets its replies. */
		conn_deliver(c);
		conn_close(c);
		return;
	}
	conn_touch(c);
	if (c->tls) {
		if (tls_conn_feed(c->tls, buf->base, (size_t)nread) != 0) {
			conn_abort(c);
			return;
		}
		conn_tls_pump(c);
	} else if (nbuf_append(&c->in, buf->base, (size_t)nread) != 0) {
		/* Cannot happen while reading stops at in_limit. */
		log_error("net", "event=input-overflow proto=%s peer=%s", c->proto, c->peer);
		conn_abort(c);
		return;
	}
	conn_deliver(c);
	conn_update_reading(c);
}

static void
conn_update_reading(struct conn *c)
{
	if (c->flags & CONN_F_CLOSED)
		return;
	int want = !(c->flags & (CONN_F_CLOSING | CONN_F_EOF)) && (c->flags & CONN_F_CONNECTED) &&
		   nbuf_avail(&c->in) < c->in_limit &&
		   (!c->tls || tls_conn_fed_pending(c->tls) < CONN_TLS_FED_MAX);
	if (want && !(c->flags & CONN_F_READING)) {
		if (uv_read_start(&c->u.stream, conn_alloc_cb, conn_read_cb) == 0)
			c->flags |= CONN_F_READING;
	} else if (!want && (c->flags & CONN_F_READING)) {
		uv_read_stop(&c->u.stream);
		c->flags &= ~(uint32_t)CONN_F_READING;
	}
}

/* Decrypt what TLS holds into c->in, up to in_limit, and queue whatever
 * ciphertext the engine produced (handshake messages, alerts). */
static void
conn_tls_pump(struct conn *c)
{
	if (c->tls == NULL || (c->flags & CONN_F_CLOSED))
		return;
	int was_up = tls_conn_established(c->tls);
	for (;;) {
		size_t room = c->in_limit > nbuf_avail(&c->in) ? c->in_limit - nbuf_avail(&c->in)
							       : 0;
		room = MIN(room, (size_t)CONN_READ_CHUNK);
		unsigned char *dst = room ? nbuf_reserve(&c->in, room) : NULL;
		int n = tls_conn_read(c->tls, dst, dst ? room : 0);
		if (n > 0) {
			nbuf_commit(&c->in, (size_t)n);
			continue;
		}
		if (n == TLS_ERROR) {
			log_info("net", "event=tls-error proto=%s peer=%s error=\"%s\"", c->proto,
				 c->peer, tls_conn_error(c->tls));
			conn_flush(c); /* send the alert */
			conn_abort(c);
			return;
		}
		if (n == TLS_EOF)
			c->flags |= CONN_F_EOF;
		break;
	}
	/* Handshake output. */
	while (tls_conn_out_pending(c->tls) > 0) {
		size_t p = tls_conn_out_pending(c->tls);
		unsigned char *dst = nbuf_reserve(&c->out, p);
		if (dst == NULL) {
			conn_abort(c);
			return;
		}
		nbuf_commit(&c->out, tls_conn_take_out(c->tls, dst, p));
	}
	if (nbuf_avail(&c->out) > 0)
		conn_list_add(c, 0);
	if (!was_up && tls_conn_established(c->tls)) {
		log_debug("net", "event=tls-up proto=%s peer=%s tls=%s", c->proto, c->peer,
			  tls_conn_describe(c->tls));
		if (c->handler->on_tls)
			c->handler->on_tls(c);
	}
	if (c->flags & CONN_F_EOF) {
		conn_deliver(c);
		conn_close(c);
	}
}

void
conn_start(struct conn *c)
{
	c->flags &= ~(uint32_t)CONN_F_PAUSED;
	conn_touch(c);
	conn_update_reading(c);
}

int
conn_start_tls(struct conn *c, struct tls_ctx *ctx, int server)
{
	if (c->tls != NULL)
		return -1;
	/* CVE-2011-0411: nothing the client sent in plaintext after the
	 * STARTTLS command may be read as if it came over TLS. */
	nbuf_reset(&c->in);
	conn_flush(c); /* the plaintext reply goes out first */
	c->tls = tls_conn_new(ctx, server);
	c->flags |= CONN_F_TLS;
	if (!server && (c->flags & CONN_F_CONNECTED))
		conn_list_add(c, CONN_F_TLS_PUMP);
	conn_update_reading(c);
	return 0;
}

void
conn_pause(struct conn *c)
{
	c->flags |= CONN_F_PAUSED;
}

void
conn_resume(struct conn *c)
{
	if (!(c->flags & CONN_F_PAUSED))
		return;
	c->flags &= ~(uint32_t)CONN_F_PAUSED;
	if (conn_closing(c))
		return;
	/* Deliver from the loop, never from inside the caller's stack. */
	conn_list_add(c, CONN_F_DELIVER | (c->tls ? CONN_F_TLS_PUMP : 0));
}

void
conn_touch(struct conn *c)
{
	c->last_active_ms = now_mono_ms();
}

void
conn_set_timeout(struct conn *c, uint32_t ms)
{
	c->idle_timeout_ms = ms;
}

void
conn_idle(struct conn *c)
{
	if (nbuf_avail(&c->in) == 0)
		nbuf_deinit(&c->in);
	else
		nbuf_shrink(&c->in);
	if (nbuf_avail(&c->out) == 0)
		nbuf_deinit(&c->out);
	if (c->tls && c->queued == 0)
		tls_conn_idle(c->tls);
}

/* --- writing -------------------------------------------------------- */

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (conn_closing(c))
		return -1;
	if (n == 0)
		return 0;
	if (c->tls) {
		if (tls_conn_write(c->tls, p, n) != 0) {
			conn_abort(c);
			return -1;
		}
		size_t pend;
		while ((pend = tls_conn_out_pending(c->tls)) > 0) {
			unsigned char *dst = nbuf_reserve(&c->out, pend);
			if (dst == NULL)
				goto overflow;
			nbuf_commit(&c->out, tls_conn_take_out(c->tls, dst, pend));
		}
	} else if (nbuf_append(&c->out, p, n) != 0) {
		goto overflow;
	}
	conn_list_add(c, 0);
	return 0;
overflow:
	log_warn("net", "event=output-overflow proto=%s peer=%s", c->proto, c->peer);
	conn_abort(c);
	return -1;
}

int
conn_puts(struct conn *c, const char *s)
{
	return conn_write(c, s, strlen(s));
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return conn_write(c, small, (size_t)n);
	char *big = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	int rc = conn_write(c, big, (size_t)n);
	free(big);
	return rc;
}

size_t
conn_pending(const struct conn *c)
{
	return c->queued + nbuf_avail(&c->out);
}

static void
conn_maybe_finish_close(struct conn *c)
{
	if ((c->flags & CONN_F_CLOSING) && !(c->flags & CONN_F_CLOSED) && c->queued == 0 &&
	    nbuf_avail(&c->out) == 0)
		conn_abort(c);
}

static void
conn_write_cb(uv_write_t *req, int status)
{
	struct conn_wreq *w = (struct conn_wreq *)req;
	struct conn *c = w->c;
	c->queued -= w->len;
	free(w->data);
	free(w);
	if (c->flags & CONN_F_CLOSED)
		return;
	if (status != 0) {
		log_debug("net", "event=write-error proto=%s peer=%s error=\"%s\"", c->proto,
			  c->peer, uv_strerror(status));
		conn_abort(c);
		return;
	}
	conn_touch(c);
	if (c->flags & CONN_F_CLOSING) {
		conn_flush(c);
		conn_maybe_finish_close(c);
		return;
	}
	if (conn_pending(c) < CONN_LOW_WATER && c->handler->on_drain)
		c->handler->on_drain(c);
}

void
conn_flush(struct conn *c)
{
	if ((c->flags & CONN_F_CLOSED) || !(c->flags & CONN_F_CONNECTED))
		return;
	size_t n = nbuf_avail(&c->out);
	if (n == 0)
		return;
	if (c->queued == 0) {
		uv_buf_t b = uv_buf_init((char *)nbuf_head(&c->out), (unsigned)MIN(n, UINT32_MAX));
		int w = uv_try_write(&c->u.stream, &b, 1);
		if (w > 0) {
			nbuf_consume(&c->out, (size_t)w);
			n -= (size_t)w;
		} else if (w < 0 && w != UV_EAGAIN && w != UV_ENOSYS) {
			log_debug("net", "event=write-error proto=%s peer=%s error=\"%s\"",
				  c->proto, c->peer, uv_strerror(w));
			conn_abort(c);
			return;
		}
		if (n == 0) {
			if (c->out.cap > 4 * CONN_READ_CHUNK)
				nbuf_deinit(&c->out);
			conn_maybe_finish_close(c);
			return;
		}
	}
	struct conn_wreq *w = xmalloc(sizeof(*w));
	w->c = c;
	w->data = nbuf_steal(&c->out, &w->len);
	uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
	c->queued += w->len;
	int rc = uv_write(&w->req, &c->u.stream, &b, 1, conn_write_cb);
	if (rc != 0) {
		c->queued -= w->len;
		free(w->data);
		free(w);
		conn_abort(c);
	}
}

/* --- closing -------------------------------------------------------- */

void
conn_close(struct conn *c)
{
	if (conn_closing(c))
		return;
	c->flags |= CONN_F_CLOSING;
	c->closing_since_ms = now_mono_ms();
	conn_update_reading(c);
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
	conn_maybe_finish_close(c);
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
	nbuf_deinit(&c->in);
	nbuf_deinit(&c->out);
	free(c);
}

/* --- line input ----------------------------------------------------- */

int
conn_getline(struct conn *c, size_t max, const char **line_r, size_t *len_r)
{
	for (;;) {
		long lf = nbuf_find_lf(&c->in);
		if (c->flags & CONN_F_SKIPLINE) {
			if (lf < 0) {
				nbuf_reset(&c->in);
				return 0;
			}
			nbuf_consume(&c->in, (size_t)lf + 1);
			c->flags &= ~(uint32_t)CONN_F_SKIPLINE;
			continue;
		}
		if (lf < 0) {
			if (nbuf_avail(&c->in) > max) {
				nbuf_reset(&c->in);
				c->flags |= CONN_F_SKIPLINE;
				return -1;
			}
			return 0;
		}
		size_t len = (size_t)lf;
		if (len > max + 1) {
			nbuf_consume(&c->in, len + 1);
			return -1;
		}
		c->line_len = (uint32_t)len + 1;
		if (len > 0 && nbuf_head(&c->in)[len - 1] == '\r')
			len--;
		if (len > max) {
			nbuf_consume(&c->in, c->line_len);
			return -1;
		}
		*line_r = (const char *)nbuf_head(&c->in);
		*len_r = len;
		return 1;
	}
}

void
conn_line_consume(struct conn *c)
{
	nbuf_consume(&c->in, MIN((size_t)c->line_len, nbuf_avail(&c->in)));
	c->line_len = 0;
}

const char *
conn_tls_peer_cn(struct conn *c)
{
	return c->tls ? tls_conn_peer_cn(c->tls) : NULL;
}
