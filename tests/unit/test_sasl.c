/*
 * Unit tests: SASL server mechanisms driven as a protocol would drive
 * them. PLAIN (RFC 4616 §4 examples), LOGIN, SCRAM-SHA-256 (the RFC 7677
 * §3 exchange byte for byte, then proofs computed by a small client here),
 * every malformed SCRAM message we could think of, unknown users, limits
 * and misuse of the API.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/password.h"
#include "node/auth/sasl.h"
#include "node/lib/crypto.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

static const struct password_params small = {
        .argon2_m_kib = 1024, .argon2_t = 1, .argon2_p = 1, .scram_iterations = 4096};
static uint8_t secret[32];
static struct sasl_server_params sp = {secret, sizeof(secret), 1, &small};

static struct user {
	const char *name, *pw;
	struct auth_credentials cred;
} users[] = {
        {.name = "user", .pw = "pencil"},    {.name = "tim", .pw = "tanstaaftanstaaf"},
        {.name = "Kurt", .pw = "xipj3plmq"}, {.name = "Tim@example.com", .pw = "secret"},
        {.name = "u,s=er", .pw = "comma"},
};

#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT   "W22ZaJ0SNY7soEsUEjb6gQ=="

static int
setup(void **state)
{
	uint8_t salt[16];
	memset(secret, 0x42, sizeof(secret));
	for (size_t i = 0; i < ARRAY_SIZE(users); i++)
		assert_int_equal(
		        password_hash(users[i].pw, strlen(users[i].pw), &small, &users[i].cred), 0);
	assert_int_equal(base64_decode(RFC_SALT, strlen(RFC_SALT), salt), 16);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4096, &users[0].cred), 0);
	return 0;
}

static const struct auth_credentials *
lookup(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(users); i++)
		if (ascii_strcasecmp(users[i].name, name) == 0)
			return &users[i].cred;
	return NULL;
}

/* Answer the mechanism's requests as a session would, until it needs the
 * client or is done. */
static int
settle(struct sasl_server *s, int rc, struct nbuf *ch)
{
	for (;;) {
		if (rc == SASL_NEED_CREDENTIALS) {
			assert_non_null(sasl_server_username(s));
			assert_int_equal(
			        sasl_server_set_credentials(s, lookup(sasl_server_username(s))), 0);
		} else if (rc == SASL_NEED_VERIFY) {
			int ok = sasl_server_verify(s);
			assert_int_equal(sasl_server_verified(s, ok), 0);
		} else {
			return rc;
		}
		rc = sasl_server_step(s, NULL, 0, ch);
	}
}

static int
step(struct sasl_server *s, const void *in, size_t len, struct nbuf *ch)
{
	nbuf_reset(ch);
	return settle(s, sasl_server_step(s, in, len, ch), ch);
}

static int
steps(struct sasl_server *s, const char *in, struct nbuf *ch)
{
	return step(s, in, strlen(in), ch);
}

/* The challenge as a string (static storage). */
static const char *
str(const struct nbuf *ch)
{
	static char buf[SASL_CHALLENGE_MAX + 1];
	size_t n = nbuf_avail(ch);
	assert_true(n <= SASL_CHALLENGE_MAX);
	if (n > 0)
		memcpy(buf, nbuf_head(ch), n);
	buf[n] = '\0';
	return buf;
}

static struct sasl_server *
start(const char *mech)
{
	struct sasl_server *s = sasl_server_new(mech, &sp);
	assert_non_null(s);
	return s;
}

static void
test_mechs(void **state)
{
	struct sasl_server_params tls_off = sp;
	tls_off.plaintext_ok = 0;
	assert_string_equal(sasl_server_mechs(0), "SCRAM-SHA-256");
	assert_string_equal(sasl_server_mechs(1), "SCRAM-SHA-256 PLAIN LOGIN");
	assert_null(sasl_server_new("PLAIN", &tls_off));
	assert_null(sasl_server_new("LOGIN", &tls_off));
	assert_null(sasl_server_new("CRAM-MD5", &sp));
	assert_null(sasl_server_new("SCRAM-SHA-256-PLUS", &sp));
	struct sasl_server *s = sasl_server_new("scram-sha-256", &tls_off);
	assert_non_null(s);
	assert_string_equal(sasl_server_mech_name(s), "SCRAM-SHA-256");
	sasl_server_free(&s);
	assert_null(s);
	s = sasl_server_new("pLaIn", &sp);
	assert_non_null(s);
	sasl_server_free(&s);
	assert_int_equal(sasl_mech_is_plaintext("LOGIN"), 1);
	assert_int_equal(sasl_mech_is_plaintext("SCRAM-SHA-256"), 0);
	assert_int_equal(sasl_mech_is_plaintext("X"), -1);
	sasl_server_free(&s); /* NULL is fine */
}

static int
plain(const char *msg, size_t len, enum sasl_fail *reason_r, char *user_r)
{
	struct nbuf ch;
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	struct sasl_server *s = start("PLAIN");
	int rc = step(s, msg, len, &ch);
	*reason_r = sasl_server_fail_reason(s);
	if (user_r != NULL)
		strcpy(user_r, rc == SASL_OK ? sasl_server_authzid(s) : "");
	sasl_server_free(&s);
	nbuf_deinit(&ch);
	return rc;
}

#define PLAIN(lit, reason, user) plain(lit, sizeof(lit) - 1, reason, user)

static void
test_plain(void **state)
{
	enum sasl_fail r;
	char user[SASL_USERNAME_MAX + 1];
	/* RFC 4616 §4: the first succeeds; the second asks to act as Ursel,
	 * which this server does not allow. */
	assert_int_equal(PLAIN("\0tim\0tanstaaftanstaaf", &r, user), SASL_OK);
	assert_string_equal(user, "tim");
	assert_int_equal(PLAIN("Ursel\0Kurt\0xipj3plmq", &r, user), SASL_FAIL);
	assert_int_equal(r, SASL_FAIL_AUTHZID);
	assert_int_equal(PLAIN("Kurt\0Kurt\0xipj3plmq", &r, user), SASL_OK);
	assert_string_equal(user, "Kurt");
	/* Lookup is case-insensitive, the domain canonical. */
	assert_int_equal(PLAIN("\0TIM\0tanstaaftanstaaf", &r, user), SASL_OK);
	assert_string_equal(user, "TIM");
	assert_int_equal(PLAIN("\0Tim@EXAMPLE.Com\0secret", &r, user), SASL_OK);
	assert_string_equal(user, "Tim@example.com");
	assert_int_equal(PLAIN("tim@Example.com\0Tim@EXAMPLE.Com\0secret", &r, user), SASL_FAIL);
	assert_int_equal(r, SASL_FAIL_AUTHZID);
	assert_int_equal(PLAIN("Tim@example.COM\0Tim@EXAMPLE.Com\0secret", &r, user), SASL_OK);

	assert_int_equal(PLAIN("\0tim\0tanstaaftanstaafX", &r, NULL), SASL_FAIL);
	assert_int_equal(r, SASL_FAIL_CREDENTIALS);
	assert_int_equal(PLAIN("\0nobody\0tanstaaftanstaaf", &r, NULL), SASL_FAIL);
	assert_int_equal(r, SASL_FAIL_CREDENTIALS);

	const struct {
		const char *m;
		size_t n;
	} bad[] = {
	        {"tim", 3},         {"\0tim", 4},       {"\0tim\0", 5},       {"\0\0pw", 4},
	        {"\0tim\0pw\0", 8}, {"\0tim\0p\0w", 9}, {"\0ti\x07m\0pw", 8}, {"\0ti\xffm\0pw", 8},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(plain(bad[i].m, bad[i].n, &r, NULL), SASL_FAIL);
		assert_int_equal(r, SASL_FAIL_MALFORMED);
	}
}

static void
test_plain_limits(void **state)
{
	enum sasl_fail r;
	char msg[SASL_INPUT_MAX + 2];
	/* authcid at SASL_USERNAME_MAX - 1, at, and over. */
	for (size_t n = SASL_USERNAME_MAX - 1; n <= SASL_USERNAME_MAX + 1; n++) {
		msg[0] = '\0';
		memset(msg + 1, 'a', n);
		msg[n + 1] = '\0';
		memcpy(msg + n + 2, "pw", 2);
		int rc = plain(msg, n + 4, &r, NULL);
		assert_int_equal(rc, SASL_FAIL);
		assert_int_equal(r, n <= SASL_USERNAME_MAX ? SASL_FAIL_CREDENTIALS
		                                           : SASL_FAIL_MALFORMED);
	}
	/* passwd at PASSWORD_LEN_MAX and over. */
	for (size_t n = PASSWORD_LEN_MAX; n <= PASSWORD_LEN_MAX + 1; n++) {
		memcpy(msg, "\0tim\0", 5);
		memset(msg + 5, 'p', n);
		assert_int_equal(plain(msg, n + 5, &r, NULL), SASL_FAIL);
		assert_int_equal(r, n <= PASSWORD_LEN_MAX ? SASL_FAIL_CREDENTIALS
		                                          : SASL_FAIL_MALFORMED);
	}
	/* Whole message over SASL_INPUT_MAX. */
	memset(msg, 'x', sizeof(msg));
	assert_int_equal(plain(msg, SASL_INPUT_MAX + 1, &r, NULL), SASL_FAIL);
	assert_int_equal(r, SASL_FAIL_MALFORMED);
}

static void
test_plain_flow(void **state)
{
	struct nbuf ch;
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	/* No initial response: an empty challenge first. */
	struct sasl_server *s = start("PLAIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_CONTINUE);
	assert_int_equal(nbuf_avail(&ch), 0);
	assert_null(sasl_server_username(s));
	/* Now step by step, looking at what the caller is given. */
	assert_int_equal(sasl_server_step(s, "\0nobody\0pw", 10, &ch), SASL_NEED_CREDENTIALS);
	assert_string_equal(sasl_server_username(s), "nobody");
	const char *pw;
	size_t len;
	assert_int_equal(sasl_server_password(s, &pw, &len), -1); /* not yet */
	assert_int_equal(sasl_server_verified(s, 1), -1);
	assert_int_equal(sasl_server_set_credentials(s, NULL), 0);
	assert_int_equal(sasl_server_set_credentials(s, NULL), -1); /* twice */
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_NEED_VERIFY);
	assert_int_equal(sasl_server_password(s, &pw, &len), 0);
	assert_int_equal(len, 2);
	assert_memory_equal(pw, "pw", 2);
	/* The unknown user is verified against a dummy with today's cost. */
	const struct auth_credentials *dummy = sasl_server_verify_credentials(s);
	assert_non_null(dummy);
	assert_true(strncmp(dummy->phc, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	assert_int_equal(sasl_server_verify(s), 0);
	/* Even a caller claiming success does not log in a non-user. */
	assert_int_equal(sasl_server_verified(s, 1), 0);
	assert_int_equal(sasl_server_password(s, &pw, &len), -1); /* wiped */
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_CREDENTIALS);
	assert_null(sasl_server_authzid(s));
	assert_int_equal(sasl_server_step(s, "x", 1, &ch), SASL_FAIL); /* after the end */
	sasl_server_free(&s);

	/* A verification error is an internal failure, not a wrong password. */
	s = start("PLAIN");
	assert_int_equal(sasl_server_step(s, "\0tim\0x", 6, &ch), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_server_set_credentials(s, lookup("tim")), 0);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_NEED_VERIFY);
	assert_int_equal(sasl_server_verified(s, -1), 0);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_INTERNAL);
	sasl_server_free(&s);

	/* Out of turn: a step while credentials are owed; input on resume. */
	s = start("PLAIN");
	assert_int_equal(sasl_server_step(s, "\0tim\0x", 6, &ch), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_INTERNAL);
	sasl_server_free(&s);
	s = start("PLAIN");
	assert_int_equal(sasl_server_step(s, "\0tim\0x", 6, &ch), SASL_NEED_CREDENTIALS);
	assert_int_equal(sasl_server_set_credentials(s, lookup("tim")), 0);
	assert_int_equal(sasl_server_step(s, "junk", 4, &ch), SASL_FAIL);
	sasl_server_free(&s);

	/* Cancel. */
	s = start("PLAIN");
	assert_int_equal(sasl_server_step(s, NULL, 0, &ch), SASL_CONTINUE);
	assert_int_equal(sasl_server_cancel(s), SASL_CANCEL);
	assert_int_equal(sasl_server_step(s, "\0tim\0tanstaaftanstaaf", 21, &ch), SASL_FAIL);
	sasl_server_free(&s);
	nbuf_deinit(&ch);
}

static void
test_login(void **state)
{
	struct nbuf ch;
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	struct sasl_server *s = start("LOGIN");
	assert_int_equal(step(s, NULL, 0, &ch), SASL_CONTINUE);
	assert_string_equal(str(&ch), "Username:");
	assert_int_equal(steps(s, "user", &ch), SASL_CONTINUE);
	assert_string_equal(str(&ch), "Password:");
	assert_string_equal(sasl_server_username(s), "user");
	assert_int_equal(steps(s, "pencil", &ch), SASL_OK);
	assert_int_equal(nbuf_avail(&ch), 0);
	assert_string_equal(sasl_server_authzid(s), "user");
	sasl_server_free(&s);

	/* User name as the initial response. */
	s = start("LOGIN");
	assert_int_equal(steps(s, "tim", &ch), SASL_CONTINUE);
	assert_string_equal(str(&ch), "Password:");
	assert_int_equal(steps(s, "wrong", &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_CREDENTIALS);
	sasl_server_free(&s);

	const char *bad_users[] = {"", "a\x01", "\xc3"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_users); i++) {
		s = start("LOGIN");
		assert_int_equal(step(s, NULL, 0, &ch), SASL_CONTINUE);
		assert_int_equal(steps(s, bad_users[i], &ch), SASL_FAIL);
		assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_MALFORMED);
		sasl_server_free(&s);
	}
	s = start("LOGIN");
	assert_int_equal(steps(s, "tim", &ch), SASL_CONTINUE);
	assert_int_equal(step(s, "p\0w", 3, &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_MALFORMED);
	sasl_server_free(&s);
	s = start("LOGIN");
	assert_int_equal(steps(s, "tim", &ch), SASL_CONTINUE);
	assert_int_equal(steps(s, "", &ch), SASL_FAIL);
	sasl_server_free(&s);
	nbuf_deinit(&ch);
}

/* Client side of SCRAM-SHA-256 for the tests: from the client-first-bare,
 * the server-first and the final message without proof, make the final
 * message and the server signature to expect. */
static void
scram_client(const char *pw, const char *cfb, const char *sfirst, const char *without,
             char *final_r, char *v_r)
{
	const char *s = strstr(sfirst, ",s="), *i = strstr(sfirst, ",i=");
	uint8_t salt[64], salted[32], ck[32], sk[32], stored[32], csig[32], proof[32], ssig[32];
	char b64[64], am[4096];
	assert_non_null(s);
	assert_non_null(i);
	long sl = base64_decode(s + 3, (size_t)(i - s - 3), salt);
	assert_true(sl > 0);
	assert_int_equal(
	        pbkdf2_sha256(pw, strlen(pw), salt, (size_t)sl, (unsigned)atoi(i + 3), salted, 32),
	        0);
	hmac_sha256(salted, 32, "Client Key", 10, ck);
	hmac_sha256(salted, 32, "Server Key", 10, sk);
	sha256(ck, 32, stored);
	int n = snprintf(am, sizeof(am), "%s,%s,%s", cfb, sfirst, without);
	hmac_sha256(stored, 32, am, (size_t)n, csig);
	for (int k = 0; k < 32; k++)
		proof[k] = ck[k] ^ csig[k];
	base64_encode(proof, 32, b64);
	sprintf(final_r, "%s,p=%s", without, b64);
	hmac_sha256(sk, 32, am, (size_t)n, ssig);
	base64_encode(ssig, 32, b64);
	sprintf(v_r, "v=%s", b64);
}

static void
test_scram_rfc7677(void **state)
{
	struct nbuf ch;
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	for (int ir = 0; ir <= 1; ir++) {
		struct sasl_server *s = start("SCRAM-SHA-256");
		assert_int_equal(sasl_server_test_set_nonce(s, RFC_SNONCE), 0);
		if (!ir) {
			assert_int_equal(step(s, NULL, 0, &ch), SASL_CONTINUE);
			assert_int_equal(nbuf_avail(&ch), 0);
		}
		assert_int_equal(steps(s, "n,,n=user,r=" RFC_CNONCE, &ch), SASL_CONTINUE);
		assert_string_equal(str(&ch), "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096");
		assert_int_equal(steps(s,
		                       "c=biws,r=" RFC_CNONCE RFC_SNONCE
		                       ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		                       &ch),
		                 SASL_OK);
		assert_string_equal(str(&ch), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
		assert_string_equal(sasl_server_authzid(s), "user");
		sasl_server_free(&s);
	}
	nbuf_deinit(&ch);
}

/* Run a SCRAM exchange: client-first, then the final message built from
 * `without` (where "%N" stands for the combined nonce) and the password.
 * Returns the final status; *s_r stays open for inspection. */
static int
scram_run(const char *first, const char *pw, const char *without_fmt, struct nbuf *ch,
          struct sasl_server **s_r, char *v_r)
{
	char sfirst[SASL_CHALLENGE_MAX + 1], nonce[700], without[2048], final[4096];
	struct sasl_server *s = start("SCRAM-SHA-256");
	*s_r = s;
	int rc = steps(s, first, ch);
	if (rc != SASL_CONTINUE)
		return rc;
	strcpy(sfirst, str(ch));
	const char *comma = strchr(sfirst, ',');
	assert_non_null(comma);
	memcpy(nonce, sfirst + 2, (size_t)(comma - sfirst - 2));
	nonce[comma - sfirst - 2] = '\0';
	const char *mark = strstr(without_fmt, "%N");
	if (mark != NULL)
		snprintf(without, sizeof(without), "%.*s%s%s", (int)(mark - without_fmt),
		         without_fmt, nonce, mark + 2);
	else
		snprintf(without, sizeof(without), "%s", without_fmt);
	/* client-first-message-bare follows the gs2-header's second comma */
	const char *bare = strchr(strchr(first, ',') + 1, ',') + 1;
	scram_client(pw, bare, sfirst, without, final, v_r);
	return steps(s, final, ch);
}

static void
test_scram_happy(void **state)
{
	struct nbuf ch;
	struct sasl_server *s;
	char v[64];
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	const struct {
		const char *first, *without;
	} ok[] = {
	        {"n,,n=user,r=abc", "c=biws,r=%N"},
	        {"y,,n=user,r=abc", "c=eSws,r=%N"},
	        {"n,a=user,n=user,r=abc", "c=bixhPXVzZXIs,r=%N"},
	        {"n,,n=user,r=abc,x=ext=val", "c=biws,r=%N"},
	        {"n,,n=user,r=abc", "c=biws,r=%N,z=ignored"},
	        {"n,,n=USER,r=!\"#$%&'()*+-./:;<=>?@[\\]^_`{|}~", "c=biws,r=%N"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int rc = scram_run(ok[i].first, "pencil", ok[i].without, &ch, &s, v);
		if (rc != SASL_OK)
			fail_msg("case %zu: %d %s", i, rc,
			         sasl_fail_str(sasl_server_fail_reason(s)));
		assert_string_equal(str(&ch), v);
		sasl_server_free(&s);
	}
	/* Escaped user name: "u,s=er". */
	assert_int_equal(scram_run("n,,n=u=2Cs=3Der,r=x", "comma", "c=biws,r=%N", &ch, &s, v),
	                 SASL_OK);
	assert_string_equal(sasl_server_username(s), "u,s=er");
	sasl_server_free(&s);
	/* Wrong password: a proof that does not verify. */
	assert_int_equal(scram_run("n,,n=user,r=abc", "pencil!", "c=biws,r=%N", &ch, &s, v),
	                 SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_CREDENTIALS);
	assert_string_equal(str(&ch), "e=invalid-proof");
	sasl_server_free(&s);
	nbuf_deinit(&ch);
}

static void
test_scram_unknown_user(void **state)
{
	struct nbuf ch;
	struct sasl_server *s;
	char first[3][SASL_CHALLENGE_MAX + 1], v[64];
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	const char *names[] = {"nobody", "nobody", "somebody"};
	for (int i = 0; i < 3; i++) {
		char msg[64];
		snprintf(msg, sizeof(msg), "n,,n=%s,r=cnonce", names[i]);
		s = start("SCRAM-SHA-256");
		assert_int_equal(steps(s, msg, &ch), SASL_CONTINUE);
		strcpy(first[i], str(&ch));
		/* r=cnonce + 32, s= 16 bytes, i= the current count */
		assert_true(strncmp(first[i], "r=cnonce", 8) == 0);
		assert_int_equal(strcspn(first[i], ","), 2 + 6 + 32);
		const char *salt = strstr(first[i], ",s=");
		assert_non_null(salt);
		assert_int_equal(strcspn(salt + 3, ","), 24);
		assert_string_equal(strstr(first[i], ",i="), ",i=4096");
		sasl_server_free(&s);
	}
	/* The same salt each time for one name, another for another name. */
	assert_string_equal(strstr(first[0], ",s="), strstr(first[1], ",s="));
	assert_string_not_equal(strstr(first[0], ",s="), strstr(first[2], ",s="));
	/* And the exchange ends like a wrong password. */
	assert_int_equal(scram_run("n,,n=nobody,r=abc", "pencil", "c=biws,r=%N", &ch, &s, v),
	                 SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_CREDENTIALS);
	assert_string_equal(str(&ch), "e=invalid-proof");
	sasl_server_free(&s);
	nbuf_deinit(&ch);
}

static void
test_scram_bad_first(void **state)
{
	struct nbuf ch;
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	char nonce513[600] = "n,,n=user,r=";
	memset(nonce513 + 12, 'x', 513);
	const struct {
		const char *m;
		enum sasl_fail r;
	} bad[] = {
	        {"", SASL_FAIL_MALFORMED},
	        {"n", SASL_FAIL_MALFORMED},
	        {"n,", SASL_FAIL_MALFORMED},
	        {"n,,", SASL_FAIL_MALFORMED},
	        {"x,,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"N,,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"F,n,,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"p=tls-unique,,n=user,r=abc", SASL_FAIL_UNSUPPORTED},
	        {"n,,m=ext,n=user,r=abc", SASL_FAIL_UNSUPPORTED},
	        {"n,,n=user,r=abc,m=ext", SASL_FAIL_UNSUPPORTED},
	        {"n,,r=abc,n=user", SASL_FAIL_MALFORMED},
	        {"n,,n=user", SASL_FAIL_MALFORMED},
	        {"n,,n=user,", SASL_FAIL_MALFORMED},
	        {"n,,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=us=er,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=us=2c,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=us=3,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=abc,", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=abc,,x=y", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=abc,x", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=abc,1=y", SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=a\x01"
	         "bc",
	         SASL_FAIL_MALFORMED},
	        {"n,,n=user,r=a\x7f"
	         "bc",
	         SASL_FAIL_MALFORMED},
	        {"n,,n=us\xffr,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,n=us\x07r,r=abc", SASL_FAIL_MALFORMED},
	        {"n,,x=y,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"n,a=,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"n,b=user,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {"n,a=other,n=user,r=abc", SASL_FAIL_AUTHZID},
	        {"n,a=us=er,n=user,r=abc", SASL_FAIL_MALFORMED},
	        {nonce513, SASL_FAIL_MALFORMED},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sasl_server *s = start("SCRAM-SHA-256");
		if (bad[i].m[0] == '\0')
			assert_int_equal(step(s, NULL, 0, &ch), SASL_CONTINUE);
		int rc = steps(s, bad[i].m, &ch);
		if (rc != SASL_FAIL || sasl_server_fail_reason(s) != bad[i].r)
			fail_msg("case %zu \"%s\": rc %d reason %s", i, bad[i].m, rc,
			         sasl_fail_str(sasl_server_fail_reason(s)));
		assert_true(strncmp(str(&ch), "e=", 2) == 0);
		sasl_server_free(&s);
	}
	/* A NUL inside. */
	struct sasl_server *s = start("SCRAM-SHA-256");
	assert_int_equal(step(s, "n,,n=us\0er,r=abc", 16, &ch), SASL_FAIL);
	sasl_server_free(&s);
	/* Nonce at 512 passes; the whole message at SASL_INPUT_MAX passes,
	 * one byte more does not. */
	nonce513[12 + 512] = '\0';
	s = start("SCRAM-SHA-256");
	assert_int_equal(steps(s, nonce513, &ch), SASL_CONTINUE);
	sasl_server_free(&s);
	static char big[SASL_INPUT_MAX + 2];
	for (size_t len = SASL_INPUT_MAX - 1; len <= SASL_INPUT_MAX + 1; len++) {
		memset(big, 'v', sizeof(big));
		memcpy(big, "n,,n=user,r=abc,x=", 18);
		s = start("SCRAM-SHA-256");
		int rc = step(s, big, len, &ch);
		assert_int_equal(rc, len <= SASL_INPUT_MAX ? SASL_CONTINUE : SASL_FAIL);
		sasl_server_free(&s);
	}
	nbuf_deinit(&ch);
}

static void
test_scram_bad_final(void **state)
{
	struct nbuf ch;
	struct sasl_server *s;
	char v[64];
	nbuf_init(&ch, SASL_CHALLENGE_MAX);
	/* Final messages sent as they are (no proof computed by us). */
	const char *proof = "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	const struct {
		const char *fmt;
		enum sasl_fail r;
	} raw[] = {
	        {"", SASL_FAIL_MALFORMED},
	        {"r=%N,%P", SASL_FAIL_MALFORMED},
	        {"r=%N,c=biws,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,", SASL_FAIL_MALFORMED},
	        {"c=bi!s,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=biw,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=eSws,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=cD10bHMtdW5pcXVlLCw=,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%Nx,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=abc,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,p=###", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,%P,x=y", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,%P,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,m=x,%P", SASL_FAIL_UNSUPPORTED},
	        {"c=biws,c=biws,r=%N,%P", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,%P\xff", SASL_FAIL_MALFORMED},
	        {"c=biws,r=%N,%P", SASL_FAIL_CREDENTIALS}, /* RFC's proof, our nonce */
	};
	for (size_t i = 0; i < ARRAY_SIZE(raw); i++) {
		char msg[1024], sfirst[SASL_CHALLENGE_MAX + 1], nonce[128], *o = msg;
		s = start("SCRAM-SHA-256");
		assert_int_equal(steps(s, "n,,n=user,r=abc", &ch), SASL_CONTINUE);
		strcpy(sfirst, str(&ch));
		size_t nl = strcspn(sfirst, ",") - 2;
		memcpy(nonce, sfirst + 2, nl);
		nonce[nl] = '\0';
		for (const char *f = raw[i].fmt; *f;) {
			if (f[0] == '%' && f[1] == 'N') {
				o += sprintf(o, "%s", nonce);
				f += 2;
			} else if (f[0] == '%' && f[1] == 'P') {
				o += sprintf(o, "%s", proof);
				f += 2;
			} else {
				*o++ = *f++;
			}
		}
		*o = '\0';
		int rc = steps(s, msg, &ch);
		if (rc != SASL_FAIL || sasl_server_fail_reason(s) != raw[i].r)
			fail_msg("case %zu \"%s\": rc %d reason %s", i, msg, rc,
			         sasl_fail_str(sasl_server_fail_reason(s)));
		assert_true(strncmp(str(&ch), "e=", 2) == 0);
		sasl_server_free(&s);
	}
	/* Channel binding of the wrong flag, with a correct proof over it. */
	assert_int_equal(scram_run("n,,n=user,r=abc", "pencil", "c=eSws,r=%N", &ch, &s, v),
	                 SASL_FAIL);
	assert_string_equal(str(&ch), "e=channel-bindings-dont-match");
	sasl_server_free(&s);
	assert_int_equal(scram_run("n,a=user,n=user,r=abc", "pencil", "c=biws,r=%N", &ch, &s, v),
	                 SASL_FAIL);
	sasl_server_free(&s);
	/* Oversized final message. */
	static char big[SASL_INPUT_MAX + 1];
	s = start("SCRAM-SHA-256");
	assert_int_equal(steps(s, "n,,n=user,r=abc", &ch), SASL_CONTINUE);
	memset(big, 'x', sizeof(big));
	assert_int_equal(step(s, big, sizeof(big), &ch), SASL_FAIL);
	assert_int_equal(sasl_server_fail_reason(s), SASL_FAIL_MALFORMED);
	sasl_server_free(&s);
	nbuf_deinit(&ch);
}

static void
test_nonce_hook(void **state)
{
	struct sasl_server *s = start("SCRAM-SHA-256");
	assert_int_equal(sasl_server_test_set_nonce(s, ""), -1);
	assert_int_equal(sasl_server_test_set_nonce(s, "a,b"), -1);
	assert_int_equal(sasl_server_test_set_nonce(s, "a b"), -1);
	assert_int_equal(sasl_server_test_set_nonce(s, "abc"), 0);
	sasl_server_free(&s);
	assert_string_equal(sasl_fail_str(SASL_FAIL_AUTHZID), "authzid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mechs),           cmocka_unit_test(test_plain),
	        cmocka_unit_test(test_plain_limits),    cmocka_unit_test(test_plain_flow),
	        cmocka_unit_test(test_login),           cmocka_unit_test(test_scram_rfc7677),
	        cmocka_unit_test(test_scram_happy),     cmocka_unit_test(test_scram_unknown_user),
	        cmocka_unit_test(test_scram_bad_first), cmocka_unit_test(test_scram_bad_final),
	        cmocka_unit_test(test_nonce_hook),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
