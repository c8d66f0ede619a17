/*
 * search_return: the RETURN options of SEARCH and SORT and the responses
 * they ask for: ESEARCH (RFC 4731 §3.1, RFC 4466 §2.6 and §7
 * search-return-opts / esearch-response), SAVE (RFC 5182 §2.4), the
 * CONTEXT, UPDATE and PARTIAL options of RFC 5267 §4, ESORT (RFC 5267
 * §3.1, §3.2), and MODSEQ in both the plain and the extended responses
 * (RFC 7162 §3.1.5, §3.1.9, §3.1.10; RFC 4731 §3.2). Pure: no session.
 *
 * Happy path: "RETURN (MIN COUNT)" becomes opts; after the search the
 * session writes "* ESEARCH (TAG "a1") UID MIN 7 COUNT 3". "RETURN ()" is
 * ALL. Without RETURN the plain "* SEARCH 2 5" (or "* SORT 5 2") comes
 * back, with " (MODSEQ n)" after the numbers when the program had a
 * MODSEQ key and something matched.
 *
 * What each option returns: for SEARCH, MIN and MAX are the smallest and
 * largest number, ALL the set in sequence-set syntax ("2,10:11"); for
 * SORT (res->sorted), MIN and MAX are the first and the last in sort
 * order and ALL lists the messages in sort order, ranges only where that
 * order ascends by one (RFC 5267 §3.2: "23765,23764,23763" stays as it
 * is). PARTIAL lo:hi returns "PARTIAL (lo:hi set)" with the results at
 * positions lo..hi of that order, or NIL. MIN, MAX and ALL are left out
 * when nothing matched; COUNT is always there. MODSEQ follows RFC 4731
 * §3.2: the MIN or MAX message's alone, the higher of the two with both
 * and neither ALL nor COUNT (nor PARTIAL), else the highest of all
 * matches; none when nothing matched.
 *
 * Failure modes (BAD): RETURN without a list, an unknown option, PARTIAL
 * without "nz-number:nz-number" (no "*": RFC 5267 §5), PARTIAL twice or
 * with ALL (RFC 5267 §4.4: "either one PARTIAL, one ALL, or neither").
 * A repeated MIN, MAX, COUNT, SAVE, CONTEXT or UPDATE is harmless and
 * accepted.
 * XXX RFC 9394: its negative PARTIAL ranges ("-1:-100") are not accepted;
 * PARTIAL is the RFC 5267 form that CONTEXT=SEARCH/SORT advertise.
 */
#include "protocols/imap/search_int.h"

#include <string.h>

#include "node/lib/util.h"

static const struct {
	const char *name;
	unsigned opt;
} search_ret_names[] = {
        {"MIN", SEARCH_RET_MIN},       {"MAX", SEARCH_RET_MAX},
        {"ALL", SEARCH_RET_ALL},       {"COUNT", SEARCH_RET_COUNT},
        {"SAVE", SEARCH_RET_SAVE},     {"CONTEXT", SEARCH_RET_CONTEXT},
        {"UPDATE", SEARCH_RET_UPDATE}, {"PARTIAL", SEARCH_RET_PARTIAL},
};

/* partial-range = nz-number ":" nz-number (RFC 5267 §5) */
static int
search_partial_range(const char *s, size_t len, uint32_t *lo_r, uint32_t *hi_r)
{
	uint64_t v[2] = {0, 0};
	size_t i = 0;
	for (int k = 0; k < 2; k++) {
		size_t start = i;
		if (i < len && s[i] == '0')
			return -1; /* nz-number: no leading zero */
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			v[k] = v[k] * 10 + (uint64_t)(s[i++] - '0');
			if (v[k] > UINT32_MAX)
				return -1;
		}
		if (i == start)
			return -1;
		if (k == 0 && (i >= len || s[i++] != ':'))
			return -1;
	}
	if (i != len)
		return -1;
	*lo_r = (uint32_t)MIN(v[0], v[1]);
	*hi_r = (uint32_t)MAX(v[0], v[1]);
	return 0;
}

int
imap_search_ret_parse(const struct imap_arg *args, size_t argc, struct imap_search_ret *r,
                      const char **error_r)
{
	memset(r, 0, sizeof(*r));
	if (argc == 0 || !imap_arg_atom_equals(&args[0], "RETURN"))
		return 0;
	const struct imap_arg *l;
	size_t n;
	if (argc < 2 || !imap_arg_get_list(&args[1], &l, &n)) {
		*error_r = "RETURN needs a list of return options";
		return -1;
	}
	r->esearch = 1;
	for (size_t i = 0; i < n; i++) {
		const char *name;
		size_t k;
		if (!imap_arg_get_atom(&l[i], &name)) {
			*error_r = "Invalid return option";
			return -1;
		}
		for (k = 0; k < ARRAY_SIZE(search_ret_names); k++)
			if (ascii_strcasecmp(name, search_ret_names[k].name) == 0)
				break;
		if (k == ARRAY_SIZE(search_ret_names)) {
			*error_r = "Unknown return option";
			return -1;
		}
		unsigned opt = search_ret_names[k].opt;
		if (opt == SEARCH_RET_PARTIAL) {
			const char *range;
			if ((r->opts & (SEARCH_RET_PARTIAL | SEARCH_RET_ALL)) || i + 1 >= n ||
			    !imap_arg_get_atom(&l[i + 1], &range) ||
			    search_partial_range(range, l[i + 1].len, &r->partial_lo,
			                         &r->partial_hi) != 0) {
				*error_r = (r->opts & (SEARCH_RET_PARTIAL | SEARCH_RET_ALL))
				                   ? "Only one of PARTIAL and ALL is allowed"
				                   : "PARTIAL needs a range n:m";
				return -1;
			}
			i++;
		} else if (opt == SEARCH_RET_ALL && (r->opts & SEARCH_RET_PARTIAL)) {
			*error_r = "Only one of PARTIAL and ALL is allowed";
			return -1;
		}
		r->opts |= opt;
	}
	/* RFC 4731 §3.1: "()" means ALL; so do CONTEXT and UPDATE alone (RFC
	 * 5267 §4.2, §4.3: they add to what is returned, not replace it) */
	if ((r->opts & ~(unsigned)(SEARCH_RET_CONTEXT | SEARCH_RET_UPDATE)) == 0)
		r->opts |= SEARCH_RET_ALL;
	return 2;
}

int
imap_search_ret_responds(const struct imap_search_ret *r)
{
	return !r->esearch || (r->opts & ~(unsigned)(SEARCH_RET_SAVE | SEARCH_RET_CONTEXT)) != 0;
}

/* The index of MIN and MAX in res (n > 0). */
static size_t
search_ret_min(const struct imap_search_result *res)
{
	size_t k = 0;
	if (res->sorted)
		return 0;
	for (size_t i = 1; i < res->n; i++)
		if (res->vals[i] < res->vals[k])
			k = i;
	return k;
}

static size_t
search_ret_max(const struct imap_search_result *res)
{
	size_t k = 0;
	if (res->sorted)
		return res->n - 1;
	for (size_t i = 1; i < res->n; i++)
		if (res->vals[i] > res->vals[k])
			k = i;
	return k;
}

static uint64_t
search_ret_modseq(const struct imap_search_ret *r, const struct imap_search_result *res)
{
	unsigned o = r->esearch ? r->opts : SEARCH_RET_ALL;
	uint64_t ms = 0;
	if (!(o & (SEARCH_RET_ALL | SEARCH_RET_COUNT | SEARCH_RET_PARTIAL)) &&
	    (o & (SEARCH_RET_MIN | SEARCH_RET_MAX))) {
		if (o & SEARCH_RET_MIN)
			ms = res->modseqs[search_ret_min(res)];
		if (o & SEARCH_RET_MAX)
			ms = MAX(ms, res->modseqs[search_ret_max(res)]);
		return ms;
	}
	for (size_t i = 0; i < res->n; i++)
		ms = MAX(ms, res->modseqs[i]);
	return ms;
}

/* A list of values as a sequence-set: sorted ascending for SEARCH (the
 * engine gives them so), in result order for SORT. */
static int
search_ret_set(const uint32_t *v, size_t n, struct nbuf *out)
{
	return imap_seqset_format_values(v, n, out);
}

static int
search_ret_quote(const char *s, struct nbuf *out)
{
	int rc = nbuf_puts(out, "\"");
	for (; rc == 0 && *s; s++) {
		if (*s == '"' || *s == '\\')
			rc = nbuf_puts(out, "\\");
		if (rc == 0)
			rc = nbuf_append(out, s, 1);
	}
	return rc ? rc : nbuf_puts(out, "\"");
}

int
imap_search_ret_write(const struct imap_search_ret *r, const char *tag, const char *name,
                      const struct imap_search_result *res, struct nbuf *out)
{
	int rc;
	if (!r->esearch) {
		/* RFC 3501 §7.2.5, RFC 5256 §4, RFC 7162 §3.1.6 and §3.1.9 */
		rc = nbuf_puts(out, name);
		for (size_t i = 0; rc == 0 && i < res->n; i++)
			rc = nbuf_printf(out, " %u", res->vals[i]);
		if (rc == 0 && res->with_modseq && res->n > 0)
			rc = nbuf_printf(out, " (MODSEQ %llu)",
			                 (unsigned long long)search_ret_modseq(r, res));
		return rc;
	}
	if ((rc = nbuf_puts(out, "ESEARCH (TAG ")) != 0 || (rc = search_ret_quote(tag, out)) != 0 ||
	    (rc = nbuf_puts(out, ")")) != 0)
		return rc;
	if (res->uid && (rc = nbuf_puts(out, " UID")) != 0)
		return rc;
	if ((r->opts & SEARCH_RET_MIN) && res->n > 0 &&
	    (rc = nbuf_printf(out, " MIN %u", res->vals[search_ret_min(res)])) != 0)
		return rc;
	if ((r->opts & SEARCH_RET_MAX) && res->n > 0 &&
	    (rc = nbuf_printf(out, " MAX %u", res->vals[search_ret_max(res)])) != 0)
		return rc;
	if ((r->opts & SEARCH_RET_ALL) && res->n > 0 &&
	    ((rc = nbuf_puts(out, " ALL ")) != 0 || (rc = search_ret_set(res->vals, res->n, out))))
		return rc;
	if ((r->opts & SEARCH_RET_COUNT) && (rc = nbuf_printf(out, " COUNT %zu", res->n)) != 0)
		return rc;
	if (r->opts & SEARCH_RET_PARTIAL) {
		size_t lo = r->partial_lo - 1, hi = r->partial_hi; /* [lo, hi) */
		if ((rc = nbuf_printf(out, " PARTIAL (%u:%u ", r->partial_lo, r->partial_hi)) != 0)
			return rc;
		if (lo >= res->n)
			rc = nbuf_puts(out, "NIL");
		else
			rc = search_ret_set(res->vals + lo, MIN(hi, res->n) - lo, out);
		if (rc == 0)
			rc = nbuf_puts(out, ")");
		if (rc != 0)
			return rc;
	}
	if (res->with_modseq && res->n > 0 &&
	    (rc = nbuf_printf(out, " MODSEQ %llu", (unsigned long long)search_ret_modseq(r, res))))
		return rc;
	return 0;
}

size_t
imap_search_ret_saved(const struct imap_search_ret *r, const struct imap_search_result *res,
                      size_t idx_r[2])
{
	unsigned o = r->opts;
	/* RFC 5182 §2.4: with MIN and/or MAX but neither ALL nor COUNT, only
	 * those; otherwise every match */
	if (!(o & (SEARCH_RET_MIN | SEARCH_RET_MAX)) || (o & (SEARCH_RET_ALL | SEARCH_RET_COUNT)))
		return SIZE_MAX;
	size_t k = 0;
	if (res->n == 0)
		return 0;
	if (o & SEARCH_RET_MIN)
		idx_r[k++] = search_ret_min(res);
	if ((o & SEARCH_RET_MAX) && (k == 0 || search_ret_max(res) != idx_r[0]))
		idx_r[k++] = search_ret_max(res);
	return k;
}
