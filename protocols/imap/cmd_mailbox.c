/*
 * cmd_mailbox: changing the mailbox hierarchy: CREATE (RFC 3501 §6.3.3,
 * with CREATE-SPECIAL-USE, RFC 6154 §3), DELETE (§6.3.4), RENAME (§6.3.5,
 * INBOX and hierarchies included), SUBSCRIBE and UNSUBSCRIBE (§6.3.6-7).
 *
 * Happy path: the name is decoded from modified UTF-7 and checked by
 * mutf7.h (no "..", "/", control characters or wildcards in new names),
 * then one command goes through the replicated log; apply() decides
 * (superior names created, children renamed along, INBOX's messages moved)
 * and its result is the answer.
 *
 * Failure modes: a bad name -> NO [CANNOT]; exists -> NO [ALREADYEXISTS];
 * missing -> NO [NONEXISTENT]; INBOX cannot be deleted -> NO [CANNOT];
 * an unknown USE attribute -> NO [USEATTR]; no quorum -> NO [UNAVAILABLE].
 * Deleting the selected mailbox deselects it (an untagged OK [CLOSED]).
 * CREATE answers the new mailbox's MAILBOXID (RFC 8474 §4.1); RENAME
 * keeps it (the mailbox id does not change).
 */
#include <stdio.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/node.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/mutf7.h"
#include "replication/repl.h"

struct mailbox_op {
	enum cmd_type type;
	const char *what;
};

static void
mailbox_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct mailbox_op *op = s->op;
	if (status != REPL_OK) {
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status != CMD_OK) {
		if (op->type == CMD_MAILBOX_UNSUBSCRIBE && r->status == CMD_ENOTFOUND)
			imap__no(s, IMAP_CODE_NONEXISTENT, "Not subscribed");
		else if (op->type == CMD_MAILBOX_DELETE && r->status == CMD_ENOPERM)
			imap__no(s, IMAP_CODE_CANNOT, "INBOX cannot be deleted");
		else
			imap__cmd_status_no(s, r->status, op->what);
		cmd_results_free(&rs);
		return;
	}
	if (op->type == CMD_MAILBOX_DELETE && s->sel && s->sel->id == r->id) {
		imap__view_close(s);
		imap__untagged(s, "OK [CLOSED] Selected mailbox was deleted");
	}
	if (op->type == CMD_MAILBOX_CREATE) {
		/* RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK. */
		char id[32], code[48];
		imap__mailboxid_format(id, sizeof(id), r->id, r->uidvalidity);
		snprintf(code, sizeof(code), "MAILBOXID (%s)", id);
		cmd_results_free(&rs);
		imap__ok_code(s, code, "%s completed", op->what);
		return;
	}
	cmd_results_free(&rs);
	imap__ok(s, IMAP_CODE_NONE, "%s completed", op->what);
}

static void
mailbox_submit(struct imap_session *s, const struct cmd *c, const char *what)
{
	struct mailbox_op *op = arena_zalloc(imap__arena(s), sizeof(*op));
	struct node *n = node_get();
	struct cmd_batch b;
	if (op == NULL) {
		imap__no(s, IMAP_CODE_SERVERBUG, "Out of memory");
		return;
	}
	op->type = c->type;
	op->what = what;
	s->op = op;
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	if (cmd_batch_add(&b, c) != 0) {
		cmd_batch_deinit(&b);
		imap__no(s, IMAP_CODE_CANNOT, "%s: invalid argument", what);
		return;
	}
	imap__submit(s, &b, mailbox_done);
	cmd_batch_deinit(&b);
}

/* CREATE's name: a trailing separator only declares the intent to create
 * children (§6.3.3) and is dropped. */
static int
create_name(struct imap_session *s, const struct imap_arg *arg, char *out, size_t n,
            const char **error_r)
{
	const char *str;
	size_t len, outlen;
	if (!imap_arg_get_astring(arg, &str, &len) || memchr(str, '\0', len) != NULL) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	if (len > 1 && str[len - 1] == IMAP_HIERARCHY_SEP)
		len--;
	return imap_mailbox_name_from_wire(str, len, (s->flags & IMAP_SF_UTF8) != 0,
	                                   IMAP_MAILBOX_CREATE, out, n, &outlen, error_r);
}

/* RFC 6154 §3 / RFC 4466: "(USE (\Archive ...))". Returns 0, -1 for
 * BAD syntax, -2 for an unknown attribute (NO [USEATTR]). */
static int
create_params(const struct imap_arg *arg, uint32_t *use_r)
{
	const struct imap_arg *list, *attrs;
	size_t n, na;
	*use_r = 0;
	if (!imap_arg_get_list(arg, &list, &n) || n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		if (!imap_arg_atom_equals(&list[i], "USE") ||
		    !imap_arg_get_list(&list[i + 1], &attrs, &na))
			return -1;
		for (size_t k = 0; k < na; k++) {
			const char *a;
			if (!imap_arg_get_atom(&attrs[k], &a))
				return -1;
			uint32_t bit = imap__special_use_bit(a);
			if (bit == 0)
				return -2;
			*use_r |= bit;
		}
	}
	return 0;
}

void
imap__cmd_create(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	uint32_t use = 0;
	if (cmd->argc < 1 || cmd->argc > 2) {
		imap__bad(s, "CREATE takes a mailbox name and optional parameters");
		return;
	}
	if (cmd->argc == 2) {
		int rc = create_params(&cmd->args[1], &use);
		if (rc == -1) {
			imap__bad(s, "Invalid CREATE parameters");
			return;
		}
		if (rc == -2) {
			imap__no(s, IMAP_CODE_USEATTR, "Unsupported special-use attribute");
			return;
		}
	}
	if (create_name(s, &cmd->args[0], name, sizeof(name), &err) != 0) {
		imap__no(s, IMAP_CODE_CANNOT, "%s", err);
		return;
	}
	struct cmd c = {.type = CMD_MAILBOX_CREATE,
	                .user_id = s->user_id,
	                .name = {name, strlen(name)},
	                .special_use = use};
	mailbox_submit(s, &c, "CREATE");
}

void
imap__cmd_delete(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	if (cmd->argc != 1) {
		imap__bad(s, "DELETE takes one mailbox name");
		return;
	}
	if (imap__mailbox_arg(s, &cmd->args[0], 0, name, sizeof(name), &err) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s", err);
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		imap__no(s, IMAP_CODE_CANNOT, "INBOX cannot be deleted");
		return;
	}
	struct cmd c = {
	        .type = CMD_MAILBOX_DELETE, .user_id = s->user_id, .name = {name, strlen(name)}};
	mailbox_submit(s, &c, "DELETE");
}

void
imap__cmd_rename(struct imap_session *s, const struct imap_cmd *cmd)
{
	char from[SCHEMA_NAME_MAX + 1], to[SCHEMA_NAME_MAX + 1];
	const char *err;
	if (cmd->argc != 2) {
		imap__bad(s, "RENAME takes two mailbox names");
		return;
	}
	if (imap__mailbox_arg(s, &cmd->args[0], 0, from, sizeof(from), &err) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s", err);
		return;
	}
	if (create_name(s, &cmd->args[1], to, sizeof(to), &err) != 0) {
		imap__no(s, IMAP_CODE_CANNOT, "%s", err);
		return;
	}
	if (strcmp(to, "INBOX") == 0) {
		imap__no(s, IMAP_CODE_ALREADYEXISTS, "INBOX exists");
		return;
	}
	struct cmd c = {.type = CMD_MAILBOX_RENAME,
	                .user_id = s->user_id,
	                .name = {from, strlen(from)},
	                .name2 = {to, strlen(to)}};
	mailbox_submit(s, &c, "RENAME");
}

void
imap__cmd_subscribe(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	bool sub = strcmp(cmd->name, "SUBSCRIBE") == 0;
	if (cmd->argc != 1) {
		imap__bad(s, "%s takes one mailbox name", cmd->name);
		return;
	}
	if (imap__mailbox_arg(s, &cmd->args[0], 0, name, sizeof(name), &err) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s", err);
		return;
	}
	struct cmd c = {.type = sub ? CMD_MAILBOX_SUBSCRIBE : CMD_MAILBOX_UNSUBSCRIBE,
	                .user_id = s->user_id,
	                .name = {name, strlen(name)}};
	mailbox_submit(s, &c, sub ? "SUBSCRIBE" : "UNSUBSCRIBE");
}
