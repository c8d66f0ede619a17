/*
 * cmd_quota: the QUOTA extension (RFC 9208): GETQUOTA (§4.1.1),
 * GETQUOTAROOT (§4.1.2), and SETQUOTA (§4.1.3), which is refused.
 *
 * Each user has one quota root, IMAP_QUOTA_ROOT, over all of their
 * mailboxes, with the resources STORAGE (in units of 1024 octets, §5.1)
 * and MESSAGE (§5.2). The limits are the user record's (quota_bytes,
 * quota_msgs) or, where that is 0, the cluster defaults quota.storage and
 * quota.messages; 0 there too means no limit, and a resource without a
 * limit is not listed. A user with no limit at all has no quota root:
 * GETQUOTAROOT names none and GETQUOTA of the root is NO [NONEXISTENT].
 * The usage is the store's per-user counter (store_usage_get), which every
 * apply() keeps exact; apply() also refuses an APPEND, COPY or REPLACE
 * over a limit, which the commands answer NO [OVERQUOTA] (§4.3).
 * XXX RFC 9208 §5.1: the usage is rounded up and the limit down to whole
 * units of 1024 octets, so that the client sees usage >= limit whenever
 * the store would refuse for storage.
 *
 * SETQUOTA: quotas are set by the operator ("mailnode quota set"), not by
 * users: a well-formed SETQUOTA is NO [NOPERM], and QUOTASET is not
 * advertised (§3.2).
 *
 * Failure modes: malformed arguments -> BAD; no such mailbox -> NO
 * [NONEXISTENT]; the store cannot answer -> NO [UNAVAILABLE].
 */
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"

#define IMAP_QUOTA_ROOT "User quota"

struct quota {
	uint64_t bytes, msgs; /* limits, 0: none */
	uint64_t used_bytes, used_msgs;
};

/* The session user's limits and usage. Returns 1 with a quota root (some
 * limit), 0 without, -1 on a store error. */
static int
quota_get(struct imap_session *s, struct store_txn *t, struct quota *q)
{
	struct store_user u;
	struct store_usage us;
	memset(q, 0, sizeof(*q));
	if (store_user_get(t, s->user, &u) != 1 || store_usage_get(t, s->user_id, &us) < 0)
		return -1;
	q->bytes = u.quota_bytes ? u.quota_bytes : store_config_u64(t, "quota.storage", 0);
	q->msgs = u.quota_msgs ? u.quota_msgs : store_config_u64(t, "quota.messages", 0);
	q->used_bytes = us.bytes;
	q->used_msgs = us.messages;
	return q->bytes != 0 || q->msgs != 0;
}

static void
quota_write(struct imap_session *s, const struct quota *q)
{
	struct nbuf line;
	nbuf_init(&line, 512);
	nbuf_puts(&line, "* QUOTA ");
	imap__string_write(IMAP_QUOTA_ROOT, strlen(IMAP_QUOTA_ROOT), &line);
	nbuf_puts(&line, " (");
	if (q->bytes)
		nbuf_printf(&line, "STORAGE %llu %llu",
		            (unsigned long long)imap__kib_up(q->used_bytes),
		            (unsigned long long)(q->bytes / 1024));
	if (q->msgs)
		nbuf_printf(&line, "%sMESSAGE %llu %llu", q->bytes ? " " : "",
		            (unsigned long long)q->used_msgs, (unsigned long long)q->msgs);
	nbuf_puts(&line, ")\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
}

void
imap__cmd_getquota(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *root;
	size_t len;
	struct quota q;
	struct store_txn *t;
	if (cmd->argc != 1 || !imap_arg_get_astring(&cmd->args[0], &root, &len)) {
		imap__bad(s, "GETQUOTA takes a quota root name");
		return;
	}
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the quota now");
		return;
	}
	int rc = quota_get(s, t, &q);
	store_read_end(&t);
	if (rc < 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the quota now");
		return;
	}
	if (rc == 0 || len != strlen(IMAP_QUOTA_ROOT) || memcmp(root, IMAP_QUOTA_ROOT, len) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "No such quota root");
		return;
	}
	quota_write(s, &q);
	imap__ok(s, IMAP_CODE_NONE, "GETQUOTA completed");
}

void
imap__cmd_getquotaroot(struct imap_session *s, const struct imap_cmd *cmd)
{
	char name[SCHEMA_NAME_MAX + 1];
	const char *err;
	struct store_mailbox m;
	struct quota q;
	struct store_txn *t;
	const char *str;
	size_t len;
	if (cmd->argc != 1 || !imap_arg_get_astring(&cmd->args[0], &str, &len)) {
		imap__bad(s, "GETQUOTAROOT takes a mailbox name");
		return;
	}
	if (imap__mailbox_arg(s, &cmd->args[0], 0, name, sizeof(name), &err) != 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "%s", err);
		return;
	}
	if (store_read_begin(imap__store(), &t) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the quota now");
		return;
	}
	int rc = store_mailbox_get(t, s->user_id, name, &m);
	int qrc = rc == 1 ? quota_get(s, t, &q) : 0;
	store_read_end(&t);
	if (rc < 0 || qrc < 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the quota now");
		return;
	}
	if (rc == 0) {
		imap__no(s, IMAP_CODE_NONEXISTENT, "Mailbox does not exist");
		return;
	}
	struct nbuf line;
	nbuf_init(&line, 8192);
	nbuf_puts(&line, "* QUOTAROOT ");
	imap__mailbox_write(s, name, &line);
	if (qrc == 1) {
		nbuf_puts(&line, " ");
		imap__string_write(IMAP_QUOTA_ROOT, strlen(IMAP_QUOTA_ROOT), &line);
	}
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	if (qrc == 1)
		quota_write(s, &q);
	imap__ok(s, IMAP_CODE_NONE, "GETQUOTAROOT completed");
}

void
imap__cmd_setquota(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *root;
	size_t len, n;
	const struct imap_arg *l;
	/* setquota = "SETQUOTA" SP quota_root_name SP setquota_list */
	if (cmd->argc != 2 || !imap_arg_get_astring(&cmd->args[0], &root, &len) ||
	    !imap_arg_get_list(&cmd->args[1], &l, &n) || n % 2 != 0) {
		imap__bad(s, "SETQUOTA takes a quota root and a list of resource limits");
		return;
	}
	for (size_t i = 0; i < n; i += 2) {
		const char *res;
		uint64_t v;
		if (!imap_arg_get_atom(&l[i], &res) ||
		    !imap_arg_get_number(&l[i + 1], INT64_MAX, &v)) {
			imap__bad(s, "Invalid resource limit");
			return;
		}
	}
	imap__no(s, IMAP_CODE_NOPERM, "Quotas are set by the administrator");
}
