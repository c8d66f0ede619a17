/*
 * search_eval: evaluating a SEARCH program against one message (RFC 3501
 * §6.4.4; RFC 9051 §6.4.4; RFC 5182 "$"; RFC 5032 OLDER/YOUNGER; RFC 7162
 * MODSEQ; RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE; RFC 8474 EMAILID and
 * THREADID).
 *
 * Happy path: a walk of the program tree that short-circuits: an AND stops
 * at its first false child, an OR at its first true one. The parser put
 * the cheap keys first, so the header and body keys run only for messages
 * the record keys (flags, dates, sizes, numbers) left undecided: SEARCH
 * UNSEEN SUBJECT x reads the header of unseen messages only. The same
 * walk in three-valued logic (true, false, undecided) answers
 * imap_search_match_record() without any message bytes, and comes first
 * in imap_search_match() too: what the record decides reads nothing.
 *
 * Dates compare calendar days (RFC 3501 §6.4.4 "disregarding time and
 * timezone"): INTERNALDATE in UTC, which is how FETCH shows it (+0000);
 * the Date: header in the sender's own zone; the save date in UTC.
 * OLDER n holds when INTERNALDATE < now - n, YOUNGER n when it is >= now
 * - n (RFC 5032 §3), so the two partition the mailbox. A message without
 * a save date (none is stored: 0) matches no SAVED* key.
 *
 * "*" in a set means the mailbox's largest number; the program is shared
 * between threads, so it is resolved here per test instead of rewriting
 * the set: a range "n:*" holds v when v >= n, or when v is the largest
 * number (RFC 9051 §6.4.8: "559:*" always includes the last message).
 *
 * The recursion follows the program, whose depth the parser bounded by
 * IMAP_SEARCH_DEPTH_MAX.
 */
#include "protocols/imap/search_int.h"

#include <string.h>

#include "protocols/imap/fetch.h"

#include "node/lib/util.h"

#define SEARCH_UNKNOWN IMAP_SEARCH_UNDECIDED

static int
search_set_has(const struct imap_seqset *set, uint32_t v, uint32_t max)
{
	if (imap_seqset_contains(set, v))
		return 1;
	return set->count > 0 && set->ranges[set->count - 1].hi == IMAP_SEQ_STAR && v == max;
}

static int
search_keyword_has(const struct imap__search_node *n, const struct imap_search_msg *m)
{
	size_t len = strlen(n->str), nk = MIN(m->nkeywords, (size_t)64);
	for (size_t i = 0; i < nk; i++) {
		const struct cmd_str *k = &m->keywords[i];
		if (k->len == len && ascii_strncasecmp(k->p, n->str, len) == 0)
			return (int)((m->rec->keywords >> i) & 1);
	}
	return 0;
}

static int
search_cmp_day(int64_t day, const struct imap__search_node *n)
{
	return n->cmp < 0 ? day < n->day : n->cmp == 0 ? day == n->day : day >= n->day;
}

/* 1, 0, SEARCH_UNKNOWN (run NULL: a key that needs the message), or -1. */
static int
search_eval(const struct imap__search_node *n, const struct imap_search_ctx *ctx,
            const struct imap_search_msg *m, struct imap__search_run *run)
{
	const struct store_msg *rec = m->rec;
	int v, res;
	switch ((enum imap__search_op)n->op) {
	case SEARCH_OP_AND:
	case SEARCH_OP_OR:
		/* AND: 0 wins; OR: 1 wins */
		res = n->op == SEARCH_OP_AND;
		for (const struct imap__search_node *c = n->child; c != NULL; c = c->next) {
			v = search_eval(c, ctx, m, run);
			if (v < 0 || v == (n->op == SEARCH_OP_OR))
				return v;
			if (v == SEARCH_UNKNOWN)
				res = SEARCH_UNKNOWN;
		}
		return res;
	case SEARCH_OP_NOT:
		v = search_eval(n->child, ctx, m, run);
		return v == 0 || v == 1 ? !v : v;
	case SEARCH_OP_ALL:
		return 1;
	case SEARCH_OP_FLAGS:
		if ((rec->flags & n->flags_on) != n->flags_on || (rec->flags & n->flags_off) != 0)
			return 0;
		return n->recent < 0 || !!m->recent == n->recent;
	case SEARCH_OP_KEYWORD:
		return search_keyword_has(n, m) == n->want;
	case SEARCH_OP_SEQ:
		if (n->saved)
			return ctx->saved != NULL && imap_seqset_contains(ctx->saved, rec->uid);
		return search_set_has(&n->set, m->seq, ctx->max_seq);
	case SEARCH_OP_UID:
		if (n->saved)
			return ctx->saved != NULL && imap_seqset_contains(ctx->saved, rec->uid);
		return search_set_has(&n->set, rec->uid, ctx->max_uid);
	case SEARCH_OP_SIZE:
		return n->cmp > 0 ? rec->size > n->num : rec->size < n->num;
	case SEARCH_OP_DATE:
		return search_cmp_day(imap__search_day_of(rec->internaldate), n);
	case SEARCH_OP_SAVED:
		return rec->savedate != 0 && search_cmp_day(imap__search_day_of(rec->savedate), n);
	case SEARCH_OP_WITHIN:
		if (n->cmp < 0)
			return rec->internaldate < ctx->now - (int64_t)n->num;
		return rec->internaldate >= ctx->now - (int64_t)n->num;
	case SEARCH_OP_MODSEQ:
		return rec->modseq >= n->num;
	case SEARCH_OP_EMAILID: {
		char id[IMAP_EMAILID_LEN + 1];
		imap_fetch_emailid(rec->hash, id);
		return strcmp(id, n->str) == 0;
	}
	case SEARCH_OP_THREADID: {
		char id[IMAP_THREADID_LEN + 1];
		return imap_fetch_threadid(rec->thread_id, id) == 0 && strcmp(id, n->str) == 0;
	}
	case SEARCH_OP_SENT:
		return run ? imap__search_sent(run, n) : SEARCH_UNKNOWN;
	case SEARCH_OP_HEADER:
		return run ? imap__search_header(run, n) : SEARCH_UNKNOWN;
	case SEARCH_OP_BODY:
	case SEARCH_OP_TEXT:
		return run ? imap__search_text(run, n) : SEARCH_UNKNOWN;
	}
	return -1;
}

int
imap_search_match(const struct imap_search *s, const struct imap_search_ctx *ctx,
                  const struct imap_search_msg *m)
{
	struct imap__search_run run;
	/* what the record decides costs no reading at all */
	int v = search_eval(s->root, ctx, m, NULL);
	if (v != SEARCH_UNKNOWN)
		return v;
	imap__search_run_init(&run, m);
	v = search_eval(s->root, ctx, m, &run);
	imap__search_run_deinit(&run);
	return v == 0 || v == 1 ? v : -1;
}

int
imap_search_match_record(const struct imap_search *s, const struct imap_search_ctx *ctx,
                         const struct imap_search_msg *m)
{
	return search_eval(s->root, ctx, m, NULL);
}
