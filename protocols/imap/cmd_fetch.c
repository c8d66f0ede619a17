/*
 * cmd_fetch: FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8, §7.4.2): the
 * session's side of the FETCH engine (fetch.h).
 *
 * Happy path: the items are parsed into a plan once; a FETCH that sets
 * \Seen (a non-PEEK body section, §6.4.5) first stores \Seen on the
 * messages that lack it through the replicated log, so that the FLAGS the
 * engine writes are the stored ones. Then, message by message, the session
 * gathers what imap_fetch_needs() asks for (the store record, the
 * mailbox's keyword names, \Recent, the cached MIME tree, the message
 * mapped from its body file), asks the engine for the response segments,
 * and writes them: text at once, file ranges in chunks while the output
 * stays under the high-water mark. When the client does not read, the
 * FETCH waits for on_drain; after IMAP_RUN_MSGS_MAX messages or
 * IMAP_RUN_BYTES_MAX bytes it yields the loop to other sessions. Read
 * transactions are short: one per run, never held across a wait.
 *
 * CONDSTORE (RFC 7162 §3.1.4): MODSEQ or CHANGEDSINCE make the session
 * CONDSTORE-aware; with CHANGEDSINCE the set is first narrowed to the
 * messages the MODSEQ index lists as changed since (the work is the number
 * of changes, not the size of the set); UID FETCH's VANISHED modifier
 * (§3.2.6) reports the set's UIDs expunged since in one "* VANISHED
 * (EARLIER)" before any FETCH response.
 *
 * Failure modes: bad items or set -> BAD; messages expunged by another
 * session meanwhile are skipped and the reply is NO [EXPUNGEISSUED]
 * (RFC 5530 §3); a body this node does not hold yet -> NO [UNAVAILABLE].
 * No EXPUNGE is sent during FETCH (§7.4.1).
 *
 * BINARY (RFC 3516): a decoded segment is decoded again as it is sent, a
 * FETCH_CHUNK_MIN piece at a time under the same back-pressure as a file
 * range; a part with an unknown encoding is left out and the reply is NO
 * [UNKNOWN-CTE] (§4.3).
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/cmd_fetch.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

static void fetch_run(struct imap_session *s);

static void
fetch_release(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	if (op == NULL)
		return;
	imap__fetch_msg_done(op);
	arena_deinit(&op->marena);
	s->op_release = NULL;
}

static void
fetch_finish(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	uint32_t expunged = op->expunged, missing = op->missing, unknown_cte = op->unknown_cte;
	uint64_t seen_modseq = op->seen_modseq;
	fetch_release(s);
	imap__view_sync(s, s->cmd->uid ? IMAP_SYNC_UID : 0, seen_modseq);
	if (unknown_cte > 0)
		imap__no_code(s, "UNKNOWN-CTE",
		              "Cannot decode the Content-Transfer-Encoding of a part");
	else if (expunged > 0)
		imap__no(s, IMAP_CODE_EXPUNGEISSUED,
		         "Some of the requested messages no longer exist");
	else if (missing > 0)
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Some messages cannot be read now, try again");
	else
		imap__ok(s, IMAP_CODE_NONE, "FETCH completed");
}

static void
fetch_run(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	struct store_txn *t = NULL;
	uint64_t bytes = 0;
	uint32_t msgs = 0;
	for (;;) {
		if (conn_closing(s->conn))
			break;
		if (op->have_msg) {
			if (!imap__fetch_write(s, op, &bytes)) {
				store_read_end(&t);
				s->cont = fetch_run;
				s->wait = IMAP_W_STREAM;
				conn_pause(s->conn);
				return;
			}
			imap__fetch_msg_done(op);
			s->nfetched++;
			op->i++;
			msgs++;
		}
		if (op->i >= op->n)
			break;
		if (msgs >= IMAP_RUN_MSGS_MAX || bytes >= IMAP_RUN_BYTES_MAX) {
			store_read_end(&t);
			imap__defer(s, fetch_run);
			return;
		}
		if (t == NULL && store_read_begin(imap__store(), &t) != 0) {
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
		int rc = imap__fetch_prepare(s, op, t, op->seqs[op->i]);
		if (rc < 0) {
			store_read_end(&t);
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
		if (rc == 0)
			op->i++;
	}
	store_read_end(&t);
	if (conn_closing(s->conn)) {
		fetch_release(s);
		return;
	}
	fetch_finish(s);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
fetch_seen_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct fetch_op *op = s->op;
	if (status != REPL_OK) {
		fetch_release(s);
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status == CMD_OK && r->nset1 > 0) {
		op->seen = arena_alloc(imap__arena(s), r->nset1 * sizeof(*op->seen));
		if (op->seen != NULL) {
			memcpy(op->seen, r->set1, r->nset1 * sizeof(*op->seen));
			op->nseen = r->nset1;
			qsort(op->seen, op->nseen, sizeof(*op->seen), u32_cmp);
			op->seen_modseq = r->modseq;
		}
	}
	cmd_results_free(&rs);
	fetch_run(s);
}

/* Store \Seen on the set's messages that lack it. Returns 1 when a batch
 * was submitted, 0 when there is nothing to set, -1 on error. */
static int
fetch_set_seen_submit(struct imap_session *s, struct fetch_op *op)
{
	struct store_txn *t;
	struct arena *a = imap__arena(s);
	uint32_t *unseen = arena_alloc(a, op->n * sizeof(*unseen)), k = 0;
	if (unseen == NULL || store_read_begin(imap__store(), &t) != 0)
		return -1;
	for (uint32_t i = 0; i < op->n; i++) {
		struct store_msg m;
		if (store_msg_get(t, s->sel->id, imap__view_uid(s, op->seqs[i]), &m) == 1 &&
		    !(m.flags & MSG_SEEN))
			unseen[k++] = op->seqs[i];
	}
	store_read_end(&t);
	if (k == 0)
		return 0;
	struct uid_range *ranges;
	uint32_t nr = imap__view_ranges(s, unseen, k, &ranges);
	if (nr == 0 || nr > CMD_RANGES_MAX)
		return -1;
	struct cmd c = {.type = CMD_MSG_STORE,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .uidvalidity = s->sel->uidvalidity,
	                .ranges = {.n = nr, .v = ranges},
	                .mode = STORE_ADD,
	                .flags = MSG_SEEN};
	if (imap__submit_one(s, &c, fetch_seen_done) != 0)
		return -1;
	return 1;
}

void
imap__cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err = "Invalid FETCH arguments";
	struct arena *a = imap__arena(s);
	if (cmd->argc < 2) {
		imap__bad(s, "FETCH takes a message set and items");
		return;
	}
	struct fetch_op *op = arena_zalloc(a, sizeof(*op));
	if (op == NULL) {
		imap__bad(s, "Out of memory");
		return;
	}
	unsigned enabled = imap__fetch_enabled(s);
	if (imap_fetch_parse(a, &cmd->args[1], cmd->uid, enabled, &op->plan, &err) != 0) {
		imap__bad(s, "%s", err ? err : "Invalid FETCH items");
		return;
	}
	if (imap__view_select(s, &cmd->args[0], cmd->uid, &op->seqs, &op->n, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	op->needs = imap_fetch_needs(op->plan);
	if (op->needs & FETCH_ENABLES_CONDSTORE)
		imap__condstore_enable(s);
	uint64_t since;
	int vanished;
	if (imap_fetch_changedsince(op->plan, &since, &vanished)) {
		struct store_txn *t = NULL;
		int rc = store_read_begin(imap__store(), &t);
		if (rc == 0 && vanished)
			rc = imap__fetch_vanished(s, t, &cmd->args[0], since);
		if (rc == 0 && op->n > 0)
			rc = imap__changed_since(s, t, since, &op->seqs, &op->n);
		store_read_end(&t);
		if (rc != 0) {
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
	}
	arena_init(&op->marena, FETCH_MSG_ARENA_MAX);
	s->op = op;
	s->op_release = fetch_release;
	if (op->n == 0) {
		fetch_finish(s);
		return;
	}
	if ((op->needs & FETCH_SETS_SEEN) && !s->sel->readonly) {
		int rc = fetch_set_seen_submit(s, op);
		if (rc < 0) {
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot set \\Seen now");
			return;
		}
		if (rc == 1)
			return; /* fetch_seen_done goes on */
	}
	fetch_run(s);
}
