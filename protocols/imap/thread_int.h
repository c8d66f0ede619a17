/*
 * thread_int: what thread_refs.c and thread_out.c share: the thread tree
 * both algorithms build, and its writer. See sort.h for the public side.
 */
#ifndef MAILNODE_IMAP_THREAD_INT_H
#define MAILNODE_IMAP_THREAD_INT_H

#include <stdint.h>

#include "protocols/imap/sort.h"

#define THREAD_NONE (-1)

/* A node of the thread tree: a message (msg >= 0, an index into the
 * messages) or a dummy (msg THREAD_NONE). Siblings are a doubly linked
 * list in the order they are shown. */
struct imap__thread_node {
	int32_t parent, child, next, prev;
	int32_t msg;
};

struct imap__thread_tree {
	struct imap__thread_node *nodes;
	int32_t nnodes, cap;
	int32_t first; /* the first top-level node (children of the root) */
	const struct imap_sort_msg *msgs;
};

/* Append the thread lists of the tree's top-level nodes (RFC 5256 §4
 * thread-list): a node with one child continues its list, one with more
 * nests one list per child, a dummy shows only its children. Iterative:
 * the depth of the tree costs heap, not stack. 0, the nbuf error or
 * -ENOMEM. */
int imap__thread_write(const struct imap__thread_tree *t, struct nbuf *out);

/* RFC 5256 §3 REFERENCES into t (msgs in mailbox order). 0 or -ENOMEM. */
int imap__thread_references(struct imap__thread_tree *t, const struct imap_sort_msg *msgs,
                            size_t n);

/* Longest walk up the tree when checking that a link makes no loop
 * (RFC 5256 §3 step 1): deeper ancestors count as a loop. */
#define IMAP_THREAD_WALK_MAX 10000

#endif
