/*
 * Unit test: kill -9 during a stream of appends. A child process applies
 * one append per entry and reports each commit to the parent; the parent
 * kills it at a random moment, reopens the store, replays the log from
 * the start as raft does (entries at or below the recorded index are
 * skipped), and checks that every append is present exactly once with the
 * UID it had, that the counters and quota usage match the messages, and
 * that every message's maildir file and body are there. Before the replay
 * the maildir may also hold the files of entries applied but not committed
 * when the kill landed; the replay re-applies those entries under the
 * same names, after which files and messages match exactly. Every other
 * round the data directory is moved between the kill and the restart.
 */
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/store.h"

#define ENTRIES 400

struct logbuf {
	struct nbuf frames[ENTRIES + 2];
	size_t n;
};

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

static void
add_frame(struct logbuf *l, const struct cmd *c)
{
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	assert_int_equal(cmd_batch_add(&b, c), 0);
	size_t len;
	const uint8_t *d = cmd_batch_data(&b, &len);
	nbuf_init(&l->frames[l->n], CMD_FRAME_MAX);
	assert_int_equal(cmd_frame_encode(&d, &len, 1, &l->frames[l->n]), 0);
	l->n++;
	cmd_batch_deinit(&b);
}

/* The log: a domain, a user, then ENTRIES appends of distinct bodies,
 * each body staged before its entry (as msgin does). */
static void
build_log(struct logbuf *l, const char *dir, struct store *st)
{
	struct cmd d = {.type = CMD_DOMAIN_ADD, .name = S("crash.test")};
	struct cmd u = {
	        .type = CMD_USER_ADD, .address = S("k@crash.test"), .blob = S("c"), .enabled = 1};
	add_frame(l, &d);
	add_frame(l, &u);
	for (int i = 0; i < ENTRIES; i++) {
		char body[128];
		uint8_t hash[32];
		snprintf(body, sizeof(body), "Subject: %d\r\n\r\nbody %d\r\n", i, i * 7);
		sha256(body, strlen(body), hash);
		char *tmp;
		int fd = store_body_tmp(st, &tmp);
		assert_true(fd >= 0);
		assert_int_equal(write_all(fd, body, strlen(body)), 0);
		close(fd);
		assert_int_equal(store_body_stage(dir, tmp, hash), 0);
		free(tmp);
		struct cmd a = {.type = CMD_MSG_APPEND,
		                .user_id = 1,
		                .mailbox_id = 1,
		                .hash = hash,
		                .size = strlen(body),
		                .internaldate = 1700000000 + i};
		add_frame(l, &a);
	}
}

static void
child_apply(const char *dir, struct logbuf *l, int fd)
{
	struct store *st;
	const char *err;
	if (store_open(dir, NULL, &st, &err) != 0)
		_exit(3);
	for (size_t i = 0; i < l->n; i++) {
		if (store_apply(st, i + 1, nbuf_head(&l->frames[i]), nbuf_avail(&l->frames[i])) !=
		    0)
			_exit(4);
		/* Slow enough that the kill lands mid-stream: after file
		 * operations, before or during a commit. */
		usleep(300);
		/* Commit every few entries, like the loop's group commit, and
		 * report what is committed: that is what a submitter hears. */
		if (i % 3 == 2 || i + 1 == l->n) {
			if (store_commit(st) != 0)
				_exit(5);
			uint64_t done = i + 1;
			if (write(fd, &done, sizeof(done)) != sizeof(done))
				_exit(6);
		}
	}
	_exit(0);
}

static size_t
count_files(const char *path)
{
	DIR *d = opendir(path);
	size_t n = 0;
	struct dirent *e;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
check_consistent(struct store *st, const char *dir, uint64_t expect_at_least, int replayed)
{
	struct store_txn *t;
	struct store_mailbox mb;
	assert_int_equal(store_read_begin(st, &t), 0);
	assert_int_equal(store_mailbox_get(t, 1, "INBOX", &mb), 1);
	struct store_msg_iter *it;
	assert_int_equal(store_msg_iter_open(t, mb.id, 1, UINT32_MAX, &it), 0);
	struct store_msg m;
	uint32_t expect_uid = 1;
	uint64_t size = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		assert_int_equal(m.uid, expect_uid); /* exactly once, in order */
		assert_true(m.internaldate == 1700000000 + (int64_t)(expect_uid - 1));
		char *blob = store_body_path(dir, m.hash);
		struct stat sb;
		assert_int_equal(stat(blob, &sb), 0);
		free(blob);
		char *file = xasprintf("%s/mail/crash.test/k/cur/%lld.M%uU%u.mailnode,S=%llu:2,",
		                       dir, (long long)m.internaldate, mb.uidvalidity, m.uid,
		                       (unsigned long long)m.size);
		assert_int_equal(stat(file, &sb), 0);
		free(file);
		size += m.size;
		expect_uid++;
	}
	store_msg_iter_close(&it);
	uint32_t count = expect_uid - 1;
	assert_int_equal(mb.messages, count);
	assert_true(mb.size == size);
	assert_int_equal(mb.uidnext, count + 1);
	struct store_usage u;
	assert_int_equal(store_usage_get(t, 1, &u), 1);
	assert_true(u.messages == count && u.bytes == size);
	store_read_end(&t);
	assert_true(count + 2 >= expect_at_least || expect_at_least <= 2);
	char *cur = xasprintf("%s/mail/crash.test/k/cur", dir);
	if (replayed)
		assert_int_equal(count_files(cur), count);
	else
		assert_true(count_files(cur) >= count);
	free(cur);
}

static void
test_kill_during_appends(void **state)
{
	srand((unsigned)getpid());
	for (int round = 0; round < 4; round++) {
		char *dir = test_tmpdir("store-crash");
		struct logbuf *l = calloc(1, sizeof(*l));
		struct store *st;
		const char *err;
		assert_int_equal(store_open(dir, NULL, &st, &err), 0);
		build_log(l, dir, st);
		store_close(&st);

		int pfd[2];
		assert_int_equal(pipe(pfd), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(pfd[0]);
			child_apply(dir, l, pfd[1]);
		}
		close(pfd[1]);
		/* Let it get somewhere between 10% and 90% of the log. */
		uint64_t target = (uint64_t)(l->n / 10 + (size_t)rand() % (l->n * 8 / 10));
		uint64_t reported = 0, v;
		while (reported < target && read(pfd[0], &v, sizeof(v)) == sizeof(v))
			reported = v;
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status)); /* it was still running */
		while (read(pfd[0], &v, sizeof(v)) == sizeof(v))
			reported = v; /* reports written before the kill */
		close(pfd[0]);

		/* Every other round the data directory is moved before the
		 * restart (restored elsewhere): the recorded file operations
		 * re-run under the new place. */
		char *old_dir = NULL;
		if (round % 2 == 1) {
			char *moved = xasprintf("%s-moved", dir);
			assert_int_equal(rename(dir, moved), 0);
			old_dir = dir;
			dir = moved;
		}
		/* Restart: what was reported committed is there. */
		assert_int_equal(store_open(dir, NULL, &st, &err), 0);
		if (old_dir != NULL) {
			/* nothing re-created where the directory used to be */
			assert_int_not_equal(access(old_dir, F_OK), 0);
			free(old_dir);
		}
		assert_true(store_applied_index(st) >= reported);
		check_consistent(st, dir, reported, 0);
		/* Raft replays the log; apply skips what it holds. */
		for (size_t i = 0; i < l->n; i++)
			assert_int_equal(store_apply(st, i + 1, nbuf_head(&l->frames[i]),
			                             nbuf_avail(&l->frames[i])),
			                 0);
		assert_int_equal(store_commit(st), 0);
		check_consistent(st, dir, l->n, 1);
		struct store_txn *t;
		struct store_mailbox mb;
		store_read_begin(st, &t);
		store_mailbox_get(t, 1, "INBOX", &mb);
		store_read_end(&t);
		assert_int_equal(mb.messages, ENTRIES);
		store_close(&st);
		for (size_t i = 0; i < l->n; i++)
			nbuf_deinit(&l->frames[i]);
		free(l);
		test_rmtree(dir);
		free(dir);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kill_during_appends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
