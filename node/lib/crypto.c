/*
 * crypto: thin wrappers over libcrypto (OpenSSL 3). See crypto.h.
 * base64 is written out here because EVP_DecodeBlock neither rejects
 * misplaced padding nor reports the true length.
 */
#include "node/lib/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "node/lib/util.h"

struct sha256_ctx {
	EVP_MD_CTX *md;
};

struct sha256_ctx *
sha256_new(void)
{
	struct sha256_ctx *c = xmalloc(sizeof(*c));
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		panic("sha256: cannot initialise a digest context");
	return c;
}

void
sha256_update(struct sha256_ctx *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
}

void
sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN])
{
	unsigned len = SHA256_LEN;
	EVP_DigestFinal_ex(c->md, out, &len);
	EVP_DigestInit_ex(c->md, EVP_sha256(), NULL);
}

void
sha256_free(struct sha256_ctx **c)
{
	if (*c == NULL)
		return;
	EVP_MD_CTX_free((*c)->md);
	free(*c);
	*c = NULL;
}

void
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned len = SHA256_LEN;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void
hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned len = SHA256_LEN;
	HMAC(EVP_sha256(), key, (int)keylen, p, n, out, &len);
}

int
pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen, unsigned iterations,
              uint8_t *out, size_t outlen)
{
	return PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)saltlen, (int)iterations, EVP_sha256(),
	                         (int)outlen, out) == 1
	               ? 0
	               : -1;
}

int
random_bytes(void *p, size_t n)
{
	return RAND_bytes(p, (int)n) == 1 ? 0 : -1;
}

int
ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
base64_encode(const void *src, size_t n, char *out)
{
	const uint8_t *p = src;
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = b64chars[(v >> 6) & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
		out[o++] = b64chars[v >> 18];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *s, size_t slen, uint8_t *out)
{
	if (slen % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < slen; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == slen && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = b64val(s[i + k])) < 0)
				return -1;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}
