/*
 * sasl_plain: the PLAIN mechanism, server side (RFC 4616).
 *
 * Happy path: one client message, exactly
 *
 *	message = [authzid] UTF8NUL authcid UTF8NUL passwd     (RFC 4616 §2)
 *
 * (sent as the initial response, or after an empty challenge), then the
 * shared password path of sasl.c: credentials lookup, verification in the
 * thread pool, outcome.
 * Failure modes: fewer or more than two NULs, an empty authcid or passwd,
 * an authcid or authzid over SASL_USERNAME_MAX or refused by SASLprep, a
 * passwd over PASSWORD_LEN_MAX: SASL_FAIL_MALFORMED. An authzid naming
 * another identity: SASL_FAIL_AUTHZID (no proxy authorisation, §2 allows
 * the server to refuse). RFC 4616 §4 gives the examples the tests replay.
 */
#include <string.h>

#include "node/auth/sasl_private.h"

static int
plain_step(struct sasl_server *s, const unsigned char *in, size_t inlen, struct nbuf *out)
{
	if (s->phase != SASL__PH_MECH)
		return sasl__password_resume(s);
	if (!s->started && inlen == 0)
		return SASL_CONTINUE; /* RFC 4422 §5: an empty challenge */

	const char *msg = (const char *)in, *end = msg + inlen;
	const char *nul1 = memchr(msg, '\0', inlen);
	if (nul1 == NULL)
		return sasl__fail(s, SASL_FAIL_MALFORMED);
	const char *authcid = nul1 + 1;
	const char *nul2 = memchr(authcid, '\0', (size_t)(end - authcid));
	if (nul2 == NULL)
		return sasl__fail(s, SASL_FAIL_MALFORMED);
	const char *passwd = nul2 + 1;
	size_t zlen = (size_t)(nul1 - msg), clen = (size_t)(nul2 - authcid),
	       plen = (size_t)(end - passwd);
	/* A third NUL is refused by sasl__password_start. */
	if (clen == 0 || plen == 0)
		return sasl__fail(s, SASL_FAIL_MALFORMED);
	if (sasl__set_username(s, authcid, clen) != 0)
		return SASL_FAIL;
	if (zlen > 0 && sasl__check_authzid(s, msg, zlen) != 0)
		return SASL_FAIL;
	return sasl__password_start(s, passwd, plen);
}

const struct sasl__mech sasl__mech_plain = {
        .name = "PLAIN",
        .plaintext = 1,
        .step = plain_step,
};
