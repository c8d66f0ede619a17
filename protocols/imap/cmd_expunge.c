/*
 * cmd_expunge: EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (UIDPLUS,
 * RFC 4315 §2.1).
 *
 * Happy path: one CMD_MSG_EXPUNGE (every \Deleted message, or the
 * \Deleted ones among the UIDs) goes through the replicated log; the reply
 * then reports the expunges like any other change (view.c), so this
 * session's and other sessions' expunges are told the same way, each
 * "* n EXPUNGE" with the number valid when the client reads it.
 *
 * With QRESYNC enabled the expunges are one VANISHED response and the
 * tagged OK carries HIGHESTMODSEQ (RFC 7162 §3.2.7, §3.2.9).
 *
 * Failure modes: a read-only mailbox -> NO [READ-ONLY]; no quorum -> NO
 * [UNAVAILABLE]. With nothing \Deleted no log entry is made.
 */
#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

static void
expunge_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	enum cmd_status st = rs->r[0].status;
	bool expunged = rs->r[0].nset1 > 0;
	cmd_results_free(&rs);
	if (st != CMD_OK) {
		imap__cmd_status_no(s, st, "EXPUNGE");
		return;
	}
	imap__ok_expunged(s, expunged, "EXPUNGE completed");
}

void
imap__cmd_expunge(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct uid_range *ranges = NULL;
	uint32_t nr = 0;
	const char *err;
	if (cmd->argc != (cmd->uid ? 1u : 0u)) {
		imap__bad(s,
		          cmd->uid ? "UID EXPUNGE takes a UID set" : "EXPUNGE takes no arguments");
		return;
	}
	if (s->sel->readonly) {
		imap__no(s, IMAP_CODE_READONLY, "Mailbox is read-only");
		return;
	}
	if (cmd->uid) {
		uint32_t *seqs, n;
		if (imap__view_select(s, &cmd->args[0], true, &seqs, &n, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
		nr = imap__view_ranges(s, seqs, n, &ranges);
		if (n > 0 && (nr == 0 || nr > CMD_RANGES_MAX)) {
			imap__no(s, IMAP_CODE_LIMIT, "Message set too large");
			return;
		}
		if (n == 0) {
			imap__ok(s, IMAP_CODE_NONE, "EXPUNGE completed (no messages)");
			return;
		}
	}
	/* Nothing \Deleted: no log entry, but the reply still reports. */
	struct store_txn *t;
	struct store_mailbox m;
	int deleted = 1;
	if (store_read_begin(imap__store(), &t) == 0) {
		deleted = store_mailbox_by_id(t, s->sel->id, &m) != 1 || m.deleted > 0;
		store_read_end(&t);
	}
	if (!deleted) {
		imap__ok(s, IMAP_CODE_NONE, "EXPUNGE completed");
		return;
	}
	struct cmd c = {.type = CMD_MSG_EXPUNGE,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .uidvalidity = s->sel->uidvalidity,
	                .mode = cmd->uid ? EXPUNGE_UIDS_DELETED : EXPUNGE_ALL_DELETED,
	                .ranges = {.n = nr, .v = ranges}};
	if (imap__submit_one(s, &c, expunge_done) != 0)
		imap__no(s, IMAP_CODE_LIMIT, "Request too large");
}
