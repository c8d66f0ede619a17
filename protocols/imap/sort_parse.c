/*
 * sort_parse: the arguments SORT and THREAD have beyond SEARCH's: the sort
 * criteria (RFC 5256 §3 and §5 sort-criteria; RFC 5957 §3 DISPLAYFROM,
 * DISPLAYTO) and the threading algorithm (RFC 5256 §3 and §5
 * thread-alg).
 *
 * Happy path: "(REVERSE DATE SUBJECT)" becomes two keys, the first
 * reversed, and the set of keys the messages need computed
 * (SORT_NEED_*): ARRIVAL and SIZE come from the record, the others from
 * the header fields.
 *
 * Failure modes (BAD): not a list, an empty list, an unknown key,
 * "REVERSE" not followed by a key ("REVERSE REVERSE DATE" too: a
 * sort-criterion has one), more than IMAP_SORT_CRITERIA_MAX keys; an
 * unknown algorithm. A key given twice is allowed: the second never
 * decides anything.
 */
#include "protocols/imap/sort.h"

#include <string.h>

#include "node/lib/util.h"

static const struct {
	const char *name;
	uint8_t key;
	unsigned need;
} sort_keys[] = {
        {"ARRIVAL", SORT_K_ARRIVAL, 0},
        {"CC", SORT_K_CC, SORT_NEED_CC},
        {"DATE", SORT_K_DATE, SORT_NEED_DATE},
        {"FROM", SORT_K_FROM, SORT_NEED_FROM},
        {"SIZE", SORT_K_SIZE, 0},
        {"SUBJECT", SORT_K_SUBJECT, SORT_NEED_SUBJECT},
        {"TO", SORT_K_TO, SORT_NEED_TO},
        {"DISPLAYFROM", SORT_K_DISPLAYFROM, SORT_NEED_DFROM},
        {"DISPLAYTO", SORT_K_DISPLAYTO, SORT_NEED_DTO},
};

int
imap_sort_parse(const struct imap_arg *arg, struct imap_sort_program *p, const char **error_r)
{
	const struct imap_arg *l;
	size_t n;
	memset(p, 0, sizeof(*p));
	if (!imap_arg_get_list(arg, &l, &n)) {
		*error_r = "Sort criteria must be a list";
		return -1;
	}
	if (n == 0) {
		*error_r = "Empty sort criteria";
		return -1;
	}
	int reverse = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name;
		if (!imap_arg_get_atom(&l[i], &name)) {
			*error_r = "Invalid sort criterion";
			return -1;
		}
		if (ascii_strcasecmp(name, "REVERSE") == 0) {
			if (reverse) {
				*error_r = "REVERSE must be followed by a sort key";
				return -1;
			}
			reverse = 1;
			continue;
		}
		size_t k = 0;
		while (k < ARRAY_SIZE(sort_keys) && ascii_strcasecmp(name, sort_keys[k].name) != 0)
			k++;
		if (k == ARRAY_SIZE(sort_keys)) {
			*error_r = "Unknown sort key";
			return -1;
		}
		if (p->n == IMAP_SORT_CRITERIA_MAX) {
			*error_r = "Too many sort criteria";
			return -1;
		}
		p->key[p->n] = sort_keys[k].key;
		p->reverse[p->n] = (uint8_t)reverse;
		p->n++;
		p->needs |= sort_keys[k].need;
		reverse = 0;
	}
	if (reverse) {
		*error_r = "REVERSE must be followed by a sort key";
		return -1;
	}
	return 0;
}

int
imap_thread_alg_parse(const struct imap_arg *arg, enum imap_thread_alg *alg_r, const char **error_r)
{
	const char *name;
	if (!imap_arg_get_atom(arg, &name)) {
		*error_r = "Missing threading algorithm";
		return -1;
	}
	if (ascii_strcasecmp(name, "ORDEREDSUBJECT") == 0) {
		*alg_r = THREAD_ORDEREDSUBJECT;
		return 0;
	}
	if (ascii_strcasecmp(name, "REFERENCES") == 0) {
		*alg_r = THREAD_REFERENCES;
		return 0;
	}
	*error_r = "Unknown threading algorithm";
	return -1;
}

unsigned
imap_thread_needs(enum imap_thread_alg alg)
{
	/* both sort by sent date and compare base subjects (RFC 5256 §3) */
	return SORT_NEED_DATE | SORT_NEED_SUBJECT | (alg == THREAD_REFERENCES ? SORT_NEED_IDS : 0);
}
