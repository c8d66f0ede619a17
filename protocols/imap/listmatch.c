/*
 * imap listmatch: LIST pattern matching. See listmatch.h.
 *
 * Happy path: the reference and pattern are joined once, runs of
 * wildcards collapsed ("%*" is "*", "%%" is "%"); then each name is read
 * left to right while a bit set holds every pattern position reachable so
 * far (a Thompson automaton simulation): no recursion, no backtracking,
 * at most IMAP_LIST_PATTERN_MAX + 1 states.
 *
 * Failure modes: a pattern longer than IMAP_LIST_PATTERN_MAX is refused;
 * matching itself cannot fail.
 *
 * RFC 3501 §6.3.8 / RFC 9051 §6.3.9 (reference, "*", "%"), RFC 3501 §5.1
 * (INBOX case-insensitive, also as the parent of "INBOX.x").
 */
#include "protocols/imap/listmatch.h"

#include <stdint.h>
#include <string.h>

#include "node/lib/util.h"
#include "protocols/imap/mutf7.h"

#define WORDS ((IMAP_LIST_PATTERN_MAX + 1 + 63) / 64)

int
imap_list_pattern_init(struct imap_list_pattern *lp, struct arena *a, const char *ref,
                       size_t ref_len, const char *pattern, size_t pattern_len,
                       const char **error_r)
{
	lp->pat = NULL;
	lp->len = 0;
	if (ref_len > IMAP_LIST_PATTERN_MAX || pattern_len > IMAP_LIST_PATTERN_MAX - ref_len) {
		*error_r = "LIST pattern too long";
		return -1;
	}
	char *p = arena_alloc(a, ref_len + pattern_len + 1);
	if (p == NULL) {
		*error_r = "LIST pattern too long";
		return -1;
	}
	size_t n = 0;
	for (size_t i = 0; i < ref_len + pattern_len; i++) {
		char c = i < ref_len ? ref[i] : pattern[i - ref_len];
		bool wild = c == '*' || c == '%';
		if (wild && n > 0 && (p[n - 1] == '*' || p[n - 1] == '%')) {
			if (c == '*')
				p[n - 1] = '*';
			continue;
		}
		p[n++] = c;
	}
	p[n] = '\0';
	lp->pat = p;
	lp->len = n;
	return 0;
}

static inline bool
is_wild(char c)
{
	return c == '*' || c == '%';
}

/* Enter state j, and the state after it when j is a wildcard (which may
 * match nothing); collapsing guarantees no second wildcard follows. */
static inline void
enter(const struct imap_list_pattern *lp, uint64_t *set, size_t j)
{
	set[j / 64] |= UINT64_C(1) << (j % 64);
	if (j < lp->len && is_wild(lp->pat[j])) {
		j++;
		set[j / 64] |= UINT64_C(1) << (j % 64);
	}
}

/* Move every state of cur over byte c into next. Returns whether any
 * state is left. ci: compare letters ignoring case (inside "INBOX"). */
static bool
step(const struct imap_list_pattern *lp, const uint64_t *cur, uint64_t *next, size_t words,
     unsigned char c, bool ci)
{
	bool any = false;
	memset(next, 0, words * sizeof(*next));
	for (size_t w = 0; w < words; w++) {
		uint64_t bits = cur[w];
		while (bits) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (i == lp->len)
				continue;
			unsigned char pc = (unsigned char)lp->pat[i];
			if (pc == '*' || (pc == '%' && c != IMAP_HIERARCHY_SEP))
				enter(lp, next, i);
			else if (pc == c || (ci && ascii_toupper(pc) == ascii_toupper(c)))
				enter(lp, next, i + 1);
			else
				continue;
			any = true;
		}
	}
	return any;
}

unsigned
imap_list_match(const struct imap_list_pattern *lp, const char *name, size_t len)
{
	uint64_t a[WORDS], b[WORDS];
	uint64_t *cur = a, *next = b;
	size_t words = lp->len / 64 + 1;
	bool inbox = len >= 5 && ascii_strncasecmp(name, "INBOX", 5) == 0 &&
	             (len == 5 || name[5] == IMAP_HIERARCHY_SEP);
	memset(cur, 0, words * sizeof(*cur));
	enter(lp, cur, 0);
	for (size_t j = 0; j < len; j++) {
		if (!step(lp, cur, next, words, (unsigned char)name[j], inbox && j < 5))
			return 0;
		uint64_t *t = cur;
		cur = next;
		next = t;
	}
	unsigned r = 0;
	if (cur[lp->len / 64] & (UINT64_C(1) << (lp->len % 64)))
		r |= IMAP_LIST_MATCH_YES;
	if (step(lp, cur, next, words, IMAP_HIERARCHY_SEP, false))
		r |= IMAP_LIST_MATCH_CHILDREN;
	return r;
}
