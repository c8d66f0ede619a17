/*
 * condstore: CONDSTORE and QRESYNC (RFC 7162) for the session: what makes
 * a session CONDSTORE-aware (§3.1), the SELECT/EXAMINE parameters
 * CONDSTORE (§3.1.8) and QRESYNC (§3.2.5) and what QRESYNC reports at
 * selection (§3.2.5.1), the VANISHED response (§3.2.10), and the lookups
 * of what changed since a MODSEQ behind FETCH CHANGEDSINCE (§3.1.4.1) and
 * UID FETCH VANISHED (§3.2.6).
 *
 * Happy path: a client that resynchronises says what it knew
 * ("SELECT INBOX (QRESYNC (uidvalidity modseq known-uids))"); the view is
 * built as for any SELECT, then, in the same read transaction, the
 * expunge records above that MODSEQ give "* VANISHED (EARLIER) uids" and
 * the MODSEQ index above it gives one "* n FETCH (UID FLAGS MODSEQ)" per
 * changed message. Both are indexes ordered by (mailbox, MODSEQ): the work
 * is the number of changes, never the size of the mailbox.
 *
 * The store keeps the expunge records as long as the mailbox exists, so
 * VANISHED (EARLIER) is exact: the seq-match-data of §3.2.5.2, a hint for
 * servers that forget old expunges, is checked for syntax and not needed.
 *
 * Failure modes: parameters that are not RFC 7162 §7 syntax (a MODSEQ of
 * 0 or above 2^63-1, "*" in known-uids, a UIDVALIDITY of 0) and the
 * QRESYNC parameter without ENABLE QRESYNC are BAD (§3.2.3); a store
 * error while reporting is a NO from the caller.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"

/* RFC 7162 §7: mod-sequence-value is 1 .. 2^63-1. */
#define MODSEQ_MAX ((uint64_t)INT64_MAX)

struct u32vec {
	uint32_t *v;
	uint32_t n, cap;
};

static void
u32vec_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
imap__condstore_enable(struct imap_session *s)
{
	if (s->flags & IMAP_SF_CONDSTORE)
		return;
	s->flags |= IMAP_SF_CONDSTORE;
	/* Enabled with a mailbox selected: the client learns where it stands
	 * with this command's reply (view.c). */
	if (s->sel != NULL)
		s->flags |= IMAP_SF_HMS_DUE;
}

void
imap__vanished_write(struct imap_session *s, bool earlier, const uint32_t *uids, uint32_t n)
{
	struct nbuf line;
	uint32_t i = 0;
	nbuf_init(&line, IMAP_VANISHED_LINE_MAX + 64);
	while (i < n) {
		bool first = true;
		nbuf_reset(&line);
		nbuf_puts(&line, earlier ? "* VANISHED (EARLIER) " : "* VANISHED ");
		while (i < n && nbuf_avail(&line) < IMAP_VANISHED_LINE_MAX) {
			uint32_t lo = uids[i], hi = lo;
			while (i + 1 < n && uids[i + 1] <= hi + 1 && hi != UINT32_MAX)
				hi = MAX(hi, uids[++i]);
			i++;
			nbuf_printf(&line, lo == hi ? "%s%u" : "%s%u:%u", first ? "" : ",", lo, hi);
			first = false;
		}
		nbuf_puts(&line, "\r\n");
		imap__write(s, nbuf_head(&line), nbuf_avail(&line));
		if (imap__output_full(s))
			conn_flush(s->conn); /* the client reads; bounded by CONN_OUT_MAX */
	}
	nbuf_deinit(&line);
}

/* --- SELECT/EXAMINE parameters --------------------------------------- */

/* A sequence set without "*" (known-uids, seq-match-data: RFC 7162 §7). */
static int
set_no_star(struct imap_session *s, const struct imap_arg *arg, struct imap_seqset *set,
            const char **error_r)
{
	const char *str;
	if (!imap_arg_get_atom(arg, &str) ||
	    imap_seqset_parse(imap__arena(s), str, strlen(str), IMAP_SEQSET_RANGES_MAX, set,
	                      error_r) != 0) {
		*error_r = "Invalid QRESYNC UID set";
		return -1;
	}
	if (set->saved || imap_seqset_max(set) == IMAP_SEQ_STAR) {
		*error_r = "\"*\" and \"$\" are not allowed in QRESYNC UID sets";
		return -1;
	}
	return 0;
}

/* "(uidvalidity mod-sequence-value [known-uids] [seq-match-data])" */
static int
qresync_param(struct imap_session *s, const struct imap_arg *arg, struct imap_select_params *p,
              const char **error_r)
{
	const struct imap_arg *l;
	size_t n, i = 2;
	uint64_t uv;
	if (!imap_arg_get_list(arg, &l, &n) || n < 2 || n > 4) {
		*error_r = "QRESYNC takes (uidvalidity modseq [known-uids] [seq-match-data])";
		return -1;
	}
	if (!imap_arg_get_number(&l[0], UINT32_MAX, &uv) || uv == 0) {
		*error_r = "Invalid QRESYNC UIDVALIDITY";
		return -1;
	}
	if (!imap_arg_get_number(&l[1], MODSEQ_MAX, &p->modseq) || p->modseq == 0) {
		*error_r = "Invalid QRESYNC mod-sequence (1 to 9223372036854775807)";
		return -1;
	}
	p->uidvalidity = (uint32_t)uv;
	if (i < n && l[i].type == IMAP_ARG_ATOM) {
		if (set_no_star(s, &l[i], &p->known, error_r) != 0)
			return -1;
		p->has_known = true;
		i++;
	}
	if (i < n) {
		/* (known-sequence-set known-uid-set): checked, not needed. */
		const struct imap_arg *m;
		size_t mn;
		struct imap_seqset seqs, uids;
		if (!imap_arg_get_list(&l[i], &m, &mn) || mn != 2 ||
		    set_no_star(s, &m[0], &seqs, error_r) != 0 ||
		    set_no_star(s, &m[1], &uids, error_r) != 0) {
			*error_r = "Invalid QRESYNC sequence match data";
			return -1;
		}
		i++;
	}
	if (i != n) {
		*error_r = "Invalid QRESYNC parameter";
		return -1;
	}
	return 0;
}

int
imap__select_params(struct imap_session *s, const struct imap_arg *arg,
                    struct imap_select_params *p, const char **error_r)
{
	const struct imap_arg *l;
	size_t n;
	memset(p, 0, sizeof(*p));
	if (!imap_arg_get_list(arg, &l, &n) || n == 0) {
		*error_r = "Invalid SELECT parameters";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (imap_arg_atom_equals(&l[i], "CONDSTORE") && !p->condstore) {
			p->condstore = true;
		} else if (imap_arg_atom_equals(&l[i], "QRESYNC") && !p->qresync) {
			/* §3.2.3: only after ENABLE QRESYNC was answered ENABLED. */
			if (!(s->flags & IMAP_SF_QRESYNC)) {
				*error_r = "QRESYNC parameter without ENABLE QRESYNC";
				return -1;
			}
			if (i + 1 == n || qresync_param(s, &l[i + 1], p, error_r) != 0) {
				if (i + 1 == n)
					*error_r = "QRESYNC needs its arguments";
				return -1;
			}
			p->qresync = true;
			i++;
		} else {
			*error_r = "Unknown or repeated SELECT parameter";
			return -1;
		}
	}
	return 0;
}

/* --- changes since a MODSEQ ------------------------------------------ */

int64_t
imap__expunged_since(struct imap_session *s, struct store_txn *t, uint64_t since,
                     const struct imap_seqset *set, uint32_t **uids_r)
{
	struct store_changed_iter *ci;
	struct u32vec v = {0};
	uint32_t uid;
	uint64_t ms;
	int rc;
	*uids_r = NULL;
	if (store_changed_iter_open(t, s->sel->id, since, 1, &ci) != 0)
		return -1;
	while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1)
		if (set == NULL || imap_seqset_contains(set, uid))
			u32vec_push(&v, uid);
	store_changed_iter_close(&ci);
	if (rc < 0) {
		free(v.v);
		return -1;
	}
	/* In MODSEQ order from the index: sorted for the response. */
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), u32_cmp);
	*uids_r = v.v;
	return v.n;
}

static bool
seq_in(const uint32_t *v, uint32_t n, uint32_t x)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == x;
}

int
imap__changed_since(struct imap_session *s, struct store_txn *t, uint64_t since, uint32_t **seqs,
                    uint32_t *n)
{
	struct imap_mailbox *sel = s->sel;
	struct store_changed_iter *ci;
	struct u32vec v = {0};
	uint32_t uid;
	uint64_t ms;
	int rc;
	if (store_changed_iter_open(t, sel->id, since, 0, &ci) != 0)
		return -1;
	while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1) {
		if (uid >= sel->uidnext)
			continue; /* not in the view yet */
		uint32_t seq = imap__view_seq(s, uid);
		if (seq != 0 && seq_in(*seqs, *n, seq))
			u32vec_push(&v, seq);
	}
	store_changed_iter_close(&ci);
	if (rc < 0) {
		free(v.v);
		return -1;
	}
	/* A subset of *seqs: written over it, ascending. */
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), u32_cmp);
	if (v.n > 0)
		memcpy(*seqs, v.v, v.n * sizeof(*v.v));
	*n = v.n;
	free(v.v);
	return 0;
}

int
imap__qresync_report(struct imap_session *s, struct store_txn *t,
                     const struct imap_select_params *p, const struct cmd_str *names, size_t nnames)
{
	struct imap_mailbox *sel = s->sel;
	const struct imap_seqset *known = p->has_known ? &p->known : NULL;
	/* §3.2.5: another UIDVALIDITY: the client's cache is void, nothing
	 * of it can be brought up to date. */
	if (!p->qresync || p->uidvalidity != sel->uidvalidity || p->modseq >= sel->modseq_flags)
		return 0;
	uint32_t *gone;
	int64_t ng = imap__expunged_since(s, t, p->modseq, known, &gone);
	if (ng < 0)
		return -1;
	/* §3.2.6: VANISHED (EARLIER) before any FETCH. */
	if (ng > 0)
		imap__vanished_write(s, true, gone, (uint32_t)ng);
	free(gone);
	struct store_changed_iter *ci;
	struct u32vec v = {0};
	uint32_t uid;
	uint64_t ms;
	int rc;
	if (store_changed_iter_open(t, sel->id, p->modseq, 0, &ci) != 0)
		return -1;
	while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1)
		if (uid < sel->uidnext && (known == NULL || imap_seqset_contains(known, uid)))
			u32vec_push(&v, uid);
	store_changed_iter_close(&ci);
	if (rc < 0) {
		free(v.v);
		return -1;
	}
	if (v.n > 1)
		qsort(v.v, v.n, sizeof(*v.v), u32_cmp);
	struct nbuf line;
	nbuf_init(&line, 64 * 1024);
	for (uint32_t i = 0; i < v.n && rc >= 0; i++) {
		struct store_msg m;
		uint32_t seq = imap__view_seq(s, v.v[i]);
		if (seq == 0)
			continue;
		if ((rc = store_msg_get(t, sel->id, v.v[i], &m)) != 1)
			continue;
		imap__view_fetch_line(s, &line, seq, &m, names, nnames,
		                      IMAP_FL_FLAGS | IMAP_FL_UID | IMAP_FL_MODSEQ);
		if (imap__output_full(s))
			conn_flush(s->conn);
	}
	nbuf_deinit(&line);
	free(v.v);
	return rc < 0 ? -1 : 0;
}

void
imap__ok_expunged(struct imap_session *s, bool expunged, const char *text)
{
	/* §3.2.7, §3.2.9: the expunges first, then the MODSEQ they reached. */
	if (!expunged || !(s->flags & IMAP_SF_QRESYNC) || s->sel == NULL) {
		imap__ok(s, IMAP_CODE_NONE, "%s", text);
		return;
	}
	char code[48];
	imap__view_sync(s, IMAP_SYNC_EXPUNGE | (s->cmd && s->cmd->uid ? IMAP_SYNC_UID : 0), 0);
	snprintf(code, sizeof(code), "HIGHESTMODSEQ %llu",
	         (unsigned long long)imap__view_highestmodseq(s));
	imap__ok_code(s, code, "%s", text);
}

/* UID FETCH ... (CHANGEDSINCE n VANISHED): the UIDs of the set expunged
 * after n. "*" is taken as the highest UID the view knows of, so that
 * "1:*" covers the expunged messages above the last one left. */
int
imap__fetch_vanished(struct imap_session *s, struct store_txn *t, const struct imap_arg *arg,
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
