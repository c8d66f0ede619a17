/*
 * Unit tests: the POP3 session's INBOX snapshot and its UPDATE batch,
 * against a real store fed the way raft feeds it: the snapshot's numbers,
 * sizes, hashes and UIDLs; DELE/RSET accounting; the batch's commands and
 * ranges; applying it (expunge, \Seen, atomicity); two sessions expunging
 * the same message; a snapshot taken over gaps of earlier expunges; the
 * POP3_MSGS_MAX cut.
 */
#include "tests/unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/pop3/pop3_maildrop.h"

struct fixture {
	struct test_store s; /* fed as raft would (testutil) */
	uint32_t user, inbox;
};

static struct cmd_result
apply1(struct fixture *f, const struct cmd *c)
{
	return test_store_apply1(&f->s, c);
}

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

static uint32_t
append(struct fixture *f, const char *body, uint32_t flags)
{
	char *tmp;
	uint8_t hash[32];
	int fd = store_body_tmp(f->s.st, &tmp);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, body, strlen(body)), 0);
	close(fd);
	sha256(body, strlen(body), hash);
	assert_int_equal(store_body_stage(f->s.dir, tmp, hash), 0);
	free(tmp);
	struct cmd c = {.type = CMD_MSG_APPEND,
	                .user_id = f->user,
	                .mailbox_id = f->inbox,
	                .hash = hash,
	                .size = strlen(body),
	                .flags = flags,
	                .internaldate = 1700000000};
	struct cmd_result r = apply1(f, &c);
	assert_int_equal(r.status, CMD_OK);
	return r.uid;
}

static struct fixture *
fixture_new(const char *name, int nmsgs)
{
	struct fixture *f = calloc(1, sizeof(*f));
	test_store_open(&f->s, name);
	struct cmd d = {.type = CMD_DOMAIN_ADD, .name = S("x.test")};
	assert_int_equal(apply1(f, &d).status, CMD_OK);
	struct cmd u = {
	        .type = CMD_USER_ADD, .address = S("a@x.test"), .blob = S("cred"), .enabled = 1};
	struct cmd_result r = apply1(f, &u);
	assert_int_equal(r.status, CMD_OK);
	f->user = r.id;
	struct store_txn *t;
	struct store_mailbox mb;
	assert_int_equal(store_read_begin(f->s.st, &t), 0);
	assert_int_equal(store_mailbox_get(t, f->user, "INBOX", &mb), 1);
	store_read_end(&t);
	f->inbox = mb.id;
	for (int i = 0; i < nmsgs; i++) {
		char body[64];
		snprintf(body, sizeof(body), "Subject: %d\r\n\r\nbody %d\r\n", i + 1, i + 1);
		assert_int_equal(append(f, body, i % 3 == 0 ? MSG_SEEN : 0), (uint32_t)i + 1);
	}
	return f;
}

static void
fixture_free(struct fixture *f)
{
	test_store_close(&f->s);
	free(f);
}

static void
load(struct fixture *f, struct pop3_maildrop *md, uint32_t max)
{
	const char *err;
	int temp;
	assert_int_equal(pop3_maildrop_load(md, f->s.st, f->user, max, &err, &temp), 0);
}

/* UIDs of INBOX now. */
static size_t
uids_now(struct fixture *f, uint32_t *out, uint32_t *flags, size_t max)
{
	struct store_txn *t;
	struct store_msg_iter *it;
	struct store_msg m;
	size_t n = 0;
	assert_int_equal(store_read_begin(f->s.st, &t), 0);
	assert_int_equal(store_msg_iter_open(t, f->inbox, 1, UINT32_MAX, &it), 0);
	while (store_msg_iter_next(it, &m) == 1 && n < max) {
		flags[n] = m.flags;
		out[n++] = m.uid;
	}
	store_msg_iter_close(&it);
	store_read_end(&t);
	return n;
}

/* Build and apply the UPDATE batch; returns the results (owned by f). */
static struct cmd_results *
update(struct fixture *f, struct pop3_maildrop *md, int seen, int expire0, int *ncmds_r,
       uint32_t *first_r)
{
	struct pop3_update u = {.mark_seen = seen, .expunge_retrieved = expire0};
	struct cmd_batch b;
	cmd_batch_init(&b, 1, CMD_BATCH_ATOMIC);
	*ncmds_r = pop3_maildrop_update_batch(md, &u, &b, first_r);
	assert_true(*ncmds_r >= 0);
	struct cmd_results *rs = *ncmds_r ? test_store_apply(&f->s, &b) : NULL;
	cmd_batch_deinit(&b);
	return rs;
}

static void
test_snapshot(void **state)
{
	struct fixture *f = fixture_new("pop3md-snap", 5);
	struct pop3_maildrop md;
	load(f, &md, POP3_MSGS_MAX);
	assert_int_equal(md.n, 5);
	assert_int_equal(md.hidden, 0);
	assert_int_equal(md.user_id, f->user);
	assert_int_equal(md.mailbox_id, f->inbox);
	uint64_t total = 0;
	for (uint32_t i = 1; i <= 5; i++) {
		struct pop3_msg *m = pop3_maildrop_get(&md, i);
		assert_non_null(m);
		assert_int_equal(m->uid, i);
		total += m->size;
		assert_int_equal(!!(m->marks & POP3_M_SEEN), (i - 1) % 3 == 0);
		char uidl[POP3_UIDL_LEN + 1], want[32];
		pop3_maildrop_uidl(&md, m, uidl);
		snprintf(want, sizeof(want), "%08x%08x", md.uidvalidity, i);
		assert_string_equal(uidl, want);
		assert_int_equal(strlen(uidl), POP3_UIDL_LEN);
		int fd = store_body_open(f->s.st, m->hash);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(md.size, total);
	assert_null(pop3_maildrop_get(&md, 0));
	assert_null(pop3_maildrop_get(&md, 6));
	assert_null(pop3_maildrop_get(&md, UINT32_MAX));

	/* Mail arriving later is not in this snapshot. */
	append(f, "Subject: late\r\n\r\nlate\r\n", 0);
	assert_int_equal(md.n, 5);

	/* DELE and RSET accounting. */
	struct pop3_msg *m2 = pop3_maildrop_get(&md, 2);
	assert_int_equal(pop3_maildrop_dele(&md, m2), 0);
	assert_int_equal(pop3_maildrop_dele(&md, m2), -1);
	assert_int_equal(md.ndeleted, 1);
	assert_int_equal(md.size, total - m2->size);
	pop3_maildrop_rset(&md);
	assert_int_equal(md.ndeleted, 0);
	assert_int_equal(md.size, total);
	pop3_maildrop_deinit(&md);
	fixture_free(f);
}

static void
test_update(void **state)
{
	struct fixture *f = fixture_new("pop3md-update", 10);
	struct pop3_maildrop md;
	int n;
	uint32_t first, uids[32], flags[32];
	load(f, &md, POP3_MSGS_MAX);

	/* Nothing done: no command at all (an empty range list would mean
	 * every message to apply()). */
	assert_null(update(f, &md, 1, 0, &n, &first));
	assert_int_equal(n, 0);

	/* Delete 2,3,4 and 7; retrieve 1 (already seen), 5, 6 and 7. */
	for (uint32_t i = 2; i <= 4; i++)
		pop3_maildrop_dele(&md, pop3_maildrop_get(&md, i));
	pop3_maildrop_dele(&md, pop3_maildrop_get(&md, 7));
	uint32_t retr[] = {1, 5, 6, 7};
	for (size_t i = 0; i < 4; i++)
		pop3_maildrop_retrieved(&md, pop3_maildrop_get(&md, retr[i]));
	struct cmd_results *rs = update(f, &md, 1, 0, &n, &first);
	assert_int_equal(n, 2);
	assert_int_equal(first, 1);
	assert_int_equal(rs->r[0].status, CMD_OK);
	assert_int_equal(rs->r[1].status, CMD_OK);
	assert_int_equal(rs->r[1].nset1, 4);
	size_t k = uids_now(f, uids, flags, 32);
	assert_int_equal(k, 6);
	static const uint32_t left[] = {1, 5, 6, 8, 9, 10};
	for (size_t i = 0; i < k; i++) {
		assert_int_equal(uids[i], left[i]);
		int seen = left[i] == 1 || left[i] == 5 || left[i] == 6 || (left[i] - 1) % 3 == 0;
		assert_int_equal(!!(flags[i] & MSG_SEEN), seen);
	}
	pop3_maildrop_deinit(&md);

	/* A second session over the gaps: the ranges may span them. Two
	 * concurrent snapshots both delete 8; the second UPDATE is harmless. */
	struct pop3_maildrop a, b;
	load(f, &a, POP3_MSGS_MAX);
	load(f, &b, POP3_MSGS_MAX);
	assert_int_equal(a.n, 6);
	pop3_maildrop_dele(&a, pop3_maildrop_get(&a, 3)); /* uid 6 */
	pop3_maildrop_dele(&a, pop3_maildrop_get(&a, 4)); /* uid 8 */
	pop3_maildrop_dele(&b, pop3_maildrop_get(&b, 4)); /* uid 8 */
	pop3_maildrop_dele(&b, pop3_maildrop_get(&b, 6)); /* uid 10 */
	rs = update(f, &a, 1, 0, &n, &first);
	assert_int_equal(n, 1);
	assert_int_equal(first, 0);
	assert_int_equal(rs->r[0].nset1, 2);
	rs = update(f, &b, 1, 0, &n, &first);
	assert_int_equal(rs->r[0].status, CMD_OK);
	assert_int_equal(rs->r[0].nset1, 1); /* only 10: 8 was gone */
	k = uids_now(f, uids, flags, 32);
	assert_int_equal(k, 3);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 5);
	assert_int_equal(uids[2], 9);
	pop3_maildrop_deinit(&a);
	pop3_maildrop_deinit(&b);
	fixture_free(f);
}

static void
test_policy(void **state)
{
	struct fixture *f = fixture_new("pop3md-policy", 5);
	struct pop3_maildrop md;
	int n;
	uint32_t first, uids[8], flags[8];

	/* seen_on_retr false: retrieving changes nothing. */
	load(f, &md, POP3_MSGS_MAX);
	pop3_maildrop_retrieved(&md, pop3_maildrop_get(&md, 2));
	assert_null(update(f, &md, 0, 0, &n, &first));
	assert_int_equal(n, 0);
	pop3_maildrop_deinit(&md);

	/* EXPIRE 0: retrieved messages go at UPDATE. */
	load(f, &md, POP3_MSGS_MAX);
	pop3_maildrop_retrieved(&md, pop3_maildrop_get(&md, 2));
	pop3_maildrop_retrieved(&md, pop3_maildrop_get(&md, 3));
	struct cmd_results *rs = update(f, &md, 1, 1, &n, &first);
	assert_int_equal(n, 1);
	assert_int_equal(rs->r[0].nset1, 2);
	assert_int_equal(uids_now(f, uids, flags, 8), 3); /* 1, 4, 5 */
	pop3_maildrop_deinit(&md);

	/* UIDVALIDITY changed since the snapshot: refused, nothing lost. */
	load(f, &md, POP3_MSGS_MAX);
	pop3_maildrop_dele(&md, pop3_maildrop_get(&md, 1));
	pop3_maildrop_retrieved(&md, pop3_maildrop_get(&md, 3)); /* uid 5, unseen */
	md.uidvalidity++;
	rs = update(f, &md, 1, 0, &n, &first);
	assert_int_equal(n, 2);
	assert_int_equal(first, 1);
	assert_int_equal(rs->r[0].status, CMD_ESTALE);
	assert_int_not_equal(rs->r[1].status, CMD_OK);
	assert_int_equal(uids_now(f, uids, flags, 8), 3);
	assert_int_equal(uids[2], 5);
	assert_int_equal(flags[2] & MSG_SEEN, 0);
	pop3_maildrop_deinit(&md);
	fixture_free(f);
}

static void
test_limit(void **state)
{
	struct fixture *f = fixture_new("pop3md-limit", 5);
	struct pop3_maildrop md;
	load(f, &md, 4); /* limit - 1 */
	assert_int_equal(md.n, 4);
	assert_int_equal(md.hidden, 1);
	pop3_maildrop_deinit(&md);
	load(f, &md, 5); /* limit */
	assert_int_equal(md.n, 5);
	assert_int_equal(md.hidden, 0);
	pop3_maildrop_deinit(&md);
	load(f, &md, 6); /* limit + 1 */
	assert_int_equal(md.n, 5);
	pop3_maildrop_deinit(&md);

	/* An unknown user has no INBOX: a permanent failure. */
	const char *err;
	int temp;
	assert_int_equal(pop3_maildrop_load(&md, f->s.st, 999, 10, &err, &temp), -1);
	assert_int_equal(temp, 0);
	fixture_free(f);
}

static void
test_ranges_split(void **state)
{
	/* Alternate deletions over more than CMD_RANGES_MAX messages need two
	 * EXPUNGE commands; a synthetic snapshot is enough to check that. */
	struct pop3_maildrop md = {.user_id = 1, .mailbox_id = 2, .uidvalidity = 3};
	md.n = 2 * CMD_RANGES_MAX + 10;
	md.v = calloc(md.n, sizeof(*md.v));
	for (uint32_t i = 0; i < md.n; i++) {
		md.v[i].uid = i + 1;
		if (i % 2 == 0)
			pop3_maildrop_dele(&md, &md.v[i]);
	}
	struct pop3_update u = {.mark_seen = 1};
	struct cmd_batch b;
	uint32_t first;
	cmd_batch_init(&b, 1, CMD_BATCH_ATOMIC);
	assert_int_equal(pop3_maildrop_update_batch(&md, &u, &b, &first), 2);
	assert_int_equal(first, 0);
	size_t len;
	const uint8_t *data = cmd_batch_data(&b, &len);
	struct cmd_batch_iter it;
	struct cmd c;
	const char *err;
	assert_int_equal(cmd_batch_iter_init(&it, data, len), 0);
	assert_int_equal(cmd_batch_next(&it, &c, &err), 1);
	assert_int_equal(c.type, CMD_MSG_EXPUNGE);
	assert_int_equal(c.mode, EXPUNGE_UIDS);
	assert_int_equal(c.ranges.n, CMD_RANGES_MAX);
	assert_int_equal(c.uidvalidity, 3);
	struct uid_range r;
	cmd_ranges_get(&c.ranges, 1, &r);
	assert_int_equal(r.lo, 3);
	assert_int_equal(r.hi, 3);
	assert_int_equal(cmd_batch_next(&it, &c, &err), 1);
	assert_int_equal(c.ranges.n, 5);
	assert_int_equal(cmd_batch_next(&it, &c, &err), 0);
	cmd_batch_deinit(&b);
	pop3_maildrop_deinit(&md);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_snapshot),     cmocka_unit_test(test_update),
	        cmocka_unit_test(test_policy),       cmocka_unit_test(test_limit),
	        cmocka_unit_test(test_ranges_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
