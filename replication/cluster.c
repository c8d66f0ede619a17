/*
 * cluster: mutual-TLS links between nodes. See cluster.h and proto.h.
 *
 * This file: the raft transport (raft's connect and accept become links,
 * cluster_link.c), the peers and their RPC links, requests with deadlines
 * and their replies, creation and shutdown. Failures are reported to
 * callbacks from the sweep timer, never re-entrantly.
 */
#include "replication/cluster.h"

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

struct link;

uint64_t
cluster_cn_id(const char *cn)
{
	uint64_t id;
	if (cn == NULL || strncmp(cn, "node-", 5) != 0 || parse_u64(cn + 5, UINT64_MAX, &id) != 0)
		return 0;
	return id;
}

void
cluster__pending_free(struct pending *p)
{
	free(p->payload);
	free(p);
}

/* Report a request's failure from the sweep, not from the caller's stack. */
void
cluster__pending_defer_fail(struct cluster *cl, struct pending *p, int status)
{
	p->status = status;
	p->next = cl->failed;
	cl->failed = p;
	if (!cl->closing)
		uv_timer_start(&cl->sweep, cluster__sweep_cb, 0, 0);
}

/* --- raft transport -------------------------------------------------- */

static int
transport_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	return 0;
}

static int
transport_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct cluster *cl = t->impl;
	cl->raft_accept = cb;
	return 0;
}

static int
transport_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                  const char *address, raft_uv_connect_cb cb)
{
	struct cluster *cl = t->impl;
	if (cl->closing)
		return RAFT_CANCELED;
	struct link *l = cluster__link_connect(cl, id, address, PROTO_KIND_RAFT);
	if (!l->resolving) {
		l->refs++;
		cluster__link_fail(l, "bad address");
		cluster__link_unref(l);
		return RAFT_NOCONNECTION;
	}
	l->raft_req = req;
	l->raft_cb = cb;
	return 0;
}

static void
transport_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct cluster *cl = t->impl;
	cl->raft_accept = NULL;
	for (struct link *l = cl->links; l; l = l->next)
		if (l->kind == PROTO_KIND_RAFT)
			cluster__link_fail(l, NULL);
	if (cb)
		cb(t);
}

struct raft_uv_transport *
cluster_transport(struct cluster *cl)
{
	return &cl->transport;
}

/* --- accept ---------------------------------------------------------- */

void
cluster_accept(struct listener *ls, uv_stream_t *server)
{
	struct cluster *cl = ls->data;
	struct link *l = cluster__link_new(cl, 0, 0);
	l->refs = 1;
	l->conn = conn_accept(server, 0, &cluster__link_handler, l, LINK_IN_LIMIT, "cluster");
	if (l->conn == NULL) {
		cluster__link_unref(l);
		return;
	}
	if (cl->closing) {
		cluster__link_fail(l, NULL);
		return;
	}
	/* Mutual TLS: the handshake refuses anyone without a certificate
	 * from the cluster CA, before a byte of theirs is parsed. */
	conn_start_tls(l->conn, cl->server_ctx, 1);
	conn_set_timeout(l->conn, 0);
	conn_start(l->conn);
}

/* --- requests -------------------------------------------------------- */

static struct cluster_peer *
peer_find(struct cluster *cl, uint64_t id)
{
	for (struct cluster_peer *p = cl->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

void
cluster_peer_set(struct cluster *cl, uint64_t id, const char *address)
{
	struct cluster_peer *p = peer_find(cl, id);
	if (p && strcmp(p->address, address) == 0)
		return;
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->id = id;
		p->next = cl->peers;
		cl->peers = p;
	} else {
		free(p->address);
		if (p->rpc)
			cluster__link_fail(p->rpc, "address changed");
	}
	p->address = xstrdup(address);
}

int
cluster_request(struct cluster *cl, uint64_t peer_id, uint8_t type, const void *payload, size_t len,
                uint32_t timeout_ms, cluster_reply_cb cb, void *arg)
{
	struct cluster_peer *peer = peer_find(cl, peer_id);
	if (peer == NULL || peer_id == cl->self_id)
		return -1;
	struct pending *p = xcalloc(1, sizeof(*p));
	p->rid = ++cl->next_rid;
	p->deadline = now_mono_ms() + timeout_ms;
	p->cb = cb;
	p->arg = arg;
	p->type = type;
	if (cl->closing || (peer->rpc == NULL && now_mono_ms() < peer->retry_after) ||
	    len + 10 > PROTO_FRAME_MAX) {
		cluster__pending_defer_fail(cl, p, -ECONNREFUSED);
		return 0;
	}
	if (peer->rpc == NULL) {
		peer->rpc = cluster__link_connect(cl, peer->id, peer->address, PROTO_KIND_RPC);
		peer->rpc->peer = peer;
		if (!peer->rpc->resolving) {
			struct link *l = peer->rpc;
			l->refs++;
			cluster__link_fail(l, "bad address");
			cluster__link_unref(l);
			cluster__pending_defer_fail(cl, p, -ECONNREFUSED);
			return 0;
		}
	}
	struct link *l = peer->rpc;
	p->payload = xmalloc(len ? len : 1);
	memcpy(p->payload, payload, len);
	p->len = len;
	p->next = l->pending;
	l->pending = p;
	if (l->up)
		cluster__link_flush_pending(l);
	return 0;
}

void
cluster_reply(struct cluster_call *call, uint8_t type, const void *p, size_t len)
{
	struct link *l = call->link;
	if (l != NULL) {
		for (struct cluster_call **pp = &l->calls; *pp; pp = &(*pp)->next) {
			if (*pp == call) {
				*pp = call->next;
				break;
			}
		}
		if (cluster__link_send(l, type, PROTO_F_REPLY, call->rid, p, len) != 0)
			cluster__link_fail(l, "reply failed");
	}
	free(call);
}

size_t
cluster_call_pending(const struct cluster_call *call)
{
	return call->link && call->link->conn ? conn_pending(call->link->conn) : 0;
}

void
cluster__sweep_cb(uv_timer_t *t)
{
	struct cluster *cl = t->data;
	struct pending *failed = cl->failed;
	cl->failed = NULL;
	while (failed) {
		struct pending *p = failed;
		failed = p->next;
		p->cb(p->arg, p->status, 0, NULL, 0);
		cluster__pending_free(p);
	}
	uint64_t now = now_mono_ms();
	for (struct link *l = cl->links; l; l = l->next) {
		for (struct pending **pp = &l->pending; *pp;) {
			struct pending *p = *pp;
			if (now < p->deadline) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			p->cb(p->arg, -ETIMEDOUT, 0, NULL, 0);
			cluster__pending_free(p);
		}
	}
	if (!cl->closing)
		uv_timer_start(&cl->sweep, cluster__sweep_cb, RPC_SWEEP_MS, 0);
}

/* --- creation -------------------------------------------------------- */

int
cluster_create(const struct cluster_params *p, struct cluster **cl_r, const char **error_r)
{
	struct cluster *cl = xcalloc(1, sizeof(*cl));
	cl->loop = p->loop;
	cl->self_id = p->self_id;
	cl->self_address = xstrdup(p->self_address);
	cl->on_request = p->on_request;
	cl->arg = p->arg;
	if (tls_ctx_create_server(p->cert_file, p->key_file, p->ca_file, &cl->server_ctx,
	                          error_r) != 0 ||
	    tls_ctx_create_client(p->cert_file, p->key_file, p->ca_file, &cl->client_ctx,
	                          error_r) != 0) {
		tls_ctx_free(&cl->server_ctx);
		free(cl->self_address);
		free(cl);
		return -1;
	}
	cl->transport.impl = cl;
	cl->transport.init = transport_init;
	cl->transport.listen = transport_listen;
	cl->transport.connect = transport_connect;
	cl->transport.close = transport_close;
	uv_timer_init(cl->loop, &cl->sweep);
	cl->sweep.data = cl;
	uv_timer_start(&cl->sweep, cluster__sweep_cb, RPC_SWEEP_MS, 0);
	*cl_r = cl;
	return 0;
}

void
cluster_shutdown(struct cluster *cl)
{
	if (cl->closing)
		return;
	cl->closing = 1;
	cl->raft_accept = NULL;
	for (struct link *l = cl->links; l; l = l->next)
		cluster__link_fail(l, NULL);
	/* Report what failed, then stop the timer. */
	cluster__sweep_cb(&cl->sweep);
	uv_timer_stop(&cl->sweep);
	uv_close((uv_handle_t *)&cl->sweep, NULL);
}

void
cluster_free(struct cluster **pcl)
{
	struct cluster *cl = *pcl;
	if (cl == NULL)
		return;
	while (cl->peers) {
		struct cluster_peer *p = cl->peers;
		cl->peers = p->next;
		free(p->address);
		free(p);
	}
	/* Links left here have no connections any more. */
	while (cl->links) {
		struct link *l = cl->links;
		cl->links = l->next;
		free(l->peer_addr);
		free(l);
	}
	tls_ctx_free(&cl->server_ctx);
	tls_ctx_free(&cl->client_ctx);
	free(cl->self_address);
	free(cl);
	*pcl = NULL;
}
