/*
 * credentials: what the store keeps of a password, and its on-disk form.
 *
 * A user record carries one opaque blob made by auth_credentials_encode():
 * the Argon2id PHC string (for PLAIN, LOGIN and the plaintext LOGIN/USER
 * commands) and the SCRAM-SHA-256 verifier (salt, iteration count,
 * StoredKey, ServerKey; RFC 5802 §3, RFC 7677). Neither half lets anyone
 * recover the password or log in with SCRAM without it (RFC 5802 §9).
 *
 * The blob comes back from LMDB and from raft peers, so the decoder
 * trusts nothing: every length is checked against a *_MAX, the PHC string
 * must parse with bounded parameters, and a CRC-32C trailer catches
 * corruption. Owner: whoever holds the struct (it holds no pointers).
 */
#ifndef MAILNODE_AUTH_CREDENTIALS_H
#define MAILNODE_AUTH_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "node/lib/crypto.h"

struct nbuf;

#define AUTH_CRED_VERSION 1
/* Longest PHC string kept, NUL excluded. */
#define AUTH_PHC_MAX        255
#define AUTH_SCRAM_SALT_MIN 16
#define AUTH_SCRAM_SALT_MAX 64
/* RFC 7677 §4: at least 4096. The ceiling bounds what a PLAIN fallback
 * verification (and a hostile blob) can cost. */
#define AUTH_SCRAM_ITER_MIN 4096
#define AUTH_SCRAM_ITER_MAX 1000000
/* Largest encoded blob: header, PHC, SCRAM, CRC. */
#define AUTH_CRED_BLOB_MAX (2 + 1 + AUTH_PHC_MAX + 1 + AUTH_SCRAM_SALT_MAX + 4 + 2 * SHA256_LEN + 4)

/* Which halves are present. */
#define AUTH_CRED_ARGON2 0x01
#define AUTH_CRED_SCRAM  0x02

struct auth_credentials {
	unsigned flags;             /* AUTH_CRED_* */
	char phc[AUTH_PHC_MAX + 1]; /* "$argon2id$v=19$m=...,t=...,p=...$salt$hash" */
	uint8_t scram_salt[AUTH_SCRAM_SALT_MAX];
	size_t scram_salt_len;
	uint32_t scram_iterations;
	uint8_t scram_stored_key[SHA256_LEN]; /* H(HMAC(SaltedPassword, "Client Key")) */
	uint8_t scram_server_key[SHA256_LEN]; /* HMAC(SaltedPassword, "Server Key") */
};

/* Append the versioned binary form to b. Returns 0, -EINVAL if cred is not
 * valid itself (nothing appended), or nbuf_append's error. */
int auth_credentials_encode(const struct auth_credentials *cred, struct nbuf *b);

/* Parse a blob of n bytes. Returns 0 and fills *cred_r, or -1 (with
 * *cred_r zeroed) for anything malformed: bad version, flags, lengths,
 * PHC string, iteration count, trailing bytes or checksum. */
int auth_credentials_decode(const void *p, size_t n, struct auth_credentials *cred_r);

/* Check a struct built in memory (the encoder's precondition).
 * Returns 0 or -1. */
int auth_credentials_check(const struct auth_credentials *cred);

/* Overwrite the secrets of *cred. */
void auth_credentials_wipe(struct auth_credentials *cred);

/* CRC-32C (Castagnoli) as used by the blob trailer; exposed for the fuzzer. */
uint32_t auth__crc32c(const void *p, size_t n);

#endif
