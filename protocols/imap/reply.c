/*
 * reply: the IMAP session's output: the capability list for its state,
 * response codes (RFC 3501 §7.1, RFC 5530, RFC 4315 §3, RFC 7889), and
 * the tagged, untagged and BYE responses (RFC 3501 §7, §7.1.5).
 *
 * Happy path: a command writes its untagged data, then one of
 * imap__ok/no/bad, which first reports what changed in the selected
 * mailbox as the command allows (view.c: no EXPUNGE with FETCH, STORE or
 * SEARCH, §7.4.1), writes the tagged line and ends the command.
 *
 * Failure modes: output goes to the connection's bounded buffer; a client
 * that never reads is closed by the connection layer, not here. A reply
 * text longer than IMAP_REPLY_MAX is cut (response codes are not).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "protocols/imap/imap_private.h"

/* --- capabilities ---------------------------------------------------- */

void
imap__capability_write(struct imap_session *s, struct nbuf *out)
{
	struct conn *c = s->conn;
	/* RFC 9051: IMAP4rev2 beside IMAP4rev1, chosen with ENABLE (§6.3.1) */
	nbuf_puts(out, "IMAP4rev1 IMAP4rev2 SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN "
	               "UIDPLUS MOVE SPECIAL-USE CREATE-SPECIAL-USE LIST-EXTENDED XLIST");
	/* RFC 7162, 8438, 5819, 9208 (no QUOTASET: SETQUOTA is refused), 8514,
	 * 8508, 8474 (MAILBOXID, EMAILID, THREADID from References,
	 * In-Reply-To and Message-ID at APPEND; SEARCH EMAILID and THREADID,
	 * §6) */
	nbuf_puts(out, " CONDSTORE QRESYNC STATUS=SIZE LIST-STATUS QUOTA QUOTA=RES-STORAGE"
	               " QUOTA=RES-MESSAGE SAVEDATE REPLACE OBJECTID");
	/* RFC 4731, 5182, 5032, 5256, 5957, 5267 (UPDATE for record-only
	 * SEARCH programs: see context.c), 8970 */
	nbuf_puts(out, " ESEARCH SEARCHRES WITHIN SORT SORT=DISPLAY ESORT CONTEXT=SEARCH"
	               " CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES PREVIEW");
	/* RFC 3516, 3502, 4469, 6855, 4467 */
	nbuf_puts(out, " BINARY MULTIAPPEND CATENATE UTF8=ACCEPT URLAUTH");
	if (s->state == IMAP_S_NOAUTH) {
		int plain = login_plaintext_ok(c);
		/* Before authentication the parser takes {n+} up to 4096 bytes
		 * only: that is LITERAL- (RFC 7888 §5). */
		nbuf_puts(out, " LITERAL-");
		if (!conn_is_tls(c) && node_get() && node_get()->tls_server)
			nbuf_puts(out, " STARTTLS");
		if (!plain)
			nbuf_puts(out, " LOGINDISABLED");
		const char *m = login_mechs(plain);
		while (*m) {
			size_t n = strcspn(m, " ");
			nbuf_puts(out, " AUTH=");
			nbuf_append(out, m, n);
			m += n;
			m += strspn(m, " ");
		}
		return;
	}
	nbuf_printf(out, " LITERAL+ APPENDLIMIT=%llu",
	            (unsigned long long)MIN(imap__message_size_max(), (uint64_t)UINT32_MAX));
	/* RFC 8437: only meaningful once authenticated. RFC 4978: COMPRESS
	 * is a command-auth (§5). */
	nbuf_puts(out, " UNAUTHENTICATE COMPRESS=DEFLATE");
}

/* --- replies --------------------------------------------------------- */

const char *
imap__code_name(enum imap_code c)
{
	static const char *const names[] = {
	        [IMAP_CODE_NONE] = NULL,
	        [IMAP_CODE_TOOBIG] = "TOOBIG",
	        [IMAP_CODE_TRYCREATE] = "TRYCREATE",
	        [IMAP_CODE_NONEXISTENT] = "NONEXISTENT",
	        [IMAP_CODE_ALREADYEXISTS] = "ALREADYEXISTS",
	        [IMAP_CODE_CANNOT] = "CANNOT",
	        [IMAP_CODE_UNAVAILABLE] = "UNAVAILABLE",
	        [IMAP_CODE_SERVERBUG] = "SERVERBUG",
	        [IMAP_CODE_LIMIT] = "LIMIT",
	        [IMAP_CODE_OVERQUOTA] = "OVERQUOTA",
	        [IMAP_CODE_READONLY] = "READ-ONLY",
	        [IMAP_CODE_READWRITE] = "READ-WRITE",
	        [IMAP_CODE_EXPUNGEISSUED] = "EXPUNGEISSUED",
	        [IMAP_CODE_AUTHFAILED] = "AUTHENTICATIONFAILED",
	        [IMAP_CODE_PRIVACYREQUIRED] = "PRIVACYREQUIRED",
	        [IMAP_CODE_CLIENTBUG] = "CLIENTBUG",
	        [IMAP_CODE_USEATTR] = "USEATTR",
	        [IMAP_CODE_NOPERM] = "NOPERM",
	        [IMAP_CODE_INUSE] = "INUSE",
	        [IMAP_CODE_CONTACTADMIN] = "CONTACTADMIN",
	        [IMAP_CODE_BADURL] = "BADURL",
	        [IMAP_CODE_UNKNOWNCTE] = "UNKNOWN-CTE",
	        [IMAP_CODE_COMPRESSIONACTIVE] = "COMPRESSIONACTIVE",
	};
	return (size_t)c < ARRAY_SIZE(names) ? names[c] : NULL;
}

void
imap__write(struct imap_session *s, const void *p, size_t n)
{
	conn_write(s->conn, p, n);
}

static void
imap_vline(struct imap_session *s, const char *tag, const char *status, const char *code,
           const char *fmt, va_list ap)
{
	char buf[IMAP_REPLY_MAX];
	struct conn *c = s->conn;
	/* The code may be long (COPYUID of many messages): written apart. */
	conn_puts(c, tag);
	conn_puts(c, " ");
	conn_puts(c, status);
	if (code != NULL) {
		conn_puts(c, " [");
		conn_puts(c, code);
		conn_puts(c, "]");
	}
	int m = vsnprintf(buf, sizeof(buf) - 3, fmt, ap);
	size_t len = m < 0 ? 0 : MIN((size_t)m, sizeof(buf) - 4);
	conn_puts(c, " ");
	memcpy(buf + len, "\r\n", 2);
	conn_write(c, buf, len + 2);
}

void
imap__untagged(struct imap_session *s, const char *fmt, ...)
{
	char buf[IMAP_REPLY_MAX];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(buf, sizeof(buf) - 4, fmt, ap);
	va_end(ap);
	size_t len = m < 0 ? 0 : MIN((size_t)m, sizeof(buf) - 5);
	conn_write(s->conn, "* ", 2);
	memcpy(buf + len, "\r\n", 2);
	conn_write(s->conn, buf, len + 2);
}

static void
imap_tagged(struct imap_session *s, const char *status, const char *code, const char *fmt,
            va_list ap)
{
	const char *tag = s->cmd ? s->cmd->tag : s->saved_tag ? s->saved_tag : "*";
	if (s->state == IMAP_S_SELECTED && s->def && !(s->def->flags & DEF_NOSYNC) &&
	    strcmp(status, "BAD") != 0) {
		unsigned f = (s->def->flags & DEF_NOEXP) ? 0 : IMAP_SYNC_EXPUNGE;
		if (s->cmd && s->cmd->uid)
			f |= IMAP_SYNC_UID;
		imap__view_sync(s, f, 0);
		imap__view_hms_report(s, (s->def->flags & DEF_NOEXP) != 0);
	}
	imap_vline(s, tag, status, code, fmt, ap);
	free(s->saved_tag);
	s->saved_tag = NULL;
	imap__cmd_end(s);
}

void
imap__ok(struct imap_session *s, enum imap_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_tagged(s, "OK", imap__code_name(code), fmt, ap);
	va_end(ap);
}

void
imap__ok_code(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_tagged(s, "OK", code, fmt, ap);
	va_end(ap);
}

void
imap__no_code(struct imap_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_tagged(s, "NO", code, fmt, ap);
	va_end(ap);
}

void
imap__no(struct imap_session *s, enum imap_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_tagged(s, "NO", imap__code_name(code), fmt, ap);
	va_end(ap);
}

void
imap__bad(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_tagged(s, "BAD", NULL, fmt, ap);
	va_end(ap);
}

void
imap__bye(struct imap_session *s, const char *reason, const char *fmt, ...)
{
	if (fmt != NULL && !conn_closing(s->conn)) {
		va_list ap;
		va_start(ap, fmt);
		imap_vline(s, "*", "BYE", NULL, fmt, ap);
		va_end(ap);
	}
	if (s->end_reason == NULL || strcmp(s->end_reason, "disconnect") == 0)
		s->end_reason = reason;
	s->state = IMAP_S_LOGOUT;
	conn_close(s->conn);
}

int
imap__output_full(struct imap_session *s)
{
	if (conn_pending(s->conn) < CONN_HIGH_WATER)
		return 0;
	conn_flush(s->conn);
	return conn_pending(s->conn) >= CONN_HIGH_WATER;
}
