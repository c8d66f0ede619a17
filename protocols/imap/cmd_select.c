/*
 * cmd_select: entering and leaving the selected state: SELECT and EXAMINE
 * (RFC 3501 §6.3.1-2), CLOSE (§6.4.2), UNSELECT (RFC 3691), CHECK
 * (§6.4.1).
 *
 * Happy path: SELECT looks the mailbox up; when it holds messages nobody
 * has seen yet (first_recent_uid < UIDNEXT) it claims them as \Recent for
 * this session through the replicated log (CMD_MAILBOX_CLAIM_RECENT: the
 * first session on any node to claim them gets them, RFC 3501 §2.3.2),
 * then builds the session's view in one read transaction and answers
 * FLAGS, PERMANENTFLAGS, EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ (RFC 7162 §3.1.2.1: every mailbox keeps MODSEQs, so
 * NOMODSEQ is never sent), MAILBOXID (RFC 8474 §4.3) and [READ-WRITE].
 * EXAMINE claims nothing and answers [READ-ONLY]. Parameters (RFC 4466
 * §2.1): CONDSTORE enables CONDSTORE (RFC 7162 §3.1.8); QRESYNC then
 * reports what changed since the client's MODSEQ (condstore.c). A SELECT
 * that closes a selected mailbox says so first with "* OK [CLOSED]"
 * (RFC 7162 §3.2.11).
 * XXX RFC 3501 §2.3.2: messages that arrive while a mailbox is selected
 * are not claimed by that session (that would be a log write per delivery
 * and session); they stay \Recent for the next SELECT.
 *
 * Failure modes: bad parameters (condstore.c) -> BAD, the selected
 * mailbox staying selected; no such mailbox -> NO [NONEXISTENT], and a
 * session that had a mailbox selected is left in the authenticated state
 * (§6.3.1, after "* OK [CLOSED]"); a
 * claim that cannot be made (no quorum) is not an error: the mailbox is
 * selected without \Recent messages.
 */
#include <stdio.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/mutf7.h"
#include "replication/repl.h"

struct select_op {
	uint32_t mailbox_id;
	uint32_t claim_uid;
	bool readonly;
	struct imap_select_params params;
};

void
imap__mailboxid_format(char *buf, size_t n, uint32_t id, uint32_t uidvalidity)
{
	/* objectid (RFC 8474 §7); the id never changes with a RENAME and is
	 * never given to another mailbox; the UIDVALIDITY makes it unique
	 * across a restored index too. */
	snprintf(buf, n, "M%08x%08x", id, uidvalidity);
}

static void
select_finish(struct imap_session *s, uint32_t recent_lo, uint32_t recent_hi)
{
	struct select_op *op = s->op;
	struct store_txn *t;
	struct store_mailbox m;
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	int rc = store_mailbox_by_id(t, op->mailbox_id, &m);
	if (rc != 1 || m.user_id != s->user_id) {
		store_read_end(&t);
		imap__no(s, IMAP_CODE_NONEXISTENT, "Mailbox does not exist");
		return;
	}
	uint32_t unseen;
	if (imap__view_open(s, t, &m, op->readonly, recent_lo, recent_hi, &unseen) != 0) {
		store_read_end(&t);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	struct cmd_str names[CMD_KEYWORDS_MAX];
	int nk = store_keywords_get(t, m.id, names, CMD_KEYWORDS_MAX);
	if (nk < 0)
		nk = 0;
	imap__flags_announce(s, names, (size_t)nk, op->readonly);
	s->sel->nkeywords = (uint32_t)nk;
	imap__untagged(s, "%u EXISTS", s->sel->count);
	if (s->flags & IMAP_SF_REV2) {
		/* RFC 9051 §6.3.2: no RECENT, no UNSEEN code; a LIST response */
		struct nbuf line;
		nbuf_init(&line, 4 * SCHEMA_NAME_MAX + 256);
		nbuf_puts(&line, "* LIST (");
		size_t mark = nbuf_avail(&line);
		imap__special_use_write(&line, m.special_use, false);
		if (nbuf_avail(&line) > mark) { /* drop the leading space */
			unsigned char *h = nbuf_head(&line);
			memmove(h + mark, h + mark + 1, nbuf_avail(&line) - mark - 1);
			line.len--;
		}
		nbuf_puts(&line, ") \".\" ");
		imap__mailbox_write(s, m.name, &line);
		nbuf_puts(&line, "\r\n");
		imap__write(s, nbuf_head(&line), nbuf_avail(&line));
		nbuf_deinit(&line);
	} else {
		imap__untagged(s, "%u RECENT", s->sel->nrecent);
		if (unseen)
			imap__untagged(s, "OK [UNSEEN %u] First unseen", unseen);
	}
	imap__untagged(s, "OK [UIDVALIDITY %u] UIDs valid", m.uidvalidity);
	imap__untagged(s, "OK [UIDNEXT %u] Predicted next UID", m.uidnext);
	imap__untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)m.highestmodseq);
	char id[32];
	imap__mailboxid_format(id, sizeof(id), m.id, m.uidvalidity);
	imap__untagged(s, "OK [MAILBOXID (%s)] Ok", id);
	/* The names stay valid until the transaction ends. */
	rc = imap__qresync_report(s, t, &op->params, names, (size_t)nk);
	store_read_end(&t);
	if (rc != 0) {
		imap__view_close(s);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	log_debug("imap", "event=select user=%s mailbox=%s messages=%u readonly=%d", s->user,
	          s->sel->name, s->sel->count, op->readonly);
	imap__ok(s, op->readonly ? IMAP_CODE_READONLY : IMAP_CODE_READWRITE, "%s completed",
	         op->readonly ? "EXAMINE" : "SELECT");
}

static void
select_claimed(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct select_op *op = s->op;
	uint32_t lo = 0, hi = 0;
	if (status == REPL_OK && rs != NULL && rs->n == 1 && rs->r[0].status == CMD_OK &&
	    rs->r[0].uid < op->claim_uid) {
		lo = rs->r[0].uid;
		hi = op->claim_uid;
	} else if (status != REPL_OK) {
		log_info("imap", "event=recent-claim-failed user=%s mailbox=%u status=%d", s->user,
		         op->mailbox_id, status);
	}
	cmd_results_free(&rs);
	select_finish(s, lo, hi);
}

void
imap__cmd_select(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err;
	bool examine = strcmp(cmd->name, "EXAMINE") == 0;
	struct imap_select_params params;
	memset(&params, 0, sizeof(params));
	if (cmd->argc < 1 || cmd->argc > 2) {
		imap__bad(s, "%s takes one mailbox name and optional parameters", cmd->name);
		return;
	}
	if (cmd->argc == 2 && imap__select_params(s, &cmd->args[1], &params, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	/* §6.3.1: a SELECT deselects first, whatever its outcome; RFC 7162
	 * §3.2.11: the CLOSED response code marks where the old mailbox's
	 * responses end. */
	if (s->sel) {
		imap__view_close(s);
		imap__untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (params.condstore || params.qresync)
		imap__condstore_enable(s);
	struct store_mailbox m;
	if (imap__mailbox_lookup(s, &cmd->args[0], IMAP_CODE_NONEXISTENT, &m) != 0)
		return;
	struct select_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL) {
		imap__no(s, IMAP_CODE_SERVERBUG, "Out of memory");
		return;
	}
	op->mailbox_id = m.id;
	op->readonly = examine;
	op->params = params;
	s->op = op;
	if (examine || m.first_recent_uid >= m.uidnext) {
		/* EXAMINE shows what is recent without taking it. */
		select_finish(s, examine ? m.first_recent_uid : 0, examine ? m.uidnext : 0);
		return;
	}
	struct cmd c = {.type = CMD_MAILBOX_CLAIM_RECENT,
	                .user_id = s->user_id,
	                .mailbox_id = m.id,
	                .uid = m.uidnext};
	op->claim_uid = m.uidnext;
	if (imap__submit_one(s, &c, select_claimed) != 0)
		select_finish(s, 0, 0);
}

void
imap__cmd_unselect(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "UNSELECT takes no arguments");
		return;
	}
	imap__view_close(s);
	imap__ok(s, IMAP_CODE_NONE, "UNSELECT completed");
}

static void
close_expunged(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK || rs == NULL || rs->r[0].status != CMD_OK)
		log_warn("imap", "event=close-expunge-failed user=%s status=%d", s->user, status);
	else
		s->nexpunged += rs->r[0].nset1;
	cmd_results_free(&rs);
	imap__view_close(s);
	imap__ok(s, IMAP_CODE_NONE, "CLOSE completed");
}

void
imap__cmd_close(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "CLOSE takes no arguments");
		return;
	}
	struct imap_mailbox *sel = s->sel;
	struct store_txn *t;
	struct store_mailbox m;
	int deleted = 0;
	if (!sel->readonly && store_read_begin(imap__store(), &t) == 0) {
		deleted = store_mailbox_by_id(t, sel->id, &m) == 1 && m.deleted > 0;
		store_read_end(&t);
	}
	if (!deleted) {
		imap__view_close(s);
		imap__ok(s, IMAP_CODE_NONE, "CLOSE completed");
		return;
	}
	/* §6.4.2: expunge silently; no EXPUNGE responses follow. */
	struct cmd c = {.type = CMD_MSG_EXPUNGE,
	                .user_id = s->user_id,
	                .mailbox_id = sel->id,
	                .uidvalidity = sel->uidvalidity,
	                .mode = EXPUNGE_ALL_DELETED};
	if (imap__submit_one(s, &c, close_expunged) != 0)
		close_expunged(s, REPL_ETOOBIG, NULL);
}

void
imap__cmd_check(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "CHECK takes no arguments");
		return;
	}
	s->flags |= IMAP_SF_CHANGED;
	imap__ok(s, IMAP_CODE_NONE, "CHECK completed");
}
