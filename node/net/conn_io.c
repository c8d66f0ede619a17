/*
 * conn_io: reading, writing and line input of connections. See conn.h.
 *
 * Reading: one 64 KiB loop-wide buffer receives every read; its bytes are
 * appended to the connection's bounded input (or fed to TLS and decrypted
 * into it) at once, so per-connection memory is what the connection holds,
 * never a read buffer. Reading is started and stopped so that c->in never
 * holds more than in_limit bytes before a read and in_limit + one chunk
 * after it. With compression on (conn_compress.c) the bytes, decrypted or
 * not, go to the inflater's bounded buffer first and are inflated into
 * c->in as far as in_limit allows; input left above a full c->in is
 * pulled again from the flush list once the owner consumed some
 * (CONN_F_STARVED), which also covers TLS records bigger than the room.
 *
 * Writing: conn_write appends to c->out (through the deflater when
 * compression is on); connections with output are put on the flush list
 * (conn.c), drained at the end of each loop iteration. A flush
 * sync-flushes the deflater, tries uv_try_write first and hands the rest
 * to uv_write with the buffer's storage.
 */
#include "node/net/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/compress.h"
#include "node/net/conn_private.h"
#include "node/net/tls.h"

/* --- reading -------------------------------------------------------- */

static void
conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	size_t len;
	buf->base = (char *)conn__readbuf(&len);
	buf->len = len;
}

/* The room left in c->in before in_limit. */
static size_t
conn_in_room(const struct conn *c)
{
	return c->in_limit > nbuf_avail(&c->in) ? c->in_limit - nbuf_avail(&c->in) : 0;
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
		conn__update_reading(c);
		/* Whatever was buffered is still delivered if not paused; a
		 * half-closed peer gets its replies. */
		conn__deliver(c);
		conn_close(c);
		return;
	}
	conn_touch(c);
	if (c->tls) {
		if (tls_conn_feed(c->tls, buf->base, (size_t)nread) != 0) {
			conn_abort(c);
			return;
		}
		conn__tls_pump(c);
	} else if (c->z) {
		/* Reading stops at COMPRESS_IN_MAX pending: one chunk fits. */
		if (compress_feed(c->z, buf->base, (size_t)nread) != 0) {
			log_error("net", "event=input-overflow proto=%s peer=%s", c->proto,
			          c->peer);
			conn_abort(c);
			return;
		}
		if (conn__z_pull(c) != 0)
			return;
		conn__set_starved(c);
	} else if (nbuf_append(&c->in, buf->base, (size_t)nread) != 0) {
		/* Cannot happen while reading stops at in_limit. */
		log_error("net", "event=input-overflow proto=%s peer=%s", c->proto, c->peer);
		conn_abort(c);
		return;
	}
	conn__deliver(c);
	conn__update_reading(c);
}

void
conn__update_reading(struct conn *c)
{
	if (c->flags & CONN_F_CLOSED)
		return;
	int want = !(c->flags & (CONN_F_CLOSING | CONN_F_EOF)) && (c->flags & CONN_F_CONNECTED) &&
	           nbuf_avail(&c->in) < c->in_limit &&
	           (!c->tls || tls_conn_fed_pending(c->tls) < CONN_TLS_FED_MAX) &&
	           (!c->z || compress_in_pending(c->z) < COMPRESS_IN_MAX);
	if (want && !(c->flags & CONN_F_READING)) {
		if (uv_read_start(&c->u.stream, conn_alloc_cb, conn_read_cb) == 0)
			c->flags |= CONN_F_READING;
	} else if (!want && (c->flags & CONN_F_READING)) {
		uv_read_stop(&c->u.stream);
		c->flags &= ~(uint32_t)CONN_F_READING;
	}
}

/* One TLS read into the layer below it: c->in, or the inflater's input
 * through the loop-wide read buffer (its ciphertext was fed to TLS
 * already). Returns what tls_conn_read returned. */
static int
conn_tls_read(struct conn *c)
{
	if (c->z == NULL) {
		size_t room = MIN(conn_in_room(c), (size_t)CONN_READ_CHUNK);
		unsigned char *dst = room ? nbuf_reserve(&c->in, room) : NULL;
		int n = tls_conn_read(c->tls, dst, dst ? room : 0);
		if (n > 0)
			nbuf_commit(&c->in, (size_t)n);
		return n;
	}
	size_t pend = compress_in_pending(c->z), len;
	size_t room = pend < COMPRESS_IN_MAX ? COMPRESS_IN_MAX - pend : 0;
	unsigned char *tmp = conn__readbuf(&len);
	room = MIN(room, len);
	int n = tls_conn_read(c->tls, room ? tmp : NULL, room);
	if (n > 0 && compress_feed(c->z, tmp, (size_t)n) != 0)
		return TLS_ERROR; /* cannot happen: room was checked */
	return n;
}

/* Decrypt what TLS holds into c->in (through the inflater when
 * compression is on), up to in_limit, and queue whatever ciphertext the
 * engine produced (handshake messages, alerts). */
void
conn__tls_pump(struct conn *c)
{
	if (c->flags & CONN_F_CLOSED)
		return;
	if (c->tls == NULL) {
		if (c->z != NULL && conn__z_pull(c) == 0)
			conn__set_starved(c);
		return;
	}
	int was_up = tls_conn_established(c->tls);
	for (;;) {
		if (c->z != NULL && conn__z_pull(c) != 0)
			return;
		int n = conn_tls_read(c);
		if (n > 0)
			continue;
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
	conn__set_starved(c);
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
		conn__list_add(c, 0);
	if (!was_up && tls_conn_established(c->tls)) {
		log_debug("net", "event=tls-up proto=%s peer=%s tls=%s", c->proto, c->peer,
		          tls_conn_describe(c->tls));
		if (c->handler->on_tls)
			c->handler->on_tls(c);
	}
	if (c->flags & CONN_F_EOF) {
		conn__deliver(c);
		conn_close(c);
	}
}

void
conn_start(struct conn *c)
{
	c->flags &= ~(uint32_t)CONN_F_PAUSED;
	conn_touch(c);
	conn__update_reading(c);
}

int
conn_start_tls(struct conn *c, struct tls_ctx *ctx, int server)
{
	if (c->tls != NULL || c->z != NULL) /* TLS goes under DEFLATE, not over */
		return -1;
	/* CVE-2011-0411: nothing the client sent in plaintext after the
	 * STARTTLS command may be read as if it came over TLS. */
	nbuf_reset(&c->in);
	conn_flush(c); /* the plaintext reply goes out first */
	c->tls = tls_conn_new(ctx, server);
	c->flags |= CONN_F_TLS;
	if (!server && (c->flags & CONN_F_CONNECTED))
		conn__list_add(c, CONN_F_TLS_PUMP);
	conn__update_reading(c);
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
	conn__list_add(c, CONN_F_DELIVER | (c->tls || c->z ? CONN_F_TLS_PUMP : 0));
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
	if (c->z && !compress_unflushed(c->z))
		compress_idle(c->z);
}

/* --- writing -------------------------------------------------------- */

int
conn__write_out(struct conn *c, const void *p, size_t n)
{
	if (c->flags & CONN_F_CLOSED)
		return -1;
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
	conn__list_add(c, 0);
	return 0;
overflow:
	log_warn("net", "event=output-overflow proto=%s peer=%s", c->proto, c->peer);
	conn_abort(c);
	return -1;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	if (conn_closing(c))
		return -1;
	if (n == 0)
		return 0;
	if (c->z == NULL)
		return conn__write_out(c, p, n);
	if (compress_deflate(c->z, p, n, conn__z_emit, c) != 0) {
		conn__z_failed(c);
		return -1;
	}
	/* Flushed (Z_SYNC_FLUSH) with the rest at the end of the burst. */
	conn__list_add(c, 0);
	return 0;
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

void
conn__maybe_finish_close(struct conn *c)
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
		conn__maybe_finish_close(c);
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
	/* The end of a response burst (RFC 4978 §4): the peer can decode
	 * everything sent so far. */
	if (conn__z_flush(c) != 0)
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
			conn__maybe_finish_close(c);
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
