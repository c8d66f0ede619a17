/*
 * Unit tests: modified UTF-7 (RFC 3501 §5.1.3) both ways, strictness, and
 * the mailbox-name checks.
 */
#include "tests/unit/testutil.h"

#include <string.h>

#include "node/lib/util.h"
#include "protocols/imap/mutf7.h"

static const char *const vectors[][2] = {
        /* RFC 3501 §5.1.3 example */
        {"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
         "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
        {"", ""},
        {"INBOX", "INBOX"},
        {"&", "&-"},
        {"a&b", "a&-b"},
        {"Entw\xc3\xbcrfe", "Entw&APw-rfe"},
        {"Gel\xc3\xb6schte Elemente", "Gel&APY-schte Elemente"},
        {"\xd0\x9e\xd1\x82\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbb\xd0\xb5\xd0\xbd\xd0\xbd\xd1\x8b"
         "\xd0\xb5",
         "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
        {"\xe9\x80\x81\xe4\xbf\xa1\xe6\xb8\x88\xe3\x81\xbf\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab",
         "&kAFP4W4IMH8w4TD8MOs-"},
        {"\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac",
         "&A5UDuwO7A7cDvQO5A7oDrA-"},
        {"\xe5\xb7\xb2\xe5\x8f\x91\xe9\x80\x81", "&XfJT0ZAB-"},
        {"\xeb\xb3\xb4\xeb\x82\xb8\xed\x8e\xb8\xec\xa7\x80\xed\x95\xa8", "&vPSwuNO4ycDVaA-"},
        {"\xd7\xa2\xd7\x91\xd7\xa8\xd7\x99\xd7\xaa", "&BeIF0QXoBdkF6g-"},
        {"\xf0\x9f\x98\x80 emoji", "&2D3eAA- emoji"},
        {"\xc3\xa9", "&AOk-"},
        {"\xc3\xa9\xc3\xa9", "&AOkA6Q-"},
        {"a\xc3\xa9&b", "a&AOk-&-b"},
        {"\t", "&AAk-"}, /* controls are encoded (the name check refuses them) */
};

static void
test_vectors(void **state)
{
	char out[600];
	size_t len;
	const char *error = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		const char *u = vectors[i][0], *m = vectors[i][1];
		assert_int_equal(imap_utf8_to_mutf7(u, strlen(u), out, sizeof(out), &len, &error),
		                 0);
		assert_string_equal(out, m);
		assert_int_equal(len, strlen(m));
		assert_int_equal(imap_mutf7_to_utf8(m, strlen(m), out, sizeof(out), &len, &error),
		                 0);
		assert_string_equal(out, u);
		assert_int_equal(len, strlen(u));
	}
}

static void
test_invalid_mutf7(void **state)
{
	static const char *const bad[] = {
	        "&",           /* "&" without "-" */
	        "a&AOk",       /* unterminated */
	        "&AGE-",       /* "a" encoded: must be literal */
	        "&ACY-",       /* "&" encoded: must be "&-" */
	        "&ACA-",       /* SP encoded */
	        "&AOl-",       /* non-zero padding bits */
	        "&AOkA-",      /* a leftover base64 char */
	        "&AO-",        /* 12 bits: no unit */
	        "&A-",         /* 6 bits */
	        "&AOk-&AOk-",  /* adjacent runs: one run is canonical */
	        "&2D0-",       /* lone high surrogate */
	        "&3gA-",       /* lone low surrogate */
	        "&2D3YPQ-",    /* high + high */
	        "&AOk/-",      /* "/" is not modified base64 */
	        "&AOk=-",      /* no padding in modified base64 */
	        "&AAA-",       /* U+0000 */
	        "a\tb",        /* not printable ASCII */
	        "caf\xc3\xa9", /* 8-bit */
	        "&AOk -",
	};
	char out[64];
	size_t len;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *error = NULL;
		if (imap_mutf7_to_utf8(bad[i], strlen(bad[i]), out, sizeof(out), &len, &error) !=
		    -1)
			fail_msg("accepted invalid mUTF-7 %s", bad[i]);
		assert_non_null(error);
	}
	/* a NUL inside the input */
	const char *error = NULL;
	assert_int_equal(imap_mutf7_to_utf8("a\0b", 3, out, sizeof(out), &len, &error), -1);
}

static void
test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
	        "\xc0\xaf",         /* overlong "/" */
	        "\xc1\xbf",         /* overlong */
	        "\xe0\x80\xaf",     /* overlong */
	        "\xf0\x80\x80\xaf", /* overlong */
	        "\xed\xa0\x80",     /* surrogate U+D800 */
	        "\xed\xbf\xbf",     /* surrogate U+DFFF */
	        "\xf4\x90\x80\x80", /* U+110000 */
	        "\xf5\x80\x80\x80",
	        "\xff",
	        "\x80",     /* lone continuation */
	        "\xc3",     /* truncated */
	        "\xe6\x97", /* truncated */
	        "a\xc3(",   /* bad continuation */
	};
	char out[64];
	size_t len;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *error = NULL;
		assert_false(imap_utf8_is_valid(bad[i], strlen(bad[i])));
		assert_int_equal(
		        imap_utf8_to_mutf7(bad[i], strlen(bad[i]), out, sizeof(out), &len, &error),
		        -1);
		assert_non_null(error);
	}
	assert_false(imap_utf8_is_valid("a\0b", 3));
	assert_true(imap_utf8_is_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	assert_true(imap_utf8_is_valid("\xee\x80\x80", 3));     /* U+E000 */
	assert_true(imap_utf8_is_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
}

static void
test_output_bounds(void **state)
{
	char out[8];
	size_t len;
	const char *error = NULL;
	/* "&AOk-" needs 6 bytes with the NUL */
	assert_int_equal(imap_utf8_to_mutf7("\xc3\xa9", 2, out, 6, &len, &error), 0);
	assert_int_equal(imap_utf8_to_mutf7("\xc3\xa9", 2, out, 5, &len, &error), -1);
	assert_int_equal(imap_mutf7_to_utf8("abcdefg", 7, out, 8, &len, &error), 0);
	assert_int_equal(imap_mutf7_to_utf8("abcdefgh", 8, out, 8, &len, &error), -1);
	assert_int_equal(imap_mutf7_to_utf8("", 0, out, 0, &len, &error), -1);
}

static void
test_name_check(void **state)
{
	const char *error = NULL;
	static const char *const good[] = {"INBOX", "a",  "a.b.c", "Entw\xc3\xbcrfe", "[Gmail]",
	                                   "a b",   "~x", "a&b",   "\xf0\x9f\x98\x80"};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (imap_mailbox_name_check(good[i], strlen(good[i]), IMAP_MAILBOX_CREATE, &error))
			fail_msg("refused %s: %s", good[i], error);
	static const char *const bad[] = {"",     ".a",     "a.",   "a..b", ".",     "..",
	                                  "a/b",  "/etc",   "../x", "a\tb", "a\x7f", "a\xc2\x85",
	                                  "\xc3", "a\r\nb", "a.*",  "%"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		error = NULL;
		if (imap_mailbox_name_check(bad[i], strlen(bad[i]), IMAP_MAILBOX_CREATE, &error) !=
		    -1)
			fail_msg("accepted %s", bad[i]);
		assert_non_null(error);
	}
	/* wildcards only matter for names to create */
	assert_int_equal(imap_mailbox_name_check("a*", 2, 0, &error), 0);
	/* 255 bytes of UTF-8: limit - 1, limit, limit + 1 */
	char name[600];
	memset(name, 'x', sizeof(name));
	assert_int_equal(imap_mailbox_name_check(name, 254, 0, &error), 0);
	assert_int_equal(imap_mailbox_name_check(name, 255, 0, &error), 0);
	assert_int_equal(imap_mailbox_name_check(name, 256, 0, &error), -1);
	/* "a" + U+00E9 is 3 bytes of UTF-8 and "a&AOk-", 6 of mUTF-7: 255
	 * bytes give 510, allowed; "&" + U+00E9 is "&-&AOk-", 7: 595, refused */
	size_t n = 0;
	for (int i = 0; i < 85; i++) {
		name[n++] = 'a';
		name[n++] = '\xc3';
		name[n++] = '\xa9';
	}
	assert_int_equal(n, 255);
	assert_int_equal(imap_mailbox_name_check(name, n, 0, &error), 0);
	for (size_t i = 0; i < n; i += 3)
		name[i] = '&';
	error = NULL;
	assert_int_equal(imap_mailbox_name_check(name, n, 0, &error), -1);
	assert_non_null(error);
}

static void
test_from_wire_and_inbox(void **state)
{
	char out[IMAP_MAILBOX_UTF8_MAX + 1];
	size_t len;
	const char *error = NULL;
	assert_int_equal(
	        imap_mailbox_name_from_wire("inbox", 5, false, 0, out, sizeof(out), &len, &error),
	        0);
	assert_string_equal(out, "INBOX");
	assert_int_equal(imap_mailbox_name_from_wire("InBoX.Entw&APw-rfe", 18, false, 0, out,
	                                             sizeof(out), &len, &error),
	                 0);
	assert_string_equal(out, "INBOX.Entw\xc3\xbcrfe");
	assert_int_equal(
	        imap_mailbox_name_from_wire("inboxes", 7, false, 0, out, sizeof(out), &len, &error),
	        0);
	assert_string_equal(out, "inboxes");
	assert_int_equal(imap_mailbox_name_from_wire("Entw\xc3\xbcrfe", 9, true, 0, out,
	                                             sizeof(out), &len, &error),
	                 0);
	assert_string_equal(out, "Entw\xc3\xbcrfe");
	/* 8-bit is not modified UTF-7 */
	assert_int_equal(imap_mailbox_name_from_wire("Entw\xc3\xbcrfe", 9, false, 0, out,
	                                             sizeof(out), &len, &error),
	                 -1);
	assert_int_equal(
	        imap_mailbox_name_from_wire("a/b", 3, false, 0, out, sizeof(out), &len, &error),
	        -1);
	assert_int_equal(
	        imap_mailbox_name_from_wire("&AC8-", 5, false, 0, out, sizeof(out), &len, &error),
	        -1); /* "/" smuggled as encoded ASCII */
	char big[IMAP_MAILBOX_MUTF7_MAX + 2];
	memset(big, 'x', sizeof(big));
	assert_int_equal(imap_mailbox_name_from_wire(big, IMAP_MAILBOX_MUTF7_MAX + 1, false, 0, out,
	                                             sizeof(out), &len, &error),
	                 -1);
	/* 512 bytes of modified UTF-7: limit - 1, limit, limit + 1 ("&-&AOk-"
	 * is 7 bytes for 3 of UTF-8, so 255 bytes of UTF-8 are not reached) */
	char enc[600];
	size_t n = 0;
	for (int i = 0; i < 73; i++) {
		memcpy(enc + n, "&-&AOk-", 7);
		n += 7;
	}
	assert_int_equal(n, 511);
	assert_int_equal(
	        imap_mailbox_name_from_wire(enc, n, false, 0, out, sizeof(out), &len, &error), 0);
	enc[n++] = 'x';
	assert_int_equal(
	        imap_mailbox_name_from_wire(enc, n, false, 0, out, sizeof(out), &len, &error), 0);
	assert_int_equal(len, 220);
	enc[n++] = 'y';
	assert_int_equal(
	        imap_mailbox_name_from_wire(enc, n, false, 0, out, sizeof(out), &len, &error), -1);
	char s[] = "inbox.Sent";
	imap_mailbox_name_canon_inbox(s, strlen(s));
	assert_string_equal(s, "INBOX.Sent");
	char t[] = "inboxx";
	imap_mailbox_name_canon_inbox(t, strlen(t));
	assert_string_equal(t, "inboxx");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors),      cmocka_unit_test(test_invalid_mutf7),
	        cmocka_unit_test(test_invalid_utf8), cmocka_unit_test(test_output_bounds),
	        cmocka_unit_test(test_name_check),   cmocka_unit_test(test_from_wire_and_inbox),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
