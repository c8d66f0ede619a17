/*
 * Fuzz the credentials blob decoder (bytes from LMDB and raft peers).
 *
 * Each input is decoded twice: as it is, and re-sealed with a correct
 * CRC-32C so that mutations reach the fields behind the checksum. A blob
 * that decodes must be valid, must encode back to the very same bytes
 * (one blob per credential), and is then used: rehash decision, and a
 * verification when its Argon2 cost is small.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/credentials.h"
#include "node/auth/password.h"
#include "node/lib/nbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *blob, size_t n)
{
	struct auth_credentials c;
	struct password_params def;
	struct password_phc phc;
	struct nbuf b;

	if (auth_credentials_decode(blob, n, &c) != 0)
		return;
	if (auth_credentials_check(&c) != 0)
		abort();
	nbuf_init(&b, AUTH_CRED_BLOB_MAX);
	if (auth_credentials_encode(&c, &b) != 0 || nbuf_avail(&b) != n ||
	    memcmp(nbuf_head(&b), blob, n) != 0)
		abort();
	nbuf_deinit(&b);
	password_params_default(&def);
	if (password_needs_rehash(&c, &def) < 0)
		abort();
	if ((c.flags & AUTH_CRED_ARGON2) && password_phc_parse(c.phc, strlen(c.phc), &phc) == 0 &&
	    (uint64_t)phc.m_kib * phc.t <= 256 && password_verify(&c, "pencil", 6) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sealed[AUTH_CRED_BLOB_MAX];
	check(data, size);
	if (size < 6 || size > sizeof(sealed))
		return 0;
	memcpy(sealed, data, size);
	uint32_t crc = auth__crc32c(sealed, size - 4);
	sealed[size - 4] = (uint8_t)(crc >> 24);
	sealed[size - 3] = (uint8_t)(crc >> 16);
	sealed[size - 2] = (uint8_t)(crc >> 8);
	sealed[size - 1] = (uint8_t)crc;
	check(sealed, size);
	return 0;
}
