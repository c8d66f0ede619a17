/*
 * status: the node's view of its cluster, for /health. See status.h.
 *
 * A node can serve while it knows a leader, has applied what the cluster
 * committed (within health.max_lag entries), holds every body it applied,
 * and its raft storage has not failed.
 */
#include "node/status.h"

#include <stdio.h>
#include <string.h>

#include "node/node.h"
#include "node/store/store.h"
#include "replication/repl.h"

#define STATUS_MAX_LAG_DEFAULT 1000

void
node_status_get(struct node *n, struct node_status *st)
{
	static char lagmsg[96], bodymsg[96];
	memset(st, 0, sizeof(*st));
	st->role = "unavailable";
	if (n->stopping)
		st->reasons[st->nreasons++] = "node is stopping";
	if (n->repl == NULL) {
		st->reasons[st->nreasons++] = "replication not started";
		return;
	}
	struct repl_status rs;
	repl_status_get(n->repl, &rs);
	st->role = rs.state;
	st->leader_id = rs.leader_id;
	st->term = rs.term;
	st->applied_index = rs.applied_index;
	st->commit_index = rs.commit_index;
	if (rs.fatal)
		st->reasons[st->nreasons++] = "raft storage failed; the node is stopping";
	if (rs.leader_id == 0)
		st->reasons[st->nreasons++] = "no leader known";
	uint64_t max_lag = STATUS_MAX_LAG_DEFAULT;
	struct store_txn *t;
	if (n->store && store_read_begin(n->store, &t) == 0) {
		max_lag = store_config_u64(t, "health.max_lag", STATUS_MAX_LAG_DEFAULT);
		store_read_end(&t);
	}
	if (rs.commit_index > rs.applied_index + max_lag) {
		snprintf(lagmsg, sizeof(lagmsg), "applied index %llu lags commit index %llu",
		         (unsigned long long)rs.applied_index, (unsigned long long)rs.commit_index);
		st->reasons[st->nreasons++] = lagmsg;
	}
	if (n->store && store_rebuilding(n->store))
		st->reasons[st->nreasons++] = "rebuilding the index after the machine stopped";
	if (rs.bodies_missing > 0) {
		snprintf(bodymsg, sizeof(bodymsg), "%zu message bodies not yet fetched",
		         rs.bodies_missing);
		st->reasons[st->nreasons++] = bodymsg;
	}
}
