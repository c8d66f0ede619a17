/*
 * cmd_status: STATUS (RFC 3501 §6.3.10): MESSAGES, RECENT, UIDNEXT,
 * UIDVALIDITY, UNSEEN, DELETED (RFC 9051 §6.3.11), SIZE (RFC 8438),
 * HIGHESTMODSEQ (RFC 7162 §3.1.7, a CONDSTORE enabling command),
 * MAILBOXID (RFC 8474 §4.4), APPENDLIMIT (RFC 7889 §3.2) and
 * DELETED-STORAGE (RFC 9208 §4.2, with QUOTA=RES-STORAGE). The same items
 * serve LIST's RETURN (STATUS (...)) (LIST-STATUS, RFC 5819, cmd_list.c).
 *
 * Happy path: everything comes from the mailbox record's counters except
 * RECENT, which counts the messages from first_recent_uid on, and
 * DELETED-STORAGE, which adds up the \Deleted messages' sizes (only when
 * the record says there are some).
 * XXX RFC 9208 §4.2: DELETED-STORAGE is given in units of 1024 octets,
 * rounded up like the STORAGE quota resource it can be compared with.
 *
 * Failure modes: unknown item or malformed list -> BAD (RECENT too once
 * IMAP4rev2 is enabled: RFC 9051 §6.3.11 has none); no such mailbox
 * -> NO [NONEXISTENT].
 */
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"

enum {
	ST_MESSAGES,
	ST_RECENT,
	ST_UIDNEXT,
	ST_UIDVALIDITY,
	ST_UNSEEN,
	ST_DELETED,
	ST_SIZE,
	ST_HIGHESTMODSEQ,
	ST_MAILBOXID,
	ST_APPENDLIMIT,
	ST_DELETED_STORAGE,
	ST_COUNT
};

static const char *const status_items[ST_COUNT] = {
        "MESSAGES", "RECENT",        "UIDNEXT",   "UIDVALIDITY", "UNSEEN",          "DELETED",
        "SIZE",     "HIGHESTMODSEQ", "MAILBOXID", "APPENDLIMIT", "DELETED-STORAGE",
};

_Static_assert(ST_COUNT * 2 <= IMAP_STATUS_ITEMS_MAX, "status item list");

int
imap__status_items_parse(struct imap_session *s, const struct imap_arg *arg,
                         struct imap_status_items *items, const char **error_r)
{
	const struct imap_arg *l;
	size_t n;
	items->n = 0;
	if (!imap_arg_get_list(arg, &l, &n) || n == 0 || n > IMAP_STATUS_ITEMS_MAX) {
		*error_r = "Invalid list of STATUS items";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *a;
		unsigned k;
		if (!imap_arg_get_atom(&l[i], &a)) {
			*error_r = "Invalid STATUS item";
			return -1;
		}
		for (k = 0; k < ST_COUNT; k++)
			if (ascii_strcasecmp(a, status_items[k]) == 0)
				break;
		if (k == ST_COUNT) {
			*error_r = "Unknown STATUS item";
			return -1;
		}
		if (k == ST_RECENT && (s->flags & IMAP_SF_REV2)) {
			*error_r = "RECENT is not an IMAP4rev2 STATUS item";
			return -1;
		}
		items->v[items->n++] = (uint8_t)k;
	}
	for (size_t i = 0; i < items->n; i++)
		if (items->v[i] == ST_HIGHESTMODSEQ)
			imap__condstore_enable(s); /* RFC 7162 §3.1 */
	return 0;
}

static int
status_recent(struct store_txn *t, const struct store_mailbox *m, uint32_t *n_r)
{
	struct store_msg_iter *it;
	struct store_msg msg;
	*n_r = 0;
	if (m->first_recent_uid >= m->uidnext)
		return 0;
	if (store_msg_iter_open(t, m->id, MAX(m->first_recent_uid, 1u), m->uidnext - 1, &it) != 0)
		return -1;
	int rc;
	while ((rc = store_msg_iter_next(it, &msg)) == 1)
		(*n_r)++;
	store_msg_iter_close(&it);
	return rc < 0 ? -1 : 0;
}

/* Octets of the \Deleted messages. */
static int
status_deleted_storage(struct store_txn *t, const struct store_mailbox *m, uint64_t *bytes_r)
{
	struct store_msg_iter *it;
	struct store_msg msg;
	*bytes_r = 0;
	if (m->deleted == 0 || m->uidnext <= 1)
		return 0;
	if (store_msg_iter_open(t, m->id, 1, m->uidnext - 1, &it) != 0)
		return -1;
	int rc;
	while ((rc = store_msg_iter_next(it, &msg)) == 1)
		if (msg.flags & MSG_DELETED)
			*bytes_r += msg.size;
	store_msg_iter_close(&it);
	return rc < 0 ? -1 : 0;
}

int
imap__status_write(struct imap_session *s, struct store_txn *t, const struct store_mailbox *m,
                   const struct imap_status_items *items)
{
	uint32_t recent = 0;
	uint64_t deleted_bytes = 0;
	for (size_t i = 0; i < items->n; i++) {
		if (items->v[i] == ST_RECENT && status_recent(t, m, &recent) != 0)
			return -1;
		if (items->v[i] == ST_DELETED_STORAGE &&
		    status_deleted_storage(t, m, &deleted_bytes) != 0)
			return -1;
	}
	struct nbuf line;
	nbuf_init(&line, 8192);
	nbuf_puts(&line, "* STATUS ");
	imap__mailbox_write(s, m->name, &line);
	nbuf_puts(&line, " (");
	for (size_t i = 0; i < items->n; i++) {
		uint64_t v = 0;
		const char *sp = i ? " " : "";
		switch (items->v[i]) {
		case ST_MESSAGES:
			v = m->messages;
			break;
		case ST_RECENT:
			v = recent;
			break;
		case ST_UIDNEXT:
			v = m->uidnext;
			break;
		case ST_UIDVALIDITY:
			v = m->uidvalidity;
			break;
		case ST_UNSEEN:
			v = m->unseen;
			break;
		case ST_DELETED:
			v = m->deleted;
			break;
		case ST_SIZE:
			v = m->size;
			break;
		case ST_HIGHESTMODSEQ:
			v = m->highestmodseq;
			break;
		case ST_APPENDLIMIT:
			v = MIN(imap__message_size_max(), (uint64_t)UINT32_MAX);
			break;
		case ST_DELETED_STORAGE:
			v = imap__kib_up(deleted_bytes);
			break;
		case ST_MAILBOXID: {
			char id[32];
			imap__mailboxid_format(id, sizeof(id), m->id, m->uidvalidity);
			nbuf_printf(&line, "%sMAILBOXID (%s)", sp, id);
			continue;
		}
		}
		nbuf_printf(&line, "%s%s %llu", sp, status_items[items->v[i]],
		            (unsigned long long)v);
	}
	nbuf_puts(&line, ")\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	return 0;
}

void
imap__cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	struct imap_status_items items;
	if (cmd->argc != 2) {
		imap__bad(s, "STATUS takes a mailbox name and a list of items");
		return;
	}
	if (imap__status_items_parse(s, &cmd->args[1], &items, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	if (imap__mailbox_arg(s, &cmd->args[0], 0, name, sizeof(name), &err) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s", err);
		return;
	}
	struct store_txn *t;
	struct store_mailbox m;
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	int rc = store_mailbox_get(t, s->user_id, name, &m);
	if (rc == 1 && imap__status_write(s, t, &m, &items) != 0)
		rc = -1;
	store_read_end(&t);
	if (rc != 1) {
		if (rc < 0)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		else
			imap__no(s, IMAP_CODE_NONEXISTENT, "Mailbox does not exist");
		return;
	}
	imap__ok(s, IMAP_CODE_NONE, "STATUS completed");
}
