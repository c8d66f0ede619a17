/*
 * cmd_fetch: FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8, §7.4.2): the
 * session's side of the FETCH engine (fetch.h).
 *
 * Happy path: the items are parsed into a plan once; a FETCH that sets
 * \Seen (a non-PEEK body section, §6.4.5) first stores \Seen on the
 * messages that lack it through the replicated log, so that the FLAGS the
 * engine writes are the stored ones. Then, message by message, the session
 * gathers what imap_fetch_needs() asks for (the store record, the
 * mailbox's keyword names, \Recent, the cached MIME tree, the message
 * mapped from its body file), asks the engine for the response segments,
 * and writes them: text at once, file ranges in chunks while the output
 * stays under the high-water mark. When the client does not read, the
 * FETCH waits for on_drain; after IMAP_RUN_MSGS_MAX messages or
 * IMAP_RUN_BYTES_MAX bytes it yields the loop to other sessions. Read
 * transactions are short: one per run, never held across a wait.
 *
 * CONDSTORE (RFC 7162 §3.1.4): MODSEQ or CHANGEDSINCE make the session
 * CONDSTORE-aware; with CHANGEDSINCE the set is first narrowed to the
 * messages the MODSEQ index lists as changed since (the work is the number
 * of changes, not the size of the set); UID FETCH's VANISHED modifier
 * (§3.2.6) reports the set's UIDs expunged since in one "* VANISHED
 * (EARLIER)" before any FETCH response.
 *
 * Failure modes: bad items or set -> BAD; messages expunged by another
 * session meanwhile are skipped and the reply is NO [EXPUNGEISSUED]
 * (RFC 5530 §3); a body this node does not hold yet -> NO [UNAVAILABLE].
 * No EXPUNGE is sent during FETCH (§7.4.1).
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
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/fetch.h"
#include "protocols/imap/imap_private.h"
#include "replication/repl.h"

/* Per-message memory of the engine's output (the text of one response:
 * a BODYSTRUCTURE of many parts, header fields...). */
#define FETCH_MSG_ARENA_MAX (16u * 1024 * 1024)
/* Smallest chunk of a file range worth a write. */
#define FETCH_CHUNK_MIN (16u * 1024)

struct fetch_op {
	struct imap_fetch_plan *plan;
	unsigned needs;
	uint32_t *seqs, n, i;
	uint32_t *seen; /* UIDs this FETCH set \Seen on, sorted */
	uint32_t nseen;
	uint64_t seen_modseq;
	/* the message being written */
	struct arena marena;
	struct imap_fetch_out out;
	bool have_msg, out_ready;
	size_t seg, segoff;
	struct store_msg rec;
	char *map;
	size_t maplen;
	struct mime_message *tree;
	/* the mailbox's keyword names, copied out of the transaction */
	struct cmd_str kw[CMD_KEYWORDS_MAX];
	size_t nkw;
	bool kw_loaded;
	uint32_t expunged, missing;
};

static void fetch_run(struct imap_session *s);

static void
fetch_msg_done(struct fetch_op *op)
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
	op->seg = op->segoff = 0;
}

static void
fetch_release(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	if (op == NULL)
		return;
	fetch_msg_done(op);
	arena_deinit(&op->marena);
	s->op_release = NULL;
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
static int
fetch_prepare(struct imap_session *s, struct fetch_op *op, struct store_txn *t, uint32_t seq)
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
			fetch_msg_done(op);
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
	if (imap_fetch_msg(op->plan, &m, &op->out) != 0) {
		op->missing++;
		fetch_msg_done(op);
		return 0;
	}
	op->have_msg = true;
	op->seg = op->segoff = 0;
	return 1;
}

/* Write the current message's segments. Returns 1 when all are queued, 0
 * when the output is full (wait for on_drain). */
static int
fetch_write(struct imap_session *s, struct fetch_op *op, uint64_t *bytes)
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

static void
fetch_finish(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	uint32_t expunged = op->expunged, missing = op->missing;
	uint64_t seen_modseq = op->seen_modseq;
	fetch_release(s);
	imap__view_sync(s, s->cmd->uid ? IMAP_SYNC_UID : 0, seen_modseq);
	if (expunged > 0)
		imap__no(s, IMAP_CODE_EXPUNGEISSUED,
		         "Some of the requested messages no longer exist");
	else if (missing > 0)
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Some messages cannot be read now, try again");
	else
		imap__ok(s, IMAP_CODE_NONE, "FETCH completed");
}

static void
fetch_run(struct imap_session *s)
{
	struct fetch_op *op = s->op;
	struct store_txn *t = NULL;
	uint64_t bytes = 0;
	uint32_t msgs = 0;
	for (;;) {
		if (conn_closing(s->conn))
			break;
		if (op->have_msg) {
			if (!fetch_write(s, op, &bytes)) {
				store_read_end(&t);
				s->cont = fetch_run;
				s->wait = IMAP_W_STREAM;
				conn_pause(s->conn);
				return;
			}
			fetch_msg_done(op);
			s->nfetched++;
			op->i++;
			msgs++;
		}
		if (op->i >= op->n)
			break;
		if (msgs >= IMAP_RUN_MSGS_MAX || bytes >= IMAP_RUN_BYTES_MAX) {
			store_read_end(&t);
			imap__defer(s, fetch_run);
			return;
		}
		if (t == NULL && store_read_begin(imap__store(), &t) != 0) {
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
		int rc = fetch_prepare(s, op, t, op->seqs[op->i]);
		if (rc < 0) {
			store_read_end(&t);
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
		if (rc == 0)
			op->i++;
	}
	store_read_end(&t);
	if (conn_closing(s->conn)) {
		fetch_release(s);
		return;
	}
	fetch_finish(s);
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
fetch_seen_done(struct imap_session *s, int status, struct cmd_results *rs)
{
	struct fetch_op *op = s->op;
	if (status != REPL_OK) {
		fetch_release(s);
		imap__submit_failed(s, status);
		return;
	}
	const struct cmd_result *r = &rs->r[0];
	if (r->status == CMD_OK && r->nset1 > 0) {
		op->seen = arena_alloc(imap__arena(s), r->nset1 * sizeof(*op->seen));
		if (op->seen != NULL) {
			memcpy(op->seen, r->set1, r->nset1 * sizeof(*op->seen));
			op->nseen = r->nset1;
			qsort(op->seen, op->nseen, sizeof(*op->seen), u32_cmp);
			op->seen_modseq = r->modseq;
		}
	}
	cmd_results_free(&rs);
	fetch_run(s);
}

/* Store \Seen on the set's messages that lack it. Returns 1 when a batch
 * was submitted, 0 when there is nothing to set, -1 on error. */
static int
fetch_set_seen_submit(struct imap_session *s, struct fetch_op *op)
{
	struct store_txn *t;
	struct arena *a = imap__arena(s);
	uint32_t *unseen = arena_alloc(a, op->n * sizeof(*unseen)), k = 0;
	if (unseen == NULL || store_read_begin(imap__store(), &t) != 0)
		return -1;
	for (uint32_t i = 0; i < op->n; i++) {
		struct store_msg m;
		if (store_msg_get(t, s->sel->id, imap__view_uid(s, op->seqs[i]), &m) == 1 &&
		    !(m.flags & MSG_SEEN))
			unseen[k++] = op->seqs[i];
	}
	store_read_end(&t);
	if (k == 0)
		return 0;
	struct uid_range *ranges;
	uint32_t nr = imap__view_ranges(s, unseen, k, &ranges);
	if (nr == 0 || nr > CMD_RANGES_MAX)
		return -1;
	struct node *n = node_get();
	struct cmd_batch b;
	struct cmd c = {.type = CMD_MSG_STORE,
	                .user_id = s->user_id,
	                .mailbox_id = s->sel->id,
	                .uidvalidity = s->sel->uidvalidity,
	                .ranges = {.n = nr, .v = ranges},
	                .mode = STORE_ADD,
	                .flags = MSG_SEEN};
	cmd_batch_init(&b, n ? n->cfg->node_id : 0, 0);
	if (cmd_batch_add(&b, &c) != 0) {
		cmd_batch_deinit(&b);
		return -1;
	}
	imap__submit(s, &b, fetch_seen_done);
	cmd_batch_deinit(&b);
	return 1;
}

/* UID FETCH ... (CHANGEDSINCE n VANISHED): the UIDs of the set expunged
 * after n. "*" is taken as the highest UID the view knows of, so that
 * "1:*" covers the expunged messages above the last one left. */
static int
fetch_vanished(struct imap_session *s, struct store_txn *t, const struct imap_arg *arg,
               uint64_t since)
{
	struct imap_seqset set;
	const char *str, *err;
	if (!imap_arg_get_atom(arg, &str) ||
	    imap_seqset_parse(imap__arena(s), str, strlen(str), IMAP_SEQSET_RANGES_MAX, &set,
	                      &err) != 0)
		return -1;
	imap_seqset_resolve(&set, s->sel->uidnext > 1 ? s->sel->uidnext - 1 : 0);
	uint32_t *gone;
	int64_t n = imap__expunged_since(s, t, since, &set, &gone);
	if (n < 0)
		return -1;
	if (n > 0)
		imap__vanished_write(s, true, gone, (uint32_t)n);
	free(gone);
	return 0;
}

void
imap__cmd_fetch(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err = "Invalid FETCH arguments";
	struct arena *a = imap__arena(s);
	if (cmd->argc < 2) {
		imap__bad(s, "FETCH takes a message set and items");
		return;
	}
	struct fetch_op *op = arena_zalloc(a, sizeof(*op));
	if (op == NULL) {
		imap__bad(s, "Out of memory");
		return;
	}
	unsigned enabled = ((s->flags & IMAP_SF_CONDSTORE) ? IMAP_FETCH_CONDSTORE : 0) |
	                   ((s->flags & IMAP_SF_QRESYNC) ? IMAP_FETCH_QRESYNC : 0);
	if (imap_fetch_parse(a, &cmd->args[1], cmd->uid, enabled, &op->plan, &err) != 0) {
		imap__bad(s, "%s", err ? err : "Invalid FETCH items");
		return;
	}
	if (imap__view_select(s, &cmd->args[0], cmd->uid, &op->seqs, &op->n, &err) != 0) {
		imap__bad(s, "%s", err);
		return;
	}
	op->needs = imap_fetch_needs(op->plan);
	if (op->needs & FETCH_ENABLES_CONDSTORE)
		imap__condstore_enable(s);
	uint64_t since;
	int vanished;
	if (imap_fetch_changedsince(op->plan, &since, &vanished)) {
		struct store_txn *t = NULL;
		int rc = store_read_begin(imap__store(), &t);
		if (rc == 0 && vanished)
			rc = fetch_vanished(s, t, &cmd->args[0], since);
		if (rc == 0 && op->n > 0)
			rc = imap__changed_since(s, t, since, &op->seqs, &op->n);
		store_read_end(&t);
		if (rc != 0) {
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
			return;
		}
	}
	arena_init(&op->marena, FETCH_MSG_ARENA_MAX);
	s->op = op;
	s->op_release = fetch_release;
	if (op->n == 0) {
		fetch_finish(s);
		return;
	}
	if ((op->needs & FETCH_SETS_SEEN) && !s->sel->readonly) {
		int rc = fetch_set_seen_submit(s, op);
		if (rc < 0) {
			fetch_release(s);
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot set \\Seen now");
			return;
		}
		if (rc == 1)
			return; /* fetch_seen_done goes on */
	}
	fetch_run(s);
}
