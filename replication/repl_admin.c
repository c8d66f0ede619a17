/*
 * repl_admin: handing leadership away before a stop (SIGTERM on the
 * leader: raft_transfer, then wait until another node leads or give up
 * after REPL_STEP_DOWN_MS), and the node's view of the cluster for health,
 * status and the CLI.
 */
#include "replication/repl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "replication/repl_internal.h"

#define REPL_STEP_DOWN_MS 3000

struct repl_step {
	struct repl *r;
	void (*done)(void *arg);
	void *arg;
	uv_timer_t timer;
	uint64_t deadline;
};

static void
repl_step_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Poll until another node leads, or give up at the deadline. */
static void
repl_step_poll(uv_timer_t *t)
{
	struct repl_step *s = t->data;
	int leading = raft_state(&s->r->raft) == RAFT_LEADER;
	if (leading && now_mono_ms() < s->deadline)
		return;
	if (leading)
		log_warn("repl", "event=step-down-timeout");
	else
		log_info("repl", "event=stepped-down");
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, repl_step_closed);
	if (s->done)
		s->done(s->arg);
}

static void
repl_transfer_cb(struct raft_transfer *req)
{
	struct repl *r = req->data;
	r->transfer_pending = 0;
}

void
repl_step_down(struct repl *r, void (*done)(void *arg), void *arg)
{
	uint64_t voters[16];
	if (!r->started || r->closing || raft_state(&r->raft) != RAFT_LEADER ||
	    repl__voters(r, voters, 16) < 2 || r->transfer_pending) {
		if (done)
			done(arg);
		return;
	}
	r->transfer.data = r;
	if (raft_transfer(&r->raft, &r->transfer, 0, repl_transfer_cb) != 0) {
		if (done)
			done(arg);
		return;
	}
	r->transfer_pending = 1;
	log_info("repl", "event=transferring-leadership");
	struct repl_step *s = xcalloc(1, sizeof(*s));
	s->r = r;
	s->done = done;
	s->arg = arg;
	s->deadline = now_mono_ms() + REPL_STEP_DOWN_MS;
	uv_timer_init(r->loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, repl_step_poll, 20, 20);
}

int
repl_ready_leader(struct repl *r)
{
	return repl__is_leader(r) && r->leader_ready;
}

/* --- status ---------------------------------------------------------- */

void
repl_status_get(struct repl *r, struct repl_status *s)
{
	memset(s, 0, sizeof(*s));
	s->id = r->id;
	s->applied_index = store_applied_index(r->st);
	s->bodies_missing = store_bodies_missing(r->st);
	s->fatal = r->fatal;
	if (!r->started || r->closing) {
		s->state = "unavailable";
		return;
	}
	int state = raft_state(&r->raft);
	s->state = repl__state_name(state);
	raft_id lid = 0;
	const char *laddr = NULL;
	raft_leader(&r->raft, &lid, &laddr);
	s->leader_id = lid;
	if (laddr)
		snprintf(s->leader_address, sizeof(s->leader_address), "%s", laddr);
	s->term = r->raft.current_term;
	s->commit_index = r->raft.commit_index;
	/* Barrier and configuration entries never reach the store; raft's
	 * count of applied entries includes them. */
	if (raft_last_applied(&r->raft) > s->applied_index)
		s->applied_index = raft_last_applied(&r->raft);
	s->last_index = raft_last_index(&r->raft);
	const struct raft_configuration *c = &r->raft.configuration;
	uint64_t now = r->uvio.time ? r->raft.io->time(r->raft.io) : 0;
	for (unsigned i = 0; i < c->n && s->nmembers < ARRAY_SIZE(s->members); i++) {
		struct repl_member *m = &s->members[s->nmembers++];
		m->id = c->servers[i].id;
		snprintf(m->address, sizeof(m->address), "%s", c->servers[i].address);
		m->role = c->servers[i].role == RAFT_VOTER     ? "voter"
		          : c->servers[i].role == RAFT_STANDBY ? "standby"
		                                               : "spare";
		m->is_leader = m->id == lid;
		m->last_contact_ms = -1;
		if (state == RAFT_LEADER && r->raft.leader_state.progress) {
			const struct raft_progress *pg = &r->raft.leader_state.progress[i];
			m->match_index =
			        m->id == r->id ? raft_last_index(&r->raft) : pg->match_index;
			m->last_contact_ms = m->id == r->id ? 0 : (int64_t)(now - pg->last_send);
		}
	}
}
