/*
 * cmd_append: APPEND (RFC 3501 §6.3.11) with APPENDUID (UIDPLUS, RFC 4315
 * §3), APPENDLIMIT (RFC 7889) and LITERAL+ (RFC 7888).
 *
 * Happy path: the parser hands the message literal to imap__literal_sink
 * as it arrives. At the literal's header, before any "+" continuation,
 * the sink checks the size against limits.message_size and that the
 * mailbox exists, then streams the bytes into msgin (a temporary file,
 * hashed as it is written: memory stays small whatever the size). When
 * the command is complete, msgin makes the body durable on a quorum, one
 * APPEND command goes through the replicated log, and its result gives
 * the UID: "OK [APPENDUID uidvalidity uid]".
 *
 * Failure modes: too big -> NO [TOOBIG] before the "+" (a synchronising
 * literal is never sent); a {n+} literal's data is then skipped by the
 * parser, or the connection closed with "* BYE [TOOBIG]" when it is too
 * big to skip (RFC 7888 §4); no such mailbox -> NO [TRYCREATE]; over quota
 * -> NO [OVERQUOTA]; no quorum -> NO [UNAVAILABLE]. A body that never
 * became an APPEND is removed with its msgin.
 *
 * REPLACE (cmd_replace.c, RFC 8508) shares the sink: its literal is the
 * new message, its second argument the mailbox, and the message it
 * replaces is checked first (imap__replace_check), before the "+".
 */
#include <errno.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/msgin.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/mutf7.h"
#include "replication/repl.h"

struct append_op {
	uint32_t mailbox_id;
	uint32_t flags;
	const char **names;
	uint32_t nnames;
	int64_t date;
};

void
imap__append_release(struct imap_session *s)
{
	msgin_free(&s->append);
}

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

int
imap__literal_sink(void *ctx, enum imap_literal_event ev, const struct imap_literal_info *info,
                   const unsigned char *data, size_t len, const char **error_r)
{
	struct imap_session *s = ctx;
	const char *name = info->cmd->name;
	bool replace = name != NULL && strcmp(name, "REPLACE") == 0 && info->depth == 0;
	bool append = (!info->cmd->uid && name != NULL && strcmp(name, "APPEND") == 0 &&
	               info->depth == 0) ||
	              replace;
	if (!append)
		return ev == IMAP_LITERAL_BEGIN ? IMAP_LITERAL_INLINE : 0;
	switch (ev) {
	case IMAP_LITERAL_BEGIN: {
		s->append_code = IMAP_CODE_NONE;
		if (s->state == IMAP_S_NOAUTH) {
			*error_r = replace ? "REPLACE: authenticate first"
			                   : "APPEND: authenticate first";
			return -1;
		}
		if (info->index > 0 || s->append != NULL) {
			*error_r = replace ? "One message per REPLACE"
			                   : "One message per APPEND (no MULTIAPPEND)";
			return -1;
		}
		uint64_t max = imap__message_size_max();
		if (info->size > max) {
			s->append_code = IMAP_CODE_TOOBIG;
			*error_r = "Message too large (see APPENDLIMIT)";
			return -1;
		}
		/* REPLACE: the message replaced, then the mailbox (RFC 8508 §3). */
		if (replace && imap__replace_check(s, info, error_r) != 0)
			return -1;
		const struct imap_arg *mbox = info->args;
		if (replace && mbox != NULL)
			mbox = mbox->next;
		uint32_t id;
		int rc = mbox ? imap__append_mailbox(s, mbox, &id) : 0;
		if (rc <= 0) {
			s->append_code = rc < 0 ? IMAP_CODE_UNAVAILABLE : IMAP_CODE_TRYCREATE;
			*error_r =
			        rc < 0 ? "Cannot read the mailbox now" : "Mailbox does not exist";
			return -1;
		}
		s->append = msgin_new(imap__store(), max);
		if (s->append == NULL) {
			s->append_code = IMAP_CODE_SERVERBUG;
			*error_r = "Cannot store the message now";
			return -1;
		}
		return IMAP_LITERAL_STREAM;
	}
	case IMAP_LITERAL_DATA:
		if (s->append == NULL) {
			*error_r = "Message refused";
			return -1;
		}
		if (msgin_write(s->append, data, len) != 0) {
			s->append_code =
			        msgin_too_big(s->append) ? IMAP_CODE_TOOBIG : IMAP_CODE_SERVERBUG;
			*error_r = "Cannot store the message";
			return -1;
		}
		return 0;
	case IMAP_LITERAL_END:
		return 0;
	}
	return 0;
}

static void
append_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status == CMD_OK) {
		char code[64];
		s->nappended++;
		snprintf(code, sizeof(code), "APPENDUID %u %u", r->uidvalidity, r->uid);
		cmd_results_free(&rs);
		imap__ok_code(s, code, "APPEND completed");
		return;
	}
	enum cmd_status st = r->status;
	cmd_results_free(&rs);
	if (st == CMD_ENOTFOUND)
		imap__no(s, IMAP_CODE_TRYCREATE, "Mailbox does not exist");
	else
		imap__cmd_status_no(s, st, "APPEND");
}

static void
append_durable(void *arg, int status, struct msgin *m)
{
	struct imap_session *s = arg;
	struct append_op *op = s->op;
	s->wait = IMAP_W_NONE;
	if (status != 0) {
		imap__append_release(s);
		if (status == -EFBIG)
			imap__no(s, IMAP_CODE_TOOBIG, "Message too large");
		else if (status == REPL_EUNAVAILABLE)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cluster unavailable, try again later");
		else
			imap__no(s, IMAP_CODE_SERVERBUG, "Cannot store the message now");
		return;
	}
	struct node *n = node_get();
	struct cmd_batch b;
	struct cmd c;
	msgin_append_cmd(m, &c, s->user_id, op->mailbox_id, op->flags, op->date, 1);
	c.keywords.n = op->nnames;
	c.keywords.v = op->names;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	if (cmd_batch_add(&b, &c) != 0) {
		cmd_batch_deinit(&b);
		imap__append_release(s);
		imap__no(s, IMAP_CODE_LIMIT, "Message metadata too large");
		return;
	}
	imap__submit(s, &b, append_done);
	cmd_batch_deinit(&b);
	/* The body is staged; the batch holds what apply() needs. */
	imap__append_release(s);
}

int
imap__append_options(struct imap_session *s, const struct imap_arg *args, size_t argc, size_t *i,
                     uint32_t *flags_r, const char ***names_r, uint32_t *nnames_r, int64_t *date_r,
                     const char **error_r)
{
	*flags_r = 0;
	*names_r = NULL;
	*nnames_r = 0;
	if (*i < argc && args[*i].type == IMAP_ARG_LIST) {
		if (imap__flags_parse(s, &args[*i], flags_r, names_r, nnames_r, error_r) != 0)
			return -1;
		(*i)++;
	}
	*date_r = (int64_t)(now_wall_ms() / 1000);
	if (*i + 1 < argc) {
		const char *d;
		size_t dl;
		if (!imap_arg_get_string(&args[*i], &d, &dl) ||
		    imap__datetime_parse(d, dl, date_r) != 0) {
			*error_r = "Invalid date-time";
			return -1;
		}
		(*i)++;
	}
	if (*i + 1 != argc) {
		*error_r = "Invalid arguments before the message literal";
		return -1;
	}
	return 0;
}

void
imap__cmd_append(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *args = cmd->args;
	size_t argc = cmd->argc, i = 1;
	const char *err;
	struct append_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	if (op == NULL || argc < 2 || argc > 4 || args[argc - 1].type != IMAP_ARG_LITERAL ||
	    !args[argc - 1].streamed || s->append == NULL) {
		imap__append_release(s);
		imap__bad(s, "APPEND takes a mailbox, optional flags and date, and a literal");
		return;
	}
	if (imap__append_options(s, args, argc, &i, &op->flags, &op->names, &op->nnames, &op->date,
	                         &err) != 0) {
		imap__append_release(s);
		imap__bad(s, "%s", err);
		return;
	}
	int rc = imap__append_mailbox(s, &args[0], &op->mailbox_id);
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
	msgin_finish(s->append, append_durable, s);
}
