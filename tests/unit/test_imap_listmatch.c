/*
 * Unit tests: LIST pattern matching: "*", "%", references, INBOX case,
 * the children hint, and linear time on hostile patterns.
 */
#include "tests/unit/testutil.h"

#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/util.h"
#include "protocols/imap/listmatch.h"

static unsigned
match(const char *ref, const char *pattern, const char *name)
{
	struct arena a;
	struct imap_list_pattern lp;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	assert_int_equal(
	        imap_list_pattern_init(&lp, &a, ref, strlen(ref), pattern, strlen(pattern), &error),
	        0);
	unsigned r = imap_list_match(&lp, name, strlen(name));
	arena_deinit(&a);
	return r;
}

#define YES  IMAP_LIST_MATCH_YES
#define KIDS IMAP_LIST_MATCH_CHILDREN

static void
test_wildcards(void **state)
{
	assert_int_equal(match("", "*", "a"), YES | KIDS);
	assert_int_equal(match("", "*", "a.b.c"), YES | KIDS);
	assert_int_equal(match("", "%", "a"), YES);
	assert_int_equal(match("", "%", "a.b"), 0);
	assert_int_equal(match("", "%.%", "a.b"), YES);
	assert_int_equal(match("", "%.%", "a"), KIDS);
	assert_int_equal(match("", "a.%", "a.b"), YES);
	assert_int_equal(match("", "a.%", "a.b.c"), 0);
	assert_int_equal(match("", "a.*", "a.b.c"), YES | KIDS);
	assert_int_equal(match("", "a.*", "a"), KIDS);
	assert_int_equal(match("", "a.*", "ab"), 0);
	assert_int_equal(match("", "a", "a"), YES);
	assert_int_equal(match("", "a", "b"), 0);
	assert_int_equal(match("", "a", "ab"), 0);
	assert_int_equal(match("", "a%", "abc"), YES);
	assert_int_equal(match("", "a%c", "abbc"), YES);
	assert_int_equal(match("", "a%c", "ab.c"), 0);
	assert_int_equal(match("", "a*c", "ab.c"), YES | KIDS);
	assert_int_equal(match("", "%*%", "x.y"), YES | KIDS);
	assert_int_equal(match("", "%%", "x"), YES);
	assert_int_equal(match("", "", ""), YES);
	assert_int_equal(match("", "", "a"), 0);
	assert_int_equal(match("", "*b", "a.b"), YES | KIDS);
	assert_int_equal(match("", "Sent", "sent"), 0); /* case matters but for INBOX */
}

static void
test_reference(void **state)
{
	assert_int_equal(match("INBOX.", "%", "INBOX.Sent"), YES);
	assert_int_equal(match("INBOX.", "%", "INBOX"), KIDS);
	assert_int_equal(match("Archive.", "2024.*", "Archive.2024.Q1"), YES | KIDS);
	assert_int_equal(match("Archive.", "2024.*", "2024.Q1"), 0);
	assert_int_equal(match("a", "%", "ab"), YES); /* the reference is a prefix */
	assert_int_equal(match("a*", "%", "a.b.c"), YES | KIDS);
}

static void
test_inbox(void **state)
{
	assert_int_equal(match("", "inbox", "INBOX"), YES);
	assert_int_equal(match("", "InBoX", "INBOX"), YES);
	assert_int_equal(match("", "inbox.*", "INBOX.Sent"), YES | KIDS);
	assert_int_equal(match("", "inbox.sent", "INBOX.Sent"), 0);
	assert_int_equal(match("", "in%", "INBOX"), YES);
	assert_int_equal(match("", "%b%", "INBOX"), YES);
	assert_int_equal(match("inbox.", "%", "INBOX.Drafts"), YES);
	assert_int_equal(match("", "inbox", "INBOXES"), 0);
	assert_int_equal(match("", "inboxes", "INBOXES"), 0); /* not INBOX: case matters */
	assert_int_equal(match("", "INBOXES", "INBOXES"), YES);
}

static void
test_pattern_bounds(void **state)
{
	struct arena a;
	struct imap_list_pattern lp;
	const char *error = NULL;
	char big[IMAP_LIST_PATTERN_MAX + 2];
	memset(big, 'x', sizeof(big));
	arena_init(&a, 1 << 20);
	assert_int_equal(
	        imap_list_pattern_init(&lp, &a, big, 10, big, IMAP_LIST_PATTERN_MAX - 11, &error),
	        0);
	assert_int_equal(
	        imap_list_pattern_init(&lp, &a, big, 10, big, IMAP_LIST_PATTERN_MAX - 10, &error),
	        0);
	assert_int_equal(lp.len, IMAP_LIST_PATTERN_MAX);
	assert_int_equal(imap_list_match(&lp, big, IMAP_LIST_PATTERN_MAX), YES);
	assert_int_equal(imap_list_match(&lp, big, IMAP_LIST_PATTERN_MAX - 1), 0);
	assert_int_equal(
	        imap_list_pattern_init(&lp, &a, big, 10, big, IMAP_LIST_PATTERN_MAX - 9, &error),
	        -1);
	assert_non_null(error);
	/* a pattern of wildcards only collapses */
	memset(big, '%', sizeof(big));
	big[5] = '*';
	assert_int_equal(imap_list_pattern_init(&lp, &a, "", 0, big, IMAP_LIST_PATTERN_MAX, &error),
	                 0);
	assert_int_equal(lp.len, 1);
	assert_string_equal(lp.pat, "*");
	arena_deinit(&a);
}

static void
test_no_backtracking(void **state)
{
	/* Exponential for a naive backtracking matcher; linear here. */
	struct arena a;
	struct imap_list_pattern lp;
	const char *error = NULL;
	char name[10001];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	arena_init(&a, 1 << 20);
	const char *pat = "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
	assert_int_equal(imap_list_pattern_init(&lp, &a, "", 0, pat, strlen(pat), &error), 0);
	uint64_t t0 = now_mono_us();
	for (int i = 0; i < 10; i++)
		assert_int_equal(imap_list_match(&lp, name, sizeof(name) - 1) & YES, 0);
	name[sizeof(name) - 2] = 'b';
	assert_int_equal(imap_list_match(&lp, name, sizeof(name) - 1) & YES, YES);
	const char *pct = "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b";
	assert_int_equal(imap_list_pattern_init(&lp, &a, "", 0, pct, strlen(pct), &error), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(imap_list_match(&lp, name, sizeof(name) - 1) & YES, YES);
	name[5000] = '.';
	assert_int_equal(imap_list_match(&lp, name, sizeof(name) - 1), 0);
	uint64_t us = now_mono_us() - t0;
	/* a backtracking matcher would not finish; this takes milliseconds */
	assert_true(us < 5 * 1000 * 1000);
	arena_deinit(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wildcards),       cmocka_unit_test(test_reference),
	        cmocka_unit_test(test_inbox),           cmocka_unit_test(test_pattern_bounds),
	        cmocka_unit_test(test_no_backtracking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
