/*
 * sasl_login: the obsolete LOGIN mechanism, server side
 * (draft-murchison-sasl-login-00), for clients that know nothing better.
 *
 * Happy path: challenge "Username:", response user name; challenge
 * "Password:", response password; then the shared password path of
 * sasl.c. A client may send the user name as the initial response (as
 * Outlook does with SMTP AUTH LOGIN), which skips the first challenge.
 * XXX draft-murchison-sasl-login §2.1: the draft suggests "User Name" and
 * "Password" as challenges; we send the "Username:" and "Password:" that
 * deployed clients expect (the draft says clients ignore the contents).
 * Failure modes: an empty response, a NUL, a user name over
 * SASL_USERNAME_MAX or refused by SASLprep, a password over
 * PASSWORD_LEN_MAX: SASL_FAIL_MALFORMED. No authzid exists here.
 */
#include <string.h>

#include "node/auth/sasl_private.h"

enum login_state {
	LOGIN_USER = 0, /* "Username:" sent or to send */
	LOGIN_PASS,     /* "Password:" sent */
};

#define CHALLENGE_USER "Username:"
#define CHALLENGE_PASS "Password:"

static int
login_step(struct sasl_server *s, const unsigned char *in, size_t inlen, struct nbuf *out)
{
	if (s->phase != SASL__PH_MECH)
		return sasl__password_resume(s);
	if (s->login_state == LOGIN_USER && !s->started && inlen == 0) {
		if (sasl__emit(s, out, CHALLENGE_USER, strlen(CHALLENGE_USER)) != 0)
			return SASL_FAIL;
		return SASL_CONTINUE;
	}
	if (s->login_state == LOGIN_USER) {
		if (inlen == 0 || memchr(in, '\0', inlen) != NULL)
			return sasl__fail(s, SASL_FAIL_MALFORMED);
		if (sasl__set_username(s, (const char *)in, inlen) != 0)
			return SASL_FAIL;
		if (sasl__emit(s, out, CHALLENGE_PASS, strlen(CHALLENGE_PASS)) != 0)
			return SASL_FAIL;
		s->login_state = LOGIN_PASS;
		return SASL_CONTINUE;
	}
	return sasl__password_start(s, (const char *)in, inlen);
}

const struct sasl__mech sasl__mech_login = {
        .name = "LOGIN",
        .plaintext = 1,
        .step = login_step,
};
