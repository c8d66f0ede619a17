/*
 * Unit tests: IMAP URLs (protocols/imap/imapurl.h; RFC 5092, RFC 4467 §6)
 * as CATENATE and URLAUTH read them: every piece, case-insensitive
 * keywords, percent escapes, partial ranges, EXPIRE in RFC 3339 forms,
 * URLAUTH rump and full URLs; what is refused; the length limit at
 * limit - 1, limit, limit + 1. And the replicated command that carries a
 * URLAUTH mailbox key (CMD_URLAUTH_KEY): round trip, and the codec's
 * refusal of every malformed form.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/util.h"
#include "node/store/cmd.h"
#include "protocols/imap/imapurl.h"

static int
parse(struct arena *a, const char *s, struct imap_url *u, const char **err)
{
	return imap_url_parse(a, s, strlen(s), u, err);
}

static void
test_paths(void **state)
{
	struct arena a;
	struct imap_url u;
	const char *err;
	arena_init(&a, 0);
	assert_int_equal(parse(&a, "/INBOX/;UID=20", &u, &err), 0);
	assert_false(u.absolute);
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uid, 20);
	assert_int_equal(u.uidvalidity, 0);
	assert_null(u.section);
	assert_false(u.has_partial);
	assert_null(u.access);
	assert_int_equal(
	        parse(&a, "/Drafts;uidvalidity=385759045/;uid=20/;section=HEADER", &u, &err), 0);
	assert_string_equal(u.mailbox, "Drafts");
	assert_int_equal(u.uidvalidity, 385759045u);
	assert_string_equal(u.section, "HEADER");
	assert_int_equal(parse(&a,
	                       "/a%20b.%C3%A9t%C3%A9/;UID=1/;SECTION=HEADER.FIELDS%20(To%20From)"
	                       "/;PARTIAL=10.20",
	                       &u, &err),
	                 0);
	assert_string_equal(u.mailbox, "a b.\xc3\xa9t\xc3\xa9");
	assert_string_equal(u.section, "HEADER.FIELDS (To From)");
	assert_true(u.has_partial);
	assert_int_equal(u.partial_off, 10);
	assert_int_equal(u.partial_len, 20);
	assert_int_equal(parse(&a, "/INBOX/;UID=1/;PARTIAL=0", &u, &err), 0);
	assert_int_equal(u.partial_len, 0);
	assert_int_equal(parse(&a, "/INBOX/;UID=4294967295", &u, &err), 0);
	assert_int_equal(u.uid, 4294967295u);
	arena_deinit(&a);
}

static void
test_absolute_and_urlauth(void **state)
{
	struct arena a;
	struct imap_url u;
	const char *err;
	arena_init(&a, 0);
	const char *r = "imap://joe%40example.com;AUTH=*@example.com:143/INBOX/;uid=20/;section=1.2"
	                ";urlauth=submit+fred";
	assert_int_equal(parse(&a, r, &u, &err), 0);
	assert_true(u.absolute);
	assert_string_equal(u.user, "joe@example.com");
	assert_string_equal(u.host, "example.com:143");
	assert_string_equal(u.section, "1.2");
	assert_string_equal(u.access, "submit+fred");
	assert_int_equal(u.rump_len, strlen(r));
	assert_null(u.mechanism);
	char full[512];
	snprintf(full, sizeof(full), "%s:internal:%s", r, "91354a473744909de610943775f92038");
	assert_int_equal(parse(&a, full, &u, &err), 0);
	assert_int_equal(u.rump_len, strlen(r));
	assert_string_equal(u.mechanism, "internal");
	assert_string_equal(u.token, "91354a473744909de610943775f92038");
	/* EXPIRE: Z, offsets, fractions */
	assert_int_equal(
	        parse(&a, "imap://u@h/INBOX/;UID=1;EXPIRE=2006-01-01T00:00:00Z;URLAUTH=anonymous",
	              &u, &err),
	        0);
	assert_true(u.has_expire);
	assert_int_equal(u.expire, 1136073600);
	assert_string_equal(u.access, "anonymous");
	assert_int_equal(parse(&a,
	                       "imap://u@h/INBOX/;UID=1;EXPIRE=2006-01-01T02:30:00.25+02:30;"
	                       "URLAUTH=authuser",
	                       &u, &err),
	                 0);
	assert_int_equal(u.expire, 1136073600);
	/* a leap day that exists */
	assert_int_equal(
	        parse(&a, "imap://u@h/INBOX/;UID=1;EXPIRE=2008-02-29T00:00:00Z;URLAUTH=anonymous",
	              &u, &err),
	        0);
	assert_int_equal(u.expire, 1204243200);
	/* no user: anonymous access to a server */
	assert_int_equal(parse(&a, "imap://host/INBOX/;UID=1", &u, &err), 0);
	assert_null(u.user);
	arena_deinit(&a);
}

static void
test_refused(void **state)
{
	struct arena a;
	struct imap_url u;
	const char *err;
	arena_init(&a, 0);
	static const char *const bad[] = {
	        "",
	        "INBOX/;UID=1",
	        "http://example.com/INBOX/;UID=1",
	        "/INBOX",
	        "/INBOX/;UID=0",
	        "/INBOX/;UID=01",
	        "/INBOX/;UID=4294967296",
	        "/INBOX/;UID=x",
	        "/;UID=1",
	        "/INBOX;UIDVALIDITY=0/;UID=1",
	        "/IN%2/;UID=1",
	        "/IN%00BOX/;UID=1",
	        "/IN%zzBOX/;UID=1",
	        "/INBOX/;UID=1/;SECTION=",
	        "/INBOX/;UID=1/;PARTIAL=",
	        "/INBOX/;UID=1/;PARTIAL=1.0",
	        "/INBOX/;UID=1/;PARTIAL=4294967296",
	        "/INBOX/;UID=1 trailing",
	        "/INBOX/;UID=1junk",
	        "/INBOX/;UID=1;EXPIRE=2006-01-01T00:00:00Z",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-13-01T00:00:00Z;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-02-31T00:00:00Z;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-02-29T00:00:00Z;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-04-31T00:00:00Z;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-01-01 00:00:00Z;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;EXPIRE=2006-01-01T00:00:00;URLAUTH=anonymous",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=everyone",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=user+",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=authuser:",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=authuser:internal",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=authuser::0123456789abcdef0123456789abcdef",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=authuser:internal:0123456789abcdef",
	        "imap://u@h/INBOX/"
	        ";UID=1;URLAUTH=authuser:internal:0123456789abcdef0123456789abcdeg",
	        "imap://u@h/INBOX/;UID=1;URLAUTH=authuser:in/"
	        "ternal:0123456789abcdef0123456789abcdef",
	        "imap://@h/INBOX/;UID=1",
	        "imap://u@/INBOX/;UID=1",
	        "imap://u@h",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		err = NULL;
		if (parse(&a, bad[i], &u, &err) == 0)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
	}
	/* NUL inside, and control characters */
	assert_int_equal(imap_url_parse(&a, "/IN\0BOX/;UID=1", 14, &u, &err), -1);
	assert_int_equal(parse(&a, "/IN\tBOX/;UID=1", &u, &err), -1);
	/* the length limit */
	char *big = malloc(IMAP_URL_MAX + 2);
	const char *tail = "/;UID=1";
	for (size_t len = IMAP_URL_MAX - 1; len <= IMAP_URL_MAX + 1; len++) {
		big[0] = '/';
		memset(big + 1, 'a', len - 1 - strlen(tail));
		memcpy(big + len - strlen(tail), tail, strlen(tail));
		assert_int_equal(imap_url_parse(&a, big, len, &u, &err),
		                 len <= IMAP_URL_MAX ? 0 : -1);
	}
	free(big);
	arena_deinit(&a);
}

/* CMD_URLAUTH_KEY through the codec. */
static int
decode_one(const struct cmd *c, struct cmd *out, const char **err)
{
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	if (cmd_batch_add(&b, c) != 0) {
		cmd_batch_deinit(&b);
		*err = "encode";
		return -1;
	}
	size_t len;
	const uint8_t *p = cmd_batch_data(&b, &len);
	static uint8_t copy[4096];
	memcpy(copy, p, len);
	cmd_batch_deinit(&b);
	struct cmd_batch_iter it;
	assert_int_equal(cmd_batch_iter_init(&it, copy, len), 0);
	return cmd_batch_next(&it, out, err) == 1 ? 0 : -1;
}

static void
test_key_command(void **state)
{
	uint8_t key[CMD_URLAUTH_KEY_LEN];
	memset(key, 0xa5, sizeof(key));
	struct cmd c = {.type = CMD_URLAUTH_KEY,
	                .user_id = 7,
	                .mailbox_id = 9,
	                .mode = URLAUTH_KEY_ADD,
	                .blob = {(const char *)key, sizeof(key)}},
	           d;
	const char *err = NULL;
	assert_int_equal(decode_one(&c, &d, &err), 0);
	assert_int_equal(d.type, CMD_URLAUTH_KEY);
	assert_int_equal(d.user_id, 7);
	assert_int_equal(d.mailbox_id, 9);
	assert_int_equal(d.mode, URLAUTH_KEY_ADD);
	assert_int_equal(d.blob.len, CMD_URLAUTH_KEY_LEN);
	assert_memory_equal(d.blob.p, key, sizeof(key));
	assert_string_equal(cmd_type_name(CMD_URLAUTH_KEY), "urlauth-key");
	/* resets: one mailbox, or all */
	struct cmd r = {.type = CMD_URLAUTH_KEY, .user_id = 7, .mode = URLAUTH_KEY_RESET};
	assert_int_equal(decode_one(&r, &d, &err), 0);
	r.mailbox_id = 3;
	assert_int_equal(decode_one(&r, &d, &err), 0);
	/* malformed: a short or long key, a key with a reset, no mailbox for
	 * a key, an unknown mode */
	struct cmd bad[6];
	for (int i = 0; i < 6; i++)
		bad[i] = c;
	bad[0].blob.len = CMD_URLAUTH_KEY_LEN - 1;
	bad[1].blob.len = 0;
	bad[2].mode = URLAUTH_KEY_RESET;
	bad[3].mailbox_id = 0;
	bad[4].mode = 0;
	bad[5].mode = 3;
	for (int i = 0; i < 6; i++) {
		err = NULL;
		if (decode_one(&bad[i], &d, &err) == 0)
			fail_msg("malformed form %d accepted", i);
	}
	uint8_t longkey[CMD_URLAUTH_KEY_LEN + 1] = {0};
	c.blob = (struct cmd_str){(const char *)longkey, sizeof(longkey)};
	assert_int_equal(decode_one(&c, &d, &err), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_paths),
	        cmocka_unit_test(test_absolute_and_urlauth),
	        cmocka_unit_test(test_refused),
	        cmocka_unit_test(test_key_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
