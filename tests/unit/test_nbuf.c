/*
 * Unit tests: nbuf bounds, compaction and release; base64/hex codecs.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/crypto.h"
#include "node/lib/nbuf.h"
#include "node/lib/util.h"

static void
test_limit(void **state)
{
	struct nbuf b;
	nbuf_init(&b, 10);
	assert_int_equal(nbuf_append(&b, "0123456789", 9), 0); /* limit - 1 */
	assert_int_equal(nbuf_append(&b, "x", 1), 0);          /* limit */
	assert_int_equal(nbuf_append(&b, "y", 1), -ENOBUFS);   /* limit + 1 */
	assert_int_equal(nbuf_avail(&b), 10);
	nbuf_consume(&b, 4);
	assert_int_equal(nbuf_append(&b, "abcd", 4), 0);
	assert_memory_equal(nbuf_head(&b), "45678xabcd", 10);
	assert_int_equal(nbuf_printf(&b, "%d", 1), -ENOBUFS);
	nbuf_deinit(&b);
}

static void
test_consume_and_release(void **state)
{
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(nbuf_printf(&b, "line %d\r\n", i), 0);
	long lf = nbuf_find_lf(&b);
	assert_int_equal(lf, 7);
	nbuf_consume(&b, nbuf_avail(&b));
	assert_int_equal(nbuf_avail(&b), 0);
	nbuf_shrink(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	nbuf_deinit(&b);
}

static void
test_printf_large(void **state)
{
	struct nbuf b;
	nbuf_init(&b, 4096);
	char big[1000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(nbuf_printf(&b, "<%s>", big), 0);
	assert_int_equal(nbuf_avail(&b), 1001);
	assert_int_equal(nbuf_head(&b)[1000], '>');
	size_t len;
	unsigned char *d = nbuf_steal(&b, &len);
	assert_int_equal(len, 1001);
	free(d);
	assert_int_equal(nbuf_avail(&b), 0);
	nbuf_deinit(&b);
}

static void
test_base64(void **state)
{
	const char *cases[][2] = {{"", ""},
	                          {"f", "Zg=="},
	                          {"fo", "Zm8="},
	                          {"foo", "Zm9v"},
	                          {"foob", "Zm9vYg=="},
	                          {"fooba", "Zm9vYmE="},
	                          {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char enc[32];
		uint8_t dec[32];
		base64_encode(cases[i][0], strlen(cases[i][0]), enc);
		assert_string_equal(enc, cases[i][1]);
		long n = base64_decode(cases[i][1], strlen(cases[i][1]), dec);
		assert_int_equal(n, (long)strlen(cases[i][0]));
		assert_memory_equal(dec, cases[i][0], (size_t)n);
	}
	uint8_t dec[16];
	assert_int_equal(base64_decode("Zg=", 3, dec), -1);
	assert_int_equal(base64_decode("Z=g=", 4, dec), -1);
	assert_int_equal(base64_decode("Zg==Zg==", 8, dec), -1);
	assert_int_equal(base64_decode("Z!==", 4, dec), -1);
}

static void
test_parse_u64(void **state)
{
	uint64_t v;
	assert_int_equal(parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", UINT64_MAX, &v), -1);
	assert_int_equal(parse_u64("", 10, &v), -1);
	assert_int_equal(parse_u64("-1", 10, &v), -1);
	assert_int_equal(parse_u64("11", 10, &v), -1);
	assert_int_equal(parse_u64("10", 10, &v), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_limit),        cmocka_unit_test(test_consume_and_release),
	        cmocka_unit_test(test_printf_large), cmocka_unit_test(test_base64),
	        cmocka_unit_test(test_parse_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
