/*
 * msgin: message intake. See msgin.h.
 *
 * The temporary file is written through a 64 KiB buffer on the loop
 * (page-cache writes); the MIME parse (the file is mapped, not read into
 * memory) runs in the thread pool, then the stager makes the body durable
 * under its hash together with the others arriving meanwhile; the push to
 * the other voters runs beside both. If the
 * session goes away meanwhile, the pool job or the stager finishes and
 * its callback frees what is left.
 */
#include "node/msgin.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/crypto.h"
#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/mime/mime.h"
#include "node/node.h"
#include "node/stager.h"
#include "node/store/store.h"
#include "replication/repl.h"

#define MSGIN_BUF 65536

struct msgin {
	struct store *st;
	char *data_dir;
	int fd;
	char *tmp_path; /* until staged */
	uint64_t max_size;
	uint64_t size;
	int too_big;
	int failed;
	struct sha256_ctx *sha;
	uint8_t hash[CMD_HASH_LEN];
	unsigned char buf[MSGIN_BUF];
	size_t buffered;
	struct nbuf meta;
	/* finishing */
	uv_work_t work;
	struct stage_req stage;
	int work_rc;
	int in_pool; /* in the pool job or the stager */
	int freed;   /* the owner let go meanwhile */
	int result;  /* first failure of the local stage or the push */
	int reported;
	struct repl_body_req *push;
	msgin_cb cb;
	void *arg;
};

struct msgin *
msgin_new(struct store *st, uint64_t max_size)
{
	struct msgin *m = xcalloc(1, sizeof(*m));
	m->st = st;
	m->data_dir = xstrdup(store_data_dir(st));
	m->max_size = max_size;
	m->fd = store_body_tmp(st, &m->tmp_path);
	if (m->fd < 0) {
		log_error("msgin", "event=tmp-failed error=\"%s\"", strerror(-m->fd));
		free(m->data_dir);
		free(m);
		return NULL;
	}
	m->sha = sha256_new();
	nbuf_init(&m->meta, CMD_META_MAX);
	return m;
}

static int
msgin_flush(struct msgin *m)
{
	if (m->buffered == 0 || m->failed)
		return m->failed ? -EIO : 0;
	int rc = write_all(m->fd, m->buf, m->buffered);
	m->buffered = 0;
	if (rc != 0) {
		m->failed = 1;
		return -EIO;
	}
	return 0;
}

int
msgin_write(struct msgin *m, const void *p, size_t n)
{
	if (m->too_big)
		return -EFBIG;
	if (m->failed)
		return -EIO;
	if (m->size + n > m->max_size) {
		m->too_big = 1;
		return -EFBIG;
	}
	sha256_update(m->sha, p, n);
	m->size += n;
	const unsigned char *c = p;
	while (n > 0) {
		size_t k = MIN(n, MSGIN_BUF - m->buffered);
		memcpy(m->buf + m->buffered, c, k);
		m->buffered += k;
		c += k;
		n -= k;
		if (m->buffered == MSGIN_BUF && msgin_flush(m) != 0)
			return -EIO;
	}
	return 0;
}

uint64_t
msgin_size(const struct msgin *m)
{
	return m->size;
}

int
msgin_too_big(const struct msgin *m)
{
	return m->too_big;
}

const uint8_t *
msgin_hash(const struct msgin *m)
{
	return m->hash;
}

const void *
msgin_meta(const struct msgin *m, size_t *len_r)
{
	*len_r = nbuf_avail(&m->meta);
	return nbuf_head(&m->meta);
}

static void
msgin_release(struct msgin *m)
{
	if (m->fd >= 0)
		close(m->fd);
	if (m->tmp_path) {
		unlink(m->tmp_path);
		free(m->tmp_path);
	}
	sha256_free(&m->sha);
	nbuf_deinit(&m->meta);
	free(m->data_dir);
	free(m);
}

/* In the pool: parsed from the temporary file, mapped. */
static void
msgin_work(uv_work_t *w)
{
	struct msgin *m = w->data;
	close(m->fd);
	m->fd = -1;
	if (m->size == 0)
		return;
	int fd = open(m->tmp_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		m->work_rc = -errno;
		return;
	}
	void *map = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	struct mime_limits lim = mime_limits_default();
	struct mime_message *mm = NULL;
	if (mime_parse(map, m->size, &lim, &mm) == 0) {
		/* FETCH PREVIEW (LAZY) reads the preview from the cached tree */
		(void)mime_message_cache_preview(mm, map, m->size);
		if (mime_tree_encode(mm, &m->meta) != 0)
			nbuf_reset(&m->meta); /* too complex to cache: parsed on demand */
		mime_message_free(&mm);
	}
	munmap(map, m->size);
}

/* Both halves done, this node's copy durable and the push to the others:
 * report the first failure, or success. The callback may free m. */
static void
msgin_maybe_report(struct msgin *m)
{
	if (m->in_pool || m->push || m->reported)
		return;
	m->reported = 1;
	m->cb(m->arg, m->result, m);
}

static void
msgin_fail(struct msgin *m, int rc)
{
	if (m->result == 0)
		m->result = rc;
	if (m->push) {
		repl_body_cancel(m->push);
		m->push = NULL;
	}
	msgin_maybe_report(m);
}

static void
msgin_pushed(void *arg, int status)
{
	struct msgin *m = arg;
	m->push = NULL;
	if (status != 0 && m->result == 0)
		m->result = status;
	msgin_maybe_report(m);
}

static void
msgin_staged(struct stage_req *q, int rc)
{
	struct msgin *m = (struct msgin *)((char *)q - offsetof(struct msgin, stage));
	m->in_pool = 0;
	if (rc == 0) {
		free(m->tmp_path); /* renamed to staged/ */
		m->tmp_path = NULL;
	}
	if (m->freed) {
		msgin_release(m);
		return;
	}
	if (rc != 0) {
		log_error("msgin", "event=stage-failed error=\"%s\"", strerror(-rc));
		msgin_fail(m, -EIO);
		return;
	}
	msgin_maybe_report(m);
}

static void
msgin_work_done(uv_work_t *w, int status)
{
	struct msgin *m = w->data;
	if (m->freed) {
		msgin_release(m);
		return;
	}
	if (m->work_rc != 0 || status != 0 || m->result != 0) {
		m->in_pool = 0;
		if (m->work_rc == -EFBIG) {
			msgin_fail(m, -EFBIG);
		} else if (m->work_rc != 0 || status != 0) {
			log_error("msgin", "event=parse-failed error=\"%s\"",
			          strerror(m->work_rc ? -m->work_rc : EIO));
			msgin_fail(m, -EIO);
		} else {
			msgin_fail(m, m->result);
		}
		return;
	}
	/* Still in_pool: the stager has it now, even if the owner let go. */
	m->stage.tmp_path = m->tmp_path;
	memcpy(m->stage.hash, m->hash, CMD_HASH_LEN);
	m->stage.cb = msgin_staged;
	stager_submit(node_get()->stager, &m->stage);
}

static void
msgin_fail_later(uv_work_t *w)
{
}

/* The push to the other voters runs beside the parse and the local stage
 * (it reads the temporary file through its own descriptor, opened here,
 * before the stager renames it): the quorum's writes and flushes overlap
 * this node's instead of following them. */
static void
msgin_push_start(struct msgin *m)
{
	struct repl *r = node_repl();
	struct node *n = node_get();
	if (r == NULL || (n && n->stopping)) {
		m->result = REPL_EUNAVAILABLE;
		return;
	}
	m->push = repl_body_push(r, m->hash, m->size, m->tmp_path, msgin_pushed, m);
}

void
msgin_finish(struct msgin *m, msgin_cb cb, void *arg)
{
	m->cb = cb;
	m->arg = arg;
	if (!m->too_big && !m->failed)
		msgin_flush(m);
	sha256_final(m->sha, m->hash);
	m->work.data = m;
	struct node *n = node_get();
	m->in_pool = 1;
	if (m->too_big || m->failed) {
		/* Report from the loop, not from inside this call. */
		m->work_rc = m->too_big ? -EFBIG : -EIO;
		uv_queue_work(n->loop, &m->work, msgin_fail_later, msgin_work_done);
		return;
	}
	msgin_push_start(m);
	uv_queue_work(n->loop, &m->work, msgin_work, msgin_work_done);
}

void
msgin_append_cmd(const struct msgin *m, struct cmd *c, uint32_t user_id, uint32_t mailbox_id,
                 uint32_t flags, int64_t internaldate, int with_meta)
{
	memset(c, 0, sizeof(*c));
	c->type = CMD_MSG_APPEND;
	c->user_id = user_id;
	c->mailbox_id = mailbox_id;
	c->hash = m->hash;
	c->size = m->size;
	c->flags = flags;
	c->internaldate = internaldate;
	if (with_meta)
		c->meta = (struct cmd_str){(const char *)nbuf_head(&m->meta), nbuf_avail(&m->meta)};
}

void
msgin_free(struct msgin **pm)
{
	struct msgin *m = *pm;
	if (m == NULL)
		return;
	*pm = NULL;
	if (m->push) {
		repl_body_cancel(m->push);
		m->push = NULL;
	}
	if (m->in_pool) {
		m->freed = 1;
		return;
	}
	msgin_release(m);
}
