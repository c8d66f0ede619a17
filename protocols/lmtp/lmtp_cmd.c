/*
 * lmtp_cmd: the LMTP commands other than DATA and BDAT.
 *
 *   LHLO     RFC 2033 §4.1 (EHLO's replacement; HELO/EHLO are refused):
 *            resets the transaction, lists the extensions: PIPELINING
 *            (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034), 8BITMIME
 *            (RFC 1652), SIZE (RFC 1870), CHUNKING (RFC 3030), STARTTLS
 *            (RFC 3207, before TLS only), SMTPUTF8 (RFC 6531)
 *   MAIL     RFC 5321 §4.1.1.2; SIZE= over the limit is 552 5.3.4
 *            (RFC 1870 §6.1)
 *   RCPT     RFC 5321 §4.1.1.3; the recipient is resolved at once, so an
 *            unknown one is refused here (550 5.1.1) and only accepted
 *            ones get a reply after the data (RFC 2033 §4.2)
 *   RSET NOOP QUIT HELP   RFC 5321 §4.1.1.5, .9, .10, .8
 *   VRFY     252: we do not say who exists (RFC 5321 §3.5.3); EXPN: 502
 *   STARTTLS RFC 3207 §4: 220, then TLS; what was buffered after the
 *            command is dropped (conn_start_tls) and the client must
 *            send LHLO again (§4.2)
 *
 * A command out of order is 503 5.5.1; a syntax error 501 5.5.4 (or the
 * parser's more precise reply); an unknown one 500 5.5.1. Enhanced codes
 * follow RFC 3463 and are on every reply but the greeting, LHLO's and
 * 354 (RFC 2034 §4).
 */
#include <string.h>

#include "node/delivery.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "protocols/lmtp/lmtp_private.h"

static void
cmd_lhlo(struct lmtp_session *s, const char *arg, size_t len)
{
	if (len == 0) {
		lmtp__reply(s, "501 5.5.4 Syntax: LHLO hostname");
		return;
	}
	if (len > LMTP_DOMAIN_MAX) {
		lmtp__reply(s, "501 5.5.4 Host name too long");
		return;
	}
	size_t word = 0;
	while (word < len && arg[word] != ' ')
		word++;
	memcpy(s->helo, arg, word);
	s->helo[word] = '\0';
	s->state = LMTP_S_READY;
	lmtp__transaction_reset(s);
	s->size_limit = lmtp__size_limit();
	struct node *n = node_get();
	int tls_offer = !conn_is_tls(s->conn) && n != NULL && n->tls_server != NULL;
	lmtp__reply(s, "250-%s", lmtp__host());
	lmtp__reply(s, "250-PIPELINING");
	lmtp__reply(s, "250-ENHANCEDSTATUSCODES");
	lmtp__reply(s, "250-8BITMIME");
	lmtp__reply(s, "250-SIZE %llu", (unsigned long long)s->size_limit);
	lmtp__reply(s, "250-CHUNKING");
	if (tls_offer)
		lmtp__reply(s, "250-STARTTLS");
	lmtp__reply(s, "250 SMTPUTF8");
}

static void
cmd_mail(struct lmtp_session *s, const char *arg, size_t len)
{
	const char *reply;
	if (s->state == LMTP_S_INIT) {
		lmtp__reply(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (s->state != LMTP_S_READY) {
		lmtp__reply(s, "503 5.5.1 Nested MAIL command");
		return;
	}
	struct lmtp_mail m;
	if (lmtp_parse_mail(arg, len, &m, &reply) != 0) {
		lmtp__reply(s, "%s", reply);
		return;
	}
	s->size_limit = lmtp__size_limit();
	if (m.has_size && m.size > s->size_limit) {
		lmtp__reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	s->mail = m;
	s->dlv = delivery_new("lmtp", s->conn->peer, m.address);
	s->state = LMTP_S_MAIL;
	lmtp__reply(s, "250 2.1.0 Sender OK");
}

static void
cmd_rcpt(struct lmtp_session *s, const char *arg, size_t len)
{
	const char *reply;
	if (s->state != LMTP_S_MAIL) {
		lmtp__reply(s, "503 5.5.1 Send MAIL first");
		return;
	}
	if (s->chunking) {
		lmtp__reply(s, "503 5.5.1 RCPT after BDAT");
		return;
	}
	struct lmtp_rcpt r;
	if (lmtp_parse_rcpt(arg, len, s->mail.smtputf8, &r, &reply) != 0) {
		lmtp__reply(s, "%s", reply);
		return;
	}
	if (delivery_rcpt_count(s->dlv) >= LMTP_RCPT_MAX) {
		lmtp__reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	switch (delivery_rcpt_add(s->dlv, r.address, strlen(r.address))) {
	case DELIVERY_OK:
		lmtp__reply(s, "250 2.1.5 <%s> Recipient OK", r.address);
		break;
	case DELIVERY_EUNKNOWN:
		lmtp__reply(s, "550 5.1.1 <%s> User unknown", r.address);
		break;
	case DELIVERY_ELOOP:
		lmtp__reply(s, "550 5.4.6 <%s> Alias expansion too deep", r.address);
		break;
	case DELIVERY_ETOOMANY:
		lmtp__reply(s, "452 4.5.3 <%s> Too many recipients", r.address);
		break;
	default:
		lmtp__reply(s, "451 4.3.0 <%s> Temporary lookup failure", r.address);
		break;
	}
}

static void
cmd_starttls(struct lmtp_session *s, const char *arg, size_t len)
{
	struct node *n = node_get();
	if (len != 0) {
		lmtp__reply(s, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	if (conn_is_tls(s->conn)) {
		lmtp__reply(s, "503 5.5.1 TLS already active");
		return;
	}
	if (s->state == LMTP_S_INIT) {
		lmtp__reply(s, "503 5.5.1 Send LHLO first");
		return;
	}
	if (n == NULL || n->tls_server == NULL) {
		lmtp__reply(s, "454 4.7.0 TLS not available");
		return;
	}
	lmtp__reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 §4.2: forget everything the client told us. */
	lmtp__transaction_reset(s);
	s->state = LMTP_S_INIT;
	s->helo[0] = '\0';
	if (conn_start_tls(s->conn, n->tls_server, 1) != 0)
		conn_abort(s->conn);
}

void
lmtp__dispatch(struct lmtp_session *s, const char *line, size_t len)
{
	enum lmtp_verb verb;
	const char *arg;
	size_t alen;
	lmtp_parse_verb(line, len, &verb, &arg, &alen);
	switch (verb) {
	case LMTP_V_LHLO:
		cmd_lhlo(s, arg, alen);
		break;
	case LMTP_V_HELO:
	case LMTP_V_EHLO:
		lmtp__reply(s, "500 5.5.1 This is LMTP: use LHLO");
		break;
	case LMTP_V_MAIL:
		cmd_mail(s, arg, alen);
		break;
	case LMTP_V_RCPT:
		cmd_rcpt(s, arg, alen);
		break;
	case LMTP_V_DATA:
		lmtp__cmd_data(s, arg, alen);
		break;
	case LMTP_V_BDAT:
		lmtp__cmd_bdat(s, arg, alen);
		break;
	case LMTP_V_RSET:
		lmtp__transaction_reset(s);
		lmtp__reply(s, "250 2.0.0 OK");
		break;
	case LMTP_V_NOOP:
		lmtp__reply(s, "250 2.0.0 OK");
		break;
	case LMTP_V_QUIT:
		lmtp__reply(s, "221 2.0.0 %s closing connection", lmtp__host());
		conn_close(s->conn);
		break;
	case LMTP_V_VRFY:
		lmtp__reply(s, "252 2.0.0 Cannot VRFY user, but will accept message "
		               "and attempt delivery");
		break;
	case LMTP_V_EXPN:
		lmtp__reply(s, "502 5.5.1 EXPN not available");
		break;
	case LMTP_V_HELP:
		lmtp__reply(s, "214 2.0.0 LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS");
		break;
	case LMTP_V_STARTTLS:
		cmd_starttls(s, arg, alen);
		break;
	default:
		lmtp__reply(s, "500 5.5.1 Unknown command");
		break;
	}
}
