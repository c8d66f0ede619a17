/*
 * Unit tests: recipient resolution (node/recipient.c) against a real
 * store: users, aliases of aliases, subaddresses, catch-alls, disabled
 * users, and the limits on users per address and alias depth.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/recipient.h"
#include "node/store/store.h"

static struct store *st;
static char *dir;
static uint64_t idx;
static struct cmd_results *last;

static void
applied_cb(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs)
{
	cmd_results_free(&last);
	last = rs;
}

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

static enum cmd_status
apply1(const struct cmd *c)
{
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	assert_int_equal(cmd_batch_add(&b, c), 0);
	size_t len;
	const uint8_t *data = cmd_batch_data(&b, &len);
	struct nbuf frame;
	nbuf_init(&frame, CMD_FRAME_MAX);
	assert_int_equal(cmd_frame_encode(&data, &len, 1, &frame), 0);
	assert_int_equal(store_apply(st, ++idx, nbuf_head(&frame), nbuf_avail(&frame)), 0);
	assert_int_equal(store_commit(st), 0);
	nbuf_deinit(&frame);
	cmd_batch_deinit(&b);
	return last->r[0].status;
}

static uint32_t
user(const char *addr)
{
	struct cmd d = {.type = CMD_DOMAIN_ADD, .name = S(strchr(addr, '@') + 1)};
	apply1(&d);
	struct cmd u = {.type = CMD_USER_ADD, .address = S(addr), .blob = S("cred"), .enabled = 1};
	assert_int_equal(apply1(&u), CMD_OK);
	return last->r[0].id;
}

static enum cmd_status
alias(const char *addr, const char *const *targets, uint32_t n)
{
	struct cmd c = {
	        .type = CMD_ALIAS_ADD, .address = S(addr), .targets = {n, targets, NULL, 0}};
	return apply1(&c);
}

static int
resolve(const char *addr, struct recipient *r)
{
	struct store_txn *t;
	assert_int_equal(store_read_begin(st, &t), 0);
	int rc = recipient_resolve(t, addr, strlen(addr), r);
	store_read_end(&t);
	return rc;
}

static int
setup(void **state)
{
	dir = test_tmpdir("lmtp_recipient");
	struct store_hooks h = {.applied = applied_cb};
	const char *err;
	assert_int_equal(store_open(dir, &h, &st, &err), 0);
	idx = 0;
	return 0;
}

static int
teardown(void **state)
{
	store_close(&st);
	cmd_results_free(&last);
	test_rmtree(dir);
	free(dir);
	return 0;
}

static void
test_users(void **state)
{
	uint32_t al = user("al@a.test");
	struct recipient r;
	assert_int_equal(resolve("al@a.test", &r), 1);
	assert_int_equal(r.nusers, 1);
	assert_int_equal(r.users[0].id, al);
	assert_string_equal(r.users[0].address, "al@a.test");
	assert_string_equal(r.via, "user");
	assert_string_equal(r.detail, "");
	recipient_deinit(&r);
	/* Case does not matter, in either part. */
	assert_int_equal(resolve("AL@A.Test", &r), 1);
	assert_string_equal(r.address, "al@a.test");
	recipient_deinit(&r);
	const char *unknown[] = {"bo@a.test",  "al@b.test",     "al",         "", "al@",
	                         "a l@a.test", "\"al\"@a.test", "al@a.test\n"};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		assert_int_equal(resolve(unknown[i], &r), 0);
		assert_int_equal(r.nusers, 0);
		recipient_deinit(&r);
	}
	/* Embedded NUL and over-long input are unknown, never read past. */
	assert_int_equal(recipient_resolve(NULL, "al\0@a.test", 10, &r), 0);
	char longaddr[CMD_ADDRESS_MAX + 2];
	memset(longaddr, 'a', sizeof(longaddr));
	assert_int_equal(recipient_resolve(NULL, longaddr, sizeof(longaddr), &r), 0);
}

static void
test_disabled_user_is_unknown(void **state)
{
	user("off@a.test");
	user("catch@a.test");
	const char *t[] = {"catch@a.test"};
	assert_int_equal(alias("@a.test", t, 1), CMD_OK);
	struct cmd c = {.type = CMD_USER_SET_ENABLED, .address = S("off@a.test"), .enabled = 0};
	assert_int_equal(apply1(&c), CMD_OK);
	struct recipient r;
	/* Not delivered, and not handed to the catch-all either. */
	assert_int_equal(resolve("off@a.test", &r), 0);
	recipient_deinit(&r);
	/* A disabled member of an alias is skipped. */
	const char *t2[] = {"off@a.test", "catch@a.test"};
	assert_int_equal(alias("pair@a.test", t2, 2), CMD_OK);
	assert_int_equal(resolve("pair@a.test", &r), 1);
	assert_int_equal(r.nusers, 1);
	assert_string_equal(r.users[0].address, "catch@a.test");
	recipient_deinit(&r);
}

static void
test_aliases(void **state)
{
	uint32_t al = user("al@a.test"), bo = user("bo@a.test"), ca = user("ca@a.test");
	const char *team[] = {"al@a.test", "bo@a.test"};
	assert_int_equal(alias("team@a.test", team, 2), CMD_OK);
	const char *all[] = {"team@a.test", "ca@a.test", "al@a.test"};
	assert_int_equal(alias("all@a.test", all, 3), CMD_OK);
	struct recipient r;
	assert_int_equal(resolve("All@a.test", &r), 1);
	assert_string_equal(r.via, "alias");
	/* Each user once, though al is reached twice. */
	assert_int_equal(r.nusers, 3);
	uint32_t seen = 0;
	for (size_t i = 0; i < r.nusers; i++)
		seen |= (r.users[i].id == al) << 0 | (r.users[i].id == bo) << 1 |
		        (r.users[i].id == ca) << 2;
	assert_int_equal(seen, 7);
	recipient_deinit(&r);
	/* A member deleted after the alias was made is skipped. */
	struct cmd del = {.type = CMD_USER_DEL, .address = S("bo@a.test")};
	assert_int_equal(apply1(&del), CMD_OK);
	assert_int_equal(resolve("team@a.test", &r), 1);
	assert_int_equal(r.nusers, 1);
	assert_int_equal(r.users[0].id, al);
	recipient_deinit(&r);
}

static void
test_subaddress_and_catchall(void **state)
{
	uint32_t al = user("al@a.test"), ca = user("ca@b.test");
	const char *team[] = {"al@a.test"};
	assert_int_equal(alias("team@a.test", team, 1), CMD_OK);
	struct recipient r;
	assert_int_equal(resolve("al+Some.Tag@a.test", &r), 1);
	assert_int_equal(r.users[0].id, al);
	assert_string_equal(r.detail, "some.tag");
	assert_string_equal(r.via, "subaddress");
	recipient_deinit(&r);
	assert_int_equal(resolve("team+x+y@a.test", &r), 1); /* first separator */
	assert_string_equal(r.detail, "x+y");
	recipient_deinit(&r);
	assert_int_equal(resolve("+x@a.test", &r), 0); /* no user part */
	recipient_deinit(&r);
	assert_int_equal(resolve("nobody+x@a.test", &r), 0);
	recipient_deinit(&r);
	/* A catch-all catches its own domain only. */
	const char *t[] = {"ca@b.test"};
	assert_int_equal(alias("@b.test", t, 1), CMD_OK);
	assert_int_equal(resolve("whoever@b.test", &r), 1);
	assert_int_equal(r.users[0].id, ca);
	assert_string_equal(r.via, "catchall");
	recipient_deinit(&r);
	assert_int_equal(resolve("whoever@a.test", &r), 0);
	recipient_deinit(&r);
	/* An existing address is not caught. */
	user("own@b.test");
	assert_int_equal(resolve("own@b.test", &r), 1);
	assert_string_equal(r.users[0].address, "own@b.test");
	recipient_deinit(&r);
}

static void
test_deep_chain(void **state)
{
	/* The longest chain the store accepts resolves. */
	user("end@a.test");
	char prev[64] = "end@a.test", name[64];
	int depth = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "c%d@a.test", i);
		const char *t[] = {prev};
		if (alias(name, t, 1) != CMD_OK)
			break;
		snprintf(prev, sizeof(prev), "%s", name);
		depth++;
	}
	assert_true(depth >= 1 && depth < RECIPIENT_DEPTH_MAX);
	struct recipient r;
	assert_int_equal(resolve(prev, &r), 1);
	assert_int_equal(r.nusers, 1);
	assert_string_equal(r.users[0].address, "end@a.test");
	recipient_deinit(&r);
}

static void
test_users_limit(void **state)
{
	/* RECIPIENT_USERS_MAX - 1, at, + 1 users behind one address. */
	static char names[RECIPIENT_USERS_MAX + 1][32];
	const char *t[RECIPIENT_USERS_MAX + 1];
	for (int i = 0; i <= RECIPIENT_USERS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "u%d@w.test", i);
		user(names[i]);
		t[i] = names[i];
	}
	struct recipient r;
	assert_int_equal(alias("under@w.test", t, RECIPIENT_USERS_MAX - 1), CMD_OK);
	assert_int_equal(resolve("under@w.test", &r), 1);
	assert_int_equal(r.nusers, RECIPIENT_USERS_MAX - 1);
	recipient_deinit(&r);
	assert_int_equal(alias("at@w.test", t, RECIPIENT_USERS_MAX), CMD_OK);
	assert_int_equal(resolve("at@w.test", &r), 1);
	assert_int_equal(r.nusers, RECIPIENT_USERS_MAX);
	recipient_deinit(&r);
	/* One alias holds at most CMD_TARGETS_MAX targets: go over the user
	 * limit through two. */
	const char *two[] = {"at@w.test", names[RECIPIENT_USERS_MAX]};
	assert_int_equal(alias("over@w.test", two, 2), CMD_OK);
	assert_int_equal(resolve("over@w.test", &r), RECIPIENT_ETOOMANY);
	recipient_deinit(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_disabled_user_is_unknown, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_aliases, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_subaddress_and_catchall, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_deep_chain, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_users_limit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
