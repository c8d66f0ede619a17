/*
 * password: Argon2id hashes in PHC strings and SCRAM-SHA-256 verifiers.
 *
 * Happy path, set: policy check, SASLprep (stored mode), random salts,
 * Argon2id(prepared, salt, m, t, p) formatted as
 * "$argon2id$v=19$m=65536,t=3,p=1$<salt>$<hash>" (B64 without padding,
 * as the PHC string format specifies), and SaltedPassword =
 * Hi(prepared, salt, i), StoredKey = H(HMAC(SaltedPassword, "Client Key")),
 * ServerKey = HMAC(SaltedPassword, "Server Key") (RFC 5802 §3).
 * Happy path, verify: SASLprep (query mode), parse the PHC string with its
 * bounds, recompute with the stored parameters, compare in constant time.
 *
 * Failure modes: a password the policy refuses (-EINVAL at set time, a
 * mismatch at verify time), a PHC string out of bounds (-1: it cannot
 * have been written by us), argon2 out of memory (-1).
 * Every buffer that held a password or a derived key is wiped.
 * RFC 9106 (Argon2id, version 0x13), RFC 5802 §3, RFC 7677, RFC 4013.
 */
#include "node/auth/password.h"

#include <argon2.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node/auth/saslprep.h"
#include "node/lib/crypto.h"

#define PHC_PREFIX "$argon2id$v=19$"
/* B64 of PASSWORD_PHC_HASH_MAX bytes without padding, plus a NUL. */
#define PHC_B64_MAX ((PASSWORD_PHC_HASH_MAX * 4 + 2) / 3 + 1)
/* Padded base64 length of n bytes, as a constant expression. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)

void
password_params_default(struct password_params *p_r)
{
	p_r->argon2_m_kib = PASSWORD_DEFAULT_M_KIB;
	p_r->argon2_t = PASSWORD_DEFAULT_T;
	p_r->argon2_p = PASSWORD_DEFAULT_P;
	p_r->scram_iterations = PASSWORD_DEFAULT_SCRAM_I;
}

int
password_params_check(const struct password_params *p, const char **error_r)
{
	if (p->argon2_p < 1 || p->argon2_p > PASSWORD_ARGON2_P_MAX)
		*error_r = "argon2 parallelism out of range";
	else if (p->argon2_t < 1 || p->argon2_t > PASSWORD_ARGON2_T_MAX)
		*error_r = "argon2 passes out of range";
	else if (p->argon2_m_kib < PASSWORD_ARGON2_M_MIN * p->argon2_p ||
	         p->argon2_m_kib > PASSWORD_ARGON2_M_MAX)
		*error_r = "argon2 memory out of range";
	else if (p->scram_iterations < AUTH_SCRAM_ITER_MIN ||
	         p->scram_iterations > AUTH_SCRAM_ITER_MAX)
		*error_r = "SCRAM iteration count out of range";
	else
		return 0;
	return -1;
}

/* B64 without padding; out holds (n * 4 + 2) / 3 + 1 bytes. */
static void
b64_nopad_encode(const uint8_t *p, size_t n, char *out)
{
	char tmp[B64_LEN(PASSWORD_PHC_HASH_MAX) + 1];
	base64_encode(p, n, tmp);
	size_t len = base64_encoded_len(n);
	while (len > 0 && tmp[len - 1] == '=')
		len--;
	memcpy(out, tmp, len);
	out[len] = '\0';
}

/* Decode canonical unpadded B64 of min..max bytes. Returns the length or -1. */
static long
b64_nopad_decode(const char *s, size_t slen, uint8_t *out, size_t min, size_t max)
{
	char tmp[B64_LEN(PASSWORD_PHC_HASH_MAX)], again[PHC_B64_MAX];
	uint8_t buf[PASSWORD_PHC_HASH_MAX + 3];
	long n = -1;
	/* max <= PASSWORD_PHC_HASH_MAX, so tmp and buf are large enough. */
	if (slen % 4 == 1 || slen > (max * 4 + 2) / 3)
		return -1;
	memcpy(tmp, s, slen);
	size_t padded = slen;
	while (padded % 4 != 0)
		tmp[padded++] = '=';
	n = base64_decode(tmp, padded, buf);
	if (n < 0 || (size_t)n < min || (size_t)n > max)
		goto out;
	/* Non-zero trailing bits would make two strings for one salt. */
	b64_nopad_encode(buf, (size_t)n, again);
	if (strlen(again) != slen || memcmp(again, s, slen) != 0) {
		n = -1;
		goto out;
	}
	memcpy(out, buf, (size_t)n);
out:
	explicit_bzero(buf, sizeof(buf));
	return n < 0 || (size_t)n < min || (size_t)n > max ? -1 : n;
}

/* A canonical decimal in [1, max] ending at c; advances *pos past it. */
static int
phc_number(const char *s, size_t n, size_t *pos, char end, uint32_t max, uint32_t *v_r)
{
	size_t i = *pos, start = i;
	uint64_t v = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 10)
		v = v * 10 + (uint64_t)(s[i++] - '0');
	if (i == start || s[start] == '0' || v > max || i >= n || s[i] != end)
		return -1;
	*v_r = (uint32_t)v;
	*pos = i + 1;
	return 0;
}

static int
phc_expect(const char *s, size_t n, size_t *pos, const char *lit)
{
	size_t l = strlen(lit);
	if (n - *pos < l || memcmp(s + *pos, lit, l) != 0)
		return -1;
	*pos += l;
	return 0;
}

int
password_phc_parse(const char *s, size_t n, struct password_phc *phc_r)
{
	size_t pos = 0;
	memset(phc_r, 0, sizeof(*phc_r));
	if (n > AUTH_PHC_MAX || phc_expect(s, n, &pos, PHC_PREFIX "m=") != 0 ||
	    phc_number(s, n, &pos, ',', PASSWORD_ARGON2_M_MAX, &phc_r->m_kib) != 0 ||
	    phc_expect(s, n, &pos, "t=") != 0 ||
	    phc_number(s, n, &pos, ',', PASSWORD_ARGON2_T_MAX, &phc_r->t) != 0 ||
	    phc_expect(s, n, &pos, "p=") != 0 ||
	    phc_number(s, n, &pos, '$', PASSWORD_ARGON2_P_MAX, &phc_r->p) != 0)
		goto err;
	if (phc_r->m_kib < PASSWORD_ARGON2_M_MIN * phc_r->p)
		goto err;
	const char *salt = s + pos, *dollar = memchr(salt, '$', n - pos);
	if (dollar == NULL)
		goto err;
	long sl = b64_nopad_decode(salt, (size_t)(dollar - salt), phc_r->salt,
	                           PASSWORD_PHC_SALT_MIN, PASSWORD_PHC_SALT_MAX);
	const char *hash = dollar + 1;
	long hl = b64_nopad_decode(hash, (size_t)(s + n - hash), phc_r->hash, PASSWORD_PHC_HASH_MIN,
	                           PASSWORD_PHC_HASH_MAX);
	if (sl < 0 || hl < 0)
		goto err;
	phc_r->salt_len = (size_t)sl;
	phc_r->hash_len = (size_t)hl;
	return 0;
err:
	explicit_bzero(phc_r, sizeof(*phc_r));
	return -1;
}

int
password_phc_format(const struct password_phc *phc, char *out, size_t size)
{
	char salt[PHC_B64_MAX], hash[PHC_B64_MAX];
	if (phc->salt_len < PASSWORD_PHC_SALT_MIN || phc->salt_len > PASSWORD_PHC_SALT_MAX ||
	    phc->hash_len < PASSWORD_PHC_HASH_MIN || phc->hash_len > PASSWORD_PHC_HASH_MAX ||
	    phc->p < 1 || phc->p > PASSWORD_ARGON2_P_MAX || phc->t < 1 ||
	    phc->t > PASSWORD_ARGON2_T_MAX || phc->m_kib < PASSWORD_ARGON2_M_MIN * phc->p ||
	    phc->m_kib > PASSWORD_ARGON2_M_MAX)
		return -1;
	b64_nopad_encode(phc->salt, phc->salt_len, salt);
	b64_nopad_encode(phc->hash, phc->hash_len, hash);
	int len = snprintf(out, size, PHC_PREFIX "m=%u,t=%u,p=%u$%s$%s", phc->m_kib, phc->t, phc->p,
	                   salt, hash);
	if (len < 0 || (size_t)len >= size)
		return -1;
	return len;
}

/* SASLprep pw into prep (PASSWORD_LEN_MAX + 1 bytes). */
static int
prepare(const char *pw, size_t len, int flags, char *prep, size_t *plen_r, const char **error_r)
{
	if (len == 0 || len > PASSWORD_LEN_MAX) {
		*error_r = len == 0 ? "empty password" : "password too long";
		return -1;
	}
	if (memchr(pw, '\0', len) != NULL) {
		*error_r = "NUL in password";
		return -1;
	}
	if (saslprep_prepare(pw, len, flags, prep, plen_r, error_r) != 0)
		return -1;
	if (*plen_r == 0) {
		*error_r = "password prepares to nothing";
		return -1;
	}
	return 0;
}

int
password_policy_check(const char *pw, size_t len, const char **error_r)
{
	char prep[PASSWORD_LEN_MAX + 1];
	size_t plen;
	int rc = prepare(pw, len, SASLPREP_STORED, prep, &plen, error_r);
	explicit_bzero(prep, sizeof(prep));
	return rc;
}

/* StoredKey and ServerKey of a prepared password (RFC 5802 §3). */
static int
scram_keys(const char *prep, size_t plen, const uint8_t *salt, size_t saltlen, uint32_t iter,
           uint8_t stored_r[SHA256_LEN], uint8_t server_r[SHA256_LEN])
{
	uint8_t salted[SHA256_LEN], client[SHA256_LEN];
	int rc = pbkdf2_sha256(prep, plen, salt, saltlen, iter, salted, sizeof(salted));
	if (rc == 0) {
		hmac_sha256(salted, sizeof(salted), "Client Key", 10, client);
		sha256(client, sizeof(client), stored_r);
		hmac_sha256(salted, sizeof(salted), "Server Key", 10, server_r);
	}
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client, sizeof(client));
	return rc;
}

int
password_scram_derive(const char *pw, size_t len, const uint8_t *salt, size_t saltlen,
                      uint32_t iterations, struct auth_credentials *cred)
{
	char prep[PASSWORD_LEN_MAX + 1];
	size_t plen;
	const char *error;
	int rc = -EINVAL;
	if (saltlen < AUTH_SCRAM_SALT_MIN || saltlen > AUTH_SCRAM_SALT_MAX ||
	    iterations < AUTH_SCRAM_ITER_MIN || iterations > AUTH_SCRAM_ITER_MAX ||
	    prepare(pw, len, SASLPREP_STORED, prep, &plen, &error) != 0)
		goto out;
	rc = -EIO;
	if (scram_keys(prep, plen, salt, saltlen, iterations, cred->scram_stored_key,
	               cred->scram_server_key) != 0)
		goto out;
	memcpy(cred->scram_salt, salt, saltlen);
	cred->scram_salt_len = saltlen;
	cred->scram_iterations = iterations;
	cred->flags |= AUTH_CRED_SCRAM;
	rc = 0;
out:
	explicit_bzero(prep, sizeof(prep));
	return rc;
}

int
password_hash(const char *pw, size_t len, const struct password_params *p,
              struct auth_credentials *cred_r)
{
	char prep[PASSWORD_LEN_MAX + 1];
	size_t plen;
	const char *error;
	uint8_t ssalt[PASSWORD_SCRAM_SALT_LEN];
	struct password_phc phc = {.m_kib = p->argon2_m_kib, .t = p->argon2_t, .p = p->argon2_p};
	int rc = -EINVAL;

	memset(cred_r, 0, sizeof(*cred_r));
	if (password_params_check(p, &error) != 0 ||
	    prepare(pw, len, SASLPREP_STORED, prep, &plen, &error) != 0)
		goto err;
	rc = -EIO;
	phc.salt_len = PASSWORD_SALT_LEN;
	phc.hash_len = PASSWORD_HASH_LEN;
	if (random_bytes(phc.salt, phc.salt_len) != 0 || random_bytes(ssalt, sizeof(ssalt)) != 0)
		goto err;
	if (argon2id_hash_raw(phc.t, phc.m_kib, phc.p, prep, plen, phc.salt, phc.salt_len, phc.hash,
	                      phc.hash_len) != ARGON2_OK)
		goto err;
	if (password_phc_format(&phc, cred_r->phc, sizeof(cred_r->phc)) < 0)
		goto err;
	cred_r->flags = AUTH_CRED_ARGON2;
	if (scram_keys(prep, plen, ssalt, sizeof(ssalt), p->scram_iterations,
	               cred_r->scram_stored_key, cred_r->scram_server_key) != 0)
		goto err;
	memcpy(cred_r->scram_salt, ssalt, sizeof(ssalt));
	cred_r->scram_salt_len = sizeof(ssalt);
	cred_r->scram_iterations = p->scram_iterations;
	cred_r->flags |= AUTH_CRED_SCRAM;
	rc = 0;
	goto out;
err:
	auth_credentials_wipe(cred_r);
	memset(cred_r, 0, sizeof(*cred_r));
out:
	explicit_bzero(prep, sizeof(prep));
	explicit_bzero(&phc, sizeof(phc));
	return rc;
}

int
password_verify(const struct auth_credentials *cred, const char *pw, size_t len)
{
	char prep[PASSWORD_LEN_MAX + 1];
	size_t plen;
	const char *error;
	struct password_phc phc;
	uint8_t out[PASSWORD_PHC_HASH_MAX], stored[SHA256_LEN], server[SHA256_LEN];
	int rc = -1;

	if (cred->flags & AUTH_CRED_ARGON2) {
		if (password_phc_parse(cred->phc, strnlen(cred->phc, sizeof(cred->phc)), &phc) != 0)
			return -1;
	} else if (!(cred->flags & AUTH_CRED_SCRAM) || auth_credentials_check(cred) != 0) {
		return -1;
	}
	if (prepare(pw, len, 0, prep, &plen, &error) != 0) {
		rc = 0;
	} else if (cred->flags & AUTH_CRED_ARGON2) {
		if (argon2id_hash_raw(phc.t, phc.m_kib, phc.p, prep, plen, phc.salt, phc.salt_len,
		                      out, phc.hash_len) == ARGON2_OK)
			rc = ct_equal(out, phc.hash, phc.hash_len);
	} else if (scram_keys(prep, plen, cred->scram_salt, cred->scram_salt_len,
	                      cred->scram_iterations, stored, server) == 0) {
		rc = ct_equal(stored, cred->scram_stored_key, SHA256_LEN);
	}
	explicit_bzero(prep, sizeof(prep));
	explicit_bzero(out, sizeof(out));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(server, sizeof(server));
	if (cred->flags & AUTH_CRED_ARGON2)
		explicit_bzero(&phc, sizeof(phc));
	return rc;
}

int
password_needs_rehash(const struct auth_credentials *cred, const struct password_params *p)
{
	struct password_phc phc;
	if (auth_credentials_check(cred) != 0)
		return -1;
	if (!(cred->flags & AUTH_CRED_ARGON2) || !(cred->flags & AUTH_CRED_SCRAM))
		return 1;
	if (password_phc_parse(cred->phc, strlen(cred->phc), &phc) != 0)
		return -1;
	int weaker = phc.m_kib < p->argon2_m_kib || phc.t < p->argon2_t ||
	             phc.salt_len < PASSWORD_SALT_LEN || phc.hash_len < PASSWORD_HASH_LEN ||
	             cred->scram_iterations < p->scram_iterations ||
	             cred->scram_salt_len < PASSWORD_SCRAM_SALT_LEN;
	explicit_bzero(&phc, sizeof(phc));
	return weaker;
}
