/*
 * cmd_fetch_msg: one message of a FETCH (RFC 3501 §6.4.5, §7.4.2): its
 * record, keywords, cached MIME tree and mapped body gathered from the
 * store, the engine's segments for it (fetch.h), and sending them: text at
 * once, file ranges in chunks while the output stays under the high-water
 * mark, decoded ranges (BINARY, RFC 3516) decoded a chunk at a time the
 * same way. See cmd_fetch.c for the command around it.
 *
 * Failure modes: a message gone meanwhile or a body this node does not
 * hold yet is skipped and counted (the reply says NO); an unknown
 * Content-Transfer-Encoding likewise (NO [UNKNOWN-CTE]); a segment outside
 * the file or a decoder giving less than it measured is our own bug with a
 * response half written: the session ends with BYE, the node goes on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/cmd_fetch.h"
#include "protocols/imap/imap_private.h"

void
imap__fetch_msg_done(struct fetch_op *op)
{
	if (op->map != NULL)
		munmap(op->map, op->maplen);
	op->map = NULL;
	op->maplen = 0;
	mime_message_free(&op->tree);
	if (op->out_ready) {
		imap_fetch_out_deinit(&op->out);
		op->out_ready = false;
	}
	arena_reset(&op->marena);
	op->have_msg = false;
	op->dec_on = false;
	op->seg = op->segoff = 0;
}

static int
fetch_keywords(struct fetch_op *op, struct store_txn *t, uint32_t mailbox_id, struct arena *a)
{
	struct cmd_str names[CMD_KEYWORDS_MAX];
	int n = store_keywords_get(t, mailbox_id, names, CMD_KEYWORDS_MAX);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char *p = arena_strndup(a, names[i].p, names[i].len);
		if (p == NULL)
			return -1;
		op->kw[i] = (struct cmd_str){p, names[i].len};
	}
	op->nkw = (size_t)n;
	op->kw_loaded = true;
	return 0;
}

static bool
fetch_set_seen(const struct fetch_op *op, uint32_t uid)
{
	uint32_t lo = 0, hi = op->nseen;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (op->seen[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < op->nseen && op->seen[lo] == uid;
}

/* Map the body file of op->rec. Returns 0, -ENOENT when this node does
 * not hold it (yet), or another -errno. */
static int
fetch_map(struct fetch_op *op)
{
	int fd = store_body_open(imap__store(), op->rec.hash);
	if (fd < 0)
		return fd;
	struct stat sb;
	if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < op->rec.size) {
		close(fd);
		return -EIO;
	}
	op->maplen = (size_t)op->rec.size;
	if (op->maplen > 0) {
		void *p = mmap(NULL, op->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			op->maplen = 0;
			return -errno;
		}
		op->map = p;
	}
	close(fd);
	return 0;
}

/* Gather one message and describe its response. Returns 1 ready, 0
 * skipped (expunged or unreadable), -1 store error. */
int
imap__fetch_prepare(struct imap_session *s, struct fetch_op *op, struct store_txn *t, uint32_t seq)
{
	uint32_t uid = imap__view_uid(s, seq);
	int rc = store_msg_get(t, s->sel->id, uid, &op->rec);
	if (rc <= 0) {
		if (rc == 0)
			op->expunged++;
		return rc;
	}
	struct arena *a = imap__arena(s);
	if ((!op->kw_loaded || (op->nkw < 64 && (op->rec.keywords >> op->nkw) != 0)) &&
	    fetch_keywords(op, t, s->sel->id, a) != 0)
		return -1;
	if (op->needs & FETCH_NEED_TREE) {
		struct store_body b;
		if (store_body_get(t, op->rec.hash, &b) == 1 && b.metalen > 0 &&
		    mime_tree_decode(b.meta, b.metalen, &op->tree) != 0)
			op->tree = NULL;
	}
	bool need_file = (op->needs & FETCH_NEED_FILE) ||
	                 ((op->needs & FETCH_NEED_TREE) && op->tree == NULL);
	if (need_file) {
		rc = fetch_map(op);
		if (rc != 0) {
			if (rc != -ENOENT)
				log_warn("imap",
				         "event=body-unreadable user=%s uid=%u error=\"%s\"",
				         s->user, uid, strerror(-rc));
			op->missing++;
			imap__fetch_msg_done(op);
			return 0;
		}
		/* Not cached (too complex when it arrived): the engine parses
		 * the bytes it gets instead (fetch.h). */
	}
	arena_reset(&op->marena);
	imap_fetch_out_init(&op->out, &op->marena);
	op->out_ready = true;
	struct imap_fetch_msg m = {
	        .seq = seq,
	        .rec = &op->rec,
	        .keywords = op->kw,
	        .nkeywords = op->nkw,
	        .recent = imap__view_recent(s, uid),
	        .set_seen = fetch_set_seen(op, uid),
	        .tree = op->tree,
	        .bytes = op->map ? op->map : (need_file ? "" : NULL),
	        .len = op->maplen,
	};
	rc = imap_fetch_msg(op->plan, &m, &op->out);
	if (rc != 0) {
		if (rc == IMAP_FETCH_UNKNOWN_CTE)
			op->unknown_cte++;
		else
			op->missing++;
		imap__fetch_msg_done(op);
		return 0;
	}
	op->have_msg = true;
	op->seg = op->segoff = 0;
	return 1;
}

/* Send a decoded segment (BINARY) a chunk at a time while the output
 * stays under the high-water mark. Returns 1 done, 0 output full (wait),
 * -1 the session is closing. */
static int
fetch_write_decoded(struct imap_session *s, struct fetch_op *op, const struct imap_fetch_seg *g,
                    uint64_t *bytes)
{
	if (!op->dec_on) {
		if (op->scratch == NULL &&
		    (op->scratch = arena_alloc(imap__arena(s), FETCH_CHUNK_MIN)) == NULL) {
			imap__bye(s, "fetch-error", "Out of memory");
			return -1;
		}
		imap_fetch_decoder_init(&op->dec, g, op->map);
		op->dec_on = true;
	}
	while (op->dec.left > 0) {
		if (conn_pending(s->conn) >= CONN_HIGH_WATER) {
			conn_flush(s->conn);
			if (conn_pending(s->conn) >= CONN_HIGH_WATER)
				return 0;
		}
		size_t n = imap_fetch_decoder_next(&op->dec, op->scratch, FETCH_CHUNK_MIN);
		if (n == 0) {
			/* the decoder gave less than it measured: our bug, and the
			 * literal is half sent */
			log_error("imap", "event=fetch-bad-decode user=%s", s->user);
			imap__bye(s, "fetch-error", "Internal error");
			return -1;
		}
		imap__write(s, op->scratch, n);
		imap__count_out(s, n);
		*bytes += n;
	}
	op->dec_on = false;
	return 1;
}

/* Write the current message's segments. Returns 1 when all are queued, 0
 * when the output is full (wait for on_drain). */
int
imap__fetch_write(struct imap_session *s, struct fetch_op *op, uint64_t *bytes)
{
	while (op->seg < op->out.nsegs) {
		const struct imap_fetch_seg *g = &op->out.segs[op->seg];
		if (g->text != NULL) {
			imap__write(s, g->text, g->len);
			*bytes += g->len;
			op->seg++;
			continue;
		}
		if (g->off > op->maplen || g->len > op->maplen - g->off) {
			/* An engine range outside the file: our bug, and the
			 * response is half written: end the session, not the node. */
			log_error("imap",
			          "event=fetch-bad-segment user=%s off=%zu len=%zu size=%zu",
			          s->user, g->off, g->len, op->maplen);
			imap__bye(s, "fetch-error", "Internal error");
			return 1;
		}
		if (g->cte != MIME_CTE_IDENTITY) {
			int rc = fetch_write_decoded(s, op, g, bytes);
			if (rc <= 0)
				return rc < 0 ? 1 : 0;
			op->seg++;
			continue;
		}
		size_t left = g->len - op->segoff;
		size_t pend = conn_pending(s->conn);
		if (left > 0 && pend >= CONN_HIGH_WATER) {
			conn_flush(s->conn);
			if (conn_pending(s->conn) >= CONN_HIGH_WATER)
				return 0;
			pend = conn_pending(s->conn);
		}
		size_t chunk =
		        MIN(left, MAX((size_t)CONN_HIGH_WATER - MIN(pend, (size_t)CONN_HIGH_WATER),
		                      (size_t)FETCH_CHUNK_MIN));
		if (chunk > 0) {
			imap__write(s, op->map + g->off + op->segoff, chunk);
			imap__count_out(s, chunk);
			*bytes += chunk;
			op->segoff += chunk;
		}
		if (op->segoff == g->len) {
			op->seg++;
			op->segoff = 0;
		}
	}
	return 1;
}
