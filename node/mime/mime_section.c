/*
 * mime_section: FETCH BODY[section] lookup (RFC 3501 §6.4.5, RFC 9051
 * §6.4.5).
 *
 * Part numbers walk the tree: the parts of a multipart are numbered from
 * 1; a message that is not multipart (the top level, or one encapsulated
 * in a MESSAGE/RFC822 part) has only part 1, its body; the numbers after a
 * MESSAGE/RFC822 part refer to the parts of the encapsulated message.
 * "n.HEADER" and "n.TEXT" name the header and text of the message that a
 * MESSAGE/RFC822 part n encapsulates; "n.MIME" the MIME header of part n.
 * Ranges include a header's blank line.
 *
 * Syntax errors (-1): part numbers with leading zeros or above 2^32,
 * "MIME" without a part, unknown keywords, empty components. A section
 * that is well formed but names no part returns 0; so does HEADER or TEXT
 * after a part that is not a message.
 */
#include "node/mime/mime_int.h"

#include <string.h>

#include "node/lib/util.h"

enum mime_sec_kind { MIME_SEC_BODY, MIME_SEC_HEADER, MIME_SEC_TEXT, MIME_SEC_MIME };

/* Read the suffix after the numbers. Returns the kind or -1. */
static int
mime_sec_suffix(const char *s, size_t n, size_t nnums)
{
	static const struct {
		const char *kw;
		int kind;
	} kws[] = {
	        {"HEADER", MIME_SEC_HEADER},
	        {"HEADER.FIELDS", MIME_SEC_HEADER},
	        {"HEADER.FIELDS.NOT", MIME_SEC_HEADER},
	        {"TEXT", MIME_SEC_TEXT},
	        {"MIME", MIME_SEC_MIME},
	};
	for (size_t i = 0; i < ARRAY_SIZE(kws); i++)
		if (strlen(kws[i].kw) == n && ascii_strncasecmp(s, kws[i].kw, n) == 0)
			return kws[i].kind == MIME_SEC_MIME && nnums == 0 ? -1 : kws[i].kind;
	return -1;
}

/* Next number at s[*i]: 0 or -1 on a syntax error. */
static int
mime_sec_number(const char *s, size_t len, size_t *i, uint32_t *n_r)
{
	size_t j = *i;
	uint64_t v = 0;
	if (j >= len || s[j] < '1' || s[j] > '9')
		return -1;
	while (j < len && s[j] >= '0' && s[j] <= '9') {
		v = v * 10 + (uint64_t)(s[j] - '0');
		if (v > UINT32_MAX)
			return -1;
		j++;
	}
	*i = j;
	*n_r = (uint32_t)v;
	return 0;
}

static const struct mime_part *
mime_nth_child(const struct mime_part *p, uint32_t n)
{
	const struct mime_part *c = p->children;
	while (c != NULL && --n > 0)
		c = c->next;
	return c;
}

int
mime_section_lookup(const struct mime_message *m, const char *section, size_t len,
                    const struct mime_part **part_r, struct mime_range *r)
{
	size_t i = 0, nnums = 0, suffix = len;
	uint32_t n = 0;
	/* syntax first, so that a bad keyword is an error even after a
	 * part that does not exist */
	while (i < len && section[i] >= '0' && section[i] <= '9') {
		if (mime_sec_number(section, len, &i, &n) < 0)
			return -1;
		nnums++;
		if (i == len)
			break;
		if (section[i] != '.' || i + 1 == len)
			return -1;
		i++;
	}
	int kind = MIME_SEC_BODY;
	if (i < len) {
		suffix = i;
		if ((kind = mime_sec_suffix(section + i, len - i, nnums)) < 0)
			return -1;
	}

	const struct mime_part *node = m->root;
	int msgctx = 1;
	for (i = 0; i < suffix && section[i] >= '0' && section[i] <= '9'; i++) {
		(void)mime_sec_number(section, len, &i, &n);
		if (!msgctx && (node->flags & MIME_PART_MESSAGE)) {
			node = node->children;
			msgctx = 1;
		}
		if (node->flags & MIME_PART_MULTIPART)
			node = mime_nth_child(node, n);
		else if (!msgctx || n != 1)
			node = NULL;
		if (node == NULL)
			return 0;
		msgctx = 0;
	}
	if (part_r != NULL)
		*part_r = node;
	switch ((enum mime_sec_kind)kind) {
	case MIME_SEC_BODY:
		if (nnums == 0) {
			r->off = 0;
			r->len = m->size;
		} else {
			*r = node->body;
		}
		return 1;
	case MIME_SEC_MIME:
		*r = node->header;
		return 1;
	case MIME_SEC_HEADER:
	case MIME_SEC_TEXT:
		if (nnums > 0) {
			if (!(node->flags & MIME_PART_MESSAGE))
				return 0;
			node = node->children;
			if (part_r != NULL)
				*part_r = node;
		}
		*r = kind == MIME_SEC_HEADER ? node->header : node->body;
		return 1;
	}
	return -1;
}

int
mime_section_find(const struct mime_message *m, const char *section, size_t len,
                  struct mime_range *r)
{
	return mime_section_lookup(m, section, len, NULL, r);
}
