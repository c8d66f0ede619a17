/*
 * sasl: server side of SASL (RFC 4422) for IMAP AUTHENTICATE (RFC 3501
 * §6.2.2, SASL-IR RFC 4959), POP3 AUTH (RFC 5034) and ManageSieve
 * AUTHENTICATE (RFC 5804 §2.1). Mechanisms: PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC 7677).
 *
 * The protocol layer does base64 and framing, detects the client's "*"
 * (cancel) and owns the connection; a mechanism sees decoded bytes and
 * does no I/O. A session drives one exchange like this:
 *
 *	s = sasl_server_new(name, &params);        NULL: answer "unsupported"
 *	rc = sasl_server_step(s, ir, irlen, &ch);  irlen 0: no initial response
 *	for (;;) switch (rc) {
 *	case SASL_CONTINUE:          send ch as a challenge; on the reply:
 *		rc = sasl_server_step(s, reply, len, &ch);
 *	case SASL_NEED_CREDENTIALS:  look up sasl_server_username(s)
 *		(case-insensitively), sasl_server_set_credentials(s, found ? &c : NULL),
 *		rc = sasl_server_step(s, NULL, 0, &ch);
 *	case SASL_NEED_VERIFY:       in the thread pool:
 *		ok = sasl_server_verify(s);  (or password_verify() on the accessors)
 *		back on the loop: sasl_server_verified(s, ok);
 *		rc = sasl_server_step(s, NULL, 0, &ch);
 *	case SASL_OK:     authenticated as sasl_server_username(s); if ch is
 *		not empty it is additional data (SCRAM's "v=..."): a continuation
 *		then the tagged OK in IMAP, or the OK's data where SASL-IR allows.
 *	case SASL_FAIL:   sasl_server_fail_reason(s); ch may hold SCRAM's
 *		"e=..." server-error, which a protocol may send or drop.
 *	}
 *	sasl_server_free(&s);
 *
 * The same path is taken whether the user exists or not: PLAIN and LOGIN
 * verify against a dummy Argon2id hash, SCRAM answers with a salt derived
 * from the user name and the server secret, so neither the replies nor
 * their timing tell whether an account exists.
 *
 * Owner: the session that created the object. Between SASL_NEED_VERIFY and
 * sasl_server_verified() the thread pool reads it; the loop must not touch
 * it then. Not otherwise thread-safe.
 */
#ifndef MAILNODE_AUTH_SASL_H
#define MAILNODE_AUTH_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "node/auth/credentials.h"

struct nbuf;
struct password_params;

/* Longest decoded client message accepted by any mechanism. */
#define SASL_INPUT_MAX 8192
/* Longest challenge or additional data we produce; size challenge
 * buffers (nbuf max) at least this. */
#define SASL_CHALLENGE_MAX 1024
/* Longest user name (authcid, authzid) after preparation, in bytes. */
#define SASL_USERNAME_MAX 255
/* Server secret for SCRAM's fake salts: 16..64 bytes. */
#define SASL_SECRET_MIN 16
#define SASL_SECRET_MAX 64

enum sasl_status {
	SASL_OK = 0,
	SASL_CONTINUE = 1,
	SASL_NEED_CREDENTIALS = 2,
	SASL_NEED_VERIFY = 3,
	SASL_FAIL = -1,
	SASL_CANCEL = -2,
};

enum sasl_fail {
	SASL_FAIL_NONE = 0,
	SASL_FAIL_MALFORMED,   /* syntax, limits, encoding; also misuse by the caller */
	SASL_FAIL_CREDENTIALS, /* unknown user or wrong password: never say which */
	SASL_FAIL_AUTHZID,     /* authzid differs from authcid: no proxy authorisation */
	SASL_FAIL_UNSUPPORTED, /* channel binding, mandatory extension */
	SASL_FAIL_INTERNAL,    /* randomness, hashing or buffer failure on our side */
};

struct sasl_server_params {
	/* SASL_SECRET_MIN..MAX bytes, the same on every node and stable
	 * across restarts (SCRAM's fake salt for an unknown user must not
	 * change, or comparing two answers reveals the user is unknown). */
	const uint8_t *secret;
	size_t secret_len;
	/* TLS is on, or plaintext authentication is allowed on this
	 * connection: PLAIN and LOGIN may be used. */
	int plaintext_ok;
	/* Current hashing parameters (dummy hash, fake iteration count);
	 * NULL for password_params_default(). */
	const struct password_params *pw;
};

struct sasl_server;

/* Mechanisms to advertise, space-separated, strongest first. */
const char *sasl_server_mechs(int plaintext_ok);
/* Does the mechanism send the password in the clear? 1 yes, 0 no, -1 unknown. */
int sasl_mech_is_plaintext(const char *name);

/* Start an exchange (name case-insensitive). Returns NULL if the
 * mechanism is unknown, or is PLAIN/LOGIN and !p->plaintext_ok. p->secret
 * is copied. Panics on a secret of the wrong size (configuration bug). */
struct sasl_server *sasl_server_new(const char *mech_name, const struct sasl_server_params *p);
/* Wipe and free; sets *s to NULL. */
void sasl_server_free(struct sasl_server **s);

/* Feed one decoded client message; challenge or additional data, if any,
 * is appended to challenge_r. Returns an enum sasl_status. Once SASL_OK,
 * SASL_FAIL or SASL_CANCEL has been returned, every later call fails. */
int sasl_server_step(struct sasl_server *s, const void *in, size_t inlen, struct nbuf *challenge_r);

/* The client sent "*": end the exchange. Returns SASL_CANCEL. */
int sasl_server_cancel(struct sasl_server *s);

/* Canonical user name (authcid): SASLprep'd, domain part lower-cased.
 * NULL until known. Owned by s. */
const char *sasl_server_username(const struct sasl_server *s);
/* Authorisation identity: equal to the user name (proxy authorisation is
 * refused), NULL until authenticated. */
const char *sasl_server_authzid(const struct sasl_server *s);
const char *sasl_server_mech_name(const struct sasl_server *s);

/* Answer SASL_NEED_CREDENTIALS: the user's credentials (copied), or NULL
 * for an unknown user; credentials failing auth_credentials_check() count
 * as unknown (decoded blobs always pass). Returns 0, or -1 when not
 * expected. */
int sasl_server_set_credentials(struct sasl_server *s, const struct auth_credentials *cred);

/* During SASL_NEED_VERIFY: the password the client sent (not prepared;
 * password_verify does that) and the credentials to check it against
 * (a dummy for an unknown user). Return 0, or -1 when not in that state. */
int sasl_server_password(const struct sasl_server *s, const char **pw_r, size_t *len_r);
const struct auth_credentials *sasl_server_verify_credentials(const struct sasl_server *s);
/* password_verify() of the two above; blocking, for the thread pool. */
int sasl_server_verify(const struct sasl_server *s);
/* Answer SASL_NEED_VERIFY with password_verify()'s result (1, 0, -1).
 * The password is wiped. Returns 0, or -1 when not expected. */
int sasl_server_verified(struct sasl_server *s, int result);

enum sasl_fail sasl_server_fail_reason(const struct sasl_server *s);
const char *sasl_fail_str(enum sasl_fail reason);

/* Tests only: use this server nonce (printable, no ',') instead of a
 * random one. Returns 0 or -1. */
int sasl_server_test_set_nonce(struct sasl_server *s, const char *nonce);

#endif
