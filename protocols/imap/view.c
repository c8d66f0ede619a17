/*
 * view: the selected mailbox as the session has told the client about it
 * (RFC 3501 §2.3.1.2 sequence numbers, §5.2 mailbox size and message
 * status updates, §7.3.1 EXISTS, §7.4.1 EXPUNGE, §7.4.2 unsolicited FETCH).
 *
 * The view is the sorted array of the UIDs the client knows, seq - 1 its
 * index. Its invariant makes it cheap to keep: the view holds exactly the
 * messages with UID < uidnext that the store has, plus those expunged in
 * the store after modseq_exp (expunges not reported yet). So it can be
 * released while the session idles (IDLE on a big mailbox costs a few
 * words) and rebuilt from the store when a change needs sequence numbers.
 *
 * Happy path: every commit that touches the mailbox (on any node: the
 * store notifies after its apply) sets IMAP_SF_CHANGED; the next reply
 * (or at once during IDLE) reads in one read transaction what changed
 * since the session's MODSEQs: expunges from the expunged index, new
 * messages above uidnext, flag changes from the MODSEQ index; and reports
 * them in that order, each with the sequence numbers valid at that point.
 * Expunges wait while FETCH, STORE or SEARCH run (and their UID forms):
 * sequence numbers stay what the client thinks until a command that may
 * shift them. With CONDSTORE (RFC 7162) every FETCH a change causes
 * carries MODSEQ, with QRESYNC also UID, and expunges are one "* VANISHED
 * uids" instead of EXPUNGEs (§3.2.10.2); while one is held back, the
 * reply says "* OK [HIGHESTMODSEQ n]" with n below it (§3.2), so that a
 * client resynchronising from n later learns of it.
 *
 * Failure modes: the mailbox deleted (or recreated: another UIDVALIDITY)
 * under the session ends it with "* BYE" (RFC 3501 §7.1.5); a store read
 * that fails leaves the change pending for the next reply.
 */
#include <stdlib.h>
#include <string.h>

#include "node/lib/log.h"
#include "node/lib/util.h"
#include "node/net/conn.h"
#include "node/store/store.h"
#include "protocols/imap/imap_private.h"

static void view_watch_cb(void *arg, const struct store_change *ch);

static void
view_push(struct imap_mailbox *sel, uint32_t uid)
{
	if (sel->count == sel->cap) {
		sel->cap = sel->cap ? sel->cap * 2 : 64;
		sel->uids = xrealloc(sel->uids, sel->cap * sizeof(*sel->uids));
	}
	sel->uids[sel->count++] = uid;
}

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* First index whose UID >= uid. */
static uint32_t
view_lower(const struct imap_mailbox *sel, uint32_t uid)
{
	uint32_t lo = 0, hi = sel->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (sel->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First index whose UID > uid. */
static uint32_t
view_upper(const struct imap_mailbox *sel, uint32_t uid)
{
	return uid == UINT32_MAX ? sel->count : view_lower(sel, uid + 1);
}

uint32_t
imap__view_seq(const struct imap_session *s, uint32_t uid)
{
	const struct imap_mailbox *sel = s->sel;
	uint32_t i = view_lower(sel, uid);
	return i < sel->count && sel->uids[i] == uid ? i + 1 : 0;
}

int
imap__view_recent(const struct imap_session *s, uint32_t uid)
{
	return uid >= s->sel->recent_lo && uid < s->sel->recent_hi;
}

uint32_t
imap__view_recent_count(const struct imap_session *s)
{
	return s->sel->nrecent;
}

int
imap__view_open(struct imap_session *s, struct store_txn *t, const struct store_mailbox *m,
                bool readonly, uint32_t recent_lo, uint32_t recent_hi, uint32_t *unseen_r)
{
	struct imap_mailbox *sel = xcalloc(1, sizeof(*sel));
	sel->id = m->id;
	sel->uidvalidity = m->uidvalidity;
	sel->uidnext = m->uidnext;
	sel->modseq_flags = sel->modseq_exp = m->highestmodseq;
	sel->recent_lo = recent_lo;
	sel->recent_hi = recent_hi;
	sel->readonly = readonly;
	sel->name = xstrdup(m->name);
	*unseen_r = 0;
	struct store_msg_iter *it;
	struct store_msg msg;
	int rc = m->uidnext > 1 ? store_msg_iter_open(t, m->id, 1, m->uidnext - 1, &it) : 0;
	if (rc != 0) {
		free(sel->name);
		free(sel);
		return -1;
	}
	if (m->uidnext > 1) {
		while ((rc = store_msg_iter_next(it, &msg)) == 1) {
			view_push(sel, msg.uid);
			if (*unseen_r == 0 && !(msg.flags & MSG_SEEN))
				*unseen_r = sel->count;
			if (msg.uid >= recent_lo && msg.uid < recent_hi)
				sel->nrecent++;
		}
		store_msg_iter_close(&it);
		if (rc < 0) {
			free(sel->uids);
			free(sel->name);
			free(sel);
			return -1;
		}
	}
	s->sel = sel;
	s->state = IMAP_S_SELECTED;
	s->flags &= ~(uint32_t)(IMAP_SF_CHANGED | IMAP_SF_HMS_DUE);
	sel->watch = store_watch_add(imap__store(), s->user_id, m->id, view_watch_cb, s);
	return 0;
}

void
imap__view_close(struct imap_session *s)
{
	struct imap_mailbox *sel = s->sel;
	if (sel == NULL)
		return;
	store_watch_del(imap__store(), &sel->watch);
	free(sel->uids);
	free(sel->name);
	free(sel->saved); /* RFC 5182 §2.1: "$" does not outlive the selection */
	imap__contexts_free(sel);
	free(sel);
	s->sel = NULL;
	if (s->state == IMAP_S_SELECTED)
		s->state = IMAP_S_AUTH;
}

void
imap__view_release(struct imap_session *s)
{
	struct imap_mailbox *sel = s->sel;
	if (sel == NULL || sel->uids == NULL)
		return;
	free(sel->uids);
	sel->uids = NULL;
	sel->cap = 0;
}

int
imap__view_load(struct imap_session *s)
{
	struct imap_mailbox *sel = s->sel;
	if (sel->uids != NULL || sel->count == 0) {
		return 0;
	}
	struct store_txn *t;
	if (store_read_begin(imap__store(), &t) != 0)
		return -1;
	uint32_t want = sel->count;
	sel->count = 0;
	sel->cap = 0;
	int rc = 0;
	if (sel->uidnext > 1) {
		struct store_msg_iter *it;
		struct store_msg msg;
		if ((rc = store_msg_iter_open(t, sel->id, 1, sel->uidnext - 1, &it)) == 0) {
			while ((rc = store_msg_iter_next(it, &msg)) == 1)
				view_push(sel, msg.uid);
			store_msg_iter_close(&it);
		}
	}
	/* Expunged since the last report: still in the client's view. */
	struct store_changed_iter *ci;
	uint32_t *gone = NULL, ngone = 0, capgone = 0;
	if (rc >= 0 && (rc = store_changed_iter_open(t, sel->id, sel->modseq_exp, 1, &ci)) == 0) {
		uint32_t uid;
		uint64_t ms;
		while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1) {
			if (uid >= sel->uidnext)
				continue;
			if (ngone == capgone) {
				capgone = capgone ? capgone * 2 : 16;
				gone = xrealloc(gone, capgone * sizeof(*gone));
			}
			gone[ngone++] = uid;
		}
		store_changed_iter_close(&ci);
	}
	store_read_end(&t);
	if (ngone > 0) {
		for (uint32_t i = 0; i < ngone; i++)
			view_push(sel, gone[i]);
		qsort(sel->uids, sel->count, sizeof(*sel->uids), u32_cmp);
	}
	free(gone);
	if (rc < 0) {
		free(sel->uids);
		sel->uids = NULL;
		sel->count = want;
		return -1;
	}
	if (sel->count != want)
		log_warn("imap", "event=view-mismatch user=%s mailbox=%u expected=%u found=%u",
		         s->user, sel->id, want, sel->count);
	return 0;
}

/* --- synchronisation ------------------------------------------------- */

struct u32vec {
	uint32_t *v;
	uint32_t n, cap;
};

static void
u32vec_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = x;
}

/* "* n EXPUNGE" for the UIDs in gone (sorted), highest first so that each
 * number is right when the client reads it; with QRESYNC enabled one
 * "* VANISHED uids" instead (RFC 7162 §3.2.10.2), of the UIDs the client
 * was told about only. */
static void
sync_expunges(struct imap_session *s, struct u32vec *gone)
{
	struct imap_mailbox *sel = s->sel;
	bool vanished = (s->flags & IMAP_SF_QRESYNC) != 0;
	uint32_t removed = 0;
	for (uint32_t i = gone->n; i-- > 0;) {
		uint32_t seq = imap__view_seq(s, gone->v[i]);
		if (seq == 0) {
			gone->v[i] = 0; /* never in the view: not reported */
			continue;
		}
		if (!vanished)
			imap__untagged(s, "%u EXPUNGE", seq);
		/* Marked with a UID mailnode never assigns; highest first, so
		 * the array stays sorted for the searches still to come. */
		sel->uids[seq - 1] = UINT32_MAX;
		if (imap__view_recent(s, gone->v[i]) && sel->nrecent > 0)
			sel->nrecent--;
		removed++;
	}
	if (removed == 0)
		return;
	if (vanished) {
		uint32_t w = 0;
		for (uint32_t r = 0; r < gone->n; r++)
			if (gone->v[r] != 0)
				gone->v[w++] = gone->v[r];
		imap__vanished_write(s, false, gone->v, w);
	}
	uint32_t w = 0;
	for (uint32_t r = 0; r < sel->count; r++)
		if (sel->uids[r] != UINT32_MAX)
			sel->uids[w++] = sel->uids[r];
	sel->count = w;
	s->nexpunged += removed;
}

void
imap__view_fetch_line(struct imap_session *s, struct nbuf *line, uint32_t seq,
                      const struct store_msg *m, const struct cmd_str *names, size_t nnames,
                      unsigned what)
{
	bool sp = false;
	nbuf_reset(line);
	nbuf_printf(line, "* %u FETCH (", seq);
	if (what & IMAP_FL_FLAGS) {
		nbuf_puts(line, "FLAGS ");
		imap__flags_write(line, m->flags, m->keywords, names, nnames,
		                  !(s->flags & IMAP_SF_REV2) && imap__view_recent(s, m->uid));
		sp = true;
	}
	/* RFC 7162 §3.2.4: with QRESYNC every FETCH a change causes has UID;
	 * RFC 9051 §7.5.2: so does every unsolicited FETCH of IMAP4rev2. */
	if ((what & IMAP_FL_UID) || (s->flags & (IMAP_SF_QRESYNC | IMAP_SF_REV2))) {
		nbuf_printf(line, "%sUID %u", sp ? " " : "", m->uid);
		sp = true;
	}
	/* §3.1: a CONDSTORE-aware client gets MODSEQ in every one. */
	if ((what & IMAP_FL_MODSEQ) || (s->flags & IMAP_SF_CONDSTORE))
		nbuf_printf(line, "%sMODSEQ (%llu)", sp ? " " : "", (unsigned long long)m->modseq);
	nbuf_puts(line, ")\r\n");
	imap__write(s, nbuf_head(line), nbuf_avail(line));
}

static void
sync_flags(struct imap_session *s, struct store_txn *t, struct u32vec *changed, unsigned flags)
{
	struct imap_mailbox *sel = s->sel;
	struct cmd_str names[CMD_KEYWORDS_MAX];
	int nk = store_keywords_get(t, sel->id, names, CMD_KEYWORDS_MAX);
	if (nk < 0)
		nk = 0;
	if ((uint32_t)nk > sel->nkeywords) {
		imap__flags_announce(s, names, (size_t)nk, sel->readonly);
		sel->nkeywords = (uint32_t)nk;
	}
	if (changed->n == 0)
		return;
	qsort(changed->v, changed->n, sizeof(*changed->v), u32_cmp);
	struct nbuf line;
	nbuf_init(&line, 64 * 1024);
	for (uint32_t i = 0; i < changed->n; i++) {
		uint32_t seq = imap__view_seq(s, changed->v[i]);
		struct store_msg m;
		if (seq == 0 || store_msg_get(t, sel->id, changed->v[i], &m) != 1)
			continue;
		imap__view_fetch_line(s, &line, seq, &m, names, (size_t)nk,
		                      IMAP_FL_FLAGS | ((flags & IMAP_SYNC_UID) ? IMAP_FL_UID : 0));
	}
	nbuf_deinit(&line);
}

/* The lowest MODSEQ of an expunge after the last reported one, 0 if none:
 * what the client's HIGHESTMODSEQ must stay below while it is held back. */
static uint64_t
sync_first_expunge(struct store_txn *t, const struct imap_mailbox *sel)
{
	struct store_changed_iter *ci;
	uint32_t uid;
	uint64_t ms = 0;
	if (store_changed_iter_open(t, sel->id, sel->modseq_exp, 1, &ci) != 0)
		return 0;
	while (store_changed_iter_next(ci, &uid, &ms) == 1 && uid >= sel->uidnext)
		ms = 0; /* the client never saw that message */
	store_changed_iter_close(&ci);
	return ms;
}

int
imap__view_sync(struct imap_session *s, unsigned flags, uint64_t skip_modseq)
{
	struct imap_mailbox *sel = s->sel;
	bool exp = (flags & IMAP_SYNC_EXPUNGE) != 0;
	if (sel == NULL || conn_closing(s->conn))
		return 0;
	if (!(s->flags & IMAP_SF_CHANGED) && !(exp && sel->modseq_exp < sel->modseq_flags))
		return 0;
	struct store_txn *t;
	if (store_read_begin(imap__store(), &t) != 0)
		return 0;
	s->flags &= ~(uint32_t)IMAP_SF_CHANGED;
	struct store_mailbox mb;
	if (store_mailbox_by_id(t, sel->id, &mb) != 1 || mb.uidvalidity != sel->uidvalidity ||
	    mb.user_id != s->user_id) {
		store_read_end(&t);
		log_info("imap", "event=selected-mailbox-gone user=%s mailbox=%u", s->user,
		         sel->id);
		imap__bye(s, "mailbox-deleted", "Selected mailbox was deleted, have to disconnect");
		return -1;
	}
	struct u32vec gone = {0}, changed = {0};
	uint32_t uid;
	uint64_t ms;
	int rc = 0;
	if (exp && sel->modseq_exp < mb.highestmodseq) {
		struct store_changed_iter *ci;
		if ((rc = store_changed_iter_open(t, sel->id, sel->modseq_exp, 1, &ci)) == 0) {
			while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1)
				if (uid < sel->uidnext)
					u32vec_push(&gone, uid);
			store_changed_iter_close(&ci);
		}
	} else if (!exp && sel->exp_pending == 0 && sel->modseq_exp < mb.highestmodseq) {
		sel->exp_pending = sync_first_expunge(t, sel);
	}
	if (rc >= 0 && sel->modseq_flags < mb.highestmodseq) {
		struct store_changed_iter *ci;
		if ((rc = store_changed_iter_open(t, sel->id, sel->modseq_flags, 0, &ci)) == 0) {
			while ((rc = store_changed_iter_next(ci, &uid, &ms)) == 1)
				if (uid < sel->uidnext && ms != skip_modseq)
					u32vec_push(&changed, uid);
			store_changed_iter_close(&ci);
		}
	}
	if (rc >= 0 && (gone.n > 0 || changed.n > 0) && imap__view_load(s) != 0)
		rc = -1;
	if (rc < 0) {
		store_read_end(&t);
		free(gone.v);
		free(changed.v);
		s->flags |= IMAP_SF_CHANGED; /* try again with the next reply */
		return 0;
	}
	if (gone.n > 0) {
		qsort(gone.v, gone.n, sizeof(*gone.v), u32_cmp);
		imap__contexts_expunge(s, gone.v, gone.n); /* RFC 5267 §4.3.4: first */
		sync_expunges(s, &gone);
	}
	if (exp) {
		sel->modseq_exp = mb.highestmodseq;
		sel->exp_pending = 0;
	}
	/* New messages, then flag changes of the old ones. */
	if (mb.uidnext > sel->uidnext) {
		uint32_t before = sel->count;
		struct store_msg_iter *it;
		struct store_msg m;
		if (store_msg_iter_open(t, sel->id, sel->uidnext, mb.uidnext - 1, &it) == 0) {
			while (store_msg_iter_next(it, &m) == 1) {
				if (sel->uids != NULL)
					view_push(sel, m.uid);
				else
					sel->count++;
			}
			store_msg_iter_close(&it);
		}
		sel->uidnext = mb.uidnext;
		if (sel->count != before) {
			imap__untagged(s, "%u EXISTS", sel->count);
			if (!(s->flags & IMAP_SF_REV2)) /* RFC 9051 has no RECENT */
				imap__untagged(s, "%u RECENT", sel->nrecent);
		}
	}
	sync_flags(s, t, &changed, flags);
	imap__contexts_sync(s, t, mb.highestmodseq); /* after EXISTS: §4.3.3 */
	sel->modseq_flags = mb.highestmodseq;
	store_read_end(&t);
	free(gone.v);
	free(changed.v);
	return 0;
}

uint64_t
imap__view_highestmodseq(const struct imap_session *s)
{
	const struct imap_mailbox *sel = s->sel;
	if (sel == NULL)
		return 0;
	/* RFC 7162 §3.2: below an expunge not reported yet, so that a client
	 * that resynchronises from it learns of that expunge. */
	return sel->exp_pending ? sel->exp_pending - 1 : sel->modseq_flags;
}

void
imap__view_hms_report(struct imap_session *s, bool noexp)
{
	bool due = (s->flags & IMAP_SF_HMS_DUE) != 0;
	s->flags &= ~(uint32_t)IMAP_SF_HMS_DUE;
	if (s->sel == NULL || !(s->flags & IMAP_SF_CONDSTORE) || conn_closing(s->conn))
		return;
	/* The FETCH responses of this command may carry MODSEQs above an
	 * expunge it had to hold back: the client must not take them as its
	 * HIGHESTMODSEQ (RFC 7162 §3.2, §6). */
	if (noexp && s->sel->exp_pending != 0)
		due = true;
	if (due)
		imap__untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
		               (unsigned long long)imap__view_highestmodseq(s));
}

static void
view_watch_cb(void *arg, const struct store_change *ch)
{
	struct imap_session *s = arg;
	s->flags |= IMAP_SF_CHANGED;
	imap__view_notify(s);
}

void
imap__view_notify(struct imap_session *s)
{
	/* RFC 2177: during IDLE, changes are reported as they happen. Outside
	 * it they wait for the next reply (RFC 3501 §5.3). */
	if (s->wait != IMAP_W_IDLE || s->sel == NULL)
		return;
	if (imap__view_sync(s, IMAP_SYNC_EXPUNGE, 0) == 0) {
		imap__view_release(s);
		conn_flush(s->conn);
		conn_idle(s->conn);
	}
}

/* --- message sets ---------------------------------------------------- */

int
imap__view_select(struct imap_session *s, const struct imap_arg *arg, bool uid, uint32_t **seqs_r,
                  uint32_t *n_r, const char **error_r)
{
	struct imap_mailbox *sel = s->sel;
	struct arena *a = imap__arena(s);
	struct imap_seqset set;
	const char *str;
	*seqs_r = NULL;
	*n_r = 0;
	if (!imap_arg_get_atom(arg, &str)) {
		*error_r = "Invalid message set";
		return -1;
	}
	if (imap_seqset_parse(a, str, strlen(str), IMAP_SEQSET_RANGES_MAX, &set, error_r) != 0)
		return -1;
	if (set.saved) {
		/* RFC 5182 §2.1: "$" is the saved result, UIDs whatever the
		 * command; an empty one is a valid set that matches nothing */
		const struct imap_seqset *sv = sel->saved;
		set = (struct imap_seqset){0};
		if (sv != NULL && sv->count > 0) {
			set.ranges = arena_alloc(a, sv->count * sizeof(*set.ranges));
			if (set.ranges == NULL) {
				*error_r = "Too many messages for one command";
				return -1;
			}
			memcpy(set.ranges, sv->ranges, sv->count * sizeof(*set.ranges));
			set.count = sv->count;
		}
		uid = true;
	}
	if (imap__view_load(s) != 0) {
		*error_r = "Cannot read the mailbox now";
		return -1;
	}
	if (!uid) {
		imap_seqset_resolve(&set, sel->count);
		if (set.count > 0 &&
		    (set.ranges[0].lo == 0 || imap_seqset_max(&set) > sel->count)) {
			*error_r = "Invalid message sequence number";
			return -1;
		}
		uint64_t total = imap_seqset_count(&set);
		uint32_t *v = total ? arena_alloc(a, total * sizeof(*v)) : NULL;
		if (total && v == NULL) {
			*error_r = "Too many messages for one command";
			return -1;
		}
		uint32_t n = 0;
		for (size_t i = 0; i < set.count; i++)
			for (uint64_t q = set.ranges[i].lo; q <= set.ranges[i].hi; q++)
				v[n++] = (uint32_t)q;
		*seqs_r = v;
		*n_r = n;
		return 0;
	}
	imap_seqset_resolve(&set, sel->count ? sel->uids[sel->count - 1] : 0);
	uint64_t total = 0;
	for (size_t i = 0; i < set.count; i++)
		total += view_upper(sel, set.ranges[i].hi) - view_lower(sel, set.ranges[i].lo);
	uint32_t *v = total ? arena_alloc(a, total * sizeof(*v)) : NULL;
	if (total && v == NULL) {
		*error_r = "Too many messages for one command";
		return -1;
	}
	uint32_t n = 0;
	for (size_t i = 0; i < set.count && n < total; i++) {
		uint32_t lo = view_lower(sel, set.ranges[i].lo);
		uint32_t hi = view_upper(sel, set.ranges[i].hi);
		for (uint32_t k = lo; k < hi && n < total; k++)
			v[n++] = k + 1;
	}
	*seqs_r = v;
	*n_r = n;
	return 0;
}

uint32_t
imap__view_ranges(struct imap_session *s, const uint32_t *seqs, uint32_t n,
                  struct uid_range **ranges_r)
{
	/* Between two neighbours in the view the store holds no message (the
	 * view has every stored UID below uidnext), so a run of sequence
	 * numbers is one UID range, gaps included. */
	uint32_t nr = 0;
	*ranges_r = NULL;
	if (n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || seqs[i] != seqs[i - 1] + 1)
			nr++;
	struct uid_range *r = arena_alloc(imap__arena(s), nr * sizeof(*r));
	if (r == NULL)
		return 0;
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || seqs[i] != seqs[i - 1] + 1) {
			r[k].lo = imap__view_uid(s, seqs[i]);
			r[k++].hi = imap__view_uid(s, seqs[i]);
		} else {
			r[k - 1].hi = imap__view_uid(s, seqs[i]);
		}
	}
	*ranges_r = r;
	return nr;
}
