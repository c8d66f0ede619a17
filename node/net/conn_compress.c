/*
 * conn_compress: the DEFLATE layer of a connection (RFC 4978 for IMAP;
 * any protocol may turn it on with conn_start_compress). See conn.h; the
 * zlib side is compress.c.
 *
 * Input: compressed bytes (from the socket, or decrypted by TLS) wait in
 * the compressor's bounded buffer and are inflated into c->in only as far
 * as in_limit allows; when c->in is full with input still waiting, the
 * connection is marked STARVED and conn__deliver pulls again once the
 * owner took some (a decompression bomb waits, compressed). Output:
 * conn_write deflates into the layer below (TLS or the socket buffer);
 * conn_flush sync-flushes at the end of every burst, conn_close before
 * TLS's close_notify. A corrupt stream closes the connection.
 */
#include "node/net/conn.h"

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/compress.h"
#include "node/net/conn_private.h"
#include "node/net/tls.h"

static size_t
conn_in_room(const struct conn *c)
{
	return c->in_limit > nbuf_avail(&c->in) ? c->in_limit - nbuf_avail(&c->in) : 0;
}

/* Inflate what the compression layer holds into c->in while it has room.
 * Returns 0, or -1 when the stream is corrupt (the connection closes). */
int
conn__z_pull(struct conn *c)
{
	size_t room;
	while ((room = conn_in_room(c)) > 0) {
		long n = compress_inflate(c->z, &c->in, MIN(room, (size_t)CONN_READ_CHUNK));
		if (n == COMPRESS_ERROR) {
			log_info("net", "event=inflate-error proto=%s peer=%s", c->proto, c->peer);
			c->flags &= ~(uint32_t)CONN_F_STARVED;
			conn_close(c);
			return -1;
		}
		if (n == 0)
			break;
	}
	return 0;
}

/* After a pull: input is left above c->in only because c->in is full. */
void
conn__set_starved(struct conn *c)
{
	int pending = (c->z && compress_inflate_pending(c->z)) ||
	              (c->tls && tls_conn_in_pending(c->tls) > 0);
	if (pending && conn_in_room(c) == 0)
		c->flags |= CONN_F_STARVED;
	else
		c->flags &= ~(uint32_t)CONN_F_STARVED;
}

int
conn_start_compress(struct conn *c)
{
	if (c->z != NULL)
		return -1;
	c->z = compress_new();
	/* The peer waited for the reply before compressing (RFC 4978 §3):
	 * bytes after the command are compressed already. */
	if (nbuf_avail(&c->in) > 0 &&
	    compress_feed(c->z, nbuf_head(&c->in), nbuf_avail(&c->in)) != 0) {
		log_warn("net", "event=compress-input-dropped proto=%s peer=%s", c->proto, c->peer);
	}
	nbuf_reset(&c->in);
	c->flags |= CONN_F_STARVED;
	conn__list_add(c, CONN_F_TLS_PUMP | CONN_F_DELIVER);
	log_debug("net", "event=compress-on proto=%s peer=%s", c->proto, c->peer);
	return 0;
}

int
conn__z_emit(void *ctx, const void *p, size_t n)
{
	return conn__write_out(ctx, p, n);
}

void
conn__z_failed(struct conn *c)
{
	if (c->flags & CONN_F_CLOSED)
		return;
	log_warn("net", "event=deflate-error proto=%s peer=%s", c->proto, c->peer);
	conn_abort(c);
}

int
conn__z_flush(struct conn *c)
{
	if (c->z == NULL || !compress_unflushed(c->z) || (c->flags & CONN_F_CLOSED))
		return 0;
	if (compress_flush(c->z, conn__z_emit, c) != 0) {
		conn__z_failed(c);
		return -1;
	}
	return 0;
}
