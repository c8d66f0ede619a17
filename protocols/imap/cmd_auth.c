/*
 * cmd_auth: the not-authenticated state: STARTTLS (RFC 3501 §6.2.1,
 * RFC 2595 §3.1), LOGIN (§6.2.3), AUTHENTICATE (§6.2.2) with an initial
 * response (SASL-IR, RFC 4959), on node/login.h; and the way back to it,
 * UNAUTHENTICATE (RFC 8437).
 *
 * Happy path: LOGIN or AUTHENTICATE hand the credentials to login.h, which
 * checks them in the thread pool and holds the answer back as the
 * brute-force throttle says; the session waits, its input paused. A SASL
 * challenge is a "+ base64" continuation and the next line answers it;
 * SCRAM's server signature comes as a last "+" that an empty line answers
 * (RFC 3501 §6.2.2 has no success data in OK). Success: OK [CAPABILITY]
 * and the authenticated state with the post-login parser limits.
 *
 * UNAUTHENTICATE (RFC 8437) goes back to the not-authenticated state as if
 * the connection were new (TLS stays): the selected mailbox is closed
 * without expunging, ENABLEd extensions are off, the pre-authentication
 * limits and timeout apply, and another LOGIN or AUTHENTICATE may follow.
 *
 * Failure modes: wrong credentials -> NO [AUTHENTICATIONFAILED] (RFC 5530)
 * after the throttle's delay, IMAP_AUTH_FAILURES_MAX of them close the
 * connection; PLAIN/LOGIN without TLS (unless loopback is allowed) ->
 * NO [PRIVACYREQUIRED] and LOGINDISABLED is advertised; "*" cancels an
 * exchange -> BAD; the store cannot answer -> NO [UNAVAILABLE].
 */
#include <stdlib.h>
#include <string.h>

#include "node/auth/sasl.h"
#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "protocols/imap/imap_private.h"

#define IMAP_MECH_MAX 32

static void auth_login_cb(void *arg, int status, const uint8_t *data, size_t len,
                          const struct login_user *u);

/* --- STARTTLS -------------------------------------------------------- */

void
imap__cmd_starttls(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct node *n = node_get();
	if (cmd->argc != 0) {
		imap__bad(s, "STARTTLS takes no arguments");
		return;
	}
	if (conn_is_tls(s->conn)) {
		imap__bad(s, "TLS is already active");
		return;
	}
	/* COMPRESS stays on across UNAUTHENTICATE; TLS can no longer go
	 * under it (RFC 4978 §4: TLS first, then COMPRESS). */
	if (conn_is_compressed(s->conn)) {
		imap__bad(s, "STARTTLS is not possible after COMPRESS");
		return;
	}
	if (n == NULL || n->tls_server == NULL) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "TLS is not available");
		return;
	}
	imap__ok(s, IMAP_CODE_NONE, "Begin TLS negotiation now");
	/* Flushes the OK, then discards whatever the client pipelined in
	 * plaintext (CVE-2011-0411); the parser holds nothing of it. */
	if (s->parser)
		imap_parser_reset(s->parser);
	if (conn_start_tls(s->conn, n->tls_server, 1) != 0)
		imap__bye(s, "tls-failed", NULL);
}

/* --- the login object ------------------------------------------------ */

static void
auth_login_finished(struct imap_session *s)
{
	if (s->flags & IMAP_SF_IN_LOGIN)
		s->flags |= IMAP_SF_LOGIN_DONE;
	else
		login_free(&s->login);
}

void
imap__auth_release(struct imap_session *s)
{
	login_free(&s->login);
}

static void
auth_ok_reply(struct imap_session *s)
{
	struct nbuf caps;
	nbuf_init(&caps, 4096);
	nbuf_puts(&caps, "CAPABILITY ");
	imap__capability_write(s, &caps);
	nbuf_append(&caps, "", 1);
	imap__ok_code(s, (const char *)nbuf_head(&caps), "Logged in");
	nbuf_deinit(&caps);
}

static void
auth_fail(struct imap_session *s, enum imap_code code, const char *why)
{
	if (code == IMAP_CODE_AUTHFAILED && ++s->auth_failures >= IMAP_AUTH_FAILURES_MAX) {
		imap__no(s, code, "%s", why);
		imap__bye(s, "auth-failures", "Too many authentication failures");
		return;
	}
	imap__no(s, code, "%s", why);
}

static void
auth_challenge(struct imap_session *s, const uint8_t *data, size_t len)
{
	char *b = xmalloc(base64_encoded_len(len) + 1);
	base64_encode(data, len, b);
	conn_printf(s->conn, "+ %s\r\n", b);
	free(b);
	s->wait = IMAP_W_SASL;
	if (!(s->flags & IMAP_SF_DRAIN_WAIT))
		conn_resume(s->conn);
}

static void
auth_login_cb(void *arg, int status, const uint8_t *data, size_t len, const struct login_user *u)
{
	struct imap_session *s = arg;
	if (status == LOGIN_CONTINUE) {
		auth_challenge(s, data, len);
		return;
	}
	s->wait = IMAP_W_NONE;
	switch (status) {
	case LOGIN_OK:
		if (len > 0) {
			/* Keep who it is until the client acknowledges. */
			free(s->user);
			s->user = xstrdup(u->address);
			s->user_id = u->id;
			s->flags |= IMAP_SF_SASL_FINAL;
			auth_challenge(s, data, len);
		} else {
			imap__authenticated(s, u);
			auth_ok_reply(s);
		}
		break;
	case LOGIN_FAIL:
		auth_fail(s, IMAP_CODE_AUTHFAILED, "Authentication failed");
		break;
	case LOGIN_MALFORMED:
		auth_fail(s, IMAP_CODE_AUTHFAILED, "Invalid authentication exchange");
		break;
	default:
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot check credentials now, try again later");
		break;
	}
	auth_login_finished(s);
}

/* Feed the exchange; the callback answers, maybe before this returns. */
static void
auth_step(struct imap_session *s, const uint8_t *data, size_t len, int has_data)
{
	imap__wait(s, IMAP_W_LOGIN);
	s->flags |= IMAP_SF_IN_LOGIN;
	login_step(s->login, data, len, has_data);
	s->flags &= ~(uint32_t)IMAP_SF_IN_LOGIN;
	if (s->flags & IMAP_SF_LOGIN_DONE) {
		s->flags &= ~(uint32_t)IMAP_SF_LOGIN_DONE;
		login_free(&s->login);
	}
}

/* --- LOGIN ----------------------------------------------------------- */

void
imap__cmd_login(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *user, *pw;
	size_t ulen, pwlen;
	if (cmd->argc != 2 || !imap_arg_get_astring(&cmd->args[0], &user, &ulen) ||
	    !imap_arg_get_astring(&cmd->args[1], &pw, &pwlen)) {
		imap__bad(s, "LOGIN takes a user name and a password");
		return;
	}
	if (!login_plaintext_ok(s->conn)) {
		imap__no(s, IMAP_CODE_PRIVACYREQUIRED,
		         "Plaintext authentication is disallowed without TLS (use STARTTLS)");
		return;
	}
	if (ulen > CMD_ADDRESS_MAX || memchr(user, '\0', ulen) != NULL) {
		auth_fail(s, IMAP_CODE_AUTHFAILED, "Authentication failed");
		return;
	}
	imap__wait(s, IMAP_W_LOGIN);
	s->flags |= IMAP_SF_IN_LOGIN;
	struct login *l = login_password(user, pw, pwlen, s->conn, "imap", auth_login_cb, s);
	s->flags &= ~(uint32_t)IMAP_SF_IN_LOGIN;
	explicit_bzero((char *)pw, pwlen);
	if (l == NULL) {
		s->wait = IMAP_W_NONE;
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot check credentials now, try again later");
	} else if (s->flags & IMAP_SF_LOGIN_DONE) {
		s->flags &= ~(uint32_t)IMAP_SF_LOGIN_DONE;
		login_free(&l);
	} else {
		s->login = l;
	}
}

/* --- AUTHENTICATE ---------------------------------------------------- */

static int
mech_listed(const char *list, const char *mech)
{
	size_t len = strlen(mech);
	while (*list) {
		size_t n = strcspn(list, " ");
		if (n == len && ascii_strncasecmp(list, mech, n) == 0)
			return 1;
		list += n;
		list += strspn(list, " ");
	}
	return 0;
}

void
imap__cmd_authenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	/* Static: one loop thread; wiped after use. */
	static uint8_t buf[SASL_INPUT_MAX + 16];
	const char *mech, *ir = NULL;
	size_t irlen = 0;
	if (cmd->argc < 1 || cmd->argc > 2 || !imap_arg_get_atom(&cmd->args[0], &mech) ||
	    (cmd->argc == 2 && !imap_arg_get_astring(&cmd->args[1], &ir, &irlen))) {
		imap__bad(s, "AUTHENTICATE takes a mechanism and an optional initial response");
		return;
	}
	int plain = login_plaintext_ok(s->conn);
	if (strlen(mech) <= IMAP_MECH_MAX)
		s->login = login_sasl(mech, plain, s->conn, "imap", auth_login_cb, s);
	if (s->login == NULL) {
		if (!plain && strlen(mech) <= IMAP_MECH_MAX && mech_listed(login_mechs(1), mech))
			imap__no(s, IMAP_CODE_PRIVACYREQUIRED,
			         "Plaintext mechanisms are disallowed without TLS (use STARTTLS)");
		else
			imap__no(s, IMAP_CODE_NONE, "Unsupported authentication mechanism");
		return;
	}
	long n = 0;
	if (ir != NULL && !(irlen == 1 && ir[0] == '=')) {
		/* RFC 4959 §3: "=" is an empty initial response. */
		if (irlen == 0 || base64_decoded_max(irlen) > sizeof(buf) ||
		    (n = base64_decode(ir, irlen, buf)) < 0) {
			login_free(&s->login);
			imap__bad(s, "Invalid base64 in the initial response");
			return;
		}
	}
	auth_step(s, buf, (size_t)n, ir != NULL);
	explicit_bzero(buf, (size_t)n);
}

void
imap__sasl_line(struct imap_session *s, const char *line, size_t len)
{
	static uint8_t buf[SASL_INPUT_MAX + 16];
	bool final = (s->flags & IMAP_SF_SASL_FINAL) != 0;
	s->flags &= ~(uint32_t)IMAP_SF_SASL_FINAL;
	s->wait = IMAP_W_NONE;
	if (line != NULL && len == 1 && line[0] == '*') {
		login_free(&s->login);
		if (final) {
			free(s->user);
			s->user = NULL;
		}
		imap__bad(s, "Authentication cancelled");
		return;
	}
	if (line == NULL || base64_decoded_max(len) > sizeof(buf)) {
		login_free(&s->login);
		imap__bad(s, "Authentication response too long");
		return;
	}
	if (final) {
		login_free(&s->login);
		if (len != 0) {
			free(s->user);
			s->user = NULL;
			auth_fail(s, IMAP_CODE_AUTHFAILED, "Expected an empty response");
			return;
		}
		struct login_user u = {.id = s->user_id};
		snprintf(u.address, sizeof(u.address), "%s", s->user);
		imap__authenticated(s, &u);
		auth_ok_reply(s);
		return;
	}
	long n = len ? base64_decode(line, len, buf) : 0;
	if (n < 0) {
		login_free(&s->login);
		imap__bad(s, "Invalid base64 in the response");
		return;
	}
	auth_step(s, buf, (size_t)n, 1);
	explicit_bzero(buf, (size_t)n);
}

/* --- UNAUTHENTICATE (RFC 8437) --------------------------------------- */

void
imap__cmd_unauthenticate(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->argc != 0) {
		imap__bad(s, "UNAUTHENTICATE takes no arguments");
		return;
	}
	log_info("imap", "event=unauthenticate user=%s peer=%s", s->user ? s->user : "-",
	         s->conn->peer);
	/* The selected mailbox is left without an expunge, as by UNSELECT. */
	imap__unauthenticated(s);
	imap__ok(s, IMAP_CODE_NONE, "UNAUTHENTICATE completed, now not authenticated");
}
