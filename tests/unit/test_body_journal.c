/*
 * Unit test: the body journal brings back bodies whose files a machine
 * stop lost. Bodies appended (and so acknowledged as durable) whose files
 * are then removed come back in blobs/staged/ with their exact bytes when
 * the journal is opened to recover; one whose blob is still whole is left
 * alone; a torn last record and everything after it is not restored; a
 * new pass over a file hides that file's earlier passes, even a record
 * left whole behind it; a body over the
 * limit is refused before anything is written; an unreadable body fails
 * alone.
 */
#include "tests/unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/body_journal.h"
#include "node/store/store.h"

#define SMALL_FILE (64u * 1024)

struct body {
	char *tmp;
	uint8_t hash[CMD_HASH_LEN];
	char text[2048];
	size_t len;
};

static char *dir;

static void
body_make(struct body *b, int n, size_t len)
{
	memset(b->text, 'a' + n % 26, sizeof(b->text));
	b->len = snprintf(b->text, sizeof(b->text), "Subject: %d\r\n\r\n", n);
	b->text[b->len] = 'x';
	b->len = len < sizeof(b->text) ? len : sizeof(b->text);
	b->tmp = xasprintf("%s/blobs/tmp/body-%d", dir, n);
	int fd = open(b->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, b->text, b->len), 0);
	close(fd);
	sha256(b->text, b->len, b->hash);
}

/* Append bodies [from, to) one group each; their files are then lost. */
static void
append_lost(struct body_journal *j, struct body *bs, int from, int to)
{
	for (int i = from; i < to; i++) {
		struct body_journal_rec rec = {.path = bs[i].tmp, .hash = bs[i].hash};
		assert_int_equal(body_journal_append(j, &rec, 1), 0);
		assert_int_equal(rec.rc, 0);
		unlink(bs[i].tmp);
	}
}

/* 1 when staged/<hash> holds exactly the body. */
static int
restored(const struct body *b)
{
	char *p = store_staged_path(dir, b->hash);
	char buf[4096];
	int fd = open(p, O_RDONLY);
	free(p);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n == (ssize_t)b->len && memcmp(buf, b->text, b->len) == 0;
}

static void
setup_dir(const char *name)
{
	dir = test_tmpdir(name);
	char *tmp = xasprintf("%s/blobs/tmp", dir);
	char *staged = xasprintf("%s/blobs/staged", dir);
	assert_int_equal(mkdir_p(tmp, 0700), 0);
	assert_int_equal(mkdir_p(staged, 0700), 0);
	free(tmp);
	free(staged);
}

static void
teardown_dir(struct body *bs, int n)
{
	for (int i = 0; i < n; i++)
		free(bs[i].tmp);
	test_rmtree(dir);
	free(dir);
}

static void
test_recover(void **state)
{
	setup_dir("journal-recover");
	struct body bs[6];
	for (int i = 0; i < 6; i++)
		body_make(&bs[i], i, 300 + 97 * i);
	struct body_journal *j;
	const char *err;
	assert_int_equal(body_journal_open(dir, 0, 0, &j, &err), 0);

	/* A group of three, then one alone whose blob is kept, then two. */
	struct body_journal_rec recs[3];
	for (int i = 0; i < 3; i++)
		recs[i] = (struct body_journal_rec){.path = bs[i].tmp, .hash = bs[i].hash};
	assert_int_equal(body_journal_append(j, recs, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(recs[i].rc, 0);
		unlink(bs[i].tmp);
	}
	char *blob = store_body_path(dir, bs[3].hash);
	*strrchr(blob, '/') = '\0';
	assert_int_equal(mkdir_p(blob, 0700), 0);
	free(blob);
	blob = store_body_path(dir, bs[3].hash);
	struct body_journal_rec one = {.path = bs[3].tmp, .hash = bs[3].hash};
	assert_int_equal(body_journal_append(j, &one, 1), 0);
	assert_int_equal(rename(bs[3].tmp, blob), 0);
	append_lost(j, bs, 4, 6);
	body_journal_close(&j);

	/* Tear the last record: its bytes no longer hash to its name. */
	char *jf = xasprintf("%s/blobs/journal/0", dir);
	int fd = open(jf, O_RDWR);
	assert_true(fd >= 0);
	off_t last = 0;
	for (int i = 0; i < 5; i++)
		last += 64 + ((bs[i].len + 7) & ~(size_t)7);
	assert_int_equal(pwrite(fd, "TORN", 4, last + 64 + 10), 4);
	close(fd);
	free(jf);

	assert_int_equal(body_journal_open(dir, 1, 0, &j, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_true(restored(&bs[i]));
	assert_false(restored(&bs[3])); /* its blob is whole */
	assert_int_equal(access(blob, F_OK), 0);
	assert_true(restored(&bs[4]));
	char *torn = store_staged_path(dir, bs[5].hash);
	assert_int_not_equal(access(torn, F_OK), 0); /* torn: never acknowledged */
	free(torn);
	body_journal_close(&j);

	/* The next pass over file 0 starts with a record exactly as long as
	 * the old first one: the old second record is whole behind it, but
	 * of an earlier pass (its body was checkpointed), so not restored. */
	struct body again;
	body_make(&again, 100, bs[0].len);
	assert_int_equal(body_journal_open(dir, 0, 0, &j, &err), 0);
	append_lost(j, &again, 0, 1);
	body_journal_close(&j);
	for (int i = 0; i < 3; i++) {
		char *p = store_staged_path(dir, bs[i].hash);
		unlink(p);
		free(p);
	}
	assert_int_equal(body_journal_open(dir, 1, 0, &j, &err), 0);
	body_journal_close(&j);
	assert_true(restored(&again));
	assert_false(restored(&bs[1]));
	free(again.tmp);
	free(blob);
	teardown_dir(bs, 6);
}

static void
test_passes(void **state)
{
	setup_dir("journal-passes");
	enum { N = 160 };
	struct body *bs = calloc(N, sizeof(*bs));
	for (int i = 0; i < N; i++)
		body_make(&bs[i], i, 1500);
	struct body_journal *j;
	const char *err;
	assert_int_equal(body_journal_open(dir, 0, SMALL_FILE, &j, &err), 0);
	uint64_t token;
	assert_false(body_journal_checkpoint_due(j, &token));
	/* 41 bodies fill a file: four passes; a checkpoint is reported for
	 * the first file left behind only, so the third pass flushes before
	 * it overwrites. */
	int checkpoints = 0;
	for (int i = 0; i < N; i++) {
		append_lost(j, bs, i, i + 1);
		if (body_journal_checkpoint_due(j, &token) && checkpoints++ < 1)
			body_journal_checkpointed(j, token);
	}
	assert_int_equal(checkpoints, 3);
	body_journal_close(&j);

	assert_int_equal(body_journal_open(dir, 1, SMALL_FILE, &j, &err), 0);
	body_journal_close(&j);
	int first = -1;
	for (int i = 0; i < N; i++)
		if (restored(&bs[i])) {
			if (first < 0)
				first = i;
		} else {
			assert_true(first < 0); /* restored bodies are one run */
		}
	/* The last two passes, no more: ~80 of 160, ending with the last. */
	assert_true(first > N / 3 && first < 2 * N / 3);
	assert_true(restored(&bs[N - 1]));
	teardown_dir(bs, N);
	free(bs);
}

static void
test_refused(void **state)
{
	setup_dir("journal-refused");
	struct body_journal *j;
	const char *err;
	assert_int_equal(body_journal_open(dir, 0, 0, &j, &err), 0);
	struct body bs[2];
	body_make(&bs[0], 0, 500);
	body_make(&bs[1], 1, 700);
	/* Over the limit: refused whole, nothing written. */
	char *big = xasprintf("%s/blobs/tmp/big", dir);
	int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, BODY_JOURNAL_BODY_MAX + 1), 0);
	close(fd);
	uint8_t h[CMD_HASH_LEN] = {1};
	struct body_journal_rec recs[2] = {{.path = bs[0].tmp, .hash = bs[0].hash},
	                                   {.path = big, .hash = h}};
	assert_int_equal(body_journal_append(j, recs, 2), -EFBIG);
	/* Unreadable: that body fails, the other is durable. */
	recs[1] = (struct body_journal_rec){.path = "/nonexistent/body", .hash = h};
	recs[0] = (struct body_journal_rec){.path = bs[1].tmp, .hash = bs[1].hash};
	assert_int_equal(body_journal_append(j, recs, 2), 0);
	assert_int_equal(recs[0].rc, 0);
	assert_true(recs[1].rc < 0);
	body_journal_close(&j);
	unlink(bs[0].tmp);
	unlink(bs[1].tmp);
	assert_int_equal(body_journal_open(dir, 1, 0, &j, &err), 0);
	body_journal_close(&j);
	assert_false(restored(&bs[0]));
	assert_true(restored(&bs[1]));
	free(big);
	teardown_dir(bs, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_recover),
	        cmocka_unit_test(test_passes),
	        cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
