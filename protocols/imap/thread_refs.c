/*
 * thread_refs: THREAD=REFERENCES (RFC 5256 §3), the steps as numbered
 * there, over the keys of sort.h.
 *
 *  (1) For each message in mailbox order: its Message-ID finds or fills
 *      a node (a dummy created by an earlier reference becomes this
 *      message; a missing or duplicate ID gets a node of its own, as if
 *      unique). Its references are the normalised References, else the
 *      first valid In-Reply-To ID. (A) consecutive references are linked
 *      parent to child, creating dummies for unknown IDs, without
 *      changing a reference that already has a parent and without making
 *      a loop; (B) the last reference becomes the message's parent (an
 *      existing parent link is broken first; no references: no parent),
 *      again never making a loop.
 *  (2) The nodes without parent are the children of the root.
 *  (3) Dummies are pruned: without children they go; with children they
 *      are replaced by them, except at the top level where a dummy stays
 *      if it has more than one. Done bottom-up, so the tree is final in
 *      one pass.
 *  (4) The top level is sorted by sent date (a dummy by its first child,
 *      its children sorted first).
 *  (5) Top-level threads with the same base subject are merged through a
 *      subject table (A-D), then (E) each thread is merged into the
 *      table's: dummy into dummy, a message under a dummy, a reply under
 *      a non-reply, else both under a new dummy.
 *  (6) Every set of siblings is sorted by sent date, children before
 *      parents (a dummy by its first child).
 * Sent dates tie by sequence number (RFC 5256 §2.2). Message IDs compare
 * case-sensitively, subjects without case (keys are upper-cased). A
 * message that lists its own Message-ID among its references skips that
 * reference (it cannot be its own parent).
 *
 * Failure modes: -ENOMEM only. Hostile headers cost bounded work: a
 * message has at most MIME_REFS_MAX references (mime_msgid.c), and the
 * loop check of a link walks up at most IMAP_THREAD_WALK_MAX ancestors.
 * XXX RFC 5256 §3: a link whose parent has more ancestors than
 * IMAP_THREAD_WALK_MAX is refused as if it made a loop, so a single
 * chain of replies deeper than that starts a new thread (step 5 then
 * gathers it again by subject).
 */
#include "protocols/imap/thread_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

/* --- nodes ----------------------------------------------------------- */

static int32_t
tr_node_new(struct imap__thread_tree *t, int32_t msg)
{
	if (t->nnodes == t->cap) {
		if (t->cap > INT32_MAX / 2)
			return THREAD_NONE;
		int32_t cap = t->cap ? t->cap * 2 : 64;
		struct imap__thread_node *p = realloc(t->nodes, (size_t)cap * sizeof(*p));
		if (p == NULL)
			return THREAD_NONE;
		t->nodes = p;
		t->cap = cap;
	}
	int32_t i = t->nnodes++;
	t->nodes[i] =
	        (struct imap__thread_node){THREAD_NONE, THREAD_NONE, THREAD_NONE, THREAD_NONE, msg};
	return i;
}

static void
tr_unlink(struct imap__thread_tree *t, int32_t c)
{
	struct imap__thread_node *n = &t->nodes[c];
	if (n->prev != THREAD_NONE)
		t->nodes[n->prev].next = n->next;
	else if (n->parent != THREAD_NONE)
		t->nodes[n->parent].child = n->next;
	else if (t->first == c)
		t->first = n->next;
	if (n->next != THREAD_NONE)
		t->nodes[n->next].prev = n->prev;
	n->parent = n->next = n->prev = THREAD_NONE;
}

/* c (unlinked) becomes p's first child; p THREAD_NONE: a top-level node. */
static void
tr_link(struct imap__thread_tree *t, int32_t p, int32_t c)
{
	struct imap__thread_node *n = &t->nodes[c];
	int32_t *head = p != THREAD_NONE ? &t->nodes[p].child : &t->first;
	n->parent = p;
	n->prev = THREAD_NONE;
	n->next = *head;
	if (*head != THREAD_NONE)
		t->nodes[*head].prev = c;
	*head = c;
}

/* c (unlinked) goes where old is, and old is unlinked. */
static void
tr_replace(struct imap__thread_tree *t, int32_t old, int32_t c)
{
	struct imap__thread_node *o = &t->nodes[old], *n = &t->nodes[c];
	n->parent = o->parent;
	n->prev = o->prev;
	n->next = o->next;
	if (o->prev != THREAD_NONE)
		t->nodes[o->prev].next = c;
	else if (o->parent != THREAD_NONE)
		t->nodes[o->parent].child = c;
	else
		t->first = c;
	if (o->next != THREAD_NONE)
		t->nodes[o->next].prev = c;
	o->parent = o->next = o->prev = THREAD_NONE;
}

/* Would making a the parent of b close a loop (a is b or under it)? */
static int
tr_loop(const struct imap__thread_tree *t, int32_t a, int32_t b)
{
	if (a == b)
		return 1;
	if (t->nodes[b].child == THREAD_NONE)
		return 0; /* nothing is under b */
	int32_t x = t->nodes[a].parent;
	for (unsigned hops = 0; x != THREAD_NONE; hops++) {
		if (x == b || hops >= IMAP_THREAD_WALK_MAX)
			return 1;
		x = t->nodes[x].parent;
	}
	return 0;
}

/* --- the message ID table --------------------------------------------- */

struct tr_ids {
	int32_t *slot; /* node index or THREAD_NONE */
	size_t cap, n; /* cap: a power of two */
};

static uint64_t
tr_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The node's ID: its message's Message-ID, or the reference text it was
 * created for (id_of[] keeps that for dummies). */
struct tr_state {
	struct imap__thread_tree *t;
	struct tr_ids ids;
	const char **dummy_id; /* per node: a dummy's ID (NUL-ended at dummy_len) */
	uint16_t *dummy_len;
	size_t dcap;
};

static int
tr_ids_grow(struct tr_state *st)
{
	struct tr_ids *h = &st->ids;
	size_t cap = h->cap ? h->cap * 2 : 1024;
	int32_t *slot = malloc(cap * sizeof(*slot));
	if (slot == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		slot[i] = THREAD_NONE;
	for (size_t i = 0; i < h->cap; i++) {
		int32_t v = h->slot[i];
		if (v == THREAD_NONE)
			continue;
		const char *id = st->dummy_id[v];
		size_t k = (size_t)tr_hash(id, st->dummy_len[v]) & (cap - 1);
		while (slot[k] != THREAD_NONE)
			k = (k + 1) & (cap - 1);
		slot[k] = v;
	}
	free(h->slot);
	h->slot = slot;
	h->cap = cap;
	return 0;
}

/* Remember node i's ID (the string lives as long as the messages). */
static int
tr_node_id(struct tr_state *st, int32_t i, const char *id, size_t len)
{
	if ((size_t)i >= st->dcap) {
		size_t cap = st->dcap ? st->dcap * 2 : 256;
		while (cap <= (size_t)i)
			cap *= 2;
		const char **d = realloc(st->dummy_id, cap * sizeof(*d));
		if (d == NULL)
			return -ENOMEM;
		st->dummy_id = d;
		uint16_t *l = realloc(st->dummy_len, cap * sizeof(*l));
		if (l == NULL)
			return -ENOMEM;
		st->dummy_len = l;
		st->dcap = cap;
	}
	st->dummy_id[i] = id;
	st->dummy_len[i] = (uint16_t)len;
	return 0;
}

/* The node of an ID: *found_r 1 when it existed, else a new dummy. */
static int32_t
tr_lookup(struct tr_state *st, const char *id, size_t len, int *found_r)
{
	struct tr_ids *h = &st->ids;
	*found_r = 0;
	if ((h->n + 1) * 2 > h->cap && tr_ids_grow(st) != 0)
		return THREAD_NONE;
	size_t k = (size_t)tr_hash(id, len) & (h->cap - 1);
	for (; h->slot[k] != THREAD_NONE; k = (k + 1) & (h->cap - 1)) {
		int32_t v = h->slot[k];
		if (st->dummy_len[v] == len && memcmp(st->dummy_id[v], id, len) == 0) {
			*found_r = 1;
			return v;
		}
	}
	int32_t i = tr_node_new(st->t, THREAD_NONE);
	if (i == THREAD_NONE || tr_node_id(st, i, id, len) != 0)
		return THREAD_NONE;
	h->slot[k] = i;
	h->n++;
	return i;
}

/* --- step 1 ---------------------------------------------------------- */

static int
tr_message(struct tr_state *st, const struct imap_sort_msg *msgs, int32_t mi)
{
	struct imap__thread_tree *t = st->t;
	const struct imap_sort_msg *m = &msgs[mi];
	int32_t self = THREAD_NONE;
	int found;
	if (m->msgid != NULL) {
		self = tr_lookup(st, m->msgid, strlen(m->msgid), &found);
		if (self == THREAD_NONE)
			return -ENOMEM;
		if (found && t->nodes[self].msg != THREAD_NONE)
			self = THREAD_NONE; /* a duplicate: treated as a unique ID */
		else
			t->nodes[self].msg = mi;
	}
	if (self == THREAD_NONE && (self = tr_node_new(t, mi)) == THREAD_NONE)
		return -ENOMEM;
	/* the references: References, else the first In-Reply-To ID */
	const char *refs = m->refs != NULL ? m->refs : m->irt;
	int32_t prev = THREAD_NONE;
	if (refs != NULL) {
		const char *p = refs;
		while (*p != '\0') {
			while (*p == ' ')
				p++;
			const char *e = p;
			while (*e != '\0' && *e != ' ')
				e++;
			if (e == p)
				break;
			int32_t r = tr_lookup(st, p, (size_t)(e - p), &found);
			if (r == THREAD_NONE)
				return -ENOMEM;
			p = e;
			if (r == self)
				continue; /* a message that refers to itself: not a link */
			/* (A): prev is r's parent, unless r has one or it loops */
			if (prev != THREAD_NONE && t->nodes[r].parent == THREAD_NONE &&
			    !tr_loop(t, prev, r)) {
				tr_unlink(t, r);
				tr_link(t, prev, r);
			}
			prev = r;
		}
	}
	/* (B): the last reference is the parent; none: no parent */
	if (t->nodes[self].parent != THREAD_NONE)
		tr_unlink(t, self);
	if (prev != THREAD_NONE && !tr_loop(t, prev, self)) {
		tr_unlink(t, self);
		tr_link(t, prev, self);
	}
	return 0;
}

/* --- steps 2-6 -------------------------------------------------------- */

/* Sent date and sequence number of a node: a dummy's first child's. */
static const struct imap_sort_msg *
tr_key(const struct imap__thread_tree *t, int32_t i)
{
	while (t->nodes[i].msg == THREAD_NONE && t->nodes[i].child != THREAD_NONE)
		i = t->nodes[i].child;
	return t->nodes[i].msg != THREAD_NONE ? &t->msgs[t->nodes[i].msg] : NULL;
}

static int
tr_date_cmp(const void *x, const void *y, void *arg)
{
	const struct imap__thread_tree *t = arg;
	const struct imap_sort_msg *a = tr_key(t, *(const int32_t *)x);
	const struct imap_sort_msg *b = tr_key(t, *(const int32_t *)y);
	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort the children of p (THREAD_NONE: the top level) by sent date. */
static int
tr_sort_children(struct imap__thread_tree *t, int32_t p, int32_t **buf, size_t *cap)
{
	int32_t head = p != THREAD_NONE ? t->nodes[p].child : t->first;
	size_t n = 0;
	for (int32_t c = head; c != THREAD_NONE; c = t->nodes[c].next) {
		if (n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			int32_t *b = realloc(*buf, nc * sizeof(*b));
			if (b == NULL)
				return -ENOMEM;
			*buf = b;
			*cap = nc;
		}
		(*buf)[n++] = c;
	}
	if (n < 2)
		return 0;
	qsort_r(*buf, n, sizeof(**buf), tr_date_cmp, t);
	for (size_t i = 0; i < n; i++) {
		struct imap__thread_node *c = &t->nodes[(*buf)[i]];
		c->prev = i > 0 ? (*buf)[i - 1] : THREAD_NONE;
		c->next = i + 1 < n ? (*buf)[i + 1] : THREAD_NONE;
	}
	if (p != THREAD_NONE)
		t->nodes[p].child = (*buf)[0];
	else
		t->first = (*buf)[0];
	return 0;
}

/* Every node under the root in pre-order (iterative). */
static int
tr_preorder(const struct imap__thread_tree *t, int32_t **order_r, size_t *n_r)
{
	int32_t *order = malloc(((size_t)t->nnodes + 1) * sizeof(*order));
	size_t n = 0;
	if (order == NULL)
		return -ENOMEM;
	int32_t x = t->first;
	while (x != THREAD_NONE) {
		order[n++] = x;
		if (t->nodes[x].child != THREAD_NONE) {
			x = t->nodes[x].child;
			continue;
		}
		while (x != THREAD_NONE && t->nodes[x].next == THREAD_NONE)
			x = t->nodes[x].parent;
		if (x != THREAD_NONE)
			x = t->nodes[x].next;
	}
	*order_r = order;
	*n_r = n;
	return 0;
}

static int
tr_count_children(const struct imap__thread_tree *t, int32_t i)
{
	int k = 0;
	for (int32_t c = t->nodes[i].child; c != THREAD_NONE && k < 2; c = t->nodes[c].next)
		k++;
	return k;
}

/* (3) bottom-up: every node after all of its descendants. */
static int
tr_prune(struct imap__thread_tree *t)
{
	int32_t *order;
	size_t n;
	if (tr_preorder(t, &order, &n) != 0)
		return -ENOMEM;
	for (size_t k = n; k-- > 0;) {
		int32_t i = order[k];
		struct imap__thread_node *d = &t->nodes[i];
		if (d->msg != THREAD_NONE)
			continue;
		int kids = tr_count_children(t, i);
		if (kids == 0) {
			tr_unlink(t, i);
			continue;
		}
		if (d->parent == THREAD_NONE && kids > 1)
			continue; /* a top-level dummy with several children stays */
		/* its children take its place, in their order */
		int32_t p = d->parent, c = d->child, last = THREAD_NONE;
		for (int32_t x = c; x != THREAD_NONE; x = t->nodes[x].next) {
			t->nodes[x].parent = p;
			last = x;
		}
		t->nodes[c].prev = d->prev;
		t->nodes[last].next = d->next;
		if (d->prev != THREAD_NONE)
			t->nodes[d->prev].next = c;
		else if (p != THREAD_NONE)
			t->nodes[p].child = c;
		else
			t->first = c;
		if (d->next != THREAD_NONE)
			t->nodes[d->next].prev = last;
		d->parent = d->next = d->prev = d->child = THREAD_NONE;
	}
	free(order);
	return 0;
}

/* The thread subject of a top-level node (step 5.B): its own, or its
 * first child's when it is a dummy; NULL when empty. */
static const char *
tr_subject(const struct imap__thread_tree *t, int32_t i, int *dummy_r, int *reply_r)
{
	const struct imap__thread_node *n = &t->nodes[i];
	*dummy_r = n->msg == THREAD_NONE;
	const struct imap_sort_msg *m = tr_key(t, i);
	*reply_r = !*dummy_r && m != NULL && m->reply;
	if (m == NULL || m->subject[0] == '\0')
		return NULL;
	return m->subject;
}

struct tr_subjects {
	int32_t *slot;
	const char **subj;
	size_t cap;
};

/* The table entry of a subject: its index (slot THREAD_NONE when new). */
static size_t
tr_subject_slot(struct tr_subjects *h, const char *s)
{
	size_t k = (size_t)tr_hash(s, strlen(s)) & (h->cap - 1);
	while (h->slot[k] != THREAD_NONE && strcmp(h->subj[k], s) != 0)
		k = (k + 1) & (h->cap - 1);
	return k;
}

/* (5) gather top-level threads by base subject. */
static int
tr_merge_subjects(struct imap__thread_tree *t)
{
	size_t ntop = 0;
	for (int32_t x = t->first; x != THREAD_NONE; x = t->nodes[x].next)
		ntop++;
	struct tr_subjects h = {0};
	h.cap = 16;
	while (h.cap < 2 * ntop + 2)
		h.cap *= 2;
	int32_t *top = malloc((ntop + 1) * sizeof(*top));
	h.slot = malloc(h.cap * sizeof(*h.slot));
	h.subj = malloc(h.cap * sizeof(*h.subj));
	if (top == NULL || h.slot == NULL || h.subj == NULL) {
		free(top);
		free(h.slot);
		free(h.subj);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h.cap; i++)
		h.slot[i] = THREAD_NONE;
	size_t k = 0;
	for (int32_t x = t->first; x != THREAD_NONE; x = t->nodes[x].next)
		top[k++] = x;
	int dummy, reply, tdummy, treply;
	/* (A)-(D) the subject table */
	for (size_t i = 0; i < ntop; i++) {
		const char *s = tr_subject(t, top[i], &dummy, &reply);
		if (s == NULL)
			continue;
		size_t slot = tr_subject_slot(&h, s);
		if (h.slot[slot] == THREAD_NONE) {
			h.slot[slot] = top[i];
			h.subj[slot] = s;
			continue;
		}
		(void)tr_subject(t, h.slot[slot], &tdummy, &treply);
		if (!tdummy && (dummy || (treply && !reply)))
			h.slot[slot] = top[i];
	}
	/* (E) merge each thread into the table's */
	int rc = 0;
	for (size_t i = 0; i < ntop && rc == 0; i++) {
		int32_t cur = top[i];
		const char *s = tr_subject(t, cur, &dummy, &reply);
		if (s == NULL || t->nodes[cur].parent != THREAD_NONE)
			continue; /* no subject, or merged as an earlier one's table entry */
		size_t slot = tr_subject_slot(&h, s);
		int32_t old = h.slot[slot];
		if (old == cur || old == THREAD_NONE)
			continue;
		(void)tr_subject(t, old, &tdummy, &treply);
		tr_unlink(t, cur);
		if (dummy && tdummy) {
			/* cur's children join old's */
			int32_t c;
			while ((c = t->nodes[cur].child) != THREAD_NONE) {
				tr_unlink(t, c);
				tr_link(t, old, c);
			}
		} else if (tdummy || (reply && !treply)) {
			tr_link(t, old, cur);
		} else {
			int32_t d = tr_node_new(t, THREAD_NONE);
			if (d == THREAD_NONE) {
				rc = -ENOMEM;
				break;
			}
			tr_replace(t, old, d);
			tr_link(t, d, old);
			tr_link(t, d, cur);
			h.slot[slot] = d;
		}
	}
	free(top);
	free(h.slot);
	free(h.subj);
	return rc;
}

int
imap__thread_references(struct imap__thread_tree *t, const struct imap_sort_msg *msgs, size_t n)
{
	struct tr_state st = {.t = t};
	int rc = 0;
	t->msgs = msgs;
	t->first = THREAD_NONE;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tr_message(&st, msgs, (int32_t)i);
	free(st.ids.slot);
	free(st.dummy_id);
	free(st.dummy_len);
	if (rc != 0)
		return rc;
	/* (2) the nodes without parent are the root's children */
	t->first = THREAD_NONE;
	for (int32_t i = t->nnodes; i-- > 0;)
		if (t->nodes[i].parent == THREAD_NONE)
			tr_link(t, THREAD_NONE, i);
	if ((rc = tr_prune(t)) != 0)
		return rc;
	/* (4) the top level by date, a dummy by its sorted children */
	int32_t *buf = NULL;
	size_t cap = 0;
	for (int32_t x = t->first; x != THREAD_NONE && rc == 0; x = t->nodes[x].next)
		if (t->nodes[x].msg == THREAD_NONE)
			rc = tr_sort_children(t, x, &buf, &cap);
	if (rc == 0)
		rc = tr_sort_children(t, THREAD_NONE, &buf, &cap);
	if (rc == 0)
		rc = tr_merge_subjects(t);
	/* (6) every set of siblings, the deepest first */
	int32_t *order = NULL;
	size_t no = 0;
	if (rc == 0)
		rc = tr_preorder(t, &order, &no);
	for (size_t k = no; rc == 0 && k-- > 0;)
		if (t->nodes[order[k]].child != THREAD_NONE)
			rc = tr_sort_children(t, order[k], &buf, &cap);
	if (rc == 0)
		rc = tr_sort_children(t, THREAD_NONE, &buf, &cap);
	free(order);
	free(buf);
	return rc;
}
