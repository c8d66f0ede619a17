/*
 * credentials: the binary form of struct auth_credentials.
 *
 * Version 1, all integers big-endian:
 *
 *   u8 version (1) · u8 flags (AUTH_CRED_ARGON2 | AUTH_CRED_SCRAM, not 0)
 *   if ARGON2: u8 len (1..AUTH_PHC_MAX) · PHC string, no NUL
 *   if SCRAM:  u8 salt_len (16..64) · salt · u32 iterations (4096..1e6)
 *              · StoredKey[32] · ServerKey[32]
 *   u32 CRC-32C of all the bytes before it
 *
 * Nothing else: no trailing bytes. The decoder checks every length against
 * what is left before reading it, then the checksum, then the meaning
 * (the PHC string must parse with bounded parameters). A later version
 * gets a new version byte and its own branch in the decoder.
 */
#include "node/auth/credentials.h"

#include <errno.h>
#include <string.h>

#include "node/auth/password.h"
#include "node/lib/nbuf.h"

uint32_t
auth__crc32c(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		crc ^= b[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
auth_credentials_check(const struct auth_credentials *cred)
{
	struct password_phc phc;
	if (cred->flags == 0 || (cred->flags & ~(unsigned)(AUTH_CRED_ARGON2 | AUTH_CRED_SCRAM)))
		return -1;
	if (cred->flags & AUTH_CRED_ARGON2) {
		size_t len = strnlen(cred->phc, sizeof(cred->phc));
		if (len == 0 || len > AUTH_PHC_MAX || password_phc_parse(cred->phc, len, &phc) != 0)
			return -1;
		explicit_bzero(&phc, sizeof(phc));
	}
	if ((cred->flags & AUTH_CRED_SCRAM) && (cred->scram_salt_len < AUTH_SCRAM_SALT_MIN ||
	                                        cred->scram_salt_len > AUTH_SCRAM_SALT_MAX ||
	                                        cred->scram_iterations < AUTH_SCRAM_ITER_MIN ||
	                                        cred->scram_iterations > AUTH_SCRAM_ITER_MAX))
		return -1;
	return 0;
}

int
auth_credentials_encode(const struct auth_credentials *cred, struct nbuf *b)
{
	uint8_t blob[AUTH_CRED_BLOB_MAX];
	size_t n = 0;
	if (auth_credentials_check(cred) != 0)
		return -EINVAL;
	blob[n++] = AUTH_CRED_VERSION;
	blob[n++] = (uint8_t)cred->flags;
	if (cred->flags & AUTH_CRED_ARGON2) {
		size_t len = strlen(cred->phc);
		blob[n++] = (uint8_t)len;
		memcpy(blob + n, cred->phc, len);
		n += len;
	}
	if (cred->flags & AUTH_CRED_SCRAM) {
		blob[n++] = (uint8_t)cred->scram_salt_len;
		memcpy(blob + n, cred->scram_salt, cred->scram_salt_len);
		n += cred->scram_salt_len;
		put32(blob + n, cred->scram_iterations);
		n += 4;
		memcpy(blob + n, cred->scram_stored_key, SHA256_LEN);
		n += SHA256_LEN;
		memcpy(blob + n, cred->scram_server_key, SHA256_LEN);
		n += SHA256_LEN;
	}
	put32(blob + n, auth__crc32c(blob, n));
	n += 4;
	int rc = nbuf_append(b, blob, n);
	explicit_bzero(blob, sizeof(blob));
	return rc;
}

int
auth_credentials_decode(const void *p, size_t n, struct auth_credentials *cred_r)
{
	const uint8_t *b = p;
	size_t pos = 2;

	memset(cred_r, 0, sizeof(*cred_r));
	if (n < 2 + 4 || n > AUTH_CRED_BLOB_MAX || b[0] != AUTH_CRED_VERSION)
		return -1;
	if (get32(b + n - 4) != auth__crc32c(b, n - 4))
		return -1;
	n -= 4; /* the checksum is not data */
	cred_r->flags = b[1];
	if (cred_r->flags == 0 || (cred_r->flags & ~(unsigned)(AUTH_CRED_ARGON2 | AUTH_CRED_SCRAM)))
		goto err;
	if (cred_r->flags & AUTH_CRED_ARGON2) {
		if (pos >= n)
			goto err;
		size_t len = b[pos++];
		if (len == 0 || len > AUTH_PHC_MAX || len > n - pos)
			goto err;
		if (memchr(b + pos, '\0', len) != NULL)
			goto err;
		memcpy(cred_r->phc, b + pos, len);
		cred_r->phc[len] = '\0';
		pos += len;
	}
	if (cred_r->flags & AUTH_CRED_SCRAM) {
		if (pos >= n)
			goto err;
		size_t len = b[pos++];
		if (len < AUTH_SCRAM_SALT_MIN || len > AUTH_SCRAM_SALT_MAX ||
		    n - pos < len + 4 + 2 * SHA256_LEN)
			goto err;
		memcpy(cred_r->scram_salt, b + pos, len);
		cred_r->scram_salt_len = len;
		pos += len;
		cred_r->scram_iterations = get32(b + pos);
		pos += 4;
		memcpy(cred_r->scram_stored_key, b + pos, SHA256_LEN);
		pos += SHA256_LEN;
		memcpy(cred_r->scram_server_key, b + pos, SHA256_LEN);
		pos += SHA256_LEN;
	}
	if (pos != n || auth_credentials_check(cred_r) != 0)
		goto err;
	return 0;
err:
	auth_credentials_wipe(cred_r);
	return -1;
}

void
auth_credentials_wipe(struct auth_credentials *cred)
{
	explicit_bzero(cred, sizeof(*cred));
}
