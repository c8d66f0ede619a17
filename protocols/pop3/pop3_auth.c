/*
 * pop3_auth: the AUTHORIZATION state (RFC 1939 §4): CAPA (RFC 2449 §5),
 * USER/PASS (RFC 1939 §7), AUTH (RFC 5034 §4), STLS (RFC 2595 §4), and
 * entering TRANSACTION with a snapshot of INBOX.
 *
 * Happy path: USER then PASS, or AUTH with or without an initial response
 * and any number of "+ challenge" / response rounds, go to node/login.h,
 * which checks the credentials off the loop and throttles guessing; on
 * success the INBOX snapshot is taken and the +OK says how much is there.
 *
 * Failure modes: wrong credentials -> -ERR [AUTH] (RFC 3206 §4,
 * AUTH-RESP-CODE), the third one closes the connection; the store cannot
 * answer -> -ERR [SYS/TEMP]; a login within pop3.login_delay seconds of
 * the last one on this node -> -ERR [LOGIN-DELAY] (RFC 2449 §8.1.2), given
 * only after the credentials were verified so that it tells an attacker
 * nothing. "*" cancels an exchange. USER/PASS and PLAIN/LOGIN are refused
 * without TLS except from loopback (login_plaintext_ok), and then not
 * advertised. APOP is not offered.
 *
 * SASL additional data with success (SCRAM's server signature) is sent as
 * a last "+" challenge that the client answers with an empty line, since
 * RFC 5034's +OK carries none.
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "protocols/pop3/pop3_delay.h"
#include "protocols/pop3/pop3_private.h"

/* Longest mechanism name we look up (SCRAM-SHA-256-PLUS is 19). */
#define POP3_MECH_MAX 32
/* LOGIN-DELAY and EXPIRE values taken from the configuration. */
#define POP3_LOGIN_DELAY_MAX (366u * 86400)
#define POP3_EXPIRE_MAX      10

static void pop3_login_cb(void *arg, int status, const uint8_t *data, size_t len,
                          const struct login_user *u);

/* --- CAPA ------------------------------------------------------------ */

/* pop3.expire as RFC 2449 §6.7 wants it: days, or NEVER. */
static int
pop3_expire_get(struct pop3_session *s, char *buf, size_t n)
{
	if (pop3__config(s, "pop3.expire", buf, n) != 1)
		return 0;
	if (ascii_strcasecmp(buf, "never") == 0) {
		snprintf(buf, n, "NEVER");
		return 1;
	}
	uint64_t days;
	return parse_u64(buf, UINT32_MAX, &days) == 0 && strlen(buf) <= POP3_EXPIRE_MAX;
}

void
pop3__capa(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct conn *c = s->conn;
	int plain = login_plaintext_ok(c);
	char expire[32];
	uint64_t delay = MIN(pop3__config_u64(s, "pop3.login_delay", 0), POP3_LOGIN_DELAY_MAX);

	pop3__ok(s, "Capability list follows");
	conn_puts(c, "TOP\r\nUIDL\r\n");
	if (plain)
		conn_puts(c, "USER\r\n");
	conn_printf(c, "SASL %s\r\n", login_mechs(plain));
	conn_puts(c, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (s->state == POP3_S_AUTHORIZATION && !conn_is_tls(c) && s->node->tls_server)
		conn_puts(c, "STLS\r\n");
	if (delay > 0)
		conn_printf(c, "LOGIN-DELAY %llu\r\n", (unsigned long long)delay);
	if (pop3_expire_get(s, expire, sizeof(expire)))
		conn_printf(c, "EXPIRE %s\r\n", expire);
	conn_puts(c, "IMPLEMENTATION mailnode\r\n.\r\n");
}

/* --- STLS ------------------------------------------------------------ */

void
pop3__stls(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (conn_is_tls(s->conn)) {
		pop3__err(s, NULL, "TLS is already active");
		return;
	}
	if (s->node->tls_server == NULL) {
		pop3__err(s, "SYS/PERM", "TLS is not available");
		return;
	}
	s->have_user = 0;
	explicit_bzero(s->user, sizeof(s->user));
	pop3__ok(s, "Begin TLS negotiation");
	/* Discards whatever the client pipelined after STLS in plaintext. */
	if (conn_start_tls(s->conn, s->node->tls_server, 1) != 0)
		pop3__close(s, "tls-failed");
}

/* --- ending an exchange ---------------------------------------------- */

/* The login object gave its final answer: free it, later if we are inside
 * a login call (it is touched again on the way out). */
static void
pop3_login_finished(struct pop3_session *s)
{
	if (s->in_login_call)
		s->login_finished = 1;
	else
		login_free(&s->login);
}

static void
pop3_auth_fail(struct pop3_session *s, const char *why)
{
	if (++s->auth_failures >= POP3_AUTH_FAILURES_MAX) {
		pop3__err(s, "AUTH", "%s; too many failures, closing", why);
		pop3__close(s, "auth-failures");
		return;
	}
	pop3__err(s, "AUTH", "%s", why);
}

/* Credentials are good: take the snapshot and enter TRANSACTION. */
static void
pop3_login_ok(struct pop3_session *s, const struct login_user *u)
{
	const char *err;
	int temp;
	uint64_t delay = MIN(pop3__config_u64(s, "pop3.login_delay", 0), POP3_LOGIN_DELAY_MAX);

	if (pop3_maildrop_load(&s->md, s->node->store, u->id, POP3_MSGS_MAX, &err, &temp) != 0) {
		log_warn("pop3", "event=maildrop-failed user=%s peer=%s error=\"%s\"", u->address,
		         s->conn->peer, err);
		pop3__err(s, temp ? "SYS/TEMP" : "SYS/PERM", "Cannot open the mailbox: %s", err);
		return;
	}
	if (!pop3_delay_admit(pop3__delay(), u->id, now_mono_ms(), delay * 1000)) {
		pop3_maildrop_deinit(&s->md);
		log_info("pop3", "event=login-delay user=%s peer=%s delay_s=%llu", u->address,
		         s->conn->peer, (unsigned long long)delay);
		pop3__err(s, "LOGIN-DELAY", "Minimum time between logins (%llu s) not elapsed",
		          (unsigned long long)delay);
		return;
	}
	s->u = *u;
	s->state = POP3_S_TRANSACTION;
	if (s->md.hidden)
		log_info("pop3", "event=maildrop-truncated user=%s shown=%u hidden=%u", u->address,
		         s->md.n, s->md.hidden);
	pop3__ok(s, "Logged in, %u messages (%llu octets)", s->md.n,
	         (unsigned long long)s->md.size);
}

/* "+ base64" (RFC 5034 §4; "+ " alone for an empty challenge). */
static void
pop3_challenge(struct pop3_session *s, const uint8_t *data, size_t len)
{
	char *b = xmalloc(base64_encoded_len(len) + 1);
	base64_encode(data, len, b);
	conn_printf(s->conn, "+ %s\r\n", b);
	free(b);
}

static void
pop3_login_cb(void *arg, int status, const uint8_t *data, size_t len, const struct login_user *u)
{
	struct pop3_session *s = arg;
	if (status == LOGIN_CONTINUE) {
		pop3_challenge(s, data, len);
		s->sasl = POP3_SASL_RESPONSE;
		pop3__done_waiting(s);
		return;
	}
	/* u and data live in the login object: free it only afterwards. */
	switch (status) {
	case LOGIN_OK:
		if (len > 0) {
			pop3_challenge(s, data, len);
			s->sasl_user = *u;
			s->sasl = POP3_SASL_FINAL;
		} else {
			pop3_login_ok(s, u);
		}
		break;
	case LOGIN_FAIL:
		pop3_auth_fail(s, "Authentication failed");
		break;
	case LOGIN_MALFORMED:
		pop3_auth_fail(s, "Invalid authentication exchange");
		break;
	default:
		pop3__err(s, "SYS/TEMP", "Cannot check credentials now, try again later");
		break;
	}
	pop3_login_finished(s);
	pop3__done_waiting(s);
}

/* Feed the exchange; the callback answers (maybe before this returns). */
static void
pop3_login_step(struct pop3_session *s, const uint8_t *data, size_t len, int has_data)
{
	pop3__wait(s, POP3_W_LOGIN);
	s->in_login_call = 1;
	login_step(s->login, data, len, has_data);
	s->in_login_call = 0;
	if (s->login_finished) {
		s->login_finished = 0;
		login_free(&s->login);
	}
}

void
pop3__auth_release(struct pop3_session *s)
{
	login_free(&s->login);
	explicit_bzero(s->user, sizeof(s->user));
}

/* --- USER / PASS ----------------------------------------------------- */

static int
pop3_plaintext_refused(struct pop3_session *s)
{
	if (login_plaintext_ok(s->conn))
		return 0;
	pop3__err(s, "AUTH", "Plaintext authentication is disallowed without TLS (use STLS)");
	return 1;
}

void
pop3__user(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (pop3_plaintext_refused(s))
		return;
	if (cmd->args[0].len > CMD_ADDRESS_MAX) {
		pop3__err(s, NULL, "User name too long");
		return;
	}
	memcpy(s->user, cmd->args[0].p, cmd->args[0].len);
	s->user[cmd->args[0].len] = '\0';
	s->have_user = 1;
	/* Whether the user exists is PASS's to find out, quietly. */
	pop3__ok(s, "Send the password");
}

void
pop3__pass(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	if (!s->have_user) {
		pop3__err(s, NULL, "USER first");
		return;
	}
	s->have_user = 0;
	if (pop3_plaintext_refused(s))
		return;
	pop3__wait(s, POP3_W_LOGIN);
	s->in_login_call = 1;
	struct login *l = login_password(s->user, cmd->rest.p, cmd->rest.len, s->conn, "pop3",
	                                 pop3_login_cb, s);
	s->in_login_call = 0;
	explicit_bzero(s->user, sizeof(s->user));
	if (l == NULL) {
		pop3__err(s, "SYS/TEMP", "Cannot check credentials now, try again later");
		pop3__done_waiting(s);
	} else if (s->login_finished) {
		s->login_finished = 0;
		login_free(&l);
	} else {
		s->login = l;
	}
}

/* --- AUTH ------------------------------------------------------------ */

/* Decode a base64 client message ("=" is an empty initial response).
 * Returns the length, or -1. */
static long
pop3_decode(const char *p, size_t len, int initial, uint8_t *out)
{
	if (initial && len == 1 && p[0] == '=')
		return 0;
	if (len == 0)
		return initial ? -1 : 0;
	return base64_decode(p, len, out);
}

/* Is mech one of the space-separated names in list? */
static int
pop3_mech_listed(const char *list, const char *mech)
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

static void
pop3_auth_list(struct pop3_session *s)
{
	const char *m = login_mechs(login_plaintext_ok(s->conn));
	pop3__ok(s, "Available mechanisms follow");
	while (*m) {
		size_t n = strcspn(m, " ");
		conn_write(s->conn, m, n);
		conn_puts(s->conn, "\r\n");
		m += n;
		m += strspn(m, " ");
	}
	conn_puts(s->conn, ".\r\n");
}

void
pop3__auth(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	/* Static: one loop thread; wiped after use. */
	static uint8_t buf[POP3_SASL_LINE_MAX];
	char mech[POP3_MECH_MAX + 1];

	if (cmd->nargs == 0) {
		/* Not in RFC 5034, but clients probe with it. */
		pop3_auth_list(s);
		return;
	}
	s->have_user = 0;
	int plain = login_plaintext_ok(s->conn);
	size_t mlen = MIN(cmd->args[0].len, (size_t)POP3_MECH_MAX);
	memcpy(mech, cmd->args[0].p, mlen);
	mech[mlen] = '\0';
	s->login = cmd->args[0].len <= POP3_MECH_MAX
	                   ? login_sasl(mech, plain, s->conn, "pop3", pop3_login_cb, s)
	                   : NULL;
	if (s->login == NULL) {
		if (!plain && cmd->args[0].len <= POP3_MECH_MAX &&
		    pop3_mech_listed(login_mechs(1), mech))
			pop3__err(s, "AUTH", "Plaintext mechanisms are disallowed without TLS");
		else
			pop3__err(s, NULL, "Unsupported authentication mechanism");
		return;
	}
	long n = 0;
	if (cmd->nargs == 2 && (n = pop3_decode(cmd->args[1].p, cmd->args[1].len, 1, buf)) < 0) {
		login_free(&s->login);
		pop3_auth_fail(s, "Invalid base64 in the initial response");
		return;
	}
	pop3_login_step(s, buf, (size_t)n, cmd->nargs == 2);
	explicit_bzero(buf, (size_t)n);
}

void
pop3__sasl_line(struct pop3_session *s, const char *line, size_t len)
{
	static uint8_t buf[POP3_SASL_LINE_MAX];
	enum pop3_sasl was = s->sasl;

	s->sasl = POP3_SASL_NONE;
	if (line != NULL && len == 1 && line[0] == '*') {
		login_free(&s->login);
		pop3__err(s, NULL, "Authentication cancelled");
		return;
	}
	if (line == NULL) {
		login_free(&s->login);
		pop3_auth_fail(s, "Authentication response too long");
		return;
	}
	if (was == POP3_SASL_FINAL) {
		if (len == 0)
			pop3_login_ok(s, &s->sasl_user);
		else
			pop3_auth_fail(s, "Expected an empty response");
		return;
	}
	long n = pop3_decode(line, len, 0, buf);
	if (n < 0) {
		login_free(&s->login);
		pop3_auth_fail(s, "Invalid base64 in the response");
		return;
	}
	pop3_login_step(s, buf, (size_t)n, 1);
	explicit_bzero(buf, (size_t)n);
}
