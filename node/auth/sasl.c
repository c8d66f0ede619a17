/*
 * sasl: the generic server-side exchange (RFC 4422 §3) shared by every
 * mechanism: selection, the caller's turns (credentials, verification),
 * limits, user name canonicalisation, and the password path of PLAIN and
 * LOGIN. See sasl.h for how a protocol drives it.
 *
 * Failure modes: any malformed or oversized client message, a caller
 * answering out of turn, a step after the outcome: SASL_FAIL with a
 * reason, never an abort. Only a wrong-sized server secret (configuration,
 * checked at start-up) panics.
 *
 * User names (RFC 4422 §4 authcid, authzid): SASLprep'd (RFC 4013, query
 * mode), at most SASL_USERNAME_MAX bytes, the domain after the last '@'
 * lower-cased; lookup is the caller's and case-insensitive. An authzid
 * must name the same identity (no proxy authorisation, RFC 4616 §2).
 *
 * An unknown user takes the same path as a known one: the caller verifies
 * the password against a dummy Argon2id hash with the current parameters
 * (same cost, can never match), so timing does not reveal the account.
 */
#include "node/auth/sasl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/saslprep.h"
#include "node/auth/sasl_private.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

static const struct sasl__mech *const mechs[] = {
        &sasl__mech_scram_sha256,
        &sasl__mech_plain,
        &sasl__mech_login,
};

const char *
sasl_server_mechs(int plaintext_ok)
{
	return plaintext_ok ? "SCRAM-SHA-256 PLAIN LOGIN" : "SCRAM-SHA-256";
}

static const struct sasl__mech *
mech_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(mechs); i++)
		if (ascii_strcasecmp(name, mechs[i]->name) == 0)
			return mechs[i];
	return NULL;
}

int
sasl_mech_is_plaintext(const char *name)
{
	const struct sasl__mech *m = mech_find(name);
	return m == NULL ? -1 : m->plaintext;
}

struct sasl_server *
sasl_server_new(const char *mech_name, const struct sasl_server_params *p)
{
	const struct sasl__mech *m = mech_find(mech_name);
	const char *error;
	if (m == NULL || (m->plaintext && !p->plaintext_ok))
		return NULL;
	if (p->secret == NULL || p->secret_len < SASL_SECRET_MIN || p->secret_len > SASL_SECRET_MAX)
		panic("sasl: server secret must be %d..%d bytes", SASL_SECRET_MIN, SASL_SECRET_MAX);
	struct sasl_server *s = xcalloc(1, sizeof(*s));
	s->mech = m;
	memcpy(s->secret, p->secret, p->secret_len);
	s->secret_len = p->secret_len;
	if (p->pw != NULL)
		s->pw = *p->pw;
	else
		password_params_default(&s->pw);
	if (password_params_check(&s->pw, &error) != 0)
		panic("sasl: %s", error);
	return s;
}

static void
password_wipe(struct sasl_server *s)
{
	if (s->password != NULL) {
		explicit_bzero(s->password, s->password_len);
		free(s->password);
	}
	s->password = NULL;
	s->password_len = 0;
}

void
sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;
	if (s == NULL)
		return;
	if (s->mech->deinit != NULL)
		s->mech->deinit(s);
	password_wipe(s);
	explicit_bzero(s, sizeof(*s));
	free(s);
	*sp = NULL;
}

int
sasl__fail(struct sasl_server *s, enum sasl_fail reason)
{
	s->fail = reason;
	return SASL_FAIL;
}

int
sasl__emit(struct sasl_server *s, struct nbuf *out, const void *p, size_t n)
{
	if (nbuf_append(out, p, n) != 0) {
		s->fail = SASL_FAIL_INTERNAL;
		return -1;
	}
	return 0;
}

/* Prepare and canonicalise into name_r (SASL_USERNAME_MAX + 1 bytes). */
static int
canonical_name(const char *raw, size_t len, char *name_r)
{
	char prep[SASL_USERNAME_MAX + 1];
	size_t plen;
	const char *error;
	if (len == 0 || len > SASL_USERNAME_MAX ||
	    saslprep_prepare(raw, len, 0, prep, &plen, &error) != 0 || plen == 0)
		return -1;
	char *at = strrchr(prep, '@');
	if (at != NULL)
		ascii_lower(at + 1);
	memcpy(name_r, prep, plen + 1);
	return 0;
}

int
sasl__set_username(struct sasl_server *s, const char *raw, size_t len)
{
	if (canonical_name(raw, len, s->username) != 0) {
		s->username[0] = '\0';
		s->fail = SASL_FAIL_MALFORMED;
		return -1;
	}
	return 0;
}

int
sasl__check_authzid(struct sasl_server *s, const char *raw, size_t len)
{
	char name[SASL_USERNAME_MAX + 1];
	if (canonical_name(raw, len, name) != 0) {
		s->fail = SASL_FAIL_MALFORMED;
		return -1;
	}
	/* The local part is compared as sent: the store may fold case, we
	 * do not know it does. */
	if (strcmp(name, s->username) != 0) {
		s->fail = SASL_FAIL_AUTHZID;
		return -1;
	}
	return 0;
}

void
sasl__derive(const struct sasl_server *s, const char *label, uint8_t out[SHA256_LEN])
{
	char msg[64 + SASL_USERNAME_MAX];
	size_t l = strlen(label), u = strlen(s->username);
	if (l >= 64)
		panic("sasl: label too long");
	memcpy(msg, label, l);
	msg[l] = '\0';
	memcpy(msg + l + 1, s->username, u);
	hmac_sha256(s->secret, s->secret_len, msg, l + 1 + u, out);
}

/* Argon2id PHC string with the current parameters that no password
 * matches: its "hash" is an HMAC output, not an Argon2 output. */
static int
dummy_credentials(struct sasl_server *s)
{
	struct password_phc phc = {
	        .m_kib = s->pw.argon2_m_kib, .t = s->pw.argon2_t, .p = s->pw.argon2_p};
	uint8_t d[SHA256_LEN];
	memset(&s->cred, 0, sizeof(s->cred));
	sasl__derive(s, "plain-dummy-salt", d);
	memcpy(phc.salt, d, PASSWORD_SALT_LEN);
	phc.salt_len = PASSWORD_SALT_LEN;
	sasl__derive(s, "plain-dummy-hash", d);
	memcpy(phc.hash, d, PASSWORD_HASH_LEN);
	phc.hash_len = PASSWORD_HASH_LEN;
	int rc = password_phc_format(&phc, s->cred.phc, sizeof(s->cred.phc));
	s->cred.flags = AUTH_CRED_ARGON2;
	explicit_bzero(d, sizeof(d));
	return rc < 0 ? -1 : 0;
}

int
sasl__password_start(struct sasl_server *s, const char *pw, size_t len)
{
	if (len == 0 || len > PASSWORD_LEN_MAX || memchr(pw, '\0', len) != NULL)
		return sasl__fail(s, SASL_FAIL_MALFORMED);
	password_wipe(s);
	s->password = xmalloc(len);
	memcpy(s->password, pw, len);
	s->password_len = len;
	return SASL_NEED_CREDENTIALS;
}

int
sasl__password_resume(struct sasl_server *s)
{
	if (s->phase == SASL__PH_CRED_SET) {
		if (!s->user_known && dummy_credentials(s) != 0)
			return sasl__fail(s, SASL_FAIL_INTERNAL);
		return SASL_NEED_VERIFY;
	}
	password_wipe(s);
	if (s->verify_result < 0)
		return sasl__fail(s, SASL_FAIL_INTERNAL);
	if (s->verify_result != 1 || !s->user_known)
		return sasl__fail(s, SASL_FAIL_CREDENTIALS);
	return SASL_OK;
}

int
sasl_server_step(struct sasl_server *s, const void *in, size_t inlen, struct nbuf *challenge_r)
{
	int rc;
	if (s->phase == SASL__PH_DONE)
		return SASL_FAIL;
	if (s->phase == SASL__PH_CREDENTIALS || s->phase == SASL__PH_VERIFY ||
	    (s->phase != SASL__PH_MECH && inlen != 0) || (in == NULL && inlen != 0))
		rc = sasl__fail(s, SASL_FAIL_INTERNAL);
	else if (inlen > SASL_INPUT_MAX)
		rc = sasl__fail(s, SASL_FAIL_MALFORMED);
	else
		rc = s->mech->step(s, in, inlen, challenge_r);
	s->started = 1;
	switch (rc) {
	case SASL_CONTINUE:
		s->phase = SASL__PH_MECH;
		break;
	case SASL_NEED_CREDENTIALS:
		s->phase = SASL__PH_CREDENTIALS;
		break;
	case SASL_NEED_VERIFY:
		s->phase = SASL__PH_VERIFY;
		break;
	case SASL_OK:
		s->authenticated = 1;
		s->phase = SASL__PH_DONE;
		break;
	default:
		rc = SASL_FAIL;
		if (s->fail == SASL_FAIL_NONE)
			s->fail = SASL_FAIL_INTERNAL;
		password_wipe(s);
		s->phase = SASL__PH_DONE;
		break;
	}
	return rc;
}

int
sasl_server_cancel(struct sasl_server *s)
{
	password_wipe(s);
	s->phase = SASL__PH_DONE;
	s->authenticated = 0;
	return SASL_CANCEL;
}

const char *
sasl_server_username(const struct sasl_server *s)
{
	return s->username[0] != '\0' ? s->username : NULL;
}

const char *
sasl_server_authzid(const struct sasl_server *s)
{
	return s->authenticated ? s->username : NULL;
}

const char *
sasl_server_mech_name(const struct sasl_server *s)
{
	return s->mech->name;
}

int
sasl_server_set_credentials(struct sasl_server *s, const struct auth_credentials *cred)
{
	if (s->phase != SASL__PH_CREDENTIALS)
		return -1;
	if (cred != NULL && auth_credentials_check(cred) == 0) {
		s->cred = *cred;
		s->user_known = 1;
	} else {
		memset(&s->cred, 0, sizeof(s->cred));
		s->user_known = 0;
	}
	s->phase = SASL__PH_CRED_SET;
	return 0;
}

int
sasl_server_password(const struct sasl_server *s, const char **pw_r, size_t *len_r)
{
	if (s->phase != SASL__PH_VERIFY || s->password == NULL)
		return -1;
	*pw_r = s->password;
	*len_r = s->password_len;
	return 0;
}

const struct auth_credentials *
sasl_server_verify_credentials(const struct sasl_server *s)
{
	return s->phase == SASL__PH_VERIFY ? &s->cred : NULL;
}

int
sasl_server_verify(const struct sasl_server *s)
{
	const char *pw;
	size_t len;
	if (sasl_server_password(s, &pw, &len) != 0)
		return -1;
	return password_verify(&s->cred, pw, len);
}

int
sasl_server_verified(struct sasl_server *s, int result)
{
	if (s->phase != SASL__PH_VERIFY)
		return -1;
	password_wipe(s);
	s->verify_result = result;
	s->phase = SASL__PH_VERIFIED;
	return 0;
}

enum sasl_fail
sasl_server_fail_reason(const struct sasl_server *s)
{
	return s->fail;
}

const char *
sasl_fail_str(enum sasl_fail reason)
{
	switch (reason) {
	case SASL_FAIL_NONE:
		return "none";
	case SASL_FAIL_MALFORMED:
		return "malformed";
	case SASL_FAIL_CREDENTIALS:
		return "credentials";
	case SASL_FAIL_AUTHZID:
		return "authzid";
	case SASL_FAIL_UNSUPPORTED:
		return "unsupported";
	case SASL_FAIL_INTERNAL:
		return "internal";
	}
	return "unknown";
}

int
sasl_server_test_set_nonce(struct sasl_server *s, const char *nonce)
{
	size_t n = strlen(nonce);
	if (n == 0 || n >= sizeof(s->test_nonce))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (nonce[i] < 0x21 || nonce[i] > 0x7E || nonce[i] == ',')
			return -1;
	memcpy(s->test_nonce, nonce, n + 1);
	return 0;
}
