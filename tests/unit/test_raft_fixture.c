/*
 * Unit tests: the replicated state machine (replication/fsm.c over the real
 * store) on canonical raft's deterministic fixture (raft/fixture.h): three
 * servers in virtual time, with elections, kills, partitions (saturated
 * links both ways) and snapshot installs. After each scenario every
 * replica's index must dump identically.
 */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <raft.h>
#include <raft/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/store.h"
#include "replication/fsm.h"

#define N       3
#define STEP_MS 20000

struct srv {
	char *dir;
	struct store *st;
	struct repl_fsm fsm;
};

#define REQS_MAX 512

struct fx {
	struct raft_fixture f;
	struct srv s[N];
	unsigned seq;
	/* raft_apply requests live here: a killed leader never calls back. */
	struct raft_apply reqs[REQS_MAX];
	unsigned nreqs;
};

static void
fx_setup(struct fx *x, unsigned threshold)
{
	memset(x, 0, sizeof(*x));

	assert_int_equal(raft_fixture_initialize(&x->f), 0);
	for (unsigned i = 0; i < N; i++) {
		const char *err;
		x->s[i].dir = test_tmpdir("raft-fixture");
		assert_int_equal(store_open(x->s[i].dir, NULL, &x->s[i].st, &err), 0);
		repl_fsm_init(&x->s[i].fsm, x->s[i].st);
		x->s[i].fsm.commit_each = 1;
		assert_int_equal(raft_fixture_grow(&x->f, &x->s[i].fsm.fsm), 0);
		struct raft *r = raft_fixture_get(&x->f, i);
		x->s[i].fsm.raft = r;
		raft_set_pre_vote(r, true);
		if (threshold) {
			raft_set_snapshot_threshold(r, threshold);
			raft_set_snapshot_trailing(r, threshold / 2);
		}
	}
	struct raft_configuration conf;
	assert_int_equal(raft_fixture_configuration(&x->f, N, &conf), 0);
	assert_int_equal(raft_fixture_bootstrap(&x->f, &conf), 0);
	raft_configuration_close(&conf);
	assert_int_equal(raft_fixture_start(&x->f), 0);
}

static void
fx_teardown(struct fx *x)
{
	raft_fixture_close(&x->f);
	for (unsigned i = 0; i < N; i++) {
		store_close(&x->s[i].st);
		test_rmtree(x->s[i].dir);
		free(x->s[i].dir);
	}
}

static void
apply_cb(struct raft_apply *req, int status, void *result)
{
}

/* Propose one frame holding `c` on the current leader. Returns 1 if
 * proposed, 0 if there is no leader. */
static int
propose(struct fx *x, const struct cmd *c)
{
	unsigned li = raft_fixture_leader_index(&x->f);
	if (li >= N)
		return 0;
	struct cmd_batch b;
	cmd_batch_init(&b, li + 1, 0);
	assert_int_equal(cmd_batch_add(&b, c), 0);
	size_t len;
	const uint8_t *data = cmd_batch_data(&b, &len);
	struct nbuf frame;
	nbuf_init(&frame, CMD_FRAME_MAX);
	assert_int_equal(cmd_frame_encode(&data, &len, 1, &frame), 0);
	struct raft_buffer buf;
	size_t flen = nbuf_avail(&frame);
	buf.len = (flen + CMD_FRAME_ALIGN - 1) & ~(size_t)(CMD_FRAME_ALIGN - 1);
	buf.base = raft_malloc(buf.len);
	memset(buf.base, 0, buf.len);
	memcpy(buf.base, nbuf_head(&frame), flen);
	nbuf_deinit(&frame);
	cmd_batch_deinit(&b);
	assert_true(x->nreqs < REQS_MAX);
	struct raft_apply *req = &x->reqs[x->nreqs];
	int rc = raft_apply(raft_fixture_get(&x->f, li), req, &buf, 1, apply_cb);
	if (rc != 0) {
		raft_free(buf.base);
		return 0;
	}
	x->nreqs++;
	return 1;
}

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

/* A mix of commands that exercise every part of the index. */
static void
propose_some(struct fx *x, unsigned n)
{
	for (unsigned i = 0; i < n; i++, x->seq++) {
		char name[64], body[64];
		uint8_t hash[32];
		struct cmd c = {0};
		switch (x->seq % 5) {
		case 0:
			snprintf(name, sizeof(name), "d%u.test", x->seq);
			c.type = CMD_DOMAIN_ADD;
			c.name = S(name);
			break;
		case 1:
			snprintf(name, sizeof(name), "u%u@d%u.test", x->seq, x->seq - 1);
			c.type = CMD_USER_ADD;
			c.address = S(name);
			c.blob = S("credentials");
			c.enabled = 1;
			break;
		case 2:
			snprintf(name, sizeof(name), "Folder%u", x->seq);
			c.type = CMD_MAILBOX_CREATE;
			c.user_id = 1 + x->seq / 5;
			c.name = S(name);
			break;
		case 3:
			snprintf(body, sizeof(body), "Subject: %u\r\n\r\nbody\r\n", x->seq);
			sha256(body, strlen(body), hash);
			c.type = CMD_MSG_APPEND;
			c.user_id = 1;
			c.mailbox_id = 1; /* the first user's INBOX */
			c.hash = hash;
			c.size = strlen(body);
			c.internaldate = 1700000000 + x->seq;
			break;
		default: {
			static const struct uid_range all = {1, 1000};
			c.type = CMD_MSG_STORE;
			c.user_id = 1;
			c.mailbox_id = 1;
			c.uidvalidity = 0; /* refused as stale unless it matches: both fine */
			c.ranges = (struct cmd_ranges){1, &all, NULL};
			c.mode = STORE_ADD;
			c.flags = MSG_SEEN;
			break;
		}
		}
		int ok = 0;
		for (int tries = 0; tries < 50 && !ok; tries++) {
			ok = propose(x, &c);
			if (!ok)
				raft_fixture_step_until_has_leader(&x->f, STEP_MS);
		}
		assert_true(ok);
		raft_fixture_step_n(&x->f, 3);
	}
}

static void
settle(struct fx *x)
{
	unsigned li = raft_fixture_leader_index(&x->f);
	if (li >= N) {
		assert_true(raft_fixture_step_until_has_leader(&x->f, STEP_MS));
		li = raft_fixture_leader_index(&x->f);
	}
	raft_index last = raft_last_index(raft_fixture_get(&x->f, li));
	for (unsigned i = 0; i < N; i++)
		if (raft_fixture_alive(&x->f, i))
			assert_true(raft_fixture_step_until_applied(&x->f, i, last, STEP_MS));
}

static char *
dump(struct srv *s)
{
	int fd = memfd_create("dump", 0);
	assert_true(fd >= 0);
	assert_int_equal(store_dump(s->st, fd), 0);
	off_t len = lseek(fd, 0, SEEK_END);
	char *buf = xmalloc((size_t)len + 1);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	buf[len] = '\0';
	close(fd);
	return buf;
}

static void
assert_identical(struct fx *x)
{
	char *first = dump(&x->s[0]);
	for (unsigned i = 1; i < N; i++) {
		char *d = dump(&x->s[i]);
		assert_string_equal(first, d);
		free(d);
	}
	free(first);
}

static void
test_replicas_identical(void **state)
{
	static struct fx x;
	fx_setup(&x, 0);
	raft_fixture_elect(&x.f, 0);
	propose_some(&x, 40);
	settle(&x);
	assert_identical(&x);
	assert_true(store_applied_index(x.s[0].st) > 40);
	fx_teardown(&x);
}

static void
test_leader_killed_and_revived(void **state)
{
	static struct fx x;
	fx_setup(&x, 0);
	raft_fixture_elect(&x.f, 0);
	propose_some(&x, 20);
	settle(&x);
	raft_fixture_kill(&x.f, 0);
	assert_true(raft_fixture_step_until_has_no_leader(&x.f, STEP_MS));
	assert_true(raft_fixture_step_until_has_leader(&x.f, STEP_MS));
	assert_int_not_equal(raft_fixture_leader_index(&x.f), 0);
	propose_some(&x, 20);
	raft_fixture_revive(&x.f, 0);
	settle(&x);
	assert_identical(&x);
	fx_teardown(&x);
}

static void
saturate_both(struct fx *x, unsigned a, unsigned b, int on)
{
	if (on) {
		raft_fixture_saturate(&x->f, a, b);
		raft_fixture_saturate(&x->f, b, a);
	} else {
		raft_fixture_desaturate(&x->f, a, b);
		raft_fixture_desaturate(&x->f, b, a);
	}
}

static void
test_partition_heals(void **state)
{
	static struct fx x;
	fx_setup(&x, 0);
	raft_fixture_elect(&x.f, 0);
	propose_some(&x, 10);
	settle(&x);
	/* Server 2 alone on one side. */
	saturate_both(&x, 2, 0, 1);
	saturate_both(&x, 2, 1, 1);
	propose_some(&x, 30);
	raft_fixture_step_until_elapsed(&x.f, 3000);
	/* The leader lost; the majority elects another. */
	raft_fixture_depose(&x.f);
	assert_true(raft_fixture_step_until_has_leader(&x.f, STEP_MS));
	assert_int_not_equal(raft_fixture_leader_index(&x.f), 2);
	propose_some(&x, 10);
	saturate_both(&x, 2, 0, 0);
	saturate_both(&x, 2, 1, 0);
	settle(&x);
	assert_identical(&x);
	fx_teardown(&x);
}

/* Small snapshot threshold: a lagging server is brought up to date by
 * InstallSnapshot, which restores the store from a copy of a peer's
 * index; later entries apply on top. */
static void
test_snapshot_install(void **state)
{
	static struct fx x;
	fx_setup(&x, 16);
	raft_fixture_elect(&x.f, 0);
	propose_some(&x, 10);
	settle(&x);
	raft_fixture_kill(&x.f, 2);
	propose_some(&x, 80);
	settle(&x);
	raft_fixture_revive(&x.f, 2);
	propose_some(&x, 5);
	settle(&x);
	assert_identical(&x);
	assert_true(x.s[2].fsm.restores >= 1);
	assert_true(x.s[0].fsm.snapshots >= 1);
	fx_teardown(&x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replicas_identical),
	        cmocka_unit_test(test_leader_killed_and_revived),
	        cmocka_unit_test(test_partition_heals),
	        cmocka_unit_test(test_snapshot_install),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
