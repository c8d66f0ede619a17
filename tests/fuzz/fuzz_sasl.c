/*
 * Fuzz the SASL server mechanisms with arbitrary client messages.
 *
 * Input: one control byte, then messages framed as a 2-byte big-endian
 * length and that many bytes (the first message is the initial response;
 * length 0 there means none). Control byte:
 *   bits 0-1  mechanism: 0 PLAIN, 1 LOGIN, 2 and 3 SCRAM-SHA-256
 *   bit 2     answer verification with bit 3 instead of really verifying
 *   bit 4     SCRAM: treat each later message as client-final-message-
 *             without-proof and append the correct proof for "pencil",
 *             so that the success path and the extensions before p= run
 * Fixed credentials: "user" / "pencil", "tim" / "tanstaaftanstaaf"; the
 * server nonce is fixed ("fuzznonce") so the fuzzer can learn it.
 * Invariants checked: challenges stay within SASL_CHALLENGE_MAX, an
 * exchange only succeeds for a known user, and nothing runs after the end.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/password.h"
#include "node/auth/sasl.h"
#include "node/lib/crypto.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NONCE "fuzznonce"

static const struct password_params tiny = {
        .argon2_m_kib = 8, .argon2_t = 1, .argon2_p = 1, .scram_iterations = 4096};
static uint8_t secret[32];
static struct auth_credentials cred_user, cred_tim;
static uint8_t client_key[SHA256_LEN], stored_key[SHA256_LEN];

static void
init(void)
{
	static int done;
	uint8_t salt[16], salted[SHA256_LEN];
	if (done)
		return;
	done = 1;
	memset(secret, 0x42, sizeof(secret));
	memset(salt, 0x5a, sizeof(salt));
	if (password_hash("pencil", 6, &tiny, &cred_user) != 0 ||
	    password_scram_derive("pencil", 6, salt, sizeof(salt), 4096, &cred_user) != 0 ||
	    password_hash("tanstaaftanstaaf", 16, &tiny, &cred_tim) != 0 ||
	    pbkdf2_sha256("pencil", 6, salt, sizeof(salt), 4096, salted, sizeof(salted)) != 0)
		abort();
	hmac_sha256(salted, sizeof(salted), "Client Key", 10, client_key);
	sha256(client_key, sizeof(client_key), stored_key);
}

static const struct auth_credentials *
lookup(const char *name)
{
	if (ascii_strcasecmp(name, "user") == 0)
		return &cred_user;
	if (ascii_strcasecmp(name, "tim") == 0)
		return &cred_tim;
	return NULL;
}

/* Append ",p=" and the proof for "pencil" to the client-final message
 * without proof w; AuthMessage = bare "," sfirst "," w. Returns the
 * length written to out, or 0 if it does not fit. */
static size_t
with_proof(const char *bare, size_t blen, const char *sfirst, size_t slen, const uint8_t *w,
           size_t wlen, char *out, size_t cap)
{
	static char am[3 * SASL_INPUT_MAX];
	uint8_t sig[SHA256_LEN], proof[SHA256_LEN];
	char b64[64];
	if (blen + slen + wlen + 2 > sizeof(am) || wlen + 3 + 44 > cap)
		return 0;
	memcpy(am, bare, blen);
	am[blen] = ',';
	memcpy(am + blen + 1, sfirst, slen);
	am[blen + 1 + slen] = ',';
	memcpy(am + blen + 2 + slen, w, wlen);
	hmac_sha256(stored_key, SHA256_LEN, am, blen + slen + wlen + 2, sig);
	for (int i = 0; i < SHA256_LEN; i++)
		proof[i] = client_key[i] ^ sig[i];
	base64_encode(proof, sizeof(proof), b64);
	memcpy(out, w, wlen);
	memcpy(out + wlen, ",p=", 3);
	memcpy(out + wlen + 3, b64, 44);
	return wlen + 3 + 44;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"PLAIN", "LOGIN", "SCRAM-SHA-256", "scram-sha-256"};
	static char msg[SASL_INPUT_MAX + 64], first[SASL_INPUT_MAX + 1],
	        sfirst[SASL_CHALLENGE_MAX + 1];
	size_t flen = 0, slen = 0, pos = 1;
	struct nbuf ch;

	init();
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	struct sasl_server_params p = {secret, sizeof(secret), 1, &tiny};
	struct sasl_server *s = sasl_server_new(names[ctl & 3], &p);
	if (s == NULL || sasl_server_test_set_nonce(s, NONCE) != 0)
		abort();
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	for (int n = 0; pos + 2 <= size && n < 16; n++) {
		size_t len = (size_t)data[pos] << 8 | data[pos + 1];
		pos += 2;
		if (len > size - pos)
			len = size - pos;
		const uint8_t *in = data + pos;
		pos += len;
		if (n == 0) {
			memcpy(first, in, len);
			flen = len;
		} else if ((ctl & 0x10) && (ctl & 2) && slen > 0) {
			/* client-first-message-bare: after the gs2-header */
			const char *c1 = memchr(first, ',', flen), *c2;
			c2 = c1 ? memchr(c1 + 1, ',', flen - (size_t)(c1 + 1 - first)) : NULL;
			if (c2 != NULL) {
				size_t bl = flen - (size_t)(c2 + 1 - first);
				len = with_proof(c2 + 1, bl, sfirst, slen, in, len, msg,
				                 sizeof(msg));
				in = (const uint8_t *)msg;
			}
		}
		nbuf_reset(&ch);
		int rc = sasl_server_step(s, in, len, &ch);
		for (;;) {
			if (nbuf_avail(&ch) > SASL_CHALLENGE_MAX)
				abort();
			if (rc == SASL_NEED_CREDENTIALS) {
				if (sasl_server_username(s) == NULL)
					abort();
				sasl_server_set_credentials(s, lookup(sasl_server_username(s)));
			} else if (rc == SASL_NEED_VERIFY) {
				int ok = (ctl & 4) ? (ctl >> 3) & 1 : sasl_server_verify(s);
				sasl_server_verified(s, ok);
			} else {
				break;
			}
			rc = sasl_server_step(s, NULL, 0, &ch);
		}
		if (rc == SASL_CONTINUE && (ctl & 2) && slen == 0 && nbuf_avail(&ch) > 0) {
			slen = nbuf_avail(&ch);
			memcpy(sfirst, nbuf_head(&ch), slen);
		}
		if (rc == SASL_OK) {
			if (sasl_server_authzid(s) == NULL ||
			    lookup(sasl_server_authzid(s)) == NULL)
				abort();
		}
		if (rc == SASL_OK || rc == SASL_FAIL) {
			if (sasl_server_step(s, "x", 1, &ch) != SASL_FAIL)
				abort();
			break;
		}
	}
	sasl_server_free(&s);
	nbuf_deinit(&ch);
	return 0;
}
