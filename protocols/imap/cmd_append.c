/*
 * cmd_append: APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502),
 * CATENATE (RFC 4469), literal8 (RFC 3516 §4.4), UTF8 data (RFC 6855 §4),
 * APPENDUID (UIDPLUS, RFC 4315 §3), APPENDLIMIT (RFC 7889) and LITERAL+
 * (RFC 7888).
 *
 * Happy path: the parser hands each message's literal to the sink
 * (append_sink.c) as it arrives, and each message streams into its own
 * msgin (a temporary file, hashed as it is written: memory stays small
 * whatever the size). When the command is complete its arguments are
 * walked (imap__append_collect: flags, date, CATENATE's URL parts); every
 * message is made durable on a quorum (msgin_finish, all at once); then
 * ONE batch of APPEND commands goes through the replicated log, atomic
 * (CMD_BATCH_ATOMIC): either every message is appended or none is (RFC
 * 3502 §6.3.11). Its results give the UIDs: "OK [APPENDUID uidvalidity
 * uid-set]" (RFC 4315 §3: a set for several messages).
 *
 * Failure modes: too big -> NO [TOOBIG] before that message's "+"; no
 * such mailbox -> NO [TRYCREATE]; a bad CATENATE URL -> NO [BADURL url];
 * over quota -> NO [OVERQUOTA] (the whole batch: nothing appended); no
 * quorum -> NO [UNAVAILABLE]; more messages or metadata than one batch
 * holds -> NO [LIMIT]. Bodies that never became an APPEND are removed with
 * their msgin.
 *
 * REPLACE (cmd_replace.c, RFC 8508) shares the sink and the walk: its
 * data is one append-message, its second argument the mailbox, and the
 * message it replaces is checked first (imap__replace_check), before the
 * "+".
 */
#include <errno.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/msgin.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/append.h"
#include "replication/repl.h"

struct append_op {
	uint32_t mailbox_id;
};

int
imap__append_mailbox(struct imap_session *s, const struct imap_arg *arg, uint32_t *id_r)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	if (imap__mailbox_arg(s, arg, 0, name, sizeof(name), &err) != 0)
		return 0;
	struct store_txn *t;
	struct store_mailbox m;
	if (store_read_begin(imap__store(), &t) != 0)
		return -1;
	int rc = store_mailbox_get(t, s->user_id, name, &m);
	store_read_end(&t);
	if (rc == 1)
		*id_r = m.id;
	return rc;
}

/* "4:6,9" of the UIDs (in order) into out. */
static void
append_uidset(const struct cmd_results *rs, struct nbuf *out)
{
	for (uint32_t i = 0; i < rs->n;) {
		uint32_t lo = rs->r[i].uid, hi = lo, j = i + 1;
		while (j < rs->n && rs->r[j].uid == hi + 1)
			hi = rs->r[j++].uid;
		nbuf_printf(out, i == 0 ? "%u" : ",%u", lo);
		if (hi != lo)
			nbuf_printf(out, ":%u", hi);
		i = j;
	}
}

static void
append_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	enum cmd_status st = CMD_OK;
	for (uint32_t i = 0; i < rs->n; i++)
		if (rs->r[i].status != CMD_OK && (st == CMD_OK || st == CMD_EABORTED))
			st = rs->r[i].status;
	if (rs->n == 0)
		st = CMD_EINVALID;
	if (st != CMD_OK) {
		cmd_results_free(&rs);
		if (st == CMD_ENOTFOUND)
			imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
		else
			imap__cmd_status_no(s, st, "APPEND");
		return;
	}
	struct nbuf code;
	nbuf_init(&code, 64 + 24 * (size_t)rs->n);
	nbuf_printf(&code, "APPENDUID %u ", rs->r[0].uidvalidity);
	append_uidset(rs, &code);
	nbuf_append(&code, "", 1);
	s->nappended += rs->n;
	cmd_results_free(&rs);
	imap__ok_code(s, (const char *)nbuf_head(&code), "APPEND completed");
	nbuf_deinit(&code);
}

/* Every body is durable: one atomic batch appends them all. */
static void
append_submit(struct imap_session *s)
{
	struct append_op *op = s->op;
	struct imap_append *a = s->append;
	struct node *n = node_get();
	struct cmd_batch b;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, CMD_BATCH_ATOMIC);
	for (size_t i = 0; i < a->n; i++) {
		const struct imap_append_msg *m = &a->msgs[i];
		struct cmd c;
		msgin_append_cmd(m->in, &c, s->user_id, op->mailbox_id, m->flags, m->date, 1);
		c.keywords.n = m->nnames;
		c.keywords.v = m->names;
		if (cmd_batch_add(&b, &c) != 0) {
			cmd_batch_deinit(&b);
			imap__append_release(s);
			imap__no(s, IMAP_CODE_LIMIT,
			         "Too many messages or metadata for one APPEND");
			return;
		}
	}
	imap__submit(s, &b, append_done);
	cmd_batch_deinit(&b);
	/* The bodies are staged; the batch holds what apply() needs. */
	imap__append_release(s);
}

static void
append_durable(void *arg, int status, struct msgin *m)
{
	struct imap_session *s = arg;
	struct imap_append *a = s->append;
	if (status != 0 && (a->status == 0 || status == -EFBIG))
		a->status = status;
	if (--a->finishing > 0)
		return;
	s->wait = IMAP_W_NONE;
	status = a->status;
	if (status == 0) {
		append_submit(s);
		return;
	}
	imap__append_failed(s, status);
}

void
imap__cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err;
	enum imap_code code;
	struct append_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL || cmd->argc < 2) {
		imap__append_release(s);
		imap__bad(s, "APPEND takes a mailbox and messages");
		return;
	}
	if (imap__append_collect(s, cmd, 1, IMAP_APPEND_MSGS_MAX, &err, &code) != 0) {
		if (code == IMAP_CODE_NONE) {
			imap__append_release(s);
			imap__bad(s, "%s", err);
		} else {
			imap__append_no(s, code, err);
		}
		return;
	}
	int rc = imap__append_mailbox(s, &cmd->args[0], &op->mailbox_id);
	if (rc != 1) {
		imap__append_release(s);
		if (rc < 0)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		else
			imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
		return;
	}
	struct imap_append *a = s->append;
	s->op = op;
	imap__wait(s, IMAP_W_APPEND);
	a->finishing = a->n;
	a->status = 0;
	for (size_t i = 0; i < a->n; i++)
		msgin_finish(a->msgs[i].in, append_durable, s);
}
