/*
 * sasl_private: what sasl.c shares with the mechanism files
 * (sasl_plain.c, sasl_login.c, sasl_scram.c). Not for other modules.
 *
 * sasl.c owns the generic phase (whose turn it is: the mechanism's, or
 * the caller's for credentials or verification) and the checks common to
 * every step; a mechanism owns its own state enum and parser. A mechanism
 * step is only called in SASL__PH_MECH (a client message, inlen bounded by
 * SASL_INPUT_MAX) or, with no input, in SASL__PH_CRED_SET and
 * SASL__PH_VERIFIED (the caller answered).
 */
#ifndef MAILNODE_AUTH_SASL_PRIVATE_H
#define MAILNODE_AUTH_SASL_PRIVATE_H

#include "node/auth/password.h"
#include "node/auth/sasl.h"

struct nbuf;
struct sasl_scram;

enum sasl__phase {
	SASL__PH_MECH,        /* waiting for a client message */
	SASL__PH_CREDENTIALS, /* SASL_NEED_CREDENTIALS returned, no answer yet */
	SASL__PH_CRED_SET,    /* credentials given, next step resumes */
	SASL__PH_VERIFY,      /* SASL_NEED_VERIFY returned, no answer yet */
	SASL__PH_VERIFIED,    /* verification result given, next step resumes */
	SASL__PH_DONE,
};

struct sasl__mech {
	const char *name;
	int plaintext; /* sends the password in the clear */
	int (*step)(struct sasl_server *s, const unsigned char *in, size_t inlen, struct nbuf *out);
	void (*deinit)(struct sasl_server *s);
};

struct sasl_server {
	const struct sasl__mech *mech;
	enum sasl__phase phase;
	enum sasl_fail fail;
	int started; /* a step has been taken */
	int authenticated;

	uint8_t secret[SASL_SECRET_MAX];
	size_t secret_len;
	struct password_params pw;

	char username[SASL_USERNAME_MAX + 1]; /* "" until known */
	int user_known;                       /* credentials were found */
	struct auth_credentials cred;         /* found, or a dummy */

	char *password; /* PLAIN/LOGIN, heap, wiped; NULL outside VERIFY */
	size_t password_len;
	int verify_result;

	char test_nonce[64]; /* "" unless set by the test hook */

	/* mechanism state */
	int login_state;
	struct sasl_scram *scram;
};

extern const struct sasl__mech sasl__mech_plain;
extern const struct sasl__mech sasl__mech_login;
extern const struct sasl__mech sasl__mech_scram_sha256;

/* Record reason and return SASL_FAIL. */
int sasl__fail(struct sasl_server *s, enum sasl_fail reason);
/* Append n bytes to the challenge. Returns 0, or -1 (reason INTERNAL set). */
int sasl__emit(struct sasl_server *s, struct nbuf *out, const void *p, size_t n);
/* Prepare and canonicalise a user name into s->username.
 * Returns 0, or -1 (reason MALFORMED set). */
int sasl__set_username(struct sasl_server *s, const char *raw, size_t len);
/* Is an authzid the same identity as s->username? Returns 0, or -1
 * (reason AUTHZID or MALFORMED set). */
int sasl__check_authzid(struct sasl_server *s, const char *raw, size_t len);
/* PLAIN and LOGIN once both user name and password are known: keep the
 * password and return SASL_NEED_CREDENTIALS (or SASL_FAIL). */
int sasl__password_start(struct sasl_server *s, const char *pw, size_t len);
/* PLAIN and LOGIN after the caller answered. */
int sasl__password_resume(struct sasl_server *s);
/* HMAC(secret, label NUL username), for values that must look real for an
 * unknown user and stay the same across attempts. */
void sasl__derive(const struct sasl_server *s, const char *label, uint8_t out[SHA256_LEN]);

#endif
