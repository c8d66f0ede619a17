/*
 * mime_preview: RFC 8970 PREVIEW text (FETCH PREVIEW, at most 256
 * characters; we give MIME_PREVIEW_CHARS).
 *
 * Happy path: the first text/plain part that is not an attachment, else
 * the first text/html one, is decoded through mime_part_text; blanks and
 * line breaks collapse to one space, leading and trailing ones go, and the
 * walk stops as soon as enough characters are out. HTML goes through a
 * small streaming stripper: tags and comments vanish, script and style
 * contents are skipped, block tags act as blanks, and the common named
 * and numeric character references are decoded.
 *
 * Bad input: unterminated tags, comments and references end with the
 * text (or are emitted as text when they cannot be references); invalid
 * numeric references are dropped.
 */
#include "node/mime/mime_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/lib/util.h"

enum mime_html_state { MH_TEXT, MH_TAG, MH_QUOTE, MH_COMMENT, MH_ENTITY, MH_SKIP };

struct mime_preview {
	struct nbuf *out;
	unsigned chars;
	int space;
	int html;
	enum mime_html_state st;
	char tag[16];
	size_t tn;
	int closing;
	int name_done;
	char quote;
	unsigned dashes;
	char ent[12];
	size_t en;
	const char *skip; /* "</script" or "</style" while skipping */
	size_t skipped;
	int rc;
};

#define MIME_PREVIEW_DONE 1

/* Add one character (a UTF-8 sequence); returns 1 when the preview is
 * full. */
static int
mime_pv_char(struct mime_preview *pv, const char *c, size_t n)
{
	if (n == 1 && mime__is_lwsp((unsigned char)c[0])) {
		pv->space = pv->chars > 0;
		return 0;
	}
	if (n == 2 && (unsigned char)c[0] == 0xc2 && (unsigned char)c[1] == 0xa0) {
		pv->space = pv->chars > 0; /* no-break space */
		return 0;
	}
	if ((unsigned char)c[0] < 0x20 || c[0] == 0x7f)
		return 0;
	if (pv->space) {
		pv->space = 0;
		if (pv->chars + 1 >= MIME_PREVIEW_CHARS)
			return 1;
		if ((pv->rc = nbuf_append(pv->out, " ", 1)) != 0)
			return 1;
		pv->chars++;
	}
	if ((pv->rc = nbuf_append(pv->out, c, n)) != 0)
		return 1;
	return ++pv->chars >= MIME_PREVIEW_CHARS;
}

static int
mime_pv_codepoint(struct mime_preview *pv, unsigned long cp)
{
	char b[4];
	size_t n;
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | cp >> 6);
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | cp >> 12);
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | cp >> 18);
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return mime_pv_char(pv, b, n);
}

static int
mime_pv_entity(struct mime_preview *pv)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = {{"amp", '&'},      {"lt", '<'},       {"gt", '>'},        {"quot", '"'},
	             {"apos", '\''},    {"nbsp", 0xa0},    {"copy", 0xa9},     {"reg", 0xae},
	             {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"zwnj", 0x200c}};
	pv->ent[pv->en] = '\0';
	if (pv->ent[0] == '#') {
		int hex = pv->ent[1] == 'x' || pv->ent[1] == 'X';
		char *end;
		unsigned long cp = strtoul(pv->ent + 1 + hex, &end, hex ? 16 : 10);
		if (*end != '\0' || end == pv->ent + 1 + hex)
			return 0;
		if (cp == 0x200c || cp == 0x34f || cp == 0xad)
			return 0; /* invisible padding some senders use */
		return mime_pv_codepoint(pv, cp);
	}
	for (size_t i = 0; i < ARRAY_SIZE(named); i++)
		if (strcmp(pv->ent, named[i].name) == 0)
			return named[i].cp == 0x200c ? 0 : mime_pv_codepoint(pv, named[i].cp);
	int full = mime_pv_char(pv, "&", 1);
	for (size_t i = 0; i < pv->en && !full; i++)
		full = mime_pv_char(pv, pv->ent + i, 1);
	return full || mime_pv_char(pv, ";", 1);
}

static void
mime_pv_tag_end(struct mime_preview *pv)
{
	static const char *const blocks[] = {"br", "p",  "div", "tr", "td",    "li", "h1", "h2",
	                                     "h3", "h4", "h5",  "h6", "table", "ul", "ol", "hr"};
	pv->tag[pv->tn] = '\0';
	pv->st = MH_TEXT;
	if (!pv->closing && strcmp(pv->tag, "script") == 0)
		pv->skip = "</script";
	else if (!pv->closing && strcmp(pv->tag, "style") == 0)
		pv->skip = "</style";
	if (pv->skip != NULL) {
		pv->st = MH_SKIP;
		pv->skipped = 0;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(blocks); i++)
		if (strcmp(pv->tag, blocks[i]) == 0)
			pv->space = pv->chars > 0;
}

/* One byte of HTML; returns 1 when the preview is full. */
static int
mime_pv_html(struct mime_preview *pv, const char *p, size_t *i, size_t n)
{
	char c = p[*i];
	switch (pv->st) {
	case MH_TEXT:
		if (c == '<') {
			pv->st = MH_TAG;
			pv->tn = 0;
			pv->closing = 0;
			pv->name_done = 0;
			break;
		}
		if (c == '&') {
			pv->st = MH_ENTITY;
			pv->en = 0;
			break;
		}
		size_t k = 1;
		while (*i + k < n && ((unsigned char)p[*i + k] & 0xc0) == 0x80 && k < 4)
			k++;
		*i += k - 1;
		return mime_pv_char(pv, p + *i - (k - 1), k);
	case MH_TAG:
		if (c == '>') {
			mime_pv_tag_end(pv);
		} else if (c == '"' || c == '\'') {
			pv->quote = c;
			pv->st = MH_QUOTE;
		} else if (pv->name_done) {
			break;
		} else if (pv->tn == 0 && c == '/' && !pv->closing) {
			pv->closing = 1;
		} else if ((pv->tn == 0 && c == '!') ||
		           (pv->tn > 0 && pv->tn < 3 && pv->tag[0] == '!' && c == '-')) {
			pv->tag[pv->tn++] = c;
			if (pv->tn == 3) {
				pv->st = MH_COMMENT;
				pv->dashes = 0;
			}
		} else if (pv->tn < sizeof(pv->tag) - 1 &&
		           ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9'))) {
			pv->tag[pv->tn++] = (char)ascii_tolower((unsigned char)c);
		} else {
			pv->name_done = 1;
		}
		break;
	case MH_QUOTE:
		if (c == pv->quote)
			pv->st = MH_TAG;
		break;
	case MH_COMMENT:
		if (c == '>' && pv->dashes >= 2)
			pv->st = MH_TEXT;
		pv->dashes = c == '-' ? pv->dashes + 1 : 0;
		break;
	case MH_ENTITY:
		if (c == ';') {
			pv->st = MH_TEXT;
			return mime_pv_entity(pv);
		}
		if (pv->en < sizeof(pv->ent) - 1 &&
		    ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     (c == '#' && pv->en == 0))) {
			pv->ent[pv->en++] = c;
			break;
		}
		/* not a reference: what was read is text, then this byte */
		pv->st = MH_TEXT;
		int full = mime_pv_char(pv, "&", 1);
		for (size_t j = 0; j < pv->en && !full; j++)
			full = mime_pv_char(pv, pv->ent + j, 1);
		if (full)
			return 1;
		return mime_pv_html(pv, p, i, n);
	case MH_SKIP:
		if (ascii_tolower((unsigned char)c) == pv->skip[pv->skipped]) {
			if (pv->skip[++pv->skipped] == '\0') {
				pv->skip = NULL;
				pv->st = MH_TAG;
				pv->closing = 1;
				pv->tn = 0;
				pv->name_done = 1; /* wait for '>' */
			}
		} else {
			pv->skipped = c == '<';
		}
		break;
	}
	return 0;
}

static int
mime_pv_cb(void *ctx, const struct mime_part *part, const char *text, size_t len)
{
	struct mime_preview *pv = ctx;
	for (size_t i = 0; i < len; i++) {
		int full;
		if (pv->html) {
			full = mime_pv_html(pv, text, &i, len);
		} else {
			size_t k = 1;
			while (i + k < len && ((unsigned char)text[i + k] & 0xc0) == 0x80 && k < 4)
				k++;
			full = mime_pv_char(pv, text + i, k);
			i += k - 1;
		}
		if (full)
			return MIME_PREVIEW_DONE;
	}
	return 0;
}

static const struct mime_part *
mime_pv_find(const struct mime_part *p, const char *subtype)
{
	while (p != NULL) {
		if (p->children == NULL && mime_part_is(p, "text", subtype) &&
		    (p->disposition == NULL || strcmp(p->disposition, "attachment") != 0))
			return p;
		if (p->children != NULL) {
			p = p->children;
			continue;
		}
		while (p != NULL && p->next == NULL)
			p = p->parent;
		if (p != NULL)
			p = p->next;
	}
	return NULL;
}

int
mime_preview(const struct mime_message *m, const char *msg, size_t len, struct nbuf *out)
{
	struct mime_preview pv = {.out = out};
	const struct mime_part *p = mime_pv_find(m->root, "plain");
	if (p == NULL) {
		p = mime_pv_find(m->root, "html");
		pv.html = 1;
	}
	if (p == NULL)
		return 0;
	if (len < m->size)
		return -EINVAL;
	int rc = mime_part_text(p, msg, len, mime_pv_cb, &pv);
	if (rc < 0)
		return rc;
	return pv.rc < 0 ? pv.rc : 1;
}
