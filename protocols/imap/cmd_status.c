/*
 * cmd_status: STATUS (RFC 3501 §6.3.10): MESSAGES, RECENT, UIDNEXT,
 * UIDVALIDITY, UNSEEN, and DELETED (RFC 9051 §6.3.11) and SIZE
 * (RFC 8438), all from the mailbox record's counters except RECENT, which
 * counts the messages from first_recent_uid on.
 *
 * Failure modes: unknown item or malformed list -> BAD; no such mailbox
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
	ST_COUNT
};

static const char *const status_items[ST_COUNT] = {
        "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE",
};

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

void
imap__cmd_status(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	const struct imap_arg *items;
	size_t n;
	unsigned order[ST_COUNT * 2];
	size_t norder = 0;
	if (cmd->argc != 2 || !imap_arg_get_list(&cmd->args[1], &items, &n) || n == 0 ||
	    n > ARRAY_SIZE(order)) {
		imap__bad(s, "STATUS takes a mailbox name and a list of items");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const char *a;
		unsigned k;
		if (!imap_arg_get_atom(&items[i], &a)) {
			imap__bad(s, "Invalid STATUS item");
			return;
		}
		for (k = 0; k < ST_COUNT; k++)
			if (ascii_strcasecmp(a, status_items[k]) == 0)
				break;
		if (k == ST_COUNT) {
			imap__bad(s, "Unknown STATUS item %.64s", a);
			return;
		}
		order[norder++] = k;
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
	uint32_t recent = 0;
	if (rc == 1)
		for (size_t i = 0; i < norder; i++)
			if (order[i] == ST_RECENT && status_recent(t, &m, &recent) != 0)
				rc = -1;
	store_read_end(&t);
	if (rc != 1) {
		if (rc < 0)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		else
			imap__no(s, IMAP_CODE_NONEXISTENT, "Mailbox does not exist");
		return;
	}
	struct nbuf line;
	nbuf_init(&line, 8192);
	nbuf_puts(&line, "* STATUS ");
	imap__mailbox_write(s, name, &line);
	nbuf_puts(&line, " (");
	for (size_t i = 0; i < norder; i++) {
		uint64_t v = 0;
		switch (order[i]) {
		case ST_MESSAGES:
			v = m.messages;
			break;
		case ST_RECENT:
			v = recent;
			break;
		case ST_UIDNEXT:
			v = m.uidnext;
			break;
		case ST_UIDVALIDITY:
			v = m.uidvalidity;
			break;
		case ST_UNSEEN:
			v = m.unseen;
			break;
		case ST_DELETED:
			v = m.deleted;
			break;
		case ST_SIZE:
			v = m.size;
			break;
		}
		nbuf_printf(&line, "%s%s %llu", i ? " " : "", status_items[order[i]],
		            (unsigned long long)v);
	}
	nbuf_puts(&line, ")\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	imap__ok(s, IMAP_CODE_NONE, "STATUS completed");
}
