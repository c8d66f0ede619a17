/*
 * delivery_store: the last stage. Every user still to be served gets one
 * APPEND of the shared body (same hash: the bytes are stored once and
 * linked into each maildir), all in one non-atomic batch so that one
 * user's quota does not hold up another's delivery; only the first APPEND
 * carries the parsed MIME tree (meta). The batch goes through raft
 * (repl_submit); its per-command results, known once this node applied
 * it, become each user's status and UID.
 *
 * Failure modes: the mailbox the filter chose is gone (user deleted
 * since RCPT) → unknown user; the index unreadable, the node stopping or
 * the cluster unable to commit (REPL_EUNAVAILABLE, shutdown) → temporary
 * failure for every user of the batch; CMD_EQUOTA → over quota for that
 * user alone.
 */
#include <stdlib.h>
#include <string.h>

#include "node/delivery_internal.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/msgin.h"
#include "node/node.h"
#include "node/store/store.h"
#include "replication/repl.h"

static enum delivery_status
status_of(enum cmd_status st)
{
	switch (st) {
	case CMD_OK:
		return DELIVERY_OK;
	case CMD_EQUOTA:
		return DELIVERY_EQUOTA;
	case CMD_ENOTFOUND:
		return DELIVERY_EUNKNOWN;
	default:
		return DELIVERY_ETEMP;
	}
}

static void
store_done(void *arg, int status, struct cmd_results *rs)
{
	struct delivery *d = arg;
	d->req = NULL;
	if (status != REPL_OK) {
		log_info("delivery", "event=store-unavailable trace=%s status=%d", d->trace,
		         status);
		delivery__stage_done(d, DELIVERY_ETEMP);
		return;
	}
	uint32_t k = 0;
	for (size_t i = 0; i < d->nusers; i++) {
		struct delivery_user *u = &d->users[i];
		if (!u->in_batch)
			continue;
		if (k >= rs->n) {
			u->status = DELIVERY_ETEMP; /* cannot happen: one result per command */
			continue;
		}
		u->status = status_of(rs->r[k].status);
		u->uid = rs->r[k].uid;
		k++;
	}
	cmd_results_free(&rs);
	delivery__stage_done(d, DELIVERY_OK);
}

/* Map each user's chosen mailbox to its id. Returns 0, or -1 when the
 * index cannot be read. */
static int
mailboxes_resolve(struct delivery *d, struct store *st)
{
	struct store_txn *t;
	if (store_read_begin(st, &t) != 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < d->nusers && rc == 0; i++) {
		struct delivery_user *u = &d->users[i];
		if (u->status != DELIVERY_OK)
			continue;
		struct store_mailbox mb;
		int found = store_mailbox_get(t, u->id, u->mailbox ? u->mailbox : "INBOX", &mb);
		if (found < 0)
			rc = -1;
		else if (found == 0)
			u->status = DELIVERY_EUNKNOWN;
		else
			u->mailbox_id = mb.id;
	}
	store_read_end(&t);
	return rc;
}

void
delivery__stage_store(struct delivery *d)
{
	struct node *n = node_get();
	struct repl *r = node_repl();
	/* A stopping node takes no new writes: after repl_stop a submission
	 * would never be answered. */
	if (n == NULL || r == NULL || n->stopping || mailboxes_resolve(d, n->store) != 0) {
		delivery__stage_done(d, DELIVERY_ETEMP);
		return;
	}
	struct cmd_batch b;
	cmd_batch_init(&b, n->cfg->node_id, 0);
	int64_t now_s = (int64_t)(now_wall_ms() / 1000);
	size_t ncmds = 0;
	for (size_t i = 0; i < d->nusers; i++) {
		struct delivery_user *u = &d->users[i];
		if (u->status != DELIVERY_OK)
			continue;
		struct cmd c;
		msgin_append_cmd(d->body, &c, u->id, u->mailbox_id, 0, now_s, ncmds == 0);
		if (cmd_batch_add(&b, &c) != 0) {
			cmd_batch_deinit(&b);
			log_error("delivery", "event=batch-failed trace=%s users=%zu", d->trace,
			          d->nusers);
			delivery__stage_done(d, DELIVERY_ETEMP);
			return;
		}
		u->in_batch = 1;
		ncmds++;
	}
	if (ncmds == 0) {
		cmd_batch_deinit(&b);
		delivery__stage_done(d, DELIVERY_OK);
		return;
	}
	d->req = repl_submit(r, &b, store_done, d);
	cmd_batch_deinit(&b);
}
