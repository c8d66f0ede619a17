/*
 * Unit test: the stager makes bodies durable in groups. Bodies submitted
 * together end up under blobs/staged/<hash> with their temporary files
 * gone and every callback called once with 0; one that cannot be renamed
 * fails alone; a barrier completes with its group; callbacks that submit
 * more are served by a later group. The same with a body journal, whose
 * first file then holds the bodies' records.
 */
#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/stager.h"
#include "node/store/body_journal.h"
#include "node/store/store.h"

#define BODIES 40

struct item {
	struct stage_req req;
	char *tmp;
	int calls;
	int rc;
};

static struct stager *the_stager;
static struct item *resubmit_from; /* the callback of this one submits more */
static struct item extra[3];
static char *data_dir;

static void
done(struct stage_req *q, int rc)
{
	struct item *it = (struct item *)q; /* req is the first member */
	it->calls++;
	it->rc = rc;
	if (it == resubmit_from) {
		resubmit_from = NULL;
		for (int i = 0; i < 3; i++)
			stager_submit(the_stager, &extra[i].req);
	}
}

static void
make_body(struct store *st, struct item *it, int n)
{
	char body[64];
	snprintf(body, sizeof(body), "Subject: %d\r\n\r\nstaged %d\r\n", n, n);
	int fd = store_body_tmp(st, &it->tmp);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, body, strlen(body)), 0);
	close(fd);
	sha256(body, strlen(body), it->req.hash);
	it->req.tmp_path = it->tmp;
	it->req.cb = done;
}

static int
staged_exists(const uint8_t *hash)
{
	char hex[SHA256_HEX_LEN + 1];
	hex_encode(hash, CMD_HASH_LEN, hex);
	char *p = xasprintf("%s/blobs/staged/%s", data_dir, hex);
	int ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

static void
run_groups(int with_journal)
{
	data_dir = test_tmpdir(with_journal ? "stager-journal" : "stager");
	memset(extra, 0, sizeof(extra));
	struct store *st;
	const char *err;
	assert_int_equal(store_open(data_dir, NULL, &st, &err), 0);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct body_journal *j = NULL;
	if (with_journal)
		assert_int_equal(body_journal_open(data_dir, 0, 0, &j, &err), 0);
	the_stager = stager_new(&loop, data_dir, j);

	struct item *items = calloc(BODIES, sizeof(*items));
	for (int i = 0; i < BODIES; i++)
		make_body(st, &items[i], i);
	for (int i = 0; i < 3; i++)
		make_body(st, &extra[i], 1000 + i);
	/* One whose temporary file is gone: it fails, the others do not. */
	struct item *bad = &items[7];
	unlink(bad->tmp);
	struct item barrier = {.req = {.cb = done}};
	resubmit_from = &items[BODIES - 1];

	for (int i = 0; i < BODIES; i++) {
		stager_submit(the_stager, &items[i].req);
		if (i == BODIES / 2)
			stager_submit(the_stager, &barrier.req);
		assert_int_equal(items[i].calls, 0); /* never from inside submit */
	}
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);

	for (int i = 0; i < BODIES; i++) {
		assert_int_equal(items[i].calls, 1);
		if (&items[i] == bad) {
			assert_true(items[i].rc < 0);
			continue;
		}
		assert_int_equal(items[i].rc, 0);
		assert_true(staged_exists(items[i].req.hash));
		assert_int_not_equal(access(items[i].tmp, F_OK), 0);
	}
	assert_int_equal(barrier.calls, 1);
	assert_int_equal(barrier.rc, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(extra[i].calls, 1);
		assert_int_equal(extra[i].rc, 0);
		assert_true(staged_exists(extra[i].req.hash));
	}

	stager_free(&the_stager);
	assert_int_equal(uv_loop_close(&loop), 0);
	char *jf = xasprintf("%s/blobs/journal/0", data_dir);
	char magic[4] = {0};
	int fd = open(jf, O_RDONLY);
	if (fd >= 0) {
		assert_int_equal(read(fd, magic, 4), 4);
		close(fd);
	}
	assert_int_equal(memcmp(magic, "MNBJ", 4) == 0, with_journal);
	free(jf);
	for (int i = 0; i < BODIES; i++)
		free(items[i].tmp);
	for (int i = 0; i < 3; i++)
		free(extra[i].tmp);
	free(items);
	store_close(&st);
	test_rmtree(data_dir);
	free(data_dir);
}

static void
test_groups(void **state)
{
	run_groups(0);
}

static void
test_groups_journal(void **state)
{
	run_groups(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_groups),
	        cmocka_unit_test(test_groups_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
