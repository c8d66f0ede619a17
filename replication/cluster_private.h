/*
 * cluster_private: what cluster.c (transport, requests, creation) and
 * cluster_link.c (one TLS link: frames, raft bridge, HELLO) share.
 */
#ifndef MAILNODE_REPL_CLUSTER_PRIVATE_H
#define MAILNODE_REPL_CLUSTER_PRIVATE_H

#include <netdb.h>
#include <stdint.h>
#include <uv.h>

#include "node/net/conn.h"
#include "replication/cluster.h"

#define LINK_IN_LIMIT (PROTO_FRAME_MAX + 64 * 1024)
#define LINK_IDLE_MS  0
#define PEER_RETRY_MS 500
#define RPC_SWEEP_MS  100

struct link;

struct cluster_peer {
	struct cluster_peer *next;
	uint64_t id;
	char *address;
	struct link *rpc;
	uint64_t retry_after;
};

struct pending {
	struct pending *next;
	uint64_t rid;
	uint64_t deadline;
	cluster_reply_cb cb;
	void *arg;
	uint8_t type;
	uint8_t *payload; /* kept until sent */
	size_t len;
	int sent;
	int status; /* for deferred failure */
};

struct cluster_call {
	struct cluster_call *next;
	struct link *link;
	uint64_t rid;
};

struct link {
	struct link *next;
	struct cluster *cl;
	struct conn *conn;
	struct conn *pipe; /* raft: our end of the socketpair */
	int refs;          /* conns still open */
	uint64_t peer_id;
	char *peer_addr;
	int kind;
	int outgoing;
	int up;
	struct cluster_peer *peer;
	struct pending *pending;
	struct cluster_call *calls;
	struct raft_uv_connect *raft_req;
	raft_uv_connect_cb raft_cb;
	uv_getaddrinfo_t gai;
	int resolving;
	int dead;
};

struct cluster {
	uv_loop_t *loop;
	uint64_t self_id;
	char *self_address;
	struct tls_ctx *server_ctx;
	struct tls_ctx *client_ctx;
	struct raft_uv_transport transport;
	raft_uv_accept_cb raft_accept;
	struct cluster_peer *peers;
	struct link *links;
	struct pending *failed; /* failures waiting to be reported */
	uv_timer_t sweep;
	uint64_t next_rid;
	cluster_request_cb on_request;
	void *arg;
	int closing;
};

extern const struct conn_handler cluster__link_handler;

struct link *cluster__link_new(struct cluster *cl, int outgoing, int kind);
void cluster__link_unref(struct link *l);
/* Fail the link: pending requests fail, calls lose their link, the
 * connections close. */
void cluster__link_fail(struct link *l, const char *why);
/* Resolve and connect to a peer (asynchronous). */
struct link *cluster__link_connect(struct cluster *cl, uint64_t id, const char *address, int kind);
void cluster__link_flush_pending(struct link *l);
int cluster__link_send(struct link *l, uint8_t type, uint8_t flags, uint64_t rid, const void *p,
                       size_t len);
void cluster__pending_free(struct pending *p);
/* Report a request's failure from the sweep timer, not re-entrantly. */
void cluster__pending_defer_fail(struct cluster *cl, struct pending *p, int status);
void cluster__sweep_cb(uv_timer_t *t);

#endif
