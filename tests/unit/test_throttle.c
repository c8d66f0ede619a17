/*
 * Unit tests: the brute-force throttle. Delay growth and cap, decay,
 * independence of users and addresses, what a success clears, address
 * aggregation, and a table that stays bounded under a million keys.
 */
#include "tests/unit/testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "node/auth/throttle.h"
#include "node/lib/util.h"

struct addr {
	struct sockaddr_storage ss;
};

static const struct sockaddr *
ip(struct addr *a, const char *text)
{
	memset(a, 0, sizeof(*a));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)&a->ss;
}

static struct throttle *
make(void)
{
	struct throttle *t = throttle_create(NULL);
	assert_non_null(t);
	return t;
}

static void
test_siphash(void **state)
{
	uint8_t key[16], msg[16];
	for (int i = 0; i < 16; i++)
		key[i] = msg[i] = (uint8_t)i;
	assert_true(throttle__siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(throttle__siphash24(key, msg, 1) == 0x74f839c593dc67fdULL);
	assert_true(throttle__siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
	assert_true(throttle__siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(throttle__siphash24(key, msg, 16) == 0x3f2acc7f57c29bdbULL);
}

static void
test_params(void **state)
{
	struct throttle_params p;
	throttle_params_default(&p);
	struct throttle_params bad = p;
	bad.capacity = 10;
	assert_null(throttle_create(&bad));
	bad = p;
	bad.forget_ms = 0;
	assert_null(throttle_create(&bad));
	bad = p;
	bad.max_delay_ms = p.base_delay_ms - 1;
	assert_null(throttle_create(&bad));
	bad = p;
	bad.ip_free = 0;
	assert_null(throttle_create(&bad));
	struct throttle *t = throttle_create(&p);
	assert_non_null(t);
	throttle_free(&t);
	assert_null(t);
	throttle_free(&t);
}

static void
test_growth_and_cap(void **state)
{
	struct throttle *t = make();
	struct addr a;
	const struct sockaddr *sa = ip(&a, "192.0.2.1");
	/* ip_free 2: two free attempts, then 1 s doubling to the 15 s cap.
	 * (The user counts more slowly, user_free 5, so the address rules.) */
	const uint32_t want[] = {0, 0, 1000, 2000, 4000, 8000, 15000, 15000, 15000};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(throttle_delay_ms(t, sa, "alice", 1000), want[i]);
		throttle_fail(t, sa, "alice", 1000);
	}
	/* Forty more: still the cap, no overflow. */
	for (int i = 0; i < 40; i++)
		throttle_fail(t, sa, "alice", 1000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 1000), 15000);
	struct throttle_stats st;
	throttle_stats(t, 1000, &st);
	assert_int_equal(st.failures, 49);
	assert_int_equal(st.throttled_ips, 1);
	assert_int_equal(st.throttled_users, 1);
	assert_int_equal(st.entries, 3);
	throttle_free(&t);
}

static void
test_decay(void **state)
{
	struct throttle *t = make();
	struct addr a;
	const struct sockaddr *sa = ip(&a, "192.0.2.1");
	for (int i = 0; i < 4; i++)
		throttle_fail(t, sa, "alice", 0);
	/* 4 failures: 4 s; one is forgotten per minute. */
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 0), 4000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 59999), 4000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 60000), 2000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 120000), 1000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 180000), 0);
	struct throttle_stats st;
	throttle_stats(t, 240000, &st);
	assert_int_equal(st.entries, 0);
	/* A clock going backwards is treated as no time passing. */
	throttle_fail(t, sa, "alice", 500000);
	throttle_fail(t, sa, "alice", 500000);
	assert_int_equal(throttle_delay_ms(t, sa, "alice", 400000), 1000);
	throttle_free(&t);
}

static void
test_independence(void **state)
{
	struct throttle *t = make();
	struct addr a, b;
	const struct sockaddr *A = ip(&a, "192.0.2.1"), *B = ip(&b, "198.51.100.7");
	for (int i = 0; i < 10; i++)
		throttle_fail(t, A, "victim", 0);
	/* Another user from another address: untouched. */
	assert_int_equal(throttle_delay_ms(t, B, "alice", 0), 0);
	/* The attacking address is slowed whoever it tries. */
	assert_true(throttle_delay_ms(t, A, "alice", 0) > 0);
	/* The attacked user is slowed from anywhere: 10 failures, user_free 5. */
	assert_int_equal(throttle_delay_ms(t, B, "victim", 0), 15000);
	assert_int_equal(throttle_delay_ms(t, B, "VICTIM", 0), 15000); /* case folded */
	/* No address (a local socket), no user yet. */
	assert_int_equal(throttle_delay_ms(t, NULL, "alice", 0), 0);
	assert_int_equal(throttle_delay_ms(t, NULL, NULL, 0), 0);
	assert_int_equal(throttle_delay_ms(t, B, NULL, 0), 0);
	assert_true(throttle_delay_ms(t, A, NULL, 0) > 0);
	throttle_fail(t, NULL, NULL, 0);
	throttle_success(t, NULL, NULL, 0);
	throttle_free(&t);
}

static void
test_success(void **state)
{
	struct throttle *t = make();
	struct addr a, b;
	const struct sockaddr *A = ip(&a, "192.0.2.1"), *B = ip(&b, "198.51.100.7");
	/* The user's own typos, then the right password: all forgiven. */
	for (int i = 0; i < 3; i++)
		throttle_fail(t, A, "alice", 0);
	assert_int_equal(throttle_delay_ms(t, A, "alice", 0), 2000);
	throttle_success(t, A, "alice", 0);
	assert_int_equal(throttle_delay_ms(t, A, "alice", 0), 0);
	struct throttle_stats st;
	throttle_stats(t, 0, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.successes, 1);

	/* Logging into one's own account does not launder failures against
	 * others from the same address. */
	for (int i = 0; i < 6; i++)
		throttle_fail(t, A, "bob", 0);
	throttle_success(t, A, "mallory", 0);
	assert_int_equal(throttle_delay_ms(t, A, "mallory", 0), 15000);
	/* And bob's own success from elsewhere leaves A's attack counted. */
	throttle_success(t, B, "bob", 0);
	assert_int_equal(throttle_delay_ms(t, A, "carol", 0), 15000);
	assert_int_equal(throttle_delay_ms(t, B, "bob", 0), 2000); /* 6 failures for bob */
	throttle_free(&t);
}

static void
test_addresses(void **state)
{
	struct throttle *t = make();
	struct addr a, b, c, d;
	/* One /64 is one key. */
	for (int i = 0; i < 3; i++)
		throttle_fail(t, ip(&a, "2001:db8:1:2::1"), "alice", 0);
	assert_int_equal(throttle_delay_ms(t, ip(&b, "2001:db8:1:2:ffff::9"), "bob", 0), 2000);
	assert_int_equal(throttle_delay_ms(t, ip(&c, "2001:db8:1:3::1"), "bob", 0), 0);
	/* An IPv4-mapped address is the IPv4 address. */
	for (int i = 0; i < 3; i++)
		throttle_fail(t, ip(&a, "::ffff:192.0.2.9"), "alice", 0);
	assert_int_equal(throttle_delay_ms(t, ip(&d, "192.0.2.9"), "bob", 0), 2000);
	assert_int_equal(throttle_delay_ms(t, ip(&d, "192.0.2.10"), "bob", 0), 0);
	/* Other families carry no address key. */
	struct sockaddr unix_sa = {.sa_family = AF_UNIX};
	throttle_fail(t, &unix_sa, "zed", 0);
	assert_int_equal(throttle_delay_ms(t, &unix_sa, "bob", 0), 0);
	throttle_free(&t);
}

static void
test_bounded(void **state)
{
	struct throttle_params p;
	throttle_params_default(&p);
	p.capacity = 4096;
	struct throttle *t = throttle_create(&p);
	assert_non_null(t);
	struct addr a, hot;
	ip(&hot, "203.0.113.5");
	for (int i = 0; i < 20; i++)
		throttle_fail(t, (const struct sockaddr *)&hot.ss, "target", 0);
	/* A million distinct addresses and names, one failure each. */
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
	memset(&a, 0, sizeof(a));
	s4->sin_family = AF_INET;
	char user[32];
	for (uint32_t i = 0; i < 1000000; i++) {
		s4->sin_addr.s_addr = htonl(0x0A000000u + i);
		snprintf(user, sizeof(user), "u%u", i);
		throttle_fail(t, (const struct sockaddr *)&a.ss, user, 1);
	}
	struct throttle_stats st;
	throttle_stats(t, 1, &st);
	assert_true(st.entries <= 4096);
	assert_true(st.evictions > 0);
	assert_int_equal(st.failures, 1000020);
	/* The established counts survived the flood. */
	assert_int_equal(throttle_delay_ms(t, (const struct sockaddr *)&hot.ss, "x", 1), 15000);
	assert_int_equal(throttle_delay_ms(t, NULL, "target", 1), 15000);
	throttle_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_siphash),        cmocka_unit_test(test_params),
	        cmocka_unit_test(test_growth_and_cap), cmocka_unit_test(test_decay),
	        cmocka_unit_test(test_independence),   cmocka_unit_test(test_success),
	        cmocka_unit_test(test_addresses),      cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
