/*
 * Unit tests: IMAP sequence sets: parsing, normalisation, "*" and "$",
 * bounds, lookups, iteration and formatting.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"
#include "protocols/imap/seqset.h"

/* Parse s and format it back. */
static void
roundtrip(const char *s, const char *expect)
{
	struct arena a;
	struct imap_seqset set;
	struct nbuf out;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	nbuf_init(&out, 1 << 20);
	if (imap_seqset_parse(&a, s, strlen(s), IMAP_SEQSET_RANGES_MAX, &set, &error) != 0)
		fail_msg("refused %s: %s", s, error);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), expect);
	nbuf_deinit(&out);
	arena_deinit(&a);
}

static void
refused(const char *s)
{
	struct arena a;
	struct imap_seqset set;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	if (imap_seqset_parse(&a, s, strlen(s), IMAP_SEQSET_RANGES_MAX, &set, &error) != -1)
		fail_msg("accepted %s", s);
	assert_non_null(error);
	arena_deinit(&a);
}

static void
test_parse(void **state)
{
	roundtrip("1", "1");
	roundtrip("1,3:5,7:*,*", "1,3:5,7:*");
	roundtrip("*", "*");
	roundtrip("*:4", "4:*");
	roundtrip("5:3", "3:5");
	roundtrip("1:3,4:6", "1:6");             /* adjacent */
	roundtrip("1:5,2:3", "1:5");             /* contained */
	roundtrip("10,1,5:7,6,2", "1:2,5:7,10"); /* unsorted */
	roundtrip("4294967294", "4294967294");
	roundtrip("1:4294967295", "1:*"); /* see IMAP_SEQ_STAR */
	roundtrip("$", "$");
	refused("");
	refused("0");
	refused("0:5");
	refused("1:0");
	refused("01");
	refused("1,");
	refused(",1");
	refused("1,,2");
	refused("1:");
	refused(":1");
	refused("1:2:3");
	refused("4294967296");
	refused("99999999999999999999");
	refused("1 ");
	refused("1,$");
	refused("$,1");
	refused("$$");
	refused("-1");
	refused("**");
	refused("1:*:2");
}

static void
test_bounds(void **state)
{
	struct arena a;
	struct imap_seqset set;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	/* 100,000 ranges: refused before anything is allocated */
	size_t n = 100000, len = 0;
	char *s = xmalloc(n * 8);
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%s%zu", i ? "," : "", 2 * i + 1);
	size_t used = a.used;
	assert_int_equal(imap_seqset_parse(&a, s, len, IMAP_SEQSET_RANGES_MAX, &set, &error), -1);
	assert_string_equal(error, "Too many ranges in sequence set");
	assert_int_equal(a.used, used);
	/* max_ranges at limit - 1, limit, limit + 1 */
	assert_int_equal(imap_seqset_parse(&a, "1,3,5", 5, 4, &set, &error), 0);
	assert_int_equal(imap_seqset_parse(&a, "1,3,5", 5, 3, &set, &error), 0);
	assert_int_equal(set.count, 3);
	assert_int_equal(imap_seqset_parse(&a, "1,3,5", 5, 2, &set, &error), -1);
	/* the bound is on ranges as written, not after merging */
	assert_int_equal(imap_seqset_parse(&a, "1,2,3", 5, 2, &set, &error), -1);
	/* an arena too small for the ranges */
	struct arena small;
	arena_init(&small, 64);
	assert_int_equal(imap_seqset_parse(&small, s, 200, 1000, &set, &error), -1);
	arena_deinit(&small);
	/* the big set, allowed, merges into one range per value */
	assert_int_equal(imap_seqset_parse(&a, s, len, n, &set, &error), 0);
	assert_int_equal(set.count, n);
	assert_true(imap_seqset_contains(&set, 199999));
	assert_false(imap_seqset_contains(&set, 199998));
	free(s);
	arena_deinit(&a);
}

static void
test_lookup_and_iter(void **state)
{
	struct arena a;
	struct imap_seqset set;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	assert_int_equal(imap_seqset_parse(&a, "2,4:6,10:12,20", 14, 100, &set, &error), 0);
	static const uint32_t in[] = {2, 4, 5, 6, 10, 11, 12, 20};
	static const uint32_t out[] = {0, 1, 3, 7, 9, 13, 19, 21, UINT32_MAX};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++)
		assert_true(imap_seqset_contains(&set, in[i]));
	for (size_t i = 0; i < ARRAY_SIZE(out); i++)
		assert_false(imap_seqset_contains(&set, out[i]));
	assert_int_equal(imap_seqset_count(&set), 8);
	assert_int_equal(imap_seqset_max(&set), 20);
	struct imap_seqset_iter it;
	uint32_t v;
	size_t k = 0;
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &v))
		assert_int_equal(v, in[k++]);
	assert_int_equal(k, ARRAY_SIZE(in));
	/* iteration up to the top value does not wrap */
	assert_int_equal(imap_seqset_parse(&a, "4294967290:4294967294", 21, 10, &set, &error), 0);
	imap_seqset_resolve(&set, 5);
	k = 0;
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &v))
		k++;
	assert_int_equal(k, 5);
	struct imap_seqset empty = {0};
	imap_seqset_iter_init(&it, &empty);
	assert_false(imap_seqset_iter_next(&it, &v));
	assert_false(imap_seqset_contains(&empty, 1));
	assert_int_equal(imap_seqset_max(&empty), 0);
	arena_deinit(&a);
}

static void
resolved(const char *s, uint32_t max, const char *expect, const char *clipped)
{
	struct arena a;
	struct imap_seqset set;
	struct nbuf out;
	const char *error = NULL;
	arena_init(&a, 1 << 20);
	nbuf_init(&out, 4096);
	assert_int_equal(imap_seqset_parse(&a, s, strlen(s), 100, &set, &error), 0);
	imap_seqset_resolve(&set, max);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), expect);
	imap_seqset_clip(&set, max);
	nbuf_reset(&out);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), clipped);
	nbuf_deinit(&out);
	arena_deinit(&a);
}

static void
test_resolve(void **state)
{
	resolved("1:*", 10, "1:10", "1:10");
	resolved("7:*", 5, "5:7", "5"); /* RFC 9051 §6.4.4: includes the last one */
	resolved("*", 5, "5", "5");
	resolved("10,*", 5, "5,10", "5");
	resolved("1:3,*", 4, "1:4", "1:4");
	resolved("3:4,*", 0, "0,3:4", "");
	resolved("1:*", 0, "0:1", "");
	resolved("2:8", 5, "2:8", "2:5");
}

static void
test_format(void **state)
{
	struct nbuf out;
	struct arena a;
	struct imap_seqset set;
	nbuf_init(&out, 64);
	arena_init(&a, 1 << 20);
	static const uint32_t v[] = {4, 5, 6, 2, 9, 10, 1};
	assert_int_equal(imap_seqset_format_values(v, ARRAY_SIZE(v), &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), "4:6,2,9:10,1");
	nbuf_reset(&out);
	assert_int_equal(imap_seqset_from_array(&a, v, ARRAY_SIZE(v), &set), 0);
	assert_int_equal(imap_seqset_format(&set, &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), "1:2,4:6,9:10");
	nbuf_reset(&out);
	static const uint32_t top[] = {4294967294, 4294967295};
	assert_int_equal(imap_seqset_format_values(top, 2, &out), 0);
	nbuf_append(&out, "", 1);
	assert_string_equal((char *)nbuf_head(&out), "4294967294:*");
	nbuf_reset(&out);
	assert_int_equal(imap_seqset_format_values(v, 0, &out), 0);
	assert_int_equal(nbuf_avail(&out), 0);
	/* the output buffer's bound */
	uint32_t many[40];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		many[i] = (uint32_t)(1000 + 2 * i);
	assert_int_not_equal(imap_seqset_format_values(many, ARRAY_SIZE(many), &out), 0);
	nbuf_deinit(&out);
	arena_deinit(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse),           cmocka_unit_test(test_bounds),
	        cmocka_unit_test(test_lookup_and_iter), cmocka_unit_test(test_resolve),
	        cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
