/*
 * pop3_maildrop: the session's INBOX snapshot and its UPDATE batch. See
 * pop3_maildrop.h.
 *
 * RFC 1939 §4: at login the server "acquires an exclusive-access lock on
 * the maildrop". XXX RFC 1939 §8: mailnode takes no lock (a lock that
 * holds across the cluster would need the raft log, and a per-node one
 * holds nothing when the load balancer sends the second client to another
 * node). Each session works on its own snapshot instead: it shows exactly
 * the messages that were there at login, numbers never shift under the
 * client, mail that arrives meanwhile waits for the next session, and
 * UPDATE expunges UIDs, which is harmless for a message that another
 * session (POP3 or IMAP) has already removed: apply skips UIDs that are
 * gone. So two concurrent sessions can both download a message (as with
 * two IMAP clients), but neither can lose one it did not delete.
 *
 * UIDL (RFC 1939 §7) is UIDVALIDITY and UID in hex: both are decided by
 * apply() and replicated, so the same message has the same UIDL on every
 * node, after a restart and after a failover.
 */
#include "protocols/pop3/pop3_maildrop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"

int
pop3_maildrop_load(struct pop3_maildrop *md, struct store *st, uint32_t user_id, uint32_t max,
                   const char **error_r, int *temp_r)
{
	struct store_txn *t;
	struct store_mailbox mb;
	struct store_msg_iter *it;
	struct store_msg m;
	uint32_t cap;
	int rc;

	memset(md, 0, sizeof(*md));
	*temp_r = 1;
	if (store_read_begin(st, &t) != 0) {
		*error_r = "cannot read the index";
		return -1;
	}
	rc = store_mailbox_get(t, user_id, "INBOX", &mb);
	if (rc != 1) {
		*error_r = rc == 0 ? "no INBOX" : "cannot read INBOX";
		*temp_r = rc != 0;
		goto err_after_txn;
	}
	if (store_msg_iter_open(t, mb.id, 1, UINT32_MAX, &it) != 0) {
		*error_r = "cannot read INBOX";
		goto err_after_txn;
	}
	/* The counter is a hint for the allocation only; the walk decides. */
	cap = MIN(mb.messages, max);
	md->v = cap ? xmalloc((size_t)cap * sizeof(*md->v)) : NULL;
	while ((rc = store_msg_iter_next(it, &m)) == 1) {
		if (md->n == max) {
			md->hidden++;
			continue;
		}
		if (md->n == cap) {
			cap = cap ? MIN(2 * cap, max) : MIN(64u, max);
			md->v = xrealloc(md->v, (size_t)cap * sizeof(*md->v));
		}
		struct pop3_msg *p = &md->v[md->n++];
		p->uid = m.uid;
		p->marks = (m.flags & MSG_SEEN) ? POP3_M_SEEN : 0;
		p->size = m.size;
		memcpy(p->hash, m.hash, CMD_HASH_LEN);
		md->size += m.size;
	}
	store_msg_iter_close(&it);
	if (rc < 0) {
		*error_r = "cannot read INBOX";
		goto err_after_array;
	}
	store_read_end(&t);
	md->user_id = user_id;
	md->mailbox_id = mb.id;
	md->uidvalidity = mb.uidvalidity;
	return 0;

err_after_array:
	free(md->v);
	md->v = NULL;
	md->n = 0;
err_after_txn:
	store_read_end(&t);
	return -1;
}

void
pop3_maildrop_deinit(struct pop3_maildrop *md)
{
	free(md->v);
	memset(md, 0, sizeof(*md));
}

struct pop3_msg *
pop3_maildrop_get(struct pop3_maildrop *md, uint32_t msgno)
{
	if (msgno == 0 || msgno > md->n)
		return NULL;
	return &md->v[msgno - 1];
}

int
pop3_maildrop_dele(struct pop3_maildrop *md, struct pop3_msg *m)
{
	if (m->marks & POP3_M_DELETED)
		return -1;
	m->marks |= POP3_M_DELETED;
	md->ndeleted++;
	md->size -= m->size;
	return 0;
}

void
pop3_maildrop_retrieved(struct pop3_maildrop *md, struct pop3_msg *m)
{
	if (!(m->marks & POP3_M_RETRIEVED)) {
		m->marks |= POP3_M_RETRIEVED;
		md->nretrieved++;
	}
}

void
pop3_maildrop_rset(struct pop3_maildrop *md)
{
	for (uint32_t i = 0; i < md->n && md->ndeleted > 0; i++) {
		if (md->v[i].marks & POP3_M_DELETED) {
			md->v[i].marks &= ~(uint32_t)POP3_M_DELETED;
			md->ndeleted--;
			md->size += md->v[i].size;
		}
	}
}

void
pop3_maildrop_uidl(const struct pop3_maildrop *md, const struct pop3_msg *m,
                   char out[POP3_UIDL_LEN + 1])
{
	snprintf(out, POP3_UIDL_LEN + 1, "%08x%08x", md->uidvalidity, m->uid);
}

/* --- UPDATE ---------------------------------------------------------- */

enum pop3_pick { POP3_PICK_SEEN, POP3_PICK_EXPUNGE };

static int
pop3_maildrop_picked(const struct pop3_msg *m, enum pop3_pick what, const struct pop3_update *u)
{
	int gone = (m->marks & POP3_M_DELETED) ||
	           (u->expunge_retrieved && (m->marks & POP3_M_RETRIEVED));
	if (what == POP3_PICK_EXPUNGE)
		return gone;
	return u->mark_seen && !gone && (m->marks & POP3_M_RETRIEVED) && !(m->marks & POP3_M_SEEN);
}

/* Runs of picked messages, neighbours in the snapshot, as UID ranges. */
static uint32_t
pop3_maildrop_ranges(const struct pop3_maildrop *md, enum pop3_pick what,
                     const struct pop3_update *u, struct uid_range *out)
{
	uint32_t n = 0;
	int open = 0;
	for (uint32_t i = 0; i < md->n; i++) {
		if (!pop3_maildrop_picked(&md->v[i], what, u)) {
			open = 0;
			continue;
		}
		if (open) {
			out[n - 1].hi = md->v[i].uid;
		} else {
			out[n++] = (struct uid_range){md->v[i].uid, md->v[i].uid};
			open = 1;
		}
	}
	return n;
}

/* One command per CMD_RANGES_MAX ranges. Returns the commands added or -1. */
static int
pop3_maildrop_add(const struct pop3_maildrop *md, struct cmd_batch *b, enum cmd_type type,
                  const struct uid_range *r, uint32_t nr)
{
	int added = 0;
	for (uint32_t off = 0; off < nr; off += CMD_RANGES_MAX) {
		struct cmd c = {
		        .type = type,
		        .user_id = md->user_id,
		        .mailbox_id = md->mailbox_id,
		        .uidvalidity = md->uidvalidity,
		        .ranges = {.n = MIN(nr - off, (uint32_t)CMD_RANGES_MAX), .v = r + off},
		};
		if (type == CMD_MSG_STORE) {
			c.mode = STORE_ADD;
			c.flags = MSG_SEEN;
		} else {
			c.mode = EXPUNGE_UIDS;
		}
		if (cmd_batch_add(b, &c) != 0)
			return -1;
		added++;
	}
	return added;
}

int
pop3_maildrop_update_batch(const struct pop3_maildrop *md, const struct pop3_update *u,
                           struct cmd_batch *b, uint32_t *first_expunge_r)
{
	/* A run has at least one message: at most n ranges of each kind. An
	 * empty range list would mean "every message" to apply(), so a kind
	 * with no message picked adds no command at all. */
	struct uid_range *r = xmalloc((size_t)(md->n ? md->n : 1) * sizeof(*r));
	int total = 0, k;
	uint32_t nr = pop3_maildrop_ranges(md, POP3_PICK_SEEN, u, r);
	if (nr > 0) {
		if ((k = pop3_maildrop_add(md, b, CMD_MSG_STORE, r, nr)) < 0)
			goto err_after_ranges;
		total += k;
	}
	*first_expunge_r = (uint32_t)total;
	nr = pop3_maildrop_ranges(md, POP3_PICK_EXPUNGE, u, r);
	if (nr > 0) {
		if ((k = pop3_maildrop_add(md, b, CMD_MSG_EXPUNGE, r, nr)) < 0)
			goto err_after_ranges;
		total += k;
	}
	free(r);
	return total;

err_after_ranges:
	free(r);
	return -1;
}
