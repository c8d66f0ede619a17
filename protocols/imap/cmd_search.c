/*
 * cmd_search: SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8, §7.2.5)
 * with ESEARCH (RFC 4731), SEARCHRES (RFC 5182), CONTEXT=SEARCH's
 * PARTIAL (RFC 5267 §4.4) and the MODSEQ key (RFC 7162 §3.1.5), and the
 * runner that SORT and THREAD (cmd_sort.c, cmd_thread.c) share: the
 * session's side of the SEARCH engine (search.h) and of the SORT and
 * THREAD engine (sort.h); the keys of SORT and THREAD come from
 * cmd_sort.c (imap__sort_keys_load).
 *
 * Happy path: the program is parsed once; the session's view is walked
 * beside the store's records in one read transaction (the records of
 * messages expunged meanwhile are gone: they do not match). Every message
 * is first judged on its record alone on the loop (flags, dates, sizes,
 * numbers, MODSEQ: imap_search_match_record). A plain SEARCH that the
 * records decide is answered there. Otherwise a job goes to the thread
 * pool (uv_queue_work), which maps the bodies the records left open and
 * evaluates them, then for SORT and THREAD gets every match's keys from
 * its cached MIME tree (mime_tree_summary: one lookup in the bodies
 * table, no file read, no tree built; a message without a tree, or whose
 * version 1 tree lacks References when THREAD=REFERENCES needs them, has
 * its header read from the file and parsed), sorts or threads, and writes
 * the untagged response into a buffer. The loop writes it, installs the
 * saved result and answers. The session waits meanwhile, its input
 * paused.
 *
 * The saved result ("$", RFC 5182 §2.1) is the selected mailbox's set of
 * UIDs (imap_mailbox.saved): SAVE replaces it once the command succeeded;
 * a SEARCH or SORT with SAVE that ends in NO empties it; BAD and commands
 * without SAVE leave it; SELECT, EXAMINE, CLOSE and UNSELECT drop it with
 * the view. Expunged messages fall out by themselves: they have no
 * sequence number any more. The pool gets a copy.
 *
 * Failure modes: syntax, nesting and key limits -> BAD (the engine's
 * IMAP_SEARCH_DEPTH_MAX, the parser's depth); an unknown charset -> NO
 * [BADCHARSET]; keys beyond IMAP_SORT_MEMORY_MAX -> NO [LIMIT]. A session
 * that closes while its job runs detaches it: the job finishes and frees
 * itself with the parser memory its program lives in. No EXPUNGE is sent
 * during SEARCH, SORT or THREAD (§7.4.1).
 * RETURN (UPDATE) keeps an updating context (context.c) when the program
 * is one that can be kept up to date, else it is refused with "* NO
 * [NOUPDATE ...]" and the other options are answered (RFC 5267 §4.3.1);
 * CONTEXT is accepted as the hint it is (§4.2).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/node.h"
#include "node/store/store.h"
#include "protocols/imap/search_run.h"

/* Memory for the keys of one SORT or THREAD (strings included). */
#define IMAP_SORT_MEMORY_MAX ((size_t)256 << 20)
/* The untagged response of one command. */
#define IMAP_SEARCH_OUT_MAX ((size_t)64 << 20)

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
	struct imap__search_req req;
	struct imap_search_ctx ctx;
	struct imap_seqset *saved; /* a copy of "$" for the pool (heap) */
	const char *tag;           /* the command's, in the parser */
	struct cmd_str kw[CMD_KEYWORDS_MAX];
	size_t nkw;
	char *kwbuf;
	struct search_item *items;
	uint32_t n;
	uint8_t *match; /* per item: 1 matches, 0 not, UNDECIDED until the pool */
	uint32_t *todo; /* items the record alone does not decide */
	uint32_t ntodo;
	bool uid;
	/* the answer, built where the work ends (pool or loop) */
	struct nbuf out; /* untagged response lines */
	uint32_t *save;  /* UIDs to save (SAVE), heap */
	size_t nsave;
	bool do_save;
	bool update;           /* RETURN (UPDATE) will be kept (context.c) */
	uint64_t modseq;       /* the mailbox's HIGHESTMODSEQ when gathered */
	int status;            /* 0, or -ENOMEM (LIMIT), -EIO */
	uint32_t header_reads; /* messages whose header came from the file */
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
	free(j->saved);
	free(j->save);
	nbuf_deinit(&j->out);
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

/* --- the saved result (RFC 5182) ------------------------------------- */

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A heap set (one block) of n values; v is sorted in place. */
static struct imap_seqset *
saved_make(uint32_t *v, size_t n)
{
	size_t nr = 0;
	if (n == 0)
		return NULL;
	qsort(v, n, sizeof(*v), u32_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || v[i] > v[i - 1] + 1)
			nr++;
	struct imap_seqset *set = xmalloc(sizeof(*set) + nr * sizeof(*set->ranges));
	set->ranges = (struct imap_seq_range *)(set + 1);
	set->count = 0;
	set->saved = false;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && v[i] <= v[i - 1] + 1) {
			set->ranges[set->count - 1].hi = v[i];
			continue;
		}
		set->ranges[set->count++] = (struct imap_seq_range){v[i], v[i]};
	}
	return set;
}

static struct imap_seqset *
saved_copy(const struct imap_seqset *s)
{
	if (s == NULL || s->count == 0)
		return NULL;
	struct imap_seqset *c = xmalloc(sizeof(*c) + s->count * sizeof(*c->ranges));
	c->ranges = (struct imap_seq_range *)(c + 1);
	c->count = s->count;
	c->saved = false;
	memcpy(c->ranges, s->ranges, s->count * sizeof(*c->ranges));
	return c;
}

void
imap__saved_set(struct imap_session *s, const uint32_t *uids, size_t n)
{
	if (s->sel == NULL)
		return;
	uint32_t *v = n ? xmalloc(n * sizeof(*v)) : NULL;
	if (n)
		memcpy(v, uids, n * sizeof(*v));
	free(s->sel->saved);
	s->sel->saved = saved_make(v, n);
	free(v);
}

/* --- the answer ------------------------------------------------------ */

/* The matches' positions in mailbox order (heap), or NULL for none. */
static uint32_t *
search_matches(const struct search_job *j, size_t *n_r)
{
	size_t n = 0;
	for (uint32_t i = 0; i < j->n; i++)
		n += j->match[i] == 1;
	*n_r = n;
	if (n == 0)
		return NULL;
	uint32_t *v = xmalloc(n * sizeof(*v));
	n = 0;
	for (uint32_t i = 0; i < j->n; i++)
		if (j->match[i] == 1)
			v[n++] = i;
	return v;
}

/* SEARCH and SORT: the response of the RETURN options, and what SAVE
 * keeps, from the matches in result order (item indexes). */
static void
search_answer(struct search_job *j, const uint32_t *idx, size_t n, const char *name, bool sorted)
{
	uint32_t *vals = n ? xmalloc(n * sizeof(*vals)) : NULL;
	uint64_t *ms = n ? xmalloc(n * sizeof(*ms)) : NULL;
	for (size_t i = 0; i < n; i++) {
		const struct search_item *it = &j->items[idx[i]];
		vals[i] = j->uid ? it->rec.uid : it->seq;
		ms[i] = it->rec.modseq;
	}
	struct imap_search_result res = {
	        .vals = vals,
	        .modseqs = ms,
	        .n = n,
	        .sorted = sorted,
	        .uid = j->uid,
	        .with_modseq = (imap_search_needs(j->req.prog) & SEARCH_NEED_MODSEQ) != 0,
	};
	if (imap_search_ret_responds(&j->req.ret)) {
		nbuf_puts(&j->out, "* ");
		if (imap_search_ret_write(&j->req.ret, j->tag, name, &res, &j->out) != 0 ||
		    nbuf_puts(&j->out, "\r\n") != 0)
			j->status = -ENOMEM;
	}
	if (j->req.ret.opts & SEARCH_RET_SAVE) {
		size_t pos[2], k = imap_search_ret_saved(&j->req.ret, &res, pos);
		j->do_save = true;
		if (k == SIZE_MAX) {
			j->save = n ? xmalloc(n * sizeof(*j->save)) : NULL;
			for (size_t i = 0; i < n; i++)
				j->save[i] = j->items[idx[i]].rec.uid;
			j->nsave = n;
		} else {
			j->save = k ? xmalloc(k * sizeof(*j->save)) : NULL;
			for (size_t i = 0; i < k; i++)
				j->save[i] = j->items[idx[pos[i]]].rec.uid;
			j->nsave = k;
		}
	}
	free(vals);
	free(ms);
}

/* SORT and THREAD from the matches (in the pool). */
static void
search_sort_thread(struct search_job *j, const uint32_t *idx, size_t n)
{
	struct arena a;
	arena_init(&a, IMAP_SORT_MEMORY_MAX);
	struct imap_sort_msg *msgs = n ? calloc(n, sizeof(*msgs)) : NULL;
	if (n > 0 && msgs == NULL) {
		j->status = -ENOMEM;
		arena_deinit(&a);
		return;
	}
	unsigned needs = j->req.kind == IMAP_SEARCH_K_SORT ? j->req.sort.needs
	                                                   : imap_thread_needs(j->req.alg);
	for (size_t i = 0; i < n; i++) {
		const struct search_item *it = &j->items[idx[i]];
		msgs[i].seq = it->seq;
		msgs[i].id = j->uid ? it->rec.uid : it->seq;
		msgs[i].modseq = it->rec.modseq;
		msgs[i].size = it->rec.size;
		msgs[i].arrival = it->rec.internaldate;
	}
	int rc = imap__sort_keys_load(j->st, needs, j->items, sizeof(*j->items),
	                              offsetof(struct search_item, rec), idx, n, &a, msgs,
	                              &j->header_reads);
	if (rc != 0) {
		j->status = rc;
	} else if (j->req.kind == IMAP_SEARCH_K_SORT) {
		uint32_t *order = n ? xmalloc(n * sizeof(*order)) : NULL;
		uint32_t *sidx = n ? xmalloc(n * sizeof(*sidx)) : NULL;
		imap_sort_run(&j->req.sort, msgs, n, order);
		for (size_t i = 0; i < n; i++)
			sidx[i] = idx[order[i]];
		search_answer(j, sidx, n, "SORT", true);
		free(order);
		free(sidx);
	} else {
		nbuf_puts(&j->out, "* THREAD");
		if (n > 0 && (nbuf_puts(&j->out, " ") != 0 ||
		              imap_thread_run(j->req.alg, msgs, n, &j->out) != 0))
			j->status = -ENOMEM;
		else if (nbuf_puts(&j->out, "\r\n") != 0)
			j->status = -ENOMEM;
	}
	free(msgs);
	arena_deinit(&a);
}

/* Everything after the matches are known: pool or loop. */
static void
search_finish(struct search_job *j)
{
	size_t n;
	uint32_t *idx = search_matches(j, &n);
	if (j->req.kind == IMAP_SEARCH_K_SEARCH)
		search_answer(j, idx, n, "SEARCH", false);
	else
		search_sort_thread(j, idx, n);
	free(idx);
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

/* In the pool: map each body left open and evaluate, then the answer. */
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
		j->match[i] = imap_search_match(j->req.prog, &j->ctx, &m) == 1;
		if (len)
			munmap(p, len);
	}
	search_finish(j);
}

/* On the loop: write the answer, keep the saved result, reply. */
static void
search_reply(struct imap_session *s, struct search_job *j)
{
	const char *what = j->req.kind == IMAP_SEARCH_K_SORT     ? "SORT"
	                   : j->req.kind == IMAP_SEARCH_K_THREAD ? "THREAD"
	                                                         : "SEARCH";
	if (j->status != 0) {
		int status = j->status;
		if (j->req.ret.opts & SEARCH_RET_SAVE)
			imap__saved_set(s, NULL, 0);
		log_warn("imap", "event=search-failed user=%s command=%s error=\"%s\"", s->user,
		         what, strerror(-status));
		job_free(j);
		if (status == -EIO)
			imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		else
			imap__no(s, IMAP_CODE_LIMIT, "%s result too large", what);
		return;
	}
	imap__write(s, nbuf_head(&j->out), nbuf_avail(&j->out));
	if (j->do_save)
		imap__saved_set(s, j->save, j->nsave);
	if (j->update) {
		size_t n;
		uint32_t *idx = search_matches(j, &n);
		for (size_t i = 0; i < n; i++)
			idx[i] = j->items[idx[i]].rec.uid;
		imap__context_add(s, &j->req, j->modseq, idx, n);
		free(idx);
	}
	if (j->header_reads > 0)
		log_debug("imap", "event=sort-header-reads user=%s count=%u", s->user,
		          j->header_reads);
	job_free(j);
	imap__ok(s, IMAP_CODE_NONE, "%s completed", what);
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
		if (j->req.ret.opts & SEARCH_RET_SAVE)
			imap__saved_set(s, NULL, 0);
		job_free(j);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Search cancelled");
		return;
	}
	search_reply(s, j);
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
	struct store_mailbox mb;
	if (store_mailbox_by_id(t, sel->id, &mb) == 1)
		j->modseq = mb.highestmodseq;
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
imap__search_run(struct imap_session *s, const struct imap__search_req *req)
{
	const struct imap_cmd *cmd = s->cmd;
	const struct imap_search *prog = req->prog;
	if (imap_search_needs(prog) & SEARCH_NEED_MODSEQ)
		imap__condstore_enable(s); /* RFC 7162 §3.1: an enabling command */
	bool update = false;
	if (req->ret.opts & SEARCH_RET_UPDATE) {
		const char *why;
		if (imap__context_check(s, req, &why) != 0) {
			imap__bad(s, "Tag reuse: %s is an updating context already", cmd->tag);
			return;
		}
		if (why != NULL)
			imap__untagged(s, "NO [NOUPDATE \"%s\"] %s", cmd->tag, why);
		update = why == NULL;
	}
	if (imap__view_load(s) != 0) {
		if (req->ret.opts & SEARCH_RET_SAVE)
			imap__saved_set(s, NULL, 0);
		imap__no(s, IMAP_CODE_UNAVAILABLE, "Cannot read the mailbox now");
		return;
	}
	struct search_job *j = xcalloc(1, sizeof(*j));
	j->req = *req;
	j->update = update;
	j->st = imap__store();
	j->uid = cmd->uid;
	j->tag = cmd->tag;
	nbuf_init(&j->out, IMAP_SEARCH_OUT_MAX);
	j->ctx.max_seq = s->sel->count;
	j->ctx.max_uid = s->sel->count ? s->sel->uids[s->sel->count - 1] : 0;
	j->saved = saved_copy(s->sel->saved);
	j->ctx.saved = j->saved;
	j->ctx.now = (int64_t)time(NULL);
	if (search_gather(s, j) != 0) {
		if (req->ret.opts & SEARCH_RET_SAVE)
			imap__saved_set(s, NULL, 0);
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
	if (j->ntodo == 0 && req->kind == IMAP_SEARCH_K_SEARCH) {
		search_finish(j);
		search_reply(s, j);
		return;
	}
	j->s = s;
	j->work.data = j;
	s->op = j;
	s->op_release = search_release;
	imap__wait(s, IMAP_W_POOL);
	uv_queue_work(node_get()->loop, &j->work, search_work, search_after);
}

int
imap__search_program(struct imap_session *s, const struct imap_arg *args, size_t argc,
                     bool charset_required, const struct imap_search_ret *ret,
                     const struct imap_search **prog_r)
{
	const char *err = "Invalid search arguments", *code = NULL;
	struct imap_search *p;
	if (charset_required) {
		if (argc == 0 || args[0].type == IMAP_ARG_EOL) {
			imap__bad(s, "Missing charset");
			return -1;
		}
		if (imap_search_charset(&args[0], &err, &code) != 0)
			goto err;
		args++;
		argc--;
	}
	/* RFC 6855 §3: SEARCH takes no CHARSET once UTF8=ACCEPT is on (SORT
	 * and THREAD must name one); RFC 9051: no \Recent keys */
	unsigned flags =
	        ((s->flags & IMAP_SF_UTF8ACCEPT) && !charset_required ? IMAP_SEARCH_UTF8 : 0) |
	        ((s->flags & IMAP_SF_REV2) ? IMAP_SEARCH_REV2 : 0);
	if (imap_search_parse_flags(imap__arena(s), args, argc, flags, &p, &err, &code) != 0)
		goto err;
	*prog_r = p;
	return 0;
err:
	if (code != NULL) {
		/* RFC 5182 §2.1: a SAVE that ends in NO empties "$" */
		if (ret != NULL && (ret->opts & SEARCH_RET_SAVE))
			imap__saved_set(s, NULL, 0);
		imap__no_code(s, code, "%s", err ? err : "Unsupported charset");
		return -1;
	}
	imap__bad(s, "%s", err ? err : "Invalid search arguments");
	return -1;
}

void
imap__cmd_search(struct imap_session *s, const struct imap_cmd *cmd)
{
	struct imap__search_req req = {.kind = IMAP_SEARCH_K_SEARCH};
	const char *err = NULL;
	int k = imap_search_ret_parse(cmd->args, cmd->argc, &req.ret, &err);
	if (k < 0) {
		imap__bad(s, "%s", err);
		return;
	}
	/* RFC 9051 §6.4.4, §7.3.4: IMAP4rev2 answers SEARCH with ESEARCH, ALL
	 * when no RETURN was given (the SEARCH response is IMAP4rev1's). */
	if ((s->flags & IMAP_SF_REV2) && !req.ret.esearch) {
		req.ret.esearch = 1;
		req.ret.opts = SEARCH_RET_ALL;
	}
	if (imap__search_program(s, cmd->args + k, cmd->argc - (size_t)k, false, &req.ret,
	                         &req.prog) != 0)
		return;
	req.args = cmd->args + k;
	req.argc = cmd->argc - (size_t)k;
	imap__search_run(s, &req);
}
