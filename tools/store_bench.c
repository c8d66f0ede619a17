/*
 * store_bench: the store alone, without raft or a network: how fast 8 KB
 * messages are staged (write + fsync + rename, as msgin does) and
 * appended (apply + group commit, as raft's entries arrive), and how fast
 * the flags of a large mailbox are read back (what FETCH 1:* FLAGS does).
 *
 *   store_bench [-n MESSAGES] [-b BATCH] [-c COMMIT_EVERY] [-s SIZE] [-d DIR]
 *
 * BATCH appends go into one raft entry (one frame); COMMIT_EVERY entries
 * share one LMDB commit. Prints one line per figure.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/store/store.h"

struct stage_job {
	struct store *st;
	const char *dir;
	size_t from, to, size;
	uint8_t (*hashes)[32];
};

static void *
stage_thread(void *arg)
{
	struct stage_job *j = arg;
	char *body = xmalloc(j->size);
	for (size_t i = j->from; i < j->to; i++) {
		memset(body, 'a' + (int)(i % 26), j->size);
		snprintf(body, j->size, "Subject: message %zu\r\n\r\n", i);
		body[strlen(body)] = 'x';
		char *tmp;
		int fd = store_body_tmp(j->st, &tmp);
		if (fd < 0 || write_all(fd, body, j->size) != 0)
			panic("cannot write a body");
		close(fd);
		sha256(body, j->size, j->hashes[i]);
		if (store_body_stage(j->dir, tmp, j->hashes[i]) != 0)
			panic("cannot stage a body");
		free(tmp);
	}
	free(body);
	return NULL;
}

static void
applied_cb(void *arg, const struct cmd_batch_hdr *hdr, struct cmd_results *rs)
{
	uint64_t *failed = arg;
	for (uint32_t i = 0; i < rs->n; i++)
		if (rs->r[i].status != CMD_OK)
			(*failed)++;
	cmd_results_free(&rs);
}

static uint64_t index_;

static void
apply1(struct store *st, struct cmd_batch *b)
{
	size_t len;
	const uint8_t *data = cmd_batch_data(b, &len);
	struct nbuf frame;
	nbuf_init(&frame, CMD_FRAME_MAX);
	if (cmd_frame_encode(&data, &len, 1, &frame) != 0 ||
	    store_apply(st, ++index_, nbuf_head(&frame), nbuf_avail(&frame)) != 0)
		panic("apply failed");
	nbuf_deinit(&frame);
}

int
main(int argc, char **argv)
{
	size_t n = 20000, batch = 16, commit_every = 4, size = 8192;
	const char *dir = NULL;
	int ch;
	while ((ch = getopt(argc, argv, "n:b:c:s:d:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			commit_every = strtoul(optarg, NULL, 10);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			fprintf(stderr, "usage: store_bench [-n N] [-b BATCH] [-c COMMIT_EVERY] "
			                "[-s SIZE] [-d DIR]\n");
			return 2;
		}
	}
	char tmpl[] = "/tmp/store-bench.XXXXXX";
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL)
		panic("mkdtemp");
	uint64_t failed = 0;
	struct store_hooks hooks = {.applied = applied_cb, .arg = &failed};
	struct store *st;
	const char *err;
	if (store_open(dir, &hooks, &st, &err) != 0) {
		fprintf(stderr, "store_bench: %s\n", err);
		return 1;
	}
	/* A user to append to. */
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	struct cmd c1 = {.type = CMD_DOMAIN_ADD, .name = {"bench.test", 10}};
	struct cmd c2 = {.type = CMD_USER_ADD,
	                 .address = {"u@bench.test", 12},
	                 .blob = {"x", 1},
	                 .enabled = 1};
	cmd_batch_add(&b, &c1);
	cmd_batch_add(&b, &c2);
	apply1(st, &b);
	store_commit(st);
	cmd_batch_deinit(&b);
	struct store_txn *t;
	struct store_mailbox inbox;
	store_read_begin(st, &t);
	store_mailbox_get(t, 1, "INBOX", &inbox);
	store_read_end(&t);

	/* Staging: four threads, as libuv's pool has. */
	uint8_t(*hashes)[32] = xmalloc(n * 32);
	uint64_t t0 = now_mono_us();
	pthread_t th[4];
	struct stage_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct stage_job){
		        st, dir, n * (size_t)i / 4, n * (size_t)(i + 1) / 4, size, hashes};
		pthread_create(&th[i], NULL, stage_thread, &jobs[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	uint64_t t1 = now_mono_us();
	printf("stage: %zu bodies of %zu bytes, 4 threads: %.0f bodies/s\n", n, size,
	       n / ((t1 - t0) / 1e6));

	/* Appends: BATCH per entry, COMMIT_EVERY entries per commit. */
	t0 = now_mono_us();
	size_t entries = 0;
	for (size_t i = 0; i < n; i += batch) {
		cmd_batch_init(&b, 1, 0);
		for (size_t k = i; k < i + batch && k < n; k++) {
			struct cmd c = {.type = CMD_MSG_APPEND,
			                .user_id = 1,
			                .mailbox_id = inbox.id,
			                .hash = hashes[k],
			                .size = size,
			                .internaldate = 1700000000 + (int64_t)k};
			cmd_batch_add(&b, &c);
		}
		apply1(st, &b);
		cmd_batch_deinit(&b);
		if (++entries % commit_every == 0)
			store_commit(st);
	}
	store_commit(st);
	t1 = now_mono_us();
	printf("append: %zu messages, %zu per entry, %zu entries per commit: %.0f appends/s "
	       "(%llu refused)\n",
	       n, batch, commit_every, n / ((t1 - t0) / 1e6), (unsigned long long)failed);

	/* Reading every message's flags, as FETCH 1:* FLAGS does. */
	for (int round = 0; round < 3; round++) {
		t0 = now_mono_us();
		store_read_begin(st, &t);
		struct store_msg_iter *it;
		store_msg_iter_open(t, inbox.id, 1, UINT32_MAX, &it);
		struct store_msg m;
		size_t count = 0, seen = 0;
		while (store_msg_iter_next(it, &m) == 1) {
			count++;
			seen += (m.flags & MSG_SEEN) != 0;
		}
		store_msg_iter_close(&it);
		store_read_end(&t);
		t1 = now_mono_us();
		printf("read flags: %zu messages (%zu seen) in %.2f ms\n", count, seen,
		       (t1 - t0) / 1e3);
	}
	store_close(&st);
	free(hashes);
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(cmd);
	return 0;
}
