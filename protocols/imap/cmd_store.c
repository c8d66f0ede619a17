/*
 * cmd_store: STORE and UID STORE (RFC 3501 §6.4.6, §6.4.8): FLAGS,
 * +FLAGS, -FLAGS with .SILENT, system flags and keywords.
 *
 * Happy path: the message set becomes UID ranges of the session's view,
 * one CMD_MSG_STORE goes through the replicated log (with the view's
 * UIDVALIDITY, so that a recreated mailbox is not touched), then the reply
 * reports, in this order, other sessions' flag changes (never expunges,
 * §7.4.1), and unless .SILENT the current FLAGS of every message of the
 * set as untagged FETCH (with UID for UID STORE).
 *
 * Failure modes: syntax -> BAD; a read-only (EXAMINEd) mailbox -> NO
 * [READ-ONLY]; the mailbox's 64 keywords in use -> NO [LIMIT]; no quorum
 * -> NO [UNAVAILABLE]. Messages expunged meanwhile are skipped.
 */
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

struct store_op {
	uint32_t *seqs;
	uint32_t n;
	bool silent;
};

static void
store_report(struct imap_session *s, struct store_op *op)
{
	struct store_txn *t;
	struct cmd_str names[CMD_KEYWORDS_MAX];
	if (store_read_begin(imap__store(), &t) != 0)
		return;
	int nk = store_keywords_get(t, s->sel->id, names, CMD_KEYWORDS_MAX);
	if (nk < 0)
		nk = 0;
	if ((uint32_t)nk > s->sel->nkeywords) {
		imap__flags_announce(s, names, (size_t)nk, s->sel->readonly);
		s->sel->nkeywords = (uint32_t)nk;
	}
	struct nbuf line;
	nbuf_init(&line, 64 * 1024);
	for (uint32_t i = 0; i < op->n; i++) {
		struct store_msg m;
		uint32_t uid = imap__view_uid(s, op->seqs[i]);
		if (store_msg_get(t, s->sel->id, uid, &m) != 1)
			continue;
		nbuf_reset(&line);
		nbuf_printf(&line, "* %u FETCH (FLAGS ", op->seqs[i]);
		imap__flags_write(&line, m.flags, m.keywords, names, (size_t)nk,
		                  imap__view_recent(s, uid));
		if (s->cmd->uid)
			nbuf_printf(&line, " UID %u", uid);
		nbuf_puts(&line, ")\r\n");
		imap__write(s, nbuf_head(&line), nbuf_avail(&line));
		if (imap__output_full(s))
			conn_flush(s->conn); /* the client reads; bounded by CONN_OUT_MAX */
	}
	nbuf_deinit(&line);
	store_read_end(&t);
}

static void
store_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct store_op *op = s->op;
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status != CMD_OK) {
		enum cmd_status st = r->status;
		cmd_results_free(&rs);
		imap__cmd_status_no(s, st, "STORE");
		return;
	}
	uint64_t mine = r->nset1 > 0 ? r->modseq : 0;
	cmd_results_free(&rs);
	imap__view_sync(s, s->cmd->uid ? IMAP_SYNC_UID : 0, mine);
	if (!op->silent && !conn_closing(s->conn))
		store_report(s, op);
	imap__ok(s, IMAP_CODE_NONE, "STORE completed");
}

void
imap__cmd_store(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *item, *err;
	uint8_t mode;
	bool silent = false;
	if (cmd->argc < 3 || !imap_arg_get_atom(&cmd->args[1], &item)) {
		imap__bad(s, "STORE takes a message set, an item and flags");
		return;
	}
	const char *p = item;
	mode = *p == '+' ? STORE_ADD : *p == '-' ? STORE_REMOVE : STORE_REPLACE;
	if (*p == '+' || *p == '-')
		p++;
	if (ascii_strcasecmp(p, "FLAGS.SILENT") == 0)
		silent = true;
	else if (ascii_strcasecmp(p, "FLAGS") != 0) {
		imap__bad(s, "Unknown STORE item (CONDSTORE modifiers are not supported)");
		return;
	}
	/* Flags: one list, or flags as separate atoms. */
	uint32_t flags = 0, nnames = 0;
	const char **names;
	if (cmd->argc == 3) {
		if (imap__flags_parse(s, &cmd->args[2], &flags, &names, &nnames, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
	} else {
		const char **more;
		uint32_t f, nm;
		if (imap__flags_parse(s, &cmd->args[2], &flags, &names, &nnames, &err) != 0) {
			imap__bad(s, "%s", err);
			return;
		}
		for (size_t i = 3; i < cmd->argc; i++) {
			if (cmd->args[i].type == IMAP_ARG_LIST ||
			    imap__flags_parse(s, &cmd->args[i], &f, &more, &nm, &err) != 0) {
				imap__bad(s, "Invalid flag");
				return;
			}
			flags |= f;
			for (uint32_t k = 0; k < nm && nnames < CMD_KEYWORDS_MAX; k++)
				names[nnames++] = more[k];
		}
	}
	if (s->sel->readonly) {
		imap__no(s, IMAP_CODE_READONLY, "Mailbox is read-only");
		return;
	}
	struct store_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL) {
		imap__no(s, IMAP_CODE_LIMIT, "Out of memory");
		return;
	}
	if (imap__view_select(s, &cmd->args[0], cmd->uid, &op->seqs, &op->n, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	op->silent = silent;
	s->op = op;
	if (op->n == 0) {
		imap__ok(s, IMAP_CODE_NONE, "STORE completed (no messages)");
		return;
	}
	struct uid_range *ranges;
	uint32_t nr = imap__view_ranges(s, op->seqs, op->n, &ranges);
	if (nr == 0 || nr > CMD_RANGES_MAX) {
		imap__no(s, IMAP_CODE_LIMIT, "Message set too large");
		return;
	}
	struct node *n = node_get();
	struct cmd_batch b;
	struct cmd c = {.type = CMD_MSG_STORE,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .uidvalidity = s->sel->uidvalidity,
	                .ranges = {.n = nr, .v = ranges},
	                .mode = mode,
	                .flags = flags,
	                .keywords = {.n = nnames, .v = names}};
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	if (cmd_batch_add(&b, &c) != 0) {
		cmd_batch_deinit(&b);
		imap__no(s, IMAP_CODE_LIMIT, "Request too large");
		return;
	}
	imap__submit(s, &b, store_done);
	cmd_batch_deinit(&b);
}
