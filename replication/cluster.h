/*
 * cluster: the authenticated links between nodes, over mutual TLS on the
 * cluster port. Every node's certificate is signed by the cluster CA and
 * names the node ("node-<id>"); a connection without one is refused by the
 * TLS handshake, before any byte reaches raft or the RPC parser.
 *
 * Two kinds of link share the port; the client says which in its HELLO:
 *   - raft: after HELLO the link is a byte pipe into raft_uv, which gets
 *     one end of a socketpair (raft 0.15's own TCP transport takes numeric
 *     IPv4 only and trusts every length field, so it is never exposed);
 *   - rpc: framed requests and responses (replication/proto.h) for write
 *     forwarding, body push and fetch, membership and status.
 *
 * The cluster object is also the raft_uv_transport given to raft_uv_init.
 * Owner: the repl. Everything runs on the loop thread.
 */
#ifndef MAILNODE_REPL_CLUSTER_H
#define MAILNODE_REPL_CLUSTER_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>

#include "node/net/listener.h"

struct cluster;
struct cluster_call;
struct tls_ctx;

/* Response to a request: status 0 with the reply frame's type and payload,
 * or a negative status (link lost, timeout) with no payload. */
typedef void (*cluster_reply_cb)(void *arg, int status, uint8_t type, const uint8_t *p, size_t len);
/* A request arrived; answer it (now or later) with cluster_reply. */
typedef void (*cluster_request_cb)(void *arg, struct cluster_call *call, uint64_t from,
                                   uint8_t type, const uint8_t *p, size_t len);

struct cluster_params {
	uv_loop_t *loop;
	uint64_t self_id;
	const char *self_address;
	const char *ca_file;   /* cluster CA */
	const char *cert_file; /* this node's certificate, CN node-<id> */
	const char *key_file;
	cluster_request_cb on_request;
	void *arg;
};

int cluster_create(const struct cluster_params *p, struct cluster **cl_r, const char **error_r);
/* Close every link; safe to free after the loop ran the close callbacks. */
void cluster_shutdown(struct cluster *cl);
void cluster_free(struct cluster **cl);

/* The raft_uv_transport to give raft_uv_init. */
struct raft_uv_transport *cluster_transport(struct cluster *cl);
/* Accept callback for the cluster listener (l->data is the cluster). */
void cluster_accept(struct listener *l, uv_stream_t *server);

/* Tell the cluster where a peer is (from raft's configuration). */
void cluster_peer_set(struct cluster *cl, uint64_t id, const char *address);
/* Send a request to a peer over its RPC link (connecting if needed).
 * cb is called exactly once (never from inside this call). Returns 0, or
 * -1 if the peer is unknown (cb is then not called). */
int cluster_request(struct cluster *cl, uint64_t peer, uint8_t type, const void *p, size_t len,
                    uint32_t timeout_ms, cluster_reply_cb cb, void *arg);
/* Answer a request. Payload copied. The call is gone afterwards. */
void cluster_reply(struct cluster_call *call, uint8_t type, const void *p, size_t len);
/* Bytes queued on the link a call came in on (for streaming answers). */
size_t cluster_call_pending(const struct cluster_call *call);

/* Parse "node-<id>". Returns the id or 0. */
uint64_t cluster_cn_id(const char *cn);

#endif
