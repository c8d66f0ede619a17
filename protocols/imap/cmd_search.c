/*
 * cmd_search: SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8, §7.2.5): the
 * session's side of the SEARCH engine (search.h).
 *
 * Happy path: the program is parsed once; the session's view is walked
 * beside the store's records in one read transaction (the records of
 * messages expunged meanwhile are gone: they do not match). Every message
 * is first judged on its record alone on the loop (flags, dates, sizes,
 * numbers: imap_search_match_record); the ones that need their bytes
 * (header keys, BODY, TEXT) go to the thread pool (uv_queue_work), which
 * maps each body file there, and the loop only writes "* SEARCH ..." when
 * the job is back. The session waits meanwhile, its
 * input paused.
 *
 * Failure modes: syntax, nesting and key limits -> BAD (the engine's
 * IMAP_SEARCH_DEPTH_MAX, the parser's depth); an unknown charset -> NO
 * [BADCHARSET]. A session that closes while its job runs detaches it: the
 * job finishes and frees itself with the parser memory its program lives
 * in. No EXPUNGE is sent during SEARCH (§7.4.1).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"
#include "protocols/imap/search.h"

struct search_item {
	uint32_t seq;
	int recent;
	struct store_msg rec;
};

struct search_job {
	uv_work_t work;
	struct imap_session *s;     /* NULL once the session went away */
	struct imap_parser *parser; /* owned once detached: the program lives there */
	struct store *st;
	const struct imap_search *prog;
	struct imap_search_ctx ctx;
	struct cmd_str kw[CMD_KEYWORDS_MAX];
	size_t nkw;
	char *kwbuf;
	struct search_item *items;
	uint32_t n;
	uint8_t *match; /* per item: 1 matches, 0 not, UNDECIDED until the pool */
	uint32_t *todo; /* items the record alone does not decide */
	uint32_t ntodo;
	bool uid;
};

static void
job_free(struct search_job *j)
{
	if (j->parser != NULL) {
		imap_parser_deinit(j->parser);
		free(j->parser);
	}
	free(j->kwbuf);
	free(j->items);
	free(j->match);
	free(j->todo);
	free(j);
}

static void
search_release(struct imap_session *s)
{
	struct search_job *j = s->op;
	if (j == NULL)
		return;
	/* The job is in the pool: it frees itself, and the program with the
	 * parser it lives in. */
	j->s = NULL;
	j->parser = s->parser;
	s->parser = NULL;
	s->op = NULL;
	s->op_release = NULL;
}

static void
search_output(struct imap_session *s, struct search_job *j)
{
	struct nbuf line;
	nbuf_init(&line, 64 * 1024 * 1024);
	nbuf_puts(&line, "* SEARCH");
	for (uint32_t i = 0; i < j->n; i++)
		if (j->match[i] == 1)
			nbuf_printf(&line, " %u", j->uid ? j->items[i].rec.uid : j->items[i].seq);
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
}

static void
job_msg(const struct search_job *j, const struct search_item *it, const char *bytes, size_t len,
        struct imap_search_msg *m_r)
{
	*m_r = (struct imap_search_msg){
	        .seq = it->seq,
	        .rec = &it->rec,
	        .keywords = j->kw,
	        .nkeywords = j->nkw,
	        .recent = it->recent,
	        .bytes = bytes,
	        .len = len,
	        .tree = NULL,
	};
}

/* In the pool: map each body and evaluate. */
static void
search_work(uv_work_t *w)
{
	struct search_job *j = w->data;
	for (uint32_t k = 0; k < j->ntodo; k++) {
		uint32_t i = j->todo[k];
		const struct search_item *it = &j->items[i];
		int fd = store_body_open(j->st, it->rec.hash);
		if (fd < 0) {
			j->match[i] = 0;
			continue;
		}
		size_t len = (size_t)it->rec.size;
		void *p = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
		close(fd);
		if (len && p == MAP_FAILED) {
			j->match[i] = 0;
			continue;
		}
		struct imap_search_msg m;
		job_msg(j, it, len ? p : "", len, &m);
		j->match[i] = imap_search_match(j->prog, &j->ctx, &m) == 1;
		if (len)
			munmap(p, len);
	}
}

static void
search_after(uv_work_t *w, int status)
{
	struct search_job *j = w->data;
	struct imap_session *s = j->s;
	if (s == NULL) {
		job_free(j);
		return;
	}
	s->op = NULL;
	s->op_release = NULL;
	s->wait = IMAP_W_NONE;
	if (status != 0) {
		job_free(j);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Search cancelled");
		return;
	}
	search_output(s, j);
	job_free(j);
	imap__ok(s, IMAP_CODE_NONE, "SEARCH completed");
}

/* The view's messages that the store still has, with their records. */
static int
search_gather(struct imap_session *s, struct search_job *j)
{
	struct imap_mailbox *sel = s->sel;
	struct store_txn *t;
	if (store_read_begin(imap__store(), &t) != 0)
		return -1;
	struct cmd_str names[CMD_KEYWORDS_MAX];
	int nk = store_keywords_get(t, sel->id, names, CMD_KEYWORDS_MAX);
	size_t total = 0;
	for (int i = 0; i < nk; i++)
		total += names[i].len + 1;
	j->kwbuf = xmalloc(total + 1);
	for (int i = 0, off = 0; i < nk; i++) {
		memcpy(j->kwbuf + off, names[i].p, names[i].len);
		j->kwbuf[off + (int)names[i].len] = '\0';
		j->kw[i] = (struct cmd_str){j->kwbuf + off, names[i].len};
		off += (int)names[i].len + 1;
	}
	j->nkw = nk > 0 ? (size_t)nk : 0;
	j->items = sel->count ? xmalloc(sel->count * sizeof(*j->items)) : NULL;
	int rc = 0;
	if (sel->count > 0) {
		struct store_msg_iter *it;
		struct store_msg m;
		uint32_t k = 0;
		rc = store_msg_iter_open(t, sel->id, sel->uids[0], sel->uids[sel->count - 1], &it);
		while (rc == 0 && k < sel->count) {
			int more = store_msg_iter_next(it, &m);
			if (more <= 0) {
				rc = more;
				break;
			}
			while (k < sel->count && sel->uids[k] < m.uid)
				k++; /* expunged in the store, not yet reported */
			if (k < sel->count && sel->uids[k] == m.uid) {
				j->items[j->n++] =
				        (struct search_item){k + 1, imap__view_recent(s, m.uid), m};
				k++;
			}
		}
		if (sel->count > 0)
			store_msg_iter_close(&it);
	}
	store_read_end(&t);
	j->match = j->n ? xcalloc(j->n, 1) : NULL;
	return rc < 0 ? -1 : 0;
}

void
imap__cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *err = "Invalid SEARCH arguments", *code = NULL;
	const struct imap_search *prog;
	struct imap_search *p;
	if (imap_search_parse(imap__arena(s), cmd->args, cmd->argc, &p, &err, &code) != 0) {
		if (code != NULL) {
			imap__no_code(s, code, "%s", err ? err : "Unsupported charset");
			return;
		}
		imap__bad(s, "%s", err ? err : "Invalid SEARCH arguments");
		return;
	}
	prog = p;
	if (imap__view_load(s) != 0) {
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	struct search_job *j = xcalloc(1, sizeof(*j));
	j->prog = prog;
	j->st = imap__store();
	j->uid = cmd->uid;
	j->ctx.max_seq = s->sel->count;
	j->ctx.max_uid = s->sel->count ? s->sel->uids[s->sel->count - 1] : 0;
	j->ctx.saved = NULL;
	if (search_gather(s, j) != 0) {
		job_free(j);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	/* Flags, dates, sizes and numbers decide most messages on the loop;
	 * only those left open need their bytes, in the pool. */
	j->todo = j->n ? xmalloc(j->n * sizeof(*j->todo)) : NULL;
	for (uint32_t i = 0; i < j->n; i++) {
		struct imap_search_msg m;
		job_msg(j, &j->items[i], NULL, 0, &m);
		int rc = imap_search_match_record(prog, &j->ctx, &m);
		if (rc == IMAP_SEARCH_UNDECIDED)
			j->todo[j->ntodo++] = i;
		else
			j->match[i] = rc == 1;
	}
	if (j->ntodo == 0) {
		search_output(s, j);
		job_free(j);
		imap__ok(s, IMAP_CODE_NONE, "SEARCH completed");
		return;
	}
	j->s = s;
	j->work.data = j;
	s->op = j;
	s->op_release = search_release;
	imap__wait(s, IMAP_W_POOL);
	uv_queue_work(node_get()->loop, &j->work, search_work, search_after);
}
