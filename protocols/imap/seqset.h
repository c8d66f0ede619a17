/*
 * imap seqset: IMAP sequence sets ("1,3:5,7:*", and "$" of RFC 5182
 * SEARCHRES) as a sorted array of disjoint, non-adjacent ranges.
 * Pure: no I/O. Ranges live in the arena given to the parse (the command
 * arena, typically).
 */
#ifndef MAILNODE_IMAP_SEQSET_H
#define MAILNODE_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/lib/arena.h"
#include "node/lib/nbuf.h"

/* "*": the largest number in use; imap_seqset_resolve() substitutes it.
 * XXX RFC 9051 §9: the number 4294967295 reads as "*" too (clients write
 * 1:4294967295 for "all"); mailnode never assigns that UID. */
#define IMAP_SEQ_STAR UINT32_MAX
/* A sane default bound for client-supplied sets. */
#define IMAP_SEQSET_RANGES_MAX 10000

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi */
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* sorted by lo, disjoint, non-adjacent */
	size_t count;
	bool saved; /* "$": the caller substitutes the saved SEARCH result
	             * (RFC 5182); ranges is empty */
};

/*
 * Parse s (len bytes, no NUL needed) into *set_r, ranges allocated in a.
 * Refuses (before allocating) a set of more than max_ranges ranges, and
 * 0, leading zeros, empty elements, numbers above 2^32-1, anything but
 * digits ":" "," "*", and "$" inside a list. "5:3" means "3:5".
 * Returns 0, or -1 with *error_r (static text).
 */
int imap_seqset_parse(struct arena *a, const char *s, size_t len, size_t max_ranges,
                      struct imap_seqset *set_r, const char **error_r);

/* A set from n values in any order (duplicates allowed), in a.
 * Returns 0, or -1 when the arena is exhausted. */
int imap_seqset_from_array(struct arena *a, const uint32_t *v, size_t n, struct imap_seqset *set_r);

/* Substitute "*" by max (the mailbox's message count or highest UID) and
 * normalise again; "7:*" with max 5 becomes "5:7" (RFC 9051 §6.4.4). With
 * max 0 (empty mailbox) ranges may start at 0, which no message has. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);
/* Drop what lies outside 1..max (for UID sets after resolve). */
void imap_seqset_clip(struct imap_seqset *set, uint32_t max);

/* Whether v is in the set (binary search). */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t v);
/* Numbers in the set ("*" counts as one number, 2^32-1). */
uint64_t imap_seqset_count(const struct imap_seqset *set);
/* The largest number in the set, 0 when empty. */
uint32_t imap_seqset_max(const struct imap_seqset *set);

/* Ascending iteration; resolve "*" first. */
struct imap_seqset_iter {
	const struct imap_seqset *set;
	size_t i;
	uint64_t next;
};
void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set);
/* Returns true with *v_r set, false at the end. */
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *v_r);

/* Append the set as compact text ("1:3,7,9:*", "$"); an empty set appends
 * nothing. Returns 0 or the nbuf error (-ENOBUFS). */
int imap_seqset_format(const struct imap_seqset *set, struct nbuf *out);
/* Append n values in their order, runs of consecutive ascending values
 * compressed ("4,5,6,2" -> "4:6,2"): COPYUID/APPENDUID sets whose order
 * pairs source and destination UIDs (RFC 4315 §3). */
int imap_seqset_format_values(const uint32_t *v, size_t n, struct nbuf *out);

#endif
