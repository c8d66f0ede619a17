/*
 * crypto: the hashes, MACs and encodings mailnode needs, over OpenSSL's
 * libcrypto (the only place outside node/net that includes OpenSSL).
 * All functions are thread-safe; none allocates from the caller's view but
 * sha256_ctx, which the caller frees with sha256_free().
 */
#ifndef MAILNODE_CRYPTO_H
#define MAILNODE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN     32
#define SHA256_HEX_LEN 64

struct sha256_ctx;

struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *c, const void *p, size_t n);
/* Write the digest and reset the context for reuse. */
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
void sha256_free(struct sha256_ctx **c);
void sha256(const void *p, size_t n, uint8_t out[SHA256_LEN]);

void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n, uint8_t out[SHA256_LEN]);
/* PBKDF2-HMAC-SHA-256 (RFC 8018) as SCRAM's Hi(). Returns 0 or -1. */
int pbkdf2_sha256(const void *pw, size_t pwlen, const void *salt, size_t saltlen,
                  unsigned iterations, uint8_t *out, size_t outlen);

/* Fill p with cryptographically random bytes. Returns 0 or -1. */
int random_bytes(void *p, size_t n);

/* Constant-time comparison: 1 equal, 0 different. */
int ct_equal(const void *a, const void *b, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes with the NUL). */
void hex_encode(const uint8_t *p, size_t n, char *out);
/* Parse exactly 2n hex digits. Returns 0 or -1. */
int hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

/* Standard base64 (RFC 4648 §4) with padding. base64_encode writes
 * base64_encoded_len(n) bytes plus a NUL. base64_decode accepts padded
 * input only, no whitespace; returns the decoded length or -1. out must
 * hold base64_decoded_max(slen) bytes. */
static inline size_t
base64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}
static inline size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3 + 3;
}
void base64_encode(const void *p, size_t n, char *out);
long base64_decode(const char *s, size_t slen, uint8_t *out);

#endif
