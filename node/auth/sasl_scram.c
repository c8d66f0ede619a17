/*
 * sasl_scram: SCRAM-SHA-256, server side (RFC 5802 §5, §7; RFC 7677).
 *
 * Happy path:
 *   C: n,,n=user,r=<c-nonce>                       client-first-message
 *   (the caller looks up "user": SASL_NEED_CREDENTIALS)
 *   S: r=<c-nonce><s-nonce>,s=<salt>,i=<count>     server-first-message
 *   C: c=biws,r=<nonce>,p=<ClientProof>            client-final-message
 *   S: v=<ServerSignature>                         with SASL_OK
 * The proof check (RFC 5802 §3): ClientKey = ClientProof XOR
 * HMAC(StoredKey, AuthMessage), then H(ClientKey) must equal StoredKey
 * (constant time). AuthMessage = client-first-message-bare "," server-
 * first-message "," client-final-message-without-proof, over the exact
 * bytes received.
 *
 * Attributes are taken in the order §7 fixes: gs2-cbind-flag, [authzid],
 * [m=] (refused), n=, r=, extensions; then c=, r=, extensions, p= last.
 * Channel binding: "n" and "y" accepted (we offer no -PLUS mechanism, so
 * "y" is truthful, §6), "p=" refused. "m=" anywhere is refused (§5.1).
 * Unknown optional extensions are ignored. Every failure appends an
 * RFC 5802 server-error ("e=...") the protocol may send.
 *
 * An unknown user (or one without a SCRAM verifier) gets a server-first
 * message built from a salt and keys derived from the user name and the
 * server secret, with the current iteration count, so the answer looks
 * like a real one and is the same on every attempt; the exchange fails at
 * the proof as a wrong password would.
 */
#include <stdlib.h>
#include <string.h>

#include "node/auth/saslprep.h"
#include "node/auth/sasl_private.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

/* Longest client nonce; keeps the server-first message well under
 * SASL_CHALLENGE_MAX. */
#define SCRAM_CNONCE_MAX 512
/* Random bytes of the server nonce: 32 base64 characters. */
#define SCRAM_SNONCE_BYTES 24
/* gs2-header with the longest escaped authzid. */
#define SCRAM_GS2_MAX (3 * SASL_USERNAME_MAX + 8)
/* AuthMessage: two client messages, the server-first and two commas. */
#define SCRAM_AUTH_MAX (2 * SASL_INPUT_MAX + SASL_CHALLENGE_MAX + 2)
/* Base64 length of n bytes, as a constant expression. */
#define B64_LEN(n) (((n) + 2) / 3 * 4)

enum scram_state {
	SCRAM_FIRST = 0, /* waiting for client-first-message */
	SCRAM_FINAL,     /* server-first sent, waiting for client-final-message */
};

struct sasl_scram {
	enum scram_state st;
	char gs2[SCRAM_GS2_MAX];
	size_t gs2_len;
	char nonce[SCRAM_CNONCE_MAX + 64]; /* c-nonce s-nonce */
	size_t cnonce_len, nonce_len;
	struct nbuf auth; /* client-first-bare "," server-first "," */
	uint8_t salt[AUTH_SCRAM_SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint8_t stored_key[SHA256_LEN], server_key[SHA256_LEN];
};

struct attr {
	char name;
	const char *val;
	size_t len;
	size_t start; /* offset of the name */
};

static int
scram_fail(struct sasl_server *s, struct nbuf *out, enum sasl_fail reason, const char *e)
{
	/* Best effort: the outcome is a failure with or without the text. */
	if (nbuf_puts(out, "e=") == 0)
		(void)nbuf_puts(out, e);
	return sasl__fail(s, reason);
}

/* attr-val = ALPHA "=" value, value non-empty and free of ','. Reads the
 * attribute at *pos and moves past its ','. Returns 1, 0 at the end, or -1
 * (including an empty attribute or a trailing comma). */
static int
attr_next(const char *m, size_t n, size_t *pos, struct attr *a)
{
	size_t i = *pos;
	if (i == n)
		return 0;
	if (n - i < 3 || !((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= 'A' && m[i] <= 'Z')) ||
	    m[i + 1] != '=')
		return -1;
	const char *v = m + i + 2, *comma = memchr(v, ',', n - i - 2);
	a->name = m[i];
	a->val = v;
	a->len = comma != NULL ? (size_t)(comma - v) : (size_t)(m + n - v);
	a->start = i;
	if (a->len == 0)
		return -1;
	*pos = comma != NULL ? (size_t)(comma - m) + 1 : n;
	if (comma != NULL && *pos == n)
		return -1;
	return 1;
}

/* saslname = 1*(value-safe-char / "=2C" / "=3D"), unescaped into out
 * (SASL_USERNAME_MAX bytes). Returns the length or -1. */
static long
saslname_decode(const char *v, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '=') {
			if (n - i < 3)
				return -1;
			if (v[i + 1] == '2' && v[i + 2] == 'C')
				c = ',';
			else if (v[i + 1] == '3' && v[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o == SASL_USERNAME_MAX)
			return -1;
		out[o++] = c;
	}
	return o == 0 ? -1 : (long)o;
}

static int
printable(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7E || v[i] == ',')
			return 0;
	return 1;
}

static int
utf8_valid(const unsigned char *p, size_t n)
{
	unsigned cp;
	for (size_t i = 0; i < n;) {
		int l = saslprep_utf8_decode(p + i, n - i, &cp);
		if (l < 0 || cp == 0)
			return 0;
		i += (size_t)l;
	}
	return 1;
}

static int
scram_first(struct sasl_server *s, const char *m, size_t n, struct nbuf *out)
{
	struct sasl_scram *sc = s->scram;
	char name[SASL_USERNAME_MAX];
	const char *authzid = NULL;
	size_t pos, zlen = 0;
	struct attr a;
	long len;

	if (!utf8_valid((const unsigned char *)m, n))
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-encoding");
	/* gs2-header = gs2-cbind-flag "," [ authzid ] "," */
	if (n >= 1 && m[0] == 'p')
		return scram_fail(s, out, SASL_FAIL_UNSUPPORTED, "channel-binding-not-supported");
	if (n < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	pos = 2;
	if (m[pos] != ',') {
		const char *comma = memchr(m + pos, ',', n - pos);
		if (comma == NULL || m[pos] != 'a' || m[pos + 1] != '=' ||
		    (size_t)(comma - m) + 1 > SCRAM_GS2_MAX)
			return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
		authzid = m + pos + 2;
		zlen = (size_t)(comma - authzid);
		pos = (size_t)(comma - m);
	}
	sc->gs2_len = pos + 1;
	memcpy(sc->gs2, m, sc->gs2_len);

	/* client-first-message-bare = [reserved-mext ","] username "," nonce
	 * ["," extensions] */
	const char *bare = m + sc->gs2_len;
	size_t bn = n - sc->gs2_len, bpos = 0;
	if (attr_next(bare, bn, &bpos, &a) != 1)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	if (a.name == 'm')
		return scram_fail(s, out, SASL_FAIL_UNSUPPORTED, "extensions-not-supported");
	if (a.name != 'n' || (len = saslname_decode(a.val, a.len, name)) < 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-username-encoding");
	if (sasl__set_username(s, name, (size_t)len) != 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-username-encoding");
	if (authzid != NULL) {
		if ((len = saslname_decode(authzid, zlen, name)) < 0)
			return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-username-encoding");
		if (sasl__check_authzid(s, name, (size_t)len) != 0)
			return scram_fail(s, out, s->fail, "other-error");
	}
	if (attr_next(bare, bn, &bpos, &a) != 1 || a.name != 'r' || a.len > SCRAM_CNONCE_MAX ||
	    !printable(a.val, a.len))
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	memcpy(sc->nonce, a.val, a.len);
	sc->cnonce_len = a.len;
	int rc;
	while ((rc = attr_next(bare, bn, &bpos, &a)) == 1)
		if (a.name == 'm')
			return scram_fail(s, out, SASL_FAIL_UNSUPPORTED,
			                  "extensions-not-supported");
	if (rc < 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	nbuf_reset(&sc->auth);
	if (nbuf_append(&sc->auth, bare, bn) != 0 || nbuf_puts(&sc->auth, ",") != 0)
		return scram_fail(s, out, SASL_FAIL_INTERNAL, "other-error");
	return SASL_NEED_CREDENTIALS;
}

/* After the lookup: the real verifier or a derived one, then server-first. */
static int
scram_server_first(struct sasl_server *s, struct nbuf *out)
{
	struct sasl_scram *sc = s->scram;
	uint8_t d[SHA256_LEN], rnd[SCRAM_SNONCE_BYTES];
	char b64[B64_LEN(AUTH_SCRAM_SALT_MAX) + 1];

	if (s->user_known && (s->cred.flags & AUTH_CRED_SCRAM)) {
		memcpy(sc->salt, s->cred.scram_salt, s->cred.scram_salt_len);
		sc->salt_len = s->cred.scram_salt_len;
		sc->iterations = s->cred.scram_iterations;
		memcpy(sc->stored_key, s->cred.scram_stored_key, SHA256_LEN);
		memcpy(sc->server_key, s->cred.scram_server_key, SHA256_LEN);
	} else {
		s->user_known = 0;
		sasl__derive(s, "scram-fake-salt", d);
		memcpy(sc->salt, d, PASSWORD_SCRAM_SALT_LEN);
		sc->salt_len = PASSWORD_SCRAM_SALT_LEN;
		sc->iterations = s->pw.scram_iterations;
		sasl__derive(s, "scram-fake-stored-key", sc->stored_key);
		sasl__derive(s, "scram-fake-server-key", sc->server_key);
	}
	explicit_bzero(&s->cred, sizeof(s->cred));

	char *snonce = sc->nonce + sc->cnonce_len;
	if (s->test_nonce[0] != '\0') {
		memcpy(snonce, s->test_nonce, strlen(s->test_nonce));
		sc->nonce_len = sc->cnonce_len + strlen(s->test_nonce);
	} else {
		if (random_bytes(rnd, sizeof(rnd)) != 0)
			return scram_fail(s, out, SASL_FAIL_INTERNAL, "other-error");
		base64_encode(rnd, sizeof(rnd), b64); /* 24 bytes: no '=' */
		memcpy(snonce, b64, base64_encoded_len(sizeof(rnd)));
		sc->nonce_len = sc->cnonce_len + base64_encoded_len(sizeof(rnd));
	}
	base64_encode(sc->salt, sc->salt_len, b64);
	size_t mark = nbuf_avail(out);
	if (nbuf_puts(out, "r=") != 0 || nbuf_append(out, sc->nonce, sc->nonce_len) != 0 ||
	    nbuf_printf(out, ",s=%s,i=%u", b64, sc->iterations) != 0)
		return sasl__fail(s, SASL_FAIL_INTERNAL);
	/* server-first-message goes into AuthMessage as sent. */
	if (nbuf_append(&sc->auth, nbuf_head(out) + mark, nbuf_avail(out) - mark) != 0 ||
	    nbuf_puts(&sc->auth, ",") != 0)
		return sasl__fail(s, SASL_FAIL_INTERNAL);
	sc->st = SCRAM_FINAL;
	return SASL_CONTINUE;
}

static int
scram_final(struct sasl_server *s, const char *m, size_t n, struct nbuf *out)
{
	struct sasl_scram *sc = s->scram;
	uint8_t cb[SCRAM_GS2_MAX + 3], proof[SHA256_LEN + 3], sig[SHA256_LEN], key[SHA256_LEN],
	        h[SHA256_LEN];
	struct attr a, p = {0};
	size_t pos = 0;
	int rc;

	if (!utf8_valid((const unsigned char *)m, n))
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-encoding");
	/* channel-binding = "c=" base64 of gs2-header: no cbind-data. */
	if (attr_next(m, n, &pos, &a) != 1 || a.name != 'c')
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	long cl = a.len <= base64_encoded_len(SCRAM_GS2_MAX) ? base64_decode(a.val, a.len, cb) : -1;
	if (cl < 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-encoding");
	if ((size_t)cl != sc->gs2_len || memcmp(cb, sc->gs2, sc->gs2_len) != 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "channel-bindings-dont-match");
	if (attr_next(m, n, &pos, &a) != 1 || a.name != 'r' || a.len != sc->nonce_len ||
	    memcmp(a.val, sc->nonce, sc->nonce_len) != 0)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	/* extensions, then proof = "p=" base64 as the last attribute */
	while ((rc = attr_next(m, n, &pos, &a)) == 1) {
		if (a.name == 'm')
			return scram_fail(s, out, SASL_FAIL_UNSUPPORTED,
			                  "extensions-not-supported");
		if (a.name == 'p' && pos == n)
			p = a;
		else if (a.name == 'c' || a.name == 'r' || a.name == 'p')
			return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	}
	if (rc < 0 || p.name != 'p')
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "other-error");
	if (p.len != base64_encoded_len(SHA256_LEN) ||
	    base64_decode(p.val, p.len, proof) != SHA256_LEN)
		return scram_fail(s, out, SASL_FAIL_MALFORMED, "invalid-encoding");

	/* AuthMessage = client-first-bare "," server-first "," without-proof */
	size_t wlen = p.start - 1;
	if (nbuf_append(&sc->auth, m, wlen) != 0)
		return scram_fail(s, out, SASL_FAIL_INTERNAL, "other-error");
	hmac_sha256(sc->stored_key, SHA256_LEN, nbuf_head(&sc->auth), nbuf_avail(&sc->auth), sig);
	for (size_t i = 0; i < SHA256_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	sha256(key, sizeof(key), h);
	int ok = ct_equal(h, sc->stored_key, SHA256_LEN) & s->user_known;
	explicit_bzero(key, sizeof(key));
	explicit_bzero(proof, sizeof(proof));
	if (!ok)
		return scram_fail(s, out, SASL_FAIL_CREDENTIALS, "invalid-proof");
	hmac_sha256(sc->server_key, SHA256_LEN, nbuf_head(&sc->auth), nbuf_avail(&sc->auth), sig);
	char v[B64_LEN(SHA256_LEN) + 1];
	base64_encode(sig, sizeof(sig), v);
	if (nbuf_puts(out, "v=") != 0 || nbuf_puts(out, v) != 0)
		return sasl__fail(s, SASL_FAIL_INTERNAL);
	return SASL_OK;
}

static int
scram_step(struct sasl_server *s, const unsigned char *in, size_t inlen, struct nbuf *out)
{
	if (s->scram == NULL) {
		s->scram = xcalloc(1, sizeof(*s->scram));
		nbuf_init(&s->scram->auth, SCRAM_AUTH_MAX);
	}
	if (s->phase == SASL__PH_CRED_SET)
		return scram_server_first(s, out);
	if (s->phase != SASL__PH_MECH)
		return sasl__fail(s, SASL_FAIL_INTERNAL);
	if (s->scram->st == SCRAM_FIRST && !s->started && inlen == 0)
		return SASL_CONTINUE; /* no initial response: empty challenge */
	if (s->scram->st == SCRAM_FIRST)
		return scram_first(s, (const char *)in, inlen, out);
	return scram_final(s, (const char *)in, inlen, out);
}

static void
scram_deinit(struct sasl_server *s)
{
	if (s->scram == NULL)
		return;
	nbuf_deinit(&s->scram->auth);
	explicit_bzero(s->scram, sizeof(*s->scram));
	free(s->scram);
	s->scram = NULL;
}

const struct sasl__mech sasl__mech_scram_sha256 = {
        .name = "SCRAM-SHA-256",
        .plaintext = 0,
        .step = scram_step,
        .deinit = scram_deinit,
};
