/*
 * Unit tests: Argon2id hashing and verification, PHC strings, rehash
 * decisions, the password policy and SASLprep (RFC 4013 §3 examples), the
 * credentials blob (round trip, every truncation and bit flip), and the
 * cost of the default parameters. Small Argon2 parameters keep it fast.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/credentials.h"
#include "node/auth/password.h"
#include "node/auth/saslprep.h"
#include "node/lib/crypto.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

static const struct password_params small = {
        .argon2_m_kib = 1024, .argon2_t = 1, .argon2_p = 1, .scram_iterations = 4096};

static void
test_hash_verify(void **state)
{
	struct auth_credentials c;
	assert_int_equal(password_hash("correct horse", 13, &small, &c), 0);
	assert_int_equal(c.flags, AUTH_CRED_ARGON2 | AUTH_CRED_SCRAM);
	assert_true(strncmp(c.phc, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
	assert_int_equal(password_verify(&c, "correct horse", 13), 1);
	assert_int_equal(password_verify(&c, "correct horsf", 13), 0);
	assert_int_equal(password_verify(&c, "correct hors", 12), 0);
	assert_int_equal(password_verify(&c, "correct horse ", 14), 0);
	assert_int_equal(password_verify(&c, "", 0), 0);
	assert_int_equal(password_verify(&c, "correct\0horse", 13), 0);

	/* A fresh salt each time. */
	struct auth_credentials d;
	assert_int_equal(password_hash("correct horse", 13, &small, &d), 0);
	assert_string_not_equal(c.phc, d.phc);
	assert_memory_not_equal(c.scram_salt, d.scram_salt, 16);

	/* SCRAM half alone verifies the same password (PLAIN fallback). */
	d.flags = AUTH_CRED_SCRAM;
	assert_int_equal(password_verify(&d, "correct horse", 13), 1);
	assert_int_equal(password_verify(&d, "Correct horse", 13), 0);
	d.flags = 0;
	assert_int_equal(password_verify(&d, "correct horse", 13), -1);
	struct auth_credentials e = c;
	memcpy(e.phc, "$argon2i$", 9);
	assert_int_equal(password_verify(&e, "correct horse", 13), -1);

	/* Bad parameters refuse to hash. */
	struct password_params bad = small;
	bad.scram_iterations = 4095;
	assert_int_equal(password_hash("x", 1, &bad, &d), -EINVAL);
	bad = small;
	bad.argon2_m_kib = 7;
	assert_int_equal(password_hash("x", 1, &bad, &d), -EINVAL);
}

static void
test_phc(void **state)
{
	struct auth_credentials c;
	struct password_phc phc;
	char again[AUTH_PHC_MAX + 1];
	assert_int_equal(password_hash("pw", 2, &small, &c), 0);
	assert_int_equal(password_phc_parse(c.phc, strlen(c.phc), &phc), 0);
	assert_int_equal(phc.m_kib, 1024);
	assert_int_equal(phc.t, 1);
	assert_int_equal(phc.p, 1);
	assert_int_equal(phc.salt_len, PASSWORD_SALT_LEN);
	assert_int_equal(phc.hash_len, PASSWORD_HASH_LEN);
	assert_int_equal(password_phc_format(&phc, again, sizeof(again)), (int)strlen(c.phc));
	assert_string_equal(again, c.phc);
	assert_int_equal(password_phc_format(&phc, again, 20), -1);

	const char *good = "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$"
	                   "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE";
	assert_int_equal(password_phc_parse(good, strlen(good), &phc), 0);
	assert_int_equal(phc.m_kib, 65536);
	assert_int_equal(phc.t, 3);
	const char *bad[] = {
	        "",
	        "$argon2i$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=16$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=065536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=2097152,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=17,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=17$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=15,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$t=3,m=65536,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA==$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdB$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZQ$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWE",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ$",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZXNhbHRzb21lc2FsdA",
	        "$argon2id$v=19$m=65536,t=3,p=1,x=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=4294967296,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	        "$argon2id$v=19$m=65536,t=3,p=1$c29tZX!hbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYQ",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (password_phc_parse(bad[i], strlen(bad[i]), &phc) != -1)
			fail_msg("accepted %s", bad[i]);
	}
	/* A prefix is refused, or (cut inside the hash, which the format does
	 * not delimit) parses as a shorter hash that verifies nothing. */
	size_t hash_at = strrchr(good, '$') + 1 - good;
	for (size_t n = 0; n < strlen(good); n++) {
		int rc = password_phc_parse(good, n, &phc);
		if (n < hash_at + 22) /* fewer than 16 bytes of hash */
			assert_int_equal(rc, -1);
		else if (rc == 0)
			assert_true(phc.hash_len < 32);
	}
}

static void
test_needs_rehash(void **state)
{
	struct auth_credentials c;
	struct password_params def, more = small;
	password_params_default(&def);
	assert_int_equal(password_hash("pw", 2, &small, &c), 0);
	assert_int_equal(password_needs_rehash(&c, &small), 0);
	assert_int_equal(password_needs_rehash(&c, &def), 1);
	more.argon2_t = 2;
	assert_int_equal(password_needs_rehash(&c, &more), 1);
	more = small;
	more.scram_iterations = 5000;
	assert_int_equal(password_needs_rehash(&c, &more), 1);
	more = small;
	more.argon2_m_kib = 512; /* weaker wanted: no rehash */
	assert_int_equal(password_needs_rehash(&c, &more), 0);
	c.flags = AUTH_CRED_SCRAM;
	assert_int_equal(password_needs_rehash(&c, &small), 1);
	c.flags = 0;
	assert_int_equal(password_needs_rehash(&c, &small), -1);
}

static void
test_policy(void **state)
{
	const char *error;
	char big[PASSWORD_LEN_MAX + 1];
	memset(big, 'a', sizeof(big));
	assert_int_equal(password_policy_check("", 0, &error), -1);
	assert_int_equal(password_policy_check(big, PASSWORD_LEN_MAX - 1, &error), 0);
	assert_int_equal(password_policy_check(big, PASSWORD_LEN_MAX, &error), 0);
	assert_int_equal(password_policy_check(big, PASSWORD_LEN_MAX + 1, &error), -1);
	assert_int_equal(password_policy_check("a\0b", 3, &error), -1);
	assert_int_equal(password_policy_check("a\tb", 3, &error), -1);
	assert_int_equal(password_policy_check("\xc3\x28", 2, &error), -1);
	assert_int_equal(password_policy_check("\xc2\xad", 2, &error), -1); /* to nothing */
	assert_int_equal(password_policy_check("caf\xc3\xa9", 5, &error), 0);
	assert_int_equal(password_policy_check("cafe\xcc\x81", 6, &error), -1);    /* U+0301 */
	assert_int_equal(password_policy_check("\xef\xbc\xa1", 3, &error), -1);    /* U+FF21 */
	assert_int_equal(password_policy_check("\xd7\xa9\xd7\x9c", 4, &error), 0); /* Hebrew */
	assert_int_equal(password_policy_check("\xd7\xa9"
	                                       "a\xd7\x9c",
	                                       5, &error),
	                 -1);
	assert_int_equal(password_policy_check("\xd7\xa9\xd7\x9c"
	                                       "1",
	                                       5, &error),
	                 -1);
	assert_int_equal(password_hash("", 0, &small, &(struct auth_credentials){0}), -EINVAL);
	assert_int_equal(
	        password_hash(big, PASSWORD_LEN_MAX + 1, &small, &(struct auth_credentials){0}),
	        -EINVAL);

	/* Set with a no-break space and a soft hyphen, verify with the
	 * prepared spelling and with the original. */
	struct auth_credentials c;
	assert_int_equal(password_hash("pa\xc2\xa0ss\xc2\xadword", 12, &small, &c), 0);
	assert_int_equal(password_verify(&c, "pa ssword", 9), 1);
	assert_int_equal(password_verify(&c, "pa\xc2\xa0ss\xc2\xadword", 12), 1);
	assert_int_equal(password_verify(&c, "pa\xe3\x80\x80ssword", 11), 1); /* U+3000 */
	assert_int_equal(password_verify(&c, "pa ssword\x07", 10), 0);
}

static void
prep_ok(const char *in, int flags, const char *want)
{
	char out[128];
	size_t n;
	const char *error;
	assert_int_equal(saslprep_prepare(in, strlen(in), flags, out, &n, &error), 0);
	assert_int_equal(n, strlen(want));
	assert_string_equal(out, want);
}

static void
prep_fail(const char *in, size_t len, int flags)
{
	char out[64];
	size_t n;
	const char *error = NULL;
	assert_int_equal(saslprep_prepare(in, len, flags, out, &n, &error), -1);
	assert_non_null(error);
}

static void
test_saslprep(void **state)
{
	/* RFC 4013 §3 examples. */
	prep_ok("I\xc2\xadX", 0, "IX");
	prep_ok("user", 0, "user");
	prep_ok("USER", 0, "USER");
	/* XXX RFC 4013 §2.2: U+00AA and U+2168 would become "a" and "IX"
	 * under NFKC; a query keeps them, a stored string refuses them. */
	prep_ok("\xc2\xaa", 0, "\xc2\xaa");
	prep_fail("\xc2\xaa", 2, SASLPREP_STORED);
	prep_fail("\xe2\x85\xa8", 3, SASLPREP_STORED);
	prep_fail("\x07", 1, 0);
	prep_fail("\xd8\xa7"
	          "1",
	          3, SASLPREP_STORED); /* bidi, RFC 4013 §3 */
	/* Printable ASCII is untouched in both modes. */
	char ascii[96];
	for (int i = 0; i < 95; i++)
		ascii[i] = (char)(0x20 + i);
	ascii[95] = '\0';
	prep_ok(ascii, 0, ascii);
	prep_ok(ascii, SASLPREP_STORED, ascii);
	/* Prohibited and malformed input. */
	prep_fail("a\x7f", 2, 0);
	prep_fail("\xc2\x80", 2, 0);         /* C.2.2 */
	prep_fail("\xee\x80\x80", 3, 0);     /* C.3 U+E000 */
	prep_fail("\xef\xbf\xbe", 3, 0);     /* C.4 U+FFFE */
	prep_fail("\xf0\x9f\xbf\xbf", 4, 0); /* C.4 U+1FFFF */
	prep_fail("\xe2\x80\xae", 3, 0);     /* C.8 U+202E */
	prep_fail("\xf3\xa0\x80\x81", 4, 0); /* C.9 U+E0001 */
	prep_fail("\xed\xa0\x80", 3, 0);     /* surrogate */
	prep_fail("\xc0\xaf", 2, 0);         /* overlong */
	prep_fail("\xe0\x80\xaf", 3, 0);     /* overlong */
	prep_fail("\xf4\x90\x80\x80", 4, 0); /* > U+10FFFF */
	prep_fail("\xe2\x82", 2, 0);         /* truncated */
	prep_fail("\x80", 1, 0);
	prep_ok("a\xe2\x80\x8b"
	        "b",
	        0, "ab"); /* U+200B: nothing in a query */
	prep_fail("a\xe2\x80\x8b"
	          "b",
	          5, SASLPREP_STORED);
	prep_ok("a\xe1\x9a\x80"
	        "b",
	        0, "a b"); /* U+1680 */
	prep_ok("\xef\xbb\xbf"
	        "x",
	        0, "x"); /* U+FEFF */
	/* In place. */
	char buf[16] = "I\xc2\xadX";
	size_t n;
	const char *error;
	assert_int_equal(saslprep_prepare(buf, 4, 0, buf, &n, &error), 0);
	assert_string_equal(buf, "IX");
}

static void
test_crc32c(void **state)
{
	assert_int_equal(auth__crc32c("123456789", 9), 0xE3069283u);
}

static void
blob_of(const struct auth_credentials *c, uint8_t *blob, size_t *n_r)
{
	struct nbuf b;
	nbuf_init(&b, AUTH_CRED_BLOB_MAX);
	assert_int_equal(auth_credentials_encode(c, &b), 0);
	*n_r = nbuf_avail(&b);
	memcpy(blob, nbuf_head(&b), *n_r);
	nbuf_deinit(&b);
}

/* Re-seal a hand-edited blob with a valid checksum. */
static void
reseal(uint8_t *blob, size_t n)
{
	uint32_t crc = auth__crc32c(blob, n - 4);
	blob[n - 4] = (uint8_t)(crc >> 24);
	blob[n - 3] = (uint8_t)(crc >> 16);
	blob[n - 2] = (uint8_t)(crc >> 8);
	blob[n - 1] = (uint8_t)crc;
}

static void
test_blob(void **state)
{
	const char *pw = "Tr0ub4dor&3-secret";
	struct auth_credentials c, d;
	uint8_t blob[AUTH_CRED_BLOB_MAX + 8];
	size_t n;

	assert_int_equal(password_hash(pw, strlen(pw), &small, &c), 0);
	blob_of(&c, blob, &n);
	assert_true(n <= AUTH_CRED_BLOB_MAX);
	assert_int_equal(auth_credentials_decode(blob, n, &d), 0);
	assert_int_equal(d.flags, c.flags);
	assert_string_equal(d.phc, c.phc);
	assert_int_equal(d.scram_salt_len, c.scram_salt_len);
	assert_memory_equal(d.scram_salt, c.scram_salt, c.scram_salt_len);
	assert_int_equal(d.scram_iterations, c.scram_iterations);
	assert_memory_equal(d.scram_stored_key, c.scram_stored_key, SHA256_LEN);
	assert_memory_equal(d.scram_server_key, c.scram_server_key, SHA256_LEN);
	assert_int_equal(password_verify(&d, pw, strlen(pw)), 1);

	/* No plaintext, in any usual spelling. */
	char b64[64];
	base64_encode(pw, strlen(pw), b64);
	assert_null(memmem(blob, n, pw, strlen(pw)));
	assert_null(memmem(blob, n, pw, 6));
	assert_null(memmem(blob, n, b64, strlen(b64)));

	/* Every truncation and every single-bit flip is refused. */
	for (size_t len = 0; len < n; len++)
		assert_int_equal(auth_credentials_decode(blob, len, &d), -1);
	for (size_t bit = 0; bit < n * 8; bit++) {
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(auth_credentials_decode(blob, n, &d), -1);
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* A trailing byte, even correctly sealed. */
	blob[n] = 0;
	assert_int_equal(auth_credentials_decode(blob, n + 1, &d), -1);
	memmove(blob + n - 3, blob + n - 4, 4);
	blob[n - 4] = 0;
	reseal(blob, n + 1);
	assert_int_equal(auth_credentials_decode(blob, n + 1, &d), -1);
	blob_of(&c, blob, &n);

	/* Sealed but meaningless: version, flags, count, PHC, salt length. */
	struct {
		size_t off;
		uint8_t val;
	} edits[] = {
	        {0, 2}, {1, 0}, {1, 4}, {1, 7}, {3, 'X'}, {2, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
		uint8_t copy[sizeof(blob)];
		memcpy(copy, blob, n);
		copy[edits[i].off] = edits[i].val;
		reseal(copy, n);
		assert_int_equal(auth_credentials_decode(copy, n, &d), -1);
	}
	size_t scram = 3 + strlen(c.phc); /* salt length byte */
	uint8_t copy[sizeof(blob)];
	memcpy(copy, blob, n);
	copy[scram] = 15;
	reseal(copy, n);
	assert_int_equal(auth_credentials_decode(copy, n, &d), -1);
	memcpy(copy, blob, n);
	copy[scram + 1 + 16 + 2] = 0x0F; /* iterations 0x1000 -> 0x0F00 */
	reseal(copy, n);
	assert_int_equal(auth_credentials_decode(copy, n, &d), -1);

	/* One half only, either way. */
	d = c;
	d.flags = AUTH_CRED_SCRAM;
	blob_of(&d, blob, &n);
	assert_int_equal(auth_credentials_decode(blob, n, &d), 0);
	assert_int_equal(d.flags, AUTH_CRED_SCRAM);
	assert_int_equal(password_verify(&d, pw, strlen(pw)), 1);
	d = c;
	d.flags = AUTH_CRED_ARGON2;
	blob_of(&d, blob, &n);
	assert_int_equal(auth_credentials_decode(blob, n, &d), 0);
	assert_int_equal(d.flags, AUTH_CRED_ARGON2);

	/* The encoder refuses what the decoder would. */
	struct nbuf b;
	nbuf_init(&b, AUTH_CRED_BLOB_MAX);
	d = c;
	d.scram_iterations = 100;
	assert_int_equal(auth_credentials_encode(&d, &b), -EINVAL);
	d = c;
	d.flags = 0;
	assert_int_equal(auth_credentials_encode(&d, &b), -EINVAL);
	d = c;
	strcpy(d.phc, "plaintext");
	assert_int_equal(auth_credentials_encode(&d, &b), -EINVAL);
	assert_int_equal(nbuf_avail(&b), 0);
	nbuf_deinit(&b);
}

static void
test_scram_derive(void **state)
{
	/* RFC 7677 §3's verifier; the exchange itself is in test_sasl.c. */
	uint8_t salt[16];
	struct auth_credentials c = {0};
	assert_int_equal(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt), 16);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4096, &c), 0);
	assert_int_equal(c.flags, AUTH_CRED_SCRAM);
	assert_int_equal(password_verify(&c, "pencil", 6), 1);
	assert_int_equal(password_verify(&c, "pencils", 7), 0);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 15, 4096, &c), -EINVAL);
	assert_int_equal(password_scram_derive("pencil", 6, salt, 16, 4095, &c), -EINVAL);
}

static void
test_default_cost(void **state)
{
	struct password_params def;
	struct auth_credentials c;
	password_params_default(&def);
	assert_int_equal(password_hash("a reasonably long password", 26, &def, &c), 0);
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = now_mono_us();
		assert_int_equal(password_verify(&c, "a reasonably long password", 26), 1);
		uint64_t dt = now_mono_us() - t0;
		best = dt < best ? dt : best;
	}
	fprintf(stderr, "password_verify, defaults m=%u KiB t=%u p=%u: %.1f ms (best of 3)\n",
	        def.argon2_m_kib, def.argon2_t, def.argon2_p, best / 1000.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_verify),  cmocka_unit_test(test_phc),
	        cmocka_unit_test(test_needs_rehash), cmocka_unit_test(test_policy),
	        cmocka_unit_test(test_saslprep),     cmocka_unit_test(test_crc32c),
	        cmocka_unit_test(test_blob),         cmocka_unit_test(test_scram_derive),
	        cmocka_unit_test(test_default_cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
