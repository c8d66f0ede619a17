/*
 * context: updating search contexts (RFC 5267 §4.3, CONTEXT=SEARCH): a
 * SEARCH or UID SEARCH with RETURN (UPDATE) keeps its result, and the
 * session tells the client how it changes as the mailbox does, with
 * unsolicited "* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set) ADDTO (0
 * set)", until CANCELUPDATE "t" or until the mailbox is deselected.
 *
 * Happy path: when the SEARCH answers, its matches (UIDs) and the
 * mailbox's HIGHESTMODSEQ of that moment are kept with a copy of the
 * program (parsed again into the context's own arena). At every report
 * of changes (view.c: every reply, and at once during IDLE) the messages
 * whose MODSEQ passed the context's are judged again on their records:
 * new ones and changed ones come in (ADDTO) or go out (REMOVEFROM) as
 * their answer changed. Expunges are removed just before the EXPUNGE (or
 * VANISHED) responses, while their sequence numbers still hold (§4.3.4);
 * additions come after EXISTS (§4.3.3). Positions are 0 (§4.3.3: a SEARCH
 * result is in mailbox order, the client places them).
 *
 * What is updated (the sensible subset, RFC 5267 §4.3.1 allows refusing
 * the rest): SEARCH programs that the message record decides — flags,
 * keywords, dates, sizes, UID sets, MODSEQ, SAVED*: no header or body
 * key, no sequence numbers or "*" (their meaning moves with the mailbox,
 * not with a message), no "$", no OLDER/YOUNGER (their answer changes
 * with the clock, not with the mailbox). Up to IMAP_CONTEXTS_MAX contexts
 * a session (RFC 5267 §4.3.1: at least one). Anything else, and SORT
 * with UPDATE, gets "* NO [NOUPDATE "tag"]" and the rest of its options
 * answered. A tag already used by an updating context is a BAD (§4.3).
 *
 * Memory: a context holds its program and its result (4 bytes a match),
 * freed with CANCELUPDATE or the view.
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/store/store.h"
#include "protocols/imap/search_run.h"

#define IMAP_CONTEXTS_MAX 8

struct imap_search_context {
	struct imap_search_context *next;
	char *tag;
	bool uid;
	struct arena arena; /* the program */
	const struct imap_search *prog;
	uint64_t modseq; /* changes up to here are in the result */
	uint32_t *uids;  /* the result, ascending */
	uint32_t n, cap;
};

static void
ctx_free(struct imap_search_context *c)
{
	arena_deinit(&c->arena);
	free(c->tag);
	free(c->uids);
	free(c);
}

void
imap__contexts_free(struct imap_mailbox *sel)
{
	while (sel->contexts != NULL) {
		struct imap_search_context *c = sel->contexts;
		sel->contexts = c->next;
		ctx_free(c);
	}
}

static struct imap_search_context *
ctx_find(const struct imap_session *s, const char *tag)
{
	for (struct imap_search_context *c = s->sel ? s->sel->contexts : NULL; c; c = c->next)
		if (strcmp(c->tag, tag) == 0)
			return c;
	return NULL;
}

int
imap__context_check(struct imap_session *s, const struct imap__search_req *req, const char **why_r)
{
	unsigned n = 0;
	if (ctx_find(s, s->cmd->tag) != NULL)
		return -1;
	for (struct imap_search_context *c = s->sel->contexts; c; c = c->next)
		n++;
	*why_r = NULL;
	if (req->kind != IMAP_SEARCH_K_SEARCH)
		*why_r = "Updates are provided for SEARCH only";
	else if (imap_search_needs(req->prog) &
	         (SEARCH_NEED_HEADER | SEARCH_NEED_BODY | SEARCH_NEED_SAVED | SEARCH_NEED_NOW |
	          SEARCH_NEED_SEQ))
		*why_r = "Updates are provided for searches on flags, dates, sizes and UIDs only";
	else if (n >= IMAP_CONTEXTS_MAX)
		*why_r = "Too many updating contexts";
	return 0;
}

void
imap__context_add(struct imap_session *s, const struct imap__search_req *req, uint64_t modseq,
                  const uint32_t *uids, size_t n)
{
	struct imap_search_context *c = xcalloc(1, sizeof(*c));
	const char *err, *code;
	struct imap_search *p;
	arena_init(&c->arena, 0);
	/* the program again, in memory of its own: the command's goes */
	if (imap_search_parse(&c->arena, req->args, req->argc, &p, &err, &code) != 0) {
		ctx_free(c);
		return;
	}
	c->prog = p;
	c->tag = xstrdup(s->cmd->tag);
	c->uid = s->cmd->uid;
	c->modseq = modseq;
	c->cap = c->n = (uint32_t)n;
	c->uids = n ? xmalloc(n * sizeof(*c->uids)) : NULL;
	if (n)
		memcpy(c->uids, uids, n * sizeof(*uids));
	c->next = s->sel->contexts;
	s->sel->contexts = c;
}

int
imap__context_cancel(struct imap_session *s, const char *tag)
{
	for (struct imap_search_context **pp = &s->sel->contexts; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->tag, tag) == 0) {
			struct imap_search_context *c = *pp;
			*pp = c->next;
			ctx_free(c);
			return 1;
		}
	}
	return 0;
}

/* --- keeping results ---------------------------------------------------- */

static int
ctx_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t
ctx_lower(const struct imap_search_context *c, uint32_t uid)
{
	uint32_t lo = 0, hi = c->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (c->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
ctx_has(const struct imap_search_context *c, uint32_t uid)
{
	uint32_t i = ctx_lower(c, uid);
	return i < c->n && c->uids[i] == uid;
}

static void
ctx_put(struct imap_search_context *c, uint32_t uid, bool in)
{
	uint32_t i = ctx_lower(c, uid);
	bool there = i < c->n && c->uids[i] == uid;
	if (in == there)
		return;
	if (!in) {
		memmove(c->uids + i, c->uids + i + 1, (c->n - i - 1) * sizeof(*c->uids));
		c->n--;
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->uids = xrealloc(c->uids, c->cap * sizeof(*c->uids));
	}
	memmove(c->uids + i + 1, c->uids + i, (c->n - i) * sizeof(*c->uids));
	c->uids[i] = uid;
	c->n++;
}

/* "* ESEARCH (TAG "t") [UID] [REMOVEFROM (0 set)] [ADDTO (0 set)]" of
 * UIDs (ascending), shown as sequence numbers for a SEARCH context. */
static void
ctx_report(struct imap_session *s, const struct imap_search_context *c, const uint32_t *gone,
           size_t ngone, const uint32_t *added, size_t nadded)
{
	struct nbuf line;
	uint32_t *v = xmalloc((MAX(ngone, nadded) + 1) * sizeof(*v));
	nbuf_init(&line, (size_t)64 << 20);
	nbuf_printf(&line, "* ESEARCH (TAG \"%s\")%s", c->tag, c->uid ? " UID" : "");
	for (int k = 0; k < 2; k++) {
		const uint32_t *u = k == 0 ? gone : added;
		size_t n = k == 0 ? ngone : nadded, m = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t x = c->uid ? u[i] : imap__view_seq(s, u[i]);
			if (x != 0)
				v[m++] = x;
		}
		if (m == 0)
			continue;
		nbuf_puts(&line, k == 0 ? " REMOVEFROM (0 " : " ADDTO (0 ");
		imap_seqset_format_values(v, m, &line);
		nbuf_puts(&line, ")");
	}
	nbuf_puts(&line, "\r\n");
	imap__write(s, nbuf_head(&line), nbuf_avail(&line));
	nbuf_deinit(&line);
	free(v);
}

void
imap__contexts_expunge(struct imap_session *s, const uint32_t *uids, uint32_t n)
{
	for (struct imap_search_context *c = s->sel->contexts; c; c = c->next) {
		uint32_t *gone = NULL;
		size_t k = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!ctx_has(c, uids[i]))
				continue;
			if (gone == NULL)
				gone = xmalloc(n * sizeof(*gone));
			gone[k++] = uids[i];
		}
		if (k == 0)
			continue;
		/* while the sequence numbers still hold (§4.3.4) */
		ctx_report(s, c, gone, k, NULL, 0);
		for (size_t i = 0; i < k; i++)
			ctx_put(c, gone[i], false);
		free(gone);
	}
}

void
imap__contexts_sync(struct imap_session *s, struct store_txn *t, uint64_t highestmodseq)
{
	struct imap_mailbox *sel = s->sel;
	if (sel->contexts == NULL || imap__view_load(s) != 0)
		return;
	struct cmd_str names[CMD_KEYWORDS_MAX];
	int nk = store_keywords_get(t, sel->id, names, CMD_KEYWORDS_MAX);
	struct imap_search_ctx sc = {
	        .max_seq = sel->count,
	        .max_uid = sel->count ? sel->uids[sel->count - 1] : 0,
	};
	for (struct imap_search_context *c = sel->contexts; c; c = c->next) {
		if (c->modseq >= highestmodseq)
			continue;
		/* the messages whose MODSEQ passed the context's: new or changed */
		struct store_changed_iter *ci;
		uint32_t uid, *add = NULL, *del = NULL;
		size_t nadd = 0, ndel = 0, cap = 0;
		uint64_t ms;
		if (store_changed_iter_open(t, sel->id, c->modseq, 0, &ci) != 0)
			continue;
		while (store_changed_iter_next(ci, &uid, &ms) == 1) {
			struct store_msg m;
			uint32_t seq = uid < sel->uidnext ? imap__view_seq(s, uid) : 0;
			if (seq == 0 || store_msg_get(t, sel->id, uid, &m) != 1)
				continue; /* not in the view yet, or expunged: reported then */
			struct imap_search_msg sm = {.seq = seq,
			                             .rec = &m,
			                             .keywords = names,
			                             .nkeywords = nk > 0 ? (size_t)nk : 0,
			                             .recent = imap__view_recent(s, uid)};
			bool in = imap_search_match_record(c->prog, &sc, &sm) == 1;
			if (in == ctx_has(c, uid))
				continue;
			if (nadd + ndel == cap) {
				cap = cap ? cap * 2 : 16;
				add = xrealloc(add, cap * sizeof(*add));
				del = xrealloc(del, cap * sizeof(*del));
			}
			if (in)
				add[nadd++] = uid;
			else
				del[ndel++] = uid;
		}
		store_changed_iter_close(&ci);
		c->modseq = highestmodseq;
		if (nadd + ndel > 0) {
			/* MODSEQ order: sort each list for the set syntax */
			qsort(add, nadd, sizeof(*add), ctx_u32_cmp);
			qsort(del, ndel, sizeof(*del), ctx_u32_cmp);
			ctx_report(s, c, del, ndel, add, nadd);
			for (size_t i = 0; i < ndel; i++)
				ctx_put(c, del[i], false);
			for (size_t i = 0; i < nadd; i++)
				ctx_put(c, add[i], true);
		}
		free(add);
		free(del);
	}
}

/* CANCELUPDATE "tag" ... (RFC 5267 §4.3.5) */
void
imap__cmd_cancelupdate(struct imap_session *s, const struct imap_cmd *cmd)
{
	const char *tag;
	size_t len;
	if (cmd->argc == 0)
		goto err;
	for (size_t i = 0; i < cmd->argc; i++)
		if (cmd->args[i].type != IMAP_ARG_QUOTED ||
		    !imap_arg_get_string(&cmd->args[i], &tag, &len))
			goto err;
	for (size_t i = 0; i < cmd->argc; i++) {
		(void)imap_arg_get_string(&cmd->args[i], &tag, &len);
		(void)imap__context_cancel(s, tag);
	}
	imap__ok(s, IMAP_CODE_NONE, "CANCELUPDATE completed");
	return;
err:
	imap__bad(s, "CANCELUPDATE needs one or more quoted tags");
}
