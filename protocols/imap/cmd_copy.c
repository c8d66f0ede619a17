/*
 * cmd_copy: COPY and UID COPY (RFC 3501 §6.4.7) with COPYUID (UIDPLUS,
 * RFC 4315 §3), MOVE and UID MOVE (RFC 6851).
 *
 * Happy path: the set becomes UID ranges of the view; one CMD_MSG_COPY
 * or CMD_MSG_MOVE goes through the replicated log (bodies are shared, the
 * apply links them); its result pairs source and destination UIDs in
 * order, which COPYUID reports. MOVE sends COPYUID in an untagged OK
 * before the source's expunges (RFC 6851 §4.3), then the EXPUNGEs through
 * the reply's sync (one VANISHED with QRESYNC, and HIGHESTMODSEQ in the
 * tagged OK, as for UID EXPUNGE: RFC 7162 §3.2.9), then its tagged OK.
 *
 * Failure modes: no such destination -> NO [TRYCREATE]; over quota -> NO
 * [OVERQUOTA]; MOVE out of a read-only mailbox -> NO [READ-ONLY]; no
 * quorum -> NO [UNAVAILABLE] (nothing was copied, or the retry with the
 * same request id takes effect once).
 */
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

struct copy_op {
	bool move;
};

static void
copy_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct copy_op *op = s->op;
	bool move = op->move;
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status != CMD_OK) {
		enum cmd_status st = r->status;
		cmd_results_free(&rs);
		if (st == CMD_ENOTFOUND)
			imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
		else
			imap__cmd_status_no(s, st, move ? "MOVE" : "COPY");
		return;
	}
	struct nbuf code;
	nbuf_init(&code, 64 * 1024 * 1024);
	if (r->nset1 > 0) {
		nbuf_printf(&code, "COPYUID %u ", r->uidvalidity);
		imap_seqset_format_values(r->set1, r->nset1, &code);
		nbuf_puts(&code, " ");
		imap_seqset_format_values(r->set2, r->nset2, &code);
	}
	nbuf_append(&code, "", 1);
	cmd_results_free(&rs);
	const char *text = (const char *)nbuf_head(&code);
	if (move) {
		bool moved = *text != '\0';
		if (moved) {
			imap__write(s, "* OK [", 6);
			imap__write(s, text, strlen(text));
			imap__write(s, "] Moved\r\n", 9);
		}
		nbuf_deinit(&code);
		imap__ok_expunged(s, moved, "MOVE completed");
		return;
	}
	if (*text)
		imap__ok_code(s, text, "COPY completed");
	else
		imap__ok(s, IMAP_CODE_NONE, "COPY completed");
	nbuf_deinit(&code);
}

void
imap__cmd_copy(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err;
	bool move = strcmp(cmd->name, "MOVE") == 0;
	if (cmd->argc != 2) {
		imap__bad(s, "%s takes a message set and a mailbox", cmd->name);
		return;
	}
	struct copy_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	uint32_t *seqs, n;
	if (op == NULL || imap__view_select(s, &cmd->args[0], cmd->uid, &seqs, &n, &err) != 0) {
		imap__bad(s, "%s", op ? err : "Out of memory");
		return;
	}
	op->move = move;
	s->op = op;
	if (move && s->sel->readonly) {
		imap__no(s, IMAP_CODE_READONLY, "Mailbox is read-only");
		return;
	}
	struct store_mailbox m;
	if (imap__mailbox_lookup(s, &cmd->args[1], IMAP_CODE_TRYCREATE, &m) != 0)
		return;
	if (n == 0) {
		imap__ok(s, IMAP_CODE_NONE, "%s completed (no messages)", cmd->name);
		return;
	}
	struct uid_range *ranges;
	uint32_t nr = imap__view_ranges(s, seqs, n, &ranges);
	if (nr == 0 || nr > CMD_RANGES_MAX) {
		imap__no(s, IMAP_CODE_LIMIT, "Message set too large");
		return;
	}
	struct cmd c = {.type = move ? CMD_MSG_MOVE : CMD_MSG_COPY,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .mailbox_id2 = m.id,
	                .uidvalidity = s->sel->uidvalidity,
	                .ranges = {.n = nr, .v = ranges}};
	if (imap__submit_one(s, &c, copy_done) != 0)
		imap__no(s, IMAP_CODE_LIMIT, "Request too large");
}
