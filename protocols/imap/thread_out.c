/*
 * thread_out: THREAD=ORDEREDSUBJECT (RFC 5256 §3), the writer of thread
 * lists (RFC 5256 §4 thread-data) both algorithms share, and the entry
 * point imap_thread_run().
 *
 * ORDEREDSUBJECT: the messages sorted by base subject, then sent date,
 * then sequence number; each run of one base subject is a thread whose
 * first message is the parent of all the others; threads are ordered by
 * the sent date of their first message. "(1)", "(2 3)", "(4 (5)(6))".
 *
 * The writer: a node with one child continues its list ("3 6"), one with
 * several nests a list per child ("3 (4 23)(44 7 96)"), a dummy shows
 * its children's lists only ("((3)(5))"). It walks the tree with an
 * explicit stack, so a deep thread costs heap, not stack.
 */
#include "protocols/imap/thread_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

#define TW_CLOSE INT32_MIN /* a stack entry: write ")" */

int
imap__thread_write(const struct imap__thread_tree *t, struct nbuf *out)
{
	size_t cap = (size_t)t->nnodes + 2, sp = 0;
	int32_t *stack = malloc(cap * 2 * sizeof(*stack));
	int rc = 0;
	if (stack == NULL)
		return -ENOMEM;
	for (int32_t top = t->first; top != THREAD_NONE && rc == 0; top = t->nodes[top].next) {
		stack[sp++] = top;
		while (sp > 0 && rc == 0) {
			int32_t x = stack[--sp];
			if (x == TW_CLOSE) {
				rc = nbuf_puts(out, ")");
				continue;
			}
			/* open a thread-list and follow its chain of only children */
			if ((rc = nbuf_puts(out, "(")) != 0)
				break;
			int wrote = 0;
			for (;;) {
				const struct imap__thread_node *n = &t->nodes[x];
				int kids = 0;
				for (int32_t c = n->child; c != THREAD_NONE && kids < 2;
				     c = t->nodes[c].next)
					kids++;
				if (n->msg != THREAD_NONE) {
					rc = nbuf_printf(out, "%s%u", wrote ? " " : "",
					                 t->msgs[n->msg].id);
					wrote = 1;
				}
				if (rc != 0 || kids == 0) {
					if (rc == 0)
						rc = nbuf_puts(out, ")");
					break;
				}
				if (kids == 1) {
					x = n->child;
					continue;
				}
				if (wrote && (rc = nbuf_puts(out, " ")) != 0)
					break;
				/* the children's lists, then this list's ")" */
				size_t need = 1;
				for (int32_t c = n->child; c != THREAD_NONE; c = t->nodes[c].next)
					need++;
				if (sp + need > cap * 2) {
					size_t nc = (sp + need) * 2;
					int32_t *s2 = realloc(stack, nc * sizeof(*s2));
					if (s2 == NULL) {
						rc = -ENOMEM;
						break;
					}
					stack = s2;
					cap = nc / 2;
				}
				stack[sp++] = TW_CLOSE;
				int32_t last = n->child;
				while (t->nodes[last].next != THREAD_NONE)
					last = t->nodes[last].next;
				for (int32_t c = last; c != THREAD_NONE; c = t->nodes[c].prev)
					stack[sp++] = c;
				break;
			}
		}
	}
	free(stack);
	return rc;
}

/* --- ORDEREDSUBJECT -------------------------------------------------- */

static int
os_cmp(const void *x, const void *y, void *arg)
{
	const struct imap_sort_msg *msgs = arg;
	const struct imap_sort_msg *a = &msgs[*(const int32_t *)x], *b = &msgs[*(const int32_t *)y];
	int r = imap__sort_strcmp(a->subject, b->subject);
	if (r != 0)
		return r;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Threads by the sent date (then sequence number) of their first message. */
static int
os_thread_cmp(const void *x, const void *y, void *arg)
{
	const struct imap__thread_tree *t = arg;
	const struct imap_sort_msg *a = &t->msgs[t->nodes[*(const int32_t *)x].msg];
	const struct imap_sort_msg *b = &t->msgs[t->nodes[*(const int32_t *)y].msg];
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int
thread_orderedsubject(struct imap__thread_tree *t, const struct imap_sort_msg *msgs, size_t n)
{
	int32_t *order = malloc((n + 1) * sizeof(*order));
	int32_t *heads = malloc((n + 1) * sizeof(*heads));
	t->nodes = malloc((n + 1) * sizeof(*t->nodes));
	if (order == NULL || heads == NULL || t->nodes == NULL) {
		free(order);
		free(heads);
		return -ENOMEM;
	}
	t->msgs = msgs;
	t->nnodes = t->cap = (int32_t)n;
	for (size_t i = 0; i < n; i++) {
		order[i] = (int32_t)i;
		t->nodes[i] = (struct imap__thread_node){THREAD_NONE, THREAD_NONE, THREAD_NONE,
		                                         THREAD_NONE, (int32_t)i};
	}
	qsort_r(order, n, sizeof(*order), os_cmp, (void *)msgs);
	/* node i is message i; each run's first is the parent of the rest */
	size_t nheads = 0;
	int32_t parent = THREAD_NONE, last = THREAD_NONE;
	for (size_t k = 0; k < n; k++) {
		int32_t i = order[k];
		if (k == 0 || imap__sort_strcmp(msgs[order[k - 1]].subject, msgs[i].subject) != 0) {
			heads[nheads++] = i;
			parent = i;
			last = THREAD_NONE;
			continue;
		}
		t->nodes[i].parent = parent;
		t->nodes[i].prev = last;
		if (last != THREAD_NONE)
			t->nodes[last].next = i;
		else
			t->nodes[parent].child = i;
		last = i;
	}
	qsort_r(heads, nheads, sizeof(*heads), os_thread_cmp, t);
	t->first = nheads > 0 ? heads[0] : THREAD_NONE;
	for (size_t k = 0; k < nheads; k++) {
		t->nodes[heads[k]].prev = k > 0 ? heads[k - 1] : THREAD_NONE;
		t->nodes[heads[k]].next = k + 1 < nheads ? heads[k + 1] : THREAD_NONE;
	}
	free(order);
	free(heads);
	return 0;
}

int
imap_thread_run(enum imap_thread_alg alg, const struct imap_sort_msg *msgs, size_t n,
                struct nbuf *out)
{
	struct imap__thread_tree t = {.first = THREAD_NONE, .msgs = msgs};
	int rc;
	if (n > (size_t)INT32_MAX / 4)
		return -ENOMEM;
	if (alg == THREAD_ORDEREDSUBJECT)
		rc = thread_orderedsubject(&t, msgs, n);
	else
		rc = imap__thread_references(&t, msgs, n);
	if (rc == 0)
		rc = imap__thread_write(&t, out);
	free(t.nodes);
	return rc;
}
