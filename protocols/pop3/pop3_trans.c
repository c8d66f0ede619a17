/*
 * pop3_trans: the TRANSACTION state (RFC 1939 §5: STAT, LIST, DELE, NOOP,
 * RSET; §7: UIDL) and QUIT with its UPDATE state (§6).
 *
 * Every command here works on the session's snapshot (pop3_maildrop.h);
 * nothing changes the store until QUIT. UPDATE is one atomic batch through
 * the replicated write path: STORE +\Seen for the messages retrieved
 * (pop3.seen_on_retr, default true, so IMAP sees them read), then EXPUNGE
 * of the ones deleted (with pop3.expire "0", RFC 2449 §6.7, of the ones
 * retrieved too). QUIT is answered +OK only after this node has applied
 * the batch, so the client never hears "deleted" before the cluster agreed
 * and IMAP sessions get their EXPUNGE from the store's notifications.
 *
 * Failure modes: the cluster cannot commit in time (no leader, no
 * quorum) -> -ERR [SYS/TEMP] (RFC 1939 §6: "some deleted messages not
 * removed"). The batch is atomic, and only ever removes what the client
 * deleted, so whatever raft makes of it later (an entry already in a log
 * may still commit) no other message is touched, and a retry in the next
 * session is harmless. INBOX replaced since login (UIDVALIDITY changed)
 * -> -ERR [SYS/PERM], nothing deleted. Either way the connection closes,
 * as RFC 1939 §6 says. A session that ends without QUIT submits nothing.
 *
 * Bad message numbers (0, past the end, not a number, deleted) are -ERR
 * replies (RFC 1939 §5: "may not refer to a message marked as deleted").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "protocols/pop3/pop3_private.h"
#include "replication/repl.h"

/* Scan listings are built in blocks of this size, so that a long one is a
 * few writes (and TLS records), not one per line. */
#define POP3_LISTING_BLOCK 8192

struct pop3_listing {
	struct conn *conn;
	size_t len;
	char buf[POP3_LISTING_BLOCK];
};

static void
pop3_listing_flush(struct pop3_listing *l)
{
	conn_write(l->conn, l->buf, l->len);
	l->len = 0;
}

/* Room for one scan line ("4294967295 18446744073709551615\r\n" or a
 * UIDL one) is kept free at all times. */
static void
pop3_listing_line(struct pop3_listing *l, uint32_t msgno, const char *value)
{
	l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%u %s\r\n", msgno,
	                           value);
	if (sizeof(l->buf) - l->len < 128)
		pop3_listing_flush(l);
}

struct pop3_msg *
pop3__msg_arg(struct pop3_session *s, const struct pop3_arg *a, int deleted_ok)
{
	uint32_t msgno;
	if (pop3_parser_number(a, UINT32_MAX, &msgno) != 0) {
		pop3__err(s, NULL, "Invalid message number");
		return NULL;
	}
	struct pop3_msg *m = pop3_maildrop_get(&s->md, msgno);
	if (m == NULL) {
		pop3__err(s, NULL, "No such message");
		return NULL;
	}
	if (!deleted_ok && (m->marks & POP3_M_DELETED)) {
		pop3__err(s, NULL, "Message %u is deleted", msgno);
		return NULL;
	}
	return m;
}

static uint32_t
pop3_msgno(const struct pop3_session *s, const struct pop3_msg *m)
{
	return (uint32_t)(m - s->md.v) + 1;
}

void
pop3__stat(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	pop3__ok(s, "%u %llu", s->md.n - s->md.ndeleted, (unsigned long long)s->md.size);
}

/* LIST and UIDL: one message, or a listing of all not deleted. */
static void
pop3_scan(struct pop3_session *s, const struct pop3_cmd *cmd, int uidl)
{
	char value[32];
	if (cmd->nargs == 1) {
		struct pop3_msg *m = pop3__msg_arg(s, &cmd->args[0], 0);
		if (m == NULL)
			return;
		if (uidl)
			pop3_maildrop_uidl(&s->md, m, value);
		else
			snprintf(value, sizeof(value), "%llu", (unsigned long long)m->size);
		pop3__ok(s, "%u %s", pop3_msgno(s, m), value);
		return;
	}
	if (uidl)
		pop3__ok(s, "Unique-ID listing follows");
	else
		pop3__ok(s, "%u messages (%llu octets)", s->md.n - s->md.ndeleted,
		         (unsigned long long)s->md.size);
	struct pop3_listing *l = xmalloc(sizeof(*l));
	l->conn = s->conn;
	l->len = 0;
	for (uint32_t i = 0; i < s->md.n; i++) {
		const struct pop3_msg *m = &s->md.v[i];
		if (m->marks & POP3_M_DELETED)
			continue;
		if (uidl)
			pop3_maildrop_uidl(&s->md, m, value);
		else
			snprintf(value, sizeof(value), "%llu", (unsigned long long)m->size);
		pop3_listing_line(l, i + 1, value);
	}
	memcpy(l->buf + l->len, ".\r\n", 3);
	l->len += 3;
	pop3_listing_flush(l);
	free(l);
}

void
pop3__list(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	pop3_scan(s, cmd, 0);
}

void
pop3__uidl(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	pop3_scan(s, cmd, 1);
}

void
pop3__dele(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_msg *m = pop3__msg_arg(s, &cmd->args[0], 1);
	if (m == NULL)
		return;
	if (pop3_maildrop_dele(&s->md, m) != 0) {
		pop3__err(s, NULL, "Message %u already deleted", pop3_msgno(s, m));
		return;
	}
	pop3__ok(s, "Message %u deleted", pop3_msgno(s, m));
}

void
pop3__noop(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	conn_puts(s->conn, "+OK\r\n");
}

void
pop3__rset(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	pop3_maildrop_rset(&s->md);
	pop3__ok(s, "%u messages (%llu octets)", s->md.n, (unsigned long long)s->md.size);
}

/* --- QUIT and UPDATE ------------------------------------------------- */

static void
pop3_update_done(void *arg, int status, struct cmd_results *rs)
{
	struct pop3_session *s = arg;
	enum cmd_status bad = CMD_OK;
	uint32_t expunged = 0;

	s->req = NULL;
	if (status == REPL_OK) {
		for (uint32_t i = 0; i < rs->n; i++) {
			if (rs->r[i].status != CMD_OK && (bad == CMD_OK || bad == CMD_EABORTED))
				bad = rs->r[i].status;
			if (i >= s->update_first_expunge)
				expunged += rs->r[i].nset1;
		}
		cmd_results_free(&rs);
	}
	if (status == REPL_OK && bad == CMD_OK) {
		s->expunged = expunged;
		pop3__ok(s, "Bye, %u message%s deleted", expunged, expunged == 1 ? "" : "s");
		pop3__close(s, "quit");
		return;
	}
	log_warn("pop3", "event=update-failed user=%s peer=%s status=%d result=%s", s->u.address,
	         s->conn->peer, status, status == REPL_OK ? cmd_status_name(bad) : "-");
	if (status == REPL_OK && (bad == CMD_ESTALE || bad == CMD_ENOTFOUND))
		pop3__err(s, "SYS/PERM", "The mailbox was replaced meanwhile; nothing was deleted");
	else if (status == REPL_OK || status == REPL_ETOOBIG)
		pop3__err(s, "SYS/PERM", "Update refused; nothing was deleted");
	else
		pop3__err(s, "SYS/TEMP",
		          "Update not confirmed in time; deleted messages may "
		          "not be removed, try again later");
	pop3__close(s, "update-failed");
}

/* The UPDATE policy from the cluster configuration. */
static void
pop3_update_policy(struct pop3_session *s, struct pop3_update *u)
{
	char v[32];
	u->mark_seen = !(pop3__config(s, "pop3.seen_on_retr", v, sizeof(v)) == 1 &&
	                 (ascii_strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0));
	u->expunge_retrieved =
	        pop3__config(s, "pop3.expire", v, sizeof(v)) == 1 && strcmp(v, "0") == 0;
}

void
pop3__quit(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_update u;
	struct cmd_batch b;

	if (s->state == POP3_S_AUTHORIZATION) {
		pop3__ok(s, "Bye");
		pop3__close(s, "quit");
		return;
	}
	s->state = POP3_S_UPDATE;
	pop3_update_policy(s, &u);
	cmd_batch_init(&b, s->node->cfg->node_id, CMD_BATCH_ATOMIC);
	int n = pop3_maildrop_update_batch(&s->md, &u, &b, &s->update_first_expunge);
	struct repl *r = node_repl();
	if (n <= 0 || r == NULL) {
		cmd_batch_deinit(&b);
		if (n == 0)
			pop3__ok(s, "Bye, no messages deleted");
		else
			pop3__err(s, n < 0 ? "SYS/PERM" : "SYS/TEMP",
			          "Cannot update the mailbox; nothing was deleted");
		pop3__close(s, n == 0 ? "quit" : "update-failed");
		return;
	}
	log_debug("pop3", "event=update user=%s commands=%d deleted=%u retrieved=%u", s->u.address,
	          n, s->md.ndeleted, s->md.nretrieved);
	pop3__wait(s, POP3_W_UPDATE);
	s->req = repl_submit(r, &b, pop3_update_done, s);
	cmd_batch_deinit(&b);
}

void
pop3__trans_release(struct pop3_session *s)
{
	if (s->req) {
		repl_cancel(s->req);
		s->req = NULL;
	}
}
