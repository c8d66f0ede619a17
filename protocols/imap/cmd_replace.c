/*
 * cmd_replace: REPLACE and UID REPLACE (RFC 8508): a new message into a
 * mailbox, and the selected mailbox's old one expunged, in one step.
 *
 * Happy path: the message goes into msgin as APPEND's does (the parser's
 * sink in append_sink.c, which first asks imap__replace_check about the
 * message to replace, then checks the target mailbox: all before the
 * "+"). Once the body is durable on a quorum, one atomic batch
 * (CMD_BATCH_ATOMIC) goes through the log: EXPUNGE of the old UID, then
 * APPEND of the new message; either both take effect or neither does.
 * Expunging first lets the quota check see the old message gone (a
 * replacement that frees as much as it takes does not fail for quota,
 * RFC 8508's interaction with QUOTA). The reply: "* OK [APPENDUID v u]
 * Replacement Message ID" (UIDPLUS as RFC 8508 prescribes), then the
 * expunge and the new EXISTS through the reply's sync (VANISHED with
 * QRESYNC, and the tagged OK carries HIGHESTMODSEQ as for EXPUNGE, RFC
 * 7162 §3.2.7), then the tagged OK.
 *
 * Failure modes: a message number out of range or a malformed one -> BAD
 * before the "+"; a UID that is not in the mailbox -> NO (after the
 * literal); a read-only mailbox -> NO [READ-ONLY] before the "+"; no such
 * target -> NO [TRYCREATE]; over quota -> NO [OVERQUOTA]; too big -> NO
 * [TOOBIG]; no quorum -> NO [UNAVAILABLE]. Nothing changed in any case.
 * XXX RFC 8508: a message that another session expunges between the
 * check and the apply does not make the REPLACE fail: the new message is
 * stored and the old one is gone, as the client asked.
 */
#include <stdio.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/msgin.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/append.h"
#include "replication/repl.h"

struct replace_op {
	uint32_t uid;        /* the message replaced */
	uint32_t mailbox_id; /* where the new one goes */
};

/* The sequence number (REPLACE) or UID (UID REPLACE) of arg as a UID of
 * the view. Returns 1 found, 0 not in the mailbox (UID REPLACE), -1 a
 * number that is no message (BAD). */
static int
replace_target(struct imap_session *s, const struct imap_arg *arg, bool uid, uint32_t *uid_r)
{
	uint64_t v;
	if (arg == NULL || !imap_arg_get_number(arg, UINT32_MAX - 1, &v) || v == 0)
		return -1;
	if (imap__view_load(s) != 0)
		return -1;
	if (!uid) {
		if (v > s->sel->count)
			return -1;
		*uid_r = imap__view_uid(s, (uint32_t)v);
		return 1;
	}
	*uid_r = (uint32_t)v;
	return imap__view_seq(s, (uint32_t)v) != 0;
}

int
imap__replace_check(struct imap_session *s, const struct imap_literal_info *info,
                    const char **error_r)
{
	uint32_t uid;
	if (s->state != IMAP_S_SELECTED) {
		*error_r = "REPLACE: no mailbox selected";
		return -1;
	}
	if (replace_target(s, info->args, info->cmd->uid, &uid) < 0) {
		*error_r = info->cmd->uid ? "Invalid UID" : "Invalid message sequence number";
		return -1;
	}
	if (s->sel->readonly) {
		s->append_code = IMAP_CODE_READONLY;
		*error_r = "Mailbox is read-only";
		return -1;
	}
	return 0;
}

static void
replace_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *ex = &rs->r[0], *ap = &rs->r[1];
	if (rs->n != 2 || ap->status != CMD_OK) {
		/* The command that failed; the other one is CMD_EABORTED. */
		enum cmd_status st =
		        rs->n == 2 && ex->status != CMD_EABORTED && ex->status != CMD_OK
		                ? ex->status
		        : rs->n == 2 ? ap->status
		                     : CMD_EINVALID;
		cmd_results_free(&rs);
		if (st == CMD_ENOTFOUND)
			imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
		else
			imap__cmd_status_no(s, st, "REPLACE");
		return;
	}
	char line[96];
	s->nappended++;
	snprintf(line, sizeof(line), "OK [APPENDUID %u %u] Replacement Message ID", ap->uidvalidity,
	         ap->uid);
	bool expunged = ex->nset1 > 0;
	cmd_results_free(&rs);
	imap__untagged(s, "%s", line);
	imap__ok_expunged(s, expunged, "REPLACE completed");
}

static void
replace_durable(void *arg, int status, struct msgin *m)
{
	struct imap_session *s = arg;
	struct replace_op *op = s->op;
	s->wait = IMAP_W_NONE;
	if (status != 0) {
		imap__append_failed(s, status);
		return;
	}
	if (s->sel == NULL) { /* the mailbox went away meanwhile (BYE sent) */
		imap__append_release(s);
		imap__no(s, IMAP_CODE_NONE, "No mailbox selected");
		return;
	}
	struct node *n = node_get();
	struct cmd_batch b;
	struct uid_range r = {op->uid, op->uid};
	struct cmd ex = {.type = CMD_MSG_EXPUNGE,
	                 .user_id = s->user_id,
	                 .mailbox_id = s->sel->id,
	                 .uidvalidity = s->sel->uidvalidity,
	                 .mode = EXPUNGE_UIDS,
	                 .ranges = {.n = 1, .v = &r}};
	const struct imap_append_msg *am = &s->append->msgs[0];
	struct cmd ap;
	msgin_append_cmd(m, &ap, s->user_id, op->mailbox_id, am->flags, am->date, 1);
	ap.keywords.n = am->nnames;
	ap.keywords.v = am->names;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, CMD_BATCH_ATOMIC);
	if (cmd_batch_add(&b, &ex) != 0 || cmd_batch_add(&b, &ap) != 0) {
		cmd_batch_deinit(&b);
		imap__append_release(s);
		imap__no(s, IMAP_CODE_LIMIT, "Message metadata too large");
		return;
	}
	imap__submit(s, &b, replace_done);
	cmd_batch_deinit(&b);
	/* The body is staged; the batch holds what apply() needs. */
	imap__append_release(s);
}

void
imap__cmd_replace(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err;
	enum imap_code code;
	struct replace_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL || cmd->argc < 3) {
		imap__append_release(s);
		imap__bad(s, "REPLACE takes a message, a mailbox, optional flags and date, and a "
		             "message");
		return;
	}
	if (imap__append_collect(s, cmd, 2, 1, &err, &code) != 0) {
		if (code == IMAP_CODE_NONE) {
			imap__append_release(s);
			imap__bad(s, "%s", err);
		} else {
			imap__append_no(s, code, err);
		}
		return;
	}
	int rc = replace_target(s, &cmd->args[0], cmd->uid, &op->uid);
	if (rc <= 0) {
		imap__append_release(s);
		if (rc < 0)
			imap__bad(s, "Invalid message number");
		else
			imap__no(s, IMAP_CODE_NONE, "No message with that UID");
		return;
	}
	if (s->sel->readonly) {
		imap__append_release(s);
		imap__no(s, IMAP_CODE_READONLY, "Mailbox is read-only");
		return;
	}
	rc = imap__append_mailbox(s, &cmd->args[1], &op->mailbox_id);
	if (rc != 1) {
		imap__append_release(s);
		if (rc < 0)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		else
			imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
		return;
	}
	s->op = op;
	imap__wait(s, IMAP_W_APPEND);
	msgin_finish(s->append->msgs[0].in, replace_durable, s);
}
