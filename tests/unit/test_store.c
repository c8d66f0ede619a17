/*
 * Unit tests: the store as a state machine. Commands are built, framed and
 * applied at increasing indexes exactly as raft would; the results and
 * the index are checked, and two stores fed one log must dump identically.
 * Thread ids (RFC 8474 §5.2): replies join their parent's thread, COPY
 * and MOVE keep it, replicas agree on it.
 */
#include "tests/unit/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/crypto.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "node/store/idx.h"
#include "node/store/store.h"

static struct test_store *
fixture_new(const char *name)
{
	struct test_store *f = calloc(1, sizeof(*f));
	test_store_open(f, name);
	return f;
}

static void
fixture_free(struct test_store *f)
{
	test_store_close(f);
	free(f);
}

static enum cmd_status
apply1(struct test_store *f, const struct cmd *c, struct cmd_result *out)
{
	struct cmd_result r = test_store_apply1(f, c);
	if (out) {
		*out = r;
		out->set1 = out->set2 = NULL; /* owned by f->last */
	}
	return r.status;
}

static struct cmd_str
S(const char *s) {
	return (struct cmd_str){s, strlen(s)};
}

static uint32_t
add_user(struct test_store *f, const char *addr)
{
	struct cmd c = {.type = CMD_DOMAIN_ADD};
	const char *at = strchr(addr, '@');
	c.name = S(at + 1);
	apply1(f, &c, NULL); /* may exist */
	struct cmd u = {.type = CMD_USER_ADD, .address = S(addr), .blob = S("cred"), .enabled = 1};
	struct cmd_result r;
	assert_int_equal(apply1(f, &u, &r), CMD_OK);
	return r.id;
}

/* Stage a body under blobs/staged and return its hash. */
static void
stage(struct test_store *f, const char *body, uint8_t hash[32])
{
	char *tmp;
	int fd = store_body_tmp(f->st, &tmp);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, body, strlen(body)), 0);
	close(fd);
	sha256(body, strlen(body), hash);
	assert_int_equal(store_body_stage(f->dir, tmp, hash), 0);
	free(tmp);
}

static uint32_t
mailbox_id(struct test_store *f, uint32_t user, const char *name, struct store_mailbox *m_r)
{
	struct store_txn *t;
	struct store_mailbox m;
	assert_int_equal(store_read_begin(f->st, &t), 0);
	int rc = store_mailbox_get(t, user, name, &m);
	store_read_end(&t);
	if (rc != 1)
		return 0;
	if (m_r)
		*m_r = m;
	return m.id;
}

static uint32_t
append(struct test_store *f, uint32_t user, uint32_t mbox, const char *body, uint32_t flags)
{
	uint8_t hash[32];
	stage(f, body, hash);
	struct cmd c = {.type = CMD_MSG_APPEND,
	                .user_id = user,
	                .mailbox_id = mbox,
	                .hash = hash,
	                .size = strlen(body),
	                .flags = flags,
	                .internaldate = 1700000000};
	struct cmd_result r;
	assert_int_equal(apply1(f, &c, &r), CMD_OK);
	return r.uid;
}

static void
test_codec_roundtrip(void **state)
{
	static const struct uid_range ranges[] = {{1, 3}, {5, 5}, {9, 4000000000u}};
	static const char *const kws[] = {"$Junk", "work"};
	uint8_t hash[32] = {1, 2, 3};
	struct cmd c = {.user_id = 7,
	                .mailbox_id = 9,
	                .mailbox_id2 = 10,
	                .uidvalidity = 99,
	                .uid = 5,
	                .flags = MSG_SEEN | MSG_DRAFT,
	                .special_use = SPECIAL_SENT,
	                .mode = 1,
	                .enabled = 1,
	                .size = 1234,
	                .modseq = 77,
	                .quota_bytes = 1 << 20,
	                .quota_msgs = 100,
	                .internaldate = -5,
	                .hash = hash,
	                .address = S("a@b.test"),
	                .name = S("Sent.2024"),
	                .name2 = S("Archive"),
	                .value = S("value"),
	                .meta = S("meta"),
	                .blob = S("blob"),
	                .ranges = {.n = 3, .v = ranges},
	                .keywords = {.n = 2, .v = kws},
	                .targets = {.n = 2, .v = kws}};
	for (int t = 1; t < CMD_TYPE_MAX; t++) {
		c.type = (enum cmd_type)t;
		if (t == CMD_CONFIG_SET || t == CMD_CONFIG_DEL)
			c.name = S("quota.storage");
		else
			c.name = S("Sent.2024");
		/* a URLAUTH key is exactly CMD_URLAUTH_KEY_LEN bytes */
		static const char key[CMD_URLAUTH_KEY_LEN] = "0123456789abcdef0123456789abcdef";
		c.blob = t == CMD_URLAUTH_KEY ? (struct cmd_str){key, sizeof(key)} : S("blob");
		struct cmd_batch b;
		cmd_batch_init(&b, 3, 0);
		assert_int_equal(cmd_batch_add(&b, &c), 0);
		size_t len;
		const uint8_t *data = cmd_batch_data(&b, &len);
		struct cmd_batch_iter it;
		assert_int_equal(cmd_batch_iter_init(&it, data, len), 0);
		struct cmd d;
		const char *err;
		assert_int_equal(cmd_batch_next(&it, &d, &err), 1);
		assert_int_equal(d.type, t);
		struct nbuf again;
		nbuf_init(&again, 1 << 20);
		struct cmd_batch b2;
		cmd_batch_init(&b2, 3, 0);
		assert_int_equal(cmd_batch_add(&b2, &d), 0);
		size_t len2;
		const uint8_t *data2 = cmd_batch_data(&b2, &len2);
		/* Identical after the header (request id and time differ). */
		assert_int_equal(len, len2);
		assert_memory_equal(data + 40, data2 + 40, len - 40);
		assert_int_equal(cmd_batch_next(&it, &d, &err), 0);
		cmd_batch_deinit(&b);
		cmd_batch_deinit(&b2);
		nbuf_deinit(&again);
	}
}

static void
test_codec_rejects_garbage(void **state)
{
	static const struct uid_range ranges[] = {{1, 3}, {5, 9}};
	uint8_t hash[32] = {0};
	struct cmd c = {
	        .type = CMD_MSG_STORE, .ranges = {.n = 2, .v = ranges}, .mode = 1, .hash = hash};
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	assert_int_equal(cmd_batch_add(&b, &c), 0);
	size_t len;
	const uint8_t *data = cmd_batch_data(&b, &len);
	const uint8_t *pd = data;
	struct nbuf frame;
	nbuf_init(&frame, 1 << 20);
	assert_int_equal(cmd_frame_encode(&pd, &len, 1, &frame), 0);
	const char *err;
	assert_int_equal(cmd_frame_validate(nbuf_head(&frame), nbuf_avail(&frame), &err), 0);
	/* Every truncation is refused. */
	for (size_t n = 0; n < nbuf_avail(&frame); n++) {
		uint8_t *copy = malloc(n ? n : 1);
		memcpy(copy, nbuf_head(&frame), n);
		assert_int_equal(cmd_frame_validate(copy, n, &err), -1);
		free(copy);
	}
	/* Random flips never crash (ASan watches). */
	srand(42);
	for (int i = 0; i < 20000; i++) {
		size_t n = nbuf_avail(&frame);
		uint8_t *copy = malloc(n);
		memcpy(copy, nbuf_head(&frame), n);
		for (int k = 0; k < 3; k++)
			copy[rand() % n] ^= (uint8_t)(1 << (rand() % 8));
		cmd_frame_validate(copy, n, &err);
		free(copy);
	}
	/* Out-of-order ranges are refused by the decoder. */
	static const struct uid_range bad[] = {{5, 9}, {1, 3}};
	struct cmd c2 = {.type = CMD_MSG_STORE, .ranges = {.n = 2, .v = bad}, .mode = 1};
	struct cmd_batch b2;
	cmd_batch_init(&b2, 1, 0);
	assert_int_equal(cmd_batch_add(&b2, &c2), 0);
	data = cmd_batch_data(&b2, &len);
	struct cmd_batch_iter it;
	assert_int_equal(cmd_batch_iter_init(&it, data, len), 0);
	struct cmd d;
	assert_int_equal(cmd_batch_next(&it, &d, &err), -1);
	cmd_batch_deinit(&b);
	cmd_batch_deinit(&b2);
	nbuf_deinit(&frame);
}

static void
test_user_mailboxes(void **state)
{
	struct test_store *f = fixture_new("store-user");
	uint32_t u = add_user(f, "alice@example.test");
	struct store_mailbox m;
	assert_true(mailbox_id(f, u, "INBOX", &m) != 0);
	assert_true(mailbox_id(f, u, "inbox", NULL) != 0); /* case-insensitive */
	assert_true(mailbox_id(f, u, "Sent", &m) != 0);
	assert_int_equal(m.special_use, SPECIAL_SENT);
	assert_true(mailbox_id(f, u, "Junk", NULL) != 0);
	/* Duplicate user, bad address, unknown domain. */
	struct cmd c = {.type = CMD_USER_ADD, .address = S("alice@example.test"), .blob = S("x")};
	assert_int_equal(apply1(f, &c, NULL), CMD_EEXISTS);
	c.address = S("../x@example.test");
	assert_int_equal(apply1(f, &c, NULL), CMD_EINVALID);
	c.address = S("bob@nowhere.test");
	assert_int_equal(apply1(f, &c, NULL), CMD_ENOTFOUND);
	/* CREATE with superiors, RENAME with children, DELETE. */
	struct cmd mc = {.type = CMD_MAILBOX_CREATE, .user_id = u, .name = S("Work.2024.Q1")};
	assert_int_equal(apply1(f, &mc, NULL), CMD_OK);
	assert_true(mailbox_id(f, u, "Work", NULL) != 0);
	assert_true(mailbox_id(f, u, "Work.2024", NULL) != 0);
	assert_int_equal(apply1(f, &mc, NULL), CMD_EEXISTS);
	mc.name = S("a..b");
	assert_int_equal(apply1(f, &mc, NULL), CMD_EINVALID);
	mc.name = S("a/b");
	assert_int_equal(apply1(f, &mc, NULL), CMD_EINVALID);
	mc.name = S("..");
	assert_int_equal(apply1(f, &mc, NULL), CMD_EINVALID);
	uint32_t id = mailbox_id(f, u, "Work.2024", NULL);
	struct cmd rn = {
	        .type = CMD_MAILBOX_RENAME, .user_id = u, .name = S("Work"), .name2 = S("Job")};
	assert_int_equal(apply1(f, &rn, NULL), CMD_OK);
	assert_int_equal(mailbox_id(f, u, "Work", NULL), 0);
	assert_int_equal(mailbox_id(f, u, "Job.2024", NULL), id);
	assert_true(mailbox_id(f, u, "Job.2024.Q1", NULL) != 0);
	char *dir = xasprintf("%s/mail/example.test/alice/.Job.2024.Q1/cur", f->dir);
	struct stat sb;
	assert_int_equal(stat(dir, &sb), 0);
	free(dir);
	struct cmd del = {.type = CMD_MAILBOX_DELETE, .user_id = u, .name = S("INBOX")};
	assert_int_equal(apply1(f, &del, NULL), CMD_ENOPERM);
	del.name = S("Job.2024");
	assert_int_equal(apply1(f, &del, NULL), CMD_OK);
	assert_true(mailbox_id(f, u, "Job.2024.Q1", NULL) != 0); /* children stay */
	fixture_free(f);
}

static void
test_messages(void **state)
{
	struct test_store *f = fixture_new("store-msg");
	uint32_t u = add_user(f, "bob@example.test");
	struct store_mailbox in;
	uint32_t inbox = mailbox_id(f, u, "INBOX", &in);
	uint32_t u1 = append(f, u, inbox, "Subject: one\r\n\r\nbody one\r\n", 0);
	uint32_t u2 = append(f, u, inbox, "Subject: two\r\n\r\nbody two\r\n", MSG_SEEN);
	uint32_t u3 = append(f, u, inbox, "Subject: one\r\n\r\nbody one\r\n", 0); /* same body */
	assert_int_equal(u1, 1);
	assert_int_equal(u2, 2);
	assert_int_equal(u3, 3);
	mailbox_id(f, u, "INBOX", &in);
	assert_int_equal(in.messages, 3);
	assert_int_equal(in.unseen, 2);
	assert_int_equal(in.uidnext, 4);
	uint64_t ms = in.highestmodseq;

	/* STORE +FLAGS \Deleted on 1:2 */
	struct uid_range r12 = {1, 2};
	struct cmd st = {.type = CMD_MSG_STORE,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .uidvalidity = in.uidvalidity,
	                 .ranges = {1, &r12, NULL},
	                 .mode = STORE_ADD,
	                 .flags = MSG_DELETED};
	struct cmd_result r;
	assert_int_equal(apply1(f, &st, &r), CMD_OK);
	assert_int_equal(f->last->r[0].nset1, 2);
	mailbox_id(f, u, "INBOX", &in);
	assert_int_equal(in.deleted, 2);
	assert_true(in.highestmodseq == ms + 1);
	/* UNCHANGEDSINCE older than the messages: refused, reported. */
	st.modseq = ms;
	st.flags = MSG_FLAGGED;
	assert_int_equal(apply1(f, &st, &r), CMD_OK);
	assert_int_equal(f->last->r[0].nset2, 2);
	assert_int_equal(f->last->r[0].nset1, 0);
	/* Stale UIDVALIDITY. */
	st.modseq = 0;
	st.uidvalidity = in.uidvalidity + 1;
	assert_int_equal(apply1(f, &st, NULL), CMD_ESTALE);

	/* COPY 2:3 to Archive shares bodies; MOVE 3 to Trash. */
	uint32_t arch = mailbox_id(f, u, "Archive", NULL);
	uint32_t trash = mailbox_id(f, u, "Trash", NULL);
	struct uid_range r23 = {2, 3};
	struct cmd cp = {.type = CMD_MSG_COPY,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .uidvalidity = in.uidvalidity,
	                 .ranges = {1, &r23, NULL},
	                 .mailbox_id2 = arch};
	assert_int_equal(apply1(f, &cp, &r), CMD_OK);
	assert_int_equal(f->last->r[0].nset1, 2);
	assert_int_equal(f->last->r[0].set2[0], 1);
	assert_int_equal(f->last->r[0].set2[1], 2);
	struct uid_range r3 = {3, 3};
	cp.type = CMD_MSG_MOVE;
	cp.ranges = (struct cmd_ranges){1, &r3, NULL};
	cp.mailbox_id2 = trash;
	assert_int_equal(apply1(f, &cp, NULL), CMD_OK);
	mailbox_id(f, u, "INBOX", &in);
	assert_int_equal(in.messages, 2);

	/* EXPUNGE removes the \Deleted ones (1 and 2). */
	struct cmd ex = {.type = CMD_MSG_EXPUNGE,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .uidvalidity = in.uidvalidity,
	                 .mode = EXPUNGE_ALL_DELETED};
	assert_int_equal(apply1(f, &ex, NULL), CMD_OK);
	assert_int_equal(f->last->r[0].nset1, 2);
	mailbox_id(f, u, "INBOX", &in);
	assert_int_equal(in.messages, 0);
	assert_int_equal(in.unseen, 0);
	assert_int_equal(in.deleted, 0);
	assert_int_equal(in.size, 0);

	/* Expunge records: VANISHED since before the expunge lists 1..3. */
	struct store_txn *t;
	assert_int_equal(store_read_begin(f->st, &t), 0);
	struct store_changed_iter *it;
	assert_int_equal(store_changed_iter_open(t, inbox, ms, 1, &it), 0);
	uint32_t uid, n = 0;
	uint64_t modseq;
	while (store_changed_iter_next(it, &uid, &modseq) == 1)
		n++;
	store_changed_iter_close(&it);
	assert_int_equal(n, 3);
	struct store_usage us;
	assert_int_equal(store_usage_get(t, u, &us), 1);
	assert_int_equal(us.messages, 3); /* 2 in Archive, 1 in Trash */
	store_read_end(&t);

	/* The shared body is still there, and a maildir file per copy. */
	char *arch_dir = xasprintf("%s/mail/example.test/bob/.Archive/cur", f->dir);
	char *cmdline = xasprintf("test $(ls '%s' | wc -l) = 2", arch_dir);
	assert_int_equal(system(cmdline), 0);
	free(cmdline);
	free(arch_dir);
	fixture_free(f);
}

static void
test_quota_and_atomic(void **state)
{
	struct test_store *f = fixture_new("store-quota");
	uint32_t u = add_user(f, "carol@example.test");
	struct cmd q = {
	        .type = CMD_USER_SET_QUOTA, .address = S("carol@example.test"), .quota_bytes = 60};
	assert_int_equal(apply1(f, &q, NULL), CMD_OK);
	uint32_t inbox = mailbox_id(f, u, "INBOX", NULL);
	append(f, u, inbox, "Subject: a\r\n\r\n0123456789012345678901234567890\r\n", 0);
	uint8_t hash[32];
	const char *big = "Subject: b\r\n\r\n0123456789012345678901234567890\r\n";
	stage(f, big, hash);
	struct cmd c = {.type = CMD_MSG_APPEND,
	                .user_id = u,
	                .mailbox_id = inbox,
	                .hash = hash,
	                .size = strlen(big)};
	assert_int_equal(apply1(f, &c, NULL), CMD_EQUOTA);

	/* IMAP REPLACE: EXPUNGE then APPEND, atomic. The expunge frees what
	 * the append takes; an append still over quota undoes the expunge
	 * (and the UIDs it listed are not leaked). */
	struct uid_range one = {1, 1};
	struct cmd ex = {.type = CMD_MSG_EXPUNGE,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .mode = EXPUNGE_UIDS,
	                 .ranges = {.n = 1, .v = &one}};
	struct store_mailbox before;
	mailbox_id(f, u, "INBOX", &before);
	ex.uidvalidity = before.uidvalidity;
	const char *huge =
	        "Subject: h\r\n\r\n0123456789012345678901234567890123456789012345678\r\n";
	uint8_t hhash[32];
	stage(f, huge, hhash);
	struct cmd ap = {.type = CMD_MSG_APPEND,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .hash = hhash,
	                 .size = strlen(huge)};
	struct cmd_batch rb;
	cmd_batch_init(&rb, 1, CMD_BATCH_ATOMIC);
	cmd_batch_add(&rb, &ex);
	cmd_batch_add(&rb, &ap);
	struct cmd_results *rr = test_store_apply(f, &rb);
	assert_int_equal(rr->r[0].status, CMD_EABORTED);
	assert_int_equal(rr->r[0].nset1, 0);
	assert_int_equal(rr->r[1].status, CMD_EQUOTA);
	struct store_mailbox after;
	mailbox_id(f, u, "INBOX", &after);
	assert_int_equal(after.messages, 1);
	assert_true(after.highestmodseq == before.highestmodseq);
	cmd_batch_deinit(&rb);
	cmd_batch_init(&rb, 1, CMD_BATCH_ATOMIC);
	cmd_batch_add(&rb, &ex);
	c.hash = hash; /* as big as the message it replaces: fits once it is gone */
	cmd_batch_add(&rb, &c);
	rr = test_store_apply(f, &rb);
	assert_int_equal(rr->r[0].status, CMD_OK);
	assert_int_equal(rr->r[0].nset1, 1);
	assert_int_equal(rr->r[1].status, CMD_OK);
	mailbox_id(f, u, "INBOX", &after);
	assert_int_equal(after.messages, 1);
	cmd_batch_deinit(&rb);

	/* Atomic batch: the second command fails, the first is undone. */
	q.quota_bytes = 0;
	assert_int_equal(apply1(f, &q, NULL), CMD_OK);
	struct cmd mk = {.type = CMD_MAILBOX_CREATE, .user_id = u, .name = S("Fresh")};
	struct cmd bad = {.type = CMD_MAILBOX_CREATE, .user_id = u, .name = S("INBOX")};
	struct cmd_batch b;
	cmd_batch_init(&b, 1, CMD_BATCH_ATOMIC);
	cmd_batch_add(&b, &mk);
	cmd_batch_add(&b, &bad);
	struct cmd_results *rs = test_store_apply(f, &b);
	assert_int_equal(rs->r[0].status, CMD_EABORTED);
	assert_int_equal(rs->r[1].status, CMD_EEXISTS);
	assert_int_equal(mailbox_id(f, u, "Fresh", NULL), 0);
	cmd_batch_deinit(&b);
	fixture_free(f);
}

/* A batch applied twice (a retry after an unknown outcome) takes effect
 * once and answers with the first result. */
static void
test_duplicate_request(void **state)
{
	struct test_store *f = fixture_new("store-dup");
	uint32_t u = add_user(f, "dan@example.test");
	uint32_t inbox = mailbox_id(f, u, "INBOX", NULL);
	uint8_t hash[32];
	stage(f, "Subject: x\r\n\r\nx\r\n", hash);
	struct cmd c = {.type = CMD_MSG_APPEND,
	                .user_id = u,
	                .mailbox_id = inbox,
	                .hash = hash,
	                .size = 17};
	struct cmd_batch b;
	cmd_batch_init(&b, 1, 0);
	cmd_batch_add(&b, &c);
	uint32_t first = test_store_apply(f, &b)->r[0].uid;
	uint32_t second = test_store_apply(f, &b)->r[0].uid;
	assert_int_equal(first, second);
	struct store_mailbox m;
	mailbox_id(f, u, "INBOX", &m);
	assert_int_equal(m.messages, 1);
	cmd_batch_deinit(&b);
	fixture_free(f);
}

static char *
dump_of(struct test_store *f)
{
	char *path = xasprintf("%s.dump", f->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(store_dump(f->st, fd), 0);
	close(fd);
	return path;
}

/* A random log applied to two stores (one of them restarted and replaying
 * part of it) gives identical indexes; counters match a simple model. */
static void
test_determinism_and_replay(void **state)
{
	struct test_store *a = fixture_new("store-a"), *b = fixture_new("store-b");
	struct nbuf frames[400];
	size_t nframes = 0;
	srand(7);
	/* Build the log once on store a, keeping every frame. */
	struct cmd dom = {.type = CMD_DOMAIN_ADD, .name = S("x.test")};
	struct cmd usr = {.type = CMD_USER_ADD, .address = S("eve@x.test"), .blob = S("c")};
	const struct cmd *setup[] = {&dom, &usr};
	for (size_t i = 0; i < 2; i++) {
		struct cmd_batch bt;
		cmd_batch_init(&bt, 1, 0);
		cmd_batch_add(&bt, setup[i]);
		size_t len;
		const uint8_t *d = cmd_batch_data(&bt, &len);
		nbuf_init(&frames[nframes], CMD_FRAME_MAX);
		cmd_frame_encode(&d, &len, 1, &frames[nframes]);
		nframes++;
		cmd_batch_deinit(&bt);
	}
	for (size_t i = 0; i < nframes; i++) {
		assert_int_equal(
		        store_apply(a->st, i + 1, nbuf_head(&frames[i]), nbuf_avail(&frames[i])),
		        0);
		store_commit(a->st);
	}
	a->index = nframes;
	uint32_t u = 1;
	struct store_mailbox in;
	uint32_t inbox = mailbox_id(a, u, "INBOX", &in);
	uint32_t expected = 0;
	for (int i = 0; i < 300; i++) {
		struct cmd c = {.user_id = u, .mailbox_id = inbox, .uidvalidity = in.uidvalidity};
		uint8_t hash[32];
		char body[64];
		int op = rand() % 4;
		struct uid_range r = {1 + (uint32_t)(rand() % 50), 0};
		r.hi = r.lo + (uint32_t)(rand() % 5);
		if (op <= 1) {
			snprintf(body, sizeof(body), "Subject: %d\r\n\r\n%d\r\n", i, rand() % 10);
			stage(a, body, hash);
			/* b gets the same staged body (pushed by the leader). */
			char *tmp;
			int fd = store_body_tmp(b->st, &tmp);
			write_all(fd, body, strlen(body));
			close(fd);
			store_body_stage(b->dir, tmp, hash);
			free(tmp);
			c.type = CMD_MSG_APPEND;
			c.hash = hash;
			c.size = strlen(body);
			c.flags = (uint32_t)(rand() % 2) * MSG_SEEN;
		} else if (op == 2) {
			c.type = CMD_MSG_STORE;
			c.mode = (uint8_t)(1 + rand() % 3);
			c.flags = (uint32_t)(rand() % 32);
			c.ranges = (struct cmd_ranges){1, &r, NULL};
		} else {
			c.type = CMD_MSG_EXPUNGE;
			c.mode = EXPUNGE_UIDS;
			c.ranges = (struct cmd_ranges){1, &r, NULL};
		}
		struct cmd_batch bt;
		cmd_batch_init(&bt, 1, 0);
		cmd_batch_add(&bt, &c);
		size_t len;
		const uint8_t *d = cmd_batch_data(&bt, &len);
		nbuf_init(&frames[nframes], CMD_FRAME_MAX);
		cmd_frame_encode(&d, &len, 1, &frames[nframes]);
		assert_int_equal(store_apply(a->st, nframes + 1, nbuf_head(&frames[nframes]),
		                             nbuf_avail(&frames[nframes])),
		                 0);
		store_commit(a->st);
		if (c.type == CMD_MSG_APPEND)
			expected++;
		else if (c.type == CMD_MSG_EXPUNGE)
			expected -= a->last->r[0].nset1;
		nframes++;
		cmd_batch_deinit(&bt);
	}
	mailbox_id(a, u, "INBOX", &in);
	assert_int_equal(in.messages, expected);
	/* Count unseen by walking the messages. */
	struct store_txn *t;
	store_read_begin(a->st, &t);
	struct store_msg_iter *it;
	store_msg_iter_open(t, inbox, 1, UINT32_MAX, &it);
	struct store_msg m;
	uint32_t unseen = 0, total = 0;
	uint64_t size = 0;
	while (store_msg_iter_next(it, &m) == 1) {
		total++;
		size += m.size;
		if (!(m.flags & MSG_SEEN))
			unseen++;
	}
	store_msg_iter_close(&it);
	store_read_end(&t);
	assert_int_equal(total, in.messages);
	assert_int_equal(unseen, in.unseen);
	assert_true(size == in.size);

	/* Store b: apply the first half, "crash" (close uncommitted work is
	 * committed by close; reopen), then the whole log again. */
	for (size_t i = 0; i < nframes / 2; i++)
		assert_int_equal(
		        store_apply(b->st, i + 1, nbuf_head(&frames[i]), nbuf_avail(&frames[i])),
		        0);
	store_close(&b->st);
	struct store_hooks h = {.applied = test_store_applied, .arg = b};
	const char *err;
	assert_int_equal(store_open(b->dir, &h, &b->st, &err), 0);
	assert_true(store_applied_index(b->st) == nframes / 2);
	for (size_t i = 0; i < nframes; i++) {
		assert_int_equal(
		        store_apply(b->st, i + 1, nbuf_head(&frames[i]), nbuf_avail(&frames[i])),
		        0);
		if (i % 7 == 0)
			store_commit(b->st);
	}
	store_commit(b->st);
	char *da = dump_of(a), *db = dump_of(b);
	char *cmdline = xasprintf("cmp -s '%s' '%s'", da, db);
	assert_int_equal(system(cmdline), 0);
	free(cmdline);
	unlink(da);
	unlink(db);
	free(da);
	free(db);
	for (size_t i = 0; i < nframes; i++)
		nbuf_deinit(&frames[i]);
	fixture_free(a);
	fixture_free(b);
}

static void
test_alias_loop(void **state)
{
	struct test_store *f = fixture_new("store-alias");
	add_user(f, "real@a.test");
	static const char *const to_real[] = {"real@a.test"};
	static const char *const to_b[] = {"b@a.test"};
	static const char *const to_a[] = {"x@a.test"};
	struct cmd c = {
	        .type = CMD_ALIAS_ADD, .address = S("x@a.test"), .targets = {1, to_real, NULL, 0}};
	assert_int_equal(apply1(f, &c, NULL), CMD_OK);
	c.address = S("b@a.test");
	c.targets = (struct cmd_strlist){1, to_a, NULL, 0};
	assert_int_equal(apply1(f, &c, NULL), CMD_OK);
	c.address = S("x@a.test");
	c.targets = (struct cmd_strlist){1, to_b, NULL, 0};
	assert_int_equal(apply1(f, &c, NULL), CMD_ELOOP);
	c.address = S("real@a.test");
	assert_int_equal(apply1(f, &c, NULL), CMD_EEXISTS);
	struct cmd dd = {.type = CMD_DOMAIN_DEL, .name = S("a.test")};
	assert_int_equal(apply1(f, &dd, NULL), CMD_ENOTEMPTY);
	fixture_free(f);
}

/* Every file under dir/mail, as "relative/path\n" lines, sorted. */
static void
list_tree_rec(const char *root, const char *rel, char ***v, size_t *n)
{
	char *path = xasprintf("%s/%s", root, rel);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *sub = xasprintf("%s/%s", rel, e->d_name);
		char *full = xasprintf("%s/%s", root, sub);
		struct stat sb;
		assert_int_equal(lstat(full, &sb), 0);
		if (S_ISDIR(sb.st_mode)) {
			list_tree_rec(root, sub, v, n);
			free(sub);
		} else {
			*v = xrealloc(*v, (*n + 1) * sizeof(**v));
			(*v)[(*n)++] = sub;
		}
		free(full);
	}
	if (d)
		closedir(d);
	free(path);
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
list_tree(const char *dir)
{
	char **v = NULL;
	size_t n = 0;
	char *root = xasprintf("%s/mail", dir);
	list_tree_rec(root, ".", &v, &n);
	qsort(v, n, sizeof(*v), strp_cmp);
	struct nbuf b;
	nbuf_init(&b, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		nbuf_append(&b, v[i], strlen(v[i]));
		nbuf_append(&b, "\n", 1);
		free(v[i]);
	}
	free(v);
	free(root);
	char *s = xstrndup((const char *)nbuf_head(&b), nbuf_avail(&b));
	nbuf_deinit(&b);
	return s;
}

static uint8_t missing_seen[32];
static int missing_calls;

static void
missing_cb(void *arg, const uint8_t hash[CMD_HASH_LEN])
{
	memcpy(missing_seen, hash, 32);
	missing_calls++;
}

/* What both replicas applied before one of them fell behind. */
static void
common_history(struct test_store *f, uint32_t *a_r)
{
	uint32_t a = add_user(f, "a@x.test");
	add_user(f, "b@x.test");
	uint32_t gone = add_user(f, "gone@y.test");
	struct cmd mc = {.type = CMD_MAILBOX_CREATE, .user_id = a, .name = S("Old")};
	assert_int_equal(apply1(f, &mc, NULL), CMD_OK);
	append(f, a, mailbox_id(f, a, "INBOX", NULL), "Subject: one\r\n\r\nshared\r\n", 0);
	append(f, a, mailbox_id(f, a, "Old", NULL), "Subject: two\r\n\r\nold\r\n", 0);
	append(f, gone, mailbox_id(f, gone, "INBOX", NULL), "Subject: three\r\n\r\ngone\r\n", 0);
	append(f, a, mailbox_id(f, a, "INBOX", NULL), "Subject: four\r\n\r\nexpunged\r\n", 0);
	*a_r = a;
}

/* A replica that installs a snapshot ends with the maildir tree of the
 * replica that took it: files of what the snapshot dropped are gone, the
 * files of messages whose bodies it already held are there, and only the
 * message whose body it lacks waits for the fetch. */
static void
test_snapshot_reconciles_maildirs(void **state)
{
	struct test_store *a = fixture_new("snap-a"), *b = fixture_new("snap-b");
	uint32_t ua, ub;
	common_history(a, &ua);
	common_history(b, &ub);
	assert_int_equal(ua, ub);

	/* Only a goes on. */
	struct cmd del = {.type = CMD_USER_DEL, .address = S("gone@y.test")};
	assert_int_equal(apply1(a, &del, NULL), CMD_OK);
	struct cmd dd = {.type = CMD_DOMAIN_DEL, .name = S("y.test")};
	assert_int_equal(apply1(a, &dd, NULL), CMD_OK);
	struct cmd md = {.type = CMD_MAILBOX_DELETE, .user_id = ua, .name = S("Old")};
	assert_int_equal(apply1(a, &md, NULL), CMD_OK);
	struct store_mailbox in;
	uint32_t inbox = mailbox_id(a, ua, "INBOX", &in);
	struct uid_range two = {2, 2};
	struct cmd ex = {.type = CMD_MSG_EXPUNGE,
	                 .user_id = ua,
	                 .mailbox_id = inbox,
	                 .uidvalidity = in.uidvalidity,
	                 .mode = EXPUNGE_UIDS,
	                 .ranges = {.n = 1, .v = &two}};
	assert_int_equal(apply1(a, &ex, NULL), CMD_OK);
	uint32_t bid = mailbox_id(a, 2, "INBOX", NULL);
	append(a, 2, bid, "Subject: one\r\n\r\nshared\r\n", 0); /* b holds this body */
	struct cmd mn = {.type = CMD_MAILBOX_CREATE, .user_id = ua, .name = S("New")};
	assert_int_equal(apply1(a, &mn, NULL), CMD_OK);
	append(a, ua, mailbox_id(a, ua, "New", NULL), "Subject: five\r\n\r\nnew\r\n", 0);

	/* A file in b's INBOX that mailnode did not name stays. */
	char *stray = xasprintf("%s/mail/x.test/a/cur/1.other:2,S", b->dir);
	int fd = open(stray, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	char *snap = xasprintf("%s/snapshot", a->dir);
	const char *err;
	fd = open(snap, O_CREAT | O_RDWR | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(store_snapshot_write(a->st, fd, &err), 0);
	close(fd);
	struct store_hooks h = {
	        .applied = test_store_applied, .body_missing = missing_cb, .arg = b};
	store_set_hooks(b->st, &h);
	missing_calls = 0;
	assert_int_equal(store_snapshot_restore(b->st, snap, &err), 0);
	uint8_t five[32];
	const char *body5 = "Subject: five\r\n\r\nnew\r\n";
	sha256(body5, strlen(body5), five);
	assert_int_equal(missing_calls, 1);
	assert_memory_equal(missing_seen, five, 32);

	char *ta = list_tree(a->dir), *tb = list_tree(b->dir);
	assert_null(strstr(tb, "y.test"));
	assert_null(strstr(tb, ".Old"));
	assert_non_null(strstr(tb, "./x.test/a/cur/1.other:2,S\n"));
	assert_non_null(strstr(tb, "./x.test/b/cur/"));
	/* a's tree = b's, but for the stray file and the message whose body
	 * is being fetched. */
	char *want = xstrdup(ta);
	char *nf = strstr(want, "./x.test/a/.New/cur/");
	assert_non_null(nf);
	memmove(nf, strchr(nf, '\n') + 1, strlen(strchr(nf, '\n') + 1) + 1);
	char *got = xstrdup(tb);
	char *sf = strstr(got, "./x.test/a/cur/1.other:2,S\n");
	memmove(sf, strchr(sf, '\n') + 1, strlen(strchr(sf, '\n') + 1) + 1);
	assert_string_equal(got, want);

	free(want);
	free(got);
	free(ta);
	free(tb);
	free(snap);
	free(stray);
	fixture_free(a);
	fixture_free(b);
}

/* --- thread ids (RFC 8474 §5.2) ---------------------------------------- */

/* Two replicas fed one log: every batch is built once and applied to both. */
struct pair {
	struct test_store *a, *b;
};

static struct cmd_result
pair_apply(struct pair *p, const struct cmd *c)
{
	struct cmd_batch bt;
	cmd_batch_init(&bt, 1, 0);
	assert_int_equal(cmd_batch_add(&bt, c), 0);
	size_t len;
	const uint8_t *d = cmd_batch_data(&bt, &len);
	struct nbuf frame;
	nbuf_init(&frame, CMD_FRAME_MAX);
	assert_int_equal(cmd_frame_encode(&d, &len, 1, &frame), 0);
	struct test_store *fs[2] = {p->a, p->b};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_apply(fs[i]->st, ++fs[i]->index, nbuf_head(&frame),
		                             nbuf_avail(&frame)),
		                 0);
		assert_int_equal(store_commit(fs[i]->st), 0);
	}
	nbuf_deinit(&frame);
	cmd_batch_deinit(&bt);
	assert_int_equal(p->a->last->r[0].status, p->b->last->r[0].status);
	assert_int_equal(p->a->last->r[0].uid, p->b->last->r[0].uid);
	struct cmd_result r = p->a->last->r[0];
	r.set1 = r.set2 = NULL;
	return r;
}

/* APPEND as intake makes it: the body staged on both, its MIME tree
 * (with References) as meta unless bare. Returns the UID. */
static uint32_t
pair_append(struct pair *p, uint32_t user, uint32_t mbox, const char *body, int bare)
{
	uint8_t hash[32];
	stage(p->a, body, hash);
	stage(p->b, body, hash);
	struct nbuf meta;
	nbuf_init(&meta, CMD_META_MAX);
	struct mime_message *m = NULL;
	assert_int_equal(mime_parse(body, strlen(body), NULL, &m), 0);
	assert_int_equal(mime_tree_encode(m, &meta), 0);
	mime_message_free(&m);
	struct cmd c = {.type = CMD_MSG_APPEND,
	                .user_id = user,
	                .mailbox_id = mbox,
	                .hash = hash,
	                .size = strlen(body),
	                .internaldate = 1700000000};
	if (!bare)
		c.meta = (struct cmd_str){(const char *)nbuf_head(&meta), nbuf_avail(&meta)};
	struct cmd_result r = pair_apply(p, &c);
	assert_int_equal(r.status, CMD_OK);
	nbuf_deinit(&meta);
	return r.uid;
}

static uint64_t
thread_of(struct test_store *f, uint32_t mbox, uint32_t uid)
{
	struct store_txn *t;
	struct store_msg m;
	assert_int_equal(store_read_begin(f->st, &t), 0);
	assert_int_equal(store_msg_get(t, mbox, uid, &m), 1);
	store_read_end(&t);
	return m.thread_id;
}

/* The id of a thread a message started: its mailbox id and UID. */
static uint64_t
new_thread(uint32_t mbox, uint32_t uid)
{
	return ((uint64_t)mbox << 32) | uid;
}

static int64_t
thread_rows(struct test_store *f)
{
	struct store_txn *t;
	assert_int_equal(store_read_begin(f->st, &t), 0);
	int64_t n = store_count(t, IDX_DB_THREADS);
	store_read_end(&t);
	return n;
}

static uint32_t
pair_user(struct pair *p, const char *addr)
{
	struct cmd c = {.type = CMD_DOMAIN_ADD, .name = S(strchr(addr, '@') + 1)};
	pair_apply(p, &c); /* may exist */
	struct cmd u = {.type = CMD_USER_ADD, .address = S(addr), .blob = S("cred"), .enabled = 1};
	struct cmd_result r = pair_apply(p, &u);
	assert_int_equal(r.status, CMD_OK);
	return r.id;
}

/* A reply joins its parent's thread (by In-Reply-To, by References, by
 * the root of a long References), an unrelated message starts its own
 * (named after its mailbox and UID), a reply that came before its parent
 * still shares its thread, COPY and MOVE keep the id, threads are per
 * user, a user's rows go with it, and both replicas end identical. */
static void
test_threads(void **state)
{
	struct pair p = {fixture_new("thread-a"), fixture_new("thread-b")};
	uint32_t u = pair_user(&p, "tom@t.test"), v = pair_user(&p, "vic@t.test");
	struct store_mailbox in;
	uint32_t inbox = mailbox_id(p.a, u, "INBOX", &in);
	uint32_t arch = mailbox_id(p.a, u, "Archive", NULL);
	uint32_t vin = mailbox_id(p.a, v, "INBOX", NULL);

	uint32_t a = pair_append(&p, u, inbox, "Message-ID: <a@x>\r\nSubject: a\r\n\r\nA\r\n", 0);
	uint64_t ta = thread_of(p.a, inbox, a);
	assert_true(ta == new_thread(inbox, a));
	uint32_t b = pair_append(&p, u, inbox,
	                         "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n"
	                         "Subject: Re: a\r\n\r\nB\r\n",
	                         0);
	assert_true(thread_of(p.a, inbox, b) == ta);
	uint32_t c = pair_append(&p, u, inbox,
	                         "Message-ID: <c@x>\r\nReferences: <a@x>\r\n <b@x>\r\n"
	                         "Subject: Re: a\r\n\r\nC\r\n",
	                         0);
	assert_true(thread_of(p.a, inbox, c) == ta);
	/* unrelated: a thread of its own */
	uint32_t d = pair_append(&p, u, inbox, "Message-ID: <d@x>\r\nSubject: d\r\n\r\nD\r\n", 0);
	uint64_t td = thread_of(p.a, inbox, d);
	assert_true(td != ta);
	assert_true(td == new_thread(inbox, d));
	/* a reply before its parent: the parent finds the thread by its own ID */
	uint32_t f1 =
	        pair_append(&p, u, inbox, "Message-ID: <f@x>\r\nReferences: <e@x>\r\n\r\nF\r\n", 0);
	uint32_t e1 = pair_append(&p, u, inbox, "Message-ID: <e@x>\r\n\r\nE\r\n", 0);
	uint64_t tf = thread_of(p.a, inbox, f1);
	assert_true(thread_of(p.a, inbox, e1) == tf);
	assert_true(tf != ta && tf != td);
	/* a long References: the root (kept first) still names the thread */
	char body[4096] = "Message-ID: <g@x>\r\nReferences: <a@x>";
	for (int i = 0; i < 40; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), " <r%d@x>", i);
	strcat(body, "\r\n\r\nG\r\n");
	uint32_t g = pair_append(&p, u, inbox, body, 0);
	assert_true(thread_of(p.a, inbox, g) == ta);
	/* of a long References only the first and the last 15 are looked up */
	strcpy(body, "Message-ID: <g2@x>\r\nReferences:");
	for (int i = 0; i < 20; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), " <n%d@x>", i);
	strcat(body, " <d@x>\r\n\r\nG2\r\n");
	uint32_t g2 = pair_append(&p, u, inbox, body, 0);
	assert_true(thread_of(p.a, inbox, g2) == td);
	strcpy(body, "Message-ID: <g3@x>\r\nReferences: <m0@x> <d@x>");
	for (int i = 1; i <= 15; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), " <m%d@x>", i);
	strcat(body, "\r\n\r\nG3\r\n");
	uint32_t g3 = pair_append(&p, u, inbox, body, 0);
	assert_true(thread_of(p.a, inbox, g3) == new_thread(inbox, g3));
	strcpy(body, "Message-ID: <g4@x>\r\nReferences: <m0@x> <d@x>");
	for (int i = 1; i <= 14; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body), " <k%d@x>", i);
	strcat(body, "\r\n\r\nG4\r\n");
	uint32_t g4 = pair_append(&p, u, inbox, body, 0);
	assert_true(thread_of(p.a, inbox, g4) == thread_of(p.a, inbox, g3)); /* <m0@x> first */
	/* no tree (too complex to cache at intake): a thread of its own */
	uint32_t h = pair_append(&p, u, inbox,
	                         "Message-ID: <h@x>\r\nIn-Reply-To: <a@x>\r\n\r\nH\r\n", 1);
	assert_true(thread_of(p.a, inbox, h) == new_thread(inbox, h));
	/* the same body again, its tree left out as the batch's later appends
	 * do: the stored body's tree threads it */
	uint32_t b2 = pair_append(&p, u, inbox,
	                          "Message-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\n"
	                          "Subject: Re: a\r\n\r\nB\r\n",
	                          1);
	assert_true(thread_of(p.a, inbox, b2) == ta);

	/* COPY and MOVE keep the thread id */
	mailbox_id(p.a, u, "INBOX", &in);
	struct uid_range rb = {b, b}, rd = {d, d};
	struct cmd cp = {.type = CMD_MSG_COPY,
	                 .user_id = u,
	                 .mailbox_id = inbox,
	                 .uidvalidity = in.uidvalidity,
	                 .ranges = {1, &rb, NULL},
	                 .mailbox_id2 = arch};
	struct cmd_result r = pair_apply(&p, &cp);
	assert_int_equal(r.status, CMD_OK);
	assert_true(thread_of(p.a, arch, p.a->last->r[0].set2[0]) == ta);
	cp.type = CMD_MSG_MOVE;
	cp.ranges = (struct cmd_ranges){1, &rd, NULL};
	assert_int_equal(pair_apply(&p, &cp).status, CMD_OK);
	assert_true(thread_of(p.a, arch, p.a->last->r[0].set2[0]) == td);

	/* another user's reply to <a@x> does not join tom's thread */
	int64_t rows = thread_rows(p.a);
	uint32_t w =
	        pair_append(&p, v, vin, "Message-ID: <v@x>\r\nIn-Reply-To: <a@x>\r\n\r\nV\r\n", 0);
	uint64_t tv = thread_of(p.a, vin, w);
	assert_true(tv == new_thread(vin, w));
	assert_true(thread_rows(p.a) == rows + 2); /* <a@x> and <v@x> for vic */

	/* the replicas are byte-identical, the thread table included */
	char *da = dump_of(p.a), *db = dump_of(p.b);
	char *cmdline = xasprintf("cmp -s '%s' '%s' && grep -A1 '^\\[threads\\]$' '%s' | "
	                          "tail -n1 | grep -q '^[0-9a-f]* 0000000'",
	                          da, db, da);
	assert_int_equal(system(cmdline), 0);
	free(cmdline);
	unlink(da);
	unlink(db);
	free(da);
	free(db);

	/* removing a user removes its rows */
	struct cmd del = {.type = CMD_USER_DEL, .address = S("vic@t.test")};
	assert_int_equal(pair_apply(&p, &del).status, CMD_OK);
	assert_true(thread_rows(p.a) == rows);
	assert_true(thread_rows(p.b) == rows);
	fixture_free(p.a);
	fixture_free(p.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_codec_roundtrip),
	        cmocka_unit_test(test_codec_rejects_garbage),
	        cmocka_unit_test(test_user_mailboxes),
	        cmocka_unit_test(test_messages),
	        cmocka_unit_test(test_quota_and_atomic),
	        cmocka_unit_test(test_duplicate_request),
	        cmocka_unit_test(test_determinism_and_replay),
	        cmocka_unit_test(test_alias_loop),
	        cmocka_unit_test(test_snapshot_reconciles_maildirs),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
