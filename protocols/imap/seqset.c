/*
 * imap seqset: sequence sets. See seqset.h.
 *
 * Happy path: count the commas, refuse a set with too many ranges before
 * any allocation, parse each element into the arena array, sort only when
 * the client's order was not already ascending, merge overlapping and
 * adjacent ranges. Lookups are binary searches.
 *
 * Failure modes: every malformed element is a -1 with a text for the BAD
 * reply; nothing is allocated for a refused set beyond the range array.
 *
 * RFC 3501 §9 / RFC 9051 §9 (sequence-set, seq-range, nz-number, "*"),
 * RFC 9051 §6.4.4 ("n:*" past the end), RFC 5182 §2 ("$").
 */
#include "protocols/imap/seqset.h"

#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* Sort (if needed) and merge overlapping or adjacent ranges in place. */
static void
normalise(struct imap_seqset *set, bool sorted)
{
	struct imap_seq_range *r = set->ranges;
	if (set->count == 0)
		return;
	if (!sorted)
		qsort(r, set->count, sizeof(*r), range_cmp);
	size_t w = 0;
	for (size_t i = 1; i < set->count; i++) {
		if (r[w].hi == UINT32_MAX || r[i].lo <= r[w].hi + 1) {
			r[w].hi = MAX(r[w].hi, r[i].hi);
			continue;
		}
		r[++w] = r[i];
	}
	set->count = w + 1;
}

/* seq-number = nz-number / "*". Returns the bytes used, 0 on error. */
static size_t
parse_number(const char *s, size_t len, uint32_t *v_r)
{
	if (len > 0 && s[0] == '*') {
		*v_r = IMAP_SEQ_STAR;
		return 1;
	}
	if (len == 0 || s[0] < '1' || s[0] > '9')
		return 0;
	uint64_t v = 0;
	size_t i = 0;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return 0;
	}
	*v_r = (uint32_t)v;
	return i;
}

int
imap_seqset_parse(struct arena *a, const char *s, size_t len, size_t max_ranges,
                  struct imap_seqset *set_r, const char **error_r)
{
	memset(set_r, 0, sizeof(*set_r));
	if (len == 1 && s[0] == '$') {
		set_r->saved = true;
		return 0;
	}
	if (len == 0) {
		*error_r = "Empty sequence set";
		return -1;
	}
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' && ++n > max_ranges) {
			*error_r = "Too many ranges in sequence set";
			return -1;
		}
	struct imap_seq_range *r = arena_alloc(a, n * sizeof(*r));
	if (r == NULL) {
		*error_r = "Sequence set too large";
		return -1;
	}
	bool sorted = true;
	size_t pos = 0;
	for (size_t k = 0; k < n; k++) {
		uint32_t lo, hi;
		size_t used = parse_number(s + pos, len - pos, &lo);
		if (used == 0)
			goto err_syntax;
		pos += used;
		hi = lo;
		if (pos < len && s[pos] == ':') {
			pos++;
			if ((used = parse_number(s + pos, len - pos, &hi)) == 0)
				goto err_syntax;
			pos += used;
		}
		if (pos < len && (s[pos] != ',' || k + 1 == n))
			goto err_syntax;
		pos++;
		r[k].lo = MIN(lo, hi);
		r[k].hi = MAX(lo, hi);
		if (k > 0 && r[k].lo < r[k - 1].lo)
			sorted = false;
	}
	set_r->ranges = r;
	set_r->count = n;
	normalise(set_r, sorted);
	return 0;

err_syntax:
	*error_r = "Invalid sequence set";
	return -1;
}

int
imap_seqset_from_array(struct arena *a, const uint32_t *v, size_t n, struct imap_seqset *set_r)
{
	memset(set_r, 0, sizeof(*set_r));
	if (n == 0)
		return 0;
	struct imap_seq_range *r = arena_alloc(a, n * sizeof(*r));
	if (r == NULL)
		return -1;
	bool sorted = true;
	for (size_t i = 0; i < n; i++) {
		r[i].lo = r[i].hi = v[i];
		if (i > 0 && v[i] < v[i - 1])
			sorted = false;
	}
	set_r->ranges = r;
	set_r->count = n;
	normalise(set_r, sorted);
	return 0;
}

void
imap_seqset_resolve(struct imap_seqset *set, uint32_t max)
{
	bool changed = false;
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range *r = &set->ranges[i];
		if (r->hi != IMAP_SEQ_STAR)
			continue;
		uint32_t lo = r->lo == IMAP_SEQ_STAR ? max : r->lo;
		r->lo = MIN(lo, max);
		r->hi = MAX(lo, max);
		changed = true;
	}
	if (changed)
		normalise(set, false);
}

void
imap_seqset_clip(struct imap_seqset *set, uint32_t max)
{
	size_t w = 0;
	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];
		if (r.lo == 0)
			r.lo = 1;
		if (r.hi > max)
			r.hi = max;
		if (r.lo <= r.hi)
			set->ranges[w++] = r;
	}
	set->count = w;
}

bool
imap_seqset_contains(const struct imap_seqset *set, uint32_t v)
{
	size_t lo = 0, hi = set->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];
		if (v < r->lo)
			hi = mid;
		else if (v > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

uint64_t
imap_seqset_count(const struct imap_seqset *set)
{
	uint64_t n = 0;
	for (size_t i = 0; i < set->count; i++)
		n += (uint64_t)set->ranges[i].hi - set->ranges[i].lo + 1;
	return n;
}

uint32_t
imap_seqset_max(const struct imap_seqset *set)
{
	return set->count ? set->ranges[set->count - 1].hi : 0;
}

void
imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set)
{
	it->set = set;
	it->i = 0;
	it->next = set->count ? set->ranges[0].lo : 0;
}

bool
imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *v_r)
{
	while (it->i < it->set->count) {
		const struct imap_seq_range *r = &it->set->ranges[it->i];
		if (it->next <= r->hi) {
			*v_r = (uint32_t)it->next++;
			return true;
		}
		if (++it->i < it->set->count)
			it->next = it->set->ranges[it->i].lo;
	}
	return false;
}

static int
format_num(uint32_t v, struct nbuf *out)
{
	if (v == IMAP_SEQ_STAR)
		return nbuf_append(out, "*", 1);
	return nbuf_printf(out, "%u", v);
}

static int
format_range(uint32_t lo, uint32_t hi, bool first, struct nbuf *out)
{
	int rc = first ? 0 : nbuf_append(out, ",", 1);
	if (rc == 0)
		rc = format_num(lo, out);
	if (rc == 0 && hi != lo) {
		rc = nbuf_append(out, ":", 1);
		if (rc == 0)
			rc = format_num(hi, out);
	}
	return rc;
}

int
imap_seqset_format(const struct imap_seqset *set, struct nbuf *out)
{
	if (set->saved)
		return nbuf_append(out, "$", 1);
	for (size_t i = 0; i < set->count; i++) {
		int rc = format_range(set->ranges[i].lo, set->ranges[i].hi, i == 0, out);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
imap_seqset_format_values(const uint32_t *v, size_t n, struct nbuf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && v[j] != UINT32_MAX && v[j + 1] == v[j] + 1)
			j++;
		int rc = format_range(v[i], v[j], i == 0, out);
		if (rc != 0)
			return rc;
		i = j + 1;
	}
	return 0;
}
