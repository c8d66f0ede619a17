/*
 * cluster_link: one mutual-TLS link between nodes. See cluster.h.
 *
 * Client side: resolve the peer's address (uv_getaddrinfo, off the loop),
 * connect, handshake verifying that the server's certificate names the
 * expected node, send HELLO. Server side: the handshake already required a
 * certificate from the cluster CA; the HELLO's id must match it. Then:
 *   raft links: bytes are pumped between the TLS connection and our end of
 *     a socketpair whose other end raft_uv owns (a uv_pipe_t allocated
 *     with raft_malloc, as raft frees it); reading stops on either side
 *     while the other side's writes are backed up;
 *   rpc links: frames (proto.h), bounded by PROTO_FRAME_MAX before any
 *     allocation; requests wait in a per-link table until their reply or
 *     deadline.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/lib/wire.h"
#include "node/net/addr.h"
#include "node/net/conn.h"
#include "node/net/tls.h"
#include "replication/cluster_private.h"
#include "replication/proto.h"

static const struct conn_handler pipe_handler;

/* --- frames ---------------------------------------------------------- */

int
cluster__link_send(struct link *l, uint8_t type, uint8_t flags, uint64_t rid, const void *p,
                   size_t len)
{
	uint8_t h[PROTO_HDR_LEN];
	if (len + 10 > PROTO_FRAME_MAX || l->conn == NULL || conn_closing(l->conn))
		return -1;
	wire_be32(h, (uint32_t)(len + 10));
	h[4] = type;
	h[5] = flags;
	wire_be64(h + 6, rid);
	if (conn_write(l->conn, h, sizeof(h)) != 0 || conn_write(l->conn, p, len) != 0)
		return -1;
	return 0;
}

static void
link_send_hello(struct link *l)
{
	struct nbuf b;
	struct wire_writer w;
	nbuf_init(&b, 1024);
	wire_writer_init(&w, &b);
	wire_put_u32(&w, PROTO_MAGIC);
	wire_put_u8(&w, (uint8_t)l->kind);
	wire_put_u64(&w, l->cl->self_id);
	wire_put_str(&w, l->cl->self_address, strlen(l->cl->self_address));
	cluster__link_send(l, PROTO_HELLO, 0, 0, nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
}

/* --- raft bridge ----------------------------------------------------- */

static int
bridge_open(struct link *l, uv_stream_t **raft_stream_r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
		return -1;
	uv_pipe_t *p = raft_malloc(sizeof(*p));
	if (p == NULL) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	uv_pipe_init(l->cl->loop, p, 0);
	if (uv_pipe_open(p, sv[0]) != 0) {
		close(sv[0]);
		close(sv[1]);
		raft_free(p);
		return -1;
	}
	l->pipe = conn_open_fd(sv[1], &pipe_handler, l, LINK_IN_LIMIT, "raft-pipe");
	if (l->pipe == NULL) {
		uv_close((uv_handle_t *)p, (uv_close_cb)raft_free);
		return -1;
	}
	l->refs++;
	conn_start(l->pipe);
	*raft_stream_r = (uv_stream_t *)p;
	return 0;
}

/* Move bytes from one side to the other; stop reading a side whose
 * counterpart is backed up. */
static void
bridge_pump(struct conn *from, struct conn *to)
{
	if (to == NULL || conn_closing(to)) {
		nbuf_reset(&from->in);
		return;
	}
	size_t n = nbuf_avail(&from->in);
	if (n > 0 && conn_write(to, nbuf_head(&from->in), n) == 0)
		nbuf_consume(&from->in, n);
	if (conn_pending(to) > CONN_HIGH_WATER)
		conn_pause(from);
}

static void
pipe_on_read(struct conn *c)
{
	struct link *l = c->data;
	bridge_pump(c, l->conn);
}

static void
pipe_on_drain(struct conn *c)
{
	struct link *l = c->data;
	if (l->conn)
		conn_resume(l->conn);
}

static void
pipe_on_close(struct conn *c)
{
	struct link *l = c->data;
	l->pipe = NULL;
	if (l->conn)
		conn_close(l->conn); /* raft closed its end */
	cluster__link_unref(l);
}

static const struct conn_handler pipe_handler = {
        .on_read = pipe_on_read,
        .on_drain = pipe_on_drain,
        .on_close = pipe_on_close,
};

/* --- link lifecycle -------------------------------------------------- */

struct link *
cluster__link_new(struct cluster *cl, int outgoing, int kind)
{
	struct link *l = xcalloc(1, sizeof(*l));
	l->cl = cl;
	l->outgoing = outgoing;
	l->kind = kind;
	l->next = cl->links;
	cl->links = l;
	return l;
}

void
cluster__link_unref(struct link *l)
{
	if (--l->refs > 0 || l->resolving)
		return;
	struct cluster *cl = l->cl;
	for (struct link **pp = &cl->links; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	free(l->peer_addr);
	free(l);
}

void
cluster__link_fail(struct link *l, const char *why)
{
	if (l->dead)
		return;
	l->dead = 1;
	if (why)
		log_debug("cluster", "event=link-down peer=%llu kind=%d reason=\"%s\"",
		          (unsigned long long)l->peer_id, l->kind, why);
	if (l->raft_req) {
		struct raft_uv_connect *req = l->raft_req;
		l->raft_req = NULL;
		l->raft_cb(req, NULL, l->cl->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
	}
	if (l->peer && l->peer->rpc == l) {
		l->peer->rpc = NULL;
		l->peer->retry_after = now_mono_ms() + PEER_RETRY_MS;
	}
	while (l->pending) {
		struct pending *p = l->pending;
		l->pending = p->next;
		cluster__pending_defer_fail(l->cl, p, -ECONNRESET);
	}
	for (struct cluster_call *c = l->calls; c; c = c->next)
		c->link = NULL;
	l->calls = NULL;
	if (l->conn)
		conn_close(l->conn);
	if (l->pipe)
		conn_close(l->pipe);
}

static void
link_on_close(struct conn *c)
{
	struct link *l = c->data;
	l->conn = NULL;
	cluster__link_fail(l, "closed");
	cluster__link_unref(l);
}

/* --- RPC ------------------------------------------------------------- */

void
cluster__link_flush_pending(struct link *l)
{
	for (struct pending *p = l->pending; p; p = p->next) {
		if (p->sent)
			continue;
		if (cluster__link_send(l, p->type, 0, p->rid, p->payload, p->len) != 0) {
			cluster__link_fail(l, "send failed");
			return;
		}
		p->sent = 1;
		free(p->payload);
		p->payload = NULL;
	}
}

static void
link_handle_frame(struct link *l, uint8_t type, uint8_t flags, uint64_t rid, const uint8_t *p,
                  size_t len)
{
	struct cluster *cl = l->cl;
	if (flags & PROTO_F_REPLY) {
		for (struct pending **pp = &l->pending; *pp; pp = &(*pp)->next) {
			struct pending *q = *pp;
			if (q->rid != rid)
				continue;
			*pp = q->next;
			q->cb(q->arg, 0, type, p, len);
			cluster__pending_free(q);
			return;
		}
		return; /* timed out already */
	}
	struct cluster_call *call = xcalloc(1, sizeof(*call));
	call->link = l;
	call->rid = rid;
	call->next = l->calls;
	l->calls = call;
	cl->on_request(cl->arg, call, l->peer_id, type, p, len);
}

static void
link_handle_hello(struct link *l, const uint8_t *p, size_t len)
{
	struct wire_reader r;
	wire_reader_init(&r, p, len);
	uint32_t magic = wire_get_u32(&r);
	uint8_t kind = wire_get_u8(&r);
	uint64_t id = wire_get_u64(&r);
	uint16_t alen;
	const char *addr = wire_get_str(&r, 300, &alen);
	uint64_t cert_id = cluster_cn_id(conn_tls_peer_cn(l->conn));
	if (wire_done(&r) != 0 || magic != PROTO_MAGIC ||
	    (kind != PROTO_KIND_RAFT && kind != PROTO_KIND_RPC) || id == 0 || id != cert_id) {
		log_warn("cluster", "event=hello-refused peer=%s cert_id=%llu claimed=%llu",
		         l->conn->peer, (unsigned long long)cert_id, (unsigned long long)id);
		cluster__link_fail(l, "bad hello");
		return;
	}
	l->kind = kind;
	l->peer_id = id;
	l->peer_addr = xstrndup(addr, alen);
	l->up = 1;
	if (kind == PROTO_KIND_RAFT) {
		uv_stream_t *s;
		if (l->cl->raft_accept == NULL || bridge_open(l, &s) != 0) {
			cluster__link_fail(l, "raft not listening");
			return;
		}
		l->cl->raft_accept(&l->cl->transport, id, l->peer_addr, s);
	}
}

static void
link_on_read(struct conn *c)
{
	struct link *l = c->data;
	if (l->kind == PROTO_KIND_RAFT && l->up) {
		bridge_pump(c, l->pipe);
		return;
	}
	while (!l->dead && nbuf_avail(&c->in) >= 4) {
		const uint8_t *h = nbuf_head(&c->in);
		uint32_t flen = wire_rd32(h);
		if (flen < 10 || flen > PROTO_FRAME_MAX) {
			cluster__link_fail(l, "bad frame length");
			return;
		}
		if (nbuf_avail(&c->in) < 4 + (size_t)flen)
			return;
		uint8_t type = h[4], flags = h[5];
		uint64_t rid = wire_rd64(h + 6);
		const uint8_t *payload = h + PROTO_HDR_LEN;
		size_t plen = flen - 10;
		if (!l->up) {
			if (l->outgoing || type != PROTO_HELLO) {
				cluster__link_fail(l, "expected hello");
				return;
			}
			link_handle_hello(l, payload, plen);
			nbuf_consume(&c->in, 4 + (size_t)flen);
			if (l->kind == PROTO_KIND_RAFT && l->up) {
				bridge_pump(c, l->pipe); /* raft bytes right behind it */
				return;
			}
			continue;
		}
		link_handle_frame(l, type, flags, rid, payload, plen);
		nbuf_consume(&c->in, 4 + (size_t)flen);
	}
}

static void
link_on_drain(struct conn *c)
{
	struct link *l = c->data;
	if (l->pipe)
		conn_resume(l->pipe);
}

static void
link_on_tls(struct conn *c)
{
	struct link *l = c->data;
	if (!l->outgoing)
		return;
	uint64_t id = cluster_cn_id(conn_tls_peer_cn(c));
	/* Peer 0 is "any node of the cluster" (a joining node knows only an
	 * address): the CA signature is then the whole check. */
	if (id == 0 || (l->peer_id != 0 && id != l->peer_id)) {
		log_warn("cluster", "event=wrong-peer expected=%llu got=%llu addr=%s",
		         (unsigned long long)l->peer_id, (unsigned long long)id, c->peer);
		cluster__link_fail(l, "certificate names another node");
		return;
	}
	if (l->peer_id == 0)
		l->peer_id = id;
	link_send_hello(l);
	l->up = 1;
	if (l->kind == PROTO_KIND_RAFT) {
		uv_stream_t *s;
		if (bridge_open(l, &s) != 0) {
			cluster__link_fail(l, "socketpair");
			return;
		}
		struct raft_uv_connect *req = l->raft_req;
		l->raft_req = NULL;
		l->raft_cb(req, s, 0);
	} else {
		cluster__link_flush_pending(l);
	}
}

const struct conn_handler cluster__link_handler = {
        .on_read = link_on_read,
        .on_drain = link_on_drain,
        .on_tls = link_on_tls,
        .on_close = link_on_close,
};

static void
link_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct link *l = req->data;
	l->resolving = 0;
	if (status != 0 || res == NULL || l->dead || l->cl->closing) {
		if (res)
			uv_freeaddrinfo(res);
		l->refs++; /* balance cluster__link_unref below */
		cluster__link_fail(l, status ? uv_strerror(status) : "cancelled");
		cluster__link_unref(l);
		return;
	}
	l->conn = conn_connect(res->ai_addr, &cluster__link_handler, l, LINK_IN_LIMIT,
	                       l->kind == PROTO_KIND_RAFT ? "raft" : "cluster");
	uv_freeaddrinfo(res);
	l->refs++;
	conn_start_tls(l->conn, l->cl->client_ctx, 0);
}

struct link *
cluster__link_connect(struct cluster *cl, uint64_t id, const char *address, int kind)
{
	struct link *l = cluster__link_new(cl, 1, kind);
	l->peer_id = id;
	l->peer_addr = xstrdup(address);
	char host[ADDR_HOST_MAX];
	int port;
	const char *err;
	if (addr_split(address, host, &port, &err) != 0)
		return l; /* fails when used; dead link */
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	l->gai.data = l;
	l->resolving = 1;
	if (uv_getaddrinfo(cl->loop, &l->gai, link_resolved_cb, host, service, &hints) != 0)
		l->resolving = 0;
	return l;
}
