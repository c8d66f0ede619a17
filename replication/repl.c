/*
 * repl: canonical raft under the store. See repl.h.
 *
 * raft_uv keeps the log in <data>/raft on the node's loop; its transport
 * is the cluster's mutual-TLS links; its I/O goes through the fail-stop
 * guard; its FSM is the store. Guards for libraft 0.15 (see the project's
 * notes): pre-vote on; a barrier whenever this node becomes leader (0.15
 * appends no no-op, so entries of earlier terms would otherwise wait for a
 * new write); fail-stop on any local raft I/O error.
 *
 * Each loop iteration ends (uv_check) by committing what raft applied
 * during it (one LMDB commit for many entries) and then proposing the
 * submissions queued during it (one raft entry for many batches).
 */
#include "replication/repl.h"

#include "replication/proto.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/metrics.h"
#include "replication/repl_internal.h"

#define REPL_SNAPSHOT_THRESHOLD 16384
#define REPL_SNAPSHOT_TRAILING  4096

static struct repl *the_repl;

struct repl *
node_repl(void)
{
	return the_repl;
}

const char *
repl__state_name(int state)
{
	switch (state) {
	case RAFT_LEADER:
		return "leader";
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_CANDIDATE:
		return "candidate";
	default:
		return "unavailable";
	}
}

int
repl__is_leader(struct repl *r)
{
	return r->started && !r->closing && raft_state(&r->raft) == RAFT_LEADER;
}

uint64_t
repl__leader(struct repl *r)
{
	raft_id id = 0;
	const char *addr = NULL;
	if (!r->started || r->closing)
		return 0;
	raft_leader(&r->raft, &id, &addr);
	return id;
}

size_t
repl__voters(struct repl *r, uint64_t *ids, size_t max)
{
	size_t n = 0;
	const struct raft_configuration *c = &r->raft.configuration;
	for (unsigned i = 0; i < c->n && n < max; i++)
		if (c->servers[i].role == RAFT_VOTER)
			ids[n++] = c->servers[i].id;
	return n;
}

static void
repl_fatal(void *arg, const char *why)
{
	struct repl *r = arg;
	if (r->fatal)
		return;
	r->fatal = 1;
	log_error("repl", "event=fail-stop reason=\"%s\"", why);
	if (r->on_fatal)
		r->on_fatal(r->fatal_arg, why);
}

/* Only here to make poll return at once: the check handle works. */
static void
repl_idle_cb(uv_idle_t *h)
{
}

void
repl__wake(struct repl *r)
{
	if (!r->closing && !uv_is_active((uv_handle_t *)&r->idle))
		uv_idle_start(&r->idle, repl_idle_cb);
}

static void
repl_fsm_applied(void *arg)
{
	repl__wake(arg);
}

static void repl_fsync_start(struct repl *r);

static void
repl_fsync_done(struct stage_req *q, int rc)
{
	struct repl *r = (struct repl *)((char *)q - offsetof(struct repl, fsync_req));
	r->fsync_inflight = 0;
	if (rc != 0) {
		repl_fatal(r, "cannot flush the data directory");
		return;
	}
	store_fileops_synced(r->st, r->fsync_upto);
	if (!r->closing)
		repl_fsync_start(r);
}

/* Make what apply wrote to directories durable: the flush of the stager's
 * next group covers it (one flush for bodies and file operations). One at
 * a time. */
static void
repl_fsync_start(struct repl *r)
{
	uint64_t upto = store_fileops_pending(r->st);
	if (r->fsync_inflight || upto == 0 || r->fatal)
		return;
	r->fsync_inflight = 1;
	r->fsync_upto = upto;
	memset(&r->fsync_req, 0, sizeof(r->fsync_req));
	r->fsync_req.cb = repl_fsync_done;
	stager_submit(r->stager, &r->fsync_req);
}

/* End of a loop iteration: commit, then propose. */
static void
repl_check_cb(uv_check_t *h)
{
	struct repl *r = h->data;
	if (store_pending(r->st) > 0 && !r->fatal) {
		int rc = store_commit(r->st);
		if (rc != 0)
			repl_fatal(r, "cannot commit the index");
		else
			repl_fsync_start(r);
	}
	if (!r->fatal) {
		repl__bodies_flush(r);
		repl__submit_flush(r);
	}
	uv_idle_stop(&r->idle);
}

static void
repl_barrier_cb(struct raft_barrier *req, int status)
{
	struct repl *r = req->data;
	r->barrier_pending = 0;
	if (status == 0 && raft_state(&r->raft) == RAFT_LEADER) {
		r->leader_ready = 1;
		log_info("repl", "event=leader-ready term=%llu index=%llu",
		         (unsigned long long)r->raft.current_term,
		         (unsigned long long)raft_last_applied(&r->raft));
	}
}

/* A rebuild of the index (store_rebuilding) is over once every entry the
 * log held at start is applied; a tail a new leader replaced is over when
 * this node applied all it holds. */
static void
repl_rebuild_check(struct repl *r)
{
	if (!store_rebuilding(r->st) || r->fatal)
		return;
	uint64_t applied = raft_last_applied(&r->raft);
	if (applied < r->rebuild_upto && applied < raft_last_index(&r->raft))
		return;
	if (store_rebuild_finish(r->st) != 0)
		repl_fatal(r, "cannot finish rebuilding the index");
}

static void
repl_tick_cb(uv_timer_t *t)
{
	struct repl *r = t->data;
	if (r->closing)
		return;
	int state = raft_state(&r->raft);
	uint64_t leader = repl__leader(r);
	if (state != r->last_state || leader != r->last_leader) {
		log_info("repl", "event=role-changed role=%s leader=%llu term=%llu",
		         repl__state_name(state), (unsigned long long)leader,
		         (unsigned long long)r->raft.current_term);
		if (state == RAFT_LEADER && r->last_state != RAFT_LEADER) {
			/* Guard: commit entries of earlier terms now, not at the
			 * next write (libraft 0.15 appends no no-op). */
			r->leader_ready = 0;
			r->leader_since_ms = now_mono_ms();
			r->barrier.data = r;
			if (!r->barrier_pending &&
			    raft_barrier(&r->raft, &r->barrier, repl_barrier_cb) == 0)
				r->barrier_pending = 1;
		}
		if (state != RAFT_LEADER)
			r->leader_ready = 0;
		r->last_state = state;
		r->last_leader = leader;
		repl__wake(r);
	}
	repl_rebuild_check(r);
	repl__peers_refresh(r);
	repl__submit_tick(r);
	repl__bodies_tick(r);
	uint64_t now = now_mono_ms();
	if (now >= r->gc_at_ms) {
		store_body_gc(r->st, 3600);
		r->gc_at_ms = now + 600 * 1000;
	}
}

static int64_t
metric_term(void *arg)
{
	struct repl *r = arg;
	return r->started ? (int64_t)r->raft.current_term : 0;
}

static int64_t
metric_commit(void *arg)
{
	struct repl *r = arg;
	return r->started ? (int64_t)r->raft.commit_index : 0;
}

static int64_t
metric_applied(void *arg)
{
	struct repl *r = arg;
	return (int64_t)store_applied_index(r->st);
}

static int64_t
metric_leader(void *arg)
{
	return repl__is_leader(arg) ? 1 : 0;
}

static int64_t
metric_missing(void *arg)
{
	struct repl *r = arg;
	return (int64_t)store_bodies_missing(r->st);
}

static int64_t
metric_snapshots(void *arg)
{
	struct repl *r = arg;
	return (int64_t)r->fsm.snapshots;
}

static int64_t
metric_snapshot_bytes(void *arg)
{
	struct repl *r = arg;
	return (int64_t)r->fsm.snapshot_bytes;
}

static void
repl_metrics(struct repl *r)
{
	metric_gauge_fn("mailnode_raft_term", NULL, "Current raft term", metric_term, r);
	metric_gauge_fn("mailnode_raft_commit_index", NULL, "Raft commit index", metric_commit, r);
	metric_gauge_fn("mailnode_raft_applied_index", NULL, "Index applied to the store",
	                metric_applied, r);
	metric_gauge_fn("mailnode_raft_leader", NULL, "1 while this node is the leader",
	                metric_leader, r);
	metric_gauge_fn("mailnode_bodies_missing", NULL, "Message bodies waiting to be fetched",
	                metric_missing, r);
	metric_gauge_fn("mailnode_snapshots_taken", NULL, "Raft snapshots taken", metric_snapshots,
	                r);
	metric_gauge_fn("mailnode_snapshot_bytes", NULL, "Size of the last snapshot",
	                metric_snapshot_bytes, r);
}

static void
repl_on_request(void *arg, struct cluster_call *call, uint64_t from, uint8_t type, const uint8_t *p,
                size_t len)
{
	struct repl *r = arg;
	switch (type) {
	case PROTO_FWD:
		repl__forward_request(r, call, p, len);
		return;
	case PROTO_BODY_PUT:
	case PROTO_BODY_GET:
		repl__bodies_request(r, call, from, type, p, len);
		return;
	default:
		repl__members_request(r, call, type, p, len);
		return;
	}
}

int
repl_create(const struct repl_params *p, struct repl **r_r, const char **error_r)
{
	static char err[512];
	struct repl *r = xcalloc(1, sizeof(*r));
	r->loop = p->loop;
	r->st = p->st;
	r->stager = p->stager;
	r->id = p->id;
	r->address = xstrdup(p->address);
	r->data_dir = xstrdup(p->data_dir);
	r->raft_dir = xasprintf("%s/raft", p->data_dir);
	r->on_fatal = p->on_fatal;
	r->fatal_arg = p->arg;
	r->last_state = -1;

	char *ca = xasprintf("%s/%s", p->data_dir, REPL_CA_CERT);
	char *cert = xasprintf("%s/%s", p->data_dir, REPL_NODE_CERT);
	char *key = xasprintf("%s/%s", p->data_dir, REPL_NODE_KEY);
	struct cluster_params cp = {
	        .loop = p->loop,
	        .self_id = p->id,
	        .self_address = p->address,
	        .ca_file = ca,
	        .cert_file = cert,
	        .key_file = key,
	        .on_request = repl_on_request,
	        .arg = r,
	};
	int rc = cluster_create(&cp, &r->cl, error_r);
	free(ca);
	free(cert);
	free(key);
	if (rc != 0)
		goto err_after_alloc;

	if (mkdir_p(r->raft_dir, 0700) == 0) /* a joining node starts with an empty log */
		dir_nocow(r->raft_dir);
	rc = raft_uv_init(&r->uvio, p->loop, r->raft_dir, cluster_transport(r->cl));
	if (rc != 0) {
		snprintf(err, sizeof(err), "raft: %s", r->uvio.errmsg);
		*error_r = err;
		goto err_after_cluster;
	}
	repl_guard_init(&r->guard, &r->uvio, repl_fatal, r);
	repl_fsm_init(&r->fsm, p->st);
	r->fsm.on_fatal = repl_fatal;
	r->fsm.on_apply = repl_fsm_applied;
	r->fsm.arg = r;
	rc = raft_init(&r->raft, &r->guard.io, &r->fsm.fsm, p->id, p->address);
	if (rc != 0) {
		snprintf(err, sizeof(err), "raft: %s", raft_errmsg(&r->raft));
		*error_r = err;
		raft_uv_close(&r->uvio);
		goto err_after_cluster;
	}
	r->raft_inited = 1;
	r->raft.data = r;
	r->fsm.raft = &r->raft;
	raft_set_pre_vote(&r->raft, true);
	raft_set_snapshot_threshold(&r->raft, p->snapshot_threshold ? p->snapshot_threshold
	                                                            : REPL_SNAPSHOT_THRESHOLD);
	raft_set_snapshot_trailing(&r->raft, p->snapshot_trailing ? p->snapshot_trailing
	                                                          : REPL_SNAPSHOT_TRAILING);

	struct store_hooks hooks = {
	        .applied = repl__applied,
	        .body_missing = repl__body_missing,
	        .arg = r,
	};
	store_set_hooks(p->st, &hooks);
	uv_check_init(p->loop, &r->check);
	r->check.data = r;
	uv_idle_init(p->loop, &r->idle);
	r->idle.data = r;
	uv_timer_init(p->loop, &r->tick);
	r->tick.data = r;
	uv_timer_init(p->loop, &r->notify_timer);
	r->notify_timer.data = r;
	repl_metrics(r);
	the_repl = r;
	*r_r = r;
	return 0;
err_after_cluster:
	cluster_shutdown(r->cl);
	cluster_free(&r->cl);
err_after_alloc:
	free(r->address);
	free(r->data_dir);
	free(r->raft_dir);
	free(r);
	return -1;
}

int
repl_start(struct repl *r, const char **error_r)
{
	static char err[512];
	int rc = raft_start(&r->raft);
	if (rc != 0) {
		snprintf(err, sizeof(err), "raft: cannot start: %s", raft_errmsg(&r->raft));
		*error_r = err;
		return -1;
	}
	r->started = 1;
	uv_check_start(&r->check, repl_check_cb);
	uv_timer_start(&r->tick, repl_tick_cb, 0, REPL_TICK_MS);
	/* Entries replayed by raft_start are committed now. */
	if (store_pending(r->st) > 0 && store_commit(r->st) != 0) {
		*error_r = "cannot commit the replayed log";
		return -1;
	}
	store_bodies_missing_report(r->st);
	r->rebuild_upto = raft_last_index(&r->raft);
	if (store_rebuilding(r->st))
		log_info("repl", "event=index-rebuild-started upto=%llu applied=%llu",
		         (unsigned long long)r->rebuild_upto,
		         (unsigned long long)store_applied_index(r->st));
	log_info("repl", "event=started id=%llu address=%s applied=%llu", (unsigned long long)r->id,
	         r->address, (unsigned long long)store_applied_index(r->st));
	return 0;
}

struct repl_stop {
	struct repl *r;
	void (*done)(void *arg);
	void *arg;
};

static void
repl_close_handles(struct repl *r)
{
	uv_close((uv_handle_t *)&r->tick, NULL);
	uv_close((uv_handle_t *)&r->notify_timer, NULL);
	uv_close((uv_handle_t *)&r->check, NULL);
	uv_close((uv_handle_t *)&r->idle, NULL);
}

static void
repl_raft_closed(struct raft *raft)
{
	struct repl *r = raft->data;
	struct repl_stop *s = r->stopping;
	raft_uv_close(&r->uvio);
	cluster_shutdown(r->cl);
	repl_close_handles(r);
	/* Commit what raft applied while closing. */
	store_commit(r->st);
	if (s) {
		void (*done)(void *) = s->done;
		void *arg = s->arg;
		free(s);
		r->stopping = NULL;
		if (done)
			done(arg);
	}
}

void
repl_stop(struct repl *r, void (*done)(void *arg), void *arg)
{
	if (r->closing)
		return;
	r->closing = 1;
	uv_timer_stop(&r->tick);
	uv_timer_stop(&r->notify_timer);
	uv_check_stop(&r->check);
	uv_idle_stop(&r->idle);
	repl__submit_shutdown(r);
	repl__bodies_shutdown(r);
	store_set_hooks(r->st, NULL);
	struct repl_stop *s = xmalloc(sizeof(*s));
	s->r = r;
	s->done = done;
	s->arg = arg;
	if (!r->raft_inited) {
		cluster_shutdown(r->cl);
		repl_close_handles(r);
		free(s);
		if (done)
			done(arg);
		return;
	}
	r->stopping = s;
	raft_close(&r->raft, repl_raft_closed);
}

void
repl_free(struct repl **pr)
{
	struct repl *r = *pr;
	if (r == NULL)
		return;
	/* repl_stop closed the handles; the loop has run their closing.
	 * Requests made after the stop were never answered: their owners
	 * are gone too. */
	repl__submit_free(r);
	repl__bodies_free(r);
	cluster_free(&r->cl);
	free(r->address);
	free(r->data_dir);
	free(r->raft_dir);
	if (the_repl == r)
		the_repl = NULL;
	free(r);
	*pr = NULL;
}

void
repl_cluster_accept(struct listener *l, uv_stream_t *server)
{
	cluster_accept(l, server);
}

void *
repl_cluster_listener_data(struct repl *r)
{
	return r->cl;
}
