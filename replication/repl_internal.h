/*
 * repl_internal: what the replication files share.
 */
#ifndef MAILNODE_REPL_INTERNAL_H
#define MAILNODE_REPL_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>
#include <stdint.h>
#include <uv.h>

#include "node/stager.h"
#include "node/store/store.h"
#include "replication/cluster.h"
#include "replication/fsm.h"
#include "replication/guard.h"
#include "replication/repl.h"

#define REPL_SUBMIT_DEADLINE_MS 8000
#define REPL_TICK_MS            50
#define REPL_NOTIFY_MS          2
#define REPL_NOTIFY_BUSY_MS     20
#define REPL_REQ_BUCKETS        1024

enum repl_req_state {
	RQ_QUEUED,    /* waiting to be proposed or forwarded */
	RQ_INFLIGHT,  /* in a raft_apply on this leader */
	RQ_FORWARDED, /* sent to the leader, no answer yet */
	RQ_COMMITTED, /* the leader said committed; waiting for our apply */
};

struct repl_req {
	struct repl_req *hnext; /* hash chain */
	struct repl_req *qnext; /* all-requests list */
	struct repl *r;
	uint8_t reqid[CMD_REQID_LEN];
	uint8_t *batch;
	size_t len;
	repl_submit_cb cb;
	void *arg;
	struct cluster_call *fwd_call; /* leader: a follower's forwarded batch */
	uint64_t deadline;
	uint64_t started_us;
	enum repl_req_state state;
	int canceled;
};

struct repl_body_xfer; /* bodies being received */
struct repl_fetch;     /* missing bodies being fetched */

struct repl {
	uv_loop_t *loop;
	struct store *st;
	struct stager *stager;
	uint64_t id;
	char *address;
	char *data_dir;
	char *raft_dir;
	struct cluster *cl;
	struct raft_io uvio;
	struct repl_guard guard;
	struct repl_fsm fsm;
	struct raft raft;
	int raft_inited;
	int started;
	uint64_t rebuild_upto; /* the log's last index at start (store_rebuilding) */
	int closing;
	int fatal;
	void (*on_fatal)(void *arg, const char *why);
	void *fatal_arg;

	uv_check_t check;
	uv_idle_t idle;
	uv_timer_t tick;

	struct repl_req *buckets[REPL_REQ_BUCKETS];
	struct repl_req *reqs; /* every outstanding request */
	size_t nreqs;

	int last_state;
	uint64_t last_leader;
	struct raft_barrier barrier;
	int barrier_pending;
	/* Followers learn a commit index only with raft's next append: when
	 * the leader answered forwarded writes and proposed nothing soon
	 * after, a barrier carries it (repl_submit.c). */
	struct raft_barrier notify;
	int notify_pending;
	uv_timer_t notify_timer;
	uint64_t proposed;       /* raft entries proposed, ever */
	uint64_t proposed_then;  /* ... when forwarded writes were last answered */
	uint64_t proposed_ms;    /* when the last was proposed */
	uint64_t propose_gap_ms; /* from the one before it */
	int leader_ready;
	uint64_t leader_since_ms;

	struct repl_body_xfer *xfers;
	struct repl_fetch *fetches;
	struct repl_body_req *pushes;
	uint64_t gc_at_ms;

	struct raft_transfer transfer;
	int transfer_pending;
	struct repl_stop *stopping;
	/* flushing the file operations apply made (store_fileops_sync) */
	struct stage_req fsync_req; /* a flush riding with the stager's next group */
	int fsync_inflight;
	uint64_t fsync_upto;
};

/* repl_submit.c */
void repl__submit_flush(struct repl *r);
void repl__submit_tick(struct repl *r);
void repl__applied(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs);
void repl__forward_request(struct repl *r, struct cluster_call *call, const uint8_t *p, size_t len);
void repl__submit_shutdown(struct repl *r);
/* Drop what is left without callbacks (after the loop ended). */
void repl__submit_free(struct repl *r);
void repl__wake(struct repl *r);

/* repl_bodies.c */
void repl__body_missing(void *arg, const uint8_t hash[CMD_HASH_LEN]);
void repl__bodies_request(struct repl *r, struct cluster_call *call, uint64_t from, uint8_t type,
                          const uint8_t *p, size_t len);
void repl__bodies_flush(struct repl *r);
void repl__bodies_metrics(void);
char *repl__staged_path(struct repl *r, const uint8_t *hash);
int repl__body_present(struct repl *r, const uint8_t *hash);

/* repl_fetch.c */
void repl__fetch_tick(struct repl *r, uint64_t now);
void repl__fetch_shutdown(struct repl *r);
void repl__fetch_free(struct repl *r);
void repl__bodies_tick(struct repl *r);
void repl__bodies_shutdown(struct repl *r);
/* Free what is left once the loop has ended. */
void repl__bodies_free(struct repl *r);

/* repl_members.c */
void repl__members_request(struct repl *r, struct cluster_call *call, uint8_t type,
                           const uint8_t *p, size_t len);
void repl__peers_refresh(struct repl *r);

/* The voters of the current configuration (ids), this node included. */
size_t repl__voters(struct repl *r, uint64_t *ids, size_t max);
int repl__is_leader(struct repl *r);
const char *repl__state_name(int state);
uint64_t repl__leader(struct repl *r);

#endif
