/*
 * repl: the replicated write path. The only way to change mail state:
 *
 *   session -> repl_submit(batch) -> raft log (quorum, fsync)
 *           -> store_apply() on every node -> callback on the submitting node
 *
 * A batch submitted on a follower is forwarded to the leader over the
 * cluster connection. Either way the callback runs on the submitting node
 * only after its own store has applied and committed the batch, so the
 * session reads its own write (read-your-writes). If leadership changes
 * while a batch is in flight, the batch is resubmitted with the same
 * request id until a deadline (apply() takes a request id once); past the
 * deadline the callback reports REPL_EUNAVAILABLE, a temporary failure
 * (IMAP NO [UNAVAILABLE], LMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]).
 *
 * Owner: the node creates one repl (replication/repl.c) after the store;
 * node_repl() returns it. Everything here runs on the loop thread.
 */
#ifndef MAILNODE_REPL_H
#define MAILNODE_REPL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "node/net/listener.h"
#include "node/store/cmd.h"

struct repl;
struct repl_req;

#define REPL_OK           0
#define REPL_EUNAVAILABLE (-1) /* no leader, or the outcome could not be learnt in time */
#define REPL_ESHUTDOWN    (-2) /* the node is stopping */
#define REPL_ETOOBIG      (-3) /* the batch exceeds what one entry may hold */

/* status REPL_OK: rs holds one result per command of the batch (the
 * callback owns it and frees it with cmd_results_free). Otherwise rs is
 * NULL. */
typedef void (*repl_submit_cb)(void *arg, int status, struct cmd_results *rs);

/* Submit a batch. The batch's bytes are copied; the caller may deinit it
 * at once. The callback is called exactly once, never from inside
 * repl_submit. Returns a handle usable with repl_cancel until the callback
 * has run. */
struct repl_req *repl_submit(struct repl *r, const struct cmd_batch *b, repl_submit_cb cb,
                             void *arg);
/* The caller is going away: its callback will not be called. The batch
 * itself may still be applied (it may be in the log already). */
void repl_cancel(struct repl_req *req);

/* The repl of this process (NULL before the node started it). */
struct repl *node_repl(void);

/* --- lifecycle (the node) ------------------------------------------- */

struct store;
struct stager;

struct repl_params {
	uv_loop_t *loop;
	struct store *st;
	struct stager *stager; /* stages received and fetched bodies */
	uint64_t id;
	const char *address;         /* this node's cluster address, as peers reach it */
	const char *data_dir;        /* raft log in <data_dir>/raft, certs in cluster/ */
	unsigned snapshot_threshold; /* 0: default */
	unsigned snapshot_trailing;  /* 0: default */
	void (*on_fatal)(void *arg, const char *why);
	void *arg;
};

/* Paths of the cluster's TLS files under a data directory. */
#define REPL_CA_CERT   "cluster/ca.crt"
#define REPL_CA_KEY    "cluster/ca.key"
#define REPL_NODE_CERT "cluster/node.crt"
#define REPL_NODE_KEY  "cluster/node.key"

int repl_create(const struct repl_params *p, struct repl **r_r, const char **error_r);
/* Start raft (loads the log, replays it through the store). */
int repl_start(struct repl *r, const char **error_r);
/* Stop: fail what is pending (REPL_ESHUTDOWN), close raft, the cluster
 * links and the repl's handles; done() runs when raft is closed. Run the
 * loop until it ends before repl_free. */
void repl_stop(struct repl *r, void (*done)(void *arg), void *arg);
void repl_free(struct repl **r);
/* The accept callback and its data for the cluster listener. */
void repl_cluster_accept(struct listener *l, uv_stream_t *server);
void *repl_cluster_listener_data(struct repl *r);
/* Ask to hand leadership away before stopping (SIGTERM on the leader).
 * done() runs when a transfer completed, was not needed, or timed out. */
void repl_step_down(struct repl *r, void (*done)(void *arg), void *arg);

/* `mailnode init`: create <data_dir>/raft with a configuration holding
 * only this node as a voter. Returns 0 or -1 with *error_r. */
int repl_bootstrap(const char *data_dir, uint64_t id, const char *address, const char **error_r);
/* Whether <data_dir>/raft holds a raft log already. */
int repl_initialised(const char *data_dir);
/* Whether this node leads and has committed its first barrier. */
int repl_ready_leader(struct repl *r);

/* --- bodies beside the log ------------------------------------------- */

/* Push a body to the other voters and call cb(arg, 0) once enough of them
 * hold it durably that, with this node's own copy, a majority does; or
 * cb(arg, REPL_EUNAVAILABLE) if that cannot happen within the deadline. A
 * single node completes at once (from the loop). The body is read from
 * path (the file is opened in this call, so it may be renamed after), or
 * from blobs/staged/<hash> if path is NULL. Making this node's copy durable
 * is the caller's part, and may run at the same time. */
typedef void (*repl_body_cb)(void *arg, int status);
struct repl_body_req;
struct repl_body_req *repl_body_push(struct repl *r, const uint8_t hash[CMD_HASH_LEN],
                                     uint64_t size, const char *path, repl_body_cb cb, void *arg);
void repl_body_cancel(struct repl_body_req *req);

/* --- the node's view, for health, status and the CLI ----------------- */

struct repl_member {
	uint64_t id;
	char address[300];
	const char *role; /* "voter", "standby", "spare" */
	int is_leader;
	int64_t last_contact_ms; /* leader's view; -1 unknown */
	uint64_t match_index;    /* leader's view */
};

struct repl_status {
	const char *state; /* "leader", "follower", "candidate", "unavailable" */
	uint64_t id;
	uint64_t leader_id;
	char leader_address[300];
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index; /* the store's */
	uint64_t last_index;
	size_t bodies_missing;
	int fatal;
	size_t nmembers;
	struct repl_member members[16];
};

void repl_status_get(struct repl *r, struct repl_status *s_r);

/* Membership operations, on the leader or forwarded to it. cb gets 0 or a
 * negative status and a human message. */
typedef void (*repl_op_cb)(void *arg, int status, const char *message);
void repl_member_add(struct repl *r, uint64_t id, const char *address, repl_op_cb cb, void *arg);
void repl_member_remove(struct repl *r, uint64_t id, repl_op_cb cb, void *arg);
void repl_transfer(struct repl *r, uint64_t id, repl_op_cb cb, void *arg);
/* A node started with an empty log asks the node at peer_address (any
 * member) to add it as a voter. */
void repl_join(struct repl *r, const char *peer_address, repl_op_cb cb, void *arg);
/* The leader's status as JSON text (the caller frees it), fetched from the
 * leader when this node is a follower. */
void repl_status_json(struct repl *r, void (*cb)(void *arg, char *json), void *arg);

#endif
