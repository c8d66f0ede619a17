/*
 * imap listmatch: LIST/LSUB pattern matching (RFC 3501 §6.3.8, RFC 9051
 * §6.3.9): "*" matches anything, "%" anything but the hierarchy separator
 * ".", INBOX in any case. Pure: no I/O.
 *
 * Matching simulates the pattern as an automaton over the name, so its
 * cost is at most (pattern length x name length) steps whatever the
 * pattern: "*a*a*a*a*a*b" against a long name cannot backtrack
 * exponentially.
 */
#ifndef MAILNODE_IMAP_LISTMATCH_H
#define MAILNODE_IMAP_LISTMATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "node/lib/arena.h"

#define IMAP_LIST_PATTERN_MAX 1024 /* bytes, after reference + pattern */

struct imap_list_pattern {
	const char *pat; /* reference + pattern, wildcard runs collapsed */
	size_t len;
};

/* The name matches the pattern. */
#define IMAP_LIST_MATCH_YES 0x1
/* Some child "name.x..." may match: worth descending into. */
#define IMAP_LIST_MATCH_CHILDREN 0x2

/*
 * Combine the LIST reference and mailbox pattern (the reference is a
 * prefix: "INBOX." + "%" is "INBOX.%"; RFC 3501 §6.3.8) into *lp, the text
 * allocated in a. Both are names as mailnode stores them (UTF-8; decode
 * modified UTF-7 first). Returns 0, or -1 with *error_r (too long, or the
 * arena is exhausted).
 */
int imap_list_pattern_init(struct imap_list_pattern *lp, struct arena *a, const char *ref,
                           size_t ref_len, const char *pattern, size_t pattern_len,
                           const char **error_r);

/* Match name (len bytes) against lp: IMAP_LIST_MATCH_* bits, 0 for none. */
unsigned imap_list_match(const struct imap_list_pattern *lp, const char *name, size_t len);

#endif
