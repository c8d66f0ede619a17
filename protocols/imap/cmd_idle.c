/*
 * cmd_idle: IDLE (RFC 2177).
 *
 * Happy path: pending changes are reported, "+ idling" is sent, and the
 * session waits for "DONE" with everything it can spare released: the
 * parser (the tag is kept apart), the connection's buffers and TLS record
 * buffers, and the view's seq->UID array (rebuilt from the store when a
 * change needs sequence numbers). The store's change notification for the
 * mailbox (on every commit, whichever node received the write) reports
 * EXISTS, EXPUNGE and FETCH FLAGS at once. The connection sweep's idle
 * timeout sends "* OK Still here" every imap.idle_keepalive seconds so
 * that NAT boxes and clients see traffic; IDLE itself never times out.
 *
 * Failure modes: anything but "DONE" ends IDLE with BAD (RFC 2177 §3).
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "protocols/imap/imap_private.h"

void
imap__cmd_idle(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "IDLE takes no arguments");
		return;
	}
	if (s->sel && imap__view_sync(s, IMAP_SYNC_EXPUNGE, 0) != 0)
		return; /* the mailbox went away: BYE sent */
	conn_puts(s->conn, "+ idling\r\n");
	s->saved_tag = xstrdup(cmd->tag);
	s->cmd = NULL; /* its arguments go with the parser */
	s->wait = IMAP_W_IDLE;
	uint64_t k = imap__config_u64("imap.idle_keepalive", IMAP_KEEPALIVE_DEFAULT_S);
	conn_set_timeout(s->conn, (uint32_t)(MIN(MAX(k, 1u), 3600u) * 1000));
	imap__view_release(s);
}

static void
idle_end_timeout(struct imap_session *s)
{
	uint64_t t = imap__config_u64("imap.idle_timeout", IMAP_IDLE_TIMEOUT_DEFAULT_S);
	conn_set_timeout(s->conn, (uint32_t)(MIN(MAX(t, 1u), 86400u) * 1000));
	conn_touch(s->conn);
}

void
imap__idle_line(struct imap_session *s, const char *line, size_t len)
{
	idle_end_timeout(s);
	if (line != NULL && len == 4 && ascii_strncasecmp(line, "DONE", 4) == 0) {
		imap__ok(s, IMAP_CODE_NONE, "IDLE terminated");
		return;
	}
	imap__bad(s, "Expected DONE to end IDLE");
}

void
imap__idle_keepalive(struct imap_session *s)
{
	conn_puts(s->conn, "* OK Still here\r\n");
}
