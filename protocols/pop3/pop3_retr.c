/*
 * pop3_retr: RETR (RFC 1939 §5) and TOP (§7), streamed.
 *
 * Happy path: open the body by its hash (store_body_open), answer +OK,
 * then read the file in POP3_READ_CHUNK pieces, byte-stuff each piece
 * (pop3_stuffer.h) into the connection's output, and read the next piece
 * only while less than CONN_HIGH_WATER is queued; on_drain continues. A
 * message is never held whole, whatever its size. The response ends with
 * CRLF.CRLF; a completed RETR marks the message retrieved (\Seen at QUIT).
 *
 * Reads never block the loop: a piece in the page cache is read at once
 * (preadv2 with RWF_NOWAIT, which refuses rather than waits for the disk);
 * otherwise, or where the kernel cannot do that, the read goes to the
 * thread pool (uv_fs_read). Most bodies are read just after delivery or
 * often, so the common case costs no thread hand-off (docs/benchmarks.md).
 *
 * Failure modes: this node does not hold the body yet (a follower still
 * fetching it after a restart or a snapshot) -> -ERR [SYS/TEMP], the
 * client retries later or through another node; the message was removed
 * by another session and its body is gone -> -ERR; a read error after +OK
 * cannot be reported in the response, so the connection is dropped (the
 * client must not take a truncated message for a whole one).
 *
 * Ownership: the stream belongs to the session, except while a read is in
 * the pool: if the session ends then, the read's callback frees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/pop3/pop3_private.h"
#include "protocols/pop3/pop3_stuffer.h"

/* One read from the body file. */
#define POP3_READ_CHUNK (64 * 1024)
/* Stuffed output is handed to the connection in blocks of this size. */
#define POP3_ENCODE_BLOCK (16 * 1024)

struct pop3_stream {
	uv_fs_t req;
	struct pop3_session *s; /* NULL once the session is gone */
	struct pop3_msg *m;     /* in s->md: valid while s is */
	int fd;
	int reading; /* req is in the pool */
	int top;
	uint64_t offset;
	uint64_t size; /* of the file: no read is spent to find its end */
	struct pop3_stuffer st;
	uint8_t buf[POP3_READ_CHUNK];
};

static void pop3_stream_pump(struct pop3_stream *st);

static void
pop3_stream_free(struct pop3_stream *st)
{
	close(st->fd);
	free(st);
}

/* Detach from the session and free. */
static void
pop3_stream_end(struct pop3_stream *st)
{
	st->s->stream = NULL;
	pop3_stream_free(st);
}

static void
pop3_stream_finish(struct pop3_stream *st)
{
	struct pop3_session *s = st->s;
	uint8_t tail[POP3_STUFFER_FINISH_MAX];
	conn_write(s->conn, tail, pop3_stuffer_finish(&st->st, tail));
	if (!st->top) {
		pop3_maildrop_retrieved(&s->md, st->m);
		s->retrieved++;
	}
	pop3_stream_end(st);
	pop3__done_waiting(s);
}

/* After +OK nothing can be said: drop the connection. */
static void
pop3_stream_fail(struct pop3_stream *st, int err)
{
	struct pop3_session *s = st->s;
	log_error("pop3", "event=body-read-failed user=%s peer=%s uid=%u error=\"%s\"",
	          s->u.address, s->conn->peer, st->m->uid, uv_strerror(err));
	pop3_stream_end(st);
	s->end_reason = "read-error";
	conn_abort(s->conn);
}

static void
pop3_stream_send(struct pop3_stream *st, const uint8_t *p, size_t n)
{
	uint8_t out[POP3_ENCODE_BLOCK];
	uint64_t sent = 0;
	while (n > 0 && !pop3_stuffer_done(&st->st)) {
		size_t used;
		size_t k = pop3_stuffer_encode(&st->st, p, n, out, sizeof(out), &used);
		conn_write(st->s->conn, out, k);
		sent += k;
		p += used;
		n -= used;
	}
	pop3__count_bytes(st->s, sent);
}

/* A piece was read: send it. Returns 1 if the stream ended (and is freed). */
static int
pop3_stream_consume(struct pop3_stream *st, size_t n)
{
	pop3_stream_send(st, st->buf, n);
	st->offset += n;
	if (!pop3_stuffer_done(&st->st) && st->offset < st->size)
		return 0;
	pop3_stream_finish(st);
	return 1;
}

/* A piece from the page cache, without waiting: bytes read, 0 at the end
 * of the file, -EAGAIN when the disk would be needed, or -errno. */
static ssize_t
pop3_stream_read_nowait(struct pop3_stream *st)
{
	static int unsupported;
	if (unsupported)
		return -EAGAIN;
	struct iovec iov = {st->buf, (size_t)MIN(st->size - st->offset, sizeof(st->buf))};
	ssize_t n = preadv2(st->fd, &iov, 1, (off_t)st->offset, RWF_NOWAIT);
	if (n >= 0)
		return n;
	if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS) {
		unsupported = 1;
		return -EAGAIN;
	}
	return -errno;
}

static void
pop3_stream_read_cb(uv_fs_t *req)
{
	struct pop3_stream *st = req->data;
	ssize_t n = req->result;
	uv_fs_req_cleanup(req);
	st->reading = 0;
	if (st->s == NULL) {
		pop3_stream_free(st);
		return;
	}
	if (conn_closing(st->s->conn))
		return; /* on_close frees it */
	if (n < 0) {
		pop3_stream_fail(st, (int)n);
		return;
	}
	if (n == 0) {
		pop3_stream_finish(st); /* shorter than it was: end it well formed */
		return;
	}
	if (!pop3_stream_consume(st, (size_t)n))
		pop3_stream_pump(st);
}

/* Send pieces until the output is backed up (on_drain calls again), a
 * read has to go to the pool (its callback calls again), or the end. */
static void
pop3_stream_pump(struct pop3_stream *st)
{
	struct pop3_session *s = st->s;
	while (!st->reading && !conn_closing(s->conn)) {
		if (st->offset >= st->size) {
			pop3_stream_finish(st);
			return;
		}
		if (pop3__output_full(s))
			return;
		ssize_t n = pop3_stream_read_nowait(st);
		if (n == -EAGAIN) {
			uv_buf_t b =
			        uv_buf_init((char *)st->buf,
			                    (unsigned)MIN(st->size - st->offset, sizeof(st->buf)));
			st->req.data = st;
			int rc = uv_fs_read(s->node->loop, &st->req, st->fd, &b, 1,
			                    (int64_t)st->offset, pop3_stream_read_cb);
			if (rc != 0) {
				uv_fs_req_cleanup(&st->req);
				pop3_stream_fail(st, rc);
				return;
			}
			st->reading = 1;
			return;
		}
		if (n < 0) {
			pop3_stream_fail(st, (int)n);
			return;
		}
		if (n == 0) {
			pop3_stream_finish(st);
			return;
		}
		if (pop3_stream_consume(st, (size_t)n))
			return;
	}
}

/* store_body_open failed: say whether waiting can help. */
static void
pop3_body_unavailable(struct pop3_session *s, const struct pop3_msg *m, uint32_t msgno, int err)
{
	if (err == -ENOENT) {
		struct store_txn *t;
		struct store_body b;
		int known = -1;
		if (store_read_begin(s->node->store, &t) == 0) {
			known = store_body_get(t, m->hash, &b);
			store_read_end(&t);
		}
		if (known == 0) {
			pop3__err(s, NULL, "Message %u was removed by another session", msgno);
			return;
		}
		log_info("pop3", "event=body-missing user=%s peer=%s uid=%u", s->u.address,
		         s->conn->peer, m->uid);
		pop3__err(s, "SYS/TEMP", "Message %u is not on this server yet, try again later",
		          msgno);
		return;
	}
	log_error("pop3", "event=body-open-failed user=%s peer=%s uid=%u error=\"%s\"",
	          s->u.address, s->conn->peer, m->uid, strerror(-err));
	pop3__err(s, "SYS/TEMP", "Cannot read message %u now", msgno);
}

static void
pop3_stream_start(struct pop3_session *s, struct pop3_msg *m, int top, uint32_t lines)
{
	uint32_t msgno = (uint32_t)(m - s->md.v) + 1;
	int fd = store_body_open(s->node->store, m->hash);
	if (fd < 0) {
		pop3_body_unavailable(s, m, msgno, fd);
		return;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int err = -errno;
		close(fd);
		pop3_body_unavailable(s, m, msgno, err);
		return;
	}
	struct pop3_stream *st = xmalloc(sizeof(*st));
	st->size = (uint64_t)sb.st_size;
	st->s = s;
	st->m = m;
	st->fd = fd;
	st->reading = 0;
	st->top = top;
	st->offset = 0;
	pop3_stuffer_init(&st->st, top, lines);
	if (top)
		pop3__ok(s, "Top of message %u follows", msgno);
	else
		pop3__ok(s, "%llu octets", (unsigned long long)m->size);
	s->stream = st;
	pop3__wait(s, POP3_W_STREAM);
	pop3_stream_pump(st);
}

void
pop3__retr(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	struct pop3_msg *m = pop3__msg_arg(s, &cmd->args[0], 0);
	if (m != NULL)
		pop3_stream_start(s, m, 0, 0);
}

void
pop3__top(struct pop3_session *s, const struct pop3_cmd *cmd)
{
	uint32_t lines;
	struct pop3_msg *m = pop3__msg_arg(s, &cmd->args[0], 0);
	if (m == NULL)
		return;
	if (pop3_parser_number(&cmd->args[1], UINT32_MAX, &lines) != 0) {
		pop3__err(s, NULL, "Invalid number of lines");
		return;
	}
	pop3_stream_start(s, m, 1, lines);
}

void
pop3__stream_drain(struct pop3_session *s)
{
	if (s->stream)
		pop3_stream_pump(s->stream);
}

void
pop3__stream_release(struct pop3_session *s)
{
	struct pop3_stream *st = s->stream;
	if (st == NULL)
		return;
	s->stream = NULL;
	st->s = NULL;
	if (!st->reading)
		pop3_stream_free(st);
}
