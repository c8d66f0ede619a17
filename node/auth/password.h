/*
 * password: setting and checking passwords.
 *
 * password_hash() prepares the password (SASLprep, stored mode), then
 * derives both halves of struct auth_credentials: an Argon2id hash (RFC
 * 9106) in the PHC string format, its parameters beside it so they can be
 * raised later, and the SCRAM-SHA-256 verifier (RFC 5802 §3, RFC 7677).
 * password_verify() prepares the offered password (query mode) and checks
 * it against the Argon2id hash with the parameters read from the string,
 * or against the SCRAM StoredKey when only that half exists.
 *
 * Thread-safety: every function here is reentrant (no static state; the
 * caller's memory only; libargon2 and libcrypto are thread-safe), so
 * hashing and verification run in libuv's thread pool. They are slow on
 * purpose: never call password_hash() or password_verify() on the loop.
 */
#ifndef MAILNODE_AUTH_PASSWORD_H
#define MAILNODE_AUTH_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "node/auth/credentials.h"

/* Longest password accepted, in bytes, before preparation. */
#define PASSWORD_LEN_MAX 1024

/* Argon2id: the salt and hash we make, and the bounds a stored PHC string
 * must respect (memory in KiB). The maxima cap what one verification of a
 * hostile or corrupt record can cost. */
#define PASSWORD_SALT_LEN       16
#define PASSWORD_HASH_LEN       32
#define PASSWORD_PHC_SALT_MIN   8
#define PASSWORD_PHC_SALT_MAX   64
#define PASSWORD_PHC_HASH_MIN   16
#define PASSWORD_PHC_HASH_MAX   64
#define PASSWORD_ARGON2_M_MIN   8
#define PASSWORD_ARGON2_M_MAX   (1u << 20)
#define PASSWORD_ARGON2_T_MAX   16
#define PASSWORD_ARGON2_P_MAX   16
#define PASSWORD_SCRAM_SALT_LEN 16

/* Defaults: about 120 ms per verification on one core of the 2-core
 * reference machine (AMD EPYC, measured in tests/unit/test_password.c). */
#define PASSWORD_DEFAULT_M_KIB   65536
#define PASSWORD_DEFAULT_T       3
#define PASSWORD_DEFAULT_P       1
#define PASSWORD_DEFAULT_SCRAM_I 10000

struct password_params {
	uint32_t argon2_m_kib;     /* memory, KiB */
	uint32_t argon2_t;         /* passes */
	uint32_t argon2_p;         /* lanes (and threads) */
	uint32_t scram_iterations; /* PBKDF2 count for SCRAM-SHA-256 */
};

/* The parsed form of "$argon2id$v=19$m=M,t=T,p=P$<salt>$<hash>". */
struct password_phc {
	uint32_t m_kib, t, p;
	uint8_t salt[PASSWORD_PHC_SALT_MAX];
	size_t salt_len;
	uint8_t hash[PASSWORD_PHC_HASH_MAX];
	size_t hash_len;
};

void password_params_default(struct password_params *p_r);
/* Returns 0, or -1 with *error_r when a value is out of bounds. */
int password_params_check(const struct password_params *p, const char **error_r);

/* Parse a PHC string of n bytes strictly (canonical numbers and base64,
 * bounds above, version 19 only). Returns 0 or -1. */
int password_phc_parse(const char *s, size_t n, struct password_phc *phc_r);
/* Write the PHC string of phc into out (size bytes, NUL included).
 * Returns its length, or -1 if it does not fit or phc is out of bounds. */
int password_phc_format(const struct password_phc *phc, char *out, size_t size);

/* May this be set as a password? Not empty, at most PASSWORD_LEN_MAX
 * bytes, no NUL, valid UTF-8 that SASLprep accepts as a stored string and
 * that does not prepare to nothing. Returns 0, or -1 with *error_r. */
int password_policy_check(const char *pw, size_t len, const char **error_r);

/* Derive new credentials for pw (a fresh random Argon2 salt and SCRAM
 * salt). Returns 0; -EINVAL if the password fails the policy or params
 * are out of bounds; -EIO if randomness or hashing failed. *cred_r is
 * zeroed on error. */
int password_hash(const char *pw, size_t len, const struct password_params *p,
                  struct auth_credentials *cred_r);

/* Derive only the SCRAM half with a given salt and count (imports, tests:
 * RFC 7677's example). Sets AUTH_CRED_SCRAM in cred->flags and keeps the
 * rest of *cred. Returns 0, -EINVAL or -EIO as password_hash(). */
int password_scram_derive(const char *pw, size_t len, const uint8_t *salt, size_t saltlen,
                          uint32_t iterations, struct auth_credentials *cred);

/* Check pw against cred. Returns 1 match, 0 mismatch (including a
 * password no policy would allow), -1 error (credentials malformed or
 * empty, out of memory). The comparison is constant-time. */
int password_verify(const struct auth_credentials *cred, const char *pw, size_t len);

/* Does cred use weaker parameters than p (Argon2 memory, passes, hash or
 * salt length; SCRAM count), or miss a half? Returns 1 yes, 0 no, -1 if
 * cred is malformed. Check it after a successful verification, when the
 * plaintext is at hand to hash again. */
int password_needs_rehash(const struct auth_credentials *cred, const struct password_params *p);

#endif
